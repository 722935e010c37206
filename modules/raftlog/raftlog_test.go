package raftlog

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/cairnkv/cairn/modules/storage"
)

// counter is a tiny deterministic state machine: each entry's data is
// id(8 bytes) | key, and applying it increments the key's counter in the same
// batch, so a test can see exactly which entries were applied, and how often.
type counter struct {
	mu        sync.Mutex
	committed int
	aborted   int
}

func (c *counter) ApplyEntry(b *pebble.Batch, index uint64, data []byte) (uint64, any, error) {
	id := binary.BigEndian.Uint64(data)
	key := append([]byte{storage.PrefixMVCCLow}, data[8:]...)
	n := uint64(0)
	if v, closer, err := b.Get(key); err == nil {
		n = binary.BigEndian.Uint64(v)
		closer.Close()
	}
	n++
	_ = b.Set(key, binary.BigEndian.AppendUint64(nil, n), nil)
	return id, n, nil
}

func (c *counter) Committed(*pebble.Batch) { c.mu.Lock(); c.committed++; c.mu.Unlock() }
func (c *counter) Aborted(*pebble.Batch)   { c.mu.Lock(); c.aborted++; c.mu.Unlock() }

func open(t *testing.T, dir string, cfg Config) (*Node, *pebble.DB, *counter) {
	return openWith(t, dir, cfg, false)
}

// openRaftReads opens a node that confirms every read with a raft ReadIndex
// round, as a member of a larger cluster does.
func openRaftReads(t *testing.T, dir string, cfg Config) (*Node, *pebble.DB, *counter) {
	return openWith(t, dir, cfg, true)
}

func openWith(t *testing.T, dir string, cfg Config, raftReads bool) (*Node, *pebble.DB, *counter) {
	t.Helper()
	n, db, app := newNode(t, dir, cfg)
	n.raftReads = raftReads
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n, db, app
}

// openApplyLoop opens a started node that applies every entry on the apply
// loop, as a member with peers does, and so truncates its log by the rules
// of the package doc (a sole voter's entries applied with their append are
// never written to the log).
func openApplyLoop(t *testing.T, dir string, cfg Config) (*Node, *pebble.DB, *counter) {
	t.Helper()
	n, db, app := newNode(t, dir, cfg)
	n.noApplyWithAppend.Store(true)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n, db, app
}

// openKeepLog opens a started node that never truncates its log.
func openKeepLog(t *testing.T, dir string) (*Node, *pebble.DB) {
	t.Helper()
	n, db, _ := newNode(t, dir, Config{})
	n.keepLog = true
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n, db
}

// newNode opens the database in dir and a node on it, not started.
func newNode(t *testing.T, dir string, cfg Config) (*Node, *pebble.DB, *counter) {
	t.Helper()
	return newNodeFS(t, nil, dir, cfg)
}

