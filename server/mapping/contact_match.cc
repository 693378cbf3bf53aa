#include "server/mapping/contact_match.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kommo::mapping {
namespace {

// Digits a country code may have (ITU E.164: 1 to 3).
constexpr size_t kMaxCountryCodeDigits = 3;
// Most digits given to Kommo's query (LookupContacts: "by the phone's last 10 digits").
constexpr size_t kMaxQueryDigits = 10;
// Digits every pair of matching numbers shares at the end: a national trunk-0 number has at
// least kMinPhoneDigits digits, so at least 4 after its 0.
constexpr size_t kSharedSuffixDigits = kMinPhoneDigits - 1;

bool IsSeparator(char c) {
  return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' || c == ')' || c == '[' ||
         c == ']';
}

absl::string_view LastDigits(absl::string_view digits, size_t count) {
  return digits.size() <= count ? digits : digits.substr(digits.size() - count);
}

// A national number with a single trunk 0 ("030 1234567"); "00" is never national.
bool HasTrunkZero(const Phone& phone) {
  return !phone.international && phone.digits.size() >= 2 && phone.digits[0] == '0' &&
         phone.digits[1] != '0';
}

}  // namespace

std::string NormalizeEmail(absl::string_view email) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(email));
}

std::optional<Phone> ParsePhone(absl::string_view text) {
  std::string digits;
  bool plus = false;
  for (const char c : text) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      if (digits.size() == static_cast<size_t>(kMaxPhoneDigits)) return std::nullopt;
      digits.push_back(c);
    } else if (c == '+') {
      // Only one, and only before the first digit.
      if (plus || !digits.empty()) return std::nullopt;
      plus = true;
    } else if (!IsSeparator(c)) {
      return std::nullopt;
    }
  }
  if (digits.size() < static_cast<size_t>(kMinPhoneDigits)) return std::nullopt;
  Phone phone;
  if (plus) {
    phone.international = true;
    phone.digits = std::move(digits);
  } else if (absl::StartsWith(digits, "00")) {
    phone.international = true;
    phone.digits = digits.substr(2);
  } else if (digits.size() == 11 && digits[0] == '8') {
    phone.international = true;
    phone.digits = absl::StrCat("7", absl::string_view(digits).substr(1));
  } else {
    phone.digits = std::move(digits);
  }
  return phone;
}

bool SamePhone(const Phone& a, const Phone& b) {
  if (a.digits == b.digits) return true;
  if (a.international == b.international) return false;
  const Phone& national = a.international ? b : a;
  const Phone& international = a.international ? a : b;
  if (!HasTrunkZero(national)) return false;
  const absl::string_view rest = absl::string_view(national.digits).substr(1);
  if (international.digits.size() <= rest.size()) return false;
  const size_t country_code_digits = international.digits.size() - rest.size();
  return country_code_digits <= kMaxCountryCodeDigits && international.digits[0] != '0' &&
         absl::EndsWith(international.digits, rest);
}

std::string PhoneQuery(const Phone& phone) {
  absl::string_view digits = phone.digits;
  size_t count = std::min(kMaxQueryDigits, digits.size());
  if (HasTrunkZero(phone)) {
    digits.remove_prefix(1);
    count = std::min(kMaxQueryDigits, digits.size());
  } else if (phone.international && digits.size() > kMaxCountryCodeDigits) {
    count = std::min(count, std::max(kSharedSuffixDigits, digits.size() - kMaxCountryCodeDigits));
  }
  return std::string(LastDigits(digits, count));
}

std::string PhoneLockKey(const Phone& phone) {
  return absl::StrCat("phone:", LastDigits(phone.digits, kSharedSuffixDigits));
}

std::string EmailLockKey(absl::string_view email) {
  return absl::StrCat("email:", NormalizeEmail(email));
}

bool ContactMatches(const kommo::v1::Contact& contact, const std::vector<Phone>& phones,
                    const std::vector<std::string>& normalized_emails) {
  if (!phones.empty()) {
    for (const std::string& stored : contact.phones()) {
      const std::optional<Phone> parsed = ParsePhone(stored);
      if (!parsed.has_value()) continue;
      for (const Phone& phone : phones) {
        if (SamePhone(*parsed, phone)) return true;
      }
    }
  }
  if (!normalized_emails.empty()) {
    for (const std::string& stored : contact.emails()) {
      const std::string normalized = NormalizeEmail(stored);
      if (normalized.empty()) continue;
      for (const std::string& email : normalized_emails) {
        if (normalized == email) return true;
      }
    }
  }
  return false;
}

MissingValues MissingFrom(const kommo::v1::Contact& contact, const std::vector<std::string>& phones,
                          const std::vector<std::string>& emails) {
  // What the contact holds, and what is already listed as missing, in the form compared.
  std::vector<Phone> held_phones;
  std::vector<std::string> held_texts;  // stored phones that do not parse, exactly as stored
  for (const std::string& stored : contact.phones()) {
    if (std::optional<Phone> parsed = ParsePhone(stored)) {
      held_phones.push_back(*std::move(parsed));
    } else {
      held_texts.push_back(stored);
    }
  }
  MissingValues missing;
  for (const std::string& phone : phones) {
    const std::optional<Phone> parsed = ParsePhone(phone);
    bool held;
    if (parsed.has_value()) {
      held = std::any_of(held_phones.begin(), held_phones.end(),
                         [&](const Phone& other) { return SamePhone(*parsed, other); });
      if (!held) held_phones.push_back(*parsed);
    } else {
      held = std::find(held_texts.begin(), held_texts.end(), phone) != held_texts.end();
      if (!held) held_texts.push_back(phone);
    }
    if (!held) missing.phones.push_back(phone);
  }

  std::vector<std::string> held_emails;
  for (const std::string& stored : contact.emails()) held_emails.push_back(NormalizeEmail(stored));
  for (const std::string& email : emails) {
    std::string normalized = NormalizeEmail(email);
    if (normalized.empty() ||
        std::find(held_emails.begin(), held_emails.end(), normalized) != held_emails.end()) {
      continue;
    }
    held_emails.push_back(std::move(normalized));
    missing.emails.push_back(email);
  }
  return missing;
}

}  // namespace kommo::mapping
