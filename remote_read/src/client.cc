#include "foresight/remote_read/client.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "foresight/common/text.h"
#include "foresight/common/version.h"

namespace foresight::remote_read {
namespace {

// How much of an error body we keep for the message: enough for Prometheus's one-line errors.
constexpr size_t kMaxErrorBodyBytes = 4096;

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

// Reads a secret from a file, as Prometheus does for *_file settings: trailing whitespace and
// newlines are not part of it. Read at every request, so a rotated secret needs no restart.
Result<std::string> ReadSecretFile(const std::string& what, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return InvalidArgument(what + " " + path + ": cannot read: " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  if (s.empty()) return InvalidArgument(what + " " + path + ": file is empty");
  return s;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// Receives one HTTP response and routes its body to the decoder its Content-Type calls for.
class ResponseRouter final : public HttpResponseHandler {
 public:
  ResponseRouter(std::span<const Query> queries, const SeriesCallback& callback,
                 const ClientOptions& options, DecodeStats* stats)
      : queries_(queries), callback_(callback), options_(options), stats_(stats) {}

  Status OnHeaders(int status_code, std::string_view content_type) override {
    status_code_ = status_code;
    content_type_ = std::string(content_type);
    if (status_code < 200 || status_code >= 300) {
      mode_ = Mode::kErrorBody;
      return Status::Ok();
    }
    const std::string ct = AsciiLower(content_type);
    if (StartsWith(ct, "application/x-streamed-protobuf")) {
      if (ct.find("proto=prometheus.chunkedreadresponse") == std::string::npos) {
        return FailedPrecondition("unknown response type: streamed Content-Type \"" +
                                  content_type_ + "\" does not carry prometheus.ChunkedReadResponse");
      }
      if (options_.response == ResponsePreference::kSamplesOnly) {
        return FailedPrecondition("server streamed chunks although only SAMPLES was accepted");
      }
      mode_ = Mode::kStreamed;
      decoder_ = std::make_unique<ChunkedStreamDecoder>(
          std::vector<Query>(queries_.begin(), queries_.end()), callback_, options_.max_frame_bytes,
          stats_);
      return Status::Ok();
    }
    if (StartsWith(ct, "application/x-protobuf")) {
      if (options_.response == ResponsePreference::kStreamedOnly) {
        return FailedPrecondition(
            "server answered SAMPLES although only STREAMED_XOR_CHUNKS was accepted");
      }
      mode_ = Mode::kSamples;
      return Status::Ok();
    }
    return FailedPrecondition("unknown response type: Content-Type \"" + content_type_ +
                              "\" (want " + std::string(kStreamedContentType) + " or " +
                              std::string(kSamplesContentType) + ")");
  }

  Status OnBody(std::string_view bytes) override {
    received_ += bytes.size();
    if (options_.max_total_bytes != 0 && received_ > options_.max_total_bytes) {
      return ResourceExhausted("response exceeds the limit of " +
                               std::to_string(options_.max_total_bytes) + " bytes");
    }
    switch (mode_) {
      case Mode::kErrorBody: {
        size_t room = kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, error_body_.size());
        error_body_.append(bytes.substr(0, room));
        return Status::Ok();
      }
      case Mode::kStreamed: return decoder_->Feed(bytes);
      case Mode::kSamples:
        samples_body_.append(bytes.data(), bytes.size());
        return Status::Ok();
      case Mode::kNone: return Internal("body before headers");
    }
    return Status::Ok();
  }

  // Completes decoding after the transfer ended cleanly.
  Status Finish() {
    switch (mode_) {
      case Mode::kStreamed: return decoder_->Finish();
      case Mode::kSamples: {
        size_t limit = options_.max_total_bytes == 0 ? SIZE_MAX : options_.max_total_bytes;
        Status st = DecodeSamplesResponse(samples_body_, queries_, limit, callback_, stats_);
        // DecodeSamplesResponse counts bytes itself; OnBody did not.
        samples_emitted_ = true;
        return st;
      }
      default: return Status::Ok();
    }
  }

  int status_code() const { return status_code_; }
  bool is_error_status() const { return mode_ == Mode::kErrorBody; }
  bool streamed() const { return mode_ == Mode::kStreamed; }
  std::string error_text() const {
    std::string t = error_body_;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    return t;
  }
  // Whether any series may have reached the caller, after which a retry would repeat them.
  bool delivered() const {
    return (decoder_ != nullptr && decoder_->series_emitted() > 0) || samples_emitted_;
  }
  uint64_t received() const { return received_; }

 private:
  enum class Mode { kNone, kErrorBody, kStreamed, kSamples };

  std::span<const Query> queries_;
  const SeriesCallback& callback_;
  const ClientOptions& options_;
  DecodeStats* stats_;
  Mode mode_ = Mode::kNone;
  int status_code_ = 0;
  std::string content_type_;
  std::unique_ptr<ChunkedStreamDecoder> decoder_;
  std::string samples_body_;
  std::string error_body_;
  uint64_t received_ = 0;
  bool samples_emitted_ = false;
};

}  // namespace

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options,
                                               std::unique_ptr<HttpTransport> transport,
                                               Clock* clock, uint64_t seed) {
  if (options.url.empty()) return InvalidArgument("remote read: no URL given");
  if (!StartsWith(options.url, "http://") && !StartsWith(options.url, "https://")) {
    return InvalidArgument("remote read URL \"" + options.url + "\" must start with http:// or https://");
  }
  if (options.retry.max_attempts < 1) {
    return InvalidArgument("remote read: retry max_attempts must be at least 1");
  }
  if (!options.bearer_token.empty() && !options.bearer_token_file.empty()) {
    return InvalidArgument("remote read: give bearer_token or bearer_token_file, not both");
  }
  if (options.basic_auth && (!options.bearer_token.empty() || !options.bearer_token_file.empty())) {
    return InvalidArgument("remote read: basic_auth and a bearer token are mutually exclusive");
  }
  if (options.basic_auth && !options.basic_auth->password.empty() &&
      !options.basic_auth->password_file.empty()) {
    return InvalidArgument("remote read: give basic_auth password or password_file, not both");
  }
  if (transport == nullptr) {
    auto t = NewCurlTransport(options.http);
    if (!t.ok()) return t.status();
    transport = std::move(t).value();
  }
  if (clock == nullptr) clock = &SystemClock::Instance();
  return std::unique_ptr<Client>(new Client(std::move(options), std::move(transport), clock, seed));
}

Client::Client(ClientOptions options, std::unique_ptr<HttpTransport> transport, Clock* clock,
               uint64_t seed)
    : options_(std::move(options)), transport_(std::move(transport)), clock_(clock), rng_(seed) {}

Result<HttpRequest> Client::BuildRequest(std::span<const Query> queries) {
  std::vector<ResponseType> accepted;
  switch (options_.response) {
    case ResponsePreference::kStreamedThenSamples:
      accepted = {ResponseType::kStreamedXorChunks, ResponseType::kSamples};
      break;
    case ResponsePreference::kSamplesOnly: accepted = {ResponseType::kSamples}; break;
    case ResponsePreference::kStreamedOnly: accepted = {ResponseType::kStreamedXorChunks}; break;
  }
  auto body = EncodeReadRequest(queries, accepted);
  if (!body.ok()) return body.status();
  HttpRequest req;
  req.url = options_.url;
  req.body = std::move(body).value();
  req.headers = {
      {"Content-Type", "application/x-protobuf"},
      {"Content-Encoding", "snappy"},
      {"Accept-Encoding", "snappy"},
      {"X-Prometheus-Remote-Read-Version", "0.1.0"},
      {"User-Agent", kUserAgent},
  };
  if (options_.basic_auth) {
    std::string password = options_.basic_auth->password;
    if (!options_.basic_auth->password_file.empty()) {
      auto p = ReadSecretFile("basic_auth password_file", options_.basic_auth->password_file);
      if (!p.ok()) return p.status();
      password = std::move(p).value();
    }
    req.headers.emplace_back("Authorization",
                             "Basic " + Base64(options_.basic_auth->username + ":" + password));
  }
  std::string token = options_.bearer_token;
  if (!options_.bearer_token_file.empty()) {
    auto t = ReadSecretFile("bearer_token_file", options_.bearer_token_file);
    if (!t.ok()) return t.status();
    token = std::move(t).value();
  }
  if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
  for (const auto& h : options_.headers) req.headers.push_back(h);
  return req;
}

std::chrono::nanoseconds Client::Backoff(int attempt) {
  double base = static_cast<double>(options_.retry.initial_backoff.count()) *
                std::pow(options_.retry.multiplier, attempt - 1);
  base = std::min(base, static_cast<double>(options_.retry.max_backoff.count()));
  std::uniform_real_distribution<double> jitter(1.0 - options_.retry.jitter,
                                                1.0 + options_.retry.jitter);
  double ms = base * jitter(rng_);
  return std::chrono::nanoseconds(static_cast<int64_t>(ms * 1e6));
}

Status Client::Read(std::span<const Query> queries, const SeriesCallback& callback,
                    ReadStats* stats) {
  ReadStats own;
  if (stats == nullptr) stats = &own;
  const auto start = clock_->MonotonicNow();
  const std::string where = "remote read " + options_.url;
  auto request = BuildRequest(queries);
  if (!request.ok()) return request.status().WithContext(where);

  Status last;
  bool fell_back = false;
  for (int attempt = 1; attempt <= options_.retry.max_attempts; ++attempt) {
    stats->attempts = attempt;
    ResponseRouter router(queries, callback, options_, &stats->decode);
    TransportStatus ts = transport_->Post(*request, router);
    bool retryable = false;
    if (ts.error == TransportError::kHandler) {
      // A decode error, a limit, or the caller's own stop: none of these improves on retry.
      last = ts.status;
    } else if (ts.error != TransportError::kNone) {
      last = ts.status;
      retryable = ts.error != TransportError::kOther;
    } else if (router.is_error_status()) {
      const int code = router.status_code();
      std::string text = router.error_text();
      std::string msg = "server returned HTTP " + std::to_string(code) +
                        (text.empty() ? std::string() : ": " + text);
      if (code >= 500) {
        last = Unavailable(msg);
        retryable = true;
      } else {
        last = Status(code == 429 ? StatusCode::kResourceExhausted : StatusCode::kFailedPrecondition,
                      msg);
        // A server that rejects the streamed response type outright gets one SAMPLES-only try:
        // some remote-read implementations answer 400 instead of ignoring the unknown type.
        if (code == 400 && !fell_back &&
            options_.response == ResponsePreference::kStreamedThenSamples &&
            AsciiLower(text).find("response type") != std::string::npos) {
          fell_back = true;
          std::vector<ResponseType> samples_only = {ResponseType::kSamples};
          auto body = EncodeReadRequest(queries, samples_only);
          if (body.ok()) {
            request->body = std::move(body).value();
            --attempt;  // the fallback is not a retry
            continue;
          }
        }
      }
    } else {
      stats->response_type =
          router.streamed() ? ResponseType::kStreamedXorChunks : ResponseType::kSamples;
      last = router.Finish();
      if (last.ok()) {
        stats->duration = clock_->MonotonicNow() - start;
        return last;
      }
    }
    if (!retryable || router.delivered() || attempt == options_.retry.max_attempts) break;
    clock_->SleepFor(Backoff(attempt));
  }
  stats->duration = clock_->MonotonicNow() - start;
  std::string suffix;
  if (stats->attempts > 1) suffix = " (after " + std::to_string(stats->attempts) + " attempts)";
  return last.WithContext(where + suffix);
}

}  // namespace foresight::remote_read
