#include "foresight/remote_read/types.h"

namespace foresight::remote_read {
namespace {

// Escapes a label value as a double-quoted PromQL string.
void AppendQuoted(std::string* out, const std::string& s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '\\': *out += "\\\\"; break;
      case '"': *out += "\\\""; break;
      case '\n': *out += "\\n"; break;
      default: out->push_back(c);
    }
  }
  out->push_back('"');
}

}  // namespace

const char* MatchTypeOperator(MatchType t) {
  switch (t) {
    case MatchType::kEqual: return "=";
    case MatchType::kNotEqual: return "!=";
    case MatchType::kRegexMatch: return "=~";
    case MatchType::kRegexNoMatch: return "!~";
  }
  return "?";
}

std::string SeriesName(const Labels& labels) {
  std::string out;
  for (const Label& l : labels) {
    if (l.name == "__name__") out = l.value;
  }
  out.push_back('{');
  bool first = true;
  for (const Label& l : labels) {
    if (l.name == "__name__") continue;
    if (!first) out.push_back(',');
    first = false;
    out += l.name;
    out.push_back('=');
    AppendQuoted(&out, l.value);
  }
  out.push_back('}');
  // A bare metric name is already a complete selector.
  if (first && out.size() > 2) out.resize(out.size() - 2);
  return out;
}

std::string FormatMatchers(const std::vector<Matcher>& matchers) {
  std::string out = "{";
  for (size_t i = 0; i < matchers.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += matchers[i].name;
    out += MatchTypeOperator(matchers[i].type);
    AppendQuoted(&out, matchers[i].value);
  }
  out.push_back('}');
  return out;
}

}  // namespace foresight::remote_read
