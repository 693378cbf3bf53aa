#ifndef KOMMO_SERVER_MAPPING_JSON_READER_H_
#define KOMMO_SERVER_MAPPING_JSON_READER_H_

// Checked reading of untrusted JSON (private to server/mapping).
//
// Every read checks the JSON type first and reports a wrong type as INTERNAL with ErrorInfo reason
// KOMMO_BAD_RESPONSE, a message naming the field's path ("_embedded.leads[2].id") and ErrorInfo
// metadata {"field": path}. Values are never copied into an error: Kommo bodies hold personal data.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/mapping/rapidjson_config.h"  // IWYU pragma: export

namespace kommo::mapping::internal {

// INTERNAL, reason KOMMO_BAD_RESPONSE: "Kommo sent a malformed response: <path> <problem>".
absl::Status BadResponse(absl::string_view path, absl::string_view problem);

// "parent.key", or "key" at the root.
std::string MemberPath(absl::string_view parent, absl::string_view key);
// "parent[index]".
std::string ElementPath(absl::string_view parent, size_t index);

// Deepest nesting of arrays and objects accepted in a Kommo body (the body itself is level 1).
// Kommo's real bodies nest fewer than 10 levels; the limit is what makes a hostile body's cost
// bounded by its size (which the HTTP transport caps).
inline constexpr int kMaxJsonDepth = 64;

// Parses `body` as exactly one JSON value (trailing bytes are an error). Iterative, so nesting
// cannot exhaust the stack, and stops at the first array or object nested deeper than
// kMaxJsonDepth: such a body fails with KOMMO_BAD_RESPONSE having cost only the levels read.
// On any error `document` is left null.
absl::Status ParseBody(absl::string_view body, rapidjson::Document& document);

// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates).
bool IsValidUtf8(absl::string_view text);
// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD.
std::string SanitizeUtf8(absl::string_view text);

// Runs `parse` and converts a JsonAssertionError into KOMMO_BAD_RESPONSE.
template <typename Parse>
auto GuardJson(Parse&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const JsonAssertionError&) {
    return BadResponse("", "could not be read (internal JSON check failed)");
  }
}

class ArrayReader;

// A JSON object at `path`. Absent members and `null` read as the type's empty value unless the
// method says otherwise; any other type than the expected one is a KOMMO_BAD_RESPONSE error.
class ObjectReader {
 public:
  // Fails unless `value` is an object. `path` is "" for the body itself.
  static absl::StatusOr<ObjectReader> Make(const rapidjson::Value& value, std::string path);

  const std::string& path() const { return path_; }

  // The member `key` (possibly a JSON null), or nullptr when absent.
  const rapidjson::Value* Find(const char* key) const;

  // A JSON integer in [1, INT64_MAX]; absent or null is an error.
  absl::StatusOr<int64_t> RequiredId(const char* key) const;
  // A JSON integer in int64 range; absent or null → 0.
  absl::StatusOr<int64_t> Int64(const char* key) const;
  // Any JSON number, rounded to the nearest integer (halves away from zero); absent or null → 0.
  absl::StatusOr<int64_t> RoundedNumber(const char* key) const;
  // Unix seconds within google.protobuf.Timestamp's range; absent, null or 0 → nullopt.
  absl::StatusOr<std::optional<int64_t>> UnixSeconds(const char* key) const;
  // A UTF-8 string; absent or null → "".
  absl::StatusOr<std::string> String(const char* key) const;
  // A boolean; absent or null → false.
  absl::StatusOr<bool> Bool(const char* key) const;
  // An object; absent or null → nullopt.
  absl::StatusOr<std::optional<ObjectReader>> Object(const char* key) const;
  // An array; absent or null → nullopt.
  absl::StatusOr<std::optional<ArrayReader>> Array(const char* key) const;

 private:
  ObjectReader(const rapidjson::Value* value, std::string path)
      : value_(value), path_(std::move(path)) {}

  const rapidjson::Value* value_;
  std::string path_;
};

// A JSON array at `path`.
class ArrayReader {
 public:
  // Fails unless `value` is an array.
  static absl::StatusOr<ArrayReader> Make(const rapidjson::Value& value, std::string path);

  const std::string& path() const { return path_; }
  size_t size() const { return value_->Size(); }
  // Element `index` (< size()).
  const rapidjson::Value& At(size_t index) const {
    return (*value_)[static_cast<rapidjson::SizeType>(index)];
  }
  // Element `index` (< size()), which must be an object.
  absl::StatusOr<ObjectReader> ObjectAt(size_t index) const;

 private:
  ArrayReader(const rapidjson::Value* value, std::string path)
      : value_(value), path_(std::move(path)) {}

  const rapidjson::Value* value_;
  std::string path_;
};

// Reads `value` (at `path`) as an int64 JSON integer.
absl::StatusOr<int64_t> ReadInt64(const rapidjson::Value& value, absl::string_view path);

// A segment of a Kommo validation path ("_embedded.contacts.12.id") that is an array index: ASCII
// digits without a leading zero (other than "0" itself), below 1,000,000. nullopt otherwise.
std::optional<size_t> ParsePathIndex(absl::string_view segment);

}  // namespace kommo::mapping::internal

#endif  // KOMMO_SERVER_MAPPING_JSON_READER_H_
