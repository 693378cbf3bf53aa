// The load generator: an asynchronous gRPC client (callback API) that keeps N unary calls in
// flight, each with its own deadline, and records every call's latency and status.
#ifndef KOMMO_BENCH_LOAD_GENERATOR_H_
#define KOMMO_BENCH_LOAD_GENERATOR_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "kommo/client/errors.h"

namespace kommo::bench {

using Clock = std::chrono::steady_clock;

// One finished call.
struct CallRecord {
  int64_t latency_ns = 0;
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string reason;  // google.rpc.ErrorInfo reason from the status details, "" when none
};

struct LoadResult {
  std::vector<CallRecord> calls;  // in the order the calls were started
  double wall_seconds = 0;        // first call started → last call finished
  size_t ok() const;
  // "OK ×990, RESOURCE_EXHAUSTED/RATE_LIMIT_QUEUE_TIMEOUT ×10"
  std::string Breakdown() const;
};

// "RESOURCE_EXHAUSTED", ...: the client library's names.
inline std::string CodeName(grpc::StatusCode code) { return kommo::client::StatusCodeName(code); }
// The ErrorInfo reason packed in a status's details (google.rpc.Status), "" when none.
inline std::string ErrorInfoReason(const grpc::Status& status) {
  return kommo::client::ErrorReason(status);
}

// Latency percentiles over a set of samples (nanoseconds).
class Percentiles {
 public:
  explicit Percentiles(std::vector<int64_t> samples);
  // q in [0, 1]: nearest-rank percentile; 0 when there are no samples.
  int64_t At(double q) const;
  size_t size() const { return sorted_.size(); }

 private:
  std::vector<int64_t> sorted_;
};
Percentiles OkLatencies(const LoadResult& result);

// Runs `total` calls of one unary method, at most `concurrency` at once: `concurrency` calls
// start together and each completion starts the next one (a closed loop), from gRPC's callback
// thread. `make_request(i)` builds request i; `start` begins the call, e.g.
//   [stub](grpc::ClientContext* c, const Req* q, Resp* r, std::function<void(grpc::Status)> done) {
//     stub->async()->Method(c, q, r, std::move(done)); }
template <typename Request, typename Response>
LoadResult RunLoad(size_t total, size_t concurrency, std::chrono::milliseconds deadline,
                   const std::function<Request(size_t)>& make_request,
                   const std::function<void(grpc::ClientContext*, const Request*, Response*,
                                            std::function<void(grpc::Status)>)>& start) {
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response response;
    Clock::time_point started;
  };
  struct State {
    std::vector<std::unique_ptr<Call>> calls;
    std::vector<CallRecord> records;
    std::atomic<size_t> next{0};
    std::mutex mutex;
    std::condition_variable all_done;
    size_t done = 0;
    Clock::time_point last_finish;
  };
  LoadResult result;
  if (total == 0) return result;
  // Owned here and outlived by no callback: the last one has run (and touches nothing after its
  // notify) before the wait below returns, so contexts are destroyed on this thread, after their
  // calls finished.
  auto owned = std::make_unique<State>();
  State* state = owned.get();
  state->calls.resize(total);
  state->records.resize(total);
  // Requests are built before the clock starts: their cost is the driver's, not the service's.
  for (size_t i = 0; i < total; ++i) {
    state->calls[i] = std::make_unique<Call>();
    state->calls[i]->request = make_request(i);
  }
  std::function<void()> launch_next;
  launch_next = [state, total, deadline, &start, &launch_next] {
    const size_t i = state->next.fetch_add(1);
    if (i >= total) return;
    Call* call = state->calls[i].get();
    call->started = Clock::now();
    call->context.set_deadline(std::chrono::system_clock::now() + deadline);
    start(
        &call->context, &call->request, &call->response,
        [state, i, total, &launch_next](grpc::Status status) {
          const Clock::time_point now = Clock::now();
          Call* finished = state->calls[i].get();
          CallRecord& record = state->records[i];
          record.latency_ns =
              std::chrono::duration_cast<std::chrono::nanoseconds>(now - finished->started).count();
          record.code = status.error_code();
          if (!status.ok()) record.reason = ErrorInfoReason(status);
          launch_next();
          std::lock_guard<std::mutex> lock(state->mutex);
          if (now > state->last_finish) state->last_finish = now;
          if (++state->done == total) state->all_done.notify_all();
        });
  };
  const Clock::time_point begin = Clock::now();
  const size_t initial = concurrency < total ? concurrency : total;
  for (size_t i = 0; i < initial; ++i) launch_next();
  {
    std::unique_lock<std::mutex> lock(state->mutex);
    state->all_done.wait(lock, [&] { return state->done == total; });
  }
  result.wall_seconds = std::chrono::duration<double>(state->last_finish - begin).count();
  result.calls = std::move(state->records);
  return result;
}

// One call at a time: starts it and waits for its completion (the overhead scenario).
template <typename Request, typename Response>
CallRecord CallOnce(const Request& request, std::chrono::milliseconds deadline,
                    const std::function<void(grpc::ClientContext*, const Request*, Response*,
                                             std::function<void(grpc::Status)>)>& start,
                    Response* response) {
  grpc::ClientContext context;
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  grpc::Status result;
  Clock::time_point finished;
  const Clock::time_point started = Clock::now();
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  start(&context, &request, response, [&](grpc::Status status) {
    const Clock::time_point now = Clock::now();
    std::lock_guard<std::mutex> lock(mutex);
    finished = now;
    result = std::move(status);
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mutex);
  cv.wait(lock, [&] { return done; });
  CallRecord record;
  record.latency_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(finished - started).count();
  record.code = result.error_code();
  if (!result.ok()) record.reason = ErrorInfoReason(result);
  return record;
}

}  // namespace kommo::bench

#endif  // KOMMO_BENCH_LOAD_GENERATOR_H_
