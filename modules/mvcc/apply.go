package mvcc

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Put applies a PutRequest as one etcd write txn: it validates the lease
// (rpcerr.ErrLeaseNotFound) and ignore_value/ignore_lease
// (rpcerr.ErrKeyNotFound) before writing anything, then writes the key at the
// next revision. b must be the indexed batch of the current raft Ready. The
// event handed to OnCommit aliases r.Key and r.Value: do not modify r after.
func (s *Store) Put(b *pebble.Batch, r *pb.PutRequest) (*pb.PutResponse, error) {
	a, err := s.begin(b)
	if err != nil {
		return nil, err
	}
	if r.Lease != 0 && !s.leaseExists(r.Lease) {
		return nil, rpcerr.ErrLeaseNotFound
	}
	t := s.newWtxn(a)
	resp, err := t.put(r)
	if err != nil {
		return nil, err
	}
	t.end()
	return resp, nil
}

// DeleteRange applies a DeleteRangeRequest as one etcd write txn. Deleting
// nothing does not advance the revision.
func (s *Store) DeleteRange(b *pebble.Batch, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	a, err := s.begin(b)
	if err != nil {
		return nil, err
	}
	t := s.newWtxn(a)
	resp, err := t.deleteRange(r)
	if err != nil {
		return nil, err
	}
	t.end()
	return resp, nil
}

// Compact records the new compacted revision in b. done is closed once the
// history it supersedes is physically removed (after Committed), or when b is
// Aborted. Errors: rpcerr.ErrCompacted if rev <= the compacted revision (done
// is then closed once the compactions scheduled so far finished, as etcd's
// barrier), rpcerr.ErrFutureRev if rev > the current revision.
func (s *Store) Compact(b *pebble.Batch, r *pb.CompactionRequest) (resp *pb.CompactionResponse, done <-chan struct{}, err error) {
	a, err := s.begin(b)
	if err != nil {
		return nil, nil, err
	}
	rev := r.Revision
	if rev <= a.compactRev {
		ch := make(chan struct{})
		if a.compactRev != a.baseCompact {
			a.waiters = append(a.waiters, compactWaiter{rev: a.compactRev, done: ch})
		} else {
			s.comp.wait(a.compactRev, ch)
		}
		return nil, ch, rpcerr.ErrCompacted
	}
	if rev > a.rev {
		return nil, nil, rpcerr.ErrFutureRev
	}
	if err := b.Set(metaCompactKey, putInt64(rev), nil); err != nil {
		return nil, nil, err
	}
	a.compactRev = rev
	a.compacted = true
	ch := make(chan struct{})
	a.waiters = append(a.waiters, compactWaiter{rev: rev, done: ch})
	return &pb.CompactionResponse{Header: &pb.ResponseHeader{Revision: a.rev}}, ch, nil
}

// RevokeLease deletes every key attached to lease id as one etcd write txn —
// one revision, keys in key order — as etcd's lessor.Revoke does. It returns
// the number of keys deleted and the revision after it (unchanged if the
// lease had no keys). The lease module removes the lease itself.
func (s *Store) RevokeLease(b *pebble.Batch, id int64) (deleted, rev int64, err error) {
	a, err := s.begin(b)
	if err != nil {
		return 0, 0, err
	}
	keys, err := leaseKeys(context.Background(), b, id)
	if err != nil {
		return 0, 0, err
	}
	t := s.newWtxn(a)
	for _, k := range keys {
		resp, err := t.deleteRange(&pb.DeleteRangeRequest{Key: k})
		if err != nil {
			return 0, 0, fmt.Errorf("mvcc: revoke lease %x (batch unusable): %w", id, err)
		}
		deleted += resp.Deleted
	}
	t.end()
	return deleted, t.rev(), nil
}

// LeaseKeys returns the keys attached to lease id in the current state, in
// key order (for LeaseTimeToLive with keys).
func (s *Store) LeaseKeys(ctx context.Context, id int64) ([][]byte, error) {
	v, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer v.release()
	return leaseKeys(ctx, v.snap, id)
}

func leaseKeys(ctx context.Context, rd reader, id int64) ([][]byte, error) {
	lo := leasePrefix(id)
	hi := leasePrefix(id + 1)
	if id == -1 { // the last lease id: up to the end of the lease keyspace
		hi = []byte{prefixLease + 1}
	}
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var (
		keys  [][]byte
		alloc kvAlloc
		n     int
	)
	for valid := it.First(); valid; valid = it.Next() {
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		keys = append(keys, alloc.bytes(it.Key()[len(lo):]))
	}
	return keys, it.Error()
}

func (s *Store) leaseExists(id int64) bool {
	return s.cfg.LeaseExists != nil && s.cfg.LeaseExists(id)
}

// wtxn is one etcd write txn on the apply batch: its writes share the
// revision beginRev+1 and take sub-revisions in order.
type wtxn struct {
	s        *Store
	a        *applyState
	b        *pebble.Batch
	beginRev int64
	changes  uint32
	events   []*mvccpb.Event
}

