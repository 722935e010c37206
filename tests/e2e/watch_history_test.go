package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestWatchHistoryFromDisk: Watch reads history from pebble and does not keep
// it in memory. A 128 MiB history (512 puts of 256 KiB over 8 keys: the live
// data is 2 MiB) is written, cairn is restarted on its data dir, and a
// clientv3 watch from revision 1 must get every put, in order, once, with its
// value, and nothing more (the history was persisted and is read back from
// disk), while the restarted process's memory does not grow with the history:
// its peak resident memory grows by less than pebble's block cache (bounded,
// 96 MiB, and filled by any read of this much data) plus 3/4 of the history,
// and its Go runtime memory (what Cairn's code held, not the block cache)
// stays under 3/4 of the history — cairn only.
//
// GOGC=100 keeps what is measured to what the watch path holds: cairn sets
// GOGC=400 unless GOGC is set (app/gc.go), which lets garbage reach four
// times the live heap; Go's default makes the heap's peak follow what is
// held. (The raft log is not in the way: a sole voter truncates it behind
// every 256 applied entries or 4 MiB, on disk and in memory.)
//
// Measured (2 CPUs): the restarted process starts at ~50 MiB; the catch-up
// raises its peak to 170-195 MiB (pebble's 96 MiB block cache fills with the
// history's blocks) and the Go runtime's memory to ~60 MiB. With a hub that
// kept each history read, the peak was 318-339 MiB and the Go memory 195-220
// MiB. Writing takes ~2 s, the catch-up ~0.3 s. A history small enough to
// write in a few seconds is not much larger than the block cache, hence the
// bound on the growth beyond it rather than on the whole.
func TestWatchHistoryFromDisk(t *testing.T) {
	t.Parallel()
	const (
		puts      = 512
		keys      = 8
		valueSize = 256 << 10
		history   = puts * valueSize
		// blockCache is pebble's block cache (storage.Config.CacheBytes's
		// default): reading the history may fill it, and it stays bounded.
		blockCache = 96 << 20
	)
	f := newFixture(t, cairnOnly(), withEnv("GOGC=100"))
	s := f.servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The history: incompressible values, each one's digest kept by revision.
	sums := make(map[int64][sha256.Size]byte, puts)
	keyOf := func(i int) string { return fmt.Sprintf("h/%d", i%keys) }
	rnd := rand.NewChaCha8([32]byte{1})
	val := make([]byte, valueSize)
	start := time.Now()
	for i := range puts {
		_, _ = rnd.Read(val)
		r, err := s.client().Put(ctx, keyOf(i), string(val))
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if want := int64(i + 2); r.Header.Revision != want {
			t.Fatalf("put %d at revision %d, want %d", i, r.Header.Revision, want)
		}
		sums[r.Header.Revision] = sha256.Sum256(val)
	}
	t.Logf("%d MiB of history in %v", history>>20, time.Since(start))

	// A restart: whatever the process held is gone; the history must come
	// from the data dir.
	s.restart()
	base := procStatus(t, s.pid())

	start = time.Now()
	cli := watchClient(t, s)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wch := cli.Watch(wctx, "h/", clientv3.WithPrefix(), clientv3.WithRev(1))
	next := int64(2)
	for next < puts+2 {
		var r clientv3.WatchResponse
		select {
		case r = <-wch:
		case <-time.After(stepTimeout):
			t.Fatalf("[%s] %d of %d events, then nothing for %v", s, next-2, puts, stepTimeout)
		}
		if err := r.Err(); err != nil {
			t.Fatalf("[%s] watch error after %d events: %v", s, next-2, err)
		}
		for _, ev := range r.Events {
			i := int(next - 2)
			if ev.Type != mvccpb.PUT || ev.Kv.ModRevision != next || string(ev.Kv.Key) != keyOf(i) {
				t.Fatalf("[%s] event %d: %v %s@%d, want PUT %s@%d", s, i, ev.Type, ev.Kv.Key, ev.Kv.ModRevision, keyOf(i), next)
			}
			if sha256.Sum256(ev.Kv.Value) != sums[next] {
				t.Fatalf("[%s] event %d (revision %d): wrong value (%d bytes)", s, i, next, len(ev.Kv.Value))
			}
			next++
		}
	}
	// Nothing after the last put: a progress notification at the head comes
	// after every event up to it (etcd drops a RequestProgress while the
	// watcher is still catching up, so ask again until one comes).
	for progress := false; !progress; {
		if err := cli.RequestProgress(wctx); err != nil {
			t.Fatal(err)
		}
		select {
		case r, ok := <-wch:
			switch {
			case !ok:
				t.Fatalf("[%s] watch channel closed after the history", s)
			case r.Err() != nil:
				t.Fatalf("[%s] watch error after the history: %v", s, r.Err())
			case len(r.Events) != 0:
				t.Fatalf("[%s] %d more events after the history, the first at revision %d", s, len(r.Events), r.Events[0].Kv.ModRevision)
			}
			progress = r.IsProgressNotify() && r.Header.Revision == puts+1
		case <-time.After(time.Second):
		case <-ctx.Done():
			t.Fatalf("[%s] no progress notification after the history", s)
		}
	}
	after := procStatus(t, s.pid())
	goSys := metricValue(t, s, "go_memstats_sys_bytes")
	t.Logf("catch-up of %d events in %v; resident after restart %d MiB, peak %d MiB; Go runtime memory %d MiB",
		puts, time.Since(start), base["VmRSS"]>>20, after["VmHWM"]>>20, int64(goSys)>>20)

	if s.kind != kindCairn {
		return // etcd's history is an mmapped bbolt file: its pages count as resident
	}
	// The peak resident memory of the restarted process (its high-water
	// mark, which covers the whole catch-up) grew by no more than pebble's
	// block cache and three quarters of the history.
	if limit := base["VmRSS"] + blockCache + history*3/4; after["VmHWM"] > limit {
		t.Errorf("[%s] peak resident memory %d MiB during the catch-up of a %d MiB history, want at most %d MiB (%d at the start + the %d MiB block cache + 3/4 of the history)",
			s, after["VmHWM"]>>20, history>>20, limit>>20, base["VmRSS"]>>20, blockCache>>20)
	}
	// What the Go code held (the block cache is not Go memory): the Go
	// runtime's memory from the OS, which follows the largest the heap has
	// been, stayed under three quarters of the history.
	if limit := float64(history * 3 / 4); goSys > limit {
		t.Errorf("[%s] Go runtime memory %d MiB after the catch-up of a %d MiB history, want at most %d MiB",
			s, int64(goSys)>>20, history>>20, int64(limit)>>20)
	}
}

// procStatus reads the kB fields of /proc/<pid>/status (VmRSS, VmHWM, ...)
// in bytes.
func procStatus(t *testing.T, pid int) map[string]int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[name] = n << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if out["VmRSS"] == 0 || out["VmHWM"] == 0 {
		t.Fatalf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return out
}
