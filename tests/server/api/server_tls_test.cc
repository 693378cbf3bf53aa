// Inbound TLS and mTLS (server_tls.h) for real: a gRPC server on 127.0.0.1:0 with the credentials
// ServerCredentialsFor builds, a tiny AccountService that records the caller's certificate
// identity from the auth context, and real client channels. Certificates are made at test time.
#include "server/api/server_tls.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "kommo/v1/account_service.grpc.pb.h"
#include "tests/support/test_cert.h"

namespace kommo::api {
namespace {

using ::kommo::testing::CertFiles;
using ::kommo::testing::MakeCa;
using ::kommo::testing::MakeSignedCert;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// What the handler saw of its caller.
struct Peer {
  std::vector<std::string> sans;
  std::vector<std::string> common_names;
};

// Answers GetAccount with an empty account and records the caller's certificate identity.
class RecordingAccountService final : public v1::AccountService::Service {
 public:
  grpc::Status GetAccount(grpc::ServerContext* context, const v1::GetAccountRequest*,
                          v1::GetAccountResponse*) override {
    Peer peer;
    const std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
    for (const grpc::string_ref& value :
         auth->FindPropertyValues("x509_subject_alternative_name")) {
      peer.sans.emplace_back(value.data(), value.size());
    }
    for (const grpc::string_ref& value : auth->FindPropertyValues("x509_common_name")) {
      peer.common_names.emplace_back(value.data(), value.size());
    }
    std::lock_guard<std::mutex> lock(mu_);
    last_ = peer;
    return grpc::Status::OK;
  }
  Peer last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  std::mutex mu_;
  Peer last_;
};

std::string Read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Replaces `to` with a copy of `from` in one rename, as a rotation would.
void Replace(const std::string& from, const std::string& to) {
  const std::string temporary = to + ".new";
  std::filesystem::copy_file(from, temporary, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(temporary, to);
}

class InboundTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/server_tls_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    ca_ = MakeCa(dir_, "ca");
    other_ca_ = MakeCa(dir_, "other-ca");
    server_cert_ = MakeSignedCert(ca_, dir_, "server", "kommo-grpc", "IP:127.0.0.1,DNS:localhost");
    ASSERT_FALSE(ca_.cert.empty());
    ASSERT_FALSE(other_ca_.cert.empty());
    ASSERT_FALSE(server_cert_.cert.empty());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    std::filesystem::remove_all(dir_);
  }

  // Serves the recording service with `options`' credentials on 127.0.0.1:0.
  void Serve(const ServerTlsOptions& options) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        ServerCredentialsFor(options);
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
  }

  // One call on a channel of its own (a new connection, so a new handshake), trusting the CA in
  // `root_file` and presenting `client` when it has files.
  grpc::Status Call(const std::string& root_file, const CertFiles& client = {}) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read(root_file);
    if (!client.cert.empty()) {
      ssl.pem_cert_chain = Read(client.cert);
      ssl.pem_private_key = Read(client.key);
    }
    return CallWith(grpc::SslCredentials(ssl));
  }
  grpc::Status CallWith(const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    grpc::ChannelArguments args;
    // No connection shared with an earlier channel: every call makes its own handshake.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_), credentials, args);
    auto stub = v1::AccountService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetAccountRequest request;
    v1::GetAccountResponse response;
    return stub->GetAccount(&context, request, &response);
  }

  std::string dir_;
  CertFiles ca_, other_ca_, server_cert_;
  RecordingAccountService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(InboundTlsTest, NamesTheSecurity) {
  EXPECT_EQ(SecurityName(SecurityOf({})), "plaintext");
  EXPECT_EQ(SecurityName(SecurityOf({"a.crt", "a.key", ""})), "TLS");
  EXPECT_EQ(SecurityName(SecurityOf({"a.crt", "a.key", "ca.crt"})), "mTLS");
}

