package ipvs

import (
	"net/netip"
	"testing"

	"github.com/lvsd/lvsd/internal/config"
)

// TestDesiredOnlyTranslates: the desired table takes a virtual server's
// resolved values as they are (config.Load resolves ip_family and real
// server methods once): a hand-built fwmark virtual server with an IPv6
// real server but no family is IPv4, one with FamilyInet6 is IPv6, and
// each forwarding method maps to the kernel's.
func TestDesiredOnlyTranslates(t *testing.T) {
	rs := func(m config.Method) *config.RealServer {
		return &config.RealServer{Addr: netip.MustParseAddr("2001:db8::1"), Port: 80, Weight: 1, Method: m}
	}
	for _, tc := range []struct {
		fam    config.Family
		method config.Method
		v6     bool
		want   Method
	}{
		{config.FamilyAny, config.MethodNAT, false, NAT},
		{config.FamilyInet6, config.MethodDR, true, DR},
		{config.FamilyInet, config.MethodTUN, false, TUN},
	} {
		vs := &config.VirtualServer{FWMark: 7, Scheduler: "wlc", IPFamily: tc.fam, RealServers: []*config.RealServer{rs(tc.method)}}
		tab := DesiredTable(&config.Config{VirtualServers: []*config.VirtualServer{vs}}, nil)
		if len(tab) != 1 {
			t.Fatalf("%d services", len(tab))
		}
		for k, svc := range tab {
			if k.IPv6 != tc.v6 {
				t.Errorf("family %q: IPv6 %v, want %v", tc.fam, k.IPv6, tc.v6)
			}
			for _, d := range svc.Dests {
				if d.Method != tc.want {
					t.Errorf("method %s: %s", tc.method, d.Method)
				}
			}
		}
	}
}
