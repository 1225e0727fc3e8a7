// kind "http": one HTTP request, e.g. to a chat webhook or a deployment API.
//
//   - kind: http
//     method: POST                  # GET, POST, PUT, PATCH, DELETE; default POST
//     url: "https://deploy.example/api/scale/{{ .Labels.service }}"   # required
//     headers: {X-Reason: "{{ .Annotations.summary }}"}                # values are templates
//     body: '{"service": "{{ .Labels.service }}"}'   # default none; not with GET
//     bearer_token_file: secrets/deploy-token        # read at every run; relative to the config
//     expect_status: [200, 202]                      # default: any 2xx
//     max_output_bytes: 65536                        # of the response body kept
//
// A body goes out as application/json unless headers set Content-Type. Redirects are not
// followed (a 3xx is an unexpected status unless listed). The scheme is fixed by the config:
// the URL must start with http:// or https:// before any template.

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "foresight/common/text.h"
#include "foresight/http/server.h"
#include "foresight/common/timeparse.h"
#include "foresight/common/version.h"
#include "foresight/webhook/action.h"
#include "foresight/webhook/config.h"

namespace foresight::webhook {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kDefaultMaxOutputBytes = 65536;

bool HasLineBreak(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  const std::atomic<bool>* abort = nullptr;
  size_t max_output_bytes = 0;
  std::string* output = nullptr;
  bool* truncated = nullptr;
};

size_t WriteBody(char* data, size_t size, size_t n, void* arg) {
  auto* t = static_cast<Transfer*>(arg);
  const size_t len = size * n;
  const size_t room = t->max_output_bytes - std::min(t->max_output_bytes, t->output->size());
  const size_t keep = std::min(room, len);
  t->output->append(data, keep);
  if (keep < len) *t->truncated = true;
  return len;  // the rest is read and dropped, so the status still counts
}

// libcurl calls this at least about once a second, also while it waits for a response.
int Progress(void* arg, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(arg);
  return t->abort != nullptr && t->abort->load() ? 1 : 0;
}

struct CurlDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::string UrlEncodeValue(std::string_view v) { return http::UrlEncode(v); }

// The inside of a JSON string: a value can sit between quotes the body's author wrote without
// ending the string.
std::string JsonEscapeValue(std::string_view v) {
  const std::string quoted = nlohmann::json(std::string(v)).dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

class HttpAction final : public Action {
 public:
  struct Spec {
    std::string method = "POST";
    Template url;
    std::vector<std::pair<std::string, Template>> headers;
    std::optional<Template> body;
    bool body_is_json = true;  // values rendered into the body are JSON-escaped
    std::string bearer_token_file;
    std::vector<int> expect_status;  // empty: any 2xx
    size_t max_output_bytes = kDefaultMaxOutputBytes;
  };
  explicit HttpAction(Spec spec) : spec_(std::move(spec)) {}

  Result<std::string> Describe(const TemplateData& data) const override {
    Result<Request> request = Render(data);
    if (!request.ok()) return request.status();
    return spec_.method + " " + request->url;
  }

  StepResult Run(const StepContext& ctx) const override;

 private:
  struct Request {
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<std::string> body;
  };

  Result<Request> Render(const TemplateData& data) const {
    Request r;
    // Values are percent-encoded: a label can fill a path segment or a query value, never add
    // a '/', '?', '#' or '@' of its own (the scheme and host are literal, checked at load).
    Result<std::string> url = spec_.url.Render(data, &UrlEncodeValue);
    if (!url.ok()) return url.status();
    r.url = std::move(*url);
    for (const auto& [name, value] : spec_.headers) {
      Result<std::string> v = value.Render(data);
      if (!v.ok()) return v.status();
      // A label value must not be able to add headers.
      if (HasLineBreak(*v)) {
        return InvalidArgument("header " + yaml::Quote(name) +
                               " would contain a line break or NUL once rendered");
      }
      r.headers.emplace_back(name, std::move(*v));
    }
    if (spec_.body) {
      Result<std::string> b =
          spec_.body->Render(data, spec_.body_is_json ? &JsonEscapeValue : nullptr);
      if (!b.ok()) return b.status();
      r.body = std::move(*b);
    }
    return r;
  }

  std::string Expected() const {
    if (spec_.expect_status.empty()) return "2xx";
    std::string out;
    for (int s : spec_.expect_status) out += (out.empty() ? "" : ", ") + std::to_string(s);
    return out;
  }

  bool IsExpected(long status) const {
    if (spec_.expect_status.empty()) return status >= 200 && status < 300;
    for (int s : spec_.expect_status) {
      if (s == status) return true;
    }
    return false;
  }

  Spec spec_;
};

StepResult HttpAction::Run(const StepContext& ctx) const {
  StepResult result;
  auto finish = [&](StepState state, std::string error) {
    result.state = state;
    result.error = std::move(error);
    return result;
  };
  Result<Request> request = Render(*ctx.data);
  if (!request.ok()) return finish(StepState::kFailed, request.status().message());
  const std::string what = spec_.method + " " + request->url;

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  bool has_content_type = false;
  for (const auto& [name, value] : request->headers) {
    if (AsciiLower(name) == "content-type") has_content_type = true;
    // "Name:" would remove the header; "Name;" is libcurl's way to send it empty.
    add_header(value.empty() ? name + ";" : name + ": " + value);
  }
  if (request->body && !has_content_type) add_header("Content-Type: application/json");
  if (!spec_.bearer_token_file.empty()) {
    Result<std::string> token = ReadSecretFile(spec_.bearer_token_file);
    if (!token.ok()) {
      return finish(StepState::kFailed, what + ": bearer_token_file: " + token.status().message());
    }
    if (HasLineBreak(*token)) {
      return finish(StepState::kFailed, what + ": bearer_token_file " + spec_.bearer_token_file +
                                            " holds more than one line");
    }
    add_header("Authorization: Bearer " + *token);
  }
  add_header("Expect:");  // no 100-continue round trip

  GlobalInit();
  std::unique_ptr<CURL, CurlDeleter> handle(curl_easy_init());
  if (!handle) return finish(StepState::kFailed, what + ": curl_easy_init failed");
  CURL* h = handle.get();
  Transfer transfer{ctx.abort, spec_.max_output_bytes, &result.output, &result.output_truncated};
  char errbuf[CURL_ERROR_SIZE] = {0};
  const std::string user_agent = std::string("foresight_webhook/") + kVersion;
  curl_easy_setopt(h, CURLOPT_URL, request->url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(ctx.timeout.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &Progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  // As Go's ProxyFromEnvironment: an http_proxy from the environment never captures loopback.
  curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
  if (spec_.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    if (spec_.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, spec_.method.c_str());
    if (request->body || spec_.method != "DELETE") {
      const std::string& body = request->body ? *request->body : std::string();
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body.c_str());
    }
  }

  const CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return finish(StepState::kAborted, what + ": aborted");
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return finish(StepState::kTimedOut, what + ": timed out after " + FormatDuration(ctx.timeout));
  }
  if (rc != CURLE_OK) {
    // libcurl's error buffer keeps the first message it logged, not always the cause; the
    // code's own text comes first.
    std::string detail = curl_easy_strerror(rc);
    if (errbuf[0] != '\0') detail += std::string(" (") + errbuf + ")";
    return finish(StepState::kFailed, what + ": " + detail);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  result.exit_code = static_cast<int>(status);
  if (!IsExpected(status)) {
    return finish(StepState::kFailed, what + ": unexpected status " + std::to_string(status) +
                                          " (want " + Expected() + ")");
  }
  return result;
}

class HttpKind final : public ActionKind {
 public:
  std::string name() const override { return "http"; }
  std::vector<std::string> keys() const override {
    return {"method",          "url", "headers", "body", "bearer_token_file", "expect_status",
            "max_output_bytes"};
  }

  Result<std::unique_ptr<Action>> Configure(const yaml::Fields& fields,
                                            const yaml::Decoder& decoder,
                                            const std::string& where) const override {
    return ConfigureRelativeTo(fields, decoder, where, "");
  }

  Result<std::unique_ptr<Action>> ConfigureRelativeTo(const yaml::Fields& fields,
                                                      const yaml::Decoder& decoder,
                                                      const std::string& where,
                                                      const std::string& base_dir) const override {
    const std::string label = where.starts_with("in ") ? where.substr(3) : where;
    auto field = [&](const char* key) -> const yaml::Field* {
      auto it = fields.find(key);
      return it == fields.end() ? nullptr : &it->second;
    };
    HttpAction::Spec spec;
    if (const yaml::Field* f = field("method")) {
      Result<std::string> m = decoder.String(*f, label + ": method");
      if (!m.ok()) return m.status();
      if (*m != "GET" && *m != "POST" && *m != "PUT" && *m != "PATCH" && *m != "DELETE") {
        return decoder.Error(
            *f, label + ": method " + yaml::Quote(*m) + " must be GET, POST, PUT, PATCH or DELETE");
      }
      spec.method = *m;
    }

    const yaml::Field* url = field("url");
    if (url == nullptr) {
      const yaml::Field* kind = field("kind");
      return decoder.Error(kind ? kind->key.Mark() : YAML::Mark::null_mark(),
                           label + ": missing required key \"url\"");
    }
    Result<std::string> url_text = decoder.NonEmptyString(*url, label + ": url");
    if (!url_text.ok()) return url_text.status();
    const size_t scheme = url_text->starts_with("http://")    ? 7
                          : url_text->starts_with("https://") ? 8
                                                              : 0;
    if (scheme == 0 || url_text->size() == scheme) {
      return decoder.Error(*url, label + ": url " + yaml::Quote(*url_text) +
                                     " must start with http:// or https:// and a host");
    }
    // The scheme and host are literal: a label must never choose where a request (and its
    // bearer token) goes.
    const size_t authority_end = url_text->find_first_of("/?#", scheme);
    if (url_text->substr(0, authority_end).find("{{") != std::string::npos) {
      return decoder.Error(*url, label + ": url " + yaml::Quote(*url_text) +
                                     ": the scheme and host must be literal, not templated");
    }
    Result<Template> url_template = DecodeTemplate(decoder, *url, label + ": url");
    if (!url_template.ok()) return url_template.status();
    spec.url = std::move(*url_template);

    if (const yaml::Field* f = field("bearer_token_file")) {
      Result<std::string> s = decoder.NonEmptyString(*f, label + ": bearer_token_file");
      if (!s.ok()) return s.status();
      spec.bearer_token_file = yaml::ResolvePath(base_dir, *s);
    }

    if (const yaml::Field* f = field("headers")) {
      Result<std::map<std::string, std::string>> checked =
          decoder.StringMap(*f, label + ": headers", &ValidHttpHeaderName, "header name");
      if (!checked.ok()) return checked.status();
      std::map<std::string, YAML::Mark> seen;  // lower-cased: header names are case-insensitive
      for (auto it = f->value.begin(); it != f->value.end(); ++it) {
        const std::string& name = it->first.Scalar();
        const std::string lower = AsciiLower(name);
        if (lower == "content-length" || lower == "transfer-encoding") {
          return decoder.Error(it->first, label + ": header " + yaml::Quote(name) +
                                              " is set by the client and cannot be configured");
        }
        if (lower == "authorization" && field("bearer_token_file")) {
          return decoder.Error(it->first, label + ": header " + yaml::Quote(name) +
                                              " and bearer_token_file exclude each other");
        }
        if (!seen.emplace(lower, it->first.Mark()).second) {
          return decoder.Error(it->first, label + ": duplicate header " + yaml::Quote(name));
        }
        const yaml::Field value{it->first, it->second};
        const std::string what = label + ": header " + yaml::Quote(name);
        Result<Template> t = DecodeTemplate(decoder, value, what);
        if (!t.ok()) return t.status();
        if (HasLineBreak(t->source())) {
          return decoder.Error(value, what + " must not contain line breaks or NUL");
        }
        spec.headers.emplace_back(name, std::move(*t));
      }
    }

    if (const yaml::Field* f = field("body")) {
      if (spec.method == "GET") {
        return decoder.Error(f->key, label + ": a GET request has no body");
      }
      Result<Template> t = DecodeTemplate(decoder, *f, label + ": body");
      if (!t.ok()) return t.status();
      spec.body = std::move(*t);
      // JSON unless the headers say otherwise (the request is sent as application/json then).
      for (const auto& [name, value] : spec.headers) {
        if (AsciiLower(name) == "content-type") {
          spec.body_is_json = AsciiLower(value.source()).find("json") != std::string::npos;
        }
      }
    }

    if (const yaml::Field* f = field("expect_status")) {
      FORESIGHT_RETURN_IF_ERROR(
          decoder.List(*f, label + ": expect_status", "HTTP statuses such as [200, 202]"));
      if (f->value.size() == 0) {
        return decoder.Error(*f, label + ": expect_status must not be empty");
      }
      for (const YAML::Node& item : f->value) {
        const std::string what =
            label + ": expect_status[" + std::to_string(spec.expect_status.size()) + "]";
        Result<int64_t> n = decoder.PositiveInt(yaml::Field{item, item}, what);
        if (!n.ok() || *n < 100 || *n > 599) {
          return decoder.Error(item, what + " must be an HTTP status 100-599, got " +
                                         (item.IsScalar() ? yaml::Quote(item.Scalar())
                                                          : std::string(decoder.Kind(item))));
        }
        if (std::find(spec.expect_status.begin(), spec.expect_status.end(), *n) !=
            spec.expect_status.end()) {
          return decoder.Error(item,
                               label + ": expect_status " + item.Scalar() + " is listed twice");
        }
        spec.expect_status.push_back(static_cast<int>(*n));
      }
    }

    if (const yaml::Field* f = field("max_output_bytes")) {
      Result<int64_t> n = decoder.PositiveInt(*f, label + ": max_output_bytes");
      if (!n.ok()) return n.status();
      spec.max_output_bytes = static_cast<size_t>(*n);
    }
    return std::unique_ptr<Action>(std::make_unique<HttpAction>(std::move(spec)));
  }
};

}  // namespace

std::unique_ptr<ActionKind> NewHttpKind() { return std::make_unique<HttpKind>(); }

}  // namespace foresight::webhook
