#include "server/api/validation.h"

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"

namespace kommo::api {
namespace {

using ::testing::ElementsAre;

// The fields named by the violations of `status`, in order.
std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> fields;
  if (auto bad_request = GetBadRequest(status)) {
    for (const auto& violation : bad_request->field_violations()) {
      fields.push_back(violation.field());
    }
  }
  return fields;
}

TEST(ValidateCreateLeadTest, AcceptsAMinimalLead) {
  v1::CreateLeadRequest request;
  request.set_name("Website inquiry");
  EXPECT_TRUE(ValidateCreateLead(request).ok());
}

TEST(ValidateCreateLeadTest, ReportsEveryProblemAtOnce) {
  v1::CreateLeadRequest request;
  request.set_price(-1);
  request.set_pipeline_id(-5);
  request.add_contact_ids(7);
  request.add_contact_ids(0);
  request.add_contact_ids(7);
  absl::Status status = ValidateCreateLead(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetErrorInfo(status)->reason(), "INVALID_FIELD");
  EXPECT_THAT(Fields(status),
              ElementsAre("name", "price", "pipeline_id", "contact_ids[1]", "contact_ids[2]"));
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("name is required"));
}

TEST(ValidateCreateLeadTest, NameLengthCountsCharactersNotBytes) {
  v1::CreateLeadRequest request;
  std::string name;
  for (int i = 0; i < 255; ++i) name += "\xc3\xbc";  // "ü": 2 bytes, 1 character
  request.set_name(name);
  EXPECT_TRUE(ValidateCreateLead(request).ok());
  request.set_name(name + "x");
  EXPECT_THAT(Fields(ValidateCreateLead(request)), ElementsAre("name"));
  request.set_name("   ");
  EXPECT_THAT(Fields(ValidateCreateLead(request)), ElementsAre("name"));
  request.set_name("tab\tinside");
  EXPECT_THAT(Fields(ValidateCreateLead(request)), ElementsAre("name"));
}

TEST(ValidateUpdateLeadTest, PresenceDecidesWhatIsChecked) {
  v1::UpdateLeadRequest request;
  EXPECT_THAT(Fields(ValidateUpdateLead(request)), ElementsAre("lead_id"));
  request.set_lead_id(31000000001);
  request.set_price(0);  // setting a price of 0 is allowed
  EXPECT_TRUE(ValidateUpdateLead(request).ok());
  request.set_status_id(0);  // but a present stage must be a real id
  request.set_name("");
  EXPECT_THAT(Fields(ValidateUpdateLead(request)), ElementsAre("name", "status_id"));
}

TEST(ValidateSearchTest, PageSizeBounds) {
  v1::SearchLeadsRequest request;
  request.set_page_size(250);
  EXPECT_TRUE(ValidateSearchLeads(request).ok());
  request.set_page_size(251);
  EXPECT_THAT(Fields(ValidateSearchLeads(request)), ElementsAre("page_size"));
  request.set_page_size(-1);
  EXPECT_THAT(Fields(ValidateSearchLeads(request)), ElementsAre("page_size"));
  v1::SearchContactsRequest contacts;
  contacts.set_query(std::string(256, 'a'));
  EXPECT_THAT(Fields(ValidateSearchContacts(contacts)), ElementsAre("query"));
}

TEST(ValidateGetTest, IdsMustBePositive) {
  v1::GetLeadRequest lead;
  lead.set_lead_id(-3);
  EXPECT_THAT(Fields(ValidateGetLead(lead)), ElementsAre("lead_id"));
  v1::GetContactRequest contact;
  EXPECT_THAT(Fields(ValidateGetContact(contact)), ElementsAre("contact_id"));
  contact.set_contact_id(52000000001);
  EXPECT_TRUE(ValidateGetContact(contact).ok());
}

