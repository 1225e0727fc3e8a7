#include "foresight/webhook/engine.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <utility>

#include "foresight/common/log.h"

namespace foresight::webhook {
namespace {

using json = nlohmann::json;

std::string TargetKey(const std::string& playbook, const std::string& target) {
  return playbook + '\x1f' + target;
}

json LabelsJson(const LabelSet& labels) {
  json out = json::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}

LabelSet LabelsOf(const json& j) {
  LabelSet out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

std::string StringOf(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// The template data for deciding a job's target at intake, before the job exists.
TemplateData IntakeData(const Alert& alert, const Notification& n, const std::string& playbook,
                        Phase phase) {
  TemplateData d;
  d.labels = &alert.labels;
  d.annotations = &alert.annotations;
  d.status = AlertStatusName(alert.status);
  d.fingerprint = alert.fingerprint;
  d.starts_at = alert.starts_at;
  d.ends_at = alert.ends_at;
  d.generator_url = alert.generator_url;
  d.external_url = n.external_url;
  d.receiver = n.receiver;
  d.playbook = playbook;
  d.phase = PhaseName(phase);
  return d;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

std::string AlertToJson(const Alert& alert, const Notification& n) {
  json j = {{"status", AlertStatusName(alert.status)},
            {"labels", LabelsJson(alert.labels)},
            {"annotations", LabelsJson(alert.annotations)},
            {"startsAt", alert.starts_at},
            {"endsAt", alert.ends_at},
            {"generatorURL", alert.generator_url},
            {"fingerprint", alert.fingerprint},
            {"receiver", n.receiver},
            {"externalURL", n.external_url}};
  return j.dump();
}

Result<std::unique_ptr<JobTemplateData>> TemplateDataForJob(const JobRecord& job) {
  json j = json::parse(job.alert_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLoss("job " + std::to_string(job.id) + ": its alert in the journal is not JSON");
  }
  auto out = std::make_unique<JobTemplateData>();
  out->labels = LabelsOf(j.value("labels", json::object()));
  out->annotations = LabelsOf(j.value("annotations", json::object()));
  TemplateData& d = out->data;
  d.labels = &out->labels;
  d.annotations = &out->annotations;
  d.status = StringOf(j, "status");
  d.fingerprint = StringOf(j, "fingerprint");
  d.starts_at = StringOf(j, "startsAt");
  d.ends_at = StringOf(j, "endsAt");
  d.generator_url = StringOf(j, "generatorURL");
  d.external_url = StringOf(j, "externalURL");
  d.receiver = StringOf(j, "receiver");
  d.playbook = job.playbook;
  d.job_id = std::to_string(job.id);
  d.phase = PhaseName(job.phase);
  return out;
}

Engine::Engine(std::shared_ptr<const Config> config, Journal* journal, Metrics* metrics,
               EngineOptions options)
    : config_(std::move(config)),
      journal_(journal),
      metrics_(metrics),
      options_(options),
      clock_(options.clock) {}

Result<std::unique_ptr<Engine>> Engine::Start(std::shared_ptr<const Config> config,
                                              Journal* journal, Metrics* metrics,
                                              EngineOptions options) {
  if (options.clock == nullptr) return InvalidArgument("engine: no clock");
  std::unique_ptr<Engine> engine(new Engine(std::move(config), journal, metrics, options));
  for (const PlaybookConfig& p : engine->config_->playbooks) metrics->DeclarePlaybook(p.name);
  Result<std::optional<std::string>> paused = journal->GetMeta("paused");
  if (!paused.ok()) return paused.status().WithContext("reading the pause switch");
  engine->paused_ = paused->has_value() && **paused == "1";
  metrics->SetPaused(engine->paused_);
  FORESIGHT_RETURN_IF_ERROR(engine->Recover());
  std::lock_guard<std::mutex> lock(engine->mu_);
  engine->DispatchLocked();
  return engine;
}

Engine::~Engine() { Stop(); }

Status Engine::Recover() {
  Result<std::vector<JobRecord>> unfinished = journal_->UnfinishedJobs();
  if (!unfinished.ok()) return unfinished.status().WithContext("recovering jobs");
  const int64_t now = ToUnixMillis(clock_->Now());
  for (JobRecord& job : *unfinished) {
    if (job.state == JobState::kQueued) {
      job.steps.clear();
      queue_.push_back(std::move(job));
      continue;
    }
    // Running when the daemon died: whatever step ran may have had its effect.
    job.state = JobState::kInterrupted;
    job.finished_ms = now;
    job.error = "the daemon stopped while this job ran";
    for (StepRecord& step : job.steps) {
      if (step.state == StepState::kRunning) {
        step.state = StepState::kInterrupted;
        step.finished_ms = now;
        step.error = "the daemon stopped while this step ran; it may have had its effect, so it "
                     "is not run again";
      }
    }
    Status st = journal_->Write([&job](Tx& tx) -> Status {
      for (const StepRecord& step : job.steps) {
        FORESIGHT_RETURN_IF_ERROR(tx.UpdateStep(job.id, step));
      }
      return tx.UpdateJob(job);
    });
    if (!st.ok()) return st.WithContext("marking job " + std::to_string(job.id) + " interrupted");
    metrics_->JobFinished(job.playbook, "interrupted");
    log::Warn("job interrupted by a restart",
              {{"job", std::to_string(job.id)}, {"playbook", job.playbook},
               {"target", job.target}});
  }
  metrics_->SetQueued(static_cast<double>(queue_.size()));
  if (!queue_.empty()) {
    log::Info("resuming queued jobs", {{"count", std::to_string(queue_.size())}});
  }
  return Status::Ok();
}

void Engine::Stop() {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ && running_.empty()) {
    JoinFinishedLocked();
    return;
  }
  stopping_ = true;
  const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_grace;
  if (!cv_.wait_until(lock, deadline, [this] { return running_.empty(); })) {
    for (auto& [id, running] : running_) {
      log::Warn("aborting a running job at shutdown", {{"job", std::to_string(id)}});
      running->abort_reason = "aborted: the daemon shut down while it ran";
      running->abort.store(true);
    }
    cv_.wait(lock, [this] { return running_.empty(); });
  }
  JoinFinishedLocked();
}

void Engine::JoinFinishedLocked() {
  // A job's thread puts itself here as its last act under mu_, so joining cannot wait on mu_;
  // it must only never join itself.
  std::vector<std::shared_ptr<Running>> keep;
  for (auto& r : finished_) {
    if (r->thread.get_id() == std::this_thread::get_id()) {
      keep.push_back(r);
    } else if (r->thread.joinable()) {
      r->thread.join();
    }
  }
  finished_ = std::move(keep);
}

Result<IntakeResult> Engine::Accept(const Notification& n, std::string_view body) {
  std::shared_ptr<const Config> config = this->config();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= config->limits.max_queued_jobs) {
      return ResourceExhausted("job queue full (" + std::to_string(queue_.size()) +
                               " queued, limits.max_queued_jobs)");
    }
  }
  const int64_t now = ToUnixMillis(clock_->Now());
  NotificationRecord record;
  record.received_ms = now;
  record.receiver = n.receiver;
  record.status = AlertStatusName(n.status);
  record.group_key = n.group_key;
  record.alerts = static_cast<int>(n.alerts.size());
  record.body = std::string(body);

  // Everything that needs no journal is worked out here, so that the journal's single writer
  // thread, which every intake waits for, only runs the lookups and inserts.
  struct Candidate {
    int alert_index;
    const PlaybookConfig* playbook;  // null: no playbook matched the alert
    JobRecord job;                   // the job to create when the journal allows it
  };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < n.alerts.size(); ++i) {
    const Alert& alert = n.alerts[i];
    std::vector<const PlaybookConfig*> playbooks = config->Matching(alert.labels);
    if (playbooks.empty()) {
      candidates.push_back({static_cast<int>(i), nullptr, JobRecord{}});
      continue;
    }
    const Phase phase = alert.status == AlertStatus::kFiring ? Phase::kFiring : Phase::kResolved;
    const std::string alert_json = AlertToJson(alert, n);
    for (const PlaybookConfig* p : playbooks) {
      JobRecord job;
      job.playbook = p->name;
      job.phase = phase;
      job.fingerprint = alert.fingerprint;
      job.starts_at_ms = alert.starts_at_ms;
      job.state = JobState::kQueued;
      job.dry_run = config->dry_run || p->dry_run;
      job.created_ms = now;
      job.alert_json = alert_json;
      Result<std::string> target = p->target.Render(IntakeData(alert, n, p->name, phase));
      if (target.ok()) {
        job.target = *target;
      } else {
        // A job that fails at once is visible in the API and the metrics; silently dropping
        // the alert would not be.
        job.state = JobState::kFailed;
        job.finished_ms = now;
        job.error = "target: " + target.status().message();
      }
      candidates.push_back({static_cast<int>(i), p, std::move(job)});
    }
  }

