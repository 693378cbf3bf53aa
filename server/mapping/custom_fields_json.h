#ifndef KOMMO_SERVER_MAPPING_CUSTOM_FIELDS_JSON_H_
#define KOMMO_SERVER_MAPPING_CUSTOM_FIELDS_JSON_H_

// Custom field values and tags ⇄ Kommo's JSON, for any entity (leads, contacts, companies).
//
// Kommo carries custom field values as `custom_fields_values`: null or an array of
// {field_id, field_name, field_code, field_type, values: [{value, enum_id, enum_code}]}. Values
// are untrusted and loosely typed (numbers arrive as strings, checkboxes as booleans, dates as
// Unix seconds, older bodies spell enum_code `enum`); the reader turns them into the typed
// CustomFieldValue by the entry's field_type. Tags arrive as `_embedded.tags[{id, name}]` and are
// written as `tags_to_add` / `tags_to_delete` `[{name}]`.
//
// The writer and readers work on the mapping's private JsonWriter and ObjectReader, so an
// entity's mapping (server/mapping/*.cc) calls them while writing or reading its own object.

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "kommo/v1/custom_field.pb.h"
#include "server/mapping/json_reader.h"
#include "server/mapping/json_writer.h"

namespace kommo::mapping {

// Reads the object's `custom_fields_values` (absent or null: none) into `out`, in Kommo's
// order. Each value's member follows the entry's field_type: text, textarea, url, multitext and
// unknown types → text; numeric → number (a string or a JSON number); checkbox → checkbox (a
// boolean, 0/1 or "0"/"1"); select, multiselect, radiobutton → text (the enum's value) and
// enum_id; date, date_time, birthday → time (Unix seconds, a number or a digit string).
// enum_code (or the legacy key `enum`) and enum_id are kept on every value that has them. A
// value of null leaves the member unset; a value whose JSON type does not fit the field's type
// (an object in a text field, "abc" in a numeric one) is KOMMO_BAD_RESPONSE naming its path.
// Structure other integrations leave behind is skipped, not an error: custom_fields_values or
// values that are not arrays, entries that are not objects, objects as values of unknown types.
absl::Status ReadCustomFieldsValues(
    const internal::ObjectReader& object,
    google::protobuf::RepeatedPtrField<kommo::v1::CustomFieldValues>* out);

// Reads `_embedded.tags` of the object (absent or null: none) into `out`.
absl::Status ReadTags(const internal::ObjectReader& object,
                      google::protobuf::RepeatedPtrField<kommo::v1::Tag>* out);

// Writes one entry of `custom_fields_values` (inside an array the caller opened):
// {"field_id": N} or {"field_code": "X"}, and "values": an array of {value, enum_id,
// enum_code} with the members set on each value (text → string, number → JSON number,
// checkbox → boolean, time → Unix seconds), or null when the field has no values (which clears
// it on an update). field_name and field_type are read-only and never written.
void WriteCustomFieldEntry(internal::JsonWriter& json, const kommo::v1::CustomFieldValues& field);

// Writes "custom_fields_values": [...] with every field, or nothing when `fields` is empty.
void WriteCustomFieldsMember(
    internal::JsonWriter& json,
    const google::protobuf::RepeatedPtrField<kommo::v1::CustomFieldValues>& fields);

// Writes "tags_to_add": [{"name": ...}] and "tags_to_delete": [{"name": ...}], each only when
// its list is not empty.
void WriteTagChanges(internal::JsonWriter& json,
                     const google::protobuf::RepeatedPtrField<std::string>& to_add,
                     const google::protobuf::RepeatedPtrField<std::string>& to_remove);

// Maps a Kommo validation path that starts inside `custom_fields_values` or the tag lists to the
// request's field, when it does: "custom_fields_values.<offset+i>.values.2.value" →
// "custom_fields[i].values[2]", "custom_fields_values.<offset+i>.field_id" → "custom_fields[i]",
// "tags_to_add.1.name" → "tags_to_add[1]", "tags_to_delete.0" → "tags_to_remove[0]".
// `offset` is how many entries the entity wrote before the request's custom_fields (a contact's
// PHONE and EMAIL entries). nullopt for any other path, or an index below `offset`.
std::optional<std::string> CustomFieldsFieldFromKommoPath(absl::string_view path, size_t offset);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_CUSTOM_FIELDS_JSON_H_
