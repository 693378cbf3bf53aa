// CurlTransport on an EpollLoop, against a real HTTP peer on loopback (the in-process emulator on
// 127.0.0.1:0): answers, errors, cancellation, timeouts, and the shutdown contract (every callback
// exactly once).

#include "server/http/curl_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kommo::http {
namespace {

namespace emu = ::kommo::emulator;
using ::testing::HasSubstr;

constexpr char kToken[] = "transport-test-token";

// One result, recorded from the loop thread; counts deliveries so a second one is seen.
class ResultSlot {
 public:
  HttpTransport::Callback Callback(EpollLoop* loop) {
    return [this, loop](HttpResult result) {
      {
        absl::MutexLock lock(&mu_);
        on_loop_ = loop->IsLoopThread();
        ++calls_;
        result_ = std::move(result);
      }
      // After the lock is released: a waiter may destroy this slot as soon as it wakes (the
      // Notification's own destructor waits for Notify to return; mu_'s would not).
      done_.Notify();
    };
  }
  bool Wait(absl::Duration timeout = absl::Seconds(20)) {
    return done_.WaitForNotificationWithTimeout(timeout);
  }
  HttpResult result() {
    absl::MutexLock lock(&mu_);
    return result_;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  bool on_loop() {
    absl::MutexLock lock(&mu_);
    return on_loop_;
  }

 private:
  absl::Mutex mu_;
  absl::Notification done_;
  HttpResult result_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool on_loop_ ABSL_GUARDED_BY(mu_) = false;
};

class CurlTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::EmulatorOptions options;
    options.token = kToken;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    auto loop = EpollLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
    ASSERT_TRUE(loop_->Start().ok());
    MakeTransport({});
  }

  void TearDown() override {
    transport_.reset();
    loop_.reset();
    if (emulator_ != nullptr) emulator_->Stop();
  }

  void MakeTransport(CurlTransportOptions options) {
    transport_.reset();
    auto transport = CurlTransport::Create(loop_.get(), std::move(options));
    ASSERT_TRUE(transport.ok()) << transport.status();
    transport_ = *std::move(transport);
  }

  HttpRequest Get(const std::string& path) {
    HttpRequest request;
    request.method = Method::kGet;
    request.url = emulator_->base_url() + path;
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", kToken));
    request.timeout = absl::Seconds(10);
    return request;
  }

  void Delay(const std::string& path, std::chrono::milliseconds delay) {
    emu::FaultRule latency;
    latency.path_prefix = path;
    latency.action = emu::FaultAction::kLatency;
    latency.delay = delay;
    ASSERT_TRUE(emulator_->AddFault(latency).ok());
  }

