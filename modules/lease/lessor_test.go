package lease

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

func TestGrant(t *testing.T) {
	h := newHarness(t, Config{MinTTL: 2})
	h.mustGrant(7, 60)
	for _, tt := range []struct {
		name    string
		id, ttl int64
		wantTTL int64
		wantErr error
	}{
		{name: "ttl kept", id: 1, ttl: 10, wantTTL: 10},
		{name: "below min raised", id: 2, ttl: 1, wantTTL: 2},
		{name: "zero raised", id: 3, ttl: 0, wantTTL: 2},
		{name: "negative raised", id: 4, ttl: -5, wantTTL: 2},
		{name: "negative id", id: -9, ttl: 10, wantTTL: 10},
		{name: "max ttl", id: 5, ttl: MaxLeaseTTL, wantTTL: MaxLeaseTTL},
		{name: "ttl too large", id: 6, ttl: MaxLeaseTTL + 1, wantErr: rpcerr.ErrLeaseTTLTooLarge},
		{name: "id 0", id: 0, ttl: 10, wantErr: rpcerr.ErrLeaseNotFound},
		{name: "duplicate", id: 7, ttl: 10, wantErr: rpcerr.ErrLeaseExist},
		// etcd checks the TTL before the duplicate.
		{name: "duplicate ttl too large", id: 7, ttl: MaxLeaseTTL + 1, wantErr: rpcerr.ErrLeaseTTLTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.apply1(grantReq(tt.id, tt.ttl))
			if !errors.Is(r.Err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", r.Err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			resp := r.Resp.(*pb.LeaseGrantResponse)
			if resp.ID != tt.id || resp.TTL != tt.wantTTL {
				t.Errorf("granted %d ttl %d, want %d ttl %d", resp.ID, resp.TTL, tt.id, tt.wantTTL)
			}
			if st, ok := h.l.Lookup(tt.id); !ok || st.GrantedTTL != tt.wantTTL {
				t.Errorf("Lookup = %+v %v", st, ok)
			}
		})
	}
}

// Within one apply round, later entries see the earlier ones' leases, and a
// failed round (Aborted) leaves nothing behind.
func TestApplyRoundVisibility(t *testing.T) {
	h := newHarness(t, Config{})
	rs := h.apply(
		grantReq(1, 10),
		putReq("a", 1), // the lease granted just before
		grantReq(1, 10),
		revokeReq(1),
		putReq("b", 1), // revoked just before
		grantReq(1, 20),
	)
	wantErrs := []error{nil, nil, rpcerr.ErrLeaseExist, nil, rpcerr.ErrLeaseNotFound, nil}
	for i, r := range rs {
		if !errors.Is(r.Err, wantErrs[i]) {
			t.Errorf("entry %d: err %v, want %v", i, r.Err, wantErrs[i])
		}
	}
	if st, ok := h.l.Lookup(1); !ok || st.GrantedTTL != 20 {
		t.Errorf("after the round: %+v %v, want lease 1 with TTL 20", st, ok)
	}
	if keys, _ := h.store.LeaseKeys(context.Background(), 1); len(keys) != 0 {
		t.Errorf("keys of the re-granted lease: %q", keys)
	}

	// Aborted: the grant's effect is dropped.
	b := h.db.NewIndexedBatch()
	if _, err := h.l.Grant(b, 2, 10); err != nil {
		t.Fatal(err)
	}
	if !h.l.Exists(2) {
		t.Error("a grant is not visible to its own round")
	}
	h.l.Aborted()
	_ = b.Close()
	if h.l.Exists(2) {
		t.Error("an aborted grant is visible")
	}
	if _, ok := h.l.Lookup(2); ok {
		t.Error("an aborted grant was committed")
	}
}

