#include "tests/emulator/test_client.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "gtest/gtest.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace kommo::emulator::testing {
namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t AppendHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) headers->clear();  // a new response (e.g. after 100)
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    (*headers)[name] = value;
  }
  return size * count;
}

}  // namespace

rapidjson::Document Reply::Json(bool* ok) const {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  if (ok != nullptr) *ok = !doc.HasParseError();
  if (doc.HasParseError()) doc.SetNull();
  return doc;
}

TestClient::TestClient(std::string base_url, std::string token)
    : base_url_(std::move(base_url)), token_(std::move(token)), curl_(curl_easy_init()) {}

TestClient::~TestClient() { curl_easy_cleanup(curl_); }

Reply TestClient::Send(const std::string& method, const std::string& path, const std::string* body,
                       const std::vector<std::string>& headers) {
  Reply reply;
  const std::string url = base_url_ + path;
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl_, CURLOPT_NOBODY, method == "HEAD" ? 1L : 0L);
  if (body != nullptr) {
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else {
    curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  curl_slist* list = nullptr;
  if (!token_.empty()) list = curl_slist_append(list, ("Authorization: Bearer " + token_).c_str());
  if (body != nullptr) list = curl_slist_append(list, "Content-Type: application/json");
  bool has_expect = false;
  for (const std::string& header : headers) {
    list = curl_slist_append(list, header.c_str());
    if (header.rfind("Expect:", 0) == 0) has_expect = true;
  }
  if (!has_expect) list = curl_slist_append(list, "Expect:");  // no 100-continue unless asked
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, AppendHeader);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  reply.curl_code = curl_easy_perform(curl_);
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &reply.new_connections);
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  return reply;
}

namespace {

const rapidjson::Value* Find(const rapidjson::Value& root, const std::string& path) {
  const rapidjson::Value* v = &root;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('.', start);
    if (end == std::string::npos) end = path.size();
    const std::string segment = path.substr(start, end - start);
    if (v->IsArray()) {
      char* parse_end = nullptr;
      const unsigned long index = std::strtoul(segment.c_str(), &parse_end, 10);
      if (segment.empty() || *parse_end != '\0' || index >= v->Size()) return nullptr;
      v = &(*v)[static_cast<rapidjson::SizeType>(index)];
    } else if (v->IsObject()) {
      const auto it = v->FindMember(segment.c_str());
      if (it == v->MemberEnd()) return nullptr;
      v = &it->value;
    } else {
      return nullptr;
    }
    start = end + 1;
  }
  return v;
}

const rapidjson::Value& NullValue() {
  static const rapidjson::Value kNull;
  return kNull;
}

}  // namespace

const rapidjson::Value& At(const rapidjson::Value& root, const std::string& path) {
  const rapidjson::Value* v = Find(root, path);
  if (v == nullptr) {
    ADD_FAILURE() << "JSON has no " << path;
    return NullValue();
  }
  return *v;
}

bool Has(const rapidjson::Value& root, const std::string& path) {
  return Find(root, path) != nullptr;
}

int64_t Int(const rapidjson::Value& root, const std::string& path) {
  const rapidjson::Value& v = At(root, path);
  if (!v.IsInt64()) {
    ADD_FAILURE() << "JSON " << path << " is not an integer";
    return 0;
  }
  return v.GetInt64();
}

std::string Str(const rapidjson::Value& root, const std::string& path) {
  const rapidjson::Value& v = At(root, path);
  if (!v.IsString()) {
    ADD_FAILURE() << "JSON " << path << " is not a string";
    return "";
  }
  return std::string(v.GetString(), v.GetStringLength());
}

bool Bool(const rapidjson::Value& root, const std::string& path) {
  const rapidjson::Value& v = At(root, path);
  if (!v.IsBool()) {
    ADD_FAILURE() << "JSON " << path << " is not a bool";
    return false;
  }
  return v.GetBool();
}

size_t Size(const rapidjson::Value& root, const std::string& path) {
  const rapidjson::Value& v = At(root, path);
  if (!v.IsArray()) {
    ADD_FAILURE() << "JSON " << path << " is not an array";
    return 0;
  }
  return v.Size();
}

bool IsNull(const rapidjson::Value& root, const std::string& path) {
  const rapidjson::Value* v = Find(root, path);
  return v != nullptr && v->IsNull();
}

void ExpectProblem(const Reply& reply, int status, const std::string& detail_part) {
  EXPECT_EQ(reply.status, status) << reply.body;
  EXPECT_EQ(reply.Header("content-type"), "application/problem+json");
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Int(doc, "status"), status);
  EXPECT_EQ(Str(doc, "type"), "https://httpstatus.es/" + std::to_string(status));
  EXPECT_FALSE(Str(doc, "title").empty());
  EXPECT_NE(Str(doc, "detail").find(detail_part), std::string::npos)
      << "detail without \"" << detail_part << "\": " << reply.body;
}

void ExpectValidationError(const Reply& reply, const std::string& request_id,
                           const std::string& code, const std::string& path) {
  ASSERT_EQ(reply.status, 400) << reply.body;
  EXPECT_EQ(reply.Header("content-type"), "application/problem+json");
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Str(doc, "title"), "Bad Request");
  EXPECT_EQ(Str(doc, "detail"), "Request validation failed");
  bool found = false;
  for (size_t i = 0; i < Size(doc, "validation-errors"); ++i) {
    const std::string item = "validation-errors." + std::to_string(i);
    if (Str(doc, item + ".request_id") != request_id) continue;
    for (size_t j = 0; j < Size(doc, item + ".errors"); ++j) {
      const std::string error = item + ".errors." + std::to_string(j);
      if (Str(doc, error + ".code") == code && Str(doc, error + ".path") == path) found = true;
    }
  }
  EXPECT_TRUE(found) << "no " << code << " at " << path << " for request_id " << request_id
                     << " in " << reply.body;
}

std::vector<int64_t> CreateLeads(TestClient& client, const std::string& prefix, int count) {
  std::vector<int64_t> ids;
  for (int start = 0; start < count; start += 250) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartArray();
    for (int i = start; i < std::min(count, start + 250); ++i) {
      w.StartObject();
      w.Key("name");
      const std::string name = prefix + " " + std::to_string(i);
      w.String(name.c_str());
      w.Key("price");
      w.Int(i);
      w.EndObject();
    }
    w.EndArray();
    const Reply reply = client.Post("/api/v4/leads", buffer.GetString());
    if (reply.status != 200) return ids;
    const rapidjson::Document doc = reply.Json();
    const size_t n = Size(doc, "_embedded.leads");
    for (size_t i = 0; i < n; ++i)
      ids.push_back(Int(doc, "_embedded.leads." + std::to_string(i) + ".id"));
  }
  return ids;
}

}  // namespace kommo::emulator::testing
