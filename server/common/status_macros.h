#ifndef KOMMO_SERVER_COMMON_STATUS_MACROS_H_
#define KOMMO_SERVER_COMMON_STATUS_MACROS_H_

// Debian 12's Abseil (20220623) has no status macros; these have the meaning of the ones in newer
// Abseil releases and in google-cloud-cpp.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the current function with `expr`'s status when it is not OK.
#define RETURN_IF_ERROR(expr)                                 \
  do {                                                        \
    const ::absl::Status kommo_status_macro_status_ = (expr); \
    if (!kommo_status_macro_status_.ok()) {                   \
      return kommo_status_macro_status_;                      \
    }                                                         \
  } while (false)

#define KOMMO_STATUS_MACROS_CONCAT_INNER_(a, b) a##b
#define KOMMO_STATUS_MACROS_CONCAT_(a, b) KOMMO_STATUS_MACROS_CONCAT_INNER_(a, b)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); returns its status when
// it is not OK, else moves its value into `lhs` (which may be a declaration such as `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  KOMMO_ASSIGN_OR_RETURN_IMPL_(KOMMO_STATUS_MACROS_CONCAT_(kommo_statusor_, __LINE__), lhs, expr)

#define KOMMO_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) {                                   \
    return std::move(statusor).status();                  \
  }                                                       \
  lhs = std::move(statusor).value()

#endif  // KOMMO_SERVER_COMMON_STATUS_MACROS_H_
