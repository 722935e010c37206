package mvcc

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/zap"

	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/storage"
)

// Config configures a Store. The zero value is usable.
type Config struct {
	// LeaseExists reports whether lease id is granted. nil: no lease exists
	// (then any Put with lease != 0 fails with rpcerr.ErrLeaseNotFound).
	LeaseExists func(id int64) bool
	// OnCommit, if set, is called by Committed with the events of every write
	// txn in the committed batch, in revision order (for the watch hub). It
	// runs on the apply goroutine: it must not block, and must not modify the
	// events (they may alias the applied requests' bytes).
	OnCommit func(rev int64, events []*mvccpb.Event)
	// Logger receives background compaction failures. nil: zap.NewNop().
	Logger *zap.Logger

	// compactStep is the number of revision-keyspace entries the compactor
	// handles per batch (0: defaultCompactStep). Tests lower it.
	compactStep int
	// indirectBytes is the smallest value written indirectly (0:
	// storage.SeparateValueBytes; see the package doc). Tests lower it.
	indirectBytes int
	// afterCompactStep, if set, is called after each committed compaction
	// step; returning true stops the compactor as a crash would (tests).
	afterCompactStep func() bool
	// filterRebuildMin is the fewest keys added to the key filter that make
	// a rebuild due (0: defaultFilterRebuildMin). Tests lower it.
	filterRebuildMin int
	// afterFilterScan, if set, is called when a rebuild's scan is done,
	// before the apply side may take its filter (tests).
	afterFilterScan func()
}

const defaultCompactStep = 1000

// ErrClosed is returned by reads on a closed Store.
var ErrClosed = errors.New("mvcc: store closed")

// Store is etcd's MVCC key-value store over pebble. See the package doc.
type Store struct {
	db  *pebble.DB
	cfg Config

	// cur is the published read view: the state as of the last Committed
	// batch. Readers pin it with acquire/release.
	cur atomic.Pointer[view]
	// rev and compactRev mirror the published view (they outlive Close).
	rev, compactRev atomic.Int64
	// pubMu orders publishing a view with the apply goroutine starting a
	// batch (see republish): it guards ap.b writes and cur swaps.
	pubMu sync.Mutex

	// ap is the apply side's state, owned by the apply goroutine.
	ap applyState

	comp      *compactor
	closeOnce sync.Once
	// closing is closed by Close; bg counts the key filter rebuilds.
	closing chan struct{}
	bg      sync.WaitGroup
}

// view is one consistent read state: a pebble snapshot and the revisions it
// holds. It is reference counted: the Store holds one reference while it is
// published, each reader one while it reads; the last release closes the
// snapshot.
type view struct {
	snap       *pebble.Snapshot
	rev        int64
	compactRev int64
	refs       atomic.Int64
}

func (v *view) release() {
	if v.refs.Add(-1) == 0 {
		_ = v.snap.Close()
	}
}

// acquire pins the current view.
func (s *Store) acquire() (*view, error) {
	for {
		v := s.cur.Load()
		if v == nil {
			return nil, ErrClosed
		}
		n := v.refs.Load()
		if n <= 0 {
			// Being closed: a newer view has been published (or the store
			// closed); reload.
			continue
		}
		if v.refs.CompareAndSwap(n, n+1) {
			return v, nil
		}
	}
}

// publishLocked makes a snapshot of the db the current view. Requires pubMu.
func (s *Store) publishLocked(rev, compactRev int64) {
	v := &view{snap: s.db.NewSnapshot(), rev: rev, compactRev: compactRev}
	v.refs.Store(1)
	s.rev.Store(rev)
	s.compactRev.Store(compactRev)
	if old := s.cur.Swap(v); old != nil {
		old.release()
	}
}

// New opens the MVCC state kept in db: it reads the current and compacted
// revision from it and resumes an unfinished physical compaction in the
// background. Close the Store before closing db.
func New(db *pebble.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("mvcc: nil db")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.indirectBytes <= 0 {
		cfg.indirectBytes = storage.SeparateValueBytes
	}
	if cfg.compactStep <= 0 {
		cfg.compactStep = defaultCompactStep
	}
	if cfg.filterRebuildMin <= 0 {
		cfg.filterRebuildMin = defaultFilterRebuildMin
	}
	s := &Store{db: db, cfg: cfg, closing: make(chan struct{})}
	rev, compactRev, finished, format, err := readState(db)
	if err != nil {
		return nil, err
	}
	if format == formatVersionDirect {
		// Recorded before any write of this binary, which may write indirect
		// live records that a version 2 binary would misread.
		if err := db.Set(metaFormatKey, putInt64(formatVersion), pebble.Sync); err != nil {
			return nil, err
		}
	}
	s.ap.init(rev, compactRev)
	s.pubMu.Lock()
	s.publishLocked(rev, compactRev)
	s.pubMu.Unlock()
	s.comp = newCompactor(s, finished)
	if finished < compactRev {
		s.comp.schedule(compactRev, nil)
	}
	// The key filter is built in the background, as rebuilds are, so that
	// opening does not wait for a scan of every key (~0.3 s per 1,000,000);
	// until it is in, it holds every key and puts look theirs up.
	s.ap.filter = &keyFilter{seed: maphash.MakeSeed(), all: true}
	s.maintainFilter()
	return s, nil
}

