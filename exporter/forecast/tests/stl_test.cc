#include "foresight/forecast/stl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Rms(const std::vector<double>& a, const std::vector<double>& b, int from, int to) {
  double s = 0;
  for (int i = from; i < to; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / (to - from));
}

// A daily (24) and weekly (168) pattern on a slow trend, with their truths kept apart.
struct TwoSeasons {
  std::vector<double> y, daily, weekly, trend;
};

TwoSeasons MakeTwoSeasons(int n, double noise_sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, noise_sd);
  TwoSeasons s;
  for (int t = 0; t < n; ++t) {
    const int hour = t % 24, day = (t / 24) % 7;
    s.daily.push_back(8 * std::sin(2 * M_PI * hour / 24) + 3 * std::cos(4 * M_PI * hour / 24));
    // Weekly profile with a zero mean over the week and no daily component.
    s.weekly.push_back(day >= 5 ? -5 : 2);
    s.trend.push_back(50 + 0.01 * t + 2 * std::sin(2 * M_PI * t / 2000));
    s.y.push_back(s.trend.back() + s.daily.back() + s.weekly.back() + noise(rng));
  }
  return s;
}

TEST(StlTest, RecoversAKnownSeasonalPattern) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0, 0.5);
  const int p = 12, n = 240;
  const double pattern[p] = {0, 3, 5, 6, 4, 1, -1, -4, -6, -5, -2, -1};  // sums to 0
  std::vector<double> y(n), seasonal(n), trend(n);
  for (int t = 0; t < n; ++t) {
    seasonal[t] = pattern[t % p];
    trend[t] = 20 + 0.1 * t + 3 * std::sin(2 * M_PI * t / 150);
    y[t] = trend[t] + seasonal[t] + noise(rng);
  }
  auto r = Stl(y, p, StlOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LT(Rms(r->seasonal, seasonal, 0, n), 0.35);
  EXPECT_LT(Rms(r->trend, trend, 0, n), 0.4);
  for (int t = 0; t < n; ++t) {
    EXPECT_NEAR(r->seasonal[t] + r->trend[t] + r->remainder[t], y[t], 1e-9);
  }
  // A wider seasonal window averages more cycles: the fixed pattern comes out closer.
  StlOptions wide;
  wide.seasonal_window = 35;
  auto w = Stl(y, p, wide);
  ASSERT_TRUE(w.ok());
  EXPECT_LT(Rms(w->seasonal, seasonal, 0, n), Rms(r->seasonal, seasonal, 0, n));
}

TEST(StlTest, RobustIterationsResistOutliers) {
  std::mt19937_64 rng(2);
  std::normal_distribution<double> noise(0, 0.3);
  const int p = 7, n = 140;
  std::vector<double> y(n), seasonal(n);
  for (int t = 0; t < n; ++t) {
    seasonal[t] = 4 * std::sin(2 * M_PI * t / p);
    y[t] = 10 + seasonal[t] + noise(rng);
  }
  const std::vector<int> outliers = {20, 55, 56, 90, 121};
  for (int t : outliers) y[t] += 40;
  StlOptions plain, robust;
  robust.inner_iterations = 1;
  robust.outer_iterations = 10;
  auto a = Stl(y, p, plain);
  auto b = Stl(y, p, robust);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(Rms(b->seasonal, seasonal, 0, n), 0.5);
  EXPECT_GT(Rms(a->seasonal, seasonal, 0, n), 2 * Rms(b->seasonal, seasonal, 0, n));
  for (int t : outliers) EXPECT_LT(b->robustness_weights[t], 0.01) << t;
  EXPECT_GT(b->robustness_weights[10], 0.5);
}

