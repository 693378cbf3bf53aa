// kommo-cli output: readable tables by default, proto JSON with --json.
#ifndef KOMMO_CLIENT_CLI_OUTPUT_H_
#define KOMMO_CLIENT_CLI_OUTPUT_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <string>

namespace kommo::cli {

// A response as text for people. One lead, contact or company: a field per line
// ("price       1500"). A search or list: one row per result with the fields that tell results
// apart, then the next page token (or "last page"). A response without fields (UnlinkEntities):
// "ok". Timestamps in RFC 3339 UTC; control characters replaced by '?'.
std::string FormatTable(const google::protobuf::Message& response);

// A response as proto JSON (field names as in the proto, fields with default values included,
// 64-bit ids as strings), one object on one line. Empty when conversion fails.
std::string FormatJson(const google::protobuf::Message& response);

// One line for a response of a watch verb (WatchLeadsResponse, WatchContactsResponse): a change
// ("STAGE_CHANGED  lead 31000000001  ...  stage 7000001:60000002 -> 7000001:60000003") or a
// heartbeat, each ending with its resume_token; with `json`, the response as one line of JSON.
std::string FormatStreamLine(const google::protobuf::Message& response, bool json);
// Whether a watch response is a change (not a heartbeat).
bool IsChange(const google::protobuf::Message& response);

// A failed call for people: kommo::client::FormatError with the failed RPC named.
std::string FormatErrorText(const std::string& rpc, const grpc::Status& status);

// A failed call as the google.rpc.Status the server sent (code, message, details with "@type"),
// in proto JSON on one line; built from the code and message when the status has no details.
std::string FormatErrorJson(const grpc::Status& status);

}  // namespace kommo::cli

#endif  // KOMMO_CLIENT_CLI_OUTPUT_H_
