// Accuracy of foresight_exporter's published 1-hour-ahead forecasts on the demo data, beside
// Prometheus's own predict_linear(x[6h], 3600) evaluated by the same Prometheus: the built-in
// alternative a user reaches for.
//
// 1. The demo CSVs (demo/data) are backfilled exactly as demo/make_openmetrics.sh writes them
//    (same names, labels and values, one sample a minute, gauges held between readings), shifted
//    so that the data ends at a whole hour about an hour before real now, into a real Prometheus
//    (tests/fixture).
// 2. Ours: config/demo.yml parsed by exporter::ParseConfig (remote_read_url pointed at that
//    Prometheus), one exporter::JobRunner per job with the production remote-read reader, a
//    FitPool of 2 threads and a FakeClock walked through the evaluation window (the last --days
//    of data): Refresh() every --refit, Update() at every other step boundary, as the exporter's
//    driver does with `refresh: <refit>` (the job's refresh is set to --refit). At each
//    evaluation time t (every 5 minutes, or every step when the step is longer) the published
//    1h forecast and bands are taken from ToPublishedJob(*Snapshot(), t).
// 3. The peer, from the same Prometheus through /api/v1/query_range (step 300 s): for a gauge
//    predict_linear(SELECTOR[6h], 3600); for the counter (transform: rate) the user's
//    equivalent over the per-second rate, a subquery:
//    predict_linear(rate(SELECTOR[5m])[6h:1m], 3600).
// 4. The actual at t + 1h as a dashboard shows it: rate(SELECTOR[5m]) for the counter, the raw
//    gauge value otherwise. Also, as a diagnostic, the mean over the step ending at t + 1h
//    (avg_over_time(SELECTOR[step - 1s]), i.e. the samples in (t + 1h - step, t + 1h]), which is
//    the quantity the exporter's grid models for a gauge (series.h: transform none takes the mean
//    of each step).
//
// Differences from a live exporter, on purpose: the bench updates exactly at the step boundary
// (the exporter waits update_delay, 30 s, for the scrape to land; here the sample at the boundary
// is already stored), and refits exactly every --refit (the exporter jitters refresh by +-10 %).
// Both methods see the same samples, up to and including t.
//
// Usage: accuracy_bench [--days N] [--refit DURATION] [--job NAME]... [--data-dir DIR]
//                       [--config FILE] [--csv FILE]
//   --csv writes every evaluation point (job, t, ours with bands, peer, actuals) for analysis.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "foresight/common/clock.h"
#include "foresight/common/timeparse.h"
#include "foresight/http/server.h"
#include "foresight/exporter/config.h"
#include "foresight/exporter/fit_pool.h"
#include "foresight/exporter/job.h"
#include "foresight/exporter/publish.h"
#include "prometheus_fixture.h"

#ifndef FORESIGHT_SOURCE_DIR
#define FORESIGHT_SOURCE_DIR "."
#endif

namespace {

namespace ex = foresight::exporter;
using foresight::Result;
using foresight::Status;
using foresight::testing::BackfillSeries;
using Steady = std::chrono::steady_clock;

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kHorizonMs = kHourMs;
constexpr const char* kHorizonLabel = "1h";
constexpr int64_t kQueryStepMs = 5 * kMinuteMs;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double SecondsSince(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "accuracy_bench: " << what << "\n";
  std::exit(1);
}

template <typename T>
T OrDie(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().message());
  return std::move(r).value();
}

// ---- The demo data, as demo/make_openmetrics.sh backfills it ----------------------------------

struct CsvRow {
  int64_t offset_s = 0;
  std::string value;  // as written: make_openmetrics.sh passes unscaled values through as text
};

std::vector<CsvRow> ReadCsv(const std::string& path, const std::string& header) {
  std::ifstream in(path);
  if (!in) Die("cannot read " + path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line != header) Die(path + ": header is \"" + line + "\", want \"" + header + "\"");
  std::vector<CsvRow> rows;
  int n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t comma = line.find(',');
    if (comma == std::string::npos) Die(path + ":" + std::to_string(n) + ": no comma");
    CsvRow r;
    r.offset_s = std::stoll(line.substr(0, comma));
    r.value = line.substr(comma + 1);
    if (!rows.empty() && r.offset_s <= rows.back().offset_s) {
      Die(path + ":" + std::to_string(n) + ": offset not after the previous row");
    }
    rows.push_back(std::move(r));
  }
  if (rows.empty()) Die(path + ": no rows");
  return rows;
}

