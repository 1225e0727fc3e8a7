#include "foresight/forecast/baseline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::unique_ptr<FittedModel> MustFit(const Method& method, const std::vector<double>& y,
                                     std::vector<int> periods = {}) {
  FitContext ctx;
  ctx.periods = std::move(periods);
  auto r = method.Fit(y, ctx);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

void ExpectFinite(const PointForecast& f, int horizon) {
  ASSERT_EQ(f.mean.size(), static_cast<size_t>(horizon));
  for (double v : f.mean) EXPECT_TRUE(std::isfinite(v));
  for (double v : f.sigma) EXPECT_TRUE(std::isfinite(v) && v >= 0);
}

TEST(NaiveTest, ForecastsLastObservedValueWithRandomWalkSigma) {
  auto m = MustFit(*NewNaiveMethod(), {1, 2, 4, 5});
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->Describe(), "Naive");
  PointForecast f = m->Predict(4);
  ASSERT_EQ(f.sigma.size(), 4u);
  const double sigma1 = std::sqrt((1.0 + 4.0 + 1.0) / 3);  // errors 1, 2, 1
  for (int h = 1; h <= 4; ++h) {
    EXPECT_DOUBLE_EQ(f.mean[h - 1], 5);
    EXPECT_NEAR(f.sigma[h - 1], sigma1 * std::sqrt(h), 1e-12);
  }
}

TEST(NaiveTest, SkipsMissingValuesAndWidensAfterAGap) {
  // Errors: (3-1)/sqrt(2) across the gap, then (4-3); the trailing NaN makes the value stale.
  auto m = MustFit(*NewNaiveMethod(), {1, kNaN, 3, 4, kNaN});
  ASSERT_NE(m, nullptr);
  PointForecast f = m->Predict(2);
  const double sigma1 = std::sqrt((2.0 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(f.mean[0], 4);
  EXPECT_NEAR(f.sigma[0], sigma1 * std::sqrt(2), 1e-12);
  EXPECT_NEAR(f.sigma[1], sigma1 * std::sqrt(3), 1e-12);
}

TEST(NaiveTest, UpdateThenPredict) {
  auto m = MustFit(*NewNaiveMethod(), {3, 1, 2});
  ASSERT_NE(m, nullptr);
  const double sigma1 = m->Predict(1).sigma[0];
  m->Update(7);
  EXPECT_DOUBLE_EQ(m->Predict(3).mean[2], 7);
  EXPECT_DOUBLE_EQ(m->Predict(1).sigma[0], sigma1);  // parameters are not re-estimated
  m->Update(kNaN);
  EXPECT_DOUBLE_EQ(m->Predict(1).mean[0], 7);
  EXPECT_NEAR(m->Predict(1).sigma[0], sigma1 * std::sqrt(2), 1e-12);
}

TEST(NaiveTest, EdgeCases) {
  auto naive = NewNaiveMethod();
  EXPECT_FALSE(naive->Fit(std::vector<double>{kNaN, kNaN}, {}).ok());
  EXPECT_FALSE(naive->Fit(std::vector<double>{}, {}).ok());
  // One observation: a forecast, but no error to estimate a sigma from.
  auto one = MustFit(*naive, {kNaN, 2});
  ASSERT_NE(one, nullptr);
  EXPECT_DOUBLE_EQ(one->Predict(1).mean[0], 2);
  EXPECT_TRUE(one->Predict(1).sigma.empty());
  auto constant = MustFit(*naive, std::vector<double>(50, 3.5));
  ASSERT_NE(constant, nullptr);
  EXPECT_DOUBLE_EQ(constant->Predict(5).sigma[4], 0);
  auto huge = MustFit(*naive, {1e308, -1e308, 1e308, -1e308});
  ASSERT_NE(huge, nullptr);
  ExpectFinite(huge->Predict(10), 10);
  auto inf = MustFit(*naive, {1, std::numeric_limits<double>::infinity(), -2});
  ASSERT_NE(inf, nullptr);
  EXPECT_DOUBLE_EQ(inf->Predict(1).mean[0], -2);
}

// Share of h-step outcomes inside the central 95% band, over many simulated paths.
TEST(NaiveTest, IntervalsCoverNominallyOnRandomWalks) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0, 2);
  auto naive = NewNaiveMethod();
  int inside1 = 0, inside10 = 0;
  const int paths = 600;
  for (int p = 0; p < paths; ++p) {
    std::vector<double> y(110);
    double level = 100;
    for (double& v : y) v = level += noise(rng);
    auto m = MustFit(*naive, std::vector<double>(y.begin(), y.begin() + 100));
    ASSERT_NE(m, nullptr);
    PointForecast f = m->Predict(10);
    inside1 += std::abs(y[100] - f.mean[0]) <= 1.96 * f.sigma[0];
    inside10 += std::abs(y[109] - f.mean[9]) <= 1.96 * f.sigma[9];
  }
  EXPECT_NEAR(inside1 / static_cast<double>(paths), 0.95, 0.03);
  EXPECT_NEAR(inside10 / static_cast<double>(paths), 0.95, 0.03);
}

