// Kommo's JSON shapes of the emulator's entities (HAL: `_links`, `_embedded`).
#ifndef KOMMO_EMULATOR_RENDER_H_
#define KOMMO_EMULATOR_RENDER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "emulator/store.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace kommo::emulator {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void Key(JsonWriter& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}
inline void Str(JsonWriter& w, std::string_view value) {
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

struct Hrefs {
  std::string api_base;       // "http://127.0.0.1:8080/api/v4"
  std::string entity_suffix;  // appended to entity self links, e.g. "?page=1&limit=50" in lists
};

// "_links":{"self":{"href":HREF}} — writes the key too.
void WriteSelfLinks(JsonWriter& w, std::string_view href);

void WriteLead(JsonWriter& w, const Store& store, const Lead& lead, const Hrefs& hrefs,
               bool with_contacts);
void WriteContact(JsonWriter& w, const Store& store, const Contact& contact, const Hrefs& hrefs,
                  bool with_leads);
void WriteCompany(JsonWriter& w, const Store& store, const Company& company, const Hrefs& hrefs,
                  bool with_contacts);
// A note; `params` is the stored object as it is.
void WriteNote(JsonWriter& w, const Note& note, const Hrefs& hrefs);
// A task: entity_id and entity_type null when it is on nothing, result {"text"} or Kommo's empty
// array when none was recorded.
void WriteTask(JsonWriter& w, const Task& task, const Hrefs& hrefs);
void WritePipeline(JsonWriter& w, const Pipeline& pipeline, const Hrefs& hrefs);
void WriteStatus(JsonWriter& w, const PipelineStatus& status, int64_t pipeline_id,
                 const Hrefs& hrefs);
void WriteUser(JsonWriter& w, const User& user, const Hrefs& hrefs);
// A field of the custom-field catalogue of `entity_type` ("leads", "contacts", "companies").
void WriteCustomField(JsonWriter& w, const CustomField& field, std::string_view entity_type,
                      const Hrefs& hrefs);
void WriteLossReason(JsonWriter& w, const LossReason& reason, const Hrefs& hrefs);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_RENDER_H_
