package vrrp

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"net/netip"
	"sync"
)

// keepalived 2.2's IPSEC-AH authentication of VRRPv2 over IPv4 (RFC 2402
// header, HMAC-MD5-96, no SA negotiation): the advert travels as IP
// protocol 51 with an AH header whose next header is VRRP. The SPI is the
// sender's address, the sequence number counts adverts, and the ICV is
// HMAC-MD5 keyed with the 8-byte (zero padded) auth_pass over the IP
// header (TOS, fragment offset and checksum zeroed, and the TTL too for
// unicast), the AH header with a zero ICV, and the VRRP message.

const (
	ipProtoAH = 51
	ahLen     = 24 // next header, length, reserved, SPI, sequence, 12-byte ICV
	ahPlen    = 4  // AH length field: 32-bit words less 2
	icvLen    = 12
	ipv4Len   = 20
)

// AHKeys are the AH security state of the instances on one socket, by
// VRID: the key, and the sequence counter keepalived shares between what
// it sends and what it accepts (a received advert must carry a higher
// number, which becomes the counter; a sent one carries the counter plus
// one). It outlives a socket opened again on a recreated interface.
type AHKeys struct {
	mu  sync.Mutex
	sas map[uint8]*ahSA
}

type ahSA struct {
	key  [8]byte
	seq  uint32
	ipID uint16
}

// NewAHKeys returns an empty key table.
func NewAHKeys() *AHKeys { return &AHKeys{sas: map[uint8]*ahSA{}} }

// Set gives vrid its key, keeping its counters.
func (k *AHKeys) Set(vrid uint8, key [8]byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if sa, ok := k.sas[vrid]; ok {
		sa.key = key
		return
	}
	k.sas[vrid] = &ahSA{key: key}
}

// seal builds the IPv4 datagram carrying vrrp (a marshalled VRRPv2
// message) from src to dst with TTL ttl, AH-protected with vrid's key;
// false if vrid has none.
func (k *AHKeys) seal(vrrp []byte, src, dst netip.Addr, ttl int, unicast bool) ([]byte, bool) {
	if len(vrrp) < 2 {
		return nil, false
	}
	k.mu.Lock()
	sa, ok := k.sas[vrrp[1]]
	if !ok {
		k.mu.Unlock()
		return nil, false
	}
	// keepalived: the counter stops short of wrapping (it then stops
	// advertising); an IP ID of 0 would be replaced by the kernel.
	if sa.seq <= 0xFFFFFFFD {
		sa.seq++
	}
	sa.ipID++
	if sa.ipID == 0 {
		sa.ipID = 1
	}
	seq, id, key := sa.seq, sa.ipID, sa.key
	k.mu.Unlock()
	return sealAH(vrrp, src, dst, ttl, unicast, seq, id, key), true
}

// sealAH is seal's packet with the counters given.
func sealAH(vrrp []byte, src, dst netip.Addr, ttl int, unicast bool, seq uint32, id uint16, key [8]byte) []byte {
	b := make([]byte, ipv4Len+ahLen+len(vrrp))
	b[0] = 0x45
	b[1] = 0xc0
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], id)
	b[8] = byte(ttl)
	b[9] = ipProtoAH
	s4, d4 := src.As4(), dst.As4()
	copy(b[12:], s4[:])
	copy(b[16:], d4[:])
	ah := b[ipv4Len:]
	ah[0] = IPProto
	ah[1] = ahPlen
	copy(ah[4:], s4[:])
	binary.BigEndian.PutUint32(ah[8:], seq)
	copy(b[ipv4Len+ahLen:], vrrp)
	icv := ahICV(b, ipv4Len, unicast, key)
	copy(ah[12:], icv)
	return b
}

// ahICV computes the truncated HMAC-MD5 of pkt, an IPv4 datagram whose
// header is hlen bytes, with the mutable fields and the ICV zeroed.
func ahICV(pkt []byte, hlen int, unicast bool, key [8]byte) []byte {
	c := append([]byte(nil), pkt...)
	c[1] = 0            // TOS
	c[6], c[7] = 0, 0   // flags and fragment offset
	c[10], c[11] = 0, 0 // header checksum
	if unicast {
		c[8] = 0 // TTL
	}
	clear(c[hlen+12 : hlen+ahLen])
	m := hmac.New(md5.New, key[:])
	m.Write(c)
	return m.Sum(nil)[:icvLen]
}

// open verifies an AH-protected IPv4 datagram and returns its VRRP
// message; the reason says why it was refused. The VRID's counter moves
// to the accepted sequence number.
func (k *AHKeys) open(pkt []byte, unicast bool) ([]byte, DropReason) {
	if len(pkt) < ipv4Len {
		return nil, DropShort
	}
	hlen := int(pkt[0]&0x0f) * 4
	if hlen < ipv4Len || len(pkt) < hlen+ahLen+headerLen {
		return nil, DropShort
	}
	ah := pkt[hlen:]
	if ah[0] != IPProto || ah[1] != ahPlen {
		return nil, DropAuthType
	}
	vrrp := pkt[hlen+ahLen:]
	k.mu.Lock()
	defer k.mu.Unlock()
	sa, ok := k.sas[vrrp[1]]
	if !ok {
		// Not ours: the router counts it against the VRID.
		return vrrp, ""
	}
	if !hmac.Equal(ahICV(pkt, hlen, unicast, sa.key), ah[12:ahLen]) {
		return nil, DropAuthPass
	}
	if !bytesEqual(ah[4:8], pkt[12:16]) {
		return nil, DropAuthPass // the SPI must be the source address
	}
	seq := binary.BigEndian.Uint32(ah[8:])
	if seq <= sa.seq {
		return nil, DropAHReplay
	}
	sa.seq = seq
	return vrrp, ""
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
