#!/usr/bin/env bash
# Parse+validate benchmark: lvsd check-config against keepalived -t on the same
# generated config (5,000 virtual servers x 4 real servers), same run.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
work=$(mktemp -d); trap 'rm -rf "$work"; ip netns del lvsdbench 2>/dev/null || true' EXIT
go build -o "$work/lvsd" ./cmd/lvsd
go run ./scripts/genconfig -n "$n" > "$work/big.conf"
echo "config: $(wc -l < "$work/big.conf") lines, $n virtual servers x 4 real servers"
time_cmd() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
best() { local b=999; for _ in 1 2 3; do t=$(time_cmd "$@"); b=$(echo "if ($t < $b) $t else $b" | bc); done; echo "$b"; }
l=$(best "$work/lvsd" check-config -f "$work/big.conf")
echo "lvsd check-config:  ${l}s (best of 3)"
if command -v keepalived >/dev/null; then
  # keepalived -t also checks interfaces; a namespace keeps it off the host.
  ip netns add lvsdbench
  k=$(best ip netns exec lvsdbench keepalived -t -f "$work/big.conf")
  echo "keepalived -t:      ${k}s (best of 3)"
  echo "ratio lvsd/keepalived: $(echo "scale=3; $l / $k" | bc)"
fi
