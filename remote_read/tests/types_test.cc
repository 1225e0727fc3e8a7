#include "foresight/remote_read/types.h"

#include <gtest/gtest.h>

#include <bit>
#include <limits>

namespace foresight::remote_read {
namespace {

TEST(SeriesNameTest, SelectorForm) {
  EXPECT_EQ(SeriesName({{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}}),
            "up{instance=\"a:9100\",job=\"node\"}");
  EXPECT_EQ(SeriesName({{"__name__", "up"}}), "up");
  EXPECT_EQ(SeriesName({{"job", "x"}}), "{job=\"x\"}");
  EXPECT_EQ(SeriesName({}), "{}");
  EXPECT_EQ(SeriesName({{"__name__", "m"}, {"path", "C:\\dir \"q\"\nx"}}),
            "m{path=\"C:\\\\dir \\\"q\\\"\\nx\"}");
}

TEST(FormatMatchersTest, AllOperators) {
  EXPECT_EQ(FormatMatchers({{MatchType::kEqual, "__name__", "up"},
                            {MatchType::kNotEqual, "a", "b"},
                            {MatchType::kRegexMatch, "c", "d.*"},
                            {MatchType::kRegexNoMatch, "e", "\"f\""}}),
            "{__name__=\"up\",a!=\"b\",c=~\"d.*\",e!~\"\\\"f\\\"\"}");
}

TEST(StaleMarkerTest, OnlyTheStaleNaN) {
  EXPECT_TRUE(IsStaleMarker(std::bit_cast<double>(kStaleNaNBits)));
  EXPECT_FALSE(IsStaleMarker(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(IsStaleMarker(std::bit_cast<double>(0x7ff8000000000001ULL)));  // Go's math.NaN()
  EXPECT_FALSE(IsStaleMarker(0.0));
}

}  // namespace
}  // namespace foresight::remote_read
