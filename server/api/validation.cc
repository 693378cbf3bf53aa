#include "server/api/validation.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/field_mask_util.h"
#include "server/common/error_details.h"
#include "server/mapping/contact_match.h"

namespace kommo::api {
namespace {

// google.protobuf.Timestamp's valid range in seconds (0001-01-01 to 9999-12-31).
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

// Collects violations; Result() is OK when there are none.
class Checker {
 public:
  // A problem already reported (a value checked by two rules, such as a contact's phone as a new
  // contact's and as a lookup key) is not reported again.
  void Add(std::string field, std::string description) {
    for (const FieldViolation& each : violations_) {
      if (each.field == field && each.description == description) return;
    }
    violations_.push_back({std::move(field), std::move(description)});
  }

  void Positive(const std::string& field, int64_t value) {
    if (value <= 0) Add(field, "must be greater than 0");
  }
  void PositiveOrUnset(const std::string& field, int64_t value) {
    if (value < 0) Add(field, "must be greater than 0, or 0 to leave it unset");
  }
  void NonNegative(const std::string& field, int64_t value) {
    if (value < 0) Add(field, "must be 0 or more");
  }
  // A text of at most kMaxTextLength characters; `required` also rejects empty and blank text.
  void Text(const std::string& field, absl::string_view value, bool required) {
    if (required && absl::StripAsciiWhitespace(value).empty()) {
      Add(field, value.empty() ? "is required" : "must not be blank");
      return;
    }
    const size_t length = CharacterCount(value);
    if (length > kMaxTextLength) {
      Add(field,
          absl::StrCat("must be at most ", kMaxTextLength, " characters (got ", length, ")"));
    }
    for (unsigned char c : value) {
      if (c < 0x20 || c == 0x7F) {
        Add(field, "must not contain control characters");
        break;
      }
    }
  }
  void PageSize(int32_t page_size) {
    if (page_size < 0 || page_size > kMaxPageSize) {
      Add("page_size", absl::StrCat("must be between 0 and ", kMaxPageSize, " (0 means ",
                                    kDefaultPageSize, ")"));
    }
  }

  absl::Status Result(absl::string_view what) const {
    if (violations_.empty()) return absl::OkStatus();
    std::string message = absl::StrCat("invalid ", what, ": ");
    for (size_t i = 0; i < violations_.size(); ++i) {
      absl::StrAppend(&message, i == 0 ? "" : "; ", violations_[i].field, " ",
                      violations_[i].description);
    }
    return MakeInvalidArgument(message, violations_);
  }

 private:
  // Characters as Unicode code points (protobuf has already checked that strings are UTF-8).
  static size_t CharacterCount(absl::string_view text) {
    size_t count = 0;
    for (unsigned char c : text) count += (c & 0xC0) != 0x80;
    return count;
  }

