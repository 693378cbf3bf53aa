// CheckWriteReferences against a small catalogue: each refusal with the field it names, the
// values it rewrites (codes → ids, choice texts → enum ids, multitext kinds), and which Kommo
// refusals make the catalogues be read again.

#include "server/kommo/write_check.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"

namespace kommo::rest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using v1::CustomField;
using v1::CustomFieldValue;
using v1::CustomFieldValues;

CustomField Field(int64_t id, v1::CustomFieldType type, const std::string& kommo_type,
                  const std::string& code = "",
                  std::vector<std::pair<int64_t, std::string>> enums = {}) {
  CustomField field;
  field.set_id(id);
  field.set_type(type);
  field.set_kommo_type(kommo_type);
  field.set_code(code);
  for (const auto& [enum_id, value] : enums) {
    auto* each = field.add_enums();
    each->set_id(enum_id);
    each->set_value(value);
  }
  return field;
}

class WriteCheckTest : public ::testing::Test {
 protected:
  WriteCheckTest() {
    fields_ = {
        Field(1, v1::CUSTOM_FIELD_TYPE_TEXT, "text", "UTM_SOURCE"),
        Field(2, v1::CUSTOM_FIELD_TYPE_NUMERIC, "numeric"),
        Field(3, v1::CUSTOM_FIELD_TYPE_CHECKBOX, "checkbox"),
        Field(4, v1::CUSTOM_FIELD_TYPE_SELECT, "select", "", {{41, "Gold"}, {42, "Silver"}}),
        Field(5, v1::CUSTOM_FIELD_TYPE_MULTISELECT, "multiselect", "", {{51, "A"}, {52, "B"}}),
        Field(6, v1::CUSTOM_FIELD_TYPE_DATE, "date"),
        Field(7, v1::CUSTOM_FIELD_TYPE_MULTITEXT, "multitext", "PHONE",
              {{71, "WORK"}, {72, "MOB"}}),
        Field(8, v1::CUSTOM_FIELD_TYPE_OTHER, "smart_address"),
        Field(9, v1::CUSTOM_FIELD_TYPE_MULTITEXT, "multitext", "EMAIL", {{91, "PRIV"}}),
    };
    v1::Pipeline pipeline;
    pipeline.set_id(100);
    pipeline.add_stages()->set_id(1001);
    pipeline.add_stages()->set_id(1002);
    pipelines_.push_back(pipeline);
    v1::Pipeline other;
    other.set_id(200);
    other.add_stages()->set_id(2001);
    pipelines_.push_back(other);
    v1::User user;
    user.set_id(504141);
    users_.push_back(user);
    references_.entity_type = v1::ENTITY_TYPE_LEAD;
  }

  CustomFieldValues* Add(int64_t id) {
    CustomFieldValues* field = references_.custom_fields.Add();
    field->set_field_id(id);
    return field;
  }

  absl::StatusOr<google::protobuf::RepeatedPtrField<CustomFieldValues>> Check() {
    return CheckWriteReferences(references_, {&fields_, &pipelines_, &users_});
  }

  // The violations' fields; the status must be INVALID_ARGUMENT INVALID_FIELD.
  std::vector<std::string> Refused() {
    auto checked = Check();
    EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(GetErrorInfo(checked.status())->reason(), "INVALID_FIELD");
    std::vector<std::string> out;
    if (auto bad = GetBadRequest(checked.status())) {
      for (const auto& each : bad->field_violations()) out.push_back(each.field());
    }
    return out;
  }

  std::vector<CustomField> fields_;
  std::vector<v1::Pipeline> pipelines_;
  std::vector<v1::User> users_;
  WriteReferences references_;
};

TEST_F(WriteCheckTest, AcceptsEveryTypeAndRewritesNamesToIds) {
  CustomFieldValues* source = references_.custom_fields.Add();
  source->set_field_code("UTM_SOURCE");
  source->add_values()->set_text("google");
  Add(2)->add_values()->set_number(3.5);
  Add(3)->add_values()->set_checkbox(true);
  Add(4)->add_values()->set_text("Silver");
  CustomFieldValues* multi = Add(5);
  multi->add_values()->set_enum_id(51);
  multi->add_values()->set_text("B");
  Add(6)->add_values()->mutable_time()->set_seconds(1700000000);
  Add(7)->add_values()->set_text("+100");
  Add(9);  // cleared
  auto checked = Check();
  ASSERT_TRUE(checked.ok()) << checked.status();
  const auto& out = *checked;
  EXPECT_EQ(out[0].field_id(), 1);
  EXPECT_EQ(out[0].field_code(), "");
  EXPECT_EQ(out[3].values(0).enum_id(), 42);
  EXPECT_FALSE(out[3].values(0).has_text()) << "a choice is written by its id";
  EXPECT_EQ(out[4].values(0).enum_id(), 51);
  EXPECT_EQ(out[4].values(1).enum_id(), 52);
  EXPECT_EQ(out[6].values(0).enum_code(), "WORK") << "a multitext value gets a kind";
  EXPECT_THAT(out[7].values(), IsEmpty());
}

