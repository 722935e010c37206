package config

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"go.uber.org/zap/zapcore"
)

// Errors etcd defines as values; the caller may match them with errors.Is.
var (
	ErrConflictBootstrapFlags = errors.New("multiple discovery or bootstrap flags are set. " +
		"Choose one of \"initial-cluster\", \"discovery\", \"discovery-endpoints\" or \"discovery-srv\"")
	ErrUnsetAdvertiseClientURLsFlag = errors.New("--advertise-client-urls is required when --listen-client-urls is set explicitly")
	ErrLogRotationInvalidLogOutput  = errors.New("--log-outputs requires a single file path when --log-rotate-config-json is defined")
)

// experimentalFlagMigrationMap: etcd 3.6's non-boolean experimental flags and the flags that
// replace them; setting both is an error.
var experimentalFlagMigrationMap = map[string]string{
	"experimental-compact-hash-check-time":              "compact-hash-check-time",
	"experimental-corrupt-check-time":                   "corrupt-check-time",
	"experimental-compaction-batch-limit":               "compaction-batch-limit",
	"experimental-watch-progress-notify-interval":       "watch-progress-notify-interval",
	"experimental-warning-apply-duration":               "warning-apply-duration",
	"experimental-bootstrap-defrag-threshold-megabytes": "bootstrap-defrag-threshold-megabytes",
	"experimental-memory-mlock":                         "memory-mlock",
	"experimental-snapshot-catchup-entries":             "snapshot-catchup-entries",
	"experimental-compaction-sleep-interval":            "compaction-sleep-interval",
	"experimental-downgrade-check-time":                 "downgrade-check-time",
	"experimental-peer-skip-client-san-verification":    "peer-skip-client-san-verification",
	"experimental-enable-distributed-tracing":           "enable-distributed-tracing",
	"experimental-distributed-tracing-address":          "distributed-tracing-address",
	"experimental-distributed-tracing-service-name":     "distributed-tracing-service-name",
	"experimental-distributed-tracing-instance-id":      "distributed-tracing-instance-id",
	"experimental-distributed-tracing-sampling-rate":    "distributed-tracing-sampling-rate",
}

