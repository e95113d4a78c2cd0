package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/vrrp"
)

// advertWatch records the VRRP adverts seen on an observer's eth0.
type advertWatch struct {
	mu   sync.Mutex
	last int       // priority of the last advert, -1 before any
	at   time.Time // when it came
	conn vrrp.Conn
}

func watchAdverts(t *testing.T, ns string) *advertWatch {
	t.Helper()
	w := &advertWatch{last: -1}
	err := labtest.InNetns(ns, func() error {
		c, err := vrrp.ListenIPv4("eth0", netip.MustParseAddr("224.0.0.18"), 0)
		w.conn = c
		return err
	})
	if err != nil {
		t.Fatalf("advert observer in %s: %v", ns, err)
	}
	t.Cleanup(func() { _ = w.conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			r, err := w.conn.Read(buf)
			if err != nil {
				return
			}
			if len(r.Payload) < 3 {
				continue
			}
			w.mu.Lock()
			w.last, w.at = int(r.Payload[2]), time.Now()
			w.mu.Unlock()
		}
	}()
	return w
}

// state is the last advert's priority while adverts come, or -1 when none
// came for a second (FAULT, after the priority 0 advert).
func (w *advertWatch) state() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.at) > time.Second {
		return -1
	}
	return w.last
}

const trackFileConf = `
track_file tf_val {
  file %[1]s/val
  weight 1
}
track_file tf_zero {
  file %[1]s/zero
  weight 0
}
track_file tf_init {
  file %[2]s/init
  init_file 3 overwrite
}
`

const trackFileInstance = `  version 3
  advert_int 0.2
  track_file {
    tf_val weight 2
    tf_zero
    tf_init
  }
`

// TestTrackFileMatchesKeepalived: keepalived 2.2.7 and lvsd, each alone on
// a bridge with an observer, run the same configuration tracking the same
// files. Each value written moves both priorities alike in the adverts,
// weight 0 puts both in FAULT (no adverts, no VIP) and back; init_file
// overwrites each daemon's own file at start.
func TestTrackFileMatchesKeepalived(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	shared := t.TempDir()
	type side struct {
		kind string
		lab  *vrrpLab
		w    *advertWatch
		d    *daemonProc
		own  string
	}
	var sides []*side
	for _, kind := range []string{"keepalived", "lvsd"} {
		s := &side{kind: kind, lab: newVRRPLab(t, "d", "o"), own: t.TempDir()}
		if err := os.WriteFile(filepath.Join(s.own, "init"), []byte("9\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.w = watchAdverts(t, s.lab.ns("o"))
		sides = append(sides, s)
	}
	for _, s := range sides {
		s.d = s.lab.start(s.kind, "d", vrrpConf{priority: 100, global: fmt.Sprintf(trackFileConf, shared, s.own), extra: trackFileInstance})
	}
	write := func(name, v string) {
		p := filepath.Join(shared, name)
		if err := os.WriteFile(p+".tmp", []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(step string, want int) {
		t.Helper()
		for _, s := range sides {
			labtest.WaitFor(t, fmt.Sprintf("%s: %s: advert priority %d", step, s.kind, want), 10*time.Second, func() bool {
				got := s.w.state()
				if want < 0 {
					return got == -1 && !s.lab.hasVIP("d")
				}
				return got == want && s.lab.hasVIP("d")
			})
		}
		t.Logf("%s: keepalived and lvsd both at %d", step, want)
	}
	// Missing val and zero files are 0; init is overwritten with 3.
	expect("start (init_file 3)", 103)
	for _, s := range sides {
		if b, err := os.ReadFile(filepath.Join(s.own, "init")); err != nil || string(b) != "3\n" {
			t.Errorf("%s: init_file left %q, %v; want \"3\\n\"", s.kind, b, err)
		}
	}
	write("val", "5\n")
	expect("val 5 x weight 2", 113)
	write("val", "-10")
	expect("val -10", 83)
	write("val", "0x7 and words")
	expect("val 0x7 (strtol base 0)", 117)
	write("val", "500")
	expect("val 500 capped", 254)
	write("zero", "1")
	expect("zero 1 with weight 0: FAULT", -1)
	write("zero", "0")
	expect("zero 0: back", 254)
	write("val", "-127")
	expect("val -127 x 2 = -254: FAULT", -1)
	if err := os.Remove(filepath.Join(shared, "val")); err != nil {
		t.Fatal(err)
	}
	expect("val deleted: 0", 103)
	for _, s := range sides {
		s.d.signal(t, syscall.SIGTERM)
		if s.kind == "lvsd" && strings.Contains(s.d.log.String(), "panic") {
			t.Errorf("lvsd log:\n%s", s.d.log.String())
		}
	}
}
