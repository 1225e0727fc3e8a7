#include "foresight/remote_read/xor_chunk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/remote_read/types.h"
#include "xor_encoder.h"

namespace foresight::remote_read {
namespace {

using testing::EncodeXorChunk;
using testing::XorChunkEncoder;

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) {
    s.push_back(static_cast<char>(b));
  }
  return s;
}

// Two's-complement addition, as Go's int64 and our decoder wrap.
int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

struct Decoded {
  std::vector<int64_t> timestamps;
  std::vector<uint64_t> value_bits;
  Status status;
};

Decoded DecodeWithIterator(std::string_view chunk) {
  Decoded d;
  XorChunkIterator it(chunk);
  while (it.Next()) {
    d.timestamps.push_back(it.timestamp());
    d.value_bits.push_back(it.value_bits());
    EXPECT_EQ(std::bit_cast<uint64_t>(it.value()), it.value_bits());
  }
  d.status = it.status();
  return d;
}

// Encodes with the Prometheus-compatible encoder, decodes with both entry points, and demands
// the same timestamps and the same value bits (so NaN payloads count).
void ExpectRoundTrip(const std::vector<int64_t>& ts, const std::vector<uint64_t>& bits) {
  ASSERT_EQ(ts.size(), bits.size());
  XorChunkEncoder enc;
  for (size_t i = 0; i < ts.size(); ++i) {
    enc.AppendBits(ts[i], bits[i]);
  }
  ASSERT_EQ(enc.num_samples(), static_cast<int>(ts.size()));
  const std::string chunk = enc.bytes();

  Decoded d = DecodeWithIterator(chunk);
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.timestamps.size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    ASSERT_EQ(d.timestamps[i], ts[i]) << "sample " << i;
    ASSERT_EQ(d.value_bits[i], bits[i])
        << "sample " << i << std::hex << ": got 0x" << d.value_bits[i] << " want 0x" << bits[i];
  }

  // DecodeXorChunk appends after what the vectors already hold.
  std::vector<int64_t> out_ts = {7};
  std::vector<double> out_v = {7.0};
  Status st = DecodeXorChunk(chunk, &out_ts, &out_v);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(out_ts.size(), ts.size() + 1);
  ASSERT_EQ(out_v.size(), ts.size() + 1);
  for (size_t i = 0; i < ts.size(); ++i) {
    ASSERT_EQ(out_ts[i + 1], ts[i]) << "sample " << i;
    ASSERT_EQ(std::bit_cast<uint64_t>(out_v[i + 1]), bits[i]) << "sample " << i;
  }
}

void ExpectRoundTripDoubles(const std::vector<int64_t>& ts, const std::vector<double>& values) {
  std::vector<uint64_t> bits;
  for (double v : values) {
    bits.push_back(std::bit_cast<uint64_t>(v));
  }
  ExpectRoundTrip(ts, bits);
}

std::vector<int64_t> EvenTimestamps(size_t n, int64_t start = 1'700'000'000'000,
                                    int64_t step = 15'000) {
  std::vector<int64_t> ts;
  for (size_t i = 0; i < n; ++i) {
    ts.push_back(start + static_cast<int64_t>(i) * step);
  }
  return ts;
}

