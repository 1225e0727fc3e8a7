#include "foresight/forecast/theta.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::unique_ptr<FittedModel> MustFit(Result<std::unique_ptr<FittedModel>> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// Local level model: y(t) = l(t-1) + e(t), l(t) = l(t-1) + alpha e(t), i.e. SES is optimal.
std::vector<double> LocalLevel(int n, double alpha, double sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, sd);
  std::vector<double> y(n);
  double level = 100;
  for (double& v : y) {
    const double e = noise(rng);
    v = level + e;
    level += alpha * e;
  }
  return y;
}

TEST(ThetaTest, DriftIsHalfTheSlopeOfTheLine) {
  std::vector<double> y(50);
  for (int t = 0; t < 50; ++t) y[t] = 3 + 2 * t;
  auto m = MustFit(FitTheta(y));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->Describe(), "Theta");
  PointForecast f = m->Predict(10);
  for (int h = 1; h < 10; ++h) EXPECT_NEAR(f.mean[h] - f.mean[h - 1], 1.0, 1e-9);
  // On an exact line SES tracks the data (alpha -> its upper bound) and the forecast starts
  // just above the last value.
  EXPECT_NEAR(f.mean[0], y.back() + 1, 0.05);
}

TEST(ThetaTest, UpdateThenPredictFollowsTheRecursion) {
  const double alpha = 0.3;
  std::vector<double> y = LocalLevel(80, 0.4, 1, 2);
  for (int t = 0; t < 80; ++t) y[t] += 0.05 * t;
  auto m = MustFit(FitTheta(y, alpha));
  ASSERT_NE(m, nullptr);
  const auto c = [&](int n) { return (1 - std::pow(1 - alpha, n)) / alpha; };
  PointForecast before = m->Predict(5);
  const double drift = before.mean[1] - before.mean[0];
  const double level = before.mean[0] - drift * c(80);
  const double v = 107.5;
  m->Update(v);
  PointForecast after = m->Predict(5);
  const double next_level = alpha * v + (1 - alpha) * level;
  for (int h = 1; h <= 5; ++h) {
    EXPECT_NEAR(after.mean[h - 1], next_level + drift * (h - 1 + c(81)), 1e-9) << h;
    EXPECT_NEAR(after.sigma[h - 1], before.sigma[h - 1], 1e-12) << h;  // sigma is not refitted
  }
  // A missing step: the forecasts carry on as if it had been the model's own forecast, and the
  // error counts from the last observation.
  m->Update(kNaN);
  PointForecast gap = m->Predict(4);
  for (int h = 1; h <= 4; ++h) {
    EXPECT_NEAR(gap.mean[h - 1], after.mean[h], 1e-9) << h;
    EXPECT_NEAR(gap.sigma[h - 1], after.sigma[h], 1e-12) << h;
  }
}

TEST(ThetaTest, SigmaFollowsTheSesStateSpace) {
  const double alpha = 0.45;
  auto m = MustFit(FitTheta(LocalLevel(200, 0.5, 2, 3), alpha));
  ASSERT_NE(m, nullptr);
  PointForecast f = m->Predict(12);
  for (int h = 1; h <= 12; ++h) {
    EXPECT_NEAR(f.sigma[h - 1], f.sigma[0] * std::sqrt(1 + (h - 1) * alpha * alpha), 1e-9);
  }
}

TEST(ThetaTest, EstimatesAlphaAndSigmaOfALocalLevel) {
  // sigma_2 / sigma_1 = sqrt(1 + alpha^2) gives the estimated alpha back.
  for (double alpha : {0.2, 0.6}) {
    auto m = MustFit(FitTheta(LocalLevel(3000, alpha, 2, 4)));
    ASSERT_NE(m, nullptr);
    PointForecast f = m->Predict(2);
    const double ratio = f.sigma[1] / f.sigma[0];
    EXPECT_NEAR(std::sqrt(ratio * ratio - 1), alpha, 0.07) << alpha;
    EXPECT_NEAR(f.sigma[0], 2, 0.1) << alpha;
  }
}

