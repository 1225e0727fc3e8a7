#pragma once

// An Exporter for unit tests: its config file in a fresh temporary directory, a FakeClock, and
// readers on one shared FakeSeriesStore. Shared by exporter_test.cc and web_test.cc.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "fake_series_reader.h"
#include "foresight/common/clock.h"
#include "foresight/exporter/exporter.h"

namespace foresight::exporter::fakes {

inline constexpr int64_t kHarnessStep = 60'000;
// A step boundary near FakeClock's default start; the clock runs 20 s past it.
inline constexpr int64_t kHarnessT0 = 28'333'334LL * kHarnessStep;
inline constexpr int64_t kHarnessNow = kHarnessT0 + 20'000;

// One forecast job on source "main" for series m{svc="<svc>"}: 1m steps, 2h lookback, horizons
// 5m and 15m, refresh 5m, a threshold at 1000.
inline std::string JobYaml(const std::string& name, const std::string& selector) {
  return "  - name: " + name +
         "\n"
         "    source: main\n"
         "    selector: '" +
         selector +
         "'\n"
         "    step: 1m\n"
         "    lookback: 2h\n"
         "    horizons: [5m, 15m]\n"
         "    seasonality: [30m]\n"
         "    models: [ets, theta, naive]\n"
         "    refresh: 5m\n"
         "    vanish_after: 10m\n"
         "    thresholds:\n"
         "      - {name: capacity, value: 1000}\n";
}

inline std::string ConfigYaml(const std::vector<std::string>& jobs) {
  std::string out =
      "sources:\n"
      "  - name: main\n"
      "    remote_read_url: http://127.0.0.1:9/api/v1/read\n"
      "forecasts:\n";
  for (const std::string& j : jobs) out += j;
  return out;
}

class ExporterHarness {
 public:
  ExporterHarness()
      : store_(std::make_shared<FakeSeriesStore>()),
        clock_(std::chrono::system_clock::time_point(std::chrono::milliseconds(kHarnessNow))) {
    std::string templ = (std::filesystem::temp_directory_path() / "foresight_exporter_XXXXXX");
    char* dir = mkdtemp(templ.data());
    EXPECT_NE(dir, nullptr);
    dir_ = templ;
    config_file_ = (std::filesystem::path(dir_) / "foresight.yml").string();
  }
  ~ExporterHarness() {
    store_->Release();  // a driver blocked in a read must be able to stop
    exporter_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ExporterHarness(const ExporterHarness&) = delete;
  ExporterHarness& operator=(const ExporterHarness&) = delete;

  void WriteConfig(const std::string& text) {
    std::ofstream f(config_file_, std::ios::trunc);
    f << text;
    ASSERT_TRUE(f.good());
  }

  // Three hours of history up to the last step, one sample per step, for m{svc, instance}.
  void AddSeries(const std::string& svc, const std::string& instance, double offset) {
    const remote_read::Labels labels = {{"__name__", "m"}, {"instance", instance}, {"svc", svc}};
    for (int64_t t = kHarnessT0 - 180 * kHarnessStep; t <= kHarnessT0; t += kHarnessStep) {
      const int64_t k = t / kHarnessStep;
      store_->Add(labels, t,
                  offset + 100 +
                      10 * std::sin(2 * std::numbers::pi * static_cast<double>(k % 30) / 30.0) +
                      static_cast<double>(k % 7));
    }
  }

  ExporterOptions Options() {
    ExporterOptions o;
    o.config_file = config_file_;
    o.clock = &clock_;
    o.fit_threads = 2;
    o.refresh_jitter = 0;
    o.seed = 1;
    auto store = store_;
    auto fail = factory_fails_;
    o.reader_factory = [store,
                        fail](const SourceConfig& source) -> Result<std::unique_ptr<SeriesReader>> {
      // A source named "broken" never gets a reader.
      if (fail->load() || source.name == "broken") {
        return Unavailable("no reader for " + source.remote_read_url);
      }
      return std::unique_ptr<SeriesReader>(std::make_unique<FakeSeriesReader>(store));
    };
    return o;
  }

  // Starts the exporter; false (with a test failure) when Start fails.
  bool Start() {
    auto e = Exporter::Start(Options());
    EXPECT_TRUE(e.ok()) << e.status().message();
    if (!e.ok()) return false;
    exporter_ = std::move(e).value();
    return true;
  }

  bool WaitReady() {
    return PollUntil([&] { return exporter_->Ready(); });
  }

  // Republishes and polls until /metrics contains `text`.
  bool WaitForMetric(const std::string& text) {
    return PollUntil([&] {
      exporter_->PublishNow();
      return exporter_->MetricsText().find(text) != std::string::npos;
    });
  }

  Exporter* exporter() { return exporter_.get(); }
  FakeSeriesStore* store() { return store_.get(); }
  FakeClock* clock() { return &clock_; }
  const std::string& config_file() const { return config_file_; }
  void SetFactoryFails(bool fails) { factory_fails_->store(fails); }

 private:
  std::shared_ptr<FakeSeriesStore> store_;
  FakeClock clock_;
  std::shared_ptr<std::atomic<bool>> factory_fails_ = std::make_shared<std::atomic<bool>>(false);
  std::string dir_;
  std::string config_file_;
  std::unique_ptr<Exporter> exporter_;
};

}  // namespace foresight::exporter::fakes
