#include "server/api/idempotency.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kommo/v1/lead_service.pb.h"
#include "server/common/error_details.h"

namespace kommo::api {
namespace {

using Answer = IdempotencyStore::Answer;
using Outcome = IdempotencyStore::Outcome;

const IdempotencyKey kKey{"/kommo.v1.LeadService/CreateLead", "order-1"};
constexpr uint64_t kFingerprint = 0x1234;
const absl::Time kStart = absl::UnixEpoch() + absl::Hours(1000);

// What one caller received: how many times its deliver ran, and the last answer.
struct Received {
  int calls = 0;
  std::optional<Answer> answer;
};

IdempotencyStore::Deliver Into(Received& received) {
  return [&received](Answer answer) {
    ++received.calls;
    received.answer = std::move(answer);
  };
}

Answer Ok(const std::string& response) { return Answer{absl::OkStatus(), response}; }

std::string ReasonOf(const absl::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status);
  return info.has_value() ? info->reason() : "";
}

class IdempotencyStoreTest : public ::testing::Test {
 protected:
  IdempotencyStore::Options Options(size_t max_entries = 100000) {
    IdempotencyStore::Options options;
    options.retention = absl::Hours(24);
    options.max_entries = max_entries;
    options.clock = [this] { return now_; };
    return options;
  }

  absl::Time now_ = kStart;
};

TEST_F(IdempotencyStoreTest, NewKeyRunsAndFinishDeliversTheAnswer) {
  IdempotencyStore store(Options());
  Received runner;
  absl::StatusOr<IdempotencyStore::Started> started = store.Start(kKey, kFingerprint, Into(runner));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->outcome, Outcome::kRun);
  EXPECT_NE(started->ticket, 0u);
  EXPECT_EQ(runner.calls, 0);
  EXPECT_EQ(store.stats().in_flight, 1u);

  EXPECT_TRUE(store.Finish(kKey, Ok("lead 7")));
  EXPECT_EQ(runner.calls, 1);
  ASSERT_TRUE(runner.answer.has_value());
  EXPECT_TRUE(runner.answer->status.ok());
  EXPECT_EQ(runner.answer->response, "lead 7");
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.stats().in_flight, 0u);
  EXPECT_EQ(store.stats().started, 1u);
}

TEST_F(IdempotencyStoreTest, RepeatAfterFinishReplaysBeforeStartReturns) {
  IdempotencyStore store(Options());
  Received runner;
  ASSERT_TRUE(store.Start(kKey, kFingerprint, Into(runner)).ok());
  ASSERT_TRUE(store.Finish(kKey, Ok("lead 7")));

  Received repeat;
  absl::StatusOr<IdempotencyStore::Started> started = store.Start(kKey, kFingerprint, Into(repeat));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->outcome, Outcome::kReplayed);
  EXPECT_EQ(started->ticket, 0u);
  EXPECT_EQ(repeat.calls, 1);
  EXPECT_EQ(repeat.answer->response, "lead 7");
  EXPECT_EQ(runner.calls, 1);
  EXPECT_EQ(store.stats().replayed, 1u);
  EXPECT_EQ(store.stats().started, 1u);
  // A second Finish is a caller's bug: ignored, the kept answer stays.
  EXPECT_FALSE(store.Finish(kKey, Ok("other")));
  Received again;
  ASSERT_TRUE(store.Start(kKey, kFingerprint, Into(again)).ok());
  EXPECT_EQ(again.answer->response, "lead 7");
}

TEST_F(IdempotencyStoreTest, RepeatWhileInFlightJoinsAndGetsTheAnswerOnFinish) {
  IdempotencyStore store(Options());
  Received runner, joiner;
  ASSERT_TRUE(store.Start(kKey, kFingerprint, Into(runner)).ok());
  absl::StatusOr<IdempotencyStore::Started> joined = store.Start(kKey, kFingerprint, Into(joiner));
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_EQ(joined->outcome, Outcome::kJoined);
  EXPECT_EQ(joiner.calls, 0);
  EXPECT_EQ(store.stats().joined, 1u);

  ASSERT_TRUE(store.Finish(kKey, Ok("lead 7")));
  EXPECT_EQ(runner.calls, 1);
  EXPECT_EQ(joiner.calls, 1);
  EXPECT_EQ(joiner.answer->response, "lead 7");
}

