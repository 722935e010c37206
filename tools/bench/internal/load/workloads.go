package load

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// FormatKey is key number n of a key space: prefix followed by n in decimal,
// zero-padded so that the key is size bytes long. Keys of one size sort in
// numeric order.
func FormatKey(prefix string, n, size int) string {
	b := make([]byte, 0, size)
	b = append(b, prefix...)
	var d [20]byte
	digits := strconv.AppendInt(d[:0], int64(n), 10)
	for len(b)+len(digits) < size {
		b = append(b, '0')
	}
	return string(append(b, digits...))
}

// checkKeySpace fails when keys 0..space-1 do not fit in size bytes.
func checkKeySpace(prefix string, size, space int) error {
	if space < 1 {
		return fmt.Errorf("expected positive --key-space-size, got %d", space)
	}
	if need := len(prefix) + len(strconv.Itoa(space-1)); size < need {
		return fmt.Errorf("--key-size %d is too small for --key-space-size %d: keys need %d bytes", size, space, need)
	}
	return nil
}

// Put is etcd benchmark's put: one key per request, sequential or random
// in a key space.
type Put struct {
	KeySize    int
	ValSize    int
	KeySpace   int
	Sequential bool
	Prefix     string
}

func (p *Put) Validate() error                                 { return checkKeySpace(p.Prefix, p.KeySize, p.KeySpace) }
func (p *Put) Name() string                                    { return "put" }
func (p *Put) Classes() []string                               { return nil }
func (p *Put) Setup(context.Context, []*clientv3.Client) error { return p.Validate() }

func (p *Put) Do(ctx context.Context, c *clientv3.Client, w *Worker, i int) (int, error) {
	n := i % p.KeySpace
	if !p.Sequential {
		n = w.Rand.IntN(p.KeySpace)
	}
	_, err := c.Put(ctx, FormatKey(p.Prefix, n, p.KeySize), w.Value(p.ValSize))
	return 0, err
}

// Range is etcd benchmark's range: the same key, range or prefix every time.
type Range struct {
	Key          string
	End          string // range end (exclusive); empty: the single key Key, unless Prefix
	Prefix       bool   // every key with prefix Key
	Serializable bool
	Limit        int64
	CountOnly    bool
	KeysOnly     bool
	// SeedValSize, when positive, makes Setup put Key with a random value of
	// that size first, so that the reads find it.
	SeedValSize int
	// Check, when set, turns an answer it rejects into an error.
	Check func(*clientv3.GetResponse) error

	opts []clientv3.OpOption
}

func (r *Range) Name() string      { return "range" }
func (r *Range) Classes() []string { return nil }

func (r *Range) Validate() error {
	if r.Prefix && r.End != "" {
		return errors.New("range: a prefix and a range end exclude each other")
	}
	if r.Limit < 0 {
		return fmt.Errorf("range: negative limit %d", r.Limit)
	}
	return nil
}

func (r *Range) Setup(ctx context.Context, clis []*clientv3.Client) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.opts = nil
	switch {
	case r.Prefix:
		r.opts = append(r.opts, clientv3.WithPrefix())
	case r.End != "":
		r.opts = append(r.opts, clientv3.WithRange(r.End))
	}
	if r.Serializable {
		r.opts = append(r.opts, clientv3.WithSerializable())
	}
	if r.Limit > 0 {
		r.opts = append(r.opts, clientv3.WithLimit(r.Limit))
	}
	if r.CountOnly {
		r.opts = append(r.opts, clientv3.WithCountOnly())
	}
	if r.KeysOnly {
		r.opts = append(r.opts, clientv3.WithKeysOnly())
	}
	if r.SeedValSize > 0 {
		w := newWorker(-1)
		if _, err := clis[0].Put(ctx, r.Key, w.Value(r.SeedValSize)); err != nil {
			return fmt.Errorf("seed %q: %w", r.Key, err)
		}
	}
	return nil
}

func (r *Range) Do(ctx context.Context, c *clientv3.Client, _ *Worker, _ int) (int, error) {
	resp, err := c.Get(ctx, r.Key, r.opts...)
	if err == nil && r.Check != nil {
		err = r.Check(resp)
	}
	return 0, err
}

// TxnPut is etcd benchmark's txn-put: OpsPerTxn puts in one transaction,
// on consecutive keys of a key space.
type TxnPut struct {
	KeySize   int
	ValSize   int
	KeySpace  int
	OpsPerTxn int
	Prefix    string
}

