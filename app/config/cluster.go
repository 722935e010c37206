package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"
)

// InitialClusterMap parses --initial-cluster ("name=url,name=url,...", a name may repeat for
// several URLs) as etcd's types.NewURLsMap does: name -> its URLs, sorted. Errors carry etcd's
// prefix "error setting up initial cluster: ".
func (c *Config) InitialClusterMap() (map[string][]url.URL, error) {
	m, err := newURLsMap(c.InitialCluster)
	if err != nil {
		return nil, fmt.Errorf("error setting up initial cluster: %w", err)
	}
	return m, nil
}

func newURLsMap(s string) (map[string][]url.URL, error) {
	raw := map[string][]string{}
	for s != "" {
		key := s
		if i := strings.IndexByte(key, ','); i >= 0 {
			key, s = key[:i], key[i+1:]
		} else {
			s = ""
		}
		if key == "" {
			continue
		}
		value := ""
		if i := strings.IndexByte(key, '='); i >= 0 {
			key, value = key[:i], key[i+1:]
		}
		raw[key] = append(raw[key], value)
	}
	out := map[string][]url.URL{}
	for _, name := range sortedKeys(raw) {
		us, err := parseURLs(raw[name])
		if err != nil {
			return nil, err
		}
		out[name] = us
	}
	return out, nil
}

