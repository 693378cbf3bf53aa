#!/usr/bin/env bash
# End to end: kommo-cli against kommo-grpc-server and kommo-emulator, every subcommand, the table
# and --json output, the error report and the exit codes. Usage: kommo_cli_e2e.sh BIN_DIR
set -uo pipefail

BIN=$1
CLI=$BIN/kommo-cli
source "$(dirname "$0")/services.sh"
start_services "$BIN"
export KOMMO_GRPC_TARGET=$TARGET  # the default target; --target is tested below

source "$(dirname "$0")/checks.sh"

# json FILE EXPR: evaluates the Python expression EXPR with `d` bound to the JSON in FILE.
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# --- help -----------------------------------------------------------------------------------------
cli "$WORK/help" --help
expect "--help exits 0" 0 $?
grep -q "  leads update               kommo.v1.LeadService/UpdateLead" "$WORK/help" &&
  pass "--help lists the subcommands" || fail "--help: $(cat "$WORK/help")"
for sub in "leads create" "leads update" "leads get" "leads search" "contacts create" \
           "contacts get" "contacts search"; do
  # shellcheck disable=SC2086
  cli "$WORK/subhelp" $sub --help
  code=$?
  [[ $code == 0 ]] && grep -q "^Usage: kommo-cli $sub" "$WORK/subhelp" &&
    grep -q "Exit codes" "$WORK/subhelp" && pass "$sub --help" ||
    fail "$sub --help (exit $code): $(cat "$WORK/subhelp" "$WORK/subhelp.err")"
done

# Issue 11: a group lists its verbs; required and empty flags are named before any call.
cli "$WORK/group" leads --help
expect "leads --help exits 0" 0 $?
grep -q "leads search               kommo.v1.LeadService/SearchLeads" "$WORK/group" &&
  grep -q "leads create               kommo.v1.LeadService/CreateLead" "$WORK/group" &&
  pass "leads --help lists the verbs" || fail "leads --help: $(cat "$WORK/group" "$WORK/group.err")"
cli "$WORK/required" leads get
expect "a missing required flag exits 2" 2 $?
grep -q -- '--lead_id is required for "leads get"' "$WORK/required.err" &&
  pass "missing --lead_id: is required" || fail "required: $(cat "$WORK/required.err")"
cli "$WORK/empty" leads create --name=
expect "an empty value exits 2" 2 $?
grep -q -- "--name must not be empty" "$WORK/empty.err" && pass "--name=: must not be empty" ||
  fail "empty: $(cat "$WORK/empty.err")"

# --- every RPC ------------------------------------------------------------------------------------
cli "$WORK/contact" contacts create --responsible_user_id=8000001 --created_by 8000001 \
  --name "Ann Lee" --phones "+1 555 0100" --phones "+1 555 0101" --emails ann@example.com --json
expect "contacts create exits 0" 0 $?
CONTACT_ID=$(json "$WORK/contact" 'd["contact"]["id"]')
expect "contacts create --json fields" "Ann Lee ['+1 555 0100', '+1 555 0101'] ['ann@example.com']" \
  "$(json "$WORK/contact" 'd["contact"]["name"], d["contact"]["phones"], d["contact"]["emails"]')"

cli "$WORK/lead" leads create --name "Website inquiry" --price 1500 --contact_ids="$CONTACT_ID" --json
expect "leads create exits 0" 0 $?
LEAD_ID=$(json "$WORK/lead" 'd["lead"]["id"]')
expect "leads create read back" "Website inquiry 1500 7000001 60000002 ['$CONTACT_ID']" \
  "$(json "$WORK/lead" 'd["lead"]["name"], d["lead"]["price"], d["lead"]["pipeline_id"], d["lead"]["status_id"], d["lead"]["contact_ids"]')"

# UpdateLead sets only the flags given: the stage alone keeps the price; then --price=0 sets 0.
cli "$WORK/moved" leads update --lead_id="$LEAD_ID" --status_id=60000003 --json
expect "leads update --status_id keeps the price" "60000003 1500 Website inquiry" \
  "$(json "$WORK/moved" 'd["lead"]["status_id"], d["lead"]["price"], d["lead"]["name"]')"
cli "$WORK/zero" leads update --lead_id="$LEAD_ID" --price=0
expect "leads update --price=0 exits 0" 0 $?
grep -Eq "^price +0$" "$WORK/zero" && grep -Eq "^status_id +60000003$" "$WORK/zero" &&
  pass "leads update --price=0 sets 0 (table)" || fail "leads update --price=0: $(cat "$WORK/zero")"

