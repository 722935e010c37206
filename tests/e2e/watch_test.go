package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// wstep is one step of a raw Watch stream script: send req (if any), run
// write (if any), then read n responses, or until until says stop.
type wstep struct {
	req   *pb.WatchRequest
	write stepFunc
	n     int
	until func(*pb.WatchResponse) bool
	// sorted orders this step's responses by watch ID: etcd notifies the
	// watchers of one key in map order.
	sorted bool
}

func wcreate(c *pb.WatchCreateRequest) *pb.WatchRequest {
	return &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: c}}
}

func wcancel(id int64) *pb.WatchRequest {
	return &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: id}}}
}

func wprogress() *pb.WatchRequest {
	return &pb.WatchRequest{RequestUnion: &pb.WatchRequest_ProgressRequest{ProgressRequest: &pb.WatchProgressRequest{}}}
}

// watchScript runs steps on one raw gRPC Watch stream and returns every
// response (headers masked), so that etcd's and cairn's transcripts compare
// response by response.
func watchScript(steps ...wstep) stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wc, err := pb.NewWatchClient(s.client().ActiveConnection()).Watch(ctx)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, st := range steps {
			if st.req != nil {
				if err := wc.Send(st.req); err != nil {
					return out, err
				}
			}
			if st.write != nil {
				if _, err := st.write(ctx, s); err != nil {
					return out, fmt.Errorf("write: %w", err)
				}
			}
			from := len(out)
			for i := 0; i < st.n || st.until != nil; i++ {
				r, err := wc.Recv()
				if err != nil {
					return out, err
				}
				maskHeader(r.Header)
				out = append(out, r)
				if st.until != nil && st.until(r) {
					break
				}
			}
			if st.sorted {
				slices.SortFunc(out[from:], func(a, b any) int {
					return cmp.Compare(a.(*pb.WatchResponse).WatchId, b.(*pb.WatchResponse).WatchId)
				})
			}
		}
		return out, nil
	}
}

func txnPuts(kvs ...string) stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		var ops []clientv3.Op
		for i := 0; i+1 < len(kvs); i += 2 {
			ops = append(ops, clientv3.OpPut(kvs[i], kvs[i+1]))
		}
		return s.client().Txn(ctx).Then(ops...).Commit()
	}
}

// watchHistory writes revisions 2..10.
func watchHistory(f *fixture) {
	f.ok("put a=1", put("a", "1"))
	f.ok("put b=1", put("b", "1"))
	f.ok("put ab=1", put("ab", "1"))
	f.ok("put a=2", put("a", "2"))
	f.ok("del b", del("b"))
	f.ok("txn a=3 abc=1 c=1", txnPuts("a", "3", "abc", "1", "c", "1"))
	f.ok("put b=2", put("b", "2"))
	f.ok("del a..ac", del("a", clientv3.WithRange("ac")))
	f.ok("put z=1", put("z", "1"))
}

