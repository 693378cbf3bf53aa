#ifndef KOMMO_SERVER_KOMMO_WRITE_BATCHER_H_
#define KOMMO_SERVER_KOMMO_WRITE_BATCHER_H_

// The one write path (design.md §10). Every write of one kind (say POST /leads) goes through one
// WriteBatcher, which rides concurrent calls together in Kommo batches. Loop thread only.
//
// The rules it keeps:
// - Order per entity: a write to an entity is not sent while an earlier write to it is unsettled
//   (sent and not yet answered, being retried, or being resolved after a rejection), nor before
//   an earlier write to it that is still pending.
// - Fair shares (issue 16): a batch takes the pending items in weighted fair order across callers
//   (fair_shares.h; the caller and weight of CallTrace), so one caller's backlog of 500 creates
//   does not hold another caller's create back: it rides the next batch. Items sent again after
//   a rejection go first. The batch's rate-limit slot is charged to the rider whose caller's turn
//   in the rate limit comes first, also one that joins while the batch waits for its slot.
// - A batch serves its members: the request's deadline is its members' latest, fixed when the
//   rate-limit slot comes and the members are taken, so a caller that joined while the batch
//   waited is served as long as it is willing to wait. A member whose deadline passes leaves and
//   is told WRITE_OUTCOME_UNKNOWN if its item was sent (with the id when it was written).
// - Answers are matched by the request_id each item was sent with, and an update's answer must
//   name the entity it patched; never by position.
// - No blind resend: after Kommo rejects a batch for some items, the others are sent again only
//   when Kommo certainly did not create them (an update may be repeated; for a create a read of
//   what was created since the batch was sent must rule it out, else its outcome is unknown).
// - Admission: a call is refused at once (RESOURCE_EXHAUSTED, Kommo not called) when the writes
//   pending reach `max_queue`, or when the batch it would ride cannot get a rate-limit slot
//   before its deadline.
// - Nothing written goes unlogged: a write that settles after its caller left is logged with
//   its outcome and the id Kommo gave it.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"
#include "server/common/event_loop.h"
#include "server/common/log.h"
#include "server/kommo/entities.h"
#include "server/kommo/error_table.h"
#include "server/kommo/fair_shares.h"
#include "server/kommo/requester.h"
#include "server/kommo/waiter.h"
#include "server/mapping/kommo_json.h"

namespace kommo::rest {

// A write reached Kommo, but the read-back that should complete the call failed or could not
// finish. The write is not undone: the error says so, with the id.
inline absl::Status ReadBackFailed(absl::Status error, absl::string_view entity, int64_t id) {
  if (error.code() == absl::StatusCode::kDeadlineExceeded ||
      error.code() == absl::StatusCode::kCancelled) {
    AddErrorMetadata(error, absl::StrCat(entity, "_id"), absl::StrCat(id));
    AddErrorMetadata(error, "written", "true");
    return error;
  }
  return MakeError(absl::StatusCode::kUnavailable,
                   absl::StrCat("the ", entity, " was written (id ", id,
                                ") but reading it back from Kommo failed: ", error.message()),
                   reason::kReadBackFailed,
                   {{absl::StrCat(entity, "_id"), absl::StrCat(id)}, {"written", "true"}});
}

struct WriteBatcherOptions {
  // How long the first item waits for others before its batch asks for a rate-limit slot.
  absl::Duration window = absl::Milliseconds(2);
  // Items per Kommo request (Kommo advises at most 50).
  int max_items = 50;
  // Writes allowed to wait at once.
  size_t max_queue = 10000;
  // How far back (before a rejected batch was sent) the read that rules out its creates looks,
  // allowing for the skew between our clock and Kommo's.
  absl::Duration rule_out_skew = absl::Seconds(120);
  // Times one item may be sent again after Kommo rejected batches it rode in for other items.
  int max_resends = 3;
};

// Reads back written entities and answers their waiters (one list request for a batch).
template <typename Entity>
using ReadBack =
    std::function<void(std::vector<std::pair<Written, WaiterPtr<Entity>>>, absl::Time deadline)>;

template <typename Request, typename Entity>
class WriteBatcher {
 public:
  WriteBatcher(const EntityDescription<Entity>& entity, WriteDescription<Request, Entity> write,
               WriteBatcherOptions options, Requester* requester, EventLoop* loop,
               ReadBack<Entity> read_back)
      : entity_(entity),
        write_(std::move(write)),
        options_(options),
        max_items_(write_.path_of         ? 1
                   : write_.max_items > 0 ? std::min(write_.max_items, options.max_items)
                                          : options.max_items),
        requester_(requester),
        loop_(loop),
        read_back_(std::move(read_back)) {}