TEST_F(WriteCheckTest, CodesAndKindsCompareWithoutRegardToCase) {
  CustomFieldValues* source = references_.custom_fields.Add();
  source->set_field_code("utm_source");
  source->add_values()->set_text("google");
  CustomFieldValues* phone = references_.custom_fields.Add();
  phone->set_field_code("Phone");
  CustomFieldValue* mobile = phone->add_values();
  mobile->set_text("+100");
  mobile->set_enum_code("mob");
  CustomFieldValue* work = phone->add_values();
  work->set_text("+200");
  work->set_enum_code("Work");
  work->set_enum_id(71);
  auto checked = Check();
  ASSERT_TRUE(checked.ok()) << checked.status();
  const auto& out = *checked;
  EXPECT_EQ(out[0].field_id(), 1);
  EXPECT_EQ(out[1].field_id(), 7);
  EXPECT_EQ(out[1].values(0).enum_code(), "MOB") << "written as the catalogue spells it";
  EXPECT_EQ(out[1].values(1).enum_code(), "WORK");
  EXPECT_EQ(out[1].values(1).enum_id(), 71);

  // Still refused: a kind of another spelling, or a different kind than enum_id names.
  work->set_enum_code("mobile");
  mobile->set_enum_id(71);
  EXPECT_THAT(Refused(),
              ElementsAre("custom_fields[1].values[0]", "custom_fields[1].values[1].enum_code"));
}

TEST_F(WriteCheckTest, UnknownFieldsByIdAndByCode) {
  Add(999)->add_values()->set_text("x");
  references_.custom_fields.Add()->set_field_code("NOPE");
  EXPECT_THAT(Refused(), ElementsAre("custom_fields[0].field_id", "custom_fields[1].field_code"));
}

TEST_F(WriteCheckTest, MemberNotMatchingTheType) {
  Add(2)->add_values()->set_text("12");
  Add(3)->add_values()->set_number(1);
  Add(6)->add_values()->set_text("2024-01-01");
  Add(1)->add_values()->set_checkbox(true);
  Add(4)->add_values()->set_number(41);
  Add(1)->add_values();  // repeats field 1: reported as such, not checked again
  EXPECT_THAT(Refused(),
              ElementsAre("custom_fields[0].values[0].text", "custom_fields[1].values[0].number",
                          "custom_fields[2].values[0].text", "custom_fields[3].values[0].checkbox",
                          "custom_fields[4].values[0].number", "custom_fields[5]"));
}

TEST_F(WriteCheckTest, UnknownEnums) {
  Add(4)->add_values()->set_enum_id(49);
  Add(5)->add_values()->set_text("Z");
  CustomFieldValue* phone = Add(7)->add_values();
  phone->set_text("+1");
  phone->set_enum_code("FAX");
  CustomFieldValue* mismatch = Add(9)->add_values();
  mismatch->set_text("a@b.c");
  mismatch->set_enum_id(71);  // PHONE's kind, not EMAIL's
  EXPECT_THAT(
      Refused(),
      ElementsAre("custom_fields[0].values[0].enum_id", "custom_fields[1].values[0].text",
                  "custom_fields[2].values[0].enum_code", "custom_fields[3].values[0].enum_id"));
}

TEST_F(WriteCheckTest, EnumWhereNoneIsExpectedAndTheirMismatch) {
  CustomFieldValue* text = Add(1)->add_values();
  text->set_text("x");
  text->set_enum_id(41);
  CustomFieldValue* select = Add(4)->add_values();
  select->set_enum_id(41);
  select->set_text("Silver");
  CustomFieldValue* code = Add(5)->add_values();
  code->set_enum_id(51);
  code->set_enum_code("WORK");
  EXPECT_THAT(Refused(),
              ElementsAre("custom_fields[0].values[0].enum_id", "custom_fields[1].values[0]",
                          "custom_fields[2].values[0].enum_code"));
}

