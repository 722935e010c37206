package mvcc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// The model is the naive reference: every version of every key in a map,
// etcd's algorithms applied literally (fetch everything, filter, sort,
// truncate). TestModel runs random op sequences against it and the Store.

type mver struct {
	rev, create, version, lease int64
	sub                         int
	value                       string
	tomb                        bool
}

type model struct {
	rev, compactRev int64
	hist            map[string][]mver // versions in write order
	events          []string          // per write txn: "rev: events"
	evKeys          [][]string        // per write txn: the key of each event
	leases          map[int64]bool
}

func newModel() *model {
	return &model{rev: 1, compactRev: -1, hist: map[string][]mver{}, leases: map[int64]bool{1: true, 3: true}}
}

func (m *model) clone() *model {
	c := *m
	c.hist = make(map[string][]mver, len(m.hist))
	for k, v := range m.hist {
		c.hist[k] = slices.Clone(v)
	}
	c.events = slices.Clone(m.events)
	c.evKeys = slices.Clone(m.evKeys)
	return &c
}

// at returns key's version at rev (the last written at or below rev).
func (m *model) at(key string, rev int64) (mver, bool) {
	vs := m.hist[key]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].rev <= rev {
			if vs[i].tomb {
				return mver{}, false
			}
			return vs[i], true
		}
	}
	return mver{}, false
}

func inRange(k, key, end []byte) bool {
	switch {
	case end == nil:
		return bytes.Equal(k, key)
	case len(end) == 0:
		return bytes.Compare(k, key) >= 0
	default:
		return bytes.Compare(k, key) >= 0 && bytes.Compare(k, end) < 0
	}
}

func (m *model) kvs(key, end []byte, rev int64) []*mvccpb.KeyValue {
	keys := slices.Sorted(maps.Keys(m.hist))
	var out []*mvccpb.KeyValue
	for _, k := range keys {
		if !inRange([]byte(k), key, end) {
			continue
		}
		if v, ok := m.at(k, rev); ok {
			out = append(out, &mvccpb.KeyValue{Key: []byte(k), Value: []byte(v.value), CreateRevision: v.create,
				ModRevision: v.rev, Version: v.version, Lease: v.lease})
		}
	}
	return out
}

// mtxn is a write txn on the model.
type mtxn struct {
	m       *model
	changes int
	events  []string
	keys    []string
}

func (t *mtxn) curRev() int64 {
	if t.changes > 0 {
		return t.m.rev + 1
	}
	return t.m.rev
}

func (t *mtxn) end() {
	if t.changes > 0 {
		t.m.rev++
		t.m.events = append(t.m.events, fmt.Sprintf("%d: %s", t.m.rev, strings.Join(t.events, "; ")))
		t.m.evKeys = append(t.m.evKeys, t.keys)
	}
}

