// A scrape of 100,000 published forecast series: the exporter's custom Collectable through
// prometheus-cpp's TextSerializer (the library's own path) against our direct text writer
// (PublishedSet::AppendText), side by side. Shape: 20,000 source series, each publishing one
// horizon with one band and an anomaly flag and score: 5 samples a series.

#include <benchmark/benchmark.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "foresight/exporter/publish.h"

namespace {

using foresight::exporter::ForecastCollector;
using foresight::exporter::PublishedJob;
using foresight::exporter::PublishedSeries;
using foresight::exporter::PublishedSet;

// 20,000 series x (forecast, lower, upper, anomaly, anomaly score) = 100,000 samples.
std::shared_ptr<const PublishedSet> MakeSet() {
  PublishedJob job;
  job.job = "api_rps";
  for (int i = 0; i < 20000; ++i) {
    PublishedSeries s;
    s.labels = {{"instance", "host-" + std::to_string(i / 20) + ":9100"},
                {"service", "svc-" + std::to_string(i % 20)},
                {"job", "node"}};
    s.horizons.push_back({"1h", 1000.0 + i * 0.25, {{"0.95", 900.0 + i * 0.25, 1100.5 + i}}});
    s.anomaly = foresight::exporter::PublishedAnomaly{i % 97 == 0, 0.125 * (i % 17)};
    job.series.push_back(std::move(s));
  }
  return PublishedSet::Build({std::move(job)});
}

void BM_CollectAndTextSerializer(benchmark::State& state) {
  ForecastCollector collector;
  collector.Publish(MakeSet());
  prometheus::TextSerializer serializer;
  size_t bytes = 0, samples = 0;
  for (auto _ : state) {
    std::ostringstream out;
    auto families = collector.Collect();
    serializer.Serialize(out, families);
    bytes = out.str().size();
    samples = 0;
    for (const auto& f : families) samples += f.metric.size();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["samples"] = static_cast<double>(samples);
}
BENCHMARK(BM_CollectAndTextSerializer)->Unit(benchmark::kMillisecond);

void BM_AppendText(benchmark::State& state) {
  auto set = MakeSet();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out;
    set->AppendText(&out);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["samples"] = static_cast<double>(set->sample_count());
}
BENCHMARK(BM_AppendText)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
