// The answer encoding shared idempotency keys store in Redis, and the in-process store's Release.
// The Redis behaviour itself is tested against a real redis-server in
// tests/integration/shared_idempotency_test.cc.

#include "server/api/shared_idempotency.h"

#include "gtest/gtest.h"
#include "server/common/error_details.h"

namespace kommo::api {
namespace {

TEST(EncodeStatusTest, AnErrorKeepsItsCodeMessageAndDetails) {
  const absl::Status error =
      MakeError(absl::StatusCode::kUnavailable, "sent, no answer", reason::kWriteOutcomeUnknown,
                {{"outcome", "unknown"}, {"written", "false"}});
  std::optional<absl::Status> decoded = DecodeStatus(EncodeStatus(error));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(decoded->message(), "sent, no answer");
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(*decoded);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(info->metadata().at("outcome"), "unknown");
  EXPECT_TRUE(IdempotencyStore::KeepsAnswer(*decoded));
}

TEST(EncodeStatusTest, OkStaysOkAndBytesItDidNotMakeAreRefused) {
  std::optional<absl::Status> ok = DecodeStatus(EncodeStatus(absl::OkStatus()));
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->ok());
  EXPECT_FALSE(DecodeStatus("\xff\xff\xff").has_value());
  // A code outside absl's range.
  EXPECT_FALSE(DecodeStatus(std::string("\x08\x63", 2)).has_value());
}

TEST(IdempotencyStoreReleaseTest, WaitersGetTheAnswerAndTheKeyIsNewAgain) {
  IdempotencyStore store;
  const IdempotencyKey key{"kommo.v1/", "id-1"};
  int delivered = 0;
  auto first = store.Start(key, 7, [&](IdempotencyStore::Answer) { ++delivered; });
  ASSERT_TRUE(first.ok());
  auto joined = store.Start(key, 7, [&](IdempotencyStore::Answer answer) {
    ++delivered;
    EXPECT_EQ(answer.status.code(), absl::StatusCode::kDeadlineExceeded);
  });
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->outcome, IdempotencyStore::Outcome::kJoined);
  // Kept by Finish's rule, but Release forgets it all the same.
  EXPECT_TRUE(
      store.Release(key, {MakeError(absl::StatusCode::kDeadlineExceeded, "still running elsewhere",
                                    reason::kWriteOutcomeUnknown, {{"running", "true"}}),
                          ""}));
  EXPECT_EQ(delivered, 2);
  EXPECT_EQ(store.size(), 0u);
  auto again = store.Start(key, 7, [](IdempotencyStore::Answer) {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, IdempotencyStore::Outcome::kRun);
}

}  // namespace
}  // namespace kommo::api
