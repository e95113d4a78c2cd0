package vrrp

import (
	"context"
	"net/netip"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/netif"
	"github.com/lvsd/lvsd/internal/script"
)

// hostPlatform is the real machine.
type hostPlatform struct {
	ann     *netif.Announcer
	scripts *script.Runner
}

// NewHost returns the Platform of the running machine; its scripts run
// through scripts, whose settings (script_user, enable_script_security)
// the daemon updates at each reload.
func NewHost(scripts *script.Runner) Platform {
	return &hostPlatform{ann: netif.NewAnnouncer(), scripts: scripts}
}

func (h *hostPlatform) Listen(dev string, v6 bool, group netip.Addr, ttl int) (Conn, error) {
	if v6 {
		return ListenIPv6(dev, group, ttl)
	}
	return ListenIPv4(dev, group, ttl)
}
func (h *hostPlatform) ListenAH(dev string, group netip.Addr, ttl int, keys *AHKeys) (Conn, error) {
	return ListenAH(dev, group, ttl, keys)
}
func (h *hostPlatform) AddVIP(v netif.VIP) error             { return netif.AddVIP(v) }
func (h *hostPlatform) DelVIP(v netif.VIP) error             { return netif.DelVIP(v) }
func (h *hostPlatform) GARP(dev string, ip netip.Addr) error { return h.ann.GARP(dev, ip) }
func (h *hostPlatform) PrimaryAddr(dev string, v6 bool) (netip.Addr, error) {
	return netif.PrimaryAddr(dev, v6)
}
func (h *hostPlatform) LinkUp(dev string) (bool, error) { return netif.LinkUp(dev) }
func (h *hostPlatform) WatchLinks(done <-chan struct{}, fn func(string)) error {
	return netif.WatchLinks(done, fn, nil)
}
func (h *hostPlatform) WatchAddrDeletions(done <-chan struct{}, fn func(string, netip.Addr)) error {
	return netif.WatchAddrDeletions(done, fn, nil)
}
func (h *hostPlatform) HasAddr(dev string, a netip.Addr) (bool, error) { return netif.HasAddr(dev, a) }

// Run executes the script (see script.Runner.Run): directly, never
// through a shell, as its user after keepalived's security rules, in its
// own process group, killed as a whole when ctx ends.
func (h *hostPlatform) Run(ctx context.Context, s *config.Script, args ...string) (int, error) {
	return h.scripts.Run(ctx, s, args...)
}
