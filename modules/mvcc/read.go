package mvcc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// reader is what reads go through: a pinned snapshot on the read side, the
// indexed apply batch on the apply side (so a request sees the writes of the
// earlier requests of its batch and its own earlier writes).
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// ReadView is the read side of the Store: what the kv and watch services
// read through. Every method is safe from any goroutine.
type ReadView interface {
	Rev() int64
	CompactRev() int64
	Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error)
}

var _ ReadView = (*Store)(nil)

// Range reads keys as etcd's Range does, from the state of the last Committed
// batch. resp.Header.Revision is the revision of that state; callers fill in
// the cluster, member and term.
func (s *Store) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	v, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer v.release()
	return execRange(ctx, v.snap, v.rev, v.compactRev, r)
}

// mkGteRange turns a request's range_end into the end of the scan: nil for a
// single key, empty (non-nil) for "to the end of the keyspace" ("\x00"), as
// etcd's mkGteRange.
func mkGteRange(rangeEnd []byte) []byte {
	if len(rangeEnd) == 0 {
		return nil
	}
	if len(rangeEnd) == 1 && rangeEnd[0] == 0 {
		return []byte{}
	}
	return rangeEnd
}

// checkRevision applies etcd's revision rules of a Range at curRev: a future
// revision is an error, 0 (or below) means curRev, below the compacted
// revision is an error.
func checkRevision(rev, curRev, compactRev int64) (int64, error) {
	if rev > curRev {
		return 0, rpcerr.ErrFutureRev
	}
	if rev <= 0 {
		rev = curRev
	}
	if rev < compactRev {
		return 0, rpcerr.ErrCompacted
	}
	return rev, nil
}

func validSort(r *pb.RangeRequest) bool {
	switch r.SortOrder {
	case pb.RangeRequest_NONE, pb.RangeRequest_ASCEND, pb.RangeRequest_DESCEND:
	default:
		return false
	}
	switch r.SortTarget {
	case pb.RangeRequest_KEY, pb.RangeRequest_VERSION, pb.RangeRequest_CREATE, pb.RangeRequest_MOD, pb.RangeRequest_VALUE:
	default:
		return false
	}
	return true
}

