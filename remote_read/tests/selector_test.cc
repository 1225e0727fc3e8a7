#include "foresight/remote_read/selector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/remote_read/types.h"

namespace foresight::remote_read {
namespace {

Matcher Eq(std::string name, std::string value) {
  return Matcher{MatchType::kEqual, std::move(name), std::move(value)};
}
Matcher Ne(std::string name, std::string value) {
  return Matcher{MatchType::kNotEqual, std::move(name), std::move(value)};
}
Matcher Re(std::string name, std::string value) {
  return Matcher{MatchType::kRegexMatch, std::move(name), std::move(value)};
}
Matcher Nre(std::string name, std::string value) {
  return Matcher{MatchType::kRegexNoMatch, std::move(name), std::move(value)};
}

std::vector<Matcher> MustParse(std::string_view text) {
  Result<std::vector<Matcher>> r = ParseSelector(text);
  EXPECT_TRUE(r.ok()) << "input: " << text << "\n" << r.status().message();
  if (!r.ok()) {
    return {};
  }
  return *r;
}

std::string ErrorOf(std::string_view text) {
  Result<std::vector<Matcher>> r = ParseSelector(text);
  EXPECT_FALSE(r.ok()) << "input unexpectedly parsed: " << text;
  if (r.ok()) {
    return "";
  }
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) {
      return false;
    }
  }
  return true;
}

// Enough of a UTF-8 check for the fuzz test: lead bytes and continuation counts, and no
// surrogates or overlong forms, which the parser refuses in literal text.
bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      n = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 3;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) {
      return false;
    }
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (c & 0x3F);
    }
    const uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

// Checks the three-line shape of an error for `input`: the offset, the reason, the echoed
// selector and the caret under byte `offset`.
void ExpectError(std::string_view input, size_t offset, std::string_view what) {
  SCOPED_TRACE(testing::Message() << "input: " << input.substr(0, 200));
  const std::string msg = ErrorOf(input);
  const std::vector<std::string> lines = Lines(msg);
  ASSERT_EQ(lines.size(), 3u) << msg;
  const std::string head = "bad selector at offset " + std::to_string(offset) + ": ";
  EXPECT_EQ(lines[0].substr(0, head.size()), head) << msg;
  EXPECT_NE(lines[0].find(what), std::string::npos) << "want \"" << what << "\" in:\n" << msg;
  if (input.size() <= 120) {
    EXPECT_EQ(lines[2], "  " + std::string(offset, ' ') + "^") << msg;
    if (IsPrintableAscii(input)) {
      EXPECT_EQ(lines[1], "  " + std::string(input)) << msg;
    }
  } else if (offset < input.size()) {
    // Long input is echoed as a window; the caret must still sit under the offending byte.
    const size_t caret = lines[2].find('^');
    ASSERT_NE(caret, std::string::npos) << msg;
    ASSERT_LT(caret, lines[1].size()) << msg;
    EXPECT_EQ(lines[1][caret], input[offset]) << msg;
  }
}

// ---------------------------------------------------------------------------------------------
// Accepted selectors.

TEST(SelectorTest, AllFourOperators) {
  EXPECT_EQ(MustParse(R"(metric{a="b",c!="d",e=~"f.*",g!~"h"})"),
            (std::vector<Matcher>{Eq("__name__", "metric"), Eq("a", "b"), Ne("c", "d"),
                                  Re("e", "f.*"), Nre("g", "h")}));
}

TEST(SelectorTest, MetricNameOnly) {
  EXPECT_EQ(MustParse("up"), (std::vector<Matcher>{Eq("__name__", "up")}));
  EXPECT_EQ(MustParse("up{}"), (std::vector<Matcher>{Eq("__name__", "up")}));
  EXPECT_EQ(MustParse("_x"), (std::vector<Matcher>{Eq("__name__", "_x")}));
}

TEST(SelectorTest, MetricNamesMayContainColons) {
  EXPECT_EQ(MustParse(R"(job:http_requests:rate5m{job="api"})"),
            (std::vector<Matcher>{Eq("__name__", "job:http_requests:rate5m"), Eq("job", "api")}));
  EXPECT_EQ(MustParse(":leading"), (std::vector<Matcher>{Eq("__name__", ":leading")}));
}

