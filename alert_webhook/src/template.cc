#include "foresight/webhook/template.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Decisions the header leaves open, pinned by template_test.cc:
//  - "}}" outside an action is literal text, as in Go's text/template.
//  - A quoted string action ({{ "{{" }}) is folded into the literal text around it at parse
//    time, so is_constant() is true for a template that only uses quoted strings. It takes Go's
//    simple escapes (\" \\ \n \t \r \a \b \f \v); \x, \u, octal and `raw` strings are refused.
//  - Trim markers ("{{- x -}}"), comments, pipelines, functions and control structures are
//    "unsupported action" errors rather than being approximated.
//  - A label whose value is "" is not set (Prometheus drops empty labels), so rendering it is an
//    error like a missing one; an annotation set to "" renders as "".

namespace foresight::webhook {
namespace {

constexpr size_t kMaxEchoBytes = 64;

constexpr const char* kSupported =
    "want .Labels.<name>, .Annotations.<name>, .Status, .Fingerprint, .StartsAt, .EndsAt, "
    ".GeneratorURL, .ExternalURL, .Receiver, .Playbook, .JobID, .Phase or a quoted string";

// The fields without a name after them, as written after the dot.
constexpr std::string_view kFields[] = {"Status",       "Fingerprint", "StartsAt", "EndsAt",
                                        "GeneratorURL", "ExternalURL", "Receiver", "Playbook",
                                        "JobID",        "Phase"};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

// s quoted for an error message: one line, at most kMaxEchoBytes of it.
std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxEchoBytes; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (s[i] == '"' || s[i] == '\\') {
      out.push_back('\\');
      out.push_back(s[i]);
    } else if (b < 0x20 || b == 0x7F) {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    } else {
      out.push_back(s[i]);
    }
  }
  if (s.size() > kMaxEchoBytes) {
    // Back off to a UTF-8 character boundary before the ellipsis.
    while (out.size() > 1 && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) {
      out.pop_back();
    }
    if (out.size() > 1 && static_cast<unsigned char>(out.back()) >= 0xC0) {
      out.pop_back();
    }
    out += "...";
  }
  out.push_back('"');
  return out;
}

Status ErrorAt(size_t offset, const std::string& what) {
  return InvalidArgument("offset " + std::to_string(offset) + ": " + what);
}

// Reads the quoted string starting at text[*pos] == '"' into *out and moves *pos past the closing
// quote. Fails where Go's lexer would (a newline or the end before the closing quote) and on
// escapes this subset does not take.
Status ReadQuoted(std::string_view text, size_t* pos, std::string* out) {
  const size_t start = *pos;
  size_t i = start + 1;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      *pos = i + 1;
      return Status::Ok();
    }
    if (c == '\n') {
      break;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) {
        break;
      }
      const char e = text[i + 1];
      switch (e) {
        case '"':
        case '\\':
          out->push_back(e);
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 'a':
          out->push_back('\a');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'v':
          out->push_back('\v');
          break;
        default:
          return ErrorAt(i, "unsupported escape " + Quote(text.substr(i, 2)) + " in a string");
      }
      i += 2;
      continue;
    }
    out->push_back(c);
    ++i;
  }
  return ErrorAt(start, "unterminated quoted string");
}

}  // namespace

