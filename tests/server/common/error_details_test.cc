#include "server/common/error_details.h"

#include "gtest/gtest.h"

namespace kommo {
namespace {

TEST(ErrorDetailsTest, MakeErrorCarriesErrorInfo) {
  absl::Status status = MakeError(absl::StatusCode::kNotFound, "lead 5 does not exist",
                                  reason::kLeadNotFound, {{"lead_id", "5"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  auto info = GetErrorInfo(status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->domain(), "kommo-grpc");
  EXPECT_EQ(info->reason(), "LEAD_NOT_FOUND");
  EXPECT_EQ(info->metadata().at("lead_id"), "5");
}

TEST(ErrorDetailsTest, InvalidArgumentCarriesViolationsInOrder) {
  absl::Status status =
      MakeInvalidArgument("bad", {{"name", "must not be empty"}, {"price", "must be 0 or more"}});
  AddFieldViolations(status, {{"contact_ids[1]", "must be greater than 0"}});
  auto bad_request = GetBadRequest(status);
  ASSERT_TRUE(bad_request.has_value());
  ASSERT_EQ(bad_request->field_violations_size(), 3);
  EXPECT_EQ(bad_request->field_violations(0).field(), "name");
  EXPECT_EQ(bad_request->field_violations(2).field(), "contact_ids[1]");
  EXPECT_EQ(GetErrorInfo(status)->reason(), "INVALID_FIELD");
}

TEST(ErrorDetailsTest, RetryDelayRoundTripsWithSubSecondPrecision) {
  absl::Status status = absl::ResourceExhaustedError("slow down");
  SetRetryDelay(status, absl::Milliseconds(1500));
  EXPECT_EQ(GetRetryDelay(status), absl::Milliseconds(1500));
  SetRetryDelay(status, absl::Seconds(-3));
  EXPECT_EQ(GetRetryDelay(status), absl::ZeroDuration());
}

TEST(ErrorDetailsTest, MetadataOnStatusWithoutInfoGetsDefaultReason) {
  absl::Status status = absl::UnavailableError("down");
  AddErrorMetadata(status, "http_status", "503");
  auto info = GetErrorInfo(status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "KOMMO_UNAVAILABLE");
  EXPECT_EQ(info->metadata().at("http_status"), "503");
}

TEST(ErrorDetailsTest, OkStatusStaysClean) {
  absl::Status status;
  SetErrorInfo(status, "X", {});
  AddFieldViolations(status, {{"a", "b"}});
  SetRetryDelay(status, absl::Seconds(1));
  EXPECT_TRUE(status.ok());
  EXPECT_FALSE(GetErrorInfo(status).has_value());
}

}  // namespace
}  // namespace kommo