TEST(SelectorTest, BracesOnlyWithNameRegex) {
  EXPECT_EQ(MustParse(R"({__name__=~"node_.*",job="x"})"),
            (std::vector<Matcher>{Re("__name__", "node_.*"), Eq("job", "x")}));
}

TEST(SelectorTest, NameMatchedTwiceInsideBracesIsAllowed) {
  EXPECT_EQ(MustParse(R"({__name__="a",__name__!="b"})"),
            (std::vector<Matcher>{Eq("__name__", "a"), Ne("__name__", "b")}));
}

TEST(SelectorTest, TrailingComma) {
  EXPECT_EQ(MustParse(R"(up{job="x",})"),
            (std::vector<Matcher>{Eq("__name__", "up"), Eq("job", "x")}));
  EXPECT_EQ(MustParse(R"({job="x" , })"), (std::vector<Matcher>{Eq("job", "x")}));
}

TEST(SelectorTest, WhitespaceBetweenEveryToken) {
  EXPECT_EQ(MustParse(" \t\r\n up \n{ job\t=\r\n\"x\" , instance !=  'y' ,\n a =~ `b` } \n"),
            (std::vector<Matcher>{Eq("__name__", "up"), Eq("job", "x"), Ne("instance", "y"),
                                  Re("a", "b")}));
}

TEST(SelectorTest, LabelNamesWithDigitsAndUnderscores) {
  EXPECT_EQ(MustParse(R"({_a1="x",B_2__="y"})"),
            (std::vector<Matcher>{Eq("_a1", "x"), Eq("B_2__", "y")}));
}

TEST(SelectorTest, QuoteStyles) {
  EXPECT_EQ(MustParse(R"({a="x"})"), (std::vector<Matcher>{Eq("a", "x")}));
  EXPECT_EQ(MustParse(R"({a='x'})"), (std::vector<Matcher>{Eq("a", "x")}));
  EXPECT_EQ(MustParse("{a=`x`}"), (std::vector<Matcher>{Eq("a", "x")}));
  // The other quote characters need no escape.
  EXPECT_EQ(MustParse(R"({a="it's `raw`"})"), (std::vector<Matcher>{Eq("a", "it's `raw`")}));
  EXPECT_EQ(MustParse(R"({a='say "hi"'})"), (std::vector<Matcher>{Eq("a", "say \"hi\"")}));
  EXPECT_EQ(MustParse(R"({a=`"'`})"), (std::vector<Matcher>{Eq("a", "\"'")}));
}

TEST(SelectorTest, SimpleEscapesInBothQuoteStyles) {
  const std::string want = "\a\b\f\n\r\t\v\\";
  EXPECT_EQ(MustParse(R"({a="\a\b\f\n\r\t\v\\"})"), (std::vector<Matcher>{Eq("a", want)}));
  EXPECT_EQ(MustParse(R"({a='\a\b\f\n\r\t\v\\'})"), (std::vector<Matcher>{Eq("a", want)}));
  EXPECT_EQ(MustParse(R"({a="\""})"), (std::vector<Matcher>{Eq("a", "\"")}));
  EXPECT_EQ(MustParse(R"({a='\''})"), (std::vector<Matcher>{Eq("a", "'")}));
}

TEST(SelectorTest, NumericEscapes) {
  EXPECT_EQ(MustParse(R"({a="\x41\101\x7a"})"), (std::vector<Matcher>{Eq("a", "AAz")}));
  // \x and octal give raw bytes, as in Go; \000 is a NUL byte inside the value.
  EXPECT_EQ(MustParse(R"({a="\xff\000"})"),
            (std::vector<Matcher>{Eq("a", std::string("\xff\0", 2))}));
  EXPECT_EQ(MustParse(R"({a='\377'})"), (std::vector<Matcher>{Eq("a", "\xff")}));
}

TEST(SelectorTest, UnicodeEscapesBecomeUtf8) {
  EXPECT_EQ(MustParse(R"({a="caf\u00e9"})"), (std::vector<Matcher>{Eq("a", "caf\xc3\xa9")}));
  EXPECT_EQ(MustParse(R"({a="\u20AC"})"), (std::vector<Matcher>{Eq("a", "\xe2\x82\xac")}));
  EXPECT_EQ(MustParse(R"({a='\U0001F600'})"), (std::vector<Matcher>{Eq("a", "\xf0\x9f\x98\x80")}));
  EXPECT_EQ(MustParse(R"({a="\u0041\U0010FFFF"})"),
            (std::vector<Matcher>{Eq("a", "A\xf4\x8f\xbf\xbf")}));
}

