#include "foresight/exporter/web.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "exporter_harness.h"
#include "foresight/common/timeparse.h"

namespace foresight::exporter {
namespace {

using fakes::ConfigYaml;
using fakes::ExporterHarness;
using fakes::JobYaml;
using fakes::PollUntil;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::minutes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

http::Request Get(std::string path, std::string query = "") {
  http::Request r;
  r.method = "GET";
  r.path = std::move(path);
  r.query_string = std::move(query);
  r.remote_addr = "127.0.0.1";
  return r;
}

http::Request Post(std::string path) {
  http::Request r = Get(std::move(path));
  r.method = "POST";
  return r;
}

// Inflates every gzip member of `z`, one after another.
std::string GunzipAll(const std::string& z) {
  std::string out;
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  zs.avail_in = static_cast<uInt>(z.size());
  char buf[65536];
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // the next member
      continue;
    }
    if (rc != Z_OK) {
      ADD_FAILURE() << "inflate: " << rc;
      break;
    }
  }
  inflateEnd(&zs);
  return out;
}

std::string HeaderValue(const http::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

const std::string kApi = JobYaml("api", "m{svc=\"api\"}");
const std::string kWeb = JobYaml("web", "m{svc=\"web\"}");
// A selector with characters HTML must escape.
const std::string kHtml = JobYaml("html", "m{svc=\"<script>&\"}");

class WebTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.AddSeries("api", "a", 0);
    h_.AddSeries("web", "w", 500);
    h_.WriteConfig(ConfigYaml({kApi, kWeb, kHtml}));
  }
  void StartAndWait() {
    ASSERT_TRUE(h_.Start());
    ASSERT_TRUE(h_.WaitReady());
    handler_ = MakeHandler(h_.exporter(), WebOptions{});
  }

  ExporterHarness h_;
  http::Handler handler_;
};

