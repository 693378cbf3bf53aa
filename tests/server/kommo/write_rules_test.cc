// The rules the write core keeps (design.md §10, issue 10), each against a small model of Kommo
// that applies writes even when it then fails to answer, over a transport with latency that
// honours each attempt's timeout, on a fake clock. Each test failed on the core before issue 10.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/call_trace.h"
#include "server/common/cancellation.h"
#include "server/common/error_details.h"
#include "server/common/log.h"
#include "server/kommo/kommo_client.h"
#include "tests/support/fake_event_loop.h"
#include "tests/support/matches.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::testing::HasSubstr;

std::vector<std::string> All(const std::string& text, const std::string& pattern) {
  return ::kommo::testing::AllMatches(text, pattern);
}

// Kommo's leads, as far as these rules need them. Writes are applied when the request arrives;
// the answer comes `latency` later, or not at all when the attempt's timeout passes first (the
// write stands: an unknown outcome). Faults are scripted per request.
class ModelKommo final : public http::HttpTransport {
 public:
  struct Lead {
    std::string name;
    int64_t price = 0;
  };
  enum class Fault { kNone, k503AfterApplying, k404, kAnswerNamesOtherLead };

  explicit ModelKommo(FakeEventLoop* loop) : loop_(loop) {}

  absl::Duration latency = absl::Milliseconds(100);
  // Creates of a name in `invalid_names` are rejected with a validation error; `partial` keeps
  // the batch's valid items (Kommo's behaviour is unverified; the emulator has both modes).
  std::set<std::string> invalid_names;
  bool partial = false;
  std::deque<Fault> faults;  // one per write request, in order
  std::map<int64_t, Lead> leads;
  std::vector<http::HttpRequest> requests;

  RequestId Send(http::HttpRequest request, Callback done) override {
    requests.push_back(request);
    http::HttpResponse response = Handle(request);
    const bool times_out = latency > request.timeout;
    const absl::Duration after = times_out ? request.timeout : latency;
    timers_.push_back(
        loop_->RunAt(loop_->Now() + after, [done = std::move(done), response, times_out]() mutable {
          if (times_out) {
            return done({absl::DeadlineExceededError("timed out"), /*request_sent=*/true});
          }
          done({response, true});
        }));
    return requests.size();
  }
  void Cancel(RequestId) override {}

  size_t Count(http::Method method) const {
    size_t n = 0;
    for (const auto& each : requests) n += each.method == method;
    return n;
  }

 private:
  static std::string LeadJson(int64_t id, const Lead& lead) {
    return absl::StrCat(R"({"id":)", id, R"(,"name":")", lead.name, R"(","price":)", lead.price,
                        R"(,"status_id":60000002,"pipeline_id":7000001,"created_at":1700000000})");
  }

