// The change history and its resume tokens (server/watch/change_history.h), and the reading of
// Kommo's events (server/mapping/event_json.h).

#include "server/watch/change_history.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"
#include "server/mapping/event_json.h"

namespace kommo::watch {
namespace {

using ::testing::ElementsAre;

Change At(int64_t time, const std::string& id, int64_t lead = 1) {
  Change change;
  change.kind = v1::CHANGE_KIND_UPDATED;
  change.event.id = id;
  change.event.type = "name_field_changed";
  change.event.entity_type = "lead";
  change.event.entity_id = lead;
  change.event.created_at = time;
  return change;
}

std::vector<uint64_t> Seqs(const std::vector<ChangePtr>& changes) {
  std::vector<uint64_t> out;
  for (const ChangePtr& change : changes) out.push_back(change->seq);
  return out;
}

std::string Reason(const absl::Status& status) {
  auto info = GetErrorInfo(status);
  return info.has_value() ? info->reason() : "<none>";
}

TEST(ResumeTokenTest, RoundTripsAndRefusesWhatItDidNotMake) {
  const Position position{12345678901234ULL, 42, {1700000000, "01pz58t6p04ymgsgfbmfyfy1mf"}};
  absl::StatusOr<Position> back = DecodeToken(EncodeToken(position));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->epoch, position.epoch);
  EXPECT_EQ(back->seq, 42u);
  EXPECT_EQ(back->key.time, 1700000000);
  EXPECT_EQ(back->key.id, "01pz58t6p04ymgsgfbmfyfy1mf");

