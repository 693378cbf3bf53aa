// kommo-emulator: a local Kommo (amoCRM) REST API v4 for tests, benchmarks and `make run`.
//
// Start it in-process on a free loopback port and point a Kommo client at base_url():
//
//   kommo::emulator::EmulatorOptions options;
//   options.token = "test-token";
//   auto emulator = kommo::emulator::Emulator::Start(options);  // StatusOr
//   // client base URL: (*emulator)->base_url() + "/api/v4", header "Authorization: Bearer
//   test-token"
//
// The emulator serves everything from one event-loop thread of its own. It starts empty apart from
// the seeded account, users, pipelines and contact custom fields whose ids are the constants below;
// leads and contacts get ids from kFirstLeadId / kFirstContactId upwards (above 2^31, as in real
// Kommo accounts). emulator/README.md documents the endpoints and their quirks.
//
// Tests can make it fail like Kommo (FaultRule: latency, injected statuses, resets, malformed,
// cut and slow bodies), enforce Kommo's rate limit and account block (RateLimitOptions), and read
// what a client sent (requests(), request_counts()). Every lead, contact and company write is
// recorded as Kommo's events (GET /api/v4/events, bounded by EventHistoryOptions) and delivered
// to subscribed webhooks (POST /api/v4/webhooks) on loopback, with Kommo's retries compressed by
// WebhookOptions::time_scale and lost, duplicated or reordered by WebhookFaultRule. Each is also
// switchable at start-up (EmulatorOptions, the binary's flags) and at run time over the admin HTTP
// API (/_emulator/...).
#ifndef KOMMO_EMULATOR_EMULATOR_H_
#define KOMMO_EMULATOR_EMULATOR_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kommo::emulator {

// --- Seeded reference data -------------------------------------------------------------------

inline constexpr int64_t kAccountId = 31000001;
inline constexpr char kAccountSubdomain[] = "emulator";
// When the emulator's account was "created" (fixed, so GET /account is stable); also the time
// its seeded reference data was made.
inline constexpr int64_t kAccountCreatedAt = 1700000000;

// Users. The admin is the user of EmulatorOptions::token (and of any token when none is set).
inline constexpr int64_t kAdminUserId = 8000001;
inline constexpr int64_t kManagerUserId = 8000002;  // not an admin: GET /users → 403
// Groups: the admin is in Kommo's default group 0, the manager in "Sales".
inline constexpr int64_t kDefaultGroupId = 0;
inline constexpr int64_t kSalesGroupId = 400001;

// The main pipeline (is_main: true). New leads land in kMainPipelineFirstStatusId by default.
inline constexpr int64_t kMainPipelineId = 7000001;
inline constexpr int64_t kMainPipelineIncomingStatusId = 60000001;  // "Incoming leads", type 1
inline constexpr int64_t kMainPipelineFirstStatusId = 60000002;     // "Initial contact"
inline constexpr int64_t kMainPipelineSecondStatusId = 60000003;    // "Negotiation"
// A second pipeline, same shape.
inline constexpr int64_t kSecondPipelineId = 7000002;
inline constexpr int64_t kSecondPipelineIncomingStatusId = 60000011;
inline constexpr int64_t kSecondPipelineFirstStatusId = 60000012;
inline constexpr int64_t kSecondPipelineSecondStatusId = 60000013;
// System stages shared by every pipeline (Kommo's fixed ids).
inline constexpr int64_t kWonStatusId = 142;
inline constexpr int64_t kLostStatusId = 143;

