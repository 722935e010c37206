package mvcc

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// scanPerEvent is how many revision entries Events walks per event it may
// return, at most.
const scanPerEvent = 64

// Events reads the events of revisions from..Rev() in revision order, from
// the state of the last Committed batch: what a watcher that is behind
// catches up with. It returns events as etcd's watchable store makes them (a
// DELETE carries only the key and its mod revision; no prev_kv), next, the
// revision to continue from, and rev, the revision of the state read.
//
// maxEvents > 0 and maxBytes > 0 bound the result: reading stops before the
// first revision that starts once maxEvents events, or maxBytes bytes of
// their keys and values, are collected, so a revision's events are never
// split between calls (one revision larger than maxBytes comes whole). It
// bounds the work too: reading also stops there once scanPerEvent ×
// maxEvents revision entries were walked, whatever the filter kept (a
// watcher of a rarely written key far behind catches up in several calls,
// not one scan of the whole history). filter, if set, selects the keys
// wanted; a filtered-out event costs no value read.
//
// Like etcd's watch, from below the compacted revision fails with
// rpcerr.ErrCompacted.
func (s *Store) Events(ctx context.Context, from int64, maxEvents, maxBytes int, filter func(key []byte) bool) (evs []*mvccpb.Event, next, rev int64, err error) {
	v, err := s.acquire()
	if err != nil {
		return nil, 0, 0, err
	}
	defer v.release()
	if from < v.compactRev {
		return nil, 0, v.rev, rpcerr.ErrCompacted
	}
	from = max(from, 1)
	if from > v.rev {
		return nil, from, v.rev, nil
	}
	it, err := v.snap.NewIter(&pebble.IterOptions{
		LowerBound: appendRevKey(nil, from, 0),
		UpperBound: appendRevKey(nil, v.rev+1, 0),
	})
	if err != nil {
		return nil, 0, 0, err
	}
	defer it.Close()
	var (
		alloc   kvAlloc
		lastRev int64
		buf     []byte
		n       int
		size    int // keys and values of evs
	)
	next = v.rev + 1
	for valid := it.First(); valid; valid = it.Next() {
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, 0, err
			}
		}
		r, sub, err := decodeRevKey(it.Key())
		if err != nil {
			return nil, 0, 0, err
		}
		if r != lastRev && (maxEvents > 0 && (len(evs) >= maxEvents || n > maxEvents*scanPerEvent) ||
			maxBytes > 0 && size >= maxBytes) {
			next = r
			break
		}
		lastRev = r
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, 0, 0, err
		}
		if len(val) < 1 {
			return nil, 0, 0, fmt.Errorf("%w: revision entry %x", errCorrupt, it.Key())
		}
		kind, key := val[0], val[1:]
		if filter != nil && !filter(key) {
			continue
		}
		if kind == kindDelete {
			kv := alloc.kv()
			kv.Key, kv.ModRevision = alloc.bytes(key), r
			evs = append(evs, &mvccpb.Event{Type: mvccpb.Event_DELETE, Kv: kv})
			size += len(key)
			continue
		}
		kv, err := putKV(v.snap, &alloc, &buf, key, r, sub)
		if err != nil {
			return nil, 0, 0, err
		}
		if kv == nil {
			// Compacted: a key written twice in the compacted revision (a txn
			// with duplicate keys, which the kv service rejects) keeps only
			// its last write, as etcd.
			continue
		}
		evs = append(evs, &mvccpb.Event{Type: mvccpb.Event_PUT, Kv: kv})
		size += len(kv.Key) + len(kv.Value)
	}
	if err := it.Error(); err != nil {
		return nil, 0, 0, err
	}
	return evs, next, v.rev, nil
}

// putKV reads the version of key written at (rev, sub) from its history
// entry or, if that is a stub, from its live record. nil if the entry was
// compacted away. buf is scratch space.
func putKV(rd reader, alloc *kvAlloc, buf *[]byte, key []byte, rev int64, sub uint32) (*mvccpb.KeyValue, error) {
	*buf = appendHistKey((*buf)[:0], key, rev, sub)
	hv, closer, err := rd.Get(*buf)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	if len(hv) == 0 {
		return nil, fmt.Errorf("%w: tombstone at put %q@%d.%d", errCorrupt, key, rev, sub)
	}
	if !isStub(hv) {
		rec, err := decodeRecord(hv, rev)
		if err != nil {
			return nil, err
		}
		return rec.keyValue(alloc, key, true), nil
	}
	// The key's current version: its record is the live one.
	*buf = appendLiveKey((*buf)[:0], key)
	lv, lcloser, err := rd.Get(*buf)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		lv = nil
	case err != nil:
		return nil, err
	default:
		defer lcloser.Close()
	}
	rec, err := stubRecord(lv, key, rev, sub)
	if err != nil {
		return nil, err
	}
	return rec.keyValue(alloc, key, true), nil
}
