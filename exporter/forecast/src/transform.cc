#include "foresight/forecast/transform.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

enum class CounterOutput { kIncrease, kRate };

Result<Grid> CounterTransform(std::span<const int64_t> ts_ms, std::span<const double> values,
                              int64_t start_ms, int64_t end_ms, int64_t step_ms,
                              CounterOutput output) {
  Result<GridSpan> plan = PlanGrid(ts_ms, values, start_ms, end_ms, step_ms);
  if (!plan.ok()) return plan.status();
  std::vector<int64_t> ts;
  std::vector<double> vs;
  ts.reserve(ts_ms.size());
  vs.reserve(values.size());
  for (size_t i = 0; i < ts_ms.size(); ++i) {
    if (std::isnan(values[i])) continue;  // includes stale markers
    ts.push_back(ts_ms[i]);
    vs.push_back(values[i]);
  }
  Grid grid;
  grid.start_ms = plan->first_ms;
  grid.step_ms = step_ms;
  grid.values.assign(static_cast<size_t>(plan->steps), kNaN);
  size_t lo = 0;  // first sample after the window's open edge
  size_t hi = 0;  // first sample after the window's closed edge
  for (int64_t k = 0; k < plan->steps; ++k) {
    __int128 t = __int128{plan->first_ms} + __int128{k} * step_ms;
    __int128 open_edge = t - step_ms;
    while (lo < ts.size() && ts[lo] <= open_edge) ++lo;
    if (hi < lo) hi = lo;
    while (hi < ts.size() && ts[hi] <= t) ++hi;
    if (hi == lo) continue;               // nothing in the window
    size_t first = lo > 0 ? lo - 1 : lo;  // the anchor, when there is one
    size_t last = hi - 1;
    if (ts[last] == ts[first]) continue;  // fewer than two distinct times
    double growth = 0;
    for (size_t i = first + 1; i <= last; ++i) {
      growth += vs[i] >= vs[i - 1] ? vs[i] - vs[i - 1] : vs[i];
    }
    if (output == CounterOutput::kIncrease) {
      grid.values[static_cast<size_t>(k)] = growth;
    } else {
      double seconds = static_cast<double>(ts[last] - ts[first]) / 1000.0;
      grid.values[static_cast<size_t>(k)] = growth / seconds;
    }
  }
  return grid;
}

double Mean(const std::vector<double>& v) {
  double m = 0;
  for (size_t i = 0; i < v.size(); ++i) m += (v[i] - m) / static_cast<double>(i + 1);
  return m;
}

// Guerrero's criterion: coefficient of variation of sd_h / mean_h^(1 - lambda) over blocks.
double GuerreroCv(const std::vector<double>& log_means, const std::vector<double>& log_sds,
                  double lambda) {
  // In logs, shifted by the largest so that the powers cannot overflow; the coefficient of
  // variation does not change under scaling.
  std::vector<double> ratios(log_means.size());
  double top = -std::numeric_limits<double>::infinity();
  for (size_t h = 0; h < ratios.size(); ++h) {
    ratios[h] = log_sds[h] - (1.0 - lambda) * log_means[h];
    top = std::max(top, ratios[h]);
  }
  for (double& r : ratios) r = std::exp(r - top);
  double m = Mean(ratios);
  double ss = 0;
  for (double r : ratios) ss += (r - m) * (r - m);
  double sd = std::sqrt(ss / static_cast<double>(ratios.size() - 1));
  return sd / m;
}

}  // namespace

Result<Grid> CounterIncrease(std::span<const int64_t> ts_ms, std::span<const double> values,
                             int64_t start_ms, int64_t end_ms, int64_t step_ms) {
  return CounterTransform(ts_ms, values, start_ms, end_ms, step_ms, CounterOutput::kIncrease);
}

Result<Grid> CounterRate(std::span<const int64_t> ts_ms, std::span<const double> values,
                         int64_t start_ms, int64_t end_ms, int64_t step_ms) {
  return CounterTransform(ts_ms, values, start_ms, end_ms, step_ms, CounterOutput::kRate);
}

