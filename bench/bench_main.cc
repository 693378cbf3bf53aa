// kommo-bench: the four scenarios of issue 7 against the built kommo-grpc-server, each beside its
// comparison point measured in the same run, printed as one table (bench/README.md).
//
// The emulator runs in this process (kommo::emulator::Emulator), so that the driver can set its
// latency and rate limit and count what it received; the server and the echo server are child
// processes started on 127.0.0.1 port 0 and stopped by PID.

#include <curl/curl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "bench/http_client.h"
#include "bench/load_generator.h"
#include "bench/process.h"
#include "emulator/emulator.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "kommo/bench/v1/echo.grpc.pb.h"
#include "kommo/client/channel.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "rapidjson/document.h"
#include "server/auth/callers.h"
// Certificates for scenario 5, made at run time (no key material in the repository).
#include "tests/support/test_cert.h"
// Scenario 6's Redis.
#include "tests/support/redis_server.h"

ABSL_FLAG(std::string, bin_dir, "",
          "Directory of kommo-grpc-server and kommo-bench-echo-server (default: this binary's)");
ABSL_FLAG(std::string, scenarios, "1,2,3,4,5,6", "Scenarios to run, comma-separated");
ABSL_FLAG(std::string, log_dir, "", "Append the children's stderr here (default: discarded)");
ABSL_FLAG(std::string, markdown_out, "", "Also write the table (Markdown) to this file");
ABSL_FLAG(std::string, revision, "", "Printed in the header, e.g. the git commit");
ABSL_FLAG(int, time_limit_s, 300, "Abort the whole run (children included) after this long");
ABSL_FLAG(std::vector<std::string>, server_env, {},
          "NAME=VALUE,... set for every server start, after the scenario's own settings (e.g. "
          "KOMMO_COALESCE_WINDOW=0 to measure one request per call)");
ABSL_FLAG(bool, strict, false, "Exit 1 when a goal is missed (default: only on harness errors)");
// 1. Overhead
ABSL_FLAG(int, overhead_calls, 3000, "Overhead: measured calls of each kind (one at a time)");
ABSL_FLAG(int, overhead_warmup, 200, "Overhead: unmeasured calls of each kind first");
// 2. Bulk create
ABSL_FLAG(int, bulk_calls, 1000, "Bulk create: concurrent CreateLead calls");
ABSL_FLAG(int, bulk_deadline_ms, 30000, "Bulk create: deadline of each call");
ABSL_FLAG(double, bulk_kommo_rps, 7, "Bulk create: the emulator's rate limit (requests/s)");
ABSL_FLAG(int, bulk_kommo_latency_ms, 150, "Bulk create: the emulator's latency");
ABSL_FLAG(double, bulk_goal_s, 10, "Bulk create: the goal's time limit");
// 3. Concurrency
ABSL_FLAG(int, concurrency, 2000, "Concurrency: SearchLeads calls in flight");
ABSL_FLAG(int, concurrency_rounds, 5,
          "Concurrency: measured calls = concurrency x rounds (after one unmeasured round)");
ABSL_FLAG(int, concurrency_kommo_latency_ms, 200, "Concurrency: the emulator's latency");
ABSL_FLAG(int, concurrency_deadline_ms, 20000, "Concurrency: deadline of each call");
// 4. Footprint
ABSL_FLAG(int, footprint_starts, 5, "Footprint: server starts (the median start time counts)");
ABSL_FLAG(int, footprint_idle_ms, 1000, "Footprint: idle time before reading the resident size");

ABSL_FLAG(int, tls_calls, 2000, "TLS: measured SearchLeads calls of each kind (one at a time)");
ABSL_FLAG(int, tls_warmup, 100, "TLS: unmeasured calls of each kind first");
ABSL_FLAG(int, tls_connects, 100,
          "TLS: new connections of each kind (connect, handshake and the first call)");

// 6. Three replicas sharing Redis
ABSL_FLAG(int, replicas_calls, 1000,
          "Replicas: concurrent CreateLead calls, through three replicas and through one");
ABSL_FLAG(double, replicas_goal_ratio, 1.2,
          "Replicas: the goal: three replicas' time at most this times one replica's");

extern char** environ;

namespace kommo::bench {
namespace {

using std::chrono::milliseconds;
namespace emu = ::kommo::emulator;
namespace v1 = ::kommo::v1;

constexpr char kToken[] = "bench-token";
constexpr int64_t kGoalThreads = 16;
constexpr double kGoalMemoryMb = 100;
// Anonymous idle memory (RssAnon: heap, stacks, private data), not VmRSS: of an idle VmRSS of about
// 25 MB, 22 MB are the binary and its shared libraries, which no change to the service's own
// allocations moves (the < 20 MB VmRSS goal is retired). Idle, the service holds 3-6 MB of its
// own; 10 MB is about twice that, so a regression that allocates ahead of use (a pool or cache
// sized at start-up, a leak during start) shows, while allocator noise does not.
constexpr double kGoalIdleAnonMb = 10;
constexpr double kGoalStartMs = 200;
constexpr double kGoalOverheadMedianSlackUs = 50;
constexpr double kGoalOverheadP99Us = 1000;
constexpr double kGoalThroughputShare = 0.8;
constexpr double kGoalScriptRatio = 1.1;

// --- Formatting ----------------------------------------------------------------------------------

// Megabytes of 10^6 bytes (the stricter reading of "MB"); /proc reports KiB.
double KbToMb(int64_t kb) { return static_cast<double>(kb) * 1024.0 / 1e6; }
std::string Mb(int64_t kb) { return kb < 0 ? "?" : absl::StrFormat("%.1f MB", KbToMb(kb)); }
std::string Us(double ns) { return absl::StrFormat("%.0f µs", ns / 1000.0); }
std::string Ms(double ns) { return absl::StrFormat("%.1f ms", ns / 1e6); }

struct Row {
  std::string scenario;
  std::string result;
  std::string goal;
  bool met = false;
  std::string missed_by;  // the number shown after MISSED
  std::string peak_rss;
  std::string peak_threads;
};

struct Report {
  std::vector<Row> rows;
  std::vector<std::string> notes;  // details printed under the table
  bool harness_error = false;
};

void Note(Report* report, std::string line) {
  std::printf("  %s\n", line.c_str());
  std::fflush(stdout);
  report->notes.push_back(std::move(line));
}

void HarnessError(Report* report, const std::string& scenario, const absl::Status& status) {
  std::fprintf(stderr, "kommo-bench: %s: %s\n", scenario.c_str(), status.ToString().c_str());
  report->harness_error = true;
  Row row;
  row.scenario = scenario;
  row.result = absl::StrCat("harness error: ", status.message());
  row.goal = "-";
  row.missed_by = "not measured";
  report->rows.push_back(row);
}

std::string ReadFirstLine(const std::string& path, absl::string_view prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, prefix)) {
      absl::string_view value = line;
      value.remove_prefix(prefix.size());
      value = absl::StripLeadingAsciiWhitespace(value);
      absl::ConsumePrefix(&value, ":");
      return std::string(absl::StripAsciiWhitespace(value));
    }
  }
  return "?";
}

std::string MachineLine() {
  std::string load = "?";
  std::ifstream loadavg("/proc/loadavg");
  if (loadavg) {
    std::string one, five;
    loadavg >> one >> five;
    load = absl::StrCat(one, " ", five);
  }
  utsname name{};
  uname(&name);
  return absl::StrCat("nproc ", std::thread::hardware_concurrency(), ", ",
                      ReadFirstLine("/proc/cpuinfo", "model name"), ", ", name.sysname, " ",
                      name.release, ", load average at start ", load);
}

std::string NowUtc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M UTC", &tm);
  return text;
}

double DriverCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// --- Processes -----------------------------------------------------------------------------------

struct Paths {
  std::string server;
  std::string echo_server;
  std::string log_dir;
};

std::string LogPath(const Paths& paths, const std::string& name) {
  return paths.log_dir.empty() ? "" : absl::StrCat(paths.log_dir, "/", name, ".stderr.log");
}

struct Started {
  std::unique_ptr<ChildProcess> process;
  int port = 0;
};

// Starts a child and parses "... listening on port N" from its first stdout line.
absl::StatusOr<Started> StartListening(const std::vector<std::string>& argv,
                                       const std::vector<std::pair<std::string, std::string>>& env,
                                       const std::string& log_path) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(argv, env, log_path);
  if (!child.ok()) return child.status();
  absl::StatusOr<std::string> line = (*child)->ReadLine(milliseconds(10000));
  if (!line.ok()) {
    return absl::UnavailableError(
        absl::StrCat(argv[0], " printed no first line: ", line.status().message(),
                     " (see its stderr", log_path.empty() ? "" : ": " + log_path, ")"));
  }
  // "... listening on port N" or "... listening on port N (more)"
  const std::string marker = "listening on port ";
  const size_t at = line->find(marker);
  Started started;
  const std::string rest = at == std::string::npos ? "" : line->substr(at + marker.size());
  if (!absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &started.port) || started.port <= 0) {
    return absl::UnavailableError(absl::StrCat(argv[0], ": unexpected first line: ", *line));
  }
  started.process = *std::move(child);
  return started;
}

using Env = std::vector<std::pair<std::string, std::string>>;

