#include "client/cli/commands.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/status.pb.h"
#include "kommo/client/errors.h"
#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "kommo/v1/task_service.grpc.pb.h"

namespace kommo::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Calls `Method` of a fresh stub of `Service`: stubs are cheap; the channel holds the connection.
template <typename Service, typename Request, typename Response,
          grpc::Status (Service::Stub::*Method)(grpc::ClientContext*, const Request&, Response*)>
grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context,
                  const Message& request, Message* response) {
  typename Service::Stub stub(channel);
  return (stub.*Method)(context, static_cast<const Request&>(request),
                        static_cast<Response*>(response));
}

template <typename Service, typename Request, typename Response,
          grpc::Status (Service::Stub::*Method)(grpc::ClientContext*, const Request&, Response*)>
Command MakeCommand(const char* group, const char* verb, const char* rpc, const char* summary,
                    std::vector<FlagSpec> flags) {
  return Command{group,
                 verb,
                 rpc,
                 summary,
                 std::move(flags),
                 &Request::default_instance(),
                 &Response::default_instance(),
                 &Call<Service, Request, Response, Method>};
}

// tasks create | complete | list (TaskService).
void AddTaskCommands(std::vector<Command>& commands, const FlagSpec& page_size,
                     const FlagSpec& page_token) {
  using kommo::v1::TaskService;
  namespace v1 = kommo::v1;
  const FlagSpec entity_type{"entity_type", "KIND", "lead, contact or company"};
  commands.push_back(MakeCommand<TaskService, v1::CreateTaskRequest, v1::CreateTaskResponse,
                                 &TaskService::Stub::CreateTask>(
      "tasks", "create", "kommo.v1.TaskService/CreateTask",
      "Creates a task, on a lead, contact or company or on nothing, and prints it as Kommo "
      "stored it.",
      {{"text", "TEXT", "required: what has to be done"},
       {"due_at", "TIME", "required: due time, RFC 3339 (2030-01-31T17:00:00Z) or Unix seconds"},
       entity_type,
       {"entity_id", "ID", "the lead, contact or company (with --entity_type)"},
       {"task_type_id", "ID", "1 call (the default), 2 meeting, or an account's own type"},
       {"responsible_user_id", "ID", "who has to do it (default: the server token's user)"},
       {"request_id", "KEY", "idempotency key: a repeat with it returns the first task"}}));
  commands.push_back(MakeCommand<TaskService, v1::CompleteTaskRequest, v1::CompleteTaskResponse,
                                 &TaskService::Stub::CompleteTask>(
      "tasks", "complete", "kommo.v1.TaskService/CompleteTask",
      "Marks a task completed, with an optional result, and prints it.",
      {{"task_id", "ID", "required: the task"}, {"result_text", "TEXT", "what came of it"}}));
  commands.push_back(MakeCommand<TaskService, v1::ListTasksRequest, v1::ListTasksResponse,
                                 &TaskService::Stub::ListTasks>(
      "tasks", "list", "kommo.v1.TaskService/ListTasks",
      "Lists tasks, latest due first, a page at a time. A page may hold fewer tasks than "
      "--page_size when --due_from or --due_to leave some out.",
      {entity_type,
       {"entity_ids", "ID[,ID...]", "only tasks on these entities (needs --entity_type)"},
       {"completion", "STATE", "open or completed (default: both)"},
       {"responsible_user_ids", "ID[,ID...]", "only tasks of these users"},
       {"due_from", "TIME", "only tasks due at or after this time"},
       {"due_to", "TIME", "only tasks due at or before this time"},
       {"order", "ORDER", "due_desc (the default) or due_asc"},
       page_size,
       page_token}));
}