cli "$WORK/get" leads get --lead_id="$LEAD_ID"
grep -Eq "^id +$LEAD_ID$" "$WORK/get" && grep -Eq "^contact_ids +$CONTACT_ID$" "$WORK/get" &&
  pass "leads get (table)" || fail "leads get: $(cat "$WORK/get" "$WORK/get.err")"

cli "$WORK/lead2" leads create --name "Website inquiry, second" --json
LEAD2_ID=$(json "$WORK/lead2" 'd["lead"]["id"]')
cli "$WORK/page1" leads search --query inquiry --page_size 1 --json
TOKEN=$(json "$WORK/page1" 'd["next_page_token"]')
[[ $(json "$WORK/page1" 'len(d["leads"])') == 1 && -n "$TOKEN" ]] &&
  pass "leads search: first page of 1 with a token" || fail "leads search page 1: $(cat "$WORK/page1")"
cli "$WORK/page2" leads search --query inquiry --page_size 1 --page_token "$TOKEN"
expect "leads search --page_token exits 0" 0 $?
SEEN=$(cat "$WORK/page1" "$WORK/page2")
[[ $SEEN == *"$LEAD_ID"* && $SEEN == *"$LEAD2_ID"* ]] && grep -q "^(last page)$" "$WORK/page2" &&
  pass "leads search: second page (table) ends the list" ||
  fail "leads search page 2: $(cat "$WORK/page2")"
cli "$WORK/none" leads search --query "nothing like it"
expect "empty search prints 'no leads'" "no leads
(last page)" "$(cat "$WORK/none")"

cli "$WORK/getc" contacts get --contact_id "$CONTACT_ID"
grep -Eq "^phones +\+1 555 0100, \+1 555 0101$" "$WORK/getc" && pass "contacts get (table)" ||
  fail "contacts get: $(cat "$WORK/getc" "$WORK/getc.err")"
cli "$WORK/searchc" contacts search --query ann@example.com --json
expect "contacts search by email" "['$CONTACT_ID']" "$(json "$WORK/searchc" '[c["id"] for c in d["contacts"]]')"

cli "$WORK/target" --target="$TARGET" contacts search --query "555 0100"
grep -q "^$CONTACT_ID " "$WORK/target" && pass "--target, phone search (table)" ||
  fail "--target: $(cat "$WORK/target" "$WORK/target.err")"

# --- lead capture: lookup, find-or-create, request ids, lead with contact, incoming leads, notes -----
for sub in "contacts lookup" "contacts find-or-create" "leads create-with-contact" \
           "leads incoming create" "leads incoming accept" "leads incoming decline" \
           "leads incoming list" "notes add" "notes list"; do
  # shellcheck disable=SC2086
  cli "$WORK/subhelp" $sub --help
  code=$?
  [[ $code == 0 ]] && grep -q "^Usage: kommo-cli $sub" "$WORK/subhelp" && pass "$sub --help" ||
    fail "$sub --help (exit $code): $(cat "$WORK/subhelp" "$WORK/subhelp.err")"
done

# LookupContacts matches exactly: the email case-folded, the phone by its digits.
cli "$WORK/lookup" contacts lookup --emails ANN@Example.com --json
expect "contacts lookup by email" "['$CONTACT_ID']" "$(json "$WORK/lookup" '[c["id"] for c in d["contacts"]]')"
cli "$WORK/lookup_phone" contacts lookup --phones "+1 (555) 0101"
grep -q "^$CONTACT_ID " "$WORK/lookup_phone" && pass "contacts lookup by phone, any format (table)" ||
  fail "contacts lookup --phones: $(cat "$WORK/lookup_phone" "$WORK/lookup_phone.err")"
cli "$WORK/lookup_none" contacts lookup --emails nobody@example.com
expect "contacts lookup without a match" "no contacts" "$(cat "$WORK/lookup_none")"

# FindOrCreateContact: the match, with --add-missing adding the phone it lacks.
cli "$WORK/matched" contacts find-or-create --emails ann@example.com --phones "+1 555 0199" --add-missing --json
expect "find-or-create matches and adds the phone" \
  "$CONTACT_ID OUTCOME_MATCHED True" \
  "$(json "$WORK/matched" 'd["contact"]["id"], d["outcome"], "+1 555 0199" in d["contact"]["phones"]')"
# No match: created; the same request_id again returns the first answer.
cli "$WORK/created" contacts find-or-create --name "Bo Chen" --emails bo@example.com --request-id foc-1 --json
BO_ID=$(json "$WORK/created" 'd["contact"]["id"]')
expect "find-or-create creates" "OUTCOME_CREATED Bo Chen" "$(json "$WORK/created" 'd["outcome"], d["contact"]["name"]')"
cli "$WORK/created_again" contacts find-or-create --name "Bo Chen" --emails bo@example.com --request-id foc-1
grep -Eq "^id +$BO_ID$" "$WORK/created_again" && grep -Eq "^outcome +OUTCOME_CREATED$" "$WORK/created_again" &&
  pass "find-or-create with the same request_id: the first answer (table)" ||
  fail "find-or-create repeat: $(cat "$WORK/created_again" "$WORK/created_again.err")"
