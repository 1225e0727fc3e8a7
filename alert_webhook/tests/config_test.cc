#include "foresight/webhook/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <regex>
#include <string>
#include <vector>

namespace foresight::webhook {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::Pair;

const std::string kDir = FORESIGHT_WEBHOOK_TESTDATA;

std::string Testdata(const std::string& name) { return kDir + "/" + name; }

const ActionRegistry& Registry() {
  static const ActionRegistry registry = ActionRegistry::Default();
  return registry;
}

std::string ErrorOf(const std::string& yaml) {
  Result<Config> c = ParseConfig(yaml, "inline.yml", "/cfg", Registry());
  if (c.ok()) return "OK";
  return c.status().message();
}

// A valid document up to playbook "p" (lines 1-3); `lines` continue its map.
std::string Playbook(const std::string& lines) {
  return "journal: {path: j.db}\n"
         "playbooks:\n"
         "  - name: p\n" +
         lines;
}

// Playbook "p" whose steps (from line 5) are `lines`.
std::string Steps(const std::string& lines) { return Playbook("    steps:\n" + lines); }

// A valid document whose top level also has `lines` (from line 1).
std::string Top(const std::string& lines) {
  return lines + Playbook("    steps: [{kind: log, message: x}]\n");
}

TEST(ConfigTest, GoodFileDecodesEveryKey) {
  Result<Config> c = LoadConfig(Testdata("config_good.yml"), Registry());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->file, Testdata("config_good.yml"));
  EXPECT_EQ(c->web.bearer_token_file, kDir + "/secrets/token");
  ASSERT_TRUE(c->web.basic_auth.has_value());
  EXPECT_EQ(c->web.basic_auth->username, "alertmanager");
  EXPECT_EQ(c->web.basic_auth->password_file, "/etc/foresight/password");  // absolute: kept
  ASSERT_TRUE(c->web.tls.has_value());
  EXPECT_EQ(c->web.tls->cert_file, kDir + "/tls/cert.pem");
  EXPECT_EQ(c->web.tls->key_file, kDir + "/tls/key.pem");
  EXPECT_EQ(c->web.max_body_bytes, 1024u);
  EXPECT_TRUE(c->web.HasAuth());
  EXPECT_EQ(c->journal.path, kDir + "/data/journal.db");
  EXPECT_EQ(c->journal.retention, hours(24 * 7));
  EXPECT_EQ(c->limits.max_concurrent_jobs, 2);
  EXPECT_EQ(c->limits.max_queued_jobs, 50u);
  EXPECT_TRUE(c->dry_run);

  ASSERT_EQ(c->playbooks.size(), 2u);
  const PlaybookConfig& p = c->playbooks[0];
  EXPECT_EQ(p.name, "scale-api");
  EXPECT_THAT(p.match, ElementsAre(Pair("alertname", "ForesightPredictedThresholdBreach"),
                                   Pair("service", "api")));
  ASSERT_EQ(p.match_re.size(), 2u);
  EXPECT_EQ(p.match_re[0].name, "severity");  // file order
  EXPECT_EQ(p.match_re[0].pattern, "warning|critical");
  EXPECT_EQ(p.match_re[1].name, "horizon");
  EXPECT_EQ(p.match_re[1].pattern, "(15m|1h)");
  EXPECT_EQ(p.target.source(), "{{ .Labels.service }}");
  EXPECT_EQ(p.cooldown, minutes(30));
  EXPECT_TRUE(p.dry_run);

  ASSERT_EQ(p.steps.size(), 3u);
  EXPECT_EQ(p.steps[0].name, "exec-1");
  EXPECT_EQ(p.steps[0].kind, "exec");
  EXPECT_EQ(p.steps[0].timeout, seconds(10));
  EXPECT_EQ(p.steps[0].when, When::kOnSuccess);
  EXPECT_EQ(p.steps[1].name, "notify");
  EXPECT_EQ(p.steps[1].kind, "http");
  EXPECT_EQ(p.steps[1].timeout, seconds(60));
  EXPECT_EQ(p.steps[1].when, When::kOnFailure);
  EXPECT_EQ(p.steps[2].name, "log-3");
  EXPECT_EQ(p.steps[2].when, When::kAlways);
  for (const StepConfig& s : p.steps) EXPECT_NE(s.action, nullptr) << s.name;
  ASSERT_EQ(p.resolve_steps.size(), 1u);
  EXPECT_EQ(p.resolve_steps[0].name, "log-1");

  LabelSet labels = {{"service", "api"}};
  TemplateData data;
  data.labels = &labels;
  Result<std::string> argv = p.steps[0].action->Describe(data);
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_EQ(*argv, R"(["/bin/echo","api"])");
  Result<std::string> request = p.steps[1].action->Describe(data);
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  EXPECT_EQ(*request, "POST http://127.0.0.1:1/hook/api");

