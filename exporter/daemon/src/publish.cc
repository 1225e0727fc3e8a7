#include "foresight/exporter/publish.h"

#include <prometheus/metric_type.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <iterator>
#include <string_view>
#include <utility>

#include "foresight/common/format.h"
#include "foresight/common/timeparse.h"

namespace foresight::exporter {
namespace {

// Label names this exporter adds, and the ones Foresight's alerting rules add (alertname by
// Prometheus, severity and reason by the rules): a source label with one of these names is
// renamed, or series differing only in it would collide inside a rule.
constexpr std::array<std::string_view, 9> kOwnLabels = {
    "foresight_job", "horizon", "confidence", "threshold", "direction", "model",
    "alertname",     "severity", "reason"};
constexpr std::string_view kExportedPrefix = "exported_";

// Family indices, in output order.
enum Family : std::size_t {
  kObserved,
  kForecast,
  kLower,
  kUpper,
  kThreshold,
  kEta,
  kAnomaly,
  kAnomalyScore,
  kModelInfo,
  kMase,
  kCoverage,
};

struct FamilySpec {
  const char* name;
  const char* help;
};

constexpr FamilySpec kSpecs[] = {
    {"foresight_observed",
     "Newest observed step value of the source series as the forecaster sees it (after "
     "transform and aggregation); the actual to compare forecasts with."},
    {"foresight_forecast", "Point forecast of the source series for now + horizon."},
    {"foresight_forecast_lower",
     "Lower bound of the forecast's prediction interval at the given confidence, for now + "
     "horizon."},
    {"foresight_forecast_upper",
     "Upper bound of the forecast's prediction interval at the given confidence, for now + "
     "horizon."},
    {"foresight_threshold",
     "Value of a threshold configured on the forecast job, repeated per series and per horizon "
     "so rules can compare bands with it generically."},
    {"foresight_threshold_eta_seconds",
     "Seconds until the forecast band (upper for direction above, lower for below) first "
     "crosses the threshold within the longest horizon; absent when it does not cross."},
    {"foresight_anomaly",
     "Whether the latest observation of the source series is anomalous against its forecast "
     "(1) or not (0)."},
    {"foresight_anomaly_score",
     "Anomaly score of the latest observation of the source series against its forecast; "
     "higher is more anomalous."},
    {"foresight_model_info", "Forecasting model chosen for the series; the value is always 1."},
    {"foresight_backtest_mase",
     "Mean absolute scaled error of the chosen model on the series' backtest; below 1 beats the "
     "naive forecast."},
    {"foresight_backtest_coverage_ratio",
     "Fraction of backtest observations that fell inside the forecast's prediction interval."},
};
static_assert(std::size(kSpecs) == 11);

bool ValidLabelName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) {
      return false;
    }
  }
  return true;
}

bool IsOwnLabel(std::string_view name) {
  return std::find(kOwnLabels.begin(), kOwnLabels.end(), name) != kOwnLabels.end();
}

bool HasName(const std::vector<Label>& labels, std::string_view name) {
  return std::any_of(labels.begin(), labels.end(), [&](const Label& l) { return l.name == name; });
}

void NormalizeLabels(std::vector<Label>* labels) {
  std::erase_if(*labels, [](const Label& l) {
    return l.name == "__name__" || l.value.empty() || !ValidLabelName(l.name);
  });
  for (Label& l : *labels) {
    if (!IsOwnLabel(l.name)) {
      continue;
    }
    std::string renamed = std::string(kExportedPrefix) + l.name;
    while (HasName(*labels, renamed) || IsOwnLabel(renamed)) {
      renamed.insert(0, kExportedPrefix);
    }
    l.name = std::move(renamed);
  }
  std::sort(labels->begin(), labels->end());
}

bool Publishable(double v) { return !std::isnan(v); }

