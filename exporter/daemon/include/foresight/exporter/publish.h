#pragma once

// What one refresh of foresight_exporter publishes, and the prometheus-cpp Collectable that
// serves it on /metrics.
//
// The published series are a contract (README, "Published series"). For every forecast series
// the source series' labels are kept and these are added:
//
//   foresight_forecast{..., foresight_job, horizon}                         point forecast
//   foresight_forecast_lower{..., foresight_job, horizon, confidence}       lower band
//   foresight_forecast_upper{..., foresight_job, horizon, confidence}       upper band
//   foresight_observed{..., foresight_job}                                  latest step value
//   foresight_threshold{..., foresight_job, threshold, direction, horizon}  threshold value
//   foresight_threshold_eta_seconds{..., foresight_job, threshold, direction, confidence}
//   foresight_anomaly{..., foresight_job}                                   0 or 1
//   foresight_anomaly_score{..., foresight_job}
//   foresight_model_info{..., foresight_job, model}                         always 1
//   foresight_backtest_mase{..., foresight_job}
//   foresight_backtest_coverage_ratio{..., foresight_job}
//
// foresight_threshold is repeated per published horizon so that a rule can compare a band with
// its thresholds on shared labels: PromQL cannot match two sides that both have several series
// per group (horizons on one, thresholds on the other), but can match one band series to many
// threshold series (group_right).
//
// A source label whose name is one of ours (foresight_job, horizon, confidence, threshold,
// direction, model) or one the alerting rules add (alertname, severity, reason)
// is renamed to exported_<name> (again prefixed until free), as Prometheus does on a scrape with
// honor_labels: false, so no sample ever carries a duplicate label.

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/http/gzip.h"

namespace foresight::exporter {

// A label name/value pair; prometheus-cpp's own type, so Collect() copies label vectors whole.
using Label = prometheus::ClientMetric::Label;

// Label values as the contract writes them: "15m", "1h", "1d" (Prometheus duration syntax) and
// "0.8", "0.95" (shortest round-trip decimal).
std::string HorizonLabel(std::chrono::milliseconds horizon);
std::string ConfidenceLabel(double confidence);

// One confidence band at one horizon.
struct PublishedBand {
  std::string confidence;  // label value, ConfidenceLabel()
  double lower = 0;
  double upper = 0;
};

// The forecast for now + horizon.
struct PublishedHorizon {
  std::string horizon;  // label value, HorizonLabel()
  double forecast = 0;
  std::vector<PublishedBand> bands;
};

// Time until a band crosses a threshold, at one confidence.
struct PublishedEta {
  std::string confidence;         // label value, ConfidenceLabel()
  std::optional<double> seconds;  // absent: no crossing within the longest horizon
};

struct PublishedThreshold {
  std::string name;  // label value of `threshold`
  double value = 0;
  bool above = true;  // direction: above (watch the upper band) or below (the lower band)
  std::vector<PublishedEta> etas;
};

struct PublishedAnomaly {
  bool anomalous = false;  // foresight_anomaly 0 or 1
  double score = 0;
};

// Everything published for one forecast series. Samples whose value is NaN are left out rather
// than published as NaN: a rule comparing against NaN is silently false, an absent series is
// visible (absent(), up-style alerts).
struct PublishedSeries {
  // The source series' labels without __name__. Any order; PublishedSet sorts them.
  std::vector<Label> labels;
  std::vector<PublishedHorizon> horizons;
  std::vector<PublishedThreshold> thresholds;
  std::optional<PublishedAnomaly> anomaly;  // absent: no latest observation to judge
  // The newest observed step value the model absorbed (after transform and aggregation): the
  // "actual" a dashboard draws against the forecast. Absent: nothing observed yet.
  std::optional<double> observed;
  std::string model;                        // foresight_model_info{model}; empty: not published
  std::optional<double> backtest_mase;      // absent: history too short to backtest
  std::optional<double> backtest_coverage_ratio;
};

struct PublishedJob {
  std::string job;  // label value of `foresight_job`
  std::vector<PublishedSeries> series;
};

// All jobs' published series: built once per refresh, then immutable and shared between the
// refresher and any number of concurrent scrapes through std::shared_ptr<const PublishedSet>.
// Thread-safe: every method is const.
class PublishedSet {
 public:
  // Normalises the input so Collect() never has to check anything per sample:
  // - source labels: __name__ and empty values dropped (an empty value means "no label" in
  //   Prometheus), names that the text format cannot carry dropped, collisions with our labels
  //   renamed to exported_<name>, then sorted by name;
  // - jobs sorted by name, and series within a job sorted by labels, so /metrics is stable
  //   whatever order the workers finished in;
  // - a series whose labels equal an earlier one's in the same job is dropped (Prometheus would
  //   reject the whole scrape over a duplicate sample) and counted in duplicates_dropped().
  // Jobs with the same name are merged.
  static std::shared_ptr<const PublishedSet> Build(std::vector<PublishedJob> jobs);

