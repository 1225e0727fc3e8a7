#pragma once

// Private to foresight_http: what server.cc shares with the two backends behind Server,
// civetweb (plain HTTP) and libmicrohttpd (HTTPS). See server.h for why there are two.

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "foresight/common/status.h"
#include "foresight/http/server.h"

namespace foresight::http::internal {

struct ListenSpec {
  std::string host;  // "" for every interface; IPv6 without brackets
  int port = 0;
  bool ipv6 = false;
};

// A certificate chain and its key, both read and seen to be PEM.
struct TlsPem {
  std::string cert;
  std::string key;
};

// A running server. Destroying it does what ~Server promises: stop accepting, let requests in
// flight finish, join the threads.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual int port() const = 0;
};

// Plain HTTP. Errors name listen.address as the caller gave it (options.listen_address).
Result<std::unique_ptr<Backend>> StartCivetweb(const ServerOptions& options, Handler handler,
                                               const ListenSpec& listen);
// HTTPS with the given certificate and key.
Result<std::unique_ptr<Backend>> StartMhd(const ServerOptions& options, Handler handler,
                                          const ListenSpec& listen, const TlsPem& tls);

// Counts the requests a stop has to wait for: admitted ones until their answer is written.
// Thread-safe.
class RequestGate {
 public:
  // False once Close has begun: the request is to be answered 503 and is not waited for.
  bool Enter();
  void Leave();
  // Refuses new requests and waits until the admitted ones have left.
  void CloseAndWait();

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  int in_flight_ = 0;    // guarded by mu_
  bool closed_ = false;  // guarded by mu_
};

// After refusing a body the server reads and drops up to this much of it before closing, as
// Go's net/http does: closing with unread bytes makes the kernel reset the connection, and a
// client still writing (curl 7.88) then reports a broken pipe instead of the answer.
inline constexpr size_t kDrainBytes = 256 * 1024;

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle);

// Request::path for a request target (origin-form "/a%20b?x", or absolute-form): percent-decoded,
// without the query, with "." and ".." segments resolved and repeated slashes merged, as
// civetweb does it. nullopt for a target that is no path ("*", "a/b") or holds an encoded NUL.
std::optional<std::string> RequestPath(std::string_view target);

// The handler's answer. A throw, or a response that HTTP cannot carry (a bad status, a header
// name that is no token, CR or LF in a value), becomes a 500 rather than reach the wire.
Response CallHandler(const Handler& handler, const Request& req);
// What the server answers itself.
Response TooLarge(size_t max_body_bytes);  // 413
Response ShuttingDown();                   // 503
// Tells options.on_refused, when set, that the server answered `status` itself. Never throws.
void NotifyRefused(const ServerOptions& options, int status);
// Header names (lower case) the server writes itself: framing, Connection, Date. A Response's
// own header by one of these names is dropped (and Content-Type, unless the status has no body:
// Response::content_type is the one sent).
bool IsServerHeader(std::string_view lower_name);

}  // namespace foresight::http::internal
