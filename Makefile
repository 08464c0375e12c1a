# Tandem: `make run` (the main job) and `make test` (the test suite) set everything up themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tandem-installed
REQS := requirements/dev.txt requirements/compat.txt
ARGS ?=

.PHONY: venv tools test test-repeat lint protos protos-check bench run clean

venv: $(STAMP)

# (Re)built when missing or when a requirements file is newer than the last install.
$(STAMP): $(REQS)
	@if ! $(PY) -c "" 2>/dev/null; then rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements/compat.txt
	@touch $@

# System tools the tests use: Debian's docker-compose validates the compose files (no engine needed);
# Java runs the stock TorchServe that the comparison and the benchmark measure against; Triton's
# perf_analyzer (shipped in the tritonclient 2.40.0 wheel) runs against both services; h2load
# (Debian's nghttp2-client) loads the gRPC methods perf_analyzer cannot (TorchServe, TF Serving).
# perf_analyzer goes into its own folder, never over the venv's tritonclient (requirements/compat.txt); it needs
# libcudart.so.12 (the nvidia-cuda-runtime-cu12 wheel, in the same folder) and Debian's libb64-0d.
PERF_DIR := $(VENV)/perf_analyzer
PERF_TRITONCLIENT := 2.40.0
PERF_CUDART := 12.4.127
tools:
	@command -v docker-compose >/dev/null 2>&1 || { \
	  echo "installing docker-compose (Debian package) to validate the compose files"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing Java 17 (Debian package) for the stock TorchServe the comparison measures against"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	@[ -x $(PERF_DIR)/bin/perf_analyzer ] || { \
	  echo "installing Triton's perf_analyzer (tritonclient $(PERF_TRITONCLIENT) wheel) into $(PERF_DIR)"; \
	  $(PY) -m pip install --quiet --no-deps --target $(PERF_DIR) "tritonclient[all]==$(PERF_TRITONCLIENT)" \
	    "nvidia-cuda-runtime-cu12==$(PERF_CUDART)"; }
	@command -v h2load >/dev/null 2>&1 || { \
	  echo "installing h2load (Debian package nghttp2-client) to load TorchServe and TF Serving in the benchmark"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null; }
	@ldconfig -p | grep -q 'libb64\.so\.0d' || { \
	  echo "installing libb64-0d (Debian package) for perf_analyzer"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libb64-0d >/dev/null; }

# A lint finding (ruff, mypy: configured in pyproject.toml) fails `make test`; LINT_STRICT=0 only reports.
LINT_STRICT ?= 1
N ?= 5

lint: $(STAMP)
	@status=0; \
	$(PY) -m ruff check . || status=1; \
	$(PY) -m mypy || status=1; \
	if [ $$status != 0 ] && [ "$(LINT_STRICT)" = 1 ]; then exit 1; fi; \
	if [ $$status != 0 ]; then echo "lint: findings above (not failing: LINT_STRICT=0)"; fi

test: $(STAMP) tools lint
	$(PY) -m pytest $(ARGS)

# The suite N times in a row (default 5), stopping at the first failing run: flakiness shows here.
test-repeat: $(STAMP) tools
	@for i in $$(seq 1 $(N)); do \
	  echo "=== test run $$i of $(N)"; \
	  $(PY) -m pytest -p no:cacheprovider $(ARGS) || { echo "=== run $$i of $(N) failed"; exit 1; }; \
	done; echo "=== $(N) of $(N) runs passed"

protos: $(STAMP)
	$(PY) -m protos

protos-check: $(STAMP)
	$(PY) -m protos --check

clean:
	rm -rf $(VENV) .pytest_cache

bench: $(STAMP) tools
	$(PY) -m bench --profile $(ARGS)

# The main job: zoo, both services, parity and load for every model, one report (ARGS=... for options,
# e.g. make run ARGS="--models digits-mlp --duration 10s").
run: $(STAMP)
	$(PY) -m loadtests run $(ARGS)
