#include "server/api/services.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/api/grpc_status.h"
#include "server/api/validation.h"
#include "server/common/call_trace.h"
#include "server/common/cancellation.h"
#include "server/common/clock.h"
#include "server/common/error_details.h"
#include "server/common/log.h"
#include "server/mapping/page_token.h"

namespace kommo::api {
namespace {

using rest::CallOptions;

constexpr char kLeadsScope[] = "leads";
constexpr char kContactsScope[] = "contacts";

// Whether a method writes to Kommo (its outcome is logged even when the caller is gone).
enum class Kind { kRead, kWrite };

// The reactor of one call: passes the caller's cancellation down and frees itself when gRPC is
// done with the call.
class CallReactor final : public grpc::ServerUnaryReactor {
 public:
  CallReactor() : token_(std::make_shared<CancellationToken>()) {}

  void OnCancel() override { token_->Cancel(); }
  void OnDone() override { delete this; }

  const std::shared_ptr<CancellationToken>& token() const { return token_; }

 private:
  std::shared_ptr<CancellationToken> token_;
};

// The call's request id: the caller's `x-request-id` metadata when it is a sane token (so a
// caller's own id follows the call into our logs and Kommo's), else 16 random hex digits.
std::string RequestIdFor(const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("x-request-id");
  if (it != metadata.end() && !it->second.empty() && it->second.size() <= 64) {
    const absl::string_view given(it->second.data(), it->second.size());
    bool sane = true;
    for (char c : given) {
      sane &=
          absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    }
    if (sane) return std::string(given);
  }
  thread_local std::mt19937_64 random(std::random_device{}());
  char id[17];
  std::snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(random()));
  return id;
}

// Time kept back from a caller's budget to carry the answer back: a tenth of it, between 2 ms
// and 100 ms (a loaded 2-core server finishes hundreds of calls within that).
absl::Duration ReplyMargin(absl::Duration left) {
  return std::clamp(left / 10, absl::Milliseconds(2), absl::Milliseconds(100));
}

CallOptions OptionsFor(const grpc::CallbackServerContext* context, const ServiceOptions& options,
                       std::shared_ptr<CancellationToken> token, std::shared_ptr<CallTrace> trace) {
  absl::Duration left = options.default_deadline;
  if (const absl::Duration given = TimeLeft(*context); given <= absl::Hours(24)) left = given;
  // The server answers a little before the caller's deadline, so its reason (for a write,
  // WRITE_OUTCOME_UNKNOWN) reaches the caller before gRPC's own deadline timer fires there.
  left -= ReplyMargin(left);
  // Deadlines below the gRPC boundary are on the monotonic clock (common/clock.h).
  return {MonotonicNow() + left, std::move(token), std::move(trace)};
}

// The Kommo page a search asks for: 1, or the one its page_token names.
absl::StatusOr<int64_t> PageOf(absl::string_view token, absl::string_view scope,
                               absl::string_view query, int32_t page_size) {
  if (token.empty()) return 1;
  return mapping::DecodePageToken(token, scope, query, page_size);
}

int32_t EffectivePageSize(int32_t page_size) {
  return page_size == 0 ? kDefaultPageSize : page_size;
}

absl::Status ParseRequest(const grpc::ByteBuffer& raw, google::protobuf::Message& request) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (raw.Dump(&slices).ok()) {
    bytes.reserve(raw.Length());
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  if (!request.ParseFromString(bytes)) {
    return MakeError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("the request is not a valid ", request.GetTypeName(),
                                  ": malformed protobuf, or a string field that is not UTF-8"),
                     reason::kMalformedRequest);
  }
  return absl::OkStatus();
}

void WriteResponse(const google::protobuf::Message& response, grpc::ByteBuffer* raw) {
  const std::string bytes = response.SerializeAsString();
  grpc::Slice slice(bytes);
  *raw = grpc::ByteBuffer(&slice, 1);
}

