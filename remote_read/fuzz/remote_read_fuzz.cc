// libFuzzer target for every path that decodes bytes from a remote-read server.
//
// Input layout: one mode byte, then the body.
//   mode % 4 == 0  STREAMED_XOR_CHUNKS body for ChunkedStreamDecoder. The body is decoded twice,
//                  fed whole and fed in pieces; mode / 4 seeds the piece sizes (0: one byte at
//                  a time, larger: random pieces up to mode / 4 + 1 bytes). Both runs must agree
//                  exactly: a split must never change what is decoded or which error comes out.
//   mode % 4 == 1  SAMPLES body (snappy block of a ReadResponse) for DecodeSamplesResponse.
//   mode % 4 == 2  one raw XOR chunk, read with XorChunkIterator and DecodeXorChunk, which must
//                  agree sample for sample.
//   mode % 4 == 3  as 0, but the body is ChunkedReadResponse messages, each preceded by a 2-byte
//                  big-endian length, and the harness frames them (uvarint length, CRC-32C). A
//                  mutated frame almost never passes its CRC, so without this mode the fuzzer
//                  would rarely get past the framing into the series and chunk handling.
// Every run checks the decoders' promises (sorted, in-range, deduplicated samples; DataLoss on
// corrupt chunks; stats that match what the callback saw) and aborts when one is broken.
//
// Seeds live in fuzz/corpus/. Run on a scratch copy so new inputs stay out of the repository:
//   cp -r remote_read/fuzz/corpus /tmp/corpus && ./remote_read_fuzz -max_total_time=60 /tmp/corpus

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/remote_read/codec.h"
#include "foresight/remote_read/crc32c.h"
#include "foresight/remote_read/types.h"
#include "foresight/remote_read/xor_chunk.h"

namespace foresight::remote_read {
namespace {

// Small, so a length prefix cannot make the fuzzer allocate its way out of memory.
constexpr size_t kMaxFrameBytes = 1u << 20;
constexpr size_t kMaxDecodedBytes = 1u << 20;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "remote_read_fuzz: broken promise: %s\n", what);
    std::abort();
  }
}

const std::vector<Query>& Queries() {
  static const std::vector<Query> queries = [] {
    std::vector<Query> q(2);
    // A typical window around the test data (2023-2033), and everything.
    q[0].start_ms = 1'600'000'000'000;
    q[0].end_ms = 2'000'000'000'000;
    q[0].matchers = {{MatchType::kEqual, "__name__", "up"}};
    q[1].start_ms = std::numeric_limits<int64_t>::min();
    q[1].end_ms = std::numeric_limits<int64_t>::max();
    q[1].matchers = {{MatchType::kRegexMatch, "job", ".+"}};
    return q;
  }();
  return queries;
}

// What a decode produced, in a form two runs can be compared by.
struct Outcome {
  uint64_t series = 0;
  uint64_t samples = 0;
  uint64_t checksum = 0;  // over every label, timestamp and value bit, in order
  StatusCode code = StatusCode::kOk;
  std::string message;

  bool operator==(const Outcome&) const = default;
};

uint64_t Mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL; }

SeriesCallback Collector(Outcome* out) {
  return [out](Series&& s) -> Status {
    const std::vector<Query>& queries = Queries();
    Check(s.query_index < queries.size(), "query_index within the request");
    Check(s.timestamps_ms.size() == s.values.size(), "as many values as timestamps");
    const Query& q = queries[s.query_index];
    ++out->series;
    out->checksum = Mix(out->checksum, s.query_index);
    for (const Label& l : s.labels) {
      for (char c : l.name) {
        out->checksum = Mix(out->checksum, static_cast<uint8_t>(c));
      }
      for (char c : l.value) {
        out->checksum = Mix(out->checksum, static_cast<uint8_t>(c));
      }
    }
    for (size_t i = 0; i < s.timestamps_ms.size(); ++i) {
      const int64_t t = s.timestamps_ms[i];
      Check(t >= q.start_ms && t <= q.end_ms, "samples within the query's range");
      Check(i == 0 || t > s.timestamps_ms[i - 1], "timestamps strictly increasing");
      out->checksum = Mix(out->checksum, static_cast<uint64_t>(t));
      out->checksum = Mix(out->checksum, std::bit_cast<uint64_t>(s.values[i]));
      ++out->samples;
    }
    return Status::Ok();
  };
}

void Finish(const Status& st, const DecodeStats& stats, Outcome* out) {
  out->code = st.code();
  out->message = st.message();
  Check(stats.series == out->series, "stats.series counts the callbacks");
  Check(stats.samples == out->samples, "stats.samples counts the samples handed over");
}

