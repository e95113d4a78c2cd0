package daemon

import (
	"time"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
	"github.com/lvsd/lvsd/internal/vrrp"
)

// The kernel's IPVS connection sync daemons (lvs_sync_daemon), driven as
// keepalived 2.2.7 drives them:
//   - lvs_sync_daemon naming a vrrp_instance: its VRRP side runs the
//     backup daemon and, while the instance is MASTER, the master daemon
//     instead (vrrp.c: ipvs_syncd_master/ipvs_syncd_backup); not under -C.
//   - without an instance: its checker side runs both at once
//     (check_daemon.c, IPVS_MASTER_BACKUP); not under -P.
//
// The wanted set is applied at start, after each state change of the
// instance, after a reload and at every repair interval (which restores a
// daemon stopped behind lvsd's back); lvsd stops what it runs at stop.

// wantSyncDaemons is the daemons cfg asks for now; managed is false when
// lvsd has no business with the kernel's sync daemons in this mode.
func wantSyncDaemons(sd *config.SyncDaemon, opts Options, instanceState func(string) string) (want []ipvs.SyncDaemon, managed bool) {
	if sd == nil {
		return nil, false
	}
	base := ipvs.SyncDaemon{Interface: sd.Interface, SyncID: uint32(sd.SyncID), MaxLen: uint16(sd.MaxLen),
		Port: uint16(sd.Port), TTL: uint8(sd.TTL), Group: sd.Group}
	with := func(s ipvs.SyncState) ipvs.SyncDaemon { d := base; d.State = s; return d }
	if sd.Instance == "" {
		if opts.VRRPOnly {
			return nil, false
		}
		return []ipvs.SyncDaemon{with(ipvs.SyncMaster), with(ipvs.SyncBackup)}, true
	}
	if opts.CheckOnly {
		return nil, false
	}
	if instanceState(sd.Instance) == vrrp.StateMaster.String() {
		return []ipvs.SyncDaemon{with(ipvs.SyncMaster)}, true
	}
	return []ipvs.SyncDaemon{with(ipvs.SyncBackup)}, true
}

// applySyncDaemons brings the kernel's sync daemons to what the running
// configuration and VRRP state want, and records what the kernel then
// runs for the status and metrics. A failure (interface missing, bad
// group) is logged once per distinct reason and counted; the next trigger
// tries again.
func (d *Daemon) applySyncDaemons() {
	sd := d.cfg.Global.LVSSyncDaemon
	want, managed := wantSyncDaemons(sd, d.opts, d.instanceState)
	if !managed {
		if !d.syncdManaged {
			d.syncStatus.Store(nil)
			return // never ours: leave the kernel's daemons alone
		}
		want = nil // the configuration dropped it: stop ours
	}
	k := d.syncdKernelOpen()
	if k == nil {
		return
	}
	if len(want) > 0 {
		d.setSyncKnobs()
	}
	writes, err := ipvs.SetSyncDaemons(k, want)
	d.syncdManaged = managed
	if err != nil {
		d.syncdErrors.Add(1)
		if msg := err.Error(); msg != d.syncdLastErr {
			d.syncdLastErr = msg
			d.log.Error("ipvs sync daemon", "err", err)
		}
	} else {
		d.syncdLastErr = ""
		if writes > 0 {
			d.log.Info("ipvs sync daemons set", "daemons", len(want), "writes", writes)
		}
	}
	d.recordSyncStatus(k, sd, managed)
}

// SyncStatus is lvs_sync_daemon as the kernel runs it.
type SyncStatus struct {
	Interface string `json:"interface"`
	Instance  string `json:"instance,omitempty"`
	SyncID    int    `json:"sync_id"`
	// Running is what the kernel reports (IPVS_CMD_GET_DAEMON), read back
	// after every change and at every repair interval.
	Running []SyncDaemonStatus `json:"running"`
	// Settings are the kernel's sync settings (net.ipv4.vs.*).
	Settings map[string]string `json:"settings,omitempty"`
	// FailbackHoldSeconds is how long a returning director waits before it
	// preempts (vrrp.SyncFailbackHold), for the instances it applies to.
	FailbackHoldSeconds int       `json:"failback_hold_seconds"`
	LastError           string    `json:"last_error,omitempty"`
	Checked             time.Time `json:"checked"`
	// TemplatesSent counts the persistence templates lvsd sent to the sync
	// group itself (templates learnt from a peer are never re-announced by
	// the kernel), and TemplateSendErrors the failed sends.
	TemplatesSent      uint64 `json:"templates_sent"`
	TemplateSendErrors uint64 `json:"template_send_errors,omitempty"`

	running []ipvs.SyncDaemon
}

