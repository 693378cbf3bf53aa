#ifndef KOMMO_SERVER_KOMMO_CONTACT_FINDER_H_
#define KOMMO_SERVER_KOMMO_CONTACT_FINDER_H_

// Exact contact lookup and find-or-create (ContactService.LookupContacts, FindOrCreateContact).
//
// Kommo's `query` search is loose, so a lookup asks it once per phone or email (a phone by its
// last digits) and keeps only the contacts whose stored phones or emails match exactly
// (server/mapping/contact_match.h), reading at most kLookupMaxPages pages of kLookupPageSize per
// query. Find-or-create runs calls that share a phone or email one after another (a lock per
// phone and email), so two concurrent calls for one person never create two contacts; a call
// waiting behind another whose phones and emails cover its own takes that call's contact without
// asking Kommo again (Kommo's search may not show a contact created a moment ago). A call whose
// read_mask asks only for "contact.id" and "outcome" writes without a read-back; a call served
// from its contact that asks for more reads that contact by id. Loop thread only.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kommo/v1/contact_service.pb.h"
#include "server/common/event_loop.h"
#include "server/kommo/entities.h"
#include "server/kommo/kommo_client.h"
#include "server/mapping/capture_json.h"

namespace kommo::rest {

inline constexpr int kLookupPageSize = 250;
inline constexpr int kLookupMaxPages = 3;

// What the finder asks of the Kommo client.
struct ContactFinderOps {
  // GET /contacts?query=&page=&limit=kLookupPageSize.
  std::function<void(const std::string& query, int64_t page, CallOptions,
                     Done<EntityPage<kommo::v1::Contact>>)>
      search;
  // POST /contacts (the create batcher), read back unless the request's read_mask is only "id".
  std::function<void(const kommo::v1::CreateContactRequest&, CallOptions, Done<kommo::v1::Contact>)>
      create;
  // PATCH /contacts (UpdateContact's write) with a contact's complete phone and email lists, read
  // back unless the request's read_mask is only "id".
  std::function<void(const kommo::v1::UpdateContactRequest&, CallOptions, Done<kommo::v1::Contact>)>
      update_values;
  // GET /contacts/{id}: a contact written without a read-back, for a call waiting on the same
  // person that asks for more than its id.
  std::function<void(int64_t id, CallOptions, Done<kommo::v1::Contact>)> get;
};

class ContactFinder {
 public:
  ContactFinder(EventLoop* loop, ContactFinderOps ops) : loop_(loop), ops_(std::move(ops)) {}
  ContactFinder(const ContactFinder&) = delete;
  ContactFinder& operator=(const ContactFinder&) = delete;

  // The contacts matching any of the phones or emails exactly, by ascending id. Phones that do
  // not parse are ignored (the service refuses them before).
  void Lookup(const std::vector<std::string>& phones, const std::vector<std::string>& emails,
              CallOptions options, Done<std::vector<kommo::v1::Contact>> done);

  void FindOrCreate(const kommo::v1::FindOrCreateContactRequest& request, CallOptions options,
                    Done<kommo::v1::FindOrCreateContactResponse> done);

  // Calls waiting for another call on the same person, and calls running (for tests).
  size_t waiting() const { return waiting_.size(); }

 private:
  struct Call;
  using CallPtr = std::shared_ptr<Call>;

  void Start(const CallPtr& call);
  void Decide(const CallPtr& call, std::vector<kommo::v1::Contact> matches);
  void Finish(const CallPtr& call, absl::StatusOr<kommo::v1::FindOrCreateContactResponse> result);
  bool Free(const Call& call) const;
  void Leave(const std::weak_ptr<Call>& weak, absl::StatusCode code);
  void StartWaiting();

  EventLoop* loop_;
  ContactFinderOps ops_;
  // The lock keys held by running calls.
  std::set<std::string> held_;
  // Calls waiting for a key, in arrival order.
  std::deque<CallPtr> waiting_;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_CONTACT_FINDER_H_
