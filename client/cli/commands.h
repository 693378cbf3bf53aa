// kommo-cli: the subcommands, their flags and the command-line parser.
//
//   kommo-cli [--target=HOST:PORT] [--deadline=30s] [--max_attempts=4] [--json]
//             <leads|contacts|companies|links|notes|account|tasks> <verb> [--FIELD=VALUE ...]
//
// Each subcommand calls one RPC. Its flags are the request's fields, named as in the proto, and are
// set on the request by protobuf reflection: a flag that is not given leaves its field unset, which
// is what UpdateLead's `optional` fields need ("--price=0" sets 0, no --price leaves it alone).
// A field of a sub-message gets a flag of its own ("--contact_phones" sets contact.phones); a few
// flags set more than one field ("notes add --lead_id=ID" sets entity_type and entity_id; in
// "links add", two of --lead_id, --contact_id and --company_id set both ends of the link).
// Flag names may be written with '-' for '_' ("--add-missing").
#ifndef KOMMO_CLIENT_CLI_COMMANDS_H_
#define KOMMO_CLIENT_CLI_COMMANDS_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kommo/client/channel.h"
#include "kommo/v1/custom_field.pb.h"

namespace kommo::cli {

// Exit codes: 0 success; 1 a local failure (output could not be written); 2 a usage error (the
// message says what is wrong); 10 + the gRPC code for a failed call (13 INVALID_ARGUMENT,
// 15 NOT_FOUND, 19 FAILED_PRECONDITION, 18 RESOURCE_EXHAUSTED, 24 UNAVAILABLE, ...).
inline constexpr int kExitOk = 0;
inline constexpr int kExitLocalError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitRpcBase = 10;
int ExitCodeFor(grpc::StatusCode code);

inline constexpr char kDefaultTarget[] = "localhost:50051";
inline constexpr char kTargetEnvironmentVariable[] = "KOMMO_GRPC_TARGET";
// The bearer token, when --token_file is not given. No --token flag: a flag's value shows in ps.
inline constexpr char kTokenEnvironmentVariable[] = "KOMMO_GRPC_TOKEN";

// Sets the request from a flag's value; returns a usage error, or "" when done.
using FlagSetter = std::string (*)(const std::string& flag, const std::string& value,
                                   google::protobuf::Message& request);

// One flag of a subcommand: the request field it sets and what it means. Help starting with
// "required:" makes the flag required.
struct FlagSpec {
  const char* field;       // the flag name; also the request field it sets unless `path` is given
  const char* value_name;  // shown in help: "ID", "TEXT", "N"; "" for a switch (a bool field)
  const char* help;
  // The request field the flag sets, dotted through sub-messages ("contact.phones"); null means
  // the field named `field`.
  const char* path = nullptr;
  // Flags with the same group name exclude each other, and one of them is required.
  const char* one_of = nullptr;
  // Sets the request itself instead of setting `path` from the text.
  FlagSetter set = nullptr;
  // A flag with `set` that may be given more than once (flags that set a repeated field always
  // may).
  bool repeatable = false;
};

// How kommo-cli may retry a call (RetryPlan): reads and updates (UpdateLead, UpdateContact,
// UpdateCompany, CompleteTask) on UNAVAILABLE and RESOURCE_EXHAUSTED; other writes (creates,
// links) on RESOURCE_EXHAUSTED only, as their outcome may be unknown.
enum class RetryClass { kIdempotent, kWrite };

struct Command {
  const char* group;  // "leads", "contacts", "companies", "links", "notes", "account", "tasks"
  const char* verb;   // "create", "search", "find-or-create", "incoming accept" (two words)
  const char* rpc;    // "kommo.v1.LeadService/CreateLead"
  const char* summary;
  std::vector<FlagSpec> flags;
  RetryClass retry;
  const google::protobuf::Message* request_prototype;
  const google::protobuf::Message* response_prototype;
  // Calls the RPC on `channel`; `request` and `response` have the prototypes' types.
  grpc::Status (*call)(const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context,
                       const google::protobuf::Message& request,
                       google::protobuf::Message* response);
  // Checks the request once all its flags are set, for rules about several flags that FlagSpec
  // cannot state ("links add" needs two of its three entity flags); returns a usage error or "".
  // Null: no such rules.
  std::string (*check)(const Command& command, const google::protobuf::Message& request) = nullptr;
  // A server-streaming RPC (WatchLeads, WatchContacts): `call` is null and this reads the stream,
  // passing each response to `each` until it returns false (then the call is cancelled) or the
  // stream ends. Returns the stream's status (CANCELLED when `each` stopped it).
  grpc::Status (*stream)(const std::shared_ptr<grpc::Channel>& channel,
                         grpc::ClientContext* context, const google::protobuf::Message& request,
                         const std::function<bool(const google::protobuf::Message&)>& each) =
      nullptr;
};

// One custom field value as --field takes it after "CODE=" (true/false a checkbox, a plain number a
// number, an RFC 3339 time or a date a time, else text; or a type prefix: text:, number:, bool:,
// time:, enum:ID, kind:CODE:TEXT); returns an error naming --`flag`, or "".
std::string ParseFieldValue(const std::string& flag, const std::string& text,
                            kommo::v1::CustomFieldValue* value);

// Every subcommand, in help order.
const std::vector<Command>& Commands();

struct Invocation {
  std::string target;
  std::chrono::milliseconds deadline{30000};
  // --deadline was given (a stream runs until it ends, Ctrl-C or --count without one).
  bool deadline_given = false;
  // Stream verbs: stop after this many changes (heartbeats not counted); 0: no limit.
  int64_t count = 0;
  // Attempts of the call (kommo::client::RetryOptions::max_attempts); 1 turns retries off.
  int max_attempts = 4;
  bool json = false;
  // --tls, --tls_ca, --tls_cert, --tls_key, --tls_server_name (any of them turns TLS on).
  client::TlsOptions tls;
  // --token_file: the file holding the bearer token (else $KOMMO_GRPC_TOKEN, see LoadToken).
  std::string token_file;
  // --account: the Kommo account the call is for (x-kommo-account); "": the server's default.
  std::string account;
  // --help, or no subcommand: print help (CommandHelp when `command` is set, GroupHelp when only
  // `group` is) and exit 0.
  bool help = false;
  // "leads", "contacts", "notes" or "leads incoming" when given without a verb (with --help).
  std::string group;
  const Command* command = nullptr;
  std::unique_ptr<google::protobuf::Message> request;
  // Non-empty: a usage error to print (exit kExitUsage).
  std::string error;
};

// Whether --account's value is an account name; else false with the usage error in `*error`.
bool ValidAccountFlag(const std::string& account, std::string* error);

// Parses the arguments after the program name. `env_target` is $KOMMO_GRPC_TARGET or null.
Invocation ParseCommandLine(const std::vector<std::string>& args, const char* env_target);

// The bearer token of `invocation`: the contents of --token_file (surrounding whitespace
// removed), else `env_token` ($KOMMO_GRPC_TOKEN or null), else "" (no token). Returns a usage
// error naming the file (never its contents) when it cannot be read or holds nothing, or "".
std::string LoadToken(const Invocation& invocation, const char* env_token, std::string* token);
std::string LoadToken(const std::string& token_file, const char* env_token, std::string* token);

// The connection flags every verb takes (imports included): --tls[=BOOL], --tls_ca, --tls_cert,
// --tls_key, --tls_server_name (any of the last four turns TLS on) and --token_file. Returns false
// when `name` is none of them; a usage error goes to `*error`.
bool ApplyConnectionFlag(const std::string& name, const std::string& value, bool has_value,
                         client::TlsOptions* tls, std::string* token_file, std::string* error);

// The channel options for TLS and the bearer token (--token_file, else `env_token`); a usage
// error in `*error` when a file cannot be used.
client::ChannelOptions ConnectionOptions(const client::TlsOptions& tls,
                                         const std::string& token_file, const char* env_token,
                                         std::string* error);

std::string TopLevelHelp();
// The verbs of a group ("leads", "contacts", "notes", "leads incoming").
std::string GroupHelp(const std::string& group);
std::string CommandHelp(const Command& command);

// The call with kommo-cli's retries, which follow kommo::client's policy (channel.h): reads and
// updates again on UNAVAILABLE and RESOURCE_EXHAUSTED, other writes only on RESOURCE_EXHAUSTED,
// after the server's RetryInfo delay or an exponential backoff, all within `deadline`. The
// channel itself must not retry. Done here rather than by gRPC so that a call whose deadline
// ends between attempts still says why the attempts failed: the result is DEADLINE_EXCEEDED
// carrying the last attempt's message and details (its ErrorInfo reason, e.g.
// KOMMO_CONNECTION_FAILED).
struct RetryPlan {
  int max_attempts = 4;
  bool is_create = false;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
};
using Clock = std::chrono::system_clock;
grpc::Status CallWithRetries(
    const RetryPlan& plan, Clock::time_point deadline,
    const std::function<grpc::Status(Clock::time_point deadline)>& attempt,
    const std::function<void(std::chrono::milliseconds)>& sleep,
    const std::function<Clock::time_point()>& now = [] { return Clock::now(); });

}  // namespace kommo::cli

#endif  // KOMMO_CLIENT_CLI_COMMANDS_H_