TEST(ThetaTest, IntervalsCoverNominallyOnLocalLevels) {
  int inside1 = 0, inside8 = 0;
  const int paths = 300;
  for (int p = 0; p < paths; ++p) {
    std::vector<double> y = LocalLevel(158, 0.5, 1, 100 + p);
    auto m = MustFit(FitTheta(std::vector<double>(y.begin(), y.begin() + 150)));
    ASSERT_NE(m, nullptr);
    PointForecast f = m->Predict(8);
    inside1 += std::abs(y[150] - f.mean[0]) <= 1.96 * f.sigma[0];
    inside8 += std::abs(y[157] - f.mean[7]) <= 1.96 * f.sigma[7];
  }
  // The drift is estimated from a line through a wandering level: a little extra error.
  EXPECT_NEAR(inside1 / static_cast<double>(paths), 0.95, 0.035);
  EXPECT_NEAR(inside8 / static_cast<double>(paths), 0.93, 0.05);
}

TEST(ThetaTest, SeasonalPatternViaMstl) {
  std::mt19937_64 rng(6);
  std::normal_distribution<double> noise(0, 0.5);
  std::vector<double> y, truth;
  for (int t = 0; t < 24 * 24; ++t) {
    const double v =
        20 + 0.02 * t + 5 * std::sin(2 * M_PI * t / 24) + 2 * std::cos(4 * M_PI * t / 24);
    truth.push_back(v);
    y.push_back(v + noise(rng));
  }
  auto method = NewThetaMethod();
  EXPECT_EQ(method->name(), "theta");
  std::vector<double> train(y.begin(), y.end() - 48);
  auto m = MustFit(method->Fit(train, FitContext{{24}, nullptr}));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->Describe(), "MSTL(24)+Theta");
  PointForecast f = m->Predict(48);
  double mae = 0;
  for (int h = 0; h < 48; ++h) mae += std::abs(f.mean[h] - truth[train.size() + h]) / 48;
  EXPECT_LT(mae, 0.5);
  // Without two full cycles there is no seasonal adjustment.
  auto short_fit = MustFit(
      method->Fit(std::vector<double>(y.begin(), y.begin() + 40), FitContext{{24}, nullptr}));
  ASSERT_NE(short_fit, nullptr);
  EXPECT_EQ(short_fit->Describe(), "Theta");
}

TEST(ThetaTest, EdgeCases) {
  auto method = NewThetaMethod();
  for (const FitContext& ctx : {FitContext{}, FitContext{{4}, nullptr}}) {
    EXPECT_EQ(method->Fit(std::vector<double>(30, kNaN), ctx).status().code(),
              StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(FitTheta(std::vector<double>{1, kNaN, 2}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(FitTheta(std::vector<double>{1, 2, 3}, 1.5).status().code(),
            StatusCode::kInvalidArgument);
  for (const std::vector<double>& y :
       {std::vector<double>(60, 5.0), std::vector<double>(60, 0.0), std::vector<double>(60, -3.0),
        std::vector<double>(60, 1e300)}) {
    for (const FitContext& ctx : {FitContext{}, FitContext{{12}, nullptr}}) {
      auto m = MustFit(method->Fit(y, ctx));
      ASSERT_NE(m, nullptr);
      PointForecast f = m->Predict(30);
      for (int h = 0; h < 30; ++h) {
        EXPECT_NEAR(f.mean[h], y[0], 1e-9 * std::max(1.0, std::abs(y[0])));
        EXPECT_TRUE(std::isfinite(f.sigma[h]) && f.sigma[h] >= 0);
      }
    }
  }
  std::vector<double> wild;
  for (int t = 0; t < 100; ++t) wild.push_back(t % 2 ? 1.7e308 : -1.7e308);
  wild[50] = kNaN;
  wild[51] = std::numeric_limits<double>::infinity();
  for (const FitContext& ctx : {FitContext{}, FitContext{{4}, nullptr}}) {
    auto m = MustFit(method->Fit(wild, ctx));
    ASSERT_NE(m, nullptr);
    PointForecast f = m->Predict(20);
    for (int h = 0; h < 20; ++h) {
      EXPECT_TRUE(std::isfinite(f.mean[h]));
      EXPECT_TRUE(std::isfinite(f.sigma[h]) && f.sigma[h] >= 0);
    }
  }
}

}  // namespace
}  // namespace foresight::forecast
