package mvcc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// compactionData writes:
//
//	2 put a=1   3 put a=2   4 put b=1   5 del a   6 put c=1
//	7 put c=2   8 del b     9 put a=3
func compactionData(h *harness) {
	h.put("a", "1")
	h.put("a", "2")
	h.put("b", "1")
	h.del("a", "")
	h.put("c", "1")
	h.put("c", "2")
	h.del("b", "")
	h.put("a", "3")
}

func TestCompaction(t *testing.T) {
	tests := []struct {
		name string
		rev  int64
		hist []string
		revs []string
		at   string // all keys at the compacted revision
	}{
		{name: "at 1 removes nothing", rev: 1,
			hist: []string{"hist a@9 stub", "hist a@5 del", "hist a@3", "hist a@2", "hist b@8 del", "hist b@4", "hist c@7 stub", "hist c@6"},
			revs: []string{"rev 2.0 put a", "rev 3.0 put a", "rev 4.0 put b", "rev 5.0 del a", "rev 6.0 put c", "rev 7.0 put c", "rev 8.0 del b", "rev 9.0 put a"}},
		{name: "at 3 keeps the latest version", rev: 3,
			hist: []string{"hist a@9 stub", "hist a@5 del", "hist a@3", "hist b@8 del", "hist b@4", "hist c@7 stub", "hist c@6"},
			revs: []string{"rev 3.0 put a", "rev 4.0 put b", "rev 5.0 del a", "rev 6.0 put c", "rev 7.0 put c", "rev 8.0 del b", "rev 9.0 put a"},
			at:   "a@3{c=2,v=2}=2"},
		{name: "at 5 keeps a tombstone at the compacted revision", rev: 5,
			hist: []string{"hist a@9 stub", "hist a@5 del", "hist b@8 del", "hist b@4", "hist c@7 stub", "hist c@6"},
			revs: []string{"rev 5.0 del a", "rev 6.0 put c", "rev 7.0 put c", "rev 8.0 del b", "rev 9.0 put a"},
			at:   "b@4{c=4,v=1}=1"},
		{name: "at 6 removes a tombstone below it", rev: 6,
			hist: []string{"hist a@9 stub", "hist b@8 del", "hist b@4", "hist c@7 stub", "hist c@6"},
			revs: []string{"rev 6.0 put c", "rev 7.0 put c", "rev 8.0 del b", "rev 9.0 put a"},
			at:   "b@4{c=4,v=1}=1 c@6{c=6,v=1}=1"},
		{name: "at 8", rev: 8,
			hist: []string{"hist a@9 stub", "hist b@8 del", "hist c@7 stub"},
			revs: []string{"rev 8.0 del b", "rev 9.0 put a"},
			at:   "c@7{c=6,v=2}=2"},
		{name: "at 9 (current)", rev: 9,
			hist: []string{"hist a@9 stub", "hist c@7 stub"},
			revs: []string{"rev 9.0 put a"},
			at:   "a@9{c=9,v=1}=3 c@7{c=6,v=2}=2"},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 2, 1000} {
			t.Run(fmt.Sprintf("%s/step=%d", tt.name, step), func(t *testing.T) {
				h := newHarnessCfg(t, Config{compactStep: step})
				compactionData(h)
				done, err := h.compact(tt.rev)
				if err != nil {
					t.Fatal(err)
				}
				// Reads below the compacted revision fail as soon as the
				// compaction is applied, whether or not it is physically done.
				if _, err := h.s.Range(context.Background(), &pb.RangeRequest{Key: []byte("a"), Revision: tt.rev - 1}); tt.rev > 1 && !errors.Is(err, rpcerr.ErrCompacted) {
					t.Errorf("read at %d: %v", tt.rev-1, err)
				}
				<-done
				if got := h.history(); !slices.Equal(got, tt.hist) {
					t.Errorf("history\n got %v\nwant %v", got, tt.hist)
				}
				if got := h.revs(); !slices.Equal(got, tt.revs) {
					t.Errorf("revisions\n got %v\nwant %v", got, tt.revs)
				}
				all := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: tt.rev})
				if got := fmtKVs(all.Kvs); got != tt.at {
					t.Errorf("at %d: %s, want %s", tt.rev, got, tt.at)
				}
				cur := h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
				if got := fmtKVs(cur.Kvs); got != "a@9{c=9,v=1}=3 c@7{c=6,v=2}=2" {
					t.Errorf("current %s", got)
				}
				if got := h.scan(metaFinishedKey, append(metaFinishedKey, 0)); len(got) != 1 {
					t.Errorf("finished compaction not recorded: %v", got)
				}
			})
		}
	}
}

