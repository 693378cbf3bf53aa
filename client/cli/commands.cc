#include "client/cli/commands.h"

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "kommo/client/errors.h"
#include "kommo/v1/account_service.grpc.pb.h"
#include "kommo/v1/company_service.grpc.pb.h"
#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "kommo/v1/link_service.grpc.pb.h"
#include "kommo/v1/note_service.grpc.pb.h"
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
                    std::vector<FlagSpec> flags, RetryClass retry) {
  return Command{group,
                 verb,
                 rpc,
                 summary,
                 std::move(flags),
                 retry,
                 &Request::default_instance(),
                 &Response::default_instance(),
                 &Call<Service, Request, Response, Method>};
}

// Reads the stream of `Method` (a server-streaming RPC), as Command::stream.
template <typename Service, typename Request, typename Response,
          std::unique_ptr<grpc::ClientReader<Response>> (Service::Stub::*Method)(
              grpc::ClientContext*, const Request&)>
grpc::Status Stream(const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context,
                    const Message& request, const std::function<bool(const Message&)>& each) {
  typename Service::Stub stub(channel);
  std::unique_ptr<grpc::ClientReader<Response>> reader =
      (stub.*Method)(context, static_cast<const Request&>(request));
  Response response;
  while (reader->Read(&response)) {
    if (!each(response)) {
      context->TryCancel();
      break;
    }
  }
  return reader->Finish();
}

template <typename Service, typename Request, typename Response,
          std::unique_ptr<grpc::ClientReader<Response>> (Service::Stub::*Method)(
              grpc::ClientContext*, const Request&)>
Command MakeStreamCommand(const char* group, const char* verb, const char* rpc, const char* summary,
                          std::vector<FlagSpec> flags) {
  Command command{group,
                  verb,
                  rpc,
                  summary,
                  std::move(flags),
                  RetryClass::kIdempotent,
                  &Request::default_instance(),
                  &Response::default_instance(),
                  nullptr};
  command.stream = &Stream<Service, Request, Response, Method>;
  return command;
}

// Sets one ChangeKind of a stream filter from its name ("stage_changed" or STAGE_CHANGED).
std::string AddKind(const std::string& flag, const std::string& value, Message& request) {
  const google::protobuf::EnumValueDescriptor* kind = v1::ChangeKind_descriptor()->FindValueByName(
      absl::StrCat("CHANGE_KIND_", absl::AsciiStrToUpper(value)));
  if (kind == nullptr || kind->number() == 0) {
    return absl::StrCat("--", flag, ": \"", value,
                        "\" is not created, updated, stage_changed, responsible_changed, "
                        "deleted, restored or note_added");
  }
  const FieldDescriptor* field = request.GetDescriptor()->FindFieldByName("kinds");
  request.GetReflection()->AddEnumValue(&request, field, kind->number());
  return "";
}

// The id of --lead_id, --contact_id or --company_id; a usage error or "".
std::string ParseEntityId(const std::string& flag, const std::string& value, int64_t* id) {
  if (!absl::SimpleAtoi(value, id)) {
    return absl::StrCat("--", flag, ": \"", value, "\" is not a whole number");
  }
  return "";
}

// The request's `prefix`entity_type ("" or "to_"): its value, and the setter of it with its id.
int GetEntityType(const Message& request, const std::string& prefix) {
  return request.GetReflection()->GetEnumValue(
      request, request.GetDescriptor()->FindFieldByName(prefix + "entity_type"));
}
void SetEntityFields(Message& request, const std::string& prefix, int type, int64_t id) {
  const google::protobuf::Descriptor& descriptor = *request.GetDescriptor();
  const google::protobuf::Reflection& reflection = *request.GetReflection();
  reflection.SetEnumValue(&request, descriptor.FindFieldByName(prefix + "entity_type"), type);
  reflection.SetInt64(&request, descriptor.FindFieldByName(prefix + "entity_id"), id);
}

// --lead_id, --contact_id, --company_id of `notes` and `links list`: the entity's type and id in
// one flag.
template <kommo::v1::EntityType kType>
std::string SetEntity(const std::string& flag, const std::string& value, Message& request) {
  int64_t id = 0;
  if (std::string error = ParseEntityId(flag, value, &id); !error.empty()) return error;
  SetEntityFields(request, "", kType, id);
  return "";
}

// --lead_id, --contact_id, --company_id of `links add` and `links remove`: two of them are the
// link's ends. A link is the same seen from either end, so the request names them in one order
// whatever the flags' order: the lead first, then the contact, then the company.
template <kommo::v1::EntityType kType>
std::string SetLinkEnd(const std::string& flag, const std::string& value, Message& request) {
  int64_t id = 0;
  if (std::string error = ParseEntityId(flag, value, &id); !error.empty()) return error;
  if (GetEntityType(request, "to_") != kommo::v1::ENTITY_TYPE_UNSPECIFIED) {
    return absl::StrCat("--", flag,
                        ": a link has two ends; give two of --lead_id, --contact_id and "
                        "--company_id");
  }
  const int first = GetEntityType(request, "");
  if (first == kommo::v1::ENTITY_TYPE_UNSPECIFIED) {
    SetEntityFields(request, "", kType, id);
  } else if (first < kType) {
    SetEntityFields(request, "to_", kType, id);
  } else {
    const int64_t first_id = request.GetReflection()->GetInt64(
        request, request.GetDescriptor()->FindFieldByName("entity_id"));
    SetEntityFields(request, "to_", first, first_id);
    SetEntityFields(request, "", kType, id);
  }
  return "";
}

// `links add` and `links remove`: both ends given; --main only on a lead–contact link.
std::string CheckLinkEnds(const Command& command, const Message& request) {
  if (GetEntityType(request, "to_") == kommo::v1::ENTITY_TYPE_UNSPECIFIED) {
    return absl::StrCat("two of --lead_id, --contact_id and --company_id are required for \"",
                        command.group, " ", command.verb, "\" (the link's two ends)");
  }
  const FieldDescriptor* is_main = request.GetDescriptor()->FindFieldByName("is_main");
  if (is_main != nullptr && request.GetReflection()->GetBool(request, is_main) &&
      (GetEntityType(request, "") != kommo::v1::ENTITY_TYPE_LEAD ||
       GetEntityType(request, "to_") != kommo::v1::ENTITY_TYPE_CONTACT)) {
    return "--main needs --lead_id and --contact_id: only a lead has a main contact";
  }
  return "";
}

// --stage PIPELINE_ID:STATUS_ID of `leads list`: one stage of a pipeline.
std::string AddStage(const std::string& flag, const std::string& value, Message& request) {
  const std::vector<std::string> parts = absl::StrSplit(value, ':');
  int64_t pipeline_id = 0;
  int64_t status_id = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &pipeline_id) ||
      !absl::SimpleAtoi(parts[1], &status_id)) {
    return absl::StrCat("--", flag, ": \"", value,
                        "\" is not PIPELINE_ID:STATUS_ID (a whole pipeline: --pipeline_ids)");
  }
  auto* added = google::protobuf::DynamicCastToGenerated<kommo::v1::PipelineStage>(
      request.GetReflection()->AddMessage(&request,
                                          request.GetDescriptor()->FindFieldByName("stages")));
  if (added == nullptr) return absl::StrCat("--", flag, ": internal error");
  added->set_pipeline_id(pipeline_id);
  added->set_status_id(status_id);
  return "";
}

// --pipeline_ids ID[,ID...] of `leads list`: whole pipelines, as stages without a status_id.
std::string AddPipelines(const std::string& flag, const std::string& value, Message& request) {
  for (const std::string& part : std::vector<std::string>(absl::StrSplit(value, ','))) {
    int64_t pipeline_id = 0;
    if (!absl::SimpleAtoi(part, &pipeline_id)) {
      return absl::StrCat("--", flag, ": \"", part, "\" is not a whole number");
    }
    auto* added = google::protobuf::DynamicCastToGenerated<kommo::v1::PipelineStage>(
        request.GetReflection()->AddMessage(&request,
                                            request.GetDescriptor()->FindFieldByName("stages")));
    if (added == nullptr) return absl::StrCat("--", flag, ": internal error");
    added->set_pipeline_id(pipeline_id);
  }
  return "";
}

