#include "foresight/webhook/journal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace foresight::webhook {
namespace {

// A private directory that disappears with the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "journal_test_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Records what on_commit reports. Thread-safe.
class CommitLog {
 public:
  std::function<void(std::chrono::nanoseconds, size_t)> Callback() {
    return [this](std::chrono::nanoseconds took, size_t batch) {
      std::lock_guard<std::mutex> lock(mu_);
      sizes_.push_back(batch);
      EXPECT_GE(took.count(), 0);
    };
  }
  std::vector<size_t> sizes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sizes_;
  }
  size_t commits() const { return sizes().size(); }

 private:
  mutable std::mutex mu_;
  std::vector<size_t> sizes_;
};

NotificationRecord MakeNotification(int64_t received_ms, std::string body = "{}") {
  NotificationRecord n;
  n.received_ms = received_ms;
  n.receiver = "foresight";
  n.status = "firing";
  n.group_key = "{}:{alertname=\"X\"}";
  n.alerts = 1;
  n.body = std::move(body);
  return n;
}

JobRecord MakeJob(std::string playbook, std::string target, JobState state = JobState::kQueued,
                  Phase phase = Phase::kFiring) {
  JobRecord j;
  j.playbook = std::move(playbook);
  j.target = std::move(target);
  j.state = state;
  j.phase = phase;
  j.fingerprint = "fp-" + j.target;
  j.starts_at_ms = 1000;
  j.created_ms = 2000;
  j.alert_json = "{\"labels\":{}}";
  return j;
}

StepRecord MakeStep(int index, StepState state = StepState::kPending) {
  StepRecord s;
  s.index = index;
  s.name = "step" + std::to_string(index);
  s.kind = "exec";
  s.state = state;
  return s;
}

class JournalTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/journal.db"; }

  std::unique_ptr<Journal> MustOpen(JournalOptions options = {}) {
    if (options.path.empty()) options.path = Path();
    Result<std::unique_ptr<Journal>> j = Journal::Open(std::move(options));
    if (!j.ok()) {
      ADD_FAILURE() << j.status().ToString();
      return nullptr;
    }
    return std::move(j).value();
  }

  static int64_t MustInsertNotification(Journal& j, const NotificationRecord& n) {
    int64_t id = 0;
    Status st = j.Write([&](Tx& tx) {
      Result<int64_t> r = tx.InsertNotification(n);
      if (!r.ok()) return r.status();
      id = *r;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return id;
  }

  static int64_t MustInsertJob(Journal& j, const JobRecord& job) {
    int64_t id = 0;
    Status st = j.Write([&](Tx& tx) {
      Result<int64_t> r = tx.InsertJob(job);
      if (!r.ok()) return r.status();
      id = *r;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return id;
  }

  static JobRecord MustGetJob(Journal& j, int64_t id) {
    Result<std::optional<JobRecord>> job = j.GetJob(id);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    if (!job.ok() || !job->has_value()) {
      ADD_FAILURE() << "job " << id << " is missing";
      return JobRecord();
    }
    return **job;
  }

  static std::vector<int64_t> Ids(const Result<std::vector<JobRecord>>& jobs) {
    EXPECT_TRUE(jobs.ok()) << jobs.status().ToString();
    std::vector<int64_t> ids;
    if (jobs.ok()) {
      for (const JobRecord& j : *jobs) ids.push_back(j.id);
    }
    return ids;
  }

  TempDir dir_;
};

void ExpectStepEq(const StepRecord& got, const StepRecord& want) {
  EXPECT_EQ(got.index, want.index);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.started_ms, want.started_ms);
  EXPECT_EQ(got.finished_ms, want.finished_ms);
  EXPECT_EQ(got.detail, want.detail);
  EXPECT_EQ(got.exit_code, want.exit_code);
  EXPECT_EQ(got.output, want.output);
  EXPECT_EQ(got.output_truncated, want.output_truncated);
  EXPECT_EQ(got.error, want.error);
}

void ExpectJobEq(const JobRecord& got, const JobRecord& want) {
  EXPECT_EQ(got.notification_id, want.notification_id);
  EXPECT_EQ(got.playbook, want.playbook);
  EXPECT_EQ(got.phase, want.phase);
  EXPECT_EQ(got.target, want.target);
  EXPECT_EQ(got.fingerprint, want.fingerprint);
  EXPECT_EQ(got.starts_at_ms, want.starts_at_ms);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.dry_run, want.dry_run);
  EXPECT_EQ(got.created_ms, want.created_ms);
  EXPECT_EQ(got.started_ms, want.started_ms);
  EXPECT_EQ(got.finished_ms, want.finished_ms);
  EXPECT_EQ(got.alert_json, want.alert_json);
  EXPECT_EQ(got.error, want.error);
}

// Runs one statement on a connection of the test's own and returns the first column of the
// first row ("" for none).
std::string RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    ADD_FAILURE() << "open " << path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return out;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  } else {
    std::vector<std::string> rows;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, sqlite3_column_count(stmt) - 1);
      rows.push_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    if (rc != SQLITE_DONE) ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    for (size_t i = 0; i < rows.size(); ++i) out += (i > 0 ? "\n" : "") + rows[i];
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

TEST(JournalNames, RoundTrip) {
  for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                     JobState::kAborted, JobState::kInterrupted}) {
    EXPECT_EQ(ParseJobState(JobStateName(s)), s) << JobStateName(s);
  }
  for (StepState s : {StepState::kPending, StepState::kRunning, StepState::kSucceeded,
                      StepState::kFailed, StepState::kTimedOut, StepState::kSkipped,
                      StepState::kAborted, StepState::kInterrupted, StepState::kDryRun}) {
    EXPECT_EQ(ParseStepState(StepStateName(s)), s) << StepStateName(s);
  }
  for (Phase p : {Phase::kFiring, Phase::kResolved, Phase::kManual}) {
    EXPECT_EQ(ParsePhase(PhaseName(p)), p) << PhaseName(p);
  }
  EXPECT_STREQ(JobStateName(JobState::kSucceeded), "succeeded");
  EXPECT_STREQ(StepStateName(StepState::kTimedOut), "timed_out");
  EXPECT_STREQ(StepStateName(StepState::kDryRun), "dry_run");
  EXPECT_STREQ(PhaseName(Phase::kResolved), "resolved");
  EXPECT_EQ(ParseJobState("Running"), std::nullopt);
  EXPECT_EQ(ParseStepState(""), std::nullopt);
  EXPECT_EQ(ParsePhase("firing "), std::nullopt);
  EXPECT_FALSE(IsTerminal(JobState::kQueued));
  EXPECT_FALSE(IsTerminal(JobState::kRunning));
  EXPECT_TRUE(IsTerminal(JobState::kSucceeded));
  EXPECT_TRUE(IsTerminal(JobState::kFailed));
  EXPECT_TRUE(IsTerminal(JobState::kAborted));
  EXPECT_TRUE(IsTerminal(JobState::kInterrupted));
}

