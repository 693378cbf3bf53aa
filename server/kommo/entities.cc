#include "server/kommo/entities.h"

#include "server/common/error_details.h"
#include "server/mapping/kommo_json.h"

namespace kommo::rest {

using kommo::v1::Contact;
using kommo::v1::Lead;

const EntityDescription<Lead>& LeadEntity() {
  static const auto* const kLead = new EntityDescription<Lead>{
      "lead",
      "leads",
      "contacts",
      reason::kLeadNotFound,
      &mapping::ParseLead,
      [](absl::string_view body) -> absl::StatusOr<EntityPage<Lead>> {
        absl::StatusOr<mapping::LeadPage> page = mapping::ParseLeadPage(body);
        if (!page.ok()) return page.status();
        return EntityPage<Lead>{std::move(page->leads), page->has_next};
      }};
  return *kLead;
}

const EntityDescription<Contact>& ContactEntity() {
  static const auto* const kContact = new EntityDescription<Contact>{
      "contact",
      "contacts",
      "",
      reason::kContactNotFound,
      &mapping::ParseContact,
      [](absl::string_view body) -> absl::StatusOr<EntityPage<Contact>> {
        absl::StatusOr<mapping::ContactPage> page = mapping::ParseContactPage(body);
        if (!page.ok()) return page.status();
        return EntityPage<Contact>{std::move(page->contacts), page->has_next};
      }};
  return *kContact;
}

WriteDescription<v1::CreateLeadRequest, Lead> LeadCreate() {
  WriteDescription<v1::CreateLeadRequest, Lead> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = "POST /leads";
  write.body = [](const std::vector<std::pair<std::string, const v1::CreateLeadRequest*>>& items) {
    std::vector<mapping::LeadCreateItem> batch;
    batch.reserve(items.size());
    for (const auto& [id, request] : items) batch.push_back({id, request});
    return mapping::LeadsCreateBody(batch);
  };
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
  write.body = [](const std::vector<std::pair<std::string, const v1::UpdateLeadRequest*>>& items) {
    std::vector<mapping::LeadUpdateItem> batch;
    batch.reserve(items.size());
    for (const auto& [id, request] : items) batch.push_back({id, request});
    return mapping::LeadsUpdateBody(batch);
  };
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
  write.body =
      [](const std::vector<std::pair<std::string, const v1::CreateContactRequest*>>& items) {
        std::vector<mapping::ContactCreateItem> batch;
        batch.reserve(items.size());
        for (const auto& [id, request] : items) batch.push_back({id, request});
        return mapping::ContactsCreateBody(batch);
      };
  write.field = [](absl::string_view path, const v1::CreateContactRequest& request) {
    return mapping::ContactFieldFromKommoPath(path, request);
  };
  write.could_be = [](const Contact& contact, const v1::CreateContactRequest& request) {
    return request.name().empty() || contact.name() == request.name();
  };
  return write;
}

}  // namespace kommo::rest
