#!/usr/bin/env bash
# Runs the whole suite: lint, types, pytest on two workers (the nfc stack included; the pcsc
# stack in a serial run of its own, since the machine has one pcscd),
# then the fault suite in a step of its own (-m faults),
# then schemathesis against a live service (scripts/fuzz.py),
# then again, on the tests that read the clock, with the clock moved to each of CI's dates.
# MOVED_CLOCK=0 skips the moved-clock runs; arguments go to every pytest run.
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

LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
# The real-clock run notes here which tests read the clock; the moved-clock runs repeat those.
export MYNAGATE_TEST_CLOCK_READERS="$LOGS/clock-readers.txt"
: > "$MYNAGATE_TEST_CLOCK_READERS"
SUMMARY=()

# pytest with its output kept; adds "<label>: <pytest's last line>" to the summary.
run_pytest() {
  local label=$1 start rc=0
  shift
  start=$(date +%s)
  $BIN/python -m pytest "$@" < /dev/null 2>&1 | tee "$LOGS/run.log" || rc=$?
  SUMMARY+=("$label: $(grep -E '^=* ?[0-9]+ (passed|failed|error)' "$LOGS/run.log" | tail -1 \
    | tr -d '=' | sed 's/^ *//') (wall $(( $(date +%s) - start )) s)")
  return $rc
}

FAILED=0
echo "== pytest (real clock, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
run_pytest "real clock $(date -u +%Y-%m-%dT%H:%M:%SZ)" -n 2 -m "not pcsc and not faults" "$@" \
  || FAILED=1
# The machine has one pcscd, held per pytest session: the PC/SC stack runs in a serial session.
echo "== pytest, PC/SC stack through pcscd + vpcd (serial)"
# Its own readers file: the main run's list of tests that read the clock must survive it.
MYNAGATE_TEST_CLOCK_READERS="$LOGS/pcsc-readers.txt" run_pytest "pcsc (real clock)" \
  -m "pcsc and not faults" "$@" || FAILED=1
# Faults (partitions through a proxy, kill -9 of serve, a PostgreSQL crash, clock skew): their
# own step, at the real clock only; their subject is recovery, not the date.
echo "== pytest, fault suite"
MYNAGATE_TEST_CLOCK_READERS="$LOGS/faults-readers.txt" run_pytest "faults (real clock)" -n 2 \
  -m faults "$@" || FAILED=1

# Schemathesis on every route of a live `mynagate serve` (its own PostgreSQL database, admin
# token, signed device requests): any 5xx, error answer that is not problem details, or timeout
# fails the run. docs/security.md, "Fuzzing in CI".
echo "== schemathesis (live mynagate serve on PostgreSQL)"
fuzz_rc=0
$BIN/python scripts/fuzz.py < /dev/null 2>&1 | tee "$LOGS/fuzz.log" || fuzz_rc=$?
SUMMARY+=("$(grep '^schemathesis: ' "$LOGS/fuzz.log" | tail -1 \
  || echo "schemathesis: no summary line (exit $fuzz_rc)")")
[ "$fuzz_rc" = 0 ] || FAILED=1

if [ "${MOVED_CLOCK:-1}" != 0 ]; then
  echo "== moved clock: $(wc -l < "$MYNAGATE_TEST_CLOCK_READERS") tests read the clock"
  # The slow loops (kill -9, an offline week) run at the first date only: their subject is
  # crash safety and offline limits, relative to the clock, and they take minutes each.
  select="clock and not real_clock and not pcsc and not nfc and not faults"
  while IFS=$'\t' read -r name when; do
    echo "== pytest, clock moved to $when ($name): -m '$select'"
    MYNAGATE_TEST_MOVED_CLOCK=$when run_pytest "moved to $when ($name)" -n 2 -q \
      -m "$select" "$@" || FAILED=1
    select="clock and not real_clock and not pcsc and not nfc and not faults and not slow"
  done < <($BIN/python -m tests.clock_dates)
fi
echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
