// kind "log": writes a rendered message to the daemon's log. The simplest step, for playbooks
// that only record (and for trying a matcher before it runs anything).
//
//   - {kind: log, message: "{{ .Labels.service }} will breach {{ .Labels.threshold }}"}

#include <utility>

#include "foresight/common/log.h"
#include "foresight/webhook/action.h"

namespace foresight::webhook {
namespace {

class LogAction final : public Action {
 public:
  explicit LogAction(Template message) : message_(std::move(message)) {}

  Result<std::string> Describe(const TemplateData& data) const override {
    return message_.Render(data);
  }

  StepResult Run(const StepContext& ctx) const override {
    StepResult result;
    Result<std::string> message = message_.Render(*ctx.data);
    if (!message.ok()) {
      result.state = StepState::kFailed;
      result.error = message.status().message();
      return result;
    }
    log::Info("playbook step", {{"kind", "log"},
                                {"playbook", ctx.data->playbook},
                                {"job", ctx.data->job_id},
                                {"phase", ctx.data->phase},
                                {"fingerprint", ctx.data->fingerprint},
                                {"message", *message}});
    result.output = std::move(*message);
    return result;
  }

 private:
  Template message_;
};

class LogKind final : public ActionKind {
 public:
  std::string name() const override { return "log"; }
  std::vector<std::string> keys() const override { return {"message"}; }

  Result<std::unique_ptr<Action>> Configure(const yaml::Fields& fields,
                                            const yaml::Decoder& decoder,
                                            const std::string& where) const override {
    const std::string label = where.starts_with("in ") ? where.substr(3) : where;
    auto it = fields.find("message");
    if (it == fields.end()) {
      auto kind = fields.find("kind");
      return decoder.Error(kind == fields.end() ? YAML::Mark::null_mark() : kind->second.key.Mark(),
                           label + ": missing required key \"message\"");
    }
    Result<Template> message = DecodeTemplate(decoder, it->second, label + ": message");
    if (!message.ok()) return message.status();
    return std::unique_ptr<Action>(std::make_unique<LogAction>(std::move(*message)));
  }
};

}  // namespace

std::unique_ptr<ActionKind> NewLogKind() { return std::make_unique<LogKind>(); }

}  // namespace foresight::webhook