// The running total of the per-minute counts, one sample per row at end + offset.
BackfillSeries Counter(const std::string& path, std::string metric,
                       std::vector<std::pair<std::string, std::string>> labels, int64_t end_s) {
  BackfillSeries s{std::move(metric), std::move(labels), "counter", {}, {}};
  double total = 0;
  for (const CsvRow& r : ReadCsv(path, "offset_seconds,requests")) {
    total += std::stod(r.value);
    s.timestamps_ms.push_back((end_s + r.offset_s) * 1000);
    s.values.push_back(total);
  }
  return s;
}

// value * scale + shift (written with 10 significant digits unless scale is 1 and shift 0, as
// the script's awk does), each reading repeated every 60 s for up to hold_s or until the next
// reading; the last reading is written once.
BackfillSeries Gauge(const std::string& path, std::string metric,
                     std::vector<std::pair<std::string, std::string>> labels, int64_t end_s,
                     int64_t hold_s, double scale, double shift) {
  BackfillSeries s{std::move(metric), std::move(labels), "gauge", {}, {}};
  const std::vector<CsvRow> rows = ReadCsv(path, "offset_seconds,value");
  auto value_of = [&](const CsvRow& r) {
    if (scale == 1 && shift == 0) return std::strtod(r.value.c_str(), nullptr);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", std::strtod(r.value.c_str(), nullptr) * scale + shift);
    return std::strtod(buf, nullptr);
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t t = end_s + rows[i].offset_s;
    const int64_t upto = i + 1 < rows.size() ? end_s + rows[i + 1].offset_s : t + 1;
    const double v = value_of(rows[i]);
    for (int64_t u = t; u < upto && u < t + hold_s; u += 60) {
      s.timestamps_ms.push_back(u * 1000);
      s.values.push_back(v);
    }
  }
  return s;
}

std::vector<BackfillSeries> DemoBackfill(const std::string& dir, int64_t end_s) {
  std::vector<BackfillSeries> out;
  out.push_back(Counter(dir + "/nasa_http_requests_per_minute.csv", "demo_http_requests_total",
                        {{"service", "nasa-www"}, {"job", "demo"}}, end_s));
  out.push_back(Gauge(dir + "/nab_machine_temperature.csv", "demo_machine_temperature_degrees",
                      {{"machine", "m1"}, {"job", "demo"}}, end_s, 300, 1, 0));
  out.push_back(Gauge(dir + "/nab_ambient_temperature.csv", "demo_room_temperature_celsius",
                      {{"room", "office"}, {"job", "demo"}}, end_s, 3600, 0.5555555555555556,
                      -17.77777777777778));
  out.push_back(Gauge(dir + "/nab_nyc_taxi.csv", "demo_taxi_passengers",
                      {{"city", "nyc"}, {"job", "demo"}}, end_s, 1800, 1, 0));
  return out;
}

// ---- /api/v1/query_range ----------------------------------------------------------------------

std::string SecondsText(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms) / 1000.0);
  return buf;
}

// One series' values by timestamp (ms); empty when the query returns nothing. An error when it
// returns more than one series: every query here selects exactly one.
Result<std::map<int64_t, double>> QueryRange(const std::string& base_url, const std::string& promql,
                                             int64_t start_ms, int64_t end_ms, int64_t step_ms) {
  const std::string url = base_url + "/api/v1/query_range?query=" + foresight::http::UrlEncode(promql) +
                          "&start=" + SecondsText(start_ms) + "&end=" + SecondsText(end_ms) +
                          "&step=" + SecondsText(step_ms);
  auto body = foresight::testing::HttpGet(url);
  if (!body.ok()) return body.status().WithContext("query_range " + promql);
  nlohmann::json j = nlohmann::json::parse(*body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("status", "") != "success" ||
      !j.contains("data") || !j["data"].is_object() || !j["data"].contains("result")) {
    return foresight::DataLoss("query_range " + promql + ": unexpected answer " +
                               body->substr(0, 300));
  }
  const nlohmann::json& result = j["data"]["result"];
  std::map<int64_t, double> out;
  if (!result.is_array() || result.empty()) return out;
  if (result.size() > 1) {
    return foresight::InvalidArgument("query_range " + promql + ": " +
                                      std::to_string(result.size()) + " series, want 1");
  }
  if (!result[0].is_object() || !result[0].contains("values") || !result[0]["values"].is_array()) {
    return foresight::DataLoss("query_range " + promql + ": a series without values");
  }
  for (const nlohmann::json& p : result[0]["values"]) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_string()) {
      return foresight::DataLoss("query_range " + promql + ": malformed sample " + p.dump());
    }
    const int64_t ts = std::llround(p[0].get<double>() * 1000.0);
    out[ts] = std::strtod(p[1].get<std::string>().c_str(), nullptr);
  }
  return out;
}

