#include "foresight/webhook/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "foresight/common/clock.h"
#include "foresight/webhook/action.h"
#include "foresight/webhook/config.h"
#include "foresight/webhook/journal.h"
#include "foresight/webhook/metrics.h"

namespace foresight::webhook {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A step kind the test controls: "{kind: test, id: a}". Each id counts its runs, can be made to
// block until released, and returns the state it is told to.
class Controller {
 public:
  static Controller& Get() {
    static Controller c;
    return c;
  }
  void Reset() {
    std::lock_guard<std::mutex> lock(mu_);
    runs_.clear();
    block_.clear();
    result_.clear();
    entered_.clear();
  }
  void Block(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    block_[id] = true;
  }
  void Release(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    block_[id] = false;
    cv_.notify_all();
  }
  void Fail(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    result_[id] = StepState::kFailed;
  }
  int runs(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return runs_[id];
  }
  int entered(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_[id];
  }
  // Waits (bounded) until `id` has been entered `n` times.
  bool WaitEntered(const std::string& id, int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_[id] >= n; });
  }
  StepResult Run(const std::string& id, const StepContext& ctx) {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_[id];
    cv_.notify_all();
    while (block_[id]) {
      if (ctx.abort != nullptr && ctx.abort->load()) {
        StepResult r;
        r.state = StepState::kAborted;
        r.error = "aborted";
        return r;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
    ++runs_[id];
    StepResult r;
    r.state = result_.count(id) ? result_[id] : StepState::kSucceeded;
    r.output = "ran " + id + " for " + (ctx.data->labels && ctx.data->labels->count("service")
                                            ? ctx.data->labels->at("service")
                                            : std::string("?"));
    if (r.state != StepState::kSucceeded) r.error = "told to fail";
    return r;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> runs_, entered_;
  std::map<std::string, bool> block_;
  std::map<std::string, StepState> result_;
};

class TestAction final : public Action {
 public:
  TestAction(std::string id, Template arg) : id_(std::move(id)), arg_(std::move(arg)) {}
  Result<std::string> Describe(const TemplateData& data) const override {
    Result<std::string> arg = arg_.Render(data);
    if (!arg.ok()) return arg.status();
    return "test " + id_ + " " + *arg;
  }
  StepResult Run(const StepContext& ctx) const override { return Controller::Get().Run(id_, ctx); }

 private:
  std::string id_;
  Template arg_;
};

class TestKind final : public ActionKind {
 public:
  std::string name() const override { return "test"; }
  std::vector<std::string> keys() const override { return {"id", "arg"}; }
  Result<std::unique_ptr<Action>> Configure(const yaml::Fields& fields, const yaml::Decoder& d,
                                            const std::string& where) const override {
    auto id = d.String(fields.at("id"), "id");
    if (!id.ok()) return id.status();
    Template arg;
    if (fields.count("arg")) {
      auto text = d.String(fields.at("arg"), "arg");
      if (!text.ok()) return text.status();
      auto parsed = Template::Parse(*text);
      if (!parsed.ok()) return parsed.status();
      arg = *parsed;
    }
    return std::unique_ptr<Action>(new TestAction(*id, arg));
  }
};

constexpr char kConfig[] = R"(
journal: {path: unused.db}
limits: {max_concurrent_jobs: 2, max_queued_jobs: 8}
playbooks:
  - name: scale
    match: {alertname: Breach}
    target: "{{ .Labels.service }}"
    cooldown: 30m
    steps:
      - {kind: test, id: scale-a}
      - {kind: test, id: scale-b}
      - {kind: test, id: scale-fail-handler, when: on_failure}
    resolve_steps:
      - {kind: test, id: scale-undo}
  - name: notify
    match_re: {alertname: "Breach|Other"}
    cooldown: 0s
    steps:
      - {kind: test, id: notify, arg: "{{ .Labels.service }}"}
)";

Notification MakeNotification(AlertStatus status, const std::string& alertname,
                              const std::string& service, const std::string& fingerprint,
                              int64_t starts_at_ms = 1700000000000) {
  Notification n;
  n.version = "4";
  n.receiver = "foresight-webhook";
  n.status = status;
  n.group_key = "{}:{alertname=\"" + alertname + "\"}";
  Alert a;
  a.status = status;
  a.labels = {{"alertname", alertname}};
  if (!service.empty()) a.labels["service"] = service;
  a.fingerprint = fingerprint;
  a.starts_at = "2023-11-14T22:13:20Z";
  a.starts_at_ms = starts_at_ms;
  n.alerts.push_back(a);
  return n;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Controller::Get().Reset();
    char tmpl[] = "/tmp/engine_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    registry_ = ActionRegistry::Default();
    registry_.Register(std::make_unique<TestKind>());
    OpenJournal();
  }
  void TearDown() override {
    engine_.reset();
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenJournal() {
    JournalOptions o;
    o.path = dir_ + "/journal.db";
    auto j = Journal::Open(o);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal_ = std::move(*j);
  }

  std::shared_ptr<const Config> LoadTestConfig(std::string text = kConfig) {
    auto c = ParseConfig(text, "test.yml", "", registry_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return nullptr;
    return std::make_shared<const Config>(std::move(*c));
  }

  void StartEngine(std::string text = kConfig) {
    EngineOptions o;
    o.clock = &clock_;
    o.shutdown_grace = std::chrono::milliseconds(200);
    auto e = Engine::Start(LoadTestConfig(std::move(text)), journal_.get(), &metrics_, o);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
  }

  IntakeResult Accept(const Notification& n) {
    auto r = engine_->Accept(n, "{}");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : IntakeResult{};
  }

  // Polls the journal until the job reaches a terminal state (bounded).
  JobRecord WaitDone(int64_t id) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto job = journal_->GetJob(id);
      EXPECT_TRUE(job.ok());
      if (job.ok() && job->has_value() && IsTerminal((*job)->state)) return **job;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "job " << id << " did not finish";
        return job.ok() && job->has_value() ? **job : JobRecord{};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::vector<std::string> Outcomes(const IntakeResult& r) {
    std::vector<std::string> out;
    for (const AlertOutcome& o : r.outcomes) out.push_back(o.playbook + ":" + o.outcome);
    return out;
  }

  int64_t JobOf(const IntakeResult& r, const std::string& playbook) {
    for (const AlertOutcome& o : r.outcomes) {
      if (o.playbook == playbook) return o.job_id;
    }
    return 0;
  }

  std::string dir_;
  FakeClock clock_;
  Metrics metrics_;
  ActionRegistry registry_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, FiringAlertRunsEveryMatchingPlaybookOnce) {
  StartEngine();
  IntakeResult r = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1"));
  EXPECT_GT(r.notification_id, 0);
  EXPECT_THAT(Outcomes(r), ElementsAre("scale:job", "notify:job"));
  JobRecord scale = WaitDone(JobOf(r, "scale"));
  EXPECT_EQ(scale.state, JobState::kSucceeded) << scale.error;
  EXPECT_EQ(scale.target, "api");
  EXPECT_EQ(scale.phase, Phase::kFiring);
  ASSERT_EQ(scale.steps.size(), 3u);
  EXPECT_EQ(scale.steps[0].state, StepState::kSucceeded);
  EXPECT_EQ(scale.steps[0].output, "ran scale-a for api");
  EXPECT_EQ(scale.steps[0].detail, "test scale-a ");
  EXPECT_GT(scale.steps[0].started_ms, 0);
  EXPECT_EQ(scale.steps[1].state, StepState::kSucceeded);
  EXPECT_EQ(scale.steps[2].state, StepState::kSkipped);
  EXPECT_THAT(scale.steps[2].error, HasSubstr("on_failure"));
  JobRecord notify = WaitDone(JobOf(r, "notify"));
  EXPECT_EQ(notify.state, JobState::kSucceeded);
  EXPECT_EQ(notify.target, "fp1");  // the default target is the fingerprint
  EXPECT_EQ(notify.steps[0].detail, "test notify api");
  EXPECT_EQ(Controller::Get().runs("scale-a"), 1);
  EXPECT_EQ(Controller::Get().runs("notify"), 1);
  EXPECT_THAT(metrics_.Serialize(),
              HasSubstr("foresight_webhook_jobs_succeeded_total{playbook=\"scale\"} 1"));
}

TEST_F(EngineTest, UnmatchedAlertIsRecordedAndRunsNothing) {
  StartEngine();
  IntakeResult r = Accept(MakeNotification(AlertStatus::kFiring, "Unrelated", "api", "fp1"));
  EXPECT_THAT(Outcomes(r), ElementsAre(":unmatched"));
  auto outcomes = journal_->Outcomes(r.notification_id);
  ASSERT_TRUE(outcomes.ok());
  ASSERT_EQ(outcomes->size(), 1u);
  EXPECT_EQ((*outcomes)[0].outcome, "unmatched");
  auto n = journal_->GetNotification(r.notification_id);
  ASSERT_TRUE(n.ok() && n->has_value());
  EXPECT_EQ((*n)->body, "{}");
}

TEST_F(EngineTest, RepeatWhileActiveIsADuplicateAndNeverStartsASecondRun) {
  StartEngine();
  Controller::Get().Block("scale-a");
  auto n = MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1");
  IntakeResult first = Accept(n);
  ASSERT_TRUE(Controller::Get().WaitEntered("scale-a", 1));
  IntakeResult again = Accept(n);
  EXPECT_EQ(Outcomes(again)[0], "scale:duplicate");
  EXPECT_EQ(JobOf(again, "scale"), JobOf(first, "scale"));
  Controller::Get().Release("scale-a");
  WaitDone(JobOf(first, "scale"));
  EXPECT_EQ(Controller::Get().runs("scale-a"), 1);
}

TEST_F(EngineTest, CooldownHoldsATargetThenLetsTheAlertRunAgain) {
  StartEngine();
  auto n = MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1");
  IntakeResult first = Accept(n);
  WaitDone(JobOf(first, "scale"));
  WaitDone(JobOf(first, "notify"));

  clock_.Advance(std::chrono::minutes(29));
  IntakeResult repeat = Accept(n);  // Alertmanager's repeat_interval
  EXPECT_THAT(Outcomes(repeat), ElementsAre("scale:cooldown", "notify:job"));
  EXPECT_EQ(JobOf(repeat, "scale"), JobOf(first, "scale"));
  // Another alert on the same target is held too: cooldown is per target.
  IntakeResult other = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp2"));
  EXPECT_EQ(Outcomes(other)[0], "scale:cooldown");
  // A different target is not.
  IntakeResult web = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "web", "fp3"));
  EXPECT_EQ(Outcomes(web)[0], "scale:job");
  WaitDone(JobOf(web, "scale"));

  clock_.Advance(std::chrono::minutes(2));
  IntakeResult later = Accept(n);
  EXPECT_EQ(Outcomes(later)[0], "scale:job");
  WaitDone(JobOf(later, "scale"));
  EXPECT_EQ(Controller::Get().runs("scale-a"), 3);  // api, web, api again
}

