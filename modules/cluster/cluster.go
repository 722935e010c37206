// Package cluster is etcd's Cluster service. With one member and no
// membership changes yet, MemberList answers from the member's own
// configuration; MemberAdd/Remove/Update/Promote answer Unimplemented until
// membership goes through raft conf changes.
package cluster

import (
	"context"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/raftlog"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Member describes this member as its flags configure it.
type Member struct {
	Name       string
	PeerURLs   []string
	ClientURLs []string
}

// Raft is what the service needs of the raft node.
type Raft interface {
	Status() raftlog.Status
	ReadIndex(ctx context.Context) error
}

// Service is the Cluster service core.
type Service struct {
	pb.UnimplementedClusterServer
	self Member
	raft Raft
}

// New returns the Cluster service.
func New(self Member, r Raft) *Service {
	return &Service{self: self, raft: r}
}

// MemberList implements etcdserverpb.ClusterServer.
func (s *Service) MemberList(ctx context.Context, r *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	if r.Linearizable {
		if err := s.raft.ReadIndex(ctx); err != nil {
			return nil, apply.ToRPC(err)
		}
	}
	st := s.raft.Status()
	// etcd's Cluster service headers carry no revision.
	h := &pb.ResponseHeader{}
	apply.FillHeader(h, st)
	return &pb.MemberListResponse{
		Header: h,
		Members: []*pb.Member{{
			ID:         st.MemberID,
			Name:       s.self.Name,
			PeerURLs:   s.self.PeerURLs,
			ClientURLs: s.self.ClientURLs,
		}},
	}, nil
}

// Membership changes arrive with multi-member clusters (raft conf changes).

// MemberAdd implements etcdserverpb.ClusterServer.
func (s *Service) MemberAdd(context.Context, *pb.MemberAddRequest) (*pb.MemberAddResponse, error) {
	return nil, rpcerr.Unimplemented("Cluster.MemberAdd")
}

// MemberRemove implements etcdserverpb.ClusterServer.
func (s *Service) MemberRemove(context.Context, *pb.MemberRemoveRequest) (*pb.MemberRemoveResponse, error) {
	return nil, rpcerr.Unimplemented("Cluster.MemberRemove")
}

// MemberUpdate implements etcdserverpb.ClusterServer.
func (s *Service) MemberUpdate(context.Context, *pb.MemberUpdateRequest) (*pb.MemberUpdateResponse, error) {
	return nil, rpcerr.Unimplemented("Cluster.MemberUpdate")
}

// MemberPromote implements etcdserverpb.ClusterServer.
func (s *Service) MemberPromote(context.Context, *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	return nil, rpcerr.Unimplemented("Cluster.MemberPromote")
}
