// Package realserver prepares a Linux host to be a real server behind an
// LVS director in DR (or TUN) mode: the VIPs on the loopback as host
// routes, and ARP settings so that the host never answers ARP for them.
// It records what it changed so that Down undoes exactly that.
package realserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// System is the host: sysctls and addresses. Host() is the real one.
type System interface {
	GetSysctl(name string) (string, error)
	SetSysctl(name, value string) error
	HasAddr(dev string, p netip.Prefix) (bool, error)
	AddAddr(dev string, p netip.Prefix) error
	DelAddr(dev string, p netip.Prefix) error
}

// Wanted are the sysctls a DR real server needs: reply to ARP only for
// addresses on the receiving interface, and never announce the VIP as an
// ARP source.
var Wanted = []struct{ Name, Value string }{
	{"net.ipv4.conf.all.arp_ignore", "1"},
	{"net.ipv4.conf.all.arp_announce", "2"},
	{"net.ipv4.conf.lo.arp_ignore", "1"},
	{"net.ipv4.conf.lo.arp_announce", "2"},
}

// State is what Up changed, kept in the state file.
type State struct {
	Dev string `json:"dev"`
	// Sysctls maps a sysctl to the value it had before Up changed it.
	Sysctls map[string]string `json:"sysctls"`
	// Added are the VIPs Up added (not those that were already there).
	Added []netip.Prefix `json:"added"`
}

// Manager applies and undoes the real-server setup.
type Manager struct {
	Sys       System
	StateFile string
	Dev       string // "lo" unless told otherwise
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

func (m *Manager) load() (*State, error) {
	st := &State{Dev: m.Dev, Sysctls: map[string]string{}}
	b, err := os.ReadFile(m.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%s: %w", m.StateFile, err)
	}
	if st.Sysctls == nil {
		st.Sysctls = map[string]string{}
	}
	return st, nil
}

func (m *Manager) save(st *State) error {
	if len(st.Sysctls) == 0 && len(st.Added) == 0 {
		err := os.Remove(m.StateFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := os.MkdirAll(filepath.Dir(m.StateFile), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := m.StateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, m.StateFile)
}

// Up puts the VIPs on the device and sets the ARP sysctls. It is
// idempotent: what is already right is left alone and not recorded.
func (m *Manager) Up(vips []netip.Addr) ([]string, error) {
	st, err := m.load()
	if err != nil {
		return nil, err
	}
	var did []string
	defer func() { _ = m.save(st) }()
	for _, w := range Wanted {
		cur, err := m.Sys.GetSysctl(w.Name)
		if err != nil {
			return did, err
		}
		if cur == w.Value {
			continue
		}
		if err := m.Sys.SetSysctl(w.Name, w.Value); err != nil {
			return did, err
		}
		if _, recorded := st.Sysctls[w.Name]; !recorded {
			st.Sysctls[w.Name] = cur
		}
		did = append(did, fmt.Sprintf("%s: %s -> %s", w.Name, cur, w.Value))
	}
	for _, v := range vips {
		p := hostPrefix(v)
		has, err := m.Sys.HasAddr(m.Dev, p)
		if err != nil {
			return did, err
		}
		if has {
			continue
		}
		if err := m.Sys.AddAddr(m.Dev, p); err != nil {
			return did, err
		}
		st.Added = append(st.Added, p)
		did = append(did, fmt.Sprintf("added %s to %s", p, m.Dev))
	}
	return did, nil
}

// Down removes the VIPs Up added and restores the sysctls it changed;
// it touches nothing else.
func (m *Manager) Down() ([]string, error) {
	st, err := m.load()
	if err != nil {
		return nil, err
	}
	var did []string
	var errs []error
	for _, p := range st.Added {
		if err := m.Sys.DelAddr(st.Dev, p); err != nil {
			errs = append(errs, err)
			continue
		}
		did = append(did, fmt.Sprintf("removed %s from %s", p, st.Dev))
	}
	// Restore in reverse order of Wanted.
	for i := len(Wanted) - 1; i >= 0; i-- {
		name := Wanted[i].Name
		prev, ok := st.Sysctls[name]
		if !ok {
			continue
		}
		if err := m.Sys.SetSysctl(name, prev); err != nil {
			errs = append(errs, err)
			continue
		}
		did = append(did, fmt.Sprintf("%s: restored %s", name, prev))
		delete(st.Sysctls, name)
	}
	if len(errs) == 0 {
		st.Added = nil
	}
	if err := m.save(st); err != nil {
		errs = append(errs, err)
	}
	return did, errors.Join(errs...)
}

// Report is Status's answer.
type Report struct {
	Sysctls map[string]string `json:"sysctls"`
	VIPs    map[string]bool   `json:"vips"`
	Managed *State            `json:"managed,omitempty"`
	Ready   bool              `json:"ready"`
}

// Status reads the current setup; Ready means every wanted sysctl and VIP
// is in place.
func (m *Manager) Status(vips []netip.Addr) (Report, error) {
	r := Report{Sysctls: map[string]string{}, VIPs: map[string]bool{}, Ready: true}
	for _, w := range Wanted {
		cur, err := m.Sys.GetSysctl(w.Name)
		if err != nil {
			return r, err
		}
		r.Sysctls[w.Name] = cur
		if cur != w.Value {
			r.Ready = false
		}
	}
	st, err := m.load()
	if err != nil {
		return r, err
	}
	if len(st.Added) > 0 || len(st.Sysctls) > 0 {
		r.Managed = st
	}
	if len(vips) == 0 && r.Managed != nil {
		for _, p := range st.Added {
			vips = append(vips, p.Addr())
		}
	}
	for _, v := range vips {
		has, err := m.Sys.HasAddr(m.Dev, hostPrefix(v))
		if err != nil {
			return r, err
		}
		r.VIPs[v.String()] = has
		if !has {
			r.Ready = false
		}
	}
	return r, nil
}

// ParseVIPs accepts addresses, comma or space separated.
func ParseVIPs(args []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range args {
		for _, f := range strings.FieldsFunc(a, func(r rune) bool { return r == ',' || r == ' ' }) {
			f = strings.TrimSuffix(strings.TrimSuffix(f, "/32"), "/128")
			ip, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("VIP %q: %w", f, err)
			}
			if !slices.Contains(out, ip) {
				out = append(out, ip)
			}
		}
	}
	return out, nil
}
