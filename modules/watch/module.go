package watch

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
)

// Module provides the member's *Hub, its OnCommit as the mvcc.CommitFunc,
// and the Watch *Service. The hub is built without the store (the store
// needs the CommitFunc); the Service attaches it. Whoever serves the
// Service must call Service.Close before stopping the client listeners
// (streams do not end by themselves). The hub is closed when the app stops,
// after whatever was built on it (fx stops in reverse order of
// construction).
var Module = fx.Module("watch",
	fx.Provide(
		func(lc fx.Lifecycle, log *zap.Logger) *Hub {
			h := NewHub(HubConfig{Logger: log.Named("watch")})
			lc.Append(fx.Hook{OnStop: func(context.Context) error { h.Close(); return nil }})
			return h
		},
		func(h *Hub) mvcc.CommitFunc { return h.OnCommit },
		func(cfg Config, h *Hub, store *mvcc.Store, n *raftlog.Node) *Service { return New(cfg, h, store, n) },
	),
)
