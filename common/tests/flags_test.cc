#include "foresight/common/flags.h"

#include <gtest/gtest.h>

namespace foresight {
namespace {

TEST(FlagSetTest, ParsesEveryForm) {
  std::string url = "default";
  std::vector<std::string> matches;
  bool verbose = false;
  int64_t n = 3;
  FlagSet f("test");
  f.String("url", &url, "u");
  f.StringList("match", &matches, "m");
  f.Bool("verbose", &verbose, "v");
  f.Int("n", &n, "n");
  auto pos = f.Parse({"--url=http://x", "--match", "a", "--match=b", "--verbose", "pos", "--n=7",
                      "--", "--not-a-flag"});
  ASSERT_TRUE(pos.ok()) << pos.status().message();
  EXPECT_EQ(url, "http://x");
  EXPECT_EQ(matches, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(verbose);
  EXPECT_EQ(n, 7);
  EXPECT_EQ(*pos, (std::vector<std::string>{"pos", "--not-a-flag"}));
  EXPECT_FALSE(f.help_requested());
}

TEST(FlagSetTest, Errors) {
  std::string s;
  bool b = false;
  int64_t n = 0;
  FlagSet f("test");
  f.String("s", &s, "s");
  f.Bool("b", &b, "b");
  f.Int("n", &n, "n");
  EXPECT_EQ(f.Parse({"--nope"}).status().message(), "unknown flag --nope");
  EXPECT_EQ(f.Parse({"--s"}).status().message(), "flag --s needs a value");
  EXPECT_EQ(f.Parse({"--b=maybe"}).status().message(),
            "flag --b: expected true or false, got \"maybe\"");
  EXPECT_EQ(f.Parse({"--n=x1"}).status().message(), "flag --n: expected an integer, got \"x1\"");
  EXPECT_EQ(f.Parse({"-s"}).status().message(), "unknown flag \"-s\" (flags are written --name)");
}

TEST(FlagSetTest, HelpAndUsage) {
  std::string s = "dflt";
  FlagSet f("prog --s=X");
  f.String("s", &s, "the s flag");
  ASSERT_TRUE(f.Parse({"--help"}).ok());
  EXPECT_TRUE(f.help_requested());
  EXPECT_NE(f.Usage().find("--s=VALUE"), std::string::npos);
  EXPECT_NE(f.Usage().find("(default: dflt)"), std::string::npos);
}

}  // namespace
}  // namespace foresight