// execRange is etcd's executeRange over rd, whose current revision is curRev.
//
// etcd fetches limit+1 keys when it neither sorts nor filters, and otherwise
// every key of the range, then filters, sorts and truncates; count is the
// number of keys of the range at the revision before filters and limit. This
// streams instead where the order is the key order (ascending, or descending
// on the live keyspace): it collects the first limit+1 keys that pass the
// filters and only counts the rest without decoding them — the same result.
func execRange(ctx context.Context, rd reader, curRev, compactRev int64, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if !validSort(r) {
		return nil, rpcerr.ErrInvalidSortOption
	}
	rev, err := checkRevision(r.Revision, curRev, compactRev)
	if err != nil {
		return nil, err
	}
	resp := &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: curRev}}
	sp := span{key: r.Key, end: mkGteRange(r.RangeEnd), rev: rev, live: rev == curRev}

	if r.CountOnly {
		n, err := sp.count(ctx, rd)
		if err != nil {
			return nil, err
		}
		resp.Count = n
		return resp, nil
	}

	order := r.SortOrder
	if r.SortTarget != pb.RangeRequest_KEY && order == pb.RangeRequest_NONE {
		order = pb.RangeRequest_ASCEND
	} else if r.SortTarget == pb.RangeRequest_KEY && order == pb.RangeRequest_ASCEND {
		order = pb.RangeRequest_NONE
	}
	reverse := r.SortTarget == pb.RangeRequest_KEY && order == pb.RangeRequest_DESCEND && sp.live
	// etcd fetches limit+1 keys in key order unless the request asked for an
	// order or a revision filter, and then sorts only those: a non-KEY
	// target with order NONE sorts the first limit+1 keys, not the range.
	filtered := r.MinModRevision != 0 || r.MaxModRevision != 0 || r.MinCreateRevision != 0 || r.MaxCreateRevision != 0
	stream := order == pb.RangeRequest_NONE || reverse || (r.SortOrder == pb.RangeRequest_NONE && !filtered)
	// collectMax is how many passing keys to collect (0: all).
	collectMax := 0
	if stream && r.Limit > 0 {
		collectMax = int(r.Limit) + 1
	}
	withValues := !r.KeysOnly || (order != pb.RangeRequest_NONE && r.SortTarget == pb.RangeRequest_VALUE)
	sp.noValues = !withValues

	c, err := sp.open(ctx, rd, reverse)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var (
		alloc kvAlloc
		kvs   []*mvccpb.KeyValue
		count int64
	)
	if collectMax > 0 {
		kvs = make([]*mvccpb.KeyValue, 0, min(collectMax, 1024))
	}
	for c.next() {
		count++
		if collectMax > 0 && len(kvs) == collectMax {
			continue // only count
		}
		rec, err := c.record()
		if err != nil {
			return nil, err
		}
		if !passes(r, &rec) {
			continue
		}
		k := c.key()
		if withValues {
			alloc.reserve(len(k) + len(rec.value))
		}
		kvs = append(kvs, rec.keyValue(&alloc, k, withValues))
	}
	if err := c.err(); err != nil {
		return nil, err
	}

	if order != pb.RangeRequest_NONE && !reverse {
		sortKVs(kvs, r.SortTarget, order)
	}
	if r.Limit > 0 && len(kvs) > int(r.Limit) {
		kvs = kvs[:r.Limit]
		resp.More = true
	}
	if r.KeysOnly && withValues {
		for _, kv := range kvs {
			kv.Value = nil
		}
	}
	resp.Kvs = kvs
	resp.Count = count
	return resp, nil
}

// passes applies the min/max mod/create revision filters (0 = unset).
func passes(r *pb.RangeRequest, rec *record) bool {
	if r.MaxModRevision != 0 && rec.mod > r.MaxModRevision {
		return false
	}
	if r.MinModRevision != 0 && rec.mod < r.MinModRevision {
		return false
	}
	if r.MaxCreateRevision != 0 && rec.create > r.MaxCreateRevision {
		return false
	}
	if r.MinCreateRevision != 0 && rec.create < r.MinCreateRevision {
		return false
	}
	return true
}

// sortKVs sorts as etcd does: sort.Sort (not stable) with etcd's Less
// functions over the key-ordered input, so ties come out in the same order.
func sortKVs(kvs []*mvccpb.KeyValue, target pb.RangeRequest_SortTarget, order pb.RangeRequest_SortOrder) {
	var s sort.Interface
	switch target {
	case pb.RangeRequest_KEY:
		s = byKey(kvs)
	case pb.RangeRequest_VERSION:
		s = byVersion(kvs)
	case pb.RangeRequest_CREATE:
		s = byCreate(kvs)
	case pb.RangeRequest_MOD:
		s = byMod(kvs)
	case pb.RangeRequest_VALUE:
		s = byValue(kvs)
	default:
		return
	}
	switch order {
	case pb.RangeRequest_ASCEND:
		sort.Sort(s)
	case pb.RangeRequest_DESCEND:
		sort.Sort(sort.Reverse(s))
	}
}

type (
	byKey     []*mvccpb.KeyValue
	byVersion []*mvccpb.KeyValue
	byCreate  []*mvccpb.KeyValue
	byMod     []*mvccpb.KeyValue
	byValue   []*mvccpb.KeyValue
)

