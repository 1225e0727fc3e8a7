#pragma once

// Decoding of Prometheus's XOR ("Gorilla") float chunks, bit for bit as tsdb/chunkenc writes
// them: a 2-byte big-endian sample count, the first timestamp as a signed varint and its value
// as 64 raw bits, the second timestamp as an unsigned varint delta, then delta-of-delta
// timestamps in 1/14/17/20/64-bit buckets and XOR-compressed values.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/status.h"

namespace foresight::remote_read {

// Iterates the samples of one chunk. Never reads outside the chunk; malformed input ends the
// iteration with a DataLoss status that names the sample index and bit offset.
// Not thread-safe; cheap to construct.
class XorChunkIterator {
 public:
  explicit XorChunkIterator(std::string_view chunk);

  // Advances to the next sample; false at the end or on error (then status() says which).
  bool Next();

  int64_t timestamp() const { return t_; }
  uint64_t value_bits() const { return v_; }
  double value() const;
  // The sample count from the chunk header.
  uint16_t num_samples() const { return num_samples_; }
  const Status& status() const { return status_; }

 private:
  bool Fail(const char* what);
  bool ReadBit(uint64_t* bit);
  bool ReadBits(int n, uint64_t* out);
  bool ReadValue();
  bool ReadUvarint(uint64_t* out, const char* truncated, const char* overflow);

  const uint8_t* data_;
  size_t size_bits_;
  size_t pos_bits_;
  uint16_t num_samples_ = 0;
  uint16_t read_ = 0;
  int64_t t_ = 0;
  int64_t t_delta_ = 0;
  uint64_t v_ = 0;
  uint8_t leading_ = 0;
  uint8_t trailing_ = 0;
  Status status_;
};

// Appends every sample of an XOR chunk to timestamps and values.
Status DecodeXorChunk(std::string_view chunk, std::vector<int64_t>* timestamps,
                      std::vector<double>* values);

}  // namespace foresight::remote_read
