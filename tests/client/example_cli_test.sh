#!/usr/bin/env bash
# Issue 11: every example binary answers --help, and names a missing ("is required") or empty
# ("must not be empty") flag with exit 2 before calling anything. Usage: example_cli_test.sh BIN
set -uo pipefail
EXAMPLE=$1
FAILED=0
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
pass() { echo "ok: $*"; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$EXAMPLE" --help >"$out" 2>&1
code=$?
[[ $code == 0 ]] && grep -q "^Usage: lead_qualification --email=EMAIL" "$out" &&
  pass "--help exits 0 with the usage" || fail "--help (exit $code): $(cat "$out")"

"$EXAMPLE" --email=ann@example.com --lead_name=Deal --responsible_user_id=1 >"$out" 2>&1
code=$?
[[ $code == 2 ]] && grep -qx "lead_qualification: --qualified_status_id is required (see --help)" "$out" &&
  pass "a missing flag is required" || fail "missing flag (exit $code): $(cat "$out")"

"$EXAMPLE" --email= --lead_name=Deal --responsible_user_id=1 --qualified_status_id=2 >"$out" 2>&1
code=$?
[[ $code == 2 ]] && grep -qx "lead_qualification: --email must not be empty" "$out" &&
  pass "an empty flag must not be empty" || fail "empty flag (exit $code): $(cat "$out")"

"$EXAMPLE" --email=a@b.c --lead_name=Deal --responsible_user_id=1 --qualified_status_id=2 --price= \
  >"$out" 2>&1
code=$?
[[ $code == 2 ]] && grep -qx "lead_qualification: --price must not be empty" "$out" &&
  pass "an empty number must not be empty" || fail "empty number (exit $code): $(cat "$out")"
[[ $FAILED == 0 ]]