Result<Template> Template::Parse(std::string_view text) {
  Template t;
  t.source_ = std::string(text);
  const auto add_text = [&t](std::string_view s) {
    if (s.empty()) {
      return;
    }
    if (!t.parts_.empty() && t.parts_.back().kind == Part::Kind::kText) {
      t.parts_.back().text.append(s);
    } else {
      t.parts_.push_back(Part{Part::Kind::kText, std::string(s)});
    }
  };

  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      add_text(text.substr(pos));
      break;
    }
    add_text(text.substr(pos, open - pos));

    // Find the "}}" that closes this action, skipping over quoted strings so {{ "}}" }} works.
    size_t begin = open + 2;
    while (begin < text.size() && IsSpace(text[begin])) {
      ++begin;
    }
    if (begin == text.size()) {
      return ErrorAt(open, "unclosed action: \"{{\" without \"}}\"");
    }
    if (text[begin] == '"') {
      std::string literal;
      size_t after = begin;
      FORESIGHT_RETURN_IF_ERROR(ReadQuoted(text, &after, &literal));
      size_t close = after;
      while (close < text.size() && IsSpace(text[close])) {
        ++close;
      }
      if (close == text.size()) {
        return ErrorAt(open, "unclosed action: \"{{\" without \"}}\"");
      }
      if (text.substr(close, 2) != "}}") {
        size_t end = text.find("}}", close);
        end = end == std::string_view::npos ? text.size() : end;
        while (end > begin && IsSpace(text[end - 1])) {
          --end;
        }
        const std::string_view action = text.substr(begin, end - begin);
        return ErrorAt(begin, "unsupported action " + Quote(action) + " (" + kSupported + ")");
      }
      add_text(literal);
      pos = close + 2;
      continue;
    }
    const size_t close = text.find("}}", begin);
    if (close == std::string_view::npos) {
      return ErrorAt(open, "unclosed action: \"{{\" without \"}}\"");
    }
    size_t end = close;
    while (end > begin && IsSpace(text[end - 1])) {
      --end;
    }
    const std::string_view action = text.substr(begin, end - begin);
    if (action.empty()) {
      return ErrorAt(open, "empty action");
    }

    // A field chain: .Name(.Name)* and nothing else.
    size_t i = 0;
    std::vector<std::string_view> names;
    while (i < action.size() && action[i] == '.' && i + 1 < action.size() &&
           IsIdentStart(action[i + 1])) {
      const size_t name_start = ++i;
      while (i < action.size() && IsIdentChar(action[i])) {
        ++i;
      }
      names.push_back(action.substr(name_start, i - name_start));
    }
    if (names.empty() || i != action.size()) {
      return ErrorAt(begin, "unsupported action " + Quote(action) + " (" + kSupported + ")");
    }
    const std::string_view first = names[0];
    if (first == "Labels" || first == "Annotations") {
      if (names.size() == 1) {
        return ErrorAt(begin, "." + std::string(first) + " needs a name, as in ." +
                                  std::string(first) +
                                  (first == "Labels" ? ".service" : ".summary"));
      }
      if (names.size() > 2) {
        return ErrorAt(begin, "unknown field " + Quote(action));
      }
      t.parts_.push_back(Part{first == "Labels" ? Part::Kind::kLabel : Part::Kind::kAnnotation,
                              std::string(names[1])});
    } else {
      bool known = false;
      for (std::string_view f : kFields) {
        known = known || f == first;
      }
      if (!known) {
        return ErrorAt(begin, "unknown field " + Quote("." + std::string(first)));
      }
      if (names.size() > 1) {
        return ErrorAt(begin, "unknown field " + Quote(action));
      }
      t.parts_.push_back(Part{Part::Kind::kField, std::string(first)});
    }
    pos = close + 2;
  }
  return t;
}

Result<std::string> Template::Render(const TemplateData& data, Escape escape) const {
  auto put = [&](std::string& out, std::string_view value) {
    if (escape != nullptr) {
      out += escape(value);
    } else {
      out += value;
    }
  };
  std::string out;
  for (const Part& part : parts_) {
    switch (part.kind) {
      case Part::Kind::kText:
        out += part.text;
        break;
      case Part::Kind::kLabel: {
        const std::string* value = nullptr;
        if (data.labels != nullptr) {
          auto it = data.labels->find(part.text);
          if (it != data.labels->end() && !it->second.empty()) {
            value = &it->second;
          }
        }
        if (value == nullptr) {
          return InvalidArgument("label " + Quote(part.text) + " is not set on the alert");
        }
        put(out, *value);
        break;
      }
      case Part::Kind::kAnnotation: {
        auto it = data.annotations != nullptr ? data.annotations->find(part.text)
                                              : LabelSet::const_iterator();
        if (data.annotations == nullptr || it == data.annotations->end()) {
          return InvalidArgument("annotation " + Quote(part.text) + " is not set on the alert");
        }
        put(out, it->second);
        break;
      }
      case Part::Kind::kField: {
        const std::string_view f = part.text;
        if (f == "Status") {
          put(out, data.status);
        } else if (f == "Fingerprint") {
          put(out, data.fingerprint);
        } else if (f == "StartsAt") {
          put(out, data.starts_at);
        } else if (f == "EndsAt") {
          put(out, data.ends_at);
        } else if (f == "GeneratorURL") {
          put(out, data.generator_url);
        } else if (f == "ExternalURL") {
          put(out, data.external_url);
        } else if (f == "Receiver") {
          put(out, data.receiver);
        } else if (f == "Playbook") {
          put(out, data.playbook);
        } else if (f == "JobID") {
          put(out, data.job_id);
        } else if (f == "Phase") {
          put(out, data.phase);
        } else {
          return Internal("template field ." + std::string(f) + " has no value");
        }
        break;
      }
    }
  }
  return out;
}

bool Template::is_constant() const {
  for (const Part& part : parts_) {
    if (part.kind != Part::Kind::kText) {
      return false;
    }
  }
  return true;
}

}  // namespace foresight::webhook
