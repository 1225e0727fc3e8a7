#include "foresight/exporter/job.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "foresight/forecast/registry.h"

namespace foresight::exporter {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int64_t FloorTo(int64_t t, int64_t step) {
  int64_t q = t / step;
  if (t % step != 0 && t < 0) --q;
  return q * step;
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

class RemoteReadReader final : public SeriesReader {
 public:
  explicit RemoteReadReader(std::unique_ptr<remote_read::Client> client)
      : client_(std::move(client)) {}
  Status Read(const remote_read::Query& query, std::vector<remote_read::Series>* out,
              remote_read::ReadStats* stats) override {
    return client_->Read(
        std::span<const remote_read::Query>(&query, 1),
        [&](remote_read::Series&& s) {
          out->push_back(std::move(s));
          return Status::Ok();
        },
        stats);
  }

 private:
  std::unique_ptr<remote_read::Client> client_;
};

// The band index the anomaly flag uses: the widest confidence.
size_t WidestBand(const std::vector<double>& confidence) {
  size_t best = 0;
  for (size_t i = 1; i < confidence.size(); ++i) {
    if (confidence[i] > confidence[best]) best = i;
  }
  return best;
}

PublishedAnomaly Judge(const forecast::ForecastState& state, double observed, size_t band) {
  forecast::ModelForecast next = state.Predict(1);
  forecast::Anomaly a = forecast::AssessAnomaly(observed, next, 1, band);
  return PublishedAnomaly{a.anomalous, a.score};
}

}  // namespace

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kPending: return "pending";
    case JobState::kOk: return "ok";
    case JobState::kStale: return "stale";
    case JobState::kFailed: return "failed";
  }
  return "unknown";
}

Result<std::unique_ptr<SeriesReader>> NewRemoteReadReader(const SourceConfig& source) {
  auto client = remote_read::Client::Create(ToClientOptions(source));
  if (!client.ok()) return client.status();
  return std::unique_ptr<SeriesReader>(new RemoteReadReader(std::move(client).value()));
}

std::optional<double> CurveAt(const std::vector<double>& values, int64_t origin_ms,
                              int64_t step_ms, int64_t t_ms) {
  if (values.empty() || step_ms <= 0) return std::nullopt;
  const double pos = static_cast<double>(t_ms - origin_ms) / static_cast<double>(step_ms);
  if (pos <= 1) return values[0];
  const double last = static_cast<double>(values.size());
  if (pos > last) return std::nullopt;
  const size_t i = static_cast<size_t>(std::floor(pos));  // 1 <= i <= size
  const double frac = pos - static_cast<double>(i);
  if (i >= values.size()) return values.back();
  // values[i - 1] is step i, values[i] is step i + 1.
  return values[i - 1] + frac * (values[i] - values[i - 1]);
}

Result<std::shared_ptr<const forecast::Engine>> EngineForJob(const ForecastJobConfig& job) {
  auto methods = forecast::MethodsByName(job.models);
  if (!methods.ok()) return methods.status();
  forecast::EngineOptions o;
  o.levels = job.confidence;
  o.transform = job.value_transform;
  o.detect_periods = job.seasonality_auto;
  return std::shared_ptr<const forecast::Engine>(
      std::make_shared<forecast::Engine>(std::move(methods).value(), o));
}