func (s byKey) Len() int               { return len(s) }
func (s byKey) Swap(i, j int)          { s[i], s[j] = s[j], s[i] }
func (s byKey) Less(i, j int) bool     { return bytes.Compare(s[i].Key, s[j].Key) < 0 }
func (s byVersion) Len() int           { return len(s) }
func (s byVersion) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s byVersion) Less(i, j int) bool { return (s[i].Version - s[j].Version) < 0 }
func (s byCreate) Len() int            { return len(s) }
func (s byCreate) Swap(i, j int)       { s[i], s[j] = s[j], s[i] }
func (s byCreate) Less(i, j int) bool  { return (s[i].CreateRevision - s[j].CreateRevision) < 0 }
func (s byMod) Len() int               { return len(s) }
func (s byMod) Swap(i, j int)          { s[i], s[j] = s[j], s[i] }
func (s byMod) Less(i, j int) bool     { return (s[i].ModRevision - s[j].ModRevision) < 0 }
func (s byValue) Len() int             { return len(s) }
func (s byValue) Swap(i, j int)        { s[i], s[j] = s[j], s[i] }
func (s byValue) Less(i, j int) bool   { return bytes.Compare(s[i].Value, s[j].Value) < 0 }

// kvAlloc hands out KeyValues and byte copies from chunks that grow from
// small to kvChunk/arenaChunk, so a range of n keys costs O(log n)
// allocations instead of 3n, and a single key a few small ones.
type kvAlloc struct {
	kvs    []mvccpb.KeyValue
	nkvs   int // KeyValues allocated so far
	arena  []byte
	narena int // arena bytes allocated so far
}

const (
	kvChunk    = 64
	arenaChunk = 16 << 10
)

func (a *kvAlloc) kv() *mvccpb.KeyValue {
	if len(a.kvs) == 0 {
		n := min(max(a.nkvs, 1), kvChunk)
		a.kvs = make([]mvccpb.KeyValue, n)
		a.nkvs += n
	}
	kv := &a.kvs[0]
	a.kvs = a.kvs[1:]
	return kv
}

// reserve makes room for n more bytes in the current chunk.
func (a *kvAlloc) reserve(n int) {
	if cap(a.arena)-len(a.arena) >= n || n > arenaChunk/4 {
		return
	}
	size := max(n, min(a.narena, arenaChunk))
	a.arena = make([]byte, 0, size)
	a.narena += size
}

func (a *kvAlloc) bytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if len(b) > arenaChunk/4 {
		return bytes.Clone(b)
	}
	a.reserve(len(b))
	n := len(a.arena)
	a.arena = append(a.arena, b...)
	return a.arena[n:len(a.arena):len(a.arena)]
}

// span is a key range [key, end) at a revision (end as mkGteRange returns).
// live: rev is the current revision of the reader, so the live keyspace
// answers; otherwise the history keyspace does.
type span struct {
	key, end []byte
	rev      int64
	live     bool
	// noValues: the caller reads no record's value, so an indirect live
	// record's is not loaded (records then have nil values).
	noValues bool
}

func (sp *span) empty() bool {
	return len(sp.end) > 0 && bytes.Compare(sp.key, sp.end) >= 0
}

// cursor walks the keys that exist in a span at its revision, in key order.
type cursor interface {
	next() bool
	key() []byte             // valid until next
	record() (record, error) // value valid until next
	err() error
	close()
}