  IntakeResult result;
  std::vector<JobRecord> new_jobs;
  Status st = journal_->Write([&](Tx& tx) -> Status {
    // The function may run once only, but reset anyway so that a retry starts clean.
    result = IntakeResult{};
    new_jobs.clear();
    Result<int64_t> id = tx.InsertNotification(record);
    if (!id.ok()) return id.status();
    result.notification_id = *id;
    for (const Candidate& c : candidates) {
      const Alert& alert = n.alerts[c.alert_index];
      AlertOutcome o{c.alert_index, alert.fingerprint, "", "", 0};
      if (c.playbook == nullptr) {
        o.outcome = "unmatched";
        FORESIGHT_RETURN_IF_ERROR(tx.InsertAlertOutcome(*id, o));
        result.outcomes.push_back(o);
        continue;
      }
      const PlaybookConfig* p = c.playbook;
      o.playbook = p->name;
      const Phase phase = c.job.phase;
      if (phase == Phase::kFiring) {
        auto same = tx.LatestJobForAlert(p->name, phase, alert.fingerprint, alert.starts_at_ms);
        if (!same.ok()) return same.status();
        if (same->has_value() && !IsTerminal((*same)->state)) {
          o.outcome = "duplicate";
          o.job_id = (*same)->id;
        } else if (p->cooldown.count() > 0 && c.job.state == JobState::kQueued) {
          auto last = tx.LatestFiringJobForTarget(p->name, c.job.target);
          if (!last.ok()) return last.status();
          if (last->has_value() && (*last)->created_ms > now - p->cooldown.count()) {
            o.outcome = "cooldown";
            o.job_id = (*last)->id;
          }
        }
      } else if (p->resolve_steps.empty()) {
        o.outcome = "no_resolve_steps";
      } else {
        auto resolved = tx.LatestJobForAlert(p->name, phase, alert.fingerprint, alert.starts_at_ms);
        if (!resolved.ok()) return resolved.status();
        if (resolved->has_value()) {
          o.outcome = "duplicate";
          o.job_id = (*resolved)->id;
        } else {
          auto fired = tx.LatestJobForAlert(p->name, Phase::kFiring, alert.fingerprint,
                                            alert.starts_at_ms);
          if (!fired.ok()) return fired.status();
          if (!fired->has_value()) o.outcome = "no_firing_job";
        }
      }
      if (o.outcome.empty()) {
        JobRecord job = c.job;
        job.notification_id = *id;
        Result<int64_t> job_id = tx.InsertJob(job);
        if (!job_id.ok()) return job_id.status();
        job.id = *job_id;
        o.outcome = "job";
        o.job_id = job.id;
        new_jobs.push_back(std::move(job));
      }
      FORESIGHT_RETURN_IF_ERROR(tx.InsertAlertOutcome(*id, o));
      result.outcomes.push_back(o);
    }
    return Status::Ok();
  });
  if (!st.ok()) {
    return Unavailable("the notification was not persisted: " + st.message());
  }
  for (const AlertOutcome& o : result.outcomes) metrics_->AlertOutcome(o.outcome);
  std::lock_guard<std::mutex> lock(mu_);
  for (JobRecord& job : new_jobs) {
    if (job.state == JobState::kFailed) {
      metrics_->JobFinished(job.playbook, "failed");
      log::Warn("job failed before it started",
                {{"job", std::to_string(job.id)}, {"playbook", job.playbook},
                 {"err", job.error}});
      continue;
    }
    queue_.push_back(std::move(job));
  }
  metrics_->SetQueued(static_cast<double>(queue_.size()));
  DispatchLocked();
  return result;
}

Result<JobRecord> Engine::Trigger(const std::string& playbook, const LabelSet& labels,
                                  const LabelSet& annotations) {
  std::shared_ptr<const Config> config = this->config();
  const PlaybookConfig* p = config->Find(playbook);
  if (p == nullptr) return NotFound("no playbook named \"" + playbook + "\"");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= config->limits.max_queued_jobs) {
      return ResourceExhausted("job queue full (" + std::to_string(queue_.size()) +
                               " queued, limits.max_queued_jobs)");
    }
  }
  const int64_t now = ToUnixMillis(clock_->Now());
  Notification n;
  n.receiver = "manual";
  Alert alert;
  alert.status = AlertStatus::kFiring;
  alert.labels = labels;
  alert.annotations = annotations;
  JobRecord job;
  job.playbook = p->name;
  job.phase = Phase::kManual;
  job.state = JobState::kQueued;
  job.dry_run = config->dry_run || p->dry_run;
  job.created_ms = now;
  job.alert_json = AlertToJson(alert, n);
  Result<std::string> target = p->target.Render(IntakeData(alert, n, p->name, Phase::kManual));
  if (!target.ok()) return InvalidArgument("target: " + target.status().message());
  job.target = *target;
  Status st = journal_->Write([&job](Tx& tx) -> Status {
    Result<int64_t> id = tx.InsertJob(job);
    if (!id.ok()) return id.status();
    job.id = *id;
    return Status::Ok();
  });
  if (!st.ok()) return Unavailable("the job was not persisted: " + st.message());
  log::Info("job triggered by hand", {{"job", std::to_string(job.id)}, {"playbook", job.playbook},
                                      {"target", job.target}});
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(job);
  metrics_->SetQueued(static_cast<double>(queue_.size()));
  DispatchLocked();
  return job;
}

