#ifndef KOMMO_SERVER_AUTH_GRPC_CREDENTIALS_H_
#define KOMMO_SERVER_AUTH_GRPC_CREDENTIALS_H_

#include <grpcpp/server_context.h>

#include "server/auth/callers.h"

namespace kommo::auth {

// What a gRPC call presents: its `authorization` metadata, metadata keys where a token is often
// put by mistake, and its verified client certificate's identities (subject alternative names,
// then the common name).
Credentials CredentialsOf(const grpc::ServerContextBase& context);

}  // namespace kommo::auth

#endif  // KOMMO_SERVER_AUTH_GRPC_CREDENTIALS_H_
