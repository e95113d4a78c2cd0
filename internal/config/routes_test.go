package config

import (
	"fmt"
	"strings"
	"testing"
)

func init() {
	for k, v := range map[string]string{
		"/ static_ipaddress":           "cmd/lvsd.TestRoutesMatchKeepalived",
		"/ static_routes":              "cmd/lvsd.TestRoutesMatchKeepalived",
		"/ static_rules":               "cmd/lvsd.TestRoutesMatchKeepalived",
		"vrrp_instance virtual_routes": "cmd/lvsd.TestRoutesMatchKeepalived",
		"vrrp_instance virtual_rules":  "cmd/lvsd.TestRoutesMatchKeepalived",
	} {
		keywordBehaviourTests[k] = v
	}
}

func parseRouteLine(line string) (Route, bool, *Diagnostics) {
	d := &Diagnostics{}
	b := &builder{d: d, cfg: &Config{}}
	var w []Token
	for i, f := range strings.Fields(line) {
		w = append(w, Token{Text: f, Pos: Pos{File: "t", Line: 1, Col: i + 1}})
	}
	if len(w) == 0 {
		return Route{}, false, d
	}
	r, ok := b.parseRoute(w, "static_routes")
	return r, ok, d
}

func parseRuleLine(b *builder, line string) (Rule, bool) {
	var w []Token
	for i, f := range strings.Fields(line) {
		w = append(w, Token{Text: f, Pos: Pos{File: "t", Line: 1, Col: i + 1}})
	}
	if len(w) == 0 {
		return Rule{}, false
	}
	return b.parseRule(w, "static_rules")
}

// TestParseRoute: alloc_route's options and defaults (table main,
// protocol keepalived, unicast, tracked only with an interface).
func TestParseRoute(t *testing.T) {
	for _, c := range []struct {
		line string
		want string // fmt of selected fields; "" = rejected
		diag string
	}{
		{"10.0.0.0/8 via 10.1.1.1 dev eth0", "4 10.0.0.0/8 t1 via 10.1.1.1 dev eth0 table 254 proto 18 scope -1 metric 0 track", ""},
		{"to 10.0.0.1 dev eth0 table 100 metric 5 src 10.9.0.1", "4 10.0.0.1/32 t1 src 10.9.0.1 dev eth0 table 100 proto 18 scope -1 metric 5 track", ""},
		{"blackhole 10.79.0.0/24", "4 10.79.0.0/24 t6 table 254 proto 18 scope -1 metric 0 notrack", "cannot track a route with no interface"},
		{"to unreachable default table local", "4 0.0.0.0/0 t7 table 255 proto 18 scope -1 metric 0 notrack", ""},
		{"10.0.0.0/8 dev eth0 protocol static", "4 10.0.0.0/8 t1 dev eth0 table 254 proto 18 scope -1 metric 0 track", "protocol reset to 18"},
		{"10.0.0.0/8 dev eth0 protocol bird no_track scope link", "4 10.0.0.0/8 t1 dev eth0 table 254 proto 12 scope 253 metric 0 notrack", ""},
		{"inet6 default via fe80::1 dev eth0", "6 ::/0 t1 via fe80::1 dev eth0 table 254 proto 18 scope -1 metric 0 track", ""},
		{"10.0.0.0/8 gw 10.1.1.1 dev eth0", "4 10.0.0.0/8 t1 via 10.1.1.1 dev eth0 table 254 proto 18 scope -1 metric 0 track", "deprecated"},
		{"10.0.0.0/8 via fe80::1 dev eth0", "", "cannot mix"},
		{"10.0.0.0/8 table nosuch", "", "routing table nosuch not found"},
		{"via 10.1.1.1 dev eth0", "", "must have a destination"},
		{"10.0.0.0/8 frobnicate", "", "unknown route keyword frobnicate"},
		{"10.0.0.0/8 dev eth0 nexthop via 10.1.1.1", "", "nexthop is not supported by lvsd"},
		{"10.0.0.0/8 metric", "", "invalid metric"},
	} {
		r, ok, d := parseRouteLine(c.line)
		got := ""
		if ok {
			got = fmt.Sprintf("%d %s t%d", r.Family, r.Dst, r.Type)
			if r.Src.IsValid() {
				got += " src " + r.Src.String()
			}
			if r.Via.IsValid() {
				got += " via " + r.Via.String()
			}
			if r.Dev != "" {
				got += " dev " + r.Dev
			}
			tr := "track"
			if r.NoTrack {
				tr = "notrack"
			}
			got += fmt.Sprintf(" table %d proto %d scope %d metric %d %s", r.Table, r.Protocol, r.Scope, r.Metric, tr)
		}
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.line, got, c.want)
		}
		var msgs []string
		for _, x := range d.Sorted() {
			msgs = append(msgs, x.Message)
			if x.Severity == SeverityError && !x.Skipped {
				t.Errorf("%q: fatal diagnostic %s", c.line, x)
			}
		}
		if c.diag != "" && !strings.Contains(strings.Join(msgs, "\n"), c.diag) {
			t.Errorf("%q: no diagnostic %q in %q", c.line, c.diag, msgs)
		}
	}
}