Env ServerEnv(const emu::Emulator& emulator, const Env& extra) {
  Env env = {{"KOMMO_API_URL", emulator.base_url()},
             {"KOMMO_ACCESS_TOKEN", kToken},
             {"GRPC_LISTEN_ADDRESS", "127.0.0.1:0"},
             {"METRICS_LISTEN_ADDRESS", "off"},
             {"LOG_LEVEL", "warning"},
             {"SHUTDOWN_GRACE_PERIOD", "1s"}};
  auto set = [&env](const std::string& name, const std::string& value) {
    for (auto& [existing, old_value] : env) {
      if (existing == name) {
        old_value = value;
        return;
      }
    }
    env.emplace_back(name, value);
  };
  for (const auto& [name, value] : extra) set(name, value);
  // --server_env last: an experiment overrides the scenario's own settings.
  for (const std::string& setting : absl::GetFlag(FLAGS_server_env)) {
    const size_t equals = setting.find('=');
    if (equals != std::string::npos) set(setting.substr(0, equals), setting.substr(equals + 1));
  }
  return env;
}

absl::StatusOr<Started> StartServer(const Paths& paths, const emu::Emulator& emulator,
                                    const Env& extra, const std::string& name) {
  return StartListening({paths.server}, ServerEnv(emulator, extra), LogPath(paths, name));
}

std::shared_ptr<grpc::Channel> Connect(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

void StopChild(std::unique_ptr<ChildProcess>* child) {
  if (*child != nullptr) (*child)->Stop(milliseconds(3000));
}

// --- The emulator --------------------------------------------------------------------------------

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// Creates leads directly in the emulator, 250 per request.
absl::Status SeedLeads(const emu::Emulator& emulator,
                       const std::vector<std::pair<std::string, int64_t>>& leads) {
  HttpClient http(absl::StrCat("Bearer ", kToken));
  for (size_t first = 0; first < leads.size(); first += emu::kMaxBatchItems) {
    std::vector<std::string> items;
    for (size_t i = first; i < leads.size() && i < first + emu::kMaxBatchItems; ++i) {
      items.push_back(absl::StrCat("{\"name\":", JsonString(leads[i].first),
                                   ",\"price\":", leads[i].second, "}"));
    }
    absl::StatusOr<HttpAnswer> answer = http.Post(
        emulator.base_url() + "/api/v4/leads", absl::StrCat("[", absl::StrJoin(items, ","), "]"));
    if (!answer.ok()) return answer.status();
    if (answer->status != 200) {
      return absl::InternalError(
          absl::StrCat("seeding leads: HTTP ", answer->status, ": ", answer->body.substr(0, 300)));
    }
  }
  return absl::OkStatus();
}

absl::Status AddLatency(emu::Emulator* emulator, std::string method, int latency_ms) {
  emu::FaultRule rule;
  rule.method = std::move(method);
  rule.path_prefix = "/api/v4/";
  rule.action = emu::FaultAction::kLatency;
  rule.delay = milliseconds(latency_ms);
  absl::StatusOr<uint64_t> id = emulator->AddFault(rule);
  return id.status();
}

struct KommoTraffic {
  uint64_t total = 0;
  uint64_t status_429 = 0;
  std::string by_route;  // "GET /api/v4/leads 200 x12, ..."
};

KommoTraffic CountTraffic(emu::Emulator* emulator) {
  KommoTraffic traffic;
  std::vector<std::string> parts;
  for (const emu::RequestCount& count : emulator->request_counts()) {
    traffic.total += count.count;
    if (count.status == 429) traffic.status_429 += count.count;
    parts.push_back(
        absl::StrCat(count.method, " ", count.path, " ", count.status, " x", count.count));
  }
  traffic.by_route = parts.empty() ? "none" : absl::StrJoin(parts, ", ");
  return traffic;
}

// Connections the emulator has accepted so far (its admin API), -1 when unknown.
int64_t ConnectionsAccepted(const emu::Emulator& emulator, HttpClient* admin) {
  absl::StatusOr<HttpAnswer> answer = admin->Get(emulator.base_url() + "/_emulator/stats");
  if (!answer.ok() || answer->status != 200) return -1;
  const std::string key = "\"connections_accepted\":";
  const size_t at = answer->body.find(key);
  if (at == std::string::npos) return -1;
  const std::string rest = answer->body.substr(at + key.size());
  int64_t count = -1;
  if (!absl::SimpleAtoi(rest.substr(0, rest.find_first_of(",}")), &count)) return -1;
  return count;
}

std::string UrlEscape(const std::string& text) {
  char* escaped = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  std::string out = escaped == nullptr ? text : escaped;
  curl_free(escaped);
  return out;
}

// --- Calls
// ----------------------------------------------------------------------------------------

using SearchStart =
    std::function<void(grpc::ClientContext*, const v1::SearchLeadsRequest*,
                       v1::SearchLeadsResponse*, std::function<void(grpc::Status)>)>;
using CreateStart = std::function<void(grpc::ClientContext*, const v1::CreateLeadRequest*,
                                       v1::CreateLeadResponse*, std::function<void(grpc::Status)>)>;
using EchoStart =
    std::function<void(grpc::ClientContext*, const kommo::bench::v1::EchoRequest*,
                       kommo::bench::v1::EchoResponse*, std::function<void(grpc::Status)>)>;

SearchStart SearchStarter(v1::LeadService::Stub* stub) {
  return [stub](grpc::ClientContext* context, const v1::SearchLeadsRequest* request,
                v1::SearchLeadsResponse* response, std::function<void(grpc::Status)> done) {
    stub->async()->SearchLeads(context, request, response, std::move(done));
  };
}

// --- 1. Overhead ---------------------------------------------------------------------------------

void RunOverhead(const Paths& paths, emu::Emulator* emulator, Report* report) {
  const std::string name = "1 Overhead";
  std::printf("\n== %s: one call at a time; direct GET vs gRPC echo vs SearchLeads\n",
              name.c_str());
  emulator->Reset();
  std::vector<std::pair<std::string, int64_t>> leads;
  for (int i = 1; i <= 5; ++i)
    leads.emplace_back(absl::StrCat("Overhead bench lead ", i), i * 1000);
  if (absl::Status seeded = SeedLeads(*emulator, leads); !seeded.ok()) {
    return HarnessError(report, name, seeded);
  }
  // The rate limit is raised out of the way: this scenario measures the service's own cost.
  absl::StatusOr<Started> server = StartServer(
      paths, *emulator, {{"KOMMO_RATE_LIMIT_RPS", "10000"}, {"KOMMO_RATE_LIMIT_BURST", "1000"}},
      "overhead-server");
  if (!server.ok()) return HarnessError(report, name, server.status());
  absl::StatusOr<Started> echo = StartListening({paths.echo_server, "--listen=127.0.0.1:0"}, {},
                                                LogPath(paths, "overhead-echo"));
  if (!echo.ok()) {
    StopChild(&server->process);
    return HarnessError(report, name, echo.status());
  }
  ProcSampler sampler(server->process->pid(), milliseconds(10));
  auto service_stub = v1::LeadService::NewStub(Connect(server->port));
  auto echo_stub = kommo::bench::v1::EchoService::NewStub(Connect(echo->port));
  const SearchStart search = SearchStarter(service_stub.get());
  const EchoStart echo_call = [&echo_stub](grpc::ClientContext* context,
                                           const kommo::bench::v1::EchoRequest* request,
                                           kommo::bench::v1::EchoResponse* response,
                                           std::function<void(grpc::Status)> done) {
    echo_stub->async()->Echo(context, request, response, std::move(done));
  };
  const milliseconds deadline(5000);

  // One SearchLeads first: its response size sizes the echo, and the GET it made is replayed.
  v1::SearchLeadsRequest search_request;
  search_request.set_query("overhead bench");
  search_request.set_page_size(10);
  v1::SearchLeadsResponse search_response;
  CallRecord first = CallOnce(search_request, deadline, search, &search_response);
  std::string direct_url;
  for (const emu::LoggedRequest& logged : emulator->requests()) {
    if (logged.method != "GET" || !absl::StartsWith(logged.path, "/api/v4/leads")) continue;
    std::vector<std::string> query;
    for (const auto& [key, value] : logged.query) {
      query.push_back(absl::StrCat(UrlEscape(key), "=", UrlEscape(value)));
    }
    direct_url = absl::StrCat(emulator->base_url(), logged.path, query.empty() ? "" : "?",
                              absl::StrJoin(query, "&"));
  }
  if (first.code != grpc::StatusCode::OK || search_response.leads_size() != 5 ||
      direct_url.empty()) {
    StopChild(&server->process);
    StopChild(&echo->process);
    return HarnessError(report, name,
                        absl::InternalError(absl::StrCat(
                            "the first SearchLeads: ", CodeName(first.code), " ", first.reason,
                            ", ", search_response.leads_size(),
                            " leads (5 expected), GET seen: ", direct_url.empty() ? "no" : "yes")));
  }
  kommo::bench::v1::EchoRequest echo_request;
  echo_request.set_payload(std::string(search_request.ByteSizeLong(), 'q'));
  echo_request.set_response_bytes(static_cast<uint32_t>(search_response.ByteSizeLong()));

  HttpClient http(absl::StrCat("Bearer ", kToken));
  std::vector<int64_t> direct_ns, echo_ns, service_ns;
  size_t failures = 0;
  std::string failure;
  const int warmup = absl::GetFlag(FLAGS_overhead_warmup);
  const int calls = absl::GetFlag(FLAGS_overhead_calls);
  double server_cpu = 0;
  for (int i = 0; i < warmup + calls; ++i) {
    const bool measured = i >= warmup;
    if (i == warmup) server_cpu = -CpuSeconds(server->process->pid());
    // The three kinds take turns in a rotating order, so that drift (other work on the machine)
    // and cache effects fall on all of them alike.
    for (int k = 0; k < 3; ++k) {
      switch ((i + k) % 3) {
        case 0: {
          const Clock::time_point start = Clock::now();
          absl::StatusOr<HttpAnswer> answer = http.Get(direct_url);
          const int64_t ns =
              std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
          if (!answer.ok() || answer->status != 200) {
            ++failures;
            failure = answer.ok() ? absl::StrCat("direct GET: HTTP ", answer->status)
                                  : std::string(answer.status().message());
          } else if (measured) {
            direct_ns.push_back(ns);
          }
          break;
        }
        case 1: {
          kommo::bench::v1::EchoResponse response;
          CallRecord record = CallOnce(echo_request, deadline, echo_call, &response);
          if (record.code != grpc::StatusCode::OK) {
            ++failures;
            failure = absl::StrCat("echo: ", CodeName(record.code));
          } else if (measured) {
            echo_ns.push_back(record.latency_ns);
          }
          break;
        }
        default: {
          v1::SearchLeadsResponse response;
          CallRecord record = CallOnce(search_request, deadline, search, &response);
          if (record.code != grpc::StatusCode::OK) {
            ++failures;
            failure = absl::StrCat("SearchLeads: ", CodeName(record.code), " ", record.reason);
          } else if (measured) {
            service_ns.push_back(record.latency_ns);
          }
          break;
        }
      }
    }
  }
  server_cpu += CpuSeconds(server->process->pid());
  sampler.Stop();
  const std::string rss = Mb(sampler.hwm_kb());
  const std::string threads = absl::StrCat(sampler.peak_threads());
  StopChild(&server->process);
  StopChild(&echo->process);

  const Percentiles direct(direct_ns), echo_p(echo_ns), service(service_ns);
  const double d50 = static_cast<double>(direct.At(0.5)),
               d99 = static_cast<double>(direct.At(0.99));
  const double e50 = static_cast<double>(echo_p.At(0.5)),
               e99 = static_cast<double>(echo_p.At(0.99));
  const double s50 = static_cast<double>(service.At(0.5)),
               s99 = static_cast<double>(service.At(0.99));
  Note(report, absl::StrCat("1: ", calls, " calls of each kind (after ", warmup,
                            " unmeasured), one at a time, interleaved; failures: ", failures,
                            failures ? " (last: " + failure + ")" : ""));
  // The whole distribution, so that a tail can be told from a shift.
  auto spread = [](const Percentiles& p) {
    return absl::StrCat(
        "p50 ", Us(static_cast<double>(p.At(0.5))), ", p90 ", Us(static_cast<double>(p.At(0.9))),
        ", p99 ", Us(static_cast<double>(p.At(0.99))), ", p99.9 ",
        Us(static_cast<double>(p.At(0.999))), ", max ", Us(static_cast<double>(p.At(1.0))));
  };
  Note(report, absl::StrCat("1: direct GET (libcurl, keep-alive, ", http.connects(),
                            " connection(s)): ", spread(direct), "; ", direct_url));
  Note(report,
       absl::StrCat("1: gRPC echo (", echo_request.ByteSizeLong(), " B request, ",
                    search_response.ByteSizeLong(), " B response payload): ", spread(echo_p)));
  Note(report, absl::StrCat("1: SearchLeads through the service (", search_response.leads_size(),
                            " leads, ", search_response.ByteSizeLong(), " B): ", spread(service),
                            absl::StrFormat("; server CPU %.0f µs per call",
                                            1e6 * server_cpu / std::max(1, calls))));
  const bool enough =
      failures == 0 && !direct_ns.empty() && !echo_ns.empty() && !service_ns.empty();

  Row median;
  median.scenario = "1 Overhead, median";
  median.result = absl::StrCat("service ", Us(s50), " − direct GET ", Us(d50), " = **",
                               Us(s50 - d50), "**; echo ", Us(e50));
  const double median_limit = e50 + kGoalOverheadMedianSlackUs * 1000;
  median.goal = absl::StrCat("≤ echo + 50 µs = ", Us(median_limit));
  median.met = enough && s50 - d50 <= median_limit;
  median.missed_by = Us(s50 - d50);
  median.peak_rss = rss;
  median.peak_threads = threads;
  report->rows.push_back(median);

  Row p99;
  p99.scenario = "1 Overhead, p99";
  p99.result = absl::StrCat("service ", Us(s99), " − direct GET ", Us(d99), " = **", Us(s99 - d99),
                            "**; echo ", Us(e99));
  // Neither comparison point does any work worth a millisecond: when their own p99 reaches one,
  // something else on the machine took the CPU, and the p99s measure that as much as the service.
  if (std::max(e99, d99) >= kGoalOverheadP99Us * 1000) {
    absl::StrAppend(&p99.result, " (disturbed: the comparison points' own p99 reached ",
                    Us(std::max(e99, d99)), ")");
  }
  p99.goal = "< 1 ms over the direct GET";
  p99.met = enough && s99 - d99 < kGoalOverheadP99Us * 1000;
  p99.missed_by = Us(s99 - d99);
  p99.peak_rss = rss;
  p99.peak_threads = threads;
  report->rows.push_back(p99);
}

// --- 2. Bulk create ------------------------------------------------------------------------------

// `id_only`: every call's read_mask is "id", so the service reads nothing back.
// The comparison point of scenario 2: a careful hand-written script, sent by the driver straight to
// the emulator on one keep-alive connection. It paces its requests at the account's budget (each
// request waits for its slot, one every 1/rps s after the previous one, so it never meets a 429):
// POSTs of 50 leads, then (when `with_gets`) GETs of up to 250 of the created ids, as the server's
// read-back asks for them (limit=250&with=contacts&filter[id][]=...).
struct ScriptResult {
  double wall_seconds = 0;
  size_t posts = 0;
  size_t gets = 0;
  size_t created = 0;    // leads the emulator holds afterwards, less those before
  size_t read_back = 0;  // leads the GETs returned
  uint64_t status_429 = 0;
  uint64_t requests = 0;  // as the emulator counted them
  std::string by_route;
};

// The ids in `_embedded.leads[].id` of a Kommo answer.
absl::StatusOr<std::vector<int64_t>> EmbeddedLeadIds(const std::string& body) {
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) {
    return absl::InternalError("script: the emulator's answer is not a JSON object");
  }
  auto embedded = document.FindMember("_embedded");
  if (embedded == document.MemberEnd() || !embedded->value.IsObject()) {
    return absl::InternalError("script: the emulator's answer has no _embedded");
  }
  auto leads = embedded->value.FindMember("leads");
  if (leads == embedded->value.MemberEnd() || !leads->value.IsArray()) {
    return absl::InternalError("script: the emulator's answer has no _embedded.leads");
  }
  std::vector<int64_t> ids;
  for (const rapidjson::Value& lead : leads->value.GetArray()) {
    if (!lead.IsObject() || !lead.HasMember("id") || !lead["id"].IsInt64()) {
      return absl::InternalError("script: a lead without an id");
    }
    ids.push_back(lead["id"].GetInt64());
  }
  return ids;
}

