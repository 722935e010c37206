// Package config owns the configuration of a Cairn member as etcd's command line gives it:
// every flag of etcd 3.6 with etcd's defaults, its ETCD_* environment variables, its
// --config-file, and etcd's checks and error messages, so that `cairn` is a drop-in for the
// `etcd` binary.
//
// Parse follows etcdmain and embed.Config step by step. What the caller does with its result,
// as etcd does:
//
//   - errors.Is(err, flag.ErrHelp): print Usage() to stdout, exit 0 (etcd prints the short
//     UsageLine() to stderr first).
//   - errors.Is(err, ErrPrintVersion): print the version, exit 0.
//   - errors.As(err, *FlagError): the command line did not parse; print err and UsageLine()
//     to stderr, exit 2.
//   - errors.As(err, *EnvShadowedError): log EnvShadowedMsg at fatal level with the field
//     "environment-variable", exit 1.
//   - any other error: log "failed to verify flags" with the error, exit 1.
//
// On success, log Notes() (or Warnings()) and Unimplemented, then start.
//
// Flags whose behaviour Cairn does not have are still parsed and checked; when one is set
// explicitly it lands in Config.Unimplemented (see AcceptedOnlyFlags).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
)

// ErrPrintVersion is returned by Parse for --version: the caller prints the version and exits 0.
var ErrPrintVersion = errors.New("print version")

// FlagError is a command line that did not parse: an unknown flag or a value the flag does not
// accept. Its message is the one Go's flag package (and so etcd) prints, for example
// "flag provided but not defined: -foo" or
// `invalid value "x" for flag -snapshot-count: parse error`.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// TLSInfo is the TLS configuration of the client or the peer listeners.
type TLSInfo struct {
	CertFile       string // --cert-file / --peer-cert-file
	KeyFile        string // --key-file / --peer-key-file
	ClientCertFile string // --client-cert-file / --peer-client-cert-file: cert to present when dialing
	ClientKeyFile  string // --client-key-file / --peer-client-key-file
	TrustedCAFile  string // --trusted-ca-file / --peer-trusted-ca-file
	ClientCertAuth bool   // --client-cert-auth / --peer-client-cert-auth
	CRLFile        string // --client-crl-file / --peer-crl-file
	// AllowedCNs: --peer-cert-allowed-cn (peer only).
	AllowedCNs []string
	// AllowedHostnames: --client-cert-allowed-hostname / --peer-cert-allowed-hostname.
	AllowedHostnames []string
	// SkipClientSANVerify: --peer-skip-client-san-verification (peer only).
	SkipClientSANVerify bool
	// AutoTLS: --auto-tls / --peer-auto-tls, self-signed certificates when no cert/key is given.
	AutoTLS bool
}

// Empty reports whether no certificate is configured (etcd's TLSInfo.Empty); auto TLS only
// applies then.
func (t TLSInfo) Empty() bool { return t.CertFile == "" && t.KeyFile == "" }

// Discovery is etcd's v2 (--discovery) and v3 (--discovery-token/-endpoints) discovery and DNS
// SRV bootstrap configuration.
type Discovery struct {
	URL      string // --discovery (v2)
	Proxy    string // --discovery-proxy (v2)
	SRV      string // --discovery-srv
	SRVName  string // --discovery-srv-name
	Fallback string // --discovery-fallback: "exit"

	Token                 string   // --discovery-token
	Endpoints             []string // --discovery-endpoints, sorted
	DialTimeout           time.Duration
	RequestTimeout        time.Duration
	KeepAliveTime         time.Duration
	KeepAliveTimeout      time.Duration
	InsecureTransport     bool
	InsecureSkipTLSVerify bool
	Cert, Key, CACert     string
	User, Password        string
}

// Tracing is the OpenTelemetry tracing configuration (--enable-distributed-tracing, ...).
type Tracing struct {
	Enabled                bool
	Address                string
	ServiceName            string
	InstanceID             string
	SamplingRatePerMillion int
}

