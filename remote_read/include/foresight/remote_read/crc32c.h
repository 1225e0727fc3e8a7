#pragma once

#include <cstddef>
#include <cstdint>

namespace foresight::remote_read {

// CRC-32C (Castagnoli), as Go's crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)).
// Extend continues a checksum over more bytes; Crc32c(x) == Crc32cExtend(0, x).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

}  // namespace foresight::remote_read
