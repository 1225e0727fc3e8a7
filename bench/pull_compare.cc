// Remote read against the /api/v1/query JSON API, side by side in one run: wall time and peak
// memory to pull the same >= 1M raw samples from one local Prometheus.
//
// The JSON path is what prometheus-anomaly-detector (via prometheus-api-client) does: one
// /api/v1/query with a range selector, the whole body parsed as JSON. Both paths are C++ here
// (libcurl, nlohmann::json for the JSON), so the difference is the protocol, not the language.
// Each pull runs in a fresh process (this binary re-executed) that reports its own VmHWM, so peak
// RSS is the pull's own (rusage's ru_maxrss would carry the parent's peak across exec).
//
// Usage: pull_compare [--runs N] [--samples-per-series N]
//        pull_compare --child MODE URL BASE_URL START_MS END_MS   (internal)

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "datasets.h"
#include "foresight/common/format.h"
#include "foresight/common/process.h"
#include "foresight/remote_read/client.h"
#include "prometheus_fixture.h"

extern char** environ;

namespace {

using foresight::remote_read::Series;

struct Held {
  std::vector<std::vector<int64_t>> ts;
  std::vector<std::vector<double>> vs;
  size_t samples = 0;
};

int ChildRemoteRead(const std::string& url, int64_t start, int64_t end, bool samples_only,
                    bool keep) {
  foresight::remote_read::ClientOptions o;
  o.url = url;
  o.response = samples_only ? foresight::remote_read::ResponsePreference::kSamplesOnly
                            : foresight::remote_read::ResponsePreference::kStreamedOnly;
  auto c = foresight::remote_read::Client::Create(o);
  if (!c.ok()) {
    std::cerr << c.status().message() << "\n";
    return 1;
  }
  auto m = std::vector<foresight::remote_read::Matcher>{
      {foresight::remote_read::MatchType::kRegexMatch, "__name__", "fs_.*"}};
  std::vector<foresight::remote_read::Query> qs = {{start, end, m, std::nullopt}};
  Held held;
  foresight::Status st = (*c)->Read(qs, [&](Series&& s) {
    held.samples += s.timestamps_ms.size();
    if (keep) {
      held.ts.push_back(std::move(s.timestamps_ms));
      held.vs.push_back(std::move(s.values));
    }
    return foresight::Status::Ok();
  });
  if (!st.ok()) {
    std::cerr << st.message() << "\n";
    return 1;
  }
  std::cout << held.samples << " " << foresight::PeakRssBytes() / 1024 << "\n";
  return 0;
}

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

int ChildJson(const std::string& base_url, int64_t start, int64_t end) {
  std::string query = "{__name__=~\"fs_.*\"}[" + std::to_string(end - start) + "ms]";
  CURL* h = curl_easy_init();
  char* q = curl_easy_escape(h, query.c_str(), static_cast<int>(query.size()));
  std::string url = base_url + "/api/v1/query?query=" + q + "&time=" +
                    std::to_string(end / 1000) + "." + std::to_string(1000 + end % 1000).substr(1);
  curl_free(q);
  std::string body;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // gzip, as a Python client asks for
  CURLcode rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK) {
    std::cerr << "GET failed: " << curl_easy_strerror(rc) << "\n";
    return 1;
  }
  nlohmann::json doc = nlohmann::json::parse(body);
  std::string().swap(body);
  Held held;
  for (const auto& series : doc["data"]["result"]) {
    std::vector<int64_t> ts;
    std::vector<double> vs;
    for (const auto& pair : series["values"]) {
      ts.push_back(std::llround(pair[0].get<double>() * 1000));
      double v = 0;
      foresight::ParseDouble(pair[1].get<std::string>(), &v);
      vs.push_back(v);
    }
    held.samples += ts.size();
    held.ts.push_back(std::move(ts));
    held.vs.push_back(std::move(vs));
  }
  std::cout << held.samples << " " << foresight::PeakRssBytes() / 1024 << "\n";
  return 0;
}

struct Measured {
  double seconds = 0;
  long max_rss_kb = 0;
  size_t samples = 0;
};

Measured RunChild(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid;
  if (posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ) != 0) std::abort();
  close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  auto t1 = std::chrono::steady_clock::now();
  posix_spawn_file_actions_destroy(&fa);
  Measured m;
  m.seconds = std::chrono::duration<double>(t1 - t0).count();
  if (std::sscanf(out.c_str(), "%zu %ld", &m.samples, &m.max_rss_kb) != 2) {
    std::cerr << "child " << args[2] << " printed \"" << out << "\"\n";
    std::exit(1);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "child " << args[2] << " failed\n";
    std::exit(1);
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (args.size() == 7 && args[1] == "--child") {
    const std::string& mode = args[2];
    int64_t start = std::stoll(args[5]), end = std::stoll(args[6]);
    if (mode == "remote-read-streamed") return ChildRemoteRead(args[3], start, end, false, true);
    if (mode == "remote-read-streamed-drop") return ChildRemoteRead(args[3], start, end, false, false);
    if (mode == "remote-read-samples") return ChildRemoteRead(args[3], start, end, true, true);
    if (mode == "json-api") return ChildJson(args[4], start, end);
    return 2;
  }
  int runs = 3;
  int per_series = 10000;
  for (size_t i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == "--runs") runs = std::stoi(args[i + 1]);
    if (args[i] == "--samples-per-series") per_series = std::stoi(args[i + 1]);
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  foresight::testing::RemoteReadDatasetOptions o;
  o.end_ms = now_ms - 3600 * 1000;
  o.samples_per_series = per_series;
  auto data = foresight::testing::MakeRemoteReadDataset(o);
  size_t total = 0;
  int64_t first = INT64_MAX, last = INT64_MIN;
  for (const auto& s : data) {
    total += s.timestamps_ms.size();
    first = std::min(first, s.timestamps_ms.front());
    last = std::max(last, s.timestamps_ms.back());
  }
  foresight::testing::PrometheusFixture::Options po;
  po.backfill = std::move(data);
  po.ready_timeout = std::chrono::seconds(180);
  auto prom = foresight::testing::PrometheusFixture::Start(std::move(po));
  if (!prom.ok()) {
    std::cerr << prom.status().message() << "\n";
    return 1;
  }
  std::cout << "# " << total << " samples backfilled over " << o.gauges + o.counters + 2
            << " series; " << runs << " runs each, median time, max peak RSS\n\n";
  std::cout << "| method | samples | wall time (s) | peak RSS (MiB) |\n";
  std::cout << "|---|---:|---:|---:|\n";
  for (const std::string mode : {"remote-read-streamed", "remote-read-streamed-drop",
                                 "remote-read-samples", "json-api"}) {
    std::vector<double> times;
    long rss = 0;
    size_t samples = 0;
    for (int r = 0; r < runs; ++r) {
      Measured m = RunChild({args[0], "--child", mode, (*prom)->remote_read_url(),
                             (*prom)->base_url(), std::to_string(first), std::to_string(last)});
      times.push_back(m.seconds);
      rss = std::max(rss, m.max_rss_kb);
      samples = m.samples;
    }
    std::sort(times.begin(), times.end());
    char line[256];
    std::snprintf(line, sizeof(line), "| %s | %zu | %.3f | %.1f |\n", mode.c_str(), samples,
                  times[times.size() / 2], static_cast<double>(rss) / 1024.0);
    std::cout << line << std::flush;
  }
  return 0;
}
