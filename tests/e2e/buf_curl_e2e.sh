#!/usr/bin/env bash
# End to end: the built binaries, called by a gRPC client nobody here wrote (`buf curl`) through
# server reflection. Usage: buf_curl_e2e.sh BIN_DIR BUF
# Starts kommo-emulator and kommo-grpc-server on 127.0.0.1 with port 0 and stops both by PID.
set -uo pipefail

BIN=$1
BUF=$2
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

# details FILE: the error JSON buf curl printed in FILE, with every detail's protobuf bytes
# decoded (buf prints google.rpc details it has no schema for as base64), as one string to grep.
details() {
  /usr/bin/python3 -c '
import base64, json, sys
d = json.load(open(sys.argv[1]))
out = [d.get("code", ""), d.get("message", "")]
for detail in d.get("details", []):
    raw = base64.urlsafe_b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4))
    text = "".join(c if c.isprintable() else " " for c in raw.decode("utf-8", "replace"))
    out.append(detail["type"] + " " + text)
print("\n".join(out))' "$1"
}

# json FILE PYTHON_EXPR: evaluates EXPR with `d` bound to the JSON in FILE; prints the result.
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

TOKEN="e2e-$RANDOM-token"
export METRICS_LISTEN_ADDRESS=127.0.0.1:0  # a free port each; the log line "metrics" names it
"$BIN/kommo-emulator" --listen=127.0.0.1:0 --token="$TOKEN" >"$WORK/emulator.out" 2>&1 &
PIDS+=($!)
EMU_LINE=$(wait_for_line "$WORK/emulator.out" '^kommo-emulator listening on ') ||
  { echo "emulator did not start"; cat "$WORK/emulator.out"; exit 1; }
