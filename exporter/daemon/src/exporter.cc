#include "foresight/exporter/exporter.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "foresight/common/log.h"
#include "foresight/common/version.h"
#include "foresight/http/gzip.h"

namespace foresight::exporter {
namespace {

using std::chrono::milliseconds;
using Sys = std::chrono::system_clock;

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

std::string DurationText(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3fs", Seconds(d));
  return buf;
}

// Buckets: a refresh takes from milliseconds (a few series) to minutes (thousands).
const prometheus::Histogram::BucketBoundaries kRefreshBuckets = {
    0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
const prometheus::Histogram::BucketBoundaries kFitBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const prometheus::Histogram::BucketBoundaries kReadBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

}  // namespace

struct Exporter::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : build_info(prometheus::BuildGauge()
                       .Name("foresight_exporter_build_info")
                       .Help("A metric with a constant '1' value labeled by version.")
                       .Register(r)),
        reload_ok(prometheus::BuildGauge()
                      .Name("foresight_exporter_config_last_reload_successful")
                      .Help("Whether the last configuration reload attempt was successful.")
                      .Register(r)
                      .Add({})),
        reload_ts(prometheus::BuildGauge()
                      .Name("foresight_exporter_config_last_reload_success_timestamp_seconds")
                      .Help("Timestamp of the last successful configuration reload.")
                      .Register(r)
                      .Add({})),
        reloads(prometheus::BuildCounter()
                    .Name("foresight_exporter_config_reloads_total")
                    .Help("Configuration reload attempts (start-up excluded).")
                    .Register(r)
                    .Add({})),
        reload_failures(prometheus::BuildCounter()
                            .Name("foresight_exporter_config_reload_failures_total")
                            .Help("Configuration reload attempts that failed; the previous "
                                  "configuration kept running.")
                            .Register(r)
                            .Add({})),
        refresh_duration(prometheus::BuildHistogram()
                             .Name("foresight_refresh_duration_seconds")
                             .Help("Duration of a job's full refresh: remote read, preparation "
                                   "and every fit.")
                             .Register(r)),
        fit_duration(prometheus::BuildHistogram()
                         .Name("foresight_fit_duration_seconds")
                         .Help("Duration of one series' fit (backtest included).")
                         .Register(r)),
        refreshes(prometheus::BuildCounter()
                      .Name("foresight_refreshes_total")
                      .Help("Full refreshes attempted per job.")
                      .Register(r)),
        refresh_failures(prometheus::BuildCounter()
                             .Name("foresight_refresh_failures_total")
                             .Help("Full refreshes that failed per job; the last good forecasts "
                                   "stay published.")
                             .Register(r)),
        last_success(prometheus::BuildGauge()
                         .Name("foresight_forecast_last_success_timestamp_seconds")
                         .Help("When the job's last successful refresh ended.")
                         .Register(r)),
        stale(prometheus::BuildGauge()
                  .Name("foresight_forecast_stale")
                  .Help("1 when the job's last refresh failed and older forecasts are served.")
                  .Register(r)),
        series(prometheus::BuildGauge()
                   .Name("foresight_forecast_series")
                   .Help("Series with a published forecast per job.")
                   .Register(r)),
        dropped(prometheus::BuildGauge()
                    .Name("foresight_forecast_series_dropped")
                    .Help("Series left out at the job's last refresh, by reason: max_series "
                          "(over the cap), vanished (no recent sample), fit_failed.")
                    .Register(r)),
        read_bytes(prometheus::BuildCounter()
                       .Name("foresight_remote_read_bytes_total")
                       .Help("Remote-read response body bytes received per source.")
                       .Register(r)),
        read_samples(prometheus::BuildCounter()
                         .Name("foresight_remote_read_samples_total")
                         .Help("Samples received by remote read per source.")
                         .Register(r)),
        read_requests(prometheus::BuildCounter()
                          .Name("foresight_remote_read_requests_total")
                          .Help("Remote reads per source.")
                          .Register(r)),
        read_errors(prometheus::BuildCounter()
                        .Name("foresight_remote_read_errors_total")
                        .Help("Remote reads that failed per source (after retries).")
                        .Register(r)),
        read_duration(prometheus::BuildHistogram()
                          .Name("foresight_remote_read_duration_seconds")
                          .Help("Duration of a remote read per source, retries included.")
                          .Register(r)),
        source_up(prometheus::BuildGauge()
                      .Name("foresight_source_up")
                      .Help("1 when the last remote read from the source succeeded.")
                      .Register(r)),
        published_samples(prometheus::BuildGauge()
                              .Name("foresight_published_samples")
                              .Help("Samples in the published forecast families.")
                              .Register(r)
                              .Add({})) {
    build_info.Add({{"version", kVersion}}).Set(1);
  }

