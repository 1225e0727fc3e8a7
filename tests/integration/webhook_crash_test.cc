// Crash safety of the real foresight_webhook binary, over HTTP, as an operator would see it:
//
//   SIGKILL while jobs are queued and running, then a restart on the same journal: every
//   notification that got its 200 has exactly one job, which either completes or is marked
//   interrupted with each step's state, and no step that completed runs twice.
//
//   SIGTERM: running jobs finish within the grace period, queued ones stay queued (none starts
//   once the daemon is shutting down, also while the shutdown waits for a request in flight)
//   and run after the restart, and the daemon exits 0.
//
// Every step is a shell that appends "<fingerprint> <step> start" to a log in the test's
// directory, sleeps, and appends "<fingerprint> <step> end", so the log tells what really ran
// and the API tells what the journal believes; the assertions compare the two.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon_process.h"
#include "http_client.h"
#include "foresight/common/timeparse.h"

namespace foresight {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::DaemonProcess;

constexpr char kToken[] = "crash-test-token-7f3a9c";
constexpr char kPlaybook[] = "remediate";
constexpr int kSteps = 3;
// Long enough that a step seen running in the log is still running when SIGKILL lands a few
// milliseconds later; short enough that 40 jobs, two at a time, take under 20 s.
constexpr char kStepSleep[] = "0.25";
constexpr int kNotifications = 30;
// Posted while the kill happens, paced, so that some are in flight when the daemon dies.
constexpr int kLateNotifications = 20;
constexpr seconds kDrainDeadline{60};

// --- HTTP: tests/fixture/http_client.h, always with the bearer token ---

using testing::HttpAnswer;

Result<HttpAnswer> Http(const std::string& method, const std::string& url,
                        const std::string* body = nullptr) {
  std::vector<std::string> headers = {std::string("Authorization: Bearer ") + kToken};
  if (body != nullptr) headers.push_back("Content-Type: application/json");
  return testing::HttpCall(method, url, headers, body);
}

// A POST sent in two parts over a plain socket: the head (with "Expect: 100-continue") first,
// the body when Finish is called. Once Begin returns, the server has answered "100 Continue",
// so its handler has started and a shutdown must wait for this request.
class SlowPost {
 public:
  SlowPost() = default;
  ~SlowPost() {
    if (fd_ >= 0) ::close(fd_);
  }
  SlowPost(const SlowPost&) = delete;
  SlowPost& operator=(const SlowPost&) = delete;

  Status Begin(int port, const std::string& path, std::string body) {
    body_ = std::move(body);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Internal("socket: " + std::string(std::strerror(errno)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return Unavailable("connect: " + std::string(std::strerror(errno)));
    }
    const std::string head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                             "Authorization: Bearer " + kToken + "\r\n" +
                             "Content-Type: application/json\r\n" +
                             "Content-Length: " + std::to_string(body_.size()) + "\r\n" +
                             "Expect: 100-continue\r\nConnection: close\r\n\r\n";
    FORESIGHT_RETURN_IF_ERROR(Send(head));
    std::string got;
    while (got.find("\r\n\r\n") == std::string::npos) {
      FORESIGHT_RETURN_IF_ERROR(Receive(&got));
    }
    if (got.rfind("HTTP/1.1 100", 0) != 0) return Internal("want 100 Continue, got: " + got);
    return Status::Ok();
  }

  // Sends the body; the answer's status code.
  Result<int> Finish() {
    FORESIGHT_RETURN_IF_ERROR(Send(body_));
    std::string got;
    while (true) {
      Status st = Receive(&got);
      if (!st.ok()) break;  // closed (Connection: close) or timed out
    }
    int status = 0;
    if (std::sscanf(got.c_str(), "HTTP/1.1 %d", &status) != 1) {
      return Internal("no HTTP answer: \"" + got + "\"");
    }
    return status;
  }

 private:
  Status Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return Unavailable("send: " + std::string(std::strerror(errno)));
      sent += static_cast<size_t>(n);
    }
    return Status::Ok();
  }
  // Appends what arrives within 10 s; an error at EOF or timeout.
  Status Receive(std::string* out) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return DeadlineExceeded("no answer within 10 s");
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return Unavailable("connection closed");
    out->append(buf, static_cast<size_t>(n));
    return Status::Ok();
  }

  int fd_ = -1;
  std::string body_;
};

