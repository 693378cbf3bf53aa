#include "server/kommo/kommo_client.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"
#include "server/kommo/error_table.h"
#include "server/kommo/requester.h"
#include "server/mapping/kommo_json.h"

namespace kommo::rest {
namespace {

using http::HttpResponse;
using http::Method;
using kommo::v1::Contact;
using kommo::v1::Lead;

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
  return MakeError(absl::StatusCode::kUnavailable,
                   absl::StrCat("the ", entity, " was written (id ", id,
                                ") but reading it back from Kommo failed: ", error.message()),
                   "READ_BACK_FAILED",
                   {{absl::StrCat(entity, "_id"), absl::StrCat(id)}, {"written", "true"}});
}

absl::Status NotFound(absl::string_view entity, int64_t id, absl::string_view reason) {
  return MakeError(absl::StatusCode::kNotFound, absl::StrCat(entity, " ", id, " does not exist"),
                   reason, {{absl::StrCat(entity, "_id"), absl::StrCat(id)}});
}

// A caller waiting for shared work (a batch, a shared read). Loop thread only.
template <typename T>
struct Waiter {
  Done<T> done;
  absl::Time deadline;
  std::shared_ptr<CancellationToken> cancel;
  std::shared_ptr<CallTrace> trace;
  EventLoop::TimerPtr timer;
  bool finished = false;
};
template <typename T>
using WaiterPtr = std::shared_ptr<Waiter<T>>;

// Callers sharing one read request (identical GETs in flight at once).
template <typename T>
struct Flight {
  std::vector<WaiterPtr<T>> waiters;
  absl::Time deadline;
  std::shared_ptr<CancellationToken> cancel = std::make_shared<CancellationToken>();
  bool answered = false;
};
template <typename T>
using Flights = std::map<std::string, std::shared_ptr<Flight<T>>>;

// One call in a write batch.
template <typename Request, typename Entity>
struct WriteItem {
  std::string request_id;
  Request request;
  WaiterPtr<Entity> waiter;
  int resends = 0;         // times sent again after Kommo rejected other items of its batch
  bool sent = false;       // in a batch handed to Kommo whose answer has not come
  int64_t written_id = 0;  // Kommo wrote it (2xx) under this id; the read-back is under way
};

// The calls of one kind of write waiting to go out, and the batch being formed.
template <typename Request, typename Entity>
struct WriteQueue {
  using Item = WriteItem<Request, Entity>;
  std::deque<std::shared_ptr<Item>> pending;
  bool forming = false;
  absl::Time forming_slot = absl::InfinitePast();  // when the forming batch may go
  EventLoop::TimerPtr window;
};

// What differs between the batched writes.
template <typename Request>
struct WriteSpec {
  Method method;
  std::string path;    // "/leads"
  std::string what;    // "POST /leads"
  std::string entity;  // "lead": errors, metadata keys
  std::string plural;  // "leads": the `_embedded` key of the answer
  RequestKind kind;
  absl::string_view not_found_reason;
  // Items whose key is already in a batch wait for the next one (two updates of one lead).
  std::function<int64_t(const Request&)> key;
  std::function<std::string(const std::vector<std::pair<std::string, const Request*>>&)> body;
  std::function<std::string(absl::string_view, const Request&)> field;
};

// Times an item whose batch was rejected by Kommo for other items' sake may be sent again.
constexpr int kMaxResends = 3;
// Most ids one list request reads back (Kommo's page limit).
constexpr int kMaxIdsPerList = 250;

class KommoClientImpl final : public KommoClient {
 public:
  KommoClientImpl(KommoClientOptions options, http::HttpTransport* transport, EventLoop* loop)
      : options_(std::move(options)), loop_(loop), requester_(options_, transport, loop) {
    lead_create_spec_ = {
        Method::kPost,
        "/leads",
        "POST /leads",
        "lead",
        "leads",
        RequestKind::kCreate,
        reason::kLeadNotFound,
        nullptr,
        [](const std::vector<std::pair<std::string, const v1::CreateLeadRequest*>>& items) {
          std::vector<mapping::LeadCreateItem> batch;
          for (const auto& [id, request] : items) batch.push_back({id, request});
          return mapping::LeadsCreateBody(batch);
        },
        [](absl::string_view path, const v1::CreateLeadRequest&) {
          return mapping::LeadFieldFromKommoPath(path);
        }};
    contact_create_spec_ = {
        Method::kPost,
        "/contacts",
        "POST /contacts",
        "contact",
        "contacts",
        RequestKind::kCreate,
        reason::kContactNotFound,
        nullptr,
        [](const std::vector<std::pair<std::string, const v1::CreateContactRequest*>>& items) {
          std::vector<mapping::ContactCreateItem> batch;
          for (const auto& [id, request] : items) batch.push_back({id, request});
          return mapping::ContactsCreateBody(batch);
        },
        [](absl::string_view path, const v1::CreateContactRequest& request) {
          return mapping::ContactFieldFromKommoPath(path, request);
        }};
    lead_update_spec_ = {
        Method::kPatch,
        "/leads",
        "PATCH /leads",
        "lead",
        "leads",
        RequestKind::kUpdate,
        reason::kLeadNotFound,
        [](const v1::UpdateLeadRequest& request) { return request.lead_id(); },
        [](const std::vector<std::pair<std::string, const v1::UpdateLeadRequest*>>& items) {
          std::vector<mapping::LeadUpdateItem> batch;
          for (const auto& [id, request] : items) batch.push_back({id, request});
          return mapping::LeadsUpdateBody(batch);
        },
        [](absl::string_view path, const v1::UpdateLeadRequest&) {
          return mapping::LeadFieldFromKommoPath(path);
        }};
  }

