// The emulator's webhooks: subscriptions over Kommo's API, deliveries received by an HTTP
// listener of the test's own on 127.0.0.1 (port 0) and parsed as form bodies, several entities
// per delivery, Kommo's retry schedule (compressed by the time scale), unreachable and silent
// receivers, and the lost, duplicated and reordered delivery faults.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "emulator/emulator.h"
#include "emulator/event_loop.h"
#include "emulator/http_message.h"
#include "emulator/http_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/emulator/test_client.h"

namespace kommo::emulator {
namespace {

using namespace std::chrono_literals;
using testing::ExpectProblem;
using testing::ExpectValidationError;
using ::testing::HasSubstr;
using testing::Int;
using testing::Reply;
using testing::Size;
using testing::Str;
using testing::TestClient;

constexpr char kToken[] = "webhooks-token";
constexpr int64_t kStartTime = 1750000000;

std::string Id(int64_t id) { return std::to_string(id); }

// A form body as its receiver parses it: key → value (both decoded).
using Form = std::map<std::string, std::string>;

Form ParseForm(const std::string& body) {
  Form form;
  for (auto& [key, value] : ParseQuery(body)) form[key] = value;
  return form;
}

// How many entities of one "<entity>[<action>]" group a form carries.
size_t Count(const Form& form, const std::string& group) {
  size_t n = 0;
  while (form.count(group + "[" + std::to_string(n) + "][id]") > 0) ++n;
  return n;
}

struct Received {
  std::string path;
  std::string content_type;
  std::string body;
  Form form;
  std::chrono::steady_clock::time_point at;
};

// An HTTP listener on 127.0.0.1, port 0, on a thread of its own: records every request and
// answers with the scripted statuses (then 200), or never when silent.
class Receiver {
 public:
  Receiver() {
    loop_ = *EventLoop::Create();
    auto server = HttpServer::Create(loop_.get(), "127.0.0.1:0", HttpServerOptions{},
                                     [this](HttpRequest request, Responder responder) {
                                       OnRequest(std::move(request), std::move(responder));
                                     });
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    thread_ = std::thread([this] { loop_->Run(); });
  }
  ~Receiver() {
    loop_->Quit();
    thread_.join();
    server_.reset();
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  void Script(std::vector<int> statuses) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.assign(statuses.begin(), statuses.end());
  }
  void set_silent(bool silent) {
    std::lock_guard<std::mutex> lock(mu_);
    silent_ = silent;
  }
  // Waits until `count` requests arrived (or `timeout` passed); returns all received so far.
  std::vector<Received> WaitFor(size_t count, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return received_.size() >= count; });
    return received_;
  }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  void OnRequest(HttpRequest request, Responder responder) {
    int status = 200;
    bool silent = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const std::string* type = request.Header("content-type");
      received_.push_back(Received{request.path, type != nullptr ? *type : "", request.body,
                                   ParseForm(request.body), std::chrono::steady_clock::now()});
      if (!script_.empty()) {
        status = script_.front();
        script_.pop_front();
      }
      silent = silent_;
    }
    cv_.notify_all();
    if (silent) {
      held_.push_back(responder);  // answered never (the connection closes with the server)
      return;
    }
    responder.Send(HttpResponse::WithBody(status, "text/plain", "ok"));
  }

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  std::deque<int> script_;
  bool silent_ = false;
  std::vector<Responder> held_;  // loop thread only
};

// A loopback port nothing listens on.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t length = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  close(fd);
  return ntohs(addr.sin_port);
}

class WebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.token = kToken;
    options.manager_token = "manager-token";
    options.clock = [] { return kStartTime; };
    options.webhooks.time_scale = 0.0002;  // +5 min → 60 ms, +15 min → 180 ms, +1 h → 720 ms
    auto emulator = Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    client_ = std::make_unique<TestClient>(emulator_->base_url(), kToken);
  }

  void Subscribe(const std::string& destination, const std::string& settings_json) {
    const Reply reply =
        client_->Post("/api/v4/webhooks", R"({"destination":")" + destination + R"(","settings":)" +
                                              settings_json + "}");
    ASSERT_EQ(reply.status, 201) << reply.body;
  }
  int64_t CreateLead(const std::string& name) {
    const Reply reply = client_->Post("/api/v4/leads", R"([{"name":")" + name + R"("}])");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? Int(reply.Json(), "_embedded.leads.0.id") : 0;
  }
  // Polls the emulator until delivery `index` (0-based, oldest first) is in `state`.
  WebhookDelivery WaitForDelivery(size_t index, WebhookDelivery::State state,
                                  std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<WebhookDelivery> deliveries;
    while (std::chrono::steady_clock::now() < deadline) {
      deliveries = emulator_->webhook_deliveries();
      if (deliveries.size() > index && deliveries[index].state == state) return deliveries[index];
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "delivery " << index << " never reached state "
                  << WebhookDeliveryStateName(state);
    return deliveries.size() > index ? deliveries[index] : WebhookDelivery{};
  }

  Receiver receiver_;
  std::unique_ptr<Emulator> emulator_;
  std::unique_ptr<TestClient> client_;
};

// --- subscriptions ----------------------------------------------------------------------------

TEST_F(WebhooksTest, SubscriptionsAreMadeListedReplacedAndDeletedLikeKommos) {
  const std::string hook = receiver_.Url("/hook");
  const Reply created = client_->Post(
      "/api/v4/webhooks",
      R"({"destination":")" + hook + R"(","settings":["add_lead","status_lead"],"sort":10})");
  ASSERT_EQ(created.status, 201) << created.body;
  const rapidjson::Document doc = created.Json();
  const int64_t id = Int(doc, "id");
  EXPECT_EQ(Str(doc, "destination"), hook);
  EXPECT_EQ(Int(doc, "account_id"), kAccountId);
  EXPECT_EQ(Int(doc, "created_by"), kAdminUserId);
  EXPECT_EQ(Int(doc, "created_at"), kStartTime);
  EXPECT_EQ(Int(doc, "sort"), 10);
  EXPECT_FALSE(testing::Bool(doc, "disabled"));
  EXPECT_EQ(Str(doc, "settings.1"), "status_lead");

  // The same destination replaces the settings and keeps the id.
  const Reply again = client_->Post(
      "/api/v4/webhooks", R"({"destination":")" + hook + R"(","settings":["update_contact"]})");
  ASSERT_EQ(again.status, 201);
  EXPECT_EQ(Int(again.Json(), "id"), id);
  EXPECT_EQ(Size(again.Json(), "settings"), 1u);

  Subscribe(receiver_.Url("/other"), R"(["add_contact"])");
  const Reply listed = client_->Get("/api/v4/webhooks");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(Int(listed.Json(), "_total_items"), 2);
  const Reply filtered = client_->Get("/api/v4/webhooks?filter[destination]=" + hook);
  ASSERT_EQ(filtered.status, 200);
  EXPECT_EQ(Size(filtered.Json(), "_embedded.webhooks"), 1u);
  EXPECT_EQ(Str(filtered.Json(), "_embedded.webhooks.0.settings.0"), "update_contact");

  const std::string body = R"({"destination":")" + hook + R"("})";
  EXPECT_EQ(client_->Send("DELETE", "/api/v4/webhooks", &body, {}).status, 204);
  ExpectProblem(client_->Send("DELETE", "/api/v4/webhooks", &body, {}), 404, "not found");
  EXPECT_EQ(client_->Get("/api/v4/webhooks?filter[destination]=" + hook).status, 204);
}