// One structured line per call: method, code, reason, latency; ids only, never contact data.
void LogCall(absl::string_view method, Kind kind, const absl::Status& status,
             absl::Duration latency, bool caller_gone, int64_t written_id, const CallTrace& trace) {
  const bool outcome_matters =
      kind == Kind::kWrite && caller_gone;  // the caller will never learn what happened
  const log::Level level = outcome_matters ? log::Level::kWarning : log::Level::kInfo;
  if (!log::Enabled(level)) return;
  std::string reason;
  std::string outcome;
  std::string entity_id;
  std::string kommo_request_id;
  if (!status.ok()) {
    if (auto info = GetErrorInfo(status)) {
      reason = info->reason();
      for (const auto& [key, value] : info->metadata()) {
        if (key == "outcome") outcome = value;
        if (key == "lead_id" || key == "contact_id") entity_id = value;
        if (key == "kommo_request_id") kommo_request_id = value;
      }
    } else {
      reason = std::string(DefaultReason(status.code()).name());
    }
  } else if (kind == Kind::kWrite) {
    outcome = "written";
    entity_id = absl::StrCat(written_id);
  }
  log::Write(level, "rpc",
             {{"method", method},
              {"request_id", trace.request_id},
              {"kommo_requests", trace.kommo_requests.load()},
              {"code", absl::StatusCodeToString(status.code())},
              {"reason", reason},
              {"latency_ms", absl::ToDoubleMilliseconds(latency)},
              {"caller_gone", caller_gone},
              {"outcome", outcome},
              {"id", entity_id},
              {"kommo_request_id", kommo_request_id}});
}