TEST(SelectorTest, LiteralUtf8InStrings) {
  EXPECT_EQ(MustParse("{a=\"h\xc3\xa9llo \xe2\x82\xac\"}"),
            (std::vector<Matcher>{Eq("a", "h\xc3\xa9llo \xe2\x82\xac")}));
}

TEST(SelectorTest, BacktickStringsAreRaw) {
  EXPECT_EQ(MustParse(R"({a=~`\d+\.\n`})"), (std::vector<Matcher>{Re("a", R"(\d+\.\n)")}));
  EXPECT_EQ(MustParse("{a=`line1\nline2`}"), (std::vector<Matcher>{Eq("a", "line1\nline2")}));
  // Go's strconv.Unquote drops carriage returns from raw strings; PromQL inherits that.
  EXPECT_EQ(MustParse("{a=`x\r\ny`}"), (std::vector<Matcher>{Eq("a", "x\ny")}));
}

TEST(SelectorTest, MatchersThatDoNotMatchEmptyMakeASelectorValid) {
  EXPECT_EQ(MustParse(R"({a!=""})"), (std::vector<Matcher>{Ne("a", "")}));
  EXPECT_EQ(MustParse(R"({a=~".+"})"), (std::vector<Matcher>{Re("a", ".+")}));
  EXPECT_EQ(MustParse(R"({a!~""})"), (std::vector<Matcher>{Nre("a", "")}));
  EXPECT_EQ(MustParse(R"({a!~".*"})"), (std::vector<Matcher>{Nre("a", ".*")}));
  // One selective matcher is enough, whatever the others do.
  EXPECT_EQ(MustParse(R"({a="",b=~".*",c="x"})"),
            (std::vector<Matcher>{Eq("a", ""), Re("b", ".*"), Eq("c", "x")}));
}

// Regexes are judged by syntax alone (Go's RE2 syntax, anchored): does the pattern match ""?
TEST(SelectorTest, RegexesThatMatchEmptyAreNotSelective) {
  const std::vector<std::string> nullable = {
      "",       ".*",      "x?",       "x*",     "x|",        "|x",         "()",     "(x|)",
      "x{0}",   "x{0,3}",  "x{0,}",    "x+?|y*", "^$",        "^",          "\\A\\z", "\\B",
      "(?i)x?", "(?i:x)?", "(?:a|b)*", "[ab]*",  "(?P<n>a*)", "(?<n>a?)b*", "\\Q\\E", "(a+|b?)c*",
      "((x?))", "x??",     "(|){30}",  "(x*)*",  "(?s).*",    "\\d*\\pL*",
  };
  for (const std::string& re : nullable) {
    SCOPED_TRACE("regex: " + re);
    ExpectError("{a=~`" + re + "`}", 0, "every matcher also matches");
    EXPECT_EQ(MustParse("{a!~`" + re + "`}"), (std::vector<Matcher>{Nre("a", re)}));
  }
}

TEST(SelectorTest, RegexesThatNeedACharacterAreSelective) {
  const std::vector<std::string> selective = {
      "x",       ".+",          "x{1,3}",   "x{2}",         "\\b",   "[ab]",      "[]]",
      "[^]a]*b", "\\d",         "\\pL",     "\\p{Greek}",   "\\x41", "\\x{263a}", "\\012",
      "\\.",     "a|b",         "(a|b)+",   "\\Qab\\E",     "x{",    "{",         "a{,3}",
      "(?i)foo", "[[:alpha:]]", "(|){30}b", "(a*|b*){30}c", "x*y",   "\\b?\\b",   "h\xc3\xa9",
      "^a$",     "(?:)x",
  };
  for (const std::string& re : selective) {
    SCOPED_TRACE("regex: " + re);
    EXPECT_EQ(MustParse("{a=~`" + re + "`}"), (std::vector<Matcher>{Re("a", re)}));
    ExpectError("{a!~`" + re + "`}", 0, "every matcher also matches");
  }
}

