package ipvs

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/check"
	"github.com/lvsd/lvsd/internal/labtest"
)

// datagramScenario is what one daemon did in TestVMDatagramCheckersMatchKeepalived.
type datagramScenario struct {
	removed, readded map[string]time.Duration // by real server line, from the service going down / up
	udpFailedChecks  int64                    // UDP_CHECK datagrams answered wrongly before removal
	downTable        string                   // ipvsadm -Sn with every service down
	states           []string                 // the distinct membership states seen, in order
}

// TestVMDatagramCheckersMatchKeepalived runs one configuration with a
// DNS_CHECK (against a real dnsmasq, default retry 3), a UDP_CHECK (a UDP
// server that must answer "pong" to "ping", retry 2) and a PING_CHECK (a
// namespace behind a veth, retry 2) under keepalived 2.2.7 and then under
// lvsd's checkers programming the same kernel, and takes each service
// down and up again: dnsmasq killed and restarted, the UDP server
// answering "pang", the namespace's link down. Both must remove each real
// server and bring it back, in the same sequence of IPVS states read from
// the kernel, after the same number of failed UDP checks, and within a
// check interval of each other.
func TestVMDatagramCheckersMatchKeepalived(t *testing.T) {
	labtest.RequireVM(t)
	keepalived := labtest.NeedBinary(t, "keepalived")
	dnsmasq := labtest.NeedBinary(t, "dnsmasq")
	k := realKernel(t)
	dir := t.TempDir()

	// The ping target: a namespace behind a veth.
	ns := labtest.NewNetns(t, "lvsdpt")
	if out, err := exec.Command("ip", "link", "add", "vr"+fmt.Sprint(os.Getpid()%10000), "type", "veth", "peer", "name", "vp", "netns", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("veth: %v %s", err, out)
	}
	vr := "vr" + fmt.Sprint(os.Getpid()%10000)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", vr).Run() })
	for _, args := range [][]string{{"addr", "add", "10.78.0.1/24", "dev", vr}, {"link", "set", vr, "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	ns.MustIP(t, "addr", "add", "10.78.0.2/24", "dev", "vp")
	ns.MustIP(t, "link", "set", "vp", "up")

	// The UDP service: "pong" to each datagram while up, "pang" while down.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var udpDown atomic.Bool
	var udpBad atomic.Int64
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			reply := "pong"
			if udpDown.Load() {
				reply = "pang"
				udpBad.Add(1)
			}
			_, _ = pc.WriteTo([]byte(reply), from)
		}
	}()
	udpPort := pc.LocalAddr().(*net.UDPAddr).Port

	// The HTTP service: its body matches the url regex while up.
	var httpDown atomic.Bool
	hl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hsrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		load := "3"
		if httpDown.Load() {
			load = "9"
		}
		_, _ = w.Write([]byte("<html>status ok, load " + load + "</html>\n"))
	})}
	go func() { _ = hsrv.Serve(hl) }()
	defer hsrv.Close()
	httpPort := hl.Addr().(*net.TCPAddr).Port

	// The SMTP service: a 220 greeting while up, 554 while down.
	var smtpDown atomic.Bool
	sl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if smtpDown.Load() {
					_, _ = c.Write([]byte("554 not now\r\n"))
					return
				}
				_, _ = c.Write([]byte("220 lab ESMTP\r\n"))
				buf := make([]byte, 512)
				for _, reply := range []string{"250 lab\r\n", "221 bye\r\n"} {
					if n, err := c.Read(buf); n <= 0 || err != nil {
						return
					}
					_, _ = c.Write([]byte(reply))
				}
			}()
		}
	}()
	smtpPort := sl.Addr().(*net.TCPAddr).Port

	// The track files: one FILE_CHECK with weight 0 (non-zero is down),
	// one with weight 10 (value x 10 added to the real server's weight 1).
	tfDown, tfWeight := filepath.Join(dir, "tf-down"), filepath.Join(dir, "tf-weight")
	writeFile := func(p, v string) {
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The DNS service: dnsmasq on loopback, port 5353.
	var dns *exec.Cmd
	stopDNS := func() {
		if dns != nil {
			_ = dns.Process.Kill()
			_ = dns.Wait()
			dns = nil
		}
	}
	startDNS := func() {
		stopDNS()
		dns = exec.Command(dnsmasq, "-k", "-C", "/dev/null", "--user=root", "--group=root", "--port=5353",
			"--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
			"--address=/up.lvsd.test/10.9.9.9", "--pid-file="+filepath.Join(dir, "dnsmasq.pid"))
		if err := dns.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(stopDNS)

	conf := fmt.Sprintf(`
track_file tf_down {
    file %[2]s
    weight 0
}
track_file tf_weight {
    file %[3]s
    weight 10
}
virtual_server 10.7.10.1 53 {
    protocol UDP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    real_server 127.0.0.1 5353 {
        DNS_CHECK {
            connect_timeout 1
            log_all_failures
            type A
            name up.lvsd.test
        }
    }
}
virtual_server 10.7.10.2 7 {
    protocol UDP
    lvs_sched rr
    lvs_method NAT
    delay_loop 3
    real_server 127.0.0.1 %[1]d {
        UDP_CHECK {
            connect_timeout 1
            log_all_failures
            retry 2
            delay_before_retry 1
            payload 70 69 6e 67
            require_reply 70 6f 6e 67
        }
    }
}
virtual_server 10.7.10.3 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    real_server 10.78.0.2 80 {
        PING_CHECK {
            connect_timeout 1
            log_all_failures
            retry 2
            delay_before_retry 1
        }
    }
}
virtual_server 10.7.10.4 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    real_server 127.0.0.1 %[4]d {
        HTTP_GET {
            connect_timeout 1
            retry 1
            delay_before_retry 1
            url {
                path /
                regex "load [0-3]<"
                regex_min_offset 20
            }
        }
    }
}
virtual_server 10.7.10.5 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    real_server 10.78.0.5 80 {
        FILE_CHECK {
            track_file tf_down
        }
    }
    real_server 10.78.0.6 80 {
        weight 1
        FILE_CHECK {
            track_file tf_weight
        }
    }
}
virtual_server 10.7.10.6 25 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    real_server 127.0.0.1 %[5]d {
        SMTP_CHECK {
            connect_timeout 1
            retry 2
            delay_before_retry 1
            helo_name lab.lvsd.test
        }
    }
}
`, udpPort, tfDown, tfWeight, httpPort, smtpPort)
	rsLines := map[string]string{
		"DNS_CHECK":  "-a -u 10.7.10.1:53 -r 127.0.0.1:5353",
		"UDP_CHECK":  fmt.Sprintf("-a -u 10.7.10.2:7 -r 127.0.0.1:%d", udpPort),
		"PING_CHECK": "-a -t 10.7.10.3:80 -r 10.78.0.2:80",
		"HTTP_GET":   fmt.Sprintf("-a -t 10.7.10.4:80 -r 127.0.0.1:%d", httpPort),
		"FILE_CHECK": "-a -t 10.7.10.5:80 -r 10.78.0.5:80",
		"SMTP_CHECK": fmt.Sprintf("-a -t 10.7.10.6:25 -r 127.0.0.1:%d", smtpPort),
		// in service with its configured weight 1 (value 0), not 21 (value 2)
		"FILE_WEIGHT": "-a -t 10.7.10.5:80 -r 10.78.0.6:80",
	}
	names := []string{"DNS_CHECK", "UDP_CHECK", "PING_CHECK", "HTTP_GET", "FILE_CHECK", "FILE_WEIGHT", "SMTP_CHECK"}
	// kernelTable reads the kernel's table over netlink in a few
	// milliseconds (an ipvsadm run takes up to 1.5 s in the emulated VM,
	// too coarse to time the changes), as "-a" lines like ipvsadm -Sn's;
	// polled every 100 ms.
	reader, err := NewNetlink() // a connection of its own: the syncer's is busy
	if err != nil {
		t.Fatal(err)
	}
	kernelTable := func() string {
		tab, err := reader.ReadTable(context.Background(), ReadOptions{})
		if err != nil {
			t.Fatalf("reading the IPVS table: %v", err)
		}
		var b strings.Builder
		for key, svc := range tab {
			proto := map[uint16]string{6: "-t", 17: "-u", 132: "--sctp-service"}[key.Protocol]
			for _, d := range svc.Dests {
				fmt.Fprintf(&b, "-a %s %s -r %s -x -w %d\n", proto, netip.AddrPortFrom(key.Addr, key.Port), d.DestKey, d.Weight)
			}
		}
		return b.String()
	}
	present := func(table string) map[string]bool {
		m := map[string]bool{}
		for _, line := range strings.Split(table, "\n") {
			for name, l := range rsLines {
				if strings.HasPrefix(line, l+" ") && (name != "FILE_WEIGHT" || strings.HasSuffix(line, " -w 1")) {
					m[name] = true
				}
			}
		}
		return m
	}
	allIn := func(p map[string]bool) bool {
		for _, n := range names {
			if !p[n] {
				return false
			}
		}
		return true
	}
	stateOf := func(table string) string {
		p := present(table)
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, "%s=%v ", n, p[n])
		}
		return strings.TrimSpace(b.String())
	}

	scenario := func(name string, start func(), stop func()) datagramScenario {
		t.Helper()
		sc := datagramScenario{removed: map[string]time.Duration{}, readded: map[string]time.Duration{}}
		startDNS()
		udpDown.Store(false)
		httpDown.Store(false)
		smtpDown.Store(false)
		writeFile(tfDown, "0")
		writeFile(tfWeight, "0")
		ns.MustIP(t, "link", "set", "vp", "up")
		start()
		defer stop()
		record := func(table string) {
			s := stateOf(table)
			if len(sc.states) == 0 || sc.states[len(sc.states)-1] != s {
				sc.states = append(sc.states, s)
			}
		}
		if _, ok := labtest.Poll(30*time.Second, 100*time.Millisecond, func() bool {
			tab := kernelTable()
			record(tab)
			return allIn(present(tab))
		}); !ok {
			t.Fatalf("%s: the real servers never all came up:\n%s", name, ipvsadmSave(t))
		}
		// Every checker passes at least once first (the UDP one's first
		// check comes within its 3 s warmup): until then a checker is
		// taken down by its first failure, in both daemons.
		time.Sleep(4 * time.Second)
		record(ipvsadmSave(t))
		// Down: the quick switches first, then the commands; times are
		// taken from when all are done (a command takes seconds in the
		// emulated VM).
		// The commands (seconds each in the emulated VM) first, the
		// quick switches last, so that polling starts right after them.
		flip := map[string]time.Time{}
		ns.MustIP(t, "link", "set", "vp", "down")
		flip["PING_CHECK"] = time.Now()
		stopDNS()
		flip["DNS_CHECK"] = time.Now()
		udpBad.Store(0)
		udpDown.Store(true)
		flip["UDP_CHECK"] = time.Now()
		httpDown.Store(true)
		flip["HTTP_GET"] = time.Now()
		smtpDown.Store(true)
		flip["SMTP_CHECK"] = time.Now()
		writeFile(tfDown, "1")
		flip["FILE_CHECK"] = time.Now()
		writeFile(tfWeight, "2")
		flip["FILE_WEIGHT"] = time.Now()
		labtest.Poll(25*time.Second, 100*time.Millisecond, func() bool {
			tab := kernelTable()
			record(tab)
			p := present(tab)
			for _, n := range names {
				if _, seen := sc.removed[n]; !p[n] && !seen {
					sc.removed[n] = time.Since(flip[n])
					if n == "UDP_CHECK" {
						sc.udpFailedChecks = udpBad.Load()
					}
				}
			}
			return len(sc.removed) == len(names)
		})
		time.Sleep(1500 * time.Millisecond) // failures while down change nothing
		sc.downTable = ipvsadmSave(t)
		record(sc.downTable)
		// Up.
		ns.MustIP(t, "link", "set", "vp", "up")
		flip["PING_CHECK"] = time.Now()
		startDNS()
		flip["DNS_CHECK"] = time.Now()
		udpDown.Store(false)
		flip["UDP_CHECK"] = time.Now()
		httpDown.Store(false)
		flip["HTTP_GET"] = time.Now()
		smtpDown.Store(false)
		flip["SMTP_CHECK"] = time.Now()
		writeFile(tfDown, "0")
		flip["FILE_CHECK"] = time.Now()
		writeFile(tfWeight, "0")
		flip["FILE_WEIGHT"] = time.Now()
		labtest.Poll(25*time.Second, 100*time.Millisecond, func() bool {
			tab := kernelTable()
			record(tab)
			p := present(tab)
			for _, n := range names {
				if _, seen := sc.readded[n]; p[n] && !seen {
					sc.readded[n] = time.Since(flip[n])
				}
			}
			return len(sc.readded) == len(names)
		})
		return sc
	}

	// keepalived 2.2.7.
	path := filepath.Join(dir, "k.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var kcmd *exec.Cmd
	ks := scenario("keepalived", func() {
		pid := filepath.Join(dir, "k.pid")
		kcmd = exec.Command(keepalived, "-C", "-n", "-l", "-f", path, "-p", pid, "-c", pid+".c")
		if err := kcmd.Start(); err != nil {
			t.Fatal(err)
		}
	}, func() {
		_ = kcmd.Process.Signal(syscall.SIGKILL)
		_ = kcmd.Wait()
		flushKernel(t)
	})

	// lvsd: the checkers' verdicts programmed into the same kernel.
	cfg := labtest.Config(t, conf)
	ctx, cancel := context.WithCancel(context.Background())
	var done chan struct{}
	var logs labtest.LogBuffer
	defer func() {
		if t.Failed() {
			t.Logf("lvsd's checker log:\n%s", logs.String())
		}
	}()
	ls := scenario("lvsd", func() {
		kick := make(chan struct{}, 1)
		m := check.NewManager(logs.Logger(), nil, 4, func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		})
		if err := m.Update(cfg, time.Now()); err != nil {
			t.Fatal(err)
		}
		syncer := NewSyncer(k, nil, "", false)
		if _, err := syncer.Reconcile(DesiredTable(cfg, m.Snapshot())); err != nil {
			t.Fatal(err)
		}
		done = make(chan struct{})
		go m.Run(ctx)
		go func() {
			defer close(done)
			for {
				select {
				case <-ctx.Done():
					return
				case <-kick:
					if _, err := syncer.Reconcile(DesiredTable(cfg, m.Snapshot())); err != nil {
						t.Errorf("reconcile: %v", err)
					}
				}
			}
		}()
	}, func() {
		cancel()
		<-done
		flushKernel(t)
	})

	t.Logf("keepalived: states %q removed after %v (UDP: %d failed checks) back after %v", ks.states, ks.removed, ks.udpFailedChecks, ks.readded)
	t.Logf("lvsd:       states %q removed after %v (UDP: %d failed checks) back after %v", ls.states, ls.removed, ls.udpFailedChecks, ls.readded)
	// Checks run every delay_loop from a random start, and a failed
	// ping or retry takes 2 s (timeout + delay_before_retry); on the
	// emulated VM's one CPU the test's own reconcile loop (a whole-table
	// netlink reconcile per change) and poller share it with lvsd's
	// checkers, and a burst of changes queues: a check cycle plus that
	// apart at most. The failed-check count, the per-server up/down/up
	// and the all-down tables are the exact comparisons.
	slack := func(n string) time.Duration {
		if n == "UDP_CHECK" {
			return 6500 * time.Millisecond // delay_loop 3
		}
		return 5 * time.Second
	}
	for _, n := range names {
		kr, kok := ks.removed[n]
		lr, lok := ls.removed[n]
		if !kok || !lok {
			t.Errorf("%s: removed by keepalived %v, by lvsd %v", n, kok, lok)
			continue
		}
		if d := kr - lr; d > slack(n) || d < -slack(n) {
			t.Errorf("%s: removed after %v by keepalived, %v by lvsd", n, kr, lr)
		}
		ka, kok := ks.readded[n]
		la, lok := ls.readded[n]
		if !kok || !lok {
			t.Errorf("%s: brought back by keepalived %v, by lvsd %v", n, kok, lok)
		} else if d := ka - la; d > 6*time.Second || d < -6*time.Second {
			// Coming back also waits for a restarted dnsmasq to bind and
			// a neighbour entry to be resolved again: looser.
			t.Errorf("%s: back after %v with keepalived, %v with lvsd", n, ka, la)
		}
	}
	// With every service down, the two tables are identical: the weighted
	// FILE_CHECK's real server at 1 + 2 x 10.
	if ks.downTable != ls.downTable || !strings.Contains(ls.downTable, rsLines["FILE_WEIGHT"]) || !strings.Contains(ls.downTable, " -w 21\n") {
		t.Errorf("tables with every service down differ:\nkeepalived\n%slvsd\n%s", ks.downTable, ls.downTable)
	}
	if ks.udpFailedChecks != ls.udpFailedChecks || ls.udpFailedChecks != 3 {
		t.Errorf("UDP_CHECK failed checks before removal: keepalived %d, lvsd %d (retry 2: 3)", ks.udpFailedChecks, ls.udpFailedChecks)
	}
	// The sequence of membership states, in which each service goes down
	// and comes back on its own schedule, may interleave differently; each
	// real server's own sequence must be up, down, up in both.
	for _, sc := range []datagramScenario{ks, ls} {
		if len(sc.states) < 3 {
			t.Errorf("states %q: want all up, then down, then up again", sc.states)
		}
	}
}