TEST_F(EngineTest, ResolvedRunsResolveStepsOnceAndOnlyAfterAFiringJob) {
  StartEngine();
  IntakeResult fired = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1"));
  WaitDone(JobOf(fired, "scale"));
  auto resolved = MakeNotification(AlertStatus::kResolved, "Breach", "api", "fp1");
  IntakeResult r = Accept(resolved);
  EXPECT_THAT(Outcomes(r), ElementsAre("scale:job", "notify:no_resolve_steps"));
  JobRecord undo = WaitDone(JobOf(r, "scale"));
  EXPECT_EQ(undo.phase, Phase::kResolved);
  EXPECT_EQ(undo.state, JobState::kSucceeded);
  ASSERT_EQ(undo.steps.size(), 1u);
  EXPECT_EQ(undo.steps[0].name, "test-1");
  IntakeResult again = Accept(resolved);
  EXPECT_EQ(Outcomes(again)[0], "scale:duplicate");
  // An alert that never had a firing job has nothing to undo.
  IntakeResult stray = Accept(MakeNotification(AlertStatus::kResolved, "Breach", "db", "fp9"));
  EXPECT_EQ(Outcomes(stray)[0], "scale:no_firing_job");
  WaitDone(JobOf(fired, "notify"));
  EXPECT_EQ(Controller::Get().runs("scale-undo"), 1);
}

