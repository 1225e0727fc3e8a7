#include "foresight/forecast/transform.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kStale = std::bit_cast<double>(kStaleNaNBits);

std::vector<int64_t> Seconds(std::initializer_list<int64_t> s) {
  std::vector<int64_t> out;
  for (int64_t v : s) out.push_back(v * 1000);
  return out;
}

TEST(CounterTest, IncreaseAndRateWithAResetMatchHandComputation) {
  // Scraped every 15s; the counter restarts between 60s and 75s (40 -> 5).
  std::vector<int64_t> ts = Seconds({0, 15, 30, 45, 60, 75, 90, 105, 120});
  std::vector<double> v = {0, 10, 20, 30, 40, 5, 15, 25, 35};
  Result<Grid> inc = CounterIncrease(ts, v, 0, 120'000, 60'000);
  ASSERT_TRUE(inc.ok()) << inc.status().ToString();
  ASSERT_EQ(inc->values.size(), 3u);
  // Step 0s: only the sample at 0s, no anchor: not enough samples.
  EXPECT_TRUE(std::isnan(inc->values[0]));
  // Step 60s: anchor 0 (at 0s), then 10, 20, 30, 40: growth 40.
  EXPECT_EQ(inc->values[1], 40);
  // Step 120s: anchor 40 (at 60s); 40 -> 5 is a reset, counted as 5 from zero; then +30.
  EXPECT_EQ(inc->values[2], 35);

  Result<Grid> rate = CounterRate(ts, v, 0, 120'000, 60'000);
  ASSERT_TRUE(rate.ok());
  EXPECT_TRUE(std::isnan(rate->values[0]));
  EXPECT_DOUBLE_EQ(rate->values[1], 40.0 / 60.0);
  EXPECT_DOUBLE_EQ(rate->values[2], 35.0 / 60.0);
}

TEST(CounterTest, SeveralResetsInOneStep) {
  std::vector<int64_t> ts = Seconds({0, 10, 20, 30, 40, 50, 60});
  std::vector<double> v = {100, 120, 3, 9, 2, 2, 50};
  // 100->120: 20; reset to 3: 3; +6; reset to 2: 2; +0; +48.
  Result<Grid> inc = CounterIncrease(ts, v, 60'000, 60'000, 60'000);
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->values[0], 79);
}