// Serves one unary call: decode, validate, start the Kommo operation, finish from its callback.
// `start` gets the request, the call options and a callback taking the response (or an error) and
// the id of what was written (0 when nothing).
template <typename Request, typename Response>
grpc::ServerUnaryReactor* Serve(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request,
    grpc::ByteBuffer* raw_response, absl::string_view method, Kind kind,
    const ServiceOptions& options, absl::FunctionRef<absl::Status(const Request&)> validate,
    absl::FunctionRef<void(const Request&, CallOptions,
                           absl::AnyInvocable<void(absl::StatusOr<Response>, int64_t)>)>
        start) {
  auto* reactor = new CallReactor();
  const absl::Time started = MonotonicNow();
  metrics::ServiceMetrics* metrics = options.metrics;
  if (metrics != nullptr) metrics->rpcs_in_flight.Increment();
  auto trace = std::make_shared<CallTrace>();
  trace->request_id = RequestIdFor(context);
  auto finish = [context, reactor, raw_response, method, kind, started, metrics, trace](
                    absl::StatusOr<Response> response, int64_t written_id) {
    if (response.ok()) WriteResponse(*response, raw_response);
    const absl::Duration latency = MonotonicNow() - started;
    LogCall(method, kind, response.status(), latency, context->IsCancelled(), written_id, *trace);
    context->AddTrailingMetadata("x-request-id", trace->request_id);
    if (metrics != nullptr) {
      metrics->rpcs->Increment({{"method", std::string(method)},
                                {"code", absl::StatusCodeToString(response.status().code())}});
      metrics->rpc_duration->Observe({{"method", std::string(method)}},
                                     absl::ToDoubleSeconds(latency));
      metrics->rpcs_in_flight.Decrement();
    }
    FinishRpc(context, reactor, response.status());
  };
  Request request;
  absl::Status status = ParseRequest(*raw_request, request);
  if (status.ok()) status = validate(request);
  if (!status.ok()) {
    finish(status, 0);
    return reactor;
  }
  start(request, OptionsFor(context, options, reactor->token(), trace), std::move(finish));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* LeadServiceImpl::CreateLead(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return Serve<v1::CreateLeadRequest, v1::CreateLeadResponse>(
      context, request, response, "kommo.v1.LeadService/CreateLead", Kind::kWrite, options_,
      ValidateCreateLead, [this](const v1::CreateLeadRequest& req, CallOptions call, auto done) {
        client_->CreateLead(req, std::move(call),
                            [done = std::move(done)](absl::StatusOr<v1::Lead> lead) mutable {
                              if (!lead.ok()) return done(lead.status(), 0);
                              v1::CreateLeadResponse out;
                              const int64_t id = lead->id();
                              *out.mutable_lead() = *std::move(lead);
                              done(std::move(out), id);
                            });
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::UpdateLead(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return Serve<v1::UpdateLeadRequest, v1::UpdateLeadResponse>(
      context, request, response, "kommo.v1.LeadService/UpdateLead", Kind::kWrite, options_,
      ValidateUpdateLead, [this](const v1::UpdateLeadRequest& req, CallOptions call, auto done) {
        client_->UpdateLead(req, std::move(call),
                            [done = std::move(done)](absl::StatusOr<v1::Lead> lead) mutable {
                              if (!lead.ok()) return done(lead.status(), 0);
                              v1::UpdateLeadResponse out;
                              const int64_t id = lead->id();
                              *out.mutable_lead() = *std::move(lead);
                              done(std::move(out), id);
                            });
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::GetLead(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return Serve<v1::GetLeadRequest, v1::GetLeadResponse>(
      context, request, response, "kommo.v1.LeadService/GetLead", Kind::kRead, options_,
      ValidateGetLead, [this](const v1::GetLeadRequest& req, CallOptions call, auto done) {
        client_->GetLead(req.lead_id(), std::move(call),
                         [done = std::move(done)](absl::StatusOr<v1::Lead> lead) mutable {
                           if (!lead.ok()) return done(lead.status(), 0);
                           v1::GetLeadResponse out;
                           *out.mutable_lead() = *std::move(lead);
                           done(std::move(out), 0);
                         });
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::SearchLeads(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return Serve<v1::SearchLeadsRequest, v1::SearchLeadsResponse>(
      context, request, response, "kommo.v1.LeadService/SearchLeads", Kind::kRead, options_,
      ValidateSearchLeads, [this](const v1::SearchLeadsRequest& req, CallOptions call, auto done) {
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kLeadsScope, req.query(), req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        client_->SearchLeads(
            req.query(), *page, EffectivePageSize(req.page_size()), std::move(call),
            [done = std::move(done), page = *page, query = req.query(),
             page_size = req.page_size()](absl::StatusOr<rest::LeadPageResult> result) mutable {
              if (!result.ok()) return done(result.status(), 0);
              v1::SearchLeadsResponse out;
              for (v1::Lead& lead : result->leads) *out.add_leads() = std::move(lead);
              if (result->has_next) {
                out.set_next_page_token(
                    mapping::EncodePageToken(kLeadsScope, page + 1, query, page_size));
              }
              done(std::move(out), 0);
            });
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::CreateContact(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return Serve<v1::CreateContactRequest, v1::CreateContactResponse>(
      context, request, response, "kommo.v1.ContactService/CreateContact", Kind::kWrite, options_,
      ValidateCreateContact,
      [this](const v1::CreateContactRequest& req, CallOptions call, auto done) {
        client_->CreateContact(
            req, std::move(call),
            [done = std::move(done)](absl::StatusOr<v1::Contact> contact) mutable {
              if (!contact.ok()) return done(contact.status(), 0);
              v1::CreateContactResponse out;
              const int64_t id = contact->id();
              *out.mutable_contact() = *std::move(contact);
              done(std::move(out), id);
            });
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::GetContact(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return Serve<v1::GetContactRequest, v1::GetContactResponse>(
      context, request, response, "kommo.v1.ContactService/GetContact", Kind::kRead, options_,
      ValidateGetContact, [this](const v1::GetContactRequest& req, CallOptions call, auto done) {
        client_->GetContact(req.contact_id(), std::move(call),
                            [done = std::move(done)](absl::StatusOr<v1::Contact> contact) mutable {
                              if (!contact.ok()) return done(contact.status(), 0);
                              v1::GetContactResponse out;
                              *out.mutable_contact() = *std::move(contact);
                              done(std::move(out), 0);
                            });
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::SearchContacts(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return Serve<v1::SearchContactsRequest, v1::SearchContactsResponse>(
      context, request, response, "kommo.v1.ContactService/SearchContacts", Kind::kRead, options_,
      ValidateSearchContacts,
      [this](const v1::SearchContactsRequest& req, CallOptions call, auto done) {
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kContactsScope, req.query(), req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        client_->SearchContacts(
            req.query(), *page, EffectivePageSize(req.page_size()), std::move(call),
            [done = std::move(done), page = *page, query = req.query(),
             page_size = req.page_size()](absl::StatusOr<rest::ContactPageResult> result) mutable {
              if (!result.ok()) return done(result.status(), 0);
              v1::SearchContactsResponse out;
              for (v1::Contact& contact : result->contacts) {
                *out.add_contacts() = std::move(contact);
              }
              if (result->has_next) {
                out.set_next_page_token(
                    mapping::EncodePageToken(kContactsScope, page + 1, query, page_size));
              }
              done(std::move(out), 0);
            });
      });
}

}  // namespace kommo::api
