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

func startRouterPolling(t *testing.T, src string, p *fakePlatform) *Router {
	t.Helper()
	r := mustNewRouter(t, src, p)
	r.filePoll = 10 * time.Millisecond
	go r.Run(context.Background())
	t.Cleanup(r.Stop)
	return r
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	// Written elsewhere and renamed in, as keepalived's users are told to
	// (a reader never sees half a number).
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func state(r *Router, name string) (string, int) {
	for _, st := range r.Status() {
		if st.Name == name {
			return st.State, st.Priority
		}
	}
	return "", -1
}

// TestRouterTrackFile: a track file's value times the weight moves the
// priority (seen in the adverts); -254 or below faults the instance; a
// weight 0 entry faults it on any non-zero value, reverse on zero; a
// deleted file is 0 (keepalived 2.2.7 track_file.c).
func TestRouterTrackFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	writeFile(t, a, "0\n")
	conf := fmt.Sprintf(`
track_file tf_a {
  file %s
  weight 2
}
track_file tf_b {
  file %s
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  track_file {
    tf_a
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
  track_file {
    tf_b weight 0 reverse
  }
  virtual_ipaddress {
    10.1.0.100/24
  }
}
`, a, b)
	p := newFakePlatform()
	r := startRouterPolling(t, conf, p)
	// tf_b does not exist: 0, and weight 0 reverse faults VI_B from the start.
	labtest.WaitFor(t, "VI_A master at 100, VI_B in FAULT", 3*time.Second, func() bool {
		sa, pa := state(r, "VI_A")
		sb, _ := state(r, "VI_B")
		return sa == "MASTER" && pa == 100 && sb == "FAULT" && p.lastAdvertPriority(1) == 100
	})
	if p.lastAdvertPriority(2) > 0 {
		t.Errorf("VI_B in FAULT sent an advert of priority %d", p.lastAdvertPriority(2))
	}
	writeFile(t, a, "5\n")
	labtest.WaitFor(t, "priority 100 + 5×2 in adverts", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 110 })
	writeFile(t, a, "0x10 trailing words")
	labtest.WaitFor(t, "strtol base 0: 16×2", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 132 })
	writeFile(t, a, "200")
	labtest.WaitFor(t, "capped at 254", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 254 })
	writeFile(t, a, "-60")
	labtest.WaitFor(t, "100 - 120 is clamped to 1", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 1 })
	writeFile(t, a, "-127")
	labtest.WaitFor(t, "-254 faults VI_A", 3*time.Second, func() bool {
		s, _ := state(r, "VI_A")
		return s == "FAULT" && !p.hasVIP("10.0.0.100/24")
	})
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "a deleted file is 0: VI_A master at 100 again", 3*time.Second, func() bool {
		s, pr := state(r, "VI_A")
		return s == "MASTER" && pr == 100
	})
	writeFile(t, b, "1")
	labtest.WaitFor(t, "VI_B leaves FAULT when its reversed file is non-zero", 3*time.Second, func() bool {
		s, _ := state(r, "VI_B")
		return s == "MASTER" && p.hasVIP("10.1.0.100/24")
	})
	writeFile(t, b, "99999999999") // beyond INT32_MAX+1: keepalived ignores it
	time.Sleep(100 * time.Millisecond)
	if s, _ := state(r, "VI_B"); s != "MASTER" {
		t.Errorf("an invalid number changed VI_B's state to %s; keepalived keeps the last value", s)
	}
}

// TestRouterTrackFileInit: init_file writes the value before the file is
// first read; without overwrite an existing file is kept.
func TestRouterTrackFileInit(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	writeFile(t, a, "9\n")
	writeFile(t, b, "9\n")
	conf := fmt.Sprintf(`
track_file tf_a {
  file %s
  init_file 3 overwrite
}
track_file tf_b {
  file %s
  init_file 4
}
track_file tf_c {
  file %s
  init_file -2
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
  track_file {
    tf_a weight 1
    tf_b weight 10
    tf_c weight 100
  }
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`, a, b, c)
	p := newFakePlatform()
	startRouterPolling(t, conf, p)
	// 100 + 3 (overwritten) + 90 (kept 9) - 200 (created -2) = -7 -> 1.
	labtest.WaitFor(t, "adverts at priority 1", 3*time.Second, func() bool { return p.lastAdvertPriority(1) == 1 })
	for path, want := range map[string]string{a: "3\n", b: "9\n", c: "-2\n"} {
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
}

// TestRouterTrackFileSyncGroup: a sync group's track_file applies to every
// member; weight 0 faults the group.
func TestRouterTrackFileSyncGroup(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	conf := fmt.Sprintf(`
track_file tf_a {
  file %s
  weight 0
}
vrrp_sync_group G {
  group {
    VI_A
    VI_B
  }
  track_file {
    tf_a
  }
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  priority 100
  version 3
  advert_int 0.05
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
`, a)
	p := newFakePlatform()
	r := startRouterPolling(t, conf, p)
	labtest.WaitFor(t, "both master", 3*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") && p.hasVIP("10.1.0.100/24") })
	writeFile(t, a, "1")
	labtest.WaitFor(t, "both in FAULT", 3*time.Second, func() bool {
		sa, _ := state(r, "VI_A")
		sb, _ := state(r, "VI_B")
		return sa == "FAULT" && sb == "FAULT" && !p.hasVIP("10.0.0.100/24") && !p.hasVIP("10.1.0.100/24")
	})
	writeFile(t, a, "0")
	labtest.WaitFor(t, "both master again", 3*time.Second, func() bool { return p.hasVIP("10.0.0.100/24") && p.hasVIP("10.1.0.100/24") })
}
