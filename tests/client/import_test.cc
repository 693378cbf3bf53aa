// kommo-cli's import without a server: the CSV reader and writer, the column mapping, the request
// of a row, request ids and the journal (kommo_cli_import_e2e.sh runs imports end to end).
#include "client/cli/import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "client/cli/csv.h"
#include "kommo/v1/contact_service.pb.h"
#include "kommo/v1/lead_service.pb.h"

namespace kommo::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// --- CSV
// ------------------------------------------------------------------------------------------

TEST(ParseCsvTest, PlainRecordsWithLineNumbers) {
  const std::vector<CsvRecord> records = ParseCsv("name,price\nA,1\nB,2\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_THAT(records[0].fields, ElementsAre("name", "price"));
  EXPECT_THAT(records[2].fields, ElementsAre("B", "2"));
  EXPECT_EQ(records[0].line, 1);
  EXPECT_EQ(records[2].line, 3);
  for (const CsvRecord& record : records) EXPECT_THAT(record.error, IsEmpty());
}

TEST(ParseCsvTest, QuotesEscapesAndLineBreaksInsideQuotes) {
  const std::vector<CsvRecord> records =
      ParseCsv("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\"two\r\nlines\",z\r\nlast,row");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_THAT(records[1].fields, ElementsAre("x, y", "say \"hi\""));
  EXPECT_THAT(records[2].fields, ElementsAre("two\r\nlines", "z"));
  EXPECT_EQ(records[2].line, 3);
  EXPECT_EQ(records[3].line, 5);                               // the quoted line break counted
  EXPECT_THAT(records[3].fields, ElementsAre("last", "row"));  // no final line break
}

TEST(ParseCsvTest, ByteOrderMarkEmptyFieldsAndEmptyLines) {
  const std::vector<CsvRecord> records = ParseCsv("\xEF\xBB\xBFname,,\n\n,x,\r\r\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_THAT(records[0].fields, ElementsAre("name", "", ""));
  EXPECT_THAT(records[1].fields, ElementsAre("", "x", ""));
  EXPECT_EQ(records[1].line, 3);
}

TEST(ParseCsvTest, MalformedRecordsAreMarkedAndReadingGoesOn) {
  const std::vector<CsvRecord> records = ParseCsv("a,\"b\"junk,c\nok,1\n\"open,2\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_THAT(records[0].error, HasSubstr("after the closing quote of field 2"));
  EXPECT_THAT(records[1].fields, ElementsAre("ok", "1"));
  EXPECT_THAT(records[1].error, IsEmpty());
  EXPECT_THAT(records[2].error, HasSubstr("opened on line 3 is not closed"));
}

TEST(ParseCsvTest, OtherDelimiterAndQuoteInsideUnquotedField) {
  const std::vector<CsvRecord> records = ParseCsv("a;b\"c;d", ';');
  ASSERT_EQ(records.size(), 1u);
  EXPECT_THAT(records[0].fields, ElementsAre("a", "b\"c", "d"));
}

TEST(FormatCsvRecordTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(FormatCsvRecord({"plain", "a,b", "say \"hi\"", "two\nlines", " pad", ""}),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\",\r\n");
}

TEST(FormatCsvRecordTest, RoundTripsThroughTheReader) {
  const std::vector<std::string> fields = {"x, y", "\"q\"", "l1\r\nl2", "", "end"};
  const std::vector<CsvRecord> records = ParseCsv(FormatCsvRecord(fields));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].fields, fields);
}

// --- mapping
// --------------------------------------------------------------------------------------

TEST(BuildColumnMappingTest, HeaderNamesTheFields) {
  const std::vector<std::string> header = {"Name", "price", "cf:BUDGET", "cf:123", "-", "tags"};
  absl::StatusOr<ColumnMapping> mapping =
      BuildColumnMapping(ImportKind::kLeads, &header, header.size(), {});
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  EXPECT_EQ(mapping->Canonical(), "name,price,cf:BUDGET,cf:123,-,tags");
}

TEST(BuildColumnMappingTest, UnknownHeaderSaysHowToMapIt) {
  const std::vector<std::string> header = {"name", "Budget"};
  absl::StatusOr<ColumnMapping> mapping =
      BuildColumnMapping(ImportKind::kLeads, &header, header.size(), {});
  ASSERT_EQ(mapping.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mapping.status().message(), HasSubstr("column 2 is headed \"Budget\""));
  EXPECT_THAT(mapping.status().message(), HasSubstr("--column 'Budget=FIELD'"));
}

TEST(BuildColumnMappingTest, OverridesByHeaderOrNumber) {
  const std::vector<std::string> header = {"Deal", "Budget", "Notes"};
  absl::StatusOr<ColumnMapping> mapping =
      BuildColumnMapping(ImportKind::kLeads, &header, header.size(),
                         {{"Deal", "name"}, {"2", "price"}, {"Notes", "-"}});
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  EXPECT_EQ(mapping->Canonical(), "name,price,-");
}

TEST(BuildColumnMappingTest, WithoutHeaderUnmappedColumnsAreSkipped) {
  absl::StatusOr<ColumnMapping> mapping =
      BuildColumnMapping(ImportKind::kLeads, nullptr, 3, {{"3", "name"}});
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  EXPECT_EQ(mapping->Canonical(), "-,-,name");
  EXPECT_EQ(BuildColumnMapping(ImportKind::kLeads, nullptr, 3, {{"4", "name"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildColumnMappingTest, RefusesTwoColumnsForOneFieldAndMissingRequiredOnes) {
  const std::vector<std::string> twice = {"name", "name"};
  EXPECT_THAT(BuildColumnMapping(ImportKind::kLeads, &twice, 2, {}).status().message(),
              HasSubstr("two columns set name"));
  const std::vector<std::string> no_name = {"price"};
  EXPECT_THAT(BuildColumnMapping(ImportKind::kLeads, &no_name, 1, {}).status().message(),
              HasSubstr("no column sets the lead's name"));
  const std::vector<std::string> no_match = {"name", "first_name"};
  EXPECT_THAT(BuildColumnMapping(ImportKind::kContacts, &no_match, 2, {}).status().message(),
              HasSubstr("no column sets a phone or an email"));
  // Lead fields are not contact fields, and the other way round.
  const std::vector<std::string> price = {"phone", "price"};
  EXPECT_FALSE(BuildColumnMapping(ImportKind::kContacts, &price, 2, {}).ok());
  EXPECT_FALSE(BuildColumnMapping(ImportKind::kLeads, nullptr, 1, {{"1", "phone"}}).ok());
}

TEST(BuildColumnMappingTest, RejectFileColumnsAreSkipped) {
  const std::vector<std::string> header = {"name", "reject_line", "reject_reason"};
  absl::StatusOr<ColumnMapping> mapping =
      BuildColumnMapping(ImportKind::kLeads, &header, header.size(), {});
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  EXPECT_EQ(mapping->Canonical(), "name,-,-");
}

// --- rows
// -----------------------------------------------------------------------------------------

TEST(BuildRowRequestTest, LeadRowSetsEveryMappedField) {
  const std::vector<std::string> header = {"name",      "price", "pipeline_id",
                                           "status_id", "tags",  "cf:BUDGET",
                                           "cf:BUDGET", "cf:77", "contact_ids"};
  absl::StatusOr<ColumnMapping> mapping =
      BuildColumnMapping(ImportKind::kLeads, &header, header.size(), {});
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  CsvRecord record;
  record.line = 2;
  record.fields = {" Deal ", "1500",   "7000001", "60000002", "web; vip ;",
                   "12.5",   "enum:5", "",        "31;32"};
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> request =
      BuildRowRequest(ImportKind::kLeads, *mapping, header, record, "imp-l-x-2");
  ASSERT_TRUE(request.ok()) << request.status();
  const auto& lead = static_cast<const v1::CreateLeadRequest&>(**request);
  EXPECT_EQ(lead.name(), "Deal");
  EXPECT_EQ(lead.price(), 1500);
  EXPECT_EQ(lead.pipeline_id(), 7000001);
  EXPECT_EQ(lead.status_id(), 60000002);
  EXPECT_THAT(lead.tags_to_add(), ElementsAre("web", "vip"));
  EXPECT_THAT(lead.contact_ids(), ElementsAre(31, 32));
  EXPECT_EQ(lead.request_id(), "imp-l-x-2");
  ASSERT_EQ(lead.custom_fields_size(), 1);  // cf:77 is empty: not set
  EXPECT_EQ(lead.custom_fields(0).field_code(), "BUDGET");
  ASSERT_EQ(lead.custom_fields(0).values_size(), 2);
  EXPECT_EQ(lead.custom_fields(0).values(0).number(), 12.5);
  EXPECT_EQ(lead.custom_fields(0).values(1).enum_id(), 5);
}

TEST(BuildRowRequestTest, BadNumbersAndWrongFieldCountsAreRowErrors) {
  const std::vector<std::string> header = {"name", "price"};
  absl::StatusOr<ColumnMapping> mapping =
      BuildColumnMapping(ImportKind::kLeads, &header, header.size(), {});
  ASSERT_TRUE(mapping.ok());
  CsvRecord bad_price{5, {"Deal", "12a"}, ""};
  absl::Status status =
      BuildRowRequest(ImportKind::kLeads, *mapping, header, bad_price, "r").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("column 2 (price): \"12a\" is not a whole number"));
  CsvRecord negative{6, {"Deal", "-1"}, ""};
  EXPECT_FALSE(BuildRowRequest(ImportKind::kLeads, *mapping, header, negative, "r").ok());
  CsvRecord short_row{7, {"Deal"}, ""};
  EXPECT_THAT(
      BuildRowRequest(ImportKind::kLeads, *mapping, header, short_row, "r").status().message(),
      HasSubstr("the row has 1 fields; the file's rows have 2"));
  CsvRecord malformed{8, {"Deal", "1"}, "text after the closing quote of field 1"};
  EXPECT_THAT(
      BuildRowRequest(ImportKind::kLeads, *mapping, header, malformed, "r").status().message(),
      HasSubstr("closing quote"));
}

TEST(BuildRowRequestTest, ContactRowIsAFindOrCreate) {
  const std::vector<std::string> header = {"first_name", "last_name", "phone", "email"};
  absl::StatusOr<ColumnMapping> mapping =
      BuildColumnMapping(ImportKind::kContacts, &header, header.size(), {});
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  CsvRecord record{2, {"Ann", "Lee", "+1 555 0100; +1 555 0101", "ann@example.com"}, ""};
  RowOptions options;
  options.add_missing = true;
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> request =
      BuildRowRequest(ImportKind::kContacts, *mapping, header, record, "imp-c-x-2", options);
  ASSERT_TRUE(request.ok()) << request.status();
  const auto& find = static_cast<const v1::FindOrCreateContactRequest&>(**request);
  EXPECT_EQ(find.contact().first_name(), "Ann");
  EXPECT_THAT(find.contact().phones(), ElementsAre("+1 555 0100", "+1 555 0101"));
  EXPECT_THAT(find.contact().emails(), ElementsAre("ann@example.com"));
  EXPECT_TRUE(find.add_missing());
  EXPECT_EQ(find.request_id(), "imp-c-x-2");
  // Nothing to match by: the row is refused, without quoting its data.
  CsvRecord nobody{3, {"Ann", "Lee", "", ""}, ""};
  absl::Status status =
      BuildRowRequest(ImportKind::kContacts, *mapping, header, nobody, "r").status();
  EXPECT_THAT(status.message(), HasSubstr("no phone and no email"));
  EXPECT_THAT(status.message(), Not(HasSubstr("Ann")));
}

// --- identity and journal
// -------------------------------------------------------------------------

TEST(ImportIdentityTest, SameFileSameIdsOtherFileOrMappingOtherIds) {
  const std::vector<std::string> header = {"name"};
  const ColumnMapping mapping = *BuildColumnMapping(ImportKind::kLeads, &header, 1, {});
  const std::vector<std::string> two = {"name", "price"};
  const ColumnMapping with_price = *BuildColumnMapping(ImportKind::kLeads, &two, 2, {});
  const ColumnMapping without_price =
      *BuildColumnMapping(ImportKind::kLeads, &two, 2, {{"price", "-"}});
  EXPECT_NE(ImportIdentity("name,price\nx,1\n", ImportKind::kLeads, with_price),
            ImportIdentity("name,price\nx,1\n", ImportKind::kLeads, without_price));
  const std::string a = ImportIdentity("name\nx\n", ImportKind::kLeads, mapping);
  EXPECT_EQ(a, ImportIdentity("name\nx\n", ImportKind::kLeads, mapping));
  EXPECT_NE(a, ImportIdentity("name\ny\n", ImportKind::kLeads, mapping));
  EXPECT_NE(a, ImportIdentity("name\nx\n", ImportKind::kContacts, mapping));
  RowOptions add_missing;
  add_missing.add_missing = true;
  EXPECT_NE(ImportIdentity("name\nx\n", ImportKind::kContacts, mapping),
            ImportIdentity("name\nx\n", ImportKind::kContacts, mapping, add_missing));
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string id = RowRequestId(ImportKind::kLeads, a, 123456789);
  EXPECT_EQ(id, "imp-l-" + a.substr(0, 24) + "-123456789");
  EXPECT_LE(id.size(), 64u);
  EXPECT_EQ(RowRequestId(ImportKind::kContacts, a, 2).substr(0, 6), "imp-c-");
}

TEST(JournalTest, RoundTripAndACutLastLine) {
  const std::string header = JournalHeader(ImportKind::kLeads, "f1", "id1");
  const std::string text =
      header + JournalLine({2, JournalEntry::State::kCreated, "r2", 31000000001}) +
      JournalLine({3, JournalEntry::State::kRejected, "r3", 0}) +
      JournalLine({4, JournalEntry::State::kUnknown, "r4", 0}) + "5\tcrea";  // cut by a kill
  absl::StatusOr<std::map<int64_t, JournalEntry>> entries =
      ParseJournal(text, ImportKind::kLeads, "f1", "id1");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ(entries->at(2).id, 31000000001);
  EXPECT_EQ(entries->at(2).request_id, "r2");
  EXPECT_EQ(entries->at(3).state, JournalEntry::State::kRejected);
  EXPECT_EQ(entries->at(4).state, JournalEntry::State::kUnknown);
  EXPECT_EQ(entries->count(5), 0u);
}

TEST(JournalTest, AnotherFileKindOrMappingIsRefused) {
  const std::string text = JournalHeader(ImportKind::kLeads, "f1", "id1");
  EXPECT_THAT(ParseJournal(text, ImportKind::kLeads, "f2", "id1").status().message(),
              HasSubstr("the file changed"));
  EXPECT_THAT(ParseJournal(text, ImportKind::kContacts, "f1", "id1").status().message(),
              HasSubstr("belongs to a `leads import`"));
  EXPECT_THAT(ParseJournal(text, ImportKind::kLeads, "f1", "id2").status().message(),
              HasSubstr("another column mapping"));
  EXPECT_EQ(ParseJournal("garbage\n", ImportKind::kLeads, "f1", "id1").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ParseJournal(text + "2\tcreated\tr\n", ImportKind::kLeads, "f1", "id1").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// --- command line
// ---------------------------------------------------------------------------------

TEST(ImportCommandLineTest, ParsesFlagsAroundTheFile) {
  const std::vector<std::string> args = {"--target=h:1",     "leads",       "import",
                                         "in.csv",           "--column",    "Deal=name",
                                         "--concurrency=20", "--no-header", "--delimiter=;"};
  ASSERT_TRUE(IsImportCommandLine(args));
  const ImportInvocation invocation = ParseImportCommandLine(args, nullptr);
  ASSERT_THAT(invocation.error, IsEmpty());
  EXPECT_EQ(invocation.kind, ImportKind::kLeads);
  EXPECT_EQ(invocation.file, "in.csv");
  EXPECT_EQ(invocation.target, "h:1");
  EXPECT_EQ(invocation.concurrency, 20);
  EXPECT_FALSE(invocation.has_header);
  EXPECT_EQ(invocation.delimiter, ';');
  ASSERT_EQ(invocation.columns.size(), 1u);
  EXPECT_EQ(invocation.columns[0].first, "Deal");
  EXPECT_EQ(invocation.columns[0].second, "name");
}

TEST(ImportCommandLineTest, UsageErrors) {
  EXPECT_FALSE(IsImportCommandLine({"leads", "create"}));
  EXPECT_THAT(ParseImportCommandLine({"contacts", "import"}, nullptr).error,
              HasSubstr("needs a FILE"));
  EXPECT_THAT(ParseImportCommandLine({"leads", "import", "a.csv", "b.csv"}, nullptr).error,
              HasSubstr("give one FILE"));
  EXPECT_THAT(ParseImportCommandLine({"leads", "import", "a", "--concurrency=0"}, nullptr).error,
              HasSubstr("1 to 500"));
  EXPECT_THAT(ParseImportCommandLine({"leads", "import", "a", "--column=name"}, nullptr).error,
              HasSubstr("KEY=FIELD"));
  EXPECT_THAT(ParseImportCommandLine({"leads", "import", "a", "--price=1"}, nullptr).error,
              HasSubstr("unknown flag --price"));
  EXPECT_TRUE(ParseImportCommandLine({"contacts", "import", "--help"}, nullptr).help);
}

}  // namespace
}  // namespace kommo::cli