TEST_F(JournalTest, NotificationRoundTrip) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->path(), Path());
  EXPECT_EQ(*j->CountNotifications(), 0);

  // UTF-8, and a NUL inside: the body comes back byte for byte.
  static constexpr char kBody[] = "{\"a\":\"\xc3\xa9\xe2\x9c\x93\"}\0tail";
  NotificationRecord n = MakeNotification(1700000000123, std::string(kBody, sizeof kBody - 1));
  n.receiver = "récepteur";
  n.status = "resolved";
  n.alerts = 7;
  const int64_t id = MustInsertNotification(*j, n);
  EXPECT_GT(id, 0);

  Result<std::optional<NotificationRecord>> got = j->GetNotification(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->id, id);
  EXPECT_EQ((*got)->received_ms, n.received_ms);
  EXPECT_EQ((*got)->receiver, n.receiver);
  EXPECT_EQ((*got)->status, n.status);
  EXPECT_EQ((*got)->group_key, n.group_key);
  EXPECT_EQ((*got)->alerts, 7);
  EXPECT_EQ((*got)->body, n.body);
  EXPECT_EQ((*got)->body.size(), 18u);

  EXPECT_FALSE(j->GetNotification(id + 1)->has_value());
  EXPECT_EQ(*j->CountNotifications(), 1);
  EXPECT_GT(MustInsertNotification(*j, MakeNotification(1)), id);
  EXPECT_EQ(*j->CountNotifications(), 2);
}

TEST_F(JournalTest, JobAndStepsRoundTripEveryField) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  const int64_t nid = MustInsertNotification(*j, MakeNotification(5));

  JobRecord job = MakeJob("restart-api", "api/prod", JobState::kRunning, Phase::kResolved);
  job.notification_id = nid;
  job.fingerprint = "3f2a9c";
  job.starts_at_ms = 1699999999000;
  job.dry_run = true;
  job.created_ms = 1700000000001;
  job.started_ms = 1700000000002;
  job.finished_ms = 1700000000003;
  job.alert_json = R"({"labels":{"alertname":"Überlast ✓"}})";
  job.error = "nope";

  // Inserted out of order: GetJob returns them by index.
  StepRecord exec = MakeStep(1, StepState::kFailed);
  exec.detail = R"(["systemctl","restart","api"])";
  exec.exit_code = 0;
  exec.started_ms = 10;
  exec.finished_ms = 20;
  exec.output = "ünïcødé ✓ 日本語\n\x01\x02";
  exec.output_truncated = true;
  exec.error = "exit status 0 but failed";
  StepRecord http = MakeStep(0, StepState::kSucceeded);
  http.kind = "http";
  http.detail = "POST http://x/y";
  http.exit_code = 204;
  StepRecord log = MakeStep(2, StepState::kDryRun);
  log.kind = "log";
  log.exit_code = std::nullopt;
  log.output = "";
  job.steps = {exec, http, log};

  const int64_t id = MustInsertJob(*j, job);
  ASSERT_GT(id, 0);
  JobRecord got = MustGetJob(*j, id);
  EXPECT_EQ(got.id, id);
  ExpectJobEq(got, job);
  ASSERT_EQ(got.steps.size(), 3u);
  ExpectStepEq(got.steps[0], http);
  ExpectStepEq(got.steps[1], exec);
  ExpectStepEq(got.steps[2], log);
  EXPECT_EQ(got.steps[1].exit_code, std::optional<int>(0));
  EXPECT_EQ(got.steps[2].exit_code, std::nullopt);

  // A manual job: no notification, and the negative exit code of a signal.
  JobRecord manual = MakeJob("scale", "web", JobState::kQueued, Phase::kManual);
  manual.notification_id = 0;
  manual.dry_run = false;
  StepRecord killed = MakeStep(0, StepState::kTimedOut);
  killed.exit_code = -9;
  manual.steps = {killed};
  const int64_t mid = MustInsertJob(*j, manual);
  JobRecord got_manual = MustGetJob(*j, mid);
  ExpectJobEq(got_manual, manual);
  ASSERT_EQ(got_manual.steps.size(), 1u);
  ExpectStepEq(got_manual.steps[0], killed);

  EXPECT_FALSE(j->GetJob(mid + 100)->has_value());
}

TEST_F(JournalTest, UpdateJobAndStep) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  JobRecord job = MakeJob("p", "t");
  job.steps = {MakeStep(0), MakeStep(1)};
  const int64_t id = MustInsertJob(*j, job);

  JobRecord update = job;
  update.id = id;
  update.state = JobState::kFailed;
  update.started_ms = 111;
  update.finished_ms = 222;
  update.error = "step 1 failed";
  update.playbook = "ignored";  // UpdateJob writes only state, times and error
  StepRecord step = MakeStep(1, StepState::kFailed);
  step.name = "renamed";
  step.kind = "http";
  step.detail = "GET /";
  step.started_ms = 150;
  step.finished_ms = 160;
  step.exit_code = 503;
  step.output = "Service Unavailable";
  step.output_truncated = true;
  step.error = "status 503";
  ASSERT_TRUE(j->Write([&](Tx& tx) {
                 FORESIGHT_RETURN_IF_ERROR(tx.UpdateJob(update));
                 return tx.UpdateStep(id, step);
               }).ok());

  JobRecord got = MustGetJob(*j, id);
  EXPECT_EQ(got.state, JobState::kFailed);
  EXPECT_EQ(got.started_ms, 111);
  EXPECT_EQ(got.finished_ms, 222);
  EXPECT_EQ(got.error, "step 1 failed");
  EXPECT_EQ(got.playbook, "p");
  ASSERT_EQ(got.steps.size(), 2u);
  ExpectStepEq(got.steps[0], MakeStep(0));
  ExpectStepEq(got.steps[1], step);

  // exit_code back to none.
  step.exit_code = std::nullopt;
  ASSERT_TRUE(j->Write([&](Tx& tx) { return tx.UpdateStep(id, step); }).ok());
  EXPECT_EQ(MustGetJob(*j, id).steps[1].exit_code, std::nullopt);
}

