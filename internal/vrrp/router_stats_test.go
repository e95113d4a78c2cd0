package vrrp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/internal/labtest"
)

// The four counters keepalived's stats dump and its Prometheus exporter
// report beside adverts: become_master, release_master, pri_zero_rcvd,
// pri_zero_sent (keepalived 2.2.7 vrrp.c counts each at the same event).
func TestRouterMasterAndPriorityZeroCounters(t *testing.T) {
	p := newFakePlatform()
	r := startRouter(t, slowNotifyAt100, p)
	send := masterWithSocket(t, r, p)
	send(200)
	labtest.WaitFor(t, "backup", time.Second, func() bool { return r.Status()[0].State == "BACKUP" })
	send(0) // the peer lets go: this router takes over at once
	labtest.WaitFor(t, "master again", time.Second, func() bool { return r.Status()[0].State == "MASTER" })
	st := r.Status()[0].Stats
	if st.BecomeMaster != 2 || st.ReleaseMaster != 1 || st.PriorityZeroReceived != 1 || st.PriorityZeroSent != 0 {
		t.Fatalf("become_master %d release_master %d pri_zero_rcvd %d pri_zero_sent %d, want 2 1 1 0",
			st.BecomeMaster, st.ReleaseMaster, st.PriorityZeroReceived, st.PriorityZeroSent)
	}
	// Its link goes down: a master leaving for FAULT sends priority 0
	// (keepalived's vrrp_restore_interface with advF), counted as sent.
	p.mu.Lock()
	p.links["eth0"] = false
	p.mu.Unlock()
	labtest.WaitFor(t, "FAULT", 3*time.Second, func() bool { return r.Status()[0].State == "FAULT" })
	p.mu.Lock()
	var zeros int
	for _, a := range p.sent {
		if a.Priority == 0 {
			zeros++
		}
	}
	p.mu.Unlock()
	st = r.Status()[0].Stats
	if zeros == 0 || st.PriorityZeroSent != uint64(zeros) || st.ReleaseMaster != 2 {
		t.Errorf("%d priority-0 adverts sent, pri_zero_sent %d, release_master %d; want them equal, non-zero, and 2 releases",
			zeros, st.PriorityZeroSent, st.ReleaseMaster)
	}
}

// A MASTER logs the other masters it hears, as vrrp_state_master_rx does:
// a lower priority (it asserts itself and sends GARPs) and a higher one
// (it yields). After a healed partition these lines say who answered.
func TestRouterLogsMasterRx(t *testing.T) {
	p := newFakePlatform()
	var logs labtest.LogBuffer
	r, err := NewRouter(labtest.Config(t, slowNotifyAt100), p, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	go r.Run(context.Background())
	t.Cleanup(r.Stop)
	send := masterWithSocket(t, r, p)
	send(90)
	want := "msg=\"vrrp advert with lower priority\" instance=VI_A from=10.0.0.9 priority=90 ours=100 forcing_new_election=true"
	labtest.WaitFor(t, "the lower priority logged", time.Second, func() bool { return strings.Contains(logs.String(), want) })
	send(200)
	labtest.WaitFor(t, "backup", time.Second, func() bool { return r.Status()[0].State == "BACKUP" })
	if want := "msg=\"vrrp master heard higher priority\" instance=VI_A from=10.0.0.9 priority=200 ours=100"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}
