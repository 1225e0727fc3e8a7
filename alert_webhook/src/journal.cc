// The journal's SQLite schema, version 1 (meta.schema_version = "1"):
//
//   meta            key TEXT PRIMARY KEY, value TEXT. schema_version, and whatever callers keep
//                   through SetMeta (the pause switch, ...).
//   notifications   id (AUTOINCREMENT), received_ms, receiver, status, group_key, alerts, body.
//   alert_outcomes  notification_id -> notifications ON DELETE CASCADE, alert_index,
//                   fingerprint, playbook, outcome, job_id (0 = none). job_id is deliberately not
//                   a foreign key: a "duplicate" or "cooldown" outcome may point at a job that
//                   Prune has deleted since.
//   jobs            id (AUTOINCREMENT), notification_id -> notifications (NULL for a manual
//                   trigger; 0 in JobRecord), playbook, phase, target, fingerprint,
//                   starts_at_ms, state, dry_run (0/1), created_ms, started_ms, finished_ms,
//                   alert_json, error.
//   steps           (job_id -> jobs ON DELETE CASCADE, idx) PRIMARY KEY, name, kind, state,
//                   started_ms, finished_ms, detail, exit_code (NULL = none), output,
//                   output_truncated (0/1), error.
//
// Indexes (every jobs index ends in the rowid, so "ORDER BY id DESC" needs no sort):
//   jobs_by_alert           (playbook, phase, fingerprint, starts_at_ms)  LatestJobForAlert
//   jobs_by_playbook_target (playbook, target, phase)  LatestFiringJobForTarget, ListJobs
//   jobs_by_state           (state)         UnfinishedJobs, ListJobs, Prune
//   jobs_by_target          (target)        ListJobs filtered by target alone
//   jobs_by_notification    (notification_id)  Prune, and the foreign key's checks
//   notifications_by_received (received_ms) Prune
//   alert_outcomes_by_notification (notification_id, alert_index)  Outcomes
//
// Phases and states are stored by name ("running", "timed_out") so that an operator reading the
// file with the sqlite3 shell during an incident needs no decoder ring; they carry no CHECK
// constraint, so adding a state needs no table rebuild, and a name this build does not know
// reads back as DataLoss. AUTOINCREMENT keeps ids from being reused after Prune, so an id in a
// log line or an API page cursor never comes to mean another job.
//
// Connections: the writer (writer thread only, after Open) and one read-only reader guarded by a
// mutex; in WAL mode the reader sees the last commit and never waits for the writer's open
// transaction. "<path>.lock" carries an flock(2) so two daemons never share a journal; it is
// never deleted, since deleting a lock file races with the next process taking it.

#include "foresight/webhook/journal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace foresight::webhook {
namespace {

constexpr int kSchemaVersion = 1;
constexpr char kSchemaVersionKey[] = "schema_version";
// How long a connection waits for a lock another connection holds (a checkpoint, or a sqlite3
// shell someone left in a transaction) before the statement fails with SQLITE_BUSY.
constexpr int kBusyTimeoutMs = 5000;

constexpr char kSchemaSql[] = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE notifications (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  received_ms INTEGER NOT NULL,
  receiver    TEXT NOT NULL,
  status      TEXT NOT NULL,
  group_key   TEXT NOT NULL,
  alerts      INTEGER NOT NULL,
  body        TEXT NOT NULL
);
CREATE INDEX notifications_by_received ON notifications (received_ms);

CREATE TABLE alert_outcomes (
  notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  alert_index     INTEGER NOT NULL,
  fingerprint     TEXT NOT NULL,
  playbook        TEXT NOT NULL,
  outcome         TEXT NOT NULL,
  job_id          INTEGER NOT NULL
);
CREATE INDEX alert_outcomes_by_notification ON alert_outcomes (notification_id, alert_index);

CREATE TABLE jobs (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  notification_id INTEGER REFERENCES notifications (id),
  playbook        TEXT NOT NULL,
  phase           TEXT NOT NULL,
  target          TEXT NOT NULL,
  fingerprint     TEXT NOT NULL,
  starts_at_ms    INTEGER NOT NULL,
  state           TEXT NOT NULL,
  dry_run         INTEGER NOT NULL,
  created_ms      INTEGER NOT NULL,
  started_ms      INTEGER NOT NULL,
  finished_ms     INTEGER NOT NULL,
  alert_json      TEXT NOT NULL,
  error           TEXT NOT NULL
);
CREATE INDEX jobs_by_alert ON jobs (playbook, phase, fingerprint, starts_at_ms);
CREATE INDEX jobs_by_playbook_target ON jobs (playbook, target, phase);
CREATE INDEX jobs_by_state ON jobs (state);
CREATE INDEX jobs_by_target ON jobs (target);
CREATE INDEX jobs_by_notification ON jobs (notification_id);

CREATE TABLE steps (
  job_id           INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  idx              INTEGER NOT NULL,
  name             TEXT NOT NULL,
  kind             TEXT NOT NULL,
  state            TEXT NOT NULL,
  started_ms       INTEGER NOT NULL,
  finished_ms      INTEGER NOT NULL,
  detail           TEXT NOT NULL,
  exit_code        INTEGER,
  output           TEXT NOT NULL,
  output_truncated INTEGER NOT NULL,
  error            TEXT NOT NULL,
  PRIMARY KEY (job_id, idx)
);
)sql";

