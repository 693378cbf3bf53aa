#include "emulator/faults.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "emulator/kommo_api.h"
#include "emulator/text.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

namespace kommo::emulator {
namespace {

using std::chrono::milliseconds;

constexpr char kProblemJson[] = "application/problem+json";
constexpr int64_t kMaxCount = int64_t{1} << 40;
constexpr int kMaxRetryAfterSeconds = 86400;
constexpr double kMaxRate = 1e6;
constexpr int64_t kMaxBlockSeconds = int64_t{365} * 86400;

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Parses a whole admin body as JSON. Iterative: deep nesting cannot exhaust the stack.
absl::Status ParseJson(std::string_view json, rapidjson::Document* doc) {
  doc->Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                     json.size());
  if (doc->HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("body is not valid JSON: ", rapidjson::GetParseError_En(doc->GetParseError()),
                     " (at byte ", doc->GetErrorOffset(), ")"));
  }
  return absl::OkStatus();
}

// Type-checked reading of one JSON object's members. A member that is absent or null leaves the
// output alone; any other wrong type or value is INVALID_ARGUMENT naming the member.
class Fields {
 public:
  Fields(const rapidjson::Value& object, std::string where)
      : object_(object), where_(std::move(where)) {}

  const rapidjson::Value* Find(const char* name) const {
    const auto it = object_.FindMember(name);
    if (it == object_.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }
  bool Has(const char* name) const { return Find(name) != nullptr; }

  absl::Status Int(const char* name, int64_t min, int64_t max, int64_t* out) const {
    const rapidjson::Value* v = Find(name);
    if (v == nullptr) return absl::OkStatus();
    if (!v->IsInt64() || v->GetInt64() < min || v->GetInt64() > max) {
      return Error(name, absl::StrCat("an integer from ", min, " to ", max));
    }
    *out = v->GetInt64();
    return absl::OkStatus();
  }
  absl::Status Number(const char* name, double min, double max, double* out) const {
    const rapidjson::Value* v = Find(name);
    if (v == nullptr) return absl::OkStatus();
    if (!v->IsNumber() || !(v->GetDouble() >= min) || !(v->GetDouble() <= max)) {
      return Error(name, absl::StrFormat("a number from %.0f to %.0f", min, max));
    }
    *out = v->GetDouble();
    return absl::OkStatus();
  }
  absl::Status Bool(const char* name, bool* out) const {
    const rapidjson::Value* v = Find(name);
    if (v == nullptr) return absl::OkStatus();
    if (!v->IsBool()) return Error(name, "true or false");
    *out = v->GetBool();
    return absl::OkStatus();
  }
  // One of `choices`.
  absl::Status Choice(const char* name, std::initializer_list<std::string_view> choices,
                      std::string* out) const {
    const rapidjson::Value* v = Find(name);
    if (v == nullptr) return absl::OkStatus();
    std::string list;
    for (const std::string_view choice : choices) {
      absl::StrAppend(&list, list.empty() ? "" : ", ", "\"", AsAbsl(choice), "\"");
      if (v->IsString() && std::string_view(v->GetString(), v->GetStringLength()) == choice) {
        *out = std::string(choice);
        return absl::OkStatus();
      }
    }
    return Error(name, absl::StrCat("one of ", list));
  }
  absl::Status String(const char* name, std::string* out) const {
    const rapidjson::Value* v = Find(name);
    if (v == nullptr) return absl::OkStatus();
    if (!v->IsString()) return Error(name, "a string");
    *out = std::string(v->GetString(), v->GetStringLength());
    return absl::OkStatus();
  }
  // The first member (null or not) whose name is not in `allowed`.
  absl::Status OnlyThese(const std::vector<std::string_view>& allowed,
                         std::string_view context) const {
    for (auto it = object_.MemberBegin(); it != object_.MemberEnd(); ++it) {
      const std::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where_, "unknown member \"", AsAbsl(name), "\"", AsAbsl(context)));
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Error(const char* name, std::string_view expected) const {
    return absl::InvalidArgumentError(
        absl::StrCat(where_, "\"", name, "\" must be ", AsAbsl(expected)));
  }
  const rapidjson::Value& object_;
  std::string where_;
};

#define KOMMO_RETURN_IF_ERROR(expr)           \
  do {                                        \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                              \
    }                                         \
  } while (false)

