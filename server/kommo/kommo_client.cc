#include "server/kommo/kommo_client.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"
#include "server/kommo/error_table.h"
#include "server/kommo/rate_limiter.h"
#include "server/mapping/kommo_json.h"

namespace kommo::kommo_api {
namespace {

using http::HttpResponse;
using http::Method;
using kommo::v1::Contact;
using kommo::v1::Lead;

using ResponseDone = absl::AnyInvocable<void(absl::StatusOr<HttpResponse>)>;

// The one request_id of a single-item batch.
constexpr char kSingleRequestId[] = "0";

bool IsSuccess(int status) { return status >= 200 && status <= 299; }

// A write reached Kommo, but the read-back that should complete the call failed. The write is
// not undone, so the caller must not see RESOURCE_EXHAUSTED ("Kommo did not act"): the error says
// what was written and which id it has.
absl::Status ReadBackFailed(absl::Status error, absl::string_view entity, int64_t id) {
  if (error.code() == absl::StatusCode::kDeadlineExceeded) {
    AddErrorMetadata(error, absl::StrCat(entity, "_id"), absl::StrCat(id));
    AddErrorMetadata(error, "written", "true");
    return error;
  }
  absl::Status status = MakeError(
      absl::StatusCode::kUnavailable,
      absl::StrCat("the ", entity, " was written (id ", id,
                   ") but reading it back from Kommo failed: ", error.message()),
      "READ_BACK_FAILED", {{absl::StrCat(entity, "_id"), absl::StrCat(id)}, {"written", "true"}});
  return status;
}

class KommoClientImpl final : public KommoClient {
 public:
  KommoClientImpl(KommoClientOptions options, http::HttpTransport* transport, EventLoop* loop)
      : options_(std::move(options)),
        transport_(transport),
        loop_(loop),
        limiter_(loop, RateLimiterOptions{options_.rate_limit_rps, options_.rate_limit_burst,
                                          options_.max_queue}) {}

  void CreateLead(const v1::CreateLeadRequest& request, CallOptions options,
                  Done<Lead> done) override {
    const mapping::LeadCreateItem item{kSingleRequestId, &request};
    std::string body = mapping::LeadsCreateBody({&item, 1});
    ErrorContext context{RequestKind::kCreate, reason::kLeadNotFound, "POST /leads",
                         &mapping::LeadFieldFromKommoPath};
    OnLoop([this, body = std::move(body), context, options, done = std::move(done)]() mutable {
      Send(Method::kPost, "/leads", "", std::move(body), context, options,
           [this, context, options,
            done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
             absl::StatusOr<int64_t> id = CreatedId(std::move(response), "leads", context);
             if (!id.ok()) return done(id.status());
             ReadLead(*id, options, /*after_write=*/true, std::move(done));
           });
    });
  }

  void UpdateLead(const v1::UpdateLeadRequest& request, CallOptions options,
                  Done<Lead> done) override {
    const int64_t lead_id = request.lead_id();
    const bool changes = request.has_name() || request.has_price() ||
                         request.has_responsible_user_id() || request.has_pipeline_id() ||
                         request.has_status_id();
    if (!changes) {  // nothing to write: the current lead is the answer
      OnLoop([this, lead_id, options, done = std::move(done)]() mutable {
        ReadLead(lead_id, options, /*after_write=*/false, std::move(done));
      });
      return;
    }
    std::string body = mapping::LeadUpdateBody(request);
    ErrorContext context{RequestKind::kUpdate, reason::kLeadNotFound, "PATCH /leads/{id}",
                         &mapping::LeadFieldFromKommoPath};
    OnLoop([this, lead_id, body = std::move(body), context, options,
            done = std::move(done)]() mutable {
      Send(Method::kPatch, absl::StrCat("/leads/", lead_id), "", std::move(body), context, options,
           [this, lead_id, context, options,
            done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
             if (!response.ok()) return done(response.status());
             if (response->status == 204) {
               return done(MakeError(absl::StatusCode::kNotFound,
                                     absl::StrCat("lead ", lead_id, " does not exist"),
                                     reason::kLeadNotFound, {{"lead_id", absl::StrCat(lead_id)}}));
             }
             if (!IsSuccess(response->status)) {
               return done(ErrorFromResponse(*response, context));
             }
             ReadLead(lead_id, options, /*after_write=*/true, std::move(done));
           });
    });
  }

  void GetLead(int64_t lead_id, CallOptions options, Done<Lead> done) override {
    OnLoop([this, lead_id, options, done = std::move(done)]() mutable {
      ReadLead(lead_id, options, /*after_write=*/false, std::move(done));
    });
  }

