#include "foresight/common/process.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace foresight {

int64_t PeakRssBytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  int64_t kb = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) kb = std::strtoll(line + 6, nullptr, 10);
  }
  std::fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

}  // namespace foresight