// urlsMapString is etcd's URLsMap.String: "name=url" pairs, sorted, comma-separated.
func urlsMapString(m map[string][]url.URL) string {
	var pairs []string
	for name, urls := range m {
		for _, u := range urls {
			pairs = append(pairs, name+"="+u.String())
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// VerifyBootstrap checks, as etcd does before bootstrapping a member with no data and
// --initial-cluster-state=new, that --initial-cluster names this member with exactly its
// --initial-advertise-peer-urls (host names are resolved when the strings differ, retrying
// until ctx ends, as etcd does for up to 30s) and has no URL twice. The messages are etcd's.
// Discovery is not supported: with discovery flags set it returns an error saying so.
func (c *Config) VerifyBootstrap(ctx context.Context) error {
	m, err := c.bootstrapMap()
	if err != nil {
		return err
	}
	if err := c.hasLocalMember(m); err != nil {
		return err
	}
	if err := c.advertiseMatchesCluster(ctx, m); err != nil {
		return err
	}
	if checkDuplicateURL(m) {
		return fmt.Errorf("initial cluster %s has duplicate url", urlsMapString(m))
	}
	if urlsMapString(m) == "" && c.Discovery.URL == "" {
		return errors.New("initial cluster unset and no discovery URL found")
	}
	return nil
}

// VerifyJoinExisting checks, as etcd does before joining an existing cluster with no data,
// that --initial-cluster names this member and has no URL twice, and that v2 discovery is
// not set.
func (c *Config) VerifyJoinExisting() error {
	m, err := c.bootstrapMap()
	if err != nil {
		return err
	}
	if err := c.hasLocalMember(m); err != nil {
		return err
	}
	if checkDuplicateURL(m) {
		return fmt.Errorf("initial cluster %s has duplicate url", urlsMapString(m))
	}
	if c.Discovery.URL != "" {
		return errors.New("discovery URL should not be set when joining existing initial cluster")
	}
	return nil
}

func (c *Config) bootstrapMap() (map[string][]url.URL, error) {
	switch {
	case c.Discovery.URL != "", len(c.Discovery.Endpoints) > 0, c.Discovery.SRV != "":
		return nil, errors.New("error setting up initial cluster: discovery (--discovery, --discovery-endpoints, --discovery-srv) is not supported by Cairn yet; use --initial-cluster")
	}
	return c.InitialClusterMap()
}

func (c *Config) hasLocalMember(m map[string][]url.URL) error {
	if urls := m[c.Name]; urls == nil {
		return fmt.Errorf("couldn't find local name %q in the initial cluster configuration", c.Name)
	}
	return nil
}

func (c *Config) advertiseMatchesCluster(ctx context.Context, m map[string][]url.URL) error {
	urls := urlStrings(m[c.Name])
	apurls := urlStrings(c.InitialAdvertisePeerURLs)
	sort.Strings(urls)
	sort.Strings(apurls)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := urlStringsEqual(ctx, apurls, urls)
	if ok {
		return nil
	}

	initMap, apMap := map[string]struct{}{}, map[string]struct{}{}
	for _, u := range c.InitialAdvertisePeerURLs {
		apMap[u.String()] = struct{}{}
	}
	for _, u := range m[c.Name] {
		initMap[u.String()] = struct{}{}
	}
	var missing []string
	for u := range initMap {
		if _, ok := apMap[u]; !ok {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		for i := range missing {
			missing[i] = c.Name + "=" + missing[i]
		}
		return fmt.Errorf("--initial-cluster has %s but missing from --initial-advertise-peer-urls=%s (%w)",
			strings.Join(missing, ","), strings.Join(apurls, ","), err)
	}
	for u := range apMap {
		if _, ok := initMap[u]; !ok {
			missing = append(missing, u)
		}
	}
	self := map[string][]url.URL{c.Name: c.InitialAdvertisePeerURLs}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("--initial-advertise-peer-urls has %s but missing from --initial-cluster=%s",
			strings.Join(missing, ","), urlsMapString(self))
	}
	return fmt.Errorf("failed to resolve %s to match --initial-cluster=%s (%w)",
		strings.Join(apurls, ","), urlsMapString(self), err)
}

func checkDuplicateURL(m map[string][]url.URL) bool {
	seen := map[string]bool{}
	for _, urls := range m {
		for _, u := range urls {
			if seen[u.String()] {
				return true
			}
			seen[u.String()] = true
		}
	}
	return false
}

// urlStringsEqual is etcd's netutil.URLStringsEqual: equal as URLs, or equal once host names
// (other than localhost) are resolved to addresses.
func urlStringsEqual(ctx context.Context, a, b []string) (bool, error) {
	if len(a) != len(b) {
		return false, fmt.Errorf("len(%q) != len(%q)", a, b)
	}
	ua, err := stringsToURLs(a)
	if err != nil {
		return false, err
	}
	ub, err := stringsToURLs(b)
	if err != nil {
		return false, err
	}
	sortURLs(ua)
	sortURLs(ub)
	if reflect.DeepEqual(ua, ub) {
		return true, nil
	}
	for _, us := range [][]url.URL{ua, ub} {
		for i, u := range us {
			h, err := resolveURL(ctx, u)
			if err != nil {
				return false, fmt.Errorf("failed to resolve %q (%w)", u.String(), err)
			}
			if h != "" {
				us[i].Host = h
			}
		}
	}
	sortURLs(ua)
	sortURLs(ub)
	for i := range ua {
		if !reflect.DeepEqual(ua[i], ub[i]) {
			return false, fmt.Errorf("resolved urls: %q != %q", ua[i].String(), ub[i].String())
		}
	}
	return true, nil
}

func stringsToURLs(ss []string) ([]url.URL, error) {
	out := make([]url.URL, len(ss))
	for i, s := range ss {
		u, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		out[i] = *u
	}
	return out, nil
}

// resolveURL returns host:port with the host resolved, "" when nothing is to resolve.
func resolveURL(ctx context.Context, u url.URL) (string, error) {
	if u.Scheme == "unix" || u.Scheme == "unixs" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", err
	}
	if host == "localhost" {
		return "", nil
	}
	for {
		addr, err := resolveTCPAddr(ctx, host, port)
		if err == nil {
			return addr, nil
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(time.Second):
		}
	}
}

var resolveTCPAddr = func(ctx context.Context, host, port string) (string, error) {
	portnum, err := net.DefaultResolver.LookupPort(ctx, "tcp", port)
	if err != nil {
		return "", err
	}
	var ip net.IPAddr
	if parsed := net.ParseIP(host); parsed != nil {
		ip = net.IPAddr{IP: parsed}
	} else {
		ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return "", err
		}
		ip = ips[0]
	}
	return (&net.TCPAddr{IP: ip.IP, Port: portnum, Zone: ip.Zone}).String(), nil
}
