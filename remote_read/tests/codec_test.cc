#include "foresight/remote_read/codec.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <bit>
#include <cmath>
#include <limits>

#include "frames.h"

namespace foresight::remote_read {
namespace {

using testing::ChunkedReadResponseMessage;
using testing::Frame;
using testing::MakeXorChunk;
using testing::SamplesBody;
using testing::TestChunk;
using testing::TestChunkedSeries;

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

Query Q(int64_t start, int64_t end) {
  return Query{start, end, {{MatchType::kEqual, "__name__", "up"}}, std::nullopt};
}

Labels L(const std::string& name, const std::string& job) {
  return {{"__name__", name}, {"job", job}};
}

// Collects what a decoder hands out.
struct Sink {
  std::vector<Series> series;
  SeriesCallback cb() {
    return [this](Series&& s) {
      series.push_back(std::move(s));
      return Status::Ok();
    };
  }
};

// ---------------------------------------------------------------------------------------------
// Request encoding

TEST(RequestTest, GoldenBytes) {
  // ReadRequest{queries: [{start 1000, end 2000, matchers [EQ __name__="up"]}],
  //             accepted_response_types: [STREAMED_XOR_CHUNKS, SAMPLES]}, worked out by hand:
  //   0a 16             field 1 (queries), 22 bytes
  //     08 e8 07        start_timestamp_ms = 1000
  //     10 d0 0f        end_timestamp_ms = 2000
  //     1a 0e           field 3 (matchers), 14 bytes: type EQ is the default and not written
  //       12 08 "__name__"   1a 02 "up"
  //   12 02 01 00       field 2, packed enums: STREAMED_XOR_CHUNKS, SAMPLES
  std::vector<Query> qs = {Q(1000, 2000)};
  std::vector<ResponseType> accepted = {ResponseType::kStreamedXorChunks, ResponseType::kSamples};
  auto raw = SerializeReadRequest(qs, accepted);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(Hex(*raw),
            "0a16"
            "08e807"
            "10d00f"
            "1a0e"
            "12085f5f6e616d655f5f"
            "1a027570"
            "12020100");
  auto compressed = EncodeReadRequest(qs, accepted);
  ASSERT_TRUE(compressed.ok());
  std::string back;
  ASSERT_TRUE(snappy::Uncompress(compressed->data(), compressed->size(), &back));
  EXPECT_EQ(back, *raw);
}

TEST(RequestTest, GoldenBytesEveryMatcherTypeAndHints) {
  Query q{-5, 7,
          {{MatchType::kNotEqual, "a", "b"},
           {MatchType::kRegexMatch, "c", "d"},
           {MatchType::kRegexNoMatch, "e", ""}},
          ReadHints{15000, "rate", 0, 0, {}, false, 300000}};
  std::vector<Query> qs = {q};
  std::vector<ResponseType> accepted = {ResponseType::kSamples};
  auto raw = SerializeReadRequest(qs, accepted);
  ASSERT_TRUE(raw.ok());
  // start -5 is a 10-byte two's-complement varint (int64, not zig-zag); the NRE matcher's
  // empty value and the hints' zero fields are not written.
  EXPECT_EQ(Hex(*raw),
            "0a37"
            "08fbffffffffffffffff01"    // start_timestamp_ms = -5
            "1007"                      // end_timestamp_ms = 7
            "1a08" "0801" "120161" "1a0162"  // NEQ a="b"
            "1a08" "0802" "120163" "1a0164"  // RE c=~"d"
            "1a05" "0803" "120165"           // NRE e!~""
            "220d" "089875" "120472617465" "38e0a712"  // hints: step 15000, func rate, range 300000
            "120100");                  // accepted: SAMPLES
}

TEST(RequestTest, Errors) {
  std::vector<ResponseType> accepted = {ResponseType::kSamples};
  EXPECT_EQ(SerializeReadRequest({}, accepted).status().message(),
            "a read request needs at least one query");
  std::vector<Query> no_matchers = {Query{0, 1, {}, std::nullopt}};
  EXPECT_EQ(SerializeReadRequest(no_matchers, accepted).status().message(),
            "query 0 has no matchers");
  std::vector<Query> backwards = {Q(0, 1), Q(5, 4)};
  EXPECT_EQ(SerializeReadRequest(backwards, accepted).status().message(),
            "query 1: start 5 ms is after end 4 ms");
}

// ---------------------------------------------------------------------------------------------
// STREAMED_XOR_CHUNKS

std::string TwoSeriesStream() {
  std::string body;
  body += Frame(ChunkedReadResponseMessage(
      0, {{L("up", "a"), {MakeXorChunk({1000, 2000, 3000}, {1, 2, 3})}}}));
  body += Frame(ChunkedReadResponseMessage(
      0, {{L("up", "b"), {MakeXorChunk({1000, 2000}, {5, 6})}}}));
  return body;
}

TEST(StreamDecoderTest, DecodesSeriesInOrderAtEverySplit) {
  const std::string body = TwoSeriesStream();
  for (size_t step = 1; step <= body.size(); ++step) {
    Sink sink;
    DecodeStats stats;
    ChunkedStreamDecoder d({Q(0, 10000)}, sink.cb(), kDefaultMaxFrameBytes, &stats);
    for (size_t i = 0; i < body.size(); i += step) {
      ASSERT_TRUE(d.Feed(std::string_view(body).substr(i, step)).ok()) << step;
    }
    ASSERT_TRUE(d.Finish().ok());
    ASSERT_EQ(sink.series.size(), 2u) << step;
    EXPECT_EQ(sink.series[0].labels, L("up", "a"));
    EXPECT_EQ(sink.series[0].timestamps_ms, (std::vector<int64_t>{1000, 2000, 3000}));
    EXPECT_EQ(sink.series[0].values, (std::vector<double>{1, 2, 3}));
    EXPECT_EQ(sink.series[1].labels, L("up", "b"));
    EXPECT_EQ(stats.frames, 2u);
    EXPECT_EQ(stats.series, 2u);
    EXPECT_EQ(stats.samples, 5u);
    EXPECT_EQ(stats.bytes, body.size());
  }
}

TEST(StreamDecoderTest, HandsOutASeriesOnlyWhenTheNextOneStarts) {
  const std::string body = TwoSeriesStream();
  Sink sink;
  ChunkedStreamDecoder d({Q(0, 10000)}, sink.cb());
  ASSERT_TRUE(d.Feed(body).ok());
  // Series b may still continue in a later frame.
  EXPECT_EQ(sink.series.size(), 1u);
  ASSERT_TRUE(d.Finish().ok());
  EXPECT_EQ(sink.series.size(), 2u);
}

TEST(StreamDecoderTest, MergesASeriesSpreadOverFrames) {
  std::string body;
  body += Frame(ChunkedReadResponseMessage(0, {{L("up", "a"), {MakeXorChunk({1, 2}, {1, 2})}}}));
  body += Frame(ChunkedReadResponseMessage(0, {{L("up", "a"), {MakeXorChunk({3, 4}, {3, 4})}}}));
  body += Frame(ChunkedReadResponseMessage(0, {{L("up", "a"), {MakeXorChunk({5}, {5})}}}));
  // The same labels under another query are another series.
  body += Frame(ChunkedReadResponseMessage(1, {{L("up", "a"), {MakeXorChunk({6}, {6})}}}));
  Sink sink;
  ChunkedStreamDecoder d({Q(0, 100), Q(0, 100)}, sink.cb());
  ASSERT_TRUE(d.Feed(body).ok());
  ASSERT_TRUE(d.Finish().ok());
  ASSERT_EQ(sink.series.size(), 2u);
  EXPECT_EQ(sink.series[0].query_index, 0u);
  EXPECT_EQ(sink.series[0].timestamps_ms, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(sink.series[1].query_index, 1u);
  EXPECT_EQ(sink.series[1].timestamps_ms, (std::vector<int64_t>{6}));
}

TEST(StreamDecoderTest, OverlappingChunksAreMergedAndDeduplicated) {
  // Chunks may overlap (e.g. from overlapping blocks); a repeated timestamp keeps the sample of
  // the chunk that came first.
  std::string body = Frame(ChunkedReadResponseMessage(
      0, {{L("up", "a"),
           {MakeXorChunk({10, 20, 30, 40}, {1, 2, 3, 4}), MakeXorChunk({25, 30, 35}, {9, 9, 9})}}}));
  Sink sink;
  DecodeStats stats;
  ChunkedStreamDecoder d({Q(0, 100)}, sink.cb(), kDefaultMaxFrameBytes, &stats);
  ASSERT_TRUE(d.Feed(body).ok());
  ASSERT_TRUE(d.Finish().ok());
  ASSERT_EQ(sink.series.size(), 1u);
  EXPECT_EQ(sink.series[0].timestamps_ms, (std::vector<int64_t>{10, 20, 25, 30, 35, 40}));
  EXPECT_EQ(sink.series[0].values, (std::vector<double>{1, 2, 9, 3, 9, 4}));
  EXPECT_EQ(stats.samples_duplicate, 1u);
}

TEST(StreamDecoderTest, FiltersSamplesOutsideTheQueryRange) {
  std::string body = Frame(ChunkedReadResponseMessage(
      0, {{L("up", "a"),
           {MakeXorChunk({1, 2, 3}, {1, 2, 3}),            // wholly before: not decoded
            MakeXorChunk({10, 20, 30, 40}, {1, 2, 3, 4}),  // partly inside
            MakeXorChunk({100, 200}, {1, 2})}}}));         // wholly after
  Sink sink;
  DecodeStats stats;
  ChunkedStreamDecoder d({Q(20, 30)}, sink.cb(), kDefaultMaxFrameBytes, &stats);
  ASSERT_TRUE(d.Feed(body).ok());
  ASSERT_TRUE(d.Finish().ok());
  ASSERT_EQ(sink.series.size(), 1u);
  // Both ends are inclusive.
  EXPECT_EQ(sink.series[0].timestamps_ms, (std::vector<int64_t>{20, 30}));
  EXPECT_EQ(stats.samples_out_of_range, 7u);
}

TEST(StreamDecoderTest, SkipsAndCountsNonXorChunks) {
  TestChunk hist{0, 10, 2, "\x01\x02\x03"};
  TestChunk fhist{0, 10, 3, "\x01"};
  TestChunk future{0, 10, 9, "\xff\xff"};
  std::string body = Frame(ChunkedReadResponseMessage(
      0, {{L("up", "a"), {hist, MakeXorChunk({5}, {1}), fhist, future}}}));
  Sink sink;
  DecodeStats stats;
  ChunkedStreamDecoder d({Q(0, 100)}, sink.cb(), kDefaultMaxFrameBytes, &stats);
  ASSERT_TRUE(d.Feed(body).ok());
  ASSERT_TRUE(d.Finish().ok());
  ASSERT_EQ(sink.series.size(), 1u);
  EXPECT_EQ(sink.series[0].timestamps_ms, (std::vector<int64_t>{5}));
  EXPECT_EQ(stats.skipped_histogram_chunks, 2u);
  EXPECT_EQ(stats.skipped_unknown_chunks, 1u);
}

TEST(StreamDecoderTest, KeepsStaleMarkerBits) {
  const double stale = std::bit_cast<double>(kStaleNaNBits);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::string body = Frame(ChunkedReadResponseMessage(
      0, {{L("up", "a"), {MakeXorChunk({1, 2, 3, 4}, {1, stale, nan, 2})}}}));
  Sink sink;
  ChunkedStreamDecoder d({Q(0, 100)}, sink.cb());
  ASSERT_TRUE(d.Feed(body).ok());
  ASSERT_TRUE(d.Finish().ok());
  ASSERT_EQ(sink.series.size(), 1u);
  EXPECT_TRUE(IsStaleMarker(sink.series[0].values[1]));
  EXPECT_TRUE(std::isnan(sink.series[0].values[2]));
  EXPECT_FALSE(IsStaleMarker(sink.series[0].values[2]));
}

TEST(StreamDecoderTest, EmptyStreamIsNoSeries) {
  Sink sink;
  ChunkedStreamDecoder d({Q(0, 100)}, sink.cb());
  ASSERT_TRUE(d.Feed("").ok());
  ASSERT_TRUE(d.Finish().ok());
  EXPECT_TRUE(sink.series.empty());
}

Status FeedAll(const std::string& body, std::vector<Query> queries = {Q(0, 100)},
               size_t max_frame = kDefaultMaxFrameBytes) {
  Sink sink;
  ChunkedStreamDecoder d(std::move(queries), sink.cb(), max_frame);
  FORESIGHT_RETURN_IF_ERROR(d.Feed(body));
  return d.Finish();
}

TEST(StreamDecoderTest, CrcMismatchNamesTheFrame) {
  std::string body = TwoSeriesStream();
  std::string second = Frame(ChunkedReadResponseMessage(0, {{L("up", "b"), {MakeXorChunk({1000, 2000}, {5, 6})}}}));
  size_t second_at = body.size() - second.size();
  body[body.size() - 1] ^= 0x01;  // flip a bit in the second frame's message
  Status st = FeedAll(body, {Q(0, 10000)});
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("frame 1 at byte offset " + std::to_string(second_at) +
                              ": CRC-32C mismatch"),
            std::string::npos)
      << st.message();
}

TEST(StreamDecoderTest, TruncatedFrameAtEveryLength) {
  const std::string body = TwoSeriesStream();
  const std::string first = Frame(ChunkedReadResponseMessage(
      0, {{L("up", "a"), {MakeXorChunk({1000, 2000, 3000}, {1, 2, 3})}}}));
  for (size_t n = 1; n < body.size(); ++n) {
    if (n == first.size()) continue;  // a clean frame boundary is a valid (shorter) stream
    Status st = FeedAll(body.substr(0, n), {Q(0, 10000)});
    ASSERT_EQ(st.code(), StatusCode::kDataLoss) << n;
    EXPECT_NE(st.message().find("truncated frame " + std::string(n < first.size() ? "0" : "1")),
              std::string::npos)
        << st.message();
  }
}

TEST(StreamDecoderTest, FrameOverTheLimit) {
  std::string body = TwoSeriesStream();
  Status st = FeedAll(body, {Q(0, 10000)}, 10);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("frame 0 at byte offset 0: size"), std::string::npos);
  EXPECT_NE(st.message().find("exceeds the frame limit of 10 bytes"), std::string::npos);
  // The limit is checked from the length alone, before the frame's bytes arrive.
  Sink sink;
  ChunkedStreamDecoder d({Q(0, 100)}, sink.cb(), 1000);
  EXPECT_EQ(d.Feed("\xe9\x07").code(), StatusCode::kResourceExhausted);  // 1001
}

TEST(StreamDecoderTest, LengthVarintOverflow) {
  std::string body(10, '\xff');
  body.push_back('\x01');
  Status st = FeedAll(body);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("length varint overflows"), std::string::npos);
}

