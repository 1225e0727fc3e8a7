// grafana/: every dashboard's structure, variables, links and PromQL, the provisioning files, and
// the checker and extractor those tests rely on, each fed broken input to show it can fail.

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dashboard_problems.h"
#include "grafana_queries.h"

namespace foresight::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kGrafanaDir = FORESIGHT_GRAFANA_DIR;
const std::string kPromtool = FORESIGHT_PROMTOOL;

// Values for every variable the dashboards may use, as Grafana would substitute them.
const std::map<std::string, std::string> kVars = {
    {"datasource", "foresight-prometheus"},
    {"job", "(api_rps|requests_by_service)"},
    {"series_label", "service"},
    {"series", ".*"},
    {"horizon", "1h"},
    {"confidence", "0.95"},
    {"__rate_interval", "1m"},
    {"__interval", "15s"},
    {"__range", "1h"},
};

// The metric contract (README "Published series", the self-metrics, Prometheus's own series) and
// the one label name with our prefix: a dashboard naming anything else has a typo or uses a
// metric that does not exist.
const std::set<std::string> kKnownNames = {
    "foresight_job",
    "foresight_forecast",
    "foresight_forecast_lower",
    "foresight_forecast_upper",
    "foresight_observed",
    "foresight_threshold",
    "foresight_threshold_eta_seconds",
    "foresight_anomaly",
    "foresight_anomaly_score",
    "foresight_model_info",
    "foresight_backtest_mase",
    "foresight_backtest_coverage_ratio",
    "foresight_exporter_build_info",
    "foresight_exporter_config_last_reload_successful",
    "foresight_exporter_config_last_reload_success_timestamp_seconds",
    "foresight_exporter_config_reloads_total",
    "foresight_exporter_config_reload_failures_total",
    "foresight_refresh_duration_seconds_bucket",
    "foresight_refresh_duration_seconds_sum",
    "foresight_refresh_duration_seconds_count",
    "foresight_fit_duration_seconds_bucket",
    "foresight_fit_duration_seconds_sum",
    "foresight_fit_duration_seconds_count",
    "foresight_refreshes_total",
    "foresight_refresh_failures_total",
    "foresight_forecast_last_success_timestamp_seconds",
    "foresight_forecast_stale",
    "foresight_forecast_series",
    "foresight_forecast_series_dropped",
    "foresight_remote_read_bytes_total",
    "foresight_remote_read_samples_total",
    "foresight_remote_read_requests_total",
    "foresight_remote_read_errors_total",
    "foresight_remote_read_duration_seconds_bucket",
    "foresight_remote_read_duration_seconds_sum",
    "foresight_remote_read_duration_seconds_count",
    "foresight_source_up",
    "foresight_published_samples",
};

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    out += "\n  " + line;
  }
  return out;
}

