#include "server/mapping/json_reader.h"

#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"

namespace kommo::mapping::internal {
namespace {

// google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

// Doubles in [-2^63, 2^63) convert to int64 exactly after rounding.
constexpr double kTwoPow63 = 9223372036854775808.0;

bool IsContinuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 when it is ill-formed
// (Unicode table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  if (byte(1) < second_min || byte(1) > second_max) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (!IsContinuation(byte(k))) return 0;
  }
  return length;
}

// Passes every event on to `document` and refuses (returns false for) an array or object that
// would be nested deeper than `max_depth`, which makes the reader stop at once.
class DepthLimitedHandler {
 public:
  DepthLimitedHandler(rapidjson::Document& document, int max_depth)
      : document_(document), max_depth_(max_depth) {}

  bool too_deep() const { return too_deep_; }

  bool Null() { return document_.Null(); }
  bool Bool(bool value) { return document_.Bool(value); }
  bool Int(int value) { return document_.Int(value); }
  bool Uint(unsigned value) { return document_.Uint(value); }
  bool Int64(int64_t value) { return document_.Int64(value); }
  bool Uint64(uint64_t value) { return document_.Uint64(value); }
  bool Double(double value) { return document_.Double(value); }
  bool RawNumber(const char* text, rapidjson::SizeType length, bool copy) {
    return document_.RawNumber(text, length, copy);
  }
  bool String(const char* text, rapidjson::SizeType length, bool copy) {
    return document_.String(text, length, copy);
  }
  bool Key(const char* text, rapidjson::SizeType length, bool copy) {
    return document_.Key(text, length, copy);
  }
  bool StartObject() { return Enter() && document_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return document_.EndObject(members);
  }
  bool StartArray() { return Enter() && document_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return document_.EndArray(elements);
  }

