// Package etcdchild runs etcd — go.etcd.io/etcd/server/v3/embed at the
// version tools/bench's go.mod pins — in the foreground of this process, with
// etcd's own flags and defaults. The bench tool re-executes itself as such a
// child (see procs.EtcdChildEnv) so that etcd runs in a process of its own,
// measured and stopped exactly like cairn, and never shares the load
// generator's memory or runtime.
package etcdchild

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/embed"
)

// Version is the etcd release this program embeds.
var Version = version.Version

// Main starts etcd with args (etcd's flags; every flag not given keeps
// etcd's default) and serves until SIGTERM or SIGINT. It returns the exit
// code.
func Main(args []string) int {
	cfg := embed.NewConfig()
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	fs.StringVar(&cfg.Name, "name", cfg.Name, "member name")
	fs.StringVar(&cfg.Dir, "data-dir", "", "data dir (default ${name}.etcd)")
	lcu := fs.String("listen-client-urls", embed.DefaultListenClientURLs, "")
	acu := fs.String("advertise-client-urls", embed.DefaultAdvertiseClientURLs, "")
	lpu := fs.String("listen-peer-urls", embed.DefaultListenPeerURLs, "")
	apu := fs.String("initial-advertise-peer-urls", embed.DefaultInitialAdvertisePeerURLs, "")
	ic := fs.String("initial-cluster", "", "(default ${name}=<initial-advertise-peer-urls>)")
	fs.Int64Var(&cfg.QuotaBackendBytes, "quota-backend-bytes", cfg.QuotaBackendBytes, "")
	fs.UintVar(&cfg.MaxTxnOps, "max-txn-ops", cfg.MaxTxnOps, "")
	fs.UintVar(&cfg.MaxRequestBytes, "max-request-bytes", cfg.MaxRequestBytes, "")
	fs.Uint64Var(&cfg.SnapshotCount, "snapshot-count", cfg.SnapshotCount, "")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "etcd: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if cfg.Dir == "" {
		cfg.Dir = cfg.Name + ".etcd"
	}
	var err error
	for _, u := range []struct {
		dst *[]url.URL
		s   string
	}{{&cfg.ListenClientUrls, *lcu}, {&cfg.AdvertiseClientUrls, *acu}, {&cfg.ListenPeerUrls, *lpu}, {&cfg.AdvertisePeerUrls, *apu}} {
		if *u.dst, err = parseURLs(u.s); err != nil {
			fmt.Fprintln(os.Stderr, "etcd:", err)
			return 2
		}
	}
	cfg.InitialCluster = *ic
	if cfg.InitialCluster == "" {
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	}
	cfg.LogOutputs = []string{"stderr"}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd: start:", err)
		return 1
	}
	select {
	case <-sig:
		e.Close()
		return 0
	case err := <-e.Err():
		fmt.Fprintln(os.Stderr, "etcd:", err)
		e.Close()
		return 1
	}
}

func parseURLs(s string) ([]url.URL, error) {
	var out []url.URL
	for _, p := range strings.Split(s, ",") {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}
