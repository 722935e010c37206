package mvcc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairnkv/cairn/modules/storage"
)

// Keyspace prefixes (the first byte of every key mvcc owns). See the package
// documentation for what each holds.
const (
	prefixMeta    = storage.PrefixMVCCLow     // 0x10
	prefixLive    = storage.PrefixMVCCLow + 1 // 0x11
	prefixHistory = storage.PrefixMVCCLow + 2 // 0x12
	prefixRev     = storage.PrefixMVCCLow + 3 // 0x13
	prefixLease   = storage.PrefixMVCCLow + 4 // 0x14
)

var (
	// metaCompactKey holds the scheduled compaction revision (BE int64),
	// written in the apply batch of the Compact request.
	metaCompactKey = []byte{prefixMeta, 'c'}
	// metaFinishedKey holds the revision of the last completed physical
	// compaction, written in the compactor's last batch of a pass.
	metaFinishedKey = []byte{prefixMeta, 'f'}
	// metaFormatKey holds the layout version (BE int64), written in the
	// batch of the first write txn.
	metaFormatKey = []byte{prefixMeta, 'v'}

	liveLow  = []byte{prefixLive}
	liveHigh = []byte{prefixLive + 1}
	histLow  = []byte{prefixHistory}
	histHigh = []byte{prefixHistory + 1}
	revLow   = []byte{prefixRev}
	revHigh  = []byte{prefixRev + 1}
)

// formatVersion is the version of the layout described in the package doc.
// 1 (never recorded) kept every value in the history keyspace too; 2 keeps
// the current version's value in the live keyspace only; 3 adds indirect
// live records (large values). A version 2 store has none, so New reads it
// and records 3 before any write; a binary that reads 2 only refuses 3.
const (
	formatVersion       = 3
	formatVersionDirect = 2
)

// Escaping of user keys inside history keys: 0x00 becomes 0x00 0xFF and the
// key ends with 0x00 0x01, which sorts below any escaped continuation, so the
// encoding preserves the order of user keys and no encoded key is a prefix of
// another key's encoding.
const (
	escByte  = 0x00
	escZero  = 0xff
	escTerm  = 0x01
	escAfter = 0x02 // escTerm+1: escaped key + 0x00 0x02 is just past all its entries
)

// errCorrupt marks an undecodable record.
var errCorrupt = errors.New("mvcc: corrupt record")

func appendLiveKey(dst, key []byte) []byte {
	dst = append(dst, prefixLive)
	return append(dst, key...)
}

func appendEscaped(dst, key []byte) []byte {
	for {
		i := bytes.IndexByte(key, 0)
		if i < 0 {
			return append(dst, key...)
		}
		dst = append(dst, key[:i+1]...)
		dst = append(dst, escZero)
		key = key[i+1:]
	}
}

// appendHistPrefix appends 0x12 | esc(key) | 0x00 0x01: the common prefix of
// every history entry of key.
func appendHistPrefix(dst, key []byte) []byte {
	dst = append(dst, prefixHistory)
	dst = appendEscaped(dst, key)
	return append(dst, escByte, escTerm)
}

// appendHistKey appends the history key of (key, rev, sub).
func appendHistKey(dst, key []byte, rev int64, sub uint32) []byte {
	dst = appendUint64Desc(appendHistPrefix(dst, key), rev)
	return binary.BigEndian.AppendUint32(dst, ^sub)
}

// appendHistSeek appends the history prefix of key and rev: it sorts just
// before the entries of key at rev, and so after all its newer entries: the
// first entry at or after it is the latest version of key at or below rev.
func appendHistSeek(dst, key []byte, rev int64) []byte {
	return appendUint64Desc(appendHistPrefix(dst, key), rev)
}

// histSuffixLen is the length of the (rev, sub) suffix of a history key.
const histSuffixLen = 8 + 4

// appendUint64Desc appends rev so that larger revisions sort first.
func appendUint64Desc(dst []byte, rev int64) []byte {
	return binary.BigEndian.AppendUint64(dst, ^uint64(rev))
}

// appendHistEnd appends 0x12 | esc(key) | 0x00 0x02, the first key past every
// history entry of key.
func appendHistEnd(dst, key []byte) []byte {
	dst = append(dst, prefixHistory)
	dst = appendEscaped(dst, key)
	return append(dst, escByte, escAfter)
}

// appendHistBound appends 0x12 | esc(key): every history entry of a user key
// k >= key sorts at or after it, every entry of k < key before it.
func appendHistBound(dst, key []byte) []byte {
	dst = append(dst, prefixHistory)
	return appendEscaped(dst, key)
}

// splitHistKey splits a history key into its prefix (up to and including the
// terminator, so a prefix identifies one user key), revision and
// sub-revision.
func splitHistKey(k []byte) (prefix []byte, rev int64, sub uint32, err error) {
	n := len(k) - histSuffixLen
	if n < 3 || k[0] != prefixHistory || k[n-2] != escByte || k[n-1] != escTerm {
		return nil, 0, 0, fmt.Errorf("%w: history key %q", errCorrupt, k)
	}
	return k[:n], int64(^binary.BigEndian.Uint64(k[n:])), ^binary.BigEndian.Uint32(k[n+8:]), nil
}

// appendUnescaped appends the user key of a history prefix (as returned by
// splitHistKey).
func appendUnescaped(dst, prefix []byte) []byte {
	p := prefix[1 : len(prefix)-2]
	for {
		i := bytes.IndexByte(p, 0)
		if i < 0 {
			return append(dst, p...)
		}
		dst = append(dst, p[:i+1]...)
		p = p[i+2:] // skip the 0xff
	}
}

