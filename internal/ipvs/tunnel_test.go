package ipvs

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

// tunnelConfig has a TUN real server of each tunnel type keepalived 2.2.7
// accepts ("lvs_method TUN type ... port ... csum"), a NAT one beside them
// (no tunnel attributes) and one inheriting the virtual server's.
const tunnelConfig = `
virtual_server 10.7.0.6 80 {
    protocol TCP
    lvs_sched rr
    lvs_method TUN type gue port 6081 remcsum
    real_server 10.7.1.1 80 {
        lvs_method TUN
    }
    real_server 10.7.1.2 80 {
        lvs_method TUN type gue port 6080 nocsum
    }
    real_server 10.7.1.3 80 {
        lvs_method TUN type gre csum
    }
    real_server 10.7.1.4 80 {
        lvs_method NAT
    }
    real_server 10.7.1.5 80 {
    }
}
`

// tunAttrs is the three tunnel attributes as ipvsadm 1.31's libipvs
// (ipvs_nl_fill_dest_attr) puts them: NLA_PUT_U8 TUN_TYPE, NLA_PUT_U16
// TUN_PORT (network order), NLA_PUT_U16 TUN_FLAGS (host order), each
// padded to 4 bytes.
func tunAttrs(typ uint8, port uint16, flags uint16) []byte {
	return []byte{
		5, 0, 13, 0, typ, 0, 0, 0,
		6, 0, 14, 0, byte(port >> 8), byte(port), 0, 0,
		6, 0, 15, 0, byte(flags), byte(flags >> 8), 0, 0,
	}
}

// TestTunnelDesiredAndEncoded: each real server's tunnel reaches its Dest
// (TUN only) and lvsd's destination message carries
// IPVS_DEST_ATTR_TUN_TYPE/PORT/FLAGS as ipvsadm sends them; the dump
// decoder reads back what was encoded; the save format is ipvsadm's.
func TestTunnelDesiredAndEncoded(t *testing.T) {
	desired := DesiredTable(mustConfig(t, tunnelConfig), nil)
	svc := desired[ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.7.0.6"), Port: 80}]
	if svc == nil {
		t.Fatalf("no service in %v", desired.SortedKeys())
	}
	want := map[string]struct {
		tun   Tunnel
		attrs []byte
		save  string
	}{
		"10.7.1.1": {Tunnel{}, tunAttrs(0, 0, 0), "-i -w 1 --tun-type ipip"},
		"10.7.1.2": {Tunnel{Type: TunGUE, Port: 6080}, tunAttrs(1, 6080, 0), "-i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum"},
		"10.7.1.3": {Tunnel{Type: TunGRE, Flags: TunCsum}, tunAttrs(2, 0, 1), "-i -w 1 --tun-type gre --tun-csum"},
		"10.7.1.4": {Tunnel{}, tunAttrs(0, 0, 0), "-m -w 1"},
		"10.7.1.5": {Tunnel{Type: TunGUE, Port: 6081, Flags: TunRemCsum}, tunAttrs(1, 6081, 2), "-i -w 1 --tun-type gue --tun-port 6081 --tun-remcsum"},
	}
	save := desired.SaveFormat()
	for _, d := range svc.SortedDests() {
		w, ok := want[d.Addr.String()]
		if !ok {
			t.Fatalf("unexpected dest %s", d.DestKey)
		}
		if d.Tunnel != w.tun {
			t.Errorf("%s: tunnel %+v, want %+v", d.DestKey, d.Tunnel, w.tun)
		}
		msg, err := encodeOp(Op{Kind: CreateDest, Service: *svc, Dest: d})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(msg.Data, w.attrs) {
			t.Errorf("%s: message lacks % x:\n% x", d.DestKey, w.attrs, msg.Data)
		}
		obj, err := encodeDest(d)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeDestMsg(kernelMsg(t, ipvsCmdAttrDest, obj), false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if back != d {
			t.Errorf("decoded %+v, want %+v", back, d)
		}
		if line := "-a -t 10.7.0.6:80 -r " + d.DestKey.String() + " " + w.save + "\n"; !strings.Contains(save, line) {
			t.Errorf("save format lacks %q:\n%s", line, save)
		}
	}
}

// TestTunnelConverges: the fake kernel keeps the tunnel attributes, a
// converged table writes nothing, and changing a tunnel (same address,
// port, method and weight) is an update of that destination only.
func TestTunnelConverges(t *testing.T) {
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	desired := DesiredTable(mustConfig(t, tunnelConfig), nil)
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTable(k)
	if err != nil {
		t.Fatal(err)
	}
	if got.SaveFormat() != desired.SaveFormat() || !tablesEqual(got, desired) {
		t.Fatalf("kernel table:\n%s\nwant:\n%s", got.SaveFormat(), desired.SaveFormat())
	}
	before := k.WriteCount()
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	if n := k.WriteCount() - before; n != 0 {
		t.Errorf("%d writes on a converged table with tunnels", n)
	}
	changed := DesiredTable(mustConfig(t, strings.Replace(tunnelConfig, "type gre csum", "type gre nocsum", 1)), nil)
	ops := Diff(changed, got, Ownership{})
	if len(ops) != 1 || ops[0].Kind != UpdateDest || ops[0].Dest.Addr != netip.MustParseAddr("10.7.1.3") || ops[0].Dest.Tunnel != (Tunnel{Type: TunGRE}) {
		t.Fatalf("ops %v, want one update of 10.7.1.3 to gre nocsum", ops)
	}
	if _, err := s.Reconcile(changed); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadTable(k); !tablesEqual(got, changed) {
		t.Errorf("after the update:\n%s\nwant:\n%s", got.SaveFormat(), changed.SaveFormat())
	}
}