  for (const std::string& bad :
       std::vector<std::string>{"", "not base64 !", "dzEuMS4y", std::string(300, 'A'),
                                EncodeToken(position).substr(1)}) {
    absl::StatusOr<Position> decoded = DecodeToken(bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Reason(decoded.status()), "INVALID_FIELD");
    ASSERT_TRUE(GetBadRequest(decoded.status()).has_value());
    EXPECT_EQ(GetBadRequest(decoded.status())->field_violations(0).field(), "resume_token");
  }
}

TEST(ChangeHistoryTest, ResumesByNumberInItsOwnEpoch) {
  ChangeHistory history(7, 100, 1000);
  history.Append({At(1001, "a"), At(1001, "b"), At(1002, "c")});
  EXPECT_EQ(history.last_seq(), 3u);
  EXPECT_THAT(Seqs(history.After(0, 10)), ElementsAre(1, 2, 3));
  EXPECT_THAT(Seqs(history.After(1, 10)), ElementsAre(2, 3));
  EXPECT_THAT(Seqs(history.After(1, 1)), ElementsAre(2));

  absl::StatusOr<ResumePoint> point = history.Resume({7, 2, {1001, "b"}});
  ASSERT_TRUE(point.ok()) << point.status();
  EXPECT_EQ(point->after_seq, 2u);
  EXPECT_FALSE(point->skip_by_key);

  // A number this history never gave is a forged token.
  EXPECT_EQ(history.Resume({7, 9, {}}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ChangeHistoryTest, AnEvictedPlaceIsOutOfRangeWithATokenForNow) {
  ChangeHistory history(7, 3, 1000);
  history.Append({At(1001, "a"), At(1002, "b"), At(1003, "c"), At(1004, "d"), At(1005, "e")});
  EXPECT_EQ(history.size(), 3u);
  EXPECT_THAT(Seqs(history.After(0, 10)), ElementsAre(3, 4, 5));
  EXPECT_TRUE(history.Resume({7, 2, {}}).ok());  // 3, 4 and 5 are all still here
  absl::Status expired = history.Resume({7, 1, {}}).status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Reason(expired), "WATCH_HISTORY_EXPIRED");
  const auto metadata = GetErrorInfo(expired)->metadata();
  ASSERT_EQ(metadata.count("resume_token"), 1u);
  absl::StatusOr<Position> now = DecodeToken(metadata.at("resume_token"));
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->seq, 5u);
  EXPECT_TRUE(history.Resume(*now).ok());
}

TEST(ChangeHistoryTest, AnotherEpochResumesByKommosKey) {
  // The history of a restarted server, filled from t=1000 on.
  ChangeHistory history(8, 100, 1000);
  history.Append({At(1001, "a"), At(1001, "b"), At(1002, "c")});
  absl::StatusOr<ResumePoint> point = history.Resume({7, 55, {1001, "a"}});
  ASSERT_TRUE(point.ok()) << point.status();
  EXPECT_TRUE(point->skip_by_key);
  EXPECT_EQ(point->after_seq, 0u);
  EXPECT_EQ(point->skip_through.id, "a");
  // Kommo's order: "b" and "c" come after (1001, "a"); "a" does not.
  EXPECT_TRUE(KeyAfter({1001, "b"}, point->skip_through));
  EXPECT_FALSE(KeyAfter({1001, "a"}, point->skip_through));
  // A heartbeat's key (time, "") covers the events before that second only.
  EXPECT_TRUE(KeyAfter({1001, "a"}, {1001, ""}));

  // Before the time the history was filled from: OUT_OF_RANGE.
  EXPECT_EQ(Reason(history.Resume({7, 3, {999, "z"}}).status()), "WATCH_HISTORY_EXPIRED");
  // Evicted past the token's key: OUT_OF_RANGE.
  ChangeHistory small(8, 2, 1000);
  small.Append({At(1001, "a"), At(1002, "b"), At(1003, "c"), At(1004, "d")});
  EXPECT_EQ(Reason(small.Resume({7, 3, {1001, "a"}}).status()), "WATCH_HISTORY_EXPIRED");
  EXPECT_TRUE(small.Resume({7, 3, {1002, "b"}}).ok());
}

TEST(ChangeHistoryTest, AStreamOpenedAtATimeStartsBeforeTheChangesOfThatSecond) {
  ChangeHistory history(7, 10, 1000);
  EXPECT_EQ(history.LastSeqBefore(1500), 0u);
  history.Append({At(1001, "a"), At(1002, "b"), At(1002, "c"), At(1005, "d")});
  EXPECT_EQ(history.LastSeqBefore(1002), 1u);  // "b" and "c" were recorded in that second
  EXPECT_EQ(history.LastSeqBefore(1003), 3u);
  EXPECT_EQ(history.LastSeqBefore(1006), 4u);
  EXPECT_EQ(history.LastSeqBefore(900), 0u);
}

TEST(ChangeHistoryTest, AGapMakesEveryEarlierPlaceOutOfRange) {
  ChangeHistory history(7, 10, 1000);
  history.Append({At(1001, "a"), At(1002, "b")});
  const Position caught_up = history.Head();
  history.MarkGap(5000);
  EXPECT_EQ(Reason(history.Resume(caught_up).status()), "WATCH_HISTORY_EXPIRED");
  EXPECT_EQ(Reason(history.Resume({8, 2, {1002, "b"}}).status()), "WATCH_HISTORY_EXPIRED");
  EXPECT_EQ(history.watermark(), 5000);
  const Position after = history.Head();
  ASSERT_TRUE(history.Resume(after).ok());
  history.Append({At(5001, "c")});
  absl::StatusOr<ResumePoint> point = history.Resume(after);
  ASSERT_TRUE(point.ok());
  EXPECT_THAT(Seqs(history.After(point->after_seq, 10)), ElementsAre(4));
}

TEST(ChangeHistoryTest, HeadMovesWithTheWatermark) {
  ChangeHistory history(7, 10, 1000);
  EXPECT_EQ(history.Head().seq, 0u);
  EXPECT_EQ(history.Head().key.time, 1000);
  history.AdvanceWatermark(1500);
  history.AdvanceWatermark(1400);  // never backwards
  EXPECT_EQ(history.Head().key.time, 1500);
  EXPECT_EQ(history.Head().key.id, "");
}

TEST(EventJsonTest, ReadsEventsWithTheirBeforeAndAfter) {
  absl::StatusOr<mapping::EventPage> page = mapping::ParseEventPage(R"({
    "_page": 1, "_links": {"next": {"href": "x"}},
    "_embedded": {"events": [
      {"id": "01pz58t6p04ymgsgfbmfyfy1mf", "type": "lead_status_changed", "entity_id": 5,
       "entity_type": "lead", "created_by": 3, "created_at": 1700000001, "account_id": 1,
       "value_after": [{"lead_status": {"id": 142, "pipeline_id": 77}}],
       "value_before": [{"lead_status": {"id": 60, "pipeline_id": 77}}], "_embedded": {}},
      {"id": "01pz58t6p04ymgsgfbmfyfy1mg", "type": "entity_responsible_changed",
       "entity_id": 6, "entity_type": "contact", "created_by": 0, "created_at": 1700000002,
       "value_after": [{"responsible_user": {"id": 9}}],
       "value_before": [{"responsible_user": {"id": 8}}], "new_member": true},
      {"id": "01pz58t6p04ymgsgfbmfyfy1mh", "type": "custom_field_123_value_changed",
       "entity_id": 5, "entity_type": "lead", "created_by": 3, "created_at": 1700000003,
       "value_after": [{"custom_field_value": {"field_id": 123, "text": "x"}}],
       "value_before": null}
    ]}})");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->has_next);
  ASSERT_EQ(page->events.size(), 3u);
  const mapping::KommoEvent& stage = page->events[0];
  EXPECT_EQ(stage.entity_id, 5);
  EXPECT_EQ(stage.created_by, 3);
  ASSERT_TRUE(stage.stage_before.has_value() && stage.stage_after.has_value());
  EXPECT_EQ(*stage.stage_before, std::make_pair(int64_t{77}, int64_t{60}));
  EXPECT_EQ(*stage.stage_after, std::make_pair(int64_t{77}, int64_t{142}));
  EXPECT_EQ(page->events[1].responsible_before, 8);
  EXPECT_EQ(page->events[1].responsible_after, 9);
  EXPECT_EQ(page->events[1].entity_type, "contact");
  EXPECT_FALSE(page->events[2].stage_after.has_value());

