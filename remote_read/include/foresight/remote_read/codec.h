#pragma once

// The remote-read wire format without any I/O: request encoding and both response decoders.
// The client feeds these from HTTP; tests and fuzzers feed them bytes directly.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/remote_read/types.h"

namespace foresight::remote_read {

enum class ResponseType { kSamples = 0, kStreamedXorChunks = 1 };

inline constexpr std::string_view kStreamedContentType =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
inline constexpr std::string_view kSamplesContentType = "application/x-protobuf";

// Prometheus's default for --storage.remote.read-max-bytes-in-frame is 1 MB; its reader refuses
// frames over 50 MB, and so do we unless told otherwise.
inline constexpr size_t kDefaultMaxFrameBytes = 50u << 20;

// The ReadRequest protobuf, uncompressed. accepted lists response types in preference order.
Result<std::string> SerializeReadRequest(std::span<const Query> queries,
                                         std::span<const ResponseType> accepted);

// The request body as sent: SerializeReadRequest, snappy block format.
Result<std::string> EncodeReadRequest(std::span<const Query> queries,
                                      std::span<const ResponseType> accepted);

// Incremental decoder for a STREAMED_XOR_CHUNKS body. Feed it the bytes as they arrive, in any
// split; it hands each complete series to the callback as soon as the next series starts (a
// series may span frames), and the last one on Finish(). It buffers at most one frame plus one
// series, never the whole response. Not thread-safe.
class ChunkedStreamDecoder {
 public:
  ChunkedStreamDecoder(std::vector<Query> queries, SeriesCallback callback,
                       size_t max_frame_bytes = kDefaultMaxFrameBytes, DecodeStats* stats = nullptr);
  ChunkedStreamDecoder(const ChunkedStreamDecoder&) = delete;
  ChunkedStreamDecoder& operator=(const ChunkedStreamDecoder&) = delete;
  ~ChunkedStreamDecoder();

  // Consumes bytes. After an error every later call returns the same error.
  Status Feed(std::string_view bytes);
  // Declares the end of the body: flushes the last series; an unfinished frame is an error.
  Status Finish();

  // Series handed to the callback so far.
  uint64_t series_emitted() const { return series_emitted_; }

 private:
  Status ParseFrames();
  Status HandleFrame(std::string_view message);
  Status FlushPending();

  std::vector<Query> queries_;
  SeriesCallback callback_;
  size_t max_frame_bytes_;
  DecodeStats* stats_;
  DecodeStats own_stats_;

  std::string buffer_;      // bytes not yet consumed
  size_t buffer_pos_ = 0;   // start of unconsumed bytes in buffer_
  uint64_t stream_offset_ = 0;  // body offset of buffer_[buffer_pos_]
  uint64_t frame_index_ = 0;
  Status error_;
  bool finished_ = false;

  struct Pending;
  Pending* pending_ = nullptr;  // the series being assembled, owned
  uint64_t series_emitted_ = 0;
};

// Decodes a SAMPLES body (one snappy-compressed ReadResponse) and hands its series to the
// callback one by one, releasing each from the decoded message as it goes. max_decoded_bytes
// bounds the uncompressed size announced in the snappy header.
Status DecodeSamplesResponse(std::string_view body, std::span<const Query> queries,
                             size_t max_decoded_bytes, const SeriesCallback& callback,
                             DecodeStats* stats = nullptr);

}  // namespace foresight::remote_read
