#include "foresight/webhook/web.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdint>
#include <string_view>
#include <utility>

#include "foresight/common/log.h"
#include "foresight/common/text.h"
#include "foresight/common/timeparse.h"
#include "foresight/common/version.h"
#include "foresight/yaml/decoder.h"

namespace foresight::webhook {
namespace {

using json = nlohmann::json;
using http::Request;
using http::Response;

Response Success(int status, json data) {
  json body = {{"status", "success"}, {"data", std::move(data)}};
  return Response::Json(status, body.dump());
}

Response Failure(int status, const std::string& type, const std::string& message) {
  json body = {{"status", "error"}, {"errorType", type}, {"error", message}};
  return Response::Json(status, body.dump());
}

Response MethodNotAllowed(const std::string& allow) {
  Response r = Failure(405, "method_not_allowed", "use " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

std::string Base64Decode(std::string_view in, bool* ok) {
  static const std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    size_t v = kAlphabet.find(in[i]);
    if (v == std::string_view::npos) {
      *ok = false;
      return "";
    }
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') {
      *ok = false;
      return "";
    }
  }
  *ok = true;
  return out;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

// "application/json" with optional parameters ("; charset=utf-8").
bool IsJsonContentType(std::string_view value) {
  std::string_view media = TrimSpace(value.substr(0, value.find(';')));
  return media.size() == 16 && StartsWithNoCase(media, "application/json");
}

std::optional<int64_t> ParseId(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

json TimeOrNull(int64_t ms) {
  if (ms == 0) return nullptr;
  return FormatRfc3339Ms(ms);
}

json StepJson(const StepRecord& s) {
  json j = {{"index", s.index},
            {"name", s.name},
            {"kind", s.kind},
            {"state", StepStateName(s.state)},
            {"started", TimeOrNull(s.started_ms)},
            {"finished", TimeOrNull(s.finished_ms)},
            {"detail", s.detail},
            {"exit_code", s.exit_code ? json(*s.exit_code) : json(nullptr)},
            {"output", s.output},
            {"output_truncated", s.output_truncated},
            {"error", s.error}};
  if (s.started_ms != 0 && s.finished_ms != 0) {
    j["duration_seconds"] = static_cast<double>(s.finished_ms - s.started_ms) / 1000.0;
  } else {
    j["duration_seconds"] = nullptr;
  }
  return j;
}

json JobJson(const JobRecord& job, bool with_steps) {
  json alert = json::parse(job.alert_json, nullptr, false);
  if (alert.is_discarded()) alert = nullptr;
  json j = {{"id", job.id},
            {"notification_id", job.notification_id == 0 ? json(nullptr)
                                                         : json(job.notification_id)},
            {"playbook", job.playbook},
            {"phase", PhaseName(job.phase)},
            {"target", job.target},
            {"fingerprint", job.fingerprint},
            {"state", JobStateName(job.state)},
            {"dry_run", job.dry_run},
            {"created", TimeOrNull(job.created_ms)},
            {"started", TimeOrNull(job.started_ms)},
            {"finished", TimeOrNull(job.finished_ms)},
            {"error", job.error},
            {"alert", alert}};
  if (with_steps) {
    json steps = json::array();
    for (const StepRecord& s : job.steps) steps.push_back(StepJson(s));
    j["steps"] = std::move(steps);
  }
  return j;
}

// Labels (`label_names`: Prometheus label names) or annotations of a manual trigger, held to
// what a notification's payload parser requires: no NUL anywhere (an exec argument would end
// there), non-empty names.
Result<LabelSet> StringMapOf(const json& j, const std::string& what, bool label_names) {
  LabelSet out;
  if (j.is_null()) return out;
  if (!j.is_object()) return InvalidArgument(what + ": must be an object of strings");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key.empty() || key.find('\0') != std::string::npos ||
        (label_names && !yaml::ValidLabelName(key))) {
      return InvalidArgument(what + "[\"" + key + "\"]: not a valid " +
                             (label_names ? "label name" : "name"));
    }
    if (!it.value().is_string()) {
      return InvalidArgument(what + "[\"" + key + "\"]: must be a string");
    }
    std::string value = it.value().get<std::string>();
    if (value.find('\0') != std::string::npos) {
      return InvalidArgument(what + "[\"" + key + "\"]: must not contain NUL");
    }
    out[key] = std::move(value);
  }
  return out;
}

int StatusFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kResourceExhausted: return 503;
    case StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

const char* ErrorTypeFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return "bad_data";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kFailedPrecondition: return "conflict";
    case StatusCode::kResourceExhausted: return "unavailable";
    case StatusCode::kUnavailable: return "unavailable";
    default: return "internal";
  }
}