// Reads fields out of a chunk by bit offset, to check what the encoder chose.
uint64_t BitsAt(const std::string& chunk, size_t bit_offset, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) {
    size_t pos = bit_offset + static_cast<size_t>(i);
    v = (v << 1) | ((static_cast<uint8_t>(chunk.at(pos / 8)) >> (7 - pos % 8)) & 1);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Golden bytes, derived by hand from Prometheus's xorAppender and bstream (tsdb/chunkenc).
//
// Samples (1000, 1.0), (2000, 1.0), (3000, 2.0):
//
//   00 03        header: big-endian sample count 3 (rewritten after every Append).
//   D0 0F        sample 0 timestamp, binary.PutVarint(1000): zig-zag 1000 -> 2000 = 0x7d0;
//                low 7 bits 0x50 with the continuation bit -> 0xd0, then 2000 >> 7 = 0x0f.
//   3F F0 00 00 00 00 00 00
//                sample 0 value: math.Float64bits(1.0), 64 bits.
//   E8 07        sample 1 timestamp: binary.PutUvarint(2000 - 1000 = 1000): 1000 & 0x7f =
//                0x68 | 0x80 -> 0xe8, then 1000 >> 7 = 0x07.
//                bstream.writeByte always appends a byte after the one it fills, so after these
//                byte-aligned writes the stream ends in an empty byte with 8 free bits.
//   then one bit stream, starting in that empty byte:
//     0                sample 1 value: 1.0 ^ 1.0 == 0 -> a single '0'.
//     0                sample 2 timestamp: delta 1000, delta-of-delta 0 -> '0'.
//     1                sample 2 value: 1.0 ^ 2.0 = 0x3ff0... ^ 0x4000... = 0x7ff0000000000000,
//                      not zero -> '1'.
//     1                leading was initialised to 0xff, so a new window -> '1'.
//     00001            leading zeros of 0x7ff0000000000000: 1, in 5 bits.
//     001011           significant bits: 64 - 1 leading - 52 trailing = 11, in 6 bits.
//     11111111111      the 11 significant bits, 0x7ff.
//   26 bits, padded with zeros to 4 bytes:
//     00110000 10010111 11111111 11000000 = 30 97 FF C0
// ---------------------------------------------------------------------------------------------
const std::string kGoldenThree = Bytes({0x00, 0x03, 0xD0, 0x0F, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0xE8, 0x07, 0x30, 0x97, 0xFF, 0xC0});

// The same chunk after appending (4001, 4.0). The header becomes 00 04 and the bit stream goes
// on in the last byte, which had 6 free bits (11000000):
//     10 00000000000001   delta 1001, delta-of-delta 1: bitRange(1, 14) -> '10' + 1 in 14 bits.
//     1                   2.0 ^ 4.0 = 0x4000... ^ 0x4010... = 0x0010000000000000 -> '1'.
//     0                   its 11 leading and 52 trailing zeros fit inside the previous window
//                         (leading 1, trailing 52) -> '0' = reuse the window.
//     00000000001         the window's 64 - 1 - 52 = 11 bits of delta >> 52 = 0x001.
//   11 + 10 00000000000001 1 0 00000000001 + 1 padding bit:
//     11100000 00000000 01100000 00000010 = E0 00 60 02
const std::string kGoldenFour =
    Bytes({0x00, 0x04, 0xD0, 0x0F, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00,
           0x00, 0xE8, 0x07, 0x30, 0x97, 0xFF, 0xE0, 0x00, 0x60, 0x02});

// A single sample (1000, 1.0): count 1, varint, 64 value bits written as whole bytes, and the
// empty byte bstream.writeByte leaves behind. Prometheus ships that byte; it must decode.
const std::string kGoldenOne =
    Bytes({0x00, 0x01, 0xD0, 0x0F, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});

TEST(XorChunkGoldenTest, EncoderWritesPrometheusBytes) {
  XorChunkEncoder enc;
  enc.Append(1000, 1.0);
  EXPECT_EQ(enc.bytes(), kGoldenOne);
  enc.Append(2000, 1.0);
  enc.Append(3000, 2.0);
  EXPECT_EQ(enc.bytes(), kGoldenThree);
  enc.Append(4001, 4.0);
  EXPECT_EQ(enc.bytes(), kGoldenFour);
  EXPECT_EQ(EncodeXorChunk({1000, 2000, 3000}, {1.0, 1.0, 2.0}), kGoldenThree);
}

TEST(XorChunkGoldenTest, DecoderReadsPrometheusBytes) {
  Decoded one = DecodeWithIterator(kGoldenOne);
  ASSERT_TRUE(one.status.ok()) << one.status.ToString();
  EXPECT_EQ(one.timestamps, (std::vector<int64_t>{1000}));
  EXPECT_EQ(one.value_bits, (std::vector<uint64_t>{0x3FF0000000000000}));

  std::vector<int64_t> ts;
  std::vector<double> vs;
  ASSERT_TRUE(DecodeXorChunk(kGoldenThree, &ts, &vs).ok());
  EXPECT_EQ(ts, (std::vector<int64_t>{1000, 2000, 3000}));
  EXPECT_EQ(vs, (std::vector<double>{1.0, 1.0, 2.0}));

  ts.clear();
  vs.clear();
  ASSERT_TRUE(DecodeXorChunk(kGoldenFour, &ts, &vs).ok());
  EXPECT_EQ(ts, (std::vector<int64_t>{1000, 2000, 3000, 4001}));
  EXPECT_EQ(vs, (std::vector<double>{1.0, 1.0, 2.0, 4.0}));

  XorChunkIterator it(kGoldenFour);
  EXPECT_EQ(it.num_samples(), 4);
}

// ---------------------------------------------------------------------------------------------
// Round trips.

TEST(XorChunkRoundTripTest, RandomWalks) {
  std::mt19937_64 rng(20240601);
  std::normal_distribution<double> step(0.0, 1.0);
  std::uniform_int_distribution<int64_t> jitter(-50, 50);
  for (int series = 0; series < 50; ++series) {
    SCOPED_TRACE(series);
    std::vector<int64_t> ts;
    std::vector<double> vs;
    int64_t t = 1'600'000'000'000 + static_cast<int64_t>(rng() % 1'000'000'000);
    double v = static_cast<double>(rng() % 1000);
    for (int i = 0; i < 120; ++i) {
      t += 15'000 + jitter(rng);
      v += step(rng);
      if (series % 2 == 0) {
        v = std::round(v * 100) / 100;  // gauge with two decimals: many reused windows
      }
      ts.push_back(t);
      vs.push_back(v);
    }
    ExpectRoundTripDoubles(ts, vs);
  }
}

TEST(XorChunkRoundTripTest, RandomBitPatterns) {
  std::mt19937_64 rng(7);
  for (int series = 0; series < 20; ++series) {
    SCOPED_TRACE(series);
    std::vector<int64_t> ts;
    std::vector<uint64_t> bits;
    int64_t t = static_cast<int64_t>(rng());
    for (int i = 0; i < 120; ++i) {
      // Any 64-bit deltas, any value bits: every bucket and every window shape.
      t = WrapAdd(t, static_cast<int64_t>(rng() >> (rng() % 64)));
      ts.push_back(t);
      bits.push_back(rng() >> (rng() % 64) << (rng() % 64));
    }
    ExpectRoundTrip(ts, bits);
  }
}

TEST(XorChunkRoundTripTest, Constants) {
  for (double c : {0.0, -0.0, 1.0, 42.5, -1e300, std::numeric_limits<double>::denorm_min()}) {
    SCOPED_TRACE(c);
    ExpectRoundTripDoubles(EvenTimestamps(120), std::vector<double>(120, c));
  }
  // Constant value and interval: after the 6-byte varint, 8 value bytes and 2-byte uvarint,
  // sample 1 costs one bit and every later sample two.
  std::string chunk = EncodeXorChunk(EvenTimestamps(120), std::vector<double>(120, 3.0));
  EXPECT_EQ(chunk.size(), 2u + 6 + 8 + 2 + (1 + 118 * 2 + 7) / 8);
}

TEST(XorChunkRoundTripTest, AllNaN) {
  ExpectRoundTripDoubles(EvenTimestamps(120),
                         std::vector<double>(120, std::numeric_limits<double>::quiet_NaN()));
}

TEST(XorChunkRoundTripTest, Infinities) {
  const double inf = std::numeric_limits<double>::infinity();
  ExpectRoundTripDoubles(EvenTimestamps(4), {inf, inf, inf, inf});
  ExpectRoundTripDoubles(EvenTimestamps(4), {-inf, -inf, -inf, -inf});
  ExpectRoundTripDoubles(EvenTimestamps(6), {inf, -inf, inf, -inf, 0.0, inf});
}

TEST(XorChunkRoundTripTest, Mixed) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> vs = {1.0,
                            nan,
                            2.5,
                            inf,
                            -inf,
                            0.0,
                            -0.0,
                            std::numeric_limits<double>::max(),
                            std::numeric_limits<double>::lowest(),
                            std::numeric_limits<double>::min(),
                            std::numeric_limits<double>::denorm_min(),
                            std::numeric_limits<double>::epsilon(),
                            std::bit_cast<double>(kStaleNaNBits),
                            1.0,
                            1.0,
                            nan};
  ExpectRoundTripDoubles(EvenTimestamps(vs.size()), vs);
}

TEST(XorChunkRoundTripTest, StaleMarkerAndNaNPayloadsKeepTheirBits) {
  // The stale marker is a signalling NaN; other payloads prove no bit is canonicalised away.
  const std::vector<uint64_t> bits = {
      0x3FF0000000000000,  // 1.0
      kStaleNaNBits,       // 0x7ff0000000000002
      kStaleNaNBits,
      0x7FF8000000000001,  // quiet NaN, payload 1
      0x7FF0000000000001,  // signalling NaN, payload 1
      0xFFF8DEADBEEF0001,  // negative quiet NaN with a payload
      0x7FFFFFFFFFFFFFFF, kStaleNaNBits, 0x3FF0000000000000,
  };
  ExpectRoundTrip(EvenTimestamps(bits.size()), bits);

  Decoded d =
      DecodeWithIterator(EncodeXorChunk({1, 2}, {1.0, std::bit_cast<double>(kStaleNaNBits)}));
  ASSERT_TRUE(d.status.ok());
  ASSERT_EQ(d.value_bits.size(), 2u);
  EXPECT_TRUE(IsStaleMarker(std::bit_cast<double>(d.value_bits[1])));
}

TEST(XorChunkRoundTripTest, NegativeAndZeroTimestamps) {
  ExpectRoundTripDoubles({0}, {1.0});
  ExpectRoundTripDoubles({0, 0, 0}, {1.0, 2.0, 3.0});
  ExpectRoundTripDoubles({-1}, {1.0});
  ExpectRoundTripDoubles({-30'000, -15'000, 0, 15'000, 30'000}, {1, 2, 3, 4, 5});
  ExpectRoundTripDoubles({-1'000'000'000'000, -999'999'999'999, -999'999'999'998}, {1, 1, 1});
  // Decreasing timestamps are not what Prometheus writes, but the format carries them.
  ExpectRoundTripDoubles({100, 50, -50, -51}, {1, 2, 3, 4});
}

TEST(XorChunkRoundTripTest, HugeTimestamps) {
  for (int64_t t0 : {kInt64Max, kInt64Min, kInt64Min + 1, kInt64Max - 1, int64_t{1} << 62,
                     -(int64_t{1} << 62)}) {
    SCOPED_TRACE(t0);
    ExpectRoundTripDoubles({t0}, {1.0});
    ExpectRoundTripDoubles({t0, WrapAdd(t0, 1)}, {1.0, 2.0});
    ExpectRoundTripDoubles({t0, WrapAdd(t0, 15'000), WrapAdd(t0, 30'000)}, {1.0, 2.0, 3.0});
  }
  // A first delta of 2^64 - 1 needs all ten uvarint bytes, the last one being 0x01.
  ExpectRoundTripDoubles({kInt64Min, kInt64Max, kInt64Min}, {1.0, 2.0, 3.0});
  ExpectRoundTripDoubles({kInt64Max, kInt64Min, kInt64Max}, {1.0, 2.0, 3.0});
  ExpectRoundTripDoubles({0, kInt64Max, kInt64Min, 0}, {1.0, 2.0, 3.0, 4.0});

  // The first timestamp's varint is ten bytes for both extremes.
  std::string max_chunk = EncodeXorChunk({kInt64Max}, {0.0});
  std::string min_chunk = EncodeXorChunk({kInt64Min}, {0.0});
  EXPECT_EQ(max_chunk.size(), 2u + 10 + 8 + 1);
  EXPECT_EQ(min_chunk.size(), 2u + 10 + 8 + 1);
}

// The bucket the third sample's delta-of-delta went into, read from its prefix bits.
int DodBucketBits(const std::string& chunk, int64_t t0, uint64_t delta) {
  XorChunkEncoder probe;  // measure the byte-aligned part: varint, 64 bits, uvarint
  probe.Append(t0, 0.0);
  probe.Append(static_cast<int64_t>(static_cast<uint64_t>(t0) + delta), 0.0);
  // probe.bytes() ends in sample 1's one-bit value inside its last byte.
  size_t pos = (probe.bytes().size() - 1) * 8 + 1;
  int ones = 0;
  while (ones < 4 && BitsAt(chunk, pos, 1) == 1) {
    ++ones;
    ++pos;
  }
  static constexpr int kBits[] = {0, 14, 17, 20, 64};
  return kBits[ones];
}

TEST(XorChunkRoundTripTest, EveryDeltaOfDeltaBucketAndItsEdges) {
  struct Case {
    int64_t dod;
    int bucket_bits;
  };
  const Case cases[] = {
      {0, 0},
      {1, 14},
      {-1, 14},
      {8191, 14},
      {-8191, 14},  // lowest 14-bit value: -(2^13 - 1)
      {8192, 14},   // highest 14-bit value: 2^13
      {8193, 17},
      {-8192, 17},
      {65535, 17},
      {-65535, 17},  // lowest 17-bit
      {65536, 17},   // highest 17-bit
      {65537, 20},
      {-65536, 20},
      {524287, 20},
      {-524287, 20},  // lowest 20-bit
      {524288, 20},   // highest 20-bit
      {524289, 64},
      {-524288, 64},
      {int64_t{1} << 40, 64},
      {-(int64_t{1} << 40), 64},
      {kInt64Max, 64},
      {kInt64Min, 64},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dod);
    const int64_t t0 = 1'700'000'000'000;
    const int64_t delta = 15'000;
    const int64_t t1 = t0 + delta;
    const int64_t t2 = WrapAdd(t1, WrapAdd(delta, c.dod));
    std::string chunk = EncodeXorChunk({t0, t1, t2}, {5.0, 5.0, 5.0});
    EXPECT_EQ(DodBucketBits(chunk, t0, delta), c.bucket_bits);

    // Then the same jump again (dod 0), back (-dod) and a plain step.
    const int64_t d2 = WrapAdd(delta, c.dod);
    const int64_t t3 = WrapAdd(t2, d2);
    const int64_t t4 = WrapAdd(t3, delta);
    const int64_t t5 = WrapAdd(t4, delta);
    ExpectRoundTripDoubles({t0, t1, t2, t3, t4, t5}, {5.0, 6.0, 7.0, 7.0, 8.0, 9.0});
  }
}

