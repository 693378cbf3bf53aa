// The encoding of the shared change history's entries, and ChangeHistory::SkipTo (what a mirror
// does when the stream was trimmed before it read). The Redis side is tested against a real
// redis-server in tests/integration/shared_watch_test.cc.

#include "server/watch/shared_history.h"

#include "gtest/gtest.h"

namespace kommo::watch {
namespace {

TEST(SharedEntryTest, AChangeRoundTripsWithEveryField) {
  SharedEntry entry;
  entry.change.kind = v1::CHANGE_KIND_STAGE_CHANGED;
  mapping::KommoEvent& event = entry.change.event;
  event.id = "01abc";
  event.type = "lead_status_changed";
  event.entity_type = "lead";
  event.entity_id = 42;
  event.created_at = 1700000000;
  event.created_by = 7;
  event.stage_before = std::make_pair(int64_t{1}, int64_t{2});
  event.stage_after = std::make_pair(int64_t{1}, int64_t{3});
  event.responsible_after = 9;
  std::optional<SharedEntry> decoded = DecodeEntry(EncodeEntry(entry));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_FALSE(decoded->gap);
  EXPECT_EQ(decoded->change.kind, v1::CHANGE_KIND_STAGE_CHANGED);
  EXPECT_EQ(decoded->change.event.id, "01abc");
  EXPECT_EQ(decoded->change.event.type, "lead_status_changed");
  EXPECT_EQ(decoded->change.event.entity_id, 42);
  EXPECT_EQ(decoded->change.event.created_at, 1700000000);
  EXPECT_EQ(decoded->change.event.created_by, 7);
  EXPECT_EQ(decoded->change.event.stage_after, event.stage_after);
  EXPECT_EQ(decoded->change.event.stage_before, event.stage_before);
  EXPECT_FALSE(decoded->change.event.responsible_before.has_value());
  EXPECT_EQ(decoded->change.event.responsible_after, 9);
}

TEST(SharedEntryTest, TabsInKommoStringsAreEscapedAndGapsRoundTrip) {
  SharedEntry entry;
  entry.change.kind = v1::CHANGE_KIND_UPDATED;
  entry.change.event.id = "x";
  entry.change.event.type = "odd\ttype\\";
  entry.change.event.entity_type = "lead";
  std::optional<SharedEntry> decoded = DecodeEntry(EncodeEntry(entry));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->change.event.type, "odd\ttype\\");

  SharedEntry gap;
  gap.gap = true;
  gap.gap_until = 1700000100;
  decoded = DecodeEntry(EncodeEntry(gap));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(decoded->gap);
  EXPECT_EQ(decoded->gap_until, 1700000100);

  EXPECT_FALSE(DecodeEntry("").has_value());
  EXPECT_FALSE(DecodeEntry("c1\t99\tx").has_value());
  EXPECT_FALSE(DecodeEntry("g1\tnot-a-number").has_value());
}

TEST(ChangeHistorySkipToTest, PlacesBeforeTheSkipAreExpiredAndNumberingGoesOn) {
  ChangeHistory history(5, 100, 1000);
  Change change;
  change.kind = v1::CHANGE_KIND_CREATED;
  change.event.id = "a";
  change.event.created_at = 1100;
  history.Append({change});
  history.SkipTo(10, EventKey{1200, "j"});
  EXPECT_EQ(history.last_seq(), 9u);
  change.event.id = "k";
  change.event.created_at = 1201;
  history.Append({change});
  EXPECT_EQ(history.last_seq(), 10u);
  EXPECT_EQ(history.Resume(Position{5, 1, {}}).status().code(), absl::StatusCode::kOutOfRange);
  absl::StatusOr<ResumePoint> at_skip = history.Resume(Position{5, 9, {}});
  ASSERT_TRUE(at_skip.ok());
  EXPECT_EQ(at_skip->after_seq, 9u);
  // Another history's token from before the skipped changes is expired too.
  EXPECT_EQ(history.Resume(Position{6, 3, EventKey{1150, "b"}}).status().code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace kommo::watch
