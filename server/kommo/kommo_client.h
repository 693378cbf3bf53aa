#ifndef KOMMO_SERVER_KOMMO_KOMMO_CLIENT_H_
#define KOMMO_SERVER_KOMMO_KOMMO_CLIENT_H_

// The operations this service performs on one Kommo account, asynchronously.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kommo/v1/account.pb.h"
#include "kommo/v1/company_service.pb.h"
#include "kommo/v1/contact_service.pb.h"
#include "kommo/v1/lead_service.pb.h"
#include "kommo/v1/link_service.pb.h"
#include "kommo/v1/note_service.pb.h"
#include "kommo/v1/task_service.pb.h"
#include "server/common/call_trace.h"
#include "server/common/cancellation.h"
#include "server/common/event_loop.h"
#include "server/http/http_transport.h"
#include "server/kommo/shared_budget.h"
#include "server/kommo/token_source.h"
#include "server/mapping/event_json.h"
#include "server/mapping/link_json.h"
#include "server/metrics/service_metrics.h"

namespace kommo::rest {

// Per-call settings handed down from the RPC.
struct CallOptions {
  // The caller's deadline: no request to Kommo outlives it.
  absl::Time deadline = absl::InfiniteFuture();
  // Cancelled when the caller goes away: a call still waiting for its rate-limit slot leaves the
  // queue without reaching Kommo, a transfer in flight is aborted. May be null.
  std::shared_ptr<CancellationToken> cancel;
  // The call's request id and its count of Kommo requests. May be null.
  std::shared_ptr<CallTrace> trace;
};

struct LeadPageResult {
  std::vector<kommo::v1::Lead> leads;
  bool has_next = false;
};

// Which events ListEvents reads.
struct EventsQuery {
  std::vector<std::string> entities;  // filter[entity][]: "lead", "contact"
  int64_t created_from = 0;           // filter[created_at][from], Unix seconds (0: none)
  int64_t page = 1;
  int32_t limit = 100;  // Kommo's documented maximum for events
};

struct ContactPageResult {
  std::vector<kommo::v1::Contact> contacts;
  bool has_next = false;
};

struct IncomingLeadPageResult {
  std::vector<kommo::v1::IncomingLead> incoming_leads;
  bool has_next = false;
};

struct NotePageResult {
  std::vector<kommo::v1::Note> notes;
  bool has_next = false;
};

// Which notes ListNotes reads.
struct NotesQuery {
  kommo::v1::EntityType entity_type = kommo::v1::ENTITY_TYPE_UNSPECIFIED;
  int64_t entity_id = 0;
  kommo::v1::ListNotesRequest::Order order = kommo::v1::ListNotesRequest::ORDER_NEWEST_FIRST;
  int64_t updated_since = 0;  // Unix seconds; 0: all
  int64_t page = 1;
  int32_t limit = 50;
};

struct TaskPageResult {
  std::vector<kommo::v1::Task> tasks;
  bool has_next = false;
};

// Which tasks ListTasks reads.
struct TasksQuery {
  kommo::v1::EntityType entity_type = kommo::v1::ENTITY_TYPE_UNSPECIFIED;  // unspecified: any
  std::vector<int64_t> entity_ids;
  kommo::v1::ListTasksRequest::Completion completion =
      kommo::v1::ListTasksRequest::COMPLETION_UNSPECIFIED;
  std::vector<int64_t> responsible_user_ids;
  // Due range (Unix seconds, inclusive); nullopt: open.
  std::optional<int64_t> due_from;
  std::optional<int64_t> due_to;
  bool soonest_first = false;  // order by due time ascending, else descending
  int64_t page = 1;
  int32_t limit = 50;
};

struct CompanyPageResult {
  std::vector<kommo::v1::Company> companies;
  bool has_next = false;
};

// Which leads ListLeads reads (all filters must match; the values of one are alternatives).
struct LeadsQuery {
  std::vector<int64_t> ids;
  std::vector<int64_t> pipeline_ids;                         // whole pipelines
  std::vector<std::pair<int64_t, int64_t>> pipeline_stages;  // (pipeline_id, status_id)
  std::vector<int64_t> responsible_user_ids;
  // Ranges (Unix seconds, inclusive); nullopt: open.
  std::optional<int64_t> created_from, created_to, updated_from, updated_to;
  std::string query;
  std::string order_field = "id";  // "id", "created_at" or "updated_at"
  bool descending = false;
  int64_t page = 1;
  int32_t limit = 50;
};

// Counters of what the client did, for metrics and tests. Loop-thread consistent snapshots.
struct KommoClientStats {
  int64_t requests = 0;            // HTTP attempts sent to Kommo
  int64_t retries = 0;             // attempts after the first
  int64_t rate_limited = 0;        // 429 answers
  int64_t circuit_rejections = 0;  // calls failed fast because the circuit was open
  int64_t circuit_opened = 0;      // times an HTML 403 opened the circuit
  size_t queue_depth = 0;          // calls waiting for their rate-limit slot now
  size_t in_flight = 0;            // requests to Kommo under way (queued, sent or backing off)
  bool circuit_open = false;
};

template <typename T>
using Done = absl::AnyInvocable<void(absl::StatusOr<T>)>;

// A catalogue of the account and when it was read from Kommo (wall time).
template <typename T>
struct Fetched {
  T value;
  absl::Time fetch_time;
};

// One Kommo account. Each operation runs `done` exactly once, on the client's event loop thread
// (never inside the call itself), with the result or an absl::Status following the error table
// (server/kommo/error_table.h). Requests are already validated by the caller.
class KommoClient {
 public:
  virtual ~KommoClient() = default;

