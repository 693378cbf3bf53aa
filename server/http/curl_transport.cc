#include "server/http/curl_transport.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <utility>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/common/clock.h"

namespace kommo::http {
namespace {

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};

using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;

// Longest poll when nothing is due: only a backstop, wakeups end the poll early.
constexpr int kMaxPollMs = 1000;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

long ToMillisAtLeastOne(absl::Duration duration) {
  return std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(duration)));
}

// One request in flight; owned by the loop's `active` map.
struct Transfer {
  HttpTransport::RequestId id = 0;
  HttpRequest request;
  HttpTransport::Callback done;
  EasyPtr easy;
  SlistPtr headers;
  HttpResponse response;
  size_t max_bytes = 0;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {};
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (transfer->response.body.size() + bytes > transfer->max_bytes) {
    transfer->too_large = true;
    return 0;  // makes libcurl abort the transfer with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  absl::string_view line(data, bytes);
  if (absl::StartsWith(line, "HTTP/")) {
    transfer->response.headers.clear();  // a new response (after 100 Continue, for example)
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return bytes;
  std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)));
  transfer->response.headers[name] =
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  return bytes;
}

}  // namespace

absl::string_view MethodName(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kPost:
      return "POST";
    case Method::kPatch:
      return "PATCH";
  }
  return "GET";
}

absl::string_view HttpResponse::Header(absl::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? absl::string_view() : absl::string_view(it->second);
}

struct CurlTransport::Impl {
  struct StartCommand {
    std::unique_ptr<Transfer> transfer;
  };
  struct CancelCommand {
    RequestId id;
  };
  struct TaskCommand {
    Task task;
  };
  using Command = std::variant<StartCommand, CancelCommand, TaskCommand>;

  CurlTransportOptions options;
  MultiPtr multi;
  // The loop waits in epoll on the sockets libcurl asks for (CURLMOPT_SOCKETFUNCTION) and on an
  // eventfd that wakes it for new commands; libcurl is then told exactly which socket is ready
  // (curl_multi_socket_action), so thousands of transfers in flight cost nothing while idle.
  int epoll_fd = -1;
  int wake_fd = -1;
  absl::Time curl_timer_at = absl::InfiniteFuture();  // CURLMOPT_TIMERFUNCTION's deadline
  std::thread thread;
  std::atomic<std::thread::id> loop_thread_id{};
  std::atomic<uint64_t> next_id{1};

  absl::Mutex mu;
  std::deque<Command> incoming ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;

  // Loop-thread state.
  std::map<RequestId, std::unique_ptr<Transfer>> active;
  TimerQueue timers;

  bool OnLoopThread() const { return std::this_thread::get_id() == loop_thread_id.load(); }

  void Enqueue(Command command) {
    {
      absl::MutexLock lock(&mu);
      incoming.push_back(std::move(command));
    }
    Wake();
  }