constexpr char kJobColumns[] =
    "id, notification_id, playbook, phase, target, fingerprint, starts_at_ms, state, dry_run, "
    "created_ms, started_ms, finished_ms, alert_json, error";
constexpr char kStepColumns[] =
    "idx, name, kind, state, started_ms, finished_ms, detail, exit_code, output, "
    "output_truncated, error";

constexpr std::array<std::pair<JobState, const char*>, 6> kJobStateNames = {{
    {JobState::kQueued, "queued"},
    {JobState::kRunning, "running"},
    {JobState::kSucceeded, "succeeded"},
    {JobState::kFailed, "failed"},
    {JobState::kAborted, "aborted"},
    {JobState::kInterrupted, "interrupted"},
}};

constexpr std::array<std::pair<StepState, const char*>, 9> kStepStateNames = {{
    {StepState::kPending, "pending"},
    {StepState::kRunning, "running"},
    {StepState::kSucceeded, "succeeded"},
    {StepState::kFailed, "failed"},
    {StepState::kTimedOut, "timed_out"},
    {StepState::kSkipped, "skipped"},
    {StepState::kAborted, "aborted"},
    {StepState::kInterrupted, "interrupted"},
    {StepState::kDryRun, "dry_run"},
}};

constexpr std::array<std::pair<Phase, const char*>, 3> kPhaseNames = {{
    {Phase::kFiring, "firing"},
    {Phase::kResolved, "resolved"},
    {Phase::kManual, "manual"},
}};

template <typename E, size_t N>
const char* NameOf(const std::array<std::pair<E, const char*>, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> Parse(const std::array<std::pair<E, const char*>, N>& names,
                       std::string_view name) {
  for (const auto& [v, n] : names) {
    if (name == n) return v;
  }
  return std::nullopt;
}

// The Status for a failed SQLite call: `what` is the statement's purpose. Constraint and size
// violations are the caller's data; corruption is data loss; everything else (busy, I/O, disk
// full, out of memory) is the environment and worth retrying.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE: return InvalidArgument(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return DataLoss(std::move(message));
    default: return Unavailable(std::move(message));
  }
}

// One SQLite connection and its cached prepared statements. Not thread-safe: the writer
// connection belongs to the writer thread, the reader is used under Journal::Impl::read_mu.
class Connection {
 public:
  Connection() = default;
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Returns the reason without the path; the caller adds it.
  Status Open(const std::string& path, int flags) {
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      int err = db_ != nullptr ? sqlite3_system_errno(db_) : 0;
      if (err != 0) message += std::string(" (") + std::strerror(err) + ")";
      Close();
      return InvalidArgument("cannot open: " + message);
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    return Status::Ok();
  }

  void Close() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    statements_.clear();
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  sqlite3* db() const { return db_; }

