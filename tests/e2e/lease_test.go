package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The lease IDs the side-by-side scenarios choose themselves, so that etcd
// and cairn hold the same IDs and every answer compares.
const (
	leaseA = 0x1000
	leaseB = 0x2000
)

// minTTL is etcd's minimum lease TTL with the default timing:
// ceil(3 × 10 election ticks / 2 × 100 ms) = 2 s.
const minTTL = 2

func leases(s *server) pb.LeaseClient { return pb.NewLeaseClient(s.client().ActiveConnection()) }

func grant(id, ttl int64) stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		r, err := leases(s).LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: id, TTL: ttl})
		if r != nil {
			maskHeader(r.Header)
		}
		return r, err
	}
}

func revoke(id int64) stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		r, err := leases(s).LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: id})
		if r != nil {
			maskHeader(r.Header)
		}
		return r, err
	}
}

// timeToLive renders a LeaseTimeToLive answer with the remaining TTL
// checked (granted-3 s < TTL ≤ granted: the two servers answer a moment
// apart) rather than compared.
func timeToLive(id int64, keys bool) stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		r, err := leases(s).LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: id, Keys: keys})
		if err != nil {
			return nil, err
		}
		ttl := fmt.Sprint(r.TTL)
		if r.TTL != -1 {
			ttl = fmt.Sprintf("in (granted-3, granted]: %v", r.TTL > r.GrantedTTL-3 && r.TTL <= r.GrantedTTL)
		}
		var ks []string
		for _, k := range r.Keys {
			ks = append(ks, string(k))
		}
		slices.Sort(ks) // etcd lists them in map order
		return fmt.Sprintf("ID=%x TTL %s granted=%d keys=%q revision=%d", r.ID, ttl, r.GrantedTTL, ks, r.Header.GetRevision()), nil
	}
}

func leaseList() stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		r, err := leases(s).LeaseLeases(ctx, &pb.LeaseLeasesRequest{})
		if err != nil {
			return nil, err
		}
		var ids []int64
		for _, l := range r.Leases {
			ids = append(ids, l.ID)
		}
		slices.Sort(ids) // equal expiries come in any order
		return fmt.Sprintf("leases %x revision=%d", ids, r.Header.GetRevision()), nil
	}
}

func keepAliveOnce(id clientv3.LeaseID) stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		r, err := s.client().KeepAliveOnce(ctx, id)
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("ID=%x TTL=%d revision=%d", r.ID, r.TTL, r.Revision), nil
	}
}

