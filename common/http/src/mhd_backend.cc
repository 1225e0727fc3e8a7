// The HTTPS backend, on GNU libmicrohttpd with GnuTLS (see server.h for why not civetweb).
//
// MHD calls the access handler several times per request: once when the head has arrived, once
// per piece of body, and once more when the body is complete; the per-request state (Exchange)
// lives from the URI callback to the completion callback.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "backend.h"
#include "foresight/common/text.h"

namespace foresight::http::internal {
namespace {

// TLS 1.2 and newer, as the civetweb backend was configured.
constexpr char kTlsPriorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

std::string GnutlsError(int code) { return gnutls_strerror(code); }

gnutls_datum_t Datum(const std::string& s) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
          static_cast<unsigned int>(s.size())};
}

// GnuTLS's own checks, before MHD repeats them, so that an error can say which file is wrong:
// MHD only logs "GnuTLS failed to setup x509 certificate/key".
Status CheckCertificateAndKey(const ServerOptions& options, const TlsPem& tls) {
  const std::string& cert_file = options.tls_cert_file;
  const std::string& key_file = options.tls_key_file;
  gnutls_datum_t cert = Datum(tls.cert);
  gnutls_datum_t key = Datum(tls.key);

  gnutls_x509_crt_t* certs = nullptr;
  unsigned int cert_count = 0;
  int rc = gnutls_x509_crt_list_import2(&certs, &cert_count, &cert, GNUTLS_X509_FMT_PEM, 0);
  if (rc < 0) {
    return InvalidArgument("TLS certificate file " + cert_file + ": " + GnutlsError(rc));
  }
  for (unsigned int i = 0; i < cert_count; ++i) {
    gnutls_x509_crt_deinit(certs[i]);
  }
  gnutls_free(certs);

  gnutls_x509_privkey_t private_key = nullptr;
  rc = gnutls_x509_privkey_init(&private_key);
  if (rc < 0) {
    return Internal("GnuTLS: " + GnutlsError(rc));
  }
  rc = gnutls_x509_privkey_import2(private_key, &key, GNUTLS_X509_FMT_PEM, nullptr, 0);
  gnutls_x509_privkey_deinit(private_key);
  if (rc < 0) {
    return InvalidArgument("TLS key file " + key_file + ": " + GnutlsError(rc));
  }

  gnutls_certificate_credentials_t credentials = nullptr;
  rc = gnutls_certificate_allocate_credentials(&credentials);
  if (rc < 0) {
    return Internal("GnuTLS: " + GnutlsError(rc));
  }
  rc = gnutls_certificate_set_x509_key_mem2(credentials, &cert, &key, GNUTLS_X509_FMT_PEM, nullptr,
                                            0);
  gnutls_certificate_free_credentials(credentials);
  if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
    return InvalidArgument("key " + key_file + " does not belong to certificate " + cert_file);
  }
  if (rc < 0) {
    return InvalidArgument("certificate " + cert_file + " and key " + key_file + ": " +
                           GnutlsError(rc));
  }
  return Status::Ok();
}

// While MHD_start_daemon runs on this thread, MHD's log lines are collected here for the error
// message; any other time they are dropped, as the civetweb backend drops civetweb's.
thread_local std::string* start_log_sink = nullptr;

void OnLog(void*, const char* format, va_list args) {
  if (start_log_sink == nullptr || format == nullptr) {
    return;
  }
  char line[512];
  int n = std::vsnprintf(line, sizeof(line), format, args);
  if (n <= 0) {
    return;
  }
  std::string text(line, std::min(static_cast<size_t>(n), sizeof(line) - 1));
  while (!text.empty() && (text.back() == '\n' || text.back() == '.')) {
    text.pop_back();
  }
  if (!start_log_sink->empty()) {
    *start_log_sink += "; ";
  }
  *start_log_sink += text;
}

