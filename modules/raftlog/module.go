package raftlog

import (
	"context"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/fx"
)

// Module provides the member's *Node, started and stopped with the app. It
// needs a Config and the Applier of the state machine.
var Module = fx.Module("raftlog", fx.Provide(newFx))

func newFx(lc fx.Lifecycle, db *pebble.DB, cfg Config, app Applier) (*Node, error) {
	n, err := New(db, cfg, app)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: n.Start,
		OnStop:  func(context.Context) error { n.Stop(); return nil },
	})
	return n, nil
}
