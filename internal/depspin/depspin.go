// Package depspin pins the server's dependencies in go.mod while the modules
// that use them are being written. Delete it once every import below is used
// by real code.
package depspin

import (
	_ "connectrpc.com/connect"
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "go.etcd.io/raft/v3"
	_ "go.uber.org/fx"
	_ "go.uber.org/fx/fxevent"
	_ "go.uber.org/fx/fxtest"
	_ "go.uber.org/zap"
	_ "go.uber.org/zap/zaptest"
	_ "google.golang.org/grpc"
	_ "google.golang.org/grpc/health"
	_ "google.golang.org/grpc/reflection"
	_ "google.golang.org/protobuf/proto"
)