// ---- One job ----------------------------------------------------------------------------------

struct Ours {
  double forecast = kNaN;
  double lower80 = kNaN, upper80 = kNaN, lower95 = kNaN, upper95 = kNaN;
};

struct JobRun {
  std::string name;
  int64_t step_ms = 0;
  int64_t every_ms = 0;          // evaluation interval
  std::map<int64_t, Ours> ours;  // by evaluation time t
  int refreshes = 0, refresh_failures = 0, updates = 0, update_failures = 0;
  double refresh_seconds = 0, update_seconds = 0;
  std::map<std::string, int> models;  // model chosen at each refresh
  std::string first_error;
  std::string peer_promql, actual_promql, mean_promql;
};

size_t BandIndex(const ex::ForecastJobConfig& job, double level) {
  for (size_t i = 0; i < job.confidence.size(); ++i) {
    if (std::abs(job.confidence[i] - level) < 1e-9) return i;
  }
  Die("job " + job.name + " has no " + std::to_string(level) + " band");
}

JobRun RunOurs(ex::ForecastJobConfig job, const ex::SourceConfig& source, ex::FitPool* pool,
               int64_t window_start_ms, int64_t last_eval_ms, int64_t refit_ms) {
  JobRun run;
  run.name = job.name;
  run.step_ms = job.step.count();
  run.every_ms = std::max<int64_t>(run.step_ms, kQueryStepMs);
  if (std::find(job.horizons.begin(), job.horizons.end(), std::chrono::milliseconds(kHorizonMs)) ==
      job.horizons.end()) {
    Die("job " + job.name + " has no 1h horizon");
  }
  if (window_start_ms % run.step_ms != 0 || window_start_ms % run.every_ms != 0) {
    Die("window start is not on job " + job.name + "'s step");
  }
  const size_t b80 = BandIndex(job, 0.8), b95 = BandIndex(job, 0.95);
  job.refresh = std::chrono::milliseconds(refit_ms);  // an exporter configured `refresh: <refit>`

  foresight::FakeClock clock{
      std::chrono::system_clock::time_point(std::chrono::milliseconds(window_start_ms))};
  auto reader = OrDie(ex::NewRemoteReadReader(source), "remote-read reader");
  auto runner = OrDie(ex::JobRunner::Create(job, std::move(reader), pool, &clock), "job runner");

  int64_t now = window_start_ms;
  std::optional<int64_t> last_refresh;
  for (int64_t t = window_start_ms; t <= last_eval_ms; t += run.step_ms) {
    clock.Advance(std::chrono::milliseconds(t - now));
    now = t;
    const auto t0 = Steady::now();
    if (!last_refresh || t - *last_refresh >= refit_ms) {
      Status st = runner->Refresh();
      run.refresh_seconds += SecondsSince(t0);
      ++run.refreshes;
      last_refresh = t;
      if (!st.ok()) {
        ++run.refresh_failures;
        if (run.first_error.empty()) run.first_error = "refresh: " + st.message();
      }
      for (const auto& s : runner->Snapshot()->series) ++run.models[s->model];
    } else {
      Status st = runner->Update();
      run.update_seconds += SecondsSince(t0);
      ++run.updates;
      if (!st.ok()) {
        ++run.update_failures;
        if (run.first_error.empty()) run.first_error = "update: " + st.message();
      }
    }
    if ((t - window_start_ms) % run.every_ms != 0) continue;
    auto snap = runner->Snapshot();
    ex::PublishedJob pub = ex::ToPublishedJob(*snap, t);
    if (pub.series.size() != 1) {
      if (run.first_error.empty()) {
        run.first_error = std::to_string(pub.series.size()) + " series published at " +
                          foresight::FormatRfc3339Ms(t) + " (" + snap->status.error + ")";
      }
      continue;
    }
    for (const ex::PublishedHorizon& h : pub.series[0].horizons) {
      if (h.horizon != kHorizonLabel) continue;
      Ours o;
      o.forecast = h.forecast;
      if (b80 < h.bands.size()) {
        o.lower80 = h.bands[b80].lower;
        o.upper80 = h.bands[b80].upper;
      }
      if (b95 < h.bands.size()) {
        o.lower95 = h.bands[b95].lower;
        o.upper95 = h.bands[b95].upper;
      }
      run.ours[t] = o;
    }
  }
  return run;
}

