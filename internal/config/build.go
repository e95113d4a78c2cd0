package config

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

type builder struct {
	d   *Diagnostics
	cfg *Config
	// ahead are model objects allocated ahead for the statements being
	// built (load.go, modelAhead); nil: none.
	ahead *modelAhead
	// unresolved are the checkers of the virtual server being read, with
	// what they set themselves (resolveVirtualServer).
	unresolved []unresolvedChecker
	// pc is the checker block being read (b.checker).
	pc pendingChecker
	// defaultIf is the interface of static addresses without dev, fixed
	// by the first of them (staticAddresses).
	defaultIf string
}

// keyword describes how one keyword of a block is handled.
type keyword[T any] struct {
	handle func(b *builder, n *Node, x T)
	// ignored keywords are real keepalived keywords that lvsd accepts and
	// does not act on; reason is shown in the warning.
	ignored string
	// deprecated names a keyword's modern spelling.
	deprecated string
}

type table[T any] map[string]keyword[T]

func (t table[T]) names() []string {
	out := make([]string, 0, len(t))
	for k := range t {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// walk dispatches each statement of a block to its handler. Unknown
// keywords are errors and their whole block is skipped, so a stray '}' can
// never close the enclosing block the way keepalived lets it.
func walk[T any](b *builder, nodes []*Node, t table[T], x T, where string) {
	walkAt(b, nodes, t, x, func() string { return where })
}

// walkAt is walk with the block's name built only for a diagnostic (a
// virtual or real server's address is formatted per block otherwise:
// 50,000 strings at 10k x 4).
func walkAt[T any](b *builder, nodes []*Node, t table[T], x T, where func() string) {
	for _, n := range nodes {
		kw, ok := t[n.Key]
		if !ok {
			b.unknown(n, t.names, where())
			continue
		}
		if kw.ignored != "" {
			b.d.Warnf(n.Pos(), "%s in %s is not supported by lvsd (%s); ignored", n.Key, where(), kw.ignored)
			continue
		}
		if kw.deprecated != "" {
			b.d.Warnf(n.Pos(), "%s is deprecated; use %s", n.Key, kw.deprecated)
		}
		kw.handle(b, n, x)
	}
}

var unsupportedCheckers = map[string]bool{
	"SMTP_CHECK": true, "DNS_CHECK": true, "PING_CHECK": true,
	"UDP_CHECK": true, "FILE_CHECK": true,
}

// unknown reports n; known lists the block's keywords for a suggestion,
// and is only called while diagnostics are still kept.
func (b *builder) unknown(n *Node, known func() []string, where string) {
	if b.d.Full() {
		if n.HasBlock {
			b.d.Errorf(n.Pos(), "unknown keyword") // counted only
		} else {
			b.d.Skipf(n.Pos(), "unknown keyword")
		}
		return
	}
	// keepalived 2.2.7 (lib/parser.c process_stream) logs an unknown
	// keyword and goes on without the line: without a block lvsd does the
	// same (an error check-config fails on, lvsd run logs). With a block,
	// keepalived reads the block's lines as keywords of the enclosing
	// block and its '}' closes that block, a configuration nobody means;
	// lvsd refuses it.
	report, skipped := b.d.Skipf, "; the line is left out, as keepalived leaves it out"
	if n.HasBlock {
		report, skipped = b.d.Errorf, "; its block is skipped (keepalived would read it as part of the enclosing block)"
	}
	if s := suggest(n.Key, known()); s != "" {
		report(n.Pos(), "unknown keyword %q in %s (did you mean %q?)%s", n.Key, where, s, skipped)
		return
	}
	report(n.Pos(), "unknown keyword %q in %s%s", n.Key, where, skipped)
}

// build turns the statement tree into the typed model.
func build(nodes []*Node, d *Diagnostics) *Config {
	b := newBuilder(d)
	walk(b, nodes, topTable, b.cfg, "the top level")
	b.applyDefaults()
	return b.cfg
}

// topLevel builds one top-level statement: build is newBuilder, topLevel
// for each statement in order, then applyDefaults (Load calls them as the
// parser completes each statement).
func (b *builder) topLevel(n *Node) {
	walk(b, []*Node{n}, topTable, b.cfg, "the top level")
}

// newBuilder starts a model with keepalived's global defaults.
func newBuilder(d *Diagnostics) *builder {
	b := &builder{d: d, cfg: &Config{}}
	c := b.cfg
	c.Global = Global{
		SMTPConnectTimeout:   30 * time.Second,
		VRRPVersion:          2,
		VRRPMcastGroup4:      netip.MustParseAddr("224.0.0.18"),
		VRRPMcastGroup6:      netip.MustParseAddr("ff02::12"),
		GARPMasterDelay:      5 * time.Second,
		GARPMasterRepeat:     5,
		GARPMasterRefreshRep: 1,
		GARPLowerPrioDelay:   -1,
		GARPLowerPrioRepeat:  -1,
	}
	return b
}

var topTable table[*Config]

func init() {
	topTable = table[*Config]{
		"global_defs": {handle: func(b *builder, n *Node, c *Config) {
			walk(b, n.Children, globalTable, &c.Global, "global_defs")
		}},
		"vrrp_script":          {handle: (*builder).vrrpScript},
		"vrrp_sync_group":      {handle: (*builder).syncGroup},
		"vrrp_instance":        {handle: (*builder).instance},
		"virtual_server_group": {handle: (*builder).vsGroup},
		"virtual_server":       {handle: (*builder).virtualServer},
		"static_ipaddress":     {ignored: "static addresses belong to the host's network configuration"},
		"static_routes":        {ignored: "static routes belong to the host's network configuration"},
		"static_rules":         {ignored: "static rules belong to the host's network configuration"},
		"vrrp_track_file":      {ignored: "track files are not implemented yet"},
		"track_file":           {ignored: "track files are not implemented yet"},
		"vrrp_track_process":   {ignored: "process tracking is not implemented yet"},
		"linkbeat_interfaces":  {ignored: "linkbeat polling is not implemented; lvsd uses netlink link events"},
		"garp_group":           {ignored: "garp groups are not implemented yet"},
		"net_namespace":        {ignored: "run lvsd inside the namespace instead (ip netns exec)"},
		"net_namespace_ipvs":   {ignored: "run lvsd inside the namespace instead"},
		"instance":             {ignored: "run one lvsd per instance with its own config"},
		"use_pid_dir":          {ignored: "lvsd takes --pid"},
		// keepalived 2.2.7 also accepts these at the top level
		// (install_keyword_root in global_parser.c, vrrp_parser.c).
		"child_wait_time":          {ignored: "lvsd is one process, with no children to wait for at shutdown"},
		"linkbeat_use_polling":     {ignored: "linkbeat polling is not implemented; lvsd uses netlink link events"},
		"namespace_with_ipsets":    {ignored: "firewall integration is not implemented"},
		"track_group":              {ignored: "static track groups serve static_ipaddress/static_routes/static_rules, which lvsd leaves to the host's network configuration"},
		"interface_up_down_delays": {ignored: "lvsd acts on link changes at once"},
		"SSL":                      {handle: (*builder).sslContext},
	}
}

// sslContext reads the top-level SSL block (check_parser.c): password,
// ca, certificate and key, file names that internal/check loads for the
// SSL_GET checkers (a file that does not load stops lvsd run, as it stops
// keepalived's checker).
func (b *builder) sslContext(n *Node, c *Config) {
	s := &SSLContext{Pos: n.Pos()}
	for _, k := range n.Children {
		switch k.Key {
		case "password", "ca", "certificate", "key":
			if len(k.Args) == 0 {
				b.d.Skipf(k.Pos(), "SSL %s needs a value; ignored, as keepalived ignores it", k.Key)
				continue
			}
			v := k.Args[0].Text
			switch k.Key {
			case "password":
				s.Password = v
			case "ca":
				s.CA = v
			case "certificate":
				s.Certificate = v
			case "key":
				s.Key = v
			}
		default:
			b.unknown(k, func() []string { return []string{"ca", "certificate", "key", "password"} }, "SSL")
		}
	}
	c.Global.SSL = s
}

var globalTable = table[*Global]{
	"router_id": {handle: func(b *builder, n *Node, g *Global) {
		if t, ok := b.arg(n); ok {
			g.RouterID = t.Text
		}
	}},
	"startup_script":           {handle: func(b *builder, n *Node, g *Global) { lifecycleScript(b, n, "startup", &g.StartupScript) }},
	"shutdown_script":          {handle: func(b *builder, n *Node, g *Global) { lifecycleScript(b, n, "shutdown", &g.ShutdownScript) }},
	"startup_script_timeout":   {handle: func(b *builder, n *Node, g *Global) { lifecycleTimeout(b, n, "startup", &g.StartupScriptTimeout) }},
	"shutdown_script_timeout":  {handle: func(b *builder, n *Node, g *Global) { lifecycleTimeout(b, n, "shutdown", &g.ShutdownScriptTimeout) }},
	"checker_log_all_failures": globalBool(func(g *Global) *bool { return &g.CheckerLogAllFailures }),
	"rs_init_notifies":         globalBool(func(g *Global) *bool { return &g.RSInitNotifies }),
	"dynamic_interfaces": {handle: func(b *builder, n *Node, g *Global) {
		// dynamic_interfaces_handler: allow_if_changes concerns macvlan
		// changes keepalived tracks; lvsd remakes its VMACs either way.
		g.DynamicInterfaces = true // an unknown option too, as keepalived
		if len(n.Args) > 0 && n.Args[0].Text != "allow_if_changes" {
			b.d.Skipf(n.Args[0].Pos, "Unknown dynamic_interfaces option '%s'", n.Args[0].Text)
		}
	}},
	"default_interface": {handle: func(b *builder, n *Node, g *Global) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "default_interface requires interface name")
			return
		}
		g.DefaultInterface = n.Args[0].Text
	}},
	"lvs_id": {deprecated: "router_id", handle: func(b *builder, n *Node, g *Global) {
		if t, ok := b.arg(n); ok {
			g.RouterID = t.Text
		}
	}},
	"notification_email": {handle: func(b *builder, n *Node, g *Global) {
		for _, c := range n.Children {
			g.NotificationEmail = append(g.NotificationEmail, c.Key)
			for _, a := range c.Args {
				g.NotificationEmail = append(g.NotificationEmail, a.Text)
			}
		}
		for _, a := range n.Args {
			g.NotificationEmail = append(g.NotificationEmail, a.Text)
		}
		if len(n.Children) == 0 && len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "notification_email: empty block; no e-mail is sent, as keepalived sends none")
		}
	}},
	"notification_email_from": {handle: func(b *builder, n *Node, g *Global) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "notification_email_from needs an address; ignored, as keepalived 2.2.7 ignores it")
			return
		}
		g.NotificationEmailFrom = n.Args[0].Text
	}},
	"smtp_server": {handle: func(b *builder, n *Node, g *Global) {
		if len(n.Args) == 0 {
			// keepalived 2.2.7 reads the missing word anyway
			// (null_strvec) and exits.
			b.d.Errorf(n.Pos(), "smtp_server needs an address (keepalived 2.2.7 exits on it too)")
			return
		}
		host, port := n.Args[0].Text, uint16(25)
		if len(n.Args) >= 2 {
			p, err := strconv.ParseUint(n.Args[1].Text, 10, 16)
			if err != nil {
				// keepalived's inet_stosockaddr/domain_stosockaddr fail
				// on the port: the server stays unset, no mail is sent.
				b.d.Skipf(n.Args[1].Pos, "smtp_server: invalid port %q; no e-mail is sent, as keepalived 2.2.7 sends none", n.Args[1].Text)
				g.SMTPServer, g.SMTPPort = "", 0
				return
			}
			port = uint16(p)
		}
		if strings.ContainsAny(host, "/") || host == "" {
			b.d.Skipf(n.Args[0].Pos, "smtp_server: invalid server %q; no e-mail is sent, as keepalived 2.2.7 sends none", host)
			g.SMTPServer, g.SMTPPort = "", 0
			return
		}
		g.SMTPServer, g.SMTPPort = host, port
	}},
	"smtp_connect_timeout": {handle: func(b *builder, n *Node, g *Global) {
		t, ok := b.arg(n)
		if !ok {
			return
		}
		// keepalived 2.2.7: an unsigned number of seconds in [0, UINT_MAX/TIMER_HZ]; 0 becomes 1.
		v, err := strconv.ParseUint(t.Text, 10, 32)
		if err != nil || v > 4294 {
			b.d.Skipf(t.Pos, "smtp_connect_timeout %q must be in [0, 4294]; ignored, as keepalived 2.2.7 ignores it", t.Text)
			return
		}
		if v == 0 {
			b.d.Skipf(t.Pos, "smtp_connect_timeout must be greater than 0; set to 1, as keepalived 2.2.7 sets it")
			v = 1
		}
		g.SMTPConnectTimeout = time.Duration(v) * time.Second
	}},
	"smtp_helo_name": {handle: func(b *builder, n *Node, g *Global) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "smtp_helo_name needs a name; ignored, as keepalived 2.2.7 ignores it")
			return
		}
		g.SMTPHeloName = n.Args[0].Text
	}},
	"smtp_alert":                       {handle: func(b *builder, n *Node, g *Global) { optBool(b, n, &g.SMTPAlert) }},
	"smtp_alert_vrrp":                  {handle: func(b *builder, n *Node, g *Global) { optBool(b, n, &g.SMTPAlertVRRP) }},
	"vrrp_notify_priority_changes":     globalBool(func(g *Global) *bool { return &g.VRRPNotifyPriorityChanges }),
	"smtp_alert_checker":               {handle: func(b *builder, n *Node, g *Global) { optBool(b, n, &g.SMTPAlertChecker) }},
	"no_email_faults":                  {handle: func(b *builder, n *Node, g *Global) { g.NoEmailFaults = true }},
	"notify_fifo":                      {handle: func(b *builder, n *Node, g *Global) { notifyFIFO(b, n, "", &g.NotifyFIFO) }},
	"notify_fifo_script":               {handle: func(b *builder, n *Node, g *Global) { notifyFIFOScript(b, n, "", &g.NotifyFIFO) }},
	"vrrp_notify_fifo":                 {handle: func(b *builder, n *Node, g *Global) { notifyFIFO(b, n, "vrrp_", &g.VRRPNotifyFIFO) }},
	"vrrp_notify_fifo_script":          {handle: func(b *builder, n *Node, g *Global) { notifyFIFOScript(b, n, "vrrp_", &g.VRRPNotifyFIFO) }},
	"lvs_notify_fifo":                  {handle: func(b *builder, n *Node, g *Global) { notifyFIFO(b, n, "lvs_", &g.LVSNotifyFIFO) }},
	"lvs_notify_fifo_script":           {handle: func(b *builder, n *Node, g *Global) { notifyFIFOScript(b, n, "lvs_", &g.LVSNotifyFIFO) }},
	"fifo_write_vrrp_states_on_reload": globalBool(func(g *Global) *bool { return &g.FIFOWriteVRRPStatesOnReload }),
	"no_checker_emails":                globalBool(func(g *Global) *bool { return &g.NoCheckerEmails }),
	"script_user": {handle: func(b *builder, n *Node, g *Global) {
		if len(n.Args) == 0 {
			b.d.Skipf(n.Pos(), "script_user needs a user; ignored, as keepalived 2.2.7 ignores it")
			return
		}
		if len(n.Args) > 2 {
			b.d.Warnf(n.Args[2].Pos, "script_user takes a user and an optional group; %q and what follows are ignored, as keepalived ignores them", n.Args[2].Text)
		}
		g.ScriptUser = n.Args[0].Text
		if len(n.Args) == 2 {
			g.ScriptGroup = n.Args[1].Text
		}
	}},
	"enable_script_security": {handle: func(b *builder, n *Node, g *Global) { g.EnableScriptSecurity = true }},
	// include_check is applied by the pre-processor (preproc_include.go)
	// where it stands, to the includes that follow, as keepalived does.
	"include_check": {handle: func(b *builder, n *Node, g *Global) {}},
	"lvs_flush":     {handle: func(b *builder, n *Node, g *Global) { g.LVSFlush = true }},
	// keepalived 2.2 accepts both spellings; VS is the only argument.
	"lvs_flush_onstop":  {handle: lvsFlushOnStop},
	"lvs_flush_on_stop": {handle: lvsFlushOnStop},
	"lvs_sync_daemon":   {handle: lvsSyncDaemon},
	"lvs_timeouts":      {handle: lvsTimeouts},
}

