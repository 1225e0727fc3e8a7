// XOR chunk decoding throughput, in samples per second on one core.
//
// Each benchmark decodes a fixed set of 120-sample chunks (Prometheus cuts a chunk at about 120
// samples) built by the Prometheus-compatible test encoder from a seeded generator. Many
// different chunks per iteration keep the branch predictor from learning one chunk by heart.

#include <benchmark/benchmark.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "foresight/remote_read/xor_chunk.h"
#include "xor_encoder.h"

namespace foresight::remote_read {
namespace {

constexpr int kSamplesPerChunk = 120;
constexpr int kChunks = 512;
constexpr int64_t kStart = 1'700'000'000'000;
constexpr int64_t kScrapeIntervalMs = 15'000;

struct Corpus {
  std::vector<std::string> chunks;
  int64_t samples = 0;
  int64_t bytes = 0;
};

// value_at(rng, i) gives sample i's value; jitter_ms bounds the scrape timestamp jitter.
Corpus Build(uint64_t seed, int64_t jitter_ms,
             const std::function<double(std::mt19937_64&, int)>& value_at) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> jitter(-jitter_ms, jitter_ms);
  Corpus c;
  for (int k = 0; k < kChunks; ++k) {
    testing::XorChunkEncoder enc;
    int64_t t = kStart + static_cast<int64_t>(k) * kSamplesPerChunk * kScrapeIntervalMs;
    for (int i = 0; i < kSamplesPerChunk; ++i) {
      enc.Append(t + jitter(rng), value_at(rng, i));
      t += kScrapeIntervalMs;
    }
    c.chunks.push_back(enc.bytes());
    c.samples += kSamplesPerChunk;
    c.bytes += static_cast<int64_t>(c.chunks.back().size());
  }
  return c;
}

// A gauge such as memory in MB or a temperature: a random walk shown with three significant
// digits (12.3, 45.6), so the XOR windows stay narrow but change often.
const Corpus& Gauge() {
  static const Corpus c = [] {
    double v = 50.0;
    return Build(1, 3, [v](std::mt19937_64& rng, int i) mutable {
      std::normal_distribution<double> step(0.0, 0.8);
      v = std::fabs(v + step(rng));
      if (v >= 99.9) {
        v = 99.9;
      }
      return std::round(v * 10) / 10;
    });
  }();
  return c;
}

// A counter such as http_requests_total: integral, increasing by a few hundred a scrape.
const Corpus& Counter() {
  static const Corpus c = [] {
    double v = 1'234'567;
    return Build(2, 3, [v](std::mt19937_64& rng, int i) mutable {
      v += static_cast<double>(rng() % 400);
      return v;
    });
  }();
  return c;
}

// Worst realistic case: uniformly random doubles, whose XORs keep about 52 significant bits.
const Corpus& RandomDoubles() {
  static const Corpus c = Build(3, 3, [](std::mt19937_64& rng, int i) {
    std::uniform_real_distribution<double> u(-1e6, 1e6);
    return u(rng);
  });
  return c;
}

// Worst case for the format: random bit patterns (64-bit windows, any NaN) and timestamps
// jittered by up to ±5 minutes, so delta-of-deltas land in the 20- and 64-bit buckets.
const Corpus& RandomBits() {
  static const Corpus c =
      Build(4, 300'000, [](std::mt19937_64& rng, int i) { return std::bit_cast<double>(rng()); });
  return c;
}

void Report(benchmark::State& state, const Corpus& c) {
  state.SetItemsProcessed(state.iterations() * c.samples);
  state.SetBytesProcessed(state.iterations() * c.bytes);
  state.counters["bytes_per_sample"] =
      static_cast<double>(c.bytes) / static_cast<double>(c.samples);
}

// The iterator alone: every sample's timestamp and value bits are folded into a checksum.
void BM_Iterate(benchmark::State& state, const Corpus& (*corpus)()) {
  const Corpus& c = corpus();
  for (auto _ : state) {
    uint64_t sum = 0;
    for (const std::string& chunk : c.chunks) {
      XorChunkIterator it(chunk);
      while (it.Next()) {
        sum += static_cast<uint64_t>(it.timestamp()) ^ it.value_bits();
      }
      if (!it.status().ok()) {
        state.SkipWithError(it.status().message().c_str());
        return;
      }
    }
    benchmark::DoNotOptimize(sum);
  }
  Report(state, c);
}

// DecodeXorChunk into reused vectors, as the response decoders use it.
void BM_DecodeToVectors(benchmark::State& state, const Corpus& (*corpus)()) {
  const Corpus& c = corpus();
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (auto _ : state) {
    for (const std::string& chunk : c.chunks) {
      ts.clear();
      vs.clear();
      Status st = DecodeXorChunk(chunk, &ts, &vs);
      if (!st.ok()) {
        state.SkipWithError(st.message().c_str());
        return;
      }
      benchmark::DoNotOptimize(ts.data());
      benchmark::DoNotOptimize(vs.data());
    }
    benchmark::ClobberMemory();
  }
  Report(state, c);
}

BENCHMARK_CAPTURE(BM_Iterate, Gauge, &Gauge);
BENCHMARK_CAPTURE(BM_Iterate, Counter, &Counter);
BENCHMARK_CAPTURE(BM_Iterate, RandomDoubles, &RandomDoubles);
BENCHMARK_CAPTURE(BM_Iterate, RandomBits, &RandomBits);
BENCHMARK_CAPTURE(BM_DecodeToVectors, Gauge, &Gauge);
BENCHMARK_CAPTURE(BM_DecodeToVectors, Counter, &Counter);
BENCHMARK_CAPTURE(BM_DecodeToVectors, RandomDoubles, &RandomDoubles);
BENCHMARK_CAPTURE(BM_DecodeToVectors, RandomBits, &RandomBits);

}  // namespace
}  // namespace foresight::remote_read

BENCHMARK_MAIN();
