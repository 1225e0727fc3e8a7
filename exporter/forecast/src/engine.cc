#include "foresight/forecast/engine.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <numeric>
#include <optional>

#include "foresight/forecast/metrics.h"
#include "foresight/forecast/period.h"
#include "foresight/forecast/transform.h"

namespace foresight::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One method's forecasts at every backtest origin.
struct Backtest {
  std::vector<PointForecast> at_origin;  // index k: forecast from origin o_k
  std::vector<double> origin_mase;        // index k: its MASE there (NaN counted as 0)
  double mase = kNaN;
  bool ok = false;
  std::string error;
};

// The error scale every score divides by: the in-sample seasonal-naive MAE, as M4's MASE, with
// fallbacks for series where it is zero or undefined.
double ErrorScale(std::span<const double> y, int m) {
  double s = SeasonalNaiveScale(y, m);
  if (!(s > 0) || !std::isfinite(s)) s = SeasonalNaiveScale(y, 1);
  if (!(s > 0) || !std::isfinite(s)) {
    double mean_abs = 0;
    int n = 0;
    for (double v : y) {
      if (!std::isnan(v)) {
        mean_abs += std::abs(v);
        ++n;
      }
    }
    s = n > 0 ? mean_abs / n : 0;
  }
  return s > 0 && std::isfinite(s) ? s : 1.0;
}

// A sigma per step for models that give none: a random walk's growth, scaled later.
std::vector<double> SigmaOrDefault(const PointForecast& f, int h) {
  if (static_cast<int>(f.sigma.size()) >= h) return f.sigma;
  std::vector<double> s(static_cast<size_t>(h));
  for (int j = 0; j < h; ++j) s[static_cast<size_t>(j)] = std::sqrt(static_cast<double>(j + 1));
  return s;
}

// Averages member forecasts (simple mean: robust, and usually better than weighting on a few
// origins). Sigma is the mean of member sigmas: the calibration fixes its overall size.
PointForecast Average(const std::vector<const PointForecast*>& members, int h) {
  PointForecast out;
  out.mean.assign(static_cast<size_t>(h), 0.0);
  out.sigma.assign(static_cast<size_t>(h), 0.0);
  for (const PointForecast* m : members) {
    std::vector<double> s = SigmaOrDefault(*m, h);
    for (int j = 0; j < h; ++j) {
      out.mean[static_cast<size_t>(j)] += m->mean[static_cast<size_t>(j)];
      out.sigma[static_cast<size_t>(j)] += s[static_cast<size_t>(j)];
    }
  }
  for (int j = 0; j < h; ++j) {
    out.mean[static_cast<size_t>(j)] /= static_cast<double>(members.size());
    out.sigma[static_cast<size_t>(j)] /= static_cast<double>(members.size());
  }
  return out;
}

// |error| / sigma at every backtest step with an actual, over the given origins.
std::vector<double> Ratios(std::span<const double> y, const std::vector<int>& origins,
                           const std::vector<PointForecast>& at_origin, int h,
                           const std::vector<size_t>& use) {
  std::vector<double> r;
  for (size_t k : use) {
    const PointForecast& f = at_origin[k];
    std::vector<double> s = SigmaOrDefault(f, h);
    for (int j = 0; j < h; ++j) {
      const size_t t = static_cast<size_t>(origins[k] + j);
      if (t >= y.size() || std::isnan(y[t])) continue;
      const double e = std::abs(y[t] - f.mean[static_cast<size_t>(j)]);
      const double sj = s[static_cast<size_t>(j)];
      r.push_back(sj > 0 ? e / sj : (e > 0 ? 1e12 : 0));
    }
  }
  return r;
}

// The split-conformal quantile: the ceil((N+1) level)-th smallest ratio. With too few ratios,
// the normal quantile (what the model's own sigma claims).
double ConformalQuantile(std::vector<double> r, double level) {
  const size_t n = r.size();
  if (n < 20) return NormalQuantile(0.5 + level / 2);
  size_t k = static_cast<size_t>(std::ceil((static_cast<double>(n) + 1) * level));
  if (k < 1) k = 1;
  if (k > n) k = n;
  std::nth_element(r.begin(), r.begin() + static_cast<long>(k - 1), r.end());
  return r[k - 1];
}

double Median(std::vector<double> r) {
  if (r.empty()) return kNaN;
  std::nth_element(r.begin(), r.begin() + static_cast<long>(r.size() / 2), r.end());
  return r[r.size() / 2];
}