  http::HttpResponse Handle(const http::HttpRequest& request) {
    http::HttpResponse response;
    response.status = 200;
    const std::string& body = request.body;
    if (request.method == http::Method::kGet) {
      std::vector<std::string> items;
      const auto ids = All(request.url, R"re(filter\[id\]\[\]=(\d+))re");
      if (!ids.empty()) {
        for (const std::string& id : ids) {
          auto it = leads.find(std::stoll(id));
          if (it != leads.end()) items.push_back(LeadJson(it->first, it->second));
        }
      } else if (request.url.find("/leads?") != std::string::npos) {
        for (const auto& [id, lead] : leads) items.push_back(LeadJson(id, lead));
      } else {
        const int64_t id = std::stoll(All(request.url, R"re(/leads/(\d+))re").at(0));
        auto it = leads.find(id);
        if (it == leads.end()) return http::HttpResponse{204, "", {}};
        response.body = LeadJson(id, it->second);
        return response;
      }
      if (items.empty()) return http::HttpResponse{204, "", {}};
      response.body = absl::StrCat(R"({"_embedded":{"leads":[)", absl::StrJoin(items, ","), "]}}");
      return response;
    }
    Fault fault = Fault::kNone;
    if (!faults.empty()) {
      fault = faults.front();
      faults.pop_front();
    }
    if (fault == Fault::k404) {
      return http::HttpResponse{
          404, R"({"title":"Not Found","status":404,"detail":"Lead not found"})", {}};
    }
    const auto request_ids = All(body, R"re("request_id":"(\d+)")re");
    std::vector<std::string> results;
    std::vector<std::string> invalid;
    if (request.method == http::Method::kPost) {
      const auto names = All(body, R"re("name":"([^"]*)")re");
      for (size_t i = 0; i < request_ids.size(); ++i) {
        if (invalid_names.count(names[i]) > 0) {
          invalid.push_back(absl::StrCat(
              R"({"request_id":")", request_ids[i],
              R"(","errors":[{"code":"NotSupportedChoice","path":"status_id","detail":"bad"}]})"));
        }
      }
      for (size_t i = 0; i < request_ids.size(); ++i) {
        if (invalid_names.count(names[i]) > 0 || (!invalid.empty() && !partial)) continue;
        const int64_t id = next_id_++;
        leads[id] = Lead{names[i], 0};
        results.push_back(
            absl::StrCat(R"({"id":)", id, R"(,"request_id":")", request_ids[i], "\"}"));
      }
    } else {
      const auto ids = All(body, R"re("id":(\d+))re");
      const auto prices = All(body, R"re("price":(\d+))re");
      for (size_t i = 0; i < ids.size(); ++i) {
        const int64_t id = std::stoll(ids[i]);
        if (leads.count(id) == 0) {
          invalid.push_back(absl::StrCat(
              R"({"request_id":")", request_ids[i],
              R"(","errors":[{"code":"NotSupportedChoice","path":"id","detail":"Lead not found"}]})"));
          continue;
        }
        if (i < prices.size()) leads[id].price = std::stoll(prices[i]);
        const int64_t named = fault == Fault::kAnswerNamesOtherLead ? id + 1 : id;
        results.push_back(
            absl::StrCat(R"({"id":)", named, R"(,"request_id":")", request_ids[i], "\"}"));
      }
    }
    if (!invalid.empty()) {
      return http::HttpResponse{
          400,
          absl::StrCat(R"({"title":"Bad Request","status":400,"validation-errors":[)",
                       absl::StrJoin(invalid, ","), "]}"),
          {}};
    }
    if (fault == Fault::k503AfterApplying) return http::HttpResponse{503, "<html>503</html>", {}};
    response.body = absl::StrCat(R"({"_embedded":{"leads":[)", absl::StrJoin(results, ","), "]}}");
    return response;
  }

  FakeEventLoop* loop_;
  int64_t next_id_ = 31000000001;
  std::vector<EventLoop::TimerPtr> timers_;
};

class WriteRulesTest : public ::testing::Test {
 protected:
  WriteRulesTest() : kommo_(&loop_) {}

  void Start(double rps, absl::Duration window = absl::Milliseconds(2)) {
    KommoClientOptions options;
    options.api_base_url = "https://acme.kommo.com/api/v4";
    options.access_token = "t";
    options.rate_limit_rps = rps;
    options.coalesce_window = window;
    options.random_seed = 7;
    client_ = NewKommoClient(options, &kommo_, &loop_);
  }

  CallOptions Within(absl::Duration patience) { return {loop_.Now() + patience, nullptr, nullptr}; }

  using Result = std::optional<absl::StatusOr<v1::Lead>>;
  static Done<v1::Lead> Into(Result& out) {
    return [&out](absl::StatusOr<v1::Lead> result) { out = std::move(result); };
  }
  static std::string Reason(const absl::Status& status) {
    auto info = GetErrorInfo(status);
    return info.has_value() ? info->reason() : "<none>";
  }

  void Update(int64_t id, int64_t price, absl::Duration patience, Result& out) {
    v1::UpdateLeadRequest request;
    request.set_lead_id(id);
    request.set_price(price);
    client_->UpdateLead(request, Within(patience), Into(out));
  }
  void Create(const std::string& name, absl::Duration patience, Result& out) {
    v1::CreateLeadRequest request;
    request.set_name(name);
    client_->CreateLead(request, Within(patience), Into(out));
  }

