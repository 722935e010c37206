package watch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// history writes a fixed mix of puts, deletes and a txn; it returns the
// revision after each step.
func history(e *env) {
	e.put("a", "1")
	e.put("b", "1")
	e.put("ab", "1")
	e.put("a", "2")
	e.del("b", "")
	e.txn(putOp("a", "3"), putOp("abc", "1"), putOp("c", "1"))
	e.put("b", "2")
	e.del("a", "ac") // a, ab, abc
	e.put("z", "1")
}

// TestWatchCreate: every kind of range and start revision, with filters, sees
// exactly the model's events, in order (past revisions from history, then
// live ones).
func TestWatchCreate(t *testing.T) {
	tests := []struct {
		name string
		req  *pb.WatchCreateRequest
	}{
		{"key", &pb.WatchCreateRequest{Key: []byte("a")}},
		{"prefix", &pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("b")}},
		{"range", &pb.WatchCreateRequest{Key: []byte("ab"), RangeEnd: []byte("c")}},
		{"from key", &pb.WatchCreateRequest{Key: []byte("b"), RangeEnd: []byte{0}}},
		{"all", &pb.WatchCreateRequest{Key: []byte{0}, RangeEnd: []byte{0}}},
		{"empty key is \\x00", &pb.WatchCreateRequest{RangeEnd: []byte{0}}},
		{"from rev 1", &pb.WatchCreateRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRevision: 1}},
		{"from rev 4", &pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("b"), StartRevision: 4}},
		{"from current rev", &pb.WatchCreateRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRevision: 10}},
		{"future rev", &pb.WatchCreateRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRevision: 13}},
		{"noput", &pb.WatchCreateRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRevision: 2, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}}},
		{"nodelete", &pb.WatchCreateRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRevision: 2, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NODELETE}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, HubConfig{}, Config{})
			history(e) // revisions 2..10
			c := e.open()
			created := c.create(tt.req)
			if created.Header.Revision != 10 || created.WatchId != 0 {
				t.Fatalf("created %v", created)
			}
			// The same mix again, live.
			history(e) // revisions 11..19
			if tt.req.Key == nil {
				tt.req.Key = []byte{0}
			}
			want := e.expect(tt.req, created.Header.Revision)
			got := c.events(0, len(want))
			if d := diff(got, want); d != "" {
				t.Fatal(d)
			}
			// Nothing more: a progress response promises every event up
			// to its revision was sent before it.
			c.progress()
			if r := c.recv(); r.WatchId != -1 || len(r.Events) != 0 || r.Header.Revision != 19 {
				t.Fatalf("after the events: %v", r)
			}
		})
	}
}

// TestTxnOneResponse: the events of one txn arrive in one response, whether
// the watcher is synced or reads them from history.
func TestTxnOneResponse(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{})
	c := e.open()
	c.create(&pb.WatchCreateRequest{Key: []byte("t"), RangeEnd: []byte("u")})
	e.txn(putOp("t1", "a"), putOp("t2", "b"), putOp("x", "c"), putOp("t3", "d"))
	r := c.recv()
	if len(r.Events) != 3 || r.Header.Revision != 2 {
		t.Fatalf("live: %v", r)
	}
	c.create(&pb.WatchCreateRequest{Key: []byte("t"), RangeEnd: []byte("u"), StartRevision: 2, WatchId: 5})
	r = c.recv()
	if r.WatchId != 5 || len(r.Events) != 3 {
		t.Fatalf("history: %v", r)
	}
}

