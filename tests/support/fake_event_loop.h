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
  TimerId RunAt(absl::Time when, Task task) override {
    const TimerId id = next_id_++;
    timers_.emplace(std::make_pair(when, id), std::move(task));
    return id;
  }
  bool CancelTimer(TimerId id) override {
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
      if (it->first.second == id) {
        timers_.erase(it);
        return true;
      }
    }
    return false;
  }

  // Runs posted tasks and due timers until none is left.
  void RunUntilIdle() {
    while (true) {
      if (!tasks_.empty()) {
        Task task = std::move(tasks_.front());
        tasks_.pop_front();
        task();
        continue;
      }
      if (!timers_.empty() && timers_.begin()->first.first <= now_) {
        auto node = timers_.extract(timers_.begin());
        node.mapped()();
        continue;
      }
      return;
    }
  }

  // Moves the clock forward by `delta`, running everything that becomes due on the way, in order.
  void Advance(absl::Duration delta) {
    const absl::Time end = now_ + delta;
    RunUntilIdle();
    while (!timers_.empty() && timers_.begin()->first.first <= end) {
      now_ = std::max(now_, timers_.begin()->first.first);
      RunUntilIdle();
    }
    now_ = end;
    RunUntilIdle();
  }

  size_t pending_timers() const { return timers_.size(); }

 private:
  absl::Time now_;
  TimerId next_id_ = 1;
  std::deque<Task> tasks_;
  std::map<std::pair<absl::Time, TimerId>, Task> timers_;
};

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_FAKE_EVENT_LOOP_H_
