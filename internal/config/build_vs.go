package config

import (
	"maps"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Schedulers the kernel ships (ipvsadm -s names).
var knownSchedulers = map[string]bool{
	"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true, "dh": true,
	"sh": true, "sed": true, "nq": true, "fo": true, "ovf": true, "mh": true, "twos": true,
}

var schedFlags = map[string]bool{
	"sh-port": true, "sh-fallback": true, "mh-port": true, "mh-fallback": true,
	"flag-1": true, "flag-2": true, "flag-3": true,
}

func (b *builder) virtualServer(n *Node, c *Config) {
	if !n.HasBlock {
		b.d.Errorf(n.Pos(), "virtual_server has no { ... } block")
		return
	}
	vs := b.ahead.virtualServer()
	*vs = VirtualServer{
		Scheduler: "", Method: MethodNAT, DelayLoop: 60 * time.Second,
		Quorum: 1, Pos: n.Pos(),
	}
	args := n.Args
	switch {
	case len(args) == 0:
		b.d.Errorf(n.Pos(), "virtual_server needs IP PORT, fwmark N or group NAME")
		return
	case args[0].Text == "fwmark":
		if len(args) != 2 {
			b.d.Errorf(n.Pos(), "virtual_server fwmark needs one mark")
			return
		}
		v, ok := b.parseInt("fwmark", args[1], 1, 1<<32-1)
		if !ok {
			return
		}
		vs.FWMark = uint32(v)
	case args[0].Text == "group":
		if len(args) != 2 {
			b.d.Errorf(n.Pos(), "virtual_server group needs one group name")
			return
		}
		vs.Group = args[1].Text
	default:
		var a netip.Addr
		ok := b.skipAs("the virtual server is left out", func() (ok bool) { a, ok = b.addr("virtual_server", args[0]); return })
		if !ok {
			return
		}
		vs.Addr = a
		if len(args) > 1 {
			var p uint16
			ok := b.skipAs("the virtual server is left out", func() (ok bool) { p, ok = b.port("virtual_server", args[1]); return })
			if !ok {
				return
			}
			vs.Port = p
		}
		if len(args) > 2 {
			b.d.Errorf(args[2].Pos, "virtual_server: unexpected %q after the port", args[2].Text)
		}
	}
	b.unresolved = b.unresolved[:0]
	// Named as before its block is read (no protocol yet).
	addr, port, fwmark, group := vs.Addr, vs.Port, vs.FWMark, vs.Group
	walkAt(b, n.Children, vsTable, vs, func() string {
		k := VirtualServer{Addr: addr, Port: port, FWMark: fwmark, Group: group}
		return "virtual_server " + k.Key()
	})
	b.resolveVirtualServer(vs)
	if vs.Protocol == ProtoNone && vs.FWMark == 0 {
		// keepalived 2.2 sets UDP explicitly (the kernel's default for
		// protocol 0); lvsd programs the same table but says so (for a
		// group, validation does, once it knows the group has addresses).
		vs.Protocol = ProtoUDP
		vs.protocolDefaulted = true
	}
	if vs.Protocol == ProtoUDP && vs.protocolDefaulted && vs.Group == "" {
		b.d.Warnf(n.Pos(), "virtual_server %s has no protocol: it defaults to UDP, as in keepalived 2.2; add \"protocol TCP\" for a TCP service", vs.Key())
	}
	if vs.Scheduler == "" {
		// keepalived leaves the scheduler empty, and the kernel then uses
		// its default; name it so the dump and the IPVS diff agree.
		vs.Scheduler = "wlc"
	}
	c.VirtualServers = append(c.VirtualServers, vs)
}

func vsTimer(set func(*VirtualServer, time.Duration), min, max time.Duration) keyword[*VirtualServer] {
	return keyword[*VirtualServer]{handle: func(b *builder, n *Node, vs *VirtualServer) {
		if v, ok := b.timerArg(n, min, max); ok {
			set(vs, v)
		}
	}}
}

var vsTable table[*VirtualServer]

func init() {
	sched := func(b *builder, n *Node, vs *VirtualServer) {
		t, ok := b.arg(n)
		if !ok {
			return
		}
		vs.schedPos = t.Pos
		if !knownSchedulers[t.Text] {
			hint := ""
			names := make([]string, 0, len(knownSchedulers))
			for k := range knownSchedulers {
				names = append(names, k)
			}
			if s := suggest(t.Text, names); s != "" {
				hint = " (did you mean " + s + "?)"
			}
			b.d.Skipf(t.Pos, "%s %q is not a scheduler the kernel ships (rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos)%s - ignoring (as keepalived 2.2.7 does)", n.Key, t.Text, hint)
			return
		}
		vs.Scheduler = t.Text
	}
	method := func(b *builder, n *Node, vs *VirtualServer) {
		if len(n.Args) > 0 {
			vs.methodPos = n.Args[0].Pos
		}
		b.methodTunnel(n, &vs.Method, &vs.tunnel)
	}
	// keepalived 2.2.7 (check_parser.c lbflags_handler) applies sh-port
	// and sh-fallback only when the scheduler named so far is sh (mh-* for
	// mh), and otherwise logs "only applies to sh scheduler - ignoring".
	flag := func(b *builder, n *Node, vs *VirtualServer) {
		switch n.Key {
		case "sh-port", "sh-fallback", "mh-port", "mh-fallback":
			if want := n.Key[:2]; vs.Scheduler != want {
				b.d.Skipf(n.Pos(), "%s only applies to the %s scheduler and is ignored here (keepalived 2.2.7 takes it only after \"lvs_sched %s\")", n.Key, want, want)
				return
			}
		}
		vs.SchedFlags = append(vs.SchedFlags, n.Key)
	}
	vsTable = table[*VirtualServer]{
		"lvs_sched":   {handle: sched},
		"lb_algo":     {handle: sched},
		"lvs_method":  {handle: method},
		"lb_kind":     {handle: method},
		"sh-port":     {handle: flag},
		"sh-fallback": {handle: flag},
		"mh-port":     {handle: flag},
		"mh-fallback": {handle: flag},
		"flag-1":      {handle: flag},
		"flag-2":      {handle: flag},
		"flag-3":      {handle: flag},
		// keepalived 2.2.7 installs "hashed" on the flags handler, which
		// sets nothing for it: every kernel service is hashed anyway.
		"hashed": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			if vs.Scheduler != "sh" && vs.Scheduler != "mh" {
				b.d.Skipf(n.Pos(), "hashed only applies to the sh scheduler - ignoring (as keepalived 2.2.7 logs it)")
				return
			}
			b.d.Warnf(n.Pos(), "hashed has no effect: keepalived 2.2.7 accepts it and sets no flag (the kernel hashes every service)")
		}},
		// weight: the weight of real servers that set none (1-65535).
		"weight": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			t, ok := b.arg(n)
			if !ok {
				return
			}
			v, err := strconv.Atoi(t.Text)
			if err != nil || v < 1 || v > 65535 {
				b.d.Skipf(t.Pos, "virtual server weight %q is outside range 1-65535 - ignoring", t.Text)
				return
			}
			vs.defaultWeight = v
		}},
		"ops": {handle: func(b *builder, n *Node, vs *VirtualServer) { vs.OPS = true }},
		"persistence_timeout": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			if len(n.Args) == 0 {
				vs.Persistent, vs.Persistence = true, 360*time.Second
				return
			}
			// keepalived 2.2.7 (pto_handler): an invalid value is
			// reported and the service is not made persistent.
			if v, ok := b.parseInt("persistence_timeout", n.Args[0], 1, 1<<31-1); ok {
				vs.Persistent, vs.Persistence = true, time.Duration(v)*time.Second
			}
		}},
		"persistence_granularity": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			t, ok := b.arg(n)
			if !ok {
				return
			}
			// keepalived 2.2.7 (pgr_handler): the family is the virtual
			// server's, else IPv4 if the value has a dot. IPv4 takes any
			// mask, contiguous or not (ipvsadm and the kernel do too); IPv6
			// a prefix length 1-128.
			v6 := vs.Addr.Is6() || !vs.Addr.IsValid() && !strings.Contains(t.Text, ".")
			if v6 {
				bits, err := strconv.Atoi(t.Text)
				if err != nil || bits < 1 || bits > 128 {
					b.d.Skipf(t.Pos, "invalid IPv6 persistence_granularity %q (a prefix length 1-128) - ignoring", t.Text)
					return
				}
				vs.Granularity = prefixMask(bits)
			} else {
				a, err := netip.ParseAddr(t.Text)
				if err != nil || !a.Is4() {
					b.d.Skipf(t.Pos, "invalid IPv4 persistence_granularity %q - ignoring", t.Text)
					return
				}
				vs.Granularity = a
			}
			vs.granularityPos = t.Pos
			// keepalived: granularity makes the service persistent, for
			// 360 s unless persistence_timeout says otherwise.
			if !vs.Persistent {
				vs.Persistent = true
				vs.Persistence = 360 * time.Second
			}
		}},
		"persistence_engine": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			if t, ok := b.arg(n); ok {
				vs.PersistenceEngine = t.Text
				if len(t.Text) > 15 {
					// keepalived 2.2.7 (pengine_handler) truncates to the
					// kernel's IP_VS_PENAME_MAXLEN-1.
					b.d.Skipf(t.Pos, "persistence_engine %q is too long, truncating to 15 characters (as keepalived 2.2.7 does)", t.Text)
					vs.PersistenceEngine = t.Text[:15]
				}
			}
		}},
		"protocol": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			t, ok := b.arg(n)
			if !ok {
				return
			}
			switch v := strings.ToUpper(t.Text); v {
			case "TCP", "UDP", "SCTP":
				p, _ := protocolWords.parse("protocol", v)
				vs.Protocol, vs.protocolPos = Protocol(p), t.Pos
			default:
				b.d.Skipf(t.Pos, "protocol %q is not TCP, UDP or SCTP - ignoring (as keepalived 2.2.7 does)", t.Text)
			}
		}},
		"ha_suspend": {handle: func(b *builder, n *Node, vs *VirtualServer) { vs.HASuspend = true }},
		"virtualhost": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			if t, ok := b.arg(n); ok {
				vs.Virtualhost = t.Text
			}
		}},
		"alpha": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			v, _ := b.boolArg(n)
			vs.Alpha = v
			vs.checkDefaults.putAlpha(v)
		}},
		"omega": {handle: func(b *builder, n *Node, vs *VirtualServer) { vs.Omega = true }},
		"quorum": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			if v, ok := b.intArg(n, 1, 1<<31-1); ok {
				vs.Quorum = v
				vs.quorumPos = n.Pos()
			}
		}},
		"hysteresis": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			if v, ok := b.intArg(n, 0, 1<<31-1); ok {
				vs.Hysteresis = v
			}
		}},
		"quorum_up":   {handle: func(b *builder, n *Node, vs *VirtualServer) { vs.QuorumUp = b.scriptWithUser(n) }},
		"quorum_down": {handle: func(b *builder, n *Node, vs *VirtualServer) { vs.QuorumDown = b.scriptWithUser(n) }},
		"ip_family": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			if t, ok := b.arg(n); ok {
				f, err := familyWords.parse("family", t.Text)
				if err != nil || f == 0 {
					b.d.Skipf(t.Pos, "ip_family %q is not inet or inet6", t.Text)
					return
				}
				vs.IPFamily = Family(f)
			}
		}},
		"sorry_server": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			if len(n.Args) == 0 || len(n.Args) > 2 {
				b.d.Errorf(n.Pos(), "sorry_server needs IP [PORT]")
				return
			}
			a, ok := b.addr("sorry_server", n.Args[0])
			if !ok {
				return
			}
			rs := &RealServer{Addr: a, Weight: 1, Pos: n.Pos(), Tunnel: vs.tunnel}
			if len(n.Args) == 2 {
				p, ok := b.port("sorry_server", n.Args[1])
				if !ok {
					return
				}
				rs.Port, rs.portGiven = p, true
			}
			vs.SorryServer = rs
		}},
		"sorry_server_inhibit": {handle: func(b *builder, n *Node, vs *VirtualServer) { vs.SorryInhibit = true }},
		"sorry_server_lvs_method": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			ss := vs.SorryServer
			if ss == nil {
				ss = &RealServer{} // parsed, reported, dropped
			}
			ss.methodGiven = b.methodTunnel(n, &ss.Method, &ss.Tunnel) || ss.methodGiven
		}},
		"inhibit_on_failure": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			v, _ := b.boolArg(n)
			vs.InhibitOnFailure = v
		}},
		"delay_loop": {handle: func(b *builder, n *Node, vs *VirtualServer) {
			if v, ok := b.timerArg(n, time.Microsecond, 24*time.Hour); ok {
				vs.DelayLoop = v
				vs.checkDefaults.putTimer(delayLoopSet, v)
			}
		}},
		"connect_timeout":    {handle: func(b *builder, n *Node, vs *VirtualServer) { b.defaultTimer(n, &vs.checkDefaults, ctSet) }},
		"delay_before_retry": {handle: func(b *builder, n *Node, vs *VirtualServer) { b.defaultTimer(n, &vs.checkDefaults, dbrSet) }},
		"warmup":             {handle: func(b *builder, n *Node, vs *VirtualServer) { b.defaultTimer(n, &vs.checkDefaults, warmupSet) }},
		"retry":              {handle: func(b *builder, n *Node, vs *VirtualServer) { b.defaultRetry(n, &vs.checkDefaults) }},
		"real_server":        {handle: (*builder).realServer},
		"smtp_alert":         {handle: func(b *builder, n *Node, vs *VirtualServer) { optBool(b, n, &vs.SMTPAlert) }},
		"snmp_name":          {ignored: "lvsd has no SNMP agent"},
		"nat_mask":           {ignored: "obsolete since keepalived 1.x; the kernel ignores it"},
		"lvs_sync_daemon":    {ignored: "it belongs in global_defs; keepalived does not know it in a virtual_server either"},
	}
}

