#include "foresight/webhook/action.h"

#include <utility>

#include "foresight/common/timeparse.h"

namespace foresight::webhook {
namespace {

// Environment variable names carry annotation names; anything but [A-Za-z0-9_] becomes '_'.
std::string EnvName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  return out;
}

// As prometheus-am-executor's timeToStr: Unix seconds, "0" for the zero time (Alertmanager's
// "0001-01-01T00:00:00Z" for an alert that has not ended) and for anything unparseable.
std::string UnixSeconds(const std::string& rfc3339) {
  if (rfc3339.empty() || rfc3339.starts_with("0001-01-01")) return "0";
  Result<int64_t> ms = ParseTimestampMs(rfc3339, 0);
  if (!ms.ok()) return "0";
  int64_t s = *ms / 1000;
  if (*ms < 0 && *ms % 1000 != 0) --s;  // floor, as Go's Time.Unix
  return std::to_string(s);
}

}  // namespace

void ActionRegistry::Register(std::unique_ptr<ActionKind> kind) {
  std::string name = kind->name();
  kinds_[name] = std::shared_ptr<const ActionKind>(std::move(kind));
}

const ActionKind* ActionRegistry::Find(std::string_view name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ActionRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, kind] : kinds_) out.push_back(name);
  return out;  // std::map keeps them sorted
}

ActionRegistry ActionRegistry::Default() {
  ActionRegistry registry;
  registry.Register(NewLogKind());
  registry.Register(NewExecKind());
  registry.Register(NewHttpKind());
  return registry;
}

Result<Template> DecodeTemplate(const yaml::Decoder& decoder, const yaml::Field& f,
                                const std::string& what) {
  Result<std::string> text = decoder.String(f, what);
  if (!text.ok()) return text.status();
  Result<Template> t = Template::Parse(*text);
  if (!t.ok()) {
    return decoder.Error(f, what + ": bad template: " + t.status().message());
  }
  return t;
}

std::map<std::string, std::string> AmxEnvironment(const TemplateData& data) {
  std::map<std::string, std::string> env;
  env["AMX_RECEIVER"] = data.receiver;
  env["AMX_STATUS"] = data.status;
  env["AMX_EXTERNAL_URL"] = data.external_url;
  env["AMX_ALERT_LEN"] = "1";
  const std::string alert = "AMX_ALERT_1_";
  env[alert + "STATUS"] = data.status;
  env[alert + "START"] = UnixSeconds(data.starts_at);
  env[alert + "END"] = UnixSeconds(data.ends_at);
  env[alert + "URL"] = data.generator_url;
  env[alert + "FINGERPRINT"] = data.fingerprint;
  if (data.labels != nullptr) {
    for (const auto& [name, value] : *data.labels) {
      env["AMX_LABEL_" + EnvName(name)] = value;
      env[alert + "LABEL_" + EnvName(name)] = value;
    }
  }
  if (data.annotations != nullptr) {
    for (const auto& [name, value] : *data.annotations) {
      env["AMX_ANNOTATION_" + EnvName(name)] = value;
      env[alert + "ANNOTATION_" + EnvName(name)] = value;
    }
  }
  env["FORESIGHT_PLAYBOOK"] = data.playbook;
  env["FORESIGHT_JOB_ID"] = data.job_id;
  env["FORESIGHT_PHASE"] = data.phase;
  return env;
}

}  // namespace foresight::webhook
