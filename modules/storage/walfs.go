package storage

import (
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// walFS is pebble's default filesystem, except that write-ahead log files
// are preallocated the way etcd preallocates its WAL segments: fallocate
// with mode 0, which extends the file's size, instead of pebble's
// FALLOC_FL_KEEP_SIZE. With KEEP_SIZE every append grows the file, so every
// fdatasync of a log append must also journal the new size; with the size
// already set it only writes data. Measured on this project's machines
// (ext4, 512-byte append + fdatasync, p50): 95 µs against 145 µs — the
// one-client put waits for one such sync.
//
// Pebble's WAL reader already stops at a zeroed tail (it meets one in every
// recycled or preallocated log), so recovery reads such a file as it reads
// a recycled one. Only files named *.log (WALs) are affected: an sstable's
// size must be exactly its contents (its footer is read at the end).
type walFS struct{ vfs.FS }

func (fs walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || !isWAL(name) {
		return f, err
	}
	return walFile{f}, nil
}

func (fs walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil || !isWAL(newname) {
		return f, err
	}
	return walFile{f}, nil
}

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

type walFile struct{ vfs.File }

// Preallocate reserves [offset, offset+length) and extends the file over it.
func (f walFile) Preallocate(offset, length int64) error {
	fd := f.Fd()
	if fd == vfs.InvalidFd {
		return f.File.Preallocate(offset, length)
	}
	err := unix.Fallocate(int(fd), 0, offset, length)
	if err == unix.EOPNOTSUPP {
		return f.File.Preallocate(offset, length)
	}
	return err
}
