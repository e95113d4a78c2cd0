package check

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
	"golang.org/x/sys/unix"
)

// parseChecker builds the first checker of the first real server of src.
func parseChecker(t *testing.T, src string) (*config.Checker, *config.VirtualServer, *config.RealServer) {
	t.Helper()
	cfg := labtest.Config(t, src)
	vs := cfg.VirtualServers[0]
	rs := vs.RealServers[0]
	if len(rs.Checkers) == 0 {
		t.Fatalf("no checker built from:\n%s", src)
	}
	return rs.Checkers[0], vs, rs
}

func runProbe(t *testing.T, c *config.Checker, vs *config.VirtualServer, rs *config.RealServer) (time.Duration, error) {
	t.Helper()
	p, err := NewProbe(c, vs, rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout(c))
	defer cancel()
	start := time.Now()
	_, err = p(ctx)
	return time.Since(start), err
}

// udpServer answers each datagram with reply(request) (nil: no answer)
// and counts the datagrams.
func udpServer(t *testing.T, network, addr string, reply func([]byte) [][]byte) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		labtest.Need(t, false, "listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { pc.Close() })
	var n atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			n.Add(1)
			for _, r := range reply(append([]byte(nil), buf[:k]...)) {
				_, _ = pc.WriteTo(r, from)
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort(), &n
}

// dnsAnswer is a response to q with flags and nothing else.
func dnsAnswer(q []byte, flags uint16) []byte {
	r := append([]byte(nil), q...)
	binary.BigEndian.PutUint16(r[2:], flags)
	return r
}

func dnsConf(port uint16, body string) string {
	return fmt.Sprintf(`virtual_server 10.0.0.1 53 {
    protocol UDP
    real_server 127.0.0.1 %d {
        DNS_CHECK {
            connect_timeout 1
%s
        }
    }
}
`, port, body)
}

// TestDNSCheckVerdicts: keepalived 2.2.7's dns_recv_thread verdicts on a
// scripted server: RCODE 0 passes whatever the answer holds; any other
// RCODE fails; replies of another ID, queries (QR 0) and datagrams under 8
// bytes are passed over and the check waits for the real answer; no
// answer fails at connect_timeout; a closed port (ICMP port unreachable)
// fails at once.
func TestDNSCheckVerdicts(t *testing.T) {
	cases := []struct {
		name    string
		reply   func(q []byte) [][]byte
		wantErr string
		fast    bool
	}{
		{"noerror", func(q []byte) [][]byte { return [][]byte{dnsAnswer(q, 0x8180)} }, "", true},
		{"noerror-no-answers", func(q []byte) [][]byte { return [][]byte{dnsAnswer(q, 0x8180)[:12]} }, "", true},
		{"nxdomain", func(q []byte) [][]byte { return [][]byte{dnsAnswer(q, 0x8183)} }, "rcode = 3", true},
		{"servfail", func(q []byte) [][]byte { return [][]byte{dnsAnswer(q, 0x8182)} }, "rcode = 2", true},
		{"wrong-id-then-right", func(q []byte) [][]byte {
			bad := dnsAnswer(q, 0x8183)
			bad[0] ^= 0xff
			short := dnsAnswer(q, 0x8183)[:7]
			query := dnsAnswer(q, 0x0103)
			return [][]byte{bad, short, query, dnsAnswer(q, 0x8180)}
		}, "", true},
		{"only-wrong-id", func(q []byte) [][]byte {
			bad := dnsAnswer(q, 0x8180)
			bad[1] ^= 0xff
			return [][]byte{bad}
		}, "timeout", false},
		{"silent", func(q []byte) [][]byte { return nil }, "timeout", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got atomic.Value
			ap, n := udpServer(t, "udp4", "127.0.0.1:0", func(q []byte) [][]byte {
				got.Store(q)
				return tc.reply(q)
			})
			c, vs, rs := parseChecker(t, dnsConf(ap.Port(), "type A\nname example.test"))
			dur, err := runProbe(t, c, vs, rs)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if tc.fast && dur > 900*time.Millisecond {
				t.Errorf("took %v: the verdict should not wait for the timeout", dur)
			}
			if n.Load() != 1 {
				t.Errorf("%d queries, want 1", n.Load())
			}
			q, _ := got.Load().([]byte)
			want := dnsQuery(binary.BigEndian.Uint16(q), 1, "example.test")
			if !bytes.Equal(q, want) {
				t.Errorf("query %x, want %x", q, want)
			}
		})
	}
	t.Run("closed-port", func(t *testing.T) {
		t.Parallel()
		c, vs, rs := parseChecker(t, dnsConf(freeUDPPort(t), ""))
		dur, err := runProbe(t, c, vs, rs)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("err %v, want connection refused", err)
		}
		if dur > 900*time.Millisecond {
			t.Errorf("took %v", dur)
		}
	})
}

