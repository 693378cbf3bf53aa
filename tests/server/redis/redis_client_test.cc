// RedisClient against a real redis-server (tests/support/redis_server.h) on loopback.
#include "server/redis/redis_client.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http/epoll_loop.h"
#include "tests/support/redis_server.h"

namespace kommo::redis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = http::EpollLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
    ASSERT_TRUE(loop_->Start().ok());
  }

  void TearDown() override {
    loop_->RunAndWait([this] { clients_.clear(); });
    loop_->Shutdown();
  }

  // A client made and kept on the loop thread.
  absl::StatusOr<RedisClient*> Connect(RedisOptions options) {
    absl::StatusOr<std::unique_ptr<RedisClient>> client;
    loop_->RunAndWait([&] { client = RedisClient::Create(loop_.get(), std::move(options)); });
    if (!client.ok()) return client.status();
    RedisClient* raw = client->get();
    loop_->RunAndWait([&] { clients_.push_back(*std::move(client)); });
    return raw;
  }

  static RedisOptions Options(const std::string& url) {
    RedisOptions options;
    options.url = url;
    options.name = "test client";
    options.reconnect_min = absl::Milliseconds(20);
    options.reconnect_max = absl::Milliseconds(200);
    return options;
  }

  bool Connected(RedisClient* client) {
    bool connected = false;
    loop_->RunAndWait([&] { connected = client->connected(); });
    return connected;
  }

  bool WaitConnected(RedisClient* client, bool want, absl::Duration within = absl::Seconds(10)) {
    const absl::Time until = absl::Now() + within;
    while (absl::Now() < until) {
      if (Connected(client) == want) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  absl::StatusOr<Reply> Run(RedisClient* client, std::vector<std::string> args,
                            absl::Duration timeout = absl::ZeroDuration()) {
    auto result = std::make_shared<absl::StatusOr<Reply>>(absl::UnknownError("no reply"));
    auto done = std::make_shared<absl::Notification>();
    loop_->RunAndWait([&] {
      client->Command(
          std::move(args),
          [result, done](absl::StatusOr<Reply> reply) {
            *result = std::move(reply);
            done->Notify();
          },
          timeout);
    });
    if (!done->WaitForNotificationWithTimeout(absl::Seconds(10))) {
      return absl::DeadlineExceededError("done never ran");
    }
    return *result;
  }

  absl::StatusOr<Reply> RunScript(RedisClient* client, const RedisClient::Script& script,
                                  std::vector<std::string> keys, std::vector<std::string> args) {
    auto result = std::make_shared<absl::StatusOr<Reply>>(absl::UnknownError("no reply"));
    auto done = std::make_shared<absl::Notification>();
    loop_->RunAndWait([&] {
      client->Eval(script, std::move(keys), std::move(args),
                   [result, done](absl::StatusOr<Reply> reply) {
                     *result = std::move(reply);
                     done->Notify();
                   });
    });
    if (!done->WaitForNotificationWithTimeout(absl::Seconds(10))) {
      return absl::DeadlineExceededError("done never ran");
    }
    return *result;
  }

  std::unique_ptr<http::EpollLoop> loop_;
  std::vector<std::unique_ptr<RedisClient>> clients_;
};

TEST(ParseRedisUrlTest, Parts) {
  absl::StatusOr<RedisEndpoint> endpoint = ParseRedisUrl("redis://user:p%40ss@redis.local:6380/2");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "redis.local");
  EXPECT_EQ(endpoint->port, 6380);
  EXPECT_EQ(endpoint->user, "user");
  EXPECT_EQ(endpoint->password, "p@ss");
  EXPECT_EQ(endpoint->db, 2);

  endpoint = ParseRedisUrl("redis://:secret@[::1]");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->port, 6379);
  EXPECT_EQ(endpoint->user, "");
  EXPECT_EQ(endpoint->password, "secret");
  EXPECT_EQ(endpoint->db, 0);
}

TEST(ParseRedisUrlTest, BadUrlsAreInvalidArgumentWithoutThePassword) {
  for (const char* url :
       {"", "localhost:6379", "http://localhost", "redis://", "redis://host:0", "redis://host:x",
        "redis://host:70000", "redis://host/db", "redis://host:", "redis://[::1",
        "redis://secretpw@host", "redis://u:%zzsecretpw@host"}) {
    absl::StatusOr<RedisEndpoint> endpoint = ParseRedisUrl(url);
    EXPECT_TRUE(absl::IsInvalidArgument(endpoint.status())) << url << " " << endpoint.status();
    EXPECT_THAT(endpoint.status().message(), ::testing::Not(HasSubstr("secretpw"))) << url;
  }
  absl::StatusOr<RedisEndpoint> tls = ParseRedisUrl("rediss://host:6380");
  EXPECT_TRUE(absl::IsInvalidArgument(tls.status()));
  EXPECT_THAT(tls.status().message(), HasSubstr("TLS"));
}

