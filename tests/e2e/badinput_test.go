package e2e

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// bytesCodec sends raw bytes as a request: for malformed protobuf.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (bytesCodec) Unmarshal(b []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), b...)
	return nil
}
func (bytesCodec) Name() string { return "" }

// TestBadInput: nothing a client sends may crash or hang the server.
func TestBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok("seed", put("a", "1"))
	f.ok("seed", put("b", "2"))

	t.Run("absurd ranges", func(t *testing.T) {
		f := f.sub(t)
		cases := []struct {
			name string
			req  *pb.RangeRequest
		}{
			{"limit max int64", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Limit: math.MaxInt64}},
			{"limit -1", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Limit: -1}},
			{"limit min int64", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Limit: math.MinInt64}},
			{"revision -1", &pb.RangeRequest{Key: []byte("a"), Revision: -1}},
			{"revision min int64", &pb.RangeRequest{Key: []byte("a"), Revision: math.MinInt64}},
			{"revision max int64", &pb.RangeRequest{Key: []byte("a"), Revision: math.MaxInt64}},
			{"sort target 1000", &pb.RangeRequest{Key: []byte("a"), SortTarget: 1000}},
			{"sort target -1", &pb.RangeRequest{Key: []byte("a"), SortTarget: -1}},
			{"sort order 1000", &pb.RangeRequest{Key: []byte("a"), SortOrder: 1000}},
			{"sort order max int32", &pb.RangeRequest{Key: []byte("a"), SortOrder: math.MaxInt32, SortTarget: math.MaxInt32}},
			{"min mod revision -5", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MinModRevision: -5}},
			{"max create revision max int64", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MaxCreateRevision: math.MaxInt64}},
			{"range end \\x00\\x00", &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0, 0}}},
			{"range end below key", &pb.RangeRequest{Key: []byte("b"), RangeEnd: []byte("a")}},
			{"64 KiB key", &pb.RangeRequest{Key: make([]byte, 64<<10)}},
			{"keys only, count only, limit, sort", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, KeysOnly: true, CountOnly: true, Limit: 1, SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_VALUE}},
		}
		for _, c := range cases {
			f.do(c.name, rawRange(c.req))
		}
		f.fails("sort target 1000 is invalid", rpctypes.ErrGRPCInvalidSortOption, rawRange(&pb.RangeRequest{Key: []byte("a"), SortTarget: 1000}))
	})

	t.Run("absurd writes", func(t *testing.T) {
		f := f.sub(t)
		f.do("compact 0", compact(0))
		f.do("compact -1", compact(-1))
		f.do("compact min int64", compact(math.MinInt64))
		f.do("compact max int64", compact(math.MaxInt64))
		f.do("delete range end below key", rawDel(&pb.DeleteRangeRequest{Key: []byte("b"), RangeEnd: []byte("a"), PrevKv: true}))
		f.do("put 64 KiB key", rawPut(&pb.PutRequest{Key: make([]byte, 64<<10), Value: []byte("v")}))
		f.do("put lease max int64", rawPut(&pb.PutRequest{Key: []byte("l"), Value: []byte("v"), Lease: math.MaxInt64}))
		f.do("txn with an empty request op", rawTxn(&pb.TxnRequest{Success: []*pb.RequestOp{{}}}))
		f.do("txn compare target 99", rawTxn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: []byte("a"), Target: 99, Result: pb.Compare_EQUAL}}}))
		f.do("txn compare result 99", rawTxn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: []byte("a"), Target: pb.Compare_VERSION, Result: 99, TargetUnion: &pb.Compare_Version{Version: 1}}}}))
		f.do("txn compare target without a value", rawTxn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: []byte("a"), Target: pb.Compare_VALUE, Result: pb.Compare_EQUAL}}}))
		f.do("txn compare value on a version target", rawTxn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: []byte("a"), Target: pb.Compare_VERSION, Result: pb.Compare_GREATER, TargetUnion: &pb.Compare_Value{Value: []byte("x")}}}}))
		deep := &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("deep"), Value: []byte("v")}}}}}
		for range 100 {
			deep = &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestTxn{RequestTxn: deep}}}}
		}
		f.do("txn nested 100 deep", rawTxn(deep))
		var many []*pb.Compare
		for i := range 200 {
			many = append(many, &pb.Compare{Key: []byte(fmt.Sprint(i)), Target: pb.Compare_VERSION, Result: pb.Compare_EQUAL, TargetUnion: &pb.Compare_Version{}})
		}
		f.fails("txn with 200 compares", rpctypes.ErrGRPCTooManyOps, rawTxn(&pb.TxnRequest{Compare: many}))
		f.ok("state", get("\x00", clientv3.WithFromKey(), clientv3.WithKeysOnly()))
	})

	t.Run("malformed gRPC", func(t *testing.T) {
		f := f.sub(t)
		call := func(method string, body []byte) stepFunc {
			return func(ctx context.Context, s *server) (any, error) {
				var out []byte
				err := s.client().ActiveConnection().Invoke(ctx, method, &body, &out, grpc.ForceCodec(bytesCodec{}))
				// Only the code: the message names each server's protobuf library.
				return fmt.Sprintf("code %s", status.Code(err)), nil
			}
		}
		f.ok("unknown method", call("/etcdserverpb.KV/Nope", nil))
		f.ok("unknown service", call("/nope.Nope/Nope", nil))
		f.ok("malformed Put", call("/etcdserverpb.KV/Put", []byte{0xff, 0xff, 0xff, 0xff}))
		f.ok("truncated Range", call("/etcdserverpb.KV/Range", []byte{0x0a, 0x10, 'a'}))
		// A known field with the wrong wire type: gogo (etcd) rejects the
		// message, protobuf-go keeps it as an unknown field. Only an answer
		// is required here, not etcd's.
		f.each(func(s *server) {
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			defer cancel()
			var out []byte
			body := []byte{0x0d, 1, 2, 3, 4}
			err := s.client().ActiveConnection().Invoke(ctx, "/etcdserverpb.KV/Range", &body, &out, grpc.ForceCodec(bytesCodec{}))
			c := status.Code(err)
			f.expect(result{s: s}, c != codes.OK && c != codes.Unknown && c != codes.DeadlineExceeded && c != codes.Unavailable,
				"Range with a key of the wrong wire type: %v, want an error status", err)
		})
		f.ok("empty Range", call("/etcdserverpb.KV/Range", nil))
	})

	t.Run("garbage bytes", func(t *testing.T) {
		rnd := rand.New(rand.NewPCG(1, 2))
		random := make([]byte, 64<<10)
		for i := range random {
			random[i] = byte(rnd.UintN(256))
		}
		preface := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		payloads := map[string][]byte{
			"random bytes":                   random,
			"HTTP/2 preface then garbage":    append(append([]byte(nil), preface...), random[:4096]...),
			"HTTP/2 preface then huge frame": append(append([]byte(nil), preface...), 0xff, 0xff, 0xff, 0x00, 0x00, 0, 0, 0, 1),
			"HTTP/1.1 garbage":               []byte("GARBAGE /etcdserverpb.KV/Put HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\nxx"),
			"HTTP/1.1 POST bad JSON":         []byte("POST /etcdserverpb.KV/Put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{{{{{"),
			"TLS client hello":               {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03},
			"nothing":                        nil,
		}
		for _, s := range f.servers {
			var wg sync.WaitGroup
			for name, p := range payloads {
				wg.Add(1)
				go func() { defer wg.Done(); garbage(t, s, name, p) }()
			}
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			_, err := s.client().Put(ctx, "after-garbage", "ok")
			cancel()
			if err != nil || !s.running() {
				t.Errorf("[%s] after garbage: put %v, running %v", s, err, s.running())
			}
		}
	})

	f.ok("the server still works", put("final", "ok"))
	f.ok("and reads", get("\x00", clientv3.WithFromKey(), clientv3.WithKeysOnly()))
	f.each(func(s *server) {
		f.expect(result{s: s}, s.running(), "%s exited", s)
	})
}

// garbage writes p on a fresh connection to the client port, reads whatever
// comes back for a bounded time, and closes.
func garbage(t *testing.T, s *server, name string, p []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.hostPort(), 5*time.Second)
	if err != nil {
		t.Errorf("[%s] %s: dial: %v", s, name, err)
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.Write(p)
	buf := make([]byte, 4096)
	for range 100 {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
}