func (t *mtxn) rangeReq(r *pb.RangeRequest) (*pb.RangeResponse, error) {
	cur := t.curRev()
	rev := r.Revision
	if rev > cur {
		return nil, rpcerr.ErrFutureRev
	}
	if rev <= 0 {
		rev = cur
	}
	if rev < t.m.compactRev {
		return nil, rpcerr.ErrCompacted
	}
	all := t.m.kvs(r.Key, mkGteRange(r.RangeEnd), rev)
	resp := &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: cur}, Count: int64(len(all))}
	if r.CountOnly {
		return resp, nil
	}
	filtered := r.MinModRevision != 0 || r.MaxModRevision != 0 || r.MinCreateRevision != 0 || r.MaxCreateRevision != 0
	if r.SortOrder == pb.RangeRequest_NONE && !filtered && r.Limit > 0 && len(all) > int(r.Limit)+1 {
		all = all[:r.Limit+1] // etcd fetches limit+1 keys when no order or filter is asked
	}
	var kept []*mvccpb.KeyValue
	for _, kv := range all {
		if (r.MaxModRevision != 0 && kv.ModRevision > r.MaxModRevision) || (r.MinModRevision != 0 && kv.ModRevision < r.MinModRevision) ||
			(r.MaxCreateRevision != 0 && kv.CreateRevision > r.MaxCreateRevision) || (r.MinCreateRevision != 0 && kv.CreateRevision < r.MinCreateRevision) {
			continue
		}
		kept = append(kept, kv)
	}
	order := r.SortOrder
	if r.SortTarget != pb.RangeRequest_KEY && order == pb.RangeRequest_NONE {
		order = pb.RangeRequest_ASCEND
	}
	if order != pb.RangeRequest_NONE {
		var less func(a, b *mvccpb.KeyValue) bool
		switch r.SortTarget {
		case pb.RangeRequest_KEY:
			less = func(a, b *mvccpb.KeyValue) bool { return bytes.Compare(a.Key, b.Key) < 0 }
		case pb.RangeRequest_VERSION:
			less = func(a, b *mvccpb.KeyValue) bool { return a.Version < b.Version }
		case pb.RangeRequest_CREATE:
			less = func(a, b *mvccpb.KeyValue) bool { return a.CreateRevision < b.CreateRevision }
		case pb.RangeRequest_MOD:
			less = func(a, b *mvccpb.KeyValue) bool { return a.ModRevision < b.ModRevision }
		case pb.RangeRequest_VALUE:
			less = func(a, b *mvccpb.KeyValue) bool { return bytes.Compare(a.Value, b.Value) < 0 }
		}
		s := &lessSorter{kvs: kept, less: less}
		if order == pb.RangeRequest_ASCEND {
			sort.Sort(s)
		} else {
			sort.Sort(sort.Reverse(s))
		}
	}
	if r.Limit > 0 && len(kept) > int(r.Limit) {
		kept = kept[:r.Limit]
		resp.More = true
	}
	if r.KeysOnly {
		for _, kv := range kept {
			kv.Value = nil
		}
	}
	resp.Kvs = kept
	return resp, nil
}

type lessSorter struct {
	kvs  []*mvccpb.KeyValue
	less func(a, b *mvccpb.KeyValue) bool
}

func (s *lessSorter) Len() int           { return len(s.kvs) }
func (s *lessSorter) Swap(i, j int)      { s.kvs[i], s.kvs[j] = s.kvs[j], s.kvs[i] }
func (s *lessSorter) Less(i, j int) bool { return s.less(s.kvs[i], s.kvs[j]) }

func (t *mtxn) put(r *pb.PutRequest) (*pb.PutResponse, error) {
	k := string(r.Key)
	old, ok := t.m.at(k, 1<<62)
	if (r.IgnoreValue || r.IgnoreLease) && !ok {
		return nil, rpcerr.ErrKeyNotFound
	}
	rev := t.m.rev + 1
	v := mver{rev: rev, sub: t.changes, create: rev, version: 1, lease: r.Lease, value: string(r.Value)}
	if ok {
		v.create, v.version = old.create, old.version+1
	}
	if r.IgnoreValue {
		v.value = old.value
	}
	if r.IgnoreLease {
		v.lease = old.lease
	}
	resp := &pb.PutResponse{Header: &pb.ResponseHeader{Revision: rev}}
	if r.PrevKv && ok {
		resp.PrevKv = &mvccpb.KeyValue{Key: r.Key, Value: []byte(old.value), CreateRevision: old.create, ModRevision: old.rev, Version: old.version, Lease: old.lease}
	}
	t.m.hist[k] = append(t.m.hist[k], v)
	t.changes++
	t.events = append(t.events, fmt.Sprintf("PUT %s@%d{c=%d,v=%d,l=%d}=%s", printable(r.Key), rev, v.create, v.version, v.lease, v.value))
	t.keys = append(t.keys, k)
	return resp, nil
}

