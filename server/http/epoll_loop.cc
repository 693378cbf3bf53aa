#include "server/http/epoll_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "server/common/clock.h"

namespace kommo::http {

static_assert(EpollLoop::kReadable == EPOLLIN && EpollLoop::kWritable == EPOLLOUT &&
                  EpollLoop::kError == (EPOLLERR | EPOLLHUP),
              "the readiness bits are epoll's");

namespace {

// epoll data of the wake-up eventfd; watches are numbered from 1.
constexpr uint64_t kWakeId = 0;

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

struct EpollLoop::Watch {
  int fd = -1;
  FdCallback callback;
};

class EpollLoop::WatchHandle final : public EpollLoop::FdWatch {
 public:
  WatchHandle(std::weak_ptr<WatchMap> watches, int epoll_fd, uint64_t id, int fd)
      : watches_(std::move(watches)), epoll_fd_(epoll_fd), id_(id), fd_(fd) {}

  ~WatchHandle() override {
    std::shared_ptr<WatchMap> watches = watches_.lock();
    if (watches == nullptr) return;  // the loop is gone, and its epoll fd with it
    // EBADF/ENOENT when the caller closed the fd first (epoll then dropped it already): fine.
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
    watches->erase(id_);
  }

  absl::Status SetEvents(uint32_t events) override {
    if (watches_.expired()) return absl::FailedPreconditionError("the loop is gone");
    epoll_event event{};
    event.events = events & (kReadable | kWritable);
    event.data.u64 = id_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &event) != 0) {
      return ErrnoStatus("epoll_ctl(MOD)");
    }
    return absl::OkStatus();
  }

 private:
  std::weak_ptr<WatchMap> watches_;
  const int epoll_fd_;
  const uint64_t id_;
  const int fd_;
};

absl::StatusOr<std::unique_ptr<EpollLoop>> EpollLoop::Create() {
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return ErrnoStatus("epoll_create1");
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    absl::Status status = ErrnoStatus("eventfd");
    ::close(epoll_fd);
    return status;
  }
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.u64 = kWakeId;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &wake) != 0) {
    absl::Status status = ErrnoStatus("epoll_ctl(ADD eventfd)");
    ::close(wake_fd);
    ::close(epoll_fd);
    return status;
  }
  return std::unique_ptr<EpollLoop>(new EpollLoop(epoll_fd, wake_fd));
}

EpollLoop::EpollLoop(int epoll_fd, int wake_fd) : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {}

EpollLoop::~EpollLoop() {
  Shutdown();
  watches_.reset();  // handles still alive become inert before the epoll fd goes
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

absl::Status EpollLoop::Start() {
  absl::MutexLock lock(&mu_);
  if (state_ != State::kCreated) return absl::FailedPreconditionError("the loop was started");
  absl::MutexLock join_lock(&join_mu_);
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& error) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start the event loop thread: ", error.what()));
  }
  state_ = State::kRunning;
  return absl::OkStatus();
}

void EpollLoop::Shutdown() {
  std::deque<Task> unrun;
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kCreated) {
      state_ = State::kStopped;
      unrun.swap(posted_);  // destroyed below, outside the lock
    } else if (state_ == State::kRunning) {
      state_ = State::kStopping;
    }
  }
  Wake();
  if (IsLoopThread()) return;  // a task asked: the loop stops when it returns; joined later
  // A second caller waits here for the first one's join.
  absl::MutexLock join_lock(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

absl::Time EpollLoop::Now() const { return MonotonicNow(); }

void EpollLoop::Post(Task task) {
  // The loop thread itself needs no wake-up: it runs what was posted before it waits again (Run).
  const bool loop_thread = IsLoopThread();
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kStopped) return;  // `task` is destroyed unrun, outside the lock
    posted_.push_back(std::move(task));
    wake = !loop_thread && !wake_pending_;
    if (wake) wake_pending_ = true;
  }
  if (wake) Wake();
}

EventLoop::TimerPtr EpollLoop::RunAt(absl::Time when, Task task) {
  return timers_.Add(when, std::move(task));
}

