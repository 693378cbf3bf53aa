#include "client/cli/import.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/cli/commands.h"
#include "kommo/client/channel.h"
#include "kommo/client/errors.h"
#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"

namespace kommo::cli {
namespace {

using Field = ColumnTarget::Field;
using google::protobuf::Message;

// The file is read whole (its hash and its rows); larger files are better split.
constexpr size_t kMaxFileBytes = size_t{1} << 30;
// Journal lines are fsync'd at least this often while answers come in.
constexpr auto kJournalSyncEvery = std::chrono::milliseconds(200);
// The longest wait between attempts of a row when the server gives no delay.
constexpr auto kMaxBackoff = std::chrono::milliseconds(10000);
constexpr char kJournalMagic[] = "# kommo-cli import journal v1";

const char* KindName(ImportKind kind) { return kind == ImportKind::kLeads ? "leads" : "contacts"; }

// The field a header cell or a --column value names; nullopt when it names none.
std::optional<ColumnTarget> ParseFieldName(ImportKind kind, absl::string_view text) {
  const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  ColumnTarget target;
  if (name == "-" || name == "reject_line" || name == "reject_reason") return target;
  if (name == "name") {
    target.field = Field::kName;
    return target;
  }
  if (name == "responsible_user_id") {
    target.field = Field::kResponsibleUserId;
    return target;
  }
  if (kind == ImportKind::kLeads) {
    static const std::map<std::string, Field>* const kLeadFields = new std::map<std::string, Field>{
        {"price", Field::kPrice},        {"pipeline_id", Field::kPipelineId},
        {"status_id", Field::kStatusId}, {"tags", Field::kTags},
        {"tag", Field::kTags},           {"contact_ids", Field::kContactIds}};
    if (auto it = kLeadFields->find(name); it != kLeadFields->end()) {
      target.field = it->second;
      return target;
    }
    absl::string_view rest = absl::StripAsciiWhitespace(text);
    if (absl::ConsumePrefix(&rest, "cf:") || absl::ConsumePrefix(&rest, "CF:")) {
      if (rest.empty() || absl::StrContains(rest, ' ')) return std::nullopt;
      int64_t id = 0;
      if (absl::SimpleAtoi(rest, &id) && id <= 0) return std::nullopt;
      target.field = Field::kCustomField;
      target.custom_field = std::string(rest);
      return target;
    }
    return std::nullopt;
  }
  static const std::map<std::string, Field>* const kContactFields =
      new std::map<std::string, Field>{
          {"first_name", Field::kFirstName}, {"last_name", Field::kLastName},
          {"phone", Field::kPhones},         {"phones", Field::kPhones},
          {"email", Field::kEmails},         {"emails", Field::kEmails}};
  if (auto it = kContactFields->find(name); it != kContactFields->end()) {
    target.field = it->second;
    return target;
  }
  return std::nullopt;
}

std::string FieldNames(ImportKind kind) {
  return kind == ImportKind::kLeads
             ? "name, price, pipeline_id, status_id, responsible_user_id, tags, contact_ids, "
               "cf:CODE, cf:ID or - (skip)"
             : "name, first_name, last_name, phone, email, responsible_user_id or - (skip)";
}

std::string FieldText(const ColumnTarget& target) {
  switch (target.field) {
    case Field::kIgnore:
      return "-";
    case Field::kName:
      return "name";
    case Field::kPrice:
      return "price";
    case Field::kPipelineId:
      return "pipeline_id";
    case Field::kStatusId:
      return "status_id";
    case Field::kResponsibleUserId:
      return "responsible_user_id";
    case Field::kTags:
      return "tags";
    case Field::kContactIds:
      return "contact_ids";
    case Field::kCustomField:
      return "cf:" + target.custom_field;
    case Field::kFirstName:
      return "first_name";
    case Field::kLastName:
      return "last_name";
    case Field::kPhones:
      return "phones";
    case Field::kEmails:
      return "emails";
  }
  return "-";
}

// Fields a column may set more than once (several columns add values).
bool IsMultiValued(Field field) {
  return field == Field::kTags || field == Field::kContactIds || field == Field::kCustomField ||
         field == Field::kPhones || field == Field::kEmails;
}

// A positive id or a whole number ≥ 0 (price).
absl::Status ParseWhole(absl::string_view column, absl::string_view cell, bool positive,
                        int64_t* out) {
  if (!absl::SimpleAtoi(cell, out) || (positive ? *out <= 0 : *out < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", column, ": \"", cell, "\" is not ",
                     positive ? "an id (a whole number above 0)" : "a whole number, 0 or more"));
  }
  return absl::OkStatus();
}

std::vector<std::string> SplitValues(absl::string_view cell) {
  std::vector<std::string> values;
  for (absl::string_view part : absl::StrSplit(cell, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) values.emplace_back(part);
  }
  return values;
}

}  // namespace

std::string ColumnMapping::Canonical() const {
  std::vector<std::string> parts;
  for (const ColumnTarget& column : columns) parts.push_back(FieldText(column));
  return absl::StrJoin(parts, ",");
}

