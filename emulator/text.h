// Small string helpers. Debian's Abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW=0, so
// absl::string_view and std::string_view are different types: AsAbsl() bridges them.
#ifndef KOMMO_EMULATOR_TEXT_H_
#define KOMMO_EMULATOR_TEXT_H_

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace kommo::emulator {

inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// ASCII-only lower-casing (bytes >= 0x80, e.g. UTF-8 Cyrillic, are left as they are).
std::string AsciiLower(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);
// The decimal digits of `s`, in order ("+1 (555) 010-0" → "15550100").
std::string DigitsOf(std::string_view s);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_TEXT_H_
