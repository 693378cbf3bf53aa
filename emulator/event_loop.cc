#include "emulator/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kommo::emulator {
namespace {

constexpr EventLoop::WatchId kWakeWatchId = 0;
constexpr int kMaxEventsPerWait = 256;

absl::Status ErrnoStatus(const char* what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return ErrnoStatus("epoll_create1");
  const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    absl::Status status = ErrnoStatus("eventfd");
    close(epoll_fd);
    return status;
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeWatchId;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &event) != 0) {
    absl::Status status = ErrnoStatus("epoll_ctl(eventfd)");
    close(wake_fd);
    close(epoll_fd);
    return status;
  }
  return std::unique_ptr<EventLoop>(new EventLoop(epoll_fd, wake_fd));
}

EventLoop::~EventLoop() {
  close(wake_fd_);
  close(epoll_fd_);
}

void EventLoop::Run() {
  loop_thread_.store(std::this_thread::get_id());
  epoll_event events[kMaxEventsPerWait];
  while (!quit_.load(std::memory_order_acquire)) {
    const int n = epoll_wait(epoll_fd_, events, kMaxEventsPerWait, NextTimeoutMs());
    if (n < 0 && errno != EINTR) break;  // only EBADF/EFAULT/EINVAL: programming errors
    for (int i = 0; i < n; ++i) {
      const WatchId id = events[i].data.u64;
      if (id == kWakeWatchId) {
        uint64_t counter;
        while (read(wake_fd_, &counter, sizeof(counter)) > 0) {
        }
        continue;
      }
      auto it = watches_.find(id);
      if (it == watches_.end()) continue;  // unwatched by an earlier handler of this batch
      std::shared_ptr<IoHandler> handler = it->second.handler;
      (*handler)(events[i].events);
    }
    RunDueTimers();
    RunPostedTasks();
  }
  RunPostedTasks();
  loop_thread_.store(std::thread::id());
}

void EventLoop::Quit() {
  quit_.store(true, std::memory_order_release);
  Wake();
}

void EventLoop::Post(Task task) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(task));
  }
  Wake();
}

void EventLoop::Wake() {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  [[maybe_unused]] ssize_t ignored = write(wake_fd_, &one, sizeof(one));
}

absl::StatusOr<EventLoop::WatchId> EventLoop::Watch(int fd, uint32_t events, IoHandler handler) {
  const WatchId id = next_watch_id_++;
  epoll_event event{};
  event.events = events;
  event.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return ErrnoStatus("epoll_ctl(ADD)");
  watches_.emplace(id, WatchEntry{fd, std::make_shared<IoHandler>(std::move(handler))});
  return id;
}

absl::Status EventLoop::Modify(WatchId id, uint32_t events) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return absl::NotFoundError("unknown watch");
  epoll_event event{};
  event.events = events;
  event.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, it->second.fd, &event) != 0) {
    return ErrnoStatus("epoll_ctl(MOD)");
  }
  return absl::OkStatus();
}

void EventLoop::Unwatch(WatchId id) {
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  watches_.erase(it);
}

EventLoop::TimerId EventLoop::RunAt(Clock::time_point deadline, Task task) {
  const TimerId id = next_timer_id_++;
  timers_.emplace(id, std::move(task));
  heap_.push(HeapEntry{deadline, id});
  return id;
}

void EventLoop::Cancel(TimerId id) { timers_.erase(id); }

int EventLoop::NextTimeoutMs() {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    if (!posted_.empty()) return 0;
  }
  while (!heap_.empty() && timers_.count(heap_.top().id) == 0) heap_.pop();  // cancelled
  if (heap_.empty()) return -1;
  const auto left = heap_.top().deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  // Round up: waking a little late is fine, waking early only spins.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

void EventLoop::RunDueTimers() {
  const Clock::time_point now = Clock::now();
  while (!heap_.empty() && heap_.top().deadline <= now) {
    const TimerId id = heap_.top().id;
    heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;
    Task task = std::move(it->second);
    timers_.erase(it);
    task();
  }
}

void EventLoop::RunPostedTasks() {
  std::vector<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (Task& task : tasks) task();
}

}  // namespace kommo::emulator
