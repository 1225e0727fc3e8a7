#include "foresight/forecast/stl.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>

#include "foresight/forecast/ets.h"

namespace foresight::forecast {
namespace {

int NextOdd(double x) {
  int v = static_cast<int>(std::ceil(x));
  if (v % 2 == 0) ++v;
  return v;
}

int OddAtLeast3(int w) {
  w = std::max(w, 3);
  return w % 2 == 0 ? w + 1 : w;
}

// Cleveland's default "jump": evaluate the smoother at every ceil(window/10)-th point and
// interpolate linearly in between. The fit is smooth at that scale anyway, and this keeps a
// long trend window from costing O(n * window).
int DefaultJump(int window) { return std::max(1, (window + 9) / 10); }

// Local fit at abscissa x from the points (j, y[j]), j in [left, right], following Cleveland's
// STL estimator: tricube weights over the window's half-width (widened when the window is longer
// than the series), times the robustness weights when given, then the local linear correction
// for degree 1. `w` is scratch of at least right - left + 1 values. Returns false when every
// weight vanishes (all neighbours judged outliers).
bool LoessAt(const double* y, int n, int q, int degree, double x, int left, int right,
             const double* rw, double* w, double* out) {
  double h = std::max(x - left, right - x);
  if (q > n) h += (q - n) / 2;
  const double h9 = 0.999 * h, h1 = 0.001 * h;
  double sum = 0;
  for (int j = left; j <= right; ++j) {
    const double r = std::abs(j - x);
    double wj = 0;
    if (r <= h9) {
      if (r <= h1) {
        wj = 1;
      } else {
        const double u = r / h;
        const double t = 1 - u * u * u;
        wj = t * t * t;
      }
      if (rw != nullptr) wj *= rw[j];
    }
    w[j - left] = wj;
    sum += wj;
  }
  if (!(sum > 0)) return false;
  for (int j = left; j <= right; ++j) w[j - left] /= sum;
  if (degree >= 1 && h > 0) {
    double a = 0;
    for (int j = left; j <= right; ++j) a += w[j - left] * j;
    double c = 0;
    for (int j = left; j <= right; ++j) c += w[j - left] * (j - a) * (j - a);
    if (std::sqrt(c) > 0.001 * (n - 1)) {
      const double b = (x - a) / c;
      for (int j = left; j <= right; ++j) w[j - left] *= b * (j - a) + 1;
    }
  }
  double s = 0;
  for (int j = left; j <= right; ++j) s += w[j - left] * y[j];
  *out = s;
  return true;
}

// The q nearest positions to i among 0..n-1 (q odd): centred, shifted inwards at the ends.
void Window(int i, int n, int q, int* left, int* right) {
  if (q >= n) {
    *left = 0;
    *right = n - 1;
    return;
  }
  *left = std::clamp(i - (q - 1) / 2, 0, n - q);
  *right = *left + q - 1;
}

// LOESS smooth of y[0..n) evaluated at every position (every `jump`-th one and the last, linear
// interpolation in between). A position whose weights all vanish keeps its value.
void LoessSmooth(const double* y, int n, int q, int degree, int jump, const double* rw, double* out,
                 std::vector<double>& scratch) {
  if (n <= 0) return;
  if (n == 1) {
    out[0] = y[0];
    return;
  }
  scratch.resize(static_cast<size_t>(std::min(q, n)));
  jump = std::clamp(jump, 1, n - 1);
  auto eval = [&](int i) {
    int left, right;
    Window(i, n, q, &left, &right);
    if (!LoessAt(y, n, q, degree, i, left, right, rw, scratch.data(), &out[i])) out[i] = y[i];
  };
  int last = 0;
  eval(0);
  for (int i = jump; i < n; i += jump) {
    eval(i);
    last = i;
  }
  if (last != n - 1) eval(n - 1);
  if (jump == 1) return;
  int prev = 0;
  auto fill = [&](int a, int b) {
    for (int k = a + 1; k < b; ++k) {
      const double f = static_cast<double>(k - a) / (b - a);
      out[k] = out[a] + f * (out[b] - out[a]);
    }
  };
  for (int i = jump; i < n; i += jump) {
    fill(prev, i);
    prev = i;
  }
  if (prev != n - 1) fill(prev, n - 1);
}

// Moving average of length len: n - len + 1 outputs.
void MovingAverage(const std::vector<double>& x, int len, std::vector<double>& out) {
  const int n = static_cast<int>(x.size());
  out.assign(static_cast<size_t>(n - len + 1), 0.0);
  double s = 0;
  for (int i = 0; i < len; ++i) s += x[i];
  out[0] = s / len;
  for (int i = len; i < n; ++i) {
    s += x[i] - x[i - len];
    out[i - len + 1] = s / len;
  }
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) m = 0.5 * (m + *std::max_element(v.begin(), v.begin() + mid));
  return m;
}

bool Finite(double v) { return std::isfinite(v); }

// A power of two near the largest finite magnitude in y (1 when there is none). Dividing by it
// is exact, and keeps sums of huge values (moving averages, LOESS) from overflowing; STL is
// equivariant under scaling (its robustness weights too), so nothing else changes.
double PowerOfTwoScale(std::span<const double> y) {
  double m = 0;
  for (double v : y) {
    if (Finite(v)) m = std::max(m, std::abs(v));
  }
  if (!(m > 0)) return 1;
  int e;
  std::frexp(m, &e);              // m = f * 2^e, 0.5 <= f < 1
  return std::ldexp(1.0, e - 1);  // 2^(e-1) <= m: finite even for m near the largest double
}

std::vector<double> Scaled(std::span<const double> y, double scale) {
  std::vector<double> out(y.begin(), y.end());
  for (double& v : out) v /= scale;
  return out;
}

void Unscale(std::vector<double>& v, double scale) {
  constexpr double kMax = std::numeric_limits<double>::max();
  for (double& x : v) x = std::clamp(x * scale, -kMax, kMax);
}

}  // namespace

