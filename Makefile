# Lookout's everyday commands. `make help` lists them.
CARGO ?= cargo

.PHONY: help build test lint fmt
help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## release build of lookoutd and lookout
	$(CARGO) build --release --workspace

test: ## install test dependencies (apt) and run the whole test suite
	./scripts/test-deps.sh
	$(CARGO) test --workspace --all-targets

lint: ## rustfmt and clippy, as CI wants them
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all
