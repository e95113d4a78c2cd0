package daemon

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/lvsd/lvsd/internal/kadump"
)

// SigJSON is keepalived's SIGJSON, SIGRTMIN+2 (34+2 under glibc, whose
// SIGRTMIN keepalived's `kill -s $(($(kill -l RTMIN)+2))` users compute).
const SigJSON = syscall.Signal(36)

// DumpSignals are the signals that make keepalived write its dumps:
// SIGUSR1 the data file, SIGUSR2 the stats, SIGJSON the JSON.
var DumpSignals = []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2, SigJSON}

// dumpFiles names each dump kind's file, as keepalived names them.
var dumpFiles = map[string]string{"data": "keepalived.data", "stats": "keepalived.stats", "json": "keepalived.json"}

func dumpKindOf(sig os.Signal) string {
	switch sig {
	case syscall.SIGUSR1:
		return "data"
	case syscall.SIGUSR2:
		return "stats"
	case SigJSON:
		return "json"
	}
	return ""
}

// KeepalivedDump is the VRRP state as keepalived's dumps and its exporter
// describe it (metrics.KeepalivedSource).
func (d *Daemon) KeepalivedDump() ([]kadump.Instance, []kadump.Script) {
	if r := d.routerRef.Load(); r != nil {
		return r.Dump()
	}
	return nil, nil
}

// RenderDump renders one of keepalived's dumps: "data", "stats" or "json".
func (d *Daemon) RenderDump(kind string) ([]byte, error) {
	insts, scripts := d.KeepalivedDump()
	var b bytes.Buffer
	var err error
	switch kind {
	case "data":
		err = kadump.WriteData(&b, insts, scripts)
	case "stats":
		err = kadump.WriteStats(&b, insts)
	case "json":
		err = kadump.WriteJSON(&b, insts)
	default:
		return nil, fmt.Errorf("unknown dump %q (data, stats or json)", kind)
	}
	return b.Bytes(), err
}

// writeDump writes a dump into the state directory, never /tmp (where
// keepalived's CVE-2018-19044..19046 came from): root's own 0700
// directory, a private temporary file renamed over the old dump, so a
// reader sees a whole dump and nobody can plant a link in its place.
func (d *Daemon) writeDump(kind string) {
	data, err := d.RenderDump(kind)
	if err != nil {
		d.log.Error("writing keepalived dump", "dump", kind, "err", err)
		return
	}
	path := filepath.Join(d.opts.StateDir, dumpFiles[kind])
	f, err := os.CreateTemp(d.opts.StateDir, "."+dumpFiles[kind]+".*")
	if err == nil {
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), path)
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}
	if err != nil {
		d.log.Error("writing keepalived dump", "file", path, "err", err)
		return
	}
	d.log.Info("keepalived dump written", "file", path)
}