  // A call of the caller `caller` (its fair share of Kommo's budget; issue 16).
  CallOptions As(const std::string& caller, absl::Duration patience) {
    auto trace = std::make_shared<CallTrace>();
    trace->caller = caller;
    trace->request_id = caller;
    return {loop_.Now() + patience, nullptr, trace};
  }

  // The requests Kommo got after the first `since`, up to the first that `is` accepts, which is
  // not counted; -1 when none does.
  int RequestsBefore(size_t since, const std::function<bool(const http::HttpRequest&)>& is) const {
    for (size_t i = since; i < kommo_.requests.size(); ++i) {
      if (is(kommo_.requests[i])) return static_cast<int>(i - since);
    }
    return -1;
  }

  FakeEventLoop loop_;
  ModelKommo kommo_;
  std::unique_ptr<KommoClient> client_;
};

// Rule 1. A PATCH that Kommo applied but answered 503 is retried; a later PATCH of the same lead
// must not be sent (and acknowledged) before that retry, or Kommo ends with the older value.
TEST_F(WriteRulesTest, OrderPerEntityARetriedPatchNeverLandsAfterALaterAcknowledgedOne) {
  Start(/*rps=*/50);
  kommo_.leads[5] = {"Deal", 0};
  kommo_.faults = {ModelKommo::Fault::k503AfterApplying};
  Result first, second;
  Update(5, 100, absl::Seconds(30), first);
  loop_.Advance(absl::Milliseconds(50));  // the first PATCH is out (and answered 503)
  Update(5, 200, absl::Seconds(30), second);
  loop_.Advance(absl::Seconds(20));
  ASSERT_TRUE(first.has_value() && first->ok()) << first->status();
  ASSERT_TRUE(second.has_value() && second->ok()) << second->status();
  EXPECT_EQ(kommo_.leads[5].price, 200) << "the caller of price 200 was answered last";
  EXPECT_EQ((*second)->price(), 200);
}

// Rule 1, and no entity stays locked: an update sent again after Kommo rejected its batch for
// another item, whose caller then leaves before it goes, frees its lead for the next write.
TEST_F(WriteRulesTest, AnUpdateWhoseCallerLeftBeforeItsResendFreesItsLead) {
  Start(/*rps=*/1, absl::Milliseconds(20));
  kommo_.leads[5] = {"five", 0};
  Result impatient, unknown, later;
  auto cancel = std::make_shared<CancellationToken>();
  v1::UpdateLeadRequest first;
  first.set_lead_id(5);
  first.set_price(100);
  client_->UpdateLead(first, {loop_.Now() + absl::Seconds(10), cancel, nullptr}, Into(impatient));
  Update(777, 1, absl::Seconds(10), unknown);  // Kommo rejects the batch for this one
  loop_.Advance(absl::Milliseconds(500));      // the resend of 5 waits for the next slot (1 s)
  cancel->Cancel();                            // and its caller goes away meanwhile
  loop_.Advance(absl::Milliseconds(200));
  ASSERT_TRUE(impatient.has_value() && unknown.has_value());
  EXPECT_EQ(unknown->status().code(), absl::StatusCode::kNotFound);
  Update(5, 300, absl::Seconds(10), later);
  loop_.Advance(absl::Seconds(10));
  ASSERT_TRUE(later.has_value());
  EXPECT_TRUE(later->ok()) << later->status();
  EXPECT_EQ(kommo_.leads[5].price, 300);
}

