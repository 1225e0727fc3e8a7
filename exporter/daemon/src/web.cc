#include "foresight/exporter/web.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "foresight/common/log.h"
#include "foresight/common/text.h"
#include "foresight/common/timeparse.h"
#include "foresight/common/version.h"
#include "foresight/http/gzip.h"

namespace foresight::exporter {
namespace {

nlohmann::json Number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json Time(const std::optional<int64_t>& ms) {
  return ms ? nlohmann::json(FormatRfc3339Ms(*ms)) : nlohmann::json();
}

nlohmann::json BandsJson(const PublishedHorizon& h) {
  nlohmann::json bands = nlohmann::json::array();
  for (const PublishedBand& b : h.bands) {
    bands.push_back({{"confidence", b.confidence}, {"lower", Number(b.lower)}, {"upper", Number(b.upper)}});
  }
  return bands;
}

std::string LandingPage(const std::vector<std::shared_ptr<const JobSnapshot>>& snaps,
                        const std::string& telemetry_path, bool ready) {
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Foresight Exporter</title>"
      "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
      ".ok{color:#080}.stale,.failed{color:#b00}.pending{color:#888}</style></head><body>\n"
      "<h1>Foresight Exporter</h1>\n<p>Version " + std::string(kVersion) + ". " +
      (ready ? "Ready." : "Not ready: some jobs have not refreshed yet.") + "</p>\n<ul>"
      "<li><a href=\"" + HtmlEscape(telemetry_path) + "\">Metrics</a></li>"
      "<li><a href=\"/api/v1/forecasts\">Forecasts (JSON)</a></li>"
      "<li><a href=\"/-/healthy\">Health</a>, <a href=\"/-/ready\">Readiness</a></li></ul>\n"
      "<h2>Jobs</h2>\n<table><tr><th>Job</th><th>State</th><th>Series</th><th>Selector</th>"
      "<th>Step</th><th>Horizons</th><th>Last success</th><th>Dropped</th><th>Error</th></tr>\n";
  for (const auto& s : snaps) {
    const JobStatus& st = s->status;
    std::string horizons;
    for (auto h : s->config->horizons) horizons += (horizons.empty() ? "" : ", ") + HorizonLabel(h);
    const char* state = JobStateName(st.state);
    html += "<tr><td><a href=\"/api/v1/forecasts?job=" + http::UrlEncode(s->job) + "\">" +
            HtmlEscape(s->job) + "</a></td><td class=\"" + state + "\">" + state + "</td><td>" +
            std::to_string(s->series.size()) + "</td><td><code>" +
            HtmlEscape(s->config->selector) + "</code></td><td>" + HorizonLabel(s->config->step) + "</td><td>" + horizons +
            "</td><td>" + (st.last_success_ms ? FormatRfc3339Ms(*st.last_success_ms) : "never") +
            "</td><td>" +
            std::to_string(st.dropped_max_series + st.vanished + st.fit_failed) + "</td><td>" +
            HtmlEscape(st.error) + "</td></tr>\n";
  }
  html += "</table>\n</body></html>\n";
  return html;
}

}  // namespace

nlohmann::json ForecastsJson(const std::vector<std::shared_ptr<const JobSnapshot>>& snapshots,
                             int64_t now_ms) {
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& snap : snapshots) {
    const ForecastJobConfig& cfg = *snap->config;
    const int64_t step = cfg.step.count();
    int64_t longest = 0;
    for (auto h : cfg.horizons) longest = std::max<int64_t>(longest, h.count());
    PublishedJob pub = ToPublishedJob(*snap, now_ms);
    nlohmann::json series = nlohmann::json::array();
    for (size_t i = 0; i < snap->series.size(); ++i) {
      const SeriesForecast& sf = *snap->series[i];
      const PublishedSeries& ps = pub.series[i];
      nlohmann::json labels = nlohmann::json::object();
      for (const Label& l : sf.labels) labels[l.name] = l.value;
      nlohmann::json horizons = nlohmann::json::array();
      for (const PublishedHorizon& h : ps.horizons) {
        horizons.push_back({{"horizon", h.horizon}, {"forecast", Number(h.forecast)}, {"bands", BandsJson(h)}});
      }
      nlohmann::json thresholds = nlohmann::json::array();
      for (const PublishedThreshold& t : ps.thresholds) {
        nlohmann::json etas = nlohmann::json::array();
        for (const PublishedEta& e : t.etas) {
          etas.push_back({{"confidence", e.confidence},
                          {"seconds", e.seconds ? nlohmann::json(*e.seconds) : nlohmann::json()}});
        }
        thresholds.push_back({{"name", t.name}, {"value", Number(t.value)},
                              {"direction", t.above ? "above" : "below"}, {"etas", etas}});
      }
      nlohmann::json curve = nlohmann::json::array();
      const int64_t until = std::max(now_ms, sf.origin_ms) + longest;
      for (size_t j = 0; j < sf.curve.mean.size(); ++j) {
        const int64_t t = sf.origin_ms + static_cast<int64_t>(j + 1) * step;
        if (t >= until + step) break;  // the previous step already reached now + longest
        nlohmann::json bands = nlohmann::json::array();
        for (size_t b = 0; b < sf.curve.bands.size() && b < cfg.confidence.size(); ++b) {
          bands.push_back({{"confidence", ConfidenceLabel(cfg.confidence[b])},
                           {"lower", Number(sf.curve.bands[b].lower[j])},
                           {"upper", Number(sf.curve.bands[b].upper[j])}});
        }
        curve.push_back({{"time_ms", t}, {"mean", Number(sf.curve.mean[j])}, {"bands", bands}});
      }
      nlohmann::json anomaly;
      if (sf.anomaly) anomaly = {{"anomalous", sf.anomaly->anomalous}, {"score", Number(sf.anomaly->score)}};
      series.push_back({{"labels", labels},
                        {"model", sf.model},
                        {"description", sf.description},
                        {"backtest_mase", Number(sf.backtest_mase)},
                        {"backtest_coverage_ratio", Number(sf.backtest_coverage)},
                        {"origin_time", FormatRfc3339Ms(sf.origin_ms)},
                        {"origin_ms", sf.origin_ms},
                        {"last_sample_time", FormatRfc3339Ms(sf.last_sample_ms)},
                        {"updates", sf.updates},
                        {"observed", Number(sf.observed)},
                        {"anomaly", anomaly},
                        {"horizons", horizons},
                        {"thresholds", thresholds},
                        {"curve", curve}});
    }
    const JobStatus& st = snap->status;
    jobs.push_back({{"job", snap->job},
                    {"state", JobStateName(st.state)},
                    {"error", st.error},
                    {"step_seconds", step / 1000.0},
                    {"last_refresh_time", Time(st.last_attempt_ms)},
                    {"last_success_time", Time(st.last_success_ms)},
                    {"last_update_time", Time(st.last_update_ms)},
                    {"series_dropped", {{"max_series", st.dropped_max_series},
                                        {"vanished", st.vanished},
                                        {"fit_failed", st.fit_failed}}},
                    {"series", series}});
  }
  return {{"status", "success"}, {"data", {{"jobs", jobs}}}};
}