// TestLease runs every Lease RPC and the lease side of KV on etcd and cairn
// and compares the answers.
func TestLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	f.ok("grant with an ID", grant(leaseA, 60))
	f.fails("grant the same ID", rpctypes.ErrGRPCLeaseExist, grant(leaseA, 60))
	f.fails("grant a TTL above MaxLeaseTTL", rpctypes.ErrGRPCLeaseTTLTooLarge, grant(leaseB, 9000000001))
	f.fails("grant a TTL above MaxLeaseTTL, existing ID", rpctypes.ErrGRPCLeaseTTLTooLarge, grant(leaseA, 9000000001))
	f.ok("grant the largest TTL", grant(leaseB, 9000000000))
	f.ok("revoke it", revoke(leaseB))
	for _, r := range f.ok("grant below the minimum TTL", grant(leaseB, 1)) {
		f.expect(r, r.resp.(*pb.LeaseGrantResponse).TTL == minTTL, "TTL %d, want the minimum %d", r.resp.(*pb.LeaseGrantResponse).TTL, minTTL)
	}
	f.ok("revoke the short one", revoke(leaseB))
	f.ok("grant a negative TTL", grant(leaseB, -10))
	f.ok("revoke the negative one", revoke(leaseB))

	// Server-chosen IDs differ between servers: compare the rest.
	serverID := map[*server]clientv3.LeaseID{}
	for _, r := range f.ok("grant with a server-chosen ID", func(ctx context.Context, s *server) (any, error) {
		r, err := s.client().Grant(ctx, 30)
		if err != nil {
			return nil, err
		}
		serverID[s] = r.ID
		return fmt.Sprintf("TTL=%d positive ID=%v revision=%d", r.TTL, r.ID > 0, r.Revision), nil
	}) {
		f.expect(r, serverID[r.s] > 0, "server-chosen ID %d", serverID[r.s])
	}
	f.ok("timetolive of the server-chosen ID", func(ctx context.Context, s *server) (any, error) {
		r, err := s.client().TimeToLive(ctx, serverID[s])
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("granted=%d same ID=%v", r.GrantedTTL, r.ID == serverID[s]), nil
	})
	f.ok("revoke the server-chosen ID", func(ctx context.Context, s *server) (any, error) {
		r, err := s.client().Revoke(ctx, serverID[s])
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("revision=%d", r.Header.Revision), nil
	})

	// Keys on a lease.
	f.ok("put on lease A", put("l/a", "1", clientv3.WithLease(leaseA)))
	f.ok("put on lease A again", put("l/b", "2", clientv3.WithLease(leaseA)))
	f.ok("put without lease", put("l/c", "3"))
	f.ok("ignore_lease keeps the lease", put("l/a", "1b", clientv3.WithIgnoreLease()))
	f.fails("put on an unknown lease", rpctypes.ErrGRPCLeaseNotFound, put("l/x", "1", clientv3.WithLease(unknownLease)))
	f.fails("ignore_lease with a lease", rpctypes.ErrGRPCLeaseProvided, rawPut(&pb.PutRequest{Key: []byte("l/a"), IgnoreLease: true, Lease: leaseA}))
	f.ok("get l/", get("l/", clientv3.WithPrefix()))
	for _, r := range f.ok("get l/a (lease)", get("l/a")) {
		kvs := rangeResp(r).Kvs
		f.expect(r, len(kvs) == 1 && kvs[0].Lease == leaseA && string(kvs[0].Value) == "1b", "l/a: %v", kvs)
	}
	f.ok("txn compares lease = A", txn([]clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue("l/a"), "=", leaseA)}, ops{clientv3.OpGet("l/a")}, nil))
	f.ok("txn compares lease != A", txn([]clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue("l/c"), "!=", leaseA)}, ops{clientv3.OpGet("l/c")}, nil))
	for _, r := range f.ok("txn compares lease = A (false)", txn([]clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue("l/c"), "=", leaseA)}, nil, ops{clientv3.OpGet("l/c")})) {
		f.expect(r, !r.resp.(*clientv3.TxnResponse).Succeeded, "compare on l/c succeeded")
	}
	f.ok("txn puts on a lease", txn(nil, ops{clientv3.OpPut("l/d", "4", clientv3.WithLease(leaseA))}, nil))

	f.ok("timetolive", timeToLive(leaseA, false))
	f.ok("timetolive with keys", timeToLive(leaseA, true))
	f.ok("timetolive of an unknown lease", timeToLive(unknownLease, true))
	f.ok("timetolive raw unknown", func(ctx context.Context, s *server) (any, error) {
		r, err := leases(s).LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: unknownLease})
		if r != nil {
			maskHeader(r.Header)
		}
		return r, err
	})
	f.ok("grant B", grant(leaseB, 100))
	f.ok("leases", leaseList())
	f.ok("keepalive once", keepAliveOnce(leaseA))
	f.fails("keepalive once, unknown lease", rpctypes.ErrLeaseNotFound, keepAliveOnce(unknownLease))

	// A revoke deletes the lease's keys in one revision.
	before := f.ok("revision before the revoke", get("l/", clientv3.WithPrefix()))
	rs := f.ok("revoke A", revoke(leaseA))
	for i, r := range rs {
		f.expect(r, headerRev(r) == headerRev(before[i])+1, "revoke at revision %d, want %d (one revision for three keys)", headerRev(r), headerRev(before[i])+1)
	}
	f.ok("get l/ after the revoke", get("l/", clientv3.WithPrefix()))
	f.ok("get l/ just before the revoke", func(ctx context.Context, s *server) (any, error) {
		for i, r := range before {
			if r.s == s {
				return s.client().Get(ctx, "l/", clientv3.WithPrefix(), clientv3.WithRev(headerRev(before[i])))
			}
		}
		return nil, errors.New("no revision")
	})
	f.fails("revoke A again", rpctypes.ErrGRPCLeaseNotFound, revoke(leaseA))
	f.fails("revoke an unknown lease", rpctypes.ErrGRPCLeaseNotFound, revoke(unknownLease))
	f.fails("revoke lease 0", rpctypes.ErrGRPCLeaseNotFound, revoke(0))
	f.fails("put on the revoked lease", rpctypes.ErrGRPCLeaseNotFound, put("l/a", "x", clientv3.WithLease(leaseA)))
	f.ok("timetolive of the revoked lease", timeToLive(leaseA, true))
	f.ok("leases after the revoke", leaseList())
	f.ok("revoke B (no keys: no new revision)", revoke(leaseB))
	f.ok("leases, none left", leaseList())
}

