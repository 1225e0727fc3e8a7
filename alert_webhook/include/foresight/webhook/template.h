#pragma once

// The small subset of Go's text/template that Alertmanager and prometheus-am-executor users
// already write in playbooks: "{{ .Labels.service }}", "{{ .Annotations.summary }}",
// "{{ .Status }}", with any text around them. Everything else is a parse error at load time,
// so a playbook never fails later on a typo.
//
// Fields:
//   .Labels.<name>        the alert's label (<name> a Prometheus label name)
//   .Annotations.<name>   the alert's annotation
//   .Status               "firing" or "resolved" (a manual trigger: "firing")
//   .Fingerprint          the alert's fingerprint
//   .StartsAt .EndsAt     as Alertmanager sent them (RFC 3339)
//   .GeneratorURL .ExternalURL .Receiver
//   .Playbook             the playbook's name
//   .JobID                the job's id (decimal)
//   .Phase                "firing", "resolved" or "manual"
// Also `{{ index .Labels "name" }}` for names that are not identifiers is NOT supported; label
// names are always identifiers.
//
// Rendering a label or annotation the alert lacks is an error naming it ("label \"service\" is
// not set on the alert"): an exec step must never run with an empty argument in place of a
// service name. Whitespace inside the braces is free ("{{.Status}}" == "{{ .Status }}").
// "{{" can be written literally as "{{ \"{{\" }}".

#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/webhook/payload.h"

namespace foresight::webhook {

// What a template is rendered against.
struct TemplateData {
  const LabelSet* labels = nullptr;       // may be null: no labels
  const LabelSet* annotations = nullptr;  // may be null: no annotations
  std::string status;
  std::string fingerprint;
  std::string starts_at;
  std::string ends_at;
  std::string generator_url;
  std::string external_url;
  std::string receiver;
  std::string playbook;
  std::string job_id;
  std::string phase;
};

class Template {
 public:
  Template() = default;  // renders ""
  // Parse errors name the byte offset: "offset 12: unknown field \".Lables\"".
  static Result<Template> Parse(std::string_view text);
  // Every value a {{ }} action puts in goes through `escape` when given (literal text does
  // not): the http kind percent-encodes values in a URL and JSON-escapes them in a JSON body,
  // so that an alert's label can neither change a request's host or path nor its JSON shape.
  using Escape = std::string (*)(std::string_view);
  Result<std::string> Render(const TemplateData& data, Escape escape = nullptr) const;
  const std::string& source() const { return source_; }
  bool is_constant() const;  // no {{ }} actions

 private:
  struct Part {
    enum class Kind { kText, kLabel, kAnnotation, kField } kind = Kind::kText;
    std::string text;  // literal text, the label/annotation name, or the field name
  };
  std::string source_;
  std::vector<Part> parts_;
};

}  // namespace foresight::webhook
