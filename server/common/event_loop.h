#ifndef KOMMO_SERVER_COMMON_EVENT_LOOP_H_
#define KOMMO_SERVER_COMMON_EVENT_LOOP_H_

#include <cstdint>
#include <map>
#include <memory>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace kommo {

// A single-threaded event loop: tasks and timers run one at a time on the loop's thread, so state
// touched only from loop tasks needs no lock. The server's loop is server/http/epoll_loop.h; tests
// use a fake driven by a fake clock.
//
// Time: Now() is the loop's MONOTONIC clock, expressed as an absl::Time. It never jumps when the
// wall clock is stepped, so timers, rate-limit slots and backoff are immune to clock changes.
// Compare it only with times derived from Now() (a caller's deadline is converted once, at the
// gRPC boundary: server/api); wall time is for what Kommo reads.
class EventLoop {
 public:
  using Task = absl::AnyInvocable<void()>;

  // A scheduled task. Destroying the handle cancels the task if it has not run yet, so a timer
  // never outlives the object that holds it. Create and destroy on the loop thread only.
  class Timer {
   public:
    virtual ~Timer() = default;
  };
  using TimerPtr = std::unique_ptr<Timer>;

  virtual ~EventLoop() = default;

  // The loop's monotonic clock.
  virtual absl::Time Now() const = 0;
  // Runs `task` on the loop thread soon, in the order posted. Safe from any thread.
  virtual void Post(Task task) = 0;
  // Runs `task` on the loop thread at `when` (soon when `when` has passed), unless the returned
  // handle is destroyed first. Loop thread only.
  [[nodiscard]] virtual TimerPtr RunAt(absl::Time when, Task task) = 0;
};

// The timers of one loop, ordered by due time (ties in the order they were added). Both the real
// loop and the test fake keep their timers here. Not thread-safe: the loop thread only.
class TimerQueue {
 public:
  TimerQueue() : timers_(std::make_shared<Map>()) {}
  // Pending timers are dropped; handles still alive become no-ops.
  ~TimerQueue() = default;

  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  EventLoop::TimerPtr Add(absl::Time when, EventLoop::Task task) {
    const Key key{when, next_id_++};
    timers_->emplace(key, std::move(task));
    return std::make_unique<Handle>(timers_, key);
  }

  // When the earliest timer is due; InfiniteFuture when none is pending.
  absl::Time NextDue() const {
    return timers_->empty() ? absl::InfiniteFuture() : timers_->begin()->first.first;
  }

  // Runs the earliest timer if it is due at `now`; returns whether one ran. The task runs after
  // it has left the queue, so it may add or cancel timers.
  bool RunOneDue(absl::Time now) {
    if (timers_->empty() || timers_->begin()->first.first > now) return false;
    auto node = timers_->extract(timers_->begin());
    node.mapped()();
    return true;
  }

  size_t size() const { return timers_->size(); }
  // Drops every pending timer. The tasks are destroyed after they left the queue, so a task that
  // holds a timer handle cannot touch the queue while it is being cleared.
  void Clear() {
    Map dropped;
    dropped.swap(*timers_);
  }

 private:
  using Key = std::pair<absl::Time, uint64_t>;
  using Map = std::map<Key, EventLoop::Task>;

  class Handle final : public EventLoop::Timer {
   public:
    Handle(std::weak_ptr<Map> timers, Key key) : timers_(std::move(timers)), key_(key) {}
    ~Handle() override {
      if (std::shared_ptr<Map> timers = timers_.lock()) timers->erase(key_);
    }

   private:
    std::weak_ptr<Map> timers_;
    Key key_;
  };

  std::shared_ptr<Map> timers_;
  uint64_t next_id_ = 1;
};

}  // namespace kommo

#endif  // KOMMO_SERVER_COMMON_EVENT_LOOP_H_
