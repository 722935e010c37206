// Package mvcc is etcd's multi-version key-value store (etcd's
// server/storage/mvcc with the apply logic of etcdserver/txn) over the
// member's pebble database. It owns the keys with prefixes 0x10..0x1f.
//
// # Types and guarantees
//
// A [Store] is opened over a *pebble.DB with [New]. It has two sides:
//
//   - The apply side — [Store.Put], [Store.DeleteRange], [Store.Txn],
//     [Store.Compact], [Store.RevokeLease] — is called by one goroutine at a
//     time (raftlog's apply loop, or its raft loop for entries a sole voter
//     applies with their append: "the apply goroutine" below), with the
//     indexed batch of one raft Ready. Each call is
//     one etcd write txn: it takes the next revision only if it writes, and
//     writes into the batch only after every check passed (an error leaves
//     neither the batch nor the revision changed; the one exception, a pebble
//     error in the middle of a txn, makes the batch unusable). Requests of the
//     same batch read through it and see each other. After the batch is
//     committed the loop calls [Store.Committed] (or [Store.Aborted] if the
//     commit failed); a new batch before that is refused.
//   - The read side — [Store.Range], [Store.ReadTxn], [Store.Events],
//     [Store.LeaseKeys], [Store.Rev], [Store.CompactRev] — is safe from any
//     goroutine. A read sees exactly the state of the last Committed batch:
//     Committed takes a pebble snapshot and publishes it with the revisions it
//     holds, and readers pin the published view (reference counted) for the
//     length of the read. Readers never take a lock shared with apply.
//
// Design tried and dropped for the read view: a meta key holding the current
// revision, written by every write txn and read first by every read from the
// same iterator. It costs a key per write and a seek per read, and readers
// would see a batch before Committed. The snapshot costs one NewSnapshot per
// batch. The current revision is never stored: it is the highest entry of
// the revision keyspace (every write txn writes one; compaction keeps the
// entries of the compacted revision and later).
//
// Revisions follow etcd: an empty store is at revision 1 and never compacted
// ([Store.CompactRev] is -1); a write txn takes main revision rev+1 and its
// changes take sub-revisions 0, 1, ...; a key's create_revision is the
// revision of the put that created it since its last deletion, its version
// counts the puts since then, and a deletion writes a tombstone.
//
// # Keyspaces
//
// Nothing keeps all keys in memory: pebble (block cache, bloom filters) is the
// index. The apply side keeps only a bloom filter of the keys that had a live
// record since open (~4 bytes a key, built by a scan of the live keyspace in
// the background at open and again as keys churn), so that a put of a new
// key, or a txn's compare on one, skips the lookup of the key. Every writer of
// live records must add to it (only put writes them).
// Integers are big-endian; uvarint is encoding/binary's.
//
//	0x10 'c'                          -> int64 compacted revision (scheduled)
//	0x10 'f'                          -> int64 compacted revision (physically done)
//	0x10 'v'                          -> int64 layout version (3)
//
// Meta. 'c' is written with the Compact request, so reads below it fail from
// that batch on; 'f' is written by the compactor when a pass finishes, so New
// resumes an unfinished one; 'v' is written with the store's first write txn,
// and New refuses a store that has revisions but not this version. Version 1
// (unreleased, never recorded) kept a full copy of every value in the
// history keyspace; its databases are not readable by this one: remove the
// data directory. Version 2 had no indirect live records: New reads it and
// records 3 before writing anything, so that a version 2 binary refuses the
// store afterwards.
//
//	0x11 | key                        -> uvarint mod | uvarint sub | uvarint create | uvarint version | uvarint lease | value
//	                                            or 0x00 | the same without the value: indirect
//
// Live: the latest version of every existing key, and nothing else — a read
// at the current revision (nearly all reads) is a Get or a
// scan that never sees history or tombstones of deleted keys (until pebble
// compacts away the point deletions). A put's lookup of the key's previous
// version, when the key filter does not rule it out, asks the bloom filters
// of every level, L6's included, which pebble's Get skips. count_only scans
// keys without touching values. Written in the same batch as the history entry. (mod, sub) is the
// version's place in the history keyspace: a txn may write a key twice in
// one revision.
//
//	0x12 | esc(key) 0x00 0x01 | ^rev | ^sub  -> uvarint create | uvarint version | uvarint lease | value
//	                                            or 0x00: a stub
//	                                            or empty: a tombstone
//
// History: every version of every key, ordered by key, then newest first.
// esc doubles 0x00 as 0x00 0xFF and 0x00 0x01 ends the key, so the encoding
// keeps the order of user keys for any bytes and no key's entries share a
// prefix with another key's. A read at revision R seeks to esc(key) 0x00
// 0x01 | ^R: the first entry there is the key's version at R (or a tombstone,
// or another key: absent). Ranges at R make one seek per key (a few Nexts
// first, which is cheaper when keys have few versions).
//
// Each value is stored once. The current version of a live key is a stub in
// history, its record (and value) is the live one; only a version that is no
// longer current has a full record. So a key written once — most keys —
// costs its value once on disk and once through the memtable and WAL, not
// twice (BenchmarkCountOnly: 569 → 297 sstable bytes per key of 256-byte
// values). The put or delete that replaces the current version reads its
// live record anyway (for create_revision and version, or to delete it) and
// rewrites that version's stub as its full record in the same batch: the
// live value minus mod and sub, copied without decoding. The cost moved to
// those writes: an overwrite writes four keys (stub, old full record, live,
// revision; the first two adjacent, so the memtable insert of the second is
// cheap), and a DeleteRange carries the values of the keys it deletes into
// history. A full record starts with uvarint create >= 1, never 0x00, so
// stubs, tombstones (empty) and records never look alike.
//
// Large values (4 KiB and more, storage.SeparateValueBytes: those pebble
// keeps in blob files) are the exception: the put writes the value into the
// new version's full history entry at once, and the live record is indirect
// (0x00, then the metadata without the value; a direct record starts with
// uvarint mod >= 1). Replacing or deleting such a version writes nothing for
// it — its history entry is already full — where a copy would write the
// value again, into the WAL and a blob file; a read of the current version
// pays a second Get (loadValue) for it. With 64 KiB values over 1,000 keys
// (make bench's put-large) that took server CPU per put from ~630 to
// ~520 µs.
//
// A reader that finds a stub as the version at R reads the live record from
// the same snapshot or batch, and checks that its (mod, sub) is the stub's:
// a range at R keeps a live iterator in step with the history one, Events a
// second Get. A single key at R looks at the live record first: if its mod is
// at most R — nothing changed the key since, the usual case for a read a
// little behind the current revision — that is the version at R and there is
// no history seek; a key changed since R costs that Get on top of the seek
// (BenchmarkRangeSingleKey: old-unchanged 3.7 → 2.4 µs, old 3.9 → 6.2 µs).
// Compaction never removes a stub, nor the full entry of an indirect current
// version: each is its key's latest entry (see the Compaction section).
//
// Design measured and not taken: no history entry at all for the current
// version. It saves a random-position memtable insert per new key (12-14%
// of BenchmarkPut's CPU with random new keys, measured by dropping the stub
// write; little for overwrites), but a read at R would have to merge the
// live and history keyspaces key by key, count_only at R would decode live
// records, and the compactor, which reads without apply's snapshot, would
// have to bound its range deletions by a live version that apply may move
// into history concurrently. The stub keeps history self-describing.
//
//	0x13 | rev | sub                  -> 0x00 (put) or 0x01 (delete) | key
//
// Revisions: the change of each (rev, sub), in revision order. It yields the
// current revision, serves watch catch-up ([Store.Events]: scan from a
// revision on, one history Get per put event, and a live Get when that entry
// is a stub) and tells compaction which keys changed.
//
//	0x14 | lease | key                -> (empty)
//
// Lease index: the keys attached to each lease, maintained by puts and
// deletes, for [Store.RevokeLease] and [Store.LeaseKeys] (etcd keeps this in
// the lessor's memory, rebuilt at start by a scan of every key).
//
// Records are a few bytes of uvarints before the value (proto would add a
// tag per field and the key again).
//
// # Compaction
//
// [Store.Compact] records the compacted revision C in the batch; from
// Committed on, reads below C fail with rpcerr.ErrCompacted. A background
// goroutine then removes the history C supersedes, in bounded unsynced
// batches: for each key changed at or below C (found in the revision
// keyspace, whose entries below the previous compaction are gone already) it
// keeps the latest version at or below C — a full record or a stub, or a
// tombstone at exactly C (etcd keeps it, and so do we), but not a tombstone
// below C — and deletes the older ones (point deletions for a few, a range
// deletion for many), and it range-deletes the revision entries below C.
// Steps are idempotent; an interrupted pass is run again by New. After a
// pass the published snapshot is renewed (when no batch is in flight), so it
// does not pin what the pass deleted.
//
// The compactor runs beside apply, which may meanwhile rewrite the stub of a
// key's current version as a full record, at a revision that may be at or
// below C. That entry is its key's latest: the compactor keeps it (it is the
// version it keeps, or newer) and deletes only entries older than the one it
// keeps, which apply never writes.
//
// # Differences from etcd
//
// Where etcd would panic on a request the kv service's validation rejects,
// this returns an error or does something deterministic instead: a put with
// ignore_value/ignore_lease whose key an earlier op of the same txn deleted
// fails with rpcerr.ErrKeyNotFound before anything is written; an op with a
// nil request is an empty op; an unknown sort order or target fails with
// rpcerr.ErrInvalidSortOption. Txn responses hold an empty ResponseOp where
// etcd leaves nil (the same bytes on the wire).
package mvcc
