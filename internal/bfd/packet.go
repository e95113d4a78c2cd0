// Package bfd is Bidirectional Forwarding Detection (RFC 5880) in
// asynchronous mode over single-hop UDP (RFC 5881), as keepalived 2.2.7's
// bfd process runs it for bfd_instance blocks: no echo function, no
// authentication, no demand mode of its own (a peer's demand bit is
// honoured as keepalived does).
//
// The session state machine (Session) is pure: it is driven by received
// packets and by the time it is given, and returns the packets to send and
// the state changes; Runner is the thin UDP shell around it.
package bfd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// State is a session state (RFC 5880 section 4.1).
type State uint8

const (
	AdminDown State = 0
	Down      State = 1
	Init      State = 2
	Up        State = 3
)

// String is keepalived's BFD_STATE_STR.
func (s State) String() string {
	switch s {
	case AdminDown:
		return "AdminDown"
	case Down:
		return "Down"
	case Init:
		return "Init"
	case Up:
		return "Up"
	}
	return "Unknown"
}

// Diag is a diagnostic code (RFC 5880 section 4.1).
type Diag uint8

const (
	DiagNone             Diag = 0
	DiagExpired          Diag = 1
	DiagEchoFailed       Diag = 2
	DiagNeighborDown     Diag = 3
	DiagFwdPlaneReset    Diag = 4
	DiagPathDown         Diag = 5
	DiagConcatPathDown   Diag = 6
	DiagAdminDown        Diag = 7
	DiagRevConcatPathDwn Diag = 8
)

// String is keepalived's BFD_DIAG_STR.
func (d Diag) String() string {
	switch d {
	case DiagNone:
		return "No Diagnostic"
	case DiagExpired:
		return "Control Detection Time Expired"
	case DiagEchoFailed:
		return "Echo Function Failed"
	case DiagNeighborDown:
		return "Neighbor Signaled Session Down"
	case DiagFwdPlaneReset:
		return "Forwarding Plane Reset"
	case DiagPathDown:
		return "Path Down"
	case DiagConcatPathDown:
		return "Concatenated Path Down"
	case DiagAdminDown:
		return "Administratively Down"
	case DiagRevConcatPathDwn:
		return "Reverse Concatenated Path Down"
	}
	return "Unknown"
}

// Version is the only protocol version there is.
const Version = 1

// HeaderLen is the length of a control packet without authentication.
const HeaderLen = 24

// Packet is a BFD control packet. Intervals are in microseconds, as on
// the wire.
type Packet struct {
	Version    uint8
	Diag       Diag
	State      State
	Poll       bool
	Final      bool
	CPI        bool // Control Plane Independent
	Auth       bool // Authentication Present
	Demand     bool
	Multipoint bool
	DetectMult uint8
	Length     uint8
	MyDisc     uint32
	YourDisc   uint32
	MinTx      uint32 // Desired Min TX Interval
	MinRx      uint32 // Required Min RX Interval
	MinEchoRx  uint32 // Required Min Echo RX Interval
}

// Marshal encodes p as a 24-byte control packet (Version and Length are
// always 1 and 24: lvsd sends no authentication section).
func (p *Packet) Marshal() []byte {
	b := make([]byte, HeaderLen)
	b[0] = Version<<5 | uint8(p.Diag)&0x1f
	f := uint8(p.State) << 6
	for i, set := range []bool{p.Poll, p.Final, p.CPI, p.Auth, p.Demand, p.Multipoint} {
		if set {
			f |= 0x20 >> i
		}
	}
	b[1] = f
	b[2] = p.DetectMult
	b[3] = HeaderLen
	binary.BigEndian.PutUint32(b[4:], p.MyDisc)
	binary.BigEndian.PutUint32(b[8:], p.YourDisc)
	binary.BigEndian.PutUint32(b[12:], p.MinTx)
	binary.BigEndian.PutUint32(b[16:], p.MinRx)
	binary.BigEndian.PutUint32(b[20:], p.MinEchoRx)
	return b
}

// Errors Decode returns: every one is a packet RFC 5880 section 6.8.6 (and
// keepalived's bfd_check_packet) discards.
var (
	ErrShort       = errors.New("packet is too small")
	ErrLength      = errors.New("packet size mismatch")
	ErrVersion     = errors.New("packet is of unsupported version")
	ErrDetectMult  = errors.New("packet 'detection multiplier' field is zero")
	ErrMultipoint  = errors.New("packet has 'multipoint' flag")
	ErrMyDisc      = errors.New("packet 'my discriminator' field is zero")
	ErrYourDisc    = errors.New("packet 'your discriminator' field is zero and 'state' field is not Down or AdminDown")
	ErrPollFinal   = errors.New("packet has both poll and final flags set")
	ErrDiag        = errors.New("packet has invalid 'diag' field")
	ErrAuthPresent = errors.New("auth bit is set, but no authentication is in use")
)

// Decode parses and validates a received control packet. keepalived's
// checks are kept, including its stricter ones: the Length field must
// equal the datagram's length, Poll and Final must not both be set, and
// the diagnostic must be a known one. A packet with the Authentication
// Present bit is refused (lvsd, as keepalived, has no authentication).
func Decode(b []byte) (Packet, error) {
	var p Packet
	if len(b) < HeaderLen {
		return p, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	p.Version = b[0] >> 5
	p.Diag = Diag(b[0] & 0x1f)
	p.State = State(b[1] >> 6)
	p.Poll = b[1]&0x20 != 0
	p.Final = b[1]&0x10 != 0
	p.CPI = b[1]&0x08 != 0
	p.Auth = b[1]&0x04 != 0
	p.Demand = b[1]&0x02 != 0
	p.Multipoint = b[1]&0x01 != 0
	p.DetectMult = b[2]
	p.Length = b[3]
	p.MyDisc = binary.BigEndian.Uint32(b[4:])
	p.YourDisc = binary.BigEndian.Uint32(b[8:])
	p.MinTx = binary.BigEndian.Uint32(b[12:])
	p.MinRx = binary.BigEndian.Uint32(b[16:])
	p.MinEchoRx = binary.BigEndian.Uint32(b[20:])
	switch {
	case int(p.Length) != len(b):
		return p, fmt.Errorf("%w: length field: %d bytes, buffer size: %d bytes", ErrLength, p.Length, len(b))
	case p.Version != Version:
		return p, fmt.Errorf("%w: %d", ErrVersion, p.Version)
	case p.DetectMult == 0:
		return p, ErrDetectMult
	case p.Multipoint:
		return p, ErrMultipoint
	case p.MyDisc == 0:
		return p, ErrMyDisc
	case p.YourDisc == 0 && p.State != Down && p.State != AdminDown:
		return p, ErrYourDisc
	case p.Poll && p.Final:
		return p, ErrPollFinal
	case p.Diag > DiagRevConcatPathDwn:
		return p, fmt.Errorf("%w: %d", ErrDiag, p.Diag)
	case p.Auth:
		return p, ErrAuthPresent
	}
	return p, nil
}
