// One refresh of foresight_exporter on a realistic fleet: by default 1,000 series x 14 days at
// 5-minute steps (4,032 samples a series, 4.0 M samples) with daily and weekly seasonality,
// pulled by remote read from a real Prometheus and fitted with every model (`models: auto`).
//
// The REAL foresight_exporter binary runs as a child process, pinned with `taskset -c CPUS` and
// given --fit.threads; the benchmark waits for its /-/ready and reads the exporter's own
// self-metrics from /metrics (refresh, fit and remote-read histograms), its peak RSS (VmHWM from
// /proc/PID/status) and its CPU time. Every run is a fresh exporter process measuring its first
// refresh.
//
// Side by side in the same run, the peer: what Prometheus itself pays. Its peak RSS while it
// serves the exporter's remote read, and the time it takes to serve the same 14 days at the same
// 5-minute step through its own /api/v1/query_range JSON API (one query for every series): what
// a user's alternative pipeline would pay just to get the data, before any modelling.
//
// Prometheus runs with its default retention (15d) on blocks of 18 h, the largest it would
// compact to itself, so no compaction competes for the CPUs while the exporter runs.
//
// Usage: refresh_bench [--series N] [--runs N] [--models auto|m1,m2 ...] [--cpus 0,1]
//                      [--fit-threads N] [--exporter PATH] [--query-runs N] [--seed N]
//                      [--block-duration 18h] [--compaction-wait]
//   --models may be repeated: each model set gets --runs fresh exporters on the same data.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "bench_env.h"
#include "daemon_process.h"
#include "prometheus_fixture.h"

#ifndef FORESIGHT_EXPORTER_BINARY
#define FORESIGHT_EXPORTER_BINARY "foresight_exporter"
#endif

