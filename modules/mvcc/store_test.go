package mvcc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
	"github.com/cairnkv/cairn/modules/storage"
)

func TestEmptyStore(t *testing.T) {
	h := newHarness(t)
	if got := h.s.Rev(); got != 1 {
		t.Errorf("Rev() = %d, want 1 (etcd's empty store)", got)
	}
	if got := h.s.CompactRev(); got != -1 {
		t.Errorf("CompactRev() = %d, want -1", got)
	}
	resp := h.rng(&pb.RangeRequest{Key: []byte("\x00"), RangeEnd: []byte("\x00")})
	if len(resp.Kvs) != 0 || resp.Count != 0 || resp.Header.Revision != 1 {
		t.Errorf("range on empty store = %v", resp)
	}
	h.reopen()
	if h.s.Rev() != 1 || h.s.CompactRev() != -1 {
		t.Errorf("after reopen: rev %d compact %d", h.s.Rev(), h.s.CompactRev())
	}
}

// TestRevisionBookkeeping checks create/mod/version across puts, tombstones
// and re-creation, at the current and at old revisions.
func TestRevisionBookkeeping(t *testing.T) {
	h := newHarness(t)
	wantRev := func(got, want int64) {
		t.Helper()
		if got != want {
			t.Fatalf("header revision %d, want %d", got, want)
		}
	}
	wantRev(h.put("a", "1").Header.Revision, 2)
	wantRev(h.put("a", "2").Header.Revision, 3)
	wantRev(h.put("b", "x").Header.Revision, 4)
	wantRev(h.del("a", "").Header.Revision, 5)
	wantRev(h.put("a", "3").Header.Revision, 6)
	resp, err := h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{put("a", "4"), put("c", "z")}})
	if err != nil {
		t.Fatal(err)
	}
	wantRev(resp.Header.Revision, 7)
	wantRev(h.del("nothing", "").Header.Revision, 7) // deletes nothing: no new revision
	if h.s.Rev() != 7 {
		t.Fatalf("Rev() = %d, want 7", h.s.Rev())
	}

	tests := []struct {
		key  string
		rev  int64
		want string
	}{
		{"a", 0, "a@7{c=6,v=2}=4"},
		{"a", 1, ""},
		{"a", 2, "a@2{c=2,v=1}=1"},
		{"a", 3, "a@3{c=2,v=2}=2"},
		{"a", 4, "a@3{c=2,v=2}=2"},
		{"a", 5, ""},               // tombstone
		{"a", 6, "a@6{c=6,v=1}=3"}, // re-created: new create revision, version restarts
		{"a", 7, "a@7{c=6,v=2}=4"},
		{"b", 3, ""},
		{"b", 4, "b@4{c=4,v=1}=x"},
		{"b", 7, "b@4{c=4,v=1}=x"},
		{"c", 6, ""},
		{"c", 7, "c@7{c=7,v=1}=z"},
		{"nothing", 0, ""},
	}
	check := func() {
		t.Helper()
		for _, tt := range tests {
			if got := h.get(tt.key, tt.rev); got != tt.want {
				t.Errorf("get %s@%d = %q, want %q", tt.key, tt.rev, got, tt.want)
			}
		}
	}
	check()
	h.reopen() // state survives close/reopen
	if h.s.Rev() != 7 {
		t.Fatalf("Rev() after reopen = %d, want 7", h.s.Rev())
	}
	check()
	wantRev(h.put("d", "1").Header.Revision, 8)
}

// rangeData builds: a b c d e foo foo/x fop, current revision 10.
//
//	a@2{c=2,v=1}=c  b@6{c=3,v=2}=d  c@4{c=4,v=1}=e  d@5{c=5,v=1}=b
//	e@7{c=7,v=1}=a  foo@8=1  foo/x@9=2  fop@10=3
//
// At revision 5: a@2=c b@3=a c@4=e d@5=b.
func rangeData(t *testing.T) *harness {
	h := newHarness(t)
	for _, kv := range [][2]string{{"a", "c"}, {"b", "a"}, {"c", "e"}, {"d", "b"}, {"b", "d"}, {"e", "a"}, {"foo", "1"}, {"foo/x", "2"}, {"fop", "3"}} {
		h.put(kv[0], kv[1])
	}
	if h.s.Rev() != 10 {
		t.Fatalf("rev %d", h.s.Rev())
	}
	return h
}

func keysOf(kvs []*mvccpb.KeyValue) string {
	s := make([]string, len(kvs))
	for i, kv := range kvs {
		s[i] = string(kv.Key)
	}
	return strings.Join(s, " ")
}

