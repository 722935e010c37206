package server

// Stubs for services that are not wired yet. Every RPC of a nil service in
// Services answers codes.Unimplemented with a message that says so, on both
// transports. Each stub overrides every method of its grpc-go server
// interface; the embedded Unimplemented* type only supplies the unexported
// method (TestUnimplementedEveryMethod catches a method added to the protos
// and missing here).

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

func notImplemented(service string) *rpcerr.Error {
	return &rpcerr.Error{Code: codes.Unimplemented, Msg: "cairn: the " + service + " service is not implemented yet"}
}

var (
	errUnimplementedKV          = notImplemented("KV")
	errUnimplementedWatch       = notImplemented("Watch")
	errUnimplementedLease       = notImplemented("Lease")
	errUnimplementedCluster     = notImplemented("Cluster")
	errUnimplementedMaintenance = notImplemented("Maintenance")
	errUnimplementedAuth        = notImplemented("Auth")
)

// withStubs returns svc with every nil service replaced by its stub.
func (svc Services) withStubs() Services {
	if svc.KV == nil {
		svc.KV = unimplementedKV{}
	}
	if svc.Watch == nil {
		svc.Watch = unimplementedWatch{}
	}
	if svc.Lease == nil {
		svc.Lease = unimplementedLease{}
	}
	if svc.Cluster == nil {
		svc.Cluster = unimplementedCluster{}
	}
	if svc.Maintenance == nil {
		svc.Maintenance = unimplementedMaintenance{}
	}
	if svc.Auth == nil {
		svc.Auth = unimplementedAuth{}
	}
	return svc
}

// unimplementedKV answers every KV RPC with errUnimplementedKV.
type unimplementedKV struct {
	etcdserverpb.UnimplementedKVServer
}

func (unimplementedKV) Range(context.Context, *etcdserverpb.RangeRequest) (*etcdserverpb.RangeResponse, error) {
	return nil, errUnimplementedKV
}

func (unimplementedKV) RangeStream(*etcdserverpb.RangeRequest, grpc.ServerStreamingServer[etcdserverpb.RangeStreamResponse]) error {
	return errUnimplementedKV
}

func (unimplementedKV) Put(context.Context, *etcdserverpb.PutRequest) (*etcdserverpb.PutResponse, error) {
	return nil, errUnimplementedKV
}

func (unimplementedKV) DeleteRange(context.Context, *etcdserverpb.DeleteRangeRequest) (*etcdserverpb.DeleteRangeResponse, error) {
	return nil, errUnimplementedKV
}

func (unimplementedKV) Txn(context.Context, *etcdserverpb.TxnRequest) (*etcdserverpb.TxnResponse, error) {
	return nil, errUnimplementedKV
}

func (unimplementedKV) Compact(context.Context, *etcdserverpb.CompactionRequest) (*etcdserverpb.CompactionResponse, error) {
	return nil, errUnimplementedKV
}

// unimplementedWatch answers every Watch RPC with errUnimplementedWatch.
type unimplementedWatch struct {
	etcdserverpb.UnimplementedWatchServer
}

func (unimplementedWatch) Watch(grpc.BidiStreamingServer[etcdserverpb.WatchRequest, etcdserverpb.WatchResponse]) error {
	return errUnimplementedWatch
}

// unimplementedLease answers every Lease RPC with errUnimplementedLease.
type unimplementedLease struct {
	etcdserverpb.UnimplementedLeaseServer
}

func (unimplementedLease) LeaseGrant(context.Context, *etcdserverpb.LeaseGrantRequest) (*etcdserverpb.LeaseGrantResponse, error) {
	return nil, errUnimplementedLease
}

func (unimplementedLease) LeaseRevoke(context.Context, *etcdserverpb.LeaseRevokeRequest) (*etcdserverpb.LeaseRevokeResponse, error) {
	return nil, errUnimplementedLease
}

func (unimplementedLease) LeaseKeepAlive(grpc.BidiStreamingServer[etcdserverpb.LeaseKeepAliveRequest, etcdserverpb.LeaseKeepAliveResponse]) error {
	return errUnimplementedLease
}

func (unimplementedLease) LeaseTimeToLive(context.Context, *etcdserverpb.LeaseTimeToLiveRequest) (*etcdserverpb.LeaseTimeToLiveResponse, error) {
	return nil, errUnimplementedLease
}

func (unimplementedLease) LeaseLeases(context.Context, *etcdserverpb.LeaseLeasesRequest) (*etcdserverpb.LeaseLeasesResponse, error) {
	return nil, errUnimplementedLease
}

// unimplementedCluster answers every Cluster RPC with errUnimplementedCluster.
type unimplementedCluster struct {
	etcdserverpb.UnimplementedClusterServer
}

func (unimplementedCluster) MemberAdd(context.Context, *etcdserverpb.MemberAddRequest) (*etcdserverpb.MemberAddResponse, error) {
	return nil, errUnimplementedCluster
}

func (unimplementedCluster) MemberRemove(context.Context, *etcdserverpb.MemberRemoveRequest) (*etcdserverpb.MemberRemoveResponse, error) {
	return nil, errUnimplementedCluster
}