PublishedJob ToPublishedJob(const JobSnapshot& snap, int64_t now_ms) {
  const ForecastJobConfig& job = *snap.config;
  const int64_t step = job.step.count();
  int64_t longest = 0;
  for (auto h : job.horizons) longest = std::max<int64_t>(longest, h.count());
  std::vector<std::string> horizon_labels, confidence_labels;
  for (auto h : job.horizons) horizon_labels.push_back(HorizonLabel(h));
  for (double c : job.confidence) confidence_labels.push_back(ConfidenceLabel(c));

  PublishedJob out;
  out.job = snap.job;
  out.series.reserve(snap.series.size());
  for (const auto& sfp : snap.series) {
    const SeriesForecast& sf = *sfp;
    PublishedSeries ps;
    ps.labels = sf.labels;
    const bool reaches =
        CurveAt(sf.curve.mean, sf.origin_ms, step, now_ms + longest).has_value();
    if (reaches) {
      for (size_t hi = 0; hi < job.horizons.size(); ++hi) {
        const int64_t t = now_ms + job.horizons[hi].count();
        PublishedHorizon ph;
        ph.horizon = horizon_labels[hi];
        ph.forecast = *CurveAt(sf.curve.mean, sf.origin_ms, step, t);
        for (size_t b = 0; b < sf.curve.bands.size() && b < confidence_labels.size(); ++b) {
          PublishedBand pb;
          pb.confidence = confidence_labels[b];
          pb.lower = CurveAt(sf.curve.bands[b].lower, sf.origin_ms, step, t).value_or(kNaN);
          pb.upper = CurveAt(sf.curve.bands[b].upper, sf.origin_ms, step, t).value_or(kNaN);
          ph.bands.push_back(std::move(pb));
        }
        ps.horizons.push_back(std::move(ph));
      }
    }
    // The band up to now + the longest horizon, counted in steps from the origin.
    const int64_t ahead = std::max<int64_t>(now_ms - sf.origin_ms, 0) + longest;
    const size_t steps = static_cast<size_t>(CeilDiv(ahead, step));
    const double offset_s = static_cast<double>(now_ms - sf.origin_ms) / 1000.0;
    for (const ThresholdConfig& th : job.thresholds) {
      PublishedThreshold pt;
      pt.name = th.name;
      pt.value = th.value;
      pt.above = th.direction == ThresholdDirection::kAbove;
      if (reaches) {
        for (size_t b = 0; b < sf.curve.bands.size() && b < confidence_labels.size(); ++b) {
          const std::vector<double>& full = pt.above ? sf.curve.bands[b].upper
                                                     : sf.curve.bands[b].lower;
          std::vector<double> band(full.begin(),
                                   full.begin() + static_cast<long>(std::min(steps, full.size())));
          PublishedEta eta;
          eta.confidence = confidence_labels[b];
          eta.seconds = ThresholdEtaSeconds(band, step, th.value, pt.above, offset_s);
          // Within the longest horizon only: the band's last step may end just past it.
          if (eta.seconds && *eta.seconds > static_cast<double>(longest) / 1000.0) {
            eta.seconds.reset();
          }
          pt.etas.push_back(std::move(eta));
        }
      }
      ps.thresholds.push_back(std::move(pt));
    }
    ps.anomaly = sf.anomaly;
    if (std::isfinite(sf.observed)) ps.observed = sf.observed;
    ps.model = sf.model;
    if (std::isfinite(sf.backtest_mase)) ps.backtest_mase = sf.backtest_mase;
    if (std::isfinite(sf.backtest_coverage)) ps.backtest_coverage_ratio = sf.backtest_coverage;
    out.series.push_back(std::move(ps));
  }
  return out;
}

struct JobRunner::Entry {
  std::unique_ptr<forecast::ForecastState> state;
  std::shared_ptr<const SeriesForecast> published;
};

JobRunner::JobRunner(std::shared_ptr<const ForecastJobConfig> config,
                     std::shared_ptr<const forecast::Engine> engine,
                     std::unique_ptr<SeriesReader> reader, FitPool* pool, Clock* clock,
                     JobObserver observer, std::shared_ptr<const JobSnapshot> previous)
    : config_(std::move(config)),
      engine_(std::move(engine)),
      reader_(std::move(reader)),
      pool_(pool),
      clock_(clock),
      observer_(std::move(observer)),
      previous_(std::move(previous)) {
  PublishSnapshot();
}

JobRunner::~JobRunner() = default;

Result<std::unique_ptr<JobRunner>> JobRunner::Create(ForecastJobConfig job,
                                                     std::unique_ptr<SeriesReader> reader,
                                                     FitPool* pool, Clock* clock,
                                                     JobObserver observer,
                                                     std::shared_ptr<const JobSnapshot> previous) {
  if (job.step.count() <= 0) return InvalidArgument("job " + job.name + ": step must be positive");
  auto engine = EngineForJob(job);
  if (!engine.ok()) return engine.status();
  auto config = std::make_shared<const ForecastJobConfig>(std::move(job));
  return std::unique_ptr<JobRunner>(new JobRunner(std::move(config), std::move(engine).value(),
                                                  std::move(reader), pool, clock,
                                                  std::move(observer), std::move(previous)));
}

int JobRunner::CurveSteps() const {
  const int64_t step = config_->step.count();
  int64_t longest = 0;
  for (auto h : config_->horizons) longest = std::max<int64_t>(longest, h.count());
  return static_cast<int>(CeilDiv(longest, step) +
                          CeilDiv(config_->vanish_after.count() + config_->refresh.count(), step) +
                          1);
}

Result<std::vector<remote_read::Series>> JobRunner::Pull(int64_t start_ms, int64_t end_ms) {
  remote_read::Query q;
  q.start_ms = start_ms;
  q.end_ms = end_ms;
  q.matchers = config_->matchers;
  remote_read::ReadHints hints;
  hints.start_ms = start_ms;
  hints.end_ms = end_ms;
  hints.step_ms = config_->step.count();
  q.hints = hints;
  std::vector<remote_read::Series> out;
  remote_read::ReadStats stats;
  Status st = reader_->Read(q, &out, &stats);
  if (observer_.on_read) observer_.on_read(stats, st);
  if (!st.ok()) return st;
  return out;
}

