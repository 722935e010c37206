package watch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIndexMatchesNaive checks the index against a scan of every watcher
// with watcher.holds, over random single keys, ranges and from-key ranges,
// with watchers added and removed between stabs, and that those changes do
// not rebuild the range tree each time.
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
	var all []*watcher
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
			all = slices.Delete(all, i, i+1)
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
