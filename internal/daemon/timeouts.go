package daemon

import "github.com/lvsd/lvsd/internal/ipvs"

// applyLVSTimeouts sets lvs_timeouts on the kernel, as keepalived 2.2.7's
// checker does at start and at each reload (check_daemon.c): the timeouts
// not given are the kernel's from before the first change, and a
// configuration without lvs_timeouts puts back all three (ipvs.TimeoutKeeper).
// Where IPVS is not in use (VRRP only, no kernel) nothing is set, as
// keepalived's VRRP-only process sets nothing.
func (d *Daemon) applyLVSTimeouts() {
	if d.kernel == nil {
		return
	}
	t := d.cfg.Global.LVSTimeouts
	want := ipvs.Timeouts{TCP: uint32(t.TCP), TCPFin: uint32(t.TCPFin), UDP: uint32(t.UDP)}
	if err := d.timeouts.Apply(d.kernel, want); err != nil {
		d.log.Error("ipvs timeouts (lvs_timeouts)", "err", err)
		return
	}
	if t.Set() {
		got, err := d.kernel.Timeouts()
		if err == nil {
			d.log.Info("ipvs timeouts", "tcp", got.TCP, "tcpfin", got.TCPFin, "udp", got.UDP)
		}
	}
}

// restoreLVSTimeouts puts back, at stop, the kernel's timeouts from before
// lvs_timeouts changed them (keepalived's ipvs_stop), unless the table is
// kept for the next lvsd (--keep-ipvs-on-stop): its connections then keep
// the timeouts they are configured for.
func (d *Daemon) restoreLVSTimeouts() {
	if d.kernel == nil || d.opts.KeepIPVSOnStop {
		return
	}
	if err := d.timeouts.Restore(d.kernel); err != nil {
		d.log.Error("ipvs timeouts: restoring the kernel's", "err", err)
	}
}