Status Engine::Abort(int64_t job_id) {
  std::unique_lock<std::mutex> lock(mu_);
  auto queued = std::find_if(queue_.begin(), queue_.end(),
                             [job_id](const JobRecord& j) { return j.id == job_id; });
  if (queued != queue_.end()) {
    JobRecord job = *queued;
    queue_.erase(queued);
    metrics_->SetQueued(static_cast<double>(queue_.size()));
    lock.unlock();
    job.state = JobState::kAborted;
    job.finished_ms = ToUnixMillis(clock_->Now());
    job.error = "aborted through the API before it started";
    Status st = journal_->Write([&job](Tx& tx) { return tx.UpdateJob(job); });
    if (!st.ok()) {
      // Put it back: the journal still says queued, so memory must too.
      std::lock_guard<std::mutex> relock(mu_);
      job.state = JobState::kQueued;
      job.finished_ms = 0;
      job.error.clear();
      queue_.push_front(job);
      std::sort(queue_.begin(), queue_.end(),
                [](const JobRecord& a, const JobRecord& b) { return a.id < b.id; });
      metrics_->SetQueued(static_cast<double>(queue_.size()));
      return Unavailable("abort not recorded: " + st.message());
    }
    metrics_->JobFinished(job.playbook, "aborted");
    log::Info("queued job aborted", {{"job", std::to_string(job_id)}});
    return Status::Ok();
  }
  auto running = running_.find(job_id);
  if (running != running_.end()) {
    running->second->abort_reason = "aborted through the API while it ran";
    running->second->abort.store(true);
    log::Info("aborting running job", {{"job", std::to_string(job_id)}});
    return Status::Ok();
  }
  lock.unlock();
  Result<std::optional<JobRecord>> job = journal_->GetJob(job_id);
  if (!job.ok()) return job.status();
  if (!job->has_value()) return NotFound("no job " + std::to_string(job_id));
  if (!IsTerminal((*job)->state)) {
    // Committed by an intake that has not handed it to the queue yet (a moment), or a job
    // between the queue and its thread: neither can be stopped from here right now.
    return Unavailable("job " + std::to_string(job_id) + " is being scheduled; retry the abort");
  }
  return FailedPrecondition("job " + std::to_string(job_id) + " is already " +
                            JobStateName((*job)->state));
}