  WriteBatcher(const WriteBatcher&) = delete;
  WriteBatcher& operator=(const WriteBatcher&) = delete;

  // Answers `done` once: with the entity as Kommo holds it after the write, or an error.
  void Enqueue(const Request& request, CallOptions options, Done<Entity> done) {
    auto item = std::make_shared<Item>();
    item->seq = next_request_id_++;
    item->request_id = absl::StrCat(item->seq);
    item->request = request;
    item->target = write_.target ? write_.target(request) : 0;
    item->reads_back = !write_.unread || !write_.unread(request, Written{}).has_value();
    if (options.trace != nullptr) {
      item->flow = options.trace->caller;
      item->weight = options.trace->weight;
    }
    item->waiter = NewWaiter<Entity>(options, std::move(done));
    item->tag = shares_.Peek(item->flow, item->weight);
    if (absl::Status refused = Admit(*item); !refused.ok()) {
      return Complete<Entity>(item->waiter, std::move(refused));
    }
    // The item lives as long as its caller may be answered (its timer and cancel hook hold it).
    Item* raw = item.get();
    if (!Arm<Entity>(
            loop_, item->waiter,
            [this, item](absl::StatusCode code) {
              if (item->written_id != 0) {  // written: say so, with the id, never "unknown"
                return ReadBackFailed(LeaveError(code, write_.what, false), entity_.singular,
                                      item->written_id);
              }
              // Sent and unanswered: a create may exist, an update may have been applied.
              return LeaveError(code, write_.what, item->state == State::kSent);
            },
            [this, raw] {
              // A call that leaves before its item was sent leaves the queue, and frees its entity
              // (a resent update still holds it).
              if (raw->state != State::kPending) return;
              Release(*raw);
              auto it = std::find_if(pending_.begin(), pending_.end(),
                                     [raw](const ItemPtr& each) { return each.get() == raw; });
              if (it != pending_.end()) pending_.erase(it);
              Unshare(*raw);
            })) {
      return;
    }
    item->tag = shares_.Add(item->flow, item->weight);
    item->shared = true;
    // A batch already waiting for its slot serves this caller too, as long as it will wait.
    if (waiting_batch_ != 0) requester_->ExtendDeadline(waiting_batch_, item->waiter->deadline);
    const ItemPtr joined = item;
    pending_.push_back(std::move(item));
    if (waiting_batch_ != 0) PayFromIfRiding(joined);
    MaybeForm();
  }

  // Whether writes that will need a read-back (their callers asked for more than the write
  // determines) are pending or in flight: a shared read-back (read_backs.h) holds for them.
  bool AwaitsReadBack() const {
    if (sent_reading_ > 0) return true;
    for (const ItemPtr& item : pending_) {
      if (item->reads_back && !item->waiter->finished) return true;
    }
    return false;
  }

 private:
  enum class State {
    kPending,  // waiting for a batch
    kSent,     // in a batch Kommo has not answered, or being resolved after a rejection
    kSettled,  // Kommo's answer about it is known
  };
  struct Item {
    uint64_t seq = 0;  // unique in this batcher; its request_id in Kommo's batch
    std::string request_id;
    Request request;
    int64_t target = 0;
    WaiterPtr<Entity> waiter;
    State state = State::kPending;
    int64_t written_id = 0;
    int resends = 0;
    bool reads_back = true;  // its answer needs a read-back (see WriteDescription::unread)
    // Its caller's fair share (fair_shares.h): the caller's name and weight, and the item's tag.
    std::string flow;
    double weight = 1;
    FairShares::Tag tag;
    bool shared = false;  // counted in shares_ (until first taken, or gone)
  };
  using ItemPtr = std::shared_ptr<Item>;
  struct Batch {
    std::vector<ItemPtr> items;
    bool prepared = false;
    bool reads_back = false;  // holds an item that needs a read-back; counted in sent_reading_
    absl::Time wall_sent;     // wall time: Kommo's created_at is compared with it
  };

  ErrorContext Context() const {
    ErrorContext context;
    context.kind = write_.kind;
    context.not_found_reason =
        write_.not_found_reason.empty() ? entity_.not_found_reason : write_.not_found_reason;
    context.what = write_.what;
    context.entity = entity_.singular;
    return context;
  }

