#ifndef KOMMO_TESTS_SUPPORT_FAKE_EVENT_LOOP_H_
#define KOMMO_TESTS_SUPPORT_FAKE_EVENT_LOOP_H_

#include <deque>
#include <map>
#include <utility>

#include "server/common/event_loop.h"

namespace kommo::testing {

// An EventLoop on a fake clock, driven by the test on the test's thread: nothing runs until
// RunUntilIdle() or Advance().
class FakeEventLoop final : public EventLoop {
 public:
  explicit FakeEventLoop(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}

  absl::Time Now() const override { return now_; }
  void Post(Task task) override { tasks_.push_back(std::move(task)); }
  TimerPtr RunAt(absl::Time when, Task task) override { return timers_.Add(when, std::move(task)); }

  // Runs posted tasks and due timers until none is left.
  void RunUntilIdle() {
    while (true) {
      if (!tasks_.empty()) {
        Task task = std::move(tasks_.front());
        tasks_.pop_front();
        task();
        continue;
      }
      if (timers_.RunOneDue(now_)) continue;
      return;
    }
  }

  // Moves the clock forward by `delta`, running everything that becomes due on the way, in order.
  void Advance(absl::Duration delta) {
    const absl::Time end = now_ + delta;
    RunUntilIdle();
    while (timers_.NextDue() <= end) {
      now_ = std::max(now_, timers_.NextDue());
      RunUntilIdle();
    }
    now_ = end;
    RunUntilIdle();
  }

  size_t pending_timers() const { return timers_.size(); }

 private:
  absl::Time now_;
  std::deque<Task> tasks_;
  TimerQueue timers_;
};

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_FAKE_EVENT_LOOP_H_
