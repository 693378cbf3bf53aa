#include "server/kommo/kommo_client.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"
#include "server/kommo/entities.h"
#include "server/kommo/error_table.h"
#include "server/kommo/requester.h"
#include "server/kommo/shared_reads.h"
#include "server/kommo/waiter.h"
#include "server/kommo/write_batcher.h"

namespace kommo::rest {
namespace {

using kommo::v1::Contact;
using kommo::v1::Lead;

// Most ids one list request reads back (Kommo's page limit).
constexpr int kMaxIdsPerList = 250;

// The operations, as short adapters over the generic machinery: shared reads for GETs, one
// batcher per kind of write, and read-backs of what was written.
class KommoClientImpl final : public KommoClient {
 public:
  KommoClientImpl(KommoClientOptions options, http::HttpTransport* transport, EventLoop* loop)
      : options_(std::move(options)),
        loop_(loop),
        requester_(options_, transport, loop),
        lead_reads_(&requester_, loop),
        lead_lists_(&requester_, loop),
        contact_reads_(&requester_, loop),
        contact_lists_(&requester_, loop),
        lead_creates_(LeadEntity(), LeadCreate(), BatcherOptions(), &requester_, loop,
                      ReadBackOf<Lead>(LeadEntity())),
        lead_updates_(LeadEntity(), LeadUpdate(), BatcherOptions(), &requester_, loop,
                      ReadBackOf<Lead>(LeadEntity())),
        contact_creates_(ContactEntity(), ContactCreate(), BatcherOptions(), &requester_, loop,
                         ReadBackOf<Contact>(ContactEntity())) {}

  void GetStats(absl::AnyInvocable<void(KommoClientStats)> done) override {
    loop_->Post([this, done = std::move(done)]() mutable { done(requester_.Stats()); });
  }

  void CreateLead(const v1::CreateLeadRequest& request, CallOptions options,
                  Done<Lead> done) override {
    loop_->Post([this, request, options = std::move(options), done = std::move(done)]() mutable {
      lead_creates_.Enqueue(request, std::move(options), std::move(done));
    });
  }

  void UpdateLead(const v1::UpdateLeadRequest& request, CallOptions options,
                  Done<Lead> done) override {
    const bool changes = request.has_name() || request.has_price() ||
                         request.has_responsible_user_id() || request.has_pipeline_id() ||
                         request.has_status_id();
    loop_->Post(
        [this, request, changes, options = std::move(options), done = std::move(done)]() mutable {
          if (!changes) {  // nothing to write: the current lead is the answer
            return Get<Lead>(LeadEntity(), lead_reads_, request.lead_id(), std::move(options),
                             std::move(done));
          }
          lead_updates_.Enqueue(request, std::move(options), std::move(done));
        });
  }

  void GetLead(int64_t lead_id, CallOptions options, Done<Lead> done) override {
    loop_->Post([this, lead_id, options = std::move(options), done = std::move(done)]() mutable {
      Get<Lead>(LeadEntity(), lead_reads_, lead_id, std::move(options), std::move(done));
    });
  }

  void SearchLeads(const std::string& query, int64_t page, int32_t limit, CallOptions options,
                   Done<LeadPageResult> done) override {
    loop_->Post(
        [this, query, page, limit, options = std::move(options), done = std::move(done)]() mutable {
          Search<Lead>(LeadEntity(), lead_lists_, query, page, limit, std::move(options),
                       [done = std::move(done)](absl::StatusOr<EntityPage<Lead>> found) mutable {
                         if (!found.ok()) return done(found.status());
                         done(LeadPageResult{std::move(found->items), found->has_next});
                       });
        });
  }

  void CreateContact(const v1::CreateContactRequest& request, CallOptions options,
                     Done<Contact> done) override {
    loop_->Post([this, request, options = std::move(options), done = std::move(done)]() mutable {
      contact_creates_.Enqueue(request, std::move(options), std::move(done));
    });
  }

  void GetContact(int64_t contact_id, CallOptions options, Done<Contact> done) override {
    loop_->Post([this, contact_id, options = std::move(options), done = std::move(done)]() mutable {
      Get<Contact>(ContactEntity(), contact_reads_, contact_id, std::move(options),
                   std::move(done));
    });
  }

  void SearchContacts(const std::string& query, int64_t page, int32_t limit, CallOptions options,
                      Done<ContactPageResult> done) override {
    loop_->Post([this, query, page, limit, options = std::move(options),
                 done = std::move(done)]() mutable {
      Search<Contact>(ContactEntity(), contact_lists_, query, page, limit, std::move(options),
                      [done = std::move(done)](absl::StatusOr<EntityPage<Contact>> found) mutable {
                        if (!found.ok()) return done(found.status());
                        done(ContactPageResult{std::move(found->items), found->has_next});
                      });
    });
  }

 private:
  WriteBatcherOptions BatcherOptions() const {
    WriteBatcherOptions batcher;
    batcher.window = options_.coalesce_window;
    batcher.max_items = std::clamp(options_.max_batch_items, 1, kMaxIdsPerList);
    batcher.max_queue = options_.max_queue;
    return batcher;
  }

