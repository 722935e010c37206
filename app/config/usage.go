package config

import (
	"fmt"
	"strings"

	"github.com/cairnkv/cairn/modules/raftlog"
)

// usageLine is what etcd prints to stderr with -h and after a flag error (its usageline), with
// Cairn's name and without the gateway/grpc-proxy commands Cairn does not have.
const usageLine = `Usage:

  cairn [flags]
    Start a Cairn server.

  cairn --version
    Show the version of Cairn.

  cairn -h | --help
    Show the help information about Cairn.

  cairn --config-file
    Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.
`

// UsageLine returns the short usage etcd prints to stderr after a flag error and before the
// flag list of --help.
func UsageLine() string { return usageLine }

// helpSections orders the flags of the help text as etcd's help.go does.
var helpSections = []struct {
	title string
	flags []string
}{
	{"Member", []string{
		"name", "data-dir", "wal-dir", "snapshot-count", "heartbeat-interval", "election-timeout",
		"initial-election-tick-advance", "listen-peer-urls", "listen-client-urls", "listen-client-http-urls",
		"max-snapshots", "max-wals", "memory-mlock", "quota-backend-bytes", "backend-bbolt-freelist-type",
		"backend-batch-interval", "backend-batch-limit", "max-txn-ops", "max-request-bytes",
		"max-concurrent-streams", "grpc-keepalive-min-time", "grpc-keepalive-interval", "grpc-keepalive-timeout",
		"socket-reuse-port", "socket-reuse-address", "enable-grpc-gateway", "raft-read-timeout",
		"raft-write-timeout", "feature-gates",
	}},
	{"Clustering", []string{
		"initial-advertise-peer-urls", "initial-cluster", "initial-cluster-state", "initial-cluster-token",
		"advertise-client-urls", "discovery", "discovery-token", "discovery-endpoints", "discovery-dial-timeout",
		"discovery-request-timeout", "discovery-keepalive-time", "discovery-keepalive-timeout",
		"discovery-insecure-transport", "discovery-insecure-skip-tls-verify", "discovery-cert", "discovery-key",
		"discovery-cacert", "discovery-user", "discovery-password", "discovery-fallback", "discovery-proxy",
		"discovery-srv", "discovery-srv-name", "strict-reconfig-check", "pre-vote",
		"auto-compaction-retention", "auto-compaction-mode", "v2-deprecation",
	}},
	{"Security", []string{
		"cert-file", "key-file", "client-cert-auth", "client-cert-file", "client-key-file", "client-crl-file",
		"client-cert-allowed-hostname", "trusted-ca-file", "auto-tls", "peer-cert-file", "peer-key-file",
		"peer-client-cert-auth", "peer-client-cert-file", "peer-client-key-file", "peer-trusted-ca-file",
		"peer-cert-allowed-cn", "peer-cert-allowed-hostname", "peer-auto-tls", "self-signed-cert-validity",
		"peer-crl-file", "cipher-suites", "cors", "host-whitelist", "tls-min-version", "tls-max-version",
	}},
	{"Auth", []string{"auth-token", "bcrypt-cost", "auth-token-ttl"}},
	{"Profiling and Monitoring", []string{"enable-pprof", "metrics", "listen-metrics-urls"}},
	{"Logging", []string{
		"logger", "log-outputs", "log-level", "log-format", "enable-log-rotation", "log-rotation-config-json",
		"warning-unary-request-duration",
	}},
	{"Experimental distributed tracing", []string{
		"experimental-enable-distributed-tracing", "enable-distributed-tracing",
		"experimental-distributed-tracing-address", "distributed-tracing-address",
		"experimental-distributed-tracing-service-name", "distributed-tracing-service-name",
		"experimental-distributed-tracing-instance-id", "distributed-tracing-instance-id",
		"experimental-distributed-tracing-sampling-rate", "distributed-tracing-sampling-rate",
	}},
	{"Experimental feature", []string{
		"experimental-initial-corrupt-check", "experimental-corrupt-check-time", "corrupt-check-time",
		"experimental-compact-hash-check-enabled", "experimental-compact-hash-check-time",
		"compact-hash-check-time", "experimental-enable-lease-checkpoint", "experimental-compaction-batch-limit",
		"compaction-batch-limit", "experimental-peer-skip-client-san-verification",
		"peer-skip-client-san-verification", "experimental-watch-progress-notify-interval",
		"watch-progress-notify-interval", "experimental-warning-apply-duration", "warning-apply-duration",
		"experimental-txn-mode-write-with-shared-buffer", "experimental-bootstrap-defrag-threshold-megabytes",
		"bootstrap-defrag-threshold-megabytes", "experimental-warning-unary-request-duration", "max-learners",
		"experimental-compaction-sleep-interval", "compaction-sleep-interval",
		"experimental-downgrade-check-time", "downgrade-check-time",
		"experimental-enable-lease-checkpoint-persist", "experimental-memory-mlock",
		"experimental-snapshot-catchup-entries", "snapshot-catchup-entries",
		"experimental-stop-grpc-service-on-defrag",
	}},
	{"Unsafe feature", []string{"force-new-cluster", "unsafe-no-fsync"}},
	{"Cairn (no etcd twin)", []string{"lease-revoke-rate", "lease-checkpoint-interval"}},
}

