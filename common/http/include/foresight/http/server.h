#pragma once

// A small HTTP(S) server for our daemons (foresight_exporter, foresight_webhook): one handler
// function sees every request and routes it itself. The server's threads call the handler
// concurrently, so it must be thread-safe.
//
// Two backends serve behind this one interface: plain HTTP on civetweb, HTTPS on GNU
// libmicrohttpd with GnuTLS. Debian 12's civetweb 1.15 has no working TLS: it loads OpenSSL at
// run time by OpenSSL 1.1 names that OpenSSL 3 no longer exports, and crashes through a NULL
// function pointer where it does not check. Handlers and clients see the same behaviour from
// both (the tests run one suite over both), except that:
//   - "[v6]:port" works over HTTPS only: Debian's civetweb is built without IPv6.
//   - HTTPS rounds request_timeout up to whole seconds.
//   - Over HTTPS, a chunked body that runs more than 256 KiB past max_body_bytes is cut off
//     without its 413, and a request line that is no request line is closed without an answer.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foresight/common/status.h"

namespace foresight::http {

struct Request {
  std::string method;        // "GET", "POST", ...
  std::string path;          // decoded path without the query string, e.g. "/api/v1/forecasts"
  std::string query_string;  // raw, without '?'; "" when absent
  // Header names lower-cased; a header sent twice keeps the last value.
  std::map<std::string, std::string> headers;
  std::string body;
  std::string remote_addr;  // client IP

  // A header by its lower-case name; "" when absent.
  std::string Header(std::string_view lower_name) const;
  // The first value of a query parameter, URL-decoded (+ is a space); nullopt when absent.
  std::optional<std::string> Query(std::string_view name) const;
  // Every value of a repeated query parameter (?job=a&job=b), URL-decoded, in order.
  std::vector<std::string> QueryAll(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;

  static Response Text(int status, std::string body);
  static Response Json(int status, std::string body);  // application/json
  static Response Html(int status, std::string body);  // text/html; charset=utf-8
};

using Handler = std::function<Response(const Request&)>;

// Percent-encodes everything but RFC 3986's unreserved characters (A-Z a-z 0-9 - _ . ~), for a
// query parameter value or a path segment; Request::Query decodes it back.
std::string UrlEncode(std::string_view s);

struct ServerOptions {
  // "host:port" or "[v6]:port"; ":port" listens on every interface; port 0 picks a free port
  // (port() tells which).
  std::string listen_address = "127.0.0.1:0";
  int threads = 4;
  // Bodies larger than this are answered 413 without calling the handler.
  size_t max_body_bytes = 1 << 20;
  // Both or neither: serve HTTPS with this certificate chain (PEM) and key.
  std::string tls_cert_file;
  std::string tls_key_file;
  // A connection idle or stuck this long is closed. (HTTPS rounds it up to whole seconds.)
  std::chrono::milliseconds request_timeout{30000};
  // Called with the status whenever the server answers a request itself instead of calling the
  // handler: 413 for a body over max_body_bytes, 400 (or 411, 431, ...) for a request it cannot
  // parse, 503 for one that arrives while the server is being destroyed. Called on a server
  // thread, possibly several at once (and, for what libmicrohttpd answers itself, just after
  // the answer is written), so it must be thread-safe; what it throws is ignored.
  std::function<void(int status)> on_refused;
};

class Server {
 public:
  // Binds and starts serving. Errors (address in use, bad address, unreadable certificate)
  // name the address or the file.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);
  // Stops accepting, waits for requests in flight, and returns.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;                   // the bound port (the chosen one when asked for 0)
  std::string url() const;            // "http://127.0.0.1:PORT" (https with TLS), for tests/logs

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace foresight::http
