// libFuzzer target for the first code that untrusted webhook bytes meet.
//
// Every input goes to ParseNotification. A parsed notification must keep the parser's promises
// (version "4", at least one alert and no more than the limit, non-empty fingerprints, an
// alertname on every alert, valid label names, label sets within the limit, ends_at_ms 0 when
// there is no endsAt) and every label set must survive LabelsToJson then LabelsFromJson. A
// refused one must carry a kind and a short, one-line, valid UTF-8 message: error text goes to
// logs and HTTP responses. The same bytes are also parsed as a template, which must render
// (constant templates) or fail cleanly.
//
// Seeds live in fuzz/corpus/. Run on a scratch copy so new inputs stay out of the repository:
//   cp -r alert_webhook/fuzz/corpus /tmp/corpus && ./webhook_payload_fuzz -max_total_time=60 \
//     /tmp/corpus

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "foresight/webhook/payload.h"
#include "foresight/webhook/template.h"

namespace foresight::webhook {
namespace {

// Small, so the fuzzer reaches the limit checks with small inputs.
constexpr size_t kMaxAlerts = 8;
constexpr size_t kMaxLabels = 16;
constexpr size_t kMaxMessageBytes = 1024;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "webhook_payload_fuzz: broken promise: %s\n", what);
    std::abort();
  }
}

bool IsLabelName(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

// Structural UTF-8 check: lead bytes and continuation counts.
bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const size_t n = b < 0x80           ? 1
                     : (b >> 5) == 0x6  ? 2
                     : (b >> 4) == 0xE  ? 3
                     : (b >> 3) == 0x1E ? 4
                                        : 0;
    if (n == 0 || i + n > s.size()) {
      return false;
    }
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += n;
  }
  return true;
}

void CheckRoundTrip(const LabelSet& labels) {
  Result<LabelSet> back = LabelsFromJson(LabelsToJson(labels));
  Check(back.ok(), "LabelsFromJson reads what LabelsToJson wrote");
  Check(*back == labels, "LabelsFromJson(LabelsToJson(x)) == x");
}

void CheckLabelSet(const LabelSet& labels, bool label_names) {
  Check(labels.size() <= kMaxLabels, "label sets stay within max_labels_per_set");
  for (const auto& [name, value] : labels) {
    Check(!label_names || IsLabelName(name), "label names are Prometheus label names");
    Check(!name.empty(), "names are non-empty");
    Check(IsUtf8(name) && IsUtf8(value), "names and values are UTF-8");
  }
  CheckRoundTrip(labels);
}

void CheckNotification(const Notification& n) {
  Check(n.version == "4", "version is \"4\"");
  Check(!n.alerts.empty(), "at least one alert");
  Check(n.alerts.size() <= kMaxAlerts, "no more alerts than max_alerts");
  Check(n.truncated_alerts >= 0, "truncated_alerts is non-negative");
  CheckLabelSet(n.group_labels, true);
  CheckLabelSet(n.common_labels, true);
  CheckLabelSet(n.common_annotations, false);
  for (const Alert& a : n.alerts) {
    Check(!a.fingerprint.empty(), "fingerprint non-empty");
    auto name = a.labels.find("alertname");
    Check(name != a.labels.end(), "labels have alertname");
    Check(!name->second.empty(), "alertname non-empty");
    CheckLabelSet(a.labels, true);
    CheckLabelSet(a.annotations, false);
    Check(!a.starts_at.empty(), "startsAt is set");
    Check(!a.ends_at.empty() || a.ends_at_ms == 0, "no endsAt means ends_at_ms 0");
  }
}

void CheckError(const ParseResult& r) {
  Check(r.kind != ParseErrorKind::kNone, "a failed parse has a kind");
  Check(r.status.code() == StatusCode::kInvalidArgument, "parse errors are InvalidArgument");
  const std::string& m = r.status.message();
  Check(!m.empty() && m.size() <= kMaxMessageBytes, "error messages are short");
  Check(m.find('\n') == std::string::npos, "error messages are one line");
  Check(IsUtf8(m), "error messages are UTF-8");
  Check((r.kind == ParseErrorKind::kMalformedJson) == m.starts_with("malformed JSON"),
        "malformed JSON and only that says so");
}

void FuzzTemplate(std::string_view text) {
  Result<Template> t = Template::Parse(text);
  if (!t.ok()) {
    Check(t.status().message().starts_with("offset "), "template parse errors name the offset");
    return;
  }
  Check(t->source() == text, "source() is the text");
  static const LabelSet labels = {{"alertname", "A"}, {"service", "checkout"}};
  TemplateData data;
  data.labels = &labels;
  data.status = "firing";
  Result<std::string> out = t->Render(data);
  Check(!t->is_constant() || out.ok(), "constant templates render");
  Check(out.ok() || out.status().message().find("is not set on the alert") != std::string::npos,
        "render fails only for a missing label or annotation");
}

}  // namespace
}  // namespace foresight::webhook

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace foresight::webhook;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  ParseLimits limits;
  limits.max_alerts = kMaxAlerts;
  limits.max_labels_per_set = kMaxLabels;
  const ParseResult r = ParseNotification(body, limits);
  if (r.status.ok()) {
    Check(r.kind == ParseErrorKind::kNone, "a parsed body has no error kind");
    CheckNotification(r.notification);
  } else {
    CheckError(r);
  }

  // Label sets as stored: whatever LabelsFromJson accepts must round-trip too.
  foresight::Result<LabelSet> labels = LabelsFromJson(body);
  if (labels.ok()) {
    CheckRoundTrip(*labels);
  }

  FuzzTemplate(body);
  return 0;
}
