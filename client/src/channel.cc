#include "kommo/client/channel.h"

#include <grpcpp/support/client_interceptor.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace kommo::client {
namespace {

// A google.protobuf.Duration in the JSON form the service config takes: "1.250s".
std::string JsonDuration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count() < 0 ? 0 : static_cast<int64_t>(duration.count());
  char text[48];
  std::snprintf(text, sizeof(text), "\"%" PRId64 ".%03" PRId64 "s\"", ms / 1000, ms % 1000);
  return text;
}

std::string JsonNumber(double value) {
  char text[48];
  std::snprintf(text, sizeof(text), "%.6g", value);
  return text;
}

// [{"service":"kommo.v1.LeadService","method":"GetLead"}, ...]
std::string MethodNames(const std::vector<std::pair<const char*, const char*>>& methods) {
  std::string json = "[";
  for (const auto& [service, method] : methods) {
    if (json.size() > 1) json += ",";
    json += std::string("{\"service\":\"") + service + "\",\"method\":\"" + method + "\"}";
  }
  return json + "]";
}

std::string MethodConfig(const std::string& names, const RetryOptions& retry,
                         const std::vector<const char*>& retryable_codes) {
  std::string json = "{\"name\":" + names;
  if (retry.max_attempts > 1) {
    json += ",\"retryPolicy\":{\"maxAttempts\":" + std::to_string(retry.max_attempts) +
            ",\"initialBackoff\":" + JsonDuration(retry.initial_backoff) +
            ",\"maxBackoff\":" + JsonDuration(retry.max_backoff) +
            ",\"backoffMultiplier\":" + JsonNumber(retry.backoff_multiplier) +
            ",\"retryableStatusCodes\":[";
    for (size_t i = 0; i < retryable_codes.size(); ++i) {
      json += std::string(i == 0 ? "\"" : ",\"") + retryable_codes[i] + "\"";
    }
    json += "]}";
  }
  return json + "}";
}

// The whole of a file, or false with `*error` naming it (`what` says which setting it is).
bool ReadFile(const std::string& path, const char* what, std::string* contents,
              std::string* error) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  if (file) text << file.rdbuf();
  if (!file || file.bad()) {
    *error = std::string(what) + " " + path + ": cannot be read";
    return false;
  }
  *contents = text.str();
  if (contents->find("-----BEGIN ") == std::string::npos) {
    *error = std::string(what) + " " + path + ": holds no PEM block";
    return false;
  }
  return true;
}

using Metadata = std::vector<std::pair<std::string, std::string>>;

// Adds metadata to every call of a channel that the call does not carry already: the
// `authorization: Bearer <token>` of a plaintext channel, where gRPC refuses call credentials, and
// the channel's `x-kommo-account`.
class MetadataInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MetadataInterceptor(const Metadata* values) : values_(values) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      std::multimap<std::string, std::string>* sent = methods->GetSendInitialMetadata();
      for (const auto& [key, value] : *values_) {
        if (sent->find(key) == sent->end()) sent->emplace(key, value);
      }
    }
    methods->Proceed();
  }

 private:
  const Metadata* values_;  // owned by the factory, which the channel keeps
};

class MetadataInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit MetadataInterceptorFactory(Metadata values) : values_(std::move(values)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new MetadataInterceptor(&values_);
  }

 private:
  const Metadata values_;
};

// Whether gRPC can send `token` in a metadata value (printable ASCII) as one bearer token.
bool SaneToken(const std::string& token) {
  for (const char c : token) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

constexpr char kLeadService[] = "kommo.v1.LeadService";
constexpr char kContactService[] = "kommo.v1.ContactService";
constexpr char kNoteService[] = "kommo.v1.NoteService";
constexpr char kAccountService[] = "kommo.v1.AccountService";
constexpr char kTaskService[] = "kommo.v1.TaskService";
constexpr char kCompanyService[] = "kommo.v1.CompanyService";
constexpr char kLinkService[] = "kommo.v1.LinkService";

}  // namespace

