#pragma once

// Baseline methods: the benchmarks every other model has to beat, and a fallback that always
// fits. All need one observed value; their sigma needs two (one-step or one-season errors) and is
// left empty without them.
//
// Shared conventions:
// - Non-finite values (NaN, +-Inf) are missing steps. A forecast reads the most recent observed
//   value at the right phase, skipping back over missing ones; sigma grows with the distance
//   (in steps or seasons) between the forecast step and the value it was read from, so a stale
//   value gets a wider band.
// - sigma1 is the root mean square of the in-sample errors of the same forecast rule (not
//   centred: a drift the rule ignores is part of its error), each error scaled by the square root
//   of its distance so that gaps do not inflate it.
// - Update(y) appends one step; parameters (sigma1, the chosen period) stay fixed.
// Methods are thread-safe; a fitted model's Update is not.

#include <memory>

#include "foresight/forecast/model.h"

namespace foresight::forecast {

// "naive": the last observed value. sigma_h = sigma1 * sqrt(h) (random walk).
std::unique_ptr<Method> NewNaiveMethod();

// "snaive": the value one period m = ctx.periods.front() earlier. sigma_h = sigma1 *
// sqrt(ceil(h / m)) (seasonal random walk). Falls back to "naive" (Describe() says "Naive")
// without periods or with fewer than two full periods of data.
std::unique_ptr<Method> NewSeasonalNaiveMethod();

// "smean": the mean of the last `seasons` observed values at the same phase of period m. Robust
// for noisy seasonal series whose pattern is stable.
//
// The period is the LONGEST of ctx.periods with `seasons` full cycles in the history: with
// periods {24, 168}, four weeks of hourly data give a weekly profile (which carries the daily one
// too); less than that gives a daily profile. A period with only 2..seasons-1 cycles is used with
// as many seasons as fit, when no period has `seasons`. Without any period that fits twice, m = 1:
// the mean of the last `seasons` observations. Alone this lags a trending series badly (M4 Hourly
// MASE 5.9); the engine picks it only where a stable weekly profile wins the backtest, which on
// M4 Hourly is worth 0.03 of MASE and 1.9 points of sMAPE to the selection.
//
// sigma: the forecast of a step j seasons ahead averages the same values for every h within a
// season, so its error is estimated per season from in-sample errors at one and two seasons
// ahead, and the variance extrapolated linearly beyond: flat for a stable pattern plus noise,
// growing when the level wanders.
std::unique_ptr<Method> NewSeasonalMeanMethod(int seasons = 4);

}  // namespace foresight::forecast
