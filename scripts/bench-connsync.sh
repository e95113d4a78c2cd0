#!/usr/bin/env bash
# Hitless failover and failback with connection sync, lvsd and keepalived
# 2.2.7 in the same VM boot (TestVMConnSync): 500 + 100 persistent
# long-lived connections, a line every INTERVAL (default 30 s, the
# telematics heartbeat; make test runs the 1 s variant). Prints the RESULT
# lines: per event, how long the address took to move, what the director
# taking it had learnt, failures, and the p50/p99/max stall.
#
#   scripts/bench-connsync.sh [INTERVAL]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
interval=${1:-30s}
cd "$here"
mkdir -p .lab/bin
go test -c -o .lab/bin/bench-connsync.test ./cmd/lvsd
cd cmd/lvsd
LAB_TIMEOUT=${LAB_TIMEOUT:-2400} ../../scripts/lab.sh ../../.lab/bin/bench-connsync.test \
  -test.run '^TestVMConnSync$' -test.v -test.timeout 35m -connsync.interval "$interval" |
  grep -E 'RESULT|^(--- |ok|FAIL|PASS)'
