#include "foresight/http/server.h"

#include <cctype>

#include <civetweb.h>
#include <dlfcn.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

namespace foresight::http {
namespace {

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  return ToLower(haystack).find(ToLower(needle)) != std::string::npos;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Form decoding: %XX and '+' as a space. A malformed escape stays as it was sent, as Go's
// lenient parsers would rather not drop a parameter over it.
std::string UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Calls visit(decoded_name, raw_value) for each "name=value" (or bare "name") in order; stops
// when visit returns false.
template <typename Visit>
void ForEachQueryParam(std::string_view query, Visit visit) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (!visit(UrlDecode(raw_name), raw_value)) {
      return;
    }
  }
}

struct ListenSpec {
  std::string host;  // "" for every interface; IPv6 without brackets
  int port = 0;
  bool ipv6 = false;
};

Result<ListenSpec> ParseListenAddress(const std::string& address) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("bad listen address \"" + address + "\": " + why);
  };
  ListenSpec spec;
  std::string_view port_text;
  if (!address.empty() && address[0] == '[') {
    size_t close = address.find("]:");
    if (close == std::string::npos) {
      return bad("want [v6]:port");
    }
    spec.host = address.substr(1, close - 1);
    spec.ipv6 = true;
    port_text = std::string_view(address).substr(close + 2);
    if (spec.host.empty()) {
      return bad("empty IPv6 host");
    }
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      return bad("want host:port, [v6]:port or :port");
    }
    spec.host = address.substr(0, colon);
    if (spec.host.find(':') != std::string::npos) {
      return bad("an IPv6 host needs brackets, as in [::1]:9100");
    }
    port_text = std::string_view(address).substr(colon + 1);
  }
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  spec.port = port;
  return spec;
}

// Whether this host can open IPv6 sockets at all; ":port" then listens dual-stack.
bool HostHasIpv6() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) {
    return false;
  }
  close(fd);
  return true;
}

Result<std::string> ReadWholeFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgument(std::string("cannot read ") + what + " file " + path + ": " +
                           std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return InvalidArgument(std::string("cannot read ") + what + " file " + path);
  }
  return text.str();
}

// civetweb 1.15 wants certificate and key in one PEM file (its ssl_certificate option), so both
// are copied into a private temporary file that lives only while mg_start loads it.
Result<std::string> WriteCombinedPem(const std::string& cert_file, const std::string& key_file) {
  Result<std::string> cert = ReadWholeFile(cert_file, "TLS certificate");
  if (!cert.ok()) {
    return cert.status();
  }
  if (cert->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return InvalidArgument("TLS certificate file " + cert_file + " holds no PEM certificate");
  }
  Result<std::string> key = ReadWholeFile(key_file, "TLS key");
  if (!key.ok()) {
    return key.status();
  }
  if (key->find("PRIVATE KEY-----") == std::string::npos) {
    return InvalidArgument("TLS key file " + key_file + " holds no PEM private key");
  }
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) {
    dir = "/tmp";
  }
  std::string path = (dir / "foresight-http-XXXXXX.pem").string();
  int fd = mkstemps(path.data(), 4);  // creates the file 0600
  if (fd < 0) {
    return Internal("cannot create a temporary PEM file in " + dir.string() + ": " +
                    std::strerror(errno));
  }
  // Certificates first: civetweb loads the chain from this file too, and PEM readers skip the
  // key block when looking for certificates.
  std::string combined = *cert;
  if (!combined.empty() && combined.back() != '\n') {
    combined += '\n';
  }
  combined += *key;
  const char* p = combined.data();
  size_t left = combined.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      int err = errno;
      close(fd);
      unlink(path.c_str());
      return Internal("cannot write temporary PEM file " + path + ": " + std::strerror(err));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (close(fd) != 0) {
    int err = errno;
    unlink(path.c_str());
    return Internal("cannot write temporary PEM file " + path + ": " + std::strerror(err));
  }
  return path;
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

// civetweb loads OpenSSL at run time with dlopen("libssl.so") and looks up every function it
// uses; when that fails it says nothing, so find out why for the error message.
std::string WhyNoOpenSsl() {
  void* ssl = dlopen("libssl.so", RTLD_LAZY | RTLD_LOCAL);
  if (ssl == nullptr) {
    const char* err = dlerror();
    return std::string("civetweb cannot load OpenSSL: ") + (err != nullptr ? err : "libssl.so") +
           " (civetweb opens the unversioned libssl.so from the OpenSSL development package)";
  }
  const bool has_old_api = dlsym(ssl, "SSL_get_peer_certificate") != nullptr;
  dlclose(ssl);
  if (!has_old_api) {
    return "civetweb " CIVETWEB_VERSION
           " cannot use this OpenSSL: it looks up SSL_get_peer_certificate, which OpenSSL 3 "
           "no longer exports (TLS needs a civetweb built for the OpenSSL 3 API)";
  }
  return "civetweb " CIVETWEB_VERSION " could not initialise OpenSSL";
}

