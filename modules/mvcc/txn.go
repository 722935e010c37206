package mvcc

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Txn applies a TxnRequest as one etcd write txn: the compares are evaluated
// on the state before the txn, every check of the chosen branches (range
// revisions, ignore_value/ignore_lease keys, leases) is done before anything is
// written, and all writes share one revision with increasing sub-revisions.
// Reads in the txn see its earlier writes. A txn that writes nothing does not
// advance the revision.
//
// An error returned after the checks passed comes from pebble and leaves b
// with part of the txn: the caller must abort the batch.
func (s *Store) Txn(b *pebble.Batch, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	a, err := s.begin(b)
	if err != nil {
		return nil, err
	}
	x := &txnRunner{ctx: context.Background(), s: s, rd: b, rev: a.rev, compactRev: a.compactRev, a: a}
	path, err := x.compareToPath(r)
	if err != nil {
		return nil, err
	}
	var sim []simOp
	if _, err := x.check(r, path, &sim); err != nil {
		return nil, err
	}
	x.w = s.newWtxn(a)
	resp, _ := newTxnResp(r, path)
	if _, err := x.exec(r, path, resp); err != nil {
		return nil, fmt.Errorf("mvcc: txn failed after its checks (batch unusable): %w", err)
	}
	x.w.end()
	resp.Header.Revision = x.w.rev()
	return resp, nil
}

// errNotReadOnly is returned by ReadTxn for a txn with writes.
var errNotReadOnly = errors.New("mvcc: ReadTxn of a txn with writes")

// ReadTxn executes a txn whose every op (in both branches) is a range — what
// etcd serves locally for serializable txns — on the state of the last
// Committed batch.
func (s *Store) ReadTxn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if !IsTxnReadOnly(r) {
		return nil, errNotReadOnly
	}
	v, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer v.release()
	x := &txnRunner{ctx: ctx, s: s, rd: v.snap, rev: v.rev, compactRev: v.compactRev}
	path, err := x.compareToPath(r)
	if err != nil {
		return nil, err
	}
	if _, err := x.check(r, path, nil); err != nil {
		return nil, err
	}
	resp, _ := newTxnResp(r, path)
	if _, err := x.exec(r, path, resp); err != nil {
		return nil, err
	}
	resp.Header.Revision = v.rev
	return resp, nil
}

// IsTxnReadOnly reports whether every op of both branches is a range, as
// etcd's IsTxnReadonly.
func IsTxnReadOnly(r *pb.TxnRequest) bool {
	for _, u := range r.GetSuccess() {
		if u.GetRequestRange() == nil {
			return false
		}
	}
	for _, u := range r.GetFailure() {
		if u.GetRequestRange() == nil {
			return false
		}
	}
	return true
}

// txnRunner executes a txn over rd: the apply batch with w set, or a
// snapshot for a read-only txn.
type txnRunner struct {
	ctx        context.Context
	s          *Store
	rd         reader
	rev        int64 // revision of rd before the txn
	compactRev int64
	w          *wtxn
	a          *applyState // in apply: its key filter spares lookups; else nil
}

// absent reports whether the apply side's key filter rules key out.
func (x *txnRunner) absent(key []byte) bool { return x.a != nil && x.a.absent(key) }

func (x *txnRunner) curRev() int64 {
	if x.w != nil {
		return x.w.rev()
	}
	return x.rev
}

// An op whose inner request is nil is treated as an empty op (etcd would
// dereference it); every pass below agrees on that, so paths stay aligned.
func branch(r *pb.TxnRequest, ok bool) []*pb.RequestOp {
	if ok {
		return r.GetSuccess()
	}
	return r.GetFailure()
}

// compareToPath evaluates the compares of r and of the txns nested in the
// chosen branch, depth first, as etcd's compareToPath.
func (x *txnRunner) compareToPath(r *pb.TxnRequest) ([]bool, error) {
	ok, err := x.applyCompares(r.GetCompare())
	if err != nil {
		return nil, err
	}
	path := []bool{ok}
	for _, op := range branch(r, ok) {
		nested := op.GetRequestTxn()
		if nested == nil {
			continue
		}
		sub, err := x.compareToPath(nested)
		if err != nil {
			return nil, err
		}
		path = append(path, sub...)
	}
	return path, nil
}

