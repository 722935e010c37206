package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// This file holds the flag.Value kinds etcd uses beyond the stdlib ones. Each behaves as etcd's
// (go.etcd.io/etcd/pkg/v3/flags) does, quirks included, because users' command lines and
// ETCD_* variables were written against those quirks.

// parseURLs parses a list of URLs the way etcd's types.NewURLs does: every URL needs scheme
// http, https, unix or unixs; http(s) ones need host:port and no path. The result is sorted by
// its string form (etcd sorts, so "first URL" means the smallest one).
func parseURLs(strs []string) ([]url.URL, error) {
	if len(strs) == 0 {
		return nil, errors.New("no valid URLs given")
	}
	all := make([]url.URL, len(strs))
	for i, in := range strs {
		in = strings.TrimSpace(in)
		u, err := url.Parse(in)
		if err != nil {
			return nil, err
		}
		switch u.Scheme {
		case "http", "https":
			if _, _, err := net.SplitHostPort(u.Host); err != nil {
				return nil, fmt.Errorf(`URL address does not have the form "host:port": %s`, in)
			}
			if u.Path != "" {
				return nil, fmt.Errorf("URL must not contain a path: %s", in)
			}
		case "unix", "unixs":
		default:
			return nil, fmt.Errorf("URL scheme must be http, https, unix, or unixs: %s", in)
		}
		all[i] = *u
	}
	sortURLs(all)
	return all, nil
}

func sortURLs(us []url.URL) {
	sort.SliceStable(us, func(i, j int) bool { return us[i].String() < us[j].String() })
}

func urlStrings(us []url.URL) []string {
	out := make([]string, len(us))
	for i := range us {
		out[i] = us[i].String()
	}
	return out
}

// uniqueURLs is etcd's flags.UniqueURLs: a comma-separated URL list, deduplicated, with
// "exception" strings that are accepted verbatim (and then only added to the value set).
type uniqueURLs struct {
	values  map[string]struct{}
	uss     []url.URL
	allowed map[string]struct{}
}

func newUniqueURLs(s string, exceptions ...string) *uniqueURLs {
	us := &uniqueURLs{values: map[string]struct{}{}, allowed: map[string]struct{}{}}
	for _, v := range exceptions {
		us.allowed[v] = struct{}{}
	}
	if s == "" {
		return us
	}
	if err := us.Set(s); err != nil {
		panic(fmt.Sprintf("new UniqueURLs should never fail: %v", err))
	}
	return us
}

func (us *uniqueURLs) Set(s string) error {
	if _, ok := us.values[s]; ok {
		return nil
	}
	if _, ok := us.allowed[s]; ok {
		us.values[s] = struct{}{}
		return nil
	}
	ss, err := parseURLs(strings.Split(s, ","))
	if err != nil {
		return err
	}
	us.values = map[string]struct{}{}
	us.uss = nil
	for _, v := range ss {
		x := v.String()
		if _, dup := us.values[x]; dup {
			continue
		}
		us.values[x] = struct{}{}
		us.uss = append(us.uss, v)
	}
	return nil
}

func (us *uniqueURLs) String() string { return strings.Join(sortedKeys(us.values), ",") }

func (us *uniqueURLs) urls() []url.URL { return slices.Clone(us.uss) }

// stringsValue is etcd's flags.StringsValue: a comma-separated list, kept as given.
type stringsValue []string

func (ss *stringsValue) Set(s string) error {
	*ss = strings.Split(s, ",")
	return nil
}

func (ss *stringsValue) String() string { return strings.Join(*ss, ",") }

// uniqueStrings is etcd's flags.UniqueStringsValue: a comma-separated set, read back sorted.
type uniqueStrings struct{ values map[string]struct{} }

func newUniqueStrings(s string) *uniqueStrings {
	us := &uniqueStrings{values: map[string]struct{}{}}
	if s != "" {
		_ = us.Set(s)
	}
	return us
}

func (us *uniqueStrings) Set(s string) error {
	vs := strings.Split(s, ",")
	us.values = make(map[string]struct{}, len(vs))
	for _, v := range vs {
		us.values[v] = struct{}{}
	}
	return nil
}

func (us *uniqueStrings) String() string { return strings.Join(us.slice(), ",") }

func (us *uniqueStrings) slice() []string { return sortedKeys(us.values) }

// uint32Value is etcd's flags.uint32Value (base prefixes accepted, strconv's error text).
type uint32Value uint32

func (i *uint32Value) Set(s string) error {
	v, err := strconv.ParseUint(s, 0, 32)
	*i = uint32Value(v)
	return err
}

func (i *uint32Value) String() string { return strconv.FormatUint(uint64(*i), 10) }

// selectiveString is etcd's flags.SelectiveStringValue: one of a fixed set of strings.
type selectiveString struct {
	v      string
	valids map[string]struct{}
}

func newSelectiveString(valids ...string) *selectiveString {
	vm := make(map[string]struct{}, len(valids))
	for _, v := range valids {
		vm[v] = struct{}{}
	}
	return &selectiveString{valids: vm, v: valids[0]}
}

func (ss *selectiveString) Set(s string) error {
	if _, ok := ss.valids[s]; ok {
		ss.v = s
		return nil
	}
	return errors.New("invalid value")
}

func (ss *selectiveString) String() string { return ss.v }

// selectiveStrings is etcd's flags.SelectiveStringsValue: a comma-separated list drawn from a
// fixed set. Like etcd's, repeated Sets accumulate.
type selectiveStrings struct {
	vs     []string
	valids map[string]struct{}
}

func newSelectiveStrings(valids ...string) *selectiveStrings {
	vm := make(map[string]struct{}, len(valids))
	for _, v := range valids {
		vm[v] = struct{}{}
	}
	return &selectiveStrings{valids: vm, vs: []string{}}
}

func (ss *selectiveStrings) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if _, ok := ss.valids[v]; !ok {
			return fmt.Errorf("invalid value %q", v)
		}
		ss.vs = append(ss.vs, v)
	}
	sort.Strings(ss.vs)
	return nil
}

func (ss *selectiveStrings) String() string { return strings.Join(ss.vs, ",") }

// ignoredFlag is etcd's flags.IgnoredFlag: a flag from older etcd releases that is accepted,
// with or without a value, and has no effect.
type ignoredFlag struct {
	name string
	seen *[]string
}

func (f *ignoredFlag) IsBoolFlag() bool { return true }

func (f *ignoredFlag) Set(string) error {
	*f.seen = append(*f.seen, f.name)
	return nil
}

func (f *ignoredFlag) String() string { return "" }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