TEST(XorChunkRoundTripTest, LeadingZerosClampTo31) {
  // 0 -> bits 1: the XOR has 63 leading zeros, written as 31 with 33 significant bits.
  std::string chunk = EncodeXorChunk({0, 1}, {0.0, std::bit_cast<double>(uint64_t{1})});
  // Header, 1-byte varint(0), 8 value bytes, 1-byte uvarint(1): sample 1's value at bit 96.
  ASSERT_EQ(BitsAt(chunk, 96, 2), 0b11u);
  EXPECT_EQ(BitsAt(chunk, 98, 5), 31u);
  EXPECT_EQ(BitsAt(chunk, 103, 6), 33u);
  EXPECT_EQ(BitsAt(chunk, 109, 33), 1u);

  ExpectRoundTrip({0, 1, 2, 3, 4, 5, 6},
                  {0, 1, 3, 0x00000000FFFFFFFF, 0x0000000100000000, 0x00000000FFFFFFFF, 0});
  ExpectRoundTrip(EvenTimestamps(5), {0x4000000000000000, 0x4000000000000001, 0x4000000080000000,
                                      0x4000000100000000, 0x4000000000000000});
}

TEST(XorChunkRoundTripTest, SixtyFourSignificantBitsAreWrittenAsZero) {
  std::string chunk =
      EncodeXorChunk({0, 1}, {0.0, std::bit_cast<double>(uint64_t{0x8000000000000001})});
  ASSERT_EQ(BitsAt(chunk, 96, 2), 0b11u);
  EXPECT_EQ(BitsAt(chunk, 98, 5), 0u);   // no leading zeros
  EXPECT_EQ(BitsAt(chunk, 103, 6), 0u);  // 64, which does not fit in 6 bits
  EXPECT_EQ(BitsAt(chunk, 109, 64), 0x8000000000000001u);

  ExpectRoundTrip({0, 1, 2, 3}, {0, 0x8000000000000001, 0x0000000000000000, 0xFFFFFFFFFFFFFFFF});
  // 1.0 -> -1.0 flips only the sign: 0 leading, 63 trailing, 1 significant bit.
  ExpectRoundTripDoubles({0, 1, 2, 3}, {1.0, -1.0, 1.0, -1.0});
}

