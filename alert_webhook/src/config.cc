#include "foresight/webhook/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "foresight/yaml/decoder.h"

namespace foresight::webhook {
namespace {

using std::chrono::milliseconds;
using yaml::Field;
using yaml::Fields;
using yaml::Join;
using yaml::Quote;
using yaml::ValidLabelName;

using yaml::ResolvePath;

const Field* Find(const Fields& fields, const char* key) {
  auto it = fields.find(key);
  return it == fields.end() ? nullptr : &it->second;
}

// Decodes one config document; every error carries "file:line:column: ".
class Decoder : public yaml::Decoder {
 public:
  Decoder(std::string_view file, std::string base_dir, const ActionRegistry& registry)
      : yaml::Decoder(file), base_dir_(std::move(base_dir)), registry_(registry) {}

  Result<Config> Document(const YAML::Node& root) const {
    if (!root.IsDefined() || root.IsNull()) {
      return Error(YAML::Mark::null_mark(),
                   "empty config: want a map with the keys \"journal\" and \"playbooks\"");
    }
    if (!root.IsMap()) {
      return Error(root, std::string("the top level must be a map with the keys \"journal\" and "
                                     "\"playbooks\", got ") +
                             Kind(root));
    }
    static const std::vector<std::string> kKeys = {"web", "journal", "limits", "dry_run",
                                                   "playbooks"};
    Result<Fields> fields = FieldsOf(root, "at the top level", kKeys);
    if (!fields.ok()) return fields.status();
    for (const char* key : {"journal", "playbooks"}) {
      if (!Find(*fields, key)) {
        return Error(root, std::string("missing required key ") + Quote(key) + " at the top level");
      }
    }

    Config config;
    if (const Field* f = Find(*fields, "web")) {
      Result<WebConfig> web = Web(*f);
      if (!web.ok()) return web.status();
      config.web = std::move(*web);
    }
    Result<JournalConfig> journal = Journal(*Find(*fields, "journal"));
    if (!journal.ok()) return journal.status();
    config.journal = std::move(*journal);
    if (const Field* f = Find(*fields, "limits")) {
      Result<LimitsConfig> limits = Limits(*f);
      if (!limits.ok()) return limits.status();
      config.limits = *limits;
    }
    if (const Field* f = Find(*fields, "dry_run")) {
      Result<bool> b = Bool(*f, "dry_run");
      if (!b.ok()) return b.status();
      config.dry_run = *b;
    }

    const Field& playbooks = *Find(*fields, "playbooks");
    FORESIGHT_RETURN_IF_ERROR(NonEmptyList(playbooks, "playbooks", "playbooks"));
    std::map<std::string, YAML::Mark> names;
    int index = 0;
    for (const YAML::Node& item : playbooks.value) {
      ++index;
      Result<PlaybookConfig> playbook = Playbook(item, index, &names);
      if (!playbook.ok()) return playbook.status();
      config.playbooks.push_back(std::move(*playbook));
    }
    return config;
  }

 private:
  // ---- web, journal, limits ----

