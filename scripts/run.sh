#!/usr/bin/env bash
# `make run`: serves kommo-grpc in the foreground.
#  - With KOMMO_BASE_DOMAIN (or KOMMO_API_URL) and KOMMO_ACCESS_TOKEN(_FILE) set: the server
#    against that Kommo account.
#  - Otherwise: the bundled Kommo emulator on 127.0.0.1:${EMULATOR_PORT:-8080} and the server
#    against it.
# Ctrl-C stops everything it started.
set -euo pipefail

BIN=${1:-build/bin}
PORT=${GRPC_PORT:-50051}
EMULATOR_PORT=${EMULATOR_PORT:-8080}
BUF=tools/node_modules/@bufbuild/buf-linux-x64/bin/buf
pids=()

cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup INT TERM EXIT

has_kommo=false
if [[ -n "${KOMMO_BASE_DOMAIN:-}${KOMMO_API_URL:-}" &&
      -n "${KOMMO_ACCESS_TOKEN:-}${KOMMO_ACCESS_TOKEN_FILE:-}" ]]; then
  has_kommo=true
fi

if ! $has_kommo; then
  token=dev-token
  "$BIN/kommo-emulator" --listen="127.0.0.1:${EMULATOR_PORT}" --token="$token" > >(
    while IFS= read -r line; do echo "[emulator] $line"; done) &
  pids+=($!)
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/${EMULATOR_PORT}") 2>/dev/null; then break; fi
    sleep 0.1
  done
  export KOMMO_API_URL="http://127.0.0.1:${EMULATOR_PORT}"
  export KOMMO_ACCESS_TOKEN="$token"
  unset KOMMO_BASE_DOMAIN KOMMO_ACCESS_TOKEN_FILE
  echo "No Kommo credentials set: serving the bundled Kommo emulator at $KOMMO_API_URL"
fi

"$BIN/kommo-grpc-server" --listen="127.0.0.1:${PORT}" &
pids+=($!)
for _ in $(seq 1 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then break; fi
  sleep 0.1
done

cat <<TEXT

kommo-grpc is serving on 127.0.0.1:${PORT}. Try it from another terminal:

  grpcurl -plaintext 127.0.0.1:${PORT} list
  grpcurl -plaintext -d '{"name":"Website inquiry","price":"1500"}' 127.0.0.1:${PORT} kommo.v1.LeadService/CreateLead
  grpcurl -plaintext -d '{"query":"inquiry"}' 127.0.0.1:${PORT} kommo.v1.LeadService/SearchLeads
  grpcurl -plaintext 127.0.0.1:${PORT} grpc.health.v1.Health/Check

  $BUF curl --protocol grpc --http2-prior-knowledge --list-services http://127.0.0.1:${PORT}
  $BUF curl --protocol grpc --http2-prior-knowledge -d '{"name":"Website inquiry","price":"1500"}' http://127.0.0.1:${PORT}/kommo.v1.LeadService/CreateLead
  $BUF curl --protocol grpc --http2-prior-knowledge -d '{"responsible_user_id":"8000001","created_by":"8000001","name":"Ann Lee","phones":["+1 555 0100"],"emails":["ann@example.com"]}' http://127.0.0.1:${PORT}/kommo.v1.ContactService/CreateContact
  $BUF curl --protocol grpc --http2-prior-knowledge -d '{"query":"ann@example.com"}' http://127.0.0.1:${PORT}/kommo.v1.ContactService/SearchContacts

Press Ctrl-C to stop.
TEXT

wait -n "${pids[@]}"