// "GET /api/v4/leads", "/api/v4/leads", "GET", "*" or "" → method and path prefix.
absl::Status ParseMatch(std::string_view text, std::string_view where, FaultRule* rule) {
  std::string match(absl::StripAsciiWhitespace(AsAbsl(text)));
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(AsAbsl(where), "\"match\" ", AsAbsl(why),
                                                   " (expected \"METHOD /path/prefix\", "
                                                   "\"/path/prefix\", \"METHOD\" or \"*\")"));
  };
  if (match.empty() || match == "*") return absl::OkStatus();
  if (match[0] == '/') {
    rule->path_prefix = match;
    return absl::OkStatus();
  }
  const size_t space = match.find(' ');
  std::string method = match.substr(0, space);
  std::string path =
      space == std::string::npos
          ? ""
          : std::string(absl::StripAsciiWhitespace(absl::string_view(match).substr(space + 1)));
  if (method != "*") {
    for (const char c : method) {
      if (!IsTokenChar(c)) return bad("has an invalid method");
    }
    rule->method = absl::AsciiStrToUpper(method);
  }
  if (path.empty() || path == "*") return absl::OkStatus();
  if (path[0] != '/' || path.find(' ') != std::string::npos) {
    return bad("has a path that does not start with '/'");
  }
  rule->path_prefix = path;
  return absl::OkStatus();
}

absl::StatusOr<FaultRule> ParseFaultRule(const rapidjson::Value& value, const std::string& where) {
  if (!value.IsObject())
    return absl::InvalidArgumentError(absl::StrCat(where, "must be an object"));
  const Fields f(value, where);
  FaultRule rule;
  std::string kind;
  if (!f.Has("fault")) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     "\"fault\" is required: one of \"latency\", \"status\", \"reset\", "
                     "\"malformed_json\", \"cut_body\", \"slow_body\""));
  }
  KOMMO_RETURN_IF_ERROR(f.Choice(
      "fault", {"latency", "status", "reset", "malformed_json", "cut_body", "slow_body"}, &kind));
  std::vector<std::string_view> allowed;
  if (kind == "latency") {
    rule.action = FaultAction::kLatency;
    allowed = {"match", "fault", "times", "after", "delay_ms", "jitter_ms"};
  } else if (kind == "status") {
    rule.action = FaultAction::kStatus;
    allowed = {"match",     "fault",  "times", "after",       "delay_ms",
               "jitter_ms", "status", "body",  "retry_after", "retry_after_header",
               "apply"};
  } else if (kind == "reset") {
    rule.action = FaultAction::kReset;
    allowed = {"match", "fault", "times", "after", "delay_ms", "jitter_ms", "apply"};
  } else if (kind == "malformed_json") {
    rule.action = FaultAction::kMalformedJson;
    allowed = {"match", "fault", "times", "after", "delay_ms", "jitter_ms"};
  } else if (kind == "cut_body") {
    rule.action = FaultAction::kCutBody;
    allowed = {"match", "fault", "times", "after", "delay_ms", "jitter_ms", "cut_at"};
  } else {
    rule.action = FaultAction::kSlowBody;
    allowed = {"match",    "fault",     "times",       "after",
               "delay_ms", "jitter_ms", "chunk_bytes", "interval_ms"};
  }
  KOMMO_RETURN_IF_ERROR(
      f.OnlyThese(allowed, absl::StrCat(" for fault \"", kind, "\" (see emulator/README.md)")));

  std::string match;
  KOMMO_RETURN_IF_ERROR(f.String("match", &match));
  KOMMO_RETURN_IF_ERROR(ParseMatch(match, where, &rule));
  if (f.Has("times")) {
    int64_t times = 0;
    KOMMO_RETURN_IF_ERROR(f.Int("times", 0, kMaxCount, &times));
    rule.times = times;
  }
  KOMMO_RETURN_IF_ERROR(f.Int("after", 0, kMaxCount, &rule.after));
  int64_t delay_ms = 0;
  int64_t jitter_ms = 0;
  KOMMO_RETURN_IF_ERROR(f.Int("delay_ms", 0, kMaxFaultDelay.count(), &delay_ms));
  KOMMO_RETURN_IF_ERROR(f.Int("jitter_ms", 0, kMaxFaultDelay.count(), &jitter_ms));
  rule.delay = milliseconds(delay_ms);
  rule.jitter = milliseconds(jitter_ms);

  if (rule.action == FaultAction::kStatus) {
    if (!f.Has("status")) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "\"status\" is required for fault \"status\""));
    }
    int64_t status = 0;
    KOMMO_RETURN_IF_ERROR(f.Int("status", 400, 599, &status));
    rule.status = static_cast<int>(status);
    std::string body;
    KOMMO_RETURN_IF_ERROR(f.Choice("body", {"json", "html"}, &body));
    if (body == "json") rule.body = FaultBody::kJson;
    if (body == "html") rule.body = FaultBody::kHtml;
    int64_t retry_after = rule.retry_after_seconds;
    KOMMO_RETURN_IF_ERROR(f.Int("retry_after", 0, kMaxRetryAfterSeconds, &retry_after));
    rule.retry_after_seconds = static_cast<int>(retry_after);
    KOMMO_RETURN_IF_ERROR(f.Bool("retry_after_header", &rule.retry_after_header));
  }
  KOMMO_RETURN_IF_ERROR(f.Bool("apply", &rule.apply));
  if (f.Has("cut_at")) {
    int64_t cut_at = 0;
    KOMMO_RETURN_IF_ERROR(f.Int("cut_at", 0, kMaxCount, &cut_at));
    rule.cut_at = static_cast<size_t>(cut_at);
  }
  int64_t chunk_bytes = static_cast<int64_t>(rule.chunk_bytes);
  int64_t interval_ms = rule.chunk_interval.count();
  KOMMO_RETURN_IF_ERROR(f.Int("chunk_bytes", 1, 1 << 20, &chunk_bytes));
  KOMMO_RETURN_IF_ERROR(f.Int("interval_ms", 1, 60'000, &interval_ms));
  rule.chunk_bytes = static_cast<size_t>(chunk_bytes);
  rule.chunk_interval = milliseconds(interval_ms);

  if (absl::Status status = ValidateFaultRule(rule); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, status.message()));
  }
  return rule;
}