func TestRangeOptions(t *testing.T) {
	h := rangeData(t)
	const (
		asc  = pb.RangeRequest_ASCEND
		desc = pb.RangeRequest_DESCEND
	)
	af := func(r *pb.RangeRequest) *pb.RangeRequest { r.Key, r.RangeEnd = []byte("a"), []byte("f"); return r }
	tests := []struct {
		name  string
		req   *pb.RangeRequest
		keys  string // keys of the result, in order
		full  string // if set, the full result (fmtKVs)
		count int64
		more  bool
	}{
		{name: "single key", req: &pb.RangeRequest{Key: []byte("b")}, full: "b@6{c=3,v=2}=d", count: 1},
		{name: "single missing", req: &pb.RangeRequest{Key: []byte("bb")}, keys: "", count: 0},
		{name: "range", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("c")}, keys: "a b", count: 2},
		{name: "from key", req: &pb.RangeRequest{Key: []byte("d"), RangeEnd: []byte{0}}, keys: "d e foo foo/x fop", count: 5},
		{name: "prefix", req: &pb.RangeRequest{Key: []byte("foo"), RangeEnd: []byte("fop")}, keys: "foo foo/x", count: 2},
		{name: "all", req: &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}, keys: "a b c d e foo foo/x fop", count: 8},
		{name: "end before key", req: &pb.RangeRequest{Key: []byte("c"), RangeEnd: []byte("a")}, keys: "", count: 0},
		{name: "end equals key", req: &pb.RangeRequest{Key: []byte("c"), RangeEnd: []byte("c")}, keys: "", count: 0},
		{name: "limit", req: af(&pb.RangeRequest{Limit: 2}), keys: "a b", count: 5, more: true},
		{name: "limit equals count", req: af(&pb.RangeRequest{Limit: 5}), keys: "a b c d e", count: 5},
		{name: "limit above count", req: af(&pb.RangeRequest{Limit: 50}), keys: "a b c d e", count: 5},
		{name: "keys only", req: &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("c"), KeysOnly: true}, full: "a@2{c=2,v=1} b@6{c=3,v=2}", count: 2},
		{name: "count only", req: af(&pb.RangeRequest{CountOnly: true}), keys: "", count: 5},
		{name: "count only ignores limit and filters", req: af(&pb.RangeRequest{CountOnly: true, Limit: 1, MinModRevision: 7}), keys: "", count: 5},
		{name: "count only single", req: &pb.RangeRequest{Key: []byte("a"), CountOnly: true}, count: 1},
		{name: "key ascend is key order", req: af(&pb.RangeRequest{SortTarget: pb.RangeRequest_KEY, SortOrder: asc, Limit: 2}), keys: "a b", count: 5, more: true},
		{name: "key descend", req: af(&pb.RangeRequest{SortOrder: desc}), keys: "e d c b a", count: 5},
		{name: "key descend limit", req: af(&pb.RangeRequest{SortOrder: desc, Limit: 2}), keys: "e d", count: 5, more: true},
		{name: "version default ascend", req: af(&pb.RangeRequest{SortTarget: pb.RangeRequest_VERSION}), keys: "a c d e b", count: 5},
		{name: "version descend", req: af(&pb.RangeRequest{SortTarget: pb.RangeRequest_VERSION, SortOrder: desc}), keys: "b a c d e", count: 5},
		{name: "create descend", req: af(&pb.RangeRequest{SortTarget: pb.RangeRequest_CREATE, SortOrder: desc}), keys: "e d c b a", count: 5},
		{name: "create ascend", req: af(&pb.RangeRequest{SortTarget: pb.RangeRequest_CREATE, SortOrder: asc}), keys: "a b c d e", count: 5},
		{name: "mod ascend", req: af(&pb.RangeRequest{SortTarget: pb.RangeRequest_MOD, SortOrder: asc}), keys: "a c d b e", count: 5},
		{name: "mod descend limit", req: af(&pb.RangeRequest{SortTarget: pb.RangeRequest_MOD, SortOrder: desc, Limit: 2}), keys: "e b", count: 5, more: true},
		{name: "value ascend", req: af(&pb.RangeRequest{SortTarget: pb.RangeRequest_VALUE, SortOrder: asc}), keys: "e d a b c", count: 5},
		{name: "value descend keys only", req: af(&pb.RangeRequest{SortTarget: pb.RangeRequest_VALUE, SortOrder: desc, KeysOnly: true, Limit: 2}),
			full: "c@4{c=4,v=1} b@6{c=3,v=2}", count: 5, more: true},
		{name: "min mod", req: af(&pb.RangeRequest{MinModRevision: 5}), keys: "b d e", count: 5},
		{name: "max mod", req: af(&pb.RangeRequest{MaxModRevision: 4}), keys: "a c", count: 5},
		{name: "min create", req: af(&pb.RangeRequest{MinCreateRevision: 4}), keys: "c d e", count: 5},
		{name: "max create", req: af(&pb.RangeRequest{MaxCreateRevision: 3}), keys: "a b", count: 5},
		{name: "min and max mod", req: af(&pb.RangeRequest{MinModRevision: 4, MaxModRevision: 6}), keys: "b c d", count: 5},
		{name: "filter limit more", req: af(&pb.RangeRequest{MinModRevision: 3, Limit: 1}), keys: "b", count: 5, more: true},
		{name: "filter limit no more", req: af(&pb.RangeRequest{MinModRevision: 7, Limit: 1}), keys: "e", count: 5},
		{name: "filter and sort", req: af(&pb.RangeRequest{MaxCreateRevision: 4, SortTarget: pb.RangeRequest_MOD, SortOrder: desc}), keys: "b c a", count: 5},
		{name: "filter key descend limit", req: af(&pb.RangeRequest{MaxModRevision: 5, SortOrder: desc, Limit: 2}), keys: "d c", count: 5, more: true},
		{name: "old revision", req: af(&pb.RangeRequest{Revision: 5}), full: "a@2{c=2,v=1}=c b@3{c=3,v=1}=a c@4{c=4,v=1}=e d@5{c=5,v=1}=b", count: 4},
		{name: "old revision limit", req: af(&pb.RangeRequest{Revision: 5, Limit: 2}), keys: "a b", count: 4, more: true},
		{name: "old revision count only", req: af(&pb.RangeRequest{Revision: 5, CountOnly: true}), count: 4},
		{name: "old revision value sort", req: af(&pb.RangeRequest{Revision: 5, SortTarget: pb.RangeRequest_VALUE}), keys: "b d a c", count: 4},
		{name: "old revision key descend limit", req: af(&pb.RangeRequest{Revision: 5, SortOrder: desc, Limit: 2}), keys: "d c", count: 4, more: true},
		{name: "old revision filter", req: af(&pb.RangeRequest{Revision: 5, MinModRevision: 4}), keys: "c d", count: 4},
		{name: "old revision single", req: &pb.RangeRequest{Key: []byte("b"), Revision: 4}, full: "b@3{c=3,v=1}=a", count: 1},
		{name: "old revision single missing", req: &pb.RangeRequest{Key: []byte("e"), Revision: 6}, count: 0},
		{name: "old revision from key", req: &pb.RangeRequest{Key: []byte("c"), RangeEnd: []byte{0}, Revision: 8}, keys: "c d e foo", count: 4},
		{name: "explicit current revision", req: af(&pb.RangeRequest{Revision: 10, Limit: 1}), keys: "a", count: 5, more: true},
		{name: "negative revision is current", req: &pb.RangeRequest{Key: []byte("b"), Revision: -3}, full: "b@6{c=3,v=2}=d", count: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.rng(tt.req)
			if tt.full != "" {
				if got := fmtKVs(resp.Kvs); got != tt.full {
					t.Errorf("kvs = %s, want %s", got, tt.full)
				}
			} else if got := keysOf(resp.Kvs); got != tt.keys {
				t.Errorf("keys = %q, want %q", got, tt.keys)
			}
			if resp.Count != tt.count || resp.More != tt.more {
				t.Errorf("count %d more %v, want %d %v", resp.Count, resp.More, tt.count, tt.more)
			}
			if resp.Header.Revision != 10 {
				t.Errorf("header revision %d, want 10 (the current revision, also for old reads)", resp.Header.Revision)
			}
			if tt.req.KeysOnly || tt.req.CountOnly {
				for _, kv := range resp.Kvs {
					if kv.Value != nil {
						t.Errorf("value of %s with keys_only", kv.Key)
					}
				}
			}
		})
	}
}

