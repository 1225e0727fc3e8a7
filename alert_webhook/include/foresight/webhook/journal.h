#pragma once

// The resilience journal: every notification the webhook accepted, what it decided for each
// alert, every job and every step with its state, timings and output, in SQLite (WAL,
// synchronous=FULL). A notification is committed before Alertmanager gets its 200, and a step
// is committed as running before it starts, so after a crash nothing accepted is lost and no
// step that may have run is run again.
//
// Writes go through Write(): callers on many threads hand in a function, one writer thread
// runs the pending functions in one transaction (each inside its own savepoint) and commits
// once for all of them (group commit), so intake throughput is not one fsync per request.
// Reads use their own connection and never wait for the writer (WAL).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/clock.h"
#include "foresight/common/status.h"

namespace foresight::webhook {

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kAborted, kInterrupted };
const char* JobStateName(JobState s);  // "queued", "running", "succeeded", ...
std::optional<JobState> ParseJobState(std::string_view name);
bool IsTerminal(JobState s);  // succeeded, failed, aborted, interrupted

enum class StepState {
  kPending,      // not reached (yet)
  kRunning,      // committed as started; after a crash this becomes interrupted
  kSucceeded,
  kFailed,
  kTimedOut,
  kSkipped,      // its `when` condition did not hold
  kAborted,      // stopped by an abort, or never started because of one
  kInterrupted,  // the daemon died while it ran: it may or may not have had its effect
  kDryRun,       // rendered and recorded, not run
};
const char* StepStateName(StepState s);
std::optional<StepState> ParseStepState(std::string_view name);

// Why a job exists: a firing alert, a resolved alert (resolve_steps), or POST /api/v1/trigger.
enum class Phase { kFiring, kResolved, kManual };
const char* PhaseName(Phase p);  // "firing", "resolved", "manual"
std::optional<Phase> ParsePhase(std::string_view name);

struct StepRecord {
  int index = 0;  // 0-based position; resolve jobs number their own steps from 0
  std::string name;
  std::string kind;  // "exec", "http", "log", ...
  StepState state = StepState::kPending;
  int64_t started_ms = 0;   // 0: not started
  int64_t finished_ms = 0;  // 0: not finished
  std::string detail;       // what it does, rendered (argv as JSON, "POST url", the message)
  std::optional<int> exit_code;  // exec: the exit status; http: the response status
  std::string output;            // captured output, at most the action's limit
  bool output_truncated = false;
  std::string error;  // why it failed, timed out, was skipped or interrupted
};

struct JobRecord {
  int64_t id = 0;
  int64_t notification_id = 0;  // 0 for a manual trigger
  std::string playbook;
  Phase phase = Phase::kFiring;
  std::string target;       // the rendered target key: one active job per (playbook, target)
  std::string fingerprint;  // the alert's
  int64_t starts_at_ms = 0;
  JobState state = JobState::kQueued;
  bool dry_run = false;
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::string alert_json;  // the alert as the templates see it (see engine.h AlertToJson)
  std::string error;
  std::vector<StepRecord> steps;  // GetJob and UnfinishedJobs fill it; ListJobs does not
};

struct NotificationRecord {
  int64_t id = 0;
  int64_t received_ms = 0;
  std::string receiver;
  std::string status;  // "firing" or "resolved"
  std::string group_key;
  int alerts = 0;
  std::string body;  // as received
};

// What the webhook decided for one alert of a notification, for one playbook.
struct AlertOutcome {
  int alert_index = 0;
  std::string fingerprint;
  std::string playbook;  // "" when no playbook matched
  std::string outcome;   // "job", "duplicate", "cooldown", "unmatched", "no_resolve_steps"
  int64_t job_id = 0;    // the new job ("job") or the one that made it a duplicate / cooldown
};

// One transaction's operations, on the writer thread only. Every method's error names what
// failed (the SQLite message and the statement's purpose).
class Tx {
 public:
  virtual ~Tx() = default;
  virtual Result<int64_t> InsertNotification(const NotificationRecord& n) = 0;
  virtual Status InsertAlertOutcome(int64_t notification_id, const AlertOutcome& o) = 0;
  // Inserts the job and its steps (as given, normally all pending); returns the job's id.
  virtual Result<int64_t> InsertJob(const JobRecord& job) = 0;
  // The newest job of this alert (playbook, phase, fingerprint, starts_at), if any; no steps.
  virtual Result<std::optional<JobRecord>> LatestJobForAlert(const std::string& playbook,
                                                             Phase phase,
                                                             const std::string& fingerprint,
                                                             int64_t starts_at_ms) = 0;
  // The newest firing job for (playbook, target), if any; no steps.
  virtual Result<std::optional<JobRecord>> LatestFiringJobForTarget(const std::string& playbook,
                                                                   const std::string& target) = 0;
  // Writes state, dry_run, started_ms, finished_ms and error of the job `job.id` (not its
  // steps).
  virtual Status UpdateJob(const JobRecord& job) = 0;
  // Writes every field of step `step.index` of job `job_id`.
  virtual Status UpdateStep(int64_t job_id, const StepRecord& step) = 0;
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;
};

struct JobFilter {
  std::optional<JobState> state;
  std::string playbook;  // "" = any
  std::string target;    // "" = any
  std::optional<Phase> phase;
  int64_t before_id = 0;  // >0: only ids below it (paging, newest first)
  size_t limit = 100;
};

struct JournalOptions {
  std::string path;
  // At most this many Write() functions share one transaction.
  size_t max_batch = 512;
  // Called on the writer thread after each commit attempt: its duration and batch size.
  std::function<void(std::chrono::nanoseconds, size_t)> on_commit;
  // Test seam: called on the writer thread just before each COMMIT; an error makes that commit
  // fail as a full disk would (the batch is rolled back, every Write returns Unavailable).
  std::function<Status()> inject_commit_error;
};

class Journal {
 public:
  // Opens or creates the database (and its directory's file), sets WAL and synchronous=FULL,
  // creates or checks the schema. Errors name the path: unreadable, not a database, a schema
  // from a newer version.
  static Result<std::unique_ptr<Journal>> Open(JournalOptions options);
  // Finishes every pending Write, then closes.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Runs `fn` inside the next group transaction and returns when that transaction is durably
  // committed. fn's error rolls back fn's own changes only and is returned; a failed COMMIT
  // fails every function of the batch (Unavailable, naming the SQLite error). Thread-safe.
  // Must not be called from inside fn.
  Status Write(std::function<Status(Tx&)> fn);

  // Reads: any thread, a consistent snapshot each.
  Result<std::vector<JobRecord>> ListJobs(const JobFilter& filter) const;  // newest first
  Result<std::optional<JobRecord>> GetJob(int64_t id) const;               // with steps
  Result<std::vector<JobRecord>> UnfinishedJobs() const;  // queued or running, oldest first,
                                                          // with steps
  Result<std::vector<AlertOutcome>> Outcomes(int64_t notification_id) const;
  Result<std::optional<NotificationRecord>> GetNotification(int64_t id) const;
  Result<std::optional<std::string>> GetMeta(const std::string& key) const;
  Result<int64_t> CountNotifications() const;

  // Deletes terminal jobs (with steps) finished before `before_ms`, and notifications received
  // before it that no remaining job refers to, with their outcomes. Returns rows deleted.
  Result<int64_t> Prune(int64_t before_ms);

  const std::string& path() const;

 private:
  struct Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace foresight::webhook
