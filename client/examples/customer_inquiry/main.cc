// customer_inquiry: a separate project's use of the installed KommoGrpc package, on the
// lead-capture RPCs (customer_inquiry.h has the flow).
//
//   customer_inquiry --target=127.0.0.1:50051 --inquiry_id=chat-1042 --email=ann@example.com
//       --phone="+1 555 0100" --name="Ann Lee" --subject="Chat: delivery to Lisbon" --price=1500
//       --transcript_file=chat-1042.txt --stage_ids=60000003
//
// Prints what happened by ids only (never the person's email, phone or name); exits 1 when a
// call fails (with the error's details on stderr), 2 on a bad command line.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

#include "customer_inquiry.h"
#include "kommo/client/channel.h"
#include "kommo/client/errors.h"

namespace {

constexpr char kUsage[] =
    "Usage: customer_inquiry --inquiry_id=ID --email=EMAIL --subject=TEXT [--phone=PHONE]\n"
    "           [--name=TEXT] [--price=N] [--responsible_user_id=ID]\n"
    "           [--transcript=TEXT | --transcript_file=PATH] [--note_service=NAME]\n"
    "           [--stage_ids=ID[,ID...]] [--lead_id=ID] [--target=HOST:PORT]\n"
    "\n"
    "Handles one customer inquiry through kommo-grpc: looks the person up by email and phone;\n"
    "a known person's contact gets the phone or email it lacks and a new lead, a new person a "
    "lead\n"
    "and a contact made together; the chat transcript becomes a note on the lead, which then "
    "moves\n"
    "through the stages the conversation reached. Every write's request_id comes from the\n"
    "inquiry id.\n"
    "\n"
    "  --inquiry_id=ID            required: the inquiry's id in the chat system (1 to 55 "
    "characters)\n"
    "  --email=EMAIL              required: the person's email\n"
    "  --subject=TEXT             required: the lead's name\n"
    "  --phone=PHONE              the person's phone, matched and stored\n"
    "  --name=TEXT                the person's name, for a new contact\n"
    "  --price=N                  the lead's deal value\n"
    "  --responsible_user_id=ID   the user responsible for lead and contact (default: the\n"
    "                             server token's user)\n"
    "  --transcript=TEXT          the chat transcript, added to the lead as a note\n"
    "  --transcript_file=PATH     the transcript from a file (\"-\": standard input)\n"
    "  --note_service=NAME        show the note as a message from this service\n"
    "  --stage_ids=ID[,ID...]     the stages the lead moves through, in order\n"
    "  --lead_id=ID               finish an inquiry whose earlier run created this lead and then\n"
    "                             failed: only the note and the stage moves (same --inquiry_id)\n"
    "  --target=HOST:PORT         the kommo-grpc server (default: $KOMMO_GRPC_TARGET, else\n"
    "                             localhost:50051)\n"
    "\n"
    "Exit codes: 0 done, 1 a call failed (details on stderr), 2 a bad command line.\n";

bool Fail(const std::string& message) {
  std::cerr << "customer_inquiry: " << message << "\n";
  return false;
}

// --key=value arguments; false (with a message) for anything else.
bool ParseFlags(int argc, char** argv, std::map<std::string, std::string>& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t equals = arg.find('=');
    if (arg.rfind("--", 0) != 0 || equals == std::string::npos) {
      return Fail("expected --flag=value, got \"" + arg + "\"");
    }
    flags[arg.substr(2, equals - 2)] = arg.substr(equals + 1);
  }
  return true;
}

bool ParseNumber(const std::string& name, const std::string& text, int64_t& value) {
  char* end = nullptr;
  value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty()) return Fail("--" + name + " must not be empty");
  if (*end != '\0') return Fail("--" + name + " must be a whole number");
  return true;
}

bool ReadTranscript(const std::string& path, std::string& text) {
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return Fail("cannot open --transcript_file \"" + path + "\"");
  std::ostringstream content;
  content << file.rdbuf();
  text = content.str();
  return true;
}

