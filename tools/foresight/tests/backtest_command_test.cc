#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli.h"
#include "foresight/common/timeparse.h"

namespace foresight::cli {
namespace {

struct Outcome {
  int code;
  std::string out, err;
};

Outcome Backtest(std::vector<std::string> args) {
  std::ostringstream out, err;
  FakeClock clock;
  Env env{out, err, clock};
  args.insert(args.begin(), "backtest");
  int code = cli::Run(args, env);
  return {code, out.str(), err.str()};
}

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

// A small M4-layout data set: 6 seasonal series of 10 days, 1 day held out.
std::string WriteM4(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream train(dir + "/train.csv"), test(dir + "/test.csv");
  train << "\"V1\"";
  for (int i = 2; i <= 241; ++i) train << ",\"V" << i << "\"";
  train << "\n";
  test << "\"V1\"";
  for (int i = 2; i <= 25; ++i) test << ",\"V" << i << "\"";
  test << "\n";
  for (int s = 1; s <= 6; ++s) {
    train << "\"H" << s << "\"";
    test << "\"H" << s << "\"";
    for (int t = 0; t < 264; ++t) {
      double v = 100 * s + 10 * std::sin(2 * M_PI * t / 24) + ((t * 7919 + s) % 13) / 13.0;
      (t < 240 ? train : test) << ",\"" << v << "\"";
    }
    train << "\n";
    test << "\n";
  }
  return dir;
}

TEST(BacktestCommandTest, M4LayoutJson) {
  const std::string dir = WriteM4(TempPath("m4small"));
  Outcome r = Backtest({"--m4-dir=" + dir, "--period=24", "--json", "--jobs=2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("{\"series\": 6, \"failed\": 0, \"seconds\": "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"selected\": {\"mase\": "), std::string::npos) << r.out;
  for (const char* m : {"snaive", "smean", "ets", "mstl", "theta", "regression", "naive"}) {
    EXPECT_NE(r.out.find(std::string("\"") + m + "\": {\"mase\": "), std::string::npos) << m;
  }
}

TEST(BacktestCommandTest, CsvSeriesTable) {
  const std::string path = TempPath("series.csv");
  {
    std::ofstream f(path);
    f << "timestamp,value\n";
    for (int t = 0; t < 24 * 14; ++t) {
      f << FormatRfc3339Ms(1700000000000LL + t * 3600000LL) << "," << 50 + 5 * std::sin(2 * M_PI * t / 24) << "\n";
    }
  }
  Outcome r = Backtest({"--csv=" + path, "--horizon=24", "--period=24", "--origins=2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("series 2 (failed 0)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("selected"), std::string::npos);
}

double SelectedMase(const std::string& json) {
  auto at = json.find("\"selected\": {\"mase\": ");
  EXPECT_NE(at, std::string::npos) << json;
  return std::stod(json.substr(at + 22));
}

TEST(BacktestCommandTest, CalendarEventsBecomeRegressors) {
  // A 2-hour batch every 3 days adds 40 on top of a daily cycle: without the calendar the
  // regression cannot know when it comes; with it, it forecasts it.
  const std::string csv = TempPath("events.csv"), cal = TempPath("events.yml");
  const int64_t start = 1700006400000LL;  // 2023-11-15T00:00:00Z
  {
    std::ofstream f(csv);
    f << "timestamp,value\n";
    for (int t = 0; t < 24 * 30; ++t) {
      const bool batch = (t % 72) >= 2 && (t % 72) < 4;
      f << (start + t * 3600000LL) / 1000 << ","
        << 100 + 10 * std::sin(2 * M_PI * t / 24) + (batch ? 40 : 0) + ((t * 37) % 11) / 11.0 << "\n";
    }
  }
  std::ofstream(cal) << "events:\n  - name: batch\n    start: 2023-11-15T01:00:00Z\n"
                        "    end: 2023-11-15T03:00:00Z\n    every: 3d\n";
  const std::vector<std::string> common = {"--csv=" + csv, "--horizon=72", "--period=24",
                                           "--origins=2", "--models=regression", "--json"};
  std::vector<std::string> with = common;
  with.push_back("--calendar=" + cal);
  Outcome plain = Backtest(common), events = Backtest(with);
  ASSERT_EQ(plain.code, 0) << plain.err;
  ASSERT_EQ(events.code, 0) << events.err;
  EXPECT_LT(SelectedMase(events.out), 0.5 * SelectedMase(plain.out)) << plain.out << events.out;

  Outcome bad = Backtest({"--csv=" + csv, "--horizon=24", "--calendar=/nonexistent.yml"});
  EXPECT_EQ(bad.code, kExitFailure);
  EXPECT_NE(bad.err.find("/nonexistent.yml"), std::string::npos) << bad.err;
  EXPECT_EQ(Backtest({"--m4-dir=x", "--calendar=" + cal}).code, kExitUsage);
}

TEST(BacktestCommandTest, UsageErrors) {
  EXPECT_EQ(Backtest({}).code, kExitUsage);
  Outcome both = Backtest({"--m4-dir=x", "--csv=y"});
  EXPECT_EQ(both.code, kExitUsage);
  EXPECT_NE(both.err.find("give exactly one of --m4-dir and --csv"), std::string::npos);
  Outcome nohorizon = Backtest({"--csv=y"});
  EXPECT_NE(nohorizon.err.find("--csv needs --horizon of at least 1"), std::string::npos);
  Outcome period = Backtest({"--csv=y", "--horizon=3", "--period=1"});
  EXPECT_NE(period.err.find("--period \"1\" must be a whole number of steps >= 2"), std::string::npos);
  Outcome model = Backtest({"--csv=y", "--horizon=3", "--models=ets,prophet"});
  EXPECT_EQ(model.code, kExitUsage);
  EXPECT_NE(model.err.find("unknown model \"prophet\""), std::string::npos) << model.err;
}

TEST(BacktestCommandTest, BadFilesNameLineAndColumn) {
  Outcome missing = Backtest({"--m4-dir=/nonexistent"});
  EXPECT_EQ(missing.code, kExitFailure);
  EXPECT_NE(missing.err.find("/nonexistent/train.csv: cannot open"), std::string::npos);
  const std::string path = TempPath("bad.csv");
  std::ofstream(path) << "ts,value\n1700000000,1\n1700003600,x\n";
  Outcome bad = Backtest({"--csv=" + path, "--horizon=1"});
  EXPECT_EQ(bad.code, kExitFailure);
  EXPECT_NE(bad.err.find(path + ":3: column 2: \"x\" is not a number"), std::string::npos) << bad.err;
  std::ofstream(path) << "ts,value\n1700003600,1\n1700000000,2\n";
  Outcome order = Backtest({"--csv=" + path, "--horizon=1"});
  EXPECT_NE(order.err.find(path + ":3: timestamp 1700000000 is not after the previous row's"),
            std::string::npos)
      << order.err;
  std::ofstream(path) << "ts,value\n1700000000,1\n1700003600,2\n";
  Outcome few = Backtest({"--csv=" + path, "--horizon=5"});
  EXPECT_NE(few.err.find("has 2 rows, too few for 1 origins of 5 steps"), std::string::npos) << few.err;
}

}  // namespace
}  // namespace foresight::cli
