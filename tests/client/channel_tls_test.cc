// The client library's TLS and bearer-token options (channel.h) against a real gRPC server on
// 127.0.0.1:0 with certificates made at test time; the server records what each call carried.
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "kommo/client/channel.h"
#include "kommo/v1/account_service.grpc.pb.h"
#include "tests/support/test_cert.h"

namespace kommo::client {
namespace {

using ::kommo::testing::CertFiles;
using ::kommo::testing::MakeCa;
using ::kommo::testing::MakeSignedCert;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

struct Seen {
  std::vector<std::string> authorization;  // every authorization value of the last call
  std::string transport;                   // "ssl" over TLS
  std::vector<std::string> client_common_names;
};

class RecordingAccountService final : public v1::AccountService::Service {
 public:
  grpc::Status GetAccount(grpc::ServerContext* context, const v1::GetAccountRequest*,
                          v1::GetAccountResponse*) override {
    Seen seen;
    const auto range = context->client_metadata().equal_range("authorization");
    for (auto it = range.first; it != range.second; ++it) {
      seen.authorization.emplace_back(it->second.data(), it->second.size());
    }
    const std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
    for (const grpc::string_ref& value : auth->FindPropertyValues("transport_security_type")) {
      seen.transport.assign(value.data(), value.size());
    }
    for (const grpc::string_ref& value : auth->FindPropertyValues("x509_common_name")) {
      seen.client_common_names.emplace_back(value.data(), value.size());
    }
    std::lock_guard<std::mutex> lock(mu_);
    last_ = seen;
    return grpc::Status::OK;
  }
  Seen last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  std::mutex mu_;
  Seen last_;
};

std::string Read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

class ChannelTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/channel_tls_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    ca_ = MakeCa(dir_, "ca");
    client_ca_ = MakeCa(dir_, "client-ca");
    ASSERT_FALSE(ca_.cert.empty());
    ASSERT_FALSE(client_ca_.cert.empty());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    std::filesystem::remove_all(dir_);
  }

  // `server_sans`: the server certificate's names; `client_ca`: mTLS when non-empty.
  void Serve(const std::string& server_sans, const std::string& client_ca = "") {
    const CertFiles server = MakeSignedCert(ca_, dir_, "server", "kommo-grpc", server_sans);
    ASSERT_FALSE(server.cert.empty());
    grpc::SslServerCredentialsOptions ssl(
        client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = client_ca.empty() ? "" : Read(client_ca);
    ssl.pem_key_cert_pairs.push_back({Read(server.key), Read(server.cert)});
    Start(grpc::SslServerCredentials(ssl));
  }
  void Start(const std::shared_ptr<grpc::ServerCredentials>& credentials) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  grpc::Status Call(ChannelOptions options) {
    options.retry.max_attempts = 1;
    auto stub =
        v1::AccountService::NewStub(CreateChannel("127.0.0.1:" + std::to_string(port_), options));
    auto context = NewCallContext(std::chrono::seconds(5));
    v1::GetAccountRequest request;
    v1::GetAccountResponse response;
    return stub->GetAccount(context.get(), request, &response);
  }

  std::string dir_;
  CertFiles ca_, client_ca_;
  RecordingAccountService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(ChannelTlsTest, PlaintextCarriesTheTokenThroughTheInterceptor) {
  Start(grpc::InsecureServerCredentials());
  ChannelOptions options;
  options.bearer_token = "s3cr3t-token";
  const grpc::Status status = Call(options);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(service_.last().authorization, ElementsAre("Bearer s3cr3t-token"));

  // No token, no header.
  ASSERT_TRUE(Call({}).ok());
  EXPECT_THAT(service_.last().authorization, IsEmpty());
}

TEST_F(ChannelTlsTest, TlsWithTheServersCaAndAToken) {
  Serve("IP:127.0.0.1");
  ChannelOptions options;
  options.tls.enabled = true;
  options.tls.ca_file = ca_.cert;
  options.bearer_token = "s3cr3t-token";
  const grpc::Status status = Call(options);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(service_.last().transport, "ssl");
  EXPECT_THAT(service_.last().authorization, ElementsAre("Bearer s3cr3t-token"));

  // Plaintext to a TLS port, or TLS trusting another CA, does not connect.
  EXPECT_EQ(Call({}).error_code(), grpc::StatusCode::UNAVAILABLE);
  options.tls.ca_file = client_ca_.cert;
  EXPECT_EQ(Call(options).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ChannelTlsTest, MutualTlsSendsTheClientCertificate) {
  Serve("IP:127.0.0.1", client_ca_.cert);
  const CertFiles chatbot = MakeSignedCert(client_ca_, dir_, "chatbot", "chatbot", "DNS:chatbot");
  ChannelOptions options;
  options.tls.enabled = true;
  options.tls.ca_file = ca_.cert;
  options.tls.cert_file = chatbot.cert;
  options.tls.key_file = chatbot.key;
  const grpc::Status status = Call(options);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(service_.last().client_common_names, ElementsAre("chatbot"));

  options.tls.cert_file.clear();
  options.tls.key_file.clear();
  EXPECT_EQ(Call(options).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ChannelTlsTest, ServerNameOverridesTheTargetsHost) {
  // The certificate names the service, not the address the test dials.
  Serve("DNS:kommo-grpc.crm.svc");
  ChannelOptions options;
  options.tls.enabled = true;
  options.tls.ca_file = ca_.cert;
  EXPECT_EQ(Call(options).error_code(), grpc::StatusCode::UNAVAILABLE);
  options.tls.server_name = "kommo-grpc.crm.svc";
  const grpc::Status status = Call(options);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(ChannelTlsTest, UnusableFilesAndTokensAreNamedNotSent) {
  std::string error;
  ChannelOptions options;
  options.tls.enabled = true;
  options.tls.ca_file = dir_ + "/missing.crt";
  EXPECT_EQ(ChannelCredentialsFor(options, &error), nullptr);
  EXPECT_EQ(error, "TLS CA file " + dir_ + "/missing.crt: cannot be read");

  options.tls.ca_file = ca_.cert;
  options.tls.cert_file = ca_.cert;
  EXPECT_EQ(ChannelCredentialsFor(options, &error), nullptr);
  EXPECT_THAT(error, HasSubstr("given together"));

  const std::string empty = dir_ + "/empty.key";
  std::ofstream(empty) << "";
  options.tls.key_file = empty;
  EXPECT_EQ(ChannelCredentialsFor(options, &error), nullptr);
  EXPECT_EQ(error, "TLS client key " + empty + ": holds no PEM block");

  ChannelOptions token;
  token.bearer_token = "two words";
  EXPECT_EQ(ChannelCredentialsFor(token, &error), nullptr);
  EXPECT_THAT(error, HasSubstr("bearer token"));
  EXPECT_THAT(error, Not(HasSubstr("two words")));
  token.bearer_token = "line\n";
  EXPECT_EQ(ChannelCredentialsFor(token), nullptr);

  // CreateChannel with unusable options: every call fails, nothing is sent.
  Start(grpc::InsecureServerCredentials());
  EXPECT_EQ(Call(options).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Call(token).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace kommo::client
