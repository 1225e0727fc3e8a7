#include <curl/curl.h>

#include <cstring>
#include <fstream>
#include <mutex>

#include "foresight/remote_read/http.h"

namespace foresight::remote_read {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Status CheckReadable(const char* what, const std::string& path) {
  if (path.empty()) return Status::Ok();
  std::ifstream f(path);
  if (!f) return InvalidArgument(std::string("tls ") + what + " " + path + ": cannot read: " + std::strerror(errno));
  return Status::Ok();
}

// Rewrites url so that its host is server_name, returning the original host and port, so that
// CURLOPT_CONNECT_TO can still reach the real address: this is how libcurl both sends
// server_name as SNI and verifies the certificate against it.
struct Redirect {
  std::string url;
  std::string connect_to;
  std::string host_header;
};

Result<Redirect> RedirectForServerName(const std::string& url, const std::string& server_name) {
  CURLU* u = curl_url();
  if (u == nullptr) return Internal("curl_url failed");
  Redirect r;
  char* host = nullptr;
  char* port = nullptr;
  char* out = nullptr;
  Status st;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
    st = InvalidArgument("cannot parse URL \"" + url + "\"");
  } else {
    r.connect_to = server_name + ":" + port + ":" + host + ":" + port;
    r.host_header = std::string("Host: ") + host + ":" + port;
    if (curl_url_set(u, CURLUPART_HOST, server_name.c_str(), 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
      st = InvalidArgument("tls server_name \"" + server_name + "\" is not a valid host name");
    } else {
      r.url = out;
    }
  }
  curl_free(host);
  curl_free(port);
  curl_free(out);
  curl_url_cleanup(u);
  if (!st.ok()) return st;
  return r;
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlOptions options) : options_(std::move(options)) {
    GlobalInit();
    handle_ = curl_easy_init();
  }
  ~CurlTransport() override {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
  }
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  TransportStatus Post(const HttpRequest& request, HttpResponseHandler& handler) override {
    if (handle_ == nullptr) return {TransportError::kOther, Internal("curl_easy_init failed")};
    // Reset per request but keep the handle: its connection cache keeps the connection alive.
    curl_easy_reset(handle_);
    Call call{&handler, handle_, {}, false, {}};
    struct curl_slist* headers = nullptr;
    std::string url = request.url;
    struct curl_slist* connect_to = nullptr;
    if (!options_.tls.server_name.empty()) {
      auto r = RedirectForServerName(request.url, options_.tls.server_name);
      if (!r.ok()) return {TransportError::kOther, r.status()};
      url = r->url;
      connect_to = curl_slist_append(connect_to, r->connect_to.c_str());
      headers = curl_slist_append(headers, r->host_header.c_str());
    }
    for (const auto& [k, v] : request.headers) {
      headers = curl_slist_append(headers, (k + ": " + v).c_str());
    }
    // No "Expect: 100-continue" round trip for our small request bodies.
    headers = curl_slist_append(headers, "Expect:");

    char errbuf[CURL_ERROR_SIZE] = {0};
    CURL* h = handle_;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &CurlTransport::HeaderCallback);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &call);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CurlTransport::WriteCallback);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &call);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (connect_to != nullptr) curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
    if (!options_.proxy_url.empty()) {
      curl_easy_setopt(h, CURLOPT_PROXY, options_.proxy_url.c_str());
    } else {
      // Like Go's ProxyFromEnvironment (what Prometheus's own clients use): an http_proxy from
      // the environment never captures requests to loopback.
      curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    }
    if (!options_.tls.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.tls.ca_file.c_str());
    if (!options_.tls.cert_file.empty()) {
      curl_easy_setopt(h, CURLOPT_SSLCERT, options_.tls.cert_file.c_str());
    }
    if (!options_.tls.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, options_.tls.key_file.c_str());
    if (options_.tls.insecure_skip_verify) {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    curl_slist_free_all(connect_to);

    if (rc == CURLE_OK && !call.headers_delivered) {
      // An empty body: the handler still needs the status.
      call.status = DeliverHeaders(&call);
    }
    if (!call.status.ok()) return {TransportError::kHandler, call.status};
    if (rc == CURLE_OK) return {TransportError::kNone, Status::Ok()};

    // libcurl's error buffer keeps the first message it logged, which is not always the cause;
    // the code's own text comes first.
    std::string detail = curl_easy_strerror(rc);
    if (errbuf[0] != '\0') detail += std::string(" (") + errbuf + ")";
    switch (rc) {
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
      case CURLE_SSL_CONNECT_ERROR:
        return {TransportError::kConnect, Unavailable("cannot connect: " + detail)};
      case CURLE_OPERATION_TIMEDOUT:
        return {TransportError::kTimeout, DeadlineExceeded("timed out: " + detail)};
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
      case CURLE_PARTIAL_FILE:
      case CURLE_GOT_NOTHING:
        return {TransportError::kTransfer, Unavailable("connection broke: " + detail)};
      case CURLE_PEER_FAILED_VERIFICATION:
        return {TransportError::kOther, FailedPrecondition("TLS verification failed: " + detail)};
      default:
        return {TransportError::kOther, Unavailable("HTTP request failed: " + detail)};
    }
  }

 private:
  struct Call {
    HttpResponseHandler* handler;
    CURL* handle;
    std::string content_type;
    bool headers_delivered = false;
    Status status;
  };

  static size_t HeaderCallback(char* data, size_t size, size_t n, void* userdata) {
    auto* call = static_cast<Call*>(userdata);
    std::string_view line(data, size * n);
    if (line.substr(0, 5) == "HTTP/") {
      call->content_type.clear();  // a new response (after 100 Continue or a redirect)
    } else if (line.size() > 13 && strncasecmp(line.data(), "content-type:", 13) == 0) {
      std::string_view v = line.substr(13);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      call->content_type = std::string(v);
    }
    return size * n;
  }

  static size_t WriteCallback(char* data, size_t size, size_t n, void* userdata) {
    auto* call = static_cast<Call*>(userdata);
    if (!call->headers_delivered) {
      Status st = DeliverHeaders(call);
      if (!st.ok()) {
        call->status = st;
        return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
      }
    }
    Status st = call->handler->OnBody(std::string_view(data, size * n));
    if (!st.ok()) {
      call->status = st;
      return 0;
    }
    return size * n;
  }

  static Status DeliverHeaders(Call* call) {
    call->headers_delivered = true;
    long code = 0;
    curl_easy_getinfo(call->handle, CURLINFO_RESPONSE_CODE, &code);
    return call->handler->OnHeaders(static_cast<int>(code), call->content_type);
  }

 public:
  bool initialized() const { return handle_ != nullptr; }

 private:
  CurlOptions options_;
  CURL* handle_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<HttpTransport>> NewCurlTransport(const CurlOptions& options) {
  FORESIGHT_RETURN_IF_ERROR(CheckReadable("ca_file", options.tls.ca_file));
  FORESIGHT_RETURN_IF_ERROR(CheckReadable("cert_file", options.tls.cert_file));
  FORESIGHT_RETURN_IF_ERROR(CheckReadable("key_file", options.tls.key_file));
  if (options.tls.key_file.empty() != options.tls.cert_file.empty()) {
    return InvalidArgument("tls: cert_file and key_file go together");
  }
  auto t = std::make_unique<CurlTransport>(options);
  if (!t->initialized()) return Internal("curl_easy_init failed");
  return std::unique_ptr<HttpTransport>(std::move(t));
}

}  // namespace foresight::remote_read
