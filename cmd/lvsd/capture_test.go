package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// capture is dumpcap writing a pcap file inside one lab namespace.
type capture struct {
	t    testing.TB
	cmd  *exec.Cmd
	file string
}

type frame struct {
	at   time.Time
	data []byte
}

func startCapture(t testing.TB, l *vrrpLab, host, filter string) *capture {
	t.Helper()
	labtest.NeedBinary(t, "dumpcap")
	file := filepath.Join(l.dir, fmt.Sprintf("%s-%d.pcap", host, time.Now().UnixNano()))
	// dumpcap itself, not tshark: tshark prints "Capturing on" before it
	// even starts dumpcap (100 ms before the socket exists on a quiet
	// machine, seconds on a loaded one), and frames sent in that gap were
	// lost. dumpcap prints "File: ..." once its socket is bound and its
	// filter attached.
	cmd := exec.Command("ip", "netns", "exec", l.ns(host), "dumpcap", "-q", "-i", "eth0", "-f", filter, "-P", "-w", file)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &capture{t: t, cmd: cmd, file: file}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(stderr)
		closed := false
		for s.Scan() {
			if !closed && strings.HasPrefix(s.Text(), "File: ") {
				close(ready)
				closed = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		t.Fatal("dumpcap did not start capturing within 15 s")
	}
	return c
}

func (c *capture) stop() []frame {
	c.t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	_ = c.cmd.Wait()
	b, err := os.ReadFile(c.file)
	if err != nil {
		c.t.Fatalf("capture: %v", err)
	}
	frames, err := readPcap(b)
	if err != nil {
		c.t.Fatalf("capture %s: %v", c.file, err)
	}
	return frames
}

// readPcap reads a classic little-endian pcap file.
func readPcap(b []byte) ([]frame, error) {
	if len(b) < 24 {
		return nil, fmt.Errorf("%d bytes is no pcap file", len(b))
	}
	nano := false
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
	case 0xa1b23c4d:
		nano = true
	default:
		return nil, fmt.Errorf("not a little-endian pcap file")
	}
	var out []frame
	for off := 24; off+16 <= len(b); {
		sec := binary.LittleEndian.Uint32(b[off:])
		frac := binary.LittleEndian.Uint32(b[off+4:])
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		off += 16
		if off+n > len(b) {
			break
		}
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		out = append(out, frame{at: time.Unix(int64(sec), ns), data: b[off : off+n]})
		off += n
	}
	return out, nil
}

type arpFrame struct {
	dstMAC, senderMAC, targetMAC string
	senderIP, targetIP           string
	op                           uint16
	payload                      []byte
}

func parseARP(f []byte) (arpFrame, bool) {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != 0x0806 {
		return arpFrame{}, false
	}
	p := f[14:42]
	return arpFrame{
		dstMAC: net.HardwareAddr(f[0:6]).String(), senderMAC: net.HardwareAddr(p[8:14]).String(),
		targetMAC: net.HardwareAddr(p[18:24]).String(), senderIP: net.IP(p[14:18]).String(), targetIP: net.IP(p[24:28]).String(),
		op: binary.BigEndian.Uint16(p[6:]), payload: p,
	}, true
}

// vrrpFrame is an IPv4 VRRP frame with what must match keepalived's.
type vrrpFrame struct {
	dstMAC   string
	tos, ttl byte
	df       bool
	src, dst string
	payload  []byte
}

func parseVRRP(f []byte) (vrrpFrame, bool) {
	if len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[23] != 112 {
		return vrrpFrame{}, false
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if total > len(ip) || ihl > total {
		return vrrpFrame{}, false
	}
	return vrrpFrame{dstMAC: net.HardwareAddr(f[0:6]).String(), tos: ip[1], ttl: ip[8], df: ip[6]&0x40 != 0,
		src: net.IP(ip[12:16]).String(), dst: net.IP(ip[16:20]).String(), payload: ip[ihl:total]}, true
}

// TestVRRPWireMatchesKeepalived captures what keepalived 2.2.7 and lvsd put
// on the wire for the same configuration, from the same host, and compares
// the adverts (IP header fields and VRRP bytes) and the gratuitous ARPs.
func TestVRRPWireMatchesKeepalived(t *testing.T) {
	labtest.NeedBinary(t, "keepalived")
	for _, auth := range []bool{true, false} {
		t.Run(fmt.Sprintf("auth-%v", auth), func(t *testing.T) {
			l := newVRRPLab(t, "d1")
			conf := vrrpConf{priority: 100, auth: auth}
			record := func(kind string) (adverts []vrrpFrame, garps []arpFrame) {
				c := startCapture(t, l, "d1", "arp or ip proto 112")
				p := l.start(kind, "d1", conf)
				l.waitFor(kind+" becomes master", masterDown(100)+2*time.Second, func() bool { return l.hasVIP("d1") })
				time.Sleep(2500 * time.Millisecond)
				p.signal(t, syscall.SIGTERM)
				time.Sleep(300 * time.Millisecond)
				for _, f := range c.stop() {
					if v, ok := parseVRRP(f.data); ok {
						adverts = append(adverts, v)
					} else if a, ok := parseARP(f.data); ok && a.senderIP == labVIP {
						garps = append(garps, a)
					}
				}
				return adverts, garps
			}
			kAdv, kARP := record("keepalived")
			lAdv, lARP := record("lvsd")
			t.Logf("keepalived: %d adverts, %d GARPs; lvsd: %d adverts, %d GARPs", len(kAdv), len(kARP), len(lAdv), len(lARP))
			if len(kAdv) < 3 || len(lAdv) < 3 || len(kARP) == 0 || len(lARP) == 0 {
				t.Fatalf("too little captured")
			}
			// Compare the first regular advert and the final priority-0 one.
			cmp := func(what string, k, v vrrpFrame) {
				if k.dstMAC != v.dstMAC || k.tos != v.tos || k.ttl != v.ttl || k.df != v.df || k.src != v.src || k.dst != v.dst || !bytes.Equal(k.payload, v.payload) {
					t.Errorf("%s differs\nkeepalived %+v\nlvsd       %+v", what, k, v)
				}
			}
			cmp("advert", kAdv[0], lAdv[0])
			cmp("priority 0 advert", kAdv[len(kAdv)-1], lAdv[len(lAdv)-1])
			if lAdv[len(lAdv)-1].payload[2] != 0 {
				t.Errorf("lvsd's last advert has priority %d, want 0", lAdv[len(lAdv)-1].payload[2])
			}
			if len(kARP) != len(lARP) {
				t.Errorf("keepalived sent %d GARPs, lvsd %d", len(kARP), len(lARP))
			}
			k, v := kARP[0], lARP[0]
			if k.dstMAC != v.dstMAC || !bytes.Equal(k.payload, v.payload) {
				t.Errorf("GARP differs\nkeepalived %+v\nlvsd       %+v", k, v)
			}
		})
	}
}
