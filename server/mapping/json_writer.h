#ifndef KOMMO_SERVER_MAPPING_JSON_WRITER_H_
#define KOMMO_SERVER_MAPPING_JSON_WRITER_H_

// Writing Kommo request bodies (private to server/mapping).

#include <string>

#include "absl/strings/string_view.h"
#include "server/mapping/json_reader.h"
#include "server/mapping/rapidjson_config.h"

namespace kommo::mapping::internal {

// Escapes `"`, `\` and control characters; the output is UTF-8.
class JsonWriter {
 public:
  JsonWriter() : writer_(buffer_) {}
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  void StartObject() { writer_.StartObject(); }
  void EndObject() { writer_.EndObject(); }
  void StartArray() { writer_.StartArray(); }
  void EndArray() { writer_.EndArray(); }
  void Key(absl::string_view key) { writer_.Key(key.data(), Size(key)); }
  // Ill-formed UTF-8 in `text` is replaced by U+FFFD, so the body is always valid JSON.
  void String(absl::string_view text) {
    const std::string clean = SanitizeUtf8(text);
    writer_.String(clean.data(), Size(clean));
  }
  void Int64(int64_t value) { writer_.Int64(value); }
  void Bool(bool value) { writer_.Bool(value); }
  // A finite double (callers check: JSON has no NaN or infinity).
  void Double(double value) { writer_.Double(value); }
  void Null() { writer_.Null(); }

  void Member(absl::string_view key, absl::string_view text) {
    Key(key);
    String(text);
  }
  void Member(absl::string_view key, int64_t value) {
    Key(key);
    Int64(value);
  }

  // The complete document.
  std::string Take() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  static rapidjson::SizeType Size(absl::string_view text) {
    return static_cast<rapidjson::SizeType>(text.size());
  }

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace kommo::mapping::internal

#endif  // KOMMO_SERVER_MAPPING_JSON_WRITER_H_