absl::StatusOr<EpollLoop::FdWatchPtr> EpollLoop::WatchFd(int fd, uint32_t events,
                                                         FdCallback callback) {
  const uint64_t id = next_watch_id_++;
  epoll_event event{};
  event.events = events & (kReadable | kWritable);
  event.data.u64 = id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return ErrnoStatus(absl::StrCat("epoll_ctl(ADD fd ", fd, ")"));
  }
  auto watch = std::make_shared<Watch>();
  watch->fd = fd;
  watch->callback = std::move(callback);
  watches_->emplace(id, std::move(watch));
  return std::make_unique<WatchHandle>(watches_, epoll_fd_, id, fd);
}

void EpollLoop::RunAndWait(Task task) {
  if (IsLoopThread()) {
    task();
    return;
  }
  absl::Notification done;
  bool queued = false;
  {
    absl::MutexLock lock(&mu_);
    // A loop that is stopping still runs every task queued before it is stopped.
    if (state_ == State::kRunning || state_ == State::kStopping) {
      posted_.push_back([&task, &done] {
        task();
        done.Notify();
      });
      queued = true;
    }
  }
  if (!queued) {
    task();  // no loop thread to race with
    return;
  }
  Wake();
  done.WaitForNotification();
}

bool EpollLoop::IsLoopThread() const {
  return std::this_thread::get_id() == loop_thread_id_.load();
}

void EpollLoop::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof(one));
}

void EpollLoop::RunPostedTasks() {
  std::deque<Task> tasks;
  {
    absl::MutexLock lock(&mu_);
    tasks.swap(posted_);
    wake_pending_ = false;  // a post from now on wakes the loop again
  }
  for (Task& task : tasks) task();
}

void EpollLoop::Dispatch(uint64_t watch_id, uint32_t events) {
  auto it = watches_->find(watch_id);
  if (it == watches_->end()) return;  // unwatched earlier in this round
  // Held here so that a callback that destroys its own watch does not destroy itself.
  std::shared_ptr<Watch> watch = it->second;
  watch->callback(events & (kReadable | kWritable | kError));
}

int EpollLoop::WaitTimeoutMs() const {
  const absl::Time next = timers_.NextDue();
  if (next == absl::InfiniteFuture()) return -1;
  // Rounded up so that a timer is never waited for early and then spun on.
  const int64_t ms =
      absl::ToInt64Milliseconds(absl::Ceil(next - MonotonicNow(), absl::Milliseconds(1)));
  return static_cast<int>(std::clamp<int64_t>(ms, 0, INT_MAX));
}

void EpollLoop::Run() {
  loop_thread_id_.store(std::this_thread::get_id());
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (true) {
    RunPostedTasks();
    {
      absl::MutexLock lock(&mu_);
      if (state_ == State::kStopping) break;
    }
    const absl::Time now = MonotonicNow();
    while (timers_.RunOneDue(now)) {
    }
    int timeout_ms = WaitTimeoutMs();
    {
      // Tasks the loop posted to itself since RunPostedTasks (from a timer, or from a task) wrote
      // no wake-up: do not block before running them.
      absl::MutexLock lock(&mu_);
      if (!posted_.empty()) timeout_ms = 0;
    }
    const int ready = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.u64 == kWakeId) {
        uint64_t count = 0;
        [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &count, sizeof(count));
        continue;
      }
      Dispatch(events[i].data.u64, events[i].events);
    }
  }
  // Stopping: pending timers are dropped (timers that the tasks below add never run either: they
  // stay queued until the loop is destroyed). What was posted still runs, and what that posts,
  // until nothing is left; the state becomes kStopped in the critical section that finds the
  // queue empty, so no task is queued after the last look.
  timers_.Clear();
  while (true) {
    std::deque<Task> tasks;
    {
      absl::MutexLock lock(&mu_);
      if (posted_.empty()) {
        state_ = State::kStopped;
        break;
      }
      tasks.swap(posted_);
    }
    for (Task& task : tasks) task();
  }
  loop_thread_id_.store(std::thread::id());
}

}  // namespace kommo::http