func (t *mtxn) del(r *pb.DeleteRangeRequest) *pb.DeleteRangeResponse {
	rev := t.m.rev + 1
	kvs := t.m.kvs(r.Key, mkGteRange(r.RangeEnd), 1<<62)
	resp := &pb.DeleteRangeResponse{Header: &pb.ResponseHeader{}, Deleted: int64(len(kvs))}
	if r.PrevKv {
		resp.PrevKvs = kvs
	}
	for _, kv := range kvs {
		k := string(kv.Key)
		t.m.hist[k] = append(t.m.hist[k], mver{rev: rev, sub: t.changes, tomb: true})
		t.changes++
		t.events = append(t.events, fmt.Sprintf("DELETE %s@%d", printable(kv.Key), rev))
		t.keys = append(t.keys, k)
	}
	resp.Header.Revision = t.curRev()
	return resp
}

func (m *model) compare(c *pb.Compare) bool {
	kvs := m.kvs(c.Key, mkGteRange(c.RangeEnd), m.rev)
	if len(kvs) == 0 {
		if c.Target == pb.Compare_VALUE {
			return false
		}
		kvs = []*mvccpb.KeyValue{{}}
	}
	for _, kv := range kvs {
		var res int
		switch c.Target {
		case pb.Compare_VERSION:
			res = cmpInt64(kv.Version, c.GetVersion())
		case pb.Compare_CREATE:
			res = cmpInt64(kv.CreateRevision, c.GetCreateRevision())
		case pb.Compare_MOD:
			res = cmpInt64(kv.ModRevision, c.GetModRevision())
		case pb.Compare_LEASE:
			res = cmpInt64(kv.Lease, c.GetLease())
		case pb.Compare_VALUE:
			res = bytes.Compare(kv.Value, c.GetValue())
		}
		ok := map[pb.Compare_CompareResult]bool{pb.Compare_EQUAL: res == 0, pb.Compare_NOT_EQUAL: res != 0,
			pb.Compare_GREATER: res > 0, pb.Compare_LESS: res < 0}[c.Result]
		if !ok {
			return false
		}
	}
	return true
}

// txn runs a (non-nested) txn on the model. Checks: a dry run on a clone of
// the model finds any failing op before the real run.
func (m *model) txn(r *pb.TxnRequest) (*pb.TxnResponse, error) {
	ok := true
	for _, c := range r.Compare {
		ok = ok && m.compare(c)
	}
	ops := r.Failure
	if ok {
		ops = r.Success
	}
	// The checks run in op order, each against the state before the txn,
	// except that an ignore_* put whose key an earlier op deleted fails too
	// (etcd panics there; the kv service's duplicate-key check keeps such a
	// txn from mvcc): a dry run on a clone of the model.
	pre := m.clone()
	dry := &mtxn{m: m.clone()}
	for _, op := range ops {
		switch {
		case op.GetRequestDeleteRange() != nil:
			dry.del(op.GetRequestDeleteRange())
		case op.GetRequestPut() != nil:
			p := op.GetRequestPut()
			if p.IgnoreValue || p.IgnoreLease {
				if _, exists := pre.at(string(p.Key), pre.rev); !exists {
					return nil, rpcerr.ErrKeyNotFound
				}
			}
			if _, err := dry.put(p); err != nil {
				return nil, err
			}
			if p.Lease != 0 && !m.leases[p.Lease] {
				return nil, rpcerr.ErrLeaseNotFound
			}
		case op.GetRequestRange() != nil:
			rr := op.GetRequestRange()
			if rr.Revision > m.rev {
				return nil, rpcerr.ErrFutureRev
			}
			if rr.Revision != 0 && rr.Revision < m.compactRev {
				return nil, rpcerr.ErrCompacted
			}
		}
	}
	t := &mtxn{m: m}
	resp := &pb.TxnResponse{Succeeded: ok, Header: &pb.ResponseHeader{}}
	for _, op := range ops {
		switch {
		case op.GetRequestPut() != nil:
			pr, _ := t.put(op.GetRequestPut())
			resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponsePut{ResponsePut: pr}})
		case op.GetRequestDeleteRange() != nil:
			dr := t.del(op.GetRequestDeleteRange())
			resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: dr}})
		case op.GetRequestRange() != nil:
			rr, err := t.rangeReq(op.GetRequestRange())
			if err != nil {
				panic(err)
			}
			resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseRange{ResponseRange: rr}})
		}
	}
	t.end()
	resp.Header.Revision = t.curRev()
	if t.changes > 0 {
		resp.Header.Revision = m.rev
	}
	return resp, nil
}

