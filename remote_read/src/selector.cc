#include "foresight/remote_read/selector.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "foresight/common/text.h"

namespace foresight::remote_read {
namespace {

// Error messages echo at most this many bytes of the selector around the bad offset, so a huge
// input (a fuzzer's, a pasted file) cannot produce a huge message.
constexpr size_t kMaxEchoBytes = 120;

constexpr const char* kOperators = "'=', '!=', '=~' or '!~'";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLabelNameStart(char c) { return IsAlpha(c) || c == '_'; }
bool IsLabelNameChar(char c) { return IsLabelNameStart(c) || IsDigit(c); }
bool IsMetricNameStart(char c) { return IsLabelNameStart(c) || c == ':'; }
bool IsMetricNameChar(char c) { return IsLabelNameChar(c) || c == ':'; }

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string HexByte(unsigned char b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string{kHex[b >> 4], kHex[b & 0xF]};
}

// s as a double-quoted string, escaped so that an error message stays one printable line.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (b < 0x20 || b == 0x7F) {
      out += "\\x" + HexByte(b);
    } else if (b >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += "\\x" + HexByte(b);
      } else {
        out.append(s.substr(i, n));
        i += n;
        continue;
      }
    } else {
      out.push_back(c);
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

int DigitValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return 99;  // Larger than any base, so the caller's range check rejects it.
}

enum class EmptyMatch { kYes, kNo, kUnknown };

