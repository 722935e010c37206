// Package app is Cairn's composition root: it turns etcd's flags into each
// module's configuration and wires the modules with fx. Nothing else in the
// tree calls fx.New.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cairnkv/cairn/app/config"
	"github.com/cairnkv/cairn/internal/version"
	"github.com/cairnkv/cairn/modules/apply"
	"github.com/cairnkv/cairn/modules/cluster"
	"github.com/cairnkv/cairn/modules/kv"
	"github.com/cairnkv/cairn/modules/lease"
	"github.com/cairnkv/cairn/modules/maintenance"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
	"github.com/cairnkv/cairn/modules/server"
	"github.com/cairnkv/cairn/modules/storage"
	"github.com/cairnkv/cairn/modules/watch"
)

// Main runs the cairn binary: args without the program name, env as
// os.Environ. It returns the exit code.
func Main(args, env []string, stdout, stderr io.Writer) int {
	cfg, err := config.Parse(args, env)
	// Exit codes and output as etcd's etcdmain gives them.
	var flagErr *config.FlagError
	var envErr *config.EnvShadowedError
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stderr, config.UsageLine())
		fmt.Fprint(stdout, config.FlagsUsage())
		return 0
	case errors.Is(err, config.ErrPrintVersion):
		fmt.Fprintf(stdout, "cairn Version: %s\netcd Version: %s\nGo Version: %s\nGo OS/Arch: %s/%s\n",
			version.Cairn, version.Etcd, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case errors.As(err, &flagErr):
		fmt.Fprintf(stderr, "%v\n%s", err, config.UsageLine())
		return 2
	case errors.As(err, &envErr):
		fmt.Fprintf(stderr, "cairn: %v\n", err)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "cairn: failed to verify flags: %v\n", err)
		return 1
	}
	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "cairn: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	tuneGC(env)
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	// Checks that need no data dir run before one is created.
	if err := checkSupported(cfg); err != nil {
		log.Error("cairn cannot start with this configuration", zap.Error(err))
		return 1
	}
	app := fx.New(Options(cfg, log))
	if err := app.Err(); err != nil {
		log.Error("cairn failed to start", zap.Error(dig.RootCause(err)))
		return 1
	}
	startCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		log.Error("cairn failed to start", zap.Error(dig.RootCause(err)))
		return 1
	}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	sig := <-sigc
	log.Info("received signal; shutting down", zap.String("signal", sig.String()))
	signal.Stop(sigc)
	stopCtx, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := app.Stop(stopCtx); err != nil {
		log.Error("cairn did not stop cleanly", zap.Error(err))
		return 1
	}
	return 0
}

// Options returns the fx options of a member configured by cfg.
func Options(cfg *config.Config, log *zap.Logger) fx.Option {
	return fx.Options(
		fx.WithLogger(func() fxevent.Logger {
			// fx's events, its errors too, are debug detail: Main logs
			// the root cause of a failed start in one line.
			l := &fxevent.ZapLogger{Logger: log.Named("fx")}
			l.UseLogLevel(zapcore.DebugLevel)
			l.UseErrorLevel(zapcore.DebugLevel)
			return l
		}),
		fx.Supply(cfg, log),
		fx.Provide(
			storageConfig,
			raftConfig,
			kvConfig,
			watchConfig,
			leaseConfig,
			leaseServiceConfig,
			serverConfig,
			clusterMember,
			func(c *config.Config) maintenance.QuotaBytes {
				return maintenance.QuotaBytes(c.EffectiveQuotaBackendBytes())
			},
			services,
			health,
		),
		storage.Module,
		mvcc.Module,
		raftlog.Module,
		apply.Module,
		kv.Module,
		watch.Module,
		lease.Module,
		maintenance.Module,
		cluster.Module,
		server.Module,
		fx.Invoke(stopWatchFirst),
	)
}

// stopWatchFirst ends the Watch streams before the server stops: its
// graceful stop waits for every stream, and Watch streams never end by
// themselves. Taking *server.Server makes this hook run before the server's
// (fx runs OnStop hooks in reverse order of registration). It waits a
// little for the streams' handlers; one blocked on a client that does not
// read is ended by the server's forced stop.
func stopWatchFirst(lc fx.Lifecycle, _ *server.Server, w *watch.Service) {
	lc.Append(fx.Hook{OnStop: func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		w.Close(ctx)
		return nil
	}})
}

func watchConfig(c *config.Config) watch.Config {
	return watch.Config{
		MaxRequestBytes:        c.MaxRequestBytes,
		ProgressNotifyInterval: c.WatchProgressNotifyInterval,
		LeaderCheckInterval:    c.ElectionTimeout,
	}
}

func newLogger(level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q", level)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil
	zc.DisableStacktrace = true
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return zc.Build()
}

