package kv

import (
	"github.com/cockroachdb/pebble/v2"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Applier is the KV state machine: it applies committed Put, DeleteRange,
// Txn and Compaction entries to the MVCC store. It implements apply.Handler,
// and hands every committed batch to the store (which publishes the new read
// view and the watch events of all handlers' writes).
type Applier struct{ store *mvcc.Store }

// NewApplier returns the state machine of the KV service over store.
func NewApplier(store *mvcc.Store) *Applier { return &Applier{store: store} }

var _ apply.Handler = (*Applier)(nil)

// Apply implements apply.Handler. A client-visible error (an rpcerr:
// compacted, lease not found, ...) is the proposer's result; any other error
// of the store is a storage failure that leaves b unusable.
func (a *Applier) Apply(b *pebble.Batch, _ uint64, req *raftpbv1.Request) (apply.Result, bool, error) {
	var r apply.Result
	switch op := req.Op.(type) {
	case *raftpbv1.Request_Put:
		r.Resp, r.Err = a.store.Put(b, op.Put)
	case *raftpbv1.Request_DeleteRange:
		r.Resp, r.Err = a.store.DeleteRange(b, op.DeleteRange)
	case *raftpbv1.Request_Txn:
		r.Resp, r.Err = a.store.Txn(b, op.Txn)
	case *raftpbv1.Request_Compaction:
		r.Resp, r.Done, r.Err = a.store.Compact(b, op.Compaction)
	default:
		return r, false, nil
	}
	if r.Err != nil && rpcerr.As(r.Err) == nil {
		return r, true, r.Err
	}
	return r, true, nil
}

// Committed implements apply.Handler.
func (a *Applier) Committed(b *pebble.Batch) { a.store.Committed(b) }

// Aborted implements apply.Handler.
func (a *Applier) Aborted(b *pebble.Batch) { a.store.Aborted(b) }
