#pragma once

// What a benchmark prints about where and when it ran, so bench/RESULTS.md can say it.

#include <ctime>
#include <fstream>
#include <string>
#include <thread>

namespace foresight::bench {

// "2 CPUs, <model name>".
inline std::string Machine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return std::to_string(std::thread::hardware_concurrency()) + " CPUs, " + model;
}

// The 1, 5 and 15 minute load averages: other work sharing the machine during the run.
inline std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// RFC 3339, UTC, to the second.
inline std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace foresight::bench
