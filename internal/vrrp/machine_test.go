package vrrp

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	self  = netip.MustParseAddr("10.0.0.2")
	lower = netip.MustParseAddr("10.0.0.1")
	upper = netip.MustParseAddr("10.0.0.3")
)

func params(prio int) Params {
	return Params{VRID: 51, Version: 2, Priority: prio, Interval: time.Second, Preempt: true, Addr: self, HigherPrioSendAdvert: true,
		GARP: GARPSchedule{Repeat: 5, Delay: 5 * time.Second, LowerPrioRepeat: 5}}
}

func adv(prio uint8) *Advert {
	return &Advert{Version: 2, VRID: 51, Priority: prio, Interval: time.Second}
}

// acts renders actions compactly: "advert(100) add garp(5) notify(MASTER)".
func acts(as []Action) string {
	var s []string
	for _, a := range as {
		switch a.Kind {
		case SendAdvert:
			s = append(s, fmt.Sprintf("advert(%d)", a.Priority))
		case AddVIPs:
			s = append(s, "add")
		case RemoveVIPs:
			s = append(s, "remove")
		case SendGARP:
			s = append(s, fmt.Sprintf("garp(%d)", a.Count))
		case Notify:
			s = append(s, fmt.Sprintf("notify(%s)", a.State))
		case HeardLowerPriority:
			s = append(s, fmt.Sprintf("lower(%d)", a.Priority))
		case PriorityChanged:
			s = append(s, fmt.Sprintf("prio(%d,%s)", a.Priority, a.State))
		}
	}
	return strings.Join(s, " ")
}

// step is one event of a scenario at an offset from t0, with the actions
// and state it must produce.
type step struct {
	at    time.Duration
	event string // start, tick, rx:<prio>[@upper|@lower], fault, clear, stop, prio:<n>
	want  string
	state State
}

func run(t *testing.T, m *Machine, steps []step) {
	t.Helper()
	for i, s := range steps {
		now := t0.Add(s.at)
		var got []Action
		switch {
		case s.event == "start":
			got = m.Start(now)
		case s.event == "tick":
			got = m.Tick(now)
		case s.event == "fault":
			got = m.SetFault(now, true)
		case s.event == "clear":
			got = m.SetFault(now, false)
		case s.event == "stop":
			got = m.Stop(now)
		case s.event == "addrlost":
			got = m.AddressLost(now)
		case s.event == "delete", s.event == "delete-notify":
			got = m.Delete(now, s.event == "delete-notify")
		case strings.HasPrefix(s.event, "prio:"):
			var p int
			fmt.Sscanf(s.event, "prio:%d", &p)
			got = m.SetPriority(now, p)
		case strings.HasPrefix(s.event, "rx:"):
			var p int
			from := lower
			spec := strings.TrimPrefix(s.event, "rx:")
			if at := strings.Index(spec, "@"); at >= 0 {
				if spec[at+1:] == "upper" {
					from = upper
				}
				spec = spec[:at]
			}
			fmt.Sscanf(spec, "%d", &p)
			got = m.Received(now, from, adv(uint8(p)))
		default:
			t.Fatalf("step %d: unknown event %q", i, s.event)
		}
		if acts(got) != s.want || m.State() != s.state {
			t.Fatalf("step %d (%s at %s): got %q in %s, want %q in %s", i, s.event, s.at, acts(got), m.State(), s.want, s.state)
		}
	}
}

const (
	down100 = 3*time.Second + 156*time.Second/256 // master-down interval at priority 100, v2
	skew100 = 156 * time.Second / 256
)

