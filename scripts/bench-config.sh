#!/usr/bin/env bash
# Parse+validate cost: lvsd check-config against keepalived 2.2.7's -t on the
# same generated config (default 10,000 virtual servers x 4 TCP_CHECKed real
# servers, ~300,000 lines), in the same run, the two taken in turn RUNS
# times: wall time, CPU time (user+sys) and peak RSS of each (GNU time's %e,
# %U+%S, %M), their minimum and median over the runs, and the ratios
# lvsd/keepalived of the minima and of the medians. Issue 15's goals: RSS
# ratio <= 2, wall ratio <= 0.5. On a shared machine the minimum is the
# run least disturbed by others and CPU time is the work itself; the median
# says how typical that is.
#
#   scripts/bench-config.sh [N] [RUNS]
#
# keepalived -t also looks at interfaces, so it runs in a network namespace
# of this script's own (root needed for that; without root or keepalived,
# lvsd alone is measured).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
runs=${2:-7}
timebin=/usr/bin/time
[ -x "$timebin" ] || { echo "needs GNU time at $timebin (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d)
ns=lvsdbench$$
cleanup() { rm -rf "$work"; ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
go build -o "$work/lvsd" ./cmd/lvsd
go run ./scripts/genconfig -n "$n" > "$work/big.conf"
echo "config: $(wc -l < "$work/big.conf") lines, $(wc -c < "$work/big.conf") bytes, $n virtual servers x 4 TCP_CHECKed real servers"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# measure NAME CMD...: one run; appends "wall_s cpu_s rss_kb" to $work/res.NAME.
measure() {
	local name=$1; shift
	"$timebin" -o "$work/t" -f "%e %U %S %M" "$@" >/dev/null 2>&1 || true
	tail -n 1 "$work/t" | awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' >> "$work/res.$name"
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
# stat NAME COLUMN min|med: the minimum or the median (the lower middle
# one for an even count) of a column over the runs.
stat() {
	local col
	col=$(cut -d' ' -f"$2" "$work/res.$1" | sort -n)
	case $3 in
	min) head -n 1 <<<"$col" ;;
	med) sed -n "$(( ($(wc -l <<<"$col") + 1) / 2 ))p" <<<"$col" ;;
	esac
}
mb() { echo "scale=1; $1/1024" | bc; }
report() {
	printf '%-18s wall %5.2f / %5.2f s   CPU %5.2f / %5.2f s   peak RSS %5.1f / %5.1f MB   (min / median of %d)\n' "$2" \
		"$(stat "$1" 1 min)" "$(stat "$1" 1 med)" "$(stat "$1" 2 min)" "$(stat "$1" 2 med)" \
		"$(mb "$(stat "$1" 3 min)")" "$(mb "$(stat "$1" 3 med)")" "$runs"
}
report lvsd "lvsd check-config"
if $have_ka; then
	report keepalived "keepalived -t"
	ratio() { echo "scale=2; $(stat lvsd "$1" "$2") / $(stat keepalived "$1" "$2")" | bc; }
	echo "ratio lvsd/keepalived (min / median): wall $(ratio 1 min) / $(ratio 1 med), CPU $(ratio 2 min) / $(ratio 2 med), peak RSS $(ratio 3 min) / $(ratio 3 med)"
fi
