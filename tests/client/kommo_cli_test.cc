// kommo-cli's command line and output, without a server (kommo_cli_e2e.sh runs the binary).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/cli/commands.h"
#include "client/cli/output.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "kommo/v1/account_service.pb.h"
#include "kommo/v1/company_service.pb.h"
#include "kommo/v1/contact_service.pb.h"
#include "kommo/v1/lead_service.pb.h"
#include "kommo/v1/link_service.pb.h"
#include "kommo/v1/note_service.pb.h"
#include "kommo/v1/task_service.pb.h"

namespace kommo::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Invocation Parse(const std::vector<std::string>& args, const char* env_target = nullptr) {
  return ParseCommandLine(args, env_target);
}

TEST(ParseTest, UpdateSetsOnlyTheFlagsGiven) {
  const Invocation invocation = Parse({"leads", "update", "--lead_id=31000000001", "--price=0"});
  ASSERT_EQ(invocation.error, "");
  ASSERT_NE(invocation.command, nullptr);
  EXPECT_STREQ(invocation.command->rpc, "kommo.v1.LeadService/UpdateLead");
  const auto& request = dynamic_cast<const kommo::v1::UpdateLeadRequest&>(*invocation.request);
  EXPECT_EQ(request.lead_id(), 31000000001);
  EXPECT_TRUE(request.has_price());
  EXPECT_EQ(request.price(), 0);
  EXPECT_FALSE(request.has_name());
  EXPECT_FALSE(request.has_status_id());
}

TEST(ParseTest, RepeatedFields) {
  const Invocation lead =
      Parse({"leads", "create", "--name", "Deal", "--contact_ids=1,2", "--contact_ids", "3"});
  ASSERT_EQ(lead.error, "");
  EXPECT_THAT(dynamic_cast<const kommo::v1::CreateLeadRequest&>(*lead.request).contact_ids(),
              ElementsAre(1, 2, 3));
  // Strings are not split: a comma is a dialing pause in a phone number.
  const Invocation contact =
      Parse({"contacts", "create", "--responsible_user_id=1", "--created_by=1",
             "--phones=+1 555 0100,2", "--phones=+1 555 0101", "--emails=a@example.com"});
  ASSERT_EQ(contact.error, "");
  const auto& request = dynamic_cast<const kommo::v1::CreateContactRequest&>(*contact.request);
  EXPECT_THAT(request.phones(), ElementsAre("+1 555 0100,2", "+1 555 0101"));
  EXPECT_THAT(request.emails(), ElementsAre("a@example.com"));
}

TEST(ParseTest, ReadMaskOnCreatesAndUpdates) {
  const Invocation lead =
      Parse({"leads", "create", "--name=Deal", "--read_mask=id,name", "--read_mask", "price"});
  ASSERT_EQ(lead.error, "");
  EXPECT_THAT(dynamic_cast<const kommo::v1::CreateLeadRequest&>(*lead.request).read_mask().paths(),
              ElementsAre("id", "name", "price"));
  const Invocation task = Parse({"tasks", "complete", "--task_id=4", "--read_mask=id"});
  ASSERT_EQ(task.error, "");
  EXPECT_THAT(
      dynamic_cast<const kommo::v1::CompleteTaskRequest&>(*task.request).read_mask().paths(),
      ElementsAre("id"));
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"leads", "update", "--lead_id=1", "--read_mask=id"},
           {"contacts", "create", "--responsible_user_id=1", "--created_by=1", "--read_mask=id"},
           {"contacts", "update", "--contact_id=1", "--read_mask=id"},
           {"companies", "create", "--name=Acme", "--read_mask=id"},
           {"companies", "update", "--company_id=1", "--read_mask=id"},
           {"tasks", "create", "--text=Call", "--due_at=2030-01-01T00:00:00Z", "--read_mask=id"},
           {"notes", "add", "--lead_id=1", "--text=hi", "--read_mask=id"},
           {"leads", "incoming", "create", "--source_uid=s", "--source_name=Web", "--form_id=f",
            "--form_name=Form", "--read_mask=uid,lead_id"},
           {"leads", "incoming", "accept", "--uid=abc", "--read_mask=id"}}) {
    EXPECT_EQ(Parse(args).error, "") << args[0] << " " << args[1];
  }
  const Invocation complex = Parse({"leads", "create-with-contact", "--name=Deal",
                                    "--contact_name=Ann", "--read_mask=lead.id,contact.id"});
  ASSERT_EQ(complex.error, "");
  EXPECT_THAT(dynamic_cast<const kommo::v1::CreateLeadWithContactRequest&>(*complex.request)
                  .read_mask()
                  .paths(),
              ElementsAre("lead.id", "contact.id"));
  const Invocation found = Parse({"contacts", "find-or-create", "--phones=+15550100",
                                  "--read_mask=contact.id", "--read_mask=outcome"});
  ASSERT_EQ(found.error, "");
  EXPECT_THAT(dynamic_cast<const kommo::v1::FindOrCreateContactRequest&>(*found.request)
                  .read_mask()
                  .paths(),
              ElementsAre("contact.id", "outcome"));
  EXPECT_THAT(Parse({"leads", "create", "--name=Deal", "--read_mask=id,,name"}).error,
              HasSubstr("empty path"));
  EXPECT_THAT(Parse({"leads", "get", "--lead_id=1", "--read_mask=id"}).error,
              HasSubstr("--read_mask"));
}

TEST(ParseTest, GlobalFlagsAnywhere) {
  const Invocation invocation =
      Parse({"--json", "leads", "get", "--deadline=1.5s", "--lead_id=7", "--target=h:1"}, "env:2");
  ASSERT_EQ(invocation.error, "");
  EXPECT_TRUE(invocation.json);
  EXPECT_EQ(invocation.deadline, std::chrono::milliseconds(1500));
  EXPECT_EQ(invocation.target, "h:1");
  EXPECT_EQ(Parse({"leads", "get"}, "env:2").target, "env:2");
  EXPECT_EQ(Parse({"leads", "get"}, "").target, "localhost:50051");
  EXPECT_EQ(Parse({"leads", "get"}).deadline, std::chrono::seconds(30));
  EXPECT_EQ(Parse({"leads", "get"}).max_attempts, 4);
  EXPECT_EQ(Parse({"leads", "get", "--max_attempts=1"}).max_attempts, 1);
}

TEST(ParseTest, HelpWithAndWithoutASubcommand) {
  EXPECT_TRUE(Parse({}).help);
  EXPECT_EQ(Parse({}).command, nullptr);
  const Invocation invocation = Parse({"contacts", "search", "--help"});
  EXPECT_TRUE(invocation.help);
  ASSERT_NE(invocation.command, nullptr);
  const std::string help = CommandHelp(*invocation.command);
  EXPECT_THAT(help, HasSubstr("Usage: kommo-cli contacts search [--query=TEXT]"));
  EXPECT_THAT(help, HasSubstr("--page_token=TOKEN"));
  EXPECT_THAT(help, HasSubstr("Exit codes"));
  EXPECT_THAT(TopLevelHelp(),
              HasSubstr("  leads update               kommo.v1.LeadService/UpdateLead\n"));
  EXPECT_THAT(
      TopLevelHelp(),
      HasSubstr("  leads create-with-contact  kommo.v1.LeadService/CreateLeadWithContact\n"));
  EXPECT_THAT(TopLevelHelp(),
              HasSubstr("  notes add                  kommo.v1.NoteService/AddNote\n"));
}

TEST(ParseTest, UsageErrors) {
  EXPECT_THAT(Parse({"leads", "delete"}).error,
              HasSubstr("unknown subcommand \"leads delete\"; the verbs are:"));
  EXPECT_THAT(Parse({"leads"}).error, HasSubstr("\"leads\" needs a verb"));
  EXPECT_THAT(Parse({"leads"}).error, HasSubstr("leads search"));
  EXPECT_THAT(Parse({"deals", "get"}).error, HasSubstr("unknown subcommand \"deals get\""));
  EXPECT_THAT(Parse({"leads", "get", "--contact_id=1"}).error,
              HasSubstr("unknown flag --contact_id for \"leads get\""));
  EXPECT_EQ(Parse({"leads", "get", "--lead_id=x1"}).error,
            "--lead_id: \"x1\" is not a whole number");
  EXPECT_EQ(Parse({"leads", "create", "--contact_ids=1,,2"}).error,
            "--contact_ids: \"\" is not a whole number");
  EXPECT_EQ(Parse({"leads", "get", "--lead_id=1", "--lead_id=2"}).error, "--lead_id given twice");
  EXPECT_EQ(Parse({"leads", "get", "--lead_id"}).error, "--lead_id needs a value");
  EXPECT_THAT(Parse({"leads", "get", "--deadline=10"}).error, HasSubstr("positive duration"));
  EXPECT_THAT(Parse({"leads", "get", "--deadline=-1s"}).error, HasSubstr("positive duration"));
  EXPECT_THAT(Parse({"leads", "get", "31000000001"}).error, HasSubstr("unexpected argument"));
  EXPECT_THAT(Parse({"--name=x"}).error, HasSubstr("unknown flag --name"));
  EXPECT_THAT(
      Parse({"deals"}).error,
      HasSubstr(
          "unknown command \"deals\" (the groups are leads, contacts, companies, links, notes, "
          "account and tasks)"));
  EXPECT_THAT(Parse({"leads", "get", "--max_attempts=6"}).error, HasSubstr("from 1 to 5"));
}

