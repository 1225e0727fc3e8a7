#pragma once

// Action kinds: what a playbook step can do. This issue ships `log`, `exec` and `http`; chaos
// validation, scaling and tuning arrive later as further kinds registered the same way. A kind
// decodes its own keys of a step (strictly, with file:line:column errors) into an Action, and
// the engine runs Actions without knowing what they are.
//
// An Action is immutable once configured and Run may be called from several job threads at once.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/webhook/journal.h"
#include "foresight/webhook/template.h"
#include "foresight/yaml/decoder.h"

namespace foresight::webhook {

struct StepContext {
  const TemplateData* data = nullptr;  // the alert and job the step runs for
  std::chrono::milliseconds timeout{60000};
  // Set when the job is aborted (POST /api/v1/jobs/{id}/abort) or the daemon shuts down. A
  // running action stops as soon as it can (exec: SIGTERM to its process group, then SIGKILL)
  // and returns kAborted.
  const std::atomic<bool>* abort = nullptr;
};

struct StepResult {
  StepState state = StepState::kSucceeded;  // kSucceeded, kFailed, kTimedOut or kAborted
  std::optional<int> exit_code;             // exec: exit status; http: response status
  std::string output;                       // at most the action's output limit
  bool output_truncated = false;
  std::string error;  // for anything but kSucceeded: why, in one line
};

class Action {
 public:
  virtual ~Action() = default;
  // What the step will do, rendered for this alert (argv as JSON, "POST https://...", the
  // message). Recorded in the journal before Run, and all a dry run does. An error (a label
  // the alert lacks) fails the step without running it.
  virtual Result<std::string> Describe(const TemplateData& data) const = 0;
  virtual StepResult Run(const StepContext& ctx) const = 0;
};

class ActionKind {
 public:
  virtual ~ActionKind() = default;
  virtual std::string name() const = 0;
  // The keys this kind accepts in a step, besides the common ones (name, kind, timeout, when).
  virtual std::vector<std::string> keys() const = 0;
  // Builds the action from the step's fields (common keys included; ignore them). `where`
  // names the step for messages: "in step #2 of playbook \"scale-api\"".
  virtual Result<std::unique_ptr<Action>> Configure(const yaml::Fields& fields,
                                                    const yaml::Decoder& decoder,
                                                    const std::string& where) const = 0;
  // Configure, with the directory that relative file paths in the step are taken from (the
  // config file's; "" leaves them as written). ParseConfig calls this one; kinds with file keys
  // (http's bearer_token_file) override it, the others keep this default.
  virtual Result<std::unique_ptr<Action>> ConfigureRelativeTo(const yaml::Fields& fields,
                                                              const yaml::Decoder& decoder,
                                                              const std::string& where,
                                                              const std::string& base_dir) const {
    return Configure(fields, decoder, where);
  }
};

// The kinds ActionRegistry::Default() registers, for tests that need them alone or tuned.
// `kill_grace`: how long an exec step's process group has between SIGTERM and SIGKILL.
std::unique_ptr<ActionKind> NewLogKind();
std::unique_ptr<ActionKind> NewExecKind(
    std::chrono::milliseconds kill_grace = std::chrono::seconds(5));
std::unique_ptr<ActionKind> NewHttpKind();

// For ActionKind::Configure: a string field parsed as a template. Errors name the field's
// file:line:column: "<what>: bad template: offset 3: unknown field \".Lables\"".
Result<Template> DecodeTemplate(const yaml::Decoder& decoder, const yaml::Field& f,
                                const std::string& what);

class ActionRegistry {
 public:
  // Replaces a kind of the same name.
  void Register(std::unique_ptr<ActionKind> kind);
  const ActionKind* Find(std::string_view name) const;
  std::vector<std::string> Names() const;  // sorted

  // log, exec and http.
  static ActionRegistry Default();

 private:
  std::map<std::string, std::shared_ptr<const ActionKind>, std::less<>> kinds_;
};

// The AMX_* environment prometheus-am-executor gives its commands, for one alert:
//   AMX_RECEIVER, AMX_STATUS, AMX_EXTERNAL_URL, AMX_ALERT_LEN=1,
//   AMX_LABEL_<name>, AMX_ANNOTATION_<name> (the alert's; am-executor's "common" ones),
//   AMX_ALERT_1_STATUS, AMX_ALERT_1_START, AMX_ALERT_1_END (Unix seconds),
//   AMX_ALERT_1_URL, AMX_ALERT_1_FINGERPRINT, AMX_ALERT_1_LABEL_<name>,
//   AMX_ALERT_1_ANNOTATION_<name>,
// plus ours: FORESIGHT_PLAYBOOK, FORESIGHT_JOB_ID, FORESIGHT_PHASE.
// Annotation names that are not identifiers have other bytes replaced by '_'.
std::map<std::string, std::string> AmxEnvironment(const TemplateData& data);

}  // namespace foresight::webhook
