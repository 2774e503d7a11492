#!/usr/bin/env bash
# Template mining, lookoutd's miner beside drain3 (PyPI, default settings) on the
# same Loghub lines in the same run: grouping accuracy per system and lines/s on
# one core. drain3 comes from PyPI into a venv under target/, so nothing is
# installed system-wide. ROUNDS (default 200) sets the passes timed for our miner.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/patterns-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import drain3' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check drain3
fi
out=target/bench-patterns.json
# One core: the miner is single-threaded, and so is drain3.
taskset -c 0 cargo bench -q -p lookout-daemon --bench patterns -- --json --rounds "${ROUNDS:-200}" >"$out"
echo "lookoutd miner: $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'); drain3 $("$venv/bin/pip" show drain3 | awk '/^Version/ {print $2}')"
taskset -c 0 "$venv/bin/python" scripts/bench-patterns.py "$out" testdata/loghub
