package vrrp

import "github.com/lvsd/lvsd/internal/netif"

func (h *hostPlatform) LinkIndex(dev string) (int, error) { return netif.LinkIndex(dev) }
