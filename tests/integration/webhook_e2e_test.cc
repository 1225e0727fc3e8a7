// From forecast to remediation, end to end, with the real peers and our real daemons: Prometheus
// (config/prometheus.yml, rules/), the foresight_exporter binary, Alertmanager
// (config/alertmanager.yml, bearer auth included) and the foresight_webhook binary configured
// from config/webhook.yml (tests/fixture/alerting_stack.h starts all but the webhook).
//
// The history trends towards capacity, so ForesightPredictedThresholdBreach fires, reaches the
// webhook through Alertmanager, and the shipped playbook, matched by its own match/match_re,
// runs its steps plus an exec step that records its argv and AMX_* environment in a file. The
// job must show in the API and in the metrics, also as Prometheus scrapes them; Alertmanager's
// repeats must not start a second job; resolving the breach must run the resolve steps.
//
// Changes to config/webhook.yml are the ones a test must make (the journal's and token's paths)
// plus the recording exec step appended to steps and resolve_steps. Alertmanager's
// repeat_interval is shortened to two seconds so that repeats happen while the test waits.

#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "alerting_stack.h"
#include "daemon_process.h"
#include "prometheus_fixture.h"

namespace foresight {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::AlertingStack;
using testing::DaemonProcess;
using ::testing::HasSubstr;

constexpr char kBreach[] = "ForesightPredictedThresholdBreach";
constexpr char kPlaybook[] = "predicted-breach";  // config/webhook.yml's playbook for kBreach
// Time from a firing (or resolving) condition to the webhook's file, generously bounded: one
// refresh of the exporter, a scrape, two rule evaluations, Alertmanager's group wait, the job.
constexpr seconds kDeliveryDeadline{120};
// The recording step: its argv after "sh" and where it writes them, with the step's AMX_* and
// FORESIGHT_* environment, atomically (a rename) so the test never reads half a file.
constexpr char kRecordScript[] =
    "f=\"$RECORD_DIR/exec-$FORESIGHT_PHASE-$FORESIGHT_JOB_ID\"; "
    "{ printf '%s\\n' \"$@\"; env | grep -E '^(AMX_|FORESIGHT_)' | sort; } > \"$f.tmp\" && "
    "mv \"$f.tmp\" \"$f.txt\" && echo \"recorded $f.txt\"";
const std::vector<std::string> kRecordArgs = {
    "{{ .Labels.foresight_job }}", "{{ .Labels.service }}", "{{ .Labels.threshold }}",
    "{{ .Labels.horizon }}",       "{{ .Status }}",         "{{ .Fingerprint }}"};

std::string Src(const std::string& rel) { return std::string(FORESIGHT_SOURCE_DIR) + "/" + rel; }

template <typename F>
bool PollUntil(F cond, seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return cond();
}

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// --- The webhook's API, which wants the bearer token (the fixture's client sends none). ---

struct Answer {
  long status = 0;
  std::string body;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// GET with "Authorization: Bearer <token>" ("" sends none); a transport error is status 0.
Answer Get(const std::string& url, const std::string& token) {
  Answer a;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return a;
  curl_slist* headers = nullptr;
  if (!token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  } else {
    a.body.clear();
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return a;
}

// A sample of the text exposition: the line "<series> <value>"; nullopt when absent.
std::optional<double> Sample(const std::string& exposition, const std::string& series) {
  for (const std::string& line : Lines(exposition)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return std::nullopt;
}

// --- foresight_webhook's config, from config/webhook.yml ---

YAML::Node RecordStep(const std::string& name, const std::string& dir) {
  YAML::Node step;
  step["name"] = name;
  step["kind"] = "exec";
  step["argv"].push_back("/bin/sh");
  step["argv"].push_back("-c");
  step["argv"].push_back(kRecordScript);
  step["argv"].push_back("sh");
  for (const std::string& a : kRecordArgs) step["argv"].push_back(a);
  step["env"]["RECORD_DIR"] = dir;
  step["timeout"] = "30s";
  return step;
}

std::string WebhookConfig(const std::filesystem::path& dir, const std::string& token_file) {
  YAML::Node doc = YAML::LoadFile(Src("config/webhook.yml"));
  doc["web"]["bearer_token_file"] = token_file;
  doc["journal"]["path"] = (dir / "data" / "webhook-journal.db").string();
  YAML::Node playbooks = doc["playbooks"];
  std::optional<size_t> found;
  for (size_t i = 0; i < playbooks.size(); ++i) {
    if (playbooks[i]["name"].as<std::string>() == kPlaybook) found = i;
  }
  EXPECT_TRUE(found.has_value()) << "config/webhook.yml has no playbook " << kPlaybook;
  if (found) {
    // Its match, match_re, target and cooldown stay as shipped; the steps get one more.
    YAML::Node playbook = playbooks[*found];
    playbook["steps"].push_back(RecordStep("record", dir.string()));
    playbook["resolve_steps"].push_back(RecordStep("record-resolved", dir.string()));
  }
  YAML::Emitter out;
  out << doc;
  return std::string(out.c_str()) + "\n";
}

// The argv the recording step runs for an alert with these labels.
std::vector<std::string> RecordArgv(const json& labels, const std::string& status,
                                    const std::string& fingerprint) {
  return {"/bin/sh",
          "-c",
          kRecordScript,
          "sh",
          labels.value("foresight_job", ""),
          labels.value("service", ""),
          labels.value("threshold", ""),
          labels.value("horizon", ""),
          status,
          fingerprint};
}

// ---------------------------------------------------------------------------------------------

class WebhookEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("foresight_webhook_e2e_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "secrets");
    // The example token that config/alertmanager.yml, config/prometheus.yml and
    // config/webhook.yml share, copied so that all three (and this test) read the same file.
    token_file_ = (dir_ / "secrets" / "webhook-token").string();
    std::filesystem::copy_file(Src("config/secrets/webhook-token"), token_file_);
    token_ = ReadText(token_file_);
    if (!token_.empty() && token_.back() == '\n') token_.pop_back();
    ASSERT_FALSE(token_.empty());

    // 1. foresight_webhook, as a user runs it.
    auto port = testing::PickFreePort();
    ASSERT_TRUE(port.ok());
    webhook_url_ = "http://127.0.0.1:" + std::to_string(*port);
    const std::string config = (dir_ / "webhook.yml").string();
    {
      std::ofstream f(config);
      f << WebhookConfig(dir_, token_file_);
      ASSERT_TRUE(f.good());
    }
    auto webhook = DaemonProcess::Start(
        {.argv = {FORESIGHT_WEBHOOK_BINARY, "--config.file=" + config,
                  "--web.listen-address=127.0.0.1:" + std::to_string(*port),
                  "--log.level=debug"},
         .log_path = (dir_ / "webhook.log").string(),
         .ready_url = webhook_url_ + "/-/ready"});
    ASSERT_TRUE(webhook.ok()) << webhook.status().message();
    webhook_ = std::move(*webhook);

    // 2. Alertmanager, Prometheus and the exporter, pointed at it.
    auto stack = AlertingStack::Start({.source_dir = FORESIGHT_SOURCE_DIR,
                                       .dir = dir_.string(),
                                       .exporter_binary = FORESIGHT_EXPORTER_BINARY,
                                       .webhook_port = *port,
                                       .token_file = token_file_,
                                       .alertmanager_repeat_interval = "2s"});
    ASSERT_TRUE(stack.ok()) << stack.status().message();
    stack_ = std::move(*stack);
  }

  void TearDown() override {
    if (stack_) {
      Status st = stack_->Stop();
      EXPECT_TRUE(st.ok()) << st.message();
    }
    if (webhook_) {
      Status st = webhook_->Stop();
      EXPECT_TRUE(st.ok()) << "foresight_webhook did not stop cleanly: " << st.message();
    }
    if (HasFailure()) {
      if (stack_) std::cerr << stack_->LogTails(6000);
      std::cerr << "--- webhook.log (tail)\n"
                << testing::ReadFileTail((dir_ / "webhook.log").string(), 8000) << "\n";
    }
    stack_.reset();
    webhook_.reset();
    if (std::getenv("FORESIGHT_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(dir_);
  }

  std::vector<json> Query(const std::string& promql) {
    auto r = stack_->Query(promql);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : std::vector<json>{};
  }

  // GET on the webhook's API with the token: the "data" of a success answer, else null.
  json Api(const std::string& path_and_query) {
    Answer a = Get(webhook_url_ + path_and_query, token_);
    json body = json::parse(a.body, nullptr, false);
    EXPECT_EQ(a.status, 200) << path_and_query << ": " << a.body;
    if (a.status != 200 || body.is_discarded() || body.value("status", "") != "success") {
      return nullptr;
    }
    return body["data"];
  }

  std::vector<json> Jobs(const std::string& phase) {
    json data = Api(std::string("/api/v1/jobs?playbook=") + kPlaybook + "&phase=" + phase);
    std::vector<json> out;
    if (data.is_object()) {
      for (const json& j : data["jobs"]) out.push_back(j);
    }
    return out;
  }

  std::string Metrics() {
    Answer a = Get(webhook_url_ + "/metrics", token_);
    EXPECT_EQ(a.status, 200) << a.body;
    return a.body;
  }

  double Metric(const std::string& series) {
    std::optional<double> v = Sample(Metrics(), series);
    EXPECT_TRUE(v.has_value()) << "foresight_webhook's /metrics has no " << series;
    return v.value_or(-1);
  }

  // The recording step's file of `phase` ("firing", "resolved"), once one exists.
  std::optional<std::filesystem::path> RecordFile(const std::string& phase) {
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("exec-" + phase + "-") && name.ends_with(".txt")) return entry.path();
    }
    return std::nullopt;
  }

  // The job the file `path` ("exec-<phase>-<id>.txt") was written by.
  static int64_t JobIdOf(const std::filesystem::path& path, const std::string& phase) {
    const std::string stem = path.stem().string();
    return std::strtoll(stem.c_str() + ("exec-" + phase + "-").size(), nullptr, 10);
  }

  std::filesystem::path dir_;
  std::string token_file_, token_, webhook_url_;
  std::unique_ptr<DaemonProcess> webhook_;
  std::unique_ptr<AlertingStack> stack_;
};

// What the recording step wrote: argv (after "sh") line by line, then its environment.
void ExpectRecord(const std::string& text, const json& alert, const std::string& status,
                  int64_t job_id, const std::string& phase) {
  const std::vector<std::string> lines = Lines(text);
  ASSERT_GE(lines.size(), kRecordArgs.size()) << text;
  const json& labels = alert["labels"];
  const std::vector<std::string> argv = RecordArgv(labels, status, alert.value("fingerprint", ""));
  EXPECT_EQ(std::vector<std::string>(lines.begin(), lines.begin() + kRecordArgs.size()),
            std::vector<std::string>(argv.begin() + 4, argv.end()));
  const std::string horizon = labels.value("horizon", "");
  for (const std::string& want : std::vector<std::string>{
           "AMX_RECEIVER=foresight-webhook", "AMX_STATUS=" + status, "AMX_ALERT_LEN=1",
        "AMX_ALERT_1_STATUS=" + status,
        "AMX_ALERT_1_FINGERPRINT=" + alert.value("fingerprint", ""),
        std::string("AMX_LABEL_alertname=") + kBreach, "AMX_LABEL_foresight_job=api_rps",
        "AMX_LABEL_service=api", "AMX_LABEL_threshold=capacity", "AMX_LABEL_direction=above",
        "AMX_LABEL_horizon=" + horizon, "AMX_ALERT_1_LABEL_service=api",
        "AMX_ANNOTATION_summary=api_rps: forecast to go above capacity within " + horizon,
        std::string("FORESIGHT_PLAYBOOK=") + kPlaybook,
        "FORESIGHT_JOB_ID=" + std::to_string(job_id), "FORESIGHT_PHASE=" + phase}) {
    EXPECT_THAT(lines, ::testing::Contains(want)) << text;
  }
  // A firing alert has no end yet (Alertmanager's zero time); a resolved one has.
  if (status == "firing") {
    EXPECT_THAT(lines, ::testing::Contains("AMX_ALERT_1_END=0")) << text;
  } else {
    EXPECT_THAT(lines, ::testing::Not(::testing::Contains("AMX_ALERT_1_END=0"))) << text;
  }
}

TEST_F(WebhookEndToEndTest, PredictedBreachRunsThePlaybookOnceAndItsResolveSteps) {
  const auto started = std::chrono::steady_clock::now();

  // Firing: Alertmanager delivers the breach, the shipped playbook matches it, its exec step
  // runs.
  std::optional<std::filesystem::path> fired;
  ASSERT_TRUE(PollUntil([&] { return (fired = RecordFile("firing")).has_value(); },
                        kDeliveryDeadline))
      << "no firing job of " << kPlaybook << " wrote its file; ALERTS: "
      << json(Query("ALERTS")).dump() << "\njobs: " << json(Jobs("")).dump();
  std::cerr << "exec step ran " << Seconds(started) << " s after the exporter was ready\n";
  const int64_t job_id = JobIdOf(*fired, "firing");
  ASSERT_GT(job_id, 0) << *fired;

  // The job in the API: succeeded, with every step.
  auto finished = [&] {
    std::vector<json> jobs = Jobs("firing");
    return jobs.size() == 1 && jobs[0].value("state", "") != "queued" &&
           jobs[0].value("state", "") != "running";
  };
  ASSERT_TRUE(PollUntil(finished, seconds(30))) << json(Jobs("")).dump();
  std::vector<json> jobs = Jobs("firing");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].value("id", int64_t{0}), job_id);
  EXPECT_EQ(jobs[0].value("state", ""), "succeeded") << jobs[0].dump();
  EXPECT_EQ(jobs[0].value("target", ""), "api_rps/capacity");
  EXPECT_FALSE(jobs[0].value("dry_run", true));
  EXPECT_TRUE(jobs[0]["notification_id"].is_number()) << jobs[0].dump();