// --text_file=PATH ("-": standard input): the note's text from a file, as is.
std::string SetTextFromFile(const std::string& flag, const std::string& path, Message& request) {
  // Larger than any note the server accepts (65,000 characters of up to 4 bytes), so the server
  // still says what the limit is; small enough that a wrong file does not fill memory.
  constexpr size_t kMaxBytes = 1 << 20;
  std::FILE* file = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::StrCat("--", flag, ": cannot open \"", path, "\": ", std::strerror(errno));
  }
  std::string text;
  char buffer[8192];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof(buffer), file)) > 0 && text.size() <= kMaxBytes) {
    text.append(buffer, read);
  }
  const bool failed = std::ferror(file) != 0;
  if (file != stdin) std::fclose(file);
  if (failed) return absl::StrCat("--", flag, ": cannot read \"", path, "\"");
  if (text.size() > kMaxBytes) {
    return absl::StrCat("--", flag, ": \"", path, "\" is larger than ", kMaxBytes, " bytes");
  }
  if (text.empty()) return absl::StrCat("--", flag, ": \"", path, "\" is empty");
  request.GetReflection()->SetString(&request, request.GetDescriptor()->FindFieldByName("text"),
                                     std::move(text));
  return "";
}

// The help of --field: how a value is typed without asking the server for the catalogue.
constexpr char kFieldHelp[] =
    "a custom field's value: CODE=VALUE or ID=VALUE (see `account fields`); repeat for more, "
    "and repeat a field for several values (multiselect, multitext). VALUE is typed by its "
    "form: true/false a checkbox, a plain number (-12.5) a number, an RFC 3339 time or a date "
    "(2030-01-31) a time, anything else text (a choice by its value, or a text field). Force a "
    "type with a prefix: text:, number:, bool:, time:, enum:ID (a choice by id), kind:CODE:TEXT "
    "(a multitext value of that kind, e.g. kind:MOB:+15550100). CODE= with nothing after it "
    "clears the field (updates)";

// A plain decimal number: an optional '-', digits, and an optional fraction. Phone numbers with
// '+' and values such as "1e5" or "0x10" stay text.
bool IsPlainNumber(absl::string_view text) {
  if (absl::ConsumePrefix(&text, "-") && text.empty()) return false;
  const size_t dot = text.find('.');
  const absl::string_view whole = text.substr(0, dot);
  const absl::string_view fraction = dot == absl::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || (dot != absl::string_view::npos && fraction.empty())) return false;
  if (whole.size() > 1 && whole[0] == '0') return false;  // "007": an identifier, not a number
  for (char c : whole)
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  for (char c : fraction)
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// An RFC 3339 time, or a date (midnight UTC).
bool ParseTimeValue(const std::string& text, google::protobuf::Timestamp* time) {
  absl::Time parsed;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &parsed, &error) &&
      !absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &parsed, &error)) {
    return false;
  }
  time->set_seconds(absl::ToUnixSeconds(parsed));
  return true;
}

}  // namespace

std::string ParseFieldValue(const std::string& flag, const std::string& text,
                            kommo::v1::CustomFieldValue* value) {
  absl::string_view rest = text;
  const std::string bad = absl::StrCat("--", flag, ": \"", text, "\" ");
  if (absl::ConsumePrefix(&rest, "text:")) {
    value->set_text(std::string(rest));
  } else if (absl::ConsumePrefix(&rest, "number:")) {
    double number = 0;
    if (!absl::SimpleAtod(rest, &number) || !std::isfinite(number)) {
      return bad + "is not a number";
    }
    value->set_number(number);
  } else if (absl::ConsumePrefix(&rest, "bool:")) {
    if (rest != "true" && rest != "false") return bad + "is not bool:true or bool:false";
    value->set_checkbox(rest == "true");
  } else if (absl::ConsumePrefix(&rest, "time:")) {
    if (!ParseTimeValue(std::string(rest), value->mutable_time())) {
      return bad + "is not an RFC 3339 time or a date";
    }
  } else if (absl::ConsumePrefix(&rest, "enum:")) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(rest, &id) || id <= 0) return bad + "is not enum:ID (a choice's id)";
    value->set_enum_id(id);
  } else if (absl::ConsumePrefix(&rest, "kind:")) {
    const size_t colon = rest.find(':');
    if (colon == absl::string_view::npos || colon == 0) return bad + "is not kind:CODE:TEXT";
    value->set_enum_code(std::string(rest.substr(0, colon)));
    value->set_text(std::string(rest.substr(colon + 1)));
  } else if (text == "true" || text == "false") {
    value->set_checkbox(text == "true");
  } else if (IsPlainNumber(text)) {
    double number = 0;
    if (!absl::SimpleAtod(text, &number)) return bad + "is not a number";
    value->set_number(number);
  } else if (!ParseTimeValue(text, value->mutable_time())) {
    value->set_text(text);
  }
  return "";
}

namespace {

// --read_mask PATH[,PATH...]: the fields of the written entity to print (the request's
// read_mask); "id" alone costs no read-back.
std::string SetReadMask(const std::string& flag, const std::string& text, Message& request) {
  const FieldDescriptor* field = request.GetDescriptor()->FindFieldByName("read_mask");
  auto* mask = google::protobuf::DynamicCastToGenerated<google::protobuf::FieldMask>(
      request.GetReflection()->MutableMessage(&request, field));
  if (mask == nullptr) return absl::StrCat("--", flag, ": this call takes no read mask");
  for (absl::string_view path : absl::StrSplit(text, ',')) {
    path = absl::StripAsciiWhitespace(path);
    if (path.empty()) return absl::StrCat("--", flag, ": \"", text, "\" holds an empty path");
    mask->add_paths(std::string(path));
  }
  return "";
}

// --field CODE_OR_ID=VALUE: a value of the request's custom_fields (a field given again gets
// another value; "CODE=" lists it with no values, which clears it).
std::string SetCustomField(const std::string& flag, const std::string& text, Message& request) {
  const size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    return absl::StrCat("--", flag, ": \"", text, "\" is not CODE=VALUE or ID=VALUE");
  }
  const std::string key = text.substr(0, equals);
  const std::string value = text.substr(equals + 1);
  int64_t id = 0;
  const bool by_id = absl::SimpleAtoi(key, &id);
  if (by_id && id <= 0) return absl::StrCat("--", flag, ": field id ", key, " is not positive");
  const FieldDescriptor* list = request.GetDescriptor()->FindFieldByName("custom_fields");
  const google::protobuf::Reflection& reflection = *request.GetReflection();
  kommo::v1::CustomFieldValues* field = nullptr;
  for (int i = 0; i < reflection.FieldSize(request, list); ++i) {
    auto* each = google::protobuf::DynamicCastToGenerated<kommo::v1::CustomFieldValues>(
        reflection.MutableRepeatedMessage(&request, list, i));
    if (each != nullptr && (by_id ? each->field_id() == id : each->field_code() == key)) {
      field = each;
    }
  }
  const bool clear = value.empty();
  if (field != nullptr && (clear || field->values().empty())) {
    return absl::StrCat("--", flag, ": ", key, " is both cleared and set");
  }
  if (field == nullptr) {
    field = google::protobuf::DynamicCastToGenerated<kommo::v1::CustomFieldValues>(
        reflection.AddMessage(&request, list));
    if (field == nullptr) return absl::StrCat("--", flag, ": internal error");
    if (by_id) {
      field->set_field_id(id);
    } else {
      field->set_field_code(key);
    }
  }
  if (clear) return "";
  return ParseFieldValue(flag, value, field->add_values());
}

// --clear_phones, --clear_emails of `contacts update`: the list set with no values.
std::string SetClearList(const std::string& flag, const std::string& value, Message& request) {
  if (value != "true") return "";
  const std::string name(absl::StripPrefix(flag, "clear_"));
  const FieldDescriptor* list = request.GetDescriptor()->FindFieldByName(name);
  Message* values = request.GetReflection()->MutableMessage(&request, list);
  if (values->GetReflection()->FieldSize(*values, values->GetDescriptor()->field(0)) > 0) {
    return absl::StrCat("--", flag, " and --", name, " exclude each other");
  }
  return "";
}

