#include "server/metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics/metrics_server.h"
#include "server/metrics/service_metrics.h"

namespace kommo::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, CountersRenderPerLabelSetWithHelpAndType) {
  Registry registry;
  Counter* rpcs = registry.AddCounter("kommo_grpc_rpcs_total", "RPCs finished.");
  rpcs->Increment({{"method", "A"}, {"code", "OK"}});
  rpcs->Increment({{"method", "A"}, {"code", "OK"}});
  rpcs->Increment({{"method", "B"}, {"code", "NOT_FOUND"}}, 3);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP kommo_grpc_rpcs_total RPCs finished.\n"
                              "# TYPE kommo_grpc_rpcs_total counter\n"));
  // The exposition orders labels by name.
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_rpcs_total{code=\"OK\",method=\"A\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_rpcs_total{code=\"NOT_FOUND\",method=\"B\"} 3\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  Histogram* latency = registry.AddHistogram("x_seconds", "Latency.", {0.1, 1});
  latency->Observe({{"m", "A"}}, 0.05);
  latency->Observe({{"m", "A"}}, 0.5);
  latency->Observe({{"m", "A"}}, 7);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE x_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("\nx_seconds_count{m=\"A\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("\nx_seconds_sum{m=\"A\"} 7.55\n"));
  EXPECT_THAT(text, HasSubstr("\nx_seconds_bucket{m=\"A\",le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nx_seconds_bucket{m=\"A\",le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("\nx_seconds_bucket{m=\"A\",le=\"+Inf\"} 3\n"));
}

TEST(MetricsTest, GaugesGoUpAndDown) {
  Registry registry;
  Gauge depth = registry.AddGauge("depth", "Queue depth.");
  EXPECT_THAT(registry.Render(), HasSubstr("\ndepth 0\n"));
  depth.store(42);
  EXPECT_THAT(registry.Render(), HasSubstr("\ndepth 42\n"));
  depth.Increment();
  depth.Decrement(3);
  EXPECT_EQ(depth.load(), 40);
  EXPECT_THAT(registry.Render(), HasSubstr("\ndepth 40\n"));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.AddCounter("c_total", "C.")->Increment({{"v", "a\"b\\c\nd"}});
  EXPECT_THAT(registry.Render(), HasSubstr("c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

// Every metric README "Metrics and logs" documents, with its type and labels.
TEST(MetricsTest, ServiceMetricsHaveTheDocumentedNamesAndTypes) {
  Registry registry;
  ServiceMetrics metrics(&registry);
  // A counter or histogram appears once it has a series.
  metrics.rpcs->Increment({{"method", "m"}, {"code", "OK"}});
  metrics.rpc_duration->Observe({{"method", "m"}}, 0.1);
  metrics.kommo_requests->Increment(
      {{"account", "default"}, {"endpoint", "GET /leads"}, {"status", "200"}});
  metrics.kommo_duration->Observe({{"account", "default"}, {"endpoint", "GET /leads"}}, 0.1);
  metrics.retries->Increment({{"account", "default"}, {"endpoint", "GET /leads"}});
  metrics.rate_limit_wait->Observe({{"account", "default"}}, 0.1);
  // The per-account gauges get their series when an account's client is made.
  metrics.rate_limit_queue_depth->Get({{"account", "default"}});
  metrics.circuit_open->Get({{"account", "default"}});
  metrics.budget_requests->Increment({{"account", "default"}, {"source", "shared"}});
  metrics.redis_errors->Increment({{"operation", "take"}});
  const std::string text = registry.Render();
  for (const char* counter :
       {"kommo_grpc_rpcs_total", "kommo_grpc_kommo_requests_total",
        "kommo_grpc_kommo_retries_total", "kommo_grpc_rate_budget_requests_total",
        "kommo_grpc_redis_errors_total"}) {
    EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + counter + " counter\n"));
  }
  for (const char* histogram :
       {"kommo_grpc_rpc_duration_seconds", "kommo_grpc_kommo_request_duration_seconds",
        "kommo_grpc_rate_limit_wait_seconds"}) {
    EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + histogram + " histogram\n"));
  }
  // Gauges are there from the start, at 0.
  EXPECT_THAT(text, HasSubstr("# TYPE kommo_grpc_rpcs_in_flight gauge\n"));
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_rpcs_in_flight 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE kommo_grpc_redis_connected gauge\n"));
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_redis_connected 0\n"));
  for (const char* gauge : {"kommo_grpc_rate_limit_queue_depth", "kommo_grpc_circuit_open"}) {
    EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + gauge + " gauge\n"));
    EXPECT_THAT(text, HasSubstr(std::string("\n") + gauge + "{account=\"default\"} 0\n"));
  }
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_rpcs_total{code=\"OK\",method=\"m\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_kommo_requests_total{account=\"default\","
                              "endpoint=\"GET /leads\",status=\"200\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_kommo_retries_total{account=\"default\","
                              "endpoint=\"GET /leads\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("\nkommo_grpc_rate_limit_wait_seconds_count{account=\"default\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_rate_budget_requests_total{account=\"default\","
                              "source=\"shared\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_redis_errors_total{operation=\"take\"} 1\n"));
}

std::string Get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)::send(fd, request.data(), request.size(), 0);
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
  ::close(fd);
  return response;
}

TEST(MetricsServerTest, ServesTheRegistryOverHttp) {
  Registry registry;
  ServiceMetrics metrics(&registry);
  metrics.rpcs->Increment({{"method", "kommo.v1.LeadService/GetLead"}, {"code", "OK"}});
  metrics.rpc_duration->Observe({{"method", "kommo.v1.LeadService/GetLead"}}, 0.02);
  metrics.circuit_open->Get({{"account", "acme"}}).store(1);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  const std::string response = Get((*server)->port(), "/metrics");
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(response, HasSubstr("Content-Type: text/plain"));
  EXPECT_THAT(response,
              HasSubstr("\nkommo_grpc_rpcs_total{code=\"OK\",method=\"kommo.v1.LeadService/"
                        "GetLead\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("\nkommo_grpc_rpc_duration_seconds_count{method=\"kommo.v1."
                                  "LeadService/GetLead\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("\nkommo_grpc_circuit_open{account=\"acme\"} 1\n"));
  EXPECT_THAT(Get((*server)->port(), "/other"), Not(HasSubstr("200 OK")));
}

TEST(MetricsServerTest, RefusesABadAddress) {
  Registry registry;
  for (const char* listen : {"no-port", "127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:9090s",
                             "127.0.0.1:1,127.0.0.1:2"}) {
    auto server = MetricsServer::Start(listen, registry);
    ASSERT_FALSE(server.ok()) << listen;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << listen;
  }
}

// Start reports an address it cannot bind as an error (prometheus-cpp throws; nothing escapes).
TEST(MetricsServerTest, AnAddressInUseIsAnErrorNamingIt) {
  Registry registry;
  auto first = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsServer::Start(taken, registry);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(taken));
}

TEST(MetricsServerTest, ServesAfterTheRegistryIsGoneWithoutCrashing) {
  auto registry = std::make_unique<Registry>();
  auto server = MetricsServer::Start("127.0.0.1:0", *registry);
  ASSERT_TRUE(server.ok()) << server.status();
  registry.reset();
  // The exposer holds the registry weakly: a scrape still answers, with its own metrics only.
  EXPECT_THAT(Get((*server)->port(), "/metrics"), HasSubstr("200 OK"));
}

}  // namespace
}  // namespace kommo::metrics
