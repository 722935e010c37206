package lease

import (
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/kv"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/storage"
)

// fakeClock is the injectable clock: time moves only by Advance.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is a Lessor and an MVCC store over a real pebble DB in a temp dir,
// with the KV and lease state machines behind an apply.Dispatcher: apply
// runs entries the way raftlog's apply loop does (one indexed batch per
// round, committed unsynced, then Committed), without raft.
type harness struct {
	t      testing.TB
	dir    string
	cfg    Config
	clock  *fakeClock
	db     *pebble.DB
	l      *Lessor
	store  *mvcc.Store
	d      *apply.Dispatcher
	events []committedTxn
	index  uint64
}

type committedTxn struct {
	rev    int64
	events []*mvccpb.Event
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), cfg: cfg, clock: newClock()}
	h.cfg.Now = h.clock.Now
	h.open()
	t.Cleanup(h.close)
	return h
}

func (h *harness) open() {
	h.t.Helper()
	db, err := storage.Open(storage.Config{Dir: h.dir, CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		h.t.Fatal(err)
	}
	l, err := New(db, h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	store, err := mvcc.New(db, mvcc.Config{
		LeaseExists: l.Exists,
		OnCommit: func(rev int64, evs []*mvccpb.Event) {
			h.events = append(h.events, committedTxn{rev, evs})
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.db, h.l, h.store = db, l, store
	h.d = apply.New(kv.NewApplier(store), NewApplier(l, store))
}

func (h *harness) close() {
	if h.store == nil {
		return
	}
	if err := h.store.Close(); err != nil {
		h.t.Error(err)
	}
	if err := h.db.Close(); err != nil {
		h.t.Error(err)
	}
	h.store, h.db = nil, nil
}

// restart closes and reopens everything on the same data dir: a member
// restart (the Lessor comes back not primary).
func (h *harness) restart() {
	h.t.Helper()
	h.close()
	h.open()
}

// apply runs reqs as one apply round and returns each one's Result.
func (h *harness) apply(reqs ...*raftpbv1.Request) []apply.Result {
	h.t.Helper()
	b := h.db.NewIndexedBatch()
	defer b.Close()
	var out []apply.Result
	for _, r := range reqs {
		h.index++
		data, err := proto.Marshal(r)
		if err != nil {
			h.t.Fatal(err)
		}
		_, res, err := h.d.ApplyEntry(b, h.index, data)
		if err != nil {
			h.t.Fatalf("apply: %v", err)
		}
		out = append(out, res.(apply.Result))
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		h.t.Fatal(err)
	}
	h.d.Committed(b)
	return out
}

// apply1 applies one request in its own round.
func (h *harness) apply1(r *raftpbv1.Request) apply.Result { return h.apply(r)[0] }

func grantReq(id, ttl int64) *raftpbv1.Request {
	return &raftpbv1.Request{Op: &raftpbv1.Request_LeaseGrant{LeaseGrant: &pb.LeaseGrantRequest{ID: id, TTL: ttl}}}
}

func revokeReq(id int64) *raftpbv1.Request {
	return &raftpbv1.Request{Op: &raftpbv1.Request_LeaseRevoke{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}}}
}

func checkpointReq(cps ...*pb.LeaseCheckpoint) *raftpbv1.Request {
	return &raftpbv1.Request{Op: &raftpbv1.Request_LeaseCheckpoint{LeaseCheckpoint: &pb.LeaseCheckpointRequest{Checkpoints: cps}}}
}

func putReq(key string, lease int64) *raftpbv1.Request {
	return &raftpbv1.Request{Op: &raftpbv1.Request_Put{Put: &pb.PutRequest{Key: []byte(key), Value: []byte("v"), Lease: lease}}}
}

// mustGrant grants lease id in its own round.
func (h *harness) mustGrant(id, ttl int64) {
	h.t.Helper()
	if r := h.apply1(grantReq(id, ttl)); r.Err != nil {
		h.t.Fatalf("grant %d: %v", id, r.Err)
	}
}
