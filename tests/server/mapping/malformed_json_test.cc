// Every parser over damaged versions of every fixture: truncated at each byte, one byte changed,
// deeply nested. The contract: no crash, and either a value or KOMMO_BAD_RESPONSE.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"
#include "server/mapping/json_reader.h"
#include "server/mapping/kommo_json.h"
#include "tests/server/mapping/mapping_test_util.h"

namespace kommo::mapping {
namespace {

using ::kommo::mapping::test_util::IsBadResponse;
using ::kommo::mapping::test_util::ReadTestdata;

const char* const kFixtures[] = {
    "kommo/lead_with_contacts.json",  "kommo/lead_closed_no_embedded.json",
    "kommo/leads_page.json",          "kommo/leads_last_page.json",
    "kommo/contact_with_phones.json", "kommo/contacts_page.json",
    "kommo/leads_created.json",       "kommo/contacts_created.json",
    "kommo/lead_updated.json",        "kommo/problem_400_validation.json",
    "kommo/problem_429.json",         "kommo/forbidden_403.html",
};

// Runs every parser on `body`; each must succeed or fail with KOMMO_BAD_RESPONSE.
void ParseWithEverything(const std::string& body) {
  const auto check = [&](const absl::Status& status, const char* parser) {
    if (!status.ok()) {
      EXPECT_EQ(GetErrorInfo(status)->reason(), reason::kKommoBadResponse) << parser;
      EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << parser;
    }
  };
  check(ParseLead(body).status(), "ParseLead");
  check(ParseLeadPage(body).status(), "ParseLeadPage");
  check(ParseContact(body).status(), "ParseContact");
  check(ParseContactPage(body).status(), "ParseContactPage");
  check(ParseCreatedIds(body, "leads").status(), "ParseCreatedIds");
  (void)ParseProblem(body);
}

TEST(MalformedJsonTest, EveryTruncationOfEveryFixtureFailsCleanly) {
  for (const char* fixture : kFixtures) {
    const std::string body = ReadTestdata(fixture);
    ASSERT_FALSE(body.empty()) << fixture;
    for (size_t length = 0; length < body.size(); ++length) {
      const std::string truncated = body.substr(0, length);
      ParseWithEverything(truncated);
      if (testing::Test::HasFailure()) FAIL() << fixture << " truncated to " << length;
    }
  }
}

TEST(MalformedJsonTest, TruncatedJsonIsAlwaysRejected) {
  // Cut before the final "}", the body can never be a complete object.
  const std::string body = ReadTestdata("kommo/lead_with_contacts.json");
  const size_t end = body.rfind('}');
  for (size_t length = 0; length < end; length += 7) {
    EXPECT_TRUE(IsBadResponse(ParseLead(body.substr(0, length)).status(), "")) << length;
  }
}

TEST(MalformedJsonTest, EverySingleByteChangeFailsCleanly) {
  // One replacement per position, cycling through bytes that change the JSON's structure or
  // types, so that the test stays fast under sanitizers.
  const char kReplacements[] = {'"', '{', '[', '0', 'x', '\\', ',', '\0', '\xFF', '}', ']'};
  for (const char* fixture : kFixtures) {
    const std::string body = ReadTestdata(fixture);
    for (size_t i = 0; i < body.size(); ++i) {
      std::string damaged = body;
      damaged[i] = kReplacements[i % sizeof(kReplacements)];
      ParseWithEverything(damaged);
      if (testing::Test::HasFailure()) FAIL() << fixture << " damaged at " << i;
    }
  }
}

TEST(MalformedJsonTest, DeepNestingDoesNotExhaustTheStack) {
  const std::string deep_array = std::string(1000000, '[') + std::string(1000000, ']');
  EXPECT_TRUE(IsBadResponse(ParseLead(deep_array).status(), ""));
  // Nesting is refused in a member the service does not read, too: it costs memory all the same.
  const std::string deep_field =
      R"({"id":1,"_embedded":{"x":)" + std::string(200000, '[') + std::string(200000, ']') + "}}";
  EXPECT_TRUE(IsBadResponse(ParseLead(deep_field).status(), ""));
  EXPECT_FALSE(ParseProblem(std::string(500000, '{')).has_value());
}

// Issue 10: one 16 MiB deeply nested body took 415 MB. The parse stops at the first container
// past internal::kMaxJsonDepth, so such a body costs only the levels read.
TEST(MalformedJsonTest, NestingPastTheLimitIsRefusedWhereItStarts) {
  constexpr size_t kHalf = 8 << 20;
  const std::string hostile = std::string(kHalf, '[') + std::string(kHalf, ']');
  rapidjson::Document document;
  const absl::Status status = internal::ParseBody(hostile, document);
  EXPECT_TRUE(IsBadResponse(status, "")) << status;
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()), testing::HasSubstr("nested more than 64 levels"));
  // The reader stopped at the 65th "[" (offset 64), not at the end of the 16 MiB.
  EXPECT_THAT(std::string(status.message()), testing::HasSubstr("(at offset 64)"));
  // Nothing was kept: no value was completed, and the document is null.
  EXPECT_EQ(document.GetAllocator().Size(), 0u);
  EXPECT_TRUE(document.IsNull());

  // Every parser refuses it the same way (ParseProblem, lenient, finds no problem in it).
  const std::string objects = std::string(kHalf, '{') + std::string(kHalf, '}');
  EXPECT_TRUE(IsBadResponse(ParseLead(objects).status(), ""));
  EXPECT_TRUE(IsBadResponse(ParseLeadPage(hostile).status(), ""));
  EXPECT_TRUE(IsBadResponse(ParseCreatedIds(hostile, "leads").status(), ""));
  EXPECT_FALSE(ParseProblem(objects).has_value());
}

// Up to the limit, nesting is read as before; one level more is refused.
TEST(MalformedJsonTest, NestingUpToTheLimitIsRead) {
  const auto nested = [](int depth) {
    // The body is an object (level 1) holding depth - 1 levels of arrays in an unread member.
    return R"({"id":7,"x":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  auto at_limit = ParseLead(nested(internal::kMaxJsonDepth));
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(at_limit->id(), 7);
  EXPECT_TRUE(IsBadResponse(ParseLead(nested(internal::kMaxJsonDepth + 1)).status(), ""));
}

}  // namespace
}  // namespace kommo::mapping
