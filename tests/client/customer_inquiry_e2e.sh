#!/usr/bin/env bash
# End to end: client/examples/customer_inquiry against kommo-grpc-server and kommo-emulator from
# BIN_DIR on 127.0.0.1 (port 0), checked with kommo-cli:
#  1. a new person: the lead and the contact made together, the transcript as a note on the lead,
#     the lead moved to the qualified stage;
#     then the same inquiry finished again with --lead_id (the note's request_id returns the first note);
#  2. the same person's second inquiry, from another email but the same phone written another
#     way: the contact matched and given the new email, a second lead linked to it;
#  3. an email two contacts share: CONTACT_AMBIGUOUS with both candidates, nothing written;
#  4. the command line: --help, a missing flag.
# No output may carry the person's email or phone. Usage: customer_inquiry_e2e.sh BIN_DIR EXAMPLE
set -uo pipefail

BIN=$1
EXAMPLE=$2
CLI=$BIN/kommo-cli
source "$(dirname "$0")/services.sh"
start_services "$BIN"

source "$(dirname "$0")/checks.sh"
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# no_contact_data FILE...: the files do not contain the test person's email or phone.
no_contact_data() {
  if grep -qiE "ann@example|ann.lee@work|555 ?0100|\(555\)" "$@"; then
    fail "contact data in the output: $(cat "$@")"
  else
    pass "no contact data in the output"
  fi
}

printf 'Visitor: Do you deliver to Lisbon?\nBot: Yes, within 3 days. May I take your email?\n' \
  >"$WORK/chat-1.txt"

# 1. A new person.
"$EXAMPLE" --target="$TARGET" --inquiry_id=chat-1 --email=ann@example.com --phone="+1 555 0100" \
  --name="Ann Lee" --subject="Chat: delivery to Lisbon" --price=1500 \
  --transcript_file="$WORK/chat-1.txt" --note_service="Website chat" --stage_ids=60000003 \
  >"$WORK/first" 2>"$WORK/first.err"
expect "first inquiry exits 0" 0 $?
cat "$WORK/first" "$WORK/first.err"
CONTACT=$(sed -nE 's/^contact ([0-9]+) created with the lead$/\1/p' "$WORK/first")
LEAD=$(sed -nE 's/^lead ([0-9]+) linked to .*$/\1/p' "$WORK/first")
[[ -n $CONTACT && -n $LEAD ]] && pass "a new person: contact created with the lead" ||
  fail "first inquiry: $(cat "$WORK/first" "$WORK/first.err")"
grep -qx "lead $LEAD linked to contacts $CONTACT, pipeline 7000001, stage 60000003" "$WORK/first" &&
  pass "the lead is linked and moved" || fail "first lead: $(cat "$WORK/first")"
NOTE=$(sed -nE "s/^note ([0-9]+) on lead $LEAD$/\1/p" "$WORK/first")
[[ -n $NOTE ]] && pass "the transcript is a note on the lead" || fail "no note: $(cat "$WORK/first")"
no_contact_data "$WORK/first" "$WORK/first.err"

"$CLI" --target="$TARGET" notes list --lead_id="$LEAD" --json >"$WORK/notes" 2>&1
expect "kommo-cli notes list: the transcript as the chat's message" \
  "$NOTE KIND_SERVICE_MESSAGE Website chat True" \
  "$(json "$WORK/notes" 'd["notes"][0]["id"], d["notes"][0]["kind"], d["notes"][0]["service"], d["notes"][0]["text"] == open("'"$WORK/chat-1.txt"'").read()')"

# 1b. The same inquiry finished again with --lead_id (as after a failure past the lead): the note's
# request_id brings back the note of the first run instead of adding a second one.
"$EXAMPLE" --target="$TARGET" --inquiry_id=chat-1 --email=ann@example.com --phone="+1 555 0100" \
  --name="Ann Lee" --subject="Chat: delivery to Lisbon" --price=1500 \
  --transcript_file="$WORK/chat-1.txt" --note_service="Website chat" --stage_ids=60000003 \
  --lead_id="$LEAD" >"$WORK/again" 2>"$WORK/again.err"
