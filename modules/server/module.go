package server

import (
	"context"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the *Server and starts and stops it with the application.
var Module = fx.Module("server",
	fx.Provide(NewFx),
	fx.Invoke(func(*Server) {}),
)

// Params are what NewFx needs. Services and Health are optional while the
// service modules are being written: a missing service answers Unimplemented,
// a missing HealthFunc reports healthy.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    Config
	Logger    *zap.Logger
	Services  Services   `optional:"true"`
	Health    HealthFunc `optional:"true"`
}

// GracefulStopTimeout bounds how long Stop lets in-flight calls finish
// before it closes the remaining connections and streams.
const GracefulStopTimeout = 5 * time.Second

// NewFx builds the Server and registers its OnStart (Start) and OnStop (Stop,
// graceful until the stop context ends) hooks.
func NewFx(p Params) (*Server, error) {
	s, err := New(p.Config, p.Logger, p.Services, p.Health)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error { return s.Start() },
		OnStop: func(ctx context.Context) error {
			// Bounded, so the hooks after this one (raft, storage) still
			// run within the app's stop deadline when streams stay open.
			ctx, cancel := context.WithTimeout(ctx, GracefulStopTimeout)
			defer cancel()
			return s.Stop(ctx)
		},
	})
	return s, nil
}