# Two contacts with one email: nothing written, the candidates listed, exit 19.
cli "$WORK/dup1" contacts create --responsible_user_id=8000001 --created_by=8000001 --name "Dup One" --emails dup@example.com --json
cli "$WORK/dup2" contacts create --responsible_user_id=8000001 --created_by=8000001 --name "Dup Two" --emails dup@example.com --json
DUP1=$(json "$WORK/dup1" 'd["contact"]["id"]')
DUP2=$(json "$WORK/dup2" 'd["contact"]["id"]')
cli "$WORK/ambiguous" contacts find-or-create --emails dup@example.com --name "Dup Three"
expect "find-or-create with two matches exits 19 (FAILED_PRECONDITION)" 19 $?
grep -q "reason: CONTACT_AMBIGUOUS (kommo-grpc)" "$WORK/ambiguous.err" &&
  grep -q "candidate contact: $DUP1 " "$WORK/ambiguous.err" &&
  grep -q "candidate contact: $DUP2 " "$WORK/ambiguous.err" &&
  pass "CONTACT_AMBIGUOUS lists the candidates" || fail "ambiguous: $(cat "$WORK/ambiguous.err")"
! grep -q "dup@example.com" "$WORK/ambiguous.err" && pass "the error does not repeat the email" ||
  fail "the email is in the error: $(cat "$WORK/ambiguous.err")"

# request_id on creates: a repeat returns the same lead; another request with it is refused.
cli "$WORK/rid1" leads create --name "Deal A" --request_id rid-1 --json
cli "$WORK/rid2" leads create --name "Deal A" --request_id rid-1 --json
expect "leads create with a known request_id: the same lead" "$(json "$WORK/rid1" 'd["lead"]["id"]')" \
  "$(json "$WORK/rid2" 'd["lead"]["id"]')"
cli "$WORK/rid3" leads create --name "Deal B" --request_id rid-1
expect "a request_id reused for another request exits 13" 13 $?
grep -q "reason: REQUEST_ID_REUSED" "$WORK/rid3.err" && pass "REQUEST_ID_REUSED" ||
  fail "request_id reuse: $(cat "$WORK/rid3.err")"

# CreateLeadWithContact: both read back, as lead.* and contact.* rows.
cli "$WORK/lwc" leads create-with-contact --name "Chat inquiry" --price 700 --contact_name "Cy Dale" \
  --contact_emails cy@example.com --contact_phones "+1 555 0300" --request_id lwc-1
expect "leads create-with-contact exits 0" 0 $?
LWC_LEAD=$(sed -nE 's/^lead\.id +([0-9]+)$/\1/p' "$WORK/lwc")
LWC_CONTACT=$(sed -nE 's/^contact\.id +([0-9]+)$/\1/p' "$WORK/lwc")
[[ -n $LWC_LEAD && -n $LWC_CONTACT ]] && grep -Eq "^lead\.contact_ids +$LWC_CONTACT$" "$WORK/lwc" &&
  grep -Eq "^contact\.name +Cy Dale$" "$WORK/lwc" && grep -Eq "^contact_merged +false$" "$WORK/lwc" &&
  pass "leads create-with-contact (table)" || fail "create-with-contact: $(cat "$WORK/lwc" "$WORK/lwc.err")"

# Incoming leads: create, list, accept (then gone), decline.
cli "$WORK/inc" leads incoming create --source_uid form-1 --source_name Website --form_id contact-us \
  --form_name "Contact us" --form_page https://example.com/contact --lead_name "Form lead" \
  --contact_name "Di Eve" --contact_emails di@example.com --json
expect "leads incoming create exits 0" 0 $?
UID1=$(json "$WORK/inc" 'd["incoming_lead"]["uid"]')
INC_LEAD=$(json "$WORK/inc" 'd["incoming_lead"]["lead_id"]')
expect "the incoming lead read back" "forms contact-us" \
  "$(json "$WORK/inc" 'd["incoming_lead"]["category"], d["incoming_lead"]["form"]["form_id"]')"
cli "$WORK/inc2" leads incoming create --source_uid form-2 --source_name Website --form_id contact-us \
  --form_name "Contact us" --json
UID2=$(json "$WORK/inc2" 'd["incoming_lead"]["uid"]')
cli "$WORK/inc_list" leads incoming list --json
expect "leads incoming list has both" "True True" \
  "$(json "$WORK/inc_list" '*[u in [i["uid"] for i in d["incoming_leads"]] for u in ["'"$UID1"'", "'"$UID2"'"]]')"
