#pragma once

// Prometheus's stale marker: the NaN it writes when a series disappears (value.StaleNaN). It is
// distinct from an ordinary NaN sample by its bits only, so compare bits, never with isnan.

#include <bit>
#include <cstdint>

namespace foresight {

inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
inline bool IsStaleMarker(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

}  // namespace foresight
