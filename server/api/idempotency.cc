#include "server/api/idempotency.h"

#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "server/common/clock.h"
#include "server/common/error_details.h"

namespace kommo::api {
namespace {

constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

// One string per key, unambiguous whatever characters the method and request_id hold: the
// method's length, ':', the method, then the request_id.
std::string EncodeKey(const IdempotencyKey& key) {
  return absl::StrCat(key.method.size(), ":", key.method, key.request_id);
}

absl::Status RequestIdReused() {
  return MakeError(absl::StatusCode::kInvalidArgument,
                   "request_id was already used with a different request within the retention "
                   "window; use a new request_id for a new request",
                   reason::kRequestIdReused);
}

}  // namespace

uint64_t Fnv1a64(absl::string_view bytes) {
  uint64_t hash = kFnvOffsetBasis;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

uint64_t Fingerprint(const google::protobuf::Message& request) {
  const google::protobuf::Message* hashed = &request;
  std::unique_ptr<google::protobuf::Message> copy;
  const google::protobuf::FieldDescriptor* field =
      request.GetDescriptor()->FindFieldByName("request_id");
  if (field != nullptr && !field->is_repeated() &&
      field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
    copy.reset(request.New());
    copy->CopyFrom(request);
    copy->GetReflection()->ClearField(copy.get(), field);
    hashed = copy.get();
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    // Map entries in key order, so equal requests serialize to equal bytes.
    coded.SetSerializationDeterministic(true);
    hashed->SerializeToCodedStream(&coded);
  }
  return Fnv1a64(bytes);
}

IdempotencyStore::IdempotencyStore(Options options)
    : retention_(options.retention),
      max_entries_(options.max_entries),
      clock_(options.clock ? std::move(options.clock) : std::function<absl::Time()>(MonotonicNow)) {
}

bool IdempotencyStore::KeepsAnswer(const absl::Status& status) {
  if (status.ok()) return true;
  const std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status);
  if (!info.has_value()) return false;
  if (info->reason() == reason::kWriteOutcomeUnknown || info->reason() == reason::kReadBackFailed) {
    return true;
  }
  const auto& metadata = info->metadata();
  const auto written = metadata.find("written");
  if (written != metadata.end() && written->second == "true") return true;
  return metadata.find("outcome") != metadata.end();
}

absl::StatusOr<IdempotencyStore::Started> IdempotencyStore::Start(const IdempotencyKey& key,
                                                                  uint64_t fingerprint,
                                                                  Deliver deliver) {
  std::string encoded = EncodeKey(key);
  Answer replay;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_();
    DropExpiredLocked(now);
    auto it = entries_.find(encoded);
    if (it != entries_.end() && it->second.finished && it->second.expires_at <= now) {
      // Only reachable if the clock went back; retention is over all the same.
      EraseFinishedLocked(it->second.order);
      ++stats_.expired;
      it = entries_.end();
    }
    if (it != entries_.end()) {
      Entry& entry = it->second;
      if (entry.fingerprint != fingerprint) {
        ++stats_.reused_rejected;
        return RequestIdReused();
      }
      if (!entry.finished) {
        const Ticket ticket = next_ticket_++;
        entry.waiters.push_back(Waiter{ticket, std::move(deliver)});
        ++stats_.joined;
        return Started{Outcome::kJoined, ticket};
      }
      replay = entry.answer;
      ++stats_.replayed;
    } else {
      while (entries_.size() >= max_entries_ && !finished_order_.empty()) {
        EraseFinishedLocked(finished_order_.begin());
        ++stats_.evicted;
      }
      Entry& entry = entries_[std::move(encoded)];
      entry.fingerprint = fingerprint;
      const Ticket ticket = next_ticket_++;
      entry.waiters.push_back(Waiter{ticket, std::move(deliver)});
      ++stats_.started;
      return Started{Outcome::kRun, ticket};
    }
  }
  deliver(std::move(replay));
  return Started{Outcome::kReplayed, 0};
}

bool IdempotencyStore::Abandon(const IdempotencyKey& key, Ticket ticket) {
  Deliver dropped;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(EncodeKey(key));
  if (it == entries_.end() || it->second.finished) return false;
  std::vector<Waiter>& waiters = it->second.waiters;
  for (auto waiter = waiters.begin(); waiter != waiters.end(); ++waiter) {
    if (waiter->ticket != ticket) continue;
    dropped = std::move(waiter->deliver);
    waiters.erase(waiter);
    return true;
  }
  return false;
}

bool IdempotencyStore::Finish(const IdempotencyKey& key, Answer answer) {
  const bool keep = KeepsAnswer(answer.status);
  return Settle(key, std::move(answer), keep);
}

bool IdempotencyStore::Release(const IdempotencyKey& key, Answer answer) {
  return Settle(key, std::move(answer), /*keep=*/false);
}

bool IdempotencyStore::Settle(const IdempotencyKey& key, Answer answer, bool keep) {
  if (!answer.status.ok()) answer.response.clear();
  std::vector<Waiter> waiters;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(EncodeKey(key));
    if (it == entries_.end() || it->second.finished) return false;
    Entry& entry = it->second;
    waiters.swap(entry.waiters);
    if (keep) {
      entry.finished = true;
      entry.answer = answer;
      entry.expires_at = clock_() + retention_;
      entry.order = finished_order_.insert(finished_order_.end(), &it->first);
    } else {
      entries_.erase(it);
      ++stats_.forgotten;
    }
  }
  for (size_t i = 0; i < waiters.size(); ++i) {
    if (i + 1 == waiters.size()) {
      waiters[i].deliver(std::move(answer));
    } else {
      waiters[i].deliver(answer);
    }
  }
  return true;
}

void IdempotencyStore::Sweep(absl::Time now) {
  absl::MutexLock lock(&mu_);
  DropExpiredLocked(now);
}

size_t IdempotencyStore::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

IdempotencyStore::Stats IdempotencyStore::stats() const {
  absl::MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.size = entries_.size();
  stats.in_flight = entries_.size() - finished_order_.size();
  return stats;
}

void IdempotencyStore::DropExpiredLocked(absl::Time now) {
  while (!finished_order_.empty()) {
    const auto it = entries_.find(*finished_order_.front());
    if (it->second.expires_at > now) return;
    EraseFinishedLocked(finished_order_.begin());
    ++stats_.expired;
  }
}

void IdempotencyStore::EraseFinishedLocked(std::list<const std::string*>::iterator order_position) {
  const auto it = entries_.find(**order_position);
  finished_order_.erase(order_position);
  entries_.erase(it);
}

}  // namespace kommo::api
