// Tasks through the Kommo client's one write path, against a small model of Kommo's /tasks on a
// fake clock: concurrent creates share batches, completions of one task go in order, unknown
// tasks and entities are NOT_FOUND with their reasons, and ListTasks keeps to the due range.

#include <deque>
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
#include "server/common/error_details.h"
#include "server/kommo/kommo_client.h"
#include "tests/support/fake_event_loop.h"
#include "tests/support/matches.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Kommo's tasks as far as these tests need them. Writes apply when the request arrives; the
// answer comes `latency` later. A scripted fault answers a write 503 after applying it.
class ModelTasks final : public http::HttpTransport {
 public:
  struct Task {
    std::string text;
    int64_t due = 0;
    std::string entity_type;
    int64_t entity_id = 0;
    bool completed = false;
    std::optional<std::string> result;
  };

  explicit ModelTasks(FakeEventLoop* loop) : loop_(loop) {}

  absl::Duration latency = absl::Milliseconds(100);
  std::deque<bool> fail_after_applying;  // one per write request, in order
  std::map<int64_t, Task> tasks;
  std::set<int64_t> leads = {31000000001};
  bool more_pages = false;  // list answers say there is a next page
  std::vector<http::HttpRequest> requests;
  std::vector<absl::Time> sent_at;

  RequestId Send(http::HttpRequest request, Callback done) override {
    requests.push_back(request);
    sent_at.push_back(loop_->Now());
    http::HttpResponse response = Handle(request);
    timers_.push_back(
        loop_->RunAt(loop_->Now() + latency, [done = std::move(done), response]() mutable {
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
  static std::string TaskJson(int64_t id, const Task& task) {
    return absl::StrCat(
        R"({"id":)", id, R"(,"text":")", task.text, R"(","complete_till":)", task.due,
        R"(,"entity_type":)",
        task.entity_type.empty() ? "null" : absl::StrCat("\"", task.entity_type, "\""),
        R"(,"entity_id":)", task.entity_type.empty() ? "null" : absl::StrCat(task.entity_id),
        R"(,"is_completed":)", task.completed ? "true" : "false", R"(,"result":)",
        task.result.has_value() ? absl::StrCat(R"({"text":")", *task.result, "\"}") : "[]",
        R"(,"task_type_id":1,"created_at":1700000000,"updated_at":1700000000})");
  }

  static http::HttpResponse Invalid(const std::vector<std::string>& errors) {
    return http::HttpResponse{
        400,
        absl::StrCat(R"({"title":"Bad Request","status":400,"validation-errors":[)",
                     absl::StrJoin(errors, ","), "]}"),
        {}};
  }

  http::HttpResponse Handle(const http::HttpRequest& request) {
    if (request.method == http::Method::kGet) {
      std::vector<std::pair<int64_t, const Task*>> found;
      const auto ids = ::kommo::testing::AllMatches(request.url, R"re(filter\[id\]\[\]=(\d+))re");
      for (const auto& [id, task] : tasks) {
        if (ids.empty() || std::find(ids.begin(), ids.end(), absl::StrCat(id)) != ids.end()) {
          found.emplace_back(id, &task);
        }
      }
      if (found.empty()) return http::HttpResponse{204, "", {}};
      std::stable_sort(found.begin(), found.end(),
                       [](const auto& a, const auto& b) { return a.second->due > b.second->due; });
      std::vector<std::string> items;
      for (const auto& [id, task] : found) items.push_back(TaskJson(id, *task));
      return http::HttpResponse{
          200,
          absl::StrCat(R"({"_links":{"self":{"href":"x"})",
                       more_pages && ids.empty() ? R"(,"next":{"href":"y"})" : "",
                       R"(},"_embedded":{"tasks":[)", absl::StrJoin(items, ","), "]}}"),
          {}};
    }
    const bool fail = !fail_after_applying.empty() && fail_after_applying.front();
    if (!fail_after_applying.empty()) fail_after_applying.pop_front();
    std::vector<std::string> results;
    std::vector<std::string> errors;
    if (request.method == http::Method::kPost) {
      const std::regex item(
          R"re(\{"text":"([^"]*)","complete_till":(\d+)(?:,"entity_type":"(\w+)","entity_id":(\d+))?[^{}]*"request_id":"(\d+)"\})re");
      std::vector<std::pair<std::string, Task>> valid;
      for (auto it = std::sregex_iterator(request.body.begin(), request.body.end(), item);
           it != std::sregex_iterator(); ++it) {
        Task task{(*it)[1], std::stoll((*it)[2]), (*it)[3], 0, false, std::nullopt};
        if ((*it)[4].matched) task.entity_id = std::stoll((*it)[4]);
        const std::string request_id = (*it)[5];
        if (task.entity_type == "leads" && leads.count(task.entity_id) == 0) {
          errors.push_back(absl::StrCat(
              R"({"request_id":")", request_id,
              R"(","errors":[{"code":"NotFound","path":"entity_id","detail":"Entity not found"}]})"));
          continue;
        }
        valid.emplace_back(request_id, task);
      }
      if (!errors.empty()) return Invalid(errors);
      for (auto& [request_id, task] : valid) {
        const int64_t id = next_id_++;
        tasks[id] = task;
        results.push_back(absl::StrCat(R"({"id":)", id, R"(,"request_id":")", request_id, "\"}"));
      }
    } else {
      const std::regex item(
          R"re(\{"id":(\d+),"is_completed":true(?:,"result":\{"text":"([^"]*)"\})?,"request_id":"(\d+)"\})re");
      for (auto it = std::sregex_iterator(request.body.begin(), request.body.end(), item);
           it != std::sregex_iterator(); ++it) {
        const int64_t id = std::stoll((*it)[1]);
        const std::string request_id = (*it)[3];
        auto task = tasks.find(id);
        if (task == tasks.end()) {
          errors.push_back(absl::StrCat(
              R"({"request_id":")", request_id,
              R"(","errors":[{"code":"NotSupportedChoice","path":"id","detail":"Task not found"}]})"));
          continue;
        }
        task->second.completed = true;
        if ((*it)[2].matched) task->second.result = (*it)[2];
        results.push_back(absl::StrCat(R"({"id":)", id, R"(,"request_id":")", request_id, "\"}"));
      }
      if (!errors.empty()) return Invalid(errors);
    }
    if (fail) return http::HttpResponse{503, "<html>503</html>", {}};
    return http::HttpResponse{
        200, absl::StrCat(R"({"_embedded":{"tasks":[)", absl::StrJoin(results, ","), "]}}"), {}};
  }

  FakeEventLoop* loop_;
  int64_t next_id_ = 78000000001;
  std::vector<EventLoop::TimerPtr> timers_;
};

