// A blocking HTTP/1.1 client on one libcurl easy handle, so that every request reuses the same
// keep-alive connection: the driver's direct GET to the emulator and its seeding requests.
#ifndef KOMMO_BENCH_HTTP_CLIENT_H_
#define KOMMO_BENCH_HTTP_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kommo::bench {

struct HttpAnswer {
  long status = 0;
  std::string body;
};

class HttpClient {
 public:
  // `authorization`: the whole header value ("Bearer T"), or "" for none.
  explicit HttpClient(std::string authorization);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  absl::StatusOr<HttpAnswer> Get(const std::string& url);
  absl::StatusOr<HttpAnswer> Post(const std::string& url, const std::string& json_body);
  // How many connections the handle has opened so far (1 means every request reused one).
  long connects() const { return connects_; }

 private:
  absl::StatusOr<HttpAnswer> Perform(const std::string& url, const std::string* body);

  void* easy_;               // CURL*
  void* headers_ = nullptr;  // curl_slist*
  long connects_ = 0;
};

// The comparison point of the concurrency scenario: GETs sent straight to the emulator with at
// most `concurrency` in flight (a closed loop on one libcurl multi handle, one thread). The handles
// and their keep-alive connections stay open from one Run() to the next.
struct DirectLoadResult {
  size_t ok = 0;  // HTTP 200 or 204
  size_t failed = 0;
  std::string first_failure;
  double wall_seconds = 0;            // first request started → last answer
  std::vector<int64_t> latencies_ns;  // of the successful requests
  long connects = 0;                  // connections opened
};

class DirectLoad {
 public:
  DirectLoad(size_t concurrency, const std::string& authorization);
  ~DirectLoad();
  DirectLoad(const DirectLoad&) = delete;
  DirectLoad& operator=(const DirectLoad&) = delete;

  DirectLoadResult Run(const std::vector<std::string>& urls);

 private:
  struct Slot;
  struct Loop;
  size_t concurrency_;
  void* multi_;  // CURLM*
  std::unique_ptr<Loop> loop_;
  void* headers_ = nullptr;  // curl_slist*
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace kommo::bench

#endif  // KOMMO_BENCH_HTTP_CLIENT_H_