// TestCreateErrors: etcd's answers to bad create requests, watch ids and
// cancel.
func TestCreateErrors(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{})
	e.put("a", "1")
	c := e.open()
	for i, want := range []int64{0, 1} {
		if r := c.create(&pb.WatchCreateRequest{Key: []byte("a")}); r.WatchId != want || r.Canceled {
			t.Fatalf("auto id %d: %v", i, r)
		}
	}
	if r := c.create(&pb.WatchCreateRequest{Key: []byte("a"), WatchId: 7}); r.WatchId != 7 {
		t.Fatalf("chosen id: %v", r)
	}
	check := func(name string, req *pb.WatchCreateRequest, reason string) {
		t.Helper()
		r := c.create(req)
		if !r.Canceled || r.WatchId != -1 || r.CancelReason != reason || r.Header.Revision != 2 {
			t.Fatalf("%s: %v", name, r)
		}
	}
	check("duplicate", &pb.WatchCreateRequest{Key: []byte("a"), WatchId: 7}, errDuplicateWatchID)
	check("empty range", &pb.WatchCreateRequest{Key: []byte("b"), RangeEnd: []byte("a")}, errEmptyWatcherRange)
	check("key = end", &pb.WatchCreateRequest{Key: []byte("b"), RangeEnd: []byte("b")}, errEmptyWatcherRange)
	check("negative start", &pb.WatchCreateRequest{Key: []byte("a"), StartRevision: -1}, rpcerr.ErrCompacted.Msg)
	// The auto id skips ids in use.
	if r := c.create(&pb.WatchCreateRequest{Key: []byte("a"), WatchId: 2}); r.WatchId != 2 {
		t.Fatal(r)
	}
	if r := c.create(&pb.WatchCreateRequest{Key: []byte("a")}); r.WatchId != 3 {
		t.Fatalf("auto id after 2: %v", r)
	}
	c.cancelWatch(1)
	r := c.recv()
	if !r.Canceled || r.WatchId != 1 || r.Created || r.CancelReason != "" || r.Header.Revision != 2 {
		t.Fatalf("cancel: %v", r)
	}
	c.cancelWatch(1) // unknown now: no answer, as etcd
	c.progress()
	if r := c.recv(); r.WatchId != -1 || r.Header.Revision != 2 {
		t.Fatalf("progress after unknown cancel: %v", r)
	}
	// Watcher 1 is gone: a put reaches 0, 2, 3 and 7 only.
	e.put("a", "2")
	seen := map[int64]bool{}
	for range 4 {
		r := c.recv()
		seen[r.WatchId] = true
	}
	if len(seen) != 4 || seen[1] {
		t.Fatalf("watchers that saw the put: %v", seen)
	}
}

// TestHeaderIdentity: headers carry the member's cluster, member and term.
func TestHeaderIdentity(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{})
	c := e.open()
	r := c.create(&pb.WatchCreateRequest{Key: []byte("a")})
	if h := r.Header; h.ClusterId != 1 || h.MemberId != 2 || h.RaftTerm != 3 {
		t.Fatalf("header %v", h)
	}
}

// TestCompacted: a watcher that needs a compacted revision is cancelled with
// compact_revision (at creation, and when it fell behind and compaction
// passed it while its client did not read).
func TestCompacted(t *testing.T) {
	t.Run("at create", func(t *testing.T) {
		e := newEnv(t, HubConfig{}, Config{})
		for i := range 5 {
			e.put("k", fmt.Sprint(i)) // revs 2..6
		}
		e.compact(4)
		c := e.open()
		c.create(&pb.WatchCreateRequest{Key: []byte("k"), StartRevision: 3})
		r := c.recv()
		if !r.Canceled || r.CompactRevision != 4 || r.WatchId != 0 || r.Header.Revision != 0 {
			t.Fatalf("got %v", r)
		}
		// At the compacted revision itself: still readable, as etcd.
		c.create(&pb.WatchCreateRequest{Key: []byte("k"), StartRevision: 4, WatchId: 9})
		if got := c.events(9, 3); got[0] != "PUT k@4{c=2,v=3}=2" {
			t.Fatal(got)
		}
		// Cancelled by compaction, watcher 0 is still the stream's, as in
		// etcd: a progress request waits for it, and its cancel is answered
		// (which lets the progress response go).
		// A client-chosen ID of a compacted watcher stays taken too.
		c.create(&pb.WatchCreateRequest{Key: []byte("k"), StartRevision: 2, WatchId: 5})
		if r := c.recv(); !r.Canceled || r.CompactRevision != 4 || r.WatchId != 5 {
			t.Fatalf("got %v", r)
		}
		if r := c.create(&pb.WatchCreateRequest{Key: []byte("k"), WatchId: 5}); !r.Canceled || r.CancelReason != errDuplicateWatchID {
			t.Fatalf("create with a compacted watcher's ID: %v", r)
		}
		c.cancelWatch(5)
		if r := c.recv(); !r.Canceled || r.WatchId != 5 {
			t.Fatalf("cancel of compacted watcher 5: %v", r)
		}
		c.progress()
		c.quiet(100 * time.Millisecond)
		e.hub.mu.Lock()
		waiting := len(e.hub.progressWt)
		e.hub.mu.Unlock()
		if waiting != 0 {
			t.Fatal("a stream held by a compacted watcher is rescanned at every commit")
		}
		c.cancelWatch(0)
		if r := c.recv(); !r.Canceled || r.WatchId != 0 || r.CompactRevision != 0 {
			t.Fatalf("cancel of the compacted watcher: %v", r)
		}
		if r := c.recv(); r.WatchId != -1 || r.Header.Revision != 6 {
			t.Fatalf("progress after the cancel: %v", r)
		}
	})
	t.Run("behind", func(t *testing.T) {
		e := newEnv(t, HubConfig{QueueBytes: 64}, Config{})
		c := e.open()
		c.create(&pb.WatchCreateRequest{Key: []byte("k")})
		// The client reads nothing: the send loop holds one response, the
		// outbox one more that grows to 64 bytes of events; then the
		// watcher falls behind.
		for i := range 10 {
			e.put("k", fmt.Sprint(i)) // revs 2..11
		}
		e.compact(8)
		var revs []int64
		for {
			r := c.recv()
			if r.Canceled {
				if r.CompactRevision != 8 {
					t.Fatalf("cancel %v", r)
				}
				break
			}
			for _, ev := range r.Events {
				revs = append(revs, ev.Kv.ModRevision)
			}
		}
		for i, r := range revs {
			if r != int64(i+2) {
				t.Fatalf("events before the cancel: %v", revs)
			}
		}
		if len(revs) == 0 || len(revs) > 4 {
			t.Fatalf("events before the cancel: %v", revs)
		}
	})
}

