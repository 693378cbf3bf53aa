// The lead-capture JSON (server/mapping/capture_json.h): request bodies for /leads/complex,
// /leads/unsorted, notes and contact values; Kommo's answers to them; and validation paths mapped
// to the caller's fields.

#include "server/mapping/capture_json.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/mapping/mapping_test_util.h"

namespace kommo::mapping {
namespace {

using ::kommo::mapping::test_util::IsBadResponse;
using ::kommo::v1::AcceptIncomingLeadRequest;
using ::kommo::v1::AddNoteRequest;
using ::kommo::v1::CreateIncomingLeadRequest;
using ::kommo::v1::CreateLeadWithContactRequest;
using ::kommo::v1::DeclineIncomingLeadRequest;
using ::kommo::v1::Note;
using ::testing::ElementsAre;
using ::testing::Key;

// ---- LeadsComplexBody ---------------------------------------------------------------------------

TEST(LeadsComplexBodyTest, LeadFieldsThenTheContactWithPhoneAndEmailFields) {
  CreateLeadWithContactRequest request;
  request.set_name("Website inquiry");
  request.set_price(1500);
  request.set_responsible_user_id(8375357);
  request.set_pipeline_id(6950551);
  request.set_status_id(60000002);
  v1::NewContact& contact = *request.mutable_contact();
  contact.set_name("Anna Smith");
  contact.set_first_name("Anna");
  contact.set_responsible_user_id(504141);
  contact.add_phones("+7 999 123-45-67");
  contact.add_phones("8 800 555 35 35");
  contact.add_emails("anna@example.com");
  const LeadWithContactItem items[] = {{"17", &request}};
  EXPECT_EQ(
      LeadsComplexBody(items),
      R"([{"name":"Website inquiry","price":1500,"responsible_user_id":8375357,)"
      R"("pipeline_id":6950551,"status_id":60000002,"_embedded":{"contacts":[)"
      R"({"responsible_user_id":504141,"name":"Anna Smith","first_name":"Anna",)"
      R"("custom_fields_values":[{"field_code":"PHONE","values":[)"
      R"({"value":"+7 999 123-45-67","enum_code":"WORK"},)"
      R"({"value":"8 800 555 35 35","enum_code":"WORK"}]},)"
      R"({"field_code":"EMAIL","values":[{"value":"anna@example.com","enum_code":"WORK"}]}]}]},)"
      R"("request_id":"17"}])");
}

TEST(LeadsComplexBodyTest, ZeroFieldsAreOmittedAndEveryItemKeepsItsRequestId) {
  CreateLeadWithContactRequest emails_only;
  emails_only.set_name("A");
  emails_only.mutable_contact()->add_emails("a@b.c");
  CreateLeadWithContactRequest bare;
  const LeadWithContactItem items[] = {{"0", &emails_only}, {"1", &bare}};
  EXPECT_EQ(LeadsComplexBody(items),
            R"([{"name":"A","_embedded":{"contacts":[{"custom_fields_values":[)"
            R"({"field_code":"EMAIL","values":[{"value":"a@b.c","enum_code":"WORK"}]}]}]},)"
            R"("request_id":"0"},)"
            R"({"_embedded":{"contacts":[{}]},"request_id":"1"}])");
  EXPECT_EQ(LeadsComplexBody({}), "[]");
}

// ---- ParseComplexAnswer -------------------------------------------------------------------------

TEST(ParseComplexAnswerTest, BareArrayByRequestIdArrays) {
  auto results = ParseComplexAnswer(
      R"([{"id":9774766,"contact_id":12117258,"company_id":12117260,"request_id":["1"],)"
      R"("merged":false},)"
      R"({"id":31415926535,"contact_id":5000000001,"company_id":null,"request_id":["0"],)"
      R"("merged":true}])");
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_THAT(*results, ElementsAre(Key("0"), Key("1")));
  EXPECT_EQ(results->at("1").lead_id, 9774766);
  EXPECT_EQ(results->at("1").contact_id, 12117258);
  EXPECT_FALSE(results->at("1").merged);
  EXPECT_EQ(results->at("0").lead_id, 31415926535);
  EXPECT_EQ(results->at("0").contact_id, 5000000001);
  EXPECT_TRUE(results->at("0").merged);
}

TEST(ParseComplexAnswerTest, NullContactIsZeroAndPlainRequestIdsAreRead) {
  auto results = ParseComplexAnswer(
      R"([{"id":11,"contact_id":null,"request_id":"a"},{"id":12,"request_id":7}])");
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_THAT(*results, ElementsAre(Key("7"), Key("a")));
  EXPECT_EQ(results->at("a").lead_id, 11);
  EXPECT_EQ(results->at("a").contact_id, 0);
  EXPECT_FALSE(results->at("a").merged);
  EXPECT_EQ(results->at("7").lead_id, 12);
}

TEST(ParseComplexAnswerTest, RepeatedRequestIdIsABadResponse) {
  EXPECT_TRUE(IsBadResponse(ParseComplexAnswer(R"([{"id":1,"request_id":["3"]},)"
                                               R"({"id":2,"request_id":["3"]}])")
                                .status(),
                            "[1].request_id"));
}

TEST(ParseComplexAnswerTest, MalformedAnswersAreBadResponses) {
  // Kommo's other endpoints answer with a HAL object; this one must be a bare array.
  EXPECT_TRUE(IsBadResponse(
      ParseComplexAnswer(R"({"_embedded":{"leads":[{"id":1,"request_id":"0"}]}})").status(), ""));
  EXPECT_TRUE(IsBadResponse(ParseComplexAnswer(R"([{"request_id":["0"]}])").status(), "[0].id"));
  EXPECT_TRUE(IsBadResponse(ParseComplexAnswer(R"([{"id":1}])").status(), "[0].request_id"));
  EXPECT_TRUE(IsBadResponse(
      ParseComplexAnswer(R"([{"id":1,"contact_id":"x","request_id":["0"]}])").status(),
      "[0].contact_id"));
  EXPECT_TRUE(IsBadResponse(ParseComplexAnswer("[{").status(), ""));
  auto empty = ParseComplexAnswer("[]");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
}

// ---- LeadWithContactFieldFromKommoPath ----------------------------------------------------------

TEST(LeadWithContactFieldFromKommoPathTest, ContactPathsBecomeContactFields) {
  CreateLeadWithContactRequest request;
  request.mutable_contact()->add_phones("+79991234567");
  request.mutable_contact()->add_phones("+79997654321");
  request.mutable_contact()->add_emails("a@b.c");
  EXPECT_EQ(LeadWithContactFieldFromKommoPath(
                "_embedded.contacts.0.custom_fields_values.0.values.1.value", request),
            "contact.phones[1]");
  EXPECT_EQ(LeadWithContactFieldFromKommoPath(
                "_embedded.contacts.0.custom_fields_values.1.values.0.value", request),
            "contact.emails[0]");
  EXPECT_EQ(LeadWithContactFieldFromKommoPath("_embedded.contacts.0.name", request),
            "contact.name");
  EXPECT_EQ(LeadWithContactFieldFromKommoPath("_embedded.contacts", request), "contact");
  EXPECT_EQ(LeadWithContactFieldFromKommoPath("status_id", request), "status_id");
  EXPECT_EQ(LeadWithContactFieldFromKommoPath("price", request), "price");

  // Emails only: the first custom field entry written is EMAIL.
  CreateLeadWithContactRequest emails_only;
  emails_only.mutable_contact()->add_emails("a@b.c");
  EXPECT_EQ(LeadWithContactFieldFromKommoPath(
                "_embedded.contacts.0.custom_fields_values.0.values.0.value", emails_only),
            "contact.emails[0]");
}

// ---- UnsortedFormsBody --------------------------------------------------------------------------

TEST(UnsortedFormsBodyTest, FormWithMetadataLeadAndContact) {
  CreateIncomingLeadRequest request;
  request.set_source_uid("site-form-1");
  request.set_source_name("Website");
  request.set_pipeline_id(6950551);
  v1::FormMetadata& form = *request.mutable_form();
  form.set_form_id("contact-us");
  form.set_form_name("Contact us");
  form.set_form_page("https://example.com/contact");
  form.set_referer("https://search.example/");
  form.set_ip("203.0.113.7");
  form.mutable_form_sent_at()->set_seconds(1700000100);
  request.set_lead_name("Call me back");
  request.set_lead_price(300);
  request.mutable_contact()->set_name("Anna");
  request.mutable_contact()->add_phones("+79991234567");
  const IncomingLeadItem items[] = {{"4", &request, 1700000200}};
  EXPECT_EQ(
      UnsortedFormsBody(items),
      R"([{"source_uid":"site-form-1","source_name":"Website","pipeline_id":6950551,)"
      R"("created_at":1700000200,"metadata":{"form_id":"contact-us","form_name":"Contact us",)"
      R"("form_page":"https://example.com/contact","referer":"https://search.example/",)"
      R"("ip":"203.0.113.7","form_sent_at":1700000100},)"
      R"("_embedded":{"leads":[{"name":"Call me back","price":300}],"contacts":[)"
      R"({"name":"Anna","custom_fields_values":[{"field_code":"PHONE","values":[)"
      R"({"value":"+79991234567","enum_code":"WORK"}]}]}]},"request_id":"4"}])");
}

TEST(UnsortedFormsBodyTest, FormSentAtDefaultsToReceivedAtAndNoContactIsOmitted) {
  CreateIncomingLeadRequest request;
  request.set_source_uid("s");
  request.set_source_name("n");
  request.mutable_form()->set_form_id("f");
  request.mutable_form()->set_form_name("F");
  const IncomingLeadItem items[] = {{"0", &request, 1712345678}};
  EXPECT_EQ(UnsortedFormsBody(items),
            R"([{"source_uid":"s","source_name":"n","created_at":1712345678,)"
            R"("metadata":{"form_id":"f","form_name":"F","form_sent_at":1712345678},)"
            R"("_embedded":{"leads":[{}]},"request_id":"0"}])");
}

// ---- ParseUnsortedAnswer and ParseUnsortedActionAnswer ------------------------------------------

TEST(ParseUnsortedAnswerTest, ByRequestIdWithLeadAndContact) {
  auto results = ParseUnsortedAnswer(
      R"({"_total_items":2,"_embedded":{"unsorted":[)"
      R"({"uid":"a1b2c3","request_id":"1","_embedded":{"leads":[{"id":31000000001}],)"
      R"("contacts":[{"id":5000000002}]}},)"
      R"({"uid":"d4e5f6","request_id":"0","_embedded":{"leads":[{"id":31000000002}],)"
      R"("contacts":[]}}]}})");
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_THAT(*results, ElementsAre(Key("0"), Key("1")));
  EXPECT_EQ(results->at("1").uid, "a1b2c3");
  EXPECT_EQ(results->at("1").lead_id, 31000000001);
  EXPECT_EQ(results->at("1").contact_id, 5000000002);
  EXPECT_EQ(results->at("0").uid, "d4e5f6");
  EXPECT_EQ(results->at("0").lead_id, 31000000002);
  EXPECT_EQ(results->at("0").contact_id, 0);
}

TEST(ParseUnsortedAnswerTest, MissingPartsAreBadResponses) {
  EXPECT_TRUE(IsBadResponse(ParseUnsortedAnswer(R"({"_total_items":0})").status(), "_embedded"));
  EXPECT_TRUE(
      IsBadResponse(ParseUnsortedAnswer(R"({"_embedded":{}})").status(), "_embedded.unsorted"));
  EXPECT_TRUE(IsBadResponse(
      ParseUnsortedAnswer(
          R"({"_embedded":{"unsorted":[{"request_id":"0","_embedded":{"leads":[{"id":1}]}}]}})")
          .status(),
      "_embedded.unsorted[0].uid"));
  EXPECT_TRUE(IsBadResponse(
      ParseUnsortedAnswer(R"({"_embedded":{"unsorted":[{"uid":"u","request_id":"0"}]}})").status(),
      "_embedded.unsorted[0]._embedded.leads"));
  EXPECT_TRUE(IsBadResponse(
      ParseUnsortedAnswer(R"({"_embedded":{"unsorted":[)"
                          R"({"uid":"u","request_id":"0","_embedded":{"leads":[{"id":1}]}},)"
                          R"({"uid":"v","request_id":"0","_embedded":{"leads":[{"id":2}]}}]}})")
          .status(),
      "_embedded.unsorted[1].request_id"));
}

TEST(ParseUnsortedActionAnswerTest, AcceptAnswerGivesTheLead) {
  auto result = ParseUnsortedActionAnswer(
      R"({"uid":"a1b2c3","_embedded":{"leads":[{"id":31000000009,"_links":{}}],)"
      R"("contacts":[{"id":77}]}})");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->uid, "a1b2c3");
  EXPECT_EQ(result->lead_id, 31000000009);
  EXPECT_EQ(result->contact_id, 77);
}

TEST(ParseUnsortedActionAnswerTest, AnAnswerWithoutLeadsIsAnError) {
  EXPECT_TRUE(
      IsBadResponse(ParseUnsortedActionAnswer(R"({"uid":"a1b2c3"})").status(), "_embedded.leads"));
  EXPECT_TRUE(IsBadResponse(
      ParseUnsortedActionAnswer(R"({"uid":"a1b2c3","_embedded":{"leads":[]}})").status(),
      "_embedded.leads"));
  EXPECT_TRUE(IsBadResponse(
      ParseUnsortedActionAnswer(R"({"_embedded":{"leads":[{"id":1}]}})").status(), "uid"));
  EXPECT_TRUE(IsBadResponse(ParseUnsortedActionAnswer("").status(), ""));
}

// ---- AcceptBody and DeclineBody -----------------------------------------------------------------

TEST(IncomingLeadActionBodyTest, OnlySetFieldsAreSent) {
  AcceptIncomingLeadRequest accept;
  accept.set_uid("a1b2c3");
  EXPECT_EQ(AcceptBody(accept), "{}");
  accept.set_user_id(504141);
  accept.set_status_id(142);
  EXPECT_EQ(AcceptBody(accept), R"({"user_id":504141,"status_id":142})");

  DeclineIncomingLeadRequest decline;
  decline.set_uid("a1b2c3");
  EXPECT_EQ(DeclineBody(decline), "{}");
  decline.set_user_id(504141);
  EXPECT_EQ(DeclineBody(decline), R"({"user_id":504141})");
}

// ---- ParseIncomingLeadPage ----------------------------------------------------------------------

TEST(ParseIncomingLeadPageTest, ReadsFormsWithNumericIdsAndTheNextLink) {
  auto page = ParseIncomingLeadPage(
      R"({"_page":1,"_links":{"self":{"href":"x"},"next":{"href":"y"}},"_embedded":{"unsorted":[)"
      R"({"uid":"a1b2c3","source_uid":"site-form-1","source_name":"Website","category":"forms",)"
      R"("pipeline_id":6950551,"created_at":1700000200,)"
      R"("metadata":{"form_id":123,"form_name":"Contact us","form_page":"https://example.com",)"
      R"("ip":"203.0.113.7","form_sent_at":1700000100,"referer":null},)"
      R"("_embedded":{"leads":[{"id":31000000001}],"contacts":[{"id":5000000002}]}},)"
      R"({"uid":"zz","category":"sip","metadata":{"from":"+7999"},)"
      R"("_embedded":{"leads":[{"id":31000000003}]}}]}})");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->has_next);
  ASSERT_EQ(page->incoming_leads.size(), 2u);
  const v1::IncomingLead& form = page->incoming_leads[0];
  EXPECT_EQ(form.uid(), "a1b2c3");
  EXPECT_EQ(form.source_uid(), "site-form-1");
  EXPECT_EQ(form.source_name(), "Website");
  EXPECT_EQ(form.category(), "forms");
  EXPECT_EQ(form.pipeline_id(), 6950551);
  EXPECT_EQ(form.created_at().seconds(), 1700000200);
  EXPECT_EQ(form.lead_id(), 31000000001);
  EXPECT_EQ(form.contact_id(), 5000000002);
  EXPECT_EQ(form.form().form_id(), "123");
  EXPECT_EQ(form.form().form_name(), "Contact us");
  EXPECT_EQ(form.form().form_page(), "https://example.com");
  EXPECT_EQ(form.form().ip(), "203.0.113.7");
  EXPECT_EQ(form.form().referer(), "");
  EXPECT_EQ(form.form().form_sent_at().seconds(), 1700000100);
  const v1::IncomingLead& call = page->incoming_leads[1];
  EXPECT_EQ(call.uid(), "zz");
  EXPECT_EQ(call.category(), "sip");
  EXPECT_EQ(call.lead_id(), 31000000003);
  EXPECT_EQ(call.contact_id(), 0);
  EXPECT_EQ(call.form().form_id(), "");
  EXPECT_FALSE(call.form().has_form_sent_at());
}

