#pragma once

// Test-only writers for remote-read responses: streamed frames (uvarint length, big-endian
// CRC-32C, ChunkedReadResponse) and snappy-compressed SAMPLES bodies.

#include <cstdint>
#include <string>
#include <vector>

#include "foresight/remote_read/types.h"

namespace foresight::remote_read::testing {

struct TestChunk {
  int64_t min_time_ms = 0;
  int64_t max_time_ms = 0;
  int encoding = 1;  // 1 XOR, 2 HISTOGRAM, 3 FLOAT_HISTOGRAM, others unknown
  std::string data;
};

struct TestChunkedSeries {
  Labels labels;
  std::vector<TestChunk> chunks;
};

// A chunk from samples, min/max time taken from them.
TestChunk MakeXorChunk(const std::vector<int64_t>& timestamps, const std::vector<double>& values);

// The serialized ChunkedReadResponse message (no framing).
std::string ChunkedReadResponseMessage(int64_t query_index,
                                       const std::vector<TestChunkedSeries>& series);

// One frame: uvarint(len(message)), big-endian CRC-32C(message), message.
std::string Frame(const std::string& message);

// A SAMPLES body: one ReadResponse, snappy-compressed. results[q] lists the series of query q.
std::string SamplesBody(const std::vector<std::vector<Series>>& results);

}  // namespace foresight::remote_read::testing
