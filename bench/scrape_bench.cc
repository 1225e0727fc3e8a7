// A scrape of 100,000 published forecast samples over real HTTP on loopback, end to end.
//
// The exporter is the real one (foresight::exporter::Exporter, in process): a config with one job
// of 5,000 series, models [naive], horizons [15m, 1h, 6h], confidence [0.8, 0.95], fed by a fake
// SeriesReader (the only substitute: no Prometheus behind the job), refreshed and published by
// its own driver and publisher. Each series publishes 3 horizons x (forecast + 2 bands x lower
// and upper) = 15 samples, plus foresight_anomaly, foresight_anomaly_score, foresight_model_info,
// foresight_backtest_mase and foresight_backtest_coverage_ratio: 20 samples, 100,000 in all.
//
// Served three ways, measured side by side in one run:
//   ours   the exporter's own stack: foresight::http::Server with web.h's MakeHandler, whose
//          /metrics is Exporter::MetricsText() (self-metrics through prometheus-cpp, forecasts
//          through PublishedSet::AppendText);
//   peer   prometheus-cpp's own prometheus::Exposer serving the same registry and a
//          ForecastCollector holding the same published set (Collect() -> ToMetricFamilies()
//          -> its TextSerializer, gzip when asked);
//   then a real Prometheus scraping each every 5 s (a fresh one per target, one target at a
//   time), whose own scrape_duration_seconds and scrape_samples_scraped say what the scrape
//   costs as Prometheus sees it; a third target serving a fixed copy of ours' body from memory
//   shows Prometheus's own share (fetch, parse, append).
// libcurl requests reuse one connection per server and encoding, are made without and with
// Accept-Encoding: gzip (Prometheus always asks for gzip), and take turns across the four.
//
// Usage: scrape_bench [--series N] [--requests N] [--warmups N] [--prometheus-seconds N]

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <prometheus/exposer.h>

#include "foresight/exporter/exporter.h"
#include "foresight/exporter/web.h"
#include "foresight/http/server.h"
#include "bench_env.h"
#include "prometheus_fixture.h"

