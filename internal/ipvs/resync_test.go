package ipvs

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// What /proc/net/ip_vs_conn shows on Linux 6.1 (ip_vs_conn_seq_show):
// IPv4 in hex, IPv6 as %pI6, a template with client port 0 and state NONE,
// a fwmark template with protocol IP and the mark as its virtual address.
const connTable = `Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0A4E0102 8E3A 0A4E0064 1389 0A4E0015 1389 ESTABLISHED     899
TCP 0A4E0102 0000 0A4E0064 1389 0A4E0015 1389 NONE            299
IP  0A4E0103 0000 00000007 0000 0A4E0016 0050 ASSURED         120
TCP 2001:0db8:0000:0000:0000:0000:0000:0001 0000 2001:0db8:0000:0000:0000:0000:0000:0064 0050 2001:0db8:0000:0000:0000:0000:0000:0015 0050 NONE 300
`

func TestParseConnTable(t *testing.T) {
	es, err := ParseConnTable(strings.NewReader(connTable), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ConnEntry{
		{ProtoTCP, netip.MustParseAddrPort("10.78.1.2:36410"), netip.MustParseAddrPort("10.78.0.100:5001"), netip.MustParseAddrPort("10.78.0.21:5001"), "ESTABLISHED", 899},
		{ProtoTCP, netip.MustParseAddrPort("10.78.1.2:0"), netip.MustParseAddrPort("10.78.0.100:5001"), netip.MustParseAddrPort("10.78.0.21:5001"), "NONE", 299},
		{0, netip.MustParseAddrPort("10.78.1.3:0"), netip.MustParseAddrPort("0.0.0.7:0"), netip.MustParseAddrPort("10.78.0.22:80"), "ASSURED", 120},
		{ProtoTCP, netip.MustParseAddrPort("[2001:db8::1]:0"), netip.MustParseAddrPort("[2001:db8::64]:80"), netip.MustParseAddrPort("[2001:db8::15]:80"), "NONE", 300},
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("got\n%v\nwant\n%v", es, want)
	}
	tpl, _ := ParseConnTable(strings.NewReader(connTable), ConnEntry.Template)
	if len(tpl) != 3 {
		t.Errorf("%d templates, want 3", len(tpl))
	}
	for _, bad := range []string{
		"TCP 0A4E0102 8E3A 0A4E0064 1389 0A4E0015 1389 ESTABLISHED",
		"ICMP 0A4E0102 8E3A 0A4E0064 1389 0A4E0015 1389 ESTABLISHED 1",
		"TCP 0A4E01 8E3A 0A4E0064 1389 0A4E0015 1389 ESTABLISHED 1",
		"TCP 0A4E0102 8E3 0A4E0064 1389 0A4E0015 1389 ESTABLISHED 1",
		"TCP 0A4E0102 8E3A 0A4E0064 1389 0A4E0015 1389 ESTABLISHED -1",
		"TCP 0A4E0102 8E3A 10.0.0.1 1389 0A4E0015 1389 ESTABLISHED 1",
		"TCP 0A4E0102 8E3A 0A4E0064 1389 0A4E0015 1389 ESTABLISHED 1" + strings.Repeat(" x", maxConnLine),
	} {
		if _, err := ParseConnTable(strings.NewReader("Pro x\n"+bad+"\n"), nil); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%.60q: error %v, want one naming line 2", bad, err)
		}
	}
}

