#pragma once

// The forecasting engine: for one series, a rolling-origin backtest of every configured method,
// selection of the best method or a combination of the best few, and prediction bands
// calibrated on the backtest residuals (split-conformal on the ratio |error| / sigma, so bands
// keep each model's shape over the horizon but take their width from how wrong the model really
// was). Thread-safe: one Engine serves many threads.

#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/forecast/model.h"

namespace foresight::forecast {

enum class ValueTransform {
  kNone,
  kLog,     // for positive series whose seasonal swings grow with the level
  kBoxCox,  // lambda chosen per series by Guerrero's method
};

struct EngineOptions {
  std::vector<double> levels = {0.8, 0.95};  // central band coverages, each in (0, 1)
  // Applied before fitting and undone on the forecast: the mean becomes the back-transformed
  // median (what minimises absolute error), bands transform exactly (monotone). A series with a
  // value <= 0 is forecast untransformed, and the description says so.
  ValueTransform transform = ValueTransform::kNone;
  // When the context names no seasonal period, detect up to two from the data (ACF).
  bool detect_periods = true;
  int origins = 3;            // rolling backtest origins, each one horizon apart
  int combine_max = 3;        // combinations of the 2..combine_max best methods are candidates
  bool per_method = false;    // also return every method's own final forecast (for reports)
};

struct Band {
  double level = 0;
  std::vector<double> lower, upper;
};

struct MethodScore {
  std::string method;
  double backtest_mase = std::numeric_limits<double>::quiet_NaN();  // mean over origins
  std::string error;  // why the method was left out, if it was
};

struct ModelForecast {
  std::vector<double> mean;
  std::vector<Band> bands;  // in the order of EngineOptions::levels
  // A robust scale of the forecast error at each step (calibrated like the bands): anomaly
  // scores divide residuals by it.
  std::vector<double> scale;
};

struct ForecastResult {
  ModelForecast forecast;
  std::string model;        // the selected method's name, or "combination"
  // What was fitted, from each member's FittedModel::Describe(), e.g.
  // "mean(ETS(A,Ad,A), MSTL(24,168)+ETS(A,N,N))"; prefixed "boxcox(0): " when transformed.
  std::string description;
  std::vector<std::string> members;  // method names averaged (one for a single method)
  std::vector<int> periods;          // the seasonal periods used (configured or detected)
  double backtest_mase = std::numeric_limits<double>::quiet_NaN();
  // Share of backtest actuals inside the widest band once calibrated on the other origins
  // (leave-one-origin-out), an honest estimate of future coverage; NaN without >= 2 origins.
  double backtest_coverage = std::numeric_limits<double>::quiet_NaN();
  int backtest_origins = 0;
  std::vector<MethodScore> scores;
  // With EngineOptions::per_method: each usable method's own final forecast, same order as
  // `scores` (empty ModelForecast for left-out methods).
  std::vector<ModelForecast> per_method;
};

// A fitted forecast that stays current without a refit: the selected members' fitted models,
// the bands' calibration and the value transform, as Engine::Fit chose them. Update() absorbs
// the next observation into every member (parameters stay as fitted); Predict() forecasts from
// the last observation absorbed, with bands calibrated as at fit time. This is what the exporter
// keeps per series between refits, and the forecast API other components call.
// Not thread-safe: one owner updates it; Predict() is const and may run concurrently with other
// Predict() calls only.
class ForecastState {
 public:
  ~ForecastState();
  ForecastState(const ForecastState&) = delete;
  ForecastState& operator=(const ForecastState&) = delete;

  // Steps 1..horizon after the last observation absorbed (horizon >= 1; any length, not only
  // the horizon the engine was fitted for). Never NaN.
  ModelForecast Predict(int horizon) const;
  // The next step's observation (NaN: missing); members propagate their state across a gap.
  void Update(double y);
  // Observations absorbed since the fit.
  int updates() const { return updates_; }

  // What was chosen and how it scored: every field of ForecastResult except `forecast` and
  // `per_method`, which are left empty (call Predict).
  const ForecastResult& info() const { return info_; }

 private:
  friend class Engine;
  struct Impl;
  explicit ForecastState(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  ForecastResult info_;
  int updates_ = 0;
};

class Engine {
 public:
  Engine(std::vector<std::shared_ptr<const Method>> methods, EngineOptions options);

  // Forecasts `horizon` steps after the end of y (NaN = missing). Errors only when no method can
  // fit at all, with every method's reason.
  Result<ForecastResult> Forecast(std::span<const double> y, int horizon,
                                  const FitContext& ctx) const;

  // The same selection and calibration as Forecast(), but keeps the fitted members so the
  // forecast can be moved forward by ForecastState::Update. `horizon` is the backtest horizon
  // (the longest one that will be published); Predict may ask for more.
  // Forecast(y, h, ctx).forecast equals Fit(y, h, ctx)->Predict(h) exactly.
  Result<std::unique_ptr<ForecastState>> Fit(std::span<const double> y, int horizon,
                                             const FitContext& ctx) const;

  const EngineOptions& options() const { return options_; }

 private:
  // Selection and calibration on (possibly transformed) y. With `state`, the chosen members'
  // fitted models and the calibration ratios are moved into it.
  Result<ForecastResult> ForecastRaw(std::span<const double> y, int horizon, const FitContext& ctx,
                                     ForecastState::Impl* state) const;
  Result<ForecastResult> Run(std::span<const double> y, int horizon, const FitContext& ctx,
                             ForecastState::Impl* state) const;

  std::vector<std::shared_ptr<const Method>> methods_;
  EngineOptions options_;
};

// Anomaly assessment of one observation against the forecast issued for its time: outside the
// band at `level` (flag), and the residual over the forecast's robust error scale (score).
struct Anomaly {
  bool anomalous = false;
  double score = 0;
};
Anomaly AssessAnomaly(double observed, const ModelForecast& f, int step, size_t band_index);

}  // namespace foresight::forecast