ModelForecast MakeBands(const PointForecast& f, int h, const std::vector<double>& ratios,
                        const std::vector<double>& levels) {
  ModelForecast out;
  out.mean = f.mean;
  std::vector<double> s = SigmaOrDefault(f, h);
  for (double level : levels) {
    // Never narrower than the model's own claim: the backtest covers a few horizons only, and
    // a quiet stretch there must not shrink the band below what the model's variance says.
    const double q = std::max(ConformalQuantile(ratios, level), NormalQuantile(0.5 + level / 2));
    Band b;
    b.level = level;
    b.lower.resize(static_cast<size_t>(h));
    b.upper.resize(static_cast<size_t>(h));
    for (int j = 0; j < h; ++j) {
      const double w = q * s[static_cast<size_t>(j)];
      b.lower[static_cast<size_t>(j)] = f.mean[static_cast<size_t>(j)] - w;
      b.upper[static_cast<size_t>(j)] = f.mean[static_cast<size_t>(j)] + w;
    }
    out.bands.push_back(std::move(b));
  }
  // The median absolute ratio over 0.6745 is a robust sigma multiplier (exact for normal errors).
  double med = ratios.size() >= 5 ? Median(ratios) / 0.6744897501960817 : 1.0;
  if (!(med > 0) || !std::isfinite(med)) med = 1.0;
  out.scale.resize(static_cast<size_t>(h));
  for (int j = 0; j < h; ++j) out.scale[static_cast<size_t>(j)] = med * s[static_cast<size_t>(j)];
  return out;
}

bool Finite(const PointForecast& f, int h) {
  if (static_cast<int>(f.mean.size()) < h) return false;
  for (int j = 0; j < h; ++j) {
    if (!std::isfinite(f.mean[static_cast<size_t>(j)])) return false;
    if (static_cast<int>(f.sigma.size()) >= h &&
        !(std::isfinite(f.sigma[static_cast<size_t>(j)]) && f.sigma[static_cast<size_t>(j)] >= 0)) {
      return false;
    }
  }
  return true;
}

Result<PointForecast> FitPredict(const Method& m, std::span<const double> y, int h,
                                 const FitContext& ctx, std::string* description = nullptr,
                                 std::unique_ptr<FittedModel>* keep = nullptr) {
  auto fitted = m.Fit(y, ctx);
  if (!fitted.ok()) return fitted.status();
  PointForecast f = (*fitted)->Predict(h);
  if (!Finite(f, h)) return Internal(m.name() + " produced a non-finite forecast");
  if (description != nullptr) *description = (*fitted)->Describe();
  if (keep != nullptr) *keep = std::move(fitted).value();
  return f;
}

// Maps a forecast made on the transformed scale back to the original one.
void BackTransform(const BoxCox& bc, ModelForecast& f) {
  for (size_t j = 0; j < f.mean.size(); ++j) {
    // The error scale maps through the transform's local slope at the forecast.
    const double m = f.mean[j];
    const double up = bc.Inverse(m + f.scale[j]), down = bc.Inverse(m - f.scale[j]);
    f.scale[j] = std::abs(up - down) / 2;
    f.mean[j] = bc.Inverse(m);
  }
  for (Band& b : f.bands) {
    for (size_t j = 0; j < b.lower.size(); ++j) {
      b.lower[j] = bc.Inverse(b.lower[j]);
      b.upper[j] = bc.Inverse(b.upper[j]);
    }
  }
}

// A member forecast that went non-finite after updates (a diverging state): each bad value is
// replaced by the previous good one (the first by 0), so Predict never returns NaN.
void MakeFinite(PointForecast& f, int h) {
  f.mean.resize(static_cast<size_t>(h), 0.0);
  double last = 0;
  for (double& v : f.mean) {
    if (std::isfinite(v)) {
      last = v;
    } else {
      v = last;
    }
  }
  if (static_cast<int>(f.sigma.size()) >= h) {
    for (double& s : f.sigma) {
      if (!std::isfinite(s) || s < 0) s = 0;
    }
  }
}

// The share of backtest actuals inside the widest band, each origin's band calibrated on the
// other origins' ratios only: coverage as it will be on data the calibration has not seen. NaN
// with fewer than two origins or no actual.
double LeaveOneOriginOutCoverage(std::span<const double> y, const std::vector<int>& origins,
                                 const std::vector<PointForecast>& at_origin, int h,
                                 const std::vector<double>& levels) {
  if (origins.size() < 2 || levels.empty()) return kNaN;
  const double level = *std::max_element(levels.begin(), levels.end());
  size_t inside = 0, total = 0;
  for (size_t k = 0; k < origins.size(); ++k) {
    std::vector<size_t> others;
    for (size_t j = 0; j < origins.size(); ++j) {
      if (j != k) others.push_back(j);
    }
    const double q = std::max(ConformalQuantile(Ratios(y, origins, at_origin, h, others), level),
                              NormalQuantile(0.5 + level / 2));
    std::vector<double> s = SigmaOrDefault(at_origin[k], h);
    for (int j = 0; j < h; ++j) {
      const size_t t = static_cast<size_t>(origins[k] + j);
      if (t >= y.size() || std::isnan(y[t])) continue;
      ++total;
      if (std::abs(y[t] - at_origin[k].mean[static_cast<size_t>(j)]) <=
          q * s[static_cast<size_t>(j)]) {
        ++inside;
      }
    }
  }
  return total > 0 ? static_cast<double>(inside) / static_cast<double>(total) : kNaN;
}

}  // namespace