std::string ServiceConfigJson(const ChannelOptions& options) {
  // Methods not named here (added later) are not retried: the safe default for a write.

  // Reads, UpdateLead, UpdateContact, UpdateCompany and CompleteTask (PATCHes of given values:
  // repeating one changes nothing more).
  const std::vector<const char*> idempotent = {"UNAVAILABLE", "RESOURCE_EXHAUSTED"};
  // Other writes: RESOURCE_EXHAUSTED only. The server returns it only when Kommo did not act on
  // the call; UNAVAILABLE on a create may mean the lead, contact, company, note or task exists
  // already, on an accept or decline that the incoming lead is gone (a repeat would say
  // INCOMING_LEAD_NOT_FOUND), and on a link or unlink that Kommo may have acted on it: repeated
  // later, it could undo another caller's newer unlink or link of the same pair.
  const std::vector<const char*> create = {"RESOURCE_EXHAUSTED"};

  std::string json = "{\"methodConfig\":[";
  json += MethodConfig(MethodNames({{kLeadService, "GetLead"},
                                    {kLeadService, "SearchLeads"},
                                    {kLeadService, "UpdateLead"},
                                    {kLeadService, "ListIncomingLeads"},
                                    {kLeadService, "ListLeads"},
                                    // A stream is retried only until its first response; after
                                    // that the caller resumes with its last resume_token.
                                    {kLeadService, "WatchLeads"},
                                    {kContactService, "WatchContacts"},
                                    {kContactService, "UpdateContact"},
                                    {kContactService, "GetContact"},
                                    {kContactService, "SearchContacts"},
                                    {kContactService, "LookupContacts"},
                                    {kCompanyService, "UpdateCompany"},
                                    {kCompanyService, "GetCompany"},
                                    {kCompanyService, "SearchCompanies"},
                                    {kLinkService, "ListLinks"},
                                    {kNoteService, "ListNotes"},
                                    {kAccountService, "GetAccount"},
                                    {kAccountService, "ListPipelines"},
                                    {kAccountService, "ListUsers"},
                                    {kAccountService, "ListCustomFields"},
                                    {kAccountService, "ListLossReasons"},
                                    {kTaskService, "ListTasks"},
                                    {kTaskService, "CompleteTask"}}),
                       options.retry, idempotent);
  json += ",";
  json += MethodConfig(MethodNames({{kLeadService, "CreateLead"},
                                    {kLeadService, "CreateLeadWithContact"},
                                    {kLeadService, "CreateIncomingLead"},
                                    {kLeadService, "AcceptIncomingLead"},
                                    {kLeadService, "DeclineIncomingLead"},
                                    {kContactService, "CreateContact"},
                                    {kContactService, "FindOrCreateContact"},
                                    {kCompanyService, "CreateCompany"},
                                    {kLinkService, "LinkEntities"},
                                    {kLinkService, "UnlinkEntities"},
                                    {kNoteService, "AddNote"},
                                    {kTaskService, "CreateTask"}}),
                       options.retry, create);
  json += "]";
  const RetryOptions& retry = options.retry;
  if (retry.max_attempts > 1 && retry.throttle_max_tokens > 0) {
    json += ",\"retryThrottling\":{\"maxTokens\":" + std::to_string(retry.throttle_max_tokens) +
            ",\"tokenRatio\":" + JsonNumber(retry.throttle_token_ratio) + "}";
  }
  return json + "}";
}

grpc::ChannelArguments ChannelArguments(const ChannelOptions& options) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(options));
  // Already the default in gRPC 1.51 (grpc_types.h; client_channel_test checks it); set anyway,
  // as the retry policy depends on it.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC stops pinging after 2 pings without data unless told otherwise; idle channels need more.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  if (options.tls.enabled && !options.tls.server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls.server_name);
  }
  return args;
}

std::unique_ptr<grpc::ClientContext> NewCallContext(std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

namespace {

// The credentials of `options` and whether the bearer token is inside them (it is not when the
// credentials are insecure: gRPC refuses call credentials there).
struct BuiltCredentials {
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null on error
  bool token_inside = false;
};

BuiltCredentials BuildCredentials(const ChannelOptions& options, std::string* error) {
  if (!SaneToken(options.bearer_token)) {
    *error = "the bearer token holds spaces or characters outside printable ASCII";
    return {};
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = options.credentials;
  if (credentials == nullptr && options.tls.enabled) {
    const TlsOptions& tls = options.tls;
    grpc::SslCredentialsOptions ssl;
    if (!tls.ca_file.empty() && !ReadFile(tls.ca_file, "TLS CA file", &ssl.pem_root_certs, error)) {
      return {};
    }
    if (tls.cert_file.empty() != tls.key_file.empty()) {
      *error = "a TLS client certificate and its key are given together or not at all";
      return {};
    }
    if (!tls.cert_file.empty() &&
        (!ReadFile(tls.cert_file, "TLS client certificate", &ssl.pem_cert_chain, error) ||
         !ReadFile(tls.key_file, "TLS client key", &ssl.pem_private_key, error))) {
      return {};
    }
    credentials = grpc::SslCredentials(ssl);
  }
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  if (options.bearer_token.empty()) return {credentials, false};
  // Null when `credentials` are not secure.
  std::shared_ptr<grpc::ChannelCredentials> with_token = grpc::CompositeChannelCredentials(
      credentials, grpc::AccessTokenCredentials(options.bearer_token));
  if (with_token == nullptr) return {credentials, false};
  return {with_token, true};
}

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const ChannelOptions& options,
                                                                std::string* error) {
  std::string ignored;
  return BuildCredentials(options, error != nullptr ? error : &ignored).credentials;
}

std::shared_ptr<grpc::Channel> CreateChannel(const std::string& target,
                                             const ChannelOptions& options) {
  std::string error;
  BuiltCredentials built = BuildCredentials(options, &error);
  // Null credentials make gRPC's lame channel: every call fails INVALID_ARGUMENT.
  if (built.credentials == nullptr) {
    return grpc::CreateCustomChannel(target, nullptr, ChannelArguments(options));
  }
  Metadata added;
  // Plaintext with a token: the interceptor adds it (loopback or a sidecar only).
  if (!options.bearer_token.empty() && !built.token_inside) {
    added.emplace_back("authorization", "Bearer " + options.bearer_token);
  }
  if (!options.account.empty()) added.emplace_back(kAccountMetadata, options.account);
  if (added.empty()) {
    return grpc::CreateCustomChannel(target, built.credentials, ChannelArguments(options));
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<MetadataInterceptorFactory>(std::move(added)));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, built.credentials, ChannelArguments(options), std::move(interceptors));
}

void SetAccount(grpc::ClientContext& context, const std::string& account) {
  context.AddMetadata(kAccountMetadata, account);
}

}  // namespace kommo::client
