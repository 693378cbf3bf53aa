#include "server/auth/callers.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/error_details.h"
#include "server/common/log.h"

namespace kommo::auth {
namespace {

absl::Status Bad(absl::string_view where, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", problem));
}

bool SaneName(absl::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

bool IsHex64(absl::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), absl::ascii_isxdigit);
}

// The string array member `key` of `object` (absent: empty).
absl::StatusOr<std::vector<std::string>> Strings(const rapidjson::Value& object, const char* key,
                                                 absl::string_view where) {
  std::vector<std::string> out;
  auto it = object.FindMember(key);
  if (it == object.MemberEnd()) return out;
  if (!it->value.IsArray()) return Bad(where, absl::StrCat("\"", key, "\" must be an array"));
  for (const rapidjson::Value& each : it->value.GetArray()) {
    if (!each.IsString() || each.GetStringLength() == 0) {
      return Bad(where, absl::StrCat("\"", key, "\" must hold non-empty strings"));
    }
    out.emplace_back(each.GetString(), each.GetStringLength());
  }
  return out;
}

absl::StatusOr<CallerEntry> ParseCaller(const rapidjson::Value& value, size_t index,
                                        const std::vector<std::string>& known_methods) {
  std::string where = absl::StrCat("callers[", index, "]");
  if (!value.IsObject()) return Bad(where, "must be an object");
  CallerEntry entry;
  auto name = value.FindMember("name");
  if (name == value.MemberEnd() || !name->value.IsString() ||
      !SaneName(absl::string_view(name->value.GetString(), name->value.GetStringLength()))) {
    return Bad(where, "\"name\" must be 1 to 64 letters, digits, '-', '_' or '.'");
  }
  entry.name.assign(name->value.GetString(), name->value.GetStringLength());
  where = absl::StrCat(where, " (", entry.name, ")");
  for (auto member = value.MemberBegin(); member != value.MemberEnd(); ++member) {
    const absl::string_view key(member->name.GetString(), member->name.GetStringLength());
    if (key != "name" && key != "tokens" && key != "certificate_identities" && key != "methods" &&
        key != "weight") {
      return Bad(where, absl::StrCat("unknown member \"", key,
                                     "\" (name, tokens, certificate_identities, methods, weight)"));
    }
  }
  if (auto tokens = value.FindMember("tokens"); tokens != value.MemberEnd()) {
    if (!tokens->value.IsArray()) return Bad(where, "\"tokens\" must be an array");
    size_t t = 0;
    for (const rapidjson::Value& token : tokens->value.GetArray()) {
      const std::string at = absl::StrCat(where, " tokens[", t++, "]");
      if (!token.IsObject()) return Bad(at, "must be an object {\"sha256\", \"expires\"}");
      auto sha = token.FindMember("sha256");
      if (sha == token.MemberEnd() || !sha->value.IsString() ||
          !IsHex64(absl::string_view(sha->value.GetString(), sha->value.GetStringLength()))) {
        return Bad(at,
                   "\"sha256\" must be the token's SHA-256 in 64 hex digits (the token itself is "
                   "never stored: printf %s \"$TOKEN\" | sha256sum)");
      }
      CallerToken parsed;
      parsed.sha256 = absl::HexStringToBytes(
          absl::AsciiStrToLower(absl::string_view(sha->value.GetString(), 64)));
      if (auto expires = token.FindMember("expires"); expires != token.MemberEnd()) {
        std::string error;
        if (!expires->value.IsString() ||
            !absl::ParseTime(absl::RFC3339_full, expires->value.GetString(), &parsed.expires,
                             &error)) {
          return Bad(at, "\"expires\" must be an RFC 3339 time such as 2027-06-30T00:00:00Z");
        }
      }
      entry.tokens.push_back(std::move(parsed));
    }
  }
  absl::StatusOr<std::vector<std::string>> identities =
      Strings(value, "certificate_identities", where);
  if (!identities.ok()) return identities.status();
  entry.certificate_identities = *std::move(identities);
  if (entry.tokens.empty() && entry.certificate_identities.empty()) {
    return Bad(where, "needs \"tokens\" or \"certificate_identities\" (or both)");
  }
  absl::StatusOr<std::vector<std::string>> methods = Strings(value, "methods", where);
  if (!methods.ok()) return methods.status();
  if (methods->empty()) return Bad(where, "\"methods\" must list at least one method pattern");
  for (const std::string& pattern : *methods) {
    const bool shaped = pattern == "*" || (absl::StrContains(pattern, '/') &&
                                           pattern.find('*') >= pattern.size() - 1);
    const bool matches =
        shaped && std::any_of(known_methods.begin(), known_methods.end(),
                              [&](const std::string& m) { return MethodMatches(pattern, m); });
    if (!matches) {
      return Bad(where, absl::StrCat("method pattern \"", pattern,
                                     "\" matches no method of this server (use \"*\", "
                                     "\"kommo.v1.LeadService/*\", \"kommo.v1.LeadService/Get*\" or "
                                     "a full name such as \"kommo.v1.LeadService/GetLead\")"));
    }
  }
  entry.methods = *std::move(methods);
  if (auto weight = value.FindMember("weight"); weight != value.MemberEnd()) {
    if (!weight->value.IsNumber() || weight->value.GetDouble() < 0.01 ||
        weight->value.GetDouble() > 1000) {
      return Bad(where, "\"weight\" must be a number from 0.01 to 1000");
    }
    entry.weight = weight->value.GetDouble();
  }
  return entry;
}

// Reads and parses the callers file; `*identity` is the version read.
absl::StatusOr<CallerTable> ReadCallers(const AuthorizerOptions& options, FileIdentity* identity) {
  *identity = FileIdentity();
  IdentityOf(options.callers_file, identity);
  std::ifstream file(options.callers_file);
  if (!file) return absl::InvalidArgumentError(absl::StrCat("cannot read ", options.callers_file));
  std::stringstream contents;
  contents << file.rdbuf();
  return CallerTable::Parse(contents.str(), options.known_methods);
}

absl::Status Unauthenticated(absl::string_view message, absl::string_view problem) {
  return MakeError(absl::StatusCode::kUnauthenticated, message, reason::kCallerUnauthenticated,
                   {{"problem", std::string(problem)}});
}

}  // namespace

