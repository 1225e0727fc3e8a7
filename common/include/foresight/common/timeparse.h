#pragma once

// Durations and instants as Prometheus writes them.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "foresight/common/status.h"

namespace foresight {

// Parses a Prometheus duration: units y, w, d, h, m, s, ms, largest first, each at most once
// ("1h30m", "14d", "500ms", "0"). A year is 365 days. Errors name the offending offset.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Formats a duration the way Prometheus does ("1h30m", "5m", "0s").
std::string FormatDuration(std::chrono::milliseconds d);

// Parses an instant into Unix milliseconds. Accepts "now"; a relative duration from now with a
// sign ("-6h", "+30m"); Unix seconds with an optional fraction ("1700000000", "1700000000.25");
// RFC 3339 ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5+02:00"); and
// "YYYY-MM-DD HH:MM:SS" taken as UTC.
Result<int64_t> ParseTimestampMs(std::string_view text, int64_t now_ms);

// Formats Unix milliseconds as RFC 3339 in UTC with millisecond precision.
std::string FormatRfc3339Ms(int64_t unix_ms);

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace foresight
