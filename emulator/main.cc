// kommo-emulator: serves a local Kommo API v4 until SIGINT or SIGTERM (then exits 0).
// The first line on stdout is "kommo-emulator listening on http://HOST:PORT".
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "emulator/emulator.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8080",
          "HOST:PORT to listen on; port 0 picks a free port (printed on the first line)");
ABSL_FLAG(std::string, token, "",
          "Bearer token of the admin user; empty: any non-empty Bearer token is accepted");
ABSL_FLAG(std::string, manager_token, "",
          "Bearer token of a non-admin user (GET /api/v4/users answers 403 for it)");
ABSL_FLAG(bool, batch_all_or_nothing, true,
          "A batch write with an invalid item saves nothing; false saves the valid items");
ABSL_FLAG(bool, access_log, false,
          "Log one line per request on stderr (method, path, status; never headers or bodies)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A local Kommo (amoCRM) REST API v4 for tests.\n"
      "Usage: kommo-emulator [--listen=127.0.0.1:8080] [--token=TOKEN] [--manager_token=TOKEN]");
  absl::FlagsUsageConfig usage_config;
  // --help lists the flags of this file (Abseil's default filter guesses by file name).
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "emulator/main.cc");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  absl::ParseCommandLine(argc, argv);

  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // sigwait() below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  kommo::emulator::EmulatorOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.token = absl::GetFlag(FLAGS_token);
  options.manager_token = absl::GetFlag(FLAGS_manager_token);
  options.batch_all_or_nothing = absl::GetFlag(FLAGS_batch_all_or_nothing);
  options.access_log = absl::GetFlag(FLAGS_access_log);
  auto emulator = kommo::emulator::Emulator::Start(options);
  if (!emulator.ok()) {
    std::fprintf(stderr, "kommo-emulator: %s\n", emulator.status().ToString().c_str());
    return 1;
  }
  std::printf("kommo-emulator listening on %s\n", (*emulator)->base_url().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*emulator)->Stop();
  std::fprintf(stderr, "kommo-emulator: stopped by signal %d\n", signal_number);
  return 0;
}