  EXPECT_FALSE(mapping::ParseEventPage(R"({"_embedded":{"events":[{"type":"lead_added",)"
                                       R"("entity_id":1,"created_at":5}]}})")
                   .ok());  // no id
  EXPECT_FALSE(mapping::ParseEventPage(R"({"_embedded":{"events":[{"id":"a","entity_id":1}]}})")
                   .ok());  // no created_at
}

TEST(EventJsonTest, KindsOfKommosEventTypes) {
  using mapping::ChangeKindOf;
  EXPECT_EQ(ChangeKindOf("lead_added"), v1::CHANGE_KIND_CREATED);
  EXPECT_EQ(ChangeKindOf("contact_added"), v1::CHANGE_KIND_CREATED);
  EXPECT_EQ(ChangeKindOf("lead_status_changed"), v1::CHANGE_KIND_STAGE_CHANGED);
  EXPECT_EQ(ChangeKindOf("entity_responsible_changed"), v1::CHANGE_KIND_RESPONSIBLE_CHANGED);
  EXPECT_EQ(ChangeKindOf("lead_deleted"), v1::CHANGE_KIND_DELETED);
  EXPECT_EQ(ChangeKindOf("contact_restored"), v1::CHANGE_KIND_RESTORED);
  EXPECT_EQ(ChangeKindOf("common_note_added"), v1::CHANGE_KIND_NOTE_ADDED);
  EXPECT_EQ(ChangeKindOf("custom_field_123_value_changed"), v1::CHANGE_KIND_UPDATED);
  EXPECT_EQ(ChangeKindOf("name_field_changed"), v1::CHANGE_KIND_UPDATED);
  EXPECT_EQ(ChangeKindOf("entity_tag_added"), v1::CHANGE_KIND_UPDATED);
  EXPECT_EQ(ChangeKindOf("incoming_call"), v1::CHANGE_KIND_UNSPECIFIED);
  EXPECT_EQ(ChangeKindOf("task_added"), v1::CHANGE_KIND_UNSPECIFIED);
}

}  // namespace
}  // namespace kommo::watch
