#pragma once

// The engine: turns accepted notifications into jobs and runs them.
//
// Intake (Accept) decides, for every alert and every playbook whose matchers accept it:
//   firing    a job, unless the same alert (playbook, fingerprint, startsAt) already has a
//             queued or running job ("duplicate") or the playbook's target had a firing job
//             created within the cooldown ("cooldown");
//   resolved  a resolve job running resolve_steps, once per alert, and only when the alert had
//             a firing job ("no_firing_job" otherwise, "no_resolve_steps" when there are none);
//   no playbook matched: "unmatched".
// Those decisions and the notification are committed in one journal transaction before Accept
// returns, so the HTTP 200 means durable, and a repeated notification finds the first one's
// jobs. Decisions run on the journal's single writer thread, so two copies of one notification
// arriving at once (an Alertmanager HA pair) cannot both start a job.
//
// Running: jobs run oldest first, at most limits.max_concurrent_jobs at once and one at a time
// per (playbook, target); while paused none starts. A job's steps are committed as pending
// when it starts, each step as running before its action runs and with its result after, and
// the job with its final state. Dry-run jobs record what each step would do and run nothing.
//
// Recovery (Start): a job the journal has as running was cut off by a crash: it becomes
// interrupted, its running step interrupted (it may have had its effect: it is never run
// again) and its pending steps stay pending. Queued jobs are queued again.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "foresight/common/clock.h"
#include "foresight/common/status.h"
#include "foresight/webhook/config.h"
#include "foresight/webhook/journal.h"
#include "foresight/webhook/metrics.h"
#include "foresight/webhook/payload.h"
#include "foresight/webhook/template.h"

namespace foresight::webhook {

// The alert as a job keeps it, for its templates (and for people reading the journal):
// {"status","labels","annotations","startsAt","endsAt","generatorURL","fingerprint",
//  "receiver","externalURL"}.
std::string AlertToJson(const Alert& alert, const Notification& n);
// TemplateData of a job (from its alert_json); an undecodable alert_json is an error.
struct JobTemplateData {
  LabelSet labels;
  LabelSet annotations;
  TemplateData data;  // points into labels/annotations above: do not copy, move or reassign
};
Result<std::unique_ptr<JobTemplateData>> TemplateDataForJob(const JobRecord& job);

struct IntakeResult {
  int64_t notification_id = 0;
  std::vector<AlertOutcome> outcomes;
};

struct EngineOptions {
  Clock* clock = nullptr;  // required
  // On Stop, running jobs get this long to finish before they are aborted.
  std::chrono::milliseconds shutdown_grace{30000};
};

class Engine {
 public:
  // Recovers unfinished jobs (see above), reads the pause switch, and starts running jobs.
  static Result<std::unique_ptr<Engine>> Start(std::shared_ptr<const Config> config,
                                               Journal* journal, Metrics* metrics,
                                               EngineOptions options);
  // Stop().
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts no more jobs, waits up to shutdown_grace for running ones, aborts the rest and
  // waits for them. Queued jobs stay queued in the journal for the next start. Idempotent.
  void Stop();

  // Persists `n` (its raw `body`) and the decisions; returns after the commit.
  // ResourceExhausted when max_queued_jobs would be exceeded (nothing persisted); Unavailable
  // when the journal failed (nothing persisted).
  Result<IntakeResult> Accept(const Notification& n, std::string_view body);

  // A job of `playbook` for an alert with these labels and annotations, as if firing, with no
  // cooldown or duplicate check (an operator asked). NotFound for an unknown playbook.
  Result<JobRecord> Trigger(const std::string& playbook, const LabelSet& labels,
                            const LabelSet& annotations);

  // Aborts a queued job (it never runs) or a running one (its action is stopped). NotFound,
  // or FailedPrecondition naming the state of a job already finished.
  Status Abort(int64_t job_id);

  // The global pause switch, persisted in the journal: while paused, jobs are accepted and
  // queued but none starts.
  Status SetPaused(bool paused);
  bool paused() const;

  // Swaps the playbooks and limits for jobs not yet started.
  void Reload(std::shared_ptr<const Config> config);
  std::shared_ptr<const Config> config() const;

  size_t active() const;
  size_t queued() const;
  Journal* journal() const { return journal_; }

 private:
  Engine(std::shared_ptr<const Config> config, Journal* journal, Metrics* metrics,
         EngineOptions options);
  struct Running {
    std::atomic<bool> abort{false};
    std::string abort_reason;  // guarded by mu_
    std::string target_key;
    std::thread thread;
  };
  Status Recover();
  void DispatchLocked();
  void RunJob(JobRecord job, std::shared_ptr<Running> running);
  void JoinFinishedLocked();
  Status WriteOrLog(const std::function<Status(Tx&)>& fn, const char* what);

  std::shared_ptr<const Config> config_;  // guarded by mu_
  Journal* journal_;
  Metrics* metrics_;
  EngineOptions options_;
  Clock* clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false;
  bool stopping_ = false;
  std::deque<JobRecord> queue_;                             // queued, oldest first
  std::map<int64_t, std::shared_ptr<Running>> running_;     // by job id
  std::set<std::string> active_targets_;                    // "playbook\x1ftarget"
  std::vector<std::shared_ptr<Running>> finished_;          // threads to join
};

}  // namespace foresight::webhook
