package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// statusShape is what two servers' Status answers must share: which fields
// are set, and the facts a client relies on (etcd's values differ in size,
// raft index and patch version).
func statusShape(s *server, st *pb.StatusResponse) string {
	set := func(b bool) string {
		if b {
			return "set"
		}
		return "zero"
	}
	major := st.Version
	if parts := strings.SplitN(st.Version, ".", 3); len(parts) == 3 {
		major = parts[0] + "." + parts[1] + ".x"
	}
	return strings.Join([]string{
		"version " + major,
		"leader is self: " + fmt.Sprint(st.Leader != 0 && st.Leader == st.Header.GetMemberId()),
		"header cluster_id " + set(st.Header.GetClusterId() != 0),
		"header member_id " + set(st.Header.GetMemberId() != 0),
		"header raft_term " + set(st.Header.GetRaftTerm() != 0),
		"header revision " + fmt.Sprint(st.Header.GetRevision()),
		"dbSize " + set(st.DbSize > 0),
		"dbSizeInUse " + set(st.DbSizeInUse > 0),
		"dbSizeInUse <= dbSize: " + fmt.Sprint(st.DbSizeInUse <= st.DbSize),
		"raftIndex " + set(st.RaftIndex > 0),
		"raftTerm " + set(st.RaftTerm > 0),
		"raftAppliedIndex " + set(st.RaftAppliedIndex > 0),
		"raftAppliedIndex <= raftIndex: " + fmt.Sprint(st.RaftAppliedIndex <= st.RaftIndex),
		"errors " + fmt.Sprint(st.Errors),
		"isLearner " + fmt.Sprint(st.IsLearner),
		"storageVersion " + st.StorageVersion,
		"dbSizeQuota " + set(st.DbSizeQuota > 0),
		"downgradeInfo present: " + fmt.Sprint(st.DowngradeInfo != nil),
		"downgradeInfo " + fmt.Sprint(st.DowngradeInfo.GetEnabled(), st.DowngradeInfo.GetTargetVersion()),
	}, "\n")
}

func TestMaintenance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok("a write", put("k", "v"))

	rs := f.ok("status", func(ctx context.Context, s *server) (any, error) {
		st, err := s.client().Status(ctx, s.clientURL)
		if err != nil {
			return nil, err
		}
		return statusShape(s, (*pb.StatusResponse)(st)), nil
	})
	f.each(func(s *server) {
		st, err := s.client().Status(context.Background(), s.clientURL)
		if err != nil {
			return // reported above
		}
		r := result{s: s}
		f.expect(r, strings.HasPrefix(st.Version, "3.6."), "status version %q, want 3.6.x", st.Version)
		f.expect(r, st.Leader != 0 && st.Leader == st.Header.MemberId, "leader %x, member_id %x: a single member leads", st.Leader, st.Header.MemberId)
		f.expect(r, st.DbSize > 0 && st.RaftIndex > 0 && st.RaftTerm > 0, "status: dbSize %d raftIndex %d raftTerm %d, want all > 0", st.DbSize, st.RaftIndex, st.RaftTerm)
		f.expect(r, st.Header.Revision == 2, "status header revision %d, want 2", st.Header.Revision)
	})
	_ = rs

	f.ok("alarm list", func(ctx context.Context, s *server) (any, error) {
		a, err := s.client().AlarmList(ctx)
		if err != nil {
			return nil, err
		}
		return (*pb.AlarmResponse)(a), nil
	})
	f.each(func(s *server) {
		a, err := s.client().AlarmList(context.Background())
		f.expect(result{s: s}, err == nil && len(a.Alarms) == 0, "alarm list: %v %v, want empty", a, err)
	})

	f.ok("member list", func(ctx context.Context, s *server) (any, error) {
		ml, err := s.client().MemberList(ctx)
		if err != nil {
			return nil, err
		}
		st, err := s.client().Status(ctx, s.clientURL)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "header member_id is the status member_id: %v\n", ml.Header.MemberId == st.Header.MemberId)
		fmt.Fprintf(&b, "header cluster_id is the status cluster_id: %v\n", ml.Header.ClusterId == st.Header.ClusterId)
		fmt.Fprintf(&b, "header revision: %d\n", ml.Header.Revision)
		for _, m := range ml.Members {
			fmt.Fprintf(&b, "member: id is self %v, name %q, peer %v, client %v, learner %v\n",
				m.ID == st.Header.MemberId, m.Name, masked(s, m.PeerURLs), masked(s, m.ClientURLs), m.IsLearner)
		}
		return b.String(), nil
	})
	f.each(func(s *server) {
		ml, err := s.client().MemberList(context.Background())
		r := result{s: s}
		if !f.check(r, err == nil, "member list: %v", err) {
			return
		}
		f.expect(r, len(ml.Members) == 1, "member list: %d members, want 1", len(ml.Members))
		if len(ml.Members) == 1 {
			m := ml.Members[0]
			f.expect(r, m.Name == s.name && fmt.Sprint(m.PeerURLs) == fmt.Sprint([]string{s.peerURL}) && fmt.Sprint(m.ClientURLs) == fmt.Sprint([]string{s.clientURL}),
				"member %v, want name %s peer %s client %s", m, s.name, s.peerURL, s.clientURL)
		}
	})
	f.ok("linearizable member list", func(ctx context.Context, s *server) (any, error) {
		ml, err := pb.NewClusterClient(s.client().ActiveConnection()).MemberList(ctx, &pb.MemberListRequest{Linearizable: true})
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("%d members", len(ml.Members)), nil
	})
}

// masked replaces the server's own URLs (which differ between servers only
// by port) with placeholders.
func masked(s *server, urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = strings.NewReplacer(s.clientURL, "<client-url>", s.peerURL, "<peer-url>").Replace(u)
	}
	return out
}

// check is expect that also says whether the condition held.
func (f *fixture) check(r result, cond bool, format string, args ...any) bool {
	f.t.Helper()
	f.expect(r, cond, format, args...)
	return cond
}
