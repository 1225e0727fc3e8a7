#include "foresight/remote_read/xor_chunk.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace foresight::remote_read {

XorChunkIterator::XorChunkIterator(std::string_view chunk)
    : data_(reinterpret_cast<const uint8_t*>(chunk.data())),
      size_bits_(chunk.size() * 8),
      pos_bits_(16) {
  if (chunk.size() < 2) {
    pos_bits_ = size_bits_;
    status_ = DataLoss("XOR chunk: " + std::to_string(chunk.size()) +
                       "-byte input is shorter than the 2-byte header");
    return;
  }
  num_samples_ = static_cast<uint16_t>((data_[0] << 8) | data_[1]);
}

double XorChunkIterator::value() const { return std::bit_cast<double>(v_); }

bool XorChunkIterator::Fail(const char* what) {
  if (status_.ok()) {
    status_ = DataLoss("XOR chunk: " + std::string(what) + " at sample " + std::to_string(read_) +
                       " of " + std::to_string(num_samples_) + " (bit offset " +
                       std::to_string(pos_bits_) + " of " + std::to_string(size_bits_) + ")");
  }
  return false;
}

inline bool XorChunkIterator::ReadBit(uint64_t* bit) {
  if (pos_bits_ >= size_bits_) return false;
  *bit = (data_[pos_bits_ >> 3] >> (7 - (pos_bits_ & 7))) & 1;
  ++pos_bits_;
  return true;
}

// Reads n (0..64) bits, most significant first.
inline bool XorChunkIterator::ReadBits(int n, uint64_t* out) {
  if (n == 0) {
    *out = 0;
    return true;
  }
  if (size_bits_ - pos_bits_ < static_cast<size_t>(n)) return false;
  size_t byte = pos_bits_ >> 3;
  int off = static_cast<int>(pos_bits_ & 7);
  if (off + n <= 64 && byte + 8 <= size_bits_ / 8) {
    // Fast path: one unaligned big-endian load holds every bit we need.
    uint64_t w;
    std::memcpy(&w, data_ + byte, 8);
    w = __builtin_bswap64(w);
    *out = (w << off) >> (64 - n);
    pos_bits_ += static_cast<size_t>(n);
    return true;
  }
  uint64_t v = 0;
  int remaining = n;
  while (remaining > 0) {
    int bit_off = static_cast<int>(pos_bits_ & 7);
    int avail = 8 - bit_off;
    int take = avail < remaining ? avail : remaining;
    uint64_t b = data_[pos_bits_ >> 3];
    v = (v << take) | ((b >> (avail - take)) & ((1u << take) - 1));
    remaining -= take;
    pos_bits_ += static_cast<size_t>(take);
  }
  *out = v;
  return true;
}

bool XorChunkIterator::ReadValue() {
  uint64_t bit;
  if (!ReadBit(&bit)) return Fail("truncated value");
  if (bit == 0) return true;  // same value as before
  if (!ReadBit(&bit)) return Fail("truncated value control bits");
  if (bit == 1) {
    uint64_t leading, mbits;
    if (!ReadBits(5, &leading) || !ReadBits(6, &mbits)) return Fail("truncated value header");
    if (mbits == 0) mbits = 64;
    if (leading + mbits > 64) return Fail("leading plus significant bits exceed 64");
    leading_ = static_cast<uint8_t>(leading);
    trailing_ = static_cast<uint8_t>(64 - leading - mbits);
  }
  int mbits = 64 - leading_ - trailing_;
  uint64_t bits;
  if (!ReadBits(mbits, &bits)) return Fail("truncated value bits");
  v_ ^= trailing_ >= 64 ? 0 : bits << trailing_;
  return true;
}

// Go's binary.Uvarint from the bit stream (byte-aligned where the format puts varints).
bool XorChunkIterator::ReadUvarint(uint64_t* out, const char* truncated, const char* overflow) {
  uint64_t u = 0;
  for (int i = 0, shift = 0;; ++i, shift += 7) {
    uint64_t byte;
    if (!ReadBits(8, &byte)) return Fail(truncated);
    if (i == 9 && byte > 1) return Fail(overflow);
    u |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  *out = u;
  return true;
}

bool XorChunkIterator::Next() {
  if (!status_.ok() || read_ >= num_samples_) return false;
  if (read_ == 0) {
    // Signed varint (zig-zag), then the value's raw 64 bits.
    uint64_t u = 0;
    if (!ReadUvarint(&u, "truncated first timestamp", "first timestamp varint overflows 64 bits")) {
      return false;
    }
    t_ = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
    if (!ReadBits(64, &v_)) return Fail("truncated first value");
  } else if (read_ == 1) {
    uint64_t u = 0;
    if (!ReadUvarint(&u, "truncated second timestamp delta",
                     "timestamp delta varint overflows 64 bits")) {
      return false;
    }
    t_delta_ = static_cast<int64_t>(u);
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + u);
    if (!ReadValue()) return false;
  } else {
    // Delta of delta: '0' | '10'+14 bits | '110'+17 | '1110'+20 | '1111'+64.
    int prefix = 0;
    for (int i = 0; i < 4; ++i) {
      uint64_t bit;
      if (!ReadBit(&bit)) return Fail("truncated timestamp");
      prefix = (prefix << 1) | static_cast<int>(bit);
      if (bit == 0) break;
    }
    int size = 0;
    switch (prefix) {
      case 0x00: size = 0; break;
      case 0x02: size = 14; break;
      case 0x06: size = 17; break;
      case 0x0e: size = 20; break;
      case 0x0f: size = 64; break;
      default: return Fail("bad delta-of-delta prefix");  // unreachable by construction
    }
    int64_t dod = 0;
    if (size == 64) {
      uint64_t bits;
      if (!ReadBits(64, &bits)) return Fail("truncated timestamp");
      dod = static_cast<int64_t>(bits);
    } else if (size > 0) {
      uint64_t bits;
      if (!ReadBits(size, &bits)) return Fail("truncated timestamp");
      // Two's complement in `size` bits, with the encoder's range [-(2^(n-1)-1), 2^(n-1)].
      if (bits > (1ULL << (size - 1))) bits -= 1ULL << size;
      dod = static_cast<int64_t>(bits);
    }
    t_delta_ = static_cast<int64_t>(static_cast<uint64_t>(t_delta_) + static_cast<uint64_t>(dod));
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + static_cast<uint64_t>(t_delta_));
    if (!ReadValue()) return false;
  }
  ++read_;
  return true;
}

Status DecodeXorChunk(std::string_view chunk, std::vector<int64_t>* timestamps,
                      std::vector<double>* values) {
  XorChunkIterator it(chunk);
  // A sample takes at least 2 bits after the first; trust the header's count only that far, so
  // a corrupt header cannot make us reserve 64K samples for a few bytes.
  const size_t plausible = std::min<size_t>(it.num_samples(), chunk.size() * 4 + 1);
  timestamps->reserve(timestamps->size() + plausible);
  values->reserve(values->size() + plausible);
  while (it.Next()) {
    timestamps->push_back(it.timestamp());
    values->push_back(it.value());
  }
  return it.status();
}

}  // namespace foresight::remote_read