TEST_F(IdempotencyStoreTest, SameRequestIdWithAnotherRequestIsRejected) {
  IdempotencyStore store(Options());
  Received runner;
  ASSERT_TRUE(store.Start(kKey, kFingerprint, Into(runner)).ok());

  // `deliver` is dropped without being called: the flag it owns is released.
  auto owned = std::make_shared<int>(0);
  std::weak_ptr<int> watch = owned;
  bool called = false;
  absl::StatusOr<IdempotencyStore::Started> reused = store.Start(
      kKey, kFingerprint + 1, [owned = std::move(owned), &called](Answer) { called = true; });
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReasonOf(reused.status()), "REQUEST_ID_REUSED");
  EXPECT_TRUE(watch.expired());
  EXPECT_FALSE(called);

  // Still refused once the first call finished, and the first call is not disturbed.
  ASSERT_TRUE(store.Finish(kKey, Ok("lead 7")));
  Received other;
  EXPECT_EQ(ReasonOf(store.Start(kKey, kFingerprint + 1, Into(other)).status()),
            "REQUEST_ID_REUSED");
  EXPECT_EQ(other.calls, 0);
  EXPECT_EQ(store.stats().reused_rejected, 2u);
  EXPECT_EQ(runner.answer->response, "lead 7");

  // The same request_id on another method is another key.
  Received contact;
  absl::StatusOr<IdempotencyStore::Started> started = store.Start(
      {"/kommo.v1.ContactService/CreateContact", kKey.request_id}, kFingerprint + 1, Into(contact));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->outcome, Outcome::kRun);
}

TEST_F(IdempotencyStoreTest, AbandonedCallerIsNeverCalledButTheAnswerIsKept) {
  IdempotencyStore store(Options());
  Received runner, joiner;
  absl::StatusOr<IdempotencyStore::Started> run = store.Start(kKey, kFingerprint, Into(runner));
  absl::StatusOr<IdempotencyStore::Started> join = store.Start(kKey, kFingerprint, Into(joiner));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(join.ok());

  EXPECT_TRUE(store.Abandon(kKey, run->ticket));
  EXPECT_FALSE(store.Abandon(kKey, run->ticket));  // already gone
  EXPECT_FALSE(store.Abandon({kKey.method, "order-2"}, join->ticket));
  ASSERT_TRUE(store.Finish(kKey, Ok("lead 7")));
  EXPECT_EQ(runner.calls, 0);
  EXPECT_EQ(joiner.calls, 1);
  // Too late to abandon: the answer was delivered.
  EXPECT_FALSE(store.Abandon(kKey, join->ticket));

  Received repeat;
  absl::StatusOr<IdempotencyStore::Started> replay = store.Start(kKey, kFingerprint, Into(repeat));
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->outcome, Outcome::kReplayed);
  EXPECT_EQ(repeat.answer->response, "lead 7");
}

