package watch

import (
	"bytes"
	"sort"
)

// index finds the watchers whose key range holds a key, as etcd's
// watcherGroup does: a map for single-key watchers (the common case, one
// lookup per event) and, for range watchers (prefixes, from-key, ranges), an
// interval index that is stabbed with the key.
//
// The interval index is a slice of range watchers sorted by start key seen as
// an implicit balanced binary tree (the middle of [lo, hi) is the root of
// that subtree) where every node also records the greatest end in its
// subtree, so a stab skips every subtree whose ends are all at or before the
// key and every right subtree that starts after it: O(log n + matches) per
// event. etcd uses a red-black interval tree; a sorted slice is simpler,
// allocation-free on the event path and cache friendly.
//
// Range watchers that come or go do not rebuild it at once: those added
// since the last build are checked one by one, those removed are skipped,
// and it is rebuilt before a lookup once there are more such changes than
// the square root of its size (at least minPending). A watcher that comes
// and goes between two events costs the next event O(√n), and O(√n log n)
// amortized, rather than a rebuild of all n on the apply goroutine each
// time; a burst of changes between two lookups (a catch-up round's fresh
// index, many watchers created at once) costs one rebuild.
//
// An index is not safe for concurrent use: the hub guards it with its mutex.
type index struct {
	keys   map[string][]*watcher
	ranges map[*watcher]struct{}
	n      int // watchers in the index

	sorted  []*watcher
	maxEnd  []*watcher            // maxEnd[mid]: the watcher with the greatest end in that subtree
	added   map[*watcher]struct{} // range watchers not in sorted yet
	removed map[*watcher]struct{} // range watchers gone but still in sorted
	builds  int                   // rebuilds so far (tests)
}

// minPending is the fewest pending changes that trigger a rebuild.
const minPending = 8

func newIndex() *index {
	return &index{
		keys:    make(map[string][]*watcher),
		ranges:  make(map[*watcher]struct{}),
		added:   make(map[*watcher]struct{}),
		removed: make(map[*watcher]struct{}),
	}
}

func (ix *index) len() int { return ix.n }

func (ix *index) add(w *watcher) {
	ix.n++
	if w.single() {
		ix.keys[string(w.key)] = append(ix.keys[string(w.key)], w)
		return
	}
	ix.ranges[w] = struct{}{}
	ix.added[w] = struct{}{}
}

// remove deletes w; false if it was not in the index.
func (ix *index) remove(w *watcher) bool {
	if w.single() {
		ws := ix.keys[string(w.key)]
		for i, x := range ws {
			if x == w {
				ws[i] = ws[len(ws)-1]
				ws[len(ws)-1] = nil
				ws = ws[:len(ws)-1]
				if len(ws) == 0 {
					delete(ix.keys, string(w.key))
				} else {
					ix.keys[string(w.key)] = ws
				}
				ix.n--
				return true
			}
		}
		return false
	}
	if _, ok := ix.ranges[w]; !ok {
		return false
	}
	delete(ix.ranges, w)
	ix.n--
	if _, ok := ix.added[w]; ok {
		delete(ix.added, w)
	} else {
		ix.removed[w] = struct{}{}
	}
	if len(ix.ranges) == 0 {
		ix.rebuild() // to nothing: keeps no removed watcher alive
	}
	return true
}

// maybeRebuild rebuilds the tree, before a lookup, once the pending changes
// outnumber the square root of its size (and minPending): a burst of
// changes between two lookups costs one rebuild.
func (ix *index) maybeRebuild() {
	pending := len(ix.added) + len(ix.removed)
	if pending > minPending && pending*pending > len(ix.sorted) {
		ix.rebuild()
	}
}

// visit calls fn for every watcher whose range holds key.
func (ix *index) visit(key []byte, fn func(w *watcher)) {
	for _, w := range ix.keys[string(key)] {
		fn(w)
	}
	if len(ix.ranges) == 0 {
		return
	}
	ix.stabAll(key, fn)
}

// stabAll calls fn for every range watcher whose range holds key.
func (ix *index) stabAll(key []byte, fn func(w *watcher)) {
	ix.maybeRebuild()
	if len(ix.removed) == 0 {
		ix.stab(0, len(ix.sorted), key, fn)
	} else {
		ix.stab(0, len(ix.sorted), key, func(w *watcher) {
			if _, gone := ix.removed[w]; !gone {
				fn(w)
			}
		})
	}
	for w := range ix.added {
		if w.holds(key) {
			fn(w)
		}
	}
}

// contains reports whether any watcher's range holds key.
func (ix *index) contains(key []byte) bool {
	if _, ok := ix.keys[string(key)]; ok {
		return true
	}
	found := false
	if len(ix.ranges) > 0 {
		ix.stabAll(key, func(*watcher) { found = true })
	}
	return found
}

func (ix *index) stab(lo, hi int, key []byte, fn func(w *watcher)) {
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if !ix.maxEnd[mid].endsAfter(key) {
			return // every range here ends at or before key
		}
		ix.stab(lo, mid, key, fn)
		w := ix.sorted[mid]
		if bytes.Compare(w.key, key) > 0 {
			return // this one and the right subtree start after key
		}
		if w.endsAfter(key) {
			fn(w)
		}
		lo = mid + 1
	}
}

func (ix *index) rebuild() {
	ix.sorted = ix.sorted[:0]
	for w := range ix.ranges {
		ix.sorted = append(ix.sorted, w)
	}
	sort.Slice(ix.sorted, func(i, j int) bool { return bytes.Compare(ix.sorted[i].key, ix.sorted[j].key) < 0 })
	if cap(ix.maxEnd) < len(ix.sorted) {
		ix.maxEnd = make([]*watcher, len(ix.sorted))
	}
	ix.maxEnd = ix.maxEnd[:len(ix.sorted)]
	ix.fill(0, len(ix.sorted))
	// No references past the ends: a removed watcher must not stay alive.
	clear(ix.sorted[len(ix.sorted):cap(ix.sorted)])
	clear(ix.maxEnd[len(ix.maxEnd):cap(ix.maxEnd)])
	clear(ix.added)
	clear(ix.removed)
	if len(ix.sorted) > 0 {
		ix.builds++
	}
}

// fill computes maxEnd for the subtree [lo, hi) and returns its watcher with
// the greatest end (nil when empty).
func (ix *index) fill(lo, hi int) *watcher {
	if lo >= hi {
		return nil
	}
	mid := int(uint(lo+hi) >> 1)
	m := ix.sorted[mid]
	for _, c := range [2]*watcher{ix.fill(lo, mid), ix.fill(mid+1, hi)} {
		if c != nil && c.endAfterEnd(m) {
			m = c
		}
	}
	ix.maxEnd[mid] = m
	return m
}