cli "$WORK/accept" leads incoming accept --uid "$UID1" --json
expect "leads incoming accept: the lead" "$INC_LEAD" "$(json "$WORK/accept" 'd["lead"]["id"]')"
cli "$WORK/accept_again" leads incoming accept --uid "$UID1"
expect "accepting it again exits 15" 15 $?
grep -q "reason: INCOMING_LEAD_NOT_FOUND" "$WORK/accept_again.err" && pass "INCOMING_LEAD_NOT_FOUND" ||
  fail "accept again: $(cat "$WORK/accept_again.err")"
cli "$WORK/decline" leads incoming decline --uid "$UID2"
expect "leads incoming decline (table)" "uid  $UID2" "$(cat "$WORK/decline")"
cli "$WORK/inc_list2" leads incoming list
! grep -q "$UID1\|$UID2" "$WORK/inc_list2" && pass "accepted and declined leads leave the list" ||
  fail "incoming list after: $(cat "$WORK/inc_list2")"

# Notes: a transcript from a file as a service message, a plain note, the list.
printf 'Visitor: Do you ship to Lisbon?\nBot: Yes, within 3 days.\n' >"$WORK/transcript.txt"
cli "$WORK/note" notes add --lead_id "$LEAD_ID" --text_file "$WORK/transcript.txt" --service "Website chat" --json
expect "notes add exits 0" 0 $?
NOTE1=$(json "$WORK/note" 'd["note"]["id"]')
expect "the note read back" "ENTITY_TYPE_LEAD $LEAD_ID KIND_SERVICE_MESSAGE True" \
  "$(json "$WORK/note" 'd["note"]["entity_type"], d["note"]["entity_id"], d["note"]["kind"], d["note"]["text"] == open("'"$WORK/transcript.txt"'").read()')"
cli "$WORK/note2" notes add --lead-id "$LEAD_ID" --text "Called back"
grep -Eq "^kind +KIND_COMMON$" "$WORK/note2" && pass "notes add --text (table)" ||
  fail "notes add --text: $(cat "$WORK/note2" "$WORK/note2.err")"
cli "$WORK/notes" notes list --lead_id "$LEAD_ID" --json
expect "notes list has both notes" "2 True" \
  "$(json "$WORK/notes" 'len(d["notes"]), "'"$NOTE1"'" in [n["id"] for n in d["notes"]]')"
cli "$WORK/notes_table" notes list --lead_id "$LEAD_ID"
grep -q "^$NOTE1 .*Visitor: Do you ship to Lisbon? Bot: Yes, within 3 days." "$WORK/notes_table" &&
  pass "notes list (table): the transcript on one line" || fail "notes list: $(cat "$WORK/notes_table")"
cli "$WORK/note_missing" notes add --lead_id 31000009999 --text x
expect "a note on an unknown lead exits 15" 15 $?
cli "$WORK/note_usage" notes add --lead_id "$LEAD_ID" --contact_id "$CONTACT_ID" --text x
expect "two entities exit 2" 2 $?

# --- errors: the report and the exit code (10 + the gRPC code) -------------------------------------
cli "$WORK/missing" leads get --lead_id=31000009999
expect "unknown lead exits 15 (NOT_FOUND)" 15 $?
grep -q "NOT_FOUND: " "$WORK/missing.err" && grep -q "reason: LEAD_NOT_FOUND (kommo-grpc)" "$WORK/missing.err" &&
  pass "NOT_FOUND report" || fail "NOT_FOUND report: $(cat "$WORK/missing.err")"

cli "$WORK/invalid" leads create --name=" " --price=-1
expect "invalid fields exit 13 (INVALID_ARGUMENT)" 13 $?
grep -q "reason: INVALID_FIELD" "$WORK/invalid.err" && grep -q "field name: " "$WORK/invalid.err" &&
  grep -q "field price: " "$WORK/invalid.err" && pass "field violations printed" ||
  fail "field violations: $(cat "$WORK/invalid.err")"

# Another pipeline's stage: refused by the server's check against the pipelines, before Kommo.
cli "$WORK/kommo_invalid" leads create --name x --pipeline_id 7000001 --status_id 60000012 --json
expect "an unknown stage exits 13" 13 $?
expect "--json error is the google.rpc.Status" "3 INVALID_FIELD status_id" \
  "$(json "$WORK/kommo_invalid.err" 'd["code"], d["details"][0]["reason"], d["details"][1]["field_violations"][0]["field"]')"

cli "$WORK/usage" leads get --lead_id=abc
expect "usage error exits 2" 2 $?
cli "$WORK/usage2" leads frobnicate
expect "unknown subcommand exits 2" 2 $?

