#include "bench/http_client.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace kommo::bench {
namespace {

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

}  // namespace

HttpClient::HttpClient(std::string authorization) : easy_(curl_easy_init()) {
  CURL* easy = static_cast<CURL*>(easy_);
  curl_slist* headers = nullptr;
  if (!authorization.empty()) {
    headers = curl_slist_append(headers, absl::StrCat("Authorization: ", authorization).c_str());
  }
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers_ = headers;
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  // As the service's transport asks: whatever libcurl can decode.
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
}

HttpClient::~HttpClient() {
  curl_easy_cleanup(static_cast<CURL*>(easy_));
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

absl::StatusOr<HttpAnswer> HttpClient::Get(const std::string& url) { return Perform(url, nullptr); }

absl::StatusOr<HttpAnswer> HttpClient::Post(const std::string& url, const std::string& json_body) {
  return Perform(url, &json_body);
}

absl::StatusOr<HttpAnswer> HttpClient::Perform(const std::string& url, const std::string* body) {
  CURL* easy = static_cast<CURL*>(easy_);
  HttpAnswer answer;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer.body);
  if (body != nullptr) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  const CURLcode code = curl_easy_perform(easy);
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(url, ": ", curl_easy_strerror(code)));
  }
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &answer.status);
  long connects = 0;
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
  connects_ += connects;
  return answer;
}

struct DirectLoad::Slot {
  CURL* easy = nullptr;
  std::string body;
  std::chrono::steady_clock::time_point started;
};

// libcurl's socket interface on epoll: the cost of a wake-up follows the sockets that are ready,
// not the number of transfers (curl_multi_perform walks every handle, which at 2,000 in flight
// would make the driver, not the emulator, the bottleneck).
struct DirectLoad::Loop {
  int epoll_fd = -1;
  long timeout_ms = -1;  // libcurl's requested timeout; -1: none

  static int OnSocket(CURL* /*easy*/, curl_socket_t socket, int what, void* user, void* /*per*/) {
    Loop* loop = static_cast<Loop*>(user);
    epoll_event event{};
    event.data.fd = socket;
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, socket, nullptr);
      return 0;
    }
    event.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, socket, &event) != 0) {
      epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, socket, &event);
    }
    return 0;
  }
  static int OnTimer(CURLM* /*multi*/, long timeout_ms, void* user) {
    static_cast<Loop*>(user)->timeout_ms = timeout_ms;
    return 0;
  }
};

DirectLoad::DirectLoad(size_t concurrency, const std::string& authorization)
    : concurrency_(concurrency), multi_(curl_multi_init()), loop_(std::make_unique<Loop>()) {
  loop_->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  CURLM* multi = static_cast<CURLM*>(multi_);
  // Keep every connection for the next request, as a client with this many in flight would.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(concurrency));
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Loop::OnSocket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, loop_.get());
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Loop::OnTimer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, loop_.get());
  curl_slist* headers =
      curl_slist_append(nullptr, absl::StrCat("Authorization: ", authorization).c_str());
  headers_ = headers;
  for (size_t i = 0; i < concurrency; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->easy = curl_easy_init();
    curl_easy_setopt(slot->easy, CURLOPT_PRIVATE, slot.get());
    curl_easy_setopt(slot->easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(slot->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(slot->easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(slot->easy, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(slot->easy, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(slot->easy, CURLOPT_WRITEDATA, &slot->body);
    slots_.push_back(std::move(slot));
  }
}

DirectLoad::~DirectLoad() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  for (const std::unique_ptr<Slot>& slot : slots_) curl_easy_cleanup(slot->easy);
  curl_multi_cleanup(multi);
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
  close(loop_->epoll_fd);
}

DirectLoadResult DirectLoad::Run(const std::vector<std::string>& urls) {
  using Clock = std::chrono::steady_clock;
  CURLM* multi = static_cast<CURLM*>(multi_);
  DirectLoadResult result;
  size_t next = 0;
  auto start = [&](Slot* slot) {
    slot->body.clear();
    curl_easy_setopt(slot->easy, CURLOPT_URL, urls[next++].c_str());
    slot->started = Clock::now();
    curl_multi_add_handle(multi, slot->easy);
  };
  const Clock::time_point begin = Clock::now();
  for (size_t i = 0; i < concurrency_ && i < urls.size(); ++i) start(slots_[i].get());
  size_t finished = 0;
  Clock::time_point last = begin;
  std::vector<epoll_event> events(256);
  int running = 0;
  curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
  while (finished < urls.size()) {
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      const CURLcode code = message->data.result;
      char* slot_pointer = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &slot_pointer);
      Slot* slot = reinterpret_cast<Slot*>(slot_pointer);
      const Clock::time_point now = Clock::now();
      last = now;
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      long connects = 0;
      curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
      result.connects += connects;
      if (code == CURLE_OK && (status == 200 || status == 204)) {
        ++result.ok;
        result.latencies_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot->started).count());
      } else {
        ++result.failed;
        if (result.first_failure.empty()) {
          result.first_failure =
              code != CURLE_OK ? curl_easy_strerror(code) : absl::StrCat("HTTP ", status);
        }
      }
      ++finished;
      curl_multi_remove_handle(multi, easy);
      if (next < urls.size()) start(slot);
    }
    if (finished >= urls.size()) break;
    const int wait_ms =
        loop_->timeout_ms < 0 ? 100 : static_cast<int>(std::min(loop_->timeout_ms, 100L));
    const int ready =
        epoll_wait(loop_->epoll_fd, events.data(), static_cast<int>(events.size()), wait_ms);
    if (ready <= 0) {
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
      continue;
    }
    for (int i = 0; i < ready; ++i) {
      const int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
      curl_multi_socket_action(multi, events[i].data.fd, flags, &running);
    }
    if (loop_->timeout_ms == 0) curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  result.wall_seconds = std::chrono::duration<double>(last - begin).count();
  return result;
}

}  // namespace kommo::bench