void WriteMatch(JsonWriter& w, const FaultRule& rule) {
  std::string match;
  if (rule.method.empty() && rule.path_prefix.empty()) {
    match = "*";
  } else if (rule.method.empty()) {
    match = rule.path_prefix;
  } else if (rule.path_prefix.empty()) {
    match = rule.method;
  } else {
    match = absl::StrCat(rule.method, " ", rule.path_prefix);
  }
  Key(w, "match");
  Str(w, match);
}

bool Matches(const FaultRule& rule, std::string_view method, std::string_view path) {
  return (rule.method.empty() || rule.method == method) &&
         path.substr(0, rule.path_prefix.size()) == rule.path_prefix;
}

int64_t TimesOf(const FaultRule& rule) {
  return rule.times.value_or(rule.action == FaultAction::kLatency ? 0 : 1);
}

// nginx's own wording on its error pages.
std::string_view NginxPhrase(int status) {
  switch (status) {
    case 503:
      return "Service Temporarily Unavailable";
    case 504:
      return "Gateway Time-out";
    default:
      return ReasonPhrase(status);
  }
}

std::string Finish(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Answers that had no body get one, so there is something to cut or trickle.
void EnsureBody(HttpResponse* response) {
  if (!response->body.empty()) return;
  if (response->status == 204 || response->status == 304) response->status = 200;
  response->headers.emplace_back("Content-Type", "application/hal+json");
  response->body = R"({"_page":1,"_embedded":{}})";
}

}  // namespace

std::string_view FaultActionName(FaultAction action) {
  switch (action) {
    case FaultAction::kLatency:
      return "latency";
    case FaultAction::kStatus:
      return "status";
    case FaultAction::kReset:
      return "reset";
    case FaultAction::kMalformedJson:
      return "malformed_json";
    case FaultAction::kCutBody:
      return "cut_body";
    case FaultAction::kSlowBody:
      return "slow_body";
  }
  return "unknown";
}

