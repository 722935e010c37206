package watch

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/raftlog"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Config configures the Watch service. The zero value is usable.
type Config struct {
	// MaxRequestBytes is --max-request-bytes (0: 1.5 MiB). A watcher created
	// with fragment gets responses larger than MaxRequestBytes + 512 KiB (etcd's
	// gRPC overhead allowance) split into fragments.
	MaxRequestBytes uint
	// ProgressNotifyInterval is --watch-progress-notify-interval: how often a
	// watcher created with progress_notify hears the current revision when it
	// got no events (0: 10 minutes, etcd's default; at least 100ms, as etcd).
	ProgressNotifyInterval time.Duration
	// LeaderCheckInterval is how often a stream opened with the hasleader
	// metadata checks for a leader; it is cancelled with etcd's "no leader"
	// error after three checks without one, as etcd's monitorLeader does
	// with its election timeout (0: 1s).
	LeaderCheckInterval time.Duration
}

const (
	defaultProgressInterval = 10 * time.Minute
	minProgressInterval     = 100 * time.Millisecond
	grpcOverheadBytes       = 512 * 1024
	maxNoLeaderChecks       = 3
)

// Raft is what the service needs of the raft node: the header fields and
// whether there is a leader.
type Raft interface {
	Status() raftlog.Status
}

// Service is the Watch service core. It implements etcdserverpb.WatchServer;
// the server module adapts it to gRPC and Connect.
type Service struct {
	pb.UnimplementedWatchServer
	cfg   Config
	hub   *Hub
	store Store
	raft  Raft

	// mu orders streams.Add with Close's Wait (a WaitGroup must not be
	// added to from zero while it is waited on).
	mu       sync.Mutex
	closed   bool
	stopping chan struct{}
	streams  sync.WaitGroup
}

// New returns the Watch service over hub, which it attaches to store.
func New(cfg Config, hub *Hub, store Store, r Raft) *Service {
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 1536 * 1024
	}
	if cfg.ProgressNotifyInterval <= 0 {
		cfg.ProgressNotifyInterval = defaultProgressInterval
	}
	cfg.ProgressNotifyInterval = max(cfg.ProgressNotifyInterval, minProgressInterval)
	if cfg.LeaderCheckInterval <= 0 {
		cfg.LeaderCheckInterval = time.Second
	}
	hub.Attach(store)
	return &Service{cfg: cfg, hub: hub, store: store, raft: r, stopping: make(chan struct{})}
}

// Close ends every stream with etcd's "server stopped" (Unavailable: clients
// reconnect) and waits until their handlers returned or ctx ends, so a
// graceful server stop does not wait for streams that never end by
// themselves. A handler whose client stopped reading stays blocked in a
// send until the server closes its connection: Close does not wait for it
// past ctx (the server's forced stop ends it).
func (s *Service) Close(ctx context.Context) {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stopping)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.streams.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// requireLeader reports whether the client sent hasleader=true (clientv3's
// WithRequireLeader).
func requireLeader(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return false
	}
	vs := md.Get("hasleader")
	return len(vs) > 0 && vs[0] == "true"
}

// Watch implements etcdserverpb.WatchServer. A receive loop turns requests
// into hub calls; one send loop drains the stream's outbox. The stream ends
// when the client goes away, a send fails, the server stops (Unavailable) or,
// with hasleader, the member has no leader (Unavailable "no leader"). As in
// etcd, the client closing its sending side does not end it.
func (s *Service) Watch(gs pb.Watch_WatchServer) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return rpcerr.ErrStopped
	}
	s.streams.Add(1)
	s.mu.Unlock()
	defer s.streams.Done()
	ctx, cancel := context.WithCancelCause(gs.Context())
	defer cancel(nil)
	if requireLeader(ctx) {
		if s.raft.Status().Leader == 0 {
			return rpcerr.ErrNoLeader
		}
		go s.monitorLeader(ctx, cancel)
	}

	st := s.hub.newStream()
	defer s.hub.closeStream(st)
	sendErr := make(chan error, 1)
	go func() { sendErr <- s.sendLoop(ctx, st, gs) }()
	recvErr := make(chan error, 1)
	go func() { recvErr <- s.recvLoop(ctx, st, gs) }()

	var err error
	for err == nil {
		select {
		case rerr := <-recvErr:
			if rerr == nil {
				recvErr = nil // the client closed its side: keep sending
				continue
			}
			err = rerr
		case serr := <-sendErr:
			sendErr = nil
			if serr == nil {
				serr = context.Cause(ctx)
			}
			err = serr
		case <-ctx.Done():
			err = context.Cause(ctx)
		case <-s.stopping:
			err = rpcerr.ErrStopped
		}
	}
	cancel(err)
	if sendErr != nil {
		<-sendErr // nothing may Send after the handler returns
	}
	switch {
	case errors.Is(err, rpcerr.ErrNoLeader), errors.Is(err, rpcerr.ErrStopped):
		return err
	case errors.Is(err, context.Canceled):
		return rpcerr.ErrWatchCanceled
	}
	return err
}

