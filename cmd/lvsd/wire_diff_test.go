package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/internal/labtest"
)

// The wire differential: each configuration runs alone under keepalived
// 2.2.7 and under lvsd, each in a namespace of its own built the same way
// (same MAC and addresses, so the same link-local source), side by side.
// The first advert of every VRID (IP source, destination, TTL or hop
// limit, and the VRRP message byte for byte: version, VRID, priority,
// address count, authentication type and data, interval, addresses,
// checksum) and the addresses the daemon put on the interfaces must be
// identical.

// wireCase is one configuration. vrids are the VRIDs that must advertise;
// the instance bodies use eth0 (10.9.0.1/24, fd00:9::1/64, MAC
// 02:00:00:00:00:01); 10.9.0.2 and fd00:9::2 are a silent peer.
type wireCase struct {
	name  string
	conf  string
	vrids []int
	// dsts, when set, are the destinations each VRID's adverts must
	// reach (unicast instances sharing a VRID); compared one by one.
	dsts []string
}

// wireKey names a first advert: its VRID and, with wireCase.dsts, its
// destination.
type wireKey struct {
	vrid int
	dst  string
}

func (c wireCase) keys() []wireKey {
	var out []wireKey
	for _, v := range c.vrids {
		if len(c.dsts) == 0 {
			out = append(out, wireKey{vrid: v})
		}
		for _, d := range c.dsts {
			out = append(out, wireKey{v, d})
		}
	}
	return out
}

func wireInstance(vrid int, body string) string {
	return fmt.Sprintf("vrrp_instance VI_%d {\n  interface eth0\n  virtual_router_id %d\n%s\n}\n", vrid, vrid, body)
}

