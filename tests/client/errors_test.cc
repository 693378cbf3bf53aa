#include "kommo/client/errors.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "server/common/error_details.h"

namespace kommo::client {
namespace {

// A grpc::Status as the server sends it: google.rpc.Status in error_details().
grpc::Status WithDetails(grpc::StatusCode code, const std::string& message,
                         const std::vector<google::protobuf::Message*>& details) {
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(code));
  rpc_status.set_message(message);
  for (const google::protobuf::Message* detail : details) {
    rpc_status.add_details()->PackFrom(*detail);
  }
  return grpc::Status(code, message, rpc_status.SerializeAsString());
}

google::rpc::ErrorInfo Info(const std::string& reason) {
  google::rpc::ErrorInfo info;
  info.set_domain(kErrorDomain);
  info.set_reason(reason);
  return info;
}

TEST(ErrorsTest, ReadsEveryDetail) {
  google::rpc::ErrorInfo info = Info(reason::kKommoValidationFailed);
  (*info.mutable_metadata())["http_status"] = "400";
  google::rpc::BadRequest bad_request;
  auto* violation = bad_request.add_field_violations();
  violation->set_field("status_id");
  violation->set_description("unknown stage");
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(1);
  retry.mutable_retry_delay()->set_nanos(500000000);
  const grpc::Status status =
      WithDetails(grpc::StatusCode::INVALID_ARGUMENT, "rejected", {&info, &bad_request, &retry});

  ASSERT_TRUE(GetRpcStatus(status).has_value());
  EXPECT_EQ(GetRpcStatus(status)->details_size(), 3);
  EXPECT_EQ(ErrorReason(status), "KOMMO_VALIDATION_FAILED");
  EXPECT_EQ(GetErrorInfo(status)->metadata().at("http_status"), "400");
  ASSERT_TRUE(GetBadRequest(status).has_value());
  EXPECT_EQ(GetBadRequest(status)->field_violations(0).field(), "status_id");
  EXPECT_EQ(GetRetryDelay(status), std::chrono::milliseconds(1500));
}

TEST(ErrorsTest, RetryDelayRoundsUpToWholeMilliseconds) {
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_nanos(1);
  const grpc::Status status = WithDetails(grpc::StatusCode::RESOURCE_EXHAUSTED, "later", {&retry});

  EXPECT_EQ(GetRetryDelay(status), std::chrono::milliseconds(1));
}

TEST(ErrorsTest, NothingToReadIsNullopt) {
  const grpc::Status plain(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  const grpc::Status garbage(grpc::StatusCode::INTERNAL, "x", "\xff\xff not a proto");
  google::rpc::ErrorInfo info = Info(reason::kLeadNotFound);
  const grpc::Status info_only = WithDetails(grpc::StatusCode::NOT_FOUND, "gone", {&info});

  for (const grpc::Status& status : {grpc::Status::OK, plain, garbage}) {
    EXPECT_FALSE(GetErrorInfo(status).has_value());
    EXPECT_FALSE(GetBadRequest(status).has_value());
    EXPECT_FALSE(GetRetryDelay(status).has_value());
    EXPECT_EQ(ErrorReason(status), "");
  }
  EXPECT_FALSE(GetBadRequest(info_only).has_value());
  EXPECT_FALSE(GetRetryDelay(info_only).has_value());
}

TEST(ErrorsTest, FormatErrorShowsWhatACallerCanActOn) {
  google::rpc::ErrorInfo info = Info(reason::kInvalidField);
  (*info.mutable_metadata())["b"] = "2";
  (*info.mutable_metadata())["a"] = "1";
  google::rpc::BadRequest bad_request;
  auto* name = bad_request.add_field_violations();
  name->set_field("name");
  name->set_description("is required");
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(2);
  const grpc::Status status = WithDetails(grpc::StatusCode::INVALID_ARGUMENT, "bad\x1b[31m request",
                                          {&info, &bad_request, &retry});

  EXPECT_EQ(FormatError(status),
            "INVALID_ARGUMENT: bad?[31m request\n"
            "  reason: INVALID_FIELD (kommo-grpc)\n"
            "  metadata: a=1, b=2\n"
            "  field name: is required\n"
            "  retry after: 2s");
  EXPECT_EQ(FormatError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused")),
            "UNAVAILABLE: connection refused");
  EXPECT_EQ(FormatError(grpc::Status::OK), "OK");
}

TEST(ErrorsTest, StatusCodeNames) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(static_cast<grpc::StatusCode>(42)), "CODE_42");
}

// The client's reason constants are the server's: a caller compares against what is sent.
TEST(ErrorsTest, ReasonsMatchTheServers) {
  EXPECT_STREQ(kErrorDomain, kommo::kErrorDomain);
  EXPECT_STREQ(reason::kInvalidField, kommo::reason::kInvalidField);
  EXPECT_STREQ(reason::kInvalidPageToken, kommo::reason::kInvalidPageToken);
  EXPECT_STREQ(reason::kKommoValidationFailed, kommo::reason::kKommoValidationFailed);
  EXPECT_STREQ(reason::kKommoBadRequest, kommo::reason::kKommoBadRequest);
  EXPECT_STREQ(reason::kLeadNotFound, kommo::reason::kLeadNotFound);
  EXPECT_STREQ(reason::kContactNotFound, kommo::reason::kContactNotFound);
  EXPECT_STREQ(reason::kKommoUnauthorized, kommo::reason::kKommoUnauthorized);
  EXPECT_STREQ(reason::kKommoPaymentRequired, kommo::reason::kKommoPaymentRequired);
  EXPECT_STREQ(reason::kKommoForbidden, kommo::reason::kKommoForbidden);
  EXPECT_STREQ(reason::kKommoAccountBlocked, kommo::reason::kKommoAccountBlocked);
  EXPECT_STREQ(reason::kKommoRateLimited, kommo::reason::kKommoRateLimited);
  EXPECT_STREQ(reason::kRateLimitQueueTimeout, kommo::reason::kRateLimitQueueTimeout);
  EXPECT_STREQ(reason::kKommoUnavailable, kommo::reason::kKommoUnavailable);
  EXPECT_STREQ(reason::kKommoConnectionFailed, kommo::reason::kKommoConnectionFailed);
  EXPECT_STREQ(reason::kWriteOutcomeUnknown, kommo::reason::kWriteOutcomeUnknown);
  EXPECT_STREQ(reason::kKommoBadResponse, kommo::reason::kKommoBadResponse);
  EXPECT_STREQ(reason::kKommoUnexpectedStatus, kommo::reason::kKommoUnexpectedStatus);
  EXPECT_STREQ(reason::kDeadlineExceeded, kommo::reason::kDeadlineExceeded);
  EXPECT_STREQ(reason::kCancelled, kommo::reason::kCancelled);
}

}  // namespace
}  // namespace kommo::client
