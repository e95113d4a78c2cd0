package ipvs

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// vsFidelityConfigs are virtual_server constructs whose kernel table
// keepalived 2.2.7 and lvsd must program identically.
var vsFidelityConfigs = map[string]string{
	// TUN real servers of each tunnel type (keepalived 2.2.7's
	// "lvs_method TUN type ... port ... csum"), one inheriting the
	// virtual server's, a NAT one without tunnel attributes, an IPIP
	// fwmark service.
	"tunnel_types": `
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
virtual_server 10.7.0.7 53 {
    protocol UDP
    lvs_sched wrr
    lvs_method TUN type gre
    sorry_server 10.7.9.9 53
    sorry_server_lvs_method TUN type gue port 6082 csum
    sorry_server_inhibit
    real_server 10.7.1.1 53 { weight 3 }
    real_server 10.7.1.2 53 { lvs_method TUN type gre nocsum }
}
virtual_server fwmark 13 {
    lvs_sched rr
    lvs_method TUN type ipip
    real_server 10.7.1.6 0 { }
}`,
	"persistence_engine_sip": `
virtual_server 10.7.0.1 5060 {
    protocol UDP
    lvs_sched rr
    lvs_method NAT
    persistence_timeout 30
    persistence_engine sip
    real_server 10.7.1.1 5060 { }
}`,
	"granularity_noncontiguous_and_alone": `
virtual_server 10.7.0.2 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    persistence_timeout 50
    persistence_granularity 255.0.255.0
    real_server 10.7.1.1 80 { }
}
virtual_server 10.7.0.3 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    persistence_granularity 255.255.255.0
    real_server 10.7.1.1 80 { }
}`,
	"group_forms_weight_and_host_masks": `
virtual_server_group G {
    10.7.2.8/30 80
    10.7.3.1-3 80
    fwmark 9 inet
}
virtual_server_group G6 {
    fwmark 12 inet6
}
virtual_server group G6 {
    lvs_sched rr
    lvs_method TUN
    real_server 10.7.1.4 0 { }
}

virtual_server group G {
    protocol TCP
    lvs_sched wrr
    lvs_method DR
    weight 5
    persistence_timeout 40
    persistence_granularity 255.255.255.0
    real_server 10.7.1.1 0 { }
    real_server 10.7.1.2 0 { weight 2 }
}
virtual_server fwmark 11 {
    lvs_sched rr
    lvs_method DR
    persistence_granularity 255.255.0.0
    real_server 10.7.1.3 0 { }
}`,
	// keepalived 2.2.7's init_service_vs puts a sorry server with
	// sorry_server_inhibit in the table at weight 0 while quorum holds;
	// without inhibit it stays out.
	"sorry_server_inhibit_quorum_up": `
virtual_server 10.7.0.4 80 {
    protocol TCP
    lvs_sched wrr
    lvs_method NAT
    quorum 2
    sorry_server 10.7.9.9 80
    sorry_server_inhibit
    real_server 10.7.1.1 80 { weight 2 }
    real_server 10.7.1.2 80 { weight 3 }
}
virtual_server 10.7.0.5 80 {
    protocol TCP
    lvs_sched wrr
    lvs_method NAT
    sorry_server 10.7.9.9 80
    real_server 10.7.1.1 80 { weight 2 }
}`,
}

// TestVMVSFidelityDifferential programs each config with keepalived 2.2.7
// and with lvsd, one after the other on the same kernel, and compares
// `ipvsadm -S -n`.
func TestVMVSFidelityDifferential(t *testing.T) {
	labtest.RequireVM(t)
	keepalived := labtest.NeedBinary(t, "keepalived")
	if out, err := exec.Command("modprobe", "ip_vs_pe_sip").CombinedOutput(); err != nil {
		t.Fatalf("modprobe ip_vs_pe_sip: %v %s", err, out)
	}
	for name, src := range vsFidelityConfigs {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.conf")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			desired, kTable, lTable := tablesOfBoth(t, keepalived, path, src)
			if kTable != lTable {
				t.Errorf("keepalived and lvsd program different tables:\n%s\nkeepalived:\n%s", lineDiff(kTable, lTable), kTable)
			}
			if lTable != desired.SaveFormat() {
				t.Errorf("kernel table differs from the desired one:\n%s", lineDiff(desired.SaveFormat(), lTable))
			}
			t.Logf("identical tables:\n%s", lTable)
		})
	}
}

