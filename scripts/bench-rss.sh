#!/usr/bin/env bash
# `make bench-rss`: peak and at-rest RSS of a real release lookoutd fed big lines.
# For each scenario COUNTxSIZE (default "12000x64K 2000x1M"), starts lookoutd on an
# empty log dir, appends COUNT CRI lines of SIZE bytes to one container's log, waits
# until every line is indexed, lets it settle SETTLE seconds (default 5), and prints
# VmHWM (peak) and VmRSS (at rest) from /proc/<pid>/status as a markdown row.
# LOOKOUTD=path runs another build (e.g. an older commit's) instead of building.
# Extra lookoutd flags: LOOKOUTD_ARGS="--live-ring-bytes 32M".
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${LOOKOUTD:-}" ]]; then
  cargo build --release --locked --bin lookoutd
  tdir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  LOOKOUTD="$tdir/release/lookoutd"
fi
SCENARIOS=${SCENARIOS:-"12000x64K 2000x1M"}
SETTLE=${SETTLE:-5}
PORT=${METRICS_PORT:-17795}
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

status() { awk -v k="$2:" '$1==k {printf "%.1f", $2/1024}' "/proc/$1/status"; }
metric() { curl -s --max-time 5 "127.0.0.1:$PORT/metrics" | awk -v k="$1" '$1==k {print $2}'; }

echo "| lines | line size | peak RSS (VmHWM) MiB | at rest (VmRSS) MiB | indexed | seconds |"
echo "|---:|---:|---:|---:|---:|---:|"
for sc in $SCENARIOS; do
  count=${sc%x*}
  size=${sc#*x}
  bytes=$(numfmt --from=iec "$size")
  rm -rf "$tmp/logs" "$tmp/data"
  dir="$tmp/logs/pods/bench_big_uid-1/app"
  mkdir -p "$dir"
  # shellcheck disable=SC2086
  "$LOOKOUTD" --log-dir "$tmp/logs" --data-dir "$tmp/data" --node bench \
    --listen 127.0.0.1:0 --metrics-listen "127.0.0.1:$PORT" ${LOOKOUTD_ARGS:-} 2>"$tmp/err.log" &
  pid=$!
  for _ in $(seq 1 100); do curl -s --max-time 1 "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  start=$(date +%s.%N)
  python3 - "$dir/0.log" "$count" "$bytes" <<'EOF'
import sys
path, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "ab") as f:
    for i in range(count):
        head = b"2026-12-03T00:00:00.%09dZ stdout F %07d " % (i, i)
        f.write(head + b"x" * (size - 8) + b"\n")
EOF
  docs=0
  for _ in $(seq 1 3000); do
    docs=$(metric lookout_index_docs); docs=${docs:-0}
    [[ "${docs%.*}" -ge "$count" ]] && break
    sleep 0.2
  done
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')
  sleep "$SETTLE"
  hwm=$(status "$pid" VmHWM)
  rss=$(status "$pid" VmRSS)
  kill -TERM "$pid"; wait "$pid" || true; pid=
  printf "| %s | %s | %s | %s | %s | %.1f |\n" "$count" "$size" "$hwm" "$rss" "$docs" "$secs"
done
