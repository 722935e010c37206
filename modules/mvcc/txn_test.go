package mvcc

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

func cmpVersion(key string, res pb.Compare_CompareResult, v int64) *pb.Compare {
	return &pb.Compare{Key: []byte(key), Target: pb.Compare_VERSION, Result: res, TargetUnion: &pb.Compare_Version{Version: v}}
}

func TestTxnCompare(t *testing.T) {
	h := newHarness(t)
	h.leases[7] = true
	h.put("k1", "v1")
	h.putReq(&pb.PutRequest{Key: []byte("k1"), Value: []byte("v2"), Lease: 7}) // k1: c=2 m=3 v=2 l=7 "v2"
	h.put("k2", "x")                                                           // k2: c=4 m=4 v=1 "x"
	const (
		eq = pb.Compare_EQUAL
		gt = pb.Compare_GREATER
		lt = pb.Compare_LESS
		ne = pb.Compare_NOT_EQUAL
	)
	ver := func(k string, r pb.Compare_CompareResult, v int64) *pb.Compare { return cmpVersion(k, r, v) }
	create := func(k string, r pb.Compare_CompareResult, v int64) *pb.Compare {
		return &pb.Compare{Key: []byte(k), Target: pb.Compare_CREATE, Result: r, TargetUnion: &pb.Compare_CreateRevision{CreateRevision: v}}
	}
	mod := func(k string, r pb.Compare_CompareResult, v int64) *pb.Compare {
		return &pb.Compare{Key: []byte(k), Target: pb.Compare_MOD, Result: r, TargetUnion: &pb.Compare_ModRevision{ModRevision: v}}
	}
	val := func(k string, r pb.Compare_CompareResult, v string) *pb.Compare {
		return &pb.Compare{Key: []byte(k), Target: pb.Compare_VALUE, Result: r, TargetUnion: &pb.Compare_Value{Value: []byte(v)}}
	}
	lease := func(k string, r pb.Compare_CompareResult, v int64) *pb.Compare {
		return &pb.Compare{Key: []byte(k), Target: pb.Compare_LEASE, Result: r, TargetUnion: &pb.Compare_Lease{Lease: v}}
	}
	withEnd := func(c *pb.Compare, end string) *pb.Compare { c.RangeEnd = []byte(end); return c }
	tests := []struct {
		name string
		cmps []*pb.Compare
		want bool
	}{
		{"version equal", []*pb.Compare{ver("k1", eq, 2)}, true},
		{"version greater", []*pb.Compare{ver("k1", gt, 1)}, true},
		{"version greater false", []*pb.Compare{ver("k1", gt, 2)}, false},
		{"version less", []*pb.Compare{ver("k1", lt, 3)}, true},
		{"version less false", []*pb.Compare{ver("k1", lt, 2)}, false},
		{"version not equal", []*pb.Compare{ver("k1", ne, 2)}, false},
		{"create equal", []*pb.Compare{create("k1", eq, 2)}, true},
		{"create greater", []*pb.Compare{create("k1", gt, 2)}, false},
		{"create less", []*pb.Compare{create("k1", lt, 3)}, true},
		{"create not equal", []*pb.Compare{create("k1", ne, 3)}, true},
		{"mod equal", []*pb.Compare{mod("k1", eq, 3)}, true},
		{"mod less", []*pb.Compare{mod("k1", lt, 3)}, false},
		{"mod greater", []*pb.Compare{mod("k1", gt, 2)}, true},
		{"mod not equal", []*pb.Compare{mod("k1", ne, 3)}, false},
		{"value equal", []*pb.Compare{val("k1", eq, "v2")}, true},
		{"value greater", []*pb.Compare{val("k1", gt, "v1")}, true},
		{"value less", []*pb.Compare{val("k1", lt, "v3")}, true},
		{"value less false", []*pb.Compare{val("k1", lt, "v2")}, false},
		{"value not equal", []*pb.Compare{val("k1", ne, "v2")}, false},
		{"lease equal", []*pb.Compare{lease("k1", eq, 7)}, true},
		{"lease equal zero", []*pb.Compare{lease("k1", eq, 0)}, false},
		{"lease greater", []*pb.Compare{lease("k1", gt, 6)}, true},
		{"lease less", []*pb.Compare{lease("k2", lt, 1)}, true},
		{"lease not equal", []*pb.Compare{lease("k2", ne, 0)}, false},
		// A missing key compares as the zero KeyValue, except on VALUE, which fails.
		{"missing version 0", []*pb.Compare{ver("nope", eq, 0)}, true},
		{"missing create 0", []*pb.Compare{create("nope", eq, 0)}, true},
		{"missing mod greater", []*pb.Compare{mod("nope", gt, 0)}, false},
		{"missing lease 0", []*pb.Compare{lease("nope", eq, 0)}, true},
		{"missing value empty", []*pb.Compare{val("nope", eq, "")}, false},
		{"missing value not equal", []*pb.Compare{val("nope", ne, "x")}, false},
		// With range_end every key of the range must satisfy the compare.
		{"range all satisfy", []*pb.Compare{withEnd(mod("k1", gt, 2), "k3")}, true},
		{"range one fails", []*pb.Compare{withEnd(mod("k1", lt, 4), "k3")}, false},
		{"range empty version", []*pb.Compare{withEnd(ver("x", eq, 0), "z")}, true},
		{"range empty value", []*pb.Compare{withEnd(val("x", ne, "q"), "z")}, false},
		{"range from key", []*pb.Compare{withEnd(ver("k", gt, 0), "\x00")}, true},
		{"range from key value", []*pb.Compare{withEnd(val("k2", eq, "x"), "\x00")}, true},
		{"range prefix value", []*pb.Compare{withEnd(val("k", eq, "x"), "l")}, false},
		// All compares must hold.
		{"conjunction", []*pb.Compare{ver("k1", eq, 2), mod("k2", eq, 4)}, true},
		{"conjunction fails", []*pb.Compare{ver("k1", eq, 2), mod("k2", eq, 5)}, false},
		{"no compares", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.txn(&pb.TxnRequest{Compare: tt.cmps,
				Success: []*pb.RequestOp{rangeOp(&pb.RangeRequest{Key: []byte("k1")})},
				Failure: []*pb.RequestOp{rangeOp(&pb.RangeRequest{Key: []byte("k2")}), rangeOp(&pb.RangeRequest{Key: []byte("k2")})},
			})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Succeeded != tt.want {
				t.Errorf("succeeded = %v, want %v", resp.Succeeded, tt.want)
			}
			if n := len(resp.Responses); (n == 1) != tt.want {
				t.Errorf("%d responses: wrong branch", n)
			}
			if resp.Header.Revision != 4 || h.s.Rev() != 4 {
				t.Errorf("read-only txn: header %d rev %d, want 4", resp.Header.Revision, h.s.Rev())
			}
		})
	}
}

