#include "foresight/webhook/web.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "foresight/common/clock.h"
#include "foresight/webhook/action.h"
#include "foresight/webhook/config.h"
#include "foresight/webhook/engine.h"
#include "foresight/webhook/journal.h"
#include "foresight/webhook/metrics.h"

namespace foresight::webhook {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "s3cr3t-token";

constexpr char kConfig[] = R"(
journal: {path: unused.db}
playbooks:
  - name: note
    match: {alertname: Breach}
    steps:
      - {kind: log, message: "breach on {{ .Labels.service }}"}
)";

std::string Payload(const std::string& status = "firing", const std::string& fingerprint = "fp1",
                    const std::string& starts_at = "2026-11-23T06:00:00Z") {
  json alert = {{"status", status},
                {"labels", {{"alertname", "Breach"}, {"service", "api"}}},
                {"annotations", {{"summary", "api will breach"}}},
                {"startsAt", starts_at},
                {"endsAt", "0001-01-01T00:00:00Z"},
                {"generatorURL", "http://prometheus:9090/graph"},
                {"fingerprint", fingerprint}};
  json n = {{"version", "4"},
            {"groupKey", "{}:{alertname=\"Breach\"}"},
            {"truncatedAlerts", 0},
            {"status", status},
            {"receiver", "foresight-webhook"},
            {"groupLabels", {{"alertname", "Breach"}}},
            {"commonLabels", {{"alertname", "Breach"}, {"service", "api"}}},
            {"commonAnnotations", json::object()},
            {"externalURL", "http://alertmanager:9093"},
            {"alerts", json::array({alert})}};
  return n.dump();
}

http::Request Post(const std::string& path, std::string body,
                   const std::string& auth = std::string("Bearer ") + kToken,
                   const std::string& content_type = "application/json") {
  http::Request r;
  r.method = "POST";
  r.path = path;
  r.body = std::move(body);
  if (!auth.empty()) r.headers["authorization"] = auth;
  if (!content_type.empty()) r.headers["content-type"] = content_type;
  return r;
}

http::Request Get(const std::string& path, const std::string& query = "",
                  const std::string& auth = std::string("Bearer ") + kToken) {
  http::Request r;
  r.method = "GET";
  r.path = path;
  r.query_string = query;
  if (!auth.empty()) r.headers["authorization"] = auth;
  return r;
}

// Every value of a header, joined with "; " (WWW-Authenticate comes once per scheme).
std::string HeaderOf(const http::Response& r, const std::string& name) {
  std::string out;
  for (const auto& [k, v] : r.headers) {
    if (k == name) out += (out.empty() ? "" : "; ") + v;
  }
  return out;
}

class WebTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/web_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    JournalOptions o;
    o.path = dir_ + "/journal.db";
    o.inject_commit_error = [this]() -> Status {
      if (fail_commits_.load()) return Internal("disk I/O error (injected)");
      return Status::Ok();
    };
    auto j = Journal::Open(o);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal_ = std::move(*j);
    auto c = ParseConfig(kConfig, "test.yml", "", ActionRegistry::Default());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EngineOptions eo;
    eo.clock = &clock_;
    auto e = Engine::Start(std::make_shared<const Config>(std::move(*c)), journal_.get(),
                           &metrics_, eo);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    Credentials creds;
    creds.bearer_token = kToken;
    creds.basic_username = "am";
    creds.basic_password = "pa:ss";
    WebApi::Options options;
    options.clock = &clock_;
    options.reload = [this]() -> Status {
      ++reloads_;
      return reload_result_;
    };
    api_ = std::make_unique<WebApi>(engine_.get(), &metrics_, creds, options);
    api_->SetReady(true);
  }
  void TearDown() override {
    api_.reset();
    engine_.reset();
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }

  json Body(const http::Response& r) {
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }

  int64_t Notifications() { return *journal_->CountNotifications(); }

  JobRecord WaitDone(int64_t id) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto job = journal_->GetJob(id);
      if (job.ok() && job->has_value() && IsTerminal((*job)->state)) return **job;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "job " << id << " did not finish";
        return JobRecord{};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::string dir_;
  FakeClock clock_;
  Metrics metrics_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<WebApi> api_;
  std::atomic<bool> fail_commits_{false};
  int reloads_ = 0;
  Status reload_result_;
};

