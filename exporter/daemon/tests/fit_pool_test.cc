#include "foresight/exporter/fit_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_series_reader.h"

namespace foresight::exporter {
namespace {

using fakes::InFutexWaitBitset;
using fakes::PollUntil;

// A one-shot gate a task can wait on.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  bool entered_ = false;
};

TEST(FitPoolTest, EveryTaskRunsExactlyOnce) {
  FitPool pool(3);
  EXPECT_EQ(pool.threads(), 3);
  constexpr int kTasks = 1000;
  std::vector<std::atomic<int>> runs(kTasks);
  std::vector<std::function<void()>> tasks;
  for (int i = 0; i < kTasks; ++i) tasks.push_back([&runs, i] { runs[i]++; });
  pool.RunBatch(std::move(tasks));
  // RunBatch returned: every task has run, and none again afterwards.
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(runs[i].load(), 1) << "task " << i;
  pool.RunBatch({});  // an empty batch returns at once
}

TEST(FitPoolTest, NonPositiveThreadCountMeansOne) {
  FitPool pool(0);
  EXPECT_EQ(pool.threads(), 1);
  int ran = 0;
  pool.RunBatch({[&] { ++ran; }, [&] { ++ran; }});
  EXPECT_EQ(ran, 2);  // one worker: no data race on a plain int
}

TEST(FitPoolTest, BatchesFromManyThreadsAtOnce) {
  FitPool pool(4);
  constexpr int kCallers = 8;
  constexpr int kTasks = 200;
  std::vector<std::vector<std::atomic<int>>> runs;
  for (int c = 0; c < kCallers; ++c) runs.emplace_back(kTasks);
  std::vector<std::atomic<bool>> complete_on_return(kCallers);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      std::vector<std::function<void()>> tasks;
      for (int i = 0; i < kTasks; ++i) tasks.push_back([&, c, i] { runs[c][i]++; });
      pool.RunBatch(std::move(tasks));
      bool all = true;
      for (int i = 0; i < kTasks; ++i) all = all && runs[c][i].load() == 1;
      complete_on_return[c] = all;
    });
  }
  for (auto& t : callers) t.join();
  for (int c = 0; c < kCallers; ++c) {
    EXPECT_TRUE(complete_on_return[c]) << "caller " << c << " returned before its tasks ran";
    for (int i = 0; i < kTasks; ++i) {
      EXPECT_EQ(runs[c][i].load(), 1) << "caller " << c << " task " << i;
    }
  }
}

TEST(FitPoolTest, BatchesTakeTurns) {
  FitPool pool(1);
  Gate gate;
  std::thread gate_caller([&] { pool.RunBatch({[&] { gate.Wait(); }}); });
  ASSERT_TRUE(PollUntil([&] { return gate.entered(); }));  // the only worker is now busy

  std::mutex order_mu;
  std::vector<std::string> order;
  auto record = [&](std::string name) {
    return [&order_mu, &order, name] {
      std::lock_guard<std::mutex> lock(order_mu);
      order.push_back(name);
    };
  };
  std::atomic<pid_t> a_tid{0}, b_tid{0};
  std::thread a_caller([&] {
    std::vector<std::function<void()>> tasks;
    for (const char* name : {"a1", "a2", "a3", "a4", "a5"}) tasks.push_back(record(name));
    a_tid = gettid();
    pool.RunBatch(std::move(tasks));
  });
  // B queues after A, the unfavourable order: A is ahead in the list. A caller is known to have
  // queued its batch once it sleeps waiting for it.
  ASSERT_TRUE(PollUntil([&] { return a_tid != 0 && InFutexWaitBitset(a_tid).value_or(true); }));
  if (!InFutexWaitBitset(a_tid).has_value()) {
    gate.Open();
    a_caller.join();
    gate_caller.join();
    GTEST_SKIP() << "/proc/self/task/*/syscall is not readable here";
  }
  std::thread b_caller([&] {
    std::vector<std::function<void()>> tasks = {record("b1")};
    b_tid = gettid();
    pool.RunBatch(std::move(tasks));
  });
  ASSERT_TRUE(PollUntil([&] { return b_tid != 0 && *InFutexWaitBitset(b_tid); }));

  gate.Open();
  gate_caller.join();
  a_caller.join();
  b_caller.join();
  // One task of A, then B's turn, then the rest of A.
  EXPECT_THAT(order, ::testing::ElementsAre("a1", "b1", "a2", "a3", "a4", "a5"));
}

TEST(FitPoolTest, DestructorWithNothingQueued) {
  auto pool = std::make_unique<FitPool>(4);
  std::atomic<int> ran{0};
  pool->RunBatch({[&] { ran++; }});
  pool.reset();  // joins idle workers without hanging
  EXPECT_EQ(ran.load(), 1);
  FitPool never_used(2);  // destroyed at the end of the test before any work
}

}  // namespace
}  // namespace foresight::exporter