// Rule 2. A caller that joins a batch while it waits for its rate-limit slot is served as long
// as it is willing to wait, whatever the deadline of the callers already there.
TEST_F(WriteRulesTest, ABatchServesAMemberThatJoinedWhileItWaited) {
  Start(/*rps=*/1);
  kommo_.latency = absl::Seconds(1);
  kommo_.leads[5] = {"Deal", 0};
  Result read, early, patient;
  client_->GetLead(5, Within(absl::Seconds(30)), Into(read));  // takes the slot at 0 s
  loop_.Advance(absl::Milliseconds(10));
  Create("early", absl::Milliseconds(1500), early);  // its batch gets the slot at 1 s
  loop_.Advance(absl::Milliseconds(500));
  Create("patient", absl::Seconds(30), patient);  // joins while the batch waits
  loop_.Advance(absl::Seconds(30));
  ASSERT_TRUE(patient.has_value());
  EXPECT_TRUE(patient->ok()) << patient->status();
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Reason(early->status()), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(kommo_.Count(http::Method::kPost), 1u) << "both rode one batch, sent once";
}

// Rule 4. Kommo rejects a batch for one invalid item. Whether it kept the valid ones (partial)
// or not (all or nothing), no lead is ever created twice.
TEST_F(WriteRulesTest, ARejectedBatchNeverDoublesALead) {
  for (const bool partial : {false, true}) {
    SCOPED_TRACE(partial ? "Kommo keeps the valid items" : "Kommo rejects the batch whole");
    kommo_.leads.clear();
    kommo_.invalid_names = {"bad"};
    kommo_.partial = partial;
    Start(/*rps=*/50, absl::Milliseconds(20));
    Result a, bad, b;
    Create("a", absl::Seconds(30), a);
    Create("bad", absl::Seconds(30), bad);
    Create("b", absl::Seconds(30), b);
    loop_.Advance(absl::Seconds(30));
    ASSERT_TRUE(bad.has_value());
    EXPECT_EQ(bad->status().code(), absl::StatusCode::kInvalidArgument);
    std::map<std::string, int> made;
    for (const auto& [id, lead] : kommo_.leads) ++made[lead.name];
    EXPECT_EQ(made["a"], 1);
    EXPECT_EQ(made["b"], 1);
    for (Result* valid : {&a, &b}) {
      ASSERT_TRUE(valid->has_value());
      if (partial) {
        // Kept by Kommo, which said nothing about them: the outcome is unknown, never resent.
        EXPECT_EQ(Reason((*valid)->status()), "WRITE_OUTCOME_UNKNOWN");
      } else {
        EXPECT_TRUE((*valid)->ok()) << (*valid)->status();  // ruled out, then sent again
      }
    }
  }
}

// Rule 5a. An update's answer must name the lead that was patched.
TEST_F(WriteRulesTest, AnUpdateAnswerNamingAnotherLeadIsNotTakenForIt) {
  Start(/*rps=*/50);
  kommo_.leads[5] = {"five", 0};
  kommo_.leads[6] = {"six", 0};
  kommo_.faults = {ModelKommo::Fault::kAnswerNamesOtherLead};
  Result result;
  Update(5, 10, absl::Seconds(10), result);
  loop_.Advance(absl::Seconds(10));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Reason(result->status()), "KOMMO_BAD_RESPONSE");
}

// Rule 5b. A 404 on a batch PATCH is resolved per lead: the lead that exists is updated.
TEST_F(WriteRulesTest, A404OnABatchPatchIsResolvedPerLead) {
  Start(/*rps=*/50, absl::Milliseconds(20));
  kommo_.leads[5] = {"five", 0};
  kommo_.faults = {ModelKommo::Fault::k404};
  Result exists, missing;
  Update(5, 10, absl::Seconds(10), exists);
  Update(777, 10, absl::Seconds(10), missing);
  loop_.Advance(absl::Seconds(10));
  ASSERT_TRUE(exists.has_value() && missing.has_value());
  EXPECT_TRUE(exists->ok()) << exists->status();
  EXPECT_EQ(kommo_.leads[5].price, 10);
  EXPECT_EQ(missing->status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(missing->status()), "LEAD_NOT_FOUND");
}

