// The real foresight_webhook binary over HTTP, against what Alertmanager (or anyone who can
// reach its port) may send: bad payloads, wrong content types, oversized bodies, wrong or
// missing credentials and replays. Every refusal must leave the journal without the
// notification, run nothing, and be counted in /metrics by reason. Also: probes without auth,
// reloads (POST /-/reload and SIGHUP) that keep the old config on error, and the refusal to
// start without authentication unless --web.insecure says so.
//
// The one playbook's step is an exec that appends the alert's fingerprint to a marker file in
// the test's directory: "nothing ran" is "the marker does not exist".

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon_process.h"
#include "http_client.h"
#include "foresight/webhook/journal.h"

namespace foresight {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::DaemonProcess;

constexpr char kToken[] = "binary-test-token-19be";
constexpr char kAuth[] = "Authorization: Bearer binary-test-token-19be";
constexpr char kJson[] = "Content-Type: application/json";
constexpr size_t kMaxBodyBytes = 65536;

// --- HTTP: tests/fixture/http_client.h ---

using testing::Describe;
using testing::HttpAnswer;
using testing::HttpCall;

// --- Files, config, payloads ---

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

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

struct ConfigOptions {
  bool auth = true;
  bool second_playbook = false;  // "second", for alertname SecondTest
};

// Playbook "marker" for alertname BinaryTest appends the fingerprint to dir/marker;
// "second" appends it to dir/marker2.
std::string WebhookConfig(const std::filesystem::path& dir, ConfigOptions options) {
  auto playbook = [&](const std::string& name, const std::string& alertname,
                      const std::string& file) {
    return "  - name: " + name + "\n"
           "    match: {alertname: " + alertname + "}\n"
           "    cooldown: 1h\n"
           "    steps:\n"
           "      - name: mark\n"
           "        kind: exec\n"
           "        argv: [/bin/sh, -c, 'echo \"$1\" >> \"$2\"', sh, '{{ .Fingerprint }}', '" +
           (dir / file).string() + "']\n";
  };
  std::string yaml = "web:\n";
  if (options.auth) yaml += "  bearer_token_file: token\n";
  yaml += "  max_body_bytes: " + std::to_string(kMaxBodyBytes) + "\n"
          "journal:\n"
          "  path: journal.db\n"
          "playbooks:\n";
  yaml += playbook("marker", "BinaryTest", "marker");
  if (options.second_playbook) yaml += playbook("second", "SecondTest", "marker2");
  return yaml;
}

// A one-alert notification as Alertmanager 0.25 sends it; `edit` spoils it.
std::string NotificationBody(const std::string& fingerprint,
                             const std::string& alertname = "BinaryTest",
                             const std::function<void(nlohmann::json&)>& edit = nullptr) {
  nlohmann::json labels = {{"alertname", alertname}, {"service", "api"}};
  nlohmann::json n = {{"version", "4"},
                      {"groupKey", "{}:{alertname=\"" + alertname + "\"}"},
                      {"truncatedAlerts", 0},
                      {"status", "firing"},
                      {"receiver", "foresight-webhook"},
                      {"groupLabels", {{"alertname", alertname}}},
                      {"commonLabels", labels},
                      {"commonAnnotations", nlohmann::json::object()},
                      {"externalURL", "http://alertmanager:9093"},
                      {"alerts",
                       {{{"status", "firing"},
                         {"labels", labels},
                         {"annotations", {{"summary", "api is down"}}},
                         {"startsAt", "2026-11-23T06:00:00Z"},
                         {"endsAt", "0001-01-01T00:00:00Z"},
                         {"generatorURL", "http://prometheus:9090/graph"},
                         {"fingerprint", fingerprint}}}}};
  if (edit) edit(n);
  return n.dump();
}

// The value of one series ("name{label=\"v\"}") in a /metrics text; NaN when absent.
double MetricValue(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, series.size() + 1, series + " ") == 0) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nan("");
}

template <typename F>
bool PollUntil(F cond, seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return cond();
}