// Contact custom fields and their enums: PHONE and EMAIL (multitext) first.
inline constexpr int64_t kPhoneFieldId = 900001;        // field_code "PHONE"
inline constexpr int64_t kEmailFieldId = 900002;        // field_code "EMAIL"
inline constexpr int64_t kPhoneWorkEnumId = 1100001;    // WORK (the default enum)
inline constexpr int64_t kPhoneWorkDdEnumId = 1100002;  // WORKDD
inline constexpr int64_t kPhoneMobEnumId = 1100003;     // MOB
inline constexpr int64_t kPhoneFaxEnumId = 1100004;     // FAX
inline constexpr int64_t kPhoneHomeEnumId = 1100005;    // HOME
inline constexpr int64_t kPhoneOtherEnumId = 1100006;   // OTHER
inline constexpr int64_t kEmailWorkEnumId = 1100011;    // WORK (the default enum)
inline constexpr int64_t kEmailPrivEnumId = 1100012;    // PRIV
inline constexpr int64_t kEmailOtherEnumId = 1100013;   // OTHER
// The contacts' other fields, after PHONE and EMAIL: Kommo's predefined POSITION (text) and IM
// (multitext, instant messengers), and a birthday field made by hand (no code).
inline constexpr int64_t kPositionFieldId = 900003;         // text, field_code "POSITION"
inline constexpr int64_t kImFieldId = 900004;               // multitext, field_code "IM"
inline constexpr int64_t kContactBirthdayFieldId = 900005;  // birthday
inline constexpr int64_t kImSkypeEnumId = 1100021;          // SKYPE (the default enum)
inline constexpr int64_t kImIcqEnumId = 1100022;            // ICQ
inline constexpr int64_t kImJabberEnumId = 1100023;         // JABBER
inline constexpr int64_t kImGtalkEnumId = 1100024;          // GTALK
inline constexpr int64_t kImMsnEnumId = 1100025;            // MSN
inline constexpr int64_t kImOtherEnumId = 1100026;          // OTHER

// Lead custom fields, one of each type Kommo has besides multitext (user-made fields: no code,
// except the tracking field UTM_SOURCE), and their enums.
inline constexpr int64_t kUtmSourceFieldId = 910001;       // text, code "UTM_SOURCE"
inline constexpr int64_t kUnitsFieldId = 910002;           // numeric
inline constexpr int64_t kPaidFieldId = 910003;            // checkbox
inline constexpr int64_t kProductFieldId = 910004;         // select
inline constexpr int64_t kChannelsFieldId = 910005;        // multiselect
inline constexpr int64_t kPriorityFieldId = 910006;        // radiobutton
inline constexpr int64_t kFollowUpFieldId = 910007;        // date
inline constexpr int64_t kMeetingAtFieldId = 910008;       // date_time
inline constexpr int64_t kClientBirthdayFieldId = 910009;  // birthday
inline constexpr int64_t kLandingPageFieldId = 910010;     // url
inline constexpr int64_t kCommentFieldId = 910011;         // textarea
inline constexpr int64_t kProductBasicEnumId = 1200001;
inline constexpr int64_t kProductProEnumId = 1200002;
inline constexpr int64_t kProductEnterpriseEnumId = 1200003;
inline constexpr int64_t kChannelWhatsAppEnumId = 1200011;
inline constexpr int64_t kChannelTelegramEnumId = 1200012;
inline constexpr int64_t kChannelEmailEnumId = 1200013;
inline constexpr int64_t kPriorityLowEnumId = 1200021;
inline constexpr int64_t kPriorityHighEnumId = 1200022;
// Company custom fields: the contacts' PHONE and EMAIL (companies store their values under those
// ids), then the company's own.
inline constexpr int64_t kWebFieldId = 920001;       // url, code "WEB"
inline constexpr int64_t kAddressFieldId = 920002;   // textarea, code "ADDRESS"
inline constexpr int64_t kIndustryFieldId = 920003;  // select
inline constexpr int64_t kIndustryRetailEnumId = 1200031;
inline constexpr int64_t kIndustrySoftwareEnumId = 1200032;
inline constexpr int64_t kIndustryOtherEnumId = 1200033;

// Reasons a lead was lost (GET /leads/loss_reasons).
inline constexpr int64_t kLossTooExpensiveId = 1300001;
inline constexpr int64_t kLossCompetitorId = 1300002;
inline constexpr int64_t kLossNoAnswerId = 1300003;

// First ids handed out (then +1 each), also after a reset.
inline constexpr int64_t kFirstLeadId = 31000000001;
inline constexpr int64_t kFirstContactId = 52000000001;
inline constexpr int64_t kFirstCompanyId = 54000000001;
inline constexpr int64_t kFirstNoteId = 76000000001;
inline constexpr int64_t kFirstTaskId = 78000000001;
// Tags made by writes (tags_to_add, _embedded.tags); one sequence for leads, contacts and
// companies, whose tag catalogues are separate.
inline constexpr int64_t kFirstTagId = 79000000001;

// Task types: Kommo's two built-in ones, and one type of the account's own.
inline constexpr int64_t kTaskTypeCall = 1;
inline constexpr int64_t kTaskTypeMeeting = 2;
inline constexpr int64_t kCustomTaskTypeId = 2960001;  // "Send the offer"