  template <typename Entity>
  static std::string WithParam(const EntityDescription<Entity>& entity) {
    return entity.with.empty() ? std::string() : absl::StrCat("with=", entity.with);
  }

  // GET /{plural}/{id}: NOT_FOUND (the entity's reason) for an unknown id.
  template <typename Entity>
  void Get(const EntityDescription<Entity>& entity, SharedReads<Entity>& reads, int64_t id,
           CallOptions options, Done<Entity> done) {
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity.plural, "/", id);
    spec.params = WithParam(entity);
    spec.context.kind = RequestKind::kRead;
    spec.context.not_found_reason = entity.not_found_reason;
    spec.context.what = absl::StrCat("GET /", entity.plural, "/{id}");
    spec.context.entity = entity.singular;
    spec.context.entity_id = id;
    std::string key = absl::StrCat(spec.path, "?", spec.params);
    reads.Read(std::move(key), std::move(spec), std::move(options), std::move(done),
               [&entity](absl::StatusOr<http::HttpResponse> response,
                         const ErrorContext& context) -> absl::StatusOr<Entity> {
                 if (!response.ok()) return response.status();
                 absl::StatusOr<std::optional<absl::string_view>> body =
                     AnswerBody(*response, context);
                 if (!body.ok()) return body.status();
                 if (!body->has_value()) return EntityNotFound(context);
                 return entity.parse(**body);
               });
  }

  // GET /{plural}?query=&page=&limit=: an empty page when nothing matches.
  template <typename Entity>
  void Search(const EntityDescription<Entity>& entity, SharedReads<EntityPage<Entity>>& lists,
              const std::string& query, int64_t page, int32_t limit, CallOptions options,
              Done<EntityPage<Entity>> done) {
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity.plural);
    spec.params = absl::StrCat("limit=", limit, "&page=", page);
    if (!entity.with.empty()) absl::StrAppend(&spec.params, "&", WithParam(entity));
    if (!query.empty()) absl::StrAppend(&spec.params, "&query=", UrlEncode(query));
    spec.context.kind = RequestKind::kList;
    spec.context.not_found_reason = entity.not_found_reason;
    spec.context.what = absl::StrCat("GET /", entity.plural);
    spec.context.entity = entity.singular;
    std::string key = absl::StrCat(spec.path, "?", spec.params);
    lists.Read(std::move(key), std::move(spec), std::move(options), std::move(done),
               [&entity](absl::StatusOr<http::HttpResponse> response, const ErrorContext& context) {
                 return PageOf(entity, response, context);
               });
  }

  // Reads written entities back with one list request (GET /{plural}?filter[id][]=...), ahead
  // of new calls in the rate-limit queue, and answers their callers.
  template <typename Entity>
  ReadBack<Entity> ReadBackOf(const EntityDescription<Entity>& entity) {
    return [this, &entity](std::vector<std::pair<int64_t, WaiterPtr<Entity>>> written,
                           absl::Time deadline) {
      RequestSpec spec;
      spec.path = absl::StrCat("/", entity.plural);
      spec.params = absl::StrCat("limit=", kMaxIdsPerList);
      if (!entity.with.empty()) absl::StrAppend(&spec.params, "&", WithParam(entity));
      for (const auto& each : written) absl::StrAppend(&spec.params, "&filter[id][]=", each.first);
      spec.priority = true;
      spec.context.kind = RequestKind::kList;
      spec.context.what = absl::StrCat("GET /", entity.plural);
      spec.context.entity = entity.singular;
      const ErrorContext context = spec.context;
      auto trace = GroupTrace<Entity>(written.front().second);
      requester_.Send(std::move(spec), CallOptions{deadline, nullptr, trace},
                      [&entity, written = std::move(written), context,
                       trace](absl::StatusOr<http::HttpResponse> response) mutable {
                        for (const auto& each : written) ShareTrace<Entity>(*trace, each.second);
                        absl::StatusOr<EntityPage<Entity>> page = PageOf(entity, response, context);
                        std::map<int64_t, Entity> found;
                        if (page.ok()) {
                          for (Entity& each : page->items) found[each.id()] = std::move(each);
                        }
                        for (auto& [id, waiter] : written) {
                          auto it = found.find(id);
                          if (it != found.end()) {
                            Complete<Entity>(waiter, std::move(it->second));
                            continue;
                          }
                          Complete<Entity>(
                              waiter,
                              ReadBackFailed(page.ok() ? MakeError(absl::StatusCode::kUnavailable,
                                                                   "Kommo did not return it yet",
                                                                   reason::kKommoUnavailable)
                                                       : page.status(),
                                             entity.singular, id));
                        }
                      });
    };
  }

  KommoClientOptions options_;
  EventLoop* loop_;
  // Declared first: destroyed last, after everything that sends through it.
  Requester requester_;

  SharedReads<Lead> lead_reads_;
  SharedReads<EntityPage<Lead>> lead_lists_;
  SharedReads<Contact> contact_reads_;
  SharedReads<EntityPage<Contact>> contact_lists_;

  WriteBatcher<v1::CreateLeadRequest, Lead> lead_creates_;
  WriteBatcher<v1::UpdateLeadRequest, Lead> lead_updates_;
  WriteBatcher<v1::CreateContactRequest, Contact> contact_creates_;
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
