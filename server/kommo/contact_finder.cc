#include "server/kommo/contact_finder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/error_details.h"
#include "server/mapping/contact_match.h"

namespace kommo::rest {

using kommo::v1::Contact;
using kommo::v1::FindOrCreateContactResponse;

namespace {

// Whether a call asks only for what a write of its contact determines: the contact's id (Kommo's
// answer to the write) and the outcome (chosen before writing).
bool IdOnly(const kommo::v1::FindOrCreateContactRequest& request) {
  return OnlyWriteDetermined(request.read_mask(), {"contact.id", "outcome"});
}

struct LookupState {
  std::vector<mapping::Phone> phones;
  std::vector<std::string> emails;  // normalized
  std::map<int64_t, Contact> found;
  absl::Status error;
  int pending = 0;
  CallOptions options;
  Done<std::vector<Contact>> done;
};

void OneQueryDone(const std::shared_ptr<LookupState>& state) {
  if (--state->pending > 0) return;
  if (!state->error.ok()) return state->done(state->error);
  std::vector<Contact> contacts;
  contacts.reserve(state->found.size());
  for (auto& [id, contact] : state->found) contacts.push_back(std::move(contact));
  state->done(std::move(contacts));
}

void SearchFrom(const ContactFinderOps& ops, const std::shared_ptr<LookupState>& state,
                const std::string& query, int64_t page) {
  ops.search(query, page, state->options,
             [&ops, state, query, page](absl::StatusOr<EntityPage<Contact>> result) {
               if (!result.ok()) {
                 if (state->error.ok()) state->error = result.status();
                 return OneQueryDone(state);
               }
               for (Contact& contact : result->items) {
                 if (mapping::ContactMatches(contact, state->phones, state->emails)) {
                   const int64_t id = contact.id();
                   state->found[id] = std::move(contact);
                 }
               }
               if (!result->has_next) return OneQueryDone(state);
               if (page >= kLookupMaxPages) {
                 if (state->error.ok()) {
                   state->error = MakeError(
                       absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("Kommo's search for one of the phones or emails matches more "
                                    "than ",
                                    kLookupMaxPages * kLookupPageSize,
                                    " contacts, more than an exact lookup reads; look up by a "
                                    "more specific phone or email"),
                       reason::kLookupTooBroad);
                 }
                 return OneQueryDone(state);
               }
               SearchFrom(ops, state, query, page + 1);
             });
}

}  // namespace

struct ContactFinder::Call {
  kommo::v1::FindOrCreateContactRequest request;
  CallOptions options;
  Done<FindOrCreateContactResponse> done;
  std::vector<mapping::Phone> phones;
  std::vector<std::string> emails;  // normalized
  std::set<std::string> keys;
  EventLoop::TimerPtr timer;
  bool running = false;
  bool finished = false;
  // Its contact was written without a read-back: the answer holds only the contact's id.
  bool unread = false;
};

void ContactFinder::Lookup(const std::vector<std::string>& phones,
                           const std::vector<std::string>& emails, CallOptions options,
                           Done<std::vector<Contact>> done) {
  auto state = std::make_shared<LookupState>();
  state->options = std::move(options);
  state->done = std::move(done);
  std::set<std::string> queries;
  for (const std::string& given : phones) {
    std::optional<mapping::Phone> phone = mapping::ParsePhone(given);
    if (!phone.has_value()) continue;
    queries.insert(mapping::PhoneQuery(*phone));
    state->phones.push_back(*std::move(phone));
  }
  for (const std::string& given : emails) {
    std::string email = mapping::NormalizeEmail(given);
    if (email.empty()) continue;
    queries.insert(email);
    state->emails.push_back(std::move(email));
  }
  if (queries.empty()) {
    return loop_->Post([state]() mutable { state->done(std::vector<Contact>()); });
  }
  state->pending = static_cast<int>(queries.size());
  for (const std::string& query : queries) SearchFrom(ops_, state, query, 1);
}

void ContactFinder::FindOrCreate(const kommo::v1::FindOrCreateContactRequest& request,
                                 CallOptions options, Done<FindOrCreateContactResponse> done) {
  auto call = std::make_shared<Call>();
  call->request = request;
  call->options = std::move(options);
  call->done = std::move(done);
  for (const std::string& given : request.contact().phones()) {
    std::optional<mapping::Phone> phone = mapping::ParsePhone(given);
    if (!phone.has_value()) continue;
    call->keys.insert(mapping::PhoneLockKey(*phone));
    call->phones.push_back(*std::move(phone));
  }
  for (const std::string& given : request.contact().emails()) {
    std::string email = mapping::NormalizeEmail(given);
    if (email.empty()) continue;
    call->keys.insert(mapping::EmailLockKey(email));
    call->emails.push_back(std::move(email));
  }
  if (Free(*call)) return Start(call);
  waiting_.push_back(call);
  std::weak_ptr<Call> weak = call;
  // A waiting call leaves at its deadline, or when its caller cancels; nothing was written.
  if (call->options.cancel != nullptr && !call->options.cancel->SetHook(loop_, [this, weak] {
        Leave(weak, absl::StatusCode::kCancelled);
      })) {
    return loop_->Post([this, weak] { Leave(weak, absl::StatusCode::kCancelled); });
  }
  if (call->options.deadline != absl::InfiniteFuture()) {
    call->timer = loop_->RunAt(call->options.deadline,
                               [this, weak] { Leave(weak, absl::StatusCode::kDeadlineExceeded); });
  }
}

void ContactFinder::Leave(const std::weak_ptr<Call>& weak, absl::StatusCode code) {
  CallPtr waiting = weak.lock();
  if (waiting == nullptr || waiting->running || waiting->finished) return;
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), waiting), waiting_.end());
  waiting->finished = true;
  waiting->timer.reset();
  Done<FindOrCreateContactResponse> answer = std::move(waiting->done);
  const bool deadline = code == absl::StatusCode::kDeadlineExceeded;
  answer(MakeError(code,
                   absl::StrCat(deadline ? "deadline exceeded" : "call cancelled",
                                " waiting for another FindOrCreateContact call on the same phone "
                                "or email; nothing was written"),
                   deadline ? reason::kDeadlineExceeded : reason::kCancelled));
}

