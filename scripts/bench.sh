#!/usr/bin/env bash
# `make bench`: every benchmark in the repo, release builds, one after another.
# Figures print to stdout; docs/BENCHMARKS.md records them with machine and date.
# ENTRIES (index bench, default 1,000,000) and MIB (collector bench, default 256)
# scale the runs; the issue's full figure is ENTRIES=10000000.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/test-deps.sh   # rg for the index comparison
echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)"
echo "## collector";   RUNS="${RUNS:-3}" MIB="${MIB:-256}" cargo bench -p lookout-daemon --bench collect
echo "## ingest";      cargo bench -p lookout-daemon --bench ingest -- --entries "${ENTRIES:-1000000}"
echo "## index";       cargo bench -p lookout-daemon --bench index -- --entries "${ENTRIES:-1000000}" --runs 100 --repeat 3
echo "## live tail";   cargo bench -p lookout-daemon --bench serve_latency -- --secs 5 --rates 1000,10000,100000 --clients 1,20
echo "## alerting";    cargo bench -p lookout-daemon --bench alert_eval
echo "## scale, memory"; ./scripts/bench-scale.sh
echo "## dashboard";   cargo bench -p lookout-tui --bench dashboard
echo "## versus peers: make bench-peers (rsyslog, syslog-ng, end-to-end ingest; apt installs them)"