absl::StatusOr<ColumnMapping> BuildColumnMapping(
    ImportKind kind, const std::vector<std::string>* header, size_t column_count,
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  ColumnMapping mapping;
  mapping.columns.resize(column_count);
  std::vector<bool> overridden(column_count, false);
  for (const auto& [key, value] : overrides) {
    std::optional<ColumnTarget> target = ParseFieldName(kind, value);
    if (!target) {
      return absl::InvalidArgumentError(absl::StrCat("--column ", key, "=", value, ": \"", value,
                                                     "\" is not one of ", FieldNames(kind)));
    }
    std::optional<size_t> column;
    if (header != nullptr) {
      for (size_t i = 0; i < header->size(); ++i) {
        if (absl::StripAsciiWhitespace((*header)[i]) == absl::StripAsciiWhitespace(key)) {
          column = i;
          break;
        }
      }
    }
    size_t number = 0;
    if (!column && absl::SimpleAtoi(key, &number) && number >= 1 && number <= column_count) {
      column = number - 1;
    }
    if (!column) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--column ", key, "=", value, ": no column ",
          header != nullptr ? "is headed \"" + key + "\" and there is no column number " + key
                            : "number " + key,
          " (the file has ", column_count, " columns)"));
    }
    if (overridden[*column]) {
      return absl::InvalidArgumentError(
          absl::StrCat("--column: column ", *column + 1, " is given twice"));
    }
    overridden[*column] = true;
    mapping.columns[*column] = *target;
  }
  for (size_t i = 0; i < column_count; ++i) {
    if (overridden[i] || header == nullptr) continue;
    const std::string& name = i < header->size() ? (*header)[i] : std::string();
    std::optional<ColumnTarget> target = ParseFieldName(kind, name);
    if (!target) {
      return absl::InvalidArgumentError(absl::StrCat("column ", i + 1, " is headed \"", name,
                                                     "\", which is not one of ", FieldNames(kind),
                                                     ": rename it, or map it with --column '", name,
                                                     "=FIELD' (--column '", name, "=-' skips it)"));
    }
    mapping.columns[i] = *target;
  }
  std::set<std::string> single;
  bool has_name = false;
  bool has_match = false;
  for (const ColumnTarget& column : mapping.columns) {
    if (column.field == Field::kIgnore) continue;
    has_name = has_name || column.field == Field::kName;
    has_match = has_match || column.field == Field::kPhones || column.field == Field::kEmails;
    if (!IsMultiValued(column.field) && !single.insert(FieldText(column)).second) {
      return absl::InvalidArgumentError(absl::StrCat("two columns set ", FieldText(column),
                                                     "; skip one with --column 'HEADER=-'"));
    }
  }
  if (kind == ImportKind::kLeads && !has_name) {
    return absl::InvalidArgumentError(
        "no column sets the lead's name: head one \"name\" or give --column 'HEADER=name'");
  }
  if (kind == ImportKind::kContacts && !has_match) {
    return absl::InvalidArgumentError(
        "no column sets a phone or an email, which FindOrCreateContact matches contacts by: head "
        "one \"phone\" or \"email\", or give --column 'HEADER=phone'");
  }
  return mapping;
}

absl::StatusOr<std::unique_ptr<Message>> BuildRowRequest(
    ImportKind kind, const ColumnMapping& mapping, const std::vector<std::string>& header_names,
    const CsvRecord& record, const std::string& request_id, const RowOptions& options) {
  if (!record.error.empty()) return absl::InvalidArgumentError(record.error);
  if (record.fields.size() != mapping.columns.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the row has ", record.fields.size(),
                                                   " fields; the file's rows have ",
                                                   mapping.columns.size()));
  }
  auto lead = std::make_unique<v1::CreateLeadRequest>();
  auto contact = std::make_unique<v1::FindOrCreateContactRequest>();
  v1::NewContact& person = *contact->mutable_contact();
  for (size_t i = 0; i < mapping.columns.size(); ++i) {
    const ColumnTarget& target = mapping.columns[i];
    const absl::string_view cell = absl::StripAsciiWhitespace(record.fields[i]);
    if (target.field == Field::kIgnore || cell.empty()) continue;
    const std::string column = i < header_names.size() && !header_names[i].empty()
                                   ? absl::StrCat(i + 1, " (", header_names[i], ")")
                                   : absl::StrCat(i + 1);
    int64_t number = 0;
    switch (target.field) {
      case Field::kIgnore:
        break;
      case Field::kName:
        (kind == ImportKind::kLeads ? *lead->mutable_name() : *person.mutable_name()) =
            std::string(cell);
        break;
      case Field::kPrice:
        if (absl::Status s = ParseWhole(column, cell, false, &number); !s.ok()) return s;
        lead->set_price(number);
        break;
      case Field::kPipelineId:
        if (absl::Status s = ParseWhole(column, cell, true, &number); !s.ok()) return s;
        lead->set_pipeline_id(number);
        break;
      case Field::kStatusId:
        if (absl::Status s = ParseWhole(column, cell, true, &number); !s.ok()) return s;
        lead->set_status_id(number);
        break;
      case Field::kResponsibleUserId:
        if (absl::Status s = ParseWhole(column, cell, true, &number); !s.ok()) return s;
        if (kind == ImportKind::kLeads) {
          lead->set_responsible_user_id(number);
        } else {
          person.set_responsible_user_id(number);
        }
        break;
      case Field::kTags:
        for (std::string& tag : SplitValues(cell)) lead->add_tags_to_add(std::move(tag));
        break;
      case Field::kContactIds:
        for (const std::string& id : SplitValues(cell)) {
          if (absl::Status s = ParseWhole(column, id, true, &number); !s.ok()) return s;
          lead->add_contact_ids(number);
        }
        break;
      case Field::kCustomField: {
        v1::CustomFieldValues* values = nullptr;
        int64_t id = 0;
        const bool by_id = absl::SimpleAtoi(target.custom_field, &id);
        for (v1::CustomFieldValues& each : *lead->mutable_custom_fields()) {
          if (by_id ? each.field_id() == id : each.field_code() == target.custom_field) {
            values = &each;
          }
        }
        if (values == nullptr) {
          values = lead->add_custom_fields();
          if (by_id) {
            values->set_field_id(id);
          } else {
            values->set_field_code(target.custom_field);
          }
        }
        const std::string error = ParseFieldValue("", std::string(cell), values->add_values());
        if (!error.empty()) {
          // ParseFieldValue names the flag ("--: ..."); here the column is what to name.
          return absl::InvalidArgumentError(
              absl::StrCat("column ", column, ": ", absl::StripPrefix(error, "--: ")));
        }
        break;
      }
      case Field::kFirstName:
        person.set_first_name(std::string(cell));
        break;
      case Field::kLastName:
        person.set_last_name(std::string(cell));
        break;
      case Field::kPhones:
        for (std::string& phone : SplitValues(cell)) person.add_phones(std::move(phone));
        break;
      case Field::kEmails:
        for (std::string& email : SplitValues(cell)) person.add_emails(std::move(email));
        break;
    }
  }
  if (kind == ImportKind::kLeads) {
    lead->set_request_id(request_id);
    return std::unique_ptr<Message>(std::move(lead));
  }
  if (person.phones().empty() && person.emails().empty()) {
    return absl::InvalidArgumentError("the row has no phone and no email to match the contact by");
  }
  contact->set_request_id(request_id);
  contact->set_add_missing(options.add_missing);
  return std::unique_ptr<Message>(std::move(contact));
}

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