func init() {
	for k, kw := range vrrpGlobalTable {
		globalTable[k] = kw
	}
	// keepalived global keywords lvsd accepts without acting on them.
	// Silently dropping them would hide that the behaviour differs, so each
	// draws a warning naming the reason.
	reasons := map[string][]string{
		"lvsd has no SNMP or DBus agent; use the Prometheus metrics": {
			"enable_traps", "enable_snmp_vrrp", "enable_snmp_checker", "enable_snmp_rfc", "enable_snmp_rfcv2",
			"enable_snmp_rfcv3", "snmp_socket", "enable_dbus", "dbus_service_name", "enable_snmp_keepalived",
		},
		"lvsd is one process; scheduling is left to systemd": {
			"vrrp_priority", "checker_priority", "bfd_priority", "vrrp_no_swap", "checker_no_swap", "bfd_no_swap",
			"vrrp_rt_priority", "checker_rt_priority", "bfd_rt_priority", "vrrp_rlimit_rttime", "checker_rlimit_rttime",
			"bfd_rlimit_rttime", "vrrp_cpu_affinity", "checker_cpu_affinity", "bfd_cpu_affinity", "process_names",
			"process_name", "vrrp_process_name", "checker_process_name", "bfd_process_name", "child_wait_time",
			"umask", "random_seed", "use_pid_dir",
		},
		"firewall integration is not implemented": {
			"vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority", "nftables_ifindex", "nftables_counters",
			"nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "namespace_with_ipsets",
		},
		"netlink buffer tuning is automatic in lvsd": {
			"vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
			"vrrp_netlink_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force",
			"lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs",
			"process_monitor_rcv_bufs_force", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier",
		},
		"not implemented yet": {
			"vrrp_gna_interval",
			"vrrp_garp_extra_if",
			"vmac_prefix", "vmac_addr_prefix", "disable_local_igmp",
			"linkbeat_use_polling", "max_auto_priority", "min_auto_priority_delay",
			"reload_check_config", "reload_time_file", "reload_repeat",
			"reload_file", "config_save_dir", "tmp_config_directory", "data_use_instance",
			"script_security", "net_namespace", "net_namespace_ipvs", "instance",
		},
	}
	for reason, kws := range reasons {
		for _, k := range kws {
			if _, exists := globalTable[k]; !exists {
				globalTable[k] = keyword[*Global]{ignored: reason}
			}
		}
	}
}

