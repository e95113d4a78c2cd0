package vrrp

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

const specConf = `
global_defs {
  router_id spec
}
vrrp_script chk {
  script "/bin/true"
  interval 2
}
vrrp_sync_group G {
  group {
    V4
    V6
  }
}
vrrp_instance V4 {
  interface eth0
  virtual_router_id 1
  priority 100
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass secret
  }
  track_script {
    chk
  }
  virtual_ipaddress {
    10.0.0.100/24
  }
}
vrrp_instance V6 {
  interface eth0
  virtual_router_id 2
  priority 100
  virtual_ipaddress {
    fe80::100/64
  }
}
`

// notRead are the configuration fields the router does not act on, each
// with where it is dealt with; every other field must change the spec, or
// a reload changing it would be logged as applied and ignored.
var notRead = map[string]string{
	"Instance.InitialState":           "state: read by the spec only at priority 255 (OwnerWaits, TestOwnerWaitsWithStateBackup); otherwise applied at load (default priority, preemption, AH)",
	"Instance.Accept":                 "accept/no_accept: no firewall rules are installed; warned",
	"Instance.StrictMode":             "strict_mode: applied at load (authentication off, preemption, accept, GARP and advert rules)",
	"Instance.SyncGroup":              "derived from vrrp_sync_group, which the spec holds",
	"Instance.CheckUnicastSrc":        "check_unicast_src: in the spec only for an instance with unicast peers (keepalived ignores it otherwise; TestRouterCheckUnicastSrc)",
	"Instance.UnicastFaultNoPeer":     "unicast_fault_no_peer: resolved at load into Instance.ConfigFault (no peers), which the spec holds",
	"SyncGroup.NotifyPriorityChanges": "resolved at load into Instance.NotifyPriorityChanges (internal/config.TestLoadResolvesInstances), which the spec holds",
	"Instance.SMTPAlert":              "read by the daemon's alerts (internal/alert) from the configuration at every reload, not by the router",
	"SyncGroup.SMTPAlert":             "read by the daemon's alerts (internal/alert) from the configuration at every reload, not by the router",
	"SyncGroup.MemberPos":             "a source position",
	"VRRPScript.Pos":                  "a source position",
	"SyncGroup.Pos":                   "a source position",
	"Instance.Pos":                    "a source position",
}

// TestSpecCoversEveryField mutates each field of the VRRP configuration in
// turn: the spec must change unless the field is in notRead, and a change
// of source positions alone must leave it equal.
func TestSpecCoversEveryField(t *testing.T) {
	base := func() *config.Config { return labtest.Config(t, specConf) }
	want := ResolveSpec(base()).Fingerprint()

	check := func(what string, mutate func(c *config.Config, variant int) bool) {
		t.Helper()
		changed := false
		for variant := range 2 {
			c := base()
			if !mutate(c, variant) {
				return
			}
			changed = changed || ResolveSpec(c).Fingerprint() != want
		}
		_, skip := notRead[what]
		switch {
		case skip && changed:
			t.Errorf("%s is listed as not read, but changes the spec", what)
		case !skip && !changed:
			t.Errorf("changing %s does not change the VRRP spec: a reload would ignore it", what)
		}
	}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(config.Instance{})) {
		if !f.IsExported() {
			continue
		}
		check("Instance."+f.Name, func(c *config.Config, variant int) bool {
			return mutateField(reflect.ValueOf(c.Instances[0]).Elem().FieldByIndex(f.Index), variant)
		})
	}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(config.VRRPScript{})) {
		if !f.IsExported() {
			continue
		}
		check("VRRPScript."+f.Name, func(c *config.Config, variant int) bool {
			return mutateField(reflect.ValueOf(c.Scripts[0]).Elem().FieldByIndex(f.Index), variant)
		})
	}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(config.SyncGroup{})) {
		if !f.IsExported() {
			continue
		}
		check("SyncGroup."+f.Name, func(c *config.Config, variant int) bool {
			return mutateField(reflect.ValueOf(c.SyncGroups[0]).Elem().FieldByIndex(f.Index), variant)
		})
	}
	// global_defs reach the router through inheritance, resolved at load:
	// each keyword, written into the file, must change the spec.
	for _, line := range []string{"vrrp_version 3", "vrrp_mcast_group4 224.0.0.99", "vrrp_mcast_group6 ff02::99",
		"vrrp_garp_master_delay 7", "vrrp_garp_master_repeat 2", "vrrp_garp_master_refresh 30",
		"vrrp_garp_master_refresh_repeat 3", "vrrp_garp_lower_prio_delay 3", "vrrp_garp_lower_prio_repeat 3",
		"vrrp_garp_interval 0.1", "vrrp_higher_prio_send_advert false", "vrrp_lower_prio_no_advert",
		"script_user nobody", "enable_script_security", "vrrp_notify_priority_changes"} {
		conf := specConf
		if line == "vrrp_version 3" {
			// VRRPv3 has no authentication: keepalived (and lvsd) drop it with an error.
			conf = strings.Replace(conf, "auth_type PASS", "", 1)
		}
		c := labtest.Config(t, strings.Replace(conf, "global_defs {", "global_defs {\n  "+line, 1))
		if ResolveSpec(c).Fingerprint() == want {
			t.Errorf("global_defs %q does not change the VRRP spec: a reload would ignore it", line)
		}
	}
	// Positions alone: the same configuration two lines further down.
	moved := labtest.Config(t, "\n# a comment\n\n"+specConf)
	if got := ResolveSpec(moved).Fingerprint(); got != want {
		t.Error("moving the configuration down two lines changes the VRRP spec")
	}
}