  void GetStats(absl::AnyInvocable<void(KommoClientStats)> done) override {
    loop_->Post([this, done = std::move(done)]() mutable { done(requester_.Stats()); });
  }

  // ---- leads ------------------------------------------------------------------------------------

  void CreateLead(const v1::CreateLeadRequest& request, CallOptions options,
                  Done<Lead> done) override {
    loop_->Post([this, request, options = std::move(options), done = std::move(done)]() mutable {
      if (!Coalescing()) return CreateLeadAlone(request, std::move(options), std::move(done));
      EnqueueWrite(lead_creates_, lead_create_spec_, request, std::move(options), std::move(done));
    });
  }

  void UpdateLead(const v1::UpdateLeadRequest& request, CallOptions options,
                  Done<Lead> done) override {
    const bool changes = request.has_name() || request.has_price() ||
                         request.has_responsible_user_id() || request.has_pipeline_id() ||
                         request.has_status_id();
    loop_->Post([this, request, changes, options = std::move(options),
                 done = std::move(done)]() mutable {
      if (!changes) {  // nothing to write: the current lead is the answer
        return ReadLead(request.lead_id(), std::move(options), std::move(done));
      }
      if (!Coalescing()) return UpdateLeadAlone(request, std::move(options), std::move(done));
      EnqueueWrite(lead_updates_, lead_update_spec_, request, std::move(options), std::move(done));
    });
  }

  void GetLead(int64_t lead_id, CallOptions options, Done<Lead> done) override {
    loop_->Post([this, lead_id, options = std::move(options), done = std::move(done)]() mutable {
      ReadLead(lead_id, std::move(options), std::move(done));
    });
  }

  void SearchLeads(const std::string& query, int64_t page, int32_t limit, CallOptions options,
                   Done<LeadPageResult> done) override {
    std::string params = ListParams(query, page, limit, /*with_contacts=*/true);
    loop_->Post([this, params = std::move(params), options = std::move(options),
                 done = std::move(done)]() mutable {
      RequestSpec spec;
      spec.path = "/leads";
      spec.params = params;
      spec.context = {RequestKind::kRead, reason::kLeadNotFound, "GET /leads", nullptr};
      SharedRead<LeadPageResult>(
          lead_searches_, absl::StrCat("/leads?", params), std::move(spec), std::move(options),
          std::move(done),
          [](absl::StatusOr<HttpResponse> response,
             const ErrorContext& context) -> absl::StatusOr<LeadPageResult> {
            if (!response.ok()) return response.status();
            if (response->status == 204) return LeadPageResult{};
            if (!IsSuccess(response->status)) return ErrorFromResponse(*response, context);
            absl::StatusOr<mapping::LeadPage> parsed = mapping::ParseLeadPage(response->body);
            if (!parsed.ok()) return parsed.status();
            return LeadPageResult{std::move(parsed->leads), parsed->has_next};
          });
    });
  }

  // ---- contacts ---------------------------------------------------------------------------------

  void CreateContact(const v1::CreateContactRequest& request, CallOptions options,
                     Done<Contact> done) override {
    loop_->Post([this, request, options = std::move(options), done = std::move(done)]() mutable {
      if (!Coalescing()) return CreateContactAlone(request, std::move(options), std::move(done));
      EnqueueWrite(contact_creates_, contact_create_spec_, request, std::move(options),
                   std::move(done));
    });
  }

  void GetContact(int64_t contact_id, CallOptions options, Done<Contact> done) override {
    loop_->Post([this, contact_id, options = std::move(options), done = std::move(done)]() mutable {
      ReadContact(contact_id, std::move(options), std::move(done));
    });
  }

