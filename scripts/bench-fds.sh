#!/usr/bin/env bash
# Fds held by `lookoutd --stdout` following N quiet files (docs/BENCHMARKS.md, "File
# descriptors"): once every line is out, and again after --idle-close has passed.
# Usage: scripts/bench-fds.sh [files] [idle-close] [lookoutd binary]
set -euo pipefail
n=${1:-2000}
idle=${2:-2s}
bin=${3:-target/release/lookoutd}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/logs" "$tmp/data"
for i in $(seq 1 "$n"); do echo "file $i line" >"$tmp/logs/f$i.log"; done
"$bin" --stdout --node bench --log-dir "$tmp/logs" --data-dir "$tmp/data" \
    --idle-close "$idle" >"$tmp/out" 2>"$tmp/err" &
pid=$!
while [ "$(wc -l <"$tmp/out")" -lt "$n" ]; do sleep 0.1; done
echo "files=$n idle_close=$idle fds_when_all_read=$(ls /proc/$pid/fd | wc -l)"
sleep "$(( ${idle%s} + 2 ))"
echo "files=$n idle_close=$idle fds_after_idle=$(ls /proc/$pid/fd | wc -l)"