namespace {

using foresight::bench::LoadAverage;
using foresight::bench::Machine;
using foresight::bench::UtcNow;
using foresight::testing::BackfillSeries;
using Clock = std::chrono::steady_clock;

constexpr int64_t kStepMs = 5 * 60 * 1000;
constexpr int64_t kDayMs = 24 * 3600 * 1000LL;
constexpr const char* kMetric = "service:http_requests:rate5m";
constexpr const char* kJob = "bench";

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- The fleet -------------------------------------------------------------------------------

// A business-hours day in local time, mean about 0, range about [-1, 1]: low at night, a
// morning ramp, a small lunch dip and an evening shoulder.
double DailyShape(double hour) {
  const double two_pi = 2 * M_PI;
  return 0.85 * std::sin(two_pi * (hour - 9.0) / 24.0) +
         0.25 * std::sin(2 * two_pi * (hour - 7.5) / 24.0) -
         0.12 * std::exp(-0.5 * std::pow((hour - 12.75) / 0.6, 2));
}

// Weekly factor: weekdays 1, the weekend lower by `dip`, with two-hour ramps at midnight.
// day 0 is Thursday (the Unix epoch), so days 2 and 3 are Saturday and Sunday.
double WeeklyFactor(double days_since_epoch, double dip) {
  const double d = std::fmod(days_since_epoch, 7.0);
  auto ramp = [](double x) { return std::clamp(x, 0.0, 1.0); };
  // Weight of "weekend": rises over Saturday 00:00-02:00, falls over Monday 00:00-02:00.
  const double w = ramp((d - 2.0) * 12.0) * (1.0 - ramp((d - 4.0) * 12.0));
  return 1.0 - dip * w;
}

struct FleetOptions {
  int series = 1000;
  int64_t end_ms = 0;  // the last grid time; samples fall a little before grid times
  int samples = 4032;  // 14 days at 5 minutes
  uint64_t seed = 42;
};

struct FleetSummary {
  int trending = 0, shifted = 0, spiky = 0, low_rate = 0, shifted_timezone = 0;
};

// Request rates per service instance, the way a recording rule such as
// service:http_requests:rate5m stores them (one sample per 5-minute evaluation, a fixed offset
// after the grid time). level x daily shape x weekly factor x AR(1) multiplicative noise, plus:
// 10 % with a trend, 5 % with a level shift, 5 % with short spikes, 5 % low-rate (Poisson
// counts, zeros included), 20 % in another time zone.
std::vector<BackfillSeries> MakeFleet(const FleetOptions& o, FleetSummary* summary) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::normal_distribution<double> n01(0.0, 1.0);
  std::vector<BackfillSeries> out;
  out.reserve(static_cast<size_t>(o.series));
  const int per_service = 20;
  const char* regions[] = {"eu-west-1", "us-east-1", "ap-south-1"};
  for (int k = 0; k < o.series; ++k) {
    BackfillSeries s;
    s.metric = kMetric;
    const int svc = k / per_service, inst = k % per_service;
    char svc_name[32], instance[64];
    std::snprintf(svc_name, sizeof(svc_name), "svc-%03d", svc);
    std::snprintf(instance, sizeof(instance), "10.%d.%d.%d:8080", svc % 3, svc / 3 % 256,
                  inst + 10);
    s.labels = {{"instance", instance}, {"job", "api"}, {"region", regions[svc % 3]},
                {"service", svc_name}};

    const double level = std::exp(std::log(5.0) + u01(rng) * (std::log(5000.0) - std::log(5.0)));
    const double daily_amp = 0.3 + 0.5 * u01(rng);
    const double weekend_dip = 0.1 + 0.5 * u01(rng);
    const double noise_sd = 0.02 + 0.08 * u01(rng);
    const double tz_hours = (svc % 5 == 4) ? 5.0 + 3.0 * u01(rng) : 0.0;
    const bool trending = u01(rng) < 0.10;
    const bool shifted = u01(rng) < 0.05;
    const bool spiky = u01(rng) < 0.05;
    const bool low_rate = u01(rng) < 0.05;
    const double trend_total = (u01(rng) < 0.7 ? 1 : -1) * (0.05 + 0.25 * u01(rng));
    const int shift_at = static_cast<int>(o.samples * (0.3 + 0.6 * u01(rng)));
    const double shift_factor = u01(rng) < 0.5 ? 0.6 + 0.3 * u01(rng) : 1.2 + 0.4 * u01(rng);
    const double lam_level = 0.2 + 1.8 * u01(rng);  // low-rate series: requests per second
    const int64_t offset_ms = 1000 + static_cast<int64_t>(u01(rng) * 58000);  // eval offset
    if (summary != nullptr) {
      summary->trending += trending;
      summary->shifted += shifted;
      summary->spiky += spiky;
      summary->low_rate += low_rate;
      summary->shifted_timezone += tz_hours > 0;
    }

    s.timestamps_ms.reserve(static_cast<size_t>(o.samples));
    s.values.reserve(static_cast<size_t>(o.samples));
    double ar = 0;
    int spike_left = 0;
    double spike_factor = 1;
    for (int i = 0; i < o.samples; ++i) {
      const int64_t grid = o.end_ms - static_cast<int64_t>(o.samples - 1 - i) * kStepMs;
      const int64_t t = grid - offset_ms - static_cast<int64_t>(u01(rng) * 30);  // ms of jitter
      const double days = static_cast<double>(t) / static_cast<double>(kDayMs);
      const double hour = std::fmod(days * 24.0 - tz_hours + 48.0, 24.0);
      double mean =
          (1.0 + daily_amp * DailyShape(hour)) * WeeklyFactor(days - tz_hours / 24, weekend_dip);
      if (trending) mean *= 1.0 + trend_total * static_cast<double>(i) / o.samples;
      if (shifted && i >= shift_at) mean *= shift_factor;
      ar = 0.6 * ar + noise_sd * n01(rng);
      double v;
      if (low_rate) {
        // A rate over 5 minutes of Poisson arrivals: count / 300.
        std::poisson_distribution<int> arrivals(std::max(0.01, lam_level * mean * 300.0));
        v = arrivals(rng) / 300.0;
      } else {
        v = level * mean * std::exp(ar);
      }
      if (spiky) {
        if (spike_left == 0 && u01(rng) < 0.002) {
          spike_left = 1 + static_cast<int>(u01(rng) * 3);
          spike_factor = 2.0 + 2.0 * u01(rng);
        }
        if (spike_left > 0) {
          v *= spike_factor;
          --spike_left;
        }
      }
      s.timestamps_ms.push_back(t);
      s.values.push_back(std::max(0.0, v));
    }
    out.push_back(std::move(s));
  }
  return out;
}