// readState reads the current revision (the highest entry of the revision
// keyspace: every write txn writes at least one and compaction never removes
// the entries of the compacted revision or later; 1 when empty, as etcd),
// the scheduled and the finished compaction revision (-1 when none, as etcd),
// and the recorded layout version (-1 for an empty store), refusing one other
// than formatVersion and formatVersionDirect.
func readState(r pebble.Reader) (rev, compactRev, finished, format int64, err error) {
	rev, format = 1, -1
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: revLow, UpperBound: revHigh})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if it.Last() {
		rev, _, err = decodeRevKey(it.Key())
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if compactRev, err = getMeta(r, metaCompactKey); err != nil {
		return 0, 0, 0, 0, err
	}
	if finished, err = getMeta(r, metaFinishedKey); err != nil {
		return 0, 0, 0, 0, err
	}
	if rev > 1 {
		// Written by the first write txn; absent in the unreleased format 1.
		if format, err = getMeta(r, metaFormatKey); err != nil {
			return 0, 0, 0, 0, err
		}
		if format != formatVersion && format != formatVersionDirect {
			return 0, 0, 0, 0, fmt.Errorf("%w %d (this version reads %d and %d)", errFormat, max(format, 1), formatVersionDirect, formatVersion)
		}
	}
	return rev, compactRev, finished, format, nil
}

// errFormat is returned by New for a database written in another layout.
var errFormat = errors.New("mvcc: unsupported layout version")

// getMeta reads an int64 meta value; -1 when absent.
func getMeta(r pebble.Reader, key []byte) (int64, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	return getInt64(v)
}

// Close stops the background compaction (an unfinished one resumes on the next
// New) and releases the Store's snapshot. Reads must have finished.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.bg.Wait()
		if s.ap.b != nil { // a batch neither committed nor aborted (a failed test)
			s.ap.reset()
		}
		s.comp.close()
		s.pubMu.Lock()
		defer s.pubMu.Unlock()
		if v := s.cur.Swap(nil); v != nil {
			v.release()
		}
	})
	return nil
}

// Rev returns the current (committed) revision: the revision of the last
// write txn of the last Committed batch; 1 on an empty store, as etcd.
func (s *Store) Rev() int64 { return s.rev.Load() }

// CompactRev returns the compacted revision of the last Committed batch: reads
// below it fail with ErrCompacted. -1 if the store was never compacted, as
// etcd's compactMainRev.
func (s *Store) CompactRev() int64 { return s.compactRev.Load() }

// txnEvents are the events of one write txn.
type txnEvents struct {
	rev    int64
	events []*mvccpb.Event
}

type compactWaiter struct {
	rev  int64
	done chan struct{}
}

// applyState is the pending state of the batch being applied.
type applyState struct {
	// b is the batch of the pending state; nil between batches. Written
	// under Store.pubMu (republish reads it).
	b *pebble.Batch
	// baseRev and baseCompact are the committed revisions.
	baseRev, baseCompact int64
	// rev and compactRev include the pending batch's writes.
	rev, compactRev int64
	events          []txnEvents
	waiters         []compactWaiter
	compacted       bool // a Compact was recorded in b

	// Reused buffers (apply is one goroutine).
	kbuf, vbuf, hbuf, rbuf, obuf, lbuf, fbuf []byte
	// live reads b for getLive; opened on first use, closed by reset.
	live *pebble.Iterator
	// filter holds every key with a live record (and some without);
	// rebuild is its rebuild in progress, if any.
	filter   *keyFilter
	rebuild  *filterRebuild
	filtered int // lookups the filter spared (tests)
}

// absent reports whether the key filter rules key out, so that it needs no
// lookup (and counts the lookup spared).
func (a *applyState) absent(key []byte) bool {
	if a.filter.mayContain(key) {
		return false
	}
	a.filtered++
	return true
}

// filterRebuild is a rebuild of the key filter in progress: a scan of a
// snapshot taken between two batches. The hashes of the keys added since
// (the old filter's pending) go into the new filter before it replaces the
// old one, so that no key with a live record is ever missing from it.
type filterRebuild struct {
	hashes []uint64
	done   chan *keyFilter // nil: the scan failed or was stopped
}

// maintainFilter runs on the apply goroutine between two batches: it swaps
// in a finished rebuild of the key filter, or starts one when due.
func (s *Store) maintainFilter() {
	a := &s.ap
	if r := a.rebuild; r != nil {
		select {
		case f := <-r.done:
			a.rebuild, a.filter.pending = nil, nil
			if f == nil { // try again later
				a.filter.rebuildAt = max(2*a.filter.added, s.cfg.filterRebuildMin)
				return
			}
			for _, h := range r.hashes {
				f.addHash(h)
			}
			a.filter = f
		default:
		}
		return
	}
	if a.filter.added < a.filter.rebuildAt {
		return
	}
	snap := s.db.NewSnapshot()
	r := &filterRebuild{done: make(chan *keyFilter, 1)}
	a.rebuild, a.filter.pending = r, &r.hashes
	seed, rebuildMin := a.filter.seed, s.cfg.filterRebuildMin
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f, err := loadKeyFilter(snap, seed, rebuildMin, s.closing)
		_ = snap.Close()
		if err != nil && !errors.Is(err, errFilterStopped) {
			s.cfg.Logger.Warn("mvcc: key filter rebuild failed", zap.Error(err))
		}
		if s.cfg.afterFilterScan != nil {
			s.cfg.afterFilterScan()
		}
		r.done <- f
	}()
}

