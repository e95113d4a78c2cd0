package vrrp

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
)

// Behaviour tests for vrrp_instance, vrrp_script and vrrp_sync_group
// keywords (issue 13): each case writes the keyword in a configuration and
// checks what the router or the state machine then does, against what
// keepalived 2.2.7 does (its vrrp_parser.c handlers and vrrp.c, cited per
// case). Every assertion also runs on the configuration without the
// keyword and must then fail, so no case passes by accident.

// garpConf is a VRRPv2 instance of priority 100 with a 1 s interval and
// no global GARP settings: keepalived's defaults are garp_master_repeat 5,
// garp_master_delay 5 s, no refresh, and the lower-priority batch copying
// the master one (vrrp.c vrrp_complete_instance, global_data defaults).
const garpConf = `
vrrp_instance VI {
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  %s
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`

// machineFor builds the state machine the router builds for the first
// instance of conf (router.go newInstance's Params).
func machineFor(t *testing.T, conf string) *Machine {
	t.Helper()
	sp := ResolveSpec(labtest.Config(t, conf)).Instances[0]
	return New(Params{VRID: uint8(sp.VRID), Version: sp.Version, Priority: sp.Priority, Interval: sp.Interval,
		Preempt: sp.Preempt, PreemptDelay: sp.PreemptDelay, Addr: self, GARP: sp.GARP,
		HigherPrioSendAdvert: sp.HigherPrioSendAdvert, LowerPrioNoAdvert: sp.LowerPrioNoAdvert, OwnerWaits: sp.OwnerWaits})
}

// scenarioFails runs steps and reports whether they fail (without
// failing t): the check that a case distinguishes its keyword.
func scenarioFails(m *Machine, steps []step) bool {
	ft := &testing.T{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ft, m, steps)
	}()
	<-done
	return ft.Failed()
}

// TestInstanceGARPKeywords: garp_master_repeat, garp_master_delay,
// garp_master_refresh_repeat and garp_lower_prio_delay set the gratuitous
// ARP batches the instance sends as keepalived's vrrp_send_link_update
// schedule does: repeat on becoming master, the second batch after delay,
// refresh_repeat every garp_master_refresh, and the lower-priority batch
// at once and again after garp_lower_prio_delay.
func TestInstanceGARPKeywords(t *testing.T) {
	const downAt = down100 // 3 s + skew at priority 100
	cases := []struct {
		name, kw string
		steps    []step
	}{
		{"garp_master_repeat", "garp_master_repeat 2", []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{downAt, "tick", "advert(100) add garp(2) notify(MASTER)", StateMaster},
			{downAt + 5*time.Second, "tick", "advert(100) garp(2)", StateMaster},
		}},
		{"garp_master_delay", "garp_master_delay 2", []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{downAt, "tick", "advert(100) add garp(5) notify(MASTER)", StateMaster},
			{downAt + 2*time.Second, "tick", "advert(100) garp(5)", StateMaster},
			{downAt + 5*time.Second, "tick", "advert(100)", StateMaster},
		}},
		{"garp_master_refresh_repeat", "garp_master_refresh 10\n  garp_master_refresh_repeat 3", []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{downAt, "tick", "advert(100) add garp(5) notify(MASTER)", StateMaster},
			{downAt + 5*time.Second, "tick", "advert(100) garp(5)", StateMaster},
			{downAt + 10*time.Second, "tick", "advert(100) garp(3)", StateMaster},
		}},
		{"garp_lower_prio_delay", "garp_lower_prio_delay 2", []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{downAt, "tick", "advert(100) add garp(5) notify(MASTER)", StateMaster},
			{downAt + 6*time.Second, "rx:50", "advert(100) garp(5) lower(100)", StateMaster},
			{downAt + 8*time.Second, "tick", "advert(100) garp(5)", StateMaster},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf := strings.Replace(garpConf, "%s", tc.kw, 1)
			run(t, machineFor(t, conf), tc.steps)
			if !scenarioFails(machineFor(t, strings.Replace(garpConf, "%s", "", 1)), tc.steps) {
				t.Errorf("the scenario also passes without %q: it does not test the keyword", tc.kw)
			}
		})
	}
}

// recPlatform is a fakePlatform that records the user each script runs as.
type recPlatform struct {
	*fakePlatform
	umu   sync.Mutex
	users []string // "argv0 user"
}

func (p *recPlatform) Run(ctx context.Context, s *config.Script, args ...string) (int, error) {
	p.umu.Lock()
	p.users = append(p.users, s.Argv[0]+" "+s.User)
	p.umu.Unlock()
	return p.fakePlatform.Run(ctx, s, args...)
}

func (p *recPlatform) ranAs(argv0, user string) bool {
	p.umu.Lock()
	defer p.umu.Unlock()
	return slices.Contains(p.users, argv0+" "+user)
}

