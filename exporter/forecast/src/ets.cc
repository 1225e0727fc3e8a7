#include "foresight/forecast/ets.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The data are divided by their mean absolute value before fitting, so states live near 1. In
// those units a multiplicative model whose one-step mean or level leaves [1e-12, 1e12] has blown
// up (or divides by almost nothing): the parameters are rejected.
constexpr double kMinPositive = 1e-12;
constexpr double kMaxMu = 1e12;
// Forecasts beyond this many times the mean level (normalised units) are not believed from a
// multiplicative model that has an additive fallback.
constexpr double kMaxForecast = 1e6;
// Floor of the sum of squared errors (normalised units, per observation): an exact fit (a
// constant series) gives a finite likelihood, and ties go to the simpler model.
constexpr double kSseFloorPerObs = 1e-28;
// Extra points beyond two full periods before a seasonal model is fitted.
constexpr int kSeasonalExtraPoints = 4;
constexpr int kMinObservations = 3;
// Periods averaged for the initial seasonal states. The states are not optimised, so their noise
// is washed out by the smoothing instead, and the likelihood then overstates gamma: with the
// first 3 periods, simulated gammas of 0.02-0.05 came back as ~0.10; with 10, as ~0.05. (Running
// the fitted model backwards for the initial states swung the other way, to gamma ~0, for 60%
// more time.) Out-of-sample accuracy hardly moved between these choices. Ten days of hourly
// data also average weekdays with weekends.
constexpr int kInitialSeasonPeriods = 10;

constexpr double kAlphaMin = 1e-4;
constexpr double kAlphaMax = 1.0 - 1e-4;
constexpr double kPhiMin = 0.8;
constexpr double kPhiMax = 0.98;

enum class Season : uint8_t { kNone, kAdd, kMul };

Season SeasonOf(const EtsSpec& spec) {
  switch (spec.season) {
    case 'A':
      return Season::kAdd;
    case 'M':
      return Season::kMul;
    default:
      return Season::kNone;
  }
}

bool HasTrend(const EtsSpec& spec) { return spec.trend == 'A'; }
bool IsMultiplicative(const EtsSpec& spec) { return spec.error == 'M' || spec.season == 'M'; }

