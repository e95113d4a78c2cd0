package vrrp

import (
	"fmt"

	"github.com/lvsd/lvsd/internal/config"
)

// EventKind is an instance event keepalived 2.2.7 reports on its notify
// FIFOs besides state changes (vrrp_notify.c's notify_fifo).
type EventKind int

const (
	// EventMasterRxLowerPri: the instance, MASTER, heard a master of
	// lower priority (a partition healed, or a peer that lost our
	// adverts); keepalived runs notify_master_rx_lower_pri then.
	EventMasterRxLowerPri EventKind = iota + 1
	// EventPriorityChanged: tracking changed the effective priority,
	// reported with notify_priority_changes.
	EventPriorityChanged
	// EventRemoved: a reload removed the instance; State is DELETED with
	// notify_deleted, else FAULT (Machine.Delete). Its state lines and
	// mail come with it, since the router that reports states is gone.
	EventRemoved
)

// Event is an instance event, with the instance's state and effective
// priority when it happened.
type Event struct {
	Instance string
	Kind     EventKind
	State    State
	Priority int
	// SMTPAlert is the removed instance's smtp_alert (EventRemoved): the
	// configuration that had it is no longer loaded.
	SMTPAlert bool
}

// FIFOState is the word keepalived writes in place of a state: the
// state a removed instance reports (FAULT or DELETED), MASTER_RX_LOWER_PRI, or MASTER_PRIORITY in MASTER and BACKUP_PRIORITY
// in any other state (send_instance_priority_notifies).
func (e Event) FIFOState() string {
	switch {
	case e.Kind == EventRemoved:
		return e.State.String()
	case e.Kind == EventMasterRxLowerPri:
		return "MASTER_RX_LOWER_PRI"
	case e.State == StateMaster:
		return "MASTER_PRIORITY"
	}
	return "BACKUP_PRIORITY"
}

// OnEvent registers fn, called on the router's goroutine (it must not
// block) for each Event. Call it before Run.
func (r *Router) OnEvent(fn func(Event)) { r.onEvent = fn }

// event carries out a machine's HeardLowerPriority or PriorityChanged.
func (r *Router) event(in *instance, a Action) {
	ev := Event{Instance: in.cfg.Name, State: a.State, Priority: int(a.Priority)}
	switch a.Kind {
	case HeardLowerPriority:
		// vrrp_state_master_rx: send_event_notify runs the script (as
		// given, no arguments added) and writes the FIFO line, always.
		ev.Kind, ev.State = EventMasterRxLowerPri, StateMaster
		if sc := in.cfg.NotifyMasterRxLowerPri; sc != nil {
			r.notifier.Submit(in.cfg.Name, r.plat.Run, sc)
		}
	case PriorityChanged:
		// vrrp_set_effective_priority: only with notify_priority_changes,
		// and only once the instance runs (keepalived sets the starting
		// priority before its first state).
		if !in.spec.NotifyPriorityChanges || a.State == StateInit {
			return
		}
		ev.Kind = EventPriorityChanged
	default:
		return
	}
	if r.onEvent != nil {
		r.onEvent(ev)
	}
}

// resolveWithConfig fills in what the spec takes from beyond the
// instance's block: the interfaces its track groups track, and
// notify_priority_changes from the instance, else its sync group, else
// vrrp_notify_priority_changes (vrrp.c vrrp_complete_instance).
func resolveWithConfig(cfg *config.Config, ic *config.Instance, sp *InstanceSpec) {
	sp.StaticTrackLinks = cfg.StaticTrackLinks(ic.Name)
	sp.NotifyMasterRxLowerPri = scriptSpec(ic.NotifyMasterRxLowerPri)
	// Resolved by config.Load (instance, sync group, global_defs).
	sp.NotifyPriorityChanges = deref(ic.NotifyPriorityChanges)
}

// notifyRemoved reports an instance a reload removed, as keepalived's
// send_instance_notifies does for it: notify_deleted's script, if any,
// then the generic notify script with the state reported, DELETED or
// FAULT; no sync group notification. Reported FAULT (no notify_deleted),
// notify_fault does not run: keepalived picks the state script while the
// state is still DELETED, and there is none. The FIFO line and mail go
// through EventRemoved.
func (r *Router) notifyRemoved(in *instance, s State) {
	c := in.cfg
	r.log.Info("vrrp instance removed by reload", "instance", c.Name, "reported", s.String())
	if sc := c.NotifyDeletedScript; sc != nil && s == StateDeleted {
		r.notifier.Submit(c.Name, r.plat.Run, sc)
	}
	if c.Notify != nil {
		r.notifier.Submit(c.Name, r.plat.Run, c.Notify, "INSTANCE", c.Name, s.String(), fmt.Sprint(in.m.prio))
	}
	if r.onEvent != nil {
		r.onEvent(Event{Instance: c.Name, Kind: EventRemoved, State: s, Priority: in.m.prio,
			SMTPAlert: c.SMTPAlert != nil && *c.SMTPAlert})
	}
}
