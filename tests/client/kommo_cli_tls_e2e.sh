#!/usr/bin/env bash
# End to end: kommo-grpc-server with TLS and mTLS from certificate files, kommo-cli with --tls_ca,
# --tls_cert, --tls_key, --tls_server_name and a bearer token, and the start-up errors of TLS
# settings. Certificates are made here with the openssl command. Usage: kommo_cli_tls_e2e.sh BIN_DIR
set -uo pipefail

BIN=$1
CLI=$BIN/kommo-cli
SERVER=$BIN/kommo-grpc-server
source "$(dirname "$0")/services.sh"

source "$(dirname "$0")/checks.sh"

# --- certificates ---------------------------------------------------------------------------------
C=$WORK/certs
mkdir -p "$C"
source "$(dirname "$0")/certs.sh"
make_ca ca && make_ca client-ca && make_ca other-ca &&
  make_cert ca server kommo-grpc "IP:127.0.0.1,DNS:kommo-grpc.crm.svc" &&
  make_cert client-ca chatbot chatbot "URI:spiffe://crm/chatbot" &&
  make_cert other-ca stranger stranger "DNS:stranger" ||
  { echo "openssl could not make the test certificates"; exit 1; }

# --- start-up errors: one clear line, exit 2, no key material ---------------------------------------
EMU_TOKEN="tls-e2e-$RANDOM$RANDOM"
start_server_expecting_error() {  # NAME WANT_LINE ENV...
  local name=$1 want=$2
  shift 2
  env "$@" KOMMO_API_URL=http://127.0.0.1:9 KOMMO_ACCESS_TOKEN=$EMU_TOKEN \
    timeout 10 "$SERVER" --listen=127.0.0.1:0 >"$WORK/$name.out" 2>"$WORK/$name.err"
  local code=$?
  [[ $code == 2 ]] && grep -qF -- "$want" "$WORK/$name.err" &&
    ! grep -q "BEGIN" "$WORK/$name.err" "$WORK/$name.out" &&
    pass "start-up: $name (exit 2)" ||
    fail "start-up: $name (exit $code): $(cat "$WORK/$name.out" "$WORK/$name.err")"
}
start_server_expecting_error cert_alone "TLS_CERT_FILE is set without TLS_KEY_FILE" \
  TLS_CERT_FILE="$C/server.crt"
start_server_expecting_error ca_alone "TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE" \
  TLS_CLIENT_CA_FILE="$C/client-ca.crt"
start_server_expecting_error missing_key "TLS_KEY_FILE $C/none.key: cannot be read" \
  TLS_CERT_FILE="$C/server.crt" TLS_KEY_FILE="$C/none.key"
start_server_expecting_error wrong_key "TLS_KEY_FILE $C/chatbot.key: is not the key of the first" \
  TLS_CERT_FILE="$C/server.crt" TLS_KEY_FILE="$C/chatbot.key"
start_server_expecting_error key_as_cert "TLS_CERT_FILE $C/server.key: holds no PEM certificate" \
  TLS_CERT_FILE="$C/server.key" TLS_KEY_FILE="$C/server.key"

# --- mTLS: the real binaries --------------------------------------------------------------------------
export TLS_CERT_FILE=$C/server.crt TLS_KEY_FILE=$C/server.key TLS_CLIENT_CA_FILE=$C/client-ca.crt
start_services "$BIN"
unset TLS_CERT_FILE TLS_KEY_FILE TLS_CLIENT_CA_FILE
grep -q "listening on port $PORT (mTLS," "$WORK/server.out" &&
  grep -q '"msg":"gRPC transport".*"security":"mTLS"' "$WORK/server.err" &&
  pass "the start-up lines say mTLS" ||
  fail "start-up lines: $(cat "$WORK/server.out" "$WORK/server.err")"
! grep -q "BEGIN" "$WORK/server.err" && pass "no key material in the log" ||
  fail "the log holds PEM: $(cat "$WORK/server.err")"

MTLS=(--target="$TARGET" --tls_ca="$C/ca.crt" --tls_cert="$C/chatbot.crt" --tls_key="$C/chatbot.key")
cli "$WORK/pipelines" "${MTLS[@]}" account pipelines
expect "mTLS: account pipelines exits 0" 0 $?
grep -q "^pipeline 7000001  Sales funnel  (main)" "$WORK/pipelines" &&
  pass "mTLS: the call reached Kommo's emulator" || fail "mTLS: $(cat "$WORK/pipelines"*)"