  struct Source {
    prometheus::Counter* bytes;
    prometheus::Counter* samples;
    prometheus::Counter* requests;
    prometheus::Counter* errors;
    prometheus::Histogram* duration;
    prometheus::Gauge* up;
  };
  Source ForSource(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = sources.find(name);
    if (it != sources.end()) return it->second;
    const prometheus::Labels l = {{"source", name}};
    Source s{&read_bytes.Add(l),    &read_samples.Add(l), &read_requests.Add(l),
             &read_errors.Add(l),   &read_duration.Add(l, kReadBuckets), &source_up.Add(l)};
    sources.emplace(name, s);
    return s;
  }
  // Removes a job's self-metrics (defined below Driver).
  void RemoveJob(const Driver& d);

  prometheus::Family<prometheus::Gauge>& build_info;
  prometheus::Gauge& reload_ok;
  prometheus::Gauge& reload_ts;
  prometheus::Counter& reloads;
  prometheus::Counter& reload_failures;
  prometheus::Family<prometheus::Histogram>& refresh_duration;
  prometheus::Family<prometheus::Histogram>& fit_duration;
  prometheus::Family<prometheus::Counter>& refreshes;
  prometheus::Family<prometheus::Counter>& refresh_failures;
  prometheus::Family<prometheus::Gauge>& last_success;
  prometheus::Family<prometheus::Gauge>& stale;
  prometheus::Family<prometheus::Gauge>& series;
  prometheus::Family<prometheus::Gauge>& dropped;
  prometheus::Family<prometheus::Counter>& read_bytes;
  prometheus::Family<prometheus::Counter>& read_samples;
  prometheus::Family<prometheus::Counter>& read_requests;
  prometheus::Family<prometheus::Counter>& read_errors;
  prometheus::Family<prometheus::Histogram>& read_duration;
  prometheus::Family<prometheus::Gauge>& source_up;
  prometheus::Gauge& published_samples;

  std::mutex mu;
  std::map<std::string, Source> sources;  // guarded by mu
};

struct Exporter::Driver {
  std::string name;
  std::unique_ptr<JobRunner> runner;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> attempted{false};
  std::mutex mu;
  std::condition_variable cv;
  bool poked = false;  // guarded by mu

  // This job's self-metrics (shared with the driver of the same name after a reload).
  prometheus::Histogram* refresh_duration = nullptr;
  prometheus::Histogram* fit_duration = nullptr;
  prometheus::Counter* refreshes = nullptr;
  prometheus::Counter* refresh_failures = nullptr;
  prometheus::Gauge* last_success = nullptr;
  prometheus::Gauge* stale = nullptr;
  prometheus::Gauge* series = nullptr;
  prometheus::Gauge* dropped_max = nullptr;
  prometheus::Gauge* dropped_vanished = nullptr;
  prometheus::Gauge* dropped_fit = nullptr;
};

void Exporter::Metrics::RemoveJob(const Driver& d) {
  refresh_duration.Remove(d.refresh_duration);
  fit_duration.Remove(d.fit_duration);
  refreshes.Remove(d.refreshes);
  refresh_failures.Remove(d.refresh_failures);
  last_success.Remove(d.last_success);
  stale.Remove(d.stale);
  series.Remove(d.series);
  dropped.Remove(d.dropped_max);
  dropped.Remove(d.dropped_vanished);
  dropped.Remove(d.dropped_fit);
}

Exporter::Exporter(ExporterOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &SystemClock::Instance()),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_(std::make_unique<Metrics>(*registry_)) {
  int threads = options_.fit_threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  pool_ = std::make_unique<FitPool>(threads);
  rng_.seed(options_.seed != 0 ? options_.seed : std::random_device{}());
  if (!options_.reader_factory) options_.reader_factory = NewRemoteReadReader;
}

Result<std::unique_ptr<Exporter>> Exporter::Start(ExporterOptions options) {
  if (options.config_file.empty()) return InvalidArgument("no config file given");
  auto config = LoadConfig(options.config_file);
  if (!config.ok()) return config.status();
  std::unique_ptr<Exporter> e(new Exporter(std::move(options)));
  auto drivers = e->Build(*config, {});
  if (!drivers.ok()) return drivers.status();
  e->metrics_->reload_ok.Set(1);
  e->metrics_->reload_ts.Set(static_cast<double>(ToUnixMillis(e->clock_->Now())) / 1000.0);
  {
    std::lock_guard<std::mutex> lock(e->mu_);
    e->drivers_ = std::move(drivers).value();
    for (auto& d : e->drivers_) {
      Driver* raw = d.get();
      d->thread = std::thread([ex = e.get(), raw] { ex->RunDriver(raw); });
    }
  }
  e->publisher_ = std::thread([ex = e.get()] { ex->RunPublisher(); });
  log::Info("exporter started", {{"config", e->options_.config_file},
                                 {"jobs", std::to_string(config->forecasts.size())},
                                 {"fit_threads", std::to_string(e->pool_->threads())}});
  return e;
}

Exporter::~Exporter() {
  std::vector<std::unique_ptr<Driver>> drivers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    drivers.swap(drivers_);
  }
  for (auto& d : drivers) {
    d->stop = true;
    {
      std::lock_guard<std::mutex> lock(d->mu);
      d->poked = true;
    }
    d->cv.notify_all();
  }
  for (auto& d : drivers) {
    if (d->thread.joinable()) d->thread.join();
  }
  {
    std::lock_guard<std::mutex> lock(publish_mu_);
    stopping_ = true;
  }
  publish_cv_.notify_all();
  if (publisher_.joinable()) publisher_.join();
}

