// `kommo-cli leads import FILE.csv` and `kommo-cli contacts import FILE.csv`: one CreateLead (or
// FindOrCreateContact) per row of a CSV file, many calls in flight so that the server's batches
// fill, paced by the server to the account's budget.
//
// Resuming. Every row's call carries a request_id made of the import's identity (a SHA-256 of the
// file's bytes, the kind of import and the column mapping) and the row's line number, so a call
// repeated for the same row is the same call to the server (idempotency: the first answer, nothing
// written twice). Each finished row (created, matched, rejected, outcome unknown) is appended to
// FILE.journal, fsync'd after every batch of answers; a run skips the rows its journal holds. A
// journal of a different file, kind or mapping is refused: a file edited between runs is a new
// import (its request_ids differ), and running it beside the old journal would create its rows
// again.
//
// Rows the server refuses (a bad value, a stage that does not exist, an ambiguous contact) and
// rows the reader cannot read (wrong number of fields, a bad number) go to FILE.rejects.csv: the
// row as read, its line and the reason. Rows whose outcome at Kommo is unknown (the server says
// WRITE_OUTCOME_UNKNOWN and no longer runs the call) are journaled as such and listed in the
// reject file too: they may exist; check before importing them again.
#ifndef KOMMO_CLIENT_CLI_IMPORT_H_
#define KOMMO_CLIENT_CLI_IMPORT_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cli/csv.h"
#include "kommo/client/channel.h"

namespace kommo::cli {

enum class ImportKind { kLeads, kContacts };

// Exit code of an import that finished with rows rejected or in doubt (see the reject file).
inline constexpr int kExitRowsRejected = 3;

// What one column of the file sets.
struct ColumnTarget {
  enum class Field {
    kIgnore,
    kName,
    kPrice,
    kPipelineId,
    kStatusId,
    kResponsibleUserId,
    kTags,
    kContactIds,
    kCustomField,  // leads: `custom_field` is the field's code or id
    kFirstName,
    kLastName,
    kPhones,
    kEmails,
  };
  Field field = Field::kIgnore;
  std::string custom_field;
};

// The columns of a file in order, each with what it sets.
struct ColumnMapping {
  std::vector<ColumnTarget> columns;
  // A canonical text of the mapping ("name,price,-,cf:BUDGET"), part of the import's identity.
  std::string Canonical() const;
};

// The mapping of a file with `column_count` columns. `header` (null with --no_header) names the
// fields: leads take name, price, pipeline_id, status_id, responsible_user_id, tags,
// contact_ids, cf:CODE and cf:ID; contacts take name, first_name, last_name, phone(s), email(s)
// and responsible_user_id; "-" skips a column (as do reject_line and reject_reason, the columns
// the reject file adds). `overrides` (--column KEY=FIELD) map the column whose header is KEY, or
// column number KEY (1-based), to FIELD, replacing the header's meaning. Without a header,
// columns not overridden are skipped. Errors (INVALID_ARGUMENT) name the column and say how to
// fix it.
absl::StatusOr<ColumnMapping> BuildColumnMapping(
    ImportKind kind, const std::vector<std::string>* header, size_t column_count,
    const std::vector<std::pair<std::string, std::string>>& overrides);

// What every row's request gets besides its cells.
struct RowOptions {
  bool add_missing = false;  // contacts: FindOrCreateContactRequest.add_missing
};

// The request for one row: a CreateLeadRequest or a FindOrCreateContactRequest with `request_id`.
// Cells are trimmed of spaces; an empty cell leaves its field unset. tags, contact_ids, phones and
// emails may hold several values separated by ';'. A cf: cell is typed as `--field` values are.
// Errors (INVALID_ARGUMENT) name the column and never quote a contact's data.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildRowRequest(
    ImportKind kind, const ColumnMapping& mapping, const std::vector<std::string>& header_names,
    const CsvRecord& record, const std::string& request_id, const RowOptions& options = {});

// The import's identity: hex SHA-256 of the file's bytes, the kind, the mapping's canonical text
// and the row options (whatever changes a row's request); and a row's request_id from it:
// "imp-l-<24 hex digits>-<line>" ("imp-c-..." for contacts), at most 64 characters.
std::string ImportIdentity(absl::string_view file_bytes, ImportKind kind,
                           const ColumnMapping& mapping, const RowOptions& options = {});
std::string RowRequestId(ImportKind kind, const std::string& identity, int64_t line);
// Hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

// A finished row as the journal keeps it.
struct JournalEntry {
  enum class State { kCreated, kMatched, kRejected, kUnknown };
  int64_t line = 0;
  State state = State::kCreated;
  std::string request_id;
  int64_t id = 0;  // the lead's or contact's id; 0 when rejected or unknown
};

// The journal's first line and one entry's line (each ending in '\n'), and their parsing.
std::string JournalHeader(ImportKind kind, const std::string& file_sha256,
                          const std::string& identity);
std::string JournalLine(const JournalEntry& entry);
// Reads a journal's text: the header must match `kind`, `file_sha256` and `identity` (else
// FAILED_PRECONDITION saying what differs and what to do); a last line without '\n' (cut short by
// a kill) is ignored. Returns the entries by line.
absl::StatusOr<std::map<int64_t, JournalEntry>> ParseJournal(absl::string_view text,
                                                             ImportKind kind,
                                                             const std::string& file_sha256,
                                                             const std::string& identity);

// The command line of an import: [global flags] <leads|contacts> import FILE [flags].
struct ImportInvocation {
  ImportKind kind = ImportKind::kLeads;
  std::string file;
  std::string target;
  // --tls, --tls_ca, --tls_cert, --tls_key, --tls_server_name, --token_file (as every verb).
  client::TlsOptions tls;
  std::string token_file;
  // --account: the Kommo account the rows go to (as every verb).
  std::string account;
  bool json = false;
  bool help = false;
  // Each attempt's deadline (--deadline, default 60 s); and attempts per row (--max_attempts,
  // default 8) for answers that say nothing was written yet (RESOURCE_EXHAUSTED, UNAVAILABLE
  // without an answer from the server, DEADLINE_EXCEEDED of a call still running).
  std::chrono::milliseconds deadline{60000};
  int max_attempts = 8;
  // Calls in flight at once (--concurrency, 1 to 500, default 100).
  int concurrency = 100;
  bool has_header = true;                                    // --no_header clears it
  char delimiter = ',';                                      // --delimiter
  std::vector<std::pair<std::string, std::string>> columns;  // --column KEY=FIELD
  RowOptions row;
  enum class Progress { kAuto, kBar, kLines, kOff };
  Progress progress = Progress::kAuto;
  std::string error;  // a usage error
};

// Whether `args` (after the program name) ask for an import: "leads import" or "contacts import".
bool IsImportCommandLine(const std::vector<std::string>& args);
ImportInvocation ParseImportCommandLine(const std::vector<std::string>& args,
                                        const char* env_target);
std::string ImportHelp(ImportKind kind);

// Runs the import; returns the process's exit code (0 every row imported; 3 some rows rejected or
// in doubt; 2 a usage error such as a bad header or another file's journal; 1 a local failure;
// 10 + the gRPC code when the server stopped the import, e.g. 24 when it stayed unreachable: run
// the same command again to go on).
int RunImport(const ImportInvocation& invocation);

}  // namespace kommo::cli

#endif  // KOMMO_CLIENT_CLI_IMPORT_H_