// TestVMPersistenceEngineSIP: lvsd's own service messages carry the sip
// engine byte for byte as ipvsadm --pe sip sends it (captured with
// strace), the kernel reports it back, and a converged table needs no
// write.
func TestVMPersistenceEngineSIP(t *testing.T) {
	labtest.RequireVM(t)
	strace := labtest.NeedBinary(t, "strace")
	if out, err := exec.Command("modprobe", "ip_vs_pe_sip").CombinedOutput(); err != nil {
		t.Fatalf("modprobe ip_vs_pe_sip: %v %s", err, out)
	}
	k := realKernel(t)
	// ipvsadm's message, as written to its netlink socket.
	out, err := exec.Command(strace, "-f", "-e", "trace=sendmsg", "-e", "write=all", "-xx",
		"ipvsadm", "-A", "-u", "10.7.0.9:5060", "-s", "rr", "-p", "30", "--pe", "sip").CombinedOutput()
	if err != nil {
		t.Fatalf("strace ipvsadm: %v\n%s", err, out)
	}
	sent := hexDump(string(out))
	if !bytes.Contains(sent, sipAttr) {
		t.Fatalf("ipvsadm's message lacks % x:\n%s", sipAttr, out)
	}
	if ipvsadmSave(t) != "-A -u 10.7.0.9:5060 -s rr -p 30 --pe sip\n" {
		t.Errorf("ipvsadm's service: %q", ipvsadmSave(t))
	}
	flushKernel(t)

	desired := DesiredTable(labtest.Config(t, peConfig), nil)
	for _, svc := range desired {
		msg, err := encodeOp(Op{Kind: CreateService, Service: *svc})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(msg.Data, sipAttr) {
			t.Errorf("lvsd's message lacks ipvsadm's PE attribute % x", sipAttr)
		}
	}
	s := NewSyncer(k, nil, "", false)
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	list, _ := exec.Command("ipvsadm", "-L", "-n").CombinedOutput()
	if !strings.Contains(string(list), "persistent 30 pe sip") {
		t.Errorf("the kernel does not report the engine:\n%s", list)
	}
	got, err := ReadTable(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range got {
		if svc.PEName != "sip" {
			t.Errorf("dump reads PE %q", svc.PEName)
		}
	}
	before := k.writes
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	if k.writes != before {
		t.Errorf("%d writes on a converged table", k.writes-before)
	}
	// Without the engine, the update removes it in the kernel.
	for _, svc := range desired {
		svc.PEName = ""
	}
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	if save := ipvsadmSave(t); strings.Contains(save, "--pe") {
		t.Errorf("engine left in the kernel:\n%s", save)
	}
	t.Logf("ipvsadm and lvsd both send % x; kernel: %s", sipAttr, strings.TrimSpace(string(list)))
}

var hexLine = regexp.MustCompile(`^\s*\|\s*[0-9a-f]{5}\s+(.*)$`)

// hexDump joins the bytes of strace's "-e write=" dumps (" | 00000  2c 00
// ...  ascii |": up to 16 two-digit tokens after the offset).
func hexDump(s string) []byte {
	var out []byte
	for _, l := range strings.Split(s, "\n") {
		m := hexLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		for i, f := range strings.Fields(m[1]) {
			b, err := hex.DecodeString(f)
			if i >= 16 || len(f) != 2 || err != nil {
				break
			}
			out = append(out, b...)
		}
	}
	return out
}

// TestVMGroupRangeAcrossOctet documents where lvsd differs on purpose:
// keepalived 2.2.7 walks a virtual_server_group range by its last octet
// only (ipvs_group_range_cmd adds htonl(1) to the address and stops at
// the end address), so 10.7.0.250-10.7.1.2 wraps within 10.7.0.x for
// ever: 256 services, none of 10.7.1.x, no real server, the checker
// process spinning. lvsd programs the nine addresses the range names.
func TestVMGroupRangeAcrossOctet(t *testing.T) {
	labtest.RequireVM(t)
	keepalived := labtest.NeedBinary(t, "keepalived")
	k := realKernel(t)
	src := `
virtual_server_group R {
    10.7.0.250-10.7.1.2 80
}
virtual_server group R {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    real_server 10.7.9.1 80 { }
}`
	path := filepath.Join(t.TempDir(), "k.conf")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	pid := filepath.Join(t.TempDir(), "k.pid")
	cmd := exec.Command(keepalived, "-C", "-n", "-f", path, "-p", pid, "-c", pid+".c")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second)
	kTable := ipvsadmSave(t)
	// The spinning checker process does not notice its parent's death:
	// kill the whole group.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	time.Sleep(500 * time.Millisecond)
	flushKernel(t)
	if n := strings.Count(kTable, "-A -t 10.7.1."); n != 0 || strings.Count(kTable, "-a ") != 0 {
		t.Errorf("keepalived 2.2.7 no longer wraps the range (%d services of 10.7.1.x): lvsd's documented difference is stale", n)
	}
	desired := DesiredTable(labtest.Config(t, src), nil)
	if _, err := NewSyncer(k, nil, "", false).Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	lTable := ipvsadmSave(t)
	if got := strings.Count(lTable, "-A -t 10.7."); got != 9 || strings.Count(lTable, "-a ") != 9 {
		t.Errorf("lvsd programmed %d services, want the 9 of 10.7.0.250-10.7.1.2 with a real server each:\n%s", got, lTable)
	}
	t.Logf("keepalived: %d services (%d of 10.7.1.x, %d real servers); lvsd: 9 services, 9 real servers",
		strings.Count(kTable, "-A "), strings.Count(kTable, "-A -t 10.7.1."), strings.Count(kTable, "-a "))
}
