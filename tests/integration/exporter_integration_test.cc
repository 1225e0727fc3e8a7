// foresight_exporter end to end: a real Prometheus with backfilled history → the exporter (its
// library, with its real HTTP server) reading it by remote read → the same Prometheus scraping
// the exporter. PromQL on every published family must return the expected label sets, and the
// values must equal an offline forecast of the same data computed here from the samples we
// backfilled. The exporter runs on a frozen fake clock, so what it publishes does not move while
// Prometheus scrapes it; Prometheus itself runs in real time.
//
// The failure suite kills and restarts Prometheus under a running exporter, reloads a bad
// config, and lets series vanish.

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "foresight/common/clock.h"
#include "foresight/common/format.h"
#include "foresight/exporter/config.h"
#include "foresight/exporter/exporter.h"
#include "foresight/exporter/job.h"
#include "foresight/exporter/publish.h"
#include "foresight/exporter/web.h"
#include "foresight/forecast/grid.h"
#include "foresight/forecast/transform.h"
#include "foresight/http/server.h"
#include "prometheus_fixture.h"

namespace foresight {
namespace {

using exporter::Exporter;
using testing::BackfillSeries;
using testing::PrometheusFixture;
using std::chrono::milliseconds;

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kStep = 5 * kMinute;

// A label set as Prometheus returns it, without __name__, as a sorted map.
using LabelMap = std::map<std::string, std::string>;

std::string TempDir() {
  char tmpl[] = "/tmp/foresight-exporter-it.XXXXXX";
  char* d = mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d != nullptr ? d : "/tmp";
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  ASSERT_TRUE(f.good()) << path;
}

// Polls `cond` every 100 ms until it holds or `deadline` passes.
template <typename F>
bool PollUntil(F cond, std::chrono::seconds deadline = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return cond();
}

// A daily wave with noise, sampled every minute, ending at end_ms.
std::vector<double> Wave(std::mt19937_64& rng, int64_t first_ms, int n, double level,
                         double amplitude, double noise) {
  std::normal_distribution<double> e(0, noise);
  std::vector<double> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const double t = static_cast<double>(first_ms + i * kMinute);
    v[static_cast<size_t>(i)] =
        level + amplitude * std::sin(2 * M_PI * t / (24 * 3600 * 1000.0)) + e(rng);
  }
  return v;
}

BackfillSeries Gauge(std::string metric, std::vector<std::pair<std::string, std::string>> labels,
                     int64_t first_ms, std::vector<double> values) {
  BackfillSeries s;
  s.metric = std::move(metric);
  s.labels = std::move(labels);
  for (size_t i = 0; i < values.size(); ++i) s.timestamps_ms.push_back(first_ms + static_cast<int64_t>(i) * kMinute);
  s.values = std::move(values);
  return s;
}

BackfillSeries Counter(std::string metric, std::vector<std::pair<std::string, std::string>> labels,
                       int64_t first_ms, const std::vector<double>& per_second) {
  std::vector<double> c(per_second.size());
  double total = 0;
  for (size_t i = 0; i < per_second.size(); ++i) {
    total += std::round(std::max(per_second[i], 0.0) * 60);
    c[i] = total;
  }
  BackfillSeries s = Gauge(std::move(metric), std::move(labels), first_ms, std::move(c));
  s.type = "counter";
  return s;
}

// The offline forecast for one series, exactly as job.h documents the refresh: the grid, the
// last observed step as origin, a fit without it, then Update with it, then Predict.
struct Offline {
  int64_t origin_ms = 0;
  forecast::ModelForecast curve;
  forecast::ForecastResult info;
  exporter::PublishedAnomaly anomaly;
  double observed = 0;  // the newest observed step value, foresight_observed
};

Offline ForecastOffline(const exporter::ForecastJobConfig& job, std::vector<double> y,
                        int64_t grid_start_ms) {
  Offline out;
  size_t n = y.size();
  while (n > 0 && std::isnan(y[n - 1])) --n;
  EXPECT_GE(n, 3u);
  out.origin_ms = grid_start_ms + static_cast<int64_t>(n - 1) * job.step.count();
  auto engine = exporter::EngineForJob(job);
  EXPECT_TRUE(engine.ok());
  int64_t longest = 0;
  for (auto h : job.horizons) longest = std::max<int64_t>(longest, h.count());
  const int h = static_cast<int>(longest / job.step.count());
  forecast::FitContext ctx;
  if (!job.seasonality_auto) ctx.periods = job.seasonal_periods;
  auto state = (*engine)->Fit(std::span<const double>(y.data(), n - 1), h, ctx);
  EXPECT_TRUE(state.ok()) << state.status().message();
  size_t widest = 0;
  for (size_t i = 1; i < job.confidence.size(); ++i) {
    if (job.confidence[i] > job.confidence[widest]) widest = i;
  }
  forecast::Anomaly a = forecast::AssessAnomaly(y[n - 1], (*state)->Predict(1), 1, widest);
  out.anomaly = {a.anomalous, a.score};
  out.observed = y[n - 1];
  (*state)->Update(y[n - 1]);
  out.curve = (*state)->Predict(h + 12);
  out.info = (*state)->info();
  return out;
}

// Values must agree to float tolerance: the text format and Prometheus carry them exactly, the
// tolerance only absorbs an interpolation computed in a different order.
void ExpectClose(double want, double got, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-9 * std::max(1.0, std::abs(want))) << what;
}

