// `foresight backtest`: forecast accuracy of the engine and of each method on held-out data,
// with the M4 competition's measures (sMAPE, MASE, MSIS at 95 %, 95 % coverage).

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>
#include <thread>

#include "cli.h"
#include "foresight/common/flags.h"
#include "foresight/common/format.h"
#include "foresight/common/process.h"
#include "foresight/common/timeparse.h"
#include "foresight/forecast/calendar.h"
#include "foresight/forecast/engine.h"
#include "foresight/forecast/m4.h"
#include "foresight/forecast/metrics.h"
#include "foresight/forecast/registry.h"

namespace foresight::cli {
namespace {

using forecast::Engine;
using forecast::ModelForecast;

struct Scores {
  double smape = 0, mase = 0, msis = 0, coverage = 0;
  int n = 0;
  void Add(const Scores& o) {
    smape += o.smape;
    mase += o.mase;
    msis += o.msis;
    coverage += o.coverage;
    n += o.n;
  }
};

// Scores one forecast; the 95 % band is the one at level 0.95.
Scores Score(std::span<const double> train, std::span<const double> test, const ModelForecast& f,
             size_t band95, int m) {
  Scores s;
  const double scale = forecast::SeasonalNaiveScale(train, m);
  s.smape = forecast::Smape(test, f.mean);
  s.mase = forecast::Mase(test, f.mean, scale);
  s.msis = forecast::Msis(test, f.bands[band95].lower, f.bands[band95].upper, scale, 0.05);
  s.coverage = forecast::Coverage(test, f.bands[band95].lower, f.bands[band95].upper);
  s.n = 1;
  return s;
}

std::string JsonScores(const Scores& s) {
  auto num = [](double v) { return std::isfinite(v) ? FormatDouble(v) : std::string("null"); };
  const double n = s.n > 0 ? s.n : 1;
  return "{\"mase\": " + num(s.mase / n) + ", \"smape\": " + num(s.smape / n) +
         ", \"msis\": " + num(s.msis / n) + ", \"coverage\": " + num(s.coverage / n) +
         ", \"series\": " + std::to_string(s.n) + "}";
}

// One held-out case: fit on train, score on test.
struct Case {
  std::string id;
  std::vector<double> train, test;
};

struct Totals {
  Scores selected;
  std::map<std::string, Scores> models;
  std::map<std::string, int> chosen;  // how often each model (or "combination") was selected
  int failures = 0;
  std::string first_error;
};

Totals RunCases(const std::vector<Case>& cases, const Engine& engine,
                const forecast::FitContext& ctx, int jobs, size_t band95, int m) {
  Totals totals;
  std::mutex mu;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= cases.size()) return;
      const Case& c = cases[i];
      auto r = engine.Forecast(c.train, static_cast<int>(c.test.size()), ctx);
      std::lock_guard<std::mutex> lock(mu);
      if (!r.ok()) {
        ++totals.failures;
        if (totals.first_error.empty()) totals.first_error = c.id + ": " + r.status().message();
        continue;
      }
      totals.selected.Add(Score(c.train, c.test, r->forecast, band95, m));
      ++totals.chosen[r->model];
      for (size_t k = 0; k < r->per_method.size(); ++k) {
        if (r->per_method[k].mean.empty()) continue;
        totals.models[r->scores[k].method].Add(Score(c.train, c.test, r->per_method[k], band95, m));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return totals;
}

struct CsvSeries {
  std::vector<int64_t> timestamps_ms;
  std::vector<double> values;
};

// A CSV with a header; first column a timestamp (RFC 3339, "YYYY-MM-DD HH:MM:SS" or Unix
// seconds), second the value (empty: missing). Rows must be in time order, one per step.
Result<CsvSeries> ReadCsvSeries(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open");
  CsvSeries out;
  std::string line;
  int line_no = 0;
  int64_t last_ts = INT64_MIN;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 || line.empty()) continue;
    auto comma = line.find(',');
    if (comma == std::string::npos) {
      return InvalidArgument(path + ":" + std::to_string(line_no) + ": expected timestamp,value");
    }
    std::string ts_text = line.substr(0, comma);
    std::string v_text = line.substr(comma + 1);
    if (auto c2 = v_text.find(','); c2 != std::string::npos) v_text = v_text.substr(0, c2);
    for (std::string* s : {&ts_text, &v_text}) {
      if (s->size() >= 2 && s->front() == '"' && s->back() == '"') *s = s->substr(1, s->size() - 2);
    }
    auto ts = ParseTimestampMs(ts_text, 0);
    if (!ts.ok()) {
      return InvalidArgument(path + ":" + std::to_string(line_no) + ": column 1: " + ts.status().message());
    }
    if (*ts <= last_ts) {
      return InvalidArgument(path + ":" + std::to_string(line_no) + ": timestamp " + ts_text +
                             " is not after the previous row's");
    }
    last_ts = *ts;
    double v = 0;
    if (v_text.empty()) {
      v = std::nan("");
    } else if (!ParseDouble(v_text, &v)) {
      return InvalidArgument(path + ":" + std::to_string(line_no) + ": column 2: \"" + v_text +
                             "\" is not a number");
    }
    out.timestamps_ms.push_back(*ts);
    out.values.push_back(v);
  }
  if (out.values.empty()) return InvalidArgument(path + ": no data rows");
  return out;
}

