# Lookout's everyday commands. `make help` lists them.
# Targets that need Docker or a cluster say so and stop when there is none.
CARGO ?= cargo
SHELL := /bin/bash
# The Compose v2 plugin where there is one, else the standalone docker-compose.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
# The image the compose targets run; BINARIES=prebuilt puts the host's release
# binaries in it instead of compiling inside rust:1.95-bookworm (see Dockerfile).
IMAGE ?= lookout:dev
BINARIES ?= source
export LOOKOUT_IMAGE := $(IMAGE)
KUBECTL ?= kubectl
NS ?= lookout
NODE ?=

.PHONY: help build test test-rust fuzz check-ship demo tui lint fmt bench bench-rss bench-scale \
        monitoring writer inspect down reset image base-images test-containers deploy port-forward

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## release build of lookoutd, lookout and loadgen
	$(CARGO) build --release --workspace --bins

test: ## THE test command: installs test dependencies (apt, pip venv), runs every test
	./scripts/test-deps.sh
	$(MAKE) test-rust
	$(MAKE) fuzz
	$(MAKE) lint
	./scripts/check-ship.sh
	$(CARGO) build --release --locked --bin lookoutd --bin lookout --bin loadgen
	./scripts/test-containers.sh
	@awk '/^test result:/ {p+=$$4; f+=$$6} END {printf "tests: %d passed, %d failed\n", p, f}' target/test-output.log

test-rust: ## cargo tests only (assumes test dependencies are installed)
	@mkdir -p target
	set -o pipefail; $(CARGO) test --workspace 2>&1 | tee target/test-output.log

fuzz: ## every parser fuzzed FUZZ_SECONDS (default 45) each from fuzz/corpus; fails on any crash
	./scripts/fuzz.sh

check-ship: ## lint the Dockerfile and validate the Kubernetes manifests, offline
	./scripts/check-ship.sh

demo: ## lookoutd on a simulated node, with the dashboard on top (q quits both)
	./scripts/demo.sh

tui: ## the dashboard against a running daemon (LOOKOUT_URL, default ws://127.0.0.1:7700)
	$(CARGO) run --release --bin lookout

lint: ## rustfmt and clippy, as CI wants them
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

bench: ## the benchmark suite; figures go to docs/BENCHMARKS.md
	./scripts/bench.sh

bench-rss: ## peak and at-rest RSS fed 12,000 x 64 KiB and 2,000 x 1 MiB lines (SCENARIOS, SETTLE)
	./scripts/bench-rss.sh

bench-scale: ## RSS idle/under load and 5,000 log files on one node (FILES, RATE, SECS, RUNS)
	./scripts/bench-scale.sh

.PHONY: bench-patterns
bench-patterns: ## template mining: accuracy on Loghub and lines/s, beside drain3 (PyPI, in a venv)
	./scripts/bench-patterns.sh

.PHONY: bench-storage
bench-storage: ## bytes per raw byte and query latencies beside ClickHouse (chdb, PyPI) on the same rows (ENTRIES)
	./scripts/bench-storage.sh

.PHONY: bench-peers
bench-peers: ## collection vs rsyslog/syslog-ng, and end-to-end ingest (QUICK=1: ~1 min; needs root for apt)
	./scripts/bench-peers.sh

define need_docker
	@docker info >/dev/null 2>&1 || { echo "make $@ needs a running Docker engine (docker compose); none is reachable here."; exit 2; }
endef

define need_cluster
	@$(KUBECTL) version --request-timeout=5s >/dev/null 2>&1 || { echo "make $@ needs kubectl and a reachable Kubernetes cluster; none is configured here."; exit 2; }
endef

image: ## build the container image (needs Docker; BINARIES=prebuilt: from the host's release build)
	$(need_docker)
ifeq ($(BINARIES),prebuilt)
	$(CARGO) build --release --locked --bin lookoutd --bin lookout --bin loadgen
	@mkdir -p dist
	@tdir=$$($(CARGO) metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'); \
	  for b in lookoutd lookout loadgen; do strip --strip-debug -o dist/$$b "$$tdir/release/$$b"; done
	./scripts/base-images.sh
	docker build --target prebuilt -t $(IMAGE) .
else
	@docker buildx version >/dev/null 2>&1 || { echo "make image compiles in rust:1.95-bookworm, which needs BuildKit (docker buildx) and a registry; without them: make $(or $(MAKECMDGOALS),image) BINARIES=prebuilt"; exit 2; }
	docker build -t $(IMAGE) .
endif

base-images: ## make debian:bookworm-slim and the Alertmanager image from Debian's packages (no registry needed)
	$(need_docker)
	./scripts/base-images.sh

test-containers: ## the image and compose tests (needs Docker; LOOKOUT_REQUIRE_DOCKER=1 fails without)
	./scripts/test-containers.sh

monitoring: image ## compose: start the daemon (and Alertmanager) on the shared log volume (needs Docker)
	$(COMPOSE) up -d monitoring alertmanager

writer: ## compose: start the shell-loop and kubelet-layout writers (needs Docker)
	$(need_docker)
	$(COMPOSE) up -d writer kubelet-writer

inspect: ## compose: open the dashboard against the compose daemon (needs Docker)
	$(need_docker)
	$(COMPOSE) run --rm inspect

down: ## compose: stop everything, keep volumes (needs Docker)
	$(need_docker)
	$(COMPOSE) --profile inspect down

reset: ## compose: stop everything and delete the log and data volumes (needs Docker)
	$(need_docker)
	$(COMPOSE) --profile inspect down -v

deploy: ## apply deploy/ to the current kubectl context (needs a cluster)
	$(need_cluster)
	$(KUBECTL) apply -k deploy/
	$(KUBECTL) -n $(NS) rollout status ds/lookout --timeout=120s

port-forward: ## forward 7700 to the lookout pod on NODE (make port-forward NODE=name; needs a cluster)
	$(need_cluster)
	@pod=$$($(KUBECTL) -n $(NS) get pods -l app.kubernetes.io/name=lookout \
	    $(if $(NODE),--field-selector spec.nodeName=$(NODE)) -o jsonpath='{.items[0].metadata.name}'); \
	  test -n "$$pod" || { echo "no lookout pod$(if $(NODE), on node $(NODE))"; exit 1; }; \
	  echo "forwarding 127.0.0.1:7700 -> $$pod"; \
	  $(KUBECTL) -n $(NS) port-forward pod/$$pod 7700