// --- Files ---

void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  ASSERT_TRUE(f.good()) << path;
}

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// What the steps' shells wrote: per (fingerprint, step), how often it started and ended.
struct Runs {
  int starts = 0;
  int ends = 0;
};
using StepKey = std::pair<std::string, std::string>;

std::map<StepKey, Runs> ReadStepLog(const std::filesystem::path& path) {
  std::map<StepKey, Runs> out;
  std::istringstream lines(ReadText(path));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string fingerprint, step, what;
    if (!(words >> fingerprint >> step >> what)) continue;  // a line still being written
    if (what == "start") ++out[{fingerprint, step}].starts;
    if (what == "end") ++out[{fingerprint, step}].ends;
  }
  return out;
}

// --- The daemon's config and Alertmanager's payload ---

std::string StepName(int i) { return std::string("s").append(std::to_string(i + 1)); }

// One playbook for every alert, three exec steps. cooldown is 1h, not 0s: the default
// target is the fingerprint, so the cooldown only stops a second firing job for the same alert.
// That is what makes a replay of a finished alert's notification (Alertmanager re-sending what
// it got no answer for) start nothing, and it is the daemon's documented protection for that
// case (engine.h: "duplicate" covers queued and running jobs only). With 0s a replay after the
// job finished would rightly start a second job, and the replay check would test nothing.
std::string WebhookConfig(const std::filesystem::path& steps_log) {
  const std::string script = std::string("echo \"$1 $2 start\" >> \"$3\"; sleep ") + kStepSleep +
                             "; echo \"$1 $2 end\" >> \"$3\"";
  std::string yaml =
      "web:\n"
      "  bearer_token_file: token\n"
      "journal:\n"
      "  path: journal.db\n"
      "limits:\n"
      "  max_concurrent_jobs: 2\n"
      "playbooks:\n"
      "  - name: " + std::string(kPlaybook) + "\n"
      "    cooldown: 1h\n"
      "    steps:\n";
  for (int i = 0; i < kSteps; ++i) {
    yaml += "      - name: " + StepName(i) + "\n"
            "        kind: exec\n"
            "        argv: [/bin/sh, -c, '" + script + "', sh, '{{ .Fingerprint }}', " +
            StepName(i) + ", '" + steps_log.string() + "']\n"
            "        timeout: 30s\n";
  }
  return yaml;
}

std::string Fingerprint(int i) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016x", 0xc4a5e000 + i);
  return buf;
}

// A one-alert notification as Alertmanager 0.25 sends it.
std::string NotificationBody(int i) {
  const std::string fp = Fingerprint(i);
  nlohmann::json labels = {{"alertname", "CrashTest"}, {"n", std::to_string(i)}};
  nlohmann::json alert = {{"status", "firing"},
                          {"labels", labels},
                          {"annotations", {{"summary", "alert " + std::to_string(i)}}},
                          {"startsAt", "2026-11-23T06:00:00.5Z"},
                          {"endsAt", "0001-01-01T00:00:00Z"},
                          {"generatorURL", "http://prometheus:9090/graph"},
                          {"fingerprint", fp}};
  nlohmann::json n = {{"version", "4"},
                      {"groupKey", "{}:{n=\"" + std::to_string(i) + "\"}"},
                      {"truncatedAlerts", 0},
                      {"status", "firing"},
                      {"receiver", "foresight-webhook"},
                      {"groupLabels", {{"n", std::to_string(i)}}},
                      {"commonLabels", labels},
                      {"commonAnnotations", nlohmann::json::object()},
                      {"externalURL", "http://alertmanager:9093"},
                      {"alerts", {alert}}};
  return n.dump();
}

