#include "server/api/shared_idempotency.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"
#include "google/rpc/status.pb.h"
#include "server/common/error_details.h"
#include "server/common/log.h"

namespace kommo::api {
namespace {

// Milliseconds on Redis's clock, so that the replicas' clocks do not matter. A Lua number prints
// in full with %d (Redis's Lua keeps integers below 2^53 exact).
constexpr char kRedisNowMs[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
)lua";

// KEYS[1] the record; ARGV: fingerprint, owner replica, claim id, lease ms, retention ms.
// Returns {'new'} | {'reused'} | {'done', status, response} | {'lost', owner} |
// {'running', owner, lease ms left}.
constexpr char kClaimScript[] = R"lua(
local r = redis.call('HMGET', KEYS[1], 'fp', 'state', 'lease', 'owner', 'status', 'response')
if not r[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'running', 'owner', ARGV[2],
             'claim', ARGV[3], 'lease', string.format('%d', now + tonumber(ARGV[4])))
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return {'new'}
end
if r[1] ~= ARGV[1] then return {'reused'} end
if r[2] == 'done' then return {'done', r[5] or '', r[6] or ''} end
if r[2] == 'lost' then return {'lost', r[4] or ''} end
local lease = tonumber(r[3]) or 0
if lease <= now then
  redis.call('HSET', KEYS[1], 'state', 'lost')
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return {'lost', r[4] or ''}
end
return {'running', r[4] or '', string.format('%d', lease - now)}
)lua";

// KEYS[1] the record; ARGV: claim id, lease ms. 1 when renewed, 0 when the claim is no longer
// this one's running claim.
constexpr char kRenewScript[] = R"lua(
local r = redis.call('HMGET', KEYS[1], 'claim', 'state')
if r[1] ~= ARGV[1] or r[2] ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'lease', string.format('%d', now + tonumber(ARGV[2])))
return 1
)lua";

// KEYS[1] the record; ARGV: claim id, keep ('1' or '0'), status, response, retention ms,
// fingerprint, owner. Stores the answer (keep) or deletes the claim, unless the record belongs
// to another claim. A record that is gone (expired, or Redis restarted) is written again: the
// answer is the truth whoever asks next. Returns 1 when done, 0 for another claim's record.
constexpr char kFinishScript[] = R"lua(
local c = redis.call('HGET', KEYS[1], 'claim')
if c and c ~= ARGV[1] then return 0 end
if ARGV[2] ~= '1' then
  if c then redis.call('DEL', KEYS[1]) end
  return 1
end
redis.call('HSET', KEYS[1], 'fp', ARGV[6], 'owner', ARGV[7], 'claim', ARGV[1], 'state', 'done',
           'status', ARGV[3], 'response', ARGV[4])
redis.call('HDEL', KEYS[1], 'lease')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
)lua";

const redis::RedisClient::Script& ClaimScript() {
  static const auto* script = new redis::RedisClient::Script(
      redis::RedisClient::MakeScript(absl::StrCat(kRedisNowMs, kClaimScript)));
  return *script;
}
const redis::RedisClient::Script& RenewScript() {
  static const auto* script = new redis::RedisClient::Script(
      redis::RedisClient::MakeScript(absl::StrCat(kRedisNowMs, kRenewScript)));
  return *script;
}
const redis::RedisClient::Script& FinishScript() {
  static const auto* script =
      new redis::RedisClient::Script(redis::RedisClient::MakeScript(kFinishScript));
  return *script;
}

std::string RandomHex() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return absl::StrCat(absl::Hex(random(), absl::kZeroPad16), absl::Hex(random(), absl::kZeroPad16));
}

std::string Millis(absl::Duration duration) {
  return absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(duration)));
}

// The reply's elements as strings (integers printed); empty when it is not an array.
std::vector<std::string> Strings(const redis::Reply& reply) {
  std::vector<std::string> out;
  if (reply.type != redis::Reply::Type::kArray) return out;
  for (const redis::Reply& element : reply.elements) {
    out.push_back(element.type == redis::Reply::Type::kInteger ? absl::StrCat(element.integer)
                                                               : element.str);
  }
  return out;
}