Status JobRunner::Refresh(const std::atomic<bool>* cancel) {
  const auto t0 = clock_->MonotonicNow();
  const int64_t now = ToUnixMillis(clock_->Now());
  status_.last_attempt_ms = now;
  const ForecastJobConfig& job = *config_;
  const int64_t step = job.step.count();
  const int64_t end = FloorTo(now, step);
  // lookback / step + 1 steps: the newest is held back from the fit to judge it (the anomaly),
  // so the fit itself sees a whole lookback, and a season of half the lookback gets its two
  // full cycles.
  const int64_t start = end - job.lookback.count();

  auto fail = [&](const Status& st) {
    status_.error = st.message();
    status_.consecutive_failures++;
    status_.state = status_.last_success_ms ? JobState::kStale : JobState::kFailed;
    status_.last_refresh_duration = clock_->MonotonicNow() - t0;
    PublishSnapshot();
    return st;
  };

  // One extra step before the first window: the counter transforms' anchor sample.
  auto pulled = Pull(start - 2 * step, now);
  if (!pulled.ok()) return fail(pulled.status());
  PrepareStats stats;
  auto prepared = PrepareSeries(*pulled, job, start, end, now - job.vanish_after.count(), &stats);
  if (!prepared.ok()) return fail(prepared.status());
  pulled->clear();

  const int curve_steps = CurveSteps();
  const size_t band = WidestBand(job.confidence);
  const int horizon_steps = static_cast<int>(CeilDiv(
      std::max_element(job.horizons.begin(), job.horizons.end())->count(), step));
  const int extra_rows = curve_steps + 2 * static_cast<int>(CeilDiv(job.refresh.count(), step)) + 2;

  std::vector<std::unique_ptr<Entry>> fresh(prepared->size());
  std::vector<std::string> errors(prepared->size());
  std::vector<std::function<void()>> tasks;
  tasks.reserve(prepared->size());
  for (size_t i = 0; i < prepared->size(); ++i) {
    tasks.push_back([&, i] {
      if (cancel != nullptr && cancel->load()) return;
      const auto f0 = clock_->MonotonicNow();
      PreparedSeries& ps = (*prepared)[i];
      std::vector<double>& y = ps.grid.values;
      size_t n = y.size();
      while (n > 0 && std::isnan(y[n - 1])) --n;  // the origin is the last observed step
      if (n == 0) {
        errors[i] = "no observation";
        return;
      }
      forecast::FitContext ctx;
      if (!job.seasonality_auto) ctx.periods = job.seasonal_periods;
      if (job.calendar) {
        ctx.regressors =
            job.calendar->Regressors(ps.grid.start_ms, step, static_cast<int>(n) + extra_rows);
      }
      // Fit without the last observation, judge it against the one-step forecast, then absorb
      // it: the anomaly verdict on the newest sample costs one Update, not a second fit.
      const bool judge = n >= 3;
      std::span<const double> train(y.data(), judge ? n - 1 : n);
      auto state = engine_->Fit(train, horizon_steps, ctx);
      if (observer_.on_fit) observer_.on_fit(clock_->MonotonicNow() - f0, state.ok());
      if (!state.ok()) {
        errors[i] = LabelsText(ps.labels) + ": " + state.status().message();
        return;
      }
      auto sf = std::make_shared<SeriesForecast>();
      if (judge) {
        sf->anomaly = Judge(**state, y[n - 1], band);
        (*state)->Update(y[n - 1]);
      }
      for (size_t k = n; k-- > 0;) {
        if (!std::isnan(y[k])) {
          sf->observed = y[k];
          break;
        }
      }
      sf->labels = std::move(ps.labels);
      sf->origin_ms = ps.grid.start_ms + static_cast<int64_t>(n - 1) * step;
      sf->last_sample_ms = ps.last_sample_ms;
      sf->curve = (*state)->Predict(curve_steps);
      const forecast::ForecastResult& info = (*state)->info();
      sf->model = info.model;
      sf->description = info.description;
      sf->backtest_mase = info.backtest_mase;
      sf->backtest_coverage = info.backtest_coverage;
      sf->updates = 0;
      auto e = std::make_unique<Entry>();
      e->state = std::move(state).value();
      e->published = std::move(sf);
      fresh[i] = std::move(e);
      std::vector<double>().swap(y);  // free the history early: 1000s of series add up
    });
  }
  pool_->RunBatch(std::move(tasks));
  if (cancel != nullptr && cancel->load()) return fail(Aborted("refresh cancelled"));

  size_t failed = 0;
  std::string example;
  std::vector<std::unique_ptr<Entry>> kept;
  kept.reserve(fresh.size());
  for (size_t i = 0; i < fresh.size(); ++i) {
    if (fresh[i]) {
      kept.push_back(std::move(fresh[i]));
    } else {
      ++failed;
      if (example.empty()) example = errors[i];
    }
  }
  entries_ = std::move(kept);
  previous_.reset();
  status_.state = JobState::kOk;
  status_.error.clear();
  status_.consecutive_failures = 0;
  status_.last_success_ms = ToUnixMillis(clock_->Now());
  status_.series = entries_.size();
  status_.dropped_max_series = stats.dropped_over_max;
  status_.vanished = stats.vanished;
  status_.fit_failed = failed;
  status_.fit_error_example = example;
  status_.last_refresh_duration = clock_->MonotonicNow() - t0;
  PublishSnapshot();
  return Status::Ok();
}

