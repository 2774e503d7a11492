#!/usr/bin/env bash
# The image and the compose workflow, built and run for real on the local engine:
#
#   1. base images from Debian's packages (scripts/base-images.sh; cached)
#   2. the image, BINARIES=prebuilt (the host's release build; see Dockerfile)
#   3. the image as the DaemonSet runs it: read-only root, every capability dropped
#      but DAC_READ_SEARCH, uid 0, a kubelet-layout log dir mounted read-only whose
#      files only their owner (uid 1000) may read; collects, indexes, serves;
#      /healthz and /readyz; `docker stop` ends with a final commit (the lines
#      searchable after a restart of the container equal the lines written)
#   4. the image as its default user (65532), over world-readable logs
#   5. the compose targets: make monitoring, writer, inspect (in tmux), down (keeps
#      the data), monitoring again, reset (deletes the volumes); lines searchable
#      with `lookout search` on the published port; deploy/compose/rules.yaml fires
#      and the alert reaches the Alertmanager container
#
# Run by `make test` after the release build. Without a Docker engine it says it
# skipped and exits 0, unless LOOKOUT_REQUIRE_DOCKER=1 (CI sets it), then it fails.
# Everything it creates carries a name of its own (compose project lookout-test-<pid>,
# image lookout:test) and is removed at the end, pass or fail (a container that fails
# to start keeps its anonymous volumes: those runs mount a tmpfs on the VOLUME).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
exec 3>&1 # what a failed step printed, past check's silence

if ! docker info >/dev/null 2>&1; then
  if [ "${LOOKOUT_REQUIRE_DOCKER:-0}" = 1 ]; then
    echo "container tests: FAILED: no Docker engine answers and LOOKOUT_REQUIRE_DOCKER=1" >&2
    exit 1
  fi
  echo "container tests: SKIPPED (no Docker engine answers; LOOKOUT_REQUIRE_DOCKER=1 makes this a failure)"
  exit 0
fi

CARGO="${CARGO:-cargo}"
tdir="$("$CARGO" metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
LOOKOUT="$tdir/release/lookout"
[ -x "$LOOKOUT" ] || { echo "container tests: $LOOKOUT missing: run cargo build --release first" >&2; exit 1; }

run_id="$$"
export COMPOSE_PROJECT_NAME="lookout-test-$run_id"
export IMAGE=lookout:test
export LOOKOUT_IMAGE="$IMAGE"
export LOOKOUT_TOKEN="test-token-$run_id-$RANDOM"
TMUX_SOCKET="lookout-test-$run_id"
work="$(mktemp -d "${TMPDIR:-/tmp}/lookout-containers.XXXXXX")"
containers=()
volumes=()
passed=0
failed=0
timings=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export LOOKOUT_WS_PORT LOOKOUT_METRICS_PORT ALERTMANAGER_PORT
LOOKOUT_WS_PORT="$(free_port)"
LOOKOUT_METRICS_PORT="$(free_port)"
ALERTMANAGER_PORT="$(free_port)"

compose() { make -s --no-print-directory -C "$repo" "$@" </dev/null; }
COMPOSE_CMD="$(docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)"