// TestWatch compares raw Watch stream transcripts, response by response:
// created responses and their header revisions, history catch-up, live
// events, prev_kv, filters, watch IDs, etcd's errors, cancel, progress,
// compaction and fragments.
func TestWatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	watchHistory(f)
	all := []byte{0}
	noput := []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}
	nodel := []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NODELETE}
	n := 0
	marker := func() stepFunc { n++; return put("m", fmt.Sprint(n)) }

	tests := []struct {
		name  string
		steps []wstep
	}{
		{"prefix from history with prev_kv, then live", []wstep{
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("b"), StartRevision: 2, PrevKv: true}), n: 2},
			{write: put("a", "4"), n: 1},
			{write: txnPuts("ab", "2", "x", "1", "a", "5"), n: 1},
		}},
		{"all keys from revision 1", []wstep{
			{req: wcreate(&pb.WatchCreateRequest{Key: all, RangeEnd: all, StartRevision: 1}), n: 2},
		}},
		{"empty key from-key", []wstep{
			{req: wcreate(&pb.WatchCreateRequest{RangeEnd: all, StartRevision: 5}), n: 2},
		}},
		{"single key, live only", []wstep{
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("k")}), n: 1},
			{write: put("k", "1"), n: 1},
			{write: del("k"), n: 1},
		}},
		{"range, from key", []wstep{
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("ab"), RangeEnd: []byte("c"), StartRevision: 2}), n: 2},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("b"), RangeEnd: all, StartRevision: 8}), n: 2},
		}},
		{"filters", []wstep{
			{req: wcreate(&pb.WatchCreateRequest{Key: all, RangeEnd: all, StartRevision: 2, Filters: noput}), n: 2},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("b"), StartRevision: 2, Filters: nodel}), n: 2},
		}},
		{"future start revision", []wstep{
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("f"), StartRevision: 1000}), n: 1},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("g")}), n: 1},
			{write: put("g", "1"), n: 1},
		}},
		{"watch ids and errors", []wstep{
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("i")}), n: 1},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("i"), WatchId: 7}), n: 1},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("i"), WatchId: 7}), n: 1},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("i"), WatchId: 1}), n: 1},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("i")}), n: 1},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("j"), RangeEnd: []byte("i")}), n: 1},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("j"), RangeEnd: []byte("j")}), n: 1},
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("i"), StartRevision: -3}), n: 1},
			{req: wcancel(7), n: 1},
			{req: wcancel(7)},
			{req: wcancel(1000)},
			{req: wprogress(), n: 1},
			{write: put("i", "1"), n: 3, sorted: true},
		}},
		{"progress", []wstep{
			{req: wcreate(&pb.WatchCreateRequest{Key: []byte("p")}), n: 1},
			{req: wprogress(), n: 1},
			{write: marker()},
			{req: wprogress(), n: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.sub(t)
			f.ok("script", watchScript(tt.steps...))
			f.ok("marker", marker()) // keeps revisions moving between scenarios
		})
	}

	t.Run("compacted", func(t *testing.T) {
		f := f.sub(t)
		f.ok("compact", compact(6, clientv3.WithCompactPhysical()))
		f.ok("script", watchScript(
			wstep{req: wcreate(&pb.WatchCreateRequest{Key: all, RangeEnd: all, StartRevision: 3}), n: 2},
			wstep{req: wcreate(&pb.WatchCreateRequest{Key: all, RangeEnd: all, StartRevision: 6, WatchId: 9}), n: 2},
			// A watcher cancelled by compaction is still the stream's until
			// cancelled: its ID is taken, its cancel is answered, and the
			// auto-assigned IDs go on after it.
			wstep{req: wcreate(&pb.WatchCreateRequest{Key: all, RangeEnd: all, StartRevision: 2, WatchId: 5}), n: 2},
			wstep{req: wcreate(&pb.WatchCreateRequest{Key: []byte("x"), WatchId: 5}), n: 1},
			wstep{req: wcancel(5), n: 1},
			wstep{req: wcreate(&pb.WatchCreateRequest{Key: []byte("x")}), n: 1},
			wstep{req: wcancel(0), n: 1},
			wstep{req: wcreate(&pb.WatchCreateRequest{Key: []byte("x")}), n: 1},
			wstep{req: wcancel(9), n: 1},
		))
	})
}

// TestWatchFragment: a catch-up response larger than the request limit is
// split into fragments exactly as etcd splits it, for a watcher that asked;
// another watcher gets it whole.
func TestWatchFragment(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withFlags("--max-request-bytes=65536"))
	big := strings.Repeat("v", 60000)
	for i := range 30 {
		f.ok(fmt.Sprintf("put %d", i), put(fmt.Sprintf("f%02d", i), big))
	}
	last := func(r *pb.WatchResponse) bool { return len(r.Events) > 0 && !r.Fragment }
	rs := f.ok("fragmented", watchScript(
		wstep{req: wcreate(&pb.WatchCreateRequest{Key: []byte("f"), RangeEnd: []byte("g"), StartRevision: 1, Fragment: true}), until: last},
	))
	for _, r := range rs {
		out, _ := r.resp.([]any)
		f.expect(r, len(out) > 3, "%d responses, want created + fragments", len(out))
	}
	f.ok("whole", watchScript(
		wstep{req: wcreate(&pb.WatchCreateRequest{Key: []byte("f"), RangeEnd: []byte("g"), StartRevision: 1}), n: 2},
	))
}

