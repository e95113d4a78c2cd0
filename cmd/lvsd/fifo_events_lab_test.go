package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestNotifyFIFOEventsMatchKeepalived: the notify FIFO's event lines
// besides states, keepalived 2.2.7 then lvsd on one director in the same
// run. vrrp_notify_priority_changes and a track_file change the MASTER's
// priority (MASTER_PRIORITY), a forged advert of lower priority from
// another host makes it assert itself (MASTER_RX_LOWER_PRI, and its
// notify_master_rx_lower_pri script runs); the lines must be the same.
func TestNotifyFIFOEventsMatchKeepalived(t *testing.T) {
	l := newVRRPLab(t, "d1", "fl")
	dir := t.TempDir()
	got := map[string][]string{}
	scriptRuns := map[string]int{}
	for _, kind := range []string{"keepalived", "lvsd"} {
		fifo := filepath.Join(dir, kind+".fifo")
		trackFile := filepath.Join(dir, kind+".track")
		rxOut := filepath.Join(dir, kind+".rx")
		rxScript := filepath.Join(dir, kind+"-rx.sh")
		if err := os.WriteFile(trackFile, []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rxScript, []byte("#!/bin/sh\necho \"rx $*\" >> "+rxOut+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		conf := fmt.Sprintf(`global_defs {
  router_id lab
  notify_fifo %s
  vrrp_notify_priority_changes
  script_user root
}
track_file TF {
  file %s
  weight 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  version 3
  priority 150
  advert_int 1
  track_file {
    TF
  }
  notify_master_rx_lower_pri %s
  virtual_ipaddress {
    %s/24
  }
}
`, fifo, trackFile, rxScript, labVIP)
		tap := tapFIFO(fifo)
		p := l.startRaw(kind, "d1", conf, "-P")
		l.waitFor(kind+" master", masterDown(150)+5*time.Second, func() bool { return l.hasVIP("d1") })
		labtest.WaitFor(t, kind+": MASTER line", 10*time.Second, func() bool { return strings.Contains(strings.Join(tap.lines(), "\n"), " MASTER ") })
		// The track file lowers the priority by 20.
		if err := os.WriteFile(trackFile, []byte("-20\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		labtest.WaitFor(t, kind+": MASTER_PRIORITY line", 10*time.Second, func() bool { return strings.Contains(strings.Join(tap.lines(), "\n"), "MASTER_PRIORITY") })
		// One advert of priority 50 from the other host.
		faultFlood(t, l, "fl", netip.MustParseAddr("10.9.0.2"), faultForgeAdvert(t, netip.MustParseAddr("10.9.0.2"), 50, time.Second), 1, time.Millisecond)
		labtest.WaitFor(t, kind+": MASTER_RX_LOWER_PRI line", 10*time.Second, func() bool { return strings.Contains(strings.Join(tap.lines(), "\n"), "MASTER_RX_LOWER_PRI") })
		labtest.WaitFor(t, kind+": notify_master_rx_lower_pri ran", 10*time.Second, func() bool { return len(readLines(t, rxOut)) > 0 })
		p.signal(t, syscall.SIGTERM)
		got[kind] = tap.close()
		scriptRuns[kind] = len(readLines(t, rxOut))
		t.Logf("%s: notify_fifo:\n%s\nnotify_master_rx_lower_pri: %q", kind, strings.Join(got[kind], "\n"), readLines(t, rxOut))
	}
	k, v := strings.Join(got["keepalived"], "\n"), strings.Join(got["lvsd"], "\n")
	if !strings.Contains(k, `INSTANCE "VI_1" MASTER_PRIORITY 130`) || !strings.Contains(k, `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 130`) {
		t.Errorf("keepalived did not write the event lines the test expects:\n%s", k)
	}
	if k != v {
		t.Errorf("notify_fifo differs:\n--- keepalived\n%s\n--- lvsd\n%s", k, v)
	}
	if scriptRuns["keepalived"] != scriptRuns["lvsd"] {
		t.Errorf("notify_master_rx_lower_pri ran %d times under keepalived, %d under lvsd", scriptRuns["keepalived"], scriptRuns["lvsd"])
	}
}
