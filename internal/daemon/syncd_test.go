package daemon

import (
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/labtest"
)

func runningDaemons(k *ipvs.FakeKernel) string {
	ds, _ := k.SyncDaemons()
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s %s %d", d.State, d.Interface, d.SyncID))
	}
	return strings.Join(out, ", ")
}

// lvs_sync_daemon without a vrrp_instance: the checker side runs a master
// and a backup daemon (keepalived's IPVS_MASTER_BACKUP), restores one
// stopped behind its back at the repair interval, stops them when a reload
// drops the keyword, and at stop.
func TestSyncDaemonsWithoutInstance(t *testing.T) {
	conf := "global_defs {\n  lvs_sync_daemon eth7 id 7\n}\n" + baseConf
	h := startWith(t, conf, func(o *Options) { o.RepairInterval = 20 * time.Millisecond })
	want := "master eth7 7, backup eth7 7"
	labtest.WaitFor(t, "master and backup daemons", 3*time.Second, func() bool { return runningDaemons(h.kernel) == want })

	if err := h.kernel.StopSyncDaemon(ipvs.SyncBackup); err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "the backup daemon restored", 3*time.Second, func() bool { return runningDaemons(h.kernel) == want })

	h.write(strings.Replace(conf, "id 7", "id 9", 1))
	h.signals <- syscall.SIGHUP
	labtest.WaitFor(t, "a reload changing the id restarts both", 3*time.Second, func() bool {
		return runningDaemons(h.kernel) == "master eth7 9, backup eth7 9"
	})
	h.write(baseConf)
	h.signals <- syscall.SIGHUP
	labtest.WaitFor(t, "a reload dropping lvs_sync_daemon stops them", 3*time.Second, func() bool { return runningDaemons(h.kernel) == "" })

	h.write(conf)
	h.signals <- syscall.SIGHUP
	labtest.WaitFor(t, "back", 3*time.Second, func() bool { return runningDaemons(h.kernel) == want })
	h.signals <- syscall.SIGTERM
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil // for the harness's cleanup
	if got := runningDaemons(h.kernel); got != "" {
		t.Errorf("after stop: %s still running", got)
	}
}

// A daemon that cannot start is an error logged once per reason and
// counted; lvsd keeps serving and tries again.
func TestSyncDaemonFailureLoggedOnceAndRetried(t *testing.T) {
	conf := "global_defs {\n  lvs_sync_daemon eth7\n}\n" + baseConf
	logs := &labtest.LogBuffer{}
	var kernel *ipvs.FakeKernel
	h := startWith(t, conf, func(o *Options) {
		o.RepairInterval = 20 * time.Millisecond
		o.Log = logs.Logger()
		inner := o.Kernel
		o.Kernel = func() (ipvs.Kernel, error) {
			k, err := inner()
			kernel = k.(*ipvs.FakeKernel)
			kernel.SetSyncInterfaces() // none yet
			return k, err
		}
	})
	time.Sleep(300 * time.Millisecond) // some fifteen repair intervals
	if n := h.status().SyncDaemonErrors; n < 2 {
		t.Errorf("%d failed attempts counted over fifteen repair intervals", n)
	}
	if n := strings.Count(logs.String(), "ipvs sync daemon"); n != 1 {
		t.Errorf("%d log lines for one failing reason, want 1:\n%s", n, logs.String())
	}
	kernel.SetSyncInterfaces("eth7")
	labtest.WaitFor(t, "started once the interface exists", 3*time.Second, func() bool { return runningDaemons(kernel) == "master eth7 0, backup eth7 0" })
}

// The instance-following rule, as keepalived's VRRP side applies it.
func TestWantSyncDaemons(t *testing.T) {
	sd := &config.SyncDaemon{Interface: "eth0", Instance: "VI_1", SyncID: 51}
	state := map[string]string{}
	of := func(n string) string { return state[n] }
	cases := []struct {
		name    string
		sd      *config.SyncDaemon
		opts    Options
		state   string
		want    string
		managed bool
	}{
		{"none configured", nil, Options{}, "", "", false},
		{"instance starting", sd, Options{}, "", "backup", true},
		{"instance BACKUP", sd, Options{}, "BACKUP", "backup", true},
		{"instance MASTER", sd, Options{}, "MASTER", "master", true},
		{"instance FAULT", sd, Options{}, "FAULT", "backup", true},
		{"instance, -C: keepalived's VRRP process owns it", sd, Options{CheckOnly: true}, "MASTER", "", false},
		{"no instance: both", &config.SyncDaemon{Interface: "eth0"}, Options{}, "", "master backup", true},
		{"no instance, -P: keepalived's checker process owns it", &config.SyncDaemon{Interface: "eth0"}, Options{VRRPOnly: true}, "", "", false},
	}
	for _, c := range cases {
		state["VI_1"] = c.state
		want, managed := wantSyncDaemons(c.sd, c.opts, of)
		var got []string
		for _, d := range want {
			got = append(got, d.State.String())
		}
		if strings.Join(got, " ") != c.want || managed != c.managed {
			t.Errorf("%s: %v managed %v, want %q managed %v", c.name, got, managed, c.want, c.managed)
		}
	}
}