// watchClient is a clientv3 client of its own, which outlives the fixture's
// client across restarts.
func watchClient(t *testing.T, s *server) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.clientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// collect reads events from wch until n arrived (or the deadline).
func collect(t *testing.T, s *server, wch clientv3.WatchChan, n int) []*clientv3.Event {
	t.Helper()
	var evs []*clientv3.Event
	timeout := time.After(30 * time.Second)
	for len(evs) < n {
		select {
		case r, ok := <-wch:
			if !ok {
				t.Fatalf("[%s] watch channel closed after %d events", s, len(evs))
			}
			if err := r.Err(); err != nil {
				t.Fatalf("[%s] watch error after %d events: %v", s, len(evs), err)
			}
			evs = append(evs, r.Events...)
		case <-timeout:
			t.Fatalf("[%s] %d of %d events", s, len(evs), n)
		}
	}
	return evs
}

// checkRevs asserts that evs are the puts of revisions from, from+1, ...:
// none missing, none repeated, in order.
func checkRevs(t *testing.T, s *server, evs []*clientv3.Event, from int64) {
	t.Helper()
	for i, ev := range evs {
		if ev.Kv.ModRevision != from+int64(i) {
			t.Fatalf("[%s] event %d has revision %d, want %d", s, i, ev.Kv.ModRevision, from+int64(i))
		}
	}
}

// TestWatchClientv3: what clientv3 users rely on, on both servers: history
// then live events with prefix and prev_kv, ErrCompacted, resuming from the
// last revision + 1 (by hand and by clientv3 across a server restart), and
// RequestProgress.
func TestWatchClientv3(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 20 {
		f.ok(fmt.Sprintf("put %d", i), put(fmt.Sprintf("w/%d", i%5), fmt.Sprint(i))) // revs 2..21
	}
	f.each(func(s *server) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cli := watchClient(t, s)

		// History and prev_kv.
		wch := cli.Watch(ctx, "w/", clientv3.WithPrefix(), clientv3.WithRev(2), clientv3.WithPrevKV())
		evs := collect(t, s, wch, 20)
		checkRevs(t, s, evs, 2)
		for i, ev := range evs {
			hasPrev := i >= 5
			if (ev.PrevKv != nil) != hasPrev || hasPrev && string(ev.PrevKv.Value) != fmt.Sprint(i-5) {
				t.Fatalf("[%s] event %d prev_kv %v", s, i, ev.PrevKv)
			}
		}

		// Resume by hand: stop after 10 events, watch again from the last
		// revision + 1 while writes go on.
		wctx, wcancel := context.WithCancel(ctx)
		wch = cli.Watch(wctx, "w/", clientv3.WithPrefix(), clientv3.WithRev(2))
		first := collect(t, s, wch, 10)[:10] // a catch-up response may hold more
		wcancel()
		for i := range 10 {
			if _, err := cli.Put(ctx, fmt.Sprintf("w/%d", i%5), "r"); err != nil {
				t.Fatal(err)
			}
		}
		wch = cli.Watch(ctx, "w/", clientv3.WithPrefix(), clientv3.WithRev(first[len(first)-1].Kv.ModRevision+1))
		rest := collect(t, s, wch, 20) // revs 12..31
		checkRevs(t, s, append(first, rest...), 2)

		// A server restart: clientv3 reconnects and resumes by itself.
		done := make(chan []*clientv3.Event, 1)
		rctx, rcancel := context.WithCancel(ctx)
		defer rcancel()
		go func() {
			var got []*clientv3.Event
			for r := range cli.Watch(rctx, "w/", clientv3.WithPrefix(), clientv3.WithRev(32)) {
				got = append(got, r.Events...)
				if len(got) >= 20 {
					break
				}
			}
			done <- got
		}()
		for i := range 10 {
			if _, err := cli.Put(ctx, fmt.Sprintf("w/%d", i%5), "before"); err != nil {
				t.Fatal(err)
			}
		}
		s.restart()
		for i := range 10 {
			if _, err := cli.Put(ctx, fmt.Sprintf("w/%d", i%5), "after"); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case got := <-done:
			if len(got) < 20 {
				t.Fatalf("[%s] %d events across the restart", s, len(got))
			}
			checkRevs(t, s, got[:20], 32)
		case <-time.After(30 * time.Second):
			t.Fatalf("[%s] events across the restart did not arrive", s)
		}
		rcancel()

		// RequestProgress: a progress notification at the current revision.
		// On a stream of its own (clientv3 keys streams by metadata): etcd
		// drops the request while any watcher of the stream is catching up,
		// as the resumed ones above may be.
		pctx, pcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		defer pcancel()
		wch = cli.Watch(pctx, "nothing")
		if err := cli.RequestProgress(pctx); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-wch:
			if !r.IsProgressNotify() || r.Header.Revision != 51 {
				t.Fatalf("[%s] progress: %+v", s, r)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("[%s] no progress notification", s)
		}
		pcancel()

		// Compaction: a watch from a compacted revision ends with
		// ErrCompacted and the compact revision.
		if _, err := cli.Compact(ctx, 40); err != nil {
			t.Fatal(err)
		}
		r := <-cli.Watch(ctx, "w/", clientv3.WithPrefix(), clientv3.WithRev(10))
		if !errors.Is(r.Err(), rpctypes.ErrCompacted) || r.CompactRevision != 40 || !r.Canceled {
			t.Fatalf("[%s] watch below the compaction: %v (compact %d, canceled %v)", s, r.Err(), r.CompactRevision, r.Canceled)
		}
	})
}