std::once_flag g_library_once;
std::once_flag g_tls_once;
bool g_tls_ready = false;

constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

std::string Request::Header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> Request::Query(std::string_view name) const {
  std::optional<std::string> found;
  ForEachQueryParam(query_string, [&](const std::string& key, std::string_view raw_value) {
    if (key != name) {
      return true;
    }
    found = UrlDecode(raw_value);
    return false;
  });
  return found;
}

std::vector<std::string> Request::QueryAll(std::string_view name) const {
  std::vector<std::string> values;
  ForEachQueryParam(query_string, [&](const std::string& key, std::string_view raw_value) {
    if (key == name) {
      values.push_back(UrlDecode(raw_value));
    }
    return true;
  });
  return values;
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::Json(int status, std::string body) {
  Response r = Text(status, std::move(body));
  r.content_type = "application/json";
  return r;
}

Response Response::Html(int status, std::string body) {
  Response r = Text(status, std::move(body));
  r.content_type = "text/html; charset=utf-8";
  return r;
}

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  mg_context* ctx = nullptr;
  int port = 0;
  std::string url;

  // Where this process reaches the listener, for WakeListener.
  std::string local_host;
  bool local_ipv6 = false;

  // Requests being handled, so that the destructor can let them finish before mg_stop: once
  // civetweb's stop flag is up, mg_write gives up and a finished handler's answer is lost.
  std::mutex mu;
  std::condition_variable idle;
  int in_flight = 0;      // guarded by mu
  bool stopping = false;  // guarded by mu

  ~Impl() {
    if (ctx == nullptr) {
      return;
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      stopping = true;
      idle.wait(lock, [this] { return in_flight == 0; });
    }
    // civetweb's accept loop polls with a 2 s timeout before it looks at the stop flag; a
    // connection wakes it at once, so a stop takes milliseconds instead of seconds.
    std::atomic<bool> stopped{false};
    std::thread waker([this, &stopped] { WakeListener(stopped); });
    mg_stop(ctx);  // joins the workers
    stopped = true;
    waker.join();
  }

  // Connects to the listener until civetweb closes it (connect is then refused) or mg_stop
  // returns. Each connection is half-closed at once and awaited, so the loop runs at the pace
  // the server drops them: a handful of rounds in practice.
  void WakeListener(const std::atomic<bool>& stopped) const {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICSERV;
    hints.ai_family = local_ipv6 ? AF_INET6 : AF_INET;  // civetweb bound this family
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(local_host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
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
    auto* self = static_cast<Impl*>(info->user_data);
    bool refuse = false;
    {
      std::lock_guard<std::mutex> lock(self->mu);
      refuse = self->stopping;
      if (!refuse) {
        ++self->in_flight;
      }
    }
    if (refuse) {
      // Arrived after shutdown began: not waited for, and told so.
      return Send(conn, false, true, Response::Text(503, "server is shutting down\n"));
    }
    int status = 500;
    try {
      status = self->Serve(conn, *info);
    } catch (...) {
      status = Send(conn, false, true, Response::Text(500, "internal server error\n"));
    }
    std::lock_guard<std::mutex> lock(self->mu);
    if (--self->in_flight == 0 && self->stopping) {
      self->idle.notify_all();
    }
    return status;
  }

  enum class BodyState { kComplete, kTooLarge, kBroken };

  BodyState ReadBody(mg_connection* conn, const mg_request_info& info, bool chunked,
                     std::string* body) const {
    const size_t limit = options.max_body_bytes;
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

  void RefuseTooLarge(mg_connection* conn) const {
    // Connection: close, so civetweb does not read the rest of the body before the next request.
    Send(conn, false, true,
         Response::Text(413, "request body is larger than " +
                                 std::to_string(options.max_body_bytes) + " bytes\n"));
  }

  // After a refusal the client may still be sending. Closing with unread bytes makes the kernel
  // reset the connection, and a client still writing (curl 7.88) then reports a broken pipe
  // instead of our 413. So read and drop a bounded amount first, as Go's net/http does (256 KiB)
  // before it closes.
  static void DrainSome(mg_connection* conn) {
    constexpr size_t kDrainBytes = 256 * 1024;
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
        req.headers[ToLower(h.name)] = h.value != nullptr ? h.value : "";
      }
    }
    const bool chunked = ContainsIgnoreCase(req.Header("transfer-encoding"), "chunked");
    const bool expects_continue = ToLower(req.Header("expect")) == "100-continue";
    if (!chunked && info.content_length > 0 &&
        static_cast<unsigned long long>(info.content_length) > options.max_body_bytes) {
      // Refused on the declared length alone. A client that waits for 100 Continue sends
      // nothing more; one that does not is already sending, see DrainSome. (One that declares
      // a body and then sends nothing holds the worker until request_timeout, as any slow
      // client does.)
      RefuseTooLarge(conn);
      if (!expects_continue) {
        DrainSome(conn);
      }
      return 413;
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
      case BodyState::kTooLarge:  // a chunked body ran over
        RefuseTooLarge(conn);
        DrainSome(conn);
        return 413;
      case BodyState::kBroken:
        return Send(conn, false, true, Response::Text(400, "incomplete request body\n"));
    }

    Response resp;
    try {
      resp = handler(req);
    } catch (...) {
      resp = Response::Text(500, "internal server error\n");
    }
    return Send(conn, req.method == "HEAD", false, resp);
  }

  static bool IsToken(const std::string& s) {
    static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
    if (s.empty()) {
      return false;
    }
    for (char c : s) {
      bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!alnum && kSpecials.find(c) == std::string_view::npos) {
        return false;
      }
    }
    return true;
  }

  static bool IsFieldValue(const std::string& s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
  }

  static std::string HttpDate() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buf, n);
  }

  // Writes the whole response. The head is written by hand rather than through civetweb's
  // mg_response_header_* calls, which refuse to work once anything (a 100 Continue) was written.
  static int Send(mg_connection* conn, bool head_only, bool close, const Response& given) {
    const Response* resp = &given;
    Response fallback;
    bool valid = resp->status >= 200 && resp->status <= 599 && IsFieldValue(resp->content_type);
    for (const auto& [name, value] : resp->headers) {
      valid = valid && IsToken(name) && IsFieldValue(value);
    }
    if (!valid) {
      // A handler bug; answer it as one rather than put a broken response on the wire.
      fallback = Response::Text(500, "internal server error: invalid response\n");
      resp = &fallback;
    }
    // 204 and 304 carry neither a body nor a Content-Length (RFC 9110 8.6).
    const bool bodiless = resp->status == 204 || resp->status == 304;
    const char* reason = mg_get_response_code_text(conn, resp->status);
    std::string out = "HTTP/1.1 " + std::to_string(resp->status) + " " +
                      (reason != nullptr ? reason : "") + "\r\nDate: " + HttpDate() + "\r\n";
    if (!bodiless) {
      out += "Content-Type: " + resp->content_type + "\r\n";
      out += "Content-Length: " + std::to_string(resp->body.size()) + "\r\n";
    }
    for (const auto& [name, value] : resp->headers) {
      std::string lower = ToLower(name);
      if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection" ||
          lower == "date" || (lower == "content-type" && !bodiless)) {
        continue;  // framing and these are ours to write
      }
      out += name + ": " + value + "\r\n";
    }
    if (close) {
      mg_disable_connection_keep_alive(conn);
      out += "Connection: close\r\n";
    }
    out += "\r\n";
    const bool with_body = !head_only && !bodiless && !resp->body.empty();
    constexpr size_t kCoalesce = 64 * 1024;  // one write for small responses
    if (with_body && resp->body.size() <= kCoalesce) {
      out += resp->body;
      mg_write(conn, out.data(), out.size());
    } else {
      if (mg_write(conn, out.data(), out.size()) > 0 && with_body) {
        mg_write(conn, resp->body.data(), resp->body.size());
      }
    }
    return resp->status;
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

