package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDynamicInterfacesMatchesKeepalived: keepalived 2.2.7 and lvsd in turn
// on director d1, global dynamic_interfaces, an instance on eth9, which
// does not exist at start. Under both the instance waits in FAULT without
// the VIP; when eth9 is made (an address, then up) it becomes MASTER with
// the VIP on eth9; the notify_fifo lines are the same.
func TestDynamicInterfacesMatchesKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1")
	ns := l.ns("d1")
	vipOnEth9 := func() bool {
		out, err := exec.Command("ip", "-n", ns, "-o", "addr", "show", "dev", "eth9").CombinedOutput()
		return err == nil && strings.Contains(string(out), " "+labVIP+"/")
	}
	lines := map[string]string{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		fifo := filepath.Join(t.TempDir(), "notify.fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		tap := tapFIFO(fifo)
		conf := strings.Replace(fifoLabConf(fifo, "", "", ""), "interface eth0", "interface eth9", 1)
		conf = strings.Replace(conf, "  notify_fifo", "  dynamic_interfaces\n  notify_fifo", 1)
		p := l.startRaw(kind, "d1", conf, "-P")
		time.Sleep(masterDown(150) + time.Second)
		if vipOnEth9() || !strings.Contains(strings.Join(tap.lines(), "\n"), "FAULT") && kind == "lvsd" {
			t.Errorf("%s on a missing eth9: VIP %v, FIFO %q; want FAULT without the VIP", kind, vipOnEth9(), tap.lines())
		}
		made := time.Now()
		l.sh("ip -n %s link add eth9 type veth peer name eth9p && ip -n %s addr add 10.77.9.1/24 dev eth9 && ip -n %s link set eth9p up && ip -n %s link set eth9 up", ns, ns, ns, ns)
		l.waitFor(kind+" master on eth9", masterDown(150)+5*time.Second, func() bool { return vipOnEth9() })
		t.Logf("%s: MASTER on eth9 %s after it was made", kind, time.Since(made).Round(time.Millisecond))
		p.signal(t, syscall.SIGTERM)
		lines[kind] = strings.Join(tap.close(), "\n")
		t.Logf("%s: notify_fifo:\n%s", kind, lines[kind])
		l.sh("ip -n %s link del eth9", ns)
	}
	if lines["keepalived"] != lines["lvsd"] {
		t.Errorf("notify_fifo lines differ:\n--- keepalived\n%s\n--- lvsd\n%s", lines["keepalived"], lines["lvsd"])
	}
}
