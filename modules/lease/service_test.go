package lease

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/raftlog"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// svcHarness is the Service over a real single-member raft node, pebble in a
// temp dir and the fake clock: requests go through raft and the apply loop
// as in the server, and the expiry loop runs (every few ms of real time)
// against the fake clock.
type svcHarness struct {
	*harness
	n   *raftlog.Node
	svc *Service
}

func newSvcHarness(t *testing.T, cfg Config) *svcHarness {
	t.Helper()
	h := newHarness(t, cfg)
	n, err := raftlog.New(h.db, raftlog.Config{ClusterID: 1, MemberID: 1, TickInterval: 10 * time.Millisecond}, h.d)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	svc := NewService(ServiceConfig{LoopInterval: 5 * time.Millisecond, ElectionTimeout: time.Second}, h.l, h.store, n)
	svc.Start()
	// Cleanups run last-in first-out: the loop stops, then raft, then the
	// store and pebble (registered by newHarness).
	t.Cleanup(n.Stop)
	t.Cleanup(svc.Stop)
	// Tests start with the Lessor promoted: a lease granted before the
	// promotion gets its election-timeout extension on top of its TTL, and
	// the fake clock, advanced by exactly a TTL, would never expire it.
	waitFor(t, "the lessor promoted", h.l.IsPrimary)
	return &svcHarness{harness: h, n: n, svc: svc}
}

func (h *svcHarness) put(key string, lease int64) error {
	_, err := apply.Propose(context.Background(), h.n, 1<<20, putReq(key, lease))
	return err
}

// waitFor polls cond (bounded): the expiry loop works in real time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestServiceRPCs(t *testing.T) {
	ctx := context.Background()
	h := newSvcHarness(t, Config{MinTTL: 2})
	s := h.svc

	g, err := s.LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: 1})
	if err != nil {
		t.Fatal(err)
	}
	if g.ID <= 0 || g.TTL != 2 || g.Header.MemberId != 1 || g.Header.ClusterId != 1 {
		t.Errorf("grant with a server-chosen ID: %v", g)
	}
	if _, err := s.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: g.ID, TTL: 10}); !errors.Is(err, rpcerr.ErrLeaseExist) {
		t.Errorf("duplicate grant: %v", err)
	}
	if _, err := s.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: 5, TTL: MaxLeaseTTL + 1}); !errors.Is(err, rpcerr.ErrLeaseTTLTooLarge) {
		t.Errorf("TTL too large: %v", err)
	}
	if _, err := s.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: 5, TTL: 100}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b", "a"} {
		if err := h.put(k, 5); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(10 * time.Second)
	ttl, err := s.LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: 5, Keys: true})
	if err != nil || ttl.TTL != 90 || ttl.GrantedTTL != 100 || len(ttl.Keys) != 2 || string(ttl.Keys[0]) != "a" {
		t.Errorf("timetolive: %v %v", ttl, err)
	}
	if ttl.Header.Revision != 3 {
		t.Errorf("timetolive revision %d, want 3", ttl.Header.Revision)
	}
	if r, err := s.LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: 99}); err != nil || r.TTL != -1 || r.ID != 99 {
		t.Errorf("timetolive of an unknown lease: %v %v", r, err)
	}
	ls, err := s.LeaseLeases(ctx, &pb.LeaseLeasesRequest{})
	if err != nil || len(ls.Leases) != 2 || ls.Leases[0].ID != g.ID || ls.Leases[1].ID != 5 {
		t.Errorf("leases: %v %v", ls, err)
	}
	rv, err := s.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: 5})
	if err != nil || rv.Header.Revision != 4 {
		t.Errorf("revoke: %v %v (want revision 4: both keys in one)", rv, err)
	}
	if _, err := s.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: 5}); !errors.Is(err, rpcerr.ErrLeaseNotFound) {
		t.Errorf("revoke again: %v", err)
	}
	if err := h.put("c", 5); !errors.Is(err, rpcerr.ErrLeaseNotFound) {
		t.Errorf("put on a revoked lease: %v", err)
	}
}