// Prometheus instant query; each result's labels (without __name__) and value.
std::vector<std::pair<LabelMap, double>> Query(const std::string& base_url, const std::string& q) {
  auto r = testing::QueryJson(base_url, q, ToUnixMillis(std::chrono::system_clock::now()));
  EXPECT_TRUE(r.ok()) << q << ": " << r.status().message();
  std::vector<std::pair<LabelMap, double>> out;
  if (!r.ok()) return out;
  for (const auto& item : (*r)["result"]) {
    LabelMap l;
    for (auto it = item["metric"].begin(); it != item["metric"].end(); ++it) {
      if (it.key() != "__name__") l[it.key()] = it.value().get<std::string>();
    }
    double v = NAN;
    if (!ParseDouble(item["value"][1].get<std::string>(), &v)) v = NAN;
    out.emplace_back(std::move(l), v);
  }
  return out;
}

// Serves an exporter that is created after the server (Prometheus needs the server's port in
// its config, the exporter needs Prometheus's URL in its own).
class LateHandler {
 public:
  void Set(Exporter* e) {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = e != nullptr ? exporter::MakeHandler(e, {}) : http::Handler();
  }
  http::Handler handler() {
    return [this](const http::Request& r) {
      http::Handler h;
      {
        std::lock_guard<std::mutex> lock(mu_);
        h = handler_;
      }
      if (!h) return http::Response::Text(503, "exporter not started\n");
      return h(r);
    };
  }

 private:
  std::mutex mu_;
  http::Handler handler_;
};

std::string ScrapeConfig(int port) {
  return "scrape_configs:\n"
         "  - job_name: foresight\n"
         "    honor_labels: true\n"
         "    scrape_interval: 1s\n"
         "    scrape_timeout: 900ms\n"
         "    static_configs: [{targets: ['127.0.0.1:" +
         std::to_string(port) + "']}]\n";
}

// ---------------------------------------------------------------------------------------------

class ExporterIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const int64_t real_now = ToUnixMillis(std::chrono::system_clock::now());
    end_ms_ = (real_now - 3600 * 1000) / kStep * kStep;   // the last sample, on a step boundary
    now_ms_ = end_ms_ + 150 * 1000;                       // the exporter's frozen clock
    const int n = 4 * 24 * 60 + 1;                        // four days of one-minute samples
    const int64_t first = end_ms_ - static_cast<int64_t>(n - 1) * kMinute;
    std::mt19937_64 rng(42);
    data_ = new std::vector<BackfillSeries>();
    data_->push_back(Counter("it_requests_total", {{"service", "api"}, {"instance", "a"}}, first,
                             Wave(rng, first, n, 120, 40, 4)));
    data_->push_back(Counter("it_requests_total", {{"service", "api"}, {"instance", "b"}}, first,
                             Wave(rng, first, n, 80, 30, 4)));
    for (const char* m : {"m1", "m2", "m3"}) {
      data_->push_back(Gauge("it_temperature_celsius",
                             {{"job", "node"}, {"instance", std::string(m) + ":9100"}, {"machine", m}},
                             first, Wave(rng, first, n, 55, 8, 0.5)));
    }
    // Vanished two hours before the end: within the lookback, but not recent.
    data_->push_back(Gauge("it_queue_depth", {{"queue", "gone"}}, first,
                           Wave(rng, first, n - 120, 30, 10, 1)));
    data_->push_back(Gauge("it_queue_depth", {{"queue", "orders"}}, first,
                           Wave(rng, first, n, 30, 10, 1)));

    server_ = http::Server::Start({}, late_.handler()).value().release();
    PrometheusFixture::Options po;
    po.backfill = *data_;
    po.extra_config_yaml = ScrapeConfig(server_->port());
    auto p = PrometheusFixture::Start(std::move(po));
    ASSERT_TRUE(p.ok()) << p.status().message();
    prom_ = std::move(p).value().release();

    // The offline forecasts come first: the thresholds are placed on them so that one ETA is
    // inside the horizon and one is not.
    dir_ = TempDir();
    auto base = exporter::ParseConfig(Config(1e9, -1e9), "it.yml", dir_);
    ASSERT_TRUE(base.ok()) << base.status().message();
    config_ = new exporter::Config(*base);
    ComputeOffline();
    const Offline& api = offline_->at("requests");
    // The 0.95 upper band 40 minutes after now: crossed within the 1h horizon.
    capacity_ = *exporter::CurveAt(api.curve.bands[1].upper, api.origin_ms, kStep,
                                   now_ms_ + 40 * kMinute);
    WriteFile(dir_ + "/it.yml", Config(capacity_, -1e9));

    clock_ = new FakeClock(std::chrono::system_clock::time_point(milliseconds(now_ms_)));
    exporter::ExporterOptions eo;
    eo.config_file = dir_ + "/it.yml";
    eo.clock = clock_;
    eo.fit_threads = 2;
    eo.refresh_jitter = 0;
    eo.seed = 1;
    eo.publish_interval = milliseconds(200);
    auto ex = Exporter::Start(eo);
    ASSERT_TRUE(ex.ok()) << ex.status().message();
    exporter_ = std::move(ex).value().release();
    late_.Set(exporter_);
    ASSERT_TRUE(PollUntil([] { return exporter_->Ready(); })) << "exporter never ready";
    exporter_->PublishNow();
  }

  static void TearDownTestSuite() {
    late_.Set(nullptr);
    delete exporter_;
    exporter_ = nullptr;
    delete prom_;
    prom_ = nullptr;
    delete server_;
    server_ = nullptr;
    delete clock_;
    delete data_;
    delete offline_;
    delete config_;
  }

  void SetUp() override {
    ASSERT_NE(prom_, nullptr);
    ASSERT_NE(exporter_, nullptr);
  }

  static std::string Config(double capacity, double floor) {
    return "sources:\n"
           "  - name: prom\n"
           "    remote_read_url: " + prom_->remote_read_url() + "\n"
           "forecasts:\n"
           "  - name: requests\n"
           "    source: prom\n"
           "    selector: it_requests_total{service=\"api\"}\n"
           "    transform: rate\n"
           "    aggregate: sum by (service)\n"
           "    step: 5m\n"
           "    lookback: 3d\n"
           "    horizons: [15m, 1h]\n"
           "    confidence: [0.8, 0.95]\n"
           "    seasonality: [1d]\n"
           "    models: [ets, snaive, theta]\n"
           "    thresholds:\n"
           "      - {name: capacity, value: " + FormatDouble(capacity) + ", direction: above}\n"
           "      - {name: floor, value: " + FormatDouble(floor) + ", direction: below}\n"
           "    refresh: 1h\n"
           "  - name: temperature\n"
           "    source: prom\n"
           "    selector: it_temperature_celsius\n"
           "    step: 5m\n"
           "    lookback: 2d\n"
           "    horizons: [30m]\n"
           "    confidence: [0.9]\n"
           "    seasonality: []\n"
           "    models: [ets, naive]\n"
           "    max_series: 2\n"
           "    refresh: 1h\n"
           "  - name: queues\n"
           "    source: prom\n"
           "    selector: it_queue_depth\n"
           "    step: 5m\n"
           "    lookback: 1d\n"
           "    horizons: [15m]\n"
           "    seasonality: []\n"
           "    models: [naive]\n"
           "    vanish_after: 30m\n"
           "    refresh: 1h\n";
  }

  // The series each job models, from the backfilled samples: rate per instance, summed per
  // service for `requests`; the gauges' last sample of each step (the default aggregation).
  static void ComputeOffline() {
    offline_ = new std::map<std::string, Offline>();
    for (const auto& job : config_->forecasts) {
      const int64_t end = now_ms_ / kStep * kStep;
      const int64_t start = end - job.lookback.count();
      auto grid_of = [&](const BackfillSeries& s) {
        auto g = job.transform == exporter::SeriesTransform::kRate
                     ? forecast::CounterRate(s.timestamps_ms, s.values, start, end, kStep)
                     : forecast::Regularize(s.timestamps_ms, s.values, start, end, kStep,
                                            job.step_aggregation);
        EXPECT_TRUE(g.ok()) << g.status().message();
        return std::move(g).value();
      };
      if (job.name == "requests") {
        forecast::Grid a = grid_of((*data_)[0]), b = grid_of((*data_)[1]);
        std::vector<double> sum(a.values.size());
        for (size_t i = 0; i < sum.size(); ++i) sum[i] = a.values[i] + b.values[i];
        (*offline_)["requests"] = ForecastOffline(job, sum, a.start_ms);
      } else if (job.name == "temperature") {
        // max_series 2 keeps m1 and m2 (label order); m3 is dropped.
        for (size_t k = 2; k <= 3; ++k) {
          forecast::Grid g = grid_of((*data_)[k]);
          (*offline_)["temperature/" + (*data_)[k].labels[2].second] =
              ForecastOffline(job, g.values, g.start_ms);
        }
      } else {
        forecast::Grid g = grid_of((*data_)[6]);
        (*offline_)["queues/orders"] = ForecastOffline(job, g.values, g.start_ms);
      }
    }
  }

  // PromQL results for `family` with foresight_job=`job`, keyed by their labels. The target
  // labels Prometheus attaches to samples that do not carry their own job and instance (the
  // scrape uses honor_labels: true, as README advises) are left out.
  static std::map<LabelMap, double> Family(const std::string& family, const std::string& job) {
    std::map<LabelMap, double> out;
    const std::string target = "127.0.0.1:" + std::to_string(server_->port());
    for (auto [l, v] : Query(prom_->base_url(), family + "{foresight_job=\"" + job + "\"}")) {
      if (l["job"] == "foresight" && l["instance"] == target) {
        l.erase("job");
        l.erase("instance");
      }
      out[l] = v;
    }
    return out;
  }

  static inline int64_t end_ms_ = 0, now_ms_ = 0;
  static inline double capacity_ = 0;
  static inline std::string dir_;
  static inline std::vector<BackfillSeries>* data_ = nullptr;
  static inline std::map<std::string, Offline>* offline_ = nullptr;
  static inline exporter::Config* config_ = nullptr;
  static inline FakeClock* clock_ = nullptr;
  static inline LateHandler late_;
  static inline http::Server* server_ = nullptr;
  static inline PrometheusFixture* prom_ = nullptr;
  static inline Exporter* exporter_ = nullptr;
};

