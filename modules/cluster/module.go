package cluster

import (
	"go.uber.org/fx"

	"github.com/cairnkv/cairn/modules/raftlog"
)

// Module provides the Cluster Service; it needs this member's Member.
var Module = fx.Module("cluster", fx.Provide(
	func(self Member, n *raftlog.Node) *Service { return New(self, n) },
))