TEST_F(JournalTest, UpdateOfMissingJobOrStepIsNotFound) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  JobRecord job = MakeJob("p", "t");
  job.steps = {MakeStep(0)};
  const int64_t id = MustInsertJob(*j, job);

  JobRecord missing = job;
  missing.id = id + 1;
  Status st = j->Write([&](Tx& tx) { return tx.UpdateJob(missing); });
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find(std::to_string(id + 1)), std::string::npos) << st.message();

  // UpdateStep adds a step the job does not have yet (a job's steps are written as it starts)
  // but never one of a job that does not exist.
  st = j->Write([&](Tx& tx) { return tx.UpdateStep(id, MakeStep(5)); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  auto upserted = j->GetJob(id);
  ASSERT_TRUE(upserted.ok() && upserted->has_value());
  ASSERT_EQ((*upserted)->steps.size(), 2u);
  EXPECT_EQ((*upserted)->steps[1].index, 5);
  st = j->Write([&](Tx& tx) { return tx.UpdateStep(id + 1, MakeStep(0)); });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("FOREIGN KEY"), std::string::npos) << st.message();

  // Two steps with one index: the constraint names the statement.
  JobRecord dup = MakeJob("p", "t2");
  dup.steps = {MakeStep(0), MakeStep(0)};
  st = j->Write([&](Tx& tx) { return tx.InsertJob(dup).status(); });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("insert step"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("UNIQUE"), std::string::npos) << st.message();
  // ... and the job row of that failed Write is gone with it.
  EXPECT_EQ(Ids(j->ListJobs({})), std::vector<int64_t>{id});
}

TEST_F(JournalTest, LatestJobForAlertAndForTarget) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  JobRecord a = MakeJob("pb", "t1");
  a.fingerprint = "fp";
  a.starts_at_ms = 100;
  a.steps = {MakeStep(0)};
  const int64_t a1 = MustInsertJob(*j, a);
  const int64_t a2 = MustInsertJob(*j, a);
  JobRecord resolved = a;
  resolved.phase = Phase::kResolved;
  const int64_t r1 = MustInsertJob(*j, resolved);
  JobRecord other_start = a;
  other_start.starts_at_ms = 200;
  const int64_t s1 = MustInsertJob(*j, other_start);
  JobRecord other_target = MakeJob("pb", "t2");
  const int64_t t2 = MustInsertJob(*j, other_target);

  std::map<std::string, int64_t> got;
  ASSERT_TRUE(j->Write([&](Tx& tx) {
                 auto check = [&](const std::string& name,
                                  Result<std::optional<JobRecord>> r) -> Status {
                   FORESIGHT_RETURN_IF_ERROR(r.status());
                   got[name] = r->has_value() ? (*r)->id : 0;
                   if (r->has_value()) {
                     EXPECT_TRUE((*r)->steps.empty()) << name;
                   }
                   return Status::Ok();
                 };
                 FORESIGHT_RETURN_IF_ERROR(
                     check("firing100", tx.LatestJobForAlert("pb", Phase::kFiring, "fp", 100)));
                 FORESIGHT_RETURN_IF_ERROR(
                     check("resolved100", tx.LatestJobForAlert("pb", Phase::kResolved, "fp", 100)));
                 FORESIGHT_RETURN_IF_ERROR(
                     check("firing200", tx.LatestJobForAlert("pb", Phase::kFiring, "fp", 200)));
                 FORESIGHT_RETURN_IF_ERROR(
                     check("none", tx.LatestJobForAlert("other", Phase::kFiring, "fp", 100)));
                 FORESIGHT_RETURN_IF_ERROR(check("t1", tx.LatestFiringJobForTarget("pb", "t1")));
                 FORESIGHT_RETURN_IF_ERROR(check("t2", tx.LatestFiringJobForTarget("pb", "t2")));
                 FORESIGHT_RETURN_IF_ERROR(check("t3", tx.LatestFiringJobForTarget("pb", "t3")));
                 return Status::Ok();
               }).ok());
  EXPECT_GT(a2, a1);
  EXPECT_EQ(got["firing100"], a2);
  EXPECT_EQ(got["resolved100"], r1);
  EXPECT_EQ(got["firing200"], s1);
  EXPECT_EQ(got["none"], 0);
  EXPECT_EQ(got["t1"], s1);  // the newest firing job for t1; r1 is resolved
  EXPECT_EQ(got["t2"], t2);
  EXPECT_EQ(got["t3"], 0);

  // Inside the transaction, the function sees its own uncommitted insert.
  int64_t seen = 0;
  ASSERT_TRUE(j->Write([&](Tx& tx) {
                 Result<int64_t> id = tx.InsertJob(MakeJob("pb", "t9"));
                 FORESIGHT_RETURN_IF_ERROR(id.status());
                 Result<std::optional<JobRecord>> r = tx.LatestFiringJobForTarget("pb", "t9");
                 FORESIGHT_RETURN_IF_ERROR(r.status());
                 seen = r->has_value() && (*r)->id == *id ? *id : -1;
                 return Status::Ok();
               }).ok());
  EXPECT_GT(seen, 0);
}