http::Handler MakeHandler(Exporter* exporter, WebOptions options) {
  return [exporter, options](const http::Request& req) -> http::Response {
    auto only = [&](const char* method) -> std::optional<http::Response> {
      if (req.method == method || (std::string(method) == "GET" && req.method == "HEAD")) {
        return std::nullopt;
      }
      http::Response r = http::Response::Text(405, "method " + req.method + " not allowed; use " + method + "\n");
      r.headers.emplace_back("Allow", method);
      return r;
    };
    if (req.path == options.telemetry_path) {
      if (auto r = only("GET")) return *r;
      http::Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      if (http::AcceptsGzip(req)) {  // Prometheus always asks for it
        r.body = exporter->MetricsGzip();
        r.headers.emplace_back("Content-Encoding", "gzip");
        r.headers.emplace_back("Vary", "Accept-Encoding");
      } else {
        r.body = exporter->MetricsText();
      }
      return r;
    }
    if (req.path == "/-/healthy") {
      if (auto r = only("GET")) return *r;
      return http::Response::Text(200, "Foresight Exporter is Healthy.\n");
    }
    if (req.path == "/-/ready") {
      if (auto r = only("GET")) return *r;
      if (exporter->Ready()) return http::Response::Text(200, "Foresight Exporter is Ready.\n");
      return http::Response::Text(503, "Foresight Exporter is not ready: first refreshes pending.\n");
    }
    if (req.path == "/-/reload") {
      if (auto r = only("POST")) return *r;
      Status st = exporter->Reload();
      if (!st.ok()) return http::Response::Text(500, "failed to reload config: " + st.message() + "\n");
      return http::Response::Text(200, "");
    }
    if (req.path == "/api/v1/forecasts") {
      if (auto r = only("GET")) return *r;
      auto snaps = exporter->Snapshots();
      std::vector<std::string> want = req.QueryAll("job");
      if (!want.empty()) {
        std::set<std::string> names(want.begin(), want.end());
        std::vector<std::shared_ptr<const JobSnapshot>> chosen;
        for (auto& s : snaps) {
          if (names.erase(s->job) != 0) chosen.push_back(s);
        }
        if (!names.empty()) {
          nlohmann::json err = {{"status", "error"},
                                {"errorType", "not_found"},
                                {"error", "unknown job \"" + *names.begin() + "\""}};
          return http::Response::Json(404, err.dump());
        }
        snaps = std::move(chosen);
      }
      http::Response r = http::Response::Json(
          200, ForecastsJson(snaps, ToUnixMillis(exporter->clock()->Now())).dump());
      http::MaybeGzip(req, &r);
      return r;
    }
    if (req.path == "/" || req.path.empty()) {
      if (auto r = only("GET")) return *r;
      return http::Response::Html(200, LandingPage(exporter->Snapshots(), options.telemetry_path,
                                                   exporter->Ready()));
    }
    return http::Response::Text(404, "404 page not found\n");
  };
}

}  // namespace foresight::exporter
