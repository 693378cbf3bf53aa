// Custom-field values of leads, contacts and companies: one codec for the three entity types.
// It reads `custom_fields_values` of a write against the entity type's catalogue and reports
// problems as Kommo's validation errors, applies what it read to the stored values, and renders
// stored values the way Kommo answers them.
//
// What a write may send, by field type (a field is named by field_id or field_code):
// - text, textarea, url: {"value": string};
// - numeric: {"value": number or numeric string};
// - checkbox: {"value": bool};
// - select, radiobutton (one value), multiselect (several): {"enum_id": N} or {"value": the
//   enum's value, exactly as the catalogue spells it};
// - date, date_time, birthday: {"value": Unix seconds, as an integer or a string of digits};
//   date and birthday are kept as midnight UTC of their day (the account's time zone is UTC);
// - multitext: {"value": string} with "enum_code" (or the legacy "enum") or "enum_id" naming its
//   kind; without one, the field's first enum.
// Errors (code, path relative to the item): NotSupportedChoice for an unknown field_id,
// field_code, enum_id, enum_code or enum value; InvalidType for a value of the wrong JSON type;
// NotBlank for an entry without field_id/field_code or a value without "value"; Count for more
// than one value in a field that takes one; FieldNotExpected for enum_id, enum_code or enum on a
// field whose type takes no enum (and enum_code or enum on select types, which take enum_id).
#ifndef KOMMO_EMULATOR_CUSTOM_FIELDS_H_
#define KOMMO_EMULATOR_CUSTOM_FIELDS_H_

#include <vector>

#include "emulator/render.h"
#include "emulator/store.h"
#include "emulator/writes.h"

namespace kommo::emulator {

inline constexpr char kFieldNotExpectedCode[] = "FieldNotExpected";

// What one write says about an entity's custom fields.
struct FieldValuesUpdate {
  // "custom_fields_values": null. On an update it detaches every value (the emulator's reading,
  // kept from its first contact version).
  bool clear_all = false;
  // The fields the write names, in order, each with its new values; a field with no values
  // ("values": [] or null) is cleared.
  std::vector<FieldValues> fields;
};

// Reads `custom_fields_values` of the item `reader` reads, checking each entry against
// `catalogue`; problems are added to the reader's errors (paths like
// "custom_fields_values.2.values.0.enum_id").
FieldValuesUpdate ReadFieldValues(const std::vector<CustomField>& catalogue, ItemReader& reader);

// Applies `update` to `fields`: clear_all first, then each named field's values replace the
// stored ones (or remove the field); unnamed fields stay. Keeps `fields` ordered by the fields'
// sort in `catalogue`.
void ApplyFieldValues(const std::vector<CustomField>& catalogue, FieldValuesUpdate update,
                      std::vector<FieldValues>* fields);

// "custom_fields_values": null when there are none, else
// [{field_id, field_name, field_code (null when the field has none), field_type,
//   values:[{value, enum_id?, enum_code?}], is_computed:false}]: numeric values as strings,
// checkbox values as bools, dates as integers, select values with the enum's text and id.
// Writes the key too.
void WriteFieldValues(JsonWriter& w, const std::vector<CustomField>& catalogue,
                      const std::vector<FieldValues>& fields);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_CUSTOM_FIELDS_H_