Response FromStatus(const Status& st) {
  Response r = Failure(StatusFor(st), ErrorTypeFor(st), st.message());
  if (st.code() == StatusCode::kResourceExhausted || st.code() == StatusCode::kUnavailable) {
    r.headers.emplace_back("Retry-After", "5");
  }
  return r;
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  // Keep the compiler from turning the loop into an early exit.
  volatile unsigned char result = diff;
  return result == 0;
}

Result<Credentials> LoadCredentials(const WebConfig& web, bool insecure) {
  Credentials c;
  if (!web.HasAuth()) {
    if (!insecure) {
      return InvalidArgument(
          "no authentication configured (web.bearer_token_file or web.basic_auth): refusing to "
          "accept notifications from anyone; configure one, or start with --web.insecure");
    }
    c.insecure = true;
    return c;
  }
  if (!web.bearer_token_file.empty()) {
    Result<std::string> token = ReadSecretFile(web.bearer_token_file);
    if (!token.ok()) return token.status().WithContext("web.bearer_token_file");
    c.bearer_token = *token;
  }
  if (web.basic_auth) {
    Result<std::string> password = ReadSecretFile(web.basic_auth->password_file);
    if (!password.ok()) return password.status().WithContext("web.basic_auth.password_file");
    c.basic_username = web.basic_auth->username;
    c.basic_password = *password;
  }
  return c;
}

WebApi::WebApi(Engine* engine, Metrics* metrics, Credentials credentials, Options options)
    : engine_(engine),
      metrics_(metrics),
      options_(std::move(options)),
      credentials_(std::make_shared<const Credentials>(std::move(credentials))) {}

void WebApi::SetCredentials(Credentials credentials) {
  auto next = std::make_shared<const Credentials>(std::move(credentials));
  std::lock_guard<std::mutex> lock(credentials_mu_);
  credentials_ = std::move(next);
}

void WebApi::Refused(int status) {
  if (status == 413) {
    metrics_->NotificationReceived();
    metrics_->NotificationRejected("too_large");
  }
}

std::optional<Response> WebApi::Authenticate(const Request& request) const {
  std::shared_ptr<const Credentials> c;
  {
    std::lock_guard<std::mutex> lock(credentials_mu_);
    c = credentials_;
  }
  if (c->insecure) return std::nullopt;
  const std::string header = request.Header("authorization");
  bool ok = false;
  if (!c->bearer_token.empty() && StartsWithNoCase(header, "bearer ")) {
    ok = ConstantTimeEquals(TrimSpace(std::string_view(header).substr(7)), c->bearer_token);
  } else if (!c->basic_username.empty() && StartsWithNoCase(header, "basic ")) {
    bool decoded_ok = false;
    std::string decoded = Base64Decode(TrimSpace(std::string_view(header).substr(6)), &decoded_ok);
    size_t colon = decoded.find(':');
    if (decoded_ok && colon != std::string::npos) {
      // Both compared, always, so the time does not tell which one was wrong.
      bool user = ConstantTimeEquals(std::string_view(decoded).substr(0, colon),
                                     c->basic_username);
      bool pass = ConstantTimeEquals(std::string_view(decoded).substr(colon + 1),
                                     c->basic_password);
      ok = user && pass;
    }
  }
  if (ok) return std::nullopt;
  Response r = Failure(401, "unauthorized",
                       header.empty() ? "credentials required" : "invalid credentials");
  std::string challenge;
  if (!c->bearer_token.empty()) challenge = "Bearer realm=\"foresight_webhook\"";
  if (!c->basic_username.empty()) {
    if (!challenge.empty()) r.headers.emplace_back("WWW-Authenticate", challenge);
    challenge = "Basic realm=\"foresight_webhook\", charset=\"UTF-8\"";
  }
  r.headers.emplace_back("WWW-Authenticate", challenge);
  return r;
}