// checkSupported rejects what Cairn cannot do yet and must not pretend to:
// serving clients in clear text when TLS was asked for, or a cluster of
// more than one member.
func checkSupported(c *config.Config) error {
	t := c.ClientTLS
	if !t.Empty() || t.TrustedCAFile != "" || t.ClientCertAuth || t.AutoTLS {
		return errors.New("client TLS (--cert-file, --key-file, --trusted-ca-file, --client-cert-auth, --auto-tls) is not supported by Cairn yet; refusing to serve in clear text")
	}
	if c.LeaseRevokeRate <= 0 {
		return fmt.Errorf("--lease-revoke-rate must be positive, got %d", c.LeaseRevokeRate)
	}
	if c.LeaseCheckpointInterval <= 0 {
		return fmt.Errorf("--lease-checkpoint-interval must be positive, got %v", c.LeaseCheckpointInterval)
	}
	_, err := raftConfig(c, zap.NewNop())
	return err
}

func storageConfig(c *config.Config, log *zap.Logger) storage.Config {
	return storage.Config{Dir: filepath.Join(c.DataDir, "member", "pebble"), Logger: log.Named("pebble")}
}

func urlStrings(us []url.URL) []string {
	out := make([]string, len(us))
	for i := range us {
		out[i] = us[i].String()
	}
	return out
}

func raftConfig(c *config.Config, log *zap.Logger) (raftlog.Config, error) {
	members, err := c.InitialClusterMap()
	if err != nil {
		return raftlog.Config{}, err
	}
	if len(members) > 1 {
		return raftlog.Config{}, fmt.Errorf("--initial-cluster names %d members: Cairn runs single-member clusters only for now", len(members))
	}
	urls, ok := members[c.Name]
	if !ok {
		return raftlog.Config{}, fmt.Errorf("couldn't find local name %q in the initial cluster configuration", c.Name)
	}
	id := memberID(urlStrings(urls), c.InitialClusterToken)
	return raftlog.Config{
		ClusterID:       clusterID([]uint64{id}),
		MemberID:        id,
		TickInterval:    c.HeartbeatInterval,
		ProposalTimeout: 5*time.Second + 2*c.ElectionTimeout,
		ElectionTicks:   c.ElectionTicks(),
		SnapshotCount:   c.SnapshotCount,
		CatchUpEntries:  c.SnapshotCatchUpEntries,
		Logger:          log.Named("raft"),
	}, nil
}

func kvConfig(c *config.Config) kv.Config {
	return kv.Config{MaxRequestBytes: c.MaxRequestBytes, MaxTxnOps: c.MaxTxnOps}
}

func serverConfig(c *config.Config) server.Config {
	return server.Config{
		ListenClientURLs:     c.ListenClientURLs,
		MaxRequestBytes:      c.MaxRequestBytes,
		MaxConcurrentStreams: c.MaxConcurrentStreams,
		Version:              version.Cairn,
		EtcdVersion:          version.Etcd,
		EnablePprof:          c.EnablePprof,
	}
}

func clusterMember(c *config.Config) cluster.Member {
	return cluster.Member{
		Name:       c.Name,
		PeerURLs:   urlStrings(c.InitialAdvertisePeerURLs),
		ClientURLs: urlStrings(c.AdvertiseClientURLs),
	}
}

// leaseConfig is etcd's lessor configuration: the minimum TTL derived from
// raft's timing as etcd derives it (ceil(3*electionTicks/2 × heartbeat)),
// checkpointing as etcd's LeaseCheckpoint feature gate says, and Cairn's
// --lease-revoke-rate.
func leaseConfig(c *config.Config) lease.Config {
	minTTL := time.Duration((3*c.ElectionTicks())/2) * c.HeartbeatInterval
	return lease.Config{
		MinTTL:             int64(math.Ceil(minTTL.Seconds())),
		RevokeRate:         c.LeaseRevokeRate,
		Checkpoint:         c.FeatureEnabled(config.FeatureLeaseCheckpoint),
		CheckpointInterval: c.LeaseCheckpointInterval,
		ExpiredRetry:       5*time.Second + 2*c.ElectionTimeout,
	}
}

func leaseServiceConfig(c *config.Config) lease.ServiceConfig {
	return lease.ServiceConfig{
		MaxRequestBytes: c.MaxRequestBytes,
		ElectionTimeout: c.ElectionTimeout,
		RequestTimeout:  5*time.Second + 2*c.ElectionTimeout,
	}
}

func services(k *kv.Service, m *maintenance.Service, c *cluster.Service, l *lease.Service, w *watch.Service) server.Services {
	return server.Services{KV: k, Maintenance: m, Cluster: c, Lease: l, Watch: w}
}

// health is etcd's /health: a leader and a linearizable read within a second.
func health(n *raftlog.Node) server.HealthFunc {
	return func(ctx context.Context) error {
		if n.Status().Leader == 0 {
			return errors.New("RAFT NO LEADER")
		}
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := n.ReadIndex(ctx); err != nil {
			return fmt.Errorf("QGET ERROR: %w", err)
		}
		return nil
	}
}