TEST_F(IdempotencyStoreTest, OperationWhoseCallersAllLeftStillStoresItsAnswer) {
  IdempotencyStore store(Options());
  Received runner;
  absl::StatusOr<IdempotencyStore::Started> run = store.Start(kKey, kFingerprint, Into(runner));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(store.Abandon(kKey, run->ticket));
  // A repeat while it still runs joins it: the write is not sent twice.
  Received joiner;
  absl::StatusOr<IdempotencyStore::Started> join = store.Start(kKey, kFingerprint, Into(joiner));
  ASSERT_TRUE(join.ok());
  EXPECT_EQ(join->outcome, Outcome::kJoined);
  ASSERT_TRUE(store.Abandon(kKey, join->ticket));

  ASSERT_TRUE(
      store.Finish(kKey, Answer{MakeError(absl::StatusCode::kUnavailable, "no answer from Kommo",
                                          reason::kWriteOutcomeUnknown, {{"outcome", "unknown"}}),
                                "ignored"}));
  EXPECT_EQ(runner.calls, 0);
  EXPECT_EQ(joiner.calls, 0);
  Received repeat;
  EXPECT_EQ(store.Start(kKey, kFingerprint, Into(repeat))->outcome, Outcome::kReplayed);
  EXPECT_EQ(repeat.answer->status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReasonOf(repeat.answer->status), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(repeat.answer->response, "");
}

// Errors where Kommo acted or may have acted are kept like answers; the others are forgotten,
// so the repeat runs again (callers already waiting still get the error).
TEST_F(IdempotencyStoreTest, ErrorsAreKeptOnlyWhenKommoMayHaveActed) {
  struct Case {
    const char* what;
    absl::Status status;
    bool kept;
  };
  const Case cases[] = {
      {"outcome unknown",
       MakeError(absl::StatusCode::kUnavailable, "x", reason::kWriteOutcomeUnknown), true},
      {"read back failed",
       MakeError(absl::StatusCode::kUnavailable, "x", reason::kReadBackFailed,
                 {{"lead_id", "7"}, {"written", "true"}}),
       true},
      {"written, other reason",
       MakeError(absl::StatusCode::kDeadlineExceeded, "x", reason::kDeadlineExceeded,
                 {{"written", "true"}}),
       true},
      {"outcome metadata",
       MakeError(absl::StatusCode::kCancelled, "x", reason::kCancelled, {{"outcome", "unknown"}}),
       true},
      {"rate limit queue",
       MakeError(absl::StatusCode::kResourceExhausted, "x", reason::kRateLimitQueueTimeout), false},
      {"429", MakeError(absl::StatusCode::kResourceExhausted, "x", reason::kKommoRateLimited),
       false},
      {"validation",
       MakeError(absl::StatusCode::kInvalidArgument, "x", reason::kKommoValidationFailed), false},
      {"refused batch", MakeError(absl::StatusCode::kAborted, "x", reason::kBatchRejected), false},
      {"written false",
       MakeError(absl::StatusCode::kUnavailable, "x", reason::kKommoUnavailable,
                 {{"written", "false"}}),
       false},
      {"no ErrorInfo", absl::InternalError("x"), false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(IdempotencyStore::KeepsAnswer(c.status), c.kept);
    IdempotencyStore store(Options());
    Received runner, joiner;
    ASSERT_EQ(store.Start(kKey, kFingerprint, Into(runner))->outcome, Outcome::kRun);
    ASSERT_EQ(store.Start(kKey, kFingerprint, Into(joiner))->outcome, Outcome::kJoined);
    ASSERT_TRUE(store.Finish(kKey, Answer{c.status, ""}));
    EXPECT_EQ(runner.answer->status, c.status);
    EXPECT_EQ(joiner.answer->status, c.status);
    EXPECT_EQ(store.size(), c.kept ? 1u : 0u);
    EXPECT_EQ(store.stats().forgotten, c.kept ? 0u : 1u);

    Received repeat;
    absl::StatusOr<IdempotencyStore::Started> again = store.Start(kKey, kFingerprint, Into(repeat));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->outcome, c.kept ? Outcome::kReplayed : Outcome::kRun);
    if (c.kept) {
      EXPECT_EQ(repeat.answer->status, c.status);
    } else {
      EXPECT_EQ(repeat.calls, 0);
    }
  }
}

TEST_F(IdempotencyStoreTest, AnswersExpireAfterRetention) {
  IdempotencyStore store(Options());
  const IdempotencyKey other{kKey.method, "order-2"};
  Received first, second;
  ASSERT_TRUE(store.Start(kKey, kFingerprint, Into(first)).ok());
  ASSERT_TRUE(store.Finish(kKey, Ok("lead 7")));
  now_ += absl::Hours(1);
  ASSERT_TRUE(store.Start(other, kFingerprint, Into(second)).ok());
  ASSERT_TRUE(store.Finish(other, Ok("lead 8")));

  now_ = kStart + absl::Hours(24) - absl::Seconds(1);
  Received repeat;
  EXPECT_EQ(store.Start(kKey, kFingerprint, Into(repeat))->outcome, Outcome::kReplayed);

  // Expired: the key is new again, and any request may use it.
  now_ = kStart + absl::Hours(24);
  Received late;
  EXPECT_EQ(store.Start(kKey, kFingerprint + 1, Into(late))->outcome, Outcome::kRun);
  EXPECT_EQ(store.stats().expired, 1u);

  // Sweep drops expired answers but never a call in flight.
  store.Sweep(kStart + absl::Hours(100));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.stats().in_flight, 1u);
  EXPECT_EQ(store.stats().expired, 2u);
  ASSERT_TRUE(store.Finish(kKey, Ok("lead 9")));
  EXPECT_EQ(late.answer->response, "lead 9");
}

TEST_F(IdempotencyStoreTest, FullStoreEvictsTheOldestFinishedAndKeepsCallsInFlight) {
  IdempotencyStore store(Options(/*max_entries=*/3));
  auto key = [](const char* id) { return IdempotencyKey{kKey.method, id}; };
  Received a, b, c, d, a2, b2, e, c2;
  ASSERT_EQ(store.Start(key("a"), 1, Into(a))->outcome, Outcome::kRun);
  ASSERT_EQ(store.Start(key("b"), 2, Into(b))->outcome, Outcome::kRun);
  ASSERT_EQ(store.Start(key("c"), 3, Into(c))->outcome, Outcome::kRun);
  // b finishes before a, though it started after it.
  ASSERT_TRUE(store.Finish(key("b"), Ok("b")));
  now_ += absl::Seconds(1);
  ASSERT_TRUE(store.Finish(key("a"), Ok("a")));

  // d needs room: b, the first to finish, goes.
  ASSERT_EQ(store.Start(key("d"), 4, Into(d))->outcome, Outcome::kRun);
  EXPECT_EQ(store.size(), 3u);
  EXPECT_EQ(store.Start(key("a"), 1, Into(a2))->outcome, Outcome::kReplayed);
  // b was evicted: its key is new (and a goes to make room).
  EXPECT_EQ(store.Start(key("b"), 2, Into(b2))->outcome, Outcome::kRun);
  EXPECT_EQ(store.stats().evicted, 2u);
  EXPECT_EQ(store.size(), 3u);

  // Only calls in flight are left: a new key is admitted beyond the bound, and none is evicted.
  EXPECT_EQ(store.Start(key("e"), 5, Into(e))->outcome, Outcome::kRun);
  EXPECT_EQ(store.size(), 4u);
  EXPECT_EQ(store.stats().in_flight, 4u);
  EXPECT_EQ(store.Start(key("c"), 3, Into(c2))->outcome, Outcome::kJoined);
  EXPECT_EQ(store.stats().evicted, 2u);
}