// liveIterOptions: pebble's Get never consults the bloom filters of L6,
// the level that holds most keys, on the premise that the key sought
// usually exists; a put of an absent key then read an L6 index and data
// block (often from disk: 17% of server CPU under 100 clients' puts of new
// keys, before the key filter). A prefix seek with UseL6Filters asks the
// filters of every level: -3 to -6 µs of server CPU per such put. The key
// filter now skips most such lookups; deleted keys still get them.
var liveIterOptions = &pebble.IterOptions{UseL6Filters: true}

// getLive reads key's live record, at live key k, in the pending state: b,
// over the db as of the batch's first lookup (only the apply goroutine writes
// live records, so nothing else changes them meanwhile). A key the key filter
// rules out is not looked up. The value is valid until the next getLive or
// reset.
func (a *applyState) getLive(key, k []byte) (v []byte, found bool, err error) {
	if a.absent(key) {
		return nil, false, nil
	}
	if a.live == nil {
		if a.live, err = a.b.NewIter(liveIterOptions); err != nil {
			return nil, false, err
		}
	} else {
		// An iterator sees its batch's later writes only once refreshed.
		a.live.SetOptions(liveIterOptions)
	}
	if !a.live.SeekPrefixGE(k) || !bytes.Equal(a.live.Key(), k) {
		return nil, false, a.live.Error()
	}
	v, err = a.live.ValueAndErr()
	return v, err == nil, err
}

func (a *applyState) init(rev, compactRev int64) {
	a.baseRev, a.baseCompact = rev, compactRev
	a.rev, a.compactRev = rev, compactRev
}

// errBatchPending is returned when a request comes with a new batch before
// Committed or Aborted of the previous one.
var errBatchPending = errors.New("mvcc: a new batch before Committed/Aborted of the previous one")

// begin binds the apply state to b.
func (s *Store) begin(b *pebble.Batch) (*applyState, error) {
	a := &s.ap
	if a.b == b {
		return a, nil
	}
	if a.b != nil {
		return nil, errBatchPending
	}
	if b == nil || !b.Indexed() {
		return nil, fmt.Errorf("mvcc: apply needs an indexed batch (db.NewIndexedBatch)")
	}
	s.pubMu.Lock()
	a.b = b
	s.pubMu.Unlock()
	return a, nil
}

// Committed is called after b was committed to pebble: it publishes the new
// revision to readers, starts any compaction recorded in b, and calls
// OnCommit with the events of b's write txns. A batch the Store did not see
// is ignored.
func (s *Store) Committed(b *pebble.Batch) {
	a := &s.ap
	if b == nil || a.b != b {
		return
	}
	s.pubMu.Lock()
	if a.rev != a.baseRev || a.compactRev != a.baseCompact {
		s.publishLocked(a.rev, a.compactRev)
	}
	a.b = nil
	s.pubMu.Unlock()
	a.baseRev, a.baseCompact = a.rev, a.compactRev
	if a.compacted || len(a.waiters) > 0 {
		s.comp.schedule(a.compactRev, a.waiters)
	}
	s.maintainFilter()
	if s.cfg.OnCommit != nil {
		for _, te := range a.events {
			s.cfg.OnCommit(te.rev, te.events)
		}
	}
	a.reset()
}

// Aborted is called instead of Committed when committing b failed: the
// Store forgets b's pending state. Done channels of compactions recorded in
// b are closed (the compaction never happens; nobody should wait for it).
func (s *Store) Aborted(b *pebble.Batch) {
	a := &s.ap
	if b == nil || a.b != b {
		return
	}
	s.pubMu.Lock()
	a.b = nil
	s.pubMu.Unlock()
	for _, w := range a.waiters {
		close(w.done)
	}
	a.rev, a.compactRev = a.baseRev, a.baseCompact
	a.reset()
}

func (a *applyState) reset() {
	if a.live != nil {
		_ = a.live.Close() // its errors were returned by getLive
		a.live = nil
	}
	clear(a.events)
	a.events = a.events[:0]
	a.waiters = nil
	a.compacted = false
}

// republish replaces the current view with a fresh snapshot of the same
// revisions, so the snapshot no longer pins what the compactor deleted. It
// does so only when no batch is being applied: then the db's MVCC keys are
// exactly the published state.
func (s *Store) republish() {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	v := s.cur.Load()
	if s.ap.b != nil || v == nil {
		return
	}
	s.publishLocked(v.rev, v.compactRev)
}