// TestParseRule: alloc_rule's options, the action rules and keepalived's
// preference numbering (16384 down, per family).
func TestParseRule(t *testing.T) {
	b := &builder{d: &Diagnostics{}, cfg: &Config{}}
	for _, c := range []struct{ line, want string }{
		{"from 10.9.0.0/24 table 100 priority 100", "4 table 100 prio 100 from 10.9.0.0/24 proto 18"},
		{"to 10.80.0.0/16 lookup main", "4 table 254 prio 16384 to 10.80.0.0/16 proto 18"},
		{"fwmark 5/0xff table 101 priority 102", "4 table 101 prio 102 mark 5/255 proto 18"},
		{"from fd77::/64 table 100", "6 table 100 prio 16384 from fd77::/64 proto 18"},
		{"to 10.1.0.0/16 prohibit", "4 prohibit prio 16383 to 10.1.0.0/16 proto 18"},
		{"not from all type unreachable priority 5 no_track", "4 unreachable prio 5 not proto 0"},
		{"to 10.87.0.0/24 goto 300 priority 203", "4 goto 300 prio 203 to 10.87.0.0/24 proto 18"},
		{"to 10.87.0.0/24 goto 300", ""},
		{"to 10.87.0.0/24 goto 100 priority 203", ""},
		{"from 10.0.0.0/8", ""},
		{"from 10.0.0.0/8 table 1 blackhole", ""},
		{"from 10.0.0.0/8 local", ""},
		{"from 10.0.0.0/8 uidrange 1-2 table 1", ""},
	} {
		r, ok := parseRuleLine(b, c.line)
		got := ""
		if ok {
			got = fmt.Sprintf("%d %s", r.Family, r.Action)
			if r.Action == "table" {
				got += fmt.Sprintf(" %d", r.Table)
				if r.Table == 0 {
					got = strings.TrimSuffix(got, " 0") + " 254"
				}
			}
			if r.Action == "goto" {
				got += fmt.Sprintf(" %d", r.Goto)
			}
			got += fmt.Sprintf(" prio %d", r.Priority)
			if r.Invert {
				got += " not"
			}
			if r.From.IsValid() {
				got += " from " + r.From.String()
			}
			if r.To.IsValid() {
				got += " to " + r.To.String()
			}
			if r.Mark >= 0 {
				got += fmt.Sprintf(" mark %d/%d", r.Mark, r.Mask)
			}
			got += fmt.Sprintf(" proto %d", r.Protocol)
		}
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.line, got, c.want)
		}
	}
	for _, x := range b.d.Sorted() {
		if x.Severity == SeverityError && !x.Skipped {
			t.Errorf("fatal diagnostic %s", x)
		}
	}
}

// FuzzRouteOptions: the route and rule parsers never panic, never record a
// fatal error (keepalived runs past every bad entry), and what they accept
// has a destination (routes), an action and a family.
func FuzzRouteOptions(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8 via 10.1.1.1 dev eth0", "blackhole default table 5", "inet6 to fd00::/8 src fd00::1",
		"from 1.2.3.4 table 7 priority 3", "fwmark 0x5/0xff goto 9 priority 2", "to", "via", "type", "nexthop dev x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, ok, d := parseRouteLine(line)
		if ok && (!r.Dst.IsValid() || r.Family != 4 && r.Family != 6 || (r.Family == 6) != r.Dst.Addr().Is6()) {
			t.Fatalf("route %q accepted as %+v", line, r)
		}
		b := &builder{d: d, cfg: &Config{}}
		ru, ok := parseRuleLine(b, line)
		if ok && (ru.Action == "" || ru.Family != 4 && ru.Family != 6) {
			t.Fatalf("rule %q accepted as %+v", line, ru)
		}
		for _, x := range d.Sorted() {
			if x.Severity == SeverityError && !x.Skipped {
				t.Fatalf("%q: fatal diagnostic %s", line, x)
			}
		}
	})
}