// `kommo-cli account ...`: the account's catalogues, so that nobody copies ids from Kommo's
// settings pages.
void AddAccountCommands(std::vector<Command>& commands) {
  using kommo::v1::AccountService;
  namespace v1 = kommo::v1;
  constexpr RetryClass kRead = RetryClass::kIdempotent;
  const FlagSpec refresh{"refresh", "", "read from Kommo now instead of the server's cache"};
  commands.push_back(MakeCommand<AccountService, v1::GetAccountRequest, v1::GetAccountResponse,
                                 &AccountService::Stub::GetAccount>(
      "account", "show", "kommo.v1.AccountService/GetAccount",
      "Prints the account: name, subdomain, currency, time zone and user groups.", {refresh},
      kRead));
  commands.push_back(MakeCommand<AccountService, v1::ListPipelinesRequest,
                                 v1::ListPipelinesResponse, &AccountService::Stub::ListPipelines>(
      "account", "pipelines", "kommo.v1.AccountService/ListPipelines",
      "Prints every pipeline with its stages and their ids (the pipeline_id and status_id "
      "that leads take).",
      {refresh}, kRead));
  commands.push_back(MakeCommand<AccountService, v1::ListUsersRequest, v1::ListUsersResponse,
                                 &AccountService::Stub::ListUsers>(
      "account", "users", "kommo.v1.AccountService/ListUsers",
      "Prints every user (the responsible_user_id values). Needs an administrator's token on "
      "the server.",
      {refresh}, kRead));
  commands.push_back(
      MakeCommand<AccountService, v1::ListCustomFieldsRequest, v1::ListCustomFieldsResponse,
                  &AccountService::Stub::ListCustomFields>(
          "account", "fields", "kommo.v1.AccountService/ListCustomFields",
          "Prints the custom fields of leads, contacts or companies with their ids, codes, "
          "types and enums.",
          {{"entity", "ENTITY", "required: lead, contact or company", "entity_type"}, refresh},
          kRead));
  commands.push_back(
      MakeCommand<AccountService, v1::ListLossReasonsRequest, v1::ListLossReasonsResponse,
                  &AccountService::Stub::ListLossReasons>(
          "account", "loss-reasons", "kommo.v1.AccountService/ListLossReasons",
          "Prints the reasons a lead can be lost for, with their ids.", {refresh}, kRead));
}

// tasks create | complete | list (TaskService). A task's entity is optional, so it is given as
// --entity_type with --entity_id rather than as one of --lead_id, --contact_id, --company_id.
void AddTaskCommands(std::vector<Command>& commands, const FlagSpec& page_size,
                     const FlagSpec& request_id, const FlagSpec& read_mask) {
  using kommo::v1::TaskService;
  namespace v1 = kommo::v1;
  commands.push_back(MakeCommand<TaskService, v1::CreateTaskRequest, v1::CreateTaskResponse,
                                 &TaskService::Stub::CreateTask>(
      "tasks", "create", "kommo.v1.TaskService/CreateTask",
      "Creates a task on a lead, contact or company, or on nothing, and prints it as Kommo "
      "stored it.",
      {{"text", "TEXT", "required: what has to be done, 1 to 65,000 characters"},
       {"due_at", "TIME", "required: the due time, RFC 3339 (2030-01-31T17:00:00Z)"},
       {"entity_type", "KIND", "lead, contact or company (with --entity_id)"},
       {"entity_id", "ID", "the lead, contact or company the task is on"},
       {"task_type_id", "ID", "1 call (the default), 2 meeting, or one of the account's own"},
       {"responsible_user_id", "ID", "who has to do it (default: the server token's user)"},
       request_id,
       read_mask},
      RetryClass::kWrite));
  commands.push_back(MakeCommand<TaskService, v1::CompleteTaskRequest, v1::CompleteTaskResponse,
                                 &TaskService::Stub::CompleteTask>(
      "tasks", "complete", "kommo.v1.TaskService/CompleteTask",
      "Marks a task completed, with an optional result, and prints it. Completing it again "
      "sets the same values: kommo-cli retries it like an update.",
      {{"task_id", "ID", "required: the task"},
       {"result_text", "TEXT", "what came of it"},
       read_mask},
      RetryClass::kIdempotent));
  commands.push_back(MakeCommand<TaskService, v1::ListTasksRequest, v1::ListTasksResponse,
                                 &TaskService::Stub::ListTasks>(
      "tasks", "list", "kommo.v1.TaskService/ListTasks",
      "Lists tasks, latest due first, a page at a time. With --due_from or --due_to a page may "
      "hold fewer tasks than --page_size, even none, before the last page.",
      {{"entity_type", "KIND", "only tasks on leads, contacts or companies"},
       {"entity_ids", "ID[,ID...]", "only tasks on these entities (with --entity_type)"},
       {"completion", "STATE", "open or completed (default: both)"},
       {"responsible_user_ids", "ID[,ID...]", "only tasks of these users"},
       {"due_from", "TIME", "only tasks due at or after this RFC 3339 time"},
       {"due_to", "TIME", "only tasks due at or before this RFC 3339 time"},
       {"order", "ORDER", "due_desc (the default) or due_asc"},
       page_size,
       {"page_token", "TOKEN", "next_page_token of the previous page, with the same other flags"}},
      RetryClass::kIdempotent));
}

// companies create | update | get | search (CompanyService), with the lead and contact verbs'
// flags for custom fields and tags.
void AddCompanyCommands(std::vector<Command>& commands, const std::vector<FlagSpec>& search,
                        const FlagSpec& field, const FlagSpec& tag, const FlagSpec& untag,
                        const FlagSpec& request_id, const FlagSpec& read_mask) {
  using kommo::v1::CompanyService;
  namespace v1 = kommo::v1;
  commands.push_back(MakeCommand<CompanyService, v1::CreateCompanyRequest,
                                 v1::CreateCompanyResponse, &CompanyService::Stub::CreateCompany>(
      "companies", "create", "kommo.v1.CompanyService/CreateCompany",
      "Creates a company and prints it as Kommo stored it.",
      {{"name", "TEXT", "required: the company's name, 1 to 255 characters"},
       {"responsible_user_id", "ID", "responsible user (default: Kommo chooses)"},
       field,
       tag,
       request_id,
       read_mask},
      RetryClass::kWrite));
  commands.push_back(MakeCommand<CompanyService, v1::UpdateCompanyRequest,
                                 v1::UpdateCompanyResponse, &CompanyService::Stub::UpdateCompany>(
      "companies", "update", "kommo.v1.CompanyService/UpdateCompany",
      "Changes only the fields given and prints the company with all its current values.",
      {{"company_id", "ID", "required: the company to change"},
       {"name", "TEXT", "new name, 1 to 255 characters"},
       {"responsible_user_id", "ID", "new responsible user"},
       field,
       tag,
       untag,
       read_mask},
      RetryClass::kIdempotent));
  commands.push_back(MakeCommand<CompanyService, v1::GetCompanyRequest, v1::GetCompanyResponse,
                                 &CompanyService::Stub::GetCompany>(
      "companies", "get", "kommo.v1.CompanyService/GetCompany",
      "Prints one company with its custom fields and tags.",
      {{"company_id", "ID", "required: the company"}}, RetryClass::kIdempotent));
  std::vector<FlagSpec> search_flags = {
      {"query", "TEXT", "words in the name or a field's value (empty: every company)"}};
  search_flags.insert(search_flags.end(), search.begin(), search.end());
  commands.push_back(
      MakeCommand<CompanyService, v1::SearchCompaniesRequest, v1::SearchCompaniesResponse,
                  &CompanyService::Stub::SearchCompanies>(
          "companies", "search", "kommo.v1.CompanyService/SearchCompanies",
          "Searches companies with Kommo's full-text query, a page at a time. No match prints an "
          "empty list.",
          std::move(search_flags), RetryClass::kIdempotent));
}

