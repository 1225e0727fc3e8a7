#pragma once

// foresight_webhook's HTTP endpoints, as a handler for foresight::http::Server:
//   POST /api/v1/notifications       Alertmanager's webhook (payload.h); 200 once persisted
//   GET  /api/v1/jobs                ?state=&playbook=&target=&phase=&limit=&before=
//   GET  /api/v1/jobs/{id}           the job with its steps, outputs and timings
//   POST /api/v1/jobs/{id}/abort
//   POST /api/v1/pause, /api/v1/resume
//   POST /api/v1/trigger             {"playbook": "...", "labels": {...}, "annotations": {...}}
//   GET  /metrics                    self-metrics
//   GET  /                           landing page with the recent jobs
//   POST /-/reload                   re-reads the config (the daemon's reload function)
//   GET  /-/healthy, /-/ready        no authentication (probes)
// Everything else needs the configured credentials (bearer token and/or basic auth, either
// accepted), compared in constant time; 401 with WWW-Authenticate otherwise. With no
// credentials configured (the daemon's --web.insecure) everything is open.
//
// Answers: JSON {"status":"success","data":...} or {"status":"error","errorType":...,
// "error":"..."} as Prometheus's API does. 400 bad payload, 401, 404, 405 with Allow, 413 (the
// server's body limit), 415 not application/json, 503 queue full (Retry-After), 500 only when
// a notification could not be persisted, so Alertmanager retries exactly then.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "foresight/common/clock.h"
#include "foresight/common/status.h"
#include "foresight/http/server.h"
#include "foresight/webhook/engine.h"
#include "foresight/webhook/metrics.h"

namespace foresight::webhook {

// Credentials as read from the secret files.
struct Credentials {
  std::string bearer_token;  // "" = bearer not accepted
  std::string basic_username;
  std::string basic_password;  // basic accepted when username is non-empty
  bool insecure = false;       // no credentials at all: everything open
};

// Reads the config's secret files. With no auth configured: an error unless `insecure`.
Result<Credentials> LoadCredentials(const WebConfig& web, bool insecure);

// Equal in time that depends only on the lengths' maximum, not on where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

class WebApi {
 public:
  struct Options {
    Clock* clock = nullptr;
    std::function<Status()> reload;  // POST /-/reload
    size_t landing_jobs = 25;
  };
  WebApi(Engine* engine, Metrics* metrics, Credentials credentials, Options options);

  http::Response Handle(const http::Request& request);
  // For ServerOptions::on_refused: counts what the server answered itself (413).
  void Refused(int status);

  void SetCredentials(Credentials credentials);
  void SetReady(bool ready) { ready_.store(ready); }

 private:
  std::optional<http::Response> Authenticate(const http::Request& request) const;
  http::Response Notifications(const http::Request& request);
  http::Response Jobs(const http::Request& request);
  http::Response Job(const http::Request& request, const std::string& rest);
  http::Response Trigger(const http::Request& request);
  http::Response Landing();

  Engine* engine_;
  Metrics* metrics_;
  Options options_;
  mutable std::mutex credentials_mu_;
  std::shared_ptr<const Credentials> credentials_;
  std::atomic<bool> ready_{false};
};

}  // namespace foresight::webhook