bool MethodMatches(absl::string_view pattern, absl::string_view method) {
  if (pattern == "*") return true;
  if (absl::EndsWith(pattern, "*")) {
    return absl::StartsWith(method, pattern.substr(0, pattern.size() - 1));
  }
  return pattern == method;
}

std::string Sha256(absl::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

absl::StatusOr<CallerTable> CallerTable::Parse(absl::string_view json,
                                               const std::vector<std::string>& known_methods) {
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError()) {
    return Bad(
        absl::StrCat("offset ", document.GetErrorOffset()),
        absl::StrCat("not valid JSON: ", rapidjson::GetParseError_En(document.GetParseError())));
  }
  if (!document.IsObject()) return Bad("top level", "must be an object {\"callers\": [...]}");
  auto callers = document.FindMember("callers");
  if (callers == document.MemberEnd() || !callers->value.IsArray()) {
    return Bad("top level", "\"callers\" must be an array");
  }
  CallerTable table;
  std::set<std::string> names;
  std::set<std::string> hashes;
  std::set<std::string> identities;
  size_t index = 0;
  for (const rapidjson::Value& value : callers->value.GetArray()) {
    absl::StatusOr<CallerEntry> entry = ParseCaller(value, index++, known_methods);
    if (!entry.ok()) return entry.status();
    if (!names.insert(entry->name).second) {
      return Bad(absl::StrCat("callers[", index - 1, "]"),
                 absl::StrCat("the name \"", entry->name, "\" is used twice"));
    }
    for (const CallerToken& token : entry->tokens) {
      if (!hashes.insert(token.sha256).second) {
        return Bad(absl::StrCat("callers[", index - 1, "] (", entry->name, ")"),
                   "a token hash is listed twice (each token names one caller)");
      }
    }
    for (const std::string& identity : entry->certificate_identities) {
      if (!identities.insert(identity).second) {
        return Bad(absl::StrCat("callers[", index - 1, "] (", entry->name, ")"),
                   absl::StrCat("certificate identity \"", identity,
                                "\" is listed twice (each identity names one caller)"));
      }
    }
    table.callers_.push_back(*std::move(entry));
  }
  return table;
}