// ---- Small helpers: /proc, HTTP, the text format ---------------------------------------------

// A "VmHWM:" style line of /proc/PID/status, in KiB; -1 when absent.
long ProcStatusKb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  }
  return -1;
}

// Resets the process's VmHWM to its current RSS (Linux >= 4.0), so the next reading is the peak
// since now.
bool ResetPeakRss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  return static_cast<bool>(out);
}

// utime + stime of the process in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t rp = text.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream rest(text.substr(rp + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Fetched {
  long status = 0;  // 0: transport error
  std::string body;
  double seconds = 0;
  double wire_bytes = 0;  // as received (compressed when gzip)
  std::string error;
};

Fetched Get(const std::string& url, bool gzip, long timeout_ms) {
  Fetched f;
  CURL* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &f.body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (gzip) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
  auto t0 = Clock::now();
  CURLcode rc = curl_easy_perform(h);
  f.seconds = SecondsSince(t0);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &f.status);
    curl_off_t dl = 0;
    curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &dl);
    f.wire_bytes = static_cast<double>(dl);
  } else {
    f.error = curl_easy_strerror(rc);
  }
  curl_easy_cleanup(h);
  return f;
}

struct TextSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The text exposition format, enough for self-metrics: name{labels} value [timestamp].
std::vector<TextSample> ParseText(const std::string& text) {
  std::vector<TextSample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    TextSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) break;
        std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;  // past ="
        while (j < line.size() && line[j] != '"') {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value.push_back(line[j] == 'n' ? '\n' : line[j]);
          } else {
            value.push_back(line[j]);
          }
          ++j;
        }
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // past }
    }
    s.value = std::strtod(line.c_str() + i, nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

// Sum of the samples named `name` whose labels include `want`; nullopt when none matched.
std::optional<double> Sum(const std::vector<TextSample>& samples, const std::string& name,
                          const std::map<std::string, std::string>& want = {}) {
  std::optional<double> total;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : want) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) total = total.value_or(0) + s.value;
  }
  return total;
}

// A quantile of a cumulative histogram by linear interpolation inside the bucket, as PromQL's
// histogram_quantile does.
double HistogramQuantile(const std::vector<TextSample>& samples, const std::string& name,
                         const std::map<std::string, std::string>& want, double q) {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
  for (const auto& s : samples) {
    if (s.name != name + "_bucket") continue;
    bool match = true;
    for (const auto& [k, v] : want) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) buckets.emplace_back(std::strtod(s.labels.at("le").c_str(), nullptr), s.value);
  }
  std::sort(buckets.begin(), buckets.end());
  if (buckets.empty() || buckets.back().second <= 0) return NAN;
  const double rank = q * buckets.back().second;
  double lo = 0, below = 0;
  for (const auto& [le, cum] : buckets) {
    if (cum >= rank) {
      if (std::isinf(le)) return lo;  // beyond the largest finite bucket
      return lo + (le - lo) * (rank - below) / std::max(cum - below, 1e-12);
    }
    lo = le;
    below = cum;
  }
  return lo;
}

// ---- The exporter as a child process ---------------------------------------------------------

struct Child {
  pid_t pid = -1;
  int exit_status = -1;  // after it exited
};

// fork + exec with stdout and stderr into `log`; the child dies with us (PR_SET_PDEATHSIG).
Child SpawnLogged(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  return Child{pid};
}

bool Exited(Child* c) {
  int status = 0;
  if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
    c->exit_status = status;
    return true;
  }
  return false;
}