// links add | remove | list (LinkService). add and remove take two of --lead_id, --contact_id
// and --company_id (SetLinkEnd, CheckLinkEnds); list takes one, like `notes`.
void AddLinkCommands(std::vector<Command>& commands, const std::vector<FlagSpec>& entity) {
  using kommo::v1::LinkService;
  namespace v1 = kommo::v1;
  const std::vector<FlagSpec> ends = {
      {"lead_id", "ID", "the lead at one end", nullptr, nullptr, &SetLinkEnd<v1::ENTITY_TYPE_LEAD>},
      {"contact_id", "ID", "the contact at one end", nullptr, nullptr,
       &SetLinkEnd<v1::ENTITY_TYPE_CONTACT>},
      {"company_id", "ID", "the company at one end", nullptr, nullptr,
       &SetLinkEnd<v1::ENTITY_TYPE_COMPANY>}};
  std::vector<FlagSpec> add_flags = ends;
  add_flags.push_back({"main", "",
                       "make the contact the lead's main contact (with --lead_id and --contact_id)",
                       "is_main"});
  Command add = MakeCommand<LinkService, v1::LinkEntitiesRequest, v1::LinkEntitiesResponse,
                            &LinkService::Stub::LinkEntities>(
      "links", "add", "kommo.v1.LinkService/LinkEntities",
      "Links two entities, named by two of --lead_id, --contact_id and --company_id (a lead and "
      "a contact, a lead and a company, or a contact and a company), and prints the link. "
      "Linking a linked pair again changes nothing, except that --main makes the contact the "
      "lead's main contact.",
      std::move(add_flags), RetryClass::kWrite);
  add.check = &CheckLinkEnds;
  commands.push_back(std::move(add));
  Command remove = MakeCommand<LinkService, v1::UnlinkEntitiesRequest, v1::UnlinkEntitiesResponse,
                               &LinkService::Stub::UnlinkEntities>(
      "links", "remove", "kommo.v1.LinkService/UnlinkEntities",
      "Removes the link between two entities, named by two of --lead_id, --contact_id and "
      "--company_id, and prints ok. Removing a link that is not there succeeds.",
      ends, RetryClass::kWrite);
  remove.check = &CheckLinkEnds;
  commands.push_back(std::move(remove));
  std::vector<FlagSpec> list_flags = entity;
  list_flags.push_back({"to_entity_type", "KIND", "only links to leads, contacts or companies"});
  commands.push_back(MakeCommand<LinkService, v1::ListLinksRequest, v1::ListLinksResponse,
                                 &LinkService::Stub::ListLinks>(
      "links", "list", "kommo.v1.LinkService/ListLinks",
      "Lists the links of a lead, contact or company, main contact first.", std::move(list_flags),
      RetryClass::kIdempotent));
}

