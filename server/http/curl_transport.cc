#include "server/http/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

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
  EpollLoop* loop = nullptr;
  CurlTransportOptions options;
  std::atomic<uint64_t> next_id{1};

  // Loop-thread state (or any one thread while the loop does not run).
  MultiPtr multi;
  std::map<RequestId, std::unique_ptr<Transfer>> active;
  // The sockets libcurl asks to watch (CURLMOPT_SOCKETFUNCTION), each watched on the loop until
  // libcurl says CURL_POLL_REMOVE.
  std::map<curl_socket_t, EpollLoop::FdWatchPtr> sockets;
  // CURLMOPT_TIMERFUNCTION's deadline, and the loop timer armed for it (due at `curl_armed`).
  // libcurl moves its deadline on almost every call; the loop timer is re-armed only when the
  // deadline moves earlier, or when it fires before a deadline that moved later.
  absl::Time curl_due = absl::InfiniteFuture();
  absl::Time curl_armed = absl::InfiniteFuture();
  EventLoop::TimerPtr curl_timer;
  // Set by Shutdown: transfers not yet started complete with CANCELLED instead.
  bool shut_down = false;
  // Easy handles of finished transfers, reset, for the next ones: a new handle costs a 5 KiB
  // allocation and its initialisation, and handles that come and go with every request fragment
  // the heap under many transfers in flight (bench/README.md). Bounded, so a burst does not keep
  // its handles once it is over.
  static constexpr size_t kMaxIdleEasies = 256;
  std::vector<EasyPtr> idle_easies;

  static int OnSocket(CURL* /*easy*/, curl_socket_t socket, int what, void* user,
                      void* /*socketp*/) {
    auto* impl = static_cast<Impl*>(user);
    if (what == CURL_POLL_REMOVE) {
      impl->sockets.erase(socket);
      return 0;
    }
    const uint32_t events =
        (what == CURL_POLL_IN || what == CURL_POLL_INOUT ? EpollLoop::kReadable : 0u) |
        (what == CURL_POLL_OUT || what == CURL_POLL_INOUT ? EpollLoop::kWritable : 0u);
    auto it = impl->sockets.find(socket);
    if (it != impl->sockets.end()) {
      if (it->second->SetEvents(events).ok()) return 0;
      // Not registered any more (closed and reopened under the same number without a
      // CURL_POLL_REMOVE in between): watch it afresh.
      impl->sockets.erase(it);
    }
    absl::StatusOr<EpollLoop::FdWatchPtr> watch = impl->loop->WatchFd(
        socket, events, [impl, socket](uint32_t ready) { impl->OnSocketReady(socket, ready); });
    if (!watch.ok()) return -1;  // libcurl fails the transfers on this socket
    impl->sockets.emplace(socket, *std::move(watch));
    return 0;
  }

  static int OnTimer(CURLM* /*multi*/, long timeout_ms, void* user) {
    auto* impl = static_cast<Impl*>(user);
    impl->curl_due = timeout_ms < 0 ? absl::InfiniteFuture()
                                    : impl->loop->Now() + absl::Milliseconds(timeout_ms);
    // Never runs libcurl from inside its own callback: even a 0 ms timeout is a loop timer.
    if (impl->curl_due < impl->curl_armed) impl->ArmCurlTimer(impl->curl_due);
    return 0;
  }

  void ArmCurlTimer(absl::Time when) {
    curl_armed = when;
    curl_timer = loop->RunAt(when, [this] { OnCurlTimer(); });
  }

  void OnSocketReady(curl_socket_t socket, uint32_t ready) {
    int mask = 0;
    if (ready & EpollLoop::kReadable) mask |= CURL_CSELECT_IN;
    if (ready & EpollLoop::kWritable) mask |= CURL_CSELECT_OUT;
    if (ready & EpollLoop::kError) mask |= CURL_CSELECT_ERR;
    int running = 0;
    curl_multi_socket_action(multi.get(), socket, mask, &running);
    DrainCompletions();
  }

  void OnCurlTimer() {
    curl_armed = absl::InfiniteFuture();
    if (curl_due == absl::InfiniteFuture()) return;  // libcurl dropped its deadline meanwhile
    if (curl_due > loop->Now()) {                    // libcurl moved it later meanwhile
      ArmCurlTimer(curl_due);
      return;
    }
    int running = 0;
    curl_multi_socket_action(multi.get(), CURL_SOCKET_TIMEOUT, 0, &running);
    // libcurl reports a deadline only when it changes; when it did not, ask it.
    if (curl_armed == absl::InfiniteFuture()) {
      long timeout_ms = -1;
      curl_multi_timeout(multi.get(), &timeout_ms);
      curl_due =
          timeout_ms < 0 ? absl::InfiniteFuture() : loop->Now() + absl::Milliseconds(timeout_ms);
      if (curl_due != absl::InfiniteFuture()) ArmCurlTimer(curl_due);
    }
    DrainCompletions();
  }

  void DrainCompletions() {
    int remaining = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &remaining)) {
      if (message->msg == CURLMSG_DONE) Finish(message->easy_handle, message->data.result);
    }
  }

  void Complete(std::unique_ptr<Transfer> transfer, HttpResult result) {
    Callback done = std::move(transfer->done);
    Recycle(std::move(transfer->easy));
    transfer.reset();  // frees the transfer's state before user code runs
    done(std::move(result));
  }

  // A finished transfer's easy handle (not in the multi handle any more) goes back to the pool,
  // reset to libcurl's defaults; past the pool's size it is freed.
  void Recycle(EasyPtr easy) {
    if (easy == nullptr || idle_easies.size() >= kMaxIdleEasies) return;
    curl_easy_reset(easy.get());
    idle_easies.push_back(std::move(easy));
  }

  // An easy handle from the pool, or a new one (nullptr when libcurl cannot allocate one).
  EasyPtr TakeEasy() {
    if (idle_easies.empty()) return EasyPtr(curl_easy_init());
    EasyPtr easy = std::move(idle_easies.back());
    idle_easies.pop_back();
    return easy;
  }

  void StartTransfer(std::unique_ptr<Transfer> transfer) {
    if (shut_down) {
      Complete(std::move(transfer), {absl::CancelledError("HTTP transport is shut down"), false});
      return;
    }
    transfer->easy = TakeEasy();
    CURL* easy = transfer->easy.get();
    if (easy == nullptr) {
      Complete(std::move(transfer),
               {absl::UnavailableError("libcurl could not allocate a handle"), false});
      return;
    }
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
    // libcurl holds a receive buffer per transfer from before it connects until it ends (the whole
    // of Kommo's latency), and over TLS an upload buffer too (CURLOPT_UPLOAD_BUFFERSIZE, 64 KiB by
    // default, used for every request sent over TLS, GETs included). Kommo's answers to one call
    // are a few KiB, so small buffers keep thousands of transfers in flight cheap: the receive
    // buffer measured 16 MB of the peak at 2,000 in flight with 8 KiB (bench/README.md). Larger
    // bodies just take more reads (a page of 250 leads: about a hundred more recv calls).
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, options.receive_buffer_bytes);
    curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);  // libcurl's smallest
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

  void CancelTransfer(RequestId id, absl::string_view why) {
    auto it = active.find(id);
    if (it == active.end()) return;
    std::unique_ptr<Transfer> transfer = std::move(it->second);
    active.erase(it);
    curl_multi_remove_handle(multi.get(), transfer->easy.get());
    long sent = 0;
    curl_easy_getinfo(transfer->easy.get(), CURLINFO_REQUEST_SIZE, &sent);
    Complete(std::move(transfer), {absl::CancelledError(why), sent > 0});
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

  // Loop thread: what is in flight completes with CANCELLED (callbacks may send more: those are
  // cancelled at once by StartTransfer).
  void ShutDownOnLoop() {
    shut_down = true;
    while (!active.empty()) {
      CancelTransfer(active.begin()->first, "HTTP transport is shutting down");
    }
  }
};

