#pragma once

// Test-only XOR chunk encoder, bit-compatible with Prometheus's tsdb/chunkenc XOR appender. The
// production code only decodes; this writes what Prometheus would, so tests and the fuzzer's
// seeds can round-trip any series.

#include <cstdint>
#include <string>
#include <vector>

namespace foresight::remote_read::testing {

class XorChunkEncoder {
 public:
  XorChunkEncoder();
  // Appends a sample; value bits are kept exactly (stale markers, NaN payloads).
  void Append(int64_t t, double v);
  void AppendBits(int64_t t, uint64_t vbits);
  int num_samples() const { return num_; }
  // The chunk bytes as Prometheus stores them (2-byte count header included).
  std::string bytes() const;

 private:
  void WriteBit(bool bit);
  void WriteByte(uint8_t byte);
  void WriteBits(uint64_t v, int n);
  void WriteValue(uint64_t vbits);

  std::string stream_;  // bit stream after the 2-byte header
  // Unused low bits of stream_'s last byte, as Prometheus's bstream.count: 0 means the next
  // write appends a byte. Writing a whole byte always appends one, so a chunk whose last write
  // was byte-aligned ends in an empty byte; Prometheus sends it, and so do we.
  int free_bits_ = 0;
  int num_ = 0;
  int64_t t_ = 0;
  uint64_t t_delta_ = 0;
  uint64_t v_ = 0;
  uint8_t leading_ = 0xff;
  uint8_t trailing_ = 0;
};

std::string EncodeXorChunk(const std::vector<int64_t>& timestamps,
                           const std::vector<double>& values);

}  // namespace foresight::remote_read::testing
