#include "foresight/common/log.h"

#include <gtest/gtest.h>

namespace foresight::log {
namespace {

TEST(LogTest, FormatsLogfmtAndQuotesWhatNeedsIt) {
  EXPECT_EQ(Format(0, Level::kInfo, "started", {{"port", "9100"}, {"path", ""}}),
            "ts=1970-01-01T00:00:00.000Z level=info msg=started port=9100 path=\"\"");
  EXPECT_EQ(Format(1500, Level::kWarn, "reload failed", {{"err", "a \"b\"\nc=d\\"}}),
            "ts=1970-01-01T00:00:01.500Z level=warn msg=\"reload failed\" "
            "err=\"a \\\"b\\\"\\nc=d\\\\\"");
}

TEST(LogTest, ParsesLevelsAndRejectsOthers) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  auto bad = ParseLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "log level \"verbose\" must be one of debug, info, warn, error");
  SetLevel(Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  SetLevel(Level::kInfo);
}

}  // namespace
}  // namespace foresight::log
