package lease

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Raft is what the service needs of the raft node (*raftlog.Node).
type Raft interface {
	NextID() uint64
	Propose(ctx context.Context, id uint64, data []byte) (any, error)
	ReadIndex(ctx context.Context) error
	Status() raftlog.Status
}

// ServiceConfig configures the Service.
type ServiceConfig struct {
	// MaxRequestBytes is --max-request-bytes (default 1.5 MiB).
	MaxRequestBytes uint
	// ElectionTimeout is --election-timeout: what a new primary adds to
	// every lease's remaining TTL (default 1s).
	ElectionTimeout time.Duration
	// LoopInterval is how often the primary looks for expired leases and
	// due checkpoints (default 500ms, etcd's). Each round revokes at most
	// RevokeRate × LoopInterval leases.
	LoopInterval time.Duration
	// RequestTimeout bounds a proposal of the expiry loop (default 7s).
	RequestTimeout time.Duration
	Logger         *zap.Logger
}

// maxPendingRevokes is how many revokes of expired leases are in flight at
// once (etcd's).
const maxPendingRevokes = 16

// Service is etcd's Lease service over a Lessor, and the expiry loop of the
// primary. Start runs the loop; Stop ends it.
type Service struct {
	pb.UnimplementedLeaseServer
	cfg   ServiceConfig
	lcfg  Config
	l     *Lessor
	store *mvcc.Store
	raft  Raft
	log   *zap.Logger

	// promoteMu serializes leadership changes of the Lessor; primaryTerm
	// is the raft term it was promoted in (read without promoteMu by
	// ensurePrimary).
	promoteMu   sync.Mutex
	primaryTerm atomic.Uint64

	ctx        context.Context
	cancel     context.CancelFunc
	revokec    chan []int64
	revokeIdle atomic.Bool
	wg         sync.WaitGroup
	startOnce  sync.Once
	stopOnce   sync.Once
}

// NewService returns the Lease service.
func NewService(cfg ServiceConfig, l *Lessor, store *mvcc.Store, r Raft) *Service {
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 1536 * 1024
	}
	if cfg.ElectionTimeout <= 0 {
		cfg.ElectionTimeout = time.Second
	}
	if cfg.LoopInterval <= 0 {
		cfg.LoopInterval = 500 * time.Millisecond
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 7 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, lcfg: l.cfg, l: l, store: store, raft: r, log: cfg.Logger,
		ctx: ctx, cancel: cancel, revokec: make(chan []int64, 1)}
	s.revokeIdle.Store(true)
	return s
}

// Start runs the expiry loop (call it once raft serves).
func (s *Service) Start() {
	s.startOnce.Do(func() {
		s.wg.Add(2)
		go s.run()
		go s.revoker()
	})
}

// Stop ends the expiry loop and waits for it; proposals it has in flight are
// canceled.
func (s *Service) Stop() {
	s.stopOnce.Do(s.cancel)
	s.wg.Wait()
}

func (s *Service) header(h *pb.ResponseHeader) *pb.ResponseHeader {
	if h == nil {
		h = &pb.ResponseHeader{Revision: s.store.Rev()}
	}
	apply.FillHeader(h, s.raft.Status())
	return h
}

func (s *Service) propose(ctx context.Context, req *raftpbv1.Request) (apply.Result, error) {
	return apply.Propose(ctx, s.raft, s.cfg.MaxRequestBytes, req)
}

// LeaseGrant implements etcdserverpb.LeaseServer. A request without an ID
// gets one here, before proposing, so that every member grants the same
// lease: etcd's — the member's request-ID generator, masked positive,
// never 0.
func (s *Service) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	req := &pb.LeaseGrantRequest{ID: r.ID, TTL: r.TTL}
	for req.ID == 0 {
		req.ID = int64(s.raft.NextID() & (1<<63 - 1))
	}
	res, err := s.propose(ctx, &raftpbv1.Request{Op: &raftpbv1.Request_LeaseGrant{LeaseGrant: req}})
	if err != nil {
		return nil, err
	}
	resp := res.Resp.(*pb.LeaseGrantResponse)
	resp.Header = s.header(nil)
	return resp, nil
}

// LeaseRevoke implements etcdserverpb.LeaseServer.
func (s *Service) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	res, err := s.propose(ctx, &raftpbv1.Request{Op: &raftpbv1.Request_LeaseRevoke{LeaseRevoke: &pb.LeaseRevokeRequest{ID: r.ID}}})
	if err != nil {
		return nil, err
	}
	resp := res.Resp.(*pb.LeaseRevokeResponse)
	resp.Header = s.header(resp.Header)
	return resp, nil
}