// TestDNSQueryBytes: the query keepalived 2.2.7's dns_make_query writes,
// byte for byte (the ID aside): RD set, one question, class IN; the
// default is SOA for the root.
func TestDNSQueryBytes(t *testing.T) {
	hdr := "1234010000010000000000" + "00"
	for _, tc := range []struct {
		name  string
		qtype uint16
		want  string
	}{
		{"", 6, hdr + "00" + "0006" + "0001"},
		{".", 6, hdr + "00" + "0006" + "0001"},
		{"example.com", 1, hdr + "076578616d706c6503636f6d00" + "0001" + "0001"},
		{"example.com.", 28, hdr + "076578616d706c6503636f6d00" + "001c" + "0001"},
	} {
		got := fmt.Sprintf("%x", dnsQuery(0x1234, tc.qtype, tc.name))
		if got != tc.want {
			t.Errorf("%q: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestDNSCheckDnsmasq: DNS_CHECK against a real dnsmasq on loopback: a
// name it serves passes (type A), a name it refuses fails (REFUSED, as it
// has no upstream), and once dnsmasq is stopped the check fails at once
// (ICMP port unreachable).
func TestDNSCheckDnsmasq(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dnsmasq")
	}
	dnsmasq := labtest.NeedBinary(t, "dnsmasq")
	labtest.NeedRoot(t)
	ns := labtest.NewNetns(t, "lvsddns")
	port := 5353
	dir := t.TempDir()
	cmd := ns.Command(dnsmasq, "-k", "-C", "/dev/null", "--user=root", "--group=root", "--port", fmt.Sprint(port),
		"--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
		"--address=/up.lvsd.test/10.9.9.9", "--pid-file="+filepath.Join(dir, "pid"), "--log-facility="+filepath.Join(dir, "log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	probe := func(name string) error {
		c, vs, rs := parseChecker(t, dnsConf(uint16(port), "type A\nname "+name))
		var perr error
		if err := labtest.InNetns(ns.Name, func() error { _, perr = runProbe(t, c, vs, rs); return nil }); err != nil {
			t.Fatal(err)
		}
		return perr
	}
	if _, ok := labtest.Poll(10*time.Second, 100*time.Millisecond, func() bool { return probe("up.lvsd.test") == nil }); !ok {
		t.Fatalf("dnsmasq never answered: %v", probe("up.lvsd.test"))
	}
	if err := probe("other.invalid"); err == nil || !strings.Contains(err.Error(), "rcode") {
		t.Errorf("unserved name: %v, want an rcode failure", err)
	}
	stop()
	if err := probe("up.lvsd.test"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("dnsmasq stopped: %v, want connection refused", err)
	}
}

func udpConf(port uint16, body string) string {
	return fmt.Sprintf(`virtual_server 10.0.0.1 53 {
    protocol UDP
    real_server 127.0.0.1 %d {
        UDP_CHECK {
            connect_timeout 1
%s
        }
    }
}
`, port, body)
}

// TestUDPCheckVerdicts: keepalived 2.2.7's UDP_CHECK: the payload sent
// (its 32-byte filler without one), silence passes unless require_reply,
// ICMP port unreachable fails, reply data with x wildcards and the
// min/max_reply_length bounds (which apply only with reply data).
func TestUDPCheckVerdicts(t *testing.T) {
	echo := func(q []byte) [][]byte { return [][]byte{q} }
	silent := func([]byte) [][]byte { return nil }
	fixed := func(b string) func([]byte) [][]byte { return func([]byte) [][]byte { return [][]byte{[]byte(b)} } }
	cases := []struct {
		name     string
		body     string
		reply    func([]byte) [][]byte
		wantErr  string
		wantSent string
	}{
		{"filler", "", echo, "", "keepalived check - keepalived ch"},
		{"payload", "payload 41 42 43", echo, "", "ABC"},
		{"silent-passes", "", silent, "", ""},
		{"silent-required", "require_reply", silent, "no reply", ""},
		{"any-reply", "require_reply", fixed("whatever"), "", ""},
		{"reply-data", "payload 70696e67\nrequire_reply 706f6e67", fixed("pong and more"), "", "ping"},
		{"reply-mismatch", "require_reply 706f6e67", fixed("pang"), "mismatch", ""},
		{"reply-wildcard", "require_reply 70 6x 6e 67", fixed("pang"), "", ""},
		{"reply-short-prefix", "require_reply 706f6e67", fixed("po"), "", ""},
		{"too-long", "require_reply 70\nmax_reply_length 3", fixed("pong"), "outside", ""},
		{"too-short", "require_reply 70\nmin_reply_length 5", fixed("pong"), "outside", ""},
		{"bounds-without-data", "require_reply\nmin_reply_length 50", fixed("pong"), "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sent atomic.Value
			ap, n := udpServer(t, "udp4", "127.0.0.1:0", func(q []byte) [][]byte { sent.Store(string(q)); return tc.reply(q) })
			c, vs, rs := parseChecker(t, udpConf(ap.Port(), tc.body))
			_, err := runProbe(t, c, vs, rs)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if tc.wantSent != "" {
				labtest.WaitFor(t, "the datagram", 2*time.Second, func() bool { return n.Load() == 1 })
				if got, _ := sent.Load().(string); got != tc.wantSent {
					t.Errorf("sent %q, want %q", got, tc.wantSent)
				}
			}
		})
	}
	t.Run("port-unreachable", func(t *testing.T) {
		t.Parallel()
		c, vs, rs := parseChecker(t, udpConf(freeUDPPort(t), ""))
		dur, err := runProbe(t, c, vs, rs)
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("err %v, want ICMP destination unreachable", err)
		}
		if dur > 900*time.Millisecond {
			t.Errorf("took %v: the ICMP error should end the check", dur)
		}
	})
	t.Run("port-unreachable-v6", func(t *testing.T) {
		t.Parallel()
		c, vs, rs := parseChecker(t, strings.NewReplacer("127.0.0.1", "::1", "10.0.0.1", "fd00::1").Replace(udpConf(1, "")))
		c.ConnectPort = freeUDPPort6(t)
		_, err := runProbe(t, c, vs, rs)
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("err %v, want ICMPv6 destination unreachable", err)
		}
	})
}

func freeUDPPort(t *testing.T) uint16 {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

func freeUDPPort6(t *testing.T) uint16 {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		labtest.Need(t, false, "no IPv6 loopback: %v", err)
	}
	defer pc.Close()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

// TestPingCheck: PING_CHECK passes on an echo reply (IPv4 and IPv6
// loopback) and fails on an address that does not answer (a namespace's
// neighbour that is gone: no reply within connect_timeout), whichever ICMP
// socket the host allows.
func TestPingCheck(t *testing.T) {
	conf := func(addr string) string {
		vip := "10.0.0.1"
		if strings.Contains(addr, ":") {
			vip = "fd00::1"
		}
		return fmt.Sprintf(`virtual_server %s 80 {
    protocol TCP
    real_server %s 80 {
        PING_CHECK {
            connect_timeout 1
        }
    }
}
`, vip, addr)
	}
	if fd, _, err := pingSocket(false); err != nil {
		labtest.Need(t, false, "no ICMP socket (root, or net.ipv4.ping_group_range, needed): %v", err)
	} else {
		unixClose(fd)
	}
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			c, vs, rs := parseChecker(t, conf(addr))
			if _, err := runProbe(t, c, vs, rs); err != nil {
				t.Fatalf("ping %s: %v", addr, err)
			}
		})
	}
	t.Run("no-reply", func(t *testing.T) {
		if testing.Short() {
			t.Skip("namespaces")
		}
		ns := labtest.NewNetns(t, "lvsdping")
		ns.MustIP(t, "link", "add", "pa", "type", "veth", "peer", "name", "pb")
		ns.MustIP(t, "addr", "add", "10.77.0.1/24", "dev", "pa")
		ns.MustIP(t, "addr", "add", "fd77::1/64", "dev", "pa", "nodad")
		ns.MustIP(t, "link", "set", "pa", "up")
		ns.MustIP(t, "link", "set", "pb", "up")
		// Both sockets: raw where ping_group_range excludes root (the
		// default "1 0"), then the datagram socket keepalived uses.
		for _, groups := range []string{"1\t0", "0\t2147483647"} {
			if out, err := ns.Command("sh", "-c", "printf '"+groups+"\n' > /proc/sys/net/ipv4/ping_group_range").CombinedOutput(); err != nil {
				t.Fatalf("ping_group_range: %v %s", err, out)
			}
			for _, tc := range []struct {
				dst string
				ok  bool
			}{{"10.77.0.9", false}, {"fd77::9", false}, {"10.77.0.1", true}, {"fd77::1", true}} {
				c, vs, rs := parseChecker(t, conf(tc.dst))
				var perr error
				var dur time.Duration
				var raw bool
				if err := labtest.InNetns(ns.Name, func() error {
					fd, r, err := pingSocket(strings.Contains(tc.dst, ":"))
					if err != nil {
						return err
					}
					unixClose(fd)
					raw = r
					dur, perr = runProbe(t, c, vs, rs)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if wantRaw := groups == "1\t0"; raw != wantRaw {
					t.Errorf("ping_group_range %s: raw socket %v, want %v", groups, raw, wantRaw)
				}
				if (perr == nil) != tc.ok {
					t.Errorf("ping %s (raw %v): %v, want ok %v", tc.dst, raw, perr, tc.ok)
				}
				t.Logf("ping %s (raw %v): %v after %v", tc.dst, raw, perr, dur)
			}
		}
	})
}

func unixClose(fd int) { _ = unix.Close(fd) }

// TestEchoRequestBytes: the echo keepalived 2.2.7's ping_it writes: an
// 8-byte header and 128 bytes of its filler, with a valid checksum.
func TestEchoRequestBytes(t *testing.T) {
	b := echoRequest(false, 0x0102, 7)
	if len(b) != 136 || b[0] != 8 || b[1] != 0 || !bytes.HasPrefix(b[8:], []byte("keepalived check - keepalived")) {
		t.Fatalf("echo %x", b)
	}
	if icmpChecksum(b) != 0 {
		t.Errorf("checksum does not verify: %x", b[2:4])
	}
	if b6 := echoRequest(true, 1, 1); b6[0] != 128 {
		t.Errorf("ICMPv6 echo type %d", b6[0])
	}
}

// TestDatagramRetriesOnlyWhileUp: DNS_CHECK, UDP_CHECK and PING_CHECK
// retry (delay_before_retry) only while up; once down, a failure waits
// delay_loop and counts nothing (keepalived 2.2.7 dns_final, udp_epilog,
// icmp_epilog), where TCP_CHECK retries in both states.
func TestDatagramRetriesOnlyWhileUp(t *testing.T) {
	for _, typ := range []config.CheckerType{config.CheckDNS, config.CheckUDP, config.CheckPing, config.CheckTCP} {
		c := &config.Checker{Type: typ, Retry: 2, DelayLoop: 10 * time.Second, DelayBeforeRetry: time.Second}
		tr := tracker{up: true, weight: -1}
		var nexts []time.Duration
		var changes []bool
		for range 6 {
			ch, next := tr.observe(false, -1, c)
			nexts = append(nexts, next)
			changes = append(changes, ch)
		}
		got := fmt.Sprint(changes, nexts)
		want := "[false false true false false false] [1s 1s 10s 10s 10s 10s]"
		if typ == config.CheckTCP {
			want = "[false false true false false false] [1s 1s 10s 1s 1s 10s]"
		}
		if got != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
		if ch, _ := tr.observe(true, -1, c); !ch || !tr.up {
			t.Errorf("%s: a pass does not bring it back", typ)
		}
	}
}

// TestDNSCheckDefaults: retry 3 and delay_before_retry = delay_loop by
// default (keepalived 2.2.7 dns_check_handler), SOA of the root.
func TestDNSCheckDefaults(t *testing.T) {
	c, _, _ := parseChecker(t, `virtual_server 10.0.0.1 53 {
    protocol UDP
    delay_loop 7
    real_server 127.0.0.1 53 {
        DNS_CHECK {
        }
        UDP_CHECK {
        }
    }
}
`)
	if c.Retry != 3 || c.DelayBeforeRetry != 7*time.Second || c.Extra().DNSType != "SOA" || c.Extra().DNSName != "" {
		t.Errorf("DNS_CHECK defaults: retry %d dbr %v type %q name %q", c.Retry, c.DelayBeforeRetry, c.Extra().DNSType, c.Extra().DNSName)
	}
}

func FuzzDNSVerdict(f *testing.F) {
	f.Add(uint16(1), []byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Add(uint16(1), []byte{0, 1, 0x81})
	f.Fuzz(func(t *testing.T, id uint16, b []byte) {
		done, err := dnsVerdict(id, b)
		if !done && err != nil {
			t.Fatal("an error without a verdict")
		}
		if done && (len(b) < 8 || binary.BigEndian.Uint16(b) != id || b[2]&0x80 == 0) {
			t.Fatal("a verdict on a datagram that is not the answer")
		}
	})
}

func FuzzUDPReplyVerdict(f *testing.F) {
	f.Add([]byte("pong"), []byte("po"), []byte{0, 0xf}, 0, 255)
	f.Fuzz(func(t *testing.T, reply, data, mask []byte, lo, hi int) {
		c := &config.Checker{Ext: &config.CheckerExtra{ReplyData: data, MinReplyLen: lo, MaxReplyLen: hi}}
		if len(mask) >= len(data) && mask != nil {
			c.MutExtra().ReplyMask = mask[:len(data)]
		}
		err := udpReplyVerdict(c, reply)
		if data != nil && (len(reply) < lo || len(reply) > hi) && err == nil {
			t.Fatal("length outside the bounds passed")
		}
	})
}

func FuzzEchoVerdict(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 2}, false, false)
	f.Add(append([]byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}, 0, 0, 0, 0, 0, 1, 0, 2), false, true)
	f.Fuzz(func(t *testing.T, b []byte, v6, raw bool) {
		done, err := echoVerdict(b, v6, raw, 1, 2)
		if raw && err != nil {
			t.Fatal("a raw socket's stray packet failed the check")
		}
		if !raw && !done {
			t.Fatal("a datagram socket's packet left undecided")
		}
	})
}