// ---- Scores -----------------------------------------------------------------------------------

struct Errors {
  double abs = 0, sq = 0, signed_sum = 0;
  int n = 0;
  void Add(double forecast, double actual) {
    const double e = forecast - actual;
    abs += std::abs(e);
    sq += e * e;
    signed_sum += e;
    ++n;
  }
  double Mae() const { return n ? abs / n : kNaN; }
  double Rmse() const { return n ? std::sqrt(sq / n) : kNaN; }
  double Bias() const { return n ? signed_sum / n : kNaN; }
};

struct Score {
  int n = 0;
  int missing_ours = 0, missing_peer = 0, missing_actual = 0;
  Errors ours, peer, naive, snaive;
  Errors ours_mean, peer_mean;  // against the mean over the step ending at t + 1h
  int in80 = 0, in95 = 0, in80_mean = 0, in95_mean = 0, n_mean = 0;
};

std::optional<double> At(const std::map<int64_t, double>& m, int64_t t) {
  auto it = m.find(t);
  if (it == m.end() || !std::isfinite(it->second)) return std::nullopt;
  return it->second;
}

Score ScoreJob(const JobRun& run, const std::map<int64_t, double>& peer,
               const std::map<int64_t, double>& actual, const std::map<int64_t, double>& mean,
               int64_t window_start_ms, int64_t last_eval_ms) {
  Score s;
  for (int64_t t = window_start_ms; t <= last_eval_ms; t += run.every_ms) {
    auto o = run.ours.find(t);
    const bool have_ours = o != run.ours.end() && std::isfinite(o->second.forecast);
    const auto p = At(peer, t);
    const auto a = At(actual, t + kHorizonMs);
    if (!have_ours) ++s.missing_ours;
    if (!p) ++s.missing_peer;
    if (!a) ++s.missing_actual;
    if (!have_ours || !p || !a) continue;
    const Ours& f = o->second;
    ++s.n;
    s.ours.Add(f.forecast, *a);
    s.peer.Add(*p, *a);
    if (auto now = At(actual, t)) s.naive.Add(*now, *a);
    if (auto yesterday = At(actual, t + kHorizonMs - kDayMs)) s.snaive.Add(*yesterday, *a);
    if (*a >= f.lower80 && *a <= f.upper80) ++s.in80;
    if (*a >= f.lower95 && *a <= f.upper95) ++s.in95;
    if (auto m = At(mean, t + kHorizonMs)) {
      ++s.n_mean;
      s.ours_mean.Add(f.forecast, *m);
      s.peer_mean.Add(*p, *m);
      if (*m >= f.lower80 && *m <= f.upper80) ++s.in80_mean;
      if (*m >= f.lower95 && *m <= f.upper95) ++s.in95_mean;
    }
  }
  return s;
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "–";
  char buf[32];
  const double a = std::abs(v);
  const int decimals = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 3 : 4;
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Ratio(double a, double b) {
  if (!(b > 0) || !std::isfinite(a)) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", a / b);
  return buf;
}

std::string Share(int k, int n) {
  if (n == 0) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(k) / n);
  return buf;
}

// Every evaluation point, for analysis outside the bench; NaN where a value is missing.
void AppendCsv(std::ofstream& out, const JobRun& run, const std::map<int64_t, double>& peer,
               const std::map<int64_t, double>& actual, const std::map<int64_t, double>& mean,
               int64_t window_start_ms, int64_t last_eval_ms) {
  auto get = [](const std::map<int64_t, double>& m, int64_t t) {
    auto it = m.find(t);
    return it == m.end() ? kNaN : it->second;
  };
  char buf[512];
  for (int64_t t = window_start_ms; t <= last_eval_ms; t += run.every_ms) {
    auto o = run.ours.find(t);
    const Ours f = o == run.ours.end() ? Ours{} : o->second;
    std::snprintf(buf, sizeof buf,
                  "%s,%lld,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n",
                  run.name.c_str(), static_cast<long long>(t / 1000), f.forecast, f.lower80,
                  f.upper80, f.lower95, f.upper95, get(peer, t), get(actual, t),
                  get(actual, t + kHorizonMs), get(mean, t + kHorizonMs));
    out << buf;
  }
}