// TestSlowConsumer: one stream whose client never reads does not slow the
// writes nor the other streams, holds a bounded outbox, and gets every event
// exactly once from history when it reads again.
func TestSlowConsumer(t *testing.T) {
	const (
		puts     = 3000
		maxItems = 16
		maxBytes = 16 << 10
	)
	e := newEnv(t, HubConfig{QueueResponses: maxItems, QueueBytes: maxBytes, CatchUpEvents: 100}, Config{})
	stalled := e.open()
	stalled.create(&pb.WatchCreateRequest{Key: []byte("k"), RangeEnd: []byte("l")})
	fast := e.open()
	fast.create(&pb.WatchCreateRequest{Key: []byte("k"), RangeEnd: []byte("l")})

	// The fast client reads everything as it comes, measuring how far each
	// event trails its put.
	var (
		mu       sync.Mutex
		putAt    = map[int64]time.Time{}
		worst    time.Duration
		fastGot  []string
		fastDone = make(chan struct{})
	)
	go func() {
		defer close(fastDone)
		for len(fastGot) < puts {
			r, ok := fast.recvWithin(waitFor)
			if !ok {
				return
			}
			now := time.Now()
			mu.Lock()
			for _, ev := range r.Events {
				fastGot = append(fastGot, fmtEvent(ev))
				if d := now.Sub(putAt[ev.Kv.ModRevision]); d > worst {
					worst = d
				}
			}
			mu.Unlock()
		}
	}()
	start := time.Now()
	var slowestPut time.Duration
	for i := range puts {
		t0 := time.Now()
		mu.Lock()
		putAt[int64(i+2)] = t0
		mu.Unlock()
		e.put(fmt.Sprintf("k%d", i%50), fmt.Sprint(i))
		slowestPut = max(slowestPut, time.Since(t0))
	}
	writeTime := time.Since(start)
	<-fastDone
	// Generous bounds (a loaded CI machine, -race): they catch a put or a
	// reader that waits for the stalled client, which would take forever.
	const bound = 2 * time.Second
	if slowestPut > bound || worst > bound {
		t.Fatalf("slowest put %v, worst event delay of the reading stream %v: over %v", slowestPut, worst, bound)
	}
	want := e.expect(&pb.WatchCreateRequest{Key: []byte("k"), RangeEnd: []byte("l")}, 1)
	if d := diff(fastGot, want); d != "" {
		t.Fatalf("fast stream: %s", d)
	}
	// Bounded: the stalled stream's outbox holds at most maxItems event
	// responses (+ its created response, taken by the blocked Send).
	e.hub.mu.Lock()
	var st *stream
	for w := range e.hub.unsynced {
		st = w.s
	}
	e.hub.mu.Unlock()
	if st == nil {
		t.Fatal("the stalled watcher is not behind")
	}
	st.out.mu.Lock()
	queued, bytes := len(st.out.items)-st.out.head, st.out.bytes
	st.out.mu.Unlock()
	// The bound: maxBytes, plus the response the blocked Send holds and one
	// catch-up response (100 events of about 40 bytes).
	if queued > maxItems || bytes > maxBytes+8<<10 {
		t.Fatalf("stalled outbox holds %d responses, %d bytes (bounds %d, %d)", queued, bytes, maxItems, maxBytes)
	}
	t.Logf("%d puts in %v; fast stream's worst event delay %v; stalled outbox %d responses, %d bytes", puts, writeTime, worst, queued, bytes)

	// The stalled client reads now: it gets all events, once, in order.
	got := stalled.events(0, len(want))
	if d := diff(got, want); d != "" {
		t.Fatalf("stalled stream: %s", d)
	}
	e.put("k0", "last") // back in sync: a live event
	if got := stalled.events(0, 1); !strings.HasPrefix(got[0], fmt.Sprintf("PUT k0@%d", puts+2)) {
		t.Fatal(got)
	}
}