func wireCases() []wireCase {
	vip := "  virtual_ipaddress {\n    10.9.0.100/24\n  }\n"
	auth := func(typ, pass string) string {
		s := "  authentication {\n    auth_type " + typ + "\n"
		if pass != "" {
			s += "    auth_pass " + pass + "\n"
		}
		return s + "  }\n"
	}
	one := func(name, global, body string) wireCase {
		return wireCase{name: name, conf: "global_defs {\n  router_id wire\n" + global + "}\n" + wireInstance(10, body), vrids: []int{10}}
	}
	return []wireCase{
		one("owner-by-state", "", "  state MASTER\n"+vip),
		one("owner-by-priority", "", "  priority 255\n"+vip),
		one("state-lowercase", "", "  state master\n  version 3\n  advert_int 0.2\n"+vip),
		one("priority-invalid", "", "  state MASTER\n  priority 300\n  version 3\n  advert_int 0.2\n"+vip),
		one("master-priority-150", "", "  state MASTER\n  priority 150\n"+vip),
		one("backup-default-priority", "", "  state BACKUP\n  version 3\n  advert_int 0.1\n"+vip),
		one("strict-owner-pass", "  vrrp_strict\n", "  state MASTER\n"+auth("PASS", "secret")+vip),
		one("strict-backup-pass", "  vrrp_strict\n", "  state BACKUP\n  priority 100\n  version 3\n  advert_int 0.1\n"+auth("PASS", "secret")+vip),
		one("strict-mode-instance", "", "  strict_mode\n  priority 255\n"+auth("PASS", "secret")+vip),
		one("v2-interval-0.3", "", "  state MASTER\n  advert_int 0.3\n"+vip),
		one("v2-interval-2.4", "", "  state MASTER\n  advert_int 2.4\n"+vip),
		one("v3-interval-0.05", "", "  priority 200\n  version 3\n  advert_int 0.05\n"+vip),
		one("v3-interval-0.255", "", "  state MASTER\n  version 3\n  advert_int 0.255\n"+vip),
		one("v3-interval-50", "", "  state MASTER\n  version 3\n  advert_int 50\n"+vip),
		one("pass-long", "", "  state MASTER\n"+auth("PASS", "averylongpassword")+vip),
		one("pass-8", "", "  state MASTER\n"+auth("PASS", "12345678")+vip),
		one("pass-lowercase-type", "", "  state MASTER\n"+auth("pass", "secret")+vip),
		one("pass-without-password", "", "  state MASTER\n"+auth("PASS", "")+vip),
		one("pass-v3", "", "  state MASTER\n  version 3\n"+auth("PASS", "secret")+vip),
		one("ah-owner", "", "  state MASTER\n"+auth("AH", "s3cret")+vip),
		one("ah-backup", "", "  state BACKUP\n  priority 100\n"+auth("AH", "longer-than-8")+vip),
		one("ah-master-non-owner", "", "  state MASTER\n  priority 150\n"+auth("AH", "pw")+vip),
		one("ah-unicast", "", "  priority 255\n  unicast_peer {\n    10.9.0.2\n  }\n"+auth("AH", "s3cret")+vip),
		one("ah-strict", "  vrrp_strict\n", "  state MASTER\n"+auth("AH", "s3cret")+vip),
		one("excluded-vips", "", "  state MASTER\n"+vip+"  virtual_ipaddress_excluded {\n    10.9.0.120/24\n    fd00:9::120/64\n  }\n"),
		one("vip-options", "", "  state MASTER\n  virtual_ipaddress {\n    10.9.0.100/24 brd 10.9.0.255 label eth0:vip\n    10.9.0.101\n    10.9.0.102/32 scope link\n    192.168.77.1/24 dev eth0\n  }\n"),
		one("vip-brd", "", "  state MASTER\n  virtual_ipaddress {\n    10.9.0.100/24 brd +\n    10.9.0.103/24 brd -\n    10.9.0.104/30 brd +\n  }\n"),
		one("strict-v3", "  vrrp_strict\n", "  state MASTER\n  version 3\n  advert_int 0.5\n  accept\n"+vip),
		one("mcast-src-ip", "", "  state MASTER\n  mcast_src_ip 10.9.0.11\n"+vip),
		one("unicast", "", "  state MASTER\n  unicast_src_ip 10.9.0.1\n  unicast_peer {\n    10.9.0.2\n  }\n"+vip),
		one("unicast-ttl", "", "  state MASTER\n  unicast_ttl 10\n  unicast_peer {\n    10.9.0.2\n  }\n"+vip),
		one("nopreempt-master", "", "  state MASTER\n  priority 150\n  nopreempt\n  preempt_delay 5\n"+vip),
		one("global-v3", "  vrrp_version 3\n", "  state MASTER\n"+vip),
		one("mcast-group4", "  vrrp_mcast_group4 224.0.0.77\n", "  state MASTER\n"+vip),
		one("ipv6", "", "  state MASTER\n  virtual_ipaddress {\n    fe80::100/64\n    fd00:9::100/64\n  }\n"),
		one("ipv6-unicast", "", "  state MASTER\n  unicast_peer {\n    fd00:9::2\n  }\n  virtual_ipaddress {\n    fd00:9::100/64\n  }\n"),
		{name: "unicast-shared-vrid", vrids: []int{10}, dsts: []string{"10.9.0.2", "10.9.0.3"}, conf: "vrrp_instance A {\n  interface eth0\n  virtual_router_id 10\n  priority 255\n" +
			"  unicast_peer {\n    10.9.0.2\n  }\n  virtual_ipaddress {\n    10.9.0.100/24\n  }\n}\n" +
			"vrrp_instance B {\n  interface eth0\n  virtual_router_id 10\n  priority 255\n" +
			"  unicast_peer {\n    10.9.0.3\n  }\n  virtual_ipaddress {\n    10.9.0.101/24\n  }\n}\n"},
		{name: "sync-group", vrids: []int{11, 12}, conf: "vrrp_sync_group G {\n  group {\n    VI_11\n    VI_12\n  }\n}\n" +
			wireInstance(11, "  state MASTER\n"+vip) + wireInstance(12, "  state MASTER\n  priority 200\n  virtual_ipaddress {\n    10.9.0.112/24\n  }\n")},
	}
}

