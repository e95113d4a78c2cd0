package realserver

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvsd/lvsd/internal/netif"
)

type host struct{}

// Host is the running machine: /proc/sys and rtnetlink.
func Host() System { return host{} }

func sysctlPath(name string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/"))
}

func (host) GetSysctl(name string) (string, error) {
	b, err := os.ReadFile(sysctlPath(name))
	return strings.TrimSpace(string(b)), err
}

func (host) SetSysctl(name, value string) error {
	return os.WriteFile(sysctlPath(name), []byte(value+"\n"), 0o644)
}

func (host) HasAddr(dev string, p netip.Prefix) (bool, error) { return netif.HasAddr(dev, p.Addr()) }
func (host) AddAddr(dev string, p netip.Prefix) error {
	return netif.AddVIP(netif.VIP{Prefix: p, Dev: dev})
}
func (host) DelAddr(dev string, p netip.Prefix) error {
	return netif.DelVIP(netif.VIP{Prefix: p, Dev: dev})
}
