package daemon

import (
	"fmt"
	"strings"
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