Result<std::vector<std::unique_ptr<Exporter::Driver>>> Exporter::Build(
    const Config& config, const std::vector<std::unique_ptr<Driver>>& old) {
  std::map<std::string, const Driver*> old_by_name;
  for (const auto& d : old) old_by_name[d->name] = d.get();
  std::vector<std::unique_ptr<Driver>> out;
  // A failed build takes back the self-metrics it registered for jobs the running config does
  // not have; the running jobs' metrics stay (Family::Add handed the same ones to both).
  auto fail = [&](const Status& st, const Driver* current) {
    if (current != nullptr && old_by_name.count(current->name) == 0) metrics_->RemoveJob(*current);
    for (const auto& d : out) {
      if (old_by_name.count(d->name) == 0) metrics_->RemoveJob(*d);
    }
    return st;
  };
  for (const ForecastJobConfig& job : config.forecasts) {
    const SourceConfig* source = config.FindSource(job.source);
    if (source == nullptr) {
      return fail(InvalidArgument("job " + job.name + ": unknown source " + job.source), nullptr);
    }
    auto reader = options_.reader_factory(*source);
    if (!reader.ok()) {
      return fail(Status(reader.status().code(), "job " + job.name + ", source " + source->name +
                                                     ": " + reader.status().message()),
                  nullptr);
    }
    auto d = std::make_unique<Driver>();
    d->name = job.name;
    const prometheus::Labels l = {{"foresight_job", job.name}};
    d->refresh_duration = &metrics_->refresh_duration.Add(l, kRefreshBuckets);
    d->fit_duration = &metrics_->fit_duration.Add(l, kFitBuckets);
    d->refreshes = &metrics_->refreshes.Add(l);
    d->refresh_failures = &metrics_->refresh_failures.Add(l);
    d->last_success = &metrics_->last_success.Add(l);
    d->stale = &metrics_->stale.Add(l);
    d->series = &metrics_->series.Add(l);
    d->dropped_max = &metrics_->dropped.Add({{"foresight_job", job.name}, {"reason", "max_series"}});
    d->dropped_vanished = &metrics_->dropped.Add({{"foresight_job", job.name}, {"reason", "vanished"}});
    d->dropped_fit = &metrics_->dropped.Add({{"foresight_job", job.name}, {"reason", "fit_failed"}});

    Metrics::Source sm = metrics_->ForSource(source->name);
    JobObserver obs;
    obs.on_read = [sm](const remote_read::ReadStats& stats, const Status& st) {
      sm.requests->Increment();
      sm.bytes->Increment(static_cast<double>(stats.decode.bytes));
      sm.samples->Increment(static_cast<double>(stats.decode.samples));
      sm.duration->Observe(Seconds(stats.duration));
      if (!st.ok()) sm.errors->Increment();
      sm.up->Set(st.ok() ? 1 : 0);
    };
    prometheus::Histogram* fit_hist = d->fit_duration;
    obs.on_fit = [fit_hist](std::chrono::nanoseconds dur, bool) { fit_hist->Observe(Seconds(dur)); };

    std::shared_ptr<const JobSnapshot> previous;
    auto it = old_by_name.find(job.name);
    if (it != old_by_name.end()) {
      previous = it->second->runner->Snapshot();
      // A job that already published keeps the exporter ready through the reload.
      if (previous && previous->status.last_success_ms) d->attempted = true;
    }
    auto runner = JobRunner::Create(job, std::move(reader).value(), pool_.get(), clock_,
                                    std::move(obs), previous);
    if (!runner.ok()) {
      return fail(
          Status(runner.status().code(), "job " + job.name + ": " + runner.status().message()),
          d.get());
    }
    d->runner = std::move(runner).value();
    out.push_back(std::move(d));
  }
  return out;
}

