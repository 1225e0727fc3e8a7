#include "foresight/forecast/ets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <random>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A simulated ETS series, written from the model equations of Hyndman et al. (2008, table 2.3)
// independently of the library's error-correction recursion.
struct Truth {
  EtsSpec spec;
  EtsParams p;
  int m = 1;
  double sigma = 1.0;  // of the error: absolute (additive) or relative (multiplicative)
  double l0 = 100.0;
  double b0 = 0.0;
  std::vector<double> s0;  // seasonal states for steps 0..m-1
};

std::vector<double> Simulate(const Truth& t, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, t.sigma);
  double l = t.l0, b = t.b0;
  std::vector<double> s = t.s0;
  if (s.empty()) {
    s.assign(1, t.spec.season == 'M' ? 1.0 : 0.0);
  }
  const int m = t.spec.season == 'N' ? 1 : t.m;
  std::vector<double> y(n);
  for (int i = 0; i < n; ++i) {
    const double e = noise(rng);
    const double lt = t.spec.trend == 'A' ? l + t.p.phi * b : l;
    double& st = s[i % m];
    const char season = t.spec.season;
    const double mu = season == 'A' ? lt + st : season == 'M' ? lt * st : lt;
    if (t.spec.error == 'A') {
      y[i] = mu + e;
      const double div = season == 'M' ? st : 1.0;
      l = lt + t.p.alpha * e / div;
      b = t.p.phi * b + t.p.beta * e / div;
      if (season == 'A') st += t.p.gamma * e;
      if (season == 'M') st += t.p.gamma * e / lt;
    } else {
      y[i] = mu * (1.0 + e);
      if (season == 'M') {
        l = lt * (1.0 + t.p.alpha * e);
        b = t.p.phi * b + t.p.beta * lt * e;
        st *= 1.0 + t.p.gamma * e;
      } else {  // additive components: the error enters scaled by mu
        l = lt + t.p.alpha * mu * e;
        b = t.p.phi * b + t.p.beta * mu * e;
        if (season == 'A') st += t.p.gamma * mu * e;
      }
    }
  }
  return y;
}

std::vector<double> SinePattern(int m, double amplitude, bool multiplicative) {
  std::vector<double> s(m);
  for (int j = 0; j < m; ++j) {
    const double v =
        std::sin(2.0 * std::numbers::pi * j / m) + 0.5 * std::cos(4.0 * std::numbers::pi * j / m);
    s[j] = multiplicative ? 1.0 + amplitude * v : amplitude * v;
  }
  return s;
}

const EtsModel& AsEts(const std::unique_ptr<FittedModel>& model) {
  const auto* ets = dynamic_cast<const EtsModel*>(model.get());
  EXPECT_NE(ets, nullptr);
  return *ets;
}

void ExpectFinite(const PointForecast& f, int horizon) {
  ASSERT_EQ(static_cast<int>(f.mean.size()), horizon);
  ASSERT_EQ(static_cast<int>(f.sigma.size()), horizon);
  for (int j = 0; j < horizon; ++j) {
    EXPECT_TRUE(std::isfinite(f.mean[j])) << "step " << j;
    EXPECT_TRUE(std::isfinite(f.sigma[j])) << "step " << j;
    EXPECT_GE(f.sigma[j], 0.0) << "step " << j;
  }
}

FitContext Periods(std::vector<int> periods) {
  FitContext ctx;
  ctx.periods = std::move(periods);
  return ctx;
}