std::vector<std::string> DashboardFiles() {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(kGrafanaDir + "/dashboards")) {
    if (entry.path().extension() == ".json") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct Loaded {
  std::string file;
  json dashboard;
};

// Every dashboard file, parsed; a file that does not parse fails the calling test.
std::vector<Loaded> LoadAll() {
  std::vector<Loaded> all;
  for (const std::string& file : DashboardFiles()) {
    Result<json> d = LoadDashboard(file);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (d.ok()) {
      all.push_back({file, std::move(d).value()});
    }
  }
  return all;
}

const json* FindVariable(const json& dashboard, const std::string& name) {
  for (const json& v : dashboard["templating"]["list"]) {
    if (v.value("name", "") == name) {
      return &v;
    }
  }
  return nullptr;
}

std::string VariableQuery(const json& v) {
  const json& q = v.at("query");
  return q.is_string() ? q.get<std::string>() : q.at("query").get<std::string>();
}

// Names with our prefix outside string literals: metric names and label names.
std::set<std::string> ForesightNames(const std::string& expr) {
  static const std::regex kString(R"("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)");
  static const std::regex kName(R"(\bforesight_[A-Za-z0-9_]*)");
  const std::string code = std::regex_replace(expr, kString, "\"\"");
  std::set<std::string> names;
  for (std::sregex_iterator it(code.begin(), code.end(), kName), end; it != end; ++it) {
    names.insert(it->str());
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// The dashboards in grafana/dashboards/.

TEST(Dashboards, TheThreeDashboardsExist) {
  std::set<std::string> uids;
  for (const Loaded& l : LoadAll()) {
    uids.insert(l.dashboard.value("uid", ""));
  }
  for (const char* uid :
       {"foresight-forecasts", "foresight-exporter-health", "foresight-resilience"}) {
    EXPECT_TRUE(uids.contains(uid)) << uid;
  }
}

TEST(Dashboards, EveryDashboardHasNoProblems) {
  const std::vector<Loaded> all = LoadAll();
  ASSERT_GE(all.size(), 3u);
  for (const Loaded& l : all) {
    const std::vector<std::string> problems = DashboardProblems(l.dashboard);
    EXPECT_TRUE(problems.empty()) << l.file << Join(problems);
  }
}

TEST(Dashboards, UidsAreUniqueAcrossFiles) {
  std::map<std::string, std::string> seen;  // uid -> file
  for (const Loaded& l : LoadAll()) {
    const std::string uid = l.dashboard.value("uid", "");
    auto [it, inserted] = seen.emplace(uid, l.file);
    EXPECT_TRUE(inserted) << "uid " << uid << " in " << l.file << " and " << it->second;
  }
}

TEST(Dashboards, LinksPointAtExistingDashboardsAndEachLinksTheOthers) {
  const std::vector<Loaded> all = LoadAll();
  std::set<std::string> uids;
  for (const Loaded& l : all) {
    uids.insert(l.dashboard.value("uid", ""));
  }
  for (const Loaded& l : all) {
    const std::vector<std::string> linked = LinkedDashboardUids(l.dashboard);
    for (const std::string& uid : linked) {
      EXPECT_TRUE(uids.contains(uid)) << l.file << " links to unknown dashboard " << uid;
    }
    const std::set<std::string> linked_set(linked.begin(), linked.end());
    for (const std::string& uid : uids) {
      if (uid != l.dashboard.value("uid", "")) {
        EXPECT_TRUE(linked_set.contains(uid)) << l.file << " does not link to " << uid;
      }
    }
  }
}

TEST(Dashboards, EveryQuerySubstitutesAndNamesOnlyContractMetrics) {
  for (const Loaded& l : LoadAll()) {
    Result<std::vector<DashboardQuery>> queries = DashboardQueries(l.dashboard, kVars);
    ASSERT_TRUE(queries.ok()) << l.file << ": " << queries.status().ToString();
    EXPECT_FALSE(queries->empty()) << l.file;
    for (const DashboardQuery& q : *queries) {
      EXPECT_TRUE(VariableReferences(q.expr).empty()) << q.where << ": " << q.expr;
      for (const std::string& name : ForesightNames(q.expr)) {
        EXPECT_TRUE(kKnownNames.contains(name))
            << q.dashboard << " " << q.where << " names " << name << ", not in the contract";
      }
    }
  }
}

// promtool parses PromQL exactly as Prometheus does: each expression becomes a recording rule.
TEST(Dashboards, EveryQueryParsesWithPromtool) {
  if (kPromtool.empty() || !fs::exists(kPromtool)) {
    GTEST_SKIP() << "promtool not installed";
  }
  const fs::path dir = fs::temp_directory_path() / ("dashboards_test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::vector<DashboardQuery> all;
  std::ofstream rules(dir / "rules.yml");
  rules << "groups:\n  - name: dashboards\n    rules:\n";
  for (const Loaded& l : LoadAll()) {
    Result<std::vector<DashboardQuery>> queries = DashboardQueries(l.dashboard, kVars);
    ASSERT_TRUE(queries.ok()) << queries.status().ToString();
    for (const DashboardQuery& q : *queries) {
      // A JSON string is a YAML string, escapes included.
      rules << "      - record: q" << all.size() << "\n        expr: " << json(q.expr).dump()
            << "\n";
      all.push_back(q);
    }
  }
  rules.close();
  const std::string command = "'" + kPromtool + "' check rules '" + (dir / "rules.yml").string() +
                              "' > '" + (dir / "out.txt").string() + "' 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream out(dir / "out.txt");
  std::stringstream text;
  text << out.rdbuf();
  std::string index;  // promtool names the rule (qN) or the group; this says where qN came from
  for (size_t i = 0; i < all.size(); ++i) {
    index += "\n  q" + std::to_string(i) + " " + all[i].dashboard + " " + all[i].where + ": " +
             all[i].expr;
  }
  EXPECT_EQ(rc, 0) << text.str() << index;
  EXPECT_NE(text.str().find("SUCCESS: " + std::to_string(all.size()) + " rules found"),
            std::string::npos)
      << text.str();
  fs::remove_all(dir);
}

TEST(Dashboards, ForecastsVariablesAreTheDocumentedOnes) {
  Result<json> d = LoadDashboard(kGrafanaDir + "/dashboards/foresight-forecasts.json");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const json* job = FindVariable(*d, "job");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(VariableQuery(*job), "label_values(foresight_model_info, foresight_job)");
  EXPECT_TRUE(job->value("multi", false));
  EXPECT_TRUE(job->value("includeAll", false));

  const json* series_label = FindVariable(*d, "series_label");
  ASSERT_NE(series_label, nullptr);
  EXPECT_EQ(series_label->value("type", ""), "textbox");
  EXPECT_EQ(series_label->value("query", ""), "service");

  const json* series = FindVariable(*d, "series");
  ASSERT_NE(series, nullptr);
  EXPECT_EQ(VariableQuery(*series),
            "label_values(foresight_model_info{foresight_job=~\"$job\"}, $series_label)");
  EXPECT_TRUE(series->value("multi", false));
  EXPECT_TRUE(series->value("includeAll", false));
  EXPECT_EQ(series->value("allValue", ""), ".*");

  const json* horizon = FindVariable(*d, "horizon");
  ASSERT_NE(horizon, nullptr);
  EXPECT_EQ(VariableQuery(*horizon),
            "label_values(foresight_forecast{foresight_job=~\"$job\"}, horizon)");
  EXPECT_FALSE(horizon->value("multi", true));  // `offset $horizon` takes one duration
  EXPECT_FALSE(horizon->value("includeAll", true));

  const json* confidence = FindVariable(*d, "confidence");
  ASSERT_NE(confidence, nullptr);
  EXPECT_EQ(VariableQuery(*confidence),
            "label_values(foresight_forecast_upper{foresight_job=~\"$job\"}, confidence)");
  EXPECT_FALSE(confidence->value("multi", true));
}

// The panels the Forecasts dashboard exists for: actual against the forecast made $horizon
// earlier with its band, thresholds, ETAs, and the anomaly annotation.
TEST(Dashboards, ForecastsShowsActualAgainstOffsetForecastAndBand) {
  Result<json> d = LoadDashboard(kGrafanaDir + "/dashboards/foresight-forecasts.json");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Result<std::vector<DashboardQuery>> queries = DashboardQueries(*d, kVars);
  ASSERT_TRUE(queries.ok()) << queries.status().ToString();
  auto has = [&](const std::string& where_prefix, const std::string& expr) {
    return std::any_of(queries->begin(), queries->end(), [&](const DashboardQuery& q) {
      return q.where.starts_with(where_prefix) && q.expr == expr;
    });
  };
  const std::string sel = "foresight_job=~\"(api_rps|requests_by_service)\", service=~\".*\"";
  EXPECT_TRUE(has("panel", "foresight_observed{" + sel + "}"));
  EXPECT_TRUE(has("panel", "foresight_forecast{" + sel + ", horizon=\"1h\"} offset 1h"));
  EXPECT_TRUE(has("panel", "foresight_forecast_upper{" + sel +
                               ", horizon=\"1h\", confidence=\"0.95\"} offset 1h"));
  EXPECT_TRUE(has("panel", "foresight_forecast_lower{" + sel +
                               ", horizon=\"1h\", confidence=\"0.95\"} offset 1h"));
  EXPECT_TRUE(has("panel", "foresight_threshold{" + sel + ", horizon=\"1h\"}"));
  EXPECT_TRUE(has("panel", "foresight_threshold_eta_seconds{" + sel + ", confidence=\"0.95\"}"));
  EXPECT_TRUE(has("annotation Anomalies", "foresight_anomaly{" + sel + "} == 1"));

  // Some panel fills its upper band down to its lower one (DashboardProblems checks the name).
  bool band = false;
  for (const json& p : d->at("panels")) {
    for (const json& o : p.value("fieldConfig", json::object()).value("overrides", json::array())) {
      for (const json& property : o.value("properties", json::array())) {
        band = band || property.value("id", "") == "custom.fillBelowTo";
      }
    }
  }
  EXPECT_TRUE(band);
}

// ---------------------------------------------------------------------------------------------
// Provisioning.

YAML::Node LoadYaml(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << path << ": " << e.what();
    return YAML::Node();
  }
}

TEST(Provisioning, DatasourceIsTheDashboardsDefault) {
  const YAML::Node file = LoadYaml(kGrafanaDir + "/provisioning/datasources/foresight.yml");
  ASSERT_TRUE(file.IsMap());
  EXPECT_EQ(file["apiVersion"].as<int>(), 1);
  ASSERT_TRUE(file["datasources"].IsSequence());
  ASSERT_EQ(file["datasources"].size(), 1u);
  const YAML::Node ds = file["datasources"][0];
  EXPECT_EQ(ds["name"].as<std::string>(), "Prometheus");
  EXPECT_EQ(ds["type"].as<std::string>(), "prometheus");
  EXPECT_EQ(ds["url"].as<std::string>(), "http://127.0.0.1:9090");
  EXPECT_TRUE(ds["isDefault"].as<bool>());
  const std::string uid = ds["uid"].as<std::string>("");
  ASSERT_FALSE(uid.empty());
  // Each dashboard's datasource variable starts on the provisioned datasource.
  for (const Loaded& l : LoadAll()) {
    const json* v = FindVariable(l.dashboard, "datasource");
    ASSERT_NE(v, nullptr) << l.file;
    EXPECT_EQ(v->value("current", json::object()).value("value", ""), uid) << l.file;
  }
}

TEST(Provisioning, DashboardProviderLoadsTheForesightFolder) {
  const YAML::Node file = LoadYaml(kGrafanaDir + "/provisioning/dashboards/foresight.yml");
  ASSERT_TRUE(file.IsMap());
  EXPECT_EQ(file["apiVersion"].as<int>(), 1);
  ASSERT_TRUE(file["providers"].IsSequence());
  ASSERT_EQ(file["providers"].size(), 1u);
  const YAML::Node provider = file["providers"][0];
  EXPECT_EQ(provider["type"].as<std::string>(), "file");
  const std::string folder = provider["folder"].as<std::string>("");
  EXPECT_EQ(folder, "Foresight");
  EXPECT_EQ(provider["options"]["path"].as<std::string>(""),
            "/var/lib/grafana/dashboards/foresight");
  // The folder is what the titles say they are in.
  for (const Loaded& l : LoadAll()) {
    EXPECT_TRUE(l.dashboard.value("title", "").starts_with(folder + " / ")) << l.file;
  }
}

// ---------------------------------------------------------------------------------------------
// DashboardProblems: a small good dashboard, then one rule broken at a time.

json GoodDashboard() {
  return json::parse(R"json({
    "id": null,
    "uid": "foresight-test",
    "title": "Foresight / Test",
    "tags": ["foresight"],
    "schemaVersion": 39,
    "links": [{"type": "link", "title": "Other", "url": "/d/foresight-other"}],
    "templating": {"list": [
      {"name": "datasource", "type": "datasource", "query": "prometheus"},
      {"name": "job", "type": "query",
       "datasource": {"type": "prometheus", "uid": "${datasource}"},
       "query": {"qryType": 1, "query": "label_values(foresight_model_info, foresight_job)"}}
    ]},
    "annotations": {"list": [
      {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
       "name": "Annotations & Alerts", "type": "dashboard"},
      {"name": "Anomalies", "datasource": {"type": "prometheus", "uid": "${datasource}"},
       "expr": "foresight_anomaly{foresight_job=~\"$job\"} == 1"}
    ]},
    "panels": [
      {"id": 1, "type": "row", "title": "Open row", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1},
       "panels": []},
      {"id": 2, "type": "timeseries", "title": "Band", "description": "a band over $__range",
       "datasource": {"type": "prometheus", "uid": "${datasource}"},
       "gridPos": {"x": 0, "y": 1, "w": 12, "h": 8},
       "targets": [
         {"refId": "A", "datasource": {"type": "prometheus", "uid": "${datasource}"},
          "expr": "foresight_forecast_upper{foresight_job=~\"$job\"}", "legendFormat": "upper"},
         {"refId": "B", "datasource": {"type": "prometheus", "uid": "${datasource}"},
          "expr": "foresight_forecast_lower{foresight_job=~\"${job:regex}\"}",
          "legendFormat": "lower"}
       ],
       "fieldConfig": {"defaults": {}, "overrides": [
         {"matcher": {"id": "byFrameRefID", "options": "A"},
          "properties": [{"id": "custom.fillBelowTo", "value": "lower"}]}
       ]}},
      {"id": 3, "type": "row", "title": "Collapsed", "collapsed": true,
       "gridPos": {"x": 0, "y": 9, "w": 24, "h": 1},
       "panels": [
         {"id": 4, "type": "table", "title": "ETA", "description": "seconds to threshold",
          "datasource": {"type": "prometheus", "uid": "${datasource}"},
          "gridPos": {"x": 0, "y": 10, "w": 24, "h": 8},
          "targets": [
            {"refId": "A", "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "expr":
               "rate(foresight_refreshes_total{foresight_job=~\"[[job]]\"}[$__rate_interval])"}
          ],
          "fieldConfig": {"defaults": {}, "overrides": [
            {"matcher": {"id": "byName", "options": "foresight_job"},
             "properties": [{"id": "links", "value": [
               {"title": "Forecasts",
                "url": "/d/foresight-forecasts?var-job=${__data.fields.foresight_job}"}
             ]}]}
          ]}}
       ]}
    ]
  })json");
}

TEST(DashboardProblems, GoodDashboardHasNone) {
  EXPECT_EQ(DashboardProblems(GoodDashboard()), std::vector<std::string>{});
}

TEST(DashboardProblems, NotAnObject) {
  EXPECT_EQ(DashboardProblems(json::array()),
            std::vector<std::string>{"dashboard is not a JSON object"});
}

struct BrokenCase {
  std::string name;
  std::function<void(json&)> breakIt;
  std::string problem;  // a substring of exactly one reported problem
};

// Test names and failure messages show the case's name, not its bytes.
void PrintTo(const BrokenCase& c, std::ostream* os) { *os << c.name; }

json::json_pointer P(const std::string& pointer) { return json::json_pointer(pointer); }

void Erase(json& d, const std::string& pointer) {
  const json::json_pointer p = P(pointer);
  json& parent = d[p.parent_pointer()];
  if (parent.is_array()) {
    parent.erase(std::stoul(p.back()));
  } else {
    parent.erase(p.back());
  }
}

class BrokenDashboard : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenDashboard, NamesTheProblem) {
  json d = GoodDashboard();
  GetParam().breakIt(d);
  const std::vector<std::string> problems = DashboardProblems(d);
  const std::string& want = GetParam().problem;
  const size_t matching =
      std::count_if(problems.begin(), problems.end(),
                    [&](const std::string& p) { return p.find(want) != std::string::npos; });
  EXPECT_EQ(matching, 1u) << "want \"" << want << "\", got" << Join(problems);
}

