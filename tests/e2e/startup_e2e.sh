#!/usr/bin/env bash
# End to end (issue 11): start-up through the built binaries. A taken gRPC port, bad settings and a
# taken metrics address each exit 2 with one clear line; servers with only the required settings
# start side by side; the start-up GET /account is logged and exported; KOMMO_API_URL ending in
# /api/v4 works; reflection carries the .proto comments; gRPC's own log lines are JSON.
# Usage: startup_e2e.sh BIN_DIR BUF. Everything on 127.0.0.1 with port 0, stopped by PID.
set -uo pipefail

BIN=$1
BUF=$2
SERVER=$BIN/kommo-grpc-server
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

# start NAME ARGS...: starts a server (environment as set by the caller) in the background, waits
# for its "listening" line and sets PORT; NAME.out / NAME.err in WORK.
start() {
  local name=$1
  shift
  "$SERVER" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  local line
  line=$(wait_for_line "$WORK/$name.out" 'listening on port [0-9]+') ||
    { fail "$name did not start: $(cat "$WORK/$name.out" "$WORK/$name.err")"; return 1; }
  PORT=$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$line")
}

# refused NAME WANT ARGS...: the server must exit 2 at once with one stderr line containing WANT.
refused() {
  local name=$1 want=$2
  shift 2
  timeout 10 "$SERVER" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  local code=$?
  local lines
  lines=$(wc -l <"$WORK/$name.err")
  [[ $code == 2 && $lines == 1 ]] && grep -qF -- "$want" "$WORK/$name.err" &&
    pass "$name: exit 2, one line: $(cat "$WORK/$name.err")" ||
    fail "$name: exit $code, $lines lines: $(cat "$WORK/$name.err")"
}

# log_field FILE MSG FIELD: FIELD of the first JSON log line of FILE whose msg starts with MSG.
log_field() {
  /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("msg", "").startswith(sys.argv[2]):
        print(d.get(sys.argv[3], "")); break' "$1" "$2" "$3"
}

rpc() {  # rpc PORT METHOD JSON OUT
  "$BUF" curl --protocol grpc --http2-prior-knowledge --timeout 20s -d "$3" \
    "http://127.0.0.1:$1/$2" >"$4" 2>"$4.err"
}

TOKEN="startup-$RANDOM-token"
"$BIN/kommo-emulator" --listen=127.0.0.1:0 --token="$TOKEN" >"$WORK/emulator.out" 2>&1 &
PIDS+=($!)
EMU_LINE=$(wait_for_line "$WORK/emulator.out" '^kommo-emulator listening on ') ||
  { echo "emulator did not start"; cat "$WORK/emulator.out"; exit 1; }
