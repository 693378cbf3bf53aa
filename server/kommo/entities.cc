#include "server/kommo/entities.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "server/common/error_details.h"
#include "server/mapping/kommo_json.h"

namespace kommo::rest {

using kommo::v1::Contact;
using kommo::v1::Lead;

namespace {

// A mapping's page (LeadPage, ContactPage) as the generic EntityPage: `Items` names its list.
template <typename Entity, typename Page, std::vector<Entity> Page::*Items,
          absl::StatusOr<Page> (*Parse)(absl::string_view)>
absl::StatusOr<EntityPage<Entity>> PageFrom(absl::string_view body) {
  absl::StatusOr<Page> page = Parse(body);
  if (!page.ok()) return page.status();
  return EntityPage<Entity>{std::move((*page).*Items), page->has_next};
}

// A batch body builder from a mapping's item type and body function.
template <typename Request, typename Item, std::string (*Body)(absl::Span<const Item>)>
std::string BatchBody(const std::vector<std::pair<std::string, const Request*>>& items) {
  std::vector<Item> batch;
  batch.reserve(items.size());
  for (const auto& [id, request] : items) batch.push_back({id, request});
  return Body(batch);
}

}  // namespace

const EntityDescription<Lead>& LeadEntity() {
  static const auto* const kLead = new EntityDescription<Lead>{
      "lead",
      "leads",
      "contacts",
      reason::kLeadNotFound,
      &mapping::ParseLead,
      &PageFrom<Lead, mapping::LeadPage, &mapping::LeadPage::leads, &mapping::ParseLeadPage>};
  return *kLead;
}

const EntityDescription<Contact>& ContactEntity() {
  static const auto* const kContact = new EntityDescription<Contact>{
      "contact",
      "contacts",
      "",
      reason::kContactNotFound,
      &mapping::ParseContact,
      &PageFrom<Contact, mapping::ContactPage, &mapping::ContactPage::contacts,
                &mapping::ParseContactPage>};
  return *kContact;
}

WriteDescription<v1::CreateLeadRequest, Lead> LeadCreate() {
  WriteDescription<v1::CreateLeadRequest, Lead> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = "POST /leads";
  write.body =
      &BatchBody<v1::CreateLeadRequest, mapping::LeadCreateItem, &mapping::LeadsCreateBody>;
  write.field = [](absl::string_view path, const v1::CreateLeadRequest&) {
    return mapping::LeadFieldFromKommoPath(path);
  };
  // Kommo names an unnamed lead itself, so any lead could be an unnamed request's.
  write.could_be = [](const Lead& lead, const v1::CreateLeadRequest& request) {
    return request.name().empty() || lead.name() == request.name();
  };
  return write;
}

WriteDescription<v1::UpdateLeadRequest, Lead> LeadUpdate() {
  WriteDescription<v1::UpdateLeadRequest, Lead> write;
  write.method = http::Method::kPatch;
  write.kind = RequestKind::kUpdate;
  write.what = "PATCH /leads";
  write.target = [](const v1::UpdateLeadRequest& request) { return request.lead_id(); };
  write.body =
      &BatchBody<v1::UpdateLeadRequest, mapping::LeadUpdateItem, &mapping::LeadsUpdateBody>;
  write.field = [](absl::string_view path, const v1::UpdateLeadRequest&) {
    return mapping::LeadFieldFromKommoPath(path);
  };
  return write;
}

WriteDescription<v1::CreateContactRequest, Contact> ContactCreate() {
  WriteDescription<v1::CreateContactRequest, Contact> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = "POST /contacts";
  write.body = &BatchBody<v1::CreateContactRequest, mapping::ContactCreateItem,
                          &mapping::ContactsCreateBody>;
  write.field = [](absl::string_view path, const v1::CreateContactRequest& request) {
    return mapping::ContactFieldFromKommoPath(path, request);
  };
  write.could_be = [](const Contact& contact, const v1::CreateContactRequest& request) {
    return request.name().empty() || contact.name() == request.name();
  };
  return write;
}

}  // namespace kommo::rest
