// Command demo plays the director-pair scenario of `make demo` inside the
// lab VM (scripts/lab.sh): two lvsd directors, four telematics gateways
// behind a VIP in DR mode, and a client holding long-lived terminal
// connections. It prints what happens and exits non-zero when a claim it
// prints does not hold.
//
//	demo run --lvsd BIN --config FILE [--terminals N]
//	demo gateway ID ADDR COUNTFILE       (inside a gateway namespace)
//	demo terminals N ADDR STATEFILE      (inside the client namespace)
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demo run|gateway|terminals ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "gateway":
		gateway(os.Args[2], os.Args[3], os.Args[4])
	case "terminals":
		var n int
		fmt.Sscan(os.Args[2], &n)
		terminals(n, os.Args[3], os.Args[4])
	case "run":
		os.Exit(runDemo(os.Args[2:]))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// gateway is a telematics gateway: it greets each terminal with its id,
// echoes heartbeats, and keeps its live connection count in a file.
func gateway(id, addr, countFile string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
	var live atomic.Int64
	go func() {
		for range time.Tick(100 * time.Millisecond) {
			writeAtomic(countFile, []byte(fmt.Sprint(live.Load())))
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		live.Add(1)
		go func() {
			defer live.Add(-1)
			defer c.Close()
			fmt.Fprintf(c, "%s\n", id)
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := c.Write([]byte(line)); err != nil {
					return
				}
			}
		}()
	}
}

type termState struct {
	PerGateway   map[string]int `json:"per_gateway"`
	Connected    int            `json:"connected"`
	Connects     int64          `json:"connects"`
	DialFailures int64          `json:"dial_failures"`
	Drops        int64          `json:"drops"`
	// Stalls are the terminals' longest heartbeat round trips (sent after
	// the mark file's time), in milliseconds, sorted.
	Stalls []int64 `json:"stalls_ms"`
}

// heartbeatDeadline is how long a terminal waits for its heartbeat's echo
// before it gives up and reconnects; telematics terminals wait tens of
// seconds, far longer than a VRRP takeover.
const heartbeatDeadline = 10 * time.Second

// terminals holds n connections like vehicle terminals do: connect, get
// the gateway's greeting, heartbeat every 2 s, and reconnect after a short
// pause whenever the connection breaks.
func terminals(n int, addr, stateFile string) {
	var mu sync.Mutex
	at := make([]string, n)
	stall := make([]time.Duration, n)
	var mark atomic.Int64 // unix nanoseconds: stalls count from here
	markFile := filepath.Join(filepath.Dir(stateFile), "mark")
	var connects, failures, drops atomic.Int64
	for i := range n {
		go func() {
			time.Sleep(time.Duration(i) * 2 * time.Millisecond) // ramp up
			for {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					failures.Add(1)
					time.Sleep(200*time.Millisecond + rand.N(300*time.Millisecond))
					continue
				}
				r := bufio.NewReader(c)
				_ = c.SetDeadline(time.Now().Add(heartbeatDeadline))
				id, err := r.ReadString('\n')
				if err != nil {
					c.Close()
					failures.Add(1)
					time.Sleep(200*time.Millisecond + rand.N(300*time.Millisecond))
					continue
				}
				connects.Add(1)
				mu.Lock()
				at[i] = strings.TrimSpace(id)
				mu.Unlock()
				for {
					time.Sleep(1500*time.Millisecond + rand.N(time.Second))
					sent := time.Now()
					_ = c.SetDeadline(sent.Add(heartbeatDeadline))
					if _, err := c.Write([]byte("hb\n")); err != nil {
						break
					}
					if _, err := r.ReadString('\n'); err != nil {
						break
					}
					if sent.UnixNano() >= mark.Load() {
						mu.Lock()
						stall[i] = max(stall[i], time.Since(sent))
						mu.Unlock()
					}
				}
				c.Close()
				drops.Add(1)
				mu.Lock()
				at[i] = ""
				mu.Unlock()
				time.Sleep(200*time.Millisecond + rand.N(300*time.Millisecond))
			}
		}()
	}
	for range time.Tick(100 * time.Millisecond) {
		if b, err := os.ReadFile(markFile); err == nil {
			var ns int64
			if _, err := fmt.Sscan(string(b), &ns); err == nil && ns != mark.Load() {
				mark.Store(ns)
				mu.Lock()
				clear(stall)
				mu.Unlock()
			}
		}
		st := termState{PerGateway: map[string]int{}, Connects: connects.Load(), DialFailures: failures.Load(), Drops: drops.Load()}
		mu.Lock()
		for i, g := range at {
			if g != "" {
				st.PerGateway[g]++
				st.Connected++
				st.Stalls = append(st.Stalls, stall[i].Milliseconds())
			}
		}
		mu.Unlock()
		sort.Slice(st.Stalls, func(i, j int) bool { return st.Stalls[i] < st.Stalls[j] })
		b, _ := json.Marshal(st)
		writeAtomic(stateFile, b)
	}
}

