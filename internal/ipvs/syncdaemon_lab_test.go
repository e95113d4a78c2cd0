package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestVMSyncDaemons starts, lists and stops the kernel's sync daemons
// through lvsd's messages, reads them back through lvsd's dump and through
// ipvsadm -L --daemon, and checks the kernel's errors. The same calls go
// to the fake, which must answer as the kernel did.
func TestVMSyncDaemons(t *testing.T) {
	labtest.RequireVM(t)
	k, err := NewNetlink()
	if err != nil {
		t.Fatal(err)
	}
	sh := func(cmd string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	// A veth of MTU 1500 (the fake's model) with an IPv6 address, which a
	// daemon with an IPv6 group needs.
	_ = exec.Command("ip", "link", "del", "lvsdsync0").Run()
	sh("ip link add lvsdsync0 type veth peer name lvsdsync1 && ip link set lvsdsync0 up && ip link set lvsdsync1 up")
	sh("ip -6 addr add fd00:5::1/64 dev lvsdsync0 nodad")
	t.Cleanup(func() {
		_ = k.StopSyncDaemon(SyncMaster)
		_ = k.StopSyncDaemon(SyncBackup)
		_ = exec.Command("ip", "link", "del", "lvsdsync0").Run()
	})
	// Leftovers of an earlier test would make the first start fail.
	_ = k.StopSyncDaemon(SyncMaster)
	_ = k.StopSyncDaemon(SyncBackup)

	fake := NewFakeKernel()
	fake.SyncInterfaces = map[string]bool{"lvsdsync0": true, "lvsdsync1": true}
	ipvsadmList := func() string {
		t.Helper()
		out, err := exec.Command("ipvsadm", "-L", "--daemon").CombinedOutput()
		if err != nil {
			t.Fatalf("ipvsadm -L --daemon: %v %s", err, out)
		}
		return string(out)
	}
	list := func(k Kernel) string {
		t.Helper()
		ds, err := k.SyncDaemons()
		if err != nil {
			t.Fatalf("SyncDaemons: %v", err)
		}
		var b strings.Builder
		for _, d := range ds {
			b.WriteString(d.String() + "\n")
		}
		return b.String()
	}
	// both applies one call to the kernel and to the fake and compares
	// their errors (by errno) and then their lists with ipvsadm's.
	both := func(what string, call func(k Kernel) error, wantErr error) {
		t.Helper()
		kerr, ferr := call(k), call(fake)
		if wantErr == nil && kerr != nil || wantErr != nil && !errors.Is(kerr, wantErr) {
			t.Errorf("%s: kernel says %v, want %v", what, kerr, wantErr)
		}
		if wantErr == nil && ferr != nil || wantErr != nil && !errors.Is(ferr, wantErr) {
			t.Errorf("%s: fake says %v, the kernel %v", what, ferr, kerr)
		}
		kl, fl, il := list(k), list(fake), ipvsadmList()
		if kl != il {
			t.Errorf("%s: lvsd reads\n%s\nipvsadm -L --daemon reads\n%s", what, kl, il)
		}
		if fl != kl {
			t.Errorf("%s: the fake lists\n%s\nthe kernel\n%s", what, fl, kl)
		}
		t.Logf("%s: err %v; daemons:\n%s", what, kerr, kl)
	}
	start := func(d SyncDaemon) func(k Kernel) error { return func(k Kernel) error { return k.StartSyncDaemon(d) } }
	stop := func(s SyncState) func(k Kernel) error { return func(k Kernel) error { return k.StopSyncDaemon(s) } }

	both("stop master, none running", stop(SyncMaster), syscall.ESRCH)
	both("stop backup, none running", stop(SyncBackup), syscall.ESRCH)
	both("start master", start(SyncDaemon{State: SyncMaster, Interface: "lvsdsync0", SyncID: 7}), nil)
	both("start backup with every option", start(SyncDaemon{State: SyncBackup, Interface: "lvsdsync0", SyncID: 9, MaxLen: 1000,
		Group: netip.MustParseAddr("224.0.0.99"), Port: 9999, TTL: 3}), nil)
	if got := list(k); got != "master sync daemon (mcast=lvsdsync0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"+
		"backup sync daemon (mcast=lvsdsync0, syncid=9, maxlen=1024, group=224.0.0.99, port=9999, ttl=3)\n" {
		t.Errorf("both daemons: %s", got)
	}
	both("start a second master", start(SyncDaemon{State: SyncMaster, Interface: "lvsdsync1", SyncID: 8}), syscall.EEXIST)
	both("start a second backup", start(SyncDaemon{State: SyncBackup, Interface: "lvsdsync0", SyncID: 9}), syscall.EEXIST)
	both("stop master", stop(SyncMaster), nil)
	both("start master on a missing interface", start(SyncDaemon{State: SyncMaster, Interface: "nosuchif0"}), syscall.ENODEV)
	both("start master, IPv6 group, big maxlen", start(SyncDaemon{State: SyncMaster, Interface: "lvsdsync0", SyncID: 255, MaxLen: 65535,
		Group: netip.MustParseAddr("ff02::1:81"), Port: 1, TTL: 255}), nil)
	both("stop backup", stop(SyncBackup), nil)
	both("stop master again", stop(SyncMaster), nil)
	both("stop master, gone", stop(SyncMaster), syscall.ESRCH)
	if got := list(k); got != "" {
		t.Errorf("after stopping both: %q", got)
	}

	// ipvsadm's daemons read back through lvsd.
	sh("ipvsadm --start-daemon backup --mcast-interface lvsdsync1 --syncid 200 --mcast-port 7000")
	got, err := k.SyncDaemons()
	want := []SyncDaemon{{State: SyncBackup, Interface: "lvsdsync1", SyncID: 200, MaxLen: 1472, Group: DefaultSyncGroup, Port: 7000, TTL: 1}}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ipvsadm's backup through lvsd: %+v %v, want %+v", got, err, want)
	}
	if err := k.StopSyncDaemon(SyncBackup); err != nil {
		t.Errorf("stop ipvsadm's backup: %v", err)
	}
}