TEST(EtsSpecTest, PrintsAndParses) {
  EXPECT_EQ((EtsSpec{'M', 'A', true, 'M'}).ToString(), "ETS(M,Ad,M)");
  EXPECT_EQ((EtsSpec{'A', 'N', false, 'N'}).ToString(), "ETS(A,N,N)");
  for (const char* text : {"ETS(M,Ad,M)", "ETS(A,N,A)", "AAN", "MAdA"}) {
    Result<EtsSpec> spec = ParseEtsSpec(text);
    ASSERT_TRUE(spec.ok()) << text;
    Result<EtsSpec> again = ParseEtsSpec(spec->ToString());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *spec);
  }
  EXPECT_EQ(ParseEtsSpec("MAdM")->ToString(), "ETS(M,Ad,M)");
  for (const char* bad : {"", "ETS(A,M,N)", "ANd", "XNN", "ETS(A,N)", "AAdMM"}) {
    EXPECT_FALSE(ParseEtsSpec(bad).ok()) << bad;
  }
}

// ----- Parameter recovery -----

struct RecoveryCase {
  const char* name;
  Truth truth;
};

class EtsRecoveryTest : public ::testing::TestWithParam<RecoveryCase> {};

TEST_P(EtsRecoveryTest, RecoversSmoothingParameters) {
  const Truth& t = GetParam().truth;
  const std::vector<double> y = Simulate(t, 1500, 7);
  Result<std::unique_ptr<FittedModel>> fit = FitEts(y, t.m, t.spec);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  const EtsModel& ets = AsEts(*fit);
  EXPECT_EQ(ets.spec(), t.spec);
  const EtsParams p = ets.params();
  // Over 20 seeds the worst errors were 0.10 (alpha, ETS(A,Ad,N)), 0.055 (beta, same) and 0.04
  // (gamma); the others stay within 0.07.
  EXPECT_NEAR(p.alpha, t.p.alpha, 0.1);
  if (t.spec.trend == 'A') {
    EXPECT_NEAR(p.beta, t.p.beta, 0.06);
    EXPECT_LT(p.beta, p.alpha);
  }
  if (t.spec.season != 'N') {
    EXPECT_NEAR(p.gamma, t.p.gamma, 0.05);
    EXPECT_LT(p.gamma, 1.0 - p.alpha);
  }
  if (t.spec.damped) {
    EXPECT_NEAR(p.phi, t.p.phi, 0.1);
  }
  // Absolute for additive errors, relative for multiplicative ones: sigma2() follows suit.
  EXPECT_NEAR(ets.sigma2() / (t.sigma * t.sigma), 1.0, 0.15);
  ExpectFinite((*fit)->Predict(48), 48);
}

Truth MakeTruth(const char* spec, EtsParams p, int m, double sigma, double b0 = 0.0) {
  Truth t;
  t.spec = *ParseEtsSpec(spec);
  t.p = p;
  t.m = m;
  t.sigma = sigma;
  t.b0 = b0;
  if (t.spec.season != 'N') {
    t.s0 = SinePattern(m, t.spec.season == 'M' ? 0.3 : 20.0, t.spec.season == 'M');
  }
  return t;
}

INSTANTIATE_TEST_SUITE_P(
    Ets, EtsRecoveryTest,
    ::testing::Values(RecoveryCase{"ANN", MakeTruth("ANN", {0.3, 0, 0, 1}, 1, 2.0)},
                      RecoveryCase{"AAN", MakeTruth("AAN", {0.4, 0.1, 0, 1}, 1, 1.0, 0.5)},
                      RecoveryCase{"AAdN", MakeTruth("AAdN", {0.5, 0.2, 0, 0.9}, 1, 1.0, 1.0)},
                      RecoveryCase{"ANA", MakeTruth("ANA", {0.2, 0, 0.15, 1}, 24, 2.0)},
                      RecoveryCase{"AAA", MakeTruth("AAA", {0.3, 0.05, 0.1, 1}, 12, 2.0, 0.2)},
                      RecoveryCase{"MNM", MakeTruth("MNM", {0.2, 0, 0.1, 1}, 24, 0.03)},
                      RecoveryCase{"MAdA",
                                   MakeTruth("MAdA", {0.3, 0.05, 0.2, 0.9}, 12, 0.02, 0.3)}),
    [](const ::testing::TestParamInfo<RecoveryCase>& info) { return info.param.name; });

// ----- Selection by AICc -----

