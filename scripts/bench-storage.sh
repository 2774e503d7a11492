#!/usr/bin/env bash
# Storage side by side: the storage bench's corpus (fresh numbers and ids on every
# line, JSON, logfmt and stack traces) indexed by Lookout, and the same rows loaded
# into ClickHouse through chdb (PyPI, into a venv under target/), then one table
# of both systems' bytes per raw byte and query latencies, in one run.
# ENTRIES (default 1000000), RUNS (default 20 per query), DIR (default a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/storage-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import chdb' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check chdb
fi
dir="${DIR:-$(mktemp -d)}"
mkdir -p "$dir"
out="$dir/lookout.json"
cargo bench -q -p lookout-daemon --bench storage -- --json --entries "${ENTRIES:-1000000}" \
  --runs "${RUNS:-20}" --dir "$dir" >"$out"
echo "lookout $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'); chdb $("$venv/bin/pip" show chdb | awk '/^Version/ {print $2}')"
RUNS="${RUNS:-20}" "$venv/bin/python" scripts/bench-storage.py "$out"
