#ifndef KOMMO_SERVER_KOMMO_FAIR_SHARES_H_
#define KOMMO_SERVER_KOMMO_FAIR_SHARES_H_

// Weighted fair order across callers (issue 16), shared by the rate limiter and the write
// batcher: start-time fair queueing tags. Each unit of work of a flow (a caller, by name; "" is
// the anonymous flow) is tagged when it arrives:
//
//   start  = max(V, the flow's last finish)
//   finish = start + 1 / weight
//
// and units are served in order of their finish tags (ties: arrival order). V, the virtual time,
// moves to the start tag of each unit served. A flow with a backlog of 1,000 has tags far ahead
// of V, so a newcomer (tagged at V) goes before all but about one of them: it waits for its share,
// not for the backlog. Weights share the budget in proportion (3:1 serves 3 units to 1).
//
// State is kept only for flows with units waiting, and for flows that just went idle while
// their last finish is still ahead of V (so a flow whose requests come one at a time cannot skip
// its share by going idle for an instant); the latter are forgotten as V passes them, beyond
// kMaxIdleFlows (the nearest to V first), and all flows when the whole queue goes idle (Idle).
// Loop thread only.

#include <cstddef>
#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace kommo::rest {

class FairShares {
 public:
  // Idle flows remembered at most.
  static constexpr size_t kMaxIdleFlows = 64;

  struct Tag {
    double start = 0;
    double finish = 0;
  };

  // The tag the next unit of `flow` would get; nothing changes.
  Tag Peek(absl::string_view flow, double weight) const;
  // Tags the next unit of `flow`, which now has one more unit waiting.
  Tag Add(absl::string_view flow, double weight);
  // A unit of `flow` tagged `tag` is served: V moves up to its start.
  void Served(absl::string_view flow, const Tag& tag);
  // A unit of `flow` leaves unserved (cancelled, refused). Its share stays spent.
  void Left(absl::string_view flow);
  // Nothing waits and the budget is free (the end of a busy period): every flow starts afresh.
  // No-op while any unit is waiting.
  void Idle();

  // Flows with state now (for tests: it never grows without bound).
  size_t flows() const { return flows_.size(); }

 private:
  struct Flow {
    double last_finish = 0;
    size_t waiting = 0;
    // Where the flow sits in idle_ while it has nothing waiting (idle_.end() otherwise).
    std::multimap<double, std::string>::iterator idle;
  };

  static double Share(double weight) { return 1.0 / (weight > 0 ? weight : 1.0); }
  void OneLess(absl::string_view flow);
  void ForgetPassed();

  double virtual_time_ = 0;
  std::map<std::string, Flow, std::less<>> flows_;
  // Flows with nothing waiting, by last finish: forgotten once V reaches it.
  std::multimap<double, std::string> idle_;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_FAIR_SHARES_H_
