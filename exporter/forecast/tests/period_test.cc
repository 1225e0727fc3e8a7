#include "foresight/forecast/period.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace foresight::forecast {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Hourly load with a daily cycle (two humps, higher by day) and a weekly one (quieter weekends).
std::vector<double> DailyWeekly(int n, double noise_sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, noise_sd);
  std::vector<double> y(n);
  for (int t = 0; t < n; ++t) {
    const double hour = t % 24, day = (t / 24) % 7;
    const double daily =
        10 * std::sin(2 * M_PI * (hour - 6) / 24) + 3 * std::cos(4 * M_PI * hour / 24);
    const double weekly = day >= 5 ? -8 : 2;
    y[t] = 100 + daily + weekly + noise(rng);
  }
  return y;
}

TEST(PeriodTest, SineOfPeriod24) {
  for (uint64_t seed : {1, 2, 3}) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0, 0.5);
    std::vector<double> y(480);
    for (int t = 0; t < 480; ++t) y[t] = 5 + std::sin(2 * M_PI * t / 24) + noise(rng);
    EXPECT_THAT(DetectPeriods(y), ElementsAre(24)) << "seed " << seed;
  }
}

TEST(PeriodTest, DailyAndWeekly) {
  for (uint64_t seed : {1, 2, 3}) {
    EXPECT_THAT(DetectPeriods(DailyWeekly(960, 2, seed)), ElementsAre(24, 168)) << seed;
  }
  EXPECT_THAT(DetectPeriods(DailyWeekly(960, 2, 4), 1), ElementsAre(24));
  // Too short for three weekly cycles: only the daily one can be told.
  EXPECT_THAT(DetectPeriods(DailyWeekly(400, 2, 5)), ElementsAre(24));
  EXPECT_THAT(DetectPeriods(DailyWeekly(960, 2, 6), 2, 100), ElementsAre(24));
}

TEST(PeriodTest, WhiteNoiseHasNoPeriod) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0, 1);
    std::vector<double> y(500);
    for (double& v : y) v = noise(rng);
    EXPECT_THAT(DetectPeriods(y), IsEmpty()) << "seed " << seed;
  }
}

TEST(PeriodTest, RandomWalkHasNoPeriod) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0, 1);
    std::vector<double> y(700);
    double level = 0;
    for (double& v : y) v = level += noise(rng);
    EXPECT_THAT(DetectPeriods(y), IsEmpty()) << "seed " << seed;
  }
}

TEST(PeriodTest, TrendOnlyHasNoPeriod) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> line(400), curve(400), smooth(400);
  for (int t = 0; t < 400; ++t) {
    line[t] = 3 + 0.05 * t + noise(rng);
    curve[t] = std::exp(t / 100.0) + 0.1 * noise(rng);
    smooth[t] = 0.02 * t;
  }
  EXPECT_THAT(DetectPeriods(line), IsEmpty());
  EXPECT_THAT(DetectPeriods(curve), IsEmpty());
  EXPECT_THAT(DetectPeriods(smooth), IsEmpty());
}

TEST(PeriodTest, SeasonalityOnARandomWalk) {
  std::mt19937_64 rng(4);
  std::normal_distribution<double> noise(0, 0.3);
  std::vector<double> y(600);
  double level = 0;
  for (int t = 0; t < 600; ++t) y[t] = (level += noise(rng)) + 3 * std::sin(2 * M_PI * t / 12);
  EXPECT_THAT(DetectPeriods(y), ElementsAre(12));
}

TEST(PeriodTest, MissingValuesAreInterpolated) {
  std::vector<double> y = DailyWeekly(960, 2, 7);
  std::mt19937_64 rng(8);
  std::bernoulli_distribution drop(0.1);
  for (double& v : y) {
    if (drop(rng)) v = kNaN;
  }
  for (int t = 300; t < 310; ++t) y[t] = kNaN;
  EXPECT_THAT(DetectPeriods(y), ElementsAre(24, 168));
}

TEST(PeriodTest, EdgeCases) {
  EXPECT_THAT(DetectPeriods({}), IsEmpty());
  EXPECT_THAT(DetectPeriods(std::vector<double>(100, kNaN)), IsEmpty());
  EXPECT_THAT(DetectPeriods(std::vector<double>(100, 4.2)), IsEmpty());
  EXPECT_THAT(DetectPeriods(std::vector<double>{1, 2, 1, 2, 1}), IsEmpty());
  EXPECT_THAT(DetectPeriods(DailyWeekly(960, 2, 1), 0), IsEmpty());
  std::vector<double> huge(300), alternating(300);
  for (int t = 0; t < 300; ++t) {
    huge[t] = 1e307 * std::sin(2 * M_PI * t / 10);
    alternating[t] = t % 2 ? 1 : -1;
  }
  EXPECT_THAT(DetectPeriods(huge), ElementsAre(10));
  EXPECT_THAT(DetectPeriods(alternating), ElementsAre(2));
}

}  // namespace
}  // namespace foresight::forecast