TEST_F(InboundTlsTest, BadFilesAreClearErrorsWithoutTheirContents) {
  EXPECT_TRUE(CheckServerTlsFiles({}).ok());
  EXPECT_TRUE(CheckServerTlsFiles({server_cert_.cert, server_cert_.key, ca_.cert}).ok());

  const absl::Status alone = CheckServerTlsFiles({server_cert_.cert, "", ""});
  EXPECT_EQ(alone.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(alone.message(), HasSubstr("TLS_CERT_FILE and TLS_KEY_FILE"));

  const absl::Status missing = CheckServerTlsFiles({dir_ + "/none.crt", server_cert_.key, ""});
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.message(), HasSubstr("TLS_CERT_FILE " + dir_ + "/none.crt: cannot be read"));

  // The key given as the certificate and the certificate as the key.
  const absl::Status swapped = CheckServerTlsFiles({server_cert_.key, server_cert_.cert, ""});
  EXPECT_THAT(swapped.message(),
              HasSubstr("TLS_CERT_FILE " + server_cert_.key + ": holds no PEM certificate"));
  const absl::Status not_a_key = CheckServerTlsFiles({server_cert_.cert, server_cert_.cert, ""});
  EXPECT_THAT(not_a_key.message(), HasSubstr("TLS_KEY_FILE " + server_cert_.cert +
                                             ": holds no unencrypted PEM private key"));

  // Another certificate's key.
  const absl::Status mismatch = CheckServerTlsFiles({server_cert_.cert, ca_.key, ""});
  EXPECT_THAT(mismatch.message(),
              HasSubstr("TLS_KEY_FILE " + ca_.key + ": is not the key of the first certificate"));
  EXPECT_THAT(mismatch.message(), Not(HasSubstr("BEGIN")));

  // A certificate block cut short.
  const std::string pem = Read(server_cert_.cert);
  const std::string cut = dir_ + "/cut.crt";
  std::ofstream(cut) << pem.substr(0, pem.size() / 2) << "\n-----END CERTIFICATE-----\n";
  EXPECT_THAT(CheckServerTlsFiles({cut, server_cert_.key, ""}).message(),
              HasSubstr("TLS_CERT_FILE " + cut + ": holds a PEM certificate block that does not"));

  const absl::Status no_ca = CheckServerTlsFiles({server_cert_.cert, server_cert_.key, dir_});
  EXPECT_THAT(no_ca.message(), HasSubstr("TLS_CLIENT_CA_FILE " + dir_));
  EXPECT_THAT(CheckServerTlsFiles({"", "", ca_.cert}).message(),
              HasSubstr("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE"));

  // ServerCredentialsFor refuses what CheckServerTlsFiles refuses, instead of gRPC aborting.
  EXPECT_EQ(ServerCredentialsFor({server_cert_.cert, ca_.key, ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(InboundTlsTest, TlsCallsWorkAndPlaintextOrAnUntrustedServerDoNot) {
  Serve({server_cert_.cert, server_cert_.key, ""});
  const grpc::Status trusted = Call(ca_.cert);
  EXPECT_TRUE(trusted.ok()) << trusted.error_message();
  // Without mTLS the caller presents nothing.
  EXPECT_TRUE(service_.last().sans.empty());

  EXPECT_EQ(Call(other_ca_.cert).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(CallWith(grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(InboundTlsTest, MutualTlsAcceptsOnlyClientsOfTheClientCa) {
  // The client CA differs from the server's CA, as in a cluster whose callers have their own.
  const CertFiles client_ca = MakeCa(dir_, "client-ca");
  const CertFiles chatbot =
      MakeSignedCert(client_ca, dir_, "chatbot", "chatbot", "URI:spiffe://crm/ns/bots/sa/chatbot");
  Serve({server_cert_.cert, server_cert_.key, client_ca.cert});

  const grpc::Status trusted = Call(ca_.cert, chatbot);
  ASSERT_TRUE(trusted.ok()) << trusted.error_message();
  // The identity the callers check reads (auth_context).
  const Peer peer = service_.last();
  EXPECT_THAT(peer.sans, Contains("spiffe://crm/ns/bots/sa/chatbot"));
  EXPECT_THAT(peer.common_names, Contains("chatbot"));

  // No client certificate: the handshake fails.
  const grpc::Status anonymous = Call(ca_.cert);
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAVAILABLE) << anonymous.error_message();
  // A certificate from a CA the server does not trust for clients (its own server CA included).
  const CertFiles stranger = MakeSignedCert(other_ca_, dir_, "stranger", "stranger", "DNS:x");
  EXPECT_EQ(Call(ca_.cert, stranger).error_code(), grpc::StatusCode::UNAVAILABLE);
  const CertFiles server_ca_client = MakeSignedCert(ca_, dir_, "sibling", "sibling", "DNS:y");
  EXPECT_EQ(Call(ca_.cert, server_ca_client).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(InboundTlsTest, RotatedFilesServeNewConnectionsWithoutARestart) {
  // The server's files live at fixed paths, as a mounted Secret's do.
  const std::string cert = dir_ + "/tls.crt";
  const std::string key = dir_ + "/tls.key";
  Replace(server_cert_.cert, cert);
  Replace(server_cert_.key, key);
  ServerTlsOptions options{cert, key, ""};
  options.reload_interval = absl::Seconds(1);
  Serve(options);
  ASSERT_TRUE(Call(ca_.cert).ok());
  ASSERT_EQ(Call(other_ca_.cert).error_code(), grpc::StatusCode::UNAVAILABLE);

  // The certificate is renewed by another CA: the key first, then the certificate.
  const CertFiles renewed =
      MakeSignedCert(other_ca_, dir_, "renewed", "kommo-grpc", "IP:127.0.0.1,DNS:localhost");
  Replace(renewed.key, key);
  Replace(renewed.cert, cert);

  // Within a few reload intervals a new connection gets the new certificate.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  grpc::Status renewed_call = Call(other_ca_.cert);
  while (!renewed_call.ok() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    renewed_call = Call(other_ca_.cert);
  }
  EXPECT_TRUE(renewed_call.ok()) << renewed_call.error_message();
  // The old certificate is no longer served.
  EXPECT_EQ(Call(ca_.cert).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace kommo::api