Response WebApi::Handle(const Request& request) {
  const std::string& path = request.path;
  if (path == "/-/healthy") {
    if (request.method != "GET" && request.method != "HEAD") return MethodNotAllowed("GET");
    return Response::Text(200, "Healthy.\n");
  }
  if (path == "/-/ready") {
    if (request.method != "GET" && request.method != "HEAD") return MethodNotAllowed("GET");
    if (!ready_.load()) return Response::Text(503, "Not ready.\n");
    return Response::Text(200, "Ready.\n");
  }

  if (path == "/api/v1/notifications") {
    metrics_->NotificationReceived();
    if (auto denied = Authenticate(request)) {
      metrics_->NotificationRejected("unauthorized");
      return *denied;
    }
    if (request.method != "POST") {
      metrics_->NotificationRejected("method");
      return MethodNotAllowed("POST");
    }
    return Notifications(request);
  }

  if (auto denied = Authenticate(request)) return *denied;

  if (path == "/metrics") {
    if (request.method != "GET" && request.method != "HEAD") return MethodNotAllowed("GET");
    Response r = Response::Text(200, metrics_->Serialize());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (path == "/") {
    if (request.method != "GET" && request.method != "HEAD") return MethodNotAllowed("GET");
    return Landing();
  }
  if (path == "/-/reload") {
    if (request.method != "POST" && request.method != "PUT") return MethodNotAllowed("POST, PUT");
    if (!options_.reload) return Failure(500, "internal", "reload is not wired");
    Status st = options_.reload();
    if (!st.ok()) return Failure(500, "reload_failed", st.message());
    return Response::Text(200, "Reloaded.\n");
  }
  if (path == "/api/v1/jobs") {
    if (request.method != "GET") return MethodNotAllowed("GET");
    return Jobs(request);
  }
  static constexpr std::string_view kJobPrefix = "/api/v1/jobs/";
  if (path.size() > kJobPrefix.size() && path.compare(0, kJobPrefix.size(), kJobPrefix) == 0) {
    return Job(request, path.substr(kJobPrefix.size()));
  }
  if (path == "/api/v1/pause" || path == "/api/v1/resume") {
    if (request.method != "POST") return MethodNotAllowed("POST");
    const bool pause = path == "/api/v1/pause";
    Status st = engine_->SetPaused(pause);
    if (!st.ok()) return FromStatus(st);
    return Success(200, {{"paused", pause}});
  }
  if (path == "/api/v1/trigger") {
    if (request.method != "POST") return MethodNotAllowed("POST");
    return Trigger(request);
  }
  return Failure(404, "not_found", "no such endpoint: " + path);
}

Response WebApi::Notifications(const Request& request) {
  if (!IsJsonContentType(request.Header("content-type"))) {
    metrics_->NotificationRejected("content_type");
    return Failure(415, "bad_data",
                   "Content-Type must be application/json, got \"" +
                       request.Header("content-type") + "\"");
  }
  ParseResult parsed = ParseNotification(request.body);
  if (!parsed.status.ok()) {
    metrics_->NotificationRejected(ParseErrorKindName(parsed.kind));
    return Failure(parsed.kind == ParseErrorKind::kTooLarge ? 413 : 400, "bad_data",
                   parsed.status.message());
  }
  Result<IntakeResult> accepted = engine_->Accept(parsed.notification, request.body);
  if (!accepted.ok()) {
    const bool full = accepted.status().code() == StatusCode::kResourceExhausted;
    metrics_->NotificationRejected(full ? "queue_full" : "journal_error");
    log::Error("notification not accepted",
               {{"receiver", parsed.notification.receiver},
                {"group_key", parsed.notification.group_key},
                {"err", accepted.status().message()}});
    if (full) return FromStatus(accepted.status());
    return Failure(500, "internal", accepted.status().message());
  }
  json alerts = json::array();
  for (const AlertOutcome& o : accepted->outcomes) {
    alerts.push_back({{"index", o.alert_index},
                      {"fingerprint", o.fingerprint},
                      {"playbook", o.playbook},
                      {"outcome", o.outcome},
                      {"job_id", o.job_id == 0 ? json(nullptr) : json(o.job_id)}});
  }
  return Success(200, {{"notification_id", accepted->notification_id}, {"alerts", alerts}});
}

Response WebApi::Jobs(const Request& request) {
  JobFilter filter;
  if (auto state = request.Query("state"); state && !state->empty()) {
    filter.state = ParseJobState(*state);
    if (!filter.state) {
      return Failure(400, "bad_data",
                     "state: unknown job state \"" + *state +
                         "\" (queued, running, succeeded, failed, aborted, interrupted)");
    }
  }
  if (auto phase = request.Query("phase"); phase && !phase->empty()) {
    filter.phase = ParsePhase(*phase);
    if (!filter.phase) {
      return Failure(400, "bad_data",
                     "phase: unknown phase \"" + *phase + "\" (firing, resolved, manual)");
    }
  }
  if (auto playbook = request.Query("playbook")) filter.playbook = *playbook;
  if (auto target = request.Query("target")) filter.target = *target;
  if (auto limit = request.Query("limit")) {
    auto n = ParseId(*limit);
    if (!n || *n > 1000) {
      return Failure(400, "bad_data", "limit: want an integer from 1 to 1000, got \"" + *limit +
                                          "\"");
    }
    filter.limit = static_cast<size_t>(*n);
  }
  if (auto before = request.Query("before")) {
    auto n = ParseId(*before);
    if (!n) return Failure(400, "bad_data", "before: want a job id, got \"" + *before + "\"");
    filter.before_id = *n;
  }
  Result<std::vector<JobRecord>> jobs = engine_->journal()->ListJobs(filter);
  if (!jobs.ok()) return FromStatus(jobs.status());
  json out = json::array();
  for (const JobRecord& job : *jobs) out.push_back(JobJson(job, false));
  return Success(200, {{"jobs", out}, {"paused", engine_->paused()}});
}

Response WebApi::Job(const Request& request, const std::string& rest) {
  std::string_view id_text = rest;
  bool abort = false;
  static constexpr std::string_view kAbort = "/abort";
  if (id_text.size() > kAbort.size() &&
      id_text.substr(id_text.size() - kAbort.size()) == kAbort) {
    id_text.remove_suffix(kAbort.size());
    abort = true;
  }
  std::optional<int64_t> id = ParseId(id_text);
  if (!id) return Failure(404, "not_found", "no such job: \"" + std::string(id_text) + "\"");
  if (abort) {
    if (request.method != "POST") return MethodNotAllowed("POST");
    Status st = engine_->Abort(*id);
    if (!st.ok()) return FromStatus(st);
    return Success(202, {{"id", *id}, {"abort", "requested"}});
  }
  if (request.method != "GET") return MethodNotAllowed("GET");
  Result<std::optional<JobRecord>> job = engine_->journal()->GetJob(*id);
  if (!job.ok()) return FromStatus(job.status());
  if (!job->has_value()) return Failure(404, "not_found", "no job " + std::to_string(*id));
  return Success(200, JobJson(**job, true));
}

Response WebApi::Trigger(const Request& request) {
  if (!IsJsonContentType(request.Header("content-type"))) {
    return Failure(415, "bad_data", "Content-Type must be application/json");
  }
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Failure(400, "bad_data", "the body must be a JSON object with \"playbook\"");
  }
  auto playbook = body.find("playbook");
  if (playbook == body.end() || !playbook->is_string() || playbook->get<std::string>().empty()) {
    return Failure(400, "bad_data", "playbook: missing or not a string");
  }
  Result<LabelSet> labels = StringMapOf(body.value("labels", json(nullptr)), "labels", true);
  if (!labels.ok()) return FromStatus(labels.status());
  Result<LabelSet> annotations =
      StringMapOf(body.value("annotations", json(nullptr)), "annotations", false);
  if (!annotations.ok()) return FromStatus(annotations.status());
  Result<JobRecord> job = engine_->Trigger(playbook->get<std::string>(), *labels, *annotations);
  if (!job.ok()) return FromStatus(job.status());
  return Success(202, JobJson(*job, false));
}

