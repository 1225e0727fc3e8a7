#include "foresight/forecast/engine.h"
#include "foresight/forecast/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace foresight::forecast {
namespace {

// Test methods with known behaviour, independent of the real models.

// Forecasts a constant; sigma a random walk's.
class ConstantMethod final : public Method {
 public:
  ConstantMethod(std::string name, double value, double sigma1)
      : name_(std::move(name)), value_(value), sigma1_(sigma1) {}
  std::string name() const override { return name_; }
  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double>, const FitContext&) const override {
    return std::unique_ptr<FittedModel>(new Fitted(value_, sigma1_));
  }

 private:
  struct Fitted final : FittedModel {
    Fitted(double v, double s) : v(v), s(s) {}
    std::string Describe() const override { return "const " + std::to_string(static_cast<int>(v)); }
    PointForecast Predict(int h) const override {
      PointForecast f;
      for (int j = 1; j <= h; ++j) {
        f.mean.push_back(v);
        f.sigma.push_back(s * std::sqrt(j));
      }
      return f;
    }
    void Update(double) override {}
    double v, s;
  };
  std::string name_;
  double value_, sigma1_;
};

// The last observed value, with the random-walk sigma estimated from the data.
class LastValueMethod final : public Method {
 public:
  std::string name() const override { return "last"; }
  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y, const FitContext&) const override {
    double last = NAN, ss = 0;
    int n = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      if (std::isnan(y[i])) continue;
      if (!std::isnan(last)) {
        ss += (y[i] - last) * (y[i] - last);
        ++n;
      }
      last = y[i];
    }
    if (std::isnan(last)) return FailedPrecondition("no data");
    return std::unique_ptr<FittedModel>(new Fitted(last, n > 0 ? std::sqrt(ss / n) : 1.0));
  }

 private:
  struct Fitted final : FittedModel {
    Fitted(double v, double s) : v(v), s(s) {}
    std::string Describe() const override { return "last"; }
    PointForecast Predict(int h) const override {
      PointForecast f;
      for (int j = 1; j <= h; ++j) {
        f.mean.push_back(v);
        f.sigma.push_back(s * std::sqrt(j));
      }
      return f;
    }
    void Update(double y) override {
      if (!std::isnan(y)) v = y;
    }
    double v, s;
  };
};

class FailingMethod final : public Method {
 public:
  std::string name() const override { return "broken"; }
  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double>, const FitContext&) const override {
    return FailedPrecondition("needs at least 10000 observations, got few");
  }
};

EngineOptions Opts(std::vector<double> levels, int origins, int combine_max, bool per_method) {
  EngineOptions o;
  o.levels = std::move(levels);
  o.origins = origins;
  o.combine_max = combine_max;
  o.per_method = per_method;
  o.detect_periods = false;
  return o;
}

std::vector<double> RandomWalk(std::mt19937_64& rng, int n, double start = 100) {
  std::normal_distribution<double> e(0, 1);
  std::vector<double> y(static_cast<size_t>(n));
  double v = start;
  for (auto& x : y) {
    v += e(rng);
    x = v;
  }
  return y;
}

