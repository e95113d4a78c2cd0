#!/usr/bin/env bash
# lab.sh: run a command against a real IPVS kernel.
#
#   scripts/lab.sh COMMAND [ARGS...]
#
# Boots Debian's kernel under qemu TCG (no KVM here) with a busybox
# initramfs that loads the IPVS, veth and 9p modules, shares the host's / read-only
# over 9p, chroots into it and runs COMMAND there in the current directory.
# /tmp, /var/tmp and /run inside are tmpfs; the checkout and the current
# directory stay visible when they live there (a clone under /tmp: they are
# bound back over the tmpfs). COMMAND's output is printed and its exit code
# is returned. The VM has no network card (-nic none): nothing leaves it.
# Several tests share a boot by being one COMMAND (a script or a test binary).
#
# LAB_OVERLAY=1 makes the VM's / a throwaway copy-on-write of the host's
# (overlayfs, its upper layer in the VM's memory): COMMAND may then install
# packages or write anywhere, and nothing of it reaches the host, whose /
# the VM only ever sees read-only.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${LAB_CACHE:-$here/.lab}
mem=${LAB_MEM:-2048}
timeout_s=${LAB_TIMEOUT:-900}
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

"$here/scripts/setup.sh"
kernel=$(ls /boot/vmlinuz-*-amd64 | sort -V | tail -1)
kver=${kernel#/boot/vmlinuz-}
mkdir -p "$cache"
initrd="$cache/initramfs-$kver.cpio.gz"

modules() {
  local m
  for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sh \
           ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh ip_vs_twos veth bridge \
           virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++'
}

if [ ! -s "$initrd" ] || [ "$0" -nt "$initrd" ]; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root"/{bin,proc,sys,dev,host,mods}
  cp /bin/busybox "$root/bin/busybox"
  : > "$root/modules.list"
  for ko in $(modules); do
    cp "$ko" "$root/mods/"
    basename "$ko" >> "$root/modules.list"
  done
  cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.list); do insmod /mods/$m 2>/dev/null; done
ip link set lo up
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose host /host || { echo "LVSD-LAB-EXIT=125"; poweroff -f; }
arg() { sed -n "s/.*lvsd\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
root=/host
if [ "$(arg overlay)" = 1 ]; then
  mkdir -p /ovl /newroot
  mount -t tmpfs -o mode=0755 ovl /ovl && mkdir -p /ovl/upper /ovl/work &&
    mount -t overlay overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work /newroot ||
    { echo "lab: overlay root failed"; echo "LVSD-LAB-EXIT=125"; poweroff -f; }
  root=/newroot
fi
# Directories under /tmp, /var/tmp or /run that must stay visible (the
# checkout, the working directory) are held aside, then put back over the
# tmpfs mounts.
keep=$(arg keep | tr , ' ')
i=0
for k in $keep; do mkdir -p /keep/$i; mount -o bind "/host$k" /keep/$i; i=$((i+1)); done
mount -t proc proc $root/proc
mount -t sysfs sys $root/sys
mount -t devtmpfs dev $root/dev
mkdir -p /dev/pts 2>/dev/null; mount -t devpts devpts $root/dev/pts 2>/dev/null
mount -t tmpfs tmp $root/tmp
mount -t tmpfs run $root/run
mount -t tmpfs varrun $root/var/tmp 2>/dev/null
i=0
for k in $keep; do mkdir -p "$root$k" && mount -o move /keep/$i "$root$k"; i=$((i+1)); done
script=$(arg run)
chroot $root /bin/bash "$script" </dev/null 2>&1
echo "LVSD-LAB-EXIT=$?"
poweroff -f
INIT
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
fi

# The command runs from a script on the (read-only) shared host file system.
runner=$(mktemp "$cache/run-XXXXXX.sh")
out=$(mktemp "$cache/out-XXXXXX.log")
trap 'rm -f "$runner" "$out"' EXIT
{
  echo "#!/bin/bash"
  echo "export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp CI=${CI:-} LVSD_IN_LAB=1 GOCACHE=/tmp/gocache"
  printf 'cd %q || exit 126\n' "$PWD"
  printf '%q ' "$@"; echo
} > "$runner"

# The checkout and the working directory, if under a tmpfs of the VM.
keep=""
for d in "$here" "$PWD"; do
  case "$d" in "$here"/*) continue ;; esac # inside the checkout: kept with it
  case "$d" in
  /tmp|/tmp/*|/var/tmp|/var/tmp/*|/run|/run/*)
    case "$d" in *[!A-Za-z0-9._/+-]*) echo "lab: cannot share $d with the VM (unusual characters)" >&2; exit 2 ;; esac
    case ",$keep," in *",$d,"*) ;; *) keep="${keep:+$keep,}$d" ;; esac ;;
  esac
done
extra=""
[ -n "$keep" ] && extra="$extra lvsd.keep=$keep"
[ "${LAB_OVERLAY:-}" = 1 ] && extra="$extra lvsd.overlay=1"

set +e
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -m "$mem" -smp 2 -nographic -no-reboot -nic none \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 clocksource=tsc tsc=reliable quiet loglevel=3 panic=-1 lvsd.run=$runner$extra" \
  -virtfs local,path=/,mount_tag=host,readonly=on,security_model=none,multidevs=remap \
  </dev/null 2>&1 | tr -d '\r' | sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e '/^SeaBIOS/d;/^Booting from ROM/d;/reboot: Power down/d' | tee "$out" | grep -v '^LVSD-LAB-EXIT='
set -e
code=$(sed -n 's/^LVSD-LAB-EXIT=\([0-9]*\).*/\1/p' "$out" | tail -1)
if [ -z "$code" ]; then
  echo "lab: the VM did not report an exit code (timeout ${timeout_s}s or boot failure)" >&2
  exit 124
fi
exit "$code"
