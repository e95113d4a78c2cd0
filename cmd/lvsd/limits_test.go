package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/vishvananda/netns"
)

// dialInNetns opens up to n connections to addr from inside the namespace
// (the sockets stay in it) and returns them.
func dialInNetns(t *testing.T, ns, network, addr string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		// This thread's namespace is changed and never restored: it dies
		// with the goroutine, which stays locked to it.
		runtime.LockOSThread()
		h, e := netns.GetFromName(ns)
		if e != nil {
			err = e
			return
		}
		defer h.Close()
		if e := netns.Set(h); e != nil {
			err = e
			return
		}
		for range n {
			c, e := net.DialTimeout(network, addr, time.Second)
			if e != nil {
				return // the backlog is full: enough
			}
			conns = append(conns, c)
		}
	}()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return conns
}

func countFDs(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

// openFileLimit is the "Max open files" line of a process's limits.
func openFileLimit(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Max open files") {
			return strings.Join(strings.Fields(l)[3:5], ":")
		}
	}
	return "?"
}

// TestEndpointFloodKeepsChecksUp: `lvsd run` with RLIMIT_NOFILE 256
// (prlimit) checks 20 real servers with TCP_CHECK in a network namespace
// while 1,000 idle connections are opened to its metrics listener and
// 1,000 to its control socket and held for 6 s. Before, the listeners
// accepted every one until the daemon was out of descriptors, each
// TCP_CHECK's socket() failed with EMFILE, and every real server went
// DOWN; now the endpoints hold at most their caps and no real server
// changes state: as root, with the limit raised to what the configuration
// needs, and without CAP_SYS_RESOURCE, where it stays at 256.
func TestEndpointFloodKeepsChecksUp(t *testing.T) {
	labtest.NeedRoot(t)
	labtest.NeedBinary(t, "prlimit")
	canRaise := hasCapSysResource()
	t.Run("root", func(t *testing.T) { floodTest(t, 256, nil, canRaise) })
	noRaise := []string{"setpriv", "--bounding-set=-sys_resource", "--inh-caps=-sys_resource"}
	t.Run("no CAP_SYS_RESOURCE", func(t *testing.T) {
		if !canRaise {
			t.Skip("this test process has no CAP_SYS_RESOURCE: the root case above ran without it")
		}
		labtest.NeedBinary(t, "setpriv")
		floodTest(t, 256, noRaise, false)
	})
	// A limit below the endpoints' caps: the flood does run lvsd out of
	// descriptors, and the checks that meet EMFILE are skipped, not failed.
	t.Run("nofile 64", func(t *testing.T) {
		var wrap []string
		if canRaise {
			labtest.NeedBinary(t, "setpriv")
			wrap = noRaise
		}
		floodTest(t, 64, wrap, false)
	})
}

// hasCapSysResource says whether this process may raise its hard limits.
func hasCapSysResource() bool {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<24) != 0 // CAP_SYS_RESOURCE
		}
	}
	return false
}

// floodTest is TestEndpointFloodKeepsChecksUp with lvsd run under wrap;
// raised says whether lvsd can raise its hard limit there.
func floodTest(t *testing.T, nofile int, wrap []string, raised bool) {
	ns := labtest.NewNetns(t, "lvsdfl")
	_, ready := labtest.StartHelperRaw(t, ns.Name, "serve", "rs", "0.0.0.0:8080")
	if line, err := ready.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("real server helper: %q %v", line, err)
	}
	const realServers = 20
	var b strings.Builder
	b.WriteString("virtual_server 10.99.0.1 80 {\n  protocol TCP\n  lb_kind NAT\n  delay_loop 0.5\n")
	for i := 1; i <= realServers; i++ {
		fmt.Fprintf(&b, "  real_server 127.0.0.%d 8080 {\n    TCP_CHECK {\n      connect_timeout 1\n      retry 1\n      delay_before_retry 0.2\n    }\n  }\n", i)
	}
	b.WriteString("}\n")
	// A short state directory: the socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "lvsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	args := append([]string{"netns", "exec", ns.Name, "prlimit", fmt.Sprintf("--nofile=%d:%d", nofile, nofile)}, wrap...)
	args = append(args, self, "run", "-C", "-f", conf, "--state-dir", dir, "--metrics-addr", "127.0.0.1:9650")
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() || os.Getenv("LVSD_TEST_SHOW_LOG") != "" {
			t.Logf("lvsd log:\n%s", log.String())
		}
	})
	labtest.WaitFor(t, "lvsd started", 10*time.Second, func() bool { return strings.Contains(log.String(), "lvsd started") })
	time.Sleep(1500 * time.Millisecond) // every real server checked at least once
	pid := cmd.Process.Pid              // ip netns exec, prlimit and setpriv exec, not fork
	if downs := strings.Count(log.String(), "up=false"); downs != 0 {
		t.Fatalf("%d real servers down before the flood", downs)
	}
	base := countFDs(pid)

	var conns []net.Conn
	conns = append(conns, dialInNetns(t, ns.Name, "tcp", "127.0.0.1:9650", 1000)...)
	metricsConns := len(conns)
	conns = append(conns, dialInNetns(t, ns.Name, "unix", filepath.Join(dir, "lvsd.sock"), 1000)...)
	controlConns := len(conns) - metricsConns
	peak := 0
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		peak = max(peak, countFDs(pid))
	}
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(time.Second)
	out := log.String()
	downs := strings.Count(out, "up=false")
	downRS := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "real_server="); i >= 0 && strings.HasSuffix(l, "up=false") {
			downRS[strings.Fields(l[i:])[0]] = true
		}
	}
	quorumLost := strings.Contains(out, "msg=quorum virtual_server=10.99.0.1:80/TCP up=false")
	emfile := strings.Count(out, "too many open files")
	skipped := strings.Count(out, "health check skipped")
	t.Logf("prlimit nofile %d:%d (effective %s), %d real servers: %d idle metrics and %d idle control connections held 6 s; daemon descriptors %d before, peak %d; DOWN transitions %d (%d distinct real servers), quorum lost %v; log lines naming EMFILE %d (of them, \"health check skipped\" %d)",
		nofile, nofile, openFileLimit(pid), realServers, metricsConns, controlConns, base, peak, downs, len(downRS), quorumLost, emfile, skipped)
	if downs != 0 {
		t.Errorf("%d real servers went DOWN under the flood", downs)
	}
	if lim := openFileLimit(pid); raised == (lim == fmt.Sprintf("%d:%d", nofile, nofile)) {
		t.Errorf("open file limit %s; raised to what the configuration needs: %v", lim, raised)
	}
	if nofile == 64 && skipped == 0 {
		t.Errorf("with nofile 64 no check met EMFILE: the case tests nothing")
	}
	if peak > base+64+16+8 {
		t.Errorf("the flood took the daemon from %d to %d descriptors; the endpoints' caps allow 64+16", base, peak)
	}
	// The daemon answers again once the flood is gone.
	st := exec.Command(self, "status", "--json", "--socket", filepath.Join(dir, "lvsd.sock"))
	st.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	if o, err := st.CombinedOutput(); err != nil || strings.Count(string(o), `"health": "up"`) != realServers {
		t.Errorf("status after the flood: %v\n%s", err, o)
	}
}
