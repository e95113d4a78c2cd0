package ipvs

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strconv"
)

// Netmask is a service's persistence netmask as the kernel keeps it
// (IPVS_SVC_ATTR_NETMASK): for IPv4 a 32-bit mask, sent as keepalived and
// ipvsadm send it, whatever its bits; for IPv6 a prefix length. The zero
// Netmask is none, which the kernel refuses for a new service.
type Netmask struct {
	v   uint32 // the IPv4 mask, or the IPv6 prefix length
	fam uint8  // 0 none, 4, 6
}

// NetmaskFrom is the mask of the first ones of bits (32 or 128) bits;
// none for anything else.
func NetmaskFrom(ones, bits int) Netmask {
	switch {
	case ones < 0 || ones > bits:
		return Netmask{}
	case bits == 32:
		return Netmask{v: ^uint32(0) << (32 - ones), fam: 4} // 0 ones: shifted out
	case bits == 128:
		return Netmask{v: uint32(ones), fam: 6}
	}
	return Netmask{}
}

// NetmaskFrom4 is an IPv4 mask as given.
func NetmaskFrom4(m [4]byte) Netmask { return Netmask{v: binary.BigEndian.Uint32(m[:]), fam: 4} }

func (m Netmask) IsValid() bool { return m.fam != 0 }
func (m Netmask) Is4() bool     { return m.fam == 4 }
func (m Netmask) Is6() bool     { return m.fam == 6 }

// Bits is the prefix length; -1 for none or an IPv4 mask whose ones do
// not lead.
func (m Netmask) Bits() int {
	switch m.fam {
	case 4:
		ones := bits.LeadingZeros32(^m.v)
		if m.v<<ones != 0 {
			return -1
		}
		return ones
	case 6:
		return int(m.v)
	}
	return -1
}

// AsSlice is the IPv4 mask's 4 bytes (nil otherwise).
func (m Netmask) AsSlice() []byte {
	if m.fam != 4 {
		return nil
	}
	return binary.BigEndian.AppendUint32(nil, m.v)
}

// String is the IPv4 mask dotted, the IPv6 prefix length in decimal.
func (m Netmask) String() string {
	switch m.fam {
	case 4:
		return netip.AddrFrom4([4]byte(m.AsSlice())).String()
	case 6:
		return strconv.Itoa(int(m.v))
	}
	return "invalid Mask"
}