// The template records carry the real server's forwarding method and the
// service's persistence timeout; templates of services lvsd does not
// program, or of real servers no longer in them, are left out.
func TestTemplateRecords(t *testing.T) {
	es, _ := ParseConnTable(strings.NewReader(connTable), nil)
	vip, rs1 := netip.MustParseAddr("10.78.0.100"), netip.MustParseAddr("10.78.0.21")
	table := Table{
		{Protocol: ProtoTCP, Addr: vip, Port: 5001}: {Timeout: 300, Dests: map[DestKey]Dest{{rs1, 5001}: {Method: DR}}},
		{FWMark: 7}: {Timeout: 60, Dests: map[DestKey]Dest{{netip.MustParseAddr("10.78.0.22"), 80}: {Method: NAT}}},
	}
	got := TemplateRecords(es, table)
	want := []SyncRecord{
		{Protocol: 6, Flags: 0x1083, Client: es[1].Client, Virtual: es[1].Virtual, Dest: es[1].Dest, Timeout: 300},
		{Protocol: 0, Flags: 0x1000, State: 1, Client: es[2].Client, Virtual: es[2].Virtual, Dest: es[2].Dest, FWMark: 7, Timeout: 60},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

// The message is byte for byte what the kernel's master daemon sends for a
// DR template (ip_vs_sync_conn_v1 with sync_version 1), and the kernel's
// backup daemon's reading of it (DecodeSyncV1 mirrors ip_vs_process_message)
// gives the records back.
func TestEncodeSyncV1(t *testing.T) {
	r := SyncRecord{Protocol: 6, Flags: 0x1083, Client: netip.MustParseAddrPort("10.78.1.2:0"),
		Virtual: netip.MustParseAddrPort("10.78.0.100:5001"), Dest: netip.MustParseAddrPort("10.78.0.21:5001"), Timeout: 300}
	msgs := EncodeSyncV1(51, []SyncRecord{r}, 1472)
	want := "0033002c01010000" + // reserved, syncid 51, size 44, 1 conn, version 1, spare
		"0006" + "0024" + "00001083" + "0000" + "0000" + "1389" + "1389" + "00000000" + "0000012c" +
		"0a4e0102" + "0a4e0064" + "0a4e0015"
	if len(msgs) != 1 || hex.EncodeToString(msgs[0]) != want {
		t.Fatalf("got %x\nwant %s", msgs, want)
	}
	// 1472 bytes hold 40 IPv4 records; 255 is the most one message counts.
	var many []SyncRecord
	for range 100 {
		many = append(many, r)
	}
	v6 := r
	v6.Client, v6.Virtual, v6.Dest = netip.MustParseAddrPort("[2001:db8::1]:0"), netip.MustParseAddrPort("[2001:db8::64]:80"), netip.MustParseAddrPort("[2001:db8::15]:80")
	many = append(many, v6, v6)
	msgs = EncodeSyncV1(51, many, 1472)
	var sizes []int
	var back []SyncRecord
	for _, m := range msgs {
		sizes = append(sizes, int(m[4]))
		id, recs, err := DecodeSyncV1(m)
		if err != nil || id != 51 {
			t.Fatalf("decode: %v (sync id %d)", err, id)
		}
		back = append(back, recs...)
		if len(m) > 1472 {
			t.Errorf("message of %d bytes", len(m))
		}
	}
	if !reflect.DeepEqual(sizes, []int{40, 40, 22}) || !reflect.DeepEqual(back, many) {
		t.Errorf("records per message %v; round trip equal: %v", sizes, reflect.DeepEqual(back, many))
	}
	if big := EncodeSyncV1(1, many[:100], 65507); len(big) != 1 || big[0][4] != 100 {
		t.Errorf("a 64 kB message: %d messages", len(big))
	}
}

func TestDecodeSyncV1Rejects(t *testing.T) {
	good := EncodeSyncV1(1, []SyncRecord{{Protocol: 6, Client: netip.MustParseAddrPort("1.2.3.4:1"),
		Virtual: netip.MustParseAddrPort("1.2.3.5:2"), Dest: netip.MustParseAddrPort("1.2.3.6:3")}}, 1472)[0]
	for name, mod := range map[string]func([]byte) []byte{
		"short":        func(b []byte) []byte { return b[:5] },
		"version 0":    func(b []byte) []byte { b[5] = 0; return b },
		"size":         func(b []byte) []byte { b[3]++; return b },
		"count":        func(b []byte) []byte { b[4] = 2; return b },
		"record size":  func(b []byte) []byte { b[11] = 8; return b },
		"trailing":     func(b []byte) []byte { b = append(b, 0); b[3]++; return b },
		"record ver 1": func(b []byte) []byte { b[10] |= 0x10; return b },
	} {
		if _, _, err := DecodeSyncV1(mod(bytes.Clone(good))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseConnTable(f *testing.F) {
	f.Add([]byte(connTable))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseConnTable(bytes.NewReader(b), nil)
		if err != nil {
			return
		}
		for _, e := range es {
			if !e.Client.IsValid() || !e.Virtual.IsValid() || !e.Dest.IsValid() {
				t.Fatalf("invalid entry accepted: %+v", e)
			}
		}
	})
}

func FuzzDecodeSync(f *testing.F) {
	es, _ := ParseConnTable(strings.NewReader(connTable), nil)
	var recs []SyncRecord
	for _, e := range es {
		recs = append(recs, SyncRecord{Protocol: uint8(e.Protocol), Client: e.Client, Virtual: e.Virtual, Dest: e.Dest, Timeout: e.Expires})
	}
	for _, m := range EncodeSyncV1(9, recs, 1472) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, recs, err := DecodeSyncV1(b)
		if err != nil || len(recs) == 0 {
			return
		}
		// What the decoder reads, encoded again, reads back the same.
		for _, m := range EncodeSyncV1(id, recs, 65507) {
			if _, back, err := DecodeSyncV1(m); err != nil || !reflect.DeepEqual(back, recs[:len(back)]) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
