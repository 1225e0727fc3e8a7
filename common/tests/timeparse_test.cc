#include "foresight/common/timeparse.h"

#include <gtest/gtest.h>

namespace foresight {
namespace {

using std::chrono::milliseconds;

TEST(ParseDurationTest, PrometheusForms) {
  EXPECT_EQ(ParseDuration("0")->count(), 0);
  EXPECT_EQ(ParseDuration("5m")->count(), 300000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5400000);
  EXPECT_EQ(ParseDuration("14d")->count(), 14LL * 86400000);
  EXPECT_EQ(ParseDuration("1w")->count(), 7LL * 86400000);
  EXPECT_EQ(ParseDuration("1y")->count(), 365LL * 86400000);
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("1m30s250ms")->count(), 90250);
}

TEST(ParseDurationTest, ErrorsNameTheProblem) {
  EXPECT_EQ(ParseDuration("").status().message(), "empty duration");
  EXPECT_EQ(ParseDuration("5x").status().message(),
            "bad duration \"5x\": unknown unit \"x\" at offset 1 (expected one of y, w, d, h, m, s, ms)");
  EXPECT_EQ(ParseDuration("m").status().message(),
            "bad duration \"m\": expected a number at offset 0");
  EXPECT_EQ(ParseDuration("5").status().message(),
            "bad duration \"5\": unknown unit \"\" at offset 1 (expected one of y, w, d, h, m, s, ms)");
  EXPECT_EQ(ParseDuration("30m1h").status().message(),
            "bad duration \"30m1h\": unit \"h\" at offset 4 is out of order or repeated");
  EXPECT_FALSE(ParseDuration("5m5m").ok());
  EXPECT_FALSE(ParseDuration("-5m").ok());
  EXPECT_FALSE(ParseDuration("99999999999999999999y").ok());
  EXPECT_FALSE(ParseDuration("9999999999999y").ok());
}

TEST(FormatDurationTest, RoundTrips) {
  for (const char* s : {"0s", "5m", "1h30m", "2w", "1y", "500ms", "1d2h3m4s5ms"}) {
    auto d = ParseDuration(s);
    ASSERT_TRUE(d.ok()) << s;
    EXPECT_EQ(FormatDuration(*d), s);
  }
}

TEST(ParseTimestampTest, AllForms) {
  const int64_t now = 1700000000000;
  EXPECT_EQ(*ParseTimestampMs("now", now), now);
  EXPECT_EQ(*ParseTimestampMs("-6h", now), now - 6 * 3600000);
  EXPECT_EQ(*ParseTimestampMs("+30m", now), now + 30 * 60000);
  EXPECT_EQ(*ParseTimestampMs("1700000000", now), 1700000000000);
  EXPECT_EQ(*ParseTimestampMs("1700000000.25", now), 1700000000250);
  EXPECT_EQ(*ParseTimestampMs("2023-11-14T22:13:20Z", now), 1700000000000);
  EXPECT_EQ(*ParseTimestampMs("2023-11-14T22:13:20.5Z", now), 1700000000500);
  EXPECT_EQ(*ParseTimestampMs("2023-11-15T00:13:20+02:00", now), 1700000000000);
  EXPECT_EQ(*ParseTimestampMs("2023-11-14T20:13:20-02:00", now), 1700000000000);
  EXPECT_EQ(*ParseTimestampMs("2023-11-14 22:13:20", now), 1700000000000);
  EXPECT_EQ(*ParseTimestampMs("1970-01-01T00:00:00Z", now), 0);
  EXPECT_EQ(*ParseTimestampMs("1969-12-31T23:59:59Z", now), -1000);
}

TEST(ParseTimestampTest, Errors) {
  EXPECT_EQ(ParseTimestampMs("2023-13-01T00:00:00Z", 0).status().message(),
            "bad time \"2023-13-01T00:00:00Z\": expected a month 01-12 at offset 7 (want RFC 3339, "
            "YYYY-MM-DD HH:MM:SS, Unix seconds, now or -1h)");
  EXPECT_FALSE(ParseTimestampMs("2023-11-14T22:13:20", 0).ok());  // RFC 3339 needs a zone
  EXPECT_FALSE(ParseTimestampMs("yesterday", 0).ok());
  EXPECT_FALSE(ParseTimestampMs("", 0).ok());
  EXPECT_FALSE(ParseTimestampMs("-6x", 0).ok());
  EXPECT_FALSE(ParseTimestampMs("1.2.3", 0).ok());
  EXPECT_FALSE(ParseTimestampMs("2023-11-14T22:13:20Zjunk", 0).ok());
}

TEST(FormatRfc3339Test, Formats) {
  EXPECT_EQ(FormatRfc3339Ms(1700000000500), "2023-11-14T22:13:20.500Z");
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
  for (int64_t t : {int64_t{951782400123}, int64_t{4102444800000}, int64_t{-86400001}}) {
    EXPECT_EQ(*ParseTimestampMs(FormatRfc3339Ms(t), 0), t);
  }
}

}  // namespace
}  // namespace foresight
