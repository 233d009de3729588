# mynagate: the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv system demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[server,agent,dev,nfc]'
	@if $(BIN)/python -c 'import smartcard' 2>/dev/null || [ -f /usr/include/PCSC/winscard.h ]; then \
	  $(BIN)/python -m pip install -q -e '.[pcsc]'; \
	else echo "pyscard skipped: libpcsclite-dev missing (make system installs it as root)"; fi
	touch $(STAMP)

venv: $(STAMP)

system:
	bash scripts/install-system-packages.sh

demo: venv
	$(BIN)/mynagate demo $(if $(ONCE),--once,)

test: system
	$(MAKE) venv
	bash scripts/run-tests.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: venv
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