TEST_F(WebTest, Metrics) {
  StartAndWait();
  h_.exporter()->PublishNow();
  http::Response r = handler_(Get("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.content_type, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(r.body, HasSubstr("foresight_exporter_build_info{"));
  EXPECT_THAT(r.body,
              HasSubstr("foresight_forecast{instance=\"a\",svc=\"api\",foresight_job=\"api\","
                        "horizon=\"5m\"} "));
  // Asked for gzip (as Prometheus always does), the same text comes compressed.
  http::Request gz = Get("/metrics");
  gz.headers["accept-encoding"] = "gzip";
  http::Response zr = handler_(gz);
  EXPECT_EQ(zr.status, 200);
  EXPECT_EQ(HeaderValue(zr, "Content-Encoding"), "gzip");
  ASSERT_GE(zr.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(zr.body[0]), 0x1f);
  EXPECT_LT(zr.body.size(), r.body.size());
  EXPECT_EQ(HeaderValue(r, "Content-Encoding"), "");
  // One gzip member: self-metrics then forecasts, the same text.
  const std::string unzipped = GunzipAll(zr.body);
  EXPECT_THAT(unzipped, HasSubstr("foresight_exporter_build_info{"));
  EXPECT_THAT(unzipped,
              HasSubstr("foresight_forecast{instance=\"a\",svc=\"api\",foresight_job=\"api\","
                        "horizon=\"5m\"} "));
  // The forecast families (everything from the first of them on) are byte for byte the text's.
  const std::string first = "# HELP foresight_forecast ";
  ASSERT_NE(r.body.find(first), std::string::npos);
  ASSERT_NE(unzipped.find(first), std::string::npos);
  EXPECT_EQ(unzipped.substr(unzipped.find(first)), r.body.substr(r.body.find(first)));

  http::Request head = Get("/metrics");
  head.method = "HEAD";
  EXPECT_EQ(handler_(head).status, 200);

  r = handler_(Post("/metrics"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderValue(r, "Allow"), "GET");
}

TEST_F(WebTest, CustomTelemetryPath) {
  StartAndWait();
  http::Handler handler = MakeHandler(h_.exporter(), WebOptions{"/internal/metrics"});
  http::Response r = handler(Get("/internal/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("foresight_exporter_build_info{"));
  EXPECT_EQ(handler(Get("/metrics")).status, 404);
  EXPECT_THAT(handler(Get("/")).body, HasSubstr("href=\"/internal/metrics\""));
}

TEST_F(WebTest, HealthyAndReady) {
  h_.store()->Block();
  ASSERT_TRUE(h_.Start());
  handler_ = MakeHandler(h_.exporter(), WebOptions{});
  ASSERT_TRUE(PollUntil([&] { return h_.store()->waiting() >= 1; }));
  EXPECT_EQ(handler_(Get("/-/healthy")).status, 200);
  http::Response r = handler_(Get("/-/ready"));
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(handler_(Get("/")).body, HasSubstr("Not ready"));

  h_.store()->Release();
  ASSERT_TRUE(h_.WaitReady());
  EXPECT_EQ(handler_(Get("/-/ready")).status, 200);
  EXPECT_EQ(handler_(Get("/-/healthy")).status, 200);
  EXPECT_EQ(handler_(Post("/-/ready")).status, 405);
}

TEST_F(WebTest, Reload) {
  StartAndWait();
  http::Response r = handler_(Get("/-/reload"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderValue(r, "Allow"), "POST");

  h_.WriteConfig(ConfigYaml({kApi}));
  r = handler_(Post("/-/reload"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(h_.exporter()->Snapshots().size(), 1u);

  h_.WriteConfig("sources: [\n");
  r = handler_(Post("/-/reload"));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("failed to reload config: " + h_.config_file() + ":"));
  EXPECT_EQ(h_.exporter()->Snapshots().size(), 1u);
}

TEST_F(WebTest, ForecastsJsonShape) {
  StartAndWait();
  ASSERT_TRUE(PollUntil([&] {
    for (const auto& s : h_.exporter()->Snapshots()) {
      if (s->status.state == JobState::kPending) return false;
    }
    return true;
  }));
  http::Response r = handler_(Get("/api/v1/forecasts"));
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.content_type, HasSubstr("application/json"));
  const json body = json::parse(r.body);
  EXPECT_EQ(body["status"], "success");
  const json& jobs = body["data"]["jobs"];
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0]["job"], "api");
  EXPECT_EQ(jobs[1]["job"], "html");
  EXPECT_EQ(jobs[2]["job"], "web");
  EXPECT_TRUE(jobs[1]["series"].empty());  // its selector matches nothing

  const json& api = jobs[0];
  EXPECT_EQ(api["state"], "ok");
  EXPECT_EQ(api["error"], "");
  EXPECT_EQ(api["step_seconds"], 60);
  EXPECT_EQ(api["last_refresh_time"], FormatRfc3339Ms(fakes::kHarnessNow));
  EXPECT_EQ(api["last_success_time"], FormatRfc3339Ms(fakes::kHarnessNow));
  ASSERT_EQ(api["series"].size(), 1u);
  const json& s = api["series"][0];
  EXPECT_EQ(s["labels"], json({{"instance", "a"}, {"svc", "api"}}));
  EXPECT_TRUE(s["model"].is_string());
  EXPECT_TRUE(s["description"].is_string());
  EXPECT_TRUE(s["backtest_mase"].is_number() || s["backtest_mase"].is_null());
  EXPECT_TRUE(s["backtest_coverage_ratio"].is_number() || s["backtest_coverage_ratio"].is_null());
  EXPECT_EQ(s["origin_ms"], fakes::kHarnessT0);
  EXPECT_EQ(s["origin_time"], FormatRfc3339Ms(fakes::kHarnessT0));
  EXPECT_TRUE(s["anomaly"]["anomalous"].is_boolean());
  EXPECT_TRUE(s["anomaly"]["score"].is_number());
  EXPECT_TRUE(s["observed"].is_number());
  ASSERT_EQ(s["horizons"].size(), 2u);
  EXPECT_EQ(s["horizons"][0]["horizon"], "5m");
  EXPECT_EQ(s["horizons"][1]["horizon"], "15m");
  for (const json& h : s["horizons"]) {
    EXPECT_TRUE(h["forecast"].is_number());
    ASSERT_EQ(h["bands"].size(), 2u);
    EXPECT_EQ(h["bands"][0]["confidence"], "0.8");
    EXPECT_EQ(h["bands"][1]["confidence"], "0.95");
    EXPECT_LE(h["bands"][1]["lower"].get<double>(), h["bands"][0]["lower"].get<double>());
    EXPECT_GE(h["bands"][1]["upper"].get<double>(), h["bands"][0]["upper"].get<double>());
  }
  ASSERT_EQ(s["thresholds"].size(), 1u);
  const json& t = s["thresholds"][0];
  EXPECT_EQ(t["name"], "capacity");
  EXPECT_EQ(t["value"], 1000);
  EXPECT_EQ(t["direction"], "above");
  ASSERT_EQ(t["etas"].size(), 2u);
  for (const json& e : t["etas"]) {
    EXPECT_TRUE(e["seconds"].is_null()) << e;  // the series lives around 100, far below 1000
  }
  // Every step from the origin through now + 15m: now is 20 s past the origin, so 16 steps.
  const json& curve = s["curve"];
  ASSERT_EQ(curve.size(), 16u);
  EXPECT_EQ(curve[0]["time_ms"], fakes::kHarnessT0 + 60'000);
  EXPECT_EQ(curve[15]["time_ms"], fakes::kHarnessT0 + 16 * 60'000);
  EXPECT_TRUE(curve[0]["mean"].is_number());
  ASSERT_EQ(curve[0]["bands"].size(), 2u);
  EXPECT_EQ(curve[0]["bands"][1]["confidence"], "0.95");
}

TEST_F(WebTest, ForecastsJobFilter) {
  StartAndWait();
  http::Response r = handler_(Get("/api/v1/forecasts", "job=web"));
  ASSERT_EQ(r.status, 200);
  json body = json::parse(r.body);
  ASSERT_EQ(body["data"]["jobs"].size(), 1u);
  EXPECT_EQ(body["data"]["jobs"][0]["job"], "web");

  r = handler_(Get("/api/v1/forecasts", "job=web&job=api"));
  ASSERT_EQ(r.status, 200);
  body = json::parse(r.body);
  ASSERT_EQ(body["data"]["jobs"].size(), 2u);
  EXPECT_EQ(body["data"]["jobs"][0]["job"], "api");
  EXPECT_EQ(body["data"]["jobs"][1]["job"], "web");

  r = handler_(Get("/api/v1/forecasts", "job=api&job=nope"));
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.content_type, HasSubstr("application/json"));
  body = json::parse(r.body);
  EXPECT_EQ(body["status"], "error");
  EXPECT_EQ(body["errorType"], "not_found");
  EXPECT_EQ(body["error"], "unknown job \"nope\"");

  EXPECT_EQ(handler_(Post("/api/v1/forecasts")).status, 405);
}

TEST_F(WebTest, LandingPage) {
  StartAndWait();
  http::Response r = handler_(Get("/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.content_type, HasSubstr("text/html"));
  EXPECT_THAT(r.body, HasSubstr("<a href=\"/api/v1/forecasts?job=api\">api</a>"));
  EXPECT_THAT(r.body, HasSubstr("<a href=\"/api/v1/forecasts?job=web\">web</a>"));
  EXPECT_THAT(r.body, HasSubstr("<a href=\"/metrics\">"));
  EXPECT_THAT(r.body, HasSubstr("<code>m{svc=&quot;&lt;script&gt;&amp;&quot;}</code>"));
  EXPECT_THAT(r.body, Not(HasSubstr("<script>")));
  EXPECT_THAT(r.body, HasSubstr("Ready."));
}

TEST_F(WebTest, UnknownPath) {
  StartAndWait();
  EXPECT_EQ(handler_(Get("/nope")).status, 404);
  EXPECT_EQ(handler_(Get("/api/v1/forecasts/api")).status, 404);
  EXPECT_EQ(handler_(Post("/nope")).status, 404);
}

// ---- ForecastsJson on a hand-built snapshot: exact values ----

constexpr int64_t kOrigin = fakes::kHarnessT0;
constexpr int64_t kStep = 60'000;

// mean = 10 + x at origin + x steps (x = 1..10), bands +-1 (0.8) and +-2 (0.95).
std::shared_ptr<const JobSnapshot> LinearSnapshot(double backtest_mase) {
  ForecastJobConfig job;
  job.name = "lin";
  job.step = milliseconds(kStep);
  job.horizons = {minutes(2), minutes(5)};
  job.confidence = {0.8, 0.95};
  job.thresholds = {{"up17", 17, ThresholdDirection::kAbove},
                    {"floor", 5, ThresholdDirection::kBelow}};
  auto s = std::make_shared<SeriesForecast>();
  s->labels = {{"instance", "x"}, {"job", "node"}};
  s->origin_ms = kOrigin;
  s->last_sample_ms = kOrigin - 5'000;
  s->curve.bands = {forecast::Band{0.8, {}, {}}, forecast::Band{0.95, {}, {}}};
  for (int x = 1; x <= 10; ++x) {
    s->curve.mean.push_back(10 + x);
    s->curve.bands[0].lower.push_back(9 + x);
    s->curve.bands[0].upper.push_back(11 + x);
    s->curve.bands[1].lower.push_back(8 + x);
    s->curve.bands[1].upper.push_back(12 + x);
  }
  s->model = "theta";
  s->description = "Theta";
  s->backtest_mase = backtest_mase;
  s->backtest_coverage = kNaN;
  s->updates = 3;
  auto snap = std::make_shared<JobSnapshot>();
  snap->job = "lin";
  snap->config = std::make_shared<const ForecastJobConfig>(job);
  snap->status.state = JobState::kOk;
  snap->status.last_attempt_ms = kOrigin + 1'000;
  snap->status.last_success_ms = kOrigin + 2'000;
  snap->series = {s};
  return snap;
}

TEST(ForecastsJsonTest, ExactValues) {
  // Now is 1.5 steps after the origin.
  const json j = ForecastsJson({LinearSnapshot(0.5)}, kOrigin + 90'000);
  const json& job = j["data"]["jobs"][0];
  EXPECT_EQ(job["job"], "lin");
  EXPECT_EQ(job["state"], "ok");
  EXPECT_EQ(job["step_seconds"], 60);
  EXPECT_EQ(job["last_refresh_time"], FormatRfc3339Ms(kOrigin + 1'000));
  EXPECT_EQ(job["last_success_time"], FormatRfc3339Ms(kOrigin + 2'000));
  const json& s = job["series"][0];
  EXPECT_EQ(s["labels"], json({{"instance", "x"}, {"job", "node"}}));
  EXPECT_EQ(s["model"], "theta");
  EXPECT_EQ(s["description"], "Theta");
  EXPECT_EQ(s["backtest_mase"], 0.5);
  EXPECT_TRUE(s["backtest_coverage_ratio"].is_null());
  EXPECT_TRUE(s["anomaly"].is_null());
  EXPECT_EQ(s["origin_ms"], kOrigin);
  EXPECT_EQ(s["horizons"], json::parse(R"([
      {"horizon": "2m", "forecast": 13.5, "bands": [
          {"confidence": "0.8", "lower": 12.5, "upper": 14.5},
          {"confidence": "0.95", "lower": 11.5, "upper": 15.5}]},
      {"horizon": "5m", "forecast": 16.5, "bands": [
          {"confidence": "0.8", "lower": 15.5, "upper": 17.5},
          {"confidence": "0.95", "lower": 14.5, "upper": 18.5}]}])"));
  ASSERT_EQ(s["thresholds"].size(), 2u);
  const json& up = s["thresholds"][0];
  EXPECT_EQ(up["name"], "up17");
  EXPECT_EQ(up["direction"], "above");
  EXPECT_EQ(up["value"], 17);
  EXPECT_EQ(up["etas"][0]["confidence"], "0.8");
  EXPECT_NEAR(up["etas"][0]["seconds"].get<double>(), 270, 1e-9);
  EXPECT_NEAR(up["etas"][1]["seconds"].get<double>(), 210, 1e-9);
  const json& floor = s["thresholds"][1];
  EXPECT_EQ(floor["direction"], "below");
  EXPECT_TRUE(floor["etas"][0]["seconds"].is_null());
  EXPECT_TRUE(floor["etas"][1]["seconds"].is_null());
  // now + 5m is step 6.5: the curve runs to step 7, the first at or past it.
  const json& curve = s["curve"];
  ASSERT_EQ(curve.size(), 7u);
  EXPECT_EQ(curve[0], json::parse(R"({"time_ms": )" + std::to_string(kOrigin + kStep) +
                                  R"(, "mean": 11, "bands": [
      {"confidence": "0.8", "lower": 10, "upper": 12},
      {"confidence": "0.95", "lower": 9, "upper": 13}]})"));
  EXPECT_EQ(curve[6]["time_ms"], kOrigin + 7 * kStep);
  EXPECT_EQ(curve[6]["mean"], 17);
}

TEST(ForecastsJsonTest, CurveEndsAtTheLongestHorizonWhenOnAStep) {
  // Now is exactly one step after the origin: now + 5m is step 6, and the curve ends there.
  const json j = ForecastsJson({LinearSnapshot(0.5)}, kOrigin + kStep);
  const json& curve = j["data"]["jobs"][0]["series"][0]["curve"];
  ASSERT_EQ(curve.size(), 6u);
  EXPECT_EQ(curve.back()["time_ms"], kOrigin + 6 * kStep);
}

TEST(ForecastsJsonTest, MissingValuesAreNull) {
  auto snap = std::make_shared<JobSnapshot>(*LinearSnapshot(kNaN));
  snap->status = JobStatus{};  // no refresh yet
  json j = ForecastsJson({snap}, kOrigin + 90'000);
  const json& job = j["data"]["jobs"][0];
  EXPECT_EQ(job["state"], "pending");
  EXPECT_TRUE(job["last_refresh_time"].is_null());
  EXPECT_TRUE(job["last_success_time"].is_null());
  EXPECT_TRUE(job["series"][0]["backtest_mase"].is_null());

  // A curve that no longer reaches now + 5m: no horizons, no ETAs, and no curve past its end.
  j = ForecastsJson({LinearSnapshot(0.5)}, kOrigin + 6 * kStep);
  const json& s = j["data"]["jobs"][0]["series"][0];
  EXPECT_TRUE(s["horizons"].empty());
  EXPECT_TRUE(s["thresholds"][0]["etas"].empty());
  EXPECT_EQ(s["curve"].size(), 10u);

  j = ForecastsJson({}, kOrigin);
  EXPECT_EQ(j, json::parse(R"({"status": "success", "data": {"jobs": []}})"));
}

}  // namespace
}  // namespace foresight::exporter
