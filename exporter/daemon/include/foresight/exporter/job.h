#pragma once

// One forecast job's state and its two operations:
// - Refresh(): the full refit. Pulls the lookback by remote read, prepares the series
//   (series.h), fits every series on the FitPool (forecast::Engine::Fit, backtest included) and
//   replaces the job's forecasts.
// - Update(): the cheap step between refits. Pulls only the steps after each forecast's origin,
//   judges each new observation against the forecast issued for it (the anomaly flag and
//   score), absorbs it (ForecastState::Update) and re-predicts, without a backtest.
// Both run on the caller's thread (the job's driver, exporter.h); they must not run
// concurrently with each other. Snapshot() may be called from any thread at any time: it
// returns the immutable view the published series and the JSON API are made from.
//
// Time: a forecast's origin is the grid time of the last observation it has absorbed. Published
// values are for now + horizon, read off the forecast curve at (now - origin) + horizon, linear
// between steps; so the published forecast moves forward with the clock even before new data
// arrives, and jumps to the refreshed curve when it does.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "foresight/common/clock.h"
#include "foresight/common/status.h"
#include "foresight/exporter/config.h"
#include "foresight/exporter/fit_pool.h"
#include "foresight/exporter/publish.h"
#include "foresight/exporter/series.h"
#include "foresight/forecast/engine.h"
#include "foresight/remote_read/client.h"

namespace foresight::exporter {

// Reads series from a source: the remote-read client in production, a scripted fake in unit
// tests. One Read at a time per reader.
class SeriesReader {
 public:
  virtual ~SeriesReader() = default;
  // Appends every series matching `query` to *out. stats (may be null) gets the transfer's
  // figures, also on error.
  virtual Status Read(const remote_read::Query& query, std::vector<remote_read::Series>* out,
                      remote_read::ReadStats* stats) = 0;
};

// The production reader: a remote_read::Client for the source.
Result<std::unique_ptr<SeriesReader>> NewRemoteReadReader(const SourceConfig& source);

// What a job reports about each read and fit, for the self-metrics (metrics.h). All callbacks
// may be empty.
struct JobObserver {
  // After every remote read, successful or not.
  std::function<void(const remote_read::ReadStats& stats, const Status& result)> on_read;
  // After each series' fit, with its duration.
  std::function<void(std::chrono::nanoseconds duration, bool ok)> on_fit;
};

// One forecast series as published.
struct SeriesForecast {
  std::vector<Label> labels;  // sorted, as PreparedSeries::labels
  int64_t origin_ms = 0;      // grid time of the last observation absorbed
  int64_t last_sample_ms = 0;
  // Steps 1..N after the origin (N covers the longest horizon plus vanish_after), with the bands
  // in the order of the job's confidence list.
  forecast::ModelForecast curve;
  std::string model;        // the engine's model name: a method, or "combination"
  std::string description;  // e.g. "ETS(A,Ad,A)"
  double backtest_mase = 0;          // NaN when not backtested
  double backtest_coverage = 0;      // NaN when not backtested
  std::optional<PublishedAnomaly> anomaly;  // the latest observation against its forecast
  // The newest non-NaN step value absorbed (foresight_observed); NaN when none was.
  double observed = std::numeric_limits<double>::quiet_NaN();
  int updates = 0;                   // observations absorbed since the fit
};

enum class JobState {
  kPending,  // no refresh attempted yet
  kOk,       // the last refresh succeeded
  kStale,    // the last refresh failed; forecasts from an earlier one are served
  kFailed,   // no refresh has succeeded yet, the last one failed
};
const char* JobStateName(JobState s);

struct JobStatus {
  JobState state = JobState::kPending;
  std::string error;  // the last refresh's or update's error; "" when it succeeded
  std::optional<int64_t> last_attempt_ms;  // wall time of the last refresh attempt's start
  std::optional<int64_t> last_success_ms;  // wall time of the last successful refresh's end
  std::optional<int64_t> last_update_ms;   // wall time of the last successful Update's end
  int consecutive_failures = 0;            // failed refreshes in a row
  size_t series = 0;                       // series with a forecast
  size_t dropped_max_series = 0;           // at the last refresh
  size_t vanished = 0;                     // at the last refresh
  size_t fit_failed = 0;                   // at the last refresh
  std::string fit_error_example;           // one fit error of the last refresh, for people
  std::chrono::nanoseconds last_refresh_duration{0};
};

// Immutable, shared with readers through std::shared_ptr<const JobSnapshot>.
struct JobSnapshot {
  std::string job;
  std::shared_ptr<const ForecastJobConfig> config;
  JobStatus status;
  // Sorted by labels. Series past vanish_after are already left out at the last good read.
  // Shared with the runner: a snapshot costs a pointer per series, not a copy of its curve.
  std::vector<std::shared_ptr<const SeriesForecast>> series;
};

// The published view of a snapshot at `now_ms`: each series' forecast at now + each horizon
// with its bands, thresholds with their ETAs, anomaly, model and backtest figures. Series whose
// curve does not reach now + the longest horizon any more (a source down for longer than
// vanish_after) publish no horizons and no ETAs, but still their other families.
PublishedJob ToPublishedJob(const JobSnapshot& snapshot, int64_t now_ms);

// The curve's value at time t_ms (>= origin): linear between steps; before step 1 it holds
// step 1 (nothing finer is known); nullopt past the curve's end. `values[i]` is for
// origin + (i + 1) * step.
std::optional<double> CurveAt(const std::vector<double>& values, int64_t origin_ms, int64_t step_ms,
                              int64_t t_ms);

// The forecasting engine a job's config asks for (its models, levels, transform, seasonality
// detection). Errors name an unknown model.
Result<std::shared_ptr<const forecast::Engine>> EngineForJob(const ForecastJobConfig& job);

class JobRunner {
 public:
  // `clock` and `pool` must outlive the runner. `previous`, when given, is served until the first
  // refresh succeeds (a reload keeps the old forecasts visible).
  static Result<std::unique_ptr<JobRunner>> Create(
      ForecastJobConfig job, std::unique_ptr<SeriesReader> reader, FitPool* pool, Clock* clock,
      JobObserver observer = {}, std::shared_ptr<const JobSnapshot> previous = nullptr);
  ~JobRunner();

