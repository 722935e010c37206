package server

import (
	"context"

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

// NewFx builds the Server and registers its OnStart (Start) and OnStop (Stop,
// graceful until the stop context ends) hooks.
func NewFx(p Params) (*Server, error) {
	s, err := New(p.Config, p.Logger, p.Services, p.Health)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error { return s.Start() },
		OnStop:  s.Stop,
	})
	return s, nil
}
