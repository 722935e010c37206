package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// The concurrency package (sessions, locks, elections) is what most etcd
// users build on leases. Each scenario runs on etcd and on cairn; the parts
// where a waiter blocks need Watch and are skipped where the server does
// not serve it.

func newSession(t *testing.T, s *server, ttl int) *concurrency.Session {
	t.Helper()
	se, err := concurrency.NewSession(s.client(), concurrency.WithTTL(ttl))
	if err != nil {
		t.Fatalf("[%s] session: %v", s, err)
	}
	t.Cleanup(func() { _ = se.Close() })
	return se
}

func TestSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.each(func(s *server) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		se := newSession(t, s, minTTL)
		// Kept alive past several TTLs.
		time.Sleep(3 * minTTL * time.Second)
		select {
		case <-se.Done():
			t.Fatalf("[%s] session ended while kept alive", s)
		default:
		}
		r, err := s.client().TimeToLive(ctx, se.Lease())
		if err != nil || r.TTL <= 0 || r.GrantedTTL != minTTL {
			t.Fatalf("[%s] session lease: %+v %v", s, r, err)
		}
		// Close revokes the lease.
		if err := se.Close(); err != nil {
			t.Fatalf("[%s] close: %v", s, err)
		}
		if r, err := s.client().TimeToLive(ctx, se.Lease()); err != nil || r.TTL != -1 {
			t.Errorf("[%s] lease of a closed session: %+v %v", s, r, err)
		}
		// An orphaned session (keep-alives stopped) expires: its lease and
		// keys go, and Done closes.
		se2 := newSession(t, s, minTTL)
		if _, err := s.client().Put(ctx, "session/k", "v", clientv3.WithLease(se2.Lease())); err != nil {
			t.Fatal(err)
		}
		se2.Orphan()
		deadline := time.Now().Add(20 * time.Second)
		for {
			r, err := s.client().TimeToLive(ctx, se2.Lease())
			if err == nil && r.TTL == -1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("[%s] orphaned session's lease alive after 20s: %+v %v", s, r, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if g, err := s.client().Get(ctx, "session/k"); err != nil || len(g.Kvs) != 0 {
			t.Errorf("[%s] key of the expired session: %v %v", s, g, err)
		}
	})
}

func TestMutex(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.each(func(s *server) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s1, s2 := newSession(t, s, 10), newSession(t, s, minTTL)
		m1 := concurrency.NewMutex(s1, "/lock/")
		m2 := concurrency.NewMutex(s2, "/lock/")
		if err := m1.Lock(ctx); err != nil {
			t.Fatalf("[%s] lock: %v", s, err)
		}
		if err := m2.TryLock(ctx); !errors.Is(err, concurrency.ErrLocked) {
			t.Fatalf("[%s] trylock of a held lock: %v", s, err)
		}
		// The lock holder's lease is what the lock is: lease checks in txns.
		if _, err := s.client().Txn(ctx).If(m1.IsOwner()).Then(clientv3.OpPut("/guarded", "1")).Commit(); err != nil {
			t.Fatalf("[%s] guarded txn: %v", s, err)
		}
		if err := m1.Unlock(ctx); err != nil {
			t.Fatalf("[%s] unlock: %v", s, err)
		}
		if err := m2.TryLock(ctx); err != nil {
			t.Fatalf("[%s] trylock of a free lock: %v", s, err)
		}
		if err := m2.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if !watchWorks(t, s) {
			t.Logf("[%s] Watch is not served: skipping the contended lock", s)
			return
		}
		// Contended: m2 waits for m1; m1's session expiring releases it.
		if err := m1.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() { got <- m2.Lock(ctx) }()
		select {
		case err := <-got:
			t.Fatalf("[%s] second lock acquired while held: %v", s, err)
		case <-time.After(500 * time.Millisecond):
		}
		s1.Orphan()
		if _, err := s.client().Revoke(ctx, s1.Lease()); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("[%s] lock after the holder's lease went: %v", s, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("[%s] lock not acquired 20s after the holder's lease was revoked", s)
		}
	})
}

func TestElection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.each(func(s *server) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s1, s2 := newSession(t, s, 10), newSession(t, s, 10)
		e1 := concurrency.NewElection(s1, "/election/")
		e2 := concurrency.NewElection(s2, "/election/")
		if err := e1.Campaign(ctx, "one"); err != nil {
			t.Fatalf("[%s] campaign: %v", s, err)
		}
		l, err := e2.Leader(ctx)
		if err != nil || string(l.Kvs[0].Value) != "one" {
			t.Fatalf("[%s] leader: %v %v", s, l, err)
		}
		if err := e1.Proclaim(ctx, "one again"); err != nil {
			t.Fatal(err)
		}
		if l, err := e2.Leader(ctx); err != nil || string(l.Kvs[0].Value) != "one again" {
			t.Fatalf("[%s] leader after proclaim: %v %v", s, l, err)
		}
		if l.Kvs[0].Lease != int64(s1.Lease()) {
			t.Errorf("[%s] leader key on lease %x, want the session's %x", s, l.Kvs[0].Lease, s1.Lease())
		}
		if !watchWorks(t, s) {
			if err := e1.Resign(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e2.Leader(ctx); !errors.Is(err, concurrency.ErrElectionNoLeader) {
				t.Errorf("[%s] leader after resign: %v", s, err)
			}
			t.Logf("[%s] Watch is not served: skipping the contended campaign", s)
			return
		}
		won := make(chan error, 1)
		go func() { won <- e2.Campaign(ctx, "two") }()
		select {
		case err := <-won:
			t.Fatalf("[%s] second campaign won while the first leads: %v", s, err)
		case <-time.After(500 * time.Millisecond):
		}
		// The leader's session ends: its lease is revoked, the other wins.
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-won:
			if err != nil {
				t.Fatalf("[%s] campaign: %v", s, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("[%s] second campaign not won 20s after the leader's session closed", s)
		}
		if l, err := e2.Leader(ctx); err != nil || string(l.Kvs[0].Value) != "two" {
			t.Errorf("[%s] leader: %v %v", s, l, err)
		}
	})
}
