#include "foresight/forecast/regression.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <utility>

namespace foresight::forecast {
namespace {

// Changepoint penalties (relative to the number of observations) tried by the held-out check,
// stiffest first.
constexpr double kPenaltyCandidates[] = {10.0, 1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7};
// The held-out check: origins at 70%, 80% and 90% of the observations, each candidate fitted
// on the observations before an origin and scored on the next 10%, squared errors summed.
// Several origins keep one unlucky stretch of noise from choosing the penalty.
constexpr int kFolds = 3;
constexpr double kFoldShare = 0.1;
// The stiffest candidate whose held-out error is within this factor of the best one wins:
// held-out errors of similar candidates differ by noise, and a stiffer trend extrapolates more
// safely (the "one standard error" rule in spirit).
constexpr double kPenaltySlack = 1.1;
// Used when there is too little data for a held-out check.
constexpr double kDefaultPenalty = 0.1;
// Below this many observations the held-out check is skipped.
constexpr int kMinForHoldout = 20;
// Reweighting rounds of the L1 solve from a cold start, and from a neighbouring solution.
constexpr int kL1Iterations = 8;
constexpr int kL1IterationsWarm = 3;
// Slope changes below this (standardised units) count as zero in the reweighting.
constexpr double kL1Floor = 1e-6;
// Absolute ridge on Fourier and regressor coefficients (y standardised): negligible against
// columns with O(n) squared norm, but it makes collinear columns well-posed.
constexpr double kSmallRidge = 1e-3;
// Fourier order cap for short histories: at most one harmonic (two columns) per this many
// observations, so that the seasonal terms cannot soak up the noise of a short series.
constexpr int kObservationsPerHarmonic = 20;
// On the unpenalised intercept and slope, only to keep the matrix positive definite.
constexpr double kJitter = 1e-9;

struct Harmonic {
  int k;
  Eigen::Index sin_col;  // -1 when absent (k = P/2: sin is zero at every integer step)
  Eigen::Index cos_col;
};

struct Seasonal {
  int period;
  std::vector<Harmonic> harmonics;
  // sin and cos of 2 pi j / period for j in [0, period): harmonic k at step t reads entry
  // (k * t) mod period, exact for any t and far cheaper than calling sin and cos.
  std::vector<double> sin_table;
  std::vector<double> cos_table;

  explicit Seasonal(int p)
      : period(p), sin_table(static_cast<size_t>(p)), cos_table(static_cast<size_t>(p)) {
    for (int j = 0; j < p; ++j) {
      double angle = 2.0 * std::numbers::pi * j / p;
      sin_table[static_cast<size_t>(j)] = std::sin(angle);
      cos_table[static_cast<size_t>(j)] = std::cos(angle);
    }
  }

  // Writes the sin and cos columns of step t (t >= 0) into row.
  void Fill(int64_t t, double* row) const {
    const int64_t base = t % period;
    for (const Harmonic& h : harmonics) {
      size_t j = static_cast<size_t>((h.k * base) % period);
      if (h.sin_col >= 0) row[h.sin_col] = sin_table[j];
      if (h.cos_col >= 0) row[h.cos_col] = cos_table[j];
    }
  }
};

// Column layout of the design matrix, shared by fitting and forecasting.
struct Design {
  int64_t t0 = 0;                    // first observed step
  double span = 1.0;                 // last observed step - t0: time is u = (t - t0) / span
  std::vector<double> changepoints;  // in u
  std::vector<Seasonal> seasonals;
  std::vector<std::string> regressor_names;
  std::vector<Eigen::Index> regressor_source;  // column in ctx.regressors of each kept regressor
  std::shared_ptr<const Regressors> regressors;
  Eigen::Index n_fourier = 0;

  Eigen::Index TrendCols() const { return 2 + static_cast<Eigen::Index>(changepoints.size()); }
  Eigen::Index FourierStart() const { return TrendCols(); }
  Eigen::Index RegressorStart() const { return TrendCols() + n_fourier; }
  Eigen::Index Cols() const {
    return RegressorStart() + static_cast<Eigen::Index>(regressor_names.size());
  }

  double U(double t) const { return (t - static_cast<double>(t0)) / span; }