  // Lead and contact writes that set custom fields, a pipeline, a stage or a responsible user are
  // first checked against the account's catalogues (write_check.h; each catalogue read only when
  // the write needs it, and kept for catalogue_ttl): an unknown field, enum, pipeline, stage or
  // user fails INVALID_ARGUMENT (INVALID_FIELD) without any Kommo write. A catalogue Kommo will
  // not give (a token that is not an administrator's cannot list users) is not checked. When
  // Kommo refuses such a write for a field, stage or user, every catalogue is read again next
  // time.

  // POST /leads, then reads the lead back (GET /leads/{id}?with=contacts).
  virtual void CreateLead(const kommo::v1::CreateLeadRequest& request, CallOptions options,
                          Done<kommo::v1::Lead> done) = 0;
  // PATCH /leads with the fields present (custom fields and tags included), then reads the lead
  // back; with nothing to change, only the read.
  virtual void UpdateLead(const kommo::v1::UpdateLeadRequest& request, CallOptions options,
                          Done<kommo::v1::Lead> done) = 0;
  // GET /leads/{id}?with=contacts; NOT_FOUND (LEAD_NOT_FOUND) for an unknown id.
  virtual void GetLead(int64_t lead_id, CallOptions options, Done<kommo::v1::Lead> done) = 0;
  // GET /leads?query=&page=&limit=&with=contacts; an empty page when nothing matches.
  virtual void SearchLeads(const std::string& query, int64_t page, int32_t limit,
                           CallOptions options, Done<LeadPageResult> done) = 0;

  // POST /contacts, then reads the contact back.
  virtual void CreateContact(const kommo::v1::CreateContactRequest& request, CallOptions options,
                             Done<kommo::v1::Contact> done) = 0;
  // PATCH /contacts with the fields present, then reads the contact back; with nothing to change,
  // only the read. NOT_FOUND (CONTACT_NOT_FOUND) for an unknown id. Writes to one contact are
  // sent one after another.
  virtual void UpdateContact(const kommo::v1::UpdateContactRequest& request, CallOptions options,
                             Done<kommo::v1::Contact> done) = 0;
  // GET /contacts/{id}; NOT_FOUND (CONTACT_NOT_FOUND) for an unknown id.
  virtual void GetContact(int64_t contact_id, CallOptions options,
                          Done<kommo::v1::Contact> done) = 0;
  // GET /contacts?query=&page=&limit=.
  virtual void SearchContacts(const std::string& query, int64_t page, int32_t limit,
                              CallOptions options, Done<ContactPageResult> done) = 0;

