package ipvs

import (
	"bytes"
	"testing"
)

// IPVS_CMD_SET_CONFIG as keepalived's libipvs (and ipvsadm --set) sends
// it: the generic netlink header, then the three u32 timeouts.
func TestEncodeSetConfig(t *testing.T) {
	msg, err := encodeSetConfig(Timeouts{TCP: 7200, TCPFin: 60, UDP: 300})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Command != 12 || msg.Header.Version != ipvsGenlVersion {
		t.Errorf("header %+v, want command 12 (IPVS_CMD_SET_CONFIG), version %d", msg.Header, ipvsGenlVersion)
	}
	want := []byte{
		8, 0, 4, 0, 0x20, 0x1c, 0, 0, // IPVS_CMD_ATTR_TIMEOUT_TCP 7200
		8, 0, 5, 0, 60, 0, 0, 0, // IPVS_CMD_ATTR_TIMEOUT_TCP_FIN 60
		8, 0, 6, 0, 0x2c, 0x01, 0, 0, // IPVS_CMD_ATTR_TIMEOUT_UDP 300
	}
	if !bytes.Equal(msg.Data, want) {
		t.Errorf("attributes % x\nwant       % x", msg.Data, want)
	}
	got, err := decodeConfig(msg.Data)
	if err != nil || got != (Timeouts{7200, 60, 300}) {
		t.Errorf("decodeConfig of the same attributes: %+v, %v", got, err)
	}
	// A kernel without UDP support sends the TCP ones only.
	if got, err := decodeConfig(want[:16]); err != nil || got != (Timeouts{TCP: 7200, TCPFin: 60}) {
		t.Errorf("decodeConfig without UDP: %+v, %v", got, err)
	}
	if _, err := decodeConfig(want[:6]); err == nil {
		t.Error("decodeConfig of a truncated attribute: no error")
	}
}

func FuzzDecodeConfig(f *testing.F) {
	msg, _ := encodeSetConfig(Timeouts{TCP: 900, TCPFin: 120, UDP: 300})
	f.Add(msg.Data)
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = decodeConfig(b) })
}

// TimeoutKeeper follows keepalived 2.2.7 through a run: start with
// lvs_timeouts, reloads that change it and drop it, then stop.
func TestTimeoutKeeper(t *testing.T) {
	k := NewFakeKernel()
	var tk TimeoutKeeper
	steps := []struct {
		name       string
		want       *Timeouts // nil: Restore (stop)
		kernel     Timeouts
		writesMore int
	}{
		{"start without lvs_timeouts: nothing written", &Timeouts{}, KernelDefaultTimeouts, 0},
		{"stop with nothing changed: nothing written", nil, KernelDefaultTimeouts, 0},
		{"tcp and tcpfin given: udp stays the kernel's", &Timeouts{TCP: 7200, TCPFin: 60}, Timeouts{7200, 60, 300}, 1},
		{"reload with udp only: tcp and tcpfin go back", &Timeouts{UDP: 100}, Timeouts{900, 120, 100}, 1},
		{"reload without lvs_timeouts: all back", &Timeouts{}, KernelDefaultTimeouts, 1},
		{"reload with tcp again", &Timeouts{TCP: 3600}, Timeouts{3600, 120, 300}, 1},
		{"stop: all back", nil, KernelDefaultTimeouts, 1},
	}
	for _, s := range steps {
		before := k.TimeoutWrites
		var err error
		if s.want == nil {
			err = tk.Restore(k)
		} else {
			err = tk.Apply(k, *s.want)
		}
		got, _ := k.Timeouts()
		if err != nil || got != s.kernel || k.TimeoutWrites-before != s.writesMore {
			t.Errorf("%s: kernel %s, %d writes, err %v; want %s, %d writes", s.name, got, k.TimeoutWrites-before, err, s.kernel, s.writesMore)
		}
	}
}
