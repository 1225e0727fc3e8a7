#include "foresight/common/timeparse.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace foresight {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads a run of digits at text[*pos] as an unsigned integer; false on none or overflow.
bool ReadUint(std::string_view text, size_t* pos, int64_t* out) {
  size_t start = *pos;
  while (*pos < text.size() && IsDigit(text[*pos])) ++*pos;
  if (*pos == start) return false;
  auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + *pos, *out);
  return ec == std::errc() && ptr == text.data() + *pos;
}

bool ReadFixedDigits(std::string_view text, size_t* pos, int n, int64_t* out) {
  if (*pos + n > text.size()) return false;
  int64_t v = 0;
  for (int i = 0; i < n; ++i) {
    char c = text[*pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return InvalidArgument("empty duration");
  if (text == "0") return std::chrono::milliseconds(0);
  struct Unit {
    std::string_view name;
    int64_t ms;
  };
  static constexpr Unit kUnits[] = {{"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000},
                                    {"d", 24LL * 3600 * 1000},       {"h", 3600LL * 1000},
                                    {"m", 60LL * 1000},              {"s", 1000},
                                    {"ms", 1}};
  size_t pos = 0;
  int next_unit = 0;  // units must come largest first, each once
  int64_t total = 0;
  while (pos < text.size()) {
    size_t num_start = pos;
    int64_t n = 0;
    if (!ReadUint(text, &pos, &n)) {
      return InvalidArgument("bad duration \"" + std::string(text) + "\": expected a number at offset " +
                             std::to_string(num_start));
    }
    size_t unit_start = pos;
    while (pos < text.size() && !IsDigit(text[pos])) ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    int found = -1;
    for (int i = 0; i < static_cast<int>(std::size(kUnits)); ++i) {
      if (kUnits[i].name == unit) found = i;
    }
    if (found < 0) {
      return InvalidArgument("bad duration \"" + std::string(text) + "\": unknown unit \"" +
                             std::string(unit) + "\" at offset " + std::to_string(unit_start) +
                             " (expected one of y, w, d, h, m, s, ms)");
    }
    if (found < next_unit) {
      return InvalidArgument("bad duration \"" + std::string(text) + "\": unit \"" +
                             std::string(unit) + "\" at offset " + std::to_string(unit_start) +
                             " is out of order or repeated");
    }
    next_unit = found + 1;
    if (n > std::numeric_limits<int64_t>::max() / kUnits[found].ms ||
        total > std::numeric_limits<int64_t>::max() - n * kUnits[found].ms) {
      return InvalidArgument("bad duration \"" + std::string(text) + "\": too large");
    }
    total += n * kUnits[found].ms;
  }
  return std::chrono::milliseconds(total);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  struct Unit {
    const char* name;
    int64_t ms;
  };
  static constexpr Unit kUnits[] = {{"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000},
                                    {"d", 24LL * 3600 * 1000},       {"h", 3600LL * 1000},
                                    {"m", 60LL * 1000},              {"s", 1000},
                                    {"ms", 1}};
  for (const Unit& u : kUnits) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  return out;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

Result<int64_t> ParseTimestampMs(std::string_view text, int64_t now_ms) {
  if (text.empty()) return InvalidArgument("empty time");
  if (text == "now") return now_ms;
  if (text[0] == '-' || text[0] == '+') {
    auto d = ParseDuration(text.substr(1));
    if (!d.ok()) {
      return InvalidArgument("bad relative time \"" + std::string(text) + "\": " + d.status().message());
    }
    return text[0] == '-' ? now_ms - d->count() : now_ms + d->count();
  }
  // Unix seconds, optionally fractional.
  bool all_numeric = true;
  for (char c : text) {
    if (!IsDigit(c) && c != '.') all_numeric = false;
  }
  if (all_numeric) {
    double secs = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), secs);
    if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(secs)) {
      return InvalidArgument("bad Unix time \"" + std::string(text) + "\"");
    }
    return static_cast<int64_t>(std::llround(secs * 1000.0));
  }
  // RFC 3339 or "YYYY-MM-DD HH:MM:SS".
  auto fail = [&](size_t at, const char* what) -> Result<int64_t> {
    return InvalidArgument("bad time \"" + std::string(text) + "\": expected " + what + " at offset " +
                           std::to_string(at) +
                           " (want RFC 3339, YYYY-MM-DD HH:MM:SS, Unix seconds, now or -1h)");
  };
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadFixedDigits(text, &pos, 4, &year)) return fail(pos, "a 4-digit year");
  if (pos >= text.size() || text[pos] != '-') return fail(pos, "'-'");
  ++pos;
  if (!ReadFixedDigits(text, &pos, 2, &month) || month < 1 || month > 12) return fail(pos, "a month 01-12");
  if (pos >= text.size() || text[pos] != '-') return fail(pos, "'-'");
  ++pos;
  if (!ReadFixedDigits(text, &pos, 2, &day) || day < 1 || day > 31) return fail(pos, "a day 01-31");
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return fail(pos, "'T' or ' '");
  }
  bool rfc3339 = text[pos] != ' ';
  ++pos;
  if (!ReadFixedDigits(text, &pos, 2, &hour) || hour > 23) return fail(pos, "an hour 00-23");
  if (pos >= text.size() || text[pos] != ':') return fail(pos, "':'");
  ++pos;
  if (!ReadFixedDigits(text, &pos, 2, &minute) || minute > 59) return fail(pos, "minutes 00-59");
  if (pos >= text.size() || text[pos] != ':') return fail(pos, "':'");
  ++pos;
  if (!ReadFixedDigits(text, &pos, 2, &second) || second > 60) return fail(pos, "seconds 00-60");
  int64_t frac_ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < text.size() && IsDigit(text[pos])) {
      frac_ms += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return fail(pos, "fraction digits");
  }
  int64_t offset_min = 0;
  if (pos < text.size()) {
    char c = text[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      ++pos;
      int64_t oh, om;
      if (!ReadFixedDigits(text, &pos, 2, &oh)) return fail(pos, "an offset hour");
      if (pos >= text.size() || text[pos] != ':') return fail(pos, "':' in the offset");
      ++pos;
      if (!ReadFixedDigits(text, &pos, 2, &om)) return fail(pos, "offset minutes");
      offset_min = (oh * 60 + om) * (c == '+' ? 1 : -1);
    } else {
      return fail(pos, "'Z' or an offset");
    }
  } else if (rfc3339) {
    return fail(pos, "'Z' or an offset");
  }
  if (pos != text.size()) return fail(pos, "the end");
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
  return secs * 1000 + frac_ms;
}

std::string FormatRfc3339Ms(int64_t unix_ms) {
  int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  int64_t ms = unix_ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  // civil_from_days (Howard Hinnant).
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(sod / 3600),
                static_cast<long long>((sod / 60) % 60), static_cast<long long>(sod % 60),
                static_cast<long long>(ms));
  return buf;
}

}  // namespace foresight
