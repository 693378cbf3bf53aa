#include "server/auth/grpc_credentials.h"

#include <grpcpp/security/auth_context.h>

#include <string>

#include "absl/strings/string_view.h"

namespace kommo::auth {
namespace {

// Keys callers use for tokens elsewhere; a token there is refused with a hint, never checked.
constexpr absl::string_view kMisplacedTokenKeys[] = {
    "x-api-key",    "api-key", "x-auth-token", "auth-token", "x-access-token",
    "access-token", "x-token", "token",        "bearer",     "x-authorization"};

}  // namespace

Credentials CredentialsOf(const grpc::ServerContextBase& context) {
  Credentials credentials;
  for (const auto& [key, value] : context.client_metadata()) {
    const absl::string_view name(key.data(), key.size());
    if (name == "authorization") {
      credentials.authorization.emplace_back(value.data(), value.size());
      continue;
    }
    for (absl::string_view misplaced : kMisplacedTokenKeys) {
      if (name == misplaced) credentials.misplaced_token_keys.emplace_back(name);
    }
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const char* property : {"x509_subject_alternative_name", "x509_common_name"}) {
      for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
        std::string identity(value.data(), value.size());
        bool seen = false;
        for (const std::string& each : credentials.peer_identities) seen = seen || each == identity;
        if (!seen) credentials.peer_identities.push_back(std::move(identity));
      }
    }
  }
  return credentials;
}

}  // namespace kommo::auth