std::string ImportIdentity(absl::string_view file_bytes, ImportKind kind,
                           const ColumnMapping& mapping, const RowOptions& options) {
  return Sha256Hex(absl::StrCat(Sha256Hex(file_bytes), "\n", KindName(kind), "\n",
                                mapping.Canonical(), options.add_missing ? "\nadd_missing" : ""));
}

std::string RowRequestId(ImportKind kind, const std::string& identity, int64_t line) {
  return absl::StrCat("imp-", kind == ImportKind::kLeads ? "l" : "c", "-", identity.substr(0, 24),
                      "-", line);
}

namespace {

const char* StateName(JournalEntry::State state) {
  switch (state) {
    case JournalEntry::State::kCreated:
      return "created";
    case JournalEntry::State::kMatched:
      return "matched";
    case JournalEntry::State::kRejected:
      return "rejected";
    case JournalEntry::State::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace

std::string JournalHeader(ImportKind kind, const std::string& file_sha256,
                          const std::string& identity) {
  return absl::StrCat(kJournalMagic, " kind=", KindName(kind), " file_sha256=", file_sha256,
                      " identity=", identity, "\n");
}

std::string JournalLine(const JournalEntry& entry) {
  return absl::StrCat(entry.line, "\t", StateName(entry.state), "\t", entry.request_id, "\t",
                      entry.id, "\n");
}

absl::StatusOr<std::map<int64_t, JournalEntry>> ParseJournal(absl::string_view text,
                                                             ImportKind kind,
                                                             const std::string& file_sha256,
                                                             const std::string& identity) {
  std::map<int64_t, JournalEntry> entries;
  const size_t last_newline = text.rfind('\n');
  if (last_newline == absl::string_view::npos) return entries;  // not even a whole header
  text = text.substr(0, last_newline);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  std::map<std::string, std::string> header;
  absl::string_view first = lines[0];
  if (!absl::ConsumePrefix(&first, kJournalMagic)) {
    return absl::FailedPreconditionError("the journal does not start with \"" +
                                         std::string(kJournalMagic) + "\"");
  }
  for (absl::string_view part : absl::StrSplit(first, ' ', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    header[kv.first] = kv.second;
  }
  if (header["kind"] != KindName(kind)) {
    return absl::FailedPreconditionError(absl::StrCat("the journal belongs to a `", header["kind"],
                                                      " import` of this file, not `",
                                                      KindName(kind), " import`"));
  }
  if (header["file_sha256"] != file_sha256) {
    return absl::FailedPreconditionError(
        "the file changed since the journal was written (its SHA-256 differs): restore the file "
        "to finish that import, or move the journal away to import the file as a new one (rows "
        "the old journal lists would then be created again)");
  }
  if (header["identity"] != identity) {
    return absl::FailedPreconditionError(
        "the journal was written with another column mapping or options (--column, "
        "--no_header, --delimiter, --add_missing): run the import with the same flags as before, "
        "or move the journal away to "
        "start over (rows it lists would then be created again)");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<absl::string_view> parts = absl::StrSplit(lines[i], '\t');
    JournalEntry entry;
    bool ok = parts.size() == 4 && absl::SimpleAtoi(parts[0], &entry.line) &&
              absl::SimpleAtoi(parts[3], &entry.id);
    if (ok) {
      entry.request_id = std::string(parts[2]);
      if (parts[1] == "created") {
        entry.state = JournalEntry::State::kCreated;
      } else if (parts[1] == "matched") {
        entry.state = JournalEntry::State::kMatched;
      } else if (parts[1] == "rejected") {
        entry.state = JournalEntry::State::kRejected;
      } else if (parts[1] == "unknown") {
        entry.state = JournalEntry::State::kUnknown;
      } else {
        ok = false;
      }
    }
    if (!ok) {
      return absl::FailedPreconditionError(absl::StrCat(
          "line ", i + 1, " of the journal is not LINE<TAB>STATE<TAB>REQUEST_ID<TAB>ID"));
    }
    entries[entry.line] = std::move(entry);
  }
  return entries;
}

// --- command line --------------------------------------------------------------------------------

bool IsImportCommandLine(const std::vector<std::string>& args) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if ((args[i] == "leads" || args[i] == "contacts") && args[i + 1] == "import") return true;
  }
  return false;
}

namespace {

constexpr char kImportFlagsHelp[] =
    "  --column=KEY=FIELD      column KEY (its header, or its number from 1) sets FIELD; repeat\n"
    "                          for more. FIELD \"-\" skips the column\n"
    "  --no_header             the first row is data: map the columns by number with --column\n"
    "  --delimiter=C           the field separator: one character, \\t for a tab (default ,)\n"
    "  --concurrency=N         calls in flight, 1 to 500 (default 100): the server fills its\n"
    "                          batches from them and paces them to the account's budget\n"
    "  --deadline=DURATION     each attempt's deadline (default 60s)\n"
    "  --max_attempts=N        attempts per row while nothing was written, 1 to 20 (default 8)\n"
    "  --progress=MODE         auto (a bar on a terminal, else a line every 5 s), bar, lines, off\n"
    "  --target=HOST:PORT      the kommo-grpc server (default: $KOMMO_GRPC_TARGET, else\n"
    "                          localhost:50051)\n"
    "  --tls, --tls_ca=FILE, --tls_cert=FILE, --tls_key=FILE, --tls_server_name=NAME,\n"
    "  --token_file=FILE       reach the server over TLS / mTLS, with a bearer token (else\n"
    "                          $KOMMO_GRPC_TOKEN), as every other verb (kommo-cli --help)\n"
    "  --account=NAME          the Kommo account the rows go to (x-kommo-account; default: the\n"
    "                          server's default account)\n"
    "  --json                  print the summary as one line of JSON\n";

}  // namespace

std::string ImportHelp(ImportKind kind) {
  const bool leads = kind == ImportKind::kLeads;
  return absl::StrCat(
      "Usage: kommo-cli ", KindName(kind), " import FILE.csv [--column=KEY=FIELD ...] [flags]\n\n",
      leads ? "Creates one lead per row (kommo.v1.LeadService/CreateLead)"
            : "Finds or creates one contact per row (kommo.v1.ContactService/FindOrCreateContact: "
              "a person already in Kommo, by phone or email, is not added again)",
      ", many calls in flight, at the pace the server allows.\n\n"
      "The header row names each column's field: ",
      FieldNames(kind),
      leads ? ". tags and contact_ids take several values separated by ';'. A cf: value is typed "
              "as `leads create --field` values are (a number, true/false, a date, else text; "
              "or a prefix such as enum:ID).\n"
            : ". phone and email take several values separated by ';'.\n",
      "\nResuming: each row's call carries a request_id from the file's SHA-256 and the row's "
      "line, and finished rows go to FILE.journal; run the same command again after an "
      "interruption and nothing is created twice. Rows refused go to FILE.rejects.csv with the "
      "reason (also rows whose outcome is unknown: check those in Kommo).\n\n"
      "Flags:\n",
      kImportFlagsHelp,
      leads ? "" : "  --add_missing           add the phones and emails a matched contact lacks\n",
      "\nExit codes: 0 every row imported, 3 some rows rejected or in doubt (see the reject "
      "file), 2 usage error, 1 a local failure, 10 + the gRPC code when the server stopped the "
      "import (run it again to go on).\n");
}

ImportInvocation ParseImportCommandLine(const std::vector<std::string>& args,
                                        const char* env_target) {
  ImportInvocation out;
  out.target = env_target != nullptr && env_target[0] != '\0' ? env_target : kDefaultTarget;
  bool seen_command = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!seen_command && (arg == "leads" || arg == "contacts") && i + 1 < args.size() &&
        args[i + 1] == "import") {
      out.kind = arg == "leads" ? ImportKind::kLeads : ImportKind::kContacts;
      seen_command = true;
      ++i;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      out.help = true;
      continue;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      if (!out.file.empty()) {
        out.error = absl::StrCat("unexpected argument \"", arg, "\": give one FILE");
        return out;
      }
      out.file = arg;
      continue;
    }
    std::string name =
        arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
    std::replace(name.begin(), name.end(), '-', '_');
    std::string value;
    const bool is_switch =
        name == "json" || name == "no_header" || name == "add_missing" || name == "tls";
    if (arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
    } else if (!is_switch) {
      if (i + 1 >= args.size()) {
        out.error = absl::StrCat("--", name, " needs a value");
        return out;
      }
      value = args[++i];
    } else {
      value = "true";
    }
    bool on = false;
    if (is_switch && !absl::SimpleAtob(value, &on)) {
      out.error = absl::StrCat("--", name, ": \"", value, "\" is not true or false");
      return out;
    }
    if (std::string problem; ApplyConnectionFlag(name, value, arg.find('=') != std::string::npos,
                                                 &out.tls, &out.token_file, &problem)) {
      if (!problem.empty()) {
        out.error = problem;
        return out;
      }
    } else if (name == "json") {
      out.json = on;
    } else if (name == "no_header") {
      out.has_header = !on;
    } else if (name == "add_missing") {
      out.row.add_missing = on;
    } else if (name == "account") {
      if (!ValidAccountFlag(value, &out.error)) return out;
      out.account = value;
    } else if (name == "target") {
      if (value.empty()) {
        out.error = "--target: empty address";
        return out;
      }
      out.target = value;
    } else if (name == "column") {
      const size_t equals = value.rfind('=');
      if (equals == std::string::npos || equals == 0 || equals + 1 == value.size()) {
        out.error = absl::StrCat("--column: \"", value, "\" is not KEY=FIELD");
        return out;
      }
      out.columns.emplace_back(value.substr(0, equals), value.substr(equals + 1));
    } else if (name == "delimiter") {
      if (value == "\\t" || value == "tab") value = "\t";
      if (value.size() != 1 || value == "\"" || value == "\r" || value == "\n") {
        out.error = absl::StrCat("--delimiter: \"", value, "\" is not one character");
        return out;
      }
      out.delimiter = value[0];
    } else if (name == "concurrency") {
      if (!absl::SimpleAtoi(value, &out.concurrency) || out.concurrency < 1 ||
          out.concurrency > 500) {
        out.error = absl::StrCat("--concurrency: \"", value, "\" is not a number from 1 to 500");
        return out;
      }
    } else if (name == "max_attempts") {
      if (!absl::SimpleAtoi(value, &out.max_attempts) || out.max_attempts < 1 ||
          out.max_attempts > 20) {
        out.error = absl::StrCat("--max_attempts: \"", value, "\" is not a number from 1 to 20");
        return out;
      }
    } else if (name == "deadline") {
      absl::Duration deadline;
      if (!absl::ParseDuration(value, &deadline) || deadline <= absl::ZeroDuration() ||
          deadline == absl::InfiniteDuration()) {
        out.error = absl::StrCat("--deadline: \"", value,
                                 "\" is not a positive duration such as 10s, 500ms or 2m");
        return out;
      }
      out.deadline = std::chrono::milliseconds(std::max<int64_t>(
          1, absl::ToInt64Milliseconds(absl::Ceil(deadline, absl::Milliseconds(1)))));
    } else if (name == "progress") {
      if (value == "auto") {
        out.progress = ImportInvocation::Progress::kAuto;
      } else if (value == "bar") {
        out.progress = ImportInvocation::Progress::kBar;
      } else if (value == "lines") {
        out.progress = ImportInvocation::Progress::kLines;
      } else if (value == "off") {
        out.progress = ImportInvocation::Progress::kOff;
      } else {
        out.error = absl::StrCat("--progress: \"", value, "\" is not auto, bar, lines or off");
        return out;
      }
    } else {
      out.error = absl::StrCat("unknown flag --", name, " for \"", KindName(out.kind),
                               " import\" (see --help)");
      return out;
    }
  }
  if (!seen_command) {
    out.error = "\"leads import\" or \"contacts import\" expected";
  } else if (!out.help && out.file.empty()) {
    out.error = absl::StrCat("\"", KindName(out.kind), " import\" needs a FILE (a CSV file)");
  }
  return out;
}