// ---------------------------------------------------------------------------------------------

class WebhookBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("foresight_webhook_binary_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "webhook.yml").string();
    WriteText(dir_ / "token", std::string(kToken) + "\n");
    WriteText(config_, WebhookConfig(dir_, {}));
  }

  void TearDown() override {
    if (daemon_) {
      Status st = daemon_->Stop();
      EXPECT_TRUE(st.ok()) << st.message();
    }
    daemon_.reset();
    if (HasFailure()) {
      const std::string text = ReadText(dir_ / "webhook.log");
      std::cerr << "--- webhook.log (tail)\n"
                << text.substr(text.size() > 8000 ? text.size() - 8000 : 0) << "\n";
    }
    if (std::getenv("FORESIGHT_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(dir_);
  }

  std::vector<std::string> Argv(int port, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {FORESIGHT_WEBHOOK_BINARY, "--config.file=" + config_,
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  void StartDaemon(std::vector<std::string> extra_flags = {}) {
    auto port = testing::PickFreePort();
    ASSERT_TRUE(port.ok()) << port.status().message();
    url_ = "http://127.0.0.1:" + std::to_string(*port);
    auto daemon = DaemonProcess::Start({.argv = Argv(*port, std::move(extra_flags)),
                                        .log_path = (dir_ / "webhook.log").string(),
                                        .ready_url = url_ + "/-/ready",
                                        .ready_timeout = seconds(30)});
    ASSERT_TRUE(daemon.ok()) << daemon.status().message();
    daemon_ = std::move(*daemon);
  }

  Result<HttpAnswer> Get(const std::string& path, bool auth = true) {
    return HttpCall("GET", url_ + path,
                auth ? std::vector<std::string>{kAuth} : std::vector<std::string>{});
  }

  Result<HttpAnswer> Post(const std::string& path, const std::string& body,
                          std::vector<std::string> headers = {kAuth, kJson}) {
    return HttpCall("POST", url_ + path, headers, &body);
  }

  // The one alert's outcome of an accepted notification: {"outcome":..., "job_id":..., ...}.
  nlohmann::json Accept(const std::string& body) {
    auto a = Post("/api/v1/notifications", body);
    EXPECT_TRUE(a.ok() && a->status == 200) << Describe(a);
    if (!a.ok() || a->status != 200) return nlohmann::json::object();
    nlohmann::json j = nlohmann::json::parse(a->body);
    EXPECT_EQ(j["data"]["alerts"].size(), 1u) << a->body;
    nlohmann::json out = j["data"]["alerts"][0];
    out["notification_id"] = j["data"]["notification_id"];
    return out;
  }

  nlohmann::json JobsJson(const std::string& query = "") {
    auto a = Get("/api/v1/jobs" + query);
    EXPECT_TRUE(a.ok() && a->status == 200) << Describe(a);
    if (!a.ok() || a->status != 200) return nlohmann::json::array();
    return nlohmann::json::parse(a->body)["data"]["jobs"];
  }

  // Polls until job `id` is finished; its state ("" on timeout).
  std::string WaitForJob(int64_t id) {
    std::string state;
    PollUntil(
        [&] {
          auto a = Get("/api/v1/jobs/" + std::to_string(id));
          if (!a.ok() || a->status != 200) return false;
          state = nlohmann::json::parse(a->body)["data"].value("state", "");
          return state != "queued" && state != "running";
        },
        seconds(30));
    return state;
  }

  std::string Metrics() {
    auto a = Get("/metrics");
    EXPECT_TRUE(a.ok() && a->status == 200) << Describe(a);
    return a.ok() ? a->body : "";
  }

  double ReloadSuccessful() {
    return MetricValue(Metrics(), "foresight_webhook_config_last_reload_successful");
  }

  std::filesystem::path dir_;
  std::string config_, url_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(WebhookBinaryTest, RefusedNotificationsPersistNothingRunNothingAndAreCounted) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string good = NotificationBody("aaaa000000000001");
  struct Case {
    std::string name;
    std::string method;
    std::vector<std::string> headers;
    std::string body;
    long status;
    std::string reason;  // foresight_webhook_notifications_rejected_total{reason}
  };
  // Each body would start a job if it were accepted: only the one thing named is wrong.
  const std::vector<Case> cases = {
      {"malformed JSON", "POST", {kAuth, kJson}, good.substr(0, good.size() / 2), 400,
       "malformed_json"},
      {"wrong version", "POST", {kAuth, kJson},
       NotificationBody("aaaa000000000002", "BinaryTest", [](auto& n) { n["version"] = "3"; }),
       400, "wrong_version"},
      {"missing fingerprint", "POST", {kAuth, kJson},
       NotificationBody("aaaa000000000003", "BinaryTest",
                        [](auto& n) { n["alerts"][0].erase("fingerprint"); }),
       400, "missing_field"},
      {"missing alerts", "POST", {kAuth, kJson},
       NotificationBody("aaaa000000000004", "BinaryTest", [](auto& n) { n.erase("alerts"); }),
       400, "missing_field"},
      {"bad startsAt", "POST", {kAuth, kJson},
       NotificationBody("aaaa000000000005", "BinaryTest",
                        [](auto& n) { n["alerts"][0]["startsAt"] = "yesterday"; }),
       400, "invalid_field"},
      {"text/plain", "POST", {kAuth, "Content-Type: text/plain"}, good, 415, "content_type"},
      {"no Content-Type", "POST", {kAuth, "Content-Type:"}, good, 415, "content_type"},
      {"body over max_body_bytes", "POST", {kAuth, kJson},
       NotificationBody("aaaa000000000006", "BinaryTest",
                        [](auto& n) {
                          n["alerts"][0]["annotations"]["description"] =
                              std::string(2 * kMaxBodyBytes, 'x');
                        }),
       413, "too_large"},
      {"wrong token", "POST", {"Authorization: Bearer not-the-token", kJson}, good, 401,
       "unauthorized"},
      {"token as basic auth", "POST", {std::string("Authorization: Basic ") + kToken, kJson},
       good, 401, "unauthorized"},
      {"no credentials", "POST", {kJson}, good, 401, "unauthorized"},
      {"GET", "GET", {kAuth}, "", 405, "method"},
  };
  std::map<std::string, int> want_rejected;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto a = HttpCall(c.method, url_ + "/api/v1/notifications", c.headers,
                  c.method == "POST" ? &c.body : nullptr);
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ(a->status, c.status) << a->body;
    if (c.status == 401) {
      EXPECT_EQ(a->Header("www-authenticate"), "Bearer realm=\"foresight_webhook\"");
    }
    if (c.status == 405) {
      EXPECT_EQ(a->Header("allow"), "POST");
    }
    if (c.status == 400 || c.status == 415) {
      nlohmann::json j = nlohmann::json::parse(a->body, nullptr, false);
      EXPECT_EQ(j.value("status", ""), "error") << a->body;
      EXPECT_EQ(j.value("errorType", ""), "bad_data") << a->body;
    }
    ++want_rejected[c.reason];
    // Nothing persisted, nothing queued, nothing run; the daemon answers on.
    EXPECT_TRUE(JobsJson().empty());
    EXPECT_FALSE(std::filesystem::exists(dir_ / "marker"));
    EXPECT_TRUE(daemon_->Running());
  }
  auto healthy = Get("/-/healthy", false);
  EXPECT_TRUE(healthy.ok() && healthy->status == 200) << Describe(healthy);

  const std::string metrics = Metrics();
  for (const auto& [reason, count] : want_rejected) {
    EXPECT_EQ(MetricValue(metrics, "foresight_webhook_notifications_rejected_total{reason=\"" +
                                       reason + "\"}"),
              count)
        << reason;
  }
  EXPECT_EQ(MetricValue(metrics, "foresight_webhook_notifications_received_total"),
            static_cast<double>(cases.size()));
  EXPECT_EQ(MetricValue(metrics, "foresight_webhook_alerts_total{outcome=\"job\"}"), 0);

  // The journal, read after the daemon stopped: no notification.
  Status stopped = daemon_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.message();
  daemon_.reset();
  auto journal = webhook::Journal::Open({.path = (dir_ / "journal.db").string()});
  ASSERT_TRUE(journal.ok()) << journal.status().message();
  auto notifications = (*journal)->CountNotifications();
  ASSERT_TRUE(notifications.ok()) << notifications.status().message();
  EXPECT_EQ(*notifications, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "marker"));
}

TEST_F(WebhookBinaryTest, ProbesAreOpenEverythingElseNeedsTheToken) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  for (const char* probe : {"/-/healthy", "/-/ready"}) {
    auto a = Get(probe, false);
    EXPECT_TRUE(a.ok() && a->status == 200) << probe << ": " << Describe(a);
  }
  for (const char* path : {"/metrics", "/api/v1/jobs", "/"}) {
    auto a = Get(path, false);
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ(a->status, 401) << path;
    EXPECT_EQ(a->Header("www-authenticate"), "Bearer realm=\"foresight_webhook\"") << path;
  }
  auto reload = Post("/-/reload", "", {});
  ASSERT_TRUE(reload.ok()) << reload.status().message();
  EXPECT_EQ(reload->status, 401);
  auto metrics = Get("/metrics");
  ASSERT_TRUE(metrics.ok() && metrics->status == 200) << Describe(metrics);
  EXPECT_NE(metrics->body.find("foresight_webhook_build_info{version="), std::string::npos);
  EXPECT_EQ(MetricValue(metrics->body, "foresight_webhook_config_last_reload_successful"), 1);
}