bool ContactFinder::Free(const Call& call) const {
  for (const std::string& key : call.keys) {
    if (held_.count(key) > 0) return false;
  }
  return true;
}

void ContactFinder::Start(const CallPtr& call) {
  call->running = true;
  call->timer.reset();
  // The work below sets its own cancellation hooks.
  if (call->options.cancel != nullptr) call->options.cancel->ClearHook();
  held_.insert(call->keys.begin(), call->keys.end());
  std::vector<std::string> phones(call->request.contact().phones().begin(),
                                  call->request.contact().phones().end());
  std::vector<std::string> emails(call->request.contact().emails().begin(),
                                  call->request.contact().emails().end());
  Lookup(phones, emails, call->options, [this, call](absl::StatusOr<std::vector<Contact>> matches) {
    if (!matches.ok()) return Finish(call, matches.status());
    Decide(call, *std::move(matches));
  });
}

void ContactFinder::Decide(const CallPtr& call, std::vector<Contact> matches) {
  if (matches.size() > 1) {
    std::vector<int64_t> ids;
    for (const Contact& each : matches) ids.push_back(each.id());
    return Finish(
        call, MakeError(absl::StatusCode::kFailedPrecondition,
                        absl::StrCat(matches.size(),
                                     " contacts match the phones and emails exactly; "
                                     "nothing was written (ids in candidate_ids)"),
                        reason::kContactAmbiguous, {{"candidate_ids", absl::StrJoin(ids, ",")}}));
  }
  auto matched = [this, call](absl::StatusOr<Contact> contact) {
    if (!contact.ok()) return Finish(call, contact.status());
    FindOrCreateContactResponse response;
    *response.mutable_contact() = *std::move(contact);
    response.set_outcome(FindOrCreateContactResponse::OUTCOME_MATCHED);
    Finish(call, std::move(response));
  };
  if (matches.size() == 1) {
    Contact& contact = matches.front();
    if (!call->request.add_missing()) return matched(std::move(contact));
    const mapping::MissingValues missing = mapping::MissingFrom(
        contact, {call->request.contact().phones().begin(), call->request.contact().phones().end()},
        {call->request.contact().emails().begin(), call->request.contact().emails().end()});
    if (missing.phones.empty() && missing.emails.empty()) return matched(std::move(contact));
    // Kommo replaces a field's values on PATCH: send what it holds plus what it lacks.
    kommo::v1::UpdateContactRequest update;
    update.set_contact_id(contact.id());
    if (!missing.phones.empty()) {
      *update.mutable_phones()->mutable_values() = contact.phones();
      for (const std::string& phone : missing.phones) update.mutable_phones()->add_values(phone);
    }
    if (!missing.emails.empty()) {
      *update.mutable_emails()->mutable_values() = contact.emails();
      for (const std::string& email : missing.emails) update.mutable_emails()->add_values(email);
    }
    if (IdOnly(call->request)) {
      update.mutable_read_mask()->add_paths("id");
      call->unread = true;
    }
    return ops_.update_values(update, call->options, std::move(matched));
  }
  const kommo::v1::NewContact& person = call->request.contact();
  kommo::v1::CreateContactRequest create;
  create.set_name(person.name());
  create.set_first_name(person.first_name());
  create.set_last_name(person.last_name());
  create.set_responsible_user_id(person.responsible_user_id());
  *create.mutable_phones() = person.phones();
  *create.mutable_emails() = person.emails();
  if (IdOnly(call->request)) {
    create.mutable_read_mask()->add_paths("id");
    call->unread = true;
  }
  ops_.create(create, call->options, [this, call](absl::StatusOr<Contact> contact) {
    if (!contact.ok()) return Finish(call, contact.status());
    FindOrCreateContactResponse response;
    *response.mutable_contact() = *std::move(contact);
    response.set_outcome(FindOrCreateContactResponse::OUTCOME_CREATED);
    Finish(call, std::move(response));
  });
}

