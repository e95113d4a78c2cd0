package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
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

// TestTrackProcessMatchesKeepalived: keepalived 2.2.7 (proc connector)
// and lvsd (/proc scans) track the same processes with the same
// configuration: quorum adds the weight, above quorum_max takes it away,
// the weight 0 process gone is FAULT and back; both daemons' adverts and
// VIPs agree at every step.
func TestTrackProcessMatchesKeepalived(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	sleep := labtest.NeedBinary(t, "sleep")
	bin := t.TempDir()
	tag := fmt.Sprintf("%d", os.Getpid()%100000)
	names := map[string]string{"pool": "lvsdtpp" + tag, "must": "lvsdtpm" + tag}
	for _, n := range names {
		b, err := os.ReadFile(sleep)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, n), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var running []*exec.Cmd
	run := func(which string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, names[which]), "600")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		running = append(running, c)
		return c
	}
	stop := func(c *exec.Cmd) { _ = c.Process.Kill(); _ = c.Wait() }
	t.Cleanup(func() {
		for _, c := range running {
			if c.ProcessState == nil {
				stop(c)
			}
		}
	})
	global := fmt.Sprintf(`
vrrp_track_process pool {
  process %s
  quorum 2
  quorum_max 2
  weight 10
}
vrrp_track_process must {
  process %s
}
`, names["pool"], names["must"])
	extra := "  version 3\n  advert_int 0.2\n  track_process {\n    pool\n    must\n  }\n"
	must := run("must")
	pool1 := run("pool")
	type side struct {
		kind string
		lab  *vrrpLab
		w    *advertWatch
		d    *daemonProc
	}
	var sides []*side
	conf := vrrpConf{priority: 100, global: global, extra: extra}
	// lvsd runs in a namespace of its lab, as everywhere else. keepalived
	// 2.2.7 follows processes through the proc connector, which only the
	// initial network namespace has ("Failed to set/clear process event
	// listen - errno 111" in any other: every tracked process then lacks
	// quorum). So keepalived runs in the initial namespace, its instance on
	// a veth this test creates there, whose peer is on the lab's bridge:
	// its adverts and GARPs go nowhere else.
	kLab := newVRRPLab(t, "o")
	kIf := fmt.Sprintf("h3k%d", os.Getpid()%100000)
	kLab.sh("ip link add %s type veth peer name pk netns %s", kIf, kLab.ns("br"))
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", kIf).Run() })
	kLab.sh("ip -n %s link set pk master br0 up", kLab.ns("br"))
	kLab.sh("ip addr add 10.9.0.50/24 dev %s && ip link set %s up", kIf, kIf)
	kHasVIP := func() bool {
		out, err := exec.Command("ip", "-o", "addr", "show", "dev", kIf).CombinedOutput()
		return err == nil && strings.Contains(string(out), " "+labVIP+"/")
	}
	kDir := t.TempDir()
	kConf := filepath.Join(kDir, "keepalived.conf")
	if err := os.WriteFile(kConf, []byte(strings.Replace(conf.render(), "interface eth0", "interface "+kIf, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	kCmd := exec.Command("keepalived", "-n", "-l", "-D", "-P", "-f", kConf, "-p", kDir+"/k.pid", "-r", kDir+"/v.pid", "-c", kDir+"/c.pid", "-b", kDir+"/b.pid")
	kLog := &syncBuffer{}
	kCmd.Stdout, kCmd.Stderr = kLog, kLog
	if err := kCmd.Start(); err != nil {
		t.Fatal(err)
	}
	kProc := &daemonProc{kind: "keepalived", host: "initial namespace", conf: kConf, cmd: kCmd, log: kLog}
	t.Cleanup(func() {
		if kCmd.ProcessState == nil {
			_ = kCmd.Process.Kill()
			_ = kCmd.Wait()
		}
		if t.Failed() {
			t.Logf("--- keepalived ---\n%s", kLog.String())
		}
	})
	lLab := newVRRPLab(t, "d", "o")
	sides = []*side{
		{kind: "keepalived", lab: kLab, w: watchAdverts(t, kLab.ns("o")), d: kProc},
		{kind: "lvsd", lab: lLab, w: watchAdverts(t, lLab.ns("o"))},
	}
	sides[1].d = lLab.start("lvsd", "d", conf)
	hasVIP := func(s *side) bool {
		if s.kind == "keepalived" {
			return kHasVIP()
		}
		return s.lab.hasVIP("d")
	}
	expect := func(step string, want int) {
		t.Helper()
		for _, s := range sides {
			labtest.WaitFor(t, fmt.Sprintf("%s: %s: advert priority %d", step, s.kind, want), 10*time.Second, func() bool {
				got := s.w.state()
				if want < 0 {
					return got == -1 && !hasVIP(s)
				}
				return got == want && hasVIP(s)
			})
		}
		t.Logf("%s: keepalived and lvsd both at %d", step, want)
	}
	expect("one pool process: no quorum", 100)
	pool2 := run("pool")
	expect("two: quorum, +10", 110)
	pool3 := run("pool")
	expect("three: above quorum_max", 100)
	stop(pool3)
	expect("two again", 110)
	stop(must)
	expect("must gone (weight 0): FAULT", -1)
	run("must")
	expect("must back", 110)
	stop(pool2)
	stop(pool1)
	expect("no pool process", 100)
	for _, s := range sides {
		s.d.signal(t, syscall.SIGTERM)
	}
}