func TestCompactErrors(t *testing.T) {
	h := newHarness(t)
	compactionData(h)
	if _, err := h.compact(10); !errors.Is(err, rpcerr.ErrFutureRev) {
		t.Errorf("compact future: %v", err)
	}
	h.compactWait(5)
	for _, rev := range []int64{5, 4, 0, -1} {
		done, err := h.compact(rev)
		if !errors.Is(err, rpcerr.ErrCompacted) {
			t.Errorf("compact %d: %v", rev, err)
		}
		if done == nil {
			t.Fatalf("compact %d: no barrier channel", rev)
		}
		<-done // the previous compaction is finished: closed
	}
	if h.s.CompactRev() != 5 {
		t.Errorf("compact rev %d", h.s.CompactRev())
	}
	// The response header carries the current revision; compaction does not
	// advance it.
	var resp *pb.CompactionResponse
	h.batch(func(b *pebble.Batch) {
		var err error
		if resp, _, err = h.s.Compact(b, &pb.CompactionRequest{Revision: 7}); err != nil {
			t.Fatal(err)
		}
		// Two compactions in one batch: the second sees the first.
		if _, _, err = h.s.Compact(b, &pb.CompactionRequest{Revision: 7}); !errors.Is(err, rpcerr.ErrCompacted) {
			t.Errorf("second compact in batch: %v", err)
		}
	})
	if resp.Header.Revision != 9 || h.s.Rev() != 9 || h.s.CompactRev() != 7 {
		t.Errorf("header %d rev %d compact %d", resp.Header.Revision, h.s.Rev(), h.s.CompactRev())
	}
	// Compaction on a fresh store at 0 is allowed, as etcd (compactMainRev -1).
	h2 := newHarness(t)
	if _, err := h2.compact(0); err != nil {
		t.Errorf("compact 0 on a fresh store: %v", err)
	}
}

