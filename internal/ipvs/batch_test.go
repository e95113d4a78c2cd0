package ipvs

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func ackMsg(seq uint32, code int32) []byte {
	b := make([]byte, 36)
	binary.NativeEndian.PutUint32(b[0:4], 36)
	binary.NativeEndian.PutUint16(b[4:6], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	binary.NativeEndian.PutUint32(b[16:20], uint32(code))
	return b
}

func TestParseAcks(t *testing.T) {
	// Sequence numbers that wrap within one batch.
	first := uint32(0xFFFFFFFF)
	var buf []byte
	buf = append(buf, ackMsg(first, 0)...)
	buf = append(buf, ackMsg(first+1, -int32(unix.EEXIST))...)
	buf = append(buf, ackMsg(first+2, -int32(unix.ENOMEM))...)
	buf = append(buf, ackMsg(first+7, 0)...) // not ours
	got := map[int]int32{}
	parseAcks(buf, first, 3, func(i int, code int32) { got[i] = code })
	want := map[int]int32{0: 0, 1: -int32(unix.EEXIST), 2: -int32(unix.ENOMEM)}
	if len(got) != len(want) {
		t.Fatalf("acks %v, want %v", got, want)
	}
	for i, c := range want {
		if got[i] != c {
			t.Errorf("ack %d = %d, want %d", i, got[i], c)
		}
	}
}

func FuzzParseAcks(f *testing.F) {
	f.Add(append(ackMsg(5, 0), ackMsg(6, -17)...), uint32(5), 2)
	f.Add([]byte{1, 2, 3}, uint32(0), 1)
	f.Fuzz(func(t *testing.T, buf []byte, first uint32, n int) {
		if n < 0 || n > 1024 {
			return
		}
		parseAcks(buf, first, n, func(i int, _ int32) {
			if i < 0 || i >= n {
				t.Fatalf("ack index %d outside 0..%d", i, n)
			}
		})
	})
}

// TestEncodeOpCommands: every op kind maps to its IPVS command and carries
// the service (and, for destinations, the destination) attribute.
func TestEncodeOpCommands(t *testing.T) {
	cfg := mustConfig(t, seedDirector)
	desired := DesiredTable(cfg, nil)
	var svc *Service
	for _, k := range desired.SortedKeys() {
		svc = desired[k]
		break
	}
	d := svc.SortedDests()[0]
	for kind, cmd := range map[OpKind]uint8{CreateService: ipvsCmdNewService, UpdateService: ipvsCmdSetService, RemoveService: ipvsCmdDelService,
		CreateDest: ipvsCmdNewDest, UpdateDest: ipvsCmdSetDest, RemoveDest: ipvsCmdDelDest} {
		msg, err := encodeOp(Op{Kind: kind, Service: *svc, Dest: d})
		if err != nil || msg.Header.Command != cmd || msg.Header.Version != ipvsGenlVersion {
			t.Errorf("%s: command %d version %d err %v, want command %d", kind, msg.Header.Command, msg.Header.Version, err, cmd)
		}
		attrs := 1
		if kind >= CreateDest {
			attrs = 2
		}
		n := 0
		for b := msg.Data; len(b) >= 4; n++ {
			l := int(binary.NativeEndian.Uint16(b[0:2]))
			if l < 4 {
				break
			}
			b = b[min((l+3)&^3, len(b)):]
		}
		if n != attrs {
			t.Errorf("%s: %d top-level attributes, want %d", kind, n, attrs)
		}
	}
}
