package config

import (
	"net/netip"
	"strings"
	"testing"
)

// vsBadBase is a virtual server with one real server and one TCP_CHECK;
// VS, RS and CK take a line of the block under test.
const vsBadBase = `
virtual_server 10.99.23.1 80 {
    lvs_sched rr
    lvs_method DR
    protocol TCP
    VSLINE
    real_server 10.99.23.10 80 {
        RSLINE
        TCP_CHECK {
            CKLINE
        }
    }
    real_server 10.99.23.11 80 {
    }
}
`

// TestVSInvalidValuesAreSkipped: a bad number or address in these
// virtual_server, real_server and checker keywords is reported by
// keepalived 2.2.7 (keepalived -t exits 5, measured on each line) and
// ignored, keeping the default, or, for a real server's or virtual
// server's own address and port, the real server or service is left out
// ("Invalid ... ip address/port - skipping"). lvsd run must run too (a
// skipped error: check-config fails, Runnable holds) with the same model;
// each case checks the value is the one without the line.
func TestVSInvalidValuesAreSkipped(t *testing.T) {
	rs0 := func(c *Config) *RealServer { return c.VirtualServers[0].RealServers[0] }
	ck := func(c *Config) *Checker { return rs0(c).Checkers[0] }
	vs := func(c *Config) *VirtualServer { return c.VirtualServers[0] }
	cases := []struct {
		where, line string
		get         func(c *Config) any
	}{
		{"VS", "delay_loop x", func(c *Config) any { return vs(c).DelayLoop }},
		{"VS", "persistence_timeout x", func(c *Config) any { return vs(c).Persistent }},
		{"VS", "persistence_timeout -1", func(c *Config) any { return vs(c).Persistence }},
		{"VS", "quorum x", func(c *Config) any { return vs(c).Quorum }},
		{"VS", "hysteresis x", func(c *Config) any { return vs(c).Hysteresis }},
		{"VS", "connect_timeout x", func(c *Config) any { return ck(c).ConnectTimeout }},
		{"VS", "retry x", func(c *Config) any { return ck(c).Retry }},
		{"VS", "warmup x", func(c *Config) any { return ck(c).Warmup }},
		{"VS", "delay_before_retry x", func(c *Config) any { return ck(c).DelayBeforeRetry }},
		{"VS", "sorry_server 10.0.0.300 80", func(c *Config) any { return vs(c).SorryServer == nil }},
		{"VS", "sorry_server 10.0.0.3 70000", func(c *Config) any { return vs(c).SorryServer == nil }},
		{"RS", "weight x", func(c *Config) any { return rs0(c).Weight }},
		{"RS", "weight -1", func(c *Config) any { return rs0(c).Weight }},
		{"RS", "uthreshold x", func(c *Config) any { return rs0(c).UThreshold }},
		{"RS", "lthreshold x", func(c *Config) any { return rs0(c).LThreshold }},
		{"RS", "connect_timeout x", func(c *Config) any { return ck(c).ConnectTimeout }},
		{"RS", "delay_loop x", func(c *Config) any { return ck(c).DelayLoop }},
		{"RS", "retry x", func(c *Config) any { return ck(c).Retry }},
		{"RS", "warmup x", func(c *Config) any { return ck(c).Warmup }},
		{"RS", "delay_before_retry x", func(c *Config) any { return ck(c).DelayBeforeRetry }},
		{"CK", "connect_port x", func(c *Config) any { return ck(c).ConnectPort }},
		{"CK", "connect_port 70000", func(c *Config) any { return ck(c).ConnectPort }},
		{"CK", "connect_ip 10.0.0.300", func(c *Config) any { return ck(c).ConnectIP }},
		{"CK", "bindto 10.0.0.300", func(c *Config) any { return ck(c).BindTo }},
		{"CK", "bind_port x", func(c *Config) any { return ck(c).BindPort }},
		{"CK", "fwmark x", func(c *Config) any { return ck(c).FWMark }},
		{"CK", "connect_timeout x", func(c *Config) any { return ck(c).ConnectTimeout }},
		{"CK", "delay_loop x", func(c *Config) any { return ck(c).DelayLoop }},
		{"CK", "retry x", func(c *Config) any { return ck(c).Retry }},
		{"CK", "warmup x", func(c *Config) any { return ck(c).Warmup }},
		{"CK", "delay_before_retry x", func(c *Config) any { return ck(c).DelayBeforeRetry }},
	}
	load := func(vsLine, rsLine, ckLine string) *Result {
		src := strings.NewReplacer("VSLINE", vsLine, "RSLINE", rsLine, "CKLINE", ckLine).Replace(vsBadBase)
		res := Load("k.conf", Options{ConfigID: "x", FS: MapFS{"k.conf": src}})
		return res
	}
	base := load("", "", "")
	if !base.OK() {
		t.Fatalf("base configuration: %v", base.Diags.Sorted())
	}
	for _, tc := range cases {
		t.Run(tc.where+"/"+tc.line, func(t *testing.T) {
			lines := map[string]string{"VS": "", "RS": "", "CK": ""}
			lines[tc.where] = tc.line
			res := load(lines["VS"], lines["RS"], lines["CK"])
			if !res.Runnable() {
				t.Fatalf("lvsd run would refuse it; keepalived 2.2.7 runs:\n%v", res.Diags.Sorted())
			}
			if res.OK() {
				t.Fatalf("check-config passes; keepalived -t fails on it")
			}
			if got, want := tc.get(res.Config), tc.get(base.Config); got != want {
				t.Errorf("got %v, want the default %v (keepalived ignores the line)", got, want)
			}
		})
	}

	// The address or port of a real server or virtual server: left out.
	for _, tc := range []struct {
		from, to string
		wantVS   int
		wantRS   int
	}{
		{"real_server 10.99.23.10 80 {", "real_server 10.99.23.300 80 {", 1, 1},
		{"real_server 10.99.23.10 80 {", "real_server 10.99.23.10 70000 {", 1, 1},
		{"virtual_server 10.99.23.1 80 {", "virtual_server 10.99.23.300 80 {", 0, 0},
		{"virtual_server 10.99.23.1 80 {", "virtual_server 10.99.23.1 70000 {", 0, 0},
	} {
		t.Run(tc.to, func(t *testing.T) {
			src := strings.NewReplacer("VSLINE", "", "RSLINE", "", "CKLINE", "", tc.from, tc.to).Replace(vsBadBase)
			res := Load("k.conf", Options{ConfigID: "x", FS: MapFS{"k.conf": src}})
			if !res.Runnable() || res.OK() {
				t.Fatalf("runnable=%v check-config=%v, want true false (keepalived -t fails, keepalived runs):\n%v", res.Runnable(), res.OK(), res.Diags.Sorted())
			}
			if len(res.Config.VirtualServers) != tc.wantVS {
				t.Fatalf("%d virtual servers, want %d", len(res.Config.VirtualServers), tc.wantVS)
			}
			if tc.wantVS == 1 {
				rss := res.Config.VirtualServers[0].RealServers
				if len(rss) != tc.wantRS || rss[0].Addr != netip.MustParseAddr("10.99.23.11") {
					t.Errorf("real servers %v, want only 10.99.23.11", rss)
				}
			}
		})
	}

	// keepalived takes real-server weights up to IPVS_WEIGHT_LIMIT
	// (INT_MAX), not 65535; keepalived -t passes on weight 70000.
	res := load("", "weight 70000", "")
	if !res.OK() || rs0(res.Config).Weight != 70000 {
		t.Errorf("weight 70000: check-config=%v weight %d, want valid and 70000: %v", res.OK(), rs0(res.Config).Weight, res.Diags.Sorted())
	}
}
