#!/usr/bin/env bash
# End to end: `kommo-cli leads import` and `contacts import` against kommo-grpc-server and
# kommo-emulator. An import killed halfway (SIGKILL) and run again creates every row exactly once;
# refused rows land in the reject file; a server restarted mid-import loses nothing and doubles
# nothing; a contacts file imported twice adds no contact twice. Usage: kommo_cli_import_e2e.sh BIN
set -uo pipefail

BIN=$1
CLI=$BIN/kommo-cli
source "$(dirname "$0")/services.sh"

FAILED=0
PASSED=0
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
pass() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
expect() { [[ "$3" == "$2" ]] && pass "$1" || fail "$1: want [$2], got [$3]"; }
PY=/usr/bin/python3

# --- services: the emulator, and a server slow enough (10 Kommo requests a second) to be killed
# halfway through 300 rows.
EMU_TOKEN="import-e2e-$RANDOM$RANDOM"
"$BIN/kommo-emulator" --listen=127.0.0.1:0 --token="$EMU_TOKEN" >"$WORK/emulator.out" 2>&1 &
SERVICE_PIDS+=($!)
line=$(wait_for_line "$WORK/emulator.out" '^kommo-emulator listening on ') ||
  { echo "kommo-emulator did not start:"; cat "$WORK/emulator.out"; exit 1; }