// lvsFlushOnStop: no argument flushes the whole IPVS table at stop; VS
// removes each managed virtual server (the kernel drops its real servers).
func lvsFlushOnStop(b *builder, n *Node, g *Global) {
	if len(n.Args) == 0 {
		g.LVSFlushOnStop = "ALL"
		return
	}
	// keepalived 2.2.7 (lvs_flush_on_stop_handler) compares with "VS"
	// exactly and leaves the setting as it was for anything else.
	if n.Args[0].Text == "VS" {
		g.LVSFlushOnStop = "VS"
		return
	}
	b.d.Skipf(n.Args[0].Pos, "%s: %q is not VS (keepalived 2.2.7 knows no other argument); ignored, as keepalived ignores it", n.Key, n.Args[0].Text)
}

// optBool is a smtp_alert flag with an optional <BOOL>: given alone it is
// on; an invalid value leaves the setting unset, as keepalived 2.2.7's
// handlers leave it (check_true_false, then return).
func optBool(b *builder, n *Node, dst **bool) {
	if v, ok := b.boolArg(n); ok {
		*dst = &v
	}
}

// notifyFIFO is global_parser.c's notify_fifo: PATH [user [group]]; a
// second one is ignored, as keepalived ignores it.
func notifyFIFO(b *builder, n *Node, typ string, dst **NotifyFIFO) {
	if len(n.Args) == 0 {
		b.d.Skipf(n.Pos(), "no %snotify_fifo name specified; ignored, as keepalived 2.2.7 ignores it", typ)
		return
	}
	if *dst != nil && (*dst).Path != "" {
		b.d.Skipf(n.Pos(), "%snotify_fifo already specified; %q is ignored, as keepalived 2.2.7 ignores it", typ, n.Args[0].Text)
		return
	}
	if *dst == nil {
		*dst = &NotifyFIFO{}
	}
	f := *dst
	f.Path, f.Pos = n.Args[0].Text, n.Pos()
	if len(n.Args) > 1 {
		f.User = n.Args[1].Text
	}
	if len(n.Args) > 2 {
		f.Group = n.Args[2].Text
	}
}

