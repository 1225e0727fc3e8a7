#pragma once

// Exponential smoothing state-space models (ETS), in the taxonomy of Hyndman, Koehler, Ord and
// Snyder, "Forecasting with Exponential Smoothing" (2008): additive or multiplicative errors; no,
// additive or damped additive trend; no, additive or multiplicative season. Multiplicative trends
// are left out on purpose: they explode on the spiky series we forecast.
//
// Estimation: the smoothing parameters (and phi) maximise the likelihood concentrated over sigma
// (n log SSE, plus 2 sum log|mu| for multiplicative errors), by Nelder-Mead from several starts.
// The initial states come from a heuristic (a classical decomposition of the first ten periods,
// or fewer when the series is shorter, then a line or a mean through the first seasonally
// adjusted points) and are not optimised, which keeps an automatic fit with period 24 and 960
// points near 10 ms. They still count as estimated parameters in the AICc, as in the book. The
// price: small gammas (< 0.05) come back somewhat too large. Parameters live in the "usual"
// region: 0 < alpha < 1, 0 < beta < alpha, 0 < gamma < 1 - alpha, 0.8 <= phi <= 0.98 (beta and
// gamma in the error-correction form).
//
// Forecast sigma: exact for the linear models (additive errors, no or additive season), the
// book's class 2 and 3 formulas for multiplicative errors (class 3 approximate beyond one
// period), and 500 simulated paths from a fixed seed for additive errors with a multiplicative
// season.
//
// Missing values (NaN, and any non-finite value): the state moves by its one-step prediction, and
// the step is left out of the likelihood. A gap is never read as zero.
//
// Everything here is thread-safe for const use; FittedModel::Update is not.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/forecast/model.h"

namespace foresight::forecast {

struct EtsSpec {
  char error = 'A';     // 'A' or 'M'
  char trend = 'N';     // 'N' or 'A'
  bool damped = false;  // with trend 'A' only: "Ad"
  char season = 'N';    // 'N', 'A' or 'M'

  // "ETS(M,Ad,M)".
  std::string ToString() const;
  bool operator==(const EtsSpec&) const = default;
};

// Accepts "ETS(M,Ad,M)" and the short form "MAdM" (case-sensitive letters, as in the book).
Result<EtsSpec> ParseEtsSpec(std::string_view text);

// Smoothing parameters in the error-correction form. beta is 0 without a trend, gamma 0 without a
// season, phi 1 without damping.
struct EtsParams {
  double alpha = 0.5;
  double beta = 0.0;
  double gamma = 0.0;
  double phi = 1.0;
};

struct EtsOptions {
  // Models to choose from by AICc. Empty: the usual admissible set without multiplicative trends,
  // and without additive-error/multiplicative-season models (numerically unstable): 15 models
  // with a season, 6 without. A listed model that the data cannot support is downgraded instead
  // of dropped: a season is removed when there is no usable period, a multiplicative component
  // becomes additive when the data are not strictly positive or multiplicative models are off.
  std::vector<EtsSpec> candidates;
  bool allow_multiplicative = true;
  // Seasonal models are fitted only for periods up to this many steps: beyond ~48 a seasonal ETS
  // with heuristic initial states is slow and poorly identified (e.g. 168 for hourly data with a
  // weekly cycle). Longer cycles belong to the MSTL model, which removes them and forecasts the
  // adjusted series with a non-seasonal ETS.
  int max_period = 48;
};

// A fitted ETS model, for callers that want its parameters (tests, diagnostics). All values are
// those of the model that forecasts; see Describe().
class EtsModel : public FittedModel {
 public:
  virtual EtsSpec spec() const = 0;
  virtual EtsParams params() const = 0;
  // Seasonal period used (1 without a season).
  virtual int period() const = 0;
  // Variance of the one-step error: in the units of y squared for additive errors, relative (of
  // (y - mu) / mu) for multiplicative ones.
  virtual double sigma2() const = 0;
  virtual double log_likelihood() const = 0;
  virtual double aicc() const = 0;
  // Parameters counted in the AIC: smoothing parameters, phi, initial states, sigma.
  virtual int num_params() const = 0;
};

// The "ets" method: fits the candidates, keeps the best by AICc. The seasonal period is
// ctx.periods.front() when y holds at least two full periods plus a few points; otherwise only
// non-seasonal models are fitted. A period longer than options.max_period is refused
// (FailedPrecondition): the engine then leaves ets out and says why; mstl models such seasons. Multiplicative models are
// fitted only for strictly positive data; when one wins, the best additive model is kept beside it
// and takes over if the multiplicative state or forecast ever leaves the valid range.
// Needs at least 3 non-missing observations.
std::unique_ptr<Method> NewEtsMethod(EtsOptions options = {});

// Fits one model (tests, and the MSTL model). The result is an EtsModel. The period is ignored
// by a non-seasonal spec. A multiplicative spec also fits its additive analogue (M -> A), which
// takes over as above. Errors: InvalidArgument for a malformed spec, a seasonal spec with
// period < 2, or a multiplicative spec on data that are not strictly positive;
// FailedPrecondition when y is too short (3 observations, and two full periods plus 4 steps for
// a seasonal spec) or the model cannot be fitted at all.
Result<std::unique_ptr<FittedModel>> FitEts(std::span<const double> y, int period,
                                            const EtsSpec& spec);

// Runs the recursion over y with given parameters, without estimating them (sigma is still
// estimated from the residuals). Same errors as FitEts, and InvalidArgument for parameters outside
// the usual region.
Result<std::unique_ptr<FittedModel>> FitEtsWithParams(std::span<const double> y, int period,
                                                      const EtsSpec& spec, const EtsParams& params);

}  // namespace foresight::forecast