// Whether a Go (RE2 syntax) regex, anchored as Prometheus anchors it (^(?s:re)$), matches "".
// Decided from the syntax alone: an alternation matches "" if any branch does, a concatenation
// if every part does, a repetition if its minimum is 0 or its operand matches "", and zero-width
// assertions hold on "" except \b. This approximates a real regex engine but is linear in the
// pattern and iterative, so no pattern can make the parser slow or deep. std::regex, the obvious
// alternative, speaks ECMAScript rather than RE2 and backtracks exponentially on patterns such
// as (|){30}x. Syntax this scan cannot place, including invalid RE2, gives kUnknown: the server
// is the final judge of regex syntax, so we never reject a selector for it here.
EmptyMatch RegexMatchesEmpty(std::string_view re) {
  struct Group {
    bool any_branch = false;   // some finished branch of this alternation matches ""
    bool concat = true;        // every folded item of the current branch matches ""
    std::optional<bool> last;  // the newest item, kept apart so a repetition can apply to it
  };
  std::vector<Group> groups(1);
  // 0: the newest item is not a repetition; 1: it is (a '?' now only makes it lazy); 2: lazy.
  int repeat_state = 0;
  const auto fold = [](Group& g) {
    if (g.last.has_value()) {
      g.concat = g.concat && *g.last;
      g.last.reset();
    }
  };
  const auto item = [&](bool nullable) {
    fold(groups.back());
    groups.back().last = nullable;
    repeat_state = 0;
  };
  // Applies a repetition to the newest item; false where Go's regexp/syntax reports an error
  // (nothing to repeat, or a repetition of a repetition).
  const auto repeat = [&](bool min_is_zero) {
    Group& g = groups.back();
    if (!g.last.has_value() || repeat_state != 0) {
      return false;
    }
    if (min_is_zero) {
      g.last = true;
    }
    repeat_state = 1;
    return true;
  };
  const auto is_octal = [](char c) { return c >= '0' && c <= '7'; };

  const size_t n = re.size();
  size_t i = 0;
  while (i < n) {
    const char c = re[i];
    if (c == '(') {
      ++i;
      if (i < n && re[i] == '?') {
        ++i;
        if (i < n && re[i] == 'P') {
          ++i;
          if (i >= n || re[i] != '<') {
            return EmptyMatch::kUnknown;  // (?P=name) and the like: not RE2.
          }
        }
        if (i < n && re[i] == '<') {
          const size_t close = re.find('>', i);
          if (close == std::string_view::npos) {
            return EmptyMatch::kUnknown;
          }
          i = close + 1;
          groups.emplace_back();
          repeat_state = 0;
          continue;
        }
        while (i < n &&
               (re[i] == 'i' || re[i] == 'm' || re[i] == 's' || re[i] == 'U' || re[i] == '-')) {
          ++i;
        }
        if (i < n && re[i] == ')') {
          // (?flags) only changes how later text matches; it adds nothing to repeat.
          ++i;
          fold(groups.back());
          repeat_state = 0;
          continue;
        }
        if (i < n && re[i] == ':') {
          ++i;
          groups.emplace_back();
          repeat_state = 0;
          continue;
        }
        return EmptyMatch::kUnknown;
      }
      groups.emplace_back();
      repeat_state = 0;
      continue;
    }
    if (c == ')') {
      if (groups.size() == 1) {
        return EmptyMatch::kUnknown;
      }
      Group g = groups.back();
      groups.pop_back();
      fold(g);
      item(g.any_branch || g.concat);
      ++i;
      continue;
    }
    if (c == '|') {
      Group& g = groups.back();
      fold(g);
      g.any_branch = g.any_branch || g.concat;
      g.concat = true;
      repeat_state = 0;
      ++i;
      continue;
    }
    if (c == '?' && repeat_state == 1) {
      repeat_state = 2;
      ++i;
      continue;
    }
    if (c == '*' || c == '?' || c == '+') {
      if (!repeat(c != '+')) {
        return EmptyMatch::kUnknown;
      }
      ++i;
      continue;
    }
    if (c == '{') {
      // {n}, {n,} or {n,m}; any other '{' is a literal in RE2.
      size_t j = i + 1;
      uint32_t min = 0;
      uint32_t max = 0;
      bool has_max = false;
      bool valid = j < n && IsDigit(re[j]);
      while (j < n && IsDigit(re[j])) {
        min = std::min<uint32_t>(min * 10 + static_cast<uint32_t>(re[j] - '0'), 100000);
        ++j;
      }
      if (valid && j < n && re[j] == ',') {
        ++j;
        has_max = j < n && IsDigit(re[j]);
        while (j < n && IsDigit(re[j])) {
          max = std::min<uint32_t>(max * 10 + static_cast<uint32_t>(re[j] - '0'), 100000);
          ++j;
        }
      } else if (valid) {
        has_max = true;
        max = min;
      }
      valid = valid && j < n && re[j] == '}';
      if (!valid) {
        item(false);
        ++i;
        continue;
      }
      if (min > 1000 || (has_max && (max > 1000 || max < min)) || !repeat(min == 0)) {
        return EmptyMatch::kUnknown;
      }
      i = j + 1;
      continue;
    }
    if (c == '[') {
      // A character class never matches "", whatever it holds; only find where it ends.
      size_t j = i + 1;
      if (j < n && re[j] == '^') {
        ++j;
      }
      if (j < n && re[j] == ']') {
        ++j;  // A leading ']' is a literal.
      }
      bool closed = false;
      while (j < n) {
        if (re[j] == ']') {
          closed = true;
          break;
        }
        if (re[j] == '\\') {
          j += 2;
        } else if (re[j] == '[' && j + 1 < n && re[j + 1] == ':') {
          const size_t end = re.find(":]", j + 2);
          j = end == std::string_view::npos ? j + 1 : end + 2;
        } else {
          ++j;
        }
      }
      if (!closed) {
        return EmptyMatch::kUnknown;
      }
      item(false);
      i = j + 1;
      continue;
    }
    if (c == '\\') {
      ++i;
      if (i >= n) {
        return EmptyMatch::kUnknown;
      }
      const char e = re[i];
      ++i;
      if (e == 'A' || e == 'z' || e == 'B') {
        item(true);  // Zero-width assertions that hold on "".
      } else if (e == 'b') {
        item(false);  // A word boundary needs a word character, which "" lacks.
      } else if (e == 'Q') {
        const size_t end = re.find("\\E", i);
        const size_t stop = end == std::string_view::npos ? n : end;
        if (stop > i) {
          item(false);
        }
        i = end == std::string_view::npos ? n : end + 2;
      } else if (e == 'p' || e == 'P' || e == 'x') {
        if (i < n && re[i] == '{') {
          const size_t end = re.find('}', i);
          if (end == std::string_view::npos) {
            return EmptyMatch::kUnknown;
          }
          i = end + 1;
        } else {
          i += e == 'x' ? 2 : 1;
          if (i > n) {
            return EmptyMatch::kUnknown;
          }
        }
        item(false);
      } else if (e == 'd' || e == 'D' || e == 's' || e == 'S' || e == 'w' || e == 'W' || e == 'a' ||
                 e == 'f' || e == 't' || e == 'n' || e == 'r' || e == 'v') {
        item(false);
      } else if (is_octal(e)) {
        // \1 to \7 alone would be back-references, which RE2 lacks; \0 and \12 are octal.
        if (e != '0' && (i >= n || !is_octal(re[i]))) {
          return EmptyMatch::kUnknown;
        }
        for (int k = 0; k < 2 && i < n && is_octal(re[i]); ++k) {
          ++i;
        }
        item(false);
      } else if (static_cast<unsigned char>(e) < 0x80 && !IsAlpha(e) && !IsDigit(e)) {
        item(false);  // An escaped punctuation character stands for itself.
      } else {
        return EmptyMatch::kUnknown;
      }
      continue;
    }
    // '^' and '$' hold on ""; '.', literals and each byte of a UTF-8 character do not.
    item(c == '^' || c == '$');
    ++i;
  }
  if (groups.size() != 1) {
    return EmptyMatch::kUnknown;
  }
  fold(groups.back());
  return groups.back().any_branch || groups.back().concat ? EmptyMatch::kYes : EmptyMatch::kNo;
}

