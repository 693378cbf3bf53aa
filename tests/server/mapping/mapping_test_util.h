#ifndef KOMMO_TESTS_SERVER_MAPPING_MAPPING_TEST_UTIL_H_
#define KOMMO_TESTS_SERVER_MAPPING_MAPPING_TEST_UTIL_H_

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"

namespace kommo::mapping::test_util {

// The bytes of tests/testdata/<relative>; fails the test when the file cannot be read.
inline std::string ReadTestdata(absl::string_view relative) {
  const std::string path = absl::StrCat(KOMMO_TESTDATA_DIR, "/", relative);
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// INTERNAL with ErrorInfo{domain kommo-grpc, reason KOMMO_BAD_RESPONSE}, the message naming
// `field` in quotes and ErrorInfo metadata field=`field`. An empty `field` means the body as a
// whole ("the body ..." and no metadata).
inline ::testing::AssertionResult IsBadResponse(const absl::Status& status,
                                                absl::string_view field) {
  if (status.code() != absl::StatusCode::kInternal) {
    return ::testing::AssertionFailure() << "code is not INTERNAL: " << status;
  }
  const auto info = GetErrorInfo(status);
  if (!info.has_value() || info->domain() != kErrorDomain ||
      info->reason() != reason::kKommoBadResponse) {
    return ::testing::AssertionFailure() << "no ErrorInfo KOMMO_BAD_RESPONSE: " << status;
  }
  const auto message = status.message();
  if (field.empty()) {
    if (message.find("the body") == absl::string_view::npos || info->metadata().count("field")) {
      return ::testing::AssertionFailure() << "not about the whole body: " << status;
    }
    return ::testing::AssertionSuccess();
  }
  if (message.find(absl::StrCat("\"", field, "\"")) == absl::string_view::npos) {
    return ::testing::AssertionFailure() << "message does not name \"" << field << "\": " << status;
  }
  const auto it = info->metadata().find("field");
  if (it == info->metadata().end() || it->second != field) {
    return ::testing::AssertionFailure() << "ErrorInfo metadata field is not " << field;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace kommo::mapping::test_util

#endif  // KOMMO_TESTS_SERVER_MAPPING_MAPPING_TEST_UTIL_H_