TEST_F(WebhooksTest, BadSubscriptionsAreRefused) {
  ExpectValidationError(
      client_->Post("/api/v4/webhooks",
                    R"({"destination":"https://example.com/hook","settings":["add_lead"]})"),
      "0", "InvalidUrl", "destination");
  ExpectValidationError(
      client_->Post("/api/v4/webhooks",
                    R"({"destination":"http://192.0.2.1/hook","settings":["add_lead"]})"),
      "0", "InvalidUrl", "destination");
  ExpectValidationError(client_->Post("/api/v4/webhooks", R"({"settings":["add_lead"]})"), "0",
                        "NotBlank", "destination");
  ExpectValidationError(
      client_->Post("/api/v4/webhooks", R"({"destination":")" + receiver_.Url("/h") +
                                            R"(","settings":["add_lead","fly_lead"]})"),
      "0", "NotSupportedChoice", "settings.1");
  ExpectValidationError(
      client_->Post("/api/v4/webhooks",
                    R"({"destination":")" + receiver_.Url("/h") + R"(","settings":[]})"),
      "0", "NotBlank", "settings");
  ExpectProblem(client_->Post("/api/v4/webhooks", "[]"), 400, "JSON object");
  TestClient manager(emulator_->base_url(), "manager-token");
  ExpectProblem(manager.Get("/api/v4/webhooks"), 403, "administrators");
  ExpectProblem(client_->Patch("/api/v4/webhooks", "{}"), 405, "not allowed");

  EXPECT_EQ(emulator_->AddWebhook("http://example.com/", {"add_lead"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(emulator_->AddWebhook(receiver_.Url("/h"), {"nope"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(emulator_->AddWebhook("http://localhost:1/x?y=1", {"add_lead"}).ok());
  EXPECT_TRUE(emulator_->AddWebhook("http://[::1]:1/", {"add_lead"}).ok());
}

// --- deliveries -------------------------------------------------------------------------------

TEST_F(WebhooksTest, ABatchWriteIsOneDeliveryWithEveryEntity) {
  Subscribe(receiver_.Url("/hook?secret=s3"), R"(["add_lead","update_lead","status_lead"])");
  const Reply created = client_->Post(
      "/api/v4/leads",
      "[{\"name\":\"One\",\"price\":10},{\"name\":\"Two & more\"},"
      "{\"name\":\"Three\",\"tags_to_add\":[{\"name\":\"vip\"}],"
      "\"custom_fields_values\":[{\"field_id\":" +
          Id(kProductFieldId) + ",\"values\":[{\"enum_id\":" + Id(kProductProEnumId) + "}]}]}]");
  ASSERT_EQ(created.status, 200) << created.body;
  const std::vector<Received> received = receiver_.WaitFor(1);
  ASSERT_EQ(received.size(), 1u);
  const Received& delivery = received[0];
  EXPECT_EQ(delivery.path, "/hook");
  EXPECT_EQ(delivery.content_type, "application/x-www-form-urlencoded");
  const Form& form = delivery.form;
  ASSERT_EQ(Count(form, "leads[add]"), 3u) << delivery.body;
  const int64_t first = Int(created.Json(), "_embedded.leads.0.id");
  EXPECT_EQ(form.at("leads[add][0][id]"), Id(first));
  EXPECT_EQ(form.at("leads[add][0][name]"), "One");
  EXPECT_EQ(form.at("leads[add][0][price]"), "10");
  EXPECT_EQ(form.at("leads[add][0][status_id]"), Id(kMainPipelineFirstStatusId));
  EXPECT_EQ(form.at("leads[add][0][pipeline_id]"), Id(kMainPipelineId));
  EXPECT_EQ(form.at("leads[add][0][responsible_user_id]"), Id(kAdminUserId));
  EXPECT_EQ(form.at("leads[add][0][date_create]"), Id(kStartTime));
  EXPECT_EQ(form.at("leads[add][0][account_id]"), Id(kAccountId));
  EXPECT_EQ(form.at("leads[add][1][name]"), "Two & more");
  EXPECT_EQ(form.at("leads[add][2][tags][0][name]"), "vip");
  EXPECT_EQ(form.at("leads[add][2][custom_fields][0][id]"), Id(kProductFieldId));
  EXPECT_EQ(form.at("leads[add][2][custom_fields][0][values][0][value]"), "Pro");
  EXPECT_EQ(form.at("leads[add][2][custom_fields][0][values][0][enum]"), Id(kProductProEnumId));
  EXPECT_EQ(form.at("account[id]"), Id(kAccountId));
  EXPECT_EQ(form.at("account[subdomain]"), kAccountSubdomain);
  EXPECT_EQ(form.at("account[_links][self]"), emulator_->base_url());
  EXPECT_EQ(form.count("leads[update][0][id]"), 0u);

  // A batch update moving two leads: leads[status] with the old stage, and leads[update].
  const int64_t second = Int(created.Json(), "_embedded.leads.1.id");
  ASSERT_EQ(client_
                ->Patch("/api/v4/leads", "[{\"id\":" + Id(first) + ",\"status_id\":" +
                                             Id(kWonStatusId) + "},{\"id\":" + Id(second) +
                                             ",\"pipeline_id\":" + Id(kSecondPipelineId) + "}]")
                .status,
            200);
  const Form moved = receiver_.WaitFor(2).at(1).form;
  ASSERT_EQ(Count(moved, "leads[status]"), 2u);
  EXPECT_EQ(moved.at("leads[status][0][id]"), Id(first));
  EXPECT_EQ(moved.at("leads[status][0][status_id]"), Id(kWonStatusId));
  EXPECT_EQ(moved.at("leads[status][0][old_status_id]"), Id(kMainPipelineFirstStatusId));
  EXPECT_EQ(moved.at("leads[status][0][old_pipeline_id]"), Id(kMainPipelineId));
  EXPECT_EQ(moved.at("leads[status][1][pipeline_id]"), Id(kSecondPipelineId));
  EXPECT_EQ(moved.at("leads[status][1][old_pipeline_id]"), Id(kMainPipelineId));
  EXPECT_EQ(Count(moved, "leads[update]"), 2u);
  EXPECT_EQ(moved.count("leads[update][0][old_status_id]"), 0u);
}

TEST_F(WebhooksTest, ContactsCompaniesResponsibleNotesAndDeletesAreDelivered) {
  Subscribe(receiver_.Url("/hook"),
            R"(["add_contact","update_contact","responsible_contact","note_contact",
                "add_company","delete_lead","restore_lead","responsible_lead"])");
  const Reply contact = client_->Post(
      "/api/v4/contacts", R"([{"name":"Ann","custom_fields_values":[{"field_code":"PHONE",)"
                          R"("values":[{"value":"+1 555 0100","enum_code":"MOB"}]}]}])");
  ASSERT_EQ(contact.status, 200);
  const int64_t contact_id = Int(contact.Json(), "_embedded.contacts.0.id");
  Form form = receiver_.WaitFor(1).at(0).form;
  EXPECT_EQ(form.at("contacts[add][0][id]"), Id(contact_id));
  EXPECT_EQ(form.at("contacts[add][0][type]"), "contact");
  EXPECT_EQ(form.at("contacts[add][0][custom_fields][0][code]"), "PHONE");
  EXPECT_EQ(form.at("contacts[add][0][custom_fields][0][values][0][value]"), "+1 555 0100");
  EXPECT_EQ(form.at("contacts[add][0][custom_fields][0][values][0][enum]"), Id(kPhoneMobEnumId));

  // A company arrives under "contacts" with type=company, as Kommo sends it.
  ASSERT_EQ(client_->Post("/api/v4/companies", R"([{"name":"Acme"}])").status, 200);
  form = receiver_.WaitFor(2).at(1).form;
  EXPECT_EQ(form.at("contacts[add][0][type]"), "company");
  EXPECT_EQ(form.at("contacts[add][0][name]"), "Acme");

  // The responsible user changes: responsible and update in one delivery.
  ASSERT_EQ(client_
                ->Patch("/api/v4/contacts/" + Id(contact_id),
                        "{\"responsible_user_id\":" + Id(kManagerUserId) + "}")
                .status,
            200);
  form = receiver_.WaitFor(3).at(2).form;
  EXPECT_EQ(form.at("contacts[responsible][0][responsible_user_id]"), Id(kManagerUserId));
  EXPECT_EQ(form.at("contacts[responsible][0][old_responsible_user_id]"), Id(kAdminUserId));
  EXPECT_EQ(form.at("contacts[update][0][id]"), Id(contact_id));

  // A note.
  const Reply note = client_->Post("/api/v4/contacts/notes",
                                   "[{\"entity_id\":" + Id(contact_id) +
                                       ",\"note_type\":\"common\",\"params\":{\"text\":\"Hi\"}}]");
  ASSERT_EQ(note.status, 200);
  form = receiver_.WaitFor(4).at(3).form;
  EXPECT_EQ(form.at("contacts[note][0][note][id]"), Id(Int(note.Json(), "_embedded.notes.0.id")));
  EXPECT_EQ(form.at("contacts[note][0][note][text]"), "Hi");
  EXPECT_EQ(form.at("contacts[note][0][note][element_id]"), Id(contact_id));
  EXPECT_EQ(form.at("contacts[note][0][note][element_type]"), "1");

  // A lead deleted and restored: delete carries the id only.
  const int64_t lead = CreateLead("Gone");  // add_lead is not subscribed: no delivery
  ASSERT_TRUE(emulator_->DeleteEntity("leads", lead).ok());
  form = receiver_.WaitFor(5).at(4).form;
  EXPECT_EQ(form.at("leads[delete][0][id]"), Id(lead));
  EXPECT_EQ(form.count("leads[delete][0][name]"), 0u);
  ASSERT_TRUE(emulator_->RestoreEntity("leads", lead).ok());
  form = receiver_.WaitFor(6).at(5).form;
  EXPECT_EQ(form.at("leads[restore][0][name]"), "Gone");
  EXPECT_EQ(receiver_.received().size(), 6u);
}

TEST_F(WebhooksTest, AFailedAnswerIsRetriedOnKommosScheduleScaled) {
  Subscribe(receiver_.Url("/hook"), R"(["add_lead"])");
  receiver_.Script({500, 200});
  CreateLead("Retry me");
  const std::vector<Received> received = receiver_.WaitFor(2);
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].body, received[1].body);
  const auto gap = received[1].at - received[0].at;
  EXPECT_GE(gap, 55ms);  // +5 min × 0.0002 = 60 ms
  const WebhookDelivery delivery = WaitForDelivery(0, WebhookDelivery::State::kDelivered);
  ASSERT_EQ(delivery.attempts.size(), 2u);
  EXPECT_EQ(delivery.attempts[0].status, 500);
  EXPECT_EQ(delivery.attempts[1].status, 200);

  // 5xx every time: five attempts in all (+5, +15, +15 min, +1 h), then given up.
  receiver_.Script({503, 503, 503, 503, 503, 503});
  CreateLead("Always failing");
  const WebhookDelivery failed = WaitForDelivery(1, WebhookDelivery::State::kFailed);
  EXPECT_EQ(failed.attempts.size(), 5u);
  const std::vector<Received> all = receiver_.received();
  ASSERT_EQ(all.size(), 7u);
  EXPECT_GE(all[6].at - all[5].at, 700ms);  // the last wait is the hour (720 ms)
  EXPECT_GE(all[5].at - all[4].at, 170ms);

  // 4xx: only the first two retries.
  receiver_.Script({404, 404, 404, 404});
  CreateLead("Not found");
  const WebhookDelivery refused = WaitForDelivery(2, WebhookDelivery::State::kFailed);
  EXPECT_EQ(refused.attempts.size(), 3u);
  EXPECT_EQ(refused.attempts.back().status, 404);
}

TEST_F(WebhooksTest, UnreachableAndSilentReceiversNeverStopTheEmulator) {
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/hook";
  Subscribe(nowhere, R"(["add_lead"])");
  CreateLead("Nobody listens");
  const WebhookDelivery failed = WaitForDelivery(0, WebhookDelivery::State::kFailed);
  ASSERT_EQ(failed.attempts.size(), 3u);  // no answer is not a 5xx: no 4th and 5th attempt
  EXPECT_EQ(failed.attempts[0].status, 0);
  EXPECT_THAT(failed.attempts[0].error, HasSubstr("connect"));
  EXPECT_EQ(client_->Get("/api/v4/account").status, 200);

  // A receiver that never answers: the attempt times out (it counts like a 499) and the
  // emulator answers its own clients meanwhile.
  const std::string body = R"({"destination":")" + nowhere + R"("})";
  ASSERT_EQ(client_->Send("DELETE", "/api/v4/webhooks", &body, {}).status, 204);
  WebhookOptions options;
  options.time_scale = 0.0002;
  options.timeout = 300ms;
  ASSERT_TRUE(emulator_->SetWebhookOptions(options).ok());
  receiver_.set_silent(true);
  Subscribe(receiver_.Url("/slow"), R"(["add_lead"])");
  CreateLead("Into the void");
  receiver_.WaitFor(1);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Get("/api/v4/leads").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);
  const WebhookDelivery retrying = WaitForDelivery(1, WebhookDelivery::State::kRetrying);
  EXPECT_EQ(retrying.attempts[0].error, "timeout");
  const WebhookDelivery gave_up = WaitForDelivery(1, WebhookDelivery::State::kFailed, 15s);
  EXPECT_EQ(gave_up.attempts.size(), 5u);
}

TEST_F(WebhooksTest, LostDuplicatedAndReorderedDeliveries) {
  Subscribe(receiver_.Url("/hook"), R"(["add_lead"])");

  // Lost: the first delivery is never sent, the next one is.
  WebhookFaultRule lost;
  lost.fault = WebhookFault::kLost;
  ASSERT_TRUE(emulator_->AddWebhookFault(lost).ok());
  CreateLead("Lost");
  const int64_t kept = CreateLead("Kept");
  ASSERT_EQ(receiver_.WaitFor(1).size(), 1u);
  EXPECT_EQ(receiver_.received()[0].form.at("leads[add][0][id]"), Id(kept));
  EXPECT_EQ(emulator_->webhook_deliveries()[0].state, WebhookDelivery::State::kLost);
  EXPECT_EQ(emulator_->webhook_deliveries()[0].fault, "lost");

  // Duplicated: the same body twice.
  emulator_->ClearWebhookFaults();
  WebhookFaultRule duplicate;
  duplicate.fault = WebhookFault::kDuplicate;
  ASSERT_TRUE(emulator_->AddWebhookFault(duplicate).ok());
  const int64_t twice = CreateLead("Twice");
  const std::vector<Received> received = receiver_.WaitFor(3);
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[1].body, received[2].body);
  EXPECT_EQ(received[2].form.at("leads[add][0][id]"), Id(twice));
  const WebhookDelivery copy = WaitForDelivery(3, WebhookDelivery::State::kDelivered);
  EXPECT_EQ(copy.duplicate_of, emulator_->webhook_deliveries()[2].id);

  // Reordered: the first of two deliveries arrives after the second.
  emulator_->ClearWebhookFaults();
  WebhookOptions options;
  options.time_scale = 0.0002;
  options.reorder_hold = 5s;  // long enough for the second write to come first
  ASSERT_TRUE(emulator_->SetWebhookOptions(options).ok());
  WebhookFaultRule reorder;
  reorder.fault = WebhookFault::kReorder;
  ASSERT_TRUE(emulator_->AddWebhookFault(reorder).ok());
  const int64_t early = CreateLead("Early");
  const int64_t late = CreateLead("Late");
  const std::vector<Received> order = receiver_.WaitFor(5);
  ASSERT_EQ(order.size(), 5u);
  EXPECT_EQ(order[3].form.at("leads[add][0][id]"), Id(late));
  EXPECT_EQ(order[4].form.at("leads[add][0][id]"), Id(early));
  EXPECT_LT(order[4].at - order[3].at, 2s);  // released by the next delivery, not the hold timer

  // A lone reordered delivery is sent once the hold runs out.
  options.reorder_hold = 100ms;
  ASSERT_TRUE(emulator_->SetWebhookOptions(options).ok());
  ASSERT_TRUE(emulator_->AddWebhookFault(reorder).ok());
  CreateLead("Alone");
  EXPECT_EQ(receiver_.WaitFor(6).size(), 6u);
}

TEST_F(WebhooksTest, FaultsAndOptionsOverTheAdminApi) {
  TestClient admin(emulator_->base_url(), "");
  Subscribe(receiver_.Url("/hook"), R"(["add_lead"])");
  const Reply faults = admin.Post("/_emulator/webhooks/faults",
                                  R"([{"fault":"lost","after":1},{"fault":"duplicate","times":0,
                                       "destination":"http://127.0.0.1:1/"}])");
  ASSERT_EQ(faults.status, 200) << faults.body;
  EXPECT_EQ(Size(faults.Json(), "ids"), 2u);
  EXPECT_EQ(admin.Post("/_emulator/webhooks/faults", R"({"fault":"melt"})").status, 400);
  EXPECT_EQ(admin.Post("/_emulator/webhooks/faults", R"({"fault":"lost","colour":1})").status, 400);
  CreateLead("First");   // passes (after: 1); the duplicate rule matches another destination
  CreateLead("Second");  // lost
  CreateLead("Third");
  ASSERT_EQ(receiver_.WaitFor(2).size(), 2u);
  const Reply state = admin.Get("/_emulator/webhooks/faults");
  EXPECT_EQ(Int(state.Json(), "faults.0.fired"), 1);
  EXPECT_EQ(Int(state.Json(), "faults.1.matched"), 0);

  const Reply deliveries = admin.Get("/_emulator/webhooks/deliveries");
  ASSERT_EQ(deliveries.status, 200);
  EXPECT_EQ(Size(deliveries.Json(), "deliveries"), 3u);
  EXPECT_EQ(Str(deliveries.Json(), "deliveries.1.state"), "lost");
  EXPECT_THAT(Str(deliveries.Json(), "deliveries.0.body"), HasSubstr("leads%5Badd%5D"));

  const Reply options = admin.Post("/_emulator/webhooks", R"({"time_scale":0.5,"timeout_ms":100})");
  ASSERT_EQ(options.status, 200) << options.body;
  EXPECT_EQ(Int(options.Json(), "options.timeout_ms"), 100);
  EXPECT_EQ(admin.Post("/_emulator/webhooks", R"({"time_scale":0})").status, 400);
  EXPECT_EQ(Size(admin.Get("/_emulator/webhooks").Json(), "webhooks"), 1u);

  // Reset: no webhooks, no faults, no deliveries.
  emulator_->Reset();
  EXPECT_EQ(Size(admin.Get("/_emulator/webhooks").Json(), "webhooks"), 0u);
  EXPECT_EQ(Size(admin.Get("/_emulator/webhooks/faults").Json(), "faults"), 0u);
  EXPECT_TRUE(emulator_->webhook_deliveries().empty());
}

