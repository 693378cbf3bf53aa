// Scale: 2,000 concurrent requests, each delayed 200 ms by a latency fault, all answered on the one
// loop thread without refusing a connection or stalling (latency is a timer, not a thread).
#include <curl/curl.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "emulator/emulator.h"
#include "gtest/gtest.h"
#include "tests/emulator/test_helpers.h"

namespace kommo::emulator {
namespace {

using namespace std::chrono_literals;

constexpr char kToken[] = "scale-token";

TEST(EmulatorScaleTest, TwoThousandConcurrentRequestsWithInjectedLatency) {
  constexpr int kRequests = 2000;
  constexpr auto kLatency = 200ms;
  const rlim_t fd_limit = testing::RaiseOpenFileLimit();
  if (fd_limit < 2 * kRequests + 100) {
    GTEST_SKIP() << "needs " << 2 * kRequests + 100 << " file descriptors, the limit is "
                 << fd_limit;
  }
  EmulatorOptions options;
  options.token = kToken;
  FaultRule latency;
  latency.action = FaultAction::kLatency;
  latency.method = "GET";
  latency.path_prefix = "/api/v4/leads/pipelines";
  latency.delay = kLatency;
  options.faults.push_back(latency);
  auto emulator = Emulator::Start(options);
  ASSERT_TRUE(emulator.ok()) << emulator.status();

  const std::string url = (*emulator)->base_url() + "/api/v4/leads/pipelines";
  const testing::ConcurrentReplies answers = testing::GetConcurrently(
      url, kRequests, {std::string("Authorization: Bearer ") + kToken}, 60000L);
  const auto elapsed = answers.elapsed;
  int ok = 0;
  for (const testing::ConcurrentReply& reply : answers.replies) {
    if (reply.status == 200 && reply.body.find("\"_total_items\":2") != std::string::npos) ++ok;
  }

  EXPECT_EQ(ok, kRequests);  // none refused, none failed
  // Serially these would take 400 s; overlapping waits take the latency plus connection work.
  // The bound is generous for a loaded 2-core machine and sanitizer builds.
  EXPECT_LT(elapsed, 20s);
  const std::vector<LoggedRequest> log = (*emulator)->requests();
  ASSERT_EQ(log.size(), static_cast<size_t>(kRequests));
  int delayed = 0;
  for (const LoggedRequest& entry : log) {
    if (entry.delay == kLatency && entry.status == 200 && entry.delivered) ++delayed;
  }
  EXPECT_EQ(delayed, kRequests);
  std::printf("%d requests with %lld ms injected latency took %lld ms\n", kRequests,
              static_cast<long long>(kLatency.count()),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

}  // namespace
}  // namespace kommo::emulator