func TestMachineScenarios(t *testing.T) {
	becomeMaster := "advert(100) add garp(5) notify(MASTER)"
	cases := []struct {
		name string
		p    Params
		mod  func(*Params)
		s    []step
	}{
		{"backup waits the master-down interval then takes over", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100 - time.Millisecond, "tick", "", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{down100 + time.Second, "tick", "advert(100)", StateMaster},
			{down100 + 5*time.Second, "tick", "advert(100) garp(5)", StateMaster},
		}},
		{"a VIP deleted by hand: BACKUP, priority 0, MASTER again after the skew time", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{down100 + 500*time.Millisecond, "addrlost", "advert(0) remove notify(BACKUP)", StateBackup},
			{down100 + 500*time.Millisecond + skew100 - time.Millisecond, "tick", "", StateBackup},
			{down100 + 500*time.Millisecond + skew100, "tick", becomeMaster, StateMaster},
		}},
		{"a VIP deleted by hand: a better master heard meanwhile keeps it BACKUP", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{down100 + 100*time.Millisecond, "addrlost", "advert(0) remove notify(BACKUP)", StateBackup},
			{down100 + 300*time.Millisecond, "rx:150@upper", "", StateBackup},
			{down100 + 300*time.Millisecond + skew100, "tick", "", StateBackup},
		}},
		{"an address lost outside MASTER changes nothing", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{time.Second, "addrlost", "", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
		}},
		{"a reload removes a master: priority 0, VIPs removed, reported FAULT", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{down100 + time.Second, "delete", "advert(0) remove notify(FAULT)", StateStopped},
			{down100 + 5*time.Second, "tick", "", StateStopped},
		}},
		{"a reload removes a backup with notify_deleted: reported DELETED", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{time.Second, "delete-notify", "notify(DELETED)", StateStopped},
			{down100, "tick", "", StateStopped},
		}},
		{"a reload removes an instance in FAULT: nothing reported without notify_deleted", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{time.Second, "fault", "notify(FAULT)", StateFault},
			{2 * time.Second, "delete", "", StateStopped},
		}},
		{"a reload removes an instance in FAULT with notify_deleted: DELETED", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{time.Second, "fault", "notify(FAULT)", StateFault},
			{2 * time.Second, "delete-notify", "notify(DELETED)", StateStopped},
		}},
		{"down_timer_adverts 5: the backup waits five intervals and its skew", params(100), func(p *Params) { p.DownTimerAdverts = 5 }, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{time.Second, "rx:150", "", StateBackup},
			{time.Second + 5*time.Second + skew100 - time.Millisecond, "tick", "", StateBackup},
			{time.Second + 5*time.Second + skew100, "tick", becomeMaster, StateMaster},
		}},
		{"address owner is master at once", params(255), nil, []step{
			{0, "start", "advert(255) add garp(5) notify(MASTER)", StateMaster},
		}},
		{"higher priority master keeps the backup waiting", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{3 * time.Second, "rx:150", "", StateBackup},
			{down100 + time.Second, "tick", "", StateBackup},
			{3*time.Second + down100, "tick", becomeMaster, StateMaster},
		}},
		{"lower priority master is preempted", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{time.Second, "rx:50", "", StateBackup},
			{2 * time.Second, "rx:50", "", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
		}},
		{"nopreempt holds behind a lower priority master", params(100), func(p *Params) { p.Preempt = false }, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{3 * time.Second, "rx:50", "", StateBackup},
			{down100, "tick", "", StateBackup},
			{3*time.Second + down100, "tick", becomeMaster, StateMaster},
		}},
		{"preempt_delay holds until it passes", params(100), func(p *Params) { p.PreemptDelay = 10 * time.Second }, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{3 * time.Second, "rx:50", "", StateBackup},
			{6 * time.Second, "rx:50", "", StateBackup},
			{9 * time.Second, "rx:50", "", StateBackup},
			{10 * time.Second, "rx:50", "", StateBackup}, // delay over: ignored from now on
			{9*time.Second + down100, "tick", becomeMaster, StateMaster},
		}},
		{"priority 0 advert: take over after the skew", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{2 * time.Second, "rx:150", "", StateBackup},
			{3 * time.Second, "rx:0", "", StateBackup},
			{3*time.Second + skew100 - time.Millisecond, "tick", "", StateBackup},
			{3*time.Second + skew100, "tick", becomeMaster, StateMaster},
		}},
		{"master yields to higher priority", params(255), func(p *Params) { p.Priority = 100 }, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{5 * time.Second, "rx:150", "advert(100) remove notify(BACKUP)", StateBackup},
		}},
		{"equal priority: higher address wins", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{5 * time.Second, "rx:100@lower", "advert(100) garp(5) lower(100)", StateMaster},
			{6 * time.Second, "rx:100@upper", "advert(100) remove notify(BACKUP)", StateBackup},
		}},
		{"keepalived's default: yield silently", params(100), func(p *Params) { p.HigherPrioSendAdvert = false }, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{5 * time.Second, "rx:150", "remove notify(BACKUP)", StateBackup},
		}},
		{"lower_prio_no_advert still sends GARPs", params(100), func(p *Params) { p.LowerPrioNoAdvert = true }, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{4 * time.Second, "rx:50", "garp(5) lower(100)", StateMaster},
		}},
		{"master hearing lower priority asserts itself", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{4 * time.Second, "rx:50", "advert(100) garp(5) lower(100)", StateMaster},
			{4*time.Second + 500*time.Millisecond, "rx:0", "advert(100)", StateMaster},
		}},
		{"fault from master sends priority 0 and drops the VIPs", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{5 * time.Second, "fault", "advert(0) remove notify(FAULT)", StateFault},
			{20 * time.Second, "tick", "", StateFault},
			{21 * time.Second, "clear", "notify(BACKUP)", StateBackup},
			{21*time.Second + down100, "tick", becomeMaster, StateMaster},
		}},
		{"stop from master hands over", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", becomeMaster, StateMaster},
			{5 * time.Second, "stop", "advert(0) remove notify(STOP)", StateStopped},
			{6 * time.Second, "tick", "", StateStopped},
		}},
		{"stop from backup sends nothing", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{time.Second, "stop", "notify(STOP)", StateStopped},
		}},
		// vrrp_garp_interval spaces a batch's rounds on the machine's own
		// deadline, and leaving MASTER ends the train at once: a node that
		// no longer holds the VIP must not announce it.
		{"garp_interval: a train of rounds that stops with MASTER", params(100), func(p *Params) {
			p.GARP.Interval = 100 * time.Millisecond
			p.GARP.Delay = 0
		}, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", "advert(100) add garp(1) notify(MASTER)", StateMaster},
			{down100 + 100*time.Millisecond, "tick", "garp(1)", StateMaster},
			{down100 + 200*time.Millisecond, "tick", "garp(1)", StateMaster},
			{down100 + 250*time.Millisecond, "rx:150", "advert(100) remove notify(BACKUP)", StateBackup},
			{down100 + 300*time.Millisecond, "tick", "", StateBackup},
			{down100 + 400*time.Millisecond, "tick", "", StateBackup},
		}},
		{"garp_interval: the whole train, then quiet", params(100), func(p *Params) {
			p.GARP.Interval = 100 * time.Millisecond
			p.GARP.Repeat = 3
			p.GARP.Delay = 0
		}, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{down100, "tick", "advert(100) add garp(1) notify(MASTER)", StateMaster},
			{down100 + 100*time.Millisecond, "tick", "garp(1)", StateMaster},
			{down100 + 200*time.Millisecond, "tick", "garp(1)", StateMaster},
			{down100 + 300*time.Millisecond, "tick", "", StateMaster},
		}},
		{"start in fault", params(100), nil, []step{
			{0, "fault", "", StateInit},
			{0, "start", "notify(FAULT)", StateFault},
		}},
		{"tracking weight raises a backup above the master", params(100), nil, []step{
			{0, "start", "notify(BACKUP)", StateBackup},
			{time.Second, "rx:120", "", StateBackup},
			{2 * time.Second, "prio:130", "prio(130,BACKUP)", StateBackup},
			{3 * time.Second, "rx:120", "", StateBackup}, // now lower: ignored
			// The timer set by the last accepted advert runs out.
			{time.Second + down100, "tick", "advert(130) add garp(5) notify(MASTER)", StateMaster},
			{5 * time.Second, "prio:90", "advert(90) prio(90,MASTER)", StateMaster},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.p
			if c.mod != nil {
				c.mod(&p)
			}
			run(t, New(p), c.s)
		})
	}
}

