#include "server/mapping/contact_match.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kommo::mapping {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Phone Parsed(absl::string_view text) {
  std::optional<Phone> phone = ParsePhone(text);
  EXPECT_TRUE(phone.has_value()) << text;
  return phone.value_or(Phone{});
}

bool Same(absl::string_view a, absl::string_view b) { return SamePhone(Parsed(a), Parsed(b)); }

std::string DigitsOf(absl::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  return digits;
}

kommo::v1::Contact ContactWith(std::vector<std::string> phones, std::vector<std::string> emails) {
  kommo::v1::Contact contact;
  contact.set_id(42);
  for (std::string& phone : phones) contact.add_phones(std::move(phone));
  for (std::string& email : emails) contact.add_emails(std::move(email));
  return contact;
}

TEST(NormalizeEmailTest, TrimsAndFoldsAsciiCase) {
  EXPECT_EQ(NormalizeEmail(" Anna@Example.COM "), "anna@example.com");
  EXPECT_EQ(NormalizeEmail("\tanna@example.com\r\n"), "anna@example.com");
  EXPECT_EQ(NormalizeEmail("anna@example.com"), "anna@example.com");
  EXPECT_EQ(NormalizeEmail("an na@Example.com"), "an na@example.com");  // inside: kept
  EXPECT_EQ(NormalizeEmail("   "), "");
  // Non-ASCII bytes are left alone.
  EXPECT_EQ(NormalizeEmail("\xD0\x90nna@example.com"), "\xD0\x90nna@example.com");
}

TEST(ParsePhoneTest, KeepsDigitsAndMarksInternationalNumbers) {
  EXPECT_EQ(Parsed("+7 (999) 123-45-67"), (Phone{"79991234567", true}));
  EXPECT_EQ(Parsed("0079991234567"), (Phone{"79991234567", true}));
  EXPECT_EQ(Parsed("00 49 30 1234567"), (Phone{"49301234567", true}));
  EXPECT_EQ(Parsed("8 999 123 45 67"), (Phone{"79991234567", true}));  // trunk 8 = 7
  EXPECT_EQ(Parsed("8.999.123.45.67"), (Phone{"79991234567", true}));
  EXPECT_EQ(Parsed("030 1234567"), (Phone{"0301234567", false}));
  EXPECT_EQ(Parsed("[030] 123\t4567"), (Phone{"0301234567", false}));
  EXPECT_EQ(Parsed("9991234567"), (Phone{"9991234567", false}));
  // Only 11 digits starting with 8 are a trunk 8.
  EXPECT_EQ(Parsed("899912345"), (Phone{"899912345", false}));
  EXPECT_EQ(Parsed("899912345678"), (Phone{"899912345678", false}));
  EXPECT_EQ(Parsed("+89991234567"), (Phone{"89991234567", true}));
}

TEST(ParsePhoneTest, RefusesWhatIsNotAPhoneNumber) {
  EXPECT_FALSE(ParsePhone("").has_value());
  EXPECT_FALSE(ParsePhone("+").has_value());
  EXPECT_FALSE(ParsePhone("1234").has_value());                   // 4 digits
  EXPECT_FALSE(ParsePhone("+7 12-3").has_value());                // 4 digits
  EXPECT_TRUE(ParsePhone("12345").has_value());                   // 5 digits
  EXPECT_TRUE(ParsePhone("12345678901234567890").has_value());    // 20 digits
  EXPECT_FALSE(ParsePhone("123456789012345678901").has_value());  // 21 digits
  EXPECT_FALSE(ParsePhone("+7 999 123 45 67 ext 12").has_value());
  EXPECT_FALSE(ParsePhone("7+9991234567").has_value());
  EXPECT_FALSE(ParsePhone("++79991234567").has_value());
  EXPECT_FALSE(ParsePhone("+7 999 123/45/67").has_value());
  EXPECT_FALSE(ParsePhone("anna@example.com").has_value());
  EXPECT_FALSE(ParsePhone("+7\xC2\xA0"
                          "9991234567")
                   .has_value());  // only ASCII separators
}

TEST(SamePhoneTest, OneRussianNumberInEveryFormat) {
  const std::vector<std::string> forms = {
      "+7 (999) 123-45-67", "+79991234567",      "8 999 123 45 67", "8 (999) 123-45-67",
      "0079991234567",      "007 999 123 45 67", "79991234567"};
  for (const std::string& a : forms) {
    for (const std::string& b : forms) EXPECT_TRUE(Same(a, b)) << a << " vs " << b;
  }
}