std::vector<Command> BuildCommands() {
  using kommo::v1::ContactService;
  using kommo::v1::LeadService;
  namespace v1 = kommo::v1;
  const FlagSpec page_size{"page_size", "N", "results per page: 1 to 250 (default 50)"};
  const FlagSpec page_token{"page_token", "TOKEN",
                            "next_page_token of the previous page, with the same query and "
                            "page_size"};
  std::vector<Command> commands;
  commands.push_back(MakeCommand<LeadService, v1::CreateLeadRequest, v1::CreateLeadResponse,
                                 &LeadService::Stub::CreateLead>(
      "leads", "create", "kommo.v1.LeadService/CreateLead",
      "Creates a lead (optionally linked to existing contacts) and prints it as Kommo stored "
      "it, defaults included.",
      {{"name", "TEXT", "required: the lead's name, 1 to 255 characters"},
       {"price", "N", "deal value in whole units of the account's currency, 0 or more"},
       {"responsible_user_id", "ID", "responsible user (default: the server token's user)"},
       {"pipeline_id", "ID", "pipeline (default: the main pipeline)"},
       {"status_id", "ID", "stage (default: the pipeline's first); set --pipeline_id with it"},
       {"contact_ids", "ID[,ID...]", "contacts to link; comma-separated or repeated"}}));
  commands.push_back(MakeCommand<LeadService, v1::UpdateLeadRequest, v1::UpdateLeadResponse,
                                 &LeadService::Stub::UpdateLead>(
      "leads", "update", "kommo.v1.LeadService/UpdateLead",
      "Changes only the fields given (--price=0 sets 0; a flag left out leaves its field "
      "alone) and prints the lead with all its current values.",
      {{"lead_id", "ID", "required: the lead to change"},
       {"name", "TEXT", "new name, 1 to 255 characters"},
       {"price", "N", "new deal value, 0 or more"},
       {"responsible_user_id", "ID", "new responsible user"},
       {"pipeline_id", "ID", "new pipeline; set --status_id with it to choose the stage"},
       {"status_id", "ID", "new stage"}}));
  commands.push_back(MakeCommand<LeadService, v1::GetLeadRequest, v1::GetLeadResponse,
                                 &LeadService::Stub::GetLead>(
      "leads", "get", "kommo.v1.LeadService/GetLead",
      "Prints one lead with its linked contact ids.", {{"lead_id", "ID", "required: the lead"}}));
  commands.push_back(MakeCommand<LeadService, v1::SearchLeadsRequest, v1::SearchLeadsResponse,
                                 &LeadService::Stub::SearchLeads>(
      "leads", "search", "kommo.v1.LeadService/SearchLeads",
      "Searches leads with Kommo's full-text query, a page at a time. No match prints an "
      "empty list.",
      {{"query", "TEXT", "words to look for (empty: every lead)"}, page_size, page_token}));
  commands.push_back(MakeCommand<ContactService, v1::CreateContactRequest,
                                 v1::CreateContactResponse, &ContactService::Stub::CreateContact>(
      "contacts", "create", "kommo.v1.ContactService/CreateContact",
      "Creates a contact and prints it as Kommo stored it. Phones and emails go to Kommo's "
      "PHONE and EMAIL fields, so `contacts search` finds them.",
      {{"responsible_user_id", "ID", "required: the user responsible for the contact"},
       {"created_by", "ID", "required: the user recorded as the creator"},
       {"name", "TEXT", "full name"},
       {"first_name", "TEXT", "first name"},
       {"last_name", "TEXT", "last name"},
       {"updated_by", "ID", "the user recorded as the last editor (default: --created_by)"},
       {"phones", "PHONE", "a phone number, stored as given; repeat for more"},
       {"emails", "EMAIL", "an email address; repeat for more"}}));
  commands.push_back(MakeCommand<ContactService, v1::GetContactRequest, v1::GetContactResponse,
                                 &ContactService::Stub::GetContact>(
      "contacts", "get", "kommo.v1.ContactService/GetContact", "Prints one contact.",
      {{"contact_id", "ID", "required: the contact"}}));
  commands.push_back(MakeCommand<ContactService, v1::SearchContactsRequest,
                                 v1::SearchContactsResponse, &ContactService::Stub::SearchContacts>(
      "contacts", "search", "kommo.v1.ContactService/SearchContacts",
      "Searches contacts by name, phone digits or email, a page at a time. No match prints "
      "an empty list.",
      {{"query", "TEXT", "a name, phone digits or an email (empty: every contact)"},
       page_size,
       page_token}));
  AddTaskCommands(commands, page_size, page_token);
  return commands;
}

