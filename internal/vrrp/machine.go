package vrrp

import (
	"net/netip"
	"time"
)

// State is a VRRP instance state.
type State int

const (
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
	StateStopped
	// StateDeleted is only ever reported, never held: a reload removed
	// the instance and it has notify_deleted (Machine.Delete).
	StateDeleted
)

func (s State) String() string {
	switch s {
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	case StateStopped:
		return "STOP"
	case StateDeleted:
		return "DELETED"
	}
	return "INIT"
}

// OwnerPriority is the priority of the address owner, which never waits.
const OwnerPriority = 255

// Params are what the state machine needs of an instance's configuration.
type Params struct {
	VRID         uint8
	Version      int
	Priority     int // base priority, 1..255
	Interval     time.Duration
	Preempt      bool
	PreemptDelay time.Duration
	// DownTimerAdverts is how many adverts a backup misses before it
	// takes over (down_timer_adverts; 0 is RFC 5798's 3).
	DownTimerAdverts int
	// Addr is the address adverts are sent from; the higher one wins a tie.
	Addr netip.Addr
	GARP GARPSchedule
	// HigherPrioSendAdvert: a master yielding to a higher priority sends
	// one advert first, so the winner re-sends its GARPs.
	HigherPrioSendAdvert bool
	// LowerPrioNoAdvert: a master hearing a lower priority does not answer
	// with an advert (RFC behaviour); GARPs are still sent.
	LowerPrioNoAdvert bool
	// OwnerWaits: the address owner configured "state BACKUP" starts as
	// a backup and waits the master-down interval like any other, as
	// keepalived does (it takes over at once only with state MASTER).
	OwnerWaits bool
}

// GARPSchedule is keepalived's gratuitous ARP timing for one instance,
// inheritance from global_defs already resolved.
type GARPSchedule struct {
	Repeat          int           // batch size on becoming master
	Delay           time.Duration // second batch after becoming master; 0 = none
	Refresh         time.Duration // periodic batch while master; 0 = none
	RefreshRepeat   int
	LowerPrioRepeat int // batch when a lower priority advert is heard; 0 = none
	LowerPrioDelay  time.Duration
	// Interval (vrrp_garp_interval) spaces the rounds of a batch: a batch
	// of n becomes a train of n rounds, one per Interval, driven by the
	// machine's deadline so that it ends the moment MASTER does.
	Interval time.Duration
}

// ActionKind says what the shell must do.
type ActionKind int

const (
	SendAdvert ActionKind = iota + 1
	AddVIPs
	RemoveVIPs
	SendGARP
	Notify
	// HeardLowerPriority: a MASTER heard a master of lower priority
	// (keepalived's MASTER_RX_LOWER_PRI event); Priority is ours.
	HeardLowerPriority
	// PriorityChanged: tracking changed the effective priority, now
	// Priority, in State (keepalived's MASTER_PRIORITY/BACKUP_PRIORITY).
	PriorityChanged
)

func (k ActionKind) String() string {
	return [...]string{"?", "send-advert", "add-vips", "remove-vips", "send-garp", "notify", "heard-lower-priority", "priority-changed"}[k]
}

// Action is one effect of an event. Priority is the advert's priority (or
// the effective priority an event reports), Count the number of GARPs per
// VIP, State the state a Notify or PriorityChanged reports.
type Action struct {
	Kind     ActionKind
	Priority uint8
	Count    int
	State    State
}

// Machine is the VRRP state machine of one instance. It does no I/O and
// reads no clock: every event carries the time, and the shell calls Tick
// at Deadline.
type Machine struct {
	p     Params
	state State
	prio  int  // effective priority
	fault bool // held in FAULT by tracking

	// masterInterval is the advert interval learnt from the master (v3).
	masterInterval time.Duration
	timer          time.Time // advert timer in MASTER, master-down timer in BACKUP
	garpAt         time.Time // delayed second GARP batch
	garpCount      int
	refreshAt      time.Time
	trainAt        time.Time // next round of a GARP train
	trainLeft      int       // rounds still to send in the train
	preemptAt      time.Time
	// startDelayEnd is when vrrp_startup_delay ends (DelayStart).
	startDelayEnd time.Time

	MasterAddr     netip.Addr // the current master, as last heard (or own)
	MasterPriority int
	Transitions    int
	LastTransition time.Time
}

// New returns a machine in INIT; Start puts it to work.
func New(p Params) *Machine {
	return &Machine{p: p, prio: p.Priority, masterInterval: p.Interval}
}

func (m *Machine) State() State   { return m.state }
func (m *Machine) Priority() int  { return m.prio }
func (m *Machine) Params() Params { return m.p }
func (m *Machine) MasterDown() time.Duration {
	n := m.p.DownTimerAdverts
	if n == 0 {
		n = 3
	}
	return time.Duration(n)*m.masterInterval + m.skew()
}