// Issue 11: `kommo-cli leads --help` lists the verbs.
TEST(ParseTest, GroupHelpListsTheVerbs) {
  const Invocation invocation = Parse({"leads", "--help"});
  EXPECT_EQ(invocation.error, "");
  EXPECT_TRUE(invocation.help);
  EXPECT_EQ(invocation.group, "leads");
  EXPECT_EQ(invocation.command, nullptr);
  const std::string help = GroupHelp("contacts");
  EXPECT_THAT(help, HasSubstr("contacts create            kommo.v1.ContactService/CreateContact"));
  EXPECT_THAT(help, HasSubstr("contacts search            kommo.v1.ContactService/SearchContacts"));
  EXPECT_THAT(help,
              HasSubstr("contacts find-or-create    kommo.v1.ContactService/FindOrCreateContact"));
  EXPECT_THAT(help, ::testing::Not(HasSubstr("leads")));
}

// Issue 11: a missing required flag "is required"; an empty value "must not be empty".
TEST(ParseTest, RequiredAndEmptyFlags) {
  EXPECT_EQ(Parse({"leads", "get"}).error, "--lead_id is required for \"leads get\"");
  EXPECT_EQ(Parse({"leads", "create", "--price=5"}).error,
            "--name is required for \"leads create\"");
  EXPECT_EQ(Parse({"contacts", "create", "--responsible_user_id=1"}).error,
            "--created_by is required for \"contacts create\"");
  EXPECT_EQ(Parse({"leads", "create", "--name="}).error, "--name must not be empty");
  EXPECT_EQ(Parse({"leads", "update", "--lead_id=1", "--name", ""}).error,
            "--name must not be empty");
  EXPECT_EQ(Parse({"leads", "get", "--lead_id="}).error, "--lead_id must not be empty");
  // An empty query is every lead; an empty page token the first page.
  EXPECT_EQ(Parse({"leads", "search", "--query=", "--page_token="}).error, "");
  // --help wins over a missing required flag.
  EXPECT_EQ(Parse({"leads", "get", "--help"}).error, "");
}

// Every flag of every subcommand sets a field the request has (through sub-messages), or sets
// the request itself; a switch is a bool field.
TEST(ParseTest, EveryFlagNamesAFieldOfItsRequest) {
  for (const Command& command : Commands()) {
    for (const FlagSpec& spec : command.flags) {
      SCOPED_TRACE(std::string(command.group) + " " + command.verb + " --" + spec.field);
      if (spec.set != nullptr) continue;
      const google::protobuf::Descriptor* type = command.request_prototype->GetDescriptor();
      const google::protobuf::FieldDescriptor* field = nullptr;
      for (const std::string& part :
           std::vector<std::string>(absl::StrSplit(spec.path ? spec.path : spec.field, '.'))) {
        ASSERT_NE(type, nullptr);
        field = type->FindFieldByName(part);
        ASSERT_NE(field, nullptr);
        type = field->message_type();
      }
      EXPECT_EQ(spec.value_name[0] == '\0',
                field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_BOOL);
    }
  }
}

TEST(ParseTest, FindOrCreateSetsTheContactAndSwitches) {
  const Invocation invocation =
      Parse({"contacts", "find-or-create", "--name=Ann Lee", "--phones", "+1 555 0100",
             "--phones=8 555 0101", "--emails=ann@example.com", "--add-missing", "--request-id",
             "inquiry-42"});
  ASSERT_EQ(invocation.error, "");
  EXPECT_STREQ(invocation.command->rpc, "kommo.v1.ContactService/FindOrCreateContact");
  EXPECT_EQ(invocation.command->retry, RetryClass::kWrite);
  const auto& request =
      dynamic_cast<const kommo::v1::FindOrCreateContactRequest&>(*invocation.request);
  EXPECT_EQ(request.contact().name(), "Ann Lee");
  EXPECT_THAT(request.contact().phones(), ElementsAre("+1 555 0100", "8 555 0101"));
  EXPECT_THAT(request.contact().emails(), ElementsAre("ann@example.com"));
  EXPECT_TRUE(request.add_missing());
  EXPECT_EQ(request.request_id(), "inquiry-42");
  // A switch takes no value unless written with '=': the next word stays a word.
  const Invocation off = Parse({"--add_missing=false", "contacts", "find-or-create", "--phones=1"});
  ASSERT_EQ(off.error, "");
  EXPECT_FALSE(
      dynamic_cast<const kommo::v1::FindOrCreateContactRequest&>(*off.request).add_missing());
  EXPECT_EQ(Parse({"contacts", "find-or-create", "--add_missing=maybe"}).error,
            "--add_missing: \"maybe\" is not true or false");
  EXPECT_EQ(Parse({"contacts", "find-or-create", "--request_id=a", "--request_id=b"}).error,
            "--request_id given twice");
}

TEST(ParseTest, LookupAndRequestIdsOnCreates) {
  const Invocation lookup = Parse(
      {"contacts", "lookup", "--emails=a@example.com", "--phones=1", "--emails=b@example.com"});
  ASSERT_EQ(lookup.error, "");
  EXPECT_EQ(lookup.command->retry, RetryClass::kIdempotent);
  const auto& request = dynamic_cast<const kommo::v1::LookupContactsRequest&>(*lookup.request);
  EXPECT_THAT(request.emails(), ElementsAre("a@example.com", "b@example.com"));
  EXPECT_THAT(request.phones(), ElementsAre("1"));
  const Invocation lead = Parse({"leads", "create", "--name=Deal", "--request_id=r-1"});
  ASSERT_EQ(lead.error, "");
  EXPECT_EQ(dynamic_cast<const kommo::v1::CreateLeadRequest&>(*lead.request).request_id(), "r-1");
  const Invocation contact = Parse(
      {"contacts", "create", "--responsible_user_id=1", "--created_by=1", "--request_id=r-2"});
  ASSERT_EQ(contact.error, "");
  EXPECT_EQ(dynamic_cast<const kommo::v1::CreateContactRequest&>(*contact.request).request_id(),
            "r-2");
  EXPECT_EQ(Parse({"leads", "create", "--name=Deal", "--request_id="}).error,
            "--request_id must not be empty");
}

TEST(ParseTest, CreateWithContactSplitsLeadAndContact) {
  const Invocation invocation =
      Parse({"leads", "create-with-contact", "--name=Chat inquiry", "--price=1500",
             "--contact_name=Ann Lee", "--contact_phones=+1 555 0100",
             "--contact_emails=ann@example.com", "--contact_responsible_user_id=8000001"});
  ASSERT_EQ(invocation.error, "");
  const auto& request =
      dynamic_cast<const kommo::v1::CreateLeadWithContactRequest&>(*invocation.request);
  EXPECT_EQ(request.name(), "Chat inquiry");
  EXPECT_EQ(request.price(), 1500);
  EXPECT_EQ(request.contact().name(), "Ann Lee");
  EXPECT_THAT(request.contact().phones(), ElementsAre("+1 555 0100"));
  EXPECT_THAT(request.contact().emails(), ElementsAre("ann@example.com"));
  EXPECT_EQ(request.contact().responsible_user_id(), 8000001);
  EXPECT_EQ(Parse({"leads", "create-with-contact", "--contact_name=A"}).error,
            "--name is required for \"leads create-with-contact\"");
}

TEST(ParseTest, IncomingLeadVerbsHaveTwoWords) {
  const Invocation create = Parse({"leads", "incoming", "create", "--source_uid=form-7",
                                   "--source_name=Website", "--form_id=contact-us",
                                   "--form_name=Contact us", "--form_sent_at=2026-01-31T12:00:00Z",
                                   "--contact_emails=ann@example.com", "--lead_price=10"});
  ASSERT_EQ(create.error, "");
  EXPECT_STREQ(create.command->rpc, "kommo.v1.LeadService/CreateIncomingLead");
  const auto& request = dynamic_cast<const kommo::v1::CreateIncomingLeadRequest&>(*create.request);
  EXPECT_EQ(request.form().form_id(), "contact-us");
  EXPECT_EQ(request.form().form_name(), "Contact us");
  EXPECT_EQ(request.form().form_sent_at().seconds(), 1769860800);
  EXPECT_THAT(request.contact().emails(), ElementsAre("ann@example.com"));
  EXPECT_EQ(request.lead_price(), 10);
  EXPECT_THAT(Parse({"leads", "incoming", "create", "--form_sent_at=yesterday"}).error,
              HasSubstr("--form_sent_at: \"yesterday\" is not an RFC 3339 time"));
  EXPECT_EQ(
      Parse({"leads", "incoming", "create", "--source_uid=1", "--source_name=x", "--form_name=y"})
          .error,
      "--form_id is required for \"leads incoming create\"");

  const Invocation accept = Parse({"leads", "incoming", "accept", "--uid=abc", "--status_id=3"});
  ASSERT_EQ(accept.error, "");
  EXPECT_STREQ(accept.command->rpc, "kommo.v1.LeadService/AcceptIncomingLead");
  EXPECT_EQ(accept.command->retry, RetryClass::kWrite);
  EXPECT_EQ(dynamic_cast<const kommo::v1::AcceptIncomingLeadRequest&>(*accept.request).uid(),
            "abc");
  EXPECT_EQ(Parse({"leads", "incoming", "list"}).command->retry, RetryClass::kIdempotent);

  const Invocation group = Parse({"leads", "incoming", "--help"});
  EXPECT_EQ(group.error, "");
  EXPECT_EQ(group.group, "leads incoming");
  EXPECT_THAT(GroupHelp("leads incoming"),
              HasSubstr("  leads incoming decline     kommo.v1.LeadService/DeclineIncomingLead\n"));
  EXPECT_THAT(GroupHelp("leads incoming"), ::testing::Not(HasSubstr("leads create ")));
  EXPECT_THAT(Parse({"leads", "incoming"}).error, HasSubstr("\"leads incoming\" needs a verb"));
  EXPECT_THAT(Parse({"leads", "incoming", "merge"}).error,
              HasSubstr("unknown subcommand \"leads incoming merge\"; the verbs are:"));
  EXPECT_THAT(Parse({"leads", "incoming", "list", "extra"}).error,
              HasSubstr("unexpected argument \"extra\""));
}

