// Channels to kommo-grpc with the settings every caller needs.
//
//   auto channel = kommo::client::CreateChannel("kommo-grpc.crm.svc:50051");  // one per process
//   kommo::v1::LeadService::Stub leads(channel);
//   auto context = kommo::client::NewCallContext();   // one per call: deadline now + 30 s
//   kommo::v1::GetLeadResponse response;
//   grpc::Status status = leads.GetLead(context.get(), request, &response);
//
// The channel carries a gRPC service config that
//  - retries, per method, only what cannot duplicate or reorder a write: reads (Get*, Search*,
//    List*, LookupContacts), UpdateLead, UpdateContact, UpdateCompany and CompleteTask on
//    UNAVAILABLE and RESOURCE_EXHAUSTED; every other write (CreateLead, CreateContact,
//    CreateCompany, CreateTask, FindOrCreateContact, CreateLeadWithContact, CreateIncomingLead,
//    Accept/DeclineIncomingLead, AddNote, LinkEntities, UnlinkEntities) only on
//    RESOURCE_EXHAUSTED, which the server returns only when Kommo did not act on the call. A
//    create that failed with UNAVAILABLE may have happened (ErrorInfo reason
//    WRITE_OUTCOME_UNKNOWN; a repeat with the same request_id gets that same answer): look it up
//    before creating it again;
//  - honours the server's wait hint: the `grpc-retry-pushback-ms` trailer it sends beside
//    google.rpc.RetryInfo replaces gRPC's own backoff before the next attempt.
// Retries happen inside the call's deadline; the caller sees the last attempt's status.
//
// TLS and a bearer token (ChannelOptions::tls, ::bearer_token):
//
//   kommo::client::ChannelOptions options;
//   options.tls.enabled = true;
//   options.tls.ca_file = "/etc/kommo-grpc/ca.crt";          // the server's CA
//   options.tls.cert_file = "/etc/kommo-grpc/tls.crt";       // mTLS: this caller's certificate
//   options.tls.key_file = "/etc/kommo-grpc/tls.key";
//   options.bearer_token = token;                            // read from a file or the environment
//   auto channel = kommo::client::CreateChannel("kommo-grpc.crm.svc:50051", options);
//
// The token goes as `authorization: Bearer <token>` metadata on every call: over TLS as gRPC call
// credentials, over plaintext by a client interceptor (gRPC refuses call credentials on an
// insecure channel). A token over plaintext can be read by anyone on the path: use it only to
// loopback or to a sidecar that adds TLS.
//
// Several Kommo accounts behind one server (its KOMMO_ACCOUNTS_FILE): a call names its account in
// the `x-kommo-account` metadata; without it the server's default account serves it. Per channel:
//
//   options.account = "acme";                      // every call on this channel goes to "acme"
//
// or per call, which wins over the channel's:
//
//   auto context = kommo::client::NewCallContext();
//   kommo::client::SetAccount(*context, "beta");
//
// An account the server does not serve fails INVALID_ARGUMENT (ErrorInfo reason UNKNOWN_ACCOUNT).
//
// The default deadline is set on the ClientContext, not in the service config: gRPC sends a
// context's deadline to the server (which then stops working on a call nobody waits for), while a
// service-config "timeout" stays on the client, and in gRPC 1.51 it was measured to fire 1 to 2 s
// early (a 5 s timeout ended calls after 3.3 to 4.0 s).
#ifndef KOMMO_CLIENT_CHANNEL_H_
#define KOMMO_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

