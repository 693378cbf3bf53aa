#include "bench/process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace kommo::bench {
namespace {

int64_t ParseKb(absl::string_view value) {
  // "   12345 kB"
  value = absl::StripAsciiWhitespace(value);
  absl::ConsumeSuffix(&value, " kB");
  int64_t number = -1;
  if (!absl::SimpleAtoi(value, &number)) return -1;
  return number;
}

}  // namespace

absl::StatusOr<ProcStatus> ReadProcStatus(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in) return absl::NotFoundError(absl::StrCat("no /proc/", pid, "/status"));
  ProcStatus status;
  std::string line;
  bool any = false;
  while (std::getline(in, line)) {
    any = true;
    absl::string_view view = line;
    if (absl::ConsumePrefix(&view, "Threads:")) {
      status.threads = ParseKb(view);
    } else if (absl::ConsumePrefix(&view, "VmRSS:")) {
      status.vm_rss_kb = ParseKb(view);
    } else if (absl::ConsumePrefix(&view, "VmHWM:")) {
      status.vm_hwm_kb = ParseKb(view);
    } else if (absl::ConsumePrefix(&view, "RssAnon:")) {
      status.rss_anon_kb = ParseKb(view);
    } else if (absl::ConsumePrefix(&view, "RssFile:")) {
      status.rss_file_kb = ParseKb(view);
    } else if (absl::ConsumePrefix(&view, "State:") && absl::StrContains(view, "zombie")) {
      return absl::NotFoundError(absl::StrCat("process ", pid, " has exited"));
    }
  }
  if (!any) return absl::NotFoundError(absl::StrCat("process ", pid, " has exited"));
  return status;
}

namespace {

// Parses utime + stime (seconds) and the command name out of a /proc stat file.
double StatCpuSeconds(const std::string& path, std::string* name) {
  std::ifstream in(path);
  std::string stat;
  if (!std::getline(in, stat)) return -1;
  // "PID (comm) S ppid ...": the command name may hold spaces; utime and stime are fields 14 and
  // 15 of the whole line, i.e. the 12th and 13th after ")".
  const size_t open_paren = stat.find('(');
  const size_t close_paren = stat.rfind(')');
  if (open_paren == std::string::npos || close_paren == std::string::npos) return -1;
  if (name != nullptr) *name = stat.substr(open_paren + 1, close_paren - open_paren - 1);
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close_paren + 2), ' ');
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

double CpuSeconds(pid_t pid) {
  return StatCpuSeconds(absl::StrCat("/proc/", pid, "/stat"), nullptr);
}

std::vector<ThreadCpu> ThreadCpuSeconds(pid_t pid) {
  std::vector<ThreadCpu> threads;
  const std::string dir = absl::StrCat("/proc/", pid, "/task");
  DIR* tasks = opendir(dir.c_str());
  if (tasks == nullptr) return threads;
  while (dirent* entry = readdir(tasks)) {
    ThreadCpu thread;
    if (!absl::SimpleAtoi(entry->d_name, &thread.tid)) continue;
    thread.seconds = StatCpuSeconds(absl::StrCat(dir, "/", entry->d_name, "/stat"), &thread.name);
    if (thread.seconds < 0) continue;
    if (thread.tid == pid) thread.name = "main";
    threads.push_back(thread);
  }
  closedir(tasks);
  return threads;
}

void NameNewThreads(const std::vector<ThreadCpu>& before, const std::string& name) {
  std::set<pid_t> known;
  for (const ThreadCpu& thread : before) known.insert(thread.tid);
  for (const ThreadCpu& thread : ThreadCpuSeconds(getpid())) {
    if (known.count(thread.tid)) continue;
    std::ofstream comm(absl::StrCat("/proc/self/task/", thread.tid, "/comm"));
    comm << name.substr(0, 15);
  }
}

