#ifndef KOMMO_SERVER_API_SERVER_TLS_H_
#define KOMMO_SERVER_API_SERVER_TLS_H_

// Inbound TLS and mTLS from PEM files that are read again while the server runs, so that a
// certificate rotated on disk (cert-manager renewing a mounted Secret) serves new connections
// without a restart. Connections already open keep the certificate they were made with.

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kommo::api {

struct ServerTlsOptions {
  // The server's certificate chain (leaf first) and its private key, PEM. Both empty: plaintext.
  std::string cert_file;
  std::string key_file;
  // PEM bundle of the CAs that sign callers' certificates. Set: mTLS, every caller must present a
  // certificate that chains to one of them (the handshake fails otherwise, UNAVAILABLE to the
  // caller). The caller's identity is then in the call's auth context
  // (x509_subject_alternative_name, x509_common_name).
  std::string client_ca_file;
  // How often the three files are read again. gRPC counts whole seconds: at least 1s.
  absl::Duration reload_interval = absl::Seconds(60);
};

enum class TransportSecurity { kPlaintext, kTls, kMutualTls };

TransportSecurity SecurityOf(const ServerTlsOptions& options);
// "plaintext", "TLS" or "mTLS", for the start-up log line.
absl::string_view SecurityName(TransportSecurity security);

// Checks what gRPC would otherwise only find at the first handshake (or abort on): the settings
// come together (cert and key both or neither; a client CA only with them), every file is
// readable and holds PEM that parses, and the key belongs to the leaf certificate.
// INVALID_ARGUMENT naming the setting and the file, never the files' contents.
absl::Status CheckServerTlsFiles(const ServerTlsOptions& options);

// Credentials for ServerBuilder::AddListeningPort: insecure when no certificate is set, else TLS
// (mTLS with a client CA) whose files are watched every `reload_interval`. Runs
// CheckServerTlsFiles first and returns its error.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const ServerTlsOptions& options);

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_SERVER_TLS_H_