  void SearchContacts(const std::string& query, int64_t page, int32_t limit, CallOptions options,
                      Done<ContactPageResult> done) override {
    std::string params = ListParams(query, page, limit, /*with_contacts=*/false);
    loop_->Post([this, params = std::move(params), options = std::move(options),
                 done = std::move(done)]() mutable {
      RequestSpec spec;
      spec.path = "/contacts";
      spec.params = params;
      spec.context = {RequestKind::kRead, reason::kContactNotFound, "GET /contacts", nullptr};
      SharedRead<ContactPageResult>(
          contact_searches_, absl::StrCat("/contacts?", params), std::move(spec),
          std::move(options), std::move(done),
          [](absl::StatusOr<HttpResponse> response,
             const ErrorContext& context) -> absl::StatusOr<ContactPageResult> {
            if (!response.ok()) return response.status();
            if (response->status == 204) return ContactPageResult{};
            if (!IsSuccess(response->status)) return ErrorFromResponse(*response, context);
            absl::StatusOr<mapping::ContactPage> parsed = mapping::ParseContactPage(response->body);
            if (!parsed.ok()) return parsed.status();
            return ContactPageResult{std::move(parsed->contacts), parsed->has_next};
          });
    });
  }

 private:
  bool Coalescing() const { return options_.coalesce_window > absl::ZeroDuration(); }

  static std::string ListParams(const std::string& query, int64_t page, int32_t limit,
                                bool with_contacts) {
    std::string params = absl::StrCat("limit=", limit, "&page=", page);
    if (with_contacts) absl::StrAppend(&params, "&with=contacts");
    if (!query.empty()) absl::StrAppend(&params, "&query=", UrlEncode(query));
    return params;
  }

  // ---- waiters ----------------------------------------------------------------------------------

  template <typename T>
  static WaiterPtr<T> NewWaiter(const CallOptions& options, Done<T> done) {
    auto waiter = std::make_shared<Waiter<T>>();
    waiter->done = std::move(done);
    waiter->deadline = options.deadline;
    waiter->cancel = options.cancel;
    waiter->trace = options.trace;
    return waiter;
  }

  template <typename T>
  void Complete(const WaiterPtr<T>& waiter, absl::StatusOr<T> result) {
    if (waiter->finished) return;
    waiter->finished = true;
    waiter->timer.reset();
    if (waiter->cancel != nullptr) waiter->cancel->ClearHook();
    Done<T> done = std::move(waiter->done);
    done(std::move(result));
  }

  // Makes `waiter` leave its group at its deadline or when its caller cancels: it finishes with
  // `error(code)`, then `detached` runs so the group can forget it. Returns false when the call
  // was cancelled already (it has finished).
  template <typename T>
  bool Arm(const WaiterPtr<T>& waiter, std::function<absl::Status(absl::StatusCode)> error,
           std::function<void()> detached) {
    auto leave = [this, waiter, error, detached](absl::StatusCode code) {
      if (waiter->finished) return;
      Complete<T>(waiter, error(code));
      detached();
    };
    if (waiter->cancel != nullptr &&
        !waiter->cancel->SetHook(loop_, [leave] { leave(absl::StatusCode::kCancelled); })) {
      leave(absl::StatusCode::kCancelled);
      return false;
    }
    if (waiter->deadline != absl::InfiniteFuture()) {
      waiter->timer = loop_->RunAt(waiter->deadline, [waiter, leave] {
        leave(absl::StatusCode::kDeadlineExceeded);
      });
    }
    return true;
  }

  // The trace of a request made for a group of callers: the first caller's request id, its own
  // count, which Share() adds to every member's trace when the request is done.
  template <typename T>
  static std::shared_ptr<CallTrace> GroupTrace(const WaiterPtr<T>& first) {
    auto trace = std::make_shared<CallTrace>();
    if (first != nullptr && first->trace != nullptr) trace->request_id = first->trace->request_id;
    return trace;
  }
  template <typename T>
  static void Share(const CallTrace& group, const WaiterPtr<T>& waiter) {
    if (waiter->trace != nullptr) {
      waiter->trace->kommo_requests.fetch_add(group.kommo_requests.load());
    }
  }

  static absl::Status LeaveError(absl::StatusCode code, absl::string_view what,
                                 bool outcome_unknown) {
    const bool deadline = code == absl::StatusCode::kDeadlineExceeded;
    std::map<std::string, std::string> metadata;
    if (outcome_unknown) metadata["outcome"] = "unknown";
    return MakeError(
        code,
        absl::StrCat(
            deadline ? "deadline exceeded" : "call cancelled", " waiting for ", what,
            outcome_unknown ? "; the write was sent and may or may not have happened" : ""),
        outcome_unknown ? reason::kWriteOutcomeUnknown
                        : (deadline ? reason::kDeadlineExceeded : reason::kCancelled),
        metadata);
  }

  // ---- shared reads -----------------------------------------------------------------------------