// LeaseTimeToLive implements etcdserverpb.LeaseServer: answered by the
// leader once it has applied everything committed (etcd's leaseTimeToLive).
// An unknown lease is not an error: TTL -1.
func (s *Service) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	if err := s.ensurePrimary(ctx); err != nil {
		return nil, err
	}
	st, ok := s.l.Lookup(r.ID)
	if !ok {
		return &pb.LeaseTimeToLiveResponse{Header: s.header(nil), ID: r.ID, TTL: -1}, nil
	}
	if !st.Primary {
		// Demoted while looking: the remaining TTL is unknown here.
		return nil, rpcerr.ErrLeaderChanged
	}
	resp := &pb.LeaseTimeToLiveResponse{ID: r.ID, TTL: int64(st.Remaining.Seconds()), GrantedTTL: st.GrantedTTL}
	if r.Keys {
		keys, err := s.store.LeaseKeys(ctx, r.ID)
		if err != nil {
			return nil, apply.ToRPC(err)
		}
		resp.Keys = keys
	}
	resp.Header = s.header(nil)
	return resp, nil
}

// LeaseLeases implements etcdserverpb.LeaseServer: every lease this member
// knows, soonest expiry first.
func (s *Service) LeaseLeases(context.Context, *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	ids := s.l.Leases()
	ls := make([]*pb.LeaseStatus, len(ids))
	for i, id := range ids {
		ls[i] = &pb.LeaseStatus{ID: id}
	}
	return &pb.LeaseLeasesResponse{Header: s.header(nil), Leases: ls}, nil
}

// LeaseKeepAlive implements etcdserverpb.LeaseServer: one stream renews any
// number of leases, one request at a time, as etcd's does. A lease that
// does not exist is answered with TTL 0 (not an error); any other failure
// ends the stream.
//
// etcd runs the loop in a goroutine of its own so that the handler returns
// as soon as the stream's context ends; here every wait of the loop (Recv,
// ReadIndex, Renew) already ends with the context, so the handler's
// goroutine runs it (a goroutine less per stream: clientv3's KeepAliveOnce
// opens a stream per renewal).
func (s *Service) LeaseKeepAlive(stream grpc.BidiStreamingServer[pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse]) error {
	err := s.keepAlive(stream)
	if ctxErr := stream.Context().Err(); err != nil && ctxErr != nil {
		// As etcd: the only server-side cancellation is require-leader.
		if errors.Is(ctxErr, context.Canceled) {
			return rpcerr.ErrNoLeader
		}
		return ctxErr
	}
	return err
}

func (s *Service) keepAlive(stream grpc.BidiStreamingServer[pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse]) error {
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// The header is taken before the renewal (etcd's reason): its
		// revision is never past a revoke that the renewal could miss.
		resp := &pb.LeaseKeepAliveResponse{ID: req.ID, Header: s.header(nil)}
		ttl, err := s.renew(ctx, req.ID)
		if errors.Is(err, rpcerr.ErrLeaseNotFound) {
			ttl, err = 0, nil
		}
		if err != nil {
			return err
		}
		resp.TTL = ttl
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// renew is etcd's LeaseRenew on the leader: confirm leadership and catch up
// with everything committed, then renew in the primary Lessor.
func (s *Service) renew(ctx context.Context, id int64) (int64, error) {
	if err := s.ensurePrimary(ctx); err != nil {
		return -1, err
	}
	ttl, err := s.l.Renew(ctx, id, s.checkpoint)
	if errors.Is(err, ErrNotPrimary) {
		// Demoted since ensurePrimary: the leadership moved.
		return -1, rpcerr.ErrLeaderChanged
	}
	if err != nil {
		return -1, apply.ToRPC(err)
	}
	return ttl, nil
}

// ensurePrimary returns once this member is confirmed leader, has applied
// every committed entry, and its Lessor is the primary. Keep-alives and
// TimeToLive are the leader's to answer; a follower would forward them to
// the leader, which needs the peer transport (single-member clusters only so
// far): it answers ErrNotLeader.
func (s *Service) ensurePrimary(ctx context.Context) error {
	st := s.raft.Status()
	if st.Leader == 0 {
		return rpcerr.ErrNoLeader
	}
	if st.Leader != st.MemberID {
		return rpcerr.ErrNotLeader
	}
	// etcd's ensureLeadership + waitAppliedIndex: one ReadIndex round does
	// both (batched with concurrent reads; free for a sole voter).
	if err := s.raft.ReadIndex(ctx); err != nil {
		return apply.ToRPC(err)
	}
	// A Lessor promoted in an earlier term holds that term's deadlines: if
	// the leadership was lost and regained meanwhile, sync first.
	if s.l.IsPrimary() && s.primaryTerm.Load() == st.Term {
		return nil
	}
	return s.syncLeadership(ctx)
}

// syncLeadership promotes the Lessor when this member leads and demotes it
// when it does not (or leads in a newer term than it was promoted in).
// Promotion waits until every entry of earlier terms is applied (a ReadIndex
// round), as etcd promotes on applying its term's first entry.
func (s *Service) syncLeadership(ctx context.Context) error {
	s.promoteMu.Lock()
	defer s.promoteMu.Unlock()
	st := s.raft.Status()
	leader := st.Leader == st.MemberID && st.Leader != 0
	primary := s.l.IsPrimary()
	if primary && (!leader || st.Term != s.primaryTerm.Load()) {
		s.l.Demote()
		primary = false
		s.log.Info("lease: demoted", zap.Uint64("term", st.Term))
	}
	if !leader {
		if st.Leader == 0 {
			return rpcerr.ErrNoLeader
		}
		return rpcerr.ErrNotLeader
	}
	if primary {
		return nil
	}
	if err := s.raft.ReadIndex(ctx); err != nil {
		return apply.ToRPC(err)
	}
	if now := s.raft.Status(); now.Leader != st.MemberID || now.Term != st.Term {
		return rpcerr.ErrLeaderChanged
	}
	s.l.Promote(s.cfg.ElectionTimeout)
	s.primaryTerm.Store(st.Term)
	s.log.Info("lease: promoted", zap.Uint64("term", st.Term), zap.Int("leases", s.l.Len()))
	return nil
}

// checkpoint proposes checkpoints (the Lessor's Checkpointer).
func (s *Service) checkpoint(ctx context.Context, r *pb.LeaseCheckpointRequest) error {
	_, err := s.propose(ctx, &raftpbv1.Request{Op: &raftpbv1.Request_LeaseCheckpoint{LeaseCheckpoint: r}})
	return err
}

// run is the primary's loop: keep the Lessor's leadership in step with
// raft's, hand expired leases to the revoker, propose due checkpoints.
func (s *Service) run() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.LoopInterval)
	defer t.Stop()
	for {
		s.step()
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
	}
}

