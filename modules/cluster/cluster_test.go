package cluster

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMembershipChangesSayNotImplemented(t *testing.T) {
	s, ctx := &Service{}, context.Background()
	calls := map[string]func() error{
		"Cluster.MemberAdd":     func() error { _, err := s.MemberAdd(ctx, nil); return err },
		"Cluster.MemberRemove":  func() error { _, err := s.MemberRemove(ctx, nil); return err },
		"Cluster.MemberUpdate":  func() error { _, err := s.MemberUpdate(ctx, nil); return err },
		"Cluster.MemberPromote": func() error { _, err := s.MemberPromote(ctx, nil); return err },
	}
	for method, call := range calls {
		st := status.Convert(call())
		if st.Code() != codes.Unimplemented || st.Message() != "cairn: "+method+" is not implemented yet" {
			t.Errorf("%s: %v %q", method, st.Code(), st.Message())
		}
	}
}
