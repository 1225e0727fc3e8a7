#pragma once

// foresight_webhook's configuration file (config/webhook.yml is the reference):
//
//   web:
//     bearer_token_file: secrets/webhook-token     # and/or basic_auth
//     basic_auth: {username: alertmanager, password_file: secrets/webhook-password}
//     tls: {cert_file: ..., key_file: ...}
//     max_body_bytes: 4194304
//   journal:
//     path: /var/lib/foresight/journal.db
//     retention: 30d
//   limits:
//     max_concurrent_jobs: 4      # jobs running at once, across playbooks
//     max_queued_jobs: 10000      # beyond this, intake answers 503 (not persisted, retried)
//   dry_run: false                # every playbook: record, do not run
//   playbooks:
//     - name: scale-api
//       match: {alertname: ForesightPredictedThresholdBreach, service: api}   # equality
//       match_re: {severity: "warning|critical"}                             # anchored regex
//       target: "{{ .Labels.service }}"   # one active job per (playbook, target);
//                                         # default "{{ .Fingerprint }}"
//       cooldown: 30m                     # at most one firing job per target per cooldown
//                                         # (default 5m; 0s turns it off)
//       dry_run: false
//       steps:
//         - {kind: exec, argv: ["/usr/local/bin/notify", "{{ .Labels.service }}"], timeout: 60s}
//       resolve_steps: []
//
// Step keys common to every kind: kind (required), name (default "<kind>-<n>"), timeout
// (default 60s), when: on_success (default: every earlier step succeeded), on_failure (an
// earlier step failed), always. Other keys belong to the kind (action.h).
//
// Strict: unknown or repeated keys, wrong types, bad durations, templates that do not parse,
// invalid regexes and duplicate playbook names are errors naming file:line:column.
// Relative file paths are taken relative to the config file's directory.

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/webhook/action.h"
#include "foresight/webhook/payload.h"
#include "foresight/webhook/template.h"

namespace foresight::webhook {

struct BasicAuthConfig {
  std::string username;
  std::string password_file;
};

struct TlsConfig {
  std::string cert_file;
  std::string key_file;
};

struct WebConfig {
  std::string bearer_token_file;             // "" = no bearer auth
  std::optional<BasicAuthConfig> basic_auth;
  std::optional<TlsConfig> tls;
  size_t max_body_bytes = 4 << 20;
  bool HasAuth() const { return !bearer_token_file.empty() || basic_auth.has_value(); }
};

struct JournalConfig {
  std::string path;  // required
  std::chrono::milliseconds retention{30LL * 24 * 3600 * 1000};
};

struct LimitsConfig {
  int max_concurrent_jobs = 4;
  size_t max_queued_jobs = 10000;
};

enum class When { kOnSuccess, kOnFailure, kAlways };
const char* WhenName(When w);  // "on_success", "on_failure", "always"

struct StepConfig {
  std::string name;
  std::string kind;
  std::chrono::milliseconds timeout{60000};
  When when = When::kOnSuccess;
  std::shared_ptr<const Action> action;
};

struct RegexMatcher {
  std::string name;     // label name
  std::string pattern;  // as written
  std::regex regex;     // anchored: ^(?:pattern)$
};

struct PlaybookConfig {
  std::string name;
  LabelSet match;
  std::vector<RegexMatcher> match_re;
  Template target;  // default "{{ .Fingerprint }}"
  // Default 5m: Alertmanager re-sends a notification whose answer it did not get, and a job
  // that already finished must not run again for that.
  std::chrono::milliseconds cooldown{5LL * 60 * 1000};
  bool dry_run = false;
  std::vector<StepConfig> steps;          // at least one
  std::vector<StepConfig> resolve_steps;  // may be empty

  // Every `match` label equal and every `match_re` label matching (a missing label is "").
  bool Matches(const LabelSet& labels) const;
};

struct Config {
  std::string file;  // where it was loaded from ("" when parsed from text)
  WebConfig web;
  JournalConfig journal;
  LimitsConfig limits;
  bool dry_run = false;
  std::vector<PlaybookConfig> playbooks;  // at least one

  const PlaybookConfig* Find(std::string_view name) const;
  // The playbooks whose matchers accept these labels, in file order.
  std::vector<const PlaybookConfig*> Matching(const LabelSet& labels) const;
};

// `base_dir` resolves relative paths ("" leaves them as written).
Result<Config> ParseConfig(std::string_view yaml_text, std::string_view file_name,
                           const std::string& base_dir, const ActionRegistry& registry);
Result<Config> LoadConfig(const std::string& path, const ActionRegistry& registry);

// Reads a secret file (token, password): the content with one trailing newline removed. Errors
// name the file; an empty secret is an error.
Result<std::string> ReadSecretFile(const std::string& path);

}  // namespace foresight::webhook