TEST_F(ExporterIntegrationTest, PrometheusScrapesEveryFamilyWithTheExpectedLabelSets) {
  // Wait until Prometheus has scraped the exporter at least once.
  ASSERT_TRUE(PollUntil([] {
    return Query(prom_->base_url(), "foresight_forecast").size() == 2 + 2 + 1;
  })) << "foresight_forecast never scraped";

  const LabelMap api = {{"foresight_job", "requests"}, {"service", "api"}};
  auto with = [](LabelMap l, std::initializer_list<std::pair<const std::string, std::string>> extra) {
    for (const auto& e : extra) l[e.first] = e.second;
    return l;
  };
  auto keys = [](const std::map<LabelMap, double>& m) {
    std::set<LabelMap> s;
    for (const auto& [k, v] : m) s.insert(k);
    return s;
  };

  EXPECT_EQ(keys(Family("foresight_forecast", "requests")),
            (std::set<LabelMap>{with(api, {{"horizon", "15m"}}), with(api, {{"horizon", "1h"}})}));
  std::set<LabelMap> bands;
  for (const char* h : {"15m", "1h"}) {
    for (const char* c : {"0.8", "0.95"}) bands.insert(with(api, {{"horizon", h}, {"confidence", c}}));
  }
  EXPECT_EQ(keys(Family("foresight_forecast_lower", "requests")), bands);
  EXPECT_EQ(keys(Family("foresight_forecast_upper", "requests")), bands);
  // One threshold sample per published horizon, with the direction that picks the band.
  std::set<LabelMap> thresholds;
  for (const char* h : {"15m", "1h"}) {
    thresholds.insert(with(api, {{"threshold", "capacity"}, {"direction", "above"}, {"horizon", h}}));
    thresholds.insert(with(api, {{"threshold", "floor"}, {"direction", "below"}, {"horizon", h}}));
  }
  EXPECT_EQ(keys(Family("foresight_threshold", "requests")), thresholds);
  EXPECT_EQ(keys(Family("foresight_observed", "requests")), (std::set<LabelMap>{api}));
  // Only the capacity threshold is crossed, and only by the 0.95 band for sure.
  auto etas = Family("foresight_threshold_eta_seconds", "requests");
  ASSERT_TRUE(etas.count(
      with(api, {{"threshold", "capacity"}, {"direction", "above"}, {"confidence", "0.95"}})));
  for (const auto& [l, v] : etas) EXPECT_EQ(l.at("threshold"), "capacity");
  EXPECT_EQ(keys(Family("foresight_anomaly", "requests")), (std::set<LabelMap>{api}));
  EXPECT_EQ(keys(Family("foresight_anomaly_score", "requests")), (std::set<LabelMap>{api}));
  EXPECT_EQ(keys(Family("foresight_backtest_mase", "requests")), (std::set<LabelMap>{api}));
  EXPECT_EQ(keys(Family("foresight_backtest_coverage_ratio", "requests")), (std::set<LabelMap>{api}));
  const std::string model = offline_->at("requests").info.model;
  EXPECT_EQ(keys(Family("foresight_model_info", "requests")),
            (std::set<LabelMap>{with(api, {{"model", model}})}));

  // Source labels survive (honor_labels), including job and instance; max_series keeps two.
  std::set<LabelMap> temps;
  for (const char* m : {"m1", "m2"}) {
    temps.insert({{"foresight_job", "temperature"}, {"job", "node"},
                  {"instance", std::string(m) + ":9100"}, {"machine", m}, {"horizon", "30m"}});
  }
  EXPECT_EQ(keys(Family("foresight_forecast", "temperature")), temps);
  // The vanished queue is not published; the live one is.
  EXPECT_EQ(keys(Family("foresight_forecast", "queues")),
            (std::set<LabelMap>{{{"foresight_job", "queues"}, {"queue", "orders"}, {"horizon", "15m"}}}));
}

