#pragma once

// The worker pool that fits models. Work comes in batches, one batch per job refresh, and the
// pool takes tasks from the waiting batches in turn (round robin), so a job with 10,000 series
// delays a job with 3 series by a few fits, not by its whole refresh.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace foresight::exporter {

class FitPool {
 public:
  // threads >= 1.
  explicit FitPool(int threads);
  // Waits for the tasks already taken by workers; tasks still queued are dropped and their
  // RunBatch calls return without running them.
  ~FitPool();
  FitPool(const FitPool&) = delete;
  FitPool& operator=(const FitPool&) = delete;

  // Runs every task on the pool and returns when all have run. Thread-safe: call it from many
  // threads at once (one batch each). A task must not throw.
  void RunBatch(std::vector<std::function<void()>> tasks);

  int threads() const { return static_cast<int>(workers_.size()); }

 private:
  struct Batch {
    std::deque<std::function<void()>> queued;
    size_t running = 0;
    std::condition_variable done;
  };
  void Work();

  std::mutex mu_;
  std::condition_variable work_;
  std::list<Batch*> batches_;  // batches with queued tasks, in turn order; guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace foresight::exporter
