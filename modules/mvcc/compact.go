package mvcc

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/zap"
)

// compactor removes superseded history in the background, one pass per
// compaction revision C, in steps of cfg.compactStep revision-keyspace
// entries, each step one unsynced batch:
//
//   - Every key changed at or below C appears in the revision keyspace at or
//     below C (entries below the previous compaction are gone already). For
//     each such key it seeks the key's latest version at or below C and
//     deletes every older version — point deletes when there are a few, one
//     range deletion when there are more — and that version too if it is a
//     tombstone below C (etcd keeps a tombstone at exactly C, and so do we:
//     watchers may start at C).
//   - The same batch range-deletes the revision-keyspace entries it handled
//     that are below C; entries at C stay, for watchers that start at C.
//   - The last step writes C as the finished compaction.
//
// A stub (the current version of a live key), or the full entry of an
// indirect current version (a large value), is never removed: it is its
// key's latest entry, so it is either above C or the latest version at or
// below C.
//
// Steps are idempotent, so a pass interrupted by Close or a crash is simply
// run again by New (the scheduled revision is above the finished one).
// Compactor writes never overlap apply writes, although the compactor reads
// without a snapshot shared with apply: apply writes history entries above
// the current revision (which is at least C), and rewrites the stub of a
// key's current version as a full record when it replaces or deletes that
// version (an indirect current version's entry is full already: nothing is
// written for it). That entry is its key's latest, so it is never older than
// the version the compactor keeps and never a tombstone: the compactor
// neither deletes it nor writes anything in the key range it range-deletes
// (every entry older than the kept version).
type compactor struct {
	s    *Store
	wake chan struct{}
	stop chan struct{}
	exit chan struct{}

	mu struct {
		sync.Mutex
		target  int64 // highest scheduled compaction
		done    int64 // highest finished compaction
		waiters []compactWaiter
		err     error // last pass error (for tests and logs)
	}
}

func newCompactor(s *Store, finished int64) *compactor {
	c := &compactor{s: s, wake: make(chan struct{}, 1), stop: make(chan struct{}), exit: make(chan struct{})}
	c.mu.target, c.mu.done = finished, finished
	go c.run()
	return c
}

// schedule records a committed compaction to rev and hands over waiters.
func (c *compactor) schedule(rev int64, ws []compactWaiter) {
	c.mu.Lock()
	c.mu.target = max(c.mu.target, rev)
	for _, w := range ws {
		c.waitLocked(w.rev, w.done)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// wait closes ch once the compaction to rev finished.
func (c *compactor) wait(rev int64, ch chan struct{}) {
	c.mu.Lock()
	c.waitLocked(rev, ch)
	c.mu.Unlock()
}

func (c *compactor) waitLocked(rev int64, ch chan struct{}) {
	if rev <= c.mu.done {
		close(ch)
		return
	}
	c.mu.waiters = append(c.mu.waiters, compactWaiter{rev: rev, done: ch})
}

// close stops the compactor and releases every waiter: the compaction is
// recorded and its physical removal resumes when the store is opened again,
// so a caller of a physical Compact must not wait for it through a shutdown.
func (c *compactor) close() {
	close(c.stop)
	<-c.exit
	c.mu.Lock()
	for _, w := range c.mu.waiters {
		close(w.done)
	}
	c.mu.waiters = nil
	c.mu.Unlock()
}

var errStopped = errors.New("mvcc: compaction stopped")

func (c *compactor) run() {
	defer close(c.exit)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			target, done := c.mu.target, c.mu.done
			c.mu.Unlock()
			if target <= done {
				break
			}
			err := c.pass(target)
			if errors.Is(err, errStopped) {
				return
			}
			c.mu.Lock()
			c.mu.err = err
			if err != nil {
				c.mu.Unlock()
				c.s.cfg.Logger.Warn("mvcc: compaction failed", zap.Int64("revision", target), zap.Error(err))
				break // retried on the next schedule or New
			}
			c.mu.done = target
			kept := c.mu.waiters[:0]
			for _, w := range c.mu.waiters {
				if w.rev <= target {
					close(w.done)
				} else {
					kept = append(kept, w)
				}
			}
			clear(c.mu.waiters[len(kept):])
			c.mu.waiters = kept
			c.mu.Unlock()
			c.s.republish()
		}
	}
}

