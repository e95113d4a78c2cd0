package config

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func init() {
	for _, typ := range []string{"DNS_CHECK", "UDP_CHECK", "PING_CHECK"} {
		for _, kw := range []string{"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "delay_before_retry", "delay_loop", "fwmark", "log_all_failures", "retry", "warmup"} {
			keywordBehaviourTests["virtual_server/real_server/"+typ+" "+kw] = "internal/config.TestDatagramCheckerKeywords"
		}
	}
	for k, v := range map[string]string{
		"virtual_server/real_server/DNS_CHECK connect_timeout":  "internal/check.TestDNSCheckVerdicts",
		"virtual_server/real_server/DNS_CHECK type":             "internal/check.TestDNSCheckVerdicts",
		"virtual_server/real_server/DNS_CHECK name":             "internal/check.TestDNSCheckDnsmasq",
		"virtual_server/real_server/UDP_CHECK connect_timeout":  "internal/check.TestUDPCheckVerdicts",
		"virtual_server/real_server/UDP_CHECK payload":          "internal/check.TestUDPCheckVerdicts",
		"virtual_server/real_server/UDP_CHECK require_reply":    "internal/check.TestUDPCheckVerdicts",
		"virtual_server/real_server/UDP_CHECK min_reply_length": "internal/check.TestUDPCheckVerdicts",
		"virtual_server/real_server/UDP_CHECK max_reply_length": "internal/check.TestUDPCheckVerdicts",
		"virtual_server/real_server/PING_CHECK connect_timeout": "internal/check.TestPingCheck",
	} {
		keywordBehaviourTests[k] = v
	}
}

func buildOne(t *testing.T, src string) (*Config, []Diagnostic) {
	t.Helper()
	res := Load("t.conf", Options{ConfigID: "t", FS: MapFS{"t.conf": src}})
	return res.Config, res.Diags.Sorted()
}

// TestDatagramCheckerKeywords: DNS_CHECK, UDP_CHECK and PING_CHECK take
// keepalived 2.2.7's common checker keywords with the connection ones
// (install_checker_common_keywords(true)) into the model the probes read.
// PING_CHECK warns about the ones its ICMP echo cannot use.
func TestDatagramCheckerKeywords(t *testing.T) {
	for typ, src := range map[string]string{
		"DNS_CHECK": `virtual_server 10.0.0.1 53 {
    protocol UDP
    real_server 10.0.0.2 53 {
        DNS_CHECK {
            connect_ip 10.0.0.3
            connect_port 5353
            bindto 10.0.0.4
            bind_port 4000
            bind_if lo
            fwmark 7
            connect_timeout 2
            retry 5
            delay_before_retry 4
            warmup 6
            delay_loop 9
            alpha
            log_all_failures
        }
    }
}
`,
		"UDP_CHECK": `virtual_server 10.0.0.1 53 {
    protocol UDP
    real_server 10.0.0.2 53 {
        UDP_CHECK {
            connect_ip 10.0.0.3
            connect_port 5353
            bindto 10.0.0.4
            bind_port 4000
            bind_if lo
            fwmark 7
            connect_timeout 2
            retry 5
            delay_before_retry 4
            warmup 6
            delay_loop 9
            alpha
            log_all_failures
        }
    }
}
`,
		"PING_CHECK": `virtual_server 10.0.0.1 53 {
    protocol UDP
    real_server 10.0.0.2 53 {
        PING_CHECK {
            connect_ip 10.0.0.3
            connect_port 5353
            bindto 10.0.0.4
            bind_port 4000
            bind_if lo
            fwmark 7
            connect_timeout 2
            retry 5
            delay_before_retry 4
            warmup 6
            delay_loop 9
            alpha
            log_all_failures
        }
    }
}
`,
	} {
		cfg, diags := buildOne(t, src)
		c := cfg.VirtualServers[0].RealServers[0].Checkers[0]
		want := Checker{Type: checkerOf(t, typ), ConnectIP: netip.MustParseAddr("10.0.0.3"), ConnectPort: 5353, BindTo: netip.MustParseAddr("10.0.0.4"),
			BindPort: 4000, BindIf: "lo", FWMark: 7, ConnectTimeout: 2 * time.Second, Retry: 5, DelayBeforeRetry: 4 * time.Second,
			Warmup: 6 * time.Second, DelayLoop: 9 * time.Second, Alpha: true, LogAllFailures: true}
		if typ == "PING_CHECK" {
			// warned and not kept: an ICMP echo has no port, source
			// binding or mark in keepalived 2.2.7 either
			want.ConnectPort, want.BindTo, want.BindPort, want.FWMark = 53, netip.Addr{}, 0, 0
		}
		got := *c
		got.Pos = Pos{}
		got.Ext = nil
		if got.Type != want.Type || got.ConnectIP != want.ConnectIP || got.ConnectPort != want.ConnectPort || got.BindTo != want.BindTo ||
			got.BindPort != want.BindPort || got.BindIf != want.BindIf || got.FWMark != want.FWMark || got.ConnectTimeout != want.ConnectTimeout ||
			got.Retry != want.Retry || got.DelayBeforeRetry != want.DelayBeforeRetry || got.Warmup != want.Warmup || got.DelayLoop != want.DelayLoop ||
			got.Alpha != want.Alpha || got.LogAllFailures != want.LogAllFailures {
			t.Errorf("%s: %+v\nwant %+v", typ, got, want)
		}
		warned := 0
		for _, d := range diags {
			if strings.Contains(d.Message, "PING_CHECK:") && strings.Contains(d.Message, "has no effect") {
				warned++
			}
		}
		if want := map[bool]int{true: 5, false: 0}[typ == "PING_CHECK"]; warned != want {
			t.Errorf("%s: %d no-effect warnings, want %d: %v", typ, warned, want, diags)
		}
	}
}

