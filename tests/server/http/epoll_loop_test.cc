// EpollLoop: posted tasks, timers on the monotonic clock, fd watches on real loopback sockets, and
// the Start/Shutdown contract.

#include "server/http/epoll_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/clock.h"

namespace kommo::http {
namespace {

using ::testing::ElementsAre;

std::unique_ptr<EpollLoop> StartedLoop() {
  absl::StatusOr<std::unique_ptr<EpollLoop>> loop = EpollLoop::Create();
  EXPECT_TRUE(loop.ok()) << loop.status();
  EXPECT_TRUE((*loop)->Start().ok());
  return *std::move(loop);
}

// A connected TCP pair on 127.0.0.1 (port 0), both ends non-blocking.
struct TcpPair {
  int client = -1;
  int server = -1;
  ~TcpPair() {
    if (client >= 0) close(client);
    if (server >= 0) close(server);
  }
};

void MakeTcpPair(TcpPair* pair) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  pair->client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(pair->client, 0);
  ASSERT_EQ(connect(pair->client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  pair->server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  close(listener);
  ASSERT_GE(pair->server, 0);
  ASSERT_EQ(fcntl(pair->client, F_SETFL, O_NONBLOCK), 0);
}

// Records strings from any thread.
class Log {
 public:
  void Add(std::string entry) {
    absl::MutexLock lock(&mu_);
    entries_.push_back(std::move(entry));
  }
  std::vector<std::string> entries() {
    absl::MutexLock lock(&mu_);
    return entries_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> entries_ ABSL_GUARDED_BY(mu_);
};

TEST(EpollLoopTest, NowIsTheMonotonicClock) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  const absl::Time before = MonotonicNow();
  const absl::Time now = loop->Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, MonotonicNow());
}

TEST(EpollLoopTest, TasksPostedFromManyThreadsAllRunOnTheLoopInEachThreadsOrder) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  constexpr int kThreads = 4;
  constexpr int kTasksPerThread = 2000;
  std::vector<std::vector<int>> seen(kThreads);  // touched on the loop thread only
  std::atomic<int> off_loop{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTasksPerThread; ++i) {
        loop->Post([&, t, i] {
          if (!loop->IsLoopThread()) off_loop.fetch_add(1);
          seen[t].push_back(i);
        });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  absl::Notification done;
  loop->Post([&done] { done.Notify(); });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(off_loop.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<size_t>(kTasksPerThread)) << "thread " << t;
    for (int i = 0; i < kTasksPerThread; ++i) ASSERT_EQ(seen[t][i], i) << "thread " << t;
  }
  EXPECT_FALSE(loop->IsLoopThread());
}

TEST(EpollLoopTest, TimersRunInDueOrderTiesInTheOrderAdded) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  Log log;
  absl::Notification done;
  std::vector<EventLoop::TimerPtr> timers;  // loop thread only
  loop->RunAndWait([&] {
    const absl::Time now = loop->Now();
    timers.push_back(loop->RunAt(now + absl::Milliseconds(60), [&] {
      log.Add("60");
      done.Notify();
    }));
    timers.push_back(loop->RunAt(now + absl::Milliseconds(20), [&] { log.Add("20a"); }));
    timers.push_back(loop->RunAt(now + absl::Milliseconds(40), [&] { log.Add("40"); }));
    timers.push_back(loop->RunAt(now + absl::Milliseconds(20), [&] { log.Add("20b"); }));
    timers.push_back(loop->RunAt(now - absl::Seconds(1), [&] { log.Add("past"); }));
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_THAT(log.entries(), ElementsAre("past", "20a", "20b", "40", "60"));
  loop->RunAndWait([&] { timers.clear(); });
}

TEST(EpollLoopTest, ATimerRunsNoEarlierThanItsTime) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  absl::Notification done;
  absl::Time due;
  absl::Time ran;
  EventLoop::TimerPtr timer;
  loop->RunAndWait([&] {
    due = loop->Now() + absl::Milliseconds(150);
    timer = loop->RunAt(due, [&] {
      ran = loop->Now();
      done.Notify();
    });
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_GE(ran, due);
  EXPECT_LT(ran - due, absl::Seconds(1));
  loop->RunAndWait([&] { timer.reset(); });
}

TEST(EpollLoopTest, ADestroyedTimerNeverRuns) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  std::atomic<bool> cancelled_ran{false};
  absl::Notification later_ran;
  EventLoop::TimerPtr later;
  loop->RunAndWait([&] {
    const absl::Time now = loop->Now();
    EventLoop::TimerPtr cancelled =
        loop->RunAt(now + absl::Milliseconds(20), [&] { cancelled_ran = true; });
    // Also one that is already due: destroyed before the loop gets to it.
    EventLoop::TimerPtr due_now = loop->RunAt(now, [&] { cancelled_ran = true; });
    later = loop->RunAt(now + absl::Milliseconds(100), [&] { later_ran.Notify(); });
  });  // `cancelled` and `due_now` are destroyed here, on the loop thread
  ASSERT_TRUE(later_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(cancelled_ran.load());
  loop->RunAndWait([&] { later.reset(); });
}

TEST(EpollLoopTest, ATimerCancelledByAnEarlierOneOfTheSameRoundNeverRuns) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  std::atomic<bool> second_ran{false};
  absl::Notification done;
  EventLoop::TimerPtr first;
  EventLoop::TimerPtr second;
  EventLoop::TimerPtr last;
  loop->RunAndWait([&] {
    const absl::Time at = loop->Now() + absl::Milliseconds(30);
    first = loop->RunAt(at, [&] { second.reset(); });
    second = loop->RunAt(at, [&] { second_ran = true; });
    last = loop->RunAt(at + absl::Milliseconds(30), [&] { done.Notify(); });
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(second_ran.load());
  loop->RunAndWait([&] {
    first.reset();
    last.reset();
  });
}

TEST(EpollLoopTest, TimersAddedFromATaskAndFromATimerRun) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  Log log;
  absl::Notification done;
  EventLoop::TimerPtr from_task;
  EventLoop::TimerPtr from_timer;
  // Posted from this thread; the task (on the loop) adds a timer, which adds another.
  loop->Post([&] {
    from_task = loop->RunAt(loop->Now() + absl::Milliseconds(10), [&] {
      log.Add("from task");
      from_timer = loop->RunAt(loop->Now() + absl::Milliseconds(10), [&] {
        log.Add("from timer");
        done.Notify();
      });
    });
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_THAT(log.entries(), ElementsAre("from task", "from timer"));
  loop->RunAndWait([&] {
    from_task.reset();
    from_timer.reset();
  });
}

// A post from the loop thread writes no wake-up (it would cost a system call per post): what a
// timer or a task posts must still run without anything else waking the loop.
TEST(EpollLoopTest, TasksTheLoopPostsToItselfRunWithoutAWakeUpFromOutside) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  Log log;
  absl::Notification done;
  EventLoop::TimerPtr timer;
  loop->Post([&] {
    timer = loop->RunAt(loop->Now() + absl::Milliseconds(5), [&] {
      loop->Post([&] {
        log.Add("posted by a timer");
        loop->Post([&] {
          log.Add("posted by that task");
          done.Notify();
        });
      });
    });
  });
  // Nothing else is posted, no timer is pending and no fd is watched: a loop blocked in
  // epoll_wait would never run the tasks.
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_THAT(log.entries(), ElementsAre("posted by a timer", "posted by that task"));
  loop->RunAndWait([&] { timer.reset(); });
}

TEST(EpollLoopTest, AWatchedSocketReportsReadableAndWritable) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  TcpPair pair;
  ASSERT_NO_FATAL_FAILURE(MakeTcpPair(&pair));
  std::string received;  // loop thread
  absl::Notification got_bytes;
  absl::Notification writable;
  std::atomic<bool> off_loop{false};
  EpollLoop::FdWatchPtr watch;
  loop->RunAndWait([&] {
    absl::StatusOr<EpollLoop::FdWatchPtr> watched =
        loop->WatchFd(pair.server, EpollLoop::kReadable, [&](uint32_t events) {
          if (!loop->IsLoopThread()) off_loop = true;
          if (events & EpollLoop::kReadable) {
            char buffer[64];
            const ssize_t n = read(pair.server, buffer, sizeof(buffer));
            if (n > 0) received.append(buffer, n);
            if (received == "ping") {
              got_bytes.Notify();
              // Now watch for writability instead.
              EXPECT_TRUE(watch->SetEvents(EpollLoop::kWritable).ok());
            }
          } else if (events & EpollLoop::kWritable) {
            EXPECT_TRUE(watch->SetEvents(0).ok());  // level-triggered: pause it
            writable.Notify();
          }
        });
    ASSERT_TRUE(watched.ok()) << watched.status();
    watch = *std::move(watched);
  });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(got_bytes.HasBeenNotified()) << "nothing was sent yet";
  ASSERT_EQ(write(pair.client, "ping", 4), 4);
  ASSERT_TRUE(got_bytes.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(writable.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(off_loop.load());
  loop->RunAndWait([&] { watch.reset(); });
}

TEST(EpollLoopTest, APeerCloseIsReportedAndAnUnwatchedFdIsSilent) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  TcpPair pair;
  ASSERT_NO_FATAL_FAILURE(MakeTcpPair(&pair));
  std::atomic<int> calls{0};
  absl::Notification closed;
  EpollLoop::FdWatchPtr watch;
  loop->RunAndWait([&] {
    watch = *loop->WatchFd(pair.server, EpollLoop::kReadable, [&](uint32_t events) {
      ++calls;
      char buffer[16];
      // A closed peer reads as end of file; the callback destroys its own watch.
      if ((events & EpollLoop::kReadable) && read(pair.server, buffer, sizeof(buffer)) == 0) {
        watch.reset();
        closed.Notify();
      }
    });
  });
  close(pair.client);
  pair.client = -1;
  ASSERT_TRUE(closed.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // Still readable (end of file, level-triggered), but no longer watched.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(calls.load(), 1);
}

TEST(EpollLoopTest, AWatchDestroyedEarlierInTheSameRoundIsNotCalled) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  TcpPair a;
  TcpPair b;
  ASSERT_NO_FATAL_FAILURE(MakeTcpPair(&a));
  ASSERT_NO_FATAL_FAILURE(MakeTcpPair(&b));
  // Both become readable before the loop wakes; whichever runs first unwatches the other.
  ASSERT_EQ(write(a.client, "x", 1), 1);
  ASSERT_EQ(write(b.client, "x", 1), 1);
  absl::SleepFor(absl::Milliseconds(20));
  std::atomic<int> calls{0};
  EpollLoop::FdWatchPtr watch_a;
  EpollLoop::FdWatchPtr watch_b;
  loop->RunAndWait([&] {
    watch_a = *loop->WatchFd(a.server, EpollLoop::kReadable, [&](uint32_t) {
      ++calls;
      watch_a.reset();
      watch_b.reset();
    });
    watch_b = *loop->WatchFd(b.server, EpollLoop::kReadable, [&](uint32_t) {
      ++calls;
      watch_a.reset();
      watch_b.reset();
    });
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(calls.load(), 1);
}

TEST(EpollLoopTest, WatchingAnFdTwiceFails) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  TcpPair pair;
  ASSERT_NO_FATAL_FAILURE(MakeTcpPair(&pair));
  loop->RunAndWait([&] {
    absl::StatusOr<EpollLoop::FdWatchPtr> first =
        loop->WatchFd(pair.server, EpollLoop::kReadable, [](uint32_t) {});
    ASSERT_TRUE(first.ok());
    absl::StatusOr<EpollLoop::FdWatchPtr> second =
        loop->WatchFd(pair.server, EpollLoop::kReadable, [](uint32_t) {});
    EXPECT_FALSE(second.ok());
  });
}

TEST(EpollLoopTest, ShutdownRunsPostedTasksDropsTimersAndThenNothingRuns) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  Log log;
  std::atomic<bool> timer_ran{false};
  EventLoop::TimerPtr timer;
  absl::Notification blocked;
  absl::Notification release;
  loop->Post([&] {
    timer = loop->RunAt(loop->Now() + absl::Milliseconds(1), [&] { timer_ran = true; });
    blocked.Notify();
    release.WaitForNotification();  // keeps the loop busy while Shutdown begins
    log.Add("first");
  });
  ASSERT_TRUE(blocked.WaitForNotificationWithTimeout(absl::Seconds(10)));
  loop->Post([&] {
    log.Add("second");
    // Posted while stopping: still runs; a timer added now never does.
    loop->Post([&] { log.Add("posted by second"); });
    timer = loop->RunAt(loop->Now(), [&] { timer_ran = true; });
  });
  std::thread stopper([&] { loop->Shutdown(); });
  absl::SleepFor(absl::Milliseconds(50));  // the timer is due by now
  release.Notify();
  stopper.join();
  EXPECT_THAT(log.entries(), ElementsAre("first", "second", "posted by second"));
  EXPECT_FALSE(timer_ran.load());

  // Afterwards: nothing runs on the loop; RunAndWait runs here; Shutdown again is a no-op.
  loop->Post([&] { log.Add("after shutdown"); });
  bool inline_ran = false;
  loop->RunAndWait([&] {
    inline_ran = true;
    timer.reset();
  });
  EXPECT_TRUE(inline_ran);
  loop->Shutdown();
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_THAT(log.entries(), ElementsAre("first", "second", "posted by second"));
  EXPECT_FALSE(timer_ran.load());
}

TEST(EpollLoopTest, ShutdownFromTwoThreadsReturnsInBothOnceStopped) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  std::atomic<bool> task_done{false};
  loop->Post([&] {
    absl::SleepFor(absl::Milliseconds(100));
    task_done = true;
  });
  std::thread a([&] { loop->Shutdown(); });
  std::thread b([&] {
    loop->Shutdown();
    EXPECT_TRUE(task_done.load()) << "returned before the loop stopped";
  });
  a.join();
  b.join();
  EXPECT_TRUE(task_done.load());
}

TEST(EpollLoopTest, ShutdownFromATaskStopsTheLoopAfterIt) {
  std::unique_ptr<EpollLoop> loop = StartedLoop();
  Log log;
  absl::Notification asked;
  loop->Post([&] {
    loop->Shutdown();  // returns at once: this task is still running
    loop->Post([&] { log.Add("posted while stopping"); });
    log.Add("asked");
    asked.Notify();
  });
  ASSERT_TRUE(asked.WaitForNotificationWithTimeout(absl::Seconds(10)));
  loop->Shutdown();  // joins
  loop->Post([&] { log.Add("after"); });
  EXPECT_THAT(log.entries(), ElementsAre("asked", "posted while stopping"));
}

TEST(EpollLoopTest, TasksPostedBeforeStartRunAfterIt) {
  absl::StatusOr<std::unique_ptr<EpollLoop>> loop = EpollLoop::Create();
  ASSERT_TRUE(loop.ok());
  absl::Notification ran;
  (*loop)->Post([&] { ran.Notify(); });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(ran.HasBeenNotified());
  ASSERT_TRUE((*loop)->Start().ok());
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE((*loop)->Start().ok()) << "once only";
}

TEST(EpollLoopTest, ShutdownBeforeStartDropsPostedTasks) {
  absl::StatusOr<std::unique_ptr<EpollLoop>> loop = EpollLoop::Create();
  ASSERT_TRUE(loop.ok());
  bool ran = false;
  (*loop)->Post([&] { ran = true; });
  (*loop)->Shutdown();
  EXPECT_FALSE((*loop)->Start().ok());
  EXPECT_FALSE(ran);
}

TEST(EpollLoopTest, HandlesThatOutliveTheLoopAreInert) {
  TcpPair pair;
  ASSERT_NO_FATAL_FAILURE(MakeTcpPair(&pair));
  EventLoop::TimerPtr timer;
  EpollLoop::FdWatchPtr watch;
  {
    std::unique_ptr<EpollLoop> loop = StartedLoop();
    loop->RunAndWait([&] {
      timer = loop->RunAt(loop->Now() + absl::Hours(1), [] {});
      watch = *loop->WatchFd(pair.server, EpollLoop::kReadable, [](uint32_t) {});
    });
  }
  EXPECT_FALSE(watch->SetEvents(EpollLoop::kWritable).ok());
  timer.reset();
  watch.reset();
}

}  // namespace
}  // namespace kommo::http
