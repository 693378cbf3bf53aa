// Lead and contact writes through the Kommo client with their check against the account's
// catalogues (write_check.h), over a fake transport answering by path: a refused value costs no
// write request, checked values are written by id, a kept catalogue answers the next write,
// Kommo's refusal of a field makes the catalogues be read again, and UpdateContact writes only
// what is set.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"
#include "server/kommo/kommo_client.h"
#include "tests/support/fake_event_loop.h"
#include "tests/support/fake_transport.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::kommo::testing::FakeTransport;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kBase[] = "https://example.kommo.com/api/v4";

constexpr char kLeadFields[] =
    R"({"_embedded":{"custom_fields":[)"
    R"({"id":11,"name":"Tier","type":"select","enums":[{"id":111,"value":"Gold"},{"id":112,"value":"Silver"}]},)"
    R"({"id":12,"name":"Budget","type":"numeric"}]}})";
constexpr char kContactFields[] =
    R"({"_embedded":{"custom_fields":[)"
    R"({"id":21,"name":"Phone","code":"PHONE","type":"multitext","enums":[{"id":211,"value":"WORK"}]},)"
    R"({"id":22,"name":"Position","type":"text"}]}})";
constexpr char kLead[] =
    R"({"_embedded":{"leads":[{"id":31,"name":"L","custom_fields_values":[{"field_id":11,)"
    R"("field_type":"select","values":[{"value":"Silver","enum_id":112}]}],)"
    R"("_embedded":{"tags":[{"id":1,"name":"vip"}]}}]}})";
constexpr char kContact[] =
    R"({"id":41,"name":"C","custom_fields_values":null,"_embedded":{"tags":[]}})";

class CheckedWritesTest : public ::testing::Test {
 protected:
  CheckedWritesTest() : transport_(&loop_) {
    KommoClientOptions options;
    options.api_base_url = kBase;
    options.access_token = "secret-token";
    options.rate_limit_rps = 1000;
    options.rate_limit_burst = 100;
    options.random_seed = 42;
    options.catalogue_ttl = absl::Minutes(5);
    client_ = NewKommoClient(options, &transport_, &loop_);
    transport_.SetResponder([this](const http::HttpRequest& request) { return Answer(request); });
  }