std::vector<Command> BuildCommands() {
  using kommo::v1::ContactService;
  using kommo::v1::LeadService;
  using kommo::v1::NoteService;
  namespace v1 = kommo::v1;
  constexpr RetryClass kRead = RetryClass::kIdempotent;
  constexpr RetryClass kWrite = RetryClass::kWrite;
  const FlagSpec page_size{"page_size", "N", "results per page: 1 to 250 (default 50)"};
  const FlagSpec page_token{"page_token", "TOKEN",
                            "next_page_token of the previous page, with the same query and "
                            "page_size"};
  const FlagSpec request_id{"request_id", "KEY",
                            "idempotency key, 1 to 64 characters: a repeat with the same key "
                            "returns the first answer and writes nothing"};
  // The contact inside a lead request (CreateLeadWithContact, CreateIncomingLead).
  const std::vector<FlagSpec> new_contact = {
      {"contact_name", "TEXT", "the contact's full name", "contact.name"},
      {"contact_first_name", "TEXT", "the contact's first name", "contact.first_name"},
      {"contact_last_name", "TEXT", "the contact's last name", "contact.last_name"},
      {"contact_phones", "PHONE", "the contact's phone; repeat for more", "contact.phones"},
      {"contact_emails", "EMAIL", "the contact's email; repeat for more", "contact.emails"},
      {"contact_responsible_user_id", "ID", "the user responsible for the contact",
       "contact.responsible_user_id"}};
  auto with = [](std::vector<FlagSpec> flags, const std::vector<FlagSpec>& more) {
    flags.insert(flags.end(), more.begin(), more.end());
    return flags;
  };
  const FlagSpec read_mask{"read_mask",
                           "PATH[,PATH...]",
                           "fields to print (default: all, read back after the write); \"id\" "
                           "alone costs no read-back request",
                           nullptr,
                           nullptr,
                           &SetReadMask,
                           true};
  // The same flag where the write's answer determines other fields than "id".
  auto read_mask_of = [&read_mask](const char* help) {
    FlagSpec flag = read_mask;
    flag.help = help;
    return flag;
  };
  // Custom fields and tags of lead, contact and company writes.
  const FlagSpec field{"field", "CODE=VALUE", kFieldHelp, nullptr, nullptr, &SetCustomField, true};
  const FlagSpec tag{"tag", "TEXT", "a tag to add; repeat for more", "tags_to_add"};
  const FlagSpec untag{"untag", "TEXT", "a tag to remove; repeat for more", "tags_to_remove"};
  // The entity of a note, or of the links listed.
  const std::vector<FlagSpec> entity = {
      {"lead_id", "ID", "the lead", nullptr, "entity", &SetEntity<v1::ENTITY_TYPE_LEAD>},
      {"contact_id", "ID", "the contact", nullptr, "entity", &SetEntity<v1::ENTITY_TYPE_CONTACT>},
      {"company_id", "ID", "the company", nullptr, "entity", &SetEntity<v1::ENTITY_TYPE_COMPANY>}};

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
       {"contact_ids", "ID[,ID...]", "contacts to link; comma-separated or repeated"},
       field,
       tag,
       request_id,
       read_mask},
      kWrite));
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
       {"status_id", "ID", "new stage"},
       field,
       tag,
       untag,
       read_mask},
      kRead));
  commands.push_back(
      MakeCommand<LeadService, v1::GetLeadRequest, v1::GetLeadResponse,
                  &LeadService::Stub::GetLead>("leads", "get", "kommo.v1.LeadService/GetLead",
                                               "Prints one lead with its linked contact ids.",
                                               {{"lead_id", "ID", "required: the lead"}}, kRead));
  commands.push_back(MakeCommand<LeadService, v1::SearchLeadsRequest, v1::SearchLeadsResponse,
                                 &LeadService::Stub::SearchLeads>(
      "leads", "search", "kommo.v1.LeadService/SearchLeads",
      "Searches leads with Kommo's full-text query, a page at a time. No match prints an "
      "empty list.",
      {{"query", "TEXT", "words to look for (empty: every lead)"}, page_size, page_token}, kRead));
  commands.push_back(MakeCommand<LeadService, v1::ListLeadsRequest, v1::ListLeadsResponse,
                                 &LeadService::Stub::ListLeads>(
      "leads", "list", "kommo.v1.LeadService/ListLeads",
      "Lists the leads that pass every filter given, in a stable order, a page at a time: the "
      "basis of an incremental sync (--updated_from with --order_by=updated_at).",
      {{"ids", "ID[,ID...]", "only these leads; comma-separated or repeated"},
       {"stage", "PIPELINE_ID:STATUS_ID",
        "only leads in this stage (`account pipelines` lists them); repeat for more", nullptr,
        nullptr, &AddStage, true},
       {"pipeline_ids", "ID[,ID...]", "only leads in these pipelines, any stage", nullptr, nullptr,
        &AddPipelines, true},
       {"responsible_user_ids", "ID[,ID...]", "only leads of these users"},
       {"created_from", "TIME", "only leads created at or after this RFC 3339 time",
        "created.from"},
       {"created_to", "TIME", "only leads created at or before this RFC 3339 time", "created.to"},
       {"updated_from", "TIME", "only leads changed last at or after this RFC 3339 time",
        "updated.from"},
       {"updated_to", "TIME", "only leads changed last at or before this RFC 3339 time",
        "updated.to"},
       {"query", "TEXT", "Kommo's full-text query as in `leads search` (empty: no text filter)"},
       {"order_by", "ORDER", "id (the default), created_at or updated_at"},
       {"descending", "", "newest or largest first"},
       page_size,
       {"page_token", "TOKEN", "next_page_token of the previous page, with the same other flags"}},
      kRead));
  commands.push_back(
      MakeCommand<LeadService, v1::CreateLeadWithContactRequest, v1::CreateLeadWithContactResponse,
                  &LeadService::Stub::CreateLeadWithContact>(
          "leads", "create-with-contact", "kommo.v1.LeadService/CreateLeadWithContact",
          "Creates a lead and a new contact linked to it in one Kommo request, and prints both "
          "read back. contact_merged is true when Kommo's duplicate control merged the contact "
          "into an existing one.",
          with({{"name", "TEXT", "required: the lead's name, 1 to 255 characters"},
                {"price", "N", "deal value, 0 or more"},
                {"responsible_user_id", "ID", "the lead's responsible user"},
                {"pipeline_id", "ID", "pipeline (default: the main pipeline)"},
                {"status_id", "ID", "stage (default: the pipeline's first)"}},
               with(new_contact,
                    {request_id,
                     read_mask_of("fields to print (default: all, read back after the write); "
                                  "\"lead.id,contact.id,contact_merged\" or fewer cost no "
                                  "read-back request")})),
          kWrite));
  commands.push_back(
      MakeCommand<LeadService, v1::CreateIncomingLeadRequest, v1::CreateIncomingLeadResponse,
                  &LeadService::Stub::CreateIncomingLead>(
          "leads", "incoming create", "kommo.v1.LeadService/CreateIncomingLead",
          "Creates an incoming lead (Kommo's \"unsorted\", from a web form), with a contact when "
          "one is given; it waits in the pipeline's incoming stage until accepted or declined.",
          with({{"source_uid", "ID", "required: your id of what produced it (a form submission)"},
                {"source_name", "TEXT", "required: the source's name as people see it in Kommo"},
                {"form_id", "ID", "required: the form's id in your system", "form.form_id"},
                {"form_name", "TEXT", "required: the form's name", "form.form_name"},
                {"form_page", "TEXT", "the page the form is on", "form.form_page"},
                {"referer", "TEXT", "the page the visitor came from", "form.referer"},
                {"ip", "ADDRESS", "the visitor's IP address", "form.ip"},
                {"form_sent_at", "TIME",
                 "when the form was sent, RFC 3339 (2026-01-31T12:00:00Z; default: now)",
                 "form.form_sent_at"},
                {"pipeline_id", "ID", "pipeline (default: the main pipeline)"},
                {"lead_name", "TEXT", "the lead's name (default: Kommo names it)"},
                {"lead_price", "N", "deal value, 0 or more"}},
               with(new_contact,
                    {request_id,
                     read_mask_of("fields to print (default: all, read back after the write); "
                                  "\"uid,lead_id,contact_id\" or fewer cost no read-back "
                                  "request")})),
          kWrite));
  commands.push_back(
      MakeCommand<LeadService, v1::AcceptIncomingLeadRequest, v1::AcceptIncomingLeadResponse,
                  &LeadService::Stub::AcceptIncomingLead>(
          "leads", "incoming accept", "kommo.v1.LeadService/AcceptIncomingLead",
          "Accepts an incoming lead: it moves to the pipeline's first stage (or --status_id). "
          "Prints the lead read back.",
          {{"uid", "UID", "required: the incoming lead's uid (see `leads incoming list`)"},
           {"status_id", "ID", "the stage it moves to (default: the pipeline's first)"},
           {"user_id", "ID", "the user who accepts it (default: the server token's user)"},
           read_mask},
          kWrite));
  commands.push_back(
      MakeCommand<LeadService, v1::DeclineIncomingLeadRequest, v1::DeclineIncomingLeadResponse,
                  &LeadService::Stub::DeclineIncomingLead>(
          "leads", "incoming decline", "kommo.v1.LeadService/DeclineIncomingLead",
          "Declines an incoming lead: Kommo closes its lead as lost.",
          {{"uid", "UID", "required: the incoming lead's uid"},
           {"user_id", "ID", "the user who declines it (default: the server token's user)"}},
          kWrite));
  commands.push_back(
      MakeCommand<LeadService, v1::ListIncomingLeadsRequest, v1::ListIncomingLeadsResponse,
                  &LeadService::Stub::ListIncomingLeads>(
          "leads", "incoming list", "kommo.v1.LeadService/ListIncomingLeads",
          "Lists the incoming leads waiting to be accepted or declined, newest first, a page at "
          "a time.",
          {{"pipeline_id", "ID", "only this pipeline's (default: every pipeline)"},
           page_size,
           {"page_token", "TOKEN",
            "next_page_token of the previous page, with the same pipeline_id and page_size"}},
          kRead));
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
       {"emails", "EMAIL", "an email address; repeat for more"},
       field,
       tag,
       request_id,
       read_mask},
      kWrite));
  commands.push_back(MakeCommand<ContactService, v1::UpdateContactRequest,
                                 v1::UpdateContactResponse, &ContactService::Stub::UpdateContact>(
      "contacts", "update", "kommo.v1.ContactService/UpdateContact",
      "Changes only the fields given and prints the contact with all its current values. "
      "--phones and --emails replace all the stored ones.",
      {{"contact_id", "ID", "required: the contact to change"},
       {"name", "TEXT", "new full name, 1 to 255 characters"},
       {"first_name", "TEXT", "new first name"},
       {"last_name", "TEXT", "new last name"},
       {"responsible_user_id", "ID", "new responsible user"},
       {"phones", "PHONE", "the contact's phones from now on; repeat for more", "phones.values"},
       {"emails", "EMAIL", "the contact's emails from now on; repeat for more", "emails.values"},
       {"clear_phones", "", "remove all the contact's phones", nullptr, nullptr, &SetClearList},
       {"clear_emails", "", "remove all the contact's emails", nullptr, nullptr, &SetClearList},
       field,
       tag,
       untag,
       read_mask},
      kRead));
  commands.push_back(MakeCommand<ContactService, v1::GetContactRequest, v1::GetContactResponse,
                                 &ContactService::Stub::GetContact>(
      "contacts", "get", "kommo.v1.ContactService/GetContact", "Prints one contact.",
      {{"contact_id", "ID", "required: the contact"}}, kRead));
  commands.push_back(MakeCommand<ContactService, v1::SearchContactsRequest,
                                 v1::SearchContactsResponse, &ContactService::Stub::SearchContacts>(
      "contacts", "search", "kommo.v1.ContactService/SearchContacts",
      "Searches contacts by name, phone digits or email, a page at a time. No match prints "
      "an empty list.",
      {{"query", "TEXT", "a name, phone digits or an email (empty: every contact)"},
       page_size,
       page_token},
      kRead));
  commands.push_back(MakeCommand<ContactService, v1::LookupContactsRequest,
                                 v1::LookupContactsResponse, &ContactService::Stub::LookupContacts>(
      "contacts", "lookup", "kommo.v1.ContactService/LookupContacts",
      "Prints the contacts whose phones or emails match exactly: phones by their digits (any "
      "format, trunk prefixes understood), emails case-insensitively. Give at least one phone "
      "or email. No match prints an empty list.",
      {{"phones", "PHONE", "a phone number in any format; repeat for more (at most 10)"},
       {"emails", "EMAIL", "an email address; repeat for more (at most 10)"}},
      kRead));
  commands.push_back(
      MakeCommand<ContactService, v1::FindOrCreateContactRequest, v1::FindOrCreateContactResponse,
                  &ContactService::Stub::FindOrCreateContact>(
          "contacts", "find-or-create", "kommo.v1.ContactService/FindOrCreateContact",
          "Finds the one contact whose phones or emails match exactly (as `contacts lookup`), or "
          "creates it; prints it with outcome MATCHED or CREATED. Several matches write nothing "
          "and fail with CONTACT_AMBIGUOUS, listing the candidates.",
          {{"name", "TEXT", "full name, used when the contact is created", "contact.name"},
           {"first_name", "TEXT", "first name, used when it is created", "contact.first_name"},
           {"last_name", "TEXT", "last name, used when it is created", "contact.last_name"},
           {"phones", "PHONE", "a phone number, matched and stored; repeat for more",
            "contact.phones"},
           {"emails", "EMAIL", "an email address, matched and stored; repeat for more",
            "contact.emails"},
           {"responsible_user_id", "ID", "the user responsible for a created contact",
            "contact.responsible_user_id"},
           {"add_missing", "",
            "add the phones and emails a matched contact lacks (one more Kommo request)"},
           request_id,
           read_mask_of("fields to print (default: all); \"contact.id,outcome\" or fewer cost "
                        "no read-back request after a write")},
          kWrite));
  const FlagSpec resume_token{"resume_token", "TOKEN",
                              "start after this token (printed with every line); default: now"};
  const FlagSpec kind{"kind",
                      "KIND",
                      "only this kind of change: created, updated, stage_changed, "
                      "responsible_changed, deleted, restored, note_added; repeat for more",
                      nullptr,
                      nullptr,
                      &AddKind,
                      true};
  const FlagSpec include_entity{"include_entity", "",
                                "print each changed entity as it is now (one more Kommo read per "
                                "100 changes, shared)"};
  commands.push_back(MakeStreamCommand<LeadService, v1::WatchLeadsRequest, v1::WatchLeadsResponse,
                                       &LeadService::Stub::WatchLeads>(
      "leads", "watch", "kommo.v1.LeadService/WatchLeads",
      "Prints changes to leads as they happen, one line each with its resume token, until "
      "Ctrl-C, --count changes or --deadline. Heartbeats print as they come.",
      {resume_token,
       {"stage", "PIPELINE_ID:STATUS_ID",
        "only leads in (or moving into or out of) this stage; repeat for more", nullptr, nullptr,
        &AddStage, true},
       {"pipeline_ids", "ID[,ID...]", "only leads in these pipelines", nullptr, nullptr,
        &AddPipelines, true},
       {"responsible_user_ids", "ID[,ID...]", "only leads of these users"},
       kind,
       include_entity}));
  commands.push_back(
      MakeStreamCommand<ContactService, v1::WatchContactsRequest, v1::WatchContactsResponse,
                        &ContactService::Stub::WatchContacts>(
          "contacts", "watch", "kommo.v1.ContactService/WatchContacts",
          "Prints changes to contacts as they happen, as `leads watch` does for leads.",
          {resume_token,
           {"responsible_user_ids", "ID[,ID...]", "only contacts of these users"},
           kind,
           include_entity}));
  AddCompanyCommands(commands, {page_size, page_token}, field, tag, untag, request_id, read_mask);
  AddLinkCommands(commands, entity);
  commands.push_back(MakeCommand<NoteService, v1::AddNoteRequest, v1::AddNoteResponse,
                                 &NoteService::Stub::AddNote>(
      "notes", "add", "kommo.v1.NoteService/AddNote",
      "Adds a note (a chat transcript, a comment) to a lead, contact or company and prints it "
      "read back. With --service it is a service message shown as coming from that service.",
      with(entity, {{"text", "TEXT", "the note's text, 1 to 65,000 characters", nullptr, "text"},
                    {"text_file", "PATH", "the note's text from a file (\"-\": standard input)",
                     nullptr, "text", &SetTextFromFile},
                    {"service", "NAME", "the service the note comes from (a service message)"},
                    {"created_by", "ID", "the note's author (default: the server token's user)"},
                    request_id,
                    read_mask}),
      kWrite));
  commands.push_back(MakeCommand<NoteService, v1::ListNotesRequest, v1::ListNotesResponse,
                                 &NoteService::Stub::ListNotes>(
      "notes", "list", "kommo.v1.NoteService/ListNotes",
      "Lists the notes of a lead, contact or company, a page at a time.",
      with(entity, {{"order", "ORDER", "newest_first (default), updated_desc or updated_asc"},
                    {"updated_since", "TIME",
                     "only notes changed at or after this RFC 3339 time (2026-01-31T12:00:00Z)"},
                    page_size,
                    {"page_token", "TOKEN",
                     "next_page_token of the previous page, with the same other flags"}}),
      kRead));
  AddAccountCommands(commands);
  AddTaskCommands(commands, page_size, request_id, read_mask);
  return commands;
}