TEST(SelectorTest, RegexSyntaxIsLeftToTheServer) {
  // Patterns the scan cannot place (mostly invalid RE2) are let through either way: the server
  // reports regex errors, this parser does not.
  const std::vector<std::string> unknown = {
      "(",   ")",   "(x|",    "*",      "a**", "x{2}{3}", "x{2,1}", "x{1001}",
      "\\Z", "\\1", "(?P=n)", "(?z)x?", "[a",  "\\",      "\\x4",   "(?i)*",
  };
  for (const std::string& re : unknown) {
    SCOPED_TRACE("regex: " + re);
    EXPECT_EQ(MustParse("{a=~`" + re + "`}"), (std::vector<Matcher>{Re("a", re)}));
    EXPECT_EQ(MustParse("{a!~`" + re + "`}"), (std::vector<Matcher>{Nre("a", re)}));
  }
}

TEST(SelectorTest, VeryLongAndDeeplyNestedRegexesAreSafe) {
  const std::string long_re(100000, 'a');
  EXPECT_EQ(MustParse("{a=~\"" + long_re + "*\"}"), (std::vector<Matcher>{Re("a", long_re + "*")}));
  // Deep nesting is scanned without recursion.
  const std::string nested = std::string(100000, '(') + "x" + std::string(100000, ')');
  EXPECT_EQ(MustParse("{a=~\"" + nested + "\"}"), (std::vector<Matcher>{Re("a", nested)}));
  const std::string nested_empty = std::string(100000, '(') + "x?" + std::string(100000, ')');
  ExpectError("{a=~\"" + nested_empty + "\"}", 0, "every matcher also matches");
  // Patterns that make backtracking engines take exponential time are scanned in linear time.
  std::string blowup;
  for (int i = 0; i < 5000; ++i) {
    blowup += "(|a|aa)";
  }
  ExpectError("{a!~\"" + blowup + "b\"}", 0, "every matcher also matches");
}

TEST(SelectorTest, LongInputsAreHandledIteratively) {
  std::string many = "{";
  for (int i = 0; i < 20000; ++i) {
    many += "a=\"x\",";
  }
  many += "}";
  Result<std::vector<Matcher>> r = ParseSelector(many);
  ASSERT_TRUE(r.ok()) << r.status().message().substr(0, 500);
  EXPECT_EQ(r->size(), 20000u);

  const std::string opens(100000, '{');
  ExpectError(opens, 1, "expected a label name or '}', got \"{\"");
}

// ---------------------------------------------------------------------------------------------
// Errors: exact offsets and caret lines. Full messages first, then the rest by table.

TEST(SelectorErrorTest, FullMessageMissingOperator) {
  EXPECT_EQ(ErrorOf(R"(metric{a~"b"})"),
            "bad selector at offset 8: expected '=', '!=', '=~' or '!~' after label name \"a\"\n"
            "  metric{a~\"b\"}\n"
            "          ^");
}

TEST(SelectorErrorTest, FullMessageRange) {
  EXPECT_EQ(ErrorOf("up[5m]"),
            "bad selector at offset 2: unexpected \"[\" after the selector: ranges, offsets and "
            "functions are not part of a series selector\n"
            "  up[5m]\n"
            "    ^");
}

TEST(SelectorErrorTest, FullMessageUnterminatedString) {
  EXPECT_EQ(ErrorOf(R"(up{job="api)"),
            "bad selector at offset 11: unterminated string starting at offset 7\n"
            "  up{job=\"api\n"
            "             ^");
}

TEST(SelectorErrorTest, FullMessageBadEscape) {
  EXPECT_EQ(ErrorOf(R"({a="\q"})"),
            "bad selector at offset 4: invalid escape \\q in string\n"
            "  {a=\"\\q\"}\n"
            "      ^");
}

TEST(SelectorErrorTest, FullMessageEmptyBraces) {
  EXPECT_EQ(ErrorOf("{}"),
            "bad selector at offset 0: selector {} matches every series: give at least one "
            "matcher that does not match the empty string\n"
            "  {}\n"
            "  ^");
}

struct ErrorCase {
  std::string input;
  size_t offset;
  std::string what;
};

