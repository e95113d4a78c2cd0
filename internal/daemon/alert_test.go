package daemon

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/alert"
	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/vrrp"
	"golang.org/x/sys/unix"
)

// TestAlertHooksFIFOs: the VRRP lines go to notify_fifo and
// vrrp_notify_fifo; with fifo_write_vrrp_states_on_reload a reload writes
// every instance's and group's state again; stop writes STOP and removes
// the FIFOs it created.
func TestAlertHooksFIFOs(t *testing.T) {
	dir := t.TempDir()
	all, vr := filepath.Join(dir, "all"), filepath.Join(dir, "vrrp")
	cfg := &config.Config{
		Global: config.Global{NotifyFIFO: &config.NotifyFIFO{Path: all}, VRRPNotifyFIFO: &config.NotifyFIFO{Path: vr},
			FIFOWriteVRRPStatesOnReload: true},
		Instances:  []*config.Instance{{Name: "VI_1"}, {Name: "VI_2"}},
		SyncGroups: []*config.SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newAlertHooks(ctx, cfg, nil)
	open := func(p string) int {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	fa, fv := open(all), open(vr)
	read := func(fd int) string {
		b := make([]byte, 65536)
		n, _ := unix.Read(fd, b)
		if n < 0 {
			n = 0
		}
		return string(b[:n])
	}
	h.instances([]vrrp.InstanceStatus{{Name: "VI_1", State: "BACKUP", Priority: 100}, {Name: "VI_2", State: "BACKUP", Priority: 90}})
	h.instances([]vrrp.InstanceStatus{{Name: "VI_1", State: "MASTER", Priority: 100}, {Name: "VI_2", State: "MASTER", Priority: 90}})
	want := "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_2\" BACKUP 90\nGROUP \"G\" BACKUP 0\n" +
		"INSTANCE \"VI_1\" MASTER 100\nINSTANCE \"VI_2\" MASTER 90\nGROUP \"G\" MASTER 0\n"
	if got := read(fa); got != want {
		t.Errorf("notify_fifo:\n%s\nwant:\n%s", got, want)
	}
	if got := read(fv); got != want {
		t.Errorf("vrrp_notify_fifo:\n%s\nwant:\n%s", got, want)
	}
	if d := h.fifoDropped(); d != 0 {
		t.Errorf("%d lines dropped", d)
	}
	h.update(cfg)
	if got, want := read(fv), "INSTANCE \"VI_1\" MASTER 100\nINSTANCE \"VI_2\" MASTER 90\nGROUP \"G\" MASTER 0\n"; got != want {
		t.Errorf("after a reload:\n%s\nwant:\n%s", got, want)
	}
	h.stop()
	if got, want := read(fa), "INSTANCE \"VI_1\" MASTER 100\nINSTANCE \"VI_2\" MASTER 90\nGROUP \"G\" MASTER 0\nINSTANCE \"VI_1\" STOP 100\nINSTANCE \"VI_2\" STOP 90\nGROUP \"G\" STOP 0\n"; got != want {
		t.Errorf("at stop:\n%s\nwant:\n%s", got, want)
	}
	for _, p := range []string{all, vr} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind", p)
		}
	}
	var nilH *alertHooks // the daemon's hooks are nil-safe
	nilH.stop()
	nilH.update(cfg)
}