absl::StatusOr<ScriptResult> RunBulkScript(emu::Emulator* emulator, size_t leads, bool with_gets) {
  constexpr size_t kPerPost = 50, kPerGet = 250;
  const double rps = absl::GetFlag(FLAGS_bulk_kommo_rps);
  const auto spacing =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rps));
  const size_t before = emulator->lead_count();
  emulator->ClearRequests();
  HttpClient http(absl::StrCat("Bearer ", kToken));
  ScriptResult result;
  Clock::time_point next_slot = Clock::now();
  // The pacing a throttling client library does: a request is sent no earlier than its slot.
  auto wait_for_slot = [&next_slot, spacing] {
    std::this_thread::sleep_until(next_slot);
    next_slot = std::max(next_slot + spacing, Clock::now());
  };
  const Clock::time_point begin = Clock::now();
  std::vector<int64_t> ids;
  for (size_t first = 0; first < leads; first += kPerPost) {
    std::vector<std::string> items;
    for (size_t i = first; i < leads && i < first + kPerPost; ++i) {
      items.push_back(
          absl::StrCat("{\"name\":\"Bulk import lead #", i + 1, "\",\"price\":", 100 + i, "}"));
    }
    wait_for_slot();
    absl::StatusOr<HttpAnswer> answer = http.Post(
        emulator->base_url() + "/api/v4/leads", absl::StrCat("[", absl::StrJoin(items, ","), "]"));
    if (!answer.ok()) return answer.status();
    if (answer->status != 200) {
      return absl::InternalError(absl::StrCat("script: POST answered HTTP ", answer->status));
    }
    ++result.posts;
    absl::StatusOr<std::vector<int64_t>> created = EmbeddedLeadIds(answer->body);
    if (!created.ok()) return created.status();
    ids.insert(ids.end(), created->begin(), created->end());
  }
  for (size_t first = 0; with_gets && first < ids.size(); first += kPerGet) {
    std::string url =
        absl::StrCat(emulator->base_url(), "/api/v4/leads?limit=", kPerGet, "&with=contacts");
    for (size_t i = first; i < ids.size() && i < first + kPerGet; ++i) {
      absl::StrAppend(&url, "&filter%5Bid%5D%5B%5D=", ids[i]);
    }
    wait_for_slot();
    absl::StatusOr<HttpAnswer> answer = http.Get(url);
    if (!answer.ok()) return answer.status();
    if (answer->status != 200) {
      return absl::InternalError(absl::StrCat("script: GET answered HTTP ", answer->status));
    }
    ++result.gets;
    absl::StatusOr<std::vector<int64_t>> read = EmbeddedLeadIds(answer->body);
    if (!read.ok()) return read.status();
    result.read_back += read->size();
  }
  result.wall_seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  result.created = emulator->lead_count() - before;
  const KommoTraffic traffic = CountTraffic(emulator);
  result.requests = traffic.total;
  result.status_429 = traffic.status_429;
  result.by_route = traffic.by_route;
  return result;
}

