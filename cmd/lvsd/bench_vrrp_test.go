package main

import (
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// BenchmarkVRRPFailover is `make bench`'s failover benchmark (run it with
// -benchtime 1x: each case is a fixed 20 rounds): 20 SIGKILLs of the
// master, priorities 100/90, for lvsd pairs and keepalived pairs in the
// same run. It measures kill -> VIP on the backup (rtnetlink address event
// in its namespace) and kill -> first gratuitous ARP from the backup seen
// by a client (dumpcap timestamps).
func BenchmarkVRRPFailover(b *testing.B) {
	rounds := 20
	type result struct{ vip, garp []time.Duration }
	type benchCase struct {
		kind, name string
		conf       vrrpConf
		masterDown time.Duration
	}
	var cases []benchCase
	for _, v3 := range []bool{false, true} {
		for _, kind := range []string{"lvsd", "keepalived"} {
			c := benchCase{kind: kind, name: kind + " v2 advert_int 1", conf: vrrpConf{auth: true}, masterDown: masterDown(90)}
			if v3 {
				c.name = kind + " v3 advert_int 0.05"
				c.conf = vrrpConf{version: 3, interval: "0.05"}
				c.masterDown = 150*time.Millisecond + time.Duration((256-90)*5/256)*10*time.Millisecond
			}
			cases = append(cases, c)
		}
	}
	results := map[string]result{}
	for _, c := range cases {
		name := c.name
		b.Run(name, func(t *testing.B) {
			l := newVRRPLab(t, "d1", "d2", "cl")
			backupConf, masterConf := c.conf, c.conf
			backupConf.priority, masterConf.priority = 90, 100
			l.start(c.kind, "d2", backupConf)
			handle, err := netns.GetFromName(l.ns("d2"))
			if err != nil {
				t.Fatal(err)
			}
			defer handle.Close()
			var res result
			d2mac := l.mac("d2")
			for i := range rounds {
				d1 := l.start(c.kind, "d1", masterConf)
				l.waitFor("d1 master, d2 backup", 15*time.Second, func() bool { return l.hasVIP("d1") && !l.hasVIP("d2") })
				time.Sleep(300 * time.Millisecond)
				updates := make(chan netlink.AddrUpdate, 16)
				done := make(chan struct{})
				if err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{Namespace: &handle}); err != nil {
					t.Fatal(err)
				}
				capt := startCapture(t, l, "cl", "arp")
				// A crash: SIGKILL every process of the master at once
				// (keepalived's VRRP child would otherwise notice its
				// parent's death and leave gracefully, with priority 0).
				pids, _ := exec.Command("ip", "netns", "pids", l.ns("d1")).Output()
				killed := time.Now()
				for _, f := range strings.Fields(string(pids)) {
					if pid, err := strconv.Atoi(f); err == nil {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
				var vipAt time.Time
				deadline := time.After(10 * time.Second)
			wait:
				for {
					select {
					case u := <-updates:
						if u.NewAddr && u.LinkAddress.IP.Equal(net.ParseIP(labVIP)) {
							vipAt = time.Now()
							break wait
						}
					case <-deadline:
						t.Fatal("no VIP on d2 within 10 s")
					}
				}
				close(done)
				_ = d1.cmd.Wait()
				time.Sleep(300 * time.Millisecond)
				var garpAt time.Time
				for _, f := range capt.stop() {
					if a, ok := parseARP(f.data); ok && a.senderIP == labVIP && a.senderMAC == d2mac && f.at.After(killed) {
						garpAt = f.at
						break
					}
				}
				if garpAt.IsZero() {
					t.Fatalf("round %d: no GARP from d2", i)
				}
				res.vip = append(res.vip, vipAt.Sub(killed))
				res.garp = append(res.garp, garpAt.Sub(killed))
			}
			results[name] = res
			slices.Sort(res.vip)
			slices.Sort(res.garp)
			t.Logf("%s: kill->VIP p50 %s p99 %s max %s; kill->GARP p50 %s p99 %s", name,
				res.vip[len(res.vip)/2], res.vip[len(res.vip)*99/100], res.vip[len(res.vip)-1], res.garp[len(res.garp)/2], res.garp[len(res.garp)*99/100])
		})
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-34s %10s %10s %10s %10s %12s\n", "failover (20 x SIGKILL)", "VIP p50", "VIP p99", "GARP p50", "GARP p99", "master-down")
	for _, c := range cases {
		r, ok := results[c.name]
		if !ok {
			continue
		}
		p := func(d []time.Duration, q int) time.Duration {
			return d[min(len(d)-1, len(d)*q/100)].Round(100 * time.Microsecond)
		}
		fmt.Fprintf(&table, "%-34s %10s %10s %10s %10s %12s\n", c.name, p(r.vip, 50), p(r.vip, 99), p(r.garp, 50), p(r.garp, 99), c.masterDown)
	}
	b.Log(table.String())
}