Result<StlResult> Stl(std::span<const double> y, int period, const StlOptions& options) {
  const int n = static_cast<int>(y.size());
  if (period < 2) return InvalidArgument("STL period must be >= 2, got " + std::to_string(period));
  if (n < 2 * period) {
    return FailedPrecondition("STL with period " + std::to_string(period) + " needs at least " +
                              std::to_string(2 * period) + " observations, got " +
                              std::to_string(n));
  }
  for (int i = 0; i < n; ++i) {
    if (!Finite(y[i])) {
      return InvalidArgument("STL needs a complete series; step " + std::to_string(i) +
                             " is not finite");
    }
  }
  const double scale = PowerOfTwoScale(y);
  if (scale != 1) {
    Result<StlResult> r = Stl(Scaled(y, scale), period, options);
    if (r.ok()) {
      Unscale(r->seasonal, scale);
      Unscale(r->trend, scale);
      Unscale(r->remainder, scale);
    }
    return r;
  }
  const int p = period;
  const int ns = OddAtLeast3(options.seasonal_window);
  const int ds = std::clamp(options.seasonal_degree, 0, 1);
  const int nt = options.trend_window > 0 ? OddAtLeast3(options.trend_window)
                                          : OddAtLeast3(NextOdd(1.5 * p / (1 - 1.5 / ns)));
  const int nl =
      options.low_pass_window > 0 ? OddAtLeast3(options.low_pass_window) : OddAtLeast3(NextOdd(p));
  const int inner = std::max(1, options.inner_iterations);
  const int outer = std::max(0, options.outer_iterations);
  const int js = DefaultJump(ns), jt = DefaultJump(nt), jl = DefaultJump(nl);

  StlResult r;
  r.seasonal.assign(n, 0.0);
  r.trend.assign(n, 0.0);
  r.remainder.assign(n, 0.0);
  r.robustness_weights.assign(n, 1.0);
  const int max_sub = (n + p - 1) / p;
  std::vector<double> c(static_cast<size_t>(n + 2 * p)), ma1, ma2, ma3, low(n), deseason(n);
  std::vector<double> sub(max_sub), subw(max_sub), subfit(max_sub), scratch;
  bool use_rw = false;

  for (int o = 0; o <= outer; ++o) {
    for (int it = 0; it < inner; ++it) {
      // Cycle-subseries smoothing of the detrended series, extended one cycle at each end.
      for (int k = 0; k < p; ++k) {
        const int m = (n - k + p - 1) / p;
        for (int j = 0; j < m; ++j) {
          sub[j] = y[k + j * p] - r.trend[k + j * p];
          subw[j] = r.robustness_weights[k + j * p];
        }
        const double* rw = use_rw ? subw.data() : nullptr;
        LoessSmooth(sub.data(), m, ns, ds, js, rw, subfit.data(), scratch);
        scratch.resize(static_cast<size_t>(std::min(ns, m)));
        int left, right;
        Window(0, m, ns, &left, &right);
        double first = subfit[0], last = subfit[m - 1];
        if (m > 1 &&
            !LoessAt(sub.data(), m, ns, ds, -1.0, left, right, rw, scratch.data(), &first)) {
          first = subfit[0];
        }
        Window(m - 1, m, ns, &left, &right);
        if (m > 1 && !LoessAt(sub.data(), m, ns, ds, m, left, right, rw, scratch.data(), &last)) {
          last = subfit[m - 1];
        }
        c[k] = first;
        for (int j = 0; j < m; ++j) c[k + (j + 1) * p] = subfit[j];
        c[k + (m + 1) * p] = last;
      }
      // Low-pass filter of the cycle-subseries: MA(p), MA(p), MA(3), LOESS(nl).
      MovingAverage(c, p, ma1);
      MovingAverage(ma1, p, ma2);
      MovingAverage(ma2, 3, ma3);
      LoessSmooth(ma3.data(), n, nl, 1, jl, nullptr, low.data(), scratch);
      for (int i = 0; i < n; ++i) {
        r.seasonal[i] = c[p + i] - low[i];
        deseason[i] = y[i] - r.seasonal[i];
      }
      LoessSmooth(deseason.data(), n, nt, 1, jt, use_rw ? r.robustness_weights.data() : nullptr,
                  r.trend.data(), scratch);
    }
    for (int i = 0; i < n; ++i) r.remainder[i] = y[i] - r.seasonal[i] - r.trend[i];
    if (o == outer) break;
    // Bisquare robustness weights from the remainder, scaled by six times its median absolute.
    std::vector<double> abs_rem(n);
    for (int i = 0; i < n; ++i) abs_rem[i] = std::abs(r.remainder[i]);
    const double h = 6 * Median(abs_rem);
    for (int i = 0; i < n; ++i) {
      if (!(h > 0)) {
        r.robustness_weights[i] = 1;  // a perfect fit almost everywhere: nothing to down-weight
        continue;
      }
      const double u = abs_rem[i] / h;
      if (u <= 0.001) {
        r.robustness_weights[i] = 1;
      } else if (u <= 0.999) {
        const double t = 1 - u * u;
        r.robustness_weights[i] = t * t;
      } else {
        r.robustness_weights[i] = 0;
      }
    }
    use_rw = true;
  }
  return r;
}

