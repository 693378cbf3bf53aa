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

namespace kommo::emulator {
namespace {

using namespace std::chrono_literals;

constexpr char kToken[] = "scale-token";

TEST(EmulatorScaleTest, TwoThousandConcurrentRequestsWithInjectedLatency) {
  constexpr int kRequests = 2000;
  constexpr auto kLatency = 200ms;
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < 2 * kRequests + 100) {
    GTEST_SKIP() << "needs " << 2 * kRequests + 100 << " file descriptors, the limit is "
                 << limit.rlim_cur;
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

  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  const std::string url = (*emulator)->base_url() + "/api/v4/leads/pipelines";
  curl_slist* headers =
      curl_slist_append(nullptr, (std::string("Authorization: Bearer ") + kToken).c_str());
  std::vector<CURL*> handles;
  std::vector<std::string> bodies(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    CURL* easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);  // one connection per request
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* user) {
          static_cast<std::string*>(user)->append(data, size * count);
          return size * count;
        });
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &bodies[i]);
    curl_multi_add_handle(multi, easy);
    handles.push_back(easy);
  }
  const auto start = std::chrono::steady_clock::now();
  int running = 0;
  do {
    curl_multi_perform(multi, &running);
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  } while (running > 0);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  int ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    long status = 0;
    curl_easy_getinfo(handles[i], CURLINFO_RESPONSE_CODE, &status);
    if (status == 200 && bodies[i].find("\"_total_items\":2") != std::string::npos) ++ok;
    curl_multi_remove_handle(multi, handles[i]);
    curl_easy_cleanup(handles[i]);
  }
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);

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
