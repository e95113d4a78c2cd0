package config

import "fmt"

// The enumerations of the model are integer-backed, so that a consumer
// compares typed constants (a comparison with a bare string does not
// compile). Each String is keepalived's word, and MarshalText /
// UnmarshalText keep the JSON dump (golden-tested) as it was with strings.
// Every zero value is what the empty string meant before.

// enumText is the shared implementation of an enumeration's words.
type enumText []string

func (e enumText) str(v int) string {
	if v >= 0 && v < len(e) {
		return e[v]
	}
	return fmt.Sprintf("%%!(%d)", v)
}

func (e enumText) parse(kind, s string) (int, error) {
	for i, w := range e {
		if w == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("config: %q is not a %s", s, kind)
}

// Method is a forwarding method (lvs_method). Its zero value is NAT: the
// virtual server's default, and what an unset method meant to consumers.
// A real server that sets none takes its virtual server's (config.Load
// resolves it), so after Load every method is NAT, DR or TUN.
type Method uint8

const (
	MethodNAT Method = iota
	MethodDR
	MethodTUN
)

var methodWords = enumText{"NAT", "DR", "TUN"}

func (m Method) String() string               { return methodWords.str(int(m)) }
func (m Method) MarshalText() ([]byte, error) { return []byte(m.String()), nil }
func (m *Method) UnmarshalText(b []byte) error {
	return unmarshalEnum(m, methodWords, "forwarding method", b)
}

// Protocol is a virtual server's protocol. ProtoNone (a fwmark virtual
// server without a protocol keyword) is "".
type Protocol uint8

const (
	ProtoNone Protocol = iota
	ProtoTCP
	ProtoUDP
	ProtoSCTP
)

var protocolWords = enumText{"", "TCP", "UDP", "SCTP"}

func (p Protocol) String() string               { return protocolWords.str(int(p)) }
func (p Protocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
func (p *Protocol) UnmarshalText(b []byte) error {
	return unmarshalEnum(p, protocolWords, "protocol", b)
}

// CheckerType is a real server checker's kind, named by its keyword.
// CheckNone ("") is no checker.
type CheckerType uint8

const (
	CheckNone CheckerType = iota
	CheckTCP
	CheckHTTP
	CheckSSL
	CheckMisc
	CheckSMTP
	CheckDNS
	CheckUDP
	CheckPing
	CheckFile
	CheckBFD
)

var checkerWords = enumText{"", "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "SMTP_CHECK", "DNS_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK"}

func (c CheckerType) String() string               { return checkerWords.str(int(c)) }
func (c CheckerType) MarshalText() ([]byte, error) { return []byte(c.String()), nil }
func (c *CheckerType) UnmarshalText(b []byte) error {
	return unmarshalEnum(c, checkerWords, "checker type", b)
}

// AuthType is a VRRP instance's authentication (auth_type): AuthNone
// ("") when it has none.
type AuthType uint8

const (
	AuthNone AuthType = iota
	AuthPass
	AuthAH
)

var authWords = enumText{"", "PASS", "AH"}

func (a AuthType) String() string                { return authWords.str(int(a)) }
func (a AuthType) MarshalText() ([]byte, error)  { return []byte(a.String()), nil }
func (a *AuthType) UnmarshalText(b []byte) error { return unmarshalEnum(a, authWords, "auth type", b) }

// Family is an address family as ip_family and a fwmark group entry name
// it: FamilyAny ("") when not given.
type Family uint8

const (
	FamilyAny Family = iota
	FamilyInet
	FamilyInet6
)

var familyWords = enumText{"", "inet", "inet6"}

func (f Family) String() string                { return familyWords.str(int(f)) }
func (f Family) MarshalText() ([]byte, error)  { return []byte(f.String()), nil }
func (f *Family) UnmarshalText(b []byte) error { return unmarshalEnum(f, familyWords, "family", b) }

// VRRPState is a VRRP instance's initial state (state): StateUnset ("")
// only in a hand-built model; config.Load gives every instance MASTER or
// BACKUP.
type VRRPState uint8

const (
	StateUnset VRRPState = iota
	StateMaster
	StateBackup
)

var stateWords = enumText{"", "MASTER", "BACKUP"}

func (s VRRPState) String() string               { return stateWords.str(int(s)) }
func (s VRRPState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
func (s *VRRPState) UnmarshalText(b []byte) error {
	return unmarshalEnum(s, stateWords, "VRRP state", b)
}

func unmarshalEnum[T ~uint8](p *T, words enumText, kind string, b []byte) error {
	v, err := words.parse(kind, string(b))
	if err != nil {
		return err
	}
	*p = T(v)
	return nil
}