// wireNS is one namespace: eth0 and its veth peer wpeer, side by side.
type wireNS struct {
	t    *testing.T
	name string
}

var wireSeq struct {
	sync.Mutex
	n int
}

func newWireNS(t *testing.T) *wireNS {
	t.Helper()
	wireSeq.Lock()
	wireSeq.n++
	n := &wireNS{t: t, name: fmt.Sprintf("lw%d-%d", os.Getpid()%100000, wireSeq.n)}
	wireSeq.Unlock()
	t.Cleanup(func() {
		_ = exec.Command("sh", "-c", fmt.Sprintf("ip netns pids %s | xargs -r kill -9; ip netns del %s", n.name, n.name)).Run()
	})
	n.sh("ip netns add %s", n.name)
	// One ip process for the rest (namespaces are set up many at a
	// time). The link-local address is added by hand, without DAD, so
	// that it is usable at once and the same in every namespace.
	batch := strings.Join([]string{
		"link add eth0 address 02:00:00:00:00:01 type veth peer name wpeer address 02:00:00:00:00:02",
		"link set eth0 addrgenmode none",
		"link set wpeer addrgenmode none",
		"link set lo up",
		"link set wpeer up",
		"link set eth0 up",
		"addr add 10.9.0.1/24 dev eth0",
		"addr add 10.9.0.11/24 dev eth0",
		"addr add fe80::ff:fe00:1/64 dev eth0 nodad",
		"addr add fd00:9::1/64 dev eth0 nodad",
		"neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev eth0 nud permanent",
		"neigh add 10.9.0.3 lladdr 02:00:00:00:00:02 dev eth0 nud permanent",
		"neigh add fd00:9::2 lladdr 02:00:00:00:00:02 dev eth0 nud permanent",
	}, "\n")
	cmd := exec.Command("ip", "-n", n.name, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setting up %s: %v\n%s", n.name, err, out)
	}
	return n
}

func (n *wireNS) sh(format string, args ...any) string {
	n.t.Helper()
	cmd := fmt.Sprintf(format, args...)
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		n.t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// addrs lists the addresses on the namespace's interfaces, one
// "dev family address/prefix [brd] scope [label] [flags]" each, sorted;
// lifetimes are left out.
func (n *wireNS) addrs() []string {
	out := n.sh("ip -n %s -o addr show", n.name)
	var list []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] == "lo" {
			continue
		}
		var keep []string
		for _, w := range f[1:] {
			if w == "\\" || w == "valid_lft" {
				break
			}
			keep = append(keep, w)
		}
		list = append(list, strings.Join(keep, " "))
	}
	sort.Strings(list)
	return list
}

// capturedAdvert is a VRRP packet eth0 sent.
type capturedAdvert struct {
	src, dst string
	ttl      byte
	payload  []byte // the VRRP message
	// ah is the IPSEC-AH header of an AH-authenticated advert (ICV
	// included) and ipID the IP ID it covers; empty otherwise.
	ah   []byte
	ipID uint16
}

func (a capturedAdvert) String() string {
	p := a.payload
	s := fmt.Sprintf("%s -> %s ttl %d", a.src, a.dst, a.ttl)
	if len(p) >= 8 {
		s += fmt.Sprintf(" v%d vrid %d prio %d count %d", p[0]>>4, p[1], p[2], p[3])
		if p[0]>>4 == 2 {
			s += fmt.Sprintf(" auth %d int %ds", p[4], p[5])
		} else {
			s += fmt.Sprintf(" int %dcs", binary.BigEndian.Uint16(p[4:])&0x0fff)
		}
	}
	if a.ah != nil {
		s += fmt.Sprintf(" id %d ah % x", a.ipID, a.ah)
	}
	return s + fmt.Sprintf(" % x", p)
}

// sniffer reads what eth0 of a namespace sends, through a packet socket
// opened inside it.
type sniffer struct {
	fd   int
	mu   sync.Mutex
	got  []capturedAdvert
	done chan struct{}
}