TEST(ValidateCreateContactTest, RequiredOwnersAndWellFormedEmails) {
  v1::CreateContactRequest request;
  request.add_emails("not-an-email");
  request.add_emails("ann@example.com");
  request.add_emails("@example.com");
  request.add_phones("");
  EXPECT_THAT(
      Fields(ValidateCreateContact(request)),
      ElementsAre("responsible_user_id", "created_by", "phones[0]", "emails[0]", "emails[2]"));
  v1::CreateContactRequest good;
  good.set_responsible_user_id(8000001);
  good.set_created_by(8000001);
  good.set_name("Ann Lee");
  good.add_phones("+1 555 0100");
  good.add_emails("ann@example.com");
  EXPECT_TRUE(ValidateCreateContact(good).ok());
}

// ---- request_id (the idempotency key) -----------------------------------------------------------

TEST(ValidateRequestIdTest, PrintableAsciiUpToSixtyFourCharacters) {
  v1::CreateLeadWithContactRequest request;
  request.set_name("Website inquiry");
  request.mutable_contact()->set_name("Anna");
  request.set_request_id(std::string(64, 'k'));
  EXPECT_TRUE(ValidateCreateLeadWithContact(request).ok());
  request.set_request_id("order-42:retry_1");
  EXPECT_TRUE(ValidateCreateLeadWithContact(request).ok());
  request.set_request_id(std::string(65, 'k'));
  absl::Status too_long = ValidateCreateLeadWithContact(request);
  EXPECT_THAT(Fields(too_long), ElementsAre("request_id"));
  EXPECT_THAT(std::string(too_long.message()), ::testing::HasSubstr("at most 64"));
  for (const char* bad : {"order 42", "tab\there", "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"}) {
    request.set_request_id(bad);
    EXPECT_THAT(Fields(ValidateCreateLeadWithContact(request)), ElementsAre("request_id")) << bad;
  }

  v1::CreateLeadRequest lead;
  lead.set_name("Deal");
  lead.set_request_id("with space");
  EXPECT_THAT(Fields(ValidateCreateLead(lead)), ElementsAre("request_id"));
  v1::AddNoteRequest note;
  note.set_entity_type(v1::ENTITY_TYPE_LEAD);
  note.set_entity_id(1);
  note.set_text("hi");
  note.set_request_id(std::string(65, 'n'));
  EXPECT_THAT(Fields(ValidateAddNote(note)), ElementsAre("request_id"));
}

// ---- LookupContacts and FindOrCreateContact -----------------------------------------------------

TEST(ValidateLookupContactsTest, NeedsAPhoneOrAnEmail) {
  v1::LookupContactsRequest request;
  absl::Status empty = ValidateLookupContacts(request);
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetErrorInfo(empty)->reason(), "INVALID_FIELD");
  EXPECT_THAT(Fields(empty), ElementsAre("phones"));
  request.add_emails("anna@example.com");
  EXPECT_TRUE(ValidateLookupContacts(request).ok());
  request.clear_emails();
  request.add_phones("+7 (999) 123-45-67");
  EXPECT_TRUE(ValidateLookupContacts(request).ok());
}

TEST(ValidateLookupContactsTest, PhonesNeedFiveToTwentyDigits) {
  v1::LookupContactsRequest request;
  request.add_phones("12345");                   // 5 digits: fine
  request.add_phones("12-34");                   // 4 digits
  request.add_phones(std::string(21, '9'));      // 21 digits
  request.add_phones("+7 999 123 45 67 ext 1");  // letters
  request.add_phones("");
  request.add_emails("anna.example.com");
  EXPECT_THAT(Fields(ValidateLookupContacts(request)),
              ElementsAre("phones[1]", "phones[2]", "phones[3]", "phones[4]", "emails[0]"));
}

TEST(ValidateLookupContactsTest, AtMostTenPhonesAndTenEmails) {
  v1::LookupContactsRequest request;
  for (int i = 0; i < 10; ++i) request.add_phones(absl::StrCat("+7999123450", i));
  for (int i = 0; i < 10; ++i) request.add_emails(absl::StrCat("a", i, "@example.com"));
  EXPECT_TRUE(ValidateLookupContacts(request).ok());
  request.add_phones("+79991234600");
  request.add_emails("b@example.com");
  EXPECT_THAT(Fields(ValidateLookupContacts(request)), ElementsAre("phones", "emails"));
}