 private:
  bool Enter() {
    if (depth_ >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    ++depth_;
    return true;
  }

  rapidjson::Document& document_;
  const int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

absl::Status BadResponse(absl::string_view path, absl::string_view problem) {
  std::map<std::string, std::string> metadata;
  if (!path.empty()) metadata["field"] = std::string(path);
  return MakeError(absl::StatusCode::kInternal,
                   path.empty()
                       ? absl::StrCat("Kommo sent a malformed response: the body ", problem)
                       : absl::StrCat("Kommo sent a malformed response: \"", path, "\" ", problem),
                   reason::kKommoBadResponse, metadata);
}

std::string MemberPath(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

std::string ElementPath(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

absl::Status ParseBody(absl::string_view body, rapidjson::Document& document) {
  rapidjson::MemoryStream memory(body.data(), body.size());
  // As Document::Parse reads a string: a UTF-8 byte-order mark at the start is skipped.
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> bytes(memory);
  rapidjson::ParseResult result;
  bool too_deep = false;
  // The document is filled through a handler that refuses a container past kMaxJsonDepth, which
  // makes the reader stop there (kParseErrorTermination).
  auto parse = [&](rapidjson::Document& handler) {
    DepthLimitedHandler limited(handler, kMaxJsonDepth);
    rapidjson::Reader reader;
    result = reader.Parse<rapidjson::kParseIterativeFlag>(bytes, limited);
    too_deep = limited.too_deep();
    return !result.IsError();
  };
  document.SetNull();
  document.Populate(parse);
  if (too_deep) {
    return BadResponse("", absl::StrCat("is nested more than ", kMaxJsonDepth,
                                        " levels deep (at offset ", result.Offset(), ")"));
  }
  if (result.IsError()) {
    return BadResponse(
        "", absl::StrCat("is not valid JSON (", rapidjson::GetParseError_En(result.Code()),
                         " at offset ", result.Offset(), ")"));
  }
  return absl::OkStatus();
}

bool IsValidUtf8(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = SequenceLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string SanitizeUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = SequenceLength(text, i);
    if (length == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text.substr(i, length).data(), length);
      i += length;
    }
  }
  return out;
}

absl::StatusOr<int64_t> ReadInt64(const rapidjson::Value& value, absl::string_view path) {
  if (value.IsInt64()) return value.GetInt64();
  if (value.IsUint64()) return BadResponse(path, "is out of range");
  if (value.IsDouble()) {
    const double number = value.GetDouble();
    if (std::fabs(number) >= kTwoPow63) return BadResponse(path, "is out of range");
    return BadResponse(path, "is not an integer");
  }
  return BadResponse(path, "is not an integer");
}

std::optional<size_t> ParsePathIndex(absl::string_view segment) {
  constexpr size_t kMaxDigits = 6;  // indexes below 1,000,000: far above Kommo's 250 items
  if (segment.empty() || segment.size() > kMaxDigits) return std::nullopt;
  if (segment.size() > 1 && segment[0] == '0') return std::nullopt;
  size_t index = 0;
  for (const char c : segment) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<size_t>(c - '0');
  }
  return index;
}

// ---- ObjectReader -------------------------------------------------------------------------------

absl::StatusOr<ObjectReader> ObjectReader::Make(const rapidjson::Value& value, std::string path) {
  if (!value.IsObject()) return BadResponse(path, "is not a JSON object");
  return ObjectReader(&value, std::move(path));
}

const rapidjson::Value* ObjectReader::Find(const char* key) const {
  const auto member = value_->FindMember(key);
  return member == value_->MemberEnd() ? nullptr : &member->value;
}

absl::StatusOr<int64_t> ObjectReader::RequiredId(const char* key) const {
  const rapidjson::Value* value = Find(key);
  const std::string path = MemberPath(path_, key);
  if (value == nullptr || value->IsNull()) return BadResponse(path, "is missing");
  auto id = ReadInt64(*value, path);
  if (!id.ok()) return id.status();
  if (*id <= 0) return BadResponse(path, "is not a positive id");
  return *id;
}

absl::StatusOr<int64_t> ObjectReader::Int64(const char* key) const {
  const rapidjson::Value* value = Find(key);
  if (value == nullptr || value->IsNull()) return 0;
  return ReadInt64(*value, MemberPath(path_, key));
}

absl::StatusOr<int64_t> ObjectReader::RoundedNumber(const char* key) const {
  const rapidjson::Value* value = Find(key);
  if (value == nullptr || value->IsNull()) return 0;
  if (value->IsInt64()) return value->GetInt64();
  const std::string path = MemberPath(path_, key);
  if (!value->IsNumber()) return BadResponse(path, "is not a number");
  const double rounded = std::round(value->GetDouble());
  if (!(rounded >= -kTwoPow63 && rounded < kTwoPow63)) return BadResponse(path, "is out of range");
  return static_cast<int64_t>(rounded);
}

absl::StatusOr<std::optional<int64_t>> ObjectReader::UnixSeconds(const char* key) const {
  const rapidjson::Value* value = Find(key);
  if (value == nullptr || value->IsNull()) return std::nullopt;
  const std::string path = MemberPath(path_, key);
  auto seconds = ReadInt64(*value, path);
  if (!seconds.ok()) return seconds.status();
  if (*seconds == 0) return std::nullopt;
  if (*seconds < kMinTimestampSeconds || *seconds > kMaxTimestampSeconds) {
    return BadResponse(path, "is out of range");
  }
  return *seconds;
}

absl::StatusOr<std::string> ObjectReader::String(const char* key) const {
  const rapidjson::Value* value = Find(key);
  if (value == nullptr || value->IsNull()) return std::string();
  const std::string path = MemberPath(path_, key);
  if (!value->IsString()) return BadResponse(path, "is not a string");
  absl::string_view text(value->GetString(), value->GetStringLength());
  if (!IsValidUtf8(text)) return BadResponse(path, "is not valid UTF-8");
  return std::string(text);
}

absl::StatusOr<bool> ObjectReader::Bool(const char* key) const {
  const rapidjson::Value* value = Find(key);
  if (value == nullptr || value->IsNull()) return false;
  if (!value->IsBool()) return BadResponse(MemberPath(path_, key), "is not a boolean");
  return value->GetBool();
}

absl::StatusOr<std::optional<ObjectReader>> ObjectReader::Object(const char* key) const {
  const rapidjson::Value* value = Find(key);
  if (value == nullptr || value->IsNull()) return std::nullopt;
  auto object = ObjectReader::Make(*value, MemberPath(path_, key));
  if (!object.ok()) return object.status();
  return std::optional<ObjectReader>(*std::move(object));
}

absl::StatusOr<std::optional<ArrayReader>> ObjectReader::Array(const char* key) const {
  const rapidjson::Value* value = Find(key);
  if (value == nullptr || value->IsNull()) return std::nullopt;
  auto array = ArrayReader::Make(*value, MemberPath(path_, key));
  if (!array.ok()) return array.status();
  return std::optional<ArrayReader>(*std::move(array));
}

// ---- ArrayReader --------------------------------------------------------------------------------

absl::StatusOr<ArrayReader> ArrayReader::Make(const rapidjson::Value& value, std::string path) {
  if (!value.IsArray()) return BadResponse(path, "is not a JSON array");
  return ArrayReader(&value, std::move(path));
}

absl::StatusOr<ObjectReader> ArrayReader::ObjectAt(size_t index) const {
  return ObjectReader::Make(At(index), ElementPath(path_, index));
}

}  // namespace kommo::mapping::internal
