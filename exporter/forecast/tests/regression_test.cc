#include "foresight/forecast/regression.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "foresight/common/timeparse.h"
#include "foresight/forecast/calendar.h"

namespace foresight::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTwoPi = 2 * std::numbers::pi;

// The trend of the simulated series: slope 0.05 per step, 0.15 from step 300, -0.05 from 600.
double TrueTrend(double t) {
  double v = 50 + 0.05 * t;
  if (t > 300) v += 0.10 * (t - 300);
  if (t > 600) v -= 0.20 * (t - 600);
  return v;
}

double TrueSeason(int t) {
  return 3.0 * std::sin(kTwoPi * t / 24) + 1.0 * std::cos(kTwoPi * 2 * t / 24) +
         2.0 * std::sin(kTwoPi * t / 168);
}

std::vector<double> Simulate(int n, uint64_t seed, double noise_sd = 0.5) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, noise_sd);
  std::vector<double> y(n);
  for (int t = 0; t < n; ++t) y[t] = TrueTrend(t) + TrueSeason(t) + noise(rng);
  return y;
}

std::unique_ptr<RegressionModel> MustFit(std::span<const double> y, const FitContext& ctx,
                                         const RegressionOptions& options = {}) {
  auto fit = FitRegression(y, ctx, options);
  EXPECT_TRUE(fit.ok()) << fit.status().ToString();
  return fit.ok() ? std::move(*fit) : nullptr;
}

void ExpectSane(const PointForecast& f, int horizon) {
  ASSERT_EQ(f.mean.size(), static_cast<size_t>(horizon));
  ASSERT_EQ(f.sigma.size(), static_cast<size_t>(horizon));
  for (int h = 0; h < horizon; ++h) {
    EXPECT_TRUE(std::isfinite(f.mean[h]));
    EXPECT_TRUE(std::isfinite(f.sigma[h]));
    EXPECT_GE(f.sigma[h], 0);
  }
}

TEST(RegressionTest, RecoversSlopeChangesAndSeasonalAmplitudes) {
  std::vector<double> y = Simulate(960, 1);
  FitContext ctx{{24, 168}, nullptr};
  auto m = MustFit(y, ctx);
  ASSERT_TRUE(m);
  // Between the true changepoints the fitted trend has the true slope; the slope at one
  // instant is noisier (it rests on the few steps between two candidate changepoints).
  auto slope = [&](double a, double b) { return (m->TrendAt(b) - m->TrendAt(a)) / (b - a); };
  EXPECT_NEAR(slope(50, 250), 0.05, 0.01);
  EXPECT_NEAR(slope(350, 550), 0.15, 0.01);
  EXPECT_NEAR(slope(650, 950), -0.05, 0.01);
  EXPECT_NEAR(m->SlopeAt(959), -0.05, 0.01);  // the slope the forecast extrapolates
  for (int t = 0; t < 960; t += 10) {
    // Candidate changepoints are 30.7 steps apart and the true kinks fall between two of them:
    // the fit rounds each kink off over about one spacing.
    bool near_kink = std::abs(t - 300) <= 35 || std::abs(t - 600) <= 35;
    EXPECT_NEAR(m->TrendAt(t), TrueTrend(t), near_kink ? 2.0 : 0.5) << t;
  }
  EXPECT_NEAR(m->HarmonicAmplitude(24, 1), 3.0, 0.15);
  EXPECT_NEAR(m->HarmonicAmplitude(24, 2), 1.0, 0.15);
  EXPECT_NEAR(m->HarmonicAmplitude(24, 3), 0.0, 0.15);
  EXPECT_NEAR(m->HarmonicAmplitude(168, 1), 2.0, 0.2);
  EXPECT_EQ(m->HarmonicAmplitude(168, 6), 0.0);  // K = 5 for the longer period
  std::vector<double> daily = m->SeasonalProfile(24);
  ASSERT_EQ(daily.size(), 24u);
  for (int phase = 0; phase < 24; ++phase) {
    double want = 3.0 * std::sin(kTwoPi * phase / 24) + std::cos(kTwoPi * 2 * phase / 24);
    EXPECT_NEAR(daily[phase], want, 0.35) << phase;
  }
  EXPECT_EQ(m->Describe(), "regression(changepoints=25, seasonal=24x10+168x5)");

  // The forecast follows the last slope and the seasonality; sigma is near the noise and grows
  // slowly with the horizon.
  PointForecast f = m->Predict(48);
  ExpectSane(f, 48);
  for (int h = 0; h < 48; ++h) {
    int t = 960 + h;
    EXPECT_NEAR(f.mean[h], TrueTrend(t) + TrueSeason(t), 1.5) << h;
  }
  EXPECT_NEAR(f.sigma[0], 0.5, 0.1);
  EXPECT_GE(f.sigma[47], f.sigma[0]);
  EXPECT_LT(f.sigma[47], 2 * f.sigma[0]);
}