// --- the run -------------------------------------------------------------------------------------

namespace {

using SteadyClock = std::chrono::steady_clock;

// A file opened for appending whose writes are made durable by Sync().
class AppendFile {
 public:
  ~AppendFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool is_open() const { return fd_ >= 0; }
  // Opens `path` (created when missing); `empty` tells whether it holds nothing yet.
  absl::Status Open(const std::string& path, bool* empty = nullptr) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
    }
    struct stat info {};
    if (empty != nullptr) *empty = ::fstat(fd_, &info) == 0 && info.st_size == 0;
    return absl::OkStatus();
  }
  absl::Status Append(absl::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(fd_, text.data(), text.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return absl::InternalError(
            absl::StrCat("cannot write ", path_, ": ", std::strerror(errno)));
      }
      text.remove_prefix(static_cast<size_t>(n));
    }
    dirty_ = true;
    return absl::OkStatus();
  }
  absl::Status Sync() {
    if (!dirty_ || fd_ < 0) return absl::OkStatus();
    dirty_ = false;
    if (::fsync(fd_) != 0) {
      return absl::InternalError(absl::StrCat("cannot sync ", path_, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool dirty_ = false;
};

absl::StatusOr<std::string> ReadFile(const std::string& path, bool missing_ok) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    if (missing_ok && errno == ENOENT) return std::string();
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  std::string text;
  char buffer[65536];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxFileBytes) {
      std::fclose(file);
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is larger than ", kMaxFileBytes >> 20, " MiB: split it"));
    }
  }
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return absl::InternalError(absl::StrCat("cannot read ", path));
  return text;
}