Status JobRunner::Update() {
  if (entries_.empty()) return Status::Ok();
  const int64_t now = ToUnixMillis(clock_->Now());
  const ForecastJobConfig& job = *config_;
  const int64_t step = job.step.count();
  const int64_t end = FloorTo(now, step);
  int64_t min_origin = std::numeric_limits<int64_t>::max();
  for (const auto& e : entries_) min_origin = std::min(min_origin, e->published->origin_ms);
  if (end <= min_origin) return Status::Ok();
  const int64_t start = min_origin + step;

  auto pulled = Pull(start - 2 * step, now);
  if (!pulled.ok()) {
    status_.error = pulled.status().message();
    PublishSnapshot();
    return pulled.status();
  }
  PrepareStats stats;
  auto prepared = PrepareSeries(*pulled, job, start, end,
                                std::numeric_limits<int64_t>::min(), &stats);
  if (!prepared.ok()) {
    status_.error = prepared.status().message();
    PublishSnapshot();
    return prepared.status();
  }
  std::map<std::vector<std::pair<std::string, std::string>>, const PreparedSeries*> by_labels;
  auto key_of = [](const std::vector<Label>& labels) {
    std::vector<std::pair<std::string, std::string>> k;
    k.reserve(labels.size());
    for (const Label& l : labels) k.emplace_back(l.name, l.value);
    return k;
  };
  for (const PreparedSeries& ps : *prepared) by_labels.emplace(key_of(ps.labels), &ps);

  const int curve_steps = CurveSteps();
  const size_t band = WidestBand(job.confidence);
  std::vector<std::function<void()>> tasks;
  for (auto& ep : entries_) {
    auto it = by_labels.find(key_of(ep->published->labels));
    if (it == by_labels.end()) continue;
    Entry* e = ep.get();
    const PreparedSeries* ps = it->second;
    tasks.push_back([e, ps, step, curve_steps, band] {
      const SeriesForecast& old = *e->published;
      const std::vector<double>& v = ps->grid.values;
      // Grid index of the first step after the origin, and of the last observed one.
      const int64_t first = (old.origin_ms + step - ps->grid.start_ms) / step;
      int64_t last = static_cast<int64_t>(v.size()) - 1;
      while (last >= first && std::isnan(v[static_cast<size_t>(last)])) --last;
      if (first < 0 || last < first) return;  // nothing new observed yet
      auto sf = std::make_shared<SeriesForecast>(old);
      for (int64_t i = first; i <= last; ++i) {
        const double y = v[static_cast<size_t>(i)];
        if (!std::isnan(y)) {
          sf->anomaly = Judge(*e->state, y, band);
          sf->observed = y;
        }
        e->state->Update(y);
        ++sf->updates;
      }
      sf->origin_ms = ps->grid.start_ms + last * step;
      sf->last_sample_ms = std::max(old.last_sample_ms, ps->last_sample_ms);
      sf->curve = e->state->Predict(curve_steps);
      e->published = std::move(sf);
    });
  }
  pool_->RunBatch(std::move(tasks));

  // Vanishing between refits: judged on this successful read.
  const int64_t vanish_before = now - job.vanish_after.count();
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const std::unique_ptr<Entry>& e) {
                                  return e->published->last_sample_ms < vanish_before;
                                }),
                 entries_.end());
  status_.series = entries_.size();
  status_.last_update_ms = ToUnixMillis(clock_->Now());
  if (status_.state == JobState::kOk) status_.error.clear();
  PublishSnapshot();
  return Status::Ok();
}

void JobRunner::PublishSnapshot() {
  auto snap = std::make_shared<JobSnapshot>();
  snap->job = config_->name;
  snap->config = config_;
  snap->status = status_;
  if (previous_ && !status_.last_success_ms) {
    snap->series = previous_->series;
    snap->status.series = snap->series.size();
  } else {
    snap->series.reserve(entries_.size());
    for (const auto& e : entries_) snap->series.push_back(e->published);
  }
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = std::move(snap);
}

std::shared_ptr<const JobSnapshot> JobRunner::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

}  // namespace foresight::exporter
