package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Server feature gates, as etcd 3.6 names them (--feature-gates=Name=true,...).
const (
	FeatureStopGRPCServiceOnDefrag      = "StopGRPCServiceOnDefrag"
	FeatureTxnModeWriteWithSharedBuffer = "TxnModeWriteWithSharedBuffer"
	FeatureInitialCorruptCheck          = "InitialCorruptCheck"
	FeatureCompactHashCheck             = "CompactHashCheck"
	FeatureLeaseCheckpoint              = "LeaseCheckpoint"
	FeatureLeaseCheckpointPersist       = "LeaseCheckpointPersist"
	FeatureSetMemberLocalAddr           = "SetMemberLocalAddr"

	featureAllAlpha = "AllAlpha"
	featureAllBeta  = "AllBeta"
)

const (
	preAlpha = "ALPHA"
	preBeta  = "BETA"
)

type featureSpec struct {
	def        bool
	preRelease string
}

// serverFeatures is etcd 3.6's DefaultEtcdServerFeatureGates plus the generic AllAlpha/AllBeta,
// with one difference: LeaseCheckpoint is on by default in Cairn, so that a restarted member
// (or, later, a new leader) neither hands every lease a fresh full TTL nor expires one early
// (Cairn's Lease issue asks for it; --feature-gates=LeaseCheckpoint=false turns it off).
var serverFeatures = map[string]featureSpec{
	featureAllAlpha:                     {false, preAlpha},
	featureAllBeta:                      {false, preBeta},
	FeatureStopGRPCServiceOnDefrag:      {false, preAlpha},
	FeatureInitialCorruptCheck:          {false, preAlpha},
	FeatureCompactHashCheck:             {false, preAlpha},
	FeatureTxnModeWriteWithSharedBuffer: {true, preBeta},
	FeatureLeaseCheckpoint:              {true, preAlpha},
	FeatureLeaseCheckpointPersist:       {false, preAlpha},
	FeatureSetMemberLocalAddr:           {false, preAlpha},
}

// experimentalFlagToFeature maps etcd's deprecated experimental bool flags to the gate that
// replaced each of them.
var experimentalFlagToFeature = map[string]string{
	"experimental-stop-grpc-service-on-defrag":       FeatureStopGRPCServiceOnDefrag,
	"experimental-initial-corrupt-check":             FeatureInitialCorruptCheck,
	"experimental-compact-hash-check-enabled":        FeatureCompactHashCheck,
	"experimental-txn-mode-write-with-shared-buffer": FeatureTxnModeWriteWithSharedBuffer,
	"experimental-enable-lease-checkpoint":           FeatureLeaseCheckpoint,
	"experimental-enable-lease-checkpoint-persist":   FeatureLeaseCheckpointPersist,
}

// featureGate is the --feature-gates flag value; it behaves as etcd's featuregate (Set merges
// into what earlier Sets enabled, AllAlpha/AllBeta fill in the gates not named explicitly).
type featureGate struct {
	enabled map[string]bool
}

func newFeatureGate() *featureGate { return &featureGate{enabled: map[string]bool{}} }

func (f *featureGate) Set(value string) error {
	m := map[string]bool{}
	for _, s := range strings.Split(value, ",") {
		if len(s) == 0 {
			continue
		}
		arr := strings.SplitN(s, "=", 2)
		k := strings.TrimSpace(arr[0])
		if len(arr) != 2 {
			return fmt.Errorf("missing bool value for %s", k)
		}
		v := strings.TrimSpace(arr[1])
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("invalid value of %s=%s, err: %w", k, v, err)
		}
		m[k] = b
	}
	return f.setFromMap(m)
}

func (f *featureGate) setFromMap(m map[string]bool) error {
	enabled := make(map[string]bool, len(f.enabled)+len(m))
	for k, v := range f.enabled {
		enabled[k] = v
	}
	// Sorted so that which error is reported first does not depend on map order.
	for _, k := range sortedKeys(m) {
		v := m[k]
		if _, ok := serverFeatures[k]; !ok {
			return fmt.Errorf("unrecognized feature gate: %s", k)
		}
		enabled[k] = v
		var pre string
		switch k {
		case featureAllAlpha:
			pre = preAlpha
		case featureAllBeta:
			pre = preBeta
		}
		if pre != "" {
			for name, spec := range serverFeatures {
				if spec.preRelease == pre {
					if _, found := enabled[name]; !found {
						enabled[name] = v
					}
				}
			}
		}
	}
	f.enabled = enabled
	return nil
}

func (f *featureGate) String() string {
	pairs := make([]string, 0, len(f.enabled))
	for k, v := range f.enabled {
		pairs = append(pairs, fmt.Sprintf("%s=%t", k, v))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

func (f *featureGate) isEnabled(name string) bool {
	if v, ok := f.enabled[name]; ok {
		return v
	}
	return serverFeatures[name].def
}

// effective returns every known server gate with its resulting value.
func (f *featureGate) effective() map[string]bool {
	out := map[string]bool{}
	for name := range serverFeatures {
		if name == featureAllAlpha || name == featureAllBeta {
			continue
		}
		out[name] = f.isEnabled(name)
	}
	return out
}

// knownFeatures lists the gates the way etcd's help text does.
func knownFeatures() []string {
	var known []string
	for k, v := range serverFeatures {
		known = append(known, fmt.Sprintf("%s=true|false (%s - default=%t)", k, v.preRelease, v.def))
	}
	sort.Strings(known)
	return known
}

// setFeatureGatesFromExperimentalFlags is etcd's embed.SetFeatureGatesFromExperimentalFlags:
// an explicitly set experimental flag sets its gate, unless --feature-gates names that gate
// too (etcd checks by substring, so LeaseCheckpointPersist=… also counts as naming
// LeaseCheckpoint; kept).
func setFeatureGatesFromExperimentalFlags(fg *featureGate, get func(string) *bool, featureGatesVal string) error {
	m := map[string]bool{}
	for _, expFlag := range sortedKeys(experimentalFlagToFeature) {
		feature := experimentalFlagToFeature[expFlag]
		v := get(expFlag)
		if v == nil {
			continue
		}
		if strings.Contains(featureGatesVal, feature) {
			return fmt.Errorf("cannot specify both flags: --%s=%v and --%s=%s=%v at the same time, please just use --%s=%s=%v",
				expFlag, *v, "feature-gates", feature, fg.isEnabled(feature), "feature-gates", feature, fg.isEnabled(feature))
		}
		m[feature] = *v
	}
	return fg.setFromMap(m)
}
