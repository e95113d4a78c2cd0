package alert

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMessagesGolden pins every subject and body keepalived 2.2.7 writes
// (core/smtp.c smtp_alert, vrrp/vrrp_notify.c, the checkers'
// smtp_alert calls, check/ipwrapper.c), and the DATA payload around them,
// against testdata/messages.golden.
func TestMessagesGolden(t *testing.T) {
	var b bytes.Buffer
	add := func(what string, m Message) {
		fmt.Fprintf(&b, "== %s\nSubject: %s\nBody: %s\n", what, m.Subject, m.Body)
	}
	for _, st := range []string{StateMaster, StateBackup, StateFault, StateStopped, StateDeleted} {
		m, ok := InstanceMessage("LVS_1", "VI_1", st)
		if !ok {
			t.Fatalf("no instance message for %s", st)
		}
		add("instance "+st, m)
	}
	for _, st := range []string{StateMaster, StateBackup, StateFault, StateStopped} {
		m, ok := GroupMessage("LVS_1", "VG_1", st)
		if !ok {
			t.Fatalf("no group message for %s", st)
		}
		add("group "+st, m)
	}
	if _, ok := GroupMessage("LVS_1", "VG_1", StateDeleted); ok {
		t.Error("keepalived sends no group mail for DELETED")
	}
	if _, ok := InstanceMessage("LVS_1", "VI_1", "INIT"); ok {
		t.Error("keepalived sends no instance mail for INIT")
	}
	vs4 := VirtualServer{Addr: netip.MustParseAddrPort("10.0.0.1:80"), Protocol: config.ProtoTCP}
	vs6 := VirtualServer{Addr: netip.MustParseAddrPort("[2001:db8::1]:53"), Protocol: config.ProtoUDP}
	fwm := VirtualServer{FWMark: 7, Protocol: config.ProtoTCP}
	grp := VirtualServer{Group: "web", Protocol: config.ProtoSCTP}
	rs4 := netip.MustParseAddrPort("192.168.1.2:8080")
	rs6 := netip.MustParseAddrPort("[2001:db8::2]:5353")
	for _, typ := range []config.CheckerType{config.CheckTCP, config.CheckHTTP, config.CheckSSL, config.CheckSMTP, config.CheckMisc, config.CheckDNS, config.CheckUDP, config.CheckPing} {
		add(typ.String()+" down", RealServerMessage("LVS_1", rs4, vs4, false, CheckerBody(typ, false)))
		add(typ.String()+" up", RealServerMessage("LVS_1", rs4, vs4, true, CheckerBody(typ, true)))
	}
	if CheckerBody(config.CheckFile, false) != "" {
		t.Error("keepalived 2.2.7's FILE_CHECK mails nothing")
	}
	add("misc timed out", RealServerMessage("LVS_1", rs4, vs4, false, MiscBody("timed out")))
	add("bfd", RealServerMessage("LVS_1", rs4, vs4, false, BFDBody("bfd1", false)))
	add("v6", RealServerMessage("LVS_1", rs6, vs6, true, CheckerBody(config.CheckUDP, true)))
	add("fwmark", RealServerMessage("LVS_1", rs4, fwm, false, CheckerBody(config.CheckTCP, false)))
	add("group", RealServerMessage("LVS_1", rs4, grp, false, CheckerBody(config.CheckTCP, false)))
	add("removed", RealServerRemovedMessage("LVS_1", rs4, vs4, false))
	add("shutdown", RealServerRemovedMessage("LVS_1", rs4, vs4, true))
	add("quorum gained", QuorumMessage("LVS_1", vs4, true, false, 3, 1, 2, 4))
	add("quorum lost", QuorumMessage("LVS_1", vs4, false, false, 3, 1, 2, 1))
	add("quorum start up", QuorumMessage("LVS_1", vs4, true, true, 1, 0, 1, 2))
	add("quorum start down", QuorumMessage("LVS_1", vs4, false, true, 1, 0, 1, 0))
	m, _ := InstanceMessage("LVS_1", "VI_1", StateMaster)
	date := time.Date(2021, 3, 1, 9, 44, 8, 0, time.FixedZone("", 0))
	old := time.Local
	time.Local = time.FixedZone("", 3600)
	defer func() { time.Local = old }()
	fmt.Fprintf(&b, "== DATA\n%s", strings.ReplaceAll(Data(m, "root@lvs1", []string{"a@example.com", "b@example.com"}, date), "\r\n", "\\r\\n\n"))
	golden(t, "messages.golden", b.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -run %s -update):\n--- got\n%s\n--- want\n%s", p, t.Name(), got, want)
	}
}

// TestCut: keepalived cuts the subject to 255 and the body to 511 bytes.
func TestCut(t *testing.T) {
	long := strings.Repeat("x", 600)
	m, _ := InstanceMessage("R", long, StateMaster)
	if len(m.Subject) != 255 {
		t.Errorf("subject %d bytes, want 255", len(m.Subject))
	}
	m = RealServerMessage("R", netip.MustParseAddrPort("1.2.3.4:5"), VirtualServer{Addr: netip.MustParseAddrPort("1.2.3.4:5")}, true, long)
	if len(m.Body) != 511 {
		t.Errorf("body %d bytes, want 511", len(m.Body))
	}
	to := make([]string, 200)
	for i := range to {
		to[i] = fmt.Sprintf("user%03d@example.com", i)
	}
	// build_to_header_rcpt_addrs writes the ", " before finding that the
	// next address does not fit: the header ends in ", ".
	if h := toHeader(to); len(h) > 1023 || !strings.HasSuffix(h, "@example.com, ") {
		t.Errorf("To header %d bytes (max 1023): ...%q", len(h), h[len(h)-20:])
	}
}