TEST_F(WebhookBinaryTest, ReplayedNotificationStartsNoSecondJob) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string body = NotificationBody("bbbb000000000001");

  // Paused, the job stays queued: a replay now finds it ("duplicate").
  auto paused = Post("/api/v1/pause", "", {kAuth});
  ASSERT_TRUE(paused.ok() && paused->status == 200) << Describe(paused);
  const nlohmann::json first = Accept(body);
  ASSERT_EQ(first.value("outcome", ""), "job") << first.dump();
  const int64_t job = first.value("job_id", int64_t{0});
  const nlohmann::json while_queued = Accept(body);
  EXPECT_EQ(while_queued.value("outcome", ""), "duplicate") << while_queued.dump();
  EXPECT_EQ(while_queued.value("job_id", int64_t{0}), job);

  auto resumed = Post("/api/v1/resume", "", {kAuth});
  ASSERT_TRUE(resumed.ok() && resumed->status == 200) << Describe(resumed);
  ASSERT_EQ(WaitForJob(job), "succeeded");
  EXPECT_EQ(ReadText(dir_ / "marker"), "bbbb000000000001\n");

  // Finished: a replay within the cooldown starts nothing either.
  const nlohmann::json after = Accept(body);
  EXPECT_EQ(after.value("outcome", ""), "cooldown") << after.dump();
  EXPECT_EQ(after.value("job_id", int64_t{0}), job);
  EXPECT_NE(after.value("notification_id", int64_t{0}), first.value("notification_id", int64_t{0}))
      << "every notification is journaled, replays included";

  const nlohmann::json jobs = JobsJson();
  ASSERT_EQ(jobs.size(), 1u) << jobs.dump();
  EXPECT_EQ(jobs[0].value("id", int64_t{0}), job);
  EXPECT_TRUE(JobsJson("?state=queued").empty());
  EXPECT_EQ(ReadText(dir_ / "marker"), "bbbb000000000001\n");
  const std::string metrics = Metrics();
  EXPECT_EQ(MetricValue(metrics, "foresight_webhook_alerts_total{outcome=\"job\"}"), 1);
  EXPECT_EQ(MetricValue(metrics, "foresight_webhook_alerts_total{outcome=\"duplicate\"}"), 1);
  EXPECT_EQ(MetricValue(metrics, "foresight_webhook_alerts_total{outcome=\"cooldown\"}"), 1);
}

