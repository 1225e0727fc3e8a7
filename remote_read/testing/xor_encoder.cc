#include "xor_encoder.h"

#include <bit>
#include <cstdio>
#include <cstdlib>

namespace foresight::remote_read::testing {
namespace {

// Prometheus's bitRange: can x be stored in an n-bit bucket? The range is asymmetric,
// [-(2^(n-1)-1), 2^(n-1)], because the decoder maps only values above 2^(n-1) to negatives.
bool FitsBucket(int64_t x, int n) {
  const int64_t half = int64_t{1} << (n - 1);
  return -(half - 1) <= x && x <= half;
}

// Go's binary.PutUvarint: 7 bits a byte, least significant group first.
std::string Uvarint(uint64_t u) {
  std::string out;
  while (u >= 0x80) {
    out.push_back(static_cast<char>((u & 0x7f) | 0x80));
    u >>= 7;
  }
  out.push_back(static_cast<char>(u));
  return out;
}

// Go's binary.PutVarint: zig-zag, then uvarint.
std::string Varint(int64_t v) {
  uint64_t u = static_cast<uint64_t>(v) << 1;
  if (v < 0) {
    u = ~u;
  }
  return Uvarint(u);
}

}  // namespace

XorChunkEncoder::XorChunkEncoder() = default;

void XorChunkEncoder::WriteBit(bool bit) {
  if (free_bits_ == 0) {
    stream_.push_back('\0');
    free_bits_ = 8;
  }
  if (bit) {
    stream_.back() =
        static_cast<char>(static_cast<uint8_t>(stream_.back()) | (1u << (free_bits_ - 1)));
  }
  --free_bits_;
}

// As bstream.writeByte: fills the free bits of the last byte with the byte's high bits and
// always appends a byte for the rest, so free_bits_ is unchanged (and an aligned write leaves
// an empty byte behind).
void XorChunkEncoder::WriteByte(uint8_t byte) {
  if (free_bits_ == 0) {
    stream_.push_back('\0');
    free_bits_ = 8;
  }
  stream_.back() =
      static_cast<char>(static_cast<uint8_t>(stream_.back()) | (byte >> (8 - free_bits_)));
  // free_bits_ == 8 shifts every bit out: the new byte starts empty.
  stream_.push_back(static_cast<char>(static_cast<uint8_t>(byte << free_bits_)));
}

// The n (0..64) low bits of v, most significant first: whole bytes, then single bits, as
// bstream.writeBits does (the split matters for where the empty trailing byte appears).
void XorChunkEncoder::WriteBits(uint64_t v, int n) {
  if (n == 0) {
    return;
  }
  v <<= 64 - n;
  while (n >= 8) {
    WriteByte(static_cast<uint8_t>(v >> 56));
    v <<= 8;
    n -= 8;
  }
  while (n > 0) {
    WriteBit((v >> 63) == 1);
    v <<= 1;
    --n;
  }
}

void XorChunkEncoder::WriteValue(uint64_t vbits) {
  const uint64_t delta = vbits ^ v_;
  if (delta == 0) {
    WriteBit(false);
    return;
  }
  WriteBit(true);

  int leading = std::countl_zero(delta);
  const int trailing = std::countr_zero(delta);
  // Five bits hold the leading-zero count, so Prometheus clamps it; the window then simply
  // includes a few zero bits.
  if (leading >= 32) {
    leading = 31;
  }

  if (leading_ != 0xff && leading >= leading_ && trailing >= trailing_) {
    // The previous window still covers every set bit: reuse it.
    WriteBit(false);
    WriteBits(delta >> trailing_, 64 - leading_ - trailing_);
    return;
  }
  leading_ = static_cast<uint8_t>(leading);
  trailing_ = static_cast<uint8_t>(trailing);
  WriteBit(true);
  WriteBits(static_cast<uint64_t>(leading), 5);
  // 64 significant bits do not fit in 6 bits; WriteBits keeps the low 6, so 64 goes out as 0,
  // which the decoder reads back as 64 (0 itself is impossible: delta != 0).
  const int sigbits = 64 - leading - trailing;
  WriteBits(static_cast<uint64_t>(sigbits), 6);
  WriteBits(delta >> trailing, sigbits);
}

void XorChunkEncoder::Append(int64_t t, double v) { AppendBits(t, std::bit_cast<uint64_t>(v)); }

void XorChunkEncoder::AppendBits(int64_t t, uint64_t vbits) {
  if (num_ >= 0xffff) {
    // The header holds 16 bits; Prometheus cuts a new chunk long before this.
    std::fprintf(stderr, "XorChunkEncoder: more than 65535 samples\n");
    std::abort();
  }
  // Timestamp arithmetic wraps as Go's int64 does; unsigned math keeps that defined here.
  uint64_t t_delta = 0;
  if (num_ == 0) {
    for (char c : Varint(t)) {
      WriteByte(static_cast<uint8_t>(c));
    }
    WriteBits(vbits, 64);
  } else if (num_ == 1) {
    t_delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
    for (char c : Uvarint(t_delta)) {
      WriteByte(static_cast<uint8_t>(c));
    }
    WriteValue(vbits);
  } else {
    t_delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
    const int64_t dod = static_cast<int64_t>(t_delta - t_delta_);
    if (dod == 0) {
      WriteBit(false);
    } else if (FitsBucket(dod, 14)) {
      WriteBits(0b10, 2);
      WriteBits(static_cast<uint64_t>(dod), 14);
    } else if (FitsBucket(dod, 17)) {
      WriteBits(0b110, 3);
      WriteBits(static_cast<uint64_t>(dod), 17);
    } else if (FitsBucket(dod, 20)) {
      WriteBits(0b1110, 4);
      WriteBits(static_cast<uint64_t>(dod), 20);
    } else {
      WriteBits(0b1111, 4);
      WriteBits(static_cast<uint64_t>(dod), 64);
    }
    WriteValue(vbits);
  }
  t_ = t;
  v_ = vbits;
  t_delta_ = t_delta;
  ++num_;
}

std::string XorChunkEncoder::bytes() const {
  std::string out;
  out.reserve(2 + stream_.size());
  out.push_back(static_cast<char>((num_ >> 8) & 0xff));
  out.push_back(static_cast<char>(num_ & 0xff));
  out += stream_;
  return out;
}

std::string EncodeXorChunk(const std::vector<int64_t>& timestamps,
                           const std::vector<double>& values) {
  if (timestamps.size() != values.size()) {
    std::fprintf(stderr, "EncodeXorChunk: %zu timestamps but %zu values\n", timestamps.size(),
                 values.size());
    std::abort();
  }
  XorChunkEncoder enc;
  for (size_t i = 0; i < timestamps.size(); ++i) {
    enc.Append(timestamps[i], values[i]);
  }
  return enc.bytes();
}

}  // namespace foresight::remote_read::testing
