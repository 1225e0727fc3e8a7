#include "foresight/exporter/exporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "exporter_harness.h"
#include "foresight/common/version.h"

namespace foresight::exporter {
namespace {

using fakes::ConfigYaml;
using fakes::ExporterHarness;
using fakes::InFutexWaitBitset;
using fakes::JobYaml;
using fakes::PollUntil;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kApi = JobYaml("api", "m{svc=\"api\"}");
const std::string kWeb = JobYaml("web", "m{svc=\"web\"}");
const std::string kDb = JobYaml("db", "m{svc=\"db\"}");

std::vector<std::string> JobNames(const Exporter& e) {
  std::vector<std::string> out;
  for (const auto& s : e.Snapshots()) out.push_back(s->job);
  return out;
}

class ExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.AddSeries("api", "a", 0);
    h_.AddSeries("web", "w", 500);
    h_.AddSeries("db", "d", 2000);
    h_.WriteConfig(ConfigYaml({kApi, kWeb}));
  }

  // Starts and waits for both first refreshes to be counted.
  void StartAndWait() {
    ASSERT_TRUE(h_.Start());
    ASSERT_TRUE(h_.WaitReady());
    ASSERT_TRUE(h_.WaitForMetric("foresight_refreshes_total{foresight_job=\"api\"} 1\n"));
    ASSERT_TRUE(h_.WaitForMetric("foresight_refreshes_total{foresight_job=\"web\"} 1\n"));
  }

  std::string Metrics() {
    h_.exporter()->PublishNow();
    return h_.exporter()->MetricsText();
  }

  ExporterHarness h_;
};

TEST_F(ExporterTest, StartRefreshesEveryJobAndPublishes) {
  StartAndWait();
  Exporter* e = h_.exporter();
  EXPECT_TRUE(e->Ready());
  EXPECT_EQ(e->clock(), h_.clock());
  EXPECT_EQ(e->config_file(), h_.config_file());
  EXPECT_THAT(JobNames(*e), ElementsAre("api", "web"));
  for (const auto& s : e->Snapshots()) {
    EXPECT_EQ(s->status.state, JobState::kOk) << s->job << ": " << s->status.error;
    EXPECT_EQ(s->series.size(), 1u) << s->job;
  }

  const std::string m = Metrics();
  // Self-metrics.
  EXPECT_THAT(
      m, HasSubstr("foresight_exporter_build_info{version=\"" + std::string(kVersion) + "\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_last_reload_successful 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_reloads_total 0\n"));
  EXPECT_THAT(m, HasSubstr("foresight_source_up{source=\"main\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_remote_read_requests_total{source=\"main\"} "));
  EXPECT_THAT(m, HasSubstr("foresight_remote_read_errors_total{source=\"main\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_series{foresight_job=\"api\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_series{foresight_job=\"web\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_stale{foresight_job=\"api\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("foresight_refresh_failures_total{foresight_job=\"api\"} 0\n"));
  EXPECT_THAT(
      m, HasSubstr(
             "foresight_forecast_series_dropped{foresight_job=\"api\",reason=\"vanished\"} 0\n"));
  EXPECT_THAT(
      m, HasSubstr("foresight_forecast_last_success_timestamp_seconds{foresight_job=\"api\"} "));
  EXPECT_THAT(m, HasSubstr("foresight_fit_duration_seconds_count{foresight_job=\"api\"} 1\n"));
  // The published families, with the source labels (no __name__) and ours.
  EXPECT_THAT(m, HasSubstr("foresight_forecast{instance=\"a\",svc=\"api\",foresight_job=\"api\","
                           "horizon=\"5m\"} "));
  EXPECT_THAT(m, HasSubstr("foresight_forecast{instance=\"w\",svc=\"web\",foresight_job=\"web\","
                           "horizon=\"15m\"} "));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_upper{instance=\"a\",svc=\"api\","
                           "foresight_job=\"api\",horizon=\"15m\",confidence=\"0.95\"} "));
  EXPECT_THAT(m, HasSubstr("foresight_threshold{instance=\"a\",svc=\"api\",foresight_job=\"api\","
                           "threshold=\"capacity\",direction=\"above\",horizon=\"5m\"} 1000\n"));
  EXPECT_THAT(m, HasSubstr("foresight_observed{instance=\"a\",svc=\"api\",foresight_job=\"api\"} "));
  EXPECT_THAT(m, HasSubstr("foresight_model_info{instance=\"a\",svc=\"api\",foresight_job=\"api\","
                           "model=\""));
  // Self-metrics come first, then the forecasts.
  EXPECT_LT(m.find("foresight_exporter_build_info"), m.find("foresight_forecast{"));
  ASSERT_NE(e->collector().Current(), nullptr);
  EXPECT_GT(e->collector().Current()->sample_count(), 0u);
  EXPECT_THAT(m, HasSubstr("foresight_published_samples " +
                           std::to_string(e->collector().Current()->sample_count()) + "\n"));
}