// pass removes the history superseded at target.
func (c *compactor) pass(target int64) error {
	cursor := bytes.Clone(revLow)
	below := appendRevKey(nil, target, 0) // entries before it are deleted
	upper := appendRevKey(nil, target+1, 0)
	for {
		select {
		case <-c.stop:
			return errStopped
		default:
		}
		next, finished, err := c.step(target, cursor, below, upper)
		if err != nil {
			return err
		}
		if hook := c.s.cfg.afterCompactStep; hook != nil && hook() {
			return errStopped
		}
		if finished {
			return nil
		}
		cursor = next
	}
}

// maxPointDeletes is how many older versions of a key a step deletes one by
// one before it uses a range deletion for them.
const maxPointDeletes = 8

func (c *compactor) step(target int64, cursor, below, upper []byte) (next []byte, finished bool, err error) {
	db := c.s.db
	rit, err := db.NewIter(&pebble.IterOptions{LowerBound: cursor, UpperBound: upper})
	if err != nil {
		return nil, false, err
	}
	defer rit.Close()
	hit, err := db.NewIter(&pebble.IterOptions{LowerBound: histLow, UpperBound: histHigh})
	if err != nil {
		return nil, false, err
	}
	defer hit.Close()
	b := db.NewBatch()
	defer b.Close()

	seen := make(map[string]struct{})
	var (
		buf  []byte
		last []byte
		n    int
	)
	valid := rit.First()
	for ; valid && n < c.s.cfg.compactStep; valid = rit.Next() {
		n++
		last = append(last[:0], rit.Key()...)
		v, err := rit.ValueAndErr()
		if err != nil {
			return nil, false, err
		}
		if len(v) < 1 {
			return nil, false, fmt.Errorf("%w: revision entry %x", errCorrupt, rit.Key())
		}
		key := v[1:]
		if _, ok := seen[string(key)]; ok {
			continue
		}
		seen[string(key)] = struct{}{}
		if buf, err = compactKey(hit, b, key, target, buf); err != nil {
			return nil, false, err
		}
	}
	if err := rit.Error(); err != nil {
		return nil, false, err
	}
	finished = !valid
	delEnd := below
	if !finished {
		next = append(last, 0) // the successor of the last entry handled
		if bytes.Compare(next, below) < 0 {
			delEnd = next
		}
	}
	if bytes.Compare(cursor, delEnd) < 0 {
		if err := b.DeleteRange(cursor, delEnd, nil); err != nil {
			return nil, false, err
		}
	}
	if finished {
		if err := b.Set(metaFinishedKey, putInt64(target), nil); err != nil {
			return nil, false, err
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return nil, false, err
	}
	return next, finished, nil
}

// compactKey writes into b the deletion of key's history superseded at
// target. buf is scratch space, returned for reuse.
func compactKey(hit *pebble.Iterator, b *pebble.Batch, key []byte, target int64, buf []byte) ([]byte, error) {
	buf = appendHistSeek(buf[:0], key, target)
	prefixLen := len(buf) - 8
	if !hit.SeekGE(buf) || !bytes.HasPrefix(hit.Key(), buf[:prefixLen]) {
		return buf, hit.Error() // no version at or below target (already removed)
	}
	_, rev, _, err := splitHistKey(hit.Key())
	if err != nil {
		return buf, err
	}
	v, err := hit.ValueAndErr()
	if err != nil {
		return buf, err
	}
	if len(v) > 0 || rev == target {
		// Keep this version (a full record, a stub, or a tombstone at
		// exactly target): start at the next older one.
		if !hit.Next() || !bytes.HasPrefix(hit.Key(), buf[:prefixLen]) {
			return buf, hit.Error()
		}
	}
	// hit is at the first entry to delete; collect up to maxPointDeletes+1.
	var points [maxPointDeletes + 1][]byte
	np := 0
	for {
		points[np] = append([]byte(nil), hit.Key()...)
		np++
		if np > maxPointDeletes || !hit.Next() || !bytes.HasPrefix(hit.Key(), buf[:prefixLen]) {
			break
		}
	}
	if err := hit.Error(); err != nil {
		return buf, err
	}
	if np > maxPointDeletes {
		end := appendHistEnd(nil, key)
		return buf, b.DeleteRange(points[0], end, nil)
	}
	for _, p := range points[:np] {
		if err := b.Delete(p, nil); err != nil {
			return buf, err
		}
	}
	return buf, nil
}
