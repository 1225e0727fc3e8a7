#pragma once

// An events calendar: known-in-advance events (campaigns, batch jobs, maintenance, month end)
// that models can use as regressors. Loaded from YAML:
//
//   events:
//     - name: black_friday_campaign      # one-off: [start, end)
//       start: 2024-11-29T00:00:00Z
//       end: 2024-12-02T00:00:00Z
//     - name: nightly_batch              # recurring: [start + k*every, end + k*every), k >= 0
//       start: 2024-01-01T02:00:00Z
//       end: 2024-01-01T03:30:00Z
//       every: 1d
//       until: 2024-06-30T00:00:00Z      # optional: no occurrence starts after this instant
//     - name: month_end                  # the whole UTC day; day 1..28, or -1..-3 from the end
//       monthly: {day: -1}
//
// Times are RFC 3339, "YYYY-MM-DD HH:MM:SS" (UTC) or Unix seconds; "now" and relative times are
// refused because a calendar must mean the same thing whenever it is read. Durations are
// Prometheus durations, and `every` is at least 1m. Names are [a-zA-Z_][a-zA-Z0-9_]* (they end
// up in labels). Several events may share a name: they share one regressor column (e.g. every
// year's Black Friday under one name). Decoding is strict: unknown or repeated keys, wrong types,
// bad times and an end not after its start are errors "file:line:column: message".

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/forecast/model.h"

namespace foresight::forecast {

struct CalendarEvent {
  std::string name;
  // One-off and recurring events: the first occurrence is [start_ms, end_ms).
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t every_ms = 0;             // 0: one-off
  std::optional<int64_t> until_ms;  // recurring only: last instant an occurrence may start
  // Monthly events: 1..28 is that day of the month, -1 the last day, -2 the one before, -3.
  // 0: not monthly.
  int monthly_day = 0;
};

// Immutable once built; thread-safe.
class Calendar {
 public:
  Calendar() = default;
  explicit Calendar(std::vector<CalendarEvent> events);

  const std::vector<CalendarEvent>& events() const { return events_; }
  // Distinct event names in order of first appearance: the regressor columns.
  const std::vector<std::string>& names() const { return names_; }

  // One column per name, one row per grid step: row i is the step ending at
  // grid_start_ms + i * step_ms, covering (t - step, t] as Grid values do. A cell holds the
  // fraction of its step covered by that name's occurrences (overlapping occurrences are
  // counted once), so 1 is a step entirely inside an event and a 90-minute batch on an hourly
  // grid gives 1 and 0.5. Fractions rather than 0/1 keep an event's effect proportional to its
  // duration whatever the step. Pass rows = history + horizon. step_ms > 0 and rows >= 0.
  std::shared_ptr<const forecast::Regressors> Regressors(int64_t grid_start_ms, int64_t step_ms,
                                                         int rows) const;

 private:
  std::vector<CalendarEvent> events_;
  std::vector<std::string> names_;
};

// Errors are InvalidArgument with "file_name:line:column: message".
Result<Calendar> ParseCalendar(std::string_view yaml_text, std::string_view file_name_for_errors);
// Reads and parses a file; NotFound when it cannot be read.
Result<Calendar> LoadCalendar(const std::string& path);

}  // namespace foresight::forecast
