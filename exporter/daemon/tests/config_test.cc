#include "foresight/exporter/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace foresight::exporter {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::Pair;

const std::string kDir = FORESIGHT_EXPORTER_TESTDATA;

std::string Testdata(const std::string& name) { return kDir + "/" + name; }

constexpr milliseconds kDay = hours(24);

remote_read::Matcher M(remote_read::MatchType type, std::string name, std::string value) {
  return remote_read::Matcher{type, std::move(name), std::move(value)};
}

// A minimal valid document with one forecast job whose extra keys are `job_lines` (each
// indented for the job's map), so inline tests can vary one thing at a time.
std::string WithJob(const std::string& job_lines) {
  return "sources:\n"
         "  - name: main\n"
         "    remote_read_url: http://127.0.0.1:9090/api/v1/read\n"
         "forecasts:\n"
         "  - name: j\n"
         "    source: main\n"
         "    selector: up\n" +
         job_lines;
}

std::string ErrorOf(const std::string& yaml) {
  Result<Config> c = ParseConfig(yaml, "inline.yml", "/cfg");
  if (c.ok()) return "OK";
  return c.status().message();
}

TEST(ConfigTest, GoodFullDecodesEveryKey) {
  Result<Config> c = LoadConfig(Testdata("good_full.yml"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->sources.size(), 4u);

  const SourceConfig& main = c->sources[0];
  EXPECT_EQ(main.name, "main");
  EXPECT_EQ(main.remote_read_url, "https://prometheus.example:9090/api/v1/read");
  ASSERT_TRUE(main.basic_auth.has_value());
  EXPECT_EQ(main.basic_auth->username, "foresight");
  EXPECT_EQ(main.basic_auth->password, "");
  EXPECT_EQ(main.basic_auth->password_file, kDir + "/secrets/password");
  EXPECT_EQ(main.bearer_token, "");
  EXPECT_EQ(main.bearer_token_file, "");
  EXPECT_EQ(main.tls.ca_file, kDir + "/tls/ca.pem");
  EXPECT_EQ(main.tls.cert_file, "/etc/foresight/client.pem");  // absolute: kept
  EXPECT_EQ(main.tls.key_file, kDir + "/tls/client-key.pem");
  EXPECT_EQ(main.tls.server_name, "prometheus.internal");
  EXPECT_TRUE(main.tls.insecure_skip_verify);
  EXPECT_EQ(main.timeout, seconds(45));
  EXPECT_THAT(main.headers, ElementsAre(Pair("X-Extra", "a b"), Pair("X-Scope-OrgID", "tenant-1")));

  const SourceConfig& mimir = c->sources[1];
  EXPECT_EQ(mimir.name, "mimir");
  EXPECT_EQ(mimir.remote_read_url, "http://mimir:8080/prometheus/api/v1/read");
  EXPECT_FALSE(mimir.basic_auth.has_value());
  EXPECT_EQ(mimir.bearer_token, "s3cret");
  EXPECT_EQ(mimir.timeout, minutes(2));
  EXPECT_TRUE(mimir.headers.empty());

  const SourceConfig& thanos = c->sources[2];
  EXPECT_EQ(thanos.name, "thanos.eu-1");
  EXPECT_EQ(thanos.bearer_token_file, kDir + "/token");
  EXPECT_FALSE(thanos.tls.insecure_skip_verify);
  EXPECT_EQ(thanos.tls.ca_file, "");

  const SourceConfig& plain = c->sources[3];
  ASSERT_TRUE(plain.basic_auth.has_value());
  EXPECT_EQ(plain.basic_auth->username, "u");
  EXPECT_EQ(plain.basic_auth->password, "p");
  EXPECT_EQ(plain.basic_auth->password_file, "");

  ASSERT_EQ(c->forecasts.size(), 3u);
  const ForecastJobConfig& api = c->forecasts[0];
  EXPECT_EQ(api.name, "api_rps");
  EXPECT_EQ(api.source, "main");
  EXPECT_EQ(api.selector, "http_requests_total{service=\"api\",code!~\"5..\"}");
  EXPECT_THAT(api.matchers,
              ElementsAre(M(remote_read::MatchType::kEqual, "__name__", "http_requests_total"),
                          M(remote_read::MatchType::kEqual, "service", "api"),
                          M(remote_read::MatchType::kRegexNoMatch, "code", "5..")));
  EXPECT_EQ(api.transform, SeriesTransform::kIncrease);
  EXPECT_EQ(api.aggregate.text, "max without (instance, pod)");
  EXPECT_EQ(api.aggregate.op, AggregateOp::kMax);
  EXPECT_TRUE(api.aggregate.without);
  EXPECT_THAT(api.aggregate.labels, ElementsAre("instance", "pod"));
  EXPECT_EQ(api.step, minutes(10));
  EXPECT_EQ(api.lookback, 30 * kDay);
  EXPECT_THAT(api.horizons, ElementsAre(minutes(30), hours(2), kDay));
  EXPECT_THAT(api.confidence, ElementsAre(0.5, 0.9, 0.99));
  EXPECT_FALSE(api.seasonality_auto);
  EXPECT_THAT(api.seasonality, ElementsAre(kDay, 7 * kDay));
  EXPECT_THAT(api.seasonal_periods, ElementsAre(144, 1008));
  EXPECT_THAT(api.models, ElementsAre("ets", "mstl", "snaive"));
  ASSERT_EQ(api.thresholds.size(), 3u);
  EXPECT_EQ(api.thresholds[0].name, "capacity");
  EXPECT_EQ(api.thresholds[0].value, 1200);
  EXPECT_EQ(api.thresholds[0].direction, ThresholdDirection::kAbove);
  EXPECT_EQ(api.thresholds[1].name, "floor");
  EXPECT_EQ(api.thresholds[1].value, -25);
  EXPECT_EQ(api.thresholds[1].direction, ThresholdDirection::kBelow);
  EXPECT_EQ(api.thresholds[2].name, "soft_cap");
  EXPECT_EQ(api.thresholds[2].value, 900);
  EXPECT_EQ(api.thresholds[2].direction, ThresholdDirection::kAbove);  // the default
  EXPECT_EQ(api.refresh, seconds(90));
  EXPECT_EQ(api.calendar_file, kDir + "/calendar.yml");
  ASSERT_NE(api.calendar, nullptr);
  EXPECT_THAT(api.calendar->names(), ElementsAre("nightly_batch", "month_end"));
  EXPECT_EQ(api.max_series, 50);
  EXPECT_EQ(api.value_transform, forecast::ValueTransform::kBoxCox);

  const ForecastJobConfig& disk = c->forecasts[1];
  EXPECT_EQ(disk.name, "disk");
  EXPECT_EQ(disk.source, "mimir");
  EXPECT_THAT(disk.matchers, ElementsAre(M(remote_read::MatchType::kEqual, "__name__",
                                           "node_filesystem_avail_bytes")));
  EXPECT_EQ(disk.transform, SeriesTransform::kRate);
  EXPECT_EQ(disk.aggregate.text, "sum by (instance)");
  EXPECT_EQ(disk.aggregate.op, AggregateOp::kSum);
  EXPECT_FALSE(disk.aggregate.without);
  EXPECT_THAT(disk.aggregate.labels, ElementsAre("instance"));
  EXPECT_FALSE(disk.seasonality_auto);  // [] means no seasonality
  EXPECT_TRUE(disk.seasonality.empty());
  EXPECT_TRUE(disk.seasonal_periods.empty());
  EXPECT_TRUE(disk.models.empty());  // auto
  EXPECT_EQ(disk.value_transform, forecast::ValueTransform::kLog);

  const ForecastJobConfig& bare = c->forecasts[2];
  EXPECT_EQ(bare.source, "thanos.eu-1");
  EXPECT_THAT(bare.matchers, ElementsAre(M(remote_read::MatchType::kEqual, "__name__", "up")));
  EXPECT_EQ(bare.aggregate.op, AggregateOp::kAvg);
  EXPECT_FALSE(bare.aggregate.without);
  EXPECT_TRUE(bare.aggregate.labels.empty());
  EXPECT_TRUE(bare.seasonality_auto);
  EXPECT_EQ(bare.transform, SeriesTransform::kNone);
  EXPECT_EQ(bare.value_transform, forecast::ValueTransform::kNone);
  EXPECT_EQ(bare.step_aggregation, forecast::Aggregation::kMax);
  EXPECT_EQ(disk.step_aggregation, forecast::Aggregation::kLast);  // the default

  EXPECT_EQ(c->FindSource("mimir"), &c->sources[1]);
  EXPECT_EQ(c->FindSource("nope"), nullptr);
}

TEST(ConfigTest, GoodMinimalTakesEveryDefault) {
  Result<Config> c = LoadConfig(Testdata("good_minimal.yml"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->sources.size(), 1u);
  const SourceConfig& s = c->sources[0];
  EXPECT_EQ(s.name, "main");
  EXPECT_EQ(s.remote_read_url, "http://127.0.0.1:9090/api/v1/read");
  EXPECT_FALSE(s.basic_auth.has_value());
  EXPECT_EQ(s.bearer_token, "");
  EXPECT_EQ(s.bearer_token_file, "");
  EXPECT_EQ(s.tls.ca_file, "");
  EXPECT_EQ(s.tls.cert_file, "");
  EXPECT_EQ(s.tls.key_file, "");
  EXPECT_EQ(s.tls.server_name, "");
  EXPECT_FALSE(s.tls.insecure_skip_verify);
  EXPECT_EQ(s.timeout, minutes(2));
  EXPECT_TRUE(s.headers.empty());

  ASSERT_EQ(c->forecasts.size(), 1u);
  const ForecastJobConfig& j = c->forecasts[0];
  EXPECT_EQ(j.name, "api_rps");
  EXPECT_EQ(j.source, "main");
  EXPECT_EQ(j.selector, "service:http_requests:rate5m{service=\"api\"}");
  EXPECT_THAT(j.matchers, ElementsAre(M(remote_read::MatchType::kEqual, "__name__",
                                        "service:http_requests:rate5m"),
                                      M(remote_read::MatchType::kEqual, "service", "api")));
  EXPECT_EQ(j.transform, SeriesTransform::kNone);
  EXPECT_EQ(j.aggregate.text, "");
  EXPECT_EQ(j.aggregate.op, AggregateOp::kNone);
  EXPECT_TRUE(j.aggregate.labels.empty());
  EXPECT_EQ(j.step, minutes(5));
  EXPECT_EQ(j.lookback, 14 * kDay);
  EXPECT_THAT(j.horizons, ElementsAre(minutes(15), hours(1), hours(6)));
  EXPECT_THAT(j.confidence, ElementsAre(0.8, 0.95));
  EXPECT_TRUE(j.seasonality_auto);
  EXPECT_TRUE(j.seasonality.empty());
  EXPECT_TRUE(j.seasonal_periods.empty());
  EXPECT_TRUE(j.models.empty());
  EXPECT_TRUE(j.thresholds.empty());
  EXPECT_EQ(j.refresh, minutes(5));
  EXPECT_EQ(j.vanish_after, minutes(30));
  EXPECT_EQ(j.calendar_file, "");
  EXPECT_EQ(j.calendar, nullptr);
  EXPECT_EQ(j.max_series, 1000);
  EXPECT_EQ(j.value_transform, forecast::ValueTransform::kNone);
}

// The documented example shipped in config/ must stay loadable.
TEST(ConfigTest, ExampleConfigLoads) {
  const std::string path = kDir + "/../../../../config/foresight.yml";
  Result<Config> c = LoadConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->sources.size(), 1u);
  EXPECT_EQ(c->sources[0].remote_read_url, "http://127.0.0.1:9090/api/v1/read");
  EXPECT_THAT(c->sources[0].headers, ElementsAre(Pair("X-Scope-OrgID", "demo")));
  ASSERT_EQ(c->forecasts.size(), 2u);
  const ForecastJobConfig& api = c->forecasts[0];
  EXPECT_EQ(api.name, "api_rps");
  EXPECT_THAT(api.horizons, ElementsAre(minutes(15), hours(1), hours(6)));
  ASSERT_EQ(api.thresholds.size(), 1u);
  EXPECT_EQ(api.thresholds[0].value, 1200);
  ASSERT_NE(api.calendar, nullptr);
  EXPECT_EQ(api.calendar_file, kDir + "/../../../../config/events.yml");
  const ForecastJobConfig& req = c->forecasts[1];
  EXPECT_EQ(req.aggregate.op, AggregateOp::kSum);
  EXPECT_THAT(req.seasonal_periods, ElementsAre(288, 2016));
  EXPECT_THAT(req.models, ElementsAre("mstl", "ets", "snaive"));
  EXPECT_EQ(req.thresholds[0].direction, ThresholdDirection::kBelow);
}

struct BadFile {
  std::string file;
  StatusCode code;
  std::string message;  // after "<path>:"; "{dir}" stands for the testdata directory
};

void PrintTo(const BadFile& b, std::ostream* os) { *os << b.file; }

class ConfigBadFileTest : public ::testing::TestWithParam<BadFile> {};

TEST_P(ConfigBadFileTest, FailsWithExactMessage) {
  const BadFile& bad = GetParam();
  std::string expected = Testdata(bad.file) + ":" + bad.message;
  for (size_t at = expected.find("{dir}"); at != std::string::npos; at = expected.find("{dir}")) {
    expected.replace(at, 5, kDir);
  }
  Result<Config> c = LoadConfig(Testdata(bad.file));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), bad.code);
  EXPECT_EQ(c.status().message(), expected);
}