const BrokenCase kBrokenCases[] = {
    {"TitlePrefix", [](json& d) { d["title"] = "Forecasts"; },
     "title \"Forecasts\" does not start with \"Foresight / \""},
    {"UidMissing", [](json& d) { d.erase("uid"); }, "uid \"\" is not 1 to 40"},
    {"UidTooLong", [](json& d) { d["uid"] = std::string(41, 'u'); }, "is not 1 to 40"},
    {"UidBadCharacter", [](json& d) { d["uid"] = "foresight/x"; }, "is not 1 to 40"},
    {"IdNotNull", [](json& d) { d["id"] = 7; }, "id is 7, not null"},
    {"NoForesightTag", [](json& d) { d["tags"] = json::array({"other"}); },
     "tags do not contain \"foresight\""},
    {"OldSchemaVersion", [](json& d) { d["schemaVersion"] = 38; }, "schemaVersion 38 is not >= 39"},
    {"NoDatasourceVariable", [](json& d) { Erase(d, "/templating/list/0"); },
     "templating has no datasource variable"},
    {"DatasourceVariableOfWrongType", [](json& d) { d[P("/templating/list/0/type")] = "custom"; },
     "templating datasource: is not of type datasource with query prometheus"},
    {"VariableDefinedTwice",
     [](json& d) { d[P("/templating/list")].push_back(d[P("/templating/list/1")]); },
     "templating job: defined twice"},
    {"QueryVariableHardcodesDatasource",
     [](json& d) { d[P("/templating/list/1/datasource/uid")] = "P1809F7CD0C75ACF3"; },
     "templating job: has datasource"},
    {"AnnotationWithoutDatasource", [](json& d) { Erase(d, "/annotations/list/1/datasource"); },
     "annotation Anomalies: has no datasource"},
    {"AnnotationWithoutExpr", [](json& d) { Erase(d, "/annotations/list/1/expr"); },
     "annotation Anomalies: has no expr"},
    {"DuplicatePanelIdInCollapsedRow", [](json& d) { d[P("/panels/2/panels/0/id")] = 2; },
     "panel 2 \"ETA\": duplicate panel id 2"},
    {"PanelIdNotInteger", [](json& d) { d[P("/panels/1/id")] = "2"; },
     "panel \"2\" \"Band\": id is not an integer"},
    {"NestedPanelWithoutDatasource", [](json& d) { Erase(d, "/panels/2/panels/0/datasource"); },
     "panel 4 \"ETA\": has no datasource"},
    {"PanelHardcodesDatasource",
     [](json& d) {
       d[P("/panels/1/datasource")] = {{"type", "prometheus"}, {"uid", "abc"}};
     },
     "panel 2 \"Band\": has datasource"},
    {"PanelWithoutDescription", [](json& d) { Erase(d, "/panels/1/description"); },
     "panel 2 \"Band\": has no description"},
    {"PanelWithoutTargets", [](json& d) { d[P("/panels/1/targets")] = json::array(); },
     "panel 2 \"Band\": has no targets"},
    {"PanelOutsideGrid", [](json& d) { d[P("/panels/1/gridPos/x")] = 20; },
     "panel 2 \"Band\": gridPos x 20 w 12 is outside the 24 columns"},
    {"TargetWithoutDatasource", [](json& d) { Erase(d, "/panels/1/targets/1/datasource"); },
     "panel 2 \"Band\" target B: has no datasource"},
    {"TargetWithoutRefId", [](json& d) { Erase(d, "/panels/1/targets/1/refId"); },
     "panel 2 \"Band\" target #1: has no refId"},
    {"DuplicateRefId", [](json& d) { d[P("/panels/1/targets/1/refId")] = "A"; },
     "target A: duplicate refId A"},
    {"TargetWithoutExpr", [](json& d) { Erase(d, "/panels/2/panels/0/targets/0/expr"); },
     "panel 4 \"ETA\" target A: has no expr"},
    {"FillBelowToNamesNoField",
     [](json& d) { d[P("/panels/1/targets/1/legendFormat")] = "lower {{confidence}}"; },
     "custom.fillBelowTo \"lower\" is not the legendFormat of any of its targets"},
    {"UndefinedVariableInExpr",
     [](json& d) { d[P("/panels/1/targets/0/expr")] = "foresight_forecast offset $horizon"; },
     "/panels/1/targets/0/expr: undefined variable $horizon"},
    {"UndefinedVariableInTitle", [](json& d) { d[P("/panels/1/title")] = "Band of ${series}"; },
     "/panels/1/title: undefined variable $series"},
    {"UndefinedVariableInTemplating",
     [](json& d) {
       d[P("/templating/list/1/query/query")] = "label_values(foresight_model_info, [[label]])";
     },
     "/templating/list/1/query/query: undefined variable $label"},
    {"LinkWithoutUrl", [](json& d) { Erase(d, "/links/0/url"); }, "link 0 \"Other\": has no url"},
    {"NoPanels", [](json& d) { d["panels"] = json::array(); }, "has no panels"},
};

