// Fault injection, the rate limit, the account block and the request log of the emulator: the
// pieces with fake time, then every fault switched on over the admin API (and the C++ API) and
// observed on the wire with libcurl, the way the service's client will meet them.
#include "emulator/faults.h"

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "emulator/emulator.h"
#include "emulator/request_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/emulator/test_client.h"

namespace kommo::emulator {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Int;
using ::testing::Not;
using testing::Reply;
using testing::Size;
using ::testing::StartsWith;
using testing::Str;
using testing::TestClient;

constexpr char kToken[] = "faults-test-token";

// --- rules, matching, bucket and block with fake time
// ---------------------------------------------

TEST(FaultRulesTest, ParsesEveryKind) {
  auto rules = ParseFaultRules(R"([
    {"match":"GET /api/v4/leads","fault":"status","status":429,"body":"html","times":3,"after":2},
    {"match":"/api/v4/contacts","fault":"latency","delay_ms":200,"jitter_ms":50},
    {"match":"post","fault":"reset","apply":true},
    {"fault":"malformed_json","match":"*"},
    {"fault":"cut_body","cut_at":10},
    {"fault":"slow_body","chunk_bytes":8,"interval_ms":20,"times":0}])");
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->size(), 6u);
  const FaultRule& status = (*rules)[0];
  EXPECT_EQ(status.method, "GET");
  EXPECT_EQ(status.path_prefix, "/api/v4/leads");
  EXPECT_EQ(status.action, FaultAction::kStatus);
  EXPECT_EQ(status.status, 429);
  EXPECT_EQ(status.body, FaultBody::kHtml);
  EXPECT_EQ(status.times, 3);
  EXPECT_EQ(status.after, 2);
  EXPECT_EQ((*rules)[1].method, "");
  EXPECT_EQ((*rules)[1].delay, 200ms);
  EXPECT_EQ((*rules)[1].jitter, 50ms);
  EXPECT_EQ((*rules)[2].method, "POST");
  EXPECT_EQ((*rules)[2].path_prefix, "");
  EXPECT_TRUE((*rules)[2].apply);
  EXPECT_EQ((*rules)[3].action, FaultAction::kMalformedJson);
  EXPECT_EQ((*rules)[4].cut_at, 10u);
  EXPECT_EQ((*rules)[5].chunk_bytes, 8u);
  EXPECT_EQ((*rules)[5].chunk_interval, 20ms);
  EXPECT_EQ((*rules)[5].times, 0);
}

TEST(FaultRulesTest, RejectsBadRulesWithAMessageNamingTheField) {
  const auto message = [](const std::string& json) {
    auto rules = ParseFaultRules(json);
    EXPECT_FALSE(rules.ok()) << json;
    EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(rules.status().message());
  };
  EXPECT_THAT(message("{"), HasSubstr("not valid JSON"));
  EXPECT_THAT(message("5"), HasSubstr("object or an array"));
  EXPECT_THAT(message("{}"), HasSubstr("\"fault\" is required"));
  EXPECT_THAT(message(R"({"fault":"explode"})"), HasSubstr("\"fault\" must be one of"));
  EXPECT_THAT(message(R"({"fault":"status"})"), HasSubstr("\"status\" is required"));
  EXPECT_THAT(message(R"({"fault":"status","status":"429"})"), HasSubstr("\"status\" must be"));
  EXPECT_THAT(message(R"({"fault":"status","status":200})"), HasSubstr("400 to 599"));
  EXPECT_THAT(message(R"({"fault":"status","status":429,"body":"xml"})"),
              HasSubstr("\"body\" must be one of \"json\", \"html\""));
  EXPECT_THAT(message(R"({"fault":"reset","status":500})"),
              HasSubstr("unknown member \"status\" for fault \"reset\""));
  EXPECT_THAT(message(R"({"fault":"latency"})"), HasSubstr("needs \"delay_ms\""));
  EXPECT_THAT(message(R"({"fault":"latency","delay_ms":-1})"), HasSubstr("\"delay_ms\" must be"));
  EXPECT_THAT(message(R"({"fault":"reset","times":1.5})"), HasSubstr("\"times\" must be"));
  EXPECT_THAT(message(R"({"fault":"reset","match":"GET leads"})"), HasSubstr("\"match\""));
  EXPECT_THAT(message(R"({"fault":"reset","match":7})"), HasSubstr("\"match\" must be a string"));
  EXPECT_THAT(message(R"([{"fault":"reset"},{"fault":"slow_body","chunk_bytes":0}])"),
              HasSubstr("fault rule 1: \"chunk_bytes\""));
}

FaultRule StatusRule(std::string method, std::string prefix, int status) {
  FaultRule rule;
  rule.method = std::move(method);
  rule.path_prefix = std::move(prefix);
  rule.status = status;
  return rule;
}