Result<BoxCox> BoxCox::Fit(std::span<const double> y, std::optional<double> lambda, int period) {
  size_t observed = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (std::isnan(y[i])) continue;
    if (!(y[i] > 0) || std::isinf(y[i])) {
      return InvalidArgument("Box-Cox needs positive finite data, got y[" + std::to_string(i) +
                             "] = " + std::to_string(y[i]));
    }
    ++observed;
  }
  if (observed == 0) return FailedPrecondition("Box-Cox needs at least 1 observation, got 0");
  if (lambda.has_value()) {
    if (!(*lambda >= kMinLambda && *lambda <= kMaxLambda)) {
      return InvalidArgument("Box-Cox lambda must be in [-1, 2], got " + std::to_string(*lambda));
    }
    return BoxCox(*lambda);
  }

  const size_t block = static_cast<size_t>(std::max(period, 2));
  std::vector<double> log_means, log_sds;
  bool any_spread = false;
  // Blocks end at the last step: when the length is not a multiple of the period, the oldest
  // steps are the ones left out.
  for (size_t begin = y.size() % block; begin + block <= y.size(); begin += block) {
    std::vector<double> vals;
    for (size_t i = begin; i < begin + block; ++i) {
      if (!std::isnan(y[i])) vals.push_back(y[i]);
    }
    if (vals.size() < 2) continue;
    // Scale by the block's largest value so the squares cannot overflow.
    double top = 0;
    for (double v : vals) top = std::max(top, v);
    for (double& v : vals) v /= top;
    double m = Mean(vals);
    double ss = 0;
    for (double v : vals) ss += (v - m) * (v - m);
    double sd = std::sqrt(ss / static_cast<double>(vals.size() - 1));
    log_means.push_back(std::log(m) + std::log(top));
    // A zero spread would be log(0): keep it tiny instead, its ratio is ~0 for every lambda.
    log_sds.push_back(sd > 0 ? std::log(sd) + std::log(top) : -700.0);
    any_spread = any_spread || sd > 0;
  }
  if (log_means.size() < 2) {
    return FailedPrecondition("Box-Cox lambda selection needs at least 2 blocks of " +
                              std::to_string(block) + " steps with 2 or more values each, got " +
                              std::to_string(log_means.size()));
  }
  if (!any_spread) return BoxCox(1.0);

  // A coarse grid finds the basin (the criterion can have several local minima); golden-section
  // search then polishes inside the neighbouring grid cells.
  constexpr int kGrid = 60;
  const double cell = (kMaxLambda - kMinLambda) / kGrid;
  int best = 0;
  double best_cv = std::numeric_limits<double>::infinity();
  for (int g = 0; g <= kGrid; ++g) {
    double cv = GuerreroCv(log_means, log_sds, kMinLambda + g * cell);
    if (cv < best_cv) {
      best_cv = cv;
      best = g;
    }
  }
  double a = std::max(kMinLambda, kMinLambda + (best - 1) * cell);
  double b = std::min(kMaxLambda, kMinLambda + (best + 1) * cell);
  const double inv_phi = (std::sqrt(5.0) - 1.0) / 2.0;
  double c = b - inv_phi * (b - a), d = a + inv_phi * (b - a);
  double fc = GuerreroCv(log_means, log_sds, c), fd = GuerreroCv(log_means, log_sds, d);
  for (int iter = 0; iter < 40; ++iter) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - inv_phi * (b - a);
      fc = GuerreroCv(log_means, log_sds, c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + inv_phi * (b - a);
      fd = GuerreroCv(log_means, log_sds, d);
    }
  }
  double polished = (a + b) / 2.0;
  double chosen =
      GuerreroCv(log_means, log_sds, polished) <= best_cv ? polished : kMinLambda + best * cell;
  return BoxCox(chosen);
}

double BoxCox::Forward(double y) const {
  if (std::isnan(y) || y < 0) return kNaN;
  if (y == 0) return lambda_ > 0 ? -1.0 / lambda_ : kNaN;
  if (lambda_ == 0) return std::log(y);
  // expm1 keeps precision when lambda * log(y) is near zero.
  return std::expm1(lambda_ * std::log(y)) / lambda_;
}

double BoxCox::Inverse(double z) const {
  if (std::isnan(z)) return kNaN;
  double out;
  if (lambda_ == 0) {
    out = std::exp(z);
  } else {
    double base = lambda_ * z + 1.0;
    if (base <= 0) {
      return lambda_ > 0 ? 0.0 : std::numeric_limits<double>::max();
    }
    out = std::exp(std::log1p(lambda_ * z) / lambda_);
  }
  return std::isinf(out) ? std::numeric_limits<double>::max() : out;
}

double BoxCox::InverseMean(double mean, double variance) const {
  if (std::isnan(mean) || std::isnan(variance)) return kNaN;
  double v = std::max(variance, 0.0);
  if (lambda_ == 0) {
    double out = std::exp(mean + v / 2.0);
    return std::isinf(out) ? std::numeric_limits<double>::max() : out;
  }
  double base = lambda_ * mean + 1.0;
  double median = Inverse(mean);
  if (base <= 0) return median;  // at the range's edge the expansion is meaningless
  double out = median * (1.0 + v * (1.0 - lambda_) / (2.0 * base * base));
  return std::isinf(out) ? std::numeric_limits<double>::max() : std::max(out, 0.0);
}

}  // namespace foresight::forecast
