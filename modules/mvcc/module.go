package mvcc

import (
	"context"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the member's *Store over its pebble DB, closed when the
// app stops.
var Module = fx.Module("mvcc", fx.Provide(newFx))

func newFx(lc fx.Lifecycle, db *pebble.DB, log *zap.Logger) (*Store, error) {
	s, err := New(db, Config{Logger: log.Named("mvcc")})
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{OnStop: func(context.Context) error { return s.Close() }})
	return s, nil
}
