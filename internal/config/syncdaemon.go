package config

// lvs_sync_daemon, parsed as keepalived 2.2.7 parses it
// (keepalived/core/global_parser.c lvs_syncd_handler):
//
//	lvs_sync_daemon INTERFACE [[inst] VRRP_INSTANCE] [id SYNC_ID] [maxlen LEN] [port PORT] [ttl TTL] [group IP]
//
// and the 1.x spellings it still accepts: the instance name as the second
// word without "inst", a bare sync id as the third word (with a warning),
// and lvs_sync_daemon_interface inside a vrrp_instance (deprecated since
// keepalived 1.2.19). Where keepalived reports a bad value and carries on
// without it, lvsd reports an error, as it does for every other keyword.

// ifNameMax is IFNAMSIZ-1, keepalived's IP_VS_IFNAME_MAXLEN-1: a longer
// name drops the whole keyword in keepalived.
const ifNameMax = 15

func lvsSyncDaemon(b *builder, n *Node, g *Global) {
	if prev := g.LVSSyncDaemon; prev != nil {
		b.d.Warnf(n.Pos(), "lvs_sync_daemon has already been specified at %s (interface %s); ignoring this one, as keepalived does", prev.Pos, prev.Interface)
		return
	}
	if len(n.Args) == 0 {
		b.d.Errorf(n.Pos(), "lvs_sync_daemon needs an interface")
		return
	}
	if ifn := n.Args[0]; len(ifn.Text) > ifNameMax {
		b.d.Errorf(ifn.Pos, "lvs_sync_daemon: interface name %q is longer than %d characters", ifn.Text, ifNameMax)
		return
	}
	sd := &SyncDaemon{Interface: n.Args[0].Text, Pos: n.Pos()}
	args := n.Args
	// i counts as keepalived's strvec index minus one: args[1] is the
	// word after the interface.
	for i := 1; i < len(args); i++ {
		t := args[i]
		value := func() (Token, bool) {
			if i+1 >= len(args) {
				b.d.Errorf(t.Pos, "lvs_sync_daemon: %s needs a value", t.Text)
				return Token{}, false
			}
			i++
			return args[i], true
		}
		switch t.Text {
		case "inst":
			if v, ok := value(); ok {
				if sd.Instance != "" {
					b.d.Warnf(v.Pos, "lvs_sync_daemon: the vrrp instance has already been given as %s; ignoring %s, as keepalived does", sd.Instance, v.Text)
				} else {
					sd.Instance, sd.InstancePos = v.Text, v.Pos
				}
			}
		case "id":
			if v, ok := value(); ok {
				if id, ok := b.parseInt("lvs_sync_daemon id", v, 0, 255); ok {
					sd.SyncID, sd.syncIDGiven = id, true
				}
			}
		case "maxlen":
			// A UDP payload: 65535 less the IP and UDP headers.
			if v, ok := value(); ok {
				if l, ok := b.parseInt("lvs_sync_daemon maxlen", v, 1, 65535-20-8); ok {
					sd.MaxLen = l
				}
			}
		case "port":
			if v, ok := value(); ok {
				if p, ok := b.parseInt("lvs_sync_daemon port", v, 1, 65535); ok {
					sd.Port = p
				}
			}
		case "ttl":
			if v, ok := value(); ok {
				if ttl, ok := b.parseInt("lvs_sync_daemon ttl", v, 1, 255); ok {
					sd.TTL = ttl
				}
			}
		case "group":
			if v, ok := value(); ok {
				if a, ok := b.addr("lvs_sync_daemon group", v); ok {
					if !a.IsMulticast() || a.Is4In6() {
						b.d.Errorf(v.Pos, "lvs_sync_daemon group %s is not a multicast address", a)
					} else {
						sd.Group = a
					}
				}
			}
		default:
			switch i {
			case 1: // lvs_sync_daemon IF VRRP_INSTANCE (keepalived 1.2)
				sd.Instance, sd.InstancePos = t.Text, t.Pos
			case 2: // lvs_sync_daemon IF VRRP_INSTANCE SYNC_ID
				if id, ok := b.parseInt("lvs_sync_daemon sync id", t, 0, 255); ok {
					b.d.Warnf(t.Pos, `lvs_sync_daemon: put the keyword "id" before the sync id (id %s)`, t.Text)
					sd.SyncID, sd.syncIDGiven = id, true
				}
			default:
				b.d.Errorf(t.Pos, "lvs_sync_daemon: unknown option %q (want inst, id, maxlen, port, ttl or group)", t.Text)
			}
		}
	}
	g.LVSSyncDaemon = sd
}

// lvsSyncDaemonInterface is a vrrp_instance's lvs_sync_daemon_interface:
// the sync daemon follows that instance. keepalived 2.2.7 then uses sync
// id 0, not the instance's virtual_router_id (vrrp.c: the id defaults to
// the router id only for an instance named in lvs_sync_daemon); lvsd uses
// 0 too, so that a keepalived peer with the same file accepts its messages.
func lvsSyncDaemonInterface(b *builder, n *Node, in *Instance) {
	t, ok := b.arg(n)
	if !ok {
		return
	}
	g := &b.cfg.Global
	b.d.Warnf(n.Pos(), "vrrp_instance %s: lvs_sync_daemon_interface is deprecated; use lvs_sync_daemon %s inst %s id 0 in global_defs", in.Name, t.Text, in.Name)
	if prev := g.LVSSyncDaemon; prev != nil {
		b.d.Warnf(n.Pos(), "vrrp_instance %s: lvs_sync_daemon has already been specified at %s (interface %s); ignoring lvs_sync_daemon_interface, as keepalived does", in.Name, prev.Pos, prev.Interface)
		return
	}
	if len(t.Text) > ifNameMax {
		b.d.Errorf(t.Pos, "lvs_sync_daemon_interface: interface name %q is longer than %d characters", t.Text, ifNameMax)
		return
	}
	g.LVSSyncDaemon = &SyncDaemon{Interface: t.Text, Instance: in.Name, InstancePos: n.Pos(), SyncID: 0, syncIDGiven: true, Pos: n.Pos()}
}

// validateSyncDaemon resolves the instance and the default sync id as
// keepalived does after reading the whole file (vrrp.c vrrp_complete_init):
// the named instance's virtual_router_id when no id was given, 0 without
// an instance. An instance that does not exist clears the configuration
// (keepalived: "Unable to find vrrp instance %s for lvs_syncd - clearing
// lvs_syncd config"): lvsd runs no sync daemon either, and says so in a
// warning, which check-config --strict turns into a failure.
func validateSyncDaemon(c *Config, d *Diagnostics) {
	sd := c.Global.LVSSyncDaemon
	if sd == nil || sd.Instance == "" {
		return
	}
	for _, in := range c.Instances {
		if in.Name == sd.Instance {
			if !sd.syncIDGiven {
				sd.SyncID = in.VRID
			}
			return
		}
	}
	d.Warnf(sd.InstancePos, "lvs_sync_daemon: vrrp_instance %s is not defined; no sync daemon will run (keepalived clears the lvs_sync_daemon configuration too)", sd.Instance)
	c.Global.LVSSyncDaemon = nil
}
