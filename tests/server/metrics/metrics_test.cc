#include "server/metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics/metrics_server.h"
#include "server/metrics/service_metrics.h"

namespace kommo::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, CountersRenderPerLabelSetWithHelpAndType) {
  Registry registry;
  Counter* rpcs = registry.AddCounter("kommo_grpc_rpcs_total", "RPCs finished.");
  rpcs->Increment({{"method", "A"}, {"code", "OK"}});
  rpcs->Increment({{"method", "A"}, {"code", "OK"}});
  rpcs->Increment({{"method", "B"}, {"code", "NOT_FOUND"}}, 3);
  EXPECT_EQ(registry.Render(),
            "# HELP kommo_grpc_rpcs_total RPCs finished.\n"
            "# TYPE kommo_grpc_rpcs_total counter\n"
            "kommo_grpc_rpcs_total{method=\"A\",code=\"OK\"} 2\n"
            "kommo_grpc_rpcs_total{method=\"B\",code=\"NOT_FOUND\"} 3\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  Histogram* latency = registry.AddHistogram("x_seconds", "Latency.", {0.1, 1});
  latency->Observe({{"m", "A"}}, 0.05);
  latency->Observe({{"m", "A"}}, 0.5);
  latency->Observe({{"m", "A"}}, 7);
  EXPECT_EQ(registry.Render(),
            "# HELP x_seconds Latency.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{m=\"A\",le=\"0.10000000000000001\"} 1\n"
            "x_seconds_bucket{m=\"A\",le=\"1\"} 2\n"
            "x_seconds_bucket{m=\"A\",le=\"+Inf\"} 3\n"
            "x_seconds_sum{m=\"A\"} 7.5499999999999998\n"
            "x_seconds_count{m=\"A\"} 3\n");
}

TEST(MetricsTest, GaugesAreReadAtScrapeTime) {
  Registry registry;
  double value = 1;
  registry.AddGauge("depth", "Queue depth.", [&value] { return value; });
  EXPECT_THAT(registry.Render(), HasSubstr("\ndepth 1\n"));
  value = 42;
  EXPECT_THAT(registry.Render(), HasSubstr("\ndepth 42\n"));
}

TEST(MetricsTest, LabelValuesAndSpecialNumbersAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(12), "12");
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
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
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
  auto server = MetricsServer::Start("127.0.0.1:0", [&registry] { return registry.Render(); });
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string response = Get((*server)->port(), "/metrics");
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(response, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(response,
              HasSubstr("kommo_grpc_rpcs_total{method=\"kommo.v1.LeadService/GetLead\",code="
                        "\"OK\"} 1\n"));
  EXPECT_THAT(response, HasSubstr("kommo_grpc_circuit_open 0\n"));
  EXPECT_THAT(Get((*server)->port(), "/other"), HasSubstr("404 Not Found"));
}

TEST(MetricsServerTest, RefusesABadAddress) {
  EXPECT_FALSE(MetricsServer::Start("no-port", [] { return std::string(); }).ok());
}

}  // namespace
}  // namespace kommo::metrics
