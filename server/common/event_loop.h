#ifndef KOMMO_SERVER_COMMON_EVENT_LOOP_H_
#define KOMMO_SERVER_COMMON_EVENT_LOOP_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace kommo {

// A single-threaded event loop: tasks and timers run one at a time on the loop's thread, so state
// touched only from loop tasks needs no lock. The libcurl transport is one (its curl multi thread);
// tests use a fake driven by a fake clock.
class EventLoop {
 public:
  using Task = absl::AnyInvocable<void()>;
  using TimerId = uint64_t;

  virtual ~EventLoop() = default;

  // The loop's clock.
  virtual absl::Time Now() const = 0;
  // Runs `task` on the loop thread soon. Safe from any thread.
  virtual void Post(Task task) = 0;
  // Runs `task` on the loop thread at `when` (at once when `when` has passed). Safe from any
  // thread. Returns an id for CancelTimer.
  virtual TimerId RunAt(absl::Time when, Task task) = 0;
  // Cancels a timer that has not run yet; returns whether it was cancelled. Loop thread only.
  virtual bool CancelTimer(TimerId id) = 0;
};

}  // namespace kommo

#endif  // KOMMO_SERVER_COMMON_EVENT_LOOP_H_