INSTANTIATE_TEST_SUITE_P(EachRule, BrokenDashboard, ::testing::ValuesIn(kBrokenCases),
                         [](const ::testing::TestParamInfo<BrokenCase>& info) {
                           return info.param.name;
                         });

TEST(LinkedDashboardUids, FindsDashboardAndFieldOverrideLinks) {
  EXPECT_EQ(LinkedDashboardUids(GoodDashboard()),
            (std::vector<std::string>{"foresight-other", "foresight-forecasts"}));
}

// ---------------------------------------------------------------------------------------------
// SubstituteVariables and VariableReferences.

TEST(SubstituteVariables, EveryGrafanaSyntax) {
  const std::map<std::string, std::string> vars = {
      {"job", "a|b"}, {"series", "s"}, {"series_label", "service"}, {"__rate_interval", "1m"}};
  auto sub = [&](const std::string& text) {
    Result<std::string> r = SubstituteVariables(text, vars, "here");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : std::string();
  };
  EXPECT_EQ(sub("x{j=~\"$job\"}"), "x{j=~\"a|b\"}");
  EXPECT_EQ(sub("x{j=~\"${job}\"}"), "x{j=~\"a|b\"}");
  EXPECT_EQ(sub("x{j=~\"${job:regex}\"}"), "x{j=~\"a|b\"}");
  EXPECT_EQ(sub("x{j=~\"[[job]]\"}"), "x{j=~\"a|b\"}");
  EXPECT_EQ(sub("x{j=~\"[[job:pipe]]\"}"), "x{j=~\"a|b\"}");
  // The longest name wins: $series_label is not $series followed by "_label".
  EXPECT_EQ(sub("x{$series_label=~\"$series\"}"), "x{service=~\"s\"}");
  EXPECT_EQ(sub("rate(x[$__rate_interval])"), "rate(x[1m])");
  // A regex anchor and label_replace's $1 are not variables.
  EXPECT_EQ(sub("x{a=~\"foo$\"}"), "x{a=~\"foo$\"}");
  EXPECT_EQ(sub("label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")"),
            "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")");
  EXPECT_EQ(sub("no variables"), "no variables");
}