# A closed port on loopback: UNAVAILABLE, after the read's retries (within the deadline).
cli "$WORK/down" leads get --lead_id=1 --target=127.0.0.1:1 --deadline=5s
expect "unreachable server exits 24 (UNAVAILABLE)" 24 $?

# RESOURCE_EXHAUSTED with the retry delay: a second server whose rate limit admits one request
# every 20 s, and a call whose deadline ends long before the next slot. --max_attempts=1: a retry
# would wait the server's 20 s pushback and end in DEADLINE_EXCEEDED (README "Client library").
KOMMO_ACCESS_TOKEN=$EMU_TOKEN "$BIN/kommo-grpc-server" --listen=127.0.0.1:0 \
  --kommo_api_url="$EMU_URL" --kommo_rate_limit_rps=0.05 --kommo_rate_limit_burst=1 \
  >"$WORK/slow.out" 2>"$WORK/slow.err" &
SERVICE_PIDS+=($!)
if line=$(wait_for_line "$WORK/slow.out" 'listening on port [0-9]+'); then
  SLOW=127.0.0.1:$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$line")
  cli "$WORK/first" --target="$SLOW" leads search --deadline=5s  # takes the one token
  cli "$WORK/limited" --target="$SLOW" leads search --deadline=1s --max_attempts=1
  code=$?
  [[ $code == 18 ]] && grep -q "RESOURCE_EXHAUSTED" "$WORK/limited.err" &&
    grep -q "retry after: " "$WORK/limited.err" && pass "rate limited: exit 18 with the retry delay" ||
    fail "rate limited (exit $code): $(cat "$WORK/limited.err")"
else
  fail "the rate-limited server did not start: $(cat "$WORK/slow.out" "$WORK/slow.err")"
fi

# Issue 13: the account's catalogues, so that nobody copies ids from Kommo's settings pages.
cli "$WORK/pipelines" account pipelines
expect "account pipelines exits 0" 0 $?
grep -q "^pipeline 7000001  Sales funnel  (main)" "$WORK/pipelines" &&
  grep -qE "^  60000002 +Initial contact +STAGE_KIND_ORDINARY" "$WORK/pipelines" &&
  grep -qE "^  143 +Closed - lost +STAGE_KIND_LOST" "$WORK/pipelines" &&
  pass "account pipelines prints the stages with their ids" ||
  fail "account pipelines: $(cat "$WORK/pipelines" "$WORK/pipelines.err")"
cli "$WORK/fields" account fields --entity=lead --refresh --json
expect "account fields exits 0" 0 $?
expect "account fields: the lead catalogue" "select 3" \
  "$(json "$WORK/fields" "d['custom_fields'][3]['kommo_type'], len(d['custom_fields'][3]['enums'])")"
for verb in show users loss-reasons; do
  cli "$WORK/account_$verb" account "$verb"
  expect "account $verb exits 0" 0 $?
done
cli "$WORK/bad_entity" account fields --entity=deal
expect "account fields --entity=deal exits 2" 2 $?

# Issue 13: companies, links between leads, contacts and companies, and the structured lead list.
for sub in "companies create" "companies update" "companies get" "companies search" \
           "links add" "links remove" "links list" "leads list"; do
  # shellcheck disable=SC2086
  cli "$WORK/subhelp" $sub --help
  code=$?
  [[ $code == 0 ]] && grep -q "^Usage: kommo-cli $sub" "$WORK/subhelp" && pass "$sub --help" ||
    fail "$sub --help (exit $code): $(cat "$WORK/subhelp" "$WORK/subhelp.err")"
done

# The company is created with a custom field (by code) and a tag; both read back from Kommo.
cli "$WORK/company" companies create --name "Acme Wholesale" --field WEB=https://acme.example \
  --tag wholesale --json
expect "companies create exits 0" 0 $?
COMPANY_ID=$(json "$WORK/company" 'd["company"]["id"]')
expect "companies create: read back" "Acme Wholesale 8000001" \
  "$(json "$WORK/company" 'd["company"]["name"], d["company"]["responsible_user_id"]')"
expect "companies create: the WEB field and the tag read back" "https://acme.example ['wholesale']" \
  "$(json "$WORK/company" '[f["values"][0]["text"] for f in d["company"]["custom_fields"] if f.get("field_code") == "WEB"][0], [t["name"] for t in d["company"]["tags"]]')"
cli "$WORK/company_upd" companies update --company_id "$COMPANY_ID" --name "Acme Wholesale Ltd" \
  --responsible_user_id 8000002 --tag eu --untag wholesale
