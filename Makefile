# soar: the two commands a new machine needs are `make demo` and `make test`.
# They need the Rust toolchain pinned in rust-toolchain.toml (rustup installs it on first use) and
# Python 3 for the pinned tools in tests/requirements.txt (moto server, cargo-lambda), which they
# install into .venv themselves.

CARGO ?= cargo
# The binary `make bins` made. Not `cargo run -p soar-cli`: building one package alone resolves
# other dependency features than the workspace build and would compile the AWS SDKs a second time.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
SOAR  := $(TARGET_DIR)/debug/soar
PYTHON ?= python3
VENV  := .venv

DEMO_INPUTS := tests/fixtures/guardduty/*.json \
               tests/fixtures/scenarios/tor-client.json \
               tests/fixtures/scenarios/private-remote-ip.json \
               tests/fixtures/scenarios/generic-alerts.ndjson

.PHONY: browser opa-ref bench demo demo-console offline-demo test lint lint-infra unit policy-test fmt bins docs build package smoke deploy venv

## demo: the four functions under cargo lambda's emulator on a local moto server, answering
## GuardDuty findings about a lab instance; prints the timeline and stops everything it started
demo: venv bins
	$(SOAR) local demo

## demo-console: the demo, kept running afterwards with the web console (soar console) on
## 127.0.0.1:8780 showing the demo's alert; Ctrl-C stops everything
demo-console: venv bins
	$(SOAR) local demo --keep

## offline-demo: the fixtures and scenarios through the pipeline in one process (dry run, in memory)
offline-demo: bins
	$(SOAR) run --inventory tests/fixtures/scenarios/inventory.json --intel tests/fixtures/intel $(DEMO_INPUTS)

## test: formatting, lints, every Rust test (AWS adapters and the function chain against a local
## moto server, the functions under cargo lambda's emulator), then the Rego policy suite
test: venv opa-ref browser lint lint-infra bins unit policy-test

## bench: the end-to-end latency on the local stack (moto, debug build: it is moto's time), a storm
## of 1,000 findings under injected AWS faults (tests/storm.rs, bench/storm.json), then a
## release build and the benchmarks (policy latency against the reference OPA engine, cold start,
## throughput, binary sizes); prints the table and writes bench/results.{md,json}
bench: venv opa-ref bins
	$(CARGO) test --locked -p soar-tests --test chain -- --ignored --exact e2e_finding_to_isolation_latency
	SOAR_STORM_FINDINGS=1000 SOAR_STORM_REPORT=$(CURDIR)/bench/storm.json \
		$(CARGO) test --locked -p soar-tests --test storm -- --nocapture
	$(CARGO) build --release --locked -p soar-bench $(foreach f,$(FUNCTIONS),-p $(f))
	$(TARGET_DIR)/release/soar-bench $(TARGET_DIR)/release

## browser: headless Chromium and its WebDriver from the distribution's packages (Debian's
## chromium and chromium-driver), for the console's browser test; installed when missing
browser:
	@if command -v chromedriver >/dev/null && command -v chromium >/dev/null; then exit 0; fi; \
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null && \
	echo "installed: $$(chromium --version)"

## opa-ref: the reference OPA engine (libopabridge.so from the pinned PyPI wheel) in .opa/, for
## the differential conformance test and `make bench`. Not fatal: without it that test says
## SKIPPED and passes.
OPA_WHEEL := opa-golib-python-bindings==0.4.4
opa-ref: venv
	@if [ -f .opa/opa_bindings/libopabridge.so ]; then exit 0; fi; \
	rm -rf .opa/wheel && mkdir -p .opa/wheel && \
	if $(VENV)/bin/pip download --quiet --no-deps --only-binary=:all: --python-version 3.14 \
		--dest .opa/wheel "$(OPA_WHEEL)" && \
	   $(VENV)/bin/python -m zipfile -e .opa/wheel/*.whl .opa/unpacked && \
	   mkdir -p .opa/opa_bindings && cp .opa/unpacked/opa_bindings/libopabridge.so .opa/opa_bindings/; then \
		echo "reference OPA engine: .opa/opa_bindings/libopabridge.so"; \
	else \
		echo "reference OPA engine unavailable: the conformance test will be SKIPPED"; \
	fi; rm -rf .opa/wheel .opa/unpacked

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

# The coverage floor lives in policies/coverage-threshold: raise it as tests improve, never lower it quietly.
policy-test: bins
	$(SOAR) policy scenario --fail-under $$(cat policies/coverage-threshold) policies/scenarios
	$(SOAR) policy test --fail-under $$(cat policies/coverage-threshold) policies

fmt:
	$(CARGO) fmt --all

# Debug binaries of the whole workspace (the soar CLI, and the functions the emulator runs).
bins:
	$(CARGO) build --workspace --bins --locked

## docs: regenerate docs/finding-types.md and docs/responses.md from the finding-type list and the default policies
## (`make test` fails while it is out of step)
docs: bins
	SOAR_WRITE_DOCS=1 $(CARGO) test --locked -p soar-tests --test finding_types -- --exact the_finding_type_table_is_in_step every_resource_type_has_a_useful_response_and_a_scenario

## build: release Lambda binaries target/lambda/<fn>/bootstrap, arm64 (Graviton) unless ARCH=x86_64
ARCH ?= arm64
FUNCTIONS := ingest enrich evaluate remediate
# The policy tests, scenarios and contract probe run first: no artifact is built around a broken bundle.
build: venv policy-test
	@case "$(ARCH)" in arm64) ;; x86_64) ;; *) echo "ARCH must be arm64 or x86_64" >&2; exit 2;; esac
	if [ "$(ARCH)" = arm64 ]; then rustup target add aarch64-unknown-linux-gnu; fi
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda build --release --locked \
		$(if $(filter arm64,$(ARCH)),--arm64,--x86-64) $(foreach f,$(FUNCTIONS),--package $(f))

## smoke: each release binary starts under cargo lambda's runtime emulator and answers one invocation
smoke:
	$(MAKE) build ARCH=x86_64
	tests/smoke.sh $(TARGET_DIR)/lambda

## package: one zip per function (bootstrap at the root), for upload without SAM
package: build
	cd $(TARGET_DIR)/lambda && for f in $(FUNCTIONS); do (cd $$f && rm -f ../$$f.zip && zip -q ../$$f.zip bootstrap); done
	ls -l $(TARGET_DIR)/lambda/*.zip

## lint-infra: cfn-lint (no errors), checkov (every failed check fixed or skipped with a reason),
## and the example GitHub workflow against the workflow schema
lint-infra: venv
	$(VENV)/bin/cfn-lint infra/template.yaml infra/member-account.yaml
	BC_SKIP_MAPPING=TRUE $(VENV)/bin/checkov --directory infra --framework cloudformation --compact --skip-download
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows examples/github/*.yml

## deploy: build, then sam deploy --guided (needs AWS credentials; see docs/deploy.md). Not run in CI.
deploy: build
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-deploy.txt
	$(VENV)/bin/sam deploy --guided --template-file infra/template.yaml --capabilities CAPABILITY_NAMED_IAM