// TestRandomized: writes, watchers created at random revisions on random
// ranges, readers that pause at random, tiny outboxes: every watcher gets
// exactly the model's events, in order. Run with -race: it exercises the
// synced/unsynced boundary from both sides.
func TestRandomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	e := newEnv(t, HubConfig{QueueResponses: 4, QueueBytes: 256, CatchUpEvents: 7, CatchUpWatchers: 3}, Config{})
	keys := []string{"a", "aa", "ab", "b", "ba", "c", "d"}
	const writes = 600

	type watch struct {
		req     *pb.WatchCreateRequest
		created int64
		got     []string
		lastRev int64 // of the last event of the previous response
		splits  int   // revisions whose events came in two responses
	}
	var wg sync.WaitGroup
	results := make([][]*watch, 4)
	ready := make(chan struct{})
	writesDone := make(chan struct{})
	// Stream 0's every-key watcher exists: the writes would otherwise all be
	// done before it on a busy machine, and it would have nothing to fall
	// behind on.
	firstCreated := make(chan struct{})
	for si := range results {
		c := e.open()
		var ws []*watch
		for wi := range 6 {
			req := &pb.WatchCreateRequest{Key: []byte(keys[rng.IntN(len(keys))])}
			switch rng.IntN(3) {
			case 0:
			case 1:
				req.RangeEnd = []byte{req.Key[0] + 1}
			case 2:
				req.RangeEnd = []byte{0}
			}
			if rng.IntN(4) == 0 {
				req.Filters = []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_FilterType(rng.IntN(2))}
			}
			if si == 0 && wi == 0 {
				// Every key, from now on: the stream that does not read
				// (below) surely has a synced watcher that falls behind,
				// whatever the seed.
				req = &pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte{0}}
			}
			ws = append(ws, &watch{req: req})
		}
		results[si] = ws
		pause := rng.IntN(3) == 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			byID := map[int64]*watch{}
			created := 0
			// Create the watchers along the way, some in the past.
			for i, w := range ws {
				if i%2 == 1 {
					w.req.StartRevision = max(1, e.store.Rev()-int64(rand.IntN(50)))
				}
				c.send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: w.req}})
				if si == 0 && i == 0 {
					r, ok := c.recvWithin(10 * time.Second)
					if !ok || !r.Created {
						t.Errorf("stream 0's first watcher: got %v, want its creation", r)
						close(firstCreated)
						return
					}
					w.created = r.Header.Revision
					byID[r.WatchId] = w
					created++
					close(firstCreated)
				}
			}
			if si == 0 {
				// One stream reads nothing until the writes are done: its
				// tiny outbox fills, so its watchers surely fall behind
				// and catch up from history (the random pauses of the
				// others may or may not make theirs).
				<-writesDone
			}
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				r, ok := c.recvWithin(time.Second)
				if !ok {
					select {
					case <-writesDone:
					default:
						continue
					}
					if created == len(ws) {
						// Done when every watcher has what it must have.
						done := true
						for _, w := range ws {
							if len(w.got) < len(e.expect(w.req, w.created)) {
								done = false
							}
						}
						if done {
							return
						}
					}
					continue
				}
				if r.Created {
					w := ws[created]
					w.created = r.Header.Revision
					byID[r.WatchId] = w
					created++
					continue
				}
				w := byID[r.WatchId]
				if len(r.Events) > 0 {
					// A txn's events come in one response, whether
					// synced or caught up from history.
					if r.Events[0].Kv.ModRevision == w.lastRev {
						w.splits++
					}
					w.lastRev = r.Events[len(r.Events)-1].Kv.ModRevision
				}
				for _, ev := range r.Events {
					w.got = append(w.got, fmtEvent(ev))
				}
				if pause && rand.IntN(50) == 0 {
					time.Sleep(20 * time.Millisecond) // a slow reader
				}
			}
		}()
	}
	close(ready)
	<-firstCreated
	for i := range writes {
		k := keys[rng.IntN(len(keys))]
		switch rng.IntN(6) {
		case 0:
			e.del(k, "")
		case 1:
			e.txn(putOp(k, fmt.Sprint(i)), putOp(k+"x", fmt.Sprint(i)))
		default:
			e.put(k, fmt.Sprint(i))
		}
	}
	close(writesDone)
	wg.Wait()
	t.Logf("watchers fell behind %d times, caught up %d times", e.hub.fellBehind.Load(), e.hub.caughtUp.Load())
	if e.hub.fellBehind.Load() == 0 {
		t.Error("no watcher fell behind: the test did not exercise catch-up")
	}
	for si, ws := range results {
		for wi, w := range ws {
			want := e.expect(w.req, w.created)
			if d := diff(w.got, want); d != "" {
				t.Errorf("stream %d watcher %d (%q..%q from %d): %s", si, wi, w.req.Key, w.req.RangeEnd, w.req.StartRevision, d)
			}
			if w.splits > 0 {
				t.Errorf("stream %d watcher %d (%q..%q from %d): %d txns' events split between responses", si, wi, w.req.Key, w.req.RangeEnd, w.req.StartRevision, w.splits)
			}
		}
	}
}