  // The contacts whose phones or emails match exactly (contact_finder.h): one GET /contacts?query=
  // per distinct phone or email, more pages only when Kommo has more candidates.
  virtual void LookupContacts(const std::vector<std::string>& phones,
                              const std::vector<std::string>& emails, CallOptions options,
                              Done<std::vector<kommo::v1::Contact>> done) = 0;
  // The lookup, then the one match (PATCH /contacts with add_missing), or a new contact; calls
  // on the same phone or email run one after another.
  virtual void FindOrCreateContact(const kommo::v1::FindOrCreateContactRequest& request,
                                   CallOptions options,
                                   Done<kommo::v1::FindOrCreateContactResponse> done) = 0;

  // POST /leads/complex, then reads the lead and the contact back.
  virtual void CreateLeadWithContact(const kommo::v1::CreateLeadWithContactRequest& request,
                                     CallOptions options,
                                     Done<kommo::v1::CreateLeadWithContactResponse> done) = 0;
  // POST /leads/unsorted/forms, then reads the incoming lead back.
  virtual void CreateIncomingLead(const kommo::v1::CreateIncomingLeadRequest& request,
                                  CallOptions options, Done<kommo::v1::IncomingLead> done) = 0;
  // POST /leads/unsorted/{uid}/accept, then reads the lead back.
  virtual void AcceptIncomingLead(const kommo::v1::AcceptIncomingLeadRequest& request,
                                  CallOptions options, Done<kommo::v1::Lead> done) = 0;
  // POST /leads/unsorted/{uid}/decline.
  virtual void DeclineIncomingLead(const kommo::v1::DeclineIncomingLeadRequest& request,
                                   CallOptions options,
                                   Done<kommo::v1::DeclineIncomingLeadResponse> done) = 0;
  // GET /leads/unsorted?page=&limit=[&filter[pipeline_id]=], newest first.
  virtual void ListIncomingLeads(int64_t pipeline_id, int64_t page, int32_t limit,
                                 CallOptions options, Done<IncomingLeadPageResult> done) = 0;

  // POST /{entity}/notes, then reads the note back.
  virtual void AddNote(const kommo::v1::AddNoteRequest& request, CallOptions options,
                       Done<kommo::v1::Note> done) = 0;
  // GET /{entity}/notes?filter[entity_id][]=...
  virtual void ListNotes(const NotesQuery& query, CallOptions options,
                         Done<NotePageResult> done) = 0;

  // ---- The account's catalogues (AccountService) ----------------------------------------------
  // Each is kept for `catalogue_ttl` (catalogue.h): within it a read costs no Kommo request;
  // `refresh` reads from Kommo now. Concurrent reads of one catalogue share their requests.

  // GET /account?with=datetime_settings,users_groups.
  virtual void GetAccount(bool refresh, CallOptions options,
                          Done<Fetched<kommo::v1::Account>> done) = 0;
  // GET /leads/pipelines (stages embedded).
  virtual void ListPipelines(bool refresh, CallOptions options,
                             Done<Fetched<std::vector<kommo::v1::Pipeline>>> done) = 0;
  // GET /users?limit=250&page=N, every page. FAILED_PRECONDITION when the token's user is not an
  // administrator (Kommo's 403).
  virtual void ListUsers(bool refresh, CallOptions options,
                         Done<Fetched<std::vector<kommo::v1::User>>> done) = 0;
  // GET /{leads|contacts|companies}/custom_fields?limit=250&page=N, every page.
  virtual void ListCustomFields(kommo::v1::EntityType entity_type, bool refresh,
                                CallOptions options,
                                Done<Fetched<std::vector<kommo::v1::CustomField>>> done) = 0;
  // GET /leads/loss_reasons?limit=250&page=N, every page.
  virtual void ListLossReasons(bool refresh, CallOptions options,
                               Done<Fetched<std::vector<kommo::v1::LossReason>>> done) = 0;
  // Forgets every kept catalogue, so that the next read of each goes to Kommo (after Kommo
  // refused a write for an unknown field, stage or user). Safe from any thread.
  virtual void InvalidateCatalogues() = 0;

