#include "foresight/forecast/calendar.h"

#include <gtest/gtest.h>

#include <string>

#include "foresight/common/timeparse.h"

namespace foresight::forecast {
namespace {

const std::string kTestdata = FORESIGHT_FORECAST_TESTDATA;
constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kDay = 24 * kHour;

int64_t T(const char* rfc3339) { return *ParseTimestampMs(rfc3339, 0); }

std::string ParseError(const std::string& yaml) {
  Result<Calendar> c = ParseCalendar(yaml, "inline.yaml");
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  return c.status().message();
}

std::string LoadError(const std::string& file) {
  Result<Calendar> c = LoadCalendar(kTestdata + "/" + file);
  EXPECT_FALSE(c.ok());
  return c.status().message();
}

TEST(CalendarTest, LoadsEveryKindOfEvent) {
  Result<Calendar> c = LoadCalendar(kTestdata + "/calendar_good.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->events().size(), 5u);
  EXPECT_EQ(c->names(), (std::vector<std::string>{"black_friday_campaign", "nightly_batch",
                                                  "maintenance", "month_end"}));
  const CalendarEvent& batch = c->events()[1];
  EXPECT_EQ(batch.start_ms, T("2024-01-01T02:00:00Z"));
  EXPECT_EQ(batch.end_ms, T("2024-01-01T03:30:00Z"));
  EXPECT_EQ(batch.every_ms, kDay);
  EXPECT_EQ(batch.until_ms, T("2024-01-03T02:00:00Z"));
  EXPECT_EQ(c->events()[2].every_ms, 7 * kDay);
  EXPECT_EQ(c->events()[3].monthly_day, -1);
  EXPECT_EQ(c->events()[4].start_ms, T("2023-11-24T00:00:00Z"));
}

TEST(CalendarTest, RecurringEventCoversFractionsOfSteps) {
  Calendar c = *LoadCalendar(kTestdata + "/calendar_good.yaml");
  auto r = c.Regressors(T("2024-01-01T00:00:00Z"), kHour, 24 * 4);
  ASSERT_EQ(r->names, c.names());
  ASSERT_EQ(r->values.rows(), 96);
  ASSERT_EQ(r->values.cols(), 4);
  // Row i ends at 00:00 + i hours and covers the hour before it. The batch runs 02:00-03:30.
  for (int day = 0; day < 4; ++day) {
    for (int hour = 0; hour < 24; ++hour) {
      double want = 0;
      if (day < 3 && hour == 3) want = 1.0;  // (02:00, 03:00]
      if (day < 3 && hour == 4) want = 0.5;  // (03:00, 04:00]: half an hour of batch
      EXPECT_EQ(r->values(day * 24 + hour, 1), want) << "day " << day << " hour " << hour;
    }
  }
  EXPECT_EQ(r->values.col(0).sum(), 0);  // no campaign in early January
  EXPECT_EQ(r->values.col(2).sum(), 0);  // maintenance starts in March
}

TEST(CalendarTest, WeeklyEventAcrossMidnight) {
  Calendar c = *LoadCalendar(kTestdata + "/calendar_good.yaml");
  // The second maintenance window: 2024-03-17 22:00 to 2024-03-18 02:00.
  int64_t start = T("2024-03-17T20:00:00Z");
  auto r = c.Regressors(start, kHour, 8);
  std::vector<double> got(r->values.col(2).data(), r->values.col(2).data() + 8);
  // Rows end at 20:00, 21:00, ..., 03:00.
  EXPECT_EQ(got, (std::vector<double>{0, 0, 0, 1, 1, 1, 1, 0}));
}

TEST(CalendarTest, MonthlyLastDayAndSharedNames) {
  Calendar c = *LoadCalendar(kTestdata + "/calendar_good.yaml");
  // Daily rows ending at 00:00 from 2024-02-28 to 2024-03-02: row t covers the day before t.
  auto r = c.Regressors(T("2024-02-28T00:00:00Z"), kDay, 4);
  std::vector<double> month_end(r->values.col(3).data(), r->values.col(3).data() + 4);
  EXPECT_EQ(month_end, (std::vector<double>{0, 0, 1, 0}));  // 2024-02-29, a leap day
  // Both Black Fridays land in the one column.
  auto bf2023 = c.Regressors(T("2023-11-25T00:00:00Z"), kDay, 4);
  std::vector<double> got2023(bf2023->values.col(0).data(), bf2023->values.col(0).data() + 4);
  EXPECT_EQ(got2023, (std::vector<double>{1, 1, 1, 0}));  // 11-24, 11-25, 11-26, not 11-27
  auto bf2024 = c.Regressors(T("2024-11-29T00:00:00Z"), kDay, 5);
  std::vector<double> got(bf2024->values.col(0).data(), bf2024->values.col(0).data() + 5);
  EXPECT_EQ(got, (std::vector<double>{0, 1, 1, 1, 0}));
}

TEST(CalendarTest, MonthlyDaysFromStartAndEnd) {
  Calendar c = *ParseCalendar(
      "events:\n"
      "  - {name: payday, monthly: {day: 15}}\n"
      "  - {name: third_last, monthly: {day: -3}, until: 2024-03-01T00:00:00Z}\n",
      "inline.yaml");
  auto r = c.Regressors(T("2024-01-01T00:00:00Z"), kDay, 100);  // rows end 2024-01-01 .. 04-09
  for (int i = 0; i < 100; ++i) {
    int64_t day_start = T("2024-01-01T00:00:00Z") + (i - 1) * kDay;  // the day row i covers
    std::string date = FormatRfc3339Ms(day_start).substr(0, 10);
    bool payday = date == "2024-01-15" || date == "2024-02-15" || date == "2024-03-15";
    bool third_last = date == "2024-01-29" || date == "2024-02-27";
    EXPECT_EQ(r->values(i, 0), payday ? 1 : 0) << date;
    EXPECT_EQ(r->values(i, 1), third_last ? 1 : 0) << date;  // none after `until`
  }
}

TEST(CalendarTest, OverlappingOccurrencesCountOnce) {
  Calendar c = *ParseCalendar(
      "events:\n"
      "  - name: busy\n"
      "    start: 2024-01-01T00:10:00Z\n"
      "    end: 2024-01-01T02:10:00Z\n"
      "    every: 1h\n"
      "  - name: short\n"
      "    start: 2024-01-01T00:10:00Z\n"
      "    end: 2024-01-01T00:40:00Z\n",
      "inline.yaml");
  auto r = c.Regressors(T("2024-01-01T00:00:00Z"), kHour, 6);
  EXPECT_EQ(r->values(0, 0), 0);  // (23:00, 00:00]: before the first occurrence
  EXPECT_NEAR(r->values(1, 0), 50.0 / 60.0, 1e-12);
  for (int i = 2; i < 6; ++i) EXPECT_EQ(r->values(i, 0), 1.0);  // covered twice, counted once
  EXPECT_EQ(r->values(1, 1), 0.5);
  EXPECT_EQ(r->values(2, 1), 0);
}

TEST(CalendarTest, EmptyEventListAndEmptyGrid) {
  Calendar c = *ParseCalendar("events: []\n", "inline.yaml");
  EXPECT_TRUE(c.names().empty());
  auto r = c.Regressors(0, kHour, 10);
  EXPECT_EQ(r->values.rows(), 10);
  EXPECT_EQ(r->values.cols(), 0);
  Calendar good = *LoadCalendar(kTestdata + "/calendar_good.yaml");
  EXPECT_EQ(good.Regressors(0, kHour, 0)->values.rows(), 0);
}

TEST(CalendarTest, ErrorsFromFilesNameFileLineAndColumn) {
  const std::string p = kTestdata + "/";
  EXPECT_EQ(LoadError("calendar_unknown_key.yaml"),
            p + "calendar_unknown_key.yaml:5:5: unknown key \"colour\" in event "
                "\"black_friday_campaign\" (allowed: name, start, end, every, until, monthly)");
  EXPECT_EQ(LoadError("calendar_end_before_start.yaml"),
            p + "calendar_end_before_start.yaml:7:10: end of event \"backwards\" "
                "(2024-03-10T22:00:00.000Z) must be after its start (2024-03-11T02:00:00.000Z)");
  EXPECT_EQ(LoadError("calendar_bad_time.yaml"),
            p + "calendar_bad_time.yaml:3:12: start of event \"typo\": bad time "
                "\"2024-13-01T00:00:00Z\": expected a month 01-12 at offset 7 (want RFC 3339, "
                "YYYY-MM-DD HH:MM:SS, Unix seconds, now or -1h)");
  EXPECT_EQ(LoadError("calendar_wrong_type.yaml"),
            p + "calendar_wrong_type.yaml:3:12: start of event \"nightly_batch\" must be a time, "
                "got a sequence");
  EXPECT_EQ(LoadError("calendar_bad_monthly.yaml"),
            p + "calendar_bad_monthly.yaml:3:20: monthly.day of event \"month_end\" must be "
                "1..28 or -1..-3, got 31");
  // yaml-cpp's own words (0.7), behind our prefix.
  EXPECT_EQ(
      LoadError("calendar_syntax_error.yaml"),
      p + "calendar_syntax_error.yaml:4:1: YAML syntax error: end of sequence flow not found");
}

TEST(CalendarTest, MissingFileIsNotFound) {
  Result<Calendar> c = LoadCalendar(kTestdata + "/no_such_calendar.yaml");
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(),
            "cannot read calendar file " + kTestdata + "/no_such_calendar.yaml");
}

TEST(CalendarTest, StructureErrors) {
  EXPECT_EQ(ParseError(""), "inline.yaml: empty calendar: want a map with the key \"events\"");
  EXPECT_EQ(ParseError("- a\n"),
            "inline.yaml:1:1: top level must be a map with the key \"events\", got a sequence");
  EXPECT_EQ(ParseError("events: []\nevnets: []\n"),
            "inline.yaml:2:1: unknown key \"evnets\" at the top level (allowed: events)");
  EXPECT_EQ(ParseError("events: []\nevents: []\n"),
            "inline.yaml:2:1: duplicate key \"events\" at the top level");
  EXPECT_EQ(ParseError("other: 1\n").substr(0, 23), "inline.yaml:1:1: unknow");
  EXPECT_EQ(ParseError("{}\n"), "inline.yaml:1:1: missing key \"events\"");
  EXPECT_EQ(ParseError("events:\n"), "inline.yaml:1:1: events must be a sequence, got null");
  EXPECT_EQ(ParseError("events:\n  - just_a_string\n"),
            "inline.yaml:2:5: event #1 must be a map, got a scalar");
  EXPECT_EQ(ParseError("events:\n  - start: 2024-01-01T00:00:00Z\n"),
            "inline.yaml:2:5: event #1 has no name");
  EXPECT_EQ(ParseError("events:\n  - name: [x]\n"),
            "inline.yaml:2:11: name of event #1 must be a string, got a sequence");
  EXPECT_EQ(ParseError("events:\n  - name: black-friday\n"),
            "inline.yaml:2:11: name of event #1 \"black-friday\" must match "
            "[a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(ParseError("events:\n  - {name: a, start: 2024-01-01T00:00:00Z, name: b}\n"),
            "inline.yaml:2:44: duplicate key \"name\" in event #1");
  EXPECT_EQ(ParseError("events:\n  - name: a\n    start: 2024-01-01T00:00:00Z\n"),
            "inline.yaml:2:5: event \"a\" needs \"start\" and \"end\", or \"monthly\"");
}

TEST(CalendarTest, FieldErrors) {
  const std::string head = "events:\n  - name: e\n    start: 2024-01-01T00:00:00Z\n";
  EXPECT_EQ(ParseError(head + "    end: 2024-01-01T00:00:00Z\n"),
            "inline.yaml:4:10: end of event \"e\" (2024-01-01T00:00:00.000Z) must be after its "
            "start (2024-01-01T00:00:00.000Z)");
  const std::string ok = head + "    end: 2024-01-01T01:00:00Z\n";
  EXPECT_EQ(ParseError(ok + "    until: 2024-02-01T00:00:00Z\n"),
            "inline.yaml:5:5: \"until\" needs \"every\" or \"monthly\" in event \"e\"");
  EXPECT_EQ(ParseError(ok + "    every: 1d\n    until: 2023-02-01T00:00:00Z\n"),
            "inline.yaml:6:12: until of event \"e\" (2023-02-01T00:00:00.000Z) is before its "
            "start (2024-01-01T00:00:00.000Z)");
  EXPECT_EQ(ParseError(ok + "    every: 30s\n"),
            "inline.yaml:5:12: every of event \"e\" must be at least 1m, got 30s");
  EXPECT_EQ(ParseError(ok + "    every: 1 day\n"),
            "inline.yaml:5:12: every of event \"e\": bad duration \"1 day\": unknown unit \" "
            "day\" at offset 1 (expected one of y, w, d, h, m, s, ms)");
  EXPECT_EQ(ParseError(ok + "    every: {n: 1}\n"),
            "inline.yaml:5:12: every of event \"e\" must be a duration, got a map");
  EXPECT_EQ(ParseError(head + "    end: now\n"),
            "inline.yaml:4:10: end of event \"e\": \"now\" is relative to now, a calendar needs "
            "absolute times");
  EXPECT_EQ(ParseError(head + "    end: -1h\n"),
            "inline.yaml:4:10: end of event \"e\": \"-1h\" is relative to now, a calendar needs "
            "absolute times");
  EXPECT_EQ(ParseError(head + "    end:\n"),
            "inline.yaml:4:5: end of event \"e\" must be a time, got null");
  EXPECT_EQ(ParseError(head + "    monthly: {day: 1}\n"),
            "inline.yaml:3:5: \"start\" cannot be combined with \"monthly\" in event \"e\"");
}

TEST(CalendarTest, MonthlyErrors) {
  const std::string head = "events:\n  - name: m\n    monthly: ";
  EXPECT_EQ(ParseError(head + "-1\n"),
            "inline.yaml:3:14: monthly of event \"m\" must be a map like {day: -1}, got a scalar");
  EXPECT_EQ(ParseError(head + "{}\n"), "inline.yaml:3:14: monthly of event \"m\" needs \"day\"");
  EXPECT_EQ(ParseError(head + "{day: 1, week: 2}\n"),
            "inline.yaml:3:23: unknown key \"week\" in monthly of event \"m\" (allowed: day)");
  EXPECT_EQ(ParseError(head + "{day: last}\n"),
            "inline.yaml:3:20: monthly.day of event \"m\" must be an integer, got \"last\"");
  EXPECT_EQ(ParseError(head + "{day: 0}\n"),
            "inline.yaml:3:20: monthly.day of event \"m\" must be 1..28 or -1..-3, got 0");
  EXPECT_EQ(ParseError(head + "{day: -4}\n"),
            "inline.yaml:3:20: monthly.day of event \"m\" must be 1..28 or -1..-3, got -4");
}

TEST(CalendarTest, SyntaxErrorsAreCaught) {
  std::string err = ParseError("events: [\n");
  EXPECT_TRUE(err.starts_with("inline.yaml:")) << err;
  EXPECT_NE(err.find("YAML syntax error"), std::string::npos) << err;
  err = ParseError("events:\n  - name: a\n   bad indent: [\n");
  EXPECT_NE(err.find("YAML syntax error"), std::string::npos) << err;
  err = ParseError("a: &x 1\nb: *y\n");
  EXPECT_TRUE(err.starts_with("inline.yaml:")) << err;
}

}  // namespace
}  // namespace foresight::forecast