TEST(XorChunkRoundTripTest, ReusesThePreviousWindow) {
  // Window from 0x00F0...: leading 8, trailing 52. Then 0x0010... (leading 11, trailing 52)
  // fits in it, so its control bits are '10' and it carries the window's 4 bits.
  const uint64_t a = 0x00F0000000000000;
  const uint64_t b = a ^ 0x0010000000000000;
  std::string chunk =
      EncodeXorChunk({0, 1, 2}, {0.0, std::bit_cast<double>(a), std::bit_cast<double>(b)});
  // Sample 1's value: '11' + 5 + 6 + 4 bits = 17, from bit 96; then sample 2's dod '0'.
  EXPECT_EQ(BitsAt(chunk, 96 + 2, 5), 8u);
  EXPECT_EQ(BitsAt(chunk, 96 + 7, 6), 4u);
  EXPECT_EQ(BitsAt(chunk, 113, 1), 0u);     // dod 0
  EXPECT_EQ(BitsAt(chunk, 114, 2), 0b10u);  // value changed, same window
  EXPECT_EQ(BitsAt(chunk, 116, 4), 0b0001u);

  // Windows that must be replaced: fewer trailing zeros, then fewer leading zeros.
  ExpectRoundTrip({0, 1, 2, 3, 4, 5}, {0, a, b, b ^ 1, (b ^ 1) ^ 0x8000000000000000, 0});
  // Reuse of a clamped window: 0 -> 1 -> 2 -> 3 all fit leading 31 / trailing 0.
  ExpectRoundTrip({0, 1, 2, 3}, {0, 1, 2, 3});
}