const StatusCode kInvalid = StatusCode::kInvalidArgument;

INSTANTIATE_TEST_SUITE_P(
    ConfigBad, ConfigBadFileTest,
    ::testing::Values(
        BadFile{"bad_syntax.yml", kInvalid, "8:4: invalid YAML: end of sequence not found"},
        BadFile{"bad_empty.yml", kInvalid,
                "1:1: empty config: want a map with the keys \"sources\" and \"forecasts\""},
        BadFile{"bad_unknown_top_key.yml", kInvalid,
                "4:1: unknown key \"scrape_configs\" at the top level (allowed: sources, "
                "forecasts)"},
        BadFile{"bad_unknown_key.yml", kInvalid,
                "8:5: unknown key \"lookbak\" in forecast \"api_rps\" (allowed: name, source, "
                "selector, transform, aggregate, step, lookback, horizons, confidence, "
                "seasonality, models, thresholds, refresh, calendar, max_series, "
                "value_transform, vanish_after, step_aggregation)"},
        BadFile{"bad_unknown_source_key.yml", kInvalid,
                "3:5: unknown key \"url\" in source \"main\" (allowed: name, remote_read_url, "
                "basic_auth, bearer_token, bearer_token_file, tls, timeout, headers)"},
        BadFile{"bad_duplicate_key.yml", kInvalid,
                "9:5: duplicate key \"step\" in forecast \"api_rps\""},
        BadFile{"bad_wrong_type.yml", kInvalid,
                "8:15: forecast \"api_rps\": horizons must be a list of durations such as "
                "[15m, 1h], got a scalar"},
        BadFile{"bad_null_value.yml", kInvalid,
                "8:5: forecast \"api_rps\": step must be a duration such as 5m, got null"},
        BadFile{"bad_duration.yml", kInvalid,
                "8:11: forecast \"api_rps\": step: bad duration \"5 minutes\": unknown unit "
                "\" minutes\" at offset 1 (expected one of y, w, d, h, m, s, ms)"},
        BadFile{"bad_selector.yml", kInvalid,
                "7:15: forecast \"api_rps\": selector: bad selector at offset 6: expected '=', "
                "'!=', '=~' or '!~' after label name \"job\"\n"
                "  up{job~\"x\"}\n"
                "        ^"},
        BadFile{"bad_missing_selector.yml", kInvalid,
                "5:5: forecast \"api_rps\": missing required key \"selector\""},
        BadFile{"bad_missing_forecasts.yml", kInvalid,
                "1:1: missing required key \"forecasts\" at the top level"},
        BadFile{"bad_name.yml", kInvalid,
                "5:11: forecast #1: name \"api rps\" must match [a-zA-Z_][a-zA-Z0-9_.-]*"},
        BadFile{"bad_duplicate_job.yml", kInvalid,
                "8:11: duplicate forecast name \"api_rps\" (first at line 5)"},
        BadFile{"bad_duplicate_source.yml", kInvalid,
                "4:11: duplicate source name \"main\" (first at line 2)"},
        BadFile{"bad_unknown_source.yml", kInvalid,
                "6:13: forecast \"api_rps\": unknown source \"mian\" (sources: main)"},
        BadFile{"bad_horizon_lookback.yml", kInvalid,
                "9:20: forecast \"api_rps\": horizon 30d is longer than lookback 14d"},
        BadFile{"bad_default_horizon_lookback.yml", kInvalid,
                "8:5: forecast \"api_rps\": the default horizon 6h is longer than lookback 2h; "
                "set horizons"},
        BadFile{"bad_horizons_empty.yml", kInvalid,
                "8:15: forecast \"api_rps\": horizons must not be empty"},
        BadFile{"bad_horizon_step.yml", kInvalid,
                "8:21: forecast \"api_rps\": horizon 7m must be a whole multiple of step 5m"},
        BadFile{"bad_confidence.yml", kInvalid,
                "8:23: forecast \"api_rps\": confidence 95 must be between 0 and 1 (exclusive), "
                "e.g. 0.95"},
        BadFile{"bad_threshold_direction.yml", kInvalid,
                "9:50: forecast \"api_rps\" threshold \"capacity\": direction \"up\" must be "
                "above or below"},
        BadFile{"bad_threshold_value.yml", kInvalid,
                "10:16: forecast \"api_rps\" threshold \"capacity\": value must be a finite "
                "number, got \"lots\""},
        BadFile{"bad_aggregate.yml", kInvalid,
                "8:16: forecast \"api_rps\": aggregate \"topk(5, x)\": unsupported operator "
                "\"topk\"; want \"\", OP, \"OP by (label, ...)\" or \"OP without (label, ...)\" "
                "with OP one of sum, avg, max, min"},
        BadFile{"bad_seasonality_step.yml", kInvalid,
                "10:23: forecast \"api_rps\": season 90m must be a whole multiple of step 1h"},
        BadFile{"bad_seasonality_type.yml", kInvalid,
                "8:18: forecast \"api_rps\": seasonality must be auto or a list of durations "
                "such as [1d, 1w], got \"daily\""},
        BadFile{"bad_model.yml", kInvalid,
                "8:19: forecast \"api_rps\": unknown model \"prophet\" (known: snaive, smean, "
                "ets, mstl, theta, regression, naive)"},
        BadFile{"bad_calendar.yml", kInvalid,
                "8:15: forecast \"api_rps\": calendar \"calendar_bad.yml\": "
                "{dir}/calendar_bad.yml:4:10: end of event \"launch\" "
                "(2024-04-01T00:00:00.000Z) must be after its start (2024-05-01T00:00:00.000Z)"},
        BadFile{"bad_calendar_missing.yml", StatusCode::kNotFound,
                "8:15: forecast \"api_rps\": calendar \"no_such_calendar.yml\": cannot read "
                "calendar file {dir}/no_such_calendar.yml"},
        BadFile{"bad_max_series.yml", kInvalid,
                "8:17: forecast \"api_rps\": max_series must be a positive integer, got \"0\""},
        BadFile{"bad_transform.yml", kInvalid,
                "8:16: forecast \"api_rps\": transform \"deriv\" must be none, rate or increase"},
        BadFile{"bad_value_transform.yml", kInvalid,
                "8:22: forecast \"api_rps\": value_transform \"sqrt\" must be none, log or "
                "boxcox"},
        BadFile{"bad_auth_exclusive.yml", kInvalid,
                "5:5: source \"main\": basic_auth and a bearer token exclude each other"},
        BadFile{"bad_url.yml", kInvalid,
                "3:22: source \"main\": remote_read_url \"127.0.0.1:9090/api/v1/read\" must be "
                "an http:// or https:// URL such as http://127.0.0.1:9090/api/v1/read"},
        BadFile{"bad_header.yml", kInvalid,
                "6:7: source \"main\": header \"Authorization\" is set by the client and cannot "
                "be configured"},
        BadFile{"bad_bool.yml", kInvalid,
                "5:29: source \"main\" tls: insecure_skip_verify must be true or false, got "
                "\"yes\""}),
    [](const ::testing::TestParamInfo<BadFile>& file_info) {
      std::string name = file_info.param.file.substr(0, file_info.param.file.find('.'));
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(ConfigTest, LoadConfigMissingFileIsNotFound) {
  Result<Config> c = LoadConfig(Testdata("no_such_config.yml"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "cannot read config file " + Testdata("no_such_config.yml"));
}

TEST(ConfigTest, AggregateForms) {
  struct Case {
    std::string text;
    AggregateOp op;
    bool without;
    std::vector<std::string> labels;
  };
  const Case cases[] = {
      {"", AggregateOp::kNone, false, {}},
      {"  ", AggregateOp::kNone, false, {}},
      {"sum", AggregateOp::kSum, false, {}},
      {"min by ()", AggregateOp::kMin, false, {}},
      {"max by(a,b_2,)", AggregateOp::kMax, false, {"a", "b_2"}},
      {"avg without (instance)", AggregateOp::kAvg, true, {"instance"}},
      {"SUM BY (service)", AggregateOp::kSum, false, {"service"}},
  };
  for (const Case& tc : cases) {
    Result<Config> c =
        ParseConfig(WithJob("    aggregate: \"" + tc.text + "\"\n"), "inline.yml", "");
    ASSERT_TRUE(c.ok()) << tc.text << ": " << c.status().ToString();
    const AggregateConfig& agg = c->forecasts[0].aggregate;
    EXPECT_EQ(agg.text, tc.text);
    EXPECT_EQ(agg.op, tc.op) << tc.text;
    EXPECT_EQ(agg.without, tc.without) << tc.text;
    EXPECT_EQ(agg.labels, tc.labels) << tc.text;
  }
  const std::string want =
      "; want \"\", OP, \"OP by (label, ...)\" or \"OP without (label, ...)\" with OP one of "
      "sum, avg, max, min";
  const std::pair<std::string, std::string> bad[] = {
      {"sum by service", "expected \"(\" at offset 7"},
      {"sum on (a)", "expected \"by\" or \"without\" at offset 4"},
      {"sum by (a b)", "expected \",\" or \")\" at offset 10"},
      {"sum by (a, a)", "label \"a\" is listed twice"},
      {"sum by (1a)", "expected a label name at offset 8"},
      {"sum by (a", "expected \",\" or \")\" at offset 9"},
      {"sum by (a) x", "unexpected \"x\" at offset 11"},
      {"(sum)", "expected an aggregation operator at offset 0"},
      {"count by (a)", "unsupported operator \"count\""},
  };
  for (const auto& [text, why] : bad) {
    EXPECT_EQ(ErrorOf(WithJob("    aggregate: \"" + text + "\"\n")),
              "inline.yml:8:16: forecast \"j\": aggregate \"" + text + "\": " + why + want);
  }
}

TEST(ConfigTest, InlineErrors) {
  const std::pair<std::string, std::string> cases[] = {
      {"    step: 1h\n",
       "inline.yml:8:5: forecast \"j\": the default horizon 15m is not a whole multiple of step "
       "1h; set horizons"},
      {"    step: 1h\n    lookback: 1h\n    horizons: [1h]\n",
       "inline.yml:9:5: forecast \"j\": lookback 1h must be at least two steps (step 1h)"},
      {"    step: 0\n", "inline.yml:8:11: forecast \"j\": step must be greater than 0"},
      {"    horizons: [0, 1h]\n",
       "inline.yml:8:16: forecast \"j\": horizon 0 must be greater than 0"},
      {"    horizons: [1h, 1h]\n", "inline.yml:8:20: forecast \"j\": horizon 1h is listed twice"},
      {"    horizons: [1h, [2h]]\n",
       "inline.yml:8:20: forecast \"j\": horizon must be a duration such as 5m, got a list"},
      {"    confidence: []\n", "inline.yml:8:17: forecast \"j\": confidence must not be empty"},
      {"    confidence: [0]\n",
       "inline.yml:8:18: forecast \"j\": confidence 0 must be between 0 and 1 (exclusive), e.g. "
       "0.95"},
      {"    confidence: [0.9, .9]\n",
       "inline.yml:8:23: forecast \"j\": confidence .9 is listed twice"},
      {"    confidence: [nan]\n",
       "inline.yml:8:18: forecast \"j\": confidence must be a finite number, got \"nan\""},
      {"    seasonality: [1d, 1d]\n", "inline.yml:8:23: forecast \"j\": season 1d is listed twice"},
      {"    seasonality: [5m]\n",
       "inline.yml:8:19: forecast \"j\": season 5m must be at least two steps (step 5m)"},
      {"    lookback: 10d\n    seasonality: [1w]\n",
       "inline.yml:9:19: forecast \"j\": season 1w needs two cycles of history, more than "
       "lookback 10d"},
      {"    models: []\n",
       "inline.yml:8:13: forecast \"j\": models must be auto or a non-empty list of model names "
       "(snaive, smean, ets, mstl, theta, regression, naive), got an empty list"},
      {"    models: [ets, ets]\n",
       "inline.yml:8:19: forecast \"j\": model \"ets\" is listed twice"},
      {"    models: ets\n",
       "inline.yml:8:13: forecast \"j\": models must be auto or a non-empty list of model names "
       "(snaive, smean, ets, mstl, theta, regression, naive), got \"ets\""},
      {"    thresholds: {name: x, value: 1}\n",
       "inline.yml:8:17: forecast \"j\": thresholds must be a list of maps such as "
       "{name: capacity, value: 1200}, got a map"},
      {"    thresholds: [{name: x}]\n",
       "inline.yml:8:18: forecast \"j\" threshold \"x\": missing required key \"value\""},
      {"    thresholds: [{name: x, value: 1}, {name: x, value: 2}]\n",
       "inline.yml:8:39: forecast \"j\": duplicate threshold name \"x\""},
      {"    thresholds: [{name: x, value: 1, dir: up}]\n",
       "inline.yml:8:38: unknown key \"dir\" in forecast \"j\" threshold \"x\" (allowed: name, "
       "value, direction)"},
      {"    max_series: 1.5\n",
       "inline.yml:8:17: forecast \"j\": max_series must be a positive integer, got \"1.5\""},
      {"    step_aggregation: median\n",
       "inline.yml:8:23: forecast \"j\": step_aggregation \"median\" must be last, mean, max, min "
       "or sum"},
      {"    transform: rate\n    step_aggregation: max\n",
       "inline.yml:9:23: forecast \"j\": step_aggregation applies to transform none only (rate and "
       "increase use every sample of the step)"},
      {"    vanish_after: 1m\n",
       "inline.yml:8:5: forecast \"j\": vanish_after 1m must be at least one step (step 5m)"},
      {"    vanish_after: -5m\n",
       "inline.yml:8:19: forecast \"j\": vanish_after: bad duration \"-5m\": expected a number at "
       "offset 0"},
      {"    refresh: [5m]\n",
       "inline.yml:8:14: forecast \"j\": refresh must be a duration such as 5m, got a list"},
      {"    calendar: \"\"\n", "inline.yml:8:15: forecast \"j\": calendar must not be empty"},
      {"    source: [main]\n", "inline.yml:8:5: duplicate key \"source\" in forecast \"j\""},
      {"    ? [a]\n    : b\n",
       "inline.yml:8:7: keys must be strings, got a list in forecast \"j\""},
  };
  for (const auto& [lines, want] : cases) {
    EXPECT_EQ(ErrorOf(WithJob(lines)), want) << lines;
  }
}

TEST(ConfigTest, InlineDocumentAndSourceErrors) {
  const std::string job = "forecasts:\n  - {name: j, source: main, selector: up}\n";
  const std::pair<std::string, std::string> cases[] = {
      {"[1, 2]\n",
       "inline.yml:1:1: the top level must be a map with the keys \"sources\" and "
       "\"forecasts\", got a list"},
      {"sources: []\n" + job,
       "inline.yml:1:10: sources must be a non-empty list of sources, got "
       "an empty list"},
      {"sources:\n  - {name: main, remote_read_url: http://a/}\nforecasts: []\n",
       "inline.yml:3:12: forecasts must be a non-empty list of forecast jobs, got an empty list"},
      {"forecasts: []\n", "inline.yml:1:1: missing required key \"sources\" at the top level"},
      {"sources:\n  - main\n" + job, "inline.yml:2:5: source #1 must be a map, got a scalar"},
      {"sources:\n  - {name: main}\n" + job,
       "inline.yml:2:5: source \"main\": missing required key \"remote_read_url\""},
      {"sources:\n  - {name: main, remote_read_url: \"http://\"}\n" + job,
       "inline.yml:2:35: source \"main\": remote_read_url \"http://\" must be an http:// or "
       "https:// URL such as http://127.0.0.1:9090/api/v1/read"},
      {"sources:\n  - {name: main, remote_read_url: http://a/, timeout: -1s}\n" + job,
       "inline.yml:2:55: source \"main\": timeout: bad duration \"-1s\": expected a number at "
       "offset 0"},
      {"sources:\n  - {name: main, remote_read_url: http://a/, basic_auth: {password: p}}\n" + job,
       "inline.yml:2:58: source \"main\" basic_auth: missing required key \"username\""},
      {"sources:\n  - {name: main, remote_read_url: http://a/,\n"
       "     basic_auth: {username: u, password: p, password_file: f}}\n" +
           job,
       "inline.yml:3:45: source \"main\" basic_auth: password and password_file exclude each "
       "other"},
      {"sources:\n  - {name: main, remote_read_url: http://a/, bearer_token: a,\n"
       "     bearer_token_file: f}\n" +
           job,
       "inline.yml:3:6: source \"main\": bearer_token and bearer_token_file exclude each other"},
      {"sources:\n  - {name: main, remote_read_url: http://a/, tls: {cert_file: c}}\n" + job,
       "inline.yml:2:52: source \"main\" tls: cert_file and key_file must be given together"},
      {"sources:\n  - {name: main, remote_read_url: http://a/, tls: true}\n" + job,
       "inline.yml:2:51: source \"main\": tls must be a map, got a scalar"},
      {"sources:\n  - {name: main, remote_read_url: http://a/, headers: {X-A: 1, x-a: 2}}\n" + job,
       "inline.yml:2:64: source \"main\": duplicate header \"x-a\""},
      {"sources:\n  - {name: main, remote_read_url: http://a/, headers: {\"X A\": 1}}\n" + job,
       "inline.yml:2:56: source \"main\": header name \"X A\" must be an HTTP token such as "
       "X-Scope-OrgID"},
      {"sources:\n  - {name: main, remote_read_url: http://a/, headers: {X-A: [1]}}\n" + job,
       "inline.yml:2:61: source \"main\": header \"X-A\" must be a string, got a list"},
      {"sources:\n  - {name: main, remote_read_url: http://a/, headers: {X-A: \"a\\nb\"}}\n" + job,
       "inline.yml:2:61: source \"main\": header \"X-A\" must not contain line breaks or NUL"},
  };
  for (const auto& [yaml, want] : cases) {
    EXPECT_EQ(ErrorOf(yaml), want) << yaml;
  }
}

TEST(ConfigTest, RelativePathsStayRelativeWithoutBaseDir) {
  Result<Config> c = ParseConfig(
      "sources:\n"
      "  - name: main\n"
      "    remote_read_url: http://a/\n"
      "    bearer_token_file: secrets/token\n"
      "forecasts:\n"
      "  - {name: j, source: main, selector: up}\n",
      "inline.yml", "");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->sources[0].bearer_token_file, "secrets/token");
}

TEST(ConfigTest, SourceToClientOptions) {
  Result<Config> c = LoadConfig(Testdata("good_full.yml"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  remote_read::ClientOptions o = ToClientOptions(c->sources[0]);
  EXPECT_EQ(o.url, "https://prometheus.example:9090/api/v1/read");
  ASSERT_TRUE(o.basic_auth.has_value());
  EXPECT_EQ(o.basic_auth->username, "foresight");
  EXPECT_EQ(o.basic_auth->password_file, kDir + "/secrets/password");
  EXPECT_THAT(o.headers, ElementsAre(Pair("X-Extra", "a b"), Pair("X-Scope-OrgID", "tenant-1")));
  EXPECT_EQ(o.http.timeout, seconds(45));
  EXPECT_EQ(o.http.connect_timeout, seconds(5));
  EXPECT_EQ(o.http.tls.ca_file, kDir + "/tls/ca.pem");
  EXPECT_EQ(o.http.tls.cert_file, "/etc/foresight/client.pem");
  EXPECT_EQ(o.http.tls.key_file, kDir + "/tls/client-key.pem");
  EXPECT_EQ(o.http.tls.server_name, "prometheus.internal");
  EXPECT_TRUE(o.http.tls.insecure_skip_verify);

  remote_read::ClientOptions m = ToClientOptions(c->sources[1]);
  EXPECT_FALSE(m.basic_auth.has_value());
  EXPECT_EQ(m.bearer_token, "s3cret");
  EXPECT_TRUE(m.headers.empty());

  SourceConfig quick = c->sources[2];
  quick.timeout = seconds(2);
  remote_read::ClientOptions q = ToClientOptions(quick);
  EXPECT_EQ(q.bearer_token_file, kDir + "/token");
  EXPECT_EQ(q.http.connect_timeout, seconds(2));  // never longer than the whole request
}

TEST(ConfigTest, Names) {
  EXPECT_STREQ(SeriesTransformName(SeriesTransform::kIncrease), "increase");
  EXPECT_STREQ(AggregateOpName(AggregateOp::kAvg), "avg");
  EXPECT_STREQ(ThresholdDirectionName(ThresholdDirection::kBelow), "below");
  EXPECT_STREQ(ValueTransformName(forecast::ValueTransform::kBoxCox), "boxcox");
}

}  // namespace
}  // namespace foresight::exporter