TEST(ParseTest, NotesTakeOneEntityAndOneText) {
  const Invocation add = Parse({"notes", "add", "--lead_id=31000000001", "--text=Hello",
                                "--service=Chatbot", "--request_id=inquiry-1-note"});
  ASSERT_EQ(add.error, "");
  EXPECT_STREQ(add.command->rpc, "kommo.v1.NoteService/AddNote");
  const auto& request = dynamic_cast<const kommo::v1::AddNoteRequest&>(*add.request);
  EXPECT_EQ(request.entity_type(), kommo::v1::ENTITY_TYPE_LEAD);
  EXPECT_EQ(request.entity_id(), 31000000001);
  EXPECT_EQ(request.text(), "Hello");
  EXPECT_EQ(request.service(), "Chatbot");
  const Invocation company = Parse({"notes", "add", "--company_id=9", "--text=x"});
  ASSERT_EQ(company.error, "");
  EXPECT_EQ(dynamic_cast<const kommo::v1::AddNoteRequest&>(*company.request).entity_type(),
            kommo::v1::ENTITY_TYPE_COMPANY);

  EXPECT_EQ(Parse({"notes", "add", "--text=x"}).error,
            "--lead_id, --contact_id or --company_id is required for \"notes add\"");
  EXPECT_EQ(Parse({"notes", "add", "--lead_id=1"}).error,
            "--text or --text_file is required for \"notes add\"");
  EXPECT_EQ(Parse({"notes", "add", "--lead_id=1", "--contact_id=2", "--text=x"}).error,
            "--lead_id and --contact_id exclude each other: give one of --lead_id, "
            "--contact_id or --company_id");
  EXPECT_EQ(Parse({"notes", "add", "--lead_id=x", "--text=x"}).error,
            "--lead_id: \"x\" is not a whole number");
  EXPECT_EQ(Parse({"notes", "add", "--lead_id=1", "--lead_id=2", "--text=x"}).error,
            "--lead_id given twice");
  EXPECT_THAT(CommandHelp(*add.command),
              HasSubstr("Usage: kommo-cli notes add (--lead_id=ID | --contact_id=ID | "
                        "--company_id=ID) (--text=TEXT |\n      --text_file=PATH)"));

  const Invocation list = Parse({"notes", "list", "--contact_id=5", "--order=updated_asc",
                                 "--updated_since=2026-01-31T12:00:00Z", "--page_size=10"});
  ASSERT_EQ(list.error, "");
  const auto& list_request = dynamic_cast<const kommo::v1::ListNotesRequest&>(*list.request);
  EXPECT_EQ(list_request.entity_type(), kommo::v1::ENTITY_TYPE_CONTACT);
  EXPECT_EQ(list_request.order(), kommo::v1::ListNotesRequest::ORDER_UPDATED_ASC);
  EXPECT_EQ(list_request.updated_since().seconds(), 1769860800);
  EXPECT_EQ(list_request.page_size(), 10);
  EXPECT_EQ(dynamic_cast<const kommo::v1::ListNotesRequest&>(
                *Parse({"notes", "list", "--lead_id=1", "--order=ORDER_NEWEST_FIRST"}).request)
                .order(),
            kommo::v1::ListNotesRequest::ORDER_NEWEST_FIRST);
  EXPECT_EQ(Parse({"notes", "list", "--lead_id=1", "--order=oldest"}).error,
            "--order: \"oldest\" is not one of newest_first, updated_desc, updated_asc");
  EXPECT_EQ(Parse({"notes", "list", "--lead_id=1", "--order=unspecified"}).error,
            "--order: \"unspecified\" is not one of newest_first, updated_desc, updated_asc");
}

TEST(ParseTest, NoteTextFromAFile) {
  const std::string path = ::testing::TempDir() + "/kommo_cli_test_transcript.txt";
  const std::string transcript = "Visitor: Do you ship to Lisbon?\nBot: Yes, in 3 days.\n";
  {
    std::ofstream file(path, std::ios::binary);
    file << transcript;
  }
  const Invocation invocation = Parse({"notes", "add", "--lead_id=1", "--text-file", path});
  ASSERT_EQ(invocation.error, "");
  EXPECT_EQ(dynamic_cast<const kommo::v1::AddNoteRequest&>(*invocation.request).text(), transcript);
  EXPECT_EQ(Parse({"notes", "add", "--lead_id=1", "--text_file", path, "--text=x"}).error,
            "--text_file and --text exclude each other: give one of --text or --text_file");
  { std::ofstream truncate(path, std::ios::binary | std::ios::trunc); }
  EXPECT_EQ(Parse({"notes", "add", "--lead_id=1", "--text_file", path}).error,
            "--text_file: \"" + path + "\" is empty");
  std::remove(path.c_str());
  EXPECT_THAT(Parse({"notes", "add", "--lead_id=1", "--text_file", path}).error,
              HasSubstr("--text_file: cannot open \"" + path + "\": "));
}

// Issue 11: retries that the deadline ends still say why the attempts failed.
TEST(ParseTest, TlsAndTokenFlags) {
  Invocation plain = Parse({"account", "show"});
  ASSERT_EQ(plain.error, "");
  EXPECT_FALSE(plain.tls.enabled);
  EXPECT_EQ(plain.token_file, "");

  const Invocation mtls = Parse({"--tls_ca=/s/ca.crt", "account", "show", "--tls_cert", "/s/c.crt",
                                 "--tls-key=/s/c.key", "--tls_server_name=kommo-grpc.crm.svc",
                                 "--token_file=/s/token"});
  ASSERT_EQ(mtls.error, "");
  EXPECT_TRUE(mtls.tls.enabled);  // any --tls_* flag turns TLS on
  EXPECT_EQ(mtls.tls.ca_file, "/s/ca.crt");
  EXPECT_EQ(mtls.tls.cert_file, "/s/c.crt");
  EXPECT_EQ(mtls.tls.key_file, "/s/c.key");
  EXPECT_EQ(mtls.tls.server_name, "kommo-grpc.crm.svc");
  EXPECT_EQ(mtls.token_file, "/s/token");

  // --tls alone: the system's CAs; it takes no value, so the subcommand may follow it.
  const Invocation system = Parse({"--tls", "account", "show"});
  ASSERT_EQ(system.error, "");
  EXPECT_TRUE(system.tls.enabled);
  EXPECT_EQ(system.tls.ca_file, "");

  EXPECT_THAT(Parse({"account", "show", "--tls_cert=/s/c.crt"}).error,
              HasSubstr("--tls_cert and --tls_key are given together"));
  EXPECT_THAT(Parse({"account", "show", "--tls_ca="}).error, HasSubstr("--tls_ca: empty value"));
  // No --token flag: a flag's value would show in ps.
  EXPECT_THAT(Parse({"account", "show", "--token=x"}).error, HasSubstr("unknown flag --token"));
  EXPECT_THAT(TopLevelHelp(), HasSubstr("--token_file=FILE"));
}

TEST(ParseTest, AccountFlag) {
  EXPECT_EQ(Parse({"leads", "get", "--lead_id=1"}).account, "");
  const Invocation named = Parse({"--account=acme-2", "leads", "get", "--lead_id=1"});
  ASSERT_EQ(named.error, "");
  EXPECT_EQ(named.account, "acme-2");
  EXPECT_EQ(Parse({"leads", "get", "--lead_id=1", "--account", "b_c"}).account, "b_c");
  for (const char* bad : {"--account=", "--account=two words", "--account=a/b"}) {
    EXPECT_THAT(Parse({"leads", "get", "--lead_id=1", bad}).error,
                HasSubstr("--account: an account name is 1 to 64 letters"))
        << bad;
  }
  EXPECT_THAT(Parse({"leads", "get", "--lead_id=1", "--account=" + std::string(65, 'a')}).error,
              HasSubstr("--account"));
  EXPECT_THAT(TopLevelHelp(), HasSubstr("--account=NAME"));
}

TEST(LoadTokenTest, FileThenEnvironment) {
  std::string token;
  Invocation invocation;
  EXPECT_EQ(LoadToken(invocation, nullptr, &token), "");
  EXPECT_EQ(token, "");
  EXPECT_EQ(LoadToken(invocation, " from-env\n", &token), "");
  EXPECT_EQ(token, "from-env");

  const std::string path = ::testing::TempDir() + "/kommo_cli_token";
  std::ofstream(path) << "from-file\n";
  invocation.token_file = path;
  EXPECT_EQ(LoadToken(invocation, "from-env", &token), "");
  EXPECT_EQ(token, "from-file");

  std::ofstream(path) << "  \n";
  EXPECT_EQ(LoadToken(invocation, "from-env", &token), "--token_file: " + path + " is empty");
  invocation.token_file = path + ".missing";
  EXPECT_EQ(LoadToken(invocation, nullptr, &token),
            "--token_file: cannot read " + path + ".missing");
  std::remove(path.c_str());
}

