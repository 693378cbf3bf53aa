#!/usr/bin/env bash
# Issue 11: `make run` (scripts/run.sh) through a Makefile rule like the project's, in a
# pseudo-terminal. Half-set or misspelt credentials and bad ports are errors; the banner comes only
# once both processes are up and shows kommo-cli; against a real account (here: an emulator
# started separately) it suggests no writes; Ctrl-C exits 0 and make reports no error.
# Usage: make_run_test.sh SOURCE_DIR BIN_DIR
set -uo pipefail

SRC=$1
BIN=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

# A Makefile rule as the project's `run` (without its build step).
printf 'run:\n\t@scripts/run.sh %s\n' "$BIN" >"$WORK/Makefile"
cd "$SRC" || exit 1
# Only the variables a test sets: none of the caller's KOMMO_* settings.
clean_env=(env -u KOMMO_BASE_DOMAIN -u KOMMO_API_URL -u KOMMO_ACCESS_TOKEN -u KOMMO_ACCESS_TOKEN_FILE
           -u METRICS_LISTEN_ADDRESS -u GRPC_LISTEN_ADDRESS)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# refused NAME WANT VAR=VALUE...: make run must fail at once (no process started) saying WANT.
refused() {
  local name=$1 want=$2
  shift 2
  "${clean_env[@]}" "$@" timeout 20 make --no-print-directory -f "$WORK/Makefile" run \
    >"$WORK/$name" 2>&1 </dev/null
  local code=$?
  [[ $code != 0 ]] && grep -qF -- "$want" "$WORK/$name" && ! grep -q "serving on" "$WORK/$name" &&
    pass "$name: $(grep -F -- "$want" "$WORK/$name")" || fail "$name (exit $code): $(cat "$WORK/$name")"
}
refused domain_only "neither KOMMO_ACCESS_TOKEN nor KOMMO_ACCESS_TOKEN_FILE" KOMMO_BASE_DOMAIN=acme.kommo.com
refused token_only "neither KOMMO_BASE_DOMAIN nor KOMMO_API_URL" KOMMO_ACCESS_TOKEN=abc
refused misspelt "KOMMO_DOMAIN KOMMO_TOKEN: not a setting kommo-grpc-server knows" KOMMO_TOKEN=abc KOMMO_DOMAIN=acme
refused bad_port 'GRPC_PORT="70000" is not a port' GRPC_PORT=70000

# The emulator's port taken: no banner, an error naming EMULATOR_PORT.
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$WORK/taken_port" &
PIDS+=($!)
for _ in $(seq 1 50); do [[ -s "$WORK/taken_port" ]] && break; sleep 0.1; done
refused emulator_port_taken "set EMULATOR_PORT" EMULATOR_PORT="$(cat "$WORK/taken_port")" GRPC_PORT="$(free_port)"

# The emulator: banner with kommo-cli, then Ctrl-C.
GRPC=$(free_port)
EMU=$(free_port)
"${clean_env[@]}" GRPC_PORT=$GRPC EMULATOR_PORT=$EMU /usr/bin/python3 "$HERE/ctrl_c_in_a_terminal.py" \
  "Press Ctrl-C to stop." 30 make --no-print-directory -f "$WORK/Makefile" run >"$WORK/emulator_run" 2>&1
code=$?
[[ $code == 0 ]] && pass "Ctrl-C: make run exits 0" || fail "Ctrl-C exit $code: $(cat "$WORK/emulator_run")"
grep -q "make: \*\*\*" "$WORK/emulator_run" && fail "make reported an error" || pass "no make error"
grep -q "kommo-cli --target=127.0.0.1:$GRPC leads create" "$WORK/emulator_run" &&
  grep -q "buf curl --protocol grpc --http2-prior-knowledge --list-methods http://127.0.0.1:$GRPC" "$WORK/emulator_run" &&
  grep -q "_emulator/reset" "$WORK/emulator_run" &&
  pass "the banner shows kommo-cli, buf curl and the emulator reset" || fail "banner: $(cat "$WORK/emulator_run")"
# The banner comes after both processes announced themselves.
banner=$(grep -n "is serving on" "$WORK/emulator_run" | cut -d: -f1)
server=$(grep -n "kommo-grpc-server listening on port" "$WORK/emulator_run" | cut -d: -f1)
emulator=$(grep -n "kommo-emulator listening on" "$WORK/emulator_run" | cut -d: -f1)
[[ -n $banner && -n $server && -n $emulator ]] && ((banner > server && banner > emulator)) &&
  pass "banner after both processes are up" || fail "order: banner $banner server $server emulator $emulator"
(exec 3<>"/dev/tcp/127.0.0.1/$GRPC") 2>/dev/null && fail "the server still listens after Ctrl-C" ||
  pass "Ctrl-C stopped the server"

# A real account (an emulator started here, given as KOMMO_API_URL): no write commands suggested.
TOKEN="run-$RANDOM"
"$BIN/kommo-emulator" --listen=127.0.0.1:0 --token="$TOKEN" >"$WORK/real.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^kommo-emulator listening on ' "$WORK/real.out" && break; sleep 0.1; done
REAL_URL=$(sed -n 's/^kommo-emulator listening on //p' "$WORK/real.out")
"${clean_env[@]}" GRPC_PORT="$(free_port)" KOMMO_API_URL="$REAL_URL" KOMMO_ACCESS_TOKEN="$TOKEN" \
  /usr/bin/python3 "$HERE/ctrl_c_in_a_terminal.py" "Press Ctrl-C to stop." 30 \
  make --no-print-directory -f "$WORK/Makefile" run >"$WORK/real_run" 2>&1
code=$?
[[ $code == 0 ]] && grep -q "leads search" "$WORK/real_run" && grep -q "real Kommo account" "$WORK/real_run" &&
  ! grep -qE "create|CreateLead|CreateContact|UpdateLead|leads update" "$WORK/real_run" &&
  ! grep -q "bundled Kommo emulator" "$WORK/real_run" &&
  pass "a real account: read-only suggestions" || fail "real account (exit $code): $(cat "$WORK/real_run")"
grep -q "$TOKEN" "$WORK/real_run" && fail "the token is printed" || pass "the token is not printed"

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
