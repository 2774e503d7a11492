#!/usr/bin/env bash
# `make bench-scale`: memory and scale of a real lookoutd (daemon/benches/scale.rs).
# FILES (default 5000), RATE (10000 lines/s), SECS (20), RUNS (3), PROBES (20),
# IDLE_FILES (1000), LOAD_PODS (100), FALLBACK (0: off; N runs the scale test again
# with LOOKOUT_MAX_WATCHES=N so the collector polls what it cannot watch), ONLY
# (all | memory | scale). Smoke run in well under a minute:
#   FILES=200 RATE=2000 SECS=5 RUNS=1 PROBES=5 IDLE_FILES=100 LOAD_PODS=10 SETTLE=1 ./scripts/bench-scale.sh
# PROFILE=1 instead runs lookoutd under callgrind while it indexes a pre-written tree
# (PROFILE_LINES, default 200000, over LOAD_PODS pods) and prints its top inclusive costs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${PROFILE:-0}" == 1 ]]; then
  cargo build --release --bin lookoutd --bin loadgen
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  lines=${PROFILE_LINES:-200000}
  ./target/release/loadgen --root "$tmp/logs" --pods "${LOAD_PODS:-100}" --rate 1000000 --lines "$lines" >/dev/null
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    ./target/release/lookoutd --log-dir "$tmp/logs" --data-dir "$tmp/data" \
      --listen 127.0.0.1:0 --metrics-listen "127.0.0.1:${METRICS_PORT:-17791}" 2>"$tmp/err.log" &
  pid=$!
  # Wait until every line is indexed, then stop it (SIGTERM: final commit).
  for _ in $(seq 1 1200); do
    docs=$(curl -s "127.0.0.1:${METRICS_PORT:-17791}/metrics" | awk '/^lookout_index_docs /{print $2}') || true
    [[ "${docs:-0}" -ge "$lines" ]] && break
    sleep 1
  done
  kill -TERM "$pid"; wait "$pid" || true
  echo "indexed ${docs:-?} of $lines lines under callgrind"
  callgrind_annotate --inclusive=yes "$tmp/cg.out" 2>/dev/null | head -60
  exit 0
fi
cargo bench -p lookout-daemon --bench scale