Outcome DecodeStream(std::string_view body, int split_seed) {
  Outcome out;
  DecodeStats stats;
  ChunkedStreamDecoder dec(Queries(), Collector(&out), kMaxFrameBytes, &stats);
  Status st;
  if (split_seed < 0) {
    st = dec.Feed(body);
  } else {
    // Piece sizes from a small LCG, so the fuzzer explores splits by mutating one byte.
    uint32_t r = static_cast<uint32_t>(split_seed) * 2654435761u + 1;
    const size_t max_piece = static_cast<size_t>(split_seed) + 1;
    size_t pos = 0;
    while (st.ok() && pos < body.size()) {
      r = r * 1664525u + 1013904223u;
      size_t n = 1 + (r >> 8) % max_piece;
      if (n > body.size() - pos) {
        n = body.size() - pos;
      }
      st = dec.Feed(body.substr(pos, n));
      pos += n;
    }
    // An empty piece is legal and must change nothing.
    if (st.ok()) {
      st = dec.Feed(std::string_view());
    }
  }
  if (st.ok()) {
    st = dec.Finish();
  } else {
    Check(dec.Finish().code() == st.code(), "errors are sticky");
  }
  Finish(st, stats, &out);
  Check(dec.series_emitted() == out.series, "series_emitted counts the callbacks");
  return out;
}

void FuzzStream(std::string_view body, int split_seed) {
  const Outcome whole = DecodeStream(body, -1);
  const Outcome split = DecodeStream(body, split_seed);
  if (!(whole == split)) {
    std::fprintf(stderr,
                 "whole: %llu series, %llu samples, %d %s\nsplit: %llu series, %llu "
                 "samples, %d %s\n",
                 static_cast<unsigned long long>(whole.series),
                 static_cast<unsigned long long>(whole.samples), static_cast<int>(whole.code),
                 whole.message.c_str(), static_cast<unsigned long long>(split.series),
                 static_cast<unsigned long long>(split.samples), static_cast<int>(split.code),
                 split.message.c_str());
    Check(false, "feeding in pieces decodes exactly as feeding whole");
  }
}

// Frames each length-prefixed message of body as Prometheus does, with a correct CRC.
std::string FrameMessages(std::string_view body) {
  std::string out;
  while (!body.empty()) {
    size_t len = static_cast<uint8_t>(body[0]) << 8;
    if (body.size() > 1) {
      len |= static_cast<uint8_t>(body[1]);
    }
    body.remove_prefix(body.size() > 1 ? 2 : 1);
    if (len > body.size()) {
      len = body.size();
    }
    const std::string_view message = body.substr(0, len);
    body.remove_prefix(len);
    uint64_t v = len;
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
    const uint32_t crc = Crc32c(message.data(), message.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((crc >> shift) & 0xff));
    }
    out.append(message);
  }
  return out;
}

void FuzzSamples(std::string_view body) {
  Outcome out;
  DecodeStats stats;
  Status st = DecodeSamplesResponse(body, Queries(), kMaxDecodedBytes, Collector(&out), &stats);
  Finish(st, stats, &out);
}

void FuzzXorChunk(std::string_view chunk) {
  XorChunkIterator it(chunk);
  std::vector<int64_t> ts;
  std::vector<uint64_t> bits;
  uint64_t sum = 0;
  while (it.Next()) {
    ts.push_back(it.timestamp());
    bits.push_back(it.value_bits());
    sum += static_cast<uint64_t>(it.timestamp()) ^ it.value_bits();
  }
  Check(ts.size() <= it.num_samples(), "no more samples than the header announces");
  Check(it.Next() == false, "Next stays false at the end");
  if (it.status().ok()) {
    Check(ts.size() == it.num_samples(), "a clean end has every announced sample");
  } else {
    Check(it.status().code() == StatusCode::kDataLoss, "corrupt chunks are DataLoss");
    Check(it.status().message().find("XOR chunk") != std::string::npos,
          "errors say they are about an XOR chunk");
  }

  std::vector<int64_t> ts2;
  std::vector<double> vs2;
  Status st = DecodeXorChunk(chunk, &ts2, &vs2);
  Check(st.code() == it.status().code() && st.message() == it.status().message(),
        "DecodeXorChunk fails as the iterator does");
  Check(ts2 == ts, "DecodeXorChunk timestamps match the iterator's");
  Check(vs2.size() == bits.size(), "DecodeXorChunk value count matches the iterator's");
  uint64_t sum2 = 0;
  for (size_t i = 0; i < vs2.size(); ++i) {
    sum2 += static_cast<uint64_t>(ts2[i]) ^ std::bit_cast<uint64_t>(vs2[i]);
  }
  Check(sum2 == sum, "DecodeXorChunk keeps value bits");
}

}  // namespace
}  // namespace foresight::remote_read

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace foresight::remote_read;
  if (size < 1) {
    return 0;
  }
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
      FuzzStream(body, data[0] / 4);
      break;
    case 1:
      FuzzSamples(body);
      break;
    case 2:
      FuzzXorChunk(body);
      break;
    default:
      FuzzStream(FrameMessages(body), data[0] / 4);
      break;
  }
  return 0;
}
