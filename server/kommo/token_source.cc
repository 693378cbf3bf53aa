#include "server/kommo/token_source.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "server/common/log.h"

namespace kommo::rest {

FileTokenSource::FileTokenSource(std::string path, std::string initial_token,
                                 absl::Duration check_interval)
    : path_(std::move(path)),
      check_interval_(check_interval),
      token_(std::move(initial_token)),
      last_check_(absl::Now()) {
  IdentityOf(path_, &identity_);
}

std::string FileTokenSource::Token() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now - last_check_ < check_interval_) return token_;
  last_check_ = now;
  FileIdentity current;
  if (IdentityOf(path_, &current) && current == identity_) return token_;
  std::ifstream file(path_);
  std::stringstream contents;
  if (file) contents << file.rdbuf();
  std::string token(absl::StripAsciiWhitespace(contents.str()));
  if (!file || token.empty()) {
    if (!warned_) {
      log::Warning("the token file cannot be read or is empty; keeping the last token",
                   {{"path", path_}});
      warned_ = true;
    }
    return token_;
  }
  identity_ = current;
  warned_ = false;
  if (token != token_) {
    token_ = std::move(token);
    log::Info("the token file changed; using the new token from now on", {{"path", path_}});
  }
  return token_;
}

}  // namespace kommo::rest