func prefixMask(bits int) netip.Addr {
	var b [16]byte
	for i := 0; i < bits && i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

func (b *builder) defaultTimer(n *Node, d *checkDefaults, bit checkSet) {
	if v, ok := b.timerArg(n, 0, 24*time.Hour); ok {
		d.putTimer(bit, v)
	}
}

func (b *builder) defaultRetry(n *Node, d *checkDefaults) {
	if v, ok := b.intArg(n, 0, 1<<20); ok {
		d.retry, d.set = v, d.set|retrySet
	}
}

// ---- real_server -----------------------------------------------------

func (b *builder) realServer(n *Node, vs *VirtualServer) {
	if len(n.Args) == 0 || len(n.Args) > 2 {
		b.d.Errorf(n.Pos(), "real_server needs IP [PORT]")
		return
	}
	var a netip.Addr
	ok := b.skipAs("the real server is left out", func() (ok bool) { a, ok = b.addr("real_server", n.Args[0]); return })
	if !ok {
		return
	}
	// keepalived 2.2.7 alloc_rs/alloc_ssvr start from the virtual server's
	// tunnel so far (kept when the server's own lvs_method options are bad).
	rs := b.ahead.realServer()
	// alpha, inhibit_on_failure and the checker settings not given take
	// the virtual server's in applyDefaults (keepalived 2.2.7
	// validate_check_config), wherever in the block they are written.
	*rs = RealServer{Addr: a, Weight: 1, Pos: n.Pos(), Tunnel: vs.tunnel}
	if len(n.Args) == 2 {
		var p uint16
		ok := b.skipAs("the real server is left out", func() (ok bool) { p, ok = b.port("real_server", n.Args[1]); return })
		if !ok {
			return
		}
		rs.Port, rs.portGiven = p, true
	}
	walkAt(b, n.Children, rsTable, rs, func() string { return "real_server " + a.String() })
	vs.RealServers = append(vs.RealServers, rs)
}

var rsTable table[*RealServer]

func init() {
	rsTable = table[*RealServer]{
		"weight": {handle: func(b *builder, n *Node, rs *RealServer) {
			// keepalived 2.2.7: 0 to IPVS_WEIGHT_LIMIT (INT_MAX)
			if v, ok := b.intArg(n, 0, 1<<31-1); ok {
				rs.Weight, rs.weightGiven = v, true
			}
		}},
		"lvs_method": {handle: func(b *builder, n *Node, rs *RealServer) {
			rs.methodGiven = b.methodTunnel(n, &rs.Method, &rs.Tunnel) || rs.methodGiven
		}},
		"inhibit_on_failure": {handle: func(b *builder, n *Node, rs *RealServer) {
			v, _ := b.boolArg(n)
			rs.InhibitOnFailure, rs.inhibitGiven = v, true
		}},
		"uthreshold": {handle: func(b *builder, n *Node, rs *RealServer) {
			if v, ok := b.intArg(n, 0, 1<<31-1); ok {
				rs.UThreshold = v
			}
		}},
		"lthreshold": {handle: func(b *builder, n *Node, rs *RealServer) {
			if v, ok := b.intArg(n, 0, 1<<31-1); ok {
				rs.LThreshold = v
			}
		}},
		"notify_up":   {handle: func(b *builder, n *Node, rs *RealServer) { rs.NotifyUp = b.scriptWithUser(n) }},
		"notify_down": {handle: func(b *builder, n *Node, rs *RealServer) { rs.NotifyDown = b.scriptWithUser(n) }},
		"virtualhost": {handle: func(b *builder, n *Node, rs *RealServer) {
			if t, ok := b.arg(n); ok {
				rs.Virtualhost = t.Text
			}
		}},
		"alpha": {handle: func(b *builder, n *Node, rs *RealServer) {
			v, _ := b.boolArg(n)
			rs.Alpha = v
			rs.checkDefaults.putAlpha(v)
		}},
		"delay_loop": {handle: func(b *builder, n *Node, rs *RealServer) {
			if v, ok := b.timerArg(n, time.Microsecond, 24*time.Hour); ok {
				rs.checkDefaults.putTimer(delayLoopSet, v)
			}
		}},
		"connect_timeout":    {handle: func(b *builder, n *Node, rs *RealServer) { b.defaultTimer(n, &rs.checkDefaults, ctSet) }},
		"delay_before_retry": {handle: func(b *builder, n *Node, rs *RealServer) { b.defaultTimer(n, &rs.checkDefaults, dbrSet) }},
		"warmup":             {handle: func(b *builder, n *Node, rs *RealServer) { b.defaultTimer(n, &rs.checkDefaults, warmupSet) }},
		"retry":              {handle: func(b *builder, n *Node, rs *RealServer) { b.defaultRetry(n, &rs.checkDefaults) }},
		"TCP_CHECK":          {handle: func(b *builder, n *Node, rs *RealServer) { b.checker(n, rs, CheckTCP) }},
		"HTTP_GET":           {handle: func(b *builder, n *Node, rs *RealServer) { b.checker(n, rs, CheckHTTP) }},
		"SSL_GET":            {handle: func(b *builder, n *Node, rs *RealServer) { b.checker(n, rs, CheckSSL) }},
		"MISC_CHECK":         {handle: func(b *builder, n *Node, rs *RealServer) { b.checker(n, rs, CheckMisc) }},
		"smtp_alert":         {handle: func(b *builder, n *Node, rs *RealServer) { optBool(b, n, &rs.SMTPAlert) }},
		"snmp_name":          {ignored: "lvsd has no SNMP agent"},
	}
	rsTable["FILE_CHECK"] = keyword[*RealServer]{handle: (*builder).fileCheck}
	rsTable["SMTP_CHECK"] = keyword[*RealServer]{handle: (*builder).smtpCheck}
	for _, typ := range []CheckerType{CheckDNS, CheckUDP, CheckPing} {
		rsTable[typ.String()] = keyword[*RealServer]{handle: func(b *builder, n *Node, rs *RealServer) { b.checker(n, rs, typ) }}
	}
	for name := range unsupportedCheckers {
		if _, done := rsTable[name]; done {
			continue
		}
		rsTable[name] = keyword[*RealServer]{ignored: "this checker is not implemented: lvsd does not check the real server with it, so it stays in service as far as this checker goes, where keepalived 2.2.7 would take it down when the check fails"}
	}
}

// ---- checkers ----------------------------------------------------------

// pendingChecker holds what the checker block set explicitly; defaults are
// resolved in applyDefaults, once the whole virtual server is known.
type pendingChecker struct {
	*Checker
	own checkDefaults
	// miscUser: MISC_CHECK's user [group], which keepalived takes before
	// or after misc_path.
	miscUser []string
	// dnsNameSet: DNS_CHECK's name was given (keepalived ignores a second).
	dnsNameSet bool
	// SMTP_CHECK: a connection keyword was given at its top level, and
	// its (deprecated) host blocks.
	connSet bool
	hosts   []smtpHostChecker
}

// smtpHostChecker is a deprecated SMTP_CHECK host block's connection
// settings, and its own connect_timeout (own; none: the real or virtual
// server's).
type smtpHostChecker struct {
	*Checker
	own checkDefaults
}

func (b *builder) checker(n *Node, rs *RealServer, typ CheckerType) {
	if !n.HasBlock {
		b.d.Errorf(n.Pos(), "%s needs a { ... } block", typ)
		return
	}
	ck := b.ahead.checker()
	ck.Type, ck.Pos = typ, n.Pos()
	// The builder's scratch: checker blocks do not nest (SMTP_CHECK's
	// host blocks have their own), and nothing keeps pc after the block.
	pc := &b.pc
	*pc = pendingChecker{Checker: ck}
	t := checkerTable
	switch typ {
	case CheckMisc:
		t = miscTable
	case CheckTCP:
		t = tcpCheckerTable
	case CheckDNS:
		// keepalived 2.2.7 (check_dns.c): SOA for the root by default.
		pc.MutExtra().DNSType = "SOA"
		t = dnsTable
	case CheckUDP:
		// keepalived 2.2.7 (check_udp.c udp_check_handler).
		pc.MutExtra().MaxReplyLen = 255
		t = udpTable
	case CheckPing:
		t = pingTable
	case CheckSMTP:
		pc.MutExtra().HeloName = "smtpchecker.keepalived.org"
		t = smtpTable
	}
	walk(b, n.Children, t, pc, typ.String())
	switch typ {
	case CheckDNS, CheckUDP, CheckPing, CheckSMTP:
		// keepalived 2.2.7 (check_conn_opts, at the end of each of these
		// blocks) drops a checker of an IPv6 link-local address without
		// bind_if.
		dst := pc.ConnectIP
		if !dst.IsValid() {
			dst = rs.Addr
		}
		if dst.Is6() && dst.IsLinkLocalUnicast() && pc.BindIf == "" {
			b.d.Skipf(n.Pos(), "%s: checker link local address %s requires a bind_if - skipping the checker (as keepalived 2.2.7 does)", typ, dst)
			return
		}
	}
	if typ == CheckUDP && pc.MutExtra().ReplyData != nil && pc.MutExtra().MinReplyLen > pc.MutExtra().MaxReplyLen {
		b.d.Warnf(n.Pos(), "UDP_CHECK min_reply_length %d > max_reply_length %d - will always fail (as in keepalived 2.2.7)", pc.MutExtra().MinReplyLen, pc.MutExtra().MaxReplyLen)
	}

	if typ == CheckMisc && pc.MutExtra().MiscPath != nil && pc.miscUser != nil {
		pc.MutExtra().MiscPath.User = pc.miscUser[0]
		if len(pc.miscUser) > 1 {
			pc.MutExtra().MiscPath.Group = pc.miscUser[1]
		}
	}
	if typ == CheckMisc && pc.MutExtra().MiscPath == nil {
		b.d.Skipf(n.Pos(), "MISC_CHECK has no misc_path - skipping the checker (as keepalived 2.2.7 does)")
		return
	}
	if (typ == CheckHTTP || typ == CheckSSL) && len(pc.MutExtra().URLs) == 0 {
		b.d.Skipf(n.Pos(), "%s has no url { ... } - ignoring the checker (as keepalived 2.2.7 does)", typ)
		return
	}
	c := pc.Checker
	// Timers, retry and alpha: resolved at the end of the virtual server
	// (resolveVirtualServer), once the real and virtual servers are
	// complete.
	if typ == CheckSMTP && len(pc.hosts) > 0 {
		b.d.Warnf(n.Pos(), "The SMTP_CHECK host block is deprecated. Please define additional checkers. (keepalived 2.2.7 logs this too)")
		// keepalived 2.2.7 (smtp_check_end_handler): one checker per
		// host; the block's own connection settings make one more,
		// else the first host's replace them.
		// A host without connect_timeout takes the real or virtual
		// server's, not the block's.
		base, baseOwn := *c, pc.own
		baseOwn.set &^= ctSet
		hosts := pc.hosts
		own := pc.own
		if !pc.connSet {
			*c, own = base, baseOwn
			smtpFromHost(c, hosts[0].Checker)
			own.takeConnectTimeout(hosts[0].own)
			hosts = hosts[1:]
		}
		rs.Checkers = append(rs.Checkers, c)
		b.resolveLater(c, rs, own, inheritAll)
		for _, h := range hosts {
			hc := base
			if hc.Ext != nil {
				x := *hc.Ext // each checker its own
				hc.Ext = &x
			}
			smtpFromHost(&hc, h.Checker)
			hOwn := baseOwn
			hOwn.takeConnectTimeout(h.own)
			rs.Checkers = append(rs.Checkers, &hc)
			b.resolveLater(&hc, rs, hOwn, inheritAll)
		}
		return
	}
	rs.Checkers = append(rs.Checkers, c)
	b.resolveLater(c, rs, pc.own, inheritAll)
}

// resolveLater records a checker of the virtual server being read, with
// what it set itself, for resolveVirtualServer at the end of its block.
func (b *builder) resolveLater(c *Checker, rs *RealServer, own checkDefaults, inherit checkInherit) {
	b.unresolved = append(b.unresolved, unresolvedChecker{c: c, rs: rs, own: own, inherit: inherit})
}

func checkerCommon() table[*pendingChecker] {
	timer := func(bit checkSet) keyword[*pendingChecker] {
		return keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) { b.defaultTimer(n, &c.own, bit) }}
	}
	return table[*pendingChecker]{
		"connect_timeout":    timer(ctSet),
		"delay_before_retry": timer(dbrSet),
		"warmup":             timer(warmupSet),
		"delay_loop": {handle: func(b *builder, n *Node, c *pendingChecker) {
			if v, ok := b.timerArg(n, time.Microsecond, 24*time.Hour); ok {
				c.own.putTimer(delayLoopSet, v)
			}
		}},
		"retry": {handle: func(b *builder, n *Node, c *pendingChecker) { b.defaultRetry(n, &c.own) }},
		"alpha": {handle: func(b *builder, n *Node, c *pendingChecker) {
			v, _ := b.boolArg(n)
			c.own.putAlpha(v)
		}},
		"log_all_failures": {handle: func(b *builder, n *Node, c *pendingChecker) { c.LogAllFailures, _ = b.boolArg(n) }},
	}
}