// expectedHistory is the physical history after compaction to m.compactRev:
// every version above it, and the latest at or below it unless that is a
// tombstone below it. The current version of a live key is a stub (its
// record is in the live keyspace) unless its value has indirectBytes or more
// (then the live record is indirect and the history entry full); every other
// version is a full record. detail: with the content of each record, as
// harness.physical prints it, followed by the live keyspace.
func (m *model) expectedHistory(detail bool, indirectBytes int) []string {
	var out, live []string
	for _, k := range slices.Sorted(maps.Keys(m.hist)) {
		vs := m.hist[k]
		var keep []int
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].rev > m.compactRev {
				keep = append(keep, i)
				continue
			}
			if !vs[i].tomb || vs[i].rev == m.compactRev {
				keep = append(keep, i)
			}
			break
		}
		for _, i := range keep {
			v := vs[i]
			s := fmt.Sprintf("hist %s@%d", printable([]byte(k)), v.rev)
			if v.sub > 0 {
				s += fmt.Sprintf(".%d", v.sub)
			}
			switch {
			case v.tomb:
				s += " del"
			case i == len(vs)-1 && len(v.value) >= indirectBytes:
				if detail {
					s += fmtMver(v)
				}
				nv := v
				nv.value = ""
				live = append(live, fmt.Sprintf("live %s@%d.%d%s indirect", printable([]byte(k)), v.rev, v.sub, fmtMver(nv)))
			case i == len(vs)-1:
				s += " stub"
				live = append(live, fmt.Sprintf("live %s@%d.%d%s", printable([]byte(k)), v.rev, v.sub, fmtMver(v)))
			case detail:
				s += fmtMver(v)
			}
			out = append(out, s)
		}
	}
	// h.history() is in encoded order, which is the user key order.
	if detail {
		out = append(out, live...)
	}
	return out
}

func fmtMver(v mver) string {
	return fmt.Sprintf("{c=%d,v=%d,l=%d}=%s", v.create, v.version, v.lease, printable([]byte(v.value)))
}

// physical lists the history keyspace with the content of each full record,
// then the live keyspace with each record (as model.expectedHistory(true)).
func (h *harness) physical() []string {
	h.t.Helper()
	var out []string
	scan := func(lo, hi []byte, f func(k, v []byte) string) {
		it, err := h.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			h.t.Fatal(err)
		}
		defer it.Close()
		for valid := it.First(); valid; valid = it.Next() {
			out = append(out, f(it.Key(), it.Value()))
		}
	}
	scan(histLow, histHigh, func(k, v []byte) string {
		s := describeKey(k, v)
		if len(v) > 0 && !isStub(v) {
			_, rev, _, _ := splitHistKey(k)
			r, err := decodeRecord(v, rev)
			if err != nil {
				return s + " " + err.Error()
			}
			s += fmtMver(mver{create: r.create, version: r.version, lease: r.lease, value: string(r.value)})
		}
		return s
	})
	scan(liveLow, liveHigh, func(k, v []byte) string {
		r, _, err := decodeLiveRecord(v)
		if err != nil {
			return "live " + printable(k[1:]) + " " + err.Error()
		}
		s := fmt.Sprintf("live %s@%d.%d%s", printable(k[1:]), r.mod, r.sub,
			fmtMver(mver{create: r.create, version: r.version, lease: r.lease, value: string(r.value)}))
		if r.indirect {
			s += " indirect"
		}
		return s
	})
	return out
}

