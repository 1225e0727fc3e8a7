#include "foresight/exporter/job.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "fake_series_reader.h"
#include "foresight/common/clock.h"
#include "foresight/exporter/fit_pool.h"
#include "foresight/exporter/series.h"
#include "foresight/forecast/engine.h"

namespace foresight::exporter {
namespace {

using fakes::FakeSeriesReader;
using fakes::FakeSeriesStore;
using std::chrono::milliseconds;
using std::chrono::minutes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::StartsWith;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kStep = 60'000;
// A step boundary (a multiple of kStep) near FakeClock's default start; the clock runs 20 s past
// it, so the last complete step is kT0.
constexpr int64_t kT0 = 28'333'334LL * kStep;
constexpr int64_t kNow = kT0 + 20'000;
// Steps of history stored before kT0: more than the lookback, so the window is full.
constexpr int kHistory = 180;

remote_read::Labels SeriesLabels(const std::string& instance) {
  return {{"__name__", "m"}, {"instance", instance}};
}

// A seasonal series with deterministic wiggles, so the models have something to choose between.
double Value(int64_t t_ms, double offset) {
  const int64_t k = t_ms / kStep;
  const uint64_t hash = static_cast<uint64_t>(k) * 2654435761u % 4294967296u;
  return offset + 100 + 0.01 * static_cast<double>(k % 1000) +
         10 * std::sin(2 * std::numbers::pi * static_cast<double>(k % 30) / 30.0) +
         4.0 * static_cast<double>(hash) / 4294967296.0;
}

// One sample at every grid time in [from_ms, to_ms].
void Fill(FakeSeriesStore* store, const std::string& instance, int64_t from_ms, int64_t to_ms,
          double offset) {
  for (int64_t t = from_ms; t <= to_ms; t += kStep) {
    store->Add(SeriesLabels(instance), t, Value(t, offset));
  }
}

ForecastJobConfig TestJob() {
  ForecastJobConfig job;
  job.name = "api";
  job.source = "main";
  job.selector = "m";
  job.matchers = {{remote_read::MatchType::kEqual, "__name__", "m"}};
  job.step = milliseconds(kStep);
  job.lookback = std::chrono::hours(2);
  job.horizons = {minutes(5), minutes(15)};
  job.confidence = {0.8, 0.95};
  job.seasonality_auto = false;
  job.seasonality = {minutes(30)};
  job.seasonal_periods = {30};
  job.models = {"ets", "theta", "naive"};
  job.refresh = minutes(5);
  job.vanish_after = minutes(10);
  return job;
}

// Longest horizon (15 steps) + ceil((vanish_after + refresh) / step) (15) + 1.
constexpr int kCurveSteps = 31;
constexpr int kHorizonSteps = 15;

class JobRunnerTest : public ::testing::Test {
 protected:
  JobRunnerTest()
      : store_(std::make_shared<FakeSeriesStore>()),
        clock_(std::chrono::system_clock::time_point(milliseconds(kNow))),
        pool_(2) {}

