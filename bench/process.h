// Child processes for the benchmark driver: start a binary with extra environment, read its first
// stdout line, sample its /proc status, stop it by PID.
#ifndef KOMMO_BENCH_PROCESS_H_
#define KOMMO_BENCH_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kommo::bench {

// What /proc/PID/status says about a process. Fields are -1 when they could not be read.
struct ProcStatus {
  int64_t threads = -1;
  int64_t vm_rss_kb = -1;
  int64_t vm_hwm_kb = -1;    // peak resident set size since the process started
  int64_t rss_anon_kb = -1;  // of VmRSS: heap, stacks, private data
  int64_t rss_file_kb = -1;  // of VmRSS: mapped files (the binary and its shared libraries)
};

// Reads /proc/PID/status; NOT_FOUND when the process is gone.
absl::StatusOr<ProcStatus> ReadProcStatus(pid_t pid);

// User plus system CPU time the process has used so far (/proc/PID/stat), in seconds; -1 when it
// cannot be read.
double CpuSeconds(pid_t pid);

// CPU seconds of each thread of a process (/proc/PID/task/TID/stat), by thread id.
struct ThreadCpu {
  pid_t tid = 0;
  std::string name;  // comm: what the thread named itself, else the program's name
  double seconds = 0;
};
std::vector<ThreadCpu> ThreadCpuSeconds(pid_t pid);
// Renames the threads of this process that are not in `before` (e.g. those a library just started),
// through /proc/self/task/TID/comm, so that ThreadCpuSummary can tell them apart.
void NameNewThreads(const std::vector<ThreadCpu>& before, const std::string& name);
// "name ×count: seconds" per thread name, differences from `before`, largest first.
std::string ThreadCpuSummary(const std::vector<ThreadCpu>& before,
                             const std::vector<ThreadCpu>& after);

class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts argv[0] (a path) with argv, the driver's environment plus `env` (which overrides),
  // stdout on a pipe read by ReadLine() and stderr appended to `stderr_path` ("" = /dev/null). The
  // child gets SIGKILL if the driver dies first (PR_SET_PDEATHSIG), so no process outlives a run.
  // Call from the main thread: the death signal follows the thread that started the child.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv,
      const std::vector<std::pair<std::string, std::string>>& env, const std::string& stderr_path);

  ~ChildProcess();  // Stop(1 s)
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // When fork() was called.
  Clock::time_point started_at() const { return started_at_; }

  // The next line of stdout (without the newline); DEADLINE_EXCEEDED after `timeout`,
  // UNAVAILABLE when stdout closed (the child exited).
  absl::StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout);

  // SIGTERM, waits up to `grace` for the exit, then SIGKILL. Returns the wait status, or -1 when
  // the child was already reaped. Idempotent.
  int Stop(std::chrono::milliseconds grace);

 private:
  ChildProcess() = default;

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffered_;
  Clock::time_point started_at_;
  bool reaped_ = false;
  int wait_status_ = -1;
};

// Samples /proc/PID/status every `period` on a thread of its own and keeps the peaks.
class ProcSampler {
 public:
  ProcSampler(pid_t pid, std::chrono::milliseconds period);
  ~ProcSampler();  // Stop()
  ProcSampler(const ProcSampler&) = delete;
  ProcSampler& operator=(const ProcSampler&) = delete;

  // Takes a last sample and stops the thread. Idempotent.
  void Stop();
  int64_t peak_threads() const { return peak_threads_.load(); }
  int64_t peak_rss_kb() const { return peak_rss_kb_.load(); }
  // The process's own peak (VmHWM) at the last sample.
  int64_t hwm_kb() const { return hwm_kb_.load(); }

 private:
  void Sample();

  pid_t pid_;
  std::chrono::milliseconds period_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> peak_threads_{-1};
  std::atomic<int64_t> peak_rss_kb_{-1};
  std::atomic<int64_t> hwm_kb_{-1};
  std::thread thread_;
};

}  // namespace kommo::bench

#endif  // KOMMO_BENCH_PROCESS_H_