  const PlaybookConfig& record = c->playbooks[1];
  EXPECT_TRUE(record.match.empty());
  EXPECT_TRUE(record.match_re.empty());
  EXPECT_TRUE(record.resolve_steps.empty());
}

TEST(ConfigTest, MinimalFileTakesEveryDefault) {
  Result<Config> c = LoadConfig(Testdata("config_minimal.yml"), Registry());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->web.bearer_token_file, "");
  EXPECT_FALSE(c->web.basic_auth.has_value());
  EXPECT_FALSE(c->web.tls.has_value());
  EXPECT_FALSE(c->web.HasAuth());
  EXPECT_EQ(c->web.max_body_bytes, 4u << 20);
  EXPECT_EQ(c->journal.path, "/var/lib/foresight/journal.db");
  EXPECT_EQ(c->journal.retention, hours(24 * 30));
  EXPECT_EQ(c->limits.max_concurrent_jobs, 4);
  EXPECT_EQ(c->limits.max_queued_jobs, 10000u);
  EXPECT_FALSE(c->dry_run);
  ASSERT_EQ(c->playbooks.size(), 1u);
  const PlaybookConfig& p = c->playbooks[0];
  EXPECT_EQ(p.target.source(), "{{ .Fingerprint }}");
  EXPECT_EQ(p.cooldown, minutes(5));
  EXPECT_FALSE(p.dry_run);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].name, "log-1");
  EXPECT_EQ(p.steps[0].timeout, seconds(60));
  EXPECT_EQ(p.steps[0].when, When::kOnSuccess);
  EXPECT_TRUE(p.resolve_steps.empty());

  LabelSet labels = {{"alertname", "Breach"}};
  TemplateData data;
  data.labels = &labels;
  data.status = "firing";
  data.fingerprint = "f00d";
  Result<std::string> target = p.target.Render(data);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "f00d");
  Result<std::string> message = p.steps[0].action->Describe(data);
  ASSERT_TRUE(message.ok());
  EXPECT_EQ(*message, "Breach is firing");
}

// The documented example shipped in config/ must stay loadable and do what it says.
TEST(ConfigTest, ReferenceConfigLoads) {
  const std::string dir = kDir + "/../../../config";
  Result<Config> c = LoadConfig(dir + "/webhook.yml", Registry());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->web.bearer_token_file, dir + "/secrets/webhook-token");
  Result<std::string> token = ReadSecretFile(c->web.bearer_token_file);
  EXPECT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(c->journal.path, dir + "/data/webhook-journal.db");
  EXPECT_FALSE(c->dry_run);

  const LabelSet breach = {{"alertname", "ForesightPredictedThresholdBreach"},
                           {"severity", "warning"},
                           {"foresight_job", "api_rps"},
                           {"threshold", "capacity"},
                           {"direction", "above"},
                           {"horizon", "1h"},
                           {"service", "api"}};
  std::vector<const PlaybookConfig*> matching = c->Matching(breach);
  ASSERT_EQ(matching.size(), 1u);
  const PlaybookConfig& p = *matching[0];
  ASSERT_GE(p.steps.size(), 2u);
  std::vector<std::string> kinds;
  for (const StepConfig& s : p.steps) kinds.push_back(s.kind);
  EXPECT_THAT(kinds, ElementsAre("exec", "log"));
  ASSERT_EQ(p.resolve_steps.size(), 1u);
  EXPECT_EQ(p.resolve_steps[0].kind, "log");

  const LabelSet annotations = {{"summary", "api_rps: forecast to go above capacity within 1h"}};
  TemplateData data;
  data.labels = &breach;
  data.annotations = &annotations;
  Result<std::string> target = p.target.Render(data);
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(*target, "api_rps/capacity");
  Result<std::string> argv = p.steps[0].action->Describe(data);
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_EQ(*argv, R"(["/bin/echo","predicted breach: api_rps above","capacity within 1h"])");
  for (const std::vector<StepConfig>* list : {&p.steps, &p.resolve_steps}) {
    for (const StepConfig& s : *list) {
      Result<std::string> d = s.action->Describe(data);
      EXPECT_TRUE(d.ok()) << s.name << ": " << d.status().ToString();
    }
  }

  LabelSet soon = breach;
  soon["alertname"] = "ForesightPredictedThresholdBreachSoon";
  EXPECT_TRUE(c->Matching(soon).empty());
  LabelSet info = breach;
  info["severity"] = "info";
  EXPECT_TRUE(c->Matching(info).empty());
}

