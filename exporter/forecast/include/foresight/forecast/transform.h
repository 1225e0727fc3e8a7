#pragma once

// Transforms applied before modelling: counters to per-step rates or increases, and the
// Box-Cox family for series whose spread grows with their level.

#include <cstdint>
#include <optional>
#include <span>

#include "foresight/common/status.h"
#include "foresight/forecast/grid.h"

namespace foresight::forecast {

// Counter samples to a per-step increase or per-second rate on the grid that Regularize would
// build for the same arguments (epoch-aligned times t, each step covering (t - step, t]).
//
// Step t uses the samples in (t - step, t] plus the last sample at or before t - step (the
// anchor), so the growth between two steps' samples is counted in exactly one step and the
// increases of consecutive steps add up to the counter's whole growth. Consecutive samples are
// compared as PromQL's rate() does: a decrease is a counter reset, after which the new value is
// all growth since zero. Stale markers and NaN samples are skipped.
//
//   increase(t) = growth from the first to the last sample used (anchor included)
//   rate(t)     = increase(t) / seconds between the first and the last sample used
//
// A step is NaN unless it has a sample in its window and at least two samples (anchor
// included) at distinct times. After a gap, the first step with data again carries the growth
// over the whole gap (its anchor is the last sample before the gap); its rate is the average
// over the gap, so prefer rate for gappy data.
//
// Unlike PromQL we do not extrapolate to the window's edges. PromQL's x[step] window holds only
// the samples inside it, so it extrapolates to guess the growth it cannot see between windows;
// with the anchor we see that growth, and extrapolating on top of it would count it twice
// (per-step increases would add up to more than the counter grew, and integer counters would
// get fractional increases). The price: a step's increase spans anchor-to-last-sample, which
// is up to one scrape interval longer or shorter than the step.
Result<Grid> CounterIncrease(std::span<const int64_t> ts_ms, std::span<const double> values,
                             int64_t start_ms, int64_t end_ms, int64_t step_ms);
Result<Grid> CounterRate(std::span<const int64_t> ts_ms, std::span<const double> values,
                         int64_t start_ms, int64_t end_ms, int64_t step_ms);

// Box-Cox: (y^lambda - 1) / lambda, and log(y) for lambda = 0. Immutable and thread-safe.
class BoxCox {
 public:
  // Lambdas Guerrero's method searches; a given lambda must lie in this range as well.
  static constexpr double kMinLambda = -1.0;
  static constexpr double kMaxLambda = 2.0;

  // With a lambda, checks the data and uses it. Without one, picks lambda by Guerrero's (1993)
  // method: y is cut into consecutive blocks of `period` steps (2 when period < 2) ending at the
  // last step, and lambda is the value in [kMinLambda, kMaxLambda] that makes
  // sd(block) / mean(block)^(1 - lambda) most nearly constant across blocks (smallest
  // coefficient of variation; a grid search polished by golden section). NaN steps are
  // skipped; blocks with fewer than two values are left out; at least two blocks are needed.
  // A series whose blocks all have zero spread gets lambda = 1 (nothing to stabilise).
  // Errors: any y <= 0 or infinite (the transform is for positive data), too few blocks.
  static Result<BoxCox> Fit(std::span<const double> y, std::optional<double> lambda, int period);

  // For y <= 0 (outside the domain) returns NaN, except y = 0 with lambda > 0, which is -1/lambda.
  double Forward(double y) const;
  // Values past the transform's range map to its edge: 0 when lambda > 0, and the largest
  // double when lambda < 0, so an inverted forecast is never NaN.
  double Inverse(double z) const;
  // Mean on the original scale of a quantity with the given mean and variance on the
  // transformed scale. Inverse(mean) is the median, which is below the mean for lambda < 1;
  // this adds the bias correction. For lambda = 0 it is the log-normal mean
  // exp(mean + variance / 2); otherwise the second-order Taylor approximation
  // Inverse(mean) * (1 + variance * (1 - lambda) / (2 * (lambda * mean + 1)^2))
  // (Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", bias adjustment).
  // A negative variance counts as zero.
  double InverseMean(double mean, double variance) const;

  double lambda() const { return lambda_; }

 private:
  explicit BoxCox(double lambda) : lambda_(lambda) {}
  double lambda_;
};

}  // namespace foresight::forecast
