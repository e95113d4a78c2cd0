package config

import (
	"strings"
	"testing"
	"time"
)

// TestVRRPInvalidValuesAreSkipped: keepalived 2.2.7 logs an invalid value
// of these keywords and runs with the keyword ignored; lvsd run must run
// too (skipped errors only, check-config still fails) with the defaults.
func TestVRRPInvalidValuesAreSkipped(t *testing.T) {
	src := `
global_defs {
  vrrp_version 7
  vrrp_garp_master_delay x
  vrrp_mcast_group4 10.0.0.1
  vrrp_lower_prio_no_advert maybe
}
vrrp_script chk {
  script /bin/true
  interval -1
  rise zero
  weight 999
}
vrrp_instance VI {
  interface eth0
  virtual_router_id 1
  version 4
  preempt_delay forever
  unicast_ttl 0
  mcast_src_ip not-an-ip
  garp_master_repeat -3
  higher_prio_send_advert perhaps
  strict_mode sometimes
  unicast_peer {
    10.0.0.9
    nonsense
  }
  track_interface {
    eth1 weight lots
  }
  track_script {
    chk weight 500
  }
  virtual_ipaddress {
    10.0.0.1/24
  }
}
`
	res := Load("t.conf", Options{ConfigID: "t", FS: MapFS{"t.conf": src}})
	if res.Diags.HasFatal() {
		t.Fatalf("fatal errors: %v", res.Diags.Sorted())
	}
	errs, _ := res.Diags.Count()
	if errs < 15 {
		t.Errorf("%d skipped errors, want one per invalid value (15): %v", errs, res.Diags.Sorted())
	}
	for _, d := range res.Diags.Sorted() {
		if d.Severity == SeverityError && !strings.Contains(d.Message, "keepalived") {
			t.Errorf("skipped error does not say what happens: %s", d)
		}
	}
	c := res.Config
	g, in, s := c.Global, c.Instances[0], c.Scripts[0]
	if g.VRRPVersion != 2 || g.VRRPMcastGroup4.String() != "224.0.0.18" || g.LowerPrioNoAdvert {
		t.Errorf("global defaults changed: version %d group %s lower_prio_no_advert %v", g.VRRPVersion, g.VRRPMcastGroup4, g.LowerPrioNoAdvert)
	}
	if s.Interval != time.Second || s.Rise != 1 || s.Weight != 0 {
		t.Errorf("vrrp_script defaults changed: %+v", s)
	}
	if in.Version != 2 || in.PreemptDelay != 0 || in.UnicastTTL != 0 || in.McastSrcIP.IsValid() || in.StrictMode ||
		len(in.UnicastPeers) != 1 || len(in.TrackInterfaces) != 1 || in.TrackInterfaces[0].HasWeight {
		t.Errorf("instance defaults changed: %+v", in)
	}
}