func (x *txnRunner) applyCompares(cmps []*pb.Compare) (bool, error) {
	for _, c := range cmps {
		ok, err := x.applyCompare(c)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// applyCompare is etcd's applyCompare: every key of the range must satisfy
// the compare; with no key, a VALUE compare fails and others compare against
// the zero KeyValue.
func (x *txnRunner) applyCompare(c *pb.Compare) (bool, error) {
	if len(c.GetRangeEnd()) == 0 && x.absent(c.GetKey()) {
		// A create's "mod_revision == 0" (Kubernetes' every create).
		return compareMissing(c), nil
	}
	sp := span{key: c.GetKey(), end: mkGteRange(c.GetRangeEnd()), rev: x.curRev(), live: true, noValues: c.GetTarget() != pb.Compare_VALUE}
	cur, err := sp.open(x.ctx, x.rd, false)
	if err != nil {
		return false, err
	}
	defer cur.close()
	seen := false
	for cur.next() {
		seen = true
		rec, err := cur.record()
		if err != nil {
			return false, err
		}
		if !compareKV(c, &rec) {
			return false, nil
		}
	}
	if err := cur.err(); err != nil {
		return false, err
	}
	if !seen {
		return compareMissing(c), nil
	}
	return true, nil
}

// compareMissing is c's result when no key matches: a VALUE compare fails,
// the others compare against the zero KeyValue.
func compareMissing(c *pb.Compare) bool {
	return c.GetTarget() != pb.Compare_VALUE && compareKV(c, &record{})
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareKV(c *pb.Compare, rec *record) bool {
	var result int
	switch c.GetTarget() {
	case pb.Compare_VALUE:
		result = bytes.Compare(rec.value, c.GetValue())
	case pb.Compare_CREATE:
		result = cmpInt64(rec.create, c.GetCreateRevision())
	case pb.Compare_MOD:
		result = cmpInt64(rec.mod, c.GetModRevision())
	case pb.Compare_VERSION:
		result = cmpInt64(rec.version, c.GetVersion())
	case pb.Compare_LEASE:
		result = cmpInt64(rec.lease, c.GetLease())
	}
	switch c.GetResult() {
	case pb.Compare_EQUAL:
		return result == 0
	case pb.Compare_NOT_EQUAL:
		return result != 0
	case pb.Compare_GREATER:
		return result > 0
	case pb.Compare_LESS:
		return result < 0
	}
	return true
}

// simOp is a write of the chosen path, in execution order, for check's
// simulation of which keys exist when an ignore_* put executes.
type simOp struct {
	key, end []byte // end as mkGteRange; del only
	del      bool
}

func (o *simOp) affects(key []byte) (exists, ok bool) {
	if !o.del {
		return true, bytes.Equal(o.key, key)
	}
	switch {
	case o.end == nil:
		return false, bytes.Equal(o.key, key)
	case len(o.end) == 0:
		return false, bytes.Compare(key, o.key) >= 0
	default:
		return false, bytes.Compare(key, o.key) >= 0 && bytes.Compare(key, o.end) < 0
	}
}

// check is etcd's checkTxn over the chosen path: range revisions against
// the revision before the txn, ignore_value/ignore_lease keys against the
// state before the txn, leases. etcd panics when an ignore_* put finds its
// key deleted by an earlier op of the same txn (the kv service's
// duplicate-key check normally prevents it); sim catches that case here, so
// it fails with ErrKeyNotFound before anything is written. sim is nil for a
// read-only txn.
func (x *txnRunner) check(r *pb.TxnRequest, path []bool, sim *[]simOp) (int, error) {
	txnCount := 0
	for _, op := range branch(r, path[0]) {
		switch tv := op.GetRequest().(type) {
		case *pb.RequestOp_RequestRange:
			if rr := tv.RequestRange; rr != nil {
				switch {
				case rr.Revision == 0:
				case rr.Revision > x.rev:
					return 0, rpcerr.ErrFutureRev
				case rr.Revision < x.compactRev:
					return 0, rpcerr.ErrCompacted
				}
			}
		case *pb.RequestOp_RequestPut:
			p := tv.RequestPut
			if p == nil || sim == nil {
				continue
			}
			if p.IgnoreValue || p.IgnoreLease {
				ok, err := x.exists(p.Key)
				if err != nil {
					return 0, err
				}
				if !ok || !existsAfter(*sim, p.Key) {
					return 0, rpcerr.ErrKeyNotFound
				}
			}
			if p.Lease != 0 && !x.s.leaseExists(p.Lease) {
				return 0, rpcerr.ErrLeaseNotFound
			}
			*sim = append(*sim, simOp{key: p.Key})
		case *pb.RequestOp_RequestDeleteRange:
			d := tv.RequestDeleteRange
			if d == nil || sim == nil {
				continue
			}
			*sim = append(*sim, simOp{key: d.Key, end: mkGteRange(d.RangeEnd), del: true})
		case *pb.RequestOp_RequestTxn:
			if tv.RequestTxn == nil {
				continue
			}
			txns, err := x.check(tv.RequestTxn, path[1:], sim)
			if err != nil {
				return 0, err
			}
			txnCount += txns + 1
			path = path[txns+1:]
		}
	}
	return txnCount, nil
}

// existsAfter reports whether key (which exists before the txn) still exists
// after the simulated ops.
func existsAfter(sim []simOp, key []byte) bool {
	for i := len(sim) - 1; i >= 0; i-- {
		if exists, ok := sim[i].affects(key); ok {
			return exists
		}
	}
	return true
}

func (x *txnRunner) exists(key []byte) (bool, error) {
	if x.absent(key) {
		return false, nil
	}
	_, closer, err := x.rd.Get(appendLiveKey(nil, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	closer.Close()
	return true, nil
}

// newTxnResp allocates the response tree of the chosen path, as etcd's
// newTxnResp (nested txn responses keep an empty header, as in etcd).
func newTxnResp(r *pb.TxnRequest, path []bool) (*pb.TxnResponse, int) {
	reqs := branch(r, path[0])
	resps := make([]*pb.ResponseOp, len(reqs))
	resp := &pb.TxnResponse{Responses: resps, Succeeded: path[0], Header: &pb.ResponseHeader{}}
	txnCount := 0
	for i, req := range reqs {
		switch tv := req.GetRequest().(type) {
		case *pb.RequestOp_RequestRange:
			resps[i] = &pb.ResponseOp{Response: &pb.ResponseOp_ResponseRange{}}
		case *pb.RequestOp_RequestPut:
			resps[i] = &pb.ResponseOp{Response: &pb.ResponseOp_ResponsePut{}}
		case *pb.RequestOp_RequestDeleteRange:
			resps[i] = &pb.ResponseOp{Response: &pb.ResponseOp_ResponseDeleteRange{}}
		case *pb.RequestOp_RequestTxn:
			if tv.RequestTxn == nil {
				resps[i] = &pb.ResponseOp{}
				continue
			}
			sub, txns := newTxnResp(tv.RequestTxn, path[1:])
			resps[i] = &pb.ResponseOp{Response: &pb.ResponseOp_ResponseTxn{ResponseTxn: sub}}
			path = path[1+txns:]
			txnCount += txns + 1
		default:
			resps[i] = &pb.ResponseOp{} // etcd leaves nil; same bytes on the wire
		}
	}
	return resp, txnCount
}

// exec is etcd's executeTxn.
func (x *txnRunner) exec(r *pb.TxnRequest, path []bool, resp *pb.TxnResponse) (int, error) {
	txns := 0
	for i, req := range branch(r, path[0]) {
		respi := resp.Responses[i].Response
		switch tv := req.GetRequest().(type) {
		case *pb.RequestOp_RequestRange:
			if tv.RequestRange == nil {
				continue
			}
			rr, err := execRange(x.ctx, x.rd, x.curRev(), x.compactRev, tv.RequestRange)
			if err != nil {
				return 0, fmt.Errorf("txn range: %w", err)
			}
			respi.(*pb.ResponseOp_ResponseRange).ResponseRange = rr
		case *pb.RequestOp_RequestPut:
			if tv.RequestPut == nil {
				continue
			}
			if x.w == nil {
				return 0, errNotReadOnly
			}
			pr, err := x.w.put(tv.RequestPut)
			if err != nil {
				return 0, fmt.Errorf("txn put: %w", err)
			}
			respi.(*pb.ResponseOp_ResponsePut).ResponsePut = pr
		case *pb.RequestOp_RequestDeleteRange:
			if tv.RequestDeleteRange == nil {
				continue
			}
			if x.w == nil {
				return 0, errNotReadOnly
			}
			dr, err := x.w.deleteRange(tv.RequestDeleteRange)
			if err != nil {
				return 0, fmt.Errorf("txn delete: %w", err)
			}
			respi.(*pb.ResponseOp_ResponseDeleteRange).ResponseDeleteRange = dr
		case *pb.RequestOp_RequestTxn:
			if tv.RequestTxn == nil {
				continue
			}
			sub := respi.(*pb.ResponseOp_ResponseTxn).ResponseTxn
			n, err := x.exec(tv.RequestTxn, path[1:], sub)
			if err != nil {
				return 0, err
			}
			txns += n + 1
			path = path[n+1:]
		}
	}
	return txns, nil
}
