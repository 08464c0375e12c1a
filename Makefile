# Tandem: `make run` (the main job) and `make test` (the test suite) set everything up themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tandem-installed
REQS := requirements/dev.txt requirements/compat.txt
ARGS ?=

.PHONY: venv tools test protos protos-check bench run clean

venv: $(STAMP)

# (Re)built when missing or when a requirements file is newer than the last install.
$(STAMP): $(REQS)
	@if ! $(PY) -c "" 2>/dev/null; then rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements/compat.txt
	@touch $@

# System tools the tests use: Debian's docker-compose validates the compose files (no engine needed);
# Java runs the stock TorchServe that the comparison and the benchmark measure against.
tools:
	@command -v docker-compose >/dev/null 2>&1 || { \
	  echo "installing docker-compose (Debian package) to validate the compose files"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing Java 17 (Debian package) for the stock TorchServe the comparison measures against"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

test: $(STAMP) tools
	$(PY) -m pytest $(ARGS)

protos: $(STAMP)
	$(PY) -m protos

protos-check: $(STAMP)
	$(PY) -m protos --check

clean:
	rm -rf $(VENV) .pytest_cache

bench: $(STAMP)
	$(PY) -m bench $(ARGS)

# The main job: zoo, both services, parity and load for every model, one report (ARGS=... for options,
# e.g. make run ARGS="--models digits-mlp --duration 10s").
run: $(STAMP)
	$(PY) -m loadtests run $(ARGS)