// Rule 7. Writes that cannot get a slot before their deadline are refused at once (Kommo is not
// called), not at their deadline.
TEST_F(WriteRulesTest, WritesThatCannotBeAdmittedInTimeAreRefusedAtOnce) {
  Start(/*rps=*/1);
  std::vector<Result> results(400);
  for (int i = 0; i < 400; ++i) Create(absl::StrCat("lead ", i), absl::Seconds(4), results[i]);
  loop_.RunUntilIdle();  // no time has passed
  int refused_now = 0;
  for (const Result& result : results) {
    if (result.has_value()) {
      EXPECT_EQ(result->status().code(), absl::StatusCode::kResourceExhausted);
      EXPECT_EQ(Reason(result->status()), "RATE_LIMIT_QUEUE_TIMEOUT");
      ++refused_now;
    }
  }
  // At 1 request/s a batch of 50 and its read-back take two slots: 4 s admit two batches.
  EXPECT_GE(refused_now, 200);
  loop_.Advance(absl::Seconds(10));
  int ok = 0;
  std::map<std::string, int> late;
  for (const Result& result : results) {
    ASSERT_TRUE(result.has_value());
    ok += result->ok();
    if (!result->ok()) ++late[absl::StrCat(result->status().code(), " ", Reason(result->status()))];
  }
  for (const auto& [what, n] : late) std::printf("not admitted in time: %s: %d\n", what.c_str(), n);
  EXPECT_EQ(ok + refused_now, 400) << "every admitted write succeeded";
  EXPECT_EQ(kommo_.leads.size(), static_cast<size_t>(ok));
}

// Rule 7. One Retry-After of a day does not stop all traffic for a day.
TEST_F(WriteRulesTest, A429PauseIsCapped) {
  Start(/*rps=*/50);
  kommo_.leads[5] = {"five", 0};
  Result result;
  // The read is answered 429 with Retry-After: 86400 once, then served.
  struct Once final : http::HttpTransport {
    http::HttpTransport* next;
    FakeEventLoop* loop;
    bool done = false;
    std::vector<absl::Time> at;
    std::vector<EventLoop::TimerPtr> timers;
    RequestId Send(http::HttpRequest request, Callback callback) override {
      at.push_back(loop->Now());
      if (done) return next->Send(std::move(request), std::move(callback));
      done = true;
      timers.push_back(loop->RunAt(loop->Now(), [callback = std::move(callback)]() mutable {
        callback({http::HttpResponse{429, "", {{"retry-after", "86400"}}}, true});
      }));
      return 1;
    }
    void Cancel(RequestId) override {}
  } once;
  once.next = &kommo_;
  once.loop = &loop_;
  KommoClientOptions options;
  options.api_base_url = "https://acme.kommo.com/api/v4";
  options.rate_limit_rps = 50;
  client_ = NewKommoClient(options, &once, &loop_);
  client_->GetLead(5, Within(absl::Hours(48)), Into(result));
  loop_.Advance(absl::Seconds(120));
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->ok()) << result->status();
  ASSERT_EQ(once.at.size(), 2u);
  EXPECT_LE(once.at[1] - once.at[0], absl::Seconds(61));
}

// Rule 8. Identical reads share one request whatever their deadlines.
TEST_F(WriteRulesTest, IdenticalReadsShareOneRequestWhateverTheirDeadlines) {
  Start(/*rps=*/7);
  kommo_.latency = absl::Milliseconds(1500);
  kommo_.leads[5] = {"five", 0};
  std::vector<Result> results(200);
  for (int i = 0; i < 200; ++i) {
    // Over 0.4 s, with deadlines from 2 s to 6 s, later callers often more patient.
    client_->GetLead(5, Within(absl::Seconds(2) + absl::Milliseconds(20 * i)), Into(results[i]));
    loop_.Advance(absl::Milliseconds(2));
  }
  loop_.Advance(absl::Seconds(10));
  EXPECT_EQ(kommo_.Count(http::Method::kGet), 1u);
  for (const Result& result : results) {
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(result->ok()) << result->status();
  }
}

