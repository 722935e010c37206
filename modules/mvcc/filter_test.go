package mvcc

import (
	"fmt"
	"testing"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
)

// TestKeyFilter: no key added is ever reported absent, across the growth
// into new parts, and few keys not added are reported present.
func TestKeyFilter(t *testing.T) {
	f, err := loadKeyFilter(newHarness(t).db) // empty
	if err != nil {
		t.Fatal(err)
	}
	const n = 5 * filterFirstKeys
	for i := range n {
		f.add(fmt.Appendf(nil, "key-%d", i))
	}
	if len(f.parts) != 3 { // 64Ki, 128Ki and 256Ki keys
		t.Errorf("%d parts for %d keys, want 3", len(f.parts), n)
	}
	for i := range n {
		if !f.mayContain(fmt.Appendf(nil, "key-%d", i)) {
			t.Fatalf("key-%d added, reported absent", i)
		}
	}
	present := 0
	for i := range 100_000 {
		if f.mayContain(fmt.Appendf(nil, "other-%d", i)) {
			present++
		}
	}
	if present > 2_000 {
		t.Errorf("%d of 100,000 keys never added reported present", present)
	}
}

// TestKeyFilterSkipsLookups: puts of new keys and compares on them (a
// create's txn) do not look the key up, and the filter, loaded at open, still
// sends puts and compares of existing keys to the lookup.
func TestKeyFilterSkipsLookups(t *testing.T) {
	h := newHarness(t)
	for i := range 200 {
		h.put(fmt.Sprintf("k%03d", i), "v")
	}
	if n := h.s.ap.filtered; n < 180 {
		t.Errorf("200 puts of new keys: %d lookups spared", n)
	}
	// Kubernetes' create: if mod_revision(key) == 0 then put.
	create := func(key string) *pb.TxnResponse {
		t.Helper()
		resp, err := h.txn(&pb.TxnRequest{
			Compare: []*pb.Compare{{Key: []byte(key), Target: pb.Compare_MOD, Result: pb.Compare_EQUAL,
				TargetUnion: &pb.Compare_ModRevision{ModRevision: 0}}},
			Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(key), Value: []byte("c")}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	before := h.s.ap.filtered
	if !create("new").Succeeded {
		t.Error("create of a new key failed its compare")
	}
	if n := h.s.ap.filtered - before; n != 2 { // the compare and the put
		t.Errorf("create of a new key: %d lookups spared, want 2", n)
	}
	h.reopen()
	before = h.s.ap.filtered
	if create("k007").Succeeded {
		t.Error("create of an existing key after reopen succeeded")
	}
	resp := h.putReq(&pb.PutRequest{Key: []byte("k007"), Value: []byte("w"), PrevKv: true})
	if resp.PrevKv == nil || resp.PrevKv.Version != 1 {
		t.Fatalf("put of an existing key after reopen: prev_kv %v", resp.PrevKv)
	}
	if got := h.get("k007", 0); got != "k007@203{c=9,v=2}=w" {
		t.Errorf("after reopen: %s", got)
	}
	if h.s.ap.filtered != before {
		t.Error("a lookup of an existing key was spared")
	}
}
