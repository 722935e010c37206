// Package mvcc is etcd's multi-version key-value store (etcd's
// server/storage/mvcc with the apply logic of etcdserver/txn) over the
// member's pebble database. It owns the keys with prefixes 0x10..0x1f.
//
// # Types and guarantees
//
// A [Store] is opened over a *pebble.DB with [New]. It has two sides:
//
//   - The apply side — [Store.Put], [Store.DeleteRange], [Store.Txn],
//     [Store.Compact], [Store.RevokeLease] — is called by one goroutine, the
//     raft apply loop, with the indexed batch of one raft Ready. Each call is
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
// index. Integers are big-endian; uvarint is encoding/binary's.
//
//	0x10 'c'                          -> int64 compacted revision (scheduled)
//	0x10 'f'                          -> int64 compacted revision (physically done)
//
// Meta. 'c' is written with the Compact request, so reads below it fail from
// that batch on; 'f' is written by the compactor when a pass finishes, so New
// resumes an unfinished one.
//
//	0x11 | key                        -> uvarint mod | uvarint create | uvarint version | uvarint lease | value
//
// Live: the latest version of every existing key, and nothing else — a read
// at the current revision (nearly all reads) is a bloom-filtered Get or a
// scan that never sees history or tombstones of deleted keys (until pebble
// compacts away the point deletions). count_only scans keys without touching
// values. Written in the same batch as the history entry.
//
//	0x12 | esc(key) 0x00 0x01 | ^rev | ^sub  -> uvarint create | uvarint version | uvarint lease | value
//	                                            or empty: a tombstone
//
// History: every version of every key, ordered by key, then newest first.
// esc doubles 0x00 as 0x00 0xFF and 0x00 0x01 ends the key, so the encoding
// keeps the order of user keys for any bytes and no key's entries share a
// prefix with another key's. A read at revision R seeks to esc(key) 0x00
// 0x01 | ^R: the first entry there is the key's version at R (or a tombstone,
// or another key: absent). Ranges at R make one seek per key (a few Nexts
// first, which is cheaper when keys have few versions). A version's record
// is never empty, so the empty value marks a tombstone.
//
//	0x13 | rev | sub                  -> 0x00 (put) or 0x01 (delete) | key
//
// Revisions: the change of each (rev, sub), in revision order. It yields the
// current revision, serves watch catch-up ([Store.Events]: scan from a
// revision on, one history Get per put event) and tells compaction which keys
// changed.
//
//	0x14 | lease | key                -> (empty)
//
// Lease index: the keys attached to each lease, maintained by puts and
// deletes, for [Store.RevokeLease] and [Store.LeaseKeys] (etcd keeps this in
// the lessor's memory, rebuilt at start by a scan of every key).
//
// Records are a few bytes of uvarints before the value (proto would add a
// tag per field and the key again); the history record omits mod (in its key)
// so the live and history values share one encoding pass.
//
// # Compaction
//
// [Store.Compact] records the compacted revision C in the batch; from
// Committed on, reads below C fail with rpcerr.ErrCompacted. A background
// goroutine then removes the history C supersedes, in bounded unsynced
// batches: for each key changed at or below C (found in the revision
// keyspace, whose entries below the previous compaction are gone already) it
// keeps the latest version at or below C — unless it is a tombstone below C;
// etcd keeps a tombstone at exactly C, and so do we — and deletes the older
// ones (point deletions for a few, a range deletion for many), and it
// range-deletes the revision entries below C. Steps are idempotent; an
// interrupted pass is run again by New. After a pass the published snapshot
// is renewed (when no batch is in flight), so it does not pin what the pass
// deleted.
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