TEST(FaultSetTest, SkipsAfterThenFiresTimesThenPasses) {
  FaultSet set(1);
  FaultRule rule = StatusRule("GET", "/api/v4/leads", 503);
  rule.after = 2;
  rule.times = 2;
  set.Add(rule);
  std::vector<bool> fired;
  for (int i = 0; i < 6; ++i)
    fired.push_back(set.Decide("GET", "/api/v4/leads").action.has_value());
  EXPECT_THAT(fired, ElementsAre(false, false, true, true, false, false));
  EXPECT_FALSE(set.Decide("POST", "/api/v4/leads").action.has_value());    // method
  EXPECT_FALSE(set.Decide("GET", "/api/v4/contacts").action.has_value());  // path
  EXPECT_EQ(set.rules()[0].matched, 6u);
  EXPECT_EQ(set.rules()[0].fired, 2u);
}

TEST(FaultSetTest, ZeroTimesIsUnlimitedAndLatencyDefaultsToUnlimited) {
  FaultSet set(1);
  FaultRule forever = StatusRule("", "", 500);
  forever.times = 0;
  const uint64_t id = set.Add(forever);
  FaultRule latency;
  latency.action = FaultAction::kLatency;
  latency.delay = 5ms;
  set.Add(latency);
  for (int i = 0; i < 100; ++i) {
    const FaultDecision decision = set.Decide("GET", "/x");
    ASSERT_TRUE(decision.action.has_value());
    EXPECT_EQ(decision.action_id, id);
    EXPECT_EQ(decision.delay, 5ms);
  }
  EXPECT_TRUE(set.Remove(id));
  EXPECT_FALSE(set.Remove(id));
  EXPECT_FALSE(set.Decide("GET", "/x").action.has_value());
}

TEST(FaultSetTest, FirstDueRuleOfEachKindWinsAndDelaysAdd) {
  FaultSet set(1);
  FaultRule first = StatusRule("", "/api", 502);
  first.delay = 10ms;
  FaultRule second = StatusRule("", "/api", 503);
  FaultRule latency_a;
  latency_a.action = FaultAction::kLatency;
  latency_a.delay = 100ms;
  FaultRule latency_b = latency_a;
  latency_b.delay = 1000ms;
  set.Add(first);
  set.Add(latency_a);
  set.Add(second);
  set.Add(latency_b);
  FaultDecision decision = set.Decide("GET", "/api/v4/account");
  ASSERT_TRUE(decision.action.has_value());
  EXPECT_EQ(decision.action->status, 502);
  EXPECT_EQ(decision.delay, 110ms);  // the first latency rule plus the action rule's own delay
  decision = set.Decide("GET", "/api/v4/account");  // `first` is used up: `second` answers
  ASSERT_TRUE(decision.action.has_value());
  EXPECT_EQ(decision.action->status, 503);
  EXPECT_EQ(decision.delay, 100ms);
}

TEST(FaultSetTest, JitterStaysWithinItsRange) {
  FaultSet set(42);
  FaultRule rule;
  rule.action = FaultAction::kLatency;
  rule.delay = 200ms;
  rule.jitter = 50ms;
  set.Add(rule);
  std::chrono::milliseconds low = 1h;
  std::chrono::milliseconds high = 0ms;
  for (int i = 0; i < 500; ++i) {
    const std::chrono::milliseconds delay = set.Decide("GET", "/").delay;
    low = std::min(low, delay);
    high = std::max(high, delay);
  }
  EXPECT_GE(low, 200ms);
  EXPECT_LE(high, 250ms);
  EXPECT_LT(low, 210ms);  // 500 draws from 51 values cover both ends
  EXPECT_GT(high, 240ms);
}

TEST(TokenBucketTest, RefillsAtItsRateUpToTheBurst) {
  const SteadyTime t0{};
  TokenBucket bucket(/*rate=*/7, /*capacity=*/7, t0);
  int taken = 0;
  while (bucket.TryTake(t0)) ++taken;
  EXPECT_EQ(taken, 7);
  EXPECT_FALSE(bucket.TryTake(t0 + 100ms));  // 0.7 tokens
  EXPECT_TRUE(bucket.TryTake(t0 + 150ms));   // 1.05
  EXPECT_FALSE(bucket.TryTake(t0 + 150ms));
  taken = 0;
  while (bucket.TryTake(t0 + 1h)) ++taken;  // full again, never above the burst
  EXPECT_EQ(taken, 7);
}