Status Exporter::Reload() {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  metrics_->reloads.Increment();
  auto fail = [&](const Status& st) {
    metrics_->reload_ok.Set(0);
    metrics_->reload_failures.Increment();
    log::Error("reload failed; the previous configuration keeps running",
               {{"config", options_.config_file}, {"err", st.message()}});
    return st;
  };
  auto config = LoadConfig(options_.config_file);
  if (!config.ok()) return fail(config.status());
  Result<std::vector<std::unique_ptr<Driver>>> built = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return Build(*config, drivers_);
  }();
  if (!built.ok()) return fail(built.status());

  // The old drivers stay listed while they stop (a read in flight may take up to the source's
  // timeout): until the swap below, /metrics, the API and readiness serve the old jobs as they
  // were. Only Reload (under reload_mu_) changes drivers_, so the old ones stay valid meanwhile.
  std::vector<Driver*> stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& d : drivers_) stopping.push_back(d.get());
  }
  for (Driver* d : stopping) {
    d->stop = true;
    {
      std::lock_guard<std::mutex> lock(d->mu);
      d->poked = true;
    }
    d->cv.notify_all();
  }
  for (Driver* d : stopping) {
    if (d->thread.joinable()) d->thread.join();
  }
  std::set<std::string> kept;
  for (const auto& d : *built) kept.insert(d->name);
  std::vector<std::unique_ptr<Driver>> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old.swap(drivers_);
    drivers_ = std::move(built).value();
    for (auto& d : drivers_) {
      Driver* raw = d.get();
      d->thread = std::thread([this, raw] { RunDriver(raw); });
    }
  }
  // After the swap, so that PublishNow no longer touches the metrics removed here.
  for (auto& d : old) {
    if (kept.count(d->name) == 0) metrics_->RemoveJob(*d);
  }
  metrics_->reload_ok.Set(1);
  metrics_->reload_ts.Set(static_cast<double>(ToUnixMillis(clock_->Now())) / 1000.0);
  log::Info("configuration reloaded", {{"config", options_.config_file},
                                       {"jobs", std::to_string(config->forecasts.size())}});
  MarkDirty();
  return Status::Ok();
}

bool Exporter::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& d : drivers_) {
    if (!d->attempted.load()) return false;
  }
  return true;
}

milliseconds Exporter::Jittered(milliseconds d) {
  if (options_.refresh_jitter <= 0) return d;
  std::lock_guard<std::mutex> lock(rng_mu_);
  std::uniform_real_distribution<double> u(1 - options_.refresh_jitter, 1 + options_.refresh_jitter);
  return milliseconds(static_cast<int64_t>(static_cast<double>(d.count()) * u(rng_)));
}

