#ifndef KOMMO_SERVER_COMMON_CANCELLATION_H_
#define KOMMO_SERVER_COMMON_CANCELLATION_H_

#include <atomic>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "server/common/event_loop.h"

namespace kommo {

// Carries a caller's cancellation (an RPC cancelled by its client, or by the server's shutdown)
// down to the work done for it. The gRPC layer calls Cancel() from any thread; the Kommo client
// registers, on its event loop, what cancelling means at the moment (leave the rate-limit queue,
// abort the transfer, drop a backoff timer). The hook then runs on that loop.
class CancellationToken {
 public:
  using Hook = absl::AnyInvocable<void()>;

  // Marks the token cancelled and runs the current hook (if any) on its loop. Idempotent.
  void Cancel() {
    if (cancelled_.exchange(true)) return;
    absl::MutexLock lock(&mu_);
    if (loop_ != nullptr && hook_) {
      loop_->Post(std::move(hook_));
      hook_ = nullptr;
    }
  }

  bool cancelled() const { return cancelled_.load(); }

  // Sets what Cancel() does from now on; `hook` runs on `loop`. When the token is already
  // cancelled, the hook is not stored and false is returned: the caller should stop at once.
  bool SetHook(EventLoop* loop, Hook hook) {
    absl::MutexLock lock(&mu_);
    if (cancelled_.load()) return false;
    loop_ = loop;
    hook_ = std::move(hook);
    return true;
  }

  // Forgets the hook (the work it would cancel is over).
  void ClearHook() {
    absl::MutexLock lock(&mu_);
    hook_ = nullptr;
  }

 private:
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  EventLoop* loop_ ABSL_GUARDED_BY(mu_) = nullptr;
  Hook hook_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kommo

#endif  // KOMMO_SERVER_COMMON_CANCELLATION_H_
