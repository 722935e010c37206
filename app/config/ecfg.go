package config

import (
	"flag"
	"math"
	"net/url"
	"time"
)

// etcd's defaults (go.etcd.io/etcd/server/v3/embed, etcdserver, rafthttp, membership, 3.6).
const (
	DefaultName                        = "default"
	DefaultListenPeerURLs              = "http://localhost:2380"
	DefaultListenClientURLs            = "http://localhost:2379"
	DefaultInitialAdvertisePeerURLs    = "http://localhost:2380"
	DefaultAdvertiseClientURLs         = "http://localhost:2379"
	DefaultInitialClusterToken         = "etcd-cluster"
	DefaultSnapshotCount               = 10000
	DefaultSnapshotCatchUpEntries      = 5000
	DefaultMaxSnapshots                = 5
	DefaultMaxWALs                     = 5
	DefaultHeartbeatMs                 = 100
	DefaultElectionMs                  = 1000
	DefaultMaxTxnOps                   = 128
	DefaultMaxRequestBytes             = 1.5 * 1024 * 1024
	DefaultMaxConcurrentStreams        = math.MaxUint32
	DefaultQuotaBackendBytes           = int64(2 * 1024 * 1024 * 1024) // what --quota-backend-bytes=0 means
	MaxQuotaBackendBytes               = int64(8 * 1024 * 1024 * 1024) // etcd warns above this
	DefaultGRPCKeepAliveMinTime        = 5 * time.Second
	DefaultGRPCKeepAliveInterval       = 2 * time.Hour
	DefaultGRPCKeepAliveTimeout        = 20 * time.Second
	DefaultRaftReadTimeout             = 5 * time.Second
	DefaultRaftWriteTimeout            = 5 * time.Second
	DefaultDowngradeCheckTime          = 5 * time.Second
	DefaultCompactHashCheckTime        = time.Minute
	DefaultWarningApplyDuration        = 100 * time.Millisecond
	DefaultWarningUnaryRequestDuration = 300 * time.Millisecond
	DefaultAutoCompactionMode          = "periodic"
	DefaultAutoCompactionRetention     = "0"
	DefaultAuthToken                   = "simple"
	DefaultBcryptCost                  = 10
	DefaultAuthTokenTTL                = 300
	DefaultMaxLearners                 = 1
	DefaultSelfSignedCertValidity      = 1
	DefaultTLSMinVersion               = "TLS1.2"
	DefaultLogger                      = "zap"
	DefaultLogLevel                    = "info"
	DefaultLogFormat                   = "json"
	DefaultLogOutput                   = "default"
	JournalLogOutput                   = "systemd/journal"
	StdErrLogOutput                    = "stderr"
	StdOutLogOutput                    = "stdout"
	DefaultLogRotationConfig           = `{"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false}`
	DefaultMetrics                     = "basic"
	DefaultDistributedTracingAddress   = "localhost:4317"
	DefaultDistributedTracingService   = "etcd"
	DefaultV2Deprecation               = "write-only"
	DefaultDiscoveryDialTimeout        = 2 * time.Second
	DefaultDiscoveryRequestTimeout     = 5 * time.Second
	DefaultDiscoveryKeepAliveTime      = 2 * time.Second
	DefaultDiscoveryKeepAliveTimeout   = 6 * time.Second

	ClusterStateNew      = "new"
	ClusterStateExisting = "existing"

	CompactorModePeriodic = "periodic"
	CompactorModeRevision = "revision"

	maxElectionMs             = 50000
	maxSamplingRatePerMillion = 1000000
)

// Cairn's own defaults: etcd's lessor constants, made flags.
const (
	DefaultLeaseRevokeRate         = 1000
	DefaultLeaseCheckpointInterval = 5 * time.Minute
)

// tlsRaw is the part of etcd's transport.TLSInfo that flags and the config file set.
type tlsRaw struct {
	CertFile, KeyFile             string
	ClientCertFile, ClientKeyFile string
	TrustedCAFile, CRLFile        string
	ClientCertAuth                bool
	AllowedCNs, AllowedHostnames  []string
	SkipClientSANVerify           bool
}

type discoveryRaw struct {
	Token                                                        string
	Endpoints                                                    []string
	DialTimeout, RequestTimeout, KeepAliveTime, KeepAliveTimeout time.Duration
	InsecureTransport, InsecureSkipVerify                        bool
	Cert, Key, Cacert, Username, Password                        string
}