// newNodeFS is newNode in filesystem fs (nil: the operating system's).
func newNodeFS(t *testing.T, fs vfs.FS, dir string, cfg Config) (*Node, *pebble.DB, *counter) {
	t.Helper()
	db, err := storage.Open(storage.Config{Dir: dir, CacheBytes: 8 << 20, MemTableBytes: 4 << 20, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MemberID == 0 {
		cfg.MemberID, cfg.ClusterID = 0x1234, 0x99
	}
	app := &counter{}
	n, err := New(db, cfg, app)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return n, db, app
}

func propose(t *testing.T, n *Node, key string) uint64 {
	t.Helper()
	id := n.NextID()
	data := binary.BigEndian.AppendUint64(nil, id)
	data = append(data, key...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := n.Propose(ctx, id, data)
	if err != nil {
		t.Fatalf("propose %q: %v", key, err)
	}
	return r.(uint64)
}

func readCount(t *testing.T, db *pebble.DB, key string) uint64 {
	t.Helper()
	v, closer, err := db.Get(append([]byte{storage.PrefixMVCCLow}, key...))
	if err != nil {
		return 0
	}
	defer closer.Close()
	return binary.BigEndian.Uint64(v)
}

func TestProposeAppliesOnceInOrder(t *testing.T) {
	n, db, _ := open(t, t.TempDir(), Config{})
	defer db.Close()
	defer n.Stop()
	for i := uint64(1); i <= 5; i++ {
		if got := propose(t, n, "k"); got != i {
			t.Fatalf("proposal %d applied as count %d", i, got)
		}
	}
	st := n.Status()
	if st.Leader != 0x1234 || st.MemberID != 0x1234 || st.ClusterID != 0x99 {
		t.Fatalf("status %+v", st)
	}
	if st.AppliedIndex < 5 || st.AppliedIndex != st.CommitIndex {
		t.Fatalf("applied %d commit %d", st.AppliedIndex, st.CommitIndex)
	}
	if len(st.Voters) != 1 || st.Voters[0] != 0x1234 {
		t.Fatalf("voters %v", st.Voters)
	}
	// Every response header asks for the status: it must not allocate.
	if a := testing.AllocsPerRun(100, func() { st = n.Status() }); a != 0 {
		t.Fatalf("Status allocates %v times per call", a)
	}
}

// TestSoleVoterAppliesWithAppend: a sole voter applies a proposal in the
// synced batch that appends it (one pebble commit per proposal, no apply
// round), and the batch records the applied index with the entry; with
// that switched off, the apply loop applies it, with the same results.
func TestSoleVoterAppliesWithAppend(t *testing.T) {
	for _, withAppend := range []bool{true, false} {
		t.Run(fmt.Sprintf("withAppend=%v", withAppend), func(t *testing.T) {
			n, db, app := newNode(t, t.TempDir(), Config{})
			defer db.Close()
			n.noApplyWithAppend.Store(!withAppend)
			if err := n.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer n.Stop()
			before := counterValue(t, appliedWithAppend)
			app.mu.Lock()
			rounds := app.committed
			app.mu.Unlock()
			const proposals = 20
			for i := uint64(1); i <= proposals; i++ {
				if got := propose(t, n, "k"); got != i {
					t.Fatalf("proposal %d applied as count %d", i, got)
				}
				p, err := load(db)
				if err != nil {
					t.Fatal(err)
				}
				if last := n.Status().LastIndex; p.applied != last {
					t.Fatalf("proposal %d: applied index %d on disk, last entry %d", i, p.applied, last)
				}
				// Applied with its append, an entry is never written to
				// the log: the batch records it as truncated.
				if withAppend && (p.truncIndex != p.applied || len(p.entries) != 0) {
					t.Fatalf("proposal %d: log truncated to %d with %d entries on disk, applied %d", i, p.truncIndex, len(p.entries), p.applied)
				}
			}
			app.mu.Lock()
			rounds = app.committed - rounds
			app.mu.Unlock()
			if rounds != proposals {
				t.Errorf("%d batches committed for %d proposals", rounds, proposals)
			}
			want := 0.0
			if withAppend {
				want = proposals
			}
			if got := counterValue(t, appliedWithAppend) - before; got != want {
				t.Errorf("%v entries applied with their append, want %v", got, want)
			}
			// raft's in-memory log is still compacted every
			// SoleVoterTruncEntries entries.
			for range SoleVoterTruncEntries {
				propose(t, n, "k")
			}
			first, _ := n.storage.FirstIndex()
			if applied := n.Status().AppliedIndex; first+SoleVoterTruncEntries < applied {
				t.Errorf("in-memory log starts at %d with %d applied", first, applied)
			}
		})
	}
}

// TestApplyPathsInterleave: entries applied with their append and entries
// applied by the apply loop follow each other in any order under load, and
// every entry is applied once, in log order: each writer sees its own key's
// count go 1, 2, 3, ….
func TestApplyPathsInterleave(t *testing.T) {
	n, db, _ := open(t, t.TempDir(), Config{})
	defer db.Close()
	defer n.Stop()
	before := counterValue(t, appliedWithAppend)
	const writers, each = 8, 150
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if w == 0 {
					// One writer switches the path every few proposals.
					n.noApplyWithAppend.Store(i/5%2 == 1)
				}
				if got := propose(t, n, fmt.Sprintf("w%d", w)); got != uint64(i+1) {
					t.Errorf("writer %d's proposal %d: result %d", w, i, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		if got := readCount(t, db, fmt.Sprintf("w%d", w)); got != each {
			t.Errorf("writer %d: count %d, want %d", w, got, each)
		}
	}
	withAppend := counterValue(t, appliedWithAppend) - before
	if withAppend == 0 || withAppend >= writers*each {
		t.Errorf("%v of %d entries applied with their append: want both paths used", withAppend, writers*each)
	}
	// After the apply loop's path left entries in the log, the next entry
	// applied with its append deletes them.
	// (A truncation may fall on the first one, not on the next.)
	n.noApplyWithAppend.Store(true)
	for i := 0; ; i++ {
		propose(t, n, "x")
		p, err := load(db)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.entries) > 0 {
			break
		}
		if i == 2 {
			t.Fatal("no entry in the log after the apply loop's path")
		}
	}
	n.noApplyWithAppend.Store(false)
	propose(t, n, "x")
	iter, err := db.NewIter(&pebble.IterOptions{LowerBound: logKey(nil, 0), UpperBound: logKey(nil, math.MaxUint64)})
	if err != nil {
		t.Fatal(err)
	}
	defer iter.Close()
	if iter.First() {
		t.Errorf("entry key %x left in the log", iter.Key())
	}
}

// TestTruncationWaitsForHandedOutEntries: entries applied with their append
// but not yet handed out by raft (a batch larger than one Ready's committed
// entries) stay in raft's in-memory log until raft has handed them out; a
// truncation due before that goes only as far as raft has (else raft finds
// the next entries compacted away and panics).
func TestTruncationWaitsForHandedOutEntries(t *testing.T) {
	defer func(p int, c uint64) { maxProposalBatchBytes, maxCommittedSizePerReady = p, c }(maxProposalBatchBytes, maxCommittedSizePerReady)
	maxProposalBatchBytes, maxCommittedSizePerReady = 3<<20, 3<<20
	n, db, _ := newNode(t, t.TempDir(), Config{})
	defer db.Close()
	// The test runs the raft loop itself, so that both proposals surely go
	// in one raft message; Start's apply loop runs as usual.
	n.done.Add(1)
	go n.runApply()
	defer func() { close(n.applyc); n.done.Wait() }()
	for n.rn.HasReady() {
		n.handleReady()
	}
	if err := n.rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	for n.rn.HasReady() {
		n.handleReady()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitApplied(ctx, n.commit.Load()); err != nil {
		t.Fatal(err)
	}
	// Two entries of 2.5 MiB: over SoleVoterTruncBytes together, so a
	// truncation is due once they are applied, and over one Ready's
	// committed entries, so raft hands them out one at a time.
	big := strings.Repeat("v", 5<<19)
	for range 2 {
		id := n.NextID()
		n.propc <- proposal{id: id, data: append(binary.BigEndian.AppendUint64(nil, id), big...)}
	}
	first := n.lastIndex.Load() + 1
	n.propose(<-n.propc)
	// The first Ready applies both with their append; raft commits them
	// only at the next, but the commit index never trails the applied one.
	n.handleReady()
	if st := n.Status(); st.AppliedIndex != first+1 || st.CommitIndex < st.AppliedIndex {
		t.Fatalf("after the append: applied %d, commit %d; want both %d", st.AppliedIndex, st.CommitIndex, first+1)
	}
	// A third entry goes in the next Ready, whose HardState commits only
	// the first: applied with its append, the commit index still follows.
	id := n.NextID()
	n.propose(proposal{id: id, data: append(binary.BigEndian.AppendUint64(nil, id), "small"...)})
	readys := 1
	for n.rn.HasReady() {
		n.handleReady()
		readys++
		if st := n.Status(); st.CommitIndex < st.AppliedIndex {
			t.Fatalf("after Ready %d: applied %d, commit %d", readys, st.AppliedIndex, st.CommitIndex)
		}
	}
	if applied := n.applied.Load(); applied != first+2 {
		t.Fatalf("applied index %d, want %d", applied, first+2)
	}
	if readys < 3 {
		t.Fatalf("%d Readys: the two entries were handed out together", readys)
	}
	if got := readCount(t, db, big); got != 2 {
		t.Fatalf("count %d, want 2", got)
	}
	// All handed out, all are compacted from memory.
	if fi, _ := n.storage.FirstIndex(); fi != first+3 {
		t.Errorf("in-memory log starts at %d, want %d", fi, first+3)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestConcurrentProposalsShareReadys: concurrent proposals share raft
// messages, Readys and fsyncs, and each gets its own result, also when more
// of them wait than one raft message takes (MaxProposalBatch 3).
func TestConcurrentProposalsShareReadys(t *testing.T) {
	for _, batch := range []int{0, 3} {
		t.Run(fmt.Sprintf("MaxProposalBatch=%d", batch), func(t *testing.T) {
			testConcurrentProposalsShareReadys(t, Config{MaxProposalBatch: batch})
		})
	}
}

func testConcurrentProposalsShareReadys(t *testing.T, cfg Config) {
	n, db, app := open(t, t.TempDir(), cfg)
	defer db.Close()
	defer n.Stop()
	const writers, each = 32, 20
	syncsBefore := histogramCount(t, walFsyncSec)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				// The result is this writer's own count: results go to
				// their proposers.
				if got := propose(t, n, fmt.Sprintf("w%d", w)); got != uint64(i+1) {
					t.Errorf("writer %d's proposal %d: result %d", w, i, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	for w := 0; w < writers; w++ {
		if got := readCount(t, db, fmt.Sprintf("w%d", w)); got != each {
			t.Fatalf("writer %d: count %d, want %d", w, got, each)
		}
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	// Group commit: far fewer apply batches than proposals.
	if app.committed >= writers*each {
		t.Fatalf("%d apply batches for %d proposals: no batching", app.committed, writers*each)
	}
	// ... and far fewer synced log appends (fsyncs) than proposals.
	if syncs := histogramCount(t, walFsyncSec) - syncsBefore; syncs >= writers*each {
		t.Fatalf("%d synced appends for %d proposals: no group commit", syncs, writers*each)
	}
}

func histogramCount(t *testing.T, h prometheus.Histogram) int {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return int(m.GetHistogram().GetSampleCount())
}

func TestRestartReplaysAndKeepsState(t *testing.T) {
	dir := t.TempDir()
	n, db, _ := open(t, dir, Config{})
	for i := 0; i < 10; i++ {
		propose(t, n, "a")
	}
	applied := n.Status().AppliedIndex
	n.Stop()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Restart with other IDs: the stored identity wins.
	n, db, _ = open(t, dir, Config{MemberID: 0x777, ClusterID: 0x1})
	defer db.Close()
	defer n.Stop()
	if st := n.Status(); st.MemberID != 0x1234 || st.ClusterID != 0x99 || st.AppliedIndex < applied {
		t.Fatalf("after restart: %+v (applied before %d)", st, applied)
	}
	if got := propose(t, n, "a"); got != 11 {
		t.Fatalf("count after restart %d, want 11 (entries applied twice or lost)", got)
	}
}

// TestRestartAppliesCommittedButUnapplied: on the apply loop's path, an
// apply batch lost in a crash is applied again from the log. (An entry
// applied with its append is lost or kept with its effects.)
func TestRestartAppliesCommittedButUnapplied(t *testing.T) {
	dir := t.TempDir()
	n, db, _ := openApplyLoop(t, dir, Config{})
	for i := 0; i < 3; i++ {
		propose(t, n, "a")
	}
	n.Stop()
	// Roll the applied index back as if the apply batch had been lost in a crash.
	b := db.NewBatch()
	if err := putUint64s(b, keyApplied, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(append([]byte{storage.PrefixMVCCLow}, 'a'), binary.BigEndian.AppendUint64(nil, 0), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	n, db, _ = open(t, dir, Config{})
	defer db.Close()
	defer n.Stop()
	if got := propose(t, n, "a"); got != 4 {
		t.Fatalf("count %d after replay, want 4", got)
	}
}

func TestReadIndexWaitsForApplied(t *testing.T) {
	for _, raftReads := range []bool{false, true} {
		t.Run(fmt.Sprintf("raftReads=%v", raftReads), func(t *testing.T) { testReadIndexWaitsForApplied(t, raftReads) })
	}
}

func testReadIndexWaitsForApplied(t *testing.T, raftReads bool) {
	n, db, _ := openWith(t, t.TempDir(), Config{}, raftReads)
	defer db.Close()
	defer n.Stop()
	propose(t, n, "x")
	roundsBefore := testutil.ToFloat64(readIndexRounds)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := n.ReadIndex(ctx); err != nil {
				t.Error(err)
				return
			}
			if readCount(t, db, "x") != 1 {
				t.Error("read after ReadIndex does not see an acknowledged write")
			}
		}()
	}
	wg.Wait()
	rounds := testutil.ToFloat64(readIndexRounds) - roundsBefore
	if raftReads && (rounds < 1 || rounds > 50) {
		t.Fatalf("%v ReadIndex rounds for 50 reads", rounds)
	}
	if !raftReads && rounds != 0 {
		t.Fatalf("%v raft rounds for reads on a sole voter", rounds)
	}
}

// Reads that arrive while a round is in flight share the next round. Writers
// keep the raft loop busy with synced appends, so that 50 reads released at
// once find it busy and pile up.
func TestReadIndexBatchesConcurrentReads(t *testing.T) {
	n, db, _ := openRaftReads(t, t.TempDir(), Config{})
	defer db.Close()
	defer n.Stop()
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := 0; w < 8; w++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for {
				select {
				case <-stop:
					return
				default:
					propose(t, n, "load")
				}
			}
		}()
	}
	defer func() { close(stop); writers.Wait() }()
	// A burst's reads find the loop busy or not as the scheduler has it (on
	// a loaded 2-core machine all 200 once trickled in one by one): a burst
	// that batches passes, three that do not fail.
	const reads = 200
	for attempt := 1; ; attempt++ {
		rounds := readBurst(t, n, reads)
		t.Logf("attempt %d: %v rounds for %d reads", attempt, rounds, reads)
		if rounds <= reads/2 {
			return
		}
		if attempt == 3 {
			t.Fatalf("%v ReadIndex rounds for %d concurrent reads, in each of 3 bursts: reads are not batched", rounds, reads)
		}
	}
}

// readBurst releases reads concurrent ReadIndex calls at once and returns
// the rounds they took.
func readBurst(t *testing.T, n *Node, reads int) float64 {
	roundsBefore := testutil.ToFloat64(readIndexRounds)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < reads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := n.ReadIndex(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return testutil.ToFloat64(readIndexRounds) - roundsBefore
}

func TestLogTruncation(t *testing.T) {
	dir := t.TempDir()
	// A sole voter ignores the catch-up window: nothing would read it.
	cfg := Config{SnapshotCount: 20, CatchUpEntries: 2 * SoleVoterTruncEntries}
	n, db, _ := openApplyLoop(t, dir, cfg)
	proposed := uint64(0)
	for ; proposed < SoleVoterTruncEntries; proposed++ {
		propose(t, n, "t")
	}
	// Truncation runs on the raft loop after apply; each proposal gives it a turn.
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := load(db)
		if err != nil {
			t.Fatal(err)
		}
		if p.truncIndex > 0 {
			applied := n.Status().AppliedIndex
			if p.truncIndex+SoleVoterTruncEntries < applied {
				t.Fatalf("truncated to %d with applied %d: more than %d applied entries kept", p.truncIndex, applied, SoleVoterTruncEntries)
			}
			// Stopped, so that no truncation is half done: the in-memory log
			// is compacted right after the on-disk one.
			n.Stop()
			if p, err = load(db); err != nil {
				t.Fatal(err)
			}
			if first, _ := n.storage.FirstIndex(); first != p.truncIndex+1 {
				t.Fatalf("in-memory log starts at %d, on-disk log truncated to %d", first, p.truncIndex)
			}
			// Nothing at or below the truncation point is left on disk.
			iter, err := db.NewIter(&pebble.IterOptions{
				LowerBound: logKey(nil, 0), UpperBound: logKey(nil, p.truncIndex+1),
			})
			if err != nil {
				t.Fatal(err)
			}
			if iter.First() {
				t.Fatalf("entry key %x kept below truncation index %d", iter.Key(), p.truncIndex)
			}
			iter.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log never truncated: truncIndex %d, %d entries", p.truncIndex, len(p.entries))
		}
		propose(t, n, "t")
		proposed++
	}
	db.Close()
	// A restart loads only the indexes of the applied entries still on disk,
	// and drops them from memory before raft sees the log: checked before
	// Start, whose first apply could truncate them too.
	n, db, _ = newNode(t, dir, cfg)
	defer db.Close()
	defer n.Stop()
	if first, _ := n.storage.FirstIndex(); first != n.applied.Load()+1 {
		t.Fatalf("after a restart the in-memory log starts at %d with %d applied", first, n.applied.Load())
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Every proposal applied exactly once across the truncated restart.
	if got := propose(t, n, "t"); got != proposed+1 {
		t.Fatalf("count %d after restart from a truncated log, want %d", got, proposed+1)
	}
}

// TestSoleVoterTruncatesLargeEntriesSooner: with large entries the byte bound
// truncates long before SoleVoterTruncEntries, so the entries are deleted in the
// memtable that holds them.
func TestSoleVoterTruncatesLargeEntriesSooner(t *testing.T) {
	n, db, _ := openApplyLoop(t, t.TempDir(), Config{})
	defer db.Close()
	defer n.Stop()
	big := strings.Repeat("v", 512<<10)
	const max = 3 * SoleVoterTruncBytes / (512 << 10)
	for i := 0; i < max; i++ {
		propose(t, n, big)
		p, err := load(db)
		if err != nil {
			t.Fatal(err)
		}
		if p.truncIndex > 0 {
			return
		}
	}
	t.Fatalf("log not truncated after %d entries of 512 KiB", max)
}

// TestSoleVoterTruncationBytesReset: once large entries triggered a
// truncation, small ones do not trigger one each (the byte count starts
// again from what was truncated).
func TestSoleVoterTruncationBytesReset(t *testing.T) {
	n, db, _ := openApplyLoop(t, t.TempDir(), Config{})
	defer db.Close()
	defer n.Stop()
	big := strings.Repeat("v", SoleVoterTruncBytes/4)
	for range 4 {
		propose(t, n, big)
	}
	last := n.Status().AppliedIndex
	// The truncation runs on the raft loop after the apply: wait for it.
	for deadline := time.Now().Add(5 * time.Second); ; {
		p, err := load(db)
		if err != nil {
			t.Fatal(err)
		}
		if p.truncIndex == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log truncated to %d, want %d after 4 MiB of entries", p.truncIndex, last)
		}
		time.Sleep(time.Millisecond)
	}
	for range 20 {
		propose(t, n, "small")
	}
	n.Stop()
	p, err := load(db)
	if err != nil {
		t.Fatal(err)
	}
	if p.truncIndex != last {
		t.Fatalf("20 small entries after a truncation moved it from %d to %d", last, p.truncIndex)
	}
}

// TestTruncPoint checks both truncation rules, including the one of a member
// with peers, which a single-member cluster cannot run end to end.
func TestTruncPoint(t *testing.T) {
	cfg := Config{SnapshotCount: 100, CatchUpEntries: 30}
	for _, tc := range []struct {
		name      string
		voters    []uint64
		memTrunc  uint64
		lastTrunc uint64
		applied   uint64
		untrunc   int64
		to        uint64
		due       bool
	}{
		{name: "sole, few entries", voters: []uint64{1}, memTrunc: 10, applied: 10 + SoleVoterTruncEntries - 1, untrunc: 1000},
		{name: "sole, SoleVoterTruncEntries", voters: []uint64{1}, memTrunc: 10, applied: 10 + SoleVoterTruncEntries, to: 10 + SoleVoterTruncEntries, due: true},
		{name: "sole, bytes", voters: []uint64{1}, memTrunc: 10, applied: 12, untrunc: SoleVoterTruncBytes, to: 12, due: true},
		{name: "peers, before snapshot count", voters: []uint64{1, 2, 3}, lastTrunc: 50, applied: 149, untrunc: 1 << 30},
		{name: "peers, snapshot count", voters: []uint64{1, 2, 3}, lastTrunc: 50, applied: 150, to: 120, due: true},
		{name: "peers, inside the catch-up window", voters: []uint64{1, 2}, applied: 100, to: 70, due: true},
		{name: "peers, log shorter than the window", voters: []uint64{1, 2}, lastTrunc: 0, applied: 30, due: false},
	} {
		n := &Node{cfg: cfg, memberID: 1}
		n.voters.Store(&tc.voters)
		n.memTrunc.Store(tc.memTrunc)
		n.lastTrunc.Store(tc.lastTrunc)
		to, due := n.truncPoint(tc.applied, tc.untrunc)
		if to != tc.to || due != tc.due {
			t.Errorf("%s: truncPoint = %d, %v; want %d, %v", tc.name, to, due, tc.to, tc.due)
		}
	}
}

func TestStopFailsWaiters(t *testing.T) {
	n, db, _ := open(t, t.TempDir(), Config{})
	defer db.Close()
	n.Stop()
	if _, err := n.Propose(context.Background(), n.NextID(), binary.BigEndian.AppendUint64(nil, 1)); err != ErrStopped {
		t.Fatalf("propose after stop: %v", err)
	}
	if err := n.ReadIndex(context.Background()); err != ErrStopped {
		t.Fatalf("read after stop: %v", err)
	}
}

// startWriters starts writers goroutines that propose until a proposal
// fails, each incrementing key "w<i>": tried[i] counts its proposals, acked[i]
// those applied.
func startWriters(n *Node, writers int) (acked, tried []atomic.Int64, wg *sync.WaitGroup) {
	acked, tried, wg = make([]atomic.Int64, writers), make([]atomic.Int64, writers), &sync.WaitGroup{}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := n.NextID()
				data := append(binary.BigEndian.AppendUint64(nil, id), fmt.Sprintf("w%d", w)...)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				tried[w].Add(1)
				_, err := n.Propose(ctx, id, data)
				cancel()
				if err != nil {
					return
				}
				acked[w].Add(1)
			}
		}()
	}
	return acked, tried, wg
}

// TestStopUnderLoadTruncatingLosesNoAcknowledgedEntry: the same with the
// log truncated as it goes (every 256 entries): after the restart each
// writer's count is at least what was acknowledged to it and at most what it
// proposed.
func TestStopUnderLoadTruncatingLosesNoAcknowledgedEntry(t *testing.T) {
	for round := 0; round < 3; round++ {
		dir := t.TempDir()
		n, db, _ := open(t, dir, Config{})
		const writers = 16
		acked, tried, wg := startWriters(n, writers)
		// Stop once a few truncations happened; the check does not depend on timing.
		for deadline := time.Now().Add(10 * time.Second); n.Status().AppliedIndex < uint64(3*SoleVoterTruncEntries+round*SoleVoterTruncEntries/3); {
			if time.Now().After(deadline) {
				t.Fatal("load did not reach three truncations")
			}
			time.Sleep(time.Millisecond)
		}
		n.Stop()
		wg.Wait()
		db.Close()

		n, db, _ = open(t, dir, Config{})
		for w := range writers {
			got := int64(readCount(t, db, fmt.Sprintf("w%d", w)))
			if got < acked[w].Load() || got > tried[w].Load() {
				t.Errorf("round %d, writer %d: %d applied after restart, %d acknowledged, %d proposed", round, w, got, acked[w].Load(), tried[w].Load())
			}
		}
		if p, err := load(db); err != nil || p.truncIndex == 0 {
			t.Errorf("round %d: log not truncated (%v)", round, err)
		}
		n.Stop()
		db.Close()
	}
}

// TestCrashLosesNoAcknowledgedEntry: writers propose while the log is
// truncated as it goes; at moments of the load, the filesystem is cloned as
// a crash would leave it (pebble's crashable MemFS: everything synced, and a
// random part of what was not), and a node started on the clone must have
// applied every entry acknowledged before the crash, and no more than were
// proposed.
func TestCrashLosesNoAcknowledgedEntry(t *testing.T) {
	for _, withAppend := range []bool{true, false} {
		t.Run(fmt.Sprintf("withAppend=%v", withAppend), func(t *testing.T) { testCrashLosesNoAcknowledgedEntry(t, withAppend) })
	}
}

func testCrashLosesNoAcknowledgedEntry(t *testing.T, withAppend bool) {
	fs := vfs.NewCrashableMem()
	n, db, _ := newNodeFS(t, fs, "/db", Config{})
	n.noApplyWithAppend.Store(!withAppend)
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	acked, tried, wg := startWriters(n, writers)
	defer func() {
		n.Stop()
		wg.Wait()
		db.Close()
	}()
	rng := rand.New(rand.NewPCG(7, 11))
	truncated := false
	appliedBefore := counterValue(t, appliedWithAppend)
	for crash := range 40 {
		// Crash at random points, with truncations in between.
		want := n.Status().AppliedIndex + 1 + uint64(rng.IntN(SoleVoterTruncEntries))
		for deadline := time.Now().Add(10 * time.Second); n.Status().AppliedIndex < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("crash %d: applied index stuck at %d", crash, n.Status().AppliedIndex)
			}
		}
		var ack [writers]int64
		for w := range writers {
			ack[w] = acked[w].Load()
		}
		clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
		var try [writers]int64
		for w := range writers {
			try[w] = tried[w].Load()
		}
		cn, cdb, _ := newNodeFS(t, clone, "/db", Config{})
		cn.noApplyWithAppend.Store(true) // the counter below is the crashing node's
		if err := cn.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		for w := range writers {
			if got := int64(readCount(t, cdb, fmt.Sprintf("w%d", w))); got < ack[w] || got > try[w] {
				t.Errorf("crash %d, writer %d: %d applied after the crash, %d acknowledged before it, %d proposed", crash, w, got, ack[w], try[w])
			}
		}
		p, err := load(cdb)
		if err != nil {
			t.Fatal(err)
		}
		truncated = truncated || p.truncIndex > 0
		cn.Stop()
		cdb.Close()
	}
	// Each mode must have exercised the path it is for. With append, every
	// batch records its entries as truncated, so the truncation check says
	// nothing there: the entries must have been applied with their append.
	withAppendEntries := counterValue(t, appliedWithAppend) - appliedBefore
	switch {
	case withAppend && withAppendEntries == 0:
		t.Error("no entry was applied with its append")
	case !withAppend && withAppendEntries != 0:
		t.Errorf("%v entries applied with their append, want none", withAppendEntries)
	case !withAppend && !truncated:
		t.Error("no crash happened after a log truncation")
	}
}

// Entries committed while Stop runs are either applied before the stop or
// applied on restart: never skipped (the apply hand-off must not drop them).
func TestStopUnderLoadLosesNoCommittedEntry(t *testing.T) {
	for round := 0; round < 5; round++ {
		dir := t.TempDir()
		// The log is kept whole so that its committed entries can be counted.
		n, db := openKeepLog(t, dir)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := n.NextID()
					data := append(binary.BigEndian.AppendUint64(nil, id), fmt.Sprintf("w%d", w)...)
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					_, err := n.Propose(ctx, id, data)
					cancel()
					if err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(20+round*15) * time.Millisecond) // let load build up; the check does not depend on timing
		n.Stop()
		close(stop)
		wg.Wait()
		db.Close()

		n, db = openKeepLog(t, dir)
		p, err := load(db)
		if err != nil {
			t.Fatal(err)
		}
		committed := 0
		for _, e := range p.entries {
			if e.Index <= p.hardState.Commit && e.Type == raftpb.EntryNormal && len(e.Data) > 0 {
				committed++
			}
		}
		applied := 0
		for w := 0; w < 16; w++ {
			applied += int(readCount(t, db, fmt.Sprintf("w%d", w)))
		}
		n.Stop()
		db.Close()
		if applied != committed {
			t.Fatalf("round %d: %d committed entries, %d applied after restart", round, committed, applied)
		}
	}
}

func TestProposalsTimeOut(t *testing.T) {
	n, db, _ := open(t, t.TempDir(), Config{ProposalTimeout: time.Second})
	defer db.Close()
	defer n.Stop()
	// A proposer whose entry never applies (as when a leader is lost).
	ch := make(chan any, 1)
	n.waitMu.Lock()
	n.waiters[42] = waiter{ch: ch, tick: n.ticks.Load()}
	n.waitMu.Unlock()
	select {
	case r := <-ch:
		if r != ErrTimeout {
			t.Fatalf("got %v, want ErrTimeout", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a proposal older than ProposalTimeout was not failed")
	}
	// A proposal that applies is not failed by the sweep.
	if got := propose(t, n, "k"); got != 1 {
		t.Fatalf("count %d", got)
	}
}

// A batch of proposals refused for want of a leader fails every proposal in
// it, not only the first: whether the node knows of no leader (raft is not
// asked) or raft drops the message (a follower that has none).
func TestProposalBatchWithoutLeaderFailsEveryProposal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		leader uint64 // what the node believes; raft itself has none
	}{{"no leader known", raft.None}, {"raft drops it", 0x999}} {
		t.Run(tc.name, func(t *testing.T) {
			n, db, _ := newNode(t, t.TempDir(), Config{MaxProposalBatch: 8})
			defer db.Close()
			// Not started: no election has run, and propose runs here as the
			// raft loop would run it.
			n.leader.Store(tc.leader)
			const batch = 5
			chs := make([]chan any, batch)
			for i := range chs {
				chs[i] = make(chan any, 1)
				n.waitMu.Lock()
				n.waiters[uint64(i+1)] = waiter{ch: chs[i], tick: n.ticks.Load()}
				n.waitMu.Unlock()
				if i > 0 {
					n.propc <- proposal{id: uint64(i + 1), data: []byte{byte(i)}}
				}
			}
			failed := testutil.ToFloat64(proposalsFailed)
			n.propose(proposal{id: 1, data: []byte{0}})
			for i, ch := range chs {
				select {
				case r := <-ch:
					if r != ErrNoLeader {
						t.Errorf("proposal %d: got %v, want ErrNoLeader", i+1, r)
					}
				default:
					t.Errorf("proposal %d of the batch got no answer", i+1)
				}
			}
			if len(n.propc) != 0 {
				t.Errorf("%d proposals left queued, want the batch to take them all", len(n.propc))
			}
			if d := testutil.ToFloat64(proposalsFailed) - failed; d != batch {
				t.Errorf("proposals failed counted %v more, want %d", d, batch)
			}
		})
	}
}