TEST(StlTest, RejectsBadInput) {
  std::vector<double> y(30, 1.0);
  EXPECT_EQ(Stl(y, 1, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Stl(y, 16, {}).status().code(), StatusCode::kFailedPrecondition);
  y[3] = kNaN;
  EXPECT_EQ(Stl(y, 5, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST(StlTest, ConstantSeriesHasZeroSeasonal) {
  auto r = Stl(std::vector<double>(50, 7.0), 5, {});
  ASSERT_TRUE(r.ok());
  for (int t = 0; t < 50; ++t) {
    EXPECT_NEAR(r->seasonal[t], 0, 1e-9);
    EXPECT_NEAR(r->trend[t], 7, 1e-9);
  }
}

TEST(FillMissingTest, LinearAcrossShortGapsAndAtTheEnds) {
  auto r = FillMissing(std::vector<double>{kNaN, 1, kNaN, kNaN, 4, kNaN}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<double>{1, 1, 2, 3, 4, 4}));
  EXPECT_FALSE(FillMissing(std::vector<double>{kNaN, kNaN}, {}).ok());
  EXPECT_FALSE(FillMissing(std::vector<double>{}, {}).ok());
}

TEST(FillMissingTest, SeasonalAcrossLongGaps) {
  // A periodic pattern on a line: the seasonal fill plus the joining ramp is exact.
  const int p = 24;
  std::vector<double> truth(200), y;
  for (int t = 0; t < 200; ++t) truth[t] = 0.1 * t + 5 * std::sin(2 * M_PI * t / p);
  y = truth;
  for (int t = 60; t < 90; ++t) y[t] = kNaN;         // interior, > one period
  for (int t = 0; t < 10; ++t) y[t] = kNaN;          // leading
  for (int t = 185; t < 200; ++t) y[t] = kNaN;       // trailing
  y[120] = std::numeric_limits<double>::infinity();  // short: linear
  auto r = FillMissing(y, {p});
  ASSERT_TRUE(r.ok());
  for (int t = 60; t < 90; ++t) EXPECT_NEAR((*r)[t], truth[t], 1e-9) << t;
  for (int t = 0; t < 10; ++t) EXPECT_NEAR((*r)[t], truth[t] + 0.1 * p, 1e-9) << t;
  EXPECT_NEAR((*r)[120], (truth[119] + truth[121]) / 2, 1e-12);
  // The ends are plain seasonal naive: no trend beyond the last observation.
  for (int t = 185; t < 200; ++t) EXPECT_NEAR((*r)[t], truth[t] - 0.1 * p, 1e-9) << t;
}

TEST(MstlTest, SeparatesTwoKnownSeasonalities) {
  TwoSeasons s = MakeTwoSeasons(1008, 1.0, 3);
  auto d = Mstl(s.y, {168, 24}, MstlOptions{});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->periods, (std::vector<int>{24, 168}));
  ASSERT_EQ(d->seasonal.size(), 2u);
  // Away from the ends, where LOESS extrapolates.
  const int from = 168, to = 1008 - 168;
  EXPECT_LT(Rms(d->seasonal[0], s.daily, from, to), 0.6);
  EXPECT_LT(Rms(d->seasonal[1], s.weekly, from, to), 1.0);
  EXPECT_LT(Rms(d->trend, s.trend, from, to), 1.0);
  for (size_t t = 0; t < s.y.size(); ++t) {
    const double sum = d->trend[t] + d->seasonal[0][t] + d->seasonal[1][t] + d->remainder[t];
    ASSERT_NEAR(sum, s.y[t], 1e-9);
  }
}

TEST(MstlTest, DropsPeriodsWithoutTwoCycles) {
  TwoSeasons s = MakeTwoSeasons(300, 1.0, 4);
  auto d = Mstl(s.y, {24, 168, 24, 1, 0}, MstlOptions{});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->periods, std::vector<int>{24});
  auto none = Mstl(std::vector<double>{1, 2, 3, 4, 5}, {24}, MstlOptions{});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->periods.empty());
  EXPECT_TRUE(none->seasonal.empty());
  for (int t = 0; t < 5; ++t) EXPECT_NEAR(none->trend[t] + none->remainder[t], t + 1, 1e-12);
}

TEST(MstlTest, FillsMissingValuesBeforeDecomposing) {
  TwoSeasons s = MakeTwoSeasons(1008, 1.0, 5);
  std::vector<double> y = s.y;
  for (int t = 400; t < 440; ++t) y[t] = kNaN;
  for (int t = 700; t < 1008; t += 17) y[t] = kNaN;
  auto d = Mstl(y, {24, 168}, MstlOptions{});
  ASSERT_TRUE(d.ok());
  EXPECT_LT(Rms(d->seasonal[0], s.daily, 168, 840), 0.7);
  for (double v : d->remainder) ASSERT_TRUE(std::isfinite(v));
  EXPECT_FALSE(Mstl(std::vector<double>(400, kNaN), {24}, MstlOptions{}).ok());
}

TEST(MstlTest, RobustOptionAndHugeValues) {
  TwoSeasons s = MakeTwoSeasons(480, 0.5, 6);
  for (double& v : s.y) v *= 2e306;  // up to ~1.5e308: sums of a few would overflow
  MstlOptions o;
  o.robust = true;
  auto d = Mstl(s.y, {24}, o);
  ASSERT_TRUE(d.ok());
  for (size_t t = 0; t < s.y.size(); ++t) {
    ASSERT_TRUE(std::isfinite(d->trend[t]) && std::isfinite(d->seasonal[0][t]) &&
                std::isfinite(d->remainder[t]));
  }
}