absl::Status ValidateFaultRule(const FaultRule& rule) {
  for (const char c : rule.method) {
    if (!IsTokenChar(c)) return absl::InvalidArgumentError("the method is not an HTTP token");
  }
  if (!rule.path_prefix.empty() && rule.path_prefix[0] != '/') {
    return absl::InvalidArgumentError("the path prefix must start with '/'");
  }
  if (rule.times.has_value() && (*rule.times < 0 || *rule.times > kMaxCount)) {
    return absl::InvalidArgumentError("\"times\" must be >= 0 (0: unlimited)");
  }
  if (rule.after < 0 || rule.after > kMaxCount) {
    return absl::InvalidArgumentError("\"after\" must be >= 0");
  }
  if (rule.delay.count() < 0 || rule.delay > kMaxFaultDelay || rule.jitter.count() < 0 ||
      rule.jitter > kMaxFaultDelay) {
    return absl::InvalidArgumentError(
        absl::StrCat("delays must be from 0 to ", kMaxFaultDelay.count(), " ms"));
  }
  switch (rule.action) {
    case FaultAction::kLatency:
      if (rule.delay.count() == 0 && rule.jitter.count() == 0) {
        return absl::InvalidArgumentError("a latency fault needs \"delay_ms\" or \"jitter_ms\"");
      }
      break;
    case FaultAction::kStatus:
      if (rule.status < 400 || rule.status > 599) {
        return absl::InvalidArgumentError("\"status\" must be from 400 to 599");
      }
      if (rule.retry_after_seconds < 0 || rule.retry_after_seconds > kMaxRetryAfterSeconds) {
        return absl::InvalidArgumentError("\"retry_after\" must be from 0 to 86400");
      }
      break;
    case FaultAction::kSlowBody:
      if (rule.chunk_bytes == 0 || rule.chunk_interval.count() < 1 ||
          rule.chunk_interval > std::chrono::minutes(1)) {
        return absl::InvalidArgumentError(
            "a slow body needs \"chunk_bytes\" >= 1 and \"interval_ms\" from 1 to 60000");
      }
      break;
    case FaultAction::kReset:
    case FaultAction::kMalformedJson:
    case FaultAction::kCutBody:
      break;
  }
  return absl::OkStatus();
}

absl::Status ValidateRateLimit(const RateLimitOptions& options) {
  if (!(options.requests_per_second > 0) || options.requests_per_second > kMaxRate) {
    return absl::InvalidArgumentError("the rate (\"rps\") must be > 0 and <= 1000000");
  }
  if (!(options.burst >= 1) || options.burst > kMaxRate) {
    return absl::InvalidArgumentError("\"burst\" must be >= 1 and <= 1000000");
  }
  if (options.retry_after_seconds < 0 || options.retry_after_seconds > kMaxRetryAfterSeconds) {
    return absl::InvalidArgumentError("\"retry_after\" must be from 0 to 86400");
  }
  if (options.block_after < 0) {
    return absl::InvalidArgumentError("\"block_after\" must be >= 0 (0: never block)");
  }
  if (options.block_duration.count() < 0 ||
      options.block_duration > std::chrono::seconds(kMaxBlockSeconds)) {
    return absl::InvalidArgumentError("\"block_seconds\" must be from 0 to one year");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FaultRule>> ParseFaultRules(std::string_view json) {
  rapidjson::Document doc;
  KOMMO_RETURN_IF_ERROR(ParseJson(json, &doc));
  std::vector<FaultRule> rules;
  if (doc.IsObject()) {
    absl::StatusOr<FaultRule> rule = ParseFaultRule(doc, "fault rule: ");
    if (!rule.ok()) return rule.status();
    rules.push_back(*std::move(rule));
    return rules;
  }
  if (!doc.IsArray()) {
    return absl::InvalidArgumentError("fault rules must be a JSON object or an array of objects");
  }
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    absl::StatusOr<FaultRule> rule = ParseFaultRule(doc[i], absl::StrCat("fault rule ", i, ": "));
    if (!rule.ok()) return rule.status();
    rules.push_back(*std::move(rule));
  }
  return rules;
}

absl::StatusOr<RateLimitOptions> ParseRateLimit(std::string_view json) {
  RateLimitOptions options;
  options.enabled = true;
  if (absl::StripAsciiWhitespace(AsAbsl(json)).empty()) return options;
  rapidjson::Document doc;
  KOMMO_RETURN_IF_ERROR(ParseJson(json, &doc));
  if (!doc.IsObject()) return absl::InvalidArgumentError("rate limit: must be a JSON object");
  const Fields f(doc, "rate limit: ");
  KOMMO_RETURN_IF_ERROR(f.OnlyThese({"enabled", "rps", "burst", "response", "retry_after",
                                     "retry_after_header", "block_after", "block_seconds"},
                                    ""));
  KOMMO_RETURN_IF_ERROR(f.Bool("enabled", &options.enabled));
  KOMMO_RETURN_IF_ERROR(f.Number("rps", 0, kMaxRate, &options.requests_per_second));
  KOMMO_RETURN_IF_ERROR(f.Number("burst", 1, kMaxRate, &options.burst));
  std::string response;
  KOMMO_RETURN_IF_ERROR(f.Choice("response", {"json", "html"}, &response));
  options.html = response == "html";
  int64_t retry_after = options.retry_after_seconds;
  KOMMO_RETURN_IF_ERROR(f.Int("retry_after", 0, kMaxRetryAfterSeconds, &retry_after));
  options.retry_after_seconds = static_cast<int>(retry_after);
  KOMMO_RETURN_IF_ERROR(f.Bool("retry_after_header", &options.retry_after_header));
  int64_t block_after = 0;
  KOMMO_RETURN_IF_ERROR(f.Int("block_after", 0, 1'000'000, &block_after));
  options.block_after = static_cast<int>(block_after);
  double block_seconds = 0;
  KOMMO_RETURN_IF_ERROR(
      f.Number("block_seconds", 0, static_cast<double>(kMaxBlockSeconds), &block_seconds));
  options.block_duration = milliseconds(static_cast<int64_t>(std::llround(block_seconds * 1000)));
  if (absl::Status status = ValidateRateLimit(options); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("rate limit: ", status.message()));
  }
  return options;
}