func TestMasterDownIntervalV3(t *testing.T) {
	p := params(100)
	p.Version, p.Interval = 3, 50*time.Millisecond
	m := New(p)
	m.Start(t0)
	// 3 x 50 ms + (256-100) x 5 cs / 256 = 150 ms + 3 cs (truncated) = 180 ms.
	if got := m.Deadline().Sub(t0); got != 180*time.Millisecond {
		t.Errorf("v3 master-down at 50 ms: %s, want 180ms", got)
	}
	// A v3 backup learns the master's interval.
	a := &Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second}
	m.Received(t0, upper, a)
	if got := m.Deadline().Sub(t0); got != 3*time.Second+600*time.Millisecond {
		t.Errorf("v3 master-down after a 1 s advert: %s, want 3.6s", got)
	}
}

func TestSyncGroupMoves(t *testing.T) {
	a, b := New(params(100)), New(params(100))
	a.Start(t0)
	b.Start(t0)
	if got := acts(b.SyncTo(t0.Add(time.Second), StateMaster)); got != "advert(100) add garp(5) notify(MASTER)" {
		t.Errorf("sync to master: %q", got)
	}
	if got := acts(b.SyncTo(t0.Add(2*time.Second), StateFault)); got != "advert(0) remove notify(FAULT)" {
		t.Errorf("sync to fault: %q", got)
	}
	if got := acts(a.SyncTo(t0.Add(2*time.Second), StateFault)); got != "notify(FAULT)" {
		t.Errorf("backup synced to fault: %q", got)
	}
}

