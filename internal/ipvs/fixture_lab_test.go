package ipvs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
	"golang.org/x/sys/unix"
)

var updateNetlink = flag.Bool("update-netlink", false,
	"rewrite testdata/netlink from the lab VM's kernel: go test ./internal/ipvs -run '^TestLab$' -update-netlink")

// recordingSocket keeps every datagram sent and received.
type recordingSocket struct {
	socket
	log *[]datagram
}

func (r recordingSocket) send(b []byte) error {
	*r.log = append(*r.log, datagram{out: true, data: slices.Clone(b)})
	return r.socket.send(b)
}

func (r recordingSocket) recv(b []byte) (int, error) {
	n, err := r.socket.recv(b)
	if err == nil {
		*r.log = append(*r.log, datagram{data: slices.Clone(b[:n])})
	}
	return n, err
}

// exchanges lists a conversation as its requests, each with the messages
// of its replies, normalised and sorted: the order of
// a dump's services, and so of the requests for their destinations,
// follows the kernel's hash of the service, which depends on where the
// network namespace's IPVS state lives in memory.
func exchanges(f *fixture) []string {
	var out, replies []string
	cur := ""
	flush := func() {
		if cur != "" {
			slices.Sort(replies)
			out = append(out, cur+"\n  replies: "+strings.Join(replies, "\n           "))
		}
	}
	for _, d := range f.datagram {
		if d.out {
			flush()
			cur, replies = hex.EncodeToString(normalised(d.data, f.family)), nil
			continue
		}
		eachFrame(normalised(d.data, f.family), func(m []byte) {
			replies = append(replies, hex.EncodeToString(withoutCounters(m)))
		})
	}
	flush()
	slices.Sort(out)
	return out
}

// withoutCounters is a normalised message with the counters of the
// services and destinations it carries zeroed (IPVS_SVC_ATTR_STATS,
// _STATS64; IPVS_DEST_ATTR_ACTIVE_CONNS, _INACT_CONNS, _PERSIST_CONNS,
// _STATS, _STATS64): which real server a client is scheduled to, and the
// rates, change from run to run.
func withoutCounters(m []byte) []byte {
	if len(m) < unix.NLMSG_HDRLEN+4 || binary.NativeEndian.Uint16(m[4:6]) != 0xffff {
		return m
	}
	counters := map[uint16][]uint16{
		ipvsCmdAttrService: {ipvsSvcAttrStats, ipvsSvcAttrStats64},
		ipvsCmdAttrDest:    {ipvsDestAttrActive, ipvsDestAttrInactive, ipvsDestAttrPersist, ipvsDestAttrStats, ipvsDestAttrStats64},
	}
	_ = eachAttr(m[unix.NLMSG_HDRLEN+4:], func(typ uint16, v []byte) error {
		return eachAttr(v, func(inner uint16, w []byte) error {
			if slices.Contains(counters[typ], inner) {
				clear(w)
			}
			return nil
		})
	})
	return m
}

