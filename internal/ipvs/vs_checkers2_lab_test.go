package ipvs

import (
	"context"
	"fmt"
	"net"
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
    delay_loop 1
    real_server 127.0.0.1 %d {
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
`, udpPort)
	rsLines := map[string]string{
		"DNS_CHECK":  "-a -u 10.7.10.1:53 -r 127.0.0.1:5353",
		"UDP_CHECK":  fmt.Sprintf("-a -u 10.7.10.2:7 -r 127.0.0.1:%d", udpPort),
		"PING_CHECK": "-a -t 10.7.10.3:80 -r 10.78.0.2:80",
	}
	present := func(table string) map[string]bool {
		m := map[string]bool{}
		for name, l := range rsLines {
			m[name] = strings.Contains(table, l)
		}
		return m
	}
	stateOf := func(table string) string {
		p := present(table)
		return fmt.Sprintf("dns=%v udp=%v ping=%v", p["DNS_CHECK"], p["UDP_CHECK"], p["PING_CHECK"])
	}

	scenario := func(name string, start func(), stop func()) datagramScenario {
		t.Helper()
		sc := datagramScenario{removed: map[string]time.Duration{}, readded: map[string]time.Duration{}}
		startDNS()
		udpDown.Store(false)
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
			tab := ipvsadmSave(t)
			record(tab)
			p := present(tab)
			return p["DNS_CHECK"] && p["UDP_CHECK"] && p["PING_CHECK"]
		}); !ok {
			t.Fatalf("%s: the real servers never all came up:\n%s", name, ipvsadmSave(t))
		}
		time.Sleep(2500 * time.Millisecond) // a few passing checks
		record(ipvsadmSave(t))
		// Down.
		down := time.Now()
		udpBad.Store(0)
		stopDNS()
		udpDown.Store(true)
		ns.MustIP(t, "link", "set", "vp", "down")
		labtest.Poll(25*time.Second, 100*time.Millisecond, func() bool {
			tab := ipvsadmSave(t)
			record(tab)
			for n, ok := range present(tab) {
				if _, seen := sc.removed[n]; !ok && !seen {
					sc.removed[n] = time.Since(down)
					if n == "UDP_CHECK" {
						sc.udpFailedChecks = udpBad.Load()
					}
				}
			}
			return len(sc.removed) == 3
		})
		time.Sleep(1500 * time.Millisecond) // failures while down change nothing
		record(ipvsadmSave(t))
		// Up.
		up := time.Now()
		startDNS()
		udpDown.Store(false)
		ns.MustIP(t, "link", "set", "vp", "up")
		labtest.Poll(25*time.Second, 100*time.Millisecond, func() bool {
			tab := ipvsadmSave(t)
			record(tab)
			for n, ok := range present(tab) {
				if _, seen := sc.readded[n]; ok && !seen {
					sc.readded[n] = time.Since(up)
				}
			}
			return len(sc.readded) == 3
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
	for _, n := range []string{"DNS_CHECK", "UDP_CHECK", "PING_CHECK"} {
		kr, kok := ks.removed[n]
		lr, lok := ls.removed[n]
		if !kok || !lok {
			t.Errorf("%s: removed by keepalived %v, by lvsd %v", n, kok, lok)
			continue
		}
		// Checks run every second from a random start: a check
		// interval and some scheduling apart at most.
		if d := kr - lr; d > 1500*time.Millisecond || d < -1500*time.Millisecond {
			t.Errorf("%s: removed after %v by keepalived, %v by lvsd", n, kr, lr)
		}
		if _, ok := ks.readded[n]; !ok {
			t.Errorf("%s: keepalived did not bring it back", n)
		}
		if _, ok := ls.readded[n]; !ok {
			t.Errorf("%s: lvsd did not bring it back", n)
		}
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