// TestWatchProgressNotify: --watch-progress-notify-interval makes a
// watcher created with progress_notify hear the revision periodically.
func TestWatchProgressNotify(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withFlags("--watch-progress-notify-interval=200ms"))
	f.ok("put", put("x", "1"))
	f.each(func(s *server) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		wch := s.client().Watch(ctx, "quiet", clientv3.WithProgressNotify())
		for range 2 {
			select {
			case r := <-wch:
				if !r.IsProgressNotify() || r.Header.Revision != 2 {
					t.Fatalf("[%s] %+v", s, r)
				}
			case <-ctx.Done():
				t.Fatalf("[%s] no progress notification", s)
			}
		}
	})
}

// TestWatchSlowConsumer: a stream whose client stops reading while a load of
// puts runs does not slow the puts nor another watcher; when it reads again
// it gets every event, once, in order — cairn only (it inspects no internals,
// but etcd's numbers are not the point here).
func TestWatchSlowConsumer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, cairnOnly())
	s := f.servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The stalled client: a raw stream that is never read while the puts
	// run (gRPC flow control then stops the server's sends on it). A fixed
	// 64 KiB window: grpc-go's default grows windows (BDP estimation) to
	// 16 MiB, which would absorb this whole load.
	stalledCli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{s.clientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithInitialWindowSize(64 << 10), grpc.WithInitialConnWindowSize(64 << 10)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stalledCli.Close()
	ws, err := pb.NewWatchClient(stalledCli.ActiveConnection()).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Send(wcreate(&pb.WatchCreateRequest{Key: []byte("s/"), RangeEnd: []byte("s0")})); err != nil {
		t.Fatal(err)
	}
	if r, err := ws.Recv(); err != nil || !r.Created {
		t.Fatalf("created: %v %v", r, err)
	}
	fastCli := watchClient(t, s)
	wch := fastCli.Watch(ctx, "s/", clientv3.WithPrefix(), clientv3.WithRev(2))

	const puts = 3000
	value := strings.Repeat("x", 4000) // 12 MB of events: more than the stalled stream's windows and outbox (8 MiB)
	var (
		mu      sync.Mutex
		putAt   = map[int64]time.Time{}
		worst   time.Duration
		fastN   int
		fastErr error
	)
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		next := int64(0)
		for r := range wch {
			now := time.Now()
			mu.Lock()
			for _, ev := range r.Events {
				if next != 0 && ev.Kv.ModRevision != next {
					fastErr = fmt.Errorf("revision %d after %d", ev.Kv.ModRevision, next-1)
				}
				next = ev.Kv.ModRevision + 1
				fastN++
				if d := now.Sub(putAt[ev.Kv.ModRevision]); d > worst {
					worst = d
				}
			}
			n := fastN
			mu.Unlock()
			if n >= puts {
				return
			}
		}
	}()
	cli := s.client()
	start := time.Now()
	for i := range puts {
		mu.Lock()
		putAt[int64(i+2)] = time.Now() // the puts are revisions 2, 3, ...
		mu.Unlock()
		if _, err := cli.Put(ctx, fmt.Sprintf("s/%d", i%100), value); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	select {
	case <-fastDone:
	case <-ctx.Done():
		t.Fatal("the reading watcher did not get every event")
	}
	mu.Lock()
	t.Logf("%d puts in %v (%.0f/s); reading watcher's worst put-to-event delay %v", puts, elapsed, puts/elapsed.Seconds(), worst)
	if fastErr != nil || fastN != puts {
		t.Fatalf("reading watcher: %d events, %v", fastN, fastErr)
	}
	// A generous bound: it catches a watcher held up by the stalled one.
	if worst > 5*time.Second {
		t.Fatalf("reading watcher's worst put-to-event delay %v", worst)
	}
	mu.Unlock()

	// The stalled watcher was moved behind (served from history), so the
	// server held a bounded amount for it: etcd's slow-watcher gauge says so.
	if n := metricValue(t, s, "etcd_debugging_mvcc_slow_watcher_total"); n == 0 {
		t.Errorf("etcd_debugging_mvcc_slow_watcher_total: %v, want the stalled watcher counted", n)
	}

	// Now the stalled client reads: every event, once, in order.
	next := int64(2)
	for next < puts+2 {
		r, err := ws.Recv()
		if err != nil {
			t.Fatalf("stalled stream after revision %d: %v", next-1, err)
		}
		for _, ev := range r.Events {
			if ev.Kv.ModRevision != next || ev.Type != mvccpb.PUT {
				t.Fatalf("stalled stream: revision %d, want %d", ev.Kv.ModRevision, next)
			}
			next++
		}
	}
}

