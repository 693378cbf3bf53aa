#!/usr/bin/env bash
# End to end: kommo-grpc-server with KOMMO_ACCOUNTS_FILE over two emulators (one per account),
# kommo-cli --account: calls land on the named account, the default account without it, an unknown
# account is INVALID_ARGUMENT (UNKNOWN_ACCOUNT), a reload adds an account, one blocked account
# fails fast while the other serves, a bad file at start-up exits 2 naming the account and the
# field, and no token reaches a log line.
# Usage: kommo_cli_accounts_e2e.sh BIN_DIR
set -uo pipefail

BIN=$1
CLI=$BIN/kommo-cli
source "$(dirname "$0")/services.sh"
source "$(dirname "$0")/checks.sh"

# start_emulator NAME: an emulator of its own token; sets NAME_URL, NAME_TOKEN.
start_emulator() {
  local token="$1-e2e-$RANDOM$RANDOM$RANDOM" line
  "$BIN/kommo-emulator" --listen=127.0.0.1:0 --token="$token" >"$WORK/$1.out" 2>&1 &
  SERVICE_PIDS+=($!)
  line=$(wait_for_line "$WORK/$1.out" '^kommo-emulator listening on ') ||
    { echo "kommo-emulator did not start:"; cat "$WORK/$1.out"; exit 1; }
  printf -v "${1}_URL" %s "${line##* }"
  printf -v "${1}_TOKEN" %s "$token"
  printf '%s\n' "$token" >"$WORK/$1.token"
}
start_emulator acme
start_emulator globex

# accounts_file ENTRIES...: writes $WORK/accounts.json (renamed over, as a ConfigMap updates).
accounts_file() {
  local IFS=,
  printf '{"accounts": {%s}}\n' "$*" >"$WORK/accounts.new"
  mv "$WORK/accounts.new" "$WORK/accounts.json"
}
entry() {  # entry NAME EMULATOR [EXTRA]
  local url_var="${2}_URL"
  printf '"%s": {"api_url": "%s", "token_file": "%s", "rate_limit_rps": 50%s}' \
    "$1" "${!url_var}" "$WORK/$2.token" "${3:-}"
}

# A bad file stops the start: one line naming the file, the account and the field; exit 2.
accounts_file "$(entry acme acme ', "rate_limit_rps": 0')"
KOMMO_ACCOUNTS_FILE=$WORK/accounts.json "$BIN/kommo-grpc-server" --listen=127.0.0.1:0 \
  >"$WORK/bad.out" 2>"$WORK/bad.err"
expect "a bad accounts file exits 2" 2 $?
grep -q "KOMMO_ACCOUNTS_FILE $WORK/accounts.json: account \"acme\": rate_limit_rps" "$WORK/bad.err" &&
  [[ $(wc -l <"$WORK/bad.err") == 1 ]] &&
  pass "the start-up error names the file, the account and the field" ||
  fail "bad file: $(cat "$WORK/bad.err")"

accounts_file "$(entry acme acme ', "default": true')" "$(entry globex globex)"
KOMMO_ACCOUNTS_FILE=$WORK/accounts.json KOMMO_CIRCUIT_OPEN_DURATION=60s \
  "$BIN/kommo-grpc-server" --listen=127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVICE_PIDS+=($!)
line=$(wait_for_line "$WORK/server.out" 'listening on port [0-9]+') ||
  { echo "kommo-grpc-server did not start:"; cat "$WORK/server.out" "$WORK/server.err"; exit 1; }
TARGET=127.0.0.1:$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$line")
grep -q "2 Kommo accounts from $WORK/accounts.json: acme,globex; default: acme" "$WORK/server.out" &&
  pass "the first line names the accounts" || fail "first line: $(cat "$WORK/server.out")"

count() { curl -s "$1/_emulator/leads/count" | sed -E 's/.*"count":([0-9]+).*/\1/'; }

cli "$WORK/c1" --target="$TARGET" --account=globex leads create --name "For Globex"
expect "leads create --account=globex exits 0" 0 $?
cli "$WORK/c2" --target="$TARGET" leads create --name "For the default account"
expect "leads create without --account exits 0" 0 $?
[[ $(count "$globex_URL") == 1 && $(count "$acme_URL") == 1 ]] &&
  pass "each lead landed on its account's Kommo" ||
  fail "counts: acme $(count "$acme_URL"), globex $(count "$globex_URL")"

cli "$WORK/unknown" --target="$TARGET" --account=initech leads get --lead_id 1
expect "an unknown account exits 13 (INVALID_ARGUMENT)" 13 $?
grep -q "UNKNOWN_ACCOUNT" "$WORK/unknown.err" && grep -q 'initech' "$WORK/unknown.err" &&
  pass "the error says UNKNOWN_ACCOUNT and names the account" ||
  fail "unknown: $(cat "$WORK/unknown.err")"
cli "$WORK/badflag" --target="$TARGET" --account='no such' leads get --lead_id 1
expect "--account with a space is a usage error (2)" 2 $?

# A reload adds initech (on globex's emulator).
accounts_file "$(entry acme acme ', "default": true')" "$(entry globex globex)" \
  "$(entry initech globex)"
ok=
for _ in $(seq 1 50); do
  if cli "$WORK/reloaded" --target="$TARGET" --account=initech account show; then
    ok=1
    break
  fi
  sleep 0.1
done
[[ -n "$ok" ]] && pass "a reload adds an account while serving" ||
  fail "reload: $(cat "$WORK/reloaded.err")"
grep -q '"msg":"account added","account":"initech"' "$WORK/server.err" &&
  pass "the reload is logged" || fail "no reload line"

# acme is blocked by Kommo: its calls fail fast; globex's go on.
curl -s -X POST "$acme_URL/_emulator/block" >/dev/null
cli "$WORK/blocked" --target="$TARGET" --account=acme --max_attempts=1 leads get --lead_id 1
expect "a blocked account's call is UNAVAILABLE (24)" 24 $?
start=$(date +%s%N)
cli "$WORK/blocked2" --target="$TARGET" --account=acme --max_attempts=1 leads get --lead_id 1
expect "again UNAVAILABLE (24)" 24 $?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
grep -q KOMMO_ACCOUNT_BLOCKED "$WORK/blocked2.err" && ((elapsed_ms < 1000)) &&
  pass "the blocked account fails fast (${elapsed_ms} ms)" ||
  fail "blocked: ${elapsed_ms} ms, $(cat "$WORK/blocked2.err")"
cli "$WORK/other" --target="$TARGET" --account=globex account show
expect "the other account is served" 0 $?
grep -q '"msg":"Kommo blocks this account (HTML 403): failing calls fast, probing again later","account":"acme"' \
  "$WORK/server.err" && pass "the block is logged with its account" || fail "no block line"
grep -q '"msg":"rpc","method":"kommo.v1.AccountService/GetAccount","account":"globex"' "$WORK/server.err" &&
  pass "rpc lines name the account" ||
  fail "no account in rpc lines"

for token in "$acme_TOKEN" "$globex_TOKEN"; do
  grep -q "$token" "$WORK/server.out" "$WORK/server.err" "$WORK"/*.err &&
    fail "a token reached a log line or an error" || pass "no token in any output"
done

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