void ContactFinder::Finish(const CallPtr& call,
                           absl::StatusOr<FindOrCreateContactResponse> result) {
  if (call->finished) return;
  call->finished = true;
  for (const std::string& key : call->keys) held_.erase(key);
  // Calls waiting behind this one whose phones and emails it covered get its contact: a lookup
  // now would find exactly it (or not yet, if Kommo's search lags behind its writes).
  std::vector<CallPtr> served;
  if (result.ok()) {
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      const Call& other = **it;
      bool covered = true;
      for (const mapping::Phone& phone : other.phones) {
        covered &= std::any_of(
            call->phones.begin(), call->phones.end(),
            [&](const mapping::Phone& mine) { return mapping::SamePhone(phone, mine); });
      }
      for (const std::string& email : other.emails) {
        covered &= std::find(call->emails.begin(), call->emails.end(), email) != call->emails.end();
      }
      // A contact written without a read-back is known only by its id, but after its write it
      // holds every phone and email of this call, so a covered call finds nothing missing.
      if (covered && other.request.add_missing() && !call->unread) {
        const mapping::MissingValues missing = mapping::MissingFrom(
            result->contact(),
            {other.request.contact().phones().begin(), other.request.contact().phones().end()},
            {other.request.contact().emails().begin(), other.request.contact().emails().end()});
        covered = missing.phones.empty() && missing.emails.empty();
      }
      if (!covered) {
        ++it;
        continue;
      }
      served.push_back(*it);
      it = waiting_.erase(it);
    }
  }
  for (const CallPtr& other : served) {
    other->finished = true;
    other->timer.reset();
    Done<FindOrCreateContactResponse> done = std::move(other->done);
    if (call->unread && !IdOnly(other->request)) {
      // It asks for more of the contact than its id: read it (by id, not by a search that may
      // not show it yet).
      if (other->options.cancel != nullptr) other->options.cancel->ClearHook();
      ops_.get(result->contact().id(), other->options,
               [done = std::move(done)](absl::StatusOr<Contact> contact) mutable {
                 if (!contact.ok()) return done(contact.status());
                 FindOrCreateContactResponse response;
                 *response.mutable_contact() = *std::move(contact);
                 response.set_outcome(FindOrCreateContactResponse::OUTCOME_MATCHED);
                 done(std::move(response));
               });
      continue;
    }
    FindOrCreateContactResponse response;
    *response.mutable_contact() = result->contact();
    response.set_outcome(FindOrCreateContactResponse::OUTCOME_MATCHED);
    done(std::move(response));
  }
  Done<FindOrCreateContactResponse> done = std::move(call->done);
  done(std::move(result));
  StartWaiting();
}

void ContactFinder::StartWaiting() {
  // Starting a call may finish it at once (and change the queue), so look again after each.
  for (bool started = true; started;) {
    started = false;
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
      if (!Free(**it)) continue;
      CallPtr call = *it;
      waiting_.erase(it);
      Start(call);
      started = true;
      break;
    }
  }
}

}  // namespace kommo::rest
