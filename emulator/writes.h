// Validation of POST/PATCH items for leads and contacts, as Kommo reports it: every problem is a
// FieldError with Kommo's code ("InvalidType", "NotSupportedChoice", "NotBlank") and a dotted path
// into the item ("status_id", "_embedded.contacts.0.id",
// "custom_fields_values.1.values.0.enum_code"). Request bodies are untrusted: every member is
// type-checked before it is used.
#ifndef KOMMO_EMULATOR_WRITES_H_
#define KOMMO_EMULATOR_WRITES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "emulator/store.h"
#include "rapidjson/document.h"

namespace kommo::emulator {

struct FieldError {
  std::string code;
  std::string path;
  std::string detail;
};

struct WriteContext {
  int64_t now;      // Unix seconds
  int64_t user_id;  // the token's user: default responsible user, created_by, updated_by
};

// POST /leads item → a new lead without an id. Empty result: valid.
std::vector<FieldError> BuildNewLead(const Store& store, const rapidjson::Value& item,
                                     const WriteContext& context, Lead* lead);
// PATCH item → applies it to *lead (its current state). `id` and `_embedded` are not read here.
std::vector<FieldError> ApplyLeadUpdate(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Lead* lead);

std::vector<FieldError> BuildNewContact(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Contact* contact);
std::vector<FieldError> ApplyContactUpdate(const Store& store, const rapidjson::Value& item,
                                           const WriteContext& context, Contact* contact);

// The item's request_id (a string, or a number rendered as a string), else `fallback`.
std::string RequestIdOf(const rapidjson::Value& item, const std::string& fallback);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_WRITES_H_