// fakeSysctl is /proc/sys/net with the kernel's defaults for the sync
// settings; writes are recorded.
type fakeSysctl struct {
	mu     sync.Mutex
	vals   map[string]string
	writes []string
}

func newFakeSysctl() *fakeSysctl {
	return &fakeSysctl{vals: map[string]string{"net.ipv4.vs.sync_threshold": "3\t50", "net.ipv4.vs.sync_refresh_period": "0"}}
}

func (f *fakeSysctl) Read(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vals[name]
	return v, ok
}

func (f *fakeSysctl) Write(name, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vals[name] = value
	f.writes = append(f.writes, name+"="+value)
	return nil
}

func (f *fakeSysctl) written() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.writes, " ")
}

// With lvs_sync_daemon, lvsd sets the sync settings hitless failback needs
// where they still have the kernel's defaults, keeps an operator's own,
// and shows the daemons and settings as the kernel has them.
func TestSyncKnobsAndStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		preset map[string]string
		writes string
		want   map[string]string
	}{
		{"kernel defaults", nil, "net.ipv4.vs.sync_threshold=3 0 net.ipv4.vs.sync_refresh_period=10",
			map[string]string{"net.ipv4.vs.sync_threshold": "3 0", "net.ipv4.vs.sync_refresh_period": "10"}},
		{"operator's threshold", map[string]string{"net.ipv4.vs.sync_threshold": "3 10"}, "net.ipv4.vs.sync_refresh_period=10",
			map[string]string{"net.ipv4.vs.sync_threshold": "3 10", "net.ipv4.vs.sync_refresh_period": "10"}},
		{"operator's period", map[string]string{"net.ipv4.vs.sync_refresh_period": "2"}, "net.ipv4.vs.sync_threshold=3 0",
			map[string]string{"net.ipv4.vs.sync_threshold": "3 0", "net.ipv4.vs.sync_refresh_period": "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := newFakeSysctl()
			for k, v := range tc.preset {
				sys.vals[k] = v
			}
			conf := "global_defs {\n  lvs_sync_daemon eth7 id 7\n}\n" + baseConf
			h := startWith(t, conf, func(o *Options) { o.Sysctl = sys; o.RepairInterval = 20 * time.Millisecond })
			labtest.WaitFor(t, "sync daemons in the status", 3*time.Second, func() bool {
				sd := h.status().SyncDaemon
				return sd != nil && len(sd.Running) == 2
			})
			if got := sys.written(); got != tc.writes {
				t.Errorf("writes %q, want %q", got, tc.writes)
			}
			sd := h.status().SyncDaemon
			if !reflect.DeepEqual(sd.Settings, tc.want) {
				t.Errorf("settings %v, want %v", sd.Settings, tc.want)
			}
			got := fmt.Sprintf("%s %s %d %d; %s %s %d", sd.Running[0].State, sd.Running[0].Interface, sd.Running[0].SyncID, sd.FailbackHoldSeconds,
				sd.Running[1].State, sd.Running[1].Interface, sd.Running[1].SyncID)
			if want := "master eth7 7 35; backup eth7 7"; got != want {
				t.Errorf("status %q, want %q", got, want)
			}
			// Later repair intervals do not write the settings again.
			time.Sleep(50 * time.Millisecond)
			if n := strings.Count(sys.written(), "="); n != strings.Count(tc.writes, "=") {
				t.Errorf("settings written again at repair: %q", sys.written())
			}
		})
	}
	// Without lvs_sync_daemon nothing is touched and the status has no section.
	sys := newFakeSysctl()
	h := startWith(t, baseConf, func(o *Options) { o.Sysctl = sys })
	time.Sleep(100 * time.Millisecond)
	if sys.written() != "" || h.status().SyncDaemon != nil {
		t.Errorf("without lvs_sync_daemon: writes %q, status %+v", sys.written(), h.status().SyncDaemon)
	}
}