TEST_F(ExporterTest, ASecondRefreshAfterTheInterval) {
  StartAndWait();
  const size_t reads = h_.store()->reads();
  h_.clock()->Advance(minutes(5));
  h_.exporter()->Poke();
  ASSERT_TRUE(h_.WaitForMetric("foresight_refreshes_total{foresight_job=\"api\"} 2\n"));
  ASSERT_TRUE(h_.WaitForMetric("foresight_refreshes_total{foresight_job=\"web\"} 2\n"));
  EXPECT_GE(h_.store()->reads(), reads + 2);
  for (const auto& s : h_.exporter()->Snapshots()) {
    EXPECT_EQ(s->status.state, JobState::kOk);
    EXPECT_EQ(s->status.last_success_ms, fakes::kHarnessNow + 5 * 60'000) << s->job;
  }
}

TEST_F(ExporterTest, FailingSourceIsStaleAndRetriedWithBackoff) {
  StartAndWait();
  h_.store()->SetFailure(Unavailable("connection refused"));
  h_.clock()->Advance(minutes(5));
  h_.exporter()->Poke();
  ASSERT_TRUE(h_.WaitForMetric("foresight_refresh_failures_total{foresight_job=\"api\"} 1\n"));
  ASSERT_TRUE(h_.WaitForMetric("foresight_refresh_failures_total{foresight_job=\"web\"} 1\n"));
  std::string m = Metrics();
  EXPECT_THAT(m, HasSubstr("foresight_source_up{source=\"main\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_stale{foresight_job=\"api\"} 1\n"));
  // The last good forecasts stay published.
  EXPECT_THAT(m, HasSubstr("foresight_forecast_series{foresight_job=\"api\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast{instance=\"a\",svc=\"api\",foresight_job=\"api\","
                           "horizon=\"5m\"} "));
  auto snaps = h_.exporter()->Snapshots();
  EXPECT_EQ(snaps[0]->status.state, JobState::kStale);
  EXPECT_EQ(snaps[0]->status.error, "connection refused");

  // The retry waits for the back-off (1s), not for the refresh interval.
  h_.clock()->Advance(seconds(1));
  h_.exporter()->Poke();
  for (const char* job : {"api", "web"}) {
    ASSERT_TRUE(h_.WaitForMetric("foresight_refresh_failures_total{foresight_job=\"" +
                                 std::string(job) + "\"} 2\n"));
    ASSERT_TRUE(h_.WaitForMetric("foresight_refreshes_total{foresight_job=\"" + std::string(job) +
                                 "\"} 3\n"));
  }
  EXPECT_EQ(h_.exporter()->Snapshots()[0]->status.consecutive_failures, 2);

  // The source comes back; the next retry (back-off now 2s) succeeds.
  h_.store()->SetFailure(std::nullopt);
  h_.clock()->Advance(seconds(2));
  h_.exporter()->Poke();
  ASSERT_TRUE(h_.WaitForMetric("foresight_refreshes_total{foresight_job=\"api\"} 4\n"));
  ASSERT_TRUE(h_.WaitForMetric("foresight_refreshes_total{foresight_job=\"web\"} 4\n"));
  m = Metrics();
  EXPECT_THAT(m, HasSubstr("foresight_refresh_failures_total{foresight_job=\"api\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("foresight_source_up{source=\"main\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_stale{foresight_job=\"api\"} 0\n"));
}

TEST_F(ExporterTest, BrokenReloadKeepsTheOldConfigThenAGoodOneReplacesIt) {
  StartAndWait();
  h_.WriteConfig("forecasts: [\n");
  Status st = h_.exporter()->Reload();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(h_.config_file()));
  EXPECT_TRUE(h_.exporter()->Ready());
  EXPECT_THAT(JobNames(*h_.exporter()), ElementsAre("api", "web"));
  std::string m = Metrics();
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_last_reload_successful 0\n"));
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_reload_failures_total 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_reloads_total 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast{instance=\"w\",svc=\"web\",foresight_job=\"web\","
                           "horizon=\"5m\"} "));

  // Fixed: api stays, web goes, db comes.
  h_.WriteConfig(ConfigYaml({kApi, kDb}));
  st = h_.exporter()->Reload();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_THAT(JobNames(*h_.exporter()), ElementsAre("api", "db"));
  // api serves its old forecasts until its first refresh under the new config.
  EXPECT_EQ(h_.exporter()->Snapshots()[0]->series.size(), 1u);
  ASSERT_TRUE(h_.WaitReady());
  ASSERT_TRUE(h_.WaitForMetric("foresight_forecast_series{foresight_job=\"db\"} 1\n"));
  m = Metrics();
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_last_reload_successful 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_reload_failures_total 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_reloads_total 2\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast{instance=\"d\",svc=\"db\",foresight_job=\"db\","
                           "horizon=\"5m\"} "));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_series{foresight_job=\"api\"} 1\n"));
  // Every trace of web is gone: its self-metrics and its forecasts.
  EXPECT_THAT(m, Not(HasSubstr("foresight_job=\"web\"")));
  // api's self-metrics carry on across the reload (its counter was not reset).
  ASSERT_TRUE(h_.WaitForMetric("foresight_refreshes_total{foresight_job=\"api\"} 2\n"));
}

