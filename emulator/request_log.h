// The request log and counts of the emulator: what a client sent to the (fake) Kommo API and what
// it got back, for tests to assert on. Authorization values are kept only as fingerprints.
// Loop thread only.
#ifndef KOMMO_EMULATOR_REQUEST_LOG_H_
#define KOMMO_EMULATOR_REQUEST_LOG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "emulator/emulator.h"
#include "emulator/http_message.h"
#include "emulator/render.h"

namespace kommo::emulator {

// "/api/v4/leads/31000000001/link" → "/api/v4/leads/{id}/link": every all-digit segment.
std::string RouteOf(std::string_view path);

// How a request ended, for RequestLog::Complete.
struct RequestOutcome {
  int status = 0;  // 0: no answer
  bool delivered = false;
  std::string_view fault;  // "" or LoggedRequest::fault
  uint64_t fault_id = 0;
  std::chrono::milliseconds delay{0};
};

// Which entries GET /_emulator/requests returns.
struct RequestFilter {
  std::string method;       // empty: any
  std::string path_prefix;  // empty: any
  uint64_t since = 0;       // only sequence numbers above this
  size_t limit = 0;         // the newest this many; 0: all
};

class RequestLog {
 public:
  explicit RequestLog(size_t limit) : limit_(limit) {}

  // Records an arrival; returns its sequence number.
  uint64_t Begin(const HttpRequest& request, std::chrono::system_clock::time_point now);
  // Records the answer (or its absence) and counts it. Unknown (dropped) sequence numbers are
  // still counted.
  void Complete(uint64_t sequence, const HttpRequest& request, const RequestOutcome& outcome);
  // Empties the log and the counts; sequence numbers continue.
  void Clear();

  std::vector<LoggedRequest> Entries(const RequestFilter& filter) const;
  std::vector<RequestCount> Counts() const;
  uint64_t dropped() const { return dropped_; }
  size_t size() const { return entries_.size(); }

  // {"requests":[…],"dropped":N,"next_since":S} and {"counts":[…],"total":N}.
  std::string RenderEntries(const RequestFilter& filter) const;
  std::string RenderCounts() const;

 private:
  const size_t limit_;
  std::deque<LoggedRequest> entries_;  // consecutive sequence numbers
  uint64_t next_sequence_ = 1;
  uint64_t dropped_ = 0;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> counts_;
};

void WriteLoggedRequest(JsonWriter& w, const LoggedRequest& entry);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_REQUEST_LOG_H_