// checkerTable is HTTP_GET's and SSL_GET's, tcpCheckerTable TCP_CHECK's,
// miscTable MISC_CHECK's.
var checkerTable, tcpCheckerTable, miscTable table[*pendingChecker]

// dnsTable, udpTable and pingTable are DNS_CHECK's, UDP_CHECK's and
// PING_CHECK's (check_dns.c, check_udp.c, check_ping.c): the common
// keywords with the connection ones, and their own.
var dnsTable, udpTable, pingTable table[*pendingChecker]

// smtpTable is SMTP_CHECK's (check_smtp.c), smtpHostTable the connection
// keywords of its deprecated host blocks.
var smtpTable, smtpHostTable table[*pendingChecker]

func init() {
	checkerTable = checkerCommon()
	addrKW := func(set func(*pendingChecker, netip.Addr)) keyword[*pendingChecker] {
		return keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) {
			if t, ok := b.arg(n); ok {
				if a, ok := b.addr(n.Key, t); ok {
					set(c, a)
				}
			}
		}}
	}
	portKW := func(set func(*pendingChecker, uint16)) keyword[*pendingChecker] {
		return keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) {
			if t, ok := b.arg(n); ok {
				if p, ok := b.port(n.Key, t); ok {
					set(c, p)
				}
			}
		}}
	}
	more := table[*pendingChecker]{
		"connect_ip":   addrKW(func(c *pendingChecker, a netip.Addr) { c.ConnectIP = a }),
		"bindto":       addrKW(func(c *pendingChecker, a netip.Addr) { c.BindTo = a }),
		"connect_port": portKW(func(c *pendingChecker, p uint16) { c.ConnectPort = p }),
		"bind_port":    portKW(func(c *pendingChecker, p uint16) { c.BindPort = p }),
		"bind_if": {handle: func(b *builder, n *Node, c *pendingChecker) {
			if t, ok := b.arg(n); ok {
				c.BindIf = t.Text
			}
		}},
		"fwmark": {handle: func(b *builder, n *Node, c *pendingChecker) {
			if v, ok := b.intArg(n, 0, 1<<32-1); ok {
				c.FWMark = uint32(v)
			}
		}},
		// keepalived 1.x spelling; 2.2.7 rejects it, lvsd keeps old configs working.
		"nb_get_retry": {deprecated: "retry", handle: func(b *builder, n *Node, c *pendingChecker) { b.defaultRetry(n, &c.own) }},
	}
	for k, v := range more {
		checkerTable[k] = v
	}
	// TCP_CHECK has the connection keywords only (keepalived's
	// tcp_check_init); HTTP_GET and SSL_GET add their request keywords.
	tcpCheckerTable = maps.Clone(checkerTable)
	connTable := maps.Clone(checkerTable)
	delete(connTable, "nb_get_retry") // keepalived 1.x's, only in HTTP_GET/SSL_GET/TCP_CHECK here
	dnsTable, udpTable, pingTable = maps.Clone(connTable), maps.Clone(connTable), maps.Clone(connTable)
	maps.Copy(dnsTable, dnsOwnTable)
	maps.Copy(udpTable, udpOwnTable)
	smtpTable = maps.Clone(connTable)
	smtpHostTable = table[*pendingChecker]{}
	for k, kw := range connTable {
		switch k {
		case "connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark", "connect_timeout":
			h := kw.handle
			smtpTable[k] = keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) { c.connSet = true; h(b, n, c) }}
			smtpHostTable[k] = kw
		}
	}
	smtpTable["helo_name"] = keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "SMTP_CHECK helo name missing - ignoring (as keepalived 2.2.7 does)")
			return
		}
		c.MutExtra().HeloName = n.Args[0].Text
	}}
	smtpTable["host"] = keyword[*pendingChecker]{handle: (*builder).smtpHost}
	// keepalived 2.2.7's PING_CHECK accepts the connection keywords and
	// reads only connect_ip and connect_timeout: its ICMP socket is not
	// bound, marked or tied to an interface.
	for _, k := range []string{"connect_port", "bindto", "bind_port", "bind_if", "fwmark"} {
		h := pingTable[k].handle
		pingTable[k] = keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) {
			b.d.Warnf(n.Pos(), "PING_CHECK: %s has no effect on an ICMP echo (keepalived 2.2.7 accepts it and does not use it either)", n.Key)
			if k == "bind_if" {
				h(b, n, c) // still names the interface of a link-local target
			}
		}}
	}
	more = table[*pendingChecker]{
		"url": {handle: (*builder).url},
		"http_protocol": {handle: func(b *builder, n *Node, c *pendingChecker) {
			if t, ok := b.arg(n); ok {
				switch t.Text {
				case "1.0", "1.0C", "1.1":
					c.HTTPProtocol = t.Text
				default:
					b.d.Skipf(t.Pos, "http_protocol %q is not 1.0, 1.0C or 1.1", t.Text)
				}
			}
		}},
		"virtualhost": {handle: func(b *builder, n *Node, c *pendingChecker) {
			if t, ok := b.arg(n); ok {
				c.Virtualhost = t.Text
			}
		}},
		"enable_sni":    {handle: func(b *builder, n *Node, c *pendingChecker) { c.EnableSNI = true }},
		"fast_recovery": {handle: func(b *builder, n *Node, c *pendingChecker) { c.FastRecovery, _ = b.boolArg(n) }},
	}
	for k, v := range more {
		checkerTable[k] = v
	}
	miscTable = checkerCommon()
	// keepalived 2.2.7's MISC_CHECK has no connection keywords
	// (install_checker_common_keywords(false)): connect_timeout there is an
	// unknown keyword, logged and run past.
	delete(miscTable, "connect_timeout")
	miscTable["misc_path"] = keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) { c.MutExtra().MiscPath = b.scriptLine(n) }}
	miscTable["misc_timeout"] = keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) {
		if v, ok := b.intArg(n, 1, 86400); ok {
			c.MiscTimeout = time.Duration(v) * time.Second
		}
	}}
	miscTable["misc_dynamic"] = keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) { c.MutExtra().MiscDynamic = true }}
	miscTable["user"] = keyword[*pendingChecker]{handle: func(b *builder, n *Node, c *pendingChecker) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "user needs a user name - ignoring it (as keepalived 2.2.7 does)")
			return
		}
		// keepalived's misc_user_handler: before or after misc_path alike
		c.miscUser = []string{n.Args[0].Text}
		if len(n.Args) > 1 {
			c.miscUser = append(c.miscUser, n.Args[1].Text)
		}
	}}
}