TEST(ValidateFindOrCreateContactTest, TheContactIsRequiredAndMatchedByPhoneOrEmail) {
  v1::FindOrCreateContactRequest request;
  EXPECT_THAT(Fields(ValidateFindOrCreateContact(request)), ElementsAre("contact"));
  request.mutable_contact()->set_name("Anna");  // a name alone cannot be matched
  EXPECT_THAT(Fields(ValidateFindOrCreateContact(request)), ElementsAre("contact.phones"));
  request.mutable_contact()->add_phones("123");
  EXPECT_THAT(Fields(ValidateFindOrCreateContact(request)), ElementsAre("contact.phones[0]"));
  request.mutable_contact()->set_phones(0, "+7 999 123 45 67");
  EXPECT_TRUE(ValidateFindOrCreateContact(request).ok());
  request.set_request_id("a b");
  request.mutable_contact()->set_responsible_user_id(-1);
  request.mutable_contact()->add_emails("nobody");
  request.mutable_contact()->add_phones(" ");
  // Each problem is reported once, though the contact's values are checked both as a new contact
  // and as lookup keys.
  EXPECT_THAT(Fields(ValidateFindOrCreateContact(request)),
              ElementsAre("request_id", "contact.responsible_user_id", "contact.phones[1]",
                          "contact.emails[0]"));
}

// ---- CreateLeadWithContact ----------------------------------------------------------------------

TEST(ValidateCreateLeadWithContactTest, TheLeadNeedsANameAndTheContactSomethingToKnowItBy) {
  v1::CreateLeadWithContactRequest request;
  EXPECT_THAT(Fields(ValidateCreateLeadWithContact(request)), ElementsAre("name", "contact"));
  request.set_name("Website inquiry");
  request.mutable_contact();  // present, but empty
  absl::Status empty = ValidateCreateLeadWithContact(request);
  EXPECT_THAT(Fields(empty), ElementsAre("contact"));
  EXPECT_THAT(std::string(empty.message()), ::testing::HasSubstr("a name, a phone or an email"));
  request.mutable_contact()->add_phones("+7 999 123 45 67");
  EXPECT_TRUE(ValidateCreateLeadWithContact(request).ok());
  request.set_price(-1);
  request.set_status_id(-2);
  request.mutable_contact()->add_emails("@example.com");
  request.mutable_contact()->set_last_name(std::string(256, 'x'));
  EXPECT_THAT(Fields(ValidateCreateLeadWithContact(request)),
              ElementsAre("price", "status_id", "contact.last_name", "contact.emails[0]"));
}

// ---- incoming leads -----------------------------------------------------------------------------

TEST(ValidateCreateIncomingLeadTest, SourceAndFormAreRequired) {
  v1::CreateIncomingLeadRequest request;
  EXPECT_THAT(Fields(ValidateCreateIncomingLead(request)),
              ElementsAre("source_uid", "source_name", "form"));
  request.set_source_uid("site-form-1");
  request.set_source_name("Website");
  request.mutable_form();
  EXPECT_THAT(Fields(ValidateCreateIncomingLead(request)),
              ElementsAre("form.form_id", "form.form_name"));
  request.mutable_form()->set_form_id("contact-us");
  request.mutable_form()->set_form_name("Contact us");
  EXPECT_TRUE(ValidateCreateIncomingLead(request).ok()) << "the contact is optional";
}

TEST(ValidateCreateIncomingLeadTest, FormDetailsLeadAndContactAreChecked) {
  v1::CreateIncomingLeadRequest request;
  request.set_source_uid("site-form-1");
  request.set_source_name("Website");
  v1::FormMetadata& form = *request.mutable_form();
  form.set_form_id("contact-us");
  form.set_form_name("Contact us");
  form.set_ip(std::string(65, '1'));
  form.mutable_form_sent_at()->set_seconds(-5);
  request.set_lead_price(-1);
  request.set_pipeline_id(-3);
  request.mutable_contact()->add_emails("not-an-email");
  EXPECT_THAT(Fields(ValidateCreateIncomingLead(request)),
              ElementsAre("pipeline_id", "form.ip", "form.form_sent_at", "lead_price",
                          "contact.emails[0]"));
  form.set_ip("2001:db8::1");
  form.mutable_form_sent_at()->set_seconds(1700000000);
  request.set_lead_price(300);
  request.set_pipeline_id(0);
  request.mutable_contact()->set_emails(0, "anna@example.com");
  EXPECT_TRUE(ValidateCreateIncomingLead(request).ok());
}