  void Wake() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_fd, &one, sizeof(one));
  }

  static int OnSocket(CURL* /*easy*/, curl_socket_t socket, int what, void* user, void* known) {
    auto* impl = static_cast<Impl*>(user);
    if (what == CURL_POLL_REMOVE) {
      ::epoll_ctl(impl->epoll_fd, EPOLL_CTL_DEL, socket, nullptr);
      curl_multi_assign(impl->multi.get(), socket, nullptr);
      return 0;
    }
    epoll_event event{};
    event.data.fd = socket;
    event.events = (what == CURL_POLL_IN || what == CURL_POLL_INOUT ? EPOLLIN : 0u) |
                   (what == CURL_POLL_OUT || what == CURL_POLL_INOUT ? EPOLLOUT : 0u);
    if (known == nullptr) {
      ::epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, socket, &event);
      curl_multi_assign(impl->multi.get(), socket, impl);  // any non-null marker
    } else {
      ::epoll_ctl(impl->epoll_fd, EPOLL_CTL_MOD, socket, &event);
    }
    return 0;
  }

  static int OnTimer(CURLM* /*multi*/, long timeout_ms, void* user) {
    auto* impl = static_cast<Impl*>(user);
    impl->curl_timer_at =
        timeout_ms < 0 ? absl::InfiniteFuture() : MonotonicNow() + absl::Milliseconds(timeout_ms);
    return 0;
  }

  void DrainCompletions() {
    int remaining = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &remaining)) {
      if (message->msg == CURLMSG_DONE) Finish(message->easy_handle, message->data.result);
    }
  }

  void Complete(std::unique_ptr<Transfer> transfer, HttpResult result) {
    Callback done = std::move(transfer->done);
    transfer.reset();  // frees the easy handle before user code runs
    done(std::move(result));
  }

  void StartTransfer(std::unique_ptr<Transfer> transfer) {
    CURL* easy = curl_easy_init();
    if (easy == nullptr) {
      Complete(std::move(transfer),
               {absl::UnavailableError("libcurl could not allocate a handle"), false});
      return;
    }
    transfer->easy.reset(easy);
    const HttpRequest& request = transfer->request;
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer.get());
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer.get());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl can decode
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    // Kommo's answers are a few KiB; a smaller receive buffer than libcurl's 16 KiB default keeps
    // thousands of transfers in flight cheap (larger bodies just take more reads).
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 8192L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ToMillisAtLeastOne(request.timeout));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     ToMillisAtLeastOne(std::min(request.timeout, options.connect_timeout)));

    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) {
      headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
    }
    if (!request.body.empty() || request.method != Method::kGet) {
      headers = curl_slist_append(headers, "Content-Type: application/json");
    }
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    transfer->headers.reset(headers);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

    switch (request.method) {
      case Method::kGet:
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        break;
      case Method::kPost:
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        // libcurl silently sends a request again when a reused keep-alive connection turns out
        // dead before any byte of the answer arrived; for a POST that may have reached the
        // server, that could create a duplicate. A fresh connection is never "reused", so a POST
        // is sent exactly once (POSTs are rare: creates ride in batches).
        curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
        break;
      case Method::kPatch:
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PATCH");
        break;
    }
    if (request.method != Method::kGet) {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }

    const CURLMcode added = curl_multi_add_handle(multi.get(), easy);
    if (added != CURLM_OK) {
      Complete(std::move(transfer),
               {absl::UnavailableError(
                    absl::StrCat("libcurl refused the request: ", curl_multi_strerror(added))),
                false});
      return;
    }
    const RequestId id = transfer->id;
    active.emplace(id, std::move(transfer));
  }

  void CancelTransfer(RequestId id) {
    auto it = active.find(id);
    if (it == active.end()) return;
    std::unique_ptr<Transfer> transfer = std::move(it->second);
    active.erase(it);
    curl_multi_remove_handle(multi.get(), transfer->easy.get());
    curl_off_t sent = 0;
    curl_easy_getinfo(transfer->easy.get(), CURLINFO_REQUEST_SIZE, &sent);
    Complete(std::move(transfer), {absl::CancelledError("request cancelled"), sent > 0});
  }

  void Finish(CURL* easy, CURLcode code) {
    void* user = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &user);
    auto* raw = static_cast<Transfer*>(user);
    curl_multi_remove_handle(multi.get(), easy);
    auto it = active.find(raw->id);
    if (it == active.end()) return;  // cannot happen: every added handle is active
    std::unique_ptr<Transfer> transfer = std::move(it->second);
    active.erase(it);

    long request_size = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_size);
    const bool sent = request_size > 0;
    HttpResult result{absl::UnknownError("unset"), sent};
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      transfer->response.status = static_cast<int>(status);
      result.response = std::move(transfer->response);
    } else if (transfer->too_large) {
      result.response = absl::ResourceExhaustedError(
          absl::StrCat("response larger than ", transfer->max_bytes, " bytes"));
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
      result.response = absl::DeadlineExceededError(absl::StrCat(
          "HTTP request timed out after ", absl::FormatDuration(transfer->request.timeout)));
    } else if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
               code == CURLE_SSL_ISSUER_ERROR) {
      // A certificate that does not verify will not verify on the next attempt either.
      const char* detail = transfer->error[0] != '\0' ? transfer->error : curl_easy_strerror(code);
      result.response = absl::FailedPreconditionError(
          absl::StrCat("TLS certificate verification failed: ", detail));
    } else {
      const char* detail = transfer->error[0] != '\0' ? transfer->error : curl_easy_strerror(code);
      result.response = absl::UnavailableError(absl::StrCat("HTTP request failed: ", detail));
    }
    Complete(std::move(transfer), std::move(result));
  }

  void Process(Command& command) {
    if (auto* start = std::get_if<StartCommand>(&command)) {
      StartTransfer(std::move(start->transfer));
    } else if (auto* cancel = std::get_if<CancelCommand>(&command)) {
      CancelTransfer(cancel->id);
    } else if (auto* task = std::get_if<TaskCommand>(&command)) {
      task->task();
    }
  }

  void RunDueTimers() {
    const absl::Time now = MonotonicNow();
    while (timers.RunOneDue(now)) {
    }
  }

  int WaitTimeoutMs() const {
    absl::Time next = std::min(curl_timer_at, MonotonicNow() + absl::Milliseconds(kMaxPollMs));
    next = std::min(next, timers.NextDue());
    const absl::Duration until = next - MonotonicNow();
    // Round up so that a deadline is never waited for early and spun on.
    return static_cast<int>(
        std::max<int64_t>(0, absl::ToInt64Milliseconds(absl::Ceil(until, absl::Milliseconds(1)))));
  }

  void Run() {
    loop_thread_id.store(std::this_thread::get_id());
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    int running = 0;
    while (true) {
      std::deque<Command> commands;
      bool stop = false;
      {
        absl::MutexLock lock(&mu);
        commands.swap(incoming);
        stop = stopping;
      }
      for (Command& command : commands) Process(command);
      if (stop) break;
      RunDueTimers();
      if (MonotonicNow() >= curl_timer_at) {
        curl_timer_at = absl::InfiniteFuture();
        curl_multi_socket_action(multi.get(), CURL_SOCKET_TIMEOUT, 0, &running);
        DrainCompletions();
      }
      const int ready = ::epoll_wait(epoll_fd, events, kMaxEvents, WaitTimeoutMs());
      for (int i = 0; i < ready; ++i) {
        if (events[i].data.fd == wake_fd) {
          uint64_t count = 0;
          [[maybe_unused]] const ssize_t got = ::read(wake_fd, &count, sizeof(count));
          continue;
        }
        int mask = 0;
        if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi.get(), events[i].data.fd, mask, &running);
      }
      DrainCompletions();
    }
    // Shutting down: abort what is in flight; tasks posted by those callbacks still run.
    while (!active.empty()) CancelTransfer(active.begin()->first);
    while (true) {
      std::deque<Command> commands;
      {
        absl::MutexLock lock(&mu);
        commands.swap(incoming);
      }
      if (commands.empty()) break;
      for (Command& command : commands) {
        if (auto* start = std::get_if<StartCommand>(&command)) {
          Complete(std::move(start->transfer),
                   {absl::CancelledError("HTTP transport is shutting down"), false});
        } else {
          Process(command);
        }
      }
    }
    timers.Clear();
  }
};

