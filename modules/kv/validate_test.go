package kv

import (
	"testing"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

func put(k string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k)}}}
}

func del(k, end string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte(k), RangeEnd: []byte(end)}}}
}

func txn(then, els []*pb.RequestOp) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: &pb.TxnRequest{Success: then, Failure: els}}}
}

func rng(k string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte(k)}}}
}

func TestCheckIntervals(t *testing.T) {
	tests := []struct {
		name string
		ops  []*pb.RequestOp
		dup  bool
	}{
		{"distinct puts", []*pb.RequestOp{put("a"), put("b")}, false},
		{"same key twice", []*pb.RequestOp{put("a"), put("a")}, true},
		{"put under a deleted range", []*pb.RequestOp{del("a", "c"), put("b")}, true},
		{"put at a range's end", []*pb.RequestOp{del("a", "c"), put("c")}, false},
		{"put of a single deleted key", []*pb.RequestOp{del("a", ""), put("a")}, true},
		{"put past a single deleted key", []*pb.RequestOp{del("a", ""), put("a\x00")}, false},
		{"from-key delete covers no put (etcd's affine intervals)", []*pb.RequestOp{del("a", "\x00"), put("b")}, false},
		{"reads never conflict", []*pb.RequestOp{rng("a"), put("a"), rng("a")}, false},
		{"then and else may put the same key", []*pb.RequestOp{txn([]*pb.RequestOp{put("a")}, []*pb.RequestOp{put("a")})}, false},
		{"nested put and outer put", []*pb.RequestOp{txn([]*pb.RequestOp{put("a")}, nil), put("a")}, true},
		{"nested put under outer delete", []*pb.RequestOp{del("a", "z"), txn(nil, []*pb.RequestOp{put("b")})}, true},
		{"two nested txns put the same key", []*pb.RequestOp{txn([]*pb.RequestOp{put("a")}, nil), txn([]*pb.RequestOp{put("a")}, nil)}, true},
		{"nested delete then outer put", []*pb.RequestOp{txn([]*pb.RequestOp{del("a", "c")}, nil), put("b")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := checkIntervals(tt.ops)
			if got := err == rpcerr.ErrDuplicateKey; got != tt.dup || (err != nil && !got) {
				t.Fatalf("err = %v, want duplicate=%v", err, tt.dup)
			}
		})
	}
}

func TestCheckTxn(t *testing.T) {
	many := make([]*pb.RequestOp, 5)
	for i := range many {
		many[i] = put(string(rune('a' + i)))
	}
	tests := []struct {
		name string
		r    *pb.TxnRequest
		want error
	}{
		{"ok", &pb.TxnRequest{Success: []*pb.RequestOp{put("a")}}, nil},
		{"too many ops", &pb.TxnRequest{Success: many}, rpcerr.ErrTooManyOps},
		{"too many compares", &pb.TxnRequest{Compare: make([]*pb.Compare, 5)}, rpcerr.ErrTooManyOps},
		{"compare without key", &pb.TxnRequest{Compare: []*pb.Compare{{}}}, rpcerr.ErrEmptyKey},
		{"put without key", &pb.TxnRequest{Success: []*pb.RequestOp{put("")}}, rpcerr.ErrEmptyKey},
		{"empty op", &pb.TxnRequest{Failure: []*pb.RequestOp{{}}}, rpcerr.ErrKeyNotFound},
		{"bad sort in range", &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("a"), SortTarget: 99}}}}}, rpcerr.ErrInvalidSortOption},
		{"ignore_value with value", &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("a"), Value: []byte("v"), IgnoreValue: true}}}}}, rpcerr.ErrValueProvided},
		{"nested ops count against the budget", &pb.TxnRequest{Success: []*pb.RequestOp{put("x"), txn(many[:4], nil)}}, rpcerr.ErrTooManyOps},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkTxn(tt.r, 4); err != tt.want {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
