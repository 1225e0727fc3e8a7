#include "foresight/webhook/template.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "foresight/webhook/payload.h"

namespace foresight::webhook {
namespace {

class TemplateTest : public testing::Test {
 protected:
  TemplateTest() {
    data_.labels = &labels_;
    data_.annotations = &annotations_;
    data_.status = "resolved";
    data_.fingerprint = "3b9c1a2f5e6d7a80";
    data_.starts_at = "2026-11-23T06:00:00.123456789Z";
    data_.ends_at = "2026-11-23T06:12:00Z";
    data_.generator_url = "http://prometheus:9090/graph?g0.expr=up";
    data_.external_url = "http://alertmanager:9093";
    data_.receiver = "foresight-webhook";
    data_.playbook = "restart-checkout";
    data_.job_id = "42";
    data_.phase = "resolved";
  }

  std::string Render(std::string_view text) {
    Result<Template> t = Template::Parse(text);
    EXPECT_TRUE(t.ok()) << text << ": " << t.status().message();
    if (!t.ok()) {
      return "<parse error>";
    }
    EXPECT_EQ(t->source(), text);
    Result<std::string> out = t->Render(data_);
    EXPECT_TRUE(out.ok()) << text << ": " << out.status().message();
    return out.ok() ? *out : "<render error>";
  }

  std::string ParseError(std::string_view text) {
    Result<Template> t = Template::Parse(text);
    EXPECT_FALSE(t.ok()) << "parsed: " << text;
    if (t.ok()) {
      return "";
    }
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    return t.status().message();
  }

  std::string RenderError(std::string_view text) {
    Result<Template> t = Template::Parse(text);
    EXPECT_TRUE(t.ok()) << text << ": " << t.status().message();
    if (!t.ok()) {
      return "";
    }
    Result<std::string> out = t->Render(data_);
    EXPECT_FALSE(out.ok()) << "rendered: " << text;
    if (out.ok()) {
      return "";
    }
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    return out.status().message();
  }

