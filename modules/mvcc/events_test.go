package mvcc

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

func TestEvents(t *testing.T) {
	h := newHarness(t)
	h.put("a", "1")                                                                                          // 2
	if _, err := h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{put("b", "1"), put("c", "1")}}); err != nil { // 3
		t.Fatal(err)
	}
	h.del("a", "")  // 4
	h.put("b", "2") // 5
	const all = "PUT a@2{c=2,v=1}=1; PUT b@3{c=3,v=1}=1; PUT c@3{c=3,v=1}=1; DELETE a@4{c=0,v=0}; PUT b@5{c=3,v=2}=2"

	// OnCommit delivered the same events, one call per write txn.
	var committed []*mvccpb.Event
	var revs []int64
	for _, c := range h.events {
		committed = append(committed, c.events...)
		revs = append(revs, c.rev)
	}
	if got := fmtEvents(committed); got != all || !slices.Equal(revs, []int64{2, 3, 4, 5}) {
		t.Errorf("OnCommit: %s %v", got, revs)
	}

	onlyB := func(k []byte) bool { return bytes.Equal(k, []byte("b")) }
	tests := []struct {
		name   string
		from   int64
		max    int
		bytes  int
		filter func([]byte) bool
		want   string
		next   int64
	}{
		{name: "all", from: 1, want: all, next: 6},
		{name: "from 0", from: 0, want: all, next: 6},
		{name: "from 4", from: 4, want: "DELETE a@4{c=0,v=0}; PUT b@5{c=3,v=2}=2", next: 6},
		{name: "max does not split a revision", from: 3, max: 1, want: "PUT b@3{c=3,v=1}=1; PUT c@3{c=3,v=1}=1", next: 4},
		{name: "max 2", from: 2, max: 2, want: "PUT a@2{c=2,v=1}=1; PUT b@3{c=3,v=1}=1; PUT c@3{c=3,v=1}=1", next: 4},
		{name: "max exact", from: 4, max: 1, want: "DELETE a@4{c=0,v=0}", next: 5},
		{name: "bytes do not split a revision", from: 2, bytes: 3, want: "PUT a@2{c=2,v=1}=1; PUT b@3{c=3,v=1}=1; PUT c@3{c=3,v=1}=1", next: 4},
		{name: "bytes below one revision", from: 3, bytes: 1, want: "PUT b@3{c=3,v=1}=1; PUT c@3{c=3,v=1}=1", next: 4},
		{name: "bytes count deletes by key", from: 4, bytes: 1, want: "DELETE a@4{c=0,v=0}", next: 5},
		{name: "future", from: 6, want: "", next: 6},
		{name: "filter", from: 1, filter: onlyB, want: "PUT b@3{c=3,v=1}=1; PUT b@5{c=3,v=2}=2", next: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, next, rev, err := h.s.Events(context.Background(), tt.from, tt.max, tt.bytes, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmtEvents(evs); got != tt.want || next != tt.next || rev != 5 {
				t.Errorf("got %s next %d rev %d, want %s next %d", got, next, rev, tt.want, tt.next)
			}
		})
	}

	// After compaction to 4 watchers may start at 4 (the tombstone at 4 is
	// kept, as etcd), not below.
	h.compactWait(4)
	if _, _, _, err := h.s.Events(context.Background(), 3, 0, 0, nil); !errors.Is(err, rpcerr.ErrCompacted) {
		t.Errorf("events below compaction: %v", err)
	}
	evs, next, _, err := h.s.Events(context.Background(), 4, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtEvents(evs); got != "DELETE a@4{c=0,v=0}; PUT b@5{c=3,v=2}=2" || next != 6 {
		t.Errorf("events from the compacted revision: %s next %d", got, next)
	}
}