TEST(SamePhoneTest, NationalTrunkZeroMatchesTheInternationalNumber) {
  EXPECT_TRUE(Same("030 1234567", "+49 30 1234567"));
  EXPECT_TRUE(Same("+49 30 1234567", "030 1234567"));
  EXPECT_TRUE(Same("030 1234567", "0049 30 1234567"));
  EXPECT_TRUE(Same("020 7946 0958", "+44 20 7946 0958"));
  EXPECT_TRUE(Same("020 7946 0958", "+353 20 7946 0958"));  // 3-digit country code
  // The rule cannot know the country: any code of 1 to 3 digits is taken.
  EXPECT_TRUE(Same("030 1234567", "+1 30 1234567"));
  EXPECT_FALSE(Same("030 1234567", "+1234 30 1234567"));  // 4 digits: not a country code
  EXPECT_FALSE(Same("030 1234567", "+49 30 1234568"));
  EXPECT_FALSE(Same("030 1234567", "+49 31 1234567"));
  // Two national numbers, or two international ones, must be equal.
  EXPECT_FALSE(Same("030 1234567", "30 1234567"));
  EXPECT_FALSE(Same("+49 30 1234567", "+4930 123456"));
}

TEST(SamePhoneTest, AnythingElseMustBeEqualDigitForDigit) {
  EXPECT_FALSE(Same("+1 555 0100", "+44 555 0100"));
  // A national number without a trunk prefix could be from any country: no rule adds a
  // country code to it, so it never equals an international number with more digits.
  EXPECT_FALSE(Same("9991234567", "+79991234567"));
  EXPECT_FALSE(Same("9991234567", "8 999 123 45 67"));
  EXPECT_TRUE(Same("9991234567", "999-123-45-67"));
  EXPECT_FALSE(Same("+7 999 123 45 67", "+7 999 123 45 68"));
  // 10 digits starting with 8 are not a trunk 8.
  EXPECT_FALSE(Same("800 123 45 67", "+7 00 123 45 67"));
}

// The guarantees the service relies on, over a set of numbers in several formats: matching
// numbers share a lock key, and the query for a number finds every stored number it matches.
TEST(PhoneQueryAndLockKeyTest, HoldForEveryMatchingPair) {
  const std::vector<std::string> numbers = {"+7 (999) 123-45-67",
                                            "8 999 123 45 67",
                                            "0079991234567",
                                            "79991234567",
                                            "9991234567",
                                            "030 1234567",
                                            "+49 30 1234567",
                                            "+1 30 1234567",
                                            "+353 30 1234567",
                                            "030 12345",
                                            "+49 30 12345",
                                            "+1 30 12345",
                                            "01234",
                                            "+491234",
                                            "+1 555 0100",
                                            "+44 555 0100",
                                            "020 7946 0958",
                                            "+44 20 7946 0958",
                                            "12345678901234567890"};
  int matching_pairs = 0;
  for (const std::string& requested : numbers) {
    for (const std::string& stored : numbers) {
      const Phone a = Parsed(requested);
      const Phone b = Parsed(stored);
      if (!SamePhone(a, b)) continue;
      ++matching_pairs;
      EXPECT_TRUE(SamePhone(b, a)) << requested << " vs " << stored;
      EXPECT_EQ(PhoneLockKey(a), PhoneLockKey(b)) << requested << " vs " << stored;
      EXPECT_TRUE(absl::StrContains(DigitsOf(stored), PhoneQuery(a)))
          << "query " << PhoneQuery(a) << " for " << requested << " misses " << stored;
    }
  }
  // Ordered pairs, each number with itself included: the 4 Russian forms (16), "9991234567"
  // (1), "030 1234567" with its 3 international forms (4 + 6), "030 12345" with 2 (3 + 4),
  // "01234" with "+491234" (2 + 2), the two "555 0100" (2), the London pair (2 + 2), the
  // 20-digit number (1).
  EXPECT_EQ(matching_pairs, 45);
}