namespace {

namespace fx = foresight::exporter;
namespace rr = foresight::remote_read;
using Clock = std::chrono::steady_clock;
using foresight::bench::LoadAverage;
using foresight::bench::Machine;
using foresight::bench::UtcNow;

constexpr int64_t kStepMs = 5 * 60 * 1000;
constexpr int kHistorySteps = 2 * 24 * 12;  // 2 days of 5-minute steps

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Serves `series` request-rate-like series once (the first refresh); later reads (the driver's
// Updates) return nothing, so no further work runs during the measurement. Nothing vanishes
// before vanish_after (30 m) past the data's end.
class FleetReader final : public fx::SeriesReader {
 public:
  explicit FleetReader(int series) : series_(series) {}
  foresight::Status Read(const rr::Query& query, std::vector<rr::Series>* out,
                         rr::ReadStats* stats) override {
    if (served_) return foresight::Status::Ok();
    served_ = true;
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0.0, 0.05);
    const int64_t end = query.end_ms / kStepMs * kStepMs;
    for (int k = 0; k < series_; ++k) {
      rr::Series s;
      char instance[64], service[32];
      std::snprintf(instance, sizeof(instance), "10.%d.%d.%d:8080", k / 50 % 3, k / 150 % 256,
                    k % 50 + 10);
      std::snprintf(service, sizeof(service), "svc-%03d", k / 50);
      s.labels = {{"__name__", "service:http_requests:rate5m"}, {"instance", instance},
                  {"job", "api"}, {"region", k / 50 % 3 == 0 ? "eu-west-1" : "us-east-1"},
                  {"service", service}};
      const double level = 10.0 + (k % 997);
      for (int i = 0; i < kHistorySteps; ++i) {
        const int64_t t = end - static_cast<int64_t>(kHistorySteps - 1 - i) * kStepMs - 20000;
        if (t < query.start_ms) continue;
        const double hour = std::fmod(static_cast<double>(t) / 3.6e6, 24.0);
        s.timestamps_ms.push_back(t);
        s.values.push_back(level * (1 + 0.5 * std::sin(2 * M_PI * hour / 24)) *
                           std::exp(noise(rng)));
      }
      if (stats != nullptr) stats->decode.samples += s.values.size();
      out->push_back(std::move(s));
    }
    if (stats != nullptr) stats->decode.series = out->size();
    return foresight::Status::Ok();
  }

 private:
  int series_;
  bool served_ = false;
};

std::string ExporterConfig() {
  return "sources:\n"
         "  - name: fake\n"
         "    remote_read_url: http://127.0.0.1:1/api/v1/read\n"
         "forecasts:\n"
         "  - name: scrape_bench\n"
         "    source: fake\n"
         "    selector: 'service:http_requests:rate5m'\n"
         "    step: 5m\n"
         "    lookback: 2d\n"
         "    horizons: [15m, 1h, 6h]\n"
         "    confidence: [0.8, 0.95]\n"
         "    seasonality: []\n"
         "    models: [naive]\n"
         "    refresh: 1h\n"
         "    max_series: 100000\n";
}

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Timing {
  double total_s = 0;
  double first_byte_s = 0;  // request sent to first body byte: the server building the body
  double wire_bytes = 0;
  size_t body_bytes = 0;
  size_t samples = 0;  // non-comment lines of the (decoded) body
  long status = 0;
};

// A keep-alive client for one URL, as a Prometheus scrape loop is.
class Scraper {
 public:
  Scraper(std::string url, bool gzip) : url_(std::move(url)), h_(curl_easy_init()) {
    curl_easy_setopt(h_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(h_, CURLOPT_WRITEDATA, &body_);
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    // What Prometheus 2.42 sends.
    headers_ = curl_slist_append(headers_, "Accept: application/openmetrics-text;version=1.0.0,"
                                           "application/openmetrics-text;version=0.0.1;q=0.75,"
                                           "text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
    curl_easy_setopt(h_, CURLOPT_HTTPHEADER, headers_);
    if (gzip) curl_easy_setopt(h_, CURLOPT_ACCEPT_ENCODING, "gzip");
  }
  ~Scraper() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(h_);
  }
  Timing Get() {
    body_.clear();
    Timing t;
    if (curl_easy_perform(h_) != CURLE_OK) return t;
    curl_easy_getinfo(h_, CURLINFO_RESPONSE_CODE, &t.status);
    curl_easy_getinfo(h_, CURLINFO_TOTAL_TIME, &t.total_s);
    curl_easy_getinfo(h_, CURLINFO_STARTTRANSFER_TIME, &t.first_byte_s);
    curl_off_t dl = 0;
    curl_easy_getinfo(h_, CURLINFO_SIZE_DOWNLOAD_T, &dl);
    t.wire_bytes = static_cast<double>(dl);
    t.body_bytes = body_.size();
    size_t pos = 0;
    while (pos < body_.size()) {
      size_t nl = body_.find('\n', pos);
      if (nl == std::string::npos) nl = body_.size();
      if (nl > pos && body_[pos] != '#') ++t.samples;
      pos = nl + 1;
    }
    return t;
  }
  const std::string& body() const { return body_; }

 private:
  std::string url_;
  CURL* h_;
  curl_slist* headers_ = nullptr;
  std::string body_;
};

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  int series = 5000;
  int requests = 20;
  int warmups = 2;
  int prometheus_seconds = 60;
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (a == "--series") series = v;
    else if (a == "--requests") requests = v;
    else if (a == "--warmups") warmups = v;
    else if (a == "--prometheus-seconds") prometheus_seconds = v;
    else {
      std::cerr << "usage: scrape_bench [--series N] [--requests N] [--warmups N] "
                   "[--prometheus-seconds N (0: skip)]\n";
      return 2;
    }
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::printf("# %s\n# date %s; machine: %s; load average %s\n", command.c_str(),
              UtcNow().c_str(), Machine().c_str(), LoadAverage().c_str());

