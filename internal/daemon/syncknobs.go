package daemon

import (
	"os"
	"strings"
)

// Sysctl reads and writes net.* settings of lvsd's network namespace.
type Sysctl interface {
	Read(name string) (string, bool)
	Write(name, value string) error
}

type procSysctl struct{}

func (procSysctl) Read(name string) (string, bool) { return readProcSys(name) }

func (procSysctl) Write(name, value string) error {
	return os.WriteFile("/proc/sys/"+strings.ReplaceAll(name, ".", "/"), []byte(value+"\n"), 0o644)
}

// syncKnob is a kernel setting of the sync daemons that hitless failback
// needs (docs/failover.md, "The kernel's side").
type syncKnob struct {
	name          string
	kernelDefault string // as the kernel boots, fields separated by spaces
	want          string
}

// syncKnobs make the surviving master's daemon re-announce every
// connection that sends anything at least every 10 s, instead of every
// 50th packet (every ~12 minutes for a line every 30 s), so that a
// returning director learns them within SyncFailbackHold. They act on the
// sender, so both directors need them. Only values still at the kernel's
// defaults are changed: an operator's own settings (sysctl.d) win.
var syncKnobs = []syncKnob{
	{"net.ipv4.vs.sync_threshold", "3 50", "3 0"},
	{"net.ipv4.vs.sync_refresh_period", "0", "10"},
}

// setSyncKnobs applies syncKnobs once per process, when lvsd first runs
// sync daemons, and returns the values in force.
func (d *Daemon) setSyncKnobs() {
	if d.syncKnobsSet {
		return
	}
	d.syncKnobsSet = true
	for _, k := range syncKnobs {
		v, ok := d.opts.Sysctl.Read(k.name)
		if !ok {
			d.log.Warn("ipvs sync: cannot read a sync setting; failback may reset connections", "sysctl", k.name)
			continue
		}
		v = strings.Join(strings.Fields(v), " ")
		if v != k.kernelDefault {
			d.log.Info("ipvs sync: keeping the operator's sync setting", "sysctl", k.name, "value", v, "lvsd_default", k.want)
			continue
		}
		if err := d.opts.Sysctl.Write(k.name, k.want); err != nil {
			d.log.Error("ipvs sync: cannot set a sync setting; failback may reset connections", "sysctl", k.name, "err", err)
			continue
		}
		d.log.Info("ipvs sync: set for hitless failback", "sysctl", k.name, "value", k.want, "was", v)
	}
}

// readSyncKnobs is what the status shows: the settings as the kernel has them.
func (d *Daemon) readSyncKnobs() map[string]string {
	out := map[string]string{}
	for _, k := range syncKnobs {
		if v, ok := d.opts.Sysctl.Read(k.name); ok {
			out[k.name] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}