  // The cached statement for `sql`, prepared on first use and kept for the connection's life.
  Result<sqlite3_stmt*> Prepare(const std::string& sql, std::string_view what) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return SqliteStatus(db_, rc, what);
    }
    statements_.emplace(sql, stmt);
    return stmt;
  }

  // Runs a script of statements that return nothing we need (the schema).
  Status ExecScript(const char* sql, std::string_view what) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, what);
    return Status::Ok();
  }

  // Runs a cached statement with no parameters and ignores its rows (transaction control).
  Status Exec(const std::string& sql, std::string_view what);

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// One execution of a cached statement: bind in order, then Step or Run. The destructor resets
// the statement, so it holds no read snapshot or lock once the Query is gone. A prepare or bind
// error is kept and returned by Step/Run, so call sites bind without checking each value.
class Query {
 public:
  Query(Connection& c, const std::string& sql, std::string_view what) : db_(c.db()), what_(what) {
    Result<sqlite3_stmt*> stmt = c.Prepare(sql, what);
    if (stmt.ok()) {
      stmt_ = *stmt;
    } else {
      error_ = stmt.status();
    }
  }
  ~Query() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Int(int64_t v) {
    if (stmt_ != nullptr) Check(sqlite3_bind_int64(stmt_, next_, v));
    ++next_;
    return *this;
  }
  Query& Text(std::string_view v) {
    // A null pointer would bind SQL NULL, which the NOT NULL columns refuse.
    const char* data = v.data() != nullptr ? v.data() : "";
    if (stmt_ != nullptr) {
      Check(sqlite3_bind_text64(stmt_, next_, data, v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    }
    ++next_;
    return *this;
  }
  Query& OptionalInt(std::optional<int64_t> v) {
    if (v.has_value()) return Int(*v);
    if (stmt_ != nullptr) Check(sqlite3_bind_null(stmt_, next_));
    ++next_;
    return *this;
  }

  // True: a row is ready to read; false: no more rows.
  Result<bool> Step() {
    if (!error_.ok()) return error_;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteStatus(db_, rc, what_);
  }

  // Steps to the end, ignoring any rows.
  Status Run() {
    for (;;) {
      Result<bool> row = Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::Ok();
    }
  }

  int64_t ColumnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool ColumnIsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::string ColumnText(int i) const {
    // sqlite3_column_text first, then sqlite3_column_bytes, as SQLite documents: the length
    // then covers embedded NULs too.
    const unsigned char* p = sqlite3_column_text(stmt_, i);
    int n = sqlite3_column_bytes(stmt_, i);
    if (p == nullptr) return std::string();
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && error_.ok()) {
      error_ = SqliteStatus(db_, rc,
                            std::string(what_) + ": binding parameter " + std::to_string(next_));
    }
  }

  sqlite3* db_;
  std::string_view what_;
  sqlite3_stmt* stmt_ = nullptr;
  Status error_;
  int next_ = 1;
};

Status Connection::Exec(const std::string& sql, std::string_view what) {
  Query q(*this, sql, what);
  return q.Run();
}

// Ends a read transaction on the reader when it goes out of scope, so the statements inside it
// share one snapshot. ROLLBACK ends a transaction that wrote nothing exactly as COMMIT would.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Connection& c) : c_(c), status_(c.Exec("BEGIN", "begin read")) {}
  ~ReadSnapshot() {
    if (status_.ok()) c_.Exec("ROLLBACK", "end read").IgnoreError();
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  const Status& status() const { return status_; }

 private:
  Connection& c_;
  Status status_;
};

// Reads the row of a query over kJobColumns; steps are not filled.
Result<JobRecord> ReadJob(const Query& q) {
  JobRecord job;
  job.id = q.ColumnInt(0);
  job.notification_id = q.ColumnIsNull(1) ? 0 : q.ColumnInt(1);
  job.playbook = q.ColumnText(2);
  std::string phase = q.ColumnText(3);
  std::optional<Phase> p = ParsePhase(phase);
  if (!p) return DataLoss("job " + std::to_string(job.id) + ": unknown phase \"" + phase + "\"");
  job.phase = *p;
  job.target = q.ColumnText(4);
  job.fingerprint = q.ColumnText(5);
  job.starts_at_ms = q.ColumnInt(6);
  std::string state = q.ColumnText(7);
  std::optional<JobState> s = ParseJobState(state);
  if (!s) return DataLoss("job " + std::to_string(job.id) + ": unknown state \"" + state + "\"");
  job.state = *s;
  job.dry_run = q.ColumnInt(8) != 0;
  job.created_ms = q.ColumnInt(9);
  job.started_ms = q.ColumnInt(10);
  job.finished_ms = q.ColumnInt(11);
  job.alert_json = q.ColumnText(12);
  job.error = q.ColumnText(13);
  return job;
}

// Reads the row of a query over kStepColumns.
Result<StepRecord> ReadStep(const Query& q, int64_t job_id) {
  StepRecord step;
  step.index = static_cast<int>(q.ColumnInt(0));
  step.name = q.ColumnText(1);
  step.kind = q.ColumnText(2);
  std::string state = q.ColumnText(3);
  std::optional<StepState> s = ParseStepState(state);
  if (!s) {
    return DataLoss("job " + std::to_string(job_id) + " step " + std::to_string(step.index) +
                    ": unknown state \"" + state + "\"");
  }
  step.state = *s;
  step.started_ms = q.ColumnInt(4);
  step.finished_ms = q.ColumnInt(5);
  step.detail = q.ColumnText(6);
  if (!q.ColumnIsNull(7)) step.exit_code = static_cast<int>(q.ColumnInt(7));
  step.output = q.ColumnText(8);
  step.output_truncated = q.ColumnInt(9) != 0;
  step.error = q.ColumnText(10);
  return step;
}

// Runs a query over kJobColumns and collects its rows.
Result<std::vector<JobRecord>> CollectJobs(Query& q) {
  std::vector<JobRecord> jobs;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return jobs;
    Result<JobRecord> job = ReadJob(q);
    if (!job.ok()) return job.status();
    jobs.push_back(std::move(job).value());
  }
}

// The first row of a query over kJobColumns, if any.
Result<std::optional<JobRecord>> FirstJob(Query& q) {
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<JobRecord>();
  Result<JobRecord> job = ReadJob(q);
  if (!job.ok()) return job.status();
  return std::optional<JobRecord>(std::move(job).value());
}