TEST_F(JournalTest, ListJobsFiltersAndPagesNewestFirst) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  struct Spec {
    const char* playbook;
    const char* target;
    JobState state;
    Phase phase;
  };
  const std::vector<Spec> specs = {
      {"a", "x", JobState::kQueued, Phase::kFiring},       // 0
      {"a", "y", JobState::kRunning, Phase::kFiring},      // 1
      {"b", "x", JobState::kSucceeded, Phase::kResolved},  // 2
      {"b", "y", JobState::kQueued, Phase::kManual},       // 3
      {"a", "x", JobState::kSucceeded, Phase::kResolved},  // 4
      {"a", "x", JobState::kQueued, Phase::kFiring},       // 5
      {"c", "z", JobState::kFailed, Phase::kFiring},       // 6
  };
  std::vector<int64_t> id;
  for (const Spec& s : specs) {
    JobRecord job = MakeJob(s.playbook, s.target, s.state, s.phase);
    job.steps = {MakeStep(0)};
    id.push_back(MustInsertJob(*j, job));
  }

  EXPECT_EQ(Ids(j->ListJobs({})),
            (std::vector<int64_t>{id[6], id[5], id[4], id[3], id[2], id[1], id[0]}));
  JobFilter f;
  f.state = JobState::kQueued;
  EXPECT_EQ(Ids(j->ListJobs(f)), (std::vector<int64_t>{id[5], id[3], id[0]}));
  f = {};
  f.playbook = "a";
  EXPECT_EQ(Ids(j->ListJobs(f)), (std::vector<int64_t>{id[5], id[4], id[1], id[0]}));
  f = {};
  f.target = "x";
  EXPECT_EQ(Ids(j->ListJobs(f)), (std::vector<int64_t>{id[5], id[4], id[2], id[0]}));
  f = {};
  f.phase = Phase::kResolved;
  EXPECT_EQ(Ids(j->ListJobs(f)), (std::vector<int64_t>{id[4], id[2]}));
  f = {};
  f.playbook = "a";
  f.target = "x";
  f.phase = Phase::kFiring;
  f.state = JobState::kQueued;
  EXPECT_EQ(Ids(j->ListJobs(f)), (std::vector<int64_t>{id[5], id[0]}));
  f = {};
  f.playbook = "nope";
  EXPECT_TRUE(Ids(j->ListJobs(f)).empty());

  // Paging: limit, then before_id = the last id of the previous page.
  f = {};
  f.limit = 3;
  std::vector<int64_t> all;
  for (int page = 0; page < 10; ++page) {
    std::vector<int64_t> got = Ids(j->ListJobs(f));
    ASSERT_LE(got.size(), 3u);
    if (got.empty()) break;
    all.insert(all.end(), got.begin(), got.end());
    f.before_id = got.back();
  }
  EXPECT_EQ(all, (std::vector<int64_t>{id[6], id[5], id[4], id[3], id[2], id[1], id[0]}));
  f = {};
  f.playbook = "a";
  f.before_id = id[4];
  f.limit = 1;
  EXPECT_EQ(Ids(j->ListJobs(f)), std::vector<int64_t>{id[1]});

  // ListJobs fills every job field, but not steps.
  Result<std::vector<JobRecord>> jobs = j->ListJobs({});
  ASSERT_TRUE(jobs.ok());
  for (const JobRecord& job : *jobs) {
    EXPECT_TRUE(job.steps.empty());
  }
  EXPECT_EQ((*jobs)[0].playbook, "c");
  EXPECT_EQ((*jobs)[0].state, JobState::kFailed);
  EXPECT_EQ((*jobs)[3].phase, Phase::kManual);
}

TEST_F(JournalTest, UnfinishedJobsOldestFirstWithSteps) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  std::vector<int64_t> unfinished;
  for (JobState s :
       {JobState::kRunning, JobState::kSucceeded, JobState::kQueued, JobState::kInterrupted,
        JobState::kFailed, JobState::kRunning, JobState::kAborted}) {
    JobRecord job = MakeJob("p", JobStateName(s), s);
    job.steps = {MakeStep(0, StepState::kSucceeded), MakeStep(1, StepState::kRunning), MakeStep(2)};
    const int64_t id = MustInsertJob(*j, job);
    if (!IsTerminal(s)) unfinished.push_back(id);
  }
  Result<std::vector<JobRecord>> jobs = j->UnfinishedJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  EXPECT_EQ(Ids(jobs), unfinished);
  for (const JobRecord& job : *jobs) {
    EXPECT_FALSE(IsTerminal(job.state));
    ASSERT_EQ(job.steps.size(), 3u);
    EXPECT_EQ(job.steps[1].state, StepState::kRunning);
    EXPECT_EQ(job.steps[2].index, 2);
  }
}

TEST_F(JournalTest, OutcomesInAlertOrder) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  int64_t nid = 0;
  const std::vector<AlertOutcome> want = {
      {0, "fp0", "restart", "job", 17},
      {0, "fp0", "page", "cooldown", 3},
      {1, "fp1", "", "unmatched", 0},
      {2, "fp2", "restart", "duplicate", 12},
  };
  ASSERT_TRUE(j->Write([&](Tx& tx) {
                 Result<int64_t> id = tx.InsertNotification(MakeNotification(1));
                 FORESIGHT_RETURN_IF_ERROR(id.status());
                 nid = *id;
                 // Inserted in a scrambled order.
                 for (int i : {3, 0, 2, 1}) {
                   FORESIGHT_RETURN_IF_ERROR(tx.InsertAlertOutcome(nid, want[i]));
                 }
                 return Status::Ok();
               }).ok());
  Result<std::vector<AlertOutcome>> got = j->Outcomes(nid);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), want.size());
  // By alert index; within one alert, in insertion order.
  const std::vector<int> order = {0, 1, 2, 3};
  for (size_t i = 0; i < want.size(); ++i) {
    const AlertOutcome& w = want[order[i]];
    EXPECT_EQ((*got)[i].alert_index, w.alert_index) << i;
    EXPECT_EQ((*got)[i].fingerprint, w.fingerprint) << i;
    EXPECT_EQ((*got)[i].playbook, w.playbook) << i;
    EXPECT_EQ((*got)[i].outcome, w.outcome) << i;
    EXPECT_EQ((*got)[i].job_id, w.job_id) << i;
  }
  EXPECT_TRUE(j->Outcomes(nid + 1)->empty());
}

TEST_F(JournalTest, ForeignKeysAreEnforced) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  Status st = j->Write([&](Tx& tx) {
    return tx.InsertAlertOutcome(999, {0, "fp", "", "unmatched", 0});
  });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("insert alert outcome"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("FOREIGN KEY"), std::string::npos) << st.message();

  JobRecord job = MakeJob("p", "t");
  job.notification_id = 999;
  st = j->Write([&](Tx& tx) { return tx.InsertJob(job).status(); });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("insert job"), std::string::npos) << st.message();
  EXPECT_TRUE(Ids(j->ListJobs({})).empty());
}

