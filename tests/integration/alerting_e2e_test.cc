// From forecast to alert, end to end, with the real peers: Prometheus 2.42 (configured from
// config/prometheus.yml, loading rules/), the real foresight_exporter binary, Alertmanager 0.25
// (configured from config/alertmanager.yml, bearer auth included), and a receiver inside the
// test standing in for foresight_webhook.
//
// History is backfilled so that one service's request rate trends up towards its capacity
// threshold: the forecast's upper band crosses it within the longest horizon, so
// ForesightPredictedThresholdBreach must reach the receiver through Alertmanager with the labels
// and annotations a receiver acts on. Raising the threshold by a reload of the exporter stops
// the crossing, and the resolved notification must follow. Along the way every PromQL
// expression of every rule file and dashboard runs against this Prometheus.
//
// The only changes to the committed configs are the ones a test must make: ports, file paths,
// one-second intervals, `for:` durations of two seconds and `keep_firing_for:` of one; and
// Prometheus's self-scrape job is left out (its port is not known before it starts).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "foresight/common/format.h"
#include "foresight/http/server.h"
#include "grafana_queries.h"
#include "prometheus_fixture.h"

namespace foresight {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::BackfillSeries;
using testing::DaemonProcess;
using testing::PrometheusFixture;
using ::testing::HasSubstr;

constexpr int64_t kMinute = 60 * 1000;
constexpr char kToken[] = "e2e-webhook-token-4c1d";
constexpr char kBreach[] = "ForesightPredictedThresholdBreach";
// The api service's request rate: 100 req/s three days ago, rising 10 req/s per hour.
constexpr double kStartRate = 100;
constexpr double kSlopePerHour = 10;
constexpr int kHistoryMinutes = 3 * 24 * 60;
// Time from a firing (or resolving) condition to the receiver, generously bounded: one refresh
// of the exporter, a scrape, two rule evaluations, Alertmanager's group wait.
constexpr seconds kDeliveryDeadline{120};

std::string Src(const std::string& rel) { return std::string(FORESIGHT_SOURCE_DIR) + "/" + rel; }

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <typename F>
bool PollUntil(F cond, seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return cond();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  ASSERT_TRUE(f.good()) << path;
}

std::string Emit(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return std::string(out.c_str()) + "\n";
}

// --- The receiver: what foresight_webhook will be, reduced to recording what arrives. ---

struct Notification {
  std::string authorization;
  nlohmann::json body;
};

class Receiver {
 public:
  http::Handler handler() {
    return [this](const http::Request& r) {
      if (r.method == "GET" && r.path == "/metrics") {
        // Prometheus scrapes it as foresight_webhook, with config/prometheus.yml's token.
        if (r.Header("authorization") != std::string("Bearer ") + kToken) {
          return http::Response::Text(401, "unauthorized\n");
        }
        return http::Response::Text(200, "");
      }
      if (r.method != "POST" || r.path != "/api/v1/notifications") {
        return http::Response::Text(404, "not found\n");
      }
      nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
      if (body.is_discarded()) return http::Response::Text(400, "not JSON\n");
      std::lock_guard<std::mutex> lock(mu_);
      got_.push_back({r.Header("authorization"), std::move(body)});
      return http::Response::Text(200, "ok\n");
    };
  }