absl::StatusOr<std::unique_ptr<CurlTransport>> CurlTransport::Create(CurlTransportOptions options) {
  GlobalInitOnce();
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->multi.reset(curl_multi_init());
  if (impl->multi == nullptr) return absl::InternalError("curl_multi_init failed");
  curl_multi_setopt(impl->multi.get(), CURLMOPT_MAXCONNECTS, impl->options.max_cached_connections);
  impl->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  impl->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->epoll_fd < 0 || impl->wake_fd < 0) {
    if (impl->epoll_fd >= 0) ::close(impl->epoll_fd);
    if (impl->wake_fd >= 0) ::close(impl->wake_fd);
    return absl::InternalError("cannot create the HTTP transport's epoll or eventfd");
  }
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.fd = impl->wake_fd;
  ::epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, impl->wake_fd, &wake);
  curl_multi_setopt(impl->multi.get(), CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
  curl_multi_setopt(impl->multi.get(), CURLMOPT_SOCKETDATA, impl.get());
  curl_multi_setopt(impl->multi.get(), CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
  curl_multi_setopt(impl->multi.get(), CURLMOPT_TIMERDATA, impl.get());
  std::unique_ptr<CurlTransport> transport(new CurlTransport(std::move(impl)));
  Impl* raw = transport->impl_.get();
  raw->thread = std::thread([raw] { raw->Run(); });
  return transport;
}

CurlTransport::CurlTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void CurlTransport::Shutdown() {
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopping = true;
  }
  impl_->Wake();
  if (impl_->thread.joinable()) impl_->thread.join();
}

CurlTransport::~CurlTransport() {
  Shutdown();
  // libcurl closes its cached connections (and tells OnSocket) while the epoll fd still exists.
  impl_->multi.reset();
  ::close(impl_->epoll_fd);
  ::close(impl_->wake_fd);
}

HttpTransport::RequestId CurlTransport::Send(HttpRequest request, Callback done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->id = impl_->next_id.fetch_add(1);
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->max_bytes = impl_->options.max_response_bytes;
  const RequestId id = transfer->id;
  impl_->Enqueue(Impl::StartCommand{std::move(transfer)});
  return id;
}

void CurlTransport::Cancel(RequestId id) { impl_->Enqueue(Impl::CancelCommand{id}); }

absl::Time CurlTransport::Now() const { return MonotonicNow(); }

void CurlTransport::Post(Task task) { impl_->Enqueue(Impl::TaskCommand{std::move(task)}); }

EventLoop::TimerPtr CurlTransport::RunAt(absl::Time when, Task task) {
  return impl_->timers.Add(when, std::move(task));
}

}  // namespace kommo::http
