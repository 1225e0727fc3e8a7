#include "foresight/forecast/theta.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kMax = std::numeric_limits<double>::max();
constexpr double kAlphaLo = 1e-4, kAlphaHi = 0.9999;  // as R's ets

double Clamp(double v) { return std::isnan(v) ? 0.0 : std::clamp(v, -kMax, kMax); }

// (1 - (1 - alpha)^k) / alpha: how far the drift has carried after k steps of smoothing.
double DriftSteps(double alpha, int64_t k) {
  return (1 - std::pow(1 - alpha, static_cast<double>(k))) / alpha;
}

// Data in standard units u = (y - center) / scale: the fit is affine-equivariant, so this changes
// nothing but keeps squares of huge values finite.
struct Scaled {
  std::vector<double> u;  // NaN = missing
  double center = 0, scale = 1;
  int observed = 0;
};

Scaled Standardise(std::span<const double> y) {
  Scaled s;
  double lo = kMax, hi = -kMax;
  for (double v : y) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    ++s.observed;
  }
  if (s.observed == 0) return s;
  s.center = lo / 2 + hi / 2;
  const double half_range = hi / 2 - lo / 2;
  s.scale = half_range > 0 ? half_range : 1;
  s.u.reserve(y.size());
  for (double v : y) {
    s.u.push_back(std::isfinite(v) ? (v - s.center) / s.scale
                                   : std::numeric_limits<double>::quiet_NaN());
  }
  return s;
}

// The one-pass recursion for a given alpha, with the level written as A + B * l0 so that the
// best l0 follows in closed form.
struct Pass {
  double sse = 0;
  double l0 = 0;
};

Pass RunPass(const std::vector<double>& u, double alpha, double drift) {
  double a = 0, b = 1;  // level = a + b * l0
  double srr = 0, srb = 0, sbb = 0;
  double decay = 1;  // (1 - alpha)^t
  for (size_t t = 0; t < u.size(); ++t) {
    const double c = (1 - decay) / alpha;  // DriftSteps(alpha, t)
    decay *= 1 - alpha;
    if (std::isfinite(u[t])) {
      const double r = u[t] - a;  // the SES error: alpha is SES's, as in Hyndman and Billah
      srr += r * r;
      srb += r * b;
      sbb += b * b;
      a = alpha * u[t] + (1 - alpha) * a;
      b *= 1 - alpha;
    } else {
      a += alpha * drift * c;
    }
  }
  Pass p;
  p.l0 = sbb > 1e-300 ? srb / sbb : 0;
  p.sse = std::max(0.0, srr - 2 * p.l0 * srb + p.l0 * p.l0 * sbb);
  return p;
}

class ThetaModel final : public FittedModel {
 public:
  ThetaModel(double alpha, double drift, double level, int64_t steps, double sigma, double center,
             double scale)
      : alpha_(alpha),
        drift_(drift),
        level_(level),
        steps_(steps),
        sigma_(sigma),
        center_(center),
        scale_(scale) {}

  std::string Describe() const override { return "Theta"; }

  PointForecast Predict(int horizon) const override {
    PointForecast f;
    const double c = DriftSteps(alpha_, steps_);
    for (int h = 1; h <= horizon; ++h) {
      const double u = level_ + drift_ * (h - 1 + c);
      f.mean.push_back(Clamp(center_ + scale_ * u));
      const double k = static_cast<double>(h - 1 + missed_);
      f.sigma.push_back(Clamp(scale_ * sigma_ * std::sqrt(1 + k * alpha_ * alpha_)));
    }
    return f;
  }

  void Update(double y) override {
    const double c = DriftSteps(alpha_, steps_);
    if (std::isfinite(y)) {
      level_ = alpha_ * ((y - center_) / scale_) + (1 - alpha_) * level_;
      missed_ = 0;
    } else {
      level_ += alpha_ * drift_ * c;  // absorbs its own one-step forecast
      ++missed_;
    }
    ++steps_;
  }