// Kommo's limits as the emulator applies them.
inline constexpr int kMaxBatchItems = 250;   // POST/PATCH arrays above this → 422
inline constexpr int kMaxComplexItems = 50;  // POST /leads/complex above this → 400
// Duplicate control of /leads/complex merges into an existing contact only when at most this many
// contacts match (Kommo's documented rule: more than 3 duplicates → no merge).
inline constexpr int kMaxDuplicatesToMerge = 3;
inline constexpr int kDefaultPageLimit = 50;
inline constexpr int kMaxPageLimit = 250;  // a larger ?limit= is clamped to this

// --- Faults -------------------------------------------------------------------------------------

enum class FaultAction {
  kLatency,        // only the delay (and jitter); then the normal answer
  kStatus,         // an error answer with `status`: Kommo's problem+json or an nginx HTML page
  kReset,          // the connection is dropped with a TCP RST and no answer
  kMalformedJson,  // the real answer's status and headers with a body that is not valid JSON
  kCutBody,        // the real answer's head (full Content-Length), part of the body, then close
  kSlowBody,       // the real answer's head at once, then its body in small timed pieces
};

enum class FaultBody {
  kDefault,  // kStatus: HTML for 403, 502, 503 and 504 (as Kommo's nginx sends them), else JSON
  kJson,     // application/problem+json in Kommo's shape, with X-Request-Id
  kHtml,     // an nginx-style text/html page without X-Request-Id ("Server: nginx")
};

// One fault. A request matches when its method and path match; admin paths (/_emulator/...) never
// do. Of the rules whose turn it is, the first latency rule adds its delay and the first other
// rule decides the answer (rules are tried in the order they were added).
struct FaultRule {
  std::string method;       // "GET"; empty: any method
  std::string path_prefix;  // "/api/v4/leads" (also matches /api/v4/leads/pipelines); empty: any
  FaultAction action = FaultAction::kStatus;
  // The rule counts the requests it matches: the first `after` pass untouched, the next `times`
  // get the fault, later ones pass again. 0: every one until the rule is removed. Unset: 1, or
  // unlimited for kLatency.
  std::optional<int64_t> times;
  int64_t after = 0;
  // Wait this long (plus a uniform random extra in [0, jitter]) before answering. Waiting is a loop
  // timer, so thousands of delayed requests cost no threads.
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds jitter{0};
  // kStatus: the status (400..599) and the body style.
  int status = 0;
  FaultBody body = FaultBody::kDefault;
  // kStatus 429: "retry_after" (seconds) in the JSON body, and optionally a Retry-After header
  // (Kommo sends none).
  int retry_after_seconds = 1;
  bool retry_after_header = false;
  // kStatus and kReset: the Kommo API handles the request first (a write is saved) and the client
  // gets the fault instead of the answer. kMalformedJson, kCutBody and kSlowBody always do.
  bool apply = false;
  // kCutBody: body bytes sent before the close. Unset: half of the body.
  std::optional<size_t> cut_at;
  // kSlowBody: piece size and the pause before each piece.
  size_t chunk_bytes = 16;
  std::chrono::milliseconds chunk_interval{100};
};

// A rule as the emulator holds it: its id, how many requests it matched and how many it faulted.
struct FaultRuleState {
  uint64_t id = 0;
  FaultRule rule;
  uint64_t matched = 0;
  uint64_t fired = 0;
};

// Parses fault rules written as the admin API takes them (emulator/README.md): one JSON object or
// an array of objects, e.g. {"match":"GET /api/v4/leads","fault":"status","status":429,"times":3}.
// Errors: INVALID_ARGUMENT naming the rule and the field.
absl::StatusOr<std::vector<FaultRule>> ParseFaultRules(std::string_view json);

// Kommo's limit of 7 requests per second and its punishment: after `block_after` consecutive
// 429s the account is blocked and every request gets an nginx-style 403 page until it is lifted.
struct RateLimitOptions {
  bool enabled = false;
  // Token bucket: refills at this rate, holds at most `burst` tokens (full at the start).
  double requests_per_second = 7;
  double burst = 7;
  // The 429: false: problem+json with "retry_after"; true: an nginx HTML page (as Kommo sends
  // in practice), no Retry-After header.
  bool html = false;
  int retry_after_seconds = 1;
  bool retry_after_header = false;
  // Consecutive 429s (requests the bucket refused, with no accepted request between them) that
  // block the account; 0: never block.
  int block_after = 0;
  // How long a block lasts; 0: until Unblock(), Reset() or POST /_emulator/unblock.
  std::chrono::milliseconds block_duration{0};
};

