#ifndef KOMMO_SERVER_MAPPING_PAGE_TOKEN_H_
#define KOMMO_SERVER_MAPPING_PAGE_TOKEN_H_

// Opaque page tokens for SearchLeads and SearchContacts (AIP-158).
//
// A token names the Kommo page to fetch next and is bound to the query and page size it was issued
// for, so a token reused with another query, another page size or another RPC is rejected, and a
// forged or damaged token is INVALID_ARGUMENT with reason INVALID_PAGE_TOKEN and a BadRequest
// violation on field "page_token", never a crash or a call to Kommo.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kommo::mapping {

// `scope` names the collection ("leads" or "contacts"); `page` is the 1-based Kommo page (≥ 2 in
// practice: the first page needs no token). The result is URL-safe base64 without padding.
std::string EncodePageToken(absl::string_view scope, int64_t page, absl::string_view query,
                            int32_t page_size);

// Returns the page encoded in `token` when it was issued for the same scope, query and page_size;
// page is in [2, 1000000].
absl::StatusOr<int64_t> DecodePageToken(absl::string_view token, absl::string_view scope,
                                        absl::string_view query, int32_t page_size);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_PAGE_TOKEN_H_
