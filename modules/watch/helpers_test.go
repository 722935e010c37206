package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
	"github.com/cairnkv/cairn/modules/storage"
)

// env is a Watch service over a real mvcc.Store on pebble in a temp dir.
// Writes go through apply, as the raft apply loop does them: one indexed
// batch, committed, then Store.Committed (which calls the hub's OnCommit).
// It records every committed event (model) to compute what each watcher
// must receive.
type env struct {
	t     testing.TB
	db    *pebble.DB
	store *mvcc.Store
	hub   *Hub
	svc   *Service
	raft  *fakeRaft

	mu    sync.Mutex // the apply goroutine
	model []*mvccpb.Event
}

type fakeRaft struct{ leader atomic.Uint64 }

func (f *fakeRaft) Status() raftlog.Status {
	return raftlog.Status{ClusterID: 1, MemberID: 2, Term: 3, Leader: f.leader.Load()}
}

func newEnv(t testing.TB, hcfg HubConfig, cfg Config) *env {
	t.Helper()
	return newEnvWrap(t, hcfg, cfg, nil)
}

// newEnvWrap is newEnv whose hub and service read the store through wrap.
func newEnvWrap(t testing.TB, hcfg HubConfig, cfg Config, wrap func(Store) Store) *env {
	t.Helper()
	db, err := storage.Open(storage.Config{Dir: t.TempDir(), CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, raft: &fakeRaft{}}
	e.raft.leader.Store(2)
	e.hub = NewHub(hcfg)
	e.store, err = mvcc.New(db, mvcc.Config{OnCommit: func(rev int64, evs []*mvccpb.Event) {
		for _, ev := range evs {
			e.model = append(e.model, proto.Clone(ev).(*mvccpb.Event))
		}
		e.hub.OnCommit(rev, evs)
	}})
	if err != nil {
		t.Fatal(err)
	}
	var st Store = e.store
	if wrap != nil {
		st = wrap(st)
	}
	e.svc = New(cfg, e.hub, st, e.raft)
	t.Cleanup(func() {
		e.svc.Close(context.Background())
		e.hub.Close()
		_ = e.store.Close()
		_ = db.Close()
	})
	return e
}

func (e *env) apply(fn func(b *pebble.Batch) error) {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.db.NewIndexedBatch()
	defer b.Close()
	if err := fn(b); err != nil {
		e.t.Fatal(err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		e.t.Fatal(err)
	}
	e.store.Committed(b)
}

func (e *env) put(key, value string) int64 {
	e.t.Helper()
	var rev int64
	e.apply(func(b *pebble.Batch) error {
		r, err := e.store.Put(b, &pb.PutRequest{Key: []byte(key), Value: []byte(value)})
		if err == nil {
			rev = r.Header.Revision
		}
		return err
	})
	return rev
}

func (e *env) del(key, end string) {
	e.t.Helper()
	e.apply(func(b *pebble.Batch) error {
		req := &pb.DeleteRangeRequest{Key: []byte(key)}
		if end != "" {
			req.RangeEnd = []byte(end)
		}
		_, err := e.store.DeleteRange(b, req)
		return err
	})
}

func (e *env) txn(ops ...*pb.RequestOp) {
	e.t.Helper()
	e.apply(func(b *pebble.Batch) error {
		_, err := e.store.Txn(b, &pb.TxnRequest{Success: ops})
		return err
	})
}

func (e *env) compact(rev int64) {
	e.t.Helper()
	var done <-chan struct{}
	e.apply(func(b *pebble.Batch) error {
		var err error
		_, done, err = e.store.Compact(b, &pb.CompactionRequest{Revision: rev})
		return err
	})
	<-done
}

func putOp(key, value string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(key), Value: []byte(value)}}}
}

// expect is what a watcher of req must receive: the model's events from its
// start revision on, in its range, through its filters.
func (e *env) expect(req *pb.WatchCreateRequest, createdRev int64) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := &watcher{key: req.Key, end: req.RangeEnd}
	if len(w.end) == 0 {
		w.end = nil
	} else if len(w.end) == 1 && w.end[0] == 0 {
		w.end = []byte{}
	}
	for _, f := range req.Filters {
		w.noPut = w.noPut || f == pb.WatchCreateRequest_NOPUT
		w.noDel = w.noDel || f == pb.WatchCreateRequest_NODELETE
	}
	start := req.StartRevision
	if start == 0 {
		start = createdRev + 1
	}
	var out []string
	for _, ev := range e.model {
		if ev.Kv.ModRevision >= start && w.holds(ev.Kv.Key) && w.wants(ev) {
			out = append(out, fmtEvent(ev))
		}
	}
	return out
}

func fmtEvent(ev *mvccpb.Event) string {
	kv := ev.Kv
	if ev.Type == mvccpb.Event_DELETE {
		return fmt.Sprintf("DELETE %s@%d", kv.Key, kv.ModRevision)
	}
	return fmt.Sprintf("PUT %s@%d{c=%d,v=%d}=%s", kv.Key, kv.ModRevision, kv.CreateRevision, kv.Version, kv.Value)
}

