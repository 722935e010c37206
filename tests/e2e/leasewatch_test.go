package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchedDeletes is what a watcher saw of a lease's end: the events of each
// response, in order.
type watchedDeletes struct {
	Responses [][]string
}

// leaseEndSeen attaches keys to lease id, watches prefix from the next
// revision, ends the lease with end and returns the responses the watcher
// got until it has seen len(keys) events (or the deadline passed).
func leaseEndSeen(ctx context.Context, s *server, id clientv3.LeaseID, ttl int64, prefix string, keys []string, end func(context.Context, *clientv3.Client) error) (any, error) {
	cli := s.client()
	lc := pb.NewLeaseClient(cli.ActiveConnection())
	if _, err := lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: int64(id), TTL: ttl}); err != nil {
		return nil, fmt.Errorf("grant: %w", err)
	}
	var rev int64
	for _, k := range keys {
		resp, err := cli.Put(ctx, prefix+k, "v-"+k, clientv3.WithLease(id))
		if err != nil {
			return nil, fmt.Errorf("put: %w", err)
		}
		rev = resp.Header.Revision
	}
	// A key of the prefix without the lease: it must outlive the lease.
	if _, err := cli.Put(ctx, prefix+"stays", "v"); err != nil {
		return nil, err
	}
	rev++
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	if err := end(ctx, cli); err != nil {
		return nil, fmt.Errorf("end lease: %w", err)
	}
	var got watchedDeletes
	n := 0
	for n < len(keys) {
		select {
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil {
				return got, fmt.Errorf("watch ended after %d events: %v", n, wr.Err())
			}
			var evs []string
			for _, ev := range wr.Events {
				evs = append(evs, fmt.Sprintf("%s %s mod=%d", ev.Type, ev.Kv.Key, ev.Kv.ModRevision))
				if ev.Type == mvccpb.DELETE {
					n++
				}
			}
			got.Responses = append(got.Responses, evs)
		case <-ctx.Done():
			return got, fmt.Errorf("saw %d of %d deletes: %w", n, len(keys), ctx.Err())
		}
	}
	left, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, err
	}
	if left.Count != 1 || string(left.Kvs[0].Key) != prefix+"stays" {
		return got, fmt.Errorf("after the lease ended, %d keys are left under %q, want only %q", left.Count, prefix, prefix+"stays")
	}
	return got, nil
}

// TestLeaseEndWatched: revoking or expiring a lease deletes all its keys in
// one revision, which a watcher receives as one response of deletes in key
// order — on etcd and cairn alike.
func TestLeaseEndWatched(t *testing.T) {
	f := newFixture(t)
	keys := []string{"c", "a", "e", "b", "d"}

	f.ok("revoke: one response of deletes", func(ctx context.Context, s *server) (any, error) {
		return leaseEndSeen(ctx, s, 0x1001, 600, "lw/revoke/", keys, func(ctx context.Context, cli *clientv3.Client) error {
			_, err := cli.Revoke(ctx, 0x1001)
			return err
		})
	})

	// Expiry: a lease of the minimum TTL runs out without keep-alives; the
	// leader proposes its revoke. stepTimeout bounds the wait.
	start := time.Now()
	f.ok("expiry: one response of deletes", func(ctx context.Context, s *server) (any, error) {
		return leaseEndSeen(ctx, s, 0x1002, 1, "lw/expire/", keys, func(context.Context, *clientv3.Client) error { return nil })
	})
	t.Logf("both expiries seen after %v", time.Since(start))
}
