#include "server/watch/change_history.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/error_details.h"

namespace kommo::watch {
namespace {

constexpr char kTokenVersion[] = "w1";
constexpr size_t kMaxEventIdLength = 64;

absl::Status InvalidToken(absl::string_view why) {
  return MakeInvalidArgument(absl::StrCat("invalid WatchRequest: resume_token ", why),
                             {{"resume_token", std::string(why)}});
}

bool SaneEventId(absl::string_view id) {
  if (id.size() > kMaxEventIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return absl::ascii_isalnum(c); });
}

}  // namespace

bool KeyAfter(const EventKey& a, const EventKey& b) {
  if (a.time != b.time) return a.time > b.time;
  return a.id > b.id;
}

std::string EncodeToken(const Position& position) {
  return absl::WebSafeBase64Escape(absl::StrCat(kTokenVersion, ".", position.epoch, ".",
                                                position.seq, ".", position.key.time, ".",
                                                position.key.id));
}

absl::StatusOr<Position> DecodeToken(absl::string_view token) {
  std::string text;
  if (token.size() > 256 || !absl::WebSafeBase64Unescape(token, &text)) {
    return InvalidToken("is not a token this service issued");
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  Position position;
  if (parts.size() != 5 || parts[0] != kTokenVersion ||
      !absl::SimpleAtoi(parts[1], &position.epoch) || !absl::SimpleAtoi(parts[2], &position.seq) ||
      !absl::SimpleAtoi(parts[3], &position.key.time) || position.key.time < 0 ||
      !SaneEventId(parts[4])) {
    return InvalidToken("is not a token this service issued");
  }
  position.key.id = std::string(parts[4]);
  return position;
}

ChangeHistory::ChangeHistory(uint64_t epoch, size_t capacity, int64_t covered_from)
    : epoch_(epoch),
      capacity_(std::max<size_t>(capacity, 1)),
      covered_from_(covered_from),
      watermark_(covered_from) {}

void ChangeHistory::Append(std::vector<Change> changes) {
  for (Change& change : changes) {
    change.seq = next_seq_++;
    changes_.push_back(std::make_shared<const Change>(std::move(change)));
  }
  while (changes_.size() > capacity_) {
    const EventKey key = changes_.front()->key();
    if (!evicted_ || KeyAfter(key, evicted_key_)) evicted_key_ = key;
    evicted_ = true;
    changes_.pop_front();
  }
}

void ChangeHistory::AdvanceWatermark(int64_t time) { watermark_ = std::max(watermark_, time); }

Position ChangeHistory::Head() const {
  return Position{epoch_, last_seq(), EventKey{watermark_, ""}};
}

void ChangeHistory::MarkGap(int64_t until) {
  const EventKey gap{until, ""};
  if (!evicted_ || KeyAfter(gap, evicted_key_)) evicted_key_ = gap;
  evicted_ = true;
  changes_.clear();
  ++next_seq_;  // a number no change has: every position before it is behind the gap
  watermark_ = std::max(watermark_, until);
}

void ChangeHistory::SkipTo(uint64_t seq, const EventKey& through) {
  if (seq <= next_seq_) return;
  if (!evicted_ || KeyAfter(through, evicted_key_)) evicted_key_ = through;
  evicted_ = true;
  changes_.clear();
  next_seq_ = seq;
}

absl::Status ChangeHistory::Expired(absl::string_view why) const {
  return MakeError(
      absl::StatusCode::kOutOfRange,
      absl::StrCat("resume_token is older than the change history this server keeps (", why,
                   "): list the entities again (ListLeads ordered by UPDATED_AT), then "
                   "watch from the resume_token in this error's metadata"),
      reason::kWatchHistoryExpired, {{"resume_token", EncodeToken(Head())}});
}

absl::StatusOr<ResumePoint> ChangeHistory::Resume(const Position& position) const {
  const uint64_t first_seq = changes_.empty() ? next_seq_ : changes_.front()->seq;
  if (position.epoch == epoch_) {
    if (position.seq > last_seq()) return InvalidToken("names a change this server never sent");
    // Every change after the token must still be here.
    if (position.seq + 1 < first_seq) return Expired("its changes were evicted");
    return ResumePoint{position.seq, false, {}};
  }
  // Another history's token (the server restarted): by Kommo's key.
  if (position.key.time < covered_from_) return Expired("it is from before this server's history");
  if (evicted_ && KeyAfter(evicted_key_, position.key)) {
    return Expired("its changes were evicted");
  }
  return ResumePoint{first_seq - 1, true, position.key};
}

uint64_t ChangeHistory::LastSeqBefore(int64_t time) const {
  uint64_t seq = last_seq();
  for (auto it = changes_.rbegin(); it != changes_.rend() && (*it)->event.created_at >= time;
       ++it) {
    seq = (*it)->seq - 1;
  }
  return seq;
}

std::vector<ChangePtr> ChangeHistory::After(uint64_t seq, size_t max) const {
  std::vector<ChangePtr> out;
  if (changes_.empty()) return out;
  const uint64_t first_seq = changes_.front()->seq;
  size_t index = seq < first_seq ? 0 : static_cast<size_t>(seq - first_seq + 1);
  for (; index < changes_.size() && out.size() < max; ++index) out.push_back(changes_[index]);
  return out;
}

}  // namespace kommo::watch
