package bfd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	p := Packet{Version: 1, Diag: DiagExpired, State: Up, Poll: true, DetectMult: 5, Length: 24,
		MyDisc: 0x01020304, YourDisc: 0xa0b0c0d0, MinTx: 10000, MinRx: 20000}
	b := p.Marshal()
	// Golden: version 1 diag 1, state Up + P, mult 5, length 24, ...
	want := "21e00518" + "01020304" + "a0b0c0d0" + "00002710" + "00004e20" + "00000000"
	if hex.EncodeToString(b) != want {
		t.Fatalf("Marshal = %x, want %s", b, want)
	}
	q, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if q != p {
		t.Fatalf("Decode(Marshal(p)) = %+v, want %+v", q, p)
	}
}

// A packet captured from FRR 8's bfdd (Down, your disc 0, 300 ms).
func TestDecodeFRR(t *testing.T) {
	b, _ := hex.DecodeString("20400318" + "5d1f4a3c" + "00000000" + "000493e0" + "000493e0" + "00000000")
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != Down || p.DetectMult != 3 || p.MyDisc != 0x5d1f4a3c || p.MinTx != 300000 || p.MinRx != 300000 {
		t.Fatalf("%+v", p)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := (&Packet{State: Down, DetectMult: 3, MyDisc: 7}).Marshal()
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", good[:23], ErrShort},
		{"trailing bytes", append(bytes.Clone(good), 0), ErrLength},
		{"length field", mod(func(b []byte) []byte { b[3] = 26; return b }), ErrLength},
		{"version 0", mod(func(b []byte) []byte { b[0] &= 0x1f; return b }), ErrVersion},
		{"mult 0", mod(func(b []byte) []byte { b[2] = 0; return b }), ErrDetectMult},
		{"multipoint", mod(func(b []byte) []byte { b[1] |= 1; return b }), ErrMultipoint},
		{"my disc 0", mod(func(b []byte) []byte { b[7] = 0; return b }), ErrMyDisc},
		{"your disc 0 in Up", mod(func(b []byte) []byte { b[1] |= 0xc0; return b }), ErrYourDisc},
		{"your disc 0 in Init", mod(func(b []byte) []byte { b[1] = b[1]&0x3f | 0x80; return b }), ErrYourDisc},
		{"poll+final", mod(func(b []byte) []byte { b[1] |= 0x30; return b }), ErrPollFinal},
		{"diag 9", mod(func(b []byte) []byte { b[0] |= 9; return b }), ErrDiag},
		{"auth", mod(func(b []byte) []byte { b[1] |= 0x04; return b }), ErrAuthPresent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
		})
	}
	// AdminDown with your disc 0 is valid.
	ad := mod(func(b []byte) []byte { b[1] &= 0x3f; return b })
	if _, err := Decode(ad); err != nil {
		t.Fatalf("AdminDown: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add((&Packet{State: Down, DetectMult: 3, MyDisc: 7}).Marshal())
	f.Add((&Packet{State: Up, Final: true, DetectMult: 5, MyDisc: 7, YourDisc: 9, MinTx: 10000, MinRx: 10000}).Marshal())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		// A valid packet re-encodes to the same header (lvsd sends no
		// trailing bytes: its Length is always 24).
		want := bytes.Clone(b[:HeaderLen])
		want[3] = HeaderLen
		if got := p.Marshal(); !bytes.Equal(got, want) {
			t.Fatalf("Marshal(Decode(%x)) = %x", b, got)
		}
	})
}