TEST(SubstituteVariables, UnknownVariableIsNamed) {
  Result<std::string> r = SubstituteVariables("x offset $horizon", {{"job", "a"}}, "panel 3");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "panel 3: unknown variable \"horizon\" in `x offset $horizon`");
}

TEST(VariableReferences, NamesEachReference) {
  EXPECT_EQ(VariableReferences("$a ${b} ${c:csv} [[d]] ${__data.fields.x} $1 foo$ ${"),
            (std::vector<std::string>{"a", "b", "c", "d", "__data"}));
}

// ---------------------------------------------------------------------------------------------
// DashboardQueries and LoadDashboard.

const std::map<std::string, std::string> kSmallVars = {{"job", "a|b"}, {"__rate_interval", "1m"}};

TEST(DashboardQueries, CollectsTargetsNestedPanelsAnnotationsAndTemplating) {
  Result<std::vector<DashboardQuery>> q = DashboardQueries(GoodDashboard(), kSmallVars);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  ASSERT_EQ(q->size(), 5u);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"panel 2 \"Band\" target A", "foresight_forecast_upper{foresight_job=~\"a|b\"}"},
      {"panel 2 \"Band\" target B", "foresight_forecast_lower{foresight_job=~\"a|b\"}"},
      {"panel 4 \"ETA\" target A", "rate(foresight_refreshes_total{foresight_job=~\"a|b\"}[1m])"},
      {"annotation Anomalies", "foresight_anomaly{foresight_job=~\"a|b\"} == 1"},
      {"templating job", "foresight_model_info"},
  };
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*q)[i].dashboard, "foresight-test");
    EXPECT_EQ((*q)[i].where, want[i].first);
    EXPECT_EQ((*q)[i].expr, want[i].second);
  }
}