// SyncDaemonStatus is one kernel sync daemon.
type SyncDaemonStatus struct {
	State     string `json:"state"`
	Interface string `json:"interface"`
	SyncID    uint32 `json:"sync_id"`
	MaxLen    uint16 `json:"maxlen"`
	Port      uint16 `json:"port"`
	TTL       uint8  `json:"ttl"`
	Group     string `json:"group"`
}

func (d *Daemon) recordSyncStatus(k ipvs.Kernel, sd *config.SyncDaemon, managed bool) {
	if !managed || sd == nil {
		d.syncStatus.Store(nil)
		return
	}
	st := &SyncStatus{Interface: sd.Interface, Instance: sd.Instance, SyncID: sd.SyncID, LastError: d.syncdLastErr,
		Settings: d.readSyncKnobs(), FailbackHoldSeconds: int(vrrp.SyncFailbackHold / time.Second), Checked: time.Now()}
	running, err := k.SyncDaemons()
	if err != nil && st.LastError == "" {
		st.LastError = "read sync daemons: " + err.Error()
	}
	st.running = running
	for _, r := range running {
		g := ""
		if r.Group.IsValid() {
			g = r.Group.String()
		}
		st.Running = append(st.Running, SyncDaemonStatus{State: r.State.String(), Interface: r.Interface, SyncID: r.SyncID,
			MaxLen: r.MaxLen, Port: r.Port, TTL: r.TTL, Group: g})
	}
	d.syncStatus.Store(st)
}

// IPVSSyncDaemons is what the kernel ran at the last check, for the
// metrics; managed is false when lvsd does not manage the sync daemons.
func (d *Daemon) IPVSSyncDaemons() (running []ipvs.SyncDaemon, managed bool) {
	st := d.syncStatus.Load()
	if st == nil {
		return nil, false
	}
	return st.running, true
}

// stopSyncDaemons stops the daemons lvsd runs, as keepalived does at stop.
func (d *Daemon) stopSyncDaemons() {
	if !d.syncdManaged {
		return
	}
	if k := d.syncdKernelOpen(); k != nil {
		if _, err := ipvs.SetSyncDaemons(k, nil); err != nil {
			d.log.Error("ipvs sync daemon stop", "err", err)
		}
	}
	d.syncdManaged = false
	d.syncStatus.Store(nil)
}

// syncdKernelOpen returns the IPVS kernel handle, opening one for the
// sync daemons alone under -P (where no virtual servers are programmed).
func (d *Daemon) syncdKernelOpen() ipvs.Kernel {
	if d.kernel != nil {
		return d.kernel
	}
	if d.syncdKernel == nil {
		k, err := d.opts.Kernel()
		if err != nil {
			if d.syncdLastErr != err.Error() {
				d.syncdLastErr = err.Error()
				d.log.Error("ipvs sync daemon: IPVS unavailable", "err", err)
			}
			return nil
		}
		d.syncdKernel = k
	}
	return d.syncdKernel
}

// instanceState is the named VRRP instance's state, "" when not running.
func (d *Daemon) instanceState(name string) string {
	r := d.routerRef.Load()
	if r == nil {
		return ""
	}
	for _, st := range r.Status() {
		if st.Name == name {
			return st.State
		}
	}
	return ""
}

// vrrpChanged is the router's transition hook: it never blocks.
func (d *Daemon) vrrpChanged() {
	select {
	case d.vrrpChg <- struct{}{}:
	default:
	}
}
