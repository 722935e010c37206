package maintenance

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
)

func TestNotYetImplementedRPCsSaySo(t *testing.T) {
	s, ctx := &Service{}, context.Background()
	calls := map[string]func() error{
		"Maintenance.Defragment": func() error { _, err := s.Defragment(ctx, nil); return err },
		"Maintenance.Hash":       func() error { _, err := s.Hash(ctx, nil); return err },
		"Maintenance.HashKV":     func() error { _, err := s.HashKV(ctx, nil); return err },
		"Maintenance.Snapshot":   func() error { return s.Snapshot(nil, nil) },
		"Maintenance.MoveLeader": func() error { _, err := s.MoveLeader(ctx, nil); return err },
		"Maintenance.Downgrade":  func() error { _, err := s.Downgrade(ctx, nil); return err },
		"Maintenance.Alarm ACTIVATE": func() error {
			_, err := s.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE})
			return err
		},
	}
	for method, call := range calls {
		st := status.Convert(call())
		if st.Code() != codes.Unimplemented || st.Message() != "cairn: "+method+" is not implemented yet" {
			t.Errorf("%s: %v %q", method, st.Code(), st.Message())
		}
	}
}