func (s *Service) monitorLeader(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(s.cfg.LeaderCheckInterval)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.raft.Status().Leader != 0 {
			misses = 0
			continue
		}
		if misses++; misses >= maxNoLeaderChecks {
			cancel(rpcerr.ErrNoLeader)
			return
		}
	}
}

func (s *Service) recvLoop(ctx context.Context, st *stream, gs pb.Watch_WatchServer) error {
	for {
		req, err := gs.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch u := req.RequestUnion.(type) {
		case *pb.WatchRequest_CreateRequest:
			if u.CreateRequest != nil {
				if err := s.hub.create(st, u.CreateRequest); err != nil {
					return rpcerr.ErrStopped
				}
			}
		case *pb.WatchRequest_CancelRequest:
			if u.CancelRequest != nil {
				s.hub.cancel(st, u.CancelRequest.WatchId)
			}
		case *pb.WatchRequest_ProgressRequest:
			if u.ProgressRequest != nil {
				s.hub.progressAll(st)
			}
		}
		// A client that sends requests but does not read: stop reading
		// its requests (as etcd's bounded control channel does).
		for st.out.full() {
			select {
			case <-st.out.drained:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// progressInterval is the configured interval plus up to a tenth of jitter,
// as etcd's, so watchers created together do not tick together.
func (s *Service) progressInterval() time.Duration {
	iv := s.cfg.ProgressNotifyInterval
	return iv + rand.N(iv/10+1)
}

func (s *Service) sendLoop(ctx context.Context, st *stream, gs pb.Watch_WatchServer) error {
	tick := time.NewTicker(s.progressInterval())
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.hub.progressTick(st)
		default:
		}
		it, ok := st.out.pop()
		if !ok {
			select {
			case <-st.out.ready:
			case <-tick.C:
				s.hub.progressTick(st)
			case <-ctx.Done():
				return nil
			}
			continue
		}
		if err := s.send(ctx, gs, it); err != nil {
			return err
		}
		st.out.sent(it.size)
	}
}

// send completes one queued response (header identity, prev_kv) and sends
// it, in fragments if its watcher asked for them.
func (s *Service) send(ctx context.Context, gs pb.Watch_WatchServer, it outItem) error {
	resp := it.resp
	apply.FillHeader(resp.Header, s.raft.Status())
	w := it.w
	if w == nil || len(resp.Events) == 0 {
		return gs.Send(resp)
	}
	w.sentEvents.Store(true)
	eventsCounter.Add(float64(len(resp.Events)))
	if w.prevKV {
		resp.Events = s.withPrevKV(ctx, resp.Events)
	}
	if w.fragment {
		return sendFragments(resp, int(s.cfg.MaxRequestBytes)+grpcOverheadBytes, gs.Send)
	}
	if it.wire != nil && !w.prevKV {
		return gs.SendMsg(&wireResponse{WatchResponse: resp, wire: it.wire})
	}
	return gs.Send(resp)
}

// withPrevKV returns copies of evs (shared with other watchers and the
// store) with prev_kv read at each event's revision - 1, as etcd's send loop
// does; an event that created its key, or whose previous version was
// compacted, has none.
func (s *Service) withPrevKV(ctx context.Context, evs []*mvccpb.Event) []*mvccpb.Event {
	out := make([]*mvccpb.Event, len(evs))
	for i, ev := range evs {
		c := &mvccpb.Event{Type: ev.Type, Kv: ev.Kv}
		out[i] = c
		if ev.Type == mvccpb.Event_PUT && ev.Kv.CreateRevision == ev.Kv.ModRevision {
			continue
		}
		r, err := s.store.Range(ctx, &pb.RangeRequest{Key: ev.Kv.Key, Revision: ev.Kv.ModRevision - 1})
		if err == nil && len(r.Kvs) > 0 {
			c.PrevKv = r.Kvs[0]
		}
	}
	return out
}

// sendFragments is etcd's: a response of at least limit bytes with two or
// more events goes out as several, each under limit unless it holds a
// single event, all but the last with fragment set.
func sendFragments(wr *pb.WatchResponse, limit int, send func(*pb.WatchResponse) error) error {
	if proto.Size(wr) < limit || len(wr.Events) < 2 {
		return send(wr)
	}
	idx := 0
	for {
		cur := &pb.WatchResponse{
			Header: wr.Header, WatchId: wr.WatchId, Created: wr.Created, Canceled: wr.Canceled,
			CompactRevision: wr.CompactRevision, CancelReason: wr.CancelReason, Fragment: true,
		}
		// proto.Size(cur) kept incrementally: each event adds its field
		// (tag 11 is one byte, then the length and the message).
		size := proto.Size(cur)
		for _, ev := range wr.Events[idx:] {
			size += 1 + protowire.SizeBytes(proto.Size(ev))
			cur.Events = append(cur.Events, ev)
			if len(cur.Events) > 1 && size >= limit {
				cur.Events = cur.Events[:len(cur.Events)-1]
				break
			}
			idx++
		}
		if idx == len(wr.Events) {
			cur.Fragment = false
		}
		if err := send(cur); err != nil {
			return err
		}
		if !cur.Fragment {
			return nil
		}
	}
}