TEST_F(IdempotencyStoreTest, DeliverMayCallTheStore) {
  IdempotencyStore store(Options());
  Received inner;
  std::optional<Outcome> inner_outcome;
  ASSERT_TRUE(store
                  .Start(kKey, kFingerprint,
                         [&](Answer) {
                           inner_outcome = store.Start(kKey, kFingerprint, Into(inner))->outcome;
                         })
                  .ok());
  ASSERT_TRUE(store.Finish(kKey, Ok("lead 7")));
  EXPECT_EQ(inner_outcome, Outcome::kReplayed);
  EXPECT_EQ(inner.answer->response, "lead 7");
}

// Many handler threads repeat one request at once: the operation runs exactly once and every
// caller gets its answer once.
TEST_F(IdempotencyStoreTest, ConcurrentRepeatsRunTheOperationOnce) {
  IdempotencyStore store(Options());
  constexpr int kThreads = 16;
  std::atomic<int> runs{0};
  std::atomic<int> delivered{0};
  absl::Mutex mu;
  std::vector<std::string> responses;
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      go.WaitForNotification();
      absl::StatusOr<IdempotencyStore::Started> started =
          store.Start(kKey, kFingerprint, [&](Answer answer) {
            delivered.fetch_add(1);
            absl::MutexLock lock(&mu);
            responses.push_back(answer.response);
          });
      ASSERT_TRUE(started.ok()) << started.status();
      if (started->outcome == Outcome::kRun) {
        runs.fetch_add(1);
        EXPECT_TRUE(store.Finish(kKey, Ok("lead 7")));
      }
    });
  }
  go.Notify();
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(delivered.load(), kThreads);
  EXPECT_THAT(responses, ::testing::Each("lead 7"));
  const IdempotencyStore::Stats stats = store.stats();
  EXPECT_EQ(stats.started, 1u);
  EXPECT_EQ(stats.joined + stats.replayed, static_cast<uint64_t>(kThreads - 1));
  EXPECT_EQ(stats.size, 1u);
}

TEST(FingerprintTest, IgnoresRequestIdAndSeesEveryOtherField) {
  kommo::v1::CreateLeadRequest request;
  request.set_name("Deal");
  request.set_price(5);
  request.add_contact_ids(1);
  request.add_contact_ids(2);
  request.set_request_id("r-1");
  const uint64_t base = Fingerprint(request);

  kommo::v1::CreateLeadRequest other_id = request;
  other_id.set_request_id("r-2");
  EXPECT_EQ(Fingerprint(other_id), base);
  other_id.clear_request_id();
  EXPECT_EQ(Fingerprint(other_id), base);
  // The request itself is left as it was.
  EXPECT_EQ(request.request_id(), "r-1");

  kommo::v1::CreateLeadRequest changed = request;
  changed.set_name("Deal.");
  EXPECT_NE(Fingerprint(changed), base);
  changed = request;
  changed.set_price(0);
  EXPECT_NE(Fingerprint(changed), base);
  changed = request;
  changed.set_pipeline_id(3);
  EXPECT_NE(Fingerprint(changed), base);
  changed = request;
  changed.clear_contact_ids();
  changed.add_contact_ids(2);
  changed.add_contact_ids(1);
  EXPECT_NE(Fingerprint(changed), base);
}

// The fingerprint is FNV-1a of the proto encoding: the same in every process, so a shared store
// can compare fingerprints made by different replicas.
TEST(FingerprintTest, IsFnv1aOfTheEncodingWithoutRequestId) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);

  kommo::v1::CreateLeadRequest request;
  request.set_name("Deal");
  request.set_price(5);
  request.set_request_id("r-1");
  // Field 1 (name), length 4, "Deal"; field 2 (price), varint 5.
  EXPECT_EQ(Fingerprint(request), Fnv1a64(std::string("\x0a\x04"
                                                      "Deal\x10\x05",
                                                      8)));

  // A message without a request_id is hashed whole.
  kommo::v1::GetLeadRequest get;
  get.set_lead_id(7);
  EXPECT_EQ(Fingerprint(get), Fnv1a64(std::string("\x08\x07", 2)));
}

}  // namespace
}  // namespace kommo::api
