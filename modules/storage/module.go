package storage

import (
	"context"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/fx"
)

// Module provides the member's *pebble.DB, closed when the app stops (after
// every module that uses it: fx runs OnStop hooks in reverse order).
var Module = fx.Module("storage", fx.Provide(newFx))

func newFx(lc fx.Lifecycle, cfg Config) (*pebble.DB, error) {
	db, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{OnStop: func(context.Context) error { return db.Close() }})
	return db, nil
}