// TestAlertHooksRemovedRealServer: a reload that removes a real server in
// service writes it DOWN to lvs_notify_fifo and mails "=> Removing <=",
// as keepalived's clear_service_rs does; one that stays is not.
func TestAlertHooksRemovedRealServer(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "lvs")
	yes := true // smtp_alert as config.Load resolves it for a real server
	mk := func(rss ...string) *config.Config {
		vs := &config.VirtualServer{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Protocol: config.ProtoTCP}
		for _, a := range rss {
			vs.RealServers = append(vs.RealServers, &config.RealServer{Addr: netip.MustParseAddr(a), Port: 80, Weight: 1, SMTPAlert: &yes})
		}
		return &config.Config{Global: config.Global{LVSNotifyFIFO: &config.NotifyFIFO{Path: fifo}, SMTPServer: "127.0.0.1", SMTPPort: 1,
			NotificationEmail: []string{"ops@example.com"}, RouterID: "R"}, VirtualServers: []*config.VirtualServer{vs}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old := alert.RetryDelays
	alert.RetryDelays = []time.Duration{time.Millisecond}
	defer func() { alert.RetryDelays = old }()
	cfg := mk("10.0.1.1", "10.0.1.2")
	h := newAlertHooks(ctx, cfg, nil)
	defer h.stop()
	m := check.NewManager(nil, nil, 0, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	h.checksStarted(m)
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	h.update(mk("10.0.1.1"))
	b := make([]byte, 4096)
	n, _ := unix.Read(fd, b)
	// The start wrote the virtual server's first quorum ("Starting with
	// quorum up", init_service_vs), the reload the removed real server.
	if got, want := string(b[:max(n, 0)]), "VS [10.0.0.1]:tcp:80 UP\nRS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n"; got != want {
		t.Errorf("lvs_notify_fifo %q, want %q", got, want)
	}
	// Nothing listens on port 1: the one mail (Removing) fails.
	deadline := time.Now().Add(10 * time.Second)
	for h.stats().Failed < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := h.stats(); st.Failed != 1 || st.Sent != 0 || st.Queued != 0 {
		t.Errorf("mails %+v, want 1 failed (Removing)", st)
	}
}

// TestCheckerBody: a MISC_CHECK killed at misc_timeout mails "timed out"
// (check_misc.c); other failures and checkers their keepalived body.
func TestCheckerBody(t *testing.T) {
	for _, tc := range []struct {
		typ     config.CheckerType
		up      bool
		lastErr string
		want    string
	}{
		{config.CheckMisc, false, "script /x: context deadline exceeded; its process group was killed", "=> MISC CHECK timed out on service <="},
		{config.CheckMisc, false, "/x exited 1", "=> MISC CHECK failed on service <="},
		{config.CheckMisc, true, "", "=> MISC CHECK succeeded on service <="},
		{config.CheckTCP, false, "context deadline exceeded", "=> TCP CHECK failed on service <="},
	} {
		if got := checkerBody(tc.typ, tc.up, tc.lastErr); got != tc.want {
			t.Errorf("%s up=%v %q: %q, want %q", tc.typ, tc.up, tc.lastErr, got, tc.want)
		}
	}
}

// TestAlertHooksReloadTurn: a reload that gives a down real server a new
// checker (another connect_timeout: keepalived's compare_conn_opts) turns
// it up, and lvs_notify_fifo gets its RS line, as keepalived's
// migrate_checkers → perform_svr_state writes it; a real server the
// reload adds writes none.
func TestAlertHooksReloadTurn(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "lvs")
	mk := func(timeout time.Duration, alpha bool, rss ...string) *config.Config {
		vs := &config.VirtualServer{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Protocol: config.ProtoTCP}
		for _, a := range rss {
			ck := &config.Checker{Type: config.CheckTCP, ConnectIP: netip.MustParseAddr(a), ConnectPort: 80, ConnectTimeout: timeout,
				DelayLoop: time.Hour, Retry: 1, Alpha: alpha}
			vs.RealServers = append(vs.RealServers, &config.RealServer{Addr: netip.MustParseAddr(a), Port: 80, Weight: 1, Checkers: []*config.Checker{ck}})
		}
		return &config.Config{Global: config.Global{LVSNotifyFIFO: &config.NotifyFIFO{Path: fifo}, RouterID: "R"}, VirtualServers: []*config.VirtualServer{vs}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := mk(time.Second, true, "10.0.1.1")
	h := newAlertHooks(ctx, cfg, nil)
	defer h.stop()
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	m := check.NewManager(nil, nil, 0, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	h.checksStarted(m) // alpha: down from the start, no line
	next := mk(2*time.Second, false, "10.0.1.1", "10.0.1.2")
	h.update(next)
	if err := m.Update(next, time.Now()); err != nil {
		t.Fatal(err)
	}
	h.checksStarted(m)
	b := make([]byte, 4096)
	n, _ := unix.Read(fd, b)
	// The start's first quorum (init_service_vs), then the reload's turn.
	if got, want := string(b[:max(n, 0)]), "VS [10.0.0.1]:tcp:80 UP\nRS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 UP\n"; got != want {
		t.Errorf("lvs_notify_fifo %q, want %q", got, want)
	}
}

// TestAlertHooksRSInitNotifies: with rs_init_notifies each real server
// that starts up writes "RS ... UP" before the quorum line (keepalived
// 2.2.7's init_service_rs); an alpha one (down) does not; at a reload
// only the new real server does; without the keyword none does.
func TestAlertHooksRSInitNotifies(t *testing.T) {
	for _, on := range []bool{true, false} {
		fifo := filepath.Join(t.TempDir(), "lvs")
		mk := func(rss ...string) *config.Config {
			vs := &config.VirtualServer{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Protocol: config.ProtoTCP}
			for _, a := range rss {
				ck := &config.Checker{Type: config.CheckTCP, ConnectIP: netip.MustParseAddr(a), ConnectPort: 80, ConnectTimeout: time.Second,
					DelayLoop: time.Hour, Retry: 1, Alpha: a == "10.0.1.9"}
				vs.RealServers = append(vs.RealServers, &config.RealServer{Addr: netip.MustParseAddr(a), Port: 80, Weight: 1, Checkers: []*config.Checker{ck}})
			}
			return &config.Config{Global: config.Global{LVSNotifyFIFO: &config.NotifyFIFO{Path: fifo}, RouterID: "R", RSInitNotifies: on},
				VirtualServers: []*config.VirtualServer{vs}}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cfg := mk("10.0.1.1", "10.0.1.9")
		h := newAlertHooks(ctx, cfg, nil)
		fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		m := check.NewManager(nil, nil, 0, nil)
		if err := m.Update(cfg, time.Now()); err != nil {
			t.Fatal(err)
		}
		h.checksStarted(m)
		next := mk("10.0.1.1", "10.0.1.9", "10.0.1.2")
		h.update(next)
		if err := m.Update(next, time.Now()); err != nil {
			t.Fatal(err)
		}
		h.checksStarted(m)
		b := make([]byte, 4096)
		n, _ := unix.Read(fd, b)
		want := "VS [10.0.0.1]:tcp:80 UP\n"
		if on {
			want = "RS [10.0.1.1]:tcp:80 [10.0.0.1]:tcp:80 UP\nVS [10.0.0.1]:tcp:80 UP\nRS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 UP\n"
		}
		if got := string(b[:max(n, 0)]); got != want {
			t.Errorf("rs_init_notifies %v: lvs_notify_fifo %q, want %q", on, got, want)
		}
		unix.Close(fd)
		h.stop()
		cancel()
	}
}