EMU_URL=${EMU_LINE##* }

KOMMO_API_URL=$EMU_URL KOMMO_ACCESS_TOKEN=$TOKEN KOMMO_RATE_LIMIT_RPS=100 \
  "$BIN/kommo-grpc-server" --listen=127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
PIDS+=($SERVER_PID)
SERVER_LINE=$(wait_for_line "$WORK/server.out" 'listening on port [0-9]+') ||
  { echo "server did not start"; cat "$WORK/server.out" "$WORK/server.err"; exit 1; }
PORT=$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$SERVER_LINE")
TARGET=http://127.0.0.1:$PORT

# call METHOD JSON OUT: buf curl through reflection; stdout to OUT, stderr to OUT.err; returns
# buf's exit code (the gRPC code times 8).
call() {
  "$BUF" curl --protocol grpc --http2-prior-knowledge --timeout 20s -d "$2" \
    "$TARGET/$1" >"$3" 2>"$3.err"
}

# --- reflection -----------------------------------------------------------------------------
"$BUF" curl --protocol grpc --http2-prior-knowledge --list-services "$TARGET" >"$WORK/services"
for service in kommo.v1.LeadService kommo.v1.ContactService grpc.health.v1.Health; do
  grep -qx "$service" "$WORK/services" && pass "reflection lists $service" ||
    fail "reflection does not list $service: $(cat "$WORK/services")"
done
"$BUF" curl --protocol grpc --http2-prior-knowledge --list-methods "$TARGET" >"$WORK/methods"
for method in LeadService/CreateLead LeadService/UpdateLead LeadService/GetLead \
              LeadService/SearchLeads ContactService/CreateContact ContactService/GetContact \
              ContactService/SearchContacts; do
  grep -qx "kommo.v1.$method" "$WORK/methods" && pass "reflection lists $method" ||
    fail "reflection does not list $method"
done

call grpc.health.v1.Health/Check '{}' "$WORK/health"
[[ $(json "$WORK/health" 'd["status"]') == SERVING ]] && pass "health SERVING" ||
  fail "health: $(cat "$WORK/health" "$WORK/health.err")"

# --- every RPC ------------------------------------------------------------------------------
call kommo.v1.ContactService/CreateContact \
  '{"responsible_user_id":"8000001","created_by":"8000001","first_name":"Ann","last_name":"Lee","phones":["+1 555 0100"],"emails":["ann@example.com"]}' \
  "$WORK/contact" || fail "CreateContact: $(cat "$WORK/contact.err")"
CONTACT_ID=$(json "$WORK/contact" 'd["contact"]["id"]')
[[ $(json "$WORK/contact" 'd["contact"]["name"], d["contact"]["phones"], d["contact"]["emails"]') == \
   "Ann Lee ['+1 555 0100'] ['ann@example.com']" ]] && pass "CreateContact fields" ||
  fail "CreateContact fields: $(cat "$WORK/contact")"
(( CONTACT_ID > 2147483648 )) && pass "contact id above 2^31 ($CONTACT_ID)" ||
  fail "contact id $CONTACT_ID"

call kommo.v1.LeadService/CreateLead \
  "{\"name\":\"E2E lead\",\"price\":\"1500\",\"contact_ids\":[\"$CONTACT_ID\"]}" "$WORK/lead" ||
  fail "CreateLead: $(cat "$WORK/lead.err")"
LEAD_ID=$(json "$WORK/lead" 'd["lead"]["id"]')
[[ $(json "$WORK/lead" 'd["lead"]["name"], d["lead"]["price"], d["lead"]["pipelineId"], d["lead"]["statusId"], d["lead"]["contactIds"], "createdAt" in d["lead"]') == \
   "E2E lead 1500 7000001 60000002 ['$CONTACT_ID'] True" ]] && pass "CreateLead read back" ||
  fail "CreateLead fields: $(cat "$WORK/lead")"

call kommo.v1.LeadService/UpdateLead "{\"lead_id\":\"$LEAD_ID\",\"price\":\"0\",\"status_id\":\"60000003\"}" \
  "$WORK/updated" || fail "UpdateLead: $(cat "$WORK/updated.err")"
[[ $(json "$WORK/updated" 'd["lead"].get("price", "0"), d["lead"]["statusId"], d["lead"]["name"]') == \
   "0 60000003 E2E lead" ]] && pass "UpdateLead price 0 and stage" ||
  fail "UpdateLead: $(cat "$WORK/updated")"

call kommo.v1.LeadService/GetLead "{\"lead_id\":\"$LEAD_ID\"}" "$WORK/got" ||
  fail "GetLead: $(cat "$WORK/got.err")"
[[ $(json "$WORK/got" 'd["lead"]["id"], d["lead"]["statusId"]') == "$LEAD_ID 60000003" ]] &&
  pass "GetLead" || fail "GetLead: $(cat "$WORK/got")"

call kommo.v1.LeadService/SearchLeads '{"query":"e2e","page_size":10}' "$WORK/search" ||
  fail "SearchLeads: $(cat "$WORK/search.err")"
[[ $(json "$WORK/search" '[l["id"] for l in d["leads"]]') == "['$LEAD_ID']" ]] &&
  pass "SearchLeads" || fail "SearchLeads: $(cat "$WORK/search")"

call kommo.v1.LeadService/SearchLeads '{"query":"nothing like it"}' "$WORK/empty" ||
  fail "empty SearchLeads: $(cat "$WORK/empty.err")"
[[ $(json "$WORK/empty" 'len(d.get("leads", []))') == 0 ]] && pass "empty search is an empty list" ||
  fail "empty search: $(cat "$WORK/empty")"

call kommo.v1.ContactService/GetContact "{\"contact_id\":\"$CONTACT_ID\"}" "$WORK/gotc" ||
  fail "GetContact: $(cat "$WORK/gotc.err")"
[[ $(json "$WORK/gotc" 'd["contact"]["firstName"], d["contact"]["lastName"]') == "Ann Lee" ]] &&
  pass "GetContact" || fail "GetContact: $(cat "$WORK/gotc")"

call kommo.v1.ContactService/SearchContacts '{"query":"ann@example.com"}' "$WORK/searchc" ||
  fail "SearchContacts: $(cat "$WORK/searchc.err")"
[[ $(json "$WORK/searchc" '[c["id"] for c in d["contacts"]]') == "['$CONTACT_ID']" ]] &&
  pass "SearchContacts by email" || fail "SearchContacts: $(cat "$WORK/searchc")"

# --- errors: the documented code (buf exits with code*8) and details --------------------------
call kommo.v1.LeadService/CreateLead '{"price":"-1"}' "$WORK/invalid"
code=$?
details "$WORK/invalid.err" >"$WORK/invalid.txt"
[[ $code == 24 ]] && grep -q "ErrorInfo.*INVALID_FIELD" "$WORK/invalid.txt" &&
  grep -q "BadRequest.*name.*price" "$WORK/invalid.txt" && pass "invalid field → INVALID_ARGUMENT + BadRequest" ||
  fail "invalid field (exit $code): $(cat "$WORK/invalid.err")"

call kommo.v1.LeadService/CreateLead '{"name":"x","pipeline_id":"7000001","status_id":"60000012"}' "$WORK/kommo_invalid"
code=$?
details "$WORK/kommo_invalid.err" >"$WORK/kommo_invalid.txt"
[[ $code == 24 ]] && grep -q "ErrorInfo.*INVALID_FIELD" "$WORK/kommo_invalid.txt" &&
  grep -q "BadRequest.*status_id" "$WORK/kommo_invalid.txt" && pass "unknown stage → INVALID_ARGUMENT before Kommo" ||
  fail "unknown stage (exit $code): $(cat "$WORK/kommo_invalid.err")"

call kommo.v1.LeadService/GetLead '{"lead_id":"31000009999"}' "$WORK/missing"
code=$?
[[ $code == 40 ]] && details "$WORK/missing.err" | grep -q "ErrorInfo.*LEAD_NOT_FOUND" && pass "unknown id → NOT_FOUND" ||
  fail "unknown id (exit $code): $(cat "$WORK/missing.err")"

# A second server with a wrong token.
KOMMO_API_URL=$EMU_URL KOMMO_ACCESS_TOKEN=wrong-token-value \
  "$BIN/kommo-grpc-server" --listen=127.0.0.1:0 >"$WORK/wrong.out" 2>"$WORK/wrong.err" &
WRONG_PID=$!
PIDS+=($WRONG_PID)
WRONG_LINE=$(wait_for_line "$WORK/wrong.out" 'listening on port [0-9]+') || fail "second server"
WRONG_PORT=$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$WRONG_LINE")
"$BUF" curl --protocol grpc --http2-prior-knowledge -d '{"lead_id":"31000000001"}' \
  "http://127.0.0.1:$WRONG_PORT/kommo.v1.LeadService/GetLead" >"$WORK/unauth" 2>"$WORK/unauth.err"
code=$?
[[ $code == 72 ]] && details "$WORK/unauth.err" | grep -q "ErrorInfo.*KOMMO_UNAUTHORIZED" && ! grep -q wrong-token-value "$WORK/unauth.err" &&
  pass "wrong token → FAILED_PRECONDITION" || fail "wrong token (exit $code): $(cat "$WORK/unauth.err")"

# --- metrics ------------------------------------------------------------------------------------
METRICS_PORT=$(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("msg") == "metrics":
        print(d["port"]); break' "$WORK/server.err")
if [[ -n "$METRICS_PORT" ]] && curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/metrics.txt"; then
  grep -q '^kommo_grpc_rpcs_total{code="OK",method="kommo.v1.LeadService/CreateLead"} 1$' "$WORK/metrics.txt" &&
    grep -q '^kommo_grpc_rpcs_total{code="NOT_FOUND",method="kommo.v1.LeadService/GetLead"} 1$' "$WORK/metrics.txt" &&
    grep -q '^kommo_grpc_kommo_requests_total{account="default",endpoint="POST /leads",status="200"} 1$' "$WORK/metrics.txt" &&
    grep -q '^kommo_grpc_rpc_duration_seconds_count{method="kommo.v1.LeadService/CreateLead"} 3$' "$WORK/metrics.txt" &&
    grep -q '^kommo_grpc_circuit_open{account="default"} 0$' "$WORK/metrics.txt" &&
    pass "metrics count RPCs and Kommo requests" || fail "metrics: $(cat "$WORK/metrics.txt")"
  if command -v promtool >/dev/null; then
    promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1 &&
      pass "promtool check metrics" || fail "promtool: $(cat "$WORK/promtool.out")"
  fi
else
  fail "no metrics endpoint (port '$METRICS_PORT')"
fi

# --- configuration errors and shutdown ---------------------------------------------------------
env -u KOMMO_ACCESS_TOKEN -u KOMMO_ACCESS_TOKEN_FILE KOMMO_BASE_DOMAIN=acme.kommo.com \
  "$BIN/kommo-grpc-server" --listen=127.0.0.1:0 >/dev/null 2>"$WORK/noconf.err"
code=$?
[[ $code == 2 ]] && grep -q "no Kommo access token" "$WORK/noconf.err" &&
  pass "missing token refused at start-up" || fail "missing token (exit $code): $(cat "$WORK/noconf.err")"

kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
code=$?
[[ $code == 0 ]] && pass "SIGTERM → exit 0" || fail "SIGTERM exit $code: $(cat "$WORK/server.err")"
if grep -q "$TOKEN" "$WORK"/*.out "$WORK"/*.err 2>/dev/null; then fail "the token appears in output"; else pass "token never printed"; fi

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
