#!/usr/bin/env bash
# End to end: kommo-grpc-server with a callers file (CALLERS_FILE), kommo-cli with a bearer token
# (--token_file, KOMMO_GRPC_TOKEN) and with a client certificate (mTLS): what each caller may do,
# the refusals, a reload of the file, the audit lines, and no token in any log line.
# Usage: kommo_cli_callers_e2e.sh BIN_DIR
set -uo pipefail

BIN=$1
CLI=$BIN/kommo-cli
source "$(dirname "$0")/services.sh"
source "$(dirname "$0")/certs.sh"

source "$(dirname "$0")/checks.sh"
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

CHATBOT_TOKEN="chatbot-$RANDOM$RANDOM$RANDOM"
ANALYTICS_TOKEN="analytics-$RANDOM$RANDOM$RANDOM"
# callers_file METHODS_OF_CHATBOT: writes $WORK/callers.json (renamed over, as a Secret updates).
callers_file() {
  cat >"$WORK/callers.new" <<JSON
{"callers": [
  {"name": "chatbot", "tokens": [{"sha256": "$(sha "$CHATBOT_TOKEN")"}], "methods": [$1]},
  {"name": "analytics", "tokens": [{"sha256": "$(sha "$ANALYTICS_TOKEN")"}],
   "methods": ["kommo.v1.LeadService/Get*", "kommo.v1.LeadService/Search*"]},
  {"name": "billing", "certificate_identities": ["spiffe://crm/billing"],
   "methods": ["kommo.v1.LeadService/*"], "weight": 2}]}
JSON
  mv "$WORK/callers.new" "$WORK/callers.json"
}
callers_file '"kommo.v1.LeadService/CreateLead"'

C=$WORK/certs
mkdir -p "$C"
make_ca ca && make_ca client-ca &&
  make_cert ca server kommo-grpc "IP:127.0.0.1" &&
  make_cert client-ca billing billing "URI:spiffe://crm/billing" &&
  make_cert client-ca stranger stranger "URI:spiffe://crm/stranger" ||
  { echo "openssl could not make the test certificates"; exit 1; }

export CALLERS_FILE=$WORK/callers.json
export TLS_CERT_FILE=$C/server.crt TLS_KEY_FILE=$C/server.key TLS_CLIENT_CA_FILE=$C/client-ca.crt
start_services "$BIN"
unset CALLERS_FILE TLS_CERT_FILE TLS_KEY_FILE TLS_CLIENT_CA_FILE
grep -q '"msg":"calls are authenticated","callers":3' "$WORK/server.err" &&
  pass "the start-up log says calls are authenticated" || fail "start-up: $(cat "$WORK/server.err")"

TLS=(--target="$TARGET" --tls_ca="$C/ca.crt")
BILLING=("${TLS[@]}" --tls_cert="$C/billing.crt" --tls_key="$C/billing.key")
STRANGER=("${TLS[@]}" --tls_cert="$C/stranger.crt" --tls_key="$C/stranger.key")
printf '%s\n' "$ANALYTICS_TOKEN" >"$WORK/analytics.token"

# The chatbot creates (token from the environment, client certificate of a caller it is not:
# the token decides).
KOMMO_GRPC_TOKEN=$CHATBOT_TOKEN cli "$WORK/create" "${STRANGER[@]}" leads create \
  --name "Chat inquiry" --request_id chat-1 --json
expect "chatbot: leads create exits 0" 0 $?
LEAD=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lead"]["id"])' \
  "$WORK/create" 2>/dev/null)
[[ -n "$LEAD" ]] && pass "chatbot: lead $LEAD created" || fail "create: $(cat "$WORK/create"*)"

# ... but may not update: PERMISSION_DENIED (exit 10 + 7).
KOMMO_GRPC_TOKEN=$CHATBOT_TOKEN cli "$WORK/update" "${STRANGER[@]}" leads update \
  --lead_id "$LEAD" --price 5
expect "chatbot: leads update is PERMISSION_DENIED (17)" 17 $?
grep -q "METHOD_NOT_PERMITTED" "$WORK/update.err" &&
  grep -q "caller chatbot may not call kommo.v1.LeadService/UpdateLead" "$WORK/update.err" &&
  pass "the refusal names the caller and the method" || fail "update: $(cat "$WORK/update.err")"

# The read-only caller (token from a file) reads, and may not create.
cli "$WORK/get" "${STRANGER[@]}" --token_file="$WORK/analytics.token" leads get --lead_id "$LEAD"
expect "analytics: leads get exits 0" 0 $?
cli "$WORK/create2" "${STRANGER[@]}" --token_file="$WORK/analytics.token" leads create --name x
expect "analytics: leads create is PERMISSION_DENIED (17)" 17 $?