// A listening socket on the address, close-on-exec and non-blocking as MHD wants it. ":port"
// listens dual-stack where the host has IPv6.
Result<int> Listen(const ListenSpec& listen, const std::string& address) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int family = AF_INET;
  if (listen.host.empty()) {
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
      close(probe);
      family = AF_INET6;
    }
    if (family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
      in6->sin6_family = AF_INET6;
      in6->sin6_addr = in6addr_any;
      addr_len = sizeof(sockaddr_in6);
    } else {
      auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
      in4->sin_family = AF_INET;
      in4->sin_addr.s_addr = htonl(INADDR_ANY);
      addr_len = sizeof(sockaddr_in);
    }
  } else {
    family = listen.ipv6 ? AF_INET6 : AF_INET;
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(listen.host.c_str(), nullptr, &hints, &found);
    if (rc != 0 || found == nullptr) {
      return InvalidArgument("bad listen address \"" + address + "\": cannot resolve host " +
                             listen.host + ": " + gai_strerror(rc));
    }
    std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
    addr_len = found->ai_addrlen;
    freeaddrinfo(found);
  }
  const uint16_t port = htons(static_cast<uint16_t>(listen.port));
  if (family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = port;
  } else {
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = port;
  }

  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return Unavailable("cannot listen on " + address + ": " + AsciiLower(std::strerror(errno)));
  }
  const int on = 1;
  // As civetweb does: a restarted daemon can take its port while old connections linger in
  // TIME_WAIT (on Linux this never lets two listeners share a port).
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (family == AF_INET6) {
    const int v6only = listen.host.empty() ? 0 : 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    int err = errno;
    close(fd);
    if (err == EADDRINUSE) {
      return Unavailable("cannot listen on " + address + ": address in use");
    }
    return Unavailable("cannot listen on " + address + ": " + AsciiLower(std::strerror(err)));
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

// The client's address as civetweb writes it; an IPv4 client of a dual-stack listener appears
// as IPv4, not as ::ffff:a.b.c.d.
std::string AddressText(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (sa == nullptr) {
    return "";
  }
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof(text));
  } else if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof(text));
    } else {
      inet_ntop(AF_INET6, &a, text, sizeof(text));
    }
  }
  return text;
}

// One request, from its request line to the last byte of its answer.
struct Exchange {
  std::string target;     // as sent, with the query
  bool started = false;   // the access handler has seen the head
  bool admitted = false;  // counted in the gate
  bool answered = false;  // by us, through Queue
  bool too_large = false;
  size_t dropped = 0;  // body bytes read and dropped after too_large
  Request req;
};

class MhdServer final : public Backend {
 public:
  MhdServer(const ServerOptions& options, Handler handler)
      : options_(options), handler_(std::move(handler)) {}

  ~MhdServer() override {
    if (daemon_ != nullptr) {
      // Stop accepting, let the requests in flight be answered, then close what is left (idle
      // keep-alive connections) and join MHD's threads.
      const MHD_socket quiesced = MHD_quiesce_daemon(daemon_);
      gate_.CloseAndWait();
      MHD_stop_daemon(daemon_);
      if (quiesced != MHD_INVALID_SOCKET) {
        close(quiesced);
      }
    }
    if (listen_fd_ >= 0) {
      close(listen_fd_);
    }
  }

  int port() const override { return port_; }

  Status Start(const ListenSpec& listen, const TlsPem& tls);

 private:
  static void* OnUri(void*, const char* uri, MHD_Connection*) {
    try {
      auto* exchange = new Exchange;
      exchange->target = uri != nullptr ? uri : "";
      return exchange;
    } catch (...) {
      return nullptr;  // OnRequest then closes the connection
    }
  }

  static MHD_Result OnRequest(void* cls, MHD_Connection* conn, const char*, const char* method,
                              const char*, const char* upload_data, size_t* upload_data_size,
                              void** context) {
    auto* self = static_cast<MhdServer*>(cls);
    auto* exchange = static_cast<Exchange*>(*context);
    if (exchange == nullptr) {
      return MHD_NO;
    }
    try {
      return self->Step(conn, method, upload_data, upload_data_size, *exchange);
    } catch (...) {
      return MHD_NO;  // closes the connection; nothing may escape into C
    }
  }

  static void OnCompleted(void* cls, MHD_Connection* conn, void** context,
                          MHD_RequestTerminationCode) {
    auto* self = static_cast<MhdServer*>(cls);
    std::unique_ptr<Exchange> exchange(static_cast<Exchange*>(*context));
    *context = nullptr;
    if (exchange == nullptr) {
      return;
    }
    if (!exchange->answered) {
      // MHD answered the request itself (a malformed header or chunk, a head too long), or
      // nobody did (the client left, the connection timed out).
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
      if (info != nullptr && info->http_status >= 400) {
        NotifyRefused(self->options_, static_cast<int>(info->http_status));
      }
    }
    if (exchange->admitted) {
      self->gate_.Leave();
    }
  }