// TestLeaseKeepAlive keeps many leases alive over clientv3's one keep-alive
// stream past several TTLs, then lets them go and watches them expire.
func TestLeaseKeepAlive(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 20
	var wg sync.WaitGroup
	f.each(func(s *server) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keepAliveScenario(t, s, n)
		}()
	})
	wg.Wait()
}

func keepAliveScenario(t *testing.T, s *server, n int) {
	const ttl = 4 // clientv3 renews every ttl/3: a 2 s TTL is too tight on a busy machine, for etcd too
	cli := s.client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := make([]clientv3.LeaseID, n)
	for i := range ids {
		r, err := cli.Grant(ctx, ttl)
		if err != nil {
			t.Errorf("[%s] grant: %v", s, err)
			return
		}
		ids[i] = r.ID
		if _, err := cli.Put(ctx, fmt.Sprintf("ka/%d", i), "v", clientv3.WithLease(r.ID)); err != nil {
			t.Errorf("[%s] put: %v", s, err)
			return
		}
	}
	kctx, kcancel := context.WithCancel(ctx)
	var got atomic.Int64
	var kwg sync.WaitGroup
	for _, id := range ids {
		ch, err := cli.KeepAlive(kctx, id)
		if err != nil {
			t.Errorf("[%s] keepalive: %v", s, err)
			kcancel()
			return
		}
		kwg.Add(1)
		go func() {
			defer kwg.Done()
			for r := range ch {
				if r.TTL != ttl {
					t.Errorf("[%s] keepalive of %x: TTL %d", s, r.ID, r.TTL)
				}
				got.Add(1)
			}
		}()
	}
	// Two TTLs: every lease must still be there.
	time.Sleep(2 * ttl * time.Second)
	for _, id := range ids {
		r, err := cli.TimeToLive(ctx, id)
		if err != nil {
			t.Errorf("[%s] timetolive %x: %v", s, id, err)
		} else if r.TTL <= 0 {
			t.Errorf("[%s] lease %x not kept alive: TTL %d", s, id, r.TTL)
		}
	}
	if g := got.Load(); g < int64(2*n) {
		t.Errorf("[%s] %d keep-alive responses for %d leases over 2 TTLs", s, g, n)
	}
	kcancel()
	kwg.Wait()
	// Let go: they expire (bounded wait) and their keys go with them.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := cli.Get(ctx, "ka/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err == nil && r.Count == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("[%s] keys of expired leases still there after 20s: %v %v", s, r, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range ids {
		if r, err := cli.TimeToLive(ctx, id); err != nil {
			t.Errorf("[%s] timetolive %x: %v", s, id, err)
		} else if r.TTL != -1 {
			t.Errorf("[%s] expired lease %x: TTL %d", s, id, r.TTL)
		}
	}
}

