# Shared by the end-to-end scripts (source it): a work directory removed at exit, the PIDS of
# every process the script starts (stopped by PID at exit), pass/fail counters, wait_for_line.

WORK=$(mktemp -d)
PIDS=()
FAILED=0
PASSED=0

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
pass() { echo "ok: $*"; PASSED=$((PASSED + 1)); }

# wait_for_line FILE PATTERN: waits up to 10 s for a line matching PATTERN; prints it.
wait_for_line() {
  for _ in $(seq 1 100); do
    if line=$(grep -m1 -E "$2" "$1" 2>/dev/null); then echo "$line"; return 0; fi
    sleep 0.1
  done
  return 1
}
