// libFuzzer target over everything that parses bytes from Kommo or from callers: the JSON
// mapping (leads, contacts, pages, write results), problem+json bodies, Kommo validation paths and
// page tokens. Every input must yield a value or an error status: never a crash, a sanitizer
// report or an exception.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "kommo/v1/contact_service.pb.h"
#include "server/kommo/error_table.h"
#include "server/mapping/kommo_json.h"
#include "server/mapping/page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  using namespace kommo;  // NOLINT(build/namespaces): a fuzzer's one function

  (void)mapping::ParseLead(bytes);
  (void)mapping::ParseLeadPage(bytes);
  (void)mapping::ParseContact(bytes);
  (void)mapping::ParseContactPage(bytes);
  (void)mapping::ParseCreatedIds(bytes, "leads");
  (void)mapping::ParseCreatedIds(bytes, "contacts");
  (void)mapping::ParseProblem(bytes);

  // The same bytes as a Kommo answer of each interesting status.
  for (int status : {400, 401, 403, 404, 429, 500, 503}) {
    http::HttpResponse response;
    response.status = status;
    response.body = std::string(bytes);
    response.headers["retry-after"] = std::string(bytes.substr(0, 8));
    rest::ErrorContext context;
    context.what = "GET /leads";
    (void)rest::ErrorFromResponse(response, context);
  }

  // Validation paths and page tokens come from Kommo and from callers.
  kommo::v1::CreateContactRequest contact;
  contact.add_phones("1");
  contact.add_emails("a@b.c");
  (void)mapping::LeadFieldFromKommoPath(bytes);
  (void)mapping::ContactFieldFromKommoPath(bytes, contact);
  (void)mapping::DecodePageToken(bytes, "leads", "", 50);
  (void)mapping::DecodePageToken(bytes, "contacts", "ann", 0);
  return 0;
}