func TestTxnReadYourWrites(t *testing.T) {
	h := newHarness(t)
	h.put("a", "0") // rev 2
	resp, err := h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{
		rangeOp(&pb.RangeRequest{Key: []byte("a")}), // 0: before any write
		put("a", "1"), // 1
		rangeOp(&pb.RangeRequest{Key: []byte("a")}),              // 2: sees the put
		rangeOp(&pb.RangeRequest{Key: []byte("a"), Revision: 2}), // 3: the revision before the txn
		put("b", "2"), // 4
		rangeOp(&pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("c"), Limit: 1}), // 5
		delOp("a", ""), // 6
		rangeOp(&pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("c")}),                  // 7
		rangeOp(&pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("c"), CountOnly: true}), // 8
	}})
	if err != nil {
		t.Fatal(err)
	}
	rr := func(i int) *pb.RangeResponse { return resp.Responses[i].GetResponseRange() }
	tests := []struct {
		i      int
		kvs    string
		count  int64
		header int64
	}{
		{0, "a@2{c=2,v=1}=0", 1, 2},
		{2, "a@3{c=2,v=2}=1", 1, 3},
		{3, "a@2{c=2,v=1}=0", 1, 3},
		{5, "a@3{c=2,v=2}=1", 2, 3},
		{7, "b@3{c=3,v=1}=2", 1, 3},
		{8, "", 1, 3},
	}
	for _, tt := range tests {
		if got := fmtKVs(rr(tt.i).Kvs); got != tt.kvs || rr(tt.i).Count != tt.count || rr(tt.i).Header.Revision != tt.header {
			t.Errorf("response %d: %s count %d header %d, want %s %d %d", tt.i, got, rr(tt.i).Count, rr(tt.i).Header.Revision, tt.kvs, tt.count, tt.header)
		}
	}
	if !rr(5).More {
		t.Errorf("response 5: more = false")
	}
	if d := resp.Responses[6].GetResponseDeleteRange(); d.Deleted != 1 || d.Header.Revision != 3 {
		t.Errorf("delete %v", d)
	}
	if p := resp.Responses[1].GetResponsePut(); p.Header.Revision != 3 {
		t.Errorf("put header %d", p.Header.Revision)
	}
	if resp.Header.Revision != 3 {
		t.Errorf("txn header %d", resp.Header.Revision)
	}
	// All writes share revision 3, with sub-revisions in order.
	want := []string{"rev 2.0 put a", "rev 3.0 put a", "rev 3.1 put b", "rev 3.2 del a"}
	if got := h.revs(); !slices.Equal(got, want) {
		t.Errorf("revision keyspace %v, want %v", got, want)
	}
	last := h.events[len(h.events)-1]
	if last.rev != 3 || fmtEvents(last.events) != "PUT a@3{c=2,v=2}=1; PUT b@3{c=3,v=1}=2; DELETE a@3{c=0,v=0}" {
		t.Errorf("events %d %s", last.rev, fmtEvents(last.events))
	}
}