// Both scripts (with and without the GETs) in the emulator set up as for the service; nullopt
// (and a harness error) when a script did not create every lead or met a 429.
std::optional<std::pair<ScriptResult, ScriptResult>> RunBulkScripts(emu::Emulator* emulator,
                                                                    Report* report) {
  const std::string name = "2 Bulk create, script";
  const size_t calls = static_cast<size_t>(absl::GetFlag(FLAGS_bulk_calls));
  const double rps = absl::GetFlag(FLAGS_bulk_kommo_rps);
  const int latency_ms = absl::GetFlag(FLAGS_bulk_kommo_latency_ms);
  std::printf("\n== %s: %zu leads sent by a careful script straight to the emulator, %g req/s\n",
              name.c_str(), calls, rps);
  ScriptResult runs[2];
  for (const bool with_gets : {true, false}) {
    emulator->Reset();
    emu::RateLimitOptions limit;
    limit.enabled = true;
    limit.requests_per_second = rps;
    limit.burst = rps;
    if (absl::Status status = emulator->SetRateLimit(limit); !status.ok()) {
      HarnessError(report, name, status);
      return std::nullopt;
    }
    if (absl::Status status = AddLatency(emulator, "", latency_ms); !status.ok()) {
      HarnessError(report, name, status);
      return std::nullopt;
    }
    absl::StatusOr<ScriptResult> run = RunBulkScript(emulator, calls, with_gets);
    emulator->Reset();
    if (!run.ok()) {
      HarnessError(report, name, run.status());
      return std::nullopt;
    }
    const std::string tag = with_gets ? "2 (script): " : "2 (script, no GETs): ";
    Note(report,
         absl::StrFormat("%s%zu POST%s in %.2f s: %zu new leads%s, %d requests (%d "
                         "answered 429): %s",
                         tag, run->posts, with_gets ? absl::StrCat(" + ", run->gets, " GET") : "",
                         run->wall_seconds, run->created,
                         with_gets ? absl::StrCat(", ", run->read_back, " read back") : "",
                         static_cast<int>(run->requests), static_cast<int>(run->status_429),
                         run->by_route));
    const bool complete =
        run->created == calls && run->status_429 == 0 && (!with_gets || run->read_back == calls);
    if (!complete) {
      HarnessError(report, name,
                   absl::InternalError(absl::StrCat(
                       tag, "the script did not create (and read back) every lead without a 429")));
      return std::nullopt;
    }
    runs[with_gets ? 0 : 1] = *run;
  }
  return std::make_pair(runs[0], runs[1]);
}

void RunBulkCreate(const Paths& paths, emu::Emulator* emulator, Report* report, bool id_only,
                   const ScriptResult* script) {
  const std::string name = id_only ? "2 Bulk create, read_mask id" : "2 Bulk create";
  const std::string tag = id_only ? "2 (read_mask id): " : "2: ";
  const int calls = absl::GetFlag(FLAGS_bulk_calls);
  const double rps = absl::GetFlag(FLAGS_bulk_kommo_rps);
  const int latency_ms = absl::GetFlag(FLAGS_bulk_kommo_latency_ms);
  const double goal_s = absl::GetFlag(FLAGS_bulk_goal_s);
  std::printf("\n== %s: %d concurrent CreateLead, emulator at %g req/s with %d ms latency\n",
              name.c_str(), calls, rps, latency_ms);
  emulator->Reset();
  emu::RateLimitOptions limit;
  limit.enabled = true;
  limit.requests_per_second = rps;
  limit.burst = rps;
  if (absl::Status status = emulator->SetRateLimit(limit); !status.ok()) {
    return HarnessError(report, name, status);
  }
  if (absl::Status status = AddLatency(emulator, "", latency_ms); !status.ok()) {
    return HarnessError(report, name, status);
  }
  // The server as deployed: its default rate limit (7 requests/s, burst 1) and everything else.
  absl::StatusOr<Started> server = StartServer(paths, *emulator, {}, "bulk-server");
  if (!server.ok()) return HarnessError(report, name, server.status());
  const size_t leads_before = emulator->lead_count();
  emulator->ClearRequests();
  ProcSampler sampler(server->process->pid(), milliseconds(10));
  auto stub = v1::LeadService::NewStub(Connect(server->port));
  const CreateStart create =
      [&stub](grpc::ClientContext* context, const v1::CreateLeadRequest* request,
              v1::CreateLeadResponse* response, std::function<void(grpc::Status)> done) {
        stub->async()->CreateLead(context, request, response, std::move(done));
      };
  const std::function<v1::CreateLeadRequest(size_t)> make = [id_only](size_t i) {
    v1::CreateLeadRequest request;
    request.set_name(absl::StrCat("Bulk import lead #", i + 1));
    request.set_price(static_cast<int64_t>(100 + i));
    if (id_only) request.mutable_read_mask()->add_paths("id");
    return request;
  };
  LoadResult result = RunLoad(static_cast<size_t>(calls), static_cast<size_t>(calls),
                              milliseconds(absl::GetFlag(FLAGS_bulk_deadline_ms)), make, create);
  // Requests still in flight at the emulator (a write whose caller gave up) land within the
  // latency.
  std::this_thread::sleep_for(milliseconds(latency_ms + 200));
  const size_t created = emulator->lead_count() - leads_before;
  const KommoTraffic traffic = CountTraffic(emulator);
  sampler.Stop();
  const std::string rss = Mb(sampler.hwm_kb());
  const std::string threads = absl::StrCat(sampler.peak_threads());
  StopChild(&server->process);
  emulator->Reset();

  const Percentiles latency = OkLatencies(result);
  Note(report,
       absl::StrCat(tag, calls, " CreateLead in ", absl::StrFormat("%.2f s", result.wall_seconds),
                    ": ", result.Breakdown()));
  if (latency.size() > 0) {
    Note(report, absl::StrCat(tag, "successful calls' latency p50 ", Ms(latency.At(0.5)), ", p99 ",
                              Ms(latency.At(0.99)), ", max ", Ms(latency.At(1.0))));
  }
  Note(report,
       absl::StrCat(tag, "emulator: ", created, " new leads, ", traffic.total, " requests (",
                    traffic.status_429, " answered 429): ", traffic.by_route));
  Row row;
  row.scenario = name;
  row.result =
      absl::StrCat("**", result.ok(), "/", calls, "** succeeded, ", created, " leads created, ",
                   traffic.status_429, "×429, ", traffic.total, " Kommo requests, **",
                   absl::StrFormat("%.1f s", result.wall_seconds), "**");
  // Against the careful script of the same run (with its GETs for the read-back; without them for
  // read_mask id), when it ran; else against the fixed limit.
  double limit_s = goal_s;
  row.goal =
      absl::StrFormat("all %d succeed, exactly %d leads, no 429, ≤ %g s", calls, calls, goal_s);
  if (script != nullptr) {
    limit_s = kGoalScriptRatio * script->wall_seconds;
    row.result += absl::StrFormat(
        " = **%.2f×** the script's %.2f s (%zu POST%s)", result.wall_seconds / script->wall_seconds,
        script->wall_seconds, script->posts,
        script->gets > 0 ? absl::StrCat(" + ", script->gets, " GET") : std::string());
    row.goal = absl::StrFormat(
        "all %d succeed, exactly %d leads, no 429, ≤ %.1f × the script %s = %.2f s", calls, calls,
        kGoalScriptRatio, id_only ? "without GETs" : "with its GETs", limit_s);
  }
  row.met = result.ok() == static_cast<size_t>(calls) && created == static_cast<size_t>(calls) &&
            traffic.status_429 == 0 && result.wall_seconds <= limit_s;
  row.missed_by = absl::StrFormat("%d/%d ok in %.1f s", static_cast<int>(result.ok()), calls,
                                  result.wall_seconds);
  row.peak_rss = rss;
  row.peak_threads = threads;
  report->rows.push_back(row);
}

// --- 6. Three replicas sharing Redis -------------------------------------------------------------

// The same `calls` concurrent CreateLead through `replicas` servers sharing `redis` (spread round
// robin), against the emulator at the bulk scenario's rate and latency.
struct ReplicasRun {
  LoadResult result;
  size_t created = 0;
  KommoTraffic traffic;
};

