package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
)

func compact(rev int64, opts ...clientv3.CompactOption) stepFunc {
	return func(ctx context.Context, s *server) (any, error) { return s.client().Compact(ctx, rev, opts...) }
}

func TestEmptyKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.fails("put", rpctypes.ErrEmptyKey, put("", "v"))
	f.fails("get", rpctypes.ErrEmptyKey, get(""))
	f.fails("delete", rpctypes.ErrEmptyKey, del(""))
	f.fails("raw put", rpctypes.ErrGRPCEmptyKey, rawPut(&pb.PutRequest{Value: []byte("v")}))
	f.fails("raw range", rpctypes.ErrGRPCEmptyKey, rawRange(&pb.RangeRequest{RangeEnd: []byte("z")}))
	f.fails("raw delete", rpctypes.ErrGRPCEmptyKey, rawDel(&pb.DeleteRangeRequest{RangeEnd: []byte("z")}))
	f.ok("nothing was written", get("\x00", clientv3.WithFromKey()))
}

func TestRevisionErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := seed(f)

	f.fails("get at a future revision", rpctypes.ErrFutureRev, get("a", clientv3.WithRev(head+1)))
	f.fails("raw range at a far future revision", rpctypes.ErrGRPCFutureRev, rawRange(&pb.RangeRequest{Key: []byte("a"), Revision: head + 1000}))
	f.fails("compact a future revision", rpctypes.ErrFutureRev, compact(head+1))
	f.ok("compact at 5", compact(5))
	f.fails("get below the compacted revision", rpctypes.ErrCompacted, get("a", clientv3.WithRev(4)))
	f.fails("raw range below the compacted revision", rpctypes.ErrGRPCCompacted, rawRange(&pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, Revision: 2}))
	f.ok("get at the compacted revision", get("\x00", clientv3.WithFromKey(), clientv3.WithRev(5)))
	f.ok("get above the compacted revision", get("\x00", clientv3.WithFromKey(), clientv3.WithRev(6)))
	f.ok("count only at the compacted revision", get("\x00", clientv3.WithFromKey(), clientv3.WithRev(5), clientv3.WithCountOnly()))
	f.fails("compact the compacted revision again", rpctypes.ErrCompacted, compact(5))
	f.fails("compact an older revision", rpctypes.ErrCompacted, compact(3))
	f.fails("txn read below the compacted revision", rpctypes.ErrCompacted, txn(nil, ops{clientv3.OpGet("a", clientv3.WithRev(4))}, nil))
	f.ok("current reads are unaffected", get("\x00", clientv3.WithFromKey()))
	for rev := int64(5); rev <= head; rev++ {
		f.ok(fmt.Sprintf("all at rev %d after compaction", rev), get("\x00", clientv3.WithFromKey(), clientv3.WithRev(rev)))
	}

	f.ok("physical compact at 12", compact(12, clientv3.WithCompactPhysical()))
	f.fails("get below the physically compacted revision", rpctypes.ErrCompacted, get("b/", clientv3.WithPrefix(), clientv3.WithRev(11)))
	f.ok("get at the physically compacted revision", get("\x00", clientv3.WithFromKey(), clientv3.WithRev(12)))
	for rev := int64(12); rev <= head; rev++ {
		f.ok(fmt.Sprintf("all at rev %d after physical compaction", rev), get("\x00", clientv3.WithFromKey(), clientv3.WithRev(rev)))
	}
	f.ok("write after compaction", put("after", "compaction"))
	f.ok("compact at the head", compact(head+1, clientv3.WithCompactPhysical()))
	f.ok("history at the head", get("\x00", clientv3.WithFromKey(), clientv3.WithRev(head+1)))
	f.fails("history below the head", rpctypes.ErrCompacted, get("\x00", clientv3.WithFromKey(), clientv3.WithRev(head)))
	f.ok("keys keep their create revisions and versions", get("\x00", clientv3.WithFromKey()))
	f.ok("write after compacting at the head", put("a", "after"))
	f.ok("a after", get("a"))
	f.fails("compacted revision is still compacted", rpctypes.ErrCompacted, compact(head))
}

func TestRequestTooLarge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withFlags("--max-request-bytes", "1024"))
	f.ok("small put", put("k", strings.Repeat("v", 100)))
	f.fails("2000-byte value", rpctypes.ErrRequestTooLarge, put("k", strings.Repeat("v", 2000)))
	f.fails("raw 2000-byte value", rpctypes.ErrGRPCRequestTooLarge, rawPut(&pb.PutRequest{Key: []byte("k"), Value: []byte(strings.Repeat("v", 2000))}))
	f.fails("2000-byte key", rpctypes.ErrRequestTooLarge, put(strings.Repeat("k", 2000), "v"))
	f.fails("txn of three 400-byte puts", rpctypes.ErrRequestTooLarge, txn(nil, ops{
		clientv3.OpPut("t1", strings.Repeat("v", 400)), clientv3.OpPut("t2", strings.Repeat("v", 400)), clientv3.OpPut("t3", strings.Repeat("v", 400)),
	}, nil))
	// Above --max-request-bytes plus gRPC's 512 KiB allowance, gRPC itself refuses the message.
	rs := f.do("600 KiB value", put("k", strings.Repeat("v", 600<<10)))
	for _, r := range rs {
		c, _ := errInfo(r.err)
		f.expect(r, c == codes.ResourceExhausted, "600 KiB put with --max-request-bytes 1024: %s, want code ResourceExhausted", errString(r.err))
	}
	f.ok("reads are not limited by the request size", get(strings.Repeat("k", 2000)))
	f.ok("the server still works", put("k", "small"))
	f.ok("state", get("\x00", clientv3.WithFromKey()))
}

// TestRequestSizeBoundary puts values close to --max-request-bytes: etcd
// checks the size of the whole request it proposes (its raft envelope adds a
// header with a request ID, some 10-20 bytes, whose exact size varies), so
// key+value of 1017 or 1024 bytes is already too large there.
func TestRequestSizeBoundary(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withFlags("--max-request-bytes", "1024"))
	f.ok("put value of 950 bytes", put("k", strings.Repeat("v", 950)))
	f.fails("put value of 1016 bytes", rpctypes.ErrRequestTooLarge, put("k", strings.Repeat("v", 1016)))
	f.fails("put value of 1023 bytes", rpctypes.ErrRequestTooLarge, put("k", strings.Repeat("v", 1023)))
	f.ok("state", get("k", clientv3.WithKeysOnly()))
}
