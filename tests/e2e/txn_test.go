package e2e

import (
	"context"
	"fmt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

type cmps = []clientv3.Cmp
type ops = []clientv3.Op

func txn(c cmps, then, els ops) stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		return s.client().Txn(ctx).If(c...).Then(then...).Else(els...).Commit()
	}
}

func rawTxn(req *pb.TxnRequest) stepFunc {
	return func(ctx context.Context, s *server) (any, error) { return s.kv().Txn(ctx, req) }
}

func txnResp(r result) *clientv3.TxnResponse { t, _ := r.resp.(*clientv3.TxnResponse); return t }

func TestTxn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := seed(f)
	// After seed: a = "3" (version 3, create 2, mod 15, no lease); "nope" does not exist.

	t.Run("compares", func(t *testing.T) {
		f := f.sub(t)
		type target struct {
			name     string
			cmp      func(key string) clientv3.Cmp
			operands []any
		}
		targets := []target{
			{"version", clientv3.Version, []any{0, 2, 3, 4}},
			{"create", clientv3.CreateRevision, []any{0, 1, 2, 3}},
			{"mod", clientv3.ModRevision, []any{0, 14, 15, 16}},
			{"value", clientv3.Value, []any{"", "2", "3", "4", "30"}},
			{"lease", clientv3.LeaseValue, []any{0, 1, unknownLease}},
		}
		for _, tg := range targets {
			for _, key := range []string{"a", "nope"} {
				for _, op := range []string{"=", "!=", ">", "<"} {
					for _, v := range tg.operands {
						c := clientv3.Compare(tg.cmp(key), op, v)
						rs := f.ok(fmt.Sprintf("%s(%q) %s %v", tg.name, key, op, v),
							txn(cmps{c}, ops{clientv3.OpGet("a")}, ops{clientv3.OpGet("b/1")}))
						_ = rs
					}
				}
			}
		}
		for _, r := range f.ok("version(a) = 3 is true", txn(cmps{clientv3.Compare(clientv3.Version("a"), "=", 3)}, nil, nil)) {
			f.expect(r, txnResp(r).Succeeded, "version(a) = 3 must succeed")
		}
		for _, r := range f.ok("value(nope) = \"\" is false", txn(cmps{clientv3.Compare(clientv3.Value("nope"), "=", "")}, nil, nil)) {
			f.expect(r, !txnResp(r).Succeeded, "a value compare on a missing key fails")
		}
		for _, r := range f.ok("version(nope) = 0 is true", txn(cmps{clientv3.Compare(clientv3.Version("nope"), "=", 0)}, nil, nil)) {
			f.expect(r, txnResp(r).Succeeded, "a missing key has version 0")
		}
		f.ok("two compares, one false", txn(cmps{
			clientv3.Compare(clientv3.Version("a"), "=", 3),
			clientv3.Compare(clientv3.Value("b/1"), "=", "no"),
		}, ops{clientv3.OpGet("a")}, ops{clientv3.OpGet("c")}))
		f.ok("two compares, both true", txn(cmps{
			clientv3.Compare(clientv3.Version("a"), "=", 3),
			clientv3.Compare(clientv3.Value("b/1"), "=", "x"),
		}, ops{clientv3.OpGet("a")}, ops{clientv3.OpGet("c")}))
		f.ok("compare on a binary key", txn(cmps{clientv3.Compare(clientv3.Value("d\x00"), "=", "nul")}, ops{clientv3.OpGet("d\x00")}, nil))
	})

	t.Run("compare ranges", func(t *testing.T) {
		f := f.sub(t)
		type tc struct {
			name string
			cmp  clientv3.Cmp
		}
		cases := []tc{
			{"version(b/*) > 0", clientv3.Compare(clientv3.Version("b/"), ">", 0).WithPrefix()},
			{"version(b/*) = 1", clientv3.Compare(clientv3.Version("b/"), "=", 1).WithPrefix()},
			{"version(b/*) < 4", clientv3.Compare(clientv3.Version("b/"), "<", 4).WithPrefix()},
			{"mod(s/*) < 100", clientv3.Compare(clientv3.ModRevision("s/"), "<", 100).WithPrefix()},
			{"mod(s/*) > 20", clientv3.Compare(clientv3.ModRevision("s/"), ">", 20).WithPrefix()},
			{"create(s/*) != 17", clientv3.Compare(clientv3.CreateRevision("s/"), "!=", 17).WithPrefix()},
			{"value([b/1,b/3)) = x", clientv3.Compare(clientv3.Value("b/1"), "=", "x").WithRange("b/3")},
			{"value([b/1,b/2)) = x", clientv3.Compare(clientv3.Value("b/1"), "=", "x").WithRange("b/2")},
			{"value(b/*) != q", clientv3.Compare(clientv3.Value("b/"), "!=", "q").WithPrefix()},
			{"lease(b/*) = 0", clientv3.Compare(clientv3.LeaseValue("b/"), "=", 0).WithPrefix()},
			{"version(nothing/*) = 0", clientv3.Compare(clientv3.Version("nothing/"), "=", 0).WithPrefix()},
			{"value(nothing/*) = \"\"", clientv3.Compare(clientv3.Value("nothing/"), "=", "").WithPrefix()},
			{"version(from \\x00) > 0", clientv3.Compare(clientv3.Version("\x00"), ">", 0).WithRange("\x00")},
			{"version(from b/) > 1", clientv3.Compare(clientv3.Version("b/"), ">", 1).WithRange("\x00")},
			{"create(range end < key) = 0", clientv3.Compare(clientv3.CreateRevision("c"), "=", 0).WithRange("b")},
		}
		for _, c := range cases {
			f.ok(c.name, txn(cmps{c.cmp}, ops{clientv3.OpGet("b/", clientv3.WithPrefix(), clientv3.WithKeysOnly())}, ops{clientv3.OpGet("a")}))
		}
	})

	t.Run("branches", func(t *testing.T) {
		f := f.sub(t)
		guard := cmps{clientv3.Compare(clientv3.Value("a"), "=", "3")}
		then := ops{clientv3.OpPut("a", "4", clientv3.WithPrevKV()), clientv3.OpDelete("c", clientv3.WithPrevKV()), clientv3.OpGet("a"), clientv3.OpGet("c")}
		els := ops{clientv3.OpPut("x", "else"), clientv3.OpGet("a")}
		rs := f.ok("then branch writes", txn(guard, then, els))
		for _, r := range rs {
			tr := txnResp(r)
			f.expect(r, tr.Succeeded && tr.Header.Revision == head+1 && len(tr.Responses) == 4, "then branch: %v", tr)
		}
		rs = f.ok("else branch writes", txn(guard, then, els))
		for _, r := range rs {
			tr := txnResp(r)
			f.expect(r, !tr.Succeeded && tr.Header.Revision == head+2 && len(tr.Responses) == 2, "else branch: %v", tr)
		}
		f.ok("read-only else", txn(guard, then, ops{clientv3.OpGet("x")}))
		f.ok("no compares runs then", txn(nil, ops{clientv3.OpGet("x"), clientv3.OpPut("y", "1")}, ops{clientv3.OpPut("z", "1")}))
		rs = f.ok("empty txn", txn(nil, nil, nil))
		for _, r := range rs {
			f.expect(r, txnResp(r).Succeeded && len(txnResp(r).Responses) == 0, "empty txn: %v", txnResp(r))
		}
		f.ok("txn with a range at an old revision", txn(nil, ops{clientv3.OpGet("a", clientv3.WithRev(3)), clientv3.OpGet("b/", clientv3.WithPrefix(), clientv3.WithRev(8), clientv3.WithCountOnly())}, nil))
		f.ok("txn range options", txn(nil, ops{
			clientv3.OpGet("s/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortDescend), clientv3.WithLimit(2)),
			clientv3.OpGet("\x00", clientv3.WithFromKey(), clientv3.WithKeysOnly(), clientv3.WithMinModRev(10)),
			clientv3.OpGet("s/", clientv3.WithPrefix(), clientv3.WithSerializable()),
		}, nil))
		f.ok("delete range with prev_kv in txn", txn(nil, ops{clientv3.OpDelete("s/", clientv3.WithPrefix(), clientv3.WithPrevKV())}, nil))
		f.ok("state after branches", get("\x00", clientv3.WithFromKey()))
	})

	t.Run("one revision per txn", func(t *testing.T) {
		f := f.sub(t)
		before := headerRev(f.ok("head before", get("a"))[0])
		rs := f.ok("three writes", txn(nil, ops{clientv3.OpPut("r/1", "1"), clientv3.OpPut("r/2", "2"), clientv3.OpDelete("b/1")}, nil))
		for _, r := range rs {
			f.expect(r, txnResp(r).Header.Revision == before+1, "txn revision %d, want %d", txnResp(r).Header.Revision, before+1)
		}
		for _, r := range f.ok("written keys share the revision", get("r/", clientv3.WithPrefix())) {
			for _, kv := range rangeResp(r).Kvs {
				f.expect(r, kv.ModRevision == before+1 && kv.CreateRevision == before+1, "%s: mod %d create %d, want %d", kv.Key, kv.ModRevision, kv.CreateRevision, before+1)
			}
		}
		f.ok("b/1 deleted at that revision", get("b/1", clientv3.WithRev(before)))
		f.ok("read-only txn uses no revision", txn(nil, ops{clientv3.OpGet("r/1")}, nil))
		f.ok("failed compare, empty else, uses no revision", txn(cmps{clientv3.Compare(clientv3.Version("r/1"), "=", 9)}, ops{clientv3.OpPut("r/3", "3")}, nil))
		f.ok("delete of nothing in txn", txn(nil, ops{clientv3.OpDelete("nothing")}, nil))
		f.ok("head after", get("a"))
	})

	t.Run("read your writes", func(t *testing.T) {
		f := f.sub(t)
		rs := f.ok("put then get", txn(nil, ops{clientv3.OpPut("rw", "1"), clientv3.OpGet("rw"), clientv3.OpGet("rw", clientv3.WithCountOnly())}, nil))
		for _, r := range rs {
			tr := txnResp(r)
			got := tr.Responses[1].GetResponseRange()
			f.expect(r, got != nil && len(got.Kvs) == 1 && string(got.Kvs[0].Value) == "1" && got.Kvs[0].ModRevision == tr.Header.Revision,
				"get after put in the same txn: %v", got)
		}
		f.ok("delete then get", txn(nil, ops{clientv3.OpDelete("rw"), clientv3.OpGet("rw"), clientv3.OpGet("r/", clientv3.WithPrefix())}, nil))
		f.ok("get, put, get", txn(nil, ops{clientv3.OpGet("r/1"), clientv3.OpPut("r/1", "new", clientv3.WithPrevKV()), clientv3.OpGet("r/1")}, nil))
		f.ok("put then prefix get", txn(nil, ops{clientv3.OpPut("r/0", "0"), clientv3.OpGet("r/", clientv3.WithPrefix())}, nil))
		f.ok("nested put then outer get", txn(nil, ops{clientv3.OpTxn(nil, ops{clientv3.OpPut("r/9", "9")}, nil), clientv3.OpGet("r/9")}, nil))
	})

	t.Run("nested", func(t *testing.T) {
		f := f.sub(t)
		inner := clientv3.OpTxn(cmps{clientv3.Compare(clientv3.Version("a"), ">", 0)},
			ops{clientv3.OpPut("n/then", "1"), clientv3.OpGet("a")},
			ops{clientv3.OpPut("n/else", "1")})
		innerFalse := clientv3.OpTxn(cmps{clientv3.Compare(clientv3.Version("a"), "=", 99)},
			ops{clientv3.OpPut("n/then2", "1")},
			ops{clientv3.OpPut("n/else2", "1"), clientv3.OpGet("n/", clientv3.WithPrefix())})
		f.ok("nested then/else", txn(nil, ops{inner, innerFalse, clientv3.OpGet("n/", clientv3.WithPrefix())}, nil))
		deep := clientv3.OpTxn(nil, ops{clientv3.OpTxn(nil, ops{clientv3.OpTxn(nil, ops{clientv3.OpPut("n/deep", "3"), clientv3.OpGet("n/deep")}, nil)}, nil)}, nil)
		f.ok("three levels", txn(nil, ops{deep}, nil))
		f.ok("nested in else", txn(cmps{clientv3.Compare(clientv3.Value("a"), "=", "nope")}, nil, ops{clientv3.OpTxn(nil, ops{clientv3.OpDelete("n/", clientv3.WithPrefix(), clientv3.WithPrevKV())}, nil)}))
		f.ok("nested empty txn", txn(nil, ops{clientv3.OpTxn(nil, nil, nil)}, nil))
		f.ok("after nested", get("n/", clientv3.WithPrefix()))
	})

	t.Run("duplicate keys", func(t *testing.T) {
		f := f.sub(t)
		dup := rpctypes.ErrDuplicateKey
		put := func(k string) clientv3.Op { return clientv3.OpPut(k, "v") }
		nested := func(then, els ops) clientv3.Op { return clientv3.OpTxn(nil, then, els) }
		f.fails("put, put", dup, txn(nil, ops{put("k"), put("k")}, nil))
		f.fails("put, delete", dup, txn(nil, ops{put("k"), clientv3.OpDelete("k")}, nil))
		f.fails("delete, put", dup, txn(nil, ops{clientv3.OpDelete("k"), put("k")}, nil))
		f.fails("put in a deleted prefix", dup, txn(nil, ops{put("b/1"), clientv3.OpDelete("b/", clientv3.WithPrefix())}, nil))
		f.fails("put in a deleted range", dup, txn(nil, ops{clientv3.OpDelete("a", clientv3.WithRange("c")), put("b")}, nil))
		f.fails("put, nested put", dup, txn(nil, ops{put("k"), nested(ops{put("k")}, nil)}, nil))
		f.fails("nested put, nested put", dup, txn(nil, ops{nested(ops{put("k")}, nil), nested(ops{put("k")}, nil)}, nil))
		f.fails("delete, nested put", dup, txn(nil, ops{clientv3.OpDelete("k"), nested(ops{put("k")}, nil)}, nil))
		f.fails("nested delete, put", dup, txn(nil, ops{nested(ops{clientv3.OpDelete("k")}, nil), put("k")}, nil))
		f.fails("nested else put, put", dup, txn(nil, ops{nested(nil, ops{put("k")}), put("k")}, nil))
		f.fails("duplicate in else", dup, txn(nil, nil, ops{put("k"), put("k")}))
		// etcd's interval check sees [key, "\x00") as empty: a put after a
		// from-key delete of the same keys is not a duplicate there.
		f.ok("put in a deleted from-key range", txn(nil, ops{clientv3.OpDelete("zz", clientv3.WithFromKey()), put("zzz")}, nil))
		f.ok("overlapping deletes", txn(nil, ops{clientv3.OpDelete("b/", clientv3.WithPrefix()), clientv3.OpDelete("b/1")}, nil))
		f.ok("same key in then and else", txn(nil, ops{put("k")}, ops{put("k")}))
		f.ok("same key in nested then and else", txn(nil, ops{nested(ops{put("k")}, ops{put("k")})}, nil))
		f.ok("get and put", txn(nil, ops{clientv3.OpGet("k"), put("k"), clientv3.OpGet("k")}, nil))
		f.ok("state after", get("\x00", clientv3.WithFromKey(), clientv3.WithKeysOnly()))
	})

	t.Run("empty keys", func(t *testing.T) {
		f := f.sub(t)
		f.fails("compare on an empty key", rpctypes.ErrEmptyKey, txn(cmps{clientv3.Compare(clientv3.Version(""), "=", 0)}, nil, nil))
		f.fails("put of an empty key", rpctypes.ErrEmptyKey, txn(nil, ops{clientv3.OpPut("", "v")}, nil))
		f.fails("get of an empty key", rpctypes.ErrEmptyKey, txn(nil, ops{clientv3.OpGet("")}, nil))
		f.fails("delete of an empty key in else", rpctypes.ErrEmptyKey, txn(nil, nil, ops{clientv3.OpDelete("")}))
		f.fails("nested put of an empty key", rpctypes.ErrEmptyKey, txn(nil, ops{clientv3.OpTxn(nil, ops{clientv3.OpPut("", "v")}, nil)}, nil))
		f.fails("raw empty compare key", rpctypes.ErrGRPCEmptyKey, rawTxn(&pb.TxnRequest{Compare: []*pb.Compare{{Target: pb.Compare_VERSION, Result: pb.Compare_EQUAL}}}))
	})

	t.Run("errors inside txn", func(t *testing.T) {
		f := f.sub(t)
		f.fails("future revision read", rpctypes.ErrFutureRev, txn(nil, ops{clientv3.OpGet("a", clientv3.WithRev(head+1000))}, nil))
		f.fails("put with unknown lease", rpctypes.ErrLeaseNotFound, txn(nil, ops{clientv3.OpPut("l", "v", clientv3.WithLease(unknownLease))}, nil))
		f.fails("ignore_value on a missing key", rpctypes.ErrKeyNotFound, txn(nil, ops{clientv3.OpPut("missing", "", clientv3.WithIgnoreValue())}, nil))
		f.fails("raw ignore_value with a value", rpctypes.ErrGRPCValueProvided, rawTxn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("a"), Value: []byte("v"), IgnoreValue: true}}}}}))
		f.fails("raw invalid sort in txn range", rpctypes.ErrGRPCInvalidSortOption, rawTxn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("a"), SortTarget: 99}}}}}))
		f.ok("a write then a failing write leave nothing", get("l"))
		f.ok("head unchanged", get("missing"))
	})
}

func TestTxnLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withFlags("--max-txn-ops", "4"))
	p := func(k string) clientv3.Op { return clientv3.OpPut(k, "v") }
	g := func(k string) clientv3.Op { return clientv3.OpGet(k) }
	c := func(k string) clientv3.Cmp { return clientv3.Compare(clientv3.Version(k), "=", 0) }
	tooMany := rpctypes.ErrTooManyOps
	f.fails("5 puts", tooMany, txn(nil, ops{p("1"), p("2"), p("3"), p("4"), p("5")}, nil))
	f.fails("5 gets", tooMany, txn(nil, ops{g("1"), g("2"), g("3"), g("4"), g("5")}, nil))
	f.fails("5 compares", tooMany, txn(cmps{c("1"), c("2"), c("3"), c("4"), c("5")}, nil, nil))
	f.fails("5 else ops", tooMany, txn(nil, nil, ops{p("1"), p("2"), p("3"), p("4"), p("5")}))
	f.ok("4 compares, 4 then, 4 else", txn(cmps{c("1"), c("2"), c("3"), c("4")}, ops{p("1"), p("2"), p("3"), p("4")}, ops{p("5"), p("6"), p("7"), p("8")}))
	f.fails("2 ops with a nested txn of 3", tooMany, txn(nil, ops{p("a"), clientv3.OpTxn(nil, ops{p("b"), p("c"), p("d")}, nil)}, nil))
	f.ok("2 ops with a nested txn of 2", txn(nil, ops{p("a"), clientv3.OpTxn(nil, ops{p("b"), p("c")}, nil)}, nil))
	f.fails("nested txn of 5", tooMany, txn(nil, ops{clientv3.OpTxn(nil, ops{p("1"), p("2"), p("3"), p("4"), p("5")}, nil)}, nil))
	f.ok("state", get("\x00", clientv3.WithFromKey()))
}
