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
// The stack's setup (configs derived from the committed ones, the backfilled history, the
// daemons) is tests/fixture/alerting_stack.h, shared with webhook_e2e_test.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "alerting_stack.h"
#include "foresight/common/format.h"
#include "foresight/http/server.h"
#include "grafana_queries.h"
#include "prometheus_fixture.h"

namespace foresight {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::AlertingStack;
using ::testing::HasSubstr;

constexpr char kToken[] = "e2e-webhook-token-4c1d";
constexpr char kBreach[] = "ForesightPredictedThresholdBreach";
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

// ---------------------------------------------------------------------------------------------

class AlertingEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("foresight_e2e_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    token_file_ = (dir_ / "webhook-token").string();
    {
      std::ofstream f(token_file_, std::ios::trunc);
      f << kToken << "\n";
      ASSERT_TRUE(f.good()) << token_file_;
    }

    // 1. The receiver, on a port of its own choosing.
    auto server = http::Server::Start({}, receiver_.handler());
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);

    // 2. Alertmanager, Prometheus with the history, and the exporter, pointed at it.
    auto stack = AlertingStack::Start({.source_dir = FORESIGHT_SOURCE_DIR,
                                       .dir = dir_.string(),
                                       .exporter_binary = FORESIGHT_EXPORTER_BINARY,
                                       .webhook_port = server_->port(),
                                       .token_file = token_file_});
    ASSERT_TRUE(stack.ok()) << stack.status().message();
    stack_ = std::move(*stack);
  }

  void TearDown() override {
    if (stack_) {
      Status st = stack_->Stop();
      EXPECT_TRUE(st.ok()) << "foresight_exporter did not stop cleanly: " << st.message();
    }
    if (HasFailure() && stack_) std::cerr << stack_->LogTails(6000);
    stack_.reset();
    server_.reset();
    if (std::getenv("FORESIGHT_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(dir_);
  }

  std::vector<nlohmann::json> Query(const std::string& promql) {
    auto r = stack_->Query(promql);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : std::vector<nlohmann::json>{};
  }

  std::filesystem::path dir_;
  std::string token_file_;
  Receiver receiver_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<AlertingStack> stack_;
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
                            {"instance", "127.0.0.1:" + std::to_string(stack_->exporter_port())},
                            {"job", "foresight_exporter"},
                            {"service", "api"},
                            {"severity", "warning"},
                            {"threshold", "capacity"}}));
  const nlohmann::json& ann = alert["annotations"];
  EXPECT_EQ(ann.value("summary", ""), "api_rps: forecast to go above capacity within 6h");
  EXPECT_THAT(ann.value("description", ""), HasSubstr("service=\"api\"} 6h ahead is"));
  EXPECT_THAT(ann.value("runbook_url", ""), ::testing::EndsWith(std::string("/") + kBreach + ".md"));
  double predicted = NAN, eta = NAN;
  ASSERT_TRUE(ParseDouble(ann.value("predicted_value", ""), &predicted)) << ann.dump();
  EXPECT_GE(predicted, stack_->breach_capacity());
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
    auto raw = testing::QueryRaw(stack_->prometheus().base_url(), record + "[1m]", NowMs());
    ASSERT_TRUE(raw.ok()) << raw.status().message();
    ASSERT_FALSE(raw->empty()) << record << " recorded nothing";
    for (const testing::RawSeries& series : *raw) {
      ASSERT_FALSE(series.values.empty());
      const int64_t ts = series.timestamps_ms.back();
      const double value = series.values.back();
      auto at = testing::QueryJson(stack_->prometheus().base_url(), rule["expr"].as<std::string>(), ts);
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
  Status reload = stack_->SetCapacity(1e9);
  ASSERT_TRUE(reload.ok()) << reload.message();
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