func bp(v bool) *bool { return &v }

// TestSpecFrom: the defaults keepalived 2.2.7 resolves (global_data.c,
// vrrp.c, check_data.c): instances, groups and virtual servers mail only
// when smtp_alert (or smtp_alert_vrrp/_checker, or the global one) says
// so; real servers mail by default.
func TestSpecFrom(t *testing.T) {
	// Resolved by config.Load, from the text (internal/config
	// resolveSMTPAlerts), and read here.
	load := func(global string) *config.Config {
		src := "global_defs {\n smtp_server 127.0.0.1\n notification_email {\n  ops@example.com\n }\n" + global + "\n}\n" +
			"vrrp_sync_group G {\n group {\n  plain\n }\n}\n"
		for i, in := range []string{"plain", "on", "off"} {
			opt := map[string]string{"on": "smtp_alert", "off": "smtp_alert off"}[in]
			src += fmt.Sprintf("vrrp_instance %s {\n interface lo\n virtual_router_id %d\n virtual_ipaddress {\n  10.9.9.%d/32\n }\n %s\n}\n", in, i+1, i+1, opt)
		}
		src += "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.1 80 {\n }\n real_server 10.0.1.2 80 {\n  smtp_alert off\n }\n}\n" +
			"virtual_server 10.0.0.2 80 {\n protocol TCP\n smtp_alert\n real_server 10.0.1.3 80 {\n }\n}\n"
		res := config.Load("t.conf", config.Options{ConfigID: "t", FS: config.MapFS{"t.conf": src}})
		if !res.Runnable() {
			t.Fatalf("%s\n%v", src, res.Diags.Sorted())
		}
		return res.Config
	}
	mk := func(g config.Global) *config.Config {
		var lines []string
		for _, f := range []struct {
			kw string
			v  *bool
		}{{"smtp_alert", g.SMTPAlert}, {"smtp_alert_vrrp", g.SMTPAlertVRRP}, {"smtp_alert_checker", g.SMTPAlertChecker}} {
			if f.v != nil {
				lines = append(lines, f.kw+map[bool]string{true: "", false: " off"}[*f.v])
			}
		}
		c := load(strings.Join(lines, "\n"))
		g.SMTPServer, g.NotificationEmail = "127.0.0.1", []string{"ops@example.com"}
		c.Global = g
		return c
	}
	rs1 := RealServerKey{"10.0.0.1:80/TCP", netip.MustParseAddrPort("10.0.1.1:80")}
	rs2 := RealServerKey{"10.0.0.1:80/TCP", netip.MustParseAddrPort("10.0.1.2:80")}
	for _, tc := range []struct {
		name                        string
		g                           config.Global
		plain, on, off, grp, vs, r1 bool
	}{
		{"nothing set", config.Global{}, false, true, false, false, false, true},
		{"smtp_alert", config.Global{SMTPAlert: bp(true)}, true, true, false, true, true, true},
		{"smtp_alert off", config.Global{SMTPAlert: bp(false)}, false, true, false, false, false, false},
		{"smtp_alert_vrrp", config.Global{SMTPAlertVRRP: bp(true), SMTPAlert: bp(false)}, true, true, false, true, false, false},
		{"smtp_alert_checker", config.Global{SMTPAlertChecker: bp(false), SMTPAlert: bp(true)}, true, true, false, true, false, false},
	} {
		s := SpecFrom(mk(tc.g), Host{LocalName: "lvs1.example.com", User: "root"})
		got := []bool{s.Instances["plain"], s.Instances["on"], s.Instances["off"], s.Groups["G"], s.VirtualServers["10.0.0.1:80/TCP"], s.RealServers[rs1]}
		want := []bool{tc.plain, tc.on, tc.off, tc.grp, tc.vs, tc.r1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: instance plain/on/off, group, vs, rs = %v, want %v", tc.name, got, want)
		}
		if s.RealServers[rs2] || !s.VirtualServers["10.0.0.2:80/TCP"] {
			t.Errorf("%s: a real server's smtp_alert off or a virtual server's on is not applied", tc.name)
		}
	}
	s := SpecFrom(mk(config.Global{}), Host{LocalName: "lvs1.example.com", User: "root"})
	if s.From != "root@lvs1.example.com" || s.HeloName != "lvs1.example.com" || s.RouterID != "lvs1.example.com" || s.Port != 25 || s.ConnectTimeout != 30*time.Second {
		t.Errorf("defaults: from %q helo %q router_id %q port %d timeout %v", s.From, s.HeloName, s.RouterID, s.Port, s.ConnectTimeout)
	}
	s = SpecFrom(mk(config.Global{RouterID: "R", NotificationEmailFrom: "k@x", SMTPHeloName: "h", SMTPPort: 2525}), Host{LocalName: "lvs1", User: "root"})
	if s.From != "k@x" || s.HeloName != "h" || s.RouterID != "R" || s.Port != 2525 {
		t.Errorf("given: from %q helo %q router_id %q port %d", s.From, s.HeloName, s.RouterID, s.Port)
	}
	// No local name: smtp.c says HELO localhost, MAIL FROM:<(null)>.
	s = SpecFrom(mk(config.Global{}), Host{User: "root"})
	if s.From != "(null)" || s.HeloName != "localhost" || s.RouterID != "<unknown>" {
		t.Errorf("unknown host: from %q helo %q router_id %q", s.From, s.HeloName, s.RouterID)
	}
	if (&Spec{Server: "x"}).Enabled() || (&Spec{To: []string{"a"}}).Enabled() {
		t.Error("a spec without recipients or without a server is enabled")
	}
}