  json job = Api("/api/v1/jobs/" + std::to_string(job_id));
  ASSERT_TRUE(job.is_object());
  const json& alert = job["alert"];
  EXPECT_EQ(alert.value("status", ""), "firing");
  EXPECT_EQ(alert.value("receiver", ""), "foresight-webhook");
  EXPECT_EQ(job.value("fingerprint", ""), alert.value("fingerprint", ""));
  const std::string horizon = alert["labels"].value("horizon", "");
  // As alerting_e2e_test sees the breach: only the trending service's capacity, never the
  // nearest horizon; the aggregated series has the exporter target's job and instance.
  EXPECT_EQ(alert["labels"],
            (json{{"alertname", kBreach},
                  {"confidence", "0.95"},
                  {"direction", "above"},
                  {"foresight_job", "api_rps"},
                  {"horizon", horizon},
                  {"instance", "127.0.0.1:" + std::to_string(stack_->exporter_port())},
                  {"job", "foresight_exporter"},
                  {"service", "api"},
                  {"severity", "warning"},
                  {"threshold", "capacity"}}));
  // Which horizons fire depends on the model's band; the 6h one always does, and the playbook's
  // target (one per forecast job and threshold) gives the job to whichever came first.
  EXPECT_THAT(horizon, ::testing::AnyOf("1h", "6h"));
  EXPECT_FALSE(Query(std::string("ALERTS{alertname=\"") + kBreach +
                     "\",horizon=\"6h\",alertstate=\"firing\"}")
                   .empty());
  EXPECT_TRUE(Query(std::string("ALERTS{alertname=\"") + kBreach + "\",horizon=\"15m\"}").empty());
  EXPECT_EQ(alert["annotations"].value("summary", ""),
            "api_rps: forecast to go above capacity within " + horizon);