struct Flags {
  int days = 3;
  int64_t refit_ms = kHourMs;
  std::vector<std::string> jobs;
  std::string data_dir = FORESIGHT_SOURCE_DIR "/demo/data";
  std::string config = FORESIGHT_SOURCE_DIR "/config/demo.yml";
  std::string csv;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      const size_t eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    const std::string name = a.substr(0, a.find('='));
    if (name == "--days") {
      f.days = std::stoi(value());
    } else if (name == "--refit") {
      f.refit_ms = OrDie(foresight::ParseDuration(value()), "--refit").count();
    } else if (name == "--job") {
      f.jobs.push_back(value());
    } else if (name == "--data-dir") {
      f.data_dir = value();
    } else if (name == "--config") {
      f.config = value();
    } else if (name == "--csv") {
      f.csv = value();
    } else {
      Die("unknown flag " + a +
          "\nusage: accuracy_bench [--days N] [--refit DURATION] [--job NAME]... "
          "[--data-dir DIR] [--config FILE] [--csv FILE]");
    }
  }
  // The data is 21 days long; the lookback is 14 days and the seasonal-naive reference needs
  // one more day before the window.
  if (f.days < 1 || f.days > 6) Die("--days must be in 1..6");
  if (f.refit_ms <= 0) Die("--refit must be positive");
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  const auto t_start = Steady::now();

  std::ifstream cf(flags.config);
  if (!cf) Die("cannot read " + flags.config);
  std::stringstream text;
  text << cf.rdbuf();
  ex::Config config = OrDie(ex::ParseConfig(text.str(), flags.config, ""), "config");

  const int64_t real_now_s = foresight::ToUnixMillis(std::chrono::system_clock::now()) / 1000;
  const int64_t end_s = real_now_s / 3600 * 3600 - 3600;
  const int64_t end_ms = end_s * 1000;
  const int64_t window_start_ms = end_ms - flags.days * kDayMs;
  const int64_t last_eval_ms = end_ms - kHorizonMs;

  foresight::testing::PrometheusFixture::Options po;
  po.backfill = DemoBackfill(flags.data_dir, end_s);
  size_t samples = 0;
  for (const auto& s : po.backfill) samples += s.values.size();
  const auto t_prom = Steady::now();
  auto prom = OrDie(foresight::testing::PrometheusFixture::Start(std::move(po)), "prometheus");
  std::printf("Prometheus on %s, %zu samples backfilled in %.1f s; data ends %s\n",
              prom->base_url().c_str(), samples, SecondsSince(t_prom),
              foresight::FormatRfc3339Ms(end_ms).c_str());
  std::printf("evaluation: forecasts issued %s .. %s (%d days), refit every %s, 1h ahead\n\n",
              foresight::FormatRfc3339Ms(window_start_ms).c_str(),
              foresight::FormatRfc3339Ms(last_eval_ms).c_str(), flags.days,
              foresight::FormatDuration(std::chrono::milliseconds(flags.refit_ms)).c_str());
  for (ex::SourceConfig& s : config.sources) s.remote_read_url = prom->remote_read_url();

  std::ofstream csv;
  if (!flags.csv.empty()) {
    csv.open(flags.csv);
    if (!csv) Die("cannot write " + flags.csv);
    csv << "job,t,ours,lower80,upper80,lower95,upper95,predict_linear,actual_t,actual_t1h,"
           "step_mean_t1h\n";
  }
  ex::FitPool pool(2);
  std::vector<JobRun> runs;
  std::vector<Score> scores;
  std::vector<double> job_seconds;
  for (const ex::ForecastJobConfig& job : config.forecasts) {
    if (!flags.jobs.empty() &&
        std::find(flags.jobs.begin(), flags.jobs.end(), job.name) == flags.jobs.end()) {
      continue;
    }
    const auto t_job = Steady::now();
    const ex::SourceConfig* source = config.FindSource(job.source);
    if (source == nullptr) Die("job " + job.name + ": no source " + job.source);
    JobRun run = RunOurs(job, *source, &pool, window_start_ms, last_eval_ms, flags.refit_ms);

    const std::string sel = job.selector;
    const int64_t step = job.step.count();
    if (job.transform == ex::SeriesTransform::kRate) {
      run.peer_promql = "predict_linear(rate(" + sel + "[5m])[6h:1m], 3600)";
      run.actual_promql = "rate(" + sel + "[5m])";
      run.mean_promql = "rate(" + sel + "[" + std::to_string(step / 1000) + "s])";
    } else if (job.transform == ex::SeriesTransform::kNone) {
      run.peer_promql = "predict_linear(" + sel + "[6h], 3600)";
      run.actual_promql = sel;
      run.mean_promql = "avg_over_time(" + sel + "[" + std::to_string(step / 1000 - 1) + "s])";
    } else {
      Die("job " + job.name + ": transform increase is not benchmarked");
    }
    const std::string base = prom->base_url();
    auto peer = OrDie(
        QueryRange(base, run.peer_promql, window_start_ms, last_eval_ms, kQueryStepMs), "peer");
    auto actual =
        OrDie(QueryRange(base, run.actual_promql, window_start_ms - kDayMs, end_ms, kQueryStepMs),
              "actual");
    auto mean = OrDie(QueryRange(base, run.mean_promql, window_start_ms, end_ms, kQueryStepMs),
                      "step mean");
    if (csv.is_open()) AppendCsv(csv, run, peer, actual, mean, window_start_ms, last_eval_ms);
    scores.push_back(ScoreJob(run, peer, actual, mean, window_start_ms, last_eval_ms));
    job_seconds.push_back(SecondsSince(t_job));
    runs.push_back(std::move(run));
  }

  std::printf(
      "| job | step | points | MAE ours | MAE predict_linear | ratio | RMSE ours | "
      "RMSE predict_linear | ratio | MAE naive | MAE snaive 1d | coverage 80 | "
      "coverage 95 |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < runs.size(); ++i) {
    const JobRun& r = runs[i];
    const Score& s = scores[i];
    std::printf("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                r.name.c_str(),
                foresight::FormatDuration(std::chrono::milliseconds(r.step_ms)).c_str(), s.n,
                Num(s.ours.Mae()).c_str(), Num(s.peer.Mae()).c_str(),
                Ratio(s.ours.Mae(), s.peer.Mae()).c_str(), Num(s.ours.Rmse()).c_str(),
                Num(s.peer.Rmse()).c_str(), Ratio(s.ours.Rmse(), s.peer.Rmse()).c_str(),
                Num(s.naive.Mae()).c_str(), Num(s.snaive.Mae()).c_str(), Share(s.in80, s.n).c_str(),
                Share(s.in95, s.n).c_str());
  }

  std::printf(
      "\nAgainst the mean over the step ending at t + 1h (what the exporter's grid "
      "models), and bias (forecast - actual) against the actual above:\n\n");
  std::printf(
      "| job | points | MAE ours | MAE predict_linear | ratio | coverage 80 | "
      "coverage 95 | bias ours | bias predict_linear |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < runs.size(); ++i) {
    const Score& s = scores[i];
    std::printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", runs[i].name.c_str(), s.n_mean,
                Num(s.ours_mean.Mae()).c_str(), Num(s.peer_mean.Mae()).c_str(),
                Ratio(s.ours_mean.Mae(), s.peer_mean.Mae()).c_str(),
                Share(s.in80_mean, s.n_mean).c_str(), Share(s.in95_mean, s.n_mean).c_str(),
                Num(s.ours.Bias()).c_str(), Num(s.peer.Bias()).c_str());
  }

  std::printf("\n");
  for (size_t i = 0; i < runs.size(); ++i) {
    const JobRun& r = runs[i];
    const Score& s = scores[i];
    std::string models;
    for (const auto& [m, k] : r.models) models += " " + m + "=" + std::to_string(k);
    std::printf(
        "%s: %d refreshes (%.1f s, %d failed), %d updates (%.1f s, %d failed), %.1f s "
        "in all; models at refresh:%s; missing: ours %d, peer %d, actual %d\n",
        r.name.c_str(), r.refreshes, r.refresh_seconds, r.refresh_failures, r.updates,
        r.update_seconds, r.update_failures, job_seconds[i], models.c_str(), s.missing_ours,
        s.missing_peer, s.missing_actual);
    std::printf("  peer:   %s\n  actual: %s\n  mean:   %s\n", r.peer_promql.c_str(),
                r.actual_promql.c_str(), r.mean_promql.c_str());
    if (!r.first_error.empty()) std::printf("  first error: %s\n", r.first_error.c_str());
  }
  std::printf("\nwall time: %.1f s\n", SecondsSince(t_start));
  return 0;
}
