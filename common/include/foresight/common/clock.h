#pragma once

// The clock seam (after Envoy's TimeSource and leveldb's Env): logic takes a Clock and never
// calls now() or sleeps by itself, so tests run on a fake clock that advances instantly.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

namespace foresight {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, for timestamps shown to people and sent to peers.
  virtual std::chrono::system_clock::time_point Now() = 0;
  // Monotonic time, for intervals and deadlines.
  virtual std::chrono::steady_clock::time_point MonotonicNow() = 0;
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;
};

// The real clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() override;
  std::chrono::steady_clock::time_point MonotonicNow() override;
  void SleepFor(std::chrono::nanoseconds d) override;
  static SystemClock& Instance();
};

// A clock for tests: time moves only when told to, and SleepFor advances it at once and records
// the request. Thread-safe.
class FakeClock final : public Clock {
 public:
  // Starts at 2023-11-14T22:13:20Z unless told otherwise.
  FakeClock();
  explicit FakeClock(std::chrono::system_clock::time_point start);
  std::chrono::system_clock::time_point Now() override;
  std::chrono::steady_clock::time_point MonotonicNow() override;
  void SleepFor(std::chrono::nanoseconds d) override;
  void Advance(std::chrono::nanoseconds d);
  std::vector<std::chrono::nanoseconds> sleeps() const;

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point wall_;
  std::chrono::steady_clock::time_point mono_;
  std::vector<std::chrono::nanoseconds> sleeps_;
};

inline int64_t ToUnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace foresight
