package check

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestLabDedup boots the lab VM once (keepalived's checker needs IPVS,
// which the host has not) and runs TestVMDedup* and TestVMCheckReload*
// inside it.
func TestLabDedup(t *testing.T) {
	if labtest.InVM() {
		return
	}
	if testing.Short() {
		t.Skip("lab VM test (-short)")
	}
	labtest.NeedRoot(t)
	labtest.NeedBinary(t, "keepalived")
	labtest.RunInVM(t, "^TestVM(Dedup|CheckReload)")
}

// TestVMDedupProbeRateVsKeepalived: 40 virtual servers sharing one
// loopback real server with the same TCP_CHECK (delay_loop 1). keepalived
// 2.2.7's checker connects 40 times a second (one timer per checker);
// lvsd's checker manager, on the same configuration in the same run,
// once a second.
func TestVMDedupProbeRateVsKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	keepalived := labtest.NeedBinary(t, "keepalived")
	l := newCountingListener(t)
	check := func(int) string {
		return "TCP_CHECK { connect_timeout 1 delay_loop 1 retry 1 delay_before_retry 1 }"
	}
	cfg := sharedConfig(t, 40, l.port(), check)
	var conf strings.Builder
	for i := range 40 {
		fmt.Fprintf(&conf, `virtual_server 10.7.9.1 %d {
  protocol TCP
  lb_kind NAT
  lb_algo rr
  real_server 127.0.0.1 %d {
    weight 1
    TCP_CHECK {
      connect_timeout 1
      delay_loop 1
      retry 1
      delay_before_retry 1
    }
  }
}
`, 1000+i, l.port())
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "k.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const window = 5 * time.Second
	measure := func(name string) float64 {
		// Past start-up and the first-run spread (warmup = delay_loop).
		labtest.WaitFor(t, name+" checks", 20*time.Second, func() bool { return l.accepted.Load() > 0 })
		time.Sleep(2 * time.Second)
		before := l.accepted.Load()
		time.Sleep(window)
		rate := float64(l.accepted.Load()-before) / window.Seconds()
		t.Logf("%s: %.1f connects/s to the real server shared by 40 virtual servers (TCP_CHECK delay_loop 1)", name, rate)
		return rate
	}

	pid := filepath.Join(dir, "k.pid")
	cmd := exec.Command(keepalived, "-C", "-n", "-l", "-f", path, "-p", pid, "-c", pid+".c")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		labtest.Terminate(cmd, 10*time.Second)
		_ = exec.Command("ipvsadm", "-C").Run()
	}
	t.Cleanup(stop)
	kaRate := measure("keepalived 2.2.7")
	stop()
	if kaRate < 20 {
		t.Errorf("keepalived: %.1f connects/s, expected about 40 (one per checker): the reference did not run as expected\n%s", kaRate, out.String())
	}

	time.Sleep(1500 * time.Millisecond) // keepalived's last connects are in
	l.accepted.Store(0)
	m := NewManager(nil, nil, 8, nil)
	if err := m.Update(cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	lvsdRate := measure("lvsd")
	t.Logf("probes/s: lvsd %.1f, keepalived 2.2.7 %.1f; lvsd stats %+v", lvsdRate, kaRate, m.ProbeStats())
	if lvsdRate > 1.6 || lvsdRate < 0.6 {
		t.Errorf("lvsd: %.1f connects/s, want about 1 (one probe for the 40 checkers)", lvsdRate)
	}
}
