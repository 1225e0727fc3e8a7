// The engine with every real method, on the edge cases a production series throws at it:
// a sane forecast with finite bands, or a clear error; never a crash, never a NaN band.

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "foresight/forecast/engine.h"
#include "foresight/forecast/registry.h"

namespace foresight::forecast {
namespace {

Engine AllMethods(ValueTransform t = ValueTransform::kNone) {
  auto methods = MethodsByName({});
  EXPECT_TRUE(methods.ok());
  EngineOptions o;
  o.transform = t;
  o.per_method = true;
  return Engine(*methods, o);
}

void ExpectFinite(const ForecastResult& r, int h) {
  ASSERT_EQ(static_cast<int>(r.forecast.mean.size()), h);
  for (int j = 0; j < h; ++j) {
    ASSERT_TRUE(std::isfinite(r.forecast.mean[j])) << r.description << " step " << j;
    for (const Band& b : r.forecast.bands) {
      ASSERT_TRUE(std::isfinite(b.lower[j]) && std::isfinite(b.upper[j])) << r.description;
      ASSERT_LE(b.lower[j], b.upper[j]);
    }
  }
  for (size_t k = 0; k < r.per_method.size(); ++k) {
    for (double v : r.per_method[k].mean) ASSERT_TRUE(std::isfinite(v)) << r.scores[k].method;
  }
}

std::vector<double> Seasonal(std::mt19937_64& rng, int n, int period, double level, double amp,
                             double noise) {
  std::normal_distribution<double> e(0, noise);
  std::vector<double> y(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) {
    y[static_cast<size_t>(t)] = level + amp * std::sin(2 * M_PI * t / period) + e(rng);
  }
  return y;
}

TEST(EngineModelsTest, ConstantSeries) {
  std::vector<double> y(500, 42.0);
  FitContext ctx;
  ctx.periods = {24};
  auto r = AllMethods().Forecast(y, 48, ctx);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectFinite(*r, 48);
  EXPECT_NEAR(r->forecast.mean[10], 42.0, 1e-6);
}

TEST(EngineModelsTest, AllMissingIsAClearError) {
  std::vector<double> y(300, NAN);
  auto r = AllMethods().Forecast(y, 12, FitContext{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "the series has no observed values");
}

TEST(EngineModelsTest, FewerThanTwoSeasons) {
  std::mt19937_64 rng(1);
  std::vector<double> y = Seasonal(rng, 30, 24, 100, 10, 1);
  FitContext ctx;
  ctx.periods = {24, 168};
  auto r = AllMethods().Forecast(y, 24, ctx);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectFinite(*r, 24);
}

TEST(EngineModelsTest, HugeValues) {
  std::mt19937_64 rng(2);
  std::vector<double> y = Seasonal(rng, 600, 24, 1e12, 1e10, 1e8);
  FitContext ctx;
  ctx.periods = {24};
  auto r = AllMethods().Forecast(y, 48, ctx);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectFinite(*r, 48);
  EXPECT_NEAR(r->forecast.mean[5], 1e12 + 1e10 * std::sin(2 * M_PI * (600 + 5) / 24), 5e9);
}

TEST(EngineModelsTest, ZerosAndNegativesWithALogTransformFallBack) {
  std::mt19937_64 rng(3);
  std::vector<double> y = Seasonal(rng, 400, 24, 0, 10, 1);  // crosses zero
  FitContext ctx;
  ctx.periods = {24};
  auto r = AllMethods(ValueTransform::kLog).Forecast(y, 24, ctx);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectFinite(*r, 24);
  EXPECT_NE(r->description.find("untransformed"), std::string::npos) << r->description;
}

TEST(EngineModelsTest, LogTransformKeepsBandsPositiveAndOrdered) {
  std::mt19937_64 rng(4);
  std::lognormal_distribution<double> e(0, 0.05);
  std::vector<double> y(24 * 30);
  for (size_t t = 0; t < y.size(); ++t) {
    y[t] = (50 + 0.05 * t) * (1.5 + std::sin(2 * M_PI * t / 24)) * e(rng);
  }
  FitContext ctx;
  ctx.periods = {24};
  auto r = AllMethods(ValueTransform::kLog).Forecast(y, 48, ctx);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectFinite(*r, 48);
  EXPECT_EQ(r->description.rfind("boxcox(0): ", 0), 0u) << r->description;
  for (int j = 0; j < 48; ++j) {
    EXPECT_GT(r->forecast.bands[1].lower[j], 0);
    EXPECT_LE(r->forecast.bands[1].lower[j], r->forecast.bands[0].lower[j]);
    EXPECT_LE(r->forecast.bands[0].lower[j], r->forecast.mean[j]);
    EXPECT_LE(r->forecast.mean[j], r->forecast.bands[0].upper[j]);
    EXPECT_LE(r->forecast.bands[0].upper[j], r->forecast.bands[1].upper[j]);
  }
}

TEST(EngineModelsTest, GapIsNotReadAsZero) {
  std::mt19937_64 rng(5);
  std::vector<double> y = Seasonal(rng, 24 * 20, 24, 1000, 50, 5);
  for (size_t t = 200; t < 260; ++t) y[t] = NAN;
  for (size_t t = y.size() - 5; t < y.size() - 2; ++t) y[t] = NAN;  // missing near the end too
  FitContext ctx;
  ctx.periods = {24};
  auto r = AllMethods().Forecast(y, 24, ctx);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectFinite(*r, 24);
  for (double v : r->forecast.mean) EXPECT_GT(v, 800);  // zeros would drag it far down
}

TEST(EngineModelsTest, DetectsThePeriodWhenNoneIsConfigured) {
  std::mt19937_64 rng(6);
  std::vector<double> y = Seasonal(rng, 24 * 25, 24, 100, 20, 2);
  auto r = AllMethods().Forecast(y, 24, FitContext{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_FALSE(r->periods.empty());
  EXPECT_EQ(r->periods.front(), 24);
  // With the season found, the forecast follows it.
  const double want = 100 + 20 * std::sin(2 * M_PI * (y.size() + 5) / 24);
  EXPECT_NEAR(r->forecast.mean[5], want, 6);
}

TEST(RegistryTest, NamesAndErrors) {
  auto names = AvailableMethodNames();
  EXPECT_EQ(names.size(), 7u);
  auto two = MethodsByName({"ets", "snaive"});
  ASSERT_TRUE(two.ok());
  EXPECT_EQ((*two)[0]->name(), "ets");
  EXPECT_EQ((*two)[1]->name(), "snaive");
  for (const auto& n : names) {
    auto one = MethodsByName({n});
    ASSERT_TRUE(one.ok());
    EXPECT_EQ((*one)[0]->name(), n);
  }
  EXPECT_EQ(MethodsByName({"prophet"}).status().message(),
            "unknown model \"prophet\" (known: snaive, smean, ets, mstl, theta, regression, naive)");
}

}  // namespace
}  // namespace foresight::forecast