TEST(AccountGuardTest, BlocksAfterConsecutive429sUntilLiftedOrExpired) {
  const SteadyTime t0{};
  AccountGuard guard(t0);
  RateLimitOptions options;
  options.enabled = true;
  options.requests_per_second = 1;
  options.burst = 1;
  options.block_after = 3;
  options.block_duration = 10s;
  guard.Configure(options, t0);
  using V = AccountGuard::Verdict;
  EXPECT_EQ(guard.Admit(t0), V::kPass);
  EXPECT_EQ(guard.Admit(t0), V::kRateLimited);
  EXPECT_EQ(guard.Admit(t0), V::kRateLimited);
  EXPECT_EQ(guard.Admit(t0 + 1s), V::kPass);  // an accepted request resets the count
  EXPECT_EQ(guard.Admit(t0 + 1s), V::kRateLimited);
  EXPECT_EQ(guard.Admit(t0 + 1s), V::kRateLimited);
  EXPECT_EQ(guard.Admit(t0 + 1s), V::kRateLimited);  // the third in a row: still a 429 ...
  EXPECT_EQ(guard.Admit(t0 + 5s), V::kBlocked);      // ... then everything is blocked
  EXPECT_TRUE(guard.blocked(t0 + 10s));
  EXPECT_FALSE(guard.blocked(t0 + 11s));  // block_duration is over
  EXPECT_EQ(guard.Admit(t0 + 11s), V::kPass);

  guard.Block(t0 + 20s, 0s, "test");  // until lifted
  EXPECT_EQ(guard.Admit(t0 + 24h), V::kBlocked);
  guard.Unblock(t0 + 24h);
  EXPECT_EQ(guard.Admit(t0 + 24h), V::kPass);
}

TEST(AccountGuardTest, DisabledLimitPassesEverythingButABlockStillBlocks) {
  const SteadyTime t0{};
  AccountGuard guard(t0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(guard.Admit(t0), AccountGuard::Verdict::kPass);
  guard.Block(t0, 0s, "test");
  EXPECT_EQ(guard.Admit(t0), AccountGuard::Verdict::kBlocked);
}

TEST(RequestLogTest, RoutesAndFingerprints) {
  EXPECT_EQ(RouteOf("/api/v4/leads/31000000001/link"), "/api/v4/leads/{id}/link");
  EXPECT_EQ(RouteOf("/api/v4/leads"), "/api/v4/leads");
  EXPECT_EQ(RouteOf("/"), "/");
  EXPECT_EQ(AuthorizationFingerprint(""), "");
  const std::string fingerprint = AuthorizationFingerprint("Bearer secret-token");
  EXPECT_THAT(fingerprint, StartsWith("Bearer sha256:"));
  EXPECT_EQ(fingerprint.size(), std::string("Bearer sha256:").size() + 12);
  EXPECT_THAT(fingerprint, Not(HasSubstr("secret")));
  EXPECT_EQ(fingerprint, AuthorizationFingerprint("Bearer  secret-token"));
  EXPECT_NE(fingerprint, AuthorizationFingerprint("Bearer secret-token2"));
  EXPECT_THAT(AuthorizationFingerprint("opaque"), StartsWith("sha256:"));
}

// --- on the wire
// -----------------------------------------------------------------------------------

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(EmulatorOptions{}); }

  void Start(EmulatorOptions options) {
    emulator_.reset();
    options.token = kToken;
    options.random_seed = 7;
    auto emulator = Emulator::Start(std::move(options));
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    client_ = std::make_unique<TestClient>(emulator_->base_url(), kToken);
    admin_ = std::make_unique<TestClient>(emulator_->base_url(), "");
  }

  // POST /_emulator/faults; returns the first new rule's id.
  int64_t AddFault(const std::string& json) {
    const Reply reply = admin_->Post("/_emulator/faults", json);
    EXPECT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.Header("content-type"), "application/json");
    if (reply.status != 200) return 0;
    return Int(reply.Json(), "ids.0");
  }

  Reply Fresh(const std::string& method, const std::string& path, const std::string* body) {
    TestClient fresh(emulator_->base_url(), kToken);  // a new connection: no silent curl retry
    return fresh.Send(method, path, body, {});
  }

  std::unique_ptr<Emulator> emulator_;
  std::unique_ptr<TestClient> client_;
  std::unique_ptr<TestClient> admin_;
};

struct StatusCase {
  std::string rule;  // the JSON members after "fault":"status"
  int status;
  std::string content_type;
  bool request_id;  // X-Request-Id present
  std::string body_part;
};