constexpr char kGlobalFlagsHelp[] =
    "Global flags (before or after the subcommand):\n"
    "  --target=HOST:PORT   the kommo-grpc server (default: $KOMMO_GRPC_TARGET, else "
    "localhost:50051)\n"
    "  --deadline=DURATION  the call's deadline, retries included: 10s, 500ms, 2m (default 30s)\n"
    "  --max_attempts=N     attempts of the call, 1 to 5 (default 4; 1: no retries). Reads and\n"
    "                       updates retry UNAVAILABLE and RESOURCE_EXHAUSTED, creates only\n"
    "                       RESOURCE_EXHAUSTED, after the server's retry delay\n"
    "  --json               print proto JSON (field names as in the proto) instead of a table;\n"
    "                       errors become a google.rpc.Status in JSON on stderr\n"
    "  --help               this help; after a subcommand, that subcommand's flags\n";

constexpr char kExitCodesHelp[] =
    "Exit codes: 0 success, 2 usage error, 10 + the gRPC status code when the call fails\n"
    "(13 INVALID_ARGUMENT, 14 DEADLINE_EXCEEDED, 15 NOT_FOUND, 18 RESOURCE_EXHAUSTED,\n"
    "19 FAILED_PRECONDITION, 23 INTERNAL, 24 UNAVAILABLE), 1 when output cannot be written.\n";

// A flag as written: "--name=x" → {name, x, true}; "--json" → {json, "", false}.
struct RawFlag {
  std::string name;
  std::string value;
  bool has_value = false;
};

bool IsBooleanFlag(const std::string& name) { return name == "json" || name == "help"; }

// `text` broken into lines of at most `width` columns at spaces.
std::string Wrap(const std::string& text, size_t width) {
  std::string out;
  size_t line = 0;
  for (const absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (line > 0 && line + 1 + word.size() > width) {
      out += "\n";
      line = 0;
    } else if (line > 0) {
      out += " ";
      ++line;
    }
    absl::StrAppend(&out, word);
    line += word.size();
  }
  return out;
}

std::string SetField(Message& request, const FieldDescriptor& field, const std::string& value) {
  const google::protobuf::Reflection& reflection = *request.GetReflection();
  const std::string flag = "--" + field.name();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64: {
      std::vector<std::string> parts = {value};
      if (field.is_repeated()) parts = absl::StrSplit(value, ',');
      for (const std::string& part : parts) {
        int64_t number = 0;
        if (!absl::SimpleAtoi(part, &number)) {
          return absl::StrCat(flag, ": \"", part, "\" is not a whole number");
        }
        if (field.is_repeated()) {
          reflection.AddInt64(&request, &field, number);
        } else {
          reflection.SetInt64(&request, &field, number);
        }
      }
      return "";
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t number = 0;
      if (!absl::SimpleAtoi(value, &number)) {
        return absl::StrCat(flag, ": \"", value, "\" is not a whole number");
      }
      reflection.SetInt32(&request, &field, number);
      return "";
    }
    case FieldDescriptor::CPPTYPE_STRING:
      if (field.is_repeated()) {
        reflection.AddString(&request, &field, value);
      } else {
        reflection.SetString(&request, &field, value);
      }
      return "";
    case FieldDescriptor::CPPTYPE_ENUM: {
      // The value's name, whole or without its prefix, in any case: "lead", "ENTITY_TYPE_LEAD".
      const google::protobuf::EnumDescriptor& type = *field.enum_type();
      std::vector<std::string> names;
      for (int i = 1; i < type.value_count(); ++i) {
        const std::string& name = type.value(i)->name();
        const std::string& unspecified = type.value(0)->name();
        const std::string prefix =
            unspecified.substr(0, unspecified.size() - std::string("UNSPECIFIED").size());
        const std::string short_name = absl::AsciiStrToLower(name.substr(prefix.size()));
        names.push_back(short_name);
        if (absl::EqualsIgnoreCase(value, name) || absl::EqualsIgnoreCase(value, short_name)) {
          reflection.SetEnumValue(&request, &field, type.value(i)->number());
          return "";
        }
      }
      return absl::StrCat(flag, ": \"", value, "\" is not one of ", absl::StrJoin(names, ", "));
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      if (field.message_type()->full_name() != "google.protobuf.Timestamp") break;
      google::protobuf::Timestamp time;
      int64_t seconds = 0;
      if (absl::SimpleAtoi(value, &seconds)) {
        time.set_seconds(seconds);
      } else if (!google::protobuf::util::TimeUtil::FromString(value, &time)) {
        return absl::StrCat(flag, ": \"", value,
                            "\" is not a time such as 2030-01-31T17:00:00Z or Unix seconds");
      }
      reflection.MutableMessage(&request, &field)->CopyFrom(time);
      return "";
    }
    default:
      break;
  }
  return absl::StrCat(flag, ": unsupported field type");
}

}  // namespace

