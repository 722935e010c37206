package config

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSideBySideWithEtcd runs a real etcd 3.6 binary, named by CAIRN_ETCD_BINARY, on every
// configuration the tests above expect to be rejected, and checks that etcd rejects it the
// same way: same kind of failure (flag error and usage, or "failed to verify flags", or fatal
// shadowed variable) and the same message. Build etcd as DESIGN.md says (a module requiring
// go.etcd.io/etcd/server/v3 at v3.6.x with main calling etcdmain.Main(os.Args)).
func TestSideBySideWithEtcd(t *testing.T) {
	bin := os.Getenv("CAIRN_ETCD_BINARY")
	if bin == "" {
		t.Skip("CAIRN_ETCD_BINARY is not set")
	}
	for _, tt := range errorCases {
		if tt.etcdAtStart {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			compareWithEtcd(t, bin, tt.args, tt.env)
		})
	}
	for _, tt := range configFileErrorCases {
		t.Run("file/"+tt.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, tt.file)
			compareWithEtcd(t, bin, []string{"--config-file", p}, nil)
		})
	}
	t.Run("shadowed", func(t *testing.T) {
		compareWithEtcd(t, bin, []string{"--name=a"}, []string{"ETCD_NAME=b"})
	})
	t.Run("shadowed by empty", func(t *testing.T) {
		compareWithEtcd(t, bin, []string{"--name=a"}, []string{"ETCD_NAME="})
	})
}

// outcome is how a configuration was rejected.
type outcome struct {
	kind string // "flag", "verify", "fatal", "help", "version"
	msg  string
}

func compareWithEtcd(t *testing.T, bin string, args, env []string) {
	t.Helper()
	want := runEtcd(t, bin, args, env)

	_, err := parse(args, environ(env), noHost)
	var got outcome
	var fe *FlagError
	var shadowed *EnvShadowedError
	switch {
	case errors.Is(err, flag.ErrHelp):
		got = outcome{"help", ""}
	case errors.Is(err, ErrPrintVersion):
		got = outcome{"version", ""}
	case errors.As(err, &fe):
		got = outcome{"flag", fe.Error()}
	case errors.As(err, &shadowed):
		got = outcome{"fatal", EnvShadowedMsg + " " + shadowed.Var}
	case err != nil:
		got = outcome{"verify", err.Error()}
	default:
		got = outcome{"accepted", ""}
	}
	if got != want {
		t.Errorf("args %q env %q:\n cairn: %+v\n  etcd: %+v", args, env, got, want)
	}
}

