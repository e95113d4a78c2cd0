package vrrp

import (
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/labtest"
)

// TestResolveEvents: notify_priority_changes is the instance's, else its
// sync group's, else vrrp_notify_priority_changes (vrrp_complete_instance);
// notify_master_rx_lower_pri is the instance's script.
func TestResolveEvents(t *testing.T) {
	const conf = `global_defs {
  vrrp_notify_priority_changes
}
vrrp_sync_group G {
  group {
    A
    B
  }
  notify_priority_changes false
}
vrrp_sync_group H {
  group {
    D
  }
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  priority 100
  notify_priority_changes
  virtual_ipaddress {
    10.0.0.1
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 2
  priority 100
  virtual_ipaddress {
    10.0.0.2
  }
}
vrrp_instance C {
  interface eth0
  virtual_router_id 3
  priority 100
  notify_master_rx_lower_pri "/bin/echo rx"
  virtual_ipaddress {
    10.0.0.3
  }
}
vrrp_instance D {
  interface eth0
  virtual_router_id 4
  priority 100
  virtual_ipaddress {
    10.0.0.4
  }
}
vrrp_instance E {
  interface eth0
  virtual_router_id 5
  priority 100
  notify_priority_changes false
  virtual_ipaddress {
    10.0.0.5
  }
}
`
	// A: its own; B: its group's (false over the global); C, D: the
	// global (D's group says nothing); E: its own false.
	want := map[string]bool{"A": true, "B": false, "C": true, "D": true, "E": false}
	for _, global := range []bool{true, false} {
		text := conf
		if !global {
			text = strings.Replace(conf, "  vrrp_notify_priority_changes\n", "", 1)
			want["C"], want["D"] = false, false
		}
		sp := ResolveSpec(labtest.Config(t, text))
		for _, in := range sp.Instances {
			if in.NotifyPriorityChanges != want[in.Name] {
				t.Errorf("global %v: %s: NotifyPriorityChanges %v, want %v", global, in.Name, in.NotifyPriorityChanges, want[in.Name])
			}
			if got := in.NotifyMasterRxLowerPri != nil; got != (in.Name == "C") {
				t.Errorf("%s: notify_master_rx_lower_pri set %v", in.Name, got)
			}
		}
	}
}

func TestEventFIFOState(t *testing.T) {
	for _, c := range []struct {
		ev   Event
		want string
	}{
		{Event{Kind: EventMasterRxLowerPri, State: StateMaster}, "MASTER_RX_LOWER_PRI"},
		{Event{Kind: EventPriorityChanged, State: StateMaster}, "MASTER_PRIORITY"},
		{Event{Kind: EventPriorityChanged, State: StateBackup}, "BACKUP_PRIORITY"},
		{Event{Kind: EventPriorityChanged, State: StateFault}, "BACKUP_PRIORITY"}, // as send_instance_priority_notifies
	} {
		if got := c.ev.FIFOState(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.ev, got, c.want)
		}
	}
	if !strings.Contains(PriorityChanged.String(), "priority") || !strings.Contains(HeardLowerPriority.String(), "lower") {
		t.Error("action kinds have no names")
	}
}
