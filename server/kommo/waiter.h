#ifndef KOMMO_SERVER_KOMMO_WAITER_H_
#define KOMMO_SERVER_KOMMO_WAITER_H_

// A caller waiting for shared work (a write batch, a shared read): it is answered exactly once,
// by the work or by its own deadline or cancellation, whichever comes first. Loop thread only.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/common/call_trace.h"
#include "server/common/cancellation.h"
#include "server/common/error_details.h"
#include "server/common/event_loop.h"
#include "server/kommo/kommo_client.h"

namespace kommo::rest {

template <typename T>
struct Waiter {
  Done<T> done;
  absl::Time deadline;
  std::shared_ptr<CancellationToken> cancel;
  std::shared_ptr<CallTrace> trace;
  EventLoop::TimerPtr timer;
  bool finished = false;
};
template <typename T>
using WaiterPtr = std::shared_ptr<Waiter<T>>;

template <typename T>
WaiterPtr<T> NewWaiter(const CallOptions& options, Done<T> done) {
  auto waiter = std::make_shared<Waiter<T>>();
  waiter->done = std::move(done);
  waiter->deadline = options.deadline;
  waiter->cancel = options.cancel;
  waiter->trace = options.trace;
  return waiter;
}

// Answers `waiter` unless it was answered already.
template <typename T>
void Complete(const WaiterPtr<T>& waiter, absl::StatusOr<T> result) {
  if (waiter->finished) return;
  waiter->finished = true;
  waiter->timer.reset();
  if (waiter->cancel != nullptr) waiter->cancel->ClearHook();
  Done<T> done = std::move(waiter->done);
  done(std::move(result));
}

// Makes `waiter` leave at its deadline or when its caller cancels: it is answered with
// `error(code)`, then `left` runs so that its group can forget it. Returns false when the call
// was cancelled already (it has been answered).
template <typename T>
bool Arm(EventLoop* loop, const WaiterPtr<T>& waiter,
         std::function<absl::Status(absl::StatusCode)> error, std::function<void()> left) {
  auto leave = [waiter, error = std::move(error), left = std::move(left)](absl::StatusCode code) {
    if (waiter->finished) return;
    Complete<T>(waiter, error(code));
    left();
  };
  std::weak_ptr<Waiter<T>> weak = waiter;
  if (waiter->cancel != nullptr && !waiter->cancel->SetHook(loop, [leave, weak] {
        if (weak.lock() != nullptr) leave(absl::StatusCode::kCancelled);
      })) {
    leave(absl::StatusCode::kCancelled);
    return false;
  }
  if (waiter->deadline != absl::InfiniteFuture()) {
    waiter->timer = loop->RunAt(waiter->deadline, [leave, weak] {
      if (weak.lock() != nullptr) leave(absl::StatusCode::kDeadlineExceeded);
    });
  }
  return true;
}

// What a caller that leaves shared work is told. `outcome_unknown`: its write was sent and not
// answered yet, so it may or may not have happened.
inline absl::Status LeaveError(absl::StatusCode code, absl::string_view what,
                               bool outcome_unknown) {
  const bool deadline = code == absl::StatusCode::kDeadlineExceeded;
  std::map<std::string, std::string> metadata;
  if (outcome_unknown) metadata["outcome"] = "unknown";
  return MakeError(
      code,
      absl::StrCat(deadline ? "deadline exceeded" : "call cancelled", " waiting for ", what,
                   outcome_unknown ? "; the write was sent and may or may not have happened" : ""),
      outcome_unknown ? reason::kWriteOutcomeUnknown
                      : (deadline ? reason::kDeadlineExceeded : reason::kCancelled),
      metadata);
}

// The trace of a request made for a group of callers: the first caller's request id, caller and
// weight (its fair share of the rate limit pays for the request), with its own count, which
// ShareTrace adds to every member's trace when the request is done.
template <typename T>
std::shared_ptr<CallTrace> GroupTrace(const WaiterPtr<T>& first) {
  auto trace = std::make_shared<CallTrace>();
  if (first != nullptr && first->trace != nullptr) {
    trace->request_id = first->trace->request_id;
    trace->caller = first->trace->caller;
    trace->weight = first->trace->weight;
  }
  return trace;
}
template <typename T>
void ShareTrace(const CallTrace& group, const WaiterPtr<T>& waiter) {
  if (waiter->trace != nullptr) {
    waiter->trace->kommo_requests.fetch_add(group.kommo_requests.load());
  }
}

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_WAITER_H_