// ecfg mirrors etcd's embed.Config field for field, so that etcd's parsing and validation
// can be followed line by line; Parse turns it into the public Config at the end.
type ecfg struct {
	Name, Dir, WalDir string

	SnapshotCount, ExperimentalSnapshotCatchUpEntries, SnapshotCatchUpEntries uint64
	MaxSnapFiles, MaxWalFiles                                                 uint
	TickMs, ElectionMs                                                        uint
	InitialElectionTickAdvance                                                bool

	BackendBatchInterval time.Duration
	BackendBatchLimit    int
	BackendFreelistType  string
	QuotaBackendBytes    int64
	MaxTxnOps            uint
	MaxRequestBytes      uint
	MaxConcurrentStreams uint32

	ListenPeerUrls, ListenClientUrls, ListenClientHttpUrls []url.URL //nolint:revive // etcd's names
	AdvertisePeerUrls, AdvertiseClientUrls                 []url.URL
	ListenMetricsUrls                                      []url.URL

	ClientTLSInfo, PeerTLSInfo tlsRaw
	ClientAutoTLS, PeerAutoTLS bool
	SelfSignedCertValidity     uint
	CipherSuites               []string
	TlsMinVersion              string //nolint:revive // etcd's name
	TlsMaxVersion              string //nolint:revive // etcd's name

	ClusterState, DNSCluster, DNSClusterServiceName, Dproxy, Durl string
	DiscoveryCfg                                                  discoveryRaw
	DiscoveryFallback                                             string

	InitialCluster, InitialClusterToken string
	StrictReconfigCheck                 bool

	AutoCompactionMode, AutoCompactionRetention string

	GRPCKeepAliveMinTime, GRPCKeepAliveInterval, GRPCKeepAliveTimeout time.Duration
	ReusePort, ReuseAddress                                           bool
	PreVote                                                           bool
	RaftReadTimeout, RaftWriteTimeout                                 time.Duration

	CORS, HostWhitelist map[string]struct{}

	AuthToken                string
	BcryptCost, AuthTokenTTL uint

	ExperimentalInitialCorruptCheck                                  bool
	ExperimentalCorruptCheckTime, CorruptCheckTime                   time.Duration
	ExperimentalCompactHashCheckEnabled                              bool
	ExperimentalCompactHashCheckTime, CompactHashCheckTime           time.Duration
	ExperimentalEnableLeaseCheckpoint                                bool
	ExperimentalEnableLeaseCheckpointPersist                         bool
	ExperimentalCompactionBatchLimit, CompactionBatchLimit           int
	ExperimentalCompactionSleepInterval, CompactionSleepInterval     time.Duration
	ExperimentalWatchProgressNotifyInterval                          time.Duration
	WatchProgressNotifyInterval                                      time.Duration
	ExperimentalWarningApplyDuration, WarningApplyDuration           time.Duration
	ExperimentalBootstrapDefragThresholdMegabytes                    uint
	BootstrapDefragThresholdMegabytes                                uint
	WarningUnaryRequestDuration                                      time.Duration
	ExperimentalWarningUnaryRequestDuration                          time.Duration
	MaxLearners                                                      int
	ForceNewCluster                                                  bool
	EnablePprof                                                      bool
	Metrics                                                          string
	ExperimentalEnableDistributedTracing, EnableDistributedTracing   bool
	ExperimentalDistributedTracingAddress, DistributedTracingAddress string
	ExperimentalDistributedTracingServiceName                        string
	DistributedTracingServiceName                                    string
	ExperimentalDistributedTracingServiceInstanceID                  string
	DistributedTracingServiceInstanceID                              string
	ExperimentalDistributedTracingSamplingRatePerMillion             int
	DistributedTracingSamplingRatePerMillion                         int
	ExperimentalPeerSkipClientSanVerification                        bool

	Logger, LogLevel, LogFormat string
	LogOutputs                  []string
	EnableLogRotation           bool
	LogRotationConfigJSON       string

	EnableGRPCGateway bool
	UnsafeNoFsync     bool

	ExperimentalDowngradeCheckTime, DowngradeCheckTime time.Duration
	MemoryMlock, ExperimentalMemoryMlock               bool
	ExperimentalTxnModeWriteWithSharedBuffer           bool
	ExperimentalStopGRPCServiceOnDefrag                bool

	V2Deprecation string

	// Cairn's own flags (no etcd twin).
	LeaseRevokeRate         int
	LeaseCheckpointInterval time.Duration

	ServerFeatureGate  *featureGate
	FlagsExplicitlySet map[string]bool

	// fileValues: the config file's top-level values as text, for Config.Unimplemented.
	fileValues map[string]string
}