// fakeStream is the server side of one Watch stream in memory. Send blocks
// until the test reads the response (resps is unbuffered unless buffered
// is set), so a test that does not read is a stalled client.
type fakeStream struct {
	grpc.ServerStream
	t         testing.TB
	wireSends atomic.Int64 // responses sent with shared event encodings
	ctx       context.Context
	cancel    context.CancelFunc
	reqs      chan *pb.WatchRequest
	resps     chan *pb.WatchResponse
	done      chan error
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) Send(r *pb.WatchResponse) error { return f.SendMsg(r) }

// SendMsg decodes what the server's gRPC codec would send: a wireResponse's
// own encoding (which must be proto.Marshal's bytes, and which the service
// must never hand over with events its wire does not cache), any other
// response cloned, so that the test never shares memory with the server.
func (f *fakeStream) SendMsg(m any) error {
	var c *pb.WatchResponse
	switch r := m.(type) {
	case *wireResponse:
		n := r.WireSize()
		if n < 0 {
			f.t.Errorf("wire response whose wire does not match its events: %v", r.WatchResponse)
			return errors.New("wire mismatch")
		}
		b := r.AppendWire(make([]byte, 0, n))
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(r.WatchResponse)
		if err != nil || !bytes.Equal(b, want) {
			f.t.Errorf("wire encoding %x, proto.Marshal %x (%v)", b, want, err)
			return errors.New("wire mismatch")
		}
		f.wireSends.Add(1)
		c = new(pb.WatchResponse)
		if err := proto.Unmarshal(b, c); err != nil {
			return err
		}
	case *pb.WatchResponse:
		c = proto.Clone(r).(*pb.WatchResponse)
	default:
		return fmt.Errorf("unexpected message %T", m)
	}
	select {
	case f.resps <- c:
		return nil
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
}

func (f *fakeStream) Recv() (*pb.WatchRequest, error) {
	select {
	case r, ok := <-f.reqs:
		if !ok {
			return nil, io.EOF
		}
		return r, nil
	case <-f.ctx.Done():
		return nil, f.ctx.Err()
	}
}

// client drives a fakeStream.
type client struct {
	t testing.TB
	f *fakeStream
}

func (e *env) open(md ...string) *client {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if len(md) > 0 {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(md...))
	}
	f := &fakeStream{t: e.t, ctx: ctx, cancel: cancel, reqs: make(chan *pb.WatchRequest, 16), resps: make(chan *pb.WatchResponse), done: make(chan error, 1)}
	go func() { f.done <- e.svc.Watch(f) }()
	c := &client{t: e.t, f: f}
	e.t.Cleanup(func() {
		cancel()
		<-f.done
	})
	return c
}

const waitFor = 10 * time.Second

func (c *client) send(r *pb.WatchRequest) {
	c.t.Helper()
	select {
	case c.f.reqs <- r:
	case <-time.After(waitFor):
		c.t.Fatal("request not taken")
	}
}

func (c *client) create(r *pb.WatchCreateRequest) *pb.WatchResponse {
	c.t.Helper()
	c.send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: r}})
	resp := c.recv()
	if !resp.Created {
		c.t.Fatalf("want a created response, got %v", resp)
	}
	return resp
}

func (c *client) cancelWatch(id int64) {
	c.send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: id}}})
}

func (c *client) progress() {
	c.send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_ProgressRequest{ProgressRequest: &pb.WatchProgressRequest{}}})
}

func (c *client) recv() *pb.WatchResponse {
	c.t.Helper()
	r, ok := c.recvWithin(waitFor)
	if !ok {
		c.t.Fatal("no response")
	}
	return r
}

func (c *client) recvWithin(d time.Duration) (*pb.WatchResponse, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-c.f.resps:
		return r, true
	case err := <-c.f.done:
		c.f.done <- err
		return nil, false
	case <-t.C:
		return nil, false
	}
}

// events reads responses until watcher id has n events, and fails on
// anything else for it (other watchers' responses go to other).
func (c *client) events(id int64, n int) []string {
	c.t.Helper()
	var out []string
	for len(out) < n {
		r := c.recv()
		if r.WatchId != id {
			c.t.Fatalf("response for watcher %d while waiting for %d: %v", r.WatchId, id, r)
		}
		if r.Canceled || r.Created {
			c.t.Fatalf("unexpected %v", r)
		}
		for _, ev := range r.Events {
			out = append(out, fmtEvent(ev))
		}
	}
	return out
}

// quiet asserts no response arrives for a short while (used only to check
// that nothing more comes after a condition already awaited).
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	if r, ok := c.recvWithin(d); ok {
		c.t.Fatalf("unexpected response %v", r)
	}
}

func diff(got, want []string) string {
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "got %d events, want %d\n", len(got), len(want))
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		mark := " "
		if g != w {
			mark = "!"
		}
		fmt.Fprintf(&sb, "%s %-40s %s\n", mark, g, w)
		if sb.Len() > 4000 {
			break
		}
	}
	return sb.String()
}
