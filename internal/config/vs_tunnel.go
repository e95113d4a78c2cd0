package config

import (
	"strconv"
	"strings"
)

// TunnelType is a TUN server's encapsulation (the kernel's
// IP_VS_CONN_F_TUNNEL_TYPE_*).
type TunnelType uint8

const (
	TunnelIPIP TunnelType = 0
	TunnelGUE  TunnelType = 1
	TunnelGRE  TunnelType = 2
)

func (t TunnelType) String() string {
	switch t {
	case TunnelGUE:
		return "gue"
	case TunnelGRE:
		return "gre"
	}
	return "ipip"
}

// MarshalText names the type in the JSON dump.
func (t TunnelType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// TunnelFlags is the encapsulation checksum option (the kernel's
// IP_VS_TUNNEL_ENCAP_FLAG_*).
type TunnelFlags uint16

const (
	TunnelNoCsum  TunnelFlags = 0
	TunnelCsum    TunnelFlags = 1
	TunnelRemCsum TunnelFlags = 2
)

func (f TunnelFlags) String() string {
	switch f {
	case TunnelCsum:
		return "csum"
	case TunnelRemCsum:
		return "remcsum"
	}
	return "nocsum"
}

// MarshalText names the flags in the JSON dump.
func (f TunnelFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Tunnel is what keepalived 2.2.7 reads after "lvs_method TUN":
// "type ipip|gue|gre", "port N" (GUE's UDP port) and "nocsum|csum|remcsum".
// The zero value is keepalived's default: IPIP.
type Tunnel struct {
	Type  TunnelType  `json:"type"`
	Port  uint16      `json:"port,omitempty"`
	Flags TunnelFlags `json:"flags"`
}

// methodTunnel parses "lvs_method NAT|DR|TUN [type T] [port N]
// [nocsum|csum|remcsum]" as keepalived 2.2.7's svr_forwarding_handler
// does: an unknown method is reported and changes nothing; a known one is
// set, then the tunnel options are read, and any error in them is reported
// and leaves the tunnel as it was (the method stays set). The options are
// read whatever the method, as keepalived reads them (only TUN sends them).
// methodTunnel reports whether it set *method.
func (b *builder) methodTunnel(n *Node, method *Method, tun *Tunnel) bool {
	if len(n.Args) == 0 {
		b.d.Errorf(n.Pos(), "%s needs a value", n.Key)
		return false
	}
	m, ok := b.methodName(n.Key, n.Args[0])
	if !ok {
		return false
	}
	*method = m
	var t Tunnel
	args := n.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a.Text {
		case "type":
			if i+1 == len(args) {
				b.d.Skipf(a.Pos, "%s: missing tunnel type - the tunnel options are ignored", n.Key)
				return true
			}
			i++
			switch args[i].Text {
			case "ipip":
				t.Type = TunnelIPIP
			case "gue":
				t.Type = TunnelGUE
			case "gre":
				t.Type = TunnelGRE
			default:
				b.d.Skipf(args[i].Pos, "%s: unknown tunnel type %q (ipip, gue or gre) - the tunnel options are ignored", n.Key, args[i].Text)
				return true
			}
		case "port":
			if i+1 == len(args) {
				b.d.Skipf(a.Pos, "%s: missing port for the gue tunnel - the tunnel options are ignored", n.Key)
				return true
			}
			i++
			p, err := strconv.ParseUint(args[i].Text, 10, 64)
			if err != nil || p < 1 || p > 65535 {
				b.d.Skipf(args[i].Pos, "%s: invalid gue tunnel port %q (1-65535) - the tunnel options are ignored", n.Key, args[i].Text)
				return true
			}
			t.Port = uint16(p)
		case "nocsum":
			t.Flags = TunnelNoCsum
		case "csum":
			t.Flags = TunnelCsum
		case "remcsum":
			t.Flags = TunnelRemCsum
		default:
			hint := ""
			if s := suggest(a.Text, []string{"type", "port", "nocsum", "csum", "remcsum"}); s != "" {
				hint = " (did you mean " + s + "?)"
			}
			b.d.Skipf(a.Pos, "%s: invalid tunnel option %q%s - the tunnel options are ignored", n.Key, a.Text, hint)
			return true
		}
	}
	switch {
	case (t.Type == TunnelGUE) != (t.Port != 0):
		b.d.Skipf(n.Args[0].Pos, "%s: gue tunnels require a port, other tunnels cannot have one - the tunnel options are ignored", n.Key)
		return true
	case t.Type == TunnelIPIP && t.Flags != TunnelNoCsum:
		b.d.Skipf(n.Args[0].Pos, "%s: ipip tunnels do not support a checksum option - the tunnel options are ignored", n.Key)
		return true
	case t.Type == TunnelGRE && t.Flags == TunnelRemCsum:
		b.d.Skipf(n.Args[0].Pos, "%s: gre tunnels do not support remcsum - the tunnel options are ignored", n.Key)
		return true
	}
	*tun = t
	return true
}

// methodName is the forwarding method of t, reported as b.method reports it.
func (b *builder) methodName(key string, t Token) (Method, bool) {
	switch v := strings.ToUpper(t.Text); v {
	case "NAT", "DR", "TUN":
		m, _ := methodWords.parse("forwarding method", v)
		return Method(m), true
	default:
		hint := ""
		if s := suggest(v, []string{"NAT", "DR", "TUN"}); s != "" {
			hint = " (did you mean " + s + "?)"
		}
		// keepalived 2.2.7 logs "unknown routing method" and keeps the default.
		b.d.Skipf(t.Pos, "%s %q is not NAT, DR or TUN%s - ignoring", key, t.Text, hint)
		return MethodNAT, false
	}
}
