// Package kv is etcd's KV service: it validates requests as etcd does,
// proposes writes through raft and answers reads from the MVCC store, after a
// batched ReadIndex round unless the read is serializable.
//
// Service implements etcdserverpb.KVServer; the server module adapts it to
// gRPC and Connect. Applier is the state machine that the raft apply loop
// runs committed KV entries through.
package kv

import (
	"context"

	"google.golang.org/grpc"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
)

// Config holds etcd's request limits.
type Config struct {
	// MaxRequestBytes is --max-request-bytes (default 1.5 MiB): the largest
	// proposal a write may become.
	MaxRequestBytes uint
	// MaxTxnOps is --max-txn-ops (default 128).
	MaxTxnOps uint
}

// Raft is what the service needs of the raft node.
type Raft interface {
	NextID() uint64
	Propose(ctx context.Context, id uint64, data []byte) (any, error)
	ReadIndex(ctx context.Context) error
	Status() raftlog.Status
}

// Service is the KV service core.
type Service struct {
	pb.UnimplementedKVServer
	cfg   Config
	store *mvcc.Store
	raft  Raft
}

// New returns the KV service.
func New(cfg Config, store *mvcc.Store, r Raft) *Service {
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 1536 * 1024
	}
	if cfg.MaxTxnOps == 0 {
		cfg.MaxTxnOps = 128
	}

	return &Service{cfg: cfg, store: store, raft: r}
}

func (s *Service) header(h *pb.ResponseHeader) *pb.ResponseHeader {
	if h == nil {
		h = &pb.ResponseHeader{Revision: s.store.Rev()}
	}
	apply.FillHeader(h, s.raft.Status())
	return h
}

// Range implements etcdserverpb.KVServer.
func (s *Service) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := checkRange(r); err != nil {
		return nil, err
	}
	if !r.Serializable {
		if err := s.raft.ReadIndex(ctx); err != nil {
			return nil, apply.ToRPC(err)
		}
	}
	resp, err := s.store.Range(ctx, r)
	if err != nil {
		return nil, apply.ToRPC(err)
	}
	resp.Header = s.header(resp.Header)
	return resp, nil
}

// rangeStreamChunkBytes bounds the key-value bytes of one RangeStream message.
const rangeStreamChunkBytes = 1 << 20

// RangeStream implements etcd 3.7's KV.RangeStream: the Range result in
// chunks of whole key-values; header, more and count come with the last one.
func (s *Service) RangeStream(r *pb.RangeRequest, stream grpc.ServerStreamingServer[pb.RangeStreamResponse]) error {
	resp, err := s.Range(stream.Context(), r)
	if err != nil {
		return err
	}
	kvs := resp.Kvs
	for {
		n, size := 0, 0
		for n < len(kvs) && (n == 0 || size+len(kvs[n].Key)+len(kvs[n].Value) <= rangeStreamChunkBytes) {
			size += len(kvs[n].Key) + len(kvs[n].Value)
			n++
		}
		chunk := &pb.RangeResponse{Kvs: kvs[:n:n]}
		kvs = kvs[n:]
		if len(kvs) == 0 {
			chunk.Header, chunk.More, chunk.Count = resp.Header, resp.More, resp.Count
		}
		if err := stream.Send(&pb.RangeStreamResponse{RangeResponse: chunk}); err != nil {
			return err
		}
		if len(kvs) == 0 {
			return nil
		}
	}
}

// Put implements etcdserverpb.KVServer.
func (s *Service) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := checkPut(r); err != nil {
		return nil, err
	}
	res, err := s.propose(ctx, &raftpbv1.Request{Op: &raftpbv1.Request_Put{Put: r}})
	if err != nil {
		return nil, err
	}
	resp := res.Resp.(*pb.PutResponse)
	resp.Header = s.header(resp.Header)
	return resp, nil
}

// DeleteRange implements etcdserverpb.KVServer.
func (s *Service) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if err := checkDelete(r); err != nil {
		return nil, err
	}
	res, err := s.propose(ctx, &raftpbv1.Request{Op: &raftpbv1.Request_DeleteRange{DeleteRange: r}})
	if err != nil {
		return nil, err
	}
	resp := res.Resp.(*pb.DeleteRangeResponse)
	resp.Header = s.header(resp.Header)
	return resp, nil
}

// Txn implements etcdserverpb.KVServer. As in etcd, a txn whose ops are all
// ranges is served like a Range (after a ReadIndex round unless every range
// is serializable); any other goes through raft.
func (s *Service) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := checkTxn(r, int(s.cfg.MaxTxnOps)); err != nil {
		return nil, err
	}
	if _, _, err := checkIntervals(r.Success); err != nil {
		return nil, err
	}
	if _, _, err := checkIntervals(r.Failure); err != nil {
		return nil, err
	}
	if mvcc.IsTxnReadOnly(r) {
		if !isTxnSerializable(r) {
			if err := s.raft.ReadIndex(ctx); err != nil {
				return nil, apply.ToRPC(err)
			}
		}
		resp, err := s.store.ReadTxn(ctx, r)
		if err != nil {
			return nil, apply.ToRPC(err)
		}
		resp.Header = s.header(resp.Header)
		return resp, nil
	}
	res, err := s.propose(ctx, &raftpbv1.Request{Op: &raftpbv1.Request_Txn{Txn: r}})
	if err != nil {
		return nil, err
	}
	resp := res.Resp.(*pb.TxnResponse)
	resp.Header = s.header(resp.Header)
	return resp, nil
}

// isTxnSerializable reports whether every op of a read-only txn is a
// serializable range (etcd's IsTxnSerializable).
func isTxnSerializable(r *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{r.Success, r.Failure} {
		for _, u := range ops {
			if rr := u.GetRequestRange(); rr == nil || !rr.Serializable {
				return false
			}
		}
	}
	return true
}

// Compact implements etcdserverpb.KVServer. With physical set it returns
// once the superseded history is removed.
func (s *Service) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	res, err := s.propose(ctx, &raftpbv1.Request{Op: &raftpbv1.Request_Compaction{Compaction: r}})
	if err != nil {
		return nil, err
	}
	if r.Physical && res.Done != nil {
		select {
		case <-res.Done:
		case <-ctx.Done():
			return nil, apply.ToRPC(ctx.Err())
		}
	}
	resp := res.Resp.(*pb.CompactionResponse)
	resp.Header = s.header(resp.Header)
	return resp, nil
}

func (s *Service) propose(ctx context.Context, req *raftpbv1.Request) (apply.Result, error) {
	return apply.Propose(ctx, s.raft, s.cfg.MaxRequestBytes, req)
}