TEST_F(ExporterTest, ReloadKeepsServingTheOldJobsWhileTheyStop) {
  StartAndWait();
  // Both drivers start their second refresh and hang in the read.
  h_.store()->Block();
  h_.clock()->Advance(minutes(5));
  h_.exporter()->Poke();
  ASSERT_TRUE(PollUntil([&] { return h_.store()->waiting() == 2; }));

  h_.WriteConfig(ConfigYaml({kApi, kDb}));
  std::atomic<pid_t> tid{0};
  Status reloaded = Internal("not run");
  std::thread reloader([&] {
    tid = gettid();
    reloaded = h_.exporter()->Reload();
  });
  // Reload builds the new jobs, then waits for the old drivers to finish their reads.
  ASSERT_TRUE(PollUntil([&] { return tid != 0 && InFutexWaitBitset(tid).value_or(true); }));
  const bool observable = InFutexWaitBitset(tid).has_value();
  if (observable) {
    // Meanwhile the old jobs are served as they were: /metrics, the API, readiness.
    EXPECT_THAT(JobNames(*h_.exporter()), ElementsAre("api", "web"));
    EXPECT_TRUE(h_.exporter()->Ready());
    const std::string m = Metrics();
    EXPECT_THAT(m, HasSubstr("foresight_forecast{instance=\"a\",svc=\"api\",foresight_job=\"api\","
                             "horizon=\"5m\"} "));
    EXPECT_THAT(m, HasSubstr("foresight_forecast_series{foresight_job=\"web\"} 1\n"));
  }
  h_.store()->Release();
  reloader.join();
  ASSERT_TRUE(reloaded.ok()) << reloaded.message();
  EXPECT_THAT(JobNames(*h_.exporter()), ElementsAre("api", "db"));
  ASSERT_TRUE(h_.WaitForMetric("foresight_forecast_series{foresight_job=\"db\"} 1\n"));
  EXPECT_THAT(Metrics(), Not(HasSubstr("foresight_job=\"web\"")));
  if (!observable) GTEST_SKIP() << "/proc/self/task/*/syscall is not readable here";
}