EMU_URL=${EMU_LINE##* }
unset METRICS_LISTEN_ADDRESS GRPC_LISTEN_ADDRESS KOMMO_BASE_DOMAIN KOMMO_ACCESS_TOKEN_FILE
export KOMMO_API_URL=$EMU_URL KOMMO_ACCESS_TOKEN=$TOKEN

# --- any number of servers with the required settings only; the start-up check ------------------
start first --listen=127.0.0.1:0 || exit 1
FIRST_PORT=$PORT
start second --listen=127.0.0.1:0 && start third --listen=127.0.0.1:0 &&
  pass "three servers with only the required settings start on one host"
wait_for_line "$WORK/first.err" '"msg":"Kommo answers the start-up check"' >/dev/null
[[ $(log_field "$WORK/first.err" "Kommo answers" account_id) == 31000001 &&
   $(log_field "$WORK/first.err" "Kommo answers" account_name) == "Kommo Emulator" ]] &&
  pass "start-up check logs the account id and name" ||
  fail "start-up check: $(cat "$WORK/first.err")"

rpc "$FIRST_PORT" kommo.v1.LeadService/CreateLead '{"name":"Startup lead"}' "$WORK/created" ||
  fail "CreateLead: $(cat "$WORK/created.err")"
LEAD_ID=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lead"]["id"])' "$WORK/created")

# --- a taken gRPC port ------------------------------------------------------------------------------
refused taken "GRPC_LISTEN_ADDRESS: cannot listen on 127.0.0.1:$FIRST_PORT: Address already in use" \
  --listen=127.0.0.1:$FIRST_PORT
for i in 1 2 3 4 5 6; do
  rpc "$FIRST_PORT" kommo.v1.LeadService/GetLead "{\"lead_id\":\"$LEAD_ID\"}" "$WORK/get$i" ||
    fail "GetLead $i on the first server: $(cat "$WORK/get$i.err")"
done
pass "every call reaches the one server on the port"

# --- bad settings -----------------------------------------------------------------------------------
refused range "GRPC_LISTEN_ADDRESS: port 99999 of \"127.0.0.1:99999\" is out of range" \
  --listen=127.0.0.1:99999
refused nonnumeric "GRPC_LISTEN_ADDRESS: port \"grpc\" of \"127.0.0.1:grpc\" is not a number" \
  --listen=127.0.0.1:grpc
refused unresolvable "GRPC_LISTEN_ADDRESS: host \"no-such-host.invalid\"" \
  --listen=no-such-host.invalid:0
refused metrics_range "METRICS_LISTEN_ADDRESS: port 70000" --listen=127.0.0.1:0 \
  --metrics_listen=127.0.0.1:70000
refused metrics_foreign "METRICS_LISTEN_ADDRESS: cannot listen on 192.0.2.1:0" --listen=127.0.0.1:0 \
  --metrics_listen=192.0.2.1:0

# --- metrics where asked; a taken metrics address; the start-up gauge --------------------------------
start metered --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 || exit 1
METERED_PORT=$PORT
METRICS_PORT=$(log_field "$WORK/metered.err" metrics port)
refused metrics_taken "METRICS_LISTEN_ADDRESS: cannot listen on 127.0.0.1:$METRICS_PORT" \
  --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:$METRICS_PORT
wait_for_line "$WORK/metered.err" 'start-up check' >/dev/null
curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | grep -qx 'kommo_grpc_startup_kommo_ok 1' &&
  pass "kommo_grpc_startup_kommo_ok 1 when Kommo answers" || fail "gauge 1"

# The Grafana dashboard and the alerting rules use only metric names the server exports. A
# labelled series exists once it has a sample (prometheus-cpp), so first one call that Kommo answers
# 503 once: a call, a Kommo request, a rate-limit wait and a retry.
curl -sf -X POST "$EMU_URL/_emulator/faults" \
  -d '{"match":"GET /api/v4/leads","fault":"status","status":503,"times":1}' >/dev/null
rpc "$METERED_PORT" kommo.v1.LeadService/GetLead "{\"lead_id\":\"$LEAD_ID\"}" "$WORK/metered_get" ||
  fail "GetLead through the metered server: $(cat "$WORK/metered_get.err")"
curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" >"$WORK/metrics.txt"
DEPLOY=$(cd "$(dirname "$0")/../../deploy" && pwd)
/usr/bin/python3 - "$WORK/metrics.txt" "$DEPLOY/grafana/kommo-grpc-dashboard.json" \
  "$DEPLOY/prometheus/kommo-grpc-alerts.yaml" >"$WORK/names.txt" <<'PY'
import re, sys
exported = set()
for line in open(sys.argv[1]):
    m = re.match(r"# TYPE (\w+) (\w+)", line)
    if m:
        exported.add(m.group(1))
        if m.group(2) == "histogram":
            exported.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
used = set()
for path in sys.argv[2:]:
    used |= set(re.findall(r"kommo_grpc_\w+", open(path).read()))
missing = sorted(used - exported)
print(" ".join(missing) if missing else "%d names, all exported" % len(used))
sys.exit(1 if missing else 0)
PY
[[ $? == 0 ]] && pass "dashboard and alerts use exported metrics: $(cat "$WORK/names.txt")" ||
  fail "dashboard or alerts name metrics the server does not export: $(cat "$WORK/names.txt")"

# A refused token: a warning, the gauge 0, health still SERVING, calls get a typed error.
KOMMO_ACCESS_TOKEN=wrong-token-value start refused_token --listen=127.0.0.1:0 \
  --metrics_listen=127.0.0.1:0 || exit 1
BAD_PORT=$PORT
wait_for_line "$WORK/refused_token.err" 'start-up check' >/dev/null
grep '"level":"warning"' "$WORK/refused_token.err" | grep -q 'Kommo refused the access token (HTTP 401)' &&
  pass "refused token: a warning at start-up" || fail "refused token: $(cat "$WORK/refused_token.err")"
BAD_METRICS=$(log_field "$WORK/refused_token.err" metrics port)
curl -sf "http://127.0.0.1:$BAD_METRICS/metrics" | grep -qx 'kommo_grpc_startup_kommo_ok 0' &&
  pass "kommo_grpc_startup_kommo_ok 0 when the token is refused" || fail "gauge 0"
rpc "$BAD_PORT" grpc.health.v1.Health/Check '{}' "$WORK/health"
grep -q SERVING "$WORK/health" && pass "readiness stays SERVING" || fail "health: $(cat "$WORK/health"*)"
grep -rq wrong-token-value "$WORK"/refused_token.* && fail "the token is in the log" ||
  pass "the token is never logged"

# Kommo unreachable.
KOMMO_API_URL=http://127.0.0.1:1 start unreachable --listen=127.0.0.1:0 || exit 1
wait_for_line "$WORK/unreachable.err" 'start-up check' >/dev/null
grep '"level":"warning"' "$WORK/unreachable.err" | grep -q 'Kommo is unreachable' &&
  pass "unreachable Kommo: a warning at start-up" || fail "unreachable: $(cat "$WORK/unreachable.err")"

# --- KOMMO_API_URL with /api/v4 ----------------------------------------------------------------------
KOMMO_API_URL=$EMU_URL/api/v4 start suffixed --listen=127.0.0.1:0 || exit 1
rpc "$PORT" kommo.v1.LeadService/GetLead "{\"lead_id\":\"$LEAD_ID\"}" "$WORK/suffixed_get" &&
  grep -q "\"id\": \"$LEAD_ID\"" "$WORK/suffixed_get" && pass "KOMMO_API_URL=.../api/v4: GetLead finds the lead" ||
  fail "suffixed GetLead: $(cat "$WORK/suffixed_get"*)"
rpc "$PORT" kommo.v1.LeadService/CreateLead '{"name":"Created through the suffixed URL"}' "$WORK/suffixed_create" &&
  pass "KOMMO_API_URL=.../api/v4: CreateLead" || fail "suffixed CreateLead: $(cat "$WORK/suffixed_create"*)"
rpc "$PORT" kommo.v1.LeadService/SearchLeads '{"query":"nothing like it"}' "$WORK/suffixed_search" &&
  pass "KOMMO_API_URL=.../api/v4: an empty search is no error" ||
  fail "suffixed SearchLeads: $(cat "$WORK/suffixed_search"*)"
grep -q "Kommo API $EMU_URL/api/v4," "$WORK/suffixed.out" && pass "the base path is not doubled" ||
  fail "banner: $(cat "$WORK/suffixed.out")"

# --- reflection carries the comments -------------------------------------------------------------------
rpc "$FIRST_PORT" grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo \
  '{"file_containing_symbol":"kommo.v1.LeadService"}' "$WORK/reflection"
/usr/bin/python3 -c '
import base64, json, sys
d = json.load(open(sys.argv[1]))
raw = base64.b64decode(d["fileDescriptorResponse"]["fileDescriptorProto"][0])
sys.exit(0 if b"No match is an empty list, not an error." in raw else 1)' "$WORK/reflection" &&
  pass "reflection: kommo/v1/lead_service.proto carries its comments" ||
  fail "reflection comments: $(head -c 300 "$WORK/reflection"; cat "$WORK/reflection.err")"
"$BUF" curl --protocol grpc --http2-prior-knowledge --list-methods "http://127.0.0.1:$FIRST_PORT" \
  >"$WORK/methods" 2>&1 && grep -qx kommo.v1.LeadService/CreateLead "$WORK/methods" &&
  pass "buf curl --list-methods through reflection" || fail "list-methods: $(cat "$WORK/methods")"

# --- gRPC's own log lines go through the JSON log -------------------------------------------------------
GRPC_VERBOSITY=debug LOG_LEVEL=debug start verbose --listen=127.0.0.1:0 || exit 1
kill -TERM "${PIDS[-1]}"
wait "${PIDS[-1]}"
/usr/bin/python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
grpc = [json.loads(l) for l in lines if json.loads(l).get("source") == "grpc"]
sys.exit(0 if lines and grpc else 1)' "$WORK/verbose.err" 2>/dev/null &&
  pass "every stderr line is JSON, gRPC's own included ($(grep -c '"source":"grpc"' "$WORK/verbose.err") lines)" ||
  fail "gRPC log lines: $(grep -v '^{' "$WORK/verbose.err" | head -3)"

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