var modelKeys = []string{"a", "a\x00", "a\x00b", "a\x01", "ab", "b", "b/1", "b/2", "\x00", "\xff", "\xff\x00", "c"}

// gen makes random requests over a set of keys.
type gen struct {
	*rand.Rand
	keys []string
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func (g *gen) randRange() (key, end []byte) {
	key = []byte(pick(g.Rand, g.keys))
	switch g.IntN(4) {
	case 0:
		return key, nil
	case 1:
		return key, []byte{0}
	case 2:
		return []byte{0}, []byte{0}
	default:
		return key, []byte(pick(g.Rand, g.keys))
	}
}

func (g *gen) randPut(n int) *pb.PutRequest {
	// Values of 2 to 12 bytes: with an indirect threshold in that range, a
	// key's versions go from direct to indirect and back.
	p := &pb.PutRequest{Key: []byte(pick(g.Rand, g.keys)), Value: fmt.Appendf(nil, "v%d%s", n, strings.Repeat("-", g.IntN(8))), PrevKv: g.IntN(2) == 0}
	switch g.IntN(10) {
	case 0:
		p.IgnoreValue = true
		p.Value = nil
	case 1:
		p.IgnoreLease = true
	case 2:
		p.Lease = 2 // not granted
	case 3, 4:
		p.Lease = pick(g.Rand, []int64{1, 3})
	}
	return p
}

func (g *gen) randDel() *pb.DeleteRangeRequest {
	k, e := g.randRange()
	return &pb.DeleteRangeRequest{Key: k, RangeEnd: e, PrevKv: g.IntN(2) == 0}
}

func (g *gen) randRangeReq(m *model) *pb.RangeRequest {
	k, e := g.randRange()
	rr := &pb.RangeRequest{Key: k, RangeEnd: e}
	switch g.IntN(4) {
	case 0: // anywhere, errors included
		rr.Revision = m.compactRev - 1 + g.Int64N(m.rev-m.compactRev+3)
	case 1: // a little behind: most versions there are still current (stubs)
		rr.Revision = m.rev - g.Int64N(4)
	}
	if g.IntN(3) == 0 {
		rr.Limit = g.Int64N(4)
	}
	if g.IntN(3) == 0 {
		rr.SortTarget = pb.RangeRequest_SortTarget(g.IntN(5))
		rr.SortOrder = pb.RangeRequest_SortOrder(g.IntN(3))
	}
	rr.KeysOnly = g.IntN(5) == 0
	rr.CountOnly = g.IntN(8) == 0
	if g.IntN(4) == 0 {
		rr.MinModRevision = g.Int64N(m.rev + 1)
	}
	if g.IntN(4) == 0 {
		rr.MaxCreateRevision = g.Int64N(m.rev + 1)
	}
	if g.IntN(6) == 0 {
		rr.MaxModRevision = g.Int64N(m.rev + 1)
		rr.MinCreateRevision = g.Int64N(m.rev + 1)
	}
	return rr
}

func (g *gen) randCompare(m *model) *pb.Compare {
	k, e := g.randRange()
	c := &pb.Compare{Key: k, Result: pb.Compare_CompareResult(g.IntN(4))}
	if g.IntN(3) != 0 {
		c.RangeEnd = nil
		e = nil
	}
	c.RangeEnd = e
	cur, _ := m.at(string(k), m.rev)
	switch g.IntN(5) {
	case 0:
		c.Target, c.TargetUnion = pb.Compare_VERSION, &pb.Compare_Version{Version: cur.version + g.Int64N(3) - 1}
	case 1:
		c.Target, c.TargetUnion = pb.Compare_CREATE, &pb.Compare_CreateRevision{CreateRevision: cur.create + g.Int64N(3) - 1}
	case 2:
		c.Target, c.TargetUnion = pb.Compare_MOD, &pb.Compare_ModRevision{ModRevision: cur.rev + g.Int64N(3) - 1}
	case 3:
		c.Target, c.TargetUnion = pb.Compare_VALUE, &pb.Compare_Value{Value: []byte(cur.value)}
	case 4:
		c.Target, c.TargetUnion = pb.Compare_LEASE, &pb.Compare_Lease{Lease: cur.lease}
	}
	return c
}

func (g *gen) randOps(m *model, n *int) []*pb.RequestOp {
	var ops []*pb.RequestOp
	for range g.IntN(4) {
		*n++
		switch g.IntN(3) {
		case 0:
			ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: g.randPut(*n)}})
		case 1:
			ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: g.randDel()}})
		case 2:
			ops = append(ops, rangeOp(g.randRangeReq(m)))
		}
	}
	return ops
}

