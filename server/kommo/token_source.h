#ifndef KOMMO_SERVER_KOMMO_TOKEN_SOURCE_H_
#define KOMMO_SERVER_KOMMO_TOKEN_SOURCE_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/file_identity.h"

namespace kommo::rest {

// Where the Kommo access token comes from at the moment of each request.
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  virtual std::string Token() = 0;
};

// A token fixed at start-up (KOMMO_ACCESS_TOKEN).
class StaticTokenSource final : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  std::string Token() override { return token_; }

 private:
  std::string token_;
};

// A token read from a file (KOMMO_ACCESS_TOKEN_FILE, e.g. a mounted Kubernetes secret) and read
// again when the file changes (its inode, size or modification time; Kubernetes replaces a
// secret's files through a symlink swap), so a rotated token is used without a restart. The file
// is looked at no more than once per `check_interval`. A file that turns unreadable or empty
// keeps the last good token (and says so in the log once).
class FileTokenSource final : public TokenSource {
 public:
  FileTokenSource(std::string path, std::string initial_token,
                  absl::Duration check_interval = absl::Seconds(1));
  std::string Token() override;

 private:
  const std::string path_;
  const absl::Duration check_interval_;
  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  FileIdentity identity_ ABSL_GUARDED_BY(mu_);
  absl::Time last_check_ ABSL_GUARDED_BY(mu_);
  bool warned_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_TOKEN_SOURCE_H_