// validate is etcd's embed.Config.Validate, in etcd's order (the first failing check is the
// one reported). Checks that need the machine (opening log files, the journald socket) are
// left to whoever builds the logger.
func (c *ecfg) validate(n *notes) error {
	for _, oldFlag := range sortedKeys(experimentalFlagMigrationMap) {
		newFlag := experimentalFlagMigrationMap[oldFlag]
		if c.FlagsExplicitlySet[oldFlag] && c.FlagsExplicitlySet[newFlag] {
			return fmt.Errorf("cannot set --%s and --%s at the same time, please use --%s only", oldFlag, newFlag, newFlag)
		}
	}

	if err := c.setupLogging(); err != nil {
		return err
	}
	if err := checkBindURLs(c.ListenPeerUrls); err != nil {
		return err
	}
	if err := checkBindURLs(c.ListenClientUrls); err != nil {
		return err
	}
	if err := checkBindURLs(c.ListenClientHttpUrls); err != nil {
		return err
	}
	// etcd warns here when --listen-client-http-urls is empty ("Running http and grpc server on
	// single port. This is not recommended for production."); serving every protocol on the
	// client port is Cairn's design, so Cairn does not.
	if err := checkBindURLs(c.ListenMetricsUrls); err != nil {
		return err
	}
	if err := checkHostURLs(c.AdvertisePeerUrls); err != nil {
		return fmt.Errorf(`--initial-advertise-peer-urls %q must be "host:port" (%w)`, strings.Join(urlStrings(c.AdvertisePeerUrls), ","), err)
	}
	if err := checkHostURLs(c.AdvertiseClientUrls); err != nil {
		return fmt.Errorf(`--advertise-client-urls %q must be "host:port" (%w)`, strings.Join(urlStrings(c.AdvertiseClientUrls), ","), err)
	}

	nSet := 0
	for _, v := range []bool{c.Durl != "", c.InitialCluster != "", c.DNSCluster != "", len(c.DiscoveryCfg.Endpoints) > 0} {
		if v {
			nSet++
		}
	}
	if c.ClusterState != ClusterStateNew && c.ClusterState != ClusterStateExisting {
		return fmt.Errorf("unexpected clusterState %q", c.ClusterState)
	}
	if nSet > 1 {
		return ErrConflictBootstrapFlags
	}

	v2discoveryFlagsExist := c.Dproxy != ""
	v3discoveryFlagsExist := len(c.DiscoveryCfg.Endpoints) > 0 ||
		c.DiscoveryCfg.Token != "" ||
		c.DiscoveryCfg.Cert != "" ||
		c.DiscoveryCfg.Key != "" ||
		c.DiscoveryCfg.Cacert != "" ||
		c.DiscoveryCfg.Username != "" ||
		c.DiscoveryCfg.Password != ""
	if v2discoveryFlagsExist && v3discoveryFlagsExist {
		return errors.New("both v2 discovery settings (discovery, discovery-proxy) " +
			"and v3 discovery settings (discovery-token, discovery-endpoints, discovery-cert, " +
			"discovery-key, discovery-cacert, discovery-user, discovery-password) are set")
	}
	if (c.DiscoveryCfg.Token != "") != (len(c.DiscoveryCfg.Endpoints) > 0) {
		return errors.New("both --discovery-token and --discovery-endpoints must be set")
	}
	for _, ep := range c.DiscoveryCfg.Endpoints {
		if strings.TrimSpace(ep) == "" {
			return errors.New("--discovery-endpoints must not contain empty endpoints")
		}
	}

	if c.TickMs == 0 {
		return fmt.Errorf("--heartbeat-interval must be >0 (set to %dms)", c.TickMs)
	}
	if c.ElectionMs == 0 {
		return fmt.Errorf("--election-timeout must be >0 (set to %dms)", c.ElectionMs)
	}
	if 5*c.TickMs > c.ElectionMs {
		return fmt.Errorf("--election-timeout[%vms] should be at least as 5 times as --heartbeat-interval[%vms]", c.ElectionMs, c.TickMs)
	}
	if c.ElectionMs > maxElectionMs {
		return fmt.Errorf("--election-timeout[%vms] is too long, and should be set less than %vms", c.ElectionMs, maxElectionMs)
	}

	// etcd checks this last since its proxy mode could make it OK.
	if c.ListenClientUrls != nil && c.AdvertiseClientUrls == nil {
		return ErrUnsetAdvertiseClientURLsFlag
	}

	switch c.AutoCompactionMode {
	case CompactorModeRevision, CompactorModePeriodic:
	case "":
		return errors.New("undefined auto-compaction-mode")
	default:
		return fmt.Errorf("unknown auto-compaction-mode %q", c.AutoCompactionMode)
	}

	if c.EnableDistributedTracing {
		if err := validateTracingConfig(c.DistributedTracingSamplingRatePerMillion); err != nil {
			return fmt.Errorf("distributed tracing configurition is not valid: (%w)", err)
		}
	}

	fg := c.ServerFeatureGate
	// etcd warns here when LeaseCheckpoint is on without LeaseCheckpointPersist;
	// Cairn always persists remaining TTLs, so there is nothing to warn about.
	if fg.isEnabled(FeatureLeaseCheckpointPersist) && !fg.isEnabled(FeatureLeaseCheckpoint) {
		return errors.New("enabling feature gate LeaseCheckpointPersist requires enabling feature gate LeaseCheckpoint")
	}
	if c.ExperimentalCompactHashCheckTime <= 0 {
		return fmt.Errorf("--experimental-compact-hash-check-time must be >0 (set to %v)", c.ExperimentalCompactHashCheckTime)
	}
	if c.CompactHashCheckTime <= 0 {
		return fmt.Errorf("--compact-hash-check-time must be >0 (set to %v)", c.CompactHashCheckTime)
	}

	if c.Name == DefaultName {
		n.warn("it isn't recommended to use default name, please set a value for --name. "+
			"Note that etcd might run into issue when multiple members have the same default name",
			"name", c.Name)
	}

	minVersion, err := tlsVersion(c.TlsMinVersion)
	if err != nil {
		return err
	}
	maxVersion, err := tlsVersion(c.TlsMaxVersion)
	if err != nil {
		return err
	}
	if maxVersion != 0 && minVersion > maxVersion {
		return fmt.Errorf("min version (%s) is greater than max version (%s)", c.TlsMinVersion, c.TlsMaxVersion)
	}
	if minVersion == tls.VersionTLS13 && len(c.CipherSuites) > 0 {
		return errors.New("cipher suites cannot be configured when only TLS1.3 is enabled")
	}
	return nil
}

// setupLogging performs the checks of etcd's Config.setupLogging that do not need the machine.
// An unknown --log-level makes etcd panic with zap's message; here it is an error with that
// same message.
func (c *ecfg) setupLogging() error {
	switch c.Logger {
	case "capnslog":
		return errors.New("--logger=capnslog is removed in v3.5")
	case "zap":
	default:
		return fmt.Errorf("unknown logger option %q", c.Logger)
	}
	if len(c.LogOutputs) == 0 {
		c.LogOutputs = []string{DefaultLogOutput}
	}
	if len(c.LogOutputs) > 1 {
		for _, v := range c.LogOutputs {
			if v == DefaultLogOutput {
				return fmt.Errorf("multi logoutput for %q is not supported yet", DefaultLogOutput)
			}
		}
	}
	if c.EnableLogRotation {
		if err := checkLogRotation(c.LogOutputs, c.LogRotationConfigJSON); err != nil {
			return err
		}
	}
	isJournal := false
	for _, v := range c.LogOutputs {
		if v == JournalLogOutput {
			isJournal = true
		}
	}
	if isJournal && len(c.LogOutputs) > 1 {
		for _, v := range c.LogOutputs {
			if v != DefaultLogOutput {
				return fmt.Errorf("running with systemd/journal but other '--log-outputs' values (%q) are configured with 'default'; override 'default' value with something else", c.LogOutputs)
			}
		}
	}
	var lvl zapcore.Level
	if err := lvl.Set(c.LogLevel); err != nil {
		return err
	}
	switch c.LogFormat {
	case "json", "console", "":
	default:
		return fmt.Errorf("unknown log format: %s, supported values json, console", c.LogFormat)
	}
	return nil
}

