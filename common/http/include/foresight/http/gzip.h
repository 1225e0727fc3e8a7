#pragma once

// gzip for response bodies. Prometheus asks every target for `Accept-Encoding: gzip`; a
// /metrics of 100,000 forecast samples is 16 MB as text and about a tenth of that gzipped.

#include <string>
#include <string_view>

#include "foresight/common/status.h"
#include "foresight/http/server.h"

namespace foresight::http {

// True when the request's Accept-Encoding lists gzip with a non-zero q-value (RFC 9110 12.5.3;
// "*" counts). Case-insensitive.
bool AcceptsGzip(const Request& request);

// The gzip member (RFC 1952) of `data`. level 1 (fastest) to 9 (smallest); 1 is the right
// choice for a scrape on a fast network: most of the size win for a fifth of the CPU of 6.
Result<std::string> Gzip(std::string_view data, int level = 1);

// Compresses response.body in place and sets Content-Encoding and Vary when the request accepts
// gzip and the body is worth it (at least 1 KiB); otherwise leaves the response alone.
void MaybeGzip(const Request& request, Response* response);

}  // namespace foresight::http