// Fair shares (issue 16). A caller's one create rides the next batch, however many creates
// another caller has pending (before: behind all of them, ten batches later).
TEST_F(WriteRulesTest, FairSharesACreateRidesTheNextBatchDespiteAnotherCallersBacklog) {
  Start(/*rps=*/7);
  std::vector<Result> backlog(500);
  for (int i = 0; i < 500; ++i) {
    v1::CreateLeadRequest request;
    request.set_name(absl::StrCat("bulk ", i));
    client_->CreateLead(request, As("importer", absl::Seconds(120)), Into(backlog[i]));
  }
  loop_.Advance(absl::Milliseconds(500));  // the importer's first batches are out
  const size_t arrival = kommo_.requests.size();
  ASSERT_GE(arrival, 2u);
  Result chatbot;
  v1::CreateLeadRequest request;
  request.set_name("chatbot lead");
  client_->CreateLead(request, As("chatbot", absl::Seconds(5)), Into(chatbot));
  loop_.Advance(absl::Seconds(1));
  ASSERT_TRUE(chatbot.has_value());
  EXPECT_TRUE(chatbot->ok()) << chatbot->status();
  const int before = RequestsBefore(arrival, [](const http::HttpRequest& each) {
    return each.method == http::Method::kPost &&
           each.body.find("chatbot lead") != std::string::npos;
  });
  EXPECT_GE(before, 0);
  EXPECT_LE(before, 2) << "at most the importer's batch and its read-back went first";
  loop_.Advance(absl::Seconds(60));
  for (const Result& result : backlog) {
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(result->ok()) << result->status();
  }
  EXPECT_EQ(kommo_.leads.size(), 501u);
}

// Fair shares keep the order per entity: a caller whose update of a lead is tagged ahead of
// another caller's earlier update of it (which waits behind that caller's backlog) still goes
// after it.
TEST_F(WriteRulesTest, FairSharesKeepTheOrderOfTwoCallersWritesToOneLead) {
  Start(/*rps=*/7);
  kommo_.leads[5] = {"Deal", 0};
  for (int64_t id = 1000; id < 1120; ++id) kommo_.leads[id] = {"other", 0};
  std::vector<Result> backlog(120);
  for (int64_t id = 1000; id < 1120; ++id) {
    v1::UpdateLeadRequest request;
    request.set_lead_id(id);
    request.set_price(1);
    client_->UpdateLead(request, As("importer", absl::Seconds(120)), Into(backlog[id - 1000]));
  }
  Result first, second;
  v1::UpdateLeadRequest update;
  update.set_lead_id(5);
  update.set_price(100);
  client_->UpdateLead(update, As("importer", absl::Seconds(120)), Into(first));
  update.set_price(200);
  client_->UpdateLead(update, As("chatbot", absl::Seconds(120)), Into(second));
  loop_.Advance(absl::Seconds(60));
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_TRUE(first->ok()) << first->status();
  EXPECT_TRUE(second->ok()) << second->status();
  EXPECT_EQ(kommo_.leads[5].price, 200) << "the later write to the lead landed last";
  for (const Result& result : backlog) {
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(result->ok()) << result->status();
  }
}

// Fair shares in the rate limit: one caller's search goes within two slots of its arrival,
// whether another caller has 500 creates pending or 200 reads waiting for their slots.
TEST_F(WriteRulesTest, FairSharesASearchGoesWithinTwoSlotsOfAnotherCallersBacklog) {
  for (const bool reads : {false, true}) {
    SCOPED_TRACE(reads ? "a backlog of reads" : "a backlog of creates");
    kommo_.requests.clear();
    Start(/*rps=*/7);
    std::vector<Result> backlog(reads ? 200 : 500);
    for (size_t i = 0; i < backlog.size(); ++i) {
      if (reads) {
        kommo_.leads[static_cast<int64_t>(2000 + i)] = {"other", 0};
        client_->GetLead(static_cast<int64_t>(2000 + i), As("analytics", absl::Seconds(120)),
                         Into(backlog[i]));
        continue;
      }
      v1::CreateLeadRequest request;
      request.set_name(absl::StrCat("bulk ", i));
      client_->CreateLead(request, As("analytics", absl::Seconds(120)), Into(backlog[i]));
    }
    loop_.Advance(absl::Milliseconds(700));
    const size_t arrival = kommo_.requests.size();
    std::optional<absl::StatusOr<LeadPageResult>> found;
    client_->SearchLeads("needle", 1, 50, As("chatbot", absl::Seconds(5)),
                         [&found](absl::StatusOr<LeadPageResult> result) { found = result; });
    loop_.Advance(absl::Seconds(1));
    ASSERT_TRUE(found.has_value());
    EXPECT_TRUE(found->ok()) << found->status();
    const int before = RequestsBefore(arrival, [](const http::HttpRequest& each) {
      return each.url.find("query=needle") != std::string::npos;
    });
    EXPECT_GE(before, 0);
    EXPECT_LE(before, 2);
    loop_.Advance(absl::Seconds(60));
    for (const Result& result : backlog) {
      ASSERT_TRUE(result.has_value());
      EXPECT_TRUE(result->ok()) << result->status();
    }
  }
}