TEST(StreamDecoderTest, BadProtobuf) {
  Status st = FeedAll(Frame("\xff\xff\xff"));
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("frame 0 at byte offset 0: bad protobuf ChunkedReadResponse (3 bytes)"),
            std::string::npos)
      << st.message();
}

TEST(StreamDecoderTest, QueryIndexOutOfRange) {
  Status st = FeedAll(Frame(ChunkedReadResponseMessage(3, {{L("up", "a"), {}}})));
  EXPECT_EQ(st.message(), "frame 0: query_index 3 is out of range for a request of 1 queries");
  st = FeedAll(Frame(ChunkedReadResponseMessage(-1, {{L("up", "a"), {}}})));
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
}

TEST(StreamDecoderTest, BadXorChunkNamesFrameSeriesAndChunk) {
  TestChunk broken = MakeXorChunk({1, 2, 3}, {1, 2, 3});
  broken.data.resize(broken.data.size() - 2);
  Status st = FeedAll(Frame(ChunkedReadResponseMessage(
      0, {{L("up", "a"), {MakeXorChunk({0}, {0}), broken}}})));
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_EQ(st.message().rfind("frame 0, series up{job=\"a\"}, chunk 1: XOR chunk:", 0), 0u)
      << st.message();
}

TEST(StreamDecoderTest, CallbackErrorStopsAndSticks) {
  const std::string body = TwoSeriesStream() + TwoSeriesStream();
  int calls = 0;
  ChunkedStreamDecoder d({Q(0, 10000)}, [&](Series&&) {
    ++calls;
    return Aborted("enough");
  });
  Status st = d.Feed(body);
  EXPECT_EQ(st.code(), StatusCode::kAborted);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(d.Feed("x").message(), "enough");
  EXPECT_EQ(d.Finish().message(), "enough");
}

