#pragma once

// foresight_webhook's own metrics (prometheus-cpp), served on /metrics. Names and labels are a
// contract with rules/ and grafana/ (see alert_webhook/README.md):
//   foresight_webhook_notifications_received_total             requests to the intake
//   foresight_webhook_notifications_rejected_total{reason}     not accepted; reasons:
//       unauthorized, method, content_type, too_large, malformed_json, wrong_version,
//       missing_field, invalid_field, queue_full, journal_error
//   foresight_webhook_alerts_total{outcome}                    per alert and playbook: job,
//       duplicate, cooldown, unmatched, no_resolve_steps, no_firing_job
//   foresight_webhook_jobs_started_total{playbook}
//   foresight_webhook_jobs_succeeded_total{playbook}  ..._failed_total  ..._aborted_total
//   foresight_webhook_jobs_interrupted_total{playbook}
//   foresight_webhook_jobs_active                              running now
//   foresight_webhook_jobs_queued                              accepted, waiting
//   foresight_webhook_paused                                   1 while paused
//   foresight_webhook_step_duration_seconds{playbook,kind}     histogram, steps that ran
//   foresight_webhook_journal_commit_duration_seconds          histogram, per group commit
//   foresight_webhook_journal_commit_batch_size                histogram
//   foresight_webhook_build_info{version}
//   foresight_webhook_config_last_reload_successful, ..._success_timestamp_seconds,
//   foresight_webhook_config_reloads_total, ..._reload_failures_total

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>

namespace foresight::webhook {

class Metrics {
 public:
  Metrics();
  prometheus::Registry& registry() { return *registry_; }
  // The text exposition format of everything registered.
  std::string Serialize() const;

  void NotificationReceived();
  void NotificationRejected(const std::string& reason);
  void AlertOutcome(const std::string& outcome);
  // Publishes the per-playbook counters at 0 so that rate() and absent() work from the start.
  void DeclarePlaybook(const std::string& playbook);
  void JobStarted(const std::string& playbook);
  void JobFinished(const std::string& playbook, const std::string& state);  // terminal state
  void SetActive(double n);
  void SetQueued(double n);
  void SetPaused(bool paused);
  void StepDuration(const std::string& playbook, const std::string& kind, double seconds);
  void JournalCommit(std::chrono::nanoseconds took, size_t batch);
  void ReloadResult(bool ok, double unix_seconds);
  void ReloadAttempt(bool ok);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* received_;
  prometheus::Family<prometheus::Counter>* rejected_;
  prometheus::Family<prometheus::Counter>* alerts_;
  prometheus::Family<prometheus::Counter>* started_;
  prometheus::Family<prometheus::Counter>* succeeded_;
  prometheus::Family<prometheus::Counter>* failed_;
  prometheus::Family<prometheus::Counter>* aborted_;
  prometheus::Family<prometheus::Counter>* interrupted_;
  prometheus::Gauge* active_;
  prometheus::Gauge* queued_;
  prometheus::Gauge* paused_;
  prometheus::Family<prometheus::Histogram>* step_duration_;
  prometheus::Histogram* commit_duration_;
  prometheus::Histogram* commit_batch_;
  prometheus::Gauge* reload_ok_;
  prometheus::Gauge* reload_ts_;
  prometheus::Counter* reloads_;
  prometheus::Counter* reload_failures_;
};

}  // namespace foresight::webhook