// sameErr compares errors by identity of the rpcerr (nil included).
func sameErr(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}

// modelConfig shapes a random workload.
type modelConfig struct {
	keys []string
	// puts and dels are the weights of single puts and deletes among the
	// requests of a write batch (txns weigh 2, compactions 1).
	puts, dels int
}

func TestModel(t *testing.T) {
	seeds := 16
	steps := 400
	if testing.Short() {
		seeds = 3
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			testModel(t, uint64(seed), steps, modelConfig{keys: modelKeys, puts: 2, dels: 1})
		})
	}
}

// TestModelOverwrites: few keys, mostly puts, so that nearly every write
// replaces a current version (a stub that becomes a full record), often
// twice in one txn or batch, and reads at old revisions, events and
// compaction meet stubs all the time.
func TestModelOverwrites(t *testing.T) {
	seeds := 8
	steps := 400
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			testModel(t, 1000+uint64(seed), steps, modelConfig{keys: []string{"a", "a\x00", "b"}, puts: 5, dels: 1})
		})
	}
}

func testModel(t *testing.T, seed uint64, steps int, mc modelConfig) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	g := &gen{Rand: r, keys: mc.keys}
	// Values have 2 to 12 bytes (randPut): a threshold of 4 or 7 writes some
	// indirectly and some not, 1 all of them, 0 (the default) none.
	h := newHarnessCfg(t, Config{compactStep: 1 + r.IntN(5), indirectBytes: pick(r, []int{0, 1, 4, 7})})
	h.leases[1], h.leases[3] = true, true
	m := newModel()
	var n int
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d step %d: %s", seed, n, fmt.Sprintf(format, args...))
	}
	eqResp := func(what string, got, want any) {
		t.Helper()
		if g, w := fmtResp(got), fmtResp(want); g != w {
			fail("%s:\n got %s\nwant %s", what, g, w)
		}
	}
	for step := 0; step < steps; step++ {
		switch k := r.IntN(20); {
		case k < 12: // a batch of writes
			b := h.db.NewIndexedBatch()
			before := m.clone()
			for range 1 + r.IntN(4) {
				n++
				switch op := r.IntN(mc.puts + mc.dels + 3); {
				case op < mc.puts:
					req := g.randPut(n)
					got, err := h.s.Put(b, req)
					var want *pb.PutResponse
					var werr error
					if req.Lease != 0 && !m.leases[req.Lease] {
						werr = rpcerr.ErrLeaseNotFound
					} else {
						t := &mtxn{m: m}
						want, werr = t.put(req)
						t.end()
					}
					if !sameErr(err, werr) {
						fail("put %v: err %v, want %v", req, err, werr)
					}
					if err == nil {
						eqResp("put", got, want)
					}
				case op < mc.puts+mc.dels:
					req := g.randDel()
					got, err := h.s.DeleteRange(b, req)
					if err != nil {
						fail("delete: %v", err)
					}
					t := &mtxn{m: m}
					want := t.del(req)
					t.end()
					eqResp("delete", got, want)
				case op < mc.puts+mc.dels+2:
					req := &pb.TxnRequest{Success: g.randOps(m, &n), Failure: g.randOps(m, &n)}
					for range r.IntN(3) {
						req.Compare = append(req.Compare, g.randCompare(m))
					}
					got, err := h.s.Txn(b, req)
					want, werr := m.txn(req)
					if !sameErr(err, werr) {
						fail("txn %v: err %v, want %v", req, err, werr)
					}
					if err == nil {
						eqResp("txn", got, want)
					}
				default:
					rev := m.compactRev - 1 + r.Int64N(m.rev-m.compactRev+2)
					_, done, err := h.s.Compact(b, &pb.CompactionRequest{Revision: rev})
					var werr error
					switch {
					case rev <= m.compactRev:
						werr = rpcerr.ErrCompacted
					case rev > m.rev:
						werr = rpcerr.ErrFutureRev
					default:
						m.compactRev = rev
					}
					if !sameErr(err, werr) {
						fail("compact %d: err %v, want %v", rev, err, werr)
					}
					if err == nil && done == nil {
						fail("compact without done channel")
					}
				}
			}
			if r.IntN(10) == 0 {
				b.Close()
				h.s.Aborted(b)
				*m = *before
			} else {
				if err := b.Commit(pebble.NoSync); err != nil {
					t.Fatal(err)
				}
				h.s.Committed(b)
				b.Close()
			}
			if h.s.Rev() != m.rev || h.s.CompactRev() != m.compactRev {
				fail("rev %d compact %d, want %d %d", h.s.Rev(), h.s.CompactRev(), m.rev, m.compactRev)
			}
		case k < 18: // reads
			for range 4 {
				req := g.randRangeReq(m)
				got, err := h.s.Range(context.Background(), req)
				want, werr := (&mtxn{m: m}).rangeReq(req)
				if !sameErr(err, werr) {
					fail("range %v: err %v, want %v", req, err, werr)
				}
				if err == nil {
					eqResp(fmt.Sprintf("range %v", req), got, want)
				}
			}
		case k < 19: // watch catch-up above the compacted revision, physical state
			lo := max(m.compactRev, 0) + 1
			from := lo + r.Int64N(m.rev+2-lo)
			evs, next, rev, err := h.s.Events(context.Background(), from, 0, 0, nil)
			if err != nil || next != m.rev+1 || rev != m.rev {
				fail("events from %d: next %d rev %d err %v", from, next, rev, err)
			}
			var want []string
			for _, e := range m.events {
				var rev int64
				fmt.Sscanf(e, "%d:", &rev)
				if rev >= from {
					want = append(want, e)
				}
			}
			if got := groupEvents(evs); !slices.Equal(got, want) {
				fail("events from %d\n got %v\nwant %v", from, got, want)
			}
			waitCompacted(h, m.compactRev)
			if got, want := h.physical(), m.expectedHistory(true, h.s.cfg.indirectBytes); !slices.Equal(got, want) {
				fail("physical state\n got %v\nwant %v", got, want)
			}
		default:
			h.reopen()
		}
	}

	// Everything compacted: the physical history is exactly what etcd keeps.
	waitCompacted(h, m.compactRev)
	if got, want := h.history(), m.expectedHistory(false, h.s.cfg.indirectBytes); !slices.Equal(got, want) {
		t.Errorf("seed %d history\n got %v\nwant %v", seed, got, want)
	}
	if got, want := h.physical(), m.expectedHistory(true, h.s.cfg.indirectBytes); !slices.Equal(got, want) {
		t.Errorf("seed %d physical state\n got %v\nwant %v", seed, got, want)
	}
	for _, e := range h.revs() {
		var rev int64
		fmt.Sscanf(e, "rev %d.", &rev)
		if rev < m.compactRev {
			t.Errorf("seed %d: revision entry %s below the compaction %d", seed, e, m.compactRev)
		}
	}
	// Events: what OnCommit delivered since the last reopen matches the
	// model, and Events from the compacted revision matches the model's
	// events from there.
	var mev []string
	for i, e := range m.events {
		var rev int64
		fmt.Sscanf(e, "%d:", &rev)
		switch {
		case rev > m.compactRev:
			mev = append(mev, e)
		case rev == m.compactRev:
			// Compaction keeps only the last write of a key at the
			// compacted revision (duplicate keys in a txn), as etcd.
			evs := strings.Split(strings.TrimPrefix(e, fmt.Sprintf("%d: ", rev)), "; ")
			keys := m.evKeys[i]
			var kept []string
			for j := range evs {
				if !slices.Contains(keys[j+1:], keys[j]) {
					kept = append(kept, evs[j])
				}
			}
			mev = append(mev, fmt.Sprintf("%d: %s", rev, strings.Join(kept, "; ")))
		}
	}
	evs, _, _, err := h.s.Events(context.Background(), max(m.compactRev, 1), 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := groupEvents(evs); !slices.Equal(got, mev) {
		t.Errorf("seed %d Events\n got %v\nwant %v", seed, got, mev)
	}
	var onCommit []string
	for _, c := range h.events {
		onCommit = append(onCommit, fmt.Sprintf("%d: %s", c.rev, fmtModelEvents(c.events)))
	}
	if len(onCommit) > len(m.events) || !slices.Equal(onCommit, m.events[len(m.events)-len(onCommit):]) {
		t.Errorf("seed %d OnCommit\n got %v\nwant suffix of %v", seed, onCommit, m.events)
	}
}