// helpDefaults are defaults shown differently from the flag's own default text.
var helpDefaults = map[string]string{
	"data-dir":                       "${name}.etcd",
	"max-concurrent-streams":         "math.MaxUint32",
	"initial-cluster-state":          ClusterStateNew,
	"discovery-fallback":             "exit",
	"v2-deprecation":                 DefaultV2Deprecation,
	"warning-unary-request-duration": DefaultWarningUnaryRequestDuration.String(),
	"feature-gates":                  "",
	// Cairn's LeaseCheckpoint gate, which this flag sets, is on by default.
	"experimental-enable-lease-checkpoint": "true",
	// 0 is the default: 10 minutes, as etcd shows it.
	"watch-progress-notify-interval":              "10m",
	"experimental-watch-progress-notify-interval": "10m",
}

// soleVoterLogNote says how a single-member cluster truncates its raft log.
var soleVoterLogNote = fmt.Sprintf("Cairn: a single-member cluster truncates its log behind every %d applied entries or %d MiB of them instead, keeping no catch-up entries: no follower would read them.",
	raftlog.SoleVoterTruncEntries, raftlog.SoleVoterTruncBytes>>20)

// cairnNotes are what Cairn does differently with a flag it acts on.
var cairnNotes = map[string]string{
	"feature-gates":                                "Cairn acts on LeaseCheckpoint (on by default in Cairn) and LeaseCheckpointPersist (Cairn always persists remaining TTLs, as etcd 3.6 does); it accepts the others and reports them at start as not implemented.",
	"experimental-enable-lease-checkpoint":         "Cairn: on by default; =false turns checkpointing off.",
	"experimental-enable-lease-checkpoint-persist": "Cairn always persists remaining TTLs.",
	"snapshot-count":                               soleVoterLogNote,
	"snapshot-catchup-entries":                     soleVoterLogNote,
	"experimental-snapshot-catchup-entries":        soleVoterLogNote,
}

// Usage returns the help text: UsageLine followed by FlagsUsage.
func Usage() string { return usageLine + FlagsUsage() }

// FlagsUsage lists every flag with its default and meaning, grouped as etcd's help groups them;
// flags Cairn accepts without acting on them say so. For -h/--help etcd prints UsageLine to
// stderr and this list to stdout.
func FlagsUsage() string {
	fs, _ := newFlagSet(newECfg())
	var b strings.Builder
	for _, sec := range helpSections {
		b.WriteString("\n" + sec.title + ":\n")
		for _, name := range sec.flags {
			f := fs.Lookup(name)
			if f == nil {
				continue
			}
			def, ok := helpDefaults[name]
			if !ok {
				def = f.DefValue
			}
			b.WriteString("  --" + name + " '" + def + "'\n")
			b.WriteString("    " + f.Usage + "\n")
			if name == "feature-gates" {
				b.WriteString("    Options are:\n      " + strings.Join(knownFeatures(), "\n      ") + "\n")
			}
			// A Cairn note on an accepted-only flag (feature-gates) says
			// which part of it Cairn acts on.
			if note, ok := cairnNotes[name]; ok {
				b.WriteString("    (" + note + ")\n")
			} else if acceptedOnly[name] {
				b.WriteString("    (Accepted for compatibility with etcd; Cairn does not act on it yet.)\n")
			}
		}
	}
	b.WriteString("\nCAUTIOUS with unsafe flag! It may break the guarantees given by the consensus protocol!\n")
	return b.String()
}