  // The full refit. On a read error the previous forecasts stay (state kStale) and the error is
  // returned. Series that fail to fit are left out and counted (fit_failed); that alone is not
  // an error. `cancel` (may be null) is polled between fits: when it turns true the refresh stops
  // early and keeps the previous forecasts (Aborted).
  Status Refresh(const std::atomic<bool>* cancel = nullptr);
  // The cheap step. A no-op before the first successful refresh. A read error leaves the
  // forecasts as they were.
  Status Update();

  std::shared_ptr<const JobSnapshot> Snapshot() const;
  const ForecastJobConfig& config() const { return *config_; }

 private:
  struct Entry;  // a series' mutable state: its ForecastState and published view

  JobRunner(std::shared_ptr<const ForecastJobConfig> config,
            std::shared_ptr<const forecast::Engine> engine, std::unique_ptr<SeriesReader> reader,
            FitPool* pool, Clock* clock, JobObserver observer,
            std::shared_ptr<const JobSnapshot> previous);

  Result<std::vector<remote_read::Series>> Pull(int64_t start_ms, int64_t end_ms);
  // Steps ahead each curve covers.
  int CurveSteps() const;
  void PublishSnapshot();

  std::shared_ptr<const ForecastJobConfig> config_;
  std::shared_ptr<const forecast::Engine> engine_;
  std::unique_ptr<SeriesReader> reader_;
  FitPool* pool_;
  Clock* clock_;
  JobObserver observer_;

  std::vector<std::unique_ptr<Entry>> entries_;  // sorted by labels; driver thread only
  JobStatus status_;                             // driver thread only
  std::shared_ptr<const JobSnapshot> previous_;  // served until the first successful refresh

  mutable std::mutex mu_;
  std::shared_ptr<const JobSnapshot> snapshot_;  // guarded by mu_
};

}  // namespace foresight::exporter