  LabelSet labels_{{"alertname", "ServiceDown"}, {"service", "checkout"}, {"city", "東京"}};
  LabelSet annotations_{{"summary", "checkout is down"}, {"runbook_url", "https://r/1"}};
  TemplateData data_;
};

TEST_F(TemplateTest, EveryField) {
  EXPECT_EQ(Render("{{ .Labels.service }}"), "checkout");
  EXPECT_EQ(Render("{{ .Labels.alertname }}"), "ServiceDown");
  EXPECT_EQ(Render("{{ .Annotations.summary }}"), "checkout is down");
  EXPECT_EQ(Render("{{ .Annotations.runbook_url }}"), "https://r/1");
  EXPECT_EQ(Render("{{ .Status }}"), "resolved");
  EXPECT_EQ(Render("{{ .Fingerprint }}"), "3b9c1a2f5e6d7a80");
  EXPECT_EQ(Render("{{ .StartsAt }}"), "2026-11-23T06:00:00.123456789Z");
  EXPECT_EQ(Render("{{ .EndsAt }}"), "2026-11-23T06:12:00Z");
  EXPECT_EQ(Render("{{ .GeneratorURL }}"), "http://prometheus:9090/graph?g0.expr=up");
  EXPECT_EQ(Render("{{ .ExternalURL }}"), "http://alertmanager:9093");
  EXPECT_EQ(Render("{{ .Receiver }}"), "foresight-webhook");
  EXPECT_EQ(Render("{{ .Playbook }}"), "restart-checkout");
  EXPECT_EQ(Render("{{ .JobID }}"), "42");
  EXPECT_EQ(Render("{{ .Phase }}"), "resolved");
}

TEST_F(TemplateTest, TextAroundActions) {
  EXPECT_EQ(Render("kubectl rollout restart deploy/{{ .Labels.service }} # {{.JobID}}"),
            "kubectl rollout restart deploy/checkout # 42");
  EXPECT_EQ(Render("{{.Status}}{{.Phase}}"), "resolvedresolved");
  EXPECT_EQ(Render("city={{ .Labels.city }} ✓"), "city=東京 ✓");
  EXPECT_EQ(Render("a\nb\t{{ .JobID }}\n"), "a\nb\t42\n");
}

TEST_F(TemplateTest, WhitespaceInsideBracesIsFree) {
  for (const char* text : {"{{.Status}}", "{{ .Status }}", "{{   .Status}}", "{{.Status   }}",
                           "{{\t.Status\t}}", "{{\n.Status\r\n}}"}) {
    EXPECT_EQ(Render(text), "resolved") << text;
  }
}

TEST_F(TemplateTest, LiteralText) {
  EXPECT_EQ(Render(""), "");
  EXPECT_EQ(Render("plain text"), "plain text");
  EXPECT_EQ(Render("{ .Status }"), "{ .Status }");
  EXPECT_EQ(Render("a { b } c"), "a { b } c");
  EXPECT_EQ(Render("{{ \"{{\" }}"), "{{");
  EXPECT_EQ(Render("{{\"{{\"}} .Status }}"), "{{ .Status }}");
  EXPECT_EQ(Render("{{ \"}}\" }}"), "}}");
  EXPECT_EQ(Render("{{ \"a\\\"b\\\\c\\n\\t\" }}"), "a\"b\\c\n\t");
  EXPECT_EQ(Render("{{ \"\" }}x"), "x");
}

// Go's text/template treats "}}" outside an action as text; so do we.
TEST_F(TemplateTest, StrayClosingBracesAreLiteral) {
  EXPECT_EQ(Render("a }} b"), "a }} b");
  EXPECT_EQ(Render("}}"), "}}");
  EXPECT_EQ(Render("{{ .JobID }} }}"), "42 }}");
  EXPECT_EQ(Render("{{ .JobID }}}}"), "42}}");
}

TEST_F(TemplateTest, IsConstant) {
  EXPECT_TRUE(Template().is_constant());
  EXPECT_TRUE(Template::Parse("echo hi").value().is_constant());
  EXPECT_TRUE(Template::Parse("echo {{ \"{{\" }}").value().is_constant());
  EXPECT_TRUE(Template::Parse("a }} b").value().is_constant());
  EXPECT_FALSE(Template::Parse("echo {{ .Status }}").value().is_constant());
  EXPECT_FALSE(Template::Parse("{{ .Labels.x }}").value().is_constant());
}

TEST_F(TemplateTest, DefaultRendersEmpty) {
  Template t;
  EXPECT_EQ(t.source(), "");
  Result<std::string> out = t.Render(data_);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "");
}

TEST_F(TemplateTest, UnknownField) {
  EXPECT_EQ(ParseError("echo {{ .Lables.service }}"), "offset 8: unknown field \".Lables\"");
  EXPECT_EQ(ParseError("{{.status}}"), "offset 2: unknown field \".status\"");
  EXPECT_EQ(ParseError("{{ .labels.service }}"), "offset 3: unknown field \".labels\"");
  EXPECT_EQ(ParseError("{{ .Alerts }}"), "offset 3: unknown field \".Alerts\"");
  EXPECT_EQ(ParseError("{{ .Status.x }}"), "offset 3: unknown field \".Status.x\"");
  EXPECT_EQ(ParseError("{{ .Labels.a.b }}"), "offset 3: unknown field \".Labels.a.b\"");
  EXPECT_EQ(ParseError("{{ .Labels }}"), "offset 3: .Labels needs a name, as in .Labels.service");
  EXPECT_EQ(ParseError("{{ .Annotations }}"),
            "offset 3: .Annotations needs a name, as in .Annotations.summary");
}

TEST_F(TemplateTest, UnclosedAction) {
  EXPECT_EQ(ParseError("restart {{ .Labels.service"),
            "offset 8: unclosed action: \"{{\" without \"}}\"");
  EXPECT_EQ(ParseError("{{"), "offset 0: unclosed action: \"{{\" without \"}}\"");
  EXPECT_EQ(ParseError("ok {{ .Status }} {{ "),
            "offset 17: unclosed action: \"{{\" without \"}}\"");
  EXPECT_EQ(ParseError("{{ .Status }"), "offset 0: unclosed action: \"{{\" without \"}}\"");
  EXPECT_EQ(ParseError("{{ \"a\" "), "offset 0: unclosed action: \"{{\" without \"}}\"");
}

TEST_F(TemplateTest, EmptyAction) {
  EXPECT_EQ(ParseError("{{}}"), "offset 0: empty action");
  EXPECT_EQ(ParseError("x {{   }}"), "offset 2: empty action");
}

TEST_F(TemplateTest, UnsupportedActions) {
  const std::string want =
      " (want .Labels.<name>, .Annotations.<name>, .Status, .Fingerprint, .StartsAt, .EndsAt, "
      ".GeneratorURL, .ExternalURL, .Receiver, .Playbook, .JobID, .Phase or a quoted string)";
  EXPECT_EQ(ParseError("{{ if .Status }}x{{ end }}"),
            "offset 3: unsupported action \"if .Status\"" + want);
  EXPECT_EQ(ParseError("{{- .Status }}"), "offset 2: unsupported action \"- .Status\"" + want);
  EXPECT_EQ(ParseError("{{ .Status -}}"), "offset 3: unsupported action \".Status -\"" + want);
  EXPECT_EQ(ParseError("{{ .Status | upper }}"),
            "offset 3: unsupported action \".Status | upper\"" + want);
  EXPECT_EQ(ParseError("{{ index .Labels \"a-b\" }}"),
            "offset 3: unsupported action \"index .Labels \\\"a-b\\\"\"" + want);
  EXPECT_EQ(ParseError("{{ .Labels.foo-bar }}"),
            "offset 3: unsupported action \".Labels.foo-bar\"" + want);
  EXPECT_EQ(ParseError("{{ . }}"), "offset 3: unsupported action \".\"" + want);
  EXPECT_EQ(ParseError("{{ $x }}"), "offset 3: unsupported action \"$x\"" + want);
  EXPECT_EQ(ParseError("{{/* note */}}"), "offset 2: unsupported action \"/* note */\"" + want);
  EXPECT_EQ(ParseError("{{ .Labels.1x }}"), "offset 3: unsupported action \".Labels.1x\"" + want);
  EXPECT_EQ(ParseError("{{ \"a\" \"b\" }}"),
            "offset 3: unsupported action \"\\\"a\\\" \\\"b\\\"\"" + want);
  EXPECT_EQ(ParseError("{{ \"a\" .Status }}"),
            "offset 3: unsupported action \"\\\"a\\\" .Status\"" + want);
}

TEST_F(TemplateTest, QuotedStringErrors) {
  EXPECT_EQ(ParseError("{{ \"abc }}"), "offset 3: unterminated quoted string");
  EXPECT_EQ(ParseError("{{ \"a\nb\" }}"), "offset 3: unterminated quoted string");
  EXPECT_EQ(ParseError("{{ \"a\\"), "offset 3: unterminated quoted string");
  EXPECT_EQ(ParseError("{{ \"\\x41\" }}"), "offset 4: unsupported escape \"\\\\x\" in a string");
  EXPECT_EQ(ParseError("{{ `raw` }}"),
            std::string("offset 3: unsupported action \"`raw`\" (want ") +
                ".Labels.<name>, .Annotations.<name>, .Status, "
                ".Fingerprint, .StartsAt, .EndsAt, .GeneratorURL, "
                ".ExternalURL, .Receiver, .Playbook, .JobID, .Phase "
                "or a quoted string)");
}

TEST_F(TemplateTest, LongActionsAreCutInErrors) {
  const std::string error = ParseError("{{ " + std::string(1000, 'x') + " }}");
  EXPECT_TRUE(error.starts_with("offset 3: unsupported action \"" + std::string(64, 'x') + "...\""))
      << error;
}

TEST_F(TemplateTest, MissingLabelIsAnError) {
  EXPECT_EQ(RenderError("restart {{ .Labels.namespace }}"),
            "label \"namespace\" is not set on the alert");
  // Prometheus has no empty labels: "" is the same as not set.
  labels_["namespace"] = "";
  EXPECT_EQ(RenderError("restart {{ .Labels.namespace }}"),
            "label \"namespace\" is not set on the alert");
  data_.labels = nullptr;
  EXPECT_EQ(RenderError("{{ .Labels.service }}"), "label \"service\" is not set on the alert");
}

TEST_F(TemplateTest, MissingAnnotationIsAnError) {
  EXPECT_EQ(RenderError("{{ .Annotations.description }}"),
            "annotation \"description\" is not set on the alert");
  annotations_["description"] = "";
  EXPECT_EQ(Render("[{{ .Annotations.description }}]"), "[]");
  data_.annotations = nullptr;
  EXPECT_EQ(RenderError("{{ .Annotations.summary }}"),
            "annotation \"summary\" is not set on the alert");
}

TEST_F(TemplateTest, EmptyFieldsRenderEmpty) {
  data_ = TemplateData();
  EXPECT_EQ(Render("[{{ .Status }}|{{ .Fingerprint }}|{{ .JobID }}|{{ .Phase }}]"), "[|||]");
}

TEST_F(TemplateTest, RenderingTwiceGivesTheSame) {
  Result<Template> t = Template::Parse("{{ .Labels.service }}-{{ .JobID }}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render(data_).value(), "checkout-42");
  data_.job_id = "43";
  EXPECT_EQ(t->Render(data_).value(), "checkout-43");
}

}  // namespace
}  // namespace foresight::webhook
