#include "server/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kommo::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
std::atomic<void (*)(const std::string&)> sink{nullptr};

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetMinLevel(Level level) { min_level.store(static_cast<int>(level)); }

bool Enabled(Level level) { return static_cast<int>(level) >= min_level.load(); }

bool ParseLevel(absl::string_view text, Level* level) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "debug") {
    *level = Level::kDebug;
  } else if (lower == "info") {
    *level = Level::kInfo;
  } else if (lower == "warning" || lower == "warn") {
    *level = Level::kWarning;
  } else if (lower == "error") {
    *level = Level::kError;
  } else {
    return false;
  }
  return true;
}

Value::Value(double number) {
  json_ = std::isfinite(number) ? absl::StrCat(number) : std::string("null");
}

std::string Value::Quote(absl::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

namespace {

void Emit(Level level, absl::string_view message, Fields fields) {
  std::string line = absl::StrCat(
      "{\"ts\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", LevelName(level), "\",\"msg\":", Value::Quote(message));
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&line, ",", Value::Quote(key), ":", value.json());
  }
  line += "}\n";
  if (auto* custom = sink.load()) {
    custom(line);
    return;
  }
  // One write() per line: atomic for pipes up to PIPE_BUF and never interleaved mid-line with
  // other threads' lines in practice.
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t written = ::write(STDERR_FILENO, data, left);
    if (written <= 0) break;
    data += written;
    left -= static_cast<size_t>(written);
  }
}

}  // namespace

void Write(Level level, absl::string_view message, Fields fields) {
  if (Enabled(level)) Emit(level, message, fields);
}

void Audit(absl::string_view message, Fields fields) { Emit(Level::kInfo, message, fields); }

void SetSinkForTesting(void (*new_sink)(const std::string& line)) { sink.store(new_sink); }

}  // namespace kommo::log