TEST(SelectorErrorTest, Table) {
  const std::vector<ErrorCase> cases = {
      // Empty input.
      {"", 0, "empty selector: expected a metric name or '{'"},
      {"   ", 3, "empty selector"},
      // What may start a selector.
      {"9up", 0, "expected a metric name or '{', got \"9up\""},
      {"=x", 0, "expected a metric name or '{', got \"=\""},
      {R"("up")", 0, "quoted metric names are not supported"},
      {"foo.bar", 3, "metric name \"foo\" cannot continue with \".\""},
      {"foo-bar", 3, "metric name \"foo\" cannot continue with \"-\""},
      // Trailing garbage.
      {"up[5m]", 2, "unexpected \"[\" after the selector: ranges, offsets and functions"},
      {"up offset 5m", 3, "unexpected \"offset\" after the selector: ranges, offsets"},
      {"up @ 1609746000", 3, "unexpected \"@\" after the selector: ranges"},
      {"rate(up[5m])", 4, "unexpected \"(\" after the selector: ranges, offsets and functions"},
      {"up down", 3, "unexpected \"down\" after the selector: expected the end of it"},
      {R"(up{a="b"}{c="d"})", 9, "unexpected \"{\" after the selector"},
      {R"({a="b"} up)", 8, "unexpected \"up\" after the selector"},
      {"up}", 2, "unexpected \"}\" after the selector"},
      // Label names.
      {"{", 1,
       "expected a label name or '}', got end of input (the '{' at offset 0 is never "
       "closed)"},
      {"{,}", 1, "expected a label name or '}', got \",\""},
      {R"({a="b",,})", 7, "expected a label name or '}', got \",\""},
      {R"({1a="b"})", 1, "expected a label name or '}', got \"1a\""},
      {R"({"a"="b"})", 1, "quoted label names are not supported"},
      {R"({a:b="c"})", 2, "label name \"a\" cannot continue with \":\""},
      {R"({a.b="c"})", 2, "label name \"a\" cannot continue with \".\""},
      // Operators.
      {"{a}", 2, "expected '=', '!=', '=~' or '!~' after label name \"a\""},
      {"{a", 2, "expected '=', '!=', '=~' or '!~' after label name \"a\""},
      {R"({a "b"})", 3, "expected '=', '!=', '=~' or '!~' after label name \"a\""},
      {R"({a!"b"})", 2, "expected '=', '!=', '=~' or '!~' after label name \"a\""},
      {R"({a~="b"})", 2, "expected '=', '!=', '=~' or '!~'"},
      // Values.
      {"{a=b}", 3, "expected a quoted string after a=, got \"b\""},
      {R"({a==""})", 3, "expected a quoted string after a=, got \"=\""},
      {"{a=~}", 4, "expected a quoted string after a=~, got \"}\""},
      {"{a!=", 4, "expected a quoted string after a!=, got end of input"},
      // Commas and closing braces.
      {R"({a="b" c="d"})", 7, "expected ',' or '}' after the matcher for \"a\", got \"c\""},
      {R"({a="b";c="d"})", 6, "expected ',' or '}' after the matcher for \"a\", got \";\""},
      {R"(up{a="b")", 8,
       "expected ',' or '}' after the matcher for \"a\", got end of input (the "
       "'{' at offset 2 is never closed)"},
      // Unterminated strings.
      {R"({a="b)", 5, "unterminated string starting at offset 3"},
      {R"({a='b"})", 7, "unterminated string starting at offset 3"},
      {"{a=`b}", 6, "unterminated string starting at offset 3"},
      {R"({a="b\)", 6, "unterminated string starting at offset 3"},
      {R"({a="\x4)", 7, "unterminated string starting at offset 3"},
      // Escapes.
      {R"({a="\q"})", 4, "invalid escape \\q in string"},
      {R"({a="\'"})", 4,
       "invalid escape \\' in string: inside \"...\" write ' without a "
       "backslash"},
      {R"({a='\"'})", 4, "invalid escape \\\" in string: inside '...' write \""},
      {R"({a="ok\x4"})", 6, "invalid escape \\x4 in string: \\x needs 2 hex digits"},
      {R"({a="\xZZ"})", 4, "invalid escape \\x in string: \\x needs 2 hex digits"},
      {R"({a="\u12g4"})", 4, "invalid escape \\u12 in string: \\u needs 4 hex digits"},
      {R"({a="\U0000"})", 4, "invalid escape \\U0000 in string: \\U needs 8 hex digits"},
      {R"({a="\uD800"})", 4, "invalid escape \\uD800 in string: surrogate halves"},
      {R"({a="\U00110000"})", 4, "invalid escape \\U00110000 in string: above U+10FFFF"},
      {R"({a="\400"})", 4, "invalid escape \\400 in string: octal escapes stop at \\377"},
      {R"({a="\18"})", 4, "invalid escape \\1 in string: an octal escape needs 3 octal digits"},
      // Selectors that could match every series.
      {"{}", 0, "selector {} matches every series"},
      {"  { } ", 2, "selector {} matches every series"},
      {R"({a=""})", 0, "every matcher also matches an empty or missing label"},
      {R"({a!="x"})", 0, "every matcher also matches an empty or missing label"},
      {R"({a=~".*"})", 0, "every matcher also matches"},
      {R"({a=~"x|"})", 0, "every matcher also matches"},
      {R"({a=~"(x)?"})", 0, "every matcher also matches"},
      {R"({a!~"x"})", 0, "every matcher also matches"},
      {R"({a!~".+"})", 0, "every matcher also matches"},
      {R"({__name__=""})", 0, "every matcher also matches"},
      {R"( {a="",b!="c",d=~"",e!~"f"})", 1,
       "give at least one matcher that does not match the "
       "empty string"},
      // The metric name given twice.
      {R"(up{__name__="up"})", 3,
       "metric name \"up\" is given before the braces, so __name__ "
       "cannot be matched again inside them"},
      {R"(up{a="b", __name__=~"x"})", 10, "metric name \"up\" is given before the braces"},
  };
  for (const ErrorCase& c : cases) {
    ExpectError(c.input, c.offset, c.what);
  }
}

