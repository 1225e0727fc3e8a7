#include "foresight/forecast/baseline.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kMax = std::numeric_limits<double>::max();

double Clamp(double v) { return std::isnan(v) ? 0.0 : std::clamp(v, -kMax, kMax); }

// Mean of squares computed on values scaled by their largest magnitude, so that errors of 1e200
// do not overflow; returns the root. Empty input: nullopt.
std::optional<double> RootMeanSquare(const std::vector<double>& e) {
  if (e.empty()) return std::nullopt;
  double scale = 0;
  for (double v : e) scale = std::max(scale, std::abs(v));
  if (!(scale > 0)) return 0.0;
  if (!std::isfinite(scale)) scale = kMax;
  double s = 0;
  for (double v : e) {
    const double u = std::clamp(v, -kMax, kMax) / scale;
    s += u * u;
  }
  return scale * std::sqrt(s / e.size());
}

// Difference that saturates instead of overflowing to infinity.
double Diff(double a, double b) { return Clamp(a - b); }

std::string NeedsObservation() { return "needs at least 1 observation, got 0"; }

// Naive (m = 1) and seasonal naive: the most recent observed value at the step's phase.
class SeasonalNaiveModel final : public FittedModel {
 public:
  SeasonalNaiveModel(int m, std::optional<double> sigma1) : m_(m), sigma1_(sigma1) {
    last_value_.assign(m, 0.0);
    last_time_.assign(m, -1);
  }

  std::string Describe() const override {
    return m_ == 1 ? "Naive" : "SNaive(" + std::to_string(m_) + ")";
  }

  PointForecast Predict(int horizon) const override {
    PointForecast f;
    for (int h = 1; h <= horizon; ++h) {
      const int64_t t = next_ + h - 1;
      const int64_t phase = t % m_;
      double value, seasons;
      if (last_time_[phase] >= 0) {
        value = last_value_[phase];
        seasons = static_cast<double>((t - last_time_[phase]) / m_);
      } else {  // this phase was never observed: the last observation of any phase
        value = any_value_;
        seasons = std::ceil(static_cast<double>(t - any_time_) / m_);
      }
      f.mean.push_back(Clamp(value));
      if (sigma1_) f.sigma.push_back(Clamp(*sigma1_ * std::sqrt(std::max(1.0, seasons))));
    }
    return f;
  }

  void Update(double y) override {
    if (std::isfinite(y)) {
      last_value_[next_ % m_] = y;
      last_time_[next_ % m_] = next_;
      any_value_ = y;
      any_time_ = next_;
    }
    ++next_;
  }

 private:
  int m_;
  std::optional<double> sigma1_;
  std::vector<double> last_value_;
  std::vector<int64_t> last_time_;  // -1: never observed
  double any_value_ = 0;
  int64_t any_time_ = 0;
  int64_t next_ = 0;
};

Result<std::unique_ptr<FittedModel>> FitSeasonalNaive(std::span<const double> y, int m) {
  // In-sample errors of the same rule, each over the root of its distance in seasons.
  std::vector<double> errors;
  std::vector<double> last(m, 0.0);
  std::vector<int64_t> when(m, -1);
  bool any = false;
  for (size_t t = 0; t < y.size(); ++t) {
    if (!std::isfinite(y[t])) continue;
    any = true;
    const size_t phase = t % m;
    if (when[phase] >= 0) {
      const double seasons = static_cast<double>((static_cast<int64_t>(t) - when[phase]) / m);
      errors.push_back(Diff(y[t], last[phase]) / std::sqrt(seasons));
    }
    last[phase] = y[t];
    when[phase] = static_cast<int64_t>(t);
  }
  if (!any) return FailedPrecondition(NeedsObservation());
  auto model = std::make_unique<SeasonalNaiveModel>(m, RootMeanSquare(errors));
  for (double v : y) model->Update(v);
  return std::unique_ptr<FittedModel>(std::move(model));
}

class NaiveMethod final : public Method {
 public:
  std::string name() const override { return "naive"; }
  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y,
                                           const FitContext&) const override {
    return FitSeasonalNaive(y, 1);
  }
};

class SeasonalNaiveMethod final : public Method {
 public:
  std::string name() const override { return "snaive"; }
  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y,
                                           const FitContext& ctx) const override {
    int m = ctx.periods.empty() ? 1 : ctx.periods.front();
    if (m < 2 || y.size() < 2 * static_cast<size_t>(m)) m = 1;
    return FitSeasonalNaive(y, m);
  }
};

// Mean of the last k observed values at the step's phase.
class SeasonalMeanModel final : public FittedModel {
 public:
  SeasonalMeanModel(int m, int k, std::optional<double> var1, std::optional<double> var2)
      : m_(m), k_(k), var1_(var1), var2_(var2), recent_(m) {}