var urlTable = table[*URL]{
	"path": {handle: func(b *builder, n *Node, u *URL) {
		if t, ok := b.arg(n); ok {
			u.Path = t.Text
		}
	}},
	"digest": {handle: func(b *builder, n *Node, u *URL) {
		t, ok := b.arg(n)
		if !ok {
			return
		}
		if len(t.Text) != 32 || strings.Trim(strings.ToLower(t.Text), "0123456789abcdef") != "" {
			b.d.Skipf(t.Pos, "digest %q is not a 32-digit hex MD5 sum", t.Text)
			return
		}
		u.Digest = strings.ToLower(t.Text)
	}},
	"status_code": {handle: func(b *builder, n *Node, u *URL) {
		if len(n.Args) == 0 {
			b.d.Errorf(n.Pos(), "status_code needs a code or range")
			return
		}
		u.StatusCodes = nil
		for _, a := range n.Args {
			lo, hi, found := strings.Cut(a.Text, "-")
			if !found {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
				b.d.Skipf(a.Pos, "status_code %q is not a code or range within 100..599", a.Text)
				continue
			}
			u.StatusCodes = append(u.StatusCodes, [2]int{l, h})
		}
	}},
	"virtualhost": {handle: func(b *builder, n *Node, u *URL) {
		if t, ok := b.arg(n); ok {
			u.Virtualhost = t.Text
		}
	}},
	"regex": {handle: func(b *builder, n *Node, u *URL) {
		if len(n.Args) != 1 {
			// keepalived 2.2.7 (regex_handler): "regex missing or too
			// many fields", and no regex.
			b.d.Skipf(n.Pos(), "regex missing or too many fields - ignoring (as keepalived 2.2.7 does)")
			return
		}
		u.Regex = n.Args[0].Text
		u.regexSet = true
	}},
	"regex_no_match": {handle: func(b *builder, n *Node, u *URL) { u.RegexNoMatch = true }},
	"regex_options": {handle: func(b *builder, n *Node, u *URL) {
		for _, a := range n.Args {
			flag, known := pcre2Options[a.Text]
			switch {
			case !known:
				// keepalived 2.2.7 passes over an unknown name in silence.
				b.d.Warnf(a.Pos, "regex_options %q is not a PCRE2 option keepalived knows; ignored (keepalived ignores it too)", a.Text)
			case flag == "":
				b.d.Warnf(a.Pos, "regex_options %s has no equivalent in Go's RE2 engine, which lvsd matches with; ignored", a.Text)
			case flag == "!":
				b.d.Skipf(a.Pos, "regex_options %s cannot be honoured by Go's RE2 engine (no extended syntax or callouts); the regex is matched without it", a.Text)
			default:
				if !strings.Contains(u.RegexFlags, flag) {
					u.RegexFlags += flag
				}
			}
		}
	}},
	"regex_stack":      {ignored: "Go's RE2 engine needs no JIT stack; the regex is matched without one"},
	"regex_min_offset": {handle: func(b *builder, n *Node, u *URL) { u.RegexMinOffset = regexOffset(b, n) }},
	"regex_max_offset": {handle: func(b *builder, n *Node, u *URL) {
		// keepalived 2.2.7 keeps one beyond the last acceptable position,
		// even when it could not read the value (then 0, so 1).
		u.RegexMaxOffset = regexOffset(b, n) + 1
	}},
}