  // The design row of step t (t >= 0); regressor rows not covered count as 0.
  // row has Cols() entries, contiguous.
  void Row(int64_t t, double* row) const {
    double u = U(static_cast<double>(t));
    row[0] = 1.0;
    row[1] = u;
    for (size_t j = 0; j < changepoints.size(); ++j) {
      row[2 + j] = std::max(0.0, u - changepoints[j]);
    }
    for (const Seasonal& s : seasonals) s.Fill(t, row);
    for (size_t j = 0; j < regressor_names.size(); ++j) {
      Eigen::Index col = RegressorStart() + static_cast<Eigen::Index>(j);
      row[col] = t < regressors->values.rows() ? regressors->values(t, regressor_source[j]) : 0.0;
    }
  }
};

// The full symmetric matrix from its lower triangle (a fresh matrix: no aliasing).
Eigen::MatrixXd Symmetric(const Eigen::MatrixXd& lower) {
  return lower.selfadjointView<Eigen::Lower>();
}

Eigen::VectorXd PenaltyDiagonal(const Design& d, double changepoint_penalty, int n_obs) {
  Eigen::VectorXd pen = Eigen::VectorXd::Constant(d.Cols(), kSmallRidge);
  pen(0) = pen(1) = kJitter;
  for (Eigen::Index j = 2; j < d.TrendCols(); ++j) pen(j) = changepoint_penalty * n_obs;
  return pen;
}

// Penalised least squares with an L1 penalty on the slope changes (a Laplace prior, as in
// Prophet: a few sharp changes rather than many small ones, which ridge would prefer), solved by
// iteratively reweighted ridge: |d| <= d^2 / (2 |d0|) + |d0| / 2 majorises |d|, so each solve
// with weights penalty / (2 |d0|) lowers the L1 objective. `start`, when given, is a nearby
// solution to begin from (it must have nonzero slope changes where they may be nonzero: a
// coefficient driven to ~0 stays there); otherwise the ridge solution is the start. On return
// `ldlt` holds the factorisation of the last system, whose inverse serves the forecast variance.
Eigen::VectorXd SolvePenalised(const Eigen::MatrixXd& gram, const Eigen::VectorXd& rhs,
                               const Design& d, double penalty, int n_obs, int iterations,
                               const Eigen::VectorXd* start, Eigen::LDLT<Eigen::MatrixXd>* ldlt) {
  Eigen::VectorXd pen = PenaltyDiagonal(d, penalty, n_obs);
  Eigen::MatrixXd m(gram.rows(), gram.cols());
  Eigen::VectorXd beta;
  if (start) {
    beta = *start;
  } else {
    m = gram;
    m.diagonal() += pen;
    ldlt->compute(m);
    beta = ldlt->solve(rhs);
  }
  for (int it = 0; it < iterations; ++it) {
    for (Eigen::Index j = 2; j < d.TrendCols(); ++j) {
      pen(j) = penalty * n_obs / (2.0 * std::max(std::abs(beta(j)), kL1Floor));
    }
    m = gram;
    m.diagonal() += pen;
    ldlt->compute(m);
    beta = ldlt->solve(rhs);
  }
  return beta;
}

class RegressionFit final : public RegressionModel {
 public:
  RegressionFit(Design design, Eigen::VectorXd beta, Eigen::MatrixXd inverse, double center,
                double scale, double resid_sd, double penalty, int64_t n, double level_weight)
      : d_(std::move(design)),
        beta_(std::move(beta)),
        inverse_(std::move(inverse)),
        center_(center),
        scale_(scale),
        resid_sd_(resid_sd),
        penalty_(penalty),
        next_(n),
        level_weight_(level_weight) {}

  std::string Describe() const override {
    std::string s = "regression(changepoints=" + std::to_string(d_.changepoints.size());
    if (!d_.seasonals.empty()) {
      s += ", seasonal=";
      for (size_t i = 0; i < d_.seasonals.size(); ++i) {
        if (i > 0) s += "+";
        s += std::to_string(d_.seasonals[i].period) + "x" +
             std::to_string(d_.seasonals[i].harmonics.empty() ? 0
                                                              : d_.seasonals[i].harmonics.back().k);
      }
    }
    if (!d_.regressor_names.empty()) {
      s += ", regressors=" + std::to_string(d_.regressor_names.size());
    }
    return s + ")";
  }

  PointForecast Predict(int horizon) const override {
    PointForecast out;
    if (horizon <= 0) return out;
    out.mean.resize(static_cast<size_t>(horizon));
    out.sigma.resize(static_cast<size_t>(horizon));
    Eigen::VectorXd row(d_.Cols());
    for (int h = 0; h < horizon; ++h) {
      d_.Row(next_ + h, row.data());
      double mean = Unscale(row.dot(beta_)) + level_;
      double leverage = std::max(0.0, row.dot(inverse_ * row));
      double sigma = scale_ * resid_sd_ * std::sqrt(1.0 + leverage);
      out.mean[static_cast<size_t>(h)] = Finite(mean);
      out.sigma[static_cast<size_t>(h)] = std::isfinite(sigma) ? sigma : kHuge;
    }
    return out;
  }

