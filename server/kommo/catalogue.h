#ifndef KOMMO_SERVER_KOMMO_CATALOGUE_H_
#define KOMMO_SERVER_KOMMO_CATALOGUE_H_

// One of the account's catalogues (pipelines, users, the custom fields of one entity type, ...)
// kept for a time to live. Loop thread only.
//
// Get answers from the kept value while it is younger than the TTL; otherwise, or when the
// caller asks for a refresh, it loads the catalogue from Kommo. The load is the caller's own
// (its deadline, cancellation and trace): concurrent loads of one catalogue share their Kommo
// requests below, in SharedReads, which already handles members with different deadlines. A
// successful load is kept; a failed one keeps nothing and leaves the previous value in place
// (it is still served while it is fresh). Invalidate() makes the next Get load: for when Kommo
// refuses a write for an unknown field, stage or user, which means the catalogue has changed. A
// load that was already under way when Invalidate() was called is answered to its callers but
// not kept.

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/common/event_loop.h"
#include "server/kommo/kommo_client.h"

namespace kommo::rest {

template <typename T>
class Catalogue {
 public:
  // Starts one load of the catalogue from Kommo; runs `done` once, on the loop thread.
  using Load = absl::AnyInvocable<void(CallOptions, Done<T>)>;

  // `ttl` is measured on `loop`'s monotonic clock; zero or less keeps nothing (every Get loads).
  Catalogue(EventLoop* loop, absl::Duration ttl, Load load)
      : loop_(loop), ttl_(ttl), load_(std::move(load)) {}

  Catalogue(const Catalogue&) = delete;
  Catalogue& operator=(const Catalogue&) = delete;

  // The catalogue and when it was read from Kommo: the kept one if it is fresh and `refresh` is
  // false, else a new load's. `done` runs once, on the loop thread (inside this call when the
  // kept value answers).
  void Get(bool refresh, CallOptions options, Done<Fetched<T>> done) {
    if (!refresh && fresh()) return done(*kept_);
    const uint64_t generation = generation_;
    load_(std::move(options),
          [this, generation, done = std::move(done)](absl::StatusOr<T> loaded) mutable {
            if (!loaded.ok()) return done(loaded.status());
            Fetched<T> fetched{*std::move(loaded), absl::Now()};
            if (generation == generation_ && ttl_ > absl::ZeroDuration()) {
              kept_ = fetched;
              kept_at_ = loop_->Now();
            }
            done(std::move(fetched));
          });
  }

  // Forgets the kept value: the next Get loads.
  void Invalidate() {
    ++generation_;
    kept_.reset();
  }

  // Whether a Get now would be answered without a load.
  bool fresh() const { return kept_.has_value() && loop_->Now() - kept_at_ < ttl_; }

 private:
  EventLoop* loop_;
  absl::Duration ttl_;
  Load load_;
  std::optional<Fetched<T>> kept_;
  absl::Time kept_at_;       // on the loop's clock
  uint64_t generation_ = 0;  // Invalidate() calls so far
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_CATALOGUE_H_
