package compare

import (
	"fmt"
	"math"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cairnkv/cairn/tools/bench/internal/load"
)

// valSize is the value size of every workload that writes.
const valSize = 256

// spec is one workload of the comparison.
type spec struct {
	name    string
	title   string
	short   string
	total   int // requests at scale 1
	clients int
	conns   int
	params  func(total int) string
	make    func(total int) load.Workload
}

// rangeKey is the one key the single-key range workloads read.
const rangeKey = "bench-range-key1" // 16 bytes

// mixedKeySpace is txn-mixed's key space for a run of total requests.
func mixedKeySpace(total int) int { return min(max(total/20, 100), 10_000) }

// specs is the fixed list of workloads, in the order they run.
var specs = []spec{
	{
		name: "put-1", title: "put, 1 client", short: "put, 1 client",
		total: 40_000, clients: 1, conns: 1,
		params: func(int) string {
			return "`put` with 1 client on 1 connection, one request at a time: 16-byte keys drawn at random from a key space of 1,000,000, random 256-byte values. Bound by one synced log write per put; compare with the fsync probe."
		},
		make: func(int) load.Workload {
			return &load.Put{KeySize: 16, ValSize: valSize, KeySpace: 1_000_000}
		},
	},
	{
		name: "put-100", title: "put, 100 clients, 10 conns", short: "put, 100 clients",
		total: 400_000, clients: 100, conns: 10,
		params: func(int) string {
			return "`put` with 100 concurrent clients over 10 connections: 16-byte keys drawn at random from a key space of 1,000,000, random 256-byte values."
		},
		make: func(int) load.Workload {
			return &load.Put{KeySize: 16, ValSize: valSize, KeySpace: 1_000_000}
		},
	},
	{
		// No target: it keeps large values, where Cairn is behind etcd, in
		// every run (docs/benchmarks.md).
		name: "put-large", title: "put 64 KiB values, 8 clients, 8 conns", short: "put 64 KiB, 8 clients",
		total: 4_000, clients: 8, conns: 8,
		params: func(int) string {
			return "`put` of large values: 8 concurrent clients over 8 connections, 16-byte keys drawn at random from a key space of 1,000, random 65,536-byte values (256 MB written per run)."
		},
		make: func(int) load.Workload {
			return &load.Put{KeySize: 16, ValSize: 64 << 10, KeySpace: 1_000}
		},
	},
	{
		name: "range-1-linearizable", title: "range 1 key, linearizable, 100 clients", short: "range 1 key, linearizable",
		total: 600_000, clients: 100, conns: 10,
		params: func(int) string {
			return "`range` of one existing key (16-byte key, 256-byte value, put once before the warm-up), linearizable (the default), 100 concurrent clients over 10 connections; every answer is checked to hold the key."
		},
		make: func(int) load.Workload { return singleKeyRange(false) },
	},
	{
		name: "range-1-serializable", title: "range 1 key, serializable, 100 clients", short: "range 1 key, serializable",
		total: 600_000, clients: 100, conns: 10,
		params: func(int) string {
			return "the same with `serializable` reads."
		},
		make: func(int) load.Workload { return singleKeyRange(true) },
	},
	{
		name: "txn-mixed", title: "txn-mixed, 90% reads, 100 clients", short: "txn-mixed, 90% reads",
		total: 400_000, clients: 100, conns: 10,
		params: func(total int) string {
			return fmt.Sprintf("`txn-mixed`: each request is a transaction holding either one linearizable get (90%%) or one put (10%%) of a key drawn at random from a key space of %s 16-byte keys, all put (random 256-byte values) before the warm-up; 100 concurrent clients over 10 connections.",
				fmtInt(mixedKeySpace(total)))
		},
		make: func(total int) load.Workload {
			return &load.TxnMixed{KeySize: 16, ValSize: valSize, KeySpace: mixedKeySpace(total), ReadRatio: 0.9, Seed: true}
		},
	},
	{
		name: "lease-keepalive", title: "lease keep-alive, 100 clients", short: "lease keep-alive",
		total: 200_000, clients: 100, conns: 10,
		params: func(int) string {
			return "`lease-keepalive` as etcd's benchmark runs it: each of 100 concurrent clients (over 10 connections) holds one lease (TTL 100 s, granted before the warm-up) and renews it with clientv3's `KeepAliveOnce`, one keep-alive stream per request."
		},
		make: func(int) load.Workload { return &load.LeaseKeepAlive{Leases: 100, TTL: 100} },
	},
	{
		name: "lease-keepalive-stream", title: "lease keep-alive on open streams, 100 clients", short: "lease keep-alive, streams",
		total: 400_000, clients: 100, conns: 10,
		params: func(int) string {
			return "`lease-keepalive --stream`: the same leases renewed the way clientv3's `KeepAlive` (sessions, locks, elections) renews them, over one long-lived keep-alive stream per client, one renewal at a time."
		},
		make: func(int) load.Workload { return &load.LeaseKeepAlive{Leases: 100, TTL: 100, Stream: true} },
	},
	{
		name: "watch", title: "watch, 1,000 watchers, 10 putters", short: "watch, 1,000 watchers",
		total: 4_000, clients: 10, conns: 10,
		params: func(int) string {
			return "`watch`: 1,000 watchers of one prefix (10 streams of 100, one stream per connection), then puts of fresh keys under it (random 256-byte values) by 10 concurrent clients over the same 10 connections; a request is one put, complete when all 1,000 watchers have received its event, so events delivered per second are 1,000 × requests per second."
		},
		make: func(int) load.Workload {
			return &load.Watch{Kind: "watch", Streams: 10, WatchersPerStream: 100, ValSize: valSize}
		},
	},
	{
		// 10,000 puts: a p99 over 4,000 samples (its 40 slowest) swung by
		// ±15% from run to run, more than the two servers differ.
		name: "watch-latency", title: "watch put-to-event latency, 100 watchers, 1 putter", short: "watch latency",
		total: 10_000, clients: 1, conns: 1,
		params: func(int) string {
			return "`watch-latency`: 100 watchers of one prefix (10 streams of 10 on one connection); one client puts fresh keys (random 256-byte values) one at a time; a request's latency is from the put until its event reached the last of the 100 watchers."
		},
		make: func(int) load.Workload {
			return &load.Watch{Kind: "watch-latency", Streams: 10, WatchersPerStream: 10, ValSize: valSize}
		},
	},
	{
		name: "watch-stalled", title: "watch put-to-event latency, 100 watchers, 1 putter, 2 stalled streams", short: "watch latency, stalled",
		total: 10_000, clients: 1, conns: 1,
		params: func(total int) string {
			return fmt.Sprintf("`watch-latency --stalled-streams 2`: watch-latency with two more streams of 10 watchers of the same prefix, on the same connection, whose client never reads after the created responses (slow consumers: each stream is owed %.1f MB of events by the measured puts alone, more than gRPC's flow-control windows and the server's buffers hold). It shows what a stalled consumer costs the puts and the other watchers: compare with the row above.", float64(10*total*(valSize+10))/1e6) // 10 watchers, keys "watch/N"
		},
		make: func(int) load.Workload {
			return &load.Watch{Kind: "watch-latency", Streams: 10, WatchersPerStream: 10, ValSize: valSize, Stalled: 2}
		},
	},
}

func singleKeyRange(serializable bool) *load.Range {
	return &load.Range{
		Key: rangeKey, Serializable: serializable, SeedValSize: valSize,
		Check: func(r *clientv3.GetResponse) error {
			if len(r.Kvs) != 1 || string(r.Kvs[0].Key) != rangeKey || len(r.Kvs[0].Value) != valSize {
				return fmt.Errorf("range %q: got %d kvs, want the key with its %d-byte value", rangeKey, len(r.Kvs), valSize)
			}
			return nil
		},
	}
}

// scaled is n × scale, at least 1.
func scaled(n int, scale float64) int {
	return max(1, int(math.Round(float64(n)*scale)))
}

// warmupFor is the warm-up of a run of total requests: 5%, between 10 and 2,000.
func warmupFor(total int) int { return min(max(total/20, 10), 2_000) }