TEST_F(FaultsTest, InjectedStatusesLookLikeKommoAndNginx) {
  const std::vector<StatusCase> cases = {
      {R"("status":429,"retry_after":300)", 429, "application/problem+json", true,
       R"("retry_after":300)"},
      {R"("status":429,"body":"html")", 429, "text/html", false, "<title>429 Too Many Requests"},
      {R"("status":500)", 500, "application/problem+json", true, R"("title":"ErrInternalServer")"},
      {R"("status":502)", 502, "text/html", false, "<h1>502 Bad Gateway</h1>"},
      {R"("status":503)", 503, "text/html", false, "503 Service Temporarily Unavailable"},
      {R"("status":504)", 504, "text/html", false, "504 Gateway Time-out"},
      {R"("status":402)", 402, "application/problem+json", true, R"("detail":"Payment required")"},
      {R"("status":401)", 401, "application/problem+json", true, R"("title":"Unauthorized")"},
      {R"("status":403)", 403, "text/html", false, "<center>nginx</center>"},
      {R"("status":403,"body":"json")", 403, "application/problem+json", true, "Invalid scope"},
      {R"("status":500,"body":"html")", 500, "text/html", false, "500 Internal Server Error"},
  };
  for (const StatusCase& c : cases) {
    SCOPED_TRACE(c.rule);
    AddFault(R"({"match":"GET /api/v4/account","fault":"status",)" + c.rule + "}");
    const Reply reply = client_->Get("/api/v4/account");
    EXPECT_EQ(reply.status, c.status);
    EXPECT_EQ(reply.Header("content-type"), c.content_type);
    EXPECT_EQ(!reply.Header("x-request-id").empty(), c.request_id);
    EXPECT_EQ(reply.Header("retry-after"), "");  // Kommo sends none
    EXPECT_THAT(reply.body, HasSubstr(c.body_part));
    if (c.content_type == "text/html") {
      EXPECT_EQ(reply.Header("server"), "nginx");
    }
    EXPECT_EQ(client_->Get("/api/v4/account").status, 200);  // times defaults to 1
  }
  const Reply five_hundred = [&] {
    AddFault(R"({"fault":"status","status":500})");
    return client_->Get("/api/v4/leads");
  }();
  EXPECT_EQ(Int(five_hundred.Json(), "status"), 500);
  EXPECT_EQ(Str(five_hundred.Json(), "trace_id").size(), 16u);
}

TEST_F(FaultsTest, TooManyRequestsCanCarryARetryAfterHeader) {
  AddFault(R"({"fault":"status","status":429,"retry_after":7,"retry_after_header":true})");
  const Reply reply = client_->Get("/api/v4/account");
  EXPECT_EQ(reply.status, 429);
  EXPECT_EQ(reply.Header("retry-after"), "7");
  EXPECT_EQ(Int(reply.Json(), "retry_after"), 7);
}

TEST_F(FaultsTest, RulesMatchMethodAndPathPrefixAfterMForNRequests) {
  AddFault(R"({"match":"GET /api/v4/leads","fault":"status","status":503,"after":2,"times":2})");
  std::vector<long> statuses;
  for (int i = 0; i < 5; ++i) statuses.push_back(client_->Get("/api/v4/leads").status);
  EXPECT_THAT(statuses, ElementsAre(204, 204, 503, 503, 204));
  EXPECT_EQ(client_->Post("/api/v4/leads", R"([{"name":"x"}])").status, 200);  // other method

  const int64_t id =
      AddFault(R"({"match":"/api/v4/leads","fault":"status","status":502,"times":0})");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client_->Get("/api/v4/leads/pipelines").status, 502);
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);

  const Reply listed = admin_->Get("/_emulator/faults");
  ASSERT_EQ(listed.status, 200);
  const rapidjson::Document doc = listed.Json();
  ASSERT_EQ(Size(doc, "faults"), 2u);
  EXPECT_EQ(Str(doc, "faults.0.match"), "GET /api/v4/leads");
  EXPECT_EQ(Int(doc, "faults.0.matched"), 8);  // a prefix: /api/v4/leads/pipelines too
  EXPECT_EQ(Int(doc, "faults.0.fired"), 2);
  EXPECT_EQ(Int(doc, "faults.0.remaining"), 0);
  EXPECT_TRUE(testing::IsNull(doc, "faults.1.remaining"));  // unlimited

  EXPECT_EQ(admin_->Send("DELETE", "/_emulator/faults/" + std::to_string(id), nullptr, {}).status,
            200);
  EXPECT_EQ(client_->Get("/api/v4/leads/pipelines").status, 200);
  EXPECT_EQ(admin_->Send("DELETE", "/_emulator/faults/" + std::to_string(id), nullptr, {}).status,
            404);
  EXPECT_EQ(admin_->Send("DELETE", "/_emulator/faults", nullptr, {}).status, 200);
  EXPECT_EQ(Size(admin_->Get("/_emulator/faults").Json(), "faults"), 0u);
}

