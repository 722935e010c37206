package e2e

import (
	"context"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// snapshot reads everything at the head and at every revision, per server.
func snapshot(f *fixture, step string, head int64) map[*server]string {
	f.t.Helper()
	out := map[*server]string{}
	for _, r := range f.ok(step+": all keys", get("\x00", clientv3.WithFromKey())) {
		out[r.s] = canon(r.resp, r.err)
	}
	for rev := int64(1); rev <= head; rev++ {
		for _, r := range f.ok(fmt.Sprintf("%s: all keys at rev %d", step, rev), get("\x00", clientv3.WithFromKey(), clientv3.WithRev(rev))) {
			out[r.s] += "\n" + canon(r.resp, r.err)
		}
	}
	return out
}

func (f *fixture) sameAsBefore(step string, before, after map[*server]string) {
	f.t.Helper()
	for s, b := range before {
		if a := after[s]; a != b {
			f.t.Errorf("%s: [%s] the data changed across the restart:\n%s", step, s, diff("before", b, "after", a))
		}
	}
}

func TestRestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := seed(f)

	t.Run("SIGTERM", func(t *testing.T) {
		f := f.sub(t)
		before := snapshot(f, "before", head)
		f.each(func(s *server) { s.restart() })
		after := snapshot(f, "after", head)
		f.sameAsBefore("restart after SIGTERM", before, after)
		for _, r := range f.ok("write after restart", put("after/term", "1")) {
			f.expect(r, headerRev(r) == head+1, "revision %d after restart, want %d", headerRev(r), head+1)
		}
		head++
	})

	t.Run("kill -9", func(t *testing.T) {
		f := f.sub(t)
		f.ok("put", put("after/kill/1", "1"))
		f.ok("txn", txn(nil, ops{clientv3.OpPut("after/kill/2", "2"), clientv3.OpDelete("a")}, nil))
		f.ok("delete", del("b/", clientv3.WithPrefix()))
		f.ok("overwrite", put("after/kill/1", "2"))
		head += 4
		before := snapshot(f, "before", head)
		f.each(func(s *server) {
			s.kill9()
			s.start()
		})
		after := snapshot(f, "after", head)
		f.sameAsBefore("restart after kill -9", before, after)
		for _, r := range f.ok("write after kill -9", put("after/kill/3", "3")) {
			f.expect(r, headerRev(r) == head+1, "revision %d after kill -9 restart, want %d", headerRev(r), head+1)
		}
		head++
	})

	t.Run("compaction survives", func(t *testing.T) {
		f := f.sub(t)
		f.ok("compact at 10", compact(10))
		f.each(func(s *server) { s.restart() })
		f.fails("compacted after SIGTERM restart", rpctypes.ErrCompacted, get("a", clientv3.WithRev(9)))
		f.fails("compact again after restart", rpctypes.ErrCompacted, compact(10))
		f.ok("compacted revision readable", get("\x00", clientv3.WithFromKey(), clientv3.WithRev(10)))
		f.ok("compact at 20, physical", compact(20, clientv3.WithCompactPhysical()))
		f.each(func(s *server) {
			s.kill9()
			s.start()
		})
		f.fails("compacted after kill -9 restart", rpctypes.ErrCompacted, get("a", clientv3.WithRev(19)))
		f.ok("compacted revision readable after kill -9", get("\x00", clientv3.WithFromKey(), clientv3.WithRev(20)))
		f.ok("head after", get("\x00", clientv3.WithFromKey()))
		f.ok("status revision after", func(ctx context.Context, s *server) (any, error) {
			st, err := s.client().Status(ctx, s.clientURL)
			if err != nil {
				return nil, err
			}
			return fmt.Sprintf("revision %d", st.Header.Revision), nil
		})
	})
}