// --- The request log
// ------------------------------------------------------------------------------

// One request to a non-admin path, as the emulator received it.
struct LoggedRequest {
  uint64_t sequence = 0;                       // 1, 2, ... in arrival order; never reused
  std::chrono::system_clock::time_point time;  // arrival
  std::string method;
  std::string path;                                        // not decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::string body;
  // The Authorization header is never stored in clear: "Bearer sha256:<12 hex>" (see
  // AuthorizationFingerprint), "" when the header was absent.
  bool authorization_present = false;
  std::string authorization;
  std::string request_id;  // the X-Request-Id the answer carried (or would have)
  bool completed = false;  // the answer is decided (false: still waiting out a delay)
  int status = 0;          // the answer's status; 0 when none (a reset, or not completed)
  // Whether the client was still connected when the answer went out.
  bool delivered = false;
  // "" (a normal answer), or what the emulator did instead: "status", "reset", "malformed_json",
  // "cut_body", "slow_body", "rate_limited", "blocked". `fault_id` names the rule (0: none).
  std::string fault;
  uint64_t fault_id = 0;
  std::chrono::milliseconds delay{0};  // injected latency before the answer
};

// Completed requests by method, route (numeric path segments read "{id}") and status.
struct RequestCount {
  std::string method;
  std::string path;  // e.g. "/api/v4/leads/{id}"
  int status = 0;    // 0: no answer (connection reset)
  uint64_t count = 0;
};

// "Bearer sha256:" + the first 12 hex digits of SHA-256(token) for "Bearer <token>"; other schemes
// keep their name the same way; "" for "". Lets tests tell tokens apart without storing them.
std::string AuthorizationFingerprint(std::string_view authorization_value);

// --- Events and webhooks ---------------------------------------------------------------------

// How much of the events history (GET /api/v4/events) the emulator keeps. Older events are
// dropped for good, the way Kommo's history ends somewhere: a poller whose cursor is older than
// the oldest event kept has missed changes.
struct EventHistoryOptions {
  size_t max_events = 100000;  // the newest this many (>= 1)
  // Events older than this (by created_at, against the emulator's clock) are dropped; 0: no age
  // limit.
  std::chrono::seconds max_age{0};
};

// Kommo's page limit of GET /api/v4/events (a larger ?limit= is refused with 400).
inline constexpr int kMaxEventsPageLimit = 100;
// At most this many ids in filter[entity_id] and filter[created_by] (Kommo's documented limit).
inline constexpr int kMaxEventFilterIds = 10;
// Kommo's limit of webhooks per account.
inline constexpr int kMaxWebhooks = 100;

// Webhook delivery: when and how the emulator POSTs Kommo's form-encoded deliveries.
struct WebhookOptions {
  // Multiplies Kommo's retry delays (+5 min, +15 min, +15 min, +1 h) and the 2-hour window of
  // its auto-disable rule, so tests can compress them: 0.001 makes +5 min 300 ms. > 0.
  double time_scale = 1.0;
  // A receiver that has not answered (status line received) within this fails the attempt;
  // Kommo allows 2 s. Not scaled.
  std::chrono::milliseconds timeout{2000};
  // A delivery the "reorder" fault holds back is sent right after the next delivery to the same
  // destination, or after this long when none comes. Not scaled.
  std::chrono::milliseconds reorder_hold{1000};
};

enum class WebhookFault {
  kLost,       // the delivery is never sent (no attempt, no retry), as Kommo sometimes loses one
  kDuplicate,  // the delivery is sent twice (the copy right after the first answer)
  kReorder,    // the delivery is held back and sent after the next one to its destination
};

// One webhook fault rule. It counts the deliveries it matches (their first attempt only): the
// first `after` pass untouched, the next `times` get the fault, later ones pass again.
struct WebhookFaultRule {
  WebhookFault fault = WebhookFault::kLost;
  std::string destination_prefix;  // matches destinations starting with this; empty: any
  std::optional<int64_t> times;    // unset: 1; 0: every matching delivery until removed
  int64_t after = 0;
};

// One HTTP attempt of a webhook delivery.
struct WebhookAttempt {
  std::chrono::system_clock::time_point time;  // when it was sent
  int status = 0;                              // the receiver's status; 0: none
  std::string error;                           // "" or why there was no status ("timeout", ...)
};

