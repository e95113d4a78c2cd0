package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/labtest"
)

const baseConf = `
virtual_server 10.0.0.1 80 {
  protocol TCP
  lb_algo wrr
  lb_kind NAT
  real_server 10.1.0.1 80 {
    weight 3
  }
  real_server 10.1.0.2 80 {
    weight 1
  }
}
`

// harness runs the daemon against the fake IPVS kernel, with a control
// socket in a temporary directory.
type harness struct {
	t       *testing.T
	dir     string
	conf    string
	kernel  *ipvs.FakeKernel
	signals chan os.Signal
	done    chan error
	client  *http.Client
}

func start(t *testing.T, conf string) *harness { t.Helper(); return startWith(t, conf, nil) }

// startWith is start with options adjusted by adjust (if not nil).
func startWith(t *testing.T, conf string, adjust func(*Options)) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, conf: filepath.Join(dir, "keepalived.conf"), kernel: ipvs.NewFakeKernel(),
		signals: make(chan os.Signal, 1), done: make(chan error, 1)}
	h.write(conf)
	sock := filepath.Join(dir, "lvsd.sock")
	h.client = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	opts := Options{ConfigFile: h.conf, StateDir: dir, Log: slog.New(slog.DiscardHandler),
		Kernel: func() (ipvs.Kernel, error) { return h.kernel, nil }, Sysctl: newFakeSysctl()}
	if adjust != nil {
		adjust(&opts)
	}
	go func() { h.done <- Run(context.Background(), opts, h.signals) }()
	t.Cleanup(func() {
		select {
		case h.signals <- syscall.SIGTERM:
		default:
		}
		<-h.done
	})
	h.waitWrites(3) // one service, two real servers
	return h
}

func (h *harness) write(s string) {
	if err := os.WriteFile(h.conf, []byte(s), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) waitWrites(n int) {
	h.t.Helper()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if h.kernel.WriteCount() == n {
			return
		}
	}
	h.t.Fatalf("IPVS writes: %d, want %d", h.kernel.WriteCount(), n)
}

func (h *harness) status() StatusDoc {
	h.t.Helper()
	resp, err := h.client.Get("http://lvsd/status")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc StatusDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		h.t.Fatal(err)
	}
	return doc
}

func TestReloadKeepsServingOnBrokenConfig(t *testing.T) {
	h := start(t, baseConf)
	// An unknown block is fatal (keepalived does not start on it either);
	// the skipped error before it (lb_kind, which keepalived logs and runs
	// past) is not the one reported.
	h.write(baseConf + "virtual_server 10.0.0.2 80 {\n  lb_kind BOGUS\n}\nno_such_block {\n}\n")
	h.signals <- syscall.SIGHUP
	for end := time.Now().Add(3 * time.Second); h.status().ReloadsFailed != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("failed reload not counted")
		}
	}
	doc := h.status()
	if !strings.Contains(doc.LastReloadErr, `no_such_block`) || !strings.Contains(doc.LastReloadErr, "keepalived.conf:16") {
		t.Errorf("last reload error does not name file, line and problem: %q", doc.LastReloadErr)
	}
	if w := h.kernel.WriteCount(); w != 3 {
		t.Errorf("a rejected reload wrote to IPVS: %d writes", w)
	}
	// The control socket's reload reports the rejection too.
	resp, err := h.client.Post("http://lvsd/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("reload of a broken file: HTTP %d, want 422", resp.StatusCode)
	}
	// A good file afterwards: one write for the one changed weight.
	h.write(strings.Replace(baseConf, "weight 1", "weight 2", 1))
	resp, err = h.client.Post("http://lvsd/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("reload of a good file: HTTP %d", resp.StatusCode)
	}
	h.waitWrites(4)
	if doc := h.status(); doc.ReloadsOK != 1 || doc.ReloadsFailed != 2 || doc.LastReloadErr != "" {
		t.Errorf("after a good reload: ok=%d failed=%d err=%q", doc.ReloadsOK, doc.ReloadsFailed, doc.LastReloadErr)
	}
}

func TestStopRemovesOwnServicesOnly(t *testing.T) {
	h := start(t, baseConf)
	h.signals <- syscall.SIGTERM
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil // for the cleanup
	case <-time.After(3 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	table, err := ipvs.ReadTable(h.kernel)
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != 0 {
		t.Errorf("services left after stop: %v", table)
	}
}

func TestStartRefusesBrokenConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "k.conf")
	_ = os.WriteFile(conf, []byte("vrrp_instance X {\n  virtual_router_id 300\n  interface eth0\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n"), 0o644)
	err := Run(context.Background(), Options{ConfigFile: conf, StateDir: dir, Log: slog.New(slog.DiscardHandler),
		Kernel: func() (ipvs.Kernel, error) { return ipvs.NewFakeKernel(), nil }}, nil)
	if err == nil || !strings.Contains(err.Error(), "k.conf:2") {
		t.Errorf("start with a broken file: %v, want an error naming k.conf:2", err)
	}
}

