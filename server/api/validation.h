#ifndef KOMMO_SERVER_API_VALIDATION_H_
#define KOMMO_SERVER_API_VALIDATION_H_

// Request validation, before anything is sent to Kommo. Each function returns OK or
// INVALID_ARGUMENT (reason INVALID_FIELD) with one BadRequest violation per problem found, named
// by the request's proto field ("name", "contact_ids[2]").

#include "absl/status/status.h"
#include "kommo/v1/company_service.pb.h"
#include "kommo/v1/contact_service.pb.h"
#include "kommo/v1/lead_service.pb.h"
#include "kommo/v1/link_service.pb.h"
#include "kommo/v1/note_service.pb.h"
#include "kommo/v1/task_service.pb.h"

namespace kommo::api {

// Longest name, phone, email and query accepted (Kommo rejects text values over 256 characters).
inline constexpr int kMaxTextLength = 255;
// Most items Kommo returns per page.
inline constexpr int kMaxPageSize = 250;
// Page size used when the request leaves it 0.
inline constexpr int kDefaultPageSize = 50;
// Most contacts linked on create, phones and emails per contact.
inline constexpr int kMaxContactIds = 50;
inline constexpr int kMaxPhonesOrEmails = 20;
// Most phones, and most emails, one exact lookup matches.
inline constexpr int kMaxLookupKeys = 10;
// Most custom fields one write lists, values per field, and tags added or removed. Checks of a
// value against its field's type need the account's catalogue and happen in the client
// (server/kommo/write_check.h); these are the checks that need none.
inline constexpr int kMaxCustomFields = 100;
inline constexpr int kMaxFieldValues = 100;
inline constexpr int kMaxTags = 50;
// Longest custom field value text (a textarea's; text fields take 255, checked in the client).
inline constexpr size_t kMaxFieldValueLength = 65000;
// Longest request_id (idempotency key).
inline constexpr size_t kMaxRequestIdLength = 64;
// Longest note text, in characters: a long chat transcript is one note.
inline constexpr size_t kMaxNoteLength = 65000;

absl::Status ValidateCreateLead(const kommo::v1::CreateLeadRequest& request);
absl::Status ValidateUpdateLead(const kommo::v1::UpdateLeadRequest& request);
absl::Status ValidateGetLead(const kommo::v1::GetLeadRequest& request);
absl::Status ValidateSearchLeads(const kommo::v1::SearchLeadsRequest& request);
absl::Status ValidateCreateContact(const kommo::v1::CreateContactRequest& request);
absl::Status ValidateUpdateContact(const kommo::v1::UpdateContactRequest& request);
absl::Status ValidateGetContact(const kommo::v1::GetContactRequest& request);
absl::Status ValidateSearchContacts(const kommo::v1::SearchContactsRequest& request);
absl::Status ValidateLookupContacts(const kommo::v1::LookupContactsRequest& request);
absl::Status ValidateFindOrCreateContact(const kommo::v1::FindOrCreateContactRequest& request);
absl::Status ValidateCreateLeadWithContact(const kommo::v1::CreateLeadWithContactRequest& request);
absl::Status ValidateCreateIncomingLead(const kommo::v1::CreateIncomingLeadRequest& request);
absl::Status ValidateAcceptIncomingLead(const kommo::v1::AcceptIncomingLeadRequest& request);
absl::Status ValidateDeclineIncomingLead(const kommo::v1::DeclineIncomingLeadRequest& request);
absl::Status ValidateListIncomingLeads(const kommo::v1::ListIncomingLeadsRequest& request);
absl::Status ValidateAddNote(const kommo::v1::AddNoteRequest& request);
absl::Status ValidateListNotes(const kommo::v1::ListNotesRequest& request);

// Longest task text and result text, in characters.
inline constexpr size_t kMaxTaskTextLength = 65000;
// Most entity ids and responsible users one ListTasks filters by.
inline constexpr int kMaxTaskFilterIds = 50;

absl::Status ValidateCreateTask(const kommo::v1::CreateTaskRequest& request);
absl::Status ValidateCompleteTask(const kommo::v1::CompleteTaskRequest& request);
absl::Status ValidateListTasks(const kommo::v1::ListTasksRequest& request);

absl::Status ValidateCreateCompany(const kommo::v1::CreateCompanyRequest& request);
absl::Status ValidateUpdateCompany(const kommo::v1::UpdateCompanyRequest& request);
absl::Status ValidateGetCompany(const kommo::v1::GetCompanyRequest& request);
absl::Status ValidateSearchCompanies(const kommo::v1::SearchCompaniesRequest& request);
// A link's two sides: known types, positive ids, a pair Kommo links (not two of one type);
// is_main only on a lead–contact link.
absl::Status ValidateLinkEntities(const kommo::v1::LinkEntitiesRequest& request);
absl::Status ValidateUnlinkEntities(const kommo::v1::UnlinkEntitiesRequest& request);
absl::Status ValidateListLinks(const kommo::v1::ListLinksRequest& request);
// At most 250 ids, 50 stages (pipeline_id > 0, status_id ≥ 0), 50 responsible users; ranges
// with from ≤ to; page_size 0..250.
absl::Status ValidateListLeads(const kommo::v1::ListLeadsRequest& request);

// WatchLeads / WatchContacts: the filters (the resume token is checked when it is decoded).
absl::Status ValidateWatchLeads(const kommo::v1::WatchLeadsRequest& request);
absl::Status ValidateWatchContacts(const kommo::v1::WatchContactsRequest& request);

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_VALIDATION_H_