TEST(EtsSelectionTest, StrongAdditiveSeasonGetsASeasonalModel) {
  const std::vector<double> y = Simulate(MakeTruth("ANA", {0.2, 0, 0.1, 1}, 24, 2.0), 960, 11);
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({24, 168}));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_NE(AsEts(*fit).spec().season, 'N') << (*fit)->Describe();
  EXPECT_EQ(AsEts(*fit).period(), 24);
}

TEST(EtsSelectionTest, NoSeasonInDataGetsNoSeasonalModel) {
  const std::vector<double> y = Simulate(MakeTruth("ANN", {0.3, 0, 0, 1}, 1, 2.0), 960, 12);
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({24}));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_EQ(AsEts(*fit).spec().season, 'N') << (*fit)->Describe();
  EXPECT_EQ(AsEts(*fit).spec().trend, 'N') << (*fit)->Describe();
  EXPECT_EQ(AsEts(*fit).period(), 1);
}

TEST(EtsSelectionTest, StrongTrendGetsATrendModel) {
  const std::vector<double> y = Simulate(MakeTruth("AAN", {0.3, 0.05, 0, 1}, 1, 1.0, 0.5), 960, 13);
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, {});
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_EQ(AsEts(*fit).spec().trend, 'A') << (*fit)->Describe();
}

TEST(EtsSelectionTest, ProportionalSeasonGetsAMultiplicativeModel) {
  // The level triples over the series and the seasonal swing grows with it.
  Truth t = MakeTruth("MAM", {0.2, 0.001, 0.05, 1}, 24, 0.02, 0.1);
  t.l0 = 50.0;
  t.s0 = SinePattern(24, 0.4, true);
  const std::vector<double> y = Simulate(t, 960, 14);
  ASSERT_GT(*std::min_element(y.begin(), y.end()), 0.0);
  ASSERT_GT(y.back(), 2.0 * y.front());
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({24}));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_EQ(AsEts(*fit).spec().season, 'M') << (*fit)->Describe();
}

TEST(EtsSelectionTest, CountsParametersForAicc) {
  const std::vector<double> y =
      Simulate(MakeTruth("AAA", {0.3, 0.05, 0.1, 1}, 12, 2.0, 0.2), 300, 15);
  // alpha, beta, gamma, phi; l0, b0, 11 seasonal states; sigma.
  EXPECT_EQ(AsEts(*FitEts(y, 12, *ParseEtsSpec("AAdA"))).num_params(), 4 + 2 + 11 + 1);
  EXPECT_EQ(AsEts(*FitEts(y, 12, *ParseEtsSpec("ANN"))).num_params(), 1 + 1 + 1);
}

TEST(EtsSelectionTest, MultiplicativeCanBeSwitchedOff) {
  Truth t = MakeTruth("MNM", {0.2, 0, 0.1, 1}, 24, 0.03);
  const std::vector<double> y = Simulate(t, 500, 16);
  EtsOptions options;
  options.allow_multiplicative = false;
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod(options)->Fit(y, Periods({24}));
  ASSERT_TRUE(fit.ok());
  EXPECT_EQ(AsEts(*fit).spec().error, 'A');
  EXPECT_NE(AsEts(*fit).spec().season, 'M');
}

TEST(EtsSelectionTest, ExplicitCandidatesAreDowngradedToWhatTheDataSupport) {
  std::vector<double> y = Simulate(MakeTruth("ANN", {0.3, 0, 0, 1}, 1, 2.0), 40, 17);
  y[5] = -3.0;  // not strictly positive: no multiplicative component
  EtsOptions options;
  options.candidates = {*ParseEtsSpec("MNM")};
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod(options)->Fit(y, Periods({24}));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_EQ((*fit)->Describe(), "ETS(A,N,N)");

  options.candidates = {EtsSpec{'A', 'N', true, 'N'}};  // damped without a trend
  EXPECT_EQ(NewEtsMethod(options)->Fit(y, {}).status().code(), StatusCode::kInvalidArgument);
}