TEST(CallWithRetriesTest, DeadlineExceededKeepsTheLastReason) {
  google::rpc::Status details;
  details.set_code(static_cast<int>(grpc::StatusCode::UNAVAILABLE));
  details.set_message("Kommo did not answer");
  google::rpc::ErrorInfo info;
  info.set_reason("KOMMO_CONNECTION_FAILED");
  info.set_domain("kommo-grpc");
  details.add_details()->PackFrom(info);
  const grpc::Status unavailable(grpc::StatusCode::UNAVAILABLE, "Kommo did not answer",
                                 details.SerializeAsString());
  Clock::time_point now = Clock::time_point() + std::chrono::hours(1);
  const Clock::time_point deadline = now + std::chrono::seconds(1);
  int attempts = 0;
  const grpc::Status status = CallWithRetries(
      RetryPlan{}, deadline,
      [&](Clock::time_point) {
        ++attempts;
        now += std::chrono::milliseconds(400);
        return unavailable;
      },
      [&](std::chrono::milliseconds wait) { now += wait; }, [&] { return now; });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GE(attempts, 2);
  EXPECT_THAT(status.error_message(),
              HasSubstr("the last attempt that got an answer failed with UNAVAILABLE: Kommo did "
                        "not answer"));
  const std::string text = FormatErrorText("kommo.v1.LeadService/GetLead", status);
  EXPECT_THAT(text, HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_THAT(text, HasSubstr("KOMMO_CONNECTION_FAILED"));
  EXPECT_THAT(FormatErrorJson(status), HasSubstr("KOMMO_CONNECTION_FAILED"));
}

TEST(CallWithRetriesTest, FollowsTheClientLibrarysPolicy) {
  Clock::time_point now = Clock::time_point() + std::chrono::hours(1);
  auto run = [&](RetryPlan plan, std::vector<grpc::StatusCode> codes, int* attempts) {
    *attempts = 0;
    return CallWithRetries(
        plan, now + std::chrono::minutes(1),
        [&](Clock::time_point) {
          return grpc::Status(codes[std::min<size_t>((*attempts)++, codes.size() - 1)], "x");
        },
        [&](std::chrono::milliseconds wait) { now += wait; }, [&] { return now; });
  };
  int attempts = 0;
  EXPECT_TRUE(run({}, {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::OK}, &attempts).ok());
  EXPECT_EQ(attempts, 2);
  RetryPlan create;
  create.is_create = true;
  EXPECT_EQ(run(create, {grpc::StatusCode::UNAVAILABLE}, &attempts).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(attempts, 1);  // a create that may have happened is not sent again
  EXPECT_EQ(run(create, {grpc::StatusCode::RESOURCE_EXHAUSTED}, &attempts).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(attempts, 4);
  EXPECT_EQ(run({}, {grpc::StatusCode::NOT_FOUND}, &attempts).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(attempts, 1);
  RetryPlan once;
  once.max_attempts = 1;
  EXPECT_EQ(run(once, {grpc::StatusCode::UNAVAILABLE}, &attempts).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(attempts, 1);
}

TEST(ExitCodeTest, TenPlusTheGrpcCode) {
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::OK), 0);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::INVALID_ARGUMENT), 13);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::NOT_FOUND), 15);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::UNAVAILABLE), 24);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::UNAUTHENTICATED), 26);
}

kommo::v1::Lead SampleLead() {
  kommo::v1::Lead lead;
  lead.set_id(31000000001);
  lead.set_name("Café\x1b]0;pwned\x07");
  lead.set_price(1500);
  lead.add_contact_ids(52000000001);
  lead.add_contact_ids(52000000002);
  lead.mutable_created_at()->set_seconds(1700000000);
  return lead;
}

TEST(OutputTest, OneLeadAsFieldPerLine) {
  kommo::v1::GetLeadResponse response;
  *response.mutable_lead() = SampleLead();
  const std::string table = FormatTable(response);
  EXPECT_THAT(table, HasSubstr("id                   31000000001\n"));
  EXPECT_THAT(table, HasSubstr("name                 Café?]0;pwned?\n"));
  EXPECT_THAT(table, HasSubstr("contact_ids          52000000001, 52000000002\n"));
  EXPECT_THAT(table, HasSubstr("created_at           2023-11-14T22:13:20Z\n"));
  EXPECT_THAT(table, HasSubstr("closed_at            -\n"));
}

TEST(OutputTest, SearchAsRows) {
  kommo::v1::SearchLeadsResponse response;
  *response.add_leads() = SampleLead();
  response.set_next_page_token("abc");
  EXPECT_EQ(FormatTable(response),
            "id           name            price  pipeline_id  status_id  contact_ids               "
            "updated_at\n"
            "31000000001  Café?]0;pwned?  1500   0            0          52000000001, 52000000002  "
            "-\n"
            "next page: --page_token=abc\n");
  EXPECT_EQ(FormatTable(kommo::v1::SearchContactsResponse()), "no contacts\n(last page)\n");
}

TEST(OutputTest, OutcomeAndSeveralEntities) {
  kommo::v1::FindOrCreateContactResponse found;
  found.mutable_contact()->set_id(52000000001);
  found.set_outcome(kommo::v1::FindOrCreateContactResponse::OUTCOME_CREATED);
  const std::string table = FormatTable(found);
  EXPECT_THAT(table, HasSubstr("id                   52000000001\n"));
  EXPECT_THAT(table, HasSubstr("outcome              OUTCOME_CREATED\n"));

  kommo::v1::CreateLeadWithContactResponse both;
  *both.mutable_lead() = SampleLead();
  both.mutable_contact()->set_id(52000000003);
  const std::string pair = FormatTable(both);
  EXPECT_THAT(pair, HasSubstr("lead.id                      31000000001\n"));
  EXPECT_THAT(pair, HasSubstr("lead.contact_ids             52000000001, 52000000002\n"));
  EXPECT_THAT(pair, HasSubstr("contact.id                   52000000003\n"));
  EXPECT_THAT(pair, HasSubstr("contact_merged               false\n"));

  kommo::v1::DeclineIncomingLeadResponse declined;
  declined.set_uid("f1a2");
  EXPECT_EQ(FormatTable(declined), "uid  f1a2\n");
}

TEST(OutputTest, IncomingLeadsAndNotes) {
  kommo::v1::CreateIncomingLeadResponse created;
  created.mutable_incoming_lead()->set_uid("f1a2");
  created.mutable_incoming_lead()->mutable_form()->set_form_id("contact-us");
  EXPECT_THAT(FormatTable(created), HasSubstr("\nform.form_id       contact-us\n"));

  kommo::v1::ListIncomingLeadsResponse list;
  list.add_incoming_leads()->set_uid("f1a2");
  EXPECT_THAT(FormatTable(list),
              HasSubstr("uid   source_name  category  pipeline_id  lead_id  contact_id  "
                        "created_at\nf1a2"));

  // One note: its text line by line, under the value column; in a list: one line, cut.
  kommo::v1::AddNoteResponse added;
  added.mutable_note()->set_id(7);
  added.mutable_note()->set_kind(kommo::v1::Note::KIND_SERVICE_MESSAGE);
  added.mutable_note()->set_text("Visitor: hi\nBot: hello\x1b[2J");
  const std::string note = FormatTable(added);
  EXPECT_THAT(note, HasSubstr("kind                 KIND_SERVICE_MESSAGE\n"));
  EXPECT_THAT(note, HasSubstr("text                 Visitor: hi\n"
                              "                     Bot: hello?[2J\n"));
  // A last line break leaves no line of spaces; in a row, no trailing space.
  added.mutable_note()->set_text("Visitor: hi\nBot: hello\n");
  EXPECT_THAT(FormatTable(added), HasSubstr("                     Bot: hello\nservice"));
  kommo::v1::ListNotesResponse one;
  *one.add_notes() = added.note();
  EXPECT_THAT(FormatTable(one), HasSubstr("Visitor: hi Bot: hello\n(last page)"));
  kommo::v1::ListNotesResponse notes;
  *notes.add_notes() = added.note();
  notes.mutable_notes(0)->set_text(std::string(70, 'a') + "\nb");
  EXPECT_THAT(FormatTable(notes),
              HasSubstr("KIND_SERVICE_MESSAGE           0           -           " +
                        std::string(60, 'a') + "...\n(last page)\n"));
}

// CONTACT_AMBIGUOUS: the candidates, each with the command that shows it.
TEST(OutputTest, AmbiguousContactListsTheCandidates) {
  google::rpc::Status details;
  details.set_code(9);
  details.set_message("2 contacts match");
  google::rpc::ErrorInfo info;
  info.set_reason("CONTACT_AMBIGUOUS");
  info.set_domain("kommo-grpc");
  (*info.mutable_metadata())["candidate_ids"] = "52000000001,52000000002";
  details.add_details()->PackFrom(info);
  const grpc::Status status(grpc::StatusCode::FAILED_PRECONDITION, details.message(),
                            details.SerializeAsString());
  EXPECT_EQ(FormatErrorText("kommo.v1.ContactService/FindOrCreateContact", status),
            "kommo.v1.ContactService/FindOrCreateContact failed: FAILED_PRECONDITION: 2 contacts "
            "match\n"
            "  reason: CONTACT_AMBIGUOUS (kommo-grpc)\n"
            "  metadata: candidate_ids=52000000001,52000000002\n"
            "  candidate contact: 52000000001  (kommo-cli contacts get --contact_id=52000000001)\n"
            "  candidate contact: 52000000002  (kommo-cli contacts get --contact_id=52000000002)");
}

TEST(OutputTest, JsonUsesProtoFieldNames) {
  kommo::v1::CreateLeadResponse response;
  response.mutable_lead()->set_id(31000000001);
  const std::string json = FormatJson(response);
  EXPECT_THAT(json, HasSubstr("{\"lead\":{\"id\":\"31000000001\""));
  EXPECT_THAT(json, HasSubstr("\"price\":\"0\""));
  EXPECT_THAT(json, HasSubstr("\"contact_ids\":[]"));
}

