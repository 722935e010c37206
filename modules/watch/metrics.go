package watch

import "github.com/prometheus/client_golang/prometheus"

// Metrics under etcd's names (its mvcc package's watch metrics), so that
// dashboards built for etcd read Cairn's.
var (
	watchStreamGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "etcd_debugging", Subsystem: "mvcc", Name: "watch_stream_total",
		Help: "Total number of watch streams.",
	})
	watcherGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "etcd_debugging", Subsystem: "mvcc", Name: "watcher_total",
		Help: "Total number of watchers.",
	})
	slowWatcherGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "etcd_debugging", Subsystem: "mvcc", Name: "slow_watcher_total",
		Help: "Total number of unsynced slow watchers.",
	})
	eventsCounter = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "etcd_debugging", Subsystem: "mvcc", Name: "events_total",
		Help: "Total number of events sent by this member.",
	})
)

func init() {
	prometheus.MustRegister(watchStreamGauge, watcherGauge, slowWatcherGauge, eventsCounter)
}
