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

// TestKeyFilterSkipsLookups: puts of new keys do not look up a previous
// version, and the filter, loaded at open, still sends puts of existing keys
// to it.
func TestKeyFilterSkipsLookups(t *testing.T) {
	h := newHarness(t)
	before := h.s.ap.lookups
	for i := range 200 {
		h.put(fmt.Sprintf("k%03d", i), "v")
	}
	if n := h.s.ap.lookups - before; n > 20 {
		t.Errorf("200 puts of new keys made %d lookups", n)
	}
	h.reopen()
	resp := h.putReq(&pb.PutRequest{Key: []byte("k007"), Value: []byte("w"), PrevKv: true})
	if resp.PrevKv == nil || resp.PrevKv.Version != 1 {
		t.Fatalf("put of an existing key after reopen: prev_kv %v", resp.PrevKv)
	}
	if got := h.get("k007", 0); got != "k007@202{c=9,v=2}=w" {
		t.Errorf("after reopen: %s", got)
	}
}
