package vrrp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

func fakeProcEntry(t *testing.T, root string, pid int, comm string) {
	t.Helper()
	d := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (%s) S 1 1 1 0 -1 4194560 100 0 0 0\n", pid, comm)
	if err := os.WriteFile(filepath.Join(d, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "cmdline"), []byte(comm+"\x00"), 0o644)
}

// TestRouterTrackProcess: a vrrp_track_process's quorum adds its weight
// (instance and sync group entries); weight 0 without quorum is FAULT; a
// sync group's entry applies to every member (keepalived 2.2.7
// vrrp_track.c process_update_track_process_status).
func TestRouterTrackProcess(t *testing.T) {
	root := t.TempDir()
	fakeProcEntry(t, root, 100, "must")
	fakeProcEntry(t, root, 200, "pool")
	conf := `
vrrp_track_process must_run {
  process must
}
vrrp_track_process pool {
  process pool
  quorum 2
  quorum_max 3
  weight 10
}
vrrp_track_process absent {
  process absent
  weight -20 reverse
}
vrrp_sync_group G {
  group {
    VI_A
    VI_B
  }
  track_process {
    must_run
  }
  sync_group_tracking_weight
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  track_process {
    pool
    absent
  }
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
	p := newFakePlatform()
	r := mustNewRouter(t, conf, p)
	r.procRoot, r.procPoll = root, 10*time.Millisecond
	go r.Run(context.Background())
	t.Cleanup(r.Stop)
	// pool: 1 process, no quorum, weight 10 adds nothing; absent: no
	// quorum, weight -20 reverse adds +20.
	labtest.WaitFor(t, "VI_A at 120", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 120 })
	fakeProcEntry(t, root, 201, "pool")
	labtest.WaitFor(t, "pool quorum: 130", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 130 })
	fakeProcEntry(t, root, 202, "pool")
	fakeProcEntry(t, root, 203, "pool")
	labtest.WaitFor(t, "above quorum_max: 120", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 120 })
	fakeProcEntry(t, root, 300, "absent")
	labtest.WaitFor(t, "absent running: reverse weight gone, 100", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 100 })
	os.RemoveAll(filepath.Join(root, "100"))
	labtest.WaitFor(t, "must gone: the sync group's weight 0 entry faults both", 3*time.Second, func() bool {
		sa, _ := state(r, "VI_A")
		sb, _ := state(r, "VI_B")
		return sa == "FAULT" && sb == "FAULT" && !p.hasVIP("10.0.0.100/24") && !p.hasVIP("10.1.0.100/24")
	})
	fakeProcEntry(t, root, 101, "must")
	labtest.WaitFor(t, "must back: both master", 3*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") && p.hasVIP("10.1.0.100/24") })
}