TEST_F(WebhookBinaryTest, ReloadKeepsTheOldConfigOnErrorAndAppliesANewPlaybook) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string good = WebhookConfig(dir_, {});
  const std::string with_second = WebhookConfig(dir_, {.second_playbook = true});
  // An unknown key on the line after the good config's last.
  const std::string broken = good + "bogus: 1\n";
  const std::string broken_at =
      config_ + ":" + std::to_string(CountLines(good) + 1) + ":1: unknown key \"bogus\"";

  // POST /-/reload with a broken file: 500 naming file:line:column; the old config stays.
  WriteText(config_, broken);
  auto reload = Post("/-/reload", "", {kAuth});
  ASSERT_TRUE(reload.ok()) << reload.status().message();
  EXPECT_EQ(reload->status, 500);
  nlohmann::json error = nlohmann::json::parse(reload->body, nullptr, false);
  EXPECT_EQ(error.value("error", "").rfind(broken_at, 0), 0u)
      << "want it to start with " << broken_at << ", got " << reload->body;
  EXPECT_EQ(ReloadSuccessful(), 0);
  EXPECT_EQ(MetricValue(Metrics(), "foresight_webhook_config_reload_failures_total"), 1);

  const nlohmann::json old_works = Accept(NotificationBody("cccc000000000001"));
  ASSERT_EQ(old_works.value("outcome", ""), "job") << old_works.dump();
  EXPECT_EQ(WaitForJob(old_works.value("job_id", int64_t{0})), "succeeded");
  EXPECT_EQ(ReadText(dir_ / "marker"), "cccc000000000001\n");
  const std::string second_alert = NotificationBody("cccc000000000002", "SecondTest");
  EXPECT_EQ(Accept(second_alert).value("outcome", ""), "unmatched");

  // SIGHUP with a new playbook.
  WriteText(config_, with_second);
  ASSERT_TRUE(daemon_->Signal(SIGHUP).ok());
  EXPECT_TRUE(PollUntil([&] { return ReloadSuccessful() == 1; }, seconds(10)))
      << "no successful reload after SIGHUP";
  EXPECT_EQ(MetricValue(Metrics(), "foresight_webhook_config_reloads_total"), 2);
  const nlohmann::json second = Accept(second_alert);
  ASSERT_EQ(second.value("outcome", ""), "job") << second.dump();
  EXPECT_EQ(second.value("playbook", ""), "second");
  EXPECT_EQ(WaitForJob(second.value("job_id", int64_t{0})), "succeeded");
  EXPECT_EQ(ReadText(dir_ / "marker2"), "cccc000000000002\n");

  // SIGHUP with a broken file: counted as failed; then POST /-/reload with a good one.
  WriteText(config_, broken);
  ASSERT_TRUE(daemon_->Signal(SIGHUP).ok());
  EXPECT_TRUE(PollUntil([&] { return ReloadSuccessful() == 0; }, seconds(10)))
      << "a broken config reloaded by SIGHUP still counts as successful";
  EXPECT_EQ(Accept(NotificationBody("cccc000000000003", "SecondTest")).value("playbook", ""),
            "second")
      << "the failed reload dropped the running config";
  WriteText(config_, with_second);
  reload = Post("/-/reload", "", {kAuth});
  ASSERT_TRUE(reload.ok() && reload->status == 200) << Describe(reload);
  EXPECT_EQ(ReloadSuccessful(), 1);
  EXPECT_TRUE(daemon_->Running());
}