// The expiry loop proposes the revoke of an expired lease through raft:
// its keys go in one revision, and a keep-alive before that keeps it.
func TestServiceExpiry(t *testing.T) {
	ctx := context.Background()
	h := newSvcHarness(t, Config{})
	for _, id := range []int64{1, 2} {
		if _, err := h.svc.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: id, TTL: 10}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"x", "y", "z"} {
			if err := h.put(k+string(rune('0'+id)), id); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.clock.Advance(9 * time.Second)
	if ttl, err := h.svc.renew(ctx, 2); err != nil || ttl != 10 {
		t.Fatalf("renew: %d %v", ttl, err)
	}
	rev := h.store.Rev()
	h.clock.Advance(time.Second)
	waitFor(t, "lease 1 revoked", func() bool { _, ok := h.l.Lookup(1); return !ok && h.store.Rev() > rev })
	if h.store.Rev() != rev+1 {
		t.Errorf("expiry took revisions %d..%d, want one", rev+1, h.store.Rev())
	}
	if _, ok := h.l.Lookup(2); !ok {
		t.Error("the renewed lease expired")
	}
	h.clock.Advance(9 * time.Second)
	waitFor(t, "lease 2 revoked", func() bool { return h.l.Len() == 0 })
	if h.store.Rev() != rev+2 {
		t.Errorf("revision %d after two expiries, want %d", h.store.Rev(), rev+2)
	}
}

// keepAliveStream is a LeaseKeepAlive stream fed from a channel.
type keepAliveStream struct {
	grpc.ServerStream
	ctx  context.Context
	in   chan *pb.LeaseKeepAliveRequest
	sent chan *pb.LeaseKeepAliveResponse
}

func (s *keepAliveStream) Context() context.Context { return s.ctx }
func (s *keepAliveStream) Recv() (*pb.LeaseKeepAliveRequest, error) {
	select {
	case r, ok := <-s.in:
		if !ok {
			return nil, io.EOF
		}
		return r, nil
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}
func (s *keepAliveStream) Send(r *pb.LeaseKeepAliveResponse) error { s.sent <- r; return nil }

func TestServiceKeepAlive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newSvcHarness(t, Config{})
	for _, id := range []int64{1, 2} {
		if _, err := h.svc.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: id, TTL: 30}); err != nil {
			t.Fatal(err)
		}
	}
	st := &keepAliveStream{ctx: ctx, in: make(chan *pb.LeaseKeepAliveRequest), sent: make(chan *pb.LeaseKeepAliveResponse, 10)}
	done := make(chan error, 1)
	go func() { done <- h.svc.LeaseKeepAlive(st) }()
	for _, tt := range []struct {
		id, ttl int64
	}{{1, 30}, {2, 30}, {99, 0}, {1, 30}} {
		h.clock.Advance(5 * time.Second)
		st.in <- &pb.LeaseKeepAliveRequest{ID: tt.id}
		r := <-st.sent
		if r.ID != tt.id || r.TTL != tt.ttl || r.Header.GetMemberId() != 1 {
			t.Errorf("keepalive %d: %v, want TTL %d", tt.id, r, tt.ttl)
		}
	}
	// Lease 1 was renewed just now, lease 2 10s ago.
	for id, want := range map[int64]time.Duration{1: 30 * time.Second, 2: 20 * time.Second} {
		if st, _ := h.l.Lookup(id); st.Remaining != want {
			t.Errorf("lease %d remaining %v, want %v", id, st.Remaining, want)
		}
	}
	close(st.in)
	if err := <-done; err != nil {
		t.Errorf("stream closed by the client: %v", err)
	}
	// A stream whose context ends: etcd's no-leader answer.
	st2 := &keepAliveStream{ctx: ctx, in: make(chan *pb.LeaseKeepAliveRequest), sent: make(chan *pb.LeaseKeepAliveResponse, 1)}
	go func() { done <- h.svc.LeaseKeepAlive(st2) }()
	cancel()
	if err := <-done; !errors.Is(err, rpcerr.ErrNoLeader) {
		t.Errorf("stream canceled: %v", err)
	}
}

// The loop revokes at most RevokeRate × LoopInterval leases a round and
// loses none.
func TestServiceRevokeRate(t *testing.T) {
	ctx := context.Background()
	h := newSvcHarness(t, Config{RevokeRate: 1000}) // 5 per 5 ms round
	const n = 200
	var reqs []*raftpbv1.Request
	for i := range int64(n) {
		reqs = append(reqs, grantReq(i+1, 5))
	}
	for _, r := range reqs {
		if _, err := apply.Propose(ctx, h.n, 1<<20, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.svc.revokesPerRound(); got != 5 {
		t.Fatalf("revokes per round %d, want 5", got)
	}
	start := time.Now()
	h.clock.Advance(5 * time.Second)
	waitFor(t, "every lease revoked", func() bool { return h.l.Len() == 0 })
	// 200 leases at 5 a round of 5 ms: at least 39 rounds.
	if d := time.Since(start); d < 39*5*time.Millisecond {
		t.Errorf("%d leases revoked in %v: faster than the rate", n, d)
	}
}