func (unimplementedCluster) MemberUpdate(context.Context, *etcdserverpb.MemberUpdateRequest) (*etcdserverpb.MemberUpdateResponse, error) {
	return nil, errUnimplementedCluster
}

func (unimplementedCluster) MemberList(context.Context, *etcdserverpb.MemberListRequest) (*etcdserverpb.MemberListResponse, error) {
	return nil, errUnimplementedCluster
}

func (unimplementedCluster) MemberPromote(context.Context, *etcdserverpb.MemberPromoteRequest) (*etcdserverpb.MemberPromoteResponse, error) {
	return nil, errUnimplementedCluster
}

// unimplementedMaintenance answers every Maintenance RPC with errUnimplementedMaintenance.
type unimplementedMaintenance struct {
	etcdserverpb.UnimplementedMaintenanceServer
}

func (unimplementedMaintenance) Alarm(context.Context, *etcdserverpb.AlarmRequest) (*etcdserverpb.AlarmResponse, error) {
	return nil, errUnimplementedMaintenance
}

func (unimplementedMaintenance) Status(context.Context, *etcdserverpb.StatusRequest) (*etcdserverpb.StatusResponse, error) {
	return nil, errUnimplementedMaintenance
}

func (unimplementedMaintenance) Defragment(context.Context, *etcdserverpb.DefragmentRequest) (*etcdserverpb.DefragmentResponse, error) {
	return nil, errUnimplementedMaintenance
}

func (unimplementedMaintenance) Hash(context.Context, *etcdserverpb.HashRequest) (*etcdserverpb.HashResponse, error) {
	return nil, errUnimplementedMaintenance
}

func (unimplementedMaintenance) HashKV(context.Context, *etcdserverpb.HashKVRequest) (*etcdserverpb.HashKVResponse, error) {
	return nil, errUnimplementedMaintenance
}

func (unimplementedMaintenance) Snapshot(*etcdserverpb.SnapshotRequest, grpc.ServerStreamingServer[etcdserverpb.SnapshotResponse]) error {
	return errUnimplementedMaintenance
}

func (unimplementedMaintenance) MoveLeader(context.Context, *etcdserverpb.MoveLeaderRequest) (*etcdserverpb.MoveLeaderResponse, error) {
	return nil, errUnimplementedMaintenance
}

func (unimplementedMaintenance) Downgrade(context.Context, *etcdserverpb.DowngradeRequest) (*etcdserverpb.DowngradeResponse, error) {
	return nil, errUnimplementedMaintenance
}

// unimplementedAuth answers every Auth RPC with errUnimplementedAuth.
type unimplementedAuth struct {
	etcdserverpb.UnimplementedAuthServer
}

func (unimplementedAuth) AuthEnable(context.Context, *etcdserverpb.AuthEnableRequest) (*etcdserverpb.AuthEnableResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) AuthDisable(context.Context, *etcdserverpb.AuthDisableRequest) (*etcdserverpb.AuthDisableResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) AuthStatus(context.Context, *etcdserverpb.AuthStatusRequest) (*etcdserverpb.AuthStatusResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) Authenticate(context.Context, *etcdserverpb.AuthenticateRequest) (*etcdserverpb.AuthenticateResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) UserAdd(context.Context, *etcdserverpb.AuthUserAddRequest) (*etcdserverpb.AuthUserAddResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) UserGet(context.Context, *etcdserverpb.AuthUserGetRequest) (*etcdserverpb.AuthUserGetResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) UserList(context.Context, *etcdserverpb.AuthUserListRequest) (*etcdserverpb.AuthUserListResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) UserDelete(context.Context, *etcdserverpb.AuthUserDeleteRequest) (*etcdserverpb.AuthUserDeleteResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) UserChangePassword(context.Context, *etcdserverpb.AuthUserChangePasswordRequest) (*etcdserverpb.AuthUserChangePasswordResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) UserGrantRole(context.Context, *etcdserverpb.AuthUserGrantRoleRequest) (*etcdserverpb.AuthUserGrantRoleResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) UserRevokeRole(context.Context, *etcdserverpb.AuthUserRevokeRoleRequest) (*etcdserverpb.AuthUserRevokeRoleResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) RoleAdd(context.Context, *etcdserverpb.AuthRoleAddRequest) (*etcdserverpb.AuthRoleAddResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) RoleGet(context.Context, *etcdserverpb.AuthRoleGetRequest) (*etcdserverpb.AuthRoleGetResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) RoleList(context.Context, *etcdserverpb.AuthRoleListRequest) (*etcdserverpb.AuthRoleListResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) RoleDelete(context.Context, *etcdserverpb.AuthRoleDeleteRequest) (*etcdserverpb.AuthRoleDeleteResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) RoleGrantPermission(context.Context, *etcdserverpb.AuthRoleGrantPermissionRequest) (*etcdserverpb.AuthRoleGrantPermissionResponse, error) {
	return nil, errUnimplementedAuth
}

func (unimplementedAuth) RoleRevokePermission(context.Context, *etcdserverpb.AuthRoleRevokePermissionRequest) (*etcdserverpb.AuthRoleRevokePermissionResponse, error) {
	return nil, errUnimplementedAuth
}