func TestRangeErrors(t *testing.T) {
	h := rangeData(t)
	h.compactWait(5)
	tests := []struct {
		name string
		req  *pb.RangeRequest
		want error
	}{
		{"future", &pb.RangeRequest{Key: []byte("a"), Revision: 11}, rpcerr.ErrFutureRev},
		{"compacted", &pb.RangeRequest{Key: []byte("a"), Revision: 4}, rpcerr.ErrCompacted},
		{"compacted count", &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("z"), Revision: 1, CountOnly: true}, rpcerr.ErrCompacted},
		{"at compacted revision", &pb.RangeRequest{Key: []byte("a"), Revision: 5}, nil},
		{"bad sort order", &pb.RangeRequest{Key: []byte("a"), SortOrder: 7}, rpcerr.ErrInvalidSortOption},
		{"bad sort target", &pb.RangeRequest{Key: []byte("a"), SortTarget: 9}, rpcerr.ErrInvalidSortOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.s.Range(context.Background(), tt.req)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A canceled context stops long scans (checked every ctxCheckEvery keys).
	h2 := newHarness(t)
	h2.batch(func(b *pebble.Batch) {
		for i := range ctxCheckEvery + 10 {
			if _, err := h2.s.Put(b, &pb.PutRequest{Key: []byte{'k', byte(i >> 8), byte(i)}}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if _, err := h2.s.Range(ctx, &pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l")}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled range err = %v", err)
	}
}

func TestPutOptions(t *testing.T) {
	tests := []struct {
		name    string
		setup   []*pb.PutRequest
		req     *pb.PutRequest
		wantErr error
		want    string // key after the put
		prev    string // resp.PrevKv
	}{
		{name: "create", req: &pb.PutRequest{Key: []byte("k"), Value: []byte("v")}, want: "k@2{c=2,v=1}=v"},
		{name: "overwrite", setup: []*pb.PutRequest{{Key: []byte("k"), Value: []byte("v1")}},
			req: &pb.PutRequest{Key: []byte("k"), Value: []byte("v2")}, want: "k@3{c=2,v=2}=v2"},
		{name: "prev kv", setup: []*pb.PutRequest{{Key: []byte("k"), Value: []byte("v1"), Lease: 5}},
			req: &pb.PutRequest{Key: []byte("k"), Value: []byte("v2"), PrevKv: true}, want: "k@3{c=2,v=2}=v2", prev: "k@2{c=2,v=1,l=5}=v1"},
		{name: "prev kv missing", req: &pb.PutRequest{Key: []byte("k"), Value: []byte("v"), PrevKv: true}, want: "k@2{c=2,v=1}=v"},
		{name: "empty value", req: &pb.PutRequest{Key: []byte("k")}, want: "k@2{c=2,v=1}"},
		{name: "lease", req: &pb.PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: 5}, want: "k@2{c=2,v=1,l=5}=v"},
		{name: "lease not found", req: &pb.PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: 6}, wantErr: rpcerr.ErrLeaseNotFound},
		{name: "ignore value", setup: []*pb.PutRequest{{Key: []byte("k"), Value: []byte("v1")}},
			req: &pb.PutRequest{Key: []byte("k"), IgnoreValue: true, Lease: 5, PrevKv: true}, want: "k@3{c=2,v=2,l=5}=v1", prev: "k@2{c=2,v=1}=v1"},
		{name: "ignore value missing", req: &pb.PutRequest{Key: []byte("k"), IgnoreValue: true}, wantErr: rpcerr.ErrKeyNotFound},
		{name: "ignore value deleted", setup: []*pb.PutRequest{{Key: []byte("k"), Value: []byte("v1")}, {Key: []byte("k")}}, // second: deleted below
			req: &pb.PutRequest{Key: []byte("k"), IgnoreValue: true}, wantErr: rpcerr.ErrKeyNotFound},
		{name: "ignore lease", setup: []*pb.PutRequest{{Key: []byte("k"), Value: []byte("v1"), Lease: 5}},
			req: &pb.PutRequest{Key: []byte("k"), Value: []byte("v2"), IgnoreLease: true}, want: "k@3{c=2,v=2,l=5}=v2"},
		{name: "ignore lease missing", req: &pb.PutRequest{Key: []byte("k"), Value: []byte("v"), IgnoreLease: true}, wantErr: rpcerr.ErrKeyNotFound},
		{name: "ignore both", setup: []*pb.PutRequest{{Key: []byte("k"), Value: []byte("v1"), Lease: 5}},
			req: &pb.PutRequest{Key: []byte("k"), IgnoreValue: true, IgnoreLease: true}, want: "k@3{c=2,v=2,l=5}=v1"},
		{name: "lease checked before ignore value", req: &pb.PutRequest{Key: []byte("k"), IgnoreValue: true, Lease: 6}, wantErr: rpcerr.ErrLeaseNotFound},
		{name: "drop lease", setup: []*pb.PutRequest{{Key: []byte("k"), Value: []byte("v1"), Lease: 5}},
			req: &pb.PutRequest{Key: []byte("k"), Value: []byte("v2")}, want: "k@3{c=2,v=2}=v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.leases[5] = true
			for _, r := range tt.setup {
				h.putReq(r)
			}
			if tt.name == "ignore value deleted" {
				h.del("k", "")
			}
			rev := h.s.Rev()
			hist := h.history()
			resp, err := h.tryPut(tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if h.s.Rev() != rev {
					t.Errorf("failed put advanced the revision to %d", h.s.Rev())
				}
				if got := h.history(); !slices.Equal(got, hist) {
					t.Errorf("failed put wrote history: %v", got)
				}
				return
			}
			if resp.Header.Revision != rev+1 || h.s.Rev() != rev+1 {
				t.Errorf("header %d Rev %d, want %d", resp.Header.Revision, h.s.Rev(), rev+1)
			}
			if got := h.get("k", 0); got != tt.want {
				t.Errorf("k = %s, want %s", got, tt.want)
			}
			if got := fmtKVs(nonNil(resp.PrevKv)); got != tt.prev {
				t.Errorf("prev kv = %s, want %s", got, tt.prev)
			}
		})
	}
}

func nonNil(kv *mvccpb.KeyValue) []*mvccpb.KeyValue {
	if kv == nil {
		return nil
	}
	return []*mvccpb.KeyValue{kv}
}

func TestDeleteRange(t *testing.T) {
	tests := []struct {
		name     string
		key, end string
		prevKV   bool
		deleted  int64
		header   int64
		left     string // keys left
		prev     string
		revs     []string // revision entries written at revision 6
	}{
		{name: "single", key: "b", deleted: 1, header: 6, left: "a c d", revs: []string{"rev 6.0 del b"}},
		{name: "single missing", key: "bb", deleted: 0, header: 5, left: "a b c d"},
		{name: "range", key: "b", end: "d", deleted: 2, header: 6, left: "a d", revs: []string{"rev 6.0 del b", "rev 6.1 del c"}},
		{name: "empty range", key: "x", end: "z", deleted: 0, header: 5, left: "a b c d"},
		{name: "from key", key: "c", end: "\x00", deleted: 2, header: 6, left: "a b", revs: []string{"rev 6.0 del c", "rev 6.1 del d"}},
		{name: "all", key: "\x00", end: "\x00", deleted: 4, header: 6, left: "",
			revs: []string{"rev 6.0 del a", "rev 6.1 del b", "rev 6.2 del c", "rev 6.3 del d"}},
		{name: "prev kv", key: "a", end: "c", prevKV: true, deleted: 2, header: 6, left: "c d",
			prev: "a@2{c=2,v=1}=1 b@3{c=3,v=1}=2", revs: []string{"rev 6.0 del a", "rev 6.1 del b"}},
		{name: "prev kv missing", key: "zz", prevKV: true, deleted: 0, header: 5, left: "a b c d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			for i, k := range []string{"a", "b", "c", "d"} {
				h.put(k, string(rune('1'+i)))
			}
			nev := len(h.events)
			var resp *pb.DeleteRangeResponse
			h.batch(func(b *pebble.Batch) {
				var err error
				resp, err = h.s.DeleteRange(b, &pb.DeleteRangeRequest{Key: []byte(tt.key), RangeEnd: bytesOrNil(tt.end), PrevKv: tt.prevKV})
				if err != nil {
					t.Fatal(err)
				}
			})
			if resp.Deleted != tt.deleted || resp.Header.Revision != tt.header || h.s.Rev() != tt.header {
				t.Errorf("deleted %d header %d rev %d, want %d %d", resp.Deleted, resp.Header.Revision, h.s.Rev(), tt.deleted, tt.header)
			}
			all := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
			if got := keysOf(all.Kvs); got != tt.left {
				t.Errorf("left %q, want %q", got, tt.left)
			}
			if got := fmtKVs(resp.PrevKvs); got != tt.prev {
				t.Errorf("prev kvs %s, want %s", got, tt.prev)
			}
			var revs []string
			for _, r := range h.revs() {
				if strings.HasPrefix(r, "rev 6.") {
					revs = append(revs, r)
				}
			}
			if !slices.Equal(revs, tt.revs) {
				t.Errorf("revision entries %v, want %v", revs, tt.revs)
			}
			if tt.deleted == 0 && len(h.events) != nev {
				t.Errorf("a delete of nothing produced events")
			}
			// The deleted keys are gone now but readable at revision 5.
			old := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 5})
			if got := keysOf(old.Kvs); got != "a b c d" {
				t.Errorf("at revision 5: %q", got)
			}
		})
	}
}

