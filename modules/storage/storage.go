// Package storage owns the member's one pebble database: opening and closing
// it with Cairn's options, and the key prefixes that divide it between the
// modules that share it.
//
// One store, not two. The raft log, the HardState, the applied index and the
// MVCC data live in the same pebble DB under separate one-byte prefixes. Its
// single WAL orders every write: raftlog appends entries with a synced batch
// and applies them with unsynced batches, and an unsynced apply batch is made
// durable by the next synced log append behind it. So each raft Ready costs
// one fdatasync and there is no second WAL (CockroachDB measured a separate
// raft engine to raise write amplification; see shared/PERF-NOTES.md).
//
// Values of SeparateValueBytes and more live in pebble's blob files (value
// separation), so compactions move references to them, not the values.
//
// Key prefixes (the first byte of every key):
//
//	0x01 raft log       0x01 | BE uint64 index          -> raftpb.Entry
//	0x02 raft state     0x02 | name                     -> HardState, applied index, ...
//	0x10..0x1f mvcc     owned by package mvcc
//	0x20 leases         0x20 | BE uint64 lease ID       -> TTL, remaining TTL (package lease)
package storage

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/zap"
)

// Key prefixes. Each module owns the keys under its prefix and nothing else.
const (
	PrefixRaftLog   byte = 0x01
	PrefixRaftState byte = 0x02
	// PrefixMVCCLow..PrefixMVCCHigh are reserved for package mvcc.
	PrefixMVCCLow  byte = 0x10
	PrefixMVCCHigh byte = 0x1f
	// PrefixLease holds one record per granted lease, owned by package lease.
	PrefixLease byte = 0x20
)

// SeparateValueBytes is the smallest value pebble stores in a blob file
// rather than in the sstables: well above the small values most keys hold
// (every make bench workload writes 256 bytes), which stay where range and
// count reads find them without a blob lookup.
const SeparateValueBytes = 4 << 10

// Config sets the pebble options Cairn tunes. Zero values take the defaults.
type Config struct {
	// Dir is the directory of the database (etcd's member/ directory analogue).
	Dir string
	// CacheBytes is pebble's block cache. Default 96 MiB: pebble's 8 MB
	// default made every Get of the previous version miss
	// (shared/PERF-NOTES.md); 128 and 256 MiB measured alike for puts and
	// single-key reads, and the cache counts in resident memory: after
	// loading 1,000,000 keys (make bench), 128 MiB gave 267 MB resident, 96
	// MiB 222 MB, 64 MiB 171 MB but a slower p99 for a 10,000-key prefix
	// range than etcd's.
	CacheBytes int64
	// MemTableBytes is the size of one memtable. Default 32 MiB: 64 MiB
	// measured no faster, and pebble preallocates each WAL file to 110% of
	// it and keeps up to four, so it sets the data dir's floor (~140 MiB).
	MemTableBytes uint64
	// Logger receives pebble's log lines: its routine flush and compaction
	// notes at debug level, errors as errors. nil discards them.
	Logger *zap.Logger
	// FS is the filesystem the database lives in. nil: the operating
	// system's. Tests pass pebble's crashable in-memory one, to see what a
	// crash keeps.
	FS vfs.FS
}

// Open opens (or creates) the database at cfg.Dir.
func Open(cfg Config) (*pebble.DB, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("storage: empty data directory")
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = 96 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.MemTableBytes == 0 {
		cfg.MemTableBytes = 32 << 20
	}
	if cfg.FS == nil {
		cfg.FS = vfs.Default
	}
	cache := pebble.NewCache(cfg.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		FS:                    walFS{cfg.FS},
		Cache:                 cache,
		FormatMajorVersion:    pebble.FormatNewest,
		MemTableSize:          cfg.MemTableBytes,
		L0CompactionThreshold: 2,
		L0StopWritesThreshold: 1000,
		LBaseMaxBytes:         64 << 20,
		CompactionConcurrencyRange: func() (int, int) {
			return 1, 2
		},
		Logger: pebbleLogger{cfg.Logger.Sugar()},
	}
	// Values of SeparateValueBytes and more (large etcd values, and the raft
	// entries that carry them) go to blob files that compactions do not
	// rewrite, as CockroachDB does: with 256 KiB values, one client's puts
	// went from 284 to 432 per second and server CPU per put from 4.4 to 2.4
	// ms (docs/benchmarks.md). Smaller values stay in the sstables.
	opts.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled:               true,
			MinimumSize:           SeparateValueBytes,
			MaxBlobReferenceDepth: 10,
			RewriteMinimumAge:     time.Minute,
			TargetGarbageRatio:    0.2,
		}
	}
	for i := range opts.Levels {
		l := &opts.Levels[i]
		l.BlockSize = 32 << 10
		l.FilterPolicy = bloom.FilterPolicy(10)
		l.FilterType = pebble.TableFilter
	}
	// Output files are split by their size including the blob values they
	// reference, so pebble's 2 MiB L0 target (doubling per level) cut
	// compactions of large values into files of a few dozen keys, and created
	// and opened a file per four 64 KiB puts (10% of put-large's CPU in
	// openat). 16 MiB for L0, 32 MiB for Lbase, doubling per level below it up
	// to 128 MiB (TargetFileSizes counts from Lbase, not L1): put-large +12-28%
	// throughput and -13-25% server CPU; small values, the 1M-key load, its
	// resident memory and count_only unchanged (docs/benchmarks.md). Flushes
	// split at twice L0's target (pebble's FlushSplitBytes default), so a
	// 32 MiB memtable now flushes to one L0 file instead of several.
	for i := range opts.TargetFileSizes {
		opts.TargetFileSizes[i] = min(int64(16<<20)<<i, 128<<20)
	}
	opts.EnsureDefaults()
	db, err := pebble.Open(cfg.Dir, opts)
	if errors.Is(err, syscall.EAGAIN) {
		return nil, fmt.Errorf("storage: %s is in use by another process (its lock is held): %w", cfg.Dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", cfg.Dir, err)
	}
	return db, nil
}

// pebbleLogger adapts zap to pebble.Logger.
type pebbleLogger struct{ s *zap.SugaredLogger }

func (l pebbleLogger) Infof(format string, args ...any)  { l.s.Debugf(format, args...) }
func (l pebbleLogger) Errorf(format string, args ...any) { l.s.Errorf(format, args...) }
func (l pebbleLogger) Fatalf(format string, args ...any) { l.s.Fatalf(format, args...) }
