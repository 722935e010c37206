package kv

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Result is what applying one proposal gives its proposer.
type Result struct {
	Resp proto.Message
	Err  error
	// Done is closed when a compaction's physical removal has finished.
	Done <-chan struct{}
}

// Applier applies committed raft entries (cairn.raftpb.v1.Request envelopes)
// to the MVCC store. It implements raftlog.Applier.
type Applier struct {
	store *mvcc.Store
	req   raftpbv1.Request // reused: apply runs on one goroutine
}

// NewApplier returns the state machine of the KV service over store.
func NewApplier(store *mvcc.Store) *Applier { return &Applier{store: store} }

// ApplyEntry implements raftlog.Applier. A client-visible error (an
// rpcerr: compacted, lease not found, ...) is the proposer's result; any
// other error of the store is a storage failure that leaves b unusable.
func (a *Applier) ApplyEntry(b *pebble.Batch, index uint64, data []byte) (uint64, any, error) {
	req := &a.req
	proto.Reset(req)
	if err := proto.Unmarshal(data, req); err != nil {
		// Every member fails the same way on the same bytes: deterministic,
		// and nothing was written.
		return 0, Result{Err: fmt.Errorf("kv: entry %d: %w", index, err)}, nil
	}
	var r Result
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
		r.Err = fmt.Errorf("kv: entry %d: unknown request", index)
	}
	if r.Err != nil && rpcerr.As(r.Err) == nil && req.Op != nil {
		return req.Id, nil, r.Err
	}
	return req.Id, r, nil
}

// Committed implements raftlog.Applier.
func (a *Applier) Committed(b *pebble.Batch) { a.store.Committed(b) }

// Aborted implements raftlog.Applier.
func (a *Applier) Aborted(b *pebble.Batch) { a.store.Aborted(b) }
