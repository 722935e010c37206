// Package e2e holds Cairn's end-to-end tests: they build the real cairn binary,
// start it beside a real embedded etcd 3.6 and drive both with etcd's own clients
// (go.etcd.io/etcd/client/v3 and etcdctl), failing wherever Cairn answers
// differently from etcd.
//
// This is a module of its own because etcd's API module registers the same
// protobuf names as Cairn's gen/ packages: nothing here may import
// github.com/cairnkv/cairn/... — Cairn is only ever a process.
package e2e
