package e2e

import (
	"context"
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// seedOp is one write of the shared history.
type seedOp struct {
	del       bool
	key, val  string
	txnKey2   string // with txnVal2: a second put in the same txn (one revision)
	txnVal2   string
	prefixDel bool
}

// history writes overwrites, deletes, re-creates, binary keys, an empty value
// and a two-put txn, so that create/mod revisions, versions and values differ.
// Keys under "s/" have pairwise distinct versions, values, create and mod
// revisions, for sorting without ties.
var history = []seedOp{
	{key: "a", val: "1"},
	{key: "b/1", val: "x"},
	{key: "b/2", val: "y"},
	{key: "b/3", val: "z"},
	{key: "a", val: "2"},
	{key: "c", val: "c"},
	{del: true, key: "b/2"},
	{key: "b/2", val: "y2"},
	{key: "d\x00", val: "nul"},
	{key: "z\xff", val: "ff"},
	{key: "\xff", val: "top"},
	{key: "b/3", val: "zz"},
	{key: "b/3", val: "zzz"},
	{key: "a", val: "3", txnKey2: "c", txnVal2: "cc"},
	{key: "e", val: ""},
	{key: "s/3", val: "s3-1"},
	{key: "s/1", val: "s1-1"},
	{key: "s/5", val: "s5-1"},
	{key: "s/2", val: "s2-1"},
	{key: "s/4", val: "s4-1"},
	{key: "s/5", val: "s5-2"},
	{key: "s/1", val: "s1-2"},
	{key: "s/5", val: "s5-3"},
	{key: "s/2", val: "s2-2"},
	{key: "s/5", val: "s5-4"},
	{key: "s/1", val: "s1-3"},
	{key: "s/4", val: "a"},
	{key: "s/5", val: "q"},
	{key: "s/2", val: "c"},
	{key: "s/1", val: "m"},
	{key: "s/3", val: "x"},
	{key: "s/3", val: "x2"},
	{del: true, key: "s/3"},
	{key: "s/3", val: "x3"},
	{key: "tmp/1", val: "t"},
	{key: "tmp/2", val: "t"},
	{del: true, key: "tmp/", prefixDel: true},
}

// liveKeys is the number of keys history leaves.
func liveKeys() int64 {
	m := map[string]bool{}
	for _, op := range history {
		switch {
		case op.del && op.prefixDel:
			for k := range m {
				if len(k) >= len(op.key) && k[:len(op.key)] == op.key {
					delete(m, k)
				}
			}
		case op.del:
			delete(m, op.key)
		default:
			m[op.key] = true
			if op.txnKey2 != "" {
				m[op.txnKey2] = true
			}
		}
	}
	return int64(len(m))
}

// seed writes history on every server, comparing each write's answer, and
// returns the head revision (the same on every server if they agree).
func seed(f *fixture) int64 {
	f.t.Helper()
	var rs []result
	for i, op := range history {
		step := fmt.Sprintf("seed %d", i)
		rs = f.ok(step, func(ctx context.Context, s *server) (any, error) {
			c := s.client()
			switch {
			case op.del && op.prefixDel:
				return c.Delete(ctx, op.key, clientv3.WithPrefix())
			case op.del:
				return c.Delete(ctx, op.key)
			case op.txnKey2 != "":
				return c.Txn(ctx).Then(clientv3.OpPut(op.key, op.val), clientv3.OpPut(op.txnKey2, op.txnVal2)).Commit()
			default:
				return c.Put(ctx, op.key, op.val)
			}
		})
	}
	head := headerRev(rs[0])
	if head != int64(len(history))+1 {
		f.t.Fatalf("seed: head revision %d, want %d (etcd starts at 1, one revision per write)", head, len(history)+1)
	}
	return head
}

func get(key string, opts ...clientv3.OpOption) stepFunc {
	return func(ctx context.Context, s *server) (any, error) { return s.client().Get(ctx, key, opts...) }
}

func rawRange(req *pb.RangeRequest) stepFunc {
	return func(ctx context.Context, s *server) (any, error) { return s.kv().Range(ctx, req) }
}

func TestRange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := seed(f)

	t.Run("keys", func(t *testing.T) {
		f := f.sub(t)
		rs := f.ok("single key", get("b/1"))
		for _, r := range rs {
			rr := rangeResp(r)
			f.expect(r, len(rr.Kvs) == 1 && string(rr.Kvs[0].Value) == "x" && rr.Count == 1, "single key: %v", rr)
		}
		rs = f.ok("missing key", get("nope"))
		for _, r := range rs {
			rr := rangeResp(r)
			f.expect(r, len(rr.Kvs) == 0 && rr.Count == 0 && !rr.More && rr.Header.Revision == head, "missing key: %v", rr)
		}
		f.ok("deleted key", get("tmp/1"))
		f.ok("empty value", get("e"))
		f.ok("binary key with NUL", get("d\x00"))
		f.ok("key 0xff", get("\xff"))
		f.ok("key is a prefix of others", get("b"))
	})

	t.Run("ranges", func(t *testing.T) {
		f := f.sub(t)
		rs := f.ok("prefix b/", get("b/", clientv3.WithPrefix()))
		for _, r := range rs {
			f.expect(r, rangeResp(r).Count == 3, "prefix b/: count %d, want 3", rangeResp(r).Count)
		}
		f.ok("prefix s/", get("s/", clientv3.WithPrefix()))
		f.ok("prefix z\\xff", get("z\xff", clientv3.WithPrefix()))
		f.ok("prefix \\xff (end \\x00)", get("\xff", clientv3.WithPrefix()))
		f.ok("prefix of everything", get("", clientv3.WithPrefix()))
		f.ok("prefix with no keys", get("nothing/", clientv3.WithPrefix()))
		f.ok("from key b/2", get("b/2", clientv3.WithFromKey()))
		rs = f.ok("from key \\x00 (all)", get("\x00", clientv3.WithFromKey()))
		for _, r := range rs {
			f.expect(r, rangeResp(r).Count == liveKeys(), "all keys: count %d, want %d", rangeResp(r).Count, liveKeys())
		}
		f.ok("from key past the end", get("\xff\xff", clientv3.WithFromKey()))
		f.ok("range [b/1, c)", get("b/1", clientv3.WithRange("c")))
		f.ok("range [b/1, b/1)", get("b/1", clientv3.WithRange("b/1")))
		f.ok("range end < key", get("c", clientv3.WithRange("b")))
		f.ok("range [a, a\\x00)", get("a", clientv3.WithRange("a\x00")))
		f.ok("raw range_end \\x00 from a", rawRange(&pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}}))
	})

	t.Run("limit", func(t *testing.T) {
		f := f.sub(t)
		n := liveKeys()
		for _, limit := range []int64{1, 2, 3, n - 1, n, n + 1, 100} {
			rs := f.ok(fmt.Sprintf("all, limit %d", limit), get("\x00", clientv3.WithFromKey(), clientv3.WithLimit(limit)))
			for _, r := range rs {
				rr := rangeResp(r)
				f.expect(r, rr.More == (limit < n) && rr.Count == n && int64(len(rr.Kvs)) == min(limit, n),
					"limit %d: more=%v count=%d kvs=%d", limit, rr.More, rr.Count, len(rr.Kvs))
			}
		}
		f.ok("prefix b/, limit 2", get("b/", clientv3.WithPrefix(), clientv3.WithLimit(2)))
		f.ok("single key, limit 1", get("a", clientv3.WithLimit(1)))
		f.ok("count only, limit 2", get("b/", clientv3.WithPrefix(), clientv3.WithLimit(2), clientv3.WithCountOnly()))
		f.ok("keys only, limit 2", get("b/", clientv3.WithPrefix(), clientv3.WithLimit(2), clientv3.WithKeysOnly()))
		f.ok("limit at old revision", get("b/", clientv3.WithPrefix(), clientv3.WithLimit(1), clientv3.WithRev(6)))
	})

	t.Run("revisions", func(t *testing.T) {
		f := f.sub(t)
		for rev := int64(1); rev <= head; rev++ {
			f.ok(fmt.Sprintf("all at rev %d", rev), get("\x00", clientv3.WithFromKey(), clientv3.WithRev(rev)))
			f.ok(fmt.Sprintf("b/2 at rev %d", rev), get("b/2", clientv3.WithRev(rev)))
		}
		rs := f.ok("a at rev 2", get("a", clientv3.WithRev(2)))
		for _, r := range rs {
			rr := rangeResp(r)
			f.expect(r, len(rr.Kvs) == 1 && string(rr.Kvs[0].Value) == "1" && rr.Header.Revision == head,
				"a at rev 2: %v (header revision must be the current one, %d)", rr, head)
		}
		f.ok("rev 0 is current", get("a", clientv3.WithRev(0)))
		f.ok("rev = head", get("a", clientv3.WithRev(head)))
	})

	t.Run("sort", func(t *testing.T) {
		f := f.sub(t)
		targets := []pb.RangeRequest_SortTarget{pb.RangeRequest_KEY, pb.RangeRequest_VERSION, pb.RangeRequest_CREATE, pb.RangeRequest_MOD, pb.RangeRequest_VALUE}
		orders := []pb.RangeRequest_SortOrder{pb.RangeRequest_NONE, pb.RangeRequest_ASCEND, pb.RangeRequest_DESCEND}
		for _, tg := range targets {
			for _, o := range orders {
				for _, limit := range []int64{0, 2} {
					req := &pb.RangeRequest{Key: []byte("s/"), RangeEnd: []byte("s0"), SortTarget: tg, SortOrder: o, Limit: limit}
					f.ok(fmt.Sprintf("raw sort %s %s limit %d", tg, o, limit), rawRange(req))
				}
				req := &pb.RangeRequest{Key: []byte("s/"), RangeEnd: []byte("s0"), SortTarget: tg, SortOrder: o, Revision: 30}
				f.ok(fmt.Sprintf("raw sort %s %s at rev 30", tg, o), rawRange(req))
				req = &pb.RangeRequest{Key: []byte("s/"), RangeEnd: []byte("s0"), SortTarget: tg, SortOrder: o, KeysOnly: true, Limit: 3}
				f.ok(fmt.Sprintf("raw sort %s %s keys only limit 3", tg, o), rawRange(req))
			}
		}
		// clientv3's own sort option (it drops ASCEND on KEY).
		f.ok("clientv3 WithSort(value, descend)", get("s/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortDescend)))
		f.ok("clientv3 WithLastCreate", get("s/", append([]clientv3.OpOption{clientv3.WithPrefix()}, clientv3.WithLastCreate()...)...))
		f.ok("clientv3 WithFirstRev", get("s/", append([]clientv3.OpOption{clientv3.WithPrefix()}, clientv3.WithFirstRev()...)...))
		f.ok("clientv3 WithLastKey", get("s/", append([]clientv3.OpOption{clientv3.WithPrefix()}, clientv3.WithLastKey()...)...))
	})

	// Keys with equal sort values: etcd's order among ties is part of what
	// clients observe.
	t.Run("sort ties", func(t *testing.T) {
		f := f.sub(t)
		for _, tg := range []pb.RangeRequest_SortTarget{pb.RangeRequest_VERSION, pb.RangeRequest_VALUE} {
			for _, o := range []pb.RangeRequest_SortOrder{pb.RangeRequest_NONE, pb.RangeRequest_ASCEND, pb.RangeRequest_DESCEND} {
				req := &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortTarget: tg, SortOrder: o, KeysOnly: true}
				f.ok(fmt.Sprintf("all keys sort %s %s", tg, o), rawRange(req))
			}
		}
	})

	t.Run("flags", func(t *testing.T) {
		f := f.sub(t)
		f.ok("serializable all", get("\x00", clientv3.WithFromKey(), clientv3.WithSerializable()))
		f.ok("serializable at rev 5", get("\x00", clientv3.WithFromKey(), clientv3.WithSerializable(), clientv3.WithRev(5)))
		f.ok("keys only", get("b/", clientv3.WithPrefix(), clientv3.WithKeysOnly()))
		rs := f.ok("count only", get("\x00", clientv3.WithFromKey(), clientv3.WithCountOnly()))
		for _, r := range rs {
			rr := rangeResp(r)
			f.expect(r, len(rr.Kvs) == 0 && rr.Count == liveKeys() && !rr.More, "count only: %v", rr)
		}
		f.ok("count only, missing key", get("nope", clientv3.WithCountOnly()))
		f.ok("count only at rev 8", get("b/", clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithRev(8)))
		f.ok("keys only and count only", get("b/", clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithCountOnly()))
	})

	t.Run("min max revisions", func(t *testing.T) {
		f := f.sub(t)
		all := []clientv3.OpOption{clientv3.WithFromKey()}
		with := func(o ...clientv3.OpOption) []clientv3.OpOption {
			return append(append([]clientv3.OpOption(nil), all...), o...)
		}
		for _, rev := range []int64{1, 5, 9, 15, 25, head, head + 1} {
			f.ok(fmt.Sprintf("min mod %d", rev), get("\x00", with(clientv3.WithMinModRev(rev))...))
			f.ok(fmt.Sprintf("max mod %d", rev), get("\x00", with(clientv3.WithMaxModRev(rev))...))
			f.ok(fmt.Sprintf("min create %d", rev), get("\x00", with(clientv3.WithMinCreateRev(rev))...))
			f.ok(fmt.Sprintf("max create %d", rev), get("\x00", with(clientv3.WithMaxCreateRev(rev))...))
		}
		f.ok("min mod 5 max mod 20", get("\x00", with(clientv3.WithMinModRev(5), clientv3.WithMaxModRev(20))...))
		f.ok("min create 3 max create 12", get("\x00", with(clientv3.WithMinCreateRev(3), clientv3.WithMaxCreateRev(12))...))
		f.ok("min mod 10 limit 2", get("\x00", with(clientv3.WithMinModRev(10), clientv3.WithLimit(2))...))
		f.ok("max create 10 limit 1 count only", get("\x00", with(clientv3.WithMaxCreateRev(10), clientv3.WithLimit(1), clientv3.WithCountOnly())...))
		f.ok("min mod 5 keys only sort by mod desc", get("\x00", with(clientv3.WithMinModRev(5), clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend))...))
		f.ok("min mod 3 at rev 10", get("\x00", with(clientv3.WithMinModRev(3), clientv3.WithRev(10))...))
		f.ok("min > max", get("\x00", with(clientv3.WithMinModRev(20), clientv3.WithMaxModRev(10))...))
	})
}