// Config is a member's configuration, as etcd's flags and ETCD_* variables give it. Durations
// that etcd takes in milliseconds (heartbeat, election) are time.Durations here.
type Config struct {
	// Member
	Name                       string
	DataDir                    string // default: Name + ".etcd"
	WALDir                     string
	SnapshotCount              uint64
	SnapshotCatchUpEntries     uint64
	MaxSnapshots               uint // etcd's snapshot files to keep
	MaxWALs                    uint // etcd's WAL files to keep
	HeartbeatInterval          time.Duration
	ElectionTimeout            time.Duration
	InitialElectionTickAdvance bool
	ListenPeerURLs             []url.URL
	ListenClientURLs           []url.URL
	ListenClientHTTPURLs       []url.URL
	QuotaBackendBytes          int64 // 0 means the default 2 GiB (DefaultQuotaBackendBytes), <0 no quota
	BackendBatchInterval       time.Duration
	BackendBatchLimit          int
	BackendFreelistType        string
	MaxTxnOps                  uint
	MaxRequestBytes            uint
	MaxConcurrentStreams       uint32
	GRPCKeepAliveMinTime       time.Duration
	GRPCKeepAliveInterval      time.Duration
	GRPCKeepAliveTimeout       time.Duration
	SocketReusePort            bool
	SocketReuseAddress         bool
	EnableGRPCGateway          bool
	RaftReadTimeout            time.Duration
	RaftWriteTimeout           time.Duration
	// FeatureGates holds every known server feature gate (Feature* constants) with its value,
	// after --feature-gates and the experimental flags that map to gates.
	FeatureGates map[string]bool

	// Clustering
	InitialAdvertisePeerURLs []url.URL
	AdvertiseClientURLs      []url.URL
	InitialCluster           string // "name=url,..."; default "<name>=<each initial advertise peer url>"
	InitialClusterState      string // "new" | "existing"
	InitialClusterToken      string
	Discovery                Discovery
	StrictReconfigCheck      bool
	PreVote                  bool
	AutoCompactionMode       string // "periodic" | "revision"
	AutoCompactionRetention  string // see AutoCompactionRetentionDuration
	V2Deprecation            string // "write-only" or "write-only-skip-check" (etcd forces the rest to the default)

	// Security
	ClientTLS, PeerTLS     TLSInfo
	SelfSignedCertValidity uint     // years
	CipherSuites           []string // names; see CipherSuites()
	TLSMinVersion          string   // "TLS1.2" | "TLS1.3"
	TLSMaxVersion          string   // "" (Go decides) | "TLS1.2" | "TLS1.3"
	CORS                   []string // sorted; "*" allows all
	HostWhitelist          []string // sorted; "*" allows all

	// Auth
	AuthToken    string // "simple" or "jwt,..." options
	BcryptCost   uint
	AuthTokenTTL uint // seconds

	// Profiling and monitoring
	EnablePprof       bool
	Metrics           string // "basic" | "extensive"
	ListenMetricsURLs []url.URL

	// Logging
	Logger                      string // "zap"
	LogLevel                    string // debug|info|warn|error|dpanic|panic|fatal
	LogFormat                   string // "json" | "console"
	LogOutputs                  []string
	EnableLogRotation           bool
	LogRotationConfigJSON       string
	WarningUnaryRequestDuration time.Duration
	WarningApplyDuration        time.Duration

	Tracing Tracing

	// Formerly experimental; 0 means the server's own default where etcd has one.
	CorruptCheckTime                  time.Duration
	CompactHashCheckTime              time.Duration
	CompactionBatchLimit              int
	CompactionSleepInterval           time.Duration
	WatchProgressNotifyInterval       time.Duration
	DowngradeCheckTime                time.Duration
	BootstrapDefragThresholdMegabytes uint
	MaxLearners                       int
	MemoryMlock                       bool

	// Cairn's own.
	LeaseRevokeRate         int           // --lease-revoke-rate
	LeaseCheckpointInterval time.Duration // --lease-checkpoint-interval

	// Unsafe
	ForceNewCluster bool
	UnsafeNoFsync   bool

	// ConfigFile is the --config-file (or ETCD_CONFIG_FILE) the configuration came from, if any.
	ConfigFile string
	// FlagsExplicitlySet names every flag set on the command line, by an ETCD_* variable or as
	// a key of the config file.
	FlagsExplicitlySet map[string]bool
	// Unimplemented: flags accepted for compatibility whose behaviour Cairn does not have yet,
	// set explicitly: name -> value (the caller logs a warning).
	Unimplemented map[string]string

	notes []Note
}

// Notes returns what etcd would have logged while reading the configuration, in order.
func (c *Config) Notes() []Note { return slices.Clone(c.notes) }

// Warnings returns the non-fatal notes gathered while parsing (warning level and above: unknown
// ETCD_ variables, ignored and deprecated flags, unimplemented flags), one line each.
func (c *Config) Warnings() []string {
	var out []string
	for _, n := range c.notes {
		if n.Level >= zapcore.WarnLevel {
			out = append(out, n.String())
		}
	}
	return out
}

// ElectionTicks is the election timeout in heartbeat ticks, as etcd computes it.
func (c *Config) ElectionTicks() int { return int(c.ElectionTimeout / c.HeartbeatInterval) }

// IsNewCluster reports whether --initial-cluster-state is "new".
func (c *Config) IsNewCluster() bool { return c.InitialClusterState == ClusterStateNew }

// FeatureEnabled reports a server feature gate's value (false for unknown names).
func (c *Config) FeatureEnabled(name string) bool { return c.FeatureGates[name] }

// EffectiveQuotaBackendBytes is the backend quota in force: the default for 0, -1 for none.
func (c *Config) EffectiveQuotaBackendBytes() int64 {
	switch {
	case c.QuotaBackendBytes < 0:
		return -1
	case c.QuotaBackendBytes == 0:
		return DefaultQuotaBackendBytes
	}
	return c.QuotaBackendBytes
}

