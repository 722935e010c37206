package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/cairnkv/cairn/app/config/internal/embed"
)

// configFromFile is etcd's embed.ConfigFromFile: the YAML file over the defaults, then etcd's
// post-processing and Validate. Command line flags and ETCD_* variables are ignored then.
func (c *ecfg) configFromFile(path string, n *notes) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	defaultInitialCluster := c.InitialCluster

	// etcd reads the file with sigs.k8s.io/yaml too: YAML to JSON, then JSON.
	jsonBytes, err := yaml.YAMLToJSON(b)
	if err != nil {
		return fmt.Errorf("error converting YAML to JSON: %w", err)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(jsonBytes))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("error converting YAML to JSON: %w", err)
	}
	f, err := embed.Decode(jsonBytes, c.toEmbed())
	if err != nil {
		return err
	}
	c.fromEmbed(&f.Config)

	if f.FeatureGates != "" {
		if err := c.ServerFeatureGate.Set(f.FeatureGates); err != nil {
			return err
		}
	}

	cfgMap, _ := doc.(map[string]any)
	c.fileValues = map[string]string{}
	for k, v := range cfgMap {
		c.FlagsExplicitlySet[k] = true
		c.fileValues[k] = fileValueString(v)
	}
	if pts, ok := cfgMap["peer-transport-security"]; ok {
		m, isMap := pts.(map[string]any)
		if !isMap {
			return errors.New("invalid peer-transport-security")
		}
		for k, v := range m {
			c.FlagsExplicitlySet["peer-"+k] = true
			c.fileValues["peer-"+k] = fileValueString(v)
		}
	}
	// etcd's fix for its own typo: the file key experimental-snapshot-catch-up-entries counts as
	// the flag experimental-snapshot-catchup-entries.
	if v, ok := cfgMap["experimental-snapshot-catch-up-entries"]; ok {
		c.FlagsExplicitlySet["experimental-snapshot-catchup-entries"] = true
		c.fileValues["experimental-snapshot-catchup-entries"] = fileValueString(v)
	}

	getBool := func(name string) *bool {
		if v, ok := cfgMap[name].(bool); ok {
			return &v
		}
		return nil
	}
	if err := setFeatureGatesFromExperimentalFlags(c.ServerFeatureGate, getBool, f.FeatureGates); err != nil {
		return err
	}

	for _, u := range []struct {
		val  string
		what string
		dst  *[]url.URL
	}{
		{f.ListenPeerURLs, "listen-peer-urls", &c.ListenPeerUrls},
		{f.ListenClientURLs, "listen-client-urls", &c.ListenClientUrls},
		{f.ListenClientHTTPURLs, "listen-client-http-urls", &c.ListenClientHttpUrls},
		{f.AdvertisePeerURLs, "initial-advertise-peer-urls", &c.AdvertisePeerUrls},
		// "advertise-peer-urls" is what etcd says here, for the client URLs.
		{f.AdvertiseClientURLs, "advertise-peer-urls", &c.AdvertiseClientUrls},
		{f.ListenMetricsUrlsJSON, "listen-metrics-urls", &c.ListenMetricsUrls},
	} {
		if u.val == "" {
			continue
		}
		urls, err := parseURLs(strings.Split(u.val, ","))
		if err != nil {
			return fmt.Errorf("unexpected error setting up %s: %v", u.what, err)
		}
		*u.dst = urls
	}

	if f.CORS != "" {
		uv := newUniqueURLs("", "*")
		if err := uv.Set(f.CORS); err != nil {
			return fmt.Errorf("new UniqueURLs should never fail: %v", err)
		}
		c.CORS = uv.values
	}
	if f.HostWhitelist != "" {
		c.HostWhitelist = newUniqueStrings(f.HostWhitelist).values
	}

	if (c.Durl != "" || c.DNSCluster != "" || len(c.DiscoveryCfg.Endpoints) > 0) && c.InitialCluster == defaultInitialCluster {
		c.InitialCluster = ""
	}
	if c.ClusterState == "" {
		c.ClusterState = ClusterStateNew
	}

	copySecurity := func(t *tlsRaw, s embed.Security) {
		t.CertFile = s.CertFile
		t.KeyFile = s.KeyFile
		t.ClientCertFile = s.ClientCertFile
		t.ClientKeyFile = s.ClientKeyFile
		t.ClientCertAuth = s.CertAuth
		t.TrustedCAFile = s.TrustedCAFile
		t.AllowedCNs = s.AllowedCNs
		t.AllowedHostnames = s.AllowedHostnames
		t.SkipClientSANVerify = s.SkipClientSANVerify
	}
	copySecurity(&c.ClientTLSInfo, f.ClientSecurity)
	copySecurity(&c.PeerTLSInfo, f.PeerSecurity)
	c.ClientAutoTLS = f.ClientSecurity.AutoTLS
	c.PeerAutoTLS = f.PeerSecurity.AutoTLS
	if c.SelfSignedCertValidity == 0 {
		c.SelfSignedCertValidity = 1
	}
	return c.validate(n)
}

