// lead_qualification: a separate project's use of the installed KommoGrpc package.
//
//   lead_qualification --target=127.0.0.1:50051 --email=ann@example.com --name="Ann Lee"
//       --lead_name="Chat: pricing question" --price=1500 --responsible_user_id=8000001
//       --qualified_status_id=60000003
//
// Prints the contact (found or created) and the lead after its move; exits 1 when a call fails
// (with the error's details on stderr), 2 on a bad command line.
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "kommo/client/channel.h"
#include "kommo/client/errors.h"
#include "lead_qualification.h"

namespace {

constexpr char kUsage[] =
    "Usage: lead_qualification --email=EMAIL --lead_name=TEXT --responsible_user_id=ID\n"
    "           --qualified_status_id=ID [--name=TEXT] [--phone=PHONE] [--price=N]\n"
    "           [--target=HOST:PORT]\n"
    "\n"
    "Finds the contact by email (or creates it), creates a lead linked to it and moves the lead\n"
    "to the qualified stage, through kommo-grpc.\n"
    "\n"
    "  --email=EMAIL              required: the prospect's email, searched before creating\n"
    "  --lead_name=TEXT           required: the new lead's name\n"
    "  --responsible_user_id=ID   required: the user responsible for contact and lead\n"
    "  --qualified_status_id=ID   required: the stage the lead moves to\n"
    "  --name=TEXT                the contact's name when it is created\n"
    "  --phone=PHONE              the contact's phone when it is created\n"
    "  --price=N                  the lead's deal value\n"
    "  --target=HOST:PORT         the kommo-grpc server (default: $KOMMO_GRPC_TARGET, else\n"
    "                             localhost:50051)\n"
    "\n"
    "Exit codes: 0 done, 1 a call failed (details on stderr), 2 a bad command line.\n";

// --key=value arguments; false (with a message) for anything else.
bool ParseFlags(int argc, char** argv, std::map<std::string, std::string>& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t equals = arg.find('=');
    if (arg.rfind("--", 0) != 0 || equals == std::string::npos) {
      std::cerr << "lead_qualification: expected --flag=value, got \"" << arg << "\"\n";
      return false;
    }
    flags[arg.substr(2, equals - 2)] = arg.substr(equals + 1);
  }
  return true;
}

bool ParseId(const std::map<std::string, std::string>& flags, const std::string& name,
             int64_t& value) {
  const auto it = flags.find(name);
  if (it == flags.end()) return true;
  char* end = nullptr;
  value = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty()) {
    std::cerr << "lead_qualification: --" << name << " must not be empty\n";
    return false;
  }
  if (*end != '\0') {
    std::cerr << "lead_qualification: --" << name << " must be a whole number\n";
    return false;
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
  if (!ParseFlags(argc, argv, flags)) {
    std::cerr << "Run `lead_qualification --help` for usage.\n";
    return 2;
  }
  const char* env_target = std::getenv("KOMMO_GRPC_TARGET");
  std::string target = env_target != nullptr ? env_target : "localhost:50051";
  if (flags.count("target")) target = flags["target"];

  lead_qualification::Prospect prospect;
  prospect.email = flags["email"];
  prospect.name = flags["name"];
  prospect.phone = flags["phone"];
  prospect.lead_name = flags["lead_name"];
  if (!ParseId(flags, "price", prospect.price) ||
      !ParseId(flags, "responsible_user_id", prospect.responsible_user_id) ||
      !ParseId(flags, "qualified_status_id", prospect.qualified_status_id)) {
    return 2;
  }
  for (const char* required :
       {"email", "lead_name", "responsible_user_id", "qualified_status_id"}) {
    const auto it = flags.find(required);
    if (it == flags.end()) {
      std::cerr << "lead_qualification: --" << required << " is required (see --help)\n";
      return 2;
    }
    if (it->second.empty()) {
      std::cerr << "lead_qualification: --" << required << " must not be empty\n";
      return 2;
    }
  }

  // One channel for the process: keepalive and the per-method retry policy.
  std::shared_ptr<grpc::Channel> channel = kommo::client::CreateChannel(target);
  kommo::v1::LeadService::Stub leads(channel);
  kommo::v1::ContactService::Stub contacts(channel);

  const lead_qualification::Outcome outcome =
      lead_qualification::Qualify(leads, contacts, prospect);
  if (!outcome.status.ok()) {
    std::cerr << "lead_qualification: " << outcome.failed_step
              << " failed: " << kommo::client::FormatError(outcome.status) << "\n";
    if (outcome.lead.id() != 0) {
      std::cerr << "lead " << outcome.lead.id() << " was created; move it by hand\n";
    }
    return 1;
  }
  std::cout << "contact " << outcome.contact.id() << " "
            << (outcome.contact_created ? "created" : "found") << "\n"
            << "lead " << outcome.lead.id() << " linked to contacts";
  for (int64_t id : outcome.lead.contact_ids()) std::cout << " " << id;
  std::cout << ", pipeline " << outcome.lead.pipeline_id() << ", stage " << outcome.lead.status_id()
            << "\n";
  return 0;
}