TEST(RegressionTest, HeldOutCheckPrefersAStiffTrendForALine) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0.0, 2.0);
  std::vector<double> y(500);
  for (int t = 0; t < 500; ++t) y[t] = 10 + 0.2 * t + noise(rng);
  auto m = MustFit(y, FitContext{});
  ASSERT_TRUE(m);
  EXPECT_GE(m->changepoint_penalty(), 1.0);
  for (double t : {50.0, 250.0, 450.0, 600.0}) EXPECT_NEAR(m->SlopeAt(t), 0.2, 0.02) << t;
}

TEST(RegressionTest, RecoversACalendarEventAsACoefficient) {
  // A weekly six-hour promotion lifts the series by 10.
  Calendar cal = *ParseCalendar(
      "events:\n"
      "  - name: promo\n"
      "    start: 2024-01-03T12:00:00Z\n"
      "    end: 2024-01-03T18:00:00Z\n"
      "    every: 1w\n"
      "  - name: far_future\n"
      "    start: 2030-01-01T00:00:00Z\n"
      "    end: 2030-01-02T00:00:00Z\n",
      "inline.yaml");
  const int n = 24 * 35, horizon = 24 * 7;
  int64_t start = *ParseTimestampMs("2024-01-01T01:00:00Z", 0);
  auto regressors = cal.Regressors(start, 3600 * 1000, n + horizon);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> y(n);
  for (int t = 0; t < n; ++t) {
    y[t] =
        100 + 0.01 * t + 5 * std::sin(kTwoPi * t / 24) + 10 * regressors->values(t, 0) + noise(rng);
  }
  FitContext ctx{{24, 168}, regressors};
  auto m = MustFit(y, ctx);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->RegressorCoefficient("promo").has_value());
  EXPECT_NEAR(*m->RegressorCoefficient("promo"), 10.0, 0.8);
  // No variation in the history: left out rather than guessed.
  EXPECT_FALSE(m->RegressorCoefficient("far_future").has_value());
  EXPECT_EQ(m->Describe(), "regression(changepoints=25, seasonal=24x10+168x5, regressors=1)");

  PointForecast f = m->Predict(horizon);
  ExpectSane(f, horizon);
  // The next promo in the forecast window shows the uplift.
  for (int h = 0; h < horizon; ++h) {
    double event = regressors->values(n + h, 0);
    double base = 100 + 0.01 * (n + h) + 5 * std::sin(kTwoPi * (n + h) / 24);
    EXPECT_NEAR(f.mean[h], base + 10 * event, 1.5) << h;
  }
}

TEST(RegressionTest, MethodInterfaceAndUpdate) {
  auto method = NewRegressionMethod();
  EXPECT_EQ(method->name(), "regression");
  std::vector<double> y = Simulate(600, 2);
  FitContext ctx{{24}, nullptr};
  std::span<const double> history(y.data(), 500);
  auto a = method->Fit(history, ctx);
  ASSERT_TRUE(a.ok()) << a.status().ToString();

  // Without the level offset, Update only moves the time index.
  RegressionOptions no_level;
  no_level.update_level_weight = 0;
  auto b = FitRegression(history, ctx, no_level).value();
  PointForecast before = b->Predict(10);
  b->Update(y[500]);
  b->Update(kNaN);
  PointForecast after = b->Predict(8);
  for (int h = 0; h < 8; ++h) EXPECT_DOUBLE_EQ(after.mean[h], before.mean[h + 2]);

  // With it, a persistent shift is followed between refits.
  auto c = std::move(*a);
  PointForecast base = c->Predict(300);
  for (int h = 0; h < 100; ++h) c->Update(base.mean[h] + 20.0);
  PointForecast shifted = c->Predict(1);
  EXPECT_NEAR(shifted.mean[0] - base.mean[100], 20.0, 0.2);
}

TEST(RegressionTest, ToleratesMissingSteps) {
  std::vector<double> y = Simulate(960, 4);
  for (int t = 200; t < 260; ++t) y[t] = kNaN;   // a gap
  for (int t = 0; t < 960; t += 7) y[t] = kNaN;  // scattered losses
  auto m = MustFit(y, FitContext{{24, 168}, nullptr});
  ASSERT_TRUE(m);
  EXPECT_NEAR(m->SlopeAt(900), -0.05, 0.015);
  EXPECT_NEAR(m->HarmonicAmplitude(24, 1), 3.0, 0.2);
  ExpectSane(m->Predict(24), 24);
}

TEST(RegressionTest, DropsPeriodsWithFewerThanTwoSeasons) {
  std::vector<double> y = Simulate(300, 6);  // 12.5 days: daily yes, weekly no
  auto m = MustFit(y, FitContext{{24, 168}, nullptr});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->seasonal_periods(), (std::vector<int>{24}));
  EXPECT_EQ(m->HarmonicAmplitude(168, 1), 0.0);
  EXPECT_EQ(m->SeasonalProfile(168), std::vector<double>(168, 0.0));
  ExpectSane(m->Predict(200), 200);
}