// AutoCompactionRetentionDuration interprets --auto-compaction-retention as etcd does: a bare
// number is hours in periodic mode and revisions in revision mode (returned as a Duration of
// that many nanoseconds, as etcd does); otherwise a Go duration.
func (c *Config) AutoCompactionRetentionDuration() (time.Duration, error) {
	return parseCompactionRetention(c.AutoCompactionMode, c.AutoCompactionRetention)
}

func parseCompactionRetention(mode, retention string) (time.Duration, error) {
	if retention == "" {
		retention = "0"
	}
	h, err := strconv.Atoi(retention)
	if err == nil && h >= 0 {
		switch mode {
		case CompactorModeRevision:
			return time.Duration(int64(h)), nil
		case CompactorModePeriodic:
			return time.Duration(int64(h)) * time.Hour, nil
		case "":
			return 0, errors.New("--auto-compaction-mode is undefined")
		}
		return 0, nil
	}
	ret, err := time.ParseDuration(retention)
	if err != nil {
		return 0, fmt.Errorf("error parsing CompactionRetention: %w", err)
	}
	return ret, nil
}

// deprecatedFlags are etcdmain's warnings for deprecated flags that are set.
var deprecatedFlags = map[string]string{
	"max-snapshots":  "--max-snapshots is deprecated in 3.6 and will be decommissioned in 3.8.",
	"v2-deprecation": "--v2-deprecation is deprecated and scheduled for removal in v3.8. The default value is enforced, ignoring user input.",
	"experimental-compact-hash-check-enabled":           "--experimental-compact-hash-check-enabled is deprecated in 3.6 and will be decommissioned in 3.7. Use '--feature-gates=CompactHashCheck=true' instead.",
	"experimental-compact-hash-check-time":              "--experimental-compact-hash-check-time is deprecated in 3.6 and will be decommissioned in 3.7. Use '--compact-hash-check-time' instead.",
	"experimental-txn-mode-write-with-shared-buffer":    "--experimental-txn-mode-write-with-shared-buffer is deprecated in v3.6 and will be decommissioned in v3.7. Use '--feature-gates=TxnModeWriteWithSharedBuffer=true' instead.",
	"experimental-corrupt-check-time":                   "--experimental-corrupt-check-time is deprecated in v3.6 and will be decommissioned in v3.7. Use '--corrupt-check-time' instead.",
	"experimental-compaction-batch-limit":               "--experimental-compaction-batch-limit is deprecated in v3.6 and will be decommissioned in v3.7. Use '--compaction-batch-limit' instead.",
	"experimental-watch-progress-notify-interval":       "--experimental-watch-progress-notify-interval is deprecated in v3.6 and will be decommissioned in v3.7. Use '--watch-progress-notify-interval' instead.",
	"experimental-warning-apply-duration":               "--experimental-warning-apply-duration is deprecated in v3.6 and will be decommissioned in v3.7. Use '--warning-apply-duration' instead.",
	"experimental-bootstrap-defrag-threshold-megabytes": "--experimental-bootstrap-defrag-threshold-megabytes is deprecated in v3.6 and will be decommissioned in v3.7. Use '--bootstrap-defrag-threshold-megabytes' instead.",
	"experimental-memory-mlock":                         "--experimental-memory-mlock is deprecated in v3.6 and will be decommissioned in v3.7. Use '--memory-mlock' instead.",
	"experimental-snapshot-catchup-entries":             "--experimental-snapshot-catchup-entries is deprecated in v3.6 and will be decommissioned in v3.7. Use '--snapshot-catchup-entries' instead.",
	"experimental-compaction-sleep-interval":            "--experimental-compaction-sleep-interval is deprecated in v3.6 and will be decommissioned in v3.7. Use 'compaction-sleep-interval' instead.",
	"experimental-downgrade-check-time":                 "--experimental-downgrade-check-time is deprecated in v3.6 and will be decommissioned in v3.7. Use '--downgrade-check-time' instead.",
	"experimental-enable-distributed-tracing":           "--experimental-enable-distributed-tracing is deprecated in 3.6 and will be decommissioned in 3.7. Use --enable-distributed-tracing instead.",
	"experimental-distributed-tracing-address":          "--experimental-distributed-tracing-address is deprecated in 3.6 and will be decommissioned in 3.7. Use --distributed-tracing-address instead.",
	"experimental-distributed-tracing-service-name":     "--experimental-distributed-tracing-service-name is deprecated in 3.6 and will be decommissioned in 3.7. Use --distributed-tracing-service-name instead.",
	"experimental-distributed-tracing-instance-id":      "--experimental-distributed-tracing-instance-id is deprecated in 3.6 and will be decommissioned in 3.7. Use --distributed-tracing-instance-id instead.",
	"experimental-distributed-tracing-sampling-rate":    "--experimental-distributed-tracing-sampling-rate is deprecated in 3.6 and will be decommissioned in 3.7. Use --distributed-tracing-sampling-rate instead.",
}