func checkLogRotation(logOutputs []string, configJSON string) error {
	outputFilePaths := 0
	for _, v := range logOutputs {
		switch v {
		case DefaultLogOutput, StdErrLogOutput, StdOutLogOutput:
		default:
			outputFilePaths++
		}
	}
	if len(logOutputs) == 1 && outputFilePaths == 0 {
		return ErrLogRotationInvalidLogOutput
	}
	if outputFilePaths > 1 {
		return ErrLogRotationInvalidLogOutput
	}
	// The shape etcd decodes --log-rotation-config-json into (lumberjack.Logger embedded in
	// etcd's logRotationConfig), with the same names, so decoding errors read the same.
	type Logger struct {
		Filename   string `json:"filename"`
		MaxSize    int    `json:"maxsize"`
		MaxAge     int    `json:"maxage"`
		MaxBackups int    `json:"maxbackups"`
		LocalTime  bool   `json:"localtime"`
		Compress   bool   `json:"compress"`
	}
	type logRotationConfig struct{ *Logger }
	var lrc logRotationConfig
	if err := json.Unmarshal([]byte(configJSON), &lrc); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &syntaxErr):
			return fmt.Errorf("improperly formatted log rotation config: %w", err)
		case errors.As(err, &typeErr):
			return fmt.Errorf("invalid log rotation config: %w", err)
		default:
			return fmt.Errorf("fail to unmarshal log rotation config: %w", err)
		}
	}
	return nil
}

func validateTracingConfig(samplingRate int) error {
	if samplingRate < 0 {
		return errors.New("tracing sampling rate must be positive")
	}
	if samplingRate > maxSamplingRatePerMillion {
		return fmt.Errorf("tracing sampling rate must be less than %d", maxSamplingRatePerMillion)
	}
	return nil
}

// checkBindURLs rejects listen URLs whose host is a name other than localhost.
func checkBindURLs(urls []url.URL) error {
	for _, u := range urls {
		if u.Scheme == "unix" || u.Scheme == "unixs" {
			continue
		}
		host, _, err := net.SplitHostPort(u.Host)
		if err != nil {
			return err
		}
		if host == "localhost" {
			continue
		}
		if net.ParseIP(host) == nil {
			return fmt.Errorf("expected IP in URL for binding (%s)", u.String())
		}
	}
	return nil
}

func checkHostURLs(urls []url.URL) error {
	for _, u := range urls {
		host, _, err := net.SplitHostPort(u.Host)
		if err != nil {
			return err
		}
		if host == "" {
			return fmt.Errorf("unexpected empty host (%s)", u.String())
		}
	}
	return nil
}

// tlsVersion is etcd's tlsutil.GetTLSVersion.
func tlsVersion(v string) (uint16, error) {
	switch v {
	case "":
		return 0, nil
	case "TLS1.2":
		return tls.VersionTLS12, nil
	case "TLS1.3":
		return tls.VersionTLS13, nil
	default:
		return 0, fmt.Errorf("unexpected TLS version %q (must be one of: TLS1.2, TLS1.3)", v)
	}
}

// TLSVersion turns --tls-min-version / --tls-max-version into a crypto/tls version; "" is 0,
// which lets Go choose.
func TLSVersion(v string) (uint16, error) { return tlsVersion(v) }

// CipherSuites turns --cipher-suites names into crypto/tls IDs, as etcd's tlsutil does (Go's
// names, insecure ones included, plus the two CHACHA20 names without the _SHA256 suffix).
func CipherSuites(names []string) ([]uint16, error) {
	ids := make([]uint16, len(names))
	for i, s := range names {
		id, ok := cipherSuite(s)
		if !ok {
			return nil, fmt.Errorf("unexpected TLS cipher suite %q", s)
		}
		ids[i] = id
	}
	return ids, nil
}

func cipherSuite(s string) (uint16, bool) {
	for _, c := range tls.CipherSuites() {
		if s == c.Name {
			return c.ID, true
		}
	}
	for _, c := range tls.InsecureCipherSuites() {
		if s == c.Name {
			return c.ID, true
		}
	}
	switch s {
	case "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305":
		return tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, true
	case "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305":
		return tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, true
	}
	return 0, false
}
