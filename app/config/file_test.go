package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// etcdSample is etcd's etcd.conf.yml.sample (3.6), the file most etcd config files start from.
const etcdSample = `# This is the configuration file for the etcd server.

# Human-readable name for this member.
name: 'default'

# Path to the data directory.
data-dir:

# Path to the dedicated wal directory.
wal-dir:

# Number of committed transactions to trigger a snapshot to disk.
snapshot-count: 10000

# Time (in milliseconds) of a heartbeat interval.
heartbeat-interval: 100

# Time (in milliseconds) for an election to timeout.
election-timeout: 1000

# Raise alarms when backend size exceeds the given quota. 0 means use the
# default quota.
quota-backend-bytes: 0

# List of comma separated URLs to listen on for peer traffic.
listen-peer-urls: http://localhost:2380

# List of comma separated URLs to listen on for client traffic.
listen-client-urls: http://localhost:2379

# Maximum number of snapshot files to retain (0 is unlimited).
max-snapshots: 5

# Maximum number of wal files to retain (0 is unlimited).
max-wals: 5

# Comma-separated white list of origins for CORS (cross-origin resource sharing).
cors:

# List of this member's peer URLs to advertise to the rest of the cluster.
# The URLs needed to be a comma-separated list.
initial-advertise-peer-urls: http://localhost:2380

# List of this member's client URLs to advertise to the public.
# The URLs needed to be a comma-separated list.
advertise-client-urls: http://localhost:2379

# Discovery URL used to bootstrap the cluster.
discovery:

# Valid values include 'exit', 'proxy'
discovery-fallback: 'proxy'

# HTTP proxy to use for traffic to discovery service.
discovery-proxy:

# DNS domain used to bootstrap initial cluster.
discovery-srv:

# Comma separated string of initial cluster configuration for bootstrapping.
# Example: initial-cluster: "infra0=http://10.0.1.10:2380,infra1=http://10.0.1.11:2380,infra2=http://10.0.1.12:2380"
initial-cluster:

# Initial cluster token for the etcd cluster during bootstrap.
initial-cluster-token: 'etcd-cluster'

# Initial cluster state ('new' or 'existing').
initial-cluster-state: 'new'

# Reject reconfiguration requests that would cause quorum loss.
strict-reconfig-check: false

# Enable runtime profiling data via HTTP server
enable-pprof: true

# Valid values include 'on', 'readonly', 'off'
proxy: 'off'

# Time (in milliseconds) an endpoint will be held in a failed state.
proxy-failure-wait: 5000

# Time (in milliseconds) of the endpoints refresh interval.
proxy-refresh-interval: 30000

# Time (in milliseconds) for a dial to timeout.
proxy-dial-timeout: 1000

# Time (in milliseconds) for a write to timeout.
proxy-write-timeout: 5000

# Time (in milliseconds) for a read to timeout.
proxy-read-timeout: 0

client-transport-security:
  # Path to the client server TLS cert file.
  cert-file:

  # Path to the client server TLS key file.
  key-file:

  # Enable client cert authentication.
  client-cert-auth: false

  # Path to the client server TLS trusted CA cert file.
  trusted-ca-file:

  # Client TLS using generated certificates
  auto-tls: false

peer-transport-security:
  # Path to the peer server TLS cert file.
  cert-file:

  # Path to the peer server TLS key file.
  key-file:

  # Enable peer client cert authentication.
  client-cert-auth: false

  # Path to the peer server TLS trusted CA cert file.
  trusted-ca-file:

  # Peer TLS using generated certificates.
  auto-tls: false

# The validity period of the self-signed certificate, the unit is year.
self-signed-cert-validity: 1

# Enable debug-level logging for etcd.
log-level: debug

logger: zap

# Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd.
log-outputs: [stderr]

# Force to create a new one member cluster.
force-new-cluster: false

auto-compaction-mode: periodic
auto-compaction-retention: "1"

# Limit etcd to a specific set of tls cipher suites
cipher-suites: [
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
]

# Limit etcd to specific TLS protocol versions 
tls-min-version: 'TLS1.2'
tls-max-version: 'TLS1.3'
`

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "etcd.conf.yml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFileSample(t *testing.T) {
	p := writeFile(t, etcdSample)
	// Flags and variables are ignored once a file is given (no shadowing check either).
	cfg := mustParse(t, []string{"--config-file", p, "--name=ignored"}, []string{"ETCD_NAME=ignored", "ETCD_SNAPSHOT_COUNT=x"})
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"Name", cfg.Name, "default"},
		{"DataDir", cfg.DataDir, "default.etcd"},
		{"InitialCluster", cfg.InitialCluster, "default=http://localhost:2380"}, // null keeps the default
		{"StrictReconfigCheck", cfg.StrictReconfigCheck, false},
		{"EnablePprof", cfg.EnablePprof, true},
		{"LogLevel", cfg.LogLevel, "debug"},
		{"LogOutputs", cfg.LogOutputs, []string{"stderr"}},
		{"AutoCompactionRetention", cfg.AutoCompactionRetention, "1"},
		{"CipherSuites", cfg.CipherSuites, []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}},
		{"TLSMaxVersion", cfg.TLSMaxVersion, "TLS1.3"},
		{"Discovery.Fallback", cfg.Discovery.Fallback, "exit"}, // not a config file key for etcd
		{"ConfigFile", cfg.ConfigFile, p},
		{"SnapshotCount", cfg.SnapshotCount, uint64(10000)},
		{"ListenClientURLs", urlStrings(cfg.ListenClientURLs), []string{"http://localhost:2379"}},
		{"CORS", cfg.CORS, []string{"*"}},
		{"explicit", cfg.FlagsExplicitlySet["peer-client-cert-auth"], true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if _, ok := cfg.Unimplemented["max-wals"]; !ok {
		t.Errorf("Unimplemented = %v, want max-wals in it", cfg.Unimplemented)
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	p := writeFile(t, "name: fromfile\n")
	cfg := mustParse(t, nil, []string{"ETCD_CONFIG_FILE=" + p, "ETCD_NAME=ignored"})
	if cfg.Name != "fromfile" || cfg.DataDir != "fromfile.etcd" || cfg.InitialCluster != "fromfile=http://localhost:2380" {
		t.Errorf("Name, DataDir, InitialCluster = %q, %q, %q", cfg.Name, cfg.DataDir, cfg.InitialCluster)
	}
}

func TestConfigFileValues(t *testing.T) {
	file := `
name: infra1
data-dir: /var/lib/etcd
listen-client-urls: http://10.0.0.1:2379,http://127.0.0.1:2379
advertise-client-urls: http://10.0.0.1:2379
listen-peer-urls: https://10.0.0.1:2380
initial-advertise-peer-urls: https://10.0.0.1:2380
initial-cluster: infra1=https://10.0.0.1:2380,infra2=https://10.0.0.2:2380
initial-cluster-state: existing
snapshot-count: 0x10
heartbeat-interval: 200
election-timeout: 2_000
quota-backend-bytes: 8589934592
grpc-keepalive-timeout: 1000000000   # durations are nanoseconds in etcd's config file
log-outputs:
  - stdout
  - /var/log/etcd.log
socket-options:
  reuse-port: yes
discovery-config:
  client:
    dial-timeout: 3000000000
client-transport-security:
  cert-file: "/etc/etcd/server.crt"
  key-file: /etc/etcd/server.key
  client-cert-auth: true
  trusted-ca-file: /etc/etcd/ca.crt
  allowed-hostname: [a.example, "b.example"]
peer-transport-security:
  cert-file: /etc/etcd/peer.crt
  key-file: /etc/etcd/peer.key
  auto-tls: on
  allowed-cn:
  - peer
feature-gates: InitialCorruptCheck=true
experimental-snapshot-catch-up-entries: 100
`
	cfg := mustParse(t, []string{"--config-file=" + writeFile(t, file)}, nil)
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"Name", cfg.Name, "infra1"},
		{"DataDir", cfg.DataDir, "/var/lib/etcd"},
		{"ListenClientURLs", urlStrings(cfg.ListenClientURLs), []string{"http://10.0.0.1:2379", "http://127.0.0.1:2379"}},
		{"ListenPeerURLs", urlStrings(cfg.ListenPeerURLs), []string{"https://10.0.0.1:2380"}},
		{"InitialClusterState", cfg.InitialClusterState, "existing"},
		{"SnapshotCount", cfg.SnapshotCount, uint64(16)},
		{"HeartbeatInterval", cfg.HeartbeatInterval, 200 * time.Millisecond},
		{"ElectionTimeout", cfg.ElectionTimeout, 2 * time.Second},
		{"QuotaBackendBytes", cfg.QuotaBackendBytes, int64(8 << 30)},
		{"GRPCKeepAliveTimeout", cfg.GRPCKeepAliveTimeout, time.Second},
		{"LogOutputs", cfg.LogOutputs, []string{"stdout", "/var/log/etcd.log"}},
		{"SocketReusePort", cfg.SocketReusePort, true},
		{"Discovery.DialTimeout", cfg.Discovery.DialTimeout, 3 * time.Second},
		{"Discovery.InsecureTransport", cfg.Discovery.InsecureTransport, true},
		{"ClientTLS", cfg.ClientTLS, TLSInfo{CertFile: "/etc/etcd/server.crt", KeyFile: "/etc/etcd/server.key", ClientCertAuth: true, TrustedCAFile: "/etc/etcd/ca.crt", AllowedHostnames: []string{"a.example", "b.example"}}},
		{"PeerTLS", cfg.PeerTLS, TLSInfo{CertFile: "/etc/etcd/peer.crt", KeyFile: "/etc/etcd/peer.key", AutoTLS: true, AllowedCNs: []string{"peer"}}},
		{"InitialCorruptCheck", cfg.FeatureEnabled(FeatureInitialCorruptCheck), true},
		{"SnapshotCatchUpEntries", cfg.SnapshotCatchUpEntries, uint64(100)},
		{"Unimplemented", cfg.Unimplemented["feature-gates"], "InitialCorruptCheck=true"},
		// Cairn's own flags have no config-file key: their defaults stand.
		{"LeaseRevokeRate", cfg.LeaseRevokeRate, DefaultLeaseRevokeRate},
		{"LeaseCheckpointInterval", cfg.LeaseCheckpointInterval, DefaultLeaseCheckpointInterval},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// configFileErrorCases are config files etcd rejects, with etcd 3.6's message.
var configFileErrorCases = []struct {
	name string
	file string
	want string
}{
	{"unquoted number for a string", "auto-compaction-retention: 1\n",
		"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct field configYAML.Config.auto-compaction-retention of type string"},
	{"duration as text", "backend-batch-interval: 10ms\n",
		"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.Config.backend-batch-interval of type time.Duration"},
	{"nested type", "client-transport-security:\n  cert-file: 5\n",
		"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct field securityConfig.configJSON.client-transport-security.cert-file of type string"},
	{"section not a map", "peer-transport-security: 3\n",
		"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct field configYAML.configJSON.peer-transport-security of type embed.securityConfig"},
	{"list for a string", "name: [a, b]\n",
		"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field configYAML.Config.name of type string"},
	{"string for a list", "log-outputs: stderr\n",
		"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.Config.log-outputs of type []string"},
	{"bad listen url", "listen-client-urls: foo://x\n",
		"unexpected error setting up listen-client-urls: URL scheme must be http, https, unix, or unixs: foo://x"},
	{"bad advertise client url (etcd's wording)", "advertise-client-urls: http://x\n",
		`unexpected error setting up advertise-peer-urls: URL address does not have the form "host:port": http://x`},
	{"peer section null", "peer-transport-security:\n", "invalid peer-transport-security"},
	{"validation", "heartbeat-interval: 0\n", "--heartbeat-interval must be >0 (set to 0ms)"},
	{"cluster state", "initial-cluster-state: bogus\n", `unexpected clusterState "bogus"`},
	{"yaml syntax", "name: [a\n", "error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'"},
	{"yaml tab", "name: a\n\tdata-dir: x\n", "error converting YAML to JSON: yaml: line 2: found a tab character that violates indentation"},
	{"feature gate", "feature-gates: Nope=true\n", "unrecognized feature gate: Nope"},
	{"experimental and gate", "experimental-initial-corrupt-check: true\nfeature-gates: InitialCorruptCheck=false\n",
		"cannot specify both flags: --experimental-initial-corrupt-check=true and --feature-gates=InitialCorruptCheck=false at the same time, please just use --feature-gates=InitialCorruptCheck=false"},
	{"experimental and successor", "experimental-compaction-batch-limit: 1\ncompaction-batch-limit: 2\n",
		"cannot set --experimental-compaction-batch-limit and --compaction-batch-limit at the same time, please use --compaction-batch-limit only"},
}

func TestConfigFileErrors(t *testing.T) {
	for _, tt := range configFileErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			err := parseErr([]string{"--config-file", writeFile(t, tt.file)}, nil)
			if got := errString(err); got != tt.want {
				t.Errorf("error = %q\n      want %q", got, tt.want)
			}
		})
	}
	err := parseErr([]string{"--config-file", filepath.Join(t.TempDir(), "missing.yml")}, nil)
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing file: %v", err)
	}
}