TEST(SeasonalNaiveTest, RepeatsTheLastCycleWithSeasonalSigma) {
  std::vector<double> y;
  for (int t = 0; t < 21; ++t) y.push_back((t % 7) * 10 + (t >= 7 ? 1 : 0) + (t >= 14 ? 1 : 0));
  auto m = MustFit(*NewSeasonalNaiveMethod(), y, {7, 28});
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->Describe(), "SNaive(7)");
  PointForecast f = m->Predict(16);
  // Every seasonal difference is 1, so sigma1 = 1 and sigma_h = sqrt(ceil(h / 7)).
  for (int h = 1; h <= 16; ++h) {
    EXPECT_DOUBLE_EQ(f.mean[h - 1], y[14 + (h - 1) % 7]) << h;
    EXPECT_NEAR(f.sigma[h - 1], std::sqrt(std::ceil(h / 7.0)), 1e-12) << h;
  }
}

TEST(SeasonalNaiveTest, MissingValuesSkipBackToTheSamePhase) {
  std::vector<double> y = {0, 1, 2, 3, 10, 11, 12, 13, 20, kNaN, 22, kNaN};
  auto m = MustFit(*NewSeasonalNaiveMethod(), y, {4});
  ASSERT_NE(m, nullptr);
  PointForecast f = m->Predict(4);
  EXPECT_DOUBLE_EQ(f.mean[0], 20);
  EXPECT_DOUBLE_EQ(f.mean[1], 11);  // two periods back
  EXPECT_DOUBLE_EQ(f.mean[2], 22);
  EXPECT_DOUBLE_EQ(f.mean[3], 13);
  // Errors: 10 at distance 1 (four times, less two missing), phase 1 and 3 unobserved last.
  const double sigma1 = f.sigma[0];
  EXPECT_NEAR(f.sigma[1], sigma1 * std::sqrt(2), 1e-12);
  EXPECT_NEAR(f.sigma[3], sigma1 * std::sqrt(2), 1e-12);
}

TEST(SeasonalNaiveTest, UpdateThenPredictFollowsTheRecursion) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> y(60);
  for (int t = 0; t < 60; ++t) y[t] = 10 * std::sin(t * 2 * M_PI / 12) + noise(rng);
  auto m = MustFit(*NewSeasonalNaiveMethod(), std::vector<double>(y.begin(), y.begin() + 48), {12});
  ASSERT_NE(m, nullptr);
  const std::vector<double> sigma = m->Predict(24).sigma;
  for (int t = 48; t < 60; ++t) m->Update(y[t]);
  PointForecast f = m->Predict(24);
  for (int h = 1; h <= 24; ++h) EXPECT_DOUBLE_EQ(f.mean[h - 1], y[48 + (h - 1) % 12]) << h;
  EXPECT_EQ(f.sigma, sigma);
  m->Update(kNaN);  // phase 0 now reads two periods back
  f = m->Predict(12);
  EXPECT_DOUBLE_EQ(f.mean[11], y[48]);
  EXPECT_NEAR(f.sigma[11], sigma[0] * std::sqrt(2), 1e-12);
  EXPECT_DOUBLE_EQ(f.mean[0], y[49]);
  EXPECT_NEAR(f.sigma[0], sigma[0], 1e-12);
}

TEST(SeasonalNaiveTest, FallsBackToNaiveWithoutTwoSeasons) {
  auto snaive = NewSeasonalNaiveMethod();
  EXPECT_EQ(MustFit(*snaive, std::vector<double>(30, 1.0), {24})->Describe(), "Naive");
  EXPECT_EQ(MustFit(*snaive, std::vector<double>(48, 1.0), {24})->Describe(), "SNaive(24)");
  EXPECT_EQ(MustFit(*snaive, std::vector<double>(48, 1.0))->Describe(), "Naive");
  EXPECT_FALSE(snaive->Fit(std::vector<double>(48, kNaN), FitContext{{24}, nullptr}).ok());
}

TEST(SeasonalNaiveTest, IntervalsCoverNominallyOnSeasonalRandomWalks) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 1);
  auto snaive = NewSeasonalNaiveMethod();
  const int m = 12, n = 120, paths = 400;
  int inside = 0, total = 0;
  for (int p = 0; p < paths; ++p) {
    std::vector<double> y(n + 2 * m);
    for (int t = 0; t < n + 2 * m; ++t) {
      y[t] = (t < m ? 5 * std::cos(t * 2 * M_PI / m) : y[t - m]) + noise(rng);
    }
    auto fit = MustFit(*snaive, std::vector<double>(y.begin(), y.begin() + n), {m});
    ASSERT_NE(fit, nullptr);
    PointForecast f = fit->Predict(2 * m);
    for (int h : {1, 7, 13, 24}) {
      inside += std::abs(y[n + h - 1] - f.mean[h - 1]) <= 1.96 * f.sigma[h - 1];
      ++total;
    }
  }
  EXPECT_NEAR(inside / static_cast<double>(total), 0.95, 0.025);
}

