#ifndef KOMMO_SERVER_COMMON_LOG_H_
#define KOMMO_SERVER_COMMON_LOG_H_

// Structured logs: one JSON object per line on stderr, written with a single write so lines from
// different threads never interleave. Never pass a token or contact data (names, phones, emails)
// as a field: ids, codes and counts only.

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace kommo::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below this level are dropped. Default: kInfo.
void SetMinLevel(Level level);
bool Enabled(Level level);
// Parses "debug", "info", "warning"/"warn", "error" (any case); false when unknown.
bool ParseLevel(absl::string_view text, Level* level);

// A field value: written as a JSON string, or as a JSON number/boolean when built from one.
class Value {
 public:
  Value(absl::string_view text) : json_(Quote(text)) {}           // NOLINT: implicit by design
  Value(const char* text) : json_(Quote(text)) {}                 // NOLINT
  Value(const std::string& text) : json_(Quote(text)) {}          // NOLINT
  Value(int number) : json_(std::to_string(number)) {}            // NOLINT
  Value(long number) : json_(std::to_string(number)) {}           // NOLINT
  Value(long long number) : json_(std::to_string(number)) {}      // NOLINT
  Value(unsigned long number) : json_(std::to_string(number)) {}  // NOLINT
  Value(double number);                                           // NOLINT
  Value(bool flag) : json_(flag ? "true" : "false") {}            // NOLINT

  const std::string& json() const { return json_; }
  static std::string Quote(absl::string_view text);
  // A value already in JSON (an object or array built by the caller).
  static Value Json(std::string json) {
    Value value(0);
    value.json_ = std::move(json);
    return value;
  }

 private:
  std::string json_;
};

using Fields = std::initializer_list<std::pair<absl::string_view, Value>>;

// Writes {"ts":"...","level":"...","msg":"...",<fields>} when `level` is enabled.
void Write(Level level, absl::string_view message, Fields fields = {});

// The audit trail: written at level "info" whatever LOG_LEVEL says, so that raising the level to
// quieten the logs never drops a record of a write.
void Audit(absl::string_view message, Fields fields);

inline void Info(absl::string_view message, Fields fields = {}) {
  Write(Level::kInfo, message, fields);
}
inline void Warning(absl::string_view message, Fields fields = {}) {
  Write(Level::kWarning, message, fields);
}
inline void Error(absl::string_view message, Fields fields = {}) {
  Write(Level::kError, message, fields);
}

// Sends lines to `sink` instead of stderr (tests); nullptr restores stderr.
void SetSinkForTesting(void (*sink)(const std::string& line));

}  // namespace kommo::log

#endif  // KOMMO_SERVER_COMMON_LOG_H_