  absl::Status Admit(const Item& item) const {
    if (pending_.size() >= options_.max_queue) {
      absl::Status refused = MakeError(
          absl::StatusCode::kResourceExhausted,
          absl::StrCat("too many writes are waiting for Kommo (", options_.max_queue, ", ",
                       "KOMMO_RATE_LIMIT_QUEUE); Kommo was not called (", write_.what, ")"),
          reason::kRateLimitQueueTimeout, {{"queue_depth", absl::StrCat(pending_.size())}});
      SetRetryDelay(refused, requester_->SlotInterval());
      return refused;
    }
    // The batch this item would ride: the forming one, or one per `max_items` pending before it
    // (in fair order, and behind an earlier pending write to its entity), each two rate-limit
    // slots after the previous (a batch and its read-back, which goes first). A caller's own
    // requests go in its fair place in the rate limit's queue, not behind the whole queue.
    const absl::Time now = loop_->Now();
    const absl::Time own = requester_->NextSlot(item.waiter->trace.get());
    const int64_t batches_ahead = BatchesAhead(item);
    // A rider of the forming batch whose own fair place comes sooner pays for it (Payer,
    // PayFromIfRiding): the batch goes then.
    const absl::Time first =
        !forming_
            ? std::max(own, now + options_.window)
            : (batches_ahead == 0 ? std::min(forming_slot_, std::max(own, now)) : forming_slot_);
    const absl::Time slot = std::max(first, own) + requester_->SlotInterval() * (2 * batches_ahead);
    if (slot <= item.waiter->deadline) return absl::OkStatus();
    absl::Status refused = MakeError(
        absl::StatusCode::kResourceExhausted,
        absl::StrCat("Kommo's rate limit cannot admit this call before its deadline; Kommo was "
                     "not called (",
                     write_.what, ")"),
        reason::kRateLimitQueueTimeout, {{"queue_depth", absl::StrCat(pending_.size())}});
    SetRetryDelay(refused, slot - now);
    return refused;
  }

  // The batches that go before the one `item` (not pending yet, tagged) would ride.
  int64_t BatchesAhead(const Item& item) const {
    // Items sent again go first; then the items tagged no later (earlier arrivals win ties).
    auto ahead_of = [this](const FairShares::Tag& tag) {
      int64_t ahead = 0;
      for (const ItemPtr& each : pending_) ahead += !each->shared || each->tag.finish <= tag.finish;
      return ahead;
    };
    int64_t batches = ahead_of(item.tag) / max_items_;
    if (item.target != 0) {
      // Behind the last pending write to its entity: at least one batch after it.
      for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
        if ((*it)->target != item.target) continue;
        const FairShares::Tag tag = (*it)->shared ? (*it)->tag : FairShares::Tag{};
        batches = std::max(batches, ahead_of(tag) / max_items_ + 1);
        break;
      }
    }
    return batches;
  }

  // The items the next batch takes, in the order it takes them, at most `limit`: the eligible
  // pending items, those sent again first, then in weighted fair order across callers (ties:
  // arrival). An item waits while an earlier write to its entity is pending (order per entity),
  // and a batch carries one write per entity.
  std::vector<ItemPtr> Next(size_t limit) const {
    struct Ready {
      bool resent;
      double finish;
      size_t position;
      ItemPtr item;
    };
    std::vector<Ready> ready;
    std::set<int64_t> targets;
    size_t position = 0;
    for (const ItemPtr& item : pending_) {
      ++position;
      if (item->waiter->finished) continue;
      if (item->target != 0 && !targets.insert(item->target).second) continue;
      if (!Eligible(item)) continue;
      ready.push_back(Ready{!item->shared, item->tag.finish, position, item});
    }
    auto earlier = [](const Ready& a, const Ready& b) {
      if (a.resent != b.resent) return a.resent;
      if (a.finish != b.finish) return a.finish < b.finish;
      return a.position < b.position;
    };
    const size_t taken = std::min(limit, ready.size());
    std::partial_sort(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(taken),
                      ready.end(), earlier);
    std::vector<ItemPtr> next;
    next.reserve(taken);
    for (size_t i = 0; i < taken; ++i) next.push_back(std::move(ready[i].item));
    return next;
  }

  // `item` leaves the queue unsent (its caller left, or it was refused): its share is spent.
  void Unshare(Item& item) {
    if (!item.shared) return;
    item.shared = false;
    shares_.Left(item.flow);
    if (pending_.empty()) shares_.Idle();
  }

