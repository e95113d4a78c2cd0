package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Routes and rules: virtual_routes and virtual_rules (in vrrp_instance,
// installed while the instance is MASTER) and the top-level static_routes,
// static_rules and static_ipaddress (installed at start, removed at stop),
// parsed as keepalived 2.2.7's alloc_route and alloc_rule (vrrp_iproute.c,
// vrrp_iprule.c). An entry keepalived rejects is a skipped error and left
// out; an option keepalived knows and lvsd does not install (nexthop,
// encap, congestion metrics, uidrange...) leaves the entry out with a
// warning saying so.

const (
	rtTableMain      = 254
	rtprotKeepalived = 18
)

var routeTypes = map[string]int{"unicast": 1, "local": 2, "broadcast": 3, "brd": 3, "anycast": 4, "multicast": 5,
	"blackhole": 6, "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10, "xresolve": 11}

var routeProtocols = map[string]int{"none": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "gated": 8, "ra": 9,
	"mrt": 10, "zebra": 11, "bird": 12, "dnrouted": 13, "xorp": 14, "ntk": 15, "dhcp": 16, "keepalived": 18, "babel": 42}

var routeScopes = map[string]int{"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}

var routeTables = map[string]int{"default": 253, "main": 254, "local": 255}

// routeUnsupported are alloc_route's options lvsd does not install.
var routeUnsupported = map[string]bool{"as": true, "nexthop": true, "or": true, "encap": true, "expires": true, "rtt": true,
	"rttvar": true, "reordering": true, "window": true, "cwnd": true, "ssthresh": true, "realms": true, "rto_min": true,
	"initcwnd": true, "initrwnd": true, "features": true, "quickack": true, "congctl": true, "pref": true,
	"ttl-propagate": true, "fastopen_no_cookie": true, "vrf": true}

// ruleUnsupported are alloc_rule's options lvsd does not install.
var ruleUnsupported = map[string]bool{"realms": true, "suppress_ifgroup": true, "sup_group": true, "tunnel-id": true,
	"uidrange": true, "l3mdev": true, "ipproto": true, "sport": true, "dport": true}

func lookupNum(m map[string]int, s string, max int) (int, bool) {
	if v, ok := m[s]; ok {
		return v, true
	}
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil || int(v) > max {
		return 0, false
	}
	return int(v), true
}

// parsePrefix reads ADDR[/LEN] or default/any/all (family from fam, 4 if 0).
func parsePrefix(s string, fam int) (netip.Prefix, bool) {
	switch s {
	case "default", "any", "all":
		if fam == 6 {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), true
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// routeEntries reads a block of route lines.
func (b *builder) routeEntries(n *Node, what string) []Route {
	var out []Route
	for _, e := range n.Children {
		words := append([]Token{e.KeyTok}, e.Args...)
		if r, ok := b.parseRoute(words, what); ok {
			r.Pos = e.Pos()
			out = append(out, r)
		}
	}
	return out
}

// parseRoute is alloc_route: it reports and returns false for a line
// keepalived leaves out (or lvsd cannot install).
func (b *builder) parseRoute(w []Token, what string) (Route, bool) {
	r := Route{Table: rtTableMain, Type: 1, Scope: -1, Protocol: rtprotKeepalived, Text: joinTokens(w)}
	fail := func(t Token, format string, args ...any) (Route, bool) {
		b.d.Skipf(t.Pos, "%s %q: %s; the route is left out, as keepalived leaves it out", what, r.Text, fmt.Sprintf(format, args...))
		return Route{}, false
	}
	protoGiven, hasDst := false, false
	setFam := func(t Token, a netip.Addr) bool {
		f := famOf(a)
		if r.Family == 0 {
			r.Family = f
		}
		return r.Family == f
	}
	for words := (optionWords{w: w}); words.more(); words.advance() {
		t := words.current()
		s := t.Text
		next := words.next
		if routeUnsupported[s] {
			b.d.Warnf(t.Pos, "%s %q: %s is not supported by lvsd; lvsd does not install this route (keepalived does)", what, r.Text, s)
			return Route{}, false
		}
		switch s {
		case "inet", "inet6":
			f := familyWord(s)
			if r.Family != 0 && r.Family != f {
				return fail(t, "%s specified for an IPv%d route", s, r.Family)
			}
			r.Family = f
		case "src", "via", "gw", "from":
			if s == "gw" {
				b.d.Skipf(t.Pos, "%s %q: \"gw\" for routes is deprecated; use \"via\" (applied as via, as keepalived does)", what, r.Text)
			}
			v, ok := next()
			if ok && (v.Text == "inet" || v.Text == "inet6") && s != "src" && s != "from" {
				v, ok = next()
			}
			if !ok {
				return fail(t, "%s needs an address", s)
			}
			if s == "from" {
				b.d.Warnf(t.Pos, "%s %q: from (an IPv6 source prefix) is not supported by lvsd; lvsd does not install this route (keepalived does)", what, r.Text)
				return Route{}, false
			}
			a, err := netip.ParseAddr(v.Text)
			if err != nil {
				return fail(v, "invalid route %s address %s", s, v.Text)
			}
			if !setFam(v, a) {
				return fail(v, "cannot mix IPv4 and IPv6 addresses for route")
			}
			if s == "src" {
				r.Src = a
			} else {
				r.Via = a
			}
		case "tos", "dsfield":
			v, ok := next()
			x, good := 0, ok
			if ok {
				x, good = lookupNum(nil, v.Text, 255)
			}
			if !good {
				return fail(t, "TOS value %s is invalid", v.Text)
			}
			r.TOS, r.HasTOS = x, true
		case "table":
			v, ok := next()
			x, good := 0, ok
			if ok {
				x, good = lookupNum(routeTables, v.Text, 1<<32-1)
			}
			if !good {
				return fail(t, "routing table %s not found for route", v.Text)
			}
			r.Table = x
		case "protocol":
			v, ok := next()
			x, good := 0, ok
			if ok {
				x, good = lookupNum(routeProtocols, v.Text, 255)
			}
			if !good {
				return fail(t, "protocol %s not found or invalid for route", v.Text)
			}
			r.Protocol, protoGiven = x, true
		case "scope":
			v, ok := next()
			x, good := 0, ok
			if ok {
				x, good = lookupNum(routeScopes, v.Text, 255)
			}
			if !good {
				return fail(t, "scope %s not found or invalid for route", v.Text)
			}
			r.Scope = x
		case "metric", "priority", "preference", "mtu", "advmss", "hoplimit":
			v, ok := next()
			var x uint64
			var err error = fmt.Errorf("missing")
			if ok {
				x, err = strconv.ParseUint(v.Text, 0, 32)
			}
			if err != nil {
				return fail(t, "invalid %s %s for route", s, v.Text)
			}
			switch s {
			case "mtu":
				r.MTU = int(x)
			case "advmss":
				r.AdvMSS = int(x)
			case "hoplimit":
				r.HopLimit = int(x)
			default:
				r.Metric = int(x)
			}
		case "dev", "oif":
			v, ok := next()
			if !ok {
				return fail(t, "%s needs an interface", s)
			}
			r.Dev = v.Text
		case "onlink":
			r.OnLink = true
		case "add", "append":
			r.Mode = s
		case "prepend":
			r.Mode = ""
		case "no_track":
			r.NoTrack = true
		case "track_group":
			if what != "static_routes" {
				b.d.Warnf(t.Pos, "%s %q: track_group is for static routes only; lvsd does not install this route (keepalived does)", what, r.Text)
				return Route{}, false
			}
			v, ok := next()
			if !ok {
				return fail(t, "track_group needs a name")
			}
			b.staticTrackGroup(v, &r.TrackGroup)
		default:
			if s == "to" {
				v, ok := next()
				if !ok {
					return fail(t, "to needs a destination")
				}
				t, s = v, v.Text
			}
			if ty, ok := routeTypes[s]; ok {
				r.Type = ty
				v, ok := next()
				if !ok {
					return fail(t, "route must have a destination")
				}
				t, s = v, v.Text
			}
			p, ok := parsePrefix(s, r.Family)
			if !ok {
				return fail(t, "unknown route keyword %s", s)
			}
			if r.Family != 0 && famOf(p.Addr()) != r.Family {
				return fail(t, "cannot mix IPv4 and IPv6 addresses for route (%s)", s)
			}
			r.Family, r.Dst, hasDst = famOf(p.Addr()), p, true
		}
	}
	if !hasDst {
		return fail(w[0], "route must have a destination")
	}
	if !r.NoTrack {
		if protoGiven && r.Protocol != rtprotKeepalived {
			b.d.Skipf(w[0].Pos, "%s %q: a route cannot be tracked unless its protocol is keepalived (18); protocol reset to 18, as keepalived does", what, r.Text)
		}
		r.Protocol = rtprotKeepalived
		if r.Dev == "" {
			b.d.Skipf(w[0].Pos, "%s %q: cannot track a route with no interface specified; not tracked, as keepalived does", what, r.Text)
			r.NoTrack = true
		}
	}
	if r.Family == 0 {
		r.Family = 4
	}
	return r, true
}

func joinTokens(w []Token) string {
	s := make([]string, len(w))
	for i, t := range w {
		s[i] = t.Text
	}
	return strings.Join(s, " ")
}

// ruleEntries reads a block of rule lines; next numbers rules without a
// preference as keepalived does (16384 down, per family).
func (b *builder) ruleEntries(n *Node, what string) []Rule {
	var out []Rule
	for _, e := range n.Children {
		words := append([]Token{e.KeyTok}, e.Args...)
		if r, ok := b.parseRule(words, what); ok {
			r.Pos = e.Pos()
			out = append(out, r)
		}
	}
	return out
}

func (b *builder) parseRule(w []Token, what string) (Rule, bool) {
	r := Rule{Mark: -1, Mask: -1, SuppressPrefixLen: -1, Protocol: rtprotKeepalived, Text: joinTokens(w)}
	fail := func(t Token, format string, args ...any) (Rule, bool) {
		b.d.Skipf(t.Pos, "%s %q: %s; the rule is left out, as keepalived leaves it out", what, r.Text, fmt.Sprintf(format, args...))
		return Rule{}, false
	}
	protoGiven := false
	setAction := func(t Token, a string) bool {
		if r.Action != "" {
			return false
		}
		r.Action = a
		return true
	}
	for words := (optionWords{w: w}); words.more(); words.advance() {
		t := words.current()
		s := t.Text
		next := words.next
		if ruleUnsupported[s] {
			b.d.Warnf(t.Pos, "%s %q: %s is not supported by lvsd; lvsd does not install this rule (keepalived does)", what, r.Text, s)
			return Rule{}, false
		}
		switch s {
		case "inet", "inet6":
			f := familyWord(s)
			if r.Family != 0 && r.Family != f {
				return fail(t, "%s for an IPv%d rule", s, r.Family)
			}
			r.Family = f
		case "from", "to":
			v, ok := next()
			if !ok {
				return fail(t, "%s needs an address", s)
			}
			p, good := parsePrefix(v.Text, r.Family)
			if !good {
				return fail(v, "invalid %s address %s", s, v.Text)
			}
			if v.Text == "all" || v.Text == "any" || v.Text == "default" {
				continue
			}
			if r.Family != 0 && famOf(p.Addr()) != r.Family {
				return fail(v, "cannot mix IPv4 and IPv6 addresses for rule")
			}
			r.Family = famOf(p.Addr())
			if s == "from" {
				r.From = p
			} else {
				r.To = p
			}
		case "table", "lookup":
			v, ok := next()
			x, good := 0, ok
			if ok {
				x, good = lookupNum(routeTables, v.Text, 1<<32-1)
			}
			if !good {
				return fail(t, "routing table %s not found for rule", v.Text)
			}
			if !setAction(t, "table") {
				return fail(t, "cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev for rule")
			}
			r.Table = x
		case "preference", "order", "priority":
			v, ok := next()
			var x uint64
			var err error = fmt.Errorf("missing")
			if ok {
				x, err = strconv.ParseUint(v.Text, 10, 32)
			}
			if err != nil {
				return fail(t, "invalid rule preference %s", v.Text)
			}
			r.Priority, r.PriorityGiven = int(x), true
		case "tos", "dsfield":
			v, ok := next()
			x, good := 0, ok
			if ok {
				x, good = lookupNum(nil, v.Text, 255)
			}
			if !good {
				return fail(t, "invalid tos %s", v.Text)
			}
			r.TOS = x
		case "fwmark":
			v, ok := next()
			if !ok {
				return fail(t, "fwmark needs a value")
			}
			mark, mask, hasMask := strings.Cut(v.Text, "/")
			m, err := strconv.ParseUint(mark, 0, 32)
			if err != nil {
				return fail(v, "invalid fwmark %s", v.Text)
			}
			r.Mark = int64(m)
			if hasMask {
				k, err := strconv.ParseUint(mask, 0, 32)
				if err != nil {
					return fail(v, "invalid fwmask %s", v.Text)
				}
				r.Mask = int64(k)
			}
		case "suppress_prefixlength", "sup_pl":
			v, ok := next()
			var x int64
			var err error = fmt.Errorf("missing")
			if ok {
				x, err = strconv.ParseInt(v.Text, 0, 32)
			}
			if err != nil || x < 0 {
				return fail(t, "invalid suppress_prefixlength %s", v.Text)
			}
			r.SuppressPrefixLen = int(x)
		case "dev", "iif":
			v, ok := next()
			if !ok {
				return fail(t, "%s needs an interface", s)
			}
			r.IIF = v.Text
		case "oif":
			v, ok := next()
			if !ok {
				return fail(t, "oif needs an interface")
			}
			r.OIF = v.Text
		case "not":
			r.Invert = true
		case "protocol":
			v, ok := next()
			x, good := 0, ok
			if ok {
				x, good = lookupNum(routeProtocols, v.Text, 255)
			}
			if !good {
				return fail(t, "invalid protocol %s for rule", v.Text)
			}
			r.Protocol, protoGiven = x, true
		case "no_track":
			r.NoTrack = true
		case "track_group":
			if what != "static_rules" {
				b.d.Warnf(t.Pos, "%s %q: track_group is for static rules only; lvsd does not install this rule (keepalived does)", what, r.Text)
				return Rule{}, false
			}
			v, ok := next()
			if !ok {
				return fail(t, "track_group needs a name")
			}
			b.staticTrackGroup(v, &r.TrackGroup)
		default:
			if s == "type" {
				v, ok := next()
				if !ok {
					return fail(t, "type needs an action")
				}
				t, s = v, v.Text
			}
			var action string
			switch s {
			case "goto":
				v, ok := next()
				var x uint64
				var err error = fmt.Errorf("missing")
				if ok {
					x, err = strconv.ParseUint(v.Text, 10, 32)
				}
				if err != nil {
					return fail(t, "invalid goto target %s", v.Text)
				}
				action, r.Goto = "goto", int(x)
			case "nop", "blackhole", "unreachable", "prohibit":
				action = s
			default:
				if _, ok := routeTypes[s]; ok {
					return fail(t, "invalid rule action %s", s)
				}
				return fail(t, "unknown rule option %s", s)
			}
			if !setAction(t, action) {
				return fail(t, "cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev for rule")
			}
		}
	}
	if r.Action == "goto" {
		if !r.PriorityGiven {
			return fail(w[0], "goto target %d specified without preference", r.Goto)
		}
		if r.Priority >= r.Goto {
			return fail(w[0], "preference %d >= goto target %d", r.Priority, r.Goto)
		}
	}
	if r.Action == "" {
		return fail(w[0], "no action specified for rule")
	}
	if r.Action != "table" && r.SuppressPrefixLen >= 0 {
		return fail(w[0], "suppressor specified for a non-table action")
	}
	if !r.NoTrack {
		if protoGiven && r.Protocol != rtprotKeepalived {
			b.d.Skipf(w[0].Pos, "%s %q: a rule cannot be tracked unless its protocol is keepalived (18); protocol reset to 18, as keepalived does", what, r.Text)
		}
		r.Protocol = rtprotKeepalived
	} else if !protoGiven {
		r.Protocol = 0
	}
	if r.Family == 0 {
		r.Family = 4
	}
	if !r.PriorityGiven {
		if r.Family == 4 {
			r.Priority = b.nextRulePrio4()
		} else {
			r.Priority = b.nextRulePrio6()
		}
		b.d.Skipf(w[0].Pos, "%s %q: rule has no preference specified; set to %d, as keepalived does (this is probably not what you want)", what, r.Text, r.Priority)
	}
	return r, true
}

func (b *builder) nextRulePrio(i int) int {
	if b.cfg.rulePrio[i] == 0 {
		b.cfg.rulePrio[i] = 16384
	}
	p := b.cfg.rulePrio[i]
	b.cfg.rulePrio[i]--
	return p
}
func (b *builder) nextRulePrio4() int { return b.nextRulePrio(0) }
func (b *builder) nextRulePrio6() int { return b.nextRulePrio(1) }

// staticAddresses reads static_ipaddress: virtual_ipaddress lines; one
// without dev goes on the default interface (default_interface, else
// eth0), as keepalived's parse_ipaddress/get_default_if put it. Like
// get_default_if, the first such address fixes the default interface: a
// default_interface given after it changes nothing.
func (b *builder) staticAddresses(n *Node, c *Config) {
	for _, e := range n.Children {
		// track_group is a static address's option only: taken out
		// before the virtual address parser reads the rest.
		var group []Token
		for i := 0; i < len(e.Args); i++ {
			if e.Args[i].Text == "track_group" {
				group = e.Args[i:min(i+2, len(e.Args))]
				e = &Node{Key: e.Key, KeyTok: e.KeyTok, Args: append(append([]Token(nil), e.Args[:i]...), e.Args[min(i+2, len(e.Args)):]...)}
				break
			}
		}
		v, ok := b.vip(e, false)
		if !ok {
			continue
		}
		if len(group) == 1 {
			b.d.Skipf(group[0].Pos, "static_ipaddress %s: no track_group name; ignored, as keepalived does", e.Key)
		} else if len(group) == 2 {
			b.staticTrackGroup(group[1], &v.TrackGroup)
		}
		if v.Dev == "" {
			if b.defaultIf == "" {
				b.defaultIf = cmp.Or(c.Global.DefaultInterface, "eth0")
			}
			v.Dev = b.defaultIf
		}
		c.StaticAddresses = append(c.StaticAddresses, v)
	}
}

// optionWords walks the words of a route or rule; next consumes the word
// after the current one (an option's argument).
type optionWords struct {
	w []Token
	i int
}

func (o *optionWords) more() bool     { return o.i < len(o.w) }
func (o *optionWords) advance()       { o.i++ }
func (o *optionWords) current() Token { return o.w[o.i] }

func (o *optionWords) next() (Token, bool) {
	if o.i+1 >= len(o.w) {
		return Token{}, false
	}
	o.i++
	return o.w[o.i], true
}

// familyWord is 4 for "inet", 6 for "inet6".
func familyWord(s string) int {
	if s == "inet6" {
		return 6
	}
	return 4
}
