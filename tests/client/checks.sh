# Sourced by the client end-to-end scripts: counting checks and running kommo-cli.
#
#   pass NAME / fail NAME         count a check (FAILED is what the script's exit depends on)
#   expect NAME WANT GOT          pass when GOT is WANT, else fail saying both
#   cli OUT ARGS...               runs $CLI: stdout to OUT, stderr to OUT.err; returns its exit code
FAILED=0
PASSED=0
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
pass() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
expect() { [[ "$3" == "$2" ]] && pass "$1" || fail "$1: want [$2], got [$3]"; }
cli() {
  local out=$1
  shift
  "$CLI" "$@" >"$out" 2>"$out.err"
}
