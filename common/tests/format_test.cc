#include "foresight/common/format.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

namespace foresight {
namespace {

TEST(FormatDoubleTest, PrometheusSpellings) {
  EXPECT_EQ(FormatDouble(1.5), "1.5");
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(-2), "-2");
  EXPECT_EQ(FormatDouble(1e21), "1e+21");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatDouble(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(FormatDoubleTest, RoundTripsBitForBit) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) {
    double v = std::bit_cast<double>(rng());
    if (std::isnan(v)) continue;
    double back = 0;
    ASSERT_TRUE(ParseDouble(FormatDouble(v), &back)) << FormatDouble(v);
    ASSERT_EQ(std::bit_cast<uint64_t>(back), std::bit_cast<uint64_t>(v)) << FormatDouble(v);
  }
  for (double v : {0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.30000000000000004}) {
    double back = 1;
    ASSERT_TRUE(ParseDouble(FormatDouble(v), &back));
    EXPECT_EQ(std::bit_cast<uint64_t>(back), std::bit_cast<uint64_t>(v));
  }
}

TEST(ParseDoubleTest, RejectsJunk) {
  double v;
  EXPECT_FALSE(ParseDouble("", &v));
  EXPECT_FALSE(ParseDouble("1.5x", &v));
  EXPECT_FALSE(ParseDouble("+", &v));
  EXPECT_FALSE(ParseDouble("abc", &v));
  EXPECT_TRUE(ParseDouble("+1.5", &v));
  EXPECT_EQ(v, 1.5);
  EXPECT_TRUE(ParseDouble("-Inf", &v));
  EXPECT_TRUE(std::isinf(v) && v < 0);
}

}  // namespace
}  // namespace foresight
