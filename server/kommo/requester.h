#ifndef KOMMO_SERVER_KOMMO_REQUESTER_H_
#define KOMMO_SERVER_KOMMO_REQUESTER_H_

// One Kommo account's outbound discipline: every HTTP request to Kommo goes through a Requester,
// which holds the account's rate limit, the retry policy and budget, and the circuit that opens
// when Kommo blocks the account. Loop thread only.

#include <memory>
#include <random>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/event_loop.h"
#include "server/http/http_transport.h"
#include "server/kommo/error_table.h"
#include "server/kommo/kommo_client.h"
#include "server/kommo/rate_limiter.h"

namespace kommo::rest {

using ResponseDone = absl::AnyInvocable<void(absl::StatusOr<http::HttpResponse>)>;

struct RequestSpec {
  http::Method method = http::Method::kGet;
  std::string path;    // after the API base URL, e.g. "/leads/5"
  std::string params;  // the query string without "?", already encoded
  std::string body;
  ErrorContext context;
  // When set, runs once right before the first attempt is sent (the rate-limit slot has come):
  // it may fill in or replace the body (a batch takes the items that gathered while it waited).
  // Returning false drops the request unsent; `done` then gets CANCELLED.
  absl::AnyInvocable<bool(std::string& body)> prepare;
  // Reading back what was just written: goes before new calls waiting for the rate limit.
  bool priority = false;
};

class Requester {
 public:
  Requester(const KommoClientOptions& options, http::HttpTransport* transport, EventLoop* loop);
  ~Requester();

  Requester(const Requester&) = delete;
  Requester& operator=(const Requester&) = delete;

  // Sends one request within the rate limit and `options.deadline`, retrying what is safe to
  // retry (design.md §5). `done` gets the HTTP response whatever its status, or the error of the
  // last attempt (error_table.h), exactly once, never inside this call's stack for a response.
  void Send(RequestSpec spec, CallOptions options, ResponseDone done);

  // When a request asked for now would get its rate-limit slot.
  absl::Time NextSlot() const;

  KommoClientStats Stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_REQUESTER_H_