Status Engine::SetPaused(bool paused) {
  Status st = journal_->Write(
      [paused](Tx& tx) { return tx.SetMeta("paused", paused ? "1" : "0"); });
  if (!st.ok()) return Unavailable("pause switch not recorded: " + st.message());
  std::lock_guard<std::mutex> lock(mu_);
  paused_ = paused;
  metrics_->SetPaused(paused);
  log::Info(paused ? "paused: no job starts until resumed" : "resumed");
  DispatchLocked();
  return Status::Ok();
}

bool Engine::paused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return paused_;
}

void Engine::Reload(std::shared_ptr<const Config> config) {
  for (const PlaybookConfig& p : config->playbooks) metrics_->DeclarePlaybook(p.name);
  std::lock_guard<std::mutex> lock(mu_);
  config_ = std::move(config);
  DispatchLocked();
}

std::shared_ptr<const Config> Engine::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

size_t Engine::active() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_.size();
}

size_t Engine::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void Engine::DispatchLocked() {
  JoinFinishedLocked();
  if (paused_ || stopping_) return;
  const size_t limit = static_cast<size_t>(std::max(1, config_->limits.max_concurrent_jobs));
  for (auto it = queue_.begin(); it != queue_.end() && running_.size() < limit;) {
    std::string key = TargetKey(it->playbook, it->target);
    if (active_targets_.count(key) > 0) {
      ++it;  // the target is busy: a later job of another target may start
      continue;
    }
    JobRecord job = std::move(*it);
    it = queue_.erase(it);
    auto running = std::make_shared<Running>();
    running->target_key = key;
    active_targets_.insert(key);
    running_[job.id] = running;
    running->thread = std::thread(&Engine::RunJob, this, std::move(job), running);
  }
  metrics_->SetQueued(static_cast<double>(queue_.size()));
  metrics_->SetActive(static_cast<double>(running_.size()));
}