  std::string Describe() const override {
    return (m_ == 1 ? std::string("Mean(") : "SMean(" + std::to_string(m_) + "x") +
           std::to_string(k_) + ")";
  }

  PointForecast Predict(int horizon) const override {
    PointForecast f;
    for (int h = 1; h <= horizon; ++h) {
      const int64_t t = next_ + h - 1;
      const auto& r = recent_[t % m_];
      double value;
      int64_t seasons;
      if (!r.empty()) {
        double s = 0;
        for (const auto& [time, v] : r) s += v / r.size();  // divided first: no overflow
        value = s;
        seasons = (t - r.back().first) / m_;
      } else {
        value = any_value_;
        seasons = (t - any_time_ + m_ - 1) / m_;
      }
      f.mean.push_back(Clamp(value));
      if (var1_) {
        const double growth = var2_ ? std::max(0.0, *var2_ - *var1_) : 0.0;
        const double var = *var1_ + static_cast<double>(std::max<int64_t>(seasons, 1) - 1) * growth;
        f.sigma.push_back(Clamp(std::sqrt(var)));
      }
    }
    return f;
  }

  void Update(double y) override {
    if (std::isfinite(y)) {
      auto& r = recent_[next_ % m_];
      r.emplace_back(next_, y);
      if (static_cast<int>(r.size()) > k_) r.pop_front();
      any_value_ = y;
      any_time_ = next_;
    }
    ++next_;
  }

 private:
  int m_, k_;
  std::optional<double> var1_, var2_;  // forecast error variance 1 and 2 seasons ahead
  std::vector<std::deque<std::pair<int64_t, double>>> recent_;  // per phase: (time, value)
  double any_value_ = 0;
  int64_t any_time_ = 0;
  int64_t next_ = 0;
};

class SeasonalMeanMethod final : public Method {
 public:
  explicit SeasonalMeanMethod(int seasons) : seasons_(std::max(1, seasons)) {}
  std::string name() const override { return "smean"; }

  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y,
                                           const FitContext& ctx) const override {
    const int64_t n = static_cast<int64_t>(y.size());
    // The longest period with `seasons_` full cycles (it carries the shorter cycles inside it),
    // else the longest with at least two, with as many seasons as fit. On M4 Hourly this weekly
    // profile is what earns smean its place in the engine's combinations.
    int m = 1, k = seasons_;
    for (int p : ctx.periods) {
      if (p >= 2 && n >= static_cast<int64_t>(seasons_) * p && p > m) m = p;
    }
    if (m == 1) {
      for (int p : ctx.periods) {
        if (p >= 2 && n >= 2 * static_cast<int64_t>(p) && p > m) m = p;
      }
      if (m > 1) k = static_cast<int>(std::min<int64_t>(seasons_, n / m));
    }
    bool any = false;
    for (double v : y) any = any || std::isfinite(v);
    if (!any) return FailedPrecondition(NeedsObservation());

    // In-sample errors j = 1, 2 seasons ahead: y_t against the mean of the last (up to k)
    // observed values at its phase no later than t - j*m. A mean of i < k values has error
    // variance sigma^2 (1 + 1/i) rather than sigma^2 (1 + 1/k) under the stable-pattern model,
    // so such errors are scaled down to stand for a full mean.
    std::optional<double> var[2];
    for (int j = 1; j <= 2; ++j) {
      std::vector<double> errors;
      std::vector<std::deque<double>> recent(m);
      for (int64_t t = 0; t < n; ++t) {
        const int64_t src = t - static_cast<int64_t>(j) * m;
        if (src >= 0 && std::isfinite(y[src])) {
          auto& r = recent[src % m];
          r.push_back(y[src]);
          if (static_cast<int>(r.size()) > k) r.pop_front();
        }
        const auto& r = recent[t % m];
        if (!std::isfinite(y[t]) || r.empty()) continue;
        double mean = 0;
        for (double v : r) mean += v / r.size();
        const double i = static_cast<double>(r.size());
        errors.push_back(Diff(y[t], mean) * std::sqrt((1 + 1.0 / k) / (1 + 1.0 / i)));
      }
      if (std::optional<double> rms = RootMeanSquare(errors)) {
        var[j - 1] = std::min(kMax, *rms * *rms);
      }
    }
    auto model = std::make_unique<SeasonalMeanModel>(m, k, var[0], var[1]);
    for (double v : y) model->Update(v);
    return std::unique_ptr<FittedModel>(std::move(model));
  }

 private:
  int seasons_;
};

}  // namespace

std::unique_ptr<Method> NewNaiveMethod() { return std::make_unique<NaiveMethod>(); }
std::unique_ptr<Method> NewSeasonalNaiveMethod() { return std::make_unique<SeasonalNaiveMethod>(); }
std::unique_ptr<Method> NewSeasonalMeanMethod(int seasons) {
  return std::make_unique<SeasonalMeanMethod>(seasons);
}

}  // namespace foresight::forecast