std::string ThreadCpuSummary(const std::vector<ThreadCpu>& before,
                             const std::vector<ThreadCpu>& after) {
  std::map<pid_t, double> start;
  for (const ThreadCpu& thread : before) start[thread.tid] = thread.seconds;
  std::map<std::string, std::pair<int, double>> by_name;
  for (const ThreadCpu& thread : after) {
    auto& [count, seconds] = by_name[thread.name];
    ++count;
    seconds += thread.seconds - (start.count(thread.tid) ? start[thread.tid] : 0.0);
  }
  std::vector<std::pair<double, std::string>> parts;
  for (const auto& [name, entry] : by_name) {
    if (entry.second < 0.005) continue;
    parts.emplace_back(
        entry.second,
        absl::StrFormat("%s%s %.2f s", name, entry.first > 1 ? absl::StrCat(" x", entry.first) : "",
                        entry.second));
  }
  std::sort(parts.rbegin(), parts.rend());
  std::vector<std::string> text;
  for (const auto& part : parts) text.push_back(part.second);
  return text.empty() ? "none" : absl::StrJoin(text, ", ");
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& env, const std::string& stderr_path) {
  if (argv.empty()) return absl::InvalidArgumentError("no program");
  if (access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(argv[0], " is not an executable: ", strerror(errno)));
  }
  // Everything the child needs is prepared before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> env_strings;
  std::set<std::string> overridden;
  for (const auto& [name, value] : env) overridden.insert(name);
  for (char** entry = environ; *entry != nullptr; ++entry) {
    absl::string_view view = *entry;
    const size_t equals = view.find('=');
    if (equals != absl::string_view::npos &&
        overridden.count(std::string(view.substr(0, equals)))) {
      continue;
    }
    env_strings.emplace_back(view);
  }
  for (const auto& [name, value] : env) env_strings.push_back(absl::StrCat(name, "=", value));
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  std::vector<char*> args;
  for (std::string& arg : argv_copy) args.push_back(arg.data());
  args.push_back(nullptr);

  const int stderr_fd = stderr_path.empty() ? open("/dev/null", O_WRONLY | O_CLOEXEC)
                                            : open(stderr_path.c_str(),
                                                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (stderr_fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open ", stderr_path, ": ", strerror(errno)));
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    close(stderr_fd);
    return absl::UnavailableError(absl::StrCat("pipe: ", strerror(errno)));
  }
  const pid_t parent = getpid();
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->started_at_ = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    close(stderr_fd);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return absl::UnavailableError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the driver died before prctl
    // The driver may block signals in its threads; the child starts with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(stderr_fd, STDERR_FILENO);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(stderr_fd);
  close(pipe_fds[1]);
  child->pid_ = pid;
  child->stdout_fd_ = pipe_fds[0];
  return child;
}

ChildProcess::~ChildProcess() {
  Stop(std::chrono::seconds(1));
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

absl::StatusOr<std::string> ChildProcess::ReadLine(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    const size_t newline = buffered_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    if (stdout_fd_ < 0) return absl::UnavailableError("stdout is closed");
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no line on stdout within ", timeout.count(), " ms"));
    }
    pollfd pfd{stdout_fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t got = read(stdout_fd_, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      close(stdout_fd_);
      stdout_fd_ = -1;
      return absl::UnavailableError("the process closed stdout (exited?)");
    }
    buffered_.append(chunk, static_cast<size_t>(got));
  }
}

int ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || reaped_) return wait_status_;
  kill(pid_, SIGTERM);
  const Clock::time_point deadline = Clock::now() + grace;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      wait_status_ = status;
      return status;
    }
    if (done < 0 && errno != EINTR) {
      reaped_ = true;
      return -1;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  wait_status_ = status;
  return status;
}

ProcSampler::ProcSampler(pid_t pid, std::chrono::milliseconds period) : pid_(pid), period_(period) {
  Sample();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "bench-sampler");
    while (!stop_.load()) {
      std::this_thread::sleep_for(period_);
      Sample();
    }
  });
}

ProcSampler::~ProcSampler() { Stop(); }

void ProcSampler::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  thread_.join();
  Sample();
}

void ProcSampler::Sample() {
  absl::StatusOr<ProcStatus> status = ReadProcStatus(pid_);
  if (!status.ok()) return;
  if (status->threads > peak_threads_.load()) peak_threads_.store(status->threads);
  if (status->vm_rss_kb > peak_rss_kb_.load()) peak_rss_kb_.store(status->vm_rss_kb);
  if (status->vm_hwm_kb >= 0) hwm_kb_.store(status->vm_hwm_kb);
}

}  // namespace kommo::bench
