// MappedFile against a file that shrinks under its mapping: CheckSize reports it, and a read
// past the new end becomes a message naming the file and exit code 2 instead of a SIGBUS crash.
#include "base/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace gemrun {
namespace {

std::string WriteTemp(const std::string& name, size_t bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << std::string(bytes, 'x');
  return path;
}

TEST(MappedFile, CheckSizeSeesATruncation) {
  const std::string path = WriteTemp("shrink.bin", 3 * 65536);
  auto f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_TRUE((*f)->CheckSize().ok());
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);
  const Status st = (*f)->CheckSize();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("shrank to 100 bytes"), std::string::npos) << st.message();
  std::remove(path.c_str());
}

TEST(MappedFile, DirectoryIsAFileError) {
  auto f = MappedFile::Open(::testing::TempDir());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
}

// Before the handler, this read killed the process with SIGBUS.
TEST(MappedFileDeathTest, ReadPastATruncationExitsWithAFileError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string path = WriteTemp("shrink2.bin", 4 * 65536);
  EXPECT_EXIT(
      {
        auto f = MappedFile::Open(path);
        if (!f.ok()) std::exit(9);
        if (::truncate(path.c_str(), 0) != 0) std::exit(8);
        volatile uint8_t sink = (*f)->data()[3 * 65536];
        (void)sink;
        std::exit(7);
      },
      ::testing::ExitedWithCode(2), "shrink2.bin: the file was truncated");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace gemrun