  // Identical reads in flight at once share one request: the first caller's request is sent, the
  // others wait for its answer. A caller that leaves (deadline, cancel) only leaves; when every
  // caller has left before the request was answered, the request is cancelled too (leaving the
  // rate-limit queue unsent if it was still waiting).
  template <typename T>
  void SharedRead(
      Flights<T>& flights, std::string key, RequestSpec spec, CallOptions options, Done<T> done,
      std::function<absl::StatusOr<T>(absl::StatusOr<HttpResponse>, const ErrorContext&)> parse) {
    WaiterPtr<T> waiter = NewWaiter<T>(options, std::move(done));
    std::shared_ptr<Flight<T>> flight;
    auto it = flights.find(key);
    // Join only a flight that will not give up before this caller would.
    // A read-back never joins: a read already under way may have left before the write.
    const bool join = !spec.priority && it != flights.end() && !it->second->answered &&
                      it->second->deadline >= waiter->deadline;
    if (join) {
      flight = it->second;
    } else {
      flight = std::make_shared<Flight<T>>();
      flight->deadline = waiter->deadline;
      flights[key] = flight;
    }
    flight->waiters.push_back(waiter);
    const std::string what = spec.context.what;
    auto detached = [&flights, flight, key] {
      for (const WaiterPtr<T>& other : flight->waiters) {
        if (!other->finished) return;
      }
      if (!flight->answered) flight->cancel->Cancel();
      auto found = flights.find(key);
      if (found != flights.end() && found->second == flight) flights.erase(found);
    };
    if (!Arm<T>(
            waiter, [what](absl::StatusCode code) { return LeaveError(code, what, false); },
            detached)) {
      return;
    }
    if (join) return;
    const ErrorContext context = spec.context;
    auto trace = GroupTrace<T>(waiter);
    requester_.Send(std::move(spec), CallOptions{flight->deadline, flight->cancel, trace},
                    [this, &flights, flight, key, context, trace,
                     parse = std::move(parse)](absl::StatusOr<HttpResponse> response) {
                      flight->answered = true;
                      for (const WaiterPtr<T>& each : flight->waiters) Share<T>(*trace, each);
                      auto found = flights.find(key);
                      if (found != flights.end() && found->second == flight) {
                        flights.erase(found);
                      }
                      const absl::StatusOr<T> result = parse(std::move(response), context);
                      for (const WaiterPtr<T>& each : flight->waiters) Complete<T>(each, result);
                    });
  }

  // `after_write`: reading back a write, which goes before new calls in the rate-limit queue.
  void ReadLead(int64_t id, CallOptions options, Done<Lead> done, bool after_write = false) {
    RequestSpec spec;
    spec.priority = after_write;
    spec.path = absl::StrCat("/leads/", id);
    spec.params = "with=contacts";
    spec.context = {RequestKind::kRead, reason::kLeadNotFound, "GET /leads/{id}", nullptr};
    std::string key = absl::StrCat(spec.path, "?", spec.params);  // before `spec` is moved
    SharedRead<Lead>(lead_reads_, std::move(key), std::move(spec), std::move(options),
                     std::move(done),
                     [id](absl::StatusOr<HttpResponse> response,
                          const ErrorContext& context) -> absl::StatusOr<Lead> {
                       if (!response.ok()) return response.status();
                       if (response->status == 204 || response->status == 404) {
                         return NotFound("lead", id, reason::kLeadNotFound);
                       }
                       if (!IsSuccess(response->status)) {
                         return ErrorFromResponse(*response, context);
                       }
                       return mapping::ParseLead(response->body);
                     });
  }

  void ReadContact(int64_t id, CallOptions options, Done<Contact> done, bool after_write = false) {
    RequestSpec spec;
    spec.priority = after_write;
    spec.path = absl::StrCat("/contacts/", id);
    spec.context = {RequestKind::kRead, reason::kContactNotFound, "GET /contacts/{id}", nullptr};
    std::string key = spec.path;  // before `spec` is moved
    SharedRead<Contact>(contact_reads_, std::move(key), std::move(spec), std::move(options),
                        std::move(done),
                        [id](absl::StatusOr<HttpResponse> response,
                             const ErrorContext& context) -> absl::StatusOr<Contact> {
                          if (!response.ok()) return response.status();
                          if (response->status == 204 || response->status == 404) {
                            return NotFound("contact", id, reason::kContactNotFound);
                          }
                          if (!IsSuccess(response->status)) {
                            return ErrorFromResponse(*response, context);
                          }
                          return mapping::ParseContact(response->body);
                        });
  }

  // ---- batched read-back --------------------------------------------------------------------