  std::vector<FieldViolation> violations_;
};

// A read_mask (AIP-157) over `entity`: each path names a field of it (a.b for a field of a
// message field); empty means the whole entity.
void CheckReadMask(Checker& checker, const google::protobuf::FieldMask& mask,
                   const google::protobuf::Descriptor* entity) {
  constexpr int kMaxPaths = 100;
  if (mask.paths_size() > kMaxPaths) {
    checker.Add("read_mask.paths", absl::StrCat("must hold at most ", kMaxPaths, " paths"));
    return;
  }
  for (int i = 0; i < mask.paths_size(); ++i) {
    const std::string& path = mask.paths(i);
    if (path.empty() ||
        !google::protobuf::util::FieldMaskUtil::GetFieldDescriptors(entity, path, nullptr)) {
      checker.Add(absl::StrCat("read_mask.paths[", i, "]"),
                  absl::StrCat("names no field of ", entity->name()));
    }
  }
}

// An optional idempotency key: 1 to 64 printable ASCII characters.
void CheckRequestId(Checker& checker, absl::string_view request_id) {
  if (request_id.empty()) return;
  if (request_id.size() > kMaxRequestIdLength) {
    checker.Add("request_id", absl::StrCat("must be at most ", kMaxRequestIdLength,
                                           " characters (got ", request_id.size(), ")"));
    return;
  }
  for (unsigned char c : request_id) {
    if (c < 0x21 || c > 0x7E) {
      checker.Add("request_id", "must hold printable ASCII characters only, without spaces");
      return;
    }
  }
}

void CheckEmail(Checker& checker, const std::string& field, const std::string& email) {
  checker.Text(field, email, /*required=*/true);
  const size_t at = email.find('@');
  if (!absl::StripAsciiWhitespace(email).empty() &&
      (at == std::string::npos || at == 0 || at + 1 == email.size() ||
       absl::StripAsciiWhitespace(email).find(' ') != absl::string_view::npos)) {
    checker.Add(field, "must be an email address such as name@example.com");
  }
}

// Phones and emails to match exactly: at least one of them, at most `max` of each, phones with 5
// to 20 digits.
void CheckMatchKeys(Checker& checker, const std::string& prefix,
                    const google::protobuf::RepeatedPtrField<std::string>& phones,
                    const google::protobuf::RepeatedPtrField<std::string>& emails, int max) {
  if (phones.empty() && emails.empty()) {
    checker.Add(absl::StrCat(prefix, "phones"), "at least one phone or email is required");
  }
  if (phones.size() > max) {
    checker.Add(absl::StrCat(prefix, "phones"),
                absl::StrCat("must hold at most ", max, " numbers"));
  }
  if (emails.size() > max) {
    checker.Add(absl::StrCat(prefix, "emails"),
                absl::StrCat("must hold at most ", max, " addresses"));
  }
  for (int i = 0; i < phones.size(); ++i) {
    const std::string field = absl::StrCat(prefix, "phones[", i, "]");
    checker.Text(field, phones[i], /*required=*/true);
    if (!absl::StripAsciiWhitespace(phones[i]).empty() &&
        !mapping::ParsePhone(phones[i]).has_value()) {
      checker.Add(field, "must be a phone number with 5 to 20 digits");
    }
  }
  for (int i = 0; i < emails.size(); ++i) {
    CheckEmail(checker, absl::StrCat(prefix, "emails[", i, "]"), emails[i]);
  }
}

// A new contact inside another request; `prefix` is "contact.".
void CheckNewContact(Checker& checker, const std::string& prefix, const v1::NewContact& contact) {
  checker.Text(absl::StrCat(prefix, "name"), contact.name(), /*required=*/false);
  checker.Text(absl::StrCat(prefix, "first_name"), contact.first_name(), /*required=*/false);
  checker.Text(absl::StrCat(prefix, "last_name"), contact.last_name(), /*required=*/false);
  checker.PositiveOrUnset(absl::StrCat(prefix, "responsible_user_id"),
                          contact.responsible_user_id());
  if (contact.phones_size() > kMaxPhonesOrEmails) {
    checker.Add(absl::StrCat(prefix, "phones"),
                absl::StrCat("must hold at most ", kMaxPhonesOrEmails, " numbers"));
  }
  for (int i = 0; i < contact.phones_size(); ++i) {
    checker.Text(absl::StrCat(prefix, "phones[", i, "]"), contact.phones(i), /*required=*/true);
  }
  if (contact.emails_size() > kMaxPhonesOrEmails) {
    checker.Add(absl::StrCat(prefix, "emails"),
                absl::StrCat("must hold at most ", kMaxPhonesOrEmails, " addresses"));
  }
  for (int i = 0; i < contact.emails_size(); ++i) {
    CheckEmail(checker, absl::StrCat(prefix, "emails[", i, "]"), contact.emails(i));
  }
}

// An incoming lead's uid as Kommo makes them: 1 to 64 letters, digits, '-' or '_'.
void CheckUid(Checker& checker, absl::string_view uid) {
  if (uid.empty()) return checker.Add("uid", "is required");
  bool ok = uid.size() <= 64;
  for (char c : uid)
    ok &= absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  if (!ok) checker.Add("uid", "must be an incoming lead's uid (letters, digits, '-', '_')");
}

void CheckEntity(Checker& checker, v1::EntityType type, int64_t id) {
  if (type != v1::ENTITY_TYPE_LEAD && type != v1::ENTITY_TYPE_CONTACT &&
      type != v1::ENTITY_TYPE_COMPANY) {
    checker.Add("entity_type",
                "must be ENTITY_TYPE_LEAD, ENTITY_TYPE_CONTACT or "
                "ENTITY_TYPE_COMPANY");
  }
  checker.Positive("entity_id", id);
}

// Custom field values, without the catalogue: each field named by field_id (greater than 0) or
// field_code (not both), listed once, within the limits; PHONE and EMAIL not together with
// phones or emails (`phones_given`, `emails_given`).
void CheckCustomFields(Checker& checker,
                       const google::protobuf::RepeatedPtrField<v1::CustomFieldValues>& fields,
                       bool phones_given, bool emails_given) {
  if (fields.size() > kMaxCustomFields) {
    checker.Add("custom_fields", absl::StrCat("must hold at most ", kMaxCustomFields, " fields"));
  }
  std::set<int64_t> ids;
  std::set<std::string> codes;
  for (int i = 0; i < fields.size(); ++i) {
    const v1::CustomFieldValues& field = fields[i];
    const std::string at = absl::StrCat("custom_fields[", i, "]");
    if (field.field_id() < 0) {
      checker.Add(absl::StrCat(at, ".field_id"), "must be greater than 0");
    } else if (field.field_id() == 0 && field.field_code().empty()) {
      checker.Add(at, "names no field: set field_id or field_code");
    } else if (field.field_id() != 0 && !field.field_code().empty()) {
      checker.Add(at, "names its field twice: set field_id or field_code, not both");
    } else if (field.field_id() != 0 && !ids.insert(field.field_id()).second) {
      checker.Add(at, absl::StrCat("repeats field ", field.field_id()));
    } else if (!field.field_code().empty() && !codes.insert(field.field_code()).second) {
      checker.Add(at, "repeats its field_code");
    }
    if (field.field_code().size() > kMaxTextLength) {
      checker.Add(absl::StrCat(at, ".field_code"),
                  absl::StrCat("must be at most ", kMaxTextLength, " characters"));
    }
    if ((phones_given && field.field_code() == "PHONE") ||
        (emails_given && field.field_code() == "EMAIL")) {
      checker.Add(at, absl::StrCat("sets ", field.field_code(), ", which ",
                                   field.field_code() == "PHONE" ? "phones" : "emails",
                                   " sets too: use one of them"));
    }
    if (field.values_size() > kMaxFieldValues) {
      checker.Add(absl::StrCat(at, ".values"),
                  absl::StrCat("must hold at most ", kMaxFieldValues, " values"));
    }
    for (int j = 0; j < field.values_size(); ++j) {
      const v1::CustomFieldValue& value = field.values(j);
      const std::string value_at = absl::StrCat(at, ".values[", j, "]");
      if (value.has_number() && !std::isfinite(value.number())) {
        checker.Add(absl::StrCat(value_at, ".number"), "must be a finite number");
      }
      if (value.has_text() && value.text().size() > kMaxFieldValueLength) {
        checker.Add(absl::StrCat(value_at, ".text"),
                    absl::StrCat("must be at most ", kMaxFieldValueLength, " characters"));
      }
      if (value.enum_id() < 0) {
        checker.Add(absl::StrCat(value_at, ".enum_id"), "must be greater than 0, or 0 for none");
      }
      // Any time a Timestamp can hold: birthdays and dates before 1970 are Unix seconds below 0.
      if (value.has_time() && (value.time().seconds() < kMinTimestampSeconds ||
                               value.time().seconds() > kMaxTimestampSeconds)) {
        checker.Add(absl::StrCat(value_at, ".time"), "must be between the years 1 and 9999");
      }
    }
  }
}

// Tags to add and remove: each 1 to 255 characters, not blank, at most kMaxTags of each, no tag
// both added and removed.
void CheckTags(Checker& checker, const google::protobuf::RepeatedPtrField<std::string>& to_add,
               const google::protobuf::RepeatedPtrField<std::string>& to_remove) {
  const std::pair<const char*, const google::protobuf::RepeatedPtrField<std::string>*> lists[] = {
      {"tags_to_add", &to_add}, {"tags_to_remove", &to_remove}};
  for (const auto& [name, tags] : lists) {
    if (tags->size() > kMaxTags) {
      checker.Add(name, absl::StrCat("must hold at most ", kMaxTags, " tags"));
    }
    for (int i = 0; i < tags->size(); ++i) {
      checker.Text(absl::StrCat(name, "[", i, "]"), (*tags)[i], /*required=*/true);
    }
  }
  const std::set<std::string> added(to_add.begin(), to_add.end());
  for (int i = 0; i < to_remove.size(); ++i) {
    if (added.count(to_remove[i]) > 0) {
      checker.Add(absl::StrCat("tags_to_remove[", i, "]"), "is in tags_to_add too");
    }
  }
}

void CheckSearch(Checker& checker, absl::string_view query, int32_t page_size) {
  checker.Text("query", query, /*required=*/false);
  checker.PageSize(page_size);
}

}  // namespace

absl::Status ValidateCreateLead(const v1::CreateLeadRequest& request) {
  Checker checker;
  checker.Text("name", request.name(), /*required=*/true);
  checker.NonNegative("price", request.price());
  checker.PositiveOrUnset("responsible_user_id", request.responsible_user_id());
  checker.PositiveOrUnset("pipeline_id", request.pipeline_id());
  checker.PositiveOrUnset("status_id", request.status_id());
  if (request.contact_ids_size() > kMaxContactIds) {
    checker.Add("contact_ids", absl::StrCat("must hold at most ", kMaxContactIds, " ids"));
  }
  std::set<int64_t> seen;
  for (int i = 0; i < request.contact_ids_size(); ++i) {
    const std::string field = absl::StrCat("contact_ids[", i, "]");
    const int64_t id = request.contact_ids(i);
    if (id <= 0) {
      checker.Add(field, "must be greater than 0");
    } else if (!seen.insert(id).second) {
      checker.Add(field, absl::StrCat("repeats contact ", id));
    }
  }
  CheckRequestId(checker, request.request_id());
  CheckCustomFields(checker, request.custom_fields(), false, false);
  CheckTags(checker, request.tags_to_add(), {});
  CheckReadMask(checker, request.read_mask(), v1::Lead::descriptor());
  return checker.Result("CreateLeadRequest");
}

absl::Status ValidateUpdateLead(const v1::UpdateLeadRequest& request) {
  Checker checker;
  checker.Positive("lead_id", request.lead_id());
  if (request.has_name()) checker.Text("name", request.name(), /*required=*/true);
  if (request.has_price()) checker.NonNegative("price", request.price());
  if (request.has_responsible_user_id()) {
    checker.Positive("responsible_user_id", request.responsible_user_id());
  }
  if (request.has_pipeline_id()) checker.Positive("pipeline_id", request.pipeline_id());
  if (request.has_status_id()) checker.Positive("status_id", request.status_id());
  CheckCustomFields(checker, request.custom_fields(), false, false);
  CheckTags(checker, request.tags_to_add(), request.tags_to_remove());
  CheckReadMask(checker, request.read_mask(), v1::Lead::descriptor());
  return checker.Result("UpdateLeadRequest");
}

absl::Status ValidateGetLead(const v1::GetLeadRequest& request) {
  Checker checker;
  checker.Positive("lead_id", request.lead_id());
  return checker.Result("GetLeadRequest");
}

absl::Status ValidateSearchLeads(const v1::SearchLeadsRequest& request) {
  Checker checker;
  CheckSearch(checker, request.query(), request.page_size());
  return checker.Result("SearchLeadsRequest");
}

absl::Status ValidateCreateContact(const v1::CreateContactRequest& request) {
  Checker checker;
  checker.Positive("responsible_user_id", request.responsible_user_id());
  checker.Positive("created_by", request.created_by());
  checker.PositiveOrUnset("updated_by", request.updated_by());
  checker.Text("name", request.name(), /*required=*/false);
  checker.Text("first_name", request.first_name(), /*required=*/false);
  checker.Text("last_name", request.last_name(), /*required=*/false);
  if (request.phones_size() > kMaxPhonesOrEmails) {
    checker.Add("phones", absl::StrCat("must hold at most ", kMaxPhonesOrEmails, " numbers"));
  }
  for (int i = 0; i < request.phones_size(); ++i) {
    checker.Text(absl::StrCat("phones[", i, "]"), request.phones(i), /*required=*/true);
  }
  if (request.emails_size() > kMaxPhonesOrEmails) {
    checker.Add("emails", absl::StrCat("must hold at most ", kMaxPhonesOrEmails, " addresses"));
  }
  for (int i = 0; i < request.emails_size(); ++i) {
    const std::string field = absl::StrCat("emails[", i, "]");
    const std::string& email = request.emails(i);
    checker.Text(field, email, /*required=*/true);
    const size_t at = email.find('@');
    if (!absl::StripAsciiWhitespace(email).empty() &&
        (at == std::string::npos || at == 0 || at + 1 == email.size() ||
         email.find(' ') != std::string::npos)) {
      checker.Add(field, "must be an email address such as name@example.com");
    }
  }
  CheckRequestId(checker, request.request_id());
  CheckCustomFields(checker, request.custom_fields(), !request.phones().empty(),
                    !request.emails().empty());
  CheckTags(checker, request.tags_to_add(), {});
  CheckReadMask(checker, request.read_mask(), v1::Contact::descriptor());
  return checker.Result("CreateContactRequest");
}

absl::Status ValidateUpdateContact(const v1::UpdateContactRequest& request) {
  Checker checker;
  checker.Positive("contact_id", request.contact_id());
  if (request.has_name()) checker.Text("name", request.name(), /*required=*/true);
  if (request.has_first_name()) {
    checker.Text("first_name", request.first_name(), /*required=*/false);
  }
  if (request.has_last_name()) checker.Text("last_name", request.last_name(), /*required=*/false);
  if (request.has_responsible_user_id()) {
    checker.Positive("responsible_user_id", request.responsible_user_id());
  }
  const auto& phones = request.phones().values();
  if (phones.size() > kMaxPhonesOrEmails) {
    checker.Add("phones.values",
                absl::StrCat("must hold at most ", kMaxPhonesOrEmails, " numbers"));
  }
  for (int i = 0; i < phones.size(); ++i) {
    checker.Text(absl::StrCat("phones.values[", i, "]"), phones[i], /*required=*/true);
  }
  const auto& emails = request.emails().values();
  if (emails.size() > kMaxPhonesOrEmails) {
    checker.Add("emails.values",
                absl::StrCat("must hold at most ", kMaxPhonesOrEmails, " addresses"));
  }
  for (int i = 0; i < emails.size(); ++i) {
    CheckEmail(checker, absl::StrCat("emails.values[", i, "]"), emails[i]);
  }
  CheckCustomFields(checker, request.custom_fields(), request.has_phones(), request.has_emails());
  CheckTags(checker, request.tags_to_add(), request.tags_to_remove());
  CheckReadMask(checker, request.read_mask(), v1::Contact::descriptor());
  return checker.Result("UpdateContactRequest");
}

absl::Status ValidateGetContact(const v1::GetContactRequest& request) {
  Checker checker;
  checker.Positive("contact_id", request.contact_id());
  return checker.Result("GetContactRequest");
}

absl::Status ValidateSearchContacts(const v1::SearchContactsRequest& request) {
  Checker checker;
  CheckSearch(checker, request.query(), request.page_size());
  return checker.Result("SearchContactsRequest");
}

absl::Status ValidateLookupContacts(const v1::LookupContactsRequest& request) {
  Checker checker;
  CheckMatchKeys(checker, "", request.phones(), request.emails(), kMaxLookupKeys);
  return checker.Result("LookupContactsRequest");
}

absl::Status ValidateFindOrCreateContact(const v1::FindOrCreateContactRequest& request) {
  Checker checker;
  CheckRequestId(checker, request.request_id());
  if (!request.has_contact()) {
    checker.Add("contact", "is required");
  } else {
    CheckNewContact(checker, "contact.", request.contact());
    CheckMatchKeys(checker, "contact.", request.contact().phones(), request.contact().emails(),
                   kMaxLookupKeys);
  }
  CheckReadMask(checker, request.read_mask(), v1::FindOrCreateContactResponse::descriptor());
  return checker.Result("FindOrCreateContactRequest");
}

absl::Status ValidateCreateLeadWithContact(const v1::CreateLeadWithContactRequest& request) {
  Checker checker;
  CheckRequestId(checker, request.request_id());
  checker.Text("name", request.name(), /*required=*/true);
  checker.NonNegative("price", request.price());
  checker.PositiveOrUnset("responsible_user_id", request.responsible_user_id());
  checker.PositiveOrUnset("pipeline_id", request.pipeline_id());
  checker.PositiveOrUnset("status_id", request.status_id());
  if (!request.has_contact()) {
    checker.Add("contact", "is required");
  } else {
    const v1::NewContact& contact = request.contact();
    CheckNewContact(checker, "contact.", contact);
    if (absl::StripAsciiWhitespace(contact.name()).empty() &&
        absl::StripAsciiWhitespace(contact.first_name()).empty() &&
        absl::StripAsciiWhitespace(contact.last_name()).empty() && contact.phones().empty() &&
        contact.emails().empty()) {
      checker.Add("contact", "needs a name, a phone or an email");
    }
  }
  CheckReadMask(checker, request.read_mask(), v1::CreateLeadWithContactResponse::descriptor());
  return checker.Result("CreateLeadWithContactRequest");
}

absl::Status ValidateCreateIncomingLead(const v1::CreateIncomingLeadRequest& request) {
  Checker checker;
  CheckRequestId(checker, request.request_id());
  checker.Text("source_uid", request.source_uid(), /*required=*/true);
  checker.Text("source_name", request.source_name(), /*required=*/true);
  checker.PositiveOrUnset("pipeline_id", request.pipeline_id());
  if (!request.has_form()) {
    checker.Add("form", "is required (form_id and form_name at least)");
  } else {
    const v1::FormMetadata& form = request.form();
    checker.Text("form.form_id", form.form_id(), /*required=*/true);
    checker.Text("form.form_name", form.form_name(), /*required=*/true);
    checker.Text("form.form_page", form.form_page(), /*required=*/false);
    checker.Text("form.referer", form.referer(), /*required=*/false);
    checker.Text("form.ip", form.ip(), /*required=*/false);
    if (form.ip().size() > 64) checker.Add("form.ip", "must be at most 64 characters");
    if (form.has_form_sent_at() && form.form_sent_at().seconds() <= 0) {
      checker.Add("form.form_sent_at", "must be after 1970");
    }
  }
  checker.Text("lead_name", request.lead_name(), /*required=*/false);
  checker.NonNegative("lead_price", request.lead_price());
  if (request.has_contact()) CheckNewContact(checker, "contact.", request.contact());
  CheckReadMask(checker, request.read_mask(), v1::IncomingLead::descriptor());
  return checker.Result("CreateIncomingLeadRequest");
}

absl::Status ValidateAcceptIncomingLead(const v1::AcceptIncomingLeadRequest& request) {
  Checker checker;
  CheckUid(checker, request.uid());
  checker.PositiveOrUnset("status_id", request.status_id());
  checker.PositiveOrUnset("user_id", request.user_id());
  CheckReadMask(checker, request.read_mask(), v1::Lead::descriptor());
  return checker.Result("AcceptIncomingLeadRequest");
}

absl::Status ValidateDeclineIncomingLead(const v1::DeclineIncomingLeadRequest& request) {
  Checker checker;
  CheckUid(checker, request.uid());
  checker.PositiveOrUnset("user_id", request.user_id());
  return checker.Result("DeclineIncomingLeadRequest");
}

absl::Status ValidateListIncomingLeads(const v1::ListIncomingLeadsRequest& request) {
  Checker checker;
  checker.PositiveOrUnset("pipeline_id", request.pipeline_id());
  checker.PageSize(request.page_size());
  return checker.Result("ListIncomingLeadsRequest");
}

absl::Status ValidateAddNote(const v1::AddNoteRequest& request) {
  Checker checker;
  CheckRequestId(checker, request.request_id());
  CheckEntity(checker, request.entity_type(), request.entity_id());
  if (absl::StripAsciiWhitespace(request.text()).empty()) {
    checker.Add("text", request.text().empty() ? "is required" : "must not be blank");
  } else {
    size_t length = 0;
    for (unsigned char c : request.text()) length += (c & 0xC0) != 0x80;
    if (length > kMaxNoteLength) {
      checker.Add("text", absl::StrCat("must be at most ", kMaxNoteLength, " characters (got ",
                                       length, ")"));
    }
  }
  checker.Text("service", request.service(), /*required=*/false);
  checker.PositiveOrUnset("created_by", request.created_by());
  CheckReadMask(checker, request.read_mask(), v1::Note::descriptor());
  return checker.Result("AddNoteRequest");
}

absl::Status ValidateListNotes(const v1::ListNotesRequest& request) {
  Checker checker;
  CheckEntity(checker, request.entity_type(), request.entity_id());
  if (!v1::ListNotesRequest::Order_IsValid(request.order())) {
    checker.Add("order", "is not a known order");
  }
  if (request.has_updated_since() && request.updated_since().seconds() < 0) {
    checker.Add("updated_since", "must be after 1970");
  }
  checker.PageSize(request.page_size());
  return checker.Result("ListNotesRequest");
}

// ---- tasks ------------------------------------------------------------------------------------

namespace {

// A long text (a task's, or its result): at most kMaxTaskTextLength characters; `required` also
// rejects empty and blank text.
void CheckLongText(Checker& checker, const std::string& field, absl::string_view text,
                   bool required) {
  if (required && absl::StripAsciiWhitespace(text).empty()) {
    checker.Add(field, text.empty() ? "is required" : "must not be blank");
    return;
  }
  size_t length = 0;
  for (unsigned char c : text) length += (c & 0xC0) != 0x80;
  if (length > kMaxTaskTextLength) {
    checker.Add(field, absl::StrCat("must be at most ", kMaxTaskTextLength, " characters (got ",
                                    length, ")"));
  }
}

// A time Kommo can hold: after 1970 (Kommo keeps Unix seconds), with valid nanos.
void CheckTime(Checker& checker, const std::string& field,
               const google::protobuf::Timestamp& time) {
  if (time.seconds() <= 0 || time.seconds() > 253402300799) {
    checker.Add(field, "must be after 1970 and before year 10000");
  } else if (time.nanos() < 0 || time.nanos() > 999999999) {
    checker.Add(field, "has nanos outside 0..999999999");
  }
}

void CheckIds(Checker& checker, const std::string& field,
              const google::protobuf::RepeatedField<int64_t>& ids) {
  if (ids.size() > kMaxTaskFilterIds) {
    checker.Add(field, absl::StrCat("must hold at most ", kMaxTaskFilterIds, " ids"));
  }
  for (int i = 0; i < ids.size(); ++i) {
    checker.Positive(absl::StrCat(field, "[", i, "]"), ids[i]);
  }
}

}  // namespace

absl::Status ValidateCreateTask(const v1::CreateTaskRequest& request) {
  Checker checker;
  CheckRequestId(checker, request.request_id());
  if (request.entity_type() == v1::ENTITY_TYPE_UNSPECIFIED) {
    if (request.entity_id() != 0) {
      checker.Add("entity_id", "must be 0 when entity_type is unset (a task on no entity)");
    }
  } else {
    CheckEntity(checker, request.entity_type(), request.entity_id());
  }
  CheckLongText(checker, "text", request.text(), /*required=*/true);
  if (!request.has_due_at()) {
    checker.Add("due_at", "is required");
  } else {
    CheckTime(checker, "due_at", request.due_at());
  }
  checker.PositiveOrUnset("task_type_id", request.task_type_id());
  checker.PositiveOrUnset("responsible_user_id", request.responsible_user_id());
  CheckReadMask(checker, request.read_mask(), v1::Task::descriptor());
  return checker.Result("CreateTaskRequest");
}

absl::Status ValidateCompleteTask(const v1::CompleteTaskRequest& request) {
  Checker checker;
  checker.Positive("task_id", request.task_id());
  CheckLongText(checker, "result_text", request.result_text(), /*required=*/false);
  CheckReadMask(checker, request.read_mask(), v1::Task::descriptor());
  return checker.Result("CompleteTaskRequest");
}

absl::Status ValidateListTasks(const v1::ListTasksRequest& request) {
  Checker checker;
  if (request.entity_type() != v1::ENTITY_TYPE_UNSPECIFIED &&
      (request.entity_type() != v1::ENTITY_TYPE_LEAD &&
       request.entity_type() != v1::ENTITY_TYPE_CONTACT &&
       request.entity_type() != v1::ENTITY_TYPE_COMPANY)) {
    checker.Add("entity_type",
                "must be ENTITY_TYPE_LEAD, ENTITY_TYPE_CONTACT or ENTITY_TYPE_COMPANY, or unset");
  }
  if (!request.entity_ids().empty() && request.entity_type() == v1::ENTITY_TYPE_UNSPECIFIED) {
    checker.Add("entity_ids", "need entity_type");
  }
  CheckIds(checker, "entity_ids", request.entity_ids());
  if (!v1::ListTasksRequest::Completion_IsValid(request.completion())) {
    checker.Add("completion", "is not a known completion filter");
  }
  CheckIds(checker, "responsible_user_ids", request.responsible_user_ids());
  if (request.has_due_from()) CheckTime(checker, "due_from", request.due_from());
  if (request.has_due_to()) CheckTime(checker, "due_to", request.due_to());
  if (request.has_due_from() && request.has_due_to() &&
      request.due_from().seconds() > request.due_to().seconds()) {
    checker.Add("due_to", "must not be before due_from");
  }
  if (!v1::ListTasksRequest::Order_IsValid(request.order())) {
    checker.Add("order", "is not a known order");
  }
  checker.PageSize(request.page_size());
  return checker.Result("ListTasksRequest");
}

}  // namespace kommo::api