  http::HttpResult Answer(const http::HttpRequest& request) {
    auto ok = [](std::string body) {
      return http::HttpResult{http::HttpResponse{200, body, {}}, true};
    };
    const std::string& url = request.url;
    if (absl::StrContains(url, "/leads/custom_fields")) return ok(kLeadFields);
    if (absl::StrContains(url, "/contacts/custom_fields")) return ok(kContactFields);
    if (absl::StrContains(url, "/users")) {
      if (users_forbidden) {
        return http::HttpResult{
            http::HttpResponse{403, R"({"title":"Forbidden","status":403,"detail":"x"})", {}},
            true};
      }
      return ok(R"({"_embedded":{"users":[{"id":7,"name":"u"}]}})");
    }
    if (request.method == http::Method::kPost && absl::StrContains(url, "/leads")) {
      if (refuse_writes) {
        return http::HttpResult{
            http::HttpResponse{
                400,
                R"({"title":"Bad Request","status":400,"validation-errors":[{"request_id":")" +
                    FirstRequestId(request.body) +
                    R"(","errors":[{"code":"NotSupportedChoice","path":"custom_fields_values.0.values.0.enum_id","detail":"no"}]}]})",
                {}},
            true};
      }
      return ok(R"({"_embedded":{"leads":[{"id":31,"request_id":")" + FirstRequestId(request.body) +
                R"("}]}})");
    }
    if (request.method == http::Method::kPatch && absl::StrContains(url, "/contacts")) {
      return ok(R"({"_embedded":{"contacts":[{"id":41,"request_id":")" +
                FirstRequestId(request.body) + R"("}]}})");
    }
    if (absl::StrContains(url, "/leads?")) return ok(kLead);
    if (absl::StrContains(url, "/contacts/41")) return ok(kContact);
    if (absl::StrContains(url, "/contacts?")) {
      return ok(absl::StrCat(R"({"_embedded":{"contacts":[)", kContact, "]}}"));
    }
    return http::HttpResult{http::HttpResponse{404, "", {}}, true};
  }

  static std::string FirstRequestId(const std::string& body) {
    const size_t at = body.find("\"request_id\":\"");
    if (at == std::string::npos) return "";
    const size_t start = at + 14;
    return body.substr(start, body.find('"', start) - start);
  }

  // Runs the loop until the writes' coalescing windows and answers are through.
  void Settle() {
    for (int i = 0; i < 20; ++i) {
      loop_.RunUntilIdle();
      loop_.Advance(absl::Milliseconds(50));
    }
  }

  CallOptions Deadline() { return {loop_.Now() + absl::Seconds(30), nullptr, nullptr}; }

  template <typename T>
  static Done<T> Into(std::optional<absl::StatusOr<T>>& out) {
    return [&out](absl::StatusOr<T> result) { out = std::move(result); };
  }

  // "GET /leads/custom_fields", "POST /leads", ...: each request's method and path.
  std::vector<std::string> Requests() const {
    std::vector<std::string> out;
    for (const auto& sent : transport_.sent()) {
      std::string path = sent.request.url.substr(std::string(kBase).size());
      path = path.substr(0, path.find('?'));
      const char* method = sent.request.method == http::Method::kGet     ? "GET"
                           : sent.request.method == http::Method::kPost  ? "POST"
                           : sent.request.method == http::Method::kPatch ? "PATCH"
                                                                         : "?";
      out.push_back(absl::StrCat(method, " ", path));
    }
    return out;
  }

  std::string Body(const std::string& method_and_path) const {
    for (const auto& sent : transport_.sent()) {
      const std::string path = sent.request.url.substr(std::string(kBase).size());
      if (absl::StrContains(method_and_path, path.substr(0, path.find('?'))) &&
          sent.request.method != http::Method::kGet) {
        return sent.request.body;
      }
    }
    return "";
  }

  v1::CreateLeadRequest LeadWithTier(const std::string& tier) {
    v1::CreateLeadRequest request;
    request.set_name("L");
    v1::CustomFieldValues* field = request.add_custom_fields();
    field->set_field_id(11);
    field->add_values()->set_text(tier);
    request.add_tags_to_add("vip");
    return request;
  }

  bool users_forbidden = false;
  bool refuse_writes = false;
  FakeEventLoop loop_;
  FakeTransport transport_;
  std::unique_ptr<KommoClient> client_;
};

TEST_F(CheckedWritesTest, ARefusedValueCostsNoWriteRequest) {
  std::optional<absl::StatusOr<v1::Lead>> lead;
  client_->CreateLead(LeadWithTier("Platinum"), Deadline(), Into(lead));
  Settle();
  ASSERT_TRUE(lead.has_value());
  EXPECT_EQ(lead->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetErrorInfo(lead->status())->reason(), "INVALID_FIELD");
  ASSERT_TRUE(GetBadRequest(lead->status()).has_value());
  EXPECT_EQ(GetBadRequest(lead->status())->field_violations(0).field(),
            "custom_fields[0].values[0].text");
  EXPECT_THAT(Requests(), ElementsAre("GET /leads/custom_fields"));
}

TEST_F(CheckedWritesTest, CheckedValuesAreWrittenByIdAndTheCatalogueIsKept) {
  std::optional<absl::StatusOr<v1::Lead>> first;
  client_->CreateLead(LeadWithTier("Silver"), Deadline(), Into(first));
  Settle();
  ASSERT_TRUE(first.has_value() && first->ok()) << first->status();
  EXPECT_EQ((*first)->custom_fields(0).values(0).enum_id(), 112);
  EXPECT_EQ((*first)->tags(0).name(), "vip");
  EXPECT_THAT(Body("POST /leads"),
              HasSubstr(R"("custom_fields_values":[{"field_id":11,"values":[{"enum_id":112}]}],)"
                        R"("tags_to_add":[{"name":"vip"}])"));
  std::optional<absl::StatusOr<v1::Lead>> second;
  client_->CreateLead(LeadWithTier("Gold"), Deadline(), Into(second));
  Settle();
  ASSERT_TRUE(second.has_value() && second->ok()) << second->status();
  EXPECT_THAT(Requests(), ElementsAre("GET /leads/custom_fields", "POST /leads", "GET /leads",
                                      "POST /leads", "GET /leads"));
}

