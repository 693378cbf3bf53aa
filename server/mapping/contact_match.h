#ifndef KOMMO_SERVER_MAPPING_CONTACT_MATCH_H_
#define KOMMO_SERVER_MAPPING_CONTACT_MATCH_H_

// Exact matching of contacts by phone and email (ContactService.LookupContacts and
// FindOrCreateContact; the rule is stated in proto/kommo/v1/contact_service.proto). Kommo's
// `query` search is loose and does not normalize phones, so its answers are candidates only; the
// functions here decide which candidates really hold one of the requested phones or emails.
//
// Pure functions, no I/O. Phones and emails are contact data: nothing here logs them, and callers
// must not put them (or the lock keys) in log lines or error messages.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "kommo/v1/contact.pb.h"

namespace kommo::mapping {

// Fewest and most digits a phone number may have (LookupContactsRequest.phones).
inline constexpr int kMinPhoneDigits = 5;
inline constexpr int kMaxPhoneDigits = 20;

// A phone number reduced to what matching compares.
struct Phone {
  // International: the country code and the rest ("79991234567" for "+7 999 123-45-67",
  // "007 999..." and the trunk-8 form "8 999 123-45-67"). National: the digits as written
  // ("0301234567" for "030 1234567").
  std::string digits;
  // Written with a leading "+" or "00", or an 11-digit number with the trunk 8.
  bool international = false;

  friend bool operator==(const Phone& a, const Phone& b) {
    return a.international == b.international && a.digits == b.digits;
  }
};

// Email as compared: ASCII whitespace trimmed at both ends, ASCII letters lower-cased ("
// Anna@Example.COM " → "anna@example.com"). Nothing else is changed or checked.
std::string NormalizeEmail(absl::string_view email);

// Parses a phone as people write it: digits, with spaces, tabs, dashes, dots and brackets ("()",
// "[]") ignored, and one optional "+" before the first digit. A leading "+" or "00" marks an
// international number; an 11-digit number starting with 8 (without "+" or "00") is the trunk
// form of 7 and the rest. nullopt when any other character appears, or when the number has fewer
// than kMinPhoneDigits or more than kMaxPhoneDigits digits (counting all digits written,
// including a "00" prefix).
std::optional<Phone> ParsePhone(absl::string_view text);

// Whether `a` and `b` are the same number:
// - both international, or both national: the same digits;
// - one national, one international: the same digits ("79991234567" and "+79991234567"), or the
//   national number has a single trunk 0 and the international one is a country code of 1 to 3
//   digits followed by the national number without its 0 ("030 1234567" and "+49 30 1234567").
// Nothing else matches: "9991234567" is not "+79991234567", since a national number without a
// trunk prefix could belong to any country, and a guess would merge different people's contacts.
bool SamePhone(const Phone& a, const Phone& b);

// The digits to give Kommo's `query` to find every stored phone that SamePhone() matches with
// `phone`, as few as that allows and at most 10: a digit string every such stored phone ends with
// (Kommo finds a phone by a substring of its digits). All digits when there are 10 or fewer, else
// the last 10, except that (1) a national number with a trunk 0 drops the 0, and (2) an
// international number keeps at most its digits after a 3-digit country code (its match with a
// national trunk-0 number shares only those), but never fewer than 4 of them. So
// "+7 999 123-45-67" asks for "91234567", which "8 999 123 45 67" and "+7 999 123 45 67" both
// contain.
std::string PhoneQuery(const Phone& phone);

// A key to serialise FindOrCreateContact calls by: SamePhone(a, b) implies
// PhoneLockKey(a) == PhoneLockKey(b). It is "phone:" and the last 4 digits: the most digits every
// pair of matching numbers shares (a national trunk-0 number of 5 digits matches international
// numbers ending in its last 4). Different numbers may share a key; that only makes their calls
// wait for each other.
std::string PhoneLockKey(const Phone& phone);

// The key for an email: "email:" and NormalizeEmail(email), so equal emails share it.
std::string EmailLockKey(absl::string_view email);

// Whether any phone stored on `contact` is SamePhone() with any of `phones`, or any email stored
// on it, normalized, equals any of `normalized_emails` (given normalized). Stored phones that do
// not parse match nothing; empty emails match nothing.
bool ContactMatches(const kommo::v1::Contact& contact, const std::vector<Phone>& phones,
                    const std::vector<std::string>& normalized_emails);

// The requested phones and emails, exactly as given, that `contact` lacks.
struct MissingValues {
  std::vector<std::string> phones;
  std::vector<std::string> emails;
};

// Which of `phones` and `emails` (as the caller gave them) `contact` does not hold, by the rules
// above, in the given order; a value matching an earlier one in the list is left out, so nothing
// is added twice. A phone that does not parse counts as held only when stored exactly as given;
// blank emails are never missing.
MissingValues MissingFrom(const kommo::v1::Contact& contact, const std::vector<std::string>& phones,
                          const std::vector<std::string>& emails);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_CONTACT_MATCH_H_
