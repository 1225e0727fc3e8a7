#pragma once

// A regression model in the spirit of Prophet (Taylor & Letham, 2018), fitted by penalised
// least squares instead of MAP/MCMC:
//
//   y_t = trend(t) + sum over periods P of sum_{k<=K_P} (a_Pk sin(2 pi k t / P) + b_Pk cos(...))
//         + sum_j beta_j x_j(t) + noise
//
// trend(t) is piecewise linear: an intercept, a slope, and slope changes delta_c at candidate
// changepoints spread evenly over the first `changepoint_range` of the observed history. The
// deltas get an L1 penalty (Prophet's Laplace prior: a few sharp slope changes rather than the
// many small ones a ridge penalty prefers, which smears a kink over its neighbours), solved by
// iteratively reweighted ridge on the normal equations (LDLT). Its strength is picked by a
// held-out check, which scores exactly the trend extrapolation the penalty governs: origins at
// 70%, 80% and 90% of the observations, each candidate fitted on what precedes an origin and
// scored on the next 10% (squared error, summed); the stiffest candidate within 10% of the best
// score wins, because near-equal scores differ by noise and a stiffer trend extrapolates more
// safely. Fourier and regressor coefficients get only a tiny ridge, enough to keep the system
// well-posed when columns are collinear (e.g. a daily batch regressor and the daily Fourier
// terms, which then share the effect between them).
//
// Missing steps (NaN) are left out of the fit; the time index still counts them. A period whose
// observed history spans fewer than two full seasons gets no Fourier terms; K is capped at P/2
// and, for short series, at one harmonic per 20 observations; a frequency a shorter period
// already has (168 at k = 7 is 24 at k = 1) is kept once.
// Regressor columns with no variation over the observed history are left out (their effect
// cannot be learnt); regressor rows past the end of ctx.regressors count as 0.
//
// Forecast sigma at h steps ahead is s * sqrt(1 + x_h' (X'X + W)^-1 x_h), where s is the
// residual standard deviation (residual sum of squares over n - effective degrees of freedom),
// x_h the design row of the step and W the final penalty weights. It grows slowly as the trend
// is extrapolated further from the data (parameter uncertainty). Slope changes the L1 penalty
// zeroed add nothing, so it is the uncertainty of the selected trend; unlike Prophet it does
// not simulate future changepoints, and it ignores residual autocorrelation, so long-horizon
// bands are narrower than Prophet's. Bands are calibrated on backtest residuals downstream.
//
// Update(y) advances the time index and, unless turned off, moves a level offset (see
// RegressionOptions::update_level_weight); it never re-estimates coefficients. NaN advances
// the index only.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/forecast/model.h"

namespace foresight::forecast {

struct RegressionOptions {
  int n_changepoints = 25;
  double changepoint_range = 0.8;  // fraction of the observed history holding changepoints
  // L1 strength on the slope changes: the objective is RSS + penalty * n * sum |delta|, with y
  // scaled to [-1, 1] and time to [0, 1] over the history. nullopt: chosen by the held-out
  // check among 1e-7, 1e-6, ..., 10.
  std::optional<double> changepoint_penalty;
  // Fourier order K of the shortest period and of every longer one (capped as described above).
  int fourier_order_first = 10;
  int fourier_order_other = 5;
  // Update(y) moves a level offset toward the new residual by this weight (an exponentially
  // weighted mean of residuals since the fit, about 1/weight steps of memory), so forecasts
  // follow a level shift between refits. 0 turns it off.
  double update_level_weight = 0.05;
};

// The fitted model, with accessors for people and tests. Predict is const and thread-safe;
// Update is not.
class RegressionModel : public FittedModel {
 public:
  // The fitted trend at step index t (0 = the first step of y; may be past the history), and
  // its slope per step there, in the units of y.
  virtual double TrendAt(double t) const = 0;
  virtual double SlopeAt(double t) const = 0;
  // Amplitude sqrt(a^2 + b^2) of harmonic k of a period; 0 if not in the model.
  virtual double HarmonicAmplitude(int period, int k) const = 0;
  // The seasonal component of one period over one cycle (P values, phase 0 at t = 0 mod P).
  virtual std::vector<double> SeasonalProfile(int period) const = 0;
  // The coefficient of a regressor in the units of y per unit of regressor; nullopt when it
  // was left out (no variation over the observed history).
  virtual std::optional<double> RegressorCoefficient(const std::string& name) const = 0;
  // The changepoint penalty used (relative, as in RegressionOptions).
  virtual double changepoint_penalty() const = 0;
  // Periods that got Fourier terms (the others had too little history).
  virtual std::vector<int> seasonal_periods() const = 0;
};

Result<std::unique_ptr<RegressionModel>> FitRegression(std::span<const double> y,
                                                       const FitContext& ctx,
                                                       const RegressionOptions& options = {});

// The Method "regression" around FitRegression.
std::unique_ptr<Method> NewRegressionMethod(RegressionOptions options = {});

}  // namespace foresight::forecast