// newFlagSet builds the flag set; it never prints (Parse returns what etcd would print).
func newFlagSet(c *ecfg) (*flag.FlagSet, *flagVals) {
	fs := flag.NewFlagSet("cairn", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fv := c.addFlags(fs)
	return fs, fv
}

// Parse reads args (without the program name) and env (os.Environ() form "K=V") the way etcd
// 3.6 reads its command line, environment and --config-file, and checks the result as etcd
// does. See the package documentation for what its errors mean to the caller.
func Parse(args []string, env []string) (*Config, error) {
	return parse(args, environ(env), detectDefaultHost)
}

func parse(args []string, env environ, defaultHost func() (string, error)) (*Config, error) {
	n := &notes{}
	ec := newECfg()
	defaultInitialCluster := ec.InitialCluster
	fs, fv := newFlagSet(ec)

	// etcdmain: flag errors first (in argument order), then stray arguments, then --version.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, flag.ErrHelp
		}
		return nil, &FlagError{Err: err}
	}
	if fs.NArg() != 0 {
		return nil, fmt.Errorf("%q is not a valid flag", fs.Arg(0))
	}
	if fv.printVersion {
		return nil, ErrPrintVersion
	}

	var err error
	configFile := fv.configFile
	if configFile == "" {
		configFile = env.get(FlagToEnv("config-file"))
	}
	if configFile != "" {
		err = ec.configFromFile(configFile, n)
		n.info("loaded server configuration, other configuration command line flags and environment variables will be ignored if provided",
			"path", configFile)
	} else {
		err = ec.configFromCmdLine(fs, fv, env, n)
		var shadowed *EnvShadowedError
		if errors.As(err, &shadowed) {
			return nil, err
		}
	}

	// etcdmain: the experimental flags, when set, feed their successors.
	set := ec.FlagsExplicitlySet
	if set["experimental-compact-hash-check-time"] {
		ec.CompactHashCheckTime = ec.ExperimentalCompactHashCheckTime
	}
	if set["experimental-corrupt-check-time"] {
		ec.CorruptCheckTime = ec.ExperimentalCorruptCheckTime
	}
	if set["experimental-compaction-batch-limit"] {
		ec.CompactionBatchLimit = ec.ExperimentalCompactionBatchLimit
	}
	if set["experimental-watch-progress-notify-interval"] {
		ec.WatchProgressNotifyInterval = ec.ExperimentalWatchProgressNotifyInterval
	}
	if set["experimental-warning-apply-duration"] {
		ec.WarningApplyDuration = ec.ExperimentalWarningApplyDuration
	}
	if set["experimental-bootstrap-defrag-threshold-megabytes"] {
		ec.BootstrapDefragThresholdMegabytes = ec.ExperimentalBootstrapDefragThresholdMegabytes
	}
	if set["experimental-peer-skip-client-san-verification"] {
		ec.PeerTLSInfo.SkipClientSANVerify = ec.ExperimentalPeerSkipClientSanVerification
	}
	if set["experimental-memory-mlock"] {
		ec.MemoryMlock = ec.ExperimentalMemoryMlock
	}
	if set["experimental-snapshot-catchup-entries"] {
		ec.SnapshotCatchUpEntries = ec.ExperimentalSnapshotCatchUpEntries
	}
	if set["experimental-compaction-sleep-interval"] {
		ec.CompactionSleepInterval = ec.ExperimentalCompactionSleepInterval
	}
	if set["experimental-downgrade-check-time"] {
		ec.DowngradeCheckTime = ec.ExperimentalDowngradeCheckTime
	}
	if set["experimental-enable-distributed-tracing"] {
		ec.EnableDistributedTracing = ec.ExperimentalEnableDistributedTracing
	}
	if set["experimental-distributed-tracing-address"] {
		ec.DistributedTracingAddress = ec.ExperimentalDistributedTracingAddress
	}
	if set["experimental-distributed-tracing-service-name"] {
		ec.DistributedTracingServiceName = ec.ExperimentalDistributedTracingServiceName
	}
	if set["experimental-distributed-tracing-instance-id"] {
		ec.DistributedTracingServiceInstanceID = ec.ExperimentalDistributedTracingServiceInstanceID
	}
	if set["experimental-distributed-tracing-sampling-rate"] {
		ec.DistributedTracingSamplingRatePerMillion = ec.ExperimentalDistributedTracingSamplingRatePerMillion
	}
	if ec.V2Deprecation != "write-only-skip-check" {
		ec.V2Deprecation = DefaultV2Deprecation
	}

	// etcdmain.parseWarningUnaryRequestDuration; its error takes the place of any earlier one.
	switch {
	case ec.ExperimentalWarningUnaryRequestDuration != 0 && ec.WarningUnaryRequestDuration != 0:
		return nil, errors.New("both --experimental-warning-unary-request-duration and --warning-unary-request-duration flags are set. " +
			"Use only --warning-unary-request-duration")
	case ec.WarningUnaryRequestDuration != 0:
	case ec.ExperimentalWarningUnaryRequestDuration != 0:
		n.warn("--experimental-warning-unary-request-duration is deprecated, and will be decommissioned in v3.7. " +
			"Use --warning-unary-request-duration instead.")
		ec.WarningUnaryRequestDuration = ec.ExperimentalWarningUnaryRequestDuration
	default:
		ec.WarningUnaryRequestDuration = DefaultWarningUnaryRequestDuration
	}

	for _, name := range sortedKeys(set) {
		if msg, ok := deprecatedFlags[name]; ok {
			n.warn(msg)
		}
	}
	if err != nil {
		return nil, err
	}

	// etcdmain.startEtcdOrProxyV2, after parsing.
	host, dhErr := ec.updateDefaultClusterFromName(defaultInitialCluster, defaultHost)
	if host != "" {
		n.info("detected default host for advertise", "host", host)
	}
	if dhErr != nil {
		n.info("failed to detect default host", "error", dhErr.Error())
	}
	if ec.Dir == "" {
		ec.Dir = fmt.Sprintf("%v.etcd", ec.Name)
		n.warn("'data-dir' was empty; using default", "data-dir", ec.Dir)
	}
	for _, name := range fv.ignoredSeen {
		n.warn("flag is no longer supported - ignoring", "flag-name", name)
	}

	// embed.StartEtcd rejects these before serving; rejecting them here ends the same way.
	if _, err := parseCompactionRetention(ec.AutoCompactionMode, ec.AutoCompactionRetention); err != nil {
		return nil, err
	}
	if _, err := CipherSuites(ec.CipherSuites); err != nil {
		return nil, err
	}

	cfg := ec.public(fs, configFile)
	for _, name := range sortedKeys(cfg.Unimplemented) {
		n.warn("flag is accepted for compatibility but not implemented by Cairn; ignoring",
			"flag-name", name, "value", cfg.Unimplemented[name])
	}
	cfg.notes = n.list
	return cfg, nil
}

