#include "server/api/grpc_status.h"

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"

namespace kommo::api {
namespace {

google::rpc::Status Details(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  return details;
}

TEST(ToGrpcStatusTest, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(ToGrpcStatusTest, CarriesCodeMessageAndEveryDetail) {
  absl::Status status =
      MakeInvalidArgument("invalid CreateLeadRequest: name is required", {{"name", "is required"}});
  SetRetryDelay(status, absl::Milliseconds(2500));
  grpc::Status converted = ToGrpcStatus(status);
  EXPECT_EQ(converted.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(converted.error_message(), "invalid CreateLeadRequest: name is required");
  google::rpc::Status details = Details(converted);
  EXPECT_EQ(details.code(), 3);
  ASSERT_EQ(details.details_size(), 3);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(details.details(0).type_url(), "type.googleapis.com/google.rpc.ErrorInfo");
  EXPECT_EQ(info.domain(), "kommo-grpc");
  EXPECT_EQ(info.reason(), "INVALID_FIELD");
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(1).UnpackTo(&bad_request));
  EXPECT_EQ(bad_request.field_violations(0).field(), "name");
  google::rpc::RetryInfo retry;
  ASSERT_TRUE(details.details(2).UnpackTo(&retry));
  EXPECT_EQ(retry.retry_delay().seconds(), 2);
  EXPECT_EQ(retry.retry_delay().nanos(), 500000000);
}

TEST(ToGrpcStatusTest, PlainStatusStillGetsAnErrorInfo) {
  grpc::Status converted = ToGrpcStatus(absl::DeadlineExceededError("too slow"));
  EXPECT_EQ(converted.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  google::rpc::Status details = Details(converted);
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "DEADLINE_EXCEEDED");
}

}  // namespace
}  // namespace kommo::api