  std::vector<Notification> Received() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::vector<Notification> got_;
};

// The alerts of every notification so far, each with its notification.
std::vector<std::pair<Notification, nlohmann::json>> Alerts(Receiver& r) {
  std::vector<std::pair<Notification, nlohmann::json>> out;
  for (const Notification& n : r.Received()) {
    for (const auto& a : n.body.value("alerts", nlohmann::json::array())) out.emplace_back(n, a);
  }
  return out;
}

std::string Label(const nlohmann::json& alert, const std::string& name) {
  return alert["labels"].value(name, "");
}

// --- Data ---

BackfillSeries Series(std::string metric, std::vector<std::pair<std::string, std::string>> labels,
                      std::string type, int64_t first_ms, std::vector<double> values) {
  BackfillSeries s;
  s.metric = std::move(metric);
  s.labels = std::move(labels);
  s.type = std::move(type);
  for (size_t i = 0; i < values.size(); ++i) {
    s.timestamps_ms.push_back(first_ms + static_cast<int64_t>(i) * kMinute);
  }
  s.values = std::move(values);
  return s;
}

// A counter whose per-minute increase is per_minute(i) (rounded, so it stays exact).
template <typename F>
std::vector<double> CounterValues(int n, F per_minute) {
  std::vector<double> v(static_cast<size_t>(n));
  double total = 0;
  for (int i = 0; i < n; ++i) {
    total += std::round(per_minute(i));
    v[static_cast<size_t>(i)] = total;
  }
  return v;
}

// --- Configs derived from the committed ones ---

// rules/foresight-*.rules.yml with every `for:` shortened.
std::string ShortenedRules(const std::string& path) {
  YAML::Node doc = YAML::LoadFile(path);
  for (auto group : doc["groups"]) {
    for (auto rule : group["rules"]) {
      if (rule["for"]) rule["for"] = "2s";
      if (rule["keep_firing_for"]) rule["keep_firing_for"] = "1s";
    }
  }
  return Emit(doc);
}

std::string PrometheusConfig(int alertmanager_port, int exporter_port, int receiver_port,
                             const std::string& token_file) {
  YAML::Node doc = YAML::LoadFile(Src("config/prometheus.yml"));
  doc["global"]["scrape_interval"] = "1s";
  doc["global"]["evaluation_interval"] = "1s";
  YAML::Node rule_files(YAML::NodeType::Sequence);
  for (const auto& f : doc["rule_files"]) {
    rule_files.push_back("rules/" + std::filesystem::path(f.as<std::string>()).filename().string());
  }
  doc["rule_files"] = rule_files;
  doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0] =
      "127.0.0.1:" + std::to_string(alertmanager_port);
  YAML::Node scrapes(YAML::NodeType::Sequence);
  for (auto job : doc["scrape_configs"]) {
    const std::string name = job["job_name"].as<std::string>();
    if (name == "foresight_exporter") {
      job["scrape_interval"] = "1s";
      job["scrape_timeout"] = "900ms";
      job["static_configs"][0]["targets"][0] = "127.0.0.1:" + std::to_string(exporter_port);
    } else if (name == "foresight_webhook") {
      job["scrape_interval"] = "1s";
      job["authorization"]["credentials_file"] = token_file;
      job["static_configs"][0]["targets"][0] = "127.0.0.1:" + std::to_string(receiver_port);
    } else {
      continue;  // Prometheus's self-scrape: its port is not known before it starts
    }
    scrapes.push_back(job);
  }
  doc["scrape_configs"] = scrapes;
  return Emit(doc);
}

std::string AlertmanagerConfig(const std::string& receiver_url, const std::string& token_file) {
  YAML::Node doc = YAML::LoadFile(Src("config/alertmanager.yml"));
  bool found = false;
  for (auto r : doc["receivers"]) {
    if (r["name"].as<std::string>() != "foresight-webhook") continue;
    YAML::Node wh = r["webhook_configs"][0];
    wh["url"] = receiver_url + "/api/v1/notifications";
    wh["http_config"]["authorization"]["credentials_file"] = token_file;
    found = true;
  }
  EXPECT_TRUE(found) << "config/alertmanager.yml has no receiver foresight-webhook";
  for (auto route : doc["route"]["routes"]) {
    if (route["group_wait"]) route["group_wait"] = "1s";
    if (route["group_interval"]) route["group_interval"] = "1s";
  }
  return Emit(doc);
}

std::string ExporterConfig(const std::string& remote_read_url, double capacity) {
  return "sources:\n"
         "  - name: prom\n"
         "    remote_read_url: " + remote_read_url + "\n"
         "forecasts:\n"
         "  - name: api_rps\n"
         "    source: prom\n"
         "    selector: 'http_requests_total{job=\"api\"}'\n"
         "    transform: rate\n"
         "    aggregate: sum by (service)\n"
         "    step: 5m\n"
         "    lookback: 2d\n"
         "    horizons: [15m, 1h, 6h]\n"
         "    confidence: [0.8, 0.95]\n"
         "    seasonality: []\n"
         "    thresholds:\n"
         "      - {name: capacity, value: " + FormatDouble(capacity) + ", direction: above}\n"
         "      - {name: floor, value: 10, direction: below}\n"
         "    refresh: 1h\n"
         "    vanish_after: 1h\n";
}

// ---------------------------------------------------------------------------------------------

class AlertingEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("foresight_e2e_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "am-data");
    token_file_ = (dir_ / "webhook-token").string();
    WriteText(token_file_, std::string(kToken) + "\n");

    // 1. The receiver, on a port of its own choosing.
    auto server = http::Server::Start({}, receiver_.handler());
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);

    // 2. Alertmanager, from config/alertmanager.yml.
    auto am_port = testing::PickFreePort();
    ASSERT_TRUE(am_port.ok());
    am_url_ = "http://127.0.0.1:" + std::to_string(*am_port);
    WriteText((dir_ / "alertmanager.yml").string(), AlertmanagerConfig(server_->url(), token_file_));
    auto am = DaemonProcess::Start(
        {.argv = {"/usr/bin/prometheus-alertmanager",
                  "--config.file=" + (dir_ / "alertmanager.yml").string(),
                  "--storage.path=" + (dir_ / "am-data").string(),
                  "--web.listen-address=127.0.0.1:" + std::to_string(*am_port),
                  "--cluster.listen-address=", "--log.level=debug"},
         .log_path = (dir_ / "alertmanager.log").string(),
         .ready_url = am_url_ + "/-/ready"});
    ASSERT_TRUE(am.ok()) << am.status().message();
    alertmanager_ = std::move(*am);

    // 3. Prometheus, from config/prometheus.yml, with three days of history.
    auto exporter_port = testing::PickFreePort();
    ASSERT_TRUE(exporter_port.ok());
    exporter_port_ = *exporter_port;
    const int64_t end = NowMs() / kMinute * kMinute;
    const int n = kHistoryMinutes + 1;
    const int64_t first = end - static_cast<int64_t>(n - 1) * kMinute;
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0, 2);
    PrometheusFixture::Options opt;
    opt.backfill.push_back(Series(
        "http_requests_total", {{"job", "api"}, {"instance", "api-1:8080"}, {"service", "api"}},
        "counter", first, CounterValues(n, [&](int i) {
          return 60 * (kStartRate + kSlopePerHour * i / 60.0 + noise(rng));
        })));
    opt.backfill.push_back(Series(
        "http_requests_total", {{"job", "api"}, {"instance", "web-1:8080"}, {"service", "web"}},
        "counter", first, CounterValues(n, [&](int) { return 60 * (50 + noise(rng)); })));
    // Inputs of the recording rules, with values whose results are exact.
    const int recent = 61;  // the last hour
    const int64_t recent_first = end - (recent - 1) * kMinute;
    for (auto [cpu, idle_per_minute] : {std::pair{"0", 15.0}, std::pair{"1", 45.0}}) {
      opt.backfill.push_back(Series("node_cpu_seconds_total",
                                    {{"job", "node"}, {"instance", "node-1:9100"}, {"cpu", cpu},
                                     {"mode", "idle"}},
                                    "counter", recent_first,
                                    CounterValues(recent, [&](int) { return idle_per_minute; })));
    }
    for (auto [container, bytes] : {std::pair{"api", 2e8}, std::pair{"sidecar", 5e7},
                                    std::pair{"", 2.5e8}, std::pair{"POD", 1e6}}) {
      std::vector<std::pair<std::string, std::string>> labels = {{"namespace", "shop"},
                                                                 {"pod", "api-0"}};
      if (*container != '\0') labels.emplace_back("container", container);
      opt.backfill.push_back(Series("container_memory_working_set_bytes", labels, "gauge",
                                    recent_first, std::vector<double>(recent, bytes)));
    }
    for (auto [le, per_minute] :
         {std::pair{"0.1", 900.0}, std::pair{"0.5", 990.0}, std::pair{"+Inf", 1000.0}}) {
      opt.backfill.push_back(Series("http_request_duration_seconds_bucket",
                                    {{"service", "api"}, {"le", le}}, "counter", recent_first,
                                    CounterValues(recent, [&](int) { return per_minute; })));
    }
    // The rate at the last step the exporter fits, and a capacity 1.5 hours of trend above it:
    // every model with a trend puts the 6h upper band past it, none the 15m band.
    end_rate_ = kStartRate + kSlopePerHour * (n - 1) / 60.0;
    capacity_ = std::round(end_rate_ + 1.5 * kSlopePerHour);

    opt.extra_config_yaml =
        PrometheusConfig(*am_port, exporter_port_, server_->port(), token_file_);
    for (const char* f : {"foresight-recording.rules.yml", "foresight-alerts.rules.yml"}) {
      opt.files[std::string("rules/") + f] = ShortenedRules(Src(std::string("rules/") + f));
    }
    auto prom = PrometheusFixture::Start(std::move(opt));
    ASSERT_TRUE(prom.ok()) << prom.status().message();
    prom_ = std::move(*prom);

    // 4. The exporter binary, as a user runs it.
    exporter_config_ = (dir_ / "foresight.yml").string();
    WriteText(exporter_config_, ExporterConfig(prom_->remote_read_url(), capacity_));
    exporter_url_ = "http://127.0.0.1:" + std::to_string(exporter_port_);
    auto exporter = DaemonProcess::Start(
        {.argv = {FORESIGHT_EXPORTER_BINARY, "--config.file=" + exporter_config_,
                  "--web.listen-address=127.0.0.1:" + std::to_string(exporter_port_),
                  "--log.level=debug"},
         .log_path = (dir_ / "exporter.log").string(),
         .ready_url = exporter_url_ + "/-/ready",
         .ready_timeout = seconds(120)});
    ASSERT_TRUE(exporter.ok()) << exporter.status().message();
    exporter_ = std::move(*exporter);
  }

  void TearDown() override {
    if (exporter_) {
      EXPECT_TRUE(exporter_->Stop().ok()) << "foresight_exporter did not stop cleanly";
    }
    exporter_.reset();
    prom_.reset();
    alertmanager_.reset();
    server_.reset();
    if (HasFailure()) {
      for (const char* log : {"exporter.log", "alertmanager.log"}) {
        std::ifstream f(dir_ / log);
        std::stringstream s;
        s << f.rdbuf();
        const std::string text = s.str();
        std::cerr << "--- " << log << " (tail)\n"
                  << text.substr(text.size() > 6000 ? text.size() - 6000 : 0) << "\n";
      }
    }
    if (std::getenv("FORESIGHT_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(dir_);
  }

  std::vector<nlohmann::json> Query(const std::string& promql) {
    auto r = testing::QueryJson(prom_->base_url(), promql, NowMs());
    EXPECT_TRUE(r.ok()) << promql << ": " << r.status().message();
    std::vector<nlohmann::json> out;
    if (r.ok()) {
      for (const auto& item : (*r)["result"]) out.push_back(item);
    }
    return out;
  }

  std::filesystem::path dir_;
  std::string token_file_, am_url_, exporter_url_, exporter_config_;
  int exporter_port_ = 0;
  double end_rate_ = 0, capacity_ = 0;
  Receiver receiver_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<DaemonProcess> alertmanager_;
  std::unique_ptr<PrometheusFixture> prom_;
  std::unique_ptr<DaemonProcess> exporter_;
};

// Every expression of every rule file and dashboard runs against the live stack; the ones that
// must have data (the stack has a firing breach and all recording-rule inputs) return some.
void CheckEveryExpression(
    const std::function<std::vector<nlohmann::json>(const std::string&)>& query) {
  // Rules: recording rules must produce data; of the alerts, only the breach is true here.
  for (const char* file : {"rules/foresight-recording.rules.yml", "rules/foresight-alerts.rules.yml"}) {
    YAML::Node doc = YAML::LoadFile(Src(file));
    for (const auto& group : doc["groups"]) {
      for (const auto& rule : group["rules"]) {
        const std::string expr = rule["expr"].as<std::string>();
        const std::string name =
            rule["record"] ? rule["record"].as<std::string>() : rule["alert"].as<std::string>();
        const auto result = query(expr);
        if (rule["record"] || name == kBreach) {
          EXPECT_FALSE(result.empty()) << file << " " << name << " returned no data:\n" << expr;
        }
      }
    }
  }
  // Dashboards, with their variables set to this stack's values.
  const std::map<std::string, std::string> vars = {
      {"datasource", "prometheus"}, {"job", "api_rps"},        {"series_label", "service"},
      {"series", "api"},            {"horizon", "1h"},         {"confidence", "0.95"},
      {"__rate_interval", "1m"},    {"__interval", "15s"},     {"__range", "1h"},
      {"__range_s", "3600"},        {"__interval_ms", "15000"}};
  // Series that legitimately have no sample in this stack.
  const std::set<std::string> may_be_empty_metrics = {"foresight_anomaly",
                                                      "foresight_forecast_series_dropped",
                                                      "foresight_remote_read_errors_total",
                                                      "foresight_refresh_failures_total"};
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(Src("grafana/dashboards"))) {
    if (entry.path().extension() != ".json") continue;
    auto dashboard = testing::LoadDashboard(entry.path().string());
    ASSERT_TRUE(dashboard.ok()) << dashboard.status().message();
    auto queries = testing::DashboardQueries(*dashboard, vars);
    ASSERT_TRUE(queries.ok()) << queries.status().message();
    for (const testing::DashboardQuery& q : *queries) {
      const auto result = query(q.expr);
      bool may_be_empty = false;
      for (const std::string& m : may_be_empty_metrics) {
        // The whole metric name: foresight_anomaly must not excuse foresight_anomaly_score.
        if (std::regex_search(q.expr, std::regex("(^|[^a-zA-Z0-9_:])" + m + "($|[^a-zA-Z0-9_:])"))) {
          may_be_empty = true;
        }
      }
      // The stack is a minute old: what a query asks of an hour ago cannot exist yet. Such a
      // query must run; without its offset it must have data.
      static const std::regex offset(R"(\s+offset\s+-?[0-9a-z]+)");
      const std::string now_expr = std::regex_replace(q.expr, offset, "");
      if (!may_be_empty) {
        EXPECT_FALSE((now_expr == q.expr ? result : query(now_expr)).empty())
            << q.dashboard << " " << q.where << " returned no data:\n" << now_expr;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 20) << "dashboards yielded suspiciously few queries";
}

TEST_F(AlertingEndToEndTest, PredictedBreachReachesTheReceiverAndResolves) {
  const auto started = std::chrono::steady_clock::now();

  // Firing: the 6h upper band crosses capacity, through Alertmanager to the receiver.
  auto breach_6h = [&] {
    for (const auto& [n, a] : Alerts(receiver_)) {
      if (Label(a, "alertname") == kBreach && Label(a, "horizon") == "6h" &&
          a.value("status", "") == "firing") {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(PollUntil(breach_6h, kDeliveryDeadline))
      << "no firing " << kBreach << " for horizon 6h reached the receiver; ALERTS: "
      << nlohmann::json(Query("ALERTS")).dump();
  const double fire_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "firing notification " << fire_s << " s after the exporter was ready\n";

  for (const auto& [n, a] : Alerts(receiver_)) {
    // Through Alertmanager, with config/alertmanager.yml's bearer auth and grouping.
    EXPECT_EQ(n.authorization, std::string("Bearer ") + kToken);
    EXPECT_EQ(n.body.value("version", ""), "4");
    EXPECT_EQ(n.body.value("receiver", ""), "foresight-webhook");
    EXPECT_TRUE(n.body.contains("groupKey") && n.body.contains("externalURL") &&
                n.body.contains("truncatedAlerts"));
    if (Label(a, "alertname") != kBreach) continue;
    EXPECT_EQ(n.body["groupLabels"],
              (nlohmann::json{{"alertname", kBreach}, {"foresight_job", "api_rps"},
                              {"threshold", "capacity"}}));
    // Only the trending service, only its capacity, never the nearest horizon.
    EXPECT_EQ(Label(a, "service"), "api");
    EXPECT_EQ(Label(a, "threshold"), "capacity");
    EXPECT_NE(Label(a, "horizon"), "15m");
  }

  nlohmann::json alert;
  for (const auto& [n, a] : Alerts(receiver_)) {
    if (Label(a, "alertname") == kBreach && Label(a, "horizon") == "6h") alert = a;
  }
  // The aggregated series has no job or instance of its own, so Prometheus gives it the
  // exporter target's (honor_labels only decides conflicts).
  EXPECT_EQ(alert["labels"],
            (nlohmann::json{{"alertname", kBreach},
                            {"confidence", "0.95"},
                            {"direction", "above"},
                            {"foresight_job", "api_rps"},
                            {"horizon", "6h"},
                            {"instance", "127.0.0.1:" + std::to_string(exporter_port_)},
                            {"job", "foresight_exporter"},
                            {"service", "api"},
                            {"severity", "warning"},
                            {"threshold", "capacity"}}));
  const nlohmann::json& ann = alert["annotations"];
  EXPECT_EQ(ann.value("summary", ""), "api_rps: forecast to go above capacity within 6h");
  EXPECT_THAT(ann.value("description", ""), HasSubstr("service=\"api\"} 6h ahead is"));
  EXPECT_THAT(ann.value("runbook_url", ""), ::testing::EndsWith("/" + std::string(kBreach) + ".md"));
  double predicted = NAN, eta = NAN;
  ASSERT_TRUE(ParseDouble(ann.value("predicted_value", ""), &predicted)) << ann.dump();
  EXPECT_GE(predicted, capacity_);
  ASSERT_TRUE(ParseDouble(ann.value("eta_seconds", ""), &eta)) << ann.dump();
  EXPECT_GT(eta, 0);
  EXPECT_LE(eta, 6 * 3600);
  EXPECT_FALSE(ann.value("eta", "").empty());
  EXPECT_THAT(ann.value("eta", ""), ::testing::Not(HasSubstr("beyond")));

  // Prometheus reaches the "webhook" with config/prometheus.yml's credentials_file.
  const auto webhook_up = Query("up{job=\"foresight_webhook\"}");
  ASSERT_EQ(webhook_up.size(), 1u);
  EXPECT_EQ(webhook_up[0]["value"][1], "1") << "Prometheus's scrape of the receiver failed";

  // The live stack answers every rule's and dashboard's PromQL.
  CheckEveryExpression([this](const std::string& q) { return Query(q); });
  // The recording rules' exact values.
  // The recording rules record their expressions: each recorded sample equals its expression
  // evaluated at the sample's own timestamp. The values themselves (exact ones are in
  // rules/tests/recording.test.yml) depend here on where the rule's evaluation falls against the
  // backfilled samples: rate() extrapolates towards the window's ends.
  YAML::Node recording = YAML::LoadFile(Src("rules/foresight-recording.rules.yml"));
  std::map<std::string, double> recorded;
  for (const auto& rule : recording["groups"][0]["rules"]) {
    const std::string record = rule["record"].as<std::string>();
    auto raw = testing::QueryRaw(prom_->base_url(), record + "[1m]", NowMs());
    ASSERT_TRUE(raw.ok()) << raw.status().message();
    ASSERT_FALSE(raw->empty()) << record << " recorded nothing";
    for (const testing::RawSeries& series : *raw) {
      ASSERT_FALSE(series.values.empty());
      const int64_t ts = series.timestamps_ms.back();
      const double value = series.values.back();
      auto at = testing::QueryJson(prom_->base_url(), rule["expr"].as<std::string>(), ts);
      ASSERT_TRUE(at.ok()) << at.status().message();
      std::map<std::string, std::string> labels = series.labels;
      labels.erase("__name__");
      bool matched = false;
      for (const auto& item : (*at)["result"]) {
        if (item["metric"] != nlohmann::json(labels)) continue;
        double want = NAN;
        ParseDouble(item["value"][1].get<std::string>(), &want);
        EXPECT_DOUBLE_EQ(value, want) << record << " " << nlohmann::json(labels).dump();
        matched = true;
      }
      EXPECT_TRUE(matched) << record << ": no series of its expression has the labels "
                           << nlohmann::json(labels).dump();
      recorded[record] = value;
    }
  }
  EXPECT_NEAR(recorded["instance:node_cpu_utilisation:ratio_rate5m"], 0.5, 0.1);
  EXPECT_DOUBLE_EQ(recorded["namespace_pod:container_memory_working_set_bytes:sum"], 2.5e8);
  // A quantile is a ratio of rates, whatever the extrapolation.
  EXPECT_NEAR(recorded["service:http_request_duration_seconds:p99_rate5m"], 0.5, 1e-9);
  EXPECT_EQ(Query("service:http_requests:rate5m").size(), 2u);

  // Resolving: a capacity nothing reaches, by a reload of the exporter.
  WriteText(exporter_config_, ExporterConfig(prom_->remote_read_url(), 1e9));
  auto reload = testing::HttpPost(exporter_url_ + "/-/reload", "", "text/plain");
  ASSERT_TRUE(reload.ok()) << reload.status().message();
  const auto reloaded = std::chrono::steady_clock::now();
  auto resolved_6h = [&] {
    for (const auto& [n, a] : Alerts(receiver_)) {
      if (Label(a, "alertname") == kBreach && Label(a, "horizon") == "6h" &&
          a.value("status", "") == "resolved" && n.body.value("status", "") == "resolved") {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(PollUntil(resolved_6h, kDeliveryDeadline))
      << "no resolved notification for the 6h breach; ALERTS: "
      << nlohmann::json(Query("ALERTS")).dump();
  std::cerr << "resolved notification "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - reloaded).count()
            << " s after the reload\n";
  // The resolution is of the alert that fired: same fingerprint, same start, an end after it.
  for (const auto& [n, a] : Alerts(receiver_)) {
    if (Label(a, "alertname") != kBreach || Label(a, "horizon") != "6h" ||
        a.value("status", "") != "resolved") {
      continue;
    }
    EXPECT_EQ(a.value("fingerprint", ""), alert.value("fingerprint", "")) << a.dump();
    EXPECT_EQ(a.value("startsAt", ""), alert.value("startsAt", "")) << a.dump();
    EXPECT_NE(a.value("endsAt", ""), a.value("startsAt", "")) << a.dump();
  }
}

}  // namespace
}  // namespace foresight
