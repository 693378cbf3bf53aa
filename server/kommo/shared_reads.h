#ifndef KOMMO_SERVER_KOMMO_SHARED_READS_H_
#define KOMMO_SERVER_KOMMO_SHARED_READS_H_

// Identical reads in flight at once share one Kommo request. Loop thread only.
//
// A read joins the identical one under way whatever the two deadlines are: the shared request
// lives while any member still wants it (its deadline is extended to the latest member's), and
// is cancelled (leaving the rate-limit queue unsent if it still waits there) only when every
// member has left. A read-back of a write (RequestSpec::priority) never joins, and is never
// joined: a read already under way may have left before the write.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/common/event_loop.h"
#include "server/kommo/requester.h"
#include "server/kommo/waiter.h"

namespace kommo::rest {

template <typename T>
class SharedReads {
 public:
  // Turns the shared answer into each member's result (through the error table).
  using Parse =
      std::function<absl::StatusOr<T>(absl::StatusOr<http::HttpResponse>, const ErrorContext&)>;

  SharedReads(Requester* requester, EventLoop* loop) : requester_(requester), loop_(loop) {}

  // Answers `done` once with the parsed result of the request `key` names (its path and query).
  void Read(std::string key, RequestSpec spec, CallOptions options, Done<T> done, Parse parse) {
    WaiterPtr<T> waiter = NewWaiter<T>(options, std::move(done));
    std::shared_ptr<Flight> flight;
    auto it = spec.priority ? flights_.end() : flights_.find(key);
    const bool join = it != flights_.end();
    if (join) {
      flight = it->second;
    } else {
      flight = std::make_shared<Flight>();
      flight->deadline = waiter->deadline;
      if (!spec.priority) flights_[key] = flight;
    }
    flight->waiters.push_back(waiter);
    const std::string what = spec.context.what;
    if (!Arm<T>(
            loop_, waiter, [what](absl::StatusCode code) { return LeaveError(code, what, false); },
            [this, flight, key] { Left(flight, key); })) {
      return;
    }
    if (join) {
      if (waiter->deadline > flight->deadline) {
        flight->deadline = waiter->deadline;
        requester_->ExtendDeadline(flight->handle, flight->deadline);
      }
      return;
    }
    const ErrorContext context = spec.context;
    // An attempt is not cut at the first member's deadline: a more patient member may join. Each
    // member leaves at its own deadline, and the request is cancelled when the last one has.
    spec.finish_in_flight = true;
    flight->trace = GroupTrace<T>(waiter);
    flight->handle = requester_->Send(
        std::move(spec), CallOptions{flight->deadline, flight->cancel, flight->trace},
        [this, flight, key, context,
         parse = std::move(parse)](absl::StatusOr<http::HttpResponse> response) {
          flight->answered = true;
          Forget(flight, key);
          for (const WaiterPtr<T>& each : flight->waiters) ShareTrace<T>(*flight->trace, each);
          const absl::StatusOr<T> result = parse(std::move(response), context);
          for (const WaiterPtr<T>& each : flight->waiters) Complete<T>(each, result);
        });
  }

  // Reads in flight (for tests and stats).
  size_t in_flight() const { return flights_.size(); }

 private:
  struct Flight {
    std::vector<WaiterPtr<T>> waiters;
    absl::Time deadline;
    std::shared_ptr<CancellationToken> cancel = std::make_shared<CancellationToken>();
    std::shared_ptr<CallTrace> trace;
    Requester::Handle handle = 0;
    bool answered = false;
  };

  void Forget(const std::shared_ptr<Flight>& flight, const std::string& key) {
    auto found = flights_.find(key);
    if (found != flights_.end() && found->second == flight) flights_.erase(found);
  }

  // A member left: when none is left, the request is dropped.
  void Left(const std::shared_ptr<Flight>& flight, const std::string& key) {
    for (const WaiterPtr<T>& other : flight->waiters) {
      if (!other->finished) return;
    }
    Forget(flight, key);
    if (!flight->answered) flight->cancel->Cancel();
  }

  Requester* requester_;
  EventLoop* loop_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_SHARED_READS_H_