// pcre2Options maps keepalived 2.2.7's regex_options names onto RE2 flags:
// a flag letter, "" for an option without effect on what RE2 matches
// (optimisation or diagnostics switches, UTF handling Go always has), "!"
// for one RE2 cannot honour.
var pcre2Options = map[string]string{
	"caseless": "i", "multiline": "m", "dotall": "s", "ungreedy": "U",
	"allow_empty_class": "!", "alt_bsux": "!", "auto_callout": "!", "dollar_endonly": "",
	"dupnames": "", "extended": "!", "firstline": "!", "match_unset_backref": "!",
	"never_ucp": "", "never_utf": "", "no_auto_capture": "", "no_auto_possess": "",
	"no_dotstar_anchor": "", "no_start_optimize": "", "ucp": "", "utf": "",
	"never_backslash_c": "", "alt_circumflex": "!", "alt_verbnames": "!", "use_offset_limit": "",
}

// regexOffset reads regex_min_offset/regex_max_offset as keepalived
// 2.2.7's regex_offset_handler does: a bad value is logged and read as 0.
func regexOffset(b *builder, n *Node) int {
	if len(n.Args) != 1 {
		b.d.Skipf(n.Pos(), "Missing or too many options for %s - taking 0 (as keepalived 2.2.7 does)", n.Key)
		return 0
	}
	v, err := strconv.ParseUint(n.Args[0].Text, 10, 31)
	if err != nil {
		b.d.Skipf(n.Args[0].Pos, "Invalid %s %s specified - taking 0 (as keepalived 2.2.7 does)", n.Key, n.Args[0].Text)
		return 0
	}
	return int(v)
}

func (b *builder) url(n *Node, c *pendingChecker) {
	u := URL{Pos: n.Pos(), StatusCodes: [][2]int{{200, 299}}}
	walk(b, n.Children, urlTable, &u, "url")
	// keepalived 2.2.7 (url_check at the end of the url block).
	switch {
	case u.regexSet:
		if _, err := CompileRegex(u.Regex, u.RegexFlags); err != nil {
			b.d.Skipf(n.Pos(), "Invalid regex: '%s': %v - the url is checked without it (keepalived 2.2.7 logs an invalid PCRE2 regex and runs without it; Go's RE2 also refuses look-around, backreferences and possessive quantifiers)", u.Regex, err)
			u.Regex, u.RegexFlags, u.RegexNoMatch, u.RegexMinOffset, u.RegexMaxOffset = "", "", false, 0, 0
		}
	case u.RegexFlags != "" || u.RegexNoMatch || u.RegexMinOffset != 0 || u.RegexMaxOffset != 0:
		b.d.Skipf(n.Pos(), "regex parameters specified without regex - ignoring them (as keepalived 2.2.7 does)")
		u.RegexFlags, u.RegexNoMatch, u.RegexMinOffset, u.RegexMaxOffset = "", false, 0, 0
	}
	if u.RegexMaxOffset != 0 && u.RegexMinOffset >= u.RegexMaxOffset {
		b.d.Skipf(n.Pos(), "regex min offset %d > regex_max_offset %d - ignoring both (as keepalived 2.2.7 does)", u.RegexMinOffset, u.RegexMaxOffset-1)
		u.RegexMinOffset, u.RegexMaxOffset = 0, 0
	}
	if u.Path == "" {
		b.d.Skipf(n.Pos(), "url has no path - ignoring it (as keepalived 2.2.7 does)")
		return
	}
	c.MutExtra().URLs = append(c.MutExtra().URLs, u)
}