TEST(ParseIncomingLeadPageTest, LastPageAndMalformedItems) {
  auto last = ParseIncomingLeadPage(R"({"_embedded":{"unsorted":[]}})");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_FALSE(last->has_next);
  EXPECT_TRUE(last->incoming_leads.empty());
  EXPECT_TRUE(IsBadResponse(
      ParseIncomingLeadPage(R"({"_embedded":{"unsorted":[{"source_uid":"s"}]}})").status(),
      "_embedded.unsorted[0].uid"));
  EXPECT_TRUE(IsBadResponse(
      ParseIncomingLeadPage(R"({"_embedded":{"unsorted":[{"uid":"u","metadata":{"form_id":[]}}]}})")
          .status(),
      "_embedded.unsorted[0].metadata.form_id"));
}

// ---- NotesCreateBody ----------------------------------------------------------------------------

TEST(NotesCreateBodyTest, CommonNoteOrServiceMessage) {
  AddNoteRequest common;
  common.set_entity_type(v1::ENTITY_TYPE_LEAD);
  common.set_entity_id(31000000001);
  common.set_text("Called back.\nNo answer.");
  AddNoteRequest service;
  service.set_entity_type(v1::ENTITY_TYPE_LEAD);
  service.set_entity_id(31000000002);
  service.set_text("Chat transcript");
  service.set_service("Chat bot");
  service.set_created_by(504141);
  const NoteCreateItem items[] = {{"0", &common}, {"1", &service}};
  EXPECT_EQ(NotesCreateBody(items),
            R"([{"entity_id":31000000001,"note_type":"common",)"
            R"("params":{"text":"Called back.\nNo answer."},"request_id":"0"},)"
            R"({"entity_id":31000000002,"note_type":"service_message",)"
            R"("params":{"service":"Chat bot","text":"Chat transcript"},"created_by":504141,)"
            R"("request_id":"1"}])");
}