  void Update(double y) override {
    if (std::isfinite(y) && level_weight_ > 0) {
      Eigen::VectorXd row(d_.Cols());
      d_.Row(next_, row.data());
      double residual = y - Unscale(row.dot(beta_)) - level_;
      if (std::isfinite(residual)) level_ += level_weight_ * residual;
    }
    ++next_;
  }

  double TrendAt(double t) const override {
    double u = d_.U(t);
    double v = beta_(0) + beta_(1) * u;
    for (size_t j = 0; j < d_.changepoints.size(); ++j) {
      v += beta_(2 + static_cast<Eigen::Index>(j)) * std::max(0.0, u - d_.changepoints[j]);
    }
    return Unscale(v);
  }

  double SlopeAt(double t) const override {
    double u = d_.U(t);
    double slope = beta_(1);
    for (size_t j = 0; j < d_.changepoints.size(); ++j) {
      if (u > d_.changepoints[j]) slope += beta_(2 + static_cast<Eigen::Index>(j));
    }
    return scale_ * slope / d_.span;
  }

  double HarmonicAmplitude(int period, int k) const override {
    for (const Seasonal& s : d_.seasonals) {
      if (s.period != period) continue;
      for (const Harmonic& h : s.harmonics) {
        if (h.k != k) continue;
        double a = h.sin_col >= 0 ? beta_(h.sin_col) : 0.0;
        double b = h.cos_col >= 0 ? beta_(h.cos_col) : 0.0;
        return scale_ * std::hypot(a, b);
      }
    }
    return 0.0;
  }

  std::vector<double> SeasonalProfile(int period) const override {
    std::vector<double> profile(static_cast<size_t>(std::max(period, 0)), 0.0);
    for (const Seasonal& s : d_.seasonals) {
      if (s.period != period) continue;
      Eigen::VectorXd row = Eigen::VectorXd::Zero(d_.Cols());
      for (int phase = 0; phase < period; ++phase) {
        s.Fill(phase, row.data());
        profile[static_cast<size_t>(phase)] =
            scale_ * row.segment(d_.FourierStart(), d_.n_fourier)
                         .dot(beta_.segment(d_.FourierStart(), d_.n_fourier));
      }
    }
    return profile;
  }

  std::optional<double> RegressorCoefficient(const std::string& name) const override {
    for (size_t j = 0; j < d_.regressor_names.size(); ++j) {
      if (d_.regressor_names[j] == name) {
        return scale_ * beta_(d_.RegressorStart() + static_cast<Eigen::Index>(j));
      }
    }
    return std::nullopt;
  }

  double changepoint_penalty() const override { return penalty_; }

  std::vector<int> seasonal_periods() const override {
    std::vector<int> periods;
    for (const Seasonal& s : d_.seasonals) periods.push_back(s.period);
    return periods;
  }

 private:
  static constexpr double kHuge = std::numeric_limits<double>::max();

  double Unscale(double v) const { return center_ + scale_ * v; }
  static double Finite(double v) {
    if (std::isnan(v)) return 0.0;
    return std::clamp(v, -kHuge, kHuge);
  }

  const Design d_;
  const Eigen::VectorXd beta_;     // standardised units
  const Eigen::MatrixXd inverse_;  // (X'X + Penalty)^-1, for the forecast variance
  const double center_;
  const double scale_;
  const double resid_sd_;  // standardised units
  const double penalty_;
  int64_t next_;  // step index of the next observation
  const double level_weight_;
  double level_ = 0;  // offset learnt by Update, in the units of y
};

class RegressionMethod final : public Method {
 public:
  explicit RegressionMethod(RegressionOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "regression"; }
  Result<std::unique_ptr<FittedModel>> Fit(std::span<const double> y,
                                           const FitContext& ctx) const override {
    auto fit = FitRegression(y, ctx, options_);
    if (!fit.ok()) return fit.status();
    return std::unique_ptr<FittedModel>(std::move(*fit));
  }

