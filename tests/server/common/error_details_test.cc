#include "server/common/error_details.h"

#include <iterator>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kommo/v1/error_reason.pb.h"

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
  SetErrorInfo(status, reason::kInternal, {});
  SetErrorInfo(status, "INTERNAL", {});
  AddFieldViolations(status, {{"a", "b"}});
  SetRetryDelay(status, absl::Seconds(1));
  EXPECT_TRUE(status.ok());
  EXPECT_FALSE(GetErrorInfo(status).has_value());
}

// The reason strings callers branch on, as they were before the enum: they must never change.
TEST(ErrorReasonTest, ConstantsKeepTheirStrings) {
  const std::pair<Reason, const char*> expected[] = {
      {reason::kInvalidField, "INVALID_FIELD"},
      {reason::kInvalidPageToken, "INVALID_PAGE_TOKEN"},
      {reason::kMalformedRequest, "MALFORMED_REQUEST"},
      {reason::kKommoValidationFailed, "KOMMO_VALIDATION_FAILED"},
      {reason::kKommoBadRequest, "KOMMO_BAD_REQUEST"},
      {reason::kLeadNotFound, "LEAD_NOT_FOUND"},
      {reason::kContactNotFound, "CONTACT_NOT_FOUND"},
      {reason::kNotFound, "NOT_FOUND"},
      {reason::kKommoUnauthorized, "KOMMO_UNAUTHORIZED"},
      {reason::kKommoPaymentRequired, "KOMMO_PAYMENT_REQUIRED"},
      {reason::kKommoForbidden, "KOMMO_FORBIDDEN"},
      {reason::kKommoAccountBlocked, "KOMMO_ACCOUNT_BLOCKED"},
      {reason::kKommoRateLimited, "KOMMO_RATE_LIMITED"},
      {reason::kRateLimitQueueTimeout, "RATE_LIMIT_QUEUE_TIMEOUT"},
      {reason::kKommoUnavailable, "KOMMO_UNAVAILABLE"},
      {reason::kKommoConnectionFailed, "KOMMO_CONNECTION_FAILED"},
      {reason::kKommoTlsVerificationFailed, "KOMMO_TLS_VERIFICATION_FAILED"},
      {reason::kWriteOutcomeUnknown, "WRITE_OUTCOME_UNKNOWN"},
      {reason::kReadBackFailed, "READ_BACK_FAILED"},
      {reason::kBatchRejected, "BATCH_REJECTED"},
      {reason::kKommoBadResponse, "KOMMO_BAD_RESPONSE"},
      {reason::kKommoUnexpectedStatus, "KOMMO_UNEXPECTED_STATUS"},
      {reason::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
      {reason::kCancelled, "CANCELLED"},
      {reason::kInternal, "INTERNAL"},
      {reason::kContactAmbiguous, "CONTACT_AMBIGUOUS"},
      {reason::kRequestIdReused, "REQUEST_ID_REUSED"},
      {reason::kIncomingLeadNotFound, "INCOMING_LEAD_NOT_FOUND"},
      {reason::kLookupTooBroad, "LOOKUP_TOO_BROAD"},
      {reason::kTaskNotFound, "TASK_NOT_FOUND"},
      {reason::kCompanyNotFound, "COMPANY_NOT_FOUND"},
      {reason::kWatchHistoryExpired, "WATCH_HISTORY_EXPIRED"},
      {reason::kServerShuttingDown, "SERVER_SHUTTING_DOWN"},
      {reason::kCallerUnauthenticated, "CALLER_UNAUTHENTICATED"},
      {reason::kMethodNotPermitted, "METHOD_NOT_PERMITTED"},
      {reason::kUnknownAccount, "UNKNOWN_ACCOUNT"},
  };
  for (const auto& [reason, name] : expected) {
    EXPECT_EQ(reason.name(), name);
    EXPECT_EQ(GetErrorInfo(MakeError(absl::StatusCode::kInternal, "x", reason))->reason(), name);
  }
  // Every value of the enum but UNSPECIFIED has its constant here.
  EXPECT_EQ(std::size(expected) + 1,
            static_cast<size_t>(v1::ErrorReason_descriptor()->value_count()));
}

// Every value of the enum maps to its name without the prefix, and the name maps back.
TEST(ErrorReasonTest, EveryValueMapsToItsStringAndBack) {
  const google::protobuf::EnumDescriptor* values = v1::ErrorReason_descriptor();
  for (int i = 0; i < values->value_count(); ++i) {
    const auto value = static_cast<v1::ErrorReason>(values->value(i)->number());
    if (value == v1::ERROR_REASON_UNSPECIFIED) continue;
    const Reason reason(value);
    EXPECT_EQ(absl::StrCat("ERROR_REASON_", reason.name()), values->value(i)->name());
    std::optional<Reason> parsed = ParseReason(reason.name());
    ASSERT_TRUE(parsed.has_value()) << reason;
    EXPECT_EQ(*parsed, reason);
    // The string form of MakeError sends the same reason as the typed one.
    EXPECT_EQ(GetErrorInfo(MakeError(absl::StatusCode::kInternal, "x", reason.name()))->reason(),
              reason.name());
  }
  for (absl::string_view not_a_name :
       {"", "UNSPECIFIED", "ERROR_REASON_UNSPECIFIED", "ERROR_REASON_LEAD_NOT_FOUND",
        "lead_not_found", "LEAD_NOT_FOUND "}) {
    EXPECT_FALSE(ParseReason(not_a_name).has_value()) << not_a_name;
  }
}

TEST(ErrorReasonTest, ComparesAndPrintsAsItsString) {
  const std::string sent = "WRITE_OUTCOME_UNKNOWN";
  EXPECT_TRUE(sent == reason::kWriteOutcomeUnknown);
  EXPECT_TRUE(reason::kWriteOutcomeUnknown == sent);
  EXPECT_TRUE(sent != reason::kCancelled);
  EXPECT_TRUE(reason::kCancelled != reason::kInternal);
  const absl::string_view view = reason::kCancelled;
  EXPECT_EQ(view, "CANCELLED");
  EXPECT_EQ(std::string(reason::kCancelled), "CANCELLED");
  std::ostringstream printed;
  printed << reason::kLeadNotFound;
  EXPECT_EQ(printed.str(), "LEAD_NOT_FOUND");
}

// No caller ever sees a reason outside the enum: a string that names none, UNSPECIFIED or a
// number outside the enum is sent as INTERNAL.
TEST(ErrorReasonTest, AReasonOutsideTheEnumIsSentAsInternal) {
  EXPECT_EQ(GetErrorInfo(MakeError(absl::StatusCode::kAborted, "x", "NOT_A_REASON"))->reason(),
            "INTERNAL");
  absl::Status status = absl::UnknownError("x");
  SetErrorInfo(status, Reason(v1::ERROR_REASON_UNSPECIFIED), {});
  EXPECT_EQ(GetErrorInfo(status)->reason(), "INTERNAL");
  SetErrorInfo(status, Reason(static_cast<v1::ErrorReason>(9999)), {{"k", "v"}});
  EXPECT_EQ(GetErrorInfo(status)->reason(), "INTERNAL");
  EXPECT_EQ(GetErrorInfo(status)->metadata().at("k"), "v");
  EXPECT_EQ(Reason(static_cast<v1::ErrorReason>(9999)).name(), "");
  // Every code's default reason is in the enum.
  for (int code = 0; code <= 16; ++code) {
    EXPECT_FALSE(DefaultReason(static_cast<absl::StatusCode>(code)).name().empty()) << code;
  }
}

}  // namespace
}  // namespace kommo