absl::StatusOr<Caller> Decide(const CallerTable& table, const Credentials& credentials,
                              absl::string_view method, absl::Time now) {
  const CallerEntry* found = nullptr;
  if (!credentials.authorization.empty()) {
    if (credentials.authorization.size() > 1) {
      return Unauthenticated("send one 'authorization' metadata entry, not several", "malformed");
    }
    absl::string_view value = credentials.authorization.front();
    constexpr absl::string_view kScheme = "bearer ";
    if (value.size() <= kScheme.size() ||
        !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
      return Unauthenticated(
          "the 'authorization' metadata must be 'Bearer <token>' (the token was not checked)",
          "malformed");
    }
    const std::string hash = Sha256(absl::StripAsciiWhitespace(value.substr(kScheme.size())));
    const CallerToken* matched = nullptr;
    // Every hash is compared, in constant time each, so the time taken does not say which
    // caller's token was nearly right.
    for (const CallerEntry& entry : table.callers()) {
      for (const CallerToken& token : entry.tokens) {
        if (CRYPTO_memcmp(token.sha256.data(), hash.data(), hash.size()) == 0) {
          found = &entry;
          matched = &token;
        }
      }
    }
    if (found == nullptr) {
      return Unauthenticated("the bearer token is not one the callers file knows", "unknown");
    }
    if (matched->expires <= now) {
      return Unauthenticated(
          absl::StrCat("the bearer token of caller ", found->name, " expired at ",
                       absl::FormatTime(absl::RFC3339_sec, matched->expires, absl::UTCTimeZone())),
          "expired");
    }
  } else {
    for (const CallerEntry& entry : table.callers()) {
      for (const std::string& identity : entry.certificate_identities) {
        if (std::find(credentials.peer_identities.begin(), credentials.peer_identities.end(),
                      identity) != credentials.peer_identities.end()) {
          found = &entry;
          break;
        }
      }
      if (found != nullptr) break;
    }
    if (found == nullptr) {
      if (!credentials.misplaced_token_keys.empty()) {
        return Unauthenticated(
            absl::StrCat("send the token as 'authorization: Bearer <token>', not in '",
                         absl::StrJoin(credentials.misplaced_token_keys, "', '"),
                         "' (the token was not checked)"),
            "wrong_place");
      }
      if (!credentials.peer_identities.empty()) {
        return Unauthenticated(
            absl::StrCat("the client certificate (",
                         absl::StrJoin(credentials.peer_identities, ", "),
                         ") names no caller in the callers file, and no bearer token was sent"),
            "unknown_certificate");
      }
      return Unauthenticated(
          "this server needs credentials: 'authorization: Bearer <token>' metadata or a client "
          "certificate the callers file names",
          "missing");
    }
  }
  for (const std::string& pattern : found->methods) {
    if (MethodMatches(pattern, method)) return Caller{found->name, found->weight};
  }
  return MakeError(absl::StatusCode::kPermissionDenied,
                   absl::StrCat("caller ", found->name, " may not call ", method),
                   reason::kMethodNotPermitted,
                   {{"caller", found->name}, {"method", std::string(method)}});
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(AuthorizerOptions options) {
  std::unique_ptr<Authorizer> authorizer(new Authorizer(std::move(options)));
  if (!authorizer->enabled()) return authorizer;
  FileIdentity identity;
  absl::StatusOr<CallerTable> table = ReadCallers(authorizer->options_, &identity);
  if (!table.ok()) return table.status();
  absl::MutexLock lock(&authorizer->mu_);
  authorizer->table_ = std::make_shared<const CallerTable>(*std::move(table));
  authorizer->stamp_ = identity;
  return authorizer;
}

size_t Authorizer::caller_count() const {
  absl::MutexLock lock(&mu_);
  return table_ == nullptr ? 0 : table_->callers().size();
}

void Authorizer::MaybeReload() {
  const int64_t now_ns = absl::GetCurrentTimeNanos();
  int64_t due = next_check_ns_.load(std::memory_order_relaxed);
  if (now_ns < due) return;
  if (!next_check_ns_.compare_exchange_strong(
          due, now_ns + absl::ToInt64Nanoseconds(options_.reload_check_interval))) {
    return;  // another call checks now
  }
  if (!reload_mu_.TryLock()) return;
  FileIdentity stamp;
  IdentityOf(options_.callers_file, &stamp);
  bool changed;
  {
    absl::MutexLock lock(&mu_);
    changed = stamp != stamp_;
  }
  if (changed) {
    absl::StatusOr<CallerTable> table = ReadCallers(options_, &stamp);
    absl::MutexLock lock(&mu_);
    stamp_ = stamp;  // a bad file is reported once, not on every check
    if (table.ok()) {
      const size_t count = table->callers().size();
      table_ = std::make_shared<const CallerTable>(*std::move(table));
      log::Info("callers file reloaded", {{"callers", static_cast<unsigned long>(count)}});
    } else {
      log::Error("callers file not reloaded; the previous one stays in force",
                 {{"error", table.status().message()}});
    }
  }
  reload_mu_.Unlock();
}

absl::StatusOr<Caller> Authorizer::Check(const Credentials& credentials, absl::string_view method) {
  if (!enabled()) {
    return Caller{
        credentials.peer_identities.empty() ? std::string() : credentials.peer_identities.front(),
        1};
  }
  for (const std::string& open : options_.open_methods) {
    if (MethodMatches(open, method)) {
      return Caller{
          credentials.peer_identities.empty() ? std::string() : credentials.peer_identities.front(),
          1};
    }
  }
  MaybeReload();
  std::shared_ptr<const CallerTable> table;
  {
    absl::MutexLock lock(&mu_);
    table = table_;
  }
  return Decide(*table, credentials, method, absl::Now());
}

}  // namespace kommo::auth