// Whether m also selects series whose label is empty or missing. When a regex cannot be judged
// we say no, so an unusual but valid regex is let through rather than refused.
bool MatchesEmpty(const Matcher& m) {
  switch (m.type) {
    case MatchType::kEqual:
      return m.value.empty();
    case MatchType::kNotEqual:
      return !m.value.empty();
    case MatchType::kRegexMatch:
      return RegexMatchesEmpty(m.value) == EmptyMatch::kYes;
    case MatchType::kRegexNoMatch:
      return RegexMatchesEmpty(m.value) == EmptyMatch::kNo;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<std::vector<Matcher>> Parse() {
    SkipSpace();
    if (AtEnd()) {
      return Error(pos_, "empty selector: expected a metric name or '{'");
    }
    const size_t selector_start = pos_;
    std::vector<Matcher> matchers;
    // Byte offset of each matcher's label name, for errors found after parsing.
    std::vector<size_t> offsets;
    std::optional<std::string> metric_name;

    if (IsMetricNameStart(Peek())) {
      const size_t start = pos_;
      while (!AtEnd() && IsMetricNameChar(Peek())) {
        ++pos_;
      }
      metric_name = std::string(text_.substr(start, pos_ - start));
      if (!AtEnd() && (Peek() == '.' || Peek() == '-')) {
        return Error(pos_, "metric name " + Quote(*metric_name) + " cannot continue with " +
                               Quote(text_.substr(pos_, 1)) +
                               ": metric names match [a-zA-Z_:][a-zA-Z0-9_:]*");
      }
      matchers.push_back(Matcher{MatchType::kEqual, "__name__", *metric_name});
      offsets.push_back(start);
      SkipSpace();
    } else if (Peek() != '{') {
      std::string what = "expected a metric name or '{', got " + Describe(pos_);
      if (Peek() == '"' || Peek() == '\'' || Peek() == '`') {
        what += ": quoted metric names are not supported";
      }
      return Error(pos_, std::move(what));
    }

    if (!AtEnd() && Peek() == '{') {
      FORESIGHT_RETURN_IF_ERROR(ParseBraces(&matchers, &offsets));
      SkipSpace();
    }

    if (!AtEnd()) {
      return Error(pos_, TrailingMessage());
    }

    if (metric_name.has_value()) {
      for (size_t i = 1; i < matchers.size(); ++i) {
        if (matchers[i].name == "__name__") {
          return Error(offsets[i], "metric name " + Quote(*metric_name) +
                                       " is given before the braces, so __name__ cannot be "
                                       "matched again inside them");
        }
      }
    }

    bool selective = false;
    for (const Matcher& m : matchers) {
      if (!MatchesEmpty(m)) {
        selective = true;
        break;
      }
    }
    if (!selective) {
      // PromQL refuses these too: a typo must not turn into a read of the whole database.
      if (matchers.empty()) {
        return Error(selector_start,
                     "selector {} matches every series: give at least one matcher that does "
                     "not match the empty string");
      }
      return Error(selector_start,
                   "every matcher also matches an empty or missing label, so the selector could "
                   "match every series: give at least one matcher that does not match the empty "
                   "string");
    }
    return matchers;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  void SkipSpace() {
    while (!AtEnd() && IsSpace(Peek())) {
      ++pos_;
    }
  }

  // Parses "{ matcher (, matcher)* [,] }" starting at the '{'.
  Status ParseBraces(std::vector<Matcher>* matchers, std::vector<size_t>* offsets) {
    const size_t open = pos_;
    ++pos_;
    const std::string unclosed =
        " (the '{' at offset " + std::to_string(open) + " is never closed)";
    while (true) {
      SkipSpace();
      if (AtEnd()) {
        return Error(pos_, "expected a label name or '}', got end of input" + unclosed);
      }
      if (Peek() == '}') {
        ++pos_;
        return Status::Ok();
      }
      if (!IsLabelNameStart(Peek())) {
        std::string what = "expected a label name or '}', got " + Describe(pos_);
        if (Peek() == '"' || Peek() == '\'' || Peek() == '`') {
          what += ": quoted label names are not supported";
        }
        return Error(pos_, std::move(what));
      }

      const size_t name_start = pos_;
      while (!AtEnd() && IsLabelNameChar(Peek())) {
        ++pos_;
      }
      const std::string name(text_.substr(name_start, pos_ - name_start));
      if (!AtEnd() && (Peek() == ':' || Peek() == '.' || Peek() == '-')) {
        return Error(pos_, "label name " + Quote(name) + " cannot continue with " +
                               Quote(text_.substr(pos_, 1)) +
                               ": label names match [a-zA-Z_][a-zA-Z0-9_]*");
      }

      SkipSpace();
      Matcher m;
      m.name = name;
      const size_t op_start = pos_;
      if (AtEnd()) {
        return Error(pos_,
                     std::string("expected ") + kOperators + " after label name " + Quote(name));
      }
      const char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
      if (Peek() == '=' && next == '~') {
        m.type = MatchType::kRegexMatch;
        pos_ += 2;
      } else if (Peek() == '=') {
        m.type = MatchType::kEqual;
        pos_ += 1;
      } else if (Peek() == '!' && next == '=') {
        m.type = MatchType::kNotEqual;
        pos_ += 2;
      } else if (Peek() == '!' && next == '~') {
        m.type = MatchType::kRegexNoMatch;
        pos_ += 2;
      } else {
        return Error(pos_,
                     std::string("expected ") + kOperators + " after label name " + Quote(name));
      }
      const std::string_view op = text_.substr(op_start, pos_ - op_start);

      SkipSpace();
      if (AtEnd() || (Peek() != '"' && Peek() != '\'' && Peek() != '`')) {
        return Error(pos_, "expected a quoted string after " + name + std::string(op) + ", got " +
                               Describe(pos_));
      }
      FORESIGHT_RETURN_IF_ERROR(ParseString(&m.value));
      matchers->push_back(std::move(m));
      offsets->push_back(name_start);

      SkipSpace();
      if (AtEnd()) {
        return Error(pos_, "expected ',' or '}' after the matcher for " + Quote(name) +
                               ", got end of input" + unclosed);
      }
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        return Status::Ok();
      }
      return Error(pos_, "expected ',' or '}' after the matcher for " + Quote(name) + ", got " +
                             Describe(pos_));
    }
  }

  // Parses the string literal whose opening quote is at pos_, appending its value to *out.
  Status ParseString(std::string* out) {
    const size_t start = pos_;
    const char quote = Peek();
    const bool raw = quote == '`';
    ++pos_;
    while (true) {
      if (AtEnd()) {
        return Error(pos_, "unterminated string starting at offset " + std::to_string(start));
      }
      const char c = Peek();
      if (c == quote) {
        ++pos_;
        return Status::Ok();
      }
      if (raw && c == '\r') {
        // Go's strconv.Unquote, which PromQL uses, drops carriage returns from raw strings.
        ++pos_;
        continue;
      }
      if (!raw && c == '\n') {
        return Error(pos_, "line break in the string starting at offset " + std::to_string(start) +
                               ": write \\n, or use a `backtick` string");
      }
      if (!raw && c == '\\') {
        FORESIGHT_RETURN_IF_ERROR(ParseEscape(quote, start, out));
        continue;
      }
      // PromQL rejects malformed UTF-8 in the source text; escapes may still produce any byte.
      const size_t n = Utf8SequenceLength(text_, pos_);
      if (n == 0) {
        return Error(pos_, "invalid UTF-8 byte 0x" + HexByte(static_cast<unsigned char>(c)) +
                               " in the string starting at offset " + std::to_string(start));
      }
      out->append(text_.substr(pos_, n));
      pos_ += n;
    }
  }

  // Parses the Go escape sequence whose backslash is at pos_. As in PromQL (and Go), a quote is
  // escapable only inside its own kind of string: \' is an error in "..." and \" in '...'.
  Status ParseEscape(char quote, size_t string_start, std::string* out) {
    const size_t esc = pos_;
    ++pos_;
    if (AtEnd()) {
      return Error(pos_, "unterminated string starting at offset " + std::to_string(string_start));
    }
    const char c = Peek();
    char simple = '\0';
    switch (c) {
      case 'a':
        simple = '\a';
        break;
      case 'b':
        simple = '\b';
        break;
      case 'f':
        simple = '\f';
        break;
      case 'n':
        simple = '\n';
        break;
      case 'r':
        simple = '\r';
        break;
      case 't':
        simple = '\t';
        break;
      case 'v':
        simple = '\v';
        break;
      case '\\':
        simple = '\\';
        break;
      case '"':
      case '\'':
        if (c != quote) {
          return Error(esc, std::string("invalid escape \\") + c + " in string: inside " + quote +
                                "..." + quote + " write " + c + " without a backslash");
        }
        simple = c;
        break;
      default:
        break;
    }
    if (simple != '\0') {
      out->push_back(simple);
      ++pos_;
      return Status::Ok();
    }

    int digits = 0;
    uint32_t base = 16;
    const char* need = "";
    if (c == 'x') {
      digits = 2;
      need = "\\x needs 2 hex digits";
      ++pos_;
    } else if (c == 'u') {
      digits = 4;
      need = "\\u needs 4 hex digits";
      ++pos_;
    } else if (c == 'U') {
      digits = 8;
      need = "\\U needs 8 hex digits";
      ++pos_;
    } else if (c >= '0' && c <= '7') {
      digits = 3;
      base = 8;
      need = "an octal escape needs 3 octal digits";
    } else {
      const auto b = static_cast<unsigned char>(c);
      if (b > 0x20 && b < 0x7F) {
        return Error(esc, std::string("invalid escape \\") + c + " in string");
      }
      return Error(esc, "invalid escape in string: backslash followed by " + Describe(pos_));
    }

    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      if (AtEnd()) {
        return Error(pos_,
                     "unterminated string starting at offset " + std::to_string(string_start));
      }
      const auto d = static_cast<uint32_t>(DigitValue(Peek()));
      if (d >= base) {
        return Error(esc, "invalid escape " + std::string(text_.substr(esc, pos_ - esc)) +
                              " in string: " + need);
      }
      value = value * base + d;
      ++pos_;
    }
    const std::string shown(text_.substr(esc, pos_ - esc));
    if (c == 'u' || c == 'U') {
      if (value >= 0xD800 && value <= 0xDFFF) {
        return Error(esc,
                     "invalid escape " + shown + " in string: surrogate halves are not characters");
      }
      if (value > 0x10FFFF) {
        return Error(esc, "invalid escape " + shown + " in string: above U+10FFFF");
      }
      AppendUtf8(out, value);
      return Status::Ok();
    }
    if (value > 0xFF) {
      return Error(esc, "invalid escape " + shown + " in string: octal escapes stop at \\377");
    }
    // As in Go, \x and octal escapes give one raw byte, not the UTF-8 of a code point.
    out->push_back(static_cast<char>(value));
    return Status::Ok();
  }

  std::string TrailingMessage() const {
    const char c = Peek();
    std::string token = Describe(pos_);
    if (c == '[' || c == '(' || c == '@' || token == "\"offset\"") {
      return "unexpected " + token +
             " after the selector: ranges, offsets and functions are not part of a series "
             "selector";
    }
    return "unexpected " + token + " after the selector: expected the end of it";
  }

  // The token at pos, for "got ..." in messages: a whole word, or a single character.
  std::string Describe(size_t pos) const {
    if (pos >= text_.size()) {
      return "end of input";
    }
    size_t end = pos;
    while (end < text_.size() && IsMetricNameChar(text_[end])) {
      ++end;
    }
    if (end == pos) {
      const size_t n = Utf8SequenceLength(text_, pos);
      end = pos + (n == 0 ? 1 : n);
    }
    return Quote(text_.substr(pos, end - pos));
  }

  // "bad selector at offset N: what", then the selector and a caret under byte N. The echo is
  // cut to a window for long input, and control or malformed bytes become one placeholder
  // column each, so the caret lines up on a terminal.
  Status Error(size_t offset, const std::string& what) const {
    size_t begin = 0;
    size_t end = text_.size();
    if (text_.size() > kMaxEchoBytes) {
      begin = offset > kMaxEchoBytes / 2 ? offset - kMaxEchoBytes / 2 : 0;
      // Start and stop on character boundaries so the echo stays valid UTF-8.
      while (begin < offset && (static_cast<unsigned char>(text_[begin]) & 0xC0) == 0x80) {
        ++begin;
      }
      end = std::min(text_.size(), begin + kMaxEchoBytes);
      while (end > offset && end < text_.size() &&
             (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) {
        --end;
      }
    }
    std::string echo = begin > 0 ? "..." : "";
    size_t caret = echo.size();
    for (size_t i = begin; i < end;) {
      const auto b = static_cast<unsigned char>(text_[i]);
      size_t n = 1;
      if (b < 0x20 || b == 0x7F) {
        echo.push_back(' ');
      } else if (b >= 0x80) {
        n = Utf8SequenceLength(text_, i);
        if (n == 0 || i + n > end) {
          n = 1;
          echo.push_back('?');
        } else {
          echo.append(text_.substr(i, n));
        }
      } else {
        echo.push_back(static_cast<char>(b));
      }
      if (i < offset) {
        ++caret;
      }
      i += n;
    }
    if (end < text_.size()) {
      echo += "...";
    }
    return InvalidArgument("bad selector at offset " + std::to_string(offset) + ": " + what +
                           "\n  " + echo + "\n  " + std::string(caret, ' ') + "^");
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::vector<Matcher>> ParseSelector(std::string_view text) { return Parser(text).Parse(); }

}  // namespace foresight::remote_read
