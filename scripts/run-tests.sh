#!/usr/bin/env bash
# Runs the whole suite: lint, types, then pytest (the pcsc and nfc stacks included).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== tool versions"
echo "pcscd: $( (pcscd --version 2>&1 || true) | head -1)"
echo "nfcpy: $($BIN/python -c 'import nfc; print(nfc.__version__)' 2>&1)"
echo "pyscard: $($BIN/python -c 'import smartcard, importlib.metadata as m; print(m.version("pyscard"))' 2>&1)"
echo "== ruff"
$BIN/ruff check .
echo "== mypy (strict on gate/)"
$BIN/mypy
echo "== pytest"
$BIN/python -m pytest "$@"
