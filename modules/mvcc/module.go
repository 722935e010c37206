package mvcc

import (
	"context"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/cairnkv/cairn/gen/mvccpb"
)

// Module provides the member's *Store over its pebble DB, closed when the
// app stops. The lease module may provide a LeaseExistsFunc and the watch
// module a CommitFunc; they become Config.LeaseExists and Config.OnCommit.
var Module = fx.Module("mvcc", fx.Provide(newFx))

// LeaseExistsFunc is Config.LeaseExists, as an fx-provided value.
type LeaseExistsFunc func(id int64) bool

// CommitFunc is Config.OnCommit, as an fx-provided value.
type CommitFunc func(rev int64, events []*mvccpb.Event)

type fxParams struct {
	fx.In
	Lifecycle   fx.Lifecycle
	DB          *pebble.DB
	Log         *zap.Logger
	LeaseExists LeaseExistsFunc `optional:"true"`
	OnCommit    CommitFunc      `optional:"true"`
}

func newFx(p fxParams) (*Store, error) {
	s, err := New(p.DB, Config{Logger: p.Log.Named("mvcc"), LeaseExists: p.LeaseExists, OnCommit: p.OnCommit})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{OnStop: func(context.Context) error { return s.Close() }})
	return s, nil
}