TEST(XorChunkRoundTripTest, SampleCounts) {
  std::mt19937_64 rng(99);
  std::uniform_int_distribution<int64_t> jitter(-3, 3);
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{120}, size_t{65535}}) {
    SCOPED_TRACE(n);
    std::vector<int64_t> ts;
    std::vector<double> vs;
    int64_t t = 1'700'000'000'000;
    double v = 100;
    for (size_t i = 0; i < n; ++i) {
      t += 15'000 + jitter(rng);
      v += static_cast<double>(static_cast<int>(rng() % 21) - 10) / 10;
      ts.push_back(t);
      vs.push_back(v);
    }
    ExpectRoundTripDoubles(ts, vs);
    const std::string chunk = EncodeXorChunk(ts, vs);
    XorChunkIterator it(chunk);
    EXPECT_EQ(it.num_samples(), n);
  }
}

TEST(XorChunkRoundTripTest, EmptyChunkHasNoSamples) {
  XorChunkEncoder enc;
  EXPECT_EQ(enc.bytes(), Bytes({0x00, 0x00}));
  XorChunkIterator it(enc.bytes());
  EXPECT_FALSE(it.Next());
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(it.num_samples(), 0);
}

TEST(XorChunkRoundTripTest, NextAfterTheEndStaysFalse) {
  XorChunkIterator it(kGoldenThree);
  int n = 0;
  while (it.Next()) {
    ++n;
  }
  EXPECT_EQ(n, 3);
  EXPECT_FALSE(it.Next());
  EXPECT_FALSE(it.Next());
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(it.timestamp(), 3000);  // the last sample stays readable
}

