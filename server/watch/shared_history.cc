#include "server/watch/shared_history.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/common/error_details.h"

namespace kommo::watch {
namespace {

constexpr char kEntryVersion[] = "c1";
constexpr char kGapVersion[] = "g1";

// KEYS[1] the lease; ARGV: replica, lease ms. 1 when this replica holds the lease now.
constexpr char kLeadScript[] = R"lua(
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua";

// KEYS[1] the lease; ARGV: replica.
constexpr char kReleaseScript[] = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

// KEYS: state, stream; ARGV: first id to read ("0-<seq>"), count.
constexpr char kReadScript[] = R"lua(
local s = redis.call('HMGET', KEYS[1], 'epoch', 'covered_from', 'watermark', 'last_seq')
if not s[1] then return {0} end
local entries = redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])
return {1, s[1], s[2] or '0', s[3] or '0', s[4] or '0', entries}
)lua";

// KEYS: state, stream, lease; ARGV: replica, expected last seq, epoch, covered_from, watermark,
// max length, count, then the entries. Errors NOTLEADER or STALE; else the new last seq.
constexpr char kAppendScript[] = R"lua(
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return redis.error_reply('NOTLEADER') end
if redis.call('HEXISTS', KEYS[1], 'epoch') == 0 then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[3], 'covered_from', ARGV[4], 'watermark', ARGV[4],
             'last_seq', '0')
end
local last = tonumber(redis.call('HGET', KEYS[1], 'last_seq'))
if last ~= tonumber(ARGV[2]) then return redis.error_reply('STALE') end
local n = tonumber(ARGV[7])
for i = 1, n do
  last = last + 1
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], string.format('0-%d', last), 'c', ARGV[7 + i])
end
local watermark = tonumber(redis.call('HGET', KEYS[1], 'watermark'))
if tonumber(ARGV[5]) > watermark then redis.call('HSET', KEYS[1], 'watermark', ARGV[5]) end
redis.call('HSET', KEYS[1], 'last_seq', string.format('%d', last))
return last
)lua";

const redis::RedisClient::Script& Script(const char* source) {
  // One per source text; the four scripts above.
  static auto* lead = new redis::RedisClient::Script(redis::RedisClient::MakeScript(kLeadScript));
  static auto* release =
      new redis::RedisClient::Script(redis::RedisClient::MakeScript(kReleaseScript));
  static auto* read = new redis::RedisClient::Script(redis::RedisClient::MakeScript(kReadScript));
  static auto* append =
      new redis::RedisClient::Script(redis::RedisClient::MakeScript(kAppendScript));
  if (source == kLeadScript) return *lead;
  if (source == kReleaseScript) return *release;
  if (source == kReadScript) return *read;
  return *append;
}

std::string Optional(const std::optional<int64_t>& value) {
  return value.has_value() ? absl::StrCat(*value) : std::string();
}
std::string Stage(const std::optional<std::pair<int64_t, int64_t>>& stage) {
  return stage.has_value() ? absl::StrCat(stage->first, ":", stage->second) : std::string();
}
bool ParseOptional(absl::string_view text, std::optional<int64_t>* out) {
  if (text.empty()) return true;
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) return false;
  *out = value;
  return true;
}
bool ParseStage(absl::string_view text, std::optional<std::pair<int64_t, int64_t>>* out) {
  if (text.empty()) return true;
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, ':');
  std::pair<int64_t, int64_t> stage;
  if (!absl::SimpleAtoi(parts.first, &stage.first) ||
      !absl::SimpleAtoi(parts.second, &stage.second)) {
    return false;
  }
  *out = stage;
  return true;
}

absl::Status BadReply(absl::string_view what) {
  return MakeError(absl::StatusCode::kInternal,
                   absl::StrCat("unexpected Redis reply for the change history: ", what),
                   reason::kInternal);
}

}  // namespace

std::string EncodeEntry(const SharedEntry& entry) {
  if (entry.gap) return absl::StrCat(kGapVersion, "\t", entry.gap_until);
  const mapping::KommoEvent& event = entry.change.event;
  return absl::StrJoin(
      {std::string(kEntryVersion), absl::StrCat(static_cast<int>(entry.change.kind)),
       absl::CEscape(event.id), absl::CEscape(event.type), absl::CEscape(event.entity_type),
       absl::StrCat(event.entity_id), absl::StrCat(event.created_at),
       absl::StrCat(event.created_by), Stage(event.stage_before), Stage(event.stage_after),
       Optional(event.responsible_before), Optional(event.responsible_after)},
      "\t");
}

std::optional<SharedEntry> DecodeEntry(absl::string_view bytes) {
  const std::vector<absl::string_view> parts = absl::StrSplit(bytes, '\t');
  SharedEntry entry;
  if (parts.size() == 2 && parts[0] == kGapVersion) {
    entry.gap = true;
    if (!absl::SimpleAtoi(parts[1], &entry.gap_until)) return std::nullopt;
    return entry;
  }
  if (parts.size() != 12 || parts[0] != kEntryVersion) return std::nullopt;
  int kind = 0;
  mapping::KommoEvent& event = entry.change.event;
  if (!absl::SimpleAtoi(parts[1], &kind) || !v1::ChangeKind_IsValid(kind) ||
      !absl::CUnescape(parts[2], &event.id) || !absl::CUnescape(parts[3], &event.type) ||
      !absl::CUnescape(parts[4], &event.entity_type) ||
      !absl::SimpleAtoi(parts[5], &event.entity_id) ||
      !absl::SimpleAtoi(parts[6], &event.created_at) ||
      !absl::SimpleAtoi(parts[7], &event.created_by) ||
      !ParseStage(parts[8], &event.stage_before) || !ParseStage(parts[9], &event.stage_after) ||
      !ParseOptional(parts[10], &event.responsible_before) ||
      !ParseOptional(parts[11], &event.responsible_after)) {
    return std::nullopt;
  }
  entry.change.kind = static_cast<v1::ChangeKind>(kind);
  return entry;
}