TEST(DashboardQueries, TemplatingQueryFunctions) {
  const json d = json::parse(R"json({"title": "Foresight / T", "templating": {"list": [
    {"name": "a", "type": "query", "query": {"query": "label_values(up{job=~\"$job\"}, instance)"}},
    {"name": "b", "type": "query", "query": "label_values(instance)"},
    {"name": "c", "type": "query", "query": "query_result(topk(3, up))"},
    {"name": "d", "type": "query", "query": "label_names()"},
    {"name": "e", "type": "query", "query": "metrics(foresight_.*)"},
    {"name": "f", "type": "query", "query": " up{job=\"x\"} "},
    {"name": "g", "type": "custom", "query": "1,2,3"},
    {"name": "h", "type": "textbox", "query": "service"},
    {"name": "i", "type": "query", "query": "label_values(x{a=\"1\"}, $h)"}
  ]}})json");
  Result<std::vector<DashboardQuery>> q = DashboardQueries(d, {{"job", "j"}, {"h", "service"}});
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  std::vector<std::string> got;
  for (const DashboardQuery& query : *q) {
    EXPECT_EQ(query.dashboard, "Foresight / T");  // no uid: the title
    got.push_back(query.where + ": " + query.expr);
  }
  EXPECT_EQ(got,
            (std::vector<std::string>{"templating a: up{job=~\"j\"}", "templating c: topk(3, up)",
                                      "templating f: up{job=\"x\"}", "templating i: x{a=\"1\"}"}));
}