  // Removes `items` from pending_.
  void Unqueue(const std::vector<ItemPtr>& items) {
    std::set<const Item*> gone;
    for (const ItemPtr& item : items) gone.insert(item.get());
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [&gone](const ItemPtr& each) { return gone.count(each.get()); }),
                   pending_.end());
  }

  // Whether `item` may go in the next batch: its caller waits, and no earlier write to its
  // entity is unsettled.
  bool Eligible(const ItemPtr& item) const {
    if (item->waiter->finished) return false;
    if (item->target == 0) return true;
    auto busy = busy_.find(item->target);
    return busy == busy_.end() || busy->second == item->seq;
  }

  void MaybeForm() {
    if (forming_) return;
    for (const ItemPtr& item : pending_) {
      if (Eligible(item)) return Form();
    }
  }

  // Starts the next batch: after the window it asks for a rate-limit slot, and takes the items
  // pending when the slot comes.
  void Form() {
    forming_ = true;
    const absl::Time now = loop_->Now();
    const ItemPtr payer = Payer(Next(static_cast<size_t>(max_items_)));
    forming_slot_ =
        std::max(requester_->NextSlot(payer == nullptr ? nullptr : payer->waiter->trace.get()),
                 now + options_.window);
    window_ = loop_->RunAt(now + options_.window, [this] { SendBatch(); });
  }

  // Whose fair share pays for a batch carrying `riders`: the rider whose caller's place in the
  // rate limit's fair order comes first (the first in order among equals), so that a batch never
  // waits behind the backlog of one rider's caller while another's turn is sooner. Null for none.
  ItemPtr Payer(const std::vector<ItemPtr>& riders) const {
    ItemPtr payer;
    absl::Time best = absl::InfiniteFuture();
    for (const ItemPtr& rider : riders) {
      const absl::Time slot = requester_->NextSlot(rider->waiter->trace.get());
      if (payer == nullptr || slot < best) {
        payer = rider;
        best = slot;
      }
    }
    return payer;
  }

  // `item` joined while the batch waits for its rate-limit slot: when it rides that batch and
  // its caller's turn comes sooner, its caller pays and the batch goes at that turn.
  void PayFromIfRiding(const ItemPtr& item) {
    const std::vector<ItemPtr> riders = Next(static_cast<size_t>(max_items_));
    if (std::find(riders.begin(), riders.end(), item) == riders.end()) return;
    const Requester::Handle batch = waiting_batch_;
    const absl::Time own = requester_->NextSlot(item->waiter->trace.get());
    if (requester_->PayFrom(batch, item->waiter->trace.get()) && waiting_batch_ == batch) {
      forming_slot_ = std::min(forming_slot_, std::max(own, loop_->Now()));
    }
  }

  void SendBatch() {
    absl::Time deadline = absl::InfinitePast();
    for (const ItemPtr& item : pending_) {
      if (Eligible(item)) deadline = std::max(deadline, item->waiter->deadline);
    }
    // The rider whose caller's turn comes first pays for the batch's slot.
    const ItemPtr first = Payer(Next(static_cast<size_t>(max_items_)));
    if (first == nullptr) {
      forming_ = false;
      return;
    }
    auto batch = std::make_shared<Batch>();
    RequestSpec spec;
    spec.method = write_.method;
    spec.path = write_.path.empty() ? absl::StrCat("/", entity_.plural) : write_.path;
    spec.context = Context();
    spec.finish_in_flight = true;
    spec.prepare = [this, batch](PreparedRequest& prepared) { return Take(*batch, prepared); };
    auto trace = GroupTrace<Entity>(first->waiter);
    waiting_batch_ =
        requester_->Send(std::move(spec), CallOptions{deadline, nullptr, trace},
                         [this, batch, trace](absl::StatusOr<http::HttpResponse> response) {
                           if (batch->reads_back) {
                             batch->reads_back = false;
                             --sent_reading_;
                           }
                           for (const ItemPtr& item : batch->items) {
                             ShareTrace<Entity>(*trace, item->waiter);
                           }
                           if (!batch->prepared) return Refused(response.status());
                           if (!batch->items.empty()) Answered(*batch, std::move(response));
                           MaybeForm();
                         });
  }

  // The rate-limit slot has come: the batch takes the eligible items pending now, in order.
  std::optional<absl::Time> Take(Batch& batch, PreparedRequest& prepared) {
    batch.prepared = true;
    forming_ = false;
    waiting_batch_ = 0;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (!(*it)->waiter->finished) {
        ++it;
        continue;
      }
      const ItemPtr gone = *it;
      Release(*gone);
      it = pending_.erase(it);
      Unshare(*gone);
    }
    batch.items = Next(static_cast<size_t>(max_items_));
    for (const ItemPtr& item : batch.items) {
      batch.reads_back |= item->reads_back;
      if (item->target != 0) busy_[item->target] = item->seq;
      item->state = State::kSent;
      if (item->shared) {
        item->shared = false;
        shares_.Served(item->flow, item->tag);
      }
    }
    Unqueue(batch.items);
    if (batch.reads_back) ++sent_reading_;
    if (pending_.empty()) shares_.Idle();
    MaybeForm();
    if (batch.items.empty()) return std::nullopt;
    std::vector<std::pair<std::string, const Request*>> items;
    absl::Time deadline = absl::InfinitePast();
    for (const ItemPtr& item : batch.items) {
      items.emplace_back(item->request_id, &item->request);
      deadline = std::max(deadline, item->waiter->deadline);
    }
    prepared.body = write_.body(items);
    if (write_.path_of) prepared.path = write_.path_of(batch.items.front()->request);
    batch.wall_sent = absl::Now();
    return deadline;
  }

  // The batch was refused before it was sent (the rate limit cannot meet its deadline, its
  // deadline passed, Kommo blocks the account): the calls it would have carried learn why, except
  // those that a later batch can still serve in time.
  void Refused(const absl::Status& error) {
    forming_ = false;
    waiting_batch_ = 0;
    const bool rate_limited = error.code() == absl::StatusCode::kResourceExhausted;
    const bool too_late = error.code() == absl::StatusCode::kDeadlineExceeded;
    const absl::Time now = loop_->Now();
    std::vector<ItemPtr> refused;
    for (const ItemPtr& item : Next(pending_.size())) {
      if (static_cast<int>(refused.size()) >= max_items_) break;
      const bool still_in_time =
          (rate_limited &&
           item->waiter->deadline >= requester_->NextSlot(item->waiter->trace.get())) ||
          (too_late && item->waiter->deadline > now);
      if (!still_in_time) refused.push_back(item);
    }
    Unqueue(refused);
    for (const ItemPtr& item : refused) Unshare(*item);
    for (const ItemPtr& item : refused) Settle(item, error);
    MaybeForm();
  }

  // Kommo's answer about `item` is known: its entity is free for the next write, and its caller
  // is answered, or, when it left, the outcome is logged.
  void Settle(const ItemPtr& item, absl::Status result) {
    item->state = State::kSettled;
    Release(*item);
    if (!item->waiter->finished) return Complete<Entity>(item->waiter, std::move(result));
    std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(result);
    const std::string reason_text =
        info.has_value() ? info->reason() : std::string(absl::StatusCodeToString(result.code()));
    log::Warning("a write settled after its caller left",
                 {{"write", write_.what},
                  {"outcome", reason_text == reason::kWriteOutcomeUnknown ? "unknown" : "failed"},
                  {"reason", reason_text}});
  }

  void Release(const Item& item) {
    if (item.target == 0) return;
    auto busy = busy_.find(item.target);
    if (busy != busy_.end() && busy->second == item.seq) busy_.erase(busy);
  }

  // Back to the front of the queue, in their order, still holding their entities.
  void Resend(const std::vector<ItemPtr>& items) {
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
      (*it)->state = State::kPending;
      ++(*it)->resends;
      pending_.push_front(*it);
    }
  }

  void Answered(Batch& batch, absl::StatusOr<http::HttpResponse> response) {
    if (!response.ok()) {
      for (const ItemPtr& item : batch.items) Settle(item, response.status());
      return;
    }
    const ErrorContext context = Context();
    // A write Kommo answers with 204 when it acted (an unlink): its items are written as asked.
    if (write_.no_content_answer && response->status == 204) {
      return Matched(batch, absl::string_view());
    }
    absl::StatusOr<std::optional<absl::string_view>> body = AnswerBody(*response, context);
    if (body.ok() && body->has_value()) return Matched(batch, **body);
    absl::Status error = body.ok() ? MakeError(absl::StatusCode::kInternal,
                                               absl::StrCat(write_.what, " answered no result"),
                                               reason::kKommoBadResponse)
                                   : body.status();
    if (response->status == 400) {
      std::optional<mapping::Problem> problem = mapping::ParseProblem(response->body);
      if (problem.has_value() && !problem->validation_errors.empty() &&
          Rejected(batch, *problem, error)) {
        return;
      }
    }
    if (error.code() == absl::StatusCode::kNotFound && write_.kind == RequestKind::kUpdate) {
      if (batch.items.size() == 1) {
        ErrorContext one = context;
        one.entity_id = batch.items.front()->target;
        return Settle(batch.items.front(), EntityNotFound(one));
      }
      return ResolveNotFound(batch.items, error);
    }
    for (const ItemPtr& item : batch.items) Settle(item, error);
  }

  // A 2xx answer: each item's result is found by its request_id.
  void Matched(Batch& batch, absl::string_view body) {
    std::vector<std::string> request_ids;
    for (const ItemPtr& item : batch.items) request_ids.push_back(item->request_id);
    absl::StatusOr<WrittenItems> ids =
        write_.answer ? write_.answer(body, request_ids) : DefaultAnswer(body);
    std::vector<std::pair<Written, WaiterPtr<Entity>>> written;
    absl::Time deadline = loop_->Now();
    for (const ItemPtr& item : batch.items) {
      auto found = ids.ok() ? ids->find(item->request_id) : WrittenItems::iterator();
      if (!ids.ok() || found == ids->end()) {
        absl::Status error = ids.ok() ? MakeError(absl::StatusCode::kInternal,
                                                  absl::StrCat("Kommo's answer to ", write_.what,
                                                               " holds no result for this item"),
                                                  reason::kKommoBadResponse)
                                      : ids.status();
        // Kommo answered 2xx: it acted, but did not say on what.
        AddErrorMetadata(error, "outcome", "written_id_unknown");
        Settle(item, std::move(error));
        continue;
      }
      // An action on one entity whose answer names none (a link): it concerns its path's entity.
      if (write_.path_of && found->second.id == 0) found->second.id = item->target;
      if (write_.kind == RequestKind::kUpdate && found->second.id != item->target) {
        Settle(item,
               MakeError(
                   absl::StatusCode::kInternal,
                   absl::StrCat("Kommo's answer to ", write_.what, " names ", entity_.singular, " ",
                                found->second.id, " for the item that patched ", item->target),
                   reason::kKommoBadResponse,
                   {{absl::StrCat(entity_.singular, "_id"), absl::StrCat(item->target)}}));
        continue;
      }
      item->written_id = found->second.id;
      item->state = State::kSettled;
      Release(*item);
      if (item->waiter->finished) {
        log::Warning("a write settled after its caller left",
                     {{"write", write_.what},
                      {"outcome", "written"},
                      {absl::StrCat(entity_.singular, "_id"), item->written_id}});
        continue;
      }
      if (write_.unread) {
        // Its caller asked only for what the write determines: answered now, not read back.
        if (std::optional<Entity> answer = write_.unread(item->request, found->second)) {
          Complete<Entity>(item->waiter, *std::move(answer));
          continue;
        }
      }
      written.emplace_back(found->second, item->waiter);
      deadline = std::max(deadline, item->waiter->deadline);
    }
    if (!written.empty()) read_back_(std::move(written), deadline);
  }

  // `_embedded.{plural}[{id, request_id}]`: the answer of Kommo's batch endpoints.
  absl::StatusOr<WrittenItems> DefaultAnswer(absl::string_view body) const {
    absl::StatusOr<std::map<std::string, int64_t>> ids =
        mapping::ParseCreatedIds(body, entity_.plural);
    if (!ids.ok()) return ids.status();
    WrittenItems written;
    for (const auto& [request_id, id] : *ids) written[request_id].id = id;
    return written;
  }

  // Kommo rejected the batch (400 with validation errors). Items it names get their own errors;
  // the others go again only when Kommo certainly did not write them. Returns false when the
  // answer names none of the batch's items (then all get `error`).
  bool Rejected(Batch& batch, const mapping::Problem& problem, const absl::Status& error) {
    std::map<std::string, std::vector<const mapping::ValidationError*>> by_item;
    for (const mapping::ValidationError& each : problem.validation_errors) {
      by_item[each.request_id].push_back(&each);
    }
    bool named_any = false;
    for (const ItemPtr& item : batch.items) named_any |= by_item.count(item->request_id) > 0;
    if (!named_any && write_.path_of && batch.items.size() == 1) {
      // An action carries one item (Kommo names it by its position, if at all): every error is
      // its own.
      std::vector<const mapping::ValidationError*> all;
      for (const auto& [request_id, errors] : by_item) {
        all.insert(all.end(), errors.begin(), errors.end());
      }
      by_item.clear();
      by_item[batch.items.front()->request_id] = std::move(all);
      named_any = true;
    }
    if (!named_any) return false;
    std::vector<ItemPtr> others;
    for (const ItemPtr& item : batch.items) {
      auto named = by_item.find(item->request_id);
      if (named == by_item.end()) {
        others.push_back(item);
        continue;
      }
      bool unknown_id = false;
      std::optional<absl::Status> missing;
      std::vector<FieldViolation> violations;
      for (const mapping::ValidationError* each : named->second) {
        unknown_id |= write_.kind == RequestKind::kUpdate && each->path == "id";
        if (write_.missing && !missing.has_value()) missing = write_.missing(*each, item->request);
        std::string description = each->detail.empty() ? each->code : each->detail;
        if (!each->code.empty() && !each->detail.empty()) {
          absl::StrAppend(&description, " (", each->code, ")");
        }
        violations.push_back({write_.field(each->path, item->request), std::move(description)});
      }
      if (unknown_id) {
        ErrorContext one = Context();
        one.entity_id = item->target;
        Settle(item, EntityNotFound(one));
        continue;
      }
      if (missing.has_value()) {
        Settle(item, *std::move(missing));
        continue;
      }
      // The batch's code, message and ErrorInfo, with only this item's violations, named by
      // the caller's fields.
      absl::Status own(error.code(), error.message());
      if (auto info = GetErrorInfo(error)) {
        SetErrorInfo(own, info->reason(), {info->metadata().begin(), info->metadata().end()});
      }
      AddFieldViolations(own, violations);
      Settle(item, std::move(own));
    }
    if (others.empty()) return true;
    if (write_.kind == RequestKind::kUpdate) {
      // Repeating a PATCH sets the same values again; its entity stays held meanwhile, so no
      // later write to it can overtake it.
      ResendOrGiveUp(others);
      return true;
    }
    RuleOut(others, batch.wall_sent);
    return true;
  }

  void ResendOrGiveUp(const std::vector<ItemPtr>& items) {
    std::vector<ItemPtr> again;
    for (const ItemPtr& item : items) {
      if (item->waiter->finished) {
        Settle(item, LeaveError(absl::StatusCode::kCancelled, write_.what, false));
        continue;
      }
      if (item->resends < options_.max_resends) {
        again.push_back(item);
        continue;
      }
      // Its own request was valid; Kommo kept rejecting the batches it rode in, and did not
      // act on it.
      Settle(item, MakeError(absl::StatusCode::kAborted,
                             absl::StrCat("Kommo rejected ", options_.max_resends + 1,
                                          " batches this call rode in for other calls' invalid "
                                          "items; Kommo did not act on it, retry it"),
                             reason::kBatchRejected));
    }
    Resend(again);
  }

  // Creates of a rejected batch that Kommo did not name: Kommo may reject a batch whole (the
  // usual case) or keep its valid items. One read of what was created since the batch was sent
  // tells: an item is sent again only when nothing created since could be it.
  void RuleOut(std::vector<ItemPtr> items, absl::Time wall_sent) {
    if (!write_.could_be) {
      for (const ItemPtr& item : items) {
        Settle(item, MakeError(absl::StatusCode::kUnavailable,
                               absl::StrCat("Kommo rejected the batch this create rode in for "
                                            "other calls' items, and may have kept this one; the "
                                            "outcome is unknown: search before creating again (",
                                            write_.what, ")"),
                               reason::kWriteOutcomeUnknown, {{"outcome", "unknown"}}));
      }
      return MaybeForm();
    }
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity_.plural);
    spec.params = absl::StrCat("limit=250&order[id]=desc&",
                               write_.created_since_filter.empty() ? "filter[created_at][from]"
                                                                   : write_.created_since_filter,
                               "=", absl::ToUnixSeconds(wall_sent - options_.rule_out_skew));
    spec.priority = true;
    spec.context = Context();
    spec.context.kind = RequestKind::kList;
    spec.context.what = absl::StrCat("GET /", entity_.plural, " (created since a rejected batch)");
    absl::Time deadline = loop_->Now();
    for (const ItemPtr& item : items) deadline = std::max(deadline, item->waiter->deadline);
    const ErrorContext context = spec.context;
    requester_->Send(
        std::move(spec), CallOptions{deadline, nullptr, nullptr},
        [this, items = std::move(items), context](absl::StatusOr<http::HttpResponse> response) {
          const absl::StatusOr<EntityPage<Entity>> created = PageOf(entity_, response, context);
          std::vector<ItemPtr> again;
          for (const ItemPtr& item : items) {
            std::string why;
            if (!created.ok()) {
              why = absl::StrCat("checking failed: ", created.status().message());
            } else if (created->has_next) {
              why = "too many were created since to tell";
            } else {
              for (const Entity& each : created->items) {
                if (write_.could_be(each, item->request)) {
                  why =
                      absl::StrCat(entity_.singular, " ", IdOf(each), " created since could be it");
                  break;
                }
              }
            }
            if (why.empty()) {
              again.push_back(item);
              continue;
            }
            Settle(item, MakeError(absl::StatusCode::kUnavailable,
                                   absl::StrCat("Kommo rejected the batch this create rode in for "
                                                "other calls' items, and may have kept this one (",
                                                why,
                                                "); the outcome is unknown: search before creating "
                                                "again"),
                                   reason::kWriteOutcomeUnknown, {{"outcome", "unknown"}}));
          }
          ResendOrGiveUp(again);
          MaybeForm();
        });
  }

  // Kommo answered 404 to a batch of updates: which entity is missing? One read of the batch's
  // ids tells; the others go again (their entities still held), the missing get NOT_FOUND.
  void ResolveNotFound(std::vector<ItemPtr> items, absl::Status error) {
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity_.plural);
    spec.params = absl::StrCat("limit=250");
    absl::Time deadline = loop_->Now();
    for (const ItemPtr& item : items) {
      absl::StrAppend(&spec.params, "&filter[id][]=", item->target);
      deadline = std::max(deadline, item->waiter->deadline);
    }
    spec.priority = true;
    spec.context = Context();
    spec.context.kind = RequestKind::kList;
    spec.context.what = absl::StrCat("GET /", entity_.plural, " (which exist)");
    const ErrorContext context = spec.context;
    requester_->Send(
        std::move(spec), CallOptions{deadline, nullptr, nullptr},
        [this, items = std::move(items), error,
         context](absl::StatusOr<http::HttpResponse> response) {
          const absl::StatusOr<EntityPage<Entity>> found = PageOf(entity_, response, context);
          if (!found.ok()) {
            // Not "not found": which lead is missing is unknown, and Kommo applied
            // none of the batch (it answered 404).
            absl::Status unresolved = MakeError(
                absl::StatusCode::kUnavailable,
                absl::StrCat("Kommo answered 404 to the batch this update rode in, "
                             "and checking which leads exist failed (",
                             found.status().message(), "); the update was not applied: retry it"),
                reason::kKommoUnavailable);
            for (const ItemPtr& item : items) Settle(item, unresolved);
            return MaybeForm();
          }
          std::set<int64_t> existing;
          for (const Entity& each : found->items) existing.insert(IdOf(each));
          std::vector<ItemPtr> again;
          for (const ItemPtr& item : items) {
            if (existing.count(item->target) > 0) {
              again.push_back(item);
              continue;
            }
            ErrorContext one = context;
            one.entity_id = item->target;
            Settle(item, EntityNotFound(one));
          }
          ResendOrGiveUp(again);
          MaybeForm();
        });
  }

  const EntityDescription<Entity>& entity_;
  WriteDescription<Request, Entity> write_;
  WriteBatcherOptions options_;
  const int max_items_;  // per Kommo request: the endpoint's limit, or one for an action
  Requester* requester_;
  EventLoop* loop_;
  ReadBack<Entity> read_back_;

  uint64_t next_request_id_ = 0;
  std::deque<ItemPtr> pending_;
  bool forming_ = false;
  absl::Time forming_slot_ = absl::InfinitePast();  // when the forming batch may go
  EventLoop::TimerPtr window_;
  // The batch asking the rate limiter for its slot (0: none), extended by callers that join it.
  Requester::Handle waiting_batch_ = 0;
  // The entities with a write unsettled, and the item that holds each.
  std::map<int64_t, uint64_t> busy_;
  // The callers' fair shares of the pending items.
  FairShares shares_;
  // Batches sent and not answered yet that hold an item needing a read-back.
  int sent_reading_ = 0;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_WRITE_BATCHER_H_
