package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver"
)

// Environment knobs.
const (
	// envEtcdOnly=1 runs every scenario against etcd alone, =2 against two
	// etcds side by side (which exercises every comparison): for developing
	// the scenarios themselves while cairn does not build.
	envEtcdOnly = "CAIRN_E2E_ETCD_ONLY"
	// envCairnBin uses a prebuilt cairn binary instead of building ./app/cairn.
	envCairnBin = "CAIRN_E2E_CAIRN_BIN"
	// envLogDir keeps every server's full log in that directory.
	envLogDir = "CAIRN_E2E_LOG_DIR"
	// envVerbose=1 logs every step's answers.
	envVerbose = "CAIRN_E2E_VERBOSE"
	// envEtcdChild turns the test binary into an etcd server (see runEtcdChild).
	envEtcdChild = "CAIRN_E2E_ETCD_CHILD"
)

func etcdOnly() bool  { v := os.Getenv(envEtcdOnly); return v == "1" || v == "2" }
func etcdTwice() bool { return os.Getenv(envEtcdOnly) == "2" }

// binaries are built once per run, in the background, while the first tests start.
type binaries struct {
	cairnDone, ctlDone sync.WaitGroup
	cairn, ctl         string
	cairnErr, ctlErr   error
}

var bins binaries

func TestMain(m *testing.M) {
	if os.Getenv(envEtcdChild) == "1" {
		os.Exit(runEtcdChild(os.Args[1:]))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "cairn-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// etcdctl is a pinned `tool` of this module: build it from here.
	bins.ctlDone.Add(1)
	go func() {
		defer bins.ctlDone.Done()
		bins.ctl = filepath.Join(tmp, "etcdctl")
		bins.ctlErr = goBuild(ctx, ".", bins.ctl, "go.etcd.io/etcd/etcdctl/v3")
	}()

	bins.cairnDone.Add(1)
	go func() {
		defer bins.cairnDone.Done()
		if etcdOnly() {
			bins.cairnErr = errors.New(envEtcdOnly + " is set: cairn is not used")
			return
		}
		if p := os.Getenv(envCairnBin); p != "" {
			bins.cairn = p
			if _, err := os.Stat(p); err != nil {
				bins.cairnErr = fmt.Errorf("%s: %w", envCairnBin, err)
			}
			return
		}
		root, err := repoRoot()
		if err != nil {
			bins.cairnErr = err
			return
		}
		bins.cairn = filepath.Join(tmp, "cairn")
		bins.cairnErr = goBuild(ctx, root, bins.cairn, "./app/cairn")
	}()

	code := m.Run()
	cancel()
	bins.ctlDone.Wait()
	bins.cairnDone.Wait()
	return code
}

// repoRoot is ../.. from this package, checked by its go.mod.
func repoRoot() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("repo root: %w", err)
	}
	if !bytes.HasPrefix(mod, []byte("module github.com/cairnkv/cairn\n")) {
		return "", fmt.Errorf("repo root %s: go.mod is not github.com/cairnkv/cairn's", root)
	}
	return root, nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func goBuild(ctx context.Context, dir, out, pkg string) error {
	ctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", out, pkg)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build -o %s %s (in %s): %w\n%s", out, pkg, dir, err, buf.String())
	}
	return nil
}

// cairnBinary returns the built cairn binary or fails the test: a cairn that
// does not build is a failure, never a skip.
func cairnBinary(t testing.TB) string {
	t.Helper()
	bins.cairnDone.Wait()
	if bins.cairnErr != nil {
		t.Fatalf("cairn binary: %v", bins.cairnErr)
	}
	return bins.cairn
}

func etcdctlBinary(t testing.TB) string {
	t.Helper()
	bins.ctlDone.Wait()
	if bins.ctlErr != nil {
		t.Fatalf("etcdctl binary: %v", bins.ctlErr)
	}
	return bins.ctl
}

// runEtcdChild makes this test binary an etcd 3.6 server built with
// go.etcd.io/etcd/server/v3/embed, started with the same command line as cairn.
// Running etcd as a child process (rather than inside the test process) lets
// the tests treat both servers alike: SIGTERM, kill -9, restart on the data dir.
func runEtcdChild(args []string) int {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	name := fs.String("name", "default", "")
	dataDir := fs.String("data-dir", "", "")
	lcu := fs.String("listen-client-urls", "", "")
	acu := fs.String("advertise-client-urls", "", "")
	lpu := fs.String("listen-peer-urls", "", "")
	apu := fs.String("initial-advertise-peer-urls", "", "")
	ic := fs.String("initial-cluster", "", "")
	maxReq := fs.Uint("max-request-bytes", embed.DefaultMaxRequestBytes, "")
	maxTxn := fs.Uint("max-txn-ops", embed.DefaultMaxTxnOps, "")
	progress := fs.Duration("watch-progress-notify-interval", 0, "")
	snapCount := fs.Uint64("snapshot-count", etcdserver.DefaultSnapshotCount, "")
	snapCatchUp := fs.Uint64("snapshot-catchup-entries", etcdserver.DefaultSnapshotCatchUpEntries, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dataDir
	var err error
	for _, u := range []struct {
		dst *[]url.URL
		s   string
	}{{&cfg.ListenClientUrls, *lcu}, {&cfg.AdvertiseClientUrls, *acu}, {&cfg.ListenPeerUrls, *lpu}, {&cfg.AdvertisePeerUrls, *apu}} {
		if *u.dst, err = parseURLs(u.s); err != nil {
			fmt.Fprintln(os.Stderr, "etcd child:", err)
			return 2
		}
	}
	cfg.InitialCluster = *ic
	cfg.MaxRequestBytes = *maxReq
	cfg.MaxTxnOps = *maxTxn
	cfg.WatchProgressNotifyInterval = *progress
	cfg.SnapshotCount = *snapCount
	cfg.SnapshotCatchUpEntries = *snapCatchUp
	cfg.LogOutputs = []string{"stderr"}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd child: start:", err)
		return 1
	}
	select {
	case <-sig:
		e.Close()
		return 0
	case err := <-e.Err():
		fmt.Fprintln(os.Stderr, "etcd child:", err)
		e.Close()
		return 1
	}
}

func parseURLs(s string) ([]url.URL, error) {
	var out []url.URL
	for _, p := range strings.Split(s, ",") {
		u, err := url.Parse(p)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}