// TestCompactionManyVersions uses range deletions (more than
// maxPointDeletes older versions) and spans several steps.
func TestCompactionManyVersions(t *testing.T) {
	h := newHarnessCfg(t, Config{compactStep: 7})
	for i := range 30 {
		h.batch(func(b *pebble.Batch) {
			for _, k := range []string{"hot", "hot\x00", "warm"} {
				if k == "warm" && i%10 != 0 {
					continue
				}
				if _, err := h.s.Put(b, &pb.PutRequest{Key: []byte(k), Value: fmt.Appendf(nil, "%d", i)}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	rev := h.s.Rev()
	keep := rev - 3
	want := map[string]string{}
	for _, k := range []string{"hot", "hot\x00", "warm"} {
		want[k] = h.get(k, keep)
	}
	h.compactWait(keep)
	for k, w := range want {
		if got := h.get(k, keep); got != w {
			t.Errorf("%q at %d: %s, want %s", k, keep, got, w)
		}
	}
	// Versions above keep, and the latest at or below it.
	got := h.history()
	wantHist := []string{
		fmt.Sprintf("hist hot@%d stub", rev-1), fmt.Sprintf("hist hot@%d", rev-3),
		fmt.Sprintf(`hist "hot\x00"@%d stub`, rev), fmt.Sprintf(`hist "hot\x00"@%d`, rev-2), fmt.Sprintf(`hist "hot\x00"@%d`, rev-4),
		"hist warm@" + fmt.Sprint(h.rng(&pb.RangeRequest{Key: []byte("warm")}).Kvs[0].ModRevision) + " stub",
	}
	if !slices.Equal(got, wantHist) {
		t.Errorf("history\n got %v\nwant %v", got, wantHist)
	}
}

// TestCompactionResume: a compaction interrupted by a crash (after the
// Compact batch was committed, or in the middle of a pass) finishes when the
// store is opened again.
func TestCompactionResume(t *testing.T) {
	want := []string{"hist a@9 stub", "hist b@8 del", "hist c@7 stub"}
	t.Run("before the pass", func(t *testing.T) {
		h := newHarness(t)
		compactionData(h)
		// Commit the Compact batch but report it aborted: the Store never
		// starts the pass, as if the process died right after the commit.
		b := h.db.NewIndexedBatch()
		if _, _, err := h.s.Compact(b, &pb.CompactionRequest{Revision: 8}); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		h.s.Aborted(b)
		b.Close()
		if got := h.history(); len(got) != 8 {
			t.Fatalf("history touched: %v", got)
		}
		h.reopen()
		if h.s.CompactRev() != 8 {
			t.Fatalf("compact rev %d", h.s.CompactRev())
		}
		waitCompacted(h, 8)
		if got := h.history(); !slices.Equal(got, want) {
			t.Errorf("history %v, want %v", got, want)
		}
	})
	t.Run("mid pass", func(t *testing.T) {
		steps := 0
		h := newHarnessCfg(t, Config{compactStep: 2, afterCompactStep: func() bool { steps++; return steps == 1 }})
		compactionData(h)
		if _, err := h.compact(8); err != nil {
			t.Fatal(err)
		}
		// Wait until the compactor stopped after its first step.
		<-h.s.comp.exit
		got := h.history()
		if len(got) == 8 || slices.Equal(got, want) {
			t.Fatalf("first step did nothing or everything: %v", got)
		}
		if got := h.scan(metaFinishedKey, append(metaFinishedKey, 0)); len(got) != 0 {
			t.Fatalf("finished recorded after one step")
		}
		h.reopen()
		waitCompacted(h, 8)
		if got := h.history(); !slices.Equal(got, want) {
			t.Errorf("history %v, want %v", got, want)
		}
		if got := h.revs(); !slices.Equal(got, []string{"rev 8.0 del b", "rev 9.0 put a"}) {
			t.Errorf("revs %v", got)
		}
	})
}

func waitCompacted(h *harness, rev int64) {
	ch := make(chan struct{})
	h.s.comp.wait(rev, ch)
	<-ch
}

func TestCompactionConcurrentWithWrites(t *testing.T) {
	h := newHarnessCfg(t, Config{compactStep: 3})
	for i := range 50 {
		h.put(fmt.Sprintf("k%02d", i%10), fmt.Sprint(i))
	}
	mid := h.s.Rev()
	done, err := h.compact(mid)
	if err != nil {
		t.Fatal(err)
	}
	// Keep writing while the compactor runs.
	for i := range 50 {
		h.put(fmt.Sprintf("k%02d", i%10), fmt.Sprint(100+i))
	}
	<-done
	for i := range 10 {
		k := fmt.Sprintf("k%02d", i)
		hist := h.scan(appendHistPrefix(nil, []byte(k)), appendHistEnd(nil, []byte(k)))
		// 5 versions above mid, 1 kept at or below it.
		if len(hist) != 6 {
			t.Errorf("%s history %v", k, hist)
		}
		if got := h.rng(&pb.RangeRequest{Key: []byte(k), Revision: mid}); len(got.Kvs) != 1 || got.Kvs[0].ModRevision > mid {
			t.Errorf("%s at %d: %v", k, mid, got.Kvs)
		}
	}
}