class TaskWritesTest : public ::testing::Test {
 protected:
  TaskWritesTest() : kommo_(&loop_) {}

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

  using Result = std::optional<absl::StatusOr<v1::Task>>;
  static Done<v1::Task> Into(Result& out) {
    return [&out](absl::StatusOr<v1::Task> result) { out = std::move(result); };
  }
  static std::string Reason(const absl::Status& status) {
    auto info = GetErrorInfo(status);
    return info.has_value() ? info->reason() : "<none>";
  }

  void Create(const std::string& text, int64_t due, Result& out, int64_t lead = 0) {
    v1::CreateTaskRequest request;
    request.set_text(text);
    request.mutable_due_at()->set_seconds(due);
    if (lead != 0) {
      request.set_entity_type(v1::ENTITY_TYPE_LEAD);
      request.set_entity_id(lead);
    }
    client_->CreateTask(request, Within(absl::Seconds(30)), Into(out));
  }
  void Complete(int64_t id, const std::string& result_text, Result& out) {
    v1::CompleteTaskRequest request;
    request.set_task_id(id);
    request.set_result_text(result_text);
    client_->CompleteTask(request, Within(absl::Seconds(30)), Into(out));
  }

  FakeEventLoop loop_;
  ModelTasks kommo_;
  std::unique_ptr<KommoClient> client_;
};

TEST_F(TaskWritesTest, ConcurrentCreatesShareBatchesAndEachCallerGetsItsOwnTask) {
  Start(/*rps=*/7);
  constexpr int kCalls = 120;
  std::vector<Result> results(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    Create(absl::StrCat("Call ", i), 1750000000 + i, results[i], i % 2 == 0 ? 31000000001 : 0);
  }
  loop_.Advance(absl::Seconds(10));
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(results[i].has_value() && results[i]->ok()) << i;
    const v1::Task& task = **results[i];
    EXPECT_EQ(task.text(), absl::StrCat("Call ", i));
    EXPECT_EQ(task.due_at().seconds(), 1750000000 + i);
    EXPECT_EQ(task.entity_type(), i % 2 == 0 ? v1::ENTITY_TYPE_LEAD : v1::ENTITY_TYPE_UNSPECIFIED);
    EXPECT_FALSE(task.completed());
  }
  EXPECT_EQ(kommo_.tasks.size(), static_cast<size_t>(kCalls));
  // 50 tasks a request: three POSTs, and one read-back shared by the three (up to 250 ids).
  EXPECT_EQ(kommo_.Count(http::Method::kPost), 3u);
  EXPECT_EQ(kommo_.Count(http::Method::kGet), 1u);
}