// applyDefaults fills values that depend on other blocks: instance version
// and GARP settings from global_defs, real-server methods and ports, checker
// targets.
func (b *builder) applyDefaults() {
	c := b.cfg
	// startup_shutdown_script: a script without its timeout waits 10 s.
	if c.Global.StartupScript != nil && c.Global.StartupScriptTimeout == 0 {
		c.Global.StartupScriptTimeout = 10 * time.Second
	}
	if c.Global.ShutdownScript != nil && c.Global.ShutdownScriptTimeout == 0 {
		c.Global.ShutdownScriptTimeout = 10 * time.Second
	}
	g := c.Global
	for _, in := range c.Instances {
		if in.Version == 0 {
			in.Version = g.VRRPVersion
		}
		if in.GARPMasterDelay < 0 {
			in.GARPMasterDelay = g.GARPMasterDelay
		}
		if in.GARPMasterRepeat < 0 {
			in.GARPMasterRepeat = g.GARPMasterRepeat
		}
		if in.GARPMasterRefresh < 0 {
			in.GARPMasterRefresh = g.GARPMasterRefresh
		}
		if in.GARPMasterRefreshRep < 0 {
			in.GARPMasterRefreshRep = g.GARPMasterRefreshRep
		}
		if in.GARPLowerPrioDelay < 0 {
			in.GARPLowerPrioDelay = g.GARPLowerPrioDelay
			if in.GARPLowerPrioDelay < 0 {
				in.GARPLowerPrioDelay = in.GARPMasterDelay
			}
		}
		if in.GARPLowerPrioRepeat < 0 {
			in.GARPLowerPrioRepeat = g.GARPLowerPrioRepeat
			if in.GARPLowerPrioRepeat < 0 {
				in.GARPLowerPrioRepeat = in.GARPMasterRepeat
			}
		}
		if g.VRRPStrict {
			in.StrictMode = true
		}
		if in.StrictMode {
			in.Accept = false
		}
	}
	for _, sg := range c.SyncGroups {
		for _, m := range sg.Members {
			for _, in := range c.Instances {
				if in.Name == m {
					in.SyncGroup = sg.Name
				}
			}
		}
	}
	for _, vs := range c.VirtualServers {
		all := vs.RealServers
		if vs.SorryServer != nil {
			all = append(all[:len(all):len(all)], vs.SorryServer)
		}
		for _, rs := range vs.RealServers {
			if !rs.weightGiven && vs.defaultWeight > 0 {
				rs.Weight = vs.defaultWeight
			}
		}
		for _, rs := range all {
			if !rs.methodGiven {
				rs.Method, rs.Tunnel = vs.Method, vs.tunnel
			}
			if !rs.portGiven {
				rs.Port = vs.Port
			}
			for _, ch := range rs.Checkers {
				if ch.ConnectPort == 0 {
					ch.ConnectPort = rs.Port
				}
			}
		}
	}
}

// ---- virtual_server_group ------------------------------------------

// maxGroupRange bounds the addresses one virtual_server_group entry may
// expand to (each is a kernel service).
const maxGroupRange = 65536

func (b *builder) vsGroup(n *Node, c *Config) {
	name, ok := b.blockName(n, "virtual_server_group")
	if !ok {
		return
	}
	g := &VSGroup{Name: name, Pos: n.Pos()}
	for _, e := range n.Children {
		if e.Key == "fwmark" {
			if ent, ok := b.groupFWMark(e); ok {
				g.Entries = append(g.Entries, ent)
			}
			continue
		}
		if entry, ok := b.groupRange(e); ok {
			g.Entries = append(g.Entries, entry)
		}
	}
	c.VSGroups = append(c.VSGroups, g)
}

// groupFWMark parses "fwmark N [inet|inet6]". keepalived 2.2.7
// (alloc_vsg_entry) logs and skips a bad entry.
func (b *builder) groupFWMark(e *Node) (VSGroupEntry, bool) {
	ent := VSGroupEntry{Pos: e.Pos()}
	if len(e.Args) == 0 || len(e.Args) > 2 {
		b.d.Skipf(e.Pos(), "virtual_server_group entry: fwmark needs a mark and an optional family (inet or inet6) - skipping")
		return ent, false
	}
	v, err := strconv.ParseUint(e.Args[0].Text, 10, 32)
	if err != nil || v == 0 {
		b.d.Skipf(e.Args[0].Pos, "virtual_server_group fwmark %q must be in [1, 4294967295] - skipping", e.Args[0].Text)
		return ent, false
	}
	ent.FWMark = uint32(v)
	if len(e.Args) == 2 {
		switch f := e.Args[1].Text; f {
		case "inet", "inet6":
			v, _ := familyWords.parse("family", f)
			ent.Family = Family(v)
		default:
			b.d.Skipf(e.Args[1].Pos, "virtual_server_group fwmark %d: family %q is not inet or inet6 - skipping", v, f)
			return ent, false
		}
	}
	return ent, true
}

// groupRange parses a virtual_server_group address entry as keepalived
// 2.2.7's alloc_vsg_entry does: ADDR, ADDR-N (last octet, or last hextet
// in hex), ADDR-ADDR (a full range) or ADDR/LEN, then an optional port (0
// means none). A bad entry is logged and skipped.
func (b *builder) groupRange(e *Node) (VSGroupEntry, bool) {
	ent := VSGroupEntry{Pos: e.Pos()}
	skip := func(format string, args ...any) (VSGroupEntry, bool) {
		b.d.Skipf(e.Pos(), "virtual_server_group entry %q: "+format+" - skipping", append([]any{e.Key}, args...)...)
		return ent, false
	}
	if len(e.Args) > 1 {
		return skip("unexpected %q after the port", e.Args[1].Text)
	}
	text := e.Key
	if len(e.Args) == 1 && strings.Trim(e.Args[0].Text, "0") != "" {
		p, err := strconv.ParseUint(e.Args[0].Text, 10, 16)
		if err != nil || p == 0 {
			return skip("port %q is not 1-65535", e.Args[0].Text)
		}
		ent.Port = uint16(p)
	}
	addrText, rest, sep := text, "", byte(0)
	if i := strings.IndexAny(text, "-/"); i >= 0 {
		addrText, rest, sep = text[:i], text[i+1:], text[i]
	}
	first, err := netip.ParseAddr(addrText)
	if err != nil || first.Zone() != "" || first.Is4In6() {
		return skip("not ADDRESS[-END|/LEN] [PORT] or fwmark N [inet|inet6]")
	}
	last := first
	switch {
	case sep == '/':
		bits, err := strconv.Atoi(rest)
		if err != nil || bits < 1 || bits > first.BitLen() {
			return skip("invalid netmask")
		}
		pfx := netip.PrefixFrom(first, bits)
		if pfx.Masked().Addr() != first {
			return skip("address mask bits not empty")
		}
		last = lastOf(pfx)
	case sep == '-' && (first.Is4() && strings.Contains(rest, ".") || first.Is6() && strings.Contains(rest, ":")):
		end, err := netip.ParseAddr(rest)
		if err != nil || end.Is4() != first.Is4() {
			return skip("invalid range end")
		}
		if end.Less(first) {
			return skip("address range end is less than address range start")
		}
		last = end
	case sep == '-':
		base, limit := 10, uint64(255)
		if first.Is6() {
			base, limit = 16, 0xffff
		}
		end, err := strconv.ParseUint(rest, base, 64)
		if err != nil || end > limit {
			return skip("range end %q is not a last %s", rest, map[bool]string{true: "hextet (hex)", false: "octet"}[first.Is6()])
		}
		raw := first.AsSlice()
		var start uint64
		if first.Is4() {
			start = uint64(raw[3])
			raw[3] = byte(end)
		} else {
			start = uint64(raw[14])<<8 | uint64(raw[15])
			raw[14], raw[15] = byte(end>>8), byte(end)
		}
		if start >= end {
			return skip("address range end is not greater than address range start")
		}
		last, _ = netip.AddrFromSlice(raw)
	}
	if n := rangeSize(first, last); n > maxGroupRange {
		return skip("%d addresses, more than the %d services lvsd makes of one entry", n, maxGroupRange)
	}
	ent.First, ent.Last = first, last
	return ent, true
}