  // Reads written entities back with one list request per batch
  // (GET /{plural}?filter[id][]=...), so a batch of N writes costs 2 requests, not N + 1.
  template <typename Entity>
  void ReadBack(const std::string& plural, bool with_contacts,
                std::vector<std::pair<int64_t, WaiterPtr<Entity>>> written, absl::Time deadline) {
    std::string params = absl::StrCat("limit=", kMaxIdsPerList);
    if (with_contacts) absl::StrAppend(&params, "&with=contacts");
    for (const auto& [id, waiter] : written) absl::StrAppend(&params, "&filter[id][]=", id);
    RequestSpec spec;
    spec.path = absl::StrCat("/", plural);
    spec.params = std::move(params);
    spec.context = {RequestKind::kRead, "", absl::StrCat("GET /", plural), nullptr};
    spec.priority = true;  // what was written is answered before new calls are taken
    const std::string entity = plural.substr(0, plural.size() - 1);
    const ErrorContext context = spec.context;
    auto trace = GroupTrace<Entity>(written.empty() ? nullptr : written.front().second);
    requester_.Send(std::move(spec), CallOptions{deadline, nullptr, trace},
                    [this, written = std::move(written), entity, context,
                     trace](absl::StatusOr<HttpResponse> response) mutable {
                      for (const auto& each : written) Share<Entity>(*trace, each.second);
                      std::map<int64_t, Entity> found;
                      absl::Status error;
                      if (!response.ok()) {
                        error = response.status();
                      } else if (response->status != 204 && !IsSuccess(response->status)) {
                        error = ErrorFromResponse(*response, context);
                      } else if (response->status != 204) {
                        error = ParseInto(response->body, found);
                      }
                      for (auto& [id, waiter] : written) {
                        auto it = found.find(id);
                        if (it != found.end()) {
                          Complete<Entity>(waiter, std::move(it->second));
                        } else {
                          Complete<Entity>(
                              waiter,
                              ReadBackFailed(error.ok() ? MakeError(absl::StatusCode::kUnavailable,
                                                                    "Kommo did not return it yet",
                                                                    reason::kKommoUnavailable)
                                                        : error,
                                             entity, id));
                        }
                      }
                    });
  }

  static absl::Status ParseInto(absl::string_view body, std::map<int64_t, Lead>& found) {
    absl::StatusOr<mapping::LeadPage> page = mapping::ParseLeadPage(body);
    if (!page.ok()) return page.status();
    for (Lead& lead : page->leads) found[lead.id()] = std::move(lead);
    return absl::OkStatus();
  }
  static absl::Status ParseInto(absl::string_view body, std::map<int64_t, Contact>& found) {
    absl::StatusOr<mapping::ContactPage> page = mapping::ParseContactPage(body);
    if (!page.ok()) return page.status();
    for (Contact& contact : page->contacts) found[contact.id()] = std::move(contact);
    return absl::OkStatus();
  }

  void ReadBackWritten(std::vector<std::pair<int64_t, WaiterPtr<Lead>>> written,
                       absl::Time deadline) {
    ReadBack<Lead>("leads", /*with_contacts=*/true, std::move(written), deadline);
  }
  void ReadBackWritten(std::vector<std::pair<int64_t, WaiterPtr<Contact>>> written,
                       absl::Time deadline) {
    ReadBack<Contact>("contacts", /*with_contacts=*/false, std::move(written), deadline);
  }

  // ---- batched writes -----------------------------------------------------------------------

  template <typename Request, typename Entity>
  void EnqueueWrite(WriteQueue<Request, Entity>& queue, const WriteSpec<Request>& spec,
                    const Request& request, CallOptions options, Done<Entity> done) {
    using Item = WriteItem<Request, Entity>;
    auto item = std::make_shared<Item>();
    item->request_id = absl::StrCat(next_request_id_++);
    item->request = request;
    item->waiter = NewWaiter<Entity>(options, std::move(done));
    // A batch forming now goes at `forming_slot`; a call that cannot wait that long is refused
    // at once, as the rate limiter refuses a lone call (Kommo is not called).
    const absl::Time slot = queue.forming ? queue.forming_slot : requester_.NextSlot();
    if (slot > item->waiter->deadline) {
      absl::Status refused = MakeError(
          absl::StatusCode::kResourceExhausted,
          absl::StrCat("Kommo's rate limit cannot admit this call before its deadline; Kommo was "
                       "not called (",
                       spec.what, ")"),
          reason::kRateLimitQueueTimeout);
      SetRetryDelay(refused, slot - loop_->Now());
      return Complete<Entity>(item->waiter, std::move(refused));
    }
    const std::string what = spec.what;
    const std::string entity = spec.entity;
    const bool create = spec.kind == RequestKind::kCreate;
    if (!Arm<Entity>(
            item->waiter,
            [item, what, entity, create](absl::StatusCode code) {
              if (item->written_id != 0) {  // written: say so, with the id, never "unknown"
                return ReadBackFailed(LeaveError(code, what, false), entity, item->written_id);
              }
              return LeaveError(code, what, create && item->sent);
            },
            [] {})) {
      return;
    }
    queue.pending.push_back(item);
    if (!queue.forming) FormBatch(queue, spec);
  }

