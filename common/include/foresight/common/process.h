#pragma once

#include <cstdint>

namespace foresight {

// This process's peak resident set size in bytes (VmHWM from /proc/self/status), or -1 where
// that is not available. Unlike getrusage's ru_maxrss it is not carried over from the parent
// across exec.
int64_t PeakRssBytes();

}  // namespace foresight
