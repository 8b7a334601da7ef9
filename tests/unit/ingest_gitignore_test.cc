// Glob matching and .gitignore rules: globs, dir/, negation, anchoring, nested files.
#include <gtest/gtest.h>

#include "ingest/gitignore.h"

namespace gemrun::ingest {
namespace {

TEST(GlobTest, StarsAndClasses) {
  EXPECT_TRUE(GlobMatch("*.log", "a.log"));
  EXPECT_FALSE(GlobMatch("*.log", "dir/a.log"));  // '*' does not cross '/'
  EXPECT_TRUE(GlobMatch("**/*.log", "dir/sub/a.log"));
  EXPECT_TRUE(GlobMatch("**/*.log", "a.log"));
  EXPECT_TRUE(GlobMatch("dir/**", "dir/x/y"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/b"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(GlobMatch("a/**/b", "a/x/c"));
  EXPECT_TRUE(GlobMatch("file?.txt", "file1.txt"));
  EXPECT_FALSE(GlobMatch("file?.txt", "file10.txt"));
  EXPECT_TRUE(GlobMatch("[abc]x", "bx"));
  EXPECT_FALSE(GlobMatch("[!abc]x", "bx"));
  EXPECT_TRUE(GlobMatch("[a-c]x", "cx"));
  EXPECT_TRUE(GlobMatch("\\*lit", "*lit"));
  EXPECT_FALSE(GlobMatch("\\*lit", "xlit"));
  EXPECT_TRUE(GlobMatch("[unterminated", "[unterminated"));
  EXPECT_FALSE(GlobMatch("abc", "abcd"));
}

TEST(GitIgnoreTest, CommonSubset) {
  GitIgnore g;
  g.AddRules("", "# comment\n\n*.o\nbuild/\n/top.txt\n!keep.o\ndocs/*.tmp\n");
  EXPECT_TRUE(g.Ignored("a.o", false));
  EXPECT_TRUE(g.Ignored("src/deep/a.o", false));  // unanchored: any depth
  EXPECT_FALSE(g.Ignored("keep.o", false));       // negation, last rule wins
  EXPECT_TRUE(g.Ignored("build", true));
  EXPECT_FALSE(g.Ignored("build", false));        // dir/ matches directories only
  EXPECT_TRUE(g.Ignored("x/build", true));
  EXPECT_TRUE(g.Ignored("top.txt", false));
  EXPECT_FALSE(g.Ignored("sub/top.txt", false));  // anchored to the .gitignore's directory
  EXPECT_TRUE(g.Ignored("docs/a.tmp", false));
  EXPECT_FALSE(g.Ignored("x/docs/a.tmp", false));  // inner slash anchors
  EXPECT_FALSE(g.Ignored("a.c", false));
}

TEST(GitIgnoreTest, NestedFilesApplyBelowTheirDirectory) {
  GitIgnore g;
  g.AddRules("", "*.log\n");
  g.AddRules("sub", "!important.log\n/local.txt\n");
  EXPECT_TRUE(g.Ignored("a.log", false));
  EXPECT_FALSE(g.Ignored("sub/important.log", false));
  EXPECT_TRUE(g.Ignored("important.log", false));  // the negation lives in sub/ only
  EXPECT_TRUE(g.Ignored("sub/local.txt", false));
  EXPECT_FALSE(g.Ignored("local.txt", false));
  EXPECT_FALSE(g.Ignored("subx/local.txt", false));
}

TEST(GitIgnoreTest, CrlfAndTrailingSpaces) {
  GitIgnore g;
  g.AddRules("", "secret.txt  \r\n\\#hash\r\n");
  EXPECT_TRUE(g.Ignored("secret.txt", false));
  EXPECT_TRUE(g.Ignored("#hash", false));
}

}  // namespace
}  // namespace gemrun::ingest