func TestSysctlAdvice(t *testing.T) {
	h := start(t, baseConf)
	_ = h
	cfgText := baseConf + `
virtual_server 10.0.0.3 443 {
  protocol TCP
  lb_kind DR
  persistence_timeout 300
  real_server 10.0.0.3 443 {
    inhibit_on_failure
    TCP_CHECK {
    }
  }
  real_server 10.0.0.4 443 {
    TCP_CHECK {
    }
  }
}`
	h.write(cfgText)
	res, err := (&Daemon{opts: Options{ConfigFile: h.conf}, log: slog.New(slog.DiscardHandler)}).load()
	if err != nil {
		t.Fatal(err)
	}
	zero := func(string) (string, bool) { return "0", true }
	got := strings.Join(sysctlAdvice(res.Config, zero), "\n")
	for _, want := range []string{"net.ipv4.ip_forward is 0", "expire_nodest_conn is 0", "expire_quiescent_template is 0"} {
		if !strings.Contains(got, want) {
			t.Errorf("advice lacks %q:\n%s", want, got)
		}
	}
	one := func(string) (string, bool) { return "1", true }
	if a := sysctlAdvice(res.Config, one); len(a) != 0 {
		t.Errorf("advice with every sysctl set: %v", a)
	}
}

// TestRepairRestoresHandRemovedDest: the periodic repair puts back a real
// server removed behind lvsd's back, with the weight of the configuration
// as last reloaded.
func TestRepairRestoresHandRemovedDest(t *testing.T) {
	h := startWith(t, baseConf, func(o *Options) { o.RepairInterval = 20 * time.Millisecond })
	removeByHand := func() {
		t.Helper()
		tab, err := ipvs.ReadTable(h.kernel)
		if err != nil || len(tab) != 1 {
			t.Fatalf("services %v, err %v", tab, err)
		}
		for _, svc := range tab {
			for _, d := range svc.Dests {
				if d.Addr.String() == "10.1.0.1" {
					if err := ipvs.Apply(h.kernel, ipvs.Op{Kind: ipvs.RemoveDest, Service: *svc, Dest: d}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	weightOf := func() string {
		tab, err := ipvs.ReadTable(h.kernel)
		if err != nil {
			return err.Error()
		}
		for _, s := range tab {
			for k, d := range s.Dests {
				if k.Addr.String() == "10.1.0.1" {
					return fmt.Sprint(d.Weight)
				}
			}
		}
		return "missing"
	}
	removeByHand()
	h.waitWrites(3 + 1 + 1) // start, the hand removal, the repair
	if w := weightOf(); w != "3" {
		t.Fatalf("after repair: weight %s, want 3", w)
	}
	h.write(strings.Replace(baseConf, "weight 3", "weight 5", 1))
	h.signals <- syscall.SIGHUP
	h.waitWrites(6)
	removeByHand()
	h.waitWrites(8)
	if w := weightOf(); w != "5" {
		t.Fatalf("after reload and repair: weight %s, want 5", w)
	}
}

// A configuration with errors keepalived logs and runs past starts, the
// items left out, and the status counts them; a fatal error does not start.
func TestSkippedErrorsRun(t *testing.T) {
	h := startWith(t, baseConf+"no_such_keyword 1\n", nil)
	if n := h.status().ConfigSkippedErrors; n != 1 {
		t.Errorf("status counts %d skipped errors, want 1", n)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(baseConf+"no_such_block {\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Options{ConfigFile: conf, StateDir: dir, Log: slog.New(slog.DiscardHandler),
		Kernel: func() (ipvs.Kernel, error) { return ipvs.NewFakeKernel(), nil }, Sysctl: newFakeSysctl()}, make(chan os.Signal))
	if err == nil || !strings.Contains(err.Error(), "configuration has errors") {
		t.Errorf("a fatal error: Run returned %v", err)
	}
}

// ha_suspend: the checkers of a virtual server whose address the host does
// not have are suspended, and resume when it appears (a VRRP transition or
// the repair interval re-reads the addresses).
func TestHASuspendFollowsLocalAddresses(t *testing.T) {
	// The checks (once resumed) go to loopback only.
	conf := `
virtual_server 10.0.0.2 80 {
  protocol TCP
  lb_kind NAT
  ha_suspend
  real_server 127.0.0.1 9 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 127.0.0.2 9 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`
	var mu sync.Mutex
	local := []netip.Addr{netip.MustParseAddr("10.0.0.1")}
	h := startWith(t, conf, func(o *Options) {
		o.RepairInterval = 20 * time.Millisecond
		o.LocalAddrs = func() ([]netip.Addr, error) { mu.Lock(); defer mu.Unlock(); return slices.Clone(local), nil }
	})
	labtest.WaitFor(t, "10.0.0.2's checkers suspended", 3*time.Second, func() bool {
		s := h.status().HASuspended
		return len(s) == 1 && strings.Contains(s[0], "10.0.0.2")
	})
	mu.Lock()
	local = append(local, netip.MustParseAddr("10.0.0.2"))
	mu.Unlock()
	labtest.WaitFor(t, "resumed once the address is here", 3*time.Second, func() bool { return len(h.status().HASuspended) == 0 })
}
