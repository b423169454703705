# soar: the two commands a new machine needs are `make demo` and `make test`.
# Only the Rust toolchain pinned in rust-toolchain.toml is required (rustup installs it on first use).

CARGO ?= cargo
SOAR  := $(CARGO) run --quiet --package soar-cli --bin soar --
PYTHON ?= python3
VENV  := .venv

DEMO_INPUTS := tests/fixtures/guardduty/*.json \
               tests/fixtures/scenarios/tor-client.json \
               tests/fixtures/scenarios/private-remote-ip.json \
               tests/fixtures/scenarios/generic-alerts.ndjson

.PHONY: demo test lint unit policy-test fmt build venv

## demo: run the GuardDuty fixtures and scenarios through the whole pipeline (dry run, in memory)
demo:
	$(SOAR) run --inventory tests/fixtures/scenarios/inventory.json --intel tests/fixtures/intel $(DEMO_INPUTS)

## test: formatting, lints, every Rust test (AWS adapters against a local moto server), then the Rego policy suite
test: venv lint unit policy-test

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

policy-test:
	$(SOAR) policy test --coverage policies

fmt:
	$(CARGO) fmt --all

build:
	$(CARGO) build --workspace --locked
