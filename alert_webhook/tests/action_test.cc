#include "foresight/webhook/action.h"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "foresight/http/server.h"
#include "foresight/webhook/config.h"

namespace foresight::webhook {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// ---- helpers ----

// Polls `done` until it holds or `limit` passes; true when it held.
bool PollUntil(const std::function<bool()>& done, std::chrono::seconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The registry the tests configure with: exec's kill grace is short, so escalation to SIGKILL
// does not cost the suite 5 s.
const ActionRegistry& Registry() {
  static const ActionRegistry registry = [] {
    ActionRegistry r = ActionRegistry::Default();
    r.Register(NewExecKind(200ms));
    return r;
  }();
  return registry;
}

// A step configured exactly as ParseConfig configures it; `step` is its YAML map (one line).
Result<std::shared_ptr<const Action>> Configure(const std::string& step,
                                                const std::string& base_dir = "") {
  const std::string doc =
      "journal: {path: j.db}\n"
      "playbooks:\n"
      "  - name: p\n"
      "    steps:\n"
      "      - " +
      step + "\n";
  Result<Config> c = ParseConfig(doc, "inline.yml", base_dir, Registry());
  if (!c.ok()) return c.status();
  return c->playbooks[0].steps[0].action;
}

std::shared_ptr<const Action> MustConfigure(const std::string& step,
                                            const std::string& base_dir = "") {
  Result<std::shared_ptr<const Action>> a = Configure(step, base_dir);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  return a.ok() ? *a : nullptr;
}

// The message of a step that must not configure; "OK" when it does.
std::string ConfigError(const std::string& step) {
  Result<std::shared_ptr<const Action>> a = Configure(step);
  return a.ok() ? "OK" : a.status().message();
}

struct Alert {
  LabelSet labels = {{"alertname", "Breach"}, {"service", "api"}};
  LabelSet annotations = {{"summary", "api will breach"}, {"runbook-url", "http://rb"}};
  TemplateData Data() const {
    return TemplateData{.labels = &labels,
                        .annotations = &annotations,
                        .status = "firing",
                        .fingerprint = "fp1",
                        .starts_at = "2026-11-23T06:00:00Z",
                        .ends_at = "0001-01-01T00:00:00Z",
                        .generator_url = "http://prometheus:9090/graph",
                        .external_url = "http://alertmanager:9093",
                        .receiver = "foresight-webhook",
                        .playbook = "p",
                        .job_id = "7",
                        .phase = "firing"};
  }
};

StepResult RunStep(const Action& action, const TemplateData& data, milliseconds timeout = 10s,
                   const std::atomic<bool>* abort = nullptr) {
  StepContext ctx;
  ctx.data = &data;
  ctx.timeout = timeout;
  ctx.abort = abort;
  return action.Run(ctx);
}

// True once `pid` is gone: no such process, or a zombie nobody of ours will reap.
bool ProcessGone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

std::vector<std::string> OpenFds() {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/webhook_action_test.XXXXXX";
    EXPECT_NE(mkdtemp(tmpl), nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::string path_;
};

// ---- registry and AMX environment ----

TEST(ActionRegistryTest, DefaultHasLogExecAndHttp) {
  ActionRegistry r = ActionRegistry::Default();
  EXPECT_THAT(r.Names(), ElementsAre("exec", "http", "log"));
  ASSERT_NE(r.Find("exec"), nullptr);
  EXPECT_EQ(r.Find("exec")->name(), "exec");
  EXPECT_THAT(r.Find("exec")->keys(), ElementsAre("argv", "env", "max_output_bytes"));
  EXPECT_THAT(r.Find("log")->keys(), ElementsAre("message"));
  EXPECT_THAT(r.Find("http")->keys(),
              ElementsAre("method", "url", "headers", "body", "bearer_token_file", "expect_status",
                          "max_output_bytes"));
  EXPECT_EQ(r.Find("scale"), nullptr);
  EXPECT_EQ(r.Find(""), nullptr);
}

TEST(ActionRegistryTest, RegisterReplacesAKindOfTheSameName) {
  ActionRegistry r = ActionRegistry::Default();
  const ActionKind* before = r.Find("exec");
  r.Register(NewExecKind(1ms));
  EXPECT_NE(r.Find("exec"), before);
  EXPECT_THAT(r.Names(), ElementsAre("exec", "http", "log"));
}

TEST(AmxEnvironmentTest, AsPrometheusAmExecutorSetsIt) {
  Alert alert;
  alert.annotations["a.b c"] = "x";
  TemplateData data = alert.Data();
  std::map<std::string, std::string> env = AmxEnvironment(data);
  const std::map<std::string, std::string> want = {
      {"AMX_RECEIVER", "foresight-webhook"},
      {"AMX_STATUS", "firing"},
      {"AMX_EXTERNAL_URL", "http://alertmanager:9093"},
      {"AMX_ALERT_LEN", "1"},
      {"AMX_LABEL_alertname", "Breach"},
      {"AMX_LABEL_service", "api"},
      {"AMX_ANNOTATION_summary", "api will breach"},
      {"AMX_ANNOTATION_runbook_url", "http://rb"},
      {"AMX_ANNOTATION_a_b_c", "x"},
      {"AMX_ALERT_1_STATUS", "firing"},
      {"AMX_ALERT_1_START", "1795413600"},
      {"AMX_ALERT_1_END", "0"},
      {"AMX_ALERT_1_URL", "http://prometheus:9090/graph"},
      {"AMX_ALERT_1_FINGERPRINT", "fp1"},
      {"AMX_ALERT_1_LABEL_alertname", "Breach"},
      {"AMX_ALERT_1_LABEL_service", "api"},
      {"AMX_ALERT_1_ANNOTATION_summary", "api will breach"},
      {"AMX_ALERT_1_ANNOTATION_runbook_url", "http://rb"},
      {"AMX_ALERT_1_ANNOTATION_a_b_c", "x"},
      {"FORESIGHT_PLAYBOOK", "p"},
      {"FORESIGHT_JOB_ID", "7"},
      {"FORESIGHT_PHASE", "firing"},
  };
  EXPECT_EQ(env, want);
}

TEST(AmxEnvironmentTest, TimesAreUnixSeconds) {
  TemplateData data;
  data.starts_at = "2026-11-23T07:00:00.987654321+01:00";
  data.ends_at = "2026-11-23T06:30:00Z";
  std::map<std::string, std::string> env = AmxEnvironment(data);
  EXPECT_EQ(env["AMX_ALERT_1_START"], "1795413600");
  EXPECT_EQ(env["AMX_ALERT_1_END"], "1795415400");
  EXPECT_EQ(env.count("AMX_LABEL_alertname"), 0u);  // no labels: none
  data.starts_at = "";
  EXPECT_EQ(AmxEnvironment(data)["AMX_ALERT_1_START"], "0");
}

// ---- log ----

TEST(LogActionTest, LogsAndReturnsTheMessage) {
  std::shared_ptr<const Action> a =
      MustConfigure("{kind: log, message: \"{{ .Labels.service }} will breach ({{ .Phase }})\"}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  TemplateData data = alert.Data();
  Result<std::string> d = a->Describe(data);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "api will breach (firing)");
  ::testing::internal::CaptureStderr();
  StepResult r = RunStep(*a, data);
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(r.state, StepState::kSucceeded);
  EXPECT_EQ(r.output, "api will breach (firing)");
  EXPECT_FALSE(r.output_truncated);
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_EQ(r.error, "");
  EXPECT_THAT(logged, HasSubstr("level=info msg=\"playbook step\" kind=log playbook=p job=7 "
                                "phase=firing fingerprint=fp1 "
                                "message=\"api will breach (firing)\""));
}

TEST(LogActionTest, MissingLabelFailsBeforeLogging) {
  std::shared_ptr<const Action> a = MustConfigure("{kind: log, message: \"{{ .Labels.team }}\"}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  TemplateData data = alert.Data();
  Result<std::string> d = a->Describe(data);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "label \"team\" is not set on the alert");
  StepResult r = RunStep(*a, data);
  EXPECT_EQ(r.state, StepState::kFailed);
  EXPECT_EQ(r.error, "label \"team\" is not set on the alert");
}

TEST(LogActionTest, ConfigErrors) {
  EXPECT_EQ(ConfigError("{kind: log}"),
            "inline.yml:5:10: step #1 of playbook \"p\": missing required key \"message\"");
  EXPECT_EQ(ConfigError("{kind: log, message: \"{{ .Labels }}\"}"),
            "inline.yml:5:30: step #1 of playbook \"p\": message: bad template: offset 3: "
            ".Labels needs a name, as in .Labels.service");
  EXPECT_EQ(ConfigError("{kind: log, message: {a: b}}"),
            "inline.yml:5:30: step #1 of playbook \"p\": message must be a string, got a map");
}

// ---- exec ----

TEST(ExecActionTest, RunsWithOutputAndAmxEnvironment) {
  std::shared_ptr<const Action> a = MustConfigure(
      "{kind: exec, argv: [/bin/sh, -c, 'echo \"$AMX_LABEL_service $AMX_ALERT_1_FINGERPRINT "
      "$FORESIGHT_JOB_ID\"; echo oops >&2']}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;
  EXPECT_EQ(r.output, "api fp1 7\noops\n");  // stdout and stderr in one stream
  EXPECT_FALSE(r.output_truncated);
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 0);
  EXPECT_EQ(r.error, "");
}

TEST(ExecActionTest, ArgvIsTemplatedWithoutAShell) {
  std::shared_ptr<const Action> a = MustConfigure(
      "{kind: exec, argv: [/bin/echo, \"svc={{ .Labels.service }}\", \"{{ .Status }}\", "
      "\"$HOME;\"]}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  alert.labels["service"] = "a\"b";
  TemplateData data = alert.Data();
  Result<std::string> d = a->Describe(data);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, R"(["/bin/echo","svc=a\"b","firing","$HOME;"])");
  StepResult r = RunStep(*a, data);
  EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;
  EXPECT_EQ(r.output, "svc=a\"b firing $HOME;\n");
}

TEST(ExecActionTest, MissingLabelIsADescribeError) {
  std::shared_ptr<const Action> a =
      MustConfigure("{kind: exec, argv: [/bin/echo, \"{{ .Labels.team }}\"]}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  TemplateData data = alert.Data();
  Result<std::string> d = a->Describe(data);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "label \"team\" is not set on the alert");
  StepResult r = RunStep(*a, data);
  EXPECT_EQ(r.state, StepState::kFailed);
  EXPECT_EQ(r.error, "label \"team\" is not set on the alert");
  EXPECT_FALSE(r.exit_code.has_value());

  std::shared_ptr<const Action> env =
      MustConfigure("{kind: exec, argv: [/bin/true], env: {X: \"{{ .Annotations.nope }}\"}}");
  ASSERT_NE(env, nullptr);
  Result<std::string> de = env->Describe(data);
  ASSERT_FALSE(de.ok());
  EXPECT_EQ(de.status().message(), "annotation \"nope\" is not set on the alert");
}

// Sets an environment variable of this process for a scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

TEST(ExecActionTest, EnvComesAfterAmxAndInheritedAmxIsDropped) {
  ScopedEnv inherited("WEBHOOK_TEST_INHERITED", "yes");
  ScopedEnv stale("AMX_LABEL_stale", "from the daemon");
  std::shared_ptr<const Action> a = MustConfigure(
      "{kind: exec, argv: [/bin/sh, -c, 'echo \"$WEBHOOK_TEST_INHERITED ${AMX_LABEL_stale-unset} "
      "$AMX_LABEL_service $EXTRA\"'], env: {AMX_LABEL_service: overridden, EXTRA: \"{{ "
      ".Labels.alertname }}\"}}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;
  EXPECT_EQ(r.output, "yes unset overridden Breach\n");
}

TEST(ExecActionTest, NonZeroExitFails) {
  std::shared_ptr<const Action> a =
      MustConfigure("{kind: exec, argv: [/bin/sh, -c, 'echo partial; exit 3']}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kFailed);
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 3);
  EXPECT_EQ(r.error, "exit status 3");
  EXPECT_EQ(r.output, "partial\n");
}

TEST(ExecActionTest, KilledBySignalFails) {
  std::shared_ptr<const Action> a =
      MustConfigure("{kind: exec, argv: [/bin/sh, -c, 'kill -USR1 $$; echo survived']}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kFailed);
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_EQ(r.error, "killed by signal SIGUSR1");
  EXPECT_EQ(r.output, "");
}

// A daemon blocks signals for its signal thread and ignores SIGPIPE; the program must not inherit
// either.
TEST(ExecActionTest, ChildGetsDefaultSignalHandling) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  struct sigaction ignore = {}, old_usr2 = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGUSR2, &ignore, &old_usr2), 0);
  std::shared_ptr<const Action> blocked =
      MustConfigure("{kind: exec, argv: [/bin/sh, -c, 'kill -USR1 $$; echo survived']}");
  std::shared_ptr<const Action> ignored =
      MustConfigure("{kind: exec, argv: [/bin/sh, -c, 'kill -USR2 $$; echo survived']}");
  Alert alert;
  StepResult r1 = RunStep(*blocked, alert.Data());
  StepResult r2 = RunStep(*ignored, alert.Data());
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  sigaction(SIGUSR2, &old_usr2, nullptr);
  EXPECT_EQ(r1.error, "killed by signal SIGUSR1");
  EXPECT_EQ(r2.error, "killed by signal SIGUSR2");
}

// Reads the pid a step's shell printed first: the grandchild's.
pid_t FirstLinePid(const std::string& output) {
  return static_cast<pid_t>(std::atoi(output.substr(0, output.find('\n')).c_str()));
}

TEST(ExecActionTest, TimeoutKillsTheProcessGroup) {
  std::shared_ptr<const Action> a =
      MustConfigure("{kind: exec, argv: [/bin/sh, -c, 'sleep 100 & echo $!; wait']}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data(), 300ms);
  EXPECT_EQ(r.state, StepState::kTimedOut);
  EXPECT_EQ(r.error, "timed out after 300ms; the process group was sent SIGTERM");
  const pid_t grandchild = FirstLinePid(r.output);
  ASSERT_GT(grandchild, 1) << r.output;
  EXPECT_TRUE(PollUntil([&] { return ProcessGone(grandchild); }))
      << "sleep " << grandchild << " survived";
}

TEST(ExecActionTest, TimeoutEscalatesToSigkill) {
  // The ignored SIGTERM is inherited by sleep as well.
  std::shared_ptr<const Action> a = MustConfigure(
      "{kind: exec, argv: [/bin/sh, -c, \"trap '' TERM; sleep 100 & echo $!; wait\"]}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data(), 300ms);
  EXPECT_EQ(r.state, StepState::kTimedOut);
  EXPECT_EQ(r.error,
            "timed out after 300ms; the process group was killed with SIGKILL after "
            "200ms");
  const pid_t grandchild = FirstLinePid(r.output);
  ASSERT_GT(grandchild, 1) << r.output;
  EXPECT_TRUE(PollUntil([&] { return ProcessGone(grandchild); }))
      << "sleep " << grandchild << " survived";
}

TEST(ExecActionTest, AbortStopsARunningStep) {
  TempDir dir;
  const std::string ready = dir.path() + "/ready";
  std::shared_ptr<const Action> a =
      MustConfigure("{kind: exec, argv: [/bin/sh, -c, 'sleep 100 & echo $! > " + ready +
                    ".tmp; mv " + ready + ".tmp " + ready + "; wait']}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  TemplateData data = alert.Data();
  std::atomic<bool> abort{false};
  std::future<StepResult> run =
      std::async(std::launch::async, [&] { return RunStep(*a, data, 60s, &abort); });
  ASSERT_TRUE(PollUntil([&] { return std::filesystem::exists(ready); }));
  std::ifstream in(ready);
  pid_t grandchild = 0;
  in >> grandchild;
  ASSERT_GT(grandchild, 1);
  abort = true;
  ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
  StepResult r = run.get();
  EXPECT_EQ(r.state, StepState::kAborted);
  EXPECT_EQ(r.error, "aborted; the process group was sent SIGTERM");
  EXPECT_TRUE(PollUntil([&] { return ProcessGone(grandchild); }));
}

TEST(ExecActionTest, AbortBeforeStartStillReaps) {
  std::shared_ptr<const Action> a = MustConfigure("{kind: exec, argv: [/bin/sleep, '100']}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  std::atomic<bool> abort{true};
  StepResult r = RunStep(*a, alert.Data(), 60s, &abort);
  EXPECT_EQ(r.state, StepState::kAborted);
  errno = 0;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ExecActionTest, ExecErrorsNameThePath) {
  Alert alert;
  std::shared_ptr<const Action> missing = MustConfigure("{kind: exec, argv: [/no/such/program]}");
  ASSERT_NE(missing, nullptr);
  StepResult r = RunStep(*missing, alert.Data());
  EXPECT_EQ(r.state, StepState::kFailed);
  EXPECT_EQ(r.error, "cannot run /no/such/program: No such file or directory");
  EXPECT_FALSE(r.exit_code.has_value());

  TempDir dir;
  const std::string script = dir.Write("not-executable", "#!/bin/sh\necho hi\n");
  std::shared_ptr<const Action> denied = MustConfigure("{kind: exec, argv: [" + script + "]}");
  ASSERT_NE(denied, nullptr);
  StepResult d = RunStep(*denied, alert.Data());
  EXPECT_EQ(d.state, StepState::kFailed);
  // Even root needs an x bit to execve a file.
  EXPECT_EQ(d.error, "cannot run " + script + ": Permission denied");
}

TEST(ExecActionTest, BareNameIsLookedUpInThePathOfTheStep) {
  Alert alert;
  std::shared_ptr<const Action> sh = MustConfigure("{kind: exec, argv: [sh, -c, 'echo found']}");
  ASSERT_NE(sh, nullptr);
  StepResult r = RunStep(*sh, alert.Data());
  EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;
  EXPECT_EQ(r.output, "found\n");

  std::shared_ptr<const Action> missing = MustConfigure("{kind: exec, argv: [no-such-command-x]}");
  ASSERT_NE(missing, nullptr);
  const char* path = std::getenv("PATH");
  StepResult m = RunStep(*missing, alert.Data());
  EXPECT_EQ(m.state, StepState::kFailed);
  EXPECT_EQ(m.error, "cannot run no-such-command-x: not found in PATH \"" +
                         std::string(path ? path : "/usr/local/bin:/usr/bin:/bin") + "\"");

  std::shared_ptr<const Action> own =
      MustConfigure("{kind: exec, argv: [sh], env: {PATH: /nonexistent}}");
  ASSERT_NE(own, nullptr);
  StepResult o = RunStep(*own, alert.Data());
  EXPECT_EQ(o.error, "cannot run sh: not found in PATH \"/nonexistent\"");
}

TEST(ExecActionTest, OutputIsTruncatedAndDrained) {
  std::shared_ptr<const Action> a = MustConfigure(
      "{kind: exec, argv: [/bin/sh, -c, 'head -c 300000 /dev/zero | tr \"\\\\0\" a; echo "
      "done >&2'], max_output_bytes: 10}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;  // the writer was never blocked
  EXPECT_EQ(r.output, "aaaaaaaaaa");
  EXPECT_TRUE(r.output_truncated);
}

TEST(ExecActionTest, LeaksNoDescriptorsAndNoZombies) {
  // A descriptor some other part of the daemon opened without O_CLOEXEC.
  const int inheritable = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(inheritable, 3);
  const std::vector<std::string> before = OpenFds();
  Alert alert;
  TemplateData data = alert.Data();

  // The shell's glob reads the directory through the lowest free descriptor: 3 when nothing
  // but stdin, stdout and stderr was inherited.
  std::shared_ptr<const Action> list = MustConfigure(
      "{kind: exec, argv: [/bin/sh, -c, 'for f in /proc/$$/fd/*; do echo ${f##*/}; done']}");
  ASSERT_NE(list, nullptr);
  StepResult fds = RunStep(*list, data);
  EXPECT_EQ(fds.state, StepState::kSucceeded) << fds.error;
  EXPECT_EQ(fds.output, "0\n1\n2\n3\n");

  for (const char* step :
       {"{kind: exec, argv: [/bin/echo, hi]}", "{kind: exec, argv: [/no/such]}",
        "{kind: exec, argv: [/bin/sh, -c, 'exit 2']}",
        "{kind: exec, argv: [/bin/sh, -c, 'head -c 100000 /dev/zero'], max_output_bytes: 1}"}) {
    std::shared_ptr<const Action> a = MustConfigure(step);
    ASSERT_NE(a, nullptr);
    RunStep(*a, data);
  }
  std::shared_ptr<const Action> slow = MustConfigure("{kind: exec, argv: [/bin/sleep, '100']}");
  EXPECT_EQ(RunStep(*slow, data, 50ms).state, StepState::kTimedOut);

  EXPECT_EQ(OpenFds(), before);
  errno = 0;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  ::close(inheritable);
}

TEST(ExecActionTest, RunsConcurrently) {
  std::shared_ptr<const Action> a =
      MustConfigure("{kind: exec, argv: [/bin/sh, -c, 'echo $FORESIGHT_JOB_ID']}");
  ASSERT_NE(a, nullptr);
  std::vector<std::future<StepResult>> runs;
  std::vector<Alert> alerts(8);
  std::vector<TemplateData> data;
  for (size_t i = 0; i < alerts.size(); ++i) {
    data.push_back(alerts[i].Data());
    data.back().job_id = std::to_string(i);
  }
  for (size_t i = 0; i < alerts.size(); ++i) {
    runs.push_back(std::async(std::launch::async, [&, i] { return RunStep(*a, data[i]); }));
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    StepResult r = runs[i].get();
    EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;
    EXPECT_EQ(r.output, std::to_string(i) + "\n");
  }
}

TEST(ExecActionTest, ConfigErrors) {
  const std::string s = "inline.yml:5:";
  const std::string step = "step #1 of playbook \"p\": ";
  EXPECT_EQ(ConfigError("{kind: exec}"), s + "10: " + step + "missing required key \"argv\"");
  EXPECT_EQ(ConfigError("{kind: exec, argv: /bin/true}"),
            s + "28: " + step +
                "argv must be a list of templates such as [/usr/local/bin/notify, "
                "\"{{ .Labels.service }}\"], got a scalar");
  EXPECT_EQ(ConfigError("{kind: exec, argv: []}"), s + "28: " + step + "argv must not be empty");
  EXPECT_EQ(ConfigError("{kind: exec, argv: [\"{{ .Labels.cmd }}\"]}"),
            s + "29: " + step +
                "argv[0] \"{{ .Labels.cmd }}\" must not be a template: the config fixes the "
                "program");
  EXPECT_EQ(ConfigError("{kind: exec, argv: [bin/scale]}"),
            s + "29: " + step +
                "argv[0] \"bin/scale\" must be an absolute path or a command name to look up in "
                "PATH");
  EXPECT_EQ(ConfigError("{kind: exec, argv: [\"\"]}"),
            s + "29: " + step +
                "argv[0] \"\" must be an absolute path or a command name to look up in PATH");
  EXPECT_EQ(ConfigError("{kind: exec, argv: [/bin/echo, {a: b}]}"),
            s + "40: " + step + "argv[1] must be a string, got a map");
  EXPECT_EQ(ConfigError("{kind: exec, argv: [/bin/echo, \"{{ .Labels.a\"]}"),
            s + "40: " + step +
                "argv[1]: bad template: offset 0: unclosed action: \"{{\" without \"}}\"");
  EXPECT_EQ(ConfigError("{kind: exec, argv: [/bin/true], env: {1X: y}}"),
            s + "47: " + step + "env: variable name \"1X\" must match [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(ConfigError("{kind: exec, argv: [/bin/true], env: {X: \"{{ .Nope }}\"}}"),
            s + "50: " + step + "env[\"X\"]: bad template: offset 3: unknown field \".Nope\"");
  EXPECT_EQ(ConfigError("{kind: exec, argv: [/bin/true], max_output_bytes: 0}"),
            s + "59: " + step + "max_output_bytes must be a positive integer, got \"0\"");
}

// ---- http ----

// A peer for the http steps: records requests and answers by path.
class HttpActionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    auto server = http::Server::Start(options, [this](const http::Request& req) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      cv_.notify_all();
      if (req.path == "/fail") return http::Response::Text(500, "boom");
      if (req.path == "/created") return http::Response::Text(201, "made");
      if (req.path == "/slow") {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, 20s, [this] { return released_; });
      }
      return http::Response::Text(200, "hello");
    });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    url_ = server_->url();
  }

  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    server_.reset();
  }

  std::vector<http::Request> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  bool WaitForRequests(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return requests_.size() >= n; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<http::Request> requests_;
  bool released_ = false;
  std::unique_ptr<http::Server> server_;
  std::string url_;
};

TEST_F(HttpActionTest, SendsMethodHeadersAndBody) {
  std::shared_ptr<const Action> a = MustConfigure(
      "{kind: http, method: PUT, url: \"" + url_ +
      "/ok/{{ .Labels.service }}\", headers: {X-Service: \"{{ .Labels.service }}\", X-Empty: \"\"},"
      " body: '{\"service\": \"{{ .Labels.service }}\"}'}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  TemplateData data = alert.Data();
  Result<std::string> d = a->Describe(data);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, "PUT " + url_ + "/ok/api");
  StepResult r = RunStep(*a, data);
  EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;
  EXPECT_EQ(r.output, "hello");
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 200);
  std::vector<http::Request> reqs = Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].path, "/ok/api");
  EXPECT_EQ(reqs[0].Header("x-service"), "api");
  EXPECT_EQ(reqs[0].headers.count("x-empty"), 1u);
  EXPECT_EQ(reqs[0].Header("content-type"), "application/json");
  EXPECT_THAT(reqs[0].Header("user-agent"), StartsWith("foresight_webhook/"));
  EXPECT_EQ(reqs[0].Header("authorization"), "");
  EXPECT_EQ(reqs[0].body, "{\"service\": \"api\"}");
}