  // Steps: config/webhook.yml's (announce, a log line), then the recording one.
  const json& steps = job["steps"];
  ASSERT_EQ(steps.size(), 3u) << job.dump(2);
  for (const json& s : steps) {
    EXPECT_EQ(s.value("state", ""), "succeeded") << s.dump(2);
    EXPECT_EQ(s.value("error", "x"), "") << s.dump(2);
  }
  EXPECT_EQ(steps[0].value("name", ""), "announce");
  EXPECT_EQ(steps[0].value("kind", ""), "exec");
  EXPECT_EQ(steps[0]["exit_code"], 0);
  EXPECT_EQ(json::parse(steps[0].value("detail", "null"), nullptr, false),
            json({"/bin/echo", "predicted breach: api_rps above", "capacity within " + horizon}));
  EXPECT_EQ(steps[0].value("output", ""),
            "predicted breach: api_rps above capacity within " + horizon + "\n");
  EXPECT_EQ(steps[1].value("kind", ""), "log");
  EXPECT_THAT(steps[1].value("detail", ""),
              HasSubstr("api_rps forecast to cross capacity within " + horizon));
  EXPECT_EQ(steps[2].value("name", ""), "record");
  EXPECT_EQ(steps[2].value("kind", ""), "exec");
  EXPECT_EQ(steps[2]["exit_code"], 0);
  EXPECT_EQ(json::parse(steps[2].value("detail", "null"), nullptr, false),
            json(RecordArgv(alert["labels"], "firing", alert.value("fingerprint", ""))));
  EXPECT_EQ(steps[2].value("output", ""), "recorded " + fired->string() + "\n");
  ExpectRecord(ReadText(*fired), alert, "firing", job_id, "firing");