func fileValueString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// toEmbed gives the current configuration in the config file's shape (the defaults the file is
// decoded over).
func (c *ecfg) toEmbed() embed.Config {
	return embed.Config{
		Name:                               c.Name,
		Dir:                                c.Dir,
		WalDir:                             c.WalDir,
		SnapshotCount:                      c.SnapshotCount,
		ExperimentalSnapshotCatchUpEntries: c.ExperimentalSnapshotCatchUpEntries,
		SnapshotCatchUpEntries:             c.SnapshotCatchUpEntries,
		MaxSnapFiles:                       c.MaxSnapFiles,
		MaxWalFiles:                        c.MaxWalFiles,
		TickMs:                             c.TickMs,
		ElectionMs:                         c.ElectionMs,
		InitialElectionTickAdvance:         c.InitialElectionTickAdvance,
		BackendBatchInterval:               c.BackendBatchInterval,
		BackendBatchLimit:                  c.BackendBatchLimit,
		BackendFreelistType:                c.BackendFreelistType,
		QuotaBackendBytes:                  c.QuotaBackendBytes,
		MaxTxnOps:                          c.MaxTxnOps,
		MaxRequestBytes:                    c.MaxRequestBytes,
		MaxConcurrentStreams:               c.MaxConcurrentStreams,
		SelfSignedCertValidity:             c.SelfSignedCertValidity,
		CipherSuites:                       c.CipherSuites,
		TlsMinVersion:                      c.TlsMinVersion,
		TlsMaxVersion:                      c.TlsMaxVersion,
		ClusterState:                       c.ClusterState,
		DNSCluster:                         c.DNSCluster,
		DNSClusterServiceName:              c.DNSClusterServiceName,
		Dproxy:                             c.Dproxy,
		Durl:                               c.Durl,
		DiscoveryCfg: embed.DiscoveryConfig{
			ConfigSpec: embed.ConfigSpec{
				Endpoints:        c.DiscoveryCfg.Endpoints,
				RequestTimeout:   c.DiscoveryCfg.RequestTimeout,
				DialTimeout:      c.DiscoveryCfg.DialTimeout,
				KeepAliveTime:    c.DiscoveryCfg.KeepAliveTime,
				KeepAliveTimeout: c.DiscoveryCfg.KeepAliveTimeout,
				Secure: &embed.SecureConfig{
					Cert:               c.DiscoveryCfg.Cert,
					Key:                c.DiscoveryCfg.Key,
					Cacert:             c.DiscoveryCfg.Cacert,
					InsecureTransport:  c.DiscoveryCfg.InsecureTransport,
					InsecureSkipVerify: c.DiscoveryCfg.InsecureSkipVerify,
				},
				Auth: &embed.AuthConfig{Username: c.DiscoveryCfg.Username, Password: c.DiscoveryCfg.Password},
			},
			Token: c.DiscoveryCfg.Token,
		},
		InitialCluster:          c.InitialCluster,
		InitialClusterToken:     c.InitialClusterToken,
		StrictReconfigCheck:     c.StrictReconfigCheck,
		AutoCompactionMode:      c.AutoCompactionMode,
		AutoCompactionRetention: c.AutoCompactionRetention,
		GRPCKeepAliveMinTime:    c.GRPCKeepAliveMinTime,
		GRPCKeepAliveInterval:   c.GRPCKeepAliveInterval,
		GRPCKeepAliveTimeout:    c.GRPCKeepAliveTimeout,
		SocketOpts:              embed.SocketOpts{ReusePort: c.ReusePort, ReuseAddress: c.ReuseAddress},
		PreVote:                 c.PreVote,
		AuthToken:               c.AuthToken,
		BcryptCost:              c.BcryptCost,
		AuthTokenTTL:            c.AuthTokenTTL,

		ExperimentalInitialCorruptCheck:               c.ExperimentalInitialCorruptCheck,
		ExperimentalCorruptCheckTime:                  c.ExperimentalCorruptCheckTime,
		CorruptCheckTime:                              c.CorruptCheckTime,
		ExperimentalCompactHashCheckEnabled:           c.ExperimentalCompactHashCheckEnabled,
		ExperimentalCompactHashCheckTime:              c.ExperimentalCompactHashCheckTime,
		CompactHashCheckTime:                          c.CompactHashCheckTime,
		ExperimentalEnableLeaseCheckpoint:             c.ExperimentalEnableLeaseCheckpoint,
		ExperimentalEnableLeaseCheckpointPersist:      c.ExperimentalEnableLeaseCheckpointPersist,
		ExperimentalCompactionBatchLimit:              c.ExperimentalCompactionBatchLimit,
		CompactionBatchLimit:                          c.CompactionBatchLimit,
		ExperimentalCompactionSleepInterval:           c.ExperimentalCompactionSleepInterval,
		CompactionSleepInterval:                       c.CompactionSleepInterval,
		ExperimentalWatchProgressNotifyInterval:       c.ExperimentalWatchProgressNotifyInterval,
		WatchProgressNotifyInterval:                   c.WatchProgressNotifyInterval,
		ExperimentalWarningApplyDuration:              c.ExperimentalWarningApplyDuration,
		WarningApplyDuration:                          c.WarningApplyDuration,
		ExperimentalBootstrapDefragThresholdMegabytes: c.ExperimentalBootstrapDefragThresholdMegabytes,
		BootstrapDefragThresholdMegabytes:             c.BootstrapDefragThresholdMegabytes,
		WarningUnaryRequestDuration:                   c.WarningUnaryRequestDuration,
		ExperimentalWarningUnaryRequestDuration:       c.ExperimentalWarningUnaryRequestDuration,
		MaxLearners:                                   c.MaxLearners,
		ForceNewCluster:                               c.ForceNewCluster,

		EnablePprof: c.EnablePprof,
		Metrics:     c.Metrics,

		ExperimentalEnableDistributedTracing:                 c.ExperimentalEnableDistributedTracing,
		EnableDistributedTracing:                             c.EnableDistributedTracing,
		ExperimentalDistributedTracingAddress:                c.ExperimentalDistributedTracingAddress,
		DistributedTracingAddress:                            c.DistributedTracingAddress,
		ExperimentalDistributedTracingServiceName:            c.ExperimentalDistributedTracingServiceName,
		DistributedTracingServiceName:                        c.DistributedTracingServiceName,
		ExperimentalDistributedTracingServiceInstanceID:      c.ExperimentalDistributedTracingServiceInstanceID,
		DistributedTracingServiceInstanceID:                  c.DistributedTracingServiceInstanceID,
		ExperimentalDistributedTracingSamplingRatePerMillion: c.ExperimentalDistributedTracingSamplingRatePerMillion,
		DistributedTracingSamplingRatePerMillion:             c.DistributedTracingSamplingRatePerMillion,
		ExperimentalPeerSkipClientSanVerification:            c.ExperimentalPeerSkipClientSanVerification,

		Logger:                c.Logger,
		LogLevel:              c.LogLevel,
		LogFormat:             c.LogFormat,
		LogOutputs:            c.LogOutputs,
		EnableLogRotation:     c.EnableLogRotation,
		LogRotationConfigJSON: c.LogRotationConfigJSON,
		EnableGRPCGateway:     c.EnableGRPCGateway,
		UnsafeNoFsync:         c.UnsafeNoFsync,

		ExperimentalDowngradeCheckTime:           c.ExperimentalDowngradeCheckTime,
		DowngradeCheckTime:                       c.DowngradeCheckTime,
		MemoryMlock:                              c.MemoryMlock,
		ExperimentalMemoryMlock:                  c.ExperimentalMemoryMlock,
		ExperimentalTxnModeWriteWithSharedBuffer: c.ExperimentalTxnModeWriteWithSharedBuffer,
		ExperimentalStopGRPCServiceOnDefrag:      c.ExperimentalStopGRPCServiceOnDefrag,
		V2Deprecation:                            c.V2Deprecation,
	}
}

