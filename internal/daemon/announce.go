package daemon

import (
	"net/netip"
	"sync"
	"time"

	"github.com/lvsd/lvsd/internal/announce"
	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/ipvs"
)

// Announcing virtual addresses to a BGP speaker for active-active
// directors behind ECMP (internal/announce, docs/scale-out.md).
//
// The daemon calls, in its Run goroutine:
//   - reconcileIPVSAnnounced(why) wherever it called reconcileIPVS(why):
//     addresses whose service lost quorum or left the configuration are
//     withdrawn before IPVS changes, newly programmed ones announced after;
//   - withdrawAnnouncements() first thing in stop(), and
//     drainAnnouncements(withdrawn) just before the IPVS services are
//     removed: the router moves the flows to the other directors while
//     this one still forwards what arrives.
//
// A configuration without lvsd_announce never touches the routing table.

// annState is the daemon's announcer: created when a configuration first
// asks for announcements (or names lvsd_announce_* settings), replaced
// when a reload changes the table or protocol.
type annState struct {
	a         *announce.Announcer
	settings  config.Announce
	sloppySet bool
}

// announcers holds each Daemon's annState (a field of Daemon once the
// daemon wires this file in; a map keeps daemon.go untouched meanwhile).
var announcers sync.Map // *Daemon -> *annState

// newAnnounceOS is the kernel seam; tests replace it.
var newAnnounceOS = func(table, protocol int) announce.OS {
	return announce.Netlink{Table: table, Protocol: protocol}
}

func (d *Daemon) annState() *annState {
	if v, ok := announcers.Load(d); ok {
		return v.(*annState)
	}
	return nil
}

// reconcileIPVSAnnounced is reconcileIPVS between the two announcement
// passes.
func (d *Daemon) reconcileIPVSAnnounced(why reconcileReason) {
	d.reconcileAnnouncements(why, true)
	d.reconcileIPVS(why)
	d.reconcileAnnouncements(why, false)
}

// reconcileAnnouncements sets the announcement routes from the
// configuration, the IPVS table last programmed and the checkers' health.
// withdrawOnly (the pass before IPVS changes) only removes routes: an
// address is announced only once its service is in the kernel.
func (d *Daemon) reconcileAnnouncements(why reconcileReason, withdrawOnly bool) {
	if d.opts.VRRPOnly || d.cfg == nil || d.stopping != nil && d.stopping.Err() != nil {
		return
	}
	st := d.annState()
	wanted := d.cfg.Announcing() || d.cfg.Global.Announce != nil
	if st == nil && !wanted {
		return // never announced: the routing table is not touched
	}
	settings := d.cfg.Global.Announce.Effective()
	if st == nil || st.settings.Table != settings.Table || st.settings.Protocol != settings.Protocol {
		if st != nil {
			// A reload moved the routes: withdraw them from the old table.
			if _, err := st.a.WithdrawAll(); err != nil {
				d.log.Error("bgp announcement: withdrawing from the previous table", "table", st.settings.Table, "protocol", st.settings.Protocol, "err", err)
			}
		}
		st = &annState{a: announce.New(newAnnounceOS(settings.Table, settings.Protocol), d.log), settings: settings}
		if _, err := st.a.Adopt(); err != nil {
			d.log.Error("bgp announcement: cannot read the routes", "table", settings.Table, "protocol", settings.Protocol, "err", err)
		}
		announcers.Store(d, st)
		d.log.Info("bgp announcement", "table", settings.Table, "protocol", settings.Protocol, "drain_time", settings.DrainTime)
	}
	st.settings = settings
	if d.cfg.Announcing() && !st.sloppySet {
		st.sloppySet = true
		d.setSloppyTCP()
	}
	var desired []netip.Prefix
	switch {
	case d.syncer == nil:
		// No IPVS: nothing is programmed, nothing is announced.
	case d.syncer.Programmed() == nil && !withdrawOnly:
		// The reconcile failed: what the kernel holds is unknown; the
		// routes stay as they are until one succeeds.
		return
	default:
		var health ipvs.Health
		if d.checks != nil {
			health = d.checks.Snapshot()
		}
		programmed := d.syncer.Programmed()
		if programmed == nil {
			// Before the first reconcile (a restart adopting routes) or
			// after a failed one: judge by health and configuration
			// alone, assuming the table is what they ask for, so that a
			// lost quorum or a service gone from the configuration is
			// still withdrawn and a healthy adopted route stays.
			programmed = ipvs.DesiredTable(d.cfg, health)
		}
		desired = announce.Desired(d.cfg, programmed, health)
	}
	if withdrawOnly {
		keep := map[netip.Prefix]bool{}
		for _, p := range desired {
			keep[p] = true
		}
		desired = desired[:0]
		for _, p := range st.a.Announced() {
			if keep[p] {
				desired = append(desired, p)
			}
		}
	}
	if _, err := st.a.Set(desired); err != nil {
		d.log.Error("bgp announcement", "why", why, "err", err)
	}
}

// setSloppyTCP turns net.ipv4.vs.sloppy_tcp on: a director the router
// moves a flow to then accepts its mid-connection packets (no SYN) and
// schedules them; mh picks the real server the flow had.
func (d *Daemon) setSloppyTCP() {
	const name = "net.ipv4.vs.sloppy_tcp"
	v, ok := d.opts.Sysctl.Read(name)
	if ok && v == "1" {
		return
	}
	if err := d.opts.Sysctl.Write(name, "1"); err != nil {
		d.log.Error("bgp announcement: cannot set sloppy_tcp; flows moved between directors are reset", "sysctl", name, "err", err)
		return
	}
	d.log.Info("bgp announcement: set for flows moving between directors", "sysctl", name, "value", "1")
}

// withdrawAnnouncements removes every announcement route, first thing at
// stop. It returns when the withdraw happened and whether any route was
// announced (nothing to drain otherwise).
func (d *Daemon) withdrawAnnouncements() (time.Time, bool) {
	st := d.annState()
	if st == nil {
		return time.Time{}, false
	}
	had := len(st.a.Announced()) > 0
	ch, err := st.a.WithdrawAll()
	if err != nil {
		d.log.Error("bgp announcement: withdraw at stop", "err", err)
	}
	if len(ch) > 0 {
		had = true
	}
	return time.Now(), had
}

// drainAnnouncements waits, after a withdraw at stop, until drain_time has
// passed since it, so that the router has moved the flows to the other
// directors before the IPVS services go. keep (lvsd stop --keep-ipvs)
// leaves the services, so nothing is waited for.
func (d *Daemon) drainAnnouncements(at time.Time, withdrew, keep bool) {
	st := d.annState()
	if st == nil {
		return
	}
	defer announcers.Delete(d)
	if !withdrew || keep {
		return
	}
	if wait := time.Until(at.Add(st.settings.DrainTime)); wait > 0 {
		d.log.Info("bgp announcement: draining before the IPVS services are removed", "wait", wait.Round(time.Millisecond))
		time.Sleep(wait)
	}
}