TEST_F(EngineTest, OneActiveJobPerTargetAndAGlobalLimit) {
  StartEngine();
  Controller::Get().Block("scale-a");
  Controller::Get().Block("notify");
  // Two alerts of one target: the second waits for the first.
  IntakeResult a1 = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1"));
  ASSERT_TRUE(Controller::Get().WaitEntered("scale-a", 1));
  // The notify jobs of fp1 and the scale job take both slots (limit 2): nothing else starts.
  EXPECT_EQ(engine_->active(), 2u);
  IntakeResult other = Accept(MakeNotification(AlertStatus::kFiring, "Other", "", "fp5"));
  EXPECT_EQ(engine_->queued(), 1u);
  Controller::Get().Release("notify");
  WaitDone(JobOf(a1, "notify"));
  WaitDone(JobOf(other, "notify"));
  EXPECT_EQ(Controller::Get().entered("scale-a"), 1);
  Controller::Get().Release("scale-a");
  EXPECT_EQ(WaitDone(JobOf(a1, "scale")).state, JobState::kSucceeded);
}

TEST_F(EngineTest, SameTargetJobsRunOneAfterTheOther) {
  StartEngine(R"(
journal: {path: unused.db}
limits: {max_concurrent_jobs: 4}
playbooks:
  - name: scale
    match: {alertname: Breach}
    target: "{{ .Labels.service }}"
    cooldown: 0s
    steps: [{kind: test, id: s}]
)");
  Controller::Get().Block("s");
  IntakeResult a = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1"));
  IntakeResult b = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp2"));
  ASSERT_TRUE(Controller::Get().WaitEntered("s", 1));
  EXPECT_EQ(engine_->active(), 1u);
  EXPECT_EQ(engine_->queued(), 1u);
  Controller::Get().Release("s");
  JobRecord ja = WaitDone(JobOf(a, "scale"));
  JobRecord jb = WaitDone(JobOf(b, "scale"));
  EXPECT_LE(ja.finished_ms, jb.started_ms);
  EXPECT_EQ(Controller::Get().runs("s"), 2);
}