cleanup() {
  set +e
  tmux -L "$TMUX_SOCKET" kill-server >/dev/null 2>&1
  $COMPOSE_CMD --profile inspect down -v --remove-orphans -t 2 >/dev/null 2>&1
  [ ${#containers[@]} -gt 0 ] && docker rm -fv "${containers[@]}" >/dev/null 2>&1
  [ ${#volumes[@]} -gt 0 ] && docker volume rm -f "${volumes[@]}" >/dev/null 2>&1
  docker rmi "$IMAGE" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
check() { # check DESCRIPTION COMMAND... (the command's output is not shown)
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
# wait_for SECONDS DESCRIPTION COMMAND...: polls every 0.5 s.
wait_for() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then bad "$what (not within ${secs}s)"; return 1; fi
    sleep 0.5
  done
  ok "$what"
}
step_start() { step_name="$1"; step_t0=$(date +%s.%N); echo "== $1"; }
step_end() {
  local s
  s=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$step_t0" "$(date +%s.%N)")
  timings+=("$step_name: ${s}s")
  echo "   ($step_name: ${s}s)"
}
# Stop at the first failed step: later ones build on it.
gate() { [ "$failed" = 0 ] || { summary; exit 1; }; }
summary() {
  echo "container step times:"
  printf '  %s\n' "${timings[@]}"
  echo "container tests: $passed passed, $failed failed"
}

# logged NAME COMMAND...: output to $work/NAME.log, its tail shown on failure.
logged() {
  local name="$1"; shift
  "$@" >"$work/$name.log" 2>&1 || { tail -25 "$work/$name.log" | sed 's/^/     | /' >&3; return 1; }
}
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }
host_port() { docker port "$1" "$2" | head -1 | sed 's/.*://'; }
# count URL QUERY: how many stored entries match, through `lookout search`.
count() {
  local n
  n="$("$LOOKOUT" search --url "$1" --token "$LOOKOUT_TOKEN" --json --limit 0 -- "$2" 2>/dev/null | wc -l)" || return 1
  echo "$n"
}
count_is() { [ "$(count "$1" "$2")" = "$3" ]; }
count_at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }
# metric URL NAME: the sum over every label set of one metric.
metric() {
  curl -fsS --max-time 2 "$1/metrics" |
    awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $NF; n++ } END { if (n) print s }'
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

# cri_lines FILE FROM TO: CRI lines "<ts> stdout F line N of FILE", appended.
cri_lines() {
  local f="$1" i
  for ((i = $2; i <= $3; i++)); do
    printf '%s stdout F container test line %d\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$i"
  done >>"$f"
}

# --- 1. base images ---------------------------------------------------------------
step_start "base images"
check "scripts/base-images.sh" ./scripts/base-images.sh
check "debian:bookworm-slim exists" docker image inspect debian:bookworm-slim
check "lookout/alertmanager:0.25 exists" docker image inspect lookout/alertmanager:0.25
step_end; gate

# --- 2. the image -----------------------------------------------------------------
step_start "image (BINARIES=prebuilt)"
check "make image BINARIES=prebuilt" logged image make -s --no-print-directory image BINARIES=prebuilt IMAGE="$IMAGE"
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "   image size: $((size / 1000000)) MB ($size bytes)"
check "image under 40 MB" [ "$size" -lt 40000000 ]
check "lookoutd runs in the image" docker run --rm "$IMAGE" --version
check "lookout runs in the image" docker run --rm --entrypoint /usr/local/bin/lookout "$IMAGE" --version
check "loadgen runs in the image" docker run --rm --entrypoint /usr/local/bin/loadgen "$IMAGE" --help
check "the image has no shell" bash -c "! docker run --rm --tmpfs /var/lib/lookout --entrypoint /bin/sh '$IMAGE' -c true 2>/dev/null"
step_end; gate

# --- 3. as the DaemonSet runs it ----------------------------------------------------
step_start "image as the DaemonSet runs it"
logs="$work/ds-logs"
pod="$logs/pods/shop_checkout-7d9f_0e6c1a52-2b38-4d6f-9a43-5c1d2e3f4a5b"
mkdir -p "$pod/app" "$logs/containers"
cri_lines "$pod/app/0.log" 1 300
# Readable by their owner only, and that is not root: uid 0 reads them through
# DAC_READ_SEARCH, the one capability the DaemonSet keeps.
chown -R 1000:1000 "$logs/pods"
find "$logs/pods" -type d -exec chmod 0700 {} +
chmod 0600 "$pod/app/0.log"
ds="lookout-test-$run_id-ds"
containers+=("$ds"); volumes+=("$ds-data")
# The securityContext of deploy/daemonset.yaml, as docker run flags, so the manifest
# cannot drift from what is tested here.
py=python3
$py -c 'import yaml' 2>/dev/null || py=target/ship-venv/bin/python
mapfile -t ds_flags < <($py - deploy/daemonset.yaml <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"][0]
sc = c["securityContext"]
print(f"--user={sc['runAsUser']}")
if sc.get("readOnlyRootFilesystem"): print("--read-only")
if sc.get("allowPrivilegeEscalation") is False: print("--security-opt=no-new-privileges")
for cap in sc["capabilities"].get("drop", []): print(f"--cap-drop={cap}")
for cap in sc["capabilities"].get("add", []): print(f"--cap-add={cap}")
mounts = {m["mountPath"]: m.get("readOnly", False) for m in c["volumeMounts"]}
assert mounts == {"/var/log": True, "/var/lib/lookout": False}, mounts
PY
)
echo "   flags from deploy/daemonset.yaml: ${ds_flags[*]}"
check "deploy/daemonset.yaml: uid 0, read-only root, ALL dropped but DAC_READ_SEARCH" \
  [ "${ds_flags[*]}" = "--user=0 --read-only --security-opt=no-new-privileges --cap-drop=ALL --cap-add=DAC_READ_SEARCH" ]
# A long commit interval: the lines reach the index only through the final commit.
docker run -d --name "$ds" "${ds_flags[@]}" \
  -v "$logs:/var/log:ro" -v "$ds-data:/var/lib/lookout" \
  -p 127.0.0.1::7700 -p 127.0.0.1::7701 -e NODE_NAME=test-node \
  "$IMAGE" --log-dir=/var/log --data-dir=/var/lib/lookout --listen=0.0.0.0:7700 \
  --metrics-listen=0.0.0.0:7701 --token="$LOOKOUT_TOKEN" --commit-interval=10m >/dev/null
m="http://127.0.0.1:$(host_port "$ds" 7701)"
wait_for 30 "/healthz answers 200" http_ok "$m/healthz"
wait_for 30 "/readyz answers 200" http_ok "$m/readyz"
cri_lines "$pod/app/0.log" 301 500 # while it runs: inotify through the bind mount
wait_for 30 "all 500 lines collected (lookout_collected_lines_total)" metric_is "$m" lookout_collected_lines_total 500
check "none of them committed yet (lookout_index_docs 0)" metric_is "$m" lookout_index_docs 0
t0=$SECONDS
docker stop -t 20 "$ds" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$ds")
check "docker stop: exit code 0 (was $code) in $((SECONDS - t0))s, no SIGKILL" [ "$code" = 0 ]
docker logs "$ds" >"$work/ds.log" 2>&1
check "SIGTERM logged" grep -q "SIGTERM" "$work/ds.log"
check "its log has no colour codes (no ESC byte in docker logs)" bash -c "! grep -q \$'\\x1b' \"$work/ds.log\""
docker start "$ds" >/dev/null
m="http://127.0.0.1:$(host_port "$ds" 7701)"
ws="ws://127.0.0.1:$(host_port "$ds" 7700)"
wait_for 30 "/readyz answers 200 after the restart" http_ok "$m/readyz"
n=$(count "$ws" '*')
check "after the restart 500 lines searchable, as written (found $n)" [ "$n" = 500 ]
check "the last line is found by phrase" count_is "$ws" '"container test line 500"' 1
check "entries carry the kubelet layout's namespace and pod" count_is "$ws" 'namespace:shop pod:checkout-7d9f' 500
step_end; gate

# --- 4. as its default user -----------------------------------------------------------
step_start "image as its default user (65532)"
logs="$work/user-logs"
pod="$logs/pods/web_frontend-84fd_6b1f3c1e-0d2a-4f59-8d7e-2e9a1c4b7f10"
mkdir -p "$pod/httpd"
cri_lines "$pod/httpd/0.log" 1 120
chmod -R a+rX "$logs"
usr="lookout-test-$run_id-user"
containers+=("$usr"); volumes+=("$usr-data")
docker run -d --name "$usr" --read-only --cap-drop ALL \
  -v "$logs:/var/log:ro" -v "$usr-data:/var/lib/lookout" \
  -p 127.0.0.1::7700 -p 127.0.0.1::7701 \
  "$IMAGE" --log-dir=/var/log --data-dir=/var/lib/lookout --listen=0.0.0.0:7700 \
  --metrics-listen=0.0.0.0:7701 --token="$LOOKOUT_TOKEN" >/dev/null
check "runs as uid 65532" [ "$(docker inspect -f '{{.Config.User}}' "$usr")" = "65532:65532" ]
m="http://127.0.0.1:$(host_port "$usr" 7701)"
ws="ws://127.0.0.1:$(host_port "$usr" 7700)"
wait_for 30 "/healthz answers 200" http_ok "$m/healthz"
wait_for 30 "/readyz answers 200" http_ok "$m/readyz"
wait_for 30 "120 lines searchable" count_is "$ws" 'namespace:web' 120
docker stop -t 20 "$usr" >/dev/null
check "docker stop: exit code 0" [ "$(docker inspect -f '{{.State.ExitCode}}' "$usr")" = 0 ]
step_end; gate

# --- 5. the compose workflow --------------------------------------------------------
ws="ws://127.0.0.1:$LOOKOUT_WS_PORT"
m="http://127.0.0.1:$LOOKOUT_METRICS_PORT"
am="http://127.0.0.1:$ALERTMANAGER_PORT"
alert_in_alertmanager() {
  curl -fsS --max-time 2 "$am/api/v2/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)
sys.exit(0 if any(a["labels"].get("alertname") == "ComposeWriterErrors" for a in alerts) else 1)'
}
project_volumes() { docker volume ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"; }
project_containers() { docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"; }

dangling_before=$(docker volume ls -q --filter dangling=true | wc -l)
step_start "compose: make monitoring, writer"
check "make monitoring" logged monitoring compose monitoring BINARIES=prebuilt
wait_for 60 "compose daemon ready on the published metrics port" http_ok "$m/readyz"
wait_for 60 "Alertmanager answers on the published port" http_ok "$am/-/ready"
check "make writer" logged writer compose writer
wait_for 60 "the shell loop's lines are searchable" count_at_least "$ws" 'namespace:compose pod:writer' 10
wait_for 60 "the kubelet-layout writer's lines are searchable" count_at_least "$ws" '-namespace:compose' 100
check "lookout rules apply --file deploy/compose/rules.yaml" \
  "$LOOKOUT" rules apply --url "$ws" --token "$LOOKOUT_TOKEN" --file deploy/compose/rules.yaml
wait_for 60 "the rule's alert reaches the Alertmanager container (/api/v2/alerts)" alert_in_alertmanager
step_end; gate

step_start "compose: make inspect (tmux)"
pane() { tmux -L "$TMUX_SOCKET" capture-pane -p -t inspect; }
pane_has() { pane | grep -q -- "$1"; }
tmux -L "$TMUX_SOCKET" new-session -d -s inspect -x 120 -y 36 \
  "cd '$repo' && make -s --no-print-directory inspect; echo INSPECT-EXITED; sleep 60"
wait_for 60 "the dashboard connects to the compose daemon" pane_has "connected"
wait_for 30 "the dashboard shows the node's streams" pane_has "compose-node"
wait_for 30 "the dashboard tails the writer's lines" pane_has "writer line"
tmux -L "$TMUX_SOCKET" send-keys -t inspect q
wait_for 30 "q quits the dashboard and its container" pane_has "INSPECT-EXITED"
pane >"$work/inspect.txt"
tmux -L "$TMUX_SOCKET" kill-server >/dev/null 2>&1 || true
check "no inspect container left behind" \
  bash -c "[ -z \"\$(docker ps -aq --filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME --filter label=com.docker.compose.service=inspect)\" ]"
step_end; gate

step_start "compose: make down keeps the data, make reset deletes it"
before=$(count "$ws" 'namespace:compose pod:writer')
check "make down" logged down compose down
check "make down: no container left" bash -c "[ -z \"\$(docker ps -aq --filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME)\" ]"
check "make down: the three volumes stay" bash -c "[ \$(docker volume ls -q --filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME | wc -l) = 3 ]"
check "make monitoring again" logged monitoring2 compose monitoring BINARIES=prebuilt
wait_for 60 "compose daemon ready again" http_ok "$m/readyz"
wait_for 30 "the earlier lines are still found ($before or more)" count_at_least "$ws" 'namespace:compose pod:writer' "$before"
check "the first writer line is still found" count_is "$ws" '"writer line 1" pod:writer' 1
check "make reset" logged reset compose reset
check "make reset: no container left" bash -c "[ -z \"\$(docker ps -aq --filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME)\" ]"
check "make reset: the volumes are gone" bash -c "[ -z \"\$(docker volume ls -q --filter label=com.docker.compose.project=$COMPOSE_PROJECT_NAME)\" ]"
check "no anonymous volume left behind by the stack" \
  [ "$(docker volume ls -q --filter dangling=true | wc -l)" = "$dangling_before" ]
step_end

summary
[ "$failed" = 0 ]
