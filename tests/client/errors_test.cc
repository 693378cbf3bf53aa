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
  google::rpc::ErrorInfo info = Info("KOMMO_VALIDATION_FAILED");
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
  google::rpc::ErrorInfo info = Info("LEAD_NOT_FOUND");
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
  google::rpc::ErrorInfo info = Info("INVALID_FIELD");
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

TEST(ErrorsTest, ReasonOfReadsTheEnum) {
  google::rpc::ErrorInfo info = Info("WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(ReasonOf(WithDetails(grpc::StatusCode::UNAVAILABLE, "x", {&info})),
            kommo::v1::ERROR_REASON_WRITE_OUTCOME_UNKNOWN);

  // Nothing the enum names: act on the code alone.
  google::rpc::ErrorInfo newer = Info("SOMETHING_A_NEWER_SERVER_SAYS");
  google::rpc::ErrorInfo prefixed = Info("ERROR_REASON_LEAD_NOT_FOUND");
  google::rpc::ErrorInfo foreign = Info("LEAD_NOT_FOUND");
  foreign.set_domain("googleapis.com");
  for (google::rpc::ErrorInfo* unknown : {&newer, &prefixed, &foreign}) {
    EXPECT_EQ(ReasonOf(WithDetails(grpc::StatusCode::INTERNAL, "x", {unknown})),
              kommo::v1::ERROR_REASON_UNSPECIFIED)
        << unknown->reason();
  }
  EXPECT_EQ(ReasonOf(grpc::Status::OK), kommo::v1::ERROR_REASON_UNSPECIFIED);
  EXPECT_EQ(ReasonOf(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "local")),
            kommo::v1::ERROR_REASON_UNSPECIFIED);
}

// Every reason the enum has reads back as itself, and its string is the one the server sends.
TEST(ErrorsTest, EveryReasonRoundTripsAndMatchesTheServer) {
  EXPECT_STREQ(kErrorDomain, kommo::kErrorDomain);
  const google::protobuf::EnumDescriptor* reasons = kommo::v1::ErrorReason_descriptor();
  ASSERT_GT(reasons->value_count(), 20);
  for (int i = 0; i < reasons->value_count(); ++i) {
    const auto value = static_cast<kommo::v1::ErrorReason>(reasons->value(i)->number());
    if (value == kommo::v1::ERROR_REASON_UNSPECIFIED) continue;
    const std::string name = ReasonName(value);
    EXPECT_EQ("ERROR_REASON_" + name, reasons->value(i)->name());
    EXPECT_EQ(name, kommo::Reason(value).name());
    EXPECT_EQ(ParseReasonName(name), value) << name;
    google::rpc::ErrorInfo info = Info(name);
    EXPECT_EQ(ReasonOf(WithDetails(grpc::StatusCode::INTERNAL, "x", {&info})), value) << name;
  }
  EXPECT_EQ(ReasonName(kommo::v1::ERROR_REASON_UNSPECIFIED), "");
  EXPECT_EQ(ReasonName(static_cast<kommo::v1::ErrorReason>(9999)), "");
  EXPECT_EQ(ParseReasonName(""), kommo::v1::ERROR_REASON_UNSPECIFIED);
  EXPECT_EQ(ParseReasonName("UNSPECIFIED"), kommo::v1::ERROR_REASON_UNSPECIFIED);
}

}  // namespace
}  // namespace kommo::client
