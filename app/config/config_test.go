package config

import (
	"context"
	"errors"
	"flag"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// noHost stands in for a machine whose default host cannot be found, so results do not depend
// on the machine running the tests.
func noHost() (string, error) { return "", errors.New("could not find default route") }

func mustParse(t *testing.T, args, env []string) *Config {
	t.Helper()
	cfg, err := parse(args, environ(env), noHost)
	if err != nil {
		t.Fatalf("parse(%q, %q): %v", args, env, err)
	}
	return cfg
}

func parseErr(args, env []string) error {
	_, err := parse(args, environ(env), noHost)
	return err
}

func urls(ss ...string) []url.URL {
	out := make([]url.URL, len(ss))
	for i, s := range ss {
		u, err := url.Parse(s)
		if err != nil {
			panic(err)
		}
		out[i] = *u
	}
	return out
}

func TestDefaultsMatchEtcd(t *testing.T) {
	cfg := mustParse(t, nil, nil)
	want := &Config{
		Name:                       "default",
		DataDir:                    "default.etcd",
		SnapshotCount:              10000,
		SnapshotCatchUpEntries:     5000,
		MaxSnapshots:               5,
		MaxWALs:                    5,
		HeartbeatInterval:          100 * time.Millisecond,
		ElectionTimeout:            1000 * time.Millisecond,
		InitialElectionTickAdvance: true,
		ListenPeerURLs:             urls("http://localhost:2380"),
		ListenClientURLs:           urls("http://localhost:2379"),
		MaxTxnOps:                  128,
		MaxRequestBytes:            1572864,
		MaxConcurrentStreams:       4294967295,
		GRPCKeepAliveMinTime:       5 * time.Second,
		GRPCKeepAliveInterval:      2 * time.Hour,
		GRPCKeepAliveTimeout:       20 * time.Second,
		EnableGRPCGateway:          true,
		RaftReadTimeout:            5 * time.Second,
		RaftWriteTimeout:           5 * time.Second,
		FeatureGates: map[string]bool{
			FeatureStopGRPCServiceOnDefrag: false, FeatureInitialCorruptCheck: false,
			FeatureCompactHashCheck: false, FeatureTxnModeWriteWithSharedBuffer: true,
			// Cairn's one difference: lease checkpointing is on by default.
			FeatureLeaseCheckpoint: true, FeatureLeaseCheckpointPersist: false,
			FeatureSetMemberLocalAddr: false,
		},
		InitialAdvertisePeerURLs: urls("http://localhost:2380"),
		AdvertiseClientURLs:      urls("http://localhost:2379"),
		InitialCluster:           "default=http://localhost:2380",
		InitialClusterState:      "new",
		InitialClusterToken:      "etcd-cluster",
		Discovery: Discovery{
			Fallback:          "exit",
			DialTimeout:       2 * time.Second,
			RequestTimeout:    5 * time.Second,
			KeepAliveTime:     2 * time.Second,
			KeepAliveTimeout:  6 * time.Second,
			InsecureTransport: true,
		},
		StrictReconfigCheck:         true,
		PreVote:                     true,
		AutoCompactionMode:          "periodic",
		AutoCompactionRetention:     "0",
		V2Deprecation:               "write-only",
		SelfSignedCertValidity:      1,
		TLSMinVersion:               "TLS1.2",
		CORS:                        []string{"*"},
		HostWhitelist:               []string{"*"},
		AuthToken:                   "simple",
		BcryptCost:                  10,
		AuthTokenTTL:                300,
		Metrics:                     "basic",
		Logger:                      "zap",
		LogLevel:                    "info",
		LogFormat:                   "json",
		LogOutputs:                  []string{"default"},
		LogRotationConfigJSON:       `{"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false}`,
		WarningUnaryRequestDuration: 300 * time.Millisecond,
		WarningApplyDuration:        100 * time.Millisecond,
		Tracing:                     Tracing{Address: "localhost:4317", ServiceName: "etcd"},
		CompactHashCheckTime:        time.Minute,
		DowngradeCheckTime:          5 * time.Second,
		MaxLearners:                 1,
		LeaseRevokeRate:             1000,
		LeaseCheckpointInterval:     5 * time.Minute,
		FlagsExplicitlySet:          map[string]bool{},
		Unimplemented:               map[string]string{},
	}
	cfg.notes = nil
	if !reflect.DeepEqual(cfg, want) {
		gv, wv := reflect.ValueOf(*cfg), reflect.ValueOf(*want)
		for i := 0; i < gv.NumField(); i++ {
			if !gv.Type().Field(i).IsExported() {
				continue
			}
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("%s = %#v, want %#v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
	}
	if got, want := cfg.EffectiveQuotaBackendBytes(), int64(2<<30); got != want {
		t.Errorf("EffectiveQuotaBackendBytes = %d, want %d", got, want)
	}
	if got := cfg.ElectionTicks(); got != 10 {
		t.Errorf("ElectionTicks = %d, want 10", got)
	}
}

func TestDefaultNotes(t *testing.T) {
	cfg := mustParse(t, nil, nil)
	w := strings.Join(cfg.Warnings(), "\n")
	for _, s := range []string{
		"it isn't recommended to use default name",
		"'data-dir' was empty; using default data-dir=default.etcd",
	} {
		if !strings.Contains(w, s) {
			t.Errorf("warnings lack %q:\n%s", s, w)
		}
	}
	// etcd warns that LeaseCheckpoint (on in Cairn) lacks LeaseCheckpointPersist;
	// Cairn always persists, so the warning would be false.
	if strings.Contains(w, "checkpointing") {
		t.Errorf("warnings mention checkpointing:\n%s", w)
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		name string
		args []string
		get  func(*Config) any
		want any
	}{
		{"string", []string{"--name", "n1"}, func(c *Config) any { return c.Name }, "n1"},
		{"string=", []string{"--name=n1"}, func(c *Config) any { return c.Name }, "n1"},
		{"single dash", []string{"-name", "n1"}, func(c *Config) any { return c.Name }, "n1"},
		{"single dash=", []string{"-name=n1"}, func(c *Config) any { return c.Name }, "n1"},
		{"data-dir", []string{"--data-dir", "/var/lib/x"}, func(c *Config) any { return c.DataDir }, "/var/lib/x"},
		{"wal-dir", []string{"--wal-dir", "/wal"}, func(c *Config) any { return c.WALDir }, "/wal"},
		{"uint64", []string{"--snapshot-count=42"}, func(c *Config) any { return c.SnapshotCount }, uint64(42)},
		{"uint64 hex", []string{"--snapshot-count=0x10"}, func(c *Config) any { return c.SnapshotCount }, uint64(16)},
		{"snapshot-catchup-entries", []string{"--snapshot-catchup-entries=7"}, func(c *Config) any { return c.SnapshotCatchUpEntries }, uint64(7)},
		{"experimental-snapshot-catchup-entries", []string{"--experimental-snapshot-catchup-entries=8"}, func(c *Config) any { return c.SnapshotCatchUpEntries }, uint64(8)},
		{"ms", []string{"--heartbeat-interval=50", "--election-timeout=500"}, func(c *Config) any { return []time.Duration{c.HeartbeatInterval, c.ElectionTimeout} }, []time.Duration{50 * time.Millisecond, 500 * time.Millisecond}},
		{"int64", []string{"--quota-backend-bytes=8589934592"}, func(c *Config) any { return c.QuotaBackendBytes }, int64(8 << 30)},
		{"negative quota", []string{"--quota-backend-bytes=-1"}, func(c *Config) any { return c.EffectiveQuotaBackendBytes() }, int64(-1)},
		{"uint", []string{"--max-txn-ops", "256", "--max-request-bytes", "10485760"}, func(c *Config) any { return []uint{c.MaxTxnOps, c.MaxRequestBytes} }, []uint{256, 10485760}},
		{"uint32", []string{"--max-concurrent-streams=100"}, func(c *Config) any { return c.MaxConcurrentStreams }, uint32(100)},
		{"lease-revoke-rate (Cairn)", []string{"--lease-revoke-rate=50"}, func(c *Config) any { return c.LeaseRevokeRate }, 50},
		{"lease-checkpoint-interval (Cairn)", []string{"--lease-checkpoint-interval=30s"}, func(c *Config) any { return c.LeaseCheckpointInterval }, 30 * time.Second},
		{"lease checkpoint flag", []string{"--experimental-enable-lease-checkpoint"}, func(c *Config) any {
			return []bool{c.FeatureEnabled(FeatureLeaseCheckpoint), c.Unimplemented["experimental-enable-lease-checkpoint"] != ""}
		}, []bool{true, false}},
		{"lease checkpoint gates", []string{"--feature-gates=LeaseCheckpoint=true,LeaseCheckpointPersist=true"}, func(c *Config) any {
			return []bool{c.FeatureEnabled(FeatureLeaseCheckpoint), c.Unimplemented["feature-gates"] != ""}
		}, []bool{true, false}},
		{"other gates stay unimplemented", []string{"--feature-gates=LeaseCheckpoint=true,InitialCorruptCheck=true"}, func(c *Config) any {
			return c.Unimplemented["feature-gates"]
		}, "InitialCorruptCheck=true,LeaseCheckpoint=true"},
		{"duration", []string{"--grpc-keepalive-min-time=1s", "--grpc-keepalive-interval=1m", "--grpc-keepalive-timeout=3s"}, func(c *Config) any {
			return []time.Duration{c.GRPCKeepAliveMinTime, c.GRPCKeepAliveInterval, c.GRPCKeepAliveTimeout}
		}, []time.Duration{time.Second, time.Minute, 3 * time.Second}},
		{"bool bare", []string{"--auto-tls"}, func(c *Config) any { return c.ClientTLS.AutoTLS }, true},
		{"bool =false", []string{"--pre-vote=false"}, func(c *Config) any { return c.PreVote }, false},
		{"bool =0", []string{"-strict-reconfig-check=0"}, func(c *Config) any { return c.StrictReconfigCheck }, false},
		{"bool =true", []string{"--enable-pprof=true"}, func(c *Config) any { return c.EnablePprof }, true},
		{"urls sorted", []string{"--listen-client-urls=http://10.0.0.2:2379,http://10.0.0.1:2379", "--advertise-client-urls=http://a:2379"}, func(c *Config) any { return c.ListenClientURLs }, urls("http://10.0.0.1:2379", "http://10.0.0.2:2379")},
		{"urls dedup", []string{"--listen-peer-urls=http://10.0.0.1:2380,http://10.0.0.1:2380"}, func(c *Config) any { return c.ListenPeerURLs }, urls("http://10.0.0.1:2380")},
		{"urls spaces", []string{"--listen-peer-urls= http://10.0.0.1:2380 , http://10.0.0.2:2380"}, func(c *Config) any { return c.ListenPeerURLs }, urls("http://10.0.0.1:2380", "http://10.0.0.2:2380")},
		{"unix url", []string{"--listen-client-urls=unix://localhost:2379", "--advertise-client-urls=unix://localhost:2379"}, func(c *Config) any { return c.ListenClientURLs }, urls("unix://localhost:2379")},
		{"https url", []string{"--listen-metrics-urls=https://127.0.0.1:2381"}, func(c *Config) any { return c.ListenMetricsURLs }, urls("https://127.0.0.1:2381")},
		{"empty urls keep default", []string{"--listen-peer-urls="}, func(c *Config) any { return c.ListenPeerURLs }, urls("http://localhost:2380")},
		{"advertise", []string{"--initial-advertise-peer-urls=http://10.0.0.1:2380"}, func(c *Config) any { return c.InitialAdvertisePeerURLs }, urls("http://10.0.0.1:2380")},
		{"cluster state", []string{"--initial-cluster-state=existing"}, func(c *Config) any { return c.InitialClusterState }, "existing"},
		{"cluster token", []string{"--initial-cluster-token=tok"}, func(c *Config) any { return c.InitialClusterToken }, "tok"},
		{"log outputs sorted", []string{"--log-outputs=stdout,stderr"}, func(c *Config) any { return c.LogOutputs }, []string{"stderr", "stdout"}},
		{"log level", []string{"--log-level=debug"}, func(c *Config) any { return c.LogLevel }, "debug"},
		{"log format", []string{"--log-format=console"}, func(c *Config) any { return c.LogFormat }, "console"},
		{"strings kept", []string{"--cipher-suites=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, func(c *Config) any { return c.CipherSuites }, []string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}},
		{"tls", []string{"--cert-file=c", "--key-file=k", "--trusted-ca-file=ca", "--client-cert-auth", "--client-cert-file=cc", "--client-key-file=ck", "--client-crl-file=crl", "--client-cert-allowed-hostname=h1,h2"}, func(c *Config) any { return c.ClientTLS },
			TLSInfo{CertFile: "c", KeyFile: "k", TrustedCAFile: "ca", ClientCertAuth: true, ClientCertFile: "cc", ClientKeyFile: "ck", CRLFile: "crl", AllowedHostnames: []string{"h1", "h2"}}},
		{"peer tls", []string{"--peer-cert-file=c", "--peer-key-file=k", "--peer-trusted-ca-file=ca", "--peer-client-cert-auth", "--peer-auto-tls", "--peer-cert-allowed-cn=cn", "--peer-skip-client-san-verification"}, func(c *Config) any { return c.PeerTLS },
			TLSInfo{CertFile: "c", KeyFile: "k", TrustedCAFile: "ca", ClientCertAuth: true, AutoTLS: true, AllowedCNs: []string{"cn"}, SkipClientSANVerify: true}},
		{"experimental san", []string{"--experimental-peer-skip-client-san-verification"}, func(c *Config) any { return c.PeerTLS.SkipClientSANVerify }, true},
		{"tls versions", []string{"--tls-min-version=TLS1.3", "--tls-max-version=TLS1.3"}, func(c *Config) any { return []string{c.TLSMinVersion, c.TLSMaxVersion} }, []string{"TLS1.3", "TLS1.3"}},
		{"auth", []string{"--auth-token=jwt,pub-key=a,priv-key=b,sign-method=RS256", "--bcrypt-cost=4", "--auth-token-ttl=60"}, func(c *Config) any { return []any{c.AuthToken, c.BcryptCost, c.AuthTokenTTL} }, []any{"jwt,pub-key=a,priv-key=b,sign-method=RS256", uint(4), uint(60)}},
		{"metrics", []string{"--metrics=extensive"}, func(c *Config) any { return c.Metrics }, "extensive"},
		{"compaction", []string{"--auto-compaction-mode=revision", "--auto-compaction-retention=1000"}, func(c *Config) any { return []string{c.AutoCompactionMode, c.AutoCompactionRetention} }, []string{"revision", "1000"}},
		{"feature gates", []string{"--feature-gates=InitialCorruptCheck=true,CompactHashCheck=true"}, func(c *Config) any {
			return []bool{c.FeatureEnabled(FeatureInitialCorruptCheck), c.FeatureEnabled(FeatureCompactHashCheck), c.FeatureEnabled(FeatureLeaseCheckpoint)}
		}, []bool{true, true, true}},
		{"feature gates accumulate", []string{"--feature-gates=InitialCorruptCheck=true", "--feature-gates=CompactHashCheck=true"}, func(c *Config) any {
			return []bool{c.FeatureEnabled(FeatureInitialCorruptCheck), c.FeatureEnabled(FeatureCompactHashCheck)}
		}, []bool{true, true}},
		{"AllAlpha", []string{"--feature-gates=AllAlpha=true,LeaseCheckpointPersist=false"}, func(c *Config) any {
			return []bool{c.FeatureEnabled(FeatureLeaseCheckpoint), c.FeatureEnabled(FeatureLeaseCheckpointPersist), c.FeatureEnabled(FeatureTxnModeWriteWithSharedBuffer)}
		}, []bool{true, false, true}},
		{"experimental bool to gate", []string{"--experimental-initial-corrupt-check"}, func(c *Config) any { return c.FeatureEnabled(FeatureInitialCorruptCheck) }, true},
		{"experimental duration to successor", []string{"--experimental-watch-progress-notify-interval=5s"}, func(c *Config) any { return c.WatchProgressNotifyInterval }, 5 * time.Second},
		{"warning unary", []string{"--experimental-warning-unary-request-duration=1s"}, func(c *Config) any { return c.WarningUnaryRequestDuration }, time.Second},
		{"v2 deprecation forced", []string{"--v2-deprecation=gone"}, func(c *Config) any { return c.V2Deprecation }, "write-only"},
		{"v2 deprecation skip check", []string{"--v2-deprecation=write-only-skip-check"}, func(c *Config) any { return c.V2Deprecation }, "write-only-skip-check"},
		{"raft timeout floor", []string{"--raft-read-timeout=1s"}, func(c *Config) any { return c.RaftReadTimeout }, 5 * time.Second},
		{"raft timeout", []string{"--raft-write-timeout=10s"}, func(c *Config) any { return c.RaftWriteTimeout }, 10 * time.Second},
		{"cors", []string{"--cors=http://a.example:80,http://b.example:80"}, func(c *Config) any { return c.CORS }, []string{"http://a.example:80", "http://b.example:80"}},
		{"host whitelist", []string{"--host-whitelist=b,a"}, func(c *Config) any { return c.HostWhitelist }, []string{"a", "b"}},
		{"ignored flag", []string{"-v", "--force"}, func(c *Config) any { return c.Name }, "default"},
		{"discovery clears initial cluster", []string{"--discovery-srv=example.com"}, func(c *Config) any { return c.InitialCluster }, ""},
		{"listen-client-urls with advertise", []string{"--listen-client-urls=http://0.0.0.0:2379", "--advertise-client-urls=http://10.0.0.1:2379"}, func(c *Config) any { return c.AdvertiseClientURLs }, urls("http://10.0.0.1:2379")},
		{"max learners", []string{"--max-learners=3"}, func(c *Config) any { return c.MaxLearners }, 3},
		{"unsafe", []string{"--unsafe-no-fsync", "--force-new-cluster"}, func(c *Config) any { return []bool{c.UnsafeNoFsync, c.ForceNewCluster} }, []bool{true, true}},
		{"tracing", []string{"--enable-distributed-tracing", "--distributed-tracing-sampling-rate=100"}, func(c *Config) any { return c.Tracing }, Tracing{Enabled: true, Address: "localhost:4317", ServiceName: "etcd", SamplingRatePerMillion: 100}},
		{"socket opts", []string{"--socket-reuse-port", "--socket-reuse-address"}, func(c *Config) any { return []bool{c.SocketReusePort, c.SocketReuseAddress} }, []bool{true, true}},
		{"backend", []string{"--backend-batch-interval=10ms", "--backend-batch-limit=5", "--backend-bbolt-freelist-type=array"}, func(c *Config) any { return []any{c.BackendBatchInterval, c.BackendBatchLimit, c.BackendFreelistType} }, []any{10 * time.Millisecond, 5, "array"}},
		{"last wins", []string{"--name=a", "--name=b"}, func(c *Config) any { return c.Name }, "b"},
		{"double dash ends flags", []string{"--name=a", "--"}, func(c *Config) any { return c.Name }, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.args, nil)
			if got := tt.get(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDerivedDefaults(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		dataDir        string
		initialCluster string
	}{
		{"default", nil, "default.etcd", "default=http://localhost:2380"},
		{"name only", []string{"--name=infra0"}, "infra0.etcd", "infra0=http://localhost:2380"},
		{"name and peer url", []string{"--name=infra0", "--initial-advertise-peer-urls=http://10.0.1.10:2380"}, "infra0.etcd", "infra0=http://10.0.1.10:2380"},
		// etcd derives the default initial cluster from the default name only when --name changes.
		{"peer url only", []string{"--initial-advertise-peer-urls=http://10.0.1.10:2380"}, "default.etcd", "default=http://localhost:2380"},
		{"several peer urls", []string{"--name=a", "--initial-advertise-peer-urls=http://10.0.0.2:2380,http://10.0.0.1:2380"}, "a.etcd", "a=http://10.0.0.1:2380,a=http://10.0.0.2:2380"},
		{"explicit initial cluster kept", []string{"--name=a", "--initial-cluster=a=http://1.2.3.4:2380,b=http://1.2.3.5:2380"}, "a.etcd", "a=http://1.2.3.4:2380,b=http://1.2.3.5:2380"},
		{"explicit data dir", []string{"--name=a", "--data-dir=/d"}, "/d", "a=http://localhost:2380"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.args, nil)
			if cfg.DataDir != tt.dataDir {
				t.Errorf("DataDir = %q, want %q", cfg.DataDir, tt.dataDir)
			}
			if cfg.InitialCluster != tt.initialCluster {
				t.Errorf("InitialCluster = %q, want %q", cfg.InitialCluster, tt.initialCluster)
			}
		})
	}
}

func TestDefaultHostAdvertised(t *testing.T) {
	host := func() (string, error) { return "192.0.2.7", nil }
	cfg, err := parse([]string{"--name=m1", "--listen-peer-urls=http://0.0.0.0:12380", "--listen-client-urls=http://0.0.0.0:12379", "--advertise-client-urls=http://localhost:2379"}, nil, host)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := urlStrings(cfg.InitialAdvertisePeerURLs), []string{"http://192.0.2.7:12380"}; !slices.Equal(got, want) {
		t.Errorf("InitialAdvertisePeerURLs = %q, want %q", got, want)
	}
	if got, want := urlStrings(cfg.AdvertiseClientURLs), []string{"http://192.0.2.7:12379"}; !slices.Equal(got, want) {
		t.Errorf("AdvertiseClientURLs = %q, want %q", got, want)
	}
	if got, want := cfg.InitialCluster, "m1=http://192.0.2.7:12380"; got != want {
		t.Errorf("InitialCluster = %q, want %q", got, want)
	}
	if !strings.Contains(notesText(cfg), "detected default host for advertise host=192.0.2.7") {
		t.Errorf("notes lack the detected host:\n%s", notesText(cfg))
	}

	// Listening on a specific address: nothing is replaced.
	cfg, err = parse([]string{"--listen-peer-urls=http://127.0.0.1:2380"}, nil, host)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := urlStrings(cfg.InitialAdvertisePeerURLs), []string{"http://localhost:2380"}; !slices.Equal(got, want) {
		t.Errorf("InitialAdvertisePeerURLs = %q, want %q", got, want)
	}
}

func TestParseUsesMachine(t *testing.T) {
	// Parse (not parse) runs the real default-host detection; whatever it finds, defaults parse.
	if _, err := Parse(nil, nil); err != nil {
		t.Fatal(err)
	}
}

func notesText(c *Config) string {
	var b strings.Builder
	for _, n := range c.Notes() {
		b.WriteString(n.Level.String() + " " + n.String() + "\n")
	}
	return b.String()
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		get  func(*Config) any
		want any
	}{
		{"name", nil, []string{"ETCD_NAME=n1"}, func(c *Config) any { return c.Name }, "n1"},
		{"dashes to underscores", nil, []string{"ETCD_INITIAL_CLUSTER_STATE=existing"}, func(c *Config) any { return c.InitialClusterState }, "existing"},
		{"urls", nil, []string{"ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:2379", "ETCD_ADVERTISE_CLIENT_URLS=http://127.0.0.1:2379"}, func(c *Config) any { return urlStrings(c.ListenClientURLs) }, []string{"http://127.0.0.1:2379"}},
		{"bool", nil, []string{"ETCD_CLIENT_CERT_AUTH=true"}, func(c *Config) any { return c.ClientTLS.ClientCertAuth }, true},
		{"duration", nil, []string{"ETCD_GRPC_KEEPALIVE_TIMEOUT=7s"}, func(c *Config) any { return c.GRPCKeepAliveTimeout }, 7 * time.Second},
		{"data dir follows env name", nil, []string{"ETCD_NAME=n1"}, func(c *Config) any { return []string{c.DataDir, c.InitialCluster} }, []string{"n1.etcd", "n1=http://localhost:2380"}},
		{"flag and env on different flags", []string{"--name=a"}, []string{"ETCD_SNAPSHOT_COUNT=5"}, func(c *Config) any { return []any{c.Name, c.SnapshotCount} }, []any{"a", uint64(5)}},
		{"empty value ignored", nil, []string{"ETCD_NAME="}, func(c *Config) any { return c.Name }, "default"},
		{"first entry wins", nil, []string{"ETCD_NAME=first", "ETCD_NAME=second"}, func(c *Config) any { return c.Name }, "first"},
		{"other variables ignored", nil, []string{"HOME=/root", "PATH=/bin", "ETCDCTL_API=3"}, func(c *Config) any { return c.Name }, "default"},
		{"explicitly set", nil, []string{"ETCD_MAX_TXN_OPS=10"}, func(c *Config) any { return c.FlagsExplicitlySet["max-txn-ops"] }, true},
		{"ETCD_VERSION does not print", nil, []string{"ETCD_VERSION=true"}, func(c *Config) any { return c.Name }, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.args, tt.env)
			if got := tt.get(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEnvNotes(t *testing.T) {
	cfg := mustParse(t, nil, []string{"ETCD_NAME=n1", "ETCD_NO_SUCH_FLAG=1", "ETCD_VERSION=1", "ETCD_DATA_DIR=", "NOEQUALS"})
	text := notesText(cfg)
	for _, s := range []string{
		"info recognized and used environment variable variable-name=ETCD_NAME variable-value=n1",
		"warn unrecognized environment variable environment-variable=ETCD_NO_SUCH_FLAG=1",
		"warn cannot set special environment variable key=ETCD_VERSION value=1",
		// etcd treats a set-but-empty variable of a known flag as unrecognized.
		"warn unrecognized environment variable environment-variable=ETCD_DATA_DIR=",
		"warn found invalid environment variable environment-variable=NOEQUALS",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("notes lack %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "environment-variable=ETCD_VERSION") {
		t.Errorf("ETCD_VERSION reported as unrecognized:\n%s", text)
	}
}

func TestEnvShadowedByFlag(t *testing.T) {
	// etcd exits (fatal) when a flag is given both ways.
	err := parseErr([]string{"--name=a"}, []string{"ETCD_NAME=b"})
	var shadowed *EnvShadowedError
	if !errors.As(err, &shadowed) || shadowed.Var != "ETCD_NAME" {
		t.Fatalf("err = %v, want *EnvShadowedError for ETCD_NAME", err)
	}
	if got, want := err.Error(), "conflicting environment variable is shadowed by corresponding command-line flag (either unset environment variable or disable flag)): environment-variable=ETCD_NAME"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// Even when the flag has the same value.
	if err := parseErr([]string{"--name=a"}, []string{"ETCD_NAME=a"}); !errors.As(err, &shadowed) {
		t.Errorf("same value: err = %v, want *EnvShadowedError", err)
	}
	// Even an empty variable conflicts (checked against etcd 3.6.16).
	if err := parseErr([]string{"--name=a"}, []string{"ETCD_NAME="}); !errors.As(err, &shadowed) {
		t.Errorf("empty: err = %v, want *EnvShadowedError", err)
	}
	// The conflict is found before a bad value in another variable is reported.
	if err := parseErr([]string{"--name=a"}, []string{"ETCD_SNAPSHOT_COUNT=x", "ETCD_NAME=b"}); !errors.As(err, &shadowed) {
		t.Errorf("err = %v, want *EnvShadowedError", err)
	}
}

// errorCases are command lines and environments etcd rejects, with etcd 3.6's message.
var errorCases = []struct {
	name     string
	args     []string
	env      []string
	want     string
	flagErr  bool
	sentinel error
	// etcdAtStart: etcd accepts the configuration and fails only when starting the server;
	// Cairn rejects it while parsing. Not compared side by side.
	etcdAtStart bool
}{
	// Command line (etcd: message + usage on stderr, exit 2).
	{name: "unknown flag", args: []string{"--foo"}, want: "flag provided but not defined: -foo", flagErr: true},
	{name: "unknown flag single dash", args: []string{"-foo=1"}, want: "flag provided but not defined: -foo", flagErr: true},
	{name: "bad uint", args: []string{"--snapshot-count=abc"}, want: `invalid value "abc" for flag -snapshot-count: parse error`, flagErr: true},
	{name: "uint out of range", args: []string{"--max-txn-ops=-1"}, want: `invalid value "-1" for flag -max-txn-ops: parse error`, flagErr: true},
	{name: "bad bool", args: []string{"--auto-tls=x"}, want: `invalid boolean value "x" for -auto-tls: parse error`, flagErr: true},
	{name: "bad duration", args: []string{"--grpc-keepalive-timeout=5"}, want: `invalid value "5" for flag -grpc-keepalive-timeout: parse error`, flagErr: true},
	{name: "missing value", args: []string{"--name"}, want: "flag needs an argument: -name", flagErr: true},
	{name: "bad uint32", args: []string{"--max-concurrent-streams=4294967296"}, want: `invalid value "4294967296" for flag -max-concurrent-streams: strconv.ParseUint: parsing "4294967296": value out of range`, flagErr: true},
	{name: "bad scheme", args: []string{"--listen-client-urls=ftp://127.0.0.1:2379"}, want: `invalid value "ftp://127.0.0.1:2379" for flag -listen-client-urls: URL scheme must be http, https, unix, or unixs: ftp://127.0.0.1:2379`, flagErr: true},
	{name: "no scheme", args: []string{"--listen-peer-urls=127.0.0.1:2380"}, want: `invalid value "127.0.0.1:2380" for flag -listen-peer-urls: parse "127.0.0.1:2380": first path segment in URL cannot contain colon`, flagErr: true},
	{name: "no port", args: []string{"--initial-advertise-peer-urls=http://10.0.0.1"}, want: `invalid value "http://10.0.0.1" for flag -initial-advertise-peer-urls: URL address does not have the form "host:port": http://10.0.0.1`, flagErr: true},
	{name: "path", args: []string{"--advertise-client-urls=http://10.0.0.1:2379/x"}, want: `invalid value "http://10.0.0.1:2379/x" for flag -advertise-client-urls: URL must not contain a path: http://10.0.0.1:2379/x`, flagErr: true},
	{name: "bad cluster state", args: []string{"--initial-cluster-state=old"}, want: `invalid value "old" for flag -initial-cluster-state: invalid value`, flagErr: true},
	{name: "bad v2 deprecation", args: []string{"--v2-deprecation=not-yet"}, want: `invalid value "not-yet" for flag -v2-deprecation: invalid value "not-yet"`, flagErr: true},
	{name: "unknown feature gate", args: []string{"--feature-gates=Nope=true"}, want: `invalid value "Nope=true" for flag -feature-gates: unrecognized feature gate: Nope`, flagErr: true},
	{name: "feature gate without value", args: []string{"--feature-gates=LeaseCheckpoint"}, want: `invalid value "LeaseCheckpoint" for flag -feature-gates: missing bool value for LeaseCheckpoint`, flagErr: true},
	{name: "feature gate bad bool", args: []string{"--feature-gates=LeaseCheckpoint=maybe"}, want: `invalid value "LeaseCheckpoint=maybe" for flag -feature-gates: invalid value of LeaseCheckpoint=maybe, err: strconv.ParseBool: parsing "maybe": invalid syntax`, flagErr: true},
	{name: "help", args: []string{"--help"}, sentinel: flag.ErrHelp},
	{name: "h", args: []string{"-h"}, sentinel: flag.ErrHelp},
	{name: "help after error-free flags", args: []string{"--name=a", "-help"}, sentinel: flag.ErrHelp},
	{name: "version", args: []string{"--version"}, sentinel: ErrPrintVersion},
	{name: "version with other flags", args: []string{"--name=x", "--version"}, sentinel: ErrPrintVersion},
	{name: "unknown flag before help", args: []string{"--foo", "--help"}, want: "flag provided but not defined: -foo", flagErr: true},

	// etcd: logged as "failed to verify flags", exit 1.
	{name: "stray argument", args: []string{"foo"}, want: `"foo" is not a valid flag`},
	{name: "stray argument after flags", args: []string{"--name=a", "bar", "--name=b"}, want: `"bar" is not a valid flag`},
	{name: "stray argument before version", args: []string{"--version", "x"}, want: `"x" is not a valid flag`},
	{name: "after double dash", args: []string{"--", "--name=a"}, want: `"--name=a" is not a valid flag`},
	{name: "env bad value", env: []string{"ETCD_SNAPSHOT_COUNT=abc"}, want: `invalid value "abc" for ETCD_SNAPSHOT_COUNT: parse error`},
	{name: "env bad url", env: []string{"ETCD_LISTEN_PEER_URLS=foo"}, want: `invalid value "foo" for ETCD_LISTEN_PEER_URLS: URL scheme must be http, https, unix, or unixs: foo`},
	{name: "env last bad value wins", env: []string{"ETCD_SNAPSHOT_COUNT=abc", "ETCD_MAX_TXN_OPS=x"}, want: `invalid value "abc" for ETCD_SNAPSHOT_COUNT: parse error`},
	{name: "listen without advertise", args: []string{"--listen-client-urls=http://127.0.0.1:2379"}, want: "--advertise-client-urls is required when --listen-client-urls is set explicitly", sentinel: ErrUnsetAdvertiseClientURLsFlag},
	{name: "listen without advertise, env", env: []string{"ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:2379"}, sentinel: ErrUnsetAdvertiseClientURLsFlag},
	{name: "listen host name", args: []string{"--listen-peer-urls=http://example.com:2380"}, want: "expected IP in URL for binding (http://example.com:2380)"},
	{name: "advertise empty host", args: []string{"--initial-advertise-peer-urls=http://:2380"}, want: `--initial-advertise-peer-urls "http://:2380" must be "host:port" (unexpected empty host (http://:2380))`},
	{name: "advertise unix", args: []string{"--advertise-client-urls=unix:///tmp/x"}, want: `--advertise-client-urls "unix:///tmp/x" must be "host:port" (missing port in address)`},
	{name: "conflicting bootstrap", args: []string{"--discovery=https://discovery.etcd.io/x", "--initial-cluster=default=http://localhost:2380"}, sentinel: ErrConflictBootstrapFlags},
	{name: "v3 discovery token alone", args: []string{"--discovery-token=t"}, want: "both --discovery-token and --discovery-endpoints must be set"},
	{name: "v2 and v3 discovery", args: []string{"--discovery-proxy=http://p:1", "--discovery-token=t", "--discovery-endpoints=a:1"}, want: "both v2 discovery settings (discovery, discovery-proxy) and v3 discovery settings (discovery-token, discovery-endpoints, discovery-cert, discovery-key, discovery-cacert, discovery-user, discovery-password) are set"},
	{name: "empty discovery endpoint", args: []string{"--discovery-token=t", "--discovery-endpoints=a:1, "}, want: "--discovery-endpoints must not contain empty endpoints"},
	{name: "discovery fallback proxy", args: []string{"--discovery-fallback=proxy"}, want: `v2 proxy is deprecated, and --discovery-fallback can't be configured as "proxy"`},
	{name: "zero heartbeat", args: []string{"--heartbeat-interval=0"}, want: "--heartbeat-interval must be >0 (set to 0ms)"},
	{name: "zero election", args: []string{"--election-timeout=0"}, want: "--election-timeout must be >0 (set to 0ms)"},
	{name: "election too short", args: []string{"--heartbeat-interval=100", "--election-timeout=499"}, want: "--election-timeout[499ms] should be at least as 5 times as --heartbeat-interval[100ms]"},
	{name: "election too long", args: []string{"--election-timeout=50001"}, want: "--election-timeout[50001ms] is too long, and should be set less than 50000ms"},
	{name: "compaction mode", args: []string{"--auto-compaction-mode=daily"}, want: `unknown auto-compaction-mode "daily"`},
	{name: "compaction mode empty", args: []string{"--auto-compaction-mode="}, want: "undefined auto-compaction-mode"},
	{name: "compaction retention", args: []string{"--auto-compaction-retention=1x"}, want: `error parsing CompactionRetention: time: unknown unit "x" in duration "1x"`, etcdAtStart: true},
	{name: "logger", args: []string{"--logger=capnslog"}, want: "--logger=capnslog is removed in v3.5"},
	{name: "logger unknown", args: []string{"--logger=x"}, want: `unknown logger option "x"`},
	{name: "log level", args: []string{"--log-level=verbose"}, want: `unrecognized level: "verbose"`},
	{name: "log format", args: []string{"--log-format=xml"}, want: "unknown log format: xml, supported values json, console"},
	{name: "multi default output", args: []string{"--log-outputs=default,stderr"}, want: `multi logoutput for "default" is not supported yet`},
	{name: "journal with others", args: []string{"--log-outputs=systemd/journal,stderr"}, want: `running with systemd/journal but other '--log-outputs' values (["stderr" "systemd/journal"]) are configured with 'default'; override 'default' value with something else`},
	{name: "log rotation needs file", args: []string{"--enable-log-rotation"}, sentinel: ErrLogRotationInvalidLogOutput},
	{name: "log rotation json", args: []string{"--enable-log-rotation", "--log-outputs=/tmp/x.log", "--log-rotation-config-json={"}, want: "improperly formatted log rotation config: unexpected end of JSON input"},
	{name: "log rotation json type", args: []string{"--enable-log-rotation", "--log-outputs=/tmp/x.log", `--log-rotation-config-json={"maxsize": "big"}`}, want: "invalid log rotation config: json: cannot unmarshal string into Go struct field logRotationConfig.Logger.maxsize of type int"},
	{name: "tracing rate", args: []string{"--enable-distributed-tracing", "--distributed-tracing-sampling-rate=-1"}, want: "distributed tracing configurition is not valid: (tracing sampling rate must be positive)"},
	{name: "lease checkpoint persist", args: []string{"--feature-gates=LeaseCheckpoint=false,LeaseCheckpointPersist=true"}, want: "enabling feature gate LeaseCheckpointPersist requires enabling feature gate LeaseCheckpoint"},
	{name: "experimental and gate", args: []string{"--experimental-initial-corrupt-check", "--feature-gates=InitialCorruptCheck=false"}, want: "cannot specify both flags: --experimental-initial-corrupt-check=true and --feature-gates=InitialCorruptCheck=false at the same time, please just use --feature-gates=InitialCorruptCheck=false"},
	{name: "experimental and successor", args: []string{"--experimental-compaction-batch-limit=1", "--compaction-batch-limit=2"}, want: "cannot set --experimental-compaction-batch-limit and --compaction-batch-limit at the same time, please use --compaction-batch-limit only"},
	{name: "hash check time", args: []string{"--compact-hash-check-time=0s"}, want: "--compact-hash-check-time must be >0 (set to 0s)"},
	{name: "tls version", args: []string{"--tls-min-version=TLS1.1"}, want: `unexpected TLS version "TLS1.1" (must be one of: TLS1.2, TLS1.3)`},
	{name: "tls min > max", args: []string{"--tls-min-version=TLS1.3", "--tls-max-version=TLS1.2"}, want: "min version (TLS1.3) is greater than max version (TLS1.2)"},
	{name: "tls13 ciphers", args: []string{"--tls-min-version=TLS1.3", "--cipher-suites=TLS_AES_128_GCM_SHA256"}, want: "cipher suites cannot be configured when only TLS1.3 is enabled"},
	{name: "cipher suite", args: []string{"--cipher-suites=TLS_NOPE"}, want: `unexpected TLS cipher suite "TLS_NOPE"`, etcdAtStart: true},
	{name: "unary both", args: []string{"--warning-unary-request-duration=1s", "--experimental-warning-unary-request-duration=2s"}, want: "both --experimental-warning-unary-request-duration and --warning-unary-request-duration flags are set. Use only --warning-unary-request-duration"},
}

func TestErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			err := parseErr(tt.args, tt.env)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("error = %q\n      want %q", err.Error(), tt.want)
			}
			var fe *FlagError
			if got := errors.As(err, &fe); got != tt.flagErr {
				t.Errorf("FlagError = %v, want %v (%T)", got, tt.flagErr, err)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v is not %v", err, tt.sentinel)
			}
		})
	}
}

func TestWarningsAndUnimplemented(t *testing.T) {
	cfg := mustParse(t, []string{"--name=a", "--max-wals=3", "--cors=*", "--experimental-compact-hash-check-time=2m", "-v"},
		[]string{"ETCD_DISCOVERY_DIAL_TIMEOUT=3s"})
	want := map[string]string{"max-wals": "3", "cors": "*", "experimental-compact-hash-check-time": "2m0s", "discovery-dial-timeout": "3s"}
	if !reflect.DeepEqual(cfg.Unimplemented, want) {
		t.Errorf("Unimplemented = %v, want %v", cfg.Unimplemented, want)
	}
	if cfg.CompactHashCheckTime != 2*time.Minute {
		t.Errorf("CompactHashCheckTime = %v, want 2m", cfg.CompactHashCheckTime)
	}
	w := strings.Join(cfg.Warnings(), "\n")
	for _, s := range []string{
		"--experimental-compact-hash-check-time is deprecated in 3.6 and will be decommissioned in 3.7. Use '--compact-hash-check-time' instead.",
		"flag is no longer supported - ignoring flag-name=v",
		"flag is accepted for compatibility but not implemented by Cairn; ignoring flag-name=max-wals value=3",
	} {
		if !strings.Contains(w, s) {
			t.Errorf("warnings lack %q:\n%s", s, w)
		}
	}
	// Flags Cairn implements are not reported.
	cfg = mustParse(t, []string{"--name=a", "--snapshot-count=5", "--max-txn-ops=5"}, nil)
	if len(cfg.Unimplemented) != 0 {
		t.Errorf("Unimplemented = %v, want none", cfg.Unimplemented)
	}
}

func TestAutoCompactionRetentionDuration(t *testing.T) {
	tests := []struct {
		mode, retention string
		want            time.Duration
	}{
		{"periodic", "0", 0},
		{"periodic", "1", time.Hour},
		{"periodic", "30m", 30 * time.Minute},
		{"revision", "1000", 1000},
		{"periodic", "", 0},
	}
	for _, tt := range tests {
		c := &Config{AutoCompactionMode: tt.mode, AutoCompactionRetention: tt.retention}
		got, err := c.AutoCompactionRetentionDuration()
		if err != nil || got != tt.want {
			t.Errorf("%s/%q: %v, %v; want %v", tt.mode, tt.retention, got, err, tt.want)
		}
	}
}

func TestUsage(t *testing.T) {
	u := Usage()
	if !strings.HasPrefix(u, UsageLine()) || !strings.Contains(UsageLine(), "cairn [flags]") {
		t.Errorf("usage does not start with the usage line:\n%s", u)
	}
	fs, _ := newFlagSet(newECfg())
	ignored := setOf(ignoredFlags...)
	fs.VisitAll(func(f *flag.Flag) {
		if ignored[f.Name] || f.Name == "config-file" || f.Name == "version" {
			return
		}
		if !strings.Contains(u, "\n  --"+f.Name+" '") {
			t.Errorf("usage lacks --%s", f.Name)
		}
	})
	for _, s := range []string{
		"--name 'default'", "--data-dir '${name}.etcd'", "--snapshot-count '10000'",
		"--heartbeat-interval '100'", "--election-timeout '1000'", "--quota-backend-bytes '0'",
		"--max-txn-ops '128'", "--max-request-bytes '1572864'",
		"--initial-cluster 'default=http://localhost:2380'", "--initial-cluster-state 'new'",
		"--initial-cluster-token 'etcd-cluster'", "--log-level 'info'", "--log-outputs 'default'",
		"--auto-compaction-mode 'periodic'", "--warning-unary-request-duration '300ms'",
		"LeaseCheckpoint=true|false (ALPHA - default=true)",
		"--experimental-enable-lease-checkpoint 'true'",
		"--watch-progress-notify-interval '10m'",
		"TxnModeWriteWithSharedBuffer=true|false (BETA - default=true)\n    (Cairn acts on LeaseCheckpoint",
		"--snapshot-catchup-entries '5000'\n    Number of entries for a slow follower to catch up after compacting the raft storage entries.\n    (" + soleVoterLogNote + ")",
	} {
		if !strings.Contains(u, s) {
			t.Errorf("usage lacks %q", s)
		}
	}
}

// TestUsageFeatureGates: --feature-gates is accepted-only except for the
// gates Cairn acts on, and its help says so instead of "does not act on it".
func TestUsageFeatureGates(t *testing.T) {
	u := Usage()
	i := strings.Index(u, "\n  --feature-gates ")
	if i < 0 {
		t.Fatal("usage lacks --feature-gates")
	}
	block := u[i+1:]
	if j := strings.Index(block[1:], "\n  --"); j >= 0 {
		block = block[:j+1]
	}
	if strings.Contains(block, "does not act on it") || !strings.Contains(block, "Cairn acts on LeaseCheckpoint") {
		t.Errorf("--feature-gates help:\n%s", block)
	}
}

func TestInitialClusterMap(t *testing.T) {
	c := &Config{InitialCluster: "b=http://10.0.0.2:2380,a=http://10.0.0.1:2380,a=http://10.0.0.1:2381,"}
	m, err := c.InitialClusterMap()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]url.URL{
		"a": urls("http://10.0.0.1:2380", "http://10.0.0.1:2381"),
		"b": urls("http://10.0.0.2:2380"),
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("map = %v, want %v", m, want)
	}
	c.InitialCluster = "a"
	if _, err := c.InitialClusterMap(); err == nil || err.Error() != "error setting up initial cluster: URL scheme must be http, https, unix, or unixs: " {
		t.Errorf("err = %v", err)
	}
}

func TestVerifyBootstrap(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string // "" for success
		joinErr string
	}{
		{name: "defaults", args: nil},
		{name: "name only", args: []string{"--name=n1"}},
		{name: "three members", args: []string{"--name=n2", "--initial-advertise-peer-urls=http://10.0.0.2:2380",
			"--initial-cluster=n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380,n3=http://10.0.0.3:2380"}},
		{name: "name missing", args: []string{"--name=n4", "--initial-cluster=n1=http://10.0.0.1:2380"},
			want:    `couldn't find local name "n4" in the initial cluster configuration`,
			joinErr: `couldn't find local name "n4" in the initial cluster configuration`},
		{name: "url mismatch", args: []string{"--name=n1", "--initial-advertise-peer-urls=http://10.0.0.9:2380", "--initial-cluster=n1=http://10.0.0.1:2380"},
			want: `--initial-cluster has n1=http://10.0.0.1:2380 but missing from --initial-advertise-peer-urls=http://10.0.0.9:2380 (resolved urls: "http://10.0.0.9:2380" != "http://10.0.0.1:2380")`},
		{name: "extra advertised url", args: []string{"--name=n1", "--initial-advertise-peer-urls=http://10.0.0.1:2380,http://10.0.0.2:2380", "--initial-cluster=n1=http://10.0.0.1:2380"},
			want: `--initial-advertise-peer-urls has http://10.0.0.2:2380 but missing from --initial-cluster=n1=http://10.0.0.1:2380,n1=http://10.0.0.2:2380`},
		{name: "duplicate url", args: []string{"--name=n1", "--initial-advertise-peer-urls=http://10.0.0.1:2380", "--initial-cluster=n1=http://10.0.0.1:2380,n2=http://10.0.0.1:2380"},
			want:    "initial cluster n1=http://10.0.0.1:2380,n2=http://10.0.0.1:2380 has duplicate url",
			joinErr: "initial cluster n1=http://10.0.0.1:2380,n2=http://10.0.0.1:2380 has duplicate url"},
		{name: "bad url in cluster", args: []string{"--name=n1", "--initial-cluster=n1=10.0.0.1:2380"},
			want:    `error setting up initial cluster: parse "10.0.0.1:2380": first path segment in URL cannot contain colon`,
			joinErr: `error setting up initial cluster: parse "10.0.0.1:2380": first path segment in URL cannot contain colon`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.args, nil)
			err := cfg.VerifyBootstrap(context.Background())
			if got := errString(err); got != tt.want {
				t.Errorf("VerifyBootstrap = %q, want %q", got, tt.want)
			}
			if got := errString(cfg.VerifyJoinExisting()); got != tt.joinErr {
				t.Errorf("VerifyJoinExisting = %q, want %q", got, tt.joinErr)
			}
		})
	}
}

