package compare

import (
	"context"
	"fmt"
	"math/rand/v2"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/tools/bench/internal/load"
)

// The memory test's data set: n keys of 16–32 bytes with random 256-byte
// values. Key number idx is "m/<group>/<idx>" followed by filler letters
// up to its length, with groups of memGroup consecutive indexes, so that
// "m/0042/" is the prefix of exactly memGroup keys. Keys are written in a
// scrambled order (idx = i × stride mod n) and every key's length, filler and
// value derive from idx alone: both servers receive the same data.
const (
	memPrefix   = "m/"
	memGroup    = 10_000
	memMaxKeys  = 10_000_000 // idx has 7 digits
	memMinKey   = 16
	memMaxKey   = 32
	memKeyLimit = 1_000 // the prefix range's limit
)

type memKeys struct {
	n      int
	stride int
}

func newMemKeys(n int) memKeys {
	// A stride coprime with n makes i → i×stride mod n a permutation.
	stride := 1_000_003 // prime
	for gcd(stride, n) != 1 {
		stride += 2
	}
	return memKeys{n: n, stride: stride}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// index is the key written by request i.
func (m memKeys) index(i int) int { return int((int64(i) * int64(m.stride)) % int64(m.n)) }

// mix is a 64-bit hash of idx (splitmix64's finaliser).
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// key is key number idx.
func (m memKeys) key(idx int) string {
	h := mix(uint64(idx))
	size := memMinKey + int(h%uint64(memMaxKey-memMinKey+1))
	b := fmt.Appendf(make([]byte, 0, memMaxKey), "%s%04d/%07d", memPrefix, idx/memGroup, idx)
	for h >>= 8; len(b) < size; h = mix(h) {
		b = append(b, 'a'+byte(h%26))
	}
	return string(b)
}

// value is key idx's value.
func (m memKeys) value(idx int) string {
	r := rand.New(rand.NewPCG(uint64(idx), 0xfeed))
	return string(load.RandomBytes(r, make([]byte, 0, valSize), valSize))
}

// groupPrefix is the prefix of group g.
func groupPrefix(g int) string { return fmt.Sprintf("%s%04d/", memPrefix, g) }

// prefixGroup is the group the prefix range reads (the middle one) and how
// many keys it holds.
func (m memKeys) prefixGroup() (g, keys int) {
	groups := (m.n + memGroup - 1) / memGroup
	g = groups / 2
	return g, min(memGroup, m.n-g*memGroup)
}

// fill is the workload that loads the data set: put number i writes key
// index(i).
type fill struct{ m memKeys }

func (f *fill) Name() string                                    { return "load" }
func (f *fill) Classes() []string                               { return nil }
func (f *fill) Setup(context.Context, []*clientv3.Client) error { return nil }

func (f *fill) Do(ctx context.Context, c *clientv3.Client, _ *load.Worker, i int) (int, error) {
	idx := f.m.index(i)
	_, err := c.Put(ctx, f.m.key(idx), f.m.value(idx))
	return 0, err
}