constexpr char kGlobalFlagsHelp[] =
    "Global flags (before or after the subcommand):\n"
    "  --target=HOST:PORT   the kommo-grpc server (default: $KOMMO_GRPC_TARGET, else "
    "localhost:50051)\n"
    "  --deadline=DURATION  the call's deadline, retries included: 10s, 500ms, 2m (default 30s)\n"
    "  --max_attempts=N     attempts of the call, 1 to 5 (default 4; 1: no retries). Reads and\n"
    "                       updates retry UNAVAILABLE and RESOURCE_EXHAUSTED, creates and other\n"
    "                       writes only RESOURCE_EXHAUSTED, after the server's retry delay\n"
    "  --count=N            watch verbs: stop after N changes (default: until Ctrl-C or the\n"
    "                       deadline, which watch verbs do not have unless --deadline is given)\n"
    "  --json               print proto JSON (field names as in the proto) instead of a table;\n"
    "                       errors become a google.rpc.Status in JSON on stderr\n"
    "  --tls                TLS to the server, trusting the system's CAs (implied by the\n"
    "                       --tls_* flags below)\n"
    "  --tls_ca=FILE        PEM CA bundle the server's certificate must chain to\n"
    "  --tls_cert=FILE      this client's PEM certificate, for a server with mTLS (with "
    "--tls_key)\n"
    "  --tls_key=FILE       the PEM private key of --tls_cert\n"
    "  --tls_server_name=NAME  the name the server's certificate must carry when it is not the\n"
    "                       target's host (an IP address, a port-forward)\n"
    "  --token_file=FILE    file holding a bearer token, sent as `authorization: Bearer ...`\n"
    "                       (default: $KOMMO_GRPC_TOKEN). There is no --token flag: a flag's\n"
    "                       value shows in ps. Without TLS the token travels in clear text:\n"
    "                       only to loopback or a sidecar\n"
    "  --account=NAME       the Kommo account the call is for, when the server serves several\n"
    "                       (its KOMMO_ACCOUNTS_FILE); sent as `x-kommo-account` metadata\n"
    "                       (default: the server's default account)\n"
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

// The flags that take no value: the global ones and every subcommand's switches. Known before the
// subcommand is, so that "--add_missing contacts find-or-create" reads the same as the other order.
bool IsBooleanFlag(const std::string& name) {
  if (name == "json" || name == "help" || name == "tls") return true;
  for (const Command& command : Commands()) {
    for (const FlagSpec& spec : command.flags) {
      if (spec.value_name[0] == '\0' && name == spec.field) return true;
    }
  }
  return false;
}

// "group verb", as typed.
std::string FullName(const Command& command) {
  return absl::StrCat(command.group, " ", command.verb);
}

// The widest "group verb" plus two spaces: the column where the RPC names start in help.
size_t NameColumn() {
  size_t width = 0;
  for (const Command& command : Commands()) width = std::max(width, FullName(command).size());
  return width + 2;
}

// `text` broken into lines of at most `width` columns at spaces; lines after the first start
// with `indent` spaces.
std::string Wrap(const std::string& text, size_t width, size_t indent = 0) {
  std::string out;
  size_t line = 0;
  bool line_empty = true;
  for (const absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line_empty && line + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      line = indent;
      line_empty = true;
    } else if (!line_empty) {
      out += " ";
      ++line;
    }
    absl::StrAppend(&out, word);
    line += word.size();
    line_empty = false;
  }
  return out;
}

// The field `path` names ("contact.phones") in `descriptor`; null when a part is missing or a
// part before the last is not a singular message.
const FieldDescriptor* FindPath(const google::protobuf::Descriptor& descriptor,
                                const std::string& path) {
  const google::protobuf::Descriptor* current = &descriptor;
  const FieldDescriptor* field = nullptr;
  for (const absl::string_view part : absl::StrSplit(path, '.')) {
    if (current == nullptr) return nullptr;
    field = current->FindFieldByName(std::string(part));
    if (field == nullptr) return nullptr;
    current = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field->is_repeated()
                  ? field->message_type()
                  : nullptr;
  }
  return field;
}

// The message holding the last part of `path`, created on the way ("contact.phones": the
// request's contact).
Message* MutableParent(Message& request, const std::string& path) {
  Message* message = &request;
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const FieldDescriptor* field = message->GetDescriptor()->FindFieldByName(parts[i]);
    message = message->GetReflection()->MutableMessage(message, field);
  }
  return message;
}

std::string PathOf(const FlagSpec& spec) { return spec.path != nullptr ? spec.path : spec.field; }