func runEtcd(t *testing.T, bin string, args, env []string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("etcd did not exit: it accepted %q", args)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	switch code {
	case 0:
		if strings.Contains(stdout.String(), "etcd Version:") {
			return outcome{"version", ""}
		}
		return outcome{"help", ""}
	case 2:
		// A panic is how etcd rejects an unknown log level; Cairn returns zap's message.
		if msg, ok := strings.CutPrefix(lines[0], "panic: "); ok {
			return outcome{"verify", msg}
		}
		if len(lines) < 2 || lines[1] != "Usage:" {
			t.Fatalf("exit 2 without usage:\n%s", stderr.String())
		}
		return outcome{"flag", lines[0]}
	}
	sc := bufio.NewScanner(&stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for _, line := range lines {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil {
			// Config file URL errors are printed plainly before exiting 1.
			if strings.HasPrefix(line, "unexpected error setting up") {
				return outcome{"verify", line}
			}
			continue
		}
		switch {
		case entry["level"] == "fatal":
			return outcome{"fatal", entry["msg"].(string) + " " + entry["environment-variable"].(string)}
		case entry["msg"] == "failed to verify flags":
			return outcome{"verify", entry["error"].(string)}
		}
	}
	t.Fatalf("unrecognised etcd output (exit %d):\n%s", code, stderr.String())
	return outcome{}
}

// TestSideBySideAcceptedWithEtcd starts the etcd binary named by CAIRN_ETCD_BINARY on
// configurations it accepts (on free local ports), reads the configuration etcd logs as it
// starts ("starting an etcd server"), stops it, and compares with what Parse gives. The
// default host detection is the real one on both sides.
func TestSideBySideAcceptedWithEtcd(t *testing.T) {
	bin := os.Getenv("CAIRN_ETCD_BINARY")
	if bin == "" {
		t.Skip("CAIRN_ETCD_BINARY is not set")
	}
	type tc struct {
		name string
		args func(peer, client string) []string
		env  func(peer, client string) []string
		file func(peer, client string) string
	}
	local := func(p, c string) []string {
		return []string{"--listen-peer-urls=http://127.0.0.1:" + p, "--listen-client-urls=http://127.0.0.1:" + c,
			"--advertise-client-urls=http://127.0.0.1:" + c}
	}
	tests := []tc{
		{name: "listen only", args: local},
		{name: "name", args: func(p, c string) []string { return append(local(p, c), "--name=infra0") }},
		{name: "name and advertise", args: func(p, c string) []string {
			return append(local(p, c), "--name=infra0", "--initial-advertise-peer-urls=http://127.0.0.1:"+p+",http://localhost:"+p,
				"--initial-cluster=infra0=http://127.0.0.1:"+p+",infra0=http://localhost:"+p)
		}},
		{name: "all zero addresses", args: func(p, c string) []string {
			return []string{"--name=m1", "--listen-peer-urls=http://0.0.0.0:" + p, "--listen-client-urls=http://0.0.0.0:" + c,
				"--advertise-client-urls=http://localhost:2379"}
		}},
		{name: "values", args: func(p, c string) []string {
			return append(local(p, c), "--name=v", "--data-dir=d", "--wal-dir=w", "--snapshot-count=77", "--heartbeat-interval=50",
				"--election-timeout=700", "--max-request-bytes=1000", "--max-concurrent-streams=9", "--quota-backend-bytes=123456",
				"--initial-cluster-state=existing", "--initial-cluster-token=tok", "--pre-vote=false", "--cors=http://a:1",
				"--host-whitelist=h1,h2", "--auto-compaction-mode=revision", "--auto-compaction-retention=100",
				"--snapshot-catchup-entries=10", "--max-wals=2")
		}},
		{name: "env", args: func(p, c string) []string { return nil }, env: func(p, c string) []string {
			return []string{"ETCD_NAME=e1", "ETCD_LISTEN_PEER_URLS=http://127.0.0.1:" + p, "ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:" + c,
				"ETCD_ADVERTISE_CLIENT_URLS=http://127.0.0.1:" + c, "ETCD_AUTO_COMPACTION_RETENTION=2h"}
		}},
		{name: "config file", file: func(p, c string) string {
			return strings.NewReplacer("2380", p, "2379", c, "localhost", "127.0.0.1").Replace(etcdSample)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer, client := freePort(t), freePort(t)
			var args, env []string
			if tt.args != nil {
				args = tt.args(peer, client)
			}
			if tt.env != nil {
				env = tt.env(peer, client)
			}
			if tt.file != nil {
				args = []string{"--config-file", writeFile(t, tt.file(peer, client))}
			}
			etcdFields := startEtcd(t, bin, args, env)
			cfg, err := Parse(args, env)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ic, err := cfg.InitialClusterMap()
			if err != nil {
				t.Fatal(err)
			}
			retention, _ := cfg.AutoCompactionRetentionDuration()
			ours := map[string]any{
				"name":                          cfg.Name,
				"data-dir":                      cfg.DataDir,
				"wal-dir":                       cfg.WALDir,
				"heartbeat-interval":            cfg.HeartbeatInterval.String(),
				"election-timeout":              (time.Duration(cfg.ElectionTicks()) * cfg.HeartbeatInterval).String(),
				"initial-election-tick-advance": cfg.InitialElectionTickAdvance,
				"snapshot-count":                float64(cfg.SnapshotCount),
				"max-wals":                      float64(cfg.MaxWALs),
				"max-snapshots":                 float64(cfg.MaxSnapshots),
				"snapshot-catchup-entries":      float64(cfg.SnapshotCatchUpEntries),
				"initial-advertise-peer-urls":   anyStrings(urlStrings(cfg.InitialAdvertisePeerURLs)),
				"listen-peer-urls":              anyStrings(urlStrings(cfg.ListenPeerURLs)),
				"advertise-client-urls":         anyStrings(urlStrings(cfg.AdvertiseClientURLs)),
				"listen-client-urls":            anyStrings(urlStrings(cfg.ListenClientURLs)),
				"listen-metrics-urls":           anyStrings(urlStrings(cfg.ListenMetricsURLs)),
				"cors":                          anyStrings(cfg.CORS),
				"host-whitelist":                anyStrings(cfg.HostWhitelist),
				"initial-cluster":               urlsMapString(ic),
				"initial-cluster-state":         cfg.InitialClusterState,
				"initial-cluster-token":         cfg.InitialClusterToken,
				"quota-backend-bytes":           float64(cfg.EffectiveQuotaBackendBytes()),
				"max-request-bytes":             float64(cfg.MaxRequestBytes),
				"max-concurrent-streams":        float64(cfg.MaxConcurrentStreams),
				"pre-vote":                      cfg.PreVote,
				"auto-compaction-mode":          cfg.AutoCompactionMode,
				"auto-compaction-interval":      retention.String(),
				"discovery-dial-timeout":        cfg.Discovery.DialTimeout.String(),
				"discovery-insecure-transport":  cfg.Discovery.InsecureTransport,
				"compact-check-time-interval":   cfg.CompactHashCheckTime.String(),
			}
			for k, v := range ours {
				ev, ok := etcdFields[k]
				if !ok {
					t.Errorf("etcd logged no %q", k)
					continue
				}
				if f, isNum := ev.(float64); isNum && k == "compact-check-time-interval" {
					ev = time.Duration(f * float64(time.Second)).String()
				}
				if !jsonEqual(ev, v) {
					t.Errorf("%s: cairn %#v, etcd %#v", k, v, ev)
				}
			}
		})
	}
}

func anyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) == "null" {
		ja = []byte("[]")
	}
	if string(jb) == "null" {
		jb = []byte("[]")
	}
	return bytes.Equal(ja, jb)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// startEtcd starts etcd, waits for the log line with its configuration, and stops it.
func startEtcd(t *testing.T, bin string, args, env []string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append([]string{}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	var seen []string
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		seen = append(seen, sc.Text())
		var entry map[string]any
		if json.Unmarshal(sc.Bytes(), &entry) == nil && entry["msg"] == "starting an etcd server" {
			return entry
		}
	}
	t.Fatalf("etcd did not log its configuration:\n%s", strings.Join(seen, "\n"))
	return nil
}