void Exporter::RunDriver(Driver* d) {
  const ForecastJobConfig& job = d->runner->config();
  const int64_t step = job.step.count();
  const int64_t delay = std::min<int64_t>(options_.update_delay.count(), step / 5);
  // The first update time after t: a step boundary plus the ingestion delay.
  auto next_update_after = [&](Sys::time_point t) {
    const int64_t ms = ToUnixMillis(t);
    int64_t b = ms - ((ms % step) + step) % step + delay;
    while (b <= ms) b += step;
    return Sys::time_point(milliseconds(b));
  };
  Sys::time_point next_refresh = clock_->Now();
  std::optional<Sys::time_point> next_update;
  int failures = 0;
  while (!d->stop.load()) {
    const Sys::time_point now = clock_->Now();
    if (now >= next_refresh) {
      const auto t0 = clock_->MonotonicNow();
      Status st = d->runner->Refresh(&d->stop);
      if (d->stop.load()) break;
      const auto took = clock_->MonotonicNow() - t0;
      if (!d->attempted.load()) {
        // Ready means the first refresh is attempted *and* visible: publish before saying so.
        PublishNow();
        d->attempted = true;
      }
      d->refreshes->Increment();
      d->refresh_duration->Observe(Seconds(took));
      auto snap = d->runner->Snapshot();
      if (st.ok()) {
        failures = 0;
        next_refresh = now + Jittered(job.refresh);
        log::Debug("refreshed", {{"job", d->name},
                                 {"series", std::to_string(snap->status.series)},
                                 {"took", DurationText(took)}});
        if (snap->status.fit_failed > 0) {
          log::Warn("some series could not be fitted",
                    {{"job", d->name}, {"failed", std::to_string(snap->status.fit_failed)},
                     {"example", snap->status.fit_error_example}});
        }
      } else {
        ++failures;
        d->refresh_failures->Increment();
        const int64_t cap = job.refresh.count();
        int64_t backoff = options_.initial_backoff.count();
        for (int i = 1; i < failures && backoff < cap; ++i) backoff *= 2;
        next_refresh = now + Jittered(milliseconds(std::min(backoff, cap)));
        log::Warn("refresh failed; serving the last good forecasts",
                  {{"job", d->name}, {"err", st.message()},
                   {"failures", std::to_string(failures)}});
      }
      next_update = next_update_after(clock_->Now());
      MarkDirty();
      continue;
    }
    if (next_update && *next_update < next_refresh && now >= *next_update) {
      Status st = d->runner->Update();
      if (!st.ok()) log::Debug("update failed", {{"job", d->name}, {"err", st.message()}});
      next_update = next_update_after(now);
      MarkDirty();
      continue;
    }
    Sys::time_point deadline = next_refresh;
    if (next_update && *next_update < deadline) deadline = *next_update;
    // Wait in real time, at most a second at a time, and look at the clock again: the clock
    // may be a test's fake one, or jump.
    auto wait = std::chrono::duration_cast<milliseconds>(deadline - now);
    wait = std::clamp(wait, milliseconds(1), milliseconds(1000));
    std::unique_lock<std::mutex> lock(d->mu);
    d->cv.wait_for(lock, wait, [&] { return d->poked || d->stop.load(); });
    d->poked = false;
  }
}

void Exporter::Poke() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& d : drivers_) {
    {
      std::lock_guard<std::mutex> dl(d->mu);
      d->poked = true;
    }
    d->cv.notify_all();
  }
}

void Exporter::MarkDirty() {
  {
    std::lock_guard<std::mutex> lock(publish_mu_);
    dirty_ = true;
  }
  publish_cv_.notify_all();
}

void Exporter::RunPublisher() {
  std::unique_lock<std::mutex> lock(publish_mu_);
  while (!stopping_) {
    publish_cv_.wait_for(lock, options_.publish_interval, [&] { return stopping_ || dirty_; });
    if (stopping_) break;
    dirty_ = false;
    lock.unlock();
    PublishNow();
    lock.lock();
    // At most once a second: many jobs finishing together make one rebuild, not many.
    publish_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
  }
}

std::vector<std::shared_ptr<const JobSnapshot>> Exporter::Snapshots() const {
  std::vector<std::shared_ptr<const JobSnapshot>> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& d : drivers_) out.push_back(d->runner->Snapshot());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->job < b->job; });
  return out;
}

void Exporter::PublishNow() {
  const int64_t now = ToUnixMillis(clock_->Now());
  std::vector<PublishedJob> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& d : drivers_) {
      auto snap = d->runner->Snapshot();
      const JobStatus& st = snap->status;
      d->series->Set(static_cast<double>(snap->series.size()));
      d->dropped_max->Set(static_cast<double>(st.dropped_max_series));
      d->dropped_vanished->Set(static_cast<double>(st.vanished));
      d->dropped_fit->Set(static_cast<double>(st.fit_failed));
      d->stale->Set(st.state == JobState::kStale || st.state == JobState::kFailed ? 1 : 0);
      if (st.last_success_ms) d->last_success->Set(static_cast<double>(*st.last_success_ms) / 1000.0);
      jobs.push_back(ToPublishedJob(*snap, now));
    }
  }
  auto set = PublishedSet::Build(std::move(jobs));
  if (gzip_wanted_.load()) set->DeflatedText();  // compress here, not in the next scrape
  metrics_->published_samples.Set(static_cast<double>(set->sample_count()));
  collector_.Publish(std::move(set));
}

std::string Exporter::MetricsGzip() const {
  gzip_wanted_ = true;
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, registry_->Collect());
  auto self = http::DeflatePart(os.str(), 1);
  const std::shared_ptr<const PublishedSet> set = collector_.Current();
  std::vector<const http::DeflatedPart*> parts;
  if (self.ok()) parts.push_back(&*self);
  if (set != nullptr) parts.push_back(&set->DeflatedText());
  return http::GzipJoin(parts);
}

std::string Exporter::MetricsText() const {
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, registry_->Collect());
  std::string out = os.str();
  collector_.AppendText(&out);
  return out;
}

}  // namespace foresight::exporter
