#ifndef KOMMO_SERVER_KOMMO_READ_BACKS_H_
#define KOMMO_SERVER_KOMMO_READ_BACKS_H_

// Read-backs shared across write batches (issue 17). A write batch answers only ids; its callers
// get their entities from a read-back, GET /{plural}?filter[id][]=... Kommo reads up to 250 ids in
// one list request, while a write batch carries at most 50 items, so one read-back per batch
// spends a request per 50 items. Here the answered batches of one entity (its creates and its
// updates alike) share read-backs:
//
// - Joining: a read-back waiting for its (priority) rate-limit slot takes the items of batches
//   answered meanwhile; its ids are filled in when the slot comes (RequestSpec::prepare), up to
//   `max_ids`. A full one is sent at once and the next items start another.
// - Holding: while writes of the entity that will need a read-back are still pending or in flight
//   (the sources say so), a read-back that is not full holds back from asking for its slot, so
//   that their ids join it; it is re-checked every `recheck` and whenever items join. It stops
//   holding when it is full, when no source is busy, `max_hold` after its first member came
//   (a steady trickle of writes does not keep a caller waiting for 250 ids), or `hold_margin`
//   before its earliest member's deadline (so the read still finishes in the caller's time). A
//   lone write finds no source busy: its read-back asks for its slot at once, as before.
//
// Each member is answered by its own id, never by position; a member the read does not find, or
// whose read fails, gets ReadBackFailed with its id (the write is not undone). A member whose
// caller left meanwhile was told so by its batcher (with the id written) and is dropped. Loop
// thread only.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/common/error_details.h"
#include "server/common/event_loop.h"
#include "server/kommo/entities.h"
#include "server/kommo/error_table.h"
#include "server/kommo/requester.h"
#include "server/kommo/waiter.h"
#include "server/kommo/write_batcher.h"

namespace kommo::rest {

struct ReadBacksOptions {
  // Most ids one read-back asks for (Kommo's list page limit).
  int max_ids = 250;
  // A held read-back is sent at the latest this long before its earliest member's deadline.
  absl::Duration hold_margin = absl::Seconds(2);
  // How often a held read-back looks again whether its sources are still busy.
  absl::Duration recheck = absl::Milliseconds(100);
  // Longest a read-back holds for writes under way, from its first member's arrival.
  absl::Duration max_hold = absl::Seconds(1);
};

// Answers each written member with what `found` holds under its key, or with ReadBackFailed
// (the write happened, its id is given) when the read failed or did not find it.
template <typename Entity, typename Key>
void AnswerWritten(std::vector<std::pair<Written, WaiterPtr<Entity>>>& written,
                   const absl::Status& read, std::map<Key, Entity>& found,
                   absl::FunctionRef<Key(const Written&)> key_of, absl::string_view singular) {
  for (auto& [item, waiter] : written) {
    auto it = found.find(key_of(item));
    if (read.ok() && it != found.end()) {
      Complete<Entity>(waiter, it->second);
      continue;
    }
    Complete<Entity>(waiter, ReadBackFailed(read.ok() ? MakeError(absl::StatusCode::kUnavailable,
                                                                  "Kommo did not return it yet",
                                                                  reason::kKommoUnavailable)
                                                      : read,
                                            singular, item.id));
  }
}

template <typename Entity>
class ReadBacks {
 public:
  using Members = std::vector<std::pair<Written, WaiterPtr<Entity>>>;

  ReadBacks(const EntityDescription<Entity>& entity, Requester* requester, EventLoop* loop,
            ReadBacksOptions options = {})
      : entity_(entity), requester_(requester), loop_(loop), options_(options) {}

  ReadBacks(const ReadBacks&) = delete;
  ReadBacks& operator=(const ReadBacks&) = delete;

  // A source of items to read back (a batcher of this entity): true while it has writes that
  // will need a read-back pending or in flight.
  void AddSource(std::function<bool()> busy) { sources_.push_back(std::move(busy)); }

  // The ReadBack a batcher is given.
  ReadBack<Entity> Callback() {
    return [this](Members written, absl::Time deadline) { Add(std::move(written), deadline); };
  }

  // Reads `written` back, sharing the request with other batches' items where it can.
  void Add(Members written, absl::Time deadline) {
    for (auto& member : written) {
      if (open_ == nullptr || open_->prepared || Full(*open_)) {
        if (open_ != nullptr && !open_->sent) Send(open_);
        open_ = std::make_shared<Read>();
        open_->started = loop_->Now();
        open_->trace = GroupTrace<Entity>(member.second);
      }
      open_->ids.insert(member.first.id);
      open_->members.push_back(std::move(member));
      open_->deadline = std::max(open_->deadline, deadline);
    }
    if (open_ == nullptr) return;
    if (open_->sent) return requester_->ExtendDeadline(open_->handle, open_->deadline);
    Evaluate(open_);
  }