// One line of a status for the reject file: the code, the reason, the message and the fields.
std::string OneLine(const grpc::Status& status) {
  std::string text = kommo::client::FormatError(status);
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (std::string& line : lines) line = std::string(absl::StripAsciiWhitespace(line));
  return absl::StrJoin(lines, "; ");
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::ceil(seconds));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m", s % 60 < 10 ? "0" : "", s % 60, "s");
  return absl::StrCat(s / 3600, "h", (s % 3600) / 60 < 10 ? "0" : "", (s % 3600) / 60, "m");
}

class Importer {
 public:
  Importer(const ImportInvocation& invocation, std::vector<CsvRecord> records,
           std::vector<std::string> header, ColumnMapping mapping, std::string identity)
      : invocation_(invocation),
        records_(std::move(records)),
        header_(std::move(header)),
        mapping_(std::move(mapping)),
        identity_(std::move(identity)),
        random_(std::random_device{}()) {}

  int Run(std::map<int64_t, JournalEntry> journaled, AppendFile* journal);

 private:
  struct Call {
    size_t index = 0;
    grpc::ClientContext context;
    std::unique_ptr<Message> request;
    std::unique_ptr<Message> response;
    grpc::Status status;
  };
  struct Pending {
    size_t index = 0;
    std::unique_ptr<Message> request;
    int attempts = 0;
  };

  void Start(Pending pending);
  void Finish(std::unique_ptr<Call> call);
  absl::Status Record(const CsvRecord& record, const JournalEntry& entry,
                      const std::string& reject_reason);
  void ShowProgress(bool final);

  const ImportInvocation& invocation_;
  const std::vector<CsvRecord> records_;
  const std::vector<std::string> header_;
  const ColumnMapping mapping_;
  const std::string identity_;
  std::mt19937_64 random_;

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LeadService::Stub> leads_;
  std::unique_ptr<v1::ContactService::Stub> contacts_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Call>> done_;  // guarded by mu_
  int in_flight_ = 0;                        // guarded by mu_

  // The main thread's own state.
  std::map<size_t, int> attempts_;  // by record index
  std::multimap<SteadyClock::time_point, Pending> retries_;
  AppendFile* journal_ = nullptr;
  AppendFile rejects_;  // opened at the first reject
  grpc::Status fatal_;
  int64_t fatal_line_ = 0;
  absl::Status local_error_;
  int64_t total_ = 0, skipped_ = 0, created_ = 0, matched_ = 0, rejected_ = 0, unknown_ = 0;
  int64_t done_this_run_ = 0;
  SteadyClock::time_point started_ = SteadyClock::now();
  SteadyClock::time_point last_progress_{};
  bool bar_ = false;
  bool lines_ = false;
};