  PublishedSet(const PublishedSet&) = delete;
  PublishedSet& operator=(const PublishedSet&) = delete;

  const std::vector<PublishedJob>& jobs() const { return jobs_; }
  // Number of samples Collect() returns for this set, over all families.
  std::size_t sample_count() const;
  std::size_t duplicates_dropped() const { return duplicates_dropped_; }

  // The metric families for this set, in the order listed at the top of this file; families
  // without samples are left out. Used by ForecastCollector::Collect().
  std::vector<prometheus::MetricFamily> ToMetricFamilies() const;

  // Appends this set in the text exposition format, byte for byte what prometheus-cpp's
  // TextSerializer writes for ToMetricFamilies(), without building those families: several
  // times faster on 100k series, for a /metrics handler that serves this set itself. One
  // deliberate difference: a newline in a label value is escaped as \n, as the format requires;
  // prometheus-cpp 1.0.1 writes a backslash and a raw newline, which breaks the whole scrape.
  void AppendText(std::string* out) const;

  // AppendText's output deflated (level 1) as a part of a gzip stream (http::DeflatePart),
  // computed on the first call and kept: the set is immutable, so every gzip scrape of it after
  // the first costs a copy, not a compression. /metrics joins the self-metrics' fresh part with
  // this one into one gzip member (http::GzipJoin). Thread-safe.
  const http::DeflatedPart& DeflatedText() const;

 private:
  struct LabelRef {
    std::string_view name;  // empty: no label
    std::string_view value;
  };
  // The labels a family adds after foresight_job, in output order; unused ones have no name.
  using ExtraLabels = std::array<LabelRef, 3>;

  PublishedSet() = default;

  // Calls fn(family, source labels, job, value, extra labels) for every sample of
  // family `only` (of every family when only >= kFamilies), in output order.
  template <typename Fn>
  void ForEachSample(std::size_t only, Fn&& fn) const;

  // Samples per family, counted at build time to reserve exact capacity.
  static constexpr std::size_t kFamilies = 11;
  std::vector<PublishedJob> jobs_;
  std::size_t family_sizes_[kFamilies] = {};
  std::size_t duplicates_dropped_ = 0;
  std::size_t bytes_hint_ = 0;  // about the size of AppendText's output
  mutable std::once_flag deflate_once_;
  mutable http::DeflatedPart deflated_;  // written once under deflate_once_
};

// The Collectable registered with the exposer's registry. The refresher calls Publish() with a
// freshly built set; Collect() serves whichever set is current. Both are thread-safe; the lock
// is held only to copy or swap a pointer, so a scrape never waits for a refresh and a refresh
// never waits for a scrape. The old set is freed outside the lock by whoever drops the last
// reference: Publish(), or a scrape that was still serving it.
class ForecastCollector : public prometheus::Collectable {
 public:
  ForecastCollector() = default;
  ForecastCollector(const ForecastCollector&) = delete;
  ForecastCollector& operator=(const ForecastCollector&) = delete;

  // Replaces the published set; nullptr publishes nothing.
  void Publish(std::shared_ptr<const PublishedSet> set);
  std::shared_ptr<const PublishedSet> Current() const;

  std::vector<prometheus::MetricFamily> Collect() const override;
  // The current set as text (PublishedSet::AppendText); appends nothing when there is none.
  void AppendText(std::string* out) const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const PublishedSet> current_;  // guarded by mu_
};

// Seconds from now until a forecast band first reaches a threshold, or nullopt when it does not
// within the band.
//
// band[i] is the band (the upper band for `above`, the lower for `below`) at the forecast origin
// (the last observed sample's time) + (i + 1) * step_ms; the caller passes it up to the longest
// horizon. now_offset_seconds is how long ago that origin was (the forecast ages between
// refits); a negative offset (clock skew) counts as 0.
//
// The band is taken as a curve: linear between consecutive steps, and holding band[0] before the
// first step (nothing is known there more finely, and an early warning should err early).
// "Reached" means >= threshold for above, <= for below. The result is the first time t >= now,
// t <= origin + band.size() * step, at which the curve is reached, minus now:
// - 0 when the curve is already reached now (so when band[0] is and now is before step 1);
// - between steps, the linear interpolation of the crossing;
// - nullopt when never reached, when now is past the band's end, for an empty band, a
//   non-positive step or a NaN threshold.
// A NaN point never counts as reached; a crossing right after one is placed at the next step.
std::optional<double> ThresholdEtaSeconds(const std::vector<double>& band, int64_t step_ms,
                                          double threshold, bool above, double now_offset_seconds);

}  // namespace foresight::exporter