// A notification as the test sent it, and what the daemon answered.
struct Posted {
  int index = 0;
  std::string fingerprint;
  std::string body;
  bool acknowledged = false;  // 200
  std::string outcome;        // of its one alert
  int64_t job_id = 0;
  std::string error;  // when not acknowledged: why
};

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An RFC 3339 time from the API in Unix ms; 0 for null.
int64_t TimeMs(const nlohmann::json& value) {
  if (!value.is_string()) return 0;
  auto ms = ParseTimestampMs(value.get<std::string>(), 0);
  EXPECT_TRUE(ms.ok()) << value;
  return ms.ok() ? *ms : 0;
}

template <typename F>
bool PollUntil(F cond, std::chrono::milliseconds deadline, milliseconds every = milliseconds(50)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(every);
  }
  return cond();
}

double MetricValue(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, series.size() + 1, series + " ") == 0) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------

class WebhookCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("foresight_webhook_crash_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    steps_log_ = dir_ / "steps.log";
    WriteText(dir_ / "token", std::string(kToken) + "\n");
    WriteText(dir_ / "webhook.yml", WebhookConfig(steps_log_));
  }

  void TearDown() override {
    if (daemon_) {
      Status st = daemon_->Stop();
      EXPECT_TRUE(st.ok()) << st.message();
    }
    daemon_.reset();
    if (HasFailure()) {
      for (const char* log : {"webhook.log", "steps.log"}) {
        const std::string text = ReadText(dir_ / log);
        std::cerr << "--- " << log << " (tail)\n"
                  << text.substr(text.size() > 8000 ? text.size() - 8000 : 0) << "\n";
      }
    }
    if (std::getenv("FORESIGHT_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(dir_);
  }

  // Starts the binary on a fresh port (a killed daemon's port may linger) and the same journal.
  void StartDaemon() {
    auto port = testing::PickFreePort();
    ASSERT_TRUE(port.ok()) << port.status().message();
    port_ = *port;
    base_url_ = "http://127.0.0.1:" + std::to_string(*port);
    auto daemon = DaemonProcess::Start(
        {.argv = {FORESIGHT_WEBHOOK_BINARY, "--config.file=" + (dir_ / "webhook.yml").string(),
                  "--web.listen-address=127.0.0.1:" + std::to_string(*port)},
         .log_path = (dir_ / "webhook.log").string(),
         .ready_url = base_url_ + "/-/ready",
         .ready_timeout = seconds(30)});
    ASSERT_TRUE(daemon.ok()) << daemon.status().message();
    daemon_ = std::move(*daemon);
  }

  Posted Post(int i) {
    Posted p;
    p.index = i;
    p.fingerprint = Fingerprint(i);
    p.body = NotificationBody(i);
    Repost(&p);
    return p;
  }

  // Sends p->body (again) and records the answer.
  void Repost(Posted* p) {
    auto answer = Http("POST", base_url_ + "/api/v1/notifications", &p->body);
    p->acknowledged = answer.ok() && answer->status == 200;
    if (!p->acknowledged) {
      p->error = answer.ok() ? std::to_string(answer->status) + " " + answer->body
                             : answer.status().message();
      return;
    }
    nlohmann::json j = nlohmann::json::parse(answer->body, nullptr, false);
    const nlohmann::json alerts =
        j.is_object() ? j["data"].value("alerts", nlohmann::json::array()) : nlohmann::json();
    if (!alerts.is_array() || alerts.size() != 1) {
      p->error = "unexpected answer: " + answer->body;
      return;
    }
    p->outcome = alerts[0].value("outcome", "");
    p->job_id = alerts[0]["job_id"].is_number() ? alerts[0]["job_id"].get<int64_t>() : 0;
  }

  // GET /api/v1/jobs (newest first) with an extra query such as "state=queued".
  std::vector<nlohmann::json> Jobs(const std::string& query = "") {
    auto answer =
        Http("GET", base_url_ + "/api/v1/jobs?limit=1000" + (query.empty() ? "" : "&" + query));
    EXPECT_TRUE(answer.ok() && answer->status == 200)
        << (answer.ok() ? answer->body : answer.status().message());
    std::vector<nlohmann::json> out;
    if (!answer.ok() || answer->status != 200) return out;
    const nlohmann::json j = nlohmann::json::parse(answer->body);
    for (const auto& job : j["data"]["jobs"]) out.push_back(job);
    return out;
  }

  nlohmann::json Job(int64_t id) {
    auto answer = Http("GET", base_url_ + "/api/v1/jobs/" + std::to_string(id));
    EXPECT_TRUE(answer.ok() && answer->status == 200)
        << (answer.ok() ? answer->body : answer.status().message());
    if (!answer.ok() || answer->status != 200) return nlohmann::json::object();
    return nlohmann::json::parse(answer->body)["data"];
  }

  std::string Metrics() {
    auto answer = Http("GET", base_url_ + "/metrics");
    EXPECT_TRUE(answer.ok() && answer->status == 200);
    return answer.ok() ? answer->body : "";
  }

  // Every job, with its steps, once none is queued or running.
  std::vector<nlohmann::json> WaitForAllJobsFinished() {
    std::vector<nlohmann::json> jobs;
    const bool done = PollUntil(
        [&] {
          jobs = Jobs();
          for (const auto& job : jobs) {
            const std::string state = job.value("state", "");
            if (state == "queued" || state == "running") return false;
          }
          return true;
        },
        kDrainDeadline, milliseconds(100));
    EXPECT_TRUE(done) << "jobs still queued or running after " << kDrainDeadline.count() << " s";
    std::vector<nlohmann::json> full;
    for (const auto& job : jobs) full.push_back(Job(job.value("id", int64_t{0})));
    return full;
  }

  // True when a job's second or later step has started and not ended: a job is half done, so
  // the signal lands between a completed step and pending ones.
  bool LaterStepInFlight() {
    for (const auto& [key, runs] : ReadStepLog(steps_log_)) {
      if (key.second != StepName(0) && runs.starts > runs.ends) return true;
    }
    return false;
  }

  void PostAndWaitForHalfDoneJob();
  void CheckSigtermThenRestart(int64_t exited_ms, size_t want_jobs);

  std::filesystem::path dir_, steps_log_;
  int port_ = 0;
  std::string base_url_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(WebhookCrashTest, SigkillThenRestartRunsEveryAcceptedAlertOnceAndNoStepTwice) {
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  std::vector<Posted> posted;
  for (int i = 0; i < kNotifications; ++i) {
    posted.push_back(Post(i));
    const Posted& p = posted.back();
    ASSERT_TRUE(p.acknowledged) << p.fingerprint << ": " << p.error;
    ASSERT_EQ(p.outcome, "job") << p.fingerprint;
    ASSERT_GT(p.job_id, 0) << p.fingerprint;
  }

  // More notifications while the kill happens: whatever got its 200 must have its job too.
  std::atomic<bool> stop_posting{false};
  std::vector<Posted> late;  // written by the poster only, read after join
  std::thread poster([&] {
    for (int i = kNotifications; i < kNotifications + kLateNotifications && !stop_posting; ++i) {
      late.push_back(Post(i));
      std::this_thread::sleep_for(milliseconds(20));  // pacing, not waiting for anything
    }
  });

  // Kill while a job is half done and others wait in the queue.
  const bool ready_to_kill =
      PollUntil([&] { return !Jobs("state=queued").empty() && LaterStepInFlight(); }, seconds(30),
                milliseconds(5));
  const Status killed =
      ready_to_kill ? daemon_->Signal(SIGKILL) : Internal("never saw a later step running with "
                                                          "jobs queued");
  stop_posting = true;
  poster.join();
  ASSERT_TRUE(killed.ok()) << killed.message();
  const auto unanswered = std::count_if(late.begin(), late.end(),
                                        [](const Posted& p) { return !p.acknowledged; });
  ASSERT_TRUE(PollUntil([&] { return !daemon_->Running(); }, seconds(10)));
  daemon_.reset();  // reaped already; its Stop has nothing to stop

  // Restart on the same journal.
  const int64_t restart_ms = NowMs();
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  std::vector<nlohmann::json> jobs = WaitForAllJobsFinished();

  // Alertmanager retries what got no 200; after that, every alert has its job.
  for (Posted& p : late) {
    if (p.acknowledged) continue;
    Repost(&p);
    ASSERT_TRUE(p.acknowledged) << p.fingerprint << ": " << p.error;
    EXPECT_TRUE(p.outcome == "job" || p.outcome == "cooldown") << p.fingerprint << " " << p.outcome;
  }
  jobs = WaitForAllJobsFinished();
  posted.insert(posted.end(), late.begin(), late.end());

  // Every notification: exactly one job, the one its 200 named.
  std::map<std::string, std::vector<nlohmann::json>> by_fingerprint;
  for (const auto& job : jobs) by_fingerprint[job.value("fingerprint", "")].push_back(job);
  std::set<std::string> fingerprints;
  for (const Posted& p : posted) fingerprints.insert(p.fingerprint);
  for (const auto& [fp, list] : by_fingerprint) {
    EXPECT_TRUE(fingerprints.count(fp) > 0) << "a job for an alert nobody sent: " << fp;
  }
  for (const Posted& p : posted) {
    const auto& list = by_fingerprint[p.fingerprint];
    ASSERT_EQ(list.size(), 1u) << p.fingerprint << " has " << list.size() << " jobs";
    EXPECT_EQ(list[0].value("id", int64_t{0}), p.job_id) << p.fingerprint;
  }

  // Every job completed or was interrupted, with each step's state consistent with that; and
  // the step log agrees with the journal.
  const std::map<StepKey, Runs> runs = ReadStepLog(steps_log_);
  std::set<StepKey> steps_of_jobs;
  int interrupted = 0, interrupted_steps = 0, completed_before_interrupted = 0;
  int started_after_restart = 0;
  for (const auto& job : jobs) {
    const std::string fp = job.value("fingerprint", "");
    const std::string state = job.value("state", "");
    const auto& steps = job["steps"];
    ASSERT_EQ(steps.size(), static_cast<size_t>(kSteps)) << job.dump();
    // Of the notifications acknowledged before the kill: queued then, run by the new daemon.
    if (TimeMs(job["started"]) >= restart_ms &&
        job.value("id", int64_t{0}) <= posted[kNotifications - 1].job_id) {
      ++started_after_restart;
    }
    if (state == "succeeded") {
      for (const auto& step : steps) EXPECT_EQ(step.value("state", ""), "succeeded") << job.dump();
    } else {
      ASSERT_EQ(state, "interrupted") << job.dump();
      ++interrupted;
      // succeeded* interrupted? pending*: at most one step was running when the daemon died.
      // Not exactly one: a kill between one step's committed result and the next one's
      // committed start leaves none running, rightly (that window is a few ms of a 250 ms
      // step, so the kill, timed mid-step, makes the count below at least 1 anyway).
      size_t i = 0;
      while (i < steps.size() && steps[i].value("state", "") == "succeeded") ++i;
      if (i < steps.size() && steps[i].value("state", "") == "interrupted") {
        ++interrupted_steps;
        if (i > 0) ++completed_before_interrupted;
        EXPECT_FALSE(steps[i].value("error", "").empty()) << job.dump();
        EXPECT_TRUE(steps[i]["started"].is_string()) << job.dump();
        ++i;
      }
      for (; i < steps.size(); ++i) {
        EXPECT_EQ(steps[i].value("state", ""), "pending") << "step " << i << " of " << job.dump();
      }
      EXPECT_LT(TimeMs(job["started"]), restart_ms) << "interrupted, yet started after the restart";
    }
    for (const auto& step : steps) {
      const StepKey key{fp, step.value("name", "")};
      steps_of_jobs.insert(key);
      const Runs r = runs.count(key) ? runs.at(key) : Runs{};
      const std::string step_state = step.value("state", "");
      if (step_state == "succeeded") {
        EXPECT_EQ(r.starts, 1) << fp << " " << key.second << " succeeded";
        EXPECT_EQ(r.ends, 1) << fp << " " << key.second << " succeeded";
      } else if (step_state == "interrupted") {
        // Started by the killed daemon (its shell may even have begun after the kill), never
        // again by the new one.
        EXPECT_LE(r.starts, 1) << fp << " " << key.second << " interrupted";
      } else {
        EXPECT_EQ(r.starts, 0) << fp << " " << key.second << " is " << step_state << " yet ran";
      }
    }
  }
  for (const auto& [key, r] : runs) {
    EXPECT_LE(r.starts, 1) << key.first << " " << key.second << " started " << r.starts << " times";
    EXPECT_TRUE(steps_of_jobs.count(key) > 0)
        << key.first << " " << key.second << " ran without a job in the journal";
  }
  // Not vacuous: the kill cut a step off, and queued jobs ran after the restart.
  EXPECT_GE(interrupted, 1);
  EXPECT_GE(interrupted_steps, 1);
  EXPECT_GE(completed_before_interrupted, 1);
  EXPECT_GE(started_after_restart, 1);
  EXPECT_EQ(MetricValue(Metrics(), "foresight_webhook_jobs_interrupted_total{playbook=\"" +
                                       std::string(kPlaybook) + "\"}"),
            interrupted);

  // Alertmanager re-sends everything (it may have missed the 200s): nothing runs again, the
  // interrupted jobs included.
  const size_t jobs_before_replay = Jobs().size();
  for (const Posted& original : posted) {
    Posted replay = original;
    Repost(&replay);
    ASSERT_TRUE(replay.acknowledged) << replay.fingerprint << ": " << replay.error;
    EXPECT_EQ(replay.outcome, "cooldown") << replay.fingerprint;
    EXPECT_EQ(replay.job_id, original.job_id) << replay.fingerprint;
  }
  EXPECT_EQ(Jobs().size(), jobs_before_replay);
  EXPECT_EQ(Jobs("state=queued").size() + Jobs("state=running").size(), 0u);

  std::cerr << posted.size() << " notifications (" << unanswered
            << " unanswered at the kill and sent again), " << interrupted << " jobs interrupted ("
            << interrupted_steps << " in a step), " << started_after_restart
            << " started after the restart, in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
            << " s\n";
}

// --- SIGTERM: running jobs finish within the grace period (30 s by default), no queued job
// starts once the daemon is shutting down, queued ones run after the restart, exit status 0. ---

constexpr int kSigtermJobs = 8;

// Posts kSigtermJobs notifications and waits until a job is half done with others queued.
void WebhookCrashTest::PostAndWaitForHalfDoneJob() {
  for (int i = 0; i < kSigtermJobs; ++i) {
    Posted p = Post(i);
    ASSERT_TRUE(p.acknowledged) << p.error;
    ASSERT_EQ(p.outcome, "job");
  }
  ASSERT_TRUE(PollUntil([&] { return !Jobs("state=queued").empty() && LaterStepInFlight(); },
                        seconds(30), milliseconds(5)))
      << "never saw a later step running with jobs queued";
}

// After the daemon exited at `exited_ms`: nothing was cut off, and after a restart every one of
// `want_jobs` jobs ran once, either before the shutdown began or after the restart.
void WebhookCrashTest::CheckSigtermThenRestart(int64_t exited_ms, size_t want_jobs) {
  // When the daemon knew it was shutting down: from then on no job may start.
  int64_t shutdown_ms = 0;
  {
    std::istringstream lines(ReadText(dir_ / "webhook.log"));
    std::string line;
    while (shutdown_ms == 0 && std::getline(lines, line)) {
      if (line.find("msg=\"shutting down\"") == std::string::npos) continue;
      ASSERT_EQ(line.compare(0, 3, "ts="), 0) << line;
      shutdown_ms = TimeMs(line.substr(3, line.find(' ') - 3));
    }
  }
  ASSERT_GT(shutdown_ms, 0) << "no \"shutting down\" in the daemon's log";
  for (const auto& [key, r] : ReadStepLog(steps_log_)) {
    EXPECT_EQ(r.starts, 1) << key.first << " " << key.second;
    EXPECT_EQ(r.ends, 1) << key.first << " " << key.second << " did not finish at SIGTERM";
  }

  const int64_t restart_ms = NowMs();
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  std::vector<nlohmann::json> jobs = WaitForAllJobsFinished();
  ASSERT_EQ(jobs.size(), want_jobs);
  const std::map<StepKey, Runs> runs = ReadStepLog(steps_log_);
  int before = 0, after = 0;
  for (const auto& job : jobs) {
    EXPECT_EQ(job.value("state", ""), "succeeded") << job.dump();
    const int64_t started = TimeMs(job["started"]);
    // 1 ms for a job that started in the same instant as the log line, on a ms boundary.
    if (started <= shutdown_ms + 1) {
      ++before;
      EXPECT_LE(TimeMs(job["finished"]), exited_ms)
          << "finished after the daemon exited: " << job.dump();
    } else if (started >= restart_ms) {
      ++after;
    } else {
      ADD_FAILURE() << "job " << job.value("id", 0) << " was queued at SIGTERM and started "
                    << started - shutdown_ms
                    << " ms after the daemon logged \"shutting down\" (fingerprint "
                    << job.value("fingerprint", "") << ")";
    }
    for (const auto& step : job["steps"]) {
      EXPECT_EQ(step.value("state", ""), "succeeded") << job.dump();
      const StepKey key{job.value("fingerprint", ""), step.value("name", "")};
      const Runs r = runs.count(key) ? runs.at(key) : Runs{};
      EXPECT_EQ(r.starts, 1) << key.first << " " << key.second;
      EXPECT_EQ(r.ends, 1) << key.first << " " << key.second;
    }
  }
  EXPECT_GE(before, 1) << "no job ran across the SIGTERM";
  EXPECT_GE(after, 1) << "no queued job was left for the restart";
}

// Half-way through a job: its remaining steps run within the grace period.
TEST_F(WebhookCrashTest, SigtermLetsRunningJobsFinishAndKeepsQueuedOnes) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PostAndWaitForHalfDoneJob());
  // Stop() sends SIGTERM and reports anything but exit status 0.
  Status stopped = daemon_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.message();
  const int64_t exited_ms = NowMs();
  daemon_.reset();
  CheckSigtermThenRestart(exited_ms, kSigtermJobs);
}

