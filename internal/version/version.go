// Package version holds the versions Cairn reports: its own, and the etcd
// versions it presents itself as so that etcd's clients enable the features
// of etcd 3.6 (kube-apiserver, for one, enables watch progress requests only
// for etcd ≥ 3.5.13).
package version

// Set by the linker (-ldflags "-X ...Cairn=...") in release builds.
var Cairn = "0.1.0-dev"

const (
	// Etcd is the etcd server version reported by Status and /version.
	Etcd = "3.6.16"
	// Cluster is the cluster version (etcd's "etcdcluster").
	Cluster = "3.6.0"
	// Storage is the storage version etcd 3.6 reports.
	Storage = "3.6.0"
)