TEST_F(HttpActionTest, LabelValuesCannotReshapeTheUrlOrTheJsonBody) {
  std::shared_ptr<const Action> a = MustConfigure(
      "{kind: http, url: \"" + url_ + "/ok/{{ .Labels.service }}?q={{ .Labels.service }}\","
      " body: '{\"text\": \"{{ .Labels.service }}\"}'}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  alert.labels["service"] = "a b?x=\"y\"&r=1#z";
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;
  std::vector<http::Request> reqs = Requests();
  ASSERT_EQ(reqs.size(), 1u);
  // Unencoded, '?' would end the path, '&' add a parameter and '#' cut the rest off. Encoded,
  // the value is one path segment and one query value, decoded back by the peer.
  EXPECT_EQ(reqs[0].path, "/ok/a b?x=\"y\"&r=1#z");
  EXPECT_EQ(reqs[0].Query("q").value_or(""), "a b?x=\"y\"&r=1#z");
  EXPECT_FALSE(reqs[0].Query("r").has_value());
  // The quotes stay inside the JSON string the playbook's author wrote.
  EXPECT_EQ(reqs[0].body, "{\"text\": \"a b?x=\\\"y\\\"&r=1#z\"}");
}

TEST_F(HttpActionTest, AnotherContentTypeGetsTheValuesAsTheyAre) {
  std::shared_ptr<const Action> a = MustConfigure(
      "{kind: http, url: \"" + url_ + "/ok\", headers: {Content-Type: text/plain},"
      " body: 'say \"{{ .Labels.service }}\"'}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  alert.labels["service"] = "a\"b";
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;
  ASSERT_EQ(Requests().size(), 1u);
  EXPECT_EQ(Requests()[0].body, "say \"a\"b\"");
}

TEST_F(HttpActionTest, DefaultsToPostAndGetSendsNoBody) {
  std::shared_ptr<const Action> post = MustConfigure(
      "{kind: http, url: \"" + url_ + "/ok\", headers: {Content-Type: text/plain}, body: hi}");
  std::shared_ptr<const Action> get =
      MustConfigure("{kind: http, method: GET, url: \"" + url_ + "/ok?q={{ .Labels.service }}\"}");
  std::shared_ptr<const Action> del =
      MustConfigure("{kind: http, method: DELETE, url: \"" + url_ + "/ok\"}");
  ASSERT_NE(post, nullptr);
  ASSERT_NE(get, nullptr);
  ASSERT_NE(del, nullptr);
  Alert alert;
  EXPECT_EQ(RunStep(*post, alert.Data()).state, StepState::kSucceeded);
  EXPECT_EQ(RunStep(*get, alert.Data()).state, StepState::kSucceeded);
  EXPECT_EQ(RunStep(*del, alert.Data()).state, StepState::kSucceeded);
  std::vector<http::Request> reqs = Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].Header("content-type"), "text/plain");
  EXPECT_EQ(reqs[0].body, "hi");
  EXPECT_EQ(reqs[1].method, "GET");
  EXPECT_EQ(reqs[1].query_string, "q=api");
  EXPECT_EQ(reqs[1].body, "");
  EXPECT_EQ(reqs[2].method, "DELETE");
  EXPECT_EQ(reqs[2].body, "");
}

