#ifndef KOMMO_SERVER_COMMON_CALL_TRACE_H_
#define KOMMO_SERVER_COMMON_CALL_TRACE_H_

#include <atomic>
#include <string>

namespace kommo {

// What one RPC did, for its log line: the request id that also goes to Kommo (as X-Request-Id
// on every HTTP request made for the call, so Kommo-side and proxy logs can be matched), and how
// many HTTP requests to Kommo were made for it (its share of batches and shared reads included).
struct CallTrace {
  std::string request_id;
  std::atomic<int> kommo_requests{0};
  // Who the call is for: the caller's name from the callers file ("" when calls are not
  // authenticated), and its weight in the rate limiter's weighted fair order (issue 16).
  std::string caller;
  double weight = 1;
  // The Kommo account the call is for (its `x-kommo-account`, or the default account's name).
  std::string account;
};

}  // namespace kommo

#endif  // KOMMO_SERVER_COMMON_CALL_TRACE_H_
