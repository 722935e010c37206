package watch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIndexMatchesNaive checks the index against a scan of every watcher
// with watcher.holds, over random single keys, ranges and from-key ranges,
// with watchers added and removed between stabs (removed ones added back at
// times, as a watcher that falls behind and catches up is), and that those
// changes do not rebuild the range tree each time.
func TestIndexMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte {
		b := make([]byte, 1+rng.IntN(3))
		for i := range b {
			b[i] = 'a' + byte(rng.IntN(4))
		}
		return b
	}
	ix := newIndex()
	var all, gone []*watcher
	rangeChanges := 0
	for round := range 2000 {
		switch {
		case len(all) > 0 && rng.IntN(3) == 0:
			i := rng.IntN(len(all))
			if !ix.remove(all[i]) {
				t.Fatal("remove failed")
			}
			if !all[i].single() {
				rangeChanges++
			}
			gone = append(gone, all[i])
			all = slices.Delete(all, i, i+1)
		case len(gone) > 0 && rng.IntN(3) == 0:
			i := rng.IntN(len(gone))
			w := gone[i]
			gone = slices.Delete(gone, i, i+1)
			ix.add(w)
			if !w.single() {
				rangeChanges++
			}
			all = append(all, w)
		default:
			w := &watcher{id: int64(round), key: key()}
			switch rng.IntN(3) {
			case 1:
				w.end = []byte{}
			case 2:
				w.end = append(append([]byte{}, w.key...), key()...)
				if rng.IntN(2) == 0 {
					w.end = key()
				}
				if string(w.end) <= string(w.key) {
					w.end = nil
				}
			}
			ix.add(w)
			if !w.single() {
				rangeChanges++
			}
			all = append(all, w)
		}
		if ix.len() != len(all) {
			t.Fatalf("len %d, want %d", ix.len(), len(all))
		}
		for range 5 {
			k := key()
			var got, want []int64
			ix.visit(k, func(w *watcher) { got = append(got, w.id) })
			for _, w := range all {
				if w.holds(k) {
					want = append(want, w.id)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d key %q: got %v, want %v", round, k, got, want)
			}
			if ix.contains(k) != (len(want) > 0) {
				t.Fatalf("contains %q", k)
			}
		}
	}
	// Range watchers coming and going between stabs do not rebuild the
	// tree each time: at most once per minPending changes.
	if ix.builds*minPending > rangeChanges {
		t.Errorf("%d rebuilds for %d range watcher changes", ix.builds, rangeChanges)
	}
}

// TestIndexBurst: range watchers added in a burst between two lookups (a
// catch-up round's fresh index) cost one rebuild, and once they are all
// removed the index keeps none of them alive.
func TestIndexBurst(t *testing.T) {
	ix := newIndex()
	var ws []*watcher
	for i := range 1000 {
		w := &watcher{id: int64(i), key: []byte{'a', byte(i)}, end: []byte{'b'}}
		ws = append(ws, w)
		ix.add(w)
	}
	n := 0
	ix.visit([]byte("a\xffz"), func(*watcher) { n++ })
	if n != 1000 || ix.builds != 1 {
		t.Fatalf("%d watchers hold the key (want 1000), %d rebuilds (want 1)", n, ix.builds)
	}
	for _, w := range ws {
		ix.remove(w)
	}
	if ix.contains([]byte("a\xffz")) || ix.len() != 0 {
		t.Fatal("watchers left after removing them all")
	}
	for _, w := range ix.sorted[:cap(ix.sorted)] {
		if w != nil {
			t.Fatalf("watcher %d still referenced by the index", w.id)
		}
	}
	for _, w := range ix.maxEnd[:cap(ix.maxEnd)] {
		if w != nil {
			t.Fatalf("watcher %d still referenced by the index", w.id)
		}
	}
}