TEST_F(WebhookBinaryTest, WithoutAuthItStartsOnlyWithWebInsecure) {
  WriteText(config_, WebhookConfig(dir_, {.auth = false}));
  auto port = testing::PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status().message();
  const std::string refused_log = (dir_ / "refused.log").string();
  auto pid = testing::Spawn(Argv(*port), refused_log);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  std::optional<int> status =
      testing::WaitForExit(*pid, std::chrono::steady_clock::now() + seconds(20));
  if (!status) testing::KillAndReap(*pid);
  ASSERT_TRUE(status.has_value()) << "still running without auth and without --web.insecure";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0)
      << testing::DescribeWaitStatus(*status);
  EXPECT_NE(ReadText(refused_log).find("--web.insecure"), std::string::npos)
      << ReadText(refused_log);

  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--web.insecure"}));
  const std::string log = ReadText(dir_ / "webhook.log");
  EXPECT_NE(log.find("level=warn msg=\"no authentication configured"), std::string::npos) << log;
  // Open to anyone, as the warning says.
  const std::string body = NotificationBody("dddd000000000001");
  auto a = Post("/api/v1/notifications", body, {kJson});
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->status, 200) << a->body;
  auto metrics = Get("/metrics", false);
  EXPECT_TRUE(metrics.ok() && metrics->status == 200) << Describe(metrics);
}