// configFromCmdLine is etcdmain's configFromCmdLine: environment, then the values etcd reads
// back from its flag set, then the checks.
func (c *ecfg) configFromCmdLine(fs *flag.FlagSet, fv *flagVals, env environ, n *notes) error {
	const verKey = "ETCD_VERSION"
	if verVal := env.get(verKey); verVal != "" {
		env = env.without(verKey)
		n.warn("cannot set special environment variable", "key", verKey, "value", verVal)
	}
	if err := setFlagsFromEnv(fs, env, n); err != nil {
		return err
	}

	if c.RaftReadTimeout < DefaultRaftReadTimeout {
		c.RaftReadTimeout = DefaultRaftReadTimeout
		n.info(fmt.Sprintf("raft-read-timeout increased to minimum value: %v", DefaultRaftReadTimeout))
	}
	if c.RaftWriteTimeout < DefaultRaftWriteTimeout {
		c.RaftWriteTimeout = DefaultRaftWriteTimeout
		n.info(fmt.Sprintf("raft-write-timeout increased to minimum value: %v", DefaultRaftWriteTimeout))
	}

	c.ListenPeerUrls = fv.listenPeerURLs.urls()
	c.AdvertisePeerUrls = fv.advertisePeerURLs.urls()
	c.ListenClientUrls = fv.listenClientURLs.urls()
	c.ListenClientHttpUrls = fv.listenClientHTTPURLs.urls()
	c.AdvertiseClientUrls = fv.advertiseClientURLs.urls()
	c.ListenMetricsUrls = fv.listenMetricsURLs.urls()
	c.DiscoveryCfg.Endpoints = fv.discoveryEndpoints.slice()
	c.CORS = fv.cors.values
	c.HostWhitelist = fv.hostWhitelist.values
	c.ClientTLSInfo.AllowedHostnames = *fv.clientCertAllowedHostname
	c.PeerTLSInfo.AllowedCNs = *fv.peerCertAllowedCN
	c.PeerTLSInfo.AllowedHostnames = *fv.peerCertAllowedHostname
	c.CipherSuites = *fv.cipherSuites
	c.MaxConcurrentStreams = uint32(*fv.maxConcurrentStreams)
	c.LogOutputs = fv.logOutputs.slice()
	c.ClusterState = fv.clusterState.String()
	c.DiscoveryFallback = fv.fallback.String()
	c.V2Deprecation = fv.v2deprecation.String()

	isSet := func(name string) bool {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
		return set
	}
	// An explicit --listen-client-urls drops the default --advertise-client-urls.
	if isSet("listen-client-urls") && !isSet("advertise-client-urls") {
		c.AdvertiseClientUrls = nil
	}
	// Discovery drops the default --initial-cluster.
	if (c.Durl != "" || c.DNSCluster != "" || c.DNSClusterServiceName != "" || len(c.DiscoveryCfg.Endpoints) > 0) && !isSet("initial-cluster") {
		c.InitialCluster = ""
	}
	fs.Visit(func(f *flag.Flag) { c.FlagsExplicitlySet[f.Name] = true })

	getBool := func(name string) *bool {
		if !isSet(name) {
			return nil
		}
		v, err := strconv.ParseBool(fs.Lookup(name).Value.String())
		if err != nil {
			return nil
		}
		return &v
	}
	if err := setFeatureGatesFromExperimentalFlags(c.ServerFeatureGate, getBool, c.ServerFeatureGate.String()); err != nil {
		return err
	}

	if c.DiscoveryFallback == "proxy" {
		return fmt.Errorf("v2 proxy is deprecated, and --discovery-fallback can't be configured as %q", "proxy")
	}
	return c.validate(n)
}