Status LoadSteps(Connection& c, JobRecord& job) {
  static const std::string sql =
      std::string("SELECT ") + kStepColumns + " FROM steps WHERE job_id = ? ORDER BY idx";
  Query q(c, sql, "select steps");
  q.Int(job.id);
  job.steps.clear();
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    Result<StepRecord> step = ReadStep(q, job.id);
    if (!step.ok()) return step.status();
    job.steps.push_back(std::move(step).value());
  }
}

// "('succeeded', 'failed', ...)": the terminal states, for SQL, from the one list of names.
std::string TerminalStatesSql() {
  std::string out = "(";
  for (const auto& [state, name] : kJobStateNames) {
    if (!IsTerminal(state)) continue;
    if (out.size() > 1) out += ", ";
    out += '\'';
    out += name;
    out += '\'';
  }
  return out + ")";
}

class TxImpl final : public Tx {
 public:
  explicit TxImpl(Connection& c) : c_(c) {}

  Result<int64_t> InsertNotification(const NotificationRecord& n) override {
    Query q(c_,
            "INSERT INTO notifications (received_ms, receiver, status, group_key, alerts, body) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            "insert notification");
    q.Int(n.received_ms).Text(n.receiver).Text(n.status).Text(n.group_key).Int(n.alerts);
    q.Text(n.body);
    FORESIGHT_RETURN_IF_ERROR(q.Run());
    return static_cast<int64_t>(sqlite3_last_insert_rowid(c_.db()));
  }

  Status InsertAlertOutcome(int64_t notification_id, const AlertOutcome& o) override {
    Query q(c_,
            "INSERT INTO alert_outcomes (notification_id, alert_index, fingerprint, playbook, "
            "outcome, job_id) VALUES (?, ?, ?, ?, ?, ?)",
            "insert alert outcome");
    q.Int(notification_id).Int(o.alert_index).Text(o.fingerprint).Text(o.playbook);
    q.Text(o.outcome).Int(o.job_id);
    return q.Run();
  }

  Result<int64_t> InsertJob(const JobRecord& job) override {
    int64_t id = 0;
    {
      Query q(c_,
              "INSERT INTO jobs (notification_id, playbook, phase, target, fingerprint, "
              "starts_at_ms, state, dry_run, created_ms, started_ms, finished_ms, alert_json, "
              "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              "insert job");
      q.OptionalInt(job.notification_id != 0 ? std::optional<int64_t>(job.notification_id)
                                             : std::nullopt);
      q.Text(job.playbook).Text(PhaseName(job.phase)).Text(job.target).Text(job.fingerprint);
      q.Int(job.starts_at_ms).Text(JobStateName(job.state)).Int(job.dry_run ? 1 : 0);
      q.Int(job.created_ms).Int(job.started_ms).Int(job.finished_ms).Text(job.alert_json);
      q.Text(job.error);
      FORESIGHT_RETURN_IF_ERROR(q.Run());
      id = sqlite3_last_insert_rowid(c_.db());
    }
    for (const StepRecord& step : job.steps) {
      Query q(c_,
              "INSERT INTO steps (job_id, idx, name, kind, state, started_ms, finished_ms, "
              "detail, exit_code, output, output_truncated, error) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              "insert step");
      q.Int(id);
      BindStepFields(q, step);
      Status st = q.Run();
      if (!st.ok()) return st.WithContext("step " + std::to_string(step.index));
    }
    return id;
  }

  Result<std::optional<JobRecord>> LatestJobForAlert(const std::string& playbook, Phase phase,
                                                     const std::string& fingerprint,
                                                     int64_t starts_at_ms) override {
    static const std::string sql = std::string("SELECT ") + kJobColumns +
                                   " FROM jobs WHERE playbook = ? AND phase = ? AND "
                                   "fingerprint = ? AND starts_at_ms = ? ORDER BY id DESC LIMIT 1";
    Query q(c_, sql, "select latest job for alert");
    q.Text(playbook).Text(PhaseName(phase)).Text(fingerprint).Int(starts_at_ms);
    return FirstJob(q);
  }

  Result<std::optional<JobRecord>> LatestFiringJobForTarget(const std::string& playbook,
                                                            const std::string& target) override {
    static const std::string sql =
        std::string("SELECT ") + kJobColumns +
        " FROM jobs WHERE playbook = ? AND target = ? AND phase = ? ORDER BY id DESC LIMIT 1";
    Query q(c_, sql, "select latest firing job for target");
    q.Text(playbook).Text(target).Text(PhaseName(Phase::kFiring));
    return FirstJob(q);
  }

  Status UpdateJob(const JobRecord& job) override {
    Query q(c_,
            "UPDATE jobs SET state = ?, dry_run = ?, started_ms = ?, finished_ms = ?, error = ? "
            "WHERE id = ?",
            "update job");
    q.Text(JobStateName(job.state)).Int(job.dry_run ? 1 : 0).Int(job.started_ms);
    q.Int(job.finished_ms).Text(job.error);
    q.Int(job.id);
    FORESIGHT_RETURN_IF_ERROR(q.Run());
    if (sqlite3_changes64(c_.db()) == 0) {
      return NotFound("update job: no job " + std::to_string(job.id));
    }
    return Status::Ok();
  }

  // An upsert: a job's steps are written when it starts (a queued job has none yet), and then
  // one by one as they run.
  Status UpdateStep(int64_t job_id, const StepRecord& step) override {
    Query q(c_,
            "INSERT INTO steps (job_id, idx, name, kind, state, started_ms, finished_ms, "
            "detail, exit_code, output, output_truncated, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (job_id, idx) DO UPDATE SET name = excluded.name, kind = excluded.kind, "
            "state = excluded.state, started_ms = excluded.started_ms, "
            "finished_ms = excluded.finished_ms, detail = excluded.detail, "
            "exit_code = excluded.exit_code, output = excluded.output, "
            "output_truncated = excluded.output_truncated, error = excluded.error",
            "upsert step");
    q.Int(job_id);
    BindStepFields(q, step);
    return q.Run();
  }

  Status SetMeta(const std::string& key, const std::string& value) override {
    if (key == kSchemaVersionKey) {
      return InvalidArgument("set meta: \"" + key + "\" belongs to the journal");
    }
    Query q(c_,
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            "set meta");
    q.Text(key).Text(value);
    return q.Run();
  }

  // Journal::Prune's work, inside a Write. Steps and outcomes are deleted explicitly, not by
  // the cascade, so that they are counted.
  Status Prune(int64_t before_ms, int64_t* deleted) {
    static const std::string terminal = TerminalStatesSql();
    static const std::string old_jobs =
        "SELECT id FROM jobs WHERE state IN " + terminal + " AND finished_ms < ?1";
    static const std::string old_notifications =
        "SELECT id FROM notifications WHERE received_ms < ?1 AND NOT EXISTS "
        "(SELECT 1 FROM jobs WHERE jobs.notification_id = notifications.id)";
    static const std::array<std::pair<std::string, const char*>, 4> statements = {{
        {"DELETE FROM steps WHERE job_id IN (" + old_jobs + ")", "prune steps"},
        {"DELETE FROM jobs WHERE id IN (" + old_jobs + ")", "prune jobs"},
        {"DELETE FROM alert_outcomes WHERE notification_id IN (" + old_notifications + ")",
         "prune alert outcomes"},
        {"DELETE FROM notifications WHERE id IN (" + old_notifications + ")",
         "prune notifications"},
    }};
    *deleted = 0;
    for (const auto& [sql, what] : statements) {
      Query q(c_, sql, what);
      q.Int(before_ms);
      FORESIGHT_RETURN_IF_ERROR(q.Run());
      *deleted += sqlite3_changes64(c_.db());
    }
    return Status::Ok();
  }

 private:
  // Binds idx .. error in the column order of kStepColumns.
  static void BindStepFields(Query& q, const StepRecord& step) {
    q.Int(step.index).Text(step.name).Text(step.kind).Text(StepStateName(step.state));
    q.Int(step.started_ms).Int(step.finished_ms).Text(step.detail);
    q.OptionalInt(step.exit_code.has_value() ? std::optional<int64_t>(*step.exit_code)
                                             : std::nullopt);
    q.Text(step.output).Int(step.output_truncated ? 1 : 0).Text(step.error);
  }

  Connection& c_;
};

}  // namespace

const char* JobStateName(JobState s) { return NameOf(kJobStateNames, s); }
std::optional<JobState> ParseJobState(std::string_view name) { return Parse(kJobStateNames, name); }
bool IsTerminal(JobState s) { return s != JobState::kQueued && s != JobState::kRunning; }
const char* StepStateName(StepState s) { return NameOf(kStepStateNames, s); }
std::optional<StepState> ParseStepState(std::string_view name) {
  return Parse(kStepStateNames, name);
}
const char* PhaseName(Phase p) { return NameOf(kPhaseNames, p); }
std::optional<Phase> ParsePhase(std::string_view name) { return Parse(kPhaseNames, name); }

struct Journal::Impl {
  // One Write() call waiting for its batch; lives on the caller's stack.
  struct Pending {
    std::function<Status(Tx&)> fn;
    Status result;
    bool done = false;  // guarded by mu
  };

  ~Impl() {
    if (thread.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        stopping = true;
      }
      work_cv.notify_one();
      thread.join();
    }
    // The reader first: the last connection to close checkpoints the WAL, and only the writer
    // can. The lock goes last, once nothing of ours touches the file.
    reader.Close();
    writer.Close();
    if (lock_fd >= 0) close(lock_fd);
  }

  Status OpenLocked();
  Status CreateOrCheckSchema();
  void Run();
  void RunBatch(const std::vector<Pending*>& batch);

  JournalOptions options;
  std::string where;  // "journal <path>", the prefix of errors
  int lock_fd = -1;

  Connection writer;  // the writer thread's, once Open returned
  std::unique_ptr<TxImpl> tx;

  std::mutex read_mu;
  Connection reader;  // guarded by read_mu

  std::mutex mu;
  std::condition_variable work_cv;  // the writer waits for work or stopping
  std::condition_variable done_cv;  // Write() callers wait for their batch
  std::deque<Pending*> queue;       // guarded by mu
  bool stopping = false;            // guarded by mu
  std::thread thread;
};

// Opens both connections once "<path>.lock" is ours.
Status Journal::Impl::OpenLocked() {
  const std::string& path = options.path;
  Status st = writer.Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!st.ok()) return st.WithContext(where);
  // SQLite quietly opens a write-protected file read-only; a journal must be writable.
  if (sqlite3_db_readonly(writer.db(), "main") == 1) {
    return InvalidArgument(where + ": cannot open for writing (the file is read-only)");
  }
  {
    // The first statement that reads the file: a file that is not SQLite fails here.
    Query q(writer, "PRAGMA journal_mode = WAL", "set journal_mode=WAL");
    Result<bool> row = q.Step();
    if (!row.ok()) {
      // An invalid file is the operator's configuration, not a retryable condition.
      Status bad = row.status();
      if (bad.code() == StatusCode::kDataLoss) return InvalidArgument(where + ": " + bad.message());
      return bad.WithContext(where);
    }
    std::string mode = *row ? q.ColumnText(0) : "";
    if (mode != "wal") {
      return FailedPrecondition(where + ": cannot use WAL mode (journal_mode is \"" + mode + "\")");
    }
  }
  FORESIGHT_RETURN_IF_ERROR(
      writer.Exec("PRAGMA synchronous = FULL", "set synchronous=FULL").WithContext(where));
  FORESIGHT_RETURN_IF_ERROR(
      writer.Exec("PRAGMA foreign_keys = ON", "set foreign_keys=ON").WithContext(where));
  FORESIGHT_RETURN_IF_ERROR(CreateOrCheckSchema());

