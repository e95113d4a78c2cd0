package config

import (
	"encoding/json"
	"testing"
)

// checkerOf is the CheckerType named by its keyword.
func checkerOf(t testing.TB, word string) CheckerType {
	t.Helper()
	var c CheckerType
	if err := c.UnmarshalText([]byte(word)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEnumWords: every enumeration's words round-trip through its text
// form (the JSON dump), the zero value is "" (or NAT for a method), and
// an unknown word is refused.
func TestEnumWords(t *testing.T) {
	type textEnum interface {
		String() string
		MarshalText() ([]byte, error)
	}
	for _, tc := range []struct {
		words []string
		zero  textEnum
		parse func(string) (textEnum, error)
	}{
		{methodWords, Method(0), func(s string) (textEnum, error) { var v Method; err := v.UnmarshalText([]byte(s)); return v, err }},
		{protocolWords, Protocol(0), func(s string) (textEnum, error) { var v Protocol; err := v.UnmarshalText([]byte(s)); return v, err }},
		{checkerWords, CheckerType(0), func(s string) (textEnum, error) { var v CheckerType; err := v.UnmarshalText([]byte(s)); return v, err }},
		{authWords, AuthType(0), func(s string) (textEnum, error) { var v AuthType; err := v.UnmarshalText([]byte(s)); return v, err }},
		{familyWords, Family(0), func(s string) (textEnum, error) { var v Family; err := v.UnmarshalText([]byte(s)); return v, err }},
		{stateWords, VRRPState(0), func(s string) (textEnum, error) { var v VRRPState; err := v.UnmarshalText([]byte(s)); return v, err }},
	} {
		if tc.zero.String() != tc.words[0] {
			t.Errorf("%T zero is %q, want %q", tc.zero, tc.zero.String(), tc.words[0])
		}
		for _, w := range tc.words {
			if _, err := tc.parse(w); err != nil {
				t.Errorf("%T %q: %v", tc.zero, w, err)
			}
		}
		if _, err := tc.parse("bogus"); err == nil {
			t.Errorf("%T accepts bogus", tc.zero)
		}
	}
	var m Method
	if err := m.UnmarshalText([]byte("TUN")); err != nil || m != MethodTUN {
		t.Errorf("TUN: %v %v", m, err)
	}
	b, _ := json.Marshal(struct {
		M Method      `json:"m"`
		P Protocol    `json:"p"`
		F Family      `json:"f,omitempty"`
		C CheckerType `json:"c"`
	}{MethodDR, ProtoNone, FamilyAny, CheckSSL})
	if string(b) != `{"m":"DR","p":"","c":"SSL_GET"}` {
		t.Errorf("json %s", b)
	}
}