func (t *TxnPut) Name() string      { return "txn-put" }
func (t *TxnPut) Classes() []string { return nil }

func (t *TxnPut) Validate() error {
	if err := checkKeySpace(t.Prefix, t.KeySize, t.KeySpace); err != nil {
		return err
	}
	if t.OpsPerTxn < 1 {
		return fmt.Errorf("expected positive --txn-ops, got %d", t.OpsPerTxn)
	}
	if t.OpsPerTxn > t.KeySpace {
		// A transaction may not put one key twice.
		return fmt.Errorf("expected --txn-ops no larger than --key-space-size, got txn-ops %d key-space-size %d", t.OpsPerTxn, t.KeySpace)
	}
	return nil
}

func (t *TxnPut) Setup(context.Context, []*clientv3.Client) error { return t.Validate() }

func (t *TxnPut) Do(ctx context.Context, c *clientv3.Client, w *Worker, i int) (int, error) {
	ops := make([]clientv3.Op, t.OpsPerTxn)
	for j := range ops {
		ops[j] = clientv3.OpPut(FormatKey(t.Prefix, (i*t.OpsPerTxn+j)%t.KeySpace, t.KeySize), w.Value(t.ValSize))
	}
	_, err := c.Txn(ctx).Then(ops...).Commit()
	return 0, err
}

// TxnMixed is etcd benchmark's txn-mixed: each request is a transaction
// that either reads or writes, reads with probability ReadRatio. Writes put
// a random key of the key space. Reads get a random key of the key space,
// or, with RangeAll, every key from the key space's prefix on up to Limit
// (etcd benchmark's read; without a prefix that is every key of the server).
type TxnMixed struct {
	KeySize      int
	ValSize      int
	KeySpace     int
	ReadRatio    float64
	Serializable bool
	RangeAll     bool
	Limit        int64
	// Seed makes Setup put every key of the key space first, so that reads
	// find what they look for.
	Seed   bool
	Prefix string

	readOpts []clientv3.OpOption
}

// Classes of TxnMixed's requests.
const (
	ClassRead  = 0
	ClassWrite = 1
)

func (t *TxnMixed) Name() string      { return "txn-mixed" }
func (t *TxnMixed) Classes() []string { return []string{"read", "write"} }

func (t *TxnMixed) Validate() error {
	if err := checkKeySpace(t.Prefix, t.KeySize, t.KeySpace); err != nil {
		return err
	}
	if t.ReadRatio < 0 || t.ReadRatio > 1 {
		return fmt.Errorf("read ratio must be in [0, 1], got %v", t.ReadRatio)
	}
	return nil
}

func (t *TxnMixed) Setup(ctx context.Context, clis []*clientv3.Client) error {
	if err := t.Validate(); err != nil {
		return err
	}
	t.readOpts = nil
	if t.Serializable {
		t.readOpts = append(t.readOpts, clientv3.WithSerializable())
	}
	if t.RangeAll {
		if t.Prefix != "" {
			t.readOpts = append(t.readOpts, clientv3.WithPrefix())
		} else {
			t.readOpts = append(t.readOpts, clientv3.WithFromKey())
		}
		if t.Limit > 0 {
			t.readOpts = append(t.readOpts, clientv3.WithLimit(t.Limit))
		}
	}
	if !t.Seed {
		return nil
	}
	return Fill(ctx, clis, t.KeySpace, 4*len(clis), func(w *Worker, i int) (string, string) {
		return FormatKey(t.Prefix, i, t.KeySize), w.Value(t.ValSize)
	})
}

func (t *TxnMixed) Do(ctx context.Context, c *clientv3.Client, w *Worker, i int) (int, error) {
	if w.Rand.Float64() < t.ReadRatio {
		key := t.Prefix
		if !t.RangeAll {
			key = FormatKey(t.Prefix, w.Rand.IntN(t.KeySpace), t.KeySize)
		} else if key == "" {
			key = "\x00"
		}
		_, err := c.Txn(ctx).Then(clientv3.OpGet(key, t.readOpts...)).Commit()
		return ClassRead, err
	}
	key := FormatKey(t.Prefix, w.Rand.IntN(t.KeySpace), t.KeySize)
	_, err := c.Txn(ctx).Then(clientv3.OpPut(key, w.Value(t.ValSize))).Commit()
	return ClassWrite, err
}