func TestTxnNested(t *testing.T) {
	h := newHarness(t)
	h.put("k1", "v") // rev 2
	// Nested compares are evaluated before any write of the txn (etcd's
	// compareToPath): the inner compare does not see the outer put of "a".
	inner := &pb.TxnRequest{
		Compare: []*pb.Compare{cmpVersion("a", pb.Compare_EQUAL, 1)},
		Success: []*pb.RequestOp{put("b", "1")},
		Failure: []*pb.RequestOp{put("c", "1"), rangeOp(&pb.RangeRequest{Key: []byte("a")})},
	}
	inner2 := &pb.TxnRequest{
		Compare: []*pb.Compare{cmpVersion("k1", pb.Compare_EQUAL, 1)},
		Success: []*pb.RequestOp{rangeOp(&pb.RangeRequest{Key: []byte("c")})},
	}
	resp, err := h.txn(&pb.TxnRequest{
		Compare: []*pb.Compare{cmpVersion("k1", pb.Compare_EQUAL, 1)},
		Success: []*pb.RequestOp{put("a", "1"), txnOp(inner), txnOp(inner2), rangeOp(&pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("d")})},
		Failure: []*pb.RequestOp{put("never", "1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Succeeded || len(resp.Responses) != 4 {
		t.Fatalf("outer %v", resp)
	}
	in := resp.Responses[1].GetResponseTxn()
	if in.Succeeded || len(in.Responses) != 2 {
		t.Fatalf("inner txn %v", in)
	}
	if in.Header == nil || in.Header.Revision != 0 {
		t.Errorf("nested txn header %v, want empty (as etcd)", in.Header)
	}
	if got := fmtKVs(in.Responses[1].GetResponseRange().Kvs); got != "a@3{c=3,v=1}=1" {
		t.Errorf("inner range %s", got)
	}
	in2 := resp.Responses[2].GetResponseTxn()
	if !in2.Succeeded || fmtKVs(in2.Responses[0].GetResponseRange().Kvs) != "c@3{c=3,v=1}=1" {
		t.Errorf("second inner txn %v", in2)
	}
	if got := keysOf(resp.Responses[3].GetResponseRange().Kvs); got != "a c" {
		t.Errorf("outer range %q", got)
	}
	if resp.Header.Revision != 3 || h.s.Rev() != 3 {
		t.Errorf("revision %d %d", resp.Header.Revision, h.s.Rev())
	}
	if got := h.revs(); !slices.Equal(got, []string{"rev 2.0 put k1", "rev 3.0 put a", "rev 3.1 put c"}) {
		t.Errorf("revs %v", got)
	}
}

func TestTxnNoWrite(t *testing.T) {
	h := newHarness(t)
	h.put("a", "1")
	nev := len(h.events)
	tests := []struct {
		name string
		req  *pb.TxnRequest
	}{
		{"empty", &pb.TxnRequest{}},
		{"ranges", &pb.TxnRequest{Success: []*pb.RequestOp{rangeOp(&pb.RangeRequest{Key: []byte("a")})}}},
		{"delete nothing", &pb.TxnRequest{Success: []*pb.RequestOp{delOp("zz", "")}}},
		{"failure branch empty", &pb.TxnRequest{Compare: []*pb.Compare{cmpVersion("a", pb.Compare_EQUAL, 9)}, Success: []*pb.RequestOp{put("b", "1")}}},
		{"empty ops", &pb.TxnRequest{Success: []*pb.RequestOp{{}, nil, {Request: &pb.RequestOp_RequestTxn{}}, {Request: &pb.RequestOp_RequestPut{}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.txn(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Header.Revision != 2 || h.s.Rev() != 2 || len(h.events) != nev {
				t.Errorf("header %d rev %d events %d: a txn without writes moved the revision", resp.Header.Revision, h.s.Rev(), len(h.events)-nev)
			}
		})
	}
	if got := h.revs(); !slices.Equal(got, []string{"rev 2.0 put a"}) {
		t.Errorf("revs %v", got)
	}
}

// TestTxnChecks: every check of the chosen path happens before any write;
// a failing txn writes nothing and does not advance the revision.
func TestTxnChecks(t *testing.T) {
	ignore := func(k string) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k), IgnoreValue: true}}}
	}
	leased := func(k string, l int64) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k), Lease: l}}}
	}
	tests := []struct {
		name string
		req  *pb.TxnRequest
		want error
	}{
		{"future range after a put", &pb.TxnRequest{Success: []*pb.RequestOp{put("x", "1"), rangeOp(&pb.RangeRequest{Key: []byte("a"), Revision: 4})}}, rpcerr.ErrFutureRev},
		{"compacted range", &pb.TxnRequest{Success: []*pb.RequestOp{put("x", "1"), rangeOp(&pb.RangeRequest{Key: []byte("a"), Revision: 1})}}, rpcerr.ErrCompacted},
		{"range at compacted revision", &pb.TxnRequest{Success: []*pb.RequestOp{put("x", "1"), rangeOp(&pb.RangeRequest{Key: []byte("a"), Revision: 2})}}, nil},
		{"ignore value missing", &pb.TxnRequest{Success: []*pb.RequestOp{put("x", "1"), ignore("nope")}}, rpcerr.ErrKeyNotFound},
		{"ignore value existing", &pb.TxnRequest{Success: []*pb.RequestOp{put("x", "1"), ignore("a")}}, nil},
		{"ignore value after delete in txn", &pb.TxnRequest{Success: []*pb.RequestOp{delOp("a", "b"), ignore("a")}}, rpcerr.ErrKeyNotFound},
		{"ignore value after delete and put", &pb.TxnRequest{Success: []*pb.RequestOp{delOp("a", ""), put("a", "2"), ignore("a")}}, nil},
		{"ignore value of key created in txn", &pb.TxnRequest{Success: []*pb.RequestOp{put("n", "1"), ignore("n")}}, rpcerr.ErrKeyNotFound},
		{"ignore value after nested delete", &pb.TxnRequest{Success: []*pb.RequestOp{txnOp(&pb.TxnRequest{Success: []*pb.RequestOp{delOp("\x00", "\x00")}}), ignore("a")}}, rpcerr.ErrKeyNotFound},
		{"lease missing", &pb.TxnRequest{Success: []*pb.RequestOp{put("x", "1"), leased("y", 42)}}, rpcerr.ErrLeaseNotFound},
		{"lease granted", &pb.TxnRequest{Success: []*pb.RequestOp{leased("y", 5)}}, nil},
		{"nested failure", &pb.TxnRequest{Success: []*pb.RequestOp{put("x", "1"), txnOp(&pb.TxnRequest{
			Compare: []*pb.Compare{cmpVersion("a", pb.Compare_EQUAL, 0)}, Failure: []*pb.RequestOp{leased("y", 42)}})}}, rpcerr.ErrLeaseNotFound},
		{"other branch not checked", &pb.TxnRequest{Success: []*pb.RequestOp{put("x", "1")}, Failure: []*pb.RequestOp{leased("y", 42), ignore("nope")}}, nil},
		{"nested other branch not checked", &pb.TxnRequest{Success: []*pb.RequestOp{txnOp(&pb.TxnRequest{
			Compare: []*pb.Compare{cmpVersion("a", pb.Compare_EQUAL, 1)}, Success: []*pb.RequestOp{put("x", "1")}, Failure: []*pb.RequestOp{leased("y", 42)}})}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.leases[5] = true
			h.put("a", "1") // rev 2
			h.put("b", "1") // rev 3
			h.compactWait(2)
			hist, revs := h.history(), h.revs()
			resp, err := h.txn(tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil {
				if resp.Header.Revision != 4 {
					t.Errorf("header %d", resp.Header.Revision)
				}
				return
			}
			if h.s.Rev() != 3 {
				t.Errorf("failed txn advanced the revision to %d", h.s.Rev())
			}
			if got := h.history(); !slices.Equal(got, hist) {
				t.Errorf("failed txn wrote history %v", got)
			}
			if got := h.revs(); !slices.Equal(got, revs) {
				t.Errorf("failed txn wrote revisions %v", got)
			}
		})
	}
}

