#include "foresight/forecast/grid.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

namespace foresight::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kStale = std::bit_cast<double>(kStaleNaNBits);

Grid MustRegularize(const std::vector<int64_t>& ts, const std::vector<double>& v, int64_t start,
                    int64_t end, int64_t step, Aggregation agg) {
  Result<Grid> g = Regularize(ts, v, start, end, step, agg);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *g : Grid{};
}

TEST(GridTest, AlignsToEpochMultiplesInsideTheRange) {
  Grid g = MustRegularize({}, {}, 30'000, 200'000, 60'000, Aggregation::kLast);
  EXPECT_EQ(g.start_ms, 60'000);
  EXPECT_EQ(g.step_ms, 60'000);
  ASSERT_EQ(g.values.size(), 3u);
  EXPECT_EQ(GridTimes(g), (std::vector<int64_t>{60'000, 120'000, 180'000}));
  for (double v : g.values) EXPECT_TRUE(std::isnan(v));  // empty steps are NaN, never zero
}

TEST(GridTest, AlignsNegativeTimesToo) {
  Grid g = MustRegularize({-130'000, -61'000, -60'000}, {1, 2, 3}, -150'000, 0, 60'000,
                          Aggregation::kLast);
  EXPECT_EQ(GridTimes(g), (std::vector<int64_t>{-120'000, -60'000, 0}));
  EXPECT_EQ(g.values[0], 1);  // -130s is in (-180s, -120s]
  EXPECT_EQ(g.values[1], 3);  // -61s and -60s are in (-120s, -60s]
  EXPECT_TRUE(std::isnan(g.values[2]));
}

TEST(GridTest, WindowIsOpenOnTheLeftClosedOnTheRight) {
  // Step t covers (t - 60s, t]: a sample exactly at t belongs to t, one at t - 60s does not.
  Grid g = MustRegularize({60'000, 60'001, 120'000}, {1, 2, 3}, 60'000, 180'000, 60'000,
                          Aggregation::kSum);
  ASSERT_EQ(g.values.size(), 3u);
  EXPECT_EQ(g.values[0], 1);
  EXPECT_EQ(g.values[1], 5);
  EXPECT_TRUE(std::isnan(g.values[2]));
}

TEST(GridTest, IrregularTimestampsEachAggregation) {
  std::vector<int64_t> ts = {5'000, 17'000, 59'000, 61'000, 119'999, 185'000, 239'000};
  std::vector<double> v = {4, 1, 7, 2, 6, 10, -3};
  auto at = [&](Aggregation a) { return MustRegularize(ts, v, 60'000, 240'000, 60'000, a).values; };
  std::vector<double> last = at(Aggregation::kLast);
  std::vector<double> mean = at(Aggregation::kMean);
  std::vector<double> max = at(Aggregation::kMax);
  std::vector<double> min = at(Aggregation::kMin);
  std::vector<double> sum = at(Aggregation::kSum);
  ASSERT_EQ(last.size(), 4u);
  EXPECT_EQ(last[0], 7);
  EXPECT_DOUBLE_EQ(mean[0], 4.0);
  EXPECT_EQ(max[0], 7);
  EXPECT_EQ(min[0], 1);
  EXPECT_EQ(sum[0], 12);
  EXPECT_EQ(last[1], 6);
  EXPECT_DOUBLE_EQ(mean[1], 4.0);
  // The gap (120s, 180s] stays NaN in every aggregation.
  for (const auto& vs : {last, mean, max, min, sum}) EXPECT_TRUE(std::isnan(vs[2]));
  EXPECT_EQ(last[3], -3);
  EXPECT_DOUBLE_EQ(mean[3], 3.5);
  EXPECT_EQ(min[3], -3);
  EXPECT_EQ(sum[3], 7);
}

TEST(GridTest, StaleMarkersAndNaNSamplesAreSkipped) {
  EXPECT_TRUE(IsStaleMarker(kStale));
  EXPECT_FALSE(IsStaleMarker(kNaN));
  EXPECT_FALSE(IsStaleMarker(1.0));
  std::vector<int64_t> ts = {10'000, 20'000, 30'000, 70'000, 130'000};
  std::vector<double> v = {1, kStale, 3, kStale, kNaN};
  Grid mean = MustRegularize(ts, v, 60'000, 180'000, 60'000, Aggregation::kMean);
  EXPECT_DOUBLE_EQ(mean.values[0], 2.0);    // the stale marker did not count as a sample
  EXPECT_TRUE(std::isnan(mean.values[1]));  // only a stale marker: missing
  EXPECT_TRUE(std::isnan(mean.values[2]));  // only a NaN: missing
  Grid last = MustRegularize(ts, v, 60'000, 60'000, 60'000, Aggregation::kLast);
  EXPECT_EQ(last.values[0], 3);
}

TEST(GridTest, DuplicateTimestampsAggregateInInputOrder) {
  std::vector<int64_t> ts = {30'000, 30'000, 30'000};
  std::vector<double> v = {5, 1, 2};
  EXPECT_EQ(MustRegularize(ts, v, 0, 60'000, 60'000, Aggregation::kLast).values[1], 2);
  EXPECT_EQ(MustRegularize(ts, v, 0, 60'000, 60'000, Aggregation::kSum).values[1], 8);
  EXPECT_EQ(MustRegularize(ts, v, 0, 60'000, 60'000, Aggregation::kMax).values[1], 5);
}

TEST(GridTest, SamplesOutsideTheGridAreIgnored) {
  Grid g = MustRegularize({0, 60'000, 61'000, 500'000}, {100, 100, 1, 100}, 120'000, 120'000,
                          60'000, Aggregation::kSum);
  ASSERT_EQ(g.values.size(), 1u);
  EXPECT_EQ(g.values[0], 1);
}

TEST(GridTest, HugeValuesDoNotOverflowTheMean) {
  double big = std::numeric_limits<double>::max() / 2;
  Grid g = MustRegularize({1, 2, 3}, {big, big, big}, 0, 60'000, 60'000, Aggregation::kMean);
  EXPECT_DOUBLE_EQ(g.values[1], big);
  Grid s = MustRegularize({1, 2, 3}, {big, big, big}, 0, 60'000, 60'000, Aggregation::kSum);
  EXPECT_TRUE(std::isinf(s.values[1]));  // a true overflow of the sum is reported as such
}

TEST(GridTest, RangeWithoutAlignedTimeGivesEmptyGrid) {
  Grid g = MustRegularize({1'000}, {1}, 1'000, 59'000, 60'000, Aggregation::kLast);
  EXPECT_TRUE(g.values.empty());
  EXPECT_TRUE(GridTimes(g).empty());
}

TEST(GridTest, ValidatesArguments) {
  std::vector<int64_t> ts = {0, 2'000, 1'000};
  std::vector<double> v = {1, 2, 3};
  EXPECT_EQ(Regularize({}, {}, 0, 1, 0, Aggregation::kLast).status().message(),
            "step must be positive, got 0ms");
  EXPECT_EQ(Regularize({}, {}, 0, 1, -5, Aggregation::kLast).status().message(),
            "step must be positive, got -5ms");
  EXPECT_EQ(Regularize({}, {}, 10, 1, 1, Aggregation::kLast).status().message(),
            "start (10) is after end (1)");
  Result<Grid> unsorted = Regularize(ts, v, 0, 60'000, 1'000, Aggregation::kLast);
  EXPECT_EQ(unsorted.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(unsorted.status().message(),
            "timestamps must be sorted ascending: sample 2 (1000) is before sample 1 (2000)");
  std::vector<double> short_v = {1, 2};
  EXPECT_EQ(Regularize(ts, short_v, 0, 1, 1, Aggregation::kLast).status().message(),
            "got 3 timestamps but 2 values");
  Result<Grid> huge = Regularize({}, {}, 0, int64_t{1} << 40, 1, Aggregation::kLast);
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace foresight::forecast