EMU_URL=${line##* }

SERVER_PID=
# start_server LISTEN LOG: starts kommo-grpc-server; sets SERVER_PID and PORT.
start_server() {
  KOMMO_API_URL=$EMU_URL KOMMO_ACCESS_TOKEN=$EMU_TOKEN KOMMO_RATE_LIMIT_RPS=10 \
    "$BIN/kommo-grpc-server" --listen="$1" >"$2" 2>"$2.err" &
  SERVER_PID=$!
  SERVICE_PIDS+=("$SERVER_PID")
  local started
  started=$(wait_for_line "$2" 'listening on port [0-9]+') ||
    { echo "kommo-grpc-server did not start:"; cat "$2" "$2.err"; exit 1; }
  PORT=$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$started")
}
start_server 127.0.0.1:0 "$WORK/server.out"
TARGET=127.0.0.1:$PORT

# leads_named PREFIX: "NAME<TAB>COUNT" for every lead in the emulator whose name starts with
# PREFIX, read through Kommo's own API (not through the service under test).
leads_named() {
  $PY - "$EMU_URL" "$EMU_TOKEN" "$1" <<'EOF'
import collections, json, sys, urllib.request
url, token, prefix = sys.argv[1:]
counts = collections.Counter()
page = 1
while True:
    request = urllib.request.Request(f"{url}/api/v4/leads?limit=250&page={page}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        body = response.read()
    if not body:
        break
    leads = json.loads(body)["_embedded"]["leads"]
    counts.update(lead["name"] for lead in leads if lead["name"].startswith(prefix))
    if len(leads) < 250:
        break
    page += 1
for name, count in sorted(counts.items()):
    print(f"{name}\t{count}")
EOF
}
# journal_rows FILE: the rows a journal holds (its lines after the header).
journal_rows() { [[ -f "$1" ]] && echo $(($(wc -l <"$1") - 1)) || echo 0; }

# --- 1. leads: 300 rows, killed halfway, run again --------------------------------------------------
# Row i (line i+1) is "Import i" with price 10*i; row 7's name holds a comma and quotes; row 50 has
# a bad price (the reader refuses it); row 120's name is too long (the server refuses it).
CSV=$WORK/leads.csv
$PY - "$CSV" <<'EOF'
import sys
with open(sys.argv[1], "w", newline="") as f:
    f.write("\ufeffname,price,tags,cf:UTM_SOURCE\r\n")
    for i in range(1, 301):
        name = f"Import {i}"
        price = str(10 * i)
        if i == 7:
            name = 'Import 7, "quoted"'
        if i == 50:
            price = "12a"
        if i == 120:
            name = "Import 120 " + "x" * 300
        quoted = '"' + name.replace('"', '""') + '"' if ("," in name or '"' in name) else name
        f.write(f"{quoted},{price},import;e2e,newsletter\r\n")
EOF

"$CLI" --target="$TARGET" leads import "$CSV" --concurrency=10 --progress=lines \
  >"$WORK/run1.out" 2>"$WORK/run1.err" &
CLI_PID=$!
for _ in $(seq 1 600); do
  (($(journal_rows "$CSV.journal") >= 60)) && break
  kill -0 "$CLI_PID" 2>/dev/null || break
  sleep 0.02
done
kill -KILL "$CLI_PID" 2>/dev/null
wait "$CLI_PID" 2>/dev/null
DONE_BEFORE=$(journal_rows "$CSV.journal")
((DONE_BEFORE >= 60 && DONE_BEFORE < 300)) && pass "the first run was killed halfway ($DONE_BEFORE rows journaled)" ||
  fail "the first run was not killed halfway: $DONE_BEFORE rows journaled; $(cat "$WORK/run1.err")"

"$CLI" --target="$TARGET" leads import "$CSV" --concurrency=10 --progress=lines --json \
  >"$WORK/run2.out" 2>"$WORK/run2.err"
expect "the resumed run exits 3 (rows rejected)" 3 $?
summary() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# Rows journaled by the first run (a reject among them, perhaps) count as skipped.
expect "the resumed run's summary" "300 300 0 True" \
  "$(summary "$WORK/run2.out" 'd["rows"], d["skipped"] + d["created"] + d["rejected"], d["unknown"], d["complete"]')"
expect "the resumed run skipped the journaled rows" "$DONE_BEFORE" \
  "$(summary "$WORK/run2.out" 'd["skipped"]')"
grep -q "rows .*/s" "$WORK/run2.err" && pass "progress lines on a pipe" ||
  fail "no progress lines: $(cat "$WORK/run2.err")"

leads_named "Import " >"$WORK/leads.tsv"
expect "298 leads, each name once" "298 1" \
  "$(awk -F'\t' '{n++; if ($2 > max) max = $2} END {print n, max}' "$WORK/leads.tsv")"
expect "no lead for the rejected rows" "" "$(grep -E '^Import (50|120)( |	)' "$WORK/leads.tsv")"
grep -q $'^Import 7, "quoted"\t1$' "$WORK/leads.tsv" && pass "a quoted name with a comma" ||
  fail "quoted name: $(grep 'Import 7' "$WORK/leads.tsv")"
expect "the emulator holds 298 leads" '{"count":298}' \
  "$(curl -s "$EMU_URL/_emulator/leads/count" | tr -d ' \n')"

# The reject file: the original row, its line and the reason; readable as CSV.
$PY - "$CSV.rejects.csv" >"$WORK/rejects.txt" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
print(rows[0])
for row in rows[1:]:
    print(row[-2], row[1], row[-1][:60])
EOF
expect "reject file header" "['name', 'price', 'tags', 'cf:UTM_SOURCE', 'reject_line', 'reject_reason']" \
  "$(head -1 "$WORK/rejects.txt")"
grep -q '^51 12a column 2 (price): "12a" is not a whole number' "$WORK/rejects.txt" &&
  pass "a bad number is rejected with its line" || fail "bad price: $(cat "$WORK/rejects.txt")"
grep -q '^121 1200 INVALID_ARGUMENT' "$WORK/rejects.txt" &&
  pass "a row the server refuses is rejected with the reason" || fail "server reject: $(cat "$WORK/rejects.txt")"
expect "two rejected rows" 3 "$(wc -l <"$WORK/rejects.txt")"

# A custom field by code and the tags reached Kommo.
ONE=$(curl -s -H "Authorization: Bearer $EMU_TOKEN" "$EMU_URL/api/v4/leads?query=Import%20299&with=tags")
$PY -c 'import json,sys; d=json.loads(sys.argv[1]); l=[x for x in d["_embedded"]["leads"] if x["name"]=="Import 299"][0]; print(l["price"], sorted(t["name"] for t in l["_embedded"]["tags"]), l["custom_fields_values"][0]["field_code"], l["custom_fields_values"][0]["values"][0]["value"])' "$ONE" \
  >"$WORK/one.txt" 2>&1
expect "price, tags and cf:UTM_SOURCE of a row" "2990 ['e2e', 'import'] UTM_SOURCE newsletter" "$(cat "$WORK/one.txt")"

# A third run has nothing left to do and writes nothing.
"$CLI" --target="$TARGET" leads import "$CSV" --progress=off --json >"$WORK/run3.out" 2>"$WORK/run3.err"
expect "a finished import run again skips every row" "300 0" \
  "$(summary "$WORK/run3.out" 'd["skipped"], d["created"]')"
expect "still 298 leads" '{"count":298}' "$(curl -s "$EMU_URL/_emulator/leads/count" | tr -d ' \n')"

# The file edited after the first run: the journal is refused, nothing is sent.
cp "$CSV" "$WORK/edited.csv"
cp "$CSV.journal" "$WORK/edited.csv.journal"
echo "Import 301,1,,," >>"$WORK/edited.csv"
"$CLI" --target="$TARGET" leads import "$WORK/edited.csv" >"$WORK/edited.out" 2>"$WORK/edited.err"
expect "an edited file's old journal exits 2" 2 $?
grep -q "the file changed since the journal was written" "$WORK/edited.err" &&
  pass "an edited file's old journal is refused" || fail "edited: $(cat "$WORK/edited.err")"
expect "nothing sent for the edited file" '{"count":298}' "$(curl -s "$EMU_URL/_emulator/leads/count" | tr -d ' \n')"

# A header that names no field.
printf 'Deal,Budget\nA,1\n' >"$WORK/bad_header.csv"
"$CLI" --target="$TARGET" leads import "$WORK/bad_header.csv" >/dev/null 2>"$WORK/bad_header.err"
expect "an unknown header exits 2" 2 $?
grep -q "column 1 is headed \"Deal\"" "$WORK/bad_header.err" && pass "an unknown header is named" ||
  fail "bad header: $(cat "$WORK/bad_header.err")"
# ... mapped with --column.
"$CLI" --target="$TARGET" leads import "$WORK/bad_header.csv" --column Deal=name --column=Budget=price \
  --progress=off >"$WORK/mapped.out" 2>"$WORK/mapped.err"
expect "--column maps the headers" "0 1" "$? $(leads_named 'A' | grep -c $'^A\t1$')"

# --- 2. a server restart in the middle of an import ------------------------------------------------
CSV2=$WORK/restart.csv
{ echo "name"; for i in $(seq 1 200); do echo "Restart $i"; done; } >"$CSV2"
"$CLI" --target="$TARGET" leads import "$CSV2" --concurrency=10 --progress=off --json \
  >"$WORK/restart.out" 2>"$WORK/restart.err" &
CLI_PID=$!
for _ in $(seq 1 600); do
  (($(journal_rows "$CSV2.journal") >= 40)) && break
  sleep 0.02
done
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
DONE_BEFORE=$(journal_rows "$CSV2.journal")
((DONE_BEFORE < 200)) && pass "the server stopped mid-import ($DONE_BEFORE rows done)" ||
  fail "the import finished before the server stopped"
start_server "127.0.0.1:$PORT" "$WORK/server2.out"
wait "$CLI_PID"
code=$?
# Rows whose write was cut by the shutdown come back as outcome unknown (exit 3); the rest
# are created once.
[[ $code == 0 || $code == 3 ]] && pass "the import went on after the restart (exit $code)" ||
  fail "import across a restart exited $code: $(cat "$WORK/restart.err")"
UNKNOWN=$(summary "$WORK/restart.out" 'd["unknown"]')
expect "every row finished across the restart" "200 True" \
  "$(summary "$WORK/restart.out" 'd["created"] + d["unknown"], d["complete"]')"
leads_named "Restart " >"$WORK/restart.tsv"
expect "no lead twice across the restart" "1" "$(cut -f2 "$WORK/restart.tsv" | sort -u | tail -1)"
CREATED=$(wc -l <"$WORK/restart.tsv")
((CREATED >= 200 - UNKNOWN && CREATED <= 200)) && pass "every row created once ($UNKNOWN in doubt)" ||
  fail "restart: $CREATED leads, $UNKNOWN in doubt"

# --- 3. contacts: find-or-create, imported twice ---------------------------------------------------
printf 'first_name,last_name,phone,email\nAnn,Lee,+1 555 0100,ann@example.com\nBo,Kim,+1 555 0200,\nCy,Ng,,cy@example.com\nDee,,,\n' \
  >"$WORK/people.csv"
"$CLI" --target="$TARGET" contacts import "$WORK/people.csv" --progress=off --json \
  >"$WORK/people1.out" 2>"$WORK/people1.err"
code=$?
expect "contacts import: 3 created, 1 rejected (exit 3)" "3 0 1 3" \
  "$(summary "$WORK/people1.out" 'd["created"], d["matched"], d["rejected"]') $code"
# The same people in another file (another order, other formatting): matched, not added again.
printf 'phone,name\n15550200,Bo Kim\n"+1 (555) 0100",Ann Lee\n' >"$WORK/people2.csv"
"$CLI" --target="$TARGET" contacts import "$WORK/people2.csv" --progress=off --json \
  >"$WORK/people2.out" 2>"$WORK/people2.err"
expect "the same people again are matched" "0 2 0" \
  "$(summary "$WORK/people2.out" 'd["created"], d["matched"], d["rejected"]')"
expect "the emulator holds 3 contacts" '{"count":3}' \
  "$(curl -s "$EMU_URL/_emulator/contacts/count" | tr -d ' \n')"
grep -q "no phone and no email" "$WORK/people.csv.rejects.csv" &&
  pass "a contact row with nothing to match by is rejected" ||
  fail "contact reject: $(cat "$WORK/people.csv.rejects.csv" 2>&1)"
grep -q "Dee" "$WORK/people1.err" && fail "contact data on stderr" || pass "no contact data on stderr"

# --- help and usage --------------------------------------------------------------------------------
"$CLI" leads import --help >"$WORK/help.out" 2>&1
expect "leads import --help exits 0" 0 $?
grep -q "^Usage: kommo-cli leads import FILE.csv" "$WORK/help.out" && pass "leads import --help" ||
  fail "help: $(cat "$WORK/help.out")"
# Into a file first: with pipefail, `grep -q` leaving early would fail the pipeline (SIGPIPE).
"$CLI" --help >"$WORK/top-help.out" 2>&1
grep -q "leads import FILE" "$WORK/top-help.out" && pass "--help lists leads import" ||
  fail "--help lacks import"
"$CLI" leads import >/dev/null 2>"$WORK/nofile.err"
expect "leads import without a file exits 2" 2 $?

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