absl::StatusOr<ReplicasRun> RunReplicas(const Paths& paths, emu::Emulator* emulator,
                                        testing::RedisServer* redis, int replicas, int calls) {
  emulator->Reset();
  const double rps = absl::GetFlag(FLAGS_bulk_kommo_rps);
  emu::RateLimitOptions limit;
  limit.enabled = true;
  limit.requests_per_second = rps;
  limit.burst = rps;
  if (absl::Status status = emulator->SetRateLimit(limit); !status.ok()) return status;
  const int latency_ms = absl::GetFlag(FLAGS_bulk_kommo_latency_ms);
  if (absl::Status status = AddLatency(emulator, "", latency_ms); !status.ok()) return status;
  // A fresh budget: nothing left from the previous run.
  if (absl::StatusOr<std::string> flushed = redis->Call({"FLUSHALL"}); !flushed.ok()) {
    return flushed.status();
  }
  std::vector<Started> servers;
  std::vector<std::unique_ptr<v1::LeadService::Stub>> stubs;
  for (int i = 0; i < replicas; ++i) {
    absl::StatusOr<Started> server = StartServer(
        paths, *emulator,
        {{"REDIS_URL", redis->url()}, {"REDIS_FALLBACK_REPLICAS", absl::StrCat(replicas)}},
        absl::StrCat("replicas-", replicas, "-server-", i));
    if (!server.ok()) {
      for (Started& started : servers) StopChild(&started.process);
      return server.status();
    }
    stubs.push_back(v1::LeadService::NewStub(Connect(server->port)));
    servers.push_back(*std::move(server));
  }
  // Every replica on the shared budget before the first call (connected within milliseconds).
  std::this_thread::sleep_for(milliseconds(300));
  const size_t leads_before = emulator->lead_count();
  emulator->ClearRequests();
  std::atomic<size_t> next{0};
  const CreateStart create =
      [&stubs, &next](grpc::ClientContext* context, const v1::CreateLeadRequest* request,
                      v1::CreateLeadResponse* response, std::function<void(grpc::Status)> done) {
        stubs[next.fetch_add(1) % stubs.size()]->async()->CreateLead(context, request, response,
                                                                     std::move(done));
      };
  const std::function<v1::CreateLeadRequest(size_t)> make = [](size_t i) {
    v1::CreateLeadRequest request;
    request.set_name(absl::StrCat("Replicas lead #", i + 1));
    return request;
  };
  ReplicasRun run;
  run.result = RunLoad(static_cast<size_t>(calls), static_cast<size_t>(calls),
                       milliseconds(absl::GetFlag(FLAGS_bulk_deadline_ms)), make, create);
  std::this_thread::sleep_for(milliseconds(latency_ms + 200));
  run.created = emulator->lead_count() - leads_before;
  run.traffic = CountTraffic(emulator);
  for (Started& started : servers) StopChild(&started.process);
  emulator->Reset();
  return run;
}

void RunSharedReplicas(const Paths& paths, emu::Emulator* emulator, Report* report) {
  const std::string name = "6 Three replicas sharing Redis";
  const int calls = absl::GetFlag(FLAGS_replicas_calls);
  const double goal_ratio = absl::GetFlag(FLAGS_replicas_goal_ratio);
  std::printf("\n== %s: %d concurrent CreateLead through 3 replicas and through 1, one Redis\n",
              name.c_str(), calls);
  absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis = testing::RedisServer::Start();
  if (!redis.ok()) return HarnessError(report, name, redis.status());
  absl::StatusOr<ReplicasRun> one = RunReplicas(paths, emulator, redis->get(), 1, calls);
  if (!one.ok()) return HarnessError(report, name, one.status());
  absl::StatusOr<ReplicasRun> three = RunReplicas(paths, emulator, redis->get(), 3, calls);
  if (!three.ok()) return HarnessError(report, name, three.status());
  const double ratio = three->result.wall_seconds / std::max(one->result.wall_seconds, 1e-9);
  for (const auto& [label, run] :
       {std::pair<const char*, const ReplicasRun*>{"1 replica", &*one}, {"3 replicas", &*three}}) {
    Note(report, absl::StrCat("6: ", label, ": ", calls, " CreateLead in ",
                              absl::StrFormat("%.2f s", run->result.wall_seconds), ": ",
                              run->result.Breakdown(), "; emulator: ", run->created, " new leads, ",
                              run->traffic.total, " requests (", run->traffic.status_429,
                              " answered 429): ", run->traffic.by_route));
  }
  const bool all_ok = one->result.ok() == static_cast<size_t>(calls) &&
                      three->result.ok() == static_cast<size_t>(calls) &&
                      one->created == static_cast<size_t>(calls) &&
                      three->created == static_cast<size_t>(calls) &&
                      one->traffic.status_429 == 0 && three->traffic.status_429 == 0;
  Row row;
  row.scenario = name;
  row.result = absl::StrFormat(
      "3 replicas **%.1f s** (%d/%d ok, %d requests), 1 replica **%.1f s** (%d/%d ok, %d "
      "requests): ratio **%.2f**",
      three->result.wall_seconds, static_cast<int>(three->result.ok()), calls,
      static_cast<int>(three->traffic.total), one->result.wall_seconds,
      static_cast<int>(one->result.ok()), calls, static_cast<int>(one->traffic.total), ratio);
  row.goal = absl::StrFormat("all succeed once, no 429, three within %.0f%% of one",
                             (goal_ratio - 1) * 100);
  row.met = all_ok && ratio <= goal_ratio;
  row.missed_by = absl::StrFormat("ratio %.2f%s", ratio, all_ok ? "" : ", not all succeeded once");
  report->rows.push_back(row);
}

// --- 3. Concurrency ------------------------------------------------------------------------------