// TestHTTPRegex: url regex, regex_no_match, regex_options and the
// regex_min_offset/regex_max_offset window as keepalived 2.2.7's
// check_regex applies them: against the response from its status line
// (headers included), the first match at or after the minimum offset
// counting only if it starts at or before the maximum.
func TestHTTPRegex(t *testing.T) {
	body := "<html>status: OK\nload 3</html>"
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "alpha")
		_, _ = w.Write([]byte(body))
	}))
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	// The response's raw bytes, to place the offsets.
	c0, vs0, rs0 := parseChecker(t, httpRegexConf(port, "regex OK"))
	probe0, _ := NewProbe(c0, vs0, rs0, nil)
	if _, err := probe0(context.Background()); err != nil {
		t.Fatalf("plain regex: %v", err)
	}
	raw := rawResponse(t, srv.addr)
	okAt := strings.Index(raw, "load")
	if okAt < 0 || strings.Count(raw, "load") != 1 {
		t.Fatalf("not one load in %q", raw)
	}
	cases := []struct {
		name, body string
		wantErr    string
	}{
		{"match", `regex "status: OK"`, ""},
		{"no-match", `regex "status: DOWN"`, "did not match"},
		{"header-matches", `regex "X-Backend: alpha"`, ""},
		{"no_match-inverts", "regex DOWN\nregex_no_match", ""},
		{"no_match-fails", "regex OK\nregex_no_match", "matched"},
		{"caseless", "regex ok\nregex_options caseless", ""},
		{"case-sensitive", "regex ok", "did not match"},
		{"multiline", "regex \"^load [0-9]\"\nregex_options multiline", ""},
		{"no-multiline", "regex \"^load [0-9]\"", "did not match"},
		{"min-offset-at", fmt.Sprintf("regex load\nregex_min_offset %d", okAt), ""},
		{"min-offset-past", fmt.Sprintf("regex load\nregex_min_offset %d", okAt+1), "did not match"},
		{"max-offset-at", fmt.Sprintf("regex load\nregex_max_offset %d", okAt), ""},
		{"max-offset-before", fmt.Sprintf("regex load\nregex_max_offset %d", okAt-1), "did not match"},
		{"window", fmt.Sprintf("regex load\nregex_min_offset %d\nregex_max_offset %d", okAt-3, okAt+3), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, vs, rs := parseChecker(t, httpRegexConf(port, tc.body))
			p, err := NewProbe(c, vs, rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p(context.Background())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func httpRegexConf(port, body string) string {
	return `virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 127.0.0.1 ` + port + ` {
        HTTP_GET {
            connect_timeout 2
            url {
                path /
` + body + `
            }
        }
    }
}
`
}

// rawResponse is what an HTTP_GET for / reads from addr.
func rawResponse(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ap := netip.MustParseAddrPort(addr)
	if _, err := c.Write(httpRequest("/", "", "", ap)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

// smtpServer runs a scripted SMTP dialogue on loopback: greet is sent on
// connect, then each line read is answered by reply (nil closes).
func smtpServer(t *testing.T, greet string, reply func(line string) *string) (string, *atomic.Value) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var got atomic.Value
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Write([]byte(greet))
				var seen []string
				buf := make([]byte, 512)
				pending := ""
				for {
					n, err := c.Read(buf)
					if n <= 0 || err != nil {
						return
					}
					pending += string(buf[:n])
					for {
						i := strings.Index(pending, "\n")
						if i < 0 {
							break
						}
						line := pending[:i+1]
						pending = pending[i+1:]
						seen = append(seen, line)
						got.Store(append([]string(nil), seen...))
						r := reply(line)
						if r == nil {
							return
						}
						_, _ = c.Write([]byte(*r))
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), &got
}

func strp(s string) *string { return &s }

// TestSMTPCheckDialogue: keepalived 2.2.7's SMTP_CHECK dialogue and
// verdicts: "HELO name" (smtpchecker.keepalived.org by default) and QUIT
// are sent; the greeting must be 220 and the HELO answer 250, each on its
// first line and followed by a space or the line's end; a multi-line
// greeting fails, as in keepalived; a close before the QUIT answer fails.
func TestSMTPCheckDialogue(t *testing.T) {
	normal := func(line string) *string {
		switch {
		case strings.HasPrefix(line, "HELO"):
			return strp("250 hello\r\n")
		case line == "QUIT\r\n":
			return strp("221 bye\r\n")
		}
		return strp("500 what\r\n")
	}
	for _, tc := range []struct {
		name, greet, helo string
		reply             func(string) *string
		wantErr           string
		wantSent          []string
	}{
		{"ok", "220 mx ESMTP\r\n", "", normal, "", []string{"HELO smtpchecker.keepalived.org\r\n", "QUIT\r\n"}},
		{"helo_name", "220 mx ESMTP\r\n", "helo_name lb1.example.com", normal, "", []string{"HELO lb1.example.com\r\n", "QUIT\r\n"}},
		{"bare-220", "220\n", "", normal, "", nil},
		{"220-cr", "220\r\n", "", normal, "bad greeting", nil},
		{"multiline-greeting", "220-mx first\r\n220 mx\r\n", "", normal, "bad greeting", nil},
		{"554", "554 go away\r\n", "", normal, "bad greeting", nil},
		{"helo-refused", "220 mx\r\n", "", func(l string) *string { return strp("502 no\r\n") }, "bad HELO", nil},
		{"no-quit-answer", "220 mx\r\n", "", func(l string) *string {
			if strings.HasPrefix(l, "HELO") {
				return strp("250 ok\r\n")
			}
			return nil
		}, "read failure", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, sent := smtpServer(t, tc.greet, tc.reply)
			port := addr[strings.LastIndexByte(addr, ':')+1:]
			c, vs, rs := parseChecker(t, `virtual_server 10.0.0.1 25 {
    protocol TCP
    real_server 127.0.0.1 `+port+` {
        SMTP_CHECK {
            connect_timeout 1
            `+tc.helo+`
        }
    }
}
`)
			_, err := runProbe(t, c, vs, rs)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if tc.wantSent != nil {
				got, _ := sent.Load().([]string)
				if fmt.Sprint(got) != fmt.Sprint(tc.wantSent) {
					t.Errorf("sent %q, want %q", got, tc.wantSent)
				}
			}
		})
	}
}

// TestSMTPCheckAiosmtpd: SMTP_CHECK against a real SMTP server (Python's
// aiosmtpd) on loopback passes, and fails once it is stopped.
func TestSMTPCheckAiosmtpd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts aiosmtpd")
	}
	py := labtest.NeedBinary(t, "/usr/bin/python3") // Debian's, with python3-aiosmtpd (not a pyenv shim on PATH)
	srv := startAiosmtpd(t, py)
	c, vs, rs := parseChecker(t, fmt.Sprintf(`virtual_server 10.0.0.1 25 {
    protocol TCP
    real_server 127.0.0.1 %d {
        SMTP_CHECK {
            connect_timeout 2
            helo_name lvsd.test
        }
    }
}
`, srv.port))
	// Python starts slowly beside the lab VMs of make test: up to a minute.
	if _, ok := labtest.Poll(60*time.Second, 100*time.Millisecond, func() bool { _, err := runProbe(t, c, vs, rs); return err == nil }); !ok {
		_, err := runProbe(t, c, vs, rs)
		labtest.Need(t, false, "aiosmtpd never passed the check (is python3-aiosmtpd installed?): %v\naiosmtpd: %s", err, srv.out.String())
	}
	srv.stop()
	if _, err := runProbe(t, c, vs, rs); err == nil {
		t.Error("passes with the SMTP server stopped")
	}
}

// aiosmtpdServer is a running `python3 -m aiosmtpd` on a loopback port.
type aiosmtpdServer struct {
	port int
	out  *lockedBuffer
	stop func()
}

// startAiosmtpd starts aiosmtpd on a free loopback port. A port found free
// can be taken by a parallel test before Python binds it (seen under make
// test: "address already in use"), so a server that exits within its first
// seconds is started again on another port, up to five times.
func startAiosmtpd(t *testing.T, py string) aiosmtpdServer {
	t.Helper()
	for attempt := 1; ; attempt++ {
		var out lockedBuffer
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command(py, "-m", "aiosmtpd", "-n", "-l", fmt.Sprintf("127.0.0.1:%d", port))
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		t.Cleanup(stop)
		// Bound or failed: either it accepts a connection or it has exited.
		_, ok := labtest.Poll(60*time.Second, 50*time.Millisecond, func() bool {
			select {
			case <-exited:
				return true
			default:
			}
			conn, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				conn.Close()
				return true
			}
			return false
		})
		select {
		case <-exited:
			if attempt < 5 && strings.Contains(out.String(), "address already in use") {
				t.Logf("aiosmtpd attempt %d: port %d taken, trying another", attempt, port)
				continue
			}
			labtest.Need(t, false, "aiosmtpd exited (is python3-aiosmtpd installed?): %s", out.String())
		default:
		}
		if !ok {
			labtest.Need(t, false, "aiosmtpd did not listen on port %d within a minute: %s", port, out.String())
		}
		return aiosmtpdServer{port: port, out: &out, stop: stop}
	}
}

func FuzzSMTPStatus(f *testing.F) {
	for _, s := range []string{"220 mx", "220", "220-mx", "220\r", "2200", " 220", "abc"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		st := smtpStatus(line)
		ok := len(line) >= 3 && (len(line) == 3 || line[3] == ' ')
		for _, c := range line[:min(3, len(line))] {
			ok = ok && c >= '0' && c <= '9'
		}
		if (st >= 0) != ok || st > 999 {
			t.Fatalf("%q: status %d", line, st)
		}
	})
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
