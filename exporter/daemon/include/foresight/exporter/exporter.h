#pragma once

// foresight_exporter's core, everything but main(): the configuration, one driver thread per
// job (refresh on the job's interval with jitter, Update at every step in between, back-off
// while the source fails), the fit pool, the published set and its collector, reload, readiness
// and the self-metrics. The HTTP endpoints (web.h) and main.cc sit on top.
//
// Threads: one driver per job, the fit pool's workers, and one publisher that rebuilds the
// published set (at most once a second when a job changed, and every publish_interval so the
// forecast for now + horizon moves with the clock). Scrapes only copy a pointer
// (ForecastCollector), so neither a slow job nor a refresh ever blocks /metrics.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "foresight/common/clock.h"
#include "foresight/common/status.h"
#include "foresight/exporter/config.h"
#include "foresight/exporter/fit_pool.h"
#include "foresight/exporter/job.h"
#include "foresight/exporter/publish.h"

namespace foresight::exporter {

struct ExporterOptions {
  std::string config_file;  // required
  Clock* clock = nullptr;   // nullptr: the system clock
  int fit_threads = 0;      // <= 0: one per CPU
  // The published set is rebuilt at least this often, so forecasts for now + horizon move
  // forward between a job's updates.
  std::chrono::milliseconds publish_interval{15000};
  // Refresh intervals are scaled by a uniform factor in [1 - jitter, 1 + jitter], so jobs with
  // equal intervals spread out over time; 0 disables.
  double refresh_jitter = 0.1;
  // Back-off after a failed refresh: initial, doubling, capped at the job's refresh interval.
  std::chrono::milliseconds initial_backoff{1000};
  // How long after a step boundary Update runs: the samples of the step just ended need time to
  // be scraped and ingested. Capped at a fifth of the job's step.
  std::chrono::milliseconds update_delay{30000};
  uint64_t seed = 0;  // for the jitter; 0: from std::random_device
  // Makes each source's reader; defaults to NewRemoteReadReader. Tests substitute fakes.
  std::function<Result<std::unique_ptr<SeriesReader>>(const SourceConfig&)> reader_factory;
};

class Exporter {
 public:
  // Loads the config (errors: the config's own, file:line:column), starts the drivers; the
  // first refresh of every job starts at once.
  static Result<std::unique_ptr<Exporter>> Start(ExporterOptions options);
  // Stops the drivers (a refresh in flight stops between fits) and the publisher.
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Re-reads the config file. A config that fails to load or to build a job keeps the old one
  // running, is logged and counted in the reload metrics, and returned. Jobs are rebuilt; a job
  // that keeps its name serves its old forecasts until its first refresh under the new config.
  Status Reload();

  // True when the config is loaded and every job's first refresh has been attempted and its
  // result published (on /metrics and the API).
  bool Ready() const;

  // /metrics: the self-metrics, then the published forecast families.
  std::string MetricsText() const;
  // The same text gzipped: the self-metrics deflated now, joined with the published set's part
  // deflated once per set (PublishedSet::DeflatedText). After the first call the publisher
  // compresses each new set before publishing it, so no scrape waits for it.
  std::string MetricsGzip() const;
  // The jobs' current snapshots, sorted by job name.
  std::vector<std::shared_ptr<const JobSnapshot>> Snapshots() const;
  // Rebuilds the published set now (tests; the publisher does it by itself).
  void PublishNow();
  // Wakes the drivers to look at the clock again (tests with a fake clock after Advance).
  void Poke();

  prometheus::Registry& registry() { return *registry_; }
  const ForecastCollector& collector() const { return collector_; }
  Clock* clock() const { return clock_; }
  const std::string& config_file() const { return options_.config_file; }

 private:
  struct Driver;
  struct Metrics;

  explicit Exporter(ExporterOptions options);
  // Builds drivers for `config`, inheriting snapshots from `old` by job name. Starts nothing.
  Result<std::vector<std::unique_ptr<Driver>>> Build(
      const Config& config, const std::vector<std::unique_ptr<Driver>>& old);
  void RunDriver(Driver* d);
  void RunPublisher();
  void MarkDirty();
  std::chrono::milliseconds Jittered(std::chrono::milliseconds d);

  ExporterOptions options_;
  Clock* clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<FitPool> pool_;
  ForecastCollector collector_;

  std::mutex reload_mu_;  // one reload at a time
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Driver>> drivers_;  // guarded by mu_ (the vector; not the drivers)
  std::mutex rng_mu_;
  std::mt19937_64 rng_;  // guarded by rng_mu_

  std::mutex publish_mu_;
  std::condition_variable publish_cv_;
  bool dirty_ = false;      // guarded by publish_mu_
  mutable std::atomic<bool> gzip_wanted_{false};  // a scrape asked for gzip: precompress sets
  bool stopping_ = false;   // guarded by publish_mu_
  std::thread publisher_;
};

}  // namespace foresight::exporter