TEST_F(FaultsTest, ResetDropsTheConnectionWithoutAnAnswer) {
  AddFault(R"({"match":"GET /api/v4/account","fault":"reset"})");
  const Reply reply = Fresh("GET", "/api/v4/account", nullptr);
  EXPECT_EQ(reply.status, 0);
  EXPECT_TRUE(reply.curl_code == CURLE_RECV_ERROR || reply.curl_code == CURLE_GOT_NOTHING)
      << curl_easy_strerror(reply.curl_code);
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);

  // "apply": Kommo saved the lead, the client never heard: the duplicate-on-retry trap.
  AddFault(R"({"match":"POST /api/v4/leads","fault":"reset","apply":true})");
  const std::string body = R"([{"name":"saved but unanswered"}])";
  EXPECT_EQ(Fresh("POST", "/api/v4/leads", &body).status, 0);
  EXPECT_EQ(emulator_->lead_count(), 1u);
  const std::vector<LoggedRequest> log = emulator_->requests();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].fault, "reset");
  EXPECT_EQ(log[0].status, 0);
  EXPECT_TRUE(log[0].completed);
  EXPECT_FALSE(log[0].delivered);
  EXPECT_EQ(log[2].fault, "reset");
}

TEST_F(FaultsTest, MalformedJsonKeepsTheStatusAndHeaders) {
  AddFault(R"({"match":"GET /api/v4/leads/pipelines","fault":"malformed_json","times":2})");
  const Reply reply = client_->Get("/api/v4/leads/pipelines");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("content-type"), "application/hal+json");
  EXPECT_FALSE(reply.Header("x-request-id").empty());
  EXPECT_EQ(reply.curl_code, CURLE_OK);  // framing is intact: only the JSON is broken
  bool json_ok = true;
  reply.Json(&json_ok);
  EXPECT_FALSE(json_ok) << reply.body;
  EXPECT_THAT(reply.body, StartsWith(R"({"_total_items":2)"));
  // A bodyless answer (204) gets a broken body too.
  const Reply empty = client_->Get("/api/v4/leads/pipelines?x");
  empty.Json(&json_ok);
  EXPECT_FALSE(json_ok);
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(client_->Get("/api/v4/leads/pipelines").Json(&json_ok).IsObject(), true);
  EXPECT_TRUE(json_ok);
}

TEST_F(FaultsTest, CutBodyClosesBeforeTheDeclaredLength) {
  AddFault(R"({"match":"GET /api/v4/leads/pipelines","fault":"cut_body","cut_at":100})");
  const Reply reply = client_->Get("/api/v4/leads/pipelines");
  EXPECT_EQ(reply.curl_code, CURLE_PARTIAL_FILE) << curl_easy_strerror(reply.curl_code);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body.size(), 100u);
  EXPECT_GT(std::stoul(reply.Header("content-length")), 100u);
  EXPECT_EQ(client_->Get("/api/v4/leads/pipelines").curl_code, CURLE_OK);  // next one is whole

  // Default: half of the body; a write behind a cut answer is saved.
  AddFault(R"({"match":"POST /api/v4/leads","fault":"cut_body"})");
  const Reply cut = client_->Post("/api/v4/leads", R"([{"name":"cut"}])");
  EXPECT_EQ(cut.curl_code, CURLE_PARTIAL_FILE);
  EXPECT_EQ(emulator_->lead_count(), 1u);
}

TEST_F(FaultsTest, SlowBodyTricklesTheWholeBodyAndKeepsTheConnection) {
  const Reply normal = client_->Get("/api/v4/leads/pipelines");
  ASSERT_EQ(normal.status, 200);
  constexpr size_t kChunk = 256;
  const size_t pieces = (normal.body.size() + kChunk - 1) / kChunk;
  AddFault(R"({"match":"GET /api/v4/leads/pipelines","fault":"slow_body","chunk_bytes":256,)"
           R"("interval_ms":60})");
  const auto start = std::chrono::steady_clock::now();
  const Reply slow = client_->Get("/api/v4/leads/pipelines");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(slow.curl_code, CURLE_OK);
  EXPECT_EQ(slow.body, normal.body);
  EXPECT_GE(elapsed, pieces * 60ms - 10ms);
  EXPECT_EQ(slow.new_connections, 0);  // keep-alive survived
  EXPECT_EQ(client_->Get("/api/v4/account").new_connections, 0);
}

TEST_F(FaultsTest, LatencyDelaysOnlyMatchingRequestsAndIsLogged) {
  AddFault(R"({"match":"GET /api/v4/account","fault":"latency","delay_ms":300,"jitter_ms":40})");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(client_->Get("/api/v4/users").status, 200);
  const std::vector<LoggedRequest> log = emulator_->requests();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_GE(log[0].delay, 300ms);
  EXPECT_LE(log[0].delay, 340ms);
  EXPECT_EQ(log[0].fault, "");  // latency alone is not an answer fault
  EXPECT_EQ(log[1].delay, 0ms);
}