  // The exporter, its first refresh and its published set.
  char tmpl[] = "/tmp/scrape_bench.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string config = dir + "/foresight.yml";
  {
    std::ofstream out(config);
    out << ExporterConfig();
  }
  fx::ExporterOptions eo;
  eo.config_file = config;
  eo.fit_threads = 2;
  eo.reader_factory = [series](const fx::SourceConfig&)
      -> foresight::Result<std::unique_ptr<fx::SeriesReader>> {
    return std::unique_ptr<fx::SeriesReader>(new FleetReader(series));
  };
  const auto t0 = Clock::now();
  auto ex = fx::Exporter::Start(std::move(eo));
  if (!ex.ok()) {
    std::cerr << ex.status().message() << "\n";
    return 1;
  }
  while (!(*ex)->Ready()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*ex)->PublishNow();
  auto set = (*ex)->collector().Current();
  const auto snaps = (*ex)->Snapshots();
  std::printf("# exporter: %zu series refreshed and published in %.1f s: %zu forecast samples\n",
              snaps.empty() ? size_t{0} : snaps[0]->series.size(),
              std::chrono::duration<double>(Clock::now() - t0).count(),
              set ? set->sample_count() : size_t{0});

  // Ours: the daemon's HTTP server and handler.
  foresight::http::ServerOptions so;
  so.listen_address = "127.0.0.1:0";
  so.threads = 8;  // as cmd/main.cc
  auto server = foresight::http::Server::Start(so, fx::MakeHandler(ex->get(), {"/metrics"}));
  if (!server.ok()) {
    std::cerr << server.status().message() << "\n";
    return 1;
  }
  // The peer: prometheus-cpp's Exposer with the same registry and the same published set.
  prometheus::Exposer exposer("127.0.0.1:0");
  std::shared_ptr<prometheus::Registry> registry(&(*ex)->registry(), [](prometheus::Registry*) {});
  auto collector = std::make_shared<fx::ForecastCollector>();
  collector->Publish(set);
  exposer.RegisterCollectable(registry);
  exposer.RegisterCollectable(collector);
  const int ours_port = (*server)->port();
  const int peer_port = exposer.GetListeningPorts().at(0);
  const std::string ours_url = "http://127.0.0.1:" + std::to_string(ours_port) + "/metrics";
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port) + "/metrics";

  std::printf("# %d requests per row after %d warm-ups, one keep-alive connection per row; "
              "the four rows take turns request by request, so they share the same conditions\n\n",
              requests, warmups);
  std::printf("| server | encoding | samples | bytes on the wire | body bytes | p50 (ms) | "
              "p90 (ms) | max (ms) | p50 to first byte (ms) |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  {
    struct Row {
      const char* server;
      bool gzip;
      std::unique_ptr<Scraper> scraper;
      std::vector<double> latency, first_byte;
      Timing last;
    };
    const char* ours_name = "ours: http::Server + MakeHandler (MetricsText)";
    const char* peer_name = "peer: prometheus-cpp Exposer (Collect + TextSerializer)";
    Row rows[4] = {{ours_name, false, std::make_unique<Scraper>(ours_url, false), {}, {}, {}},
                   {peer_name, false, std::make_unique<Scraper>(peer_url, false), {}, {}, {}},
                   {ours_name, true, std::make_unique<Scraper>(ours_url, true), {}, {}, {}},
                   {peer_name, true, std::make_unique<Scraper>(peer_url, true), {}, {}, {}}};
    for (int i = 0; i < warmups; ++i) {
      for (Row& r : rows) r.scraper->Get();
    }
    for (int i = 0; i < requests; ++i) {
      for (Row& r : rows) {
        Timing t = r.scraper->Get();
        if (t.status != 200) {
          std::fprintf(stderr, "%s: HTTP %ld\n", r.server, t.status);
          return 1;
        }
        r.latency.push_back(t.total_s);
        r.first_byte.push_back(t.first_byte_s);
        r.last = t;
      }
    }
    for (const Row& r : rows) {
      std::printf("| %s | %s | %zu | %.0f | %zu | %.1f | %.1f | %.1f | %.1f |\n", r.server,
                  r.gzip ? "gzip asked" : "identity", r.last.samples, r.last.wire_bytes,
                  r.last.body_bytes, 1000 * Quantile(r.latency, 0.5),
                  1000 * Quantile(r.latency, 0.9), 1000 * Quantile(r.latency, 1.0),
                  1000 * Quantile(r.first_byte, 0.5));
    }
    std::fflush(stdout);
  }

