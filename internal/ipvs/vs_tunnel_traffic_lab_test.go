package ipvs

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestVMTunnelTraffic: a connection to a virtual service whose TUN real
// server lvsd programmed with each tunnel type leaves the director
// encapsulated as that type: IPIP (protocol 4), GRE (47, with the
// checksum bit as tun_flags says) or GUE (UDP to the tunnel port). The packet is read on a dummy interface that routes
// the real server (inside the VM only).
func TestVMTunnelTraffic(t *testing.T) {
	k := realKernel(t)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	_ = exec.Command("modprobe", "dummy").Run()
	run("ip", "link", "add", "h7tun0", "type", "dummy")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", "h7tun0").Run() })
	run("ip", "addr", "add", "10.7.5.1/24", "dev", "h7tun0")
	run("ip", "link", "set", "h7tun0", "up")
	run("ip", "route", "add", "10.7.0.20/32", "dev", "h7tun0")
	ifi, err := net.InterfaceByName("h7tun0")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1})

	cases := []struct {
		name  string
		tun   Tunnel
		check func(pkt []byte) bool
	}{
		{"ipip", Tunnel{}, func(p []byte) bool { return p[9] == 4 }},
		{"gre csum", Tunnel{Type: TunGRE, Flags: TunCsum}, func(p []byte) bool {
			// the GRE header's C bit: the checksum the flag asks for
			ihl := int(p[0]&0xf) * 4
			return p[9] == 47 && len(p) > ihl && p[ihl]&0x80 != 0
		}},
		{"gre nocsum", Tunnel{Type: TunGRE}, func(p []byte) bool {
			ihl := int(p[0]&0xf) * 4
			return p[9] == 47 && len(p) > ihl && p[ihl]&0x80 == 0
		}},
		{"gue 6080", Tunnel{Type: TunGUE, Port: 6080}, func(p []byte) bool {
			ihl := int(p[0]&0xf) * 4
			return p[9] == 17 && len(p) >= ihl+4 && binary.BigEndian.Uint16(p[ihl+2:]) == 6080
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			flushKernel(t)
			defer flushKernel(t)
			d := Dest{DestKey: DestKey{netip.MustParseAddr("10.7.5.2"), 80}, Method: TUN, Weight: 1, Tunnel: tc.tun}
			svc := &Service{ServiceKey: ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.7.0.20"), Port: 80},
				Scheduler: "rr", Netmask: NetmaskFrom(32, 32), Dests: map[DestKey]Dest{d.DestKey: d}}
			if _, err := NewSyncer(k, nil, "", false).Reconcile(Table{svc.ServiceKey: svc}); err != nil {
				t.Fatal(err)
			}
			go func() {
				c, err := net.DialTimeout("tcp4", "10.7.0.20:80", 2*time.Second)
				if err == nil {
					c.Close()
				}
			}()
			buf := make([]byte, 2048)
			deadline := time.Now().Add(10 * time.Second)
			var seen []string
			for time.Now().Before(deadline) {
				n, _, err := unix.Recvfrom(fd, buf, 0)
				// outgoing packets reach only ETH_P_ALL taps
				if err != nil || n < 20 || buf[0]>>4 != 4 {
					continue
				}
				p := buf[:n]
				dst := netip.AddrFrom4([4]byte(p[16:20]))
				seen = append(seen, fmt.Sprintf("%s/%d", dst, p[9]))
				if dst == d.Addr && tc.check(p) {
					t.Logf("encapsulated: proto %d, %d bytes to %s", p[9], n, dst)
					return
				}
			}
			t.Fatalf("no %s packet to %s seen (packets: %v)", tc.name, d.Addr, seen)
		})
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