bool BuildInquiry(std::map<std::string, std::string>& flags, customer_inquiry::Inquiry& inquiry) {
  static const char* const kKnown[] = {"inquiry_id",
                                       "email",
                                       "subject",
                                       "phone",
                                       "name",
                                       "price",
                                       "responsible_user_id",
                                       "transcript",
                                       "transcript_file",
                                       "note_service",
                                       "stage_ids",
                                       "lead_id",
                                       "target"};
  for (const auto& [name, value] : flags) {
    if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) {
      return Fail("unknown flag --" + name + " (see --help)");
    }
    if (value.empty()) return Fail("--" + name + " must not be empty");
  }
  for (const char* required : {"inquiry_id", "email", "subject"}) {
    if (flags.count(required) == 0) {
      return Fail(std::string("--") + required + " is required (see --help)");
    }
  }
  if (flags.count("transcript") && flags.count("transcript_file")) {
    return Fail("--transcript and --transcript_file exclude each other");
  }
  inquiry.inquiry_id = flags["inquiry_id"];
  if (inquiry.inquiry_id.size() > customer_inquiry::kMaxInquiryIdLength) {
    return Fail("--inquiry_id must be at most 55 characters");
  }
  inquiry.email = flags["email"];
  inquiry.subject = flags["subject"];
  inquiry.phone = flags["phone"];
  inquiry.name = flags["name"];
  inquiry.note_service = flags["note_service"];
  inquiry.transcript = flags["transcript"];
  if (flags.count("transcript_file") &&
      !ReadTranscript(flags["transcript_file"], inquiry.transcript)) {
    return false;
  }
  if (flags.count("price") && !ParseNumber("price", flags["price"], inquiry.price)) return false;
  if (flags.count("responsible_user_id") &&
      !ParseNumber("responsible_user_id", flags["responsible_user_id"],
                   inquiry.responsible_user_id)) {
    return false;
  }
  if (flags.count("lead_id") && !ParseNumber("lead_id", flags["lead_id"], inquiry.lead_id)) {
    return false;
  }
  if (flags.count("stage_ids")) {
    std::stringstream list(flags["stage_ids"]);
    for (std::string part; std::getline(list, part, ',');) {
      int64_t stage = 0;
      if (!ParseNumber("stage_ids", part, stage)) return false;
      inquiry.stage_ids.push_back(stage);
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
  }
  std::map<std::string, std::string> flags;
  customer_inquiry::Inquiry inquiry;
  if (!ParseFlags(argc, argv, flags) || !BuildInquiry(flags, inquiry)) {
    std::cerr << "Run `customer_inquiry --help` for usage.\n";
    return 2;
  }
  const char* env_target = std::getenv("KOMMO_GRPC_TARGET");
  std::string target = env_target != nullptr ? env_target : "localhost:50051";
  if (flags.count("target")) target = flags["target"];

  // One channel for the process: keepalive and the per-method retry policy.
  std::shared_ptr<grpc::Channel> channel = kommo::client::CreateChannel(target);
  kommo::v1::LeadService::Stub leads(channel);
  kommo::v1::ContactService::Stub contacts(channel);
  kommo::v1::NoteService::Stub notes(channel);

  const customer_inquiry::Outcome outcome =
      customer_inquiry::HandleInquiry(leads, contacts, notes, inquiry);
  if (!outcome.status.ok()) {
    std::cerr << "customer_inquiry: " << outcome.failed_step
              << " failed: " << kommo::client::FormatError(outcome.status) << "\n";
    for (int64_t id : outcome.candidate_ids) {
      std::cerr << "candidate contact " << id << "\n";
    }
    if (outcome.lead.id() != 0) {
      std::cerr << "lead " << outcome.lead.id()
                << " exists: finish the inquiry with the same flags and --lead_id="
                << outcome.lead.id() << "\n";
    }
    return 1;
  }
  if (outcome.resumed) {
    std::cout << "lead " << outcome.lead.id() << " resumed";
  } else if (outcome.person_new) {
    std::cout << "contact " << outcome.contact.id() << " "
              << (outcome.contact_merged ? "merged by Kommo into an existing contact"
                                         : "created with the lead");
  } else {
    std::cout << "contact " << outcome.contact.id() << " "
              << (outcome.contact_outcome == kommo::v1::FindOrCreateContactResponse::OUTCOME_CREATED
                      ? "created"
                      : "matched");
  }
  std::cout << "\nlead " << outcome.lead.id() << " linked to contacts";
  for (int64_t id : outcome.lead.contact_ids()) std::cout << " " << id;
  std::cout << ", pipeline " << outcome.lead.pipeline_id() << ", stage " << outcome.lead.status_id()
            << "\n";
  if (outcome.note.id() != 0) {
    std::cout << "note " << outcome.note.id() << " on lead " << outcome.note.entity_id() << "\n";
  }
  return 0;
}