TEST_F(FaultsTest, StatusAfterADelayLikeAGatewayTimeout) {
  AddFault(R"({"fault":"status","status":504,"delay_ms":250})");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Get("/api/v4/account").status, 504);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST_F(FaultsTest, StartUpFaultsAreReArmedByReset) {
  EmulatorOptions options;
  FaultRule rule = StatusRule("GET", "/api/v4/account", 402);
  options.faults.push_back(rule);
  Start(std::move(options));
  EXPECT_EQ(client_->Get("/api/v4/account").status, 402);
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
  AddFault(R"({"fault":"status","status":500,"times":0})");
  ASSERT_EQ(client_->Post("/api/v4/leads", R"([{"name":"x"}])").status, 500);

  const Reply reset = admin_->Post("/_emulator/reset", "");
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(Int(reset.Json(), "faults"), 1);
  EXPECT_EQ(client_->Get("/api/v4/account").status, 402);  // armed again, the 500 rule is gone
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
  EXPECT_EQ(emulator_->requests().size(), 2u);  // the log restarted too
}

TEST_F(FaultsTest, CppApiAddsListsAndRemovesFaults) {
  FaultRule bad = StatusRule("GET", "/api/v4/account", 200);
  EXPECT_EQ(emulator_->AddFault(bad).status().code(), absl::StatusCode::kInvalidArgument);
  FaultRule rule = StatusRule("GET", "/api/v4/account", 503);
  rule.times = 0;
  absl::StatusOr<uint64_t> id = emulator_->AddFault(rule);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(client_->Get("/api/v4/account").status, 503);
  ASSERT_EQ(emulator_->faults().size(), 1u);
  EXPECT_EQ(emulator_->faults()[0].fired, 1u);
  EXPECT_TRUE(emulator_->RemoveFault(*id));
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
  ASSERT_TRUE(emulator_->AddFault(rule).ok());
  emulator_->ClearFaults();
  EXPECT_TRUE(emulator_->faults().empty());
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
}

// --- rate limit and block
// --------------------------------------------------------------------------

TEST_F(FaultsTest, RateLimitAnswers429ThenBlocksAfterConsecutive429s) {
  // 0.2/s: no token comes back during the test, however slow the machine.
  const Reply set = admin_->Post("/_emulator/rate_limit",
                                 R"({"rps":0.2,"burst":2,"retry_after":3,"block_after":3})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_TRUE(set.Json()["rate_limit"]["enabled"].GetBool());
  std::vector<long> statuses;
  std::vector<Reply> replies;
  for (int i = 0; i < 7; ++i) {
    replies.push_back(client_->Get("/api/v4/account"));
    statuses.push_back(replies.back().status);
  }
  EXPECT_THAT(statuses, ElementsAre(200, 200, 429, 429, 429, 403, 403));
  EXPECT_EQ(replies[2].Header("content-type"), "application/problem+json");
  EXPECT_EQ(Int(replies[2].Json(), "retry_after"), 3);
  EXPECT_EQ(replies[5].Header("content-type"), "text/html");
  EXPECT_EQ(replies[5].Header("x-request-id"), "");  // nginx's page, not Kommo's API
  EXPECT_THAT(replies[5].body, HasSubstr("<title>403 Forbidden</title>"));
  EXPECT_EQ(admin_->Get("/_emulator/health").status, 200);  // the admin API is never blocked
  EXPECT_TRUE(emulator_->blocked());

  const Reply state = admin_->Get("/_emulator/block");
  EXPECT_TRUE(state.Json()["blocked"].GetBool());
  EXPECT_EQ(Int(state.Json(), "rate_limited_total"), 3);
  const Reply unblock = admin_->Post("/_emulator/unblock", "");
  EXPECT_FALSE(unblock.Json()["blocked"].GetBool());
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);  // the bucket refilled

  const std::vector<LoggedRequest> log = emulator_->requests();
  ASSERT_EQ(log.size(), 8u);
  EXPECT_EQ(log[2].fault, "rate_limited");
  EXPECT_EQ(log[5].fault, "blocked");

  EXPECT_EQ(admin_->Send("DELETE", "/_emulator/rate_limit", nullptr, {}).status, 200);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(client_->Get("/api/v4/account").status, 200);
}

TEST_F(FaultsTest, RateLimitCanAnswerWithNginxHtml) {
  ASSERT_EQ(
      admin_->Post("/_emulator/rate_limit", R"({"rps":0.2,"burst":1,"response":"html"})").status,
      200);
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
  const Reply limited = client_->Get("/api/v4/account");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.Header("content-type"), "text/html");
  EXPECT_EQ(limited.Header("retry-after"), "");
  // block_after is 0: no block however many 429s.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(client_->Get("/api/v4/account").status, 429);
  EXPECT_FALSE(emulator_->blocked());
}