// open returns a cursor over the span (reverse only for live spans).
func (sp *span) open(ctx context.Context, rd reader, reverse bool) (cursor, error) {
	switch {
	case sp.empty():
		return emptyCursor{}, nil
	case sp.end == nil && sp.live:
		return openLiveKey(rd, sp.key, sp.valueReader(rd))
	case sp.live:
		lo := appendLiveKey(nil, sp.key)
		hi := liveHigh
		if len(sp.end) > 0 {
			hi = appendLiveKey(nil, sp.end)
		}
		it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return nil, err
		}
		return &liveCursor{ctx: ctx, it: it, reverse: reverse, rd: sp.valueReader(rd)}, nil
	default:
		if sp.end == nil {
			// The current version answers if it is not newer than rev —
			// the common case of a read a little behind the current
			// revision — with a Get and no history seek.
			c, err := openLiveKeyAt(rd, sp.key, sp.rev, sp.valueReader(rd))
			if c != nil || err != nil {
				return c, err
			}
		}
		var lo, hi []byte
		if sp.end == nil {
			lo = appendHistSeek(nil, sp.key, sp.rev)
			hi = appendHistEnd(nil, sp.key)
		} else {
			lo = appendHistBound(nil, sp.key)
			hi = histHigh
			if len(sp.end) > 0 {
				hi = appendHistBound(nil, sp.end)
			}
		}
		it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return nil, err
		}
		return &histCursor{ctx: ctx, it: it, rev: sp.rev, rd: rd, single: sp.end == nil, end: sp.end}, nil
	}
}