func TestVerifyBootstrapResolves(t *testing.T) {
	old := resolveTCPAddr
	defer func() { resolveTCPAddr = old }()
	resolveTCPAddr = func(_ context.Context, host, port string) (string, error) {
		if host == "node1.example" {
			host = "10.0.0.1"
		}
		return host + ":" + port, nil
	}
	cfg := mustParse(t, []string{"--name=n1", "--initial-advertise-peer-urls=http://node1.example:2380", "--initial-cluster=n1=http://10.0.0.1:2380"}, nil)
	if err := cfg.VerifyBootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestFlagTablesNameRealFlags guards the name tables against typos: every name they list is a
// registered flag.
func TestFlagTablesNameRealFlags(t *testing.T) {
	fs, _ := newFlagSet(newECfg())
	check := func(table, name string) {
		if fs.Lookup(name) == nil {
			t.Errorf("%s names %q, which is not a flag", table, name)
		}
	}
	for _, name := range AcceptedOnlyFlags() {
		check("acceptedOnly", name)
	}
	for name := range deprecatedFlags {
		check("deprecatedFlags", name)
	}
	for o, n := range experimentalFlagMigrationMap {
		check("experimentalFlagMigrationMap", o)
		check("experimentalFlagMigrationMap", n)
	}
	for name := range experimentalFlagToFeature {
		check("experimentalFlagToFeature", name)
	}
	for _, sec := range helpSections {
		for _, name := range sec.flags {
			check("helpSections", name)
		}
	}
	// The flags Cairn acts on are not accepted-only. (Client TLS flags are
	// not accepted-only either: Cairn refuses to start with them rather than
	// serve in clear text what was asked to be encrypted.)
	for _, name := range []string{"name", "data-dir", "listen-client-urls", "advertise-client-urls", "listen-peer-urls",
		"initial-advertise-peer-urls", "initial-cluster", "initial-cluster-state", "initial-cluster-token",
		"snapshot-count", "heartbeat-interval", "election-timeout", "quota-backend-bytes", "max-txn-ops",
		"max-request-bytes", "cert-file", "key-file", "trusted-ca-file", "client-cert-auth", "auto-tls",
		"log-level", "enable-pprof", "max-concurrent-streams"} {
		if acceptedOnly[name] {
			t.Errorf("%s is accepted-only", name)
		}
	}
}

func TestHelpers(t *testing.T) {
	if !(TLSInfo{}).Empty() || (TLSInfo{CertFile: "c"}).Empty() {
		t.Error("TLSInfo.Empty")
	}
	ids, err := CipherSuites([]string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_RSA_WITH_RC4_128_SHA"})
	if err != nil || len(ids) != 3 || ids[0] != 0xc02f || ids[1] != 0xcca8 || ids[2] != 0x0005 {
		t.Errorf("CipherSuites = %#x, %v", ids, err)
	}
	if v, err := TLSVersion("TLS1.3"); err != nil || v != 0x0304 {
		t.Errorf("TLSVersion = %#x, %v", v, err)
	}
	if v, err := TLSVersion(""); err != nil || v != 0 {
		t.Errorf("TLSVersion(\"\") = %#x, %v", v, err)
	}
	cfg := mustParse(t, []string{"--initial-cluster-state=existing"}, nil)
	if cfg.IsNewCluster() {
		t.Error("IsNewCluster with existing")
	}
	if got := FlagToEnv("initial-cluster-token"); got != "ETCD_INITIAL_CLUSTER_TOKEN" {
		t.Errorf("FlagToEnv = %q", got)
	}
	var fe *FlagError
	if err := parseErr([]string{"--nope"}, nil); !errors.As(err, &fe) || errors.Unwrap(err) == nil {
		t.Errorf("FlagError does not unwrap: %v", err)
	}
}