 private:
  double alpha_, drift_, level_;
  int64_t steps_;
  double sigma_;
  double center_, scale_;
  int64_t missed_ = 0;  // steps since the last observation
};

class ThetaMethod final : public Method {
 public:
  explicit ThetaMethod(ThetaOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "theta"; }
  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y,
                                           const FitContext& ctx) const override {
    const double alpha = options_.alpha;
    return FitSeasonallyAdjusted(
        y, ctx.periods, options_.adjustment,
        [alpha](std::span<const double> adjusted) { return FitTheta(adjusted, alpha); });
  }

 private:
  ThetaOptions options_;
};

}  // namespace

Result<std::unique_ptr<FittedModel>> FitTheta(std::span<const double> y, double alpha) {
  if (alpha != 0 && !(alpha > 0 && alpha < 1)) {
    return InvalidArgument("theta alpha must be in (0, 1), got " + std::to_string(alpha));
  }
  Scaled s = Standardise(y);
  if (s.observed < 3) {
    return FailedPrecondition("theta needs at least 3 observations, got " +
                              std::to_string(s.observed));
  }
  // Least-squares slope over the observed steps.
  double tm = 0, um = 0;
  for (size_t t = 0; t < s.u.size(); ++t) {
    if (std::isfinite(s.u[t])) {
      tm += static_cast<double>(t) / s.observed;
      um += s.u[t] / s.observed;
    }
  }
  double sxy = 0, sxx = 0;
  for (size_t t = 0; t < s.u.size(); ++t) {
    if (std::isfinite(s.u[t])) {
      sxy += (t - tm) * (s.u[t] - um);
      sxx += (t - tm) * (t - tm);
    }
  }
  const double drift = sxx > 0 ? sxy / sxx / 2 : 0;

  if (alpha == 0) {
    // The SSE can have more than one local minimum: a grid finds the basin, golden-section
    // search refines it.
    double best = kAlphaLo, best_sse = kMax;
    constexpr int kGrid = 50;
    const double step = (kAlphaHi - kAlphaLo) / (kGrid - 1);
    for (int i = 0; i < kGrid; ++i) {
      const double a = kAlphaLo + i * step;
      const double sse = RunPass(s.u, a, drift).sse;
      if (sse < best_sse) {
        best_sse = sse;
        best = a;
      }
    }
    double lo = std::max(kAlphaLo, best - step), hi = std::min(kAlphaHi, best + step);
    const double g = (std::sqrt(5.0) - 1) / 2;
    double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
    double f1 = RunPass(s.u, x1, drift).sse, f2 = RunPass(s.u, x2, drift).sse;
    for (int it = 0; it < 40 && hi - lo > 1e-6; ++it) {
      if (f1 <= f2) {
        hi = x2;
        x2 = x1;
        f2 = f1;
        x1 = hi - g * (hi - lo);
        f1 = RunPass(s.u, x1, drift).sse;
      } else {
        lo = x1;
        x1 = x2;
        f1 = f2;
        x2 = lo + g * (hi - lo);
        f2 = RunPass(s.u, x2, drift).sse;
      }
    }
    const double refined = f1 <= f2 ? x1 : x2;
    alpha = std::min(f1, f2) <= best_sse ? refined : best;
  }

  const Pass pass = RunPass(s.u, alpha, drift);
  const double sigma = std::sqrt(pass.sse / std::max(1, s.observed - 2));
  auto model = std::make_unique<ThetaModel>(alpha, drift, pass.l0, 0, sigma, s.center, s.scale);
  for (double v : y) model->Update(v);
  return std::unique_ptr<FittedModel>(std::move(model));
}

std::unique_ptr<Method> NewThetaMethod(ThetaOptions options) {
  return std::make_unique<ThetaMethod>(std::move(options));
}

}  // namespace foresight::forecast
