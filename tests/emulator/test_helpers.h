// Header-only helpers the emulator's tests share (so tests that do not link the test client can
// use them): many GETs at once on separate connections, the open-file limit that needs, a
// body-collecting libcurl write callback, and starting the kommo-emulator binary.
#ifndef KOMMO_TESTS_EMULATOR_TEST_HELPERS_H_
#define KOMMO_TESTS_EMULATOR_TEST_HELPERS_H_

#include <curl/curl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

extern char** environ;

namespace kommo::emulator::testing {

// libcurl write callback: appends to the std::string at `user`.
inline size_t AppendToString(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Raises the soft limit of open files to the hard one; returns the soft limit now in force.
inline rlim_t RaiseOpenFileLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

struct ConcurrentReply {
  long status = 0;
  long connects = 0;  // CURLINFO_NUM_CONNECTS
  std::string body;
};

struct ConcurrentReplies {
  std::vector<ConcurrentReply> replies;           // in the order the requests were made
  std::chrono::steady_clock::duration elapsed{};  // from the first transfer to the last answer
};

// `count` GETs of `url` at once, each on a fresh connection of its own, with the extra `headers`
// ("Name: value") and, when `ca_file` is not empty, that file's CA for TLS. Returns when every
// transfer has finished or timed out (`timeout_ms` each).
inline ConcurrentReplies GetConcurrently(const std::string& url, int count,
                                         const std::vector<std::string>& headers, long timeout_ms,
                                         const std::string& ca_file = "") {
  ConcurrentReplies result;
  result.replies.resize(count);
  curl_slist* header_list = nullptr;
  for (const std::string& header : headers) {
    header_list = curl_slist_append(header_list, header.c_str());
  }
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(count));
  std::vector<CURL*> handles;
  for (int i = 0; i < count; ++i) {
    CURL* easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    if (!ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list);
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);  // one connection per request
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, AppendToString);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &result.replies[i].body);
    curl_multi_add_handle(multi, easy);
    handles.push_back(easy);
  }
  const auto start = std::chrono::steady_clock::now();
  int running = 0;
  do {
    curl_multi_perform(multi, &running);
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  } while (running > 0);
  result.elapsed = std::chrono::steady_clock::now() - start;
  for (int i = 0; i < count; ++i) {
    curl_easy_getinfo(handles[i], CURLINFO_RESPONSE_CODE, &result.replies[i].status);
    curl_easy_getinfo(handles[i], CURLINFO_NUM_CONNECTS, &result.replies[i].connects);
    curl_multi_remove_handle(multi, handles[i]);
    curl_easy_cleanup(handles[i]);
  }
  curl_multi_cleanup(multi);
  curl_slist_free_all(header_list);
  return result;
}

// Starts `args[0]` with `args`, its stdout on a pipe whose read end goes to *stdout_fd. Returns
// the child's pid, or -1 when it could not be started.
inline pid_t SpawnWithStdout(std::vector<std::string> args, int* stdout_fd) {
  int out[2];
  if (pipe(out) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (spawned != 0) {
    close(out[0]);
    return -1;
  }
  *stdout_fd = out[0];
  return pid;
}

// Reads one line from `fd` (without '\n'), giving up after `timeout`.
inline std::string ReadLine(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char c;
    if (read(fd, &c, 1) != 1) break;
    if (c == '\n') return line;
    line.push_back(c);
  }
  return line;
}

}  // namespace kommo::emulator::testing

#endif  // KOMMO_TESTS_EMULATOR_TEST_HELPERS_H_
