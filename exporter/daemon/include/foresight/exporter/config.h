#pragma once

// foresight_exporter's configuration: plain structs and their strict YAML decoding.
//
//   sources:
//     - name: main
//       remote_read_url: http://127.0.0.1:9090/api/v1/read
//   forecasts:
//     - name: api_rps
//       source: main
//       selector: 'service:http_requests:rate5m{service="api"}'
//
// config/foresight.yml shows every key with a comment. Decoding is strict, as Prometheus's is:
// an unknown or repeated key, a wrong type, a bad duration or selector, a duplicate name, a
// forecast naming an unknown source and inconsistent values (a horizon longer than the lookback,
// a season that is not a whole number of steps, ...) are errors of the form
// "file:line:column: what was wrong and what was expected", lines and columns from 1.
//
// Relative file paths (password_file, bearer_token_file, the tls files, calendar) are resolved
// against the config file's directory, as Prometheus does, so a config means the same thing
// whatever the working directory. The calendar is loaded and checked here: a bad calendar is a
// bad config. The other files are read when used (secrets may rotate).
//
// There is deliberately no global section: every default is below, in one place, and a
// defaults block can be added later without breaking existing files.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/forecast/calendar.h"
#include "foresight/forecast/engine.h"
#include "foresight/forecast/grid.h"
#include "foresight/remote_read/client.h"
#include "foresight/remote_read/http.h"
#include "foresight/remote_read/types.h"

namespace foresight::exporter {

// One remote-read endpoint. Names match [a-zA-Z_][a-zA-Z0-9_.-]*.
struct SourceConfig {
  std::string name;             // required
  std::string remote_read_url;  // required; http:// or https://
  // Optional. username is required inside it; password and password_file exclude each other.
  std::optional<remote_read::BasicAuth> basic_auth;
  // Optional; exclude each other and basic_auth.
  std::string bearer_token;
  std::string bearer_token_file;
  // Optional: ca_file, cert_file, key_file (cert and key together), server_name,
  // insecure_skip_verify (default false).
  remote_read::TlsOptions tls;
  std::chrono::milliseconds timeout{120000};  // default 2m: the whole request, body included
  // Optional extra request headers, e.g. X-Scope-OrgID for Mimir and Cortex. Headers the client
  // sets itself (Authorization, Content-Type, Content-Encoding, Accept-Encoding, User-Agent,
  // X-Prometheus-Remote-Read-Version) are refused.
  std::map<std::string, std::string> headers;
};

// The remote-read client options for a source; retries and limits keep the client's defaults.
remote_read::ClientOptions ToClientOptions(const SourceConfig& source);

enum class ThresholdDirection { kAbove, kBelow };

// A level a forecast is compared against: published as foresight_threshold and used for the
// time-to-threshold estimate. Names match [a-zA-Z_][a-zA-Z0-9_.-]* and are unique in a job.
struct ThresholdConfig {
  std::string name;                                           // required
  double value = 0;                                           // required; finite
  ThresholdDirection direction = ThresholdDirection::kAbove;  // default above
};

// What is done to each pulled series before modelling.
enum class SeriesTransform {
  kNone,      // a gauge, or a recording rule that is already a rate
  kRate,      // a counter, to per-second rate per step
  kIncrease,  // a counter, to increase per step
};

enum class AggregateOp { kNone, kSum, kAvg, kMax, kMin };

// "sum by (service)", "max without (instance, pod)", "avg" (everything into one series) or ""
// (no aggregation). Label names match [a-zA-Z_][a-zA-Z0-9_]* and are unique.
struct AggregateConfig {
  std::string text;  // as written, for display
  AggregateOp op = AggregateOp::kNone;
  bool without = false;             // false: `by` (a bare op is `by ()`)
  std::vector<std::string> labels;  // in the order written
};

// One forecast job: a selector on a source, refreshed on its own interval.
struct ForecastJobConfig {
  std::string name;                            // required; unique; the foresight_job label
  std::string source;                          // required; the name of a source
  std::string selector;                        // required; a PromQL vector selector, as written
  std::vector<remote_read::Matcher> matchers;  // parsed from selector
  SeriesTransform transform = SeriesTransform::kNone;  // default none
  // How the samples of one step become its value, for transform none (rate and increase have
  // their own rule): last (the default: what an instant query of the series shows at the step's
  // end, so the forecast is of the series itself, without lag), mean, max, min or sum.
  forecast::Aggregation step_aggregation = forecast::Aggregation::kLast;
  AggregateConfig aggregate;                           // default "": none
  std::chrono::milliseconds step{5 * 60 * 1000};       // default 5m; > 0
  // Default 14d; at least the longest horizon and at least two steps.
  std::chrono::milliseconds lookback{14LL * 24 * 3600 * 1000};
  // Default [15m, 1h, 6h]; non-empty, distinct, each a whole multiple of step, at most lookback.
  std::vector<std::chrono::milliseconds> horizons = {std::chrono::minutes(15),
                                                     std::chrono::hours(1), std::chrono::hours(6)};
  std::vector<double> confidence = {0.8, 0.95};  // default; non-empty, distinct, each in (0, 1)
  // `auto` (the default) lets the engine detect up to two seasons. A list fixes them: each a
  // whole multiple of step, at least two steps, at most half the lookback (two cycles are needed
  // to see a season); [] means no seasonality.
  bool seasonality_auto = true;
  std::vector<std::chrono::milliseconds> seasonality;
  std::vector<int> seasonal_periods;  // seasonality in steps, same order
  // `auto` (the default) is empty: every method. Otherwise distinct names from
  // forecast::AvailableMethodNames().
  std::vector<std::string> models;
  std::vector<ThresholdConfig> thresholds;           // default none
  std::chrono::milliseconds refresh{5 * 60 * 1000};  // default 5m; > 0
  // Optional events file, resolved against the config's directory ("" when absent), and its
  // contents (null when absent). Immutable, so copies of a Config share it.
  std::string calendar_file;
  std::shared_ptr<const forecast::Calendar> calendar;
  int64_t max_series = 1000;  // default 1000; > 0; series beyond it are dropped and counted
  // Default 30m or two steps, whichever is longer; at least one step. A series whose newest sample is older than this (at the
  // last successful read) has vanished from the source: it stops being published. While the
  // source is down nothing vanishes; the last good forecasts stay, for at most this long past
  // the longest horizon.
  std::chrono::milliseconds vanish_after{30 * 60 * 1000};
  forecast::ValueTransform value_transform = forecast::ValueTransform::kNone;  // none|log|boxcox
};

struct Config {
  std::vector<SourceConfig> sources;         // required, non-empty, unique names
  std::vector<ForecastJobConfig> forecasts;  // required, non-empty, unique names

  // nullptr when there is no such source.
  const SourceConfig* FindSource(std::string_view name) const;
};

// The spellings used in the config, for logs and the landing page.
const char* SeriesTransformName(SeriesTransform t);
const char* AggregateOpName(AggregateOp op);
const char* ThresholdDirectionName(ThresholdDirection d);
const char* ValueTransformName(forecast::ValueTransform t);

// Decodes a config. file_name is used in error messages only; base_dir resolves relative paths
// ("" leaves them relative to the working directory). Errors are InvalidArgument
// "file_name:line:column: message" (YAML syntax errors included); a calendar that cannot be
// read is NotFound.
Result<Config> ParseConfig(std::string_view yaml_text, std::string_view file_name,
                           const std::string& base_dir);

// Reads and decodes a file; relative paths in it resolve against its directory. NotFound when
// it cannot be read.
Result<Config> LoadConfig(const std::string& path);

}  // namespace foresight::exporter
