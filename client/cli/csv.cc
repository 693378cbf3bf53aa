#include "client/cli/csv.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace kommo::cli {

std::vector<CsvRecord> ParseCsv(absl::string_view text, char delimiter) {
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");
  std::vector<CsvRecord> records;
  size_t i = 0;
  int64_t line = 1;
  const size_t n = text.size();
  // Consumes a line break at i (CRLF, LF or CR); returns whether there was one.
  auto line_break = [&]() {
    if (i < n && text[i] == '\r') {
      ++i;
      if (i < n && text[i] == '\n') ++i;
      ++line;
      return true;
    }
    if (i < n && text[i] == '\n') {
      ++i;
      ++line;
      return true;
    }
    return false;
  };
  while (i < n) {
    if (line_break()) continue;  // an empty line
    CsvRecord record;
    record.line = line;
    std::string field;
    bool record_done = false;
    while (!record_done) {
      field.clear();
      if (i < n && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          const char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\n' || (c == '\r' && !(i + 1 < n && text[i + 1] == '\n'))) ++line;
          field.push_back(c);
          ++i;
        }
        if (!closed) {
          record.error = absl::StrCat("a quoted field opened on line ", record.line,
                                      " is not closed before the end of the file");
          record.fields.push_back(std::move(field));
          records.push_back(std::move(record));
          return records;
        }
        if (i < n && text[i] != delimiter && text[i] != '\r' && text[i] != '\n') {
          record.error =
              absl::StrCat("text after the closing quote of field ", record.fields.size() + 1);
          // Skip to the end of the physical line and go on with the next record.
          while (i < n && text[i] != '\r' && text[i] != '\n') field.push_back(text[i++]);
        }
      } else {
        while (i < n && text[i] != delimiter && text[i] != '\r' && text[i] != '\n') {
          field.push_back(text[i++]);
        }
      }
      record.fields.push_back(field);
      if (i < n && text[i] == delimiter) {
        ++i;
        if (!record.error.empty()) {
          while (i < n && text[i] != '\r' && text[i] != '\n') ++i;
        } else {
          continue;  // the next field (possibly empty, at the end of the line)
        }
      }
      line_break();
      record_done = true;
    }
    records.push_back(std::move(record));
  }
  return records;
}

std::string FormatCsvRecord(const std::vector<std::string>& fields, char delimiter) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(delimiter);
    const std::string& field = fields[i];
    const bool quote =
        field.find_first_of(std::string{delimiter, '"', '\r', '\n'}) != std::string::npos ||
        (!field.empty() && (field.front() == ' ' || field.back() == ' '));
    if (!quote) {
      out += field;
      continue;
    }
    out.push_back('"');
    for (char c : field) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out += "\r\n";
  return out;
}

}  // namespace kommo::cli