// notifyFIFOScript is notify_fifo_script: the script reading the FIFO.
func notifyFIFOScript(b *builder, n *Node, typ string, dst **NotifyFIFO) {
	if len(n.Args) == 0 {
		b.d.Skipf(n.Pos(), "no %snotify_fifo_script specified; ignored, as keepalived 2.2.7 ignores it", typ)
		return
	}
	if *dst != nil && (*dst).Script != nil {
		b.d.Skipf(n.Pos(), "%snotify_fifo_script already specified; ignored, as keepalived 2.2.7 ignores it", typ)
		return
	}
	sc := b.scriptWithUser(n)
	if sc == nil {
		return
	}
	if *dst == nil {
		*dst = &NotifyFIFO{}
	}
	(*dst).Script = sc
}

// lifecycleScript reads startup_script or shutdown_script as keepalived
// 2.2.7's startup_shutdown_script: the first one given counts, and its
// timeout defaults to 10 s.
func lifecycleScript(b *builder, n *Node, kind string, dst **Script) {
	if *dst != nil {
		b.d.Skipf(n.Pos(), "%s script already specified", kind)
		return
	}
	if len(n.Args) == 0 {
		b.d.Skipf(n.Pos(), "%s script missing", kind)
		return
	}
	*dst = b.scriptWithUser(n)
}

// lifecycleTimeout reads startup_script_timeout or shutdown_script_timeout
// (seconds, 1-1000).
func lifecycleTimeout(b *builder, n *Node, kind string, dst *time.Duration) {
	if len(n.Args) == 0 {
		b.d.Skipf(n.Pos(), "%s_script_timeout requires value", kind)
		return
	}
	v, err := strconv.Atoi(n.Args[0].Text)
	if err != nil || v < 1 || v > 1000 {
		b.d.Skipf(n.Args[0].Pos, "%s_script_timeout '%s' must be in [1, 1000] - ignoring", kind, n.Args[0].Text)
		return
	}
	*dst = time.Duration(v) * time.Second
}

// globalBool is a global_defs keyword that sets field from its one
// optional word (keepalived's check_true_false; none: true).
func globalBool(field func(*Global) *bool) keyword[*Global] {
	return keyword[*Global]{handle: func(b *builder, n *Node, g *Global) {
		if v, ok := b.boolArg(n); ok {
			*field(g) = v
		}
	}}
}