  // The metrics, with the token; without it, nothing.
  const std::string playbook_label = std::string("{playbook=\"") + kPlaybook + "\"}";
  EXPECT_GE(Metric("foresight_webhook_jobs_succeeded_total" + playbook_label), 1);
  EXPECT_EQ(Metric("foresight_webhook_jobs_failed_total" + playbook_label), 0);
  EXPECT_GE(Metric("foresight_webhook_notifications_received_total"), 1);
  EXPECT_EQ(Metric("foresight_webhook_notifications_rejected_total{reason=\"unauthorized\"}"), 0);
  EXPECT_EQ(Metric("foresight_webhook_alerts_total{outcome=\"job\"}"), 1);
  EXPECT_EQ(Get(webhook_url_ + "/metrics", "").status, 401);
  EXPECT_EQ(Get(webhook_url_ + "/metrics", token_ + "x").status, 401);

  // Prometheus scrapes it with config/prometheus.yml's credentials: up, and the job counted.
  const auto webhook_up = Query("up{job=\"foresight_webhook\"}");
  ASSERT_EQ(webhook_up.size(), 1u);
  EXPECT_EQ(webhook_up[0]["value"][1], "1") << "Prometheus's scrape of foresight_webhook failed";
  const std::string scraped = std::string("foresight_webhook_jobs_succeeded_total{job=") +
                              "\"foresight_webhook\",playbook=\"" + kPlaybook + "\"} >= 1";
  EXPECT_TRUE(PollUntil([&] { return !Query(scraped).empty(); }, seconds(30)))
      << scraped << " never held in Prometheus";
  // Every scrape succeeded, so ForesightWebhookDown is not firing. It does fire for a moment at
  // start-up, before Prometheus's first scrape of any target (its discovery hands targets over
  // up to 5 s late; `for:` is 2 s here): only after that first scrape must it never fire.
  auto up = testing::QueryRaw(stack_->prometheus().base_url(), "up{job=\"foresight_webhook\"}[1h]",
                              NowMs());
  ASSERT_TRUE(up.ok()) << up.status().message();
  ASSERT_EQ(up->size(), 1u);
  ASSERT_FALSE((*up)[0].values.empty());
  for (double v : (*up)[0].values) EXPECT_EQ(v, 1) << "a scrape of foresight_webhook failed";
  const int64_t first_scrape_ms = (*up)[0].timestamps_ms.front();
  auto down = testing::QueryRaw(
      stack_->prometheus().base_url(),
      "ALERTS{alertname=\"ForesightWebhookDown\",alertstate=\"firing\"}[1h]", NowMs());
  ASSERT_TRUE(down.ok()) << down.status().message();
  for (const testing::RawSeries& series : *down) {
    for (int64_t ts : series.timestamps_ms) {
      // The first rule evaluation after the scrape (1 s interval) resolves it.
      EXPECT_LE(ts, first_scrape_ms + 3000)
          << "ForesightWebhookDown fired " << (ts - first_scrape_ms)
          << " ms after the first scrape of foresight_webhook";
    }
  }
  EXPECT_TRUE(Query("ALERTS{alertname=\"ForesightWebhookDown\"}").empty());

