package ipvs

import (
	"bytes"
	"testing"
)

func TestNetmask(t *testing.T) {
	cases := []struct {
		m         Netmask
		valid, v4 bool
		bits      int
		str       string
		slice     []byte
	}{
		{NetmaskFrom(32, 32), true, true, 32, "255.255.255.255", []byte{255, 255, 255, 255}},
		{NetmaskFrom(24, 32), true, true, 24, "255.255.255.0", []byte{255, 255, 255, 0}},
		{NetmaskFrom(1, 32), true, true, 1, "128.0.0.0", []byte{128, 0, 0, 0}},
		{NetmaskFrom(0, 32), true, true, 0, "0.0.0.0", []byte{0, 0, 0, 0}},
		{NetmaskFrom4([4]byte{255, 255, 0, 255}), true, true, -1, "255.255.0.255", []byte{255, 255, 0, 255}},
		{NetmaskFrom(64, 128), true, false, 64, "64", nil},
		{NetmaskFrom(128, 128), true, false, 128, "128", nil},
		{NetmaskFrom(33, 32), false, false, -1, "invalid Mask", nil},
		{NetmaskFrom(8, 16), false, false, -1, "invalid Mask", nil},
		{Netmask{}, false, false, -1, "invalid Mask", nil},
	}
	for _, c := range cases {
		if c.m.IsValid() != c.valid || c.m.Is4() != c.v4 || c.m.Is6() != (c.valid && !c.v4) || c.m.Bits() != c.bits ||
			c.m.String() != c.str || !bytes.Equal(c.m.AsSlice(), c.slice) {
			t.Errorf("%s: valid %v is4 %v bits %d slice %v, want %v %v %d %v", c.str, c.m.IsValid(), c.m.Is4(), c.m.Bits(), c.m.AsSlice(), c.valid, c.v4, c.bits, c.slice)
		}
	}
	if NetmaskFrom(24, 32) != NetmaskFrom4([4]byte{255, 255, 255, 0}) {
		t.Error("the same mask built two ways differs")
	}
}