TEST(ValidateIncomingLeadActionsTest, UidIsLettersDigitsDashesAndUnderscores) {
  v1::AcceptIncomingLeadRequest accept;
  EXPECT_THAT(Fields(ValidateAcceptIncomingLead(accept)), ElementsAre("uid"));
  accept.set_uid("a1B2-c3_d4");
  EXPECT_TRUE(ValidateAcceptIncomingLead(accept).ok());
  accept.set_uid(std::string(64, 'u'));
  EXPECT_TRUE(ValidateAcceptIncomingLead(accept).ok());
  // Anything else could leave the path /leads/unsorted/{uid}/accept.
  for (const std::string& bad :
       {std::string(65, 'u'), std::string("../leads"), std::string("a/b"), std::string("a b"),
        std::string("a?x=1"), std::string("a%2F"), std::string("u\xc3\xbc")}) {
    accept.set_uid(bad);
    EXPECT_THAT(Fields(ValidateAcceptIncomingLead(accept)), ElementsAre("uid")) << bad;
  }
  accept.set_uid("a1");
  accept.set_status_id(-1);
  accept.set_user_id(-1);
  EXPECT_THAT(Fields(ValidateAcceptIncomingLead(accept)), ElementsAre("status_id", "user_id"));

  v1::DeclineIncomingLeadRequest decline;
  decline.set_uid("a/b");
  decline.set_user_id(-7);
  EXPECT_THAT(Fields(ValidateDeclineIncomingLead(decline)), ElementsAre("uid", "user_id"));
  decline.set_uid("a1");
  decline.set_user_id(504141);
  EXPECT_TRUE(ValidateDeclineIncomingLead(decline).ok());
}

TEST(ValidateListIncomingLeadsTest, PipelineAndPageSize) {
  v1::ListIncomingLeadsRequest request;
  EXPECT_TRUE(ValidateListIncomingLeads(request).ok());
  request.set_pipeline_id(-1);
  request.set_page_size(251);
  EXPECT_THAT(Fields(ValidateListIncomingLeads(request)), ElementsAre("pipeline_id", "page_size"));
}

// ---- notes --------------------------------------------------------------------------------------

v1::AddNoteRequest NoteOf(std::string text) {
  v1::AddNoteRequest request;
  request.set_entity_type(v1::ENTITY_TYPE_LEAD);
  request.set_entity_id(31000000001);
  request.set_text(std::move(text));
  return request;
}

TEST(ValidateAddNoteTest, TextUpToSixtyFiveThousandCharacters) {
  EXPECT_TRUE(ValidateAddNote(NoteOf(std::string(20000, 'a'))).ok());
  EXPECT_TRUE(ValidateAddNote(NoteOf(std::string(65000, 'a'))).ok());
  absl::Status too_long = ValidateAddNote(NoteOf(std::string(65001, 'a')));
  EXPECT_THAT(Fields(too_long), ElementsAre("text"));
  EXPECT_THAT(std::string(too_long.message()), ::testing::HasSubstr("got 65001"));
  // Characters, not bytes: 65,000 two-byte letters are accepted.
  std::string cyrillic;
  for (int i = 0; i < 65000; ++i) cyrillic += "\xd1\x8e";
  EXPECT_TRUE(ValidateAddNote(NoteOf(cyrillic)).ok());
  EXPECT_THAT(Fields(ValidateAddNote(NoteOf(cyrillic + "\xd1\x8e"))), ElementsAre("text"));
}