// lastOf is the last address of a prefix.
func lastOf(p netip.Prefix) netip.Addr {
	raw := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(raw)*8; i++ {
		raw[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(raw)
	return a
}

// rangeSize counts first..last, saturating above maxGroupRange.
func rangeSize(first, last netip.Addr) uint64 {
	a, b := first.As16(), last.As16()
	for i := 0; i < 12; i++ {
		if a[i] != b[i] {
			return maxGroupRange + 1
		}
	}
	lo := uint64(a[12])<<24 | uint64(a[13])<<16 | uint64(a[14])<<8 | uint64(a[15])
	hi := uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	return hi - lo + 1
}

// CompileRegex compiles a url's regex with its RE2 flags (regex_options).
func CompileRegex(pattern, flags string) (*regexp.Regexp, error) {
	if flags != "" {
		pattern = "(?" + flags + ")" + pattern
	}
	return regexp.Compile(pattern)
}

// dnsTypes are the query types keepalived 2.2.7's DNS_CHECK knows
// (check_dns.c DNS_TYPE), by name.
var dnsTypes = map[string]uint16{
	"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "RRSIG": 46, "DNSKEY": 48,
}

// DNSTypeCode is the query type a DNS_CHECK's type names (0 if none).
func DNSTypeCode(name string) uint16 { return dnsTypes[strings.ToUpper(name)] }

var dnsOwnTable = table[*pendingChecker]{
	"type": {handle: func(b *builder, n *Node, c *pendingChecker) {
		t, ok := b.arg(n)
		if !ok {
			return
		}
		if DNSTypeCode(t.Text) == 0 {
			b.d.Skipf(t.Pos, "Unknown DNS check type %s - ignoring (as keepalived 2.2.7 does; it knows A NS CNAME SOA MX TXT AAAA RRSIG DNSKEY)", t.Text)
			return
		}
		c.MutExtra().DNSType = strings.ToUpper(t.Text)
	}},
	"name": {handle: func(b *builder, n *Node, c *pendingChecker) {
		t, ok := b.arg(n)
		if !ok {
			return
		}
		if c.dnsNameSet {
			b.d.Skipf(t.Pos, "DNS_CHECK name already specified - ignoring (as keepalived 2.2.7 does)")
			return
		}
		if !dnsNameValid(t.Text) {
			b.d.Skipf(t.Pos, "DNS_CHECK name '%s' has empty label - ignoring (as keepalived 2.2.7 does)", t.Text)
			return
		}
		c.MutExtra().DNSName, c.dnsNameSet = t.Text, true
	}},
}

// dnsNameValid is keepalived 2.2.7's dns_name_handler test, including its
// quirk: it looks at the character after the start of the name and after
// every dot, so a first label of one character ("a.example.com") counts
// as empty, as does "..": keepalived ignores such a name, and so does lvsd.
func dnsNameValid(name string) bool {
	if len(name) > 1 && name[0] == '.' {
		return false
	}
	at := func(i int) byte {
		if i < len(name) {
			return name[i]
		}
		return 0
	}
	for p := 0; p >= 0; {
		if at(p+1) == '.' {
			return false
		}
		next := strings.IndexByte(name[min(p+1, len(name)):], '.')
		if next < 0 {
			break
		}
		p = p + 1 + next
	}
	return true
}

// ReadHexString is keepalived 2.2.7's read_hex_str (lib/parser.c): hex
// digit pairs, spaces and tabs between them ignored, a lone digit before
// a space is one octet; with wildcards, x or X is a nibble that matches
// anything (its mask nibble is 0xf). It returns nil for an invalid string,
// and, as keepalived's does, for one whose last octet is 0xff.
func ReadHexString(s string, wildcards bool) (data, mask []byte) {
	hexVal := func(c byte) byte {
		switch {
		case c >= '0' && c <= '9':
			return c - '0'
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10
		case wildcards && (c == 'x' || c == 'X'):
			return 0xfe
		}
		return 0xff
	}
	usingMask := false
	var val byte
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		var m byte
		val = hexVal(s[i])
		i++
		if val == 0xff {
			break
		}
		if val == 0xfe {
			val, m, usingMask = 0, 0x0f, true
		}
		if i < len(s) && s[i] != ' ' {
			hi, mhi := val<<4, m<<4
			val = hexVal(s[i])
			i++
			if val == 0xff {
				break
			}
			m = 0
			if val == 0xfe {
				val, m, usingMask = 0, 0x0f, true
			}
			val |= hi
			m |= mhi
		}
		data = append(data, val)
		mask = append(mask, m)
	}
	if val == 0xff || len(data) == 0 {
		return nil, nil
	}
	if !usingMask {
		mask = nil
	}
	return data, mask
}

var udpOwnTable = table[*pendingChecker]{
	"payload": {handle: func(b *builder, n *Node, c *pendingChecker) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "UDP_CHECK payload requires a payload")
			return
		}
		data, _ := ReadHexString(joinArgs(n.Args), false)
		if data == nil {
			b.d.Skipf(n.Args[0].Pos, "Invalid hex string for UDP_CHECK payload - ignoring it: keepalived 2.2.7 then sends its 32-byte filler, and so does lvsd")
			return
		}
		c.MutExtra().Payload = data
	}},
	"require_reply": {handle: func(b *builder, n *Node, c *pendingChecker) {
		c.MutExtra().RequireReply = true
		if len(n.Args) == 0 {
			return
		}
		data, mask := ReadHexString(joinArgs(n.Args), true)
		if data == nil {
			b.d.Skipf(n.Args[0].Pos, "Invalid hex string for UDP_CHECK reply - ignoring the data: any reply passes (as in keepalived 2.2.7)")
			return
		}
		c.MutExtra().ReplyData, c.MutExtra().ReplyMask = data, mask
	}},
	"min_reply_length": {handle: func(b *builder, n *Node, c *pendingChecker) {
		if v, ok := udpLength(b, n, "min"); ok {
			c.MutExtra().MinReplyLen = v
		}
	}},
	"max_reply_length": {handle: func(b *builder, n *Node, c *pendingChecker) {
		if v, ok := udpLength(b, n, "max"); ok {
			c.MutExtra().MaxReplyLen = v
		}
	}},
}

func udpLength(b *builder, n *Node, which string) (int, bool) {
	t, ok := b.arg(n)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(t.Text, 10, 32)
	if err != nil || v > 65535 {
		b.d.Skipf(t.Pos, "UDP_CHECK %s length %s not valid - must be between 0 & 65535 - ignoring", which, t.Text)
		return 0, false
	}
	return int(v), true
}

func joinArgs(args []Token) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.Text
	}
	return strings.Join(parts, " ")
}

// ---- FILE_CHECK ------------------------------------------------------

// fileCheckBlock is a FILE_CHECK block while it is read.
type fileCheckBlock struct {
	file        *TrackFile
	weight      int
	reverse     bool
	weightGiven bool
}