TEST_F(WriteCheckTest, SeveralValuesForAFieldThatTakesOne) {
  CustomFieldValues* select = Add(4);
  select->add_values()->set_enum_id(41);
  select->add_values()->set_enum_id(42);
  CustomFieldValues* text = Add(1);
  text->add_values()->set_text("a");
  text->add_values()->set_text("b");
  CustomFieldValues* multi = Add(5);
  multi->add_values()->set_enum_id(51);
  multi->add_values()->set_text("A");
  EXPECT_THAT(Refused(), ElementsAre("custom_fields[0].values", "custom_fields[1].values",
                                     "custom_fields[2].values[1]"));
}

TEST_F(WriteCheckTest, EmptyTextAndUnwritableTypes) {
  Add(1)->add_values()->set_text("");
  Add(8)->add_values()->set_text("Main st 1");
  Add(2)->add_values();  // no member at all
  EXPECT_THAT(Refused(), ElementsAre("custom_fields[0].values[0].text",
                                     "custom_fields[1].values[0]", "custom_fields[2].values[0]"));
}

TEST_F(WriteCheckTest, RepeatedFieldByIdAndCode) {
  Add(1)->add_values()->set_text("a");
  CustomFieldValues* again = references_.custom_fields.Add();
  again->set_field_code("UTM_SOURCE");
  again->add_values()->set_text("b");
  EXPECT_THAT(Refused(), ElementsAre("custom_fields[1]"));
}

TEST_F(WriteCheckTest, PhoneAndEmailTwice) {
  references_.entity_type = v1::ENTITY_TYPE_CONTACT;
  references_.phones_given = true;
  Add(7)->add_values()->set_text("+1");     // PHONE by id, while phones are given
  Add(9)->add_values()->set_text("a@b.c");  // EMAIL: emails are not given, fine
  EXPECT_THAT(Refused(), ElementsAre("custom_fields[0]"));
}

TEST_F(WriteCheckTest, PipelinesStagesAndUsers) {
  references_.pipeline_id = 300;
  references_.status_id = 1001;
  references_.users = {{"responsible_user_id", 42}};
  EXPECT_THAT(Refused(), ElementsAre("pipeline_id", "responsible_user_id"));

  references_.pipeline_id = 200;
  references_.users = {{"responsible_user_id", 504141}};
  EXPECT_THAT(Refused(), ElementsAre("status_id")) << "1001 is pipeline 100's stage";

  references_.pipeline_id.reset();
  EXPECT_TRUE(Check().ok()) << "without a pipeline, any pipeline's stage";
  references_.status_id = 5;
  EXPECT_THAT(Refused(), ElementsAre("status_id"));
  references_.pipeline_id = 200;
  references_.status_id = 143;
  EXPECT_TRUE(Check().ok()) << "won and lost are stages of every pipeline";
}

TEST_F(WriteCheckTest, ACatalogueNotReadIsNotChecked) {
  Add(999)->add_values()->set_text("x");
  references_.users = {{"responsible_user_id", 42}};
  auto checked = CheckWriteReferences(references_, {});
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ((*checked)[0].field_id(), 999) << "left as given, for Kommo to judge";
}

TEST(RefusalConcernsCataloguesTest, OnlyKommoValidationAboutCatalogueFields) {
  absl::Status about_field = MakeInvalidArgument(
      "x", {{"custom_fields[0].values[0]", "NotSupportedChoice"}}, reason::kKommoValidationFailed);
  EXPECT_TRUE(RefusalConcernsCatalogues(about_field));
  absl::Status about_stage =
      MakeInvalidArgument("x", {{"status_id", "bad"}}, reason::kKommoValidationFailed);
  EXPECT_TRUE(RefusalConcernsCatalogues(about_stage));
  absl::Status about_name =
      MakeInvalidArgument("x", {{"name", "bad"}}, reason::kKommoValidationFailed);
  EXPECT_FALSE(RefusalConcernsCatalogues(about_name));
  absl::Status ours = MakeInvalidArgument("x", {{"custom_fields[0]", "bad"}});
  EXPECT_FALSE(RefusalConcernsCatalogues(ours)) << "our own refusal needs no new catalogue";
  EXPECT_FALSE(RefusalConcernsCatalogues(absl::UnavailableError("x")));
}

}  // namespace
}  // namespace kommo::rest