TEST_F(EngineTest, PauseHoldsJobsAcrossRestartsUntilResumed) {
  StartEngine();
  ASSERT_TRUE(engine_->SetPaused(true).ok());
  IntakeResult r = Accept(MakeNotification(AlertStatus::kFiring, "Other", "api", "fp1"));
  EXPECT_EQ(engine_->queued(), 1u);
  EXPECT_EQ(engine_->active(), 0u);
  EXPECT_THAT(metrics_.Serialize(), HasSubstr("foresight_webhook_paused 1"));
  engine_.reset();  // restart: the switch and the queued job survive
  StartEngine();
  EXPECT_TRUE(engine_->paused());
  EXPECT_EQ(engine_->queued(), 1u);
  EXPECT_EQ(Controller::Get().runs("notify"), 0);
  ASSERT_TRUE(engine_->SetPaused(false).ok());
  EXPECT_EQ(WaitDone(JobOf(r, "notify")).state, JobState::kSucceeded);
}

TEST_F(EngineTest, DryRunRecordsWhatWouldRunAndRunsNothing) {
  StartEngine(std::string(kConfig) + "dry_run: true\n");
  IntakeResult r = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1"));
  JobRecord job = WaitDone(JobOf(r, "notify"));
  EXPECT_TRUE(job.dry_run);
  EXPECT_EQ(job.state, JobState::kSucceeded);
  EXPECT_EQ(job.steps[0].state, StepState::kDryRun);
  EXPECT_EQ(job.steps[0].detail, "test notify api");
  WaitDone(JobOf(r, "scale"));
  EXPECT_EQ(Controller::Get().entered("notify"), 0);
  EXPECT_EQ(Controller::Get().entered("scale-a"), 0);
}

TEST_F(EngineTest, DryRunSetAfterAJobWasQueuedStillHoldsIt) {
  StartEngine();
  ASSERT_TRUE(engine_->SetPaused(true).ok());
  IntakeResult r = Accept(MakeNotification(AlertStatus::kFiring, "Other", "api", "fp1"));
  engine_->Reload(LoadTestConfig(std::string(kConfig) + "dry_run: true\n"));
  ASSERT_TRUE(engine_->SetPaused(false).ok());
  JobRecord job = WaitDone(JobOf(r, "notify"));
  EXPECT_TRUE(job.dry_run);
  EXPECT_EQ(job.steps[0].state, StepState::kDryRun);
  EXPECT_EQ(Controller::Get().entered("notify"), 0);
}

