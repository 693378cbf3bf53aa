#ifndef KOMMO_SERVER_HTTP_EPOLL_LOOP_H_
#define KOMMO_SERVER_HTTP_EPOLL_LOOP_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/common/event_loop.h"

namespace kommo::http {

// The server's event loop: one thread waiting in epoll on the file descriptors its users watch
// and on an eventfd that Post() writes to, running posted tasks, fd readiness callbacks and timers
// (a TimerQueue on the monotonic clock) one at a time. It knows nothing about HTTP: the libcurl
// transport (curl_transport.h) is one user, registering its sockets and its timer here.
//
// Life cycle: Create() → Start() → Shutdown() → destruction. Post() is safe from any thread at any
// point; RunAt() and WatchFd(), and the destruction of the handles they return, are for the loop
// thread (or for any one thread while the loop thread does not run: before Start, after Shutdown).
class EpollLoop final : public EventLoop {
 public:
  // Readiness bits passed to and reported by fd watches (epoll's values).
  static constexpr uint32_t kReadable = 0x001;  // EPOLLIN
  static constexpr uint32_t kWritable = 0x004;  // EPOLLOUT
  // Reported only: an error or hang-up on the fd (EPOLLERR, EPOLLHUP).
  static constexpr uint32_t kError = 0x008 | 0x010;

  // Runs on the loop thread with the readiness bits that fired (a subset of the watched ones, plus
  // kError bits). It may destroy its own watch or create others.
  using FdCallback = absl::AnyInvocable<void(uint32_t events)>;

  // A registered fd. Destroying the handle unregisters the fd (level-triggered events stop at
  // once, even ones already read from epoll in the same round); the fd itself stays open, owned by
  // the caller, who destroys the handle before closing it (epoll knows fds by number). A handle
  // that outlives its loop is inert. Loop thread only.
  class FdWatch {
   public:
    virtual ~FdWatch() = default;
    // Replaces the watched readiness bits (kReadable | kWritable; 0 pauses the watch).
    virtual absl::Status SetEvents(uint32_t events) = 0;
  };
  using FdWatchPtr = std::unique_ptr<FdWatch>;

  // Creates the epoll instance and the wake-up eventfd; the thread starts with Start().
  static absl::StatusOr<std::unique_ptr<EpollLoop>> Create();

  // Starts the loop thread; tasks posted before it run first, in order. Once only.
  absl::Status Start();

  // Stops the loop and joins its thread. Posted tasks still run (including tasks they post,
  // until none is left); pending timers are dropped and fd callbacks no longer run; afterwards
  // nothing runs on the loop, and tasks posted later are destroyed without running. So the
  // objects referred to by tasks and timers may be destroyed once Shutdown returns. Idempotent;
  // call from outside the loop thread (from a task it only asks the loop to stop, and returns at
  // once; a later call from outside joins). Before Start(), posted tasks are dropped unrun.
  void Shutdown();

  // Shutdown(), then closes the fds.
  ~EpollLoop() override;

  EpollLoop(const EpollLoop&) = delete;
  EpollLoop& operator=(const EpollLoop&) = delete;

  absl::Time Now() const override;
  void Post(Task task) override;
  [[nodiscard]] TimerPtr RunAt(absl::Time when, Task task) override;

  // Watches `fd` (level-triggered) for `events` (kReadable | kWritable), calling `callback` on the
  // loop thread while it is ready. Fails when epoll refuses the fd (already watched, not
  // pollable). Loop thread only (see the class comment).
  [[nodiscard]] absl::StatusOr<FdWatchPtr> WatchFd(int fd, uint32_t events, FdCallback callback);

  // Runs `task` on the loop thread and returns when it has run (on the loop thread itself: at
  // once). When the loop thread does not run (not started, or shut down) there is nothing to race
  // with and `task` runs on the calling thread. Not concurrently with Start().
  void RunAndWait(Task task);

  // Whether the caller is the loop thread.
  bool IsLoopThread() const;

 private:
  struct Watch;
  class WatchHandle;
  using WatchMap = std::map<uint64_t, std::shared_ptr<Watch>>;
  enum class State { kCreated, kRunning, kStopping, kStopped };

  EpollLoop(int epoll_fd, int wake_fd);
  void Run();
  void Wake();
  // Runs the tasks posted so far.
  void RunPostedTasks();
  void Dispatch(uint64_t watch_id, uint32_t events);
  int WaitTimeoutMs() const;

  const int epoll_fd_;
  const int wake_fd_;
  absl::Mutex join_mu_;
  std::thread thread_ ABSL_GUARDED_BY(join_mu_);
  std::atomic<std::thread::id> loop_thread_id_{};

  absl::Mutex mu_;
  std::deque<Task> posted_ ABSL_GUARDED_BY(mu_);
  // The wake-up eventfd was written and the tasks posted since have not been taken yet: further
  // posts need not write it again (one syscall and one epoll round each, saved on every call).
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;
  State state_ ABSL_GUARDED_BY(mu_) = State::kCreated;

  // Loop-thread state. Watches are shared with their handles (weakly) so that a handle that
  // outlives the loop is inert.
  TimerQueue timers_;
  std::shared_ptr<WatchMap> watches_ = std::make_shared<WatchMap>();
  uint64_t next_watch_id_ = 1;
};

}  // namespace kommo::http

#endif  // KOMMO_SERVER_HTTP_EPOLL_LOOP_H_
