#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace foresight {

// Length of the well-formed UTF-8 sequence that starts at s[pos], or 0 if there is none there:
// overlong forms, surrogates (U+D800..U+DFFF), code points above U+10FFFF, stray continuation
// bytes and sequences cut short by the end of s all give 0. Requires pos < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t pos);

// s with the five characters HTML gives meaning to (& < > " ') replaced by entities, so it is
// safe both as element text and inside a quoted attribute value.
std::string HtmlEscape(std::string_view s);

// s with A-Z folded to a-z and every other byte unchanged: HTTP and config keywords compare
// case-insensitively in ASCII only, whatever the process locale.
std::string AsciiLower(std::string_view s);

// Whether name is an HTTP field name: a non-empty RFC 9110 token (letters, digits and
// !#$%&'*+-.^_`|~).
bool ValidHttpHeaderName(std::string_view name);

}  // namespace foresight