// A revoke deletes every key of the lease as one revision (one txn of
// deletes, in key order) with the lease record; other keys stay.
func TestRevokeDeletesKeysInOneRevision(t *testing.T) {
	h := newHarness(t, Config{})
	h.mustGrant(1, 10)
	h.mustGrant(2, 10)
	h.apply(putReq("c", 1), putReq("a", 1), putReq("b", 2), putReq("d", 1))
	// Moving a key to another lease detaches it.
	h.apply(putReq("d", 2))
	before := len(h.events)
	r := h.apply1(revokeReq(1))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	rev := r.Resp.(*pb.LeaseRevokeResponse).Header.Revision
	evs := h.events[before:]
	if len(evs) != 1 || evs[0].rev != rev {
		t.Fatalf("revoke committed %d txns (want 1 at revision %d): %+v", len(evs), rev, evs)
	}
	var got []string
	for _, e := range evs[0].events {
		if e.Type != mvccpb.Event_DELETE {
			t.Errorf("event %v", e)
		}
		got = append(got, string(e.Kv.Key))
	}
	if want := []string{"a", "c"}; !slices.Equal(got, want) {
		t.Errorf("deleted %q, want %q", got, want)
	}
	if h.l.Exists(1) {
		t.Error("lease 1 still exists")
	}
	if r := h.apply1(revokeReq(1)); !errors.Is(r.Err, rpcerr.ErrLeaseNotFound) {
		t.Errorf("second revoke: %v", r.Err)
	}
	if r := h.apply1(putReq("x", 1)); !errors.Is(r.Err, rpcerr.ErrLeaseNotFound) {
		t.Errorf("put on the revoked lease: %v", r.Err)
	}
	keys, err := h.store.LeaseKeys(context.Background(), 2)
	if err != nil || len(keys) != 2 {
		t.Errorf("keys of lease 2: %q %v", keys, err)
	}
	// A lease without keys: no new revision.
	h.mustGrant(3, 10)
	revBefore := h.store.Rev()
	r = h.apply1(revokeReq(3))
	if r.Err != nil || r.Resp.(*pb.LeaseRevokeResponse).Header.Revision != revBefore {
		t.Errorf("revoke of a keyless lease: %v %v (rev was %d)", r.Err, r.Resp, revBefore)
	}
}

func TestExpiry(t *testing.T) {
	h := newHarness(t, Config{ExpiredRetry: 3 * time.Second})
	h.mustGrant(1, 10) // not primary: no deadline
	h.clock.Advance(time.Hour)
	if ids := h.l.FindExpired(10); len(ids) != 0 {
		t.Fatalf("not primary, found expired %v", ids)
	}
	h.l.Promote(time.Second) // deadline: 10s + 1s
	h.mustGrant(2, 5)        // granted as primary: 5s
	steps := []struct {
		advance time.Duration
		want    []int64
	}{
		{4 * time.Second, nil},
		{time.Second, []int64{2}},
		{0, nil}, // found once, then only after the retry interval
		{2 * time.Second, nil},
		{time.Second, []int64{2}}, // 3s after it was found: its revoke was lost
		{2 * time.Second, nil},
		{time.Second, []int64{1, 2}},
	}
	for i, s := range steps {
		h.clock.Advance(s.advance)
		got := h.l.FindExpired(10)
		slices.Sort(got)
		if !slices.Equal(got, s.want) {
			t.Fatalf("step %d: expired %v, want %v", i, got, s.want)
		}
	}
	h.apply1(revokeReq(2))
	h.clock.Advance(time.Minute)
	if got := h.l.FindExpired(10); !slices.Equal(got, []int64{1}) {
		t.Errorf("after revoking 2: %v, want [1]", got)
	}
	h.l.Demote()
	h.clock.Advance(time.Minute)
	if got := h.l.FindExpired(10); len(got) != 0 {
		t.Errorf("demoted, found %v", got)
	}
}

func TestRenew(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{})
	h.mustGrant(1, 10)
	if _, err := h.l.Renew(ctx, 1, nil); !errors.Is(err, ErrNotPrimary) {
		t.Fatalf("renew, not primary: %v", err)
	}
	h.l.Promote(0)
	if _, err := h.l.Renew(ctx, 99, nil); !errors.Is(err, rpcerr.ErrLeaseNotFound) {
		t.Errorf("renew unknown: %v", err)
	}
	h.clock.Advance(9 * time.Second)
	ttl, err := h.l.Renew(ctx, 1, nil)
	if err != nil || ttl != 10 {
		t.Fatalf("renew = %d, %v", ttl, err)
	}
	if st, _ := h.l.Lookup(1); st.Remaining != 10*time.Second {
		t.Errorf("remaining after renew %v, want 10s", st.Remaining)
	}
	h.clock.Advance(9 * time.Second)
	if ids := h.l.FindExpired(10); len(ids) != 0 {
		t.Errorf("renewed lease expired early: %v", ids)
	}
	h.clock.Advance(time.Second)
	if ids := h.l.FindExpired(10); !slices.Equal(ids, []int64{1}) {
		t.Fatalf("expired %v, want [1]", ids)
	}

	// An expired lease is not renewed: Renew waits for its revoke.
	done := make(chan error, 1)
	go func() { _, err := h.l.Renew(ctx, 1, nil); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("renew of an expired lease returned %v before the revoke", err)
	case <-time.After(50 * time.Millisecond):
	}
	h.apply1(revokeReq(1))
	select {
	case err := <-done:
		if !errors.Is(err, rpcerr.ErrLeaseNotFound) {
			t.Errorf("renew of a revoked lease: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("renew still waiting after the revoke")
	}

	// ... or for the demotion, or the caller.
	h.mustGrant(2, 10)
	h.clock.Advance(11 * time.Second)
	go func() { _, err := h.l.Renew(ctx, 2, nil); done <- err }()
	h.l.Demote()
	if err := <-done; !errors.Is(err, ErrNotPrimary) {
		t.Errorf("renew across a demotion: %v", err)
	}
	h.l.Promote(0)
	h.clock.Advance(11 * time.Second)
	cctx, cancel := context.WithCancel(ctx)
	go func() { _, err := h.l.Renew(cctx, 2, nil); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("renew canceled: %v", err)
	}
}

// A mass expiry is revoked at most limit per call, and none is lost: every
// lease is found exactly once.
func TestMassExpiryRateLimited(t *testing.T) {
	const n, limit = 10000, 500
	h := newHarness(t, Config{})
	h.l.Promote(0)
	var reqs []*raftpbv1.Request
	for i := range int64(n) {
		reqs = append(reqs, grantReq(i+1, 5))
	}
	h.apply(reqs...)
	h.clock.Advance(5 * time.Second)
	seen := map[int64]bool{}
	calls := 0
	for {
		ids := h.l.FindExpired(limit)
		if len(ids) == 0 {
			break
		}
		calls++
		if len(ids) > limit {
			t.Fatalf("call %d found %d leases, limit %d", calls, len(ids), limit)
		}
		var revs []*raftpbv1.Request
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("lease %d found twice", id)
			}
			seen[id] = true
			revs = append(revs, revokeReq(id))
		}
		for _, r := range h.apply(revs...) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	if len(seen) != n || calls != n/limit {
		t.Errorf("found %d leases in %d calls, want %d in %d", len(seen), calls, n, n/limit)
	}
	if h.l.Len() != 0 {
		t.Errorf("%d leases left", h.l.Len())
	}
}