TEST_F(WebTest, AcceptsANotificationAndAnswersWithTheDecisions) {
  http::Response r = api_->Handle(Post("/api/v1/notifications", Payload()));
  ASSERT_EQ(r.status, 200) << r.body;
  json body = Body(r);
  EXPECT_EQ(body["status"], "success");
  EXPECT_EQ(body["data"]["alerts"][0]["outcome"], "job");
  EXPECT_EQ(body["data"]["alerts"][0]["playbook"], "note");
  const int64_t job = body["data"]["alerts"][0]["job_id"].get<int64_t>();
  EXPECT_EQ(WaitDone(job).state, JobState::kSucceeded);
  EXPECT_EQ(Notifications(), 1);

  http::Response one = api_->Handle(Get("/api/v1/jobs/" + std::to_string(job)));
  ASSERT_EQ(one.status, 200);
  json j = Body(one)["data"];
  EXPECT_EQ(j["state"], "succeeded");
  EXPECT_EQ(j["playbook"], "note");
  EXPECT_EQ(j["alert"]["labels"]["service"], "api");
  ASSERT_EQ(j["steps"].size(), 1u);
  EXPECT_EQ(j["steps"][0]["output"], "breach on api");
  EXPECT_TRUE(j["steps"][0]["duration_seconds"].is_number());
}

TEST_F(WebTest, AReplayedNotificationIsAcceptedButStartsNothing) {
  // The first job runs and finishes; a replay inside the default cooldown is held.
  json first = Body(api_->Handle(Post("/api/v1/notifications", Payload())));
  WaitDone(first["data"]["alerts"][0]["job_id"].get<int64_t>());
  http::Response again = api_->Handle(Post("/api/v1/notifications", Payload()));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(Body(again)["data"]["alerts"][0]["outcome"], "cooldown");
  EXPECT_EQ(Notifications(), 2);  // recorded, not acted on
  auto jobs = journal_->ListJobs(JobFilter{});
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->size(), 1u);
}

TEST_F(WebTest, BadCredentialsAre401WithAChallengeAndPersistNothing) {
  for (const std::string& auth :
       {std::string(""), std::string("Bearer wrong"), std::string("Bearer s3cr3t-token-and-more"),
        std::string("Basic YW06d3Jvbmc="),  // am:wrong
        std::string("Basic !!!"), std::string("Token s3cr3t-token")}) {
    http::Response r = api_->Handle(Post("/api/v1/notifications", Payload(), auth));
    EXPECT_EQ(r.status, 401) << auth;
    EXPECT_EQ(Body(r)["errorType"], "unauthorized");
  }
  http::Response r = api_->Handle(Post("/api/v1/notifications", Payload(), ""));
  EXPECT_THAT(HeaderOf(r, "WWW-Authenticate"), HasSubstr("Basic realm="));
  EXPECT_THAT(HeaderOf(r, "WWW-Authenticate"), HasSubstr("Bearer realm="));
  EXPECT_EQ(Notifications(), 0);
  EXPECT_THAT(metrics_.Serialize(),
              HasSubstr("foresight_webhook_notifications_rejected_total{reason=\"unauthorized\"} 7"));
  // Basic auth with a colon in the password, and bearer in any case of the scheme.
  EXPECT_EQ(api_->Handle(Post("/api/v1/notifications", Payload("firing", "b1"),
                              "Basic YW06cGE6c3M="))  // am:pa:ss
                .status,
            200);
  EXPECT_EQ(api_->Handle(Post("/api/v1/notifications", Payload("firing", "b2"),
                              std::string("bearer ") + kToken))
                .status,
            200);
}

TEST_F(WebTest, EveryOtherEndpointNeedsCredentialsButTheProbes) {
  for (const char* path : {"/metrics", "/", "/api/v1/jobs", "/api/v1/jobs/1"}) {
    EXPECT_EQ(api_->Handle(Get(path, "", "")).status, 401) << path;
  }
  for (const char* path : {"/api/v1/pause", "/api/v1/resume", "/api/v1/trigger", "/-/reload",
                           "/api/v1/jobs/1/abort"}) {
    EXPECT_EQ(api_->Handle(Post(path, "{}", "")).status, 401) << path;
  }
  EXPECT_FALSE(engine_->paused());
  EXPECT_EQ(reloads_, 0);
  EXPECT_EQ(api_->Handle(Get("/-/healthy", "", "")).status, 200);
  EXPECT_EQ(api_->Handle(Get("/-/ready", "", "")).status, 200);
  api_->SetReady(false);
  EXPECT_EQ(api_->Handle(Get("/-/ready", "", "")).status, 503);
}