  // Alertmanager repeats the still-firing group (repeat_interval 2s): the cooldown holds, no
  // second job.
  const double received = Metric("foresight_webhook_notifications_received_total");
  ASSERT_TRUE(PollUntil(
      [&] { return Metric("foresight_webhook_notifications_received_total") >= received + 2; },
      seconds(60)))
      << "Alertmanager sent no repeat notifications";
  EXPECT_EQ(Jobs("firing").size(), 1u) << json(Jobs("firing")).dump();
  EXPECT_EQ(Metric("foresight_webhook_alerts_total{outcome=\"job\"}"), 1);
  EXPECT_GE(Metric("foresight_webhook_alerts_total{outcome=\"cooldown\"}") +
                Metric("foresight_webhook_alerts_total{outcome=\"duplicate\"}"),
            2);

  // Resolving: a capacity nothing reaches, by a reload of the exporter; the resolve steps run
  // for the alert that had the job.
  ASSERT_TRUE(stack_->SetCapacity(1e9).ok());
  const auto reloaded = std::chrono::steady_clock::now();
  std::optional<std::filesystem::path> resolved;
  ASSERT_TRUE(PollUntil([&] { return (resolved = RecordFile("resolved")).has_value(); },
                        kDeliveryDeadline))
      << "no resolve job wrote its file; ALERTS: " << json(Query("ALERTS")).dump()
      << "\njobs: " << json(Jobs("")).dump();
  std::cerr << "resolve step ran " << Seconds(reloaded) << " s after the reload\n";
  const int64_t resolve_id = JobIdOf(*resolved, "resolved");
  ASSERT_TRUE(PollUntil(
      [&] {
        std::vector<json> r = Jobs("resolved");
        return r.size() == 1 && r[0].value("state", "") == "succeeded";
      },
      seconds(30)))
      << json(Jobs("resolved")).dump();
  json resolve = Api("/api/v1/jobs/" + std::to_string(resolve_id));
  ASSERT_TRUE(resolve.is_object());
  EXPECT_EQ(resolve.value("phase", ""), "resolved");
  EXPECT_EQ(resolve.value("state", ""), "succeeded");
  EXPECT_EQ(resolve.value("fingerprint", ""), job.value("fingerprint", ""));
  const json& resolved_alert = resolve["alert"];
  EXPECT_EQ(resolved_alert.value("status", ""), "resolved");
  EXPECT_EQ(resolved_alert["labels"], alert["labels"]);
  EXPECT_EQ(resolved_alert.value("startsAt", ""), alert.value("startsAt", ""));
  const json& resolve_steps = resolve["steps"];
  ASSERT_EQ(resolve_steps.size(), 2u) << resolve.dump(2);
  EXPECT_EQ(resolve_steps[0].value("kind", ""), "log");
  EXPECT_EQ(resolve_steps[0].value("state", ""), "succeeded");
  EXPECT_EQ(resolve_steps[1].value("name", ""), "record-resolved");
  EXPECT_EQ(resolve_steps[1].value("state", ""), "succeeded") << resolve_steps[1].dump(2);
  EXPECT_EQ(json::parse(resolve_steps[1].value("detail", "null"), nullptr, false),
            json(RecordArgv(alert["labels"], "resolved", alert.value("fingerprint", ""))));
  ExpectRecord(ReadText(*resolved), resolved_alert, "resolved", resolve_id, "resolved");

  EXPECT_GE(Metric("foresight_webhook_jobs_succeeded_total" + playbook_label), 2);
  EXPECT_EQ(Metric("foresight_webhook_jobs_failed_total" + playbook_label), 0);
  EXPECT_EQ(Metric("foresight_webhook_alerts_total{outcome=\"job\"}"), 2);
  EXPECT_EQ(Jobs("").size(), 2u) << json(Jobs("")).dump();
}

}  // namespace
}  // namespace foresight