void Importer::Start(Pending pending) {
  auto call = std::make_unique<Call>();
  call->index = pending.index;
  call->request = std::move(pending.request);
  call->context.set_deadline(std::chrono::system_clock::now() + invocation_.deadline);
  attempts_[pending.index] = pending.attempts + 1;
  Call* raw = call.release();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  auto done = [this, raw](grpc::Status status) {
    raw->status = std::move(status);
    std::lock_guard<std::mutex> lock(mu_);
    done_.emplace_back(raw);
    --in_flight_;
    cv_.notify_one();
  };
  if (invocation_.kind == ImportKind::kLeads) {
    auto* response = new v1::CreateLeadResponse;
    raw->response.reset(response);
    leads_->async()->CreateLead(&raw->context,
                                static_cast<const v1::CreateLeadRequest*>(raw->request.get()),
                                response, std::move(done));
  } else {
    auto* response = new v1::FindOrCreateContactResponse;
    raw->response.reset(response);
    contacts_->async()->FindOrCreateContact(
        &raw->context, static_cast<const v1::FindOrCreateContactRequest*>(raw->request.get()),
        response, std::move(done));
  }
}

absl::Status Importer::Record(const CsvRecord& record, const JournalEntry& entry,
                              const std::string& reject_reason) {
  if (!reject_reason.empty()) {
    // The reject line goes first: a journaled reject always has its line in the reject file.
    if (!rejects_.is_open()) {
      bool empty = false;
      if (absl::Status s = rejects_.Open(invocation_.file + ".rejects.csv", &empty); !s.ok()) {
        return s;
      }
      if (empty) {
        std::vector<std::string> names = header_;
        names.resize(std::max(names.size(), mapping_.columns.size()));
        names.push_back("reject_line");
        names.push_back("reject_reason");
        if (absl::Status s = rejects_.Append(FormatCsvRecord(names, invocation_.delimiter));
            !s.ok()) {
          return s;
        }
      }
    }
    std::vector<std::string> fields = record.fields;
    fields.resize(std::max(fields.size(), mapping_.columns.size()));
    fields.push_back(absl::StrCat(entry.line));
    fields.push_back(reject_reason);
    if (absl::Status s = rejects_.Append(FormatCsvRecord(fields, invocation_.delimiter)); !s.ok()) {
      return s;
    }
  }
  ++done_this_run_;
  switch (entry.state) {
    case JournalEntry::State::kCreated:
      ++created_;
      break;
    case JournalEntry::State::kMatched:
      ++matched_;
      break;
    case JournalEntry::State::kRejected:
      ++rejected_;
      break;
    case JournalEntry::State::kUnknown:
      ++unknown_;
      break;
  }
  return journal_->Append(JournalLine(entry));
}

void Importer::Finish(std::unique_ptr<Call> call) {
  const CsvRecord& record = records_[call->index];
  JournalEntry entry;
  entry.line = record.line;
  entry.request_id = RowRequestId(invocation_.kind, identity_, record.line);
  const grpc::Status& status = call->status;
  absl::Status written;
  if (status.ok()) {
    if (invocation_.kind == ImportKind::kLeads) {
      entry.id = static_cast<const v1::CreateLeadResponse&>(*call->response).lead().id();
    } else {
      const auto& response = static_cast<const v1::FindOrCreateContactResponse&>(*call->response);
      entry.id = response.contact().id();
      if (response.outcome() == v1::FindOrCreateContactResponse::OUTCOME_MATCHED) {
        entry.state = JournalEntry::State::kMatched;
      }
    }
    written = Record(record, entry, "");
  } else {
    const grpc::StatusCode code = status.error_code();
    const v1::ErrorReason reason = kommo::client::ReasonOf(status);
    std::optional<google::rpc::ErrorInfo> info = kommo::client::GetErrorInfo(status);
    const bool running =
        info && info->metadata().count("running") > 0 && info->metadata().at("running") == "true";
    const bool retryable = code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                           code == grpc::StatusCode::UNAVAILABLE ||
                           code == grpc::StatusCode::DEADLINE_EXCEEDED ||
                           code == grpc::StatusCode::CANCELLED || code == grpc::StatusCode::ABORTED;
    const bool row_refused =
        code == grpc::StatusCode::INVALID_ARGUMENT || code == grpc::StatusCode::NOT_FOUND ||
        code == grpc::StatusCode::ALREADY_EXISTS || code == grpc::StatusCode::OUT_OF_RANGE ||
        (code == grpc::StatusCode::FAILED_PRECONDITION &&
         reason == v1::ERROR_REASON_CONTACT_AMBIGUOUS);
    if (reason == v1::ERROR_REASON_WRITE_OUTCOME_UNKNOWN && !running) {
      // The server itself does not know whether Kommo wrote it: repeating the same request_id
      // gets this answer again, and a new one may duplicate the row. A person decides.
      entry.state = JournalEntry::State::kUnknown;
      written = Record(record, entry,
                       absl::StrCat("outcome unknown, it may exist in Kommo: check before "
                                    "importing this row again (request_id ",
                                    entry.request_id, "): ", OneLine(status)));
    } else if (row_refused) {
      entry.state = JournalEntry::State::kRejected;
      written = Record(record, entry, OneLine(status));
    } else if (retryable && attempts_[call->index] < invocation_.max_attempts) {
      // Nothing was written yet, or the server still runs the call: the same request_id again
      // learns its outcome and never writes twice.
      std::chrono::milliseconds wait;
      if (std::optional<std::chrono::milliseconds> hint = kommo::client::GetRetryDelay(status)) {
        wait = *hint;
      } else {
        const int attempts = attempts_[call->index];
        const auto cap = std::min<std::chrono::milliseconds>(
            kMaxBackoff, std::chrono::milliseconds(200) * (1 << std::min(attempts, 10)));
        wait = std::chrono::milliseconds(
            std::uniform_int_distribution<int64_t>(cap.count() / 2, cap.count())(random_));
      }
      Pending pending{call->index, std::move(call->request), attempts_[call->index]};
      retries_.emplace(SteadyClock::now() + wait, std::move(pending));
      return;
    } else {
      // The import cannot go on (the server's token, an outage longer than the attempts): stop,
      // leave the row unjournaled, and let a later run send it again with its request_id.
      if (fatal_.ok()) {
        fatal_ = status;
        fatal_line_ = record.line;
      }
      return;
    }
  }
  if (!written.ok() && local_error_.ok()) local_error_ = written;
}