TEST_F(EngineTest, AbortOfAJobNotYetHandedToTheQueueAsksForARetry) {
  StartEngine();
  // A queued job the engine has not been given yet: as between an intake's commit and its
  // hand-over to the queue.
  JobRecord job;
  job.playbook = "notify";
  job.target = "x";
  job.state = JobState::kQueued;
  job.alert_json = "{}";
  int64_t id = 0;
  ASSERT_TRUE(journal_
                  ->Write([&](Tx& tx) -> Status {
                    auto inserted = tx.InsertJob(job);
                    if (!inserted.ok()) return inserted.status();
                    id = *inserted;
                    return Status::Ok();
                  })
                  .ok());
  Status st = engine_->Abort(id);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("retry"));
}

TEST_F(EngineTest, AFailedStepFailsTheJobAndRunsOnlyOnFailureSteps) {
  StartEngine();
  Controller::Get().Fail("scale-a");
  IntakeResult r = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1"));
  JobRecord job = WaitDone(JobOf(r, "scale"));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_THAT(job.error, HasSubstr("told to fail"));
  EXPECT_EQ(job.steps[0].state, StepState::kFailed);
  EXPECT_EQ(job.steps[1].state, StepState::kSkipped);
  EXPECT_EQ(job.steps[2].state, StepState::kSucceeded);
  EXPECT_EQ(Controller::Get().runs("scale-b"), 0);
  EXPECT_EQ(Controller::Get().runs("scale-fail-handler"), 1);
}

TEST_F(EngineTest, AMissingLabelFailsTheStepWithoutRunningIt) {
  StartEngine();
  IntakeResult r = Accept(MakeNotification(AlertStatus::kFiring, "Other", "", "fp1"));
  JobRecord job = WaitDone(JobOf(r, "notify"));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_THAT(job.steps[0].error, HasSubstr("service"));
  EXPECT_EQ(Controller::Get().entered("notify"), 0);
}

TEST_F(EngineTest, ATargetThatCannotBeRenderedFailsTheJobVisibly) {
  StartEngine();
  IntakeResult r = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "", "fp1"));
  EXPECT_EQ(Outcomes(r)[0], "scale:job");
  JobRecord job = WaitDone(JobOf(r, "scale"));
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_THAT(job.error, HasSubstr("target"));
  EXPECT_EQ(Controller::Get().entered("scale-a"), 0);
}

TEST_F(EngineTest, AbortQueuedRunningAndFinishedJobs) {
  StartEngine();
  Controller::Get().Block("scale-a");
  ASSERT_TRUE(engine_->SetPaused(true).ok());
  IntakeResult queued = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1"));
  ASSERT_TRUE(engine_->Abort(JobOf(queued, "scale")).ok());
  ASSERT_TRUE(engine_->SetPaused(false).ok());
  JobRecord aborted = WaitDone(JobOf(queued, "scale"));
  EXPECT_EQ(aborted.state, JobState::kAborted);
  EXPECT_EQ(aborted.started_ms, 0);
  EXPECT_EQ(Controller::Get().entered("scale-a"), 0);

  IntakeResult running = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "web", "fp2"));
  ASSERT_TRUE(Controller::Get().WaitEntered("scale-a", 1));
  ASSERT_TRUE(engine_->Abort(JobOf(running, "scale")).ok());
  JobRecord stopped = WaitDone(JobOf(running, "scale"));
  EXPECT_EQ(stopped.state, JobState::kAborted);
  EXPECT_THAT(stopped.error, HasSubstr("API"));
  EXPECT_EQ(stopped.steps[0].state, StepState::kAborted);
  EXPECT_EQ(stopped.steps[1].state, StepState::kAborted);
  EXPECT_EQ(Controller::Get().runs("scale-b"), 0);

  Status again = engine_->Abort(JobOf(running, "scale"));
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.message(), HasSubstr("already aborted"));
  EXPECT_EQ(engine_->Abort(999999).code(), StatusCode::kNotFound);
  WaitDone(JobOf(queued, "notify"));
  WaitDone(JobOf(running, "notify"));
}