func fmtModelEvents(evs []*mvccpb.Event) string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		if ev.Type == mvccpb.Event_DELETE {
			s[i] = fmt.Sprintf("DELETE %s@%d", printable(ev.Kv.Key), ev.Kv.ModRevision)
		} else {
			kv := ev.Kv
			s[i] = fmt.Sprintf("PUT %s@%d{c=%d,v=%d,l=%d}=%s", printable(kv.Key), kv.ModRevision, kv.CreateRevision, kv.Version, kv.Lease, kv.Value)
		}
	}
	return strings.Join(s, "; ")
}

func groupEvents(evs []*mvccpb.Event) []string {
	var out []string
	for i := 0; i < len(evs); {
		j := i
		for j < len(evs) && evs[j].Kv.ModRevision == evs[i].Kv.ModRevision {
			j++
		}
		out = append(out, fmt.Sprintf("%d: %s", evs[i].Kv.ModRevision, fmtModelEvents(evs[i:j])))
		i = j
	}
	return out
}

// fmtResp prints a response for comparison (protobuf text, which prints
// nil and empty repeated fields alike).
func fmtResp(v any) string {
	switch r := v.(type) {
	case *pb.RangeResponse:
		return fmt.Sprintf("rev=%d count=%d more=%v [%s]", r.Header.Revision, r.Count, r.More, fmtKVs(r.Kvs))
	case *pb.PutResponse:
		return fmt.Sprintf("rev=%d prev=[%s]", r.Header.Revision, fmtKVs(nonNil(r.PrevKv)))
	case *pb.DeleteRangeResponse:
		return fmt.Sprintf("rev=%d deleted=%d prev=[%s]", r.Header.Revision, r.Deleted, fmtKVs(r.PrevKvs))
	case *pb.TxnResponse:
		s := make([]string, len(r.Responses))
		for i, op := range r.Responses {
			switch x := op.Response.(type) {
			case *pb.ResponseOp_ResponseRange:
				s[i] = fmtResp(x.ResponseRange)
			case *pb.ResponseOp_ResponsePut:
				s[i] = fmtResp(x.ResponsePut)
			case *pb.ResponseOp_ResponseDeleteRange:
				s[i] = fmtResp(x.ResponseDeleteRange)
			}
		}
		return fmt.Sprintf("rev=%d ok=%v {%s}", r.Header.Revision, r.Succeeded, strings.Join(s, ", "))
	}
	return fmt.Sprintf("%v", v)
}
