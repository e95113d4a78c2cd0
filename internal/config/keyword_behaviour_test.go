package config

import (
	"strings"
	"testing"
)

// warningsOf loads src and returns its warnings' messages.
func warningsOf(t *testing.T, src string) (*Config, []string) {
	t.Helper()
	res := Load("k.conf", Options{ConfigID: "x", FS: MapFS{"k.conf": src}})
	if !res.OK() {
		t.Fatalf("errors: %v", res.Diags.Sorted())
	}
	var w []string
	for _, d := range res.Diags.Sorted() {
		if d.Severity == SeverityWarning {
			w = append(w, d.Message)
		}
	}
	return res.Config, w
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestNoAcceptWarnsAboutFirewall: no_accept turns accept mode off, and
// keepalived 2.2.7 then installs firewall rules (vrrp_nftables /
// vrrp_iptables) that drop traffic to the addresses of a non-owner; lvsd
// installs none and says so. With accept the instance accepts and there
// is no warning.
func TestNoAcceptWarnsAboutFirewall(t *testing.T) {
	const conf = `
vrrp_instance VI {
  interface eth0
  virtual_router_id 51
  priority 100
  %s
  virtual_ipaddress {
    10.0.0.1/24
  }
}
`
	for _, tc := range []struct {
		line   string
		accept bool
	}{{"no_accept\n  advert_int 1", false}, {"accept\n  advert_int 1", true}} {
		c, w := warningsOf(t, strings.Replace(conf, "%s", tc.line, 1))
		if c.Instances[0].Accept != tc.accept {
			t.Errorf("%q: Accept=%v, want %v", tc.line, c.Instances[0].Accept, tc.accept)
		}
		if warned := anyContains(w, "nftables"); warned == tc.accept {
			t.Errorf("%q: nftables warning=%v, want %v: %v", tc.line, warned, !tc.accept, w)
		}
	}
}
