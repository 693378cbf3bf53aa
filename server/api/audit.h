#ifndef KOMMO_SERVER_API_AUDIT_H_
#define KOMMO_SERVER_API_AUDIT_H_

// The audit trail: one JSON line per write RPC (log::Audit, whatever LOG_LEVEL says) with the
// caller, the method, the request id, the outcome and the Kommo ids the write named or touched.
// Ids and codes only: never names, phones, emails, notes' text or tokens.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "server/common/call_trace.h"

namespace kommo::api {

// "field": id pairs, in the order found.
using AuditIds = std::vector<std::pair<std::string, std::string>>;

// The Kommo entities a write request names: its top-level entity id fields (`lead_id`,
// `entity_id`, `to_entity_id`, `uid`...; not pipeline, stage or user ids) and the entity types
// beside them.
void AddRequestIds(const google::protobuf::Message& request, AuditIds* ids);
// What a write's answer says it touched: each top-level entity's `id` (as `lead_id`,
// `contact_id`, ...) and the entity ids in an error's metadata (a write whose read-back failed).
void AddResponseIds(const google::protobuf::Message& response, AuditIds* ids);
void AddErrorIds(const absl::Status& status, AuditIds* ids);

// `idempotency_key`: the request's own `request_id` field ("" when none). `caller_gone`: the line
// of a write that settled after its caller left (a write with a request_id goes on without its
// caller); it adds "caller_gone":true, beside the line the call itself left.
void LogAudit(absl::string_view method, const CallTrace& trace, absl::string_view idempotency_key,
              const absl::Status& status, const AuditIds& ids, bool caller_gone = false);

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_AUDIT_H_
