#pragma once

// Seasonal period detection, for series whose periods are not configured.
//
// 1. Missing (non-finite) steps are interpolated linearly; the series is standardised.
// 2. Candidates are the peaks of the autocorrelation function (by FFT) of the linearly detrended
//    series: local maxima with r(k) >= max(0.1, 2.5 / sqrt(n)) that rise at least 0.2 above the
//    lowest r between k/2 and k.
// 3. Each candidate is scored by the strength of its seasonality in a classical decomposition:
//    detrend by a centred moving average over one period (which follows a random walk, so a
//    wander does not pass for a cycle), average each phase, and compare the remainder's variance
//    with the detrended series', per degree of freedom (adjusted R^2, so the p - 1 phase means a
//    period fits to pure noise count for nothing). The ACF peak is broad and noise moves it,
//    while the strength peaks sharply at the true period, so the best lag within ~10% of the
//    ACF peak is taken.
// 4. Significance: the strength must be >= 0.2 + p / (n - p) (stricter with few cycles) and at
//    least twice the strongest lag between 0.6 and 1.9 periods outside the period's own lobe.
//    Autocorrelated noise over few cycles reaches sizeable strengths at many lags, and the lag we
//    picked is the best of many; a real cycle stands far above its neighbours.
// 5. The smallest significant candidate is kept (the fundamental rather than its multiples); its
//    seasonal profile is subtracted and the search repeats on what is left, up to max_periods
//    times. A weekly cycle over a daily one therefore shows up once the daily profile is gone:
//    hourly data with both give {24, 168}. A flat-topped peak that holds a multiple of a period
//    already found is read as that multiple (calendar cycles nest).
//
// Measured error rates on simulated series are in period.cc. Cost: O(n log n) for the ACF plus
// O(n) per lag scored: about 1 ms for n = 1000, up to ~60 ms for n = 20000.
//
// Deterministic and thread-safe.

#include <span>
#include <vector>

namespace foresight::forecast {

// Returns the detected periods in steps (>= 2), ascending; {} for noise, random walks, pure
// trends and constant or all-missing series. A period needs four cycles in y (fewer cannot be
// told from a wander): max_period = 0 means y.size() / 4, and larger values are capped there.
std::vector<int> DetectPeriods(std::span<const double> y, int max_periods = 2, int max_period = 0);

}  // namespace foresight::forecast