// updateDefaultClusterFromName is etcd's Config.UpdateDefaultClusterFromName: with the default
// advertise URL and a listen URL on 0.0.0.0, advertise the machine's default host instead;
// with only --name given, the default --initial-cluster follows the name.
func (c *ecfg) updateDefaultClusterFromName(defaultInitialCluster string, defaultHost func() (string, error)) (string, error) {
	hostname, hostErr := defaultHost()
	if hostname == "" || hostErr != nil {
		if c.Name != DefaultName && c.InitialCluster == defaultInitialCluster {
			c.InitialCluster = c.initialClusterFromName(c.Name)
		}
		return "", hostErr
	}

	used := false
	pip, pport := c.ListenPeerUrls[0].Hostname(), c.ListenPeerUrls[0].Port()
	if c.defaultPeerHost() && pip == "0.0.0.0" {
		c.AdvertisePeerUrls[0] = url.URL{Scheme: c.AdvertisePeerUrls[0].Scheme, Host: fmt.Sprintf("%s:%s", hostname, pport)}
		used = true
	}
	if c.Name != DefaultName && c.InitialCluster == defaultInitialCluster {
		c.InitialCluster = c.initialClusterFromName(c.Name)
	}
	cip, cport := c.ListenClientUrls[0].Hostname(), c.ListenClientUrls[0].Port()
	if c.defaultClientHost() && cip == "0.0.0.0" {
		c.AdvertiseClientUrls[0] = url.URL{Scheme: c.AdvertiseClientUrls[0].Scheme, Host: fmt.Sprintf("%s:%s", hostname, cport)}
		used = true
	}
	if !used {
		hostname = ""
	}
	return hostname, hostErr
}

func (c *ecfg) defaultPeerHost() bool {
	return len(c.AdvertisePeerUrls) == 1 && c.AdvertisePeerUrls[0].String() == DefaultInitialAdvertisePeerURLs
}

func (c *ecfg) defaultClientHost() bool {
	return len(c.AdvertiseClientUrls) == 1 && c.AdvertiseClientUrls[0].String() == DefaultAdvertiseClientURLs
}

