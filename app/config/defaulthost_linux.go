//go:build linux

package config

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"syscall"
	"unsafe"
)

// detectDefaultHost finds the address etcd advertises in place of "localhost" when it listens on
// 0.0.0.0 with the default advertise URLs: the preferred source of the main table's default
// route (IPv4 first), else the first address of that route's interface. Looked up once.
var detectDefaultHost = sync.OnceValues(defaultHost)

var (
	errNoDefaultRoute = errors.New("could not find default route")
	errNoDefaultHost  = errors.New("could not find default host")
)

func defaultHost() (string, error) {
	routes, err := defaultRoutes()
	if err != nil {
		return "", err
	}
	families := make([]uint8, 0, len(routes))
	for f := range routes {
		if f != syscall.AF_INET {
			families = append(families, f)
		}
	}
	slices.Sort(families)
	if _, ok := routes[syscall.AF_INET]; ok {
		families = append([]uint8{syscall.AF_INET}, families...)
	}
	for _, family := range families {
		if host, err := hostOfRoute(family, routes[family]); host != "" || err != nil {
			return host, err
		}
	}
	return "", errNoDefaultHost
}

// defaultRoutes returns, per address family, the last default route (no destination prefix)
// of the main routing table.
func defaultRoutes() (map[uint8]syscall.NetlinkMessage, error) {
	msgs, err := netlinkDump(syscall.RTM_GETROUTE, syscall.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	routes := map[uint8]syscall.NetlinkMessage{}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWROUTE || len(m.Data) < syscall.SizeofRtMsg {
			continue
		}
		rt := (*syscall.RtMsg)(unsafe.Pointer(&m.Data[0]))
		if rt.Dst_len == 0 && rt.Table == syscall.RT_TABLE_MAIN {
			routes[rt.Family] = m
		}
	}
	if len(routes) == 0 {
		return nil, errNoDefaultRoute
	}
	return routes, nil
}

func hostOfRoute(family uint8, route syscall.NetlinkMessage) (string, error) {
	attrs, err := syscall.ParseNetlinkRouteAttr(&route)
	if err != nil {
		return "", err
	}
	var host string
	var oif uint32
	for _, a := range attrs {
		switch a.Attr.Type {
		case syscall.RTA_PREFSRC:
			host = net.IP(a.Value).String()
		case syscall.RTA_OIF:
			if len(a.Value) >= 4 {
				oif = binary.NativeEndian.Uint32(a.Value)
			}
		}
	}
	if oif == 0 {
		return "", errNoDefaultRoute
	}
	if host != "" {
		return host, nil
	}

	msgs, err := netlinkDump(syscall.RTM_GETADDR, int(family))
	if err != nil {
		return "", err
	}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		ifa := (*syscall.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		if ifa.Index != oif {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return "", err
		}
		for _, a := range attrs {
			if a.Attr.Type == syscall.IFA_ADDRESS {
				return net.IP(a.Value).String(), nil
			}
		}
		return "", nil
	}
	return "", fmt.Errorf("could not find address for interface index %v", oif)
}

func netlinkDump(proto, family int) ([]syscall.NetlinkMessage, error) {
	b, err := syscall.NetlinkRIB(proto, family)
	if err != nil {
		return nil, err
	}
	return syscall.ParseNetlinkMessage(b)
}
