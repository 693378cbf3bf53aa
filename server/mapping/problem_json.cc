// ParseProblem: Kommo's problem+json error bodies, read leniently.

#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/mapping/json_reader.h"
#include "server/mapping/kommo_json.h"

namespace kommo::mapping {
namespace {

const rapidjson::Value* FindMember(const rapidjson::Value& object, const char* key) {
  const auto member = object.FindMember(key);
  return member == object.MemberEnd() ? nullptr : &member->value;
}

// The string member `key`, or "" when it is absent or not a string.
std::string StringOrEmpty(const rapidjson::Value& object, const char* key) {
  const rapidjson::Value* value = FindMember(object, key);
  if (value == nullptr || !value->IsString()) return "";
  return internal::SanitizeUtf8(absl::string_view(value->GetString(), value->GetStringLength()));
}

// The member `key` as an integer: a JSON integer, a whole JSON number, or a string of decimal
// digits ("300"). nullopt for anything else.
std::optional<int64_t> IntegerMember(const rapidjson::Value& object, const char* key) {
  const rapidjson::Value* value = FindMember(object, key);
  if (value == nullptr) return std::nullopt;
  if (value->IsInt64()) return value->GetInt64();
  if (value->IsDouble()) {
    const double number = value->GetDouble();
    constexpr double kTwoPow63 = 9223372036854775808.0;
    if (std::trunc(number) == number && number >= -kTwoPow63 && number < kTwoPow63) {
      return static_cast<int64_t>(number);
    }
    return std::nullopt;
  }
  if (value->IsString()) {
    int64_t parsed = 0;
    const absl::string_view text(value->GetString(), value->GetStringLength());
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &parsed)) return parsed;
  }
  return std::nullopt;
}

// A validation-errors request_id: a string, or an integer written in decimal; "" otherwise.
std::string RequestIdOrEmpty(const rapidjson::Value& object) {
  const rapidjson::Value* value = FindMember(object, "request_id");
  if (value == nullptr) return "";
  if (value->IsArray() && value->Size() == 1) value = &(*value)[0];
  if (value->IsString()) {
    return internal::SanitizeUtf8(absl::string_view(value->GetString(), value->GetStringLength()));
  }
  if (value->IsInt64()) return absl::StrCat(value->GetInt64());
  if (value->IsUint64()) return absl::StrCat(value->GetUint64());
  return "";
}

ValidationError ReadValidationError(const rapidjson::Value& error, const std::string& request_id) {
  ValidationError out;
  out.request_id = request_id;
  out.code = StringOrEmpty(error, "code");
  out.path = StringOrEmpty(error, "path");
  out.detail = StringOrEmpty(error, "detail");
  return out;
}

// `validation-errors`: [{"request_id":"0","errors":[{"code","path","detail"},...]},...]. An entry
// that is itself an error (no "errors" array, but a code or path) is taken as one error.
void ReadValidationErrors(const rapidjson::Value& list, std::vector<ValidationError>& out) {
  if (!list.IsArray()) return;
  for (const rapidjson::Value& entry : list.GetArray()) {
    if (!entry.IsObject()) continue;
    const std::string request_id = RequestIdOrEmpty(entry);
    const rapidjson::Value* errors = FindMember(entry, "errors");
    if (errors != nullptr && errors->IsArray()) {
      for (const rapidjson::Value& error : errors->GetArray()) {
        if (error.IsObject()) out.push_back(ReadValidationError(error, request_id));
      }
    } else if (FindMember(entry, "code") != nullptr || FindMember(entry, "path") != nullptr) {
      out.push_back(ReadValidationError(entry, request_id));
    }
  }
}

std::optional<Problem> ParseProblemUnguarded(absl::string_view body) {
  rapidjson::Document document;
  if (!internal::ParseBody(body, document).ok() || !document.IsObject()) return std::nullopt;

  Problem problem;
  const std::optional<int64_t> status = IntegerMember(document, "status");
  if (status.has_value() && *status >= 0 && *status <= std::numeric_limits<int>::max()) {
    problem.status = static_cast<int>(*status);
  }
  problem.title = StringOrEmpty(document, "title");
  problem.type = StringOrEmpty(document, "type");
  problem.detail = StringOrEmpty(document, "detail");
  problem.hint = StringOrEmpty(document, "hint");
  problem.trace_id = StringOrEmpty(document, "trace_id");
  const std::optional<int64_t> retry_after = IntegerMember(document, "retry_after");
  if (retry_after.has_value() && *retry_after >= 0) problem.retry_after_seconds = *retry_after;
  if (const rapidjson::Value* list = FindMember(document, "validation-errors")) {
    ReadValidationErrors(*list, problem.validation_errors);
  }
  return problem;
}

}  // namespace

std::optional<Problem> ParseProblem(absl::string_view body) {
  try {
    return ParseProblemUnguarded(body);
  } catch (const internal::JsonAssertionError&) {
    return std::nullopt;
  }
}

}  // namespace kommo::mapping