// public turns the etcd-shaped configuration into Config.
func (c *ecfg) public(fs *flag.FlagSet, configFile string) *Config {
	cfg := &Config{
		Name:                       c.Name,
		DataDir:                    c.Dir,
		WALDir:                     c.WalDir,
		SnapshotCount:              c.SnapshotCount,
		SnapshotCatchUpEntries:     c.SnapshotCatchUpEntries,
		MaxSnapshots:               c.MaxSnapFiles,
		MaxWALs:                    c.MaxWalFiles,
		HeartbeatInterval:          time.Duration(c.TickMs) * time.Millisecond,
		ElectionTimeout:            time.Duration(c.ElectionMs) * time.Millisecond,
		InitialElectionTickAdvance: c.InitialElectionTickAdvance,
		ListenPeerURLs:             cloneOrNil(c.ListenPeerUrls),
		ListenClientURLs:           cloneOrNil(c.ListenClientUrls),
		ListenClientHTTPURLs:       cloneOrNil(c.ListenClientHttpUrls),
		QuotaBackendBytes:          c.QuotaBackendBytes,
		BackendBatchInterval:       c.BackendBatchInterval,
		BackendBatchLimit:          c.BackendBatchLimit,
		BackendFreelistType:        c.BackendFreelistType,
		MaxTxnOps:                  c.MaxTxnOps,
		MaxRequestBytes:            c.MaxRequestBytes,
		MaxConcurrentStreams:       c.MaxConcurrentStreams,
		GRPCKeepAliveMinTime:       c.GRPCKeepAliveMinTime,
		GRPCKeepAliveInterval:      c.GRPCKeepAliveInterval,
		GRPCKeepAliveTimeout:       c.GRPCKeepAliveTimeout,
		SocketReusePort:            c.ReusePort,
		SocketReuseAddress:         c.ReuseAddress,
		EnableGRPCGateway:          c.EnableGRPCGateway,
		RaftReadTimeout:            c.RaftReadTimeout,
		RaftWriteTimeout:           c.RaftWriteTimeout,
		FeatureGates:               c.ServerFeatureGate.effective(),

		InitialAdvertisePeerURLs: cloneOrNil(c.AdvertisePeerUrls),
		AdvertiseClientURLs:      cloneOrNil(c.AdvertiseClientUrls),
		InitialCluster:           c.InitialCluster,
		InitialClusterState:      c.ClusterState,
		InitialClusterToken:      c.InitialClusterToken,
		Discovery: Discovery{
			URL:                   c.Durl,
			Proxy:                 c.Dproxy,
			SRV:                   c.DNSCluster,
			SRVName:               c.DNSClusterServiceName,
			Fallback:              c.DiscoveryFallback,
			Token:                 c.DiscoveryCfg.Token,
			Endpoints:             cloneOrNil(c.DiscoveryCfg.Endpoints),
			DialTimeout:           c.DiscoveryCfg.DialTimeout,
			RequestTimeout:        c.DiscoveryCfg.RequestTimeout,
			KeepAliveTime:         c.DiscoveryCfg.KeepAliveTime,
			KeepAliveTimeout:      c.DiscoveryCfg.KeepAliveTimeout,
			InsecureTransport:     c.DiscoveryCfg.InsecureTransport,
			InsecureSkipTLSVerify: c.DiscoveryCfg.InsecureSkipVerify,
			Cert:                  c.DiscoveryCfg.Cert,
			Key:                   c.DiscoveryCfg.Key,
			CACert:                c.DiscoveryCfg.Cacert,
			User:                  c.DiscoveryCfg.Username,
			Password:              c.DiscoveryCfg.Password,
		},
		StrictReconfigCheck:     c.StrictReconfigCheck,
		PreVote:                 c.PreVote,
		AutoCompactionMode:      c.AutoCompactionMode,
		AutoCompactionRetention: c.AutoCompactionRetention,
		V2Deprecation:           c.V2Deprecation,

		ClientTLS:              c.ClientTLSInfo.public(c.ClientAutoTLS),
		PeerTLS:                c.PeerTLSInfo.public(c.PeerAutoTLS),
		SelfSignedCertValidity: c.SelfSignedCertValidity,
		CipherSuites:           cloneOrNil(c.CipherSuites),
		TLSMinVersion:          c.TlsMinVersion,
		TLSMaxVersion:          c.TlsMaxVersion,
		CORS:                   sortedKeys(c.CORS),
		HostWhitelist:          sortedKeys(c.HostWhitelist),

		AuthToken:    c.AuthToken,
		BcryptCost:   c.BcryptCost,
		AuthTokenTTL: c.AuthTokenTTL,

		EnablePprof:       c.EnablePprof,
		Metrics:           c.Metrics,
		ListenMetricsURLs: cloneOrNil(c.ListenMetricsUrls),

		Logger:                      c.Logger,
		LogLevel:                    c.LogLevel,
		LogFormat:                   c.LogFormat,
		LogOutputs:                  cloneOrNil(c.LogOutputs),
		EnableLogRotation:           c.EnableLogRotation,
		LogRotationConfigJSON:       c.LogRotationConfigJSON,
		WarningUnaryRequestDuration: c.WarningUnaryRequestDuration,
		WarningApplyDuration:        c.WarningApplyDuration,

		Tracing: Tracing{
			Enabled:                c.EnableDistributedTracing,
			Address:                c.DistributedTracingAddress,
			ServiceName:            c.DistributedTracingServiceName,
			InstanceID:             c.DistributedTracingServiceInstanceID,
			SamplingRatePerMillion: c.DistributedTracingSamplingRatePerMillion,
		},

		CorruptCheckTime:                  c.CorruptCheckTime,
		CompactHashCheckTime:              c.CompactHashCheckTime,
		CompactionBatchLimit:              c.CompactionBatchLimit,
		CompactionSleepInterval:           c.CompactionSleepInterval,
		WatchProgressNotifyInterval:       c.WatchProgressNotifyInterval,
		DowngradeCheckTime:                c.DowngradeCheckTime,
		BootstrapDefragThresholdMegabytes: c.BootstrapDefragThresholdMegabytes,
		MaxLearners:                       c.MaxLearners,
		LeaseRevokeRate:                   c.LeaseRevokeRate,
		LeaseCheckpointInterval:           c.LeaseCheckpointInterval,
		MemoryMlock:                       c.MemoryMlock,

		ForceNewCluster: c.ForceNewCluster,
		UnsafeNoFsync:   c.UnsafeNoFsync,

		ConfigFile:         configFile,
		FlagsExplicitlySet: map[string]bool{},
		Unimplemented:      map[string]string{},
	}
	for name := range c.FlagsExplicitlySet {
		cfg.FlagsExplicitlySet[name] = true
		if !acceptedOnly[name] {
			continue
		}
		v := c.fileValues[name]
		if f := fs.Lookup(name); f != nil && configFile == "" {
			v = f.Value.String()
		}
		if name == "feature-gates" && onlyImplementedFeatures(v) {
			continue
		}
		cfg.Unimplemented[name] = v
	}
	return cfg
}

// implementedFeatures are the feature gates Cairn acts on.
var implementedFeatures = setOf(FeatureLeaseCheckpoint, FeatureLeaseCheckpointPersist)

// onlyImplementedFeatures reports whether a --feature-gates value names
// only gates Cairn acts on ("LeaseCheckpoint=true,...").
func onlyImplementedFeatures(v string) bool {
	for _, kv := range strings.Split(v, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if name != "" && !implementedFeatures[name] {
			return false
		}
	}
	return true
}