  st = reader.Open(path, SQLITE_OPEN_READONLY);
  if (!st.ok()) return st.WithContext(where + ": reader");
  tx = std::make_unique<TxImpl>(writer);
  return Status::Ok();
}

Status Journal::Impl::CreateOrCheckSchema() {
  FORESIGHT_RETURN_IF_ERROR(writer.Exec("BEGIN IMMEDIATE", "begin").WithContext(where));
  struct Rollback {
    Connection& c;
    bool armed = true;
    ~Rollback() {
      if (armed) c.Exec("ROLLBACK", "rollback").IgnoreError();
    }
  } rollback{writer};

  int64_t tables = 0;
  bool has_meta = false;
  {
    Query q(writer,
            "SELECT count(*), coalesce(sum(name = 'meta'), 0) FROM sqlite_schema "
            "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            "read the schema");
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status().WithContext(where);
    tables = q.ColumnInt(0);
    has_meta = q.ColumnInt(1) != 0;
  }
  if (tables == 0) {
    FORESIGHT_RETURN_IF_ERROR(
        writer.ExecScript(kSchemaSql, "create the schema").WithContext(where));
    Query q(writer, "INSERT INTO meta (key, value) VALUES (?, ?)", "write schema_version");
    q.Text(kSchemaVersionKey).Text(std::to_string(kSchemaVersion));
    FORESIGHT_RETURN_IF_ERROR(q.Run().WithContext(where));
  } else if (!has_meta) {
    // Someone else's database: do not add our tables to it.
    return FailedPrecondition(where + ": not a Foresight journal (it has " +
                              std::to_string(tables) + " tables but no meta table)");
  } else {
    Query q(writer, "SELECT value FROM meta WHERE key = ?", "read schema_version");
    q.Text(kSchemaVersionKey);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status().WithContext(where);
    if (!*row) return FailedPrecondition(where + ": not a Foresight journal (no schema_version)");
    std::string value = q.ColumnText(0);
    int version = 0;
    try {
      size_t used = 0;
      version = std::stoi(value, &used);
      if (used != value.size()) version = 0;
    } catch (const std::exception&) {
      version = 0;
    }
    if (version > kSchemaVersion) {
      return FailedPrecondition(
          where + ": schema version " + value + " is newer than this build supports (" +
          std::to_string(kSchemaVersion) + "); run a newer foresight_webhook");
    }
    if (version < 1) {
      return FailedPrecondition(where + ": not a Foresight journal (schema_version \"" + value +
                                "\")");
    }
  }
  rollback.armed = false;
  return writer.Exec("COMMIT", "commit the schema").WithContext(where);
}

void Journal::Impl::Run() {
  std::vector<Pending*> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu);
      work_cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and every Write has been answered
      size_t n = std::min(queue.size(), options.max_batch);
      batch.assign(queue.begin(), queue.begin() + static_cast<ptrdiff_t>(n));
      queue.erase(queue.begin(), queue.begin() + static_cast<ptrdiff_t>(n));
    }
    RunBatch(batch);
    {
      std::lock_guard<std::mutex> lock(mu);
      // After this a caller may return and its Pending is gone: no touching them below.
      for (Pending* p : batch) p->done = true;
    }
    done_cv.notify_all();
  }
}