TEST(DashboardQueries, UnknownVariableNamesItAndWhere) {
  Result<std::vector<DashboardQuery>> q = DashboardQueries(GoodDashboard(), {{"job", "a"}});
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
  // The nested panel's $__rate_interval is the first variable missing from the map.
  EXPECT_NE(q.status().message().find(
                "foresight-test panel 4 \"ETA\" target A: unknown variable \"__rate_interval\""),
            std::string::npos)
      << q.status().message();
}

TEST(DashboardQueries, UnknownVariableInTemplatingNamesTheVariable) {
  const json d = json::parse(R"json({"uid": "u", "templating": {"list": [
    {"name": "series", "type": "query", "query": "label_values(x, $series_label)"}]}})json");
  Result<std::vector<DashboardQuery>> q = DashboardQueries(d, {});
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("u templating series: unknown variable \"series_label\""),
            std::string::npos)
      << q.status().message();
}

TEST(DashboardQueries, MalformedStructureIsAnError) {
  json d = GoodDashboard();
  d[P("/panels/2/panels")] = json::object();
  Result<std::vector<DashboardQuery>> q = DashboardQueries(d, kSmallVars);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), "foresight-test: panel 3 \"Collapsed\": panels is not an array");

  d = GoodDashboard();
  d[P("/panels/1/targets/0/expr")] = 42;
  q = DashboardQueries(d, kSmallVars);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            "foresight-test: panel 2 \"Band\" target A: expr is not a string");

  d = GoodDashboard();
  d[P("/templating/list/1/query")] = {{"qryType", 1}};
  q = DashboardQueries(d, kSmallVars);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            "foresight-test: templating job: no query string (query, or query.query)");

  q = DashboardQueries(json::array(), kSmallVars);
  EXPECT_FALSE(q.ok());
}

class LoadDashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("load_dashboard_test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  fs::path dir_;
};

TEST_F(LoadDashboardTest, ParsesAnObject) {
  Result<json> d = LoadDashboard(Write("good.json", R"({"uid": "x", "panels": []})"));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->value("uid", ""), "x");
}

TEST_F(LoadDashboardTest, BadJsonNamesFileAndByte) {
  const std::string path = Write("bad.json", "{\"uid\": \"x\",\n  \"panels\": [}");
  Result<json> d = LoadDashboard(path);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(d.status().message().starts_with(path + ": invalid JSON at byte 27"))
      << d.status().message();
}

TEST_F(LoadDashboardTest, NotAnObject) {
  const std::string path = Write("array.json", "[1, 2]");
  Result<json> d = LoadDashboard(path);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), path + ": not a JSON object");
}

TEST_F(LoadDashboardTest, MissingFile) {
  Result<json> d = LoadDashboard((dir_ / "missing.json").string());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace foresight::testing
