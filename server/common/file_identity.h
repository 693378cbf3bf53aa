#ifndef KOMMO_SERVER_COMMON_FILE_IDENTITY_H_
#define KOMMO_SERVER_COMMON_FILE_IDENTITY_H_

// Which version of a watched file is there (a token file, the callers file): its inode, size and
// modification time, following symlinks, so that Kubernetes' swap of a Secret's or ConfigMap's
// files, an editor's rename over the file and an edit in place are all seen as a change.

#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace kommo {

struct FileIdentity {
  ino_t inode = 0;
  off_t size = -1;
  int64_t mtime_ns = 0;

  bool operator==(const FileIdentity& other) const {
    return inode == other.inode && size == other.size && mtime_ns == other.mtime_ns;
  }
  bool operator!=(const FileIdentity& other) const { return !(*this == other); }
};

// The identity of the file at `path`; false (and `*identity` untouched) when it cannot be read.
inline bool IdentityOf(const std::string& path, FileIdentity* identity) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return false;
  identity->inode = info.st_ino;
  identity->size = info.st_size;
  identity->mtime_ns =
      static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
  return true;
}

}  // namespace kommo

#endif  // KOMMO_SERVER_COMMON_FILE_IDENTITY_H_