cli "$WORK/lead" "${MTLS[@]}" leads create --name "Over mTLS" --price 10 --json
expect "mTLS: leads create exits 0" 0 $?
[[ $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lead"]["name"])' \
  "$WORK/lead") == "Over mTLS" ]] && pass "mTLS: the lead was created" ||
  fail "mTLS create: $(cat "$WORK/lead" "$WORK/lead.err")"

# A bearer token from a file or the environment rides along (the server may not check it yet).
printf 'e2e-token\n' >"$WORK/token"
cli "$WORK/with_token" "${MTLS[@]}" --token_file="$WORK/token" account show
expect "mTLS with --token_file exits 0" 0 $?
KOMMO_GRPC_TOKEN=env-token cli "$WORK/with_env_token" "${MTLS[@]}" account show
expect "mTLS with KOMMO_GRPC_TOKEN exits 0" 0 $?
cli "$WORK/no_token_file" "${MTLS[@]}" --token_file="$WORK/none" account show
expect "an unreadable --token_file exits 2" 2 $?
grep -q -- "--token_file: cannot read $WORK/none" "$WORK/no_token_file.err" &&
  pass "an unreadable --token_file is named" || fail "token file: $(cat "$WORK/no_token_file.err")"

# The certificate names kommo-grpc.crm.svc too; --tls_server_name checks that name instead.
cli "$WORK/by_name" "${MTLS[@]}" --tls_server_name=kommo-grpc.crm.svc account show
expect "--tls_server_name=kommo-grpc.crm.svc exits 0" 0 $?
cli "$WORK/wrong_name" "${MTLS[@]}" --tls_server_name=other.crm.svc account show --max_attempts=1
expect "--tls_server_name not in the certificate: UNAVAILABLE (24)" 24 $?

# Refused: no client certificate, a certificate of another CA, plaintext, an untrusted server.
cli "$WORK/anonymous" --target="$TARGET" --tls_ca="$C/ca.crt" account show --max_attempts=1
expect "mTLS without a client certificate: UNAVAILABLE (24)" 24 $?
cli "$WORK/stranger" --target="$TARGET" --tls_ca="$C/ca.crt" --tls_cert="$C/stranger.crt" \
  --tls_key="$C/stranger.key" account show --max_attempts=1
expect "mTLS with another CA's certificate: UNAVAILABLE (24)" 24 $?
cli "$WORK/plain" --target="$TARGET" account show --max_attempts=1
expect "plaintext to the TLS port: UNAVAILABLE (24)" 24 $?
cli "$WORK/untrusted" --target="$TARGET" --tls_ca="$C/other-ca.crt" --tls_cert="$C/chatbot.crt" \
  --tls_key="$C/chatbot.key" account show --max_attempts=1
expect "a server certificate of an untrusted CA: UNAVAILABLE (24)" 24 $?

# Usage errors before any call.
cli "$WORK/half" --target="$TARGET" --tls_cert="$C/chatbot.crt" account show
expect "--tls_cert without --tls_key exits 2" 2 $?
cli "$WORK/no_ca" --target="$TARGET" --tls_ca="$C/none.crt" account show
expect "an unreadable --tls_ca exits 2" 2 $?
grep -q "TLS CA file $C/none.crt: cannot be read" "$WORK/no_ca.err" &&
  pass "an unreadable --tls_ca is named" || fail "--tls_ca: $(cat "$WORK/no_ca.err")"

# --- TLS without client certificates ------------------------------------------------------------------
line=""
TLS_CERT_FILE=$C/server.crt TLS_KEY_FILE=$C/server.key KOMMO_API_URL=$EMU_URL \
  KOMMO_ACCESS_TOKEN=$EMU_TOKEN "$SERVER" --listen=127.0.0.1:0 >"$WORK/tls.out" 2>"$WORK/tls.err" &
SERVICE_PIDS+=($!)
if line=$(wait_for_line "$WORK/tls.out" 'listening on port [0-9]+ \(TLS,'); then
  TLS_TARGET=127.0.0.1:$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$line")
  cli "$WORK/tls_show" --target="$TLS_TARGET" --tls_ca="$C/ca.crt" account show
  expect "TLS: account show with --tls_ca exits 0" 0 $?
  cli "$WORK/tls_system" --target="$TLS_TARGET" --tls account show --max_attempts=1
  expect "TLS: --tls trusts only the system's CAs: UNAVAILABLE (24)" 24 $?
else
  fail "the TLS server did not start: $(cat "$WORK/tls.out" "$WORK/tls.err")"
fi

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
