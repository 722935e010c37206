package kv

import (
	"go.uber.org/fx"

	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
)

// Module provides the KV Service and its Applier (as the raftlog.Applier).
var Module = fx.Module("kv",
	fx.Provide(
		NewApplier,
		func(a *Applier) raftlog.Applier { return a },
		func(cfg Config, store *mvcc.Store, n *raftlog.Node) *Service { return New(cfg, store, n) },
	),
)