func TestLeaseIndex(t *testing.T) {
	h := newHarness(t)
	h.leases[1], h.leases[2] = true, true
	leaseKeys := func(id int64) string {
		t.Helper()
		keys, err := h.s.LeaseKeys(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return string(bytes.Join(keys, []byte(" ")))
	}
	for _, kl := range []struct {
		k string
		l int64
	}{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 2}, {"e", 0}} {
		h.putReq(&pb.PutRequest{Key: []byte(kl.k), Value: []byte("v"), Lease: kl.l})
	}
	h.putReq(&pb.PutRequest{Key: []byte("c"), Value: []byte("v2"), Lease: 2})          // moves c to lease 2
	h.putReq(&pb.PutRequest{Key: []byte("d"), Value: []byte("v2"), IgnoreLease: true}) // keeps lease 2
	h.putReq(&pb.PutRequest{Key: []byte("b"), Value: []byte("v2")})                    // detaches b
	h.del("a", "")
	if got := leaseKeys(1); got != "" {
		t.Errorf("lease 1: %q", got)
	}
	h.putReq(&pb.PutRequest{Key: []byte("a"), Value: []byte("v"), Lease: 1})
	if got, got2 := leaseKeys(1), leaseKeys(2); got != "a" || got2 != "c d" {
		t.Errorf("lease keys %q %q", got, got2)
	}
	rev := h.s.Rev()
	var deleted, newRev int64
	h.batch(func(b *pebble.Batch) {
		var err error
		if deleted, newRev, err = h.s.RevokeLease(b, 2); err != nil {
			t.Fatal(err)
		}
	})
	if deleted != 2 || newRev != rev+1 || h.s.Rev() != rev+1 {
		t.Errorf("revoke: deleted %d rev %d", deleted, newRev)
	}
	last := h.events[len(h.events)-1]
	if got := fmtEvents(last.events); got != "DELETE c@12{c=0,v=0}; DELETE d@12{c=0,v=0}" {
		t.Errorf("revoke events %s", got)
	}
	if got := leaseKeys(2); got != "" {
		t.Errorf("lease 2 after revoke: %q", got)
	}
	// The revoked versions moved from the live keyspace into history.
	if got := fmtKVs(h.rng(&pb.RangeRequest{Key: []byte("c"), RangeEnd: []byte("e"), Revision: rev}).Kvs); got != "c@7{c=4,v=2,l=2}=v2 d@8{c=5,v=2,l=2}=v2" {
		t.Errorf("revoked keys before the revocation: %s", got)
	}
	if got := keysOf(h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}).Kvs); got != "a b e" {
		t.Errorf("keys after revoke %q", got)
	}
	// Revoking a lease without keys writes nothing.
	h.batch(func(b *pebble.Batch) {
		if n, r, err := h.s.RevokeLease(b, 1234); n != 0 || r != rev+1 || err != nil {
			t.Errorf("empty revoke: %d %d %v", n, r, err)
		}
	})
	if got := h.scan([]byte{prefixLease}, []byte{prefixLease + 1}); !slices.Equal(got, []string{"lease 1 a"}) {
		t.Errorf("lease keyspace %v", got)
	}
}

// TestEventsScanBound checks that a filtered read far behind stops after
// scanPerEvent × maxEvents revisions even when it found nothing, and that
// reading on from next reaches every event.
func TestEventsScanBound(t *testing.T) {
	h := newHarness(t)
	const others = 3 * scanPerEvent
	for range others {
		h.put("x", "v") // revisions 2 .. others+1
	}
	h.put("y", "1") // others+2
	onlyY := func(k []byte) bool { return bytes.Equal(k, []byte("y")) }

	evs, next, _, err := h.s.Events(context.Background(), 1, 1, 0, onlyY)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 0 || next != scanPerEvent+2 {
		t.Fatalf("first read: %s next %d, want nothing and next %d", fmtEvents(evs), next, scanPerEvent+2)
	}
	var got []*mvccpb.Event
	calls := 1
	for next <= h.s.Rev() {
		evs, next, _, err = h.s.Events(context.Background(), next, 1, 0, onlyY)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, evs...)
		calls++
	}
	if fmtEvents(got) != "PUT y@194{c=194,v=1}=1" || calls != 4 {
		t.Errorf("read on: %s in %d calls, want y's put in 4", fmtEvents(got), calls)
	}
}