TEST(SelectorErrorTest, LineBreakInQuotedString) {
  const std::string msg = ErrorOf("{a=\"b\nc\"}");
  // The line break is echoed as a space so that the caret stays under it.
  EXPECT_EQ(msg,
            "bad selector at offset 5: line break in the string starting at offset 3: write "
            "\\n, or use a `backtick` string\n"
            "  {a=\"b c\"}\n"
            "       ^");
}

TEST(SelectorErrorTest, InvalidUtf8InString) {
  const std::string msg = ErrorOf("{a=\"x\xff\"}");
  EXPECT_EQ(msg,
            "bad selector at offset 5: invalid UTF-8 byte 0xff in the string starting at offset 3"
            "\n  {a=\"x?\"}\n"
            "       ^");
  ExpectError("{a=\"\xe2\x82\"}", 4, "invalid UTF-8 byte 0xe2");
  // An encoded surrogate is not UTF-8 either.
  ExpectError("{a=\"\xed\xa0\x80\"}", 4, "invalid UTF-8 byte 0xed");
}

TEST(SelectorErrorTest, NonAsciiTokensAreQuotedWhole) {
  ExpectError("{\xc3\xa9=\"x\"}", 1, "expected a label name or '}', got \"\xc3\xa9\"");
  ExpectError("up\x01", 2, "unexpected \"\\x01\" after the selector");
}

TEST(SelectorErrorTest, CaretCountsCharactersNotBytes) {
  // "é" is two bytes but one column: the caret sits under "}" at byte 9, column 8.
  const std::string msg = ErrorOf("{a=\"\xc3\xa9\",b}");
  const std::vector<std::string> lines = Lines(msg);
  ASSERT_EQ(lines.size(), 3u) << msg;
  EXPECT_EQ(lines[0].substr(0, 26), "bad selector at offset 9: ");
  EXPECT_EQ(lines[1], "  {a=\"\xc3\xa9\",b}");
  EXPECT_EQ(lines[2], "  " + std::string(8, ' ') + "^");
}

TEST(SelectorErrorTest, LongInputIsEchoedAroundTheOffset) {
  const std::string input = "{a=\"" + std::string(1000, 'x') + "\"} junk" + std::string(500, ' ');
  const size_t offset = input.find("junk");
  const std::string msg = ErrorOf(input);
  const std::vector<std::string> lines = Lines(msg);
  ASSERT_EQ(lines.size(), 3u) << msg;
  EXPECT_EQ(lines[0], "bad selector at offset " + std::to_string(offset) +
                          ": unexpected \"junk\" after the selector: expected the end of it");
  EXPECT_LT(lines[1].size(), 200u);
  EXPECT_EQ(lines[1].substr(0, 5), "  ...");
  EXPECT_EQ(lines[1].substr(lines[1].size() - 3), "...");
  const size_t caret = lines[2].find('^');
  ASSERT_NE(caret, std::string::npos);
  EXPECT_EQ(lines[1].substr(caret, 4), "junk");
}

