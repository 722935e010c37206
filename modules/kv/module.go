package kv

import (
	"go.uber.org/fx"

	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
)

// Module provides the KV Service and registers its Applier with the apply
// pipeline.
var Module = fx.Module("kv",
	fx.Provide(
		apply.AsHandler(NewApplier),
		func(cfg Config, store *mvcc.Store, n *raftlog.Node) *Service { return New(cfg, store, n) },
	),
)