  // Starts the next batch: it asks for a rate-limit slot (after the coalescing window), and takes
  // the items pending when the slot comes, up to max_batch_items.
  template <typename Request, typename Entity>
  void FormBatch(WriteQueue<Request, Entity>& queue, const WriteSpec<Request>& spec) {
    using ItemPtr = std::shared_ptr<WriteItem<Request, Entity>>;
    queue.forming = true;
    queue.forming_slot = std::max(requester_.NextSlot(), loop_->Now() + options_.coalesce_window);
    queue.window = loop_->RunAt(loop_->Now() + options_.coalesce_window, [this, &queue, &spec] {
      // The batch lives as long as its latest caller is willing to wait.
      absl::Time deadline = absl::InfinitePast();
      for (const ItemPtr& item : queue.pending) {
        if (!item->waiter->finished) deadline = std::max(deadline, item->waiter->deadline);
      }
      if (deadline == absl::InfinitePast()) {  // every caller left before the batch formed
        queue.pending.clear();
        queue.forming = false;
        return;
      }
      auto batch = std::make_shared<std::vector<ItemPtr>>();
      auto prepared = std::make_shared<bool>(false);
      RequestSpec request;
      request.method = spec.method;
      request.path = spec.path;
      request.context = {spec.kind, spec.not_found_reason, spec.what, nullptr};
      request.prepare = [this, &queue, &spec, batch, prepared](std::string& body) {
        *prepared = true;
        queue.forming = false;
        std::set<int64_t> keys;
        std::deque<ItemPtr> later;
        while (!queue.pending.empty() &&
               static_cast<int>(batch->size()) < options_.max_batch_items) {
          ItemPtr item = std::move(queue.pending.front());
          queue.pending.pop_front();
          if (item->waiter->finished) continue;
          if (spec.key && !keys.insert(spec.key(item->request)).second) {
            later.push_back(std::move(item));
            continue;
          }
          item->sent = true;
          batch->push_back(std::move(item));
        }
        while (!later.empty()) {
          queue.pending.push_front(std::move(later.back()));
          later.pop_back();
        }
        if (!queue.pending.empty()) FormBatch(queue, spec);
        if (batch->empty()) return false;
        std::vector<std::pair<std::string, const Request*>> items;
        for (const ItemPtr& item : *batch) items.emplace_back(item->request_id, &item->request);
        body = spec.body(items);
        return true;
      };
      auto trace =
          GroupTrace<Entity>(queue.pending.empty() ? nullptr : queue.pending.front()->waiter);
      requester_.Send(
          std::move(request), CallOptions{deadline, nullptr, trace},
          [this, &queue, &spec, batch, prepared, trace](absl::StatusOr<HttpResponse> response) {
            for (const ItemPtr& item : *batch) Share<Entity>(*trace, item->waiter);
            if (!*prepared) {
              // Refused before it was sent (the rate limit cannot meet even the latest deadline,
              // or Kommo blocks the account): the calls it would have carried learn why.
              queue.forming = false;
              const absl::Status error =
                  response.ok() ? absl::InternalError("batch answered unsent") : response.status();
              int failed = 0;
              while (!queue.pending.empty() && failed < options_.max_batch_items) {
                ItemPtr item = std::move(queue.pending.front());
                queue.pending.pop_front();
                if (item->waiter->finished) continue;
                Complete<Entity>(item->waiter, error);
                ++failed;
              }
              if (!queue.pending.empty()) FormBatch(queue, spec);
              return;
            }
            OnBatchAnswered(queue, spec, *batch, std::move(response));
          });
    });
  }

