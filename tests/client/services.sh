# Sourced by the client end-to-end scripts: starts kommo-emulator and kommo-grpc-server from BIN
# on 127.0.0.1 with port 0, and stops them by PID when the script exits.
#
#   source services.sh
#   start_services "$BIN"   # sets EMU_URL, EMU_TOKEN, PORT and TARGET=127.0.0.1:$PORT
#
# WORK is a temp dir for the caller's files too; SERVICE_PIDS lists what to stop (append to it).
#
# Callers use `set -u`; the EXIT trap also removes WORK.

SERVICE_PIDS=()
WORK=$(mktemp -d)
# Every server started here (also by the caller): no metrics listener on the fixed default port.
export METRICS_LISTEN_ADDRESS=off

stop_services() {
  for pid in "${SERVICE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${SERVICE_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  SERVICE_PIDS=()
  rm -rf "$WORK"
}
trap stop_services EXIT

# wait_for_line FILE PATTERN: waits up to 10 s for a line matching PATTERN; prints it.
wait_for_line() {
  for _ in $(seq 1 200); do
    if line=$(grep -m1 -E "$2" "$1" 2>/dev/null); then
      echo "$line"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

start_services() {
  local bin=$1
  EMU_TOKEN="client-e2e-$RANDOM$RANDOM"
  "$bin/kommo-emulator" --listen=127.0.0.1:0 --token="$EMU_TOKEN" >"$WORK/emulator.out" 2>&1 &
  SERVICE_PIDS+=($!)
  local line
  line=$(wait_for_line "$WORK/emulator.out" '^kommo-emulator listening on ') ||
    { echo "kommo-emulator did not start:"; cat "$WORK/emulator.out"; exit 1; }
  EMU_URL=${line##* }

  KOMMO_API_URL=$EMU_URL KOMMO_ACCESS_TOKEN=$EMU_TOKEN KOMMO_RATE_LIMIT_RPS=100 \
    "$bin/kommo-grpc-server" --listen=127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVICE_PIDS+=($!)
  line=$(wait_for_line "$WORK/server.out" 'listening on port [0-9]+') ||
    { echo "kommo-grpc-server did not start:"; cat "$WORK/server.out" "$WORK/server.err"; exit 1; }
  PORT=$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$line")
  TARGET=127.0.0.1:$PORT
}
