#pragma once

// A Prometheus remote-read client: encodes queries, asks for STREAMED_XOR_CHUNKS and falls back
// to SAMPLES, decodes either as it streams in, and hands series to the caller one by one.
// Works against Prometheus, Mimir, Cortex, Thanos, promxy and M3.

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "foresight/common/clock.h"
#include "foresight/common/status.h"
#include "foresight/remote_read/codec.h"
#include "foresight/remote_read/http.h"
#include "foresight/remote_read/types.h"

namespace foresight::remote_read {

struct BasicAuth {
  std::string username;
  std::string password;       // or
  std::string password_file;  // read at every request, so rotation needs no restart
};

struct RetryOptions {
  int max_attempts = 3;  // 1 disables retries
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{5000};
  double multiplier = 2.0;
  double jitter = 0.2;  // each wait is scaled by a uniform factor in [1 - jitter, 1 + jitter]
};

enum class ResponsePreference {
  kStreamedThenSamples,  // the default: STREAMED_XOR_CHUNKS, SAMPLES where that is all there is
  kSamplesOnly,
  kStreamedOnly,
};

struct ClientOptions {
  std::string url;  // e.g. http://127.0.0.1:9090/api/v1/read
  std::optional<BasicAuth> basic_auth;
  std::string bearer_token;       // or
  std::string bearer_token_file;  // read at every request
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. X-Scope-OrgID for Mimir
  CurlOptions http;
  RetryOptions retry;
  ResponsePreference response = ResponsePreference::kStreamedThenSamples;
  size_t max_frame_bytes = kDefaultMaxFrameBytes;
  uint64_t max_total_bytes = 4ULL << 30;  // per read, compressed body bytes; 0 means no limit
};

struct ReadStats {
  DecodeStats decode;
  ResponseType response_type = ResponseType::kStreamedXorChunks;
  int attempts = 0;
  std::chrono::nanoseconds duration{0};
};

// Thread-compatible: one Read at a time per client (give each worker its own client).
class Client {
 public:
  // The transport defaults to libcurl with options.http. clock and seed drive retry backoff.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options,
                                                std::unique_ptr<HttpTransport> transport = nullptr,
                                                Clock* clock = nullptr, uint64_t seed = 0);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Runs the queries and hands every series to callback. Retries connection errors and 5xx
  // answers with exponential backoff and jitter, but only while no series has reached the
  // caller (a retry must not hand a series twice); 4xx answers are never retried.
  Status Read(std::span<const Query> queries, const SeriesCallback& callback,
              ReadStats* stats = nullptr);

  const ClientOptions& options() const { return options_; }

 private:
  Client(ClientOptions options, std::unique_ptr<HttpTransport> transport, Clock* clock,
         uint64_t seed);
  Result<HttpRequest> BuildRequest(std::span<const Query> queries);
  std::chrono::nanoseconds Backoff(int attempt);

  ClientOptions options_;
  std::unique_ptr<HttpTransport> transport_;
  Clock* clock_;
  std::mt19937_64 rng_;
};

}  // namespace foresight::remote_read