func startRouterOn(t *testing.T, src string, p Platform) *Router {
	t.Helper()
	r := mustNewRouter(t, src, p)
	go r.Run(context.Background())
	t.Cleanup(r.Stop)
	return r
}

// feedAdverts sends adverts of priority prio for VRID vrid on the router's
// first socket every 50 ms until stop is closed.
func feedAdverts(p *fakePlatform, vrid uint8, prio uint8, stop <-chan struct{}) {
	adv := &Advert{Version: 3, VRID: vrid, Priority: prio, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
	peer, group := netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("224.0.0.18")
	b, _ := adv.Marshal(peer, group)
	go func() {
		for {
			p.mu.Lock()
			c := p.conns[0]
			p.mu.Unlock()
			select {
			case c.in <- Received{Payload: b, Src: peer, Dst: group, TTL: 255}:
			case <-stop:
				return
			}
			select {
			case <-time.After(50 * time.Millisecond):
			case <-stop:
				return
			}
		}
	}()
}

const notifyKwConf = `
vrrp_sync_group G {
  group {
    VI_A
    VI_B
  }
  %GROUP%
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  %INSTANCE%
  virtual_ipaddress {
    10.0.0.100/24
  }
}
vrrp_instance VI_B {
  interface eth1
  virtual_router_id 2
  priority 100
  version 3
  advert_int 0.05
  virtual_ipaddress {
    10.1.0.100/24
  }
}
`

// TestNotifyKeywords: notify_master, notify_backup, notify_fault and
// notify_stop of a vrrp_instance and of a vrrp_sync_group run on the
// transition they name and no other, as keepalived's
// notify_instance_exec/notify_group_exec pick the script by the new state:
// the instance becomes MASTER, hears a higher priority (BACKUP), loses its
// interface (FAULT, the group following), and stops.
func TestNotifyKeywords(t *testing.T) {
	for _, where := range []string{"%INSTANCE%", "%GROUP%"} {
		t.Run(strings.Trim(where, "%"), func(t *testing.T) {
			t.Parallel()
			lines := "notify_master /n/master\n  notify_backup /n/backup\n  notify_fault /n/fault\n  notify_stop /n/stop"
			conf := strings.NewReplacer(where, lines, "%INSTANCE%", "", "%GROUP%", "").Replace(notifyKwConf)
			p := newFakePlatform()
			r := startRouter(t, conf, p)
			count := func(s string) int {
				p.mu.Lock()
				defer p.mu.Unlock()
				n := 0
				for _, r := range p.ran {
					if r == "/n/"+s {
						n++
					}
				}
				return n
			}
			ran := func(s string) bool { return count(s) > 0 }
			// keepalived starts a non-owner in BACKUP and runs notify_backup
			// for it ("Entering BACKUP STATE (init)"), then MASTER.
			labtest.WaitFor(t, "notify_backup at start, then notify_master on MASTER", 3*time.Second, func() bool { return ran("master") && count("backup") == 1 })
			if ran("fault") || ran("stop") {
				t.Fatalf("fault or stop ran on the way to MASTER: %q", p.ran)
			}
			stop := make(chan struct{})
			feedAdverts(p, 1, 200, stop)
			labtest.WaitFor(t, "notify_backup on BACKUP", 3*time.Second, func() bool { return count("backup") == 2 })
			close(stop)
			if ran("fault") || ran("stop") || count("master") != 1 {
				t.Fatalf("fault, stop or master ran on BACKUP: %q", p.ran)
			}
			p.mu.Lock()
			p.links["eth0"] = false
			p.mu.Unlock()
			labtest.WaitFor(t, "notify_fault on FAULT", 3*time.Second, func() bool { return ran("fault") })
			if ran("stop") {
				t.Fatalf("stop ran on FAULT: %q", p.ran)
			}
			r.Stop()
			labtest.WaitFor(t, "notify_stop on stop", 3*time.Second, func() bool { return ran("stop") })
		})
	}
}

// TestDontTrackPrimary: with dont_track_primary an instance stays MASTER
// when its own interface goes down (keepalived's VRRP_FLAG_DONT_TRACK_PRIMARY:
// the interface is not tracked); an instance without it on the same
// interface goes to FAULT.
func TestDontTrackPrimary(t *testing.T) {
	conf := `
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  dont_track_primary
  virtual_ipaddress {
    10.0.0.100/24
  }
}
vrrp_instance VI_B {
  interface eth0
  virtual_router_id 2
  priority 100
  version 3
  advert_int 0.05
  virtual_ipaddress {
    10.0.0.101/24
  }
}
`
	p := newFakePlatform()
	r := startRouter(t, conf, p)
	labtest.WaitFor(t, "both master", 3*time.Second, func() bool {
		st := r.Status()
		return st[0].State == "MASTER" && st[1].State == "MASTER"
	})
	p.mu.Lock()
	p.links["eth0"] = false
	p.mu.Unlock()
	labtest.WaitFor(t, "VI_B (primary tracked) in FAULT", 3*time.Second, func() bool { return r.Status()[1].State == "FAULT" })
	time.Sleep(300 * time.Millisecond)
	if st := r.Status()[0]; st.State != "MASTER" {
		t.Errorf("VI_A with dont_track_primary went %s when eth0 went down, want MASTER", st.State)
	}
}

// TestPreemptClearsNopreempt: "preempt" after "nopreempt" turns preemption
// back on (keepalived's vrrp_preempt_handler clears VRRP_FLAG_NOPREEMPT):
// a BACKUP of priority 150 hearing a master of priority 100 takes over;
// with nopreempt alone it keeps waiting.
func TestPreemptClearsNopreempt(t *testing.T) {
	base := `
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 150
  version 3
  advert_int 0.05
  state BACKUP
  %s
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`
	for _, tc := range []struct {
		kw   string
		want string
	}{{"nopreempt\n  preempt", "MASTER"}, {"nopreempt", "BACKUP"}} {
		t.Run(strings.ReplaceAll(tc.kw, "\n  ", " "), func(t *testing.T) {
			t.Parallel()
			p := newFakePlatform()
			r := startRouter(t, strings.Replace(base, "%s", tc.kw, 1), p)
			labtest.WaitFor(t, "socket open", 3*time.Second, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.conns) == 1 })
			stop := make(chan struct{})
			defer close(stop)
			feedAdverts(p, 1, 100, stop)
			if tc.want == "MASTER" {
				labtest.WaitFor(t, "preempts the lower priority master", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
				return
			}
			time.Sleep(600 * time.Millisecond) // four master-down intervals
			if st := r.Status()[0]; st.State != "BACKUP" {
				t.Errorf("nopreempt: %s while a lower priority master advertises, want BACKUP", st.State)
			}
		})
	}
}

