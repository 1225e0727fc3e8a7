#include "foresight/webhook/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "foresight/common/version.h"

namespace foresight::webhook {
namespace {

prometheus::Histogram::BucketBoundaries SecondsBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
          1,      2.5,   5,      10,    30,   60,    120,  300};
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  received_ = &prometheus::BuildCounter()
                   .Name("foresight_webhook_notifications_received_total")
                   .Help("Requests to the notification intake, accepted or not.")
                   .Register(r)
                   .Add({});
  rejected_ = &prometheus::BuildCounter()
                   .Name("foresight_webhook_notifications_rejected_total")
                   .Help("Notifications not accepted, by reason.")
                   .Register(r);
  for (const char* reason :
       {"unauthorized", "method", "content_type", "too_large", "malformed_json", "wrong_version",
        "missing_field", "invalid_field", "queue_full", "journal_error"}) {
    rejected_->Add({{"reason", reason}});
  }
  alerts_ = &prometheus::BuildCounter()
                 .Name("foresight_webhook_alerts_total")
                 .Help("Decisions per accepted alert and matching playbook, by outcome.")
                 .Register(r);
  for (const char* outcome :
       {"job", "duplicate", "cooldown", "unmatched", "no_resolve_steps", "no_firing_job"}) {
    alerts_->Add({{"outcome", outcome}});
  }
  started_ = &prometheus::BuildCounter()
                  .Name("foresight_webhook_jobs_started_total")
                  .Help("Jobs that started running, by playbook.")
                  .Register(r);
  succeeded_ = &prometheus::BuildCounter()
                    .Name("foresight_webhook_jobs_succeeded_total")
                    .Help("Jobs whose steps all succeeded, by playbook.")
                    .Register(r);
  failed_ = &prometheus::BuildCounter()
                 .Name("foresight_webhook_jobs_failed_total")
                 .Help("Jobs with a failed or timed-out step, by playbook.")
                 .Register(r);
  aborted_ = &prometheus::BuildCounter()
                  .Name("foresight_webhook_jobs_aborted_total")
                  .Help("Jobs aborted through the API or at shutdown, by playbook.")
                  .Register(r);
  interrupted_ = &prometheus::BuildCounter()
                      .Name("foresight_webhook_jobs_interrupted_total")
                      .Help("Jobs found running at start-up after a crash, by playbook.")
                      .Register(r);
  active_ = &prometheus::BuildGauge()
                 .Name("foresight_webhook_jobs_active")
                 .Help("Jobs running now.")
                 .Register(r)
                 .Add({});
  queued_ = &prometheus::BuildGauge()
                 .Name("foresight_webhook_jobs_queued")
                 .Help("Jobs accepted and waiting to run.")
                 .Register(r)
                 .Add({});
  paused_ = &prometheus::BuildGauge()
                 .Name("foresight_webhook_paused")
                 .Help("1 while the global pause switch is on: no job starts.")
                 .Register(r)
                 .Add({});
  step_duration_ = &prometheus::BuildHistogram()
                        .Name("foresight_webhook_step_duration_seconds")
                        .Help("How long steps that ran took, by playbook and kind.")
                        .Register(r);
  commit_duration_ = &prometheus::BuildHistogram()
                          .Name("foresight_webhook_journal_commit_duration_seconds")
                          .Help("Duration of each journal group commit, fsync included.")
                          .Register(r)
                          .Add({}, SecondsBuckets());
  commit_batch_ = &prometheus::BuildHistogram()
                       .Name("foresight_webhook_journal_commit_batch_size")
                       .Help("Writes per journal group commit.")
                       .Register(r)
                       .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64,
                                                                        128, 256, 512});
  prometheus::BuildGauge()
      .Name("foresight_webhook_build_info")
      .Help("A metric with a constant '1' value labeled by the version of foresight_webhook.")
      .Register(r)
      .Add({{"version", kVersion}})
      .Set(1);
  reload_ok_ = &prometheus::BuildGauge()
                    .Name("foresight_webhook_config_last_reload_successful")
                    .Help("Whether the last configuration reload attempt was successful.")
                    .Register(r)
                    .Add({});
  reload_ts_ = &prometheus::BuildGauge()
                    .Name("foresight_webhook_config_last_reload_success_timestamp_seconds")
                    .Help("Timestamp of the last successful configuration reload.")
                    .Register(r)
                    .Add({});
  reloads_ = &prometheus::BuildCounter()
                  .Name("foresight_webhook_config_reloads_total")
                  .Help("Configuration reload attempts (start-up excluded).")
                  .Register(r)
                  .Add({});
  reload_failures_ = &prometheus::BuildCounter()
                          .Name("foresight_webhook_config_reload_failures_total")
                          .Help("Configuration reload attempts that failed; the previous "
                                "configuration stays in force.")
                          .Register(r)
                          .Add({});
}

std::string Metrics::Serialize() const {
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, registry_->Collect());
  return os.str();
}

void Metrics::NotificationReceived() { received_->Increment(); }
void Metrics::NotificationRejected(const std::string& reason) {
  rejected_->Add({{"reason", reason}}).Increment();
}
void Metrics::AlertOutcome(const std::string& outcome) {
  alerts_->Add({{"outcome", outcome}}).Increment();
}
void Metrics::DeclarePlaybook(const std::string& playbook) {
  for (auto* family : {started_, succeeded_, failed_, aborted_, interrupted_}) {
    family->Add({{"playbook", playbook}});
  }
}
void Metrics::JobStarted(const std::string& playbook) {
  started_->Add({{"playbook", playbook}}).Increment();
}
void Metrics::JobFinished(const std::string& playbook, const std::string& state) {
  prometheus::Family<prometheus::Counter>* family = nullptr;
  if (state == "succeeded") family = succeeded_;
  if (state == "failed") family = failed_;
  if (state == "aborted") family = aborted_;
  if (state == "interrupted") family = interrupted_;
  if (family != nullptr) family->Add({{"playbook", playbook}}).Increment();
}
void Metrics::SetActive(double n) { active_->Set(n); }
void Metrics::SetQueued(double n) { queued_->Set(n); }
void Metrics::SetPaused(bool paused) { paused_->Set(paused ? 1 : 0); }
void Metrics::StepDuration(const std::string& playbook, const std::string& kind,
                           double seconds) {
  step_duration_->Add({{"playbook", playbook}, {"kind", kind}}, SecondsBuckets())
      .Observe(seconds);
}
void Metrics::JournalCommit(std::chrono::nanoseconds took, size_t batch) {
  commit_duration_->Observe(std::chrono::duration<double>(took).count());
  commit_batch_->Observe(static_cast<double>(batch));
}
void Metrics::ReloadResult(bool ok, double unix_seconds) {
  reload_ok_->Set(ok ? 1 : 0);
  if (ok) reload_ts_->Set(unix_seconds);
}
void Metrics::ReloadAttempt(bool ok) {
  reloads_->Increment();
  if (!ok) reload_failures_->Increment();
}

}  // namespace foresight::webhook
