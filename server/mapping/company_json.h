#ifndef KOMMO_SERVER_MAPPING_COMPANY_JSON_H_
#define KOMMO_SERVER_MAPPING_COMPANY_JSON_H_

// JSON ⇄ proto for Kommo's companies (/api/v4/companies): the create and update bodies, the
// company as GET answers show it, and Kommo's validation paths as the caller's field names. Pure
// functions. Custom fields and tags go through the shared codec (custom_fields_json.h).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kommo/v1/company.pb.h"
#include "kommo/v1/company_service.pb.h"

namespace kommo::mapping {

// One company of a POST /companies batch.
struct CompanyCreateItem {
  std::string request_id;
  const kommo::v1::CreateCompanyRequest* request = nullptr;
};

// The JSON array body of POST /companies: name, responsible_user_id when set,
// custom_fields_values and tags_to_add when given, request_id.
std::string CompaniesCreateBody(absl::Span<const CompanyCreateItem> items);

// One change of a PATCH /companies batch.
struct CompanyUpdateItem {
  std::string request_id;
  const kommo::v1::UpdateCompanyRequest* request = nullptr;
};

// The JSON array body of PATCH /companies: per item its "id" (company_id), exactly the fields
// present (custom_fields_values with the listed fields, tags_to_add / tags_to_delete), and its
// "request_id".
std::string CompaniesUpdateBody(absl::Span<const CompanyUpdateItem> items);

// A company object of a GET answer (GET /companies/{id}). "id" must be a positive integer;
// timestamps that are null, absent or 0 stay unset.
absl::StatusOr<kommo::v1::Company> ParseCompany(absl::string_view body);

struct CompanyPage {
  std::vector<kommo::v1::Company> companies;
  bool has_next = false;  // `_links.next` is present
};

// A 200 body of GET /companies (`_embedded.companies`, `_links.next`). A missing
// `_embedded.companies` is an empty page.
absl::StatusOr<CompanyPage> ParseCompanyPage(absl::string_view body);

// Kommo's validation path of a company item → the request field it came from ("id" →
// "company_id"; custom-field and tag paths as custom_fields_json.h maps them; "name",
// "responsible_user_id" and unknown paths unchanged).
std::string CompanyFieldFromKommoPath(absl::string_view path);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_COMPANY_JSON_H_
