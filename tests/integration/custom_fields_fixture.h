#ifndef KOMMO_TESTS_INTEGRATION_CUSTOM_FIELDS_FIXTURE_H_
#define KOMMO_TESTS_INTEGRATION_CUSTOM_FIELDS_FIXTURE_H_

// The fixture of the custom-field and tag integration tests: the service in-process against a
// fresh emulator, the lead and contact calls, the emulator's record of the writes it received,
// and an exact comparison of messages.

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/service_stack.h"

namespace kommo::testing {

// Whether the argument equals `expected` exactly (every field, repeated fields in order); the
// difference is printed when it does not.
MATCHER_P(EqualsProto, expected, "") {
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << "differs from the expected " << expected.ShortDebugString() << ":\n"
                   << report;
  return false;
}

class CustomFieldsTest : public ::testing::Test {
 protected:
  static constexpr char kToken[] = "fields-token";

  void SetUp() override {
    emulator::EmulatorOptions options;
    options.token = kToken;
    auto started = emulator::Emulator::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    emulator_ = std::move(*started);
    stack_ = std::make_unique<ServiceStack>(
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kToken));
  }
  void TearDown() override {
    stack_.reset();
    if (emulator_) emulator_->Stop();
  }

  static void SetDeadline(grpc::ClientContext& context) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  }

  grpc::Status CreateLead(const v1::CreateLeadRequest& request, v1::Lead* lead) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::CreateLeadResponse response;
    grpc::Status status = stack_->leads->CreateLead(&context, request, &response);
    *lead = response.lead();
    return status;
  }
  grpc::Status UpdateLead(const v1::UpdateLeadRequest& request, v1::Lead* lead) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::UpdateLeadResponse response;
    grpc::Status status = stack_->leads->UpdateLead(&context, request, &response);
    *lead = response.lead();
    return status;
  }
  grpc::Status GetLead(int64_t lead_id, v1::Lead* lead) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetLeadRequest request;
    request.set_lead_id(lead_id);
    v1::GetLeadResponse response;
    grpc::Status status = stack_->leads->GetLead(&context, request, &response);
    *lead = response.lead();
    return status;
  }
  grpc::Status CreateContact(const v1::CreateContactRequest& request, v1::Contact* contact) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::CreateContactResponse response;
    grpc::Status status = stack_->contacts->CreateContact(&context, request, &response);
    *contact = response.contact();
    return status;
  }
  grpc::Status UpdateContact(const v1::UpdateContactRequest& request, v1::Contact* contact) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::UpdateContactResponse response;
    grpc::Status status = stack_->contacts->UpdateContact(&context, request, &response);
    *contact = response.contact();
    return status;
  }
  grpc::Status GetContact(int64_t contact_id, v1::Contact* contact) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetContactRequest request;
    request.set_contact_id(contact_id);
    v1::GetContactResponse response;
    grpc::Status status = stack_->contacts->GetContact(&context, request, &response);
    *contact = response.contact();
    return status;
  }

  // Requests the emulator answered, by method, whose path starts with `prefix`.
  uint64_t Requests(const std::string& method, const std::string& prefix) {
    uint64_t total = 0;
    for (const emulator::RequestCount& each : emulator_->request_counts()) {
      if (each.method == method && each.path.rfind(prefix, 0) == 0) total += each.count;
    }
    return total;
  }

  // The writes (POST, PATCH, DELETE) in the emulator's request log, as "METHOD path".
  std::vector<std::string> WriteRequests() {
    std::vector<std::string> writes;
    for (const emulator::LoggedRequest& each : emulator_->requests()) {
      if (each.method != "GET") writes.push_back(each.method + " " + each.path);
    }
    return writes;
  }

  // The body of the last request of `method` to exactly `path` in the log ("" if none).
  std::string LastBody(const std::string& method, const std::string& path) {
    std::string body;
    for (const emulator::LoggedRequest& each : emulator_->requests()) {
      if (each.method == method && each.path == path) body = each.body;
    }
    return body;
  }

  std::unique_ptr<emulator::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
};

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_INTEGRATION_CUSTOM_FIELDS_FIXTURE_H_