TEST_F(ExporterIntegrationTest, ScrapedValuesEqualAnOfflineForecastOfTheSameData) {
  ASSERT_TRUE(PollUntil([] { return !Family("foresight_forecast", "requests").empty(); }));
  const Offline& off = offline_->at("requests");
  const LabelMap api = {{"foresight_job", "requests"}, {"service", "api"}};
  auto forecast = Family("foresight_forecast", "requests");
  auto lower = Family("foresight_forecast_lower", "requests");
  auto upper = Family("foresight_forecast_upper", "requests");
  for (auto [h, ms] : {std::pair<std::string, int64_t>{"15m", 15 * kMinute}, {"1h", 60 * kMinute}}) {
    LabelMap l = api;
    l["horizon"] = h;
    ExpectClose(*exporter::CurveAt(off.curve.mean, off.origin_ms, kStep, now_ms_ + ms), forecast.at(l),
                "forecast " + h);
    for (size_t b = 0; b < 2; ++b) {
      LabelMap lb = l;
      lb["confidence"] = b == 0 ? "0.8" : "0.95";
      ExpectClose(*exporter::CurveAt(off.curve.bands[b].lower, off.origin_ms, kStep, now_ms_ + ms),
                  lower.at(lb), "lower " + h + " " + lb["confidence"]);
      ExpectClose(*exporter::CurveAt(off.curve.bands[b].upper, off.origin_ms, kStep, now_ms_ + ms),
                  upper.at(lb), "upper " + h + " " + lb["confidence"]);
    }
  }
  // The threshold and its ETA: the 0.95 upper band was placed to reach it 40 minutes from now.
  LabelMap th = api;
  th["threshold"] = "capacity";
  LabelMap th_1h = th;
  th_1h["direction"] = "above";
  th_1h["horizon"] = "1h";
  ExpectClose(capacity_, Family("foresight_threshold", "requests").at(th_1h), "threshold");
  th["direction"] = "above";
  th["confidence"] = "0.95";
  const double eta = Family("foresight_threshold_eta_seconds", "requests").at(th);
  std::vector<double> band(off.curve.bands[1].upper.begin(), off.curve.bands[1].upper.begin() + 13);
  auto want_eta = exporter::ThresholdEtaSeconds(band, kStep, capacity_, true,
                                                (now_ms_ - off.origin_ms) / 1000.0);
  ASSERT_TRUE(want_eta.has_value());
  ExpectClose(*want_eta, eta, "eta");
  EXPECT_LE(eta, 40 * 60 + 1e-6);

  ExpectClose(off.info.backtest_mase, Family("foresight_backtest_mase", "requests").at(api), "mase");
  ExpectClose(off.info.backtest_coverage,
              Family("foresight_backtest_coverage_ratio", "requests").at(api), "coverage");
  ExpectClose(off.anomaly.score, Family("foresight_anomaly_score", "requests").at(api), "score");
  ExpectClose(off.observed, Family("foresight_observed", "requests").at(api), "observed");
  EXPECT_EQ(off.anomaly.anomalous ? 1.0 : 0.0, Family("foresight_anomaly", "requests").at(api));

  // The gauges' forecasts, per machine.
  auto temps = Family("foresight_forecast", "temperature");
  for (const char* m : {"m1", "m2"}) {
    const Offline& o = offline_->at(std::string("temperature/") + m);
    LabelMap l = {{"foresight_job", "temperature"}, {"job", "node"},
                  {"instance", std::string(m) + ":9100"}, {"machine", m}, {"horizon", "30m"}};
    ExpectClose(*exporter::CurveAt(o.curve.mean, o.origin_ms, kStep, now_ms_ + 30 * kMinute),
                temps.at(l), std::string("temperature ") + m);
  }
}

