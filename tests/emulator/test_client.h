// A blocking libcurl client for the emulator's tests. One easy handle per client, so successive
// requests reuse the connection (HTTP/1.1 keep-alive) like a real Kommo client would.
#ifndef KOMMO_TESTS_EMULATOR_TEST_CLIENT_H_
#define KOMMO_TESTS_EMULATOR_TEST_CLIENT_H_

#include <curl/curl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rapidjson/document.h"

namespace kommo::emulator::testing {

struct Reply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; the last value wins
  long new_connections = 0;                    // CURLINFO_NUM_CONNECTS: 0 when reused
  CURLcode curl_code = CURLE_OK;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
  // Parses the body; the document is kNullType (and `ok` false) when it is not JSON.
  rapidjson::Document Json(bool* ok = nullptr) const;
};

class TestClient {
 public:
  // `base_url` like "http://127.0.0.1:PORT"; `token` empty: no Authorization header.
  TestClient(std::string base_url, std::string token);
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  Reply Get(const std::string& path) { return Send("GET", path, nullptr, {}); }
  Reply Post(const std::string& path, const std::string& body) {
    return Send("POST", path, &body, {});
  }
  Reply Patch(const std::string& path, const std::string& body) {
    return Send("PATCH", path, &body, {});
  }
  // `body` nullptr: no body. `headers`: extra "Name: value" lines.
  Reply Send(const std::string& method, const std::string& path, const std::string* body,
             const std::vector<std::string>& headers);

  void set_token(std::string token) { token_ = std::move(token); }

 private:
  std::string base_url_;
  std::string token_;
  CURL* curl_;
};

// Checked JSON access for assertions: `path` is dotted, numeric segments index arrays
// ("_embedded.leads.0.id"). A missing member or a wrong type adds a test failure naming the path
// and yields a null / zero / empty value, never undefined behaviour.
const rapidjson::Value& At(const rapidjson::Value& root, const std::string& path);
bool Has(const rapidjson::Value& root, const std::string& path);
int64_t Int(const rapidjson::Value& root, const std::string& path);
std::string Str(const rapidjson::Value& root, const std::string& path);
bool Bool(const rapidjson::Value& root, const std::string& path);
size_t Size(const rapidjson::Value& root, const std::string& path);  // array length
bool IsNull(const rapidjson::Value& root, const std::string& path);

// A problem+json answer with this status whose detail contains `detail_part`.
void ExpectProblem(const Reply& reply, int status, const std::string& detail_part);
// A 400 validation answer naming `request_id` with an error of `code` at `path`.
void ExpectValidationError(const Reply& reply, const std::string& request_id,
                           const std::string& code, const std::string& path);

// Creates `count` leads named "<prefix> N" through POST /api/v4/leads; returns their ids.
std::vector<int64_t> CreateLeads(TestClient& client, const std::string& prefix, int count);

}  // namespace kommo::emulator::testing

#endif  // KOMMO_TESTS_EMULATOR_TEST_CLIENT_H_