  // POST /tasks, then reads the task back (GET /tasks?filter[id][]=...).
  virtual void CreateTask(const kommo::v1::CreateTaskRequest& request, CallOptions options,
                          Done<kommo::v1::Task> done) = 0;
  // PATCH /tasks [{id, is_completed: true, result}], then reads the task back; NOT_FOUND
  // (TASK_NOT_FOUND) for an unknown id. Writes to one task are sent one after another.
  virtual void CompleteTask(const kommo::v1::CompleteTaskRequest& request, CallOptions options,
                            Done<kommo::v1::Task> done) = 0;
  // GET /tasks?filter[...]&order[complete_till]=...: one Kommo page. Kommo has no filter on the
  // due time, so the page is read in due order and the tasks outside [due_from, due_to] are left
  // out; has_next is false once the page passed the range's far end.
  virtual void ListTasks(const TasksQuery& query, CallOptions options,
                         Done<TaskPageResult> done) = 0;

  // ---- companies ------------------------------------------------------------------------------

  // POST /companies (coalesced), then reads the company back.
  virtual void CreateCompany(const kommo::v1::CreateCompanyRequest& request, CallOptions options,
                             Done<kommo::v1::Company> done) = 0;
  // PATCH /companies with the fields present (one write per company at a time), then reads it
  // back; NOT_FOUND (COMPANY_NOT_FOUND) for an unknown id. Nothing to change: a GET.
  virtual void UpdateCompany(const kommo::v1::UpdateCompanyRequest& request, CallOptions options,
                             Done<kommo::v1::Company> done) = 0;
  // GET /companies/{id}; NOT_FOUND (COMPANY_NOT_FOUND) for an unknown id.
  virtual void GetCompany(int64_t company_id, CallOptions options,
                          Done<kommo::v1::Company> done) = 0;
  // GET /companies?query=&page=&limit=.
  virtual void SearchCompanies(const std::string& query, int64_t page, int32_t limit,
                               CallOptions options, Done<CompanyPageResult> done) = 0;

  // ---- links ----------------------------------------------------------------------------------

  // POST /{entity}/{id}/link or /unlink for a change already put on its written side
  // (mapping::WrittenSide). Changes to one entity are sent one at a time, in order. Answers the
  // link as Kommo answered it (an unlink: an empty Link). NOT_FOUND with the missing entity's
  // reason.
  virtual void ChangeLink(const mapping::LinkChange& change, CallOptions options,
                          Done<kommo::v1::Link> done) = 0;
  // GET /{entity}/{id}/links[?filter[to_entity_type]=]: the entity's links (none for an entity
  // Kommo does not know: Kommo answers 204 for both).
  virtual void ListLinks(kommo::v1::EntityType entity_type, int64_t entity_id,
                         kommo::v1::EntityType to_entity_type, CallOptions options,
                         Done<std::vector<kommo::v1::Link>> done) = 0;

  // GET /leads?filter[...]&order[...]=&page=&limit=&with=contacts: one Kommo page.
  virtual void ListLeads(const LeadsQuery& query, CallOptions options,
                         Done<LeadPageResult> done) = 0;

  // GET /contacts?filter[id][]=...&limit=250: the contacts of `ids` (at most 250) that Kommo
  // still has, in Kommo's order. Concurrent calls for the same ids share the request.
  virtual void GetContacts(const std::vector<int64_t>& ids, CallOptions options,
                           Done<std::vector<kommo::v1::Contact>> done) = 0;

  // GET /events?filter[entity][]=...&filter[created_at][from]=&limit=&page=: one page of Kommo's
  // events, for the change stream's poller (server/watch).
  virtual void ListEvents(const EventsQuery& query, CallOptions options,
                          Done<mapping::EventPage> done) = 0;

