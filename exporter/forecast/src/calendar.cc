#include "foresight/forecast/calendar.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "foresight/common/timeparse.h"
#include "foresight/yaml/decoder.h"

namespace foresight::forecast {
namespace {

using Wide = __int128;
using yaml::Field;
using yaml::Fields;
using yaml::Quote;

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr int64_t kMinEveryMs = 60LL * 1000;

Wide FloorDiv(Wide a, Wide b) {
  Wide q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Decodes one calendar document; every error carries "file:line:column: ". Calendars predate
// "a list" in our messages, and their tests pin "a sequence".
class Decoder : public yaml::Decoder {
 public:
  explicit Decoder(std::string_view file)
      : yaml::Decoder(file, Options{.sequence_as_list = false}) {}

  Result<Calendar> Document(const YAML::Node& root) const {
    if (!root.IsDefined() || root.IsNull()) {
      return InvalidArgument(file() + ": empty calendar: want a map with the key \"events\"");
    }
    if (!root.IsMap()) {
      return Error(root, std::string("top level must be a map with the key \"events\", got ") +
                             Kind(root));
    }
    Result<Fields> fields = FieldsOf(root, "at the top level", {"events"});
    if (!fields.ok()) return fields.status();
    auto events = fields->find("events");
    if (events == fields->end()) return Error(root, "missing key \"events\"");
    if (!events->second.value.IsSequence()) {
      return Error(events->second, std::string("events must be a sequence, got ") +
                                       Kind(events->second.value));
    }
    std::vector<CalendarEvent> out;
    int index = 0;
    for (const YAML::Node& item : events->second.value) {
      ++index;
      Result<CalendarEvent> event = Event(item, index);
      if (!event.ok()) return event.status();
      out.push_back(std::move(*event));
    }
    return Calendar(std::move(out));
  }

 private:
  Status CheckKey(const YAML::Node& key, const std::string& where) const {
    if (!key.IsScalar()) {
      return Error(key, std::string("keys must be strings, got ") + Kind(key) + " in " + where);
    }
    return Status::Ok();
  }

  // The scalar of a field that must be a scalar.
  Result<std::string> ScalarOf(const Field& f, const std::string& what,
                               const std::string& want) const {
    if (!f.value.IsScalar()) {
      return Error(f, what + " must be " + want + ", got " + Kind(f.value));
    }
    return f.value.Scalar();
  }

  Result<int64_t> Time(const Field& f, const std::string& what) const {
    Result<std::string> text = ScalarOf(f, what, "a time");
    if (!text.ok()) return text.status();
    if (*text == "now" || text->starts_with("-") || text->starts_with("+")) {
      return Error(f.value, what + ": \"" + *text +
                                "\" is relative to now, a calendar needs absolute times");
    }
    Result<int64_t> t = ParseTimestampMs(*text, 0);
    if (!t.ok()) return Error(f.value, what + ": " + t.status().message());
    return *t;
  }

  Result<CalendarEvent> Event(const YAML::Node& item, int index) const {
    const std::string numbered = "event #" + std::to_string(index);
    if (!item.IsMap()) {
      return Error(item, numbered + " must be a map, got " + Kind(item));
    }
    static const char* const kKeys[] = {"name", "start", "end", "every", "until", "monthly"};
    // Not FieldsOf: an unknown key is reported after the name, so that it can name the event.
    // Optional, not a default YAML::Node: assigning to a YAML::Node writes through to the
    // document instead of rebinding the handle.
    Fields fields;
    std::optional<YAML::Node> unknown;
    for (auto it = item.begin(); it != item.end(); ++it) {
      FORESIGHT_RETURN_IF_ERROR(CheckKey(it->first, numbered));
      std::string key = it->first.Scalar();
      if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
        if (!unknown) unknown.emplace(it->first);
        continue;
      }
      if (fields.count(key) > 0) {
        return Error(it->first, "duplicate key " + Quote(key) + " in " + numbered);
      }
      fields.emplace(key, Field{it->first, it->second});
    }

    CalendarEvent event;
    auto name_it = fields.find("name");
    if (name_it == fields.end()) return Error(item, numbered + " has no name");
    Result<std::string> name = String(name_it->second, "name of " + numbered);
    if (!name.ok()) return name.status();
    if (!yaml::ValidLabelName(*name)) {
      return Error(name_it->second.value,
                   "name of " + numbered + " \"" + *name + "\" must match [a-zA-Z_][a-zA-Z0-9_]*");
    }
    event.name = *name;
    const std::string label = "event \"" + event.name + "\"";
    if (unknown) {
      return Error(*unknown, "unknown key \"" + unknown->Scalar() + "\" in " + label +
                                 " (allowed: name, start, end, every, until, monthly)");
    }
    auto field = [&](const char* key) -> const Field* {
      auto it = fields.find(key);
      return it == fields.end() ? nullptr : &it->second;
    };

    if (const Field* monthly = field("monthly")) {
      for (const char* key : {"start", "end", "every"}) {
        if (field(key)) {
          return Error(field(key)->key, std::string("\"") + key + "\" cannot be combined with " +
                                            "\"monthly\" in " + label);
        }
      }
      Result<int> day = MonthlyDay(*monthly, label);
      if (!day.ok()) return day.status();
      event.monthly_day = *day;
    } else {
      const Field* start = field("start");
      const Field* end = field("end");
      if (!start || !end) {
        return Error(item, label + " needs \"start\" and \"end\", or \"monthly\"");
      }
      Result<int64_t> s = Time(*start, "start of " + label);
      if (!s.ok()) return s.status();
      Result<int64_t> e = Time(*end, "end of " + label);
      if (!e.ok()) return e.status();
      if (*e <= *s) {
        return Error(end->value, "end of " + label + " (" + FormatRfc3339Ms(*e) +
                                     ") must be after its start (" + FormatRfc3339Ms(*s) + ")");
      }
      event.start_ms = *s;
      event.end_ms = *e;
      if (const Field* every = field("every")) {
        Result<std::string> text = ScalarOf(*every, "every of " + label, "a duration");
        if (!text.ok()) return text.status();
        auto d = ParseDuration(*text);
        if (!d.ok()) return Error(every->value, "every of " + label + ": " + d.status().message());
        if (d->count() < kMinEveryMs) {
          return Error(every->value, "every of " + label + " must be at least 1m, got " + *text);
        }
        event.every_ms = d->count();
      }
    }

    if (const Field* until = field("until")) {
      if (event.monthly_day == 0 && event.every_ms == 0) {
        return Error(until->key, "\"until\" needs \"every\" or \"monthly\" in " + label);
      }
      Result<int64_t> u = Time(*until, "until of " + label);
      if (!u.ok()) return u.status();
      if (event.monthly_day == 0 && *u < event.start_ms) {
        return Error(until->value, "until of " + label + " (" + FormatRfc3339Ms(*u) +
                                       ") is before its start (" + FormatRfc3339Ms(event.start_ms) +
                                       ")");
      }
      event.until_ms = *u;
    }
    return event;
  }

  Result<int> MonthlyDay(const Field& field, const std::string& label) const {
    const YAML::Node& monthly = field.value;
    if (!monthly.IsMap()) {
      return Error(
          field, "monthly of " + label + " must be a map like {day: -1}, got " + Kind(monthly));
    }
    Result<Fields> fields = FieldsOf(monthly, "in monthly of " + label, {"day"});
    if (!fields.ok()) return fields.status();
    auto it = fields->find("day");
    if (it == fields->end()) return Error(monthly, "monthly of " + label + " needs \"day\"");
    const Field& day = it->second;
    Result<std::string> text = ScalarOf(day, "monthly.day of " + label, "an integer");
    if (!text.ok()) return text.status();
    int value = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || ptr != text->data() + text->size()) {
      return Error(day.value,
                   "monthly.day of " + label + " must be an integer, got \"" + *text + "\"");
    }
    if (!((value >= 1 && value <= 28) || (value >= -3 && value <= -1))) {
      return Error(day.value,
                   "monthly.day of " + label + " must be 1..28 or -1..-3, got " + *text);
    }
    return value;
  }
};

struct Interval {
  Wide start;
  Wide end;
};

// Occurrences of `event` that overlap (lo, hi], clipped to it.
void Occurrences(const CalendarEvent& event, Wide lo, Wide hi, std::vector<Interval>* out) {
  auto add = [&](Wide s, Wide e) {
    s = std::max(s, lo);
    e = std::min(e, hi);
    if (e > s) out->push_back({s, e});
  };
  auto started_in_time = [&](Wide s) { return !event.until_ms || s <= *event.until_ms; };
  if (event.monthly_day != 0) {
    using namespace std::chrono;
    // From the month before lo (an occurrence is a day long) to the month of hi.
    year_month_day first{sys_days{days{static_cast<int64_t>(FloorDiv(lo, kDayMs))}}};
    year_month month = year_month{first.year(), first.month()} - months{1};
    for (;; month += months{1}) {
      int64_t month_start = sys_days{month / day{1}}.time_since_epoch().count();
      if (Wide{month_start} * kDayMs > hi) break;
      int64_t last_day = sys_days{month / last}.time_since_epoch().count();
      int64_t d = event.monthly_day > 0 ? month_start + event.monthly_day - 1
                                        : last_day + event.monthly_day + 1;
      Wide s = Wide{d} * kDayMs;
      if (!started_in_time(s)) break;
      add(s, s + kDayMs);
    }
    return;
  }
  if (event.every_ms == 0) {
    add(event.start_ms, event.end_ms);
    return;
  }
  // First k whose occurrence ends after lo.
  Wide k = std::max<Wide>(0, FloorDiv(lo - event.end_ms, event.every_ms) + 1);
  for (;; ++k) {
    Wide s = Wide{event.start_ms} + k * event.every_ms;
    if (s >= hi || !started_in_time(s)) break;
    add(s, Wide{event.end_ms} + k * event.every_ms);
  }
}

}  // namespace

