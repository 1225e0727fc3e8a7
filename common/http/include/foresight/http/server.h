#pragma once

// A small HTTP(S) server on civetweb for our daemons (foresight_exporter, foresight_webhook):
// one handler function sees every request and routes it itself. civetweb's worker threads call
// the handler concurrently, so it must be thread-safe.

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
  // A connection idle or stuck this long is closed.
  std::chrono::milliseconds request_timeout{30000};
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
