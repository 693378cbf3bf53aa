#include "server/api/services.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
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
#include "server/kommo/waiter.h"
#include "server/mapping/page_token.h"

namespace kommo::api {
namespace {

using rest::CallOptions;

constexpr char kLeadsScope[] = "leads";
constexpr char kContactsScope[] = "contacts";
constexpr char kIncomingLeadsScope[] = "incoming_leads";
constexpr char kNotesScope[] = "notes";

// Whether a request message has an idempotency key (`request_id`).
template <typename T, typename = void>
struct HasRequestId : std::false_type {};
template <typename T>
struct HasRequestId<T, std::void_t<decltype(std::declval<const T&>().request_id())>>
    : std::true_type {};

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

// What a caller of an idempotent call that is still running is told when it leaves.
absl::Status StillRunning(absl::StatusCode code, absl::string_view method) {
  return MakeError(code,
                   absl::StrCat(code == absl::StatusCode::kDeadlineExceeded ? "deadline exceeded"
                                                                            : "call cancelled",
                                " while ", method,
                                " was still running; it goes on: repeat the call with the same "
                                "request_id to get its outcome"),
                   reason::kWriteOutcomeUnknown, {{"outcome", "unknown"}, {"running", "true"}});
}

// Runs a call with a request_id at most once within the retention window (idempotency.h): the
// first caller starts the operation, detached from its own deadline and cancellation so that
// its outcome is learned and kept even when that caller leaves; every caller (the first one, and
// repeats while it runs or after) gets the kept answer, or leaves at its own deadline.
template <typename Request, typename Response, typename Start, typename Finish>
void ServeOnce(const ServiceOptions& options, absl::string_view method, const Request& request,
               CallOptions call, Start& start, Finish finish) {
  using Answer = IdempotencyStore::Answer;
  EventLoop* loop = options.loop;
  IdempotencyStore* store = options.idempotency;
  // A request_id names one call whatever the RPC: the same id on another RPC is another request
  // (REQUEST_ID_REUSED), never a second write.
  const IdempotencyKey key{"kommo.v1", request.request_id()};
  const uint64_t fingerprint = Fnv1a64(absl::StrCat(method, "\n", Fingerprint(request)));
  const absl::Time caller_deadline = call.deadline;
  std::shared_ptr<CallTrace> trace = call.trace;
  auto waiter = rest::NewWaiter<Answer>(
      call, [finish = std::move(finish)](absl::StatusOr<Answer> answer) mutable {
        if (!answer.ok()) return finish(answer.status(), 0);
        if (!answer->status.ok()) return finish(answer->status, 0);
        Response response;
        if (!response.ParseFromString(answer->response)) {
          return finish(MakeError(absl::StatusCode::kInternal, "a kept answer could not be read",
                                  reason::kInternal),
                        0);
        }
        finish(std::move(response), 0);
      });
  auto ticket = std::make_shared<std::atomic<IdempotencyStore::Ticket>>(0);
  const std::string what(method);
  loop->Post([loop, waiter, store, key, ticket, what] {
    rest::Arm<Answer>(
        loop, waiter, [what](absl::StatusCode code) { return StillRunning(code, what); },
        [store, key, ticket] {
          if (const IdempotencyStore::Ticket held = ticket->load(); held != 0) {
            store->Abandon(key, held);
          }
        });
  });
  absl::StatusOr<IdempotencyStore::Started> started =
      store->Start(key, fingerprint, [loop, waiter](Answer answer) {
        loop->Post([waiter, answer = std::move(answer)]() mutable {
          rest::Complete<Answer>(waiter, std::move(answer));
        });
      });
  if (!started.ok()) {
    return loop->Post(
        [waiter, error = started.status()] { rest::Complete<Answer>(waiter, error); });
  }
  ticket->store(started->ticket);
  if (started->outcome != IdempotencyStore::Outcome::kRun) return;
  // Detached: no cancellation, and at least the default deadline to finish.
  CallOptions detached{std::max(caller_deadline, MonotonicNow() + options.default_deadline),
                       nullptr, std::move(trace)};
  start(request, std::move(detached), [store, key](absl::StatusOr<Response> response, int64_t) {
    Answer answer;
    if (response.ok()) {
      answer.response = response->SerializeAsString();
    } else {
      answer.status = response.status();
    }
    store->Finish(key, std::move(answer));
  });
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
  CallOptions call = OptionsFor(context, options, reactor->token(), trace);
  if constexpr (HasRequestId<Request>::value) {
    if (!request.request_id().empty() && options.idempotency != nullptr &&
        options.loop != nullptr) {
      ServeOnce<Request, Response>(options, method, request, std::move(call), start,
                                   std::move(finish));
      return reactor;
    }
  }
  start(request, std::move(call), std::move(finish));
  return reactor;
}

// The callback that turns a Kommo client result into the RPC's response: `put` moves the value
// into the response and returns the id written (0 for reads).
template <typename Response, typename Value, typename Put>
auto Reply(absl::AnyInvocable<void(absl::StatusOr<Response>, int64_t)> done, Put put) {
  return [done = std::move(done), put](absl::StatusOr<Value> value) mutable {
    if (!value.ok()) return done(value.status(), 0);
    Response out;
    const int64_t id = put(out, *std::move(value));
    done(std::move(out), id);
  };
}

// A page token's query for a list that is not a search: the request's other fields.
std::string ListScopeQuery(std::initializer_list<int64_t> fields) {
  std::string query;
  for (int64_t field : fields) absl::StrAppend(&query, query.empty() ? "" : "/", field);
  return query;
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

grpc::ServerUnaryReactor* LeadServiceImpl::CreateLeadWithContact(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using Response = v1::CreateLeadWithContactResponse;
  return Serve<v1::CreateLeadWithContactRequest, Response>(
      context, request, response, "kommo.v1.LeadService/CreateLeadWithContact", Kind::kWrite,
      options_, ValidateCreateLeadWithContact,
      [this](const v1::CreateLeadWithContactRequest& req, CallOptions call, auto done) {
        client_->CreateLeadWithContact(
            req, std::move(call),
            Reply<Response, Response>(std::move(done), [](Response& out, Response created) {
              out = std::move(created);
              return out.lead().id();
            }));
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::CreateIncomingLead(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  using Response = v1::CreateIncomingLeadResponse;
  return Serve<v1::CreateIncomingLeadRequest, Response>(
      context, request, response, "kommo.v1.LeadService/CreateIncomingLead", Kind::kWrite, options_,
      ValidateCreateIncomingLead,
      [this](const v1::CreateIncomingLeadRequest& req, CallOptions call, auto done) {
        client_->CreateIncomingLead(req, std::move(call),
                                    Reply<Response, v1::IncomingLead>(
                                        std::move(done), [](Response& out, v1::IncomingLead lead) {
                                          *out.mutable_incoming_lead() = std::move(lead);
                                          return out.incoming_lead().lead_id();
                                        }));
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::AcceptIncomingLead(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  using Response = v1::AcceptIncomingLeadResponse;
  return Serve<v1::AcceptIncomingLeadRequest, Response>(
      context, request, response, "kommo.v1.LeadService/AcceptIncomingLead", Kind::kWrite, options_,
      ValidateAcceptIncomingLead,
      [this](const v1::AcceptIncomingLeadRequest& req, CallOptions call, auto done) {
        client_->AcceptIncomingLead(
            req, std::move(call),
            Reply<Response, v1::Lead>(std::move(done), [](Response& out, v1::Lead lead) {
              *out.mutable_lead() = std::move(lead);
              return out.lead().id();
            }));
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::DeclineIncomingLead(grpc::CallbackServerContext* context,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
  using Response = v1::DeclineIncomingLeadResponse;
  return Serve<v1::DeclineIncomingLeadRequest, Response>(
      context, request, response, "kommo.v1.LeadService/DeclineIncomingLead", Kind::kWrite,
      options_, ValidateDeclineIncomingLead,
      [this](const v1::DeclineIncomingLeadRequest& req, CallOptions call, auto done) {
        client_->DeclineIncomingLead(
            req, std::move(call),
            Reply<Response, Response>(std::move(done), [](Response& out, Response declined) {
              out = std::move(declined);
              return int64_t{0};
            }));
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::ListIncomingLeads(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return Serve<v1::ListIncomingLeadsRequest, v1::ListIncomingLeadsResponse>(
      context, request, response, "kommo.v1.LeadService/ListIncomingLeads", Kind::kRead, options_,
      ValidateListIncomingLeads,
      [this](const v1::ListIncomingLeadsRequest& req, CallOptions call, auto done) {
        const std::string scope = ListScopeQuery({req.pipeline_id()});
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kIncomingLeadsScope, scope, req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        client_->ListIncomingLeads(
            req.pipeline_id(), *page, EffectivePageSize(req.page_size()), std::move(call),
            [done = std::move(done), page = *page, scope, page_size = req.page_size()](
                absl::StatusOr<rest::IncomingLeadPageResult> result) mutable {
              if (!result.ok()) return done(result.status(), 0);
              v1::ListIncomingLeadsResponse out;
              for (v1::IncomingLead& lead : result->incoming_leads) {
                *out.add_incoming_leads() = std::move(lead);
              }
              if (result->has_next) {
                out.set_next_page_token(
                    mapping::EncodePageToken(kIncomingLeadsScope, page + 1, scope, page_size));
              }
              done(std::move(out), 0);
            });
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::LookupContacts(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  using Response = v1::LookupContactsResponse;
  return Serve<v1::LookupContactsRequest, Response>(
      context, request, response, "kommo.v1.ContactService/LookupContacts", Kind::kRead, options_,
      ValidateLookupContacts,
      [this](const v1::LookupContactsRequest& req, CallOptions call, auto done) {
        client_->LookupContacts(
            {req.phones().begin(), req.phones().end()}, {req.emails().begin(), req.emails().end()},
            std::move(call),
            Reply<Response, std::vector<v1::Contact>>(
                std::move(done), [](Response& out, std::vector<v1::Contact> contacts) {
                  for (v1::Contact& contact : contacts) *out.add_contacts() = std::move(contact);
                  return int64_t{0};
                }));
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::FindOrCreateContact(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using Response = v1::FindOrCreateContactResponse;
  return Serve<v1::FindOrCreateContactRequest, Response>(
      context, request, response, "kommo.v1.ContactService/FindOrCreateContact", Kind::kWrite,
      options_, ValidateFindOrCreateContact,
      [this](const v1::FindOrCreateContactRequest& req, CallOptions call, auto done) {
        client_->FindOrCreateContact(
            req, std::move(call),
            Reply<Response, Response>(std::move(done), [](Response& out, Response found) {
              out = std::move(found);
              return out.outcome() == Response::OUTCOME_CREATED ? out.contact().id() : 0;
            }));
      });
}

grpc::ServerUnaryReactor* NoteServiceImpl::AddNote(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  using Response = v1::AddNoteResponse;
  return Serve<v1::AddNoteRequest, Response>(
      context, request, response, "kommo.v1.NoteService/AddNote", Kind::kWrite, options_,
      ValidateAddNote, [this](const v1::AddNoteRequest& req, CallOptions call, auto done) {
        client_->AddNote(
            req, std::move(call),
            Reply<Response, v1::Note>(std::move(done), [](Response& out, v1::Note note) {
              *out.mutable_note() = std::move(note);
              return out.note().id();
            }));
      });
}

grpc::ServerUnaryReactor* NoteServiceImpl::ListNotes(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  return Serve<v1::ListNotesRequest, v1::ListNotesResponse>(
      context, request, response, "kommo.v1.NoteService/ListNotes", Kind::kRead, options_,
      ValidateListNotes, [this](const v1::ListNotesRequest& req, CallOptions call, auto done) {
        const std::string scope =
            ListScopeQuery({req.entity_type(), req.entity_id(), req.order(),
                            req.has_updated_since() ? req.updated_since().seconds() : 0});
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kNotesScope, scope, req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        rest::NotesQuery query;
        query.entity_type = req.entity_type();
        query.entity_id = req.entity_id();
        query.order = req.order();
        query.updated_since = req.has_updated_since() ? req.updated_since().seconds() : 0;
        query.page = *page;
        query.limit = EffectivePageSize(req.page_size());
        client_->ListNotes(
            query, std::move(call),
            [done = std::move(done), page = *page, scope,
             page_size = req.page_size()](absl::StatusOr<rest::NotePageResult> result) mutable {
              if (!result.ok()) return done(result.status(), 0);
              v1::ListNotesResponse out;
              for (v1::Note& note : result->notes) *out.add_notes() = std::move(note);
              if (result->has_next) {
                out.set_next_page_token(
                    mapping::EncodePageToken(kNotesScope, page + 1, scope, page_size));
              }
              done(std::move(out), 0);
            });
      });
}

}  // namespace kommo::api