void Stop(Child* c) {
  if (c->pid <= 0) return;
  kill(c->pid, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (Exited(c)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(c->pid, SIGKILL);
  waitpid(c->pid, &c->exit_status, 0);
}

std::string FileTail(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

std::string ModelsYaml(const std::string& models) {
  if (models == "auto") return "auto";
  std::string out = "[";
  std::stringstream ss(models);
  std::string m;
  bool first = true;
  while (std::getline(ss, m, ',')) {
    out += (first ? "" : ", ") + m;
    first = false;
  }
  return out + "]";
}

std::string ExporterConfig(const std::string& remote_read_url, const std::string& models) {
  return "# Written by refresh_bench.\n"
         "sources:\n"
         "  - name: prometheus\n"
         "    remote_read_url: " + remote_read_url + "\n"
         "    timeout: 5m\n"
         "forecasts:\n"
         "  - name: " + std::string(kJob) + "\n"
         "    source: prometheus\n"
         "    selector: '" + std::string(kMetric) + "'\n"
         "    step: 5m\n"
         "    lookback: 14d\n"
         "    horizons: [15m, 1h, 6h, 1d]\n"
         "    confidence: [0.8, 0.95]\n"
         "    seasonality: [1d, 1w]\n"
         "    models: " + ModelsYaml(models) + "\n"
         "    refresh: 1h\n"
         "    max_series: 2000\n";
}

struct RunResult {
  bool ok = false;
  std::string problem;
  double spawn_to_ready_s = 0;
  double refresh_s = 0;     // foresight_refresh_duration_seconds_sum
  double read_s = 0;        // foresight_remote_read_duration_seconds_sum
  double read_bytes = 0;
  double read_samples = 0;
  double fit_sum_s = 0;
  double fit_count = 0;
  double fit_p50 = 0, fit_p90 = 0, fit_p99 = 0;
  double series = 0, dropped = 0;
  double published_samples = 0;
  long exporter_hwm_kb = 0, exporter_rss_kb = 0;
  double exporter_cpu_s = 0;
  long prometheus_hwm_kb = 0;
  double prometheus_cpu_s = 0;
  std::string fit_buckets;  // "le: count" over the histogram, for where the time goes
  std::string chosen;       // foresight_model_info by model: what the engine selected
  int polls_after_ready = 0;  // /metrics reads after /-/ready until the forecasts were there
};

RunResult RunExporter(const std::string& exporter, const std::string& cpus, int fit_threads,
                      const std::string& dir, const std::string& remote_read_url,
                      const std::string& models, int index, pid_t prometheus_pid,
                      int expected_series) {
  RunResult r;
  const std::string config = dir + "/exporter-" + std::to_string(index) + ".yml";
  const std::string log = dir + "/exporter-" + std::to_string(index) + ".log";
  {
    std::ofstream out(config);
    out << ExporterConfig(remote_read_url, models);
  }
  const foresight::Result<int> port_or = foresight::testing::PickFreePort();
  if (!port_or.ok()) {
    std::cerr << "refresh_bench: " << port_or.status().message() << "\n";
    std::exit(1);
  }
  const int port = *port_or;
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::vector<std::string> argv;
  if (!cpus.empty()) argv = {"taskset", "-c", cpus};
  argv.insert(argv.end(), {exporter, "--config.file=" + config,
                           "--web.listen-address=127.0.0.1:" + std::to_string(port),
                           "--fit.threads=" + std::to_string(fit_threads), "--log.level=info"});
  ResetPeakRss(prometheus_pid);
  const double prom_cpu0 = CpuSeconds(prometheus_pid);
  const auto t0 = Clock::now();
  Child child = SpawnLogged(argv, log);
  // Ready: the first refresh was attempted.
  for (;;) {
    if (Exited(&child)) {
      r.problem = "exporter exited before ready: " + FileTail(log, 1500);
      return r;
    }
    Fetched f = Get(base + "/-/ready", false, 2000);
    if (f.status == 200) break;
    if (SecondsSince(t0) > 3600) {
      Stop(&child);
      r.problem = "not ready after an hour";
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  r.spawn_to_ready_s = SecondsSince(t0);
  // Ready is set just before the refresh is counted and the publisher rebuilds the set (at most
  // a second later): wait for both.
  std::vector<TextSample> m;
  const std::map<std::string, std::string> job = {{"foresight_job", kJob}};
  for (int i = 0; i < 100; ++i) {
    Fetched f = Get(base + "/metrics", false, 30000);
    m = ParseText(f.body);
    const bool counted = Sum(m, "foresight_refresh_duration_seconds_count", job).value_or(0) >= 1;
    const bool failed = Sum(m, "foresight_refresh_failures_total", job).value_or(0) >= 1;
    const bool published = Sum(m, "foresight_published_samples").value_or(0) > 0;
    if (counted && (published || failed)) break;
    ++r.polls_after_ready;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  r.exporter_hwm_kb = ProcStatusKb(child.pid, "VmHWM");
  r.exporter_rss_kb = ProcStatusKb(child.pid, "VmRSS");
  r.exporter_cpu_s = CpuSeconds(child.pid);
  r.prometheus_hwm_kb = ProcStatusKb(prometheus_pid, "VmHWM");
  r.prometheus_cpu_s = CpuSeconds(prometheus_pid) - prom_cpu0;
  Stop(&child);

  const std::map<std::string, std::string> source = {{"source", "prometheus"}};
  r.refresh_s = Sum(m, "foresight_refresh_duration_seconds_sum", job).value_or(NAN);
  r.read_s = Sum(m, "foresight_remote_read_duration_seconds_sum", source).value_or(NAN);
  r.read_bytes = Sum(m, "foresight_remote_read_bytes_total", source).value_or(NAN);
  r.read_samples = Sum(m, "foresight_remote_read_samples_total", source).value_or(NAN);
  r.fit_sum_s = Sum(m, "foresight_fit_duration_seconds_sum", job).value_or(NAN);
  r.fit_count = Sum(m, "foresight_fit_duration_seconds_count", job).value_or(NAN);
  r.fit_p50 = HistogramQuantile(m, "foresight_fit_duration_seconds", job, 0.5);
  r.fit_p90 = HistogramQuantile(m, "foresight_fit_duration_seconds", job, 0.9);
  r.fit_p99 = HistogramQuantile(m, "foresight_fit_duration_seconds", job, 0.99);
  r.series = Sum(m, "foresight_forecast_series", job).value_or(NAN);
  r.dropped = Sum(m, "foresight_forecast_series_dropped", job).value_or(NAN);
  r.published_samples = Sum(m, "foresight_published_samples").value_or(NAN);
  double prev = 0;
  std::vector<std::pair<double, double>> buckets;
  for (const auto& s : m) {
    if (s.name == "foresight_fit_duration_seconds_bucket" && s.labels.count("foresight_job") &&
        s.labels.at("foresight_job") == kJob) {
      buckets.emplace_back(std::strtod(s.labels.at("le").c_str(), nullptr), s.value);
    }
  }
  std::sort(buckets.begin(), buckets.end());
  for (const auto& [le, cum] : buckets) {
    if (cum - prev > 0) {
      char b[64];
      std::snprintf(b, sizeof(b), "%s<=%gs: %.0f", r.fit_buckets.empty() ? "" : ", ", le,
                    cum - prev);
      r.fit_buckets += b;
    }
    prev = cum;
  }
  std::map<std::string, int> chosen;
  for (const auto& s : m) {
    if (s.name == "foresight_model_info" && s.labels.count("model")) ++chosen[s.labels.at("model")];
  }
  for (const auto& [model, count] : chosen) {
    r.chosen += (r.chosen.empty() ? "" : ", ") + model + " " + std::to_string(count);
  }
  if (Sum(m, "foresight_refresh_failures_total", job).value_or(0) >= 1) {
    r.problem = "the refresh failed: " + FileTail(log, 1500);
    return r;
  }
  if (r.series != expected_series || r.dropped != 0) {
    char b[160];
    std::snprintf(b, sizeof(b), "published %.0f series of %d, %.0f dropped; ", r.series,
                  expected_series, r.dropped);
    r.problem = b + FileTail(log, 1000);
  }
  r.ok = true;
  return r;
}

// ---- The peer: /api/v1/query_range ------------------------------------------------------------

struct QueryResult {
  bool ok = false;
  std::string problem;
  double fetch_s = 0;   // request sent to body received (gzip), Prometheus's work and transfer
  double parse_s = 0;   // client-side JSON parse into vectors
  double wire_bytes = 0, body_bytes = 0;
  size_t series = 0, points = 0;
  long prometheus_hwm_kb = 0;
  double prometheus_cpu_s = 0;
};

QueryResult QueryRange(const std::string& base_url, pid_t prometheus_pid) {
  QueryResult q;
  const int64_t end = NowMs() / kStepMs * kStepMs;
  const int64_t start = end - 14 * kDayMs + kStepMs;
  CURL* h = curl_easy_init();
  char* esc = curl_easy_escape(h, kMetric, 0);
  const std::string url = base_url + "/api/v1/query_range?query=" + esc +
                          "&start=" + std::to_string(start / 1000) +
                          "&end=" + std::to_string(end / 1000) + "&step=300";
  curl_free(esc);
  curl_easy_cleanup(h);
  ResetPeakRss(prometheus_pid);
  const double cpu0 = CpuSeconds(prometheus_pid);
  Fetched f = Get(url, true, 600000);
  q.prometheus_hwm_kb = ProcStatusKb(prometheus_pid, "VmHWM");
  q.prometheus_cpu_s = CpuSeconds(prometheus_pid) - cpu0;
  if (f.status != 200) {
    q.problem =
        "query_range: " + std::to_string(f.status) + " " + f.error + " " + f.body.substr(0, 300);
    return q;
  }
  q.fetch_s = f.seconds;
  q.wire_bytes = f.wire_bytes;
  q.body_bytes = static_cast<double>(f.body.size());
  const auto t0 = Clock::now();
  nlohmann::json doc = nlohmann::json::parse(f.body);
  std::vector<std::vector<int64_t>> ts;
  std::vector<std::vector<double>> vs;
  for (const auto& series : doc["data"]["result"]) {
    std::vector<int64_t> t;
    std::vector<double> v;
    for (const auto& pair : series["values"]) {
      t.push_back(std::llround(pair[0].get<double>() * 1000));
      v.push_back(std::strtod(pair[1].get<std::string>().c_str(), nullptr));
    }
    q.points += t.size();
    ts.push_back(std::move(t));
    vs.push_back(std::move(v));
  }
  q.parse_s = SecondsSince(t0);
  q.series = ts.size();
  q.ok = true;
  return q;
}

// Prometheus compacts the backfilled 2-hour blocks a minute after start (and every minute after
// that, until nothing is left to do). Waits until a second compaction pass has been triggered:
// the run loop starts one only after the previous one finished.
void WaitForCompaction(const std::string& base_url, double timeout_s) {
  const auto t0 = Clock::now();
  double blocks0 = -1;
  for (;;) {
    Fetched f = Get(base_url + "/metrics", false, 10000);
    auto m = ParseText(f.body);
    const double triggered = Sum(m, "prometheus_tsdb_compactions_triggered_total").value_or(0);
    const double blocks = Sum(m, "prometheus_tsdb_blocks_loaded").value_or(-1);
    if (blocks0 < 0) blocks0 = blocks;
    if (triggered >= 2) {
      std::printf("# Prometheus compaction settled after %.0f s: %.0f blocks -> %.0f blocks, "
                  "%.0f compactions\n",
                  SecondsSince(t0), blocks0, blocks,
                  Sum(m, "prometheus_tsdb_compactions_total").value_or(0));
      return;
    }
    if (SecondsSince(t0) > timeout_s) {
      std::printf("# Prometheus compaction not settled after %.0f s; measuring anyway\n",
                  timeout_s);
      return;
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int series = 1000;
  int runs = 1;
  int query_runs = 3;
  int fit_threads = 2;
  uint64_t seed = 42;
  bool wait_compaction = false;
  std::string block_duration = "18h";
  std::string cpus = "0,1";
  std::string exporter = FORESIGHT_EXPORTER_BINARY;
  std::vector<std::string> model_sets;
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--series") series = std::stoi(next());
    else if (a == "--runs") runs = std::stoi(next());
    else if (a == "--query-runs") query_runs = std::stoi(next());
    else if (a == "--fit-threads") fit_threads = std::stoi(next());
    else if (a == "--cpus") cpus = next();
    else if (a == "--exporter") exporter = next();
    else if (a == "--models") model_sets.push_back(next());
    else if (a == "--seed") seed = std::stoull(next());
    else if (a == "--compaction-wait") wait_compaction = true;
    else if (a == "--block-duration") block_duration = next();
    else {
      std::cerr << "usage: refresh_bench [--series N] [--runs N] [--models auto|m1,m2]... "
                   "[--cpus LIST] [--fit-threads N] [--exporter PATH] [--query-runs N] "
                   "[--seed N] [--block-duration 18h] [--compaction-wait]\n";
      return 2;
    }
  }
  if (model_sets.empty()) model_sets.push_back("auto");
  curl_global_init(CURL_GLOBAL_DEFAULT);

  std::printf("# %s\n# date %s; machine: %s; load average %s\n", command.c_str(),
              UtcNow().c_str(), Machine().c_str(), LoadAverage().c_str());
  std::printf("# exporter %s under taskset -c %s, --fit.threads=%d\n", exporter.c_str(),
              cpus.empty() ? "(none)" : cpus.c_str(), fit_threads);

  FleetOptions fo;
  fo.series = series;
  fo.seed = seed;
  fo.end_ms = NowMs() / kStepMs * kStepMs;
  FleetSummary summary;
  auto t0 = Clock::now();
  auto fleet = MakeFleet(fo, &summary);
  size_t samples = 0;
  for (const auto& s : fleet) samples += s.values.size();
  std::printf("# %d series x %d samples (5 m over 14 d) = %zu samples; %d trending, %d level "
              "shifts, %d spiky, %d low-rate, %d in another time zone; generated in %.1f s\n",
              series, fo.samples, samples, summary.trending, summary.shifted, summary.spiky,
              summary.low_rate, summary.shifted_timezone, SecondsSince(t0));
  std::fflush(stdout);

  // Prometheus with its default retention (15d), so its largest block is 10 % of that (36 h,
  // in practice 18 h blocks) and nothing is left to compact. The fixture's own backfill would
  // cut 2 h blocks (168 of them; promtool parses the whole input once per block, minutes for
  // 4 M samples); so the fixture starts empty, stops, and the benchmark backfills its data
  // directory itself with 18 h blocks before restarting it.
  foresight::testing::PrometheusFixture::Options po;
  po.retention = "15d";
  po.ready_timeout = std::chrono::seconds(600);
  t0 = Clock::now();
  auto prom = foresight::testing::PrometheusFixture::Start(std::move(po));
  if (!prom.ok()) {
    std::cerr << prom.status().message() << "\n";
    return 1;
  }
  if (auto st = (*prom)->Stop(); !st.ok()) {
    std::cerr << st.message() << "\n";
    return 1;
  }
  {
    const std::string om = (*prom)->dir() + "/backfill.om";
    if (auto st = foresight::testing::WriteOpenMetrics(fleet, om); !st.ok()) {
      std::cerr << st.message() << "\n";
      return 1;
    }
    std::vector<BackfillSeries>().swap(fleet);
    const std::string log = (*prom)->dir() + "/promtool-create-blocks.log";
    Child promtool = SpawnLogged({"promtool", "tsdb", "create-blocks-from", "openmetrics",
                                  "--max-block-duration=" + block_duration, "--quiet", om,
                                  (*prom)->data_dir()},
                                 log);
    int status = 0;
    waitpid(promtool.pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::cerr << "promtool failed: " << FileTail(log, 2000) << "\n";
      return 1;
    }
    std::filesystem::remove(om);
  }
  if (auto st = (*prom)->Restart(); !st.ok()) {
    std::cerr << st.message() << "\n";
    return 1;
  }
  {
    auto m = ParseText(Get((*prom)->base_url() + "/metrics", false, 10000).body);
    std::printf("# backfilled with promtool (--max-block-duration=%s) and started Prometheus "
                "(retention 15d) in %.1f s: %.0f blocks\n",
                block_duration.c_str(), SecondsSince(t0),
                Sum(m, "prometheus_tsdb_blocks_loaded").value_or(NAN));
  }
  std::fflush(stdout);
  if (wait_compaction) WaitForCompaction((*prom)->base_url(), 300);
  const pid_t ppid = (*prom)->pid();
  std::printf("# Prometheus RSS before the runs: %.0f MiB\n\n",
              ProcStatusKb(ppid, "VmRSS") / 1024.0);
  std::fflush(stdout);

  const std::string dir = (*prom)->dir();
  std::printf("| models | run | refresh (s) | ready (s) | remote read (s) | read (MB) | "
              "samples read | fits | fit mean (ms) | fit p50/p90/p99 (ms) | fits summed (s) | "
              "exporter CPU (s) | exporter peak RSS (MiB) | Prometheus CPU (s) | "
              "Prometheus peak RSS (MiB) | series published |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::fflush(stdout);
  std::vector<std::string> notes;
  int index = 0;
  int failures = 0;  // runs that failed or did not publish every series; the exit status says so
  for (const std::string& models : model_sets) {
    std::vector<double> refresh_times;
    for (int r = 0; r < runs; ++r) {
      RunResult rr = RunExporter(exporter, cpus, fit_threads, dir, (*prom)->remote_read_url(),
                                 models, index++, ppid, series);
      if (!rr.ok || !rr.problem.empty()) ++failures;
      if (!rr.ok) {
        std::printf("| %s | %d | FAILED: %s |\n", models.c_str(), r + 1, rr.problem.c_str());
        std::fflush(stdout);
        continue;
      }
      refresh_times.push_back(rr.refresh_s);
      std::printf("| %s | %d | %.1f | %.1f | %.2f | %.1f | %.0f | %.0f | %.1f | %.0f / %.0f / %.0f "
                  "| %.1f | %.1f | %.0f | %.1f | %.0f | %.0f |\n",
                  models.c_str(), r + 1, rr.refresh_s, rr.spawn_to_ready_s, rr.read_s,
                  rr.read_bytes / 1e6, rr.read_samples, rr.fit_count,
                  1000 * rr.fit_sum_s / rr.fit_count, 1000 * rr.fit_p50, 1000 * rr.fit_p90,
                  1000 * rr.fit_p99, rr.fit_sum_s, rr.exporter_cpu_s, rr.exporter_hwm_kb / 1024.0,
                  rr.prometheus_cpu_s, rr.prometheus_hwm_kb / 1024.0, rr.series);
      std::fflush(stdout);
      notes.push_back(models + " run " + std::to_string(r + 1) + ": fit durations " +
                      rr.fit_buckets + "; exporter RSS after the refresh " +
                      std::to_string(rr.exporter_rss_kb / 1024) + " MiB; " +
                      std::to_string(static_cast<long>(rr.published_samples)) +
                      " samples published; models chosen: " + rr.chosen + "; /metrics reads after "
                      "/-/ready before the forecasts were published: " +
                      std::to_string(rr.polls_after_ready) +
                      (rr.problem.empty() ? "" : "; PROBLEM: " + rr.problem));
    }
    if (runs > 1 && !refresh_times.empty()) {
      std::printf("| %s | median | %.1f | | | | | | | | | | | | | |\n", models.c_str(),
                  Median(refresh_times));
    }
  }

  std::printf("\nThe peer: the same %d series over the same 14 days at the same 5 m step through "
              "Prometheus's /api/v1/query_range (gzip), one query for all:\n\n",
              series);
  std::printf("| run | series | points | fetch (s) | JSON parse (s) | bytes on the wire (MB) | "
              "body (MB) | Prometheus CPU (s) | Prometheus peak RSS (MiB) |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int r = 0; r < query_runs; ++r) {
    QueryResult q = QueryRange((*prom)->base_url(), ppid);
    if (!q.ok) {
      ++failures;
      std::printf("| %d | FAILED: %s |\n", r + 1, q.problem.c_str());
      continue;
    }
    std::printf("| %d | %zu | %zu | %.2f | %.2f | %.1f | %.1f | %.1f | %.0f |\n", r + 1, q.series,
                q.points, q.fetch_s, q.parse_s, q.wire_bytes / 1e6, q.body_bytes / 1e6,
                q.prometheus_cpu_s, q.prometheus_hwm_kb / 1024.0);
    std::fflush(stdout);
  }
  std::printf("\n# load average at the end: %s\n", LoadAverage().c_str());
  for (const auto& n : notes) std::printf("- %s\n", n.c_str());
  return failures == 0 ? 0 : 1;
}
