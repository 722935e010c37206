package mvcc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
)

func newBenchHarness(b *testing.B) *harness {
	h := &harness{t: b, dir: b.TempDir(), leases: map[int64]bool{}, prod: true,
		cfg: Config{OnCommit: func(int64, []*mvccpb.Event) {}}}
	h.open()
	b.Cleanup(h.close)
	return h
}

// settle flushes and compacts the LSM so reads are measured without
// background compactions of the load competing for the 2 cores.
func settle(h *harness) {
	if err := h.db.Flush(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		h.t.Fatal(err)
	}
}

// load writes n keys fmt(prefix, i) with random (incompressible) 256-byte
// values, 1000 per batch.
func load(h *harness, prefix string, n int) {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := 0; i < n; i += 1000 {
		h.batch(func(bt *pebble.Batch) {
			for j := i; j < min(i+1000, n); j++ {
				val := make([]byte, 256)
				for k := range val {
					val[k] = byte(r.Uint32())
				}
				if _, err := h.s.Put(bt, &pb.PutRequest{Key: fmt.Appendf(nil, "%s%08d", prefix, j), Value: val}); err != nil {
					h.t.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPut: random 16-byte keys, 256-byte values, one batch per N puts
// committed with pebble.NoSync, then Committed (with an OnCommit consumer, as
// the watch hub will be). ns/op is per put.
func BenchmarkPut(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			h := newBenchHarness(b)
			r := rand.New(rand.NewPCG(1, 2))
			val := make([]byte, 256)
			for i := range val {
				val[i] = byte(r.Uint32())
			}
			const hex = "0123456789abcdef"
			b.ReportAllocs()
			b.SetBytes(16 + 256)
			b.ResetTimer()
			for i := 0; i < b.N; i += n {
				bt := h.db.NewIndexedBatch()
				for j := 0; j < n && i+j < b.N; j++ {
					// A fresh request per put: events keep its bytes.
					req := &pb.PutRequest{Key: make([]byte, 16), Value: val}
					for k := range req.Key {
						req.Key[k] = hex[r.IntN(16)]
					}
					if _, err := h.s.Put(bt, req); err != nil {
						b.Fatal(err)
					}
				}
				if err := bt.Commit(pebble.NoSync); err != nil {
					b.Fatal(err)
				}
				h.s.Committed(bt)
				bt.Close()
			}
		})
	}
}

// BenchmarkPutOverwrite: as BenchmarkPut, batches of 100, but every put
// replaces the current version of one of 100k keys (16-byte keys, 256-byte
// values), so it also turns that version's history entry into a full record.
func BenchmarkPutOverwrite(b *testing.B) {
	h := newBenchHarness(b)
	const n = 100_000
	load(h, "key/000", n) // 16-byte keys
	settle(h)
	r := rand.New(rand.NewPCG(5, 6))
	val := make([]byte, 256)
	for i := range val {
		val[i] = byte(r.Uint32())
	}
	b.ReportAllocs()
	b.SetBytes(16 + 256)
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		bt := h.db.NewIndexedBatch()
		for j := 0; j < 100 && i+j < b.N; j++ {
			req := &pb.PutRequest{Key: fmt.Appendf(nil, "key/000%08d", r.IntN(n)), Value: val}
			if _, err := h.s.Put(bt, req); err != nil {
				b.Fatal(err)
			}
		}
		if err := bt.Commit(pebble.NoSync); err != nil {
			b.Fatal(err)
		}
		h.s.Committed(bt)
		bt.Close()
	}
}

// BenchmarkRangeSingleKey: get one random key of 100k at the current
// revision, at an old revision (one history seek), and at an old revision
// where the key's version is still the current one.
func BenchmarkRangeSingleKey(b *testing.B) {
	h := newBenchHarness(b)
	const n = 100_000
	load(h, "key/", n)
	old := h.s.Rev()
	load(h, "key/", n) // a second version of every key
	unchanged := h.s.Rev()
	h.put("zzz", "1") // so that unchanged is an old revision
	settle(h)
	for _, tc := range []struct {
		name string
		rev  int64
	}{{"current", 0}, {"old", old}, {"old-unchanged", unchanged}} {
		b.Run(tc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := h.s.Range(ctx, &pb.RangeRequest{Key: fmt.Appendf(nil, "key/%08d", r.IntN(n)), Revision: tc.rev})
				if err != nil || len(resp.Kvs) != 1 {
					b.Fatal(err, resp)
				}
			}
		})
	}
	b.Run("current-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb_ *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 4))
			for pb_.Next() {
				resp, err := h.s.Range(context.Background(), &pb.RangeRequest{Key: fmt.Appendf(nil, "key/%08d", r.IntN(n))})
				if err != nil || len(resp.Kvs) != 1 {
					b.Fatal(err, resp)
				}
			}
		})
	})
}

// BenchmarkRangePrefix: a prefix of 10k keys with limit 1000 — 1000 keys
// returned, all 10k counted (etcd's count) — at the current revision, at an
// old one, and at an old one where every key's version is still current.
func BenchmarkRangePrefix(b *testing.B) {
	h := newBenchHarness(b)
	load(h, "a/", 5000)
	load(h, "p/", 10_000)
	load(h, "z/", 5000)
	old := h.s.Rev()
	load(h, "p/", 10_000)
	unchanged := h.s.Rev()
	h.put("zzz", "1") // so that unchanged is an old revision
	settle(h)
	for _, tc := range []struct {
		name string
		rev  int64
	}{{"current", 0}, {"old", old}, {"old-unchanged", unchanged}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := h.s.Range(ctx, &pb.RangeRequest{Key: []byte("p/"), RangeEnd: []byte("p0"), Limit: 1000, Revision: tc.rev})
				if err != nil || len(resp.Kvs) != 1000 || resp.Count != 10_000 || !resp.More {
					b.Fatal(err, len(resp.Kvs), resp.Count)
				}
			}
		})
	}
}

// BenchmarkCountOnly: count_only over all of 200k keys.
func BenchmarkCountOnly(b *testing.B) {
	h := newBenchHarness(b)
	const n = 200_000
	load(h, "k/", n)
	settle(h)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := h.s.Range(ctx, &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, CountOnly: true})
		if err != nil || resp.Count != n {
			b.Fatal(err, resp.Count)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	b.ReportMetric(float64(h.db.Metrics().Total().TablesSize)/n, "sst-B/key")
}
