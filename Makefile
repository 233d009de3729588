# mynagate: the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv system demo test lint typecheck bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[server,agent,dev,nfc]'
	touch $(STAMP)

# pyscard is checked on every run, not only when the stamp is made: a venv made before the
# system packages (make demo, then make test) gets it as soon as libpcsclite-dev is there.
# PCSC=required (make test) turns "cannot install it" into an error.
PCSC_HEADER ?= /usr/include/PCSC/winscard.h
venv: $(STAMP)
	@$(BIN)/python -c 'import smartcard' 2>/dev/null && exit 0; \
	if [ -f $(PCSC_HEADER) ]; then \
	  echo "installing pyscard (the pcsc extra)"; \
	  $(BIN)/python -m pip install -q -e '.[pcsc]' && exit 0; \
	  echo "pyscard could not be installed" >&2; \
	else echo "pyscard skipped: libpcsclite-dev missing (make system installs it as root)" >&2; fi; \
	test "$(PCSC)" != required

system:
	bash scripts/install-system-packages.sh

demo: venv
	$(BIN)/mynagate demo $(if $(ONCE),--once,)

test: system
	$(MAKE) venv PCSC=required
	bash scripts/run-tests.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: venv
	$(BIN)/python -m bench.run $(if $(ONLY),--only $(ONLY))

# Schemathesis on every route of a live `mynagate serve` on PostgreSQL 127.0.0.1:5432 (a fresh
# database of its own); also a step of `make test`. docs/security.md, "Fuzzing in CI".
fuzz: venv
	$(BIN)/python scripts/fuzz.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
