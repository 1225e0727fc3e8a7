// The plain-HTTP backend, on civetweb.

#include <civetweb.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "foresight/common/text.h"

namespace foresight::http::internal {
namespace {

// Whether this host can open IPv6 sockets at all; ":port" then listens dual-stack.
bool HostHasIpv6() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) {
    return false;
  }
  close(fd);
  return true;
}

// While mg_start runs on this thread, civetweb's log lines are collected here for the error
// message; any other time they are dropped (the daemons log for themselves, and civetweb would
// write to stderr about every client that hangs up).
thread_local std::string* start_log_sink = nullptr;

int OnLogMessage(const mg_connection*, const char* message) {
  if (start_log_sink != nullptr && message != nullptr) {
    if (!start_log_sink->empty()) {
      *start_log_sink += "; ";
    }
    *start_log_sink += message;
  }
  return 1;  // never civetweb's own stderr
}

std::once_flag g_library_once;

constexpr size_t kReadChunk = 64 * 1024;

class CivetwebServer final : public Backend {
 public:
  CivetwebServer(const ServerOptions& options, Handler handler)
      : options_(options), handler_(std::move(handler)) {}

  ~CivetwebServer() override {
    if (ctx_ == nullptr) {
      return;
    }
    // Requests in flight finish first: once civetweb's stop flag is up, mg_write gives up and a
    // finished handler's answer is lost.
    gate_.CloseAndWait();
    // civetweb's accept loop polls with a 2 s timeout before it looks at the stop flag; a
    // connection wakes it at once, so a stop takes milliseconds instead of seconds.
    std::atomic<bool> stopped{false};
    std::thread waker([this, &stopped] { WakeListener(stopped); });
    mg_stop(ctx_);  // joins the workers
    stopped = true;
    waker.join();
  }

  int port() const override { return port_; }

  Status Start(const ListenSpec& listen);

