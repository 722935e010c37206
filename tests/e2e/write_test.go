package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// unknownLease is a lease ID that exists neither in etcd nor in cairn.
const unknownLease = 12345

func put(key, val string, opts ...clientv3.OpOption) stepFunc {
	return func(ctx context.Context, s *server) (any, error) { return s.client().Put(ctx, key, val, opts...) }
}

func del(key string, opts ...clientv3.OpOption) stepFunc {
	return func(ctx context.Context, s *server) (any, error) { return s.client().Delete(ctx, key, opts...) }
}

func rawPut(req *pb.PutRequest) stepFunc {
	return func(ctx context.Context, s *server) (any, error) { return s.kv().Put(ctx, req) }
}

func rawDel(req *pb.DeleteRangeRequest) stepFunc {
	return func(ctx context.Context, s *server) (any, error) { return s.kv().DeleteRange(ctx, req) }
}

func TestPut(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	rs := f.ok("new key with prev_kv", put("k", "v1", clientv3.WithPrevKV()))
	for _, r := range rs {
		pr := r.resp.(*clientv3.PutResponse)
		f.expect(r, pr.PrevKv == nil && pr.Header.Revision == 2, "first put: %v (want no prev_kv, revision 2)", pr)
	}
	rs = f.ok("overwrite with prev_kv", put("k", "v2", clientv3.WithPrevKV()))
	for _, r := range rs {
		pr := r.resp.(*clientv3.PutResponse)
		f.expect(r, pr.PrevKv != nil && string(pr.PrevKv.Value) == "v1" && pr.PrevKv.Version == 1, "prev_kv: %v", pr.PrevKv)
	}
	f.ok("overwrite without prev_kv", put("k", "v3"))
	f.ok("get k", get("k"))

	rs = f.ok("ignore_value keeps the value", put("k", "", clientv3.WithIgnoreValue()))
	f.ok("get k after ignore_value", get("k"))
	for _, r := range f.ok("get k after ignore_value (check)", get("k")) {
		kv := rangeResp(r).Kvs
		f.expect(r, len(kv) == 1 && string(kv[0].Value) == "v3" && kv[0].Version == 4 && kv[0].ModRevision == headerRev(rs[0]), "k after ignore_value: %v", kv)
	}
	f.ok("ignore_value with prev_kv", put("k", "", clientv3.WithIgnoreValue(), clientv3.WithPrevKV()))
	f.fails("ignore_value on a missing key", rpctypes.ErrKeyNotFound, put("missing", "", clientv3.WithIgnoreValue()))
	f.fails("raw ignore_value on a missing key", rpctypes.ErrGRPCKeyNotFound, rawPut(&pb.PutRequest{Key: []byte("missing"), IgnoreValue: true}))
	f.fails("ignore_value with a value", rpctypes.ErrGRPCValueProvided, rawPut(&pb.PutRequest{Key: []byte("k"), Value: []byte("x"), IgnoreValue: true}))
	f.fails("ignore_value with a value on a missing key", rpctypes.ErrGRPCValueProvided, rawPut(&pb.PutRequest{Key: []byte("missing"), Value: []byte("x"), IgnoreValue: true}))

	f.ok("ignore_lease on an existing key", put("k", "v5", clientv3.WithIgnoreLease()))
	f.ok("ignore_lease with prev_kv", put("k", "v6", clientv3.WithIgnoreLease(), clientv3.WithPrevKV()))
	f.fails("ignore_lease on a missing key", rpctypes.ErrKeyNotFound, put("missing", "v", clientv3.WithIgnoreLease()))
	f.fails("ignore_lease with a lease", rpctypes.ErrGRPCLeaseProvided, rawPut(&pb.PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: unknownLease, IgnoreLease: true}))
	f.fails("ignore_value and ignore_lease with both given", rpctypes.ErrGRPCValueProvided, rawPut(&pb.PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: unknownLease, IgnoreLease: true, IgnoreValue: true}))
	f.ok("ignore_value and ignore_lease", put("k", "", clientv3.WithIgnoreValue(), clientv3.WithIgnoreLease(), clientv3.WithPrevKV()))

	f.fails("unknown lease on an existing key", rpctypes.ErrLeaseNotFound, put("k", "v", clientv3.WithLease(unknownLease)))
	f.fails("unknown lease on a new key", rpctypes.ErrLeaseNotFound, put("leased", "v", clientv3.WithLease(unknownLease)))
	f.fails("raw unknown lease", rpctypes.ErrGRPCLeaseNotFound, rawPut(&pb.PutRequest{Key: []byte("leased"), Value: []byte("v"), Lease: unknownLease, PrevKv: true}))
	f.fails("unknown negative lease", rpctypes.ErrGRPCLeaseNotFound, rawPut(&pb.PutRequest{Key: []byte("leased"), Value: []byte("v"), Lease: -1}))

	f.ok("empty value", put("empty", ""))
	f.ok("empty value with prev_kv", put("empty", "", clientv3.WithPrevKV()))
	f.ok("binary key and value", put("\x00\x01\xff", "\xff\x00"))
	f.ok("100 KiB value", put("big", strings.Repeat("0123456789abcdef", 100<<6)))
	f.ok("big with prev_kv", put("big", "small", clientv3.WithPrevKV()))
	f.ok("failed puts wrote nothing", get("missing"))
	f.ok("leased key was not written", get("leased"))
	rs = f.ok("everything", get("\x00", clientv3.WithFromKey()))
	for _, r := range rs {
		// 13 successful puts: revision 14.
		f.expect(r, rangeResp(r).Header.Revision == 14, "head revision %d after 13 successful puts, want 14 (failed puts must not use revisions)", rangeResp(r).Header.Revision)
	}
	for rev := int64(1); rev <= 14; rev++ {
		f.ok(fmt.Sprintf("everything at rev %d", rev), get("\x00", clientv3.WithFromKey(), clientv3.WithRev(rev)))
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := seed(f)

	rs := f.ok("delete one with prev_kv", del("a", clientv3.WithPrevKV()))
	for _, r := range rs {
		dr := r.resp.(*clientv3.DeleteResponse)
		f.expect(r, dr.Deleted == 1 && len(dr.PrevKvs) == 1 && string(dr.PrevKvs[0].Value) == "3" && dr.Header.Revision == head+1, "delete a: %v", dr)
	}
	rs = f.ok("delete a missing key", del("a"))
	for _, r := range rs {
		dr := r.resp.(*clientv3.DeleteResponse)
		f.expect(r, dr.Deleted == 0 && dr.Header.Revision == head+1, "deleting nothing: %v (must not use a revision)", dr)
	}
	f.ok("delete a missing key with prev_kv", del("nope", clientv3.WithPrevKV()))
	f.ok("delete missing prefix", del("nothing/", clientv3.WithPrefix(), clientv3.WithPrevKV()))
	rs = f.ok("delete prefix b/ with prev_kv", del("b/", clientv3.WithPrefix(), clientv3.WithPrevKV()))
	for _, r := range rs {
		dr := r.resp.(*clientv3.DeleteResponse)
		f.expect(r, dr.Deleted == 3 && len(dr.PrevKvs) == 3, "delete b/: %v", dr)
	}
	f.ok("delete range [s/2, s/4)", del("s/2", clientv3.WithRange("s/4")))
	f.ok("delete from key z\\xff with prev_kv", del("z\xff", clientv3.WithFromKey(), clientv3.WithPrevKV()))
	f.ok("raw delete range_end < key", rawDel(&pb.DeleteRangeRequest{Key: []byte("s/5"), RangeEnd: []byte("s/1"), PrevKv: true}))
	f.ok("raw delete range_end \\x00 from d", rawDel(&pb.DeleteRangeRequest{Key: []byte("d"), RangeEnd: []byte{0}, PrevKv: true}))
	f.ok("all after deletes", get("\x00", clientv3.WithFromKey()))

	f.ok("a before its delete", get("a", clientv3.WithRev(head)))
	f.ok("a at its delete", get("a", clientv3.WithRev(head+1)))
	rs = f.ok("re-create a", put("a", "new", clientv3.WithPrevKV()))
	recreated := headerRev(rs[0])
	for _, r := range f.ok("a re-created", get("a")) {
		kv := rangeResp(r).Kvs
		f.expect(r, len(kv) == 1 && kv[0].Version == 1 && kv[0].CreateRevision == headerRev(rs[0]) && kv[0].ModRevision == kv[0].CreateRevision,
			"re-created a: %v (want version 1, create_revision = mod_revision = %d)", kv, headerRev(rs[0]))
	}
	f.ok("re-create b/2", put("b/2", "again"))
	f.ok("overwrite re-created a", put("a", "newer"))
	f.ok("a history", get("a", clientv3.WithRev(recreated)))
	f.ok("delete everything with prev_kv", del("\x00", clientv3.WithFromKey(), clientv3.WithPrevKV()))
	f.ok("count after deleting everything", get("\x00", clientv3.WithFromKey(), clientv3.WithCountOnly()))
	rs = f.ok("head", get("a"))
	last := headerRev(rs[0])
	for rev := int64(1); rev <= last; rev++ {
		f.ok(fmt.Sprintf("all at rev %d", rev), get("\x00", clientv3.WithFromKey(), clientv3.WithRev(rev)))
	}
}