func writeAtomic(path string, b []byte) {
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, path)
	}
}

// ---- the orchestrator ---------------------------------------------------

const (
	vip     = "10.30.0.10"
	vipPort = "7000"
	work    = "/tmp/demo"
)

var weights = map[string]int{"gw1": 16, "gw2": 12, "gw3": 8, "gw4": 0}

type demo struct {
	lvsd, config, self string
	n                  int
	failed             []string
	procs              map[string]*exec.Cmd
}

func (d *demo) claim(ok bool, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if ok {
		fmt.Printf("  ok    %s\n", msg)
		return
	}
	fmt.Printf("  FAIL  %s\n", msg)
	d.failed = append(d.failed, msg)
}

func sh(cmd string) error {
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", cmd, err, out)
	}
	return nil
}

func mustSh(format string, args ...any) {
	if err := sh(fmt.Sprintf(format, args...)); err != nil {
		fmt.Println("setup failed:", err)
		os.Exit(1)
	}
}

func ns(h string) string { return "demo-" + h }

func (d *demo) start(name, host string, argv ...string) {
	logf, _ := os.Create(filepath.Join(work, name+".log"))
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns(host)}, argv...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		fmt.Println("start", name, err)
		os.Exit(1)
	}
	d.procs[name] = cmd
}

func (d *demo) kill(name string) {
	if p := d.procs[name]; p != nil {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
}

func hasVIP(host string) bool {
	out, _ := exec.Command("ip", "-n", ns(host), "-o", "addr", "show", "dev", "eth0").Output()
	return strings.Contains(string(out), " "+vip+"/")
}

func waitFor(limit time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start), true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return limit, false
}

func readTerminals() termState {
	var st termState
	b, err := os.ReadFile(filepath.Join(work, "terminals.json"))
	if err == nil {
		_ = json.Unmarshal(b, &st)
	}
	return st
}

func (d *demo) status(director string) {
	fmt.Printf("\n$ lvsd status   (on %s)\n", director)
	out, err := exec.Command("ip", "netns", "exec", ns(director), d.lvsd, "status", "--socket", filepath.Join(work, director, "lvsd.sock")).CombinedOutput()
	if err != nil {
		fmt.Printf("  (lvsd status failed: %v)\n", err)
	}
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Println("  " + l)
	}
	fmt.Println()
}

func (d *demo) table(title string, want map[string]float64) termState {
	st := readTerminals()
	fmt.Printf("\n%s\n", title)
	fmt.Printf("  %-8s %6s %12s %12s %9s\n", "GATEWAY", "WEIGHT", "WEIGHT SHARE", "TERMINALS", "SHARE")
	names := []string{"gw1", "gw2", "gw3", "gw4"}
	sort.Strings(names)
	for _, g := range names {
		share := 0.0
		if st.Connected > 0 {
			share = 100 * float64(st.PerGateway[g]) / float64(st.Connected)
		}
		fmt.Printf("  %-8s %6d %11.1f%% %12d %8.1f%%\n", g, weights[g], want[g], st.PerGateway[g], share)
	}
	fmt.Printf("  %-8s %6s %12s %12d   (connects %d, failed dials %d, drops %d)\n", "total", "", "", st.Connected, st.Connects, st.DialFailures, st.Drops)
	return st
}

func (d *demo) checkShares(st termState, want map[string]float64, tol float64) {
	for _, g := range []string{"gw1", "gw2", "gw3", "gw4"} {
		got := 0.0
		if st.Connected > 0 {
			got = 100 * float64(st.PerGateway[g]) / float64(st.Connected)
		}
		if want[g] == 0 {
			d.claim(st.PerGateway[g] == 0, "%s (weight %d) holds no terminals (%d)", g, weights[g], st.PerGateway[g])
			continue
		}
		d.claim(math.Abs(got-want[g]) <= tol, "%s holds %.1f%% of the terminals, its share is %.1f%% (±%.0f)", g, got, want[g], tol)
	}
}