// ---------------------------------------------------------------------------------------------
// Malformed input.

// A copy in a heap block of exactly the chunk's size, so AddressSanitizer catches any read past
// its end (a std::string would hide small overruns in its inline buffer or spare capacity).
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view s) : data_(new char[s.size()]), size_(s.size()) {
    std::copy(s.begin(), s.end(), data_.get());
  }
  std::string_view view() const { return std::string_view(data_.get(), size_); }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_;
};

void ExpectDataLoss(const Status& st, std::string_view needle) {
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("XOR chunk"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(needle), std::string::npos)
      << "want \"" << needle << "\" in: " << st.message();
}

TEST(XorChunkErrorTest, ShorterThanHeader) {
  for (std::string_view input : {std::string_view(), std::string_view("\x00", 1)}) {
    ExactBuffer buf(input);
    XorChunkIterator it(buf.view());
    EXPECT_EQ(it.num_samples(), 0);
    EXPECT_FALSE(it.Next());
    ExpectDataLoss(it.status(), "2-byte header");
    std::vector<int64_t> ts;
    std::vector<double> vs;
    ExpectDataLoss(DecodeXorChunk(buf.view(), &ts, &vs), "header");
    EXPECT_TRUE(ts.empty());
  }
}

TEST(XorChunkErrorTest, HeaderOnlyButSamplesAnnounced) {
  ExactBuffer buf(Bytes({0x00, 0x01}));
  XorChunkIterator it(buf.view());
  EXPECT_FALSE(it.Next());
  ExpectDataLoss(it.status(), "at sample 0 of 1");
}