// A new primary facing more leases than the revoke rate spreads the ones
// that would expire together (etcd's Promote): no second holds much more
// than 3/4 of the rate, and no lease expires before its TTL plus extend.
func TestPromoteSpreadsPileUp(t *testing.T) {
	for _, tc := range []struct{ n, rate int64 }{
		{5000, 1000},
		// --lease-revoke-rate below 4: 3/4 of it rounds to 0, which once
		// made every spread lease expire in the distant past.
		{5, 1},
		{9, 3},
	} {
		t.Run(fmt.Sprintf("rate %d", tc.rate), func(t *testing.T) {
			n, rate := tc.n, tc.rate
			h := newHarness(t, Config{RevokeRate: int(rate)})
			var reqs []*raftpbv1.Request
			for i := range n {
				reqs = append(reqs, grantReq(i+1, 10))
			}
			h.apply(reqs...)
			h.restart() // recovered leases, no deadlines
			h.l.Promote(time.Second)
			perSecond := map[int64]int64{}
			for i := range n {
				st, ok := h.l.Lookup(i + 1)
				if !ok {
					t.Fatalf("lease %d lost in the restart", i+1)
				}
				if st.Remaining < 11*time.Second {
					t.Fatalf("lease %d remaining %v, want >= 11s", i+1, st.Remaining)
				}
				perSecond[int64(st.Remaining/time.Second)]++
			}
			for s, c := range perSecond {
				if c > rate {
					t.Errorf("%d leases expire in second %d, rate %d", c, s, rate)
				}
			}
			// 3/4 of the rate a second at most (at least one).
			if target := max(1, 3*rate/4); int64(len(perSecond)) < n/target {
				t.Errorf("expiries spread over %d seconds: %v", len(perSecond), perSecond)
			}
			if ids := h.l.FindExpired(int(n)); len(ids) != 0 {
				t.Errorf("leases %v expired right after the promotion", ids)
			}
		})
	}
}

