#pragma once

// The standard Theta method (Assimakopoulos and Nikolopoulos 2000) in the form of Hyndman and
// Billah (2003): simple exponential smoothing plus a drift of half the slope of the least-squares
// line through the data,
//
//   yhat(n + h) = l(n) + b/2 * (h - 1 + (1 - (1 - alpha)^n) / alpha),
//
// with sigma_h = sigma1 * sqrt(1 + (h - 1) alpha^2), the SES state-space variance.
//
// Estimation as R's forecast::thetaf: alpha in [1e-4, 0.9999] (a grid, then golden-section
// search) and the initial level (in closed form for each alpha) minimise the sum of squared
// one-step SES errors (the drift plays no part in them); b is the least-squares slope over the
// observed steps. sigma1^2 = SSE / (observations - 2). Matches thetaf to about 1e-4 on the data
// we compared (the difference: R optimises alpha and l0 jointly by a general optimiser).
//
// Missing steps (any non-finite value), in the fit and in Update: the level absorbs the model's
// own one-step forecast, so the forecasts from before the gap simply carry on across it, and the
// error counts from the last observation (sigma_h uses h plus the steps missed since then).
//
// Thread-safe for const use; FittedModel::Update is not.

#include <memory>
#include <span>

#include "foresight/common/status.h"
#include "foresight/forecast/model.h"
#include "foresight/forecast/stl.h"

namespace foresight::forecast {

struct ThetaOptions {
  // Seasonal adjustment by MSTL when ctx.periods has a period with two full cycles in y;
  // otherwise none. Adjustment is additive (transforms are the engine's job).
  SeasonalAdjustmentOptions adjustment;
  // A fixed alpha in (0, 1), e.g. to reproduce published numbers; 0 estimates it.
  double alpha = 0;
};

// "theta". Describe() is "Theta" or "MSTL(24,168)+Theta".
std::unique_ptr<Method> NewThetaMethod(ThetaOptions options = {});

// The non-seasonal Theta model on y (needs 3 observed values). alpha as in ThetaOptions.
Result<std::unique_ptr<FittedModel>> FitTheta(std::span<const double> y, double alpha = 0);

}  // namespace foresight::forecast