struct ForecastState::Impl {
  std::vector<std::unique_ptr<FittedModel>> members;
  std::vector<double> ratios;  // calibration: |error| / sigma over the backtest
  std::vector<double> levels;
  std::optional<BoxCox> bc;  // set when the series was fitted transformed
};

ForecastState::ForecastState(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ForecastState::~ForecastState() = default;

ModelForecast ForecastState::Predict(int horizon) const {
  const int h = std::max(horizon, 1);
  std::vector<PointForecast> fs;
  fs.reserve(impl_->members.size());
  for (const auto& m : impl_->members) {
    fs.push_back(m->Predict(h));
    if (!Finite(fs.back(), h)) MakeFinite(fs.back(), h);
  }
  PointForecast fc;
  if (fs.size() == 1) {
    fc = std::move(fs[0]);
  } else {
    std::vector<const PointForecast*> ms;
    for (const PointForecast& f : fs) ms.push_back(&f);
    fc = Average(ms, h);
  }
  ModelForecast out = MakeBands(fc, h, impl_->ratios, impl_->levels);
  if (impl_->bc) BackTransform(*impl_->bc, out);
  return out;
}

void ForecastState::Update(double y) {
  double z = y;
  if (impl_->bc && !std::isnan(y)) z = impl_->bc->Forward(y);  // NaN outside its domain: a gap
  for (auto& m : impl_->members) m->Update(z);
  ++updates_;
}

Engine::Engine(std::vector<std::shared_ptr<const Method>> methods, EngineOptions options)
    : methods_(std::move(methods)), options_(std::move(options)) {}

Result<ForecastResult> Engine::Forecast(std::span<const double> y, int horizon,
                                        const FitContext& ctx) const {
  return Run(y, horizon, ctx, nullptr);
}

Result<std::unique_ptr<ForecastState>> Engine::Fit(std::span<const double> y, int horizon,
                                                   const FitContext& ctx) const {
  auto impl = std::make_unique<ForecastState::Impl>();
  auto r = Run(y, horizon, ctx, impl.get());
  if (!r.ok()) return r.status();
  impl->levels = options_.levels;
  std::unique_ptr<ForecastState> state(new ForecastState(std::move(impl)));
  state->info_ = std::move(r).value();
  state->info_.forecast = ModelForecast{};
  state->info_.per_method.clear();
  return state;
}

Result<ForecastResult> Engine::Run(std::span<const double> y, int horizon, const FitContext& ctx_in,
                                   ForecastState::Impl* state) const {
  FitContext ctx = ctx_in;
  if (ctx.periods.empty() && options_.detect_periods) ctx.periods = DetectPeriods(y);
  if (options_.transform == ValueTransform::kNone) {
    auto r = ForecastRaw(y, horizon, ctx, state);
    if (r.ok()) r->periods = ctx.periods;
    return r;
  }
  auto bc = BoxCox::Fit(y, options_.transform == ValueTransform::kLog ? std::optional<double>(0.0)
                                                                      : std::nullopt,
                        ctx.periods.empty() ? 2 : ctx.periods.front());
  if (!bc.ok()) {
    auto r = ForecastRaw(y, horizon, ctx, state);
    if (r.ok()) {
      r->periods = ctx.periods;
      r->description += " (untransformed: " + bc.status().message() + ")";
    }
    return r;
  }
  std::vector<double> z(y.size());
  for (size_t i = 0; i < y.size(); ++i) z[i] = std::isnan(y[i]) ? y[i] : bc->Forward(y[i]);
  auto r = ForecastRaw(z, horizon, ctx, state);
  if (!r.ok()) return r;
  r->periods = ctx.periods;
  BackTransform(*bc, r->forecast);
  for (ModelForecast& f : r->per_method) BackTransform(*bc, f);
  if (state != nullptr) state->bc = *bc;
  char lam[32];
  std::snprintf(lam, sizeof(lam), "%.3g", bc->lambda());
  r->description = "boxcox(" + std::string(lam) + "): " + r->description;
  return r;
}

Result<ForecastResult> Engine::ForecastRaw(std::span<const double> y, int horizon,
                                           const FitContext& ctx,
                                           ForecastState::Impl* state) const {
  if (horizon < 1) return InvalidArgument("horizon must be at least 1, got " + std::to_string(horizon));
  if (methods_.empty()) return InvalidArgument("no forecasting methods configured");
  for (double l : options_.levels) {
    if (!(l > 0 && l < 1)) return InvalidArgument("confidence level " + std::to_string(l) + " is not in (0, 1)");
  }
  size_t observed = 0;
  for (double v : y) observed += std::isnan(v) ? 0 : 1;
  if (observed == 0) return FailedPrecondition("the series has no observed values");

  const int n = static_cast<int>(y.size());
  const int h = horizon;
  const int m = ctx.periods.empty() ? 1 : ctx.periods.front();
  const size_t nm = methods_.size();

  // Origins o_k = n - k h, each leaving at least half the series (and two seasons) to fit on.
  const int min_train = std::max({n / 2, 2 * m + 2, 8});
  std::vector<int> origins;
  for (int k = 1; k <= options_.origins; ++k) {
    const int o = n - k * h;
    if (o < min_train) break;
    origins.push_back(o);
  }

  // Each origin's MASE scale, computed once: every candidate is scored against the same ones.
  std::vector<double> origin_scale;
  for (int o : origins) origin_scale.push_back(ErrorScale(y.subspan(0, static_cast<size_t>(o)), m));
  auto origin_error = [&](size_t k, const std::vector<double>& mean) {
    const double e = Mase(y.subspan(static_cast<size_t>(origins[k]), static_cast<size_t>(h)), mean,
                          origin_scale[k]);
    return std::isnan(e) ? 0.0 : e;
  };

  ForecastResult result;
  result.backtest_origins = static_cast<int>(origins.size());
  std::vector<Backtest> bt(nm);
  for (size_t i = 0; i < nm; ++i) {
    Backtest& b = bt[i];
    b.ok = true;
    double sum = 0;
    for (size_t k = 0; k < origins.size(); ++k) {
      auto f = FitPredict(*methods_[i], y.subspan(0, static_cast<size_t>(origins[k])), h, ctx);
      if (!f.ok()) {
        b.ok = false;
        b.error = f.status().message();
        break;
      }
      b.origin_mase.push_back(origin_error(k, f->mean));
      sum += b.origin_mase.back();
      b.at_origin.push_back(std::move(f).value());
    }
    if (b.ok && !origins.empty()) b.mase = sum / static_cast<double>(origins.size());
  }

  // Candidates: each usable method, then the means of the 2..combine_max best.
  std::vector<size_t> usable;
  for (size_t i = 0; i < nm; ++i) {
    if (bt[i].ok) usable.push_back(i);
  }
  std::stable_sort(usable.begin(), usable.end(), [&](size_t a, size_t b) {
    if (origins.empty()) return false;  // keep the configured order
    return bt[a].mase < bt[b].mase;
  });

  struct Candidate {
    std::vector<size_t> members;
    std::vector<PointForecast> at_origin;
    std::vector<double> origin_mase;
    double mase = kNaN;
  };
  std::vector<Candidate> candidates;
  for (size_t i : usable) {
    candidates.push_back({{i}, bt[i].at_origin, bt[i].origin_mase, bt[i].mase});
  }
  if (!origins.empty()) {
    for (int c = 2; c <= options_.combine_max && c <= static_cast<int>(usable.size()); ++c) {
      Candidate cand;
      cand.members.assign(usable.begin(), usable.begin() + c);
      double sum = 0;
      for (size_t k = 0; k < origins.size(); ++k) {
        std::vector<const PointForecast*> ms;
        for (size_t i : cand.members) ms.push_back(&bt[i].at_origin[k]);
        cand.at_origin.push_back(Average(ms, h));
        cand.origin_mase.push_back(origin_error(k, cand.at_origin.back().mean));
        sum += cand.origin_mase.back();
      }
      cand.mase = sum / static_cast<double>(origins.size());
      candidates.push_back(std::move(cand));
    }
  }

  std::vector<size_t> all_origins(origins.size());
  std::iota(all_origins.begin(), all_origins.end(), 0);

  // Final fits, best candidate first; a member that fails on the full series drops the
  // candidate and the next one is tried.
  std::vector<std::optional<PointForecast>> final_fc(nm);
  std::vector<std::string> final_err(nm), final_desc(nm);
  std::vector<std::unique_ptr<FittedModel>> final_model(nm);
  auto final_of = [&](size_t i) -> const PointForecast* {
    if (!final_fc[i] && final_err[i].empty()) {
      auto f = FitPredict(*methods_[i], y, h, ctx, &final_desc[i],
                          state != nullptr ? &final_model[i] : nullptr);
      if (f.ok()) {
        final_fc[i] = std::move(f).value();
      } else {
        final_err[i] = f.status().message();
      }
    }
    return final_fc[i] ? &*final_fc[i] : nullptr;
  };

  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (origins.empty()) return false;
    return candidates[a].mase < candidates[b].mase;
  });
  bool chosen = false;
  for (size_t ci : order) {
    const Candidate& c = candidates[ci];
    std::vector<const PointForecast*> ms;
    for (size_t i : c.members) {
      const PointForecast* f = final_of(i);
      if (f == nullptr) break;
      ms.push_back(f);
    }
    if (ms.size() != c.members.size()) continue;
    PointForecast fc = ms.size() == 1 ? *ms[0] : Average(ms, h);
    // Calibrate on residuals the selection has not seen: for each origin, the candidate that
    // the *other* origins would have chosen, scored on this origin. Calibrating on the chosen
    // candidate's own residuals would be optimistic, since it was chosen for having small ones.
    std::vector<double> ratios;
    if (origins.size() >= 2) {
      for (size_t k = 0; k < origins.size(); ++k) {
        size_t best = 0;
        double best_score = std::numeric_limits<double>::infinity();
        for (size_t cj = 0; cj < candidates.size(); ++cj) {
          double sum = 0;
          for (size_t j = 0; j < origins.size(); ++j) {
            if (j != k) sum += candidates[cj].origin_mase[j];
          }
          if (sum < best_score) {
            best_score = sum;
            best = cj;
          }
        }
        std::vector<double> rk = Ratios(y, origins, candidates[best].at_origin, h, {k});
        ratios.insert(ratios.end(), rk.begin(), rk.end());
      }
    } else {
      ratios = Ratios(y, origins, c.at_origin, h, all_origins);
    }
    result.forecast = MakeBands(fc, h, ratios, options_.levels);
    result.backtest_coverage = LeaveOneOriginOutCoverage(y, origins, c.at_origin, h,
                                                         options_.levels);
    if (state != nullptr) {
      for (size_t i : c.members) state->members.push_back(std::move(final_model[i]));
      state->ratios = std::move(ratios);
    }
    result.backtest_mase = c.mase;
    std::string desc;
    for (size_t i : c.members) {
      result.members.push_back(methods_[i]->name());
      desc += (desc.empty() ? "" : ", ") + final_desc[i];
    }
    result.model = c.members.size() == 1 ? methods_[c.members[0]]->name() : "combination";
    result.description = c.members.size() > 1 ? "mean(" + desc + ")" : desc;
    chosen = true;
    break;
  }
  for (size_t i = 0; i < nm; ++i) {
    MethodScore s;
    s.method = methods_[i]->name();
    s.backtest_mase = bt[i].mase;
    s.error = bt[i].ok ? final_err[i] : bt[i].error;
    result.scores.push_back(std::move(s));
  }
  if (options_.per_method) {
    for (size_t i = 0; i < nm; ++i) {
      const PointForecast* f = bt[i].ok ? final_of(i) : nullptr;
      if (f == nullptr) {
        result.per_method.emplace_back();
        continue;
      }
      result.per_method.push_back(
          MakeBands(*f, h, Ratios(y, origins, bt[i].at_origin, h, all_origins), options_.levels));
    }
    for (size_t i = 0; i < nm; ++i) {
      if (result.scores[i].error.empty()) result.scores[i].error = final_err[i];
    }
  }
  if (!chosen) {
    std::string why;
    for (const MethodScore& s : result.scores) why += "; " + s.method + ": " + s.error;
    return FailedPrecondition("no method could forecast this series" + why);
  }
  return result;
}

Anomaly AssessAnomaly(double observed, const ModelForecast& f, int step, size_t band_index) {
  Anomaly a;
  if (std::isnan(observed) || step < 1 || static_cast<size_t>(step) > f.mean.size()) return a;
  const size_t j = static_cast<size_t>(step - 1);
  if (band_index < f.bands.size()) {
    const Band& b = f.bands[band_index];
    a.anomalous = observed < b.lower[j] || observed > b.upper[j];
  }
  const double s = j < f.scale.size() ? f.scale[j] : 0;
  a.score = s > 0 ? (observed - f.mean[j]) / s : 0;
  return a;
}

}  // namespace foresight::forecast
