package raftlog

import "github.com/prometheus/client_golang/prometheus"

// Metrics with etcd's names, so existing dashboards and alerts keep working.
var (
	hasLeader = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "etcd", Subsystem: "server", Name: "has_leader",
		Help: "Whether or not a leader exists. 1 is existence, 0 is not.",
	})
	isLeader = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "etcd", Subsystem: "server", Name: "is_leader",
		Help: "Whether or not this member is a leader. 1 if is, 0 otherwise.",
	})
	leaderChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "etcd", Subsystem: "server", Name: "leader_changes_seen_total",
		Help: "The number of leader changes seen.",
	})
	proposalsCommitted = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "etcd", Subsystem: "server", Name: "proposals_committed_total",
		Help: "The total number of consensus proposals committed.",
	})
	proposalsApplied = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "etcd", Subsystem: "server", Name: "proposals_applied_total",
		Help: "The total number of consensus proposals applied.",
	})
	proposalsFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "etcd", Subsystem: "server", Name: "proposals_failed_total",
		Help: "The total number of failed proposals seen.",
	})
	walFsyncSec = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "etcd", Subsystem: "disk", Name: "wal_fsync_duration_seconds",
		Help: "The latency distributions of fsync called by WAL (Cairn: the synced raft log append).",
		// lowest bucket start of upper bound 0.001 sec (1 ms) with factor 2
		// highest bucket start of 0.001 sec * 2^13 == 8.192 sec
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	})
	backendCommitSec = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "etcd", Subsystem: "disk", Name: "backend_commit_duration_seconds",
		Help:    "The latency distributions of commit called by backend (Cairn: the apply batch, which for a sole voter is often the synced append too).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	})
	readIndexRounds = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "cairn", Subsystem: "raft", Name: "read_index_rounds_total",
		Help: "ReadIndex rounds; every linearizable read waiting when one starts shares it.",
	})
	appliedWithAppend = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "cairn", Subsystem: "raft", Name: "entries_applied_with_append_total",
		Help: "Entries a sole voter applied in the synced batch that appended them, without an apply batch of their own.",
	})
	entriesPerSync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "cairn", Subsystem: "raft", Name: "entries_per_sync",
		Help:    "Log entries made durable by one synced append (group commit).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	})
)

func init() {
	prometheus.MustRegister(hasLeader, isLeader, leaderChanges, proposalsCommitted, proposalsApplied,
		proposalsFailed, walFsyncSec, backendCommitSec, readIndexRounds, appliedWithAppend, entriesPerSync)
}
