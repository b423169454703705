# soar: the two commands a new machine needs are `make demo` and `make test`.
# They need the Rust toolchain pinned in rust-toolchain.toml (rustup installs it on first use) and
# Python 3 for the pinned tools in tests/requirements.txt (moto server, cargo-lambda), which they
# install into .venv themselves.

CARGO ?= cargo
# The binary `make build` made. Not `cargo run -p soar-cli`: building one package alone resolves
# other dependency features than the workspace build and would compile the AWS SDKs a second time.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
SOAR  := $(TARGET_DIR)/debug/soar
PYTHON ?= python3
VENV  := .venv

DEMO_INPUTS := tests/fixtures/guardduty/*.json \
               tests/fixtures/scenarios/tor-client.json \
               tests/fixtures/scenarios/private-remote-ip.json \
               tests/fixtures/scenarios/generic-alerts.ndjson

.PHONY: demo offline-demo test lint unit policy-test fmt build venv

## demo: the four functions under cargo lambda's emulator on a local moto server, answering
## GuardDuty findings about a lab instance; prints the timeline and stops everything it started
demo: venv build
	$(SOAR) local demo

## offline-demo: the fixtures and scenarios through the pipeline in one process (dry run, in memory)
offline-demo: build
	$(SOAR) run --inventory tests/fixtures/scenarios/inventory.json --intel tests/fixtures/intel $(DEMO_INPUTS)

## test: formatting, lints, every Rust test (AWS adapters and the function chain against a local
## moto server, the functions under cargo lambda's emulator), then the Rego policy suite
test: venv lint build unit policy-test

## venv: the pinned Python tools (moto server, cargo-lambda, zig) in .venv
venv: $(VENV)/.installed

$(VENV)/.installed: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# nextest prints one summary line for the whole workspace; plain cargo test is the fallback.
unit:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --locked --no-fail-fast; \
	else \
		$(CARGO) test --workspace --locked --no-fail-fast; \
	fi

policy-test: build
	$(SOAR) policy test --coverage policies

fmt:
	$(CARGO) fmt --all

# The function binaries too: the emulator runs them.
build:
	$(CARGO) build --workspace --bins --locked