TEST_F(EngineTest, RecoveryInterruptsRunningJobsAndResumesQueuedOnes) {
  // The journal as a crash leaves it: job 1 ran step 0, was inside step 1; job 2 queued.
  JobRecord cut;
  cut.playbook = "scale";
  cut.phase = Phase::kFiring;
  cut.target = "api";
  cut.fingerprint = "fp1";
  cut.state = JobState::kRunning;
  cut.created_ms = 1;
  cut.started_ms = 2;
  cut.alert_json = R"({"labels":{"alertname":"Breach","service":"api"},"status":"firing"})";
  for (int i = 0; i < 3; ++i) {
    StepRecord s;
    s.index = i;
    s.name = "test-" + std::to_string(i + 1);
    s.kind = "test";
    s.state = i == 0 ? StepState::kSucceeded : i == 1 ? StepState::kRunning : StepState::kPending;
    cut.steps.push_back(s);
  }
  JobRecord waiting = cut;
  waiting.target = "web";
  waiting.fingerprint = "fp2";
  waiting.state = JobState::kQueued;
  waiting.started_ms = 0;
  waiting.steps.clear();
  waiting.alert_json = R"({"labels":{"alertname":"Breach","service":"web"},"status":"firing"})";
  int64_t cut_id = 0, waiting_id = 0;
  ASSERT_TRUE(journal_
                  ->Write([&](Tx& tx) -> Status {
                    auto a = tx.InsertJob(cut);
                    if (!a.ok()) return a.status();
                    cut_id = *a;
                    auto b = tx.InsertJob(waiting);
                    if (!b.ok()) return b.status();
                    waiting_id = *b;
                    return Status::Ok();
                  })
                  .ok());
  StartEngine();
  JobRecord interrupted = WaitDone(cut_id);
  EXPECT_EQ(interrupted.state, JobState::kInterrupted);
  ASSERT_EQ(interrupted.steps.size(), 3u);
  EXPECT_EQ(interrupted.steps[0].state, StepState::kSucceeded);
  EXPECT_EQ(interrupted.steps[1].state, StepState::kInterrupted);
  EXPECT_THAT(interrupted.steps[1].error, HasSubstr("not run again"));
  EXPECT_EQ(interrupted.steps[2].state, StepState::kPending);
  JobRecord resumed = WaitDone(waiting_id);
  EXPECT_EQ(resumed.state, JobState::kSucceeded);
  // Only the queued job ran, and it ran its steps once.
  EXPECT_EQ(Controller::Get().runs("scale-a"), 1);
  EXPECT_EQ(Controller::Get().runs("scale-b"), 1);
  EXPECT_THAT(metrics_.Serialize(),
              HasSubstr("foresight_webhook_jobs_interrupted_total{playbook=\"scale\"} 1"));
}

TEST_F(EngineTest, AFullQueueRefusesWithoutPersisting) {
  StartEngine();
  ASSERT_TRUE(engine_->SetPaused(true).ok());
  for (int i = 0; i < 4; ++i) {  // two jobs each: 8 queued, the limit
    Accept(MakeNotification(AlertStatus::kFiring, "Breach", "s" + std::to_string(i),
                            "fp" + std::to_string(i)));
  }
  auto before = journal_->CountNotifications();
  auto full = engine_->Accept(MakeNotification(AlertStatus::kFiring, "Breach", "x", "fpx"), "{}");
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(full.status().message(), HasSubstr("max_queued_jobs"));
  EXPECT_EQ(*journal_->CountNotifications(), *before);
  ASSERT_TRUE(engine_->SetPaused(false).ok());
}

TEST_F(EngineTest, TriggerRunsAPlaybookByHand) {
  StartEngine();
  auto unknown = engine_->Trigger("nope", {}, {});
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  auto job = engine_->Trigger("notify", {{"service", "api"}}, {{"summary", "by hand"}});
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->phase, Phase::kManual);
  JobRecord done = WaitDone(job->id);
  EXPECT_EQ(done.state, JobState::kSucceeded);
  EXPECT_EQ(done.steps[0].detail, "test notify api");
  auto bad = engine_->Trigger("scale", {}, {});  // target needs .Labels.service
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, StopAbortsJobsStillRunningAfterTheGrace) {
  StartEngine();
  Controller::Get().Block("scale-a");
  IntakeResult r = Accept(MakeNotification(AlertStatus::kFiring, "Breach", "api", "fp1"));
  ASSERT_TRUE(Controller::Get().WaitEntered("scale-a", 1));
  engine_->Stop();
  auto job = journal_->GetJob(JobOf(r, "scale"));
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->state, JobState::kAborted);
  EXPECT_THAT((*job)->error, HasSubstr("shut down"));
}

}  // namespace
}  // namespace foresight::webhook