// Writes `sep`name="value" with the text format's escapes: \\, \" and \n. (prometheus-cpp 1.0.1's
// TextSerializer writes a newline as a backslash and a raw newline, which parsers reject.)
void AppendLabel(std::string* out, char sep, std::string_view name, std::string_view value) {
  out->push_back(sep);
  out->append(name).append("=\"");
  if (value.find_first_of("\\\"\n") == std::string_view::npos) {
    out->append(value);
  } else {
    for (char c : value) {
      if (c == '\n') {
        out->append("\\n");
        continue;
      }
      if (c == '\\' || c == '"') {
        out->push_back('\\');
      }
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// Formats a sample value exactly as prometheus-cpp 1.0.1's TextSerializer does (an ostream at
// precision 16, i.e. printf's %.16g) so both serving paths give the same bytes. NaN never gets
// here; infinities are written as the text format spells them.
void AppendValue(std::string* out, double v) {
  if (std::isinf(v)) {
    out->append(v < 0 ? "-Inf" : "+Inf");
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 16);
  out->append(buf, r.ptr);
}

}  // namespace

std::string HorizonLabel(std::chrono::milliseconds horizon) { return FormatDuration(horizon); }

std::string ConfidenceLabel(double confidence) { return FormatDouble(confidence); }

std::shared_ptr<const PublishedSet> PublishedSet::Build(std::vector<PublishedJob> jobs) {
  std::shared_ptr<PublishedSet> set(new PublishedSet());

  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const PublishedJob& a, const PublishedJob& b) { return a.job < b.job; });
  for (PublishedJob& job : jobs) {
    if (!set->jobs_.empty() && set->jobs_.back().job == job.job) {
      auto& into = set->jobs_.back().series;
      into.insert(into.end(), std::make_move_iterator(job.series.begin()),
                  std::make_move_iterator(job.series.end()));
    } else {
      set->jobs_.push_back(std::move(job));
    }
  }

  for (PublishedJob& job : set->jobs_) {
    for (PublishedSeries& s : job.series) {
      NormalizeLabels(&s.labels);
    }
    std::stable_sort(
        job.series.begin(), job.series.end(),
        [](const PublishedSeries& a, const PublishedSeries& b) { return a.labels < b.labels; });
    auto last = std::unique(
        job.series.begin(), job.series.end(),
        [](const PublishedSeries& a, const PublishedSeries& b) { return a.labels == b.labels; });
    set->duplicates_dropped_ += static_cast<std::size_t>(job.series.end() - last);
    job.series.erase(last, job.series.end());

    std::size_t* n = set->family_sizes_;
    for (const PublishedSeries& s : job.series) {
      const std::size_t before = set->sample_count();
      for (const PublishedHorizon& h : s.horizons) {
        n[kForecast] += Publishable(h.forecast);
        for (const PublishedBand& b : h.bands) {
          n[kLower] += Publishable(b.lower);
          n[kUpper] += Publishable(b.upper);
        }
      }
      n[kObserved] += s.observed.has_value() && Publishable(*s.observed);
      for (const PublishedThreshold& t : s.thresholds) {
        n[kThreshold] += Publishable(t.value) ? s.horizons.size() : 0;
        for (const PublishedEta& e : t.etas) {
          n[kEta] += e.seconds.has_value() && Publishable(*e.seconds);
        }
      }
      if (s.anomaly) {
        n[kAnomaly] += 1;
        n[kAnomalyScore] += Publishable(s.anomaly->score);
      }
      n[kModelInfo] += !s.model.empty();
      n[kMase] += s.backtest_mase.has_value() && Publishable(*s.backtest_mase);
      n[kCoverage] +=
          s.backtest_coverage_ratio.has_value() && Publishable(*s.backtest_coverage_ratio);

      std::size_t line = job.job.size() + 64;  // name, foresight_job, extras, value, punctuation
      for (const Label& l : s.labels) {
        line += l.name.size() + l.value.size() + 4;
      }
      set->bytes_hint_ += (set->sample_count() - before) * line;
    }
  }
  return set;
}

std::size_t PublishedSet::sample_count() const {
  std::size_t total = 0;
  for (std::size_t n : family_sizes_) {
    total += n;
  }
  return total;
}