// ---- ParseNotePage ------------------------------------------------------------------------------

TEST(ParseNotePageTest, KindsAndTheListsEntityType) {
  constexpr char kBody[] =
      R"({"_page":1,"_links":{"self":{"href":"x"}},"_embedded":{"notes":[)"
      R"({"id":101,"entity_id":5000000002,"note_type":"common","params":{"text":"hello"},)"
      R"("created_by":504141,"responsible_user_id":504142,"created_at":1700000000,)"
      R"("updated_at":1700000060},)"
      R"({"id":102,"entity_id":5000000002,"note_type":"service_message",)"
      R"("params":{"service":"Chat bot","text":"transcript"}},)"
      R"({"id":103,"entity_id":5000000002,"note_type":"call_in",)"
      R"("params":{"uniq":"x","duration":60,"link":"https://example.com/rec.mp3"}}]}})";
  auto page = ParseNotePage(kBody, v1::ENTITY_TYPE_CONTACT);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_FALSE(page->has_next);
  ASSERT_EQ(page->notes.size(), 3u);
  const Note& common = page->notes[0];
  EXPECT_EQ(common.id(), 101);
  EXPECT_EQ(common.entity_type(), v1::ENTITY_TYPE_CONTACT);
  EXPECT_EQ(common.entity_id(), 5000000002);
  EXPECT_EQ(common.kind(), Note::KIND_COMMON);
  EXPECT_EQ(common.kommo_note_type(), "common");
  EXPECT_EQ(common.text(), "hello");
  EXPECT_EQ(common.service(), "");
  EXPECT_EQ(common.created_by(), 504141);
  EXPECT_EQ(common.responsible_user_id(), 504142);
  EXPECT_EQ(common.created_at().seconds(), 1700000000);
  EXPECT_EQ(common.updated_at().seconds(), 1700000060);
  const Note& service = page->notes[1];
  EXPECT_EQ(service.kind(), Note::KIND_SERVICE_MESSAGE);
  EXPECT_EQ(service.service(), "Chat bot");
  EXPECT_EQ(service.text(), "transcript");
  const Note& call = page->notes[2];
  EXPECT_EQ(call.kind(), Note::KIND_OTHER);
  EXPECT_EQ(call.kommo_note_type(), "call_in");
  EXPECT_EQ(call.text(), "");

  auto as_lead = ParseNotePage(kBody, v1::ENTITY_TYPE_LEAD);
  ASSERT_TRUE(as_lead.ok()) << as_lead.status();
  EXPECT_EQ(as_lead->notes[0].entity_type(), v1::ENTITY_TYPE_LEAD);
}

