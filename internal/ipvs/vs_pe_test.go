package ipvs

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/mdlayher/netlink"
)

const peConfig = `
virtual_server 10.0.0.1 5060 {
    protocol UDP
    lvs_sched rr
    lvs_method NAT
    persistence_timeout 30
    persistence_engine sip
    real_server 10.0.1.1 5060 { }
}
`

// sipAttr is IPVS_SVC_ATTR_PE_NAME "sip" as libipvs's NLA_PUT_STRING
// (ipvsadm --pe sip, keepalived persistence_engine sip) encodes it: length
// 8, type 11, "sip" and its NUL.
var sipAttr = []byte{8, 0, 11, 0, 's', 'i', 'p', 0}

// serviceAttrs returns the attributes of the service nested in a
// generic netlink message body.
func serviceAttrs(t *testing.T, data []byte) map[uint16][]byte {
	t.Helper()
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16][]byte{}
	for ad.Next() {
		if ad.Type() == ipvsCmdAttrService {
			inner, err := netlink.NewAttributeDecoder(ad.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			for inner.Next() {
				out[inner.Type()] = inner.Bytes()
			}
		}
	}
	return out
}

func TestPersistenceEngineEncoding(t *testing.T) {
	desired := DesiredTable(mustConfig(t, peConfig), nil)
	var svc *Service
	for _, s := range desired {
		svc = s
	}
	if svc == nil || svc.PEName != "sip" {
		t.Fatalf("desired service has PE %q", svc.PEName)
	}
	for _, kind := range []OpKind{CreateService, UpdateService} {
		msg, err := encodeOp(Op{Kind: kind, Service: *svc})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(msg.Data, sipAttr) {
			t.Errorf("%v: no IPVS_SVC_ATTR_PE_NAME %x in % x", kind, sipAttr, msg.Data)
		}
		if got := string(serviceAttrs(t, msg.Data)[ipvsSvcAttrPEName]); got != "sip\x00" {
			t.Errorf("%v: PE attribute %q", kind, got)
		}
	}
	// Removing a service names no engine; a service without one sends none.
	msg, _ := encodeOp(Op{Kind: RemoveService, Service: *svc})
	if _, ok := serviceAttrs(t, msg.Data)[ipvsSvcAttrPEName]; ok {
		t.Error("RemoveService carries a PE name")
	}
	plain := *svc
	plain.PEName = ""
	msg, _ = encodeOp(Op{Kind: UpdateService, Service: plain})
	if _, ok := serviceAttrs(t, msg.Data)[ipvsSvcAttrPEName]; ok {
		t.Error("a service without an engine carries a PE name")
	}
	// The dump decoder reads the name back.
	body, err := encodeService(*svc, true)
	if err != nil {
		t.Fatal(err)
	}
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(ipvsCmdAttrService, body)
	wire, _ := ae.Encode()
	back, err := decodeServiceMsg(wire, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.PEName != "sip" || !sameAttrs(back, svc) {
		t.Errorf("decoded %+v, want %+v", back, svc)
	}
	if !strings.Contains(desired.SaveFormat(), " -p 30 --pe sip\n") {
		t.Errorf("save format lacks --pe sip:\n%s", desired.SaveFormat())
	}
}

// TestPersistenceEngineNeedsPersistence: keepalived sends the engine only
// with a persistent service (ipvs_set_srule).
func TestPersistenceEngineNeedsPersistence(t *testing.T) {
	src := strings.Replace(peConfig, "persistence_timeout 30\n", "", 1)
	res := config.Load("t.conf", config.Options{ConfigID: "x", FS: config.MapFS{"t.conf": src}})
	if d := res.Diags.Sorted(); len(d) != 1 || !strings.Contains(d[0].Message, "no effect without persistence") {
		t.Errorf("diagnostics %v, want the warning that the engine has no effect", d)
	}
	for _, svc := range DesiredTable(res.Config, nil) {
		if svc.PEName != "" {
			t.Errorf("a service without persistence names engine %q", svc.PEName)
		}
	}
}

// TestPersistenceEngineConverges: the syncer writes the engine, reads it
// back, and then has nothing to do; dropping persistence_engine updates
// the service.
func TestPersistenceEngineConverges(t *testing.T) {
	k := NewFakeKernel()
	s := NewSyncer(k, nil, "", false)
	desired := DesiredTable(mustConfig(t, peConfig), nil)
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTable(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range got {
		if svc.PEName != "sip" {
			t.Errorf("kernel service PE %q, want sip", svc.PEName)
		}
	}
	before := k.WriteCount()
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	if n := k.WriteCount() - before; n != 0 {
		t.Errorf("%d writes on a converged table with an engine", n)
	}
	for _, svc := range desired {
		svc.PEName = ""
	}
	if _, err := s.Reconcile(desired); err != nil {
		t.Fatal(err)
	}
	got, _ = ReadTable(k)
	for _, svc := range got {
		if svc.PEName != "" {
			t.Errorf("engine %q left after it was dropped", svc.PEName)
		}
	}
}