TEST_F(ExporterTest, ReloadBuildFailureLeavesNoTraceOfTheNewJobs) {
  StartAndWait();
  // db would build, then the job on the source without a reader fails the whole reload.
  h_.WriteConfig(
      "sources:\n"
      "  - name: main\n"
      "    remote_read_url: http://127.0.0.1:9/api/v1/read\n"
      "  - name: broken\n"
      "    remote_read_url: http://127.0.0.1:10/api/v1/read\n"
      "forecasts:\n" +
      kApi + kDb +
      "  - name: lost\n"
      "    source: broken\n"
      "    selector: 'm{svc=\"lost\"}'\n");
  Status st = h_.exporter()->Reload();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "job lost, source broken: no reader for http://127.0.0.1:10/api/v1/read");
  EXPECT_THAT(JobNames(*h_.exporter()), ElementsAre("api", "web"));
  const std::string m = Metrics();
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_last_reload_successful 0\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_series{foresight_job=\"web\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_series{foresight_job=\"api\"} 1\n"));
  EXPECT_THAT(m, Not(HasSubstr("foresight_job=\"db\"")));
  EXPECT_THAT(m, Not(HasSubstr("foresight_job=\"lost\"")));
}

TEST_F(ExporterTest, ReaderFactoryErrorFailsStartAndReload) {
  h_.SetFactoryFails(true);
  auto e = Exporter::Start(h_.Options());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(e.status().message(),
            "job api, source main: no reader for http://127.0.0.1:9/api/v1/read");

  h_.SetFactoryFails(false);
  StartAndWait();
  h_.SetFactoryFails(true);
  Status st = h_.exporter()->Reload();
  EXPECT_EQ(st.message(), "job api, source main: no reader for http://127.0.0.1:9/api/v1/read");
  EXPECT_THAT(JobNames(*h_.exporter()), ElementsAre("api", "web"));
  EXPECT_TRUE(h_.exporter()->Ready());
  const std::string m = Metrics();
  EXPECT_THAT(m, HasSubstr("foresight_exporter_config_reload_failures_total 1\n"));
  EXPECT_THAT(m, HasSubstr("foresight_forecast_series{foresight_job=\"api\"} 1\n"));
}

TEST_F(ExporterTest, StartErrors) {
  ExporterOptions o = h_.Options();
  o.config_file.clear();
  EXPECT_FALSE(Exporter::Start(o).ok());
  o = h_.Options();
  o.config_file += ".missing";
  auto e = Exporter::Start(o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  h_.WriteConfig("sources: []\n");
  e = Exporter::Start(h_.Options());
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr(h_.config_file() + ":"));
}

TEST_F(ExporterTest, NotReadyUntilEveryFirstRefreshWasAttempted) {
  h_.store()->Block();
  ASSERT_TRUE(h_.Start());
  ASSERT_TRUE(PollUntil([&] { return h_.store()->waiting() >= 1; }));
  EXPECT_FALSE(h_.exporter()->Ready());
  for (const auto& s : h_.exporter()->Snapshots()) EXPECT_EQ(s->status.state, JobState::kPending);
  h_.store()->Release();
  ASSERT_TRUE(h_.WaitReady());
}

TEST_F(ExporterTest, AFailedFirstRefreshStillMakesReady) {
  h_.store()->SetFailure(Unavailable("down"));
  ASSERT_TRUE(h_.Start());
  ASSERT_TRUE(h_.WaitReady());
  ASSERT_TRUE(h_.WaitForMetric("foresight_forecast_stale{foresight_job=\"api\"} 1\n"));
  EXPECT_EQ(h_.exporter()->Snapshots()[0]->status.state, JobState::kFailed);
}

}  // namespace
}  // namespace foresight::exporter