 private:
  // Connects to the listener until civetweb closes it (connect is then refused) or mg_stop
  // returns. Each connection is half-closed at once and awaited, so the loop runs at the pace
  // the server drops them: a handful of rounds in practice.
  void WakeListener(const std::atomic<bool>& stopped) const {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICSERV;
    hints.ai_family = local_ipv6_ ? AF_INET6 : AF_INET;  // civetweb bound this family
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(local_host_.c_str(), std::to_string(port_).c_str(), &hints, &found) != 0) {
      return;
    }
    for (int round = 0; round < 100 && !stopped.load(); ++round) {
      int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        break;
      }
      if (connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
        close(fd);
        break;
      }
      shutdown(fd, SHUT_WR);
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, 100);
      close(fd);
    }
    freeaddrinfo(found);
  }

  // civetweb calls this on a worker thread for every request; nothing may escape into C.
  static int OnBeginRequest(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    auto* self = static_cast<CivetwebServer*>(info->user_data);
    if (!self->gate_.Enter()) {
      // Arrived after shutdown began: not waited for, and told so.
      NotifyRefused(self->options_, 503);
      return Send(conn, false, true, ShuttingDown());
    }
    int status = 500;
    try {
      status = self->Serve(conn, *info);
    } catch (...) {
      status = Send(conn, false, true, Response::Text(500, "internal server error\n"));
    }
    self->gate_.Leave();
    return status;
  }

  // civetweb answers a request it cannot parse itself (400, 411, 413, 431, ...), telling us here
  // first; 1 lets it write its own error page.
  static int OnHttpError(mg_connection* conn, int status, const char*) {
    auto* self = static_cast<CivetwebServer*>(mg_get_user_data(mg_get_context(conn)));
    if (self != nullptr) {
      NotifyRefused(self->options_, status);
    }
    return 1;
  }

  enum class BodyState { kComplete, kTooLarge, kBroken };

  BodyState ReadBody(mg_connection* conn, const mg_request_info& info, bool chunked,
                     std::string* body) const {
    const size_t limit = options_.max_body_bytes;
    if (!chunked) {
      // civetweb reports -1 when a request has no Content-Length; without chunking that means
      // no body (RFC 9112 6.3), and mg_read would wait for the peer to close.
      if (info.content_length <= 0) {
        return BodyState::kComplete;
      }
      if (static_cast<unsigned long long>(info.content_length) > limit) {
        return BodyState::kTooLarge;
      }
      const size_t want = static_cast<size_t>(info.content_length);
      body->resize(want);
      size_t got = 0;
      while (got < want) {
        int n = mg_read(conn, body->data() + got, want - got);
        if (n <= 0) {
          return BodyState::kBroken;
        }
        got += static_cast<size_t>(n);
      }
      return BodyState::kComplete;
    }
    auto buf = std::make_unique<char[]>(kReadChunk);  // off the worker's stack
    for (;;) {
      int n = mg_read(conn, buf.get(), kReadChunk);
      if (n == 0) {
        return BodyState::kComplete;
      }
      if (n < 0) {
        return BodyState::kBroken;
      }
      if (body->size() + static_cast<size_t>(n) > limit) {
        return BodyState::kTooLarge;
      }
      body->append(buf.get(), static_cast<size_t>(n));
    }
  }

  int Refuse(mg_connection* conn, const Response& resp) const {
    NotifyRefused(options_, resp.status);
    // Connection: close, so civetweb does not read the rest of the body before the next request.
    return Send(conn, false, true, resp);
  }

  // See kDrainBytes.
  static void DrainSome(mg_connection* conn) {
    auto buf = std::make_unique<char[]>(kReadChunk);
    size_t drained = 0;
    while (drained < kDrainBytes) {
      int n = mg_read(conn, buf.get(), kReadChunk);
      if (n <= 0) {
        return;
      }
      drained += static_cast<size_t>(n);
    }
  }

  int Serve(mg_connection* conn, const mg_request_info& info) {
    Request req;
    req.method = info.request_method != nullptr ? info.request_method : "";
    if (info.local_uri != nullptr) {
      req.path = info.local_uri;
    } else if (info.request_uri != nullptr) {
      req.path = info.request_uri;
    }
    req.query_string = info.query_string != nullptr ? info.query_string : "";
    req.remote_addr = info.remote_addr;
    for (int i = 0; i < info.num_headers; ++i) {
      const mg_header& h = info.http_headers[i];
      if (h.name != nullptr) {
        req.headers[AsciiLower(h.name)] = h.value != nullptr ? h.value : "";
      }
    }
    const bool chunked = ContainsIgnoreCase(req.Header("transfer-encoding"), "chunked");
    const bool expects_continue = AsciiLower(req.Header("expect")) == "100-continue";
    if (!chunked && info.content_length > 0 &&
        static_cast<unsigned long long>(info.content_length) > options_.max_body_bytes) {
      // Refused on the declared length alone. A client that waits for 100 Continue sends
      // nothing more; one that does not is already sending, see DrainSome. (One that declares
      // a body and then sends nothing holds the worker until request_timeout, as any slow
      // client does.)
      int status = Refuse(conn, TooLarge(options_.max_body_bytes));
      if (!expects_continue) {
        DrainSome(conn);
      }
      return status;
    }
    // civetweb 1.15 leaves "Expect: 100-continue" to the callback; without the interim answer
    // curl waits a second before it sends the body.
    if (expects_continue && (chunked || info.content_length > 0)) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      mg_write(conn, kContinue, sizeof(kContinue) - 1);
    }
    switch (ReadBody(conn, info, chunked, &req.body)) {
      case BodyState::kComplete:
        break;
      case BodyState::kTooLarge: {  // a chunked body ran over
        int status = Refuse(conn, TooLarge(options_.max_body_bytes));
        DrainSome(conn);
        return status;
      }
      case BodyState::kBroken:
        return Refuse(conn, Response::Text(400, "incomplete request body\n"));
    }
    return Send(conn, req.method == "HEAD", false, CallHandler(handler_, req));
  }

  static std::string HttpDate() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buf, n);
  }

  // Writes the whole response, which CallHandler has checked. The head is written by hand rather
  // than through civetweb's mg_response_header_* calls, which refuse to work once anything (a
  // 100 Continue) was written.
  static int Send(mg_connection* conn, bool head_only, bool close, const Response& resp) {
    // 204 and 304 carry neither a body nor a Content-Length (RFC 9110 8.6).
    const bool bodiless = resp.status == 204 || resp.status == 304;
    const char* reason = mg_get_response_code_text(conn, resp.status);
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                      (reason != nullptr ? reason : "") + "\r\nDate: " + HttpDate() + "\r\n";
    if (!bodiless) {
      out += "Content-Type: " + resp.content_type + "\r\n";
      out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
    }
    for (const auto& [name, value] : resp.headers) {
      std::string lower = AsciiLower(name);
      if (IsServerHeader(lower) || (lower == "content-type" && !bodiless)) {
        continue;
      }
      out += name + ": " + value + "\r\n";
    }
    if (close) {
      mg_disable_connection_keep_alive(conn);
      out += "Connection: close\r\n";
    }
    out += "\r\n";
    const bool with_body = !head_only && !bodiless && !resp.body.empty();
    constexpr size_t kCoalesce = 64 * 1024;  // one write for small responses
    if (with_body && resp.body.size() <= kCoalesce) {
      out += resp.body;
      mg_write(conn, out.data(), out.size());
    } else {
      if (mg_write(conn, out.data(), out.size()) > 0 && with_body) {
        mg_write(conn, resp.body.data(), resp.body.size());
      }
    }
    return resp.status;
  }

  const ServerOptions options_;
  const Handler handler_;
  RequestGate gate_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
  // Where this process reaches the listener, for WakeListener.
  std::string local_host_;
  bool local_ipv6_ = false;
};