// A webhook delivery as the emulator keeps it (GET /_emulator/webhooks/deliveries).
struct WebhookDelivery {
  enum class State {
    kQueued,     // waiting for its destination's previous delivery to be answered
    kHeld,       // held back by the reorder fault
    kSending,    // an attempt is in flight
    kRetrying,   // the last attempt failed; the next one is scheduled
    kDelivered,  // answered 100..299
    kFailed,     // every attempt Kommo's schedule allows failed
    kLost,       // dropped by the lost fault: never sent
    kDropped,    // not sent: its webhook was deleted or disabled, or 10,000 were waiting
  };
  uint64_t id = 0;  // 1, 2, ... in the order deliveries were made
  int64_t webhook_id = 0;
  std::string destination;
  std::string body;  // application/x-www-form-urlencoded
  State state = State::kQueued;
  std::string fault;          // "", "lost", "duplicate", "reorder"
  uint64_t duplicate_of = 0;  // the delivery this one repeats (the duplicate fault); 0: none
  std::vector<WebhookAttempt> attempts;
};

// "queued", "held", "sending", "retrying", "delivered", "failed", "lost", "dropped".
std::string_view WebhookDeliveryStateName(WebhookDelivery::State state);

// Parses webhook fault rules as the admin API takes them: one object or an array, e.g.
// {"fault":"duplicate","times":2,"after":1,"destination":"http://127.0.0.1:9000/hook"}.
absl::StatusOr<std::vector<WebhookFaultRule>> ParseWebhookFaultRules(std::string_view json);

// --- Options ------------------------------------------------------------------------------------

struct EmulatorOptions {
  // "HOST:PORT" or "[IPv6]:PORT"; port 0 picks a free port (see Emulator::port()).
  std::string listen = "127.0.0.1:0";
  // The admin's long-lived token. Empty: any non-empty Bearer token is accepted as the admin
  // (except manager_token, which always means the manager).
  std::string token;
  // Optional token of kManagerUserId, a non-admin user: GET /api/v4/users answers 403.
  std::string manager_token;
  // Batch writes (POST/PATCH arrays) with an invalid item: true saves nothing (400 for the
  // batch); false saves the valid items and still answers 400 listing the invalid ones.
  // Kommo's real behaviour is unverified; all-or-nothing is the safe model.
  bool batch_all_or_nothing = true;
  // Request body limit (413 above it) and request line + headers limit (431 above it).
  // 4 MiB: a batch of long notes (chat transcripts) fits. Kommo's own limit is not documented.
  size_t max_body_bytes = 4 * 1024 * 1024;
  size_t max_header_bytes = 64 * 1024;
  // Open connections above this are closed at once after accept.
  size_t max_connections = 16384;
  // A connection without traffic and without an unanswered request is closed after this.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // Unix seconds for created_at/updated_at/closed_at. Empty: the system clock.
  std::function<int64_t()> clock;
  // One line per request on stderr: method, path, status, request id (no query, body or headers).
  bool access_log = false;

  // Fault rules armed at start-up, and armed again (with fresh counts) by Reset().
  std::vector<FaultRule> faults;
  // The rate limit at start-up and after Reset(). Off by default.
  RateLimitOptions rate_limit;
  // The request log keeps the newest this many requests (counts are never dropped); 0: no log.
  size_t request_log_limit = 10000;
  // Seeds latency jitter and trace ids; 0: a random seed.
  uint64_t random_seed = 0;
  // The events history (GET /api/v4/events) at start-up and after Reset().
  EventHistoryOptions events;
  // Webhook delivery settings and fault rules at start-up and after Reset().
  WebhookOptions webhooks;
  std::vector<WebhookFaultRule> webhook_faults;
  // PEM certificate (chain) and key: serve HTTPS (TLS 1.2+) instead of HTTP. Both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// --- The emulator -------------------------------------------------------------------------------

class EmulatorImpl;

class Emulator {
 public:
  // Binds options.listen, then serves on a thread of its own until Stop() or destruction.
  // Errors: INVALID_ARGUMENT for a malformed listen address, an invalid fault rule or rate limit,
  // or TLS files that cannot be loaded; UNAVAILABLE when binding fails.
  static absl::StatusOr<std::unique_ptr<Emulator>> Start(EmulatorOptions options);
  ~Emulator();  // calls Stop()
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  int port() const { return port_; }
  // "http://HOST:PORT" ("https://" with TLS) without a trailing slash; HOST is 127.0.0.1 when
  // listening on 0.0.0.0 (and [::1] for [::]). Kommo's API is under base_url() + "/api/v4".
  std::string base_url() const { return base_url_; }