TEST_F(WebTest, MalformedPayloadsAre400AndNamedAndPersistNothing) {
  struct Case {
    std::string body;
    std::string error;
    std::string reason;
  };
  json wrong_version = json::parse(Payload());
  wrong_version["version"] = "3";
  json no_fingerprint = json::parse(Payload());
  no_fingerprint["alerts"][0].erase("fingerprint");
  json no_alerts = json::parse(Payload());
  no_alerts.erase("alerts");
  for (const Case& c : std::vector<Case>{
           {"{\"version\": ", "malformed JSON", "malformed_json"},
           {"", "malformed JSON", "malformed_json"},
           {wrong_version.dump(), "version", "wrong_version"},
           {no_fingerprint.dump(), "alerts[0].fingerprint", "missing_field"},
           {no_alerts.dump(), "alerts", "missing_field"}}) {
    http::Response r = api_->Handle(Post("/api/v1/notifications", c.body));
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_THAT(Body(r)["error"].get<std::string>(), HasSubstr(c.error)) << c.body;
    EXPECT_THAT(metrics_.Serialize(),
                Not(HasSubstr("rejected_total{reason=\"" + c.reason + "\"} 0")));
  }
  EXPECT_EQ(Notifications(), 0);
  auto jobs = journal_->ListJobs(JobFilter{});
  EXPECT_TRUE(jobs->empty());
}

TEST_F(WebTest, WrongMethodAndContentType) {
  http::Request get = Get("/api/v1/notifications");
  http::Response r = api_->Handle(get);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "POST");
  http::Response text = api_->Handle(Post("/api/v1/notifications", Payload(),
                                          std::string("Bearer ") + kToken, "text/plain"));
  EXPECT_EQ(text.status, 415);
  EXPECT_THAT(Body(text)["error"].get<std::string>(), HasSubstr("text/plain"));
  EXPECT_EQ(api_->Handle(Post("/api/v1/notifications", Payload(), std::string("Bearer ") + kToken,
                              "Application/JSON; charset=utf-8"))
                .status,
            200);
  EXPECT_EQ(api_->Handle(Get("/nope")).status, 404);
}

TEST_F(WebTest, AJournalFailureIs500SoAlertmanagerRetriesAndTheRetryIsAccepted) {
  fail_commits_ = true;
  http::Response r = api_->Handle(Post("/api/v1/notifications", Payload()));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(Body(r)["error"].get<std::string>(), HasSubstr("not persisted"));
  EXPECT_THAT(metrics_.Serialize(),
              HasSubstr("foresight_webhook_notifications_rejected_total{reason=\"journal_error\"} 1"));
  fail_commits_ = false;
  EXPECT_EQ(Notifications(), 0);
  http::Response retry = api_->Handle(Post("/api/v1/notifications", Payload()));
  ASSERT_EQ(retry.status, 200);
  EXPECT_EQ(Body(retry)["data"]["alerts"][0]["outcome"], "job");
  EXPECT_EQ(Notifications(), 1);
}