// "newest_first", "NEWEST_FIRST" or "ORDER_NEWEST_FIRST" for ListNotesRequest.ORDER_NEWEST_FIRST;
// the value names share the prefix of the enum's zero value ("ORDER_UNSPECIFIED").
const google::protobuf::EnumValueDescriptor* FindEnumValue(
    const google::protobuf::EnumDescriptor& type, const std::string& text) {
  const std::string upper = absl::AsciiStrToUpper(text);
  std::string prefix = type.value(0)->name();
  prefix = absl::EndsWith(prefix, "UNSPECIFIED") ? prefix.substr(0, prefix.size() - 11) : "";
  for (int i = 1; i < type.value_count(); ++i) {  // never the zero value: it means "not set"
    const std::string& name = type.value(i)->name();
    if (name == upper || name == prefix + upper) return type.value(i);
  }
  return nullptr;
}

std::string EnumChoices(const google::protobuf::EnumDescriptor& type) {
  std::string prefix = type.value(0)->name();
  prefix = absl::EndsWith(prefix, "UNSPECIFIED") ? prefix.substr(0, prefix.size() - 11) : "";
  std::vector<std::string> names;
  for (int i = 1; i < type.value_count(); ++i) {
    names.push_back(absl::AsciiStrToLower(type.value(i)->name().substr(prefix.size())));
  }
  return absl::StrJoin(names, ", ");
}

// Sets `field` of `message` from the flag's text.
std::string SetField(const std::string& flag_name, Message& message, const FieldDescriptor& field,
                     const std::string& value) {
  const google::protobuf::Reflection& reflection = *message.GetReflection();
  const std::string flag = "--" + flag_name;
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
          reflection.AddInt64(&message, &field, number);
        } else {
          reflection.SetInt64(&message, &field, number);
        }
      }
      return "";
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t number = 0;
      if (!absl::SimpleAtoi(value, &number)) {
        return absl::StrCat(flag, ": \"", value, "\" is not a whole number");
      }
      reflection.SetInt32(&message, &field, number);
      return "";
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool on = false;
      if (!absl::SimpleAtob(value, &on)) {
        return absl::StrCat(flag, ": \"", value, "\" is not true or false");
      }
      reflection.SetBool(&message, &field, on);
      return "";
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const google::protobuf::EnumValueDescriptor* choice =
          FindEnumValue(*field.enum_type(), value);
      if (choice == nullptr) {
        return absl::StrCat(flag, ": \"", value, "\" is not one of ",
                            EnumChoices(*field.enum_type()));
      }
      reflection.SetEnum(&message, &field, choice);
      return "";
    }
    case FieldDescriptor::CPPTYPE_STRING:
      if (field.is_repeated()) {
        reflection.AddString(&message, &field, value);
      } else {
        reflection.SetString(&message, &field, value);
      }
      return "";
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (field.message_type()->full_name() == "google.protobuf.Timestamp" &&
          !field.is_repeated()) {
        google::protobuf::Timestamp time;
        if (!google::protobuf::util::TimeUtil::FromString(value, &time)) {
          return absl::StrCat(flag, ": \"", value,
                              "\" is not an RFC 3339 time such as 2026-01-31T12:00:00Z");
        }
        reflection.MutableMessage(&message, &field)->CopyFrom(time);
        return "";
      }
      return absl::StrCat(flag, ": unsupported field type");
    default:
      return absl::StrCat(flag, ": unsupported field type");
  }
}

// The "(--a=X | --b=Y)" of the flags in `group`.
std::string OneOfUsage(const Command& command, const std::string& group) {
  std::vector<std::string> flags;
  for (const FlagSpec& spec : command.flags) {
    if (spec.one_of != nullptr && group == spec.one_of) {
      flags.push_back(absl::StrCat("--", spec.field, "=", spec.value_name));
    }
  }
  return absl::StrCat("(", absl::StrJoin(flags, " | "), ")");
}

// "--lead_id, --contact_id or --company_id".
std::string OneOfNames(const Command& command, const std::string& group) {
  std::vector<std::string> flags;
  for (const FlagSpec& spec : command.flags) {
    if (spec.one_of != nullptr && group == spec.one_of)
      flags.push_back(absl::StrCat("--", spec.field));
  }
  if (flags.size() < 2) return flags.empty() ? "" : flags[0];
  const std::string last = flags.back();
  flags.pop_back();
  return absl::StrCat(absl::StrJoin(flags, ", "), " or ", last);
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
    std::replace(flag.name.begin(), flag.name.end(), '-', '_');  // --add-missing = --add_missing
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

  // The subcommand: the command whose words ("leads incoming accept") begin the line's words.
  if (!words.empty()) {
    size_t matched = 0;
    for (const Command& command : Commands()) {
      const std::vector<std::string> name = absl::StrSplit(FullName(command), ' ');
      if (name.size() > matched && name.size() <= words.size() &&
          std::equal(name.begin(), name.end(), words.begin())) {
        out.command = &command;
        matched = name.size();
      }
    }
    // Otherwise the longest group the words begin with: "leads", "leads incoming".
    std::string group;
    size_t group_words = 0;
    for (size_t n = 1; n <= words.size() && out.command == nullptr; ++n) {
      const std::string prefix = absl::StrJoin(words.begin(), words.begin() + n, " ");
      const bool is_group = std::any_of(
          Commands().begin(), Commands().end(),
          [&](const Command& c) { return absl::StartsWith(FullName(c), prefix + " "); });
      if (!is_group) break;
      group = prefix;
      group_words = n;
    }
    if (out.command == nullptr && group_words == words.size()) {
      // "kommo-cli leads --help" lists the verbs; without --help it is a usage error.
      out.group = group;
      const bool help = std::any_of(flags.begin(), flags.end(), [](const RawFlag& flag) {
        return flag.name == "help" && (!flag.has_value || flag.value == "true");
      });
      if (help) {
        out.help = true;
        return out;
      }
      out.error = absl::StrCat("\"", group, "\" needs a verb:\n", GroupHelp(group));
      return out;
    }
    if (out.command == nullptr) {
      const std::string typed = absl::StrJoin(
          words.begin(),
          words.begin() + std::min(words.size(), std::max<size_t>(group_words + 1, 2)), " ");
      out.error = group_words > 0 ? absl::StrCat("unknown subcommand \"", typed,
                                                 "\"; the verbs are:\n", GroupHelp(group))
                  : words.size() >= 2
                      ? absl::StrCat("unknown subcommand \"", typed, "\"")
                      : absl::StrCat("unknown command \"", words[0],
                                     "\" (the groups are leads, contacts, companies, links, notes, "
                                     "account and tasks)");
      return out;
    }
    if (words.size() > matched) {
      out.error = absl::StrCat("unexpected argument \"", words[matched],
                               "\": values are given as --FLAG=VALUE");
      return out;
    }
    out.request.reset(out.command->request_prototype->New());
  }

  // Pass 2: global flags, then the subcommand's.
  std::set<std::string> given;
  std::map<std::string, std::string> one_of_given;  // group → the flag given
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
    if (ApplyConnectionFlag(flag.name, flag.value, flag.has_value, &out.tls, &out.token_file,
                            &out.error)) {
      if (!out.error.empty()) return out;
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
    if (flag.name == "account") {
      if (!ValidAccountFlag(flag.value, &out.error)) return out;
      out.account = flag.value;
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
      out.deadline_given = true;
      continue;
    }
    if (flag.name == "count") {
      if (!absl::SimpleAtoi(flag.value, &out.count) || out.count < 1) {
        out.error = absl::StrCat("--count: \"", flag.value, "\" is not a whole number above 0");
        return out;
      }
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
      out.error = absl::StrCat("unknown flag --", flag.name, " for \"", FullName(*out.command),
                               "\" (see --help)");
      return out;
    }
    const std::string path = PathOf(*spec);
    const FieldDescriptor* field =
        spec->set != nullptr ? nullptr : FindPath(*out.request->GetDescriptor(), path);
    if ((field == nullptr || !field->is_repeated()) && !spec->repeatable &&
        !given.insert(flag.name).second) {
      out.error = absl::StrCat("--", flag.name, " given twice");
      return out;
    }
    given.insert(flag.name);
    if (spec->one_of != nullptr) {
      auto [other, inserted] = one_of_given.emplace(spec->one_of, flag.name);
      if (!inserted) {
        out.error = absl::StrCat("--", other->second, " and --", flag.name,
                                 " exclude each other: give one of ",
                                 OneOfNames(*out.command, spec->one_of));
        return out;
      }
    }
    const bool is_switch = spec->value_name[0] == '\0';
    const std::string value = is_switch && !flag.has_value ? "true" : flag.value;
    // An empty text is "every lead" for a search query and "the first page" for a page token;
    // for any other flag it is a mistake (and proto3 would send it as "not set").
    if (value.empty() && flag.name != "query" && flag.name != "page_token") {
      out.error = absl::StrCat("--", flag.name, " must not be empty");
      return out;
    }
    const std::string error =
        spec->set != nullptr
            ? spec->set(flag.name, value, *out.request)
            : SetField(flag.name, *MutableParent(*out.request, path), *field, value);
    if (!error.empty()) {
      out.error = error;
      return out;
    }
  }
  if (out.tls.cert_file.empty() != out.tls.key_file.empty()) {
    out.error = "--tls_cert and --tls_key are given together";
    return out;
  }
  if (out.command == nullptr) {
    out.help = true;
  } else if (!out.help) {
    for (const FlagSpec& spec : out.command->flags) {
      if (absl::StartsWith(spec.help, "required:") && given.count(spec.field) == 0) {
        out.error =
            absl::StrCat("--", spec.field, " is required for \"", FullName(*out.command), "\"");
        return out;
      }
      if (spec.one_of != nullptr && one_of_given.count(spec.one_of) == 0) {
        out.error = absl::StrCat(OneOfNames(*out.command, spec.one_of), " is required for \"",
                                 FullName(*out.command), "\"");
        return out;
      }
    }
    if (out.command->check != nullptr) out.error = out.command->check(*out.command, *out.request);
  }
  return out;
}