  void SearchLeads(const std::string& query, int64_t page, int32_t limit, CallOptions options,
                   Done<LeadPageResult> done) override {
    std::string params = ListParams(query, page, limit, /*with_contacts=*/true);
    OnLoop([this, params = std::move(params), options, done = std::move(done)]() mutable {
      ErrorContext context{RequestKind::kRead, reason::kLeadNotFound, "GET /leads", nullptr};
      Send(Method::kGet, "/leads", std::move(params), "", context, options,
           [context, done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
             if (!response.ok()) return done(response.status());
             if (response->status == 204) return done(LeadPageResult{});
             if (!IsSuccess(response->status)) return done(ErrorFromResponse(*response, context));
             absl::StatusOr<mapping::LeadPage> parsed = mapping::ParseLeadPage(response->body);
             if (!parsed.ok()) return done(parsed.status());
             done(LeadPageResult{std::move(parsed->leads), parsed->has_next});
           });
    });
  }

  void CreateContact(const v1::CreateContactRequest& request, CallOptions options,
                     Done<Contact> done) override {
    const mapping::ContactCreateItem item{kSingleRequestId, &request};
    std::string body = mapping::ContactsCreateBody({&item, 1});
    auto sent = std::make_shared<const v1::CreateContactRequest>(request);
    ErrorContext context{
        RequestKind::kCreate, reason::kContactNotFound, "POST /contacts",
        [sent](absl::string_view path) { return mapping::ContactFieldFromKommoPath(path, *sent); }};
    OnLoop([this, body = std::move(body), context, options, done = std::move(done)]() mutable {
      Send(Method::kPost, "/contacts", "", std::move(body), context, options,
           [this, context, options,
            done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
             absl::StatusOr<int64_t> id = CreatedId(std::move(response), "contacts", context);
             if (!id.ok()) return done(id.status());
             ReadContact(*id, options, /*after_write=*/true, std::move(done));
           });
    });
  }

  void GetContact(int64_t contact_id, CallOptions options, Done<Contact> done) override {
    OnLoop([this, contact_id, options, done = std::move(done)]() mutable {
      ReadContact(contact_id, options, /*after_write=*/false, std::move(done));
    });
  }

  void SearchContacts(const std::string& query, int64_t page, int32_t limit, CallOptions options,
                      Done<ContactPageResult> done) override {
    std::string params = ListParams(query, page, limit, /*with_contacts=*/false);
    OnLoop([this, params = std::move(params), options, done = std::move(done)]() mutable {
      ErrorContext context{RequestKind::kRead, reason::kContactNotFound, "GET /contacts", nullptr};
      Send(Method::kGet, "/contacts", std::move(params), "", context, options,
           [context, done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
             if (!response.ok()) return done(response.status());
             if (response->status == 204) return done(ContactPageResult{});
             if (!IsSuccess(response->status)) return done(ErrorFromResponse(*response, context));
             absl::StatusOr<mapping::ContactPage> parsed =
                 mapping::ParseContactPage(response->body);
             if (!parsed.ok()) return done(parsed.status());
             done(ContactPageResult{std::move(parsed->contacts), parsed->has_next});
           });
    });
  }

 private:
  void OnLoop(EventLoop::Task task) { loop_->Post(std::move(task)); }

  static std::string ListParams(const std::string& query, int64_t page, int32_t limit,
                                bool with_contacts) {
    std::string params = absl::StrCat("limit=", limit, "&page=", page);
    if (with_contacts) absl::StrAppend(&params, "&with=contacts");
    if (!query.empty()) absl::StrAppend(&params, "&query=", UrlEncode(query));
    return params;
  }

  // The id Kommo gave the single item of a create, from the POST's response.
  static absl::StatusOr<int64_t> CreatedId(absl::StatusOr<HttpResponse> response,
                                           absl::string_view entity, const ErrorContext& context) {
    if (!response.ok()) return response.status();
    if (!IsSuccess(response->status) || response->status == 204) {
      return ErrorFromResponse(*response, context);
    }
    absl::StatusOr<std::map<std::string, int64_t>> ids =
        mapping::ParseCreatedIds(response->body, entity);
    absl::Status error;
    if (!ids.ok()) {
      error = ids.status();
    } else if (auto it = ids->find(kSingleRequestId); it != ids->end()) {
      return it->second;
    } else {
      error = MakeError(
          absl::StatusCode::kInternal,
          absl::StrCat("Kommo's answer to ", context.what, " holds no result for the item sent"),
          reason::kKommoBadResponse);
    }
    // Kommo answered 2xx, so it did create something: say so.
    AddErrorMetadata(error, "outcome", "created_id_unknown");
    return error;
  }