template <typename Fn>
void PublishedSet::ForEachSample(std::size_t only, Fn&& fn) const {
  const bool all = only >= kFamilies;
  auto want = [&](std::size_t family) { return all || only == family; };
  for (const PublishedJob& job : jobs_) {
    for (const PublishedSeries& s : job.series) {
      auto emit = [&](std::size_t family, double value, LabelRef a = {}, LabelRef b = {},
                      LabelRef c = {}) {
        fn(family, s.labels, std::string_view(job.job), value, ExtraLabels{a, b, c});
      };
      if (want(kObserved) && s.observed && Publishable(*s.observed)) {
        emit(kObserved, *s.observed);
      }
      if (want(kForecast) || want(kLower) || want(kUpper)) {
        for (const PublishedHorizon& h : s.horizons) {
          const LabelRef horizon{"horizon", h.horizon};
          if (want(kForecast) && Publishable(h.forecast)) {
            emit(kForecast, h.forecast, horizon);
          }
          for (const PublishedBand& b : h.bands) {
            const LabelRef confidence{"confidence", b.confidence};
            if (want(kLower) && Publishable(b.lower)) {
              emit(kLower, b.lower, horizon, confidence);
            }
            if (want(kUpper) && Publishable(b.upper)) {
              emit(kUpper, b.upper, horizon, confidence);
            }
          }
        }
      }
      if (want(kThreshold) || want(kEta)) {
        for (const PublishedThreshold& t : s.thresholds) {
          const LabelRef threshold{"threshold", t.name};
          const LabelRef direction{"direction", t.above ? "above" : "below"};
          if (want(kThreshold) && Publishable(t.value)) {
            for (const PublishedHorizon& h : s.horizons) {
              emit(kThreshold, t.value, threshold, direction, LabelRef{"horizon", h.horizon});
            }
          }
          if (want(kEta)) {
            for (const PublishedEta& e : t.etas) {
              if (e.seconds && Publishable(*e.seconds)) {
                emit(kEta, *e.seconds, threshold, direction, LabelRef{"confidence", e.confidence});
              }
            }
          }
        }
      }
      if (s.anomaly) {
        if (want(kAnomaly)) {
          emit(kAnomaly, s.anomaly->anomalous ? 1.0 : 0.0);
        }
        if (want(kAnomalyScore) && Publishable(s.anomaly->score)) {
          emit(kAnomalyScore, s.anomaly->score);
        }
      }
      if (want(kModelInfo) && !s.model.empty()) {
        emit(kModelInfo, 1.0, LabelRef{"model", s.model});
      }
      if (want(kMase) && s.backtest_mase && Publishable(*s.backtest_mase)) {
        emit(kMase, *s.backtest_mase);
      }
      if (want(kCoverage) && s.backtest_coverage_ratio && Publishable(*s.backtest_coverage_ratio)) {
        emit(kCoverage, *s.backtest_coverage_ratio);
      }
    }
  }
}

std::vector<prometheus::MetricFamily> PublishedSet::ToMetricFamilies() const {
  std::vector<prometheus::MetricFamily> families(kFamilies);
  for (std::size_t i = 0; i < kFamilies; ++i) {
    families[i].name = kSpecs[i].name;
    families[i].help = kSpecs[i].help;
    families[i].type = prometheus::MetricType::Gauge;
    families[i].metric.reserve(family_sizes_[i]);
  }
  ForEachSample(kFamilies, [&](std::size_t family, const std::vector<Label>& labels,
                               std::string_view job, double value, const ExtraLabels& extra) {
    prometheus::ClientMetric& m = families[family].metric.emplace_back();
    m.label.reserve(labels.size() + 1 + extra.size());
    m.label.insert(m.label.end(), labels.begin(), labels.end());
    m.label.push_back(Label{"foresight_job", std::string(job)});
    for (const LabelRef& l : extra) {
      if (!l.name.empty()) m.label.push_back(Label{std::string(l.name), std::string(l.value)});
    }
    m.gauge.value = value;
  });
  // An empty family would still print HELP and TYPE lines: noise for a job with no thresholds.
  std::erase_if(families, [](const prometheus::MetricFamily& fam) { return fam.metric.empty(); });
  return families;
}