// A completion that Kommo applied but answered 503 is repeated; a second completion of the same
// task with another result waits for it, so Kommo ends with the second result.
TEST_F(TaskWritesTest, CompletionsOfOneTaskGoInOrder) {
  Start(/*rps=*/50);
  kommo_.tasks[78000000005] = {"Call", 1750000000, "", 0, false, std::nullopt};
  kommo_.fail_after_applying = {true};
  Result first, second;
  Complete(78000000005, "no answer", first);
  loop_.Advance(absl::Milliseconds(50));  // the first PATCH is out (and answered 503)
  Complete(78000000005, "reached", second);
  loop_.Advance(absl::Seconds(20));
  ASSERT_TRUE(first.has_value() && first->ok()) << first->status();
  ASSERT_TRUE(second.has_value() && second->ok()) << second->status();
  EXPECT_EQ(kommo_.tasks[78000000005].result, "reached");
  EXPECT_EQ((*second)->result_text(), "reached");
  EXPECT_TRUE((*second)->completed());
  std::vector<std::string> patches;
  for (const auto& request : kommo_.requests) {
    if (request.method == http::Method::kPatch) {
      patches.push_back(::kommo::testing::AllMatches(request.body, R"re("text":"([^"]*)")re")[0]);
    }
  }
  EXPECT_THAT(patches, ElementsAre("no answer", "no answer", "reached"));
}

TEST_F(TaskWritesTest, UnknownTasksAndEntitiesAreNotFoundWithTheirReasons) {
  Start(/*rps=*/50);
  Result unknown_task, unknown_lead, fine;
  Complete(78000000099, "", unknown_task);
  Create("On a missing lead", 1750000000, unknown_lead, 31000000777);
  Create("On nothing", 1750000000, fine);
  loop_.Advance(absl::Seconds(10));
  ASSERT_TRUE(unknown_task.has_value());
  EXPECT_EQ(unknown_task->status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(unknown_task->status()), "TASK_NOT_FOUND");
  EXPECT_EQ(GetErrorInfo(unknown_task->status())->metadata().at("task_id"), "78000000099");
  ASSERT_TRUE(unknown_lead.has_value());
  EXPECT_EQ(unknown_lead->status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(unknown_lead->status()), "LEAD_NOT_FOUND");
  // The other create rode in the rejected batch and is sent again, once ruled out.
  ASSERT_TRUE(fine.has_value() && fine->ok()) << fine->status();
  EXPECT_EQ(kommo_.tasks.size(), 1u);
}

TEST_F(TaskWritesTest, ListTasksAsksInDueOrderAndKeepsToTheDueRange) {
  Start(/*rps=*/50);
  kommo_.tasks[1] = {"late", 3000, "leads", 31000000001, false, std::nullopt};
  kommo_.tasks[2] = {"middle", 2000, "leads", 31000000001, false, std::nullopt};
  kommo_.tasks[3] = {"early", 1000, "leads", 31000000001, false, std::nullopt};
  kommo_.more_pages = true;
  TasksQuery query;
  query.entity_type = v1::ENTITY_TYPE_LEAD;
  query.entity_ids = {31000000001};
  query.completion = v1::ListTasksRequest::COMPLETION_OPEN;
  query.responsible_user_ids = {8000001, 8000002};
  query.due_from = 1500;
  query.due_to = 2500;
  query.limit = 3;
  std::optional<absl::StatusOr<TaskPageResult>> page;
  client_->ListTasks(query, Within(absl::Seconds(5)),
                     [&page](absl::StatusOr<TaskPageResult> result) { page = std::move(result); });
  loop_.Advance(absl::Seconds(1));
  ASSERT_TRUE(page.has_value() && page->ok()) << page->status();
  ASSERT_EQ((*page)->tasks.size(), 1u);
  EXPECT_EQ((*page)->tasks[0].text(), "middle");
  EXPECT_FALSE((*page)->has_next) << "a task due before due_from ends a latest-first listing";
  const std::string& url = kommo_.requests.back().url;
  EXPECT_THAT(url, HasSubstr("order[complete_till]=desc"));
  EXPECT_THAT(url, HasSubstr("filter[entity_type]=leads"));
  EXPECT_THAT(url, HasSubstr("filter[entity_id][]=31000000001"));
  EXPECT_THAT(url, HasSubstr("filter[is_completed]=0"));
  EXPECT_THAT(url, HasSubstr("filter[responsible_user_id][]=8000001&filter[responsible_user_id][]="
                             "8000002"));
  EXPECT_THAT(url, HasSubstr("limit=3&page=1"));

  // Soonest first: the early task is skipped, and the page may go on while Kommo has more.
  query.soonest_first = true;
  query.due_to.reset();
  page.reset();
  client_->ListTasks(query, Within(absl::Seconds(5)),
                     [&page](absl::StatusOr<TaskPageResult> result) { page = std::move(result); });
  loop_.Advance(absl::Seconds(1));
  ASSERT_TRUE(page.has_value() && page->ok()) << page->status();
  EXPECT_EQ((*page)->tasks.size(), 2u);
  EXPECT_TRUE((*page)->has_next);
  EXPECT_THAT(kommo_.requests.back().url, HasSubstr("order[complete_till]=asc"));
}

}  // namespace
}  // namespace kommo::rest