func (s *Store) newWtxn(a *applyState) *wtxn {
	return &wtxn{s: s, a: a, b: a.b, beginRev: a.rev}
}

// rev is the txn's current revision: its write revision once it wrote.
func (t *wtxn) rev() int64 {
	if t.changes > 0 {
		return t.beginRev + 1
	}
	return t.beginRev
}

// end advances the pending revision if the txn wrote.
func (t *wtxn) end() {
	if t.changes == 0 {
		return
	}
	t.a.rev = t.beginRev + 1
	if t.s.cfg.OnCommit != nil {
		t.a.events = append(t.a.events, txnEvents{rev: t.beginRev + 1, events: t.events})
	}
}

// put is etcd's put within a write txn. The only error before a write is
// ErrKeyNotFound for ignore_value/ignore_lease on a missing key.
//
// The new version's value goes to the live keyspace only; its history entry
// is a stub. The previous version (read here anyway, for create_revision and
// version) stops being current, so its stub is rewritten as a full record —
// the suffix of its live value — in the same batch. A large value (see
// Config.indirectBytes) goes to its full history entry at once instead, with
// an indirect live record, so that nothing is copied when it is replaced.
func (t *wtxn) put(r *pb.PutRequest) (*pb.PutResponse, error) {
	a := t.a
	key := r.Key
	a.kbuf = appendLiveKey(a.kbuf[:0], key)
	v, found, err := a.getLive(key, a.kbuf)
	if err != nil {
		return nil, err
	}
	var (
		old     record
		oldHist []byte // the old version's full history record (aliases v)
	)
	if found {
		if old, oldHist, err = decodeLiveRecord(v); err != nil {
			return nil, err
		}
		if old.indirect && (r.IgnoreValue || r.PrevKv) {
			vcloser, err := loadValue(t.b, key, &old)
			if err != nil {
				return nil, err
			}
			defer vcloser.Close()
		}
	}
	if (r.IgnoreValue || r.IgnoreLease) && !found {
		return nil, rpcerr.ErrKeyNotFound
	}
	rev := t.beginRev + 1
	value, lease := r.Value, r.Lease
	if r.IgnoreValue {
		value = old.value
	}
	if r.IgnoreLease {
		lease = old.lease
	}
	resp := newPutResponse(rev)
	var alloc kvAlloc
	if r.PrevKv && found {
		resp.PrevKv = old.keyValue(&alloc, key, true)
	}
	create, version := rev, int64(1)
	if found {
		create, version = old.create, old.version+1
	}
	if r.IgnoreValue && t.s.cfg.OnCommit != nil {
		value = alloc.bytes(value) // the event outlives the batch read
	}

	// Encode the new records before the first Set: value may alias v.
	indirect := len(value) >= t.s.cfg.indirectBytes
	hist := histStub
	if indirect {
		a.vbuf = appendIndirectLiveRecord(a.vbuf[:0], rev, t.changes, create, version, lease)
		a.fbuf = appendRecord(a.fbuf[:0], create, version, lease, value)
		hist = a.fbuf
	} else {
		a.vbuf = appendLiveRecord(a.vbuf[:0], rev, t.changes, create, version, lease, value)
	}
	// The new stub (or full record), then the old version's entry just
	// after it in key order: the memtable inserts the batch in this order,
	// and an insert right after the previous one reuses its skiplist splice.
	// An indirect old version's entry is its full record already.
	a.hbuf = appendHistKey(a.hbuf[:0], key, rev, t.changes)
	if err := t.b.Set(a.hbuf, hist, nil); err != nil {
		return nil, err
	}
	if found && !old.indirect {
		a.hbuf = appendHistKey(a.hbuf[:0], key, old.mod, old.sub)
		if err := t.b.Set(a.hbuf, oldHist, nil); err != nil {
			return nil, err
		}
	}
	if err := t.b.Set(a.kbuf, a.vbuf, nil); err != nil {
		return nil, err
	}
	if !found {
		a.filter.add(key)
	}
	if err := t.setRevEntry(kindPut, key); err != nil {
		return nil, err
	}
	if found && old.lease != lease && old.lease != 0 {
		a.lbuf = appendLeaseKey(a.lbuf[:0], old.lease, key)
		if err := t.b.Delete(a.lbuf, nil); err != nil {
			return nil, err
		}
	}
	if lease != 0 && (!found || old.lease != lease) {
		a.lbuf = appendLeaseKey(a.lbuf[:0], lease, key)
		if err := t.b.Set(a.lbuf, nil, nil); err != nil {
			return nil, err
		}
	}
	t.changes++
	if t.s.cfg.OnCommit != nil {
		ev := t.addEvent(mvccpb.Event_PUT)
		ev.Kv.Key, ev.Kv.Value, ev.Kv.Lease = key, value, lease
		ev.Kv.CreateRevision, ev.Kv.ModRevision, ev.Kv.Version = create, rev, version
	}
	return resp, nil
}