// Deadline is when Tick must next be called; zero when nothing is due.
func (m *Machine) Deadline() time.Time {
	var d time.Time
	for _, t := range []time.Time{m.timer, m.garpAt, m.refreshAt, m.trainAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// skew is RFC 3768's (256-priority)/256 s for v2 and RFC 5798's
// (256-priority)*interval/256 for v3, in centiseconds as keepalived keeps it.
func (m *Machine) skew() time.Duration {
	if m.p.Version == 3 {
		cs := int64(m.masterInterval / (10 * time.Millisecond))
		return time.Duration((256-int64(m.prio))*cs/256) * 10 * time.Millisecond
	}
	return time.Duration(256-m.prio) * time.Second / 256
}

// DelayStart is vrrp_startup_delay: until t, a BACKUP's timers run from t,
// not from now, so that no instance takes over before t plus its
// master-down interval (vrrp_init_instance_sands with
// vrrp_delayed_start_time). Call it before Start.
func (m *Machine) DelayStart(t time.Time) { m.startDelayEnd = t }

// backupDeadline is when a BACKUP's timer of length d, set at now, runs
// out: from the end of the startup delay while that lasts.
func (m *Machine) backupDeadline(now time.Time, d time.Duration) time.Time {
	if now.Before(m.startDelayEnd) {
		return m.startDelayEnd.Add(d)
	}
	return now.Add(d)
}

// Start enters BACKUP, or MASTER at once for the address owner, or FAULT
// when tracking already says so.
func (m *Machine) Start(now time.Time) []Action {
	if m.p.PreemptDelay > 0 {
		m.preemptAt = now.Add(m.p.PreemptDelay)
	}
	switch {
	case m.fault:
		return m.enterFault(now)
	case m.prio == OwnerPriority && !m.p.OwnerWaits:
		return m.becomeMaster(now)
	default:
		return m.enterBackup(now)
	}
}

// Received handles an advert that passed Check.
func (m *Machine) Received(now time.Time, from netip.Addr, a *Advert) []Action {
	switch m.state {
	case StateBackup:
		if a.Priority == 0 {
			// The master is leaving: take over after the skew alone.
			m.timer = m.backupDeadline(now, m.skew())
			return nil
		}
		lower := int(a.Priority) < m.prio
		holding := m.p.PreemptDelay > 0 && (m.preemptAt.IsZero() || now.Before(m.preemptAt))
		if !m.p.Preempt || !lower || holding {
			if m.p.Version == 3 {
				m.masterInterval = a.Interval
			}
			if m.p.PreemptDelay > 0 {
				if !lower {
					m.preemptAt = time.Time{}
				} else if m.preemptAt.IsZero() {
					m.preemptAt = now.Add(m.p.PreemptDelay)
				}
			}
			m.MasterAddr, m.MasterPriority = from, int(a.Priority)
			m.timer = m.backupDeadline(now, m.MasterDown())
		}
		// A lower priority master with preemption on is ignored: the
		// master-down timer runs out and this instance takes over.
		return nil
	case StateMaster:
		if a.Priority == 0 {
			m.timer = now.Add(m.p.Interval)
			return []Action{{Kind: SendAdvert, Priority: uint8(m.prio)}}
		}
		if int(a.Priority) > m.prio || int(a.Priority) == m.prio && from.Compare(m.p.Addr) > 0 {
			if m.p.Version == 3 {
				m.masterInterval = a.Interval
			}
			m.MasterAddr, m.MasterPriority = from, int(a.Priority)
			// One last advert at our priority before yielding: the winner
			// hears a lower priority and answers with gratuitous ARPs at
			// once. After a healed partition the winner may otherwise
			// never hear us, and hosts keep our MAC for the VIP.
			if !m.p.HigherPrioSendAdvert {
				return m.leaveMaster(now, StateBackup)
			}
			return append([]Action{{Kind: SendAdvert, Priority: uint8(m.prio)}}, m.leaveMaster(now, StateBackup)...)
		}
		// A lower priority master: assert ourselves at once and refresh
		// the neighbours' ARP caches; then the event (its script runs
		// after the advert is out, as in vrrp_state_master_rx).
		var acts []Action
		if !m.p.LowerPrioNoAdvert {
			m.timer = now.Add(m.p.Interval)
			acts = append(acts, Action{Kind: SendAdvert, Priority: uint8(m.prio)})
		}
		if n := m.p.GARP.LowerPrioRepeat; n > 0 {
			acts = append(acts, m.garpBatch(now, n)...)
			if m.p.GARP.LowerPrioDelay > 0 {
				m.garpAt, m.garpCount = now.Add(m.p.GARP.LowerPrioDelay), n
			}
		}
		return append(acts, Action{Kind: HeardLowerPriority, Priority: uint8(m.prio)})
	}
	return nil
}

// Tick runs the timers that are due at now.
func (m *Machine) Tick(now time.Time) []Action {
	var acts []Action
	if m.state == StateBackup && !m.timer.IsZero() && !now.Before(m.timer) {
		return m.becomeMaster(now)
	}
	if m.state != StateMaster {
		return nil
	}
	if !m.timer.IsZero() && !now.Before(m.timer) {
		acts = append(acts, Action{Kind: SendAdvert, Priority: uint8(m.prio)})
		m.timer = now.Add(m.p.Interval)
	}
	if !m.trainAt.IsZero() && !now.Before(m.trainAt) {
		acts = append(acts, Action{Kind: SendGARP, Count: 1})
		m.trainLeft--
		m.trainAt = time.Time{}
		if m.trainLeft > 0 {
			m.trainAt = now.Add(m.p.GARP.Interval)
		}
	}
	if !m.garpAt.IsZero() && !now.Before(m.garpAt) {
		acts = append(acts, m.garpBatch(now, m.garpCount)...)
		m.garpAt = time.Time{}
	}
	if !m.refreshAt.IsZero() && !now.Before(m.refreshAt) {
		acts = append(acts, m.garpBatch(now, m.p.GARP.RefreshRepeat)...)
		m.refreshAt = now.Add(m.p.GARP.Refresh)
	}
	return acts
}

// garpBatch sends a batch of n GARP rounds: all at once without an
// interval, otherwise the first now and the rest as a train on the
// machine's deadline. A batch that starts while a train runs extends it
// to whichever is longer; it never runs two trains side by side.
func (m *Machine) garpBatch(now time.Time, n int) []Action {
	if n <= 0 {
		return nil
	}
	if m.p.GARP.Interval <= 0 || n == 1 {
		return []Action{{Kind: SendGARP, Count: n}}
	}
	if m.trainLeft < n-1 {
		m.trainLeft = n - 1
	}
	if m.trainAt.IsZero() {
		m.trainAt = now.Add(m.p.GARP.Interval)
	}
	return []Action{{Kind: SendGARP, Count: 1}}
}

// SetFault holds the instance in FAULT (a tracked interface or script
// without weight failed) or releases it.
func (m *Machine) SetFault(now time.Time, fault bool) []Action {
	if m.fault == fault {
		return nil
	}
	m.fault = fault
	switch {
	case m.state == StateInit || m.state == StateStopped:
		return nil
	case fault:
		return m.enterFault(now)
	case m.state == StateFault:
		if m.prio == OwnerPriority {
			return m.becomeMaster(now)
		}
		return m.enterBackup(now)
	}
	return nil
}

// SetPriority applies tracking weights. The new priority shows in the
// next advert; a backup that now outranks the master takes over when
// the master-down timer expires, as keepalived does.
func (m *Machine) SetPriority(now time.Time, prio int) []Action {
	if prio == m.prio {
		return nil
	}
	m.prio = prio
	changed := Action{Kind: PriorityChanged, Priority: uint8(prio), State: m.state}
	if m.state == StateMaster {
		// keepalived advertises a priority change at once.
		m.timer = now.Add(m.p.Interval)
		return []Action{{Kind: SendAdvert, Priority: uint8(prio)}, changed}
	}
	return []Action{changed}
}

// Stop is shutdown: a master hands over with a priority 0 advert.
func (m *Machine) Stop(now time.Time) []Action {
	var acts []Action
	if m.state == StateMaster {
		acts = append(acts, Action{Kind: SendAdvert, Priority: 0}, Action{Kind: RemoveVIPs})
	}
	if m.state == StateStopped {
		return nil
	}
	m.setState(now, StateStopped)
	m.clearTimers()
	return append(acts, Action{Kind: Notify, State: StateStopped})
}

// Delete is a reload removing the instance, keepalived 2.2.7's
// clear_diff_vrrp: a master lets go as at a stop (a priority 0 advert, its
// VIPs removed); then the instance is reported DELETED with
// notify_deleted, else FAULT (keepalived's old way, kept as its default),
// except that an instance already in FAULT without notify_deleted reports
// nothing. The machine ends stopped, without a STOP of its own.
func (m *Machine) Delete(now time.Time, notifyDeleted bool) []Action {
	if m.state == StateStopped {
		return nil
	}
	var acts []Action
	if m.state == StateMaster {
		acts = append(acts, Action{Kind: SendAdvert, Priority: 0}, Action{Kind: RemoveVIPs})
	}
	report := StateFault
	if notifyDeleted {
		report = StateDeleted
	}
	if notifyDeleted || m.state != StateFault {
		acts = append(acts, Action{Kind: Notify, State: report})
	}
	m.setState(now, StateStopped)
	m.clearTimers()
	return acts
}

// SyncTo moves a sync-group member to the state its group moved to.
func (m *Machine) SyncTo(now time.Time, s State) []Action {
	if m.state == s || m.state == StateStopped || m.state == StateInit {
		return nil
	}
	switch s {
	case StateMaster:
		if m.state == StateBackup && !m.fault {
			return m.becomeMaster(now)
		}
	case StateBackup:
		if m.state == StateMaster {
			return m.leaveMaster(now, StateBackup)
		}
	case StateFault:
		return m.enterFault(now)
	}
	return nil
}

// adoptFrom continues old's run in m after a reload: state, timers and
// what it knows of the master carry over; parameters are m's own.
func (m *Machine) adoptFrom(old *Machine) {
	m.state, m.fault = old.state, old.fault
	m.prio = old.prio
	m.masterInterval = old.masterInterval
	if m.p.Version != 3 || m.state == StateMaster {
		m.masterInterval = m.p.Interval
	}
	m.timer, m.garpAt, m.garpCount, m.refreshAt, m.preemptAt = old.timer, old.garpAt, old.garpCount, old.refreshAt, old.preemptAt
	m.trainAt, m.trainLeft = old.trainAt, old.trainLeft
	m.startDelayEnd = old.startDelayEnd
	m.MasterAddr, m.MasterPriority = old.MasterAddr, old.MasterPriority
	m.Transitions, m.LastTransition = old.Transitions, old.LastTransition
	if m.state == StateMaster {
		m.MasterAddr = m.p.Addr
	}
}

func (m *Machine) becomeMaster(now time.Time) []Action {
	m.setState(now, StateMaster)
	m.MasterAddr, m.MasterPriority = m.p.Addr, m.prio
	m.timer = now.Add(m.p.Interval)
	m.garpAt, m.refreshAt = time.Time{}, time.Time{}
	if m.p.GARP.Delay > 0 {
		m.garpAt, m.garpCount = now.Add(m.p.GARP.Delay), m.p.GARP.Repeat
	}
	if m.p.GARP.Refresh > 0 {
		m.refreshAt = now.Add(m.p.GARP.Refresh)
	}
	acts := []Action{{Kind: SendAdvert, Priority: uint8(m.prio)}, {Kind: AddVIPs}}
	acts = append(acts, m.garpBatch(now, m.p.GARP.Repeat)...)
	return append(acts, Action{Kind: Notify, State: StateMaster})
}

func (m *Machine) leaveMaster(now time.Time, to State) []Action {
	acts := []Action{{Kind: RemoveVIPs}}
	if to == StateFault {
		acts = append([]Action{{Kind: SendAdvert, Priority: 0}}, acts...)
	}
	m.clearTimers()
	if to == StateBackup {
		m.setState(now, StateBackup)
		m.timer = m.backupDeadline(now, m.MasterDown())
		return append(acts, Action{Kind: Notify, State: StateBackup})
	}
	m.setState(now, StateFault)
	return append(acts, Action{Kind: Notify, State: StateFault})
}

// AddressLost is a MASTER finding one of its VIPs, virtual routes or
// virtual rules deleted behind its back: keepalived's set_vrrp_backup. It
// leaves MASTER as for a stop (a priority 0 advert, its VIPs removed,
// BACKUP notified) but waits only its skew time, so that with no better
// master it is MASTER again, every VIP added and announced anew, after
// (256-priority)/256 of an interval; a peer hearing the priority 0 waits
// its own, longer, skew.
func (m *Machine) AddressLost(now time.Time) []Action {
	if m.state != StateMaster {
		return nil
	}
	acts := append([]Action{{Kind: SendAdvert, Priority: 0}}, m.leaveMaster(now, StateBackup)...)
	m.timer = m.backupDeadline(now, m.skew())
	return acts
}

func (m *Machine) enterBackup(now time.Time) []Action {
	m.setState(now, StateBackup)
	m.clearTimers()
	m.masterInterval = m.p.Interval
	m.MasterAddr, m.MasterPriority = netip.Addr{}, 0
	m.timer = m.backupDeadline(now, m.MasterDown())
	return []Action{{Kind: Notify, State: StateBackup}}
}

func (m *Machine) enterFault(now time.Time) []Action {
	if m.state == StateMaster {
		return m.leaveMaster(now, StateFault)
	}
	m.setState(now, StateFault)
	m.clearTimers()
	return []Action{{Kind: Notify, State: StateFault}}
}

func (m *Machine) setState(now time.Time, s State) {
	if m.state != s {
		m.state = s
		m.Transitions++
		m.LastTransition = now
	}
}

// clearTimers stops everything a MASTER does on time, GARP trains
// included: a node that no longer holds the VIP never announces it.
func (m *Machine) clearTimers() {
	m.timer, m.garpAt, m.refreshAt, m.trainAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	m.trainLeft = 0
}