Status ValidateSpec(const EtsSpec& spec) {
  if (spec.error != 'A' && spec.error != 'M') {
    return InvalidArgument(std::string("ETS error must be 'A' or 'M', got '") + spec.error + "'");
  }
  if (spec.trend != 'N' && spec.trend != 'A') {
    return InvalidArgument(std::string("ETS trend must be 'N' or 'A', got '") + spec.trend + "'");
  }
  if (spec.season != 'N' && spec.season != 'A' && spec.season != 'M') {
    return InvalidArgument(std::string("ETS season must be 'N', 'A' or 'M', got '") + spec.season +
                           "'");
  }
  if (spec.damped && spec.trend != 'A') {
    return InvalidArgument("ETS damped needs trend 'A'");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The state recursion, in the error-correction form. With e = y - mu, the updates are the same
// for additive and multiplicative errors (the error type changes only the likelihood and the
// forecast variance):
//   lt = l + phi b                       (l without a trend)
//   mu = lt, lt + s, or lt * s           (s: the seasonal state of this step, m steps old)
//   additive or no season:   l' = lt + alpha e,     b' = phi b + beta e,     s' = s + gamma e
//   multiplicative season:   l' = lt + alpha e / s, b' = phi b + beta e / s, s' = s + gamma e / lt
// A missing y: l' = lt, b' = phi b, s' = s.
// The seasonal states sit in a ring of m values; s[pos] belongs to the next step.
//
// The loop is written around the seasonally adjusted value ys = y - s or y / s, which does not
// depend on the level: d = ys - lt is e (or e / s), and the chain from one prediction to the next
// is a subtract and a multiply-add. Divisions, the trend and the likelihood terms hang off that
// chain, so the CPU overlaps them (3-5 ns a step).

struct RunStats {
  double sse = 0.0;         // squared errors, relative ones for multiplicative errors
  double sum_log_mu = 0.0;  // sum of log(mu) over observed steps, multiplicative errors only
  bool ok = true;           // false: a multiplicative model left its valid range
};

using RunFn = RunStats (*)(const double* y, int n, int m, const EtsParams& p, double& l, double& b,
                           double* s, int& pos);

template <bool kTrend, Season kSeason, bool kMulErr>
RunStats Run(const double* y, int n, int m, const EtsParams& p, double& l_io, double& b_io,
             double* s, int& pos_io) {
  double l = l_io;
  double b = b_io;
  int pos = pos_io;
  const double alpha = p.alpha;
  const double beta = p.beta;
  const double gamma = p.gamma;
  const double phi = p.phi;
  // With a trend, the next prediction lt' = l' + phi b' is computed as
  // (lt + phi^2 b) + (alpha + phi beta) d, so that b' is off the chain from lt to lt'.
  const double phi2 = phi * phi;
  const double ab = alpha + phi * beta;
  double lt = kTrend ? l + phi * b : l;
  double sse = 0.0;
  // Product of the mus, renormalised every 16 steps: a log per step would cost more than the
  // rest of the step.
  double prod = 1.0;
  double log2_acc = 0.0;
  int in_prod = 0;
  RunStats stats;
  for (int t = 0; t < n; ++t) {
    const double yt = y[t];
    if (!std::isnan(yt)) {
      double so = 0.0;
      double ys = yt;
      if constexpr (kSeason == Season::kAdd) {
        so = s[pos];
        ys = yt - so;
      } else if constexpr (kSeason == Season::kMul) {
        so = s[pos];
        if (!(lt > kMinPositive && so > kMinPositive)) {
          stats.ok = false;
          break;
        }
        ys = yt / so;
      }
      const double d = ys - lt;
      l = lt + alpha * d;
      double next = l;
      if constexpr (kTrend) {
        next = (lt + phi2 * b) + ab * d;
        b = phi * b + beta * d;
      }
      double q = 0.0;  // y / mu, multiplicative season only
      if constexpr (kSeason == Season::kAdd) {
        s[pos] = so + gamma * d;
      } else if constexpr (kSeason == Season::kMul) {
        q = ys / lt;
        s[pos] = so + gamma * so * (q - 1.0);
      }
      if constexpr (kMulErr) {
        const double mu =
            kSeason == Season::kAdd ? lt + so : (kSeason == Season::kMul ? lt * so : lt);
        if (!(mu > kMinPositive && mu < kMaxMu)) {
          stats.ok = false;
          break;
        }
        const double r = kSeason == Season::kMul ? q - 1.0 : d / mu;
        sse += r * r;
        prod *= mu;
        if (++in_prod == 16) {
          int ex = 0;
          prod = std::frexp(prod, &ex);
          log2_acc += ex;
          in_prod = 0;
        }
      } else {
        const double e = kSeason == Season::kMul ? d * so : d;
        sse += e * e;
      }
      lt = next;
    } else {
      l = lt;
      if constexpr (kTrend) {
        lt += phi2 * b;
        b = phi * b;
      }
    }
    if constexpr (kSeason != Season::kNone) {
      if (++pos == m) {
        pos = 0;
      }
    }
  }
  stats.sse = sse;
  if constexpr (kMulErr) {
    stats.sum_log_mu = std::log(prod) + log2_acc * std::log(2.0);
  }
  if (!std::isfinite(sse)) {
    stats.ok = false;
  }
  l_io = l;
  b_io = b;
  pos_io = pos;
  return stats;
}

template <Season kSeason>
RunFn SelectRunFor(bool trend, bool mul_err) {
  if (trend) {
    return mul_err ? &Run<true, kSeason, true> : &Run<true, kSeason, false>;
  }
  return mul_err ? &Run<false, kSeason, true> : &Run<false, kSeason, false>;
}

RunFn SelectRun(const EtsSpec& spec) {
  const bool trend = HasTrend(spec);
  const bool mul = spec.error == 'M';
  switch (SeasonOf(spec)) {
    case Season::kAdd:
      return SelectRunFor<Season::kAdd>(trend, mul);
    case Season::kMul:
      return SelectRunFor<Season::kMul>(trend, mul);
    case Season::kNone:
      break;
  }
  return SelectRunFor<Season::kNone>(trend, mul);
}

// ---------------------------------------------------------------------------------------------
// Data preparation and initial states.

struct Series {
  std::vector<double> y;  // y / scale; every non-finite value is NaN
  double scale = 1.0;     // mean absolute observed value (1 when that is 0)
  int n_obs = 0;
  bool positive = false;  // every observed value > 0
};

Series Prepare(std::span<const double> y) {
  Series s;
  s.y.assign(y.begin(), y.end());
  double mean_abs = 0.0;  // running mean: no overflow even near the largest doubles
  bool positive = true;
  for (double& v : s.y) {
    if (!std::isfinite(v)) {
      v = kNaN;
      continue;
    }
    ++s.n_obs;
    mean_abs += (std::fabs(v) - mean_abs) / s.n_obs;
    positive = positive && v > 0.0;
  }
  s.positive = positive && s.n_obs > 0;
  s.scale = (mean_abs > 0.0 && std::isfinite(mean_abs)) ? mean_abs : 1.0;
  for (double& v : s.y) {
    v /= s.scale;
  }
  return s;
}

// Seasonal indices from a classical decomposition of the first periods (up to
// kInitialSeasonPeriods): a centred moving average of order m (2xm for even m) is the trend, the
// detrended values are averaged per position, and the indices are normalised (sum 0, or mean 1).
// Gaps are skipped.
std::vector<double> InitialSeason(const std::vector<double>& y, int m, bool mul) {
  const int n = static_cast<int>(y.size());
  const int periods = std::min(kInitialSeasonPeriods, n / m);
  const int len = periods * m;
  const int half = m / 2;
  const bool even = m % 2 == 0;
  std::vector<double> sum(m, 0.0);
  std::vector<int> count(m, 0);
  for (int t = half; t < len && t + half < n; ++t) {
    if (std::isnan(y[t])) {
      continue;
    }
    double acc = 0.0;
    double w_seen = 0.0;
    for (int j = -half; j <= half; ++j) {
      const double w = (even && (j == -half || j == half)) ? 0.5 : 1.0;
      const double v = y[t + j];
      if (!std::isnan(v)) {
        acc += w * v;
        w_seen += w;
      }
    }
    // With gaps the average is biased by the seasonal pattern itself; tolerate a few.
    if (w_seen < 0.8 * m) {
      continue;
    }
    const double level = acc / w_seen;
    if (mul) {
      if (!(level > 0.0)) {
        continue;
      }
      sum[t % m] += y[t] / level;
    } else {
      sum[t % m] += y[t] - level;
    }
    ++count[t % m];
  }
  std::vector<double> s(m);
  double mean = 0.0;
  for (int j = 0; j < m; ++j) {
    s[j] = count[j] > 0 ? sum[j] / count[j] : (mul ? 1.0 : 0.0);
    mean += s[j] / m;
  }
  for (double& v : s) {
    if (mul) {
      v = mean > 0.0 ? std::max(v / mean, 1e-6) : 1.0;
    } else {
      v -= mean;
    }
  }
  return s;
}

struct InitialState {
  double l = 0.0;
  double b = 0.0;
  std::vector<double> s;  // indexed by step modulo m, from step 0
  double flat_l = 0.0;    // the level without a trend (the mean of the window)
};

// Level and trend: a least-squares line (or a mean) through the first max(10, 2m) seasonally
// adjusted observations, evaluated at step 0 (just before the first observation).
InitialState Initialise(const std::vector<double>& y, int m, const EtsSpec& spec) {
  InitialState init;
  const Season season = SeasonOf(spec);
  const int n = static_cast<int>(y.size());
  if (season != Season::kNone) {
    init.s = InitialSeason(y, m, season == Season::kMul);
  }
  auto adjusted = [&](int t) {
    const double v = y[t];
    if (season == Season::kAdd) {
      return v - init.s[t % m];
    }
    if (season == Season::kMul) {
      return v / init.s[t % m];
    }
    return v;
  };
  int window = std::min(std::max(10, 2 * m), n);
  int count = 0;
  for (int t = 0; t < window; ++t) {
    count += std::isnan(y[t]) ? 0 : 1;
  }
  if (count < 3) {
    window = n;
  }
  double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0;
  count = 0;
  for (int t = 0; t < window; ++t) {
    if (std::isnan(y[t])) {
      continue;
    }
    const double x = t + 1.0;
    const double v = adjusted(t);
    sx += x;
    sy += v;
    sxx += x * x;
    sxy += x * v;
    ++count;
  }
  if (count == 0) {
    return init;
  }
  const double mean_y = sy / count;
  init.l = mean_y;
  init.flat_l = mean_y;
  if (HasTrend(spec) && count >= 2) {
    const double mean_x = sx / count;
    const double vxx = sxx / count - mean_x * mean_x;
    if (vxx > 0.0) {
      init.b = (sxy / count - mean_x * mean_y) / vxx;
      init.l = mean_y - init.b * mean_x;
    }
    // A multiplicative model needs a positive first prediction.
    if (IsMultiplicative(spec) && !(init.l + init.b > kMinPositive)) {
      init.b = 0.0;
      init.l = mean_y;
    }
  }
  return init;
}

// ---------------------------------------------------------------------------------------------
// Parameters <-> optimiser coordinates: a unit box, where the usual region's bounds are fixed
// bounds: x0 = alpha (scaled into [kAlphaMin, kAlphaMax]), x1 = beta / alpha, x2 = gamma /
// (1 - alpha), x3 = phi (scaled into [0.8, 0.98]). Points outside the box are evaluated at their
// projection plus a quadratic penalty, so the minimum sits on the boundary when the likelihood
// wants to go beyond (alpha -> 1 and beta -> alpha are common on spiky series). A logistic map
// instead puts those optima at infinity, where Nelder-Mead stalls on a flat plateau.

constexpr double kShareMin = 1e-4;  // keeps beta < alpha and gamma < 1 - alpha strict
constexpr double kShareMax = 1.0 - 1e-4;

int NumSmoothing(const EtsSpec& spec) {
  return 1 + (HasTrend(spec) ? 1 : 0) + (spec.season != 'N' ? 1 : 0) + (spec.damped ? 1 : 0);
}

using Coords = std::array<double, 4>;

// The box projection of x, and the squared distance to it.
double Project01(Coords& x, int d) {
  double dist2 = 0.0;
  for (int i = 0; i < d; ++i) {
    const double c = std::clamp(x[i], 0.0, 1.0);
    dist2 += (x[i] - c) * (x[i] - c);
    x[i] = c;
  }
  return dist2;
}

EtsParams FromCoords(const Coords& x, const EtsSpec& spec) {
  EtsParams p;
  int i = 0;
  auto share = [](double v) {
    return kShareMin + (kShareMax - kShareMin) * std::clamp(v, 0.0, 1.0);
  };
  p.alpha = kAlphaMin + (kAlphaMax - kAlphaMin) * std::clamp(x[i++], 0.0, 1.0);
  p.beta = HasTrend(spec) ? p.alpha * share(x[i++]) : 0.0;
  p.gamma = spec.season != 'N' ? (1.0 - p.alpha) * share(x[i++]) : 0.0;
  p.phi = spec.damped ? kPhiMin + (kPhiMax - kPhiMin) * std::clamp(x[i++], 0.0, 1.0) : 1.0;
  return p;
}

Coords ToCoords(const EtsParams& p, const EtsSpec& spec) {
  Coords x{};
  int i = 0;
  auto unshare = [](double v) { return (v - kShareMin) / (kShareMax - kShareMin); };
  x[i++] = (p.alpha - kAlphaMin) / (kAlphaMax - kAlphaMin);
  if (HasTrend(spec)) {
    x[i++] = unshare(p.beta / p.alpha);
  }
  if (spec.season != 'N') {
    x[i++] = unshare(p.gamma / (1.0 - p.alpha));
  }
  if (spec.damped) {
    x[i++] = (p.phi - kPhiMin) / (kPhiMax - kPhiMin);
  }
  for (double& v : x) {
    v = std::clamp(v, 0.0, 1.0);
  }
  return x;
}

Status ValidateParams(const EtsParams& p, const EtsSpec& spec) {
  const bool ok = p.alpha > 0.0 && p.alpha < 1.0 &&
                  (!HasTrend(spec) || (p.beta > 0.0 && p.beta < p.alpha)) &&
                  (spec.season == 'N' || (p.gamma > 0.0 && p.gamma < 1.0 - p.alpha)) &&
                  (!spec.damped || (p.phi >= kPhiMin && p.phi <= kPhiMax));
  if (!ok) {
    return InvalidArgument(
        "ETS parameters outside 0<alpha<1, 0<beta<alpha, 0<gamma<1-alpha, "
        "0.8<=phi<=0.98");
  }
  return Status::Ok();
}

// Nelder-Mead (standard coefficients 1, 2, 1/2, 1/2) in up to 4 dimensions. Infinite values are
// allowed (invalid parameters); x is the start in, the best point out.
template <class F>
double NelderMead(F& f, Coords& x, int d, double step, double ftol, int max_evals, int& evals) {
  std::array<Coords, 5> v;
  std::array<double, 5> fv;
  v[0] = x;
  fv[0] = f(v[0]);
  for (int i = 1; i <= d; ++i) {
    v[i] = x;
    v[i][i - 1] += v[i][i - 1] + step > 1.0 ? -step : step;  // into the box
    fv[i] = f(v[i]);
  }
  evals += d + 1;
  auto along = [&](const Coords& c, double t) {  // c + t (c - worst)
    Coords r{};
    for (int k = 0; k < d; ++k) {
      r[k] = c[k] + t * (c[k] - v[d][k]);
    }
    return r;
  };
  while (true) {
    for (int i = 1; i <= d; ++i) {  // insertion sort, best first
      for (int j = i; j > 0 && fv[j] < fv[j - 1]; --j) {
        std::swap(fv[j], fv[j - 1]);
        std::swap(v[j], v[j - 1]);
      }
    }
    if (!(fv[0] < kInf) || fv[d] - fv[0] <= ftol || evals >= max_evals) {
      break;
    }
    Coords c{};
    for (int i = 0; i < d; ++i) {
      for (int k = 0; k < d; ++k) {
        c[k] += v[i][k] / d;
      }
    }
    const Coords xr = along(c, 1.0);
    const double fr = f(xr);
    ++evals;
    if (fr < fv[0]) {
      const Coords xe = along(c, 2.0);
      const double fe = f(xe);
      ++evals;
      if (fe < fr) {
        v[d] = xe;
        fv[d] = fe;
      } else {
        v[d] = xr;
        fv[d] = fr;
      }
      continue;
    }
    if (fr < fv[d - 1]) {
      v[d] = xr;
      fv[d] = fr;
      continue;
    }
    const bool outside = fr < fv[d];
    const Coords xc = along(c, outside ? 0.5 : -0.5);
    const double fc = f(xc);
    ++evals;
    if (outside ? fc <= fr : fc < fv[d]) {
      v[d] = xc;
      fv[d] = fc;
      continue;
    }
    for (int i = 1; i <= d; ++i) {
      for (int k = 0; k < d; ++k) {
        v[i][k] = v[0][k] + 0.5 * (v[i][k] - v[0][k]);
      }
      fv[i] = f(v[i]);
    }
    evals += d;
  }
  x = v[0];
  return fv[0];
}

// ---------------------------------------------------------------------------------------------
// The fitted model.

double Normal(std::mt19937_64& rng) {  // Box-Muller: the same numbers on every platform
  constexpr double kTwoPi = 2.0 * std::numbers::pi;
  const double u1 = (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
  const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

class EtsFit final : public EtsModel {
 public:
  EtsFit(const EtsSpec& spec, int m, const EtsParams& params, double scale)
      : spec_(spec), m_(m), params_(params), scale_(scale), run_(SelectRun(spec)) {}

  std::string Describe() const override { return Active().spec_.ToString(); }
  EtsSpec spec() const override { return Active().spec_; }
  EtsParams params() const override { return Active().params_; }
  int period() const override { return Active().m_; }
  double sigma2() const override {
    const EtsFit& a = Active();
    return a.spec_.error == 'A' ? a.sigma2_ * a.scale_ * a.scale_ : a.sigma2_;
  }
  double log_likelihood() const override { return Active().loglik_; }
  double aicc() const override { return Active().aicc_; }
  int num_params() const override { return Active().k_; }

  PointForecast Predict(int horizon) const override;
  void Update(double y) override;

  // Runs the recursion from the initial states over the series and fills the state, likelihood,
  // information criteria and sigma. False when the model left its valid range.
  bool Finish(const Series& series, const InitialState& init);
  // The model is usable: finite states, sane forecasts over a probe horizon.
  bool Sane() const;

  double aic() const { return aic_; }
  void set_fallback(std::unique_ptr<EtsFit> fallback) { fallback_ = std::move(fallback); }

 private:
  const EtsFit& Active() const { return (broken_ && fallback_) ? *fallback_ : *this; }
  bool StateValid() const;
  double SeasonAt(int h) const { return s_[(pos_ + h - 1) % m_]; }
  // Forecast in normalised units; variance of the forecast error.
  void Raw(int horizon, std::vector<double>& mean, std::vector<double>& var) const;
  void SimulatedVariance(int horizon, const std::vector<double>& mean,
                         std::vector<double>& var) const;

  EtsSpec spec_;
  int m_;
  EtsParams params_;
  double scale_;
  RunFn run_;
  double sigma2_ = 0.0;  // normalised units (additive errors) or relative (multiplicative)
  double loglik_ = 0.0;
  double aic_ = kInf;
  double aicc_ = kInf;
  int k_ = 0;
  double l_ = 0.0;
  double b_ = 0.0;
  std::vector<double> s_;  // ring of seasonal states; s_[pos_] is the next step's
  int pos_ = 0;
  // For a multiplicative model: the additive model that takes over if this one breaks.
  std::unique_ptr<EtsFit> fallback_;
  bool broken_ = false;
};

bool EtsFit::Finish(const Series& series, const InitialState& init) {
  l_ = init.l;
  b_ = init.b;
  s_ = init.s;
  pos_ = 0;
  const RunStats st = run_(series.y.data(), static_cast<int>(series.y.size()), m_, params_, l_, b_,
                           s_.data(), pos_);
  if (!st.ok) {
    return false;
  }
  k_ = NumSmoothing(spec_) + 1 + (HasTrend(spec_) ? 1 : 0) + (spec_.season != 'N' ? m_ - 1 : 0) + 1;
  const double n = series.n_obs;
  const double sse = std::max(st.sse, kSseFloorPerObs * n);
  // -2 log L with sigma^2 = sse / n, in the units of y (hence the scale term).
  const double m2ll = n * (std::log(2.0 * std::numbers::pi) + 1.0 + std::log(sse / n)) +
                      2.0 * st.sum_log_mu + 2.0 * n * std::log(scale_);
  loglik_ = -0.5 * m2ll;
  aic_ = m2ll + 2.0 * k_;
  aicc_ = n - k_ - 1 > 0 ? aic_ + 2.0 * k_ * (k_ + 1) / (n - k_ - 1) : kInf;
  sigma2_ = st.sse / std::max(1.0, n - k_);
  return std::isfinite(loglik_) && StateValid();
}

bool EtsFit::StateValid() const {
  if (!std::isfinite(l_) || !std::isfinite(b_)) {
    return false;
  }
  for (double v : s_) {
    if (!std::isfinite(v)) {
      return false;
    }
  }
  if (!IsMultiplicative(spec_)) {
    return true;
  }
  const double lt = l_ + params_.phi * b_;
  if (spec_.season == 'M') {
    return lt > kMinPositive && s_[pos_] > kMinPositive;
  }
  const double mu = spec_.season == 'A' ? lt + s_[pos_] : lt;
  return mu > kMinPositive;
}

void EtsFit::Raw(int horizon, std::vector<double>& mean, std::vector<double>& var) const {
  const int h = horizon;
  const EtsParams& p = params_;
  const Season season = SeasonOf(spec_);
  mean.assign(h, 0.0);
  var.assign(h, 0.0);
  std::vector<double> base(h);  // level + damped trend
  std::vector<double> c(h);     // c[j]: weight of the error j steps back (Hyndman et al. ch. 6)
  double phi_pow = 1.0;
  double phi_sum = 0.0;
  for (int j = 1; j <= h; ++j) {
    phi_pow *= p.phi;
    phi_sum += phi_pow;
    base[j - 1] = l_ + phi_sum * b_;
    double mu = base[j - 1];
    if (season == Season::kAdd) {
      mu += SeasonAt(j);
    } else if (season == Season::kMul) {
      mu *= SeasonAt(j);
    }
    mean[j - 1] = mu;
    const bool season_lag = season != Season::kNone && j % m_ == 0;
    c[j - 1] = p.alpha + p.beta * phi_sum + (season_lag && season != Season::kMul ? p.gamma : 0.0);
  }
  const double s2 = sigma2_;
  if (spec_.error == 'A' && season != Season::kMul) {
    // Class 1 (linear, homoscedastic): v_h = sigma^2 (1 + sum_{j<h} c_j^2).
    double acc = 1.0;
    for (int j = 1; j <= h; ++j) {
      var[j - 1] = s2 * acc;
      acc += c[j - 1] * c[j - 1];
    }
    return;
  }
  if (spec_.error == 'A') {
    SimulatedVariance(h, mean, var);
    return;
  }
  // Classes 2 and 3: theta_h = mu_h^2 + sigma^2 sum_{j<h} c_j^2 theta_{h-j}, with mu the mean
  // without the multiplicative season (class 3 puts it back with its own variance growth).
  const std::vector<double>& mu = season == Season::kMul ? base : mean;
  std::vector<double> theta(h);
  for (int j = 1; j <= h; ++j) {
    double acc = 0.0;
    for (int i = 1; i < j; ++i) {
      acc += c[i - 1] * c[i - 1] * theta[j - i - 1];
    }
    theta[j - 1] = mu[j - 1] * mu[j - 1] + s2 * acc;
    if (season == Season::kMul) {
      const double s = SeasonAt(j);
      const int cycles = (j - 1) / m_;
      const double grow = std::pow(1.0 + p.gamma * p.gamma * s2, cycles);
      var[j - 1] = s * s * ((1.0 + s2) * grow * theta[j - 1] - mu[j - 1] * mu[j - 1]);
    } else {
      var[j - 1] = (1.0 + s2) * theta[j - 1] - mu[j - 1] * mu[j - 1];
    }
  }
}

// Additive errors with a multiplicative season have no usable closed form: 500 simulated paths
// from a fixed seed, so the same state always gives the same sigma.
void EtsFit::SimulatedVariance(int h, const std::vector<double>& mean,
                               std::vector<double>& var) const {
  constexpr int kPaths = 500;
  std::mt19937_64 rng(0x5eedf00dULL);
  std::vector<double> sum(h, 0.0), sumsq(h, 0.0);
  std::vector<int> count(h, 0);
  std::vector<double> s(s_.size());
  const double sigma = std::sqrt(sigma2_);
  for (int path = 0; path < kPaths; ++path) {
    double l = l_, b = b_;
    int pos = pos_;
    std::copy(s_.begin(), s_.end(), s.begin());
    for (int j = 0; j < h; ++j) {
      const double lt = l + params_.phi * b;
      const double mu = lt * s[pos];
      const double y = mu + sigma * Normal(rng);
      if (!run_(&y, 1, m_, params_, l, b, s.data(), pos).ok || !std::isfinite(l)) {
        break;
      }
      const double d = y - mean[j];
      sum[j] += d;
      sumsq[j] += d * d;
      ++count[j];
    }
  }
  for (int j = 0; j < h; ++j) {
    var[j] = count[j] > 1 ? (sumsq[j] - sum[j] * sum[j] / count[j]) / (count[j] - 1) : kNaN;
  }
}

bool AllSane(const std::vector<double>& mean, const std::vector<double>& var) {
  for (size_t j = 0; j < mean.size(); ++j) {
    if (!(std::fabs(mean[j]) < kMaxForecast) || !(var[j] < kMaxForecast * kMaxForecast)) {
      return false;
    }
  }
  return true;
}

bool EtsFit::Sane() const {
  if (!StateValid()) {
    return false;
  }
  if (!IsMultiplicative(spec_)) {
    return true;  // linear recursions with bounded parameters: finite for finite data
  }
  std::vector<double> mean, var;
  Raw(std::max(2 * m_, 24), mean, var);
  return AllSane(mean, var);
}

PointForecast EtsFit::Predict(int horizon) const {
  PointForecast out;
  if (horizon <= 0) {
    return out;
  }
  if (broken_ && fallback_) {
    return fallback_->Predict(horizon);
  }
  std::vector<double> mean, var;
  Raw(horizon, mean, var);
  if (fallback_ && !AllSane(mean, var)) {
    return fallback_->Predict(horizon);
  }
  // Last line of defence (absurd inputs to Update): hold the last finite value.
  out.mean.resize(horizon);
  out.sigma.resize(horizon);
  double last_mean = std::isfinite(l_) ? l_ * scale_ : 0.0;
  double last_sigma = 0.0;
  for (int j = 0; j < horizon; ++j) {
    const double mj = mean[j] * scale_;
    const double sj = std::sqrt(std::max(0.0, var[j])) * scale_;
    last_mean = std::isfinite(mj) ? mj : last_mean;
    last_sigma = std::isfinite(sj) ? sj : last_sigma;
    out.mean[j] = std::isfinite(last_mean) ? last_mean : 0.0;
    out.sigma[j] = std::isfinite(last_sigma) ? last_sigma : 0.0;
  }
  return out;
}

void EtsFit::Update(double y) {
  if (fallback_) {
    fallback_->Update(y);
  }
  if (broken_) {
    return;
  }
  double v = std::isfinite(y) ? y / scale_ : kNaN;
  if (!std::isfinite(v)) {
    v = kNaN;
  }
  const double l = l_, b = b_;
  const int pos = pos_;
  const double s = s_.empty() ? 0.0 : s_[pos_];
  if (run_(&v, 1, m_, params_, l_, b_, s_.data(), pos_).ok && StateValid()) {
    return;
  }
  l_ = l;
  b_ = b;
  pos_ = pos;
  if (!s_.empty()) {
    s_[pos_] = s;
  }
  if (fallback_) {
    broken_ = true;
    return;
  }
  // An additive model overflowed on an absurd value: take it as missing.
  const double missing = kNaN;
  (void)run_(&missing, 1, m_, params_, l_, b_, s_.data(), pos_);
}

// ---------------------------------------------------------------------------------------------
// Estimation.

// Moves parameters fitted for another spec into this spec's region: a start for the optimiser.
EtsParams Project(const EtsParams& from, const EtsSpec& spec) {
  EtsParams p;
  p.alpha = std::clamp(from.alpha, kAlphaMin, kAlphaMax);
  p.beta = !HasTrend(spec)
               ? 0.0
               : (from.beta > 0.0 ? std::min(from.beta, 0.9 * p.alpha) : 0.01 * p.alpha);
  p.gamma = spec.season == 'N' ? 0.0
                               : (from.gamma > 0.0 ? std::min(from.gamma, 0.9 * (1.0 - p.alpha))
                                                   : 0.01 * (1.0 - p.alpha));
  p.phi = !spec.damped ? 1.0 : (from.phi < 1.0 ? from.phi : kPhiMax - 0.005);
  return p;
}

// Fits one spec to prepared data: parameters by maximum likelihood, or the given ones. `warm`
// holds parameters of related models fitted to the same data (e.g. ETS(A,N,A) for ETS(A,A,A)):
// starting there keeps a bigger model at least as good as the nested one. Null when the model
// cannot be fitted (left its valid range everywhere).
std::unique_ptr<EtsFit> FitOne(const Series& series, int m, const EtsSpec& spec,
                               const EtsParams* fixed, std::span<const EtsParams> warm = {}) {
  m = spec.season == 'N' ? 1 : m;
  // Trend models get two initial states to choose from: the fitted line, and the flat level of
  // the model without trend. The slope of a line through the first points is often noise, and
  // with a small beta it would bias the whole fit; the flat start also keeps a trend model at
  // least as good as its nested no-trend model.
  std::array<InitialState, 2> inits;
  inits[0] = Initialise(series.y, m, spec);
  int num_inits = 1;
  if (HasTrend(spec) && inits[0].b != 0.0) {
    inits[1] = inits[0];
    inits[1].l = inits[0].flat_l;
    inits[1].b = 0.0;
    num_inits = 2;
  }
  const InitialState* init = &inits[0];
  const RunFn run = SelectRun(spec);
  const int n = static_cast<int>(series.y.size());
  const double n_obs = series.n_obs;
  const bool mul_err = spec.error == 'M';
  std::vector<double> work(inits[0].s.size());
  auto objective = [&](const EtsParams& p) {
    std::copy(init->s.begin(), init->s.end(), work.begin());
    double l = init->l, b = init->b;
    int pos = 0;
    const RunStats st = run(series.y.data(), n, m, p, l, b, work.data(), pos);
    if (!st.ok) {
      return kInf;
    }
    const double f = n_obs * std::log(std::max(st.sse, kSseFloorPerObs * n_obs)) +
                     (mul_err ? 2.0 * st.sum_log_mu : 0.0);
    return std::isfinite(f) ? f : kInf;
  };

  EtsParams best;
  if (fixed != nullptr) {
    best = *fixed;
  } else {
    const int d = NumSmoothing(spec);
    // The penalty outside the box is steep against the likelihood's slope (which is of order
    // n_obs per unit), so the simplex comes back to the boundary.
    const double penalty = 100.0 * (n_obs + 10.0);
    auto in_coords = [&](const Coords& x) {
      Coords inside = x;
      const double dist2 = Project01(inside, d);
      return objective(FromCoords(inside, spec)) + penalty * dist2;
    };
    // Starts: a coarse grid and the warm starts, each with every initial state.
    struct Start {
      double f;
      Coords x;
      int init;
    };
    std::vector<Start> starts;
    auto consider = [&](const EtsParams& p) {
      const Coords x = ToCoords(p, spec);
      for (int i = 0; i < num_inits; ++i) {
        init = &inits[i];
        const double f = in_coords(x);
        if (f < kInf) {
          starts.push_back({f, x, i});
        }
      }
    };
    const bool seasonal = spec.season != 'N';
    for (double alpha : {0.05, 0.2, 0.5, 0.9}) {
      for (double beta_share : {0.1, 0.8}) {
        for (double gamma_share : {0.02, 0.3}) {
          if ((!HasTrend(spec) && beta_share != 0.1) || (!seasonal && gamma_share != 0.02)) {
            continue;
          }
          EtsParams p;
          p.alpha = alpha;
          p.beta = HasTrend(spec) ? beta_share * alpha : 0.0;
          p.gamma = seasonal ? gamma_share * (1.0 - alpha) : 0.0;
          p.phi = spec.damped ? 0.9 : 1.0;
          consider(p);
        }
      }
    }
    for (const EtsParams& w : warm) {
      consider(Project(w, spec));
    }
    if (starts.empty()) {
      return nullptr;
    }
    std::sort(starts.begin(), starts.end(),
              [](const Start& a, const Start& b) { return a.f < b.f; });
    // A short descent from the best few starts that lie apart (the likelihood has separate modes,
    // e.g. alpha -> 1 with beta -> 0 against beta -> alpha), then a full one from the winner.
    constexpr int kDescents = 3;
    constexpr double kApart = 0.2;  // in box coordinates (L-infinity)
    std::vector<const Start*> chosen;
    for (const Start& st : starts) {
      bool apart = true;
      for (const Start* c : chosen) {
        double dist = 0.0;
        for (int k = 0; k < d; ++k) {
          dist = std::max(dist, std::fabs(st.x[k] - c->x[k]));
        }
        apart = apart && (dist > kApart || st.init != c->init);
      }
      if (apart) {
        chosen.push_back(&st);
        if (static_cast<int>(chosen.size()) == kDescents) {
          break;
        }
      }
    }
    int evals = 0;
    constexpr double kFtol = 1e-3;  // in -2 log L: far below what moves an AICc choice
    Coords start{};
    double f = kInf;
    int best_init = 0;
    for (const Start* c : chosen) {
      init = &inits[c->init];
      Coords x = c->x;
      int used = 0;
      const double fx = NelderMead(in_coords, x, d, 0.25, 1e-2, 10 * d, used);
      evals += used;
      if (fx < f) {
        f = fx;
        start = x;
        best_init = c->init;
      }
    }
    init = &inits[best_init];
    NelderMead(in_coords, start, d, 0.1, kFtol, evals + 60 * d, evals);
    // One restart from the best point with a fresh, small simplex: Nelder-Mead can stall on a
    // curved valley.
    NelderMead(in_coords, start, d, 0.05, kFtol, evals + 20 * d, evals);
    Project01(start, d);
    best = FromCoords(start, spec);
  }
  // Of the initial states, keep the one that fits best with these parameters: the same rule for
  // estimated and given parameters, so that FitEtsWithParams reproduces a fit.
  init = &inits[0];
  if (num_inits == 2) {
    const double f0 = objective(best);
    init = &inits[1];
    const double f1 = objective(best);
    init = f1 < f0 ? &inits[1] : &inits[0];
  }
  auto fit = std::make_unique<EtsFit>(spec, m, best, series.scale);
  if (!fit->Finish(series, *init)) {
    return nullptr;
  }
  return fit;
}

std::vector<EtsSpec> DefaultCandidates(bool seasonal, bool multiplicative) {
  std::vector<EtsSpec> out;
  std::vector<char> errors = {'A'};
  if (multiplicative) {
    errors.push_back('M');
  }
  std::vector<char> seasons = {'N'};
  if (seasonal) {
    seasons.push_back('A');
    if (multiplicative) {
      seasons.push_back('M');
    }
  }
  for (char season : seasons) {
    for (char error : errors) {
      if (error == 'A' && season == 'M') {
        continue;  // unstable: Hyndman et al. leave these out of automatic selection too
      }
      out.push_back({error, 'N', false, season});
      out.push_back({error, 'A', false, season});
      out.push_back({error, 'A', true, season});
    }
  }
  return out;
}

// Whether the series supports a season of period m.
bool SeasonUsable(const Series& series, int m, int max_period) {
  return m >= 2 && m <= max_period &&
         static_cast<int>(series.y.size()) >= 2 * m + kSeasonalExtraPoints;
}

double SelectionScore(const EtsFit& fit, bool use_aicc) {
  return use_aicc ? fit.aicc() : fit.aic();
}

// Picks the best fit; attaches an additive fallback to a multiplicative winner.
std::unique_ptr<EtsFit> ChooseBest(std::vector<std::unique_ptr<EtsFit>> fits, const Series& series,
                                   int m) {
  bool use_aicc = false;
  for (const auto& f : fits) {
    use_aicc = use_aicc || std::isfinite(f->aicc());
  }
  int best = -1, best_add = -1;
  for (int i = 0; i < static_cast<int>(fits.size()); ++i) {
    const double score = SelectionScore(*fits[i], use_aicc);
    if (best < 0 || score < SelectionScore(*fits[best], use_aicc)) {
      best = i;
    }
    if (!IsMultiplicative(fits[i]->spec()) &&
        (best_add < 0 || score < SelectionScore(*fits[best_add], use_aicc))) {
      best_add = i;
    }
  }
  if (best < 0) {
    return nullptr;
  }
  std::unique_ptr<EtsFit> winner = std::move(fits[best]);
  if (IsMultiplicative(winner->spec())) {
    if (best_add >= 0) {
      winner->set_fallback(std::move(fits[best_add]));
    } else {
      EtsSpec add = winner->spec();
      add.error = 'A';
      if (add.season == 'M') {
        add.season = 'A';
      }
      winner->set_fallback(FitOne(series, m, add, nullptr));
    }
  }
  return winner;
}

Result<std::unique_ptr<FittedModel>> FitSingle(std::span<const double> y, int period,
                                               const EtsSpec& spec, const EtsParams* fixed) {
  FORESIGHT_RETURN_IF_ERROR(ValidateSpec(spec));
  if (fixed != nullptr) {
    FORESIGHT_RETURN_IF_ERROR(ValidateParams(*fixed, spec));
  }
  const Series series = Prepare(y);
  if (series.n_obs < kMinObservations) {
    return FailedPrecondition("ETS needs at least " + std::to_string(kMinObservations) +
                              " observations, got " + std::to_string(series.n_obs));
  }
  int m = 1;
  if (spec.season != 'N') {
    if (period < 2) {
      return InvalidArgument("ETS " + spec.ToString() + " needs a period >= 2, got " +
                             std::to_string(period));
    }
    const int need = 2 * period + kSeasonalExtraPoints;
    if (static_cast<int>(y.size()) < need) {
      return FailedPrecondition("ETS " + spec.ToString() + " with period " +
                                std::to_string(period) + " needs at least " + std::to_string(need) +
                                " observations, got " + std::to_string(y.size()));
    }
    m = period;
  }
  if (IsMultiplicative(spec) && !series.positive) {
    return InvalidArgument("ETS " + spec.ToString() + " needs strictly positive data");
  }
  std::unique_ptr<EtsFit> fit = FitOne(series, m, spec, fixed);
  if (fit == nullptr || !fit->Sane()) {
    return FailedPrecondition("ETS " + spec.ToString() +
                              " could not be fitted: its states leave the valid range");
  }
  if (IsMultiplicative(spec)) {
    EtsSpec add = spec;
    add.error = 'A';
    if (add.season == 'M') {
      add.season = 'A';
    }
    fit->set_fallback(FitOne(series, m, add, nullptr));
  }
  return std::unique_ptr<FittedModel>(std::move(fit));
}

class EtsMethod final : public Method {
 public:
  explicit EtsMethod(EtsOptions options) : options_(std::move(options)) {}

  std::string name() const override { return "ets"; }

  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y,
                                           const FitContext& ctx) const override {
    for (const EtsSpec& spec : options_.candidates) {
      FORESIGHT_RETURN_IF_ERROR(ValidateSpec(spec));
    }
    const Series series = Prepare(y);
    if (series.n_obs < kMinObservations) {
      return FailedPrecondition("ets needs at least " + std::to_string(kMinObservations) +
                                " observations, got " + std::to_string(series.n_obs));
    }
    const int period = ctx.periods.empty() ? 1 : ctx.periods.front();
    // A season longer than ETS can model (e.g. a day at a 5-minute step) would leave only the
    // non-seasonal models, the wrong ones for seasonal data and the costliest part of a refresh
    // (bench/RESULTS.md: 45 % of the fit time, never selected). MSTL with ETS on the adjusted
    // series is the method for such data.
    if (period > options_.max_period) {
      return FailedPrecondition("ets models seasons of at most " +
                                std::to_string(options_.max_period) + " steps; the season here is " +
                                std::to_string(period) + " steps (mstl covers it)");
    }
    const bool seasonal = SeasonUsable(series, period, options_.max_period);
    const int m = seasonal ? period : 1;
    const bool mul = options_.allow_multiplicative && series.positive;

    std::vector<EtsSpec> specs;
    if (options_.candidates.empty()) {
      specs = DefaultCandidates(seasonal, mul);
    } else {
      for (EtsSpec spec : options_.candidates) {
        if (!seasonal) {
          spec.season = 'N';
        }
        if (!mul) {
          spec.error = 'A';
          if (spec.season == 'M') {
            spec.season = 'A';
          }
        }
        if (std::find(specs.begin(), specs.end(), spec) == specs.end()) {
          specs.push_back(spec);
        }
      }
    }
    std::vector<std::unique_ptr<EtsFit>> fits;
    std::vector<EtsParams> warm;  // every fit so far: starts for the next ones
    for (const EtsSpec& spec : specs) {
      std::unique_ptr<EtsFit> fit = FitOne(series, m, spec, nullptr, warm);
      if (fit != nullptr && fit->Sane()) {
        warm.push_back(fit->params());
        fits.push_back(std::move(fit));
      }
    }
    if (fits.empty()) {
      // Only multiplicative candidates, all broken, or none listed: simple smoothing.
      std::unique_ptr<EtsFit> fit = FitOne(series, 1, EtsSpec{}, nullptr);
      if (fit == nullptr || !fit->Sane()) {
        return Internal("ets: no model could be fitted");
      }
      fits.push_back(std::move(fit));
    }
    return std::unique_ptr<FittedModel>(ChooseBest(std::move(fits), series, m));
  }

 private:
  EtsOptions options_;
};

}  // namespace

std::string EtsSpec::ToString() const {
  std::string out = "ETS(";
  out += error;
  out += ',';
  out += trend == 'N' ? "N" : (damped ? "Ad" : "A");
  out += ',';
  out += season;
  out += ')';
  return out;
}

Result<EtsSpec> ParseEtsSpec(std::string_view text) {
  std::string_view body = text;
  std::string compact;
  if (body.starts_with("ETS(") && body.ends_with(")")) {
    body = body.substr(4, body.size() - 5);
    for (char ch : body) {
      if (ch != ',' && ch != ' ') {
        compact += ch;
      }
    }
  } else {
    compact = std::string(body);
  }
  EtsSpec spec;
  const bool shape_ok = (compact.size() == 3 || (compact.size() == 4 && compact[2] == 'd'));
  if (shape_ok) {
    spec.error = compact[0];
    spec.trend = compact[1];
    spec.damped = compact.size() == 4;
    spec.season = compact.back();
  }
  if (!shape_ok || !ValidateSpec(spec).ok()) {
    return InvalidArgument("invalid ETS model \"" + std::string(text) +
                           "\": want e.g. ETS(A,N,N), ETS(M,Ad,M) or MAdM");
  }
  return spec;
}

std::unique_ptr<Method> NewEtsMethod(EtsOptions options) {
  return std::make_unique<EtsMethod>(std::move(options));
}

Result<std::unique_ptr<FittedModel>> FitEts(std::span<const double> y, int period,
                                            const EtsSpec& spec) {
  return FitSingle(y, period, spec, nullptr);
}

Result<std::unique_ptr<FittedModel>> FitEtsWithParams(std::span<const double> y, int period,
                                                      const EtsSpec& spec,
                                                      const EtsParams& params) {
  return FitSingle(y, period, spec, &params);
}

}  // namespace foresight::forecast