  // Stops serving and closes every connection. Idempotent; not concurrent with other calls.
  void Stop();

  // Thread-safe helpers for tests (they run on the loop thread and wait for it).

  // Everything back to how Start() left it: no leads or contacts (ids restart at kFirstLeadId /
  // kFirstContactId), the start-up fault rules with fresh counts, the start-up rate limit with a
  // full bucket, no block, an empty request log and zero counts. Same as POST /_emulator/reset.
  void Reset();
  // Only drops the data (leads, contacts, companies, notes, incoming leads) and restarts ids.
  void ResetData();
  size_t lead_count();
  size_t contact_count();
  size_t company_count();
  size_t note_count();
  size_t task_count();
  size_t unsorted_count();  // incoming leads still pending

  // Duplicate control of POST /leads/complex for one pipeline (off for every pipeline at start
  // and after Reset()). INVALID_ARGUMENT for an unknown pipeline. Same as
  // POST /_emulator/duplicate_control.
  absl::Status SetDuplicateControl(int64_t pipeline_id, bool enabled);

  // Faults. AddFault returns the rule's id; INVALID_ARGUMENT for an invalid rule.
  absl::StatusOr<uint64_t> AddFault(FaultRule rule);
  bool RemoveFault(uint64_t id);  // false: no such rule
  void ClearFaults();
  std::vector<FaultRuleState> faults();

  // Rate limit (replaces the current one; the bucket starts full). INVALID_ARGUMENT for values out
  // of range (rate and burst must be > 0 when enabled).
  absl::Status SetRateLimit(RateLimitOptions options);
  // Blocks the account now, as the rate limit's punishment does; 0: until Unblock().
  void Block(std::chrono::milliseconds duration = std::chrono::milliseconds(0));
  // Lifts a block and forgets the consecutive 429s; the bucket refills.
  void Unblock();
  bool blocked();

  // Events (GET /api/v4/events). INVALID_ARGUMENT for max_events 0 or a negative max_age.
  size_t event_count();
  absl::Status SetEventHistory(EventHistoryOptions options);
  void ClearEvents();

  // Webhooks, as POST /api/v4/webhooks makes them: returns the webhook's id (the same id when
  // the destination exists: its settings are replaced). INVALID_ARGUMENT for a destination that
  // is not an http:// URL on loopback or an unknown setting ("add_lead", "status_lead", ...).
  absl::StatusOr<int64_t> AddWebhook(const std::string& destination,
                                     const std::vector<std::string>& settings);
  bool RemoveWebhook(const std::string& destination);  // false: no such webhook
  // INVALID_ARGUMENT for a time scale <= 0 or a timeout or hold below 1 ms.
  absl::Status SetWebhookOptions(WebhookOptions options);
  absl::StatusOr<uint64_t> AddWebhookFault(WebhookFaultRule rule);
  void ClearWebhookFaults();
  // Every delivery kept (the newest 1000 finished ones, and all unfinished), oldest first.
  std::vector<WebhookDelivery> webhook_deliveries();

  // What Kommo's UI does and API v4 cannot: delete an entity (it goes to the trash: GET answers
  // 204, lists leave it out) and restore it, each recorded as Kommo records it (lead_deleted,
  // lead_restored, ... and the webhooks delete_lead, restore_lead, ...). `entity_type` is
  // "leads", "contacts" or "companies". NOT_FOUND when there is no such entity (in the trash,
  // for a restore).
  absl::Status DeleteEntity(std::string_view entity_type, int64_t id);
  absl::Status RestoreEntity(std::string_view entity_type, int64_t id);

  // The request log (oldest first) and the counts; ClearRequests() empties both.
  std::vector<LoggedRequest> requests();
  std::vector<RequestCount> request_counts();
  void ClearRequests();

 private:
  Emulator() = default;
  void RunOnLoop(const std::function<void()>& task);

  std::unique_ptr<EmulatorImpl> impl_;
  std::thread thread_;
  int port_ = 0;
  std::string base_url_;
  bool stopped_ = false;
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_EMULATOR_H_