void RunConcurrency(const Paths& paths, emu::Emulator* emulator, Report* report) {
  const std::string name = "3 Concurrency";
  const size_t concurrency = static_cast<size_t>(absl::GetFlag(FLAGS_concurrency));
  const size_t rounds = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_concurrency_rounds)));
  const int latency_ms = absl::GetFlag(FLAGS_concurrency_kommo_latency_ms);
  std::printf("\n== %s: %zu SearchLeads in flight, distinct queries, emulator latency %d ms\n",
              name.c_str(), concurrency, latency_ms);
  emulator->Reset();
  // Distinct queries that each find one lead: 10-character pieces of long random lead names.
  const size_t total = concurrency * (rounds + 1);
  constexpr size_t kNameHex = 240, kQueryLength = 10;
  constexpr size_t kPerLead = kNameHex - kQueryLength + 1;
  const size_t lead_count = (total + kPerLead - 1) / kPerLead;
  std::mt19937_64 random(7);
  std::vector<std::pair<std::string, int64_t>> leads;
  std::vector<std::string> hex_names;
  for (size_t i = 0; i < lead_count; ++i) {
    std::string hex;
    while (hex.size() < kNameHex) hex += absl::StrFormat("%016x", random());
    hex.resize(kNameHex);
    hex_names.push_back(hex);
    leads.emplace_back(absl::StrCat("Concurrency bench ", hex), static_cast<int64_t>(i));
  }
  std::vector<std::string> queries;
  std::set<std::string> seen;
  for (size_t i = 0; queries.size() < total && i < lead_count * kPerLead; ++i) {
    std::string query = hex_names[i / kPerLead].substr(i % kPerLead, kQueryLength);
    if (seen.insert(query).second) queries.push_back(query);
  }
  if (absl::Status seeded = SeedLeads(*emulator, leads); !seeded.ok()) {
    return HarnessError(report, name, seeded);
  }
  if (queries.size() < total) {
    return HarnessError(report, name, absl::InternalError("not enough distinct queries"));
  }
  if (absl::Status status = AddLatency(emulator, "GET", latency_ms); !status.ok()) {
    return HarnessError(report, name, status);
  }
  // The rate limit out of the way: the largest rate and burst the server's configuration accepts.
  absl::StatusOr<Started> server = StartServer(
      paths, *emulator, {{"KOMMO_RATE_LIMIT_RPS", "10000"}, {"KOMMO_RATE_LIMIT_BURST", "1000"}},
      "concurrency-server");
  if (!server.ok()) return HarnessError(report, name, server.status());
  emulator->ClearRequests();
  ProcSampler sampler(server->process->pid(), milliseconds(10));
  auto stub = v1::LeadService::NewStub(Connect(server->port));
  const SearchStart search = SearchStarter(stub.get());
  const milliseconds deadline(absl::GetFlag(FLAGS_concurrency_deadline_ms));
  size_t offset = 0;
  const std::function<v1::SearchLeadsRequest(size_t)> make = [&queries, &offset](size_t i) {
    v1::SearchLeadsRequest request;
    request.set_query(queries[offset + i]);
    return request;
  };
  // One unmeasured round first: connections to the server and from it to Kommo are opened.
  LoadResult cold = RunLoad(concurrency, concurrency, deadline, make, search);
  // The comparison point, between the service's rounds: the same GETs the service sent (taken from
  // the emulator's log, with each call's own query), straight to the emulator, as many in flight.
  std::vector<std::string> direct_urls;
  for (const emu::LoggedRequest& logged : emulator->requests()) {
    if (logged.method != "GET" || !absl::StartsWith(logged.path, "/api/v4/leads")) continue;
    for (size_t i = 0; i < total; ++i) {
      std::vector<std::string> query;
      for (const auto& [key, value] : logged.query) {
        query.push_back(
            absl::StrCat(UrlEscape(key), "=", UrlEscape(key == "query" ? queries[i] : value)));
      }
      direct_urls.push_back(
          absl::StrCat(emulator->base_url(), logged.path, "?", absl::StrJoin(query, "&")));
    }
    break;
  }
  const std::string authorization = absl::StrCat("Bearer ", kToken);
  DirectLoadResult direct_cold, direct;
  std::string direct_cpu;
  if (!direct_urls.empty()) {
    DirectLoad direct_load(concurrency, authorization);
    direct_cold = direct_load.Run(
        std::vector<std::string>(direct_urls.begin(), direct_urls.begin() + concurrency));
    const std::vector<ThreadCpu> before = ThreadCpuSeconds(getpid());
    direct = direct_load.Run(
        std::vector<std::string>(direct_urls.begin() + concurrency, direct_urls.end()));
    direct_cpu = ThreadCpuSummary(before, ThreadCpuSeconds(getpid()));
  }
  emulator->ClearRequests();
  offset = concurrency;
  HttpClient admin("");
  const int64_t accepted_before = ConnectionsAccepted(*emulator, &admin);
  const double cpu_before = CpuSeconds(server->process->pid());
  const double driver_before = DriverCpuSeconds();
  const std::vector<ThreadCpu> server_threads_before = ThreadCpuSeconds(server->process->pid());
  const std::vector<ThreadCpu> driver_threads_before = ThreadCpuSeconds(getpid());
  LoadResult result = RunLoad(concurrency * rounds, concurrency, deadline, make, search);
  const double server_cpu = CpuSeconds(server->process->pid()) - cpu_before;
  const double driver_cpu = DriverCpuSeconds() - driver_before;
  const std::string server_thread_cpu =
      ThreadCpuSummary(server_threads_before, ThreadCpuSeconds(server->process->pid()));
  const std::string driver_thread_cpu =
      ThreadCpuSummary(driver_threads_before, ThreadCpuSeconds(getpid()));
  const int64_t server_connections = ConnectionsAccepted(*emulator, &admin) - accepted_before;
  const KommoTraffic traffic = CountTraffic(emulator);
  sampler.Stop();
  const int64_t hwm = sampler.hwm_kb();
  const int64_t peak_threads = sampler.peak_threads();
  StopChild(&server->process);
  emulator->Reset();

  const double ideal = static_cast<double>(concurrency) / (latency_ms / 1000.0);
  const double throughput = static_cast<double>(result.ok()) / result.wall_seconds;
  const double direct_throughput =
      direct.wall_seconds > 0 ? static_cast<double>(direct.ok) / direct.wall_seconds : 0;
  const Percentiles latency = OkLatencies(result);
  const Percentiles direct_latency(direct.latencies_ns);
  Note(report, absl::StrCat("3: unmeasured first round: ", concurrency, " calls in ",
                            absl::StrFormat("%.2f s", cold.wall_seconds), ": ", cold.Breakdown()));
  Note(report, absl::StrCat("3: service, measured: ", result.calls.size(), " calls, ", concurrency,
                            " in flight, in ", absl::StrFormat("%.2f s", result.wall_seconds), ": ",
                            result.Breakdown()));
  Note(report,
       absl::StrCat("3: service latency p50 ", Ms(latency.At(0.5)), ", p99 ", Ms(latency.At(0.99)),
                    ", max ", Ms(latency.At(1.0)), " (emulator latency ", latency_ms,
                    " ms); emulator saw ", traffic.total, " requests on ", server_connections,
                    " new connections: ", traffic.by_route));
  Note(report,
       absl::StrFormat("3: CPU during the measured service run: server %.2f s (%.0f µs per call; "
                       "by thread: %s), driver %.2f s (by thread: %s), on %u cores",
                       server_cpu, 1e6 * server_cpu / static_cast<double>(result.calls.size()),
                       server_thread_cpu, driver_cpu, driver_thread_cpu,
                       std::thread::hardware_concurrency()));
  Note(report,
       absl::StrFormat(
           "3: direct to the emulator (libcurl multi, %zu in flight, %zu requests after "
           "an unmeasured round of %zu in %.2f s): %.0f requests/s (%.0f%% of %.0f/s), "
           "p50 %s, p99 %s, %zu failed%s, %ld connections; driver CPU by thread: %s",
           concurrency, direct.ok + direct.failed, concurrency, direct_cold.wall_seconds,
           direct_throughput, 100 * direct_throughput / ideal, ideal, Ms(direct_latency.At(0.5)),
           Ms(direct_latency.At(0.99)), direct.failed + direct_cold.failed,
           direct.first_failure.empty() ? "" : " (" + direct.first_failure + ")",
           direct.connects + direct_cold.connects, direct_cpu));
  const std::string rss = Mb(hwm);
  const std::string threads = absl::StrCat(peak_threads);

  Row tput;
  tput.scenario = "3 Concurrency, throughput";
  tput.result = absl::StrFormat(
      "**%.0f calls/s** = %.0f%% of %zu ÷ %d ms = %.0f/s; direct GETs: %.0f/s (%.0f%%)", throughput,
      100 * throughput / ideal, concurrency, latency_ms, ideal, direct_throughput,
      100 * direct_throughput / ideal);
  tput.goal = absl::StrFormat("≥ %.0f%% of %.0f/s = %.0f/s", 100 * kGoalThroughputShare, ideal,
                              kGoalThroughputShare * ideal);
  tput.met = result.ok() == result.calls.size() && throughput >= kGoalThroughputShare * ideal;
  tput.missed_by =
      absl::StrFormat("%.0f/s, %zu failed", throughput, result.calls.size() - result.ok());
  tput.peak_rss = rss;
  tput.peak_threads = threads;
  report->rows.push_back(tput);

  Row thread_row;
  thread_row.scenario = "3 Concurrency, server threads";
  thread_row.result = absl::StrCat("peak **", peak_threads, "** threads (sampled every 10 ms)");
  thread_row.goal = absl::StrCat("≤ ", kGoalThreads);
  thread_row.met = peak_threads > 0 && peak_threads <= kGoalThreads;
  thread_row.missed_by = absl::StrCat(peak_threads);
  thread_row.peak_rss = rss;
  thread_row.peak_threads = threads;
  report->rows.push_back(thread_row);

  Row memory;
  memory.scenario = "3 Concurrency, server memory";
  memory.result = absl::StrCat("peak resident (VmHWM) **", rss, "**");
  memory.goal = absl::StrFormat("≤ %.0f MB", kGoalMemoryMb);
  memory.met = hwm > 0 && KbToMb(hwm) <= kGoalMemoryMb;
  memory.missed_by = rss;
  memory.peak_rss = rss;
  memory.peak_threads = threads;
  report->rows.push_back(memory);
}

// --- 4. Footprint --------------------------------------------------------------------------------

// Polls grpc.health.v1.Health/Check ("" = the whole server) until SERVING.
absl::Status WaitServing(int port, milliseconds timeout) {
  const Clock::time_point give_up = Clock::now() + timeout;
  std::string last = "no answer";
  while (Clock::now() < give_up) {
    auto stub = grpc::health::v1::Health::NewStub(Connect(port));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + milliseconds(200));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    if (status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    last = status.ok() ? absl::StrCat("status ", response.status())
                       : absl::StrCat(CodeName(status.error_code()), " ", status.error_message());
    std::this_thread::sleep_for(milliseconds(1));
  }
  return absl::DeadlineExceededError(absl::StrCat("not SERVING: ", last));
}

void RunFootprint(const Paths& paths, emu::Emulator* emulator, Report* report) {
  const std::string name = "4 Footprint";
  const int starts = std::max(1, absl::GetFlag(FLAGS_footprint_starts));
  const int idle_ms = absl::GetFlag(FLAGS_footprint_idle_ms);
  std::printf("\n== %s: %d starts; time to SERVING, resident size after %d ms idle\n", name.c_str(),
              starts, idle_ms);
  emulator->Reset();
  std::vector<double> start_ms, listen_ms, idle_cpu_ms;
  std::vector<int64_t> idle_kb, idle_anon_kb, idle_threads;
  std::vector<std::string> idle_split;
  for (int run = 0; run < starts; ++run) {
    absl::StatusOr<Started> server = StartServer(paths, *emulator, {}, "footprint-server");
    if (!server.ok()) return HarnessError(report, name, server.status());
    const Clock::time_point printed = Clock::now();
    absl::Status serving = WaitServing(server->port, milliseconds(10000));
    const Clock::time_point ready = Clock::now();
    if (!serving.ok()) {
      StopChild(&server->process);
      return HarnessError(report, name, serving);
    }
    const Clock::time_point started = server->process->started_at();
    start_ms.push_back(std::chrono::duration<double, std::milli>(ready - started).count());
    listen_ms.push_back(std::chrono::duration<double, std::milli>(printed - started).count());
    const double cpu_before = CpuSeconds(server->process->pid());
    std::this_thread::sleep_for(milliseconds(idle_ms));
    idle_cpu_ms.push_back(1000 * (CpuSeconds(server->process->pid()) - cpu_before));
    absl::StatusOr<ProcStatus> status = ReadProcStatus(server->process->pid());
    StopChild(&server->process);
    if (!status.ok()) return HarnessError(report, name, status.status());
    idle_kb.push_back(status->vm_rss_kb);
    idle_anon_kb.push_back(status->rss_anon_kb);
    idle_split.push_back(
        absl::StrCat(Mb(status->rss_anon_kb), " anonymous + ", Mb(status->rss_file_kb), " files"));
    idle_threads.push_back(status->threads);
  }
  std::vector<double> sorted = start_ms;
  std::sort(sorted.begin(), sorted.end());
  const double median_start = sorted[sorted.size() / 2];
  const int64_t max_idle = *std::max_element(idle_kb.begin(), idle_kb.end());
  const int64_t max_anon = *std::max_element(idle_anon_kb.begin(), idle_anon_kb.end());
  const int64_t max_threads = *std::max_element(idle_threads.begin(), idle_threads.end());
  std::vector<std::string> runs;
  for (size_t i = 0; i < start_ms.size(); ++i) {
    runs.push_back(absl::StrFormat(
        "%.0f ms (port line at %.0f ms), idle %s (%s), %d threads, %.0f ms CPU while idle",
        start_ms[i], listen_ms[i], Mb(idle_kb[i]), idle_split[i], static_cast<int>(idle_threads[i]),
        idle_cpu_ms[i]));
  }
  Note(report, absl::StrCat("4: start → SERVING per start: ", absl::StrJoin(runs, "; ")));

  Row idle;
  idle.scenario = "4 Footprint, idle memory";
  idle.result = absl::StrCat("anonymous resident (RssAnon) after ", idle_ms, " ms idle: **",
                             Mb(max_anon), "** (largest of ", starts, "; VmRSS ", Mb(max_idle),
                             ", the rest shared libraries and the binary)");
  idle.goal = absl::StrFormat("< %.0f MB anonymous", kGoalIdleAnonMb);
  idle.met = max_anon > 0 && KbToMb(max_anon) < kGoalIdleAnonMb;
  idle.missed_by = Mb(max_anon);
  idle.peak_rss = Mb(max_idle);
  idle.peak_threads = absl::StrCat(max_threads);
  report->rows.push_back(idle);

  Row start;
  start.scenario = "4 Footprint, start-up";
  start.result = absl::StrFormat("process start → SERVING: **%.0f ms** (median of %d, max %.0f ms)",
                                 median_start, starts, sorted.back());
  start.goal = absl::StrFormat("< %.0f ms", kGoalStartMs);
  start.met = median_start < kGoalStartMs;
  start.missed_by = absl::StrFormat("%.0f ms", median_start);
  start.peak_rss = Mb(max_idle);
  start.peak_threads = absl::StrCat(max_threads);
  report->rows.push_back(start);
}

