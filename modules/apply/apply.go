// Package apply is the seam between the raft apply loop and the services'
// state machines. Each service that proposes entries registers a Handler
// (in fx, the value group "appliers"); the Dispatcher decodes every
// committed entry's cairn.raftpb.v1.Request envelope once and hands it to the
// handler that owns its op, so raftlog never imports a service.
//
// Propose is the other half: how a service wraps a request in the envelope,
// proposes it and waits for the Result its handler gave.
package apply

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/fx"
	"google.golang.org/protobuf/proto"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/raftlog"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Result is what applying one proposal gives its proposer.
type Result struct {
	Resp proto.Message
	// Err is a client-visible error (an rpcerr): the request failed the
	// same way on every member and wrote nothing.
	Err error
	// Done, if set, is closed when work the entry started in the background
	// has finished (a compaction's physical removal).
	Done <-chan struct{}
}

// Handler is one service's state machine.
type Handler interface {
	// Apply applies req into b if req's op belongs to this handler (handled
	// is false otherwise, and nothing was done). b is an indexed batch shared
	// by every entry of the apply round: an entry reads the writes of the
	// entries before it. Apply must be deterministic. err is a failure of
	// the state machine itself (storage), after which b is unusable and the
	// member stops; a failed request is a Result with Err set.
	Apply(b *pebble.Batch, index uint64, req *raftpbv1.Request) (r Result, handled bool, err error)
	// Committed is called once b, holding the writes of every handler's
	// entries of the round, is committed; Aborted instead when committing b
	// failed. Both run on the apply goroutine.
	Committed(b *pebble.Batch)
	Aborted(b *pebble.Batch)
}

// Dispatcher implements raftlog.Applier over the registered handlers.
type Dispatcher struct {
	handlers []Handler
	req      raftpbv1.Request // reused: apply runs on one goroutine
}

// New returns a Dispatcher over handlers (order does not matter: each op has
// one owner).
func New(handlers ...Handler) *Dispatcher { return &Dispatcher{handlers: handlers} }

var _ raftlog.Applier = (*Dispatcher)(nil)

// ApplyEntry implements raftlog.Applier.
func (d *Dispatcher) ApplyEntry(b *pebble.Batch, index uint64, data []byte) (uint64, any, error) {
	req := &d.req
	proto.Reset(req)
	if err := proto.Unmarshal(data, req); err != nil {
		// Every member fails the same way on the same bytes: deterministic,
		// and nothing was written.
		return 0, Result{Err: fmt.Errorf("apply: entry %d: %w", index, err)}, nil
	}
	for _, h := range d.handlers {
		r, ok, err := h.Apply(b, index, req)
		if !ok {
			continue
		}
		if err != nil {
			return req.Id, nil, err
		}
		return req.Id, r, nil
	}
	return req.Id, Result{Err: fmt.Errorf("apply: entry %d: no handler for %T", index, req.Op)}, nil
}

// Committed implements raftlog.Applier.
func (d *Dispatcher) Committed(b *pebble.Batch) {
	for _, h := range d.handlers {
		h.Committed(b)
	}
}

// Aborted implements raftlog.Applier.
func (d *Dispatcher) Aborted(b *pebble.Batch) {
	for _, h := range d.handlers {
		h.Aborted(b)
	}
}

// FillHeader completes a response header with what every service's header
// carries besides the revision: the member's cluster and member IDs and the
// current raft term.
func FillHeader(h *pb.ResponseHeader, st raftlog.Status) {
	h.ClusterId, h.MemberId, h.RaftTerm = st.ClusterID, st.MemberID, st.Term
}

// Raft is what Propose needs of the raft node (*raftlog.Node).
type Raft interface {
	NextID() uint64
	Propose(ctx context.Context, id uint64, data []byte) (any, error)
}

// Propose gives req a fresh ID, proposes it (refusing one larger than
// maxBytes with etcd's "request is too large") and waits for its Result.
// The error is client-visible: an rpcerr, Result.Err included.
func Propose(ctx context.Context, r Raft, maxBytes uint, req *raftpbv1.Request) (Result, error) {
	req.Id = r.NextID()
	data, err := proto.Marshal(req)
	if err != nil {
		return Result{}, err
	}
	if uint(len(data)) > maxBytes {
		return Result{}, rpcerr.ErrRequestTooLarge
	}
	v, err := r.Propose(ctx, req.Id, data)
	if err != nil {
		return Result{}, ToRPC(err)
	}
	res := v.(Result)
	if res.Err != nil {
		return Result{}, ToRPC(res.Err)
	}
	return res, nil
}

// ToRPC maps internal errors to the client-visible ones etcd sends.
func ToRPC(err error) error {
	if rpcerr.As(err) != nil {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return rpcerr.ErrCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return rpcerr.ErrTimeout
	case errors.Is(err, raftlog.ErrStopped):
		return rpcerr.ErrStopped
	case errors.Is(err, raftlog.ErrNoLeader):
		return rpcerr.ErrNoLeader
	case errors.Is(err, raftlog.ErrLeaderChanged):
		return rpcerr.ErrLeaderChanged
	case errors.Is(err, raftlog.ErrTimeout):
		return rpcerr.ErrTimeout
	}
	return err
}

// Module provides the Dispatcher as the raftlog.Applier, over every Handler
// in the "appliers" value group.
var Module = fx.Module("apply", fx.Provide(
	fx.Annotate(New, fx.ParamTags(`group:"appliers"`)),
	func(d *Dispatcher) raftlog.Applier { return d },
))

// AsHandler annotates a constructor whose result is a Handler so that it
// joins the "appliers" value group.
func AsHandler(f any) any {
	return fx.Annotate(f, fx.As(new(Handler)), fx.ResultTags(`group:"appliers"`))
}
