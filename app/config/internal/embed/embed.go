// Package embed holds the shape etcd's --config-file is decoded into: the JSON names and Go
// types of etcd's embed.Config, embed.configJSON and embed.securityConfig, under the same
// type names and the same package name, so that a value of the wrong type yields, word for
// word, the error etcd reports (e.g. "json: cannot unmarshal number into Go struct field
// configYAML.Config.auto-compaction-retention of type string").
package embed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Config has the tagged fields of etcd 3.6's embed.Config.
type Config struct {
	Name                               string        `json:"name"`
	Dir                                string        `json:"data-dir"`
	WalDir                             string        `json:"wal-dir"`
	SnapshotCount                      uint64        `json:"snapshot-count"`
	ExperimentalSnapshotCatchUpEntries uint64        `json:"experimental-snapshot-catch-up-entries"`
	SnapshotCatchUpEntries             uint64        `json:"snapshot-catchup-entries"`
	MaxSnapFiles                       uint          `json:"max-snapshots"`
	MaxWalFiles                        uint          `json:"max-wals"`
	TickMs                             uint          `json:"heartbeat-interval"`
	ElectionMs                         uint          `json:"election-timeout"`
	InitialElectionTickAdvance         bool          `json:"initial-election-tick-advance"`
	BackendBatchInterval               time.Duration `json:"backend-batch-interval"`
	BackendBatchLimit                  int           `json:"backend-batch-limit"`
	BackendFreelistType                string        `json:"backend-bbolt-freelist-type"`
	QuotaBackendBytes                  int64         `json:"quota-backend-bytes"`
	MaxTxnOps                          uint          `json:"max-txn-ops"`
	MaxRequestBytes                    uint          `json:"max-request-bytes"`
	MaxConcurrentStreams               uint32        `json:"max-concurrent-streams"`

	SelfSignedCertValidity uint     `json:"self-signed-cert-validity"`
	CipherSuites           []string `json:"cipher-suites"`
	TlsMinVersion          string   `json:"tls-min-version"` //nolint:revive // etcd's name
	TlsMaxVersion          string   `json:"tls-max-version"` //nolint:revive // etcd's name

	ClusterState          string          `json:"initial-cluster-state"`
	DNSCluster            string          `json:"discovery-srv"`
	DNSClusterServiceName string          `json:"discovery-srv-name"`
	Dproxy                string          `json:"discovery-proxy"`
	Durl                  string          `json:"discovery"`
	DiscoveryCfg          DiscoveryConfig `json:"discovery-config"`

	InitialCluster          string `json:"initial-cluster"`
	InitialClusterToken     string `json:"initial-cluster-token"`
	StrictReconfigCheck     bool   `json:"strict-reconfig-check"`
	AutoCompactionMode      string `json:"auto-compaction-mode"`
	AutoCompactionRetention string `json:"auto-compaction-retention"`

	GRPCKeepAliveMinTime  time.Duration `json:"grpc-keepalive-min-time"`
	GRPCKeepAliveInterval time.Duration `json:"grpc-keepalive-interval"`
	GRPCKeepAliveTimeout  time.Duration `json:"grpc-keepalive-timeout"`
	SocketOpts            SocketOpts    `json:"socket-options"`
	PreVote               bool          `json:"pre-vote"`

	AuthToken    string `json:"auth-token"`
	BcryptCost   uint   `json:"bcrypt-cost"`
	AuthTokenTTL uint   `json:"auth-token-ttl"`

	ExperimentalInitialCorruptCheck               bool          `json:"experimental-initial-corrupt-check"`
	ExperimentalCorruptCheckTime                  time.Duration `json:"experimental-corrupt-check-time"`
	CorruptCheckTime                              time.Duration `json:"corrupt-check-time"`
	ExperimentalCompactHashCheckEnabled           bool          `json:"experimental-compact-hash-check-enabled"`
	ExperimentalCompactHashCheckTime              time.Duration `json:"experimental-compact-hash-check-time"`
	CompactHashCheckTime                          time.Duration `json:"compact-hash-check-time"`
	ExperimentalEnableLeaseCheckpoint             bool          `json:"experimental-enable-lease-checkpoint"`
	ExperimentalEnableLeaseCheckpointPersist      bool          `json:"experimental-enable-lease-checkpoint-persist"`
	ExperimentalCompactionBatchLimit              int           `json:"experimental-compaction-batch-limit"`
	CompactionBatchLimit                          int           `json:"compaction-batch-limit"`
	ExperimentalCompactionSleepInterval           time.Duration `json:"experimental-compaction-sleep-interval"`
	CompactionSleepInterval                       time.Duration `json:"compaction-sleep-interval"`
	ExperimentalWatchProgressNotifyInterval       time.Duration `json:"experimental-watch-progress-notify-interval"`
	WatchProgressNotifyInterval                   time.Duration `json:"watch-progress-notify-interval"`
	ExperimentalWarningApplyDuration              time.Duration `json:"experimental-warning-apply-duration"`
	WarningApplyDuration                          time.Duration `json:"warning-apply-duration"`
	ExperimentalBootstrapDefragThresholdMegabytes uint          `json:"experimental-bootstrap-defrag-threshold-megabytes"`
	BootstrapDefragThresholdMegabytes             uint          `json:"bootstrap-defrag-threshold-megabytes"`
	WarningUnaryRequestDuration                   time.Duration `json:"warning-unary-request-duration"`
	ExperimentalWarningUnaryRequestDuration       time.Duration `json:"experimental-warning-unary-request-duration"`
	MaxLearners                                   int           `json:"max-learners"`
	ForceNewCluster                               bool          `json:"force-new-cluster"`

	EnablePprof           bool   `json:"enable-pprof"`
	Metrics               string `json:"metrics"`
	ListenMetricsUrlsJSON string `json:"listen-metrics-urls"` //nolint:revive // etcd's name

	ExperimentalEnableDistributedTracing                 bool   `json:"experimental-enable-distributed-tracing"`
	EnableDistributedTracing                             bool   `json:"enable-distributed-tracing"`
	ExperimentalDistributedTracingAddress                string `json:"experimental-distributed-tracing-address"`
	DistributedTracingAddress                            string `json:"distributed-tracing-address"`
	ExperimentalDistributedTracingServiceName            string `json:"experimental-distributed-tracing-service-name"`
	DistributedTracingServiceName                        string `json:"distributed-tracing-service-name"`
	ExperimentalDistributedTracingServiceInstanceID      string `json:"experimental-distributed-tracing-instance-id"`
	DistributedTracingServiceInstanceID                  string `json:"distributed-tracing-instance-id"`
	ExperimentalDistributedTracingSamplingRatePerMillion int    `json:"experimental-distributed-tracing-sampling-rate"`
	DistributedTracingSamplingRatePerMillion             int    `json:"distributed-tracing-sampling-rate"`
	ExperimentalPeerSkipClientSanVerification            bool   `json:"experimental-peer-skip-client-san-verification"`

	Logger                string   `json:"logger"`
	LogLevel              string   `json:"log-level"`
	LogFormat             string   `json:"log-format"`
	LogOutputs            []string `json:"log-outputs"`
	EnableLogRotation     bool     `json:"enable-log-rotation"`
	LogRotationConfigJSON string   `json:"log-rotation-config-json"`
	EnableGRPCGateway     bool     `json:"enable-grpc-gateway"`
	UnsafeNoFsync         bool     `json:"unsafe-no-fsync"`

	ExperimentalDowngradeCheckTime           time.Duration `json:"experimental-downgrade-check-time"`
	DowngradeCheckTime                       time.Duration `json:"downgrade-check-time"`
	MemoryMlock                              bool          `json:"memory-mlock"`
	ExperimentalMemoryMlock                  bool          `json:"experimental-memory-mlock"`
	ExperimentalTxnModeWriteWithSharedBuffer bool          `json:"experimental-txn-mode-write-with-shared-buffer"`
	ExperimentalStopGRPCServiceOnDefrag      bool          `json:"experimental-stop-grpc-service-on-defrag"`
	V2Deprecation                            string        `json:"v2-deprecation"`
}

