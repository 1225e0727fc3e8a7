#include "foresight/common/text.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace foresight {
namespace {

using namespace std::string_view_literals;

size_t Len(std::string_view s) { return Utf8SequenceLength(s, 0); }

TEST(Utf8SequenceLengthTest, WellFormedOneToFourBytes) {
  EXPECT_EQ(Len("\x00"sv), 1u);
  EXPECT_EQ(Len("A"), 1u);
  EXPECT_EQ(Len("\x7F"), 1u);
  EXPECT_EQ(Len("\xC2\x80"), 2u);          // U+0080, the smallest two-byte form
  EXPECT_EQ(Len("\xC3\xA9"), 2u);          // é
  EXPECT_EQ(Len("\xDF\xBF"), 2u);          // U+07FF
  EXPECT_EQ(Len("\xE0\xA0\x80"), 3u);      // U+0800
  EXPECT_EQ(Len("\xE2\x82\xAC"), 3u);      // €
  EXPECT_EQ(Len("\xED\x9F\xBF"), 3u);      // U+D7FF, just below the surrogates
  EXPECT_EQ(Len("\xEE\x80\x80"), 3u);      // U+E000, just above them
  EXPECT_EQ(Len("\xEF\xBF\xBF"), 3u);      // U+FFFF
  EXPECT_EQ(Len("\xF0\x90\x80\x80"), 4u);  // U+10000
  EXPECT_EQ(Len("\xF0\x9F\x98\x80"), 4u);  // 😀
  EXPECT_EQ(Len("\xF4\x8F\xBF\xBF"), 4u);  // U+10FFFF, the last code point
}

TEST(Utf8SequenceLengthTest, MeasuresAtPosAndIgnoresWhatFollows) {
  const std::string_view s =
      "a\xC3\xA9\xE2\x82\xAC"
      "b";
  EXPECT_EQ(Utf8SequenceLength(s, 0), 1u);
  EXPECT_EQ(Utf8SequenceLength(s, 1), 2u);
  EXPECT_EQ(Utf8SequenceLength(s, 3), 3u);
  EXPECT_EQ(Utf8SequenceLength(s, 6), 1u);
  EXPECT_EQ(Utf8SequenceLength(s, 2), 0u);  // inside a sequence
}

TEST(Utf8SequenceLengthTest, Overlong) {
  EXPECT_EQ(Len("\xC0\x80"), 0u);          // U+0000 in two bytes
  EXPECT_EQ(Len("\xC1\xBF"), 0u);          // U+007F in two bytes
  EXPECT_EQ(Len("\xE0\x80\x80"), 0u);      // U+0000 in three bytes
  EXPECT_EQ(Len("\xE0\x9F\xBF"), 0u);      // U+07FF in three bytes
  EXPECT_EQ(Len("\xF0\x80\x80\x80"), 0u);  // U+0000 in four bytes
  EXPECT_EQ(Len("\xF0\x8F\xBF\xBF"), 0u);  // U+FFFF in four bytes
}

TEST(Utf8SequenceLengthTest, Surrogates) {
  EXPECT_EQ(Len("\xED\xA0\x80"), 0u);  // U+D800
  EXPECT_EQ(Len("\xED\xBF\xBF"), 0u);  // U+DFFF
}

TEST(Utf8SequenceLengthTest, AboveU10FFFF) {
  EXPECT_EQ(Len("\xF4\x90\x80\x80"), 0u);  // U+110000
  EXPECT_EQ(Len("\xF5\x80\x80\x80"), 0u);
  EXPECT_EQ(Len("\xF7\xBF\xBF\xBF"), 0u);
  EXPECT_EQ(Len("\xF8\x88\x80\x80\x80"), 0u);  // old five-byte form
  EXPECT_EQ(Len("\xFE"), 0u);
  EXPECT_EQ(Len("\xFF"), 0u);
}

TEST(Utf8SequenceLengthTest, TruncatedSequences) {
  EXPECT_EQ(Len("\xC3"), 0u);
  EXPECT_EQ(Len("\xE2\x82"), 0u);
  EXPECT_EQ(Len("\xE2"), 0u);
  EXPECT_EQ(Len("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(Len("\xF0\x9F"), 0u);
  // Cut short by the end of the view, not of the underlying buffer.
  const std::string_view euro = "\xE2\x82\xAC";
  EXPECT_EQ(Len(euro.substr(0, 2)), 0u);
}

TEST(Utf8SequenceLengthTest, BadContinuationBytes) {
  EXPECT_EQ(Len("\x80"), 0u);  // a continuation byte with no lead
  EXPECT_EQ(Len("\xBF"), 0u);
  EXPECT_EQ(Len("\xC3"
                "A"),
            0u);
  EXPECT_EQ(Len("\xC3\xC3"), 0u);
  EXPECT_EQ(Len("\xE2\x82"
                "A"),
            0u);  // bad third byte
  EXPECT_EQ(Len("\xF0\x9F\x98"
                "A"),
            0u);  // bad fourth byte
  EXPECT_EQ(Len("\xF0\x9F\xC0\x80"), 0u);
}

TEST(HtmlEscapeTest, AllFiveCharacters) {
  EXPECT_EQ(HtmlEscape("&"), "&amp;");
  EXPECT_EQ(HtmlEscape("<"), "&lt;");
  EXPECT_EQ(HtmlEscape(">"), "&gt;");
  EXPECT_EQ(HtmlEscape("\""), "&quot;");
  EXPECT_EQ(HtmlEscape("'"), "&#39;");
  EXPECT_EQ(HtmlEscape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
}

TEST(HtmlEscapeTest, LeavesEverythingElse) {
  EXPECT_EQ(HtmlEscape(""), "");
  EXPECT_EQ(HtmlEscape("plain text 123"), "plain text 123");
  EXPECT_EQ(HtmlEscape("&amp;"), "&amp;amp;");  // not idempotent: escaping twice shows
  EXPECT_EQ(HtmlEscape("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");
  EXPECT_EQ(HtmlEscape("a\0b"sv), "a\0b"sv);
}

TEST(AsciiLowerTest, FoldsOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLower(""), "");
  EXPECT_EQ(AsciiLower("Content-Type"), "content-type");
  EXPECT_EQ(AsciiLower("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), "abcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(AsciiLower("already lower 09 @[`{"), "already lower 09 @[`{");
  EXPECT_EQ(AsciiLower("\xC3\x89T\xC3\x89"), "\xC3\x89t\xC3\x89");  // ÉTÉ: É stays as it is
  EXPECT_EQ(AsciiLower("A\0B"sv), "a\0b"sv);
}

TEST(ValidHttpHeaderNameTest, Empty) { EXPECT_FALSE(ValidHttpHeaderName("")); }

TEST(ValidHttpHeaderNameTest, TokenCharacters) {
  EXPECT_TRUE(ValidHttpHeaderName("Content-Type"));
  EXPECT_TRUE(ValidHttpHeaderName("X-Request-ID"));
  EXPECT_TRUE(ValidHttpHeaderName("x_forwarded.for"));
  EXPECT_TRUE(ValidHttpHeaderName("abcxyzABCXYZ0189"));
  EXPECT_TRUE(ValidHttpHeaderName("!#$%&'*+-.^_`|~"));
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    EXPECT_TRUE(ValidHttpHeaderName(std::string(1, c))) << c;
  }
}

TEST(ValidHttpHeaderNameTest, SeparatorsAndControlsAreNotTokens) {
  EXPECT_FALSE(ValidHttpHeaderName("X Reason"));
  EXPECT_FALSE(ValidHttpHeaderName(" "));
  EXPECT_FALSE(ValidHttpHeaderName("Host:"));
  EXPECT_FALSE(ValidHttpHeaderName(":authority"));
  EXPECT_FALSE(ValidHttpHeaderName("X-A\tB"));
  EXPECT_FALSE(ValidHttpHeaderName("X-A\r\nB"));
  EXPECT_FALSE(ValidHttpHeaderName("X\0A"sv));
  for (char c : std::string_view("\"(),/:;<=>?@[\\]{}")) {
    EXPECT_FALSE(ValidHttpHeaderName(std::string("X") + c)) << c;
  }
  EXPECT_FALSE(ValidHttpHeaderName("\x7F"));
  EXPECT_FALSE(ValidHttpHeaderName("Caf\xC3\xA9"));
}

}  // namespace
}  // namespace foresight