TEST(SeasonalNaiveTest, EdgeCasesStayFinite) {
  auto snaive = NewSeasonalNaiveMethod();
  std::vector<double> mixed;
  for (int t = 0; t < 50; ++t) mixed.push_back(t % 3 == 0 ? 0 : (t % 2 ? -1e300 : 1e300));
  auto m = MustFit(*snaive, mixed, {5});
  ASSERT_NE(m, nullptr);
  ExpectFinite(m->Predict(20), 20);
  auto c = MustFit(*snaive, std::vector<double>(50, 0.0), {5});
  ASSERT_NE(c, nullptr);
  for (double s : c->Predict(7).sigma) EXPECT_EQ(s, 0);
}

TEST(SeasonalMeanTest, UsesTheLongestPeriodWithEnoughSeasons) {
  auto smean = NewSeasonalMeanMethod(4);
  EXPECT_EQ(MustFit(*smean, std::vector<double>(4 * 168, 1.0), {24, 168})->Describe(),
            "SMean(168x4)");
  EXPECT_EQ(MustFit(*smean, std::vector<double>(3 * 168, 1.0), {24, 168})->Describe(),
            "SMean(24x4)");
  EXPECT_EQ(MustFit(*smean, std::vector<double>(60, 1.0), {24, 168})->Describe(), "SMean(24x2)");
  EXPECT_EQ(MustFit(*smean, std::vector<double>(40, 1.0), {24, 168})->Describe(), "Mean(4)");
}

TEST(SeasonalMeanTest, AveragesTheLastSeasonsAtEachPhase) {
  std::vector<double> y;
  for (int c = 0; c < 5; ++c) {
    for (int j = 0; j < 3; ++j) y.push_back(j * 100 + c);
  }
  y[13] = kNaN;  // phase 1 of the last cycle: the mean goes one cycle further back
  auto m = MustFit(*NewSeasonalMeanMethod(2), y, {3});
  ASSERT_NE(m, nullptr);
  PointForecast f = m->Predict(6);
  EXPECT_DOUBLE_EQ(f.mean[0], (3 + 4) / 2.0);
  EXPECT_DOUBLE_EQ(f.mean[1], 100 + (2 + 3) / 2.0);
  EXPECT_DOUBLE_EQ(f.mean[2], 200 + (3 + 4) / 2.0);
  EXPECT_DOUBLE_EQ(f.mean[3], f.mean[0]);
  m->Update(10);
  EXPECT_DOUBLE_EQ(m->Predict(3).mean[2], (4 + 10) / 2.0);
}

TEST(SeasonalMeanTest, RecoversANoisyStablePatternWithFlatSigma) {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> noise(0, 3);
  std::vector<double> truth(24), y;
  for (int j = 0; j < 24; ++j) truth[j] = 50 + 20 * std::sin(j * 2 * M_PI / 24);
  for (int t = 0; t < 24 * 30; ++t) y.push_back(truth[t % 24] + noise(rng));
  auto m = MustFit(*NewSeasonalMeanMethod(8), y, {24});
  ASSERT_NE(m, nullptr);
  PointForecast f = m->Predict(72);
  double err = 0;
  for (int h = 0; h < 72; ++h) err = std::max(err, std::abs(f.mean[h] - truth[h % 24]));
  EXPECT_LT(err, 4 * 3 / std::sqrt(8.0));
  // Stable pattern + noise: sigma ~ 3 * sqrt(1 + 1/8) at every horizon.
  EXPECT_NEAR(f.sigma[0], 3 * std::sqrt(1 + 1 / 8.0), 0.3);
  EXPECT_NEAR(f.sigma[71] / f.sigma[0], 1, 0.1);
}

TEST(SeasonalMeanTest, EdgeCases) {
  auto smean = NewSeasonalMeanMethod();
  EXPECT_FALSE(smean->Fit(std::vector<double>(10, kNaN), FitContext{{2}, nullptr}).ok());
  auto c = MustFit(*smean, std::vector<double>(30, -7.0), {5});
  ASSERT_NE(c, nullptr);
  PointForecast f = c->Predict(11);
  ExpectFinite(f, 11);
  for (double v : f.mean) EXPECT_DOUBLE_EQ(v, -7);
  std::vector<double> huge;
  for (int t = 0; t < 40; ++t) huge.push_back(t % 2 ? 1.7e308 : -1.7e308);
  auto h = MustFit(*smean, huge, {4});
  ASSERT_NE(h, nullptr);
  ExpectFinite(h->Predict(9), 9);
  auto one = MustFit(*smean, {kNaN, 4}, {});
  ASSERT_NE(one, nullptr);
  EXPECT_DOUBLE_EQ(one->Predict(2).mean[1], 4);
}

}  // namespace
}  // namespace foresight::forecast