// TestLeaseExpiry: an expired lease's keys are deleted in one revision, the
// same on etcd and cairn.
func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok("grant", grant(leaseA, minTTL))
	f.ok("put 1", put("exp/1", "v", clientv3.WithLease(leaseA)))
	f.ok("put 2", put("exp/2", "v", clientv3.WithLease(leaseA)))
	f.ok("put 3", put("exp/3", "v", clientv3.WithLease(leaseA)))
	f.ok("put unleased", put("exp/4", "v"))
	f.each(func(s *server) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			r, err := leases(s).LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: leaseA})
			cancel()
			if err == nil && r.TTL == -1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("[%s] lease not expired 20s after its 2s TTL: %v %v", s, r, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	for _, r := range f.ok("get exp/ after expiry", get("exp/", clientv3.WithPrefix())) {
		// Revisions 2..5 were the puts; the expiry is revision 6, one for all three keys.
		f.expect(r, headerRev(r) == 6 && len(rangeResp(r).Kvs) == 1, "after expiry: %v", rangeResp(r))
	}
	f.ok("get exp/ at revision 5", get("exp/", clientv3.WithPrefix(), clientv3.WithRev(5)))
	f.fails("put on the expired lease", rpctypes.ErrGRPCLeaseNotFound, put("exp/1", "v", clientv3.WithLease(leaseA)))
	f.ok("leases after expiry", leaseList())
}

// TestLeaseMassExpiry: 10,000 leases expiring together are all revoked,
// at the revoke rate, while puts go on unstalled.
func TestLeaseMassExpiry(t *testing.T) {
	t.Parallel()
	const (
		n       = 10000
		ttl     = 5
		workers = 64
	)
	f := newFixture(t, cairnOnly())
	f.each(func(s *server) {
		cli := s.client()
		lc := leases(s)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > n || ctx.Err() != nil {
						return
					}
					if _, err := lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: i, TTL: ttl}); err != nil {
						failed.Add(1)
						continue
					}
					if _, err := cli.Put(ctx, fmt.Sprintf("mass/%05d", i), "v", clientv3.WithLease(clientv3.LeaseID(i))); err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		granted := time.Since(start)
		if failed.Load() > 0 {
			t.Fatalf("[%s] %d grants or puts failed", s, failed.Load())
		}
		t.Logf("[%s] %d leases with a key each in %v", s, n, granted.Round(time.Millisecond))

		// Puts go on while the leases expire: none may stall.
		stop := make(chan struct{})
		var puts atomic.Int64
		var maxLat atomic.Int64
		var putErr atomic.Value
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1_000_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := cli.Put(pctx, "probe", fmt.Sprint(i))
				pcancel()
				if err != nil {
					putErr.Store(err)
					return
				}
				if d := int64(time.Since(t0)); d > maxLat.Load() {
					maxLat.Store(d)
				}
				puts.Add(1)
			}
		}()

		var firstGone, allGone time.Time
		deadline := time.Now().Add(2 * time.Minute)
		for {
			r, err := lc.LeaseLeases(ctx, &pb.LeaseLeasesRequest{})
			if err != nil {
				t.Fatalf("[%s] leases: %v", s, err)
			}
			left := len(r.Leases)
			if left < n && firstGone.IsZero() {
				firstGone = time.Now()
			}
			if left == 0 {
				allGone = time.Now()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("[%s] %d of %d leases left 2 minutes after their TTL", s, left, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		putsDuring := puts.Load()
		close(stop)
		wg.Wait()
		if err, _ := putErr.Load().(error); err != nil {
			t.Errorf("[%s] a put failed during the mass expiry: %v", s, err)
		}
		r, err := cli.Get(ctx, "mass/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || r.Count != 0 {
			t.Errorf("[%s] keys of revoked leases left: %v %v", s, r, err)
		}
		took := allGone.Sub(firstGone)
		t.Logf("[%s] revoked %d leases in %v (first gone %v after the grants ended); %d puts meanwhile, slowest %v",
			s, n, took.Round(time.Millisecond), firstGone.Sub(start.Add(granted)).Round(time.Millisecond),
			putsDuring, time.Duration(maxLat.Load()).Round(time.Millisecond))
		// The revoke rate (1,000/s by default) spreads 10,000 revokes over
		// about 10 s; far less means no rate limit.
		if took < 5*time.Second {
			t.Errorf("[%s] %d leases revoked in %v: faster than the revoke rate allows", s, n, took)
		}
		if putsDuring < 20 {
			t.Errorf("[%s] only %d puts while the leases expired", s, putsDuring)
		}
		// A stalled apply loop would hold puts for seconds.
		if m := time.Duration(maxLat.Load()); m > 2*time.Second {
			t.Errorf("[%s] a put took %v during the mass expiry", s, m)
		}
	})
}