// ---- companies, links and the lead list -------------------------------------------------------

namespace kommo::api {
namespace {

// Most values of one ListLeads filter (Kommo's page limit for ids; 50 stages or users).
constexpr int kMaxListLeadIds = 250;
constexpr int kMaxListLeadStages = 50;
constexpr int kMaxListLeadUsers = 50;

void CheckIdList(Checker& checker, const std::string& field,
                 const google::protobuf::RepeatedField<int64_t>& ids, int most) {
  if (ids.size() > most) checker.Add(field, absl::StrCat("must hold at most ", most, " ids"));
  for (int i = 0; i < ids.size(); ++i) checker.Positive(absl::StrCat(field, "[", i, "]"), ids[i]);
}

void CheckRange(Checker& checker, const std::string& field, const v1::TimeRange& range) {
  if (range.has_from()) CheckTime(checker, absl::StrCat(field, ".from"), range.from());
  if (range.has_to()) CheckTime(checker, absl::StrCat(field, ".to"), range.to());
  if (range.has_from() && range.has_to() && range.from().seconds() > range.to().seconds()) {
    checker.Add(absl::StrCat(field, ".to"), "must not be before from");
  }
}

// Both sides of a link: known types, positive ids, and a pair Kommo links.
void CheckLinkPair(Checker& checker, v1::EntityType type, int64_t id, v1::EntityType to_type,
                   int64_t to_id) {
  const auto known = [](v1::EntityType each) {
    return each == v1::ENTITY_TYPE_LEAD || each == v1::ENTITY_TYPE_CONTACT ||
           each == v1::ENTITY_TYPE_COMPANY;
  };
  if (!known(type)) {
    checker.Add("entity_type",
                "must be ENTITY_TYPE_LEAD, ENTITY_TYPE_CONTACT or ENTITY_TYPE_COMPANY");
  }
  if (!known(to_type)) {
    checker.Add("to_entity_type",
                "must be ENTITY_TYPE_LEAD, ENTITY_TYPE_CONTACT or ENTITY_TYPE_COMPANY");
  } else if (known(type) && type == to_type) {
    checker.Add("to_entity_type",
                "must differ from entity_type (Kommo links lead–contact, lead–company and "
                "contact–company)");
  }
  checker.Positive("entity_id", id);
  checker.Positive("to_entity_id", to_id);
}

}  // namespace

absl::Status ValidateCreateCompany(const v1::CreateCompanyRequest& request) {
  Checker checker;
  CheckRequestId(checker, request.request_id());
  checker.Text("name", request.name(), /*required=*/true);
  checker.PositiveOrUnset("responsible_user_id", request.responsible_user_id());
  CheckCustomFields(checker, request.custom_fields(), false, false);
  CheckTags(checker, request.tags_to_add(), {});
  CheckReadMask(checker, request.read_mask(), v1::Company::descriptor());
  return checker.Result("CreateCompanyRequest");
}

absl::Status ValidateUpdateCompany(const v1::UpdateCompanyRequest& request) {
  Checker checker;
  checker.Positive("company_id", request.company_id());
  if (request.has_name()) checker.Text("name", request.name(), /*required=*/true);
  if (request.has_responsible_user_id()) {
    checker.Positive("responsible_user_id", request.responsible_user_id());
  }
  CheckCustomFields(checker, request.custom_fields(), false, false);
  CheckTags(checker, request.tags_to_add(), request.tags_to_remove());
  CheckReadMask(checker, request.read_mask(), v1::Company::descriptor());
  return checker.Result("UpdateCompanyRequest");
}

absl::Status ValidateGetCompany(const v1::GetCompanyRequest& request) {
  Checker checker;
  checker.Positive("company_id", request.company_id());
  return checker.Result("GetCompanyRequest");
}

absl::Status ValidateSearchCompanies(const v1::SearchCompaniesRequest& request) {
  Checker checker;
  CheckSearch(checker, request.query(), request.page_size());
  return checker.Result("SearchCompaniesRequest");
}

absl::Status ValidateLinkEntities(const v1::LinkEntitiesRequest& request) {
  Checker checker;
  CheckLinkPair(checker, request.entity_type(), request.entity_id(), request.to_entity_type(),
                request.to_entity_id());
  const bool lead_contact = (request.entity_type() == v1::ENTITY_TYPE_LEAD &&
                             request.to_entity_type() == v1::ENTITY_TYPE_CONTACT) ||
                            (request.entity_type() == v1::ENTITY_TYPE_CONTACT &&
                             request.to_entity_type() == v1::ENTITY_TYPE_LEAD);
  if (request.is_main() && !lead_contact) {
    checker.Add("is_main", "applies to lead–contact links only");
  }
  return checker.Result("LinkEntitiesRequest");
}

absl::Status ValidateUnlinkEntities(const v1::UnlinkEntitiesRequest& request) {
  Checker checker;
  CheckLinkPair(checker, request.entity_type(), request.entity_id(), request.to_entity_type(),
                request.to_entity_id());
  return checker.Result("UnlinkEntitiesRequest");
}

absl::Status ValidateListLinks(const v1::ListLinksRequest& request) {
  Checker checker;
  if (request.entity_type() != v1::ENTITY_TYPE_LEAD &&
      request.entity_type() != v1::ENTITY_TYPE_CONTACT &&
      request.entity_type() != v1::ENTITY_TYPE_COMPANY) {
    checker.Add("entity_type",
                "must be ENTITY_TYPE_LEAD, ENTITY_TYPE_CONTACT or ENTITY_TYPE_COMPANY");
  }
  checker.Positive("entity_id", request.entity_id());
  if (request.to_entity_type() != v1::ENTITY_TYPE_UNSPECIFIED &&
      (!v1::EntityType_IsValid(request.to_entity_type()) ||
       request.to_entity_type() == request.entity_type())) {
    checker.Add("to_entity_type", "must be another entity type than entity_type, or unset");
  }
  return checker.Result("ListLinksRequest");
}

absl::Status ValidateListLeads(const v1::ListLeadsRequest& request) {
  Checker checker;
  CheckIdList(checker, "ids", request.ids(), kMaxListLeadIds);
  if (request.stages_size() > kMaxListLeadStages) {
    checker.Add("stages", absl::StrCat("must hold at most ", kMaxListLeadStages, " stages"));
  }
  for (int i = 0; i < request.stages_size(); ++i) {
    const std::string field = absl::StrCat("stages[", i, "]");
    checker.Positive(absl::StrCat(field, ".pipeline_id"), request.stages(i).pipeline_id());
    checker.PositiveOrUnset(absl::StrCat(field, ".status_id"), request.stages(i).status_id());
  }
  CheckIdList(checker, "responsible_user_ids", request.responsible_user_ids(), kMaxListLeadUsers);
  if (request.has_created()) CheckRange(checker, "created", request.created());
  if (request.has_updated()) CheckRange(checker, "updated", request.updated());
  checker.Text("query", request.query(), /*required=*/false);
  if (!v1::ListLeadsRequest::OrderBy_IsValid(request.order_by())) {
    checker.Add("order_by", "is not a known order");
  }
  checker.PageSize(request.page_size());
  return checker.Result("ListLeadsRequest");
}

namespace {

void CheckKinds(Checker& checker, const google::protobuf::RepeatedField<int>& kinds, bool leads) {
  for (int i = 0; i < kinds.size(); ++i) {
    const std::string field = absl::StrCat("kinds[", i, "]");
    if (!v1::ChangeKind_IsValid(kinds[i]) || kinds[i] == v1::CHANGE_KIND_UNSPECIFIED) {
      checker.Add(field, "is not a known change kind");
    } else if (!leads && kinds[i] == v1::CHANGE_KIND_STAGE_CHANGED) {
      checker.Add(field, "STAGE_CHANGED never happens to a contact");
    }
  }
}

}  // namespace

absl::Status ValidateWatchLeads(const v1::WatchLeadsRequest& request) {
  Checker checker;
  if (request.stages_size() > kMaxListLeadStages) {
    checker.Add("stages", absl::StrCat("must hold at most ", kMaxListLeadStages, " stages"));
  }
  for (int i = 0; i < request.stages_size(); ++i) {
    const std::string field = absl::StrCat("stages[", i, "]");
    checker.Positive(absl::StrCat(field, ".pipeline_id"), request.stages(i).pipeline_id());
    checker.PositiveOrUnset(absl::StrCat(field, ".status_id"), request.stages(i).status_id());
  }
  CheckIdList(checker, "responsible_user_ids", request.responsible_user_ids(), kMaxListLeadUsers);
  CheckKinds(checker, request.kinds(), /*leads=*/true);
  return checker.Result("WatchLeadsRequest");
}

absl::Status ValidateWatchContacts(const v1::WatchContactsRequest& request) {
  Checker checker;
  CheckIdList(checker, "responsible_user_ids", request.responsible_user_ids(), kMaxListLeadUsers);
  CheckKinds(checker, request.kinds(), /*leads=*/false);
  return checker.Result("WatchContactsRequest");
}

}  // namespace kommo::api