func appendRevKey(dst []byte, rev int64, sub uint32) []byte {
	dst = append(dst, prefixRev)
	dst = binary.BigEndian.AppendUint64(dst, uint64(rev))
	return binary.BigEndian.AppendUint32(dst, sub)
}

func decodeRevKey(k []byte) (rev int64, sub uint32, err error) {
	if len(k) != 13 || k[0] != prefixRev {
		return 0, 0, fmt.Errorf("%w: revision key %x", errCorrupt, k)
	}
	return int64(binary.BigEndian.Uint64(k[1:])), binary.BigEndian.Uint32(k[9:]), nil
}

// Kinds of change in the revision keyspace (first byte of its value).
const (
	kindPut    byte = 0
	kindDelete byte = 1
)

func appendLeaseKey(dst []byte, lease int64, key []byte) []byte {
	dst = append(dst, prefixLease)
	dst = binary.BigEndian.AppendUint64(dst, uint64(lease))
	return append(dst, key...)
}

func leasePrefix(lease int64) []byte {
	return appendLeaseKey(make([]byte, 0, 9), lease, nil)
}

// record is the decoded metadata of one version of a key. Its value aliases
// the buffer it was decoded from. sub is known only for a live record (a
// history record's sub-revision is in its key).
type record struct {
	mod, create, version, lease int64
	sub                         uint32
	value                       []byte
	// indirect: a live record whose value is in its version's history
	// entry (a large value), not loaded by decodeLiveRecord.
	indirect bool
}

// histStub is the history value of the current version of a live key: its
// record (and value) is in the live keyspace only. A full record starts with
// uvarint create >= 1, whose first byte is never 0x00, and a tombstone is
// empty, so the three never look alike.
var histStub = []byte{0x00}

// isStub reports whether a history value is a stub.
func isStub(v []byte) bool { return len(v) == 1 && v[0] == 0x00 }

// appendRecord appends a full history value: uvarint create, uvarint
// version, uvarint lease, then the value bytes. create >= 1, so it is never
// empty (a tombstone) nor a stub.
func appendRecord(dst []byte, create, version, lease int64, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(create))
	dst = binary.AppendUvarint(dst, uint64(version))
	dst = binary.AppendUvarint(dst, uint64(lease))
	return append(dst, value...)
}

// appendLiveRecord appends a live value: uvarint mod, uvarint sub, then the
// full history record of the version, so that the history entry of a version
// that stops being current is a suffix of its live value.
func appendLiveRecord(dst []byte, mod int64, sub uint32, create, version, lease int64, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(mod))
	dst = binary.AppendUvarint(dst, uint64(sub))
	return appendRecord(dst, create, version, lease, value)
}

// liveIndirect starts an indirect live record: a large value's (see
// Config.indirectBytes) metadata only, the value in the version's full
// history entry, written with it. A direct live record starts with uvarint
// mod >= 1, whose first byte is never 0x00.
const liveIndirect = 0x00

// appendIndirectLiveRecord appends an indirect live value: 0x00, uvarint mod,
// uvarint sub, uvarint create, uvarint version, uvarint lease.
func appendIndirectLiveRecord(dst []byte, mod int64, sub uint32, create, version, lease int64) []byte {
	dst = append(dst, liveIndirect)
	return appendLiveRecord(dst, mod, sub, create, version, lease, nil)
}

func uvarint(b []byte) (int64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errCorrupt
	}
	return int64(v), b[n:], nil
}

// decodeRecord decodes a full history value (not a tombstone, not a stub) of
// revision mod.
func decodeRecord(b []byte, mod int64) (record, error) {
	r := record{mod: mod}
	var err error
	if r.create, b, err = uvarint(b); err != nil {
		return r, err
	}
	if r.create < 1 {
		return r, errCorrupt
	}
	if r.version, b, err = uvarint(b); err != nil {
		return r, err
	}
	if r.lease, b, err = uvarint(b); err != nil {
		return r, err
	}
	r.value = b
	return r, nil
}

// decodeLiveRecord decodes a live value. hist is its suffix that is the
// version's full history record; nil for an indirect record, whose value is
// not loaded (see loadValue).
func decodeLiveRecord(b []byte) (r record, hist []byte, err error) {
	indirect := len(b) > 0 && b[0] == liveIndirect
	if indirect {
		b = b[1:]
	}
	mod, rest, err := uvarint(b)
	if err != nil {
		return record{}, nil, err
	}
	sub, rest, err := uvarint(rest)
	if err != nil || sub > 1<<32-1 {
		return record{}, nil, errCorrupt
	}
	r, err = decodeRecord(rest, mod)
	r.sub = uint32(sub)
	if indirect {
		if len(r.value) != 0 {
			return record{}, nil, errCorrupt
		}
		r.value, r.indirect = nil, true
		return r, nil, err
	}
	return r, rest, err
}

// liveMod is the mod revision of a live value.
func liveMod(b []byte) (int64, error) {
	if len(b) > 0 && b[0] == liveIndirect {
		b = b[1:]
	}
	mod, _, err := uvarint(b)
	return mod, err
}

// loadValue reads the value of r, an indirect live record of key, from its
// history entry in rd; the value is valid until the returned closer closes.
// A direct record is left as it is (nil closer).
func loadValue(rd reader, key []byte, r *record) (io.Closer, error) {
	if !r.indirect {
		return nil, nil
	}
	hv, closer, err := rd.Get(appendHistKey(nil, key, r.mod, r.sub))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w: indirect live record %q@%d.%d without its history entry", errCorrupt, key, r.mod, r.sub)
	}
	if err != nil {
		return nil, err
	}
	h, err := decodeRecord(hv, r.mod)
	if err != nil {
		_ = closer.Close()
		return nil, err
	}
	r.value = h.value
	return closer, nil
}

func putInt64(v int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(v))
}

func getInt64(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: meta value %x", errCorrupt, b)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}