TEST_F(WebhooksTest, ADestinationFailingMoreThan100TimesIn2HoursIsDisabled) {
  // Kommo's real delays: every delivery fails once and waits 5 minutes for its retry, so the
  // 101 failures all fall inside the 2-hour window.
  ASSERT_TRUE(emulator_->SetWebhookOptions(WebhookOptions{}).ok());
  Subscribe(receiver_.Url("/hook"), R"(["add_lead"])");
  receiver_.Script(std::vector<int>(101, 400));
  for (int i = 0; i < 101; ++i) CreateLead("L" + std::to_string(i));
  ASSERT_EQ(receiver_.WaitFor(101, 20s).size(), 101u);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool disabled = false;
  while (!disabled && std::chrono::steady_clock::now() < deadline) {
    const Reply listed = client_->Get("/api/v4/webhooks");
    disabled =
        listed.status == 200 && testing::Bool(listed.Json(), "_embedded.webhooks.0.disabled");
    if (!disabled) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(disabled);
  CreateLead("After");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(receiver_.received().size(), 101u);  // a disabled webhook gets nothing
  EXPECT_EQ(emulator_->webhook_deliveries().back().state, WebhookDelivery::State::kFailed);

  // Subscribing the destination again enables it.
  Subscribe(receiver_.Url("/hook"), R"(["add_lead"])");
  CreateLead("Back");
  EXPECT_EQ(receiver_.WaitFor(102).size(), 102u);
}

}  // namespace
}  // namespace kommo::emulator
