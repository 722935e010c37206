// Package maintenance is etcd's Maintenance service. Today it answers Status
// and Alarm (the list, always empty: the alarm plugin seam arrives with the
// quota issue); the other RPCs answer Unimplemented.
package maintenance

import (
	"context"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/grpc"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/internal/version"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/raftlog"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// DefaultQuotaBytes is etcd's default backend quota (2 GiB).
const DefaultQuotaBytes = 2 << 30

// Raft is what the service reads of the raft node.
type Raft interface {
	Status() raftlog.Status
}

// Revisioner reports the store's current revision.
type Revisioner interface{ Rev() int64 }

// Service is the Maintenance service core.
type Service struct {
	pb.UnimplementedMaintenanceServer
	db         *pebble.DB
	raft       Raft
	store      Revisioner
	quotaBytes int64
}

// New returns the Maintenance service. quotaBytes 0 means etcd's default.
func New(db *pebble.DB, r Raft, store Revisioner, quotaBytes int64) *Service {
	if quotaBytes <= 0 {
		quotaBytes = DefaultQuotaBytes
	}
	return &Service{db: db, raft: r, store: store, quotaBytes: quotaBytes}
}

func (s *Service) header(st raftlog.Status) *pb.ResponseHeader {
	h := &pb.ResponseHeader{Revision: s.store.Rev()}
	apply.FillHeader(h, st)
	return h
}

// Status implements etcdserverpb.MaintenanceServer.
func (s *Service) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	st := s.raft.Status()
	size := int64(s.db.Metrics().DiskSpaceUsage())
	return &pb.StatusResponse{
		Header:           s.header(st),
		Version:          version.Etcd,
		DbSize:           size,
		DbSizeInUse:      size,
		Leader:           st.Leader,
		RaftIndex:        st.CommitIndex,
		RaftTerm:         st.Term,
		RaftAppliedIndex: st.AppliedIndex,
		StorageVersion:   version.Storage,
		DbSizeQuota:      s.quotaBytes,
		DowngradeInfo:    &pb.DowngradeInfo{},
	}, nil
}

// Alarm implements etcdserverpb.MaintenanceServer. No alarm can be raised yet,
// so GET lists none.
func (s *Service) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	switch r.Action {
	case pb.AlarmRequest_GET:
		return &pb.AlarmResponse{Header: s.header(s.raft.Status())}, nil
	default:
		return nil, rpcerr.Unimplemented("Maintenance.Alarm " + r.Action.String())
	}
}

// The RPCs below arrive with later issues (defragmentation, hashes for
// corruption checks, snapshots, leadership transfer, downgrades).

// Defragment implements etcdserverpb.MaintenanceServer.
func (s *Service) Defragment(context.Context, *pb.DefragmentRequest) (*pb.DefragmentResponse, error) {
	return nil, rpcerr.Unimplemented("Maintenance.Defragment")
}

// Hash implements etcdserverpb.MaintenanceServer.
func (s *Service) Hash(context.Context, *pb.HashRequest) (*pb.HashResponse, error) {
	return nil, rpcerr.Unimplemented("Maintenance.Hash")
}

// HashKV implements etcdserverpb.MaintenanceServer.
func (s *Service) HashKV(context.Context, *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	return nil, rpcerr.Unimplemented("Maintenance.HashKV")
}

// Snapshot implements etcdserverpb.MaintenanceServer.
func (s *Service) Snapshot(*pb.SnapshotRequest, grpc.ServerStreamingServer[pb.SnapshotResponse]) error {
	return rpcerr.Unimplemented("Maintenance.Snapshot")
}

// MoveLeader implements etcdserverpb.MaintenanceServer.
func (s *Service) MoveLeader(context.Context, *pb.MoveLeaderRequest) (*pb.MoveLeaderResponse, error) {
	return nil, rpcerr.Unimplemented("Maintenance.MoveLeader")
}

// Downgrade implements etcdserverpb.MaintenanceServer.
func (s *Service) Downgrade(context.Context, *pb.DowngradeRequest) (*pb.DowngradeResponse, error) {
	return nil, rpcerr.Unimplemented("Maintenance.Downgrade")
}