 private:
  struct Read {
    Members members;
    std::set<int64_t> ids;
    absl::Time deadline = absl::InfinitePast();  // its members' latest
    absl::Time started;                          // its first member's arrival
    std::shared_ptr<CallTrace> trace;            // its first member's: pays for its slot
    bool sent = false;                           // asked for its rate-limit slot
    bool prepared = false;                       // its slot came: no one joins any more
    Requester::Handle handle = 0;
    EventLoop::TimerPtr recheck;
  };
  using ReadPtr = std::shared_ptr<Read>;

  bool Full(const Read& read) const {
    return static_cast<int>(read.ids.size()) >= options_.max_ids;
  }

  bool SourcesBusy() const {
    for (const auto& busy : sources_) {
      if (busy()) return true;
    }
    return false;
  }

  // Sends `read` now, or holds it a little longer for the writes still under way. (By value, as
  // is Send's: `read` may be open_, which its slot coming inside Requester::Send resets.)
  void Evaluate(ReadPtr read) {
    if (read->sent) return;
    absl::Time earliest = absl::InfiniteFuture();
    bool anyone = false;
    for (const auto& [item, waiter] : read->members) {
      if (waiter->finished) continue;
      anyone = true;
      earliest = std::min(earliest, waiter->deadline);
    }
    if (!anyone) {  // every caller left (told by its batcher, with the id written)
      if (open_ == read) open_.reset();
      read->recheck.reset();
      return;
    }
    const absl::Time now = loop_->Now();
    absl::Time hold_until = read->started + options_.max_hold;
    if (earliest != absl::InfiniteFuture()) {
      hold_until =
          std::min(hold_until, earliest - options_.hold_margin - 2 * requester_->SlotInterval());
    }
    if (Full(*read) || now >= hold_until || !SourcesBusy()) return Send(read);
    const absl::Time next = std::min(now + options_.recheck, hold_until);
    std::weak_ptr<Read> weak = read;
    read->recheck = loop_->RunAt(next, [this, weak] {
      if (ReadPtr held = weak.lock()) Evaluate(held);
    });
  }

  // Asks for the read's priority slot; members may still join until it comes.
  void Send(ReadPtr read) {
    read->sent = true;
    read->recheck.reset();
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity_.plural);
    spec.priority = true;
    spec.context.kind = RequestKind::kList;
    spec.context.what = absl::StrCat("GET /", entity_.plural);
    spec.context.entity = entity_.singular;
    spec.prepare = [this, read](PreparedRequest& prepared) -> std::optional<absl::Time> {
      read->prepared = true;
      if (open_ == read) open_.reset();
      // Callers that left were answered by their batchers: their ids need no read.
      read->members.erase(
          std::remove_if(read->members.begin(), read->members.end(),
                         [](const auto& member) { return member.second->finished; }),
          read->members.end());
      if (read->members.empty()) return std::nullopt;
      std::set<int64_t> ids;
      absl::Time deadline = absl::InfinitePast();
      for (const auto& [item, waiter] : read->members) {
        ids.insert(item.id);
        deadline = std::max(deadline, waiter->deadline);
      }
      prepared.params = absl::StrCat("limit=", options_.max_ids);
      if (!entity_.with.empty()) absl::StrAppend(&prepared.params, "&with=", entity_.with);
      for (int64_t id : ids) absl::StrAppend(&prepared.params, "&filter[id][]=", id);
      return deadline;
    };
    const ErrorContext context = spec.context;
    read->handle = requester_->Send(
        std::move(spec), CallOptions{read->deadline, nullptr, read->trace},
        [this, read, context](absl::StatusOr<http::HttpResponse> response) {
          if (open_ == read) open_.reset();
          for (const auto& member : read->members) ShareTrace<Entity>(*read->trace, member.second);
          absl::StatusOr<EntityPage<Entity>> page = PageOf(entity_, response, context);
          std::map<int64_t, Entity> found;
          if (page.ok()) {
            for (Entity& each : page->items) {
              const int64_t id = IdOf(each);
              found[id] = std::move(each);
            }
          }
          AnswerWritten<Entity, int64_t>(
              read->members, page.status(), found, [](const Written& item) { return item.id; },
              entity_.singular);
        });
  }

  const EntityDescription<Entity>& entity_;
  Requester* requester_;
  EventLoop* loop_;
  ReadBacksOptions options_;
  std::vector<std::function<bool()>> sources_;
  // The read-back that new members join: held, or waiting for its slot.
  ReadPtr open_;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_READ_BACKS_H_