// mutateField changes v to another value of its type; false if it cannot.
// variant picks between changes where one may resolve to the old value
// (an unset boolean set to its default).
func mutateField(v reflect.Value, variant int) bool {
	switch x := v.Addr().Interface().(type) {
	case *config.Pos:
		x.Line += 7
	case *time.Duration:
		*x += time.Second
	case *netip.Addr:
		if x.Is6() {
			*x = netip.MustParseAddr("ff02::99")
		} else {
			*x = netip.MustParseAddr("224.0.0.99")
		}
	case *[]netip.Addr:
		*x = append(*x, netip.MustParseAddr("10.0.0.77"))
	case *[]config.VIP:
		*x = append(*x, config.VIP{Prefix: netip.MustParsePrefix("10.0.0.77/32")})
	case *[]config.TrackItem:
		*x = append(*x, config.TrackItem{Name: "eth9"})
	case *[]string:
		*x = append(*x, "V9")
	case *[]config.Pos:
		*x = append(*x, config.Pos{Line: 99})
	case **config.Script:
		*x = &config.Script{Argv: []string{"/bin/echo"}}
	case **bool:
		b := variant == 1
		*x = &b
	case *string:
		switch *x {
		case "": // auth_type: no authentication and a bad type are both none
			*x = "PASS"
		default:
			*x += "x"
		}
	case *int:
		*x++
	case *bool:
		*x = !*x
	default:
		return false
	}
	return true
}

// TestSpecOnlyTranslates: config.Load is the one place defaults are
// resolved; ResolveSpec takes an instance's values as they are. A
// hand-built configuration whose instance values differ from what
// global_defs would give (even unresolved sentinels) comes through
// unchanged: nothing is resolved a second time.
func TestSpecOnlyTranslates(t *testing.T) {
	yes, no := true, false
	g := config.Global{VRRPVersion: 3, GARPMasterDelay: 5 * time.Second, GARPMasterRepeat: 5, GARPMasterRefreshRep: 1,
		GARPLowerPrioDelay: 9 * time.Second, GARPLowerPrioRepeat: 9, HigherPrioSendAdvert: &no, LowerPrioNoAdvert: true,
		VRRPNotifyPriorityChanges: true, VRRPMcastGroup4: netip.MustParseAddr("224.0.0.99")}
	in := &config.Instance{Name: "VI", Interface: "eth0", VRID: 1, Priority: 100, AdvertInterval: time.Second,
		InitialState: config.StateBackup, Version: 0, GARPMasterDelay: -1, GARPMasterRepeat: 0, GARPMasterRefresh: -1,
		GARPMasterRefreshRep: -1, GARPLowerPrioDelay: -1, GARPLowerPrioRepeat: -1,
		HigherPrioSendAdvert: &yes, LowerPrioNoAdvert: &no, NotifyPriorityChanges: &no,
		VIPs: []config.VIP{{Prefix: netip.MustParsePrefix("10.0.0.1/32")}}}
	sp := ResolveSpec(&config.Config{Global: g, Instances: []*config.Instance{in}}).Instances[0]
	want := GARPSchedule{Repeat: 0, Delay: -1, Refresh: -1, RefreshRepeat: -1, LowerPrioRepeat: -1, LowerPrioDelay: -1}
	if sp.Version != 0 || sp.GARP != want || !sp.HigherPrioSendAdvert || sp.LowerPrioNoAdvert || sp.NotifyPriorityChanges ||
		sp.Group != g.VRRPMcastGroup4 {
		t.Errorf("the spec re-resolved an instance value: version %d, GARP %+v, higher %v lower %v notify %v group %v",
			sp.Version, sp.GARP, sp.HigherPrioSendAdvert, sp.LowerPrioNoAdvert, sp.NotifyPriorityChanges, sp.Group)
	}
	// Loaded, the same instance has every default resolved, and the spec
	// carries them.
	c := labtest.Config(t, "global_defs {\n vrrp_version 3\n vrrp_garp_master_repeat 7\n vrrp_higher_prio_send_advert false\n}\n"+
		"vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1/32\n }\n}\n")
	sp = ResolveSpec(c).Instances[0]
	if sp.Version != 3 || sp.GARP.Repeat != 7 || sp.GARP.LowerPrioRepeat != 7 || sp.HigherPrioSendAdvert || sp.Group != netip.MustParseAddr("224.0.0.18") {
		t.Errorf("loaded: %+v", sp)
	}
}