absl::StatusOr<milliseconds> ParseBlockDuration(std::string_view json) {
  if (absl::StripAsciiWhitespace(AsAbsl(json)).empty()) return milliseconds(0);
  rapidjson::Document doc;
  KOMMO_RETURN_IF_ERROR(ParseJson(json, &doc));
  if (!doc.IsObject()) return absl::InvalidArgumentError("block: must be a JSON object");
  const Fields f(doc, "block: ");
  KOMMO_RETURN_IF_ERROR(f.OnlyThese({"seconds"}, ""));
  double seconds = 0;
  KOMMO_RETURN_IF_ERROR(f.Number("seconds", 0, static_cast<double>(kMaxBlockSeconds), &seconds));
  return milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
}

void WriteFaultRuleState(JsonWriter& w, const FaultRuleState& state) {
  const FaultRule& rule = state.rule;
  w.StartObject();
  Key(w, "id");
  w.Uint64(state.id);
  WriteMatch(w, rule);
  Key(w, "fault");
  Str(w, FaultActionName(rule.action));
  const int64_t times = TimesOf(rule);
  Key(w, "times");
  w.Int64(times);
  Key(w, "after");
  w.Int64(rule.after);
  Key(w, "delay_ms");
  w.Int64(rule.delay.count());
  Key(w, "jitter_ms");
  w.Int64(rule.jitter.count());
  switch (rule.action) {
    case FaultAction::kStatus:
      Key(w, "status");
      w.Int(rule.status);
      Key(w, "body");
      w.String(rule.body == FaultBody::kHtml   ? "html"
               : rule.body == FaultBody::kJson ? "json"
                                               : "default");
      Key(w, "retry_after");
      w.Int(rule.retry_after_seconds);
      Key(w, "retry_after_header");
      w.Bool(rule.retry_after_header);
      Key(w, "apply");
      w.Bool(rule.apply);
      break;
    case FaultAction::kReset:
      Key(w, "apply");
      w.Bool(rule.apply);
      break;
    case FaultAction::kCutBody:
      Key(w, "cut_at");
      if (rule.cut_at.has_value()) {
        w.Uint64(*rule.cut_at);
      } else {
        w.Null();
      }
      break;
    case FaultAction::kSlowBody:
      Key(w, "chunk_bytes");
      w.Uint64(rule.chunk_bytes);
      Key(w, "interval_ms");
      w.Int64(rule.chunk_interval.count());
      break;
    case FaultAction::kLatency:
    case FaultAction::kMalformedJson:
      break;
  }
  Key(w, "matched");
  w.Uint64(state.matched);
  Key(w, "fired");
  w.Uint64(state.fired);
  Key(w, "remaining");  // null: unlimited
  if (times == 0) {
    w.Null();
  } else {
    w.Int64(std::max<int64_t>(0, times - static_cast<int64_t>(state.fired)));
  }
  w.EndObject();
}