// newECfg is etcd's embed.NewConfig.
func newECfg() *ecfg {
	lpurl, _ := url.Parse(DefaultListenPeerURLs)
	apurl, _ := url.Parse(DefaultInitialAdvertisePeerURLs)
	lcurl, _ := url.Parse(DefaultListenClientURLs)
	acurl, _ := url.Parse(DefaultAdvertiseClientURLs)
	c := &ecfg{
		MaxSnapFiles: DefaultMaxSnapshots,
		MaxWalFiles:  DefaultMaxWALs,
		Name:         DefaultName,

		SnapshotCount:                      DefaultSnapshotCount,
		ExperimentalSnapshotCatchUpEntries: DefaultSnapshotCatchUpEntries,
		SnapshotCatchUpEntries:             DefaultSnapshotCatchUpEntries,

		MaxTxnOps:            DefaultMaxTxnOps,
		MaxRequestBytes:      DefaultMaxRequestBytes,
		MaxConcurrentStreams: DefaultMaxConcurrentStreams,
		WarningApplyDuration: DefaultWarningApplyDuration,

		GRPCKeepAliveMinTime:  DefaultGRPCKeepAliveMinTime,
		GRPCKeepAliveInterval: DefaultGRPCKeepAliveInterval,
		GRPCKeepAliveTimeout:  DefaultGRPCKeepAliveTimeout,
		RaftReadTimeout:       DefaultRaftReadTimeout,
		RaftWriteTimeout:      DefaultRaftWriteTimeout,

		TickMs:                     DefaultHeartbeatMs,
		ElectionMs:                 DefaultElectionMs,
		InitialElectionTickAdvance: true,

		ListenPeerUrls:      []url.URL{*lpurl},
		ListenClientUrls:    []url.URL{*lcurl},
		AdvertisePeerUrls:   []url.URL{*apurl},
		AdvertiseClientUrls: []url.URL{*acurl},

		ClusterState:        ClusterStateNew,
		InitialClusterToken: DefaultInitialClusterToken,
		DiscoveryFallback:   "exit",

		StrictReconfigCheck: true,
		Metrics:             DefaultMetrics,

		CORS:          map[string]struct{}{"*": {}},
		HostWhitelist: map[string]struct{}{"*": {}},

		AuthToken:              DefaultAuthToken,
		BcryptCost:             DefaultBcryptCost,
		AuthTokenTTL:           DefaultAuthTokenTTL,
		SelfSignedCertValidity: DefaultSelfSignedCertValidity,
		TlsMinVersion:          DefaultTLSMinVersion,

		PreVote: true,

		Logger:                DefaultLogger,
		LogFormat:             DefaultLogFormat,
		LogOutputs:            []string{DefaultLogOutput},
		LogLevel:              DefaultLogLevel,
		LogRotationConfigJSON: DefaultLogRotationConfig,
		EnableGRPCGateway:     true,

		ExperimentalDowngradeCheckTime: DefaultDowngradeCheckTime,
		DowngradeCheckTime:             DefaultDowngradeCheckTime,
		MaxLearners:                    DefaultMaxLearners,
		LeaseRevokeRate:                DefaultLeaseRevokeRate,
		LeaseCheckpointInterval:        DefaultLeaseCheckpointInterval,

		ExperimentalTxnModeWriteWithSharedBuffer:  true,
		ExperimentalDistributedTracingAddress:     DefaultDistributedTracingAddress,
		DistributedTracingAddress:                 DefaultDistributedTracingAddress,
		ExperimentalDistributedTracingServiceName: DefaultDistributedTracingService,
		DistributedTracingServiceName:             DefaultDistributedTracingService,

		CompactHashCheckTime:             DefaultCompactHashCheckTime,
		ExperimentalCompactHashCheckTime: DefaultCompactHashCheckTime,

		V2Deprecation: DefaultV2Deprecation,

		DiscoveryCfg: discoveryRaw{
			DialTimeout:       DefaultDiscoveryDialTimeout,
			RequestTimeout:    DefaultDiscoveryRequestTimeout,
			KeepAliveTime:     DefaultDiscoveryKeepAliveTime,
			KeepAliveTimeout:  DefaultDiscoveryKeepAliveTimeout,
			InsecureTransport: true,
		},

		AutoCompactionMode:      DefaultAutoCompactionMode,
		AutoCompactionRetention: DefaultAutoCompactionRetention,
		ServerFeatureGate:       newFeatureGate(),
		FlagsExplicitlySet:      map[string]bool{},
	}
	c.InitialCluster = c.initialClusterFromName(c.Name)
	return c
}

// initialClusterFromName is etcd's Config.InitialClusterFromName: every advertised peer URL
// under the given name ("default" when empty).
func (c *ecfg) initialClusterFromName(name string) string {
	if len(c.AdvertisePeerUrls) == 0 {
		return ""
	}
	n := name
	if name == "" {
		n = DefaultName
	}
	ret := ""
	for i := range c.AdvertisePeerUrls {
		ret = ret + "," + n + "=" + c.AdvertisePeerUrls[i].String()
	}
	return ret[1:]
}

// flagVals holds the flag.Values whose results etcdmain reads back after parsing, rather than
// having them write straight into the config.
type flagVals struct {
	listenPeerURLs, listenClientURLs, listenClientHTTPURLs, listenMetricsURLs *uniqueURLs
	advertisePeerURLs, advertiseClientURLs, cors                              *uniqueURLs
	discoveryEndpoints, hostWhitelist, logOutputs                             *uniqueStrings
	clientCertAllowedHostname, peerCertAllowedCN, peerCertAllowedHostname     *stringsValue
	cipherSuites                                                              *stringsValue
	maxConcurrentStreams                                                      *uint32Value
	clusterState, fallback                                                    *selectiveString
	v2deprecation                                                             *selectiveStrings
	configFile                                                                string
	printVersion                                                              bool
	ignoredSeen                                                               []string
}

// ignoredFlags are flags of old etcd releases that etcd 3.6 still accepts and ignores.
var ignoredFlags = []string{
	"cluster-active-size",
	"cluster-remove-delay",
	"cluster-sync-interval",
	"config",
	"force",
	"max-result-buffer",
	"max-retry-attempts",
	"peer-heartbeat-interval",
	"peer-election-timeout",
	"retry-interval",
	"snapshot",
	"v",
	"vv",
	"test.coverprofile",
	"test.outputdir",
}