Calendar::Calendar(std::vector<CalendarEvent> events) : events_(std::move(events)) {
  for (const CalendarEvent& e : events_) {
    if (std::find(names_.begin(), names_.end(), e.name) == names_.end()) names_.push_back(e.name);
  }
}

std::shared_ptr<const forecast::Regressors> Calendar::Regressors(int64_t grid_start_ms,
                                                                 int64_t step_ms, int rows) const {
  auto out = std::make_shared<forecast::Regressors>();
  out->names = names_;
  if (step_ms <= 0 || rows < 0) {
    assert(false && "Calendar::Regressors needs step_ms > 0 and rows >= 0");
    rows = 0;
    step_ms = 1;
  }
  out->values = Eigen::MatrixXd::Zero(rows, static_cast<Eigen::Index>(names_.size()));
  if (rows == 0) return out;
  // Row i covers (lo + i * step, lo + (i + 1) * step].
  const Wide lo = Wide{grid_start_ms} - step_ms;
  const Wide hi = Wide{grid_start_ms} + Wide{rows - 1} * step_ms;
  std::vector<Interval> intervals;
  for (size_t col = 0; col < names_.size(); ++col) {
    intervals.clear();
    for (const CalendarEvent& e : events_) {
      if (e.name == names_[col]) Occurrences(e, lo, hi, &intervals);
    }
    std::sort(intervals.begin(), intervals.end(),
              [](const Interval& a, const Interval& b) { return a.start < b.start; });
    // Merge overlaps so that a step inside two occurrences is still at most fully covered.
    std::vector<Interval> merged;
    for (const Interval& iv : intervals) {
      if (!merged.empty() && iv.start <= merged.back().end) {
        merged.back().end = std::max(merged.back().end, iv.end);
      } else {
        merged.push_back(iv);
      }
    }
    for (const Interval& iv : merged) {
      Wide first_row = FloorDiv(iv.start - lo, step_ms);
      Wide last_row = FloorDiv(iv.end - lo - 1, step_ms);
      for (Wide r = std::max<Wide>(first_row, 0); r <= std::min<Wide>(last_row, rows - 1); ++r) {
        Wide row_lo = lo + r * step_ms;
        Wide covered = std::min(iv.end, row_lo + step_ms) - std::max(iv.start, row_lo);
        out->values(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(col)) +=
            static_cast<double>(covered) / static_cast<double>(step_ms);
      }
    }
  }
  return out;
}

Result<Calendar> ParseCalendar(std::string_view yaml_text, std::string_view file_name_for_errors) {
  Result<YAML::Node> root =
      yaml::ParseYaml(yaml_text, file_name_for_errors, "YAML syntax error: ");
  if (!root.ok()) return root.status();
  Decoder decoder(file_name_for_errors);
  try {
    return decoder.Document(*root);
  } catch (const YAML::Exception& e) {
    return decoder.Error(e.mark, e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(file_name_for_errors) + ": " + e.what());
  }
}

Result<Calendar> LoadCalendar(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read calendar file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return NotFound("cannot read calendar file " + path);
  return ParseCalendar(text.str(), path);
}

}  // namespace foresight::forecast
