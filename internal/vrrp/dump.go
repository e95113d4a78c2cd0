package vrrp

import (
	"sort"
	"strings"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/kadump"
	"github.com/lvsd/lvsd/internal/netif"
)

// Dump describes the instances and track scripts as keepalived's dumps
// (SIGUSR1, SIGUSR2, SIGJSON) and its exporter do. It runs on the router's
// goroutine, like Status; a stopped router returns nothing.
func (r *Router) Dump() ([]kadump.Instance, []kadump.Script) {
	type dump struct {
		insts   []kadump.Instance
		scripts []kadump.Script
	}
	ch := make(chan dump, 1)
	select {
	case r.events <- func() { i, s := r.dump(); ch <- dump{i, s} }:
	case <-r.done:
		return nil, nil
	}
	select {
	case d := <-ch:
		return d.insts, d.scripts
	case <-r.done:
		return nil, nil
	}
}

// kaAddress formats a VIP as keepalived's format_ipaddress does.
func kaAddress(v netif.VIP, set bool) string {
	a := v.Prefix.Addr().String()
	if v.Prefix.Bits() != v.Prefix.Addr().BitLen() {
		a = v.Prefix.String()
	}
	s := a + " dev " + v.Dev
	scope := v.Scope
	if scope == "" {
		scope = "global"
	}
	s += " scope " + scope
	if v.Label != "" {
		s += " label " + v.Label
	}
	if set {
		s += " set"
	}
	return s
}

func (r *Router) dump() ([]kadump.Instance, []kadump.Script) {
	var insts []kadump.Instance
	tracking := map[string][]kadump.TrackedBy{}
	for _, in := range r.insts {
		sp := in.spec
		st := kadump.StateOf(in.m.State().String())
		k := kadump.Instance{NotifyDeleted: in.cfg.NotifyDeleted,
			Name: in.cfg.Name, Interface: in.cfg.Interface, VRID: in.cfg.VRID, Version: sp.Version,
			State: st, WantState: st,
			BasePriority: sp.Priority, EffectivePriority: in.m.prio, MasterPriority: in.m.MasterPriority,
			LastTransition: in.m.LastTransition, AdvertInt: sp.Interval, MasterAdvertInt: in.m.masterInterval,
			GARPDelay: sp.GARP.Delay, GARPRepeat: sp.GARP.Repeat, GARPRefresh: sp.GARP.Refresh,
			GARPRefreshRepeat: sp.GARP.RefreshRepeat, GARPLowerPrioDelay: sp.GARP.LowerPrioDelay,
			GARPLowerPrioRepeat:  sp.GARP.LowerPrioRepeat,
			LowerPrioNoAdvert:    sp.LowerPrioNoAdvert,
			HigherPrioSendAdvert: sp.HigherPrioSendAdvert,
			NoPreempt:            !sp.Preempt, PreemptDelay: sp.PreemptDelay,
			StrictMode: in.cfg.StrictMode, Accept: in.cfg.Accept, DontTrackPrimary: sp.DontTrackPrimary,
			PromoteSecondaries: sp.PromoteSecondaries, SkipCheckAdvAddr: sp.SkipCheckAdvAddr,
			VIPSet:   st == kadump.StateMaster,
			AuthType: int(sp.AuthType),
		}
		if in.src.IsValid() {
			k.SrcIP = in.src.String()
		}
		if sp.Group.IsValid() {
			k.McastAddr = sp.Group.String()
		}
		if sp.AuthType != 0 {
			k.AuthData = strings.TrimRight(string(sp.AuthData[:]), "\x00")
		}
		excluded := map[string]bool{}
		for _, v := range in.cfg.ExcludedVIPs {
			excluded[v.Prefix.String()] = true
		}
		for _, v := range in.vips {
			if excluded[v.Prefix.String()] {
				k.ExcludedVIPs = append(k.ExcludedVIPs, kaAddress(v, k.VIPSet))
			} else {
				k.VIPs = append(k.VIPs, kaAddress(v, k.VIPSet))
			}
		}
		for _, t := range sp.TrackInterfaces {
			k.TrackInterfaces = append(k.TrackInterfaces, t.Name)
		}
		for _, t := range sp.TrackScripts {
			w := t.Weight
			if !t.HasWeight {
				if sc, ok := r.scripts[t.Name]; ok {
					w = sc.cfg.Weight
				}
			}
			cmd := ""
			if sc, ok := r.scripts[t.Name]; ok && sc.cfg.Script != nil {
				cmd = scriptText(sc.cfg.Script)
			}
			k.TrackScripts = append(k.TrackScripts, kadump.TrackedScript{Name: t.Name, Command: cmd, Weight: w})
			tracking[t.Name] = append(tracking[t.Name], kadump.TrackedBy{Instance: in.cfg.Name, Weight: w})
		}
		for _, n := range []struct {
			dst *string
			s   *config.Script
		}{{&k.Notify, in.cfg.Notify}, {&k.NotifyMaster, in.cfg.NotifyMaster}, {&k.NotifyBackup, in.cfg.NotifyBackup},
			{&k.NotifyFault, in.cfg.NotifyFault}, {&k.NotifyStop, in.cfg.NotifyStop}, {&k.NotifyDeletedScript, in.cfg.NotifyDeletedScript}} {
			if n.s != nil {
				*n.dst = scriptText(n.s)
			}
		}
		s := in.stats
		k.Stats = kadump.Stats{
			AdvertRcvd: s.AdvertsReceived, AdvertSent: s.AdvertsSent,
			BecomeMaster: s.BecomeMaster, ReleaseMaster: s.ReleaseMaster,
			PacketLenErr:      s.Drops[DropShort] + s.Drops[DropAddrCount],
			AdvertIntervalErr: s.Drops[DropInterval],
			IPTTLErr:          s.Drops[DropTTL],
			InvalidTypeRcvd:   s.Drops[DropType],
			AddrListErr:       s.Drops[DropAddrMismatch],
			AuthTypeMismatch:  s.Drops[DropAuthType],
			AuthFailure:       s.Drops[DropAuthPass],
			PriZeroRcvd:       s.PriorityZeroReceived, PriZeroSent: s.PriorityZeroSent,
		}
		insts = append(insts, k)
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].Name < insts[j].Name })
	var scripts []kadump.Script
	for name, sc := range r.scripts {
		ks := kadump.Script{Name: name, Interval: sc.cfg.Interval, Timeout: sc.cfg.Timeout, Weight: sc.cfg.Weight,
			Rise: sc.cfg.Rise, Fall: sc.cfg.Fall, Good: sc.ok && !sc.refused, Tracking: tracking[name]}
		if sc.cfg.Script != nil {
			ks.Command = scriptText(sc.cfg.Script)
		}
		scripts = append(scripts, ks)
	}
	sort.Slice(scripts, func(i, j int) bool { return scripts[i].Name < scripts[j].Name })
	return insts, scripts
}

// scriptText is a script's command line as keepalived's cmd_str shows it.
func scriptText(s *config.Script) string { return strings.Join(s.Argv, " ") }