Result<std::vector<double>> FillMissing(std::span<const double> y,
                                        const std::vector<int>& periods) {
  const double scale = PowerOfTwoScale(y);
  if (scale != 1) {
    Result<std::vector<double>> r = FillMissing(Scaled(y, scale), periods);
    if (r.ok()) Unscale(*r, scale);
    return r;
  }
  const int n = static_cast<int>(y.size());
  std::vector<double> out(y.begin(), y.end());
  int first_obs = -1;
  for (int i = 0; i < n; ++i) {
    if (!Finite(out[i])) {
      out[i] = std::numeric_limits<double>::quiet_NaN();
    } else if (first_obs < 0) {
      first_obs = i;
    }
  }
  if (first_obs < 0) return InvalidArgument("the series has no observed value");
  std::vector<int> ps;
  for (int p : periods) {
    if (p >= 2) ps.push_back(p);
  }
  std::sort(ps.begin(), ps.end(), std::greater<>());  // longest first
  const int short_gap = ps.empty() ? n : std::max(1, ps.back() / 12);

  // The longest period usable for reading one period back from [a, b], and for the join
  // before it, without reaching into the unfilled leading gap.
  auto back_period = [&](int a) {
    for (int p : ps) {
      if (a - 1 - p >= first_obs) return p;
    }
    return 0;
  };

  int i = first_obs;
  while (i < n) {
    if (Finite(out[i])) {
      ++i;
      continue;
    }
    const int a = i;
    int b = a;
    while (b + 1 < n && !Finite(out[b + 1])) ++b;
    const bool trailing = b == n - 1;
    const int len = b - a + 1;
    const int p = len > short_gap ? back_period(a) : 0;
    if (p == 0) {
      for (int t = a; t <= b; ++t) {
        out[t] = trailing ? out[a - 1]
                          : out[a - 1] + (out[b + 1] - out[a - 1]) * (t - a + 1) / (len + 1);
      }
    } else {
      // One period back plus the last one-period change before the gap (exact for a line plus
      // a cycle), then a ramp that takes up any mismatch with the observation after the gap.
      // A trailing gap is plain seasonal naive: nothing after it to steer a trend by.
      const double d_left = trailing ? 0.0 : out[a - 1] - out[a - 1 - p];
      for (int t = a; t <= b; ++t) out[t] = out[t - p] + d_left;
      if (!trailing) {
        const double delta = out[b + 1] - (out[b + 1 - p] + d_left);
        for (int t = a; t <= b; ++t) out[t] += delta * (t - a + 1) / (len + 1);
      }
    }
    i = b + 1;
  }
  if (first_obs > 0) {
    const int b = first_obs - 1;
    int p = 0;
    if (first_obs > short_gap) {
      for (int q : ps) {
        if (b + q <= n - 1) {
          p = q;
          break;
        }
      }
    }
    if (p == 0) {
      for (int t = 0; t <= b; ++t) out[t] = out[first_obs];
    } else {
      for (int t = b; t >= 0; --t) out[t] = out[t + p];  // seasonal naive, backwards
    }
  }
  return out;
}