TEST_F(ExporterIntegrationTest, SelfMetricsDescribeTheRefresh) {
  ASSERT_TRUE(PollUntil([] {
    return !Query(prom_->base_url(), "foresight_source_up{source=\"prom\"} == 1").empty();
  }));
  auto one = [](const std::string& q) {
    auto r = Query(prom_->base_url(), q);
    EXPECT_EQ(r.size(), 1u) << q;
    return r.empty() ? NAN : r[0].second;
  };
  EXPECT_EQ(one("foresight_exporter_build_info"), 1);
  EXPECT_EQ(one("foresight_exporter_config_last_reload_successful"), 1);
  EXPECT_EQ(one("foresight_forecast_series{foresight_job=\"temperature\"}"), 2);
  EXPECT_EQ(one("foresight_forecast_series_dropped{foresight_job=\"temperature\",reason=\"max_series\"}"), 1);
  EXPECT_EQ(one("foresight_forecast_series_dropped{foresight_job=\"queues\",reason=\"vanished\"}"), 1);
  EXPECT_EQ(one("foresight_forecast_stale{foresight_job=\"requests\"}"), 0);
  EXPECT_GE(one("foresight_refresh_duration_seconds_count{foresight_job=\"requests\"}"), 1);
  EXPECT_GE(one("foresight_fit_duration_seconds_count{foresight_job=\"temperature\"}"), 2);
  EXPECT_GT(one("foresight_remote_read_bytes_total{source=\"prom\"}"), 1000);
  EXPECT_GT(one("foresight_remote_read_samples_total{source=\"prom\"}"), 4 * 24 * 60);
  EXPECT_EQ(one("foresight_remote_read_errors_total{source=\"prom\"}"), 0);
  EXPECT_EQ(one("foresight_forecast_last_success_timestamp_seconds{foresight_job=\"requests\"}") * 1000 >=
                static_cast<double>(now_ms_),
            true);
  // The whole live /metrics, self-metrics and forecasts together, passes promtool's lint.
  auto metrics = testing::HttpGet(server_->url() + "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status().message();
  WriteFile(dir_ + "/metrics.txt", *metrics);
  const std::string check = "/usr/bin/promtool check metrics < " + dir_ + "/metrics.txt > " + dir_ +
                            "/promtool.log 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << "promtool check metrics failed; see " << dir_;
  EXPECT_NE(metrics->find("# TYPE foresight_forecast gauge"), std::string::npos);
  EXPECT_NE(metrics->find("# TYPE foresight_refresh_duration_seconds histogram"), std::string::npos);

  // The JSON API tells the same story.
  auto body = testing::HttpGet(server_->url() + "/api/v1/forecasts?job=requests");
  ASSERT_TRUE(body.ok()) << body.status().message();
  auto j = nlohmann::json::parse(*body);
  ASSERT_EQ(j["data"]["jobs"].size(), 1u);
  EXPECT_EQ(j["data"]["jobs"][0]["state"], "ok");
  EXPECT_EQ(j["data"]["jobs"][0]["series"][0]["origin_ms"].get<int64_t>(),
            offline_->at("requests").origin_ms);
}

// ---------------------------------------------------------------------------------------------
// Failures: Prometheus killed and restarted, a bad reload, series that vanish over time.

class ExporterFailureTest : public ::testing::Test {};

TEST_F(ExporterFailureTest, SurvivesPrometheusDownABadReloadAndVanishingSeries) {
  const int64_t real_now = ToUnixMillis(std::chrono::system_clock::now());
  const int64_t end = (real_now - 3600 * 1000) / kStep * kStep;
  const int n = 2 * 24 * 60 + 1;
  const int64_t first = end - static_cast<int64_t>(n - 1) * kMinute;
  std::mt19937_64 rng(7);
  PrometheusFixture::Options po;
  po.backfill.push_back(Gauge("ft_load", {{"host", "h1"}}, first, Wave(rng, first, n, 10, 3, 0.2)));
  po.backfill.push_back(Gauge("ft_load", {{"host", "h2"}}, first, Wave(rng, first, n, 20, 3, 0.2)));
  auto prom = PrometheusFixture::Start(std::move(po));
  ASSERT_TRUE(prom.ok()) << prom.status().message();

  const std::string dir = TempDir();
  const std::string good =
      "sources:\n"
      "  - name: prom\n"
      "    remote_read_url: " + (*prom)->remote_read_url() + "\n"
      "    timeout: 5s\n"
      "forecasts:\n"
      "  - name: load\n"
      "    source: prom\n"
      "    selector: ft_load\n"
      "    step: 5m\n"
      "    lookback: 1d\n"
      "    horizons: [15m]\n"
      "    seasonality: []\n"
      "    models: [naive, ets]\n"
      "    refresh: 10m\n"
      "    vanish_after: 30m\n";
  WriteFile(dir + "/ft.yml", good);
  FakeClock clock(std::chrono::system_clock::time_point(milliseconds(end + 60 * 1000)));
  exporter::ExporterOptions eo;
  eo.config_file = dir + "/ft.yml";
  eo.clock = &clock;
  eo.fit_threads = 2;
  eo.refresh_jitter = 0;
  eo.initial_backoff = milliseconds(1000);
  eo.publish_interval = milliseconds(100);
  auto ex = Exporter::Start(eo);
  ASSERT_TRUE(ex.ok()) << ex.status().message();
  auto server = http::Server::Start({}, exporter::MakeHandler(ex->get(), {}));
  ASSERT_TRUE(server.ok()) << server.status().message();
  const std::string metrics_url = (*server)->url() + "/metrics";
  auto metric_line = [&](const std::string& prefix) -> std::string {
    auto body = testing::HttpGet(metrics_url);
    if (!body.ok()) return "";
    size_t p = body->find("\n" + prefix);
    if (p == std::string::npos) return "";
    size_t e = body->find('\n', p + 1);
    return body->substr(p + 1, e - p - 1);
  };
  auto value_of = [&](const std::string& prefix) {
    std::string line = metric_line(prefix);
    if (line.empty()) return std::nan("");
    double v = NAN;
    return ParseDouble(line.substr(line.rfind(' ') + 1), &v) ? v : std::nan("");
  };
  const std::string h1 = "foresight_forecast{host=\"h1\",foresight_job=\"load\",horizon=\"15m\"}";
  ASSERT_TRUE(PollUntil([&] { return (*ex)->Ready(); }));
  (*ex)->PublishNow();
  ASSERT_TRUE(PollUntil([&] { return !metric_line(h1).empty(); })) << "no forecast published";
  const std::string before = metric_line(h1);
  EXPECT_EQ(value_of("foresight_source_up{source=\"prom\"}"), 1);

  // Prometheus dies. The next refresh fails: the forecasts stay, marked stale; the source is down.
  (*prom)->Kill();
  clock.Advance(std::chrono::minutes(11));
  (*ex)->Poke();
  ASSERT_TRUE(PollUntil([&] { return value_of("foresight_source_up{source=\"prom\"}") == 0; }))
      << "source_up never went to 0";
  ASSERT_TRUE(PollUntil([&] { return value_of("foresight_forecast_stale{foresight_job=\"load\"}") == 1; }));
  EXPECT_GE(value_of("foresight_refresh_failures_total{foresight_job=\"load\"}"), 1);
  EXPECT_GE(value_of("foresight_remote_read_errors_total{source=\"prom\"}"), 1);
  EXPECT_FALSE(metric_line(h1).empty()) << "the last good forecast must stay published";

  // It comes back: the retry after the back-off succeeds and the job recovers.
  ASSERT_TRUE((*prom)->Restart().ok());
  ASSERT_TRUE(PollUntil([&] {
    clock.Advance(std::chrono::seconds(2));  // past any back-off
    (*ex)->Poke();
    return value_of("foresight_forecast_stale{foresight_job=\"load\"}") == 0;
  })) << "never recovered";
  EXPECT_EQ(value_of("foresight_source_up{source=\"prom\"}"), 1);
  EXPECT_FALSE(metric_line(h1).empty());

  // A bad config on reload: refused with its error, the old one keeps serving.
  WriteFile(dir + "/ft.yml", good + "    horizons: [15m]\n");
  auto reload = testing::HttpPost((*server)->url() + "/-/reload", "", "text/plain");
  ASSERT_FALSE(reload.ok());
  EXPECT_NE(reload.status().message().find("500"), std::string::npos) << reload.status().message();
  EXPECT_NE(reload.status().message().find("duplicate key \"horizons\""), std::string::npos)
      << reload.status().message();
  EXPECT_EQ(value_of("foresight_exporter_config_last_reload_successful"), 0);
  EXPECT_EQ(value_of("foresight_exporter_config_reload_failures_total"), 1);
  EXPECT_FALSE(metric_line(h1).empty()) << "the old config must keep serving";
  WriteFile(dir + "/ft.yml", good);
  ASSERT_TRUE(testing::HttpPost((*server)->url() + "/-/reload", "", "text/plain").ok());
  EXPECT_EQ(value_of("foresight_exporter_config_last_reload_successful"), 1);
  EXPECT_FALSE(metric_line(h1).empty()) << "a reload keeps the forecasts visible";

  // The data stops (nothing new is written after `end`): once the clock is past vanish_after,
  // the next refresh finds no recent sample and the series stop being published.
  clock.Advance(std::chrono::minutes(40));
  (*ex)->Poke();
  ASSERT_TRUE(PollUntil([&] {
    (*ex)->Poke();
    return value_of("foresight_forecast_series_dropped{foresight_job=\"load\",reason=\"vanished\"}") == 2;
  })) << "series never vanished";
  (*ex)->PublishNow();
  EXPECT_TRUE(metric_line(h1).empty()) << "a vanished series must not be published";
  EXPECT_EQ(value_of("foresight_forecast_series{foresight_job=\"load\"}"), 0);
  (void)before;
}

}  // namespace
}  // namespace foresight
