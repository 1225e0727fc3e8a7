#pragma once

// foresight_exporter's HTTP endpoints, as a handler for foresight::http::Server:
//   GET  /                        landing page: jobs, their state and links
//   GET  <telemetry path>         /metrics by default: self-metrics and forecasts
//   GET  /-/healthy               200 while the process serves
//   GET  /-/ready                 200 once every job's first refresh was attempted, else 503
//   POST /-/reload                re-reads the config; 500 with the error when it is bad
//   GET  /api/v1/forecasts        every job's forecasts as JSON; ?job=a&job=b selects jobs
//                                 (404 naming an unknown job)
// Other paths are 404; a wrong method on a known path is 405 with an Allow header.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "foresight/exporter/exporter.h"
#include "foresight/exporter/job.h"
#include "foresight/http/server.h"

namespace foresight::exporter {

struct WebOptions {
  std::string telemetry_path = "/metrics";
};

// The exporter must outlive the handler.
http::Handler MakeHandler(Exporter* exporter, WebOptions options);

// The JSON API's body for these snapshots at `now_ms`:
// {"status":"success","data":{"jobs":[{"job","state","error","step_seconds",
//   "last_refresh_time","last_success_time","series":[{"labels":{},"model","description",
//   "backtest_mase","backtest_coverage_ratio","origin_time","origin_ms","anomaly":{...},
//   "horizons":[{"horizon","forecast","bands":[{"confidence","lower","upper"}]}],
//   "thresholds":[{"name","value","direction","etas":[{"confidence","seconds"}]}],
//   "curve":[{"time_ms","mean","bands":[...]}]}]}]}}
// Times are RFC 3339 in UTC; a missing value (no backtest, no ETA, no refresh yet) is null.
// The horizons and thresholds are the published values (publish.h), the curve is every step
// from the origin to the longest horizon after now.
nlohmann::json ForecastsJson(const std::vector<std::shared_ptr<const JobSnapshot>>& snapshots,
                             int64_t now_ms);

}  // namespace foresight::exporter
