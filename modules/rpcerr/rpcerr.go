// Package rpcerr is the one table of client-visible errors of Cairn's
// services. Each error carries the gRPC code and the exact message of etcd's
// v3rpc/rpctypes (clientv3 and etcdctl match errors by message, so a single
// changed character breaks them). Service cores return these values, wrapped
// with %w where useful; the grpc-go and connect adapters turn them into a
// status or a connect.Error with [GRPCStatus] and [Code] without changing
// either.
package rpcerr

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is a client-visible error: a gRPC code and etcd's message.
type Error struct {
	Code codes.Code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// GRPCStatus lets grpc-go (status.FromError) send e with its code and message.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Msg) }

func newErr(c codes.Code, msg string) *Error { return &Error{Code: c, Msg: msg} }

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// The table, in the order of etcd's rpctypes/error.go.
var (
	ErrEmptyKey                      = newErr(codes.InvalidArgument, "etcdserver: key is not provided")
	ErrKeyNotFound                   = newErr(codes.InvalidArgument, "etcdserver: key not found")
	ErrValueProvided                 = newErr(codes.InvalidArgument, "etcdserver: value is provided")
	ErrLeaseProvided                 = newErr(codes.InvalidArgument, "etcdserver: lease is provided")
	ErrTooManyOps                    = newErr(codes.InvalidArgument, "etcdserver: too many operations in txn request")
	ErrDuplicateKey                  = newErr(codes.InvalidArgument, "etcdserver: duplicate key given in txn request")
	ErrInvalidClientAPIVersion       = newErr(codes.InvalidArgument, "etcdserver: invalid client api version")
	ErrInvalidSortOption             = newErr(codes.InvalidArgument, "etcdserver: invalid sort option")
	ErrCompacted                     = newErr(codes.OutOfRange, "etcdserver: mvcc: required revision has been compacted")
	ErrFutureRev                     = newErr(codes.OutOfRange, "etcdserver: mvcc: required revision is a future revision")
	ErrNoSpace                       = newErr(codes.ResourceExhausted, "etcdserver: mvcc: database space exceeded")
	ErrLeaseNotFound                 = newErr(codes.NotFound, "etcdserver: requested lease not found")
	ErrLeaseExist                    = newErr(codes.FailedPrecondition, "etcdserver: lease already exists")
	ErrLeaseTTLTooLarge              = newErr(codes.OutOfRange, "etcdserver: too large lease TTL")
	ErrWatchCanceled                 = newErr(codes.Canceled, "etcdserver: watch canceled")
	ErrMemberExist                   = newErr(codes.FailedPrecondition, "etcdserver: member ID already exist")
	ErrPeerURLExist                  = newErr(codes.FailedPrecondition, "etcdserver: Peer URLs already exists")
	ErrMemberNotEnoughStarted        = newErr(codes.FailedPrecondition, "etcdserver: re-configuration failed due to not enough started members")
	ErrMemberBadURLs                 = newErr(codes.InvalidArgument, "etcdserver: given member URLs are invalid")
	ErrMemberNotFound                = newErr(codes.NotFound, "etcdserver: member not found")
	ErrMemberNotLearner              = newErr(codes.FailedPrecondition, "etcdserver: can only promote a learner member")
	ErrLearnerNotReady               = newErr(codes.FailedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader")
	ErrTooManyLearners               = newErr(codes.FailedPrecondition, "etcdserver: too many learner members in cluster")
	ErrClusterIDMismatch             = newErr(codes.FailedPrecondition, "etcdserver: cluster ID mismatch")
	ErrRequestTooLarge               = newErr(codes.InvalidArgument, "etcdserver: request is too large")
	ErrRequestTooManyRequests        = newErr(codes.ResourceExhausted, "etcdserver: too many requests")
	ErrRootUserNotExist              = newErr(codes.FailedPrecondition, "etcdserver: root user does not exist")
	ErrRootRoleNotExist              = newErr(codes.FailedPrecondition, "etcdserver: root user does not have root role")
	ErrUserAlreadyExist              = newErr(codes.FailedPrecondition, "etcdserver: user name already exists")
	ErrUserEmpty                     = newErr(codes.InvalidArgument, "etcdserver: user name is empty")
	ErrUserNotFound                  = newErr(codes.FailedPrecondition, "etcdserver: user name not found")
	ErrRoleAlreadyExist              = newErr(codes.FailedPrecondition, "etcdserver: role name already exists")
	ErrRoleNotFound                  = newErr(codes.FailedPrecondition, "etcdserver: role name not found")
	ErrRoleEmpty                     = newErr(codes.InvalidArgument, "etcdserver: role name is empty")
	ErrAuthFailed                    = newErr(codes.InvalidArgument, "etcdserver: authentication failed, invalid user ID or password")
	ErrPermissionNotGiven            = newErr(codes.InvalidArgument, "etcdserver: permission not given")
	ErrPermissionDenied              = newErr(codes.PermissionDenied, "etcdserver: permission denied")
	ErrRoleNotGranted                = newErr(codes.FailedPrecondition, "etcdserver: role is not granted to the user")
	ErrPermissionNotGranted          = newErr(codes.FailedPrecondition, "etcdserver: permission is not granted to the role")
	ErrAuthNotEnabled                = newErr(codes.FailedPrecondition, "etcdserver: authentication is not enabled")
	ErrInvalidAuthToken              = newErr(codes.Unauthenticated, "etcdserver: invalid auth token")
	ErrInvalidAuthMgmt               = newErr(codes.InvalidArgument, "etcdserver: invalid auth management")
	ErrAuthOldRevision               = newErr(codes.InvalidArgument, "etcdserver: revision of auth store is old")
	ErrNoLeader                      = newErr(codes.Unavailable, "etcdserver: no leader")
	ErrNotLeader                     = newErr(codes.FailedPrecondition, "etcdserver: not leader")
	ErrLeaderChanged                 = newErr(codes.Unavailable, "etcdserver: leader changed")
	ErrNotCapable                    = newErr(codes.FailedPrecondition, "etcdserver: not capable")
	ErrStopped                       = newErr(codes.Unavailable, "etcdserver: server stopped")
	ErrTimeout                       = newErr(codes.Unavailable, "etcdserver: request timed out")
	ErrTimeoutDueToLeaderFail        = newErr(codes.Unavailable, "etcdserver: request timed out, possibly due to previous leader failure")
	ErrTimeoutDueToConnectionLost    = newErr(codes.Unavailable, "etcdserver: request timed out, possibly due to connection lost")
	ErrTimeoutWaitAppliedIndex       = newErr(codes.Unavailable, "etcdserver: request timed out, waiting for the applied index took too long")
	ErrUnhealthy                     = newErr(codes.Unavailable, "etcdserver: unhealthy cluster")
	ErrCorrupt                       = newErr(codes.DataLoss, "etcdserver: corrupt cluster")
	ErrNotSupportedForLearner        = newErr(codes.FailedPrecondition, "etcdserver: rpc not supported for learner")
	ErrBadLeaderTransferee           = newErr(codes.FailedPrecondition, "etcdserver: bad leader transferee")
	ErrWrongDowngradeVersionFormat   = newErr(codes.InvalidArgument, "etcdserver: wrong downgrade target version format")
	ErrInvalidDowngradeTargetVersion = newErr(codes.InvalidArgument, "etcdserver: invalid downgrade target version")
	ErrClusterVersionUnavailable     = newErr(codes.FailedPrecondition, "etcdserver: cluster version not found during downgrade")
	ErrDowngradeInProcess            = newErr(codes.FailedPrecondition, "etcdserver: cluster has a downgrade job in progress")
	ErrNoInflightDowngrade           = newErr(codes.FailedPrecondition, "etcdserver: no inflight downgrade job")
	ErrCanceled                      = newErr(codes.Canceled, "etcdserver: request canceled")
	ErrDeadlineExceeded              = newErr(codes.DeadlineExceeded, "etcdserver: context deadline exceeded")
)

// Unimplemented is the answer of an RPC that Cairn does not serve yet;
// method is "Service.Method".
func Unimplemented(method string) *Error {
	return newErr(codes.Unimplemented, "cairn: "+method+" is not implemented yet")
}