TEST_F(FaultsTest, RateLimitFromOptionsRefillsOnReset) {
  EmulatorOptions options;
  options.rate_limit.enabled = true;
  options.rate_limit.requests_per_second = 0.1;
  options.rate_limit.burst = 1;
  Start(std::move(options));
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
  EXPECT_EQ(client_->Get("/api/v4/account").status, 429);
  emulator_->Reset();
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
  EXPECT_EQ(client_->Get("/api/v4/account").status, 429);

  RateLimitOptions bad;
  bad.enabled = true;
  bad.burst = 0.5;
  EXPECT_EQ(emulator_->SetRateLimit(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(emulator_->SetRateLimit(RateLimitOptions{}).ok());  // off
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
}

TEST_F(FaultsTest, BlockWithADurationLiftsItself) {
  const Reply block = admin_->Post("/_emulator/block", R"({"seconds":0.6})");
  ASSERT_EQ(block.status, 200) << block.body;
  EXPECT_TRUE(block.Json()["blocked"].GetBool());
  EXPECT_EQ(client_->Get("/api/v4/leads").status, 403);
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(client_->Get("/api/v4/leads").status, 204);

  emulator_->Block();
  EXPECT_EQ(client_->Post("/api/v4/leads", R"([{"name":"x"}])").status, 403);
  EXPECT_EQ(emulator_->lead_count(), 0u);
  emulator_->Unblock();
  EXPECT_FALSE(emulator_->blocked());
  EXPECT_EQ(client_->Get("/api/v4/leads").status, 204);
}

// --- request log
// -----------------------------------------------------------------------------------

TEST_F(FaultsTest, RequestLogRecordsWhatTheClientSentButNeverTheToken) {
  const Reply created = client_->Post("/api/v4/leads?x=1", R"([{"name":"Deal","price":5}])");
  ASSERT_EQ(created.status, 200);
  const int64_t id = Int(created.Json(), "_embedded.leads.0.id");
  client_->Get("/api/v4/leads?filter%5Bid%5D%5B%5D=1&filter[id][]=2&query=big+deal%21");
  client_->Get("/api/v4/leads/" + std::to_string(id));
  client_->Get("/api/v4/leads/" + std::to_string(id + 1));
  TestClient anonymous(emulator_->base_url(), "");
  anonymous.Get("/api/v4/account");

  const Reply log = admin_->Get("/_emulator/requests");
  ASSERT_EQ(log.status, 200);
  EXPECT_THAT(log.body, Not(HasSubstr(kToken)));
  const rapidjson::Document doc = log.Json();
  ASSERT_EQ(Size(doc, "requests"), 5u);
  EXPECT_EQ(Str(doc, "requests.0.method"), "POST");
  EXPECT_EQ(Str(doc, "requests.0.path"), "/api/v4/leads");
  EXPECT_EQ(Str(doc, "requests.0.query.x.0"), "1");
  EXPECT_EQ(Str(doc, "requests.0.body"), R"([{"name":"Deal","price":5}])");
  EXPECT_EQ(Int(doc, "requests.0.status"), 200);
  EXPECT_EQ(Str(doc, "requests.0.request_id"), created.Header("x-request-id"));
  EXPECT_EQ(Str(doc, "requests.0.authorization"),
            AuthorizationFingerprint(std::string("Bearer ") + kToken));
  const std::string time = Str(doc, "requests.0.time");  // 2026-05-01T12:34:56.789Z
  EXPECT_EQ(time.size(), 24u);
  EXPECT_EQ(time.substr(10, 1) + time.substr(19, 1) + time.substr(23), "T.Z") << time;
  EXPECT_GT(Int(doc, "requests.0.time_ms"), 1700000000000);
  EXPECT_EQ(Str(doc, "requests.1.query.filter[id][].0"), "1");
  EXPECT_EQ(Str(doc, "requests.1.query.filter[id][].1"), "2");
  EXPECT_EQ(Str(doc, "requests.1.query.query.0"), "big deal!");
  EXPECT_EQ(Int(doc, "requests.3.status"), 204);
  EXPECT_TRUE(testing::IsNull(doc, "requests.4.authorization"));
  EXPECT_EQ(Int(doc, "requests.4.status"), 401);

  // Filters, and polling with since.
  const Reply posts = admin_->Get("/_emulator/requests?method=POST");
  EXPECT_EQ(Size(posts.Json(), "requests"), 1u);
  const Reply by_prefix = admin_->Get("/_emulator/requests?path_prefix=/api/v4/account");
  EXPECT_EQ(Size(by_prefix.Json(), "requests"), 1u);
  const int64_t since = Int(doc, "next_since");
  client_->Get("/api/v4/account");
  const Reply newer = admin_->Get("/_emulator/requests?since=" + std::to_string(since));
  ASSERT_EQ(Size(newer.Json(), "requests"), 1u);
  EXPECT_EQ(Str(newer.Json(), "requests.0.path"), "/api/v4/account");
  EXPECT_EQ(Size(admin_->Get("/_emulator/requests?limit=2").Json(), "requests"), 2u);

  // The same through the C++ API.
  const std::vector<LoggedRequest> entries = emulator_->requests();
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_TRUE(entries[0].authorization_present);
  EXPECT_FALSE(entries[4].authorization_present);
  EXPECT_EQ(entries[1].query.size(), 3u);
  EXPECT_EQ(entries[1].query[2], (std::pair<std::string, std::string>("query", "big deal!")));

  // Counts by method, route and status.
  const Reply counters = admin_->Get("/_emulator/counters");
  ASSERT_EQ(counters.status, 200);
  const rapidjson::Document counts = counters.Json();
  EXPECT_EQ(Int(counts, "total"), 6);
  bool found = false;
  for (const RequestCount& count : emulator_->request_counts()) {
    if (count.method == "GET" && count.path == "/api/v4/leads/{id}") {
      EXPECT_TRUE(count.status == 200 || count.status == 204);
      EXPECT_EQ(count.count, 1u);
      found = true;
    }
  }
  EXPECT_TRUE(found);

  EXPECT_EQ(admin_->Send("DELETE", "/_emulator/requests", nullptr, {}).status, 200);
  EXPECT_TRUE(emulator_->requests().empty());
  EXPECT_TRUE(emulator_->request_counts().empty());
  client_->Get("/api/v4/account");
  EXPECT_EQ(emulator_->requests().size(), 1u);
  emulator_->ClearRequests();
  EXPECT_TRUE(emulator_->requests().empty());
}

TEST_F(FaultsTest, RequestLogKeepsTheNewestAndCountsEverything) {
  EmulatorOptions options;
  options.request_log_limit = 3;
  Start(std::move(options));
  for (int i = 0; i < 5; ++i) client_->Get("/api/v4/account");
  const std::vector<LoggedRequest> log = emulator_->requests();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].sequence, 3u);
  EXPECT_EQ(Int(admin_->Get("/_emulator/requests").Json(), "dropped"), 2);
  ASSERT_EQ(emulator_->request_counts().size(), 1u);
  EXPECT_EQ(emulator_->request_counts()[0].count, 5u);
}