TEST_F(JournalTest, Meta) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(*j->GetMeta("schema_version"), std::optional<std::string>("1"));
  EXPECT_EQ(*j->GetMeta("paused"), std::nullopt);
  ASSERT_TRUE(j->Write([](Tx& tx) { return tx.SetMeta("paused", "true"); }).ok());
  EXPECT_EQ(*j->GetMeta("paused"), std::optional<std::string>("true"));
  ASSERT_TRUE(j->Write([](Tx& tx) { return tx.SetMeta("paused", ""); }).ok());
  EXPECT_EQ(*j->GetMeta("paused"), std::optional<std::string>(""));

  Status st = j->Write([](Tx& tx) { return tx.SetMeta("schema_version", "2"); });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_EQ(*j->GetMeta("schema_version"), std::optional<std::string>("1"));
}

TEST_F(JournalTest, SchemaIsWalWithIndexesForEveryLookup) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(RawQuery(Path(), "PRAGMA journal_mode"), "wal");
  auto plan = [&](const std::string& sql) { return RawQuery(Path(), "EXPLAIN QUERY PLAN " + sql); };
  EXPECT_NE(plan("SELECT id FROM jobs WHERE playbook = 'a' AND phase = 'firing' AND "
                 "fingerprint = 'f' AND starts_at_ms = 1 ORDER BY id DESC LIMIT 1")
                .find("jobs_by_alert"),
            std::string::npos);
  std::string p = plan(
      "SELECT id FROM jobs WHERE playbook = 'a' AND target = 't' AND phase = 'firing' "
      "ORDER BY id DESC LIMIT 1");
  EXPECT_NE(p.find("jobs_by_playbook_target"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan("SELECT id FROM jobs WHERE state IN ('queued', 'running') ORDER BY id");
  EXPECT_NE(p.find("jobs_by_state"), std::string::npos) << p;
  p = plan("SELECT id FROM jobs WHERE state = 'failed' ORDER BY id DESC LIMIT 10");
  EXPECT_NE(p.find("jobs_by_state"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan("SELECT id FROM jobs WHERE target = 'x' ORDER BY id DESC LIMIT 10");
  EXPECT_NE(p.find("jobs_by_target"), std::string::npos) << p;
  p = plan("SELECT * FROM alert_outcomes WHERE notification_id = 1 ORDER BY alert_index");
  EXPECT_NE(p.find("alert_outcomes_by_notification"), std::string::npos) << p;
}

TEST_F(JournalTest, FnErrorRollsBackOnlyItsOwnChanges) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  Status st = j->Write([](Tx& tx) {
    FORESIGHT_RETURN_IF_ERROR(tx.InsertNotification(MakeNotification(1)).status());
    FORESIGHT_RETURN_IF_ERROR(tx.SetMeta("k", "v"));
    return Aborted("changed my mind");
  });
  EXPECT_EQ(st.code(), StatusCode::kAborted);
  EXPECT_EQ(st.message(), "changed my mind");
  EXPECT_EQ(*j->CountNotifications(), 0);
  EXPECT_EQ(*j->GetMeta("k"), std::nullopt);

  st = j->Write([](Tx& tx) -> Status { throw std::runtime_error("boom"); });
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_NE(st.message().find("boom"), std::string::npos) << st.message();

  MustInsertNotification(*j, MakeNotification(2));
  EXPECT_EQ(*j->CountNotifications(), 1);
}

// Many writers at once, while the first function holds the writer until all the others have
// arrived, so they share the next batch; every fourth function fails after writing. The
// failures must take only their own rows along, and some failure must have shared a batch with
// a success (each function notes how many commits it saw before it ran: the batch's number).
TEST_F(JournalTest, FnErrorInABatchRollsBackOnlyThatFn) {
  constexpr int kWriters = 16;
  bool shared = false;
  size_t largest = 0;
  // The window between a writer counting itself in and its Write reaching the queue is
  // nanoseconds, against a whole commit of the first batch; a few rounds rule out bad luck.
  for (int round = 0; round < 5 && !shared; ++round) {
    TempDir dir;
    std::atomic<size_t> commits{0};
    std::mutex mu;
    std::vector<size_t> sizes;
    JournalOptions options;
    options.path = dir.path() + "/journal.db";
    options.on_commit = [&](std::chrono::nanoseconds, size_t n) {
      std::lock_guard<std::mutex> lock(mu);
      sizes.push_back(n);
      commits.fetch_add(1);
    };
    auto j = MustOpen(options);
    ASSERT_NE(j, nullptr);

    std::latch writer_held(1);
    std::latch arrived(kWriters);
    std::thread holder([&] {
      EXPECT_TRUE(j->Write([&](Tx&) {
                     writer_held.count_down();
                     arrived.wait();
                     return Status::Ok();
                   }).ok());
    });
    writer_held.wait();
    std::vector<size_t> batch_of(kWriters);
    std::vector<Status> results(kWriters);
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        arrived.count_down();
        results[i] = j->Write([&, i](Tx& tx) {
          batch_of[i] = commits.load();
          NotificationRecord n = MakeNotification(i);
          n.receiver = "writer" + std::to_string(i);
          FORESIGHT_RETURN_IF_ERROR(tx.InsertNotification(n).status());
          if (i % 4 == 0) return FailedPrecondition("writer " + std::to_string(i) + " fails");
          return Status::Ok();
        });
      });
    }
    for (std::thread& t : threads) t.join();
    holder.join();

    int64_t ok = 0;
    for (int i = 0; i < kWriters; ++i) {
      if (i % 4 == 0) {
        EXPECT_EQ(results[i].code(), StatusCode::kFailedPrecondition) << results[i].ToString();
        EXPECT_EQ(results[i].message(), "writer " + std::to_string(i) + " fails");
      } else {
        EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].ToString();
        ++ok;
      }
    }
    EXPECT_EQ(*j->CountNotifications(), ok);
    for (int64_t id = 1; id <= kWriters + 1; ++id) {
      Result<std::optional<NotificationRecord>> n = j->GetNotification(id);
      ASSERT_TRUE(n.ok());
      if (n->has_value()) {
        int writer = std::stoi((*n)->receiver.substr(6));
        EXPECT_NE(writer % 4, 0) << "the failed write of writer " << writer << " was kept";
      }
    }
    for (int i = 0; i < kWriters; i += 4) {
      for (int k = 0; k < kWriters; ++k) {
        if (k % 4 != 0 && batch_of[k] == batch_of[i]) shared = true;
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(sizes.front(), 1u);  // the holder alone
    largest = std::max(largest, *std::max_element(sizes.begin(), sizes.end()));
  }
  EXPECT_GT(largest, 1u);
  EXPECT_TRUE(shared) << "no failing function shared a batch with a succeeding one";
}

