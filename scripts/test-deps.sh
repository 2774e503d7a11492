#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, then nothing else.
# Idempotent: skips what is already there.
set -euo pipefail

need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
command -v curl >/dev/null 2>&1 || need+=(curl)
# The dashboard's end-to-end test runs it with TZ=America/New_York.
[ -e /usr/share/zoneinfo/America/New_York ] || need+=(tzdata)

if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# cargo-fuzz for `make fuzz` (run on the stable toolchain with RUSTC_BOOTSTRAP=1),
# pinned so CI builds the same tool.
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
