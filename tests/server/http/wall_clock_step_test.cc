// Issue 10, rule 6: stepping the wall clock moves no timer. The real kommo-grpc-server binary runs
// with its wall clock steppable at run time (LD_PRELOAD of wall_clock_shift.c: CLOCK_REALTIME and
// friends get an offset read from a file) against the real kommo-emulator binary, whose own clock
// is left alone, at 1 Kommo request/s. The emulator's request log (GET /_emulator/requests,
// arrival times on its unshifted clock) shows what the server sent and when:
//   - stepping forward 6 s releases no burst: no two Kommo requests closer than 0.9 s;
//   - stepping back 120 s stalls nothing: queued and new calls are answered at 1/s.
// The gRPC calls themselves (the test's clock is not shifted) must keep working: their deadlines
// are carried relative and gRPC runs its timers on CLOCK_MONOTONIC.
//
// KOMMO_WALL_CLOCK_TEST_SERVER=<path> runs another server binary (an old build, to see it fail).

#include <curl/curl.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "rapidjson/document.h"
#include "tests/emulator/test_helpers.h"

namespace kommo {
namespace {

using ::kommo::emulator::testing::ReadLine;

constexpr char kToken[] = "wall-clock-step-token";

std::string ServerBinary() {
  const char* other = std::getenv("KOMMO_WALL_CLOCK_TEST_SERVER");
  return other != nullptr && *other != '\0' ? other : KOMMO_SERVER_BINARY;
}

// Starts `args` with exactly `env`, stdout on a pipe (*stdout_fd), stderr appended to
// `stderr_path`. Returns the pid, or -1.
pid_t Spawn(std::vector<std::string> args, std::vector<std::string> env,
            const std::string& stderr_path, int* stdout_fd) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int spawned =
      posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (spawned != 0) {
    close(out[0]);
    return -1;
  }
  *stdout_fd = out[0];
  return pid;
}

// SIGTERM, then the exit status (SIGKILL after 10 s).
int Stop(pid_t pid) {
  if (pid <= 0) return -1;
  kill(pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return status;
}

std::string HttpGet(const std::string& url) {
  std::string body;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &emulator::testing::AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  return body;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class WallClockStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = ::testing::TempDir();
    const std::string tag = absl::StrCat(getpid());
    shift_file_ = absl::StrCat(dir, "/wall_clock_shift_", tag);
    server_log_ = absl::StrCat(dir, "/wall_clock_server_", tag, ".log");
    emulator_log_ = absl::StrCat(dir, "/wall_clock_emulator_", tag, ".log");
    WriteFile(shift_file_, "0\n");

    int emulator_out = -1;
    emulator_pid_ =
        Spawn({KOMMO_EMULATOR_BINARY, "--listen=127.0.0.1:0", absl::StrCat("--token=", kToken)}, {},
              emulator_log_, &emulator_out);
    ASSERT_GT(emulator_pid_, 0);
    const std::string line = ReadLine(emulator_out, std::chrono::seconds(10));
    close(emulator_out);
    const size_t at = line.find("http://");
    ASSERT_NE(at, std::string::npos) << line;
    emulator_url_ = line.substr(at);

    std::string asan_options = "verify_asan_link_order=0";  // the preload is not instrumented
    if (const char* inherited = std::getenv("ASAN_OPTIONS")) {
      asan_options = absl::StrCat(inherited, ":", asan_options);
    }
    int server_out = -1;
    server_pid_ = Spawn(
        {ServerBinary(), "--listen=127.0.0.1:0"},
        {absl::StrCat("LD_PRELOAD=", KOMMO_WALL_CLOCK_SHIFT_LIBRARY),
         absl::StrCat("WALL_CLOCK_SHIFT_FILE=", shift_file_),
         absl::StrCat("ASAN_OPTIONS=", asan_options), absl::StrCat("KOMMO_API_URL=", emulator_url_),
         absl::StrCat("KOMMO_ACCESS_TOKEN=", kToken), "KOMMO_RATE_LIMIT_RPS=1",
         "KOMMO_RATE_LIMIT_BURST=1", "METRICS_LISTEN_ADDRESS=off", "SHUTDOWN_GRACE_PERIOD=1s",
         "LOG_LEVEL=info"},
        server_log_, &server_out);
    ASSERT_GT(server_pid_, 0);
    const std::string first = ReadLine(server_out, std::chrono::seconds(20));
    close(server_out);
    int port = 0;
    ASSERT_EQ(std::sscanf(first.c_str(), "kommo-grpc-server listening on port %d", &port), 1)
        << first << "\n"
        << ReadFile(server_log_);
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    leads_ = v1::LeadService::NewStub(channel);
  }

  void TearDown() override {
    const int server_status = Stop(server_pid_);
    Stop(emulator_pid_);
    if (HasFailure()) {
      std::printf("--- server stderr ---\n%s\n", ReadFile(server_log_).c_str());
    }
    EXPECT_TRUE(WIFEXITED(server_status) && WEXITSTATUS(server_status) == 0)
        << "server exit status " << server_status;
    std::remove(shift_file_.c_str());
    std::remove(server_log_.c_str());
    std::remove(emulator_log_.c_str());
  }

  // Steps the server's wall clock to `seconds` away from the real one.
  void SetShift(int seconds) { WriteFile(shift_file_, absl::StrCat(seconds, "\n")); }

  // Arrival times (ms, emulator's clock) of the Kommo lead requests, in arrival order.
  std::vector<int64_t> KommoRequestTimes() {
    rapidjson::Document log;
    log.Parse(HttpGet(emulator_url_ + "/_emulator/requests?path_prefix=/api/v4/leads").c_str());
    std::vector<int64_t> times;
    if (!log.IsObject() || !log.HasMember("requests")) return times;
    for (const auto& entry : log["requests"].GetArray())
      times.push_back(entry["time_ms"].GetInt64());
    return times;
  }

  bool WaitForKommoRequests(size_t count, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (KommoRequestTimes().size() >= count) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // GetLead calls for distinct ids (so no two share a Kommo request), all started at once.
  struct Calls {
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<v1::GetLeadRequest> requests;
    std::vector<v1::GetLeadResponse> responses;
    std::vector<std::promise<grpc::Status>> done;
    std::vector<absl::Time> started;
  };
  std::unique_ptr<Calls> StartCalls(int count, int64_t first_id, absl::Duration deadline) {
    auto calls = std::make_unique<Calls>();
    calls->requests.resize(count);
    calls->responses.resize(count);
    calls->done.resize(count);
    for (int i = 0; i < count; ++i) {
      calls->contexts.push_back(std::make_unique<grpc::ClientContext>());
      calls->contexts[i]->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
      calls->requests[i].set_lead_id(first_id + i);
      calls->started.push_back(absl::Now());
      leads_->async()->GetLead(calls->contexts[i].get(), &calls->requests[i], &calls->responses[i],
                               [&done = calls->done[i]](grpc::Status s) { done.set_value(s); });
    }
    return calls;
  }

  // Every call got Kommo's answer: the leads do not exist, so NOT_FOUND (not a deadline, not a
  // refusal). Returns the codes, for the failure message.
  static std::string ExpectAnswered(Calls& calls) {
    std::vector<std::string> codes;
    for (auto& done : calls.done) {
      const grpc::Status status = done.get_future().get();
      codes.push_back(absl::StrCat(status.error_code()));
      EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
    }
    return absl::StrJoin(codes, ",");
  }

  static int64_t MinGapMs(const std::vector<int64_t>& times, size_t from) {
    int64_t gap = INT64_MAX;
    for (size_t i = std::max<size_t>(from, 1); i < times.size(); ++i) {
      gap = std::min(gap, times[i] - times[i - 1]);
    }
    return gap;
  }

  static std::string Gaps(const std::vector<int64_t>& times) {
    std::vector<std::string> gaps;
    for (size_t i = 1; i < times.size(); ++i) gaps.push_back(absl::StrCat(times[i] - times[i - 1]));
    return absl::StrJoin(gaps, " ");
  }

  std::string shift_file_;
  std::string server_log_;
  std::string emulator_log_;
  std::string emulator_url_;
  pid_t emulator_pid_ = -1;
  pid_t server_pid_ = -1;
  std::unique_ptr<v1::LeadService::Stub> leads_;
};

TEST_F(WallClockStepTest, SteppingTheWallClockMovesNoRateLimitSlot) {
  // Forward 6 s while 8 calls wait for their 1/s slots.
  constexpr int kForwardCalls = 8;
  std::unique_ptr<Calls> forward = StartCalls(kForwardCalls, 1000, absl::Seconds(30));
  ASSERT_TRUE(WaitForKommoRequests(2, absl::Seconds(10)));
  SetShift(6);
  const std::string forward_codes = ExpectAnswered(*forward);
  std::vector<int64_t> times = KommoRequestTimes();
  std::printf("[wall clock +6 s] %zu Kommo requests, gaps (ms): %s; call codes %s\n", times.size(),
              Gaps(times).c_str(), forward_codes.c_str());
  EXPECT_EQ(times.size(), static_cast<size_t>(kForwardCalls));
  EXPECT_GE(MinGapMs(times, 1), 900) << "a burst after the forward step: " << Gaps(times);

  // Back 120 s (from +6 to -114) while 6 more calls wait; one call arrives just after the step,
  // one once they are done.
  constexpr int kBackCalls = 6;
  const size_t before_back = times.size();
  std::unique_ptr<Calls> back = StartCalls(kBackCalls, 2000, absl::Seconds(20));
  ASSERT_TRUE(WaitForKommoRequests(before_back + 1, absl::Seconds(10)));
  SetShift(-114);
  const absl::Time stepped = absl::Now();
  // A call that arrives just after the step: its deadline is read off the stepped clock.
  absl::SleepFor(absl::Milliseconds(50));
  std::unique_ptr<Calls> just_after = StartCalls(1, 4000, absl::Seconds(20));
  const std::string back_codes = ExpectAnswered(*back) + "; " + ExpectAnswered(*just_after);
  const absl::Duration back_took = absl::Now() - stepped;
  std::unique_ptr<Calls> after = StartCalls(1, 3000, absl::Seconds(5));
  const std::string after_codes = ExpectAnswered(*after);
  const absl::Duration after_took = absl::Now() - after->started[0];
  times = KommoRequestTimes();
  std::printf(
      "[wall clock -120 s] %zu Kommo requests, gaps (ms): %s; queued calls answered in %s (codes "
      "%s), a new call in %s (code %s)\n",
      times.size() - before_back,
      Gaps(std::vector<int64_t>(times.begin() + before_back - 1, times.end())).c_str(),
      absl::FormatDuration(back_took).c_str(), back_codes.c_str(),
      absl::FormatDuration(after_took).c_str(), after_codes.c_str());
  EXPECT_EQ(times.size(), before_back + kBackCalls + 2);
  EXPECT_GE(MinGapMs(times, before_back), 900) << Gaps(times);
  // Six more slots at 1/s after the step: about 6 s, far from the 120 s a wall-clock slot waits.
  EXPECT_LT(back_took, absl::Seconds(9));
  EXPECT_LT(after_took, absl::Seconds(3));
}

}  // namespace
}  // namespace kommo