namespace kommo::client {

// gRPC's retry policy for the methods that may be retried (see the file comment for which codes).
struct RetryOptions {
  // Attempts per call, the first included; 1 turns retries off. gRPC caps it at 5.
  int max_attempts = 4;
  // Backoff before attempt n+1 is random in [0, min(initial_backoff * multiplier^(n-1),
  // max_backoff)], unless the server's pushback says how long to wait.
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  double backoff_multiplier = 2.0;
  // Retry throttling (gRPC's token bucket per server name, shared by every channel in the
  // process): each failed attempt costs a token, each success earns throttle_token_ratio, and
  // below half of throttle_max_tokens calls stop retrying, so an outage does not multiply the
  // load. throttle_max_tokens 0 turns throttling off.
  int throttle_max_tokens = 10;
  double throttle_token_ratio = 0.1;
};

// TLS to the server (kommo-grpc-server's TLS_CERT_FILE; mTLS when it has TLS_CLIENT_CA_FILE).
struct TlsOptions {
  bool enabled = false;
  // PEM bundle of the CAs the server's certificate must chain to; empty: the system's roots.
  std::string ca_file;
  // This caller's certificate chain and key, PEM, for mTLS; both or neither.
  std::string cert_file;
  std::string key_file;
  // The name the server's certificate must carry, when it is not the target's host (e.g. the
  // target is an IP address or a port-forward). Also sent as the TLS server name (SNI).
  std::string server_name;
};

struct ChannelOptions {
  // Null: `tls` when enabled, else plaintext (grpc::InsecureChannelCredentials()), as inside a
  // cluster. Set: used as given (`tls` is ignored).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  TlsOptions tls;
  // Non-empty: sent as `authorization: Bearer <token>` on every call (see the file comment). Only
  // printable ASCII without spaces.
  std::string bearer_token;
  // Non-empty: sent as `x-kommo-account: <account>` on every call that does not name its own
  // (SetAccount): the Kommo account the server uses for it.
  std::string account;
  // HTTP/2 keepalive: ping after this long without activity, also while no call is open, and drop
  // the connection when the ack does not come within keepalive_timeout. The server accepts pings
  // every 10 s or more; proxies and NAT tables in between forget idle connections after minutes.
  std::chrono::milliseconds keepalive_time{30000};
  std::chrono::milliseconds keepalive_timeout{10000};
  RetryOptions retry;
};

// The gRPC service config (JSON) for the kommo.v1 services that CreateChannel installs:
// per-method retry policies and retry throttling.
std::string ServiceConfigJson(const ChannelOptions& options = {});

// Channel arguments CreateChannel uses: the service config, keepalive, retries enabled. Start from
// these to add your own and call grpc::CreateCustomChannel yourself.
grpc::ChannelArguments ChannelArguments(const ChannelOptions& options = {});

// The channel credentials CreateChannel uses: `options.credentials`, else TLS from the files of
// `options.tls` (read here) when enabled, else plaintext; over TLS (or given credentials that
// are secure) the bearer token rides along as call credentials (over plaintext CreateChannel adds
// it with an interceptor instead). Null, with the reason in
// `*error` when given, when a TLS file cannot be read or holds nothing, or the token holds
// characters that metadata cannot carry. The reason names files, never their contents.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(const ChannelOptions& options,
                                                                std::string* error = nullptr);

// A channel to `target` ("host:port", "dns:///host:port", ...). Connects lazily: an unreachable
// target shows up as UNAVAILABLE on the first call, not here. When ChannelCredentialsFor fails,
// every call on the channel fails INVALID_ARGUMENT ("Invalid credentials."); call
// ChannelCredentialsFor first to learn why.
std::shared_ptr<grpc::Channel> CreateChannel(const std::string& target,
                                             const ChannelOptions& options = {});

// The deadline NewCallContext gives a call: the server's own default for calls without one.
inline constexpr std::chrono::milliseconds kDefaultCallTimeout{30000};

// A ClientContext for one call whose deadline is now + `timeout` (retries included). A
// ClientContext serves one call only.
std::unique_ptr<grpc::ClientContext> NewCallContext(
    std::chrono::milliseconds timeout = kDefaultCallTimeout);

// The metadata key naming a call's Kommo account.
inline constexpr char kAccountMetadata[] = "x-kommo-account";

// Makes the call of `context` go to the Kommo account `account` (x-kommo-account metadata),
// whatever the channel's ChannelOptions::account says. Call before the call starts.
void SetAccount(grpc::ClientContext& context, const std::string& account);

}  // namespace kommo::client

#endif  // KOMMO_CLIENT_CHANNEL_H_
