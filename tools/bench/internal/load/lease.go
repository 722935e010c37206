package load

import (
	"context"
	"fmt"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// LeaseKeepAlive is etcd benchmark's lease-keepalive: each requester holds
// one lease (granted in Setup) and renews it over and over. By default a
// request is clientv3's KeepAliveOnce, as etcd's benchmark issues it (a
// keep-alive stream opened, one renewal, the stream closed); with Stream,
// each requester keeps one LeaseKeepAlive stream open and a request is one
// renewal on it, as clientv3's KeepAlive renews leases.
type LeaseKeepAlive struct {
	// Leases is how many leases Setup grants; requester i renews lease
	// i % Leases (at least 1; the commands set it to --clients).
	Leases int
	// TTL of the leases, seconds (etcd's benchmark: 100).
	TTL    int64
	Stream bool

	ids     []clientv3.LeaseID
	ctx     context.Context // outlives the phases: the streams' context
	mu      sync.Mutex
	streams map[int]pb.Lease_LeaseKeepAliveClient
}

func (l *LeaseKeepAlive) Name() string      { return "lease-keepalive" }
func (l *LeaseKeepAlive) Classes() []string { return nil }

func (l *LeaseKeepAlive) Validate() error {
	if l.TTL < 1 {
		return fmt.Errorf("lease-keepalive: TTL must be at least 1, got %d", l.TTL)
	}
	return nil
}

func (l *LeaseKeepAlive) Setup(ctx context.Context, clis []*clientv3.Client) error {
	if err := l.Validate(); err != nil {
		return err
	}
	l.ctx = ctx
	l.streams = map[int]pb.Lease_LeaseKeepAliveClient{}
	l.ids = make([]clientv3.LeaseID, max(l.Leases, 1))
	for i := range l.ids {
		r, err := clis[i%len(clis)].Grant(ctx, l.TTL)
		if err != nil {
			return fmt.Errorf("grant lease %d: %w", i, err)
		}
		l.ids[i] = r.ID
	}
	return nil
}

func (l *LeaseKeepAlive) Do(ctx context.Context, c *clientv3.Client, w *Worker, _ int) (int, error) {
	id := l.ids[w.ID%len(l.ids)]
	if !l.Stream {
		r, err := c.KeepAliveOnce(ctx, id)
		if err == nil && r.TTL <= 0 {
			err = fmt.Errorf("lease %x expired", id)
		}
		return 0, err
	}
	s, err := l.stream(c, w.ID)
	if err != nil {
		return 0, err
	}
	if err := s.Send(&pb.LeaseKeepAliveRequest{ID: int64(id)}); err != nil {
		l.drop(w.ID)
		return 0, err
	}
	r, err := s.Recv()
	if err != nil {
		l.drop(w.ID)
		return 0, err
	}
	if r.TTL <= 0 {
		return 0, fmt.Errorf("lease %x expired", id)
	}
	return 0, nil
}

// stream is requester id's keep-alive stream, opened on first use (in the
// warm-up, when there is one) and kept across phases.
func (l *LeaseKeepAlive) stream(c *clientv3.Client, id int) (pb.Lease_LeaseKeepAliveClient, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.streams[id]; s != nil {
		return s, nil
	}
	s, err := pb.NewLeaseClient(c.ActiveConnection()).LeaseKeepAlive(l.ctx)
	if err != nil {
		return nil, err
	}
	l.streams[id] = s
	return s, nil
}

func (l *LeaseKeepAlive) drop(id int) {
	l.mu.Lock()
	delete(l.streams, id)
	l.mu.Unlock()
}