TEST_F(HttpActionTest, BearerTokenIsReadFromItsFileAtRunTime) {
  TempDir dir;
  dir.Write("token", "first\n");
  // Relative to the config file's directory.
  std::shared_ptr<const Action> a =
      MustConfigure("{kind: http, url: \"" + url_ + "/ok\", bearer_token_file: token}", dir.path());
  ASSERT_NE(a, nullptr);
  Alert alert;
  EXPECT_EQ(RunStep(*a, alert.Data()).state, StepState::kSucceeded);
  dir.Write("token", "rotated\n");
  EXPECT_EQ(RunStep(*a, alert.Data()).state, StepState::kSucceeded);
  std::vector<http::Request> reqs = Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].Header("authorization"), "Bearer first");
  EXPECT_EQ(reqs[1].Header("authorization"), "Bearer rotated");

  std::filesystem::remove(dir.path() + "/token");
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kFailed);
  EXPECT_EQ(r.error, "POST " + url_ + "/ok: bearer_token_file: cannot read secret file " +
                         dir.path() + "/token: No such file or directory");
  EXPECT_EQ(Requests().size(), 2u);
}

TEST_F(HttpActionTest, UnexpectedStatusFails) {
  std::shared_ptr<const Action> a = MustConfigure("{kind: http, url: \"" + url_ + "/fail\"}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kFailed);
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 500);
  EXPECT_EQ(r.output, "boom");
  EXPECT_EQ(r.error, "POST " + url_ + "/fail: unexpected status 500 (want 2xx)");

  std::shared_ptr<const Action> want_201 =
      MustConfigure("{kind: http, url: \"" + url_ + "/ok\", expect_status: [201, 202]}");
  ASSERT_NE(want_201, nullptr);
  StepResult ok = RunStep(*want_201, alert.Data());
  EXPECT_EQ(ok.state, StepState::kFailed);
  EXPECT_EQ(ok.error, "POST " + url_ + "/ok: unexpected status 200 (want 201, 202)");
  std::shared_ptr<const Action> created =
      MustConfigure("{kind: http, url: \"" + url_ + "/created\", expect_status: [201]}");
  EXPECT_EQ(RunStep(*created, alert.Data()).state, StepState::kSucceeded);
  std::shared_ptr<const Action> accept_500 =
      MustConfigure("{kind: http, url: \"" + url_ + "/fail\", expect_status: [500]}");
  EXPECT_EQ(RunStep(*accept_500, alert.Data()).state, StepState::kSucceeded);
}

