// Package vrrp implements VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) as
// keepalived 2.2 speaks them: the packet codec, a pure state machine per
// instance, and the thin shell that binds them to sockets, addresses and ARP.
package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// IPProto is VRRP's IP protocol number.
const IPProto = 112

const (
	typeAdvert    = 1
	headerLen     = 8
	authDataLen   = 8 // VRRPv2 always carries 8 bytes of authentication data
	maxV2Interval = 255 * time.Second
	maxV3Interval = 4095 * 10 * time.Millisecond
)

// Authentication types of VRRPv2.
const (
	AuthNone = 0
	AuthPass = 1
	AuthAH   = 2
)

// Advert is one VRRP advertisement.
type Advert struct {
	Version  int // 2 or 3
	VRID     uint8
	Priority uint8
	// Interval is the advertisement interval: whole seconds in v2,
	// centiseconds in v3.
	Interval time.Duration
	AuthType uint8   // v2 only
	AuthData [8]byte // v2 only: the password, zero padded
	Addrs    []netip.Addr
}

// DropReason names why a received packet was discarded; it labels the
// drop counter, so the values are stable metric label values.
type DropReason string

const (
	DropShort        DropReason = "too_short"
	DropVersion      DropReason = "wrong_version"
	DropType         DropReason = "wrong_type"
	DropChecksum     DropReason = "bad_checksum"
	DropAddrCount    DropReason = "bad_address_count"
	DropTTL          DropReason = "bad_ttl"
	DropAuthType     DropReason = "auth_type_mismatch"
	DropAuthPass     DropReason = "auth_failure"
	DropInterval     DropReason = "interval_mismatch"
	DropVRID         DropReason = "unknown_vrid"
	DropOwn          DropReason = "own_advert"
	DropAddrMismatch DropReason = "address_list_mismatch"
	// DropAHReplay: an AH-authenticated advert whose sequence number is
	// not above the last one accepted (keepalived's anti-replay check).
	DropAHReplay DropReason = "ah_replay"
	// DropNotPeer: check_unicast_src, and the source is none of the
	// instance's unicast peers.
	DropNotPeer DropReason = "unicast_src_not_peer"
)

// AllDropReasons lists every reason, so counters can be exported at 0.
var AllDropReasons = []DropReason{DropShort, DropVersion, DropType, DropChecksum, DropAddrCount, DropTTL,
	DropAuthType, DropAuthPass, DropInterval, DropVRID, DropOwn, DropAddrMismatch, DropAHReplay, DropNotPeer}

// DropError is returned by Parse for a packet that must be discarded.
type DropError struct {
	Reason DropReason
	Detail string
}

func (e *DropError) Error() string { return fmt.Sprintf("vrrp: %s: %s", e.Reason, e.Detail) }