func runDemo(args []string) int {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	lvsd := fs.String("lvsd", "bin/lvsd", "lvsd binary")
	config := fs.String("config", "configs/demo.conf", "the directors' keepalived.conf")
	n := fs.Int("terminals", 2000, "terminal connections")
	_ = fs.Parse(args)
	self, _ := os.Executable()
	d := &demo{lvsd: *lvsd, config: *config, self: self, n: *n, procs: map[string]*exec.Cmd{}}
	defer func() {
		for name := range d.procs {
			d.kill(name)
		}
	}()
	_ = os.MkdirAll(work, 0o755)

	fmt.Println("== lvsd demo: a director pair in front of four telematics gateways (DR, wrr 16:12:8:0)")
	fmt.Println("   namespaces on one bridge inside a VM with Debian's IPVS kernel; nothing leaves the VM")
	mustSh("sysctl -qw net.ipv4.ip_forward=1")
	mustSh("ip netns add %s && ip -n %s link add br0 type bridge && ip -n %s link set br0 up", ns("lan"), ns("lan"), ns("lan"))
	hosts := []struct {
		name, ip string
	}{{"d1", "10.30.0.1"}, {"d2", "10.30.0.2"}, {"gw1", "10.30.0.11"}, {"gw2", "10.30.0.12"}, {"gw3", "10.30.0.13"}, {"gw4", "10.30.0.14"}, {"cl", "10.30.0.100"}}
	for _, h := range hosts {
		mustSh("ip netns add %s", ns(h.name))
		mustSh("ip -n %s link add eth0 type veth peer name p-%s netns %s", ns(h.name), h.name, ns("lan"))
		mustSh("ip -n %s link set p-%s master br0 up", ns("lan"), h.name)
		mustSh("ip -n %s addr add %s/24 dev eth0 && ip -n %s link set eth0 up && ip -n %s link set lo up", ns(h.name), h.ip, ns(h.name), ns(h.name))
	}
	fmt.Println("\n-- gateways: `lvsd realserver up` puts the VIP on lo and sets the ARP sysctls")
	for i := 1; i <= 4; i++ {
		g := fmt.Sprintf("gw%d", i)
		out, err := exec.Command("ip", "netns", "exec", ns(g), d.lvsd, "realserver", "up", "--vip", vip, "--state-file", filepath.Join(work, g+"-rs.json")).CombinedOutput()
		if err != nil {
			fmt.Printf("realserver up on %s: %v\n%s", g, err, out)
			return 1
		}
		if i == 1 {
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				fmt.Printf("  %s: %s\n", g, l)
			}
		}
		d.start(g, g, d.self, "gateway", g, "0.0.0.0:"+vipPort, filepath.Join(work, g+".count"))
	}

	fmt.Printf("\n-- directors: `lvsd run -f %s -i d1` (priority 100) and `-i d2` (priority 90)\n", filepath.Base(d.config))
	// The preferred director first, as in production: started together,
	// the backup could win the first election, and d1 would then wait the
	// 35 s failback hold of lvs_sync_daemon before it preempts.
	startDirector := func(dir string) {
		d.start(dir, dir, d.lvsd, "run", "-f", d.config, "-i", dir, "--state-dir", filepath.Join(work, dir), "--metrics-addr", "127.0.0.1:9650")
	}
	startDirector("d1")
	took, ok := waitFor(15*time.Second, func() bool { return hasVIP("d1") })
	startDirector("d2")
	time.Sleep(2 * time.Second) // d2 hears d1's adverts and stays BACKUP
	d.claim(ok && !hasVIP("d2"), "d1 is MASTER and holds the VIP %s after %s; d2 is BACKUP", vip, took.Round(10*time.Millisecond))
	d.status("d1")
	d.status("d2")

	fmt.Printf("-- %d terminals connect to %s:%s and stay connected\n", d.n, vip, vipPort)
	d.start("terminals", "cl", d.self, "terminals", fmt.Sprint(d.n), vip+":"+vipPort, filepath.Join(work, "terminals.json"))
	took, ok = waitFor(90*time.Second, func() bool { return readTerminals().Connected == d.n })
	d.claim(ok, "all %d terminals connected in %s", d.n, took.Round(100*time.Millisecond))
	time.Sleep(time.Second)
	share := map[string]float64{"gw1": 100 * 16.0 / 36, "gw2": 100 * 12.0 / 36, "gw3": 100 * 8.0 / 36, "gw4": 0}
	st := d.table("terminals per gateway", share)
	tol := 3.0
	if d.n < 1000 {
		tol = 6
	}
	d.checkShares(st, share, tol)

	fmt.Println("\n-- gw1 stops (its process is killed): TCP_CHECK takes it out, its terminals reconnect to the others")
	d.kill("gw1")
	stopped := time.Now()
	took, ok = waitFor(10*time.Second, func() bool {
		out, _ := exec.Command("ip", "netns", "exec", ns("d1"), "ipvsadm", "-Ln").Output()
		return strings.Contains(string(out), "10.30.0.12:") && !strings.Contains(string(out), "10.30.0.11:")
	})
	d.claim(ok, "TCP_CHECK removed gw1 from the IPVS table %s after it stopped (delay_loop 1, retry 1, delay_before_retry 0.5)", took.Round(10*time.Millisecond))
	took, ok = waitFor(60*time.Second, func() bool { st := readTerminals(); return st.Connected == d.n && st.PerGateway["gw1"] == 0 })
	d.claim(ok, "all %d terminals connected again %s after gw1 stopped", d.n, time.Since(stopped).Round(100*time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	after := map[string]float64{"gw1": 0, "gw2": share["gw2"] + share["gw1"]*12/20, "gw3": share["gw3"] + share["gw1"]*8/20, "gw4": 0}
	st = d.table("terminals per gateway after gw1 stopped (gw1's terminals spread 12:8 over gw2 and gw3)", after)
	d.checkShares(st, after, tol+1)
	d.status("d1")

	fmt.Println("-- the master director d1 dies (kill -9, then its link goes down): d2 takes the VIP; lvs_sync_daemon")
	fmt.Println("   has taught d2 every connection, so no terminal notices more than a pause")
	synced := directorConns("d2")
	before := readTerminals()
	d.claim(synced >= d.n, "d2's backup sync daemon holds %d connections learnt from d1 (terminals: %d)", synced, d.n)
	writeAtomic(filepath.Join(work, "mark"), []byte(fmt.Sprint(time.Now().UnixNano())))
	time.Sleep(300 * time.Millisecond) // the terminals read the mark
	d.kill("d1")
	_ = sh(fmt.Sprintf("ip -n %s link set eth0 down", ns("d1")))
	killed := time.Now()
	took, ok = waitFor(10*time.Second, func() bool { return hasVIP("d2") })
	d.claim(ok && took < 5*time.Second, "d2 holds the VIP %s after the kill (master-down interval 3 x 1 s + skew 0.65 s)", took.Round(10*time.Millisecond))
	// Every terminal sends a heartbeat within 2.5 s; wait for two rounds
	// after the takeover so that each has crossed it.
	time.Sleep(6 * time.Second)
	st = readTerminals()
	reconnects := st.Connects - before.Connects
	d.claim(reconnects == 0 && st.Drops == before.Drops && st.Connected == d.n,
		"all %d terminals stayed connected through the failover: %d reconnects, %d drops (%s after the kill)",
		d.n, reconnects, st.Drops-before.Drops, time.Since(killed).Round(100*time.Millisecond))
	if n := len(st.Stalls); n > 0 {
		at := func(q float64) time.Duration {
			return time.Duration(st.Stalls[min(n-1, int(q*float64(n)))]) * time.Millisecond
		}
		fmt.Printf("  heartbeat stall across the failover: p50 %s, p99 %s, max %s (%d terminals)\n", at(0.5), at(0.99), at(1), n)
	}
	conn, err := dialInNamespace("cl", d.self)
	d.claim(err == nil, "a new connection through d2 succeeds (greeted by %s)", conn)
	d.table("terminals per gateway through d2 (the same connections)", after)
	d.status("d2")

	if len(d.failed) > 0 {
		fmt.Printf("DEMO FAILED: %d claim(s) did not hold:\n", len(d.failed))
		for _, f := range d.failed {
			fmt.Println("  -", f)
		}
		return 1
	}
	fmt.Println("DEMO OK: every claim above held")
	return 0
}

// directorConns counts the established connections in a director's IPVS
// connection table (learnt from the master's sync daemon on a backup).
func directorConns(host string) int {
	out, err := exec.Command("ip", "netns", "exec", ns(host), "cat", "/proc/net/ip_vs_conn").Output()
	if err != nil {
		return 0
	}
	return strings.Count(string(out), " ESTABLISHED ")
}

// dialInNamespace opens one fresh connection to the VIP from the client.
func dialInNamespace(host, self string) (string, error) {
	// A few tries: under qemu TCG on a loaded host one bash start can
	// take seconds.
	var err error
	for range 3 {
		var out []byte
		out, err = exec.Command("ip", "netns", "exec", ns(host), "timeout", "15", "bash", "-c",
			fmt.Sprintf("exec 3<>/dev/tcp/%s/%s; head -1 <&3", vip, vipPort)).Output()
		if id := strings.TrimSpace(string(out)); err == nil && id != "" {
			return id, nil
		}
	}
	return "", fmt.Errorf("no greeting: %v", err)
}
