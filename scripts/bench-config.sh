#!/usr/bin/env bash
# Parse+validate cost: lvsd check-config against keepalived 2.2.7's -t on the
# same generated config (default 10,000 virtual servers x 4 TCP_CHECKed real
# servers, ~300,000 lines), in the same run: wall time and peak RSS of each
# (GNU time's %e and %M), the best of RUNS runs each, taken in turn, and the
# ratios lvsd/keepalived. Issue 15's goal: RSS ratio <= 2, wall ratio <= 0.5.
#
#   scripts/bench-config.sh [N] [RUNS]
#
# keepalived -t also looks at interfaces, so it runs in a network namespace
# of this script's own (root needed for that; without root or keepalived,
# lvsd alone is measured).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
runs=${2:-5}
timebin=/usr/bin/time
[ -x "$timebin" ] || { echo "needs GNU time at $timebin (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d)
ns=lvsdbench$$
cleanup() { rm -rf "$work"; ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
go build -o "$work/lvsd" ./cmd/lvsd
go run ./scripts/genconfig -n "$n" > "$work/big.conf"
echo "config: $(wc -l < "$work/big.conf") lines, $(wc -c < "$work/big.conf") bytes, $n virtual servers x 4 TCP_CHECKed real servers"

# measure NAME CMD...: one run; appends "wall_s rss_kb" to $work/NAME.
measure() {
	local name=$1; shift
	"$timebin" -o "$work/t" -f "%e %M" "$@" >/dev/null 2>&1 || true
	tail -n 1 "$work/t" >> "$work/res.$name"
}

have_ka=false
if command -v keepalived >/dev/null && [ "$(id -u)" = 0 ] && ip netns add "$ns" 2>/dev/null; then
	have_ka=true
	(keepalived --version 2>&1 || true) | head -n 1
fi
for _ in $(seq "$runs"); do
	measure lvsd "$work/lvsd" check-config "$work/big.conf"
	if $have_ka; then
		measure keepalived ip netns exec "$ns" keepalived -t -f "$work/big.conf"
	fi
done
# best NAME: the lowest wall time and the lowest peak RSS over the runs.
best() { sort -n -k1,1 "$work/res.$1" | head -n 1 | cut -d' ' -f1; }
bestrss() { sort -n -k2,2 "$work/res.$1" | head -n 1 | cut -d' ' -f2; }
maxrss() { sort -n -k2,2 "$work/res.$1" | tail -n 1 | cut -d' ' -f2; }
lw=$(best lvsd); lr=$(bestrss lvsd); lm=$(maxrss lvsd)
printf 'lvsd check-config:  %6.2f s  %6.1f MB peak RSS (%.1f MB the highest)   best of %d\n' \
	"$lw" "$(echo "scale=1; $lr/1024" | bc)" "$(echo "scale=1; $lm/1024" | bc)" "$runs"
if $have_ka; then
	kw=$(best keepalived); kr=$(bestrss keepalived); km=$(maxrss keepalived)
	printf 'keepalived -t:      %6.2f s  %6.1f MB peak RSS (%.1f MB the highest)   best of %d\n' \
		"$kw" "$(echo "scale=1; $kr/1024" | bc)" "$(echo "scale=1; $km/1024" | bc)" "$runs"
	echo "ratio lvsd/keepalived: wall $(echo "scale=2; $lw / $kw" | bc), peak RSS $(echo "scale=2; $lr / $kr" | bc) (highest to highest $(echo "scale=2; $lm / $km" | bc))"
fi