// TestDatagramCheckerConfig: keepalived 2.2.7's defaults and what it logs
// and skips in DNS_CHECK and UDP_CHECK.
func TestDatagramCheckerConfig(t *testing.T) {
	wrap := func(body string) string {
		return "virtual_server 10.0.0.1 53 {\n protocol UDP\n real_server 10.0.0.2 53 {\n" + body + "\n }\n}\n"
	}
	cases := []struct {
		name  string
		body  string
		check func(*Checker) bool
		diag  string // a diagnostic containing this ("" none)
	}{
		{"dns-defaults", "DNS_CHECK {\n}", func(c *Checker) bool {
			return c.Extra().DNSType == "SOA" && c.Extra().DNSName == "" && c.Retry == 3 && c.DelayBeforeRetry == 60*time.Second
		}, ""},
		{"dns-type-case", "DNS_CHECK {\n type aaaa\n name www.example.com\n}", func(c *Checker) bool { return c.Extra().DNSType == "AAAA" && c.Extra().DNSName == "www.example.com" }, ""},
		{"dns-type-unknown", "DNS_CHECK {\n type SRV\n}", func(c *Checker) bool { return c.Extra().DNSType == "SOA" }, "Unknown DNS check type SRV"},
		{"dns-name-twice", "DNS_CHECK {\n name one.example\n name two.example\n}", func(c *Checker) bool { return c.Extra().DNSName == "one.example" }, "already specified"},
		{"dns-name-empty-label", "DNS_CHECK {\n name bad..example\n}", func(c *Checker) bool { return c.Extra().DNSName == "" }, "empty label"},
		{"dns-name-one-char-first-label", "DNS_CHECK {\n name a.example\n}", func(c *Checker) bool { return c.Extra().DNSName == "" }, "empty label"},
		{"dns-name-root", "DNS_CHECK {\n name .\n}", func(c *Checker) bool { return c.Extra().DNSName == "." }, ""},
		{"dns-rs-dbr", "delay_before_retry 2\nDNS_CHECK {\n}", func(c *Checker) bool { return c.DelayBeforeRetry == 2*time.Second }, ""},
		{"udp-defaults", "UDP_CHECK {\n}", func(c *Checker) bool {
			return c.Extra().Payload == nil && !c.Extra().RequireReply && c.Extra().MinReplyLen == 0 && c.Extra().MaxReplyLen == 255 && c.Retry == 1 && c.DelayBeforeRetry == time.Second
		}, ""},
		{"udp-payload", "UDP_CHECK {\n payload 01 2 0a0B\n}", func(c *Checker) bool { return bytes.Equal(c.Extra().Payload, []byte{1, 2, 0x0a, 0x0b}) }, ""},
		{"udp-payload-bad", "UDP_CHECK {\n payload 01zz\n}", func(c *Checker) bool { return c.Extra().Payload == nil }, "Invalid hex string for UDP_CHECK payload"},
		{"udp-payload-trailing-ff", "UDP_CHECK {\n payload 01 ff\n}", func(c *Checker) bool { return c.Extra().Payload == nil }, "Invalid hex string"},
		{"udp-payload-no-wildcard", "UDP_CHECK {\n payload 0x\n}", func(c *Checker) bool { return c.Extra().Payload == nil }, "Invalid hex string"},
		{"udp-reply-mask", "UDP_CHECK {\n require_reply 7x X0 12\n}", func(c *Checker) bool {
			return c.Extra().RequireReply && bytes.Equal(c.Extra().ReplyData, []byte{0x70, 0x00, 0x12}) && bytes.Equal(c.Extra().ReplyMask, []byte{0x0f, 0xf0, 0})
		}, ""},
		{"udp-reply-bad", "UDP_CHECK {\n require_reply zz\n}", func(c *Checker) bool { return c.Extra().RequireReply && c.Extra().ReplyData == nil }, "Invalid hex string for UDP_CHECK reply"},
		{"udp-lengths", "UDP_CHECK {\n require_reply 01\n min_reply_length 3\n max_reply_length 9\n}", func(c *Checker) bool { return c.Extra().MinReplyLen == 3 && c.Extra().MaxReplyLen == 9 }, ""},
		{"udp-length-bad", "UDP_CHECK {\n max_reply_length 70000\n}", func(c *Checker) bool { return c.Extra().MaxReplyLen == 255 }, "must be between 0 & 65535"},
		{"udp-min-over-max", "UDP_CHECK {\n require_reply 01\n min_reply_length 30\n max_reply_length 9\n}", func(c *Checker) bool { return c.Extra().MinReplyLen == 30 }, "will always fail"},
		{"ping-retry", "PING_CHECK {\n retry 4\n}", func(c *Checker) bool { return c.Retry == 4 && c.DelayBeforeRetry == time.Second }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := buildOne(t, wrap(tc.body))
			rs := cfg.VirtualServers[0].RealServers[0]
			if len(rs.Checkers) != 1 || !tc.check(rs.Checkers[0]) {
				t.Errorf("checkers %+v", rs.Checkers)
			}
			found := false
			for _, d := range diags {
				if tc.diag != "" && strings.Contains(d.Message, tc.diag) {
					found = true
				}
			}
			if tc.diag != "" && !found {
				t.Errorf("no diagnostic %q in %v", tc.diag, diags)
			}
			if tc.diag == "" && len(diags) > 0 {
				t.Errorf("diagnostics %v", diags)
			}
		})
	}
	t.Run("link-local-without-bind_if", func(t *testing.T) {
		cfg, diags := buildOne(t, "virtual_server fd00::1 53 {\n protocol UDP\n real_server fe80::2 53 {\n UDP_CHECK {\n }\n PING_CHECK {\n bind_if lo\n }\n }\n}\n")
		rs := cfg.VirtualServers[0].RealServers[0]
		if len(rs.Checkers) != 1 || rs.Checkers[0].Type != CheckPing {
			t.Errorf("checkers %+v", rs.Checkers)
		}
		if !strings.Contains(diagMessages(diags), "requires a bind_if") {
			t.Errorf("diagnostics %v", diags)
		}
	})
}

