#include "server/api/validation.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/common/error_details.h"

namespace kommo::api {
namespace {

// Collects violations; Result() is OK when there are none.
class Checker {
 public:
  void Add(std::string field, std::string description) {
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
  return checker.Result("CreateContactRequest");
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

}  // namespace kommo::api