// --- the admin API's own errors
// ----------------------------------------------------------------------

TEST_F(FaultsTest, BadAdminInputIs400WithAMessage) {
  const auto expect_400 = [&](const std::string& path, const std::string& body,
                              const std::string& part) {
    const Reply reply = admin_->Post(path, body);
    EXPECT_EQ(reply.status, 400) << path << " " << body;
    EXPECT_EQ(reply.Header("content-type"), "application/problem+json");
    EXPECT_THAT(Str(reply.Json(), "detail"), HasSubstr(part)) << body;
  };
  expect_400("/_emulator/faults", "", "not valid JSON");
  expect_400("/_emulator/faults", "[1]", "fault rule 0: must be an object");
  expect_400("/_emulator/faults", R"({"fault":"status","status":429,"tims":3})",
             "unknown member \"tims\"");
  expect_400("/_emulator/rate_limit", R"({"rps":"7"})", "\"rps\" must be a number");
  expect_400("/_emulator/rate_limit", R"({"rps":7,"burst":0})", "\"burst\" must be");
  expect_400("/_emulator/rate_limit", R"({"rps":0})", "must be > 0");
  expect_400("/_emulator/rate_limit", R"({"response":"xml"})", "\"response\" must be one of");
  expect_400("/_emulator/rate_limit", R"([])", "must be a JSON object");
  expect_400("/_emulator/block", R"({"seconds":-1})", "\"seconds\" must be");
  expect_400("/_emulator/block", R"({"minutes":1})", "unknown member \"minutes\"");
  EXPECT_EQ(admin_->Get("/_emulator/requests?since=x").status, 400);
  EXPECT_EQ(admin_->Get("/_emulator/requests?sort=asc").status, 400);
  EXPECT_TRUE(emulator_->faults().empty());  // nothing half-applied
  EXPECT_EQ(admin_->Get("/_emulator/unblock").status, 405);
  EXPECT_EQ(admin_->Send("PUT", "/_emulator/faults", nullptr, {}).status, 405);
  EXPECT_EQ(admin_->Send("DELETE", "/_emulator/faults/abc", nullptr, {}).status, 404);
}

TEST_F(FaultsTest, DataResetLeavesFaultsAlone) {
  AddFault(R"({"match":"GET /api/v4/account","fault":"status","status":503,"times":0})");
  ASSERT_EQ(client_->Post("/api/v4/leads", R"([{"name":"x"}])").status, 200);
  EXPECT_EQ(admin_->Send("DELETE", "/_emulator/data", nullptr, {}).status, 200);
  EXPECT_EQ(emulator_->lead_count(), 0u);
  EXPECT_EQ(client_->Get("/api/v4/account").status, 503);
  emulator_->ResetData();
  EXPECT_EQ(client_->Get("/api/v4/account").status, 503);
  emulator_->Reset();
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);
}

}  // namespace
}  // namespace kommo::emulator
