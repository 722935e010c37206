package config

import (
	"flag"
	"fmt"
	"strings"
)

// EnvPrefix is the prefix of the environment variables that set flags: --some-flag is
// ETCD_SOME_FLAG, as for etcd.
const EnvPrefix = "ETCD"

// FlagToEnv names the environment variable of a flag: upper case, '-' becomes '_', prefixed
// with "ETCD_".
func FlagToEnv(name string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// EnvShadowedError is returned when a variable is set for a flag that the command line also
// sets. etcd refuses to start then (it logs at fatal level and exits 1); so does Cairn.
type EnvShadowedError struct {
	Var string // e.g. "ETCD_NAME"
}

// EnvShadowedMsg is the message etcd logs (at fatal level, with the field
// "environment-variable") for an EnvShadowedError; the doubled parenthesis is etcd's.
const EnvShadowedMsg = "conflicting environment variable is shadowed by corresponding command-line flag (either unset environment variable or disable flag))"

func (e *EnvShadowedError) Error() string {
	return fmt.Sprintf("%s: environment-variable=%s", EnvShadowedMsg, e.Var)
}

// environ is an environment in os.Environ form, looked up as the process environment would
// be (the first entry of a name wins).
type environ []string

func (e environ) lookup(key string) (string, bool) {
	for _, kv := range e {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k == key {
			return v, true
		}
	}
	return "", false
}

func (e environ) get(key string) string {
	v, _ := e.lookup(key)
	return v
}

// without returns e minus every entry of key (os.Unsetenv).
func (e environ) without(key string) environ {
	out := make(environ, 0, len(e))
	for _, kv := range e {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// setFlagsFromEnv is etcd's flags.SetFlagsFromEnv: every flag not set on the command line
// takes the value of its non-empty ETCD_* variable. A bad value is reported (the last one, as
// etcd's loop keeps the last error) after the variables have been checked for conflicts with
// the command line; an ETCD_* variable that names no flag (or is empty) is a warning.
func setFlagsFromEnv(fs *flag.FlagSet, env environ, n *notes) error {
	alreadySet := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { alreadySet[FlagToEnv(f.Name)] = true })

	var err error
	used := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		key := FlagToEnv(f.Name)
		if alreadySet[key] {
			return
		}
		val := env.get(key)
		if val == "" {
			return
		}
		used[key] = true
		if serr := fs.Set(f.Name, val); serr != nil {
			err = fmt.Errorf("invalid value %q for %s: %w", val, key, serr)
			return
		}
		n.info("recognized and used environment variable", "variable-name", key, "variable-value", val)
	})

	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok {
			n.warn("found invalid environment variable", "environment-variable", kv)
		}
		if used[k] {
			continue
		}
		if alreadySet[k] {
			return &EnvShadowedError{Var: k}
		}
		if strings.HasPrefix(kv, EnvPrefix+"_") {
			n.warn("unrecognized environment variable", "environment-variable", kv)
		}
	}
	return err
}
