// Package watch is etcd's Watch service: it owns the watchers of the member,
// the delivery of every applied change to them, and the Watch stream
// protocol (create with key ranges, start revisions, filters, prev_kv,
// fragment and progress_notify; cancel; RequestProgress).
//
// # Types
//
// A [Hub] holds the watchers in two groups, as etcd's watchableStore does:
// synced watchers get each applied txn's events from [Hub.OnCommit] (the
// store's mvcc.Config.OnCommit, on the apply goroutine), unsynced ones are
// served from the revision history in pebble ([Store.Events]) by a catch-up
// worker until they reach the hub's revision. A [Service] is the gRPC
// WatchServer over a Hub: per stream, one receive loop turns requests into
// hub calls and one send loop drains the stream's bounded outbox.
//
// # Guarantees
//
//   - Each watcher gets every change of its range from its start revision
//     on, once, in revision order; the events of one txn come in one
//     response (unless the watcher asked for fragments and they are large).
//   - Apply never waits for a client. A watcher whose stream's outbox is full
//     (QueueBytes / QueueResponses) becomes unsynced and catches up from
//     history once its client has read half of it; so a stalled stream holds
//     a bounded amount of memory, and other streams are not slowed.
//   - A watcher that needs a revision compaction removed is cancelled with
//     compact_revision (clientv3 surfaces ErrCompacted). As in etcd, it stays
//     the stream's until the client cancels it: its ID stays taken, the
//     cancel request gets its canceled response, and the stream's progress
//     requests wait until then.
//   - Nothing holds history in memory: catch-up reads pebble, at most
//     CatchUpEvents events, a quarter of QueueBytes of keys and values (a
//     revision is never split, though) and 64 × CatchUpEvents revisions
//     walked at a time, so one watcher far behind does not hold the catch-up worker.
//   - While a stream is backed up, further events of a watcher are appended
//     to its queued response (up to 1 MiB) rather than queued behind it:
//     fewer, larger responses for a client that reads slowly, as etcd's
//     catch-up gives, without a timer. Never across a created, canceled or
//     progress response queued after it: a progress response at revision R
//     comes after every event up to R and before any later one.
//
// An event that goes to many watchers is encoded once: the send loops hand
// gRPC a response that carries its events' shared encodings (wireResponse),
// which the server's codec copies instead of marshalling each event per
// watcher; to any other codec it is a plain WatchResponse.
//
// Metrics follow etcd's names: etcd_debugging_mvcc_watch_stream_total,
// _watcher_total, _slow_watcher_total (unsynced) and _events_total.
//
// Response header revisions follow etcd: the txn's revision for events from
// OnCommit, the store's revision at the read for catch-up events, the current
// revision for created, canceled and progress responses, and 0 for a
// cancellation by compaction. A progress response's revision R promises that
// every event up to R has been sent on the stream.
//
// # Differences from etcd
//
// etcd drops a RequestProgress while a watcher of the stream is unsynced;
// Cairn answers it once they all are. etcd holds its store lock while a
// history read runs, so writes wait for slow watchers; Cairn reads history
// beside apply and reconciles under the hub's lock (see Hub).
package watch
