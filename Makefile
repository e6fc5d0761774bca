# Two commands on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: install test-deps run test test-fast screenshots bench clean

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium and a pinned axe-core for tests/browser (quick and silent when present).
test-deps: install
	bash scripts/install-test-deps.sh

run: install
	$(VENV)/bin/clawback demo

test: install test-deps
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install test-deps
	$(PY) -m pytest -x -q -m "not slow" $(PYTEST_ARGS)

# The README's admin screenshots, from the demo shop (look at them after changing a page).
screenshots: install test-deps
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
