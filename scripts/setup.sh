#!/usr/bin/env bash
# Installs what the tests, the lab and the demo need on a fresh Debian 12
# machine of this kind. Idempotent: does nothing when everything is present.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have keepalived || need+=(keepalived)
have ipvsadm || need+=(ipvsadm)
have ip || need+=(iproute2)
have bc || need+=(bc)
[ -x /usr/bin/time ] || need+=(time) # scripts/bench-config.sh: peak RSS
have busybox || [ -x /bin/busybox ] || need+=(busybox-static)
have qemu-system-x86_64 || need+=(qemu-system-x86)
have tshark || need+=(tshark)
have systemd-analyze || need+=(systemd)
have promtool || need+=(prometheus) # promtool check metrics
have dnsmasq || need+=(dnsmasq-base) # DNS_CHECK's real DNS server
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd) # SMTP alerts' real SMTP server
have bird || need+=(bird2) # the ECMP lab's BGP speakers
[ -x /usr/lib/frr/bfdd ] || need+=(frr) # BFD peer
have lintian || need+=(lintian) # make deb's checks
have ping || need+=(iputils-ping)
ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1 || need+=(linux-image-amd64)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  # keepalived's package starts the service; a policy keeps it (and any
  # other daemon) from starting on this machine.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
