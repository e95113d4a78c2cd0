#!/usr/bin/env bash
# deb.sh: build the Debian package of lvsd into dist/ with dpkg-deb from a
# staged tree (docs/packaging.md says what it holds and why).
#
#   scripts/deb.sh            -> dist/lvsd_VERSION_ARCH.deb (path printed last)
#
# DIST=DIR writes it into DIR instead; DEB_COMPRESS=gzip|xz|none picks the
# archive compression (xz, Debian's default; the lab test uses gzip, which
# the emulated VM unpacks several times faster: same files).
# VERSION defaults to 0.1.0~gitYYYYMMDD.SHORTSHA of HEAD (a "+dirty" suffix
# when the tree has changes); LVSD_BIN uses an already built binary instead
# of building one (it must be a build of this tree). SOURCE_DATE_EPOCH (the
# commit's time by default) dates the man pages and the files, so two
# builds of one commit give the same package.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
go=${GO:-go}
arch=$(dpkg --print-architecture)
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH
if [ -z "${VERSION:-}" ]; then
  sha=$(git rev-parse --short=7 HEAD 2>/dev/null || echo 0000000)
  day=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d)
  VERSION="0.1.0~git$day.$sha"
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then VERSION="$VERSION+dirty"; fi
fi
case "$VERSION" in [0-9]*) ;; *) echo "deb.sh: VERSION must start with a digit: $VERSION" >&2; exit 2 ;; esac

stage=$(mktemp -d "${TMPDIR:-/tmp}/lvsd-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
doc="$root/usr/share/doc/lvsd"
install -d "$root/DEBIAN" "$root/usr/sbin" "$root/etc/default" "$root/lib/systemd/system" \
  "$root/usr/share/man/man8" "$doc/examples" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"

# The binary: a static PIE (no libc dependency; PIE as Debian builds Go
# programs, and lintian takes a PIE for what it is, not a static binary).
if [ -n "${LVSD_BIN:-}" ]; then
  install -m 0755 "$LVSD_BIN" "$root/usr/sbin/lvsd"
else
  CGO_ENABLED=0 "$go" build -buildmode=pie -trimpath -buildvcs=false -ldflags "-s -w -X main.version=$VERSION" -o "$root/usr/sbin/lvsd" ./cmd/lvsd
  chmod 0755 "$root/usr/sbin/lvsd"
fi
bin="$root/usr/sbin/lvsd"

# Man pages and completions come from the binary's own commands.
"$bin" man "$stage/man"
for p in "$stage"/man/*.8; do
  gzip -9n -c "$p" > "$root/usr/share/man/man8/$(basename "$p").gz"
done
"$bin" completion bash > "$root/usr/share/bash-completion/completions/lvsd"
"$bin" completion zsh > "$root/usr/share/zsh/vendor-completions/_lvsd"
"$bin" completion fish > "$root/usr/share/fish/vendor_completions.d/lvsd.fish"

install -m 0644 configs/lvsd.service configs/lvsd-realserver.service "$root/lib/systemd/system/"
install -m 0644 configs/lvsd.default "$root/etc/default/lvsd"

# Documentation and examples (gzip -9n over 4 KiB, as Debian policy 12.3 asks).
install -m 0644 README.md docs/*.md "$doc/"
install -m 0644 configs/keepalived.conf configs/demo.conf "$doc/examples/"
for d in configs/grafana configs/prometheus configs/bird-lvsd.conf configs/frr-lvsd.conf; do
  [ -e "$d" ] && cp -r "$d" "$doc/examples/"
done
find "$doc" -type f -size +4k ! -name '*.gz' ! -name copyright -exec gzip -9n {} +
install -m 0644 packaging/debian/copyright "$doc/copyright"
{
  printf 'lvsd (%s) unstable; urgency=medium\n\n' "$VERSION"
  printf '  * Package of %s built by scripts/deb.sh.\n\n' "$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  printf ' -- lvsd developers <lvsd@lists.example.org>  %s\n' "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.gz"

install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo /etc/default/lvsd > "$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"
size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" packaging/debian/control.in > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

# Reproducible: every file dated SOURCE_DATE_EPOCH, root-owned in the archive.
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
find "$root" -type d -exec chmod 0755 {} +
dist=${DIST:-dist}
mkdir -p "$dist"
out="$dist/lvsd_${VERSION}_${arch}.deb"
dpkg-deb --root-owner-group "-Z${DEB_COMPRESS:-xz}" --build "$root" "$out" >/dev/null
echo "$out"