Response WebApi::Landing() {
  JobFilter filter;
  filter.limit = options_.landing_jobs;
  Result<std::vector<JobRecord>> jobs = engine_->journal()->ListJobs(filter);
  std::string html =
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Foresight webhook</title>"
      "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style>"
      "</head><body><h1>Foresight webhook</h1><p>Version " +
      HtmlEscape(kVersion) + ". ";
  html += engine_->paused() ? "<b>Paused</b>: no job starts until POST /api/v1/resume."
                            : "Running.";
  html += " Active jobs: " + std::to_string(engine_->active()) +
          ", queued: " + std::to_string(engine_->queued()) + ".</p>";
  html += "<p><a href=\"/metrics\">Metrics</a> &middot; <a href=\"/api/v1/jobs\">Jobs API</a>"
          "</p><h2>Recent jobs</h2>";
  if (!jobs.ok()) {
    html += "<p>Journal error: " + HtmlEscape(jobs.status().message()) + "</p>";
  } else if (jobs->empty()) {
    html += "<p>No jobs yet.</p>";
  } else {
    html += "<table><tr><th>Job</th><th>Playbook</th><th>Phase</th><th>Target</th>"
            "<th>State</th><th>Created</th><th>Error</th></tr>";
    for (const JobRecord& job : *jobs) {
      const std::string id = std::to_string(job.id);
      html += "<tr><td><a href=\"/api/v1/jobs/" + id + "\">" + id + "</a></td><td>" +
              HtmlEscape(job.playbook) + "</td><td>" + PhaseName(job.phase) + "</td><td>" +
              HtmlEscape(job.target) + "</td><td>" + JobStateName(job.state) +
              (job.dry_run ? " (dry run)" : "") + "</td><td>" +
              HtmlEscape(FormatRfc3339Ms(job.created_ms)) + "</td><td>" +
              HtmlEscape(job.error) + "</td></tr>";
    }
    html += "</table>";
  }
  html += "</body></html>\n";
  return Response::Html(200, html);
}

}  // namespace foresight::webhook
