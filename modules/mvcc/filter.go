package mvcc

import (
	"errors"
	"hash/maphash"
	"math/bits"

	"github.com/cockroachdb/pebble/v2"
)

// keyFilter is a bloom filter of every key that had a live record since the
// Store opened: the live keys at open (scanned in the background; until the
// scan is in, the filter holds every key) and each key put since. A put of a
// key the filter does not hold, the common case, skips the lookup of its
// previous version (memtable and sstable seeks: ~10% of server CPU under 100
// clients' puts of new keys), and so does a txn's compare on such a key
// (Kubernetes' creates compare mod_revision with 0). Deleted keys stay in the
// filter, which costs only that lookup. It never reports a key it holds as
// absent: that would give a put of an existing key version 1.
//
// It grows in parts, as a scalable bloom filter: a key goes into the newest
// part, which holds twice the keys of the one before; a lookup asks every
// part. A part has filterBitsPerKey to twice as many bits per key (its size
// is a power of two), so it reports well under 1% of absent keys as present;
// 1,000,000 keys take ~4 MB. Deleted keys would grow it without end in a
// store whose keys churn (Kubernetes' events), so the Store rebuilds it from
// the live keys once the keys added since it was built reach twice the keys
// it was built with, or Config.filterRebuildMin (see Store.maintainFilter).
// The filter is the apply goroutine's.
type keyFilter struct {
	seed  maphash.Seed
	parts []filterPart
	// added counts the keys added since the filter was built; a rebuild is
	// due at rebuildAt.
	added, rebuildAt int
	// pending, during a rebuild, receives the hash of every key added.
	pending *[]uint64
	// all: the filter holds every key (the Store's until its first build).
	all bool
}

type filterPart struct {
	bits     []uint64
	mask     uint64 // len(bits)*64 - 1
	n, limit int    // keys added, and the keys it takes before the next part
}

const (
	filterBitsPerKey = 10
	filterProbes     = 7 // ≈ filterBitsPerKey × ln 2
	filterFirstKeys  = 1 << 16
	// defaultFilterRebuildMin: a rebuild scans the live keyspace (~0.3 s of
	// one core per 1,000,000 keys), at most once per this many added keys.
	defaultFilterRebuildMin = 1 << 21
)

// grow adds a part for limit keys.
func (f *keyFilter) grow(limit int) {
	words := 1 << bits.Len(uint(limit*filterBitsPerKey-1)>>6) // a power of two
	f.parts = append(f.parts, filterPart{bits: make([]uint64, words), mask: uint64(words)*64 - 1, limit: limit})
}

func (f *keyFilter) hash(key []byte) uint64 { return maphash.Bytes(f.seed, key) }

func (f *keyFilter) add(key []byte) { f.addHash(f.hash(key)) }

// addHash adds the key of hash h. The probe sequence steps by h's halves
// swapped, made odd so that it visits distinct bits.
func (f *keyFilter) addHash(h uint64) {
	f.added++
	if f.pending != nil {
		*f.pending = append(*f.pending, h)
	}
	if f.all {
		return
	}
	p := &f.parts[len(f.parts)-1]
	if p.n == p.limit {
		f.grow(2 * p.limit)
		p = &f.parts[len(f.parts)-1]
	}
	p.n++
	step := bits.RotateLeft64(h, 32) | 1
	for range filterProbes {
		b := h & p.mask
		p.bits[b>>6] |= 1 << (b & 63)
		h += step
	}
}

// mayContain reports false only for a key never added.
func (f *keyFilter) mayContain(key []byte) bool {
	if f.all {
		return true
	}
	h0 := f.hash(key)
	step := bits.RotateLeft64(h0, 32) | 1
parts:
	for i := range f.parts {
		p := &f.parts[i]
		h := h0
		for range filterProbes {
			b := h & p.mask
			if p.bits[b>>6]&(1<<(b&63)) == 0 {
				continue parts
			}
			h += step
		}
		return true
	}
	return false
}

// errFilterStopped: a rebuild's scan was stopped by Close.
var errFilterStopped = errors.New("mvcc: key filter scan stopped")

// loadKeyFilter returns a filter with seed holding every live key of r, with
// room for as many again in its first part; a rebuild is due after twice as
// many adds, or rebuildMin. It returns errFilterStopped once stop is closed.
func loadKeyFilter(r pebble.Reader, seed maphash.Seed, rebuildMin int, stop <-chan struct{}) (*keyFilter, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: liveLow, UpperBound: liveHigh})
	if err != nil {
		return nil, err
	}
	f := &keyFilter{seed: seed}
	var hashes []uint64 // 8 bytes a key while loading, to size the filter
	for valid := it.First(); valid; valid = it.Next() {
		hashes = append(hashes, f.hash(it.Key()[len(liveLow):]))
		if len(hashes)%4096 == 0 {
			select {
			case <-stop:
				_ = it.Close()
				return nil, errFilterStopped
			default:
			}
		}
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	f.grow(max(2*len(hashes), filterFirstKeys))
	for _, h := range hashes {
		f.addHash(h)
	}
	f.added, f.rebuildAt = 0, max(2*len(hashes), rebuildMin)
	return f, nil
}