// --- 5. TLS
// ----------------------------------------------------------------------------------------

// One kind of the TLS scenario: a server started with `env` and how a client reaches it.
struct TlsKind {
  std::string name;
  Env env;
  client::ChannelOptions options;
  Started server;
  std::unique_ptr<v1::LeadService::Stub> stub;
  std::vector<int64_t> call_ns, connect_ns;
};

// A channel with a connection of its own, built by the client library from `options`.
absl::StatusOr<std::shared_ptr<grpc::Channel>> TlsChannel(int port,
                                                          const client::ChannelOptions& options) {
  std::string error;
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      client::ChannelCredentialsFor(options, &error);
  if (credentials == nullptr) return absl::InternalError(error);
  // A token over plaintext rides in the client library's interceptor, which only CreateChannel
  // installs (this kind is measured on its open connection only).
  if (!options.bearer_token.empty() && !options.tls.enabled) {
    return client::CreateChannel(absl::StrCat("127.0.0.1:", port), options);
  }
  grpc::ChannelArguments args = client::ChannelArguments(options);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), credentials, args);
}

void RunTls(const Paths& paths, emu::Emulator* emulator, Report* report) {
  const std::string name = "5 TLS";
  std::printf(
      "\n== %s: SearchLeads one at a time over plaintext, TLS, mTLS and with a callers file; new "
      "connections\n",
      name.c_str());
  emulator->Reset();
  std::vector<std::pair<std::string, int64_t>> leads;
  for (int i = 1; i <= 5; ++i) leads.emplace_back(absl::StrCat("TLS bench lead ", i), i * 1000);
  if (absl::Status seeded = SeedLeads(*emulator, leads); !seeded.ok()) {
    return HarnessError(report, name, seeded);
  }
  char dir_template[] = "/tmp/kommo-bench-tls-XXXXXX";
  const char* made = mkdtemp(dir_template);
  if (made == nullptr) return HarnessError(report, name, absl::InternalError("mkdtemp failed"));
  const std::string dir = made;
  const testing::CertFiles ca = testing::MakeCa(dir, "ca");
  const testing::CertFiles client_ca = testing::MakeCa(dir, "client-ca");
  const testing::CertFiles server_cert =
      testing::MakeSignedCert(ca, dir, "server", "kommo-grpc", "IP:127.0.0.1");
  const testing::CertFiles client_cert =
      testing::MakeSignedCert(client_ca, dir, "client", "bench", "DNS:bench");
  auto remove_dir = [&dir] {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  };
  if (server_cert.cert.empty() || client_cert.cert.empty()) {
    remove_dir();
    return HarnessError(report, name, absl::InternalError("cannot make the certificates"));
  }

  // As in scenario 1: the rate limit out of the way, so that the transport's cost shows.
  const Env limits = {{"KOMMO_RATE_LIMIT_RPS", "10000"}, {"KOMMO_RATE_LIMIT_BURST", "1000"}};
  std::vector<TlsKind> kinds(4);
  kinds[0].name = "plaintext";
  kinds[0].env = limits;
  kinds[1].name = "TLS";
  kinds[1].env = limits;
  kinds[1].env.insert(kinds[1].env.end(),
                      {{"TLS_CERT_FILE", server_cert.cert}, {"TLS_KEY_FILE", server_cert.key}});
  kinds[1].options.tls.enabled = true;
  kinds[1].options.tls.ca_file = ca.cert;
  kinds[2].name = "mTLS";
  kinds[2].env = kinds[1].env;
  kinds[2].env.emplace_back("TLS_CLIENT_CA_FILE", client_ca.cert);
  kinds[2].options.tls = kinds[1].options.tls;
  kinds[2].options.tls.cert_file = client_cert.cert;
  kinds[2].options.tls.key_file = client_cert.key;
  // The permission check: plaintext with a callers file, each call carrying its bearer token
  // (the token's SHA-256 looked up, the method matched against the caller's patterns).
  const std::string token = "bench-caller-token-7f3a9c21";
  const std::string callers_file = dir + "/callers.json";
  std::ofstream(callers_file) << absl::StrCat(
      R"({"callers": [{"name": "bench", "tokens": [{"sha256": ")",
      absl::BytesToHexString(auth::Sha256(token)),
      R"("}], "methods": ["kommo.v1.ContactService/*", "kommo.v1.LeadService/Get*",
                          "kommo.v1.LeadService/SearchLeads"]}]})");
  kinds[3].name = "callers";
  kinds[3].env = limits;
  kinds[3].env.emplace_back("CALLERS_FILE", callers_file);
  kinds[3].options.bearer_token = token;
  auto stop_all = [&kinds, &remove_dir] {
    for (TlsKind& kind : kinds) StopChild(&kind.server.process);
    remove_dir();
  };
  for (TlsKind& kind : kinds) {
    kind.options.retry.max_attempts = 1;
    absl::StatusOr<Started> started =
        StartServer(paths, *emulator, kind.env, absl::StrCat("tls-", kind.name, "-server"));
    if (!started.ok()) {
      stop_all();
      return HarnessError(report, name, started.status());
    }
    kind.server = *std::move(started);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        TlsChannel(kind.server.port, kind.options);
    if (!channel.ok()) {
      stop_all();
      return HarnessError(report, name, channel.status());
    }
    kind.stub = v1::LeadService::NewStub(*channel);
  }
  ProcSampler sampler(kinds[2].server.process->pid(), milliseconds(10));

  v1::SearchLeadsRequest request;
  request.set_query("tls bench");
  request.set_page_size(10);
  const milliseconds deadline(5000);
  size_t failures = 0;
  std::string failure;
  auto record = [&](const TlsKind& kind, const CallRecord& call, const v1::SearchLeadsResponse& r,
                    std::vector<int64_t>* into) {
    if (call.code != grpc::StatusCode::OK || r.leads_size() != 5) {
      ++failures;
      failure = absl::StrCat(kind.name, ": ", CodeName(call.code), " ", call.reason, ", ",
                             r.leads_size(), " leads");
    } else if (into != nullptr) {
      into->push_back(call.latency_ns);
    }
  };
  // Calls on an open connection; the kinds take turns in a rotating order (as in scenario 1).
  const int warmup = absl::GetFlag(FLAGS_tls_warmup);
  const int calls = absl::GetFlag(FLAGS_tls_calls);
  std::vector<double> server_cpu(kinds.size());
  for (int i = 0; i < warmup + calls; ++i) {
    if (i == warmup) {
      for (size_t k = 0; k < kinds.size(); ++k) {
        server_cpu[k] = -CpuSeconds(kinds[k].server.process->pid());
      }
    }
    for (size_t k = 0; k < kinds.size(); ++k) {
      TlsKind& kind = kinds[(static_cast<size_t>(i) + k) % kinds.size()];
      v1::SearchLeadsResponse response;
      const CallRecord call =
          CallOnce(request, deadline, SearchStarter(kind.stub.get()), &response);
      record(kind, call, response, i >= warmup ? &kind.call_ns : nullptr);
    }
  }
  for (size_t k = 0; k < kinds.size(); ++k) {
    server_cpu[k] += CpuSeconds(kinds[k].server.process->pid());
  }
  // New connections: a channel of its own each time, so the time includes the TCP connect and,
  // for TLS, the handshake (mTLS: with the client's certificate checked).
  const int connects = absl::GetFlag(FLAGS_tls_connects);
  constexpr size_t kConnectKinds = 3;  // plaintext, TLS, mTLS
  for (int i = 0; i < connects; ++i) {
    for (size_t k = 0; k < kConnectKinds; ++k) {
      TlsKind& kind = kinds[(static_cast<size_t>(i) + k) % kConnectKinds];
      const Clock::time_point start = Clock::now();
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
          TlsChannel(kind.server.port, kind.options);
      if (!channel.ok()) {
        ++failures;
        failure = std::string(channel.status().message());
        continue;
      }
      auto stub = v1::LeadService::NewStub(*channel);
      v1::SearchLeadsResponse response;
      CallRecord call = CallOnce(request, deadline, SearchStarter(stub.get()), &response);
      call.latency_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
      record(kind, call, response, &kind.connect_ns);
    }
  }
  sampler.Stop();
  const std::string rss = Mb(sampler.hwm_kb());
  const std::string threads = absl::StrCat(sampler.peak_threads());
  stop_all();

  auto spread = [](const std::vector<int64_t>& ns) {
    const Percentiles p(ns);
    return absl::StrCat("p50 ", Us(static_cast<double>(p.At(0.5))), ", p90 ",
                        Us(static_cast<double>(p.At(0.9))), ", p99 ",
                        Us(static_cast<double>(p.At(0.99))), ", max ",
                        Us(static_cast<double>(p.At(1.0))));
  };
  Note(report, absl::StrCat("5: ", calls, " SearchLeads of each kind on an open connection (after ",
                            warmup, " unmeasured), ", connects,
                            " new connections of each kind; failures: ", failures,
                            failures ? " (last: " + failure + ")" : ""));
  for (size_t k = 0; k < kinds.size(); ++k) {
    const TlsKind& kind = kinds[k];
    Note(report, absl::StrCat("5: ", kind.name, ": calls ", spread(kind.call_ns),
                              absl::StrFormat("; server CPU %.0f µs per call",
                                              1e6 * server_cpu[k] / std::max(1, calls)),
                              kind.connect_ns.empty()
                                  ? std::string()
                                  : "; new connection + first call " + spread(kind.connect_ns)));
  }
  const bool enough = failures == 0 && !kinds[0].call_ns.empty() && !kinds[1].call_ns.empty() &&
                      !kinds[2].call_ns.empty() && !kinds[3].call_ns.empty() &&
                      !kinds[0].connect_ns.empty() && !kinds[2].connect_ns.empty();
  auto at = [](const std::vector<int64_t>& ns, double q) {
    return static_cast<double>(Percentiles(ns).At(q));
  };
  auto add_row = [&](const std::string& scenario, const std::string& result) {
    Row row;
    row.scenario = scenario;
    row.result = result;
    row.goal = "none: reported beside plaintext, same run";
    row.met = enough;
    row.missed_by = absl::StrCat(failures, " failed calls");
    row.peak_rss = rss;
    row.peak_threads = threads;
    report->rows.push_back(row);
  };
  for (const double q : {0.5, 0.99}) {
    const std::string label = q == 0.5 ? "p50" : "p99";
    const double plain = at(kinds[0].call_ns, q), tls = at(kinds[1].call_ns, q),
                 mtls = at(kinds[2].call_ns, q);
    add_row(absl::StrCat("5 TLS overhead, call ", label),
            absl::StrCat("TLS ", Us(tls), " − plaintext ", Us(plain), " = **", Us(tls - plain),
                         "**; mTLS ", Us(mtls), " − plaintext = **", Us(mtls - plain), "**"));
  }
  for (const double q : {0.5, 0.99}) {
    const double plain = at(kinds[0].call_ns, q), checked = at(kinds[3].call_ns, q);
    add_row(absl::StrCat("5 permission check overhead, call ", q == 0.5 ? "p50" : "p99"),
            absl::StrCat("callers file + bearer token ", Us(checked), " − plaintext ", Us(plain),
                         " = **", Us(checked - plain), "**"));
  }
  const double plain_connect = at(kinds[0].connect_ns, 0.5),
               tls_connect = at(kinds[1].connect_ns, 0.5),
               mtls_connect = at(kinds[2].connect_ns, 0.5);
  add_row("5 TLS overhead, new connection p50",
          absl::StrCat("TLS ", Us(tls_connect), " − plaintext ", Us(plain_connect), " = **",
                       Us(tls_connect - plain_connect), "**; mTLS ", Us(mtls_connect),
                       " − plaintext = **", Us(mtls_connect - plain_connect), "**"));
}