void Journal::Impl::RunBatch(const std::vector<Pending*>& batch) {
  const auto start = std::chrono::steady_clock::now();
  Status failed = writer.Exec("BEGIN IMMEDIATE", "BEGIN");
  for (size_t i = 0; failed.ok() && i < batch.size(); ++i) {
    Pending& p = *batch[i];
    failed = writer.Exec("SAVEPOINT fn", "SAVEPOINT");
    if (!failed.ok()) break;
    try {
      p.result = p.fn(*tx);
    } catch (const std::exception& e) {
      p.result = Internal(std::string("the write function threw: ") + e.what());
    } catch (...) {
      p.result = Internal("the write function threw");
    }
    if (sqlite3_get_autocommit(writer.db()) != 0) {
      // SQLite rolled the whole transaction back (I/O error, disk full, out of memory): the
      // functions before this one lost their changes too.
      failed = Unavailable(
          "transaction rolled back by SQLite: " +
          (p.result.ok() ? std::string(sqlite3_errmsg(writer.db())) : p.result.message()));
      break;
    }
    if (!p.result.ok()) {
      failed = writer.Exec("ROLLBACK TO fn", "ROLLBACK TO SAVEPOINT");
      if (!failed.ok()) break;
    }
    failed = writer.Exec("RELEASE fn", "RELEASE SAVEPOINT");
  }
  if (failed.ok() && options.inject_commit_error) failed = options.inject_commit_error();
  if (failed.ok()) failed = writer.Exec("COMMIT", "COMMIT");
  if (!failed.ok()) {
    if (sqlite3_get_autocommit(writer.db()) == 0) {
      writer.Exec("ROLLBACK", "ROLLBACK").IgnoreError();
    }
    for (Pending* p : batch) p->result = Unavailable(where + ": " + failed.message());
  }
  // The duration is a measurement for the metrics, not an input to any decision.
  const auto took = std::chrono::steady_clock::now() - start;
  if (options.on_commit) {
    options.on_commit(std::chrono::duration_cast<std::chrono::nanoseconds>(took), batch.size());
  }
}

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Journal::~Journal() = default;

