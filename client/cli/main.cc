// kommo-cli: one kommo-grpc RPC per run, for people (tables) and scripts (--json, exit codes).
// `kommo-cli --help` lists the subcommands; commands.h has the exit codes.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/cli/commands.h"
#include "client/cli/import.h"
#include "client/cli/output.h"
#include "kommo/client/channel.h"

namespace {

// Writes `text` (plus a newline when it lacks one) to `stream`; false when that fails.
bool Write(std::FILE* stream, const std::string& text) {
  const std::string line = text.empty() || text.back() == '\n' ? text : text + "\n";
  return std::fwrite(line.data(), 1, line.size(), stream) == line.size() &&
         std::fflush(stream) == 0;
}

// A watch verb: one line per response until Ctrl-C, --count changes, or --deadline (watch verbs
// have no deadline unless it is given; reaching a given one is the normal end).
int Watch(const kommo::cli::Invocation& invocation, kommo::client::ChannelOptions options) {
  const kommo::cli::Command& command = *invocation.command;
  options.retry.max_attempts = 1;
  std::shared_ptr<grpc::Channel> channel = kommo::client::CreateChannel(invocation.target, options);
  grpc::ClientContext context;
  if (invocation.deadline_given) {
    context.set_deadline(std::chrono::system_clock::now() + invocation.deadline);
  }
  int64_t changes = 0;
  bool write_failed = false;
  const grpc::Status status = command.stream(
      channel, &context, *invocation.request, [&](const google::protobuf::Message& response) {
        if (!Write(stdout, kommo::cli::FormatStreamLine(response, invocation.json))) {
          write_failed = true;
          return false;
        }
        if (kommo::cli::IsChange(response)) ++changes;
        return invocation.count == 0 || changes < invocation.count;
      });
  if (write_failed) {
    Write(stderr, "kommo-cli: could not write the output");
    return kommo::cli::kExitLocalError;
  }
  const bool counted_out = invocation.count != 0 && changes >= invocation.count;
  const bool deadline_end =
      invocation.deadline_given && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  if (status.ok() || counted_out || deadline_end) return kommo::cli::kExitOk;
  Write(stderr, invocation.json ? kommo::cli::FormatErrorJson(status)
                                : "kommo-cli: " + kommo::cli::FormatErrorText(command.rpc, status));
  return kommo::cli::ExitCodeFor(status.error_code());
}

int Run(const std::vector<std::string>& args) {
  if (kommo::cli::IsImportCommandLine(args)) {
    const kommo::cli::ImportInvocation invocation = kommo::cli::ParseImportCommandLine(
        args, std::getenv(kommo::cli::kTargetEnvironmentVariable));
    if (!invocation.error.empty()) {
      Write(stderr, "kommo-cli: " + invocation.error + "\nRun `kommo-cli leads import --help`.");
      return kommo::cli::kExitUsage;
    }
    if (invocation.help) {
      return Write(stdout, kommo::cli::ImportHelp(invocation.kind)) ? kommo::cli::kExitOk
                                                                    : kommo::cli::kExitLocalError;
    }
    return kommo::cli::RunImport(invocation);
  }
  kommo::cli::Invocation invocation =
      kommo::cli::ParseCommandLine(args, std::getenv(kommo::cli::kTargetEnvironmentVariable));
  if (!invocation.error.empty()) {
    Write(stderr, "kommo-cli: " + invocation.error + "\nRun `kommo-cli --help` for usage.");
    return kommo::cli::kExitUsage;
  }
  if (invocation.help) {
    const std::string help = invocation.command != nullptr
                                 ? kommo::cli::CommandHelp(*invocation.command)
                             : !invocation.group.empty() ? kommo::cli::GroupHelp(invocation.group)
                                                         : kommo::cli::TopLevelHelp();
    return Write(stdout, help) ? kommo::cli::kExitOk : kommo::cli::kExitLocalError;
  }

  const kommo::cli::Command& command = *invocation.command;
  std::string setup_error;
  kommo::client::ChannelOptions options = kommo::cli::ConnectionOptions(
      invocation.tls, invocation.token_file, std::getenv(kommo::cli::kTokenEnvironmentVariable),
      &setup_error);
  if (!setup_error.empty()) {
    Write(stderr, "kommo-cli: " + setup_error);
    return kommo::cli::kExitUsage;
  }
  options.account = invocation.account;
  if (command.stream != nullptr) return Watch(invocation, options);
  // kommo-cli retries itself (CallWithRetries), so the channel does not.
  options.retry.max_attempts = 1;
  std::shared_ptr<grpc::Channel> channel = kommo::client::CreateChannel(invocation.target, options);
  kommo::cli::RetryPlan plan;
  plan.max_attempts = invocation.max_attempts;
  plan.is_create = command.retry == kommo::cli::RetryClass::kWrite;
  // --deadline is the whole budget of the call, retries included.
  const auto deadline = std::chrono::system_clock::now() + invocation.deadline;
  std::unique_ptr<google::protobuf::Message> response(command.response_prototype->New());
  const grpc::Status status = kommo::cli::CallWithRetries(
      plan, deadline,
      [&](std::chrono::system_clock::time_point attempt_deadline) {
        grpc::ClientContext context;
        context.set_deadline(attempt_deadline);
        response->Clear();
        return command.call(channel, &context, *invocation.request, response.get());
      },
      [](std::chrono::milliseconds wait) { std::this_thread::sleep_for(wait); });
  if (!status.ok()) {
    const std::string error =
        invocation.json ? kommo::cli::FormatErrorJson(status)
                        : "kommo-cli: " + kommo::cli::FormatErrorText(command.rpc, status);
    Write(stderr, error);
    return kommo::cli::ExitCodeFor(status.error_code());
  }
  const std::string output =
      invocation.json ? kommo::cli::FormatJson(*response) : kommo::cli::FormatTable(*response);
  if (output.empty() || !Write(stdout, output)) {
    Write(stderr, "kommo-cli: could not write the response");
    return kommo::cli::kExitLocalError;
  }
  return kommo::cli::kExitOk;
}

}  // namespace

int main(int argc, char** argv) { return Run(std::vector<std::string>(argv + 1, argv + argc)); }