expect "companies update exits 0" 0 $?
cli "$WORK/company_tags" companies get --company_id "$COMPANY_ID" --json
expect "companies update: tag swapped, field kept" "['eu'] 1" \
  "$(json "$WORK/company_tags" '[t["name"] for t in d["company"]["tags"]], len(d["company"]["custom_fields"])')"
grep -Eq "^id +$COMPANY_ID$" "$WORK/company_upd" &&
  grep -Eq "^name +Acme Wholesale Ltd$" "$WORK/company_upd" &&
  grep -Eq "^responsible_user_id +8000002$" "$WORK/company_upd" &&
  pass "companies update: the new name and user (table)" ||
  fail "companies update: $(cat "$WORK/company_upd" "$WORK/company_upd.err")"
# Only the name given: the responsible user stays.
cli "$WORK/company_upd2" companies update --company_id "$COMPANY_ID" --name "Acme Wholesale Ltd" --json
expect "companies update --name keeps the user" "Acme Wholesale Ltd 8000002" \
  "$(json "$WORK/company_upd2" 'd["company"]["name"], d["company"]["responsible_user_id"]')"
cli "$WORK/company_get" companies get --company_id "$COMPANY_ID" --json
expect "companies get" "$COMPANY_ID Acme Wholesale Ltd 8000002" \
  "$(json "$WORK/company_get" 'd["company"]["id"], d["company"]["name"], d["company"]["responsible_user_id"]')"
cli "$WORK/company_search" companies search --query "acme wholesale"
grep -Eq "^$COMPANY_ID +Acme Wholesale Ltd +8000002 +" "$WORK/company_search" &&
  grep -q "^(last page)$" "$WORK/company_search" && pass "companies search (table)" ||
  fail "companies search: $(cat "$WORK/company_search" "$WORK/company_search.err")"
cli "$WORK/company_none" companies search --query "no such company"
expect "empty companies search" "no companies
(last page)" "$(cat "$WORK/company_none")"
cli "$WORK/company_missing" companies get --company_id 54000009999
expect "an unknown company exits 15" 15 $?
grep -q "reason: COMPANY_NOT_FOUND" "$WORK/company_missing.err" && pass "COMPANY_NOT_FOUND" ||
  fail "unknown company: $(cat "$WORK/company_missing.err")"

# A lead in the second pipeline's stage, linked to the contact (main), the company; the contact
# to the company.
cli "$WORK/deal" leads create --name "Acme partner deal" --pipeline_id 7000002 --status_id 60000012 --json
expect "leads create in 7000002:60000012" "7000002 60000012" \
  "$(json "$WORK/deal" 'd["lead"]["pipeline_id"], d["lead"]["status_id"]')"
DEAL_ID=$(json "$WORK/deal" 'd["lead"]["id"]')
cli "$WORK/link_main" links add --contact_id "$CONTACT_ID" --lead_id "$DEAL_ID" --main
expect "links add lead-contact --main exits 0" 0 $?
grep -Eq "^entity_type +ENTITY_TYPE_LEAD$" "$WORK/link_main" &&
  grep -Eq "^to_entity_id +$CONTACT_ID$" "$WORK/link_main" && grep -Eq "^is_main +true$" "$WORK/link_main" &&
  pass "links add --main: the lead's main contact (table)" ||
  fail "links add --main: $(cat "$WORK/link_main" "$WORK/link_main.err")"
cli "$WORK/link_company" links add --lead_id "$DEAL_ID" --company_id "$COMPANY_ID" --json
expect "links add lead-company" "ENTITY_TYPE_LEAD $DEAL_ID ENTITY_TYPE_COMPANY $COMPANY_ID" \
  "$(json "$WORK/link_company" 'd["link"]["entity_type"], d["link"]["entity_id"], d["link"]["to_entity_type"], d["link"]["to_entity_id"]')"
cli "$WORK/link_cc" links add --company_id "$COMPANY_ID" --contact_id "$CONTACT_ID" --json
expect "links add contact-company" "ENTITY_TYPE_CONTACT $CONTACT_ID ENTITY_TYPE_COMPANY $COMPANY_ID" \
  "$(json "$WORK/link_cc" 'd["link"]["entity_type"], d["link"]["entity_id"], d["link"]["to_entity_type"], d["link"]["to_entity_id"]')"
cli "$WORK/links" links list --lead_id "$DEAL_ID" --json
expect "links list: the main contact first, then the company" \
  "[('ENTITY_TYPE_CONTACT', '$CONTACT_ID', True), ('ENTITY_TYPE_COMPANY', '$COMPANY_ID', False)]" \
  "$(json "$WORK/links" '[(l["to_entity_type"], l["to_entity_id"], l["is_main"]) for l in d["links"]]')"