void WriteRateLimit(JsonWriter& w, const RateLimitOptions& options) {
  w.StartObject();
  Key(w, "enabled");
  w.Bool(options.enabled);
  Key(w, "rps");
  w.Double(options.requests_per_second);
  Key(w, "burst");
  w.Double(options.burst);
  Key(w, "response");
  w.String(options.html ? "html" : "json");
  Key(w, "retry_after");
  w.Int(options.retry_after_seconds);
  Key(w, "retry_after_header");
  w.Bool(options.retry_after_header);
  Key(w, "block_after");
  w.Int(options.block_after);
  Key(w, "block_seconds");
  w.Double(static_cast<double>(options.block_duration.count()) / 1000.0);
  w.EndObject();
}

// --- FaultSet ------------------------------------------------------------------------------------

uint64_t FaultSet::Add(FaultRule rule) {
  FaultRuleState state;
  state.id = next_id_++;
  state.rule = std::move(rule);
  rules_.push_back(std::move(state));
  return rules_.back().id;
}

bool FaultSet::Remove(uint64_t id) {
  const auto it = std::find_if(rules_.begin(), rules_.end(),
                               [id](const FaultRuleState& state) { return state.id == id; });
  if (it == rules_.end()) return false;
  rules_.erase(it);
  return true;
}

FaultDecision FaultSet::Decide(std::string_view method, std::string_view path) {
  FaultDecision decision;
  bool have_latency = false;
  for (FaultRuleState& state : rules_) {
    const FaultRule& rule = state.rule;
    if (!Matches(rule, method, path)) continue;
    ++state.matched;
    if (state.matched <= static_cast<uint64_t>(rule.after)) continue;
    const int64_t times = TimesOf(rule);
    if (times > 0 && state.fired >= static_cast<uint64_t>(times)) continue;
    const bool latency = rule.action == FaultAction::kLatency;
    if (latency ? have_latency : decision.action.has_value()) continue;
    ++state.fired;
    milliseconds delay = rule.delay;
    if (rule.jitter.count() > 0) {
      delay += milliseconds(
          static_cast<int64_t>(random_() % static_cast<uint64_t>(rule.jitter.count() + 1)));
    }
    decision.delay += delay;
    if (latency) {
      have_latency = true;
    } else {
      decision.action = rule;
      decision.action_id = state.id;
    }
  }
  return decision;
}

// --- TokenBucket, AccountGuard
// ---------------------------------------------------------------------

void TokenBucket::Refill(SteadyTime now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(capacity_, tokens_ + seconds * rate_);
  last_ = now;
}

