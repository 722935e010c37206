package kv

import (
	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// The checks below run before a request is proposed, in the order etcd's
// v3rpc/key.go runs them, so that the same bad request gets the same error.

func checkRange(r *pb.RangeRequest) error {
	if len(r.Key) == 0 {
		return rpcerr.ErrEmptyKey
	}
	if _, ok := pb.RangeRequest_SortOrder_name[int32(r.SortOrder)]; !ok {
		return rpcerr.ErrInvalidSortOption
	}
	if _, ok := pb.RangeRequest_SortTarget_name[int32(r.SortTarget)]; !ok {
		return rpcerr.ErrInvalidSortOption
	}
	return nil
}

func checkPut(r *pb.PutRequest) error {
	if len(r.Key) == 0 {
		return rpcerr.ErrEmptyKey
	}
	if r.IgnoreValue && len(r.Value) != 0 {
		return rpcerr.ErrValueProvided
	}
	if r.IgnoreLease && r.Lease != 0 {
		return rpcerr.ErrLeaseProvided
	}
	return nil
}

func checkDelete(r *pb.DeleteRangeRequest) error {
	if len(r.Key) == 0 {
		return rpcerr.ErrEmptyKey
	}
	return nil
}

func checkTxn(r *pb.TxnRequest, maxTxnOps int) error {
	opc := max(len(r.Compare), len(r.Success), len(r.Failure))
	if opc > maxTxnOps {
		return rpcerr.ErrTooManyOps
	}
	for _, c := range r.Compare {
		if len(c.Key) == 0 {
			return rpcerr.ErrEmptyKey
		}
	}
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, u := range ops {
			if err := checkOp(u, maxTxnOps-opc); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkOp(u *pb.RequestOp, maxTxnOps int) error {
	switch uv := u.GetRequest().(type) {
	case *pb.RequestOp_RequestRange:
		return checkRange(uv.RequestRange)
	case *pb.RequestOp_RequestPut:
		return checkPut(uv.RequestPut)
	case *pb.RequestOp_RequestDeleteRange:
		return checkDelete(uv.RequestDeleteRange)
	case *pb.RequestOp_RequestTxn:
		return checkTxn(uv.RequestTxn, maxTxnOps)
	default:
		// An empty op: etcd answers "key not found".
		return rpcerr.ErrKeyNotFound
	}
}

// interval is a deleted key range [begin, end) where an empty end is +inf
// and an end of begin+"\x00" is a single key: etcd's "string affine"
// intervals. A from-key delete ("\x00" end) then covers no put, as in etcd.
type interval struct{ begin, end string }

func (iv interval) contains(k string) bool {
	return k >= iv.begin && (iv.end == "" || k < iv.end)
}

func deleteInterval(d *pb.DeleteRangeRequest) interval {
	if len(d.RangeEnd) != 0 {
		return interval{string(d.Key), string(d.RangeEnd)}
	}
	return interval{string(d.Key), string(d.Key) + "\x00"}
}

func anyContains(ivs []interval, k string) bool {
	for _, iv := range ivs {
		if iv.contains(k) {
			return true
		}
	}
	return false
}

// checkIntervals rejects a txn branch that writes one key twice: two puts of
// a key, or a put of a key that a delete in the same branch covers. Puts in
// the then and else branches of a nested txn may overlap (only one runs).
// It mirrors etcd's checkIntervals.
func checkIntervals(reqs []*pb.RequestOp) (map[string]struct{}, []interval, error) {
	var dels []interval
	for _, req := range reqs {
		if tv, ok := req.GetRequest().(*pb.RequestOp_RequestDeleteRange); ok && tv.RequestDeleteRange != nil {
			dels = append(dels, deleteInterval(tv.RequestDeleteRange))
		}
	}
	puts := make(map[string]struct{})
	for _, req := range reqs {
		tv, ok := req.GetRequest().(*pb.RequestOp_RequestTxn)
		if !ok || tv.RequestTxn == nil {
			continue
		}
		putsThen, delsThen, err := checkIntervals(tv.RequestTxn.Success)
		if err != nil {
			return nil, dels, err
		}
		putsElse, delsElse, err := checkIntervals(tv.RequestTxn.Failure)
		if err != nil {
			return nil, dels, err
		}
		for k := range putsThen {
			if _, ok := puts[k]; ok || anyContains(dels, k) {
				return nil, dels, rpcerr.ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		for k := range putsElse {
			if _, ok := puts[k]; ok {
				if _, safe := putsThen[k]; !safe {
					return nil, dels, rpcerr.ErrDuplicateKey
				}
			}
			if anyContains(dels, k) {
				return nil, dels, rpcerr.ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		dels = append(dels, delsThen...)
		dels = append(dels, delsElse...)
	}
	for _, req := range reqs {
		tv, ok := req.GetRequest().(*pb.RequestOp_RequestPut)
		if !ok || tv.RequestPut == nil {
			continue
		}
		k := string(tv.RequestPut.Key)
		if _, ok := puts[k]; ok || anyContains(dels, k) {
			return nil, dels, rpcerr.ErrDuplicateKey
		}
		puts[k] = struct{}{}
	}
	return puts, dels, nil
}
