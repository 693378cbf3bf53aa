#include "server/kommo/token_source.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace kommo::rest {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid());
}

void Write(const std::string& path, const std::string& contents) {
  // Write to a new file and rename it into place, as Kubernetes' symlink swap does.
  const std::string staged = path + ".new";
  std::ofstream(staged) << contents;
  ASSERT_EQ(std::rename(staged.c_str(), path.c_str()), 0);
}

TEST(FileTokenSourceTest, PicksUpARotatedTokenWithoutARestart) {
  const std::string path = TempPath("token-rotation");
  Write(path, "first-token\n");
  FileTokenSource source(path, "first-token", absl::ZeroDuration());
  EXPECT_EQ(source.Token(), "first-token");
  Write(path, "  second-token \n");
  EXPECT_EQ(source.Token(), "second-token");
  EXPECT_EQ(source.Token(), "second-token");
  std::remove(path.c_str());
}

TEST(FileTokenSourceTest, KeepsTheLastTokenWhenTheFileGoesAwayOrEmpty) {
  const std::string path = TempPath("token-vanish");
  Write(path, "good");
  FileTokenSource source(path, "good", absl::ZeroDuration());
  Write(path, "   \n");
  EXPECT_EQ(source.Token(), "good");
  std::remove(path.c_str());
  EXPECT_EQ(source.Token(), "good");
  Write(path, "back");
  EXPECT_EQ(source.Token(), "back");
  std::remove(path.c_str());
}

TEST(FileTokenSourceTest, ChecksTheFileAtMostOncePerInterval) {
  const std::string path = TempPath("token-interval");
  Write(path, "one");
  FileTokenSource source(path, "one", absl::Hours(1));
  Write(path, "two");
  EXPECT_EQ(source.Token(), "one");  // not looked at again within the hour
  std::remove(path.c_str());
}

}  // namespace
}  // namespace kommo::rest
