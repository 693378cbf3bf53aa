#ifndef KOMMO_TESTS_SUPPORT_FAKE_TRANSPORT_H_
#define KOMMO_TESTS_SUPPORT_FAKE_TRANSPORT_H_

#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "server/http/http_transport.h"
#include "tests/support/fake_event_loop.h"

namespace kommo::testing {

// An HttpTransport that records every request and answers from a script, on a FakeEventLoop.
class FakeTransport final : public http::HttpTransport {
 public:
  struct Sent {
    http::HttpRequest request;
    absl::Time at;
  };

  explicit FakeTransport(FakeEventLoop* loop) : loop_(loop) {}

  // Queues the answer to the next request not yet answered.
  void Then(http::HttpResult result) { script_.push_back(std::move(result)); }
  void ThenStatus(int status, std::string body, std::map<std::string, std::string> headers = {}) {
    http::HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    response.headers = std::move(headers);
    Then({std::move(response), true});
  }
  void ThenError(absl::Status error, bool request_sent) { Then({std::move(error), request_sent}); }

  // Answers requests the script does not cover (after the scripted answers are used up).
  void SetResponder(std::function<http::HttpResult(const http::HttpRequest&)> responder) {
    responder_ = std::move(responder);
  }

  RequestId Send(http::HttpRequest request, Callback done) override {
    sent_.push_back({request, loop_->Now()});
    http::HttpResult result{absl::InternalError("FakeTransport: no scripted answer"), false};
    if (!script_.empty()) {
      result = std::move(script_.front());
      script_.pop_front();
    } else if (responder_) {
      result = responder_(request);
    }
    loop_->Post([done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
    return sent_.size();
  }
  void Cancel(RequestId) override {}

  const std::vector<Sent>& sent() const { return sent_; }
  size_t unused_answers() const { return script_.size(); }

 private:
  FakeEventLoop* loop_;
  std::deque<http::HttpResult> script_;
  std::function<http::HttpResult(const http::HttpRequest&)> responder_;
  std::vector<Sent> sent_;
};

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_FAKE_TRANSPORT_H_