const scriptKwConf = `
vrrp_script chk {
  script /usr/local/bin/chk
  interval 0.05
  weight -30
  rise 20
  %s
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  track_script {
    chk
  }
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`

// TestVRRPScriptKeywords: a vrrp_script's init_fail, timeout and user.
//   - init_fail: the script starts failed (keepalived's
//     SCRIPT_INIT_STATE_FAILED), so the first adverts carry priority 100-30
//     although the script succeeds, until rise successes in a row;
//     without it they carry 100.
//   - timeout: a script running 300 ms with interval 50 ms succeeds with
//     timeout 1 (keepalived kills it after timeout, or interval when none
//     is set: vrrp_scheduler.c vrrp_script_thread); without it, it is
//     killed and fails, and the priority drops.
//   - user: the script runs as that user (the runner is handed it).
func TestVRRPScriptKeywords(t *testing.T) {
	t.Run("init_fail", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			kw   string
			want int
		}{{"init_fail", 70}, {"", 100}} {
			p := newFakePlatform()
			startRouter(t, strings.Replace(scriptKwConf, "%s", tc.kw, 1), p)
			labtest.WaitFor(t, "first advert", 3*time.Second, func() bool { s, _, _, _ := p.counts(); return s > 0 })
			p.mu.Lock()
			first := int(p.sent[0].Priority)
			p.mu.Unlock()
			if first != tc.want {
				t.Errorf("%q: first advert priority %d, want %d", tc.kw, first, tc.want)
			}
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			kw   string
			want int
		}{{"timeout 1\n  fall 1", 100}, {"fall 1", 70}} {
			p := newFakePlatform()
			p.hold["/usr/local/bin/chk"] = 300 * time.Millisecond
			r := startRouter(t, strings.Replace(strings.Replace(scriptKwConf, "rise 20", "rise 1", 1), "%s", tc.kw, 1), p)
			labtest.WaitFor(t, "master", 3*time.Second, func() bool { return r.Status()[0].State == "MASTER" })
			time.Sleep(1200 * time.Millisecond) // at least three runs of the script
			if st := r.Status()[0]; st.Priority != tc.want {
				t.Errorf("%q: priority %d after the 300 ms script ran, want %d", tc.kw, st.Priority, tc.want)
			}
		}
	})
	t.Run("user", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ kw, want string }{{"user nobody\n  fall 1", "nobody"}, {"fall 1", ""}} {
			p := &recPlatform{fakePlatform: newFakePlatform()}
			startRouterOn(t, strings.Replace(scriptKwConf, "%s", tc.kw, 1), p)
			labtest.WaitFor(t, "script ran as "+tc.want, 3*time.Second, func() bool { return p.ranAs("/usr/local/bin/chk", tc.want) })
			if tc.want == "" && p.ranAs("/usr/local/bin/chk", "nobody") {
				t.Error("ran as nobody without user")
			}
		}
	})
}
