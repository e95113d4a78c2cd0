package config

import "strconv"

// LVSTimeouts is lvs_timeouts: the kernel's IPVS timeouts, in seconds,
// for established TCP connections, TCP after a FIN, and UDP; 0 is not
// given (the kernel's value stays, or comes back on reload and at stop).
type LVSTimeouts struct {
	TCP    int `json:"tcp,omitempty"`
	TCPFin int `json:"tcpfin,omitempty"`
	UDP    int `json:"udp,omitempty"`
}

// Set reports whether any timeout is given.
func (t LVSTimeouts) Set() bool { return t.TCP != 0 || t.TCPFin != 0 || t.UDP != 0 }

// LVSMaxTimeout is keepalived's LVS_MAX_TIMEOUT: 31 days, in seconds.
const LVSMaxTimeout = 86400 * 31

// lvsTimeouts is keepalived 2.2.7's global_parser.c lvs_timeouts: `tcp N`,
// `tcpfin N` and `udp N` in any order, each 0..31 days in whole seconds;
// a bad value, a missing one or an unknown option is reported and skipped
// (the rest still apply), as keepalived does. A later lvs_timeouts sets
// only what it names.
func lvsTimeouts(b *builder, n *Node, g *Global) {
	if len(n.Args) < 2 {
		b.d.Skipf(n.Pos(), "lvs_timeouts requires at least one option")
		return
	}
	for i := 0; i < len(n.Args); i++ {
		opt := n.Args[i]
		var dst *int
		switch opt.Text {
		case "tcp":
			dst = &g.LVSTimeouts.TCP
		case "tcpfin":
			dst = &g.LVSTimeouts.TCPFin
		case "udp":
			dst = &g.LVSTimeouts.UDP
		default:
			b.d.Skipf(opt.Pos, "Unknown option %s specified for lvs_timeouts", opt.Text)
			continue
		}
		if i == len(n.Args)-1 {
			b.d.Skipf(opt.Pos, "No value specified for lvs_timeout %s - ignoring", opt.Text)
			continue
		}
		i++
		v, err := strconv.ParseUint(n.Args[i].Text, 10, 32)
		if err != nil || v > LVSMaxTimeout {
			b.d.Skipf(n.Args[i].Pos, "Invalid lvs_timeout %s (%s) - ignoring (0 to %d seconds)", opt.Text, n.Args[i].Text, LVSMaxTimeout)
			continue
		}
		*dst = int(v)
	}
}