// setRevEntry writes the revision entry of the txn's next change; the first
// change of the store's first write txn also records the layout version.
func (t *wtxn) setRevEntry(kind byte, key []byte) error {
	a := t.a
	if t.beginRev == 1 && t.changes == 0 {
		if err := t.b.Set(metaFormatKey, putInt64(formatVersion), nil); err != nil {
			return err
		}
	}
	a.rbuf = appendRevKey(a.rbuf[:0], t.beginRev+1, t.changes)
	a.obuf = append(append(a.obuf[:0], kind), key...)
	return t.b.Set(a.rbuf, a.obuf, nil)
}

// deleteRange is etcd's deleteRange within a write txn.
func (t *wtxn) deleteRange(r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	resp := &pb.DeleteRangeResponse{Header: &pb.ResponseHeader{}}
	// Values are needed only for prev_kv and for the full records of direct
	// versions (their live records hold them; indirect ones are not loaded).
	sp := span{key: r.Key, end: mkGteRange(r.RangeEnd), live: true, noValues: !r.PrevKv}
	c, err := sp.open(context.Background(), t.b, false)
	if err != nil {
		return nil, err
	}
	// Collect first: the batch must not change under its iterator. The
	// records (values copied) become the full history records of the
	// deleted versions.
	var (
		alloc kvAlloc
		keys  [][]byte
		recs  []record
	)
	for c.next() {
		rec, err := c.record()
		if err != nil {
			c.close()
			return nil, err
		}
		k := alloc.bytes(c.key())
		rec.value = alloc.bytes(rec.value)
		keys = append(keys, k)
		recs = append(recs, rec)
		if r.PrevKv {
			kv := rec.keyValue(&alloc, nil, false)
			kv.Key, kv.Value = k, rec.value
			resp.PrevKvs = append(resp.PrevKvs, kv)
		}
	}
	err = c.err()
	c.close()
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if err := t.del(k, &recs[i]); err != nil {
			return nil, err
		}
	}
	resp.Deleted = int64(len(keys))
	resp.Header.Revision = t.rev()
	return resp, nil
}

// del writes the deletion of a live key (owned by the caller: events keep
// it) whose current version is old (its value owned by the caller too): a
// tombstone, and old's stub becomes its full record (an indirect old
// version's entry is its full record already).
func (t *wtxn) del(key []byte, old *record) error {
	a := t.a
	rev := t.beginRev + 1
	// The tombstone, then the old version's entry just after it in key order
	// (see put).
	a.hbuf = appendHistKey(a.hbuf[:0], key, rev, t.changes)
	if err := t.b.Set(a.hbuf, nil, nil); err != nil { // empty: tombstone
		return err
	}
	if !old.indirect {
		a.hbuf = appendHistKey(a.hbuf[:0], key, old.mod, old.sub)
		a.vbuf = appendRecord(a.vbuf[:0], old.create, old.version, old.lease, old.value)
		if err := t.b.Set(a.hbuf, a.vbuf, nil); err != nil {
			return err
		}
	}
	a.kbuf = appendLiveKey(a.kbuf[:0], key)
	if err := t.b.Delete(a.kbuf, nil); err != nil {
		return err
	}
	if err := t.setRevEntry(kindDelete, key); err != nil {
		return err
	}
	if old.lease != 0 {
		a.lbuf = appendLeaseKey(a.lbuf[:0], old.lease, key)
		if err := t.b.Delete(a.lbuf, nil); err != nil {
			return err
		}
	}
	t.changes++
	if t.s.cfg.OnCommit != nil {
		ev := t.addEvent(mvccpb.Event_DELETE)
		ev.Kv.Key, ev.Kv.ModRevision = key, rev
	}
	return nil
}

// keyValue copies the record into a KeyValue (key copied unless nil).
func (r *record) keyValue(alloc *kvAlloc, key []byte, withValue bool) *mvccpb.KeyValue {
	kv := alloc.kv()
	if key != nil {
		kv.Key = alloc.bytes(key)
	}
	kv.CreateRevision = r.create
	kv.ModRevision = r.mod
	kv.Version = r.version
	kv.Lease = r.lease
	if withValue {
		kv.Value = alloc.bytes(r.value)
	}
	return kv
}

// addEvent appends a new event to the txn's events. The Event, its KeyValue
// and, for the txn's first event, the one-element slice of its events are
// one allocation (a Put is a txn with one event).
func (t *wtxn) addEvent(typ mvccpb.Event_EventType) *mvccpb.Event {
	e := &struct {
		ev    mvccpb.Event
		kv    mvccpb.KeyValue
		first [1]*mvccpb.Event
	}{}
	e.ev.Type, e.ev.Kv = typ, &e.kv
	if t.events == nil {
		e.first[0] = &e.ev
		t.events = e.first[:]
	} else {
		t.events = append(t.events, &e.ev)
	}
	return &e.ev
}

// newPutResponse allocates a PutResponse and its header together.
func newPutResponse(rev int64) *pb.PutResponse {
	r := &struct {
		resp pb.PutResponse
		hdr  pb.ResponseHeader
	}{}
	r.hdr.Revision = rev
	r.resp.Header = &r.hdr
	return &r.resp
}
