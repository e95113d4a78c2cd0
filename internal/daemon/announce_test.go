package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/announce"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
)

const announceConf = `
global_defs {
    lvsd_announce_drain_time 1
}
virtual_server 192.0.2.10 80 {
    lvs_sched mh
    mh-port
    lb_kind DR
    protocol TCP
    lvsd_announce
    real_server 10.0.0.1 80 { }
}
virtual_server 192.0.2.11 80 {
    lvs_sched mh
    mh-port
    lb_kind DR
    protocol TCP
    real_server 10.0.0.1 80 { }
}
`

// downHealth: every real server of the listed virtual servers is down.
type downHealth map[string]bool

func (h downHealth) RealServerUp(vs *config.VirtualServer, _ *config.RealServer) bool {
	return !h[vs.Key()]
}

func loadConf(t *testing.T, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	res := config.Load(path, config.Options{})
	if !res.Runnable() {
		t.Fatal("does not load")
	}
	return res.Config
}

func announceDaemon(t *testing.T, fake *announce.Fake, sys Sysctl) (*Daemon, *[][2]int) {
	t.Helper()
	var opened [][2]int
	prev := newAnnounceOS
	newAnnounceOS = func(table, proto int) announce.OS { opened = append(opened, [2]int{table, proto}); return fake }
	t.Cleanup(func() { newAnnounceOS = prev })
	stopping, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d := &Daemon{opts: Options{Sysctl: sys}, log: slog.New(slog.DiscardHandler), stopping: stopping}
	d.syncer = ipvs.NewSyncer(ipvs.NewFakeKernel(), d.log, filepath.Join(t.TempDir(), "owned.json"), false)
	t.Cleanup(func() { announcers.Delete(d) })
	return d, &opened
}

