#include "emulator/request_log.h"

#include <openssl/evp.h>

#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

// Hex digits of SHA-256 kept in a fingerprint: 48 bits tell a test's tokens apart and give
// nothing away about a real token (a long random JWT).
constexpr size_t kFingerprintHexDigits = 12;

std::string Sha256Hex(std::string_view data, size_t hex_digits) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return std::string(hex_digits, '?');
  }
  std::string hex;
  for (unsigned int i = 0; i < length && hex.size() < hex_digits; ++i) {
    absl::StrAppendFormat(&hex, "%02x", digest[i]);
  }
  hex.resize(hex_digits);
  return hex;
}

// "2026-05-01T12:34:56.789Z"
std::string IsoTime(std::chrono::system_clock::time_point time) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  return absl::StrFormat("%s.%03dZ", buffer, static_cast<int>(ms % 1000));
}

bool Selected(const LoggedRequest& entry, const RequestFilter& filter) {
  return entry.sequence > filter.since &&
         (filter.method.empty() || entry.method == filter.method) &&
         std::string_view(entry.path).substr(0, filter.path_prefix.size()) == filter.path_prefix;
}

}  // namespace

std::string AuthorizationFingerprint(std::string_view authorization_value) {
  while (!authorization_value.empty() && authorization_value.front() == ' ') {
    authorization_value.remove_prefix(1);
  }
  if (authorization_value.empty()) return "";
  const size_t space = authorization_value.find(' ');
  if (space == std::string_view::npos) {
    return absl::StrCat("sha256:", Sha256Hex(authorization_value, kFingerprintHexDigits));
  }
  std::string_view credentials = authorization_value.substr(space + 1);
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  return absl::StrCat(AsAbsl(authorization_value.substr(0, space)),
                      " sha256:", Sha256Hex(credentials, kFingerprintHexDigits));
}

std::string RouteOf(std::string_view path) {
  std::string route;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (start > 0) route.push_back('/');
    if (!segment.empty() && DigitsOf(segment).size() == segment.size()) {
      route += "{id}";
    } else {
      route.append(segment);
    }
    start = end + 1;
  }
  return route;
}

uint64_t RequestLog::Begin(const HttpRequest& request, std::chrono::system_clock::time_point now) {
  const uint64_t sequence = next_sequence_++;
  if (limit_ == 0) {
    ++dropped_;
    return sequence;
  }
  LoggedRequest entry;
  entry.sequence = sequence;
  entry.time = now;
  entry.method = request.method;
  entry.path = request.path;
  entry.query = ParseQuery(request.query);
  entry.body = request.body;
  if (const std::string* authorization = request.Header("authorization")) {
    entry.authorization_present = true;
    entry.authorization = AuthorizationFingerprint(*authorization);
  }
  entry.request_id = request.request_id;
  entries_.push_back(std::move(entry));
  while (entries_.size() > limit_) {
    entries_.pop_front();
    ++dropped_;
  }
  return sequence;
}

void RequestLog::Complete(uint64_t sequence, const HttpRequest& request,
                          const RequestOutcome& outcome) {
  ++counts_[std::make_tuple(request.method, RouteOf(request.path), outcome.status)];
  if (entries_.empty() || sequence < entries_.front().sequence) return;
  const uint64_t index = sequence - entries_.front().sequence;
  if (index >= entries_.size()) return;
  LoggedRequest& entry = entries_[index];
  entry.completed = true;
  entry.status = outcome.status;
  entry.delivered = outcome.delivered;
  entry.fault = std::string(outcome.fault);
  entry.fault_id = outcome.fault_id;
  entry.delay = outcome.delay;
}

void RequestLog::Clear() {
  entries_.clear();
  counts_.clear();
  dropped_ = 0;
}

std::vector<LoggedRequest> RequestLog::Entries(const RequestFilter& filter) const {
  std::vector<LoggedRequest> selected;
  for (const LoggedRequest& entry : entries_) {
    if (Selected(entry, filter)) selected.push_back(entry);
  }
  if (filter.limit > 0 && selected.size() > filter.limit) {
    selected.erase(selected.begin(), selected.end() - static_cast<ptrdiff_t>(filter.limit));
  }
  return selected;
}

std::vector<RequestCount> RequestLog::Counts() const {
  std::vector<RequestCount> counts;
  for (const auto& [key, count] : counts_) {
    counts.push_back(RequestCount{std::get<0>(key), std::get<1>(key), std::get<2>(key), count});
  }
  return counts;
}

void WriteLoggedRequest(JsonWriter& w, const LoggedRequest& entry) {
  w.StartObject();
  Key(w, "seq");
  w.Uint64(entry.sequence);
  Key(w, "time");
  Str(w, IsoTime(entry.time));
  Key(w, "time_ms");
  w.Int64(
      std::chrono::duration_cast<std::chrono::milliseconds>(entry.time.time_since_epoch()).count());
  Key(w, "method");
  Str(w, entry.method);
  Key(w, "path");
  Str(w, entry.path);
  // {"name":["value", …]}: every value of a repeated name, in order.
  Key(w, "query");
  w.StartObject();
  std::vector<std::string> written;
  for (const auto& [name, value] : entry.query) {
    bool seen = false;
    for (const std::string& done : written) seen = seen || done == name;
    if (seen) continue;
    written.push_back(name);
    Key(w, name);
    w.StartArray();
    for (const auto& [other_name, other_value] : entry.query) {
      if (other_name == name) Str(w, other_value);
    }
    w.EndArray();
  }
  w.EndObject();
  Key(w, "body");
  Str(w, entry.body);
  Key(w, "authorization");
  if (entry.authorization_present) {
    Str(w, entry.authorization);
  } else {
    w.Null();
  }
  Key(w, "request_id");
  Str(w, entry.request_id);
  Key(w, "completed");
  w.Bool(entry.completed);
  Key(w, "status");
  if (entry.completed && entry.status != 0) {
    w.Int(entry.status);
  } else {
    w.Null();
  }
  Key(w, "delivered");
  w.Bool(entry.delivered);
  Key(w, "fault");
  if (entry.fault.empty()) {
    w.Null();
  } else {
    Str(w, entry.fault);
  }
  Key(w, "fault_id");
  if (entry.fault_id == 0) {
    w.Null();
  } else {
    w.Uint64(entry.fault_id);
  }
  Key(w, "delay_ms");
  w.Int64(entry.delay.count());
  w.EndObject();
}

std::string RequestLog::RenderEntries(const RequestFilter& filter) const {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "requests");
  w.StartArray();
  const std::vector<LoggedRequest> selected = Entries(filter);
  for (const LoggedRequest& entry : selected) WriteLoggedRequest(w, entry);
  w.EndArray();
  Key(w, "dropped");
  w.Uint64(dropped_);
  // Poll with ?since=<next_since> to get only what arrived after this answer.
  Key(w, "next_since");
  w.Uint64(next_sequence_ - 1);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string RequestLog::RenderCounts() const {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "counts");
  w.StartArray();
  uint64_t total = 0;
  for (const auto& [key, count] : counts_) {
    w.StartObject();
    Key(w, "method");
    Str(w, std::get<0>(key));
    Key(w, "path");
    Str(w, std::get<1>(key));
    Key(w, "status");
    if (std::get<2>(key) == 0) {
      w.Null();
    } else {
      w.Int(std::get<2>(key));
    }
    Key(w, "count");
    w.Uint64(count);
    w.EndObject();
    total += count;
  }
  w.EndArray();
  Key(w, "total");
  w.Uint64(total);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace kommo::emulator