std::string LoadToken(const Invocation& invocation, const char* env_token, std::string* token) {
  return LoadToken(invocation.token_file, env_token, token);
}

bool ValidAccountFlag(const std::string& account, std::string* error) {
  const bool valid =
      !account.empty() && account.size() <= 64 &&
      std::all_of(account.begin(), account.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
  if (!valid) {
    *error = "--account: an account name is 1 to 64 letters, digits, '-' or '_'";
  }
  return valid;
}

std::string LoadToken(const std::string& token_file, const char* env_token, std::string* token) {
  token->clear();
  if (token_file.empty()) {
    if (env_token != nullptr) *token = std::string(absl::StripAsciiWhitespace(env_token));
    return "";
  }
  std::ifstream file(token_file, std::ios::binary);
  std::stringstream contents;
  if (file) contents << file.rdbuf();
  if (!file || file.bad()) return absl::StrCat("--token_file: cannot read ", token_file);
  *token = std::string(absl::StripAsciiWhitespace(contents.str()));
  if (token->empty()) return absl::StrCat("--token_file: ", token_file, " is empty");
  return "";
}

bool ApplyConnectionFlag(const std::string& name, const std::string& value, bool has_value,
                         client::TlsOptions* tls, std::string* token_file, std::string* error) {
  if (name == "tls") {
    bool on = true;
    if (has_value && !absl::SimpleAtob(value, &on)) {
      *error = absl::StrCat("--tls: \"", value, "\" is not true or false");
    }
    tls->enabled = on;
    return true;
  }
  if (name != "tls_ca" && name != "tls_cert" && name != "tls_key" && name != "tls_server_name" &&
      name != "token_file") {
    return false;
  }
  if (value.empty()) {
    *error = absl::StrCat("--", name, ": empty value");
    return true;
  }
  std::string& target = name == "tls_ca"            ? tls->ca_file
                        : name == "tls_cert"        ? tls->cert_file
                        : name == "tls_key"         ? tls->key_file
                        : name == "tls_server_name" ? tls->server_name
                                                    : *token_file;
  target = value;
  if (name != "token_file") tls->enabled = true;
  return true;
}

client::ChannelOptions ConnectionOptions(const client::TlsOptions& tls,
                                         const std::string& token_file, const char* env_token,
                                         std::string* error) {
  client::ChannelOptions options;
  options.tls = tls;
  *error = LoadToken(token_file, env_token, &options.bearer_token);
  if (error->empty() && client::ChannelCredentialsFor(options, error) == nullptr) {
    error->insert(0, "cannot connect: ");
  }
  return options;
}

std::string GroupHelp(const std::string& group) {
  std::string help = absl::StrCat("Usage: kommo-cli ", group, " <verb> [--FIELD=VALUE ...]\n\n");
  const size_t column = NameColumn();
  for (const Command& command : Commands()) {
    const std::string name = FullName(command);
    if (!absl::StartsWith(name, group + " ")) continue;
    help += absl::StrCat("  ", name, std::string(column - name.size(), ' '), command.rpc, "\n");
  }
  if (group == "leads" || group == "contacts") {  // the bulk verb (client/cli/import.h)
    const std::string name = group + " import FILE";
    help += absl::StrCat("  ", name, std::string(column - name.size(), ' '),
                         group == "leads" ? "kommo.v1.LeadService/CreateLead"
                                          : "kommo.v1.ContactService/FindOrCreateContact",
                         " per CSV row\n");
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
      "kommo-cli: calls kommo-grpc (Kommo CRM leads, contacts, companies, their links, notes, the "
      "account and tasks over gRPC).\n\n"
      "Usage: kommo-cli [global flags] <leads|contacts|companies|links|notes|account|tasks> "
      "<verb> [--FIELD=VALUE ...]\n\n"
      "Subcommands:\n";
  const size_t column = NameColumn();
  for (const Command& command : Commands()) {
    const std::string name = FullName(command);
    help += absl::StrCat("  ", name, std::string(column - name.size(), ' '), command.rpc, "\n");
  }
  // Bulk verbs with their own command line (client/cli/import.h).
  for (const char* name : {"leads import FILE", "contacts import FILE"}) {
    help += absl::StrCat("  ", name, std::string(column - std::strlen(name), ' '),
                         "one call per CSV row, resumable (`",
                         absl::string_view(name).substr(0, std::strlen(name) - 5), " --help`)\n");
  }
  return absl::StrCat(help,
                      "\nFlags are the request's fields, named as in the proto "
                      "(proto/kommo/v1/).\n\n",
                      kGlobalFlagsHelp, "\n", kExitCodesHelp);
}

std::string CommandHelp(const Command& command) {
  std::string usage = absl::StrCat("Usage: kommo-cli ", FullName(command));
  std::string flags;
  std::set<std::string> groups_shown;
  for (const FlagSpec& spec : command.flags) {
    const bool is_switch = spec.value_name[0] == '\0';
    const std::string flag = is_switch ? absl::StrCat("--", spec.field)
                                       : absl::StrCat("--", spec.field, "=", spec.value_name);
    if (spec.one_of != nullptr) {
      if (groups_shown.insert(spec.one_of).second) {
        usage += absl::StrCat(" ", OneOfUsage(command, spec.one_of));
      }
    } else if (absl::StartsWith(spec.help, "required:")) {
      usage += absl::StrCat(" ", flag);
    } else {
      usage += absl::StrCat(" [", flag, "]");
    }
    // Help wraps at 100 columns; a flag longer than its column (--contact_responsible_user_id=ID)
    // starts its help on the next line.
    constexpr size_t kHelpColumn = 38;
    const std::string pad = flag.size() + 2 < kHelpColumn
                                ? std::string(kHelpColumn - 2 - flag.size(), ' ')
                                : "\n" + std::string(kHelpColumn, ' ');
    const std::string help = absl::StrReplaceAll(Wrap(spec.help, 100 - kHelpColumn),
                                                 {{"\n", "\n" + std::string(kHelpColumn, ' ')}});
    flags += absl::StrCat("  ", flag, pad, help, "\n");
  }
  return absl::StrCat(Wrap(usage, 100, 6), "\n\n",
                      Wrap(absl::StrCat(command.summary, " Calls ", command.rpc, "."), 100),
                      "\n\nFlags:\n", flags, "\n", kGlobalFlagsHelp, "\n", kExitCodesHelp);
}

}  // namespace kommo::cli