// TestProgress: RequestProgress answers with watch_id -1 and the current
// revision once every watcher is synced; progress_notify watchers hear the
// revision periodically when they got no events.
func TestProgress(t *testing.T) {
	t.Run("request", func(t *testing.T) {
		e := newEnv(t, HubConfig{}, Config{})
		c := e.open()
		c.progress() // no watchers: no answer, as etcd
		c.create(&pb.WatchCreateRequest{Key: []byte("a")})
		e.put("b", "1")
		c.progress()
		r := c.recv()
		if r.WatchId != -1 || r.Header.Revision != 2 || len(r.Events) != 0 {
			t.Fatalf("progress %v", r)
		}
		// A watcher whose start revision is ahead is not synced yet: the
		// answer waits until the hub reaches it.
		c.create(&pb.WatchCreateRequest{Key: []byte("a"), StartRevision: 4})
		c.progress()
		e.put("b", "2") // rev 3
		c.quiet(100 * time.Millisecond)
		e.put("b", "3") // rev 4
		r = c.recv()
		if r.WatchId != -1 || r.Header.Revision != 4 {
			t.Fatalf("deferred progress %v", r)
		}
	})
	t.Run("while catching up", func(t *testing.T) {
		// A watcher catching up from history holds the answer back until
		// it is synced; meanwhile the stream is not rescanned at every
		// commit (catch-up checks again when the watcher is synced).
		gate := make(chan struct{})
		e := newEnvWrap(t, HubConfig{}, Config{}, func(s Store) Store { return &gatedReads{Store: s, gate: gate} })
		for i := range 3 {
			e.put("a", fmt.Sprint(i)) // revs 2..4
		}
		c := e.open()
		c.create(&pb.WatchCreateRequest{Key: []byte("a"), StartRevision: 2})
		c.progress()
		c.quiet(50 * time.Millisecond)
		e.put("a", "3") // rev 5, while the history read waits
		e.hub.mu.Lock()
		waiting := len(e.hub.progressWt)
		e.hub.mu.Unlock()
		if waiting != 0 {
			t.Fatalf("%d streams rescanned at every commit while their watcher catches up", waiting)
		}
		close(gate)
		if got := c.events(0, 4); got[3] != "PUT a@5{c=2,v=4}=3" {
			t.Fatal(got)
		}
		if r := c.recv(); r.WatchId != -1 || r.Header.Revision != 5 {
			t.Fatalf("progress after the catch-up: %v", r)
		}
	})
	t.Run("notify", func(t *testing.T) {
		e := newEnv(t, HubConfig{}, Config{ProgressNotifyInterval: 50 * time.Millisecond})
		c := e.open()
		c.create(&pb.WatchCreateRequest{Key: []byte("a"), ProgressNotify: true})
		e.put("b", "1")
		r := c.recv()
		if r.WatchId != 0 || len(r.Events) != 0 || r.Header.Revision != 2 {
			t.Fatalf("notify %v", r)
		}
	})
}