// ----- Prediction intervals -----

// 500 independent series, each fitted and checked on the next values: 95% intervals from sigma.
void ExpectCoverage(const Truth& t, int n, int h) {
  constexpr int kOrigins = 500;
  const double z = NormalQuantile(0.975);
  int hits1 = 0, hits_h = 0;
  for (int origin = 0; origin < kOrigins; ++origin) {
    const std::vector<double> all = Simulate(t, n + h, 1000 + origin);
    const std::span<const double> history(all.data(), n);
    Result<std::unique_ptr<FittedModel>> fit = FitEts(history, t.m, t.spec);
    ASSERT_TRUE(fit.ok()) << fit.status().ToString();
    const PointForecast f = (*fit)->Predict(h);
    hits1 += std::fabs(all[n] - f.mean[0]) <= z * f.sigma[0];
    hits_h += std::fabs(all[n + h - 1] - f.mean[h - 1]) <= z * f.sigma[h - 1];
  }
  EXPECT_GE(hits1, 0.92 * kOrigins);
  EXPECT_LE(hits1, 0.98 * kOrigins);
  EXPECT_GE(hits_h, 0.92 * kOrigins);
  EXPECT_LE(hits_h, 0.98 * kOrigins);
}

TEST(EtsIntervalTest, CoverNominalForANN) {
  ExpectCoverage(MakeTruth("ANN", {0.4, 0, 0, 1}, 1, 2.0), 300, 10);
}

TEST(EtsIntervalTest, CoverNominalForANA) {
  ExpectCoverage(MakeTruth("ANA", {0.2, 0, 0.15, 1}, 12, 2.0), 300, 12);
}

TEST(EtsIntervalTest, CoverNominalForMNM) {
  ExpectCoverage(MakeTruth("MNM", {0.2, 0, 0.1, 1}, 12, 0.03), 300, 12);
}

TEST(EtsIntervalTest, SigmaGrowsWithHorizon) {
  const std::vector<double> y = Simulate(MakeTruth("AAN", {0.4, 0.1, 0, 1}, 1, 1.0, 0.5), 400, 21);
  Result<std::unique_ptr<FittedModel>> fit = FitEts(y, 1, *ParseEtsSpec("AAN"));
  ASSERT_TRUE(fit.ok());
  const PointForecast f = (*fit)->Predict(30);
  for (int j = 1; j < 30; ++j) {
    EXPECT_GT(f.sigma[j], f.sigma[j - 1]);
  }
  // Class 1: v_h = sigma^2 (1 + sum_{j<h} (alpha + beta j)^2).
  const EtsParams p = AsEts(*fit).params();
  double acc = 1.0;
  for (int j = 1; j < 5; ++j) {
    acc += (p.alpha + p.beta * j) * (p.alpha + p.beta * j);
  }
  EXPECT_NEAR(f.sigma[4], std::sqrt(AsEts(*fit).sigma2() * acc), 1e-9 * f.sigma[4]);
}

TEST(EtsIntervalTest, MultiplicativeErrorSigmaFollowsClassTwo) {
  const std::vector<double> y = Simulate(MakeTruth("MNN", {0.3, 0, 0, 1}, 1, 0.05), 400, 22);
  Result<std::unique_ptr<FittedModel>> fit = FitEts(y, 1, *ParseEtsSpec("MNN"));
  ASSERT_TRUE(fit.ok());
  const PointForecast f = (*fit)->Predict(8);
  const double alpha = AsEts(*fit).params().alpha;
  const double s2 = AsEts(*fit).sigma2();
  const double level = f.mean[0];
  for (int h = 1; h <= 8; ++h) {
    EXPECT_DOUBLE_EQ(f.mean[h - 1], level);
    // theta_h = l^2 (1 + alpha^2 sigma^2)^(h-1); v_h = (1 + sigma^2) theta_h - l^2.
    const double theta = level * level * std::pow(1.0 + alpha * alpha * s2, h - 1);
    EXPECT_NEAR(f.sigma[h - 1], std::sqrt((1.0 + s2) * theta - level * level),
                1e-9 * f.sigma[h - 1]);
  }
}

