// The events poller (server/watch/watch_hub.h) against a scripted Kommo: what it asks for, what it
// appends, in which order, and what a failed poll does.

#include "server/watch/watch_hub.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_event_loop.h"
#include "tests/support/fake_transport.h"

namespace kommo::watch {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::kommo::testing::FakeTransport;
using ::testing::ElementsAre;

constexpr int64_t kNow = 1700003600;

struct Event {
  std::string id;
  std::string type;
  std::string entity_type;
  int64_t entity_id;
  int64_t created_at;
};

std::string EventJson(const Event& e) {
  return absl::StrCat(R"({"id":")", e.id, R"(","type":")", e.type, R"(","entity_id":)", e.entity_id,
                      R"(,"entity_type":")", e.entity_type, R"(","created_by":1,"created_at":)",
                      e.created_at, R"(,"value_before":[],"value_after":[]})");
}

// The value of `key` in the request URL's query ("" when absent).
std::string Param(const std::string& url, const std::string& key) {
  const std::string needle = absl::StrCat(key, "=");
  size_t at = url.find(absl::StrCat("?", needle));
  if (at == std::string::npos) at = url.find(absl::StrCat("&", needle));
  if (at == std::string::npos) return "";
  const size_t start = at + 1 + needle.size();
  const size_t end = url.find('&', start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

class WatchHubTest : public ::testing::Test {
 protected:
  WatchHubTest() : transport_(&loop_) {
    rest::KommoClientOptions options;
    options.api_base_url = "https://acme.kommo.com/api/v4";
    options.access_token = "t";
    options.rate_limit_rps = 100;
    options.max_attempts = 1;
    options.random_seed = 3;
    client_ = rest::NewKommoClient(options, &transport_, &loop_);
    // Kommo: the events created from filter[created_at][from] on, newest first, 2 a page.
    transport_.SetResponder([this](const http::HttpRequest& request) {
      http::HttpResponse response;
      if (fail_next_ > 0) {
        --fail_next_;
        response.status = 500;
        response.body = R"({"title":"Internal","status":500})";
        return http::HttpResult{response, true};
      }
      int64_t from = 0;
      int64_t page = 1;
      EXPECT_TRUE(absl::SimpleAtoi(Param(request.url, "filter%5Bcreated_at%5D%5Bfrom%5D"), &from) ||
                  absl::SimpleAtoi(Param(request.url, "filter[created_at][from]"), &from))
          << request.url;
      absl::SimpleAtoi(Param(request.url, "page"), &page);
      froms_.push_back(from);
      std::vector<Event> matching;
      for (auto it = kommo_.rbegin(); it != kommo_.rend(); ++it) {
        if (it->created_at >= from) matching.push_back(*it);
      }
      const size_t first = static_cast<size_t>(page - 1) * 2;
      if (first >= matching.size()) {
        response.status = 204;
        return http::HttpResult{response, true};
      }
      std::string events;
      for (size_t i = first; i < matching.size() && i < first + 2; ++i) {
        absl::StrAppend(&events, events.empty() ? "" : ",", EventJson(matching[i]));
      }
      response.status = 200;
      response.body = absl::StrCat(R"({"_page":)", page, R"(,"_links":{)",
                                   first + 2 < matching.size() ? R"("next":{"href":"n"})" : "",
                                   R"(},"_embedded":{"events":[)", events, "]}}");
      return http::HttpResult{response, true};
    });
    hub_ = std::make_unique<WatchHub>(client_.get(), &loop_, Options());
  }

  WatchOptions Options() {
    WatchOptions watch;
    watch.poll_interval = absl::Seconds(5);
    watch.lookback = absl::Hours(1);
    watch.overlap = absl::Seconds(60);
    watch.settle = absl::Seconds(2);
    watch.wall_seconds = [this] { return wall_; };
    watch.epoch = 99;
    return watch;
  }

  ~WatchHubTest() override { hub_.reset(); }

  std::vector<std::string> Ids() {
    std::vector<std::string> out;
    for (const ChangePtr& change : hub_->history().After(0, 1000)) out.push_back(change->event.id);
    return out;
  }

  FakeEventLoop loop_;
  FakeTransport transport_;
  std::unique_ptr<rest::KommoClient> client_;
  std::unique_ptr<WatchHub> hub_;
  std::vector<Event> kommo_;  // oldest first
  std::vector<int64_t> froms_;
  int fail_next_ = 0;
  int64_t wall_ = kNow;
};

TEST_F(WatchHubTest, ReadsTheLookbackInOrderAndThenOnlyWhatIsNew) {
  kommo_ = {{"a1", "lead_added", "lead", 1, kNow - 7200},  // before the lookback
            {"b2", "lead_added", "lead", 2, kNow - 100},
            {"c3", "name_field_changed", "lead", 2, kNow - 50},
            {"c2", "contact_added", "contact", 7, kNow - 50},  // same second, smaller id
            {"d4", "company_added", "company", 3, kNow - 40},  // not reported
            {"e5", "incoming_call", "lead", 2, kNow - 30}};    // not reported
  int notified = 0;
  std::vector<absl::Status> started;
  hub_->Subscribe([&notified] { ++notified; },
                  [&started](absl::Status status) { started.push_back(status); });
  loop_.Advance(absl::Milliseconds(100));  // three pages, 10 ms apart at 100 requests a second
  ASSERT_EQ(started.size(), 1u);
  EXPECT_TRUE(started[0].ok());
  EXPECT_EQ(froms_.front(), kNow - 3600);             // the lookback
  EXPECT_EQ(froms_.size(), 3u);                       // 5 events, 2 a page
  EXPECT_THAT(Ids(), ElementsAre("b2", "c2", "c3"));  // Kommo's key order
  EXPECT_EQ(hub_->history().watermark(), kNow - 2);
  EXPECT_EQ(notified, 1);

  // Five seconds later: the overlap re-reads a minute; only the new event is appended.
  kommo_.push_back({"f6", "lead_status_changed", "lead", 2, kNow + 3});
  wall_ = kNow + 5;
  froms_.clear();
  loop_.Advance(absl::Seconds(5));
  EXPECT_EQ(froms_.front(), kNow - 2 - 60);
  EXPECT_THAT(Ids(), ElementsAre("b2", "c2", "c3", "f6"));
  EXPECT_EQ(notified, 2);
  EXPECT_EQ(hub_->history().watermark(), kNow + 3);

  // An event Kommo shows late (its second is behind the watermark) is still read once.
  kommo_.push_back({"a0", "lead_deleted", "lead", 1, kNow - 1});
  wall_ = kNow + 10;
  loop_.Advance(absl::Seconds(5));
  EXPECT_THAT(Ids(), ElementsAre("b2", "c2", "c3", "f6", "a0"));
  wall_ = kNow + 15;
  loop_.Advance(absl::Seconds(5));
  EXPECT_EQ(Ids().size(), 5u);
  EXPECT_EQ(hub_->polls(), 4u);  // the first (three pages) and three more
}

TEST_F(WatchHubTest, AFailedFirstPollIsReportedAndTheNextOneFillsIn) {
  kommo_ = {{"b2", "lead_added", "lead", 2, kNow - 100}};
  fail_next_ = 1;
  std::vector<absl::Status> started;
  int notified = 0;
  hub_->Subscribe([&notified] { ++notified; },
                  [&started](absl::Status status) { started.push_back(status); });
  loop_.RunUntilIdle();
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(hub_->failed_polls(), 1u);
  EXPECT_EQ(hub_->history().size(), 0u);
  // The poller keeps going: the next poll appends, and a new watcher starts at once after it.
  loop_.Advance(absl::Seconds(5));
  EXPECT_THAT(Ids(), ElementsAre("b2"));
  EXPECT_EQ(notified, 1);
  std::vector<absl::Status> second;
  hub_->Subscribe([] {}, [&second](absl::Status status) { second.push_back(status); });
  ASSERT_EQ(second.size(), 1u);
  EXPECT_TRUE(second[0].ok());
}

TEST_F(WatchHubTest, AWindowLargerThanAPollReadsBecomesAGap) {
  WatchOptions options = Options();
  options.max_pages_per_poll = 1;
  options.lookback = absl::Minutes(1);  // nothing left to halve at start
  hub_ = std::make_unique<WatchHub>(client_.get(), &loop_, options);
  kommo_ = {{"b2", "lead_added", "lead", 2, kNow - 30},
            {"c3", "lead_added", "lead", 3, kNow - 20},
            {"d4", "lead_added", "lead", 4, kNow - 10}};  // two pages
  std::vector<absl::Status> started;
  int notified = 0;
  hub_->Subscribe([&notified] { ++notified; },
                  [&started](absl::Status status) { started.push_back(status); });
  loop_.Advance(absl::Milliseconds(100));
  ASSERT_EQ(started.size(), 1u);
  EXPECT_TRUE(started[0].ok());
  EXPECT_EQ(hub_->history().size(), 0u);
  EXPECT_EQ(hub_->history().watermark(), kNow - 2);
  EXPECT_EQ(notified, 1);
  EXPECT_EQ(hub_->failed_polls(), 1u);
  // Polling goes on from there: only what is new after the gap's overlap comes.
  kommo_ = {{"e5", "lead_added", "lead", 5, kNow + 3}};
  wall_ = kNow + 5;
  loop_.Advance(absl::Seconds(5));
  EXPECT_THAT(Ids(), ElementsAre("e5"));
}

TEST_F(WatchHubTest, ShutdownStopsPollingAndTellsWatchers) {
  int notified = 0;
  hub_->Subscribe([&notified] { ++notified; }, [](absl::Status) {});
  loop_.RunUntilIdle();
  const uint64_t polls = hub_->polls();
  EXPECT_EQ(notified, 1);  // the first poll moved the watermark
  hub_->Shutdown();
  EXPECT_TRUE(hub_->closing());
  EXPECT_EQ(notified, 2);  // once more, to end the streams
  loop_.Advance(absl::Seconds(30));
  EXPECT_EQ(hub_->polls(), polls);
  std::vector<absl::Status> late;
  hub_->Subscribe([] {}, [&late](absl::Status status) { late.push_back(status); });
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kommo::watch