// cloneOrNil copies s; empty becomes nil, so an unset list reads the same however it was unset.
func cloneOrNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func (t tlsRaw) public(auto bool) TLSInfo {
	return TLSInfo{
		CertFile:            t.CertFile,
		KeyFile:             t.KeyFile,
		ClientCertFile:      t.ClientCertFile,
		ClientKeyFile:       t.ClientKeyFile,
		TrustedCAFile:       t.TrustedCAFile,
		ClientCertAuth:      t.ClientCertAuth,
		CRLFile:             t.CRLFile,
		AllowedCNs:          cloneOrNil(t.AllowedCNs),
		AllowedHostnames:    cloneOrNil(t.AllowedHostnames),
		SkipClientSANVerify: t.SkipClientSANVerify,
		AutoTLS:             auto,
	}
}

// acceptedOnly are the flags Cairn parses and checks but whose behaviour it does not have:
// etcd's v2/v3 discovery, bbolt and WAL-file tuning, rafthttp timeouts, the grpc-gateway,
// CORS/host whitelists, CRL and allowed-CN/hostname checks, tracing, corruption checks,
// defrag, mlock, log rotation, the feature gates and the unsafe switches. Setting one records
// it in Config.Unimplemented.
var acceptedOnly = setOf(
	"discovery", "discovery-proxy", "discovery-srv", "discovery-srv-name", "discovery-fallback",
	"discovery-token", "discovery-endpoints", "discovery-dial-timeout", "discovery-request-timeout",
	"discovery-keepalive-time", "discovery-keepalive-timeout", "discovery-insecure-transport",
	"discovery-insecure-skip-tls-verify", "discovery-cert", "discovery-key", "discovery-cacert",
	"discovery-user", "discovery-password",
	"listen-client-http-urls",
	"max-snapshots", "max-wals",
	"backend-bbolt-freelist-type", "backend-batch-interval", "backend-batch-limit",
	"raft-read-timeout", "raft-write-timeout",
	"socket-reuse-port", "socket-reuse-address",
	"enable-grpc-gateway",
	"cors", "host-whitelist",
	"client-crl-file", "peer-crl-file", "client-cert-allowed-hostname",
	"peer-cert-allowed-cn", "peer-cert-allowed-hostname",
	"peer-skip-client-san-verification", "experimental-peer-skip-client-san-verification",
	"enable-log-rotation", "log-rotation-config-json",
	"enable-distributed-tracing", "distributed-tracing-address", "distributed-tracing-service-name",
	"distributed-tracing-instance-id", "distributed-tracing-sampling-rate",
	"experimental-enable-distributed-tracing", "experimental-distributed-tracing-address",
	"experimental-distributed-tracing-service-name", "experimental-distributed-tracing-instance-id",
	"experimental-distributed-tracing-sampling-rate",
	"feature-gates",
	"experimental-initial-corrupt-check", "experimental-compact-hash-check-enabled",
	"experimental-txn-mode-write-with-shared-buffer", "experimental-stop-grpc-service-on-defrag",
	"corrupt-check-time", "experimental-corrupt-check-time",
	"compact-hash-check-time", "experimental-compact-hash-check-time",
	"compaction-batch-limit", "experimental-compaction-batch-limit",
	"compaction-sleep-interval", "experimental-compaction-sleep-interval",
	"downgrade-check-time", "experimental-downgrade-check-time",
	"bootstrap-defrag-threshold-megabytes", "experimental-bootstrap-defrag-threshold-megabytes",
	"memory-mlock", "experimental-memory-mlock",
	"warning-apply-duration", "experimental-warning-apply-duration",
	"v2-deprecation",
	"unsafe-no-fsync", "force-new-cluster",
	// Not acted on yet by Cairn either: peer TLS (no peer port is served
	// while clusters have one member), a separate WAL directory (the raft
	// log lives in the member's pebble database), a metrics-only listener,
	// auth, auto-compaction, log outputs other than stderr, and raft and
	// gRPC tuning that has no effect on a single member.
	"peer-cert-file", "peer-key-file", "peer-client-cert-auth", "peer-trusted-ca-file",
	"peer-auto-tls", "peer-client-cert-file", "peer-client-key-file",
	"wal-dir", "listen-metrics-urls", "metrics",
	"auth-token", "bcrypt-cost", "auth-token-ttl",
	"auto-compaction-mode", "auto-compaction-retention",
	"log-outputs", "log-format",
	"pre-vote", "strict-reconfig-check", "max-learners", "initial-election-tick-advance",
	"grpc-keepalive-min-time", "grpc-keepalive-interval", "grpc-keepalive-timeout",
	"warning-unary-request-duration", "experimental-warning-unary-request-duration",
)

// AcceptedOnlyFlags lists, sorted, the flags that Cairn accepts for compatibility but does not
// act on; an explicitly set one is reported in Config.Unimplemented.
func AcceptedOnlyFlags() []string { return sortedKeys(acceptedOnly) }

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