TEST(CounterTest, RateDividesByTheTimeTheSamplesSpan) {
  // Samples at 50s and 110s straddle the step boundary at 60s: the anchor is 50s.
  std::vector<int64_t> ts = Seconds({50, 110, 170});
  std::vector<double> v = {10, 70, 100};
  Result<Grid> rate = CounterRate(ts, v, 120'000, 180'000, 60'000);
  ASSERT_TRUE(rate.ok());
  EXPECT_DOUBLE_EQ(rate->values[0], 1.0);  // 60 over 50s..110s
  EXPECT_DOUBLE_EQ(rate->values[1], 0.5);  // 30 over 110s..170s
}

TEST(CounterTest, GapsAreNaNAndTheNextStepCarriesTheGap) {
  std::vector<int64_t> ts = Seconds({30, 60, 250, 290});
  std::vector<double> v = {0, 6, 44, 52};
  Result<Grid> inc = CounterIncrease(ts, v, 60'000, 300'000, 60'000);
  Result<Grid> rate = CounterRate(ts, v, 60'000, 300'000, 60'000);
  ASSERT_TRUE(inc.ok());
  ASSERT_EQ(inc->values.size(), 5u);  // 60s, 120s, 180s, 240s, 300s
  EXPECT_EQ(inc->values[0], 6);
  EXPECT_TRUE(std::isnan(inc->values[1]));  // no sample in (60s, 120s]: NaN, not zero
  EXPECT_TRUE(std::isnan(inc->values[2]));
  EXPECT_TRUE(std::isnan(inc->values[3]));
  EXPECT_EQ(inc->values[4], 46);  // anchor 6 at 60s: the growth over the whole gap
  EXPECT_DOUBLE_EQ(rate->values[4], 46.0 / 230.0);
}

TEST(CounterTest, StaleMarkersAreSkipped) {
  std::vector<int64_t> ts = Seconds({0, 20, 40, 60});
  std::vector<double> v = {1, kStale, kNaN, 9};
  Result<Grid> inc = CounterIncrease(ts, v, 60'000, 60'000, 60'000);
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->values[0], 8);
  Result<Grid> only_stale =
      CounterIncrease(Seconds({0, 70}), std::vector<double>{1, kStale}, 120'000, 120'000, 60'000);
  ASSERT_TRUE(only_stale.ok());
  EXPECT_TRUE(std::isnan(only_stale->values[0]));
}

TEST(CounterTest, DuplicateTimestampsAloneAreNotEnough) {
  std::vector<int64_t> ts = Seconds({30, 30});
  std::vector<double> v = {1, 2};
  Result<Grid> rate = CounterRate(ts, v, 60'000, 60'000, 60'000);
  ASSERT_TRUE(rate.ok());
  EXPECT_TRUE(std::isnan(rate->values[0]));
}

TEST(CounterTest, IncreasesAddUpToTheWholeGrowth) {
  // Whatever the scrape jitter and resets, nothing is lost or counted twice between steps.
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> jitter(1'000, 29'000);
  std::uniform_real_distribution<double> grow(0.0, 10.0);
  std::vector<int64_t> ts;
  std::vector<double> v;
  double counter = 0, total = 0;
  int64_t t = 0;
  for (int i = 0; i < 2000; ++i) {
    t += jitter(rng);
    double g = grow(rng);
    if (i % 97 == 50) {
      counter = g;  // restart, then this much growth
    } else {
      counter += g;
    }
    if (i > 0) total += g;
    ts.push_back(t);
    v.push_back(counter);
  }
  // A grid starting at the first sample's step and ending past the last.
  Result<Grid> inc = CounterIncrease(ts, v, ts.front(), ts.back() + 60'000, 60'000);
  ASSERT_TRUE(inc.ok());
  double sum = 0;
  for (double x : inc->values) {
    if (!std::isnan(x)) sum += x;
  }
  EXPECT_NEAR(sum, total, 1e-6 * total);
}

TEST(CounterTest, ValidatesLikeRegularize) {
  EXPECT_EQ(CounterRate({}, {}, 0, 1, 0).status().message(), "step must be positive, got 0ms");
  std::vector<int64_t> ts = {2, 1};
  std::vector<double> v = {1, 2};
  EXPECT_EQ(CounterIncrease(ts, v, 0, 1, 1).status().code(), StatusCode::kInvalidArgument);
}

TEST(BoxCoxTest, RoundTripsForEachLambda) {
  std::vector<double> y = {0.5, 1, 2, 10, 1000};
  for (double lambda : {-1.0, -0.5, 0.0, 1e-9, 0.5, 1.0, 2.0}) {
    Result<BoxCox> bc = BoxCox::Fit(y, lambda, 1);
    ASSERT_TRUE(bc.ok()) << bc.status().ToString();
    EXPECT_EQ(bc->lambda(), lambda);
    // Not too near zero: for lambda > 0 the transform flattens there, and recovering y from
    // z = (y^lambda - 1) / lambda loses the digits that y^lambda lost next to the 1.
    for (double v : {0.01, 0.3, 1.0, 7.5, 1e6}) {
      EXPECT_NEAR(bc->Inverse(bc->Forward(v)), v, 1e-9 * v) << "lambda " << lambda;
    }
  }
  Result<BoxCox> log = BoxCox::Fit(y, 0.0, 1);
  EXPECT_DOUBLE_EQ(log->Forward(std::exp(2.0)), 2.0);
  Result<BoxCox> one = BoxCox::Fit(y, 1.0, 1);
  EXPECT_DOUBLE_EQ(one->Forward(5.0), 4.0);
}

TEST(BoxCoxTest, OutOfDomainValues) {
  std::vector<double> y = {1, 2};
  BoxCox half = *BoxCox::Fit(y, 0.5, 1);
  EXPECT_TRUE(std::isnan(half.Forward(-1)));
  EXPECT_DOUBLE_EQ(half.Forward(0), -2.0);
  EXPECT_EQ(half.Inverse(-3.0), 0.0);  // below the range: clamps to 0, not NaN
  BoxCox neg = *BoxCox::Fit(y, -0.5, 1);
  EXPECT_TRUE(std::isnan(neg.Forward(0)));
  EXPECT_EQ(neg.Inverse(5.0), std::numeric_limits<double>::max());
  BoxCox log = *BoxCox::Fit(y, 0.0, 1);
  EXPECT_EQ(log.Inverse(1e6), std::numeric_limits<double>::max());
}

TEST(BoxCoxTest, RejectsNonPositiveData) {
  std::vector<double> zeros = {3, 0, 2};
  std::vector<double> negative = {3, 2, -1};
  EXPECT_EQ(BoxCox::Fit(zeros, std::nullopt, 1).status().message(),
            "Box-Cox needs positive finite data, got y[1] = 0.000000");
  EXPECT_EQ(BoxCox::Fit(negative, 0.5, 1).status().message(),
            "Box-Cox needs positive finite data, got y[2] = -1.000000");
  std::vector<double> nan = {kNaN, kNaN};
  EXPECT_EQ(BoxCox::Fit(nan, 0.5, 1).status().code(), StatusCode::kFailedPrecondition);
  std::vector<double> ok = {1, 2};
  EXPECT_EQ(BoxCox::Fit(ok, 3.0, 1).status().message(),
            "Box-Cox lambda must be in [-1, 2], got 3.000000");
}

TEST(BoxCoxTest, GuerreroPicksLogForMultiplicativeSeasonality) {
  // Level grows 20-fold, seasonal swings and noise proportional to the level.
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0.0, 0.03);
  std::vector<double> y;
  for (int t = 0; t < 24 * 40; ++t) {
    double level = 100.0 * std::exp(3.0 * t / 960.0);
    double season = 1.0 + 0.4 * std::sin(2 * M_PI * t / 24.0);
    y.push_back(level * season * std::exp(noise(rng)));
  }
  Result<BoxCox> bc = BoxCox::Fit(y, std::nullopt, 24);
  ASSERT_TRUE(bc.ok()) << bc.status().ToString();
  EXPECT_NEAR(bc->lambda(), 0.0, 0.1);
}

TEST(BoxCoxTest, GuerreroPicksNoTransformForAdditiveSeasonality) {
  std::mt19937_64 rng(43);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> y;
  for (int t = 0; t < 24 * 40; ++t) {
    y.push_back(100.0 + 2.0 * t + 20.0 * std::sin(2 * M_PI * t / 24.0) + noise(rng));
  }
  Result<BoxCox> bc = BoxCox::Fit(y, std::nullopt, 24);
  ASSERT_TRUE(bc.ok());
  EXPECT_NEAR(bc->lambda(), 1.0, 0.15);
}

TEST(BoxCoxTest, GuerreroEdgeCases) {
  std::vector<double> constant(100, 5.0);
  EXPECT_EQ(BoxCox::Fit(constant, std::nullopt, 10)->lambda(), 1.0);
  std::vector<double> short_series = {1, 2, 3, 4, 5};
  EXPECT_EQ(BoxCox::Fit(short_series, std::nullopt, 24).status().message(),
            "Box-Cox lambda selection needs at least 2 blocks of 24 steps with 2 or more values "
            "each, got 0");
  std::vector<double> huge;
  for (int t = 0; t < 200; ++t) huge.push_back(1e300 * (1.0 + 0.5 * std::sin(t)) * (1 + t / 50.0));
  Result<BoxCox> bc = BoxCox::Fit(huge, std::nullopt, 10);
  ASSERT_TRUE(bc.ok());
  EXPECT_TRUE(std::isfinite(bc->lambda()));
}

TEST(BoxCoxTest, BiasAdjustedMean) {
  std::vector<double> y = {1, 2};
  BoxCox log = *BoxCox::Fit(y, 0.0, 1);
  EXPECT_DOUBLE_EQ(log.InverseMean(1.0, 0.5), std::exp(1.25));  // log-normal mean
  EXPECT_DOUBLE_EQ(log.InverseMean(1.0, 0.0), log.Inverse(1.0));
  BoxCox identity = *BoxCox::Fit(y, 1.0, 1);
  EXPECT_DOUBLE_EQ(identity.InverseMean(3.0, 4.0), identity.Inverse(3.0));  // linear: no bias
  // For lambda = 1/2 the back-transform is a square, so the Taylor form is exact:
  // E[(Z/2 + 1)^2] = (mu/2 + 1)^2 + sigma^2 / 4.
  BoxCox half = *BoxCox::Fit(y, 0.5, 1);
  EXPECT_DOUBLE_EQ(half.InverseMean(2.0, 4.0), 4.0 + 1.0);
  EXPECT_DOUBLE_EQ(half.InverseMean(2.0, -1.0), half.Inverse(2.0));  // negative variance = 0
}

}  // namespace
}  // namespace foresight::forecast