int ExitCodeFor(grpc::StatusCode code) {
  return code == grpc::StatusCode::OK ? kExitOk : kExitRpcBase + static_cast<int>(code);
}

const std::vector<Command>& Commands() {
  static const std::vector<Command>* const commands = new std::vector<Command>(BuildCommands());
  return *commands;
}

Invocation ParseCommandLine(const std::vector<std::string>& args, const char* env_target) {
  Invocation out;
  out.target = env_target != nullptr && env_target[0] != '\0' ? env_target : kDefaultTarget;

  // Pass 1: split flags from positional words. A flag's value is "--flag=value" or the next
  // argument, taken as is (so "--price -1" reaches the server, which says what is wrong).
  std::vector<std::string> words;
  std::vector<RawFlag> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h") {
      flags.push_back({"help", "", false});
      continue;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      words.push_back(arg);
      continue;
    }
    RawFlag flag;
    const size_t equals = arg.find('=');
    flag.name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    if (equals != std::string::npos) {
      flag.value = arg.substr(equals + 1);
      flag.has_value = true;
    } else if (!IsBooleanFlag(flag.name)) {
      if (i + 1 >= args.size()) {
        out.error = absl::StrCat("--", flag.name, " needs a value");
        return out;
      }
      flag.value = args[++i];
      flag.has_value = true;
    }
    flags.push_back(std::move(flag));
  }

  // The subcommand.
  if (!words.empty()) {
    for (const Command& command : Commands()) {
      if (words.size() >= 2 && words[0] == command.group && words[1] == command.verb) {
        out.command = &command;
      }
    }
    const bool known_group = words[0] == "leads" || words[0] == "contacts" || words[0] == "tasks";
    if (words.size() == 1 && known_group) {
      // "kommo-cli leads --help" lists the verbs; without --help it is a usage error.
      out.group = words[0];
      const bool help = std::any_of(flags.begin(), flags.end(), [](const RawFlag& flag) {
        return flag.name == "help" && (!flag.has_value || flag.value == "true");
      });
      if (help) {
        out.help = true;
        return out;
      }
      out.error = absl::StrCat("\"", words[0], "\" needs a verb:\n", GroupHelp(words[0]));
      return out;
    }
    if (out.command == nullptr) {
      out.error = words.size() >= 2 && known_group
                      ? absl::StrCat("unknown subcommand \"", words[0], " ", words[1],
                                     "\"; the verbs are:\n", GroupHelp(words[0]))
                  : words.size() >= 2
                      ? absl::StrCat("unknown subcommand \"", words[0], " ", words[1], "\"")
                      : absl::StrCat("unknown command \"", words[0],
                                     "\" (the groups are leads, contacts and tasks)");
      return out;
    }
    if (words.size() > 2) {
      out.error =
          absl::StrCat("unexpected argument \"", words[2], "\": values are given as --FLAG=VALUE");
      return out;
    }
    out.request.reset(out.command->request_prototype->New());
  }

  // Pass 2: global flags, then the subcommand's.
  std::set<std::string> given;
  for (const RawFlag& flag : flags) {
    if (flag.name == "help" || flag.name == "json") {
      bool value = true;
      if (flag.has_value && !absl::SimpleAtob(flag.value, &value)) {
        out.error = absl::StrCat("--", flag.name, ": \"", flag.value, "\" is not true or false");
        return out;
      }
      (flag.name == "help" ? out.help : out.json) = value;
      continue;
    }
    if (flag.name == "target") {
      if (flag.value.empty()) {
        out.error = "--target: empty address";
        return out;
      }
      out.target = flag.value;
      continue;
    }
    if (flag.name == "deadline") {
      absl::Duration deadline;
      if (!absl::ParseDuration(flag.value, &deadline) || deadline <= absl::ZeroDuration() ||
          deadline == absl::InfiniteDuration()) {
        out.error = absl::StrCat("--deadline: \"", flag.value,
                                 "\" is not a positive duration such as 10s, 500ms or 2m");
        return out;
      }
      out.deadline = std::chrono::milliseconds(std::max<int64_t>(
          1, absl::ToInt64Milliseconds(absl::Ceil(deadline, absl::Milliseconds(1)))));
      continue;
    }
    if (flag.name == "max_attempts") {
      if (!absl::SimpleAtoi(flag.value, &out.max_attempts) || out.max_attempts < 1 ||
          out.max_attempts > 5) {
        out.error =
            absl::StrCat("--max_attempts: \"", flag.value, "\" is not a number from 1 to 5");
        return out;
      }
      continue;
    }
    if (out.command == nullptr) {
      out.error = absl::StrCat("unknown flag --", flag.name,
                               " (a subcommand's flags come with the subcommand)");
      return out;
    }
    const auto spec = std::find_if(out.command->flags.begin(), out.command->flags.end(),
                                   [&](const FlagSpec& s) { return flag.name == s.field; });
    if (spec == out.command->flags.end()) {
      out.error = absl::StrCat("unknown flag --", flag.name, " for \"", out.command->group, " ",
                               out.command->verb, "\" (see --help)");
      return out;
    }
    const FieldDescriptor* field = out.request->GetDescriptor()->FindFieldByName(flag.name);
    if (!field->is_repeated() && !given.insert(flag.name).second) {
      out.error = absl::StrCat("--", flag.name, " given twice");
      return out;
    }
    given.insert(flag.name);
    // An empty text is "every lead" for a search query and "the first page" for a page token;
    // for any other flag it is a mistake (and proto3 would send it as "not set").
    if (flag.value.empty() && flag.name != "query" && flag.name != "page_token") {
      out.error = absl::StrCat("--", flag.name, " must not be empty");
      return out;
    }
    if (std::string error = SetField(*out.request, *field, flag.value); !error.empty()) {
      out.error = error;
      return out;
    }
  }
  if (out.command == nullptr) {
    out.help = true;
  } else if (!out.help) {
    for (const FlagSpec& spec : out.command->flags) {
      if (absl::StartsWith(spec.help, "required:") && given.count(spec.field) == 0) {
        out.error = absl::StrCat("--", spec.field, " is required for \"", out.command->group, " ",
                                 out.command->verb, "\"");
        return out;
      }
    }
  }
  return out;
}