// TestFragment: a large response to a watcher that asked for fragments is
// split under the request limit; others get it whole.
func TestFragment(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{MaxRequestBytes: 1})
	c := e.open()
	c.create(&pb.WatchCreateRequest{Key: []byte("f"), RangeEnd: []byte("g"), Fragment: true})
	c.create(&pb.WatchCreateRequest{Key: []byte("f"), RangeEnd: []byte("g")})
	big := strings.Repeat("x", 200<<10)
	var ops []*pb.RequestOp
	for i := range 8 {
		ops = append(ops, putOp(fmt.Sprintf("f%d", i), big))
	}
	e.txn(ops...)
	var frags, events, whole int
	for events < 8 || whole == 0 {
		r := c.recv()
		if r.WatchId == 1 {
			if len(r.Events) != 8 || r.Fragment {
				t.Fatalf("unfragmented watcher: %d events, fragment %v", len(r.Events), r.Fragment)
			}
			whole++
			continue
		}
		frags++
		events += len(r.Events)
		if r.Fragment != (events < 8) {
			t.Fatalf("fragment flag %v after %d events", r.Fragment, events)
		}
		if size := proto.Size(r); size >= 1+grpcOverheadBytes && len(r.Events) > 1 {
			t.Fatalf("fragment of %d bytes", size)
		}
	}
	if frags < 3 {
		t.Fatalf("%d fragments", frags)
	}
}

// TestPrevKV: prev_kv carries the previous version (none for a creation).
func TestPrevKV(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{})
	c := e.open()
	c.create(&pb.WatchCreateRequest{Key: []byte("p"), PrevKv: true})
	e.put("p", "1")
	e.put("p", "2")
	e.del("p", "")
	var got []string
	for len(got) < 3 {
		for _, ev := range c.recv().Events {
			s := fmtEvent(ev)
			if ev.PrevKv != nil {
				s += fmt.Sprintf(" prev=%s@%d", ev.PrevKv.Value, ev.PrevKv.ModRevision)
			}
			got = append(got, s)
		}
	}
	want := []string{"PUT p@2{c=2,v=1}=1", "PUT p@3{c=2,v=2}=2 prev=1@2", "DELETE p@4 prev=2@3"}
	if d := diff(got, want); d != "" {
		t.Fatal(d)
	}
}

// TestRequireLeader: with hasleader, a stream is refused without a leader
// and cancelled with etcd's "no leader" when the leader goes away.
func TestRequireLeader(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{LeaderCheckInterval: 10 * time.Millisecond})
	e.raft.leader.Store(0)
	c := e.open("hasleader", "true")
	err := <-c.f.done
	c.f.done <- err
	if !errors.Is(err, rpcerr.ErrNoLeader) {
		t.Fatalf("no leader at open: %v", err)
	}
	e.raft.leader.Store(2)
	c = e.open("hasleader", "true")
	c.create(&pb.WatchCreateRequest{Key: []byte("a")})
	plain := e.open()
	plain.create(&pb.WatchCreateRequest{Key: []byte("a")})
	e.raft.leader.Store(0)
	if err := <-c.f.done; !errors.Is(err, rpcerr.ErrNoLeader) {
		t.Fatalf("leader lost: %v", err)
	}
	c.f.done <- nil // for the cleanup
	e.raft.leader.Store(2)
	e.put("a", "1")
	if got := plain.events(0, 1); len(got) != 1 {
		t.Fatal(got)
	}
}

// TestServerStop: Close ends streams with Unavailable (clients reconnect).
func TestServerStop(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{})
	c := e.open()
	c.create(&pb.WatchCreateRequest{Key: []byte("a")})
	e.svc.Close(context.Background())
	err := <-c.f.done
	c.f.done <- err
	if !errors.Is(err, rpcerr.ErrStopped) {
		t.Fatalf("got %v", err)
	}
}