TEST(ConfigTest, RelativePathsFollowBaseDir) {
  const std::string doc =
      Top("web:\n"
          "  bearer_token_file: t\n"
          "  basic_auth: {username: u, password_file: ../p}\n"
          "  tls: {cert_file: /abs/c.pem, key_file: k.pem}\n");
  Result<Config> as_written = ParseConfig(doc, "inline.yml", "", Registry());
  ASSERT_TRUE(as_written.ok()) << as_written.status().ToString();
  EXPECT_EQ(as_written->file, "");  // parsed from text
  EXPECT_EQ(as_written->web.bearer_token_file, "t");
  EXPECT_EQ(as_written->web.basic_auth->password_file, "../p");
  EXPECT_EQ(as_written->web.tls->cert_file, "/abs/c.pem");
  EXPECT_EQ(as_written->web.tls->key_file, "k.pem");
  EXPECT_EQ(as_written->journal.path, "j.db");

  Result<Config> based = ParseConfig(doc, "inline.yml", "/etc/foresight", Registry());
  ASSERT_TRUE(based.ok()) << based.status().ToString();
  EXPECT_EQ(based->web.bearer_token_file, "/etc/foresight/t");
  EXPECT_EQ(based->web.basic_auth->password_file, "/etc/foresight/../p");
  EXPECT_EQ(based->web.tls->cert_file, "/abs/c.pem");
  EXPECT_EQ(based->web.tls->key_file, "/etc/foresight/k.pem");
  EXPECT_EQ(based->journal.path, "/etc/foresight/j.db");
}

TEST(ConfigTest, SecretFilesAreNotReadWhenParsing) {
  Result<Config> c = ParseConfig(
      Top("web: {bearer_token_file: /no/such/token, basic_auth: {username: u, password_file: "
          "/no/such/password}}\n"),
      "inline.yml", "", Registry());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->web.bearer_token_file, "/no/such/token");
}

TEST(ConfigTest, LoadConfigMissingFileIsNotFound) {
  Result<Config> c = LoadConfig(Testdata("no_such_config.yml"), Registry());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "cannot read config file " + Testdata("no_such_config.yml"));
}

// ---- errors from files ----

struct BadFile {
  std::string file;
  std::string message;  // after "<path>:"
};

void PrintTo(const BadFile& b, std::ostream* os) { *os << b.file; }

class ConfigBadFileTest : public ::testing::TestWithParam<BadFile> {};

TEST_P(ConfigBadFileTest, FailsWithExactMessage) {
  const BadFile& bad = GetParam();
  Result<Config> c = LoadConfig(Testdata(bad.file), Registry());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), Testdata(bad.file) + ":" + bad.message);
}