func TestReadTxn(t *testing.T) {
	h := newHarness(t)
	h.put("a", "1")
	h.put("b", "2")
	resp, err := h.s.ReadTxn(context.Background(), &pb.TxnRequest{
		Compare: []*pb.Compare{cmpVersion("a", pb.Compare_EQUAL, 1)},
		Success: []*pb.RequestOp{rangeOp(&pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("c")}), rangeOp(&pb.RangeRequest{Key: []byte("a"), Revision: 2})},
		Failure: []*pb.RequestOp{rangeOp(&pb.RangeRequest{Key: []byte("b")})},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Succeeded || resp.Header.Revision != 3 || keysOf(resp.Responses[0].GetResponseRange().Kvs) != "a b" ||
		keysOf(resp.Responses[1].GetResponseRange().Kvs) != "a" {
		t.Errorf("read txn %v", resp)
	}
	if _, err := h.s.ReadTxn(context.Background(), &pb.TxnRequest{Failure: []*pb.RequestOp{put("x", "1")}}); !errors.Is(err, errNotReadOnly) {
		t.Errorf("ReadTxn with a put: %v", err)
	}
	if _, err := h.s.ReadTxn(context.Background(), &pb.TxnRequest{Success: []*pb.RequestOp{rangeOp(&pb.RangeRequest{Key: []byte("a"), Revision: 9})}}); !errors.Is(err, rpcerr.ErrFutureRev) {
		t.Errorf("ReadTxn future: %v", err)
	}
	if !IsTxnReadOnly(&pb.TxnRequest{}) || IsTxnReadOnly(&pb.TxnRequest{Success: []*pb.RequestOp{txnOp(&pb.TxnRequest{})}}) {
		t.Errorf("IsTxnReadOnly")
	}
}

// TestTxnEventsAndPrevKV checks a txn's put with prev_kv sees the txn's own
// earlier write.
func TestTxnPrevKVSeesOwnWrite(t *testing.T) {
	h := newHarness(t)
	var resp *pb.TxnResponse
	h.batch(func(b *pebble.Batch) {
		var err error
		resp, err = h.s.Txn(b, &pb.TxnRequest{Success: []*pb.RequestOp{
			put("a", "1"),
			{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("a"), Value: []byte("2"), PrevKv: true}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
	})
	if got := fmtKVs(nonNil(resp.Responses[1].GetResponsePut().PrevKv)); got != "a@2{c=2,v=1}=1" {
		t.Errorf("prev kv %s", got)
	}
	if got := h.get("a", 0); got != "a@2{c=2,v=2}=2" {
		t.Errorf("a = %s", got)
	}
}