TEST(EngineTest, SelectsTheMethodWithTheLowestBacktestError) {
  std::mt19937_64 rng(1);
  std::vector<double> y = RandomWalk(rng, 400, 1000);
  Engine e({std::make_shared<ConstantMethod>("zero", 0, 1), std::make_shared<LastValueMethod>()},
           Opts({0.95}, 3, 1, true));
  auto r = e.Forecast(y, 10, FitContext{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->model, "last");
  EXPECT_EQ(r->members, std::vector<std::string>{"last"});
  EXPECT_EQ(r->backtest_origins, 3);
  ASSERT_EQ(r->scores.size(), 2u);
  EXPECT_GT(r->scores[0].backtest_mase, r->scores[1].backtest_mase);
  EXPECT_DOUBLE_EQ(r->forecast.mean[0], y.back());
  ASSERT_EQ(r->per_method.size(), 2u);
  EXPECT_DOUBLE_EQ(r->per_method[0].mean[0], 0.0);
}

TEST(EngineTest, CombinesWhenTheMeanBeatsEachMember) {
  // The truth is 10 everywhere; one method says 8, the other 12: their mean is exact.
  std::vector<double> y(200, 10.0);
  Engine e({std::make_shared<ConstantMethod>("low", 8, 1), std::make_shared<ConstantMethod>("high", 12, 1)},
           Opts({0.8, 0.95}, 3, 2, false));
  auto r = e.Forecast(y, 5, FitContext{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->model, "combination");
  EXPECT_EQ(r->members, (std::vector<std::string>{"low", "high"}));
  EXPECT_EQ(r->description, "mean(const 8, const 12)");
  EXPECT_DOUBLE_EQ(r->forecast.mean[4], 10.0);
  EXPECT_DOUBLE_EQ(r->backtest_mase, 0.0);
}

TEST(EngineTest, BandsCoverNearNominalOnRandomWalks) {
  // 400 independent random walks; each forecast 20 steps; the share of actuals inside the 80 %
  // and 95 % bands must be near nominal. The method's own sigma is deliberately 3x too small:
  // the conformal calibration must fix it.
  std::mt19937_64 rng(7);
  struct Underconfident final : Method {
    LastValueMethod inner;
    std::string name() const override { return "under"; }
    Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y, const FitContext& c) const override {
      auto f = inner.Fit(y, c);
      if (!f.ok()) return f.status();
      struct Wrap final : FittedModel {
        std::unique_ptr<FittedModel> m;
        std::string Describe() const override { return "under"; }
        PointForecast Predict(int h) const override {
          PointForecast p = m->Predict(h);
          for (double& s : p.sigma) s /= 3;
          return p;
        }
        void Update(double y) override { m->Update(y); }
      };
      auto w = std::make_unique<Wrap>();
      w->m = std::move(f).value();
      return std::unique_ptr<FittedModel>(std::move(w));
    }
  };
  Engine e({std::make_shared<Underconfident>()}, Opts({0.8, 0.95}, 6, 1, false));
  int in80 = 0, in95 = 0, total = 0;
  for (int s = 0; s < 400; ++s) {
    std::vector<double> y = RandomWalk(rng, 320);
    std::span<const double> train(y.data(), 300);
    auto r = e.Forecast(train, 20, FitContext{});
    ASSERT_TRUE(r.ok());
    for (int j = 0; j < 20; ++j) {
      const double a = y[300 + static_cast<size_t>(j)];
      in80 += a >= r->forecast.bands[0].lower[j] && a <= r->forecast.bands[0].upper[j];
      in95 += a >= r->forecast.bands[1].lower[j] && a <= r->forecast.bands[1].upper[j];
      ++total;
    }
  }
  EXPECT_NEAR(static_cast<double>(in80) / total, 0.80, 0.04);
  EXPECT_NEAR(static_cast<double>(in95) / total, 0.95, 0.025);
}

TEST(EngineTest, LeavesOutFailingMethodsAndSaysWhy) {
  std::mt19937_64 rng(3);
  std::vector<double> y = RandomWalk(rng, 100);
  Engine e({std::make_shared<FailingMethod>(), std::make_shared<LastValueMethod>()}, Opts({0.8, 0.95}, 3, 3, false));
  auto r = e.Forecast(y, 5, FitContext{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->model, "last");
  EXPECT_EQ(r->scores[0].error, "needs at least 10000 observations, got few");

  Engine only_broken({std::make_shared<FailingMethod>()}, Opts({0.8, 0.95}, 3, 3, false));
  auto bad = only_broken.Forecast(y, 5, FitContext{});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "no method could forecast this series; broken: needs at least 10000 observations, got few");
}

TEST(EngineTest, RejectsBadInput) {
  Engine e({std::make_shared<LastValueMethod>()}, Opts({0.8, 0.95}, 3, 3, false));
  std::vector<double> y(50, 1.0);
  EXPECT_EQ(e.Forecast(y, 0, FitContext{}).status().message(), "horizon must be at least 1, got 0");
  std::vector<double> nan(50, NAN);
  EXPECT_EQ(e.Forecast(nan, 3, FitContext{}).status().message(), "the series has no observed values");
  Engine none({}, Opts({0.8, 0.95}, 3, 3, false));
  EXPECT_EQ(none.Forecast(y, 3, FitContext{}).status().message(), "no forecasting methods configured");
  Engine bad_level({std::make_shared<LastValueMethod>()}, Opts({1.5}, 3, 1, false));
  EXPECT_FALSE(bad_level.Forecast(y, 3, FitContext{}).ok());
}

TEST(EngineTest, ShortSeriesSkipsTheBacktestButStillForecasts) {
  std::vector<double> y = {1, 2, 3, 4, 5};
  Engine e({std::make_shared<LastValueMethod>()}, Opts({0.8, 0.95}, 3, 3, false));
  auto r = e.Forecast(y, 3, FitContext{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->backtest_origins, 0);
  EXPECT_TRUE(std::isnan(r->backtest_mase));
  // Without residuals to calibrate on, the model's own normal bands stand.
  EXPECT_NEAR(r->forecast.bands[1].upper[0] - r->forecast.mean[0], 1.959963984540054, 1e-9);
}

void ExpectSameForecast(const ModelForecast& a, const ModelForecast& b) {
  ASSERT_EQ(a.mean.size(), b.mean.size());
  ASSERT_EQ(a.bands.size(), b.bands.size());
  for (size_t j = 0; j < a.mean.size(); ++j) {
    EXPECT_EQ(a.mean[j], b.mean[j]) << j;
    EXPECT_EQ(a.scale[j], b.scale[j]) << j;
    for (size_t k = 0; k < a.bands.size(); ++k) {
      EXPECT_EQ(a.bands[k].lower[j], b.bands[k].lower[j]) << j;
      EXPECT_EQ(a.bands[k].upper[j], b.bands[k].upper[j]) << j;
    }
  }
}

TEST(ForecastStateTest, FitThenPredictEqualsForecastForEveryRealMethodAndTransform) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> e(0, 3);
  std::vector<double> y(24 * 30);
  for (size_t i = 0; i < y.size(); ++i) {
    y[i] = 100 + 20 * std::sin(2 * M_PI * static_cast<double>(i) / 24) + e(rng);
  }
  y[100] = NAN;
  for (ValueTransform t : {ValueTransform::kNone, ValueTransform::kLog, ValueTransform::kBoxCox}) {
    EngineOptions o;
    o.transform = t;
    Engine engine(MethodsByName({}).value(), o);
    auto direct = engine.Forecast(y, 24, FitContext{{24}, nullptr});
    ASSERT_TRUE(direct.ok()) << direct.status().message();
    auto state = engine.Fit(y, 24, FitContext{{24}, nullptr});
    ASSERT_TRUE(state.ok()) << state.status().message();
    ExpectSameForecast((*state)->Predict(24), direct->forecast);
    EXPECT_EQ((*state)->info().description, direct->description);
    EXPECT_EQ((*state)->info().members, direct->members);
    EXPECT_EQ((*state)->info().backtest_mase, direct->backtest_mase);
    EXPECT_TRUE((*state)->info().forecast.mean.empty());
    // Longer than fitted: the first 24 steps are the same forecast.
    ModelForecast longer = (*state)->Predict(48);
    ASSERT_EQ(longer.mean.size(), 48u);
    EXPECT_EQ(longer.mean[23], direct->forecast.mean[23]);
    for (double v : longer.bands.back().upper) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(ForecastStateTest, UpdateMovesTheForecastForward) {
  // The last-value model fitted on y[0..n) and updated with y[n] forecasts what a fit on
  // y[0..n] would: the new last value, with the bands calibrated at fit time.
  std::mt19937_64 rng(5);
  std::vector<double> y = RandomWalk(rng, 200);
  Engine engine({std::make_shared<LastValueMethod>()}, Opts({0.8, 0.95}, 3, 1, false));
  auto state = engine.Fit(std::span<const double>(y.data(), 199), 10, FitContext{});
  ASSERT_TRUE(state.ok());
  ModelForecast before = (*state)->Predict(10);
  EXPECT_EQ(before.mean[0], y[198]);
  (*state)->Update(y[199]);
  EXPECT_EQ((*state)->updates(), 1);
  ModelForecast after = (*state)->Predict(10);
  EXPECT_EQ(after.mean[0], y[199]);
  EXPECT_DOUBLE_EQ(after.bands[1].upper[3] - after.mean[3], before.bands[1].upper[3] - before.mean[3]);
  (*state)->Update(NAN);  // a gap changes nothing for this model
  EXPECT_EQ((*state)->Predict(1).mean[0], y[199]);
}

TEST(ForecastStateTest, UpdateUnderATransformMapsTheObservation) {
  std::vector<double> y(120);
  for (size_t i = 0; i < y.size(); ++i) y[i] = 10 + static_cast<double>(i % 7);
  EngineOptions o = Opts({0.9}, 3, 1, false);
  o.transform = ValueTransform::kLog;
  Engine engine({std::make_shared<LastValueMethod>()}, o);
  auto state = engine.Fit(y, 5, FitContext{});
  ASSERT_TRUE(state.ok());
  (*state)->Update(42);
  EXPECT_NEAR((*state)->Predict(1).mean[0], 42, 1e-9);
  (*state)->Update(-1);  // outside the log's domain: a gap, not a NaN forecast
  EXPECT_NEAR((*state)->Predict(1).mean[0], 42, 1e-9);
}

TEST(ForecastStateTest, FitErrorsAreForecastErrors) {
  Engine only_broken({std::make_shared<FailingMethod>()}, Opts({0.8}, 3, 3, false));
  std::vector<double> y(50, 1.0);
  auto s = only_broken.Fit(y, 5, FitContext{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "no method could forecast this series; broken: needs at least 10000 observations, got few");
}

TEST(EngineTest, BacktestCoverageIsLeaveOneOriginOut) {
  // A constant forecast of 0 with sigma 1. Origin 40 sees zeros, origin 50 sees 1000s: the
  // zeros are inside any band; the 1000s are outside the band calibrated on origin 40 alone.
  std::vector<double> y(60, 0.0);
  Engine e({std::make_shared<ConstantMethod>("zero", 0, 1)}, Opts({0.5}, 2, 1, false));
  auto r = e.Forecast(y, 10, FitContext{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->backtest_coverage, 1.0);  // every actual equals the forecast
  Engine one({std::make_shared<ConstantMethod>("zero", 0, 1)}, Opts({0.5}, 1, 1, false));
  EXPECT_TRUE(std::isnan(one.Forecast(y, 10, FitContext{})->backtest_coverage));
  std::vector<double> far(60, 0.0);
  for (size_t i = 50; i < 60; ++i) far[i] = 1000;
  auto r2 = e.Forecast(far, 10, FitContext{});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->backtest_coverage, 0.5);
}

TEST(AnomalyTest, OutsideTheBandAndRobustScore) {
  ModelForecast f;
  f.mean = {10, 10};
  f.bands = {Band{0.95, {8, 7}, {12, 13}}};
  f.scale = {1, 1.5};
  Anomaly a = AssessAnomaly(12.5, f, 1, 0);
  EXPECT_TRUE(a.anomalous);
  EXPECT_DOUBLE_EQ(a.score, 2.5);
  Anomaly b = AssessAnomaly(12.5, f, 2, 0);
  EXPECT_FALSE(b.anomalous);
  EXPECT_DOUBLE_EQ(b.score, 2.5 / 1.5);
  EXPECT_FALSE(AssessAnomaly(NAN, f, 1, 0).anomalous);
  EXPECT_FALSE(AssessAnomaly(100, f, 3, 0).anomalous);  // no forecast for that step
}

}  // namespace
}  // namespace foresight::forecast