Result<Decomposition> Mstl(std::span<const double> y, const std::vector<int>& periods,
                           const MstlOptions& options) {
  const double scale = PowerOfTwoScale(y);
  if (scale != 1) {
    Result<Decomposition> r = Mstl(Scaled(y, scale), periods, options);
    if (r.ok()) {
      Unscale(r->trend, scale);
      Unscale(r->remainder, scale);
      for (auto& s : r->seasonal) Unscale(s, scale);
    }
    return r;
  }
  const int n = static_cast<int>(y.size());
  Decomposition d;
  for (int p : periods) {
    if (p >= 2 && n >= 2 * p) d.periods.push_back(p);
  }
  std::sort(d.periods.begin(), d.periods.end());
  d.periods.erase(std::unique(d.periods.begin(), d.periods.end()), d.periods.end());

  Result<std::vector<double>> filled = FillMissing(y, d.periods);
  if (!filled.ok()) return filled.status();
  const std::vector<double>& x = *filled;

  if (d.periods.empty()) {
    d.trend.assign(n, 0.0);
    const int window = options.trend_window > 0 ? OddAtLeast3(options.trend_window)
                                                : OddAtLeast3(std::max(7, n / 10));
    std::vector<double> scratch;
    LoessSmooth(x.data(), n, window, 1, DefaultJump(window), nullptr, d.trend.data(), scratch);
    d.remainder.resize(n);
    for (int i = 0; i < n; ++i) d.remainder[i] = x[i] - d.trend[i];
    return d;
  }

  const size_t k = d.periods.size();
  d.seasonal.assign(k, std::vector<double>(n, 0.0));
  std::vector<double> deseason = x;
  const int iterations = std::max(1, options.iterations);
  for (int it = 0; it < iterations; ++it) {
    for (size_t i = 0; i < k; ++i) {
      for (int t = 0; t < n; ++t) deseason[t] += d.seasonal[i][t];
      StlOptions so;
      so.seasonal_window = i < options.seasonal_windows.size() ? options.seasonal_windows[i]
                                                               : 7 + 4 * static_cast<int>(i + 1);
      so.trend_window = options.trend_window;
      if (options.robust) {
        so.inner_iterations = 1;
        so.outer_iterations = 15;
      }
      Result<StlResult> s = Stl(deseason, d.periods[i], so);
      if (!s.ok()) return s.status();
      d.seasonal[i] = std::move(s->seasonal);
      for (int t = 0; t < n; ++t) deseason[t] -= d.seasonal[i][t];
      d.trend = std::move(s->trend);
    }
  }
  d.remainder.resize(n);
  for (int t = 0; t < n; ++t) d.remainder[t] = deseason[t] - d.trend[t];
  return d;
}

namespace {

double Clamp(double v) {
  constexpr double kMax = std::numeric_limits<double>::max();
  if (std::isnan(v)) return 0;
  return std::clamp(v, -kMax, kMax);
}

class SeasonallyAdjustedModel final : public FittedModel {
 public:
  SeasonallyAdjustedModel(std::vector<int> periods, std::vector<std::vector<double>> profiles,
                          int64_t next, std::unique_ptr<FittedModel> adjusted)
      : periods_(std::move(periods)),
        profiles_(std::move(profiles)),
        next_(next),
        adjusted_(std::move(adjusted)) {}

