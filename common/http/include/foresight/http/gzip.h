#pragma once

// gzip for response bodies. Prometheus asks every target for `Accept-Encoding: gzip`; a
// /metrics of 100,000 forecast samples is 16 MB as text and about a tenth of that gzipped.

#include <string>
#include <string_view>
#include <vector>
#include <cstdint>

#include "foresight/common/status.h"
#include "foresight/http/server.h"

namespace foresight::http {

// True when the request's Accept-Encoding lists gzip with a non-zero q-value (RFC 9110 12.5.3;
// "*" counts). Case-insensitive.
bool AcceptsGzip(const Request& request);

// The gzip member (RFC 1952) of `data`. level 1 (fastest) to 9 (smallest); 1 is the right
// choice for a scrape on a fast network: most of the size win for a fifth of the CPU of 6.
Result<std::string> Gzip(std::string_view data, int level = 1);

// A piece of a gzip stream compressed on its own, so that a constant piece (the published
// forecasts) is compressed once and joined with fresh pieces (the self-metrics) per request:
// raw deflate ending in a sync flush (byte-aligned, not final), with the CRC-32 and length of
// its input. Joining is what pigz does; the result is one ordinary gzip member that every
// client reads (curl does not read a stream of several members).
struct DeflatedPart {
  std::string data;
  uint32_t crc = 0;    // CRC-32 of the uncompressed input
  uint64_t size = 0;   // uncompressed bytes
};
Result<DeflatedPart> DeflatePart(std::string_view data, int level = 1);
// One gzip member holding the parts' inputs in order.
std::string GzipJoin(const std::vector<const DeflatedPart*>& parts);

// Compresses response.body in place and sets Content-Encoding and Vary when the request accepts
// gzip and the body is worth it (at least 1 KiB); otherwise leaves the response alone.
void MaybeGzip(const Request& request, Response* response);

}  // namespace foresight::http