// Alertmanager's request is in flight when SIGTERM arrives, and the shutdown waits for it;
// meanwhile the running jobs finish. The slots they free must not go to queued jobs: those
// stay queued for the next start (engine.h, Engine::Stop: "Starts no more jobs").
TEST_F(WebhookCrashTest, SigtermStartsNoQueuedJobWhileARequestIsInFlight) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_NO_FATAL_FAILURE(PostAndWaitForHalfDoneJob());
  std::set<std::string> running;
  for (const auto& [key, r] : ReadStepLog(steps_log_)) running.insert(key.first);

  // A notification whose head is in: the daemon answered "100 Continue", so its handler runs
  // and the shutdown will wait for the body.
  SlowPost request;
  const Posted in_flight{.index = 100, .fingerprint = Fingerprint(100),
                         .body = NotificationBody(100)};
  Status begun = request.Begin(port_, "/api/v1/notifications", in_flight.body);
  ASSERT_TRUE(begun.ok()) << begun.message();
  ASSERT_TRUE(daemon_->Signal(SIGTERM).ok());
  ASSERT_TRUE(PollUntil(
      [&] {
        return ReadText(dir_ / "webhook.log").find("msg=\"shutting down\"") != std::string::npos;
      },
      seconds(10)));
  // The running jobs finish; a queued job starting now would show in the step log at once.
  EXPECT_TRUE(PollUntil(
      [&] {
        const auto runs = ReadStepLog(steps_log_);
        for (const std::string& fp : running) {
          auto it = runs.find({fp, StepName(kSteps - 1)});
          if (it == runs.end() || it->second.ends == 0) return false;
        }
        return true;
      },
      seconds(10)))
      << "the running jobs did not finish";
  PollUntil(
      [&] {
        for (const auto& [key, r] : ReadStepLog(steps_log_)) {
          if (running.count(key.first) == 0) return true;
        }
        return false;
      },
      seconds(1));
  Result<int> answer = request.Finish();
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  // Accepted (persisted, its job queued for the next start) or refused for Alertmanager to
  // send again: either is safe.
  EXPECT_TRUE(*answer == 200 || *answer == 503) << *answer;

  Status stopped = daemon_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.message();
  const int64_t exited_ms = NowMs();
  daemon_.reset();
  CheckSigtermThenRestart(exited_ms, kSigtermJobs + (*answer == 200 ? 1 : 0));
}

}  // namespace
}  // namespace foresight