void Importer::ShowProgress(bool final) {
  if (!bar_ && !lines_) return;
  const auto now = SteadyClock::now();
  const auto every = bar_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  if (!final && now - last_progress_ < every) return;
  last_progress_ = now;
  const int64_t done = skipped_ + created_ + matched_ + rejected_ + unknown_;
  const double seconds = std::chrono::duration<double>(now - started_).count();
  const double rate = seconds > 0 ? done_this_run_ / seconds : 0;
  const int64_t left = total_ - done;
  const std::string eta = left == 0 ? "0s" : rate > 0 ? FormatDuration(left / rate) : "?";
  const std::string counts = absl::StrCat(
      done, "/", total_, " rows  ", absl::StrFormat("%.1f", rate), "/s  ",
      left == 0 ? "done" : "ETA " + eta,
      rejected_ + unknown_ > 0 ? absl::StrCat("  ", rejected_ + unknown_, " rejected") : "");
  if (bar_) {
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
    const std::string line =
        absl::StrCat("\r\033[K[", std::string(filled, '#'), std::string(kWidth - filled, '.'), "] ",
                     counts, final ? "\n" : "");
    std::fwrite(line.data(), 1, line.size(), stderr);
  } else {
    const std::string line =
        absl::StrCat("kommo-cli: ", KindName(invocation_.kind), " import: ", counts, "\n");
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  std::fflush(stderr);
}

int Importer::Run(std::map<int64_t, JournalEntry> journaled, AppendFile* journal) {
  journal_ = journal;
  using Progress = ImportInvocation::Progress;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  bar_ = invocation_.progress == Progress::kBar || (invocation_.progress == Progress::kAuto && tty);
  lines_ =
      invocation_.progress == Progress::kLines || (invocation_.progress == Progress::kAuto && !tty);

  std::string setup_error;
  kommo::client::ChannelOptions options =
      ConnectionOptions(invocation_.tls, invocation_.token_file,
                        std::getenv(kTokenEnvironmentVariable), &setup_error);
  if (!setup_error.empty()) {
    std::fprintf(stderr, "kommo-cli: %s\n", setup_error.c_str());
    return kExitUsage;
  }
  options.account = invocation_.account;
  options.retry.max_attempts = 1;  // retried here, per row, with its request_id
  channel_ = kommo::client::CreateChannel(invocation_.target, options);
  leads_ = std::make_unique<v1::LeadService::Stub>(channel_);
  contacts_ = std::make_unique<v1::ContactService::Stub>(channel_);

  std::deque<size_t> fresh;
  total_ = static_cast<int64_t>(records_.size());
  for (size_t i = 0; i < records_.size(); ++i) {
    if (journaled.count(records_[i].line) > 0) {
      ++skipped_;
    } else {
      fresh.push_back(i);
    }
  }
  started_ = SteadyClock::now();
  auto last_sync = SteadyClock::now();
  for (;;) {
    const bool stopping = !fatal_.ok() || !local_error_.ok();
    // Start what may start: retries whose time came first, then fresh rows.
    while (!stopping) {
      int in_flight;
      {
        std::lock_guard<std::mutex> lock(mu_);
        in_flight = in_flight_;
      }
      if (in_flight >= invocation_.concurrency) break;
      if (!retries_.empty() && retries_.begin()->first <= SteadyClock::now()) {
        Pending pending = std::move(retries_.begin()->second);
        retries_.erase(retries_.begin());
        Start(std::move(pending));
        continue;
      }
      if (fresh.empty()) break;
      const size_t index = fresh.front();
      fresh.pop_front();
      const CsvRecord& record = records_[index];
      const std::string request_id = RowRequestId(invocation_.kind, identity_, record.line);
      absl::StatusOr<std::unique_ptr<Message>> request =
          BuildRowRequest(invocation_.kind, mapping_, header_, record, request_id, invocation_.row);
      if (!request.ok()) {
        JournalEntry entry{record.line, JournalEntry::State::kRejected, request_id, 0};
        if (absl::Status s = Record(record, entry, std::string(request.status().message()));
            !s.ok()) {
          local_error_ = s;
        }
        continue;
      }
      Start(Pending{index, std::move(*request), 0});
    }
    // Wait for answers, the next retry, or the next progress tick.
    std::vector<std::unique_ptr<Call>> finished;
    int in_flight;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto wake = SteadyClock::now() + std::chrono::milliseconds(200);
      if (!retries_.empty() && !stopping) wake = std::min(wake, retries_.begin()->first);
      cv_.wait_until(lock, wake, [&] { return !done_.empty(); });
      finished.swap(done_);
      in_flight = in_flight_;
    }
    for (std::unique_ptr<Call>& call : finished) Finish(std::move(call));
    const bool idle = in_flight == 0 && finished.empty();
    const bool all_done = fresh.empty() && retries_.empty();
    if (SteadyClock::now() - last_sync >= kJournalSyncEvery || (idle && (all_done || stopping))) {
      // The reject file first: a journaled reject always has its line there.
      absl::Status s = rejects_.Sync();
      if (s.ok()) s = journal_->Sync();
      if (!s.ok() && local_error_.ok()) local_error_ = s;
      last_sync = SteadyClock::now();
    }
    ShowProgress(false);
    if (idle && (all_done || !fatal_.ok() || !local_error_.ok())) break;
  }
  ShowProgress(true);

  const std::string kind = KindName(invocation_.kind);
  if (!local_error_.ok()) {
    const std::string line =
        absl::StrCat("kommo-cli: ", kind, " import: ", local_error_.message(), "\n");
    std::fwrite(line.data(), 1, line.size(), stderr);
    return kExitLocalError;
  }
  const std::string rejects_path = invocation_.file + ".rejects.csv";
  std::string summary;
  if (invocation_.json) {
    summary = absl::StrCat(
        "{\"file\":\"", absl::StrReplaceAll(invocation_.file, {{"\\", "\\\\"}, {"\"", "\\\""}}),
        "\",\"rows\":", total_, ",\"created\":", created_, ",\"matched\":", matched_,
        ",\"skipped\":", skipped_, ",\"rejected\":", rejected_, ",\"unknown\":", unknown_,
        ",\"remaining\":", total_ - skipped_ - created_ - matched_ - rejected_ - unknown_,
        ",\"complete\":", fatal_.ok() ? "true" : "false", "}\n");
  } else {
    summary = absl::StrCat(
        kind, " import of ", invocation_.file, ": ", total_, " rows; ", created_, " created",
        invocation_.kind == ImportKind::kContacts ? absl::StrCat(", ", matched_, " matched") : "",
        ", ", skipped_, " done before (journal), ", rejected_, " rejected, ", unknown_,
        " outcome unknown",
        rejected_ + unknown_ > 0 ? absl::StrCat(" (see ", rejects_path, ")") : "", "\n");
  }
  std::fwrite(summary.data(), 1, summary.size(), stdout);
  std::fflush(stdout);
  if (!fatal_.ok()) {
    const std::string line = absl::StrCat(
        "kommo-cli: ", kind, " import stopped at line ", fatal_line_, ": ",
        kommo::client::FormatError(fatal_),
        "\nRun the same command again to go on: finished rows are skipped; the others are sent "
        "again with the same request_id, so none is created twice.\n");
    std::fwrite(line.data(), 1, line.size(), stderr);
    return ExitCodeFor(fatal_.error_code());
  }
  return rejected_ + unknown_ > 0 ? kExitRowsRejected : kExitOk;
}

}  // namespace

