// Fault injection, the rate limit and the account block: the rules' state and matching, their JSON
// form for the admin API, and the answers Kommo (or the nginx in front of it) gives when it fails.
// Everything here runs on the loop thread; time comes in as arguments (tests use fake time).
#ifndef KOMMO_EMULATOR_FAULTS_H_
#define KOMMO_EMULATOR_FAULTS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "emulator/emulator.h"
#include "emulator/http_message.h"
#include "emulator/render.h"

namespace kommo::emulator {

using SteadyTime = std::chrono::steady_clock::time_point;

// Upper bounds on delays an admin may ask for: far above any client timeout, far below "forever".
inline constexpr std::chrono::milliseconds kMaxFaultDelay = std::chrono::minutes(10);

// "latency", "status", "reset", "malformed_json", "cut_body", "slow_body".
std::string_view FaultActionName(FaultAction action);

// INVALID_ARGUMENT naming the field when a rule or a rate limit is out of range.
absl::Status ValidateFaultRule(const FaultRule& rule);
absl::Status ValidateRateLimit(const RateLimitOptions& options);

// The admin API's JSON (emulator/README.md). Every member is type-checked; unknown members and
// members that do not apply to the rule's kind are errors (INVALID_ARGUMENT with a message).
absl::StatusOr<RateLimitOptions> ParseRateLimit(std::string_view json);
// POST /_emulator/block: an empty body, or {"seconds": N} (0: until lifted).
absl::StatusOr<std::chrono::milliseconds> ParseBlockDuration(std::string_view json);

void WriteFaultRuleState(JsonWriter& w, const FaultRuleState& state);
void WriteRateLimit(JsonWriter& w, const RateLimitOptions& options);

// What the rules say about one request.
struct FaultDecision {
  std::chrono::milliseconds delay{0};  // latency rule + the action rule's own delay
  std::optional<FaultRule> action;     // the answer-changing rule, if one fired
  uint64_t action_id = 0;
};

class FaultSet {
 public:
  explicit FaultSet(uint64_t seed) : random_(seed) {}

  uint64_t Add(FaultRule rule);  // the caller validated it
  bool Remove(uint64_t id);
  void Clear() { rules_.clear(); }
  const std::vector<FaultRuleState>& rules() const { return rules_; }

  // Counts the request against every matching rule and picks the rules whose turn it is.
  FaultDecision Decide(std::string_view method, std::string_view path);

  uint64_t NextRandom() { return random_(); }

 private:
  std::vector<FaultRuleState> rules_;
  uint64_t next_id_ = 1;
  std::mt19937_64 random_;
};

// Refills continuously at `rate` tokens a second up to `capacity`; starts full.
class TokenBucket {
 public:
  TokenBucket(double rate, double capacity, SteadyTime now)
      : rate_(rate), capacity_(capacity), tokens_(capacity), last_(now) {}
  bool TryTake(SteadyTime now);
  double Available(SteadyTime now);

 private:
  void Refill(SteadyTime now);
  double rate_;
  double capacity_;
  double tokens_;
  SteadyTime last_;
};

// The rate limit and the block in front of the Kommo API.
class AccountGuard {
 public:
  enum class Verdict { kPass, kRateLimited, kBlocked };

  explicit AccountGuard(SteadyTime now) : bucket_(1, 1, now) {}

  // Replaces the limit; the bucket starts full and the consecutive 429s restart at 0. A block in
  // force stays.
  void Configure(const RateLimitOptions& options, SteadyTime now);
  const RateLimitOptions& options() const { return options_; }

  // One request arrives. A refused request counts towards the block; the one that reaches
  // `block_after` is still answered 429, the ones after it get kBlocked.
  Verdict Admit(SteadyTime now);

  // duration 0: until Unblock().
  void Block(SteadyTime now, std::chrono::milliseconds duration, std::string reason);
  void Unblock(SteadyTime now);
  bool blocked(SteadyTime now);

  // {"blocked":…,"reason":…,"remaining_ms":…,"consecutive_429":…,"rate_limited_total":…,
  //  "blocked_total":…,"tokens":…}
  void WriteState(JsonWriter& w, SteadyTime now);

 private:
  RateLimitOptions options_;
  TokenBucket bucket_;
  int consecutive_429_ = 0;
  bool blocked_ = false;
  std::string block_reason_;
  std::optional<SteadyTime> blocked_until_;
  uint64_t rate_limited_total_ = 0;
  uint64_t blocked_total_ = 0;
};

// --- answers
// ---------------------------------------------------------------------------------------

// An nginx error page (text/html, "Server: nginx", no X-Request-Id), e.g. the 403 of a block.
HttpResponse NginxPage(int status);
// Kommo's 429: problem+json with retry_after, or (html) nginx's page; Retry-After header optional.
HttpResponse TooManyRequests(bool html, int retry_after_seconds, bool retry_after_header);
// The answer of a kStatus rule; `random` makes the 500's trace_id.
HttpResponse InjectedStatus(const FaultRule& rule, uint64_t random);
// kMalformedJson: keeps status and headers, makes the body invalid JSON of a plausible start.
void MalformBody(HttpResponse* response);
// kCutBody / kSlowBody: marks the answer for faulty delivery by the HTTP server. A bodyless
// answer (204) becomes a 200 with a small JSON body first, so there is a body to cut or trickle.
void CutBody(const FaultRule& rule, HttpResponse* response);
void SlowBody(const FaultRule& rule, HttpResponse* response);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_FAULTS_H_