 private:
  const RegressionOptions options_;
};

}  // namespace

Result<std::unique_ptr<RegressionModel>> FitRegression(std::span<const double> y,
                                                       const FitContext& ctx,
                                                       const RegressionOptions& options) {
  const int64_t n = static_cast<int64_t>(y.size());
  std::vector<int64_t> obs;
  for (int64_t t = 0; t < n; ++t) {
    if (std::isnan(y[t])) continue;
    if (std::isinf(y[t])) {
      return InvalidArgument("y[" + std::to_string(t) + "] is infinite");
    }
    obs.push_back(t);
  }
  const int n_obs = static_cast<int>(obs.size());
  if (n_obs < 2) {
    return FailedPrecondition("needs at least 2 observations, got " + std::to_string(n_obs));
  }
  if (options.n_changepoints < 0) {
    return InvalidArgument("n_changepoints must be >= 0, got " +
                           std::to_string(options.n_changepoints));
  }
  if (!(options.changepoint_range > 0 && options.changepoint_range <= 1)) {
    return InvalidArgument("changepoint_range must be in (0, 1], got " +
                           std::to_string(options.changepoint_range));
  }
  if (options.fourier_order_first < 0 || options.fourier_order_other < 0) {
    return InvalidArgument("Fourier orders must be >= 0");
  }
  if (!(options.update_level_weight >= 0 && options.update_level_weight <= 1)) {
    return InvalidArgument("update_level_weight must be in [0, 1], got " +
                           std::to_string(options.update_level_weight));
  }
  if (options.changepoint_penalty &&
      !(*options.changepoint_penalty >= 0 && std::isfinite(*options.changepoint_penalty))) {
    return InvalidArgument("changepoint_penalty must be finite and >= 0, got " +
                           std::to_string(*options.changepoint_penalty));
  }
  for (int p : ctx.periods) {
    if (p < 2) {
      return InvalidArgument("seasonal period must be at least 2, got " + std::to_string(p));
    }
  }
  if (ctx.regressors) {
    const Regressors& r = *ctx.regressors;
    if (r.values.cols() != static_cast<Eigen::Index>(r.names.size())) {
      return InvalidArgument("regressors have " + std::to_string(r.names.size()) + " names but " +
                             std::to_string(r.values.cols()) + " columns");
    }
    if (r.values.rows() < n) {
      return InvalidArgument("regressors have " + std::to_string(r.values.rows()) +
                             " rows, need at least the " + std::to_string(n) + " of the history");
    }
    if (!r.values.allFinite()) return InvalidArgument("regressors contain NaN or infinity");
  }

  // Standardise y (centred, scaled into [-1, 1]) so that the penalties mean the same whatever
  // its units: the L1 term grows linearly with the scale of y, the squared errors quadratically.
  double center = 0;
  for (int i = 0; i < n_obs; ++i) center += (y[obs[i]] - center) / (i + 1);
  double scale = 0;
  for (int64_t t : obs) scale = std::max(scale, std::abs(y[t] - center));
  if (!(scale > 0) || !std::isfinite(scale)) scale = 1.0;

  Design d;
  d.t0 = obs.front();
  d.span = static_cast<double>(obs.back() - obs.front());
  int n_cp =
      std::min(options.n_changepoints,
               std::max(0, static_cast<int>(std::floor(n_obs * options.changepoint_range)) - 1));
  for (int j = 1; j <= n_cp; ++j) d.changepoints.push_back(options.changepoint_range * j / n_cp);

  std::vector<int> periods = ctx.periods;
  std::sort(periods.begin(), periods.end());
  periods.erase(std::unique(periods.begin(), periods.end()), periods.end());
  Eigen::Index col = d.TrendCols();
  std::vector<std::pair<int, int>> frequencies;  // (k, P) already present
  for (int p : periods) {
    if (obs.back() - obs.front() + 1 < 2LL * p) continue;  // fewer than two seasons of history
    // Short histories get fewer harmonics: two columns per 20 observations at most.
    int order =
        std::min({d.seasonals.empty() ? options.fourier_order_first : options.fourier_order_other,
                  p / 2, std::max(1, n_obs / kObservationsPerHarmonic)});
    Seasonal s(p);
    for (int k = 1; k <= order; ++k) {
      bool repeated = false;
      for (auto [k2, p2] : frequencies) repeated = repeated || int64_t{k} * p2 == int64_t{k2} * p;
      if (repeated) continue;
      frequencies.emplace_back(k, p);
      Harmonic h{k, -1, -1};
      if (2 * k != p) h.sin_col = col++;
      h.cos_col = col++;
      s.harmonics.push_back(h);
    }
    if (!s.harmonics.empty()) d.seasonals.push_back(std::move(s));
  }
  d.n_fourier = col - d.TrendCols();
  if (ctx.regressors) {
    d.regressors = ctx.regressors;
    for (Eigen::Index j = 0; j < ctx.regressors->values.cols(); ++j) {
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      for (int64_t t : obs) {
        lo = std::min(lo, ctx.regressors->values(t, j));
        hi = std::max(hi, ctx.regressors->values(t, j));
      }
      if (hi - lo <= 1e-12 * std::max(1.0, std::abs(hi))) continue;  // nothing to learn from
      d.regressor_names.push_back(ctx.regressors->names[static_cast<size_t>(j)]);
      d.regressor_source.push_back(j);
    }
  }

  const Eigen::Index p = d.Cols();
  // The design transposed: one column per observation, so that each row is written
  // contiguously.
  Eigen::MatrixXd xt(p, n_obs);
  Eigen::VectorXd ys(n_obs);
  for (int i = 0; i < n_obs; ++i) {
    d.Row(obs[i], xt.col(i).data());
    ys(i) = (y[obs[i]] - center) / scale;
  }

  // X'X and X'y grow fold by fold: the held-out check needs them over the observations before
  // each origin, the final fit over all of them.
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(p, p);  // lower triangle until completed
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(p);
  int done = 0;
  auto extend_to = [&](int end) {
    gram.selfadjointView<Eigen::Lower>().rankUpdate(xt.middleCols(done, end - done));
    rhs += xt.middleCols(done, end - done) * ys.segment(done, end - done);
    done = end;
  };

  double penalty = kDefaultPenalty;
  if (options.changepoint_penalty) {
    penalty = *options.changepoint_penalty;
  } else if (n_cp > 0 && n_obs >= kMinForHoldout) {
    std::vector<double> sse(std::size(kPenaltyCandidates), 0.0);
    const int fold = std::max(1, static_cast<int>(n_obs * kFoldShare));
    for (int f = kFolds; f >= 1; --f) {
      const int origin = n_obs - f * fold;
      extend_to(origin);
      Eigen::MatrixXd g = Symmetric(gram);
      Eigen::VectorXd previous;
      Eigen::LDLT<Eigen::MatrixXd> ldlt;
      // Soft to stiff, each candidate starting from the softer one's solution.
      for (size_t c = std::size(kPenaltyCandidates); c-- > 0;) {
        Eigen::VectorXd beta =
            SolvePenalised(g, rhs, d, kPenaltyCandidates[c], n_obs,
                           previous.size() > 0 ? kL1IterationsWarm : kL1Iterations,
                           previous.size() > 0 ? &previous : nullptr, &ldlt);
        double e = (ys.segment(origin, fold) - xt.middleCols(origin, fold).transpose() * beta)
                       .squaredNorm();
        sse[c] += std::isfinite(e) ? e : std::numeric_limits<double>::infinity();
        previous = std::move(beta);
      }
    }
    double best = *std::min_element(sse.begin(), sse.end());
    for (size_t c = 0; c < sse.size(); ++c) {
      if (sse[c] <= best * kPenaltySlack) {
        penalty = kPenaltyCandidates[c];
        break;
      }
    }
  }
  extend_to(n_obs);
  gram = Symmetric(gram);

  Eigen::LDLT<Eigen::MatrixXd> ldlt;
  Eigen::VectorXd beta =
      SolvePenalised(gram, rhs, d, penalty, n_obs, kL1Iterations, nullptr, &ldlt);
  if (ldlt.info() != Eigen::Success) return Internal("regression: factorisation failed");
  Eigen::MatrixXd inverse = ldlt.solve(Eigen::MatrixXd::Identity(p, p));
  double edf = (inverse * gram).trace();
  double rss = (ys - xt.transpose() * beta).squaredNorm();
  double resid_sd = std::sqrt(rss / std::max(1.0, n_obs - edf));
  if (!beta.allFinite() || !std::isfinite(resid_sd)) {
    return Internal("regression: the fit did not produce finite coefficients");
  }
  return std::unique_ptr<RegressionModel>(
      new RegressionFit(std::move(d), std::move(beta), std::move(inverse), center, scale, resid_sd,
                        penalty, n, options.update_level_weight));
}

std::unique_ptr<Method> NewRegressionMethod(RegressionOptions options) {
  return std::make_unique<RegressionMethod>(std::move(options));
}

}  // namespace foresight::forecast