func (n *wireNS) sniff() *sniffer {
	n.t.Helper()
	fd, err := inNetns(n.name, func() (int, error) {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return -1, err
		}
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return -1, err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	})
	if err != nil {
		n.t.Fatalf("packet socket in %s: %v", n.name, err)
	}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
	s := &sniffer{fd: fd, done: make(chan struct{})}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 65536)
		for {
			select {
			case <-s.done:
				return
			default:
			}
			m, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
					continue
				}
				return
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype != unix.PACKET_OUTGOING {
				continue
			}
			if a, ok := parseAdvertFrame(buf[:m]); ok {
				s.mu.Lock()
				s.got = append(s.got, a)
				s.mu.Unlock()
			}
		}
	}()
	n.t.Cleanup(func() { close(s.done); <-stopped; unix.Close(fd) })
	return s
}

// first returns the first advert with a non-zero priority for k.
func (s *sniffer) first(k wireKey) (capturedAdvert, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.got {
		if len(a.payload) >= 8 && int(a.payload[1]) == k.vrid && a.payload[2] != 0 && (k.dst == "" || a.dst == k.dst) {
			return a, true
		}
	}
	return capturedAdvert{}, false
}

func parseAdvertFrame(f []byte) (capturedAdvert, bool) {
	if len(f) < 14 {
		return capturedAdvert{}, false
	}
	switch binary.BigEndian.Uint16(f[12:]) {
	case 0x0800:
		ip := f[14:]
		if len(ip) < 20 || ip[9] != 112 && ip[9] != 51 {
			return capturedAdvert{}, false
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if total > len(ip) || ihl > total {
			return capturedAdvert{}, false
		}
		a := capturedAdvert{src: net.IP(ip[12:16]).String(), dst: net.IP(ip[16:20]).String(), ttl: ip[8],
			payload: append([]byte(nil), ip[ihl:total]...)}
		if ip[9] == 51 {
			if len(a.payload) < 24+8 {
				return capturedAdvert{}, false
			}
			a.ah, a.payload, a.ipID = a.payload[:24], a.payload[24:], binary.BigEndian.Uint16(ip[4:])
		}
		return a, true
	case 0x86dd:
		ip := f[14:]
		if len(ip) < 40 || ip[6] != 112 {
			return capturedAdvert{}, false
		}
		plen := int(binary.BigEndian.Uint16(ip[4:]))
		if 40+plen > len(ip) {
			return capturedAdvert{}, false
		}
		return capturedAdvert{src: net.IP(ip[8:24]).String(), dst: net.IP(ip[24:40]).String(), ttl: ip[7],
			payload: append([]byte(nil), ip[40:40+plen]...)}, true
	}
	return capturedAdvert{}, false
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// inNetns runs fn on a thread moved into the named namespace; what fn
// opens (a socket) stays in it. The thread goes back to its namespace, or
// dies with its goroutine if it cannot.
func inNetns(name string, fn func() (int, error)) (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{-1, err}
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/run/netns", name))
		if err != nil {
			ch <- result{-1, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{-1, err}
			return
		}
		fd, err := fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// wireRun is what one daemon did with one configuration.
type wireRun struct {
	first map[wireKey]capturedAdvert
	addrs []string
	log   string
}

func runWire(t *testing.T, kind string, c wireCase) wireRun {
	t.Helper()
	t0 := time.Now()
	ns := newWireNS(t)
	before := ns.addrs()
	tNS := time.Since(t0)
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(c.conf), 0o644); err != nil {
		t.Fatal(err)
	}
	sn := ns.sniff()
	var args []string
	switch kind {
	case "lvsd":
		self, _ := os.Executable()
		state, err := os.MkdirTemp("", "lvsdw")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(state) })
		args = []string{self, "run", "-P", "-f", conf, "--state-dir", state}
	case "keepalived":
		args = []string{"keepalived", "-n", "-l", "-D", "-P", "-f", conf, "-p", dir + "/k.pid", "-r", dir + "/v.pid", "-c", dir + "/c.pid", "-b", dir + "/b.pid"}
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, args...)...)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	r := wireRun{first: map[wireKey]capturedAdvert{}}
	// The slowest case is a VRRPv2 backup at priority 100: master-down
	// 3.6 s. A loaded machine gets generous room.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && len(r.first) < len(c.keys()) {
		for _, k := range c.keys() {
			if a, ok := sn.first(k); ok {
				r.first[k] = a
			}
		}
		select {
		case <-exited:
			deadline = time.Now()
		case <-time.After(20 * time.Millisecond):
		}
	}
	tAdv := time.Since(t0)
	// VIPs go on as the instance becomes master, around its first
	// advert: wait until the address list holds still for 300 ms.
	prev, stable := ns.addrs(), time.Now()
	for limit := time.Now().Add(5 * time.Second); time.Now().Before(limit) && time.Since(stable) < 300*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		if cur := ns.addrs(); strings.Join(cur, "\n") != strings.Join(prev, "\n") {
			prev, stable = cur, time.Now()
		}
	}
	r.addrs = addedAddrs(before, prev)
	r.log = log.String()
	t.Logf("%s: namespace %s, first adverts after %s, addresses settled after %s", kind,
		tNS.Round(time.Millisecond), tAdv.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	return r
}

