package mvcc

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/quick"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
)

// TestHistKeyOrder: the history encoding orders by (user key asc, revision
// desc, sub desc) for any bytes, and a key's prefix is never a prefix of
// another key's entries.
func TestHistKeyOrder(t *testing.T) {
	small := func(b []byte) []byte { // bias toward 0x00, 0x01, 0xff
		for i := range b {
			b[i] = []byte{0, 1, 2, 0xfe, 0xff, 'a'}[b[i]%6]
		}
		return b
	}
	f := func(a, b []byte, ra, rb int64, sa, sb uint32) bool {
		a, b = small(a), small(b)
		ra, rb = ra&(1<<62-1), rb&(1<<62-1)
		ka, kb := appendHistKey(nil, a, ra, sa), appendHistKey(nil, b, rb, sb)
		want := bytes.Compare(a, b)
		if want == 0 {
			want = -cmpInt64(ra, rb)
			if want == 0 {
				want = -cmpInt64(int64(sa), int64(sb))
			}
		}
		if got := bytes.Compare(ka, kb); got != want {
			t.Logf("%q@%d.%d vs %q@%d.%d: %d, want %d", a, ra, sa, b, rb, sb, got, want)
			return false
		}
		pa := appendHistPrefix(nil, a)
		if !bytes.Equal(a, b) && bytes.HasPrefix(kb, pa) {
			t.Logf("prefix of %q is a prefix of %q's entries", a, b)
			return false
		}
		// Bounds: entries of keys in [a, b) sort in [bound(a), bound(b)).
		if bytes.Compare(a, b) < 0 && bytes.Compare(ka, appendHistBound(nil, b)) >= 0 {
			return false
		}
		if bytes.Compare(ka, appendHistBound(nil, a)) < 0 || bytes.Compare(ka, appendHistEnd(nil, a)) >= 0 {
			return false
		}
		p, r, s, err := splitHistKey(ka)
		return err == nil && r == ra && s == sa && bytes.Equal(appendUnescaped(nil, p), a)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 5000}); err != nil {
		t.Error(err)
	}
}

func TestRecordEncoding(t *testing.T) {
	tests := []struct {
		mod                  int64
		sub                  uint32
		create, version, lse int64
		value                []byte
	}{
		{2, 0, 2, 1, 0, nil},
		{2, 3, 1, 2, 7, []byte("v")},
		{1 << 40, 1<<32 - 1, 1 << 39, 123456, -1, bytes.Repeat([]byte{0}, 300)},
	}
	for _, tt := range tests {
		b := appendLiveRecord(nil, tt.mod, tt.sub, tt.create, tt.version, tt.lse, tt.value)
		r, h, err := decodeLiveRecord(b)
		if err != nil || r.mod != tt.mod || r.sub != tt.sub || r.create != tt.create || r.version != tt.version || r.lease != tt.lse || !bytes.Equal(r.value, tt.value) {
			t.Errorf("live %v: %+v %v", tt, r, err)
		}
		// The suffix of a live value is the version's full history record,
		// which reads as neither a tombstone nor a stub.
		if len(h) == 0 || isStub(h) || !bytes.Equal(h, appendRecord(nil, tt.create, tt.version, tt.lse, tt.value)) {
			t.Errorf("history record %x of %x", h, b)
		}
		r, err = decodeRecord(h, tt.mod)
		if err != nil || r.create != tt.create || r.version != tt.version || r.lease != tt.lse || !bytes.Equal(r.value, tt.value) {
			t.Errorf("history %v: %+v %v", tt, r, err)
		}
	}
	if !isStub(histStub) {
		t.Errorf("stub")
	}
	if _, _, err := decodeLiveRecord([]byte{0x80}); err == nil {
		t.Errorf("truncated record decoded")
	}
	if _, err := decodeRecord(histStub, 2); err == nil {
		t.Errorf("stub decoded as a full record")
	}
}

// TestBinaryKeys: keys with 0x00 and 0xff bytes, some prefixes of others,
// read at the current and at old revisions.
func TestBinaryKeys(t *testing.T) {
	h := newHarness(t)
	keys := []string{"\x00", "\x00\x00", "\x00\x01", "a", "a\x00", "a\x00\x00", "a\x00\xff", "a\x01", "a\xff", "\xff", "\xff\x00", "\xff\xff"}
	for _, k := range keys {
		h.put(k, "1")
	}
	r1 := h.s.Rev()
	for i, k := range keys {
		if i%2 == 0 {
			h.put(k, "2")
		} else {
			h.del(k, "")
		}
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	all := func(rev int64) []string {
		resp := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev})
		var out []string
		for _, kv := range resp.Kvs {
			out = append(out, string(kv.Key)+"="+string(kv.Value))
		}
		return out
	}
	var want1, want2 []string
	for _, k := range sorted {
		want1 = append(want1, k+"=1")
		if i := slices.Index(keys, k); i%2 == 0 {
			want2 = append(want2, k+"=2")
		}
	}
	if got := all(r1); !slices.Equal(got, want1) {
		t.Errorf("at %d: %q, want %q", r1, got, want1)
	}
	if got := all(0); !slices.Equal(got, want2) {
		t.Errorf("current: %q, want %q", got, want2)
	}
	h.put("zz", "3") // so that the revision after the deletes is old
	if got := all(h.s.Rev() - 1); !slices.Equal(got, want2) {
		t.Errorf("old: %q, want %q", got, want2)
	}
	for i, k := range keys {
		want := "1"
		if got := h.rng(&pb.RangeRequest{Key: []byte(k), Revision: r1}); len(got.Kvs) != 1 || string(got.Kvs[0].Value) != want {
			t.Errorf("%q at %d: %v", k, r1, got.Kvs)
		}
		n := h.rng(&pb.RangeRequest{Key: []byte(k), Revision: h.s.Rev() - 1, CountOnly: true}).Count
		if (n == 1) != (i%2 == 0) {
			t.Errorf("%q count %d", k, n)
		}
	}
	// Prefix ranges over binary keys: "a\x00" .. "a\x01".
	resp := h.rng(&pb.RangeRequest{Key: []byte("a\x00"), RangeEnd: []byte("a\x01"), Revision: r1})
	if got := keysOf(resp.Kvs); got != "a\x00 a\x00\x00 a\x00\xff" {
		t.Errorf("prefix a\\x00 at %d: %q", r1, got)
	}
}

// TestConcurrentReads: reads run concurrently with apply and each sees one
// consistent state: two keys written by the same txn always agree, and the
// header revision is that of the state read.
func TestConcurrentReads(t *testing.T) {
	h := newHarness(t)
	if _, err := h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{put("x", "0"), put("y", "0")}}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := h.s.Range(context.Background(), &pb.RangeRequest{Key: []byte("x"), RangeEnd: []byte("z")})
				if err != nil {
					errc <- err
					return
				}
				x, y := resp.Kvs[0], resp.Kvs[1]
				if !bytes.Equal(x.Value, y.Value) || x.ModRevision != y.ModRevision || x.ModRevision != resp.Header.Revision {
					errc <- fmt.Errorf("inconsistent read: %s at header %d", fmtKVs(resp.Kvs), resp.Header.Revision)
					return
				}
			}
		}()
	}
	for i := 1; i <= n; i++ {
		v := fmt.Sprint(i)
		h.batch(func(b *pebble.Batch) {
			if _, err := h.s.Txn(b, &pb.TxnRequest{Success: []*pb.RequestOp{put("x", v), put("y", v)}}); err != nil {
				t.Error(err)
			}
		})
		if i == n/2 {
			h.compactWait(h.s.Rev() - 1)
		}
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}