func diagMessages(ds []Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Message + "\n")
	}
	return b.String()
}

func FuzzReadHexString(f *testing.F) {
	for _, s := range []string{"01 02", "7x X0", "ff", "a b c", "0\t1", ""} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, wild bool) {
		data, mask := ReadHexString(s, wild)
		if data == nil && mask != nil || mask != nil && len(mask) != len(data) {
			t.Fatalf("%q: data %x mask %x", s, data, mask)
		}
		if !wild && mask != nil {
			t.Fatalf("%q: a mask without wildcards", s)
		}
		if len(data) > (len(s)+1)/2+len(s) {
			t.Fatalf("%q: %d bytes", s, len(data))
		}
	})
}

func init() {
	// url regex is matched now (internal/check regexVerdict).
	for _, k := range []string{"URL.Regex", "URL.RegexNoMatch"} {
		delete(unreadFieldsAllowed, k)
	}
	for _, path := range []string{"HTTP_GET", "SSL_GET"} {
		for _, kw := range []string{"regex", "regex_no_match"} {
			delete(keywordsWithoutBehaviourTest, "virtual_server/real_server/"+path+"/url "+kw)
		}
	}
	for _, kw := range []string{"regex", "regex_no_match", "regex_options", "regex_min_offset", "regex_max_offset"} {
		keywordBehaviourTests["virtual_server/real_server/HTTP_GET/url "+kw] = "internal/check.TestHTTPRegex"
		keywordBehaviourTests["virtual_server/real_server/SSL_GET/url "+kw] = "internal/config.TestURLRegexConfig"
	}
}