SharedHistory::SharedHistory(redis::RedisClient* redis, SharedHistoryOptions options)
    : redis_(redis), options_(std::move(options)) {}

std::string SharedHistory::Key(const char* what) const {
  return absl::StrCat("kommo:{", options_.account, "}:watch:", what);
}

void SharedHistory::Lead(absl::AnyInvocable<void(absl::StatusOr<bool>)> done) {
  redis_->Eval(Script(kLeadScript), {Key("lease")},
               {options_.replica_id, absl::StrCat(absl::ToInt64Milliseconds(options_.lease))},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) mutable {
                 if (!reply.ok()) return done(reply.status());
                 if (reply->type != redis::Reply::Type::kInteger) {
                   return done(BadReply("lease"));
                 }
                 done(reply->integer == 1);
               });
}

void SharedHistory::Release() {
  redis_->Eval(Script(kReleaseScript), {Key("lease")}, {options_.replica_id},
               [](absl::StatusOr<redis::Reply>) {});
}

void SharedHistory::Read(uint64_t after_seq, size_t max,
                         absl::AnyInvocable<void(absl::StatusOr<Snapshot>)> done) {
  redis_->Eval(
      Script(kReadScript), {Key("state"), Key("stream")},
      {absl::StrCat("0-", after_seq + 1), absl::StrCat(max)},
      [done = std::move(done)](absl::StatusOr<redis::Reply> reply) mutable {
        if (!reply.ok()) return done(reply.status());
        using Type = redis::Reply::Type;
        const std::vector<redis::Reply>& top = reply->elements;
        if (reply->type != Type::kArray || top.empty() || top[0].type != Type::kInteger) {
          return done(BadReply("read"));
        }
        Snapshot snapshot;
        if (top[0].integer == 0) return done(std::move(snapshot));
        if (top.size() != 6 || top[5].type != Type::kArray ||
            !absl::SimpleAtoi(top[1].str, &snapshot.epoch) ||
            !absl::SimpleAtoi(top[2].str, &snapshot.covered_from) ||
            !absl::SimpleAtoi(top[3].str, &snapshot.watermark) ||
            !absl::SimpleAtoi(top[4].str, &snapshot.last_seq)) {
          return done(BadReply("state"));
        }
        snapshot.initialized = true;
        for (const redis::Reply& item : top[5].elements) {
          // [id, [field, value]]
          if (item.type != Type::kArray || item.elements.size() != 2 ||
              item.elements[1].type != Type::kArray || item.elements[1].elements.size() != 2) {
            return done(BadReply("stream entry"));
          }
          const std::string& id = item.elements[0].str;
          uint64_t seq = 0;
          if (id.rfind("0-", 0) != 0 || !absl::SimpleAtoi(absl::string_view(id).substr(2), &seq)) {
            return done(BadReply("stream entry id"));
          }
          std::optional<SharedEntry> entry = DecodeEntry(item.elements[1].elements[1].str);
          if (!entry.has_value()) return done(BadReply("stream entry"));
          entry->seq = seq;
          snapshot.entries.push_back(std::move(*entry));
        }
        done(std::move(snapshot));
      });
}

void SharedHistory::Append(uint64_t expected_last_seq, uint64_t epoch, int64_t covered_from,
                           int64_t watermark, const std::vector<SharedEntry>& entries,
                           absl::AnyInvocable<void(absl::StatusOr<Appended>)> done) {
  std::vector<std::string> args = {options_.replica_id,         absl::StrCat(expected_last_seq),
                                   absl::StrCat(epoch),         absl::StrCat(covered_from),
                                   absl::StrCat(watermark),     absl::StrCat(options_.max_len),
                                   absl::StrCat(entries.size())};
  for (const SharedEntry& entry : entries) args.push_back(EncodeEntry(entry));
  redis_->Eval(Script(kAppendScript), {Key("state"), Key("stream"), Key("lease")}, std::move(args),
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) mutable {
                 Appended appended;
                 if (!reply.ok()) {
                   const absl::string_view message = reply.status().message();
                   if (reply.status().code() == absl::StatusCode::kFailedPrecondition &&
                       message.find("NOTLEADER") != absl::string_view::npos) {
                     appended.refusal = Refusal::kNotLeader;
                     return done(appended);
                   }
                   if (reply.status().code() == absl::StatusCode::kFailedPrecondition &&
                       message.find("STALE") != absl::string_view::npos) {
                     appended.refusal = Refusal::kStale;
                     return done(appended);
                   }
                   return done(reply.status());
                 }
                 if (reply->type != redis::Reply::Type::kInteger) {
                   return done(BadReply("append"));
                 }
                 appended.last_seq = static_cast<uint64_t>(reply->integer);
                 done(appended);
               });
}

}  // namespace kommo::watch
