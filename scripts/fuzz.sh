#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 45) from its seed corpus; any
# crash fails (the input is left in fuzz/artifacts/<target>/). cargo-fuzz needs
# nightly flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
# No sanitizer: the parsers are safe Rust, a crash is a panic, and an ASan build of
# the dependencies would cost CI minutes for nothing found.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
# Its own target dir (fuzz/target, ignored): a sanitizer-flag build never mixes with
# the workspace's.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
SECS="${FUZZ_SECONDS:-45}"
targets=(cri docker_json query rule_yaml template protocol)
cargo fuzz build -O --sanitizer none
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t.log"
  echo "fuzz: $t for ${SECS}s"
  if ! cargo fuzz run -O --sanitizer none "$t" "corpus/$t" -- \
    -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: $t FAILED; the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units' "$log" || true
done
