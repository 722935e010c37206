package lease

import (
	"github.com/cockroachdb/pebble/v2"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Applier is the lease state machine: it applies committed LeaseGrant,
// LeaseRevoke and LeaseCheckpoint entries. It implements apply.Handler.
type Applier struct {
	l     *Lessor
	store *mvcc.Store
}

// NewApplier returns the lease state machine over l and store.
func NewApplier(l *Lessor, store *mvcc.Store) *Applier { return &Applier{l: l, store: store} }

var _ apply.Handler = (*Applier)(nil)

// Apply implements apply.Handler. Responses carry a header with the
// revision where the entry left the store (the revoke's own revision); the
// service completes it.
func (a *Applier) Apply(b *pebble.Batch, _ uint64, req *raftpbv1.Request) (apply.Result, bool, error) {
	var r apply.Result
	switch op := req.Op.(type) {
	case *raftpbv1.Request_LeaseGrant:
		g := op.LeaseGrant
		ttl, err := a.l.Grant(b, g.ID, g.TTL)
		if err != nil {
			r.Err = err
			break
		}
		r.Resp = &pb.LeaseGrantResponse{ID: g.ID, TTL: ttl}
	case *raftpbv1.Request_LeaseRevoke:
		id := op.LeaseRevoke.ID
		if !a.l.Exists(id) {
			r.Err = rpcerr.ErrLeaseNotFound
			break
		}
		// The keys and the lease record go in the same batch: a crash
		// cannot leave keys of a revoked lease, nor a lease whose keys are
		// gone (etcd's reason for the same order).
		_, rev, err := a.store.RevokeLease(b, id)
		if err != nil {
			return r, true, err
		}
		if err := a.l.Revoke(b, id); err != nil {
			return r, true, err
		}
		r.Resp = &pb.LeaseRevokeResponse{Header: &pb.ResponseHeader{Revision: rev}}
	case *raftpbv1.Request_LeaseCheckpoint:
		if err := a.l.Checkpoint(b, op.LeaseCheckpoint.Checkpoints); err != nil {
			return r, true, err
		}
		r.Resp = &pb.LeaseCheckpointResponse{}
	default:
		return r, false, nil
	}
	if r.Err != nil && rpcerr.As(r.Err) == nil {
		// Not a client-visible failure: the batch is unusable.
		return r, true, r.Err
	}
	return r, true, nil
}

// Committed implements apply.Handler.
func (a *Applier) Committed(*pebble.Batch) { a.l.Committed() }

// Aborted implements apply.Handler.
func (a *Applier) Aborted(*pebble.Batch) { a.l.Aborted() }
