#include "server/kommo/shared_reads.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "server/kommo/requester.h"
#include "tests/support/fake_event_loop.h"
#include "tests/support/fake_transport.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::kommo::testing::FakeTransport;

class SharedReadsTest : public ::testing::Test {
 protected:
  SharedReadsTest()
      : transport_(&loop_),
        requester_(Options(), &transport_, &loop_),
        reads_(&requester_, &loop_) {}

  static KommoClientOptions Options() {
    KommoClientOptions options;
    options.api_base_url = "https://acme.kommo.com/api/v4";
    options.rate_limit_rps = 1;
    options.random_seed = 3;
    return options;
  }

  using Result = std::optional<absl::StatusOr<std::string>>;

  // Reads "/leads/5" (the body is the result).
  void Read(absl::Duration patience, Result& out, bool priority = false,
            std::shared_ptr<CancellationToken> cancel = nullptr) {
    RequestSpec spec;
    spec.path = "/leads/5";
    spec.priority = priority;
    spec.context.what = "GET /leads/{id}";
    reads_.Read(
        "/leads/5", std::move(spec), {loop_.Now() + patience, std::move(cancel), nullptr},
        [&out](absl::StatusOr<std::string> result) { out = std::move(result); },
        [](absl::StatusOr<http::HttpResponse> response,
           const ErrorContext&) -> absl::StatusOr<std::string> {
          if (!response.ok()) return response.status();
          if (response->status != 200) return absl::UnavailableError("not 200");
          return response->body;
        });
  }

  FakeEventLoop loop_;
  FakeTransport transport_;
  Requester requester_;
  SharedReads<std::string> reads_;
};

TEST_F(SharedReadsTest, IdenticalReadsShareOneRequest) {
  transport_.ThenStatus(200, "lead five");
  Result a, b;
  Read(absl::Seconds(5), a);
  Read(absl::Seconds(1), b);  // less patient than the flight: joins anyway
  loop_.Advance(absl::Seconds(1));
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(**a, "lead five");
  EXPECT_EQ(**b, "lead five");
  EXPECT_EQ(transport_.sent().size(), 1u);
}

TEST_F(SharedReadsTest, AMorePatientMemberKeepsTheRequestAlive) {
  // Kommo asks for a 2 s pause: only a request that lives past 2 s can retry.
  transport_.ThenStatus(429, "", {{"retry-after", "2"}});
  transport_.ThenStatus(200, "lead five");
  Result impatient, patient;
  Read(absl::Milliseconds(1200), impatient);
  Read(absl::Seconds(10), patient);
  loop_.Advance(absl::Seconds(10));
  ASSERT_TRUE(impatient.has_value() && patient.has_value());
  EXPECT_EQ(impatient->status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(patient->ok()) << patient->status();
  EXPECT_EQ(**patient, "lead five");
  EXPECT_EQ(transport_.sent().size(), 2u);
}

TEST_F(SharedReadsTest, WhenEveryMemberLeavesTheRequestIsDroppedUnsent) {
  transport_.ThenStatus(200, "other");
  Result busy;
  RequestSpec other;
  other.path = "/leads/6";
  requester_.Send(std::move(other), {loop_.Now() + absl::Seconds(5), nullptr, nullptr},
                  [](absl::StatusOr<http::HttpResponse>) {});  // takes the slot at 0 s
  auto cancel_a = std::make_shared<CancellationToken>();
  auto cancel_b = std::make_shared<CancellationToken>();
  Result a, b;
  Read(absl::Seconds(5), a, false, cancel_a);  // its slot would be at 1 s
  Read(absl::Seconds(5), b, false, cancel_b);
  loop_.Advance(absl::Milliseconds(100));
  cancel_a->Cancel();
  cancel_b->Cancel();
  loop_.Advance(absl::Seconds(5));
  EXPECT_EQ(a->status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(b->status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(transport_.sent().size(), 1u) << "only the other request reached Kommo";
  EXPECT_EQ(reads_.in_flight(), 0u);
}

TEST_F(SharedReadsTest, AReadBackNeverJoinsAReadAlreadyUnderWay) {
  transport_.ThenStatus(200, "before the write");
  transport_.ThenStatus(200, "after the write");
  Result before, after;
  Read(absl::Seconds(5), before);
  Read(absl::Seconds(5), after, /*priority=*/true);
  loop_.Advance(absl::Seconds(3));
  EXPECT_EQ(**before, "before the write");
  EXPECT_EQ(**after, "after the write");
  EXPECT_EQ(transport_.sent().size(), 2u);
}

}  // namespace
}  // namespace kommo::rest