cli "$WORK/links_company" links list --company_id "$COMPANY_ID"
grep -Eq "^ENTITY_TYPE_COMPANY +$COMPANY_ID +ENTITY_TYPE_LEAD +$DEAL_ID +false$" "$WORK/links_company" &&
  grep -Eq "^ENTITY_TYPE_COMPANY +$COMPANY_ID +ENTITY_TYPE_CONTACT +$CONTACT_ID +false$" "$WORK/links_company" &&
  pass "links list --company_id: the lead and the contact (table)" ||
  fail "links list --company_id: $(cat "$WORK/links_company" "$WORK/links_company.err")"
cli "$WORK/links_to" links list --lead_id "$DEAL_ID" --to_entity_type company --json
expect "links list --to_entity_type company" "['$COMPANY_ID']" \
  "$(json "$WORK/links_to" '[l["to_entity_id"] for l in d["links"]]')"
cli "$WORK/unlink" links remove --company_id "$COMPANY_ID" --lead_id "$DEAL_ID"
code=$?
expect "links remove prints ok" "0 ok" "$code $(cat "$WORK/unlink")"
cli "$WORK/unlink_json" links remove --company_id "$COMPANY_ID" --lead_id "$DEAL_ID" --json
code=$?
expect "links remove of a link that is gone: ok, {} in JSON" "0 {}" "$code $(cat "$WORK/unlink_json")"
cli "$WORK/links_after" links list --lead_id "$DEAL_ID" --json
expect "links list after links remove: the contact only" "['$CONTACT_ID']" \
  "$(json "$WORK/links_after" '[l["to_entity_id"] for l in d["links"]]')"
cli "$WORK/link_one" links add --lead_id "$DEAL_ID"
code=$?
[[ $code == 2 ]] && grep -q -- 'two of --lead_id, --contact_id and --company_id are required for "links add"' \
  "$WORK/link_one.err" && pass "links add with one end: exit 2" ||
  fail "links add with one end (exit $code): $(cat "$WORK/link_one.err")"
cli "$WORK/link_bad_main" links add --lead_id "$DEAL_ID" --company_id "$COMPANY_ID" --main
code=$?
[[ $code == 2 ]] && grep -q -- "--main needs --lead_id and --contact_id" "$WORK/link_bad_main.err" &&
  pass "links add --main on lead-company: exit 2" ||
  fail "links add --main lead-company (exit $code): $(cat "$WORK/link_bad_main.err")"
cli "$WORK/link_missing" links add --lead_id 31000009999 --company_id "$COMPANY_ID"
code=$?
[[ $code == 15 ]] && grep -q "reason: LEAD_NOT_FOUND" "$WORK/link_missing.err" &&
  pass "links add to an unknown lead: exit 15 LEAD_NOT_FOUND" ||
  fail "links add unknown lead (exit $code): $(cat "$WORK/link_missing.err")"

# ListLeads: the stage holds the new lead only; the other pipeline's stage does not hold it.
cli "$WORK/list_stage" leads list --stage 7000002:60000012 --created_from 2000-01-01T00:00:00Z --json
expect "leads list --stage exits 0" 0 $?
expect "leads list --stage 7000002:60000012: the new lead" "['$DEAL_ID']" \
  "$(json "$WORK/list_stage" '[l["id"] for l in d["leads"]]')"
cli "$WORK/list_stage_table" leads list --stage 7000002:60000012
grep -Eq "^$DEAL_ID +Acme partner deal +0 +7000002 +60000012 +$CONTACT_ID +" "$WORK/list_stage_table" &&
  grep -q "^(last page)$" "$WORK/list_stage_table" && pass "leads list --stage (table)" ||
  fail "leads list --stage (table): $(cat "$WORK/list_stage_table" "$WORK/list_stage_table.err")"
cli "$WORK/list_other" leads list --stage 7000001:60000003 --json
expect "leads list --stage 7000001:60000003: the moved lead, not the new one" "True False" \
  "$(json "$WORK/list_other" '"'"$LEAD_ID"'" in [l["id"] for l in d["leads"]], "'"$DEAL_ID"'" in [l["id"] for l in d["leads"]]')"
cli "$WORK/list_page1" leads list --pipeline_ids 7000001,7000002 --order_by created_at --descending \
  --page_size 1 --json
LIST_TOKEN=$(json "$WORK/list_page1" 'd["next_page_token"]')
expect "leads list newest first: the new lead, with a next page" "['$DEAL_ID'] True" \
  "$(json "$WORK/list_page1" '[l["id"] for l in d["leads"]], d["next_page_token"] != ""')"
cli "$WORK/list_page2" leads list --pipeline_ids 7000001,7000002 --order_by created_at --descending \
  --page_size 1 --page_token "$LIST_TOKEN"