TEST_F(RedisClientTest, CreateRefusesABadUrl) {
  absl::StatusOr<RedisClient*> client = Connect(Options("rediss://127.0.0.1:1"));
  EXPECT_TRUE(absl::IsInvalidArgument(client.status())) << client.status();
}

TEST(MakeScriptTest, Sha1IsRedisOne) {
  // SHA-1 of "return 1" as Redis computes it (SCRIPT LOAD prints it); also checked live below.
  EXPECT_EQ(RedisClient::MakeScript("return 1").sha1, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST_F(RedisClientTest, Commands) {
  auto server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<RedisClient*> client = Connect(Options((*server)->url()));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(WaitConnected(*client, true));

  absl::StatusOr<Reply> reply = Run(*client, {"SET", "k", std::string("v\0w", 3)});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->type, Reply::Type::kStatus);
  EXPECT_EQ(reply->str, "OK");

  reply = Run(*client, {"GET", "k"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->type, Reply::Type::kString);
  EXPECT_EQ(reply->str, std::string("v\0w", 3));

  reply = Run(*client, {"GET", "missing"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->type, Reply::Type::kNil);

  reply = Run(*client, {"INCRBY", "n", "41"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->type, Reply::Type::kInteger);
  EXPECT_EQ(reply->integer, 41);

  ASSERT_TRUE(Run(*client, {"RPUSH", "list", "a", "b"}).ok());
  reply = Run(*client, {"LRANGE", "list", "0", "-1"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->type, Reply::Type::kArray);
  ASSERT_EQ(reply->elements.size(), 2u);
  EXPECT_EQ(reply->elements[0].str, "a");
  EXPECT_EQ(reply->elements[1].str, "b");

  reply = Run(*client, {"INCR", "list"});
  EXPECT_TRUE(absl::IsFailedPrecondition(reply.status())) << reply.status();
  EXPECT_THAT(reply.status().message(), HasSubstr("WRONGTYPE"));

  reply = Run(*client, {"CLIENT", "GETNAME"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->str, "test-client");  // spaces are not allowed in a client name
}

TEST_F(RedisClientTest, LuaScriptsFallBackToEvalOnNoscript) {
  auto server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<RedisClient*> client = Connect(Options((*server)->url()));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(WaitConnected(*client, true));

  const RedisClient::Script script = RedisClient::MakeScript(
      "redis.call('SET', KEYS[1], ARGV[1]) return {redis.call('GET', KEYS[1]), tonumber(ARGV[2])}");
  absl::StatusOr<std::string> loaded = (*server)->Call({"SCRIPT", "LOAD", script.source});
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, script.sha1);
  ASSERT_TRUE((*server)->Call({"SCRIPT", "FLUSH"}).ok());

  // Not cached: EVALSHA answers NOSCRIPT, the client sends EVAL.
  absl::StatusOr<Reply> reply = RunScript(*client, script, {"key"}, {"value", "7"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->elements.size(), 2u);
  EXPECT_EQ(reply->elements[0].str, "value");
  EXPECT_EQ(reply->elements[1].integer, 7);
  EXPECT_EQ(*(*server)->Call({"SCRIPT", "EXISTS", script.sha1}), "1");

  // Cached now: EVALSHA alone.
  reply = RunScript(*client, script, {"key"}, {"other", "8"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->elements[0].str, "other");

  // A script error is FAILED_PRECONDITION with Redis's message.
  reply =
      RunScript(*client, RedisClient::MakeScript("return redis.error_reply('NOPE no')"), {}, {});
  EXPECT_TRUE(absl::IsFailedPrecondition(reply.status())) << reply.status();
  EXPECT_THAT(reply.status().message(), HasSubstr("NOPE"));
}

TEST_F(RedisClientTest, TimeoutDropsTheConnectionAndALateReplyIsNeverMisMatched) {
  auto server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<RedisClient*> client = Connect(Options((*server)->url()));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(WaitConnected(*client, true));

  // BLPOP answers after 1 s; the command's own timeout is 100 ms.
  const absl::Time start = absl::Now();
  absl::StatusOr<Reply> reply = Run(*client, {"BLPOP", "queue", "1"}, absl::Milliseconds(100));
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
  EXPECT_THAT(reply.status().message(), HasSubstr("timed out"));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(900));

  // The connection is made again; the next commands get their own replies, not BLPOP's nil.
  ASSERT_TRUE(WaitConnected(*client, true));
  ASSERT_TRUE((*server)->Call({"SET", "x", "1"}).ok());
  for (int i = 0; i < 3; ++i) {
    reply = Run(*client, {"GET", "x"});
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->type, Reply::Type::kString);
    EXPECT_EQ(reply->str, "1");
  }
  absl::SleepFor(absl::Seconds(1));
  reply = Run(*client, {"GET", "x"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->str, "1");
}

TEST_F(RedisClientTest, KilledRedisIsUnavailableAndTheClientReconnectsWhenItReturns) {
  auto server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<RedisClient*> client = Connect(Options((*server)->url()));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(WaitConnected(*client, true));
  absl::Mutex mu;
  std::vector<bool> changes;
  loop_->RunAndWait([&] {
    (*client)->OnConnectionChange([&](bool up) {
      absl::MutexLock lock(&mu);
      changes.push_back(up);
    });
  });

  // A command in flight when Redis dies fails UNAVAILABLE.
  auto pending = std::make_shared<absl::StatusOr<Reply>>(absl::UnknownError("no reply"));
  auto done = std::make_shared<absl::Notification>();
  loop_->RunAndWait([&] {
    (*client)->Command(
        {"BLPOP", "q", "5"},
        [pending, done](absl::StatusOr<Reply> reply) {
          *pending = std::move(reply);
          done->Notify();
        },
        absl::Seconds(10));
  });
  absl::SleepFor(absl::Milliseconds(50));
  (*server)->Kill();
  ASSERT_TRUE(done->WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsUnavailable(pending->status())) << pending->status();

  ASSERT_TRUE(WaitConnected(*client, false));
  absl::StatusOr<Reply> reply = Run(*client, {"PING"});
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();

  ASSERT_TRUE((*server)->Restart().ok());
  ASSERT_TRUE(WaitConnected(*client, true));
  reply = Run(*client, {"PING"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->str, "PONG");
  absl::MutexLock lock(&mu);
  EXPECT_THAT(changes, ElementsAre(false, true));
}

TEST_F(RedisClientTest, NoServerMeansUnavailableNeverABlock) {
  auto server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string url = (*server)->url();
  (*server)->Kill();
  absl::StatusOr<RedisClient*> client = Connect(Options(url));
  ASSERT_TRUE(client.ok());
  absl::StatusOr<Reply> reply = Run(*client, {"PING"});
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
  absl::SleepFor(absl::Milliseconds(300));  // several failed attempts
  EXPECT_FALSE(Connected(*client));
  // Then it comes up: the client finds it.
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_TRUE(WaitConnected(*client, true));
}

TEST_F(RedisClientTest, AuthAndDatabaseFromTheUrl) {
  auto server = testing::RedisServer::Start({"--requirepass", "s3cret"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string base = absl::StrCat("127.0.0.1:", (*server)->port());

  absl::StatusOr<RedisClient*> wrong = Connect(Options(absl::StrCat("redis://:nope@", base)));
  ASSERT_TRUE(wrong.ok());
  absl::StatusOr<RedisClient*> none = Connect(Options(absl::StrCat("redis://", base)));
  ASSERT_TRUE(none.ok());
  absl::StatusOr<RedisClient*> good =
      Connect(Options(absl::StrCat("redis://:s3cret@", base, "/3")));
  ASSERT_TRUE(good.ok());
  ASSERT_TRUE(WaitConnected(*good, true));
  EXPECT_FALSE(Connected(*wrong));
  EXPECT_FALSE(Connected(*none));

  ASSERT_TRUE(Run(*good, {"SET", "in3", "yes"}).ok());
  EXPECT_EQ(*(*server)->Call({"GET", "in3"}), "(nil)");  // database 0
  absl::StatusOr<Reply> reply = Run(*good, {"GET", "in3"});
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->str, "yes");
}

TEST_F(RedisClientTest, HostNamesAreResolvedOffTheLoop) {
  auto server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<RedisClient*> client =
      Connect(Options(absl::StrCat("redis://localhost:", (*server)->port())));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(WaitConnected(*client, true));
  EXPECT_TRUE(Run(*client, {"PING"}).ok());
}

TEST_F(RedisClientTest, DestroyingTheClientCompletesPendingCommands) {
  auto server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<RedisClient*> client = Connect(Options((*server)->url()));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(WaitConnected(*client, true));
  auto result = std::make_shared<absl::StatusOr<Reply>>(absl::UnknownError("no reply"));
  auto done = std::make_shared<absl::Notification>();
  loop_->RunAndWait([&] {
    (*client)->Command({"BLPOP", "q", "5"}, [result, done](absl::StatusOr<Reply> reply) {
      *result = std::move(reply);
      done->Notify();
    });
    clients_.clear();
  });
  ASSERT_TRUE(done->WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsUnavailable(result->status())) << result->status();
}

}  // namespace
}  // namespace kommo::redis