absl::Status OwnerLost(absl::string_view owner) {
  return MakeError(
      absl::StatusCode::kUnavailable,
      "the call with this request_id was started on another replica, which stopped before it "
      "finished (its claim was not renewed): the write may or may not have reached Kommo; check "
      "(LookupContacts, SearchLeads, ListNotes) and create with a new request_id if it is missing",
      reason::kWriteOutcomeUnknown,
      {{"outcome", "unknown"}, {"owner_lost", "true"}, {"owner", std::string(owner)}});
}

absl::Status StillRunningElsewhere() {
  return MakeError(absl::StatusCode::kDeadlineExceeded,
                   "deadline exceeded while the call with this request_id was still running on "
                   "another replica; it goes on: repeat the call with the same request_id to get "
                   "its outcome",
                   reason::kWriteOutcomeUnknown, {{"outcome", "unknown"}, {"running", "true"}});
}

absl::Status Reused() {
  return MakeError(absl::StatusCode::kInvalidArgument,
                   "request_id was already used with a different request within the retention "
                   "window; use a new request_id for a new request",
                   reason::kRequestIdReused);
}

}  // namespace

std::string EncodeStatus(const absl::Status& status) {
  google::rpc::Status out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(std::string(status.message()));
  status.ForEachPayload([&out](absl::string_view type_url, const absl::Cord& payload) {
    google::protobuf::Any* any = out.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(payload));
  });
  return out.SerializeAsString();
}

std::optional<absl::Status> DecodeStatus(absl::string_view bytes) {
  google::rpc::Status in;
  if (!in.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || in.code() < 0 ||
      in.code() > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return std::nullopt;
  }
  if (in.code() == 0) return absl::OkStatus();
  absl::Status status(static_cast<absl::StatusCode>(in.code()), in.message());
  for (const google::protobuf::Any& any : in.details()) {
    status.SetPayload(any.type_url(), absl::Cord(any.value()));
  }
  return status;
}

struct SharedIdempotency::Claim {
  std::string redis_key;
  std::string claim_id;
  std::string fingerprint;
  // Redis said "new": the record is this claim's. False when Redis could not be asked (the call
  // runs per replica; its answer is still offered to Redis, which takes it only for a record
  // that is gone or is this claim's).
  bool confirmed = false;
  bool finished = false;
  bool lost_logged = false;
  EventLoop::TimerPtr timer;
};

struct SharedIdempotency::Join {
  std::string redis_key;
  std::string fingerprint;
  std::string claim_id;
  absl::Time deadline;
  absl::AnyInvocable<void(Acquired)> done;
  absl::Duration next_poll;
  bool joined = false;  // seen running on another replica
  EventLoop::TimerPtr timer;
};

struct SharedIdempotency::Metrics {
  metrics::Gauge shared;
  metrics::Counter* claims;
};

SharedIdempotency::SharedIdempotency(redis::RedisClient* redis, EventLoop* loop, Options options)
    : redis_(redis),
      loop_(loop),
      options_(std::move(options)),
      alive_(std::make_shared<bool>(true)) {
  if (options_.replica_id.empty()) options_.replica_id = RandomHex().substr(0, 12);
  if (options_.registry != nullptr) {
    metrics_ = std::make_unique<Metrics>(Metrics{
        options_.registry->AddGauge(
            "kommo_grpc_idempotency_shared",
            "1 while request_ids are claimed in Redis (shared by every replica), 0 while Redis "
            "is unavailable and each replica keeps its own."),
        options_.registry->AddCounter(
            "kommo_grpc_idempotency_claims_total",
            "request_ids claimed in Redis, by result: run (this replica runs the call), replayed, "
            "joined (running on another replica), reused, lost (its owner stopped mid-call), "
            "local (Redis unavailable: per replica).")});
    metrics_->shared.Set(1);
  }
}

void SharedIdempotency::CountError(const char* operation) {
  ++stats_.redis_errors;
  if (options_.redis_errors != nullptr)
    options_.redis_errors->Increment({{"operation", operation}});
}

SharedIdempotency::~SharedIdempotency() { *alive_ = false; }

std::string SharedIdempotency::RedisKey(const IdempotencyKey& key) const {
  // The method's length keeps "<method>:<request_id>" unambiguous (like the in-process store).
  return absl::StrCat("kommo:{", options_.account, "}:idem:", key.method.size(), ":", key.method,
                      ":", key.request_id);
}