int Server::port() const { return impl_->port; }

std::string Server::url() const { return impl_->url; }

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  const std::string& address = options.listen_address;
  if (!handler) {
    return InvalidArgument("http server on " + address + " needs a handler");
  }
  if (options.threads < 1) {
    return InvalidArgument("http server on " + address + " needs at least one thread");
  }
  if (options.request_timeout.count() < 1) {
    return InvalidArgument("http server on " + address + " needs a positive request timeout");
  }
  Result<ListenSpec> spec = ParseListenAddress(address);
  if (!spec.ok()) {
    return spec.status();
  }
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (tls && (options.tls_cert_file.empty() || options.tls_key_file.empty())) {
    return InvalidArgument("TLS on " + address + " needs both a certificate and a key file");
  }

  std::call_once(g_library_once, [] { mg_init_library(0); });
  if (tls) {
    if (mg_check_feature(MG_FEATURES_TLS) == 0) {
      return FailedPrecondition("cannot serve TLS on " + address +
                                ": this civetweb was built without TLS support");
    }
    std::call_once(g_tls_once,
                   [] { g_tls_ready = (mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS) != 0; });
    if (!g_tls_ready) {
      return FailedPrecondition("cannot serve TLS on " + address + ": " + WhyNoOpenSsl());
    }
  }

  const bool civetweb_ipv6 = mg_check_feature(MG_FEATURES_IPV6) != 0;
  if (spec->ipv6 && !civetweb_ipv6) {
    return FailedPrecondition("cannot listen on " + address +
                              ": this civetweb was built without IPv6 support");
  }
  std::string ports;
  if (spec->host.empty()) {
    ports = (civetweb_ipv6 && HostHasIpv6() ? "+" : "") + std::to_string(spec->port);
  } else if (spec->ipv6) {
    ports = "[" + spec->host + "]:" + std::to_string(spec->port);
  } else {
    ports = spec->host + ":" + std::to_string(spec->port);
  }
  if (tls) {
    ports += 's';
  }

  std::string pem_path;
  if (tls) {
    Result<std::string> pem = WriteCombinedPem(options.tls_cert_file, options.tls_key_file);
    if (!pem.ok()) {
      return pem.status().WithContext("cannot serve TLS on " + address);
    }
    pem_path = *pem;
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);

  const std::string threads = std::to_string(options.threads);
  const std::string timeout_ms = std::to_string(options.request_timeout.count());
  std::vector<const char*> config = {
      "listening_ports",    ports.c_str(),    //
      "num_threads",        threads.c_str(),  //
      "request_timeout_ms", timeout_ms.c_str(),
      "enable_keep_alive",  "yes",  // scrapers and clients reuse connections
  };
  if (tls) {
    config.insert(config.end(), {"ssl_certificate", pem_path.c_str(),  //
                                 "ssl_protocol_version", "4"});        // TLS 1.2 and newer
  }
  config.push_back(nullptr);

  mg_callbacks callbacks{};
  callbacks.begin_request = &Impl::OnBeginRequest;
  callbacks.log_message = &OnLogMessage;
  // No log_access callback: with neither it nor an access_log_file civetweb skips formatting
  // the line, which calls the non-reentrant localtime() on every worker.

  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = impl.get();
  init.configuration_options = config.data();
  unsigned error_code = 0;
  char error_text[256] = {0};
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);

  std::string start_log;
  start_log_sink = &start_log;
  impl->ctx = mg_start2(&init, &error);
  start_log_sink = nullptr;
  if (!pem_path.empty()) {
    unlink(pem_path.c_str());  // the key now lives only in civetweb's SSL_CTX
  }
  if (impl->ctx == nullptr) {
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
                           ToLower(why.substr(open + 1, close - open - 1)));
      }
    }
    if (tls && why.find("key values mismatch") != std::string::npos) {
      return InvalidArgument("cannot serve TLS on " + address + ": key " + options.tls_key_file +
                             " does not belong to certificate " + options.tls_cert_file);
    }
    if (tls && (why.find("certificate") != std::string::npos ||
                why.find("key") != std::string::npos || why.find("SSL") != std::string::npos)) {
      // civetweb names the temporary file, which is gone and means nothing to the reader.
      for (size_t at; (at = why.find(pem_path)) != std::string::npos;) {
        why.replace(at, pem_path.size(), "(certificate+key)");
      }
      return InvalidArgument("cannot serve TLS on " + address + " with certificate " +
                             options.tls_cert_file + " and key " + options.tls_key_file + ": " +
                             why);
    }
    return Unavailable("cannot listen on " + address + ": " + why);
  }

  mg_server_port bound[4];
  int n = mg_get_server_ports(impl->ctx, 4, bound);
  if (n < 1 || bound[0].port <= 0) {
    return Internal("cannot listen on " + address + ": civetweb reports no bound port");
  }
  impl->port = bound[0].port;
  impl->local_host = spec->host;
  impl->local_ipv6 = spec->ipv6;
  if (impl->local_host.empty() || impl->local_host == "0.0.0.0") {
    impl->local_host = "127.0.0.1";
  } else if (impl->local_host == "::") {
    impl->local_host = "::1";
  }
  const std::string url_host = spec->ipv6 ? "[" + impl->local_host + "]" : impl->local_host;
  impl->url = (tls ? "https://" : "http://") + url_host + ":" + std::to_string(impl->port);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::string UrlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace foresight::http