  Result<WebConfig> Web(const Field& f) const {
    if (!f.value.IsMap()) return Error(f, std::string("web must be a map, got ") + Kind(f.value));
    static const std::vector<std::string> kKeys = {"bearer_token_file", "basic_auth", "tls",
                                                   "max_body_bytes"};
    Result<Fields> fields = FieldsOf(f.value, "in web", kKeys);
    if (!fields.ok()) return fields.status();
    WebConfig web;
    if (const Field* token = Find(*fields, "bearer_token_file")) {
      Result<std::string> s = NonEmptyString(*token, "web: bearer_token_file");
      if (!s.ok()) return s.status();
      web.bearer_token_file = ResolvePath(base_dir_, *s);
    }
    if (const Field* auth = Find(*fields, "basic_auth")) {
      if (!auth->value.IsMap()) {
        return Error(*auth, std::string("web: basic_auth must be a map with username and "
                                        "password_file, got ") +
                                Kind(auth->value));
      }
      static const std::vector<std::string> kAuthKeys = {"username", "password_file"};
      Result<Fields> auth_fields = FieldsOf(auth->value, "in web basic_auth", kAuthKeys);
      if (!auth_fields.ok()) return auth_fields.status();
      for (const char* key : {"username", "password_file"}) {
        if (!Find(*auth_fields, key)) {
          return Error(auth->value,
                       std::string("web basic_auth: missing required key ") + Quote(key));
        }
      }
      BasicAuthConfig basic;
      Result<std::string> user =
          NonEmptyString(*Find(*auth_fields, "username"), "web basic_auth: username");
      if (!user.ok()) return user.status();
      basic.username = *user;
      if (basic.username.find(':') != std::string::npos) {
        return Error(*Find(*auth_fields, "username"),
                     "web basic_auth: username must not contain \":\"");
      }
      Result<std::string> file =
          NonEmptyString(*Find(*auth_fields, "password_file"), "web basic_auth: password_file");
      if (!file.ok()) return file.status();
      basic.password_file = ResolvePath(base_dir_, *file);
      web.basic_auth = std::move(basic);
    }
    if (const Field* tls = Find(*fields, "tls")) {
      if (!tls->value.IsMap()) {
        return Error(*tls, std::string("web: tls must be a map with cert_file and key_file, got ") +
                               Kind(tls->value));
      }
      static const std::vector<std::string> kTlsKeys = {"cert_file", "key_file"};
      Result<Fields> tls_fields = FieldsOf(tls->value, "in web tls", kTlsKeys);
      if (!tls_fields.ok()) return tls_fields.status();
      for (const char* key : {"cert_file", "key_file"}) {
        if (!Find(*tls_fields, key)) {
          return Error(tls->value, std::string("web tls: missing required key ") + Quote(key));
        }
      }
      TlsConfig config;
      Result<std::string> cert =
          NonEmptyString(*Find(*tls_fields, "cert_file"), "web tls: cert_file");
      if (!cert.ok()) return cert.status();
      Result<std::string> key = NonEmptyString(*Find(*tls_fields, "key_file"), "web tls: key_file");
      if (!key.ok()) return key.status();
      config.cert_file = ResolvePath(base_dir_, *cert);
      config.key_file = ResolvePath(base_dir_, *key);
      web.tls = std::move(config);
    }
    if (const Field* max = Find(*fields, "max_body_bytes")) {
      Result<int64_t> n = PositiveInt(*max, "web: max_body_bytes");
      if (!n.ok()) return n.status();
      web.max_body_bytes = static_cast<size_t>(*n);
    }
    return web;
  }

  Result<JournalConfig> Journal(const Field& f) const {
    if (!f.value.IsMap()) {
      return Error(
          f, std::string("journal must be a map with the key \"path\", got ") + Kind(f.value));
    }
    static const std::vector<std::string> kKeys = {"path", "retention"};
    Result<Fields> fields = FieldsOf(f.value, "in journal", kKeys);
    if (!fields.ok()) return fields.status();
    const Field* path = Find(*fields, "path");
    if (!path) return Error(f.value, "journal: missing required key \"path\"");
    JournalConfig journal;
    Result<std::string> s = NonEmptyString(*path, "journal: path");
    if (!s.ok()) return s.status();
    journal.path = ResolvePath(base_dir_, *s);
    if (const Field* retention = Find(*fields, "retention")) {
      Result<milliseconds> d = PositiveDuration(*retention, "journal: retention");
      if (!d.ok()) return d.status();
      journal.retention = *d;
    }
    return journal;
  }

  Result<LimitsConfig> Limits(const Field& f) const {
    if (!f.value.IsMap()) {
      return Error(f, std::string("limits must be a map, got ") + Kind(f.value));
    }
    static const std::vector<std::string> kKeys = {"max_concurrent_jobs", "max_queued_jobs"};
    Result<Fields> fields = FieldsOf(f.value, "in limits", kKeys);
    if (!fields.ok()) return fields.status();
    LimitsConfig limits;
    if (const Field* jobs = Find(*fields, "max_concurrent_jobs")) {
      Result<int64_t> n = PositiveInt(*jobs, "limits: max_concurrent_jobs");
      if (!n.ok()) return n.status();
      if (*n > INT_MAX) {
        return Error(*jobs,
                     "limits: max_concurrent_jobs must be at most " + std::to_string(INT_MAX));
      }
      limits.max_concurrent_jobs = static_cast<int>(*n);
    }
    if (const Field* queued = Find(*fields, "max_queued_jobs")) {
      Result<int64_t> n = PositiveInt(*queued, "limits: max_queued_jobs");
      if (!n.ok()) return n.status();
      limits.max_queued_jobs = static_cast<size_t>(*n);
    }
    return limits;
  }

  // ---- playbooks ----