// Fair shares across the batcher and the rate limit: a caller's create goes within a couple of
// slots even when the batch it rides was first asked for by another caller whose reads wait in
// the rate limit (the batch must not wait behind that caller's backlog of reads).
TEST_F(WriteRulesTest, FairSharesACreateIsNotHeldBehindTheReadsOfAnotherCallerInItsBatch) {
  Start(/*rps=*/7);
  std::vector<Result> reads(200);
  for (size_t i = 0; i < reads.size(); ++i) {
    kommo_.leads[static_cast<int64_t>(2000 + i)] = {"other", 0};
    client_->GetLead(static_cast<int64_t>(2000 + i), As("analytics", absl::Seconds(120)),
                     Into(reads[i]));
  }
  Result theirs;
  v1::CreateLeadRequest request;
  request.set_name("analytics lead");
  client_->CreateLead(request, As("analytics", absl::Seconds(120)), Into(theirs));
  loop_.Advance(absl::Milliseconds(700));
  const size_t arrival = kommo_.requests.size();
  Result chatbot;
  request.set_name("chatbot lead");
  client_->CreateLead(request, As("chatbot", absl::Seconds(5)), Into(chatbot));
  loop_.Advance(absl::Seconds(2));
  ASSERT_TRUE(chatbot.has_value());
  EXPECT_TRUE(chatbot->ok()) << chatbot->status();
  const int before = RequestsBefore(arrival, [](const http::HttpRequest& each) {
    return each.method == http::Method::kPost &&
           each.body.find("chatbot lead") != std::string::npos;
  });
  EXPECT_GE(before, 0);
  EXPECT_LE(before, 2);
  loop_.Advance(absl::Seconds(60));
  ASSERT_TRUE(theirs.has_value());
  EXPECT_TRUE(theirs->ok()) << theirs->status();
  for (const Result& result : reads) {
    ASSERT_TRUE(result.has_value());
    EXPECT_TRUE(result->ok()) << result->status();
  }
}

std::vector<std::string>* captured = nullptr;
void Capture(const std::string& line) {
  if (captured != nullptr) captured->push_back(line);
}

// Rule 9. A create whose caller left is logged with its outcome and the id Kommo gave it.
TEST_F(WriteRulesTest, ACreateWhoseCallerLeftIsLoggedWithItsId) {
  std::vector<std::string> lines;
  captured = &lines;
  log::SetSinkForTesting(&Capture);
  Start(/*rps=*/50);
  kommo_.latency = absl::Milliseconds(800);
  Result result;
  Create("impatient", absl::Milliseconds(500), result);
  loop_.Advance(absl::Seconds(5));
  log::SetSinkForTesting(nullptr);
  captured = nullptr;
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(Reason(result->status()), "WRITE_OUTCOME_UNKNOWN");
  ASSERT_EQ(kommo_.leads.size(), 1u);
  const std::string id = absl::StrCat(kommo_.leads.begin()->first);
  bool logged = false;
  for (const std::string& line : lines) {
    logged |= line.find("caller left") != std::string::npos && line.find(id) != std::string::npos &&
              line.find("written") != std::string::npos;
  }
  EXPECT_TRUE(logged) << absl::StrJoin(lines, "\n");
}

}  // namespace
}  // namespace kommo::rest
