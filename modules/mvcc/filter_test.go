package mvcc

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// TestKeyFilter: no key added is ever reported absent, across the growth
// into new parts, and few keys not added are reported present.
func TestKeyFilter(t *testing.T) {
	f, err := loadKeyFilter(newHarness(t).db, maphash.MakeSeed(), filterFirstKeys, nil) // empty
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
	// A txn's ignore_value put of a new key: ErrKeyNotFound, from the filter.
	before = h.s.ap.filtered
	_, err := h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{
		RequestPut: &pb.PutRequest{Key: []byte("new2"), IgnoreValue: true}}}}})
	if !errors.Is(err, rpcerr.ErrKeyNotFound) {
		t.Errorf("txn put with ignore_value of a new key: %v", err)
	}
	if h.s.ap.filtered == before {
		t.Error("txn put with ignore_value of a new key: no lookup spared")
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

// TestKeyFilterRebuild: the filter is built in the background at open (until
// then it holds every key), and rebuilt once enough keys were added; keys put
// while a build scanned are in the new filter too, so a put of any live key
// finds it.
func TestKeyFilterRebuild(t *testing.T) {
	h := newHarnessCfg(t, Config{filterRebuildMin: 100})
	for i := range 50 {
		h.put(fmt.Sprintf("o%03d", i), "v")
	}
	scanned, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseBuild := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseBuild) // before the harness's Close, which waits for it
	var first atomic.Bool
	h.cfg.afterFilterScan = func() {
		if first.CompareAndSwap(false, true) { // hold the build at open
			scanned <- struct{}{}
			<-release
		}
	}
	h.reopen()
	<-scanned
	if !h.s.ap.filter.all {
		t.Fatal("before its first build, the filter does not hold every key")
	}
	if resp := h.putReq(&pb.PutRequest{Key: []byte("o000"), Value: []byte("w"), PrevKv: true}); resp.PrevKv == nil {
		t.Fatal("a put before the first build missed its key's previous version")
	}
	for i := range 50 { // while the build is held: into its filter as well
		h.put(fmt.Sprintf("b%03d", i), "v")
	}
	// awaitSwap waits until a filter other than old is in: the batch after
	// a build hands its filter over swaps it in.
	awaitSwap := func(what string, old *keyFilter) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); h.s.ap.filter == old; {
			if r := h.s.ap.rebuild; r != nil && len(r.done) > 0 {
				h.put("c", "v")
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no filter handed over", what)
			}
			time.Sleep(time.Millisecond)
		}
		if f := h.s.ap.filter; f.all || f.pending != nil || h.s.ap.rebuild != nil {
			t.Fatalf("%s: all %v, pending %v, rebuild %v after the swap", what, f.all, f.pending != nil, h.s.ap.rebuild != nil)
		}
	}
	h.put("c", "v")
	old := h.s.ap.filter
	releaseBuild()
	awaitSwap("the build at open", old)
	check := func(keys ...string) {
		t.Helper()
		for _, k := range keys {
			if !h.s.ap.filter.mayContain([]byte(k)) {
				t.Errorf("live key %s missing from the filter", k)
			}
			if resp := h.putReq(&pb.PutRequest{Key: []byte(k), Value: []byte("w"), PrevKv: true}); resp.PrevKv == nil {
				t.Errorf("put of live key %s found no previous version", k)
			}
		}
	}
	check("o001", "o049", "b000", "b049", "c")
	// 200 more keys make a rebuild due (at 2 × 101 added, the keys it was
	// built with); the puts go on while it scans.
	old = h.s.ap.filter
	for i := range 200 {
		h.put(fmt.Sprintf("d%03d", i), "v")
		if h.s.ap.rebuild != nil || h.s.ap.filter != old {
			break
		}
	}
	if h.s.ap.rebuild == nil && h.s.ap.filter == old {
		t.Fatal("no rebuild after 200 added keys")
	}
	h.put("e", "v")
	awaitSwap("the rebuild", old)
	check("o002", "b001", "d000", "e")
}