bool TokenBucket::TryTake(SteadyTime now) {
  Refill(now);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

double TokenBucket::Available(SteadyTime now) {
  Refill(now);
  return tokens_;
}

void AccountGuard::Configure(const RateLimitOptions& options, SteadyTime now) {
  options_ = options;
  bucket_ = TokenBucket(options.requests_per_second, options.burst, now);
  consecutive_429_ = 0;
}

AccountGuard::Verdict AccountGuard::Admit(SteadyTime now) {
  if (blocked(now)) {
    ++blocked_total_;
    return Verdict::kBlocked;
  }
  if (!options_.enabled) return Verdict::kPass;
  if (bucket_.TryTake(now)) {
    consecutive_429_ = 0;
    return Verdict::kPass;
  }
  ++rate_limited_total_;
  ++consecutive_429_;
  if (options_.block_after > 0 && consecutive_429_ >= options_.block_after) {
    Block(now, options_.block_duration, absl::StrCat(consecutive_429_, " consecutive 429 answers"));
  }
  return Verdict::kRateLimited;
}

void AccountGuard::Block(SteadyTime now, milliseconds duration, std::string reason) {
  blocked_ = true;
  block_reason_ = std::move(reason);
  consecutive_429_ = 0;
  if (duration.count() > 0) {
    blocked_until_ = now + duration;
  } else {
    blocked_until_.reset();
  }
}

void AccountGuard::Unblock(SteadyTime now) {
  blocked_ = false;
  blocked_until_.reset();
  block_reason_.clear();
  consecutive_429_ = 0;
  bucket_ = TokenBucket(options_.requests_per_second, options_.burst, now);
}

bool AccountGuard::blocked(SteadyTime now) {
  if (blocked_ && blocked_until_.has_value() && now >= *blocked_until_) Unblock(now);
  return blocked_;
}

void AccountGuard::WriteState(JsonWriter& w, SteadyTime now) {
  const bool is_blocked = blocked(now);
  w.StartObject();
  Key(w, "blocked");
  w.Bool(is_blocked);
  Key(w, "reason");
  Str(w, block_reason_);
  Key(w, "remaining_ms");  // null: until lifted (or not blocked)
  if (is_blocked && blocked_until_.has_value()) {
    w.Int64(std::chrono::duration_cast<milliseconds>(*blocked_until_ - now).count());
  } else {
    w.Null();
  }
  Key(w, "consecutive_429");
  w.Int(consecutive_429_);
  Key(w, "rate_limited_total");
  w.Uint64(rate_limited_total_);
  Key(w, "blocked_total");
  w.Uint64(blocked_total_);
  Key(w, "tokens");
  w.Double(options_.enabled ? bucket_.Available(now) : 0.0);
  w.EndObject();
}

// --- answers
// ---------------------------------------------------------------------------------------

HttpResponse NginxPage(int status) {
  const std::string title = absl::StrCat(status, " ", AsAbsl(NginxPhrase(status)));
  HttpResponse response = HttpResponse::WithBody(
      status, "text/html",
      absl::StrCat("<html>\r\n<head><title>", title, "</title></head>\r\n<body>\r\n<center><h1>",
                   title,
                   "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"));
  response.add_request_id = false;
  response.server = "nginx";
  return response;
}

HttpResponse TooManyRequests(bool html, int retry_after_seconds, bool retry_after_header) {
  HttpResponse response;
  if (html) {
    response = NginxPage(429);
  } else {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    Key(w, "title");
    w.String("Too Many Requests");
    Key(w, "type");
    w.String("https://httpstatus.es/429");
    Key(w, "status");
    w.Int(429);
    Key(w, "detail");
    w.String("You have sent too many requests in a given amount of time. Please try again later.");
    Key(w, "retry_after");
    w.Int(retry_after_seconds);
    w.EndObject();
    response = HttpResponse::WithBody(429, kProblemJson, Finish(buffer));
  }
  if (retry_after_header)
    response.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  return response;
}

HttpResponse InjectedStatus(const FaultRule& rule, uint64_t random) {
  const int status = rule.status;
  const bool html = rule.body == FaultBody::kHtml ||
                    (rule.body == FaultBody::kDefault &&
                     (status == 403 || status == 502 || status == 503 || status == 504));
  if (status == 429) {
    return TooManyRequests(html, rule.retry_after_seconds, rule.retry_after_header);
  }
  if (html) return NginxPage(status);
  switch (status) {
    case 500: {
      rapidjson::StringBuffer buffer;
      JsonWriter w(buffer);
      w.StartObject();
      Key(w, "title");
      w.String("ErrInternalServer");
      Key(w, "type");
      w.String("https://httpstatus.es/500");
      Key(w, "status");
      w.Int(500);
      Key(w, "detail");
      w.String(
          "Our team is probably already working on the problem. If the error persists, contact "
          "support.");
      Key(w, "trace_id");
      Str(w, absl::StrFormat("%016x", random));
      w.EndObject();
      return HttpResponse::WithBody(500, kProblemJson, Finish(buffer));
    }
    case 401:
      return ProblemResponse(401, "Access token is invalid, expired or revoked");
    case 402:
      return ProblemResponse(402, "Payment required");
    case 403:
      return ProblemResponse(403, "Invalid scope");
    default:
      return ProblemResponse(status, ReasonPhrase(status));
  }
}

void MalformBody(HttpResponse* response) {
  if (response->body.empty()) {
    EnsureBody(response);
    response->body = R"({"_page":1,"_embedded":{"leads":[{"id":)";
  } else {
    // A proper prefix of a JSON object never parses (the object stays open), and the tail adds no
    // closing bracket or quote.
    response->body.resize(std::max<size_t>(1, response->body.size() / 2));
  }
  response->body += "<html><body>upstream error</body></html>";
}

void CutBody(const FaultRule& rule, HttpResponse* response) {
  EnsureBody(response);
  const size_t size = response->body.size();
  response->cut_body_at = std::min(rule.cut_at.value_or(size / 2), size - 1);
}

void SlowBody(const FaultRule& rule, HttpResponse* response) {
  EnsureBody(response);
  response->trickle_bytes = rule.chunk_bytes;
  response->trickle_interval = rule.chunk_interval;
}

}  // namespace kommo::emulator