func drop(r DropReason, format string, args ...any) error {
	return &DropError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf extracts the drop reason from an error returned by Parse.
func ReasonOf(err error) DropReason {
	var d *DropError
	if errors.As(err, &d) {
		return d.Reason
	}
	return DropShort
}

// Marshal encodes the advert. src and dst are the IP header's addresses,
// which VRRPv3's checksum covers through the pseudo-header.
func (a *Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	if a.Version != 2 && a.Version != 3 {
		return nil, fmt.Errorf("vrrp: version %d is not 2 or 3", a.Version)
	}
	if len(a.Addrs) > 255 {
		return nil, fmt.Errorf("vrrp: %d addresses do not fit in one advert", len(a.Addrs))
	}
	v6 := src.Is6() && !src.Is4In6()
	if a.Version == 2 && v6 {
		return nil, errors.New("vrrp: VRRPv2 is IPv4 only")
	}
	alen := 4
	if v6 {
		alen = 16
	}
	n := headerLen + alen*len(a.Addrs)
	if a.Version == 2 {
		n += authDataLen
	}
	b := make([]byte, n)
	b[0] = byte(a.Version)<<4 | typeAdvert
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = byte(len(a.Addrs))
	if a.Version == 2 {
		secs := a.Interval / time.Second
		if secs < 1 || a.Interval > maxV2Interval {
			return nil, fmt.Errorf("vrrp: v2 advert interval %s is not 1..255 s", a.Interval)
		}
		b[4] = a.AuthType
		b[5] = byte(secs)
	} else {
		cs := a.Interval / (10 * time.Millisecond)
		if cs < 1 || a.Interval > maxV3Interval {
			return nil, fmt.Errorf("vrrp: v3 advert interval %s is not 0.01..40.95 s", a.Interval)
		}
		binary.BigEndian.PutUint16(b[4:], uint16(cs)&0x0fff)
	}
	off := headerLen
	for _, ip := range a.Addrs {
		if v6 {
			s := ip.As16()
			copy(b[off:], s[:])
		} else {
			if !ip.Is4() {
				return nil, fmt.Errorf("vrrp: %s in an IPv4 advert", ip)
			}
			s := ip.As4()
			copy(b[off:], s[:])
		}
		off += alen
	}
	if a.Version == 2 {
		copy(b[off:], a.AuthData[:])
	}
	binary.BigEndian.PutUint16(b[6:], checksum(a.Version, src, dst, b))
	return b, nil
}

// Parse decodes a VRRP message (the IP payload) received from src to dst,
// verifying its checksum. v6 selects the address size.
func Parse(b []byte, src, dst netip.Addr, v6 bool) (*Advert, error) {
	if len(b) < headerLen {
		return nil, drop(DropShort, "%d bytes", len(b))
	}
	a := &Advert{Version: int(b[0] >> 4), VRID: b[1], Priority: b[2]}
	if a.Version != 2 && a.Version != 3 {
		return nil, drop(DropVersion, "version %d", a.Version)
	}
	if b[0]&0x0f != typeAdvert {
		return nil, drop(DropType, "type %d", b[0]&0x0f)
	}
	if a.Version == 2 && v6 {
		return nil, drop(DropVersion, "VRRPv2 over IPv6")
	}
	alen := 4
	if v6 {
		alen = 16
	}
	count := int(b[3])
	need := headerLen + count*alen
	if a.Version == 2 {
		need += authDataLen
	}
	// RFC 5798 allows trailing bytes only as IPv6 padding; keepalived
	// rejects any length that does not match the count.
	if len(b) != need {
		return nil, drop(DropAddrCount, "%d addresses need %d bytes, got %d", count, need, len(b))
	}
	if sum := checksum(a.Version, src, dst, b); sum != 0 {
		return nil, drop(DropChecksum, "checksum does not verify")
	}
	if a.Version == 2 {
		a.AuthType = b[4]
		a.Interval = time.Duration(b[5]) * time.Second
		copy(a.AuthData[:], b[need-authDataLen:])
	} else {
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0x0fff) * 10 * time.Millisecond
	}
	a.Addrs = make([]netip.Addr, count)
	for i := range count {
		p := b[headerLen+i*alen : headerLen+(i+1)*alen]
		if v6 {
			a.Addrs[i] = netip.AddrFrom16([16]byte(p))
		} else {
			a.Addrs[i] = netip.AddrFrom4([4]byte(p))
		}
	}
	return a, nil
}

// checksum computes the Internet checksum of b with its checksum field
// counted as is: 0 when verifying a received message. VRRPv2 covers only
// the message; VRRPv3 adds the IPv4 or IPv6 pseudo-header.
func checksum(version int, src, dst netip.Addr, b []byte) uint16 {
	var sum uint32
	add := func(p []byte) {
		for len(p) >= 2 {
			sum += uint32(p[0])<<8 | uint32(p[1])
			p = p[2:]
		}
		if len(p) == 1 {
			sum += uint32(p[0]) << 8
		}
	}
	if version == 3 {
		s, d := src.AsSlice(), dst.AsSlice()
		if src.Is4In6() {
			s4, d4 := src.Unmap().As4(), dst.Unmap().As4()
			s, d = s4[:], d4[:]
		}
		add(s)
		add(d)
		if len(s) == 16 {
			var l [4]byte
			binary.BigEndian.PutUint32(l[:], uint32(len(b)))
			add(l[:])
			add([]byte{0, 0, 0, IPProto})
		} else {
			add([]byte{0, IPProto})
			add([]byte{byte(len(b) >> 8), byte(len(b))})
		}
	}
	// The checksum field is included: zero when building, the sent value
	// when verifying, so a correct message sums to zero.
	add(b)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// PassData returns the 8-byte authentication data for a PASS password:
// keepalived uses the first 8 bytes, zero padded.
func PassData(pass string) [8]byte {
	var d [8]byte
	copy(d[:], pass)
	return d
}