  template <typename Request, typename Entity>
  void OnBatchAnswered(WriteQueue<Request, Entity>& queue, const WriteSpec<Request>& spec,
                       std::vector<std::shared_ptr<WriteItem<Request, Entity>>>& batch,
                       absl::StatusOr<HttpResponse> response) {
    using ItemPtr = std::shared_ptr<WriteItem<Request, Entity>>;
    for (const ItemPtr& item : batch) item->sent = false;
    if (batch.empty()) return;  // nothing was sent
    const ErrorContext context{spec.kind, spec.not_found_reason, spec.what, nullptr};
    auto fail_all = [this, &batch](const absl::Status& error) {
      for (const ItemPtr& item : batch) Complete<Entity>(item->waiter, error);
    };
    if (!response.ok()) return fail_all(response.status());

    if (response->status == 400) {
      std::optional<mapping::Problem> problem = mapping::ParseProblem(response->body);
      if (problem.has_value() && !problem->validation_errors.empty()) {
        std::map<std::string, std::vector<FieldViolation>> by_item;
        std::map<std::string, bool> unknown_id;
        for (const mapping::ValidationError& error : problem->validation_errors) {
          by_item[error.request_id];  // ensure the key exists
          unknown_id[error.request_id] |= spec.kind == RequestKind::kUpdate && error.path == "id";
        }
        bool named_any = false;
        for (const ItemPtr& item : batch) named_any |= by_item.count(item->request_id) > 0;
        const absl::Status base = ErrorFromResponse(*response, context);
        if (named_any) {
          std::deque<ItemPtr> again;
          for (const ItemPtr& item : batch) {
            if (by_item.count(item->request_id) == 0) {
              if (item->waiter->finished) continue;
              if (item->resends++ < kMaxResends) {
                again.push_back(item);
              } else {
                // Its own request was valid; Kommo kept rejecting the batches it rode in.
                Complete<Entity>(
                    item->waiter,
                    MakeError(absl::StatusCode::kAborted,
                              absl::StrCat("Kommo rejected ", kMaxResends + 1,
                                           " batches this call rode in for other calls' "
                                           "invalid items; Kommo did not act on it, retry it"),
                              "BATCH_REJECTED"));
              }
              continue;
            }
            if (unknown_id[item->request_id]) {
              const int64_t id = spec.key ? spec.key(item->request) : 0;
              Complete<Entity>(item->waiter, NotFound(spec.entity, id, spec.not_found_reason));
              continue;
            }
            // This item's own error: the batch's code, message and ErrorInfo, and only the
            // violations Kommo listed under this item's request_id, named by our fields.
            absl::Status own_error(base.code(), base.message());
            if (auto info = GetErrorInfo(base)) {
              SetErrorInfo(own_error, info->reason(),
                           {info->metadata().begin(), info->metadata().end()});
            }
            std::vector<FieldViolation> violations;
            for (const mapping::ValidationError& each : problem->validation_errors) {
              if (each.request_id != item->request_id) continue;
              std::string description = each.detail.empty() ? each.code : each.detail;
              if (!each.code.empty() && !each.detail.empty()) {
                absl::StrAppend(&description, " (", each.code, ")");
              }
              violations.push_back({spec.field(each.path, item->request), std::move(description)});
            }
            AddFieldViolations(own_error, violations);
            Complete<Entity>(item->waiter, own_error);
          }
          // Kommo saved nothing of a rejected batch: the others go again, first in line.
          for (auto it = again.rbegin(); it != again.rend(); ++it) queue.pending.push_front(*it);
          if (!again.empty() && !queue.forming) FormBatch(queue, spec);
          return;
        }
      }
    }
    if (!IsSuccess(response->status) || response->status == 204) {
      if (spec.kind == RequestKind::kUpdate && response->status == 404) {
        for (const ItemPtr& item : batch) {
          Complete<Entity>(item->waiter,
                           NotFound(spec.entity, spec.key(item->request), spec.not_found_reason));
        }
        return;
      }
      return fail_all(ErrorFromResponse(*response, context));
    }
    absl::StatusOr<std::map<std::string, int64_t>> ids =
        mapping::ParseCreatedIds(response->body, spec.plural);
    std::vector<std::pair<int64_t, WaiterPtr<Entity>>> written;
    absl::Time deadline = loop_->Now();
    for (const ItemPtr& item : batch) {
      if (item->waiter->finished) continue;  // its caller left; the write stands
      const bool found = ids.ok() && ids->count(item->request_id) > 0;
      if (!found) {
        absl::Status error = ids.ok() ? MakeError(absl::StatusCode::kInternal,
                                                  absl::StrCat("Kommo's answer to ", spec.what,
                                                               " holds no result for this item"),
                                                  reason::kKommoBadResponse)
                                      : ids.status();
        AddErrorMetadata(error, "outcome", "written_id_unknown");  // Kommo answered 2xx
        Complete<Entity>(item->waiter, error);
        continue;
      }
      item->written_id = ids->at(item->request_id);
      written.emplace_back(item->written_id, item->waiter);
      deadline = std::max(deadline, item->waiter->deadline);
    }
    if (!written.empty()) ReadBackWritten(std::move(written), deadline);
  }

  // ---- one request per call (coalescing off) ------------------------------------------------

  // The id Kommo gave the single item of a write.
  static absl::StatusOr<int64_t> WrittenId(absl::StatusOr<HttpResponse> response,
                                           absl::string_view plural, const ErrorContext& context) {
    if (!response.ok()) return response.status();
    if (!IsSuccess(response->status) || response->status == 204) {
      return ErrorFromResponse(*response, context);
    }
    absl::StatusOr<std::map<std::string, int64_t>> ids =
        mapping::ParseCreatedIds(response->body, plural);
    absl::Status error;
    if (!ids.ok()) {
      error = ids.status();
    } else if (auto it = ids->find("0"); it != ids->end()) {
      return it->second;
    } else {
      error = MakeError(
          absl::StatusCode::kInternal,
          absl::StrCat("Kommo's answer to ", context.what, " holds no result for the item sent"),
          reason::kKommoBadResponse);
    }
    AddErrorMetadata(error, "outcome", "created_id_unknown");  // Kommo answered 2xx: it acted
    return error;
  }

