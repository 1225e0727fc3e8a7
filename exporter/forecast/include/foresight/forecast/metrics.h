#pragma once

// Forecast accuracy measures as the M4 competition defines them (Makridakis et al. 2020).

#include <span>

namespace foresight::forecast {

// The MASE denominator: mean absolute seasonal-naive error over the whole training series,
// (1/(n-m)) * sum_{t=m}^{n-1} |y_t - y_{t-m}| (m = 1 for non-seasonal). NaN pairs are skipped.
// Returns NaN when no pair exists.
double SeasonalNaiveScale(std::span<const double> train, int m);

// 200/h * sum |y - f| / (|y| + |f|), in percent. Steps with NaN actuals are skipped; a step
// where |y| + |f| == 0 counts as zero error.
double Smape(std::span<const double> actual, std::span<const double> forecast);

// Mean absolute error over the scale.
double Mase(std::span<const double> actual, std::span<const double> forecast, double scale);

// Mean scaled interval score at level 1 - alpha (M4 uses alpha = 0.05):
// (1/h) sum [(U - L) + 2/alpha (L - y) 1{y < L} + 2/alpha (y - U) 1{y > U}] / scale.
double Msis(std::span<const double> actual, std::span<const double> lower,
            std::span<const double> upper, double scale, double alpha);

// Fraction of actuals inside [lower, upper].
double Coverage(std::span<const double> actual, std::span<const double> lower,
                std::span<const double> upper);

}  // namespace foresight::forecast
