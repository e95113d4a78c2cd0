package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/netif"
)

// hostPlatform is the real machine.
type hostPlatform struct {
	ann        *netif.Announcer
	scriptUser string
}

// Host returns the Platform of the running machine. scriptUser is
// global_defs' script_user, used for scripts that name none.
func Host(scriptUser string) Platform {
	return &hostPlatform{ann: netif.NewAnnouncer(), scriptUser: scriptUser}
}

func (h *hostPlatform) Listen(dev string, v6 bool, group netip.Addr, ttl int) (Conn, error) {
	if v6 {
		return ListenIPv6(dev, group, ttl)
	}
	return ListenIPv4(dev, group, ttl)
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

// Run executes the script's argv directly, never through a shell, as its
// user (or script_user), and returns the exit code.
func (h *hostPlatform) Run(ctx context.Context, s *config.Script, args ...string) (int, error) {
	if s == nil || len(s.Argv) == 0 {
		return 0, errors.New("empty script")
	}
	argv := append(append([]string{}, s.Argv...), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	name := s.User
	if name == "" {
		name = h.scriptUser
	}
	if name != "" {
		cred, err := credential(name, s.Group)
		if err != nil {
			return -1, err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

func credential(userName, group string) (*syscall.Credential, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return nil, fmt.Errorf("script user %q: %w", userName, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("script group %q: %w", group, err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