// A director running the master sync daemon sends the persistence
// templates of its persistent services to the sync group itself, with the
// real server's forwarding method and the persistence timeout; none while
// it runs no master daemon or has no persistent service.
func TestTemplateResync(t *testing.T) {
	const persistent = `
virtual_server 10.0.0.1 80 {
  protocol TCP
  lb_algo wrr
  lb_kind DR
  persistence_timeout 300
  real_server 10.1.0.1 80 {
    weight 3
  }
  real_server 10.1.0.2 80 {
    weight 1
  }
}
`
	table := "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n" +
		"TCP 0A090001 8E3A 0A000001 0050 0A010001 0050 ESTABLISHED     899\n" +
		"TCP 0A090001 0000 0A000001 0050 0A010001 0050 NONE            250\n" +
		"TCP 0A090002 0000 0A000001 0050 0A010009 0050 NONE            250\n" // a real server no longer configured
	var mu sync.Mutex
	var sent []ipvs.SyncRecord
	var via []ipvs.SyncDaemon
	adjust := func(o *Options) {
		o.TemplateResync = 20 * time.Millisecond
		o.ConnTable = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(table)), nil }
		o.SyncSend = func(d ipvs.SyncDaemon, msgs [][]byte) error {
			mu.Lock()
			defer mu.Unlock()
			via = append(via, d)
			for _, m := range msgs {
				_, recs, err := ipvs.DecodeSyncV1(m)
				if err != nil {
					t.Errorf("lvsd sent a message the kernel would reject: %v", err)
				}
				sent = append(sent, recs...)
			}
			return nil
		}
	}
	got := func() ([]ipvs.SyncRecord, []ipvs.SyncDaemon) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sent), slices.Clone(via)
	}

	// A master daemon (no instance: master and backup) and a persistent service.
	h := startWith(t, "global_defs {\n  lvs_sync_daemon eth7 id 7\n}\n"+persistent, adjust)
	labtest.WaitFor(t, "templates sent", 3*time.Second, func() bool { s, _ := got(); return len(s) > 0 })
	recs, daemons := got()
	want := ipvs.SyncRecord{Protocol: 6, Flags: 0x1083, Client: netip.MustParseAddrPort("10.9.0.1:0"),
		Virtual: netip.MustParseAddrPort("10.0.0.1:80"), Dest: netip.MustParseAddrPort("10.1.0.1:80"), Timeout: 300}
	if recs[0] != want {
		t.Errorf("sent %+v, want %+v", recs[0], want)
	}
	if slices.ContainsFunc(recs, func(r ipvs.SyncRecord) bool { return r != want }) {
		t.Errorf("sent other records too: %+v", recs)
	}
	if d := daemons[0]; d.State != ipvs.SyncMaster || d.Interface != "eth7" || d.SyncID != 7 {
		t.Errorf("sent as %+v, want the master daemon on eth7 id 7", d)
	}
	labtest.WaitFor(t, "the count in the status", 3*time.Second, func() bool {
		sd := h.status().SyncDaemon
		return sd != nil && sd.TemplatesSent > 0
	})

	h.signals <- syscall.SIGTERM
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil // for the harness's cleanup

	// Without a persistent service nothing is sent.
	mu.Lock()
	sent, via = nil, nil
	mu.Unlock()
	startWith(t, "global_defs {\n  lvs_sync_daemon eth7 id 7\n}\n"+baseConf, adjust)
	time.Sleep(200 * time.Millisecond) // ten resync intervals
	if s, _ := got(); len(s) != 0 {
		t.Errorf("no persistent service: %d templates sent", len(s))
	}

	// Nor while the kernel runs no master daemon (an instance not MASTER).
	var d Daemon
	d.syncStatus.Store(&SyncStatus{running: []ipvs.SyncDaemon{{State: ipvs.SyncBackup, Interface: "eth7"}}})
	if m, ok := d.runningMasterDaemon(); ok {
		t.Errorf("a backup daemon alone taken for a master: %+v", m)
	}
	d.syncStatus.Store(nil)
	if _, ok := d.runningMasterDaemon(); ok {
		t.Error("unmanaged sync daemons taken for a master")
	}
}