TEST_F(HttpActionTest, OutputIsCapped) {
  std::shared_ptr<const Action> a =
      MustConfigure("{kind: http, url: \"" + url_ + "/ok\", max_output_bytes: 3}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kSucceeded) << r.error;
  EXPECT_EQ(r.output, "hel");
  EXPECT_TRUE(r.output_truncated);
}

TEST_F(HttpActionTest, ConnectionRefusedFails) {
  // A port that was just listening and is closed now.
  std::string closed_url;
  {
    auto other =
        http::Server::Start({}, [](const http::Request&) { return http::Response::Text(200, ""); });
    ASSERT_TRUE(other.ok());
    closed_url = (*other)->url();
  }
  std::shared_ptr<const Action> a = MustConfigure("{kind: http, url: \"" + closed_url + "/x\"}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data());
  EXPECT_EQ(r.state, StepState::kFailed);
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_THAT(r.error, StartsWith("POST " + closed_url + "/x: Couldn't connect to server"));
}

TEST_F(HttpActionTest, SlowPeerTimesOut) {
  std::shared_ptr<const Action> a = MustConfigure("{kind: http, url: \"" + url_ + "/slow\"}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  StepResult r = RunStep(*a, alert.Data(), 300ms);
  EXPECT_EQ(r.state, StepState::kTimedOut);
  EXPECT_EQ(r.error, "POST " + url_ + "/slow: timed out after 300ms");
}

TEST_F(HttpActionTest, AbortStopsARequest) {
  std::shared_ptr<const Action> a = MustConfigure("{kind: http, url: \"" + url_ + "/slow\"}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  TemplateData data = alert.Data();
  std::atomic<bool> abort{false};
  std::future<StepResult> run =
      std::async(std::launch::async, [&] { return RunStep(*a, data, 60s, &abort); });
  ASSERT_TRUE(WaitForRequests(1));
  abort = true;
  ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
  StepResult r = run.get();
  EXPECT_EQ(r.state, StepState::kAborted);
  EXPECT_EQ(r.error, "POST " + url_ + "/slow: aborted");
}

TEST_F(HttpActionTest, RenderedHeaderCannotAddLines) {
  std::shared_ptr<const Action> a = MustConfigure(
      "{kind: http, url: \"" + url_ + "/ok\", headers: {X-Service: \"{{ .Labels.service }}\"}}");
  ASSERT_NE(a, nullptr);
  Alert alert;
  alert.labels["service"] = "api\r\nX-Evil: 1";
  TemplateData data = alert.Data();
  Result<std::string> d = a->Describe(data);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "header \"X-Service\" would contain a line break or NUL once rendered");
  StepResult r = RunStep(*a, data);
  EXPECT_EQ(r.state, StepState::kFailed);
  EXPECT_EQ(r.error, "header \"X-Service\" would contain a line break or NUL once rendered");
  EXPECT_TRUE(Requests().empty());
}

TEST(HttpKindTest, ConfigErrors) {
  const std::string s = "inline.yml:5:";
  const std::string step = "step #1 of playbook \"p\": ";
  EXPECT_EQ(ConfigError("{kind: http}"), s + "10: " + step + "missing required key \"url\"");
  EXPECT_EQ(ConfigError("{kind: http, url: \"\"}"), s + "27: " + step + "url must not be empty");
  EXPECT_EQ(ConfigError("{kind: http, url: ftp://x/y}"),
            s + "27: " + step + "url \"ftp://x/y\" must start with http:// or https:// and a host");
  EXPECT_EQ(ConfigError("{kind: http, url: \"{{ .Labels.url }}\"}"),
            s + "27: " + step +
                "url \"{{ .Labels.url }}\" must start with http:// or https:// and a host");
  EXPECT_EQ(ConfigError("{kind: http, url: \"https://{{ .Labels.host }}/x\"}"),
            s + "27: " + step +
                "url \"https://{{ .Labels.host }}/x\": the scheme and host must be literal, not "
                "templated");
  EXPECT_EQ(ConfigError("{kind: http, url: \"http://x/{{ .Label }}\"}"),
            s + "27: " + step + "url: bad template: offset 12: unknown field \".Label\"");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, method: post}"),
            s + "45: " + step + "method \"post\" must be GET, POST, PUT, PATCH or DELETE");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, method: GET, body: x}"),
            s + "50: " + step + "a GET request has no body");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, headers: {\"X Y\": z}}"),
            s + "47: " + step + "headers: header name \"X Y\" is not valid");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, headers: {Content-Length: \"3\"}}"),
            s + "47: " + step +
                "header \"Content-Length\" is set by the client and cannot be configured");
  EXPECT_EQ(
      ConfigError("{kind: http, url: http://x, bearer_token_file: t, headers: "
                  "{authorization: x}}"),
      s + "69: " + step + "header \"authorization\" and bearer_token_file exclude each other");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, headers: {X-A: a, x-a: b}}"),
            s + "55: " + step + "duplicate header \"x-a\"");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, headers: {X-A: \"a\\nb\"}}"),
            s + "52: " + step + "header \"X-A\" must not contain line breaks or NUL");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, bearer_token_file: \"\"}"),
            s + "56: " + step + "bearer_token_file must not be empty");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, expect_status: 200}"),
            s + "52: " + step +
                "expect_status must be a list of HTTP statuses such as [200, 202], got a scalar");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, expect_status: []}"),
            s + "52: " + step + "expect_status must not be empty");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, expect_status: [200, 700]}"),
            s + "58: " + step + "expect_status[1] must be an HTTP status 100-599, got \"700\"");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, expect_status: [ok]}"),
            s + "53: " + step + "expect_status[0] must be an HTTP status 100-599, got \"ok\"");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, expect_status: [200, 200]}"),
            s + "58: " + step + "expect_status 200 is listed twice");
  EXPECT_EQ(ConfigError("{kind: http, url: http://x, max_output_bytes: -1}"),
            s + "55: " + step + "max_output_bytes must be a positive integer, got \"-1\"");
}

}  // namespace
}  // namespace foresight::webhook