# No credentials, a client certificate naming nobody, a wrong token: UNAUTHENTICATED (10 + 16).
cli "$WORK/anonymous" "${STRANGER[@]}" leads get --lead_id "$LEAD"
expect "an unknown client certificate without a token is UNAUTHENTICATED (26)" 26 $?
grep -q "unknown_certificate\|names no caller" "$WORK/anonymous.err" &&
  pass "the refusal says the certificate names no caller" ||
  fail "anonymous: $(cat "$WORK/anonymous.err")"
KOMMO_GRPC_TOKEN=not-a-token cli "$WORK/wrong" "${STRANGER[@]}" leads get --lead_id "$LEAD"
expect "an unknown token is UNAUTHENTICATED (26)" 26 $?

# The certificate's identity names the billing caller: it may update, without a token.
cli "$WORK/billing" "${BILLING[@]}" leads update --lead_id "$LEAD" --price 1200 --json
expect "billing (client certificate): leads update exits 0" 0 $?

# A CSV import with the chatbot's token.
printf 'name,price\nImported one,10\nImported two,20\n' >"$WORK/leads.csv"
KOMMO_GRPC_TOKEN=$CHATBOT_TOKEN cli "$WORK/import" "${STRANGER[@]}" leads import \
  "$WORK/leads.csv" --progress=off
expect "chatbot: leads import exits 0" 0 $?

# The operator lets the chatbot update too: picked up without a restart.
callers_file '"kommo.v1.LeadService/CreateLead", "kommo.v1.LeadService/UpdateLead"'
ok=1
for _ in $(seq 1 40); do
  KOMMO_GRPC_TOKEN=$CHATBOT_TOKEN cli "$WORK/update2" "${STRANGER[@]}" leads update \
    --lead_id "$LEAD" --price 7 && { ok=0; break; }
  sleep 0.1
done
expect "after the callers file changed, the chatbot may update" 0 $ok
grep -q '"msg":"callers file reloaded"' "$WORK/server.err" && pass "the reload is logged" ||
  fail "no reload line"

# The audit trail: one line per write, with the caller, never a token.
# (grep -c reads all its input: grep -q could stop early and fail the pipeline under pipefail.)
audit() { grep '"msg":"audit"' "$WORK/server.err"; }
audit | grep -c "\"caller\":\"chatbot\",\"method\":\"kommo.v1.LeadService/CreateLead\".*\"idempotency_key\":\"chat-1\",\"code\":\"OK\".*\"lead_id\":\"$LEAD\"" >/dev/null &&
  pass "audit: the chatbot's create, with its lead id" || fail "audit: $(audit)"
audit | grep -c "\"caller\":\"billing\",\"method\":\"kommo.v1.LeadService/UpdateLead\".*\"code\":\"OK\".*\"lead_id\":\"$LEAD\"" >/dev/null &&
  pass "audit: billing's update" || fail "audit: $(audit)"
audit | grep -c "\"caller\":\"chatbot\",\"method\":\"kommo.v1.LeadService/UpdateLead\".*\"code\":\"PERMISSION_DENIED\".*\"lead_id\":\"$LEAD\"" >/dev/null &&
  pass "audit: the refused update" || fail "audit: $(audit)"
[[ $(audit | grep -c '"caller":"chatbot","method":"kommo.v1.LeadService/CreateLead"') == 3 ]] &&
  pass "audit: the import's two creates" || fail "audit: $(audit)"
! grep -qF -e "$CHATBOT_TOKEN" -e "$ANALYTICS_TOKEN" -e "$(sha "$CHATBOT_TOKEN")" \
  "$WORK/server.err" "$WORK/server.out" && pass "no token or token hash in the server's output" ||
  fail "a token reached the log"
! grep -q "Chat inquiry\|Imported one" "$WORK/server.err" && pass "no lead names in the log" ||
  fail "contact data in the log"

# The example callers file of the Kubernetes overlay is one the server accepts.
EXAMPLE=$(dirname "$0")/../../deploy/k8s/overlays/tls/callers.example.json
CALLERS_FILE=$EXAMPLE KOMMO_API_URL=$EMU_URL KOMMO_ACCESS_TOKEN=$EMU_TOKEN \
  "$BIN/kommo-grpc-server" --listen=127.0.0.1:0 >"$WORK/example.out" 2>"$WORK/example.err" &
SERVICE_PIDS+=($!)
wait_for_line "$WORK/example.err" '"msg":"calls are authenticated","callers":3' >/dev/null &&
  pass "the overlay's callers.example.json is accepted" ||
  fail "callers.example.json: $(cat "$WORK/example.out" "$WORK/example.err")"

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