// TestURLRegexConfig: a url's regex keywords as keepalived 2.2.7's
// check_http.c reads them (the same for HTTP_GET and SSL_GET): regex_options
// mapped onto RE2 flags, regex_max_offset kept one beyond, and what it logs
// and drops: a regex that does not compile, regex parameters without a
// regex, a minimum offset not below the maximum.
func TestURLRegexConfig(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want URL
		diag string
	}{
		{"all", `virtual_server 10.0.0.1 443 {
    protocol TCP
    real_server 10.0.0.2 443 {
        SSL_GET {
            url {
                path /
                regex "load [0-9]+"
                regex_no_match
                regex_options caseless dotall
                regex_min_offset 10
                regex_max_offset 200
            }
        }
    }
}
`, URL{Regex: "load [0-9]+", RegexNoMatch: true, RegexFlags: "is", RegexMinOffset: 10, RegexMaxOffset: 201}, ""},
		{"re2-refuses", `virtual_server 10.0.0.1 443 {
    protocol TCP
    real_server 10.0.0.2 443 {
        SSL_GET {
            url {
                path /
                regex "(?<=a)b"
                regex_no_match
            }
        }
    }
}
`, URL{}, "Invalid regex"},
		{"without-regex", `virtual_server 10.0.0.1 443 {
    protocol TCP
    real_server 10.0.0.2 443 {
        SSL_GET {
            url {
                path /
                regex_min_offset 3
            }
        }
    }
}
`, URL{}, "regex parameters specified without regex"},
		{"min-not-below-max", `virtual_server 10.0.0.1 443 {
    protocol TCP
    real_server 10.0.0.2 443 {
        SSL_GET {
            url {
                path /
                regex ok
                regex_min_offset 9
                regex_max_offset 8
            }
        }
    }
}
`, URL{Regex: "ok"}, "regex min offset 9 > regex_max_offset 8"},
		{"extended", `virtual_server 10.0.0.1 443 {
    protocol TCP
    real_server 10.0.0.2 443 {
        SSL_GET {
            url {
                path /
                regex ok
                regex_options extended ungreedy frobnicate
            }
        }
    }
}
`, URL{Regex: "ok", RegexFlags: "U"}, "cannot be honoured"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := buildOne(t, tc.src)
			u := cfg.VirtualServers[0].RealServers[0].Checkers[0].Extra().URLs[0]
			if u.Regex != tc.want.Regex || u.RegexNoMatch != tc.want.RegexNoMatch || u.RegexFlags != tc.want.RegexFlags ||
				u.RegexMinOffset != tc.want.RegexMinOffset || u.RegexMaxOffset != tc.want.RegexMaxOffset {
				t.Errorf("url %+v, want %+v", u, tc.want)
			}
			text := diagMessages(diags)
			if tc.diag != "" && !strings.Contains(text, tc.diag) || tc.diag == "" && text != "" {
				t.Errorf("diagnostics %q, want %q", text, tc.diag)
			}
		})
	}
}

func init() {
	keywordBehaviourTests["virtual_server/real_server/FILE_CHECK track_file"] = "internal/check.TestFileCheckFollowsFile"
	keywordBehaviourTests["virtual_server/real_server/FILE_CHECK weight"] = "internal/check.TestFileCheckFollowsFile"
}

// TestFileCheckConfig: FILE_CHECK as keepalived 2.2.7's check_file.c reads
// it: the block's weight and reverse by default, its own when given, and
// what it logs and drops.
func TestFileCheckConfig(t *testing.T) {
	const head = "track_file tf {\n file /run/lvsd-tf\n weight -4 reverse\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.0.2 80 {\n"
	for _, tc := range []struct {
		name, body string
		ok         bool
		weight     int
		reverse    bool
		diag       string
	}{
		{"defaults", "FILE_CHECK {\n track_file tf\n}", true, -4, true, ""},
		{"own-weight", "FILE_CHECK {\n track_file tf\n weight 7\n}", true, 7, false, ""},
		{"own-weight-noreverse", "FILE_CHECK {\n track_file tf\n weight 7 noreverse\n}", true, 7, false, ""},
		{"bad-option", "FILE_CHECK {\n track_file tf\n weight 7 sideways\n}", true, -4, true, "unknown track file weight option"},
		{"bad-weight", "FILE_CHECK {\n track_file tf\n weight 3000000000\n}", true, -4, true, "must be in"},
		{"unknown-file", "FILE_CHECK {\n track_file nope\n}", false, 0, false, "track_file nope not found"},
		{"no-file", "FILE_CHECK {\n weight 2\n}", false, 0, false, "has no track_file"},
		{"timers-unknown", "FILE_CHECK {\n track_file tf\n delay_loop 3\n}", true, -4, true, "unknown keyword"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := buildOne(t, head+tc.body+"\n }\n}\n")
			rs := cfg.VirtualServers[0].RealServers[0]
			text := diagMessages(diags)
			if tc.diag != "" && !strings.Contains(text, tc.diag) || tc.diag == "" && text != "" {
				t.Errorf("diagnostics %q, want %q", text, tc.diag)
			}
			if !tc.ok {
				if len(rs.Checkers) != 0 {
					t.Errorf("checker kept: %+v", rs.Checkers[0])
				}
				return
			}
			c := rs.Checkers[0]
			if c.Type != CheckFile || c.Extra().TrackFile != "tf" || c.Extra().TrackFilePath != "/run/lvsd-tf" || c.Extra().FileWeight != tc.weight || c.Extra().FileReverse != tc.reverse {
				t.Errorf("checker %+v", c)
			}
		})
	}
}