Status CivetwebServer::Start(const ListenSpec& listen) {
  const std::string& address = options_.listen_address;
  std::call_once(g_library_once, [] { mg_init_library(0); });

  const bool civetweb_ipv6 = mg_check_feature(MG_FEATURES_IPV6) != 0;
  if (listen.ipv6 && !civetweb_ipv6) {
    return FailedPrecondition("cannot listen on " + address +
                              ": this civetweb was built without IPv6 support");
  }
  std::string ports;
  if (listen.host.empty()) {
    ports = (civetweb_ipv6 && HostHasIpv6() ? "+" : "") + std::to_string(listen.port);
  } else if (listen.ipv6) {
    ports = "[" + listen.host + "]:" + std::to_string(listen.port);
  } else {
    ports = listen.host + ":" + std::to_string(listen.port);
  }

  const std::string threads = std::to_string(options_.threads);
  const std::string timeout_ms = std::to_string(options_.request_timeout.count());
  const char* config[] = {
      "listening_ports",    ports.c_str(),    //
      "num_threads",        threads.c_str(),  //
      "request_timeout_ms", timeout_ms.c_str(),
      "enable_keep_alive",  "yes",  // scrapers and clients reuse connections
      nullptr,
  };

  mg_callbacks callbacks{};
  callbacks.begin_request = &CivetwebServer::OnBeginRequest;
  callbacks.http_error = &CivetwebServer::OnHttpError;
  callbacks.log_message = &OnLogMessage;
  // No log_access callback: with neither it nor an access_log_file civetweb skips formatting
  // the line, which calls the non-reentrant localtime() on every worker.

  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = config;
  unsigned error_code = 0;
  char error_text[256] = {0};
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);

  std::string start_log;
  start_log_sink = &start_log;
  ctx_ = mg_start2(&init, &error);
  start_log_sink = nullptr;
  if (ctx_ == nullptr) {
    // mg_start2's own text is generic ("Failed to setup server ports"); the logged line says
    // why ("cannot bind to 127.0.0.1:9100: 98 (Address already in use)").
    std::string why = !start_log.empty() ? start_log : error_text;
    if (why.empty()) {
      why = "civetweb failed to start";
    }
    if (why.find("Address already in use") != std::string::npos) {
      return Unavailable("cannot listen on " + address + ": address in use");
    }
    if (size_t bind = why.find("cannot bind to "); bind != std::string::npos) {
      // "cannot bind to 192.0.2.1:0: 99 (Cannot assign requested address)": keep the reason.
      size_t open = why.find('(', bind);
      size_t close = why.find(')', open);
      if (open != std::string::npos && close != std::string::npos) {
        return Unavailable("cannot listen on " + address + ": " +
                           AsciiLower(why.substr(open + 1, close - open - 1)));
      }
    }
    return Unavailable("cannot listen on " + address + ": " + why);
  }

  mg_server_port bound[4];
  int n = mg_get_server_ports(ctx_, 4, bound);
  if (n < 1 || bound[0].port <= 0) {
    return Internal("cannot listen on " + address + ": civetweb reports no bound port");
  }
  port_ = bound[0].port;
  local_host_ = listen.host;
  local_ipv6_ = listen.ipv6;
  if (local_host_.empty() || local_host_ == "0.0.0.0") {
    local_host_ = "127.0.0.1";
  } else if (local_host_ == "::") {
    local_host_ = "::1";
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Backend>> StartCivetweb(const ServerOptions& options, Handler handler,
                                               const ListenSpec& listen) {
  auto server = std::make_unique<CivetwebServer>(options, std::move(handler));
  FORESIGHT_RETURN_IF_ERROR(server->Start(listen));
  return std::unique_ptr<Backend>(std::move(server));
}

}  // namespace foresight::http::internal