  std::unique_ptr<JobRunner> MakeRunner(ForecastJobConfig job = TestJob(),
                                        std::shared_ptr<const JobSnapshot> previous = nullptr,
                                        JobObserver observer = {}) {
    auto r = JobRunner::Create(std::move(job), std::make_unique<FakeSeriesReader>(store_), &pool_,
                               &clock_, std::move(observer), std::move(previous));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // Two healthy series, a and b.
  void FillHealthy() {
    Fill(store_.get(), "a", kT0 - kHistory * kStep, kT0, 0);
    Fill(store_.get(), "b", kT0 - kHistory * kStep, kT0, 50);
  }

  // What Refresh computes for one series, done by hand: the same read, PrepareSeries, and
  // Fit(y without its last observation), Update(last).
  struct Offline {
    PreparedSeries series;
    std::unique_ptr<forecast::ForecastState> state;
    forecast::Anomaly anomaly;
  };
  Offline OfflineFit(const ForecastJobConfig& job, size_t index) {
    const int64_t end = kT0;
    const int64_t start = end - job.lookback.count();
    remote_read::Query q;
    q.start_ms = start - 2 * kStep;
    q.end_ms = kNow;
    q.matchers = job.matchers;
    std::vector<remote_read::Series> pulled = store_->Peek(q);
    PrepareStats stats;
    auto prepared = PrepareSeries(pulled, job, start, end, kNow - job.vanish_after.count(), &stats);
    EXPECT_TRUE(prepared.ok());
    Offline out;
    out.series = (*prepared)[index];
    const std::vector<double>& y = out.series.grid.values;
    EXPECT_FALSE(std::isnan(y.back()));
    auto engine = EngineForJob(job);
    EXPECT_TRUE(engine.ok());
    forecast::FitContext ctx;
    ctx.periods = job.seasonal_periods;
    auto state =
        (*engine)->Fit(std::span<const double>(y.data(), y.size() - 1), kHorizonSteps, ctx);
    EXPECT_TRUE(state.ok()) << state.status().message();
    out.anomaly = forecast::AssessAnomaly(y.back(), (*state)->Predict(1), 1, 1);
    (*state)->Update(y.back());
    out.state = std::move(state).value();
    return out;
  }

  std::shared_ptr<FakeSeriesStore> store_;
  FakeClock clock_;
  FitPool pool_;
};

void ExpectSameCurve(const forecast::ModelForecast& got, const forecast::ModelForecast& want) {
  EXPECT_EQ(got.mean, want.mean);
  ASSERT_EQ(got.bands.size(), want.bands.size());
  for (size_t b = 0; b < got.bands.size(); ++b) {
    EXPECT_EQ(got.bands[b].level, want.bands[b].level);
    EXPECT_EQ(got.bands[b].lower, want.bands[b].lower) << "band " << b;
    EXPECT_EQ(got.bands[b].upper, want.bands[b].upper) << "band " << b;
  }
}

std::vector<std::string> LabelTexts(const JobSnapshot& snap) {
  std::vector<std::string> out;
  for (const auto& s : snap.series) out.push_back(LabelsText(s->labels));
  return out;
}

TEST_F(JobRunnerTest, PendingBeforeTheFirstRefresh) {
  auto runner = MakeRunner();
  auto snap = runner->Snapshot();
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->job, "api");
  EXPECT_EQ(snap->status.state, JobState::kPending);
  EXPECT_TRUE(snap->series.empty());
  EXPECT_FALSE(snap->status.last_attempt_ms.has_value());
  EXPECT_STREQ(JobStateName(JobState::kPending), "pending");
  EXPECT_STREQ(JobStateName(JobState::kOk), "ok");
  EXPECT_STREQ(JobStateName(JobState::kStale), "stale");
  EXPECT_STREQ(JobStateName(JobState::kFailed), "failed");
}

TEST_F(JobRunnerTest, RefreshPublishesOneForecastPerSeries) {
  FillHealthy();
  int reads = 0;
  std::atomic<int> fits{0};  // on_fit runs on the pool's workers
  JobObserver observer;
  observer.on_read = [&](const remote_read::ReadStats& stats, const Status& st) {
    ++reads;
    EXPECT_TRUE(st.ok());
    EXPECT_EQ(stats.decode.series, 2u);
  };
  observer.on_fit = [&](std::chrono::nanoseconds, bool ok) {
    ++fits;
    EXPECT_TRUE(ok);
  };
  auto runner = MakeRunner(TestJob(), nullptr, observer);
  ASSERT_TRUE(runner->Refresh().ok());
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(fits.load(), 2);

  auto snap = runner->Snapshot();
  EXPECT_EQ(snap->status.state, JobState::kOk);
  EXPECT_EQ(snap->status.error, "");
  EXPECT_EQ(snap->status.series, 2u);
  EXPECT_THAT(snap->status.last_attempt_ms, Optional(kNow));
  EXPECT_THAT(snap->status.last_success_ms, Optional(kNow));
  EXPECT_EQ(snap->status.consecutive_failures, 0);
  EXPECT_EQ(snap->status.fit_failed, 0u);
  EXPECT_EQ(snap->status.vanished, 0u);
  EXPECT_EQ(snap->status.dropped_max_series, 0u);
  EXPECT_THAT(LabelTexts(*snap), ElementsAre("{instance=\"a\"}", "{instance=\"b\"}"));
  for (const auto& s : snap->series) {
    EXPECT_EQ(s->origin_ms, kT0);
    EXPECT_EQ(s->last_sample_ms, kT0);
    EXPECT_EQ(s->updates, 0);
    ASSERT_EQ(s->curve.mean.size(), static_cast<size_t>(kCurveSteps));
    ASSERT_EQ(s->curve.bands.size(), 2u);
    for (const auto& band : s->curve.bands) {
      EXPECT_EQ(band.lower.size(), static_cast<size_t>(kCurveSteps));
      EXPECT_EQ(band.upper.size(), static_cast<size_t>(kCurveSteps));
    }
    EXPECT_FALSE(s->model.empty());
    EXPECT_FALSE(s->description.empty());
    EXPECT_TRUE(s->anomaly.has_value());
  }
}

TEST_F(JobRunnerTest, RefreshQueriesTheLookbackWindow) {
  FillHealthy();
  auto runner = MakeRunner();
  ASSERT_TRUE(runner->Refresh().ok());
  auto queries = store_->queries();
  ASSERT_EQ(queries.size(), 1u);
  const remote_read::Query& q = queries[0];
  // The grid is [end - lookback, end] with end = the last step boundary (lookback / step + 1
  // steps: the newest is held back from the fit to judge it), two steps before it for the counter
  // transforms' anchor, and the read runs up to now.
  EXPECT_EQ(q.start_ms, kT0 - 2 * 3600 * 1000 - 2 * kStep);
  EXPECT_EQ(q.end_ms, kNow);
  EXPECT_EQ(q.matchers, TestJob().matchers);
  ASSERT_TRUE(q.hints.has_value());
  EXPECT_EQ(q.hints->step_ms, kStep);
}

TEST_F(JobRunnerTest, RefreshEqualsTheOfflineComputation) {
  FillHealthy();
  auto runner = MakeRunner();
  ASSERT_TRUE(runner->Refresh().ok());
  auto snap = runner->Snapshot();
  ASSERT_EQ(snap->series.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    Offline want = OfflineFit(TestJob(), i);
    const SeriesForecast& got = *snap->series[i];
    EXPECT_EQ(LabelsText(got.labels), LabelsText(want.series.labels));
    ExpectSameCurve(got.curve, want.state->Predict(kCurveSteps));
    EXPECT_EQ(got.model, want.state->info().model);
    EXPECT_EQ(got.description, want.state->info().description);
    EXPECT_THAT(got.backtest_mase,
                ::testing::NanSensitiveDoubleEq(want.state->info().backtest_mase));
    EXPECT_THAT(got.backtest_coverage,
                ::testing::NanSensitiveDoubleEq(want.state->info().backtest_coverage));
    ASSERT_TRUE(got.anomaly.has_value());
    EXPECT_EQ(got.anomaly->anomalous, want.anomaly.anomalous);
    EXPECT_EQ(got.anomaly->score, want.anomaly.score);
  }
}

TEST_F(JobRunnerTest, UpdateAbsorbsTheNewSteps) {
  FillHealthy();
  auto runner = MakeRunner();
  ASSERT_TRUE(runner->Refresh().ok());
  Offline want_a = OfflineFit(TestJob(), 0);
  Offline want_b = OfflineFit(TestJob(), 1);

  Fill(store_.get(), "a", kT0 + kStep, kT0 + 2 * kStep, 0);
  Fill(store_.get(), "b", kT0 + kStep, kT0 + 2 * kStep, 50);
  clock_.Advance(milliseconds(2 * kStep));
  const size_t reads_before = store_->reads();
  ASSERT_TRUE(runner->Update().ok());

  auto queries = store_->queries();
  ASSERT_EQ(queries.size(), reads_before + 1);
  // Only the steps after the origin (plus the anchor steps), up to now.
  EXPECT_EQ(queries.back().start_ms, kT0 + kStep - 2 * kStep);
  EXPECT_EQ(queries.back().end_ms, kNow + 2 * kStep);

  auto snap = runner->Snapshot();
  EXPECT_EQ(snap->status.state, JobState::kOk);
  EXPECT_THAT(snap->status.last_update_ms, Optional(kNow + 2 * kStep));
  EXPECT_THAT(snap->status.last_success_ms, Optional(kNow));  // Update is not a refresh
  ASSERT_EQ(snap->series.size(), 2u);
  Offline* wants[] = {&want_a, &want_b};
  const double offsets[] = {0, 50};
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    const SeriesForecast& got = *snap->series[i];
    EXPECT_EQ(got.origin_ms, kT0 + 2 * kStep);
    EXPECT_EQ(got.last_sample_ms, kT0 + 2 * kStep);
    EXPECT_EQ(got.updates, 2);
    forecast::ForecastState& state = *wants[i]->state;
    state.Update(Value(kT0 + kStep, offsets[i]));
    const double last = Value(kT0 + 2 * kStep, offsets[i]);
    forecast::Anomaly anomaly = forecast::AssessAnomaly(last, state.Predict(1), 1, 1);
    state.Update(last);
    ExpectSameCurve(got.curve, state.Predict(kCurveSteps));
    ASSERT_TRUE(got.anomaly.has_value());
    EXPECT_EQ(got.anomaly->anomalous, anomaly.anomalous);
    EXPECT_EQ(got.anomaly->score, anomaly.score);
    // The fit's figures stay those of the refresh.
    EXPECT_EQ(got.model, state.info().model);
  }
}

TEST_F(JobRunnerTest, UpdateWithoutNewDataChangesNothing) {
  FillHealthy();
  auto runner = MakeRunner();
  EXPECT_TRUE(runner->Update().ok());  // before the first refresh: a no-op
  EXPECT_EQ(store_->reads(), 0u);
  ASSERT_TRUE(runner->Refresh().ok());
  auto before = runner->Snapshot();

  // The clock has not passed a step boundary: nothing to ask for.
  ASSERT_TRUE(runner->Update().ok());
  EXPECT_EQ(store_->reads(), 1u);
  EXPECT_EQ(runner->Snapshot(), before);

  // A step later, but the source has nothing new yet.
  clock_.Advance(milliseconds(kStep));
  ASSERT_TRUE(runner->Update().ok());
  EXPECT_EQ(store_->reads(), 2u);
  auto after = runner->Snapshot();
  ASSERT_EQ(after->series.size(), before->series.size());
  for (size_t i = 0; i < after->series.size(); ++i) {
    EXPECT_EQ(after->series[i], before->series[i]);  // the very same forecast
    EXPECT_EQ(after->series[i]->origin_ms, kT0);
    EXPECT_EQ(after->series[i]->updates, 0);
  }
}

TEST_F(JobRunnerTest, UpdateReadFailureKeepsTheForecasts) {
  FillHealthy();
  auto runner = MakeRunner();
  ASSERT_TRUE(runner->Refresh().ok());
  auto before = runner->Snapshot();
  clock_.Advance(milliseconds(2 * kStep));
  store_->SetFailure(Unavailable("connection refused"));
  Status st = runner->Update();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  auto after = runner->Snapshot();
  EXPECT_EQ(after->status.error, "connection refused");
  EXPECT_EQ(after->status.state, JobState::kOk);  // only a refresh changes the state
  EXPECT_EQ(after->series, before->series);
}

TEST_F(JobRunnerTest, ReadFailureKeepsThePreviousForecasts) {
  FillHealthy();
  auto runner = MakeRunner();
  ASSERT_TRUE(runner->Refresh().ok());
  auto good = runner->Snapshot();

  store_->SetFailure(Unavailable("connection refused"));
  clock_.Advance(minutes(5));
  Status st = runner->Refresh();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  auto snap = runner->Snapshot();
  EXPECT_EQ(snap->status.state, JobState::kStale);
  EXPECT_EQ(snap->status.error, "connection refused");
  EXPECT_EQ(snap->status.consecutive_failures, 1);
  EXPECT_THAT(snap->status.last_attempt_ms, Optional(kNow + 5 * kStep));
  EXPECT_THAT(snap->status.last_success_ms, Optional(kNow));
  EXPECT_EQ(snap->series, good->series);
  EXPECT_EQ(snap->status.series, 2u);

  clock_.Advance(minutes(1));
  EXPECT_FALSE(runner->Refresh().ok());
  EXPECT_EQ(runner->Snapshot()->status.consecutive_failures, 2);
  EXPECT_EQ(runner->Snapshot()->series, good->series);

  store_->SetFailure(std::nullopt);
  ASSERT_TRUE(runner->Refresh().ok());
  snap = runner->Snapshot();
  EXPECT_EQ(snap->status.state, JobState::kOk);
  EXPECT_EQ(snap->status.error, "");
  EXPECT_EQ(snap->status.consecutive_failures, 0);
  EXPECT_THAT(snap->status.last_success_ms, Optional(kNow + 6 * kStep));
}

TEST_F(JobRunnerTest, FirstRefreshFailingIsFailed) {
  FillHealthy();
  store_->SetFailure(DeadlineExceeded("timed out"));
  auto runner = MakeRunner();
  EXPECT_EQ(runner->Refresh().code(), StatusCode::kDeadlineExceeded);
  auto snap = runner->Snapshot();
  EXPECT_EQ(snap->status.state, JobState::kFailed);
  EXPECT_EQ(snap->status.error, "timed out");
  EXPECT_EQ(snap->status.consecutive_failures, 1);
  EXPECT_THAT(snap->status.last_attempt_ms, Optional(kNow));
  EXPECT_FALSE(snap->status.last_success_ms.has_value());
  EXPECT_TRUE(snap->series.empty());
}

TEST_F(JobRunnerTest, VanishedSeriesAreNotPublished) {
  FillHealthy();
  // The last sample is 11 minutes old; vanish_after is 10.
  Fill(store_.get(), "old", kT0 - kHistory * kStep, kT0 - 11 * kStep, 0);
  // The last sample is 9 minutes old: still current, forecast from its last observed step.
  Fill(store_.get(), "slow", kT0 - kHistory * kStep, kT0 - 9 * kStep, 0);
  auto runner = MakeRunner();
  ASSERT_TRUE(runner->Refresh().ok());
  auto snap = runner->Snapshot();
  EXPECT_THAT(LabelTexts(*snap),
              ElementsAre("{instance=\"a\"}", "{instance=\"b\"}", "{instance=\"slow\"}"));
  EXPECT_EQ(snap->status.vanished, 1u);
  EXPECT_EQ(snap->status.series, 3u);
  EXPECT_EQ(snap->series[2]->origin_ms, kT0 - 9 * kStep);
  EXPECT_EQ(snap->series[2]->last_sample_ms, kT0 - 9 * kStep);
}

TEST_F(JobRunnerTest, MaxSeriesCapIsCounted) {
  FillHealthy();
  Fill(store_.get(), "c", kT0 - kHistory * kStep, kT0, 20);
  ForecastJobConfig job = TestJob();
  job.max_series = 2;
  auto runner = MakeRunner(job);
  ASSERT_TRUE(runner->Refresh().ok());
  auto snap = runner->Snapshot();
  EXPECT_THAT(LabelTexts(*snap), ElementsAre("{instance=\"a\"}", "{instance=\"b\"}"));
  EXPECT_EQ(snap->status.dropped_max_series, 1u);
}

TEST_F(JobRunnerTest, FitFailuresAreCountedNotFatal) {
  FillHealthy();
  // A single recent observation: nothing to fit on.
  store_->Add(SeriesLabels("lonely"), kT0, 5);
  std::atomic<int> failed_fits{0};
  JobObserver observer;
  observer.on_fit = [&](std::chrono::nanoseconds, bool ok) {
    if (!ok) ++failed_fits;
  };
  auto runner = MakeRunner(TestJob(), nullptr, observer);
  ASSERT_TRUE(runner->Refresh().ok());
  auto snap = runner->Snapshot();
  EXPECT_EQ(snap->status.state, JobState::kOk);
  EXPECT_THAT(LabelTexts(*snap), ElementsAre("{instance=\"a\"}", "{instance=\"b\"}"));
  EXPECT_EQ(snap->status.fit_failed, 1u);
  EXPECT_THAT(snap->status.fit_error_example, StartsWith("{instance=\"lonely\"}: "));
  EXPECT_EQ(failed_fits.load(), 1);
}

TEST_F(JobRunnerTest, PreviousSnapshotServedUntilTheFirstSuccess) {
  FillHealthy();
  auto old_series = std::make_shared<SeriesForecast>();
  old_series->labels = {{"instance", "from_before_the_reload"}};
  old_series->origin_ms = kT0 - kStep;
  auto previous = std::make_shared<JobSnapshot>();
  previous->job = "api";
  previous->config = std::make_shared<const ForecastJobConfig>(TestJob());
  previous->status.state = JobState::kOk;
  previous->status.last_success_ms = kNow - 60'000;
  previous->series = {old_series};

  auto runner = MakeRunner(TestJob(), previous);
  auto snap = runner->Snapshot();
  ASSERT_EQ(snap->series.size(), 1u);
  EXPECT_EQ(snap->series[0], old_series);
  EXPECT_EQ(snap->status.series, 1u);
  EXPECT_EQ(snap->status.state, JobState::kPending);  // the new runner's own state

  store_->SetFailure(Unavailable("down"));
  EXPECT_FALSE(runner->Refresh().ok());
  snap = runner->Snapshot();
  EXPECT_EQ(snap->status.state, JobState::kFailed);
  ASSERT_EQ(snap->series.size(), 1u);
  EXPECT_EQ(snap->series[0], old_series);

  store_->SetFailure(std::nullopt);
  ASSERT_TRUE(runner->Refresh().ok());
  snap = runner->Snapshot();
  EXPECT_THAT(LabelTexts(*snap), ElementsAre("{instance=\"a\"}", "{instance=\"b\"}"));
}

TEST_F(JobRunnerTest, CancelledRefreshKeepsThePreviousForecasts) {
  FillHealthy();
  auto runner = MakeRunner();
  ASSERT_TRUE(runner->Refresh().ok());
  auto good = runner->Snapshot();
  Fill(store_.get(), "c", kT0 - kHistory * kStep, kT0, 20);

  std::atomic<bool> cancel{true};
  Status st = runner->Refresh(&cancel);
  EXPECT_EQ(st.code(), StatusCode::kAborted);
  auto snap = runner->Snapshot();
  EXPECT_EQ(snap->series, good->series);
  EXPECT_EQ(snap->status.state, JobState::kStale);
  EXPECT_THAT(snap->status.last_success_ms, Optional(kNow));

  std::atomic<bool> go_on{false};
  ASSERT_TRUE(runner->Refresh(&go_on).ok());
  EXPECT_EQ(runner->Snapshot()->series.size(), 3u);
}

TEST_F(JobRunnerTest, UnknownModelIsAnError) {
  ForecastJobConfig job = TestJob();
  job.models = {"ets", "crystal_ball"};
  auto engine = EngineForJob(job);
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(engine.status().message(), HasSubstr("crystal_ball"));
  auto runner = JobRunner::Create(job, std::make_unique<FakeSeriesReader>(store_), &pool_, &clock_);
  ASSERT_FALSE(runner.ok());
  EXPECT_THAT(runner.status().message(), HasSubstr("crystal_ball"));
}

TEST_F(JobRunnerTest, EngineForJobTakesTheJobsOptions) {
  ForecastJobConfig job = TestJob();
  job.confidence = {0.5, 0.99};
  job.value_transform = forecast::ValueTransform::kLog;
  auto engine = EngineForJob(job);
  ASSERT_TRUE(engine.ok());
  EXPECT_EQ((*engine)->options().levels, job.confidence);
  EXPECT_EQ((*engine)->options().transform, forecast::ValueTransform::kLog);
  EXPECT_FALSE((*engine)->options().detect_periods);
}

// ---- CurveAt ----

TEST(CurveAtTest, EdgeCases) {
  const std::vector<double> v = {1, 2, 4};
  const int64_t o = 1000, s = 100;
  EXPECT_THAT(CurveAt(v, o, s, o), Optional(1.0));  // before step 1: holds step 1
  EXPECT_THAT(CurveAt(v, o, s, o + 50), Optional(1.0));
  EXPECT_THAT(CurveAt(v, o, s, o + 100), Optional(1.0));    // exactly at step 1
  EXPECT_THAT(CurveAt(v, o, s, o + 150), Optional(1.5));    // between steps 1 and 2
  EXPECT_THAT(CurveAt(v, o, s, o + 200), Optional(2.0));    // exactly at step 2
  EXPECT_THAT(CurveAt(v, o, s, o + 275), Optional(3.5));    // between steps 2 and 3
  EXPECT_THAT(CurveAt(v, o, s, o + 300), Optional(4.0));    // the last step
  EXPECT_EQ(CurveAt(v, o, s, o + 301), std::nullopt);       // past the end
  EXPECT_EQ(CurveAt({}, o, s, o + 100), std::nullopt);      // empty
  EXPECT_EQ(CurveAt(v, o, 0, o + 100), std::nullopt);       // no step
  EXPECT_THAT(CurveAt({7}, o, s, o + 100), Optional(7.0));  // one step
  EXPECT_EQ(CurveAt({7}, o, s, o + 101), std::nullopt);
}

// ---- ToPublishedJob ----

constexpr int64_t kOrigin = kT0;
constexpr int kSteps = 10;

// Steps 1..10 after kOrigin; mean = base + slope * x at origin + x steps, bands at +-1 (0.8) and
// +-2 (0.95): every interpolated value below is exact in binary floating point.
std::shared_ptr<SeriesForecast> LinearSeries(const std::string& name, double base, double slope) {
  auto s = std::make_shared<SeriesForecast>();
  s->labels = {{"instance", name}};
  s->origin_ms = kOrigin;
  s->last_sample_ms = kOrigin;
  s->curve.bands = {forecast::Band{0.8, {}, {}}, forecast::Band{0.95, {}, {}}};
  for (int x = 1; x <= kSteps; ++x) {
    const double m = base + slope * x;
    s->curve.mean.push_back(m);
    s->curve.bands[0].lower.push_back(m - 1);
    s->curve.bands[0].upper.push_back(m + 1);
    s->curve.bands[1].lower.push_back(m - 2);
    s->curve.bands[1].upper.push_back(m + 2);
  }
  s->model = "ets";
  s->description = "ETS(A,N,N)";
  s->backtest_mase = 0.75;
  s->backtest_coverage = 0.9;
  s->anomaly = PublishedAnomaly{true, 4.5};
  return s;
}

JobSnapshot LinearSnapshot() {
  ForecastJobConfig job;
  job.name = "lin";
  job.step = milliseconds(kStep);
  job.horizons = {minutes(2), minutes(5)};
  job.confidence = {0.8, 0.95};
  job.thresholds = {
      {"up17", 17, ThresholdDirection::kAbove},
      {"up18", 18, ThresholdDirection::kAbove},
      {"never", 100, ThresholdDirection::kAbove},
      {"floor", 44, ThresholdDirection::kBelow},
  };
  JobSnapshot snap;
  snap.job = "lin";
  snap.config = std::make_shared<const ForecastJobConfig>(job);
  snap.series = {LinearSeries("rising", 10, 1), LinearSeries("falling", 50, -1)};
  return snap;
}

std::optional<double> Eta(const PublishedSeries& s, const std::string& threshold,
                          const std::string& confidence) {
  for (const auto& t : s.thresholds) {
    if (t.name != threshold) continue;
    for (const auto& e : t.etas) {
      if (e.confidence == confidence) return e.seconds;
    }
    ADD_FAILURE() << "no ETA at " << confidence << " for " << threshold;
    return std::nullopt;
  }
  ADD_FAILURE() << "no threshold " << threshold;
  return std::nullopt;
}

TEST(ToPublishedJobTest, HorizonsInterpolateTheCurve) {
  JobSnapshot snap = LinearSnapshot();
  // Now is 1.5 steps after the origin: now + 2m is step 3.5, now + 5m step 6.5.
  PublishedJob pub = ToPublishedJob(snap, kOrigin + 90'000);
  EXPECT_EQ(pub.job, "lin");
  ASSERT_EQ(pub.series.size(), 2u);
  const PublishedSeries& rising = pub.series[0];
  EXPECT_THAT(rising.labels, ElementsAre(Label{"instance", "rising"}));
  ASSERT_EQ(rising.horizons.size(), 2u);
  EXPECT_EQ(rising.horizons[0].horizon, "2m");
  EXPECT_EQ(rising.horizons[0].forecast, 13.5);
  ASSERT_EQ(rising.horizons[0].bands.size(), 2u);
  EXPECT_EQ(rising.horizons[0].bands[0].confidence, "0.8");
  EXPECT_EQ(rising.horizons[0].bands[0].lower, 12.5);
  EXPECT_EQ(rising.horizons[0].bands[0].upper, 14.5);
  EXPECT_EQ(rising.horizons[0].bands[1].confidence, "0.95");
  EXPECT_EQ(rising.horizons[0].bands[1].lower, 11.5);
  EXPECT_EQ(rising.horizons[0].bands[1].upper, 15.5);
  EXPECT_EQ(rising.horizons[1].horizon, "5m");
  EXPECT_EQ(rising.horizons[1].forecast, 16.5);
  EXPECT_EQ(rising.horizons[1].bands[0].lower, 15.5);
  EXPECT_EQ(rising.horizons[1].bands[0].upper, 17.5);
  EXPECT_EQ(rising.horizons[1].bands[1].lower, 14.5);
  EXPECT_EQ(rising.horizons[1].bands[1].upper, 18.5);
  EXPECT_EQ(pub.series[1].horizons[1].forecast, 50 - 6.5);

  EXPECT_EQ(rising.model, "ets");
  EXPECT_THAT(rising.backtest_mase, Optional(0.75));
  EXPECT_THAT(rising.backtest_coverage_ratio, Optional(0.9));
  ASSERT_TRUE(rising.anomaly.has_value());
  EXPECT_TRUE(rising.anomaly->anomalous);
  EXPECT_EQ(rising.anomaly->score, 4.5);
}

TEST(ToPublishedJobTest, ThresholdEtas) {
  JobSnapshot snap = LinearSnapshot();
  PublishedJob pub = ToPublishedJob(snap, kOrigin + 90'000);
  const PublishedSeries& rising = pub.series[0];
  const PublishedSeries& falling = pub.series[1];
  ASSERT_EQ(rising.thresholds.size(), 4u);
  EXPECT_EQ(rising.thresholds[0].name, "up17");
  EXPECT_EQ(rising.thresholds[0].value, 17);
  EXPECT_TRUE(rising.thresholds[0].above);
  EXPECT_FALSE(rising.thresholds[3].above);
  ASSERT_EQ(rising.thresholds[0].etas.size(), 2u);
  EXPECT_EQ(rising.thresholds[0].etas[0].confidence, "0.8");
  EXPECT_EQ(rising.thresholds[0].etas[1].confidence, "0.95");

  // The upper band (mean + 1 at 0.8, + 2 at 0.95) reaches 17 at step 6 and step 5: 4.5 and 3.5
  // steps after now.
  EXPECT_THAT(Eta(rising, "up17", "0.8"), Optional(::testing::DoubleNear(270, 1e-9)));
  EXPECT_THAT(Eta(rising, "up17", "0.95"), Optional(::testing::DoubleNear(210, 1e-9)));
  // 18 at 0.8 only at step 7, 330 s from now: past the longest horizon (5m), so absent.
  EXPECT_EQ(Eta(rising, "up18", "0.8"), std::nullopt);
  EXPECT_THAT(Eta(rising, "up18", "0.95"), Optional(::testing::DoubleNear(270, 1e-9)));
  EXPECT_EQ(Eta(rising, "never", "0.8"), std::nullopt);
  EXPECT_EQ(Eta(rising, "never", "0.95"), std::nullopt);
  // Below: the rising series' lower band is under 44 already.
  EXPECT_THAT(Eta(rising, "floor", "0.8"), Optional(0.0));

  // Falling: the lower band (49 - x at 0.8, 48 - x at 0.95) reaches 44 at steps 5 and 4. The
  // upper bands would only at steps 7 and 8 (past the longest horizon): the lower band is used.
  EXPECT_THAT(Eta(falling, "floor", "0.8"), Optional(::testing::DoubleNear(210, 1e-9)));
  EXPECT_THAT(Eta(falling, "floor", "0.95"), Optional(::testing::DoubleNear(150, 1e-9)));
  EXPECT_THAT(Eta(falling, "up17", "0.8"), Optional(0.0));
}

TEST(ToPublishedJobTest, CurveReachingExactlyToTheLongestHorizon) {
  JobSnapshot snap = LinearSnapshot();
  // now + 5m is the curve's last step.
  PublishedJob pub = ToPublishedJob(snap, kOrigin + 5 * kStep);
  ASSERT_EQ(pub.series[0].horizons.size(), 2u);
  EXPECT_EQ(pub.series[0].horizons[0].forecast, 17);
  EXPECT_EQ(pub.series[0].horizons[1].forecast, 20);
  EXPECT_EQ(pub.series[0].thresholds[0].etas.size(), 2u);
}

TEST(ToPublishedJobTest, CurveTooShortPublishesNoHorizonsOrEtas) {
  JobSnapshot snap = LinearSnapshot();
  // now + 5m is 11 steps after the origin; the curve has 10.
  PublishedJob pub = ToPublishedJob(snap, kOrigin + 6 * kStep);
  ASSERT_EQ(pub.series.size(), 2u);
  for (const PublishedSeries& s : pub.series) {
    EXPECT_TRUE(s.horizons.empty());
    ASSERT_EQ(s.thresholds.size(), 4u);  // the threshold values are still published
    for (const auto& t : s.thresholds) EXPECT_TRUE(t.etas.empty()) << t.name;
    EXPECT_EQ(s.model, "ets");
    EXPECT_THAT(s.backtest_mase, Optional(0.75));
    EXPECT_THAT(s.backtest_coverage_ratio, Optional(0.9));
    EXPECT_TRUE(s.anomaly.has_value());
  }
}

TEST(ToPublishedJobTest, NaNBacktestIsNotPublished) {
  JobSnapshot snap = LinearSnapshot();
  auto s = LinearSeries("fresh", 1, 0);
  s->backtest_mase = kNaN;
  s->backtest_coverage = kNaN;
  s->anomaly.reset();
  snap.series = {s};
  PublishedJob pub = ToPublishedJob(snap, kOrigin);
  ASSERT_EQ(pub.series.size(), 1u);
  EXPECT_EQ(pub.series[0].backtest_mase, std::nullopt);
  EXPECT_EQ(pub.series[0].backtest_coverage_ratio, std::nullopt);
  EXPECT_EQ(pub.series[0].anomaly, std::nullopt);
  EXPECT_EQ(pub.series[0].horizons.size(), 2u);
}

TEST(ToPublishedJobTest, EmptySnapshot) {
  JobSnapshot snap = LinearSnapshot();
  snap.series.clear();
  PublishedJob pub = ToPublishedJob(snap, kOrigin);
  EXPECT_EQ(pub.job, "lin");
  EXPECT_TRUE(pub.series.empty());
}

}  // namespace
}  // namespace foresight::exporter