// TestWatchConnect: Watch over Connect (h2c, JSON) — and a clear error over
// HTTP/1.1, where a bidi stream cannot work — cairn only.
func TestWatchConnect(t *testing.T) {
	t.Parallel()
	if etcdOnly() {
		t.Skip("etcd does not serve Connect: nothing to validate in " + envEtcdOnly + " mode")
	}
	f := newFixture(t, cairnOnly())
	s := f.servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := s.clientURL + "/etcdserverpb.Watch/Watch"

	// HTTP/1.1: refused with 505 HTTP Version Not Supported.
	req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(""))
	req.Header.Set("Content-Type", "application/connect+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cerr struct{ Code, Message string }
	_ = json.Unmarshal(body, &cerr)
	if resp.StatusCode != http.StatusHTTPVersionNotSupported || cerr.Code != "unimplemented" || !strings.Contains(cerr.Message, "HTTP/2") {
		t.Errorf("Connect Watch over HTTP/1.1: %d %q, want 505 with an unimplemented error that says HTTP/2 is needed", resp.StatusCode, body)
	}
	t.Logf("HTTP/1.1: %s %s", resp.Status, body)

	// h2c: a full-duplex Connect stream, enveloped JSON messages.
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	pr, pw := io.Pipe()
	req, _ = http.NewRequestWithContext(ctx, "POST", url, pr)
	req.Header.Set("Content-Type", "application/connect+json")
	send := func(msg string) {
		var hdr [5]byte
		binary.BigEndian.PutUint32(hdr[1:], uint32(len(msg)))
		if _, err := pw.Write(append(hdr[:], msg...)); err != nil {
			t.Error(err)
		}
	}
	go send(`{"createRequest":{"key":"Y29ubg=="}}`) // "conn"
	resp, err = (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	recv := func() map[string]any {
		t.Helper()
		var hdr [5]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			t.Fatalf("read envelope: %v", err)
		}
		b := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		return m
	}
	if m := recv(); m["created"] != true {
		t.Fatalf("created: %v", m)
	}
	if _, err := s.client().Put(ctx, "conn", "v"); err != nil {
		t.Fatal(err)
	}
	m := recv()
	evs, _ := m["events"].([]any)
	if len(evs) != 1 {
		t.Fatalf("event: %v", m)
	}
	_ = pw.Close()
}