  Result<PlaybookConfig> Playbook(const YAML::Node& item, int index,
                                  std::map<std::string, YAML::Mark>* names) const {
    const std::string label = Label(item, "playbook", index);
    if (!item.IsMap()) return Error(item, label + " must be a map, got " + Kind(item));
    static const std::vector<std::string> kKeys = {
        "name", "match", "match_re", "target", "cooldown", "dry_run", "steps", "resolve_steps"};
    Result<Fields> fields = FieldsOf(item, "in " + label, kKeys);
    if (!fields.ok()) return fields.status();
    for (const char* key : {"name", "steps"}) {
      if (!Find(*fields, key)) {
        return Error(item, label + ": missing required key " + Quote(key));
      }
    }

    PlaybookConfig playbook;
    const Field& name_field = *Find(*fields, "name");
    Result<std::string> name = Name(name_field, label + ": name");
    if (!name.ok()) return name.status();
    FORESIGHT_RETURN_IF_ERROR(Unique(name_field, "playbook", *name, names));
    playbook.name = *name;

    if (const Field* f = Find(*fields, "match")) {
      Result<LabelSet> match = StringMap(*f, label + ": match", &ValidLabelName, "label name");
      if (!match.ok()) return match.status();
      playbook.match = std::move(*match);
    }
    if (const Field* f = Find(*fields, "match_re")) {
      Result<LabelSet> patterns =
          StringMap(*f, label + ": match_re", &ValidLabelName, "label name");
      if (!patterns.ok()) return patterns.status();
      // In file order, so the first bad pattern is the one reported.
      for (auto it = f->value.begin(); it != f->value.end(); ++it) {
        const std::string& key = it->first.Scalar();
        const std::string& pattern = patterns->at(key);
        RegexMatcher m;
        m.name = key;
        m.pattern = pattern;
        try {
          m.regex = std::regex("^(?:" + pattern + ")$", std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          return Error(Field{it->first, it->second}, label + ": match_re[" + Quote(key) +
                                                         "]: invalid regex " + Quote(pattern) +
                                                         ": " + e.what());
        }
        playbook.match_re.push_back(std::move(m));
      }
    }
    if (const Field* f = Find(*fields, "target")) {
      // "" would make every alert one target.
      FORESIGHT_RETURN_IF_ERROR(NonEmptyString(*f, label + ": target").status());
      Result<Template> t = DecodeTemplate(*this, *f, label + ": target");
      if (!t.ok()) return t.status();
      playbook.target = std::move(*t);
    } else {
      Result<Template> t = Template::Parse("{{ .Fingerprint }}");
      if (!t.ok()) return Internal("the default target does not parse: " + t.status().message());
      playbook.target = std::move(*t);
    }
    if (const Field* f = Find(*fields, "cooldown")) {
      Result<milliseconds> d = Duration(*f, label + ": cooldown");
      if (!d.ok()) return d.status();
      playbook.cooldown = *d;
    }
    if (const Field* f = Find(*fields, "dry_run")) {
      Result<bool> b = Bool(*f, label + ": dry_run");
      if (!b.ok()) return b.status();
      playbook.dry_run = *b;
    }

    const Field& steps = *Find(*fields, "steps");
    FORESIGHT_RETURN_IF_ERROR(NonEmptyList(steps, label + ": steps", "steps"));
    Result<std::vector<StepConfig>> firing = Steps(steps, "step", label);
    if (!firing.ok()) return firing.status();
    playbook.steps = std::move(*firing);
    if (const Field* f = Find(*fields, "resolve_steps")) {
      FORESIGHT_RETURN_IF_ERROR(List(*f, label + ": resolve_steps", "steps"));
      Result<std::vector<StepConfig>> resolve = Steps(*f, "resolve step", label);
      if (!resolve.ok()) return resolve.status();
      playbook.resolve_steps = std::move(*resolve);
    }
    return playbook;
  }

  // A list of steps; names are unique within it.
  Result<std::vector<StepConfig>> Steps(const Field& list, const std::string& kind,
                                        const std::string& playbook_label) const {
    std::vector<StepConfig> out;
    std::map<std::string, YAML::Mark> names;
    int index = 0;
    for (const YAML::Node& item : list.value) {
      ++index;
      Result<StepConfig> step = Step(item, index, kind, playbook_label, &names);
      if (!step.ok()) return step.status();
      out.push_back(std::move(*step));
    }
    return out;
  }

  Result<StepConfig> Step(const YAML::Node& item, int index, const std::string& kind_label,
                          const std::string& playbook_label,
                          std::map<std::string, YAML::Mark>* names) const {
    const std::string label = Label(item, kind_label, index) + " of " + playbook_label;
    if (!item.IsMap()) {
      return Error(
          item, label + " must be a map such as {kind: log, message: \"...\"}, got " + Kind(item));
    }
    // The kind decides which other keys are allowed, so it is read before the strict pass.
    const ActionKind* kind = nullptr;
    for (auto it = item.begin(); it != item.end(); ++it) {
      if (!it->first.IsScalar() || it->first.Scalar() != "kind") continue;
      Result<std::string> name = String(Field{it->first, it->second}, label + ": kind");
      if (!name.ok()) return name.status();
      kind = registry_.Find(*name);
      if (kind == nullptr) {
        return Error(Field{it->first, it->second}, label + ": unknown step kind " + Quote(*name) +
                                                       " (known: " + Join(registry_.Names()) + ")");
      }
      break;
    }
    if (kind == nullptr) return Error(item, label + ": missing required key \"kind\"");

    std::vector<std::string> keys = {"kind", "name", "timeout", "when"};
    for (const std::string& key : kind->keys()) keys.push_back(key);
    Result<Fields> fields = FieldsOf(item, "in " + label, keys);
    if (!fields.ok()) return fields.status();

    StepConfig step;
    step.kind = kind->name();
    if (const Field* f = Find(*fields, "name")) {
      Result<std::string> name = Name(*f, label + ": name");
      if (!name.ok()) return name.status();
      FORESIGHT_RETURN_IF_ERROR(Unique(*f, "step", *name, names));
      step.name = *name;
    } else {
      step.name = step.kind + "-" + std::to_string(index);
      auto [it, inserted] = names->emplace(step.name, item.Mark());
      if (!inserted) {
        return Error(item, label + ": its default name " + Quote(step.name) +
                               " is taken by the step at line " +
                               std::to_string(it->second.line + 1) + "; give it a name");
      }
    }
    if (const Field* f = Find(*fields, "timeout")) {
      Result<milliseconds> d = PositiveDuration(*f, label + ": timeout");
      if (!d.ok()) return d.status();
      step.timeout = *d;
    }
    if (const Field* f = Find(*fields, "when")) {
      Result<std::string> s = String(*f, label + ": when");
      if (!s.ok()) return s.status();
      if (*s == "on_success") {
        step.when = When::kOnSuccess;
      } else if (*s == "on_failure") {
        step.when = When::kOnFailure;
      } else if (*s == "always") {
        step.when = When::kAlways;
      } else {
        return Error(*f,
                     label + ": when " + Quote(*s) + " must be on_success, on_failure or always");
      }
    }
    Result<std::unique_ptr<Action>> action =
        kind->ConfigureRelativeTo(*fields, *this, "in " + label, base_dir_);
    if (!action.ok()) return action.status();
    step.action = std::shared_ptr<const Action>(std::move(*action));
    return step;
  }

  std::string base_dir_;
  const ActionRegistry& registry_;
};

}  // namespace

const char* WhenName(When w) {
  switch (w) {
    case When::kOnSuccess:
      return "on_success";
    case When::kOnFailure:
      return "on_failure";
    case When::kAlways:
      return "always";
  }
  return "unknown";
}

bool PlaybookConfig::Matches(const LabelSet& labels) const {
  static const std::string kEmpty;
  auto value = [&](const std::string& name) -> const std::string& {
    auto it = labels.find(name);
    return it == labels.end() ? kEmpty : it->second;
  };
  for (const auto& [name, want] : match) {
    if (value(name) != want) return false;
  }
  for (const RegexMatcher& m : match_re) {
    if (!std::regex_match(value(m.name), m.regex)) return false;
  }
  return true;
}

const PlaybookConfig* Config::Find(std::string_view name) const {
  for (const PlaybookConfig& p : playbooks) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::vector<const PlaybookConfig*> Config::Matching(const LabelSet& labels) const {
  std::vector<const PlaybookConfig*> out;
  for (const PlaybookConfig& p : playbooks) {
    if (p.Matches(labels)) out.push_back(&p);
  }
  return out;
}

Result<Config> ParseConfig(std::string_view yaml_text, std::string_view file_name,
                           const std::string& base_dir, const ActionRegistry& registry) {
  Result<YAML::Node> root = yaml::ParseYaml(yaml_text, file_name);
  if (!root.ok()) return root.status();
  Decoder decoder(file_name, base_dir, registry);
  try {
    return decoder.Document(*root);
  } catch (const YAML::Exception& e) {
    return decoder.Error(e.mark, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return Internal(std::string(file_name) + ": decoding failed: " + e.what());
  }
}

Result<Config> LoadConfig(const std::string& path, const ActionRegistry& registry) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return NotFound("cannot read config file " + path);
  Result<Config> config =
      ParseConfig(text.str(), path, std::filesystem::path(path).parent_path().string(), registry);
  if (config.ok()) config->file = path;
  return config;
}

Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return NotFound("cannot read secret file " + path + ": " + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return NotFound("cannot read secret file " + path);
  std::string secret = text.str();
  if (secret.ends_with("\r\n")) {
    secret.resize(secret.size() - 2);
  } else if (secret.ends_with('\n')) {
    secret.pop_back();
  }
  if (secret.empty()) return InvalidArgument("secret file " + path + " is empty");
  return secret;
}

}  // namespace foresight::webhook