// --- The table -----------------------------------------------------------------------------------

std::string Table(const Report& report, const std::string& header) {
  std::string out = header;
  absl::StrAppend(
      &out, "\n| Scenario | Result | Goal | Verdict | Server peak RSS | Server peak threads |\n",
      "|---|---|---|---|---|---|\n");
  for (const Row& row : report.rows) {
    absl::StrAppend(&out, "| ", row.scenario, " | ", row.result, " | ", row.goal, " | ",
                    row.met ? "met" : absl::StrCat("**MISSED** (", row.missed_by, ")"), " | ",
                    row.peak_rss.empty() ? "-" : row.peak_rss, " | ",
                    row.peak_threads.empty() ? "-" : row.peak_threads, " |\n");
  }
  absl::StrAppend(&out, "\nDetails:\n");
  for (const std::string& note : report.notes) absl::StrAppend(&out, "- ", note, "\n");
  return out;
}

std::string SelfDir() {
  char path[4096];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length <= 0) return ".";
  std::string self(path, static_cast<size_t>(length));
  return self.substr(0, self.rfind('/'));
}

// The server reads its settings from the environment: the caller's must not leak in.
void DropServerSettingsFromEnvironment() {
  static constexpr const char* kPrefixes[] = {"KOMMO_",
                                              "REDIS_URL",
                                              "REDIS_FALLBACK_REPLICAS",
                                              "REDIS_TIMEOUT",
                                              "GRPC_LISTEN_ADDRESS",
                                              "GRPC_DEFAULT_DEADLINE",
                                              "METRICS_LISTEN_ADDRESS",
                                              "LOG_LEVEL",
                                              "SHUTDOWN_GRACE_PERIOD",
                                              "TLS_",
                                              "HEALTH_LISTEN_ADDRESS"};
  std::vector<std::string> names;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    absl::string_view view = *entry;
    for (const char* prefix : kPrefixes) {
      if (absl::StartsWith(view, prefix)) names.emplace_back(view.substr(0, view.find('=')));
    }
  }
  for (const std::string& name : names) unsetenv(name.c_str());
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kommo-bench: runs issue 7's benchmark scenarios against kommo-grpc-server and prints a "
      "table (bench/README.md)");
  absl::ParseCommandLine(argc, argv);
  DropServerSettingsFromEnvironment();
  curl_global_init(CURL_GLOBAL_DEFAULT);

  Paths paths;
  const std::string bin_dir =
      absl::GetFlag(FLAGS_bin_dir).empty() ? SelfDir() : absl::GetFlag(FLAGS_bin_dir);
  paths.server = absl::StrCat(bin_dir, "/kommo-grpc-server");
  paths.echo_server = absl::StrCat(bin_dir, "/kommo-bench-echo-server");
  paths.log_dir = absl::GetFlag(FLAGS_log_dir);

  // The whole run is bounded: past the limit the process exits, and the children with it
  // (PR_SET_PDEATHSIG); the in-process emulator goes with the process.
  const int limit_s = absl::GetFlag(FLAGS_time_limit_s);
  std::thread([limit_s] {
    pthread_setname_np(pthread_self(), "bench-watchdog");
    std::this_thread::sleep_for(std::chrono::seconds(limit_s));
    std::fprintf(stderr, "kommo-bench: time limit of %d s reached, aborting\n", limit_s);
    std::fflush(stderr);
    _exit(3);
  }).detach();

  emu::EmulatorOptions options;
  options.token = kToken;
  options.request_log_limit = 256;
  options.random_seed = 1;
  const std::vector<ThreadCpu> threads_before = ThreadCpuSeconds(getpid());
  absl::StatusOr<std::unique_ptr<emu::Emulator>> emulator = emu::Emulator::Start(options);
  NameNewThreads(threads_before, "emulator");
  if (!emulator.ok()) {
    std::fprintf(stderr, "kommo-bench: cannot start the emulator: %s\n",
                 emulator.status().ToString().c_str());
    return 2;
  }

  std::string header = absl::StrCat("kommo-grpc benchmark, ", NowUtc(),
                                    "\n\nMachine: ", MachineLine(), "\nServer: ", paths.server);
  if (!absl::GetFlag(FLAGS_revision).empty()) {
    absl::StrAppend(&header, " (", absl::GetFlag(FLAGS_revision), ")");
  }
  if (!absl::GetFlag(FLAGS_server_env).empty()) {
    absl::StrAppend(&header, ", with ", absl::StrJoin(absl::GetFlag(FLAGS_server_env), " "));
  }
  absl::StrAppend(&header, "\n");
  std::printf("%s", header.c_str());
  std::fflush(stdout);

  Report report;
  const Clock::time_point begin = Clock::now();
  for (absl::string_view scenario : absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',')) {
    scenario = absl::StripAsciiWhitespace(scenario);
    if (scenario == "1") {
      RunOverhead(paths, emulator->get(), &report);
    } else if (scenario == "2") {
      const auto scripts = RunBulkScripts(emulator->get(), &report);
      RunBulkCreate(paths, emulator->get(), &report, /*id_only=*/false,
                    scripts.has_value() ? &scripts->first : nullptr);
      RunBulkCreate(paths, emulator->get(), &report, /*id_only=*/true,
                    scripts.has_value() ? &scripts->second : nullptr);
    } else if (scenario == "3") {
      RunConcurrency(paths, emulator->get(), &report);
    } else if (scenario == "4") {
      RunFootprint(paths, emulator->get(), &report);
    } else if (scenario == "5") {
      RunTls(paths, emulator->get(), &report);
    } else if (scenario == "6") {
      RunSharedReplicas(paths, emulator->get(), &report);
    } else if (!scenario.empty()) {
      std::fprintf(stderr, "kommo-bench: unknown scenario \"%s\" (1, 2, 3, 4, 5 or 6)\n",
                   std::string(scenario).c_str());
      return 2;
    }
  }
  (*emulator)->Stop();
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  Note(&report, absl::StrFormat("whole run: %.1f s", seconds));

  const std::string table = Table(report, header);
  std::printf("\n%s", table.c_str());
  std::fflush(stdout);
  if (!absl::GetFlag(FLAGS_markdown_out).empty()) {
    std::ofstream out(absl::GetFlag(FLAGS_markdown_out));
    out << table;
  }
  if (report.harness_error) return 1;
  if (absl::GetFlag(FLAGS_strict)) {
    for (const Row& row : report.rows) {
      if (!row.met) return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace kommo::bench

int main(int argc, char** argv) { return kommo::bench::Run(argc, argv); }