// SocketOpts is etcd's transport.SocketOpts.
type SocketOpts struct {
	ReusePort    bool `json:"reuse-port"`
	ReuseAddress bool `json:"reuse-address"`
}

// DiscoveryConfig is etcd's v3discovery.DiscoveryConfig (clientv3.ConfigSpec under "client").
type DiscoveryConfig struct {
	ConfigSpec `json:"client"`
	Token      string `json:"token"`
}

// ConfigSpec is clientv3.ConfigSpec.
type ConfigSpec struct {
	Endpoints          []string      `json:"endpoints"`
	RequestTimeout     time.Duration `json:"request-timeout"`
	DialTimeout        time.Duration `json:"dial-timeout"`
	KeepAliveTime      time.Duration `json:"keepalive-time"`
	KeepAliveTimeout   time.Duration `json:"keepalive-timeout"`
	MaxCallSendMsgSize int           `json:"max-request-bytes"`
	MaxCallRecvMsgSize int           `json:"max-recv-bytes"`
	Secure             *SecureConfig `json:"secure"`
	Auth               *AuthConfig   `json:"auth"`
}

// SecureConfig is clientv3.SecureConfig.
type SecureConfig struct {
	Cert               string `json:"cert"`
	Key                string `json:"key"`
	Cacert             string `json:"cacert"`
	ServerName         string `json:"server-name"`
	InsecureTransport  bool   `json:"insecure-transport"`
	InsecureSkipVerify bool   `json:"insecure-skip-tls-verify"`
}