func TestDeleteResetsVersion(t *testing.T) {
	h := newHarness(t)
	h.put("k", "1")
	h.put("k", "2")
	h.del("k", "")
	h.put("k", "3")
	if got := h.get("k", 0); got != "k@5{c=5,v=1}=3" {
		t.Errorf("re-created key = %s", got)
	}
	if got := h.history(); !slices.Equal(got, []string{"hist k@5 stub", "hist k@4 del", "hist k@3", "hist k@2"}) {
		t.Errorf("history %v", got)
	}
	if got := h.scan(liveLow, liveHigh); !slices.Equal(got, []string{"live k"}) {
		t.Errorf("live %v", got)
	}
}

func TestMultipleRequestsInOneBatch(t *testing.T) {
	h := newHarness(t)
	var (
		r1 *pb.PutResponse
		r2 *pb.TxnResponse
		r3 *pb.PutResponse
		r4 *pb.DeleteRangeResponse
	)
	b := h.db.NewIndexedBatch()
	defer b.Close()
	var err error
	if r1, err = h.s.Put(b, &pb.PutRequest{Key: []byte("a"), Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	r2, err = h.s.Txn(b, &pb.TxnRequest{
		Compare: []*pb.Compare{{Key: []byte("a"), Target: pb.Compare_VERSION, Result: pb.Compare_EQUAL, TargetUnion: &pb.Compare_Version{Version: 1}}},
		Success: []*pb.RequestOp{put("b", "2"), rangeOp(&pb.RangeRequest{Key: []byte("a")})},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r3, err = h.s.Put(b, &pb.PutRequest{Key: []byte("a"), Value: []byte("3"), PrevKv: true}); err != nil {
		t.Fatal(err)
	}
	if r4, err = h.s.DeleteRange(b, &pb.DeleteRangeRequest{Key: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if r1.Header.Revision != 2 || r2.Header.Revision != 3 || r3.Header.Revision != 4 || r4.Header.Revision != 5 {
		t.Errorf("revisions %d %d %d %d, want 2 3 4 5", r1.Header.Revision, r2.Header.Revision, r3.Header.Revision, r4.Header.Revision)
	}
	if !r2.Succeeded {
		t.Errorf("txn did not see the earlier put of its batch")
	}
	if got := fmtKVs(r2.Responses[1].GetResponseRange().Kvs); got != "a@2{c=2,v=1}=1" {
		t.Errorf("txn range = %s", got)
	}
	if got := fmtKVs(nonNil(r3.PrevKv)); got != "a@2{c=2,v=1}=1" {
		t.Errorf("prev kv = %s", got)
	}
	if r4.Deleted != 1 {
		t.Errorf("delete did not see the txn's put")
	}
	// Readers see nothing of the batch before Committed, even once it is in pebble.
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if got := h.rng(&pb.RangeRequest{Key: []byte("a")}); len(got.Kvs) != 0 || got.Header.Revision != 1 || h.s.Rev() != 1 {
		t.Errorf("read before Committed: %v rev %d", got, h.s.Rev())
	}
	h.s.Committed(b)
	if got := h.get("a", 0); got != "a@4{c=2,v=2}=3" || h.s.Rev() != 5 {
		t.Errorf("after Committed: %s rev %d", got, h.s.Rev())
	}
	if len(h.events) != 4 {
		t.Fatalf("OnCommit calls %d, want 4", len(h.events))
	}
	for i, c := range h.events {
		if c.rev != int64(i+2) {
			t.Errorf("OnCommit %d rev %d", i, c.rev)
		}
	}
}

func TestAborted(t *testing.T) {
	h := newHarness(t)
	h.put("x", "0")
	b := h.db.NewIndexedBatch()
	if _, err := h.s.Put(b, &pb.PutRequest{Key: []byte("a"), Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.s.Compact(b, &pb.CompactionRequest{Revision: 2}); err != nil {
		t.Fatal(err)
	}
	// Another batch before Committed/Aborted of b is refused.
	b2 := h.db.NewIndexedBatch()
	if _, err := h.s.Put(b2, &pb.PutRequest{Key: []byte("c")}); !errors.Is(err, errBatchPending) {
		t.Errorf("put on a second batch: %v", err)
	}
	b2.Close()
	b.Close() // never committed
	h.s.Aborted(b)
	if resp := h.put("b", "2"); resp.Header.Revision != 3 {
		t.Errorf("revision after abort %d, want 3", resp.Header.Revision)
	}
	if h.get("a", 0) != "" || h.s.CompactRev() != -1 {
		t.Errorf("aborted state leaked: a=%q compact %d", h.get("a", 0), h.s.CompactRev())
	}
	if len(h.events) != 2 || h.events[1].rev != 3 || fmtEvents(h.events[1].events) != "PUT b@3{c=3,v=1}=2" {
		t.Errorf("events %v", h.events)
	}
	// A non-indexed batch is refused.
	nb := h.db.NewBatch()
	defer nb.Close()
	if _, err := h.s.Put(nb, &pb.PutRequest{Key: []byte("c")}); err == nil {
		t.Errorf("put on a non-indexed batch succeeded")
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	h := newHarness(t)
	h.leases[9] = true
	h.put("a", "1")
	h.putReq(&pb.PutRequest{Key: []byte("b"), Value: []byte("2"), Lease: 9})
	h.put("a", "3")
	h.compactWait(3)
	h.del("a", "")
	h.reopen()
	if h.s.Rev() != 5 || h.s.CompactRev() != 3 {
		t.Fatalf("rev %d compact %d, want 5 3", h.s.Rev(), h.s.CompactRev())
	}
	if got := h.get("a", 4); got != "a@4{c=2,v=2}=3" {
		t.Errorf("a@4 = %s", got)
	}
	if _, err := h.s.Range(context.Background(), &pb.RangeRequest{Key: []byte("a"), Revision: 2}); !errors.Is(err, rpcerr.ErrCompacted) {
		t.Errorf("read below compaction after reopen: %v", err)
	}
	keys, err := h.s.LeaseKeys(context.Background(), 9)
	if err != nil || len(keys) != 1 || string(keys[0]) != "b" {
		t.Errorf("lease keys %q %v", keys, err)
	}
	if resp := h.put("c", "4"); resp.Header.Revision != 6 {
		t.Errorf("next revision %d", resp.Header.Revision)
	}
}

// TestFormatVersion: the first write txn records the layout version; New
// refuses a non-empty store without it (written by format 1) or with another.
func TestFormatVersion(t *testing.T) {
	h := newHarness(t)
	if got := h.scan(metaFormatKey, append(metaFormatKey, 0)); len(got) != 0 {
		t.Fatalf("empty store has a format key")
	}
	h.put("a", "1")
	h.put("a", "2")
	v, closer, err := h.db.Get(metaFormatKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := getInt64(v); got != formatVersion {
		t.Errorf("format %d", got)
	}
	closer.Close()
	h.reopen()
	for _, tt := range []struct {
		name string
		set  func(b *pebble.Batch) error
	}{
		{"absent", func(b *pebble.Batch) error { return b.Delete(metaFormatKey, nil) }},
		{"other", func(b *pebble.Batch) error { return b.Set(metaFormatKey, putInt64(formatVersion+1), nil) }},
	} {
		h.close()
		db, err := storage.Open(storage.Config{Dir: h.dir})
		if err != nil {
			t.Fatal(err)
		}
		b := db.NewBatch()
		if err := tt.set(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if _, err := New(db, Config{}); !errors.Is(err, errFormat) {
			t.Errorf("%s: New: %v", tt.name, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// A version 2 store (no indirect records) is read, and recorded as 3
	// before anything is written, so a version 2 binary refuses it after.
	db, err := storage.Open(storage.Config{Dir: h.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Set(metaFormatKey, putInt64(formatVersionDirect), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s, err := New(db, Config{})
	if err != nil {
		t.Fatalf("version 2: New: %v", err)
	}
	defer s.Close()
	if got, err := getMeta(db, metaFormatKey); err != nil || got != formatVersion {
		t.Errorf("version 2 store recorded as %d (%v) after New, want %d", got, err, formatVersion)
	}
}

// TestStubs: the current version of a live key is a stub in history (its
// record is the live one); replacing or deleting it rewrites the stub as the
// full record, and every reader of history follows stubs to the live record.
func TestStubs(t *testing.T) {
	h := newHarness(t)
	h.put("a", "1") // 2
	h.put("b", "1") // 3
	if got := h.physical(); !slices.Equal(got, []string{"hist a@2 stub", "hist b@3 stub",
		"live a@2.0{c=2,v=1,l=0}=1", "live b@3.0{c=3,v=1,l=0}=1"}) {
		t.Errorf("after puts: %v", got)
	}
	// A txn writes a twice (sub-revisions 0 and 1) and reads it at the
	// revision before (the first write's stub is already a full record).
	resp, err := h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{put("a", "2"), put("a", "3"),
		rangeOp(&pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("c"), Revision: 3})}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtKVs(resp.Responses[2].GetResponseRange().Kvs); got != "a@2{c=2,v=1}=1 b@3{c=3,v=1}=1" {
		t.Errorf("txn read at 3: %s", got)
	}
	h.del("b", "") // 5
	want := []string{"hist a@4.1 stub", "hist a@4{c=2,v=2,l=0}=2", "hist a@2{c=2,v=1,l=0}=1",
		"hist b@5 del", "hist b@3{c=3,v=1,l=0}=1", "live a@4.1{c=2,v=3,l=0}=3"}
	if got := h.physical(); !slices.Equal(got, want) {
		t.Errorf("physical\n got %v\nwant %v", got, want)
	}
	for _, tt := range []struct {
		rev  int64
		want string
	}{
		{2, "a@2{c=2,v=1}=1"},
		{3, "a@2{c=2,v=1}=1 b@3{c=3,v=1}=1"},
		{4, "a@4{c=2,v=3}=3 b@3{c=3,v=1}=1"}, // a's stub: the live record
		{5, "a@4{c=2,v=3}=3"},
	} {
		if got := fmtKVs(h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: tt.rev}).Kvs); got != tt.want {
			t.Errorf("all at %d: %s, want %s", tt.rev, got, tt.want)
		}
		single := ""
		if kvs := h.rng(&pb.RangeRequest{Key: []byte("a"), Revision: tt.rev}).Kvs; len(kvs) > 0 {
			single = fmtKV(kvs[0])
		}
		if want, _, _ := strings.Cut(tt.want, " "); single != want {
			t.Errorf("a at %d: %s, want %s", tt.rev, single, want)
		}
	}
	evs, _, _, err := h.s.Events(context.Background(), 1, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtEvents(evs); got != "PUT a@2{c=2,v=1}=1; PUT b@3{c=3,v=1}=1; PUT a@4{c=2,v=2}=2; PUT a@4{c=2,v=3}=3; DELETE b@5{c=0,v=0}" {
		t.Errorf("events %s", got)
	}
	// Compaction at 4 keeps a's stub (its latest version) and nothing older.
	h.compactWait(4)
	if got := h.history(); !slices.Equal(got, []string{"hist a@4.1 stub", "hist b@5 del", "hist b@3"}) {
		t.Errorf("history after compaction %v", got)
	}
	if got := fmtKVs(h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 4}).Kvs); got != "a@4{c=2,v=3}=3 b@3{c=3,v=1}=1" {
		t.Errorf("all at 4 after compaction: %s", got)
	}
	// A stub without its live record is corruption, not an absent key.
	h.batch(func(b *pebble.Batch) {
		if err := b.Delete(appendLiveKey(nil, []byte("a")), nil); err != nil {
			t.Fatal(err)
		}
	})
	h.reopen()
	if _, err := h.s.Range(context.Background(), &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 4}); !errors.Is(err, errCorrupt) {
		t.Errorf("range over a dangling stub: %v", err)
	}
	if _, _, _, err := h.s.Events(context.Background(), 4, 0, 0, nil); !errors.Is(err, errCorrupt) {
		t.Errorf("events of a dangling stub: %v", err)
	}
}

// TestLargeValuesIndirect: a value of storage.SeparateValueBytes or more is
// written once, into its version's full history entry, with an indirect live
// record; replacing and deleting it write nothing more for it, and reads
// (current, past, prev_kv, ignore_value, compares, events) see the value.
func TestLargeValuesIndirect(t *testing.T) {
	h := newHarness(t)
	big := strings.Repeat("L", storage.SeparateValueBytes)
	small := big[1:]
	h.put("a", big)   // 2
	h.put("b", small) // 3
	if got := h.physical(); !slices.Equal(got, []string{
		"hist a@2{c=2,v=1,l=0}=" + big, "hist b@3 stub",
		"live a@2.0{c=2,v=1,l=0}= indirect", "live b@3.0{c=3,v=1,l=0}=" + small,
	}) {
		t.Errorf("after puts: %v", got)
	}
	// Read back from an sstable and a blob file, not the memtable.
	if err := h.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := h.get("a", 0); got != "a@2{c=2,v=1}="+big {
		t.Errorf("get a: %.40s", got)
	}
	// Replaced with ignore_value and prev_kv: the old entry stays as it is,
	// the new one gets the (large) value.
	resp := h.putReq(&pb.PutRequest{Key: []byte("a"), IgnoreValue: true, PrevKv: true}) // 4
	if resp.PrevKv == nil || string(resp.PrevKv.Value) != big {
		t.Fatalf("prev_kv of an indirect version: %v", resp.PrevKv)
	}
	txn, err := h.txn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: []byte("a"), Target: pb.Compare_VALUE,
		Result: pb.Compare_EQUAL, TargetUnion: &pb.Compare_Value{Value: []byte(big)}}}})
	if err != nil || !txn.Succeeded {
		t.Errorf("value compare on an indirect record: %v, %v", txn, err)
	}
	var del *pb.DeleteRangeResponse // 5: a and b, with their values as prev_kv
	h.batch(func(b *pebble.Batch) {
		del, err = h.s.DeleteRange(b, &pb.DeleteRangeRequest{Key: []byte("a"), RangeEnd: []byte("b\x00"), PrevKv: true})
	})
	if err != nil || len(del.PrevKvs) != 2 || string(del.PrevKvs[0].Value) != big || string(del.PrevKvs[1].Value) != small {
		t.Fatalf("delete with prev_kv: %v", err)
	}
	want := []string{
		"hist a@5 del", "hist a@4{c=2,v=2,l=0}=" + big, "hist a@2{c=2,v=1,l=0}=" + big,
		"hist b@5.1 del", "hist b@3{c=3,v=1,l=0}=" + small,
	}
	if got := h.physical(); !slices.Equal(got, want) {
		t.Errorf("after the delete\n got %.300v\nwant %.300v", got, want)
	}
	if err := h.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := h.get("a", 4); got != "a@4{c=2,v=2}="+big {
		t.Errorf("a at 4: %.40s", got)
	}
	evs, _, _, err := h.s.Events(context.Background(), 2, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 || string(evs[0].Kv.Value) != big || string(evs[2].Kv.Value) != big {
		t.Errorf("events: %d, first value %.20q", len(evs), evs[0].Kv.Value)
	}
	// An indirect record whose history entry is gone is corruption.
	h.put("c", big) // 6
	h.batch(func(b *pebble.Batch) {
		if err := b.Delete(appendHistKey(nil, []byte("c"), 6, 0), nil); err != nil {
			t.Fatal(err)
		}
	})
	h.reopen()
	if _, err := h.s.Range(context.Background(), &pb.RangeRequest{Key: []byte("c")}); !errors.Is(err, errCorrupt) {
		t.Errorf("range over an indirect record without its history entry: %v", err)
	}
	// Reads that need no value do not load it (keys_only, a compare on MOD).
	if resp, err := h.s.Range(context.Background(), &pb.RangeRequest{Key: []byte("c"), KeysOnly: true}); err != nil || len(resp.Kvs) != 1 {
		t.Errorf("keys_only range loaded the indirect value: %v", err)
	}
	if _, err := h.txn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: []byte("c"), Target: pb.Compare_MOD,
		Result: pb.Compare_EQUAL, TargetUnion: &pb.Compare_ModRevision{ModRevision: 6}}}}); err != nil {
		t.Errorf("a compare on MOD loaded the indirect value: %v", err)
	}
}

// TestAbsentKeyPutSkipsL6DataBlocks: a put looks its key up through L6's
// bloom filters, which pebble's Get skips: a put of a key that does not exist
// loads no L6 data block. The keys are deleted ones, which the Store's key
// filter still holds, so that the lookup happens.
func TestAbsentKeyPutSkipsL6DataBlocks(t *testing.T) {
	h := newHarness(t)
	rng := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, 1000)
	key := func(i int) []byte { return fmt.Appendf(nil, "k%05d", i) }
	h.batch(func(b *pebble.Batch) {
		for i := range 2000 {
			for j := range value {
				value[j] = byte(rng.Uint32())
			}
			if _, err := h.s.Put(b, &pb.PutRequest{Key: key(i), Value: value}); err != nil {
				t.Fatal(err)
			}
		}
	})
	for i := range 20 {
		h.del(string(key(i*97)), "")
	}
	// Compacted, with no history to keep: the deleted keys' live records
	// are gone from the tables.
	h.compactWait(h.s.Rev())
	if err := h.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	m := h.db.Metrics()
	if m.Levels[6].TablesCount == 0 || m.Levels[0].TablesCount != 0 {
		t.Fatalf("want every table in L6: %s", m)
	}
	h.batch(func(b *pebble.Batch) {
		for i := range 20 {
			resp, err := h.s.Put(b, &pb.PutRequest{Key: key(i * 97), Value: []byte("v"), PrevKv: true})
			if err != nil {
				t.Fatal(err)
			}
			if resp.PrevKv != nil {
				t.Fatalf("put of deleted key %s: prev_kv %v", key(i*97), resp.PrevKv)
			}
		}
		// Each lookup loads the filter block (~8 KiB here, from the cache)
		// where it would load a data block of ~32 KiB and its index block
		// (~650 KB in all without the filters).
		if h.s.ap.live == nil {
			t.Fatal("no lookup of the deleted keys: the key filter dropped them")
		}
		if st := h.s.ap.live.Stats().InternalStats; st.BlockBytes > 20*16<<10 {
			t.Errorf("20 puts of absent keys loaded %d bytes of blocks: L6 data blocks were read", st.BlockBytes)
		}
	})
	// An existing key is still found (its data block is read).
	if resp := h.putReq(&pb.PutRequest{Key: key(98), Value: []byte("x"), PrevKv: true}); resp.PrevKv == nil || resp.PrevKv.Version != 1 {
		t.Errorf("prev_kv of an existing key in L6: %v", resp.PrevKv)
	}
}
