// Package fsyncprobe measures how many synced appends per second a disk
// takes: small sequential writes to a preallocated file, each followed by
// fdatasync, as a write-ahead log does. One client's puts cannot be faster
// than this, since each is acknowledged only after its log entry is synced.
package fsyncprobe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairnkv/cairn/tools/bench/internal/stats"
)

// Config bounds a probe.
type Config struct {
	Dir       string        // where the probe file goes: the data dir's filesystem
	Count     int           // synced writes
	TimeLimit time.Duration // stop earlier than Count when reached
	// BlockSize is the size of each write: 512 bytes by default, about the
	// log record of a put with a 256-byte value. (etcd's documentation checks
	// disks with fio --bs=2300 --fdatasync=1; larger writes sync slower.)
	BlockSize int
	// Prealloc preallocates the file (as etcd's WAL and pebble's recycled
	// WAL files are) so that appends do not change the file's size first.
	Prealloc bool
}

// Result is a probe's measurement.
type Result struct {
	Dir        string        `json:"dir"`
	Filesystem string        `json:"filesystem"`
	BlockSize  int           `json:"block_size"`
	Count      int           `json:"count"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	PerSecond  float64       `json:"per_second"`
	Latency    stats.Latency `json:"latency"` // of one write + fdatasync
}

// DefaultConfig is the probe's default in dir.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, Count: 5000, TimeLimit: 10 * time.Second, BlockSize: 512, Prealloc: true}
}

// Run probes the disk.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Count < 1 || cfg.BlockSize < 1 || cfg.TimeLimit <= 0 {
		return nil, errors.New("fsync probe: count, block size and time limit must be positive")
	}
	f, err := os.CreateTemp(cfg.Dir, ".fsync-probe-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	fd := int(f.Fd())
	const warm = 10
	if cfg.Prealloc {
		if err := unix.Fallocate(fd, 0, 0, int64(cfg.Count+warm)*int64(cfg.BlockSize)); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
			return nil, fmt.Errorf("fallocate: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		if err := syncDir(cfg.Dir); err != nil {
			return nil, err
		}
	}
	block := make([]byte, cfg.BlockSize)
	for i := range block {
		block[i] = byte(i*7 + 1)
	}
	write := func() error {
		if _, err := f.Write(block); err != nil {
			return err
		}
		return unix.Fdatasync(fd)
	}
	for range warm {
		if err := write(); err != nil {
			return nil, err
		}
	}
	lats := make([]time.Duration, 0, cfg.Count)
	deadline := time.Now().Add(cfg.TimeLimit)
	start := time.Now()
	for len(lats) < cfg.Count && time.Now().Before(deadline) && ctx.Err() == nil {
		st := time.Now()
		if err := write(); err != nil {
			return nil, err
		}
		lats = append(lats, time.Since(st))
	}
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Result{
		Dir:        cfg.Dir,
		Filesystem: FilesystemType(cfg.Dir),
		BlockSize:  cfg.BlockSize,
		Count:      len(lats),
		Elapsed:    elapsed,
		PerSecond:  stats.PerSecond(len(lats), elapsed),
		Latency:    stats.Summarize(lats),
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// FilesystemType names the filesystem dir is on (statfs magic), for reports:
// on tmpfs an fsync costs nothing and every write-path figure is void.
func FilesystemType(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch uint32(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794C7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	case 0x6969:
		return "nfs"
	case 0x65735546:
		return "fuse"
	}
	return fmt.Sprintf("0x%x", uint32(st.Type))
}

// String is a one-line summary.
func (r *Result) String() string {
	return fmt.Sprintf("%.0f synced writes/s (%d-byte write + fdatasync: p50 %s, p99 %s; %d writes on %s at %s)",
		r.PerSecond, r.BlockSize, fmtDur(r.Latency.P50), fmtDur(r.Latency.P99), r.Count, r.Filesystem, r.Dir)
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