// revokesPerRound is the revoke budget of one loop round: RevokeRate a
// second, spread over the rounds (etcd: rate/2 per 500 ms).
func (s *Service) revokesPerRound() int {
	n := int(float64(s.lcfg.RevokeRate) * s.cfg.LoopInterval.Seconds())
	return max(n, 1)
}

func (s *Service) step() {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	defer cancel()
	if err := s.syncLeadership(ctx); err != nil {
		return
	}
	// Only when the previous batch is done: a batch found is marked for a
	// retry after ExpiredRetry, so finding more than can be sent would only
	// delay them.
	if s.revokeIdle.Load() {
		if ids := s.l.FindExpired(s.revokesPerRound()); len(ids) > 0 {
			s.revokeIdle.Store(false)
			s.revokec <- ids // cap 1, and the revoker is idle: never blocks
		}
	}
	s.proposeCheckpoints(ctx)
}

// proposeCheckpoints proposes the due checkpoints, in entries of up to
// maxCheckpointBatch, at most RevokeRate's worth of entries per round
// (etcd: leaseCheckpointRate/2 per 500 ms).
func (s *Service) proposeCheckpoints(ctx context.Context) {
	for range s.revokesPerRound() {
		cps := s.l.DueCheckpoints(maxCheckpointBatch)
		if len(cps) == 0 {
			return
		}
		if err := s.checkpoint(ctx, &pb.LeaseCheckpointRequest{Checkpoints: cps}); err != nil {
			s.log.Warn("lease: checkpoint failed", zap.Int("leases", len(cps)), zap.Error(err))
			return
		}
		if len(cps) < maxCheckpointBatch {
			return
		}
	}
}

// revoker proposes a LeaseRevoke for each expired lease handed to it,
// maxPendingRevokes at a time. A revoke that fails is retried when the
// lease is found expired again.
func (s *Service) revoker() {
	defer s.wg.Done()
	for {
		var ids []int64
		select {
		case ids = <-s.revokec:
		case <-s.ctx.Done():
			return
		}
		s.revokeAll(ids)
		s.revokeIdle.Store(true)
	}
}

func (s *Service) revokeAll(ids []int64) {
	// Only the leader revokes (etcd #15247: a member stuck on its disk may
	// still believe it leads): confirm it first.
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	err := s.ensurePrimary(ctx)
	cancel()
	if err != nil {
		s.log.Warn("lease: not revoking expired leases: not the leader", zap.Error(err))
		return
	}
	sem := make(chan struct{}, maxPendingRevokes)
	var wg sync.WaitGroup
	for _, id := range ids {
		select {
		case sem <- struct{}{}:
		case <-s.ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
			defer cancel()
			_, err := s.propose(ctx, &raftpbv1.Request{Op: &raftpbv1.Request_LeaseRevoke{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}}})
			switch {
			case err == nil:
				leaseExpired.Inc()
			case !errors.Is(err, rpcerr.ErrLeaseNotFound):
				s.log.Warn("lease: failed to revoke expired lease", zap.Int64("lease", id), zap.Error(err))
			}
		}()
	}
	wg.Wait()
}