func init() {
	for _, kw := range []string{"alpha", "bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "connect_timeout", "delay_before_retry", "delay_loop", "fwmark", "log_all_failures", "retry", "warmup"} {
		keywordBehaviourTests["virtual_server/real_server/SMTP_CHECK "+kw] = "internal/config.TestSMTPCheckConfig"
		keywordBehaviourTests["virtual_server/real_server/SMTP_CHECK/host "+kw] = "internal/config.TestSMTPCheckConfig"
	}
	keywordBehaviourTests["virtual_server/real_server/SMTP_CHECK helo_name"] = "internal/check.TestSMTPCheckDialogue"
}

// TestSMTPCheckConfig: SMTP_CHECK as keepalived 2.2.7's check_smtp.c reads
// it: the common keywords with the connection ones, helo_name, and the
// deprecated host blocks, each a checker of its own with its connection
// settings (the block's own ones make one more, else the first host's
// replace them); a host's other common keywords set the checker.
func TestSMTPCheckConfig(t *testing.T) {
	cfg, diags := buildOne(t, `virtual_server 10.0.0.1 25 {
    protocol TCP
    real_server 10.0.0.2 25 {
        SMTP_CHECK {
            helo_name lb.example.com
            retry 4
            delay_before_retry 2
            delay_loop 8
            warmup 3
            alpha
            log_all_failures
            host {
                connect_ip 10.0.0.3
                connect_port 2525
                bindto 10.0.0.9
                bind_port 4025
                bind_if lo
                fwmark 5
                connect_timeout 7
                retry 6
                delay_before_retry 1
                delay_loop 9
                warmup 4
                alpha
                log_all_failures
            }
            host {
                connect_ip 10.0.0.4
            }
        }
        SMTP_CHECK {
            connect_ip 10.0.0.5
            connect_port 26
            bindto 10.0.0.10
            bind_port 4026
            bind_if lo
            fwmark 6
            connect_timeout 3
            host {
                connect_ip 10.0.0.6
            }
        }
    }
}
`)
	rs := cfg.VirtualServers[0].RealServers[0]
	var got []string
	for _, c := range rs.Checkers {
		got = append(got, fmt.Sprintf("%s %v:%d bind %v:%d %s mark %d timeout %v retry %d dbr %v loop %v warmup %v alpha %v log %v helo %s",
			c.Type, c.ConnectIP, c.ConnectPort, c.BindTo, c.BindPort, c.BindIf, c.FWMark, c.ConnectTimeout, c.Retry, c.DelayBeforeRetry, c.DelayLoop, c.Warmup, c.Alpha, c.LogAllFailures, c.Extra().HeloName))
	}
	want := []string{
		"SMTP_CHECK 10.0.0.3:2525 bind 10.0.0.9:4025 lo mark 5 timeout 7s retry 6 dbr 1s loop 9s warmup 4s alpha true log true helo lb.example.com",
		"SMTP_CHECK 10.0.0.4:25 bind invalid IP:0  mark 0 timeout 5s retry 6 dbr 1s loop 9s warmup 4s alpha true log true helo lb.example.com",
		"SMTP_CHECK 10.0.0.5:26 bind 10.0.0.10:4026 lo mark 6 timeout 3s retry 1 dbr 1s loop 1m0s warmup 1m0s alpha false log false helo smtpchecker.keepalived.org",
		"SMTP_CHECK 10.0.0.6:25 bind invalid IP:0  mark 0 timeout 5s retry 1 dbr 1s loop 1m0s warmup 1m0s alpha false log false helo smtpchecker.keepalived.org",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("checkers:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := strings.Count(diagMessages(diags), "host block is deprecated"); n != 2 {
		t.Errorf("diagnostics %v", diags)
	}
}