// The median spacing of the rows: the step the calendar's regressors are laid on.
int64_t MedianStepMs(const std::vector<int64_t>& ts) {
  std::vector<int64_t> d;
  for (size_t i = 1; i < ts.size(); ++i) d.push_back(ts[i] - ts[i - 1]);
  if (d.empty()) return 1;
  std::nth_element(d.begin(), d.begin() + static_cast<long>(d.size() / 2), d.end());
  return std::max<int64_t>(1, d[d.size() / 2]);
}

}  // namespace

int RunBacktest(const std::vector<std::string>& args, Env env) {
  std::string m4_dir, csv, models_text, calendar_path;
  std::vector<std::string> period_texts;
  int64_t jobs = 1, horizon = 0, origins = 1, limit = 0, engine_origins = 3;
  bool json = false;
  FlagSet flags(
      "foresight backtest (--m4-dir=DIR | --csv=FILE --horizon=H) [--period=P ...] [--json]");
  flags.String("m4-dir", &m4_dir, "M4 layout: train.csv and test.csv (wide rows id,v1,v2,...)");
  flags.String("csv", &csv, "one series: a header, then timestamp,value rows in time order");
  flags.Int("horizon", &horizon, "steps to forecast (M4 default: the test length)");
  flags.StringList("period", &period_texts, "seasonal period in steps (default for M4: 24 and 168)");
  flags.Int("origins", &origins, "with --csv: the last K origins each forecast --horizon steps");
  flags.String("calendar", &calendar_path, "with --csv: events calendar (YAML) used as regressors");
  flags.Int("backtest-origins", &engine_origins, "origins of the engine's own model selection");
  flags.String("models", &models_text, "comma-separated methods (default: all)");
  flags.Int("jobs", &jobs, "worker threads");
  flags.Int("limit", &limit, "with --m4-dir: only the first N series (0: all)");
  flags.Bool("json", &json, "print one JSON object");
  auto positional = flags.Parse(args);
  auto usage_error = [&](const std::string& msg) {
    env.err << "foresight backtest: " << msg << "\n(see foresight backtest --help)\n";
    return kExitUsage;
  };
  if (!positional.ok()) return usage_error(positional.status().message());
  if (flags.help_requested()) {
    env.out << flags.Usage() << "\nmethods: ";
    for (const auto& n : forecast::AvailableMethodNames()) env.out << n << " ";
    env.out << "\n";
    return kExitOk;
  }
  if (!positional->empty()) return usage_error("unexpected argument \"" + (*positional)[0] + "\"");
  if (m4_dir.empty() == csv.empty()) return usage_error("give exactly one of --m4-dir and --csv");
  if (!csv.empty() && horizon < 1) return usage_error("--csv needs --horizon of at least 1");
  if (!calendar_path.empty() && csv.empty()) return usage_error("--calendar goes with --csv");
  if (jobs < 1 || origins < 1 || engine_origins < 0) {
    return usage_error("--jobs and --origins must be at least 1");
  }
  std::vector<int> periods;
  for (const std::string& p : period_texts) {
    int v = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || ptr != p.data() + p.size() || v < 2) {
      return usage_error("--period \"" + p + "\" must be a whole number of steps >= 2");
    }
    periods.push_back(v);
  }
  std::sort(periods.begin(), periods.end());
  if (!m4_dir.empty() && period_texts.empty()) periods = {24, 168};

  std::vector<std::string> names;
  if (!models_text.empty()) {
    std::stringstream ss(models_text);
    std::string n;
    while (std::getline(ss, n, ',')) names.push_back(n);
  }
  auto methods = forecast::MethodsByName(names);
  if (!methods.ok()) return usage_error("--models: " + methods.status().message());

  forecast::EngineOptions eo;
  eo.levels = {0.8, 0.95};
  eo.origins = static_cast<int>(engine_origins);
  eo.per_method = true;
  Engine engine(*methods, eo);
  forecast::FitContext ctx;
  ctx.periods = periods;
  const int m = periods.empty() ? 1 : periods.front();

  std::vector<Case> cases;
  if (!m4_dir.empty()) {
    auto train = forecast::ReadM4Csv(m4_dir + "/train.csv");
    if (!train.ok()) {
      env.err << "foresight backtest: " << train.status().message() << "\n";
      return kExitFailure;
    }
    auto test = forecast::ReadM4Csv(m4_dir + "/test.csv");
    if (!test.ok()) {
      env.err << "foresight backtest: " << test.status().message() << "\n";
      return kExitFailure;
    }
    if (train->size() != test->size()) {
      env.err << "foresight backtest: train.csv has " << train->size() << " series, test.csv "
              << test->size() << "\n";
      return kExitFailure;
    }
    for (size_t i = 0; i < train->size(); ++i) {
      if ((*train)[i].id != (*test)[i].id) {
        env.err << "foresight backtest: series " << i + 1 << " is " << (*train)[i].id
                << " in train.csv but " << (*test)[i].id << " in test.csv\n";
        return kExitFailure;
      }
      if (horizon > 0 && static_cast<size_t>(horizon) < (*test)[i].values.size()) {
        (*test)[i].values.resize(static_cast<size_t>(horizon));
      }
      cases.push_back({(*train)[i].id, std::move((*train)[i].values), std::move((*test)[i].values)});
      if (limit > 0 && static_cast<int64_t>(cases.size()) >= limit) break;
    }
  } else {
    auto series = ReadCsvSeries(csv);
    if (!series.ok()) {
      env.err << "foresight backtest: " << series.status().message() << "\n";
      return kExitFailure;
    }
    const std::vector<double>* y = &series->values;
    if (!calendar_path.empty()) {
      auto cal = forecast::LoadCalendar(calendar_path);
      if (!cal.ok()) {
        env.err << "foresight backtest: " << cal.status().message() << "\n";
        return kExitFailure;
      }
      // Rows cover the whole file: every origin's history and horizon lie inside it.
      ctx.regressors = cal->Regressors(series->timestamps_ms.front(),
                                       MedianStepMs(series->timestamps_ms),
                                       static_cast<int>(y->size()));
    }
    const int64_t n = static_cast<int64_t>(y->size());
    if (n - origins * horizon < 2) {
      env.err << "foresight backtest: " << csv << " has " << n << " rows, too few for " << origins
              << " origins of " << horizon << " steps\n";
      return kExitFailure;
    }
    for (int64_t k = origins; k >= 1; --k) {
      const int64_t o = n - k * horizon;
      cases.push_back({"origin " + std::to_string(origins - k + 1),
                       std::vector<double>(y->begin(), y->begin() + o),
                       std::vector<double>(y->begin() + o, y->begin() + o + horizon)});
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  Totals totals = RunCases(cases, engine, ctx, static_cast<int>(jobs), /*band95=*/1, m);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (totals.selected.n == 0) {
    env.err << "foresight backtest: no series could be forecast; first error: " << totals.first_error << "\n";
    return kExitFailure;
  }
  const int64_t peak = PeakRssBytes();
  if (json) {
    std::string out = "{\"series\": " + std::to_string(totals.selected.n) +
                      ", \"failed\": " + std::to_string(totals.failures) +
                      ", \"seconds\": " + FormatDouble(seconds) +
                      ", \"seconds_per_series\": " + FormatDouble(seconds / static_cast<double>(cases.size())) +
                      ", \"peak_memory_bytes\": " + std::to_string(peak) +
                      ", \"selected\": " + JsonScores(totals.selected) + ", \"models\": {";
    bool first = true;
    for (const auto& [name, s] : totals.models) {
      out += (first ? "" : ", ") + std::string("\"") + name + "\": " + JsonScores(s);
      first = false;
    }
    out += "}, \"chosen\": {";
    first = true;
    for (const auto& [name, count] : totals.chosen) {
      out += (first ? "" : ", ") + std::string("\"") + name + "\": " + std::to_string(count);
      first = false;
    }
    out += "}}\n";
    env.out << out;
  } else {
    char line[256];
    env.out << "series " << totals.selected.n << " (failed " << totals.failures << "), "
            << FormatDouble(std::round(seconds * 100) / 100) << " s, peak memory "
            << peak / (1 << 20) << " MiB\n\n";
    std::snprintf(line, sizeof(line), "%-12s %8s %8s %8s %9s %7s\n", "model", "sMAPE", "MASE", "MSIS",
                  "cover95", "series");
    env.out << line;
    auto row = [&](const std::string& name, const Scores& s) {
      const double n = s.n;
      std::snprintf(line, sizeof(line), "%-12s %8.3f %8.3f %8.3f %9.3f %7d\n", name.c_str(),
                    s.smape / n, s.mase / n, s.msis / n, s.coverage / n, s.n);
      env.out << line;
    };
    row("selected", totals.selected);
    for (const auto& [name, s] : totals.models) row(name, s);
    env.out << "\nchosen:";
    for (const auto& [name, count] : totals.chosen) env.out << " " << name << "=" << count;
    env.out << "\n";
  }
  if (totals.failures > 0) {
    env.err << "foresight backtest: " << totals.failures << " series failed; first: " << totals.first_error << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace foresight::cli