  template <typename Entity>
  void ReadBackOne(int64_t id, CallOptions options, Done<Entity> done) {
    auto read_done = [id, done = std::move(done)](absl::StatusOr<Entity> entity) mutable {
      if (!entity.ok()) {
        return done(
            ReadBackFailed(entity.status(), std::is_same_v<Entity, Lead> ? "lead" : "contact", id));
      }
      done(std::move(entity));
    };
    if constexpr (std::is_same_v<Entity, Lead>) {
      ReadLead(id, std::move(options), std::move(read_done), /*after_write=*/true);
    } else {
      ReadContact(id, std::move(options), std::move(read_done), /*after_write=*/true);
    }
  }

  void CreateLeadAlone(const v1::CreateLeadRequest& request, CallOptions options, Done<Lead> done) {
    const mapping::LeadCreateItem item{"0", &request};
    RequestSpec spec;
    spec.method = Method::kPost;
    spec.path = "/leads";
    spec.body = mapping::LeadsCreateBody({&item, 1});
    spec.context = {RequestKind::kCreate, reason::kLeadNotFound, "POST /leads",
                    &mapping::LeadFieldFromKommoPath};
    const ErrorContext context = spec.context;
    requester_.Send(std::move(spec), options,
                    [this, context, options,
                     done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
                      absl::StatusOr<int64_t> id = WrittenId(std::move(response), "leads", context);
                      if (!id.ok()) return done(id.status());
                      ReadBackOne<Lead>(*id, options, std::move(done));
                    });
  }

  void UpdateLeadAlone(const v1::UpdateLeadRequest& request, CallOptions options, Done<Lead> done) {
    const int64_t lead_id = request.lead_id();
    RequestSpec spec;
    spec.method = Method::kPatch;
    spec.path = absl::StrCat("/leads/", lead_id);
    spec.body = mapping::LeadUpdateBody(request);
    spec.context = {RequestKind::kUpdate, reason::kLeadNotFound, "PATCH /leads/{id}",
                    &mapping::LeadFieldFromKommoPath};
    const ErrorContext context = spec.context;
    requester_.Send(std::move(spec), options,
                    [this, lead_id, context, options,
                     done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
                      if (!response.ok()) return done(response.status());
                      if (response->status == 204) {
                        return done(NotFound("lead", lead_id, reason::kLeadNotFound));
                      }
                      if (!IsSuccess(response->status))
                        return done(ErrorFromResponse(*response, context));
                      ReadBackOne<Lead>(lead_id, options, std::move(done));
                    });
  }

  void CreateContactAlone(const v1::CreateContactRequest& request, CallOptions options,
                          Done<Contact> done) {
    const mapping::ContactCreateItem item{"0", &request};
    RequestSpec spec;
    spec.method = Method::kPost;
    spec.path = "/contacts";
    spec.body = mapping::ContactsCreateBody({&item, 1});
    auto sent = std::make_shared<const v1::CreateContactRequest>(request);
    spec.context = {
        RequestKind::kCreate, reason::kContactNotFound, "POST /contacts",
        [sent](absl::string_view path) { return mapping::ContactFieldFromKommoPath(path, *sent); }};
    const ErrorContext context = spec.context;
    requester_.Send(std::move(spec), options,
                    [this, context, options,
                     done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
                      absl::StatusOr<int64_t> id =
                          WrittenId(std::move(response), "contacts", context);
                      if (!id.ok()) return done(id.status());
                      ReadBackOne<Contact>(*id, options, std::move(done));
                    });
  }

  KommoClientOptions options_;
  EventLoop* loop_;
  Requester requester_;
  uint64_t next_request_id_ = 1;

  WriteSpec<v1::CreateLeadRequest> lead_create_spec_;
  WriteSpec<v1::CreateContactRequest> contact_create_spec_;
  WriteSpec<v1::UpdateLeadRequest> lead_update_spec_;
  WriteQueue<v1::CreateLeadRequest, Lead> lead_creates_;
  WriteQueue<v1::CreateContactRequest, Contact> contact_creates_;
  WriteQueue<v1::UpdateLeadRequest, Lead> lead_updates_;

  Flights<Lead> lead_reads_;
  Flights<LeadPageResult> lead_searches_;
  Flights<Contact> contact_reads_;
  Flights<ContactPageResult> contact_searches_;
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

}  // namespace kommo::rest
