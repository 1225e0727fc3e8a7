#pragma once

// Our daemons' log: one logfmt line per event on stderr, as Prometheus and its exporters write
// them: ts=2026-11-23T01:02:03.456Z level=info msg="..." key=value ...
// Thread-safe; lines are never interleaved.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "foresight/common/status.h"

namespace foresight::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn" or "error"; anything else is InvalidArgument naming the choices.
Result<Level> ParseLevel(std::string_view text);
void SetLevel(Level level);
bool Enabled(Level level);

using Field = std::pair<std::string_view, std::string>;

// Writes the line when `level` is enabled. Values are quoted when they hold a space, a quote,
// '=' or are empty; quotes and backslashes inside are escaped, newlines written as \n.
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kError, m, f); }

// The formatted line without the trailing newline, for tests.
std::string Format(int64_t unix_ms, Level level, std::string_view msg,
                   std::initializer_list<Field> fields);

}  // namespace foresight::log