TEST(RegressionTest, ShortSeriesGetFewerHarmonics) {
  std::vector<double> y = Simulate(60, 10);  // 2.5 days of hourly data
  auto m = MustFit(y, FitContext{{24}, nullptr});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->Describe(), "regression(changepoints=25, seasonal=24x3)");
  EXPECT_NEAR(m->HarmonicAmplitude(24, 1), 3.0, 0.5);
  EXPECT_EQ(m->HarmonicAmplitude(24, 4), 0.0);
  ExpectSane(m->Predict(24), 24);
}

TEST(RegressionTest, ConstantSeries) {
  std::vector<double> y(400, 42.0);
  auto m = MustFit(y, FitContext{{24}, nullptr});
  ASSERT_TRUE(m);
  PointForecast f = m->Predict(30);
  ExpectSane(f, 30);
  for (int h = 0; h < 30; ++h) {
    EXPECT_NEAR(f.mean[h], 42.0, 1e-6);
    EXPECT_NEAR(f.sigma[h], 0.0, 1e-6);
  }
}

TEST(RegressionTest, HugeValues) {
  std::vector<double> y = Simulate(960, 7);
  for (double& v : y) v = 1e12 + 1e9 * v;
  auto m = MustFit(y, FitContext{{24, 168}, nullptr});
  ASSERT_TRUE(m);
  EXPECT_NEAR(m->SlopeAt(900) / 1e9, -0.05, 0.01);
  EXPECT_NEAR(m->HarmonicAmplitude(24, 1) / 1e9, 3.0, 0.15);
  ExpectSane(m->Predict(100), 100);
  std::vector<double> extreme(100);
  for (int t = 0; t < 100; ++t) extreme[t] = 1e307 * (1 + (t % 3));
  auto e = MustFit(extreme, FitContext{{3}, nullptr});
  ASSERT_TRUE(e);
  ExpectSane(e->Predict(1000), 1000);
}

TEST(RegressionTest, TinyAndInvalidInputs) {
  std::vector<double> all_nan(100, kNaN);
  auto r = FitRegression(all_nan, FitContext{});
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "needs at least 2 observations, got 0");
  std::vector<double> one = {kNaN, 3.0, kNaN};
  EXPECT_EQ(FitRegression(one, FitContext{}).status().message(),
            "needs at least 2 observations, got 1");
  std::vector<double> two = {1.0, kNaN, 3.0};
  auto m = MustFit(two, FitContext{{24}, nullptr});
  ASSERT_TRUE(m);
  PointForecast f = m->Predict(2);
  ExpectSane(f, 2);
  EXPECT_NEAR(f.mean[0], 4.0, 1e-6);  // the line through both points, at step 3

  std::vector<double> inf = {1.0, std::numeric_limits<double>::infinity()};
  EXPECT_EQ(FitRegression(inf, FitContext{}).status().message(), "y[1] is infinite");
  std::vector<double> y(50, 1.0);
  EXPECT_EQ(FitRegression(y, FitContext{{1}, nullptr}).status().message(),
            "seasonal period must be at least 2, got 1");
  auto short_regressors = std::make_shared<Regressors>();
  short_regressors->names = {"x"};
  short_regressors->values = Eigen::MatrixXd::Zero(10, 1);
  EXPECT_EQ(FitRegression(y, FitContext{{}, short_regressors}).status().message(),
            "regressors have 10 rows, need at least the 50 of the history");
  EXPECT_TRUE(MustFit(y, FitContext{})->Predict(0).mean.empty());
  RegressionOptions bad;
  bad.changepoint_range = 1.5;
  EXPECT_EQ(FitRegression(y, FitContext{}, bad).status().message(),
            "changepoint_range must be in (0, 1], got 1.500000");
}

TEST(RegressionTest, FixedPenaltyIsUsed) {
  std::vector<double> y = Simulate(960, 8);
  RegressionOptions options;
  options.changepoint_penalty = 1000.0;
  auto stiff = MustFit(y, FitContext{{24}, nullptr}, options);
  ASSERT_TRUE(stiff);
  EXPECT_EQ(stiff->changepoint_penalty(), 1000.0);
  // So stiff that the slope barely changes from start to end.
  EXPECT_NEAR(stiff->SlopeAt(100), stiff->SlopeAt(900), 0.02);
}

TEST(RegressionTest, FitIsFast) {
  // Reported, not asserted: wall-clock limits belong in benchmarks.
  std::vector<double> y = Simulate(960, 9);
  FitContext ctx{{24, 168}, nullptr};
  auto t0 = std::chrono::steady_clock::now();
  constexpr int kRuns = 20;
  for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(MustFit(y, ctx));
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("regression fit, n=960, periods {24,168}: %.2f ms\n", us / 1000.0 / kRuns);
}

}  // namespace
}  // namespace foresight::forecast
