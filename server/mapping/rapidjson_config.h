#ifndef KOMMO_SERVER_MAPPING_RAPIDJSON_CONFIG_H_
#define KOMMO_SERVER_MAPPING_RAPIDJSON_CONFIG_H_

// The one way the mapping layer includes RapidJSON (private to server/mapping), so that
// RAPIDJSON_ASSERT has the same meaning in every translation unit that uses it.

#include <stdexcept>

namespace kommo::mapping::internal {

// Thrown by a failed RapidJSON assertion. The readers in json_reader.h check every type before
// RapidJSON sees a value, so this only happens through a bug in this layer; the public parse
// functions turn it into KOMMO_BAD_RESPONSE instead of letting an untrusted body crash the process
// (RapidJSON's default, assert(), is undefined behaviour in a release build).
class JsonAssertionError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace kommo::mapping::internal

#ifdef RAPIDJSON_ASSERT
#error "include server/mapping/rapidjson_config.h before any RapidJSON header"
#endif
#define RAPIDJSON_ASSERT(x) \
  ((x) ? static_cast<void>(0) : throw ::kommo::mapping::internal::JsonAssertionError(#x))

// IWYU pragma: begin_exports
#include "rapidjson/document.h"
#include "rapidjson/encodedstream.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
// IWYU pragma: end_exports

#endif  // KOMMO_SERVER_MAPPING_RAPIDJSON_CONFIG_H_