code=$?
[[ $code == 0 ]] && grep -q "^next page: --page_token=" "$WORK/list_page2" &&
  ! grep -q "^$DEAL_ID " "$WORK/list_page2" && pass "leads list --page_token: the next page (table)" ||
  fail "leads list page 2 (exit $code): $(cat "$WORK/list_page2" "$WORK/list_page2.err")"
cli "$WORK/list_bad" leads list --stage 7000002
expect "leads list --stage without a status exits 2" 2 $?

# Issue 11: retries that end in DEADLINE_EXCEEDED still show why the attempts failed. The
# rate-limited server above asks to wait ~20 s, longer than the 1 s deadline: kommo-cli stops with
# DEADLINE_EXCEEDED and the reason of the last answer.
# Issue 14: `leads watch` prints the changes it sees, one line each, and stops after --count. A
# stream without a token starts at the second it opens (Kommo's times are whole seconds): the
# second after the writes above.
sleep 1.1
"$CLI" leads watch --kind=created --kind=stage_changed --count=2 --deadline=30s \
  >"$WORK/watch" 2>"$WORK/watch.err" &
WATCH_PID=$!
# The stream's first line (a heartbeat) says it is open: what follows is after it.
for _ in $(seq 100); do grep -q "^HEARTBEAT" "$WORK/watch" && break; sleep 0.1; done
cli "$WORK/watched" leads create --name "Watched from the CLI" --json
WATCHED_ID=$(json "$WORK/watched" 'd["lead"]["id"]')
cli "$WORK/watched_move" leads update --lead_id "$WATCHED_ID" --pipeline_id 7000001 --status_id 60000003
wait "$WATCH_PID"
code=$?
expect "leads watch --count=2 exits 0" 0 $code
expect "leads watch: the create, then the stage change" "CREATED STAGE_CHANGED" \
  "$(grep -E "^[A-Z_]+  lead $WATCHED_ID  " "$WORK/watch" | cut -d' ' -f1 | xargs)"
grep -Eq "^STAGE_CHANGED  lead $WATCHED_ID  .*stage 7000001:60000002 -> 7000001:60000003  resume_token=" \
  "$WORK/watch" && pass "leads watch: the stage change's before and after, and its token" ||
  fail "leads watch: $(cat "$WORK/watch" "$WORK/watch.err")"
cli "$WORK/watch_bad" leads watch --resume_token=garbage --deadline=10s
expect "leads watch with a bad token exits 13" 13 $?

if [[ -n "${SLOW:-}" ]]; then
  cli "$WORK/late" --target="$SLOW" leads search --deadline=1s
  code=$?
  [[ $code == 14 ]] && grep -q "DEADLINE_EXCEEDED" "$WORK/late.err" &&
    grep -q "reason: RATE_LIMIT_QUEUE_TIMEOUT" "$WORK/late.err" &&
    pass "retries cut by the deadline: DEADLINE_EXCEEDED with the last reason" ||
    fail "deadline after retries (exit $code): $(cat "$WORK/late.err")"
fi
# A server whose Kommo is a closed port answers UNAVAILABLE KOMMO_CONNECTION_FAILED; kommo-cli
# retries until its attempts (2) or its deadline (5 s, room for a busy machine) end: either way
# the reason shows.
# The server's rate limit is raised so that it cannot be what refuses a retry (at 7/s, five quick
# attempts on a busy machine can reach a slot past the deadline: RATE_LIMIT_QUEUE_TIMEOUT).
KOMMO_ACCESS_TOKEN=x "$BIN/kommo-grpc-server" --listen=127.0.0.1:0 --kommo_api_url=http://127.0.0.1:1 \
  --kommo_max_attempts=1 --kommo_rate_limit_rps=1000 --kommo_rate_limit_burst=10 \
  >"$WORK/down.out" 2>"$WORK/down.err" &
SERVICE_PIDS+=($!)
if line=$(wait_for_line "$WORK/down.out" 'listening on port [0-9]+'); then
  DOWN=127.0.0.1:$(sed -E 's/.*listening on port ([0-9]+).*/\1/' <<<"$line")
  cli "$WORK/kommo_down" --target="$DOWN" leads get --lead_id=31000000001 --deadline=5s --max_attempts=2
  code=$?
  [[ $code == 14 || $code == 24 ]] && grep -q "reason: KOMMO_CONNECTION_FAILED" "$WORK/kommo_down.err" &&
    pass "Kommo unreachable: exit $code with KOMMO_CONNECTION_FAILED" ||
    fail "Kommo unreachable (exit $code): $(cat "$WORK/kommo_down.err")"
else
  fail "the server without Kommo did not start: $(cat "$WORK/down.out" "$WORK/down.err")"
fi

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