  // Waits until the emulator has received `count` requests.
  bool WaitForRequests(size_t count) {
    for (int i = 0; i < 500; ++i) {
      if (emulator_->requests().size() >= count) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<EpollLoop> loop_;
  std::unique_ptr<CurlTransport> transport_;
};

TEST_F(CurlTransportTest, AnswersArriveOnTheLoopWithStatusBodyAndLowerCasedHeaders) {
  ResultSlot slot;
  transport_->Send(Get("/api/v4/account"), slot.Callback(loop_.get()));
  ASSERT_TRUE(slot.Wait());
  HttpResult result = slot.result();
  ASSERT_TRUE(result.response.ok()) << result.response.status();
  EXPECT_EQ(result.response->status, 200);
  EXPECT_THAT(result.response->body, HasSubstr("\"id\""));
  EXPECT_THAT(std::string(result.response->Header("content-type")), HasSubstr("json"));
  EXPECT_TRUE(result.request_sent);
  EXPECT_TRUE(slot.on_loop());
  EXPECT_EQ(slot.calls(), 1);
}

TEST_F(CurlTransportTest, AnHttpErrorStatusIsASuccessfulTransportCall) {
  ResultSlot slot;
  HttpRequest request = Get("/api/v4/leads/999999");
  transport_->Send(std::move(request), slot.Callback(loop_.get()));
  ASSERT_TRUE(slot.Wait());
  HttpResult result = slot.result();
  ASSERT_TRUE(result.response.ok()) << result.response.status();
  EXPECT_EQ(result.response->status, 204) << result.response->body;  // Kommo: no such lead
}

TEST_F(CurlTransportTest, PostSendsTheJsonBody) {
  ResultSlot slot;
  HttpRequest request = Get("/api/v4/leads");
  request.method = Method::kPost;
  request.body = R"([{"name":"from the transport test","price":7}])";
  transport_->Send(std::move(request), slot.Callback(loop_.get()));
  ASSERT_TRUE(slot.Wait());
  HttpResult result = slot.result();
  ASSERT_TRUE(result.response.ok()) << result.response.status();
  EXPECT_EQ(result.response->status, 200) << result.response->body;
  EXPECT_EQ(emulator_->lead_count(), 1u);
  std::vector<emu::LoggedRequest> seen = emulator_->requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_THAT(seen[0].body, HasSubstr("from the transport test"));
}

// Easy handles are reused: a GET after a POST (one after the other, so on the POST's handle) is a
// plain GET, with no body and none of the POST's options left over.
TEST_F(CurlTransportTest, AGetAfterAPostOnAReusedHandleIsAPlainGet) {
  ResultSlot post;
  HttpRequest request = Get("/api/v4/leads");
  request.method = Method::kPost;
  request.body = R"([{"name":"first on the handle","price":1}])";
  transport_->Send(std::move(request), post.Callback(loop_.get()));
  ASSERT_TRUE(post.Wait());
  ASSERT_TRUE(post.result().response.ok()) << post.result().response.status();
  ResultSlot get;
  transport_->Send(Get("/api/v4/leads?limit=5"), get.Callback(loop_.get()));
  ASSERT_TRUE(get.Wait());
  HttpResult result = get.result();
  ASSERT_TRUE(result.response.ok()) << result.response.status();
  EXPECT_EQ(result.response->status, 200) << result.response->body;
  EXPECT_THAT(result.response->body, HasSubstr("first on the handle"));
  EXPECT_EQ(emulator_->lead_count(), 1u);
  std::vector<emu::LoggedRequest> seen = emulator_->requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].method, "GET");
  EXPECT_EQ(seen[1].body, "");
}

TEST_F(CurlTransportTest, SendsFromManyThreadsEachCompleteExactlyOnce) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<int> ok{0};
  std::atomic<int> calls{0};
  std::atomic<int> off_loop{0};
  absl::BlockingCounter pending(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        transport_->Send(Get("/api/v4/account"), [&](HttpResult result) {
          if (!loop_->IsLoopThread()) ++off_loop;
          if (result.response.ok() && result.response->status == 200) ++ok;
          ++calls;
          pending.DecrementCount();
        });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  pending.Wait();
  absl::SleepFor(absl::Milliseconds(50));  // a second delivery would show here
  EXPECT_EQ(calls.load(), kThreads * kPerThread);
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(off_loop.load(), 0);
}

TEST_F(CurlTransportTest, ACallbackMaySendAgain) {
  ResultSlot second;
  ResultSlot first;
  transport_->Send(Get("/api/v4/account"), [&](HttpResult result) {
    EXPECT_TRUE(result.response.ok());
    transport_->Send(Get("/api/v4/account"), second.Callback(loop_.get()));
    first.Callback(loop_.get())(std::move(result));
  });
  ASSERT_TRUE(first.Wait());
  ASSERT_TRUE(second.Wait());
  EXPECT_TRUE(second.result().response.ok());
}