absl::StatusOr<std::unique_ptr<CurlTransport>> CurlTransport::Create(EpollLoop* loop,
                                                                     CurlTransportOptions options) {
  GlobalInitOnce();
  auto impl = std::make_unique<Impl>();
  impl->loop = loop;
  impl->options = std::move(options);
  impl->multi.reset(curl_multi_init());
  if (impl->multi == nullptr) return absl::InternalError("curl_multi_init failed");
  CURLM* multi = impl->multi.get();
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, impl->options.max_cached_connections);
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, impl.get());
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, impl.get());
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(impl)));
}

CurlTransport::CurlTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void CurlTransport::Shutdown() {
  Impl* impl = impl_.get();
  impl->loop->RunAndWait([impl] { impl->ShutDownOnLoop(); });
}

CurlTransport::~CurlTransport() {
  Shutdown();
  Impl* impl = impl_.get();
  // libcurl closes its cached connections (and unwatches their sockets) on the loop thread, which
  // owns the watches; the tasks posted before this one (Send, Cancel) have run by then.
  impl->loop->RunAndWait([impl] {
    impl->idle_easies.clear();
    impl->multi.reset();
    impl->sockets.clear();
    impl->curl_timer.reset();
  });
}

HttpTransport::RequestId CurlTransport::Send(HttpRequest request, Callback done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->id = impl_->next_id.fetch_add(1);
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->max_bytes = impl_->options.max_response_bytes;
  const RequestId id = transfer->id;
  Impl* impl = impl_.get();
  impl->loop->Post([impl, transfer = std::move(transfer)]() mutable {
    impl->StartTransfer(std::move(transfer));
  });
  return id;
}

void CurlTransport::Cancel(RequestId id) {
  Impl* impl = impl_.get();
  impl->loop->Post([impl, id] { impl->CancelTransfer(id, "request cancelled"); });
}

}  // namespace kommo::http