TEST_F(JournalTest, MaxBatchBoundsTheBatch) {
  CommitLog log;
  JournalOptions options;
  options.max_batch = 2;
  options.on_commit = log.Callback();
  auto j = MustOpen(options);
  ASSERT_NE(j, nullptr);
  constexpr int kWriters = 8;
  std::latch writer_held(1);
  std::latch arrived(kWriters);
  std::thread holder([&] {
    EXPECT_TRUE(j->Write([&](Tx&) {
                   writer_held.count_down();
                   arrived.wait();
                   return Status::Ok();
                 }).ok());
  });
  writer_held.wait();
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      arrived.count_down();
      MustInsertNotification(*j, MakeNotification(i));
    });
  }
  for (std::thread& t : threads) t.join();
  holder.join();
  size_t total = 0;
  for (size_t n : log.sizes()) {
    EXPECT_LE(n, 2u);
    total += n;
  }
  EXPECT_EQ(total, kWriters + 1u);
  EXPECT_EQ(*j->CountNotifications(), kWriters);
}

TEST_F(JournalTest, WriteFromInsideAWriteFunctionIsRefused) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  Status inner;
  ASSERT_TRUE(j->Write([&](Tx&) {
                 inner = j->Write([](Tx&) { return Status::Ok(); });
                 return Status::Ok();
               }).ok());
  EXPECT_EQ(inner.code(), StatusCode::kInternal);
  EXPECT_NE(inner.message().find("inside a Write function"), std::string::npos);
}

// The writer's transaction is open inside a Write function: a read from the same thread
// would deadlock if reads waited for it, and must see only what was committed.
TEST_F(JournalTest, ReadsDoNotWaitForTheWriter) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  MustInsertNotification(*j, MakeNotification(1));
  int64_t during = -1;
  std::optional<std::string> meta_during;
  ASSERT_TRUE(j->Write([&](Tx& tx) {
                 FORESIGHT_RETURN_IF_ERROR(tx.InsertNotification(MakeNotification(2)).status());
                 FORESIGHT_RETURN_IF_ERROR(tx.SetMeta("k", "v"));
                 Result<int64_t> count = j->CountNotifications();
                 FORESIGHT_RETURN_IF_ERROR(count.status());
                 during = *count;
                 Result<std::optional<std::string>> meta = j->GetMeta("k");
                 FORESIGHT_RETURN_IF_ERROR(meta.status());
                 meta_during = *meta;
                 return Status::Ok();
               }).ok());
  EXPECT_EQ(during, 1);
  EXPECT_EQ(meta_during, std::nullopt);
  EXPECT_EQ(*j->CountNotifications(), 2);
}

TEST_F(JournalTest, EverythingSurvivesReopen) {
  int64_t nid = 0;
  int64_t jid = 0;
  JobRecord job = MakeJob("p", "t", JobState::kRunning);
  StepRecord step = MakeStep(0, StepState::kRunning);
  step.output = "half";
  step.exit_code = 0;
  job.steps = {step};
  {
    auto j = MustOpen();
    ASSERT_NE(j, nullptr);
    nid = MustInsertNotification(*j, MakeNotification(42, "body"));
    job.notification_id = nid;
    jid = MustInsertJob(*j, job);
    ASSERT_TRUE(
        j->Write([&](Tx& tx) {
           FORESIGHT_RETURN_IF_ERROR(tx.InsertAlertOutcome(nid, {0, "fp", "p", "job", jid}));
           return tx.SetMeta("paused", "1");
         }).ok());
  }
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(*j->CountNotifications(), 1);
  EXPECT_EQ((*j->GetNotification(nid))->body, "body");
  JobRecord got = MustGetJob(*j, jid);
  ExpectJobEq(got, job);
  ASSERT_EQ(got.steps.size(), 1u);
  ExpectStepEq(got.steps[0], step);
  ASSERT_EQ(j->Outcomes(nid)->size(), 1u);
  EXPECT_EQ((*j->Outcomes(nid))[0].job_id, jid);
  EXPECT_EQ(*j->GetMeta("paused"), std::optional<std::string>("1"));
  EXPECT_EQ(Ids(j->UnfinishedJobs()), std::vector<int64_t>{jid});
  // New ids continue after the old ones.
  EXPECT_GT(MustInsertJob(*j, MakeJob("p", "t")), jid);
}

// A child process writes jobs from several threads and reports each id on a pipe once its
// Write returned; it is SIGKILLed mid-stream. Every reported id must be in the journal.
TEST_F(JournalTest, AcknowledgedWritesSurviveSigkill) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string path = Path();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    JournalOptions options;
    options.path = path;
    Result<std::unique_ptr<Journal>> j = Journal::Open(options);
    if (!j.ok()) _exit(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 1000000; ++i) {
          int64_t id = 0;
          Status st = (*j)->Write([&](Tx& tx) {
            JobRecord job = MakeJob("crash", "t" + std::to_string(t));
            job.steps = {MakeStep(0), MakeStep(1)};
            Result<int64_t> r = tx.InsertJob(job);
            if (!r.ok()) return r.status();
            id = *r;
            return Status::Ok();
          });
          if (!st.ok()) _exit(3);
          if (write(fds[1], &id, sizeof id) != sizeof id) _exit(4);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    _exit(0);
  }
  close(fds[1]);

  constexpr size_t kKillAfter = 200;
  std::vector<int64_t> acked;
  auto read_ids = [&](size_t until) {
    int64_t id;
    while (acked.size() < until) {
      ssize_t n = read(fds[0], &id, sizeof id);  // 8-byte writes to a pipe are atomic
      if (n != sizeof id) return;
      acked.push_back(id);
    }
  };
  read_ids(kKillAfter);
  ASSERT_EQ(acked.size(), kKillAfter) << "the child stopped early";
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << "status " << wstatus;
  read_ids(SIZE_MAX);  // what it acknowledged between our last read and the kill
  close(fds[0]);

  auto j = MustOpen();  // the lock died with the child
  ASSERT_NE(j, nullptr);
  std::set<int64_t> unique(acked.begin(), acked.end());
  EXPECT_EQ(unique.size(), acked.size());
  for (int64_t id : acked) {
    Result<std::optional<JobRecord>> job = j->GetJob(id);
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    ASSERT_TRUE(job->has_value()) << "acknowledged job " << id << " was lost";
    EXPECT_EQ((*job)->steps.size(), 2u);
  }
  EXPECT_EQ(RawQuery(Path(), "PRAGMA integrity_check"), "ok");
}

