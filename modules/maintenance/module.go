package maintenance

import (
	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/fx"

	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
)

// QuotaBytes is --quota-backend-bytes (0: etcd's default).
type QuotaBytes int64

// Module provides the Maintenance Service.
var Module = fx.Module("maintenance", fx.Provide(
	func(db *pebble.DB, n *raftlog.Node, s *mvcc.Store, q QuotaBytes) *Service {
		return New(db, n, s, int64(q))
	},
))
