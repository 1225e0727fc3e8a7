#pragma once

// A scripted SeriesReader for the exporter's unit tests: series live in an in-memory store that
// several readers share (an Exporter makes one reader per job), reads are filtered by the query's
// matchers and [start_ms, end_ms] as a remote-read server would, every query is recorded, and a
// test can make reads fail or block until released.

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/exporter/job.h"
#include "foresight/remote_read/types.h"

namespace foresight::exporter::fakes {

// Thread-safe.
class FakeSeriesStore {
 public:
  FakeSeriesStore() = default;
  FakeSeriesStore(const FakeSeriesStore&) = delete;
  FakeSeriesStore& operator=(const FakeSeriesStore&) = delete;
  // Never leaves a reader blocked behind: a failed test must still be able to stop its threads.
  ~FakeSeriesStore() { Release(); }

  // Appends one sample to the series with these labels (sorted by name, __name__ included);
  // samples must come in increasing time order per series.
  void Add(const remote_read::Labels& labels, int64_t t_ms, double v) {
    std::lock_guard<std::mutex> lock(mu_);
    Stored& s = series_[labels];
    s.timestamps_ms.push_back(t_ms);
    s.values.push_back(v);
  }

  // Reads fail with `status` until called with std::nullopt.
  void SetFailure(std::optional<Status> status) {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = std::move(status);
  }

  // Reads wait inside Read() until Release().
  void Block() {
    std::lock_guard<std::mutex> lock(mu_);
    blocked_ = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocked_ = false;
    }
    cv_.notify_all();
  }
  // Reads waiting in Read() because of Block().
  int waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }

  std::vector<remote_read::Query> queries() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queries_;
  }
  size_t reads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queries_.size();
  }

  Status Read(const remote_read::Query& query, std::vector<remote_read::Series>* out,
              remote_read::ReadStats* stats) {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return !blocked_; });
    --waiting_;
    queries_.push_back(query);
    if (failure_) return *failure_;
    Collect(query, out, stats);
    return Status::Ok();
  }

  // What a read of `query` returns, without recording it, failing or blocking: for tests that
  // compute the expected result by hand.
  std::vector<remote_read::Series> Peek(const remote_read::Query& query) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<remote_read::Series> out;
    Collect(query, &out, nullptr);
    return out;
  }

 private:
  struct Stored {
    std::vector<int64_t> timestamps_ms;
    std::vector<double> values;
  };
  struct LabelsLess {
    bool operator()(const remote_read::Labels& a, const remote_read::Labels& b) const {
      return std::lexicographical_compare(
          a.begin(), a.end(), b.begin(), b.end(),
          [](const remote_read::Label& x, const remote_read::Label& y) {
            return std::tie(x.name, x.value) < std::tie(y.name, y.value);
          });
    }
  };

  // mu_ held.
  void Collect(const remote_read::Query& query, std::vector<remote_read::Series>* out,
               remote_read::ReadStats* stats) const {
    for (const auto& [labels, stored] : series_) {
      if (!Matches(query.matchers, labels)) continue;
      remote_read::Series s;
      s.labels = labels;
      for (size_t i = 0; i < stored.timestamps_ms.size(); ++i) {
        const int64_t t = stored.timestamps_ms[i];
        if (t < query.start_ms || t > query.end_ms) continue;
        s.timestamps_ms.push_back(t);
        s.values.push_back(stored.values[i]);
      }
      if (s.timestamps_ms.empty()) continue;  // a remote-read server sends no empty series
      if (stats != nullptr) {
        stats->decode.series++;
        stats->decode.samples += s.values.size();
        stats->decode.bytes += 16 * s.values.size();
      }
      out->push_back(std::move(s));
    }
  }

  static bool Matches(const std::vector<remote_read::Matcher>& matchers,
                      const remote_read::Labels& labels) {
    for (const remote_read::Matcher& m : matchers) {
      std::string value;  // a missing label matches as ""
      for (const remote_read::Label& l : labels) {
        if (l.name == m.name) value = l.value;
      }
      bool ok = false;
      switch (m.type) {
        case remote_read::MatchType::kEqual:
          ok = value == m.value;
          break;
        case remote_read::MatchType::kNotEqual:
          ok = value != m.value;
          break;
        case remote_read::MatchType::kRegexMatch:
          ok = std::regex_match(value, std::regex(m.value));
          break;
        case remote_read::MatchType::kRegexNoMatch:
          ok = !std::regex_match(value, std::regex(m.value));
          break;
      }
      if (!ok) return false;
    }
    return true;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<remote_read::Labels, Stored, LabelsLess> series_;  // guarded by mu_
  std::optional<Status> failure_;                             // guarded by mu_
  bool blocked_ = false;                                      // guarded by mu_
  int waiting_ = 0;                                           // guarded by mu_
  std::vector<remote_read::Query> queries_;                   // guarded by mu_
};

class FakeSeriesReader final : public SeriesReader {
 public:
  explicit FakeSeriesReader(std::shared_ptr<FakeSeriesStore> store) : store_(std::move(store)) {}
  Status Read(const remote_read::Query& query, std::vector<remote_read::Series>* out,
              remote_read::ReadStats* stats) override {
    return store_->Read(query, out, stats);
  }

 private:
  std::shared_ptr<FakeSeriesStore> store_;
};

// Polls `done` until it holds or `timeout` (real time) passes; true when it held. For work that a
// background thread does: never a fixed sleep.
template <typename Fn>
bool PollUntil(Fn&& done, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Whether thread `tid` of this process sleeps in a condition-variable wait or a thread join, as
// opposed to running or waiting for a mutex. Some calls have no observable point at which they
// are known to block (FitPool::RunBatch once its batch is queued, Exporter::Reload once it waits
// for the old drivers); their caller's thread state tells. glibc waits on a condition variable
// and in pthread_join with FUTEX_WAIT_BITSET (op 9) and on a contended mutex with FUTEX_WAIT
// (op 0), which /proc/self/task/<tid>/syscall tells apart. nullopt: /proc cannot tell (not Linux
// x86-64, or not readable).
inline std::optional<bool> InFutexWaitBitset(pid_t tid) {
#if defined(__linux__) && defined(__x86_64__)
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string line;
  if (!f || !std::getline(f, line)) return std::nullopt;
  std::istringstream in(line);
  long nr = -1;
  std::string addr, op;
  if (!(in >> nr)) return false;  // "running"
  if (nr != 202) return false;    // not futex(2)
  if (!(in >> addr >> op)) return false;
  return (std::stol(op, nullptr, 16) & 0x7f) == 9;  // ignoring the PRIVATE and CLOCK flags
#else
  (void)tid;
  return std::nullopt;
#endif
}

}  // namespace foresight::exporter::fakes