  // A snapshot of the counters; `done` runs on the loop thread.
  virtual void GetStats(absl::AnyInvocable<void(KommoClientStats)> done) = 0;
};

struct KommoClientOptions {
  // The account's name (KOMMO_ACCOUNTS_FILE; "default" for the single account of the KOMMO_*
  // settings): the `account` label of its metrics and log lines, and the key of what it shares.
  std::string account = "default";
  // Base URL of the API without a trailing slash, e.g. "https://acme.kommo.com/api/v4".
  std::string api_base_url;
  // The long-lived token or OAuth access token, sent as "Authorization: Bearer ...". When
  // `token_source` is set it is asked before every request instead (token rotation).
  std::string access_token;
  std::shared_ptr<TokenSource> token_source;
  // Requests per second to this account, shared by all calls, and the burst allowance.
  double rate_limit_rps = 7;
  int rate_limit_burst = 1;
  // Calls allowed to wait for the rate limit at once.
  size_t max_queue = 10000;
  // Longest single HTTP attempt (the call's remaining time caps it further).
  absl::Duration request_timeout = absl::Seconds(20);

  // Retries (design.md §5): reads and PATCH on 429, 5xx, connection failures and timeouts; POST
  // only when Kommo certainly did not act (429, failure before sending). At most `max_attempts`
  // attempts per request; waits follow Retry-After, else the body's retry_after, else exponential
  // backoff with full jitter between `initial_backoff` and `max_backoff`; never past the deadline.
  int max_attempts = 4;
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(10);
  // Retry budget shared by all calls: each first attempt earns `retry_budget_ratio` of a retry,
  // up to `retry_budget_max` banked retries, so a failing Kommo sees at most about
  // ratio × traffic + max extra requests instead of a retry storm.
  double retry_budget_ratio = 0.2;
  double retry_budget_max = 20;
  // Longest pause a 429 may impose on the whole account: a Retry-After beyond it (one answer
  // asking for a day would stop all traffic for a day) is cut to this, and the cut is logged.
  absl::Duration max_rate_limit_pause = absl::Seconds(60);
  // After an HTML 403 (Kommo blocks the account after rate-limit abuse) calls fail fast with
  // UNAVAILABLE for this long; then one probe request is let through, and the circuit closes as
  // soon as Kommo answers anything but the block page.
  absl::Duration circuit_open_duration = absl::Seconds(60);
  // Seeds the backoff jitter (0: from the system's entropy).
  uint64_t random_seed = 0;
  // Coalescing: every write goes through one batcher per kind of write. Concurrent calls ride
  // together in one Kommo batch (up to `max_batch_items`): the items that gather during
  // `coalesce_window` after the first one, or while the batch waits for its rate-limit slot, go
  // with it; their read-back is one list request. A zero window is a batch of whatever is
  // pending when the batch's slot comes (often one).
  absl::Duration coalesce_window = absl::Milliseconds(2);
  int max_batch_items = 50;
  // How long the account's catalogues (account, pipelines, users, custom fields, loss reasons)
  // are kept before they are read from Kommo again; zero keeps nothing.
  absl::Duration catalogue_ttl = absl::Minutes(5);
  // Where to count requests, retries, queue waits and the circuit state; may be null.
  metrics::ServiceMetrics* metrics = nullptr;
  // Makes the account's rate budget shared with the other replicas (REDIS_URL set: Redis's
  // bucket, 429 pause and circuit; server/redis/redis_budget.h). Unset: the budget is this
  // process's alone. Called once per client, on its loop.
  SharedBudgetFactory shared_budget;
};

// The KommoClient over an HttpTransport; timers and callbacks run on `loop` (which is normally
// the transport itself). Both must outlive the client.
std::unique_ptr<KommoClient> NewKommoClient(KommoClientOptions options,
                                            http::HttpTransport* transport, EventLoop* loop);

// Percent-encodes `text` for a URL query value (RFC 3986 unreserved characters stay as they are).
std::string UrlEncode(absl::string_view text);

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_KOMMO_CLIENT_H_
