#!/usr/bin/env bash
# `make demo`: lookoutd on a simulated node (temp dir), and the dashboard on top.
# Quitting the dashboard stops the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin lookoutd --bin lookout
bin=target/release
data=$(mktemp -d -t lookout-demo-XXXXXX)
log="$data/lookoutd.log"
"$bin/lookoutd" --demo --data-dir "$data/data" --listen 127.0.0.1:7700 --metrics-listen 127.0.0.1:7701 >"$log" 2>&1 &
daemon=$!
cleanup() { kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do
  if curl -fsS http://127.0.0.1:7701/readyz >/dev/null 2>&1; then break; fi
  if ! kill -0 "$daemon" 2>/dev/null; then echo "lookoutd exited:"; cat "$log"; exit 1; fi
  sleep 0.1
done
"$bin/lookout" --url ws://127.0.0.1:7700
