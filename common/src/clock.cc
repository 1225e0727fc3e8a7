#include "foresight/common/clock.h"

#include <thread>

namespace foresight {

std::chrono::system_clock::time_point SystemClock::Now() { return std::chrono::system_clock::now(); }
std::chrono::steady_clock::time_point SystemClock::MonotonicNow() {
  return std::chrono::steady_clock::now();
}
void SystemClock::SleepFor(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); }
SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

FakeClock::FakeClock()
    : FakeClock(std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))) {}

FakeClock::FakeClock(std::chrono::system_clock::time_point start)
    : wall_(start), mono_(std::chrono::steady_clock::time_point(std::chrono::hours(1))) {}

std::chrono::system_clock::time_point FakeClock::Now() {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_;
}
std::chrono::steady_clock::time_point FakeClock::MonotonicNow() {
  std::lock_guard<std::mutex> lock(mu_);
  return mono_;
}
void FakeClock::SleepFor(std::chrono::nanoseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  sleeps_.push_back(d);
  wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  mono_ += d;
}
void FakeClock::Advance(std::chrono::nanoseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  mono_ += d;
}
std::vector<std::chrono::nanoseconds> FakeClock::sleeps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sleeps_;
}

}  // namespace foresight