  MHD_Result Step(MHD_Connection* conn, const char* method, const char* upload_data,
                  size_t* upload_data_size, Exchange& ex) {
    if (!ex.started) {
      ex.started = true;
      if (!gate_.Enter()) {
        return Refuse(conn, ShuttingDown(), ex);
      }
      ex.admitted = true;
      return Begin(conn, method, ex);
    }
    if (*upload_data_size > 0) {
      const size_t n = *upload_data_size;
      *upload_data_size = 0;
      if (!ex.too_large && ex.req.body.size() + n > options_.max_body_bytes) {
        // A chunked body ran over.
        ex.too_large = true;
        ex.req.body.clear();
        NotifyRefused(options_, 413);
      }
      if (!ex.too_large) {
        ex.req.body.append(upload_data, n);
        return MHD_YES;
      }
      // MHD 0.9.75 cannot queue an answer while a body is coming in (only before its first
      // byte or after its last), so the 413 waits for the end of the body. Past kDrainBytes
      // the connection is dropped instead.
      ex.dropped += n;
      return ex.dropped <= kDrainBytes ? MHD_YES : MHD_NO;
    }
    // The whole request is in.
    if (ex.too_large) {
      return Queue(conn, TooLarge(options_.max_body_bytes), true, ex);
    }
    return Queue(conn, CallHandler(handler_, ex.req), false, ex);
  }

  // The head has arrived: fill in the request, and refuse it now if its declared body is too
  // large.
  MHD_Result Begin(MHD_Connection* conn, const char* method, Exchange& ex) {
    Request& req = ex.req;
    req.method = method != nullptr ? method : "";
    std::optional<std::string> path = RequestPath(ex.target);
    if (!path) {
      return Refuse(conn, Response::Text(400, "bad request target\n"), ex);
    }
    req.path = std::move(*path);
    if (size_t q = ex.target.find('?'); q != std::string::npos) {
      req.query_string = ex.target.substr(q + 1);
    }
    MHD_get_connection_values(
        conn, MHD_HEADER_KIND,
        [](void* cls, MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
          if (key != nullptr) {
            (*static_cast<std::map<std::string, std::string>*>(cls))[AsciiLower(key)] =
                value != nullptr ? value : "";
          }
          return MHD_YES;
        },
        &req.headers);
    const MHD_ConnectionInfo* client =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    req.remote_addr = AddressText(client != nullptr ? client->client_addr : nullptr);

    const bool chunked = ContainsIgnoreCase(req.Header("transfer-encoding"), "chunked");
    const std::string length_text = req.Header("content-length");
    unsigned long long length = 0;
    std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
    if (!chunked && length > options_.max_body_bytes) {
      // Refused on the declared length alone. An answer queued now goes out at once, and MHD
      // then closes the connection without reading on: right for a client that waits for 100
      // Continue (MHD will not send it now) and for one that declared more than it will send.
      // A client already sending a body of up to kDrainBytes gets its 413 after the body is
      // read and dropped instead, so that the close does not reset the connection under it.
      ex.too_large = true;
      if (AsciiLower(req.Header("expect")) == "100-continue" || length > kDrainBytes) {
        return Refuse(conn, TooLarge(options_.max_body_bytes), ex);
      }
      NotifyRefused(options_, 413);
    }
    return MHD_YES;
  }

  MHD_Result Refuse(MHD_Connection* conn, const Response& resp, Exchange& ex) {
    NotifyRefused(options_, resp.status);
    return Queue(conn, resp, true, ex);
  }

