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
#ifndef KOMMO_EMULATOR_EMULATOR_H_
#define KOMMO_EMULATOR_EMULATOR_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace kommo::emulator {

// --- Seeded reference data -------------------------------------------------------------------

inline constexpr int64_t kAccountId = 31000001;
inline constexpr char kAccountSubdomain[] = "emulator";

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

// Contact custom fields (multitext) and their enums.
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

// First ids handed out (then +1 each), also after a reset.
inline constexpr int64_t kFirstLeadId = 31000000001;
inline constexpr int64_t kFirstContactId = 52000000001;

// Kommo's limits as the emulator applies them.
inline constexpr int kMaxBatchItems = 250;  // POST/PATCH arrays above this → 422
inline constexpr int kDefaultPageLimit = 50;
inline constexpr int kMaxPageLimit = 250;  // a larger ?limit= is clamped to this

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
  size_t max_body_bytes = 1024 * 1024;
  size_t max_header_bytes = 64 * 1024;
  // Open connections above this are closed at once after accept.
  size_t max_connections = 16384;
  // A connection without traffic and without an unanswered request is closed after this.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // Unix seconds for created_at/updated_at/closed_at. Empty: the system clock.
  std::function<int64_t()> clock;
  // One line per request on stderr: method, path, status, request id (no query, body or headers).
  bool access_log = false;
};

// --- The emulator -------------------------------------------------------------------------------

class EmulatorImpl;

class Emulator {
 public:
  // Binds options.listen, then serves on a thread of its own until Stop() or destruction.
  // Errors: INVALID_ARGUMENT for a malformed listen address, UNAVAILABLE when binding fails.
  static absl::StatusOr<std::unique_ptr<Emulator>> Start(EmulatorOptions options);
  ~Emulator();  // calls Stop()
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  int port() const { return port_; }
  // "http://HOST:PORT" without a trailing slash; HOST is 127.0.0.1 when listening on 0.0.0.0
  // (and [::1] for [::]). Kommo's API is under base_url() + "/api/v4".
  std::string base_url() const { return base_url_; }

  // Stops serving and closes every connection. Idempotent; not concurrent with other calls.
  void Stop();

  // Thread-safe helpers for tests (they run on the loop thread and wait for it):
  // drop all leads and contacts and restart ids at kFirstLeadId / kFirstContactId.
  void Reset();
  size_t lead_count();
  size_t contact_count();

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