// TestLeaseRestart: leases and their keys survive SIGTERM and kill -9; the
// restarted member gives each lease its remaining TTL plus the election
// timeout, and with checkpointing on that is the checkpointed remaining TTL,
// not a fresh full one.
func TestLeaseRestart(t *testing.T) {
	t.Parallel()
	t.Run("no checkpoints", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, cairnOnly(), withFlags("--feature-gates=LeaseCheckpoint=false"))
		f.ok("grant", grant(leaseA, 60))
		f.ok("put", put("r/1", "v", clientv3.WithLease(leaseA)))
		f.each(func(s *server) { s.restart() })
		for _, r := range f.ok("timetolive after SIGTERM", timeToLive(leaseA, true)) {
			f.expect(r, r.resp == `ID=1000 TTL in (granted-3, granted]: true granted=60 keys=["r/1"] revision=2`, "%v", r.resp)
		}
		f.each(func(s *server) { s.kill9(); s.start() })
		for _, r := range f.ok("timetolive after kill -9", timeToLive(leaseA, true)) {
			f.expect(r, r.resp == `ID=1000 TTL in (granted-3, granted]: true granted=60 keys=["r/1"] revision=2`, "%v", r.resp)
		}
		f.ok("revoke after restart", revoke(leaseA))
		for _, r := range f.ok("get after revoke", get("r/", clientv3.WithPrefix(), clientv3.WithCountOnly())) {
			f.expect(r, rangeResp(r).Count == 0, "keys left: %v", rangeResp(r))
		}
	})
	t.Run("checkpoints", func(t *testing.T) {
		t.Parallel()
		if etcdOnly() {
			t.Skip("etcd has no --lease-checkpoint-interval")
		}
		f := newFixture(t, cairnOnly(), withFlags("--experimental-enable-lease-checkpoint", "--lease-checkpoint-interval=1s"))
		granted := time.Now()
		f.ok("grant", grant(leaseA, 60))
		f.ok("grant B", grant(leaseB, 60))
		// Checkpoints run every second and go through raft: nothing else
		// is written now, so a proposal committed once 3 s have passed is a
		// checkpoint of at most 57 s left.
		time.Sleep(time.Until(granted.Add(3 * time.Second)))
		f.each(func(s *server) {
			base := committedProposals(t, s)
			deadline := time.Now().Add(stepTimeout)
			for committedProposals(t, s) == base {
				if time.Now().After(deadline) {
					t.Fatalf("[%s] no checkpoint committed within %v", s, stepTimeout)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
		f.ok("keep B alive (clears its checkpoint)", keepAliveOnce(leaseB))
		f.each(func(s *server) { s.restart() })
		f.each(func(s *server) {
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			defer cancel()
			a, err := leases(s).LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: leaseA})
			if err != nil {
				t.Fatal(err)
			}
			// Checkpointed at ≤ 59 s left (4 s after the grant: ≤ 57 s),
			// plus 1 s of election timeout, minus the restart.
			if a.TTL > 58 || a.TTL < 40 {
				t.Errorf("[%s] lease A after restart: TTL %d, want its checkpointed remaining TTL (≤ 58s)", s, a.TTL)
			}
			b, err := leases(s).LeaseTimeToLive(ctx, &pb.LeaseTimeToLiveRequest{ID: leaseB})
			if err != nil {
				t.Fatal(err)
			}
			if b.TTL < 57 {
				t.Errorf("[%s] lease B, renewed before the restart: TTL %d, want ≥ 57s", s, b.TTL)
			}
		})
	})
}

// TestLeaseRequireLeader: a keep-alive stream asked to require a leader
// works while there is one (clientv3's WithRequireLeader).
func TestLeaseRequireLeader(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok("grant", grant(leaseA, 30))
	f.ok("keepalive once with require-leader", func(ctx context.Context, s *server) (any, error) {
		r, err := s.client().KeepAliveOnce(clientv3.WithRequireLeader(ctx), leaseA)
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("TTL=%d", r.TTL), nil
	})
}

// watchWorks reports whether the server serves Watch (the concurrency
// package waits with it when a lock or an election is contended).
func watchWorks(t *testing.T, s *server) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, err := pb.NewWatchClient(s.client().ActiveConnection()).Watch(ctx)
	if err == nil {
		err = ws.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: []byte("probe")}}})
	}
	if err == nil {
		_, err = ws.Recv()
	}
	if status.Code(err) == codes.Unimplemented {
		return false
	}
	if err != nil {
		t.Fatalf("[%s] watch probe: %v", s, err)
	}
	return true
}