void SharedIdempotency::Acquire(const IdempotencyKey& key, uint64_t fingerprint,
                                absl::Time deadline, absl::AnyInvocable<void(Acquired)> done) {
  auto join = std::make_shared<Join>();
  join->redis_key = RedisKey(key);
  join->fingerprint = absl::StrCat(fingerprint);
  join->claim_id = RandomHex();
  join->deadline = deadline;
  join->done = std::move(done);
  join->next_poll = options_.poll_min;
  Ask(std::move(join));
}

void SharedIdempotency::Ask(std::shared_ptr<Join> join) {
  redis_->Eval(ClaimScript(), {join->redis_key},
               {join->fingerprint, options_.replica_id, join->claim_id, Millis(options_.lease),
                Millis(options_.retention)},
               [this, alive = alive_, join](absl::StatusOr<redis::Reply> reply) mutable {
                 if (!*alive) return;
                 Answered(std::move(join), std::move(reply));
               });
}

void SharedIdempotency::Answered(std::shared_ptr<Join> join, absl::StatusOr<redis::Reply> reply) {
  auto count = [this](const char* result) {
    if (metrics_ != nullptr) metrics_->claims->Increment({{"result", result}});
  };
  std::vector<std::string> fields;
  if (reply.ok()) {
    fields = Strings(*reply);
    if (fields.empty()) {
      reply = MakeError(absl::StatusCode::kInternal, "unexpected reply to the claim script",
                        reason::kInternal);
    }
  }
  if (!reply.ok()) {
    CountError("claim");
    if (join->joined) return Retry(std::move(join));  // never run what another replica runs
    SetShared(false, reply.status());
    ++stats_.local_only;
    count("local");
    auto claim = std::make_shared<Claim>();
    claim->redis_key = join->redis_key;
    claim->claim_id = join->claim_id;
    claim->fingerprint = join->fingerprint;
    Acquired acquired;
    acquired.kind = Acquired::Kind::kRun;
    acquired.claim = std::move(claim);
    return join->done(std::move(acquired));
  }
  SetShared(true, absl::OkStatus());
  const std::string& what = fields[0];
  Acquired acquired;
  acquired.kind = Acquired::Kind::kAnswered;
  if (what == "new") {
    ++stats_.claimed;
    count("run");
    auto claim = std::make_shared<Claim>();
    claim->redis_key = join->redis_key;
    claim->claim_id = join->claim_id;
    claim->fingerprint = join->fingerprint;
    claim->confirmed = true;
    Renew(claim);
    acquired.kind = Acquired::Kind::kRun;
    acquired.claim = std::move(claim);
  } else if (what == "running") {
    if (!join->joined) {
      join->joined = true;
      ++stats_.joined;
      count("joined");
    }
    return Retry(std::move(join));
  } else if (what == "reused") {
    ++stats_.reused;
    count("reused");
    acquired.answer.status = Reused();
  } else if (what == "done" && fields.size() >= 3) {
    ++stats_.replayed;
    count("replayed");
    std::optional<absl::Status> status = DecodeStatus(fields[1]);
    if (status.has_value()) {
      acquired.answer.status = *status;
      if (status->ok()) acquired.answer.response = std::move(fields[2]);
    } else {
      acquired.answer.status = MakeError(absl::StatusCode::kInternal,
                                         "a shared answer could not be read", reason::kInternal);
      acquired.keep = false;
    }
  } else if (what == "lost") {
    ++stats_.lost;
    count("lost");
    const std::string owner = fields.size() >= 2 ? fields[1] : std::string();
    log::Warning(
        "idempotency: a call with a request_id was started on another replica that stopped "
        "before it finished; its repeats get WRITE_OUTCOME_UNKNOWN",
        {{"owner", owner}});
    acquired.answer.status = OwnerLost(owner);
  } else {
    acquired.answer.status = MakeError(absl::StatusCode::kInternal,
                                       "unexpected reply to the claim script", reason::kInternal);
    acquired.keep = false;
  }
  join->done(std::move(acquired));
}

void SharedIdempotency::Retry(std::shared_ptr<Join> join) {
  const absl::Time now = loop_->Now();
  if (now + join->next_poll > join->deadline) {
    Acquired acquired;
    acquired.kind = Acquired::Kind::kAnswered;
    acquired.answer.status = StillRunningElsewhere();
    acquired.keep = false;
    join->timer.reset();
    return join->done(std::move(acquired));
  }
  const absl::Time when = now + join->next_poll;
  join->next_poll = std::min(join->next_poll * 3 / 2, options_.poll_max);
  // The timer's task holds the join; the join holds only the handle (no cycle: the loop's queue
  // owns the task, and drops it when it ran or the loop stopped).
  Join* raw = join.get();
  raw->timer = loop_->RunAt(when, [this, alive = alive_, join = std::move(join)]() mutable {
    if (!*alive) return;
    Ask(std::move(join));
  });
}