TEST(ValidateAddNoteTest, ATranscriptKeepsItsLinesButTextMustNotBeBlank) {
  EXPECT_TRUE(ValidateAddNote(NoteOf("Client: hi\nBot: hello\r\n\tindented")).ok());
  EXPECT_THAT(Fields(ValidateAddNote(NoteOf(""))), ElementsAre("text"));
  EXPECT_THAT(Fields(ValidateAddNote(NoteOf(" \n\t "))), ElementsAre("text"));
  v1::AddNoteRequest service = NoteOf("transcript");
  service.set_service("Chat\nbot");
  EXPECT_THAT(Fields(ValidateAddNote(service)), ElementsAre("service"));
  service.set_service("Chat bot");
  EXPECT_TRUE(ValidateAddNote(service).ok());
}

TEST(ValidateAddNoteTest, EntityTypeAndIdMustNameAnEntity) {
  v1::AddNoteRequest request = NoteOf("hi");
  request.set_entity_type(v1::ENTITY_TYPE_UNSPECIFIED);
  request.set_entity_id(0);
  request.set_created_by(-1);
  EXPECT_THAT(Fields(ValidateAddNote(request)),
              ElementsAre("entity_type", "entity_id", "created_by"));
  request.set_entity_type(static_cast<v1::EntityType>(99));  // unknown to this server
  request.set_entity_id(5);
  request.set_created_by(0);
  EXPECT_THAT(Fields(ValidateAddNote(request)), ElementsAre("entity_type"));
  for (v1::EntityType type :
       {v1::ENTITY_TYPE_LEAD, v1::ENTITY_TYPE_CONTACT, v1::ENTITY_TYPE_COMPANY}) {
    request.set_entity_type(type);
    EXPECT_TRUE(ValidateAddNote(request).ok()) << type;
  }
}

TEST(ValidateListNotesTest, EntityOrderSinceAndPageSize) {
  v1::ListNotesRequest request;
  EXPECT_THAT(Fields(ValidateListNotes(request)), ElementsAre("entity_type", "entity_id"));
  request.set_entity_type(v1::ENTITY_TYPE_CONTACT);
  request.set_entity_id(5000000001);
  EXPECT_TRUE(ValidateListNotes(request).ok());
  request.set_order(static_cast<v1::ListNotesRequest::Order>(9));
  request.mutable_updated_since()->set_seconds(-1);
  request.set_page_size(300);
  EXPECT_THAT(Fields(ValidateListNotes(request)),
              ElementsAre("order", "updated_since", "page_size"));
  request.set_order(v1::ListNotesRequest::ORDER_UPDATED_ASC);
  request.mutable_updated_since()->set_seconds(1700000000);
  request.set_page_size(250);
  EXPECT_TRUE(ValidateListNotes(request).ok());
}

TEST(ValidateCreateTaskTest, ATaskOnNothingOrOnAnEntity) {
  v1::CreateTaskRequest request;
  request.set_text("Call back");
  request.mutable_due_at()->set_seconds(1750003600);
  EXPECT_TRUE(ValidateCreateTask(request).ok());
  request.set_entity_type(v1::ENTITY_TYPE_CONTACT);
  request.set_entity_id(52000000001);
  request.set_task_type_id(2);
  request.set_responsible_user_id(8000002);
  request.set_request_id("crm-task-17");
  EXPECT_TRUE(ValidateCreateTask(request).ok());
}

TEST(ValidateCreateTaskTest, ReportsEveryProblemAtOnce) {
  v1::CreateTaskRequest request;
  request.set_request_id("has space");
  request.set_entity_id(5);  // without entity_type
  request.set_text("  ");
  request.set_task_type_id(-1);
  request.set_responsible_user_id(-2);
  absl::Status status = ValidateCreateTask(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(status), ElementsAre("request_id", "entity_id", "text", "due_at",
                                          "task_type_id", "responsible_user_id"));
  v1::CreateTaskRequest typed;
  typed.set_entity_type(v1::ENTITY_TYPE_LEAD);
  typed.set_text(std::string(65001, 'x'));
  typed.mutable_due_at()->set_seconds(-5);
  EXPECT_THAT(Fields(ValidateCreateTask(typed)), ElementsAre("entity_id", "text", "due_at"));
  typed.set_entity_type(static_cast<v1::EntityType>(9));
  typed.set_entity_id(1);
  typed.set_text("ok");
  typed.mutable_due_at()->set_seconds(1750003600);
  typed.mutable_due_at()->set_nanos(-1);
  EXPECT_THAT(Fields(ValidateCreateTask(typed)), ElementsAre("entity_type", "due_at"));
}

