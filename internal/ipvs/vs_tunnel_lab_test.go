package ipvs

import (
	"bytes"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestVMTunnelAttributes: for a GUE and a GRE real server, lvsd's
// destination message carries the tunnel attributes byte for byte as
// ipvsadm 1.31 sends them (captured with strace), the kernel shows the
// same rule to `ipvsadm -S -n` whichever wrote it, lvsd's dump decoder reads
// the tunnel back, and a converged table needs no write.
func TestVMTunnelAttributes(t *testing.T) {
	labtest.RequireVM(t)
	strace := labtest.NeedBinary(t, "strace")
	k := realKernel(t)
	cases := []struct {
		args  []string
		attrs []byte
		tun   Tunnel
	}{
		{[]string{"--tun-type", "gue", "--tun-port", "6080", "--tun-nocsum"}, tunAttrs(1, 6080, 0), Tunnel{Type: TunGUE, Port: 6080}},
		{[]string{"--tun-type", "gue", "--tun-port", "5555", "--tun-remcsum"}, tunAttrs(1, 5555, 2), Tunnel{Type: TunGUE, Port: 5555, Flags: TunRemCsum}},
		{[]string{"--tun-type", "gre", "--tun-csum"}, tunAttrs(2, 0, 1), Tunnel{Type: TunGRE, Flags: TunCsum}},
		{[]string{"--tun-type", "ipip"}, tunAttrs(0, 0, 0), Tunnel{}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			flushKernel(t)
			defer flushKernel(t)
			if out, err := exec.Command("ipvsadm", "-A", "-t", "10.7.0.9:80", "-s", "rr").CombinedOutput(); err != nil {
				t.Fatalf("ipvsadm -A: %v %s", err, out)
			}
			args := append([]string{"-f", "-e", "trace=sendmsg", "-e", "write=all", "-xx",
				"ipvsadm", "-a", "-t", "10.7.0.9:80", "-r", "10.7.1.9:80", "-i", "-w", "1"}, tc.args...)
			out, err := exec.Command(strace, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("strace ipvsadm: %v\n%s", err, out)
			}
			if sent := hexDump(string(out)); !bytes.Contains(sent, tc.attrs) {
				t.Fatalf("ipvsadm's message lacks % x:\n%s", tc.attrs, out)
			}
			ipvsadmTable := ipvsadmSave(t)
			flushKernel(t)

			d := Dest{DestKey: DestKey{netip.MustParseAddr("10.7.1.9"), 80}, Method: TUN, Weight: 1, Tunnel: tc.tun}
			svc := &Service{ServiceKey: ServiceKey{Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.7.0.9"), Port: 80},
				Scheduler: "rr", Netmask: NetmaskFrom(32, 32), Dests: map[DestKey]Dest{d.DestKey: d}}
			desired := Table{svc.ServiceKey: svc}
			msg, err := encodeOp(Op{Kind: CreateDest, Service: *svc, Dest: d})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(msg.Data, tc.attrs) {
				t.Errorf("lvsd's message lacks ipvsadm's % x", tc.attrs)
			}
			s := NewSyncer(k, nil, "", false)
			if _, err := s.Reconcile(desired); err != nil {
				t.Fatal(err)
			}
			if got := ipvsadmSave(t); got != ipvsadmTable || got != desired.SaveFormat() {
				t.Errorf("kernel table after lvsd:\n%s\nafter ipvsadm:\n%s\nlvsd's save format:\n%s", got, ipvsadmTable, desired.SaveFormat())
			}
			got, err := ReadTable(k)
			if err != nil {
				t.Fatal(err)
			}
			if back := got[svc.ServiceKey].Dests[d.DestKey]; back != d {
				t.Errorf("dump reads %+v, want %+v", back, d)
			}
			before := k.writes
			if _, err := s.Reconcile(desired); err != nil {
				t.Fatal(err)
			}
			if k.writes != before {
				t.Errorf("%d writes on a converged table", k.writes-before)
			}
			t.Logf("ipvsadm and lvsd both send % x; kernel: %s", tc.attrs, strings.TrimSpace(ipvsadmTable))
		})
	}
}