func TestAcceptance(t *testing.T) {
	vip := netip.MustParseAddr("10.0.0.100")
	acc := &Acceptance{Version: 2, Interval: time.Second, AuthType: AuthPass, AuthData: PassData("1111"), VIPs: []netip.Addr{vip}}
	good := func() *Advert {
		return &Advert{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, AuthType: AuthPass, AuthData: PassData("1111"), Addrs: []netip.Addr{vip}}
	}
	cases := []struct {
		name      string
		mod       func(*Advert)
		ttl       int
		multicast bool
		want      DropReason
	}{
		{"good", nil, 255, true, ""},
		{"ttl 254 multicast", nil, 254, true, DropTTL},
		{"ttl 64 unicast", nil, 64, false, ""},
		{"v3 to a v2 instance", func(a *Advert) { a.Version = 3 }, 255, true, DropVersion},
		{"no auth", func(a *Advert) { a.AuthType = AuthNone }, 255, true, DropAuthType},
		{"wrong password", func(a *Advert) { a.AuthData = PassData("2222") }, 255, true, DropAuthPass},
		{"other interval", func(a *Advert) { a.Interval = 2 * time.Second }, 255, true, DropInterval},
		{"other VIP", func(a *Advert) { a.Addrs = []netip.Addr{lower} }, 255, true, DropAddrMismatch},
		{"extra VIP", func(a *Advert) { a.Addrs = append(a.Addrs, lower) }, 255, true, DropAddrMismatch},
		{"priority 0 with other VIPs", func(a *Advert) { a.Priority = 0; a.Addrs = nil }, 255, true, ""},
	}
	for _, c := range cases {
		a := good()
		if c.mod != nil {
			c.mod(a)
		}
		err := acc.Check(a, c.ttl, c.multicast, netip.Addr{}, true)
		var got DropReason
		if err != nil {
			got = ReasonOf(err)
		}
		if got != c.want {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	acc3 := &Acceptance{Version: 3, Interval: time.Second, VIPs: []netip.Addr{vip}}
	for _, c := range []struct {
		interval time.Duration
		want     DropReason
	}{{0, DropInterval}, {10 * time.Millisecond, ""}, {3 * time.Second, ""}} {
		a := &Advert{Version: 3, VRID: 51, Priority: 200, Interval: c.interval, Addrs: []netip.Addr{vip}}
		var got DropReason
		if err := acc3.Check(a, 255, true, netip.Addr{}, true); err != nil {
			got = ReasonOf(err)
		}
		if got != c.want {
			t.Errorf("v3 interval %s: %q, want %q", c.interval, got, c.want)
		}
	}
	if !slices.Equal(acc.VIPs, []netip.Addr{vip}) {
		t.Error("Check changed the VIP list")
	}
}

// vrrp_startup_delay: while it lasts a BACKUP's timers run from its end
// (an advert heard meanwhile does not bring the takeover closer); after
// it, from now again.
func TestMachineStartupDelay(t *testing.T) {
	m := New(params(100))
	m.DelayStart(t0.Add(10 * time.Second))
	run(t, m, []step{
		{0, "start", "notify(BACKUP)", StateBackup},
		{10*time.Second + down100 - time.Millisecond, "tick", "", StateBackup},
		{10*time.Second + down100, "tick", "advert(100) add garp(5) notify(MASTER)", StateMaster},
	})
	m = New(params(100))
	m.DelayStart(t0.Add(10 * time.Second))
	run(t, m, []step{
		{0, "start", "notify(BACKUP)", StateBackup},
		{time.Second, "rx:150@upper", "", StateBackup},
		{10*time.Second + down100 - time.Millisecond, "tick", "", StateBackup},
		{11 * time.Second, "rx:150@upper", "", StateBackup}, // past the delay: from now
		{11*time.Second + down100 - time.Millisecond, "tick", "", StateBackup},
		{11*time.Second + down100, "tick", "advert(100) add garp(5) notify(MASTER)", StateMaster},
	})
}
