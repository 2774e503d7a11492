#!/usr/bin/env bash
# Multi-line events on vs off, in one run: collector throughput (the collect bench,
# alternating on and off ROUNDS times so machine noise falls on both) and the live
# latency of a lone line (write -> entry out of the collector) with each setting.
# Usage: scripts/bench-multiline.sh   (env: ROUNDS=3 MIB=256 SAMPLES=300)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
MIB=${MIB:-256}
SAMPLES=${SAMPLES:-300}
cargo bench -p lookout-daemon --bench collect --no-run >/dev/null 2>&1
for r in $(seq 1 "$ROUNDS"); do
  for m in on off; do
    MULTILINE=$m RUNS=1 MIB=$MIB SAMPLES=0 cargo bench -q -p lookout-daemon --bench collect 2>/dev/null \
      | grep '^run' | sed "s/^run 1/round $r/"
  done
done
RUNS=1 MIB=16 SAMPLES=$SAMPLES cargo bench -q -p lookout-daemon --bench collect 2>/dev/null | grep '^lone'