TEST_F(WebTest, JobsListFiltersAndValidates) {
  json a = Body(api_->Handle(Post("/api/v1/notifications", Payload("firing", "fa"))));
  WaitDone(a["data"]["alerts"][0]["job_id"].get<int64_t>());
  json list = Body(api_->Handle(Get("/api/v1/jobs", "state=succeeded&playbook=note")));
  EXPECT_EQ(list["data"]["jobs"].size(), 1u);
  EXPECT_FALSE(list["data"]["jobs"][0].contains("steps"));
  EXPECT_EQ(Body(api_->Handle(Get("/api/v1/jobs", "state=failed")))["data"]["jobs"].size(), 0u);
  EXPECT_EQ(Body(api_->Handle(Get("/api/v1/jobs", "target=fa")))["data"]["jobs"].size(), 1u);
  http::Response bad = api_->Handle(Get("/api/v1/jobs", "state=done"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(Body(bad)["error"].get<std::string>(), HasSubstr("\"done\""));
  EXPECT_EQ(api_->Handle(Get("/api/v1/jobs", "limit=0")).status, 400);
  EXPECT_EQ(api_->Handle(Get("/api/v1/jobs", "before=x")).status, 400);
  EXPECT_EQ(api_->Handle(Get("/api/v1/jobs/999")).status, 404);
  EXPECT_EQ(api_->Handle(Get("/api/v1/jobs/abc")).status, 404);
}

TEST_F(WebTest, PauseResumeAbortAndTrigger) {
  EXPECT_EQ(api_->Handle(Post("/api/v1/pause", "")).status, 200);
  EXPECT_TRUE(engine_->paused());
  json r = Body(api_->Handle(Post("/api/v1/trigger",
                                  R"({"playbook":"note","labels":{"service":"db"}})")));
  const int64_t id = r["data"]["id"].get<int64_t>();
  EXPECT_EQ(r["data"]["phase"], "manual");
  EXPECT_EQ(r["data"]["state"], "queued");
  EXPECT_EQ(api_->Handle(Get("/api/v1/jobs/" + std::to_string(id) + "/abort")).status, 405);
  EXPECT_EQ(api_->Handle(Post("/api/v1/jobs/" + std::to_string(id) + "/abort", "")).status, 202);
  http::Response twice = api_->Handle(Post("/api/v1/jobs/" + std::to_string(id) + "/abort", ""));
  EXPECT_EQ(twice.status, 409);
  EXPECT_THAT(Body(twice)["error"].get<std::string>(), HasSubstr("already aborted"));
  EXPECT_EQ(api_->Handle(Post("/api/v1/jobs/424242/abort", "")).status, 404);
  EXPECT_EQ(api_->Handle(Post("/api/v1/resume", "")).status, 200);
  EXPECT_FALSE(engine_->paused());

  EXPECT_EQ(api_->Handle(Post("/api/v1/trigger", R"({"playbook":"nope"})")).status, 404);
  EXPECT_EQ(api_->Handle(Post("/api/v1/trigger", R"({"labels":{}})")).status, 400);
  EXPECT_EQ(api_->Handle(Post("/api/v1/trigger", R"({"playbook":"note","labels":{"a":1}})")).status,
            400);
  EXPECT_EQ(api_->Handle(Post("/api/v1/trigger", "[")).status, 400);
  http::Response bad_name =
      api_->Handle(Post("/api/v1/trigger", R"({"playbook":"note","labels":{"bad-name":"x"}})"));
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_THAT(Body(bad_name)["error"].get<std::string>(), HasSubstr("label name"));
  http::Response nul = api_->Handle(
      Post("/api/v1/trigger", R"({"playbook":"note","labels":{"service":"a\u0000b"}})"));
  EXPECT_EQ(nul.status, 400);
  EXPECT_THAT(Body(nul)["error"].get<std::string>(), HasSubstr("NUL"));
  json ok = Body(api_->Handle(Post("/api/v1/trigger",
                                   R"({"playbook":"note","labels":{"service":"db"}})")));
  JobRecord done = WaitDone(ok["data"]["id"].get<int64_t>());
  EXPECT_EQ(done.steps[0].output, "breach on db");
}

TEST_F(WebTest, ReloadMetricsAndLandingPage) {
  EXPECT_EQ(api_->Handle(Post("/-/reload", "")).status, 200);
  reload_result_ = InvalidArgument("webhook.yml:3:1: unknown key \"x\"");
  http::Response bad = api_->Handle(Post("/-/reload", ""));
  EXPECT_EQ(bad.status, 500);
  EXPECT_THAT(Body(bad)["error"].get<std::string>(), HasSubstr("unknown key"));
  EXPECT_EQ(reloads_, 2);

  json a = Body(api_->Handle(Post("/api/v1/notifications", Payload("firing", "<b>x</b>"))));
  WaitDone(a["data"]["alerts"][0]["job_id"].get<int64_t>());
  http::Response page = api_->Handle(Get("/"));
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("Recent jobs"));
  EXPECT_THAT(page.body, HasSubstr("&lt;b&gt;x&lt;/b&gt;"));  // the target, escaped
  EXPECT_THAT(page.body, Not(HasSubstr("<b>x</b>")));

  http::Response metrics = api_->Handle(Get("/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("foresight_webhook_build_info{version="));
  EXPECT_THAT(metrics.body, HasSubstr("foresight_webhook_jobs_started_total{playbook=\"note\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("foresight_webhook_journal_commit_duration_seconds_count"));
  EXPECT_THAT(metrics.body, HasSubstr("foresight_webhook_step_duration_seconds_count{kind=\"log\""));
}

TEST_F(WebTest, TheServerRefusesHugeBodiesAndTheyAreCounted) {
  api_->Refused(413);
  EXPECT_THAT(metrics_.Serialize(),
              HasSubstr("foresight_webhook_notifications_rejected_total{reason=\"too_large\"} 1"));
}

TEST(Credentials, NoAuthIsRefusedUnlessInsecure) {
  WebConfig web;
  auto refused = LoadCredentials(web, false);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("--web.insecure"));
  auto open = LoadCredentials(web, true);
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->insecure);
  web.bearer_token_file = "/nonexistent/token";
  auto missing = LoadCredentials(web, false);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/token"));
}

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", ""));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), "a"));
}

}  // namespace
}  // namespace foresight::webhook