// fromEmbed takes the decoded file's values.
func (c *ecfg) fromEmbed(e *embed.Config) {
	c.Name = e.Name
	c.Dir = e.Dir
	c.WalDir = e.WalDir
	c.SnapshotCount = e.SnapshotCount
	c.ExperimentalSnapshotCatchUpEntries = e.ExperimentalSnapshotCatchUpEntries
	c.SnapshotCatchUpEntries = e.SnapshotCatchUpEntries
	c.MaxSnapFiles = e.MaxSnapFiles
	c.MaxWalFiles = e.MaxWalFiles
	c.TickMs = e.TickMs
	c.ElectionMs = e.ElectionMs
	c.InitialElectionTickAdvance = e.InitialElectionTickAdvance
	c.BackendBatchInterval = e.BackendBatchInterval
	c.BackendBatchLimit = e.BackendBatchLimit
	c.BackendFreelistType = e.BackendFreelistType
	c.QuotaBackendBytes = e.QuotaBackendBytes
	c.MaxTxnOps = e.MaxTxnOps
	c.MaxRequestBytes = e.MaxRequestBytes
	c.MaxConcurrentStreams = e.MaxConcurrentStreams
	c.SelfSignedCertValidity = e.SelfSignedCertValidity
	c.CipherSuites = e.CipherSuites
	c.TlsMinVersion = e.TlsMinVersion
	c.TlsMaxVersion = e.TlsMaxVersion
	c.ClusterState = e.ClusterState
	c.DNSCluster = e.DNSCluster
	c.DNSClusterServiceName = e.DNSClusterServiceName
	c.Dproxy = e.Dproxy
	c.Durl = e.Durl
	d := e.DiscoveryCfg
	c.DiscoveryCfg = discoveryRaw{
		Token:            d.Token,
		Endpoints:        d.Endpoints,
		DialTimeout:      d.DialTimeout,
		RequestTimeout:   d.RequestTimeout,
		KeepAliveTime:    d.KeepAliveTime,
		KeepAliveTimeout: d.KeepAliveTimeout,
	}
	if d.Secure != nil {
		c.DiscoveryCfg.Cert = d.Secure.Cert
		c.DiscoveryCfg.Key = d.Secure.Key
		c.DiscoveryCfg.Cacert = d.Secure.Cacert
		c.DiscoveryCfg.InsecureTransport = d.Secure.InsecureTransport
		c.DiscoveryCfg.InsecureSkipVerify = d.Secure.InsecureSkipVerify
	}
	if d.Auth != nil {
		c.DiscoveryCfg.Username = d.Auth.Username
		c.DiscoveryCfg.Password = d.Auth.Password
	}
	c.InitialCluster = e.InitialCluster
	c.InitialClusterToken = e.InitialClusterToken
	c.StrictReconfigCheck = e.StrictReconfigCheck
	c.AutoCompactionMode = e.AutoCompactionMode
	c.AutoCompactionRetention = e.AutoCompactionRetention
	c.GRPCKeepAliveMinTime = e.GRPCKeepAliveMinTime
	c.GRPCKeepAliveInterval = e.GRPCKeepAliveInterval
	c.GRPCKeepAliveTimeout = e.GRPCKeepAliveTimeout
	c.ReusePort = e.SocketOpts.ReusePort
	c.ReuseAddress = e.SocketOpts.ReuseAddress
	c.PreVote = e.PreVote
	c.AuthToken = e.AuthToken
	c.BcryptCost = e.BcryptCost
	c.AuthTokenTTL = e.AuthTokenTTL

	c.ExperimentalInitialCorruptCheck = e.ExperimentalInitialCorruptCheck
	c.ExperimentalCorruptCheckTime = e.ExperimentalCorruptCheckTime
	c.CorruptCheckTime = e.CorruptCheckTime
	c.ExperimentalCompactHashCheckEnabled = e.ExperimentalCompactHashCheckEnabled
	c.ExperimentalCompactHashCheckTime = e.ExperimentalCompactHashCheckTime
	c.CompactHashCheckTime = e.CompactHashCheckTime
	c.ExperimentalEnableLeaseCheckpoint = e.ExperimentalEnableLeaseCheckpoint
	c.ExperimentalEnableLeaseCheckpointPersist = e.ExperimentalEnableLeaseCheckpointPersist
	c.ExperimentalCompactionBatchLimit = e.ExperimentalCompactionBatchLimit
	c.CompactionBatchLimit = e.CompactionBatchLimit
	c.ExperimentalCompactionSleepInterval = e.ExperimentalCompactionSleepInterval
	c.CompactionSleepInterval = e.CompactionSleepInterval
	c.ExperimentalWatchProgressNotifyInterval = e.ExperimentalWatchProgressNotifyInterval
	c.WatchProgressNotifyInterval = e.WatchProgressNotifyInterval
	c.ExperimentalWarningApplyDuration = e.ExperimentalWarningApplyDuration
	c.WarningApplyDuration = e.WarningApplyDuration
	c.ExperimentalBootstrapDefragThresholdMegabytes = e.ExperimentalBootstrapDefragThresholdMegabytes
	c.BootstrapDefragThresholdMegabytes = e.BootstrapDefragThresholdMegabytes
	c.WarningUnaryRequestDuration = e.WarningUnaryRequestDuration
	c.ExperimentalWarningUnaryRequestDuration = e.ExperimentalWarningUnaryRequestDuration
	c.MaxLearners = e.MaxLearners
	c.ForceNewCluster = e.ForceNewCluster

	c.EnablePprof = e.EnablePprof
	c.Metrics = e.Metrics

	c.ExperimentalEnableDistributedTracing = e.ExperimentalEnableDistributedTracing
	c.EnableDistributedTracing = e.EnableDistributedTracing
	c.ExperimentalDistributedTracingAddress = e.ExperimentalDistributedTracingAddress
	c.DistributedTracingAddress = e.DistributedTracingAddress
	c.ExperimentalDistributedTracingServiceName = e.ExperimentalDistributedTracingServiceName
	c.DistributedTracingServiceName = e.DistributedTracingServiceName
	c.ExperimentalDistributedTracingServiceInstanceID = e.ExperimentalDistributedTracingServiceInstanceID
	c.DistributedTracingServiceInstanceID = e.DistributedTracingServiceInstanceID
	c.ExperimentalDistributedTracingSamplingRatePerMillion = e.ExperimentalDistributedTracingSamplingRatePerMillion
	c.DistributedTracingSamplingRatePerMillion = e.DistributedTracingSamplingRatePerMillion
	c.ExperimentalPeerSkipClientSanVerification = e.ExperimentalPeerSkipClientSanVerification

	c.Logger = e.Logger
	c.LogLevel = e.LogLevel
	c.LogFormat = e.LogFormat
	c.LogOutputs = e.LogOutputs
	c.EnableLogRotation = e.EnableLogRotation
	c.LogRotationConfigJSON = e.LogRotationConfigJSON
	c.EnableGRPCGateway = e.EnableGRPCGateway
	c.UnsafeNoFsync = e.UnsafeNoFsync

	c.ExperimentalDowngradeCheckTime = e.ExperimentalDowngradeCheckTime
	c.DowngradeCheckTime = e.DowngradeCheckTime
	c.MemoryMlock = e.MemoryMlock
	c.ExperimentalMemoryMlock = e.ExperimentalMemoryMlock
	c.ExperimentalTxnModeWriteWithSharedBuffer = e.ExperimentalTxnModeWriteWithSharedBuffer
	c.ExperimentalStopGRPCServiceOnDefrag = e.ExperimentalStopGRPCServiceOnDefrag
	c.V2Deprecation = e.V2Deprecation
}
