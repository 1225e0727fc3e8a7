#pragma once

// The HTTP seam: the client speaks to an HttpTransport, libcurl in production and a scripted
// fake in unit tests.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foresight/common/status.h"

namespace foresight::remote_read {

struct HttpRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Receives a response as it streams in. Returning an error from a callback aborts the transfer,
// and Post returns that error.
class HttpResponseHandler {
 public:
  virtual ~HttpResponseHandler() = default;
  // Once, before any body bytes: the status code and the Content-Type header ("" if absent).
  virtual Status OnHeaders(int status_code, std::string_view content_type) = 0;
  virtual Status OnBody(std::string_view bytes) = 0;
};

enum class TransportError {
  kNone,
  kConnect,   // could not resolve, connect or complete TLS: nothing reached the server
  kTimeout,   // connect or total timeout
  kTransfer,  // the connection broke mid-response
  kHandler,   // the handler returned an error (its status is returned as is)
  kOther,
};

struct TransportStatus {
  TransportError error = TransportError::kNone;
  Status status;  // ok when error == kNone
};

struct TlsOptions {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;  // overrides the name checked against the server certificate
  bool insecure_skip_verify = false;
};

struct CurlOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{120000};  // the whole request, body included
  TlsOptions tls;
  std::string proxy_url;  // empty: libcurl's usual *_proxy environment variables apply
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends a POST and streams the response to handler. Thread-compatible: one call at a time
  // per transport.
  virtual TransportStatus Post(const HttpRequest& request, HttpResponseHandler& handler) = 0;
};

// libcurl-backed transport. Fails if the TLS files named in options cannot be read.
Result<std::unique_ptr<HttpTransport>> NewCurlTransport(const CurlOptions& options);

}  // namespace foresight::remote_read