TEST(OutputTest, ErrorJsonIsTheRpcStatus) {
  google::rpc::Status details;
  details.set_code(5);
  details.set_message("lead 1 does not exist");
  google::rpc::ErrorInfo info;
  info.set_reason("LEAD_NOT_FOUND");
  details.add_details()->PackFrom(info);
  const grpc::Status status(grpc::StatusCode::NOT_FOUND, details.message(),
                            details.SerializeAsString());
  EXPECT_EQ(FormatErrorJson(status),
            "{\"code\":5,\"message\":\"lead 1 does not exist\",\"details\":[{\"@type\":"
            "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"LEAD_NOT_FOUND\"}]}");
  EXPECT_EQ(FormatErrorJson(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")),
            "{\"code\":14,\"message\":\"down\"}");
  EXPECT_EQ(FormatErrorText("kommo.v1.LeadService/GetLead", status),
            "kommo.v1.LeadService/GetLead failed: NOT_FOUND: lead 1 does not exist\n"
            "  reason: LEAD_NOT_FOUND");
}

TEST(AccountCommandsTest, VerbsEntityAndRefresh) {
  Invocation fields = Parse({"account", "fields", "--entity", "company", "--refresh"});
  ASSERT_EQ(fields.error, "");
  ASSERT_NE(fields.command, nullptr);
  EXPECT_STREQ(fields.command->rpc, "kommo.v1.AccountService/ListCustomFields");
  EXPECT_EQ(fields.command->retry, RetryClass::kIdempotent);
  const auto& request = static_cast<const kommo::v1::ListCustomFieldsRequest&>(*fields.request);
  EXPECT_EQ(request.entity_type(), kommo::v1::ENTITY_TYPE_COMPANY);
  EXPECT_TRUE(request.refresh());

  fields = Parse({"account", "fields", "--entity=ENTITY_TYPE_LEAD", "--refresh=false"});
  ASSERT_EQ(fields.error, "");
  const auto& lead = static_cast<const kommo::v1::ListCustomFieldsRequest&>(*fields.request);
  EXPECT_EQ(lead.entity_type(), kommo::v1::ENTITY_TYPE_LEAD);
  EXPECT_FALSE(lead.refresh());

  EXPECT_EQ(Parse({"account", "fields", "--entity=deal"}).error,
            "--entity: \"deal\" is not one of lead, contact, company");
  EXPECT_EQ(Parse({"account", "fields", "--entity=unspecified"}).error,
            "--entity: \"unspecified\" is not one of lead, contact, company");
  EXPECT_EQ(Parse({"account", "fields"}).error, "--entity is required for \"account fields\"");
  EXPECT_EQ(Parse({"account", "users", "--refresh=maybe"}).error,
            "--refresh: \"maybe\" is not true or false");
  for (const char* verb : {"show", "pipelines", "users", "loss-reasons"}) {
    const Invocation invocation = Parse({"account", verb});
    EXPECT_EQ(invocation.error, "") << verb;
    ASSERT_NE(invocation.command, nullptr) << verb;
  }
  EXPECT_THAT(Parse({"account"}).error, HasSubstr("account pipelines"));
  EXPECT_THAT(TopLevelHelp(), HasSubstr("kommo.v1.AccountService/ListPipelines"));
}

TEST(AccountCommandsTest, PipelinesPrintTheirStagesWithIds) {
  kommo::v1::ListPipelinesResponse response;
  kommo::v1::Pipeline* pipeline = response.add_pipelines();
  pipeline->set_id(7000001);
  pipeline->set_name("Sales");
  pipeline->set_is_main(true);
  for (const auto& [id, name, kind] :
       std::vector<std::tuple<int64_t, std::string, kommo::v1::StageKind>>{
           {61, "Incoming", kommo::v1::STAGE_KIND_INCOMING},
           {62, "First", kommo::v1::STAGE_KIND_ORDINARY},
           {142, "Won", kommo::v1::STAGE_KIND_WON}}) {
    kommo::v1::Stage* stage = pipeline->add_stages();
    stage->set_id(id);
    stage->set_name(name);
    stage->set_kind(kind);
  }
  kommo::v1::Pipeline* archived = response.add_pipelines();
  archived->set_id(7000002);
  archived->set_name("Old");
  archived->set_is_archived(true);
  response.mutable_fetch_time()->set_seconds(1700000000);
  EXPECT_EQ(FormatTable(response),
            "pipeline 7000001  Sales  (main)\n"
            "  id   name      kind                 sort\n"
            "  61   Incoming  STAGE_KIND_INCOMING  0\n"
            "  62   First     STAGE_KIND_ORDINARY  0\n"
            "  142  Won       STAGE_KIND_WON       0\n"
            "\n"
            "pipeline 7000002  Old  (archived)\n"
            "  no stages\n"
            "fetch_time  2023-11-14T22:13:20Z\n");
}

TEST(AccountCommandsTest, FieldsShowTheirEnumsAndAccountItsGroups) {
  kommo::v1::ListCustomFieldsResponse fields;
  kommo::v1::CustomField* field = fields.add_custom_fields();
  field->set_id(910004);
  field->set_name("Product");
  field->set_kommo_type("select");
  field->set_type(kommo::v1::CUSTOM_FIELD_TYPE_SELECT);
  kommo::v1::CustomFieldEnum* basic = field->add_enums();
  basic->set_id(1);
  basic->set_value("Basic");
  kommo::v1::CustomFieldEnum* pro = field->add_enums();
  pro->set_id(2);
  pro->set_value("Pro");
  EXPECT_EQ(FormatTable(fields),
            "id      name     code  kommo_type  sort  enums\n"
            "910004  Product        select      0     1 Basic, 2 Pro\n");

  kommo::v1::GetAccountResponse account;
  account.mutable_account()->set_id(5);
  kommo::v1::UserGroup* group = account.mutable_account()->add_user_groups();
  group->set_id(400001);
  group->set_name("Sales");
  account.mutable_fetch_time()->set_seconds(1700000000);
  const std::string table = FormatTable(account);
  EXPECT_THAT(table, ::testing::StartsWith("id                      5\n"));  // one entity
  EXPECT_THAT(table, HasSubstr("user_groups             400001 Sales\n"));
  EXPECT_THAT(table, HasSubstr("fetch_time              2023-11-14T22:13:20Z\n"));
}

TEST(TasksTest, CreateTakesKindsAndTimesByName) {
  const Invocation invocation =
      Parse({"tasks", "create", "--text=Call back", "--due_at=2030-01-31T17:00:00Z",
             "--entity_type=lead", "--entity_id=31000000001", "--request_id=crm-1"});
  ASSERT_EQ(invocation.error, "");
  EXPECT_STREQ(invocation.command->rpc, "kommo.v1.TaskService/CreateTask");
  const auto& request = dynamic_cast<const kommo::v1::CreateTaskRequest&>(*invocation.request);
  EXPECT_EQ(request.text(), "Call back");
  EXPECT_EQ(request.due_at().seconds(), 1896109200);
  EXPECT_EQ(request.entity_type(), kommo::v1::ENTITY_TYPE_LEAD);
  EXPECT_EQ(request.entity_id(), 31000000001);
  EXPECT_EQ(request.request_id(), "crm-1");

  const Invocation company =
      Parse({"tasks", "create", "--text=x", "--due_at=2030-01-31T17:00:00+03:00",
             "--entity_type=ENTITY_TYPE_COMPANY", "--entity_id=5"});
  ASSERT_EQ(company.error, "");
  const auto& same = dynamic_cast<const kommo::v1::CreateTaskRequest&>(*company.request);
  EXPECT_EQ(same.due_at().seconds(), 1896109200 - 3 * 3600);
  EXPECT_EQ(same.entity_type(), kommo::v1::ENTITY_TYPE_COMPANY);
  EXPECT_EQ(company.command->retry, RetryClass::kWrite);

  EXPECT_EQ(Parse({"tasks", "create", "--text=x", "--due_at=tomorrow"}).error,
            "--due_at: \"tomorrow\" is not an RFC 3339 time such as 2026-01-31T12:00:00Z");
  EXPECT_EQ(
      Parse({"tasks", "create", "--text=x", "--due_at=2030-01-31T17:00:00Z", "--entity_type=deal"})
          .error,
      "--entity_type: \"deal\" is not one of lead, contact, company");
  EXPECT_EQ(Parse({"tasks", "create", "--text=x"}).error,
            "--due_at is required for \"tasks create\"");
}

TEST(TasksTest, CompleteAndListFlags) {
  const Invocation complete =
      Parse({"tasks", "complete", "--task_id=78000000001", "--result_text=Reached"});
  ASSERT_EQ(complete.error, "");
  const auto& done = dynamic_cast<const kommo::v1::CompleteTaskRequest&>(*complete.request);
  EXPECT_EQ(done.task_id(), 78000000001);
  EXPECT_EQ(done.result_text(), "Reached");
  EXPECT_EQ(complete.command->retry, RetryClass::kIdempotent);

  const Invocation list =
      Parse({"tasks", "list", "--entity_type=contact", "--entity_ids=1,2", "--completion=open",
             "--responsible_user_ids=8000001", "--due_to=2030-01-01T00:00:00Z", "--order=due_asc"});
  ASSERT_EQ(list.error, "");
  const auto& request = dynamic_cast<const kommo::v1::ListTasksRequest&>(*list.request);
  EXPECT_EQ(request.entity_type(), kommo::v1::ENTITY_TYPE_CONTACT);
  EXPECT_THAT(request.entity_ids(), ElementsAre(1, 2));
  EXPECT_EQ(request.completion(), kommo::v1::ListTasksRequest::COMPLETION_OPEN);
  EXPECT_THAT(request.responsible_user_ids(), ElementsAre(8000001));
  EXPECT_FALSE(request.has_due_from());
  EXPECT_EQ(request.due_to().seconds(), 1893456000);
  EXPECT_EQ(request.order(), kommo::v1::ListTasksRequest::ORDER_DUE_ASC);
  EXPECT_THAT(GroupHelp("tasks"), HasSubstr("tasks complete"));
}

TEST(TasksTest, TasksAsRowsWithKindNames) {
  kommo::v1::ListTasksResponse response;
  kommo::v1::Task& task = *response.add_tasks();
  task.set_id(78000000001);
  task.mutable_due_at()->set_seconds(1893456000);
  task.set_entity_type(kommo::v1::ENTITY_TYPE_LEAD);
  task.set_entity_id(31000000001);
  task.set_responsible_user_id(8000001);
  task.set_text("Call back");
  kommo::v1::Task& loose = *response.add_tasks();
  loose.set_id(78000000002);
  loose.set_completed(true);
  loose.set_text("Plan");
  EXPECT_EQ(FormatTable(response),
            "id           due_at                completed  entity_type              entity_id    "
            "responsible_user_id  text\n"
            "78000000001  2030-01-01T00:00:00Z  false      ENTITY_TYPE_LEAD         31000000001  "
            "8000001              Call back\n"
            "78000000002  -                     true       ENTITY_TYPE_UNSPECIFIED  0            "
            "0                    Plan\n"
            "(last page)\n");
}

TEST(ParseTest, FieldsAreTypedByTheirFormAndRepeatable) {
  const Invocation lead = Parse(
      {"leads", "update", "--lead_id=7", "--field=UTM_SOURCE=google", "--field", "1012=12.5",
       "--field=1013=true", "--field=1014=2030-01-31", "--field=1015=Gold", "--field=1015=Silver",
       "--field=1016=text:007", "--field=1017=enum:55", "--field=PHONE=kind:MOB:+15550100",
       "--field=1018=+15550100", "--field=1019=", "--tag=vip", "--tag", "hot", "--untag=cold"});
  ASSERT_EQ(lead.error, "");
  const auto& request = dynamic_cast<const kommo::v1::UpdateLeadRequest&>(*lead.request);
  ASSERT_EQ(request.custom_fields_size(), 10);
  const auto& f = request.custom_fields();
  EXPECT_EQ(f[0].field_code(), "UTM_SOURCE");
  EXPECT_EQ(f[0].values(0).text(), "google");
  EXPECT_EQ(f[1].field_id(), 1012);
  EXPECT_DOUBLE_EQ(f[1].values(0).number(), 12.5);
  EXPECT_TRUE(f[2].values(0).checkbox());
  EXPECT_EQ(f[3].values(0).time().seconds(), 1896048000);
  ASSERT_EQ(f[4].values_size(), 2) << "a field given twice gets two values";
  EXPECT_EQ(f[4].values(1).text(), "Silver");
  EXPECT_EQ(f[5].values(0).text(), "007");
  EXPECT_EQ(f[6].values(0).enum_id(), 55);
  EXPECT_EQ(f[7].values(0).enum_code(), "MOB");
  EXPECT_EQ(f[7].values(0).text(), "+15550100");
  EXPECT_EQ(f[8].values(0).text(), "+15550100") << "a '+' number stays text";
  EXPECT_EQ(f[9].field_id(), 1019);
  EXPECT_EQ(f[9].values_size(), 0) << "CODE= clears the field";
  EXPECT_THAT(request.tags_to_add(), ElementsAre("vip", "hot"));
  EXPECT_THAT(request.tags_to_remove(), ElementsAre("cold"));

  EXPECT_EQ(Parse({"leads", "create", "--name=L", "--field=novalue"}).error,
            "--field: \"novalue\" is not CODE=VALUE or ID=VALUE");
  EXPECT_EQ(Parse({"leads", "create", "--name=L", "--field=1=number:x"}).error,
            "--field: \"number:x\" is not a number");
  EXPECT_EQ(Parse({"leads", "update", "--lead_id=1", "--field=1=a", "--field=1="}).error,
            "--field: 1 is both cleared and set");
}

TEST(ParseTest, ContactsUpdateReplacesOrClearsPhonesAndEmails) {
  const Invocation update = Parse({"contacts", "update", "--contact_id=41", "--phones=+1",
                                   "--phones=+2", "--clear_emails", "--untag=old"});
  ASSERT_EQ(update.error, "");
  EXPECT_STREQ(update.command->rpc, "kommo.v1.ContactService/UpdateContact");
  const auto& request = dynamic_cast<const kommo::v1::UpdateContactRequest&>(*update.request);
  EXPECT_EQ(request.contact_id(), 41);
  EXPECT_THAT(request.phones().values(), ElementsAre("+1", "+2"));
  EXPECT_TRUE(request.has_emails());
  EXPECT_EQ(request.emails().values_size(), 0);
  EXPECT_FALSE(request.has_name());
  EXPECT_EQ(Parse({"contacts", "update", "--name=x"}).error,
            "--contact_id is required for \"contacts update\"");
}

TEST(FormatTest, EntitiesShowTheirCustomFieldsAndTags) {
  kommo::v1::GetLeadResponse response;
  kommo::v1::Lead* lead = response.mutable_lead();
  lead->set_id(7);
  kommo::v1::CustomFieldValues* source = lead->add_custom_fields();
  source->set_field_id(1012);
  source->set_field_code("UTM_SOURCE");
  source->add_values()->set_text("google");
  kommo::v1::CustomFieldValues* tier = lead->add_custom_fields();
  tier->set_field_id(1013);
  tier->set_field_name("Tier");
  kommo::v1::CustomFieldValue* gold = tier->add_values();
  gold->set_text("Gold");
  gold->set_enum_id(55);
  kommo::v1::Tag* tag = lead->add_tags();
  tag->set_id(3);
  tag->set_name("vip");
  const std::string table = FormatTable(response);
  EXPECT_THAT(table, HasSubstr("UTM_SOURCE 1012=google, Tier 1013=Gold"));
  EXPECT_THAT(table, HasSubstr("3 vip"));
}

TEST(CompaniesTest, CreateAndUpdateTakeFieldsAndTags) {
  const Invocation create =
      Parse({"companies", "create", "--name=Acme", "--responsible_user_id=8000001",
             "--field=WEB=https://acme.example", "--field", "910101=enum:1200101",
             "--tag=wholesale", "--tag", "eu", "--request_id=acme-1"});
  ASSERT_EQ(create.error, "");
  EXPECT_STREQ(create.command->rpc, "kommo.v1.CompanyService/CreateCompany");
  EXPECT_EQ(create.command->retry, RetryClass::kWrite);
  const auto& request = dynamic_cast<const kommo::v1::CreateCompanyRequest&>(*create.request);
  EXPECT_EQ(request.name(), "Acme");
  EXPECT_EQ(request.responsible_user_id(), 8000001);
  ASSERT_EQ(request.custom_fields_size(), 2);
  EXPECT_EQ(request.custom_fields(0).field_code(), "WEB");
  EXPECT_EQ(request.custom_fields(0).values(0).text(), "https://acme.example");
  EXPECT_EQ(request.custom_fields(1).field_id(), 910101);
  EXPECT_EQ(request.custom_fields(1).values(0).enum_id(), 1200101);
  EXPECT_THAT(request.tags_to_add(), ElementsAre("wholesale", "eu"));
  EXPECT_EQ(request.request_id(), "acme-1");
  EXPECT_EQ(Parse({"companies", "create", "--tag=x"}).error,
            "--name is required for \"companies create\"");
  EXPECT_THAT(Parse({"companies", "create", "--name=Acme", "--untag=x"}).error,
              HasSubstr("unknown flag --untag for \"companies create\""));

  const Invocation update = Parse({"companies", "update", "--company_id=61000000001", "--untag=eu",
                                   "--field=WEB=", "--responsible_user_id=8000002"});
  ASSERT_EQ(update.error, "");
  EXPECT_STREQ(update.command->rpc, "kommo.v1.CompanyService/UpdateCompany");
  EXPECT_EQ(update.command->retry, RetryClass::kIdempotent);
  const auto& changes = dynamic_cast<const kommo::v1::UpdateCompanyRequest&>(*update.request);
  EXPECT_EQ(changes.company_id(), 61000000001);
  EXPECT_FALSE(changes.has_name()) << "a flag left out leaves its field alone";
  EXPECT_TRUE(changes.has_responsible_user_id());
  EXPECT_EQ(changes.responsible_user_id(), 8000002);
  ASSERT_EQ(changes.custom_fields_size(), 1);
  EXPECT_EQ(changes.custom_fields(0).values_size(), 0) << "WEB= clears the field";
  EXPECT_THAT(changes.tags_to_remove(), ElementsAre("eu"));
  EXPECT_EQ(Parse({"companies", "update", "--name=x"}).error,
            "--company_id is required for \"companies update\"");
  EXPECT_EQ(Parse({"companies", "update", "--company_id=1", "--name="}).error,
            "--name must not be empty");
}

TEST(CompaniesTest, GetAndSearch) {
  const Invocation get = Parse({"companies", "get", "--company_id", "61000000001"});
  ASSERT_EQ(get.error, "");
  EXPECT_EQ(get.command->retry, RetryClass::kIdempotent);
  EXPECT_EQ(dynamic_cast<const kommo::v1::GetCompanyRequest&>(*get.request).company_id(),
            61000000001);
  EXPECT_EQ(Parse({"companies", "get"}).error, "--company_id is required for \"companies get\"");
  EXPECT_EQ(Parse({"companies", "get", "--company_id=acme"}).error,
            "--company_id: \"acme\" is not a whole number");

  const Invocation search =
      Parse({"companies", "search", "--query=acme", "--page_size=2", "--page_token="});
  ASSERT_EQ(search.error, "");
  EXPECT_STREQ(search.command->rpc, "kommo.v1.CompanyService/SearchCompanies");
  EXPECT_EQ(search.command->retry, RetryClass::kIdempotent);
  const auto& request = dynamic_cast<const kommo::v1::SearchCompaniesRequest&>(*search.request);
  EXPECT_EQ(request.query(), "acme");
  EXPECT_EQ(request.page_size(), 2);
  EXPECT_THAT(GroupHelp("companies"),
              HasSubstr("  companies search           kommo.v1.CompanyService/SearchCompanies\n"));
  EXPECT_THAT(TopLevelHelp(),
              HasSubstr("  companies create           kommo.v1.CompanyService/CreateCompany\n"));
}

TEST(LinksTest, AddNamesTheEndsLeadFirstWhateverTheFlagOrder) {
  const Invocation add =
      Parse({"links", "add", "--contact_id=52000000001", "--lead_id=31000000001", "--main"});
  ASSERT_EQ(add.error, "");
  EXPECT_STREQ(add.command->rpc, "kommo.v1.LinkService/LinkEntities");
  EXPECT_EQ(add.command->retry, RetryClass::kWrite);
  const auto& request = dynamic_cast<const kommo::v1::LinkEntitiesRequest&>(*add.request);
  EXPECT_EQ(request.entity_type(), kommo::v1::ENTITY_TYPE_LEAD);
  EXPECT_EQ(request.entity_id(), 31000000001);
  EXPECT_EQ(request.to_entity_type(), kommo::v1::ENTITY_TYPE_CONTACT);
  EXPECT_EQ(request.to_entity_id(), 52000000001);
  EXPECT_TRUE(request.is_main());

  for (const auto& args : std::vector<std::vector<std::string>>{
           {"links", "add", "--company_id=3", "--contact_id=2"},
           {"links", "add", "--contact_id=2", "--company_id=3"}}) {
    const Invocation pair = Parse(args);
    ASSERT_EQ(pair.error, "");
    const auto& link = dynamic_cast<const kommo::v1::LinkEntitiesRequest&>(*pair.request);
    EXPECT_EQ(link.entity_type(), kommo::v1::ENTITY_TYPE_CONTACT);
    EXPECT_EQ(link.entity_id(), 2);
    EXPECT_EQ(link.to_entity_type(), kommo::v1::ENTITY_TYPE_COMPANY);
    EXPECT_EQ(link.to_entity_id(), 3);
    EXPECT_FALSE(link.is_main());
  }
  const Invocation company = Parse({"links", "add", "--company_id=3", "--lead_id=1"});
  ASSERT_EQ(company.error, "");
  const auto& lead_company = dynamic_cast<const kommo::v1::LinkEntitiesRequest&>(*company.request);
  EXPECT_EQ(lead_company.entity_type(), kommo::v1::ENTITY_TYPE_LEAD);
  EXPECT_EQ(lead_company.to_entity_type(), kommo::v1::ENTITY_TYPE_COMPANY);
  EXPECT_EQ(lead_company.to_entity_id(), 3);
}

TEST(LinksTest, WrongCombinationsAreUsageErrors) {
  EXPECT_EQ(Parse({"links", "add", "--lead_id=1"}).error,
            "two of --lead_id, --contact_id and --company_id are required for \"links add\" "
            "(the link's two ends)");
  EXPECT_EQ(Parse({"links", "remove"}).error,
            "two of --lead_id, --contact_id and --company_id are required for \"links remove\" "
            "(the link's two ends)");
  EXPECT_EQ(Parse({"links", "add", "--lead_id=1", "--contact_id=2", "--company_id=3"}).error,
            "--company_id: a link has two ends; give two of --lead_id, --contact_id and "
            "--company_id");
  EXPECT_EQ(Parse({"links", "add", "--lead_id=1", "--lead_id=2"}).error, "--lead_id given twice");
  EXPECT_EQ(Parse({"links", "add", "--lead_id=1", "--company_id=3", "--main"}).error,
            "--main needs --lead_id and --contact_id: only a lead has a main contact");
  EXPECT_EQ(Parse({"links", "add", "--contact_id=2", "--company_id=3", "--main"}).error,
            "--main needs --lead_id and --contact_id: only a lead has a main contact");
  EXPECT_EQ(Parse({"links", "add", "--lead_id=x", "--contact_id=2"}).error,
            "--lead_id: \"x\" is not a whole number");
  EXPECT_THAT(Parse({"links", "remove", "--lead_id=1", "--contact_id=2", "--main"}).error,
              HasSubstr("unknown flag --main for \"links remove\""));
  // --main=false is no main contact, so any pair.
  EXPECT_EQ(Parse({"links", "add", "--lead_id=1", "--company_id=3", "--main=false"}).error, "");
  // --help wins over the missing ends.
  EXPECT_EQ(Parse({"links", "add", "--help"}).error, "");
}

TEST(LinksTest, RemoveAndList) {
  const Invocation remove = Parse({"links", "remove", "--company_id=3", "--lead_id=1"});
  ASSERT_EQ(remove.error, "");
  EXPECT_STREQ(remove.command->rpc, "kommo.v1.LinkService/UnlinkEntities");
  EXPECT_EQ(remove.command->retry, RetryClass::kWrite);
  const auto& unlink = dynamic_cast<const kommo::v1::UnlinkEntitiesRequest&>(*remove.request);
  EXPECT_EQ(unlink.entity_type(), kommo::v1::ENTITY_TYPE_LEAD);
  EXPECT_EQ(unlink.entity_id(), 1);
  EXPECT_EQ(unlink.to_entity_type(), kommo::v1::ENTITY_TYPE_COMPANY);
  EXPECT_EQ(unlink.to_entity_id(), 3);

  const Invocation list = Parse({"links", "list", "--contact_id=2", "--to_entity_type=company"});
  ASSERT_EQ(list.error, "");
  EXPECT_STREQ(list.command->rpc, "kommo.v1.LinkService/ListLinks");
  EXPECT_EQ(list.command->retry, RetryClass::kIdempotent);
  const auto& request = dynamic_cast<const kommo::v1::ListLinksRequest&>(*list.request);
  EXPECT_EQ(request.entity_type(), kommo::v1::ENTITY_TYPE_CONTACT);
  EXPECT_EQ(request.entity_id(), 2);
  EXPECT_EQ(request.to_entity_type(), kommo::v1::ENTITY_TYPE_COMPANY);
  EXPECT_EQ(Parse({"links", "list"}).error,
            "--lead_id, --contact_id or --company_id is required for \"links list\"");
  EXPECT_EQ(Parse({"links", "list", "--lead_id=1", "--contact_id=2"}).error,
            "--lead_id and --contact_id exclude each other: give one of --lead_id, "
            "--contact_id or --company_id");
  EXPECT_EQ(Parse({"links", "list", "--lead_id=1", "--to_entity_type=deal"}).error,
            "--to_entity_type: \"deal\" is not one of lead, contact, company");
  EXPECT_THAT(GroupHelp("links"),
              HasSubstr("  links remove               kommo.v1.LinkService/UnlinkEntities\n"));
}

TEST(LeadsListTest, EveryFilterOrderAndPage) {
  const Invocation list =
      Parse({"leads", "list", "--ids=1,2", "--ids", "3", "--stage=7000001:60000002", "--stage",
             "7000002:60000012", "--pipeline_ids=7000003,7000004", "--responsible_user_ids=8000001",
             "--created_from=2026-01-01T00:00:00Z", "--created_to=2026-02-01T00:00:00Z",
             "--updated_from=2026-01-31T12:00:00+03:00", "--query=inquiry", "--order_by=updated_at",
             "--descending", "--page_size=10", "--page_token=abc"});
  ASSERT_EQ(list.error, "");
  EXPECT_STREQ(list.command->rpc, "kommo.v1.LeadService/ListLeads");
  EXPECT_EQ(list.command->retry, RetryClass::kIdempotent);
  const auto& request = dynamic_cast<const kommo::v1::ListLeadsRequest&>(*list.request);
  EXPECT_THAT(request.ids(), ElementsAre(1, 2, 3));
  ASSERT_EQ(request.stages_size(), 4);
  EXPECT_EQ(request.stages(0).pipeline_id(), 7000001);
  EXPECT_EQ(request.stages(0).status_id(), 60000002);
  EXPECT_EQ(request.stages(1).pipeline_id(), 7000002);
  EXPECT_EQ(request.stages(1).status_id(), 60000012);
  EXPECT_EQ(request.stages(2).pipeline_id(), 7000003);
  EXPECT_EQ(request.stages(2).status_id(), 0) << "a whole pipeline";
  EXPECT_EQ(request.stages(3).pipeline_id(), 7000004);
  EXPECT_THAT(request.responsible_user_ids(), ElementsAre(8000001));
  EXPECT_EQ(request.created().from().seconds(), 1767225600);
  EXPECT_EQ(request.created().to().seconds(), 1769904000);
  EXPECT_EQ(request.updated().from().seconds(), 1769860800 - 3 * 3600);
  EXPECT_FALSE(request.updated().has_to());
  EXPECT_EQ(request.query(), "inquiry");
  EXPECT_EQ(request.order_by(), kommo::v1::ListLeadsRequest::ORDER_BY_UPDATED_AT);
  EXPECT_TRUE(request.descending());
  EXPECT_EQ(request.page_size(), 10);
  EXPECT_EQ(request.page_token(), "abc");

  const Invocation plain = Parse({"leads", "list"});
  ASSERT_EQ(plain.error, "");
  const auto& none = dynamic_cast<const kommo::v1::ListLeadsRequest&>(*plain.request);
  EXPECT_FALSE(none.has_created());
  EXPECT_FALSE(none.has_updated());
  EXPECT_FALSE(none.descending());
  EXPECT_EQ(none.order_by(), kommo::v1::ListLeadsRequest::ORDER_BY_UNSPECIFIED);
}

TEST(LeadsListTest, BadValuesAreUsageErrors) {
  EXPECT_EQ(Parse({"leads", "list", "--stage=7000001"}).error,
            "--stage: \"7000001\" is not PIPELINE_ID:STATUS_ID (a whole pipeline: "
            "--pipeline_ids)");
  EXPECT_EQ(Parse({"leads", "list", "--stage=7000001:x"}).error,
            "--stage: \"7000001:x\" is not PIPELINE_ID:STATUS_ID (a whole pipeline: "
            "--pipeline_ids)");
  EXPECT_EQ(Parse({"leads", "list", "--stage=1:2:3"}).error,
            "--stage: \"1:2:3\" is not PIPELINE_ID:STATUS_ID (a whole pipeline: "
            "--pipeline_ids)");
  EXPECT_EQ(Parse({"leads", "list", "--stage="}).error, "--stage must not be empty");
  EXPECT_EQ(Parse({"leads", "list", "--pipeline_ids=1,,2"}).error,
            "--pipeline_ids: \"\" is not a whole number");
  EXPECT_EQ(Parse({"leads", "list", "--created_from=yesterday"}).error,
            "--created_from: \"yesterday\" is not an RFC 3339 time such as "
            "2026-01-31T12:00:00Z");
  EXPECT_EQ(Parse({"leads", "list", "--order_by=name"}).error,
            "--order_by: \"name\" is not one of id, created_at, updated_at");
  EXPECT_EQ(Parse({"leads", "list", "--created_to=2026-01-01T00:00:00Z",
                   "--created_to=2026-01-02T00:00:00Z"})
                .error,
            "--created_to given twice");
  EXPECT_THAT(CommandHelp(*Parse({"leads", "list", "--help"}).command),
              HasSubstr("[--stage=PIPELINE_ID:STATUS_ID]"));
}

TEST(OutputTest, CompaniesLinksAndTheLeadList) {
  kommo::v1::Company company;
  company.set_id(61000000001);
  company.set_name("Acme");
  company.set_responsible_user_id(8000001);
  kommo::v1::CustomFieldValues* web = company.add_custom_fields();
  web->set_field_id(910102);
  web->set_field_code("WEB");
  web->add_values()->set_text("https://acme.example");
  kommo::v1::Tag* tag = company.add_tags();
  tag->set_id(3);
  tag->set_name("wholesale");
  company.mutable_updated_at()->set_seconds(1700000000);

  kommo::v1::GetCompanyResponse one;
  *one.mutable_company() = company;
  const std::string table = FormatTable(one);
  EXPECT_THAT(table, HasSubstr("id                   61000000001\n"));
  EXPECT_THAT(table, HasSubstr("custom_fields        WEB 910102=https://acme.example\n"));
  EXPECT_THAT(table, HasSubstr("tags                 3 wholesale\n"));

  kommo::v1::SearchCompaniesResponse search;
  *search.add_companies() = company;
  search.set_next_page_token("p2");
  EXPECT_EQ(FormatTable(search),
            "id           name  responsible_user_id  tags         updated_at\n"
            "61000000001  Acme  8000001              3 wholesale  2023-11-14T22:13:20Z\n"
            "next page: --page_token=p2\n");

  kommo::v1::ListLinksResponse links;
  kommo::v1::Link* main = links.add_links();
  main->set_entity_type(kommo::v1::ENTITY_TYPE_LEAD);
  main->set_entity_id(31000000001);
  main->set_to_entity_type(kommo::v1::ENTITY_TYPE_CONTACT);
  main->set_to_entity_id(52000000001);
  main->set_is_main(true);
  EXPECT_EQ(FormatTable(links),
            "entity_type       entity_id    to_entity_type       to_entity_id  is_main\n"
            "ENTITY_TYPE_LEAD  31000000001  ENTITY_TYPE_CONTACT  52000000001   true\n");
  EXPECT_EQ(FormatTable(kommo::v1::ListLinksResponse()), "no links\n");
  kommo::v1::LinkEntitiesResponse linked;
  *linked.mutable_link() = *main;
  EXPECT_THAT(FormatTable(linked),
              HasSubstr("to_entity_id    52000000001\nis_main         true\n"));

  // UnlinkEntities answers nothing but success.
  EXPECT_EQ(FormatTable(kommo::v1::UnlinkEntitiesResponse()), "ok\n");
  EXPECT_EQ(FormatJson(kommo::v1::UnlinkEntitiesResponse()), "{}");

  kommo::v1::ListLeadsResponse leads;
  *leads.add_leads() = SampleLead();
  leads.set_next_page_token("n2");
  EXPECT_EQ(FormatTable(leads),
            "id           name            price  pipeline_id  status_id  contact_ids               "
            "updated_at\n"
            "31000000001  Café?]0;pwned?  1500   0            0          52000000001, 52000000002  "
            "-\n"
            "next page: --page_token=n2\n");
  EXPECT_THAT(FormatJson(leads), HasSubstr("\"next_page_token\":\"n2\""));
}

TEST(WatchVerbsTest, ParseFiltersCountAndDeadline) {
  const Invocation watch =
      Parse({"leads", "watch", "--kind=stage_changed", "--kind", "CREATED", "--stage=7:142",
             "--pipeline_ids=9", "--include_entity", "--count=2", "--resume_token=abc"});
  ASSERT_EQ(watch.error, "");
  ASSERT_NE(watch.command, nullptr);
  EXPECT_NE(watch.command->stream, nullptr);
  EXPECT_EQ(watch.command->call, nullptr);
  EXPECT_EQ(watch.count, 2);
  EXPECT_FALSE(watch.deadline_given);
  const auto& request = dynamic_cast<const kommo::v1::WatchLeadsRequest&>(*watch.request);
  EXPECT_THAT(request.kinds(),
              ElementsAre(kommo::v1::CHANGE_KIND_STAGE_CHANGED, kommo::v1::CHANGE_KIND_CREATED));
  ASSERT_EQ(request.stages_size(), 2);
  EXPECT_EQ(request.stages(0).status_id(), 142);
  EXPECT_EQ(request.stages(1).pipeline_id(), 9);
  EXPECT_TRUE(request.include_entity());
  EXPECT_EQ(request.resume_token(), "abc");

  EXPECT_TRUE(Parse({"contacts", "watch", "--deadline=5s"}).deadline_given);
  EXPECT_THAT(Parse({"leads", "watch", "--kind=moved"}).error, HasSubstr("--kind: \"moved\""));
  EXPECT_THAT(Parse({"leads", "watch", "--kind=unspecified"}).error, HasSubstr("--kind"));
  EXPECT_THAT(Parse({"leads", "watch", "--count=0"}).error, HasSubstr("--count"));
}

TEST(WatchVerbsTest, OneLinePerChangeOrHeartbeat) {
  kommo::v1::WatchLeadsResponse moved;
  moved.set_resume_token("T1");
  kommo::v1::LeadChange* change = moved.mutable_change();
  change->set_kind(kommo::v1::CHANGE_KIND_STAGE_CHANGED);
  change->set_lead_id(31000000001);
  change->mutable_change_time()->set_seconds(1700000000);
  change->set_changed_by(8000001);
  change->set_event_type("lead_status_changed");
  change->mutable_stage_before()->set_pipeline_id(7000001);
  change->mutable_stage_before()->set_status_id(60000002);
  change->mutable_stage_after()->set_pipeline_id(7000001);
  change->mutable_stage_after()->set_status_id(142);
  change->mutable_lead()->set_name("Deal");
  EXPECT_EQ(FormatStreamLine(moved, false),
            "STAGE_CHANGED  lead 31000000001  at 2023-11-14T22:13:20Z  by 8000001  "
            "lead_status_changed  stage 7000001:60000002 -> 7000001:142  name=\"Deal\"  "
            "resume_token=T1");
  EXPECT_TRUE(IsChange(moved));
  const std::string json = FormatStreamLine(moved, true);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_THAT(json, HasSubstr("\"kind\":\"CHANGE_KIND_STAGE_CHANGED\""));

  kommo::v1::WatchContactsResponse beat;
  beat.set_resume_token("T2");
  beat.mutable_heartbeat()->mutable_time()->set_seconds(1700000060);
  EXPECT_EQ(FormatStreamLine(beat, false),
            "HEARTBEAT  up to 2023-11-14T22:14:20Z  resume_token=T2");
  EXPECT_FALSE(IsChange(beat));

  kommo::v1::WatchContactsResponse reassigned;
  reassigned.set_resume_token("T3");
  reassigned.mutable_change()->set_kind(kommo::v1::CHANGE_KIND_RESPONSIBLE_CHANGED);
  reassigned.mutable_change()->set_contact_id(52000000001);
  reassigned.mutable_change()->set_responsible_user_before(1);
  reassigned.mutable_change()->set_responsible_user_after(2);
  EXPECT_THAT(
      FormatStreamLine(reassigned, false),
      HasSubstr("RESPONSIBLE_CHANGED  contact 52000000001  at -  by 0    responsible 1 -> 2"));
}

}  // namespace
}  // namespace kommo::cli