// count counts the keys of the span without decoding values where it can.
func (sp *span) count(ctx context.Context, rd reader) (int64, error) {
	c, err := sp.open(ctx, rd, false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	var n int64
	for c.next() {
		n++
	}
	return n, c.err()
}

type emptyCursor struct{}

func (emptyCursor) next() bool              { return false }
func (emptyCursor) key() []byte             { return nil }
func (emptyCursor) record() (record, error) { return record{}, nil }
func (emptyCursor) err() error              { return nil }
func (emptyCursor) close()                  {}

// liveKeyCursor is a point lookup in the live keyspace (a Get).
type liveKeyCursor struct {
	k      []byte
	val    []byte
	closer io.Closer
	done   bool
	rd     reader    // for an indirect record's value (nil: not loaded)
	vals   io.Closer // holds that value
}

// openLiveKey is a cursor over key's live record; vrd loads an indirect
// record's value (nil: not loaded).
func openLiveKey(rd reader, key []byte, vrd reader) (cursor, error) {
	v, closer, err := rd.Get(appendLiveKey(nil, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return emptyCursor{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &liveKeyCursor{k: key, val: v, closer: closer, rd: vrd}, nil
}

// valueReader is the reader live cursors load indirect values with: nil when
// the caller reads no value.
func (sp *span) valueReader(rd reader) reader {
	if sp.noValues {
		return nil
	}
	return rd
}

// openLiveKeyAt returns a cursor over key's live record if its version is
// the one at rev (mod <= rev: nothing changed the key since), else nil.
func openLiveKeyAt(rd reader, key []byte, rev int64, vrd reader) (cursor, error) {
	v, closer, err := rd.Get(appendLiveKey(nil, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	mod, err := liveMod(v)
	if err != nil || mod > rev {
		_ = closer.Close()
		return nil, err
	}
	return &liveKeyCursor{k: key, val: v, closer: closer, rd: vrd}, nil
}

func (c *liveKeyCursor) next() bool {
	if c.done {
		return false
	}
	c.done = true
	return true
}

func (c *liveKeyCursor) key() []byte { return c.k }
func (c *liveKeyCursor) err() error  { return nil }

func (c *liveKeyCursor) close() {
	_ = c.closer.Close()
	closeValue(&c.vals)
}

func (c *liveKeyCursor) record() (record, error) { return liveRecord(c.val, c.k, c.rd, &c.vals) }

// liveRecord decodes the live value v of key and, unless rd is nil, loads an
// indirect record's value, held by *vals until the next call (which closes
// it first).
func liveRecord(v, key []byte, rd reader, vals *io.Closer) (record, error) {
	r, _, err := decodeLiveRecord(v)
	if err != nil || rd == nil {
		return r, err
	}
	closeValue(vals)
	*vals, err = loadValue(rd, key, &r)
	return r, err
}

// closeValue closes what holds an indirect record's value, if anything.
func closeValue(c *io.Closer) {
	if *c != nil {
		_ = (*c).Close()
		*c = nil
	}
}

// ctxCheckEvery is how many keys a scan walks between context checks.
const ctxCheckEvery = 1024

type liveCursor struct {
	ctx     context.Context
	it      *pebble.Iterator
	reverse bool
	started bool
	n       int
	e       error
	rd      reader    // for indirect records' values (nil: not loaded)
	vals    io.Closer // holds the current one
}

func (c *liveCursor) next() bool {
	if c.e != nil {
		return false
	}
	c.n++
	if c.n%ctxCheckEvery == 0 {
		if err := c.ctx.Err(); err != nil {
			c.e = fmt.Errorf("mvcc: range: %w", err)
			return false
		}
	}
	if !c.started {
		c.started = true
		if c.reverse {
			return c.it.Last()
		}
		return c.it.First()
	}
	if c.reverse {
		return c.it.Prev()
	}
	return c.it.Next()
}

func (c *liveCursor) key() []byte { return c.it.Key()[1:] }

func (c *liveCursor) record() (record, error) {
	v, err := c.it.ValueAndErr()
	if err != nil {
		return record{}, err
	}
	return liveRecord(v, c.key(), c.rd, &c.vals)
}

func (c *liveCursor) err() error {
	if c.e != nil {
		return c.e
	}
	return c.it.Error()
}

func (c *liveCursor) close() {
	_ = c.it.Close()
	closeValue(&c.vals)
}

// histCursor walks the history keyspace at revision rev: for each user key it
// seeks to (key, rev) — the first entry at or below rev, as entries of a key
// are ordered newest first — and skips the key if that entry is a tombstone
// or there is none. If that entry is a stub, the version at rev is the key's
// current one and record reads it from the live keyspace of the same reader:
// with a Get for a single key, else with a second iterator that moves
// forward with the history one.
type histCursor struct {
	ctx     context.Context
	it      *pebble.Iterator
	rev     int64
	started bool
	n       int
	e       error

	prefix []byte // history prefix of the current key (owned)
	val    []byte // its value at rev (iterator memory)
	valRev int64
	valSub uint32
	kbuf   []byte
	seek   []byte

	// Live lookups of stubs.
	rd         reader
	single     bool   // the span is one key: Get, not an iterator
	end        []byte // the span's end (as mkGteRange), bounds liveIt
	liveIt     *pebble.Iterator
	liveCloser io.Closer // of the last Get
	liveKey    []byte
}

// skipNexts is how many Next calls histCursor tries before it seeks past the
// older versions of a key.
const skipNexts = 4

func (c *histCursor) next() bool {
	if c.e != nil {
		return false
	}
	var valid bool
	if !c.started {
		c.started = true
		valid = c.it.First()
	} else {
		valid = c.skip()
	}
	for valid {
		c.n++
		if c.n%ctxCheckEvery == 0 {
			if err := c.ctx.Err(); err != nil {
				c.e = fmt.Errorf("mvcc: range: %w", err)
				return false
			}
		}
		prefix, rev, sub, err := splitHistKey(c.it.Key())
		if err != nil {
			c.e = err
			return false
		}
		c.prefix = append(c.prefix[:0], prefix...)
		if rev > c.rev {
			// Newer than rev: step to the key's entry at or below rev,
			// with a few Nexts (keys rarely have many newer versions),
			// else a seek.
			if !c.older() {
				return false
			}
			prefix, rev, sub, err = splitHistKey(c.it.Key())
			if err != nil {
				c.e = err
				return false
			}
			if !bytes.Equal(prefix, c.prefix) {
				valid = true
				continue // the first entry of the next key
			}
		}
		v, err := c.it.ValueAndErr()
		if err != nil {
			c.e = err
			return false
		}
		if len(v) == 0 {
			valid = c.skip() // deleted at rev
			continue
		}
		c.val, c.valRev, c.valSub = v, rev, sub
		return true
	}
	return false
}

// older moves from an entry of c.prefix's key newer than c.rev to its first
// entry at or below c.rev or, if there is none, to the next key's first.
func (c *histCursor) older() bool {
	for range skipNexts {
		if !c.it.Next() {
			return false
		}
		k := c.it.Key()
		if !bytes.HasPrefix(k, c.prefix) || len(k) != len(c.prefix)+histSuffixLen {
			return true
		}
		if int64(^binary.BigEndian.Uint64(k[len(c.prefix):])) <= c.rev {
			return true
		}
	}
	c.seek = appendUint64Desc(append(c.seek[:0], c.prefix...), c.rev)
	return c.it.SeekGE(c.seek)
}

// skip moves past the remaining (older) entries of c.prefix's key.
func (c *histCursor) skip() bool {
	for range skipNexts {
		if !c.it.Next() {
			return false
		}
		if !bytes.HasPrefix(c.it.Key(), c.prefix) {
			return true
		}
	}
	c.seek = append(c.seek[:0], c.prefix...)
	c.seek[len(c.seek)-1] = escAfter
	return c.it.SeekGE(c.seek)
}

func (c *histCursor) key() []byte {
	c.kbuf = appendUnescaped(c.kbuf[:0], c.prefix)
	return c.kbuf
}

func (c *histCursor) record() (record, error) {
	if !isStub(c.val) {
		return decodeRecord(c.val, c.valRev)
	}
	v, err := c.live()
	if err != nil {
		return record{}, err
	}
	return stubRecord(v, c.liveKey[1:], c.valRev, c.valSub)
}

// live returns the live value of the current key, which must exist: the
// key's version at rev is a stub, so it is the current one.
func (c *histCursor) live() ([]byte, error) {
	c.liveKey = appendLiveKey(c.liveKey[:0], c.key())
	if c.single {
		if c.liveCloser != nil {
			_ = c.liveCloser.Close()
			c.liveCloser = nil
		}
		v, closer, err := c.rd.Get(c.liveKey)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		c.liveCloser = closer
		return v, nil
	}
	if c.liveIt == nil {
		o := &pebble.IterOptions{LowerBound: bytes.Clone(c.liveKey), UpperBound: liveHigh}
		if len(c.end) > 0 {
			o.UpperBound = appendLiveKey(nil, c.end)
		}
		it, err := c.rd.NewIter(o)
		if err != nil {
			return nil, err
		}
		c.liveIt = it
	}
	// Keys come in increasing order: a forward seek, which pebble turns
	// into Nexts when the next key is near.
	if !c.liveIt.SeekGE(c.liveKey) || !bytes.Equal(c.liveIt.Key(), c.liveKey) {
		return nil, c.liveIt.Error()
	}
	return c.liveIt.ValueAndErr()
}

// stubRecord decodes the live value v of key, whose history entry at (rev,
// sub) is a stub: v must be that very version.
func stubRecord(v, key []byte, rev int64, sub uint32) (record, error) {
	if v == nil {
		return record{}, fmt.Errorf("%w: stub %q@%d.%d without a live record", errCorrupt, key, rev, sub)
	}
	r, _, err := decodeLiveRecord(v)
	if err != nil {
		return record{}, err
	}
	if r.indirect {
		// An indirect record's history entry is its full record, never a stub.
		return record{}, fmt.Errorf("%w: stub %q@%d.%d but an indirect live record", errCorrupt, key, rev, sub)
	}
	if r.mod != rev || r.sub != sub {
		return record{}, fmt.Errorf("%w: stub %q@%d.%d but live record at %d.%d", errCorrupt, key, rev, sub, r.mod, r.sub)
	}
	return r, nil
}

func (c *histCursor) err() error {
	if c.e != nil {
		return c.e
	}
	return c.it.Error()
}

func (c *histCursor) close() {
	_ = c.it.Close()
	if c.liveIt != nil {
		_ = c.liveIt.Close()
	}
	if c.liveCloser != nil {
		_ = c.liveCloser.Close()
	}
}
