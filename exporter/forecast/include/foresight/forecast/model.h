#pragma once

// The model seam of the forecasting engine. A Method is a recipe (stateless, thread-safe); its
// Fit returns a FittedModel that forecasts and can absorb new observations cheaply, so the
// exporter keeps forecasts current between full refits. No I/O anywhere in this library.
//
// Conventions for every model:
// - y is a regular grid (one value per step); NaN marks a missing step. A gap is never read as
//   zero: models skip, interpolate or propagate state across it, and say which in a comment.
// - Periods are seasonal periods in steps (e.g. 24 and 168 for hourly data), ascending; empty
//   means non-seasonal. A model that needs more history than it got returns an error Status
//   (FailedPrecondition, "needs at least N observations, got M"), never a garbage forecast.
// - Forecasts never contain NaN or infinities; sigma, when given, is finite and >= 0.

#include <memory>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "foresight/common/status.h"

namespace foresight::forecast {

// Regressors known in advance (calendar events): one column per regressor, one row per step,
// covering the history and the future: row i is step i of y; rows past y.size() are future
// steps. Shared, immutable once built.
struct Regressors {
  std::vector<std::string> names;
  Eigen::MatrixXd values;  // rows: history + future steps, cols: names.size()
};

struct FitContext {
  std::vector<int> periods;
  // Optional; when set, rows must cover y.size() + the largest horizon that will be asked.
  std::shared_ptr<const Regressors> regressors;
};

struct PointForecast {
  std::vector<double> mean;  // one per step ahead, starting at step 1
  // Standard deviation of the forecast error at each step, where the model has a variance
  // (analytic or approximated); empty where it has none. Bands are built from it (calibrated on
  // backtest residuals) or, without it, from backtest residuals alone.
  std::vector<double> sigma;
};

class FittedModel {
 public:
  virtual ~FittedModel() = default;
  // E.g. "ETS(M,Ad,M)" or "MSTL(24,168)+ETS(A,N,N)": what was chosen, for people and labels.
  virtual std::string Describe() const = 0;
  // Forecasts steps 1..horizon after the last observation seen (by Fit or Update).
  virtual PointForecast Predict(int horizon) const = 0;
  // Absorbs the next observation (NaN for a missing one) without re-estimating parameters.
  virtual void Update(double y) = 0;
};

class Method {
 public:
  virtual ~Method() = default;
  // Short stable name used in configs, metrics and JSON: "naive", "snaive", "ets", "mstl",
  // "regression", "theta".
  virtual std::string name() const = 0;
  virtual Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y,
                                                   const FitContext& ctx) const = 0;
};

// Standard normal quantile (inverse CDF), p in (0, 1).
double NormalQuantile(double p);

}  // namespace foresight::forecast
