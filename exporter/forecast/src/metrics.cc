#include "foresight/forecast/metrics.h"

#include <cmath>
#include <limits>

namespace foresight::forecast {

double SeasonalNaiveScale(std::span<const double> train, int m) {
  if (m < 1) m = 1;
  double sum = 0;
  size_t count = 0;
  for (size_t t = static_cast<size_t>(m); t < train.size(); ++t) {
    const double a = train[t], b = train[t - static_cast<size_t>(m)];
    if (std::isnan(a) || std::isnan(b)) continue;
    sum += std::abs(a - b);
    ++count;
  }
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(count);
}

double Smape(std::span<const double> actual, std::span<const double> forecast) {
  double sum = 0;
  size_t count = 0;
  for (size_t i = 0; i < actual.size() && i < forecast.size(); ++i) {
    if (std::isnan(actual[i])) continue;
    const double denom = std::abs(actual[i]) + std::abs(forecast[i]);
    if (denom > 0) sum += std::abs(actual[i] - forecast[i]) / denom;
    ++count;
  }
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : 200.0 * sum / static_cast<double>(count);
}

double Mase(std::span<const double> actual, std::span<const double> forecast, double scale) {
  double sum = 0;
  size_t count = 0;
  for (size_t i = 0; i < actual.size() && i < forecast.size(); ++i) {
    if (std::isnan(actual[i])) continue;
    sum += std::abs(actual[i] - forecast[i]);
    ++count;
  }
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  return sum / static_cast<double>(count) / scale;
}

double Msis(std::span<const double> actual, std::span<const double> lower,
            std::span<const double> upper, double scale, double alpha) {
  double sum = 0;
  size_t count = 0;
  for (size_t i = 0; i < actual.size() && i < lower.size() && i < upper.size(); ++i) {
    const double y = actual[i];
    if (std::isnan(y)) continue;
    double s = upper[i] - lower[i];
    if (y < lower[i]) s += 2.0 / alpha * (lower[i] - y);
    if (y > upper[i]) s += 2.0 / alpha * (y - upper[i]);
    sum += s;
    ++count;
  }
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  return sum / static_cast<double>(count) / scale;
}

double Coverage(std::span<const double> actual, std::span<const double> lower,
                std::span<const double> upper) {
  size_t in = 0, count = 0;
  for (size_t i = 0; i < actual.size() && i < lower.size() && i < upper.size(); ++i) {
    if (std::isnan(actual[i])) continue;
    if (actual[i] >= lower[i] && actual[i] <= upper[i]) ++in;
    ++count;
  }
  return count == 0 ? std::numeric_limits<double>::quiet_NaN()
                    : static_cast<double>(in) / static_cast<double>(count);
}

}  // namespace foresight::forecast
