package mvcc

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/storage"
)

// harness is a Store over a real pebble DB in a temp dir, with helpers that
// apply requests the way the raft apply loop does: one indexed batch,
// committed unsynced, then Committed.
type harness struct {
	t      testing.TB
	dir    string
	db     *pebble.DB
	s      *Store
	cfg    Config
	leases map[int64]bool
	events []committed
	// prod opens pebble with storage's production defaults (benchmarks).
	prod bool
}

type committed struct {
	rev    int64
	events []*mvccpb.Event
}

func newHarness(t testing.TB) *harness {
	return newHarnessCfg(t, Config{})
}

func newHarnessCfg(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), leases: map[int64]bool{}, cfg: cfg}
	h.open()
	t.Cleanup(h.close)
	return h
}

func (h *harness) open() {
	h.t.Helper()
	scfg := storage.Config{Dir: h.dir, CacheBytes: 8 << 20, MemTableBytes: 4 << 20}
	if h.prod {
		scfg = storage.Config{Dir: h.dir}
	}
	db, err := storage.Open(scfg)
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := h.cfg
	cfg.LeaseExists = func(id int64) bool { return h.leases[id] }
	if cfg.OnCommit == nil {
		cfg.OnCommit = func(rev int64, evs []*mvccpb.Event) {
			h.events = append(h.events, committed{rev, evs})
		}
	}
	s, err := New(db, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	if cfg.afterFilterScan == nil {
		s.awaitFilter() // so that tests see the lookups a filter spares
	}
	h.db, h.s = db, s
}

// awaitFilter waits for the key filter's build in progress, if any, and
// swaps it in as the next batch would. The caller is the apply side.
func (s *Store) awaitFilter() {
	r := s.ap.rebuild
	if r == nil {
		return
	}
	f := <-r.done
	r.done <- f
	s.maintainFilter()
}

func (h *harness) close() {
	if h.s == nil {
		return
	}
	if err := h.s.Close(); err != nil {
		h.t.Error(err)
	}
	if err := h.db.Close(); err != nil {
		h.t.Error(err)
	}
	h.s, h.db = nil, nil
}

func (h *harness) reopen() {
	h.t.Helper()
	h.close()
	h.open()
}

// batch runs fn on a fresh indexed batch, commits it and calls Committed.
func (h *harness) batch(fn func(b *pebble.Batch)) {
	h.t.Helper()
	b := h.db.NewIndexedBatch()
	defer b.Close()
	fn(b)
	if err := b.Commit(pebble.NoSync); err != nil {
		h.t.Fatal(err)
	}
	h.s.Committed(b)
}

func (h *harness) put(key, value string) *pb.PutResponse {
	h.t.Helper()
	return h.putReq(&pb.PutRequest{Key: []byte(key), Value: []byte(value)})
}

func (h *harness) putReq(r *pb.PutRequest) *pb.PutResponse {
	h.t.Helper()
	resp, err := h.tryPut(r)
	if err != nil {
		h.t.Fatalf("put %q: %v", r.Key, err)
	}
	return resp
}

func (h *harness) tryPut(r *pb.PutRequest) (resp *pb.PutResponse, err error) {
	h.batch(func(b *pebble.Batch) { resp, err = h.s.Put(b, r) })
	return resp, err
}

func (h *harness) del(key, end string) *pb.DeleteRangeResponse {
	h.t.Helper()
	var (
		resp *pb.DeleteRangeResponse
		err  error
	)
	h.batch(func(b *pebble.Batch) {
		resp, err = h.s.DeleteRange(b, &pb.DeleteRangeRequest{Key: []byte(key), RangeEnd: bytesOrNil(end)})
	})
	if err != nil {
		h.t.Fatalf("delete %q: %v", key, err)
	}
	return resp
}

func (h *harness) txn(r *pb.TxnRequest) (resp *pb.TxnResponse, err error) {
	h.t.Helper()
	h.batch(func(b *pebble.Batch) { resp, err = h.s.Txn(b, r) })
	return resp, err
}

func (h *harness) compact(rev int64) (<-chan struct{}, error) {
	h.t.Helper()
	var (
		done <-chan struct{}
		err  error
	)
	h.batch(func(b *pebble.Batch) { _, done, err = h.s.Compact(b, &pb.CompactionRequest{Revision: rev}) })
	return done, err
}

// compactWait compacts and waits for the physical removal.
func (h *harness) compactWait(rev int64) {
	h.t.Helper()
	done, err := h.compact(rev)
	if err != nil {
		h.t.Fatalf("compact %d: %v", rev, err)
	}
	<-done
}

func (h *harness) rng(r *pb.RangeRequest) *pb.RangeResponse {
	h.t.Helper()
	resp, err := h.s.Range(context.Background(), r)
	if err != nil {
		h.t.Fatalf("range %q..%q@%d: %v", r.Key, r.RangeEnd, r.Revision, err)
	}
	return resp
}

// get reads one key at rev (0: current) and formats it with fmtKV.
func (h *harness) get(key string, rev int64) string {
	h.t.Helper()
	resp := h.rng(&pb.RangeRequest{Key: []byte(key), Revision: rev})
	return fmtKVs(resp.Kvs)
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// fmtKV prints a KeyValue as key@mod{c=create,v=version[,l=lease]}=value,
// as pebble's testkeys print key@rev.
func fmtKV(kv *mvccpb.KeyValue) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s@%d{c=%d,v=%d", printable(kv.Key), kv.ModRevision, kv.CreateRevision, kv.Version)
	if kv.Lease != 0 {
		fmt.Fprintf(&sb, ",l=%d", kv.Lease)
	}
	sb.WriteString("}")
	if kv.Value != nil {
		fmt.Fprintf(&sb, "=%s", printable(kv.Value))
	}
	return sb.String()
}

func fmtKVs(kvs []*mvccpb.KeyValue) string {
	s := make([]string, len(kvs))
	for i, kv := range kvs {
		s[i] = fmtKV(kv)
	}
	return strings.Join(s, " ")
}

func fmtEvents(evs []*mvccpb.Event) string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = ev.Type.String() + " " + fmtKV(ev.Kv)
	}
	return strings.Join(s, "; ")
}

func printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%q", b)
		}
	}
	return string(b)
}

// scan lists the raw keys of a keyspace (physical state, no snapshot).
func (h *harness) scan(lo, hi []byte) []string {
	h.t.Helper()
	it, err := h.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		h.t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for valid := it.First(); valid; valid = it.Next() {
		out = append(out, describeKey(it.Key(), it.Value()))
	}
	return out
}

// describeKey prints an mvcc key readably: hist key@rev[.sub][ del| stub],
// rev r.s put|del key.
func describeKey(k, v []byte) string {
	switch k[0] {
	case prefixLive:
		return "live " + printable(k[1:])
	case prefixHistory:
		p, rev, sub, err := splitHistKey(k)
		if err != nil {
			return fmt.Sprintf("bad %x", k)
		}
		s := fmt.Sprintf("hist %s@%d", printable(appendUnescaped(nil, p)), rev)
		if sub > 0 {
			s += fmt.Sprintf(".%d", sub)
		}
		switch {
		case len(v) == 0:
			s += " del"
		case isStub(v):
			s += " stub"
		}
		return s
	case prefixRev:
		rev, sub, err := decodeRevKey(k)
		if err != nil {
			return fmt.Sprintf("bad %x", k)
		}
		kind := "put"
		if v[0] == kindDelete {
			kind = "del"
		}
		return fmt.Sprintf("rev %d.%d %s %s", rev, sub, kind, printable(v[1:]))
	case prefixLease:
		return fmt.Sprintf("lease %d %s", int64(beUint64(k[1:9])), printable(k[9:]))
	}
	return fmt.Sprintf("%x", k)
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

func (h *harness) history() []string { return h.scan(histLow, histHigh) }
func (h *harness) revs() []string    { return h.scan(revLow, revHigh) }

func put(key, value string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(key), Value: []byte(value)}}}
}

func delOp(key, end string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte(key), RangeEnd: bytesOrNil(end)}}}
}

func rangeOp(r *pb.RangeRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: r}}
}

func txnOp(r *pb.TxnRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: r}}
}