TEST_F(WebhookBinaryTest, ServesHttpsWithTheConfiguredCertificate) {
  const std::string cert = (dir_ / "cert.pem").string(), key = (dir_ / "key.pem").string();
  const std::string openssl =
      "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -days 1 -keyout " + key + " -out " + cert + " >" +
      (dir_ / "openssl.log").string() + " 2>&1";
  ASSERT_EQ(std::system(openssl.c_str()), 0) << ReadText(dir_ / "openssl.log");
  std::string yaml = WebhookConfig(dir_, {});
  yaml.replace(yaml.find("web:\n"), 5, "web:\n  tls: {cert_file: cert.pem, key_file: key.pem}\n");
  WriteText(config_, yaml);

  auto port = testing::PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status().message();
  const std::string base = "https://127.0.0.1:" + std::to_string(*port);
  auto pid = testing::Spawn(Argv(*port), (dir_ / "webhook.log").string());
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  const bool ready = PollUntil(
      [&] {
        auto a = HttpCall("GET", base + "/-/ready", {}, nullptr, cert);
        return a.ok() && a->status == 200;
      },
      seconds(30));
  auto stop = [&] {
    ::kill(*pid, SIGTERM);
    auto status = testing::WaitForExit(*pid, std::chrono::steady_clock::now() + seconds(30));
    if (!status) testing::KillAndReap(*pid);
    return status;
  };
  if (!ready) {
    stop();
    FAIL() << "no HTTPS /-/ready within 30 s\n" << ReadText(dir_ / "webhook.log");
  }
  EXPECT_NE(ReadText(dir_ / "webhook.log").find("url=https://127.0.0.1:"), std::string::npos);

  // A notification over TLS is authenticated, accepted and acted on as over HTTP.
  const std::string body = NotificationBody("eeee000000000001");
  auto wrong = HttpCall("POST", base + "/api/v1/notifications", {kJson}, &body, cert);
  EXPECT_TRUE(wrong.ok() && wrong->status == 401) << Describe(wrong);
  auto a = HttpCall("POST", base + "/api/v1/notifications", {kAuth, kJson}, &body, cert);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->status, 200) << a->body;
  EXPECT_TRUE(PollUntil([&] { return ReadText(dir_ / "marker") == "eeee000000000001\n"; },
                        seconds(30)))
      << ReadText(dir_ / "webhook.log");
  // Without verification material the handshake fails: the certificate really is served.
  auto unverified = HttpCall("GET", base + "/-/healthy", {}, nullptr, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_FALSE(unverified.ok()) << Describe(unverified);
  // Plain HTTP on the TLS port gets no answer.
  auto plain = HttpCall("GET", "http://127.0.0.1:" + std::to_string(*port) + "/-/healthy", {});
  EXPECT_FALSE(plain.ok() && plain->status == 200) << Describe(plain);

  auto status = stop();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << testing::DescribeWaitStatus(*status);
}

}  // namespace
}  // namespace foresight