void SharedIdempotency::Renew(std::shared_ptr<Claim> claim) {
  std::weak_ptr<Claim> weak = claim;
  claim->timer = loop_->RunAt(loop_->Now() + options_.lease / 3, [this, alive = alive_, weak] {
    if (!*alive) return;
    std::shared_ptr<Claim> held = weak.lock();
    if (held == nullptr || held->finished) return;
    redis_->Eval(RenewScript(), {held->redis_key}, {held->claim_id, Millis(options_.lease)},
                 [this, alive = alive_, weak](absl::StatusOr<redis::Reply> reply) {
                   if (!*alive) return;
                   std::shared_ptr<Claim> renewed = weak.lock();
                   if (renewed == nullptr || renewed->finished) return;
                   if (!reply.ok()) {
                     CountError("renew");
                   } else if (reply->type == redis::Reply::Type::kInteger && reply->integer == 0 &&
                              !renewed->lost_logged) {
                     renewed->lost_logged = true;
                     log::Warning(
                         "idempotency: this replica's claim of a request_id lapsed before its "
                         "call finished (Redis unreachable for longer than the lease); other "
                         "replicas answer its repeats WRITE_OUTCOME_UNKNOWN until it finishes");
                   }
                   Renew(std::move(renewed));
                 });
  });
}

void SharedIdempotency::Finish(const std::shared_ptr<Claim>& claim,
                               const IdempotencyStore::Answer& answer) {
  if (claim == nullptr || claim->finished) return;
  claim->finished = true;
  claim->timer.reset();
  const bool keep = IdempotencyStore::KeepsAnswer(answer.status);
  Store(claim, EncodeStatus(answer.status), answer.status.ok() ? answer.response : std::string(),
        keep, loop_->Now() + options_.store_retry_for);
}

void SharedIdempotency::Store(std::shared_ptr<Claim> claim, std::string status,
                              std::string response, bool keep, absl::Time give_up) {
  std::vector<std::string> args = {
      claim->claim_id,    keep ? "1" : "0",   status, response, Millis(options_.retention),
      claim->fingerprint, options_.replica_id};
  redis_->Eval(
      FinishScript(), {claim->redis_key}, std::move(args),
      [this, alive = alive_, claim, status = std::move(status), response = std::move(response),
       keep, give_up](absl::StatusOr<redis::Reply> reply) mutable {
        if (!*alive) return;
        if (reply.ok()) {
          if (claim->confirmed) SetShared(true, absl::OkStatus());
          return;
        }
        CountError("finish");
        if (!claim->confirmed) return;  // a per-replica call: offered once
        if (loop_->Now() + absl::Seconds(1) > give_up) {
          log::Warning(
              "idempotency: the answer of a call with a request_id could not be stored in Redis; "
              "other replicas answer its repeats WRITE_OUTCOME_UNKNOWN",
              {{"code", absl::StatusCodeToString(reply.status().code())}});
          return;
        }
        Claim* raw = claim.get();
        raw->timer = loop_->RunAt(
            loop_->Now() + absl::Seconds(1),
            [this, alive, claim = std::move(claim), status = std::move(status),
             response = std::move(response), keep, give_up]() mutable {
              if (!*alive) return;
              Store(std::move(claim), std::move(status), std::move(response), keep, give_up);
            });
      });
}

void SharedIdempotency::SetShared(bool shared, const absl::Status& why) {
  if (shared == stats_.shared) return;
  stats_.shared = shared;
  if (metrics_ != nullptr) metrics_->shared.Set(shared ? 1 : 0);
  if (shared) {
    log::Info("idempotency: Redis answers again; request_ids are shared by every replica");
  } else {
    log::Warning(
        "idempotency: Redis unavailable; request_ids are kept per replica until it returns (a "
        "repeat on another replica runs again)",
        {{"code", absl::StatusCodeToString(why.code())}, {"error", why.message()}});
  }
}

}  // namespace kommo::api