// ---------------------------------------------------------------------------------------------
// Round trip through FormatMatchers.

TEST(SelectorRoundTripTest, FormatThenParseGivesTheSameMatchers) {
  const std::vector<std::string> inputs = {
      "up",
      R"(metric{a="b",c!="d",e=~"f.*",g!~"h"})",
      R"({__name__=~"node_.*",job="x",})",
      R"(job:rate5m{instance!="",le="+Inf"})",
      R"({a="quote \" and backslash \\ and newline \n"})",
      R"({a='single \' "double"'})",
      R"({a="tab\there\r\v\f\a\b"})",
      R"({a="caf\u00e9 \U0001F600 \x41\101"})",
      "{a=~`\\d+\\.\\s*\"`}",
      "{a=`multi\nline`}",
      "{a=\"h\xc3\xa9llo\"}",
      R"(x{a=~"(foo|bar)\\.baz",b!~"^$"})",
  };
  for (const std::string& in : inputs) {
    SCOPED_TRACE("input: " + in);
    const std::vector<Matcher> first = MustParse(in);
    ASSERT_FALSE(first.empty());
    const std::string formatted = FormatMatchers(first);
    EXPECT_EQ(MustParse(formatted), first) << "formatted: " << formatted;
  }
}

TEST(SelectorRoundTripTest, FormatIsTheCanonicalForm) {
  EXPECT_EQ(FormatMatchers(MustParse(R"( up { job = 'a"b' , x=~`\d` , } )")),
            R"({__name__="up",job="a\"b",x=~"\\d"})");
}

// ---------------------------------------------------------------------------------------------
// Robustness: mutated selectors never crash and always give a value or a well-formed error.

TEST(SelectorFuzzTest, MutationsGiveValueOrWellFormedError) {
  const std::vector<std::string> seeds = {
      R"(metric{a="b",c!="d",e=~"f.*",g!~"h"})",
      R"({__name__=~"x", y='\u00e9\x41\101'})",
      "up{a=`raw\\`}",
  };
  const std::string alphabet = "{}[]()=!~,\"'`\\ \nxu0179aAU_:.@\xc3\xa9\xff";
  std::mt19937 rng(20240611);  // Seeded so a failure reproduces.
  int parsed = 0;
  int failed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), alphabet[rng() % alphabet.size()]);
          break;
        case 1:
          if (pos < s.size()) {
            s.erase(pos, 1);
          }
          break;
        default:
          if (pos < s.size()) {
            s[pos] = alphabet[rng() % alphabet.size()];
          }
          break;
      }
    }
    Result<std::vector<Matcher>> r = ParseSelector(s);
    if (r.ok()) {
      ++parsed;
      // Whatever parses must survive the round trip too, unless a \x escape made a value that
      // is not UTF-8 (FormatMatchers writes such bytes raw, and the parser refuses raw non-UTF-8).
      bool all_utf8 = true;
      for (const Matcher& m : *r) {
        all_utf8 = all_utf8 && IsUtf8(m.value);
      }
      if (all_utf8) {
        const std::string formatted = FormatMatchers(*r);
        Result<std::vector<Matcher>> again = ParseSelector(formatted);
        ASSERT_TRUE(again.ok()) << "input: " << s << "\n" << again.status().message();
        EXPECT_EQ(*again, *r) << "input: " << s;
      }
      continue;
    }
    ++failed;
    const std::vector<std::string> lines = Lines(r.status().message());
    ASSERT_EQ(lines.size(), 3u) << "input: " << s << "\n" << r.status().message();
    EXPECT_EQ(lines[0].rfind("bad selector at offset ", 0), 0u);
    const size_t offset = std::stoul(lines[0].substr(23));
    EXPECT_LE(offset, s.size());
    EXPECT_EQ(lines[2].back(), '^');
  }
  // Both paths must be exercised, or the loop above proves nothing.
  EXPECT_GT(parsed, 1000);
  EXPECT_GT(failed, 1000);
}

}  // namespace
}  // namespace foresight::remote_read