// TestAnnounceAdapter walks the daemon's side through start (re-adopting
// a dead lvsd's routes without a flap), quorum loss (withdrawn before the
// IPVS change), recovery (announced after it), and stop (withdraw, then a
// drain of drain_time).
func TestAnnounceAdapter(t *testing.T) {
	left := netip.MustParsePrefix("192.0.2.10/32")
	fake := announce.NewFake(left, netip.MustParsePrefix("192.0.2.99/32"))
	sys := newFakeSysctl()
	d, opened := announceDaemon(t, fake, sys)
	d.cfg = loadConf(t, announceConf)

	// Start, before the first IPVS reconcile: judged by configuration and
	// health alone, the adopted 192.0.2.10 stays (no flap) and the stale
	// .99 (no service announces it) goes.
	d.reconcileAnnouncements(reconcileStart, true)
	if ops := fake.TakeOps(); !slices.Equal(ops, []string{"del 192.0.2.99/32"}) {
		t.Fatalf("before IPVS is programmed: %v", ops)
	}
	if !slices.Equal(*opened, [][2]int{{200, 200}}) {
		t.Errorf("opened %v, want the default table and protocol", *opened)
	}
	if !strings.Contains(sys.written(), "net.ipv4.vs.sloppy_tcp=1") {
		t.Errorf("sloppy_tcp not set: %q", sys.written())
	}
	programIPVS(t, d, ipvs.DesiredTable(d.cfg, nil))
	d.reconcileAnnouncements(reconcileStart, false)
	// 192.0.2.10 stays (re-adopted, no flap); .11 does not announce.
	if ops := fake.TakeOps(); len(ops) != 0 {
		t.Errorf("start ops = %v", ops)
	}
	if got := fake.Routes(); len(got) != 1 || got[0].String() != "192.0.2.10/32" {
		t.Errorf("routes after start = %v", got)
	}

	// Quorum lost: the withdraw-only pass before IPVS removes the route
	// (health is read from the checkers; here the desired table is made
	// to reflect it directly).
	health := downHealth{"192.0.2.10:80/TCP": true}
	got := announce.Desired(d.cfg, d.syncer.Programmed(), health)
	if len(got) != 0 {
		t.Fatalf("Desired with quorum lost = %v", got)
	}
	programIPVS(t, d, ipvs.DesiredTable(d.cfg, health)) // what IPVS holds after
	start := time.Now()
	d.reconcileAnnouncements(reconcileHealth, true)
	if ops := fake.TakeOps(); !slices.Equal(ops, []string{"del 192.0.2.10/32"}) {
		t.Errorf("quorum loss ops = %v", ops)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("withdraw took %v", took)
	}
	// Back: announced only in the pass after IPVS is programmed.
	programIPVS(t, d, ipvs.DesiredTable(d.cfg, nil))
	d.reconcileAnnouncements(reconcileHealth, true)
	if ops := fake.TakeOps(); len(ops) != 0 {
		t.Errorf("withdraw-only pass announced: %v", ops)
	}
	d.reconcileAnnouncements(reconcileHealth, false)
	if ops := fake.TakeOps(); !slices.Equal(ops, []string{"add 192.0.2.10/32"}) {
		t.Errorf("recovery ops = %v", ops)
	}

	// A failed IPVS reconcile (nothing known programmed): a quorum loss is still
	// withdrawn; nothing is announced until a reconcile succeeds.
	programIPVS(t, d, nil)
	d.checks = nil
	d.cfg.VirtualServers[0].Quorum = 2 // more than its one real server: quorum lost
	d.reconcileAnnouncements(reconcileHealth, true)
	d.reconcileAnnouncements(reconcileHealth, false)
	if ops := fake.TakeOps(); !slices.Equal(ops, []string{"del 192.0.2.10/32"}) {
		t.Errorf("quorum loss after a failed reconcile: ops = %v", ops)
	}
	d.cfg.VirtualServers[0].Quorum = 1
	d.reconcileAnnouncements(reconcileHealth, false)
	if ops := fake.TakeOps(); len(ops) != 0 {
		t.Errorf("announced before a reconcile succeeded: %v", ops)
	}
	programIPVS(t, d, ipvs.DesiredTable(d.cfg, nil))
	d.reconcileAnnouncements(reconcileHealth, false)
	if ops := fake.TakeOps(); !slices.Equal(ops, []string{"add 192.0.2.10/32"}) {
		t.Errorf("after a successful reconcile: ops = %v", ops)
	}

	// Reload to another table: withdrawn from the old one, announced in
	// the new one.
	d.cfg = loadConf(t, strings.Replace(announceConf, "lvsd_announce_drain_time 1", "lvsd_announce_drain_time 1\n    lvsd_announce_table 300", 1))
	d.reconcileAnnouncements(reconcileReload, true)
	d.reconcileAnnouncements(reconcileReload, false)
	if ops := fake.TakeOps(); !slices.Equal(ops, []string{"del 192.0.2.10/32", "add 192.0.2.10/32"}) {
		t.Errorf("table change ops = %v", ops)
	}
	if !slices.Equal(*opened, [][2]int{{200, 200}, {300, 200}}) {
		t.Errorf("opened %v", *opened)
	}

	// Stop: withdraw first, then drain for drain_time.
	at, withdrew := d.withdrawAnnouncements()
	if !withdrew {
		t.Error("withdrawAnnouncements reported nothing withdrawn")
	}
	if ops := fake.TakeOps(); !slices.Equal(ops, []string{"del 192.0.2.10/32"}) {
		t.Errorf("stop ops = %v", ops)
	}
	d.drainAnnouncements(at, withdrew, false)
	if waited := time.Since(at); waited < 900*time.Millisecond {
		t.Errorf("drained %v, want drain_time 1 s", waited)
	}
}

// TestAnnounceAdapterUntouchedWithoutKeyword: a configuration without
// lvsd_announce never opens the routing table, even with routes of the
// default protocol present.
func TestAnnounceAdapterUntouchedWithoutKeyword(t *testing.T) {
	fake := announce.NewFake(netip.MustParsePrefix("192.0.2.10/32"))
	sys := newFakeSysctl()
	d, opened := announceDaemon(t, fake, sys)
	d.cfg = loadConf(t, strings.ReplaceAll(strings.Replace(announceConf, "lvsd_announce_drain_time 1", "", 1), "lvsd_announce\n", ""))
	programIPVS(t, d, ipvs.DesiredTable(d.cfg, nil))
	d.reconcileIPVSAnnounced(reconcileStart)
	if len(*opened) != 0 || len(fake.TakeOps()) != 0 || strings.Contains(sys.written(), "sloppy") {
		t.Errorf("touched: opened %v, sysctl %q", *opened, sys.written())
	}
	if at, w := d.withdrawAnnouncements(); w || !at.IsZero() {
		t.Error("withdraw without announcements")
	}
}

// programIPVS brings the daemon's (fake) kernel to table through its
// syncer, as a reconcile does; nil forgets it, as a failed one does.
func programIPVS(t *testing.T, d *Daemon, table ipvs.Table) {
	t.Helper()
	if table == nil {
		d.syncer.ForgetProgrammed()
		return
	}
	if _, _, err := d.syncer.Update(context.Background(), table, false); err != nil {
		t.Fatal(err)
	}
}
