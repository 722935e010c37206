package lease

import (
	"context"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
)

// Module provides the Lessor (and, from it, mvcc's LeaseExistsFunc), the
// Applier in the apply pipeline, and the Service, whose expiry loop runs
// while the app does. It needs a Config and a ServiceConfig.
//
// The Lessor depends on the pebble DB only, not on *mvcc.Store: the store
// asks it whether a lease exists, so the Applier, which needs both, is the
// one that joins them.
var Module = fx.Module("lease",
	fx.Provide(
		newLessorFx,
		func(l *Lessor) mvcc.LeaseExistsFunc { return l.Exists },
		apply.AsHandler(NewApplier),
		newServiceFx,
	),
)

func newLessorFx(db *pebble.DB, cfg Config, log *zap.Logger) (*Lessor, error) {
	if cfg.Logger == nil {
		cfg.Logger = log.Named("lease")
	}
	return New(db, cfg)
}

// newServiceFx takes the raft node so that its start hook runs after the
// node's: the expiry loop starts once raft serves, and stops before it.
func newServiceFx(lc fx.Lifecycle, cfg ServiceConfig, l *Lessor, store *mvcc.Store, n *raftlog.Node, log *zap.Logger) *Service {
	if cfg.Logger == nil {
		cfg.Logger = log.Named("lease")
	}
	s := NewService(cfg, l, store, n)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { s.Start(); return nil },
		OnStop:  func(context.Context) error { s.Stop(); return nil },
	})
	return s
}