TEST_F(CheckedWritesTest, AWriteWithoutReferencesReadsNoCatalogue) {
  v1::CreateLeadRequest request;
  request.set_name("L");
  std::optional<absl::StatusOr<v1::Lead>> lead;
  client_->CreateLead(request, Deadline(), Into(lead));
  Settle();
  ASSERT_TRUE(lead.has_value() && lead->ok()) << lead->status();
  EXPECT_THAT(Requests(), ElementsAre("POST /leads", "GET /leads"));
}

TEST_F(CheckedWritesTest, KommoRefusingAFieldMakesTheCatalogueBeReadAgain) {
  refuse_writes = true;
  std::optional<absl::StatusOr<v1::Lead>> refused;
  client_->CreateLead(LeadWithTier("Silver"), Deadline(), Into(refused));
  Settle();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(GetErrorInfo(refused->status())->reason(), "KOMMO_VALIDATION_FAILED");
  EXPECT_EQ(GetBadRequest(refused->status())->field_violations(0).field(),
            "custom_fields[0].values[0].enum_id");
  refuse_writes = false;
  std::optional<absl::StatusOr<v1::Lead>> again;
  client_->CreateLead(LeadWithTier("Silver"), Deadline(), Into(again));
  Settle();
  ASSERT_TRUE(again.has_value() && again->ok()) << again->status();
  EXPECT_THAT(Requests(), ElementsAre("GET /leads/custom_fields", "POST /leads",
                                      "GET /leads/custom_fields", "POST /leads", "GET /leads"));
}

TEST_F(CheckedWritesTest, UnknownUserIsRefusedAndAnUnreadableUserListIsNotChecked) {
  v1::UpdateContactRequest request;
  request.set_contact_id(41);
  request.set_responsible_user_id(8);
  std::optional<absl::StatusOr<v1::Contact>> refused;
  client_->UpdateContact(request, Deadline(), Into(refused));
  Settle();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetBadRequest(refused->status())->field_violations(0).field(), "responsible_user_id");
  EXPECT_THAT(Requests(), ElementsAre("GET /users"));

  users_forbidden = true;
  client_->InvalidateCatalogues();
  std::optional<absl::StatusOr<v1::Contact>> through;
  client_->UpdateContact(request, Deadline(), Into(through));
  Settle();
  ASSERT_TRUE(through.has_value() && through->ok()) << through->status();
  EXPECT_THAT(Body("PATCH /contacts"), HasSubstr(R"({"id":41,"responsible_user_id":8,)"));
}

TEST_F(CheckedWritesTest, UpdateContactWritesOnlyWhatIsSet) {
  v1::UpdateContactRequest tags_only;
  tags_only.set_contact_id(41);
  tags_only.add_tags_to_remove("cold");
  std::optional<absl::StatusOr<v1::Contact>> updated;
  client_->UpdateContact(tags_only, Deadline(), Into(updated));
  Settle();
  ASSERT_TRUE(updated.has_value() && updated->ok()) << updated->status();
  EXPECT_THAT(Requests(), ElementsAre("PATCH /contacts", "GET /contacts"));
  EXPECT_THAT(Body("PATCH /contacts"),
              HasSubstr(R"([{"id":41,"tags_to_delete":[{"name":"cold"}],"request_id":)"));

  v1::UpdateContactRequest nothing;
  nothing.set_contact_id(41);
  std::optional<absl::StatusOr<v1::Contact>> read;
  client_->UpdateContact(nothing, Deadline(), Into(read));
  Settle();
  ASSERT_TRUE(read.has_value() && read->ok()) << read->status();
  EXPECT_EQ((*read)->id(), 41);
  EXPECT_EQ(Requests().back(), "GET /contacts/41") << "nothing to write: only the read";
  EXPECT_EQ(Requests().size(), 3u);
}

TEST_F(CheckedWritesTest, ContactPhoneFieldTogetherWithPhonesIsRefused) {
  v1::UpdateContactRequest request;
  request.set_contact_id(41);
  request.mutable_phones()->add_values("+1");
  v1::CustomFieldValues* field = request.add_custom_fields();
  field->set_field_id(21);  // PHONE, named by id: only the catalogue knows
  field->add_values()->set_text("+2");
  std::optional<absl::StatusOr<v1::Contact>> refused;
  client_->UpdateContact(request, Deadline(), Into(refused));
  Settle();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(GetBadRequest(refused->status())->field_violations(0).field(), "custom_fields[0]");
  EXPECT_THAT(Requests(), ElementsAre("GET /contacts/custom_fields"));
}

}  // namespace
}  // namespace kommo::rest
