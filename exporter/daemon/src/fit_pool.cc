#include "foresight/exporter/fit_pool.h"

namespace foresight::exporter {

FitPool::FitPool(int threads) {
  if (threads < 1) threads = 1;
  workers_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

FitPool::~FitPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (Batch* b : batches_) {
      b->queued.clear();
      b->done.notify_all();
    }
    batches_.clear();
  }
  work_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void FitPool::RunBatch(std::vector<std::function<void()>> tasks) {
  if (tasks.empty()) return;
  Batch batch;
  for (auto& t : tasks) batch.queued.push_back(std::move(t));
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return;
  batches_.push_back(&batch);
  work_.notify_all();
  batch.done.wait(lock, [&] { return batch.queued.empty() && batch.running == 0; });
}

void FitPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return stopping_ || !batches_.empty(); });
    if (stopping_) return;
    // Take the next task of the batch at the front, then move that batch to the back: turns.
    Batch* b = batches_.front();
    batches_.pop_front();
    std::function<void()> task = std::move(b->queued.front());
    b->queued.pop_front();
    if (!b->queued.empty()) batches_.push_back(b);
    ++b->running;
    lock.unlock();
    task();
    lock.lock();
    --b->running;
    if (b->queued.empty() && b->running == 0) b->done.notify_all();
  }
}

}  // namespace foresight::exporter
