#include "foresight/http/server.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "backend.h"
#include "foresight/common/text.h"

namespace foresight::http {
namespace internal {

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  return AsciiLower(haystack).find(AsciiLower(needle)) != std::string::npos;
}

bool RequestGate::Enter() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    return false;
  }
  ++in_flight_;
  return true;
}

void RequestGate::Leave() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--in_flight_ == 0 && closed_) {
    idle_.notify_all();
  }
}

void RequestGate::CloseAndWait() {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  idle_.wait(lock, [this] { return in_flight_ == 0; });
}

namespace {

bool IsFieldValue(const std::string& s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
}

bool CanCarry(const Response& resp) {
  bool valid = resp.status >= 200 && resp.status <= 599 && IsFieldValue(resp.content_type);
  for (const auto& [name, value] : resp.headers) {
    valid = valid && ValidHttpHeaderName(name) && IsFieldValue(value);
  }
  return valid;
}

}  // namespace

Response CallHandler(const Handler& handler, const Request& req) {
  Response resp;
  try {
    resp = handler(req);
  } catch (...) {
    return Response::Text(500, "internal server error\n");
  }
  if (!CanCarry(resp)) {
    // A handler bug; answer it as one rather than put a broken response on the wire.
    return Response::Text(500, "internal server error: invalid response\n");
  }
  return resp;
}

Response TooLarge(size_t max_body_bytes) {
  return Response::Text(
      413, "request body is larger than " + std::to_string(max_body_bytes) + " bytes\n");
}

Response ShuttingDown() { return Response::Text(503, "server is shutting down\n"); }

void NotifyRefused(const ServerOptions& options, int status) {
  if (!options.on_refused) {
    return;
  }
  try {
    options.on_refused(status);
  } catch (...) {
    // A counter that throws must not take a server thread down; nothing else to do with it.
  }
}

bool IsServerHeader(std::string_view lower_name) {
  return lower_name == "content-length" || lower_name == "transfer-encoding" ||
         lower_name == "connection" || lower_name == "date";
}

}  // namespace internal

namespace {

using internal::ListenSpec;

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

Result<std::string> ReadWholeFile(const std::string& path, const char* what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {  // opens fine, then reads as empty
    return InvalidArgument(std::string("cannot read ") + what + " file " + path +
                           ": it is a directory");
  }
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

// Both files whole, each checked to hold the PEM block it should; errors name the file.
Result<internal::TlsPem> ReadTlsFiles(const std::string& cert_file, const std::string& key_file) {
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
  if (key->find("ENCRYPTED") != std::string::npos) {
    return InvalidArgument("TLS key file " + key_file +
                           " is encrypted; the server takes an unencrypted key");
  }
  return internal::TlsPem{std::move(*cert), std::move(*key)};
}

}  // namespace

std::optional<std::string> internal::RequestPath(std::string_view target) {
  target = target.substr(0, target.find('?'));
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && AsciiLower(target.substr(0, scheme.size())) == scheme) {
      size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? "/" : target.substr(slash);
      break;
    }
  }
  if (target.empty() || target[0] != '/') {
    return std::nullopt;
  }
  std::string decoded;
  decoded.reserve(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '%' && i + 2 < target.size() && HexValue(target[i + 1]) >= 0 &&
        HexValue(target[i + 2]) >= 0) {
      decoded += static_cast<char>(HexValue(target[i + 1]) * 16 + HexValue(target[i + 2]));
      i += 2;
    } else {
      decoded += target[i];
    }
  }
  if (decoded.find('\0') != std::string::npos) {
    return std::nullopt;
  }
  // RFC 3986 5.2.4 on the decoded path, as civetweb resolves it after decoding ("%2e%2e" is "..").
  std::vector<std::string_view> segments;
  std::string_view rest(decoded);
  bool trailing_slash = false;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    trailing_slash = segment.empty() || segment == "." || segment == "..";
    if (segment == "..") {
      if (!segments.empty()) {
        segments.pop_back();
      }
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
  }
  std::string path;
  for (std::string_view segment : segments) {
    path += '/';
    path += segment;
  }
  if (path.empty() || trailing_slash) {
    path += '/';
  }
  return path;
}

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
  std::unique_ptr<internal::Backend> backend;
  std::string url;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

int Server::port() const { return impl_->backend->port(); }

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

  std::optional<internal::TlsPem> pem;
  if (tls) {
    Result<internal::TlsPem> read = ReadTlsFiles(options.tls_cert_file, options.tls_key_file);
    if (!read.ok()) {
      return read.status().WithContext("cannot serve TLS on " + address);
    }
    pem = std::move(read).value();
  }
  // HTTPS on libmicrohttpd, plain HTTP on civetweb: see server.h.
  Result<std::unique_ptr<internal::Backend>> backend =
      pem ? internal::StartMhd(options, std::move(handler), *spec, *pem)
          : internal::StartCivetweb(options, std::move(handler), *spec);
  if (!backend.ok()) {
    return backend.status();
  }

  auto impl = std::make_unique<Impl>();
  impl->backend = std::move(backend).value();
  // The url is for this process and its logs: ":port" and "[::]:port" are reached on loopback.
  std::string host = spec->host;
  if (host.empty() || host == "0.0.0.0") {
    host = "127.0.0.1";
  } else if (host == "::") {
    host = "::1";
  }
  impl->url = std::string(tls ? "https://" : "http://") + (spec->ipv6 ? "[" + host + "]" : host) +
              ":" + std::to_string(impl->backend->port());
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
