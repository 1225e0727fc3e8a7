#include "foresight/exporter/publish.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>

namespace foresight::exporter {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::Optional;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Serialize(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

PublishedHorizon Horizon(std::chrono::milliseconds h, double point, double spread) {
  return PublishedHorizon{HorizonLabel(h),
                          point,
                          {{ConfidenceLabel(0.8), point - spread, point + spread},
                           {ConfidenceLabel(0.95), point - 2 * spread, point + 2 * spread}}};
}

// Two jobs, three series, two horizons, two confidences, two thresholds on the first job (one
// ETA absent), a source label that collides with ours, and labels in no particular order.
std::shared_ptr<const PublishedSet> GoldenSet() {
  PublishedJob api{"api_rps", {}};
  {
    PublishedSeries s;
    s.labels = {
        {"service", "api"}, {"__name__", "service:http_requests:rate5m"}, {"instance", "b:8080"}};
    s.horizons = {Horizon(minutes(15), 1000, 50), Horizon(hours(1), 1100, 100)};
    s.thresholds = {
        {"capacity", 1200, true, {{"0.8", 3000}, {"0.95", 1500.5}}},
        {"floor", 100, false, {{"0.8", std::nullopt}, {"0.95", std::nullopt}}},
    };
    s.anomaly = PublishedAnomaly{false, 0.25};
    s.observed = 987.5;
    s.model = "ets(A,Ad,A) period=1d";
    s.backtest_mase = 0.82;
    s.backtest_coverage_ratio = 0.9375;
    api.series.push_back(std::move(s));
  }
  {
    PublishedSeries s;
    // The source series has its own `horizon` label: it is published as exported_horizon.
    s.labels = {{"service", "api"}, {"instance", "a:8080"}, {"horizon", "weekly"}};
    s.horizons = {Horizon(minutes(15), 200, 10), Horizon(hours(1), 210, 20)};
    s.thresholds = {
        {"capacity", 1200, true, {{"0.8", std::nullopt}, {"0.95", std::nullopt}}},
        {"floor", 100, false, {{"0.8", std::nullopt}, {"0.95", 2700}}},
    };
    s.anomaly = PublishedAnomaly{true, 4.5};
    s.observed = 0;
    s.model = "seasonal_naive period=1d";
    s.backtest_mase = 1.25;
    s.backtest_coverage_ratio = 0.75;
    api.series.push_back(std::move(s));
  }
  PublishedJob disk{"disk_free", {}};
  {
    PublishedSeries s;
    s.labels = {{"device", "/dev/sda1"}, {"instance", "db-1:9100"}};
    s.horizons = {Horizon(hours(6), 5.5e9, 1e8), Horizon(hours(24), 4.25e9, 3e8)};
    s.thresholds = {{"full", 1e9, false, {{"0.8", std::nullopt}, {"0.95", 86400}}}};
    // No latest observation and a history too short to backtest: those families are absent.
    s.model = "linear";
    disk.series.push_back(std::move(s));
  }
  // Jobs out of order on purpose: the set sorts them.
  return PublishedSet::Build({std::move(disk), std::move(api)});
}

std::string GoldenPath() {
  return std::string(FORESIGHT_EXPORTER_TESTDATA) + "/golden_metrics.txt";
}

// Runs promtool check metrics on `text` through stdin; returns its exit status and output.
int PromtoolCheckMetrics(const std::string& text, std::string* output) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::filesystem::path in =
      dir / ("foresight_publish_test_" + std::to_string(::getpid()) + ".prom");
  {
    std::ofstream f(in, std::ios::binary);
    f << text;
  }
  const std::string cmd = "/usr/bin/promtool check metrics < '" + in.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return -1;
  }
  char buf[4096];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) {
    output->append(buf, got);
  }
  const int status = ::pclose(p);
  std::filesystem::remove(in);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Gunzip(const std::string& z) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(z.size() * 50 + 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  zs.avail_in = static_cast<uInt>(z.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(out.size() - zs.avail_out);
  inflateEnd(&zs);
  return out;
}

TEST(PublishGolden, MatchesGoldenFileAndPassesPromtool) {
  ForecastCollector collector;
  collector.Publish(GoldenSet());
  const std::string text = Serialize(collector.Collect());

  if (const char* update = std::getenv("FORESIGHT_UPDATE_GOLDEN"); update && *update == '1') {
    std::ofstream(GoldenPath(), std::ios::binary) << text;
  }
  std::ifstream f(GoldenPath(), std::ios::binary);
  ASSERT_TRUE(f) << GoldenPath() << " missing; run with FORESIGHT_UPDATE_GOLDEN=1 to write it";
  std::ostringstream golden;
  golden << f.rdbuf();
  EXPECT_EQ(text, golden.str())
      << "/metrics output changed; if intended, rerun with FORESIGHT_UPDATE_GOLDEN=1 and review "
         "the diff of "
      << GoldenPath();

  // The direct text path serves the same bytes, and the cached gzip member inflates to them.
  std::string direct;
  collector.AppendText(&direct);
  EXPECT_EQ(direct, text);
  const std::shared_ptr<const PublishedSet> set = collector.Current();
  EXPECT_EQ(Gunzip(http::GzipJoin({&set->DeflatedText()})), text);
  EXPECT_EQ(&set->DeflatedText(), &set->DeflatedText());  // compressed once, then kept
  EXPECT_EQ(set->DeflatedText().size, text.size());

  if (::access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "/usr/bin/promtool not installed";
  }
  std::string output;
  EXPECT_EQ(PromtoolCheckMetrics(text, &output), 0) << output;
}

TEST(PublishText, AppendTextEqualsTextSerializerOnAwkwardValues) {
  PublishedSeries s;
  s.labels = {{"path", "C:\\dir \"quoted\""}, {"unicode", "h\xc3\xa9llo"}};
  const double values[] = {0.1 + 0.2,
                           1e-7,
                           1.0 / 3,
                           123456789012345678.0,
                           1e16,
                           -0.0,
                           2.5e-300,
                           4.35,
                           -1e300,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           0,
                           7};
  for (double v : values) {
    s.horizons.push_back(
        {HorizonLabel(minutes(static_cast<int>(s.horizons.size()) + 1)), v, {{"0.5", v, v}}});
  }
  s.thresholds = {{"quote\"d", -3, false, {{"0.9", 12.5}}}};
  s.anomaly = PublishedAnomaly{true, 1e-300};
  s.model = "m \\ \"x\"";
  s.backtest_mase = 0.7;
  s.backtest_coverage_ratio = 1;
  auto set = PublishedSet::Build({{"job \"1\"", {std::move(s)}}});
  std::string direct = "# prefix kept\n";
  set->AppendText(&direct);
  EXPECT_EQ(direct, "# prefix kept\n" + Serialize(set->ToMetricFamilies()));
  EXPECT_NE(direct.find(R"(path="C:\\dir \"quoted\"")"), std::string::npos) << direct;

  std::string empty;
  ForecastCollector().AppendText(&empty);
  EXPECT_EQ(empty, "");
}

TEST(PublishGolden, PromtoolRejectsBrokenExposition) {
  // Proves the promtool check above can fail.
  if (::access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "/usr/bin/promtool not installed";
  }
  std::string output;
  EXPECT_NE(PromtoolCheckMetrics("foresight_forecast{horizon=\"1h\" 1\n", &output), 0);
}

TEST(PublishText, NewlineInLabelValueIsEscapedAndParses) {
  PublishedSeries s;
  s.labels = {{"msg", "two\nlines"}};
  s.horizons = {{"1h", 1, {}}};
  std::string text;
  PublishedSet::Build({{"j", {std::move(s)}}})->AppendText(&text);
  EXPECT_NE(text.find(R"(msg="two\nlines")"), std::string::npos) << text;
  if (::access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "/usr/bin/promtool not installed";
  }
  std::string output;
  EXPECT_EQ(PromtoolCheckMetrics(text, &output), 0) << output;
}

const prometheus::MetricFamily* FindFamily(const std::vector<prometheus::MetricFamily>& fams,
                                           const std::string& name) {
  for (const auto& f : fams) {
    if (f.name == name) {
      return &f;
    }
  }
  return nullptr;
}

TEST(PublishSet, NormalizesAndRenamesCollidingLabels) {
  PublishedSeries s;
  s.labels = {{"zone", "eu"},
              {"__name__", "x"},
              {"empty", ""},
              {"bad-name", "v"},
              {"horizon", "h"},
              {"exported_horizon", "taken"},
              {"foresight_job", "theirs"},
              {"model", "m"}};
  s.horizons = {{"1h", 1, {}}};
  auto set = PublishedSet::Build({{"j", {std::move(s)}}});
  const auto& labels = set->jobs()[0].series[0].labels;
  EXPECT_THAT(labels, ElementsAre(Label{"exported_exported_horizon", "h"},
                                  Label{"exported_foresight_job", "theirs"},
                                  Label{"exported_horizon", "taken"}, Label{"exported_model", "m"},
                                  Label{"zone", "eu"}));
  const auto fams = set->ToMetricFamilies();
  ASSERT_EQ(fams.size(), 1u);
  EXPECT_EQ(fams[0].name, "foresight_forecast");
  ASSERT_EQ(fams[0].metric.size(), 1u);
  EXPECT_THAT(
      fams[0].metric[0].label,
      ElementsAre(Label{"exported_exported_horizon", "h"},
                  Label{"exported_foresight_job", "theirs"}, Label{"exported_horizon", "taken"},
                  Label{"exported_model", "m"}, Label{"zone", "eu"}, Label{"foresight_job", "j"},
                  Label{"horizon", "1h"}));
}

TEST(PublishSet, SortsMergesJobsAndDropsDuplicateSeries) {
  auto series = [](std::string instance, double v) {
    PublishedSeries s;
    s.labels = {{"instance", std::move(instance)}};
    s.horizons = {{"1h", v, {}}};
    return s;
  };
  auto set = PublishedSet::Build(
      {{"b", {series("y", 1), series("x", 2)}}, {"a", {series("z", 3)}}, {"b", {series("x", 4)}}});
  ASSERT_EQ(set->jobs().size(), 2u);
  EXPECT_EQ(set->jobs()[0].job, "a");
  EXPECT_EQ(set->jobs()[1].job, "b");
  ASSERT_EQ(set->jobs()[1].series.size(), 2u);
  EXPECT_EQ(set->jobs()[1].series[0].labels[0].value, "x");
  EXPECT_EQ(set->jobs()[1].series[0].horizons[0].forecast, 2);  // the first one wins
  EXPECT_EQ(set->duplicates_dropped(), 1u);
  EXPECT_EQ(set->sample_count(), 3u);
}

TEST(PublishSet, LeavesOutNaNAndAbsentValuesAndEmptyFamilies) {
  PublishedSeries s;
  s.labels = {{"instance", "a"}};
  s.horizons = {{"15m", kNaN, {{"0.8", 1, kNaN}}}, {"1h", 2, {}}};
  s.thresholds = {{"t", 5, true, {{"0.8", std::nullopt}, {"0.95", kNaN}}}};
  s.anomaly = PublishedAnomaly{true, kNaN};
  s.observed = kNaN;
  s.backtest_mase = kNaN;
  auto set = PublishedSet::Build({{"j", {std::move(s)}}});
  const auto fams = set->ToMetricFamilies();
  std::vector<std::string> names;
  std::size_t samples = 0;
  for (const auto& f : fams) {
    names.push_back(f.name);
    samples += f.metric.size();
  }
  EXPECT_THAT(names, ElementsAre("foresight_forecast", "foresight_forecast_lower",
                                 "foresight_threshold", "foresight_anomaly"));
  EXPECT_EQ(samples, set->sample_count());
  ASSERT_NE(FindFamily(fams, "foresight_forecast"), nullptr);
  EXPECT_EQ(FindFamily(fams, "foresight_forecast")->metric.size(), 1u);
  EXPECT_EQ(FindFamily(fams, "foresight_anomaly")->metric[0].gauge.value, 1.0);
}

// Rules compare a band with its thresholds by group_right on the shared labels, which needs one
// threshold sample per published horizon, carrying the direction that picks the band.
TEST(PublishSet, ThresholdRepeatsPerHorizonWithItsDirection) {
  PublishedSeries s;
  s.labels = {{"service", "api"}, {"direction", "in"}};
  s.horizons = {{"15m", 1, {}}, {"1h", 2, {}}};
  s.thresholds = {{"cap", 10, true, {}}, {"floor", 1, false, {}}};
  s.observed = 3;
  auto set = PublishedSet::Build({{"j", {std::move(s)}}});
  std::string text;
  set->AppendText(&text);
  for (const char* want : {
           "foresight_observed{exported_direction=\"in\",service=\"api\",foresight_job=\"j\"} 3\n",
           "foresight_threshold{exported_direction=\"in\",service=\"api\",foresight_job=\"j\","
           "threshold=\"cap\",direction=\"above\",horizon=\"15m\"} 10\n",
           "foresight_threshold{exported_direction=\"in\",service=\"api\",foresight_job=\"j\","
           "threshold=\"cap\",direction=\"above\",horizon=\"1h\"} 10\n",
           "foresight_threshold{exported_direction=\"in\",service=\"api\",foresight_job=\"j\","
           "threshold=\"floor\",direction=\"below\",horizon=\"15m\"} 1\n",
           "foresight_threshold{exported_direction=\"in\",service=\"api\",foresight_job=\"j\","
           "threshold=\"floor\",direction=\"below\",horizon=\"1h\"} 1\n"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\nin\n" << text;
  }
  // 1 observed + 2 forecasts + 4 thresholds, and Collect() agrees with the count.
  EXPECT_EQ(set->sample_count(), 7u);
  std::size_t collected = 0;
  for (const auto& f : set->ToMetricFamilies()) collected += f.metric.size();
  EXPECT_EQ(collected, 7u);

  // No published horizon (the curve ran out): no threshold samples either.
  PublishedSeries bare;
  bare.labels = {{"service", "api"}};
  bare.thresholds = {{"cap", 10, true, {}}};
  EXPECT_EQ(PublishedSet::Build({{"j", {std::move(bare)}}})->sample_count(), 0u);
}

// Series that differ only in a label the alerting rules set (severity, reason) or Prometheus
// sets (alertname) would collide inside a rule and fail it for every series: renamed.
TEST(PublishSet, RenamesLabelsTheAlertingRulesSet) {
  std::vector<PublishedSeries> series;
  for (const char* sev : {"error", "warn"}) {
    PublishedSeries s;
    s.labels = {{"severity", sev}, {"reason", "io"}, {"alertname", "x"}, {"app", "db"}};
    s.observed = 1;
    series.push_back(std::move(s));
  }
  auto set = PublishedSet::Build({{"logs", std::move(series)}});
  ASSERT_EQ(set->jobs()[0].series.size(), 2u);
  EXPECT_THAT(set->jobs()[0].series[0].labels,
              ElementsAre(Label{"app", "db"}, Label{"exported_alertname", "x"},
                          Label{"exported_reason", "io"}, Label{"exported_severity", "error"}));
}

TEST(PublishSet, LabelHelpersFormatLikePrometheus) {
  EXPECT_EQ(HorizonLabel(minutes(15)), "15m");
  EXPECT_EQ(HorizonLabel(hours(1)), "1h");
  EXPECT_EQ(HorizonLabel(minutes(90)), "1h30m");
  EXPECT_EQ(HorizonLabel(hours(24)), "1d");
  EXPECT_EQ(ConfidenceLabel(0.8), "0.8");
  EXPECT_EQ(ConfidenceLabel(0.95), "0.95");
}

TEST(CollectorTest, EmptyBeforeFirstPublishAndAfterNull) {
  ForecastCollector collector;
  EXPECT_TRUE(collector.Collect().empty());
  collector.Publish(GoldenSet());
  EXPECT_FALSE(collector.Collect().empty());
  collector.Publish(nullptr);
  EXPECT_TRUE(collector.Collect().empty());
}

// One set per generation: every sample's value (but the anomaly flag's) is the generation
// number, so a scrape that saw two sets mixed would show two different values.
std::shared_ptr<const PublishedSet> GenerationSet(int generation, int series) {
  PublishedJob job{"gen", {}};
  for (int i = 0; i < series; ++i) {
    PublishedSeries s;
    s.labels = {{"instance", "i" + std::to_string(i)}};
    s.horizons = {{"1h", double(generation), {{"0.8", double(generation), double(generation)}}}};
    s.anomaly = PublishedAnomaly{false, double(generation)};
    job.series.push_back(std::move(s));
  }
  return PublishedSet::Build({std::move(job)});
}

TEST(CollectorTest, PublishSwapsAtomicallyWhileCollecting) {
  constexpr int kGenerations = 200;
  constexpr int kSeries = 20;
  ForecastCollector collector;
  collector.Publish(GenerationSet(0, kSeries));

  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0};
  std::atomic<int> torn{0};
  std::thread scraper([&] {
    int last = 0;
    // Bounded: stops when the publisher is done, and in any case after 100000 scrapes.
    for (int i = 0; i < 100000 && !done.load(); ++i) {
      const auto fams = collector.Collect();
      double first = -1;
      bool consistent = fams.size() == 5;  // forecast, lower, upper, anomaly, score
      for (const auto& f : fams) {
        consistent = consistent && f.metric.size() == kSeries;
        if (f.name == "foresight_anomaly") {  // a 0/1 flag, not the generation
          continue;
        }
        for (const auto& m : f.metric) {
          if (first < 0) {
            first = m.gauge.value;
          }
          consistent = consistent && m.gauge.value == first;
        }
      }
      if (!consistent || first < last) {  // torn, or went back in time
        torn.fetch_add(1);
      }
      last = static_cast<int>(first);
      scrapes.fetch_add(1);
    }
  });
  for (int g = 1; g <= kGenerations; ++g) {
    collector.Publish(GenerationSet(g, kSeries));
    // Let the scraper see some generations; no sleeping, yields only.
    std::this_thread::yield();
  }
  // Poll with a deadline: make sure at least one scrape ran after the last publish.
  const int seen = scrapes.load();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (scrapes.load() < seen + 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  done.store(true);
  scraper.join();
  EXPECT_GT(scrapes.load(), 0);
  EXPECT_EQ(torn.load(), 0);
  const auto fams = collector.Collect();
  ASSERT_FALSE(fams.empty());
  EXPECT_EQ(fams[0].metric[0].gauge.value, kGenerations);
}

// ThresholdEtaSeconds: the band is at 60 s, 120 s, ... after the forecast origin.

TEST(ThresholdEta, CrossingExactlyAtAStep) {
  EXPECT_THAT(ThresholdEtaSeconds({1, 2, 3, 4, 5}, 60000, 3, true, 0), Optional(180.0));
}

TEST(ThresholdEta, CrossingBetweenStepsIsInterpolated) {
  EXPECT_THAT(ThresholdEtaSeconds({1, 2, 3, 4, 5}, 60000, 3.5, true, 0),
              Optional(DoubleNear(210, 1e-9)));
  EXPECT_THAT(ThresholdEtaSeconds({1, 2, 3, 4, 5}, 60000, 3.25, true, 0),
              Optional(DoubleNear(195, 1e-9)));
}

TEST(ThresholdEta, NeverCrossingIsAbsent) {
  EXPECT_EQ(ThresholdEtaSeconds({1, 2, 3, 4, 5}, 60000, 5.01, true, 0), std::nullopt);
  EXPECT_EQ(ThresholdEtaSeconds({5, 4, 3}, 60000, 2.5, false, 0), std::nullopt);
}

TEST(ThresholdEta, AlreadyAcrossAtTheFirstStepIsZero) {
  EXPECT_THAT(ThresholdEtaSeconds({5, 6, 7}, 60000, 4, true, 0), Optional(0.0));
  EXPECT_THAT(ThresholdEtaSeconds({5, 6, 7}, 60000, 5, true, 30),
              Optional(0.0));  // reaching counts
}

TEST(ThresholdEta, BelowDirectionWatchesTheLowerBandFalling) {
  EXPECT_THAT(ThresholdEtaSeconds({10, 8, 6, 4}, 60000, 5, false, 0),
              Optional(DoubleNear(210, 1e-9)));
  EXPECT_THAT(ThresholdEtaSeconds({10, 8, 6, 4}, 60000, 12, false, 0), Optional(0.0));
  EXPECT_EQ(ThresholdEtaSeconds({10, 8, 6, 4}, 60000, 3, false, 0), std::nullopt);
}

TEST(ThresholdEta, CountsFromNowAsTheForecastAges) {
  const std::vector<double> band = {1, 2, 3, 4, 5};
  EXPECT_THAT(ThresholdEtaSeconds(band, 60000, 3.5, true, 30), Optional(DoubleNear(180, 1e-9)));
  // Now inside the segment that crosses, before the crossing.
  EXPECT_THAT(ThresholdEtaSeconds(band, 60000, 3.5, true, 200), Optional(DoubleNear(10, 1e-9)));
  // Now past the crossing: already across.
  EXPECT_THAT(ThresholdEtaSeconds(band, 60000, 3.5, true, 215), Optional(0.0));
  // Now exactly at the band's end, and past it.
  EXPECT_THAT(ThresholdEtaSeconds(band, 60000, 5, true, 300), Optional(0.0));
  EXPECT_EQ(ThresholdEtaSeconds(band, 60000, 3.5, true, 300.5), std::nullopt);
  // Clock skew: a negative offset counts as 0.
  EXPECT_THAT(ThresholdEtaSeconds(band, 60000, 3.5, true, -50), Optional(DoubleNear(210, 1e-9)));
}

TEST(ThresholdEta, AFirstCrossingInThePastDoesNotCountOnceBackBelow) {
  // Up across 4 at 105 s, back below at 135 s: from 160 s on nothing crosses any more.
  EXPECT_THAT(ThresholdEtaSeconds({1, 5, 1}, 60000, 4, true, 0), Optional(DoubleNear(105, 1e-9)));
  EXPECT_EQ(ThresholdEtaSeconds({1, 5, 1}, 60000, 4, true, 160), std::nullopt);
}

TEST(ThresholdEta, DegenerateInputs) {
  EXPECT_EQ(ThresholdEtaSeconds({}, 60000, 1, true, 0), std::nullopt);
  EXPECT_EQ(ThresholdEtaSeconds({1, 2}, 0, 1.5, true, 0), std::nullopt);
  EXPECT_EQ(ThresholdEtaSeconds({1, 2}, -60000, 1.5, true, 0), std::nullopt);
  EXPECT_EQ(ThresholdEtaSeconds({1, 2}, 60000, kNaN, true, 0), std::nullopt);
  // A NaN point never counts; the crossing after it is placed at the next step.
  EXPECT_THAT(ThresholdEtaSeconds({1, kNaN, 5}, 60000, 4, true, 0), Optional(180.0));
  EXPECT_EQ(ThresholdEtaSeconds({kNaN, kNaN}, 60000, 4, true, 0), std::nullopt);
  // An infinite band crosses at its step.
  EXPECT_THAT(ThresholdEtaSeconds({1, std::numeric_limits<double>::infinity()}, 60000, 4, true, 0),
              Optional(120.0));
}

}  // namespace
}  // namespace foresight::exporter