// watchOne watches prefix from revision rev, runs then (if set) and renders
// the first watch response: a revoke or an expiry must come as one response
// holding every delete, all at one revision.
func watchOne(prefix string, rev int64, then stepFunc) stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wch := s.client().Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev))
		if then != nil {
			if _, err := then(ctx, s); err != nil {
				return nil, err
			}
		}
		select {
		case wr, ok := <-wch:
			if !ok {
				return nil, errors.New("watch channel closed")
			}
			if err := wr.Err(); err != nil {
				return nil, err
			}
			out := fmt.Sprintf("%d events\n", len(wr.Events))
			for _, e := range wr.Events {
				out += fmt.Sprintf("%s %s mod=%d\n", e.Type, e.Kv.Key, e.Kv.ModRevision)
			}
			return out, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TestLeaseWatch: watchers see a revoke, and an expiry, as one response of
// deletes at one revision.
func TestLeaseWatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok("grant B", grant(leaseB, 60))
	for _, k := range []string{"w/b3", "w/b1", "w/b2"} {
		f.ok("put "+k, put(k, "v", clientv3.WithLease(leaseB)))
	}
	f.ok("put w/c (no lease)", put("w/c", "v"))
	for _, r := range f.ok("watch the revoke of B", watchOne("w/", 6, revoke(leaseB))) {
		f.expect(r, strings.HasPrefix(r.resp.(string), "3 events\n"), "revoke seen as:\n%s", r.resp)
	}
	f.ok("grant A", grant(leaseA, minTTL))
	f.ok("put w/a1", put("w/a1", "v", clientv3.WithLease(leaseA)))
	f.ok("put w/a2", put("w/a2", "v", clientv3.WithLease(leaseA)))
	for _, r := range f.ok("watch the expiry of A", watchOne("w/", 9, nil)) {
		f.expect(r, strings.HasPrefix(r.resp.(string), "2 events\n"), "expiry seen as:\n%s", r.resp)
	}
}

// committedProposals reads etcd_server_proposals_committed_total from s's
// /metrics.
func committedProposals(t *testing.T, s *server) int64 {
	t.Helper()
	return int64(metricValue(t, s, "etcd_server_proposals_committed_total"))
}