INSTANTIATE_TEST_SUITE_P(
    ConfigBad, ConfigBadFileTest,
    ::testing::Values(
        BadFile{"config_bad_syntax.yml", "6:1: invalid YAML: end of sequence flow not found"},
        BadFile{"config_bad_empty.yml",
                "1:1: empty config: want a map with the keys \"journal\" and \"playbooks\""},
        BadFile{"config_bad_unknown_step_kind.yml",
                "7:15: step #2 of playbook \"scale-api\": unknown step kind \"scale\" (known: "
                "exec, http, log)"},
        BadFile{"config_bad_duplicate_playbook.yml",
                "5:11: duplicate playbook name \"scale-api\" (first at line 3)"},
        BadFile{"config_bad_template.yml",
                "6:38: step #1 of playbook \"scale-api\": argv[1]: bad template: offset 3: "
                "unknown field \".Lables\""},
        BadFile{"config_bad_basic_auth.yml",
                "3:5: web basic_auth: missing required key \"password_file\""}),
    [](const ::testing::TestParamInfo<BadFile>& info) {
      std::string name = info.param.file.substr(0, info.param.file.find('.'));
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

// The regex error's words are the standard library's, so the test asks it for them.
TEST(ConfigTest, BadRegexNamesPatternAndRegexError) {
  std::string what;
  try {
    std::regex re("^(?:warn(ing)$", std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    what = e.what();
  }
  ASSERT_FALSE(what.empty());
  Result<Config> c = LoadConfig(Testdata("config_bad_regex.yml"), Registry());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), Testdata("config_bad_regex.yml") +
                                      ":5:17: playbook \"scale-api\": match_re[\"severity\"]: "
                                      "invalid regex \"warn(ing\": " +
                                      what);
}

// ---- errors from inline documents ----

struct BadDoc {
  std::string name;
  std::string yaml;
  std::string message;  // after "inline.yml:"
};

void PrintTo(const BadDoc& b, std::ostream* os) { *os << b.name; }

class ConfigBadDocTest : public ::testing::TestWithParam<BadDoc> {};

TEST_P(ConfigBadDocTest, FailsWithExactMessage) {
  EXPECT_EQ(ErrorOf(GetParam().yaml), "inline.yml:" + GetParam().message);
}

const char kStepKeys[] = "kind, name, timeout, when";
const std::string kSteps = "    steps: [{kind: log, message: x}]\n";

INSTANTIATE_TEST_SUITE_P(
    ConfigBad, ConfigBadDocTest,
    ::testing::Values(
        // top level
        BadDoc{"TopNotMap", "- a\n",
               "1:1: the top level must be a map with the keys \"journal\" and \"playbooks\", "
               "got a list"},
        BadDoc{"UnknownTopKey", "journal: {path: j.db}\nplaybook: []\n",
               "2:1: unknown key \"playbook\" at the top level (allowed: web, journal, limits, "
               "dry_run, playbooks)"},
        BadDoc{"DuplicateTopKey", Top("dry_run: true\ndry_run: false\n"),
               "2:1: duplicate key \"dry_run\" at the top level"},
        BadDoc{"MissingJournal", "playbooks: []\n",
               "1:1: missing required key \"journal\" at the top level"},
        BadDoc{"MissingPlaybooks", "journal: {path: j.db}\n",
               "1:1: missing required key \"playbooks\" at the top level"},
        BadDoc{"PlaybooksEmpty", "journal: {path: j.db}\nplaybooks: []\n",
               "2:12: playbooks must be a non-empty list of playbooks, got an empty list"},
        BadDoc{"PlaybooksMap", "journal: {path: j.db}\nplaybooks: {a: 1}\n",
               "2:12: playbooks must be a non-empty list of playbooks, got a map"},
        BadDoc{"PlaybooksNull", "journal: {path: j.db}\nplaybooks:\n",
               "2:1: playbooks must be a non-empty list of playbooks, got null"},
        BadDoc{"DryRunYes", Top("dry_run: yes\n"),
               "1:10: dry_run must be true or false, got \"yes\""},
        // journal
        BadDoc{"JournalNotMap", "journal: j.db\nplaybooks: []\n",
               "1:10: journal must be a map with the key \"path\", got a scalar"},
        BadDoc{"JournalMissingPath", "journal: {retention: 1d}\nplaybooks: []\n",
               "1:10: journal: missing required key \"path\""},
        BadDoc{"JournalPathEmpty", "journal: {path: \"\"}\nplaybooks: []\n",
               "1:17: journal: path must not be empty"},
        BadDoc{"JournalUnknownKey", "journal: {path: j.db, size: 1}\nplaybooks: []\n",
               "1:23: unknown key \"size\" in journal (allowed: path, retention)"},
        BadDoc{"RetentionZero", "journal: {path: j.db, retention: 0s}\nplaybooks: []\n",
               "1:34: journal: retention must be greater than 0"},
        BadDoc{"RetentionBad", "journal: {path: j.db, retention: forever}\nplaybooks: []\n",
               "1:34: journal: retention: bad duration \"forever\": expected a number at offset "
               "0"},
        // web
        BadDoc{"WebNotMap", Top("web: []\n"), "1:6: web must be a map, got a list"},
        BadDoc{"WebUnknownKey", Top("web: {bearer_token: x}\n"),
               "1:7: unknown key \"bearer_token\" in web (allowed: bearer_token_file, "
               "basic_auth, tls, max_body_bytes)"},
        BadDoc{"WebTokenFileEmpty", Top("web: {bearer_token_file: \"\"}\n"),
               "1:26: web: bearer_token_file must not be empty"},
        BadDoc{"WebTokenFileList", Top("web: {bearer_token_file: [a]}\n"),
               "1:26: web: bearer_token_file must be a string, got a list"},
        BadDoc{"BasicAuthNotMap", Top("web: {basic_auth: alertmanager}\n"),
               "1:19: web: basic_auth must be a map with username and password_file, got a "
               "scalar"},
        BadDoc{"BasicAuthMissingUsername", Top("web: {basic_auth: {password_file: p}}\n"),
               "1:19: web basic_auth: missing required key \"username\""},
        BadDoc{"BasicAuthPassword", Top("web: {basic_auth: {username: u, password: p}}\n"),
               "1:33: unknown key \"password\" in web basic_auth (allowed: username, "
               "password_file)"},
        BadDoc{"BasicAuthPasswordFileEmpty",
               Top("web: {basic_auth: {username: u, password_file: \"\"}}\n"),
               "1:48: web basic_auth: password_file must not be empty"},
        BadDoc{"BasicAuthUsernameColon",
               Top("web: {basic_auth: {username: \"a:b\", password_file: p}}\n"),
               "1:30: web basic_auth: username must not contain \":\""},
        BadDoc{"TlsNotMap", Top("web: {tls: true}\n"),
               "1:12: web: tls must be a map with cert_file and key_file, got a scalar"},
        BadDoc{"TlsMissingKey", Top("web: {tls: {cert_file: c.pem}}\n"),
               "1:12: web tls: missing required key \"key_file\""},
        BadDoc{"TlsMissingCert", Top("web: {tls: {key_file: k.pem}}\n"),
               "1:12: web tls: missing required key \"cert_file\""},
        BadDoc{"TlsUnknownKey", Top("web: {tls: {cert_file: c, key_file: k, ca_file: x}}\n"),
               "1:40: unknown key \"ca_file\" in web tls (allowed: cert_file, key_file)"},
        BadDoc{"MaxBodyZero", Top("web: {max_body_bytes: 0}\n"),
               "1:23: web: max_body_bytes must be a positive integer, got \"0\""},
        // limits
        BadDoc{"LimitsNotMap", Top("limits: 4\n"), "1:9: limits must be a map, got a scalar"},
        BadDoc{"LimitsUnknownKey", Top("limits: {max_jobs: 4}\n"),
               "1:10: unknown key \"max_jobs\" in limits (allowed: max_concurrent_jobs, "
               "max_queued_jobs)"},
        BadDoc{"ConcurrentZero", Top("limits: {max_concurrent_jobs: 0}\n"),
               "1:31: limits: max_concurrent_jobs must be a positive integer, got \"0\""},
        BadDoc{"ConcurrentHuge", Top("limits: {max_concurrent_jobs: 3000000000}\n"),
               "1:31: limits: max_concurrent_jobs must be at most 2147483647"},
        BadDoc{"QueuedNegative", Top("limits: {max_queued_jobs: -5}\n"),
               "1:27: limits: max_queued_jobs must be a positive integer, got \"-5\""},
        // playbooks
        BadDoc{"PlaybookNotMap", "journal: {path: j.db}\nplaybooks:\n  - scale\n",
               "3:5: playbook #1 must be a map, got a scalar"},
        BadDoc{"PlaybookMissingName",
               "journal: {path: j.db}\nplaybooks:\n  - steps: [{kind: log, message: x}]\n",
               "3:5: playbook #1: missing required key \"name\""},
        BadDoc{"PlaybookBadName",
               "journal: {path: j.db}\nplaybooks:\n  - name: scale api\n    steps: []\n",
               "3:11: playbook #1: name \"scale api\" must match [a-zA-Z_][a-zA-Z0-9_.-]*"},
        BadDoc{"PlaybookUnknownKey", Playbook("    matches: {}\n"),
               "4:5: unknown key \"matches\" in playbook \"p\" (allowed: name, match, match_re, "
               "target, cooldown, dry_run, steps, resolve_steps)"},
        BadDoc{"PlaybookMissingSteps", Playbook("    dry_run: true\n"),
               "3:5: playbook \"p\": missing required key \"steps\""},
        BadDoc{"StepsEmpty", Playbook("    steps: []\n"),
               "4:12: playbook \"p\": steps must be a non-empty list of steps, got an empty list"},
        BadDoc{"StepsScalar", Playbook("    steps: log\n"),
               "4:12: playbook \"p\": steps must be a non-empty list of steps, got a scalar"},
        BadDoc{"MatchBadLabelName", Playbook("    match: {a-b: x}\n" + kSteps),
               "4:13: playbook \"p\": match: label name \"a-b\" must match "
               "[a-zA-Z_][a-zA-Z0-9_]*"},
        BadDoc{"MatchValueList", Playbook("    match: {a: [x]}\n" + kSteps),
               "4:16: playbook \"p\": match[\"a\"] must be a string, got a list"},
        BadDoc{"MatchNotMap", Playbook("    match: [a]\n" + kSteps),
               "4:12: playbook \"p\": match must be a map of strings, got a list"},
        BadDoc{"MatchReBadLabelName", Playbook("    match_re: {1x: y}\n" + kSteps),
               "4:16: playbook \"p\": match_re: label name \"1x\" must match "
               "[a-zA-Z_][a-zA-Z0-9_]*"},
        BadDoc{"MatchReDuplicateLabel", Playbook("    match_re: {a: x, a: y}\n" + kSteps),
               "4:22: playbook \"p\": match_re: duplicate label name \"a\""},
        BadDoc{"TargetBadTemplate", Playbook("    target: \"{{ .Label.x }}\"\n" + kSteps),
               "4:13: playbook \"p\": target: bad template: offset 3: unknown field \".Label\""},
        BadDoc{"TargetEmpty", Playbook("    target: \"\"\n" + kSteps),
               "4:13: playbook \"p\": target must not be empty"},
        BadDoc{"CooldownBad", Playbook("    cooldown: soon\n" + kSteps),
               "4:15: playbook \"p\": cooldown: bad duration \"soon\": expected a number at "
               "offset 0"},
        BadDoc{"PlaybookDryRunBad", Playbook("    dry_run: 1\n" + kSteps),
               "4:14: playbook \"p\": dry_run must be true or false, got \"1\""},
        BadDoc{"ResolveStepsMap",
               Playbook("    steps: [{kind: log, message: x}]\n    resolve_steps: {kind: log}\n"),
               "5:20: playbook \"p\": resolve_steps must be a list of steps, got a map"},
        // steps
        BadDoc{"StepNotMap", Steps("      - log\n"),
               "5:9: step #1 of playbook \"p\" must be a map such as {kind: log, message: "
               "\"...\"}, got a scalar"},
        BadDoc{"StepMissingKind", Steps("      - {message: x}\n"),
               "5:9: step #1 of playbook \"p\": missing required key \"kind\""},
        BadDoc{"StepKindList", Steps("      - {kind: [log]}\n"),
               "5:16: step #1 of playbook \"p\": kind must be a string, got a list"},
        BadDoc{"StepKindUnknown", Steps("      - {kind: Log}\n"),
               "5:16: step #1 of playbook \"p\": unknown step kind \"Log\" (known: exec, http, "
               "log)"},
        BadDoc{"StepUnknownKey", Steps("      - {kind: log, message: x, retries: 3}\n"),
               "5:33: unknown key \"retries\" in step #1 of playbook \"p\" (allowed: " +
                   std::string(kStepKeys) + ", message)"},
        BadDoc{"StepUnknownKeyExec", Steps("      - {kind: exec, argv: [a], message: x}\n"),
               "5:33: unknown key \"message\" in step #1 of playbook \"p\" (allowed: " +
                   std::string(kStepKeys) + ", argv, env, max_output_bytes)"},
        BadDoc{"StepDuplicateKey", Steps("      - {kind: log, message: x, message: y}\n"),
               "5:33: duplicate key \"message\" in step #1 of playbook \"p\""},
        BadDoc{"StepTimeoutZero", Steps("      - {kind: log, message: x, timeout: 0s}\n"),
               "5:42: step #1 of playbook \"p\": timeout must be greater than 0"},
        BadDoc{"StepTimeoutBad", Steps("      - {kind: log, message: x, timeout: 5 s}\n"),
               "5:42: step #1 of playbook \"p\": timeout: bad duration \"5 s\": unknown unit "
               "\" s\" at offset 1 (expected one of y, w, d, h, m, s, ms)"},
        BadDoc{"StepWhenBad", Steps("      - {kind: log, message: x, when: sometimes}\n"),
               "5:39: step #1 of playbook \"p\": when \"sometimes\" must be on_success, "
               "on_failure or always"},
        BadDoc{"StepBadName", Steps("      - {kind: log, message: x, name: \"a b\"}\n"),
               "5:39: step #1 of playbook \"p\": name \"a b\" must match "
               "[a-zA-Z_][a-zA-Z0-9_.-]*"},
        BadDoc{"StepDuplicateName",
               Steps("      - {kind: log, message: x, name: note}\n"
                     "      - {kind: log, message: y, name: note}\n"),
               "6:39: duplicate step name \"note\" (first at line 5)"},
        BadDoc{"StepDefaultNameTaken",
               Steps("      - {kind: log, message: x, name: log-2}\n"
                     "      - {kind: log, message: y}\n"),
               "6:9: step #2 of playbook \"p\": its default name \"log-2\" is taken by the step "
               "at line 5; give it a name"},
        BadDoc{"ResolveStepUnknownKind",
               Playbook("    steps: [{kind: log, message: x}]\n"
                        "    resolve_steps:\n"
                        "      - {kind: page}\n"),
               "6:16: resolve step #1 of playbook \"p\": unknown step kind \"page\" (known: exec, "
               "http, log)"},
        BadDoc{"NamedStepLabel", Steps("      - {kind: log, name: hello}\n"),
               "5:10: step \"hello\" of playbook \"p\": missing required key \"message\""}),
    [](const ::testing::TestParamInfo<BadDoc>& info) { return info.param.name; });

// ---- matching ----

Result<Config> Parse(const std::string& yaml) {
  return ParseConfig(yaml, "inline.yml", "", Registry());
}

TEST(ConfigTest, MatchesNeedsEveryMatcher) {
  Result<Config> c =
      Parse(Playbook("    match: {alertname: Breach, service: api}\n"
                     "    match_re: {severity: \"warning|critical\"}\n"
                     "    steps: [{kind: log, message: x}]\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const PlaybookConfig& p = c->playbooks[0];
  EXPECT_TRUE(p.Matches({{"alertname", "Breach"}, {"service", "api"}, {"severity", "warning"}}));
  EXPECT_TRUE(p.Matches({{"alertname", "Breach"},
                         {"service", "api"},
                         {"severity", "critical"},
                         {"extra", "labels are fine"}}));
  EXPECT_FALSE(p.Matches({{"alertname", "Breach"}, {"service", "web"}, {"severity", "warning"}}));
  EXPECT_FALSE(p.Matches({{"alertname", "Breach"}, {"service", "api"}, {"severity", "info"}}));
  EXPECT_FALSE(p.Matches({{"alertname", "Breach"}, {"service", "api"}}));  // severity missing
  // Anchored: the whole value must match.
  EXPECT_FALSE(p.Matches({{"alertname", "Breach"}, {"service", "api"}, {"severity", "warnings"}}));
  EXPECT_FALSE(p.Matches({{"alertname", "Breach"}, {"service", "api"}, {"severity", "xcritical"}}));
  // Equality is exact, case included.
  EXPECT_FALSE(p.Matches({{"alertname", "breach"}, {"service", "api"}, {"severity", "warning"}}));
}

TEST(ConfigTest, MissingLabelMatchesAsEmpty) {
  Result<Config> c = Parse(
      "journal: {path: j.db}\n"
      "playbooks:\n"
      "  - {name: no-team, match: {team: \"\"}, steps: [{kind: log, message: x}]}\n"
      "  - {name: any-team, match_re: {team: \".*\"}, steps: [{kind: log, message: x}]}\n"
      "  - {name: some-team, match_re: {team: \".+\"}, steps: [{kind: log, message: x}]}\n"
      "  - {name: everything, steps: [{kind: log, message: x}]}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto names = [&](const LabelSet& labels) {
    std::vector<std::string> out;
    for (const PlaybookConfig* p : c->Matching(labels)) out.push_back(p->name);
    return out;
  };
  EXPECT_THAT(names({{"alertname", "A"}}), ElementsAre("no-team", "any-team", "everything"));
  EXPECT_THAT(names({{"alertname", "A"}, {"team", "db"}}),
              ElementsAre("any-team", "some-team", "everything"));
  EXPECT_THAT(names({}), ElementsAre("no-team", "any-team", "everything"));
}

TEST(ConfigTest, MatchingKeepsFileOrderAndFindByName) {
  Result<Config> c = Parse(
      "journal: {path: j.db}\n"
      "playbooks:\n"
      "  - {name: b, match: {alertname: X}, steps: [{kind: log, message: x}]}\n"
      "  - {name: a, match_re: {alertname: \"X|Y\"}, steps: [{kind: log, message: x}]}\n"
      "  - {name: c, match: {alertname: Y}, steps: [{kind: log, message: x}]}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::vector<const PlaybookConfig*> x = c->Matching({{"alertname", "X"}});
  ASSERT_EQ(x.size(), 2u);
  EXPECT_EQ(x[0], &c->playbooks[0]);
  EXPECT_EQ(x[1], &c->playbooks[1]);
  std::vector<const PlaybookConfig*> y = c->Matching({{"alertname", "Y"}});
  ASSERT_EQ(y.size(), 2u);
  EXPECT_EQ(y[0]->name, "a");
  EXPECT_EQ(y[1]->name, "c");
  EXPECT_TRUE(c->Matching({{"alertname", "Z"}}).empty());
  EXPECT_EQ(c->Find("c"), &c->playbooks[2]);
  EXPECT_EQ(c->Find("d"), nullptr);
}

TEST(ConfigTest, RegexUsesEcmaScriptSyntax) {
  Result<Config> c =
      Parse(Playbook("    match_re: {instance: \"\\\\w+:\\\\d{2,4}\"}\n"
                     "    steps: [{kind: log, message: x}]\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const PlaybookConfig& p = c->playbooks[0];
  EXPECT_EQ(p.match_re[0].pattern, "\\w+:\\d{2,4}");
  EXPECT_TRUE(p.Matches({{"instance", "node1:9100"}}));
  EXPECT_FALSE(p.Matches({{"instance", "node1:9"}}));
}

TEST(ConfigTest, CooldownZeroTurnsItOff) {
  Result<Config> c = Parse(Playbook("    cooldown: 0s\n    steps: [{kind: log, message: x}]\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->playbooks[0].cooldown, milliseconds(0));
}

TEST(ConfigTest, WhenNames) {
  EXPECT_STREQ(WhenName(When::kOnSuccess), "on_success");
  EXPECT_STREQ(WhenName(When::kOnFailure), "on_failure");
  EXPECT_STREQ(WhenName(When::kAlways), "always");
}

// ---- the registry's kinds as the parser sees them ----

// Records what ParseConfig handed it.
class RecordingKind final : public ActionKind {
 public:
  struct Seen {
    std::vector<std::string> keys;
    std::string where;
    std::string base_dir;
  };
  explicit RecordingKind(Seen* seen) : seen_(seen) {}
  std::string name() const override { return "record"; }
  std::vector<std::string> keys() const override { return {"what"}; }
  Result<std::unique_ptr<Action>> Configure(const yaml::Fields& fields,
                                            const yaml::Decoder& decoder,
                                            const std::string& where) const override {
    return ConfigureRelativeTo(fields, decoder, where, "(none)");
  }
  Result<std::unique_ptr<Action>> ConfigureRelativeTo(const yaml::Fields& fields,
                                                      const yaml::Decoder& decoder,
                                                      const std::string& where,
                                                      const std::string& base_dir) const override {
    seen_->keys.clear();
    for (const auto& [key, field] : fields) seen_->keys.push_back(key);
    seen_->where = where;
    seen_->base_dir = base_dir;
    auto it = fields.find("what");
    if (it != fields.end() && it->second.value.Scalar() == "fail") {
      return decoder.Error(it->second, "refused");
    }
    return std::unique_ptr<Action>(std::make_unique<Noop>());
  }

 private:
  class Noop final : public Action {
   public:
    Result<std::string> Describe(const TemplateData&) const override { return std::string(); }
    StepResult Run(const StepContext&) const override { return {}; }
  };
  Seen* seen_;
};

TEST(ConfigTest, RegisteredKindGetsItsFieldsAndWhere) {
  RecordingKind::Seen seen;
  ActionRegistry registry = ActionRegistry::Default();
  registry.Register(std::make_unique<RecordingKind>(&seen));
  EXPECT_THAT(registry.Names(), ElementsAre("exec", "http", "log", "record"));
  Result<Config> c = ParseConfig(
      Playbook("    steps:\n      - {kind: record, what: x, timeout: 5s, when: always}\n"),
      "inline.yml", "/cfg", registry);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_THAT(seen.keys, ElementsAre("kind", "timeout", "what", "when"));
  EXPECT_EQ(seen.where, "in step #1 of playbook \"p\"");
  EXPECT_EQ(seen.base_dir, "/cfg");
  EXPECT_EQ(c->playbooks[0].steps[0].kind, "record");
  EXPECT_EQ(c->playbooks[0].steps[0].name, "record-1");

  Result<Config> bad = ParseConfig(Playbook("    steps:\n      - {kind: record, what: fail}\n"),
                                   "inline.yml", "/cfg", registry);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "inline.yml:5:30: refused");
  EXPECT_EQ(ErrorOf(Playbook("    steps:\n      - {kind: record}\n")),
            "inline.yml:5:16: step #1 of playbook \"p\": unknown step kind \"record\" (known: "
            "exec, http, log)");
}

// ---- secret files ----

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/webhook_config_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string dir_;
};

TEST_F(SecretFileTest, RemovesOneTrailingNewline) {
  Result<std::string> plain = ReadSecretFile(Write("a", "s3cret"));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(*plain, "s3cret");
  Result<std::string> newline = ReadSecretFile(Write("b", "s3cret\n"));
  ASSERT_TRUE(newline.ok());
  EXPECT_EQ(*newline, "s3cret");
  Result<std::string> crlf = ReadSecretFile(Write("c", "s3cret\r\n"));
  ASSERT_TRUE(crlf.ok());
  EXPECT_EQ(*crlf, "s3cret");
  Result<std::string> two = ReadSecretFile(Write("d", "s3cret\n\n"));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, "s3cret\n");
  Result<std::string> spaces = ReadSecretFile(Write("e", " pass word \n"));
  ASSERT_TRUE(spaces.ok());
  EXPECT_EQ(*spaces, " pass word ");
}

TEST_F(SecretFileTest, EmptyOrMissingIsAnErrorNamingTheFile) {
  const std::string empty = Write("empty", "");
  Result<std::string> e = ReadSecretFile(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(), "secret file " + empty + " is empty");
  const std::string newline = Write("newline", "\n");
  Result<std::string> n = ReadSecretFile(newline);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(), "secret file " + newline + " is empty");
  Result<std::string> missing = ReadSecretFile(dir_ + "/missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "cannot read secret file " + dir_ + "/missing: No such file or directory");
}

}  // namespace
}  // namespace foresight::webhook