Result<std::unique_ptr<Journal>> Journal::Open(JournalOptions options) {
  if (options.path.empty()) return InvalidArgument("journal: the path is empty");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->where = "journal " + impl->options.path;
  if (impl->options.max_batch == 0) {
    return InvalidArgument(impl->where + ": max_batch must be at least 1");
  }

  const std::string lock_path = impl->options.path + ".lock";
  // CLOEXEC: an exec step's long-lived child must not keep the journal locked after we die.
  impl->lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (impl->lock_fd < 0) {
    return InvalidArgument(impl->where + ": cannot create the lock file " + lock_path + ": " +
                           std::strerror(errno));
  }
  if (flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return FailedPrecondition(impl->where + " is in use by another process (" + lock_path +
                                " is locked)");
    }
    return Unavailable(impl->where + ": cannot lock " + lock_path + ": " + std::strerror(errno));
  }

  FORESIGHT_RETURN_IF_ERROR(impl->OpenLocked());
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

Status Journal::Write(std::function<Status(Tx&)> fn) {
  if (std::this_thread::get_id() == impl_->thread.get_id()) {
    return Internal(impl_->where + ": Write called from inside a Write function");
  }
  Impl::Pending p;
  p.fn = std::move(fn);
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->queue.push_back(&p);
  impl_->work_cv.notify_one();
  impl_->done_cv.wait(lock, [&] { return p.done; });
  return std::move(p.result);
}

Result<std::vector<JobRecord>> Journal::ListJobs(const JobFilter& filter) const {
  // Only the filters in use go into the SQL, so SQLite can pick an index for them; each of the
  // 32 shapes is prepared once and cached.
  std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE 1";
  if (filter.state) sql += " AND state = ?";
  if (!filter.playbook.empty()) sql += " AND playbook = ?";
  if (!filter.target.empty()) sql += " AND target = ?";
  if (filter.phase) sql += " AND phase = ?";
  if (filter.before_id > 0) sql += " AND id < ?";
  sql += " ORDER BY id DESC LIMIT ?";

  std::lock_guard<std::mutex> lock(impl_->read_mu);
  Query q(impl_->reader, sql, "list jobs");
  if (filter.state) q.Text(JobStateName(*filter.state));
  if (!filter.playbook.empty()) q.Text(filter.playbook);
  if (!filter.target.empty()) q.Text(filter.target);
  if (filter.phase) q.Text(PhaseName(*filter.phase));
  if (filter.before_id > 0) q.Int(filter.before_id);
  q.Int(static_cast<int64_t>(
      std::min<size_t>(filter.limit, static_cast<size_t>(std::numeric_limits<int64_t>::max()))));
  Result<std::vector<JobRecord>> jobs = CollectJobs(q);
  if (!jobs.ok()) return jobs.status().WithContext(impl_->where);
  return jobs;
}