int RunImport(const ImportInvocation& invocation) {
  const std::string kind = KindName(invocation.kind);
  auto fail = [&](int code, absl::string_view message) {
    const std::string line = absl::StrCat("kommo-cli: ", kind, " import: ", message, "\n");
    std::fwrite(line.data(), 1, line.size(), stderr);
    return code;
  };
  absl::StatusOr<std::string> bytes = ReadFile(invocation.file, false);
  if (!bytes.ok()) return fail(kExitUsage, bytes.status().message());
  std::vector<CsvRecord> records = ParseCsv(*bytes, invocation.delimiter);
  std::vector<std::string> header;
  if (invocation.has_header) {
    if (records.empty()) return fail(kExitUsage, invocation.file + " has no header row");
    if (!records.front().error.empty()) {
      return fail(kExitUsage, absl::StrCat("the header row: ", records.front().error));
    }
    header = records.front().fields;
    records.erase(records.begin());
  }
  const size_t columns = invocation.has_header ? header.size()
                         : records.empty()     ? 0
                                               : records.front().fields.size();
  absl::StatusOr<ColumnMapping> mapping = BuildColumnMapping(
      invocation.kind, invocation.has_header ? &header : nullptr, columns, invocation.columns);
  if (!mapping.ok()) return fail(kExitUsage, mapping.status().message());
  const std::string file_sha256 = Sha256Hex(*bytes);
  const std::string identity = ImportIdentity(*bytes, invocation.kind, *mapping, invocation.row);
  bytes->clear();
  bytes->shrink_to_fit();

  const std::string journal_path = invocation.file + ".journal";
  absl::StatusOr<std::string> journal_text = ReadFile(journal_path, true);
  if (!journal_text.ok()) return fail(kExitLocalError, journal_text.status().message());
  std::map<int64_t, JournalEntry> journaled;
  if (!journal_text->empty()) {
    absl::StatusOr<std::map<int64_t, JournalEntry>> parsed =
        ParseJournal(*journal_text, invocation.kind, file_sha256, identity);
    if (!parsed.ok()) {
      return fail(kExitUsage, absl::StrCat(journal_path, ": ", parsed.status().message()));
    }
    journaled = std::move(*parsed);
    // A line cut short by a kill is dropped before appending.
    const size_t keep = journal_text->rfind('\n') + 1;
    if (keep != journal_text->size() && ::truncate(journal_path.c_str(), keep) != 0) {
      return fail(kExitLocalError,
                  absl::StrCat("cannot truncate ", journal_path, ": ", std::strerror(errno)));
    }
  }
  AppendFile journal;
  if (absl::Status s = journal.Open(journal_path); !s.ok())
    return fail(kExitLocalError, s.message());
  if (journal_text->empty() || journal_text->find('\n') == std::string::npos) {
    if (!journal_text->empty() && ::truncate(journal_path.c_str(), 0) != 0) {
      return fail(kExitLocalError, absl::StrCat("cannot truncate ", journal_path));
    }
    absl::Status s = journal.Append(JournalHeader(invocation.kind, file_sha256, identity));
    if (s.ok()) s = journal.Sync();
    if (!s.ok()) return fail(kExitLocalError, s.message());
  }
  Importer importer(invocation, std::move(records), std::move(header), std::move(*mapping),
                    identity);
  return importer.Run(std::move(journaled), &journal);
}

}  // namespace kommo::cli