  if (prometheus_seconds > 0) {
    // A third target serves a fixed copy of ours' body from memory: what Prometheus's own side
    // of the scrape (fetch, parse, append to its head) costs with next to no server work.
    Scraper once(ours_url, false);
    once.Get();
    auto fixed = std::make_shared<const std::string>(once.body());
    auto static_server = foresight::http::Server::Start(
        so, [fixed](const foresight::http::Request&) {
          foresight::http::Response r;
          r.content_type = "text/plain; version=0.0.4; charset=utf-8";
          r.body = *fixed;
          return r;
        });
    if (!static_server.ok()) {
      std::cerr << static_server.status().message() << "\n";
      return 1;
    }
    std::printf("\n# a real Prometheus (scrape_interval 5s, scrape_timeout 4s, sample_limit 0; it "
                "asks for gzip) scraping one target for %d s, a fresh Prometheus per target: "
                "ours, the peer, and a fixed copy of ours' body served from memory. Its own "
                "figures per scrape; its scrape_duration_seconds covers the fetch, the parse and "
                "the append to its head:\n\n",
                prometheus_seconds);
    // The first scrape also creates the 100,000 series in Prometheus's head: shown apart.
    std::printf("| target | scrapes | up | scrape_samples_scraped | scrape_body_size_bytes | "
                "scrape_duration_seconds, first (ms) | after it: p50 (ms) | p90 (ms) | "
                "max (ms) |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    std::fflush(stdout);
    const std::pair<std::string, int> targets[] = {
        {"ours", ours_port}, {"peer", peer_port}, {"fixed_body", (*static_server)->port()}};
    for (const auto& [job, port] : targets) {
      foresight::testing::PrometheusFixture::Options po;
      po.extra_config_yaml =
          "global:\n"
          "  scrape_interval: 5s\n"
          "  scrape_timeout: 4s\n"
          "  evaluation_interval: 5s\n"
          "scrape_configs:\n"
          "  - job_name: " + job + "\n"
          "    sample_limit: 0\n"
          "    static_configs: [{targets: ['127.0.0.1:" + std::to_string(port) + "']}]\n";
      po.extra_flags = {"--enable-feature=extra-scrape-metrics"};
      auto prom = foresight::testing::PrometheusFixture::Start(std::move(po));
      if (!prom.ok()) {
        std::cerr << prom.status().message() << "\n";
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::seconds(prometheus_seconds));
      const int64_t now = NowMs();
      const std::string window = "[" + std::to_string(prometheus_seconds + 30) + "s]";
      auto values = [&](const std::string& metric) {
        std::vector<double> v;
        auto raw = foresight::testing::QueryRaw((*prom)->base_url(),
                                                metric + "{job=\"" + job + "\"}" + window, now);
        if (!raw.ok()) {
          std::fprintf(stderr, "%s\n", raw.status().message().c_str());
          return v;
        }
        for (const auto& s : *raw) v.insert(v.end(), s.values.begin(), s.values.end());
        return v;
      };
      const auto dur = values("scrape_duration_seconds");
      const auto up = values("up");
      const auto samples = values("scrape_samples_scraped");
      const auto body = values("scrape_body_size_bytes");
      double up_sum = 0;
      for (double u : up) up_sum += u;
      const std::vector<double> rest(dur.begin() + (dur.empty() ? 0 : 1), dur.end());
      std::printf("| %s | %zu | %.0f/%zu | %.0f | %.0f | %.1f | %.1f | %.1f | %.1f |\n",
                  job.c_str(), dur.size(), up_sum, up.size(),
                  samples.empty() ? NAN : samples.back(), body.empty() ? NAN : body.back(),
                  dur.empty() ? NAN : 1000 * dur.front(), 1000 * Quantile(rest, 0.5),
                  1000 * Quantile(rest, 0.9), 1000 * Quantile(rest, 1.0));
      std::fflush(stdout);
    }
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("\n# load average at the end: %s\n", LoadAverage().c_str());
  std::printf("# this process (exporter, both servers, client): peak RSS %.0f MiB\n",
              ru.ru_maxrss / 1024.0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