// A chunk whose last sample repeats the previous value, so it ends in a single '0' bit: no
// trailing empty byte, and every byte is needed (see kGoldenOne for the other case).
std::string MultiSampleChunk() {
  XorChunkEncoder enc;
  const int64_t t0 = 1'700'000'000'000;
  const std::vector<int64_t> deltas = {15'000,           15'000, 15'001,          14'990,
                                       15'000 + 9000,    15'000, 15'000 + 70'000, 15'000,
                                       15'000 + 600'000, 15'000, 15'000,          14'000};
  const double stale = std::bit_cast<double>(kStaleNaNBits);
  std::vector<double> vs = {1.0, 1.0, 1.5, 2.25, -7.0, 1e300, 1e-300, 0.1, 0.2, 0.3, stale, 42, 42};
  int64_t t = t0;
  enc.Append(t, vs[0]);
  for (size_t i = 0; i < deltas.size(); ++i) {
    t += deltas[i];
    enc.Append(t, vs[i + 1]);
  }
  return enc.bytes();
}

TEST(XorChunkErrorTest, TruncatedAtEveryLength) {
  const std::string chunk = MultiSampleChunk();
  Decoded full = DecodeWithIterator(chunk);
  ASSERT_TRUE(full.status.ok()) << full.status.ToString();
  ASSERT_EQ(full.timestamps.size(), 13u);

  for (size_t len = 0; len < chunk.size(); ++len) {
    SCOPED_TRACE(len);
    ExactBuffer buf(std::string_view(chunk).substr(0, len));
    Decoded d = DecodeWithIterator(buf.view());
    ASSERT_FALSE(d.status.ok()) << "a truncated chunk decoded cleanly";
    ExpectDataLoss(d.status,
                   len < 2 ? "header" : "at sample " + std::to_string(d.timestamps.size()));
    // What was decoded before the cut is exactly the chunk's prefix.
    ASSERT_LT(d.timestamps.size(), full.timestamps.size());
    for (size_t i = 0; i < d.timestamps.size(); ++i) {
      EXPECT_EQ(d.timestamps[i], full.timestamps[i]);
      EXPECT_EQ(d.value_bits[i], full.value_bits[i]);
    }
    std::vector<int64_t> ts;
    std::vector<double> vs;
    ExpectDataLoss(DecodeXorChunk(buf.view(), &ts, &vs), len < 2 ? "header" : "at sample");
  }
}

TEST(XorChunkErrorTest, HeaderCountLargerThanData) {
  // kGoldenFour has one padding bit. With a larger count, sample 4 reads that '0' as "same
  // delta" and then runs out of bits for its value, exactly as Prometheus's reader would.
  std::string chunk = kGoldenFour;
  chunk[1] = 9;
  ExactBuffer buf(chunk);
  Decoded d = DecodeWithIterator(buf.view());
  EXPECT_EQ(d.timestamps.size(), 4u);
  ExpectDataLoss(d.status, "at sample 4 of 9");

  chunk[0] = static_cast<char>(0xff);
  chunk[1] = static_cast<char>(0xff);
  ExactBuffer big(chunk);
  d = DecodeWithIterator(big.view());
  EXPECT_EQ(d.timestamps.size(), 4u);
  ExpectDataLoss(d.status, "at sample 4 of 65535");

  // Six padding bits in kGoldenThree decode as three phantom samples ('0','0' each), then the
  // seventh runs out: padding is indistinguishable from data, only the count tells them apart.
  chunk = kGoldenThree;
  chunk[1] = 10;
  ExactBuffer three(chunk);
  d = DecodeWithIterator(three.view());
  EXPECT_EQ(d.timestamps.size(), 6u);
  ExpectDataLoss(d.status, "at sample 6 of 10");
}

// Header 00 02, sample 0 = (0, 0.0), sample 1 delta 1, then the given value bytes.
std::string ChunkWithSecondValue(std::initializer_list<int> value_bytes) {
  std::string chunk = Bytes({0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
  chunk += Bytes(value_bytes);
  return chunk;
}

TEST(XorChunkErrorTest, WindowWiderThan64Bits) {
  // '11', leading 31 (11111), significant 40 (101000): 71 bits. 13 bits: 11111111 01000000.
  ExactBuffer wide(ChunkWithSecondValue({0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 0}));
  Decoded d = DecodeWithIterator(wide.view());
  EXPECT_EQ(d.timestamps.size(), 1u);
  ExpectDataLoss(d.status, "exceed 64");
  ExpectDataLoss(d.status, "at sample 1 of 2");

  // '11', leading 1 (00001), significant 0 meaning 64: 65 bits. 11000010 00000000.
  ExactBuffer wide64(ChunkWithSecondValue({0xC2, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}));
  d = DecodeWithIterator(wide64.view());
  ExpectDataLoss(d.status, "at sample 1 of 2");

  // The widest legal window, leading 31 + 33 significant bits, decodes: '11' 11111 100001 and
  // 33 bits of 0...01 -> value bits 1. 46 bits: 11111111 00001000 0x00 0x00 0x00 00000100.
  ExactBuffer edge(ChunkWithSecondValue({0xFF, 0x08, 0x00, 0x00, 0x00, 0x04}));
  d = DecodeWithIterator(edge.view());
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.value_bits, (std::vector<uint64_t>{0, 1}));
}

TEST(XorChunkErrorTest, FirstTimestampVarintOverflow) {
  // Ten continuation bytes: the tenth may only be 0 or 1.
  std::string chunk = Bytes({0x00, 0x01});
  chunk += std::string(10, '\xff');
  chunk += std::string(8, '\0');
  ExactBuffer buf(chunk);
  Decoded d = DecodeWithIterator(buf.view());
  EXPECT_TRUE(d.timestamps.empty());
  ExpectDataLoss(d.status, "overflows");
  ExpectDataLoss(d.status, "at sample 0 of 1");

  chunk = Bytes({0x00, 0x01});
  chunk += std::string(9, '\x80');
  chunk += Bytes({0x02});
  chunk += std::string(8, '\0');
  ExactBuffer two(chunk);
  ExpectDataLoss(DecodeWithIterator(two.view()).status, "overflows");

  // Nine 0xff and a final 0x01 is the largest legal varint: zig-zag 2^64 - 1 is INT64_MIN.
  chunk = Bytes({0x00, 0x01});
  chunk += std::string(9, '\xff');
  chunk += Bytes({0x01});
  chunk += std::string(8, '\0');
  ExactBuffer edge(chunk);
  d = DecodeWithIterator(edge.view());
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  EXPECT_EQ(d.timestamps, (std::vector<int64_t>{kInt64Min}));
}

TEST(XorChunkErrorTest, SecondTimestampVarintOverflow) {
  std::string chunk = Bytes({0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0});
  chunk += std::string(10, '\xff');
  chunk += Bytes({0x00});
  ExactBuffer buf(chunk);
  Decoded d = DecodeWithIterator(buf.view());
  EXPECT_EQ(d.timestamps.size(), 1u);
  ExpectDataLoss(d.status, "overflows");
  ExpectDataLoss(d.status, "at sample 1 of 2");
}

TEST(XorChunkErrorTest, ErrorIsSticky) {
  std::string chunk = kGoldenFour;
  chunk[1] = 9;
  XorChunkIterator it(chunk);
  while (it.Next()) {
  }
  const std::string first = it.status().message();
  EXPECT_FALSE(it.Next());
  EXPECT_EQ(it.status().message(), first);
}

}  // namespace
}  // namespace foresight::remote_read
