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