void PublishedSet::AppendText(std::string* out) const {
  out->reserve(out->size() + bytes_hint_);
  for (std::size_t f = 0; f < kFamilies; ++f) {
    if (family_sizes_[f] == 0) {
      continue;
    }
    const std::string_view name = kSpecs[f].name;
    out->append("# HELP ").append(name).append(" ").append(kSpecs[f].help).append("\n");
    out->append("# TYPE ").append(name).append(" gauge\n");
    ForEachSample(f, [&](std::size_t, const std::vector<Label>& labels, std::string_view job,
                         double value, const ExtraLabels& extra) {
      out->append(name);
      char sep = '{';
      for (const Label& l : labels) {
        AppendLabel(out, sep, l.name, l.value);
        sep = ',';
      }
      AppendLabel(out, sep, "foresight_job", job);
      for (const LabelRef& l : extra) {
        if (!l.name.empty()) AppendLabel(out, ',', l.name, l.value);
      }
      out->append("} ");
      AppendValue(out, value);
      out->push_back('\n');
    });
  }
}

void ForecastCollector::Publish(std::shared_ptr<const PublishedSet> set) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_.swap(set);
  }
  // `set` now holds the previous set; if this was its last reference it is destroyed here,
  // outside the lock, so a scrape never waits for a large set's destruction.
}

std::shared_ptr<const PublishedSet> ForecastCollector::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

const http::DeflatedPart& PublishedSet::DeflatedText() const {
  std::call_once(deflate_once_, [this] {
    std::string text;
    AppendText(&text);
    // Fails only when zlib cannot allocate; then gzip scrapes carry the self-metrics alone
    // rather than failing.
    if (auto part = http::DeflatePart(text, 1); part.ok()) deflated_ = std::move(part).value();
  });
  return deflated_;
}

void ForecastCollector::AppendText(std::string* out) const {
  if (const std::shared_ptr<const PublishedSet> set = Current()) {
    set->AppendText(out);
  }
}

std::vector<prometheus::MetricFamily> ForecastCollector::Collect() const {
  const std::shared_ptr<const PublishedSet> set = Current();
  if (set == nullptr) {
    return {};
  }
  return set->ToMetricFamilies();
}

std::optional<double> ThresholdEtaSeconds(const std::vector<double>& band, int64_t step_ms,
                                          double threshold, bool above, double now_offset_seconds) {
  if (band.empty() || step_ms <= 0 || std::isnan(threshold)) {
    return std::nullopt;
  }
  const double step = static_cast<double>(step_ms) / 1000.0;
  const std::size_t n = band.size();
  const double now = std::max(0.0, now_offset_seconds);  // also maps NaN to 0
  const double end = static_cast<double>(n) * step;
  if (now > end) {
    return std::nullopt;
  }
  auto reached = [&](double v) { return above ? v >= threshold : v <= threshold; };
  // band[i] is at (i + 1) * step.
  auto at = [&](std::size_t i) { return static_cast<double>(i + 1) * step; };

  // The curve's value now: band[0] up to the first step, linear between steps after it.
  std::size_t first = 0;  // the first step strictly after now
  double value_now = band[0];
  if (now >= step) {
    first = static_cast<std::size_t>(std::floor(now / step));
    if (first >= n) {  // now == end
      value_now = band[n - 1];
    } else {
      const double frac = (now - at(first - 1)) / step;
      value_now = band[first - 1] + frac * (band[first] - band[first - 1]);
    }
  }
  if (reached(value_now)) {
    return 0.0;
  }

  double prev_t = now;
  double prev_v = value_now;
  for (std::size_t i = first; i < n; ++i) {
    const double t = at(i);
    const double v = band[i];
    if (reached(v)) {
      if (!std::isfinite(prev_v) || !std::isfinite(v)) {
        return t - now;
      }
      // prev_v is not reached and v is, so v != prev_v and the fraction is in (0, 1].
      const double crossing = prev_t + (t - prev_t) * (threshold - prev_v) / (v - prev_v);
      return std::max(0.0, crossing - now);
    }
    prev_t = t;
    prev_v = v;
  }
  return std::nullopt;
}

}  // namespace foresight::exporter
