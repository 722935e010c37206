package watch

import (
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
)

// Module provides the member's *Hub, its OnCommit as the mvcc.CommitFunc,
// and the Watch *Service. The hub is built without the store (the store
// needs the CommitFunc); the Service attaches it. Whoever serves the
// Service must call Service.Close before stopping the client listeners
// (streams do not end by themselves) and Hub.Close after.
var Module = fx.Module("watch",
	fx.Provide(
		func(log *zap.Logger) *Hub { return NewHub(HubConfig{Logger: log.Named("watch")}) },
		func(h *Hub) mvcc.CommitFunc { return h.OnCommit },
		func(cfg Config, h *Hub, store *mvcc.Store, n *raftlog.Node) *Service { return New(cfg, h, store, n) },
	),
)