// fileCheckTable is keepalived 2.2.7's FILE_CHECK block (check_file.c):
// track_file and weight only, no checker timers.
var fileCheckTable = table[*fileCheckBlock]{
	"track_file": {handle: func(b *builder, n *Node, f *fileCheckBlock) {
		t, ok := b.arg(n)
		if !ok {
			return
		}
		tf := b.cfg.TrackFiles[t.Text]
		if tf == nil {
			b.d.Skipf(t.Pos, "track_file %s not found (a track_file block must come before what tracks it) - ignoring (as keepalived 2.2.7 does)", t.Text)
			return
		}
		f.file = tf
	}},
	"weight": {handle: func(b *builder, n *Node, f *fileCheckBlock) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "track file weight missing - ignoring (as keepalived 2.2.7 does)")
			return
		}
		v, err := strconv.ParseInt(n.Args[0].Text, 10, 64)
		if err != nil || v < -(1<<31-1) || v > 1<<31-1 {
			b.d.Skipf(n.Args[0].Pos, "weight for track file must be in [%d..%d] inclusive. Ignoring...", -(1<<31 - 1), 1<<31-1)
			return
		}
		reverse := false
		if len(n.Args) >= 2 {
			switch n.Args[1].Text {
			case "reverse":
				reverse = true
			case "noreverse":
			default:
				b.d.Skipf(n.Args[1].Pos, "unknown track file weight option %s - ignoring (as keepalived 2.2.7 does)", n.Args[1].Text)
				return
			}
		}
		f.weight, f.reverse, f.weightGiven = int(v), reverse, true
	}},
}

// fileCheck reads a FILE_CHECK block: the real server follows a track
// file's value as keepalived 2.2.7's process_update_checker_track_file_status
// does (internal/check).
func (b *builder) fileCheck(n *Node, rs *RealServer) {
	if !n.HasBlock {
		b.d.Errorf(n.Pos(), "FILE_CHECK needs a { ... } block")
		return
	}
	var f fileCheckBlock
	walk(b, n.Children, fileCheckTable, &f, "FILE_CHECK")
	if f.file == nil {
		b.d.Skipf(n.Pos(), "FILE_CHECK has no track_file specified - ignoring (as keepalived 2.2.7 does)")
		return
	}
	if !f.weightGiven {
		f.weight, f.reverse = f.file.Weight, f.file.WeightReverse
	}
	// keepalived reads the file when it changes (inotify); lvsd reads it
	// every 200 ms (internal/track.PollInterval), at once at start.
	rs.Checkers = append(rs.Checkers, &Checker{
		Type: CheckFile, Pos: n.Pos(),
		Ext:              &CheckerExtra{TrackFile: f.file.Name, TrackFilePath: f.file.Path, FileWeight: f.weight, FileReverse: f.reverse},
		DelayLoop:        200 * time.Millisecond,
		DelayBeforeRetry: 200 * time.Millisecond, ConnectTimeout: 5 * time.Second,
	})
}

// ---- SMTP_CHECK --------------------------------------------------------

// smtpCheck reads an SMTP_CHECK block (keepalived 2.2.7 check_smtp.c).
func (b *builder) smtpCheck(n *Node, rs *RealServer) { b.checker(n, rs, CheckSMTP) }

// smtpHost reads a deprecated SMTP_CHECK host block: its own connection
// settings (the real server by default); its other common keywords are
// the checker's, as in keepalived, where they set the same checker.
func (b *builder) smtpHost(n *Node, c *pendingChecker) {
	if !n.HasBlock {
		b.d.Errorf(n.Pos(), "host needs a { ... } block")
		return
	}
	h := &pendingChecker{Checker: &Checker{Type: CheckSMTP, Pos: n.Pos()}}
	t := maps.Clone(smtpHostTable)
	for k, kw := range connTableCommon() {
		if _, conn := t[k]; !conn {
			t[k] = keyword[*pendingChecker]{handle: func(b *builder, n *Node, _ *pendingChecker) { kw.handle(b, n, c) }}
		}
	}
	walk(b, n.Children, t, h, "host")
	// Without connect_ip the host is the real server (target()).
	if dst := h.ConnectIP; dst.IsValid() && dst.Is6() && dst.IsLinkLocalUnicast() && h.BindIf == "" {
		b.d.Skipf(n.Pos(), "SMTP_CHECK host: checker link local address %s requires a bind_if - skipping the host (as keepalived 2.2.7 does)", h.ConnectIP)
		return
	}
	c.hosts = append(c.hosts, smtpHostChecker{Checker: h.Checker, own: h.own})
}

// smtpHostKeywords is every keyword a host block takes (for keywords.go).
func smtpHostKeywords() table[*pendingChecker] {
	t := maps.Clone(smtpHostTable)
	maps.Copy(t, connTableCommon())
	return t
}

// connTableCommon is the common checker keywords without the connection
// ones (retry, delay_before_retry, warmup, delay_loop, alpha,
// log_all_failures).
func connTableCommon() table[*pendingChecker] {
	t := checkerCommon()
	delete(t, "connect_timeout")
	return t
}

// smtpFromHost gives c a host block's connection settings.
func smtpFromHost(c *Checker, h *Checker) {
	c.ConnectIP, c.ConnectPort, c.BindTo, c.BindPort, c.BindIf, c.FWMark = h.ConnectIP, h.ConnectPort, h.BindTo, h.BindPort, h.BindIf, h.FWMark
	c.Pos = h.Pos
}

// resolveVirtualServer gives each real server of vs what it does not set
// itself from vs (alpha, inhibit_on_failure) and resolves the timers,
// retry and alpha of the checkers read in its block (b.unresolved): the
// checker's own, else the real server's, else the virtual server's, else
// the type's default — keepalived 2.2.7's validate_check_config, which
// runs once the configuration is read, so the order of the keywords in
// the blocks does not matter. It runs at the end of the virtual server's
// block: nothing after it changes what it reads. What the checkers set
// themselves stays on the builder (b.unresolved, reused per virtual
// server), out of the model.
func (b *builder) resolveVirtualServer(vs *VirtualServer) {
	for _, rs := range vs.RealServers {
		if rs.checkDefaults.set&alphaSet == 0 {
			rs.Alpha = vs.Alpha
		}
		if !rs.inhibitGiven {
			rs.InhibitOnFailure = vs.InhibitOnFailure
		}
	}
	v := &vs.checkDefaults
	var o, d *checkDefaults
	dur := func(bit checkSet, def time.Duration) time.Duration {
		for _, p := range [...]*checkDefaults{o, d, v} {
			if t, ok := p.timer(bit); ok {
				return t
			}
		}
		return def
	}
	for i := range b.unresolved {
		u := &b.unresolved[i]
		c, rs := u.c, u.rs
		o, d = &u.own, &rs.checkDefaults
		if u.inherit == inheritAlpha {
			c.Alpha = rs.Alpha
			if o.set&alphaSet != 0 {
				c.Alpha = o.alpha
			}
			continue
		}
		c.DelayLoop = dur(delayLoopSet, 60*time.Second)
		c.ConnectTimeout = dur(ctSet, 5*time.Second)
		dbr := time.Second
		switch c.Type {
		case CheckHTTP, CheckSSL:
			dbr = 3 * time.Second
		case CheckDNS:
			// keepalived 2.2.7 (dns_check_handler): default_delay_before_retry
			// 0, which takes delay_loop.
			dbr = c.DelayLoop
		}
		c.DelayBeforeRetry = dur(dbrSet, dbr)
		c.Warmup = dur(warmupSet, c.DelayLoop)
		c.Retry = 1
		switch c.Type {
		case CheckMisc:
			c.Retry = 0
		case CheckDNS:
			c.Retry = 3 // DNS_DEFAULT_RETRY
		}
		for _, p := range [...]*checkDefaults{v, d, o} {
			if p.set&retrySet != 0 {
				c.Retry = p.retry
			}
		}
		c.Alpha = rs.Alpha
		if o.set&alphaSet != 0 {
			c.Alpha = o.alpha
		}
		if c.MiscTimeout == 0 && c.Type == CheckMisc {
			c.MiscTimeout = c.DelayLoop
		}
	}
	clear(b.unresolved)
	b.unresolved = b.unresolved[:0]
}

// unresolvedChecker is a checker of the virtual server being read and what
// it set itself (resolveVirtualServer).
type unresolvedChecker struct {
	c       *Checker
	rs      *RealServer
	own     checkDefaults
	inherit checkInherit
}

// checkInherit: which of a checker's settings resolveVirtualServer
// resolves.
type checkInherit uint8

const (
	inheritAll   checkInherit = iota // timers, retry, alpha (b.checker)
	inheritAlpha                     // alpha only (BFD_CHECK)
)