// AuthConfig is clientv3.AuthConfig.
type AuthConfig struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type configJSON struct {
	ListenPeerURLs       string `json:"listen-peer-urls"`
	ListenClientURLs     string `json:"listen-client-urls"`
	ListenClientHTTPURLs string `json:"listen-client-http-urls"`
	AdvertisePeerURLs    string `json:"initial-advertise-peer-urls"`
	AdvertiseClientURLs  string `json:"advertise-client-urls"`

	CORSJSON          string `json:"cors"`
	HostWhitelistJSON string `json:"host-whitelist"`

	ClientSecurityJSON securityConfig `json:"client-transport-security"`
	PeerSecurityJSON   securityConfig `json:"peer-transport-security"`

	ServerFeatureGatesJSON string `json:"feature-gates"`
}

type securityConfig struct {
	CertFile            string   `json:"cert-file"`
	KeyFile             string   `json:"key-file"`
	ClientCertFile      string   `json:"client-cert-file"`
	ClientKeyFile       string   `json:"client-key-file"`
	CertAuth            bool     `json:"client-cert-auth"`
	TrustedCAFile       string   `json:"trusted-ca-file"`
	AutoTLS             bool     `json:"auto-tls"`
	AllowedCNs          []string `json:"allowed-cn"`
	AllowedHostnames    []string `json:"allowed-hostname"`
	SkipClientSANVerify bool     `json:"skip-client-san-verification,omitempty"`
}

type configYAML struct {
	Config
	configJSON
}

// Security is one transport-security section of the file.
type Security struct {
	CertFile, KeyFile, ClientCertFile, ClientKeyFile, TrustedCAFile string
	CertAuth, AutoTLS, SkipClientSANVerify                          bool
	AllowedCNs, AllowedHostnames                                    []string
}

// File is a decoded config file: Config's fields plus the ones etcd post-processes.
type File struct {
	Config
	ListenPeerURLs, ListenClientURLs, ListenClientHTTPURLs string
	AdvertisePeerURLs, AdvertiseClientURLs                 string
	CORS, HostWhitelist, FeatureGates                      string
	ClientSecurity, PeerSecurity                           Security
}

// Decode decodes the JSON form of a config file over defaults, as etcd's sigs.k8s.io/yaml
// decoding does (unknown keys are ignored), with etcd's error wrapping.
func Decode(jsonBytes []byte, defaults Config) (*File, error) {
	cy := &configYAML{Config: defaults}
	d := json.NewDecoder(bytes.NewReader(jsonBytes))
	var obj any = cy
	if err := d.Decode(&obj); err != nil {
		return nil, fmt.Errorf("error unmarshaling JSON: while decoding JSON: %w", err)
	}
	sec := func(s securityConfig) Security {
		return Security{
			CertFile: s.CertFile, KeyFile: s.KeyFile, ClientCertFile: s.ClientCertFile,
			ClientKeyFile: s.ClientKeyFile, TrustedCAFile: s.TrustedCAFile, CertAuth: s.CertAuth,
			AutoTLS: s.AutoTLS, SkipClientSANVerify: s.SkipClientSANVerify,
			AllowedCNs: s.AllowedCNs, AllowedHostnames: s.AllowedHostnames,
		}
	}
	return &File{
		Config:               cy.Config,
		ListenPeerURLs:       cy.ListenPeerURLs,
		ListenClientURLs:     cy.ListenClientURLs,
		ListenClientHTTPURLs: cy.ListenClientHTTPURLs,
		AdvertisePeerURLs:    cy.AdvertisePeerURLs,
		AdvertiseClientURLs:  cy.AdvertiseClientURLs,
		CORS:                 cy.CORSJSON,
		HostWhitelist:        cy.HostWhitelistJSON,
		FeatureGates:         cy.ServerFeatureGatesJSON,
		ClientSecurity:       sec(cy.ClientSecurityJSON),
		PeerSecurity:         sec(cy.PeerSecurityJSON),
	}, nil
}
