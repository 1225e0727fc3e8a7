#include "foresight/forecast/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "foresight/forecast/m4.h"

namespace foresight::forecast {
namespace {

TEST(MetricsTest, HandComputed) {
  std::vector<double> train = {1, 2, 3, 4, 6};  // seasonal diffs at m=2: 2, 2, 3
  EXPECT_DOUBLE_EQ(SeasonalNaiveScale(train, 2), 7.0 / 3.0);
  std::vector<double> y = {10, 20}, f = {12, 20};
  EXPECT_DOUBLE_EQ(Smape(y, f), 200.0 / 2 * (2.0 / 22.0));
  EXPECT_DOUBLE_EQ(Mase(y, f, 2.0), 0.5);
  std::vector<double> lo = {11, 15}, hi = {13, 18};
  // widths 2 and 3; y[0]=10 < 11: + 2/0.05*1 = 40; y[1]=20 > 18: + 40*2 = 80.
  EXPECT_DOUBLE_EQ(Msis(y, lo, hi, 1.0, 0.05), (2 + 40 + 3 + 80) / 2.0);
  EXPECT_DOUBLE_EQ(Coverage(y, lo, hi), 0.0);
  std::vector<double> nan_y = {NAN, 20};
  EXPECT_DOUBLE_EQ(Mase(nan_y, f, 1.0), 0.0);
  EXPECT_TRUE(std::isnan(SeasonalNaiveScale(std::vector<double>{1}, 24)));
}

// The published M4 Hourly figures for seasonal naive: sMAPE 13.912, MASE 1.193 (M4's own
// forecasts; ../shared/data/m4_hourly). A small copy is not bundled, so this runs only where
// the shared data sets are present beside the checkout.
TEST(MetricsTest, ReproducesPublishedM4HourlySeasonalNaive) {
  const std::string dir = std::string(FORESIGHT_SHARED_DATA) + "/m4_hourly";
  if (!std::ifstream(dir + "/train.csv")) GTEST_SKIP() << "no " << dir;
  auto train = ReadM4Csv(dir + "/train.csv");
  auto test = ReadM4Csv(dir + "/test.csv");
  auto snaive = ReadM4Csv(dir + "/benchmark_forecasts/sNaive.csv");
  ASSERT_TRUE(train.ok() && test.ok() && snaive.ok());
  ASSERT_EQ(train->size(), 414u);
  double smape = 0, mase = 0;
  for (size_t i = 0; i < train->size(); ++i) {
    ASSERT_EQ((*train)[i].id, (*test)[i].id);
    ASSERT_EQ((*snaive)[i].id, (*test)[i].id);
    const double scale = SeasonalNaiveScale((*train)[i].values, 24);
    smape += Smape((*test)[i].values, (*snaive)[i].values);
    mase += Mase((*test)[i].values, (*snaive)[i].values, scale);
  }
  EXPECT_NEAR(smape / 414, 13.912, 0.0005);
  EXPECT_NEAR(mase / 414, 1.193, 0.0005);
}

TEST(M4CsvTest, ErrorsNameLineAndColumn) {
  const std::string path = ::testing::TempDir() + "/m4_bad.csv";
  std::ofstream(path) << "\"V1\",\"V2\",\"V3\"\n\"H1\",\"1\",\"2\"\n\"H2\",\"1\",\"x\"\n";
  auto r = ReadM4Csv(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path + ":3: column 3: \"x\" is not a number");
  EXPECT_EQ(ReadM4Csv("/nonexistent.csv").status().message(), "/nonexistent.csv: cannot open");
  std::ofstream(path) << "\"V1\",\"V2\"\n\"H1\",\"1\",,,\n";
  auto ok = ReadM4Csv(path);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[0].values, std::vector<double>{1});
}

}  // namespace
}  // namespace foresight::forecast