TEST_F(JournalTest, OpenRefusesAFileThatIsNotADatabase) {
  {
    std::ofstream f(Path(), std::ios::binary);
    f << std::string(8192, 'x');
  }
  Result<std::unique_ptr<Journal>> j = Journal::Open({.path = Path()});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument) << j.status().ToString();
  EXPECT_EQ(j.status().message(),
            "journal " + Path() + ": set journal_mode=WAL: file is not a database");
}

TEST_F(JournalTest, OpenRefusesAMissingDirectory) {
  const std::string path = dir_.path() + "/missing/journal.db";
  Result<std::unique_ptr<Journal>> j = Journal::Open({.path = path});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument) << j.status().ToString();
  EXPECT_EQ(j.status().message(), "journal " + path + ": cannot create the lock file " + path +
                                      ".lock: No such file or directory");
}

TEST_F(JournalTest, OpenRefusesAPathUnderAFile) {
  { std::ofstream f(dir_.path() + "/file"); }
  const std::string path = dir_.path() + "/file/journal.db";
  Result<std::unique_ptr<Journal>> j = Journal::Open({.path = path});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument) << j.status().ToString();
  EXPECT_NE(j.status().message().find("journal " + path + ": "), std::string::npos);
  EXPECT_NE(j.status().message().find("Not a directory"), std::string::npos)
      << j.status().message();
}

TEST_F(JournalTest, OpenRefusesADirectory) {
  const std::string path = dir_.path() + "/dir.db";
  std::filesystem::create_directory(path);
  Result<std::unique_ptr<Journal>> j = Journal::Open({.path = path});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument) << j.status().ToString();
  EXPECT_EQ(j.status().message().rfind("journal " + path + ": cannot open: ", 0), 0u)
      << j.status().message();
}

// Journal::Open's error for `path` ("opened" if it worked) as an unprivileged user. Permissions
// do not stop root, so as root it opens in a child process that first becomes nobody.
std::string OpenErrorAsUnprivileged(const std::string& path) {
  auto open_error = [&] {
    Result<std::unique_ptr<Journal>> j = Journal::Open({.path = path});
    return j.ok() ? std::string("opened") : j.status().ToString();
  };
  if (geteuid() != 0) return open_error();
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    close(fds[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    std::string error = open_error();
    _exit(write(fds[1], error.data(), error.size()) == static_cast<ssize_t>(error.size()) ? 0 : 3);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return "child failed with status " + std::to_string(wstatus);
  }
  return out;
}

TEST_F(JournalTest, OpenRefusesAnUnwritableDirectory) {
  const std::string ro = dir_.path() + "/ro";
  std::filesystem::create_directory(ro);
  ASSERT_EQ(chmod(ro.c_str(), 0555), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  const std::string path = ro + "/journal.db";
  EXPECT_EQ(OpenErrorAsUnprivileged(path), "INVALID_ARGUMENT: journal " + path +
                                               ": cannot create the lock file " + path +
                                               ".lock: Permission denied");
}

// The lock file can be written but the database cannot: SQLite would quietly open it read-only.
TEST_F(JournalTest, OpenRefusesAReadOnlyDatabase) {
  { ASSERT_NE(MustOpen(), nullptr); }
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(chmod(Path().c_str(), 0444), 0);
  ASSERT_EQ(chmod((Path() + ".lock").c_str(), 0666), 0);
  // Without write access to the directory, a WAL file could not be created either.
  ASSERT_EQ(chmod(dir_.path().c_str(), 0777), 0);
  EXPECT_EQ(
      OpenErrorAsUnprivileged(Path()),
      "INVALID_ARGUMENT: journal " + Path() + ": cannot open for writing (the file is read-only)");
}

TEST_F(JournalTest, OpenRefusesANewerSchema) {
  { ASSERT_NE(MustOpen(), nullptr); }
  RawQuery(Path(), "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
  Result<std::unique_ptr<Journal>> j = Journal::Open({.path = Path()});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kFailedPrecondition) << j.status().ToString();
  EXPECT_EQ(j.status().message().rfind("journal " + Path() +
                                           ": schema version 2 is newer than this build "
                                           "supports (1)",
                                       0),
            0u)
      << j.status().message();
  // Refusing changed nothing.
  EXPECT_EQ(RawQuery(Path(), "SELECT value FROM meta WHERE key = 'schema_version'"), "2");
}

TEST_F(JournalTest, OpenRefusesSomeoneElsesDatabase) {
  RawQuery(Path(), "CREATE TABLE users (name TEXT)");
  Result<std::unique_ptr<Journal>> j = Journal::Open({.path = Path()});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kFailedPrecondition) << j.status().ToString();
  EXPECT_EQ(j.status().message(),
            "journal " + Path() + ": not a Foresight journal (it has 1 tables but no meta table)");
  EXPECT_EQ(RawQuery(Path(), "SELECT group_concat(name) FROM sqlite_schema"), "users");
}

TEST_F(JournalTest, OpenRefusesBadOptions) {
  Result<std::unique_ptr<Journal>> j = Journal::Open({});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument);
  j = Journal::Open({.path = Path(), .max_batch = 0});
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "journal " + Path() + ": max_batch must be at least 1");
}

TEST_F(JournalTest, OpenCreatesIntoAnEmptyFile) {
  { std::ofstream f(Path()); }
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(*j->GetMeta("schema_version"), std::optional<std::string>("1"));
}

TEST_F(JournalTest, ASecondOpenIsRefusedWhileInUse) {
  auto first = MustOpen();
  ASSERT_NE(first, nullptr);
  Result<std::unique_ptr<Journal>> second = Journal::Open({.path = Path()});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            "journal " + Path() + " is in use by another process (" + Path() + ".lock is locked)");
  // The refused Open touched nothing: the first still works, and once it is closed the file
  // opens again.
  MustInsertNotification(*first, MakeNotification(1));
  first.reset();
  auto again = MustOpen();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(*again->CountNotifications(), 1);
}