expect "the inquiry resumed exits 0" 0 $?
cat "$WORK/again" "$WORK/again.err"
grep -qx "lead $LEAD resumed" "$WORK/again" && grep -qx "note $NOTE on lead $LEAD" "$WORK/again" &&
  pass "resumed: the first run's note, no second one" || fail "resume: $(cat "$WORK/again" "$WORK/again.err")"
"$CLI" --target="$TARGET" notes list --lead_id="$LEAD" --json >"$WORK/notes_again" 2>&1
expect "still one note on the lead" 1 "$(json "$WORK/notes_again" 'len(d["notes"])')"

# 2. The same person again: another email, the same phone in another format.
"$EXAMPLE" --target="$TARGET" --inquiry_id=chat-2 --email=ann.lee@work.example \
  --phone="+1 (555) 0100" --subject="Chat: bulk order" --transcript="Visitor: 40 boxes?" \
  --stage_ids=60000003 >"$WORK/second" 2>"$WORK/second.err"
expect "second inquiry exits 0" 0 $?
cat "$WORK/second" "$WORK/second.err"
grep -qx "contact $CONTACT matched" "$WORK/second" && pass "the known person's contact matched" ||
  fail "second inquiry: $(cat "$WORK/second" "$WORK/second.err")"
LEAD2=$(sed -nE 's/^lead ([0-9]+) linked to .*$/\1/p' "$WORK/second")
[[ -n $LEAD2 && $LEAD2 != "$LEAD" ]] &&
  grep -qx "lead $LEAD2 linked to contacts $CONTACT, pipeline 7000001, stage 60000003" "$WORK/second" &&
  pass "a second lead, linked to the same contact" || fail "second lead: $(cat "$WORK/second")"
no_contact_data "$WORK/second" "$WORK/second.err"
"$CLI" --target="$TARGET" contacts get --contact_id="$CONTACT" --json >"$WORK/contact" 2>&1
expect "the contact got the new email, and kept its phone" "True True" \
  "$(json "$WORK/contact" '"ann.lee@work.example" in d["contact"]["emails"], "+1 555 0100" in d["contact"]["phones"]')"

# 3. Two contacts share an email: the example stops before writing, naming both.
for name in "Dup One" "Dup Two"; do
  "$CLI" --target="$TARGET" contacts create --responsible_user_id=8000001 --created_by=8000001 \
    --name="$name" --emails=shared@example.com --json >"$WORK/dup" 2>&1
  DUPS+=("$(json "$WORK/dup" 'd["contact"]["id"]')")
done
leads_count() {
  "$CLI" --target="$TARGET" leads search --page_size=250 --json >"$WORK/leads" 2>&1
  json "$WORK/leads" 'len(d["leads"])'
}
LEADS_BEFORE=$(leads_count)
"$EXAMPLE" --target="$TARGET" --inquiry_id=chat-3 --email=shared@example.com --subject="Chat: ?" \
  >"$WORK/third" 2>"$WORK/third.err"
expect "an ambiguous person exits 1" 1 $?
grep -q "find the contact failed: FAILED_PRECONDITION" "$WORK/third.err" &&
  grep -qx "candidate contact ${DUPS[0]}" "$WORK/third.err" &&
  grep -qx "candidate contact ${DUPS[1]}" "$WORK/third.err" &&
  pass "CONTACT_AMBIGUOUS with both candidates" || fail "ambiguous: $(cat "$WORK/third.err")"
expect "no lead for the ambiguous inquiry" "$LEADS_BEFORE" "$(leads_count)"

# 4. The command line.
"$EXAMPLE" --help >"$WORK/help" 2>&1
expect "--help exits 0" 0 $?
grep -q "^Usage: customer_inquiry --inquiry_id=ID --email=EMAIL --subject=TEXT" "$WORK/help" &&
  pass "--help prints the usage" || fail "--help: $(cat "$WORK/help")"
"$EXAMPLE" --email=a@example.com --subject=x >"$WORK/usage" 2>&1
expect "a missing flag exits 2" 2 $?
grep -qx "customer_inquiry: --inquiry_id is required (see --help)" "$WORK/usage" &&
  pass "a missing flag is named" || fail "missing flag: $(cat "$WORK/usage")"

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