TEST_F(CurlTransportTest, CancelCompletesAnInFlightRequestWithCancelled) {
  ASSERT_NO_FATAL_FAILURE(Delay("/api/v4/account", std::chrono::milliseconds(3000)));
  ResultSlot slot;
  const absl::Time start = absl::Now();
  const HttpTransport::RequestId id =
      transport_->Send(Get("/api/v4/account"), slot.Callback(loop_.get()));
  ASSERT_TRUE(WaitForRequests(1));
  transport_->Cancel(id);
  ASSERT_TRUE(slot.Wait());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  HttpResult result = slot.result();
  EXPECT_EQ(result.response.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(result.request_sent) << "the emulator had received it";
  transport_->Cancel(id);  // completed: ignored
  transport_->Cancel(987654321);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(slot.calls(), 1);
}

TEST_F(CurlTransportTest, TheAttemptTimeoutIsDeadlineExceeded) {
  ASSERT_NO_FATAL_FAILURE(Delay("/api/v4/account", std::chrono::milliseconds(3000)));
  ResultSlot slot;
  HttpRequest request = Get("/api/v4/account");
  request.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  transport_->Send(std::move(request), slot.Callback(loop_.get()));
  ASSERT_TRUE(slot.Wait());
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(290));
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_EQ(slot.result().response.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(CurlTransportTest, ATooLargeResponseIsResourceExhausted) {
  CurlTransportOptions options;
  options.max_response_bytes = 16;
  ASSERT_NO_FATAL_FAILURE(MakeTransport(options));
  ResultSlot slot;
  transport_->Send(Get("/api/v4/account"), slot.Callback(loop_.get()));
  ASSERT_TRUE(slot.Wait());
  EXPECT_EQ(slot.result().response.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(CurlTransportTest, ARefusedConnectionIsUnavailableAndNotSent) {
  // A port that was just free: bound, then closed without listening.
  const int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(probe, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(probe);
  ResultSlot slot;
  HttpRequest request;
  request.url = absl::StrCat("http://127.0.0.1:", ntohs(address.sin_port), "/api/v4/account");
  request.method = Method::kPost;
  request.body = "[]";
  transport_->Send(std::move(request), slot.Callback(loop_.get()));
  ASSERT_TRUE(slot.Wait());
  HttpResult result = slot.result();
  EXPECT_EQ(result.response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(result.request_sent) << "a POST that never left may be retried";
}

TEST_F(CurlTransportTest, ShutdownCancelsWhatIsInFlightAndEverythingSentLater) {
  ASSERT_NO_FATAL_FAILURE(Delay("/api/v4/account", std::chrono::milliseconds(5000)));
  constexpr int kInFlight = 20;
  std::vector<std::unique_ptr<ResultSlot>> slots;
  for (int i = 0; i < kInFlight; ++i) {
    slots.push_back(std::make_unique<ResultSlot>());
    transport_->Send(Get("/api/v4/account"), slots.back()->Callback(loop_.get()));
  }
  ASSERT_TRUE(WaitForRequests(kInFlight));
  const absl::Time start = absl::Now();
  transport_->Shutdown();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  for (auto& slot : slots) {
    // Done when Shutdown returns: no waiting.
    ASSERT_TRUE(slot->Wait(absl::ZeroDuration()));
    EXPECT_EQ(slot->result().response.status().code(), absl::StatusCode::kCancelled);
    EXPECT_TRUE(slot->on_loop());
  }
  // Sent after Shutdown: CANCELLED on the loop, never sent.
  ResultSlot late;
  transport_->Send(Get("/api/v4/account"), late.Callback(loop_.get()));
  ASSERT_TRUE(late.Wait());
  EXPECT_EQ(late.result().response.status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(late.result().request_sent);
  EXPECT_TRUE(late.on_loop());
  transport_->Shutdown();  // idempotent
  transport_.reset();
  for (auto& slot : slots) EXPECT_EQ(slot->calls(), 1);
  EXPECT_EQ(late.calls(), 1);
  EXPECT_EQ(emulator_->requests().size(), static_cast<size_t>(kInFlight));
}

TEST_F(CurlTransportTest, ShutdownFromACallbackOnTheLoop) {
  ASSERT_NO_FATAL_FAILURE(Delay("/api/v4/leads", std::chrono::milliseconds(5000)));
  ResultSlot slow;
  transport_->Send(Get("/api/v4/leads"), slow.Callback(loop_.get()));
  ASSERT_TRUE(WaitForRequests(1));
  ResultSlot fast;
  transport_->Send(Get("/api/v4/account"), [&](HttpResult result) {
    transport_->Shutdown();  // on the loop thread: runs at once
    fast.Callback(loop_.get())(std::move(result));
  });
  ASSERT_TRUE(fast.Wait());
  ASSERT_TRUE(slow.Wait(absl::Seconds(2)));
  EXPECT_EQ(slow.result().response.status().code(), absl::StatusCode::kCancelled);
}

TEST_F(CurlTransportTest, TheLoopStoppingFirstStillLetsTheTransportShutDownAndGo) {
  ASSERT_NO_FATAL_FAILURE(Delay("/api/v4/account", std::chrono::milliseconds(5000)));
  ResultSlot slot;
  transport_->Send(Get("/api/v4/account"), slot.Callback(loop_.get()));
  ASSERT_TRUE(WaitForRequests(1));
  loop_->Shutdown();  // out of order: the transport still has a transfer in flight
  transport_->Shutdown();
  ASSERT_TRUE(slot.Wait(absl::ZeroDuration()));
  EXPECT_EQ(slot.result().response.status().code(), absl::StatusCode::kCancelled);
  transport_.reset();
  EXPECT_EQ(slot.calls(), 1);
}

}  // namespace
}  // namespace kommo::http