  // Queues the answer; MHD writes Date and Content-Length, and leaves the body out for HEAD.
  static MHD_Result Queue(MHD_Connection* conn, Response resp, bool close, Exchange& ex) {
    ex.answered = true;
    auto body = std::make_unique<std::string>(std::move(resp.body));
    MHD_Response* out = MHD_create_response_from_buffer_with_free_callback_cls(
        body->size(), body->data(), [](void* cls) { delete static_cast<std::string*>(cls); },
        body.get());
    if (out == nullptr) {
      return MHD_NO;
    }
    body.release();  // now the response's
    // 204 and 304 carry neither a body nor a Content-Length (RFC 9110 8.6).
    const bool bodiless = resp.status == 204 || resp.status == 304;
    if (!bodiless) {
      MHD_add_response_header(out, MHD_HTTP_HEADER_CONTENT_TYPE, resp.content_type.c_str());
    }
    for (const auto& [name, value] : resp.headers) {
      std::string lower = AsciiLower(name);
      if (IsServerHeader(lower) || (lower == "content-type" && !bodiless)) {
        continue;
      }
      MHD_add_response_header(out, name.c_str(), value.c_str());
    }
    if (close) {
      MHD_add_response_header(out, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    MHD_Result queued = MHD_queue_response(conn, static_cast<unsigned int>(resp.status), out);
    MHD_destroy_response(out);  // MHD holds its own reference
    return queued;
  }

  const ServerOptions options_;
  const Handler handler_;
  RequestGate gate_;
  MHD_Daemon* daemon_ = nullptr;
  int listen_fd_ = -1;  // ours; MHD has a duplicate
  int port_ = 0;
};

Status MhdServer::Start(const ListenSpec& listen, const TlsPem& tls) {
  const std::string& address = options_.listen_address;
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    return FailedPrecondition("cannot serve TLS on " + address +
                              ": this libmicrohttpd was built without TLS support");
  }
  FORESIGHT_RETURN_IF_ERROR(
      CheckCertificateAndKey(options_, tls).WithContext("cannot serve TLS on " + address));

  Result<int> fd = Listen(listen, address);
  if (!fd.ok()) {
    return fd.status();
  }
  listen_fd_ = *fd;
  port_ = BoundPort(listen_fd_);
  // MHD gets a duplicate: whether it closes a socket it was given when it fails to start is
  // not documented, and closing one twice could close someone else's file.
  const int mhd_fd = fcntl(listen_fd_, F_DUPFD_CLOEXEC, 0);
  if (mhd_fd < 0) {
    return Unavailable("cannot listen on " + address + ": " + AsciiLower(std::strerror(errno)));
  }

  // MHD's connection timeout is in whole seconds.
  const auto timeout_ms = options_.request_timeout.count();
  const unsigned int timeout_s = static_cast<unsigned int>((timeout_ms + 999) / 1000);
  // No MHD_USE_IPv6: that only tells MHD which socket to make, and it is given one.
  const unsigned int flags =
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TLS | MHD_USE_ERROR_LOG;
  std::string start_log;
  start_log_sink = &start_log;
  daemon_ =
      MHD_start_daemon(flags, 0, nullptr, nullptr, &MhdServer::OnRequest, this,  //
                       MHD_OPTION_EXTERNAL_LOGGER, &OnLog, nullptr,  // first, to see every message
                       MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(mhd_fd),                 //
                       MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned int>(options_.threads),  //
                       MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,                                  //
                       MHD_OPTION_URI_LOG_CALLBACK, &MhdServer::OnUri, this,                      //
                       MHD_OPTION_NOTIFY_COMPLETED, &MhdServer::OnCompleted, this,                //
                       MHD_OPTION_HTTPS_MEM_CERT, tls.cert.c_str(),                               //
                       MHD_OPTION_HTTPS_MEM_KEY, tls.key.c_str(),                                 //
                       MHD_OPTION_HTTPS_PRIORITIES, kTlsPriorities,                               //
                       MHD_OPTION_END);
  start_log_sink = nullptr;
  if (daemon_ == nullptr) {
    return Unavailable("cannot serve TLS on " + address + ": libmicrohttpd failed to start" +
                       (start_log.empty() ? "" : ": " + start_log));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Backend>> StartMhd(const ServerOptions& options, Handler handler,
                                          const ListenSpec& listen, const TlsPem& tls) {
  auto server = std::make_unique<MhdServer>(options, std::move(handler));
  FORESIGHT_RETURN_IF_ERROR(server->Start(listen, tls));
  return std::unique_ptr<Backend>(std::move(server));
}

}  // namespace foresight::http::internal
