#!/usr/bin/env bash
# `make run`: serves kommo-grpc in the foreground until Ctrl-C (which exits 0).
#  - With KOMMO_BASE_DOMAIN (or KOMMO_API_URL) and KOMMO_ACCESS_TOKEN (or KOMMO_ACCESS_TOKEN_FILE)
#    set: the server against that Kommo account. Only one of the pair set is an error, and so is
#    an unknown KOMMO_* variable (a misspelt name would otherwise switch to the emulator silently).
#  - With neither: the bundled Kommo emulator on 127.0.0.1:$EMULATOR_PORT and the server against it.
# Ports: GRPC_PORT (default 50051) for the server, EMULATOR_PORT (default 8080) for the emulator.
# The other server settings (`kommo-grpc-server --help`) are read from the environment as usual.
set -euo pipefail

BIN=${1:-build/bin}

# Ctrl-C in a terminal reaches every process of the foreground process group, make included, and
# make then fails with "Interrupt". Run the real work as its own foreground job (job control on),
# so that Ctrl-C reaches only it; it stops what it started and exits 0, and so does make.
if [[ -t 0 && -z "${KOMMO_RUN_FOREGROUND:-}" ]]; then
  set -m
  status=0
  KOMMO_RUN_FOREGROUND=1 "$0" "$@" || status=$?
  exit "$status"
fi

die() {
  echo "make run: $*" >&2
  exit 2
}

[[ -x "$BIN/kommo-grpc-server" && -x "$BIN/kommo-emulator" ]] ||
  die "no kommo-grpc-server or kommo-emulator in $BIN (run make build)"

PORT=${GRPC_PORT:-50051}
EMULATOR_PORT=${EMULATOR_PORT:-8080}
for setting in "GRPC_PORT=$PORT" "EMULATOR_PORT=$EMULATOR_PORT"; do
  value=${setting#*=}
  [[ $value =~ ^[0-9]+$ ]] && ((value >= 1 && value <= 65535)) ||
    die "${setting%%=*}=\"$value\" is not a port from 1 to 65535"
done

# Every KOMMO_* variable must be a setting the server knows (or kommo-cli's KOMMO_GRPC_TARGET).
known=" KOMMO_GRPC_TARGET KOMMO_RUN_FOREGROUND $("$BIN/kommo-grpc-server" --help |
  grep -oE '^  [A-Z_]+' | tr -d ' ' | tr '\n' ' ') "
unknown=()
while IFS= read -r name; do
  [[ $known == *" $name "* ]] || unknown+=("$name")
done < <(compgen -e | grep '^KOMMO_' || true)
((${#unknown[@]} == 0)) ||
  die "${unknown[*]}: not a setting kommo-grpc-server knows (see $BIN/kommo-grpc-server --help); fix the name or unset it"

has_account=false
[[ -n "${KOMMO_BASE_DOMAIN:-}${KOMMO_API_URL:-}" ]] && has_account=true
has_token=false
[[ -n "${KOMMO_ACCESS_TOKEN:-}${KOMMO_ACCESS_TOKEN_FILE:-}" ]] && has_token=true
if $has_account && ! $has_token; then
  die "KOMMO_BASE_DOMAIN or KOMMO_API_URL is set but neither KOMMO_ACCESS_TOKEN nor KOMMO_ACCESS_TOKEN_FILE: set the token too, or unset both to use the emulator"
fi
if $has_token && ! $has_account; then
  die "KOMMO_ACCESS_TOKEN(_FILE) is set but neither KOMMO_BASE_DOMAIN nor KOMMO_API_URL: set the account too, or unset both to use the emulator"
fi

WORK=$(mktemp -d)
pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "Stopping."; exit 0' INT TERM

# wait_for_line FILE PATTERN PID: until PATTERN shows up in FILE (true) or PID exits (false).
wait_for_line() {
  for _ in $(seq 1 200); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

emulator=false
if ! $has_account; then
  emulator=true
  token=dev-token
  "$BIN/kommo-emulator" --listen="127.0.0.1:${EMULATOR_PORT}" --token="$token" \
    > >(tee "$WORK/emulator.out" | sed -u 's/^/[emulator] /') 2>&1 &
  pids+=($!)
  wait_for_line "$WORK/emulator.out" '^kommo-emulator listening on ' "${pids[-1]}" ||
    die "the emulator did not start on 127.0.0.1:${EMULATOR_PORT} (port taken? set EMULATOR_PORT)"
  export KOMMO_API_URL="http://127.0.0.1:${EMULATOR_PORT}"
  export KOMMO_ACCESS_TOKEN="$token"
  echo "No Kommo credentials set: serving the bundled Kommo emulator at $KOMMO_API_URL"
fi

"$BIN/kommo-grpc-server" --listen="127.0.0.1:${PORT}" > >(tee "$WORK/server.out") &
pids+=($!)
wait_for_line "$WORK/server.out" 'listening on port [0-9]+' "${pids[-1]}" ||
  die "kommo-grpc-server did not start (see its line above; port taken? set GRPC_PORT)"
# The banner only when both are alive.
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || die "a process stopped during start-up (see above)"
done

T=127.0.0.1:${PORT}
BUF=tools/node_modules/@bufbuild/buf-linux-x64/bin/buf
CURL="$BUF curl --protocol grpc --http2-prior-knowledge"
echo
echo "kommo-grpc is serving on $T. Try it from another terminal:"
echo
if $emulator; then
  cat <<TEXT
  $BIN/kommo-cli --target=$T leads create --name "Website inquiry" --price 1500
  $BIN/kommo-cli --target=$T contacts create --responsible_user_id 8000001 --created_by 8000001 --name "Ann Lee" --phones "+1 555 0100" --emails ann@example.com
  $BIN/kommo-cli --target=$T leads search --query inquiry
  $BIN/kommo-cli leads --help

  $CURL --list-methods http://$T
  $CURL -d '{"name":"Website inquiry","price":"1500"}' http://$T/kommo.v1.LeadService/CreateLead
  $CURL -d '{"query":"ann@example.com"}' http://$T/kommo.v1.ContactService/SearchContacts

  grpcurl -plaintext $T describe kommo.v1.LeadService     (if you have grpcurl; see README)

Emulator data starts empty; to start over: curl -s -X POST $KOMMO_API_URL/_emulator/reset
TEXT
else
  # A real account: only commands that read, so that trying them writes nothing into the CRM.
  cat <<TEXT
  $BIN/kommo-cli --target=$T leads search --query inquiry --page_size 5
  $BIN/kommo-cli --target=$T contacts search --query example.com --page_size 5
  $BIN/kommo-cli leads --help

  $CURL --list-methods http://$T
  $CURL -d '{"query":"inquiry","page_size":5}' http://$T/kommo.v1.LeadService/SearchLeads
  $CURL http://$T/grpc.health.v1.Health/Check

  grpcurl -plaintext $T describe kommo.v1.LeadService     (if you have grpcurl; see README)

This is a real Kommo account: creating or updating leads and contacts writes into its CRM.
TEXT
fi
echo
echo "Press Ctrl-C to stop."

# Until Ctrl-C (the INT trap exits 0) or one of the processes stops (an error).
status=0
wait -n "${pids[@]}" || status=$?
echo "make run: a process stopped (exit $status); stopping the rest" >&2
exit 1