std::string GroupHelp(const std::string& group) {
  std::string help = absl::StrCat("Usage: kommo-cli ", group, " <verb> [--FIELD=VALUE ...]\n\n");
  for (const Command& command : Commands()) {
    if (group != command.group) continue;
    const std::string name = absl::StrCat(command.group, " ", command.verb);
    help += absl::StrCat("  ", name, std::string(18 - std::min<size_t>(17, name.size()), ' '),
                         command.rpc, "\n");
  }
  return absl::StrCat(help, "\n`kommo-cli ", group, " <verb> --help` lists the verb's flags.\n");
}

grpc::Status CallWithRetries(const RetryPlan& plan, Clock::time_point deadline,
                             const std::function<grpc::Status(Clock::time_point)>& attempt,
                             const std::function<void(std::chrono::milliseconds)>& sleep,
                             const std::function<Clock::time_point()>& now) {
  std::mt19937_64 random(std::random_device{}());
  std::chrono::milliseconds backoff = plan.initial_backoff;
  grpc::Status last_failure;  // the last attempt that failed with a reason of its own
  int attempts = 0;
  grpc::Status status;
  for (;;) {
    status = attempt(deadline);
    ++attempts;
    if (status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) last_failure = status;
    const grpc::StatusCode code = status.error_code();
    const bool retryable = code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                           (code == grpc::StatusCode::UNAVAILABLE && !plan.is_create);
    if (status.ok() || !retryable || attempts >= plan.max_attempts) break;
    std::chrono::milliseconds wait;
    if (std::optional<std::chrono::milliseconds> hint = kommo::client::GetRetryDelay(status)) {
      wait = *hint;
    } else {
      // gRPC's rule: random in [0, backoff], backoff doubling up to max_backoff.
      wait = std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(0, backoff.count())(random));
      backoff = std::min(plan.max_backoff, backoff * 2);
    }
    if (now() + wait >= deadline) {
      status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "");
      break;
    }
    sleep(wait);
  }
  if (status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED || last_failure.ok() ||
      kommo::client::GetErrorInfo(status).has_value()) {
    return status;
  }
  // The deadline ended the retries: keep why the attempts failed.
  const std::string message = absl::StrCat(
      "deadline exceeded after ", attempts, attempts == 1 ? " attempt" : " attempts",
      "; the last attempt that got an answer failed with ",
      kommo::client::StatusCodeName(last_failure.error_code()), ": ", last_failure.error_message());
  google::rpc::Status details;
  if (std::optional<google::rpc::Status> previous = kommo::client::GetRpcStatus(last_failure)) {
    details = *previous;
  }
  details.set_code(static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED));
  details.set_message(message);
  return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, message, details.SerializeAsString());
}

