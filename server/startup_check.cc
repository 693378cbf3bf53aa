#include "server/startup_check.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "server/common/log.h"

namespace kommo {

StartupCheckResult InterpretAccountResponse(const http::HttpResult& result) {
  StartupCheckResult out;
  if (!result.response.ok()) {
    out.problem = absl::StrCat("Kommo is unreachable: ", result.response.status().message());
    return out;
  }
  const http::HttpResponse& response = *result.response;
  if (response.status == 401) {
    out.problem = "Kommo refused the access token (HTTP 401)";
    return out;
  }
  if (response.status == 403) {
    out.problem =
        "Kommo forbids the account to this token or blocks it for too many requests (HTTP 403)";
    return out;
  }
  if (response.status != 200) {
    out.problem = absl::StrCat("Kommo answered HTTP ", response.status,
                               response.status == 404 ? " (is KOMMO_API_URL the API's base?)" : "");
    return out;
  }
  rapidjson::Document document;
  // Iterative: a body nested without end does not grow the stack.
  document.Parse<rapidjson::kParseIterativeFlag>(response.body.data(), response.body.size());
  if (document.HasParseError() || !document.IsObject()) {
    out.problem = "Kommo answered 200 with a body that is not a JSON object";
    return out;
  }
  const auto id = document.FindMember("id");
  if (id == document.MemberEnd() || !id->value.IsInt64()) {
    out.problem = "Kommo answered 200 without an account id";
    return out;
  }
  out.ok = true;
  out.account_id = id->value.GetInt64();
  const auto name = document.FindMember("name");
  if (name != document.MemberEnd() && name->value.IsString()) {
    out.account_name.assign(name->value.GetString(), name->value.GetStringLength());
  }
  return out;
}

void StartStartupCheck(http::HttpTransport* transport, const std::string& api_base_url,
                       const std::string& access_token, absl::Duration timeout,
                       absl::AnyInvocable<void(const StartupCheckResult&)> done) {
  http::HttpRequest request;
  request.method = http::Method::kGet;
  request.url = absl::StrCat(api_base_url, "/account");
  request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", access_token));
  request.headers.emplace_back("Accept", "application/json");
  request.timeout = timeout;
  transport->Send(std::move(request), [done = std::move(done)](http::HttpResult result) mutable {
    // Cancelled: the server stops before Kommo answered; nothing to report.
    if (absl::IsCancelled(result.response.status())) return;
    done(InterpretAccountResponse(result));
  });
}

void LogStartupCheck(const StartupCheckResult& result, const std::string& api_base_url) {
  if (result.ok) {
    log::Info("Kommo answers the start-up check",
              {{"account_id", static_cast<long long>(result.account_id)},
               {"account_name", result.account_name}});
    return;
  }
  log::Warning(
      "Kommo did not answer the start-up check: serving anyway, calls will fail with typed "
      "errors until it does (metric kommo_grpc_startup_kommo_ok is 0)",
      {{"url", absl::StrCat(api_base_url, "/account")}, {"problem", result.problem}});
}

}  // namespace kommo