TEST(PhoneQueryTest, IsAtMostTenDigitsEveryMatchEndsWith) {
  EXPECT_EQ(PhoneQuery(Parsed("12345678901234567890")), "1234567890");
  EXPECT_EQ(PhoneQuery(Parsed("999-123-45-67")), "9991234567");
  EXPECT_EQ(PhoneQuery(Parsed("12345")), "12345");
  // A trunk 0 is not part of the stored international number.
  EXPECT_EQ(PhoneQuery(Parsed("030 1234567")), "301234567");
  // An international number keeps the digits after a country code of up to 3 digits.
  EXPECT_EQ(PhoneQuery(Parsed("+7 (999) 123-45-67")), "91234567");
  EXPECT_EQ(PhoneQuery(Parsed("8 999 123 45 67")), "91234567");
  EXPECT_EQ(PhoneQuery(Parsed("+49 30 1234567")), "01234567");
  EXPECT_EQ(PhoneQuery(Parsed("+44 1234 123456789")), "4123456789");
  EXPECT_EQ(PhoneQuery(Parsed("+1 555 0100")), "50100");
  EXPECT_EQ(PhoneQuery(Parsed("+491234")), "1234");
  EXPECT_EQ(PhoneQuery(Parsed("00123")), "123");
}

TEST(LockKeyTest, NamesTheKindAndSharedDigits) {
  EXPECT_EQ(PhoneLockKey(Parsed("+7 (999) 123-45-67")), "phone:4567");
  EXPECT_EQ(PhoneLockKey(Parsed("030 12345")), PhoneLockKey(Parsed("+1 30 12345")));
  EXPECT_EQ(EmailLockKey(" Anna@Example.COM "), "email:anna@example.com");
  EXPECT_EQ(EmailLockKey("anna@example.com"), EmailLockKey("ANNA@example.com"));
  EXPECT_NE(EmailLockKey("anna@example.com"), EmailLockKey("anna@example.org"));
}

TEST(ContactMatchesTest, AnyStoredPhoneOrEmailMatchingAnyRequestedOne) {
  const kommo::v1::Contact contact =
      ContactWith({"not a phone", "8 (999) 123-45-67"}, {"", " Anna@Example.COM "});
  EXPECT_TRUE(ContactMatches(contact, {Parsed("+79991234567")}, {}));
  EXPECT_TRUE(ContactMatches(contact, {Parsed("+1 555 0100"), Parsed("0079991234567")}, {}));
  EXPECT_TRUE(ContactMatches(contact, {}, {"anna@example.com"}));
  EXPECT_TRUE(ContactMatches(contact, {Parsed("+1 555 0100")}, {"anna@example.com"}));
  EXPECT_FALSE(ContactMatches(contact, {Parsed("9991234567")}, {}));
  EXPECT_FALSE(ContactMatches(contact, {Parsed("+1 555 0100")}, {"anna@example.org"}));
  EXPECT_FALSE(ContactMatches(contact, {}, {}));
  // A stored blank email matches no requested one, not even a blank one.
  EXPECT_FALSE(ContactMatches(contact, {}, {""}));
  // Kommo's loose search also returns contacts whose other fields hold the digits.
  kommo::v1::Contact by_name = ContactWith({}, {});
  by_name.set_name("Order 9991234567");
  EXPECT_FALSE(ContactMatches(by_name, {Parsed("+7 999 123 45 67")}, {"anna@example.com"}));
}

TEST(MissingFromTest, ListsWhatTheContactLacksAsGiven) {
  const kommo::v1::Contact contact =
      ContactWith({"8 (999) 123-45-67", "ext. 12"}, {"Anna@Example.com"});
  MissingValues missing = MissingFrom(
      contact, {"+7 999 123 45 67", "030 1234567", "+49 30 1234567", "ext. 12", "ext. 13"},
      {" anna@example.COM", "anna@work.example", "ANNA@WORK.EXAMPLE", "  "});
  // "+49 30 1234567" is the same number as "030 1234567", listed just before it.
  EXPECT_THAT(missing.phones, ElementsAre("030 1234567", "ext. 13"));
  EXPECT_THAT(missing.emails, ElementsAre("anna@work.example"));

  missing = MissingFrom(contact, {"0079991234567"}, {"anna@example.com"});
  EXPECT_THAT(missing.phones, IsEmpty());
  EXPECT_THAT(missing.emails, IsEmpty());

  missing = MissingFrom(ContactWith({}, {}), {"9991234567"}, {"b@example.com"});
  EXPECT_THAT(missing.phones, ElementsAre("9991234567"));
  EXPECT_THAT(missing.emails, ElementsAre("b@example.com"));
}

}  // namespace
}  // namespace kommo::mapping