Result<std::optional<JobRecord>> Journal::GetJob(int64_t id) const {
  static const std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?";
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  ReadSnapshot snapshot(impl_->reader);
  if (!snapshot.status().ok()) return snapshot.status().WithContext(impl_->where);
  Result<std::optional<JobRecord>> job = std::optional<JobRecord>();
  {
    Query q(impl_->reader, sql, "select job");
    q.Int(id);
    job = FirstJob(q);
  }
  if (!job.ok()) return job.status().WithContext(impl_->where);
  if (job->has_value()) {
    Status st = LoadSteps(impl_->reader, **job);
    if (!st.ok()) return st.WithContext(impl_->where);
  }
  return job;
}

Result<std::vector<JobRecord>> Journal::UnfinishedJobs() const {
  static const std::string sql =
      std::string("SELECT ") + kJobColumns + " FROM jobs WHERE state IN (?, ?) ORDER BY id";
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  ReadSnapshot snapshot(impl_->reader);
  if (!snapshot.status().ok()) return snapshot.status().WithContext(impl_->where);
  Result<std::vector<JobRecord>> jobs = std::vector<JobRecord>();
  {
    Query q(impl_->reader, sql, "select unfinished jobs");
    q.Text(JobStateName(JobState::kQueued)).Text(JobStateName(JobState::kRunning));
    jobs = CollectJobs(q);
  }
  if (!jobs.ok()) return jobs.status().WithContext(impl_->where);
  for (JobRecord& job : *jobs) {
    Status st = LoadSteps(impl_->reader, job);
    if (!st.ok()) return st.WithContext(impl_->where);
  }
  return jobs;
}

Result<std::vector<AlertOutcome>> Journal::Outcomes(int64_t notification_id) const {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  Query q(impl_->reader,
          "SELECT alert_index, fingerprint, playbook, outcome, job_id FROM alert_outcomes "
          "WHERE notification_id = ? ORDER BY alert_index, rowid",
          "select alert outcomes");
  q.Int(notification_id);
  std::vector<AlertOutcome> outcomes;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status().WithContext(impl_->where);
    if (!*row) return outcomes;
    AlertOutcome o;
    o.alert_index = static_cast<int>(q.ColumnInt(0));
    o.fingerprint = q.ColumnText(1);
    o.playbook = q.ColumnText(2);
    o.outcome = q.ColumnText(3);
    o.job_id = q.ColumnInt(4);
    outcomes.push_back(std::move(o));
  }
}

Result<std::optional<NotificationRecord>> Journal::GetNotification(int64_t id) const {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  Query q(impl_->reader,
          "SELECT id, received_ms, receiver, status, group_key, alerts, body FROM notifications "
          "WHERE id = ?",
          "select notification");
  q.Int(id);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status().WithContext(impl_->where);
  if (!*row) return std::optional<NotificationRecord>();
  NotificationRecord n;
  n.id = q.ColumnInt(0);
  n.received_ms = q.ColumnInt(1);
  n.receiver = q.ColumnText(2);
  n.status = q.ColumnText(3);
  n.group_key = q.ColumnText(4);
  n.alerts = static_cast<int>(q.ColumnInt(5));
  n.body = q.ColumnText(6);
  return std::optional<NotificationRecord>(std::move(n));
}

Result<std::optional<std::string>> Journal::GetMeta(const std::string& key) const {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  Query q(impl_->reader, "SELECT value FROM meta WHERE key = ?", "select meta");
  q.Text(key);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status().WithContext(impl_->where);
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(q.ColumnText(0));
}

Result<int64_t> Journal::CountNotifications() const {
  std::lock_guard<std::mutex> lock(impl_->read_mu);
  Query q(impl_->reader, "SELECT count(*) FROM notifications", "count notifications");
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status().WithContext(impl_->where);
  return q.ColumnInt(0);
}

Result<int64_t> Journal::Prune(int64_t before_ms) {
  int64_t deleted = 0;
  Status st = Write([&](Tx& tx) { return static_cast<TxImpl&>(tx).Prune(before_ms, &deleted); });
  if (!st.ok()) return st;
  return deleted;
}

const std::string& Journal::path() const { return impl_->options.path; }

}  // namespace foresight::webhook