// ----- Update -----

void ExpectUpdateMatchesRerun(const char* spec_text, const Truth& t) {
  const EtsSpec spec = *ParseEtsSpec(spec_text);
  std::vector<double> y = Simulate(t, 337, 31);
  y[310] = kNaN;
  y[311] = kNaN;
  const int n = 300;
  Result<std::unique_ptr<FittedModel>> fit = FitEts(std::span(y.data(), n), t.m, spec);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  const PointForecast before = (*fit)->Predict(24);
  for (int i = n; i < static_cast<int>(y.size()); ++i) {
    (*fit)->Update(y[i]);
  }
  Result<std::unique_ptr<FittedModel>> rerun = FitEtsWithParams(y, t.m, spec, AsEts(*fit).params());
  ASSERT_TRUE(rerun.ok()) << rerun.status().ToString();
  const PointForecast a = (*fit)->Predict(24);
  const PointForecast b = (*rerun)->Predict(24);
  ExpectFinite(a, 24);
  for (int j = 0; j < 24; ++j) {
    EXPECT_NEAR(a.mean[j], b.mean[j], 1e-9 * std::fabs(b.mean[j]) + 1e-9) << "step " << j;
  }
  EXPECT_NE(a.mean[0], before.mean[0]);
  EXPECT_EQ((*fit)->Describe(), spec.ToString());
  if (spec.error == 'A' && spec.season != 'M') {
    // No re-estimation: the linear classes' sigma depends on parameters only.
    for (int j = 0; j < 24; ++j) {
      EXPECT_DOUBLE_EQ(a.sigma[j], before.sigma[j]);
    }
  }
}

TEST(EtsUpdateTest, MatchesRecursionOverTheNewPointsAAA) {
  ExpectUpdateMatchesRerun("AAA", MakeTruth("AAA", {0.3, 0.05, 0.1, 1}, 12, 2.0, 0.2));
}

TEST(EtsUpdateTest, MatchesRecursionOverTheNewPointsMAdM) {
  Truth t = MakeTruth("MNM", {0.2, 0, 0.1, 1}, 12, 0.03);
  ExpectUpdateMatchesRerun("MAdM", t);
}

TEST(EtsUpdateTest, MatchesRecursionOverTheNewPointsANN) {
  ExpectUpdateMatchesRerun("ANN", MakeTruth("ANN", {0.3, 0, 0, 1}, 1, 2.0));
}

TEST(EtsUpdateTest, BrokenMultiplicativeStateFallsBackToAdditive) {
  const std::vector<double> y = Simulate(MakeTruth("MNM", {0.2, 0, 0.1, 1}, 12, 0.03), 300, 33);
  Result<std::unique_ptr<FittedModel>> fit = FitEts(y, 12, *ParseEtsSpec("MNM"));
  ASSERT_TRUE(fit.ok());
  (*fit)->Update(-1e9);  // drives the level negative: the multiplicative state is invalid
  EXPECT_EQ((*fit)->Describe(), "ETS(A,N,A)");
  ExpectFinite((*fit)->Predict(48), 48);
  (*fit)->Update(100.0);
  ExpectFinite((*fit)->Predict(48), 48);
}

TEST(EtsUpdateTest, NonFiniteUpdatesAreMissing) {
  const std::vector<double> y = Simulate(MakeTruth("ANN", {0.3, 0, 0, 1}, 1, 2.0), 200, 34);
  Result<std::unique_ptr<FittedModel>> fit = FitEts(y, 1, *ParseEtsSpec("ANN"));
  ASSERT_TRUE(fit.ok());
  const PointForecast before = (*fit)->Predict(3);
  (*fit)->Update(kNaN);
  (*fit)->Update(std::numeric_limits<double>::infinity());
  const PointForecast after = (*fit)->Predict(3);
  EXPECT_EQ(after.mean, before.mean);
  (*fit)->Update(1e300);  // absurd but finite: the state stays finite
  ExpectFinite((*fit)->Predict(3), 3);
}