// TestVMNetlinkFixtures runs the netlink scenarios against the lab VM's
// kernel, recording the conversation: each scenario's checks must hold
// against the kernel, and the conversation must be the fixture's (the
// requests byte for byte; the replies message by message, but for the
// counters). With -update-netlink it rewrites the fixtures instead.
func TestVMNetlinkFixtures(t *testing.T) {
	labtest.RequireVM(t)
	family, err := ipvsFamily()
	if err != nil {
		t.Fatal(err)
	}
	sh := func(cmd string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	flushKernel(t)
	_ = exec.Command("ipvsadm", "--stop-daemon", "master").Run()
	_ = exec.Command("ipvsadm", "--stop-daemon", "backup").Run()
	_ = exec.Command("ip", "link", "del", "lvsdfix0").Run()
	_ = exec.Command("ip", "netns", "del", "lvsdfixc").Run()
	// lvsdfix0 carries the sync daemons, and the client of the stats
	// scenario sends from the namespace at its other end.
	sh("ip link add lvsdfix0 type veth peer name lvsdfix1 && ip link set lvsdfix0 up && ip addr add 10.97.0.1/24 dev lvsdfix0")
	sh("ip netns add lvsdfixc && ip link set lvsdfix1 netns lvsdfixc && ip -n lvsdfixc link set lo up && " +
		"ip -n lvsdfixc link set lvsdfix1 up && ip -n lvsdfixc addr add 10.97.0.2/24 dev lvsdfix1 && " +
		"ip -n lvsdfixc route add 10.99.0.0/24 via 10.97.0.1")
	sh("ip addr replace 10.99.0.1/32 dev lo")
	sh("modprobe ip_vs_pe_sip") // the kernel looks engines up without loading them
	t.Cleanup(func() {
		flushKernel(t)
		_ = exec.Command("ip", "link", "del", "lvsdfix0").Run()
		_ = exec.Command("ip", "netns", "del", "lvsdfixc").Run()
		_ = exec.Command("ip", "addr", "del", "10.99.0.1/32", "dev", "lo").Run()
	})
	uname, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range netlinkScenarios {
		if sc.name == "read-stats" {
			// One datagram to S2 from a client behind lvsdfix0.
			sh(fmt.Sprintf("ip netns exec lvsdfixc bash -c 'printf %%s %q > /dev/udp/10.99.0.1/53'", fixStatsPayload))
			// The kernel adds its per-CPU counters up every two seconds
			// (the rate estimator): wait for them.
			waitCounted(t, fixKeyS2)
		}
		var log []datagram
		k := &netlinkKernel{dial: func() (*genlConn, error) {
			c, err := newGenlConn(family)
			if err != nil {
				return nil, err
			}
			c.sock = recordingSocket{socket: c.sock, log: &log}
			return c, nil
		}}
		ok := t.Run(sc.name, func(t *testing.T) { sc.run(t, k) })
		for _, c := range k.idle {
			c.Close()
		}
		got := &fixture{kernel: strings.TrimSpace(string(uname)), family: family, datagram: log}
		if *updateNetlink {
			if !ok {
				t.Errorf("%s: the scenario failed against the kernel: fixture not written", sc.name)
				continue
			}
			// The repository is read-only here: the host writes the file.
			for _, line := range strings.Split(strings.TrimSpace(got.String(sc.name)), "\n") {
				fmt.Printf("%s%s: %s\n", fixtureMarker, sc.name, line)
			}
			continue
		}
		want, err := readFixture(sc.name)
		if err != nil {
			t.Errorf("%s: %v", sc.name, err)
			continue
		}
		g, w := exchanges(got), exchanges(want)
		if !slices.Equal(g, w) {
			t.Errorf("%s: the kernel's conversation differs from the fixture (captured from %s):\n%s",
				sc.name, want.kernel, lineDiff(strings.Join(w, "\n"), strings.Join(g, "\n")))
		}
	}
}

// fixtureMarker starts the lines of a fixture the lab VM prints.
const fixtureMarker = "LVSD-NETLINK-FIXTURE "

// updateNetlinkFixtures boots the lab VM to run TestVMNetlinkFixtures
// -update-netlink, and writes the fixtures it prints.
func updateNetlinkFixtures(t *testing.T) {
	labtest.NeedRoot(t)
	root := labtest.RepoRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The VM mounts its own /tmp, so the binary must live in the repository.
	bin := fmt.Sprintf("%s/.lab/bin/netlink-fixtures-%d.test", root, os.Getpid())
	data, err := os.ReadFile(self)
	if err == nil {
		err = os.MkdirAll(root+"/.lab/bin", 0o755)
	}
	if err == nil {
		err = os.WriteFile(bin, data, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(bin)
	cmd := exec.Command(root+"/scripts/lab.sh", bin, "-test.run", "^TestVMNetlinkFixtures$", "-test.v", "-test.count=1", "-update-netlink")
	cmd.Env = append(os.Environ(), "CI=true")
	out, err := cmd.CombinedOutput()
	files := map[string]*bytes.Buffer{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		i := strings.Index(line, fixtureMarker)
		if i < 0 {
			t.Log(line)
			continue
		}
		name, text, ok := strings.Cut(line[i+len(fixtureMarker):], ": ")
		if !ok {
			t.Fatalf("unreadable fixture line %q", line)
		}
		if files[name] == nil {
			files[name] = &bytes.Buffer{}
			order = append(order, name)
		}
		files[name].WriteString(text + "\n")
	}
	if err != nil || !strings.Contains(string(out), "\nPASS") {
		t.Fatalf("TestVMNetlinkFixtures failed in the lab VM (%v): fixtures not written", err)
	}
	if len(order) != len(netlinkScenarios) {
		t.Fatalf("the lab VM printed %d fixtures, want %d", len(order), len(netlinkScenarios))
	}
	for _, name := range order {
		if err := os.MkdirAll(filepath.Dir(fixturePath(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixturePath(name), files[name].Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", fixturePath(name))
	}
}

// waitCounted waits until the kernel reports a connection of service k.
func waitCounted(t *testing.T, k ServiceKey) {
	t.Helper()
	reader, err := NewNetlink()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		stats, err := ReadStats(reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, ss := range stats {
			if ss.Key == k && ss.Stats.Connections > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kernel counted no connection of %s in 20 s", k)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