  void ReadLead(int64_t id, CallOptions options, bool after_write, Done<Lead> done) {
    ErrorContext context{RequestKind::kRead, reason::kLeadNotFound, "GET /leads/{id}", nullptr};
    Send(Method::kGet, absl::StrCat("/leads/", id), "with=contacts", "", context, options,
         [id, after_write, context,
          done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
           absl::StatusOr<Lead> lead = [&]() -> absl::StatusOr<Lead> {
             if (!response.ok()) return response.status();
             if (response->status == 204) {
               return MakeError(absl::StatusCode::kNotFound,
                                absl::StrCat("lead ", id, " does not exist"), reason::kLeadNotFound,
                                {{"lead_id", absl::StrCat(id)}});
             }
             if (!IsSuccess(response->status)) return ErrorFromResponse(*response, context);
             return mapping::ParseLead(response->body);
           }();
           if (!lead.ok() && after_write) return done(ReadBackFailed(lead.status(), "lead", id));
           done(std::move(lead));
         });
  }

  void ReadContact(int64_t id, CallOptions options, bool after_write, Done<Contact> done) {
    ErrorContext context{RequestKind::kRead, reason::kContactNotFound, "GET /contacts/{id}",
                         nullptr};
    Send(Method::kGet, absl::StrCat("/contacts/", id), "", "", context, options,
         [id, after_write, context,
          done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
           absl::StatusOr<Contact> contact = [&]() -> absl::StatusOr<Contact> {
             if (!response.ok()) return response.status();
             if (response->status == 204) {
               return MakeError(absl::StatusCode::kNotFound,
                                absl::StrCat("contact ", id, " does not exist"),
                                reason::kContactNotFound, {{"contact_id", absl::StrCat(id)}});
             }
             if (!IsSuccess(response->status)) return ErrorFromResponse(*response, context);
             return mapping::ParseContact(response->body);
           }();
           if (!contact.ok() && after_write) {
             return done(ReadBackFailed(contact.status(), "contact", id));
           }
           done(std::move(contact));
         });
  }

  // Sends one request within the account's rate limit and the call's deadline. `done` gets the
  // HTTP response whatever its status, or the error of the attempt. Loop thread only.
  void Send(Method method, std::string path, std::string params, std::string body,
            const ErrorContext& context, CallOptions options, ResponseDone done) {
    if (loop_->Now() >= options.deadline) {
      return done(MakeError(absl::StatusCode::kDeadlineExceeded,
                            absl::StrCat("deadline exceeded before ", context.what, " was sent"),
                            reason::kDeadlineExceeded));
    }
    http::HttpRequest request;
    request.method = method;
    request.url = absl::StrCat(options_.api_base_url, path, params.empty() ? "" : "?", params);
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", options_.access_token));
    request.body = std::move(body);
    limiter_.Acquire(options.deadline, [this, request = std::move(request), context, options,
                                        done = std::move(done)](absl::Status granted) mutable {
      if (!granted.ok()) return done(std::move(granted));
      const absl::Duration left = options.deadline - loop_->Now();
      if (left <= absl::ZeroDuration()) {
        return done(MakeError(absl::StatusCode::kDeadlineExceeded,
                              absl::StrCat("deadline exceeded before ", context.what, " was sent"),
                              reason::kDeadlineExceeded));
      }
      const bool capped_by_deadline = left < options_.request_timeout;
      request.timeout = capped_by_deadline ? left : options_.request_timeout;
      transport_->Send(
          std::move(request), [this, context, options, capped_by_deadline,
                               done = std::move(done)](http::HttpResult result) mutable {
            if (result.response.ok()) return done(std::move(result.response));
            const bool deadline_passed =
                loop_->Now() >= options.deadline ||
                (capped_by_deadline &&
                 result.response.status().code() == absl::StatusCode::kDeadlineExceeded);
            done(ErrorFromTransport(result.response.status(), result.request_sent, deadline_passed,
                                    context));
          });
    });
  }

  KommoClientOptions options_;
  http::HttpTransport* transport_;
  EventLoop* loop_;
  RateLimiter limiter_;
};

}  // namespace

std::string UrlEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::unique_ptr<KommoClient> NewKommoClient(KommoClientOptions options,
                                            http::HttpTransport* transport, EventLoop* loop) {
  return std::make_unique<KommoClientImpl>(std::move(options), transport, loop);
}

}  // namespace kommo::kommo_api