  std::string Describe() const override {
    std::string s = "MSTL(";
    for (size_t i = 0; i < periods_.size(); ++i) {
      if (i > 0) s += ",";
      s += std::to_string(periods_[i]);
    }
    return s + ")+" + adjusted_->Describe();
  }

  PointForecast Predict(int horizon) const override {
    PointForecast f = adjusted_->Predict(horizon);
    f.mean.resize(static_cast<size_t>(std::max(horizon, 0)), 0.0);
    for (int h = 0; h < horizon; ++h) f.mean[h] = Clamp(f.mean[h] + SeasonalAt(next_ + h));
    return f;
  }

  void Update(double y) override {
    adjusted_->Update(Finite(y) ? y - SeasonalAt(next_) : std::numeric_limits<double>::quiet_NaN());
    ++next_;
  }

 private:
  double SeasonalAt(int64_t t) const {
    double s = 0;
    for (size_t i = 0; i < periods_.size(); ++i) s += profiles_[i][t % periods_[i]];
    return s;
  }

  std::vector<int> periods_;
  std::vector<std::vector<double>> profiles_;  // indexed by absolute step modulo the period
  int64_t next_;                               // absolute index of the next step
  std::unique_ptr<FittedModel> adjusted_;
};

class MstlMethod final : public Method {
 public:
  explicit MstlMethod(MstlMethodOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "mstl"; }
  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y,
                                           const FitContext& ctx) const override {
    EtsOptions eo;
    eo.allow_multiplicative = false;
    eo.candidates = {EtsSpec{'A', 'N', false, 'N'}, EtsSpec{'A', 'A', true, 'N'}};
    std::shared_ptr<Method> ets = NewEtsMethod(std::move(eo));
    AdjustedFitter fit = [ets](std::span<const double> adjusted) {
      return ets->Fit(adjusted, FitContext{});
    };
    return FitSeasonallyAdjusted(y, ctx.periods, options_.adjustment, fit);
  }

 private:
  MstlMethodOptions options_;
};

}  // namespace

Result<std::unique_ptr<FittedModel>> FitSeasonallyAdjusted(std::span<const double> y,
                                                           const std::vector<int>& periods,
                                                           const SeasonalAdjustmentOptions& options,
                                                           const AdjustedFitter& fit_adjusted) {
  const int n = static_cast<int>(y.size());
  std::vector<double> clean(y.begin(), y.end());
  for (double& v : clean) {
    if (!Finite(v)) v = std::numeric_limits<double>::quiet_NaN();
  }
  bool seasonal = false, observed = false;
  for (int p : periods) seasonal = seasonal || (p >= 2 && n >= 2 * p);
  for (double v : clean) observed = observed || !std::isnan(v);
  // Nothing to decompose: the adjusted model sees y, and reports a lack of data its own way.
  if (!seasonal || !observed) return fit_adjusted(clean);

  Result<Decomposition> d = Mstl(clean, periods, options.mstl);
  if (!d.ok()) return d.status();
  std::vector<double> adjusted(n);
  for (int t = 0; t < n; ++t) {
    double s = 0;
    for (const auto& comp : d->seasonal) s += comp[t];
    adjusted[t] = Finite(clean[t]) ? clean[t] - s : clean[t];
  }
  std::vector<std::vector<double>> profiles;
  for (size_t i = 0; i < d->periods.size(); ++i) {
    const int p = d->periods[i];
    const std::vector<double>& s = d->seasonal[i];
    std::vector<double> profile(p);
    for (int t = n - p; t < n; ++t) {
      double v = s[t];
      if (options.average_last_two_cycles && t - p >= 0) v = 0.5 * (v + s[t - p]);
      profile[t % p] = v;
    }
    profiles.push_back(std::move(profile));
  }
  Result<std::unique_ptr<FittedModel>> inner = fit_adjusted(adjusted);
  if (!inner.ok()) return inner.status();
  return std::unique_ptr<FittedModel>(std::make_unique<SeasonallyAdjustedModel>(
      d->periods, std::move(profiles), n, std::move(inner).value()));
}

std::unique_ptr<Method> NewMstlMethod(MstlMethodOptions options) {
  return std::make_unique<MstlMethod>(std::move(options));
}

}  // namespace foresight::forecast
