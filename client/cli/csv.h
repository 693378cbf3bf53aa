// CSV for `kommo-cli ... import`: an RFC 4180 reader that keeps going past a bad record, and the
// writer of the reject file.
#ifndef KOMMO_CLIENT_CLI_CSV_H_
#define KOMMO_CLIENT_CLI_CSV_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kommo::cli {

// One record of a CSV text.
struct CsvRecord {
  // The line the record starts on, 1-based (a quoted field may span several lines).
  int64_t line = 0;
  std::vector<std::string> fields;
  // Non-empty: the record is malformed (an unterminated quote, text after a closing quote); the
  // fields hold what could be read.
  std::string error;
};

// Splits `text` into records (RFC 4180): fields separated by `delimiter`; records by CRLF, LF or
// CR; a field in double quotes may hold delimiters, line breaks and "" for a quote. A UTF-8 byte
// order mark at the start is skipped; empty lines are skipped; a quote inside an unquoted field is
// kept as text. A malformed record gets an error and the reader goes on at the next line.
std::vector<CsvRecord> ParseCsv(absl::string_view text, char delimiter = ',');

// One record as a CSV line ending in CRLF: fields holding the delimiter, a quote, CR or LF, or
// starting or ending with a space, are quoted with "" for a quote.
std::string FormatCsvRecord(const std::vector<std::string>& fields, char delimiter = ',');

}  // namespace kommo::cli

#endif  // KOMMO_CLIENT_CLI_CSV_H_
