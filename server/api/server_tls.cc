#include "server/api/server_tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kommo::api {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

absl::Status Invalid(absl::string_view setting, const std::string& path,
                     absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(setting, " ", path, ": ", problem));
}

absl::StatusOr<std::string> ReadFile(absl::string_view setting, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Invalid(setting, path, "cannot be read");
  std::stringstream contents;
  contents << file.rdbuf();
  if (file.bad()) return Invalid(setting, path, "cannot be read");
  return contents.str();
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

// The certificates of a PEM file, in order; an error when it holds none or a broken one.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(absl::string_view setting,
                                                       const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(setting, path);
  if (!pem.ok()) return pem.status();
  BioPtr bio = MemoryBio(*pem);
  std::vector<X509Ptr> certificates;
  while (true) {
    X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (certificate == nullptr) break;
    certificates.emplace_back(certificate, &X509_free);
  }
  // The loop ends at the end of the data (PEM_R_NO_START_LINE) or at a block that does not parse.
  const unsigned long error = ERR_peek_last_error();  // NOLINT(runtime/int): OpenSSL's type
  ERR_clear_error();
  const bool clean_end =
      ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
  if (!clean_end && error != 0) {
    return Invalid(setting, path, "holds a PEM certificate block that does not parse");
  }
  if (certificates.empty()) {
    return Invalid(setting, path, "holds no PEM certificate");
  }
  return certificates;
}

absl::StatusOr<KeyPtr> ParseKey(absl::string_view setting, const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(setting, path);
  if (!pem.ok()) return pem.status();
  BioPtr bio = MemoryBio(*pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ERR_clear_error();
  if (key == nullptr) {
    return Invalid(setting, path, "holds no unencrypted PEM private key");
  }
  return key;
}

}  // namespace

TransportSecurity SecurityOf(const ServerTlsOptions& options) {
  if (options.cert_file.empty()) return TransportSecurity::kPlaintext;
  return options.client_ca_file.empty() ? TransportSecurity::kTls : TransportSecurity::kMutualTls;
}

absl::string_view SecurityName(TransportSecurity security) {
  switch (security) {
    case TransportSecurity::kPlaintext:
      return "plaintext";
    case TransportSecurity::kTls:
      return "TLS";
    case TransportSecurity::kMutualTls:
      return "mTLS";
  }
  return "plaintext";
}

absl::Status CheckServerTlsFiles(const ServerTlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS_CERT_FILE and TLS_KEY_FILE are given together or not at all");
  }
  if (options.cert_file.empty()) {
    if (!options.client_ca_file.empty()) {
      return absl::InvalidArgumentError("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE");
    }
    return absl::OkStatus();
  }
  if (options.reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("TLS_RELOAD_INTERVAL must be at least 1s");
  }
  absl::StatusOr<std::vector<X509Ptr>> chain =
      ParseCertificates("TLS_CERT_FILE", options.cert_file);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<KeyPtr> key = ParseKey("TLS_KEY_FILE", options.key_file);
  if (!key.ok()) return key.status();
  const bool matches = X509_check_private_key(chain->front().get(), key->get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return Invalid("TLS_KEY_FILE", options.key_file,
                   absl::StrCat("is not the key of the first certificate in TLS_CERT_FILE ",
                                options.cert_file));
  }
  if (!options.client_ca_file.empty()) {
    absl::StatusOr<std::vector<X509Ptr>> cas =
        ParseCertificates("TLS_CLIENT_CA_FILE", options.client_ca_file);
    if (!cas.ok()) return cas.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const ServerTlsOptions& options) {
  if (absl::Status status = CheckServerTlsFiles(options); !status.ok()) return status;
  if (SecurityOf(options) == TransportSecurity::kPlaintext) {
    return grpc::InsecureServerCredentials();
  }
  const auto interval = static_cast<unsigned int>(std::min<int64_t>(
      absl::ToInt64Seconds(options.reload_interval), std::numeric_limits<unsigned int>::max()));
  // Reads the files now and then every `interval` on a thread of its own; new handshakes use what
  // it read last. A rotation should replace the files at once (Kubernetes swaps the files of a
  // mounted Secret together through a symlink); a file that cannot be read keeps the last pair.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.key_file, options.cert_file, options.client_ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (!options.client_ca_file.empty()) {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

}  // namespace kommo::api