// RLIMIT_FSIZE makes the WAL append of the COMMIT fail (EFBIG) while every statement before it
// only touched the page cache: the one way found to fail a COMMIT on purpose.
TEST_F(JournalTest, AFailedCommitFailsTheBatchAndTheJournalRecovers) {
  CommitLog log;
  JournalOptions options;
  options.on_commit = log.Callback();
  auto j = MustOpen(options);
  ASSERT_NE(j, nullptr);
  MustInsertNotification(*j, MakeNotification(1));
  struct stat wal;
  ASSERT_EQ(stat((Path() + "-wal").c_str(), &wal), 0);
  const size_t commits_before = log.commits();

  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_action;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old_action), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = static_cast<rlim_t>(wal.st_size);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  Status st = j->Write([](Tx& tx) {
    return tx.InsertNotification(MakeNotification(2, std::string(256 * 1024, 'b'))).status();
  });
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ASSERT_EQ(sigaction(SIGXFSZ, &old_action, nullptr), 0);

  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_EQ(st.message().rfind("journal " + Path() + ": COMMIT: ", 0), 0u) << st.message();
  EXPECT_EQ(log.commits(), commits_before + 1);  // on_commit hears of failed attempts too

  EXPECT_EQ(*j->CountNotifications(), 1);
  MustInsertNotification(*j, MakeNotification(3));
  EXPECT_EQ(*j->CountNotifications(), 2);
  j.reset();
  j = MustOpen();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(*j->CountNotifications(), 2);
  EXPECT_EQ(RawQuery(Path(), "PRAGMA integrity_check"), "ok");
}

TEST_F(JournalTest, ManySmallWritesFromManyThreads) {
  constexpr int kThreads = 32;
  constexpr int kWrites = 20000;
  CommitLog log;
  JournalOptions options;
  options.on_commit = log.Callback();
  auto j = MustOpen(options);
  ASSERT_NE(j, nullptr);
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = next.fetch_add(1); i < kWrites; i = next.fetch_add(1)) {
        Status st =
            j->Write([i](Tx& tx) { return tx.InsertNotification(MakeNotification(i)).status(); });
        if (!st.ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*j->CountNotifications(), kWrites);
  size_t total = 0;
  for (size_t n : log.sizes()) total += n;
  EXPECT_EQ(total, static_cast<size_t>(kWrites));
  EXPECT_EQ(RawQuery(Path(), "SELECT count(DISTINCT received_ms) FROM notifications"),
            std::to_string(kWrites));
}

TEST_F(JournalTest, PruneDeletesOldFinishedWorkOnly) {
  auto j = MustOpen();
  ASSERT_NE(j, nullptr);
  const int64_t n1 = MustInsertNotification(*j, MakeNotification(100));
  const int64_t n2 = MustInsertNotification(*j, MakeNotification(200));
  const int64_t n3 = MustInsertNotification(*j, MakeNotification(1000));
  ASSERT_TRUE(j->Write([&](Tx& tx) {
                 FORESIGHT_RETURN_IF_ERROR(tx.InsertAlertOutcome(n1, {0, "a", "p", "job", 0}));
                 FORESIGHT_RETURN_IF_ERROR(tx.InsertAlertOutcome(n1, {1, "b", "", "unmatched", 0}));
                 FORESIGHT_RETURN_IF_ERROR(tx.InsertAlertOutcome(n2, {0, "c", "p", "job", 0}));
                 return tx.InsertAlertOutcome(n3, {0, "d", "p", "job", 0});
               }).ok());

  JobRecord old_done = MakeJob("p", "a", JobState::kSucceeded);
  old_done.notification_id = n1;
  old_done.finished_ms = 150;
  old_done.steps = {MakeStep(0), MakeStep(1)};
  const int64_t a = MustInsertJob(*j, old_done);
  JobRecord old_running = MakeJob("p", "b", JobState::kRunning);
  old_running.notification_id = n2;
  old_running.steps = {MakeStep(0)};
  const int64_t b = MustInsertJob(*j, old_running);
  JobRecord new_failed = MakeJob("p", "c", JobState::kFailed, Phase::kManual);
  new_failed.finished_ms = 2000;
  const int64_t c = MustInsertJob(*j, new_failed);
  JobRecord old_interrupted = MakeJob("p", "d", JobState::kInterrupted);
  old_interrupted.notification_id = n3;
  old_interrupted.finished_ms = 300;
  old_interrupted.steps = {MakeStep(0)};
  const int64_t d = MustInsertJob(*j, old_interrupted);

  // Jobs a (+2 steps) and d (+1 step); notification n1 (+2 outcomes). n2 stays for the running
  // job b, n3 because it is recent.
  Result<int64_t> deleted = j->Prune(500);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 8);
  EXPECT_EQ(Ids(j->ListJobs({})), (std::vector<int64_t>{c, b}));
  EXPECT_FALSE(j->GetJob(a)->has_value());
  EXPECT_EQ(MustGetJob(*j, b).steps.size(), 1u);
  EXPECT_FALSE(j->GetNotification(n1)->has_value());
  EXPECT_TRUE(j->GetNotification(n2)->has_value());
  EXPECT_TRUE(j->GetNotification(n3)->has_value());
  EXPECT_TRUE(j->Outcomes(n1)->empty());
  EXPECT_EQ(j->Outcomes(n2)->size(), 1u);
  EXPECT_EQ(RawQuery(Path(), "SELECT count(*) FROM steps"), "1");

  EXPECT_EQ(*j->Prune(500), 0);
  // Ids are never reused, though d, the newest, is gone.
  EXPECT_GT(MustInsertJob(*j, MakeJob("p", "e")), d);
  EXPECT_GT(MustInsertNotification(*j, MakeNotification(5000)), n3);

  // Once b finishes long ago, it and n2 go too.
  JobRecord done = MustGetJob(*j, b);
  done.state = JobState::kAborted;
  done.finished_ms = 400;
  ASSERT_TRUE(j->Write([&](Tx& tx) { return tx.UpdateJob(done); }).ok());
  EXPECT_EQ(*j->Prune(500), 4);  // b, its step, n2, its outcome
  EXPECT_FALSE(j->GetNotification(n2)->has_value());
}

}  // namespace
}  // namespace foresight::webhook
