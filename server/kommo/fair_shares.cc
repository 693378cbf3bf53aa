#include "server/kommo/fair_shares.h"

#include <algorithm>

namespace kommo::rest {

FairShares::Tag FairShares::Peek(absl::string_view flow, double weight) const {
  auto it = flows_.find(flow);
  const double start =
      std::max(virtual_time_, it == flows_.end() ? virtual_time_ : it->second.last_finish);
  return Tag{start, start + Share(weight)};
}

FairShares::Tag FairShares::Add(absl::string_view flow, double weight) {
  const Tag tag = Peek(flow, weight);
  auto it = flows_.find(flow);
  if (it == flows_.end()) {
    it = flows_.emplace(std::string(flow), Flow{}).first;
    it->second.idle = idle_.end();
  }
  Flow& state = it->second;
  if (state.idle != idle_.end()) {
    idle_.erase(state.idle);
    state.idle = idle_.end();
  }
  state.last_finish = tag.finish;
  ++state.waiting;
  return tag;
}

void FairShares::Served(absl::string_view flow, const Tag& tag) {
  virtual_time_ = std::max(virtual_time_, tag.start);
  OneLess(flow);
  ForgetPassed();
}

void FairShares::Left(absl::string_view flow) { OneLess(flow); }

void FairShares::OneLess(absl::string_view flow) {
  auto it = flows_.find(flow);
  if (it == flows_.end() || it->second.waiting == 0) return;
  Flow& state = it->second;
  if (--state.waiting > 0) return;
  if (state.last_finish <= virtual_time_) {
    flows_.erase(it);
    return;
  }
  state.idle = idle_.emplace(state.last_finish, it->first);
  if (idle_.size() > kMaxIdleFlows) {
    flows_.erase(idle_.begin()->second);
    idle_.erase(idle_.begin());
  }
}

void FairShares::ForgetPassed() {
  while (!idle_.empty() && idle_.begin()->first <= virtual_time_) {
    flows_.erase(idle_.begin()->second);
    idle_.erase(idle_.begin());
  }
}

void FairShares::Idle() {
  for (const auto& [name, flow] : flows_) {
    if (flow.waiting > 0) return;  // not idle after all
  }
  for (const auto& [name, flow] : flows_) {
    virtual_time_ = std::max(virtual_time_, flow.last_finish);
  }
  flows_.clear();
  idle_.clear();
}

}  // namespace kommo::rest