// Leases, TTLs and checkpointed remaining TTLs survive a restart; the new
// primary gives each its remaining TTL plus the extension.
func TestRestartAndCheckpoint(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, Config{Checkpoint: true, CheckpointInterval: time.Minute})
	h.l.Promote(0)
	h.mustGrant(1, 600)
	h.mustGrant(2, 30) // shorter than the interval: never checkpointed
	h.mustGrant(3, 600)
	h.clock.Advance(time.Minute)
	cps := h.l.DueCheckpoints(maxCheckpointBatch)
	slices.SortFunc(cps, func(a, b *pb.LeaseCheckpoint) int { return int(a.ID - b.ID) })
	if len(cps) != 2 || cps[0].ID != 1 || cps[0].Remaining_TTL != 540 || cps[1].ID != 3 {
		t.Fatalf("due checkpoints %v, want leases 1 and 3 at 540s", cps)
	}
	if more := h.l.DueCheckpoints(maxCheckpointBatch); len(more) != 0 {
		t.Fatalf("checkpoints due twice: %v", more)
	}
	h.apply1(checkpointReq(cps...))
	// A renewal clears the checkpointed TTL through raft first.
	var cleared []*pb.LeaseCheckpoint
	ttl, err := h.l.Renew(ctx, 3, func(_ context.Context, r *pb.LeaseCheckpointRequest) error {
		cleared = append(cleared, r.Checkpoints...)
		h.apply1(&raftpbv1.Request{Op: &raftpbv1.Request_LeaseCheckpoint{LeaseCheckpoint: r}})
		return nil
	})
	if err != nil || ttl != 600 || len(cleared) != 1 || cleared[0].ID != 3 || cleared[0].Remaining_TTL != 0 {
		t.Fatalf("renew = %d, %v; cleared %v", ttl, err, cleared)
	}
	// The next checkpoint of lease 1 is scheduled again.
	h.clock.Advance(time.Minute)
	if cps := h.l.DueCheckpoints(maxCheckpointBatch); len(cps) != 2 {
		t.Errorf("second round of checkpoints: %v", cps)
	}

	h.restart()
	h.l.Promote(time.Second)
	for _, tt := range []struct {
		id   int64
		want time.Duration
	}{
		{1, 541 * time.Second}, // the checkpointed 540s + the extension
		{2, 31 * time.Second},  // full TTL + extension
		{3, 601 * time.Second}, // renewed: its checkpoint was cleared
	} {
		st, ok := h.l.Lookup(tt.id)
		if !ok || st.Remaining != tt.want {
			t.Errorf("lease %d after restart: %+v %v, want remaining %v", tt.id, st, ok, tt.want)
		}
	}
	if st, _ := h.l.Lookup(1); st.GrantedTTL != 600 {
		t.Errorf("granted TTL after restart: %d", st.GrantedTTL)
	}
	// Keys stay attached across the restart.
	h.apply1(putReq("k", 1))
	h.restart()
	if keys, _ := h.store.LeaseKeys(ctx, 1); len(keys) != 1 {
		t.Errorf("keys after restart: %q", keys)
	}
	if r := h.apply1(revokeReq(1)); r.Err != nil || len(h.events) == 0 {
		t.Errorf("revoke after restart: %v", r.Err)
	}
}

// Without checkpointing, nothing is checkpointed and a renewal proposes
// nothing.
func TestCheckpointOff(t *testing.T) {
	h := newHarness(t, Config{CheckpointInterval: time.Minute})
	h.l.Promote(0)
	h.mustGrant(1, 600)
	h.clock.Advance(2 * time.Minute)
	if cps := h.l.DueCheckpoints(10); len(cps) != 0 {
		t.Errorf("checkpoints with checkpointing off: %v", cps)
	}
	h.apply1(checkpointReq(&pb.LeaseCheckpoint{ID: 1, Remaining_TTL: 100}))
	_, err := h.l.Renew(context.Background(), 1, func(context.Context, *pb.LeaseCheckpointRequest) error {
		return fmt.Errorf("checkpointer called")
	})
	if err != nil {
		t.Error(err)
	}
	// A renewal gives the full TTL, whatever remaining TTL is recorded.
	if st, _ := h.l.Lookup(1); st.Remaining != 600*time.Second {
		t.Errorf("remaining after renew %v, want the full 600s", st.Remaining)
	}
}

func TestLeasesOrder(t *testing.T) {
	h := newHarness(t, Config{})
	for _, id := range []int64{5, 3, 9} {
		h.mustGrant(id, 10)
	}
	if got := h.l.Leases(); !slices.Equal(got, []int64{3, 5, 9}) {
		t.Errorf("not primary: %v", got)
	}
	h.l.Promote(0)
	h.mustGrant(4, 5)
	h.mustGrant(1, 20)
	if got := h.l.Leases(); !slices.Equal(got, []int64{4, 3, 5, 9, 1}) {
		t.Errorf("primary: %v, want soonest expiry first", got)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, tt := range [][2]int64{{1, 0}, {MaxLeaseTTL, 12345}, {5, 4}} {
		ttl, rem, err := decodeRecord(appendRecord(nil, tt[0], tt[1]))
		if err != nil || ttl != tt[0] || rem != tt[1] {
			t.Errorf("%v: %d %d %v", tt, ttl, rem, err)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {2, 2, 0}, {1}, {1, 2}} {
		if _, _, err := decodeRecord(bad); err == nil {
			t.Errorf("decoded %x", bad)
		}
	}
}

// BenchmarkRenew is the lessor's share of a keep-alive, 10,000 leases held.
func BenchmarkRenew(b *testing.B) {
	h := newHarness(b, Config{})
	h.l.Promote(0)
	var reqs []*raftpbv1.Request
	for i := range int64(10000) {
		reqs = append(reqs, grantReq(i+1, 60))
	}
	h.apply(reqs...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := int64(0)
		for pb.Next() {
			id = id%10000 + 1
			if _, err := h.l.Renew(ctx, id, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