TEST(ValidateCompleteTaskTest, NeedsATaskAndAResultOfBoundedLength) {
  v1::CompleteTaskRequest request;
  request.set_result_text(std::string(65001, 'r'));
  EXPECT_THAT(Fields(ValidateCompleteTask(request)), ElementsAre("task_id", "result_text"));
  request.set_task_id(78000000001);
  request.set_result_text("");
  EXPECT_TRUE(ValidateCompleteTask(request).ok());
}

TEST(ValidateListTasksTest, FiltersMustBeConsistent) {
  v1::ListTasksRequest request;
  EXPECT_TRUE(ValidateListTasks(request).ok());
  request.add_entity_ids(31000000001);
  request.add_entity_ids(0);
  request.set_completion(static_cast<v1::ListTasksRequest::Completion>(7));
  request.add_responsible_user_ids(-1);
  request.mutable_due_from()->set_seconds(2000);
  request.mutable_due_to()->set_seconds(1000);
  request.set_order(static_cast<v1::ListTasksRequest::Order>(5));
  request.set_page_size(251);
  EXPECT_THAT(Fields(ValidateListTasks(request)),
              ElementsAre("entity_ids", "entity_ids[1]", "completion", "responsible_user_ids[0]",
                          "due_to", "order", "page_size"));
  v1::ListTasksRequest many;
  many.set_entity_type(v1::ENTITY_TYPE_LEAD);
  for (int i = 1; i <= 51; ++i) many.add_entity_ids(i);
  EXPECT_THAT(Fields(ValidateListTasks(many)), ElementsAre("entity_ids"));
}

TEST(ValidateCustomFieldsTest, EachFieldNamedOnceByIdOrCode) {
  v1::UpdateLeadRequest request;
  request.set_lead_id(1);
  request.add_custom_fields();  // names nothing
  request.add_custom_fields()->set_field_id(5);
  request.add_custom_fields()->set_field_id(5);  // repeated
  v1::CustomFieldValues* both = request.add_custom_fields();
  both->set_field_id(6);
  both->set_field_code("X");
  request.add_custom_fields()->set_field_id(-1);
  v1::CustomFieldValues* values = request.add_custom_fields();
  values->set_field_code("Y");
  values->add_values()->set_number(std::numeric_limits<double>::infinity());
  values->add_values()->set_enum_id(-3);
  EXPECT_THAT(Fields(ValidateUpdateLead(request)),
              ElementsAre("custom_fields[0]", "custom_fields[2]", "custom_fields[3]",
                          "custom_fields[4].field_id", "custom_fields[5].values[0].number",
                          "custom_fields[5].values[1].enum_id"));
}

TEST(ValidateCustomFieldsTest, TimesBefore1970AreDatesToo) {
  v1::CreateContactRequest request;
  request.set_responsible_user_id(1);
  request.set_created_by(1);
  request.set_name("Born in 1961");
  v1::CustomFieldValues* birthday = request.add_custom_fields();
  birthday->set_field_id(5);
  birthday->add_values()->mutable_time()->set_seconds(-275270400);    // 1961-04-12
  birthday->add_values()->mutable_time()->set_seconds(-62135596800);  // 0001-01-01, the first
  EXPECT_TRUE(ValidateCreateContact(request).ok());

  birthday->mutable_values(0)->mutable_time()->set_seconds(-62135596801);  // before year 1
  birthday->mutable_values(1)->mutable_time()->set_seconds(253402300800);  // year 10000
  EXPECT_THAT(Fields(ValidateCreateContact(request)),
              ElementsAre("custom_fields[0].values[0].time", "custom_fields[0].values[1].time"));
}
TEST(ValidateCustomFieldsTest, ATagIsNotBlankAndNotBothAddedAndRemoved) {
  v1::UpdateLeadRequest request;
  request.set_lead_id(1);
  request.add_tags_to_add("vip");
  request.add_tags_to_add(" ");
  request.add_tags_to_remove("vip");
  EXPECT_THAT(Fields(ValidateUpdateLead(request)),
              ElementsAre("tags_to_add[1]", "tags_to_remove[0]"));
  v1::CreateLeadRequest create;
  create.set_name("L");
  create.add_tags_to_add("");
  EXPECT_THAT(Fields(ValidateCreateLead(create)), ElementsAre("tags_to_add[0]"));
}