// addedAddrs is after less before: what the daemon put on.
func addedAddrs(before, after []string) []string {
	had := map[string]bool{}
	for _, a := range before {
		had[a] = true
	}
	var out []string
	for _, a := range after {
		if !had[a] {
			out = append(out, a)
		}
	}
	return out
}

func TestWireDiffKeepalived(t *testing.T) {
	labtest.NeedRoot(t)
	labtest.NeedBinary(t, "keepalived")
	labtest.NeedBinary(t, "ip")
	if testing.Short() {
		t.Skip("lab test")
	}
	cases := wireCases()
	if len(cases) < 20 {
		t.Fatalf("%d configurations, want at least 20", len(cases))
	}
	// Eight configurations (16 daemons, mostly waiting) at a time, gentle
	// on the timing of other packages' labs running beside it: the
	// subtests are started from goroutines (t.Parallel would hold them
	// to -parallel, GOMAXPROCS, at a time).
	sem := make(chan struct{}, 8)
	var all sync.WaitGroup
	defer all.Wait()
	for _, c := range cases {
		all.Add(1)
		sem <- struct{}{}
		go func() {
			defer all.Done()
			defer func() { <-sem }()
			t.Run(c.name, func(t *testing.T) { wireCompare(t, c) })
		}()
	}
}

// wireCompare runs c under both daemons side by side and compares.
func wireCompare(t *testing.T, c wireCase) {
	var k, l wireRun
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); k = runWire(t, "keepalived", c) }()
	go func() { defer wg.Done(); l = runWire(t, "lvsd", c) }()
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, v := range c.keys() {
		ka, kok := k.first[v]
		la, lok := l.first[v]
		switch {
		case !kok:
			t.Errorf("%+v: keepalived sent no advert\n%s", v, k.log)
		case !lok:
			t.Errorf("%+v: lvsd sent no advert\n%s", v, l.log)
		case ka.src != la.src || ka.dst != la.dst || ka.ttl != la.ttl || !bytes.Equal(ka.payload, la.payload) ||
			!bytes.Equal(ka.ah, la.ah) || ka.ipID != la.ipID:
			t.Errorf("%+v: first adverts differ\nkeepalived %s\nlvsd       %s", v, ka, la)
		default:
			t.Logf("%+v: %s", v, la)
		}
	}
	if strings.Join(k.addrs, "\n") != strings.Join(l.addrs, "\n") {
		t.Errorf("addresses put on the interfaces differ\nkeepalived %q\nlvsd       %q", k.addrs, l.addrs)
	}
	if len(k.addrs) == 0 {
		t.Errorf("keepalived put no address on: nothing compared\n%s", k.log)
	}
	if t.Failed() {
		t.Logf("--- keepalived ---\n%s\n--- lvsd ---\n%s", k.log, l.log)
	}
}