// TestCloseDoesNotWaitForStalledClient: a stream whose client stopped
// reading keeps its handler blocked in a send; Close returns when its
// context ends instead of hanging the member's shutdown, and the handler
// ends once the transport goes (the server's forced stop).
func TestCloseDoesNotWaitForStalledClient(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{})
	c := e.open()
	c.create(&pb.WatchCreateRequest{Key: []byte("a")})
	e.put("a", "1") // its response waits in the unread (unbuffered) stream

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	e.svc.Close(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with a stalled client", d)
	}
	select {
	case err := <-c.f.done:
		t.Fatalf("handler ended (%v) although its send is blocked", err)
	default:
	}
	c.f.cancel() // the transport goes
	select {
	case err := <-c.f.done:
		c.f.done <- err // for the client's cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("handler still blocked after its transport closed")
	}
}

// gatedReads holds every history read until gate is closed.
type gatedReads struct {
	Store
	gate chan struct{}
}

func (g *gatedReads) Events(ctx context.Context, from int64, maxEvents, maxBytes int, filter func([]byte) bool) ([]*mvccpb.Event, int64, int64, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, 0, 0, ctx.Err()
	}
	return g.Store.Events(ctx, from, maxEvents, maxBytes, filter)
}

// boundedReads records the largest history read a hub made.
type boundedReads struct {
	Store
	mu      sync.Mutex
	reads   int
	largest int // the largest read, in key and value bytes
}

func (b *boundedReads) Events(ctx context.Context, from int64, maxEvents, maxBytes int, filter func([]byte) bool) ([]*mvccpb.Event, int64, int64, error) {
	evs, next, rev, err := b.Store.Events(ctx, from, maxEvents, maxBytes, filter)
	size := 0
	for _, ev := range evs {
		size += len(ev.Kv.Key) + len(ev.Kv.Value)
	}
	b.mu.Lock()
	b.reads++
	b.largest = max(b.largest, size)
	b.mu.Unlock()
	return evs, next, rev, err
}

// TestCatchUpBytes: a watcher catching up over large values reads history
// in pieces of at most a quarter of the outbox bound (plus the revision that
// crosses it), not CatchUpEvents events whatever their size, and still gets
// every event once, in order, each txn's in one response.
func TestCatchUpBytes(t *testing.T) {
	const queueBytes = 32 << 10
	var reads *boundedReads
	e := newEnvWrap(t, HubConfig{QueueBytes: queueBytes}, Config{}, func(s Store) Store {
		reads = &boundedReads{Store: s}
		return reads
	})
	for i := range 5 {
		e.put(fmt.Sprintf("k%d", i), "small") // history before the watcher's start
	}
	c := e.open()
	val := strings.Repeat("v", 4<<10)
	c.create(&pb.WatchCreateRequest{Key: []byte("k"), RangeEnd: []byte("l"), StartRevision: 2})
	for i := range 20 { // txns of three 4 KiB puts: a read stops between them
		e.txn(putOp(fmt.Sprintf("k%d", i%7), val), putOp(fmt.Sprintf("k%d", (i+1)%7), val), putOp(fmt.Sprintf("k%d", (i+2)%7), val))
	}
	want := e.expect(&pb.WatchCreateRequest{Key: []byte("k"), RangeEnd: []byte("l"), StartRevision: 2}, 0)
	var got []string
	var lastRev int64
	for len(got) < len(want) {
		r := c.recv()
		if r.WatchId != 0 || r.Canceled || r.Created || len(r.Events) == 0 {
			t.Fatalf("unexpected %v", r)
		}
		if r.Events[0].Kv.ModRevision == lastRev {
			t.Fatalf("the events of revision %d came in two responses", lastRev)
		}
		lastRev = r.Events[len(r.Events)-1].Kv.ModRevision
		for _, ev := range r.Events {
			got = append(got, fmtEvent(ev))
		}
	}
	if d := diff(got, want); d != "" {
		t.Fatal(d)
	}
	reads.mu.Lock()
	defer reads.mu.Unlock()
	if bound := queueBytes/4 + 3*(len(val)+2); reads.reads < 2 || reads.largest > bound {
		t.Fatalf("%d history reads, the largest %d bytes of keys and values (bound %d)", reads.reads, reads.largest, bound)
	}
}
