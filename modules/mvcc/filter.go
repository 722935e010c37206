package mvcc

import (
	"hash/maphash"
	"math/bits"

	"github.com/cockroachdb/pebble/v2"
)

// keyFilter is a bloom filter of every key that had a live record since the
// Store opened: the live keys at open and each key put since. A put of a key
// the filter does not hold, the common case, skips the lookup of its
// previous version (memtable and sstable seeks: ~10% of server CPU under
// 100 clients' puts of new keys), and so does a txn's compare on such a key
// (Kubernetes' creates compare mod_revision with 0). Deleted keys stay in the filter, which
// costs only that lookup. It never reports a key it holds as absent: that
// would give a put of an existing key version 1.
//
// It grows in parts, as a scalable bloom filter: a key goes into the newest
// part, which holds twice the keys of the one before; a lookup asks every
// part. A part has filterBitsPerKey to twice as many bits per key (its size
// is a power of two), so it reports well under 1% of absent keys as present;
// 1,000,000 keys take ~4 MB. The filter is the apply goroutine's.
type keyFilter struct {
	seed  maphash.Seed
	parts []filterPart
}

type filterPart struct {
	bits     []uint64
	mask     uint64 // len(bits)*64 - 1
	n, limit int    // keys added, and the keys it takes before the next part
}

const (
	filterBitsPerKey = 10
	filterProbes     = 7 // ≈ bits per key × ln 2
	filterFirstKeys  = 1 << 16
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

// loadKeyFilter returns a filter holding every live key of r, with room for
// as many again in its first part.
func loadKeyFilter(r pebble.Reader) (*keyFilter, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: liveLow, UpperBound: liveHigh})
	if err != nil {
		return nil, err
	}
	f := &keyFilter{seed: maphash.MakeSeed()}
	var hashes []uint64 // 8 bytes a key while loading, to size the filter
	for valid := it.First(); valid; valid = it.Next() {
		hashes = append(hashes, f.hash(it.Key()[len(liveLow):]))
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	f.grow(max(2*len(hashes), filterFirstKeys))
	for _, h := range hashes {
		f.addHash(h)
	}
	return f, nil
}