// ----- Missing values and edge cases -----

TEST(EtsEdgeTest, GapInTheMiddleDoesNotPullTheLevelDown) {
  std::vector<double> y = Simulate(MakeTruth("ANA", {0.2, 0, 0.1, 1}, 24, 2.0), 720, 41);
  for (int i = 300; i < 400; ++i) {
    y[i] = kNaN;
  }
  for (int i = 650; i < 720; ++i) {  // a gap at the end too: the forecast crosses it
    y[i] = kNaN;
  }
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({24}));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_LT(AsEts(*fit).params().alpha, 0.6);
  const PointForecast f = (*fit)->Predict(24);
  ExpectFinite(f, 24);
  double recent = 0.0;
  for (int i = 650 - 48; i < 650; ++i) {
    recent += y[i] / 48.0;
  }
  double ahead = 0.0;
  for (double v : f.mean) {
    ahead += v / 24.0;
  }
  EXPECT_NEAR(ahead, recent, 0.2 * std::fabs(recent));
}

TEST(EtsEdgeTest, ConstantSeries) {
  for (double c : {0.0, 5.0, -3.0}) {
    const std::vector<double> y(200, c);
    Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({24}));
    ASSERT_TRUE(fit.ok()) << fit.status().ToString();
    EXPECT_EQ((*fit)->Describe(), "ETS(A,N,N)") << c;
    const PointForecast f = (*fit)->Predict(48);
    ExpectFinite(f, 48);
    for (int j = 0; j < 48; ++j) {
      EXPECT_NEAR(f.mean[j], c, 1e-9);
      EXPECT_NEAR(f.sigma[j], 0.0, 1e-6);
    }
  }
}

TEST(EtsEdgeTest, TooFewObservations) {
  const std::vector<double> all_nan(100, kNaN);
  EXPECT_EQ(NewEtsMethod()->Fit(all_nan, {}).status().code(), StatusCode::kFailedPrecondition);
  const std::vector<double> two = {1.0, kNaN, 2.0};
  EXPECT_EQ(NewEtsMethod()->Fit(two, {}).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(FitEts(all_nan, 1, EtsSpec{}).status().code(), StatusCode::kFailedPrecondition);
  const std::vector<double> three = {1.0, 2.0, 1.5};
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(three, Periods({24}));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  ExpectFinite((*fit)->Predict(5), 5);
}

TEST(EtsEdgeTest, FewerThanTwoSeasonsFitsNonSeasonalOnly) {
  const std::vector<double> y = Simulate(MakeTruth("ANA", {0.2, 0, 0.1, 1}, 24, 2.0), 40, 42);
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({24}));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_EQ(AsEts(*fit).spec().season, 'N');
  ExpectFinite((*fit)->Predict(24), 24);
  EXPECT_EQ(FitEts(y, 24, *ParseEtsSpec("ANA")).status().code(), StatusCode::kFailedPrecondition);
}

TEST(EtsEdgeTest, LongPeriodsAreLeftToMstl) {
  const std::vector<double> y = Simulate(MakeTruth("ANA", {0.2, 0, 0.1, 1}, 168, 2.0), 960, 43);
  // Refused rather than fitted without its season (R's ets ignores the season instead): the
  // engine leaves ets out with this reason and mstl models the season.
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({168}));
  ASSERT_FALSE(fit.ok());
  EXPECT_EQ(fit.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fit.status().message(),
            "ets models seasons of at most 48 steps; the season here is 168 steps (mstl covers it)");
  // Without a season, the same data fit (non-seasonal models).
  EXPECT_TRUE(NewEtsMethod()->Fit(y, Periods({})).ok());
}