TEST(ValidateCustomFieldsTest, PhoneAndEmailCodesNotWithPhonesOrEmails) {
  v1::CreateContactRequest request;
  request.set_responsible_user_id(1);
  request.set_created_by(1);
  request.add_phones("+1");
  request.add_custom_fields()->set_field_code("PHONE");
  request.add_custom_fields()->set_field_code("EMAIL");  // no emails given: fine
  EXPECT_THAT(Fields(ValidateCreateContact(request)), ElementsAre("custom_fields[0]"));
}

TEST(ValidateUpdateContactTest, PresenceDecidesWhatIsChecked) {
  v1::UpdateContactRequest request;
  request.set_contact_id(5);
  EXPECT_TRUE(ValidateUpdateContact(request).ok()) << "nothing set: a read";
  request.mutable_emails();  // set with no values: remove them all
  request.add_tags_to_remove("old");
  EXPECT_TRUE(ValidateUpdateContact(request).ok());

  v1::UpdateContactRequest bad;
  bad.set_name("");
  bad.set_responsible_user_id(0);
  bad.mutable_phones()->add_values("");
  bad.mutable_emails()->add_values("not-an-email");
  bad.add_custom_fields()->set_field_code("EMAIL");
  EXPECT_THAT(Fields(ValidateUpdateContact(bad)),
              ElementsAre("contact_id", "name", "responsible_user_id", "phones.values[0]",
                          "emails.values[0]", "custom_fields[0]"));
}

// read_mask (AIP-157): paths name fields of the written entity.
TEST(ValidateReadMaskTest, AcceptsFieldsOfTheEntityAndNestedPaths) {
  v1::CreateLeadRequest lead;
  lead.set_name("Website inquiry");
  lead.mutable_read_mask()->add_paths("id");
  lead.mutable_read_mask()->add_paths("custom_fields");
  lead.mutable_read_mask()->add_paths("created_at.seconds");
  EXPECT_TRUE(ValidateCreateLead(lead).ok());
  v1::UpdateContactRequest contact;
  contact.set_contact_id(5);
  contact.mutable_read_mask()->add_paths("phones");
  EXPECT_TRUE(ValidateUpdateContact(contact).ok());
}

TEST(ValidateReadMaskTest, NamesEachUnknownPathByItsIndex) {
  v1::CreateLeadRequest lead;
  lead.set_name("Website inquiry");
  lead.mutable_read_mask()->add_paths("id");
  lead.mutable_read_mask()->add_paths("nmae");
  lead.mutable_read_mask()->add_paths("");
  lead.mutable_read_mask()->add_paths("id.seconds");  // id is not a message
  absl::Status status = ValidateCreateLead(lead);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetErrorInfo(status)->reason(), "INVALID_FIELD");
  EXPECT_THAT(Fields(status),
              ElementsAre("read_mask.paths[1]", "read_mask.paths[2]", "read_mask.paths[3]"));
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("names no field of Lead"));
}