TEST(ParseNotePageTest, MalformedNotesAreBadResponses) {
  EXPECT_TRUE(IsBadResponse(
      ParseNotePage(R"({"_embedded":{"notes":[{"note_type":"common"}]}})", v1::ENTITY_TYPE_LEAD)
          .status(),
      "_embedded.notes[0].id"));
  EXPECT_TRUE(IsBadResponse(
      ParseNotePage(R"({"_embedded":{"notes":[{"id":1,"note_type":4}]}})", v1::ENTITY_TYPE_LEAD)
          .status(),
      "_embedded.notes[0].note_type"));
  auto next = ParseNotePage(R"({"_links":{"next":{"href":"y"}},"_embedded":{"notes":[]}})",
                            v1::ENTITY_TYPE_COMPANY);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(next->has_next);
}

// ---- IncomingLeadFieldFromKommoPath and NoteFieldFromKommoPath ----------------------------------

TEST(IncomingLeadFieldFromKommoPathTest, MapsMetadataLeadAndContactPaths) {
  CreateIncomingLeadRequest request;
  request.mutable_contact()->add_phones("+79991234567");
  request.mutable_contact()->add_emails("a@b.c");
  request.mutable_contact()->add_emails("d@e.f");
  EXPECT_EQ(IncomingLeadFieldFromKommoPath("metadata.form_id", request), "form.form_id");
  EXPECT_EQ(IncomingLeadFieldFromKommoPath("metadata.form_sent_at", request), "form.form_sent_at");
  EXPECT_EQ(IncomingLeadFieldFromKommoPath("_embedded.leads.0.name", request), "lead_name");
  EXPECT_EQ(IncomingLeadFieldFromKommoPath("_embedded.leads.0.price", request), "lead_price");
  EXPECT_EQ(IncomingLeadFieldFromKommoPath(
                "_embedded.contacts.0.custom_fields_values.1.values.1.value", request),
            "contact.emails[1]");
  EXPECT_EQ(IncomingLeadFieldFromKommoPath("_embedded.contacts.0.first_name", request),
            "contact.first_name");
  EXPECT_EQ(IncomingLeadFieldFromKommoPath("source_uid", request), "source_uid");
  EXPECT_EQ(IncomingLeadFieldFromKommoPath("_embedded.leads.0.status_id", request),
            "_embedded.leads.0.status_id");
}

TEST(NoteFieldFromKommoPathTest, MapsParamsToRequestFields) {
  EXPECT_EQ(NoteFieldFromKommoPath("entity_id"), "entity_id");
  EXPECT_EQ(NoteFieldFromKommoPath("params.text"), "text");
  EXPECT_EQ(NoteFieldFromKommoPath("params.service"), "service");
  EXPECT_EQ(NoteFieldFromKommoPath("note_type"), "service");
  EXPECT_EQ(NoteFieldFromKommoPath("created_by"), "created_by");
}

}  // namespace
}  // namespace kommo::mapping