std::string TopLevelHelp() {
  std::string help =
      "kommo-cli: calls kommo-grpc (Kommo CRM leads and contacts over gRPC).\n\n"
      "Usage: kommo-cli [global flags] <leads|contacts|tasks> <verb> [--FIELD=VALUE ...]\n\n"
      "Subcommands:\n";
  for (const Command& command : Commands()) {
    const std::string name = absl::StrCat(command.group, " ", command.verb);
    help += absl::StrCat("  ", name, std::string(18 - std::min<size_t>(17, name.size()), ' '),
                         command.rpc, "\n");
  }
  return absl::StrCat(help,
                      "\nFlags are the request's fields, named as in the proto "
                      "(proto/kommo/v1/).\n\n",
                      kGlobalFlagsHelp, "\n", kExitCodesHelp);
}

std::string CommandHelp(const Command& command) {
  std::string usage = absl::StrCat("Usage: kommo-cli ", command.group, " ", command.verb);
  std::string flags;
  for (const FlagSpec& spec : command.flags) {
    const std::string flag = absl::StrCat("--", spec.field, "=", spec.value_name);
    const bool required = absl::StartsWith(spec.help, "required:");
    usage += required ? absl::StrCat(" ", flag) : absl::StrCat(" [", flag, "]");
    flags += absl::StrCat("  ", flag, std::string(30 - std::min<size_t>(29, flag.size()), ' '),
                          spec.help, "\n");
  }
  return absl::StrCat(usage, "\n\n",
                      Wrap(absl::StrCat(command.summary, " Calls ", command.rpc, "."), 100),
                      "\n\nFlags:\n", flags, "\n", kGlobalFlagsHelp, "\n", kExitCodesHelp);
}

}  // namespace kommo::cli