// A fake adjusted-series model: forecasts zero and records what it was updated with, so the
// wrapper's arithmetic can be checked on its own.
class RecordingModel final : public FittedModel {
 public:
  explicit RecordingModel(std::vector<double>* seen) : seen_(seen) {}
  std::string Describe() const override { return "Zero"; }
  PointForecast Predict(int horizon) const override {
    return {std::vector<double>(horizon, 0.0), std::vector<double>(horizon, 1.0)};
  }
  void Update(double y) override { seen_->push_back(y); }

 private:
  std::vector<double>* seen_;
};

TEST(MstlModelTest, AddsTheLastCycleAndUpdatesTheAdjustedModel) {
  TwoSeasons s = MakeTwoSeasons(480, 0.5, 7);
  std::vector<double> fitted_on, seen;
  AdjustedFitter fake = [&](std::span<const double> adjusted) {
    fitted_on.assign(adjusted.begin(), adjusted.end());
    return Result<std::unique_ptr<FittedModel>>(std::make_unique<RecordingModel>(&seen));
  };
  auto m = FitSeasonallyAdjusted(s.y, {24}, {}, fake);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->Describe(), "MSTL(24)+Zero");
  auto d = Mstl(s.y, {24}, MstlOptions{});
  ASSERT_TRUE(d.ok());
  for (int t = 0; t < 480; ++t) {
    ASSERT_NEAR(fitted_on[t], d->trend[t] + d->remainder[t], 1e-9);
  }
  PointForecast f = (*m)->Predict(48);
  for (int h = 0; h < 48; ++h) EXPECT_DOUBLE_EQ(f.mean[h], d->seasonal[0][456 + h % 24]);
  EXPECT_EQ(f.sigma, std::vector<double>(48, 1.0));
  (*m)->Update(100);
  (*m)->Update(kNaN);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_DOUBLE_EQ(seen[0], 100 - f.mean[0]);
  EXPECT_TRUE(std::isnan(seen[1]));
  EXPECT_DOUBLE_EQ((*m)->Predict(1).mean[0], f.mean[2]);

  SeasonalAdjustmentOptions two;
  two.average_last_two_cycles = true;
  auto m2 = FitSeasonallyAdjusted(s.y, {24}, two, fake);
  ASSERT_TRUE(m2.ok());
  f = (*m2)->Predict(24);
  for (int h = 0; h < 24; ++h) {
    EXPECT_NEAR(f.mean[h], (d->seasonal[0][456 + h] + d->seasonal[0][432 + h]) / 2, 1e-12);
  }
  // Without a usable period the adjusted model sees y itself.
  auto plain = FitSeasonallyAdjusted(s.y, {480}, {}, fake);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->Describe(), "Zero");
  EXPECT_EQ(fitted_on, s.y);
}

TEST(MstlMethodTest, ForecastsTwoKnownSeasonalities) {
  TwoSeasons s = MakeTwoSeasons(960 + 168, 1.0, 8);
  std::vector<double> train(s.y.begin(), s.y.begin() + 960);
  auto method = NewMstlMethod();
  EXPECT_EQ(method->name(), "mstl");
  auto m = method->Fit(train, FitContext{{24, 168}, nullptr});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->Describe().rfind("MSTL(24,168)+ETS(A,", 0), 0u) << (*m)->Describe();
  PointForecast f = (*m)->Predict(168);
  ASSERT_EQ(f.sigma.size(), 168u);
  double mae = 0;
  for (int h = 0; h < 168; ++h) {
    const int t = 960 + h;
    mae += std::abs(f.mean[h] - (s.trend[t] + s.daily[t] + s.weekly[t])) / 168;
  }
  EXPECT_LT(mae, 1.0);
  EXPECT_GT(f.sigma[0], 0.7);
  EXPECT_LT(f.sigma[0], 1.5);
}

TEST(MstlMethodTest, EdgeCases) {
  auto method = NewMstlMethod();
  const FitContext ctx{{24, 168}, nullptr};
  EXPECT_FALSE(method->Fit(std::vector<double>(500, kNaN), ctx).ok());
  for (const std::vector<double>& y :
       {std::vector<double>(500, 3.0), std::vector<double>(500, 0.0), std::vector<double>(30, -2.0),
        std::vector<double>(400, 1e300), std::vector<double>(400, -1.7e308)}) {
    auto m = method->Fit(y, ctx);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    PointForecast f = (*m)->Predict(200);
    ASSERT_EQ(f.mean.size(), 200u);
    for (size_t h = 0; h < f.mean.size(); ++h) {
      ASSERT_TRUE(std::isfinite(f.mean[h]));
      EXPECT_NEAR(f.mean[h], y[0], 1e-6 * std::max(1.0, std::abs(y[0])));
    }
    for (double v : f.sigma) ASSERT_TRUE(std::isfinite(v) && v >= 0);
  }
}

}  // namespace
}  // namespace foresight::forecast
