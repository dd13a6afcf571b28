# Minyi (民意) — all set-up lives here: `make demo` and `make test` work on a fresh Debian 12.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEBIAN_PACKAGES := postgresql espeak-ng sox libsox-fmt-all ffmpeg

.PHONY: demo test lint typecheck check debian-deps clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q -e '.[test,dev,postgres]' --config-settings editable_mode=compat
	touch $(STAMP)

# Debian packages the tests and the demo use (PostgreSQL for the store tests, espeak-ng/sox for prompts).
# Installed only when missing and when we are root; otherwise the tests that need them say how to enable them.
debian-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing Debian packages (install as root):$$missing"; fi; \
	fi

demo: $(STAMP) debian-deps
	$(PY) -m dialer demo

test: $(STAMP) debian-deps
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check dialer tests
	$(VENV)/bin/ruff format --check dialer tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) var build *.egg-info
