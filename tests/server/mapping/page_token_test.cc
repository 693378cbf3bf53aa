#include "server/mapping/page_token.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"

namespace kommo::mapping {
namespace {

using ::testing::MatchesRegex;

// INVALID_ARGUMENT, ErrorInfo reason INVALID_PAGE_TOKEN, one BadRequest violation on page_token.
::testing::AssertionResult IsInvalidPageToken(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "not INVALID_ARGUMENT: " << status;
  }
  const auto info = GetErrorInfo(status);
  if (!info.has_value() || info->reason() != reason::kInvalidPageToken) {
    return ::testing::AssertionFailure() << "reason is not INVALID_PAGE_TOKEN: " << status;
  }
  const auto bad_request = GetBadRequest(status);
  if (!bad_request.has_value() || bad_request->field_violations_size() != 1 ||
      bad_request->field_violations(0).field() != "page_token") {
    return ::testing::AssertionFailure() << "no violation on page_token: " << status;
  }
  return ::testing::AssertionSuccess();
}

TEST(PageTokenTest, RoundTrip) {
  for (const int64_t page : {2, 3, 255, 256, 65536, 999999, 1000000}) {
    const std::string token = EncodePageToken("leads", page, "acme", 50);
    auto decoded = DecodePageToken(token, "leads", "acme", 50);
    ASSERT_TRUE(decoded.ok()) << page << ": " << decoded.status();
    EXPECT_EQ(*decoded, page);
  }
}

TEST(PageTokenTest, IsCompactUrlSafeAndDeterministic) {
  const std::string token = EncodePageToken("contacts", 3, "+7 999 123-45-67 & co/?", 250);
  EXPECT_THAT(token, MatchesRegex("[A-Za-z0-9_-]+"));
  EXPECT_LE(token.size(), 24u);
  EXPECT_EQ(token, EncodePageToken("contacts", 3, "+7 999 123-45-67 & co/?", 250));
  EXPECT_NE(token, EncodePageToken("contacts", 4, "+7 999 123-45-67 & co/?", 250));
}

TEST(PageTokenTest, EmptyQueryAndUtf8QueryWork) {
  EXPECT_EQ(*DecodePageToken(EncodePageToken("leads", 2, "", 1), "leads", "", 1), 2);
  const std::string query = "\xD0\x9F\xD0\xB5\xD1\x82\xD1\x80\xD0\xBE\xD0\xB2";  // "Петров"
  EXPECT_EQ(*DecodePageToken(EncodePageToken("contacts", 9, query, 20), "contacts", query, 20), 9);
}

TEST(PageTokenTest, RejectsAnotherQueryPageSizeOrScope) {
  const std::string token = EncodePageToken("leads", 3, "acme", 50);
  EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(token, "leads", "acme ", 50).status()));
  EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(token, "leads", "Acme", 50).status()));
  EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(token, "leads", "", 50).status()));
  EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(token, "leads", "acme", 51).status()));
  EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(token, "leads", "acme", 0).status()));
  EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(token, "contacts", "acme", 50).status()));
  // Scope and query are length-delimited in the check, so moving bytes between them is caught.
  const std::string split = EncodePageToken("ab", 3, "c", 50);
  EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(split, "a", "bc", 50).status()));
}

TEST(PageTokenTest, RejectsGarbage) {
  for (const char* token : {"", "x", "====", "not a token", "%%%", "AAAAAAAAAAAAAAAAAA", "AQAAAAM",
                            "0123456789abcdefghijklmnopqrstuvwxyz", "\xD0\x9F\xD0\xB5\xD1\x82"}) {
    EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(token, "leads", "acme", 50).status())) << token;
  }
  EXPECT_TRUE(
      IsInvalidPageToken(DecodePageToken(std::string(100000, 'A'), "leads", "", 50).status()));
}

TEST(PageTokenTest, RejectsEveryTamperedCharacter) {
  const std::string token = EncodePageToken("leads", 3, "acme", 50);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. ";
  for (size_t i = 0; i < token.size(); ++i) {
    for (const char c : alphabet) {
      if (c == token[i]) continue;
      std::string tampered = token;
      tampered[i] = c;
      EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(tampered, "leads", "acme", 50).status()))
          << "position " << i << " -> " << c;
    }
  }
}

TEST(PageTokenTest, RejectsEveryFlippedPayloadBit) {
  const std::string token = EncodePageToken("contacts", 42, "q", 10);
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &payload));
  for (size_t bit = 0; bit < payload.size() * 8; ++bit) {
    std::string flipped = payload;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_TRUE(IsInvalidPageToken(
        DecodePageToken(absl::WebSafeBase64Escape(flipped), "contacts", "q", 10).status()))
        << "bit " << bit;
  }
}

TEST(PageTokenTest, RejectsPaddingWhitespaceAndTrailingGarbage) {
  const std::string token = EncodePageToken("leads", 3, "acme", 50);
  ASSERT_TRUE(DecodePageToken(token, "leads", "acme", 50).ok());
  for (const std::string& variant :
       {token + "=", token + "==", token + "A", token + "AAAA", " " + token, token + "\n",
        token.substr(0, 8) + " " + token.substr(8), token.substr(0, token.size() - 1)}) {
    EXPECT_TRUE(IsInvalidPageToken(DecodePageToken(variant, "leads", "acme", 50).status()))
        << variant;
  }
  // The same bytes with extra bytes after them: also a different token.
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &payload));
  EXPECT_TRUE(IsInvalidPageToken(
      DecodePageToken(absl::WebSafeBase64Escape(payload + '\0'), "leads", "acme", 50).status()));
  EXPECT_TRUE(IsInvalidPageToken(
      DecodePageToken(absl::WebSafeBase64Escape(payload.substr(0, 12)), "leads", "acme", 50)
          .status()));
}

TEST(PageTokenTest, RejectsPagesOutOfRangeEvenWithAValidCheck) {
  for (const int64_t page : {int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{1000001},
                             int64_t{4294967295}, int64_t{4294967298}, INT64_MAX}) {
    EXPECT_TRUE(IsInvalidPageToken(
        DecodePageToken(EncodePageToken("leads", page, "acme", 50), "leads", "acme", 50).status()))
        << page;
  }
}

TEST(PageTokenTest, ErrorDoesNotEchoTheQuery) {
  const absl::Status status =
      DecodePageToken(EncodePageToken("contacts", 2, "secret@example.com", 5), "contacts",
                      "other@example.com", 5)
          .status();
  ASSERT_TRUE(IsInvalidPageToken(status));
  EXPECT_EQ(std::string(status.message()).find("example.com"), std::string::npos);
}

}  // namespace
}  // namespace kommo::mapping