TEST(ValidateReadMaskTest, ChecksPathsAgainstEachRpcsEntity) {
  // "phones" is a contact's field, not a lead's, a task's, a note's or a company's.
  v1::UpdateLeadRequest update_lead;
  update_lead.set_lead_id(1);
  update_lead.mutable_read_mask()->add_paths("phones");
  EXPECT_THAT(Fields(ValidateUpdateLead(update_lead)), ElementsAre("read_mask.paths[0]"));
  v1::CreateContactRequest create_contact;
  create_contact.set_name("Ann");
  create_contact.set_responsible_user_id(1);
  create_contact.set_created_by(1);
  create_contact.mutable_read_mask()->add_paths("phones");
  EXPECT_THAT(Fields(ValidateCreateContact(create_contact)), ::testing::IsEmpty());
  v1::CreateTaskRequest task;
  task.set_text("Call back");
  task.mutable_due_at()->set_seconds(1893456000);
  task.mutable_read_mask()->add_paths("phones");
  EXPECT_THAT(Fields(ValidateCreateTask(task)), ElementsAre("read_mask.paths[0]"));
  v1::CompleteTaskRequest complete;
  complete.set_task_id(3);
  complete.mutable_read_mask()->add_paths("completed");
  EXPECT_TRUE(ValidateCompleteTask(complete).ok());
  complete.mutable_read_mask()->add_paths("phones");
  EXPECT_THAT(Fields(ValidateCompleteTask(complete)), ElementsAre("read_mask.paths[1]"));
  v1::AddNoteRequest note;
  note.set_entity_type(v1::ENTITY_TYPE_LEAD);
  note.set_entity_id(9);
  note.set_text("hello");
  note.mutable_read_mask()->add_paths("phones");
  EXPECT_THAT(Fields(ValidateAddNote(note)), ElementsAre("read_mask.paths[0]"));
  v1::CreateCompanyRequest create_company;
  create_company.set_name("Acme");
  create_company.mutable_read_mask()->add_paths("phones");
  EXPECT_THAT(Fields(ValidateCreateCompany(create_company)), ElementsAre("read_mask.paths[0]"));
  v1::UpdateCompanyRequest update_company;
  update_company.set_company_id(4);
  update_company.mutable_read_mask()->add_paths("phones");
  EXPECT_THAT(Fields(ValidateUpdateCompany(update_company)), ElementsAre("read_mask.paths[0]"));
}

TEST(ValidateReadMaskTest, WrapperRpcsCheckPathsAgainstWhatTheyAnswer) {
  // CreateLeadWithContact and FindOrCreateContact: paths of their responses.
  v1::CreateLeadWithContactRequest complex;
  complex.set_name("Deal");
  complex.mutable_contact()->set_name("Ann");
  for (const char* path : {"lead.id", "contact.phones", "contact_merged", "lead", "id"}) {
    complex.mutable_read_mask()->add_paths(path);
  }
  EXPECT_THAT(Fields(ValidateCreateLeadWithContact(complex)), ElementsAre("read_mask.paths[4]"));
  v1::FindOrCreateContactRequest find;
  find.mutable_contact()->add_phones("+15550100");
  for (const char* path : {"contact.id", "outcome", "phones"}) {
    find.mutable_read_mask()->add_paths(path);
  }
  EXPECT_THAT(Fields(ValidateFindOrCreateContact(find)), ElementsAre("read_mask.paths[2]"));
  // CreateIncomingLead: an IncomingLead; AcceptIncomingLead: a Lead.
  v1::CreateIncomingLeadRequest incoming;
  incoming.set_source_uid("s-1");
  incoming.set_source_name("Website");
  incoming.mutable_form()->set_form_id("f");
  incoming.mutable_form()->set_form_name("Form");
  for (const char* path : {"uid", "lead_id", "form.form_id", "id"}) {
    incoming.mutable_read_mask()->add_paths(path);
  }
  EXPECT_THAT(Fields(ValidateCreateIncomingLead(incoming)), ElementsAre("read_mask.paths[3]"));
  v1::AcceptIncomingLeadRequest accept;
  accept.set_uid("abc");
  for (const char* path : {"id", "status_id", "uid"}) accept.mutable_read_mask()->add_paths(path);
  EXPECT_THAT(Fields(ValidateAcceptIncomingLead(accept)), ElementsAre("read_mask.paths[2]"));
}

TEST(ValidateReadMaskTest, RefusesTooManyPaths) {
  v1::CreateLeadRequest lead;
  lead.set_name("Website inquiry");
  for (int i = 0; i < 101; ++i) lead.mutable_read_mask()->add_paths("id");
  EXPECT_THAT(Fields(ValidateCreateLead(lead)), ElementsAre("read_mask.paths"));
}

}  // namespace
}  // namespace kommo::api
