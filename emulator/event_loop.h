// A single-threaded epoll event loop with timers and cross-thread task posting.
//
// Everything the emulator does runs on one loop thread: socket I/O, request handling and timers
// (a min-heap of deadlines whose earliest entry is the epoll timeout). Waiting, e.g. injected
// latency, is a timer, never a sleeping thread, so thousands of requests can wait at once.
#ifndef KOMMO_EMULATOR_EVENT_LOOP_H_
#define KOMMO_EMULATOR_EVENT_LOOP_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kommo::emulator {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using Task = std::function<void()>;
  // Receives the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLERR, ...).
  using IoHandler = std::function<void(uint32_t events)>;
  using WatchId = uint64_t;
  using TimerId = uint64_t;

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until Quit(). The calling thread becomes the loop thread.
  void Run();
  // Thread-safe. Makes Run() return after the current iteration.
  void Quit();
  // Thread-safe. Runs `task` on the loop thread soon (tasks run in posting order).
  void Post(Task task);
  bool IsLoopThread() const { return std::this_thread::get_id() == loop_thread_.load(); }

  // The methods below are for the loop thread (or for set-up before Run() / after it returned).

  // Level-triggered watch of `fd` (the caller keeps ownership of the fd).
  absl::StatusOr<WatchId> Watch(int fd, uint32_t events, IoHandler handler);
  absl::Status Modify(WatchId id, uint32_t events);
  // Safe to call from inside the watch's own handler; events already fetched for it are dropped.
  void Unwatch(WatchId id);

  TimerId RunAt(Clock::time_point deadline, Task task);
  TimerId RunAfter(Clock::duration delay, Task task) { return RunAt(Clock::now() + delay, task); }
  // No-op for timers that already fired or were cancelled.
  void Cancel(TimerId id);
  size_t pending_timers() const { return timers_.size(); }

 private:
  struct WatchEntry {
    int fd;
    std::shared_ptr<IoHandler> handler;
  };
  struct HeapEntry {
    Clock::time_point deadline;
    TimerId id;
    bool operator>(const HeapEntry& other) const {
      return deadline != other.deadline ? deadline > other.deadline : id > other.id;
    }
  };

  EventLoop(int epoll_fd, int wake_fd) : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {}
  int NextTimeoutMs();
  void RunDueTimers();
  void RunPostedTasks();
  void Wake();

  const int epoll_fd_;
  const int wake_fd_;
  std::atomic<bool> quit_{false};
  std::atomic<std::thread::id> loop_thread_{};

  WatchId next_watch_id_ = 1;  // 0 is the wake fd
  std::unordered_map<WatchId, WatchEntry> watches_;

  TimerId next_timer_id_ = 1;
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<HeapEntry>> heap_;
  std::unordered_map<TimerId, Task> timers_;  // live timers; cancelled ones leave the heap lazily

  std::mutex posted_mu_;
  std::vector<Task> posted_;  // guarded by posted_mu_
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_EVENT_LOOP_H_