TEST(EtsEdgeTest, NonPositiveDataSkipMultiplicativeModels) {
  Truth t = MakeTruth("ANA", {0.2, 0, 0.1, 1}, 24, 2.0);
  t.l0 = 0.0;  // crosses zero
  const std::vector<double> y = Simulate(t, 500, 44);
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({24}));
  ASSERT_TRUE(fit.ok());
  EXPECT_EQ(AsEts(*fit).spec().error, 'A');
  EXPECT_NE(AsEts(*fit).spec().season, 'M');
  EXPECT_EQ(FitEts(y, 24, *ParseEtsSpec("MNM")).status().code(), StatusCode::kInvalidArgument);
  std::vector<double> with_zero = Simulate(MakeTruth("ANN", {0.3, 0, 0, 1}, 1, 2.0), 100, 45);
  with_zero[50] = 0.0;
  EXPECT_EQ(FitEts(with_zero, 1, *ParseEtsSpec("MNN")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(EtsEdgeTest, HugeValues) {
  Truth t = MakeTruth("MNM", {0.2, 0, 0.1, 1}, 24, 0.03);
  t.l0 = 3e12;
  const std::vector<double> y = Simulate(t, 500, 46);
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({24}));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  const PointForecast f = (*fit)->Predict(48);
  ExpectFinite(f, 48);
  EXPECT_NEAR(f.mean[0] / y.back(), 1.0, 0.5);
  EXPECT_GT(f.sigma[0], 1e9);
  // The same series scaled down gives the same model and proportional forecasts.
  std::vector<double> small = y;
  for (double& v : small) {
    v *= 1e-12;
  }
  Result<std::unique_ptr<FittedModel>> fit_small = NewEtsMethod()->Fit(small, Periods({24}));
  ASSERT_TRUE(fit_small.ok());
  EXPECT_EQ((*fit)->Describe(), (*fit_small)->Describe());
  EXPECT_NEAR((*fit_small)->Predict(1).mean[0] * 1e12, f.mean[0], 1e-6 * f.mean[0]);
}

TEST(EtsEdgeTest, EveryDefaultModelForecastsFinitelyFarAhead) {
  Truth t = MakeTruth("MAM", {0.3, 0.05, 0.1, 1}, 24, 0.05, 0.2);
  const std::vector<double> y = Simulate(t, 400, 47);
  for (const char* spec : {"ANN", "AAN", "AAdN", "MNN", "MAN", "MAdN", "ANA", "AAA", "AAdA", "MNA",
                           "MAA", "MAdA", "MNM", "MAM", "MAdM", "ANM", "AAdM"}) {
    Result<std::unique_ptr<FittedModel>> fit = FitEts(y, 24, *ParseEtsSpec(spec));
    ASSERT_TRUE(fit.ok()) << spec << ": " << fit.status().ToString();
    ExpectFinite((*fit)->Predict(1000), 1000);
    EXPECT_TRUE(std::isfinite(AsEts(*fit).aicc())) << spec;
  }
  EXPECT_TRUE((*NewEtsMethod()->Fit(y, Periods({24})))->Predict(0).mean.empty());
}

TEST(EtsEdgeTest, SpikyPositiveSeriesStaysFinite) {
  std::mt19937_64 rng(48);
  std::exponential_distribution<double> spikes(1.0);
  std::vector<double> y(960);
  for (int i = 0; i < 960; ++i) {
    y[i] = 1e-3 + (i % 24 == 3 ? 500.0 : 1.0) * std::pow(spikes(rng), 3.0);
  }
  Result<std::unique_ptr<FittedModel>> fit = NewEtsMethod()->Fit(y, Periods({24, 168}));
  ASSERT_TRUE(fit.ok());
  ExpectFinite((*fit)->Predict(168), 168);
  for (int i = 0; i < 100; ++i) {
    (*fit)->Update(i % 7 == 0 ? 1e-9 : y[i]);
  }
  ExpectFinite((*fit)->Predict(168), 168);
}

}  // namespace
}  // namespace foresight::forecast