// addFlags registers every flag of etcd 3.6 (embed.Config.AddFlags plus etcdmain's own) on fs.
func (c *ecfg) addFlags(fs *flag.FlagSet) *flagVals {
	fv := &flagVals{
		listenPeerURLs:            newUniqueURLs(DefaultListenPeerURLs, ""),
		listenClientURLs:          newUniqueURLs(DefaultListenClientURLs, ""),
		listenClientHTTPURLs:      newUniqueURLs("", ""),
		listenMetricsURLs:         newUniqueURLs("", ""),
		advertisePeerURLs:         newUniqueURLs(DefaultInitialAdvertisePeerURLs, ""),
		advertiseClientURLs:       newUniqueURLs(DefaultAdvertiseClientURLs, ""),
		cors:                      newUniqueURLs("*", "*"),
		discoveryEndpoints:        newUniqueStrings(""),
		hostWhitelist:             newUniqueStrings("*"),
		logOutputs:                newUniqueStrings(DefaultLogOutput),
		clientCertAllowedHostname: &stringsValue{},
		peerCertAllowedCN:         &stringsValue{},
		peerCertAllowedHostname:   &stringsValue{},
		cipherSuites:              &stringsValue{},
		clusterState:              newSelectiveString(ClusterStateNew, ClusterStateExisting),
		fallback:                  newSelectiveString("exit", "proxy"),
		v2deprecation:             newSelectiveStrings("write-only", "write-only-skip-check", "write-only-drop-data", "gone"),
	}
	mcs := uint32Value(c.MaxConcurrentStreams)
	fv.maxConcurrentStreams = &mcs

	// member
	fs.StringVar(&c.Dir, "data-dir", c.Dir, "Path to the data directory.")
	fs.StringVar(&c.WalDir, "wal-dir", c.WalDir, "Path to the dedicated wal directory.")
	fs.Var(fv.listenPeerURLs, "listen-peer-urls", "List of URLs to listen on for peer traffic.")
	fs.Var(fv.listenClientURLs, "listen-client-urls", "List of URLs to listen on for client grpc traffic and http as long as --listen-client-http-urls is not specified.")
	fs.Var(fv.listenClientHTTPURLs, "listen-client-http-urls", "List of URLs to listen on for http only client traffic. Enabling this flag removes http services from --listen-client-urls.")
	fs.Var(fv.listenMetricsURLs, "listen-metrics-urls", "List of URLs to listen on for the /metrics and /health endpoints. For https, the client URL TLS info is used.")
	fs.UintVar(&c.MaxSnapFiles, "max-snapshots", c.MaxSnapFiles, "Maximum number of snapshot files to retain (0 is unlimited). Deprecated in v3.6 and will be decommissioned in v3.8.")
	fs.UintVar(&c.MaxWalFiles, "max-wals", c.MaxWalFiles, "Maximum number of wal files to retain (0 is unlimited).")
	fs.StringVar(&c.Name, "name", c.Name, "Human-readable name for this member.")
	fs.Uint64Var(&c.SnapshotCount, "snapshot-count", c.SnapshotCount, "Number of committed transactions to trigger a snapshot.")
	fs.UintVar(&c.TickMs, "heartbeat-interval", c.TickMs, "Time (in milliseconds) of a heartbeat interval.")
	fs.UintVar(&c.ElectionMs, "election-timeout", c.ElectionMs, "Time (in milliseconds) for an election to timeout. See tuning documentation for details.")
	fs.BoolVar(&c.InitialElectionTickAdvance, "initial-election-tick-advance", c.InitialElectionTickAdvance, "Whether to fast-forward initial election ticks on boot for faster election.")
	fs.Int64Var(&c.QuotaBackendBytes, "quota-backend-bytes", c.QuotaBackendBytes, "Sets the maximum size (in bytes) that the backend database may consume. Exceeding this triggers an alarm and puts the member in read-only mode. Set to 0 to use the default 2GiB limit.")
	fs.StringVar(&c.BackendFreelistType, "backend-bbolt-freelist-type", c.BackendFreelistType, "BackendFreelistType specifies the type of freelist that boltdb backend uses(array and map are supported types).")
	fs.DurationVar(&c.BackendBatchInterval, "backend-batch-interval", c.BackendBatchInterval, "BackendBatchInterval is the maximum time before commit the backend transaction.")
	fs.IntVar(&c.BackendBatchLimit, "backend-batch-limit", c.BackendBatchLimit, "BackendBatchLimit is the maximum operations before commit the backend transaction.")
	fs.UintVar(&c.MaxTxnOps, "max-txn-ops", c.MaxTxnOps, "Maximum number of operations permitted in a transaction.")
	fs.UintVar(&c.MaxRequestBytes, "max-request-bytes", c.MaxRequestBytes, "Maximum client request size in bytes the server will accept.")
	fs.DurationVar(&c.GRPCKeepAliveMinTime, "grpc-keepalive-min-time", c.GRPCKeepAliveMinTime, "Minimum duration interval that a client should wait before pinging server.")
	fs.DurationVar(&c.GRPCKeepAliveInterval, "grpc-keepalive-interval", c.GRPCKeepAliveInterval, "Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).")
	fs.DurationVar(&c.GRPCKeepAliveTimeout, "grpc-keepalive-timeout", c.GRPCKeepAliveTimeout, "Additional duration of wait before closing a non-responsive connection (0 to disable).")
	fs.BoolVar(&c.ReusePort, "socket-reuse-port", c.ReusePort, "Enable to set socket option SO_REUSEPORT on listeners allowing rebinding of a port already in use.")
	fs.BoolVar(&c.ReuseAddress, "socket-reuse-address", c.ReuseAddress, "Enable to set socket option SO_REUSEADDR on listeners allowing binding to an address in TIME_WAIT state.")
	fs.Var(fv.maxConcurrentStreams, "max-concurrent-streams", "Maximum concurrent streams that each client can open at a time.")
	fs.DurationVar(&c.RaftReadTimeout, "raft-read-timeout", c.RaftReadTimeout, "Read timeout set on each rafthttp connection")
	fs.DurationVar(&c.RaftWriteTimeout, "raft-write-timeout", c.RaftWriteTimeout, "Write timeout set on each rafthttp connection")

	// clustering
	fs.Var(fv.advertisePeerURLs, "initial-advertise-peer-urls", "List of this member's peer URLs to advertise to the rest of the cluster.")
	fs.Var(fv.advertiseClientURLs, "advertise-client-urls", "List of this member's client URLs to advertise to the public.")
	fs.StringVar(&c.Durl, "discovery", c.Durl, "Discovery URL used to bootstrap the cluster for v2 discovery. Will be deprecated in v3.7, and be decommissioned in v3.8.")
	fs.Var(fv.discoveryEndpoints, "discovery-endpoints", "V3 discovery: List of gRPC endpoints of the discovery service.")
	fs.StringVar(&c.DiscoveryCfg.Token, "discovery-token", "", "V3 discovery: discovery token for the etcd cluster to be bootstrapped.")
	fs.DurationVar(&c.DiscoveryCfg.DialTimeout, "discovery-dial-timeout", c.DiscoveryCfg.DialTimeout, "V3 discovery: dial timeout for client connections.")
	fs.DurationVar(&c.DiscoveryCfg.RequestTimeout, "discovery-request-timeout", c.DiscoveryCfg.RequestTimeout, "V3 discovery: timeout for discovery requests (excluding dial timeout).")
	fs.DurationVar(&c.DiscoveryCfg.KeepAliveTime, "discovery-keepalive-time", c.DiscoveryCfg.KeepAliveTime, "V3 discovery: keepalive time for client connections.")
	fs.DurationVar(&c.DiscoveryCfg.KeepAliveTimeout, "discovery-keepalive-timeout", c.DiscoveryCfg.KeepAliveTimeout, "V3 discovery: keepalive timeout for client connections.")
	fs.BoolVar(&c.DiscoveryCfg.InsecureTransport, "discovery-insecure-transport", true, "V3 discovery: disable transport security for client connections.")
	fs.BoolVar(&c.DiscoveryCfg.InsecureSkipVerify, "discovery-insecure-skip-tls-verify", false, "V3 discovery: skip server certificate verification (CAUTION: this option should be enabled only for testing purposes).")
	fs.StringVar(&c.DiscoveryCfg.Cert, "discovery-cert", "", "V3 discovery: identify secure client using this TLS certificate file.")
	fs.StringVar(&c.DiscoveryCfg.Key, "discovery-key", "", "V3 discovery: identify secure client using this TLS key file.")
	fs.StringVar(&c.DiscoveryCfg.Cacert, "discovery-cacert", "", "V3 discovery: verify certificates of TLS-enabled secure servers using this CA bundle.")
	fs.StringVar(&c.DiscoveryCfg.Username, "discovery-user", "", "V3 discovery: username[:password] for authentication (prompt if password is not supplied).")
	fs.StringVar(&c.DiscoveryCfg.Password, "discovery-password", "", "V3 discovery: password for authentication (if this option is used, --user option shouldn't include password).")
	fs.StringVar(&c.Dproxy, "discovery-proxy", c.Dproxy, "HTTP proxy to use for traffic to discovery service. Will be deprecated in v3.7, and be decommissioned in v3.8.")
	fs.StringVar(&c.DNSCluster, "discovery-srv", c.DNSCluster, "DNS srv domain used to bootstrap the cluster.")
	fs.StringVar(&c.DNSClusterServiceName, "discovery-srv-name", c.DNSClusterServiceName, "Suffix to the dns srv name queried when bootstrapping.")
	fs.StringVar(&c.InitialCluster, "initial-cluster", c.InitialCluster, "Initial cluster configuration for bootstrapping.")
	fs.StringVar(&c.InitialClusterToken, "initial-cluster-token", c.InitialClusterToken, "Initial cluster token for the etcd cluster during bootstrap.")
	fs.BoolVar(&c.StrictReconfigCheck, "strict-reconfig-check", c.StrictReconfigCheck, "Reject reconfiguration requests that would cause quorum loss.")
	fs.BoolVar(&c.PreVote, "pre-vote", c.PreVote, "Enable the raft Pre-Vote algorithm to prevent disruption when a node that has been partitioned away rejoins the cluster.")

	// security
	fs.StringVar(&c.ClientTLSInfo.CertFile, "cert-file", "", "Path to the client server TLS cert file.")
	fs.StringVar(&c.ClientTLSInfo.KeyFile, "key-file", "", "Path to the client server TLS key file.")
	fs.StringVar(&c.ClientTLSInfo.ClientCertFile, "client-cert-file", "", "Path to an explicit peer client TLS cert file otherwise cert file will be used when client auth is required.")
	fs.StringVar(&c.ClientTLSInfo.ClientKeyFile, "client-key-file", "", "Path to an explicit peer client TLS key file otherwise key file will be used when client auth is required.")
	fs.BoolVar(&c.ClientTLSInfo.ClientCertAuth, "client-cert-auth", false, "Enable client cert authentication.")
	fs.StringVar(&c.ClientTLSInfo.CRLFile, "client-crl-file", "", "Path to the client certificate revocation list file.")
	fs.Var(fv.clientCertAllowedHostname, "client-cert-allowed-hostname", "Comma-separated list of SAN hostnames for client cert authentication.")
	fs.StringVar(&c.ClientTLSInfo.TrustedCAFile, "trusted-ca-file", "", "Path to the client server TLS trusted CA cert file.")
	fs.BoolVar(&c.ClientAutoTLS, "auto-tls", false, "Client TLS using generated certificates.")
	fs.StringVar(&c.PeerTLSInfo.CertFile, "peer-cert-file", "", "Path to the peer server TLS cert file.")
	fs.StringVar(&c.PeerTLSInfo.KeyFile, "peer-key-file", "", "Path to the peer server TLS key file.")
	fs.StringVar(&c.PeerTLSInfo.ClientCertFile, "peer-client-cert-file", "", "Path to an explicit peer client TLS cert file otherwise peer cert file will be used when client auth is required.")
	fs.StringVar(&c.PeerTLSInfo.ClientKeyFile, "peer-client-key-file", "", "Path to an explicit peer client TLS key file otherwise peer key file will be used when client auth is required.")
	fs.BoolVar(&c.PeerTLSInfo.ClientCertAuth, "peer-client-cert-auth", false, "Enable peer client cert authentication.")
	fs.StringVar(&c.PeerTLSInfo.TrustedCAFile, "peer-trusted-ca-file", "", "Path to the peer server TLS trusted CA file.")
	fs.BoolVar(&c.PeerAutoTLS, "peer-auto-tls", false, "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.")
	fs.UintVar(&c.SelfSignedCertValidity, "self-signed-cert-validity", 1, "The validity period of the client and peer certificates that are automatically generated when you specify ClientAutoTLS and PeerAutoTLS, the unit is year, and the default is 1.")
	fs.StringVar(&c.PeerTLSInfo.CRLFile, "peer-crl-file", "", "Path to the peer certificate revocation list file.")
	fs.Var(fv.peerCertAllowedCN, "peer-cert-allowed-cn", "Comma-separated list of allowed CNs for inter-peer TLS authentication.")
	fs.Var(fv.peerCertAllowedHostname, "peer-cert-allowed-hostname", "Comma-separated list of allowed SAN hostnames for inter-peer TLS authentication.")
	fs.Var(fv.cipherSuites, "cipher-suites", "Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).")
	fs.BoolVar(&c.ExperimentalPeerSkipClientSanVerification, "experimental-peer-skip-client-san-verification", false, "Skip verification of SAN field in client certificate for peer connections. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--peer-skip-client-san-verification' instead.")
	fs.BoolVar(&c.PeerTLSInfo.SkipClientSANVerify, "peer-skip-client-san-verification", false, "Skip verification of SAN field in client certificate for peer connections.")
	fs.StringVar(&c.TlsMinVersion, "tls-min-version", DefaultTLSMinVersion, "Minimum TLS version supported. Possible values: TLS1.2, TLS1.3.")
	fs.StringVar(&c.TlsMaxVersion, "tls-max-version", "", "Maximum TLS version supported. Possible values: TLS1.2, TLS1.3 (empty will be auto-populated by Go).")
	fs.Var(fv.cors, "cors", "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all).")
	fs.Var(fv.hostWhitelist, "host-whitelist", "Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all).")

	// logging
	fs.StringVar(&c.Logger, "logger", DefaultLogger, "Currently only supports 'zap' for structured logging.")
	fs.Var(fv.logOutputs, "log-outputs", "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets.")
	fs.StringVar(&c.LogLevel, "log-level", DefaultLogLevel, "Configures log level. Only supports debug, info, warn, error, panic, or fatal.")
	fs.StringVar(&c.LogFormat, "log-format", DefaultLogFormat, "Configures log format. Only supports json, console.")
	fs.BoolVar(&c.EnableLogRotation, "enable-log-rotation", false, "Enable log rotation of a single log-outputs file target.")
	fs.StringVar(&c.LogRotationConfigJSON, "log-rotation-config-json", DefaultLogRotationConfig, "Configures log rotation if enabled with a JSON logger config. MaxSize(MB), MaxAge(days,0=no limit), MaxBackups(0=no limit), LocalTime(use computers local time), Compress(gzip).")

	fs.StringVar(&c.AutoCompactionRetention, "auto-compaction-retention", "0", "Auto compaction retention length. 0 means disable auto compaction.")
	fs.StringVar(&c.AutoCompactionMode, "auto-compaction-mode", "periodic", "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention.")

	fs.BoolVar(&c.EnablePprof, "enable-pprof", false, "Enable runtime profiling data via HTTP server. Address is at client URL + \"/debug/pprof/\"")
	fs.StringVar(&c.Metrics, "metrics", c.Metrics, "Set level of detail for exported metrics, specify 'extensive' to include server side grpc histogram metrics.")

	// distributed tracing
	fs.BoolVar(&c.ExperimentalEnableDistributedTracing, "experimental-enable-distributed-tracing", false, "Enable experimental distributed tracing. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--enable-distributed-tracing' instead.")
	fs.BoolVar(&c.EnableDistributedTracing, "enable-distributed-tracing", false, "Enable distributed tracing.")
	fs.StringVar(&c.ExperimentalDistributedTracingAddress, "experimental-distributed-tracing-address", c.ExperimentalDistributedTracingAddress, "Distributed tracing collector address. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--distributed-tracing-address' instead.")
	fs.StringVar(&c.DistributedTracingAddress, "distributed-tracing-address", c.DistributedTracingAddress, "Distributed tracing collector address.")
	fs.StringVar(&c.ExperimentalDistributedTracingServiceName, "experimental-distributed-tracing-service-name", c.ExperimentalDistributedTracingServiceName, "Distributed tracing service name, must be same across all instances. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--distributed-tracing-service-name' instead.")
	fs.StringVar(&c.DistributedTracingServiceName, "distributed-tracing-service-name", c.DistributedTracingServiceName, "Distributed tracing service name, must be same across all instances.")
	fs.StringVar(&c.ExperimentalDistributedTracingServiceInstanceID, "experimental-distributed-tracing-instance-id", "", "Distributed tracing instance ID, must be unique per each instance. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--distributed-tracing-instance-id' instead.")
	fs.StringVar(&c.DistributedTracingServiceInstanceID, "distributed-tracing-instance-id", "", "Distributed tracing instance ID, must be unique per each instance.")
	fs.IntVar(&c.ExperimentalDistributedTracingSamplingRatePerMillion, "experimental-distributed-tracing-sampling-rate", 0, "Number of samples to collect per million spans for distributed tracing. Disabled by default. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--distributed-tracing-sampling-rate' instead.")
	fs.IntVar(&c.DistributedTracingSamplingRatePerMillion, "distributed-tracing-sampling-rate", 0, "Number of samples to collect per million spans for distributed tracing.")

	// auth
	fs.StringVar(&c.AuthToken, "auth-token", c.AuthToken, "Specify a v3 authentication token type and its options ('simple' or 'jwt').")
	fs.UintVar(&c.BcryptCost, "bcrypt-cost", c.BcryptCost, "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31.")
	fs.UintVar(&c.AuthTokenTTL, "auth-token-ttl", c.AuthTokenTTL, "Time (in seconds) of the auth-token-ttl.")

	// gateway
	fs.BoolVar(&c.EnableGRPCGateway, "enable-grpc-gateway", c.EnableGRPCGateway, "Enable GRPC gateway.")

	// experimental
	fs.BoolVar(&c.ExperimentalInitialCorruptCheck, "experimental-initial-corrupt-check", c.ExperimentalInitialCorruptCheck, "Enable to check data corruption before serving any client/peer traffic. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--feature-gates=InitialCorruptCheck=true' instead.")
	fs.DurationVar(&c.ExperimentalCorruptCheckTime, "experimental-corrupt-check-time", c.ExperimentalCorruptCheckTime, "Duration of time between cluster corruption check passes. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--corrupt-check-time' instead.")
	fs.DurationVar(&c.CorruptCheckTime, "corrupt-check-time", c.CorruptCheckTime, "Duration of time between cluster corruption check passes.")
	fs.BoolVar(&c.ExperimentalCompactHashCheckEnabled, "experimental-compact-hash-check-enabled", c.ExperimentalCompactHashCheckEnabled, "Enable leader to periodically check followers compaction hashes. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--feature-gates=CompactHashCheck=true' instead.")
	fs.DurationVar(&c.ExperimentalCompactHashCheckTime, "experimental-compact-hash-check-time", c.ExperimentalCompactHashCheckTime, "Duration of time between leader checks followers compaction hashes. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--compact-hash-check-time' instead.")
	fs.DurationVar(&c.CompactHashCheckTime, "compact-hash-check-time", c.CompactHashCheckTime, "Duration of time between leader checks followers compaction hashes.")
	fs.BoolVar(&c.ExperimentalEnableLeaseCheckpoint, "experimental-enable-lease-checkpoint", false, "Enable leader to send regular checkpoints to other members to prevent reset of remaining TTL on leader change. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--feature-gates=LeaseCheckpoint=true' instead.")
	fs.BoolVar(&c.ExperimentalEnableLeaseCheckpointPersist, "experimental-enable-lease-checkpoint-persist", false, "Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases. Requires experimental-enable-lease-checkpoint to be enabled. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--feature-gates=LeaseCheckpointPersist=true' instead.")
	fs.IntVar(&c.ExperimentalCompactionBatchLimit, "experimental-compaction-batch-limit", c.ExperimentalCompactionBatchLimit, "Sets the maximum revisions deleted in each compaction batch. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--compaction-batch-limit' instead.")
	fs.IntVar(&c.CompactionBatchLimit, "compaction-batch-limit", c.CompactionBatchLimit, "Sets the maximum revisions deleted in each compaction batch.")
	fs.DurationVar(&c.ExperimentalCompactionSleepInterval, "experimental-compaction-sleep-interval", c.ExperimentalCompactionSleepInterval, "Sets the sleep interval between each compaction batch. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--compaction-sleep-interval' instead.")
	fs.DurationVar(&c.CompactionSleepInterval, "compaction-sleep-interval", c.CompactionSleepInterval, "Sets the sleep interval between each compaction batch.")
	fs.DurationVar(&c.ExperimentalWatchProgressNotifyInterval, "experimental-watch-progress-notify-interval", c.ExperimentalWatchProgressNotifyInterval, "Duration of periodic watch progress notifications. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--watch-progress-notify-interval' instead.")
	fs.DurationVar(&c.WatchProgressNotifyInterval, "watch-progress-notify-interval", c.WatchProgressNotifyInterval, "Duration of periodic watch progress notifications.")
	fs.DurationVar(&c.DowngradeCheckTime, "downgrade-check-time", c.DowngradeCheckTime, "Duration of time between two downgrade status checks.")
	fs.DurationVar(&c.ExperimentalDowngradeCheckTime, "experimental-downgrade-check-time", c.ExperimentalDowngradeCheckTime, "Duration of time between two downgrade status checks. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--downgrade-check-time' instead.")
	fs.DurationVar(&c.ExperimentalWarningApplyDuration, "experimental-warning-apply-duration", c.ExperimentalWarningApplyDuration, "Warning is generated if requests take more than this duration. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--warning-apply-duration' instead.")
	fs.DurationVar(&c.WarningApplyDuration, "warning-apply-duration", c.WarningApplyDuration, "Warning is generated if requests take more than this duration.")
	fs.DurationVar(&c.WarningUnaryRequestDuration, "warning-unary-request-duration", c.WarningUnaryRequestDuration, "Set time duration after which a warning is logged if a unary request takes more than this duration.")
	fs.DurationVar(&c.ExperimentalWarningUnaryRequestDuration, "experimental-warning-unary-request-duration", c.ExperimentalWarningUnaryRequestDuration, "Set time duration after which a warning is generated if a unary request takes more than this duration. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--warning-unary-request-duration' instead.")
	fs.BoolVar(&c.ExperimentalMemoryMlock, "experimental-memory-mlock", c.ExperimentalMemoryMlock, "Enable to enforce etcd pages (in particular bbolt) to stay in RAM. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--memory-mlock' instead.")
	fs.BoolVar(&c.MemoryMlock, "memory-mlock", c.MemoryMlock, "Enable to enforce etcd pages (in particular bbolt) to stay in RAM.")
	fs.BoolVar(&c.ExperimentalTxnModeWriteWithSharedBuffer, "experimental-txn-mode-write-with-shared-buffer", true, "Enable the write transaction to use a shared buffer in its readonly check operations. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--feature-gates=TxnModeWriteWithSharedBuffer=true' instead.")
	fs.BoolVar(&c.ExperimentalStopGRPCServiceOnDefrag, "experimental-stop-grpc-service-on-defrag", c.ExperimentalStopGRPCServiceOnDefrag, "Enable etcd gRPC service to stop serving client requests on defragmentation. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--feature-gates=StopGRPCServiceOnDefrag=true' instead.")
	fs.UintVar(&c.ExperimentalBootstrapDefragThresholdMegabytes, "experimental-bootstrap-defrag-threshold-megabytes", 0, "Enable the defrag during etcd server bootstrap on condition that it will free at least the provided threshold of disk space. Needs to be set to non-zero value to take effect. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--bootstrap-defrag-threshold-megabytes' instead.")
	fs.UintVar(&c.BootstrapDefragThresholdMegabytes, "bootstrap-defrag-threshold-megabytes", 0, "Enable the defrag during etcd server bootstrap on condition that it will free at least the provided threshold of disk space. Needs to be set to non-zero value to take effect.")
	fs.IntVar(&c.MaxLearners, "max-learners", DefaultMaxLearners, "Set the max number of learner members allowed in the cluster membership.")
	fs.Uint64Var(&c.ExperimentalSnapshotCatchUpEntries, "experimental-snapshot-catchup-entries", c.ExperimentalSnapshotCatchUpEntries, "Number of entries for a slow follower to catch up after compacting the raft storage entries. Deprecated in v3.6 and will be decommissioned in v3.7. Use '--snapshot-catchup-entries' instead.")
	fs.Uint64Var(&c.SnapshotCatchUpEntries, "snapshot-catchup-entries", c.SnapshotCatchUpEntries, "Number of entries for a slow follower to catch up after compacting the raft storage entries.")

	// unsafe
	fs.BoolVar(&c.UnsafeNoFsync, "unsafe-no-fsync", false, "Disables fsync, unsafe, will cause data loss.")
	fs.BoolVar(&c.ForceNewCluster, "force-new-cluster", false, "Force to create a new one-member cluster.")

	// Cairn's own
	fs.IntVar(&c.LeaseRevokeRate, "lease-revoke-rate", c.LeaseRevokeRate, "Cairn: maximum number of expired leases revoked per second (etcd's fixed lessor rate), so that a mass expiry cannot crowd out client writes.")
	fs.DurationVar(&c.LeaseCheckpointInterval, "lease-checkpoint-interval", c.LeaseCheckpointInterval, "Cairn: time between two checkpoints of a lease's remaining TTL while lease checkpointing is on (Cairn's default; --feature-gates=LeaseCheckpoint=false turns it off). etcd's fixed interval is the default.")

	// feature gates
	fs.Var(c.ServerFeatureGate, "feature-gates", "A set of key=value pairs that describe server level feature gates for alpha/experimental features.")

	// etcdmain's own
	fs.StringVar(&fv.configFile, "config-file", "", "Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.")
	fs.Var(fv.fallback, "discovery-fallback", "Expected behavior ('exit') when discovery services fails. Note that v2 proxy is removed.")
	fs.Var(fv.clusterState, "initial-cluster-state", "Initial cluster state ('new' when bootstrapping a new cluster or 'existing' when adding new members to an existing cluster). After successful initialization (bootstrapping or adding), flag is ignored on restarts.")
	fs.Var(fv.v2deprecation, "v2-deprecation", "Phase of v2store deprecation. Deprecated and scheduled for removal in v3.8. The default value is enforced, ignoring user input.")
	fs.BoolVar(&fv.printVersion, "version", false, "Print the version and exit.")
	for _, name := range ignoredFlags {
		fs.Var(&ignoredFlag{name: name, seen: &fv.ignoredSeen}, name, "")
	}
	return fv
}
