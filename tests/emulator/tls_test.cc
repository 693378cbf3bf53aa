// HTTPS: the emulator serves TLS with a certificate made here at test time (OpenSSL API, no files
// in the repo). A client that trusts that certificate gets answers; one that does not must fail
// verification, which is what the service's own TLS checks are tested against.
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/emulator/test_helpers.h"
#include "tests/support/test_cert.h"

#ifndef KOMMO_EMULATOR_BINARY
#error "KOMMO_EMULATOR_BINARY must be the path of the kommo-emulator binary"
#endif

namespace kommo::emulator {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kToken[] = "tls-token";

using ::kommo::testing::CertFiles;
using ::kommo::testing::MakeSelfSignedCert;

struct Answer {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  long connects = 0;
};

// One GET; `ca` empty: the system's trust store (which does not know our certificate).
Answer Get(CURL* curl, const std::string& url, const std::string& ca) {
  Answer answer;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca.empty() ? nullptr : ca.c_str());
  curl_slist* headers =
      curl_slist_append(nullptr, (std::string("Authorization: Bearer ") + kToken).c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, testing::AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  answer.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &answer.connects);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  return answer;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "kommo-emulator-tls-" + std::to_string(getpid());
    ASSERT_EQ(system(("mkdir -p '" + dir_ + "'").c_str()), 0);
    files_ = MakeSelfSignedCert(dir_, "server");
    ASSERT_FALSE(files_.cert.empty()) << "could not make a test certificate";
    EmulatorOptions options;
    options.token = kToken;
    options.tls_cert_file = files_.cert;
    options.tls_key_file = files_.key;
    auto emulator = Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    curl_ = curl_easy_init();
  }
  void TearDown() override {
    curl_easy_cleanup(curl_);
    emulator_.reset();
    std::remove(files_.cert.c_str());
    std::remove(files_.key.c_str());
    rmdir(dir_.c_str());
  }

  std::string dir_;
  CertFiles files_;
  std::unique_ptr<Emulator> emulator_;
  CURL* curl_ = nullptr;
};

TEST_F(TlsTest, TrustedCertificateWorksAndAnUnknownOneIsRejected) {
  EXPECT_THAT(emulator_->base_url(), StartsWith("https://127.0.0.1:"));
  const std::string url = emulator_->base_url() + "/api/v4/account";

  const Answer trusted = Get(curl_, url, files_.cert);
  ASSERT_EQ(trusted.code, CURLE_OK) << curl_easy_strerror(trusted.code);
  EXPECT_EQ(trusted.status, 200);
  EXPECT_THAT(trusted.body, HasSubstr("\"href\":\"https://127.0.0.1:"));  // links follow the scheme
  const Answer again = Get(curl_, url, files_.cert);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.connects, 0);  // keep-alive over TLS

  CURL* stranger = curl_easy_init();
  const Answer untrusted = Get(stranger, url, "");
  EXPECT_EQ(untrusted.code, CURLE_PEER_FAILED_VERIFICATION) << curl_easy_strerror(untrusted.code);
  EXPECT_EQ(untrusted.status, 0);
  curl_easy_cleanup(stranger);

  // Plain HTTP to the TLS port gets no answer; the emulator keeps serving.
  CURL* plain = curl_easy_init();
  std::string http_url = url;
  http_url.replace(0, 5, "http");
  EXPECT_NE(Get(plain, http_url, "").code, CURLE_OK);
  curl_easy_cleanup(plain);
  EXPECT_EQ(Get(curl_, url, files_.cert).status, 200);
  EXPECT_EQ(emulator_->requests().size(), 3u);  // the refused handshakes never reached the API
}

TEST_F(TlsTest, FaultsBehaveTheSameOverTls) {
  const std::string url = emulator_->base_url() + "/api/v4/leads/pipelines";
  const Answer normal = Get(curl_, url, files_.cert);
  ASSERT_EQ(normal.status, 200);

  FaultRule cut;
  cut.action = FaultAction::kCutBody;
  ASSERT_TRUE(emulator_->AddFault(cut).ok());
  EXPECT_EQ(Get(curl_, url, files_.cert).code, CURLE_PARTIAL_FILE);

  FaultRule slow;
  slow.action = FaultAction::kSlowBody;
  slow.chunk_bytes = 300;
  slow.chunk_interval = std::chrono::milliseconds(20);
  ASSERT_TRUE(emulator_->AddFault(slow).ok());
  const Answer trickled = Get(curl_, url, files_.cert);
  EXPECT_EQ(trickled.code, CURLE_OK);
  EXPECT_EQ(trickled.body, normal.body);

  FaultRule reset;
  reset.action = FaultAction::kReset;
  ASSERT_TRUE(emulator_->AddFault(reset).ok());
  CURL* fresh = curl_easy_init();
  EXPECT_NE(Get(fresh, url, files_.cert).code, CURLE_OK);
  curl_easy_cleanup(fresh);
  EXPECT_EQ(Get(curl_, url, files_.cert).status, 200);
}

TEST_F(TlsTest, ManyConcurrentHandshakes) {
  constexpr int kConnections = 200;
  const std::string url = emulator_->base_url() + "/api/v4/leads/pipelines";
  const testing::ConcurrentReplies answers = testing::GetConcurrently(
      url, kConnections, {std::string("Authorization: Bearer ") + kToken}, 30000L, files_.cert);
  int ok = 0;
  for (const testing::ConcurrentReply& reply : answers.replies) {
    if (reply.status == 200) ++ok;
  }
  EXPECT_EQ(ok, kConnections);
}

TEST_F(TlsTest, BadCertificateFilesAreInvalidArgument) {
  EmulatorOptions options;
  options.tls_cert_file = dir_ + "/missing.crt";
  options.tls_key_file = files_.key;
  auto missing = Emulator::Start(options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("cannot load TLS certificate"));

  const CertFiles other = MakeSelfSignedCert(dir_, "other");
  ASSERT_FALSE(other.cert.empty());
  options.tls_cert_file = files_.cert;
  options.tls_key_file = other.key;  // not this certificate's key
  auto mismatch = Emulator::Start(options);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  // OpenSSL notices the mismatch when the key is loaded ("key values mismatch").
  EXPECT_THAT(std::string(mismatch.status().message()), HasSubstr("TLS private key"));
  std::remove(other.cert.c_str());
  std::remove(other.key.c_str());

  options.tls_key_file = "";
  EXPECT_EQ(Emulator::Start(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsTest, TheBinaryServesHttpsWithTlsFlags) {
  int out = -1;
  const pid_t pid = testing::SpawnWithStdout(
      {KOMMO_EMULATOR_BINARY, "--listen=127.0.0.1:0", std::string("--token=") + kToken,
       "--tls_cert=" + files_.cert, "--tls_key=" + files_.key},
      &out);
  ASSERT_GT(pid, 0);
  const std::string line = testing::ReadLine(out, std::chrono::seconds(10));
  EXPECT_THAT(line, StartsWith("kommo-emulator listening on https://127.0.0.1:"));
  const std::string base = line.substr(line.rfind(' ') + 1);
  CURL* curl = curl_easy_init();
  EXPECT_EQ(Get(curl, base + "/api/v4/account", files_.cert).status, 200);
  curl_easy_cleanup(curl);
  kill(pid, SIGTERM);
  int wait_status = 0;
  ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0);
  close(out);
}

}  // namespace
}  // namespace kommo::emulator