// ---------------------------------------------------------------------------------------------
// SAMPLES

TEST(SamplesDecoderTest, DecodesFiltersAndSorts) {
  Series a{0, L("up", "a"), {1, 2, 3}, {1, 2, 3}};
  Series b{0, L("up", "b"), {30, 10, 20, 10}, {3, 1, 2, 9}};  // unordered, one repeat
  Series c{1, L("x", "c"), {1}, {std::bit_cast<double>(kStaleNaNBits)}};
  std::string body = SamplesBody({{a, b}, {c}});
  Sink sink;
  DecodeStats stats;
  std::vector<Query> qs = {Q(2, 30), Q(0, 10)};
  ASSERT_TRUE(DecodeSamplesResponse(body, qs, 1 << 20, sink.cb(), &stats).ok());
  ASSERT_EQ(sink.series.size(), 3u);
  EXPECT_EQ(sink.series[0].timestamps_ms, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(sink.series[1].timestamps_ms, (std::vector<int64_t>{10, 20, 30}));
  EXPECT_EQ(sink.series[1].values, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(sink.series[2].query_index, 1u);
  EXPECT_TRUE(IsStaleMarker(sink.series[2].values[0]));
  EXPECT_EQ(stats.samples_out_of_range, 1u);
  EXPECT_EQ(stats.samples_duplicate, 1u);
  EXPECT_EQ(stats.series, 3u);
}

TEST(SamplesDecoderTest, Errors) {
  Sink sink;
  std::vector<Query> one = {Q(0, 10)};
  Status st = DecodeSamplesResponse("", one, 1 << 20, sink.cb());
  EXPECT_EQ(st.message(),
            "bad snappy block in the SAMPLES response: cannot read its length header (0 bytes)");
  std::string body = SamplesBody({{Series{0, L("up", "a"), {1}, {1}}}});
  st = DecodeSamplesResponse(body, one, 4, sink.cb());
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("over the limit of 4 bytes"), std::string::npos);
  std::string corrupt = body;
  corrupt[corrupt.size() / 2] ^= 0x5a;
  corrupt.resize(corrupt.size() - 1);
  EXPECT_EQ(DecodeSamplesResponse(corrupt, one, 1 << 20, sink.cb()).code(), StatusCode::kDataLoss);
  std::string junk;
  snappy::Compress("\xff\xff\xff", 3, &junk);
  EXPECT_EQ(DecodeSamplesResponse(junk, one, 1 << 20, sink.cb()).message(),
            "bad protobuf ReadResponse in the SAMPLES response (3 bytes after snappy)");
  std::vector<Query> two = {Q(0, 10), Q(0, 10)};
  EXPECT_EQ(DecodeSamplesResponse(body, two, 1 << 20, sink.cb()).message(),
            "SAMPLES response has 1 results for a request of 2 queries");
}

}  // namespace
}  // namespace foresight::remote_read