Status Engine::WriteOrLog(const std::function<Status(Tx&)>& fn, const char* what) {
  Status st = journal_->Write(fn);
  if (!st.ok()) log::Error("journal write failed", {{"what", what}, {"err", st.message()}});
  return st;
}

void Engine::RunJob(JobRecord job, std::shared_ptr<Running> running) {
  std::shared_ptr<const Config> config = this->config();
  const PlaybookConfig* p = config->Find(job.playbook);
  const std::string job_id = std::to_string(job.id);
  auto now_ms = [this] { return ToUnixMillis(clock_->Now()); };

  const std::vector<StepConfig>* steps = nullptr;
  if (p != nullptr) steps = job.phase == Phase::kResolved ? &p->resolve_steps : &p->steps;
  // Dry-run as configured now, not only as when the job was queued: an operator who restarts
  // with --dry-run, or reloads with dry_run: true, must not see queued jobs run for real.
  if (config->dry_run || (p != nullptr && p->dry_run)) job.dry_run = true;
  auto data = TemplateDataForJob(job);

  job.state = JobState::kRunning;
  job.started_ms = now_ms();
  job.steps.clear();
  if (steps != nullptr) {
    for (size_t i = 0; i < steps->size(); ++i) {
      StepRecord s;
      s.index = static_cast<int>(i);
      s.name = (*steps)[i].name;
      s.kind = (*steps)[i].kind;
      job.steps.push_back(s);
    }
  }
  metrics_->JobStarted(job.playbook);
  Status started = WriteOrLog(
      [&job](Tx& tx) -> Status {
        for (const StepRecord& s : job.steps) FORESIGHT_RETURN_IF_ERROR(tx.UpdateStep(job.id, s));
        return tx.UpdateJob(job);
      },
      "job start");
  log::Info("job started", {{"job", job_id}, {"playbook", job.playbook},
                            {"phase", PhaseName(job.phase)}, {"target", job.target},
                            {"dry_run", job.dry_run ? "true" : "false"}});

  bool failed = false;
  bool aborted = false;  // a step was stopped or skipped by an abort
  std::string first_error;
  if (!started.ok()) {
    failed = true;
    first_error = "the job's start was not recorded, so no step ran: " + started.message();
  } else if (p == nullptr) {
    failed = true;
    first_error = "playbook \"" + job.playbook + "\" is no longer configured";
  } else if (!data.ok()) {
    failed = true;
    first_error = data.status().message();
  } else {
    for (size_t i = 0; i < steps->size(); ++i) {
      const StepConfig& sc = (*steps)[i];
      StepRecord& step = job.steps[i];
      if (running->abort.load()) {
        aborted = true;
        step.state = StepState::kAborted;
        step.error = "not run: the job was aborted";
        WriteOrLog([&](Tx& tx) { return tx.UpdateStep(job.id, step); }, "step aborted").IgnoreError();
        continue;
      }
      const bool run = sc.when == When::kAlways || (sc.when == When::kOnSuccess && !failed) ||
                       (sc.when == When::kOnFailure && failed);
      if (!run) {
        step.state = StepState::kSkipped;
        step.error = std::string("when: ") + WhenName(sc.when) +
                     (failed ? " and an earlier step failed" : " and no earlier step failed");
        WriteOrLog([&](Tx& tx) { return tx.UpdateStep(job.id, step); }, "step skipped").IgnoreError();
        continue;
      }
      Result<std::string> detail = sc.action->Describe((*data)->data);
      step.started_ms = now_ms();
      if (!detail.ok()) {
        step.state = StepState::kFailed;
        step.finished_ms = step.started_ms;
        step.error = detail.status().message();
        failed = true;
        if (first_error.empty()) first_error = "step " + step.name + ": " + step.error;
        WriteOrLog([&](Tx& tx) { return tx.UpdateStep(job.id, step); }, "step failed").IgnoreError();
        continue;
      }
      step.detail = *detail;
      if (job.dry_run) {
        step.state = StepState::kDryRun;
        step.finished_ms = step.started_ms;
        WriteOrLog([&](Tx& tx) { return tx.UpdateStep(job.id, step); }, "step dry run").IgnoreError();
        continue;
      }
      step.state = StepState::kRunning;
      Status before = WriteOrLog([&](Tx& tx) { return tx.UpdateStep(job.id, step); },
                                 "step start");
      if (!before.ok()) {
        // Unrecorded, the step could run twice after a crash: do not run it.
        step.state = StepState::kFailed;
        step.finished_ms = now_ms();
        step.error = "not run: its start was not recorded: " + before.message();
        failed = true;
        if (first_error.empty()) first_error = "step " + step.name + ": " + step.error;
        continue;
      }
      StepContext ctx;
      ctx.data = &(*data)->data;
      ctx.timeout = sc.timeout;
      ctx.abort = &running->abort;
      const auto t0 = clock_->MonotonicNow();
      StepResult r = sc.action->Run(ctx);
      metrics_->StepDuration(job.playbook, sc.kind, Seconds(clock_->MonotonicNow() - t0));
      step.state = r.state;
      if (r.state == StepState::kAborted) aborted = true;
      step.exit_code = r.exit_code;
      step.output = std::move(r.output);
      step.output_truncated = r.output_truncated;
      step.error = std::move(r.error);
      step.finished_ms = now_ms();
      if (r.state != StepState::kSucceeded && r.state != StepState::kAborted) {
        failed = true;
        if (first_error.empty()) first_error = "step " + step.name + ": " + step.error;
      }
      log::Write(r.state == StepState::kSucceeded ? log::Level::kInfo : log::Level::kWarn,
                 "step finished",
                 {{"job", job_id}, {"step", step.name}, {"kind", step.kind},
                  {"state", StepStateName(step.state)}, {"err", step.error}});
      WriteOrLog([&](Tx& tx) { return tx.UpdateStep(job.id, step); }, "step result").IgnoreError();
    }
  }

  // An abort that came after the last step finished changes nothing: the job did its work.
  if (aborted) {
    job.state = JobState::kAborted;
    std::lock_guard<std::mutex> lock(mu_);
    job.error = running->abort_reason;
  } else {
    job.state = failed ? JobState::kFailed : JobState::kSucceeded;
    job.error = first_error;
  }
  job.finished_ms = now_ms();
  WriteOrLog([&job](Tx& tx) { return tx.UpdateJob(job); }, "job result").IgnoreError();
  metrics_->JobFinished(job.playbook, JobStateName(job.state));
  log::Write(job.state == JobState::kSucceeded ? log::Level::kInfo : log::Level::kWarn,
             "job finished",
             {{"job", job_id}, {"playbook", job.playbook}, {"state", JobStateName(job.state)},
              {"err", job.error}});

  std::lock_guard<std::mutex> lock(mu_);
  active_targets_.erase(running->target_key);
  running_.erase(job.id);
  finished_.push_back(running);
  cv_.notify_all();
  DispatchLocked();
}

}  // namespace foresight::webhook
