#include "foresight/exporter/series.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace foresight::exporter {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::NanSensitiveDoubleEq;
using ::testing::Pointwise;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kKeepAll = std::numeric_limits<int64_t>::min();
constexpr int64_t kStep = 60'000;

double StaleMarker() { return std::bit_cast<double>(kStaleNaNBits); }

remote_read::Series MakeSeries(remote_read::Labels labels, std::vector<int64_t> ts,
                               std::vector<double> vs) {
  remote_read::Series s;
  s.labels = std::move(labels);
  s.timestamps_ms = std::move(ts);
  s.values = std::move(vs);
  return s;
}

// One sample at each grid time kStep, 2 * kStep, ...; NaN values are left out, as a series
// with a gap has no sample there.
remote_read::Series OnGrid(remote_read::Labels labels, const std::vector<double>& values) {
  remote_read::Series s;
  s.labels = std::move(labels);
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) continue;
    s.timestamps_ms.push_back(static_cast<int64_t>(i + 1) * kStep);
    s.values.push_back(values[i]);
  }
  return s;
}

ForecastJobConfig Job(SeriesTransform transform = SeriesTransform::kNone,
                      AggregateOp op = AggregateOp::kNone, bool without = false,
                      std::vector<std::string> labels = {}) {
  ForecastJobConfig job;
  job.name = "test";
  job.transform = transform;
  job.step_aggregation = forecast::Aggregation::kMean;  // the tests below were written for mean
  job.aggregate.op = op;
  job.aggregate.without = without;
  job.aggregate.labels = std::move(labels);
  job.step = milliseconds(kStep);
  return job;
}

std::vector<std::string> Texts(const std::vector<PreparedSeries>& series) {
  std::vector<std::string> out;
  for (const PreparedSeries& s : series) out.push_back(LabelsText(s.labels));
  return out;
}

// Three series over the grid kStep..3*kStep; the last step has no sample anywhere.
std::vector<remote_read::Series> ThreeInstances() {
  return {
      OnGrid({{"__name__", "m"}, {"instance", "a"}, {"job", "x"}, {"svc", "api"}}, {1, 2, kNaN}),
      OnGrid({{"__name__", "m"}, {"instance", "b"}, {"job", "x"}, {"svc", "api"}},
             {3, kNaN, kNaN}),
      OnGrid({{"__name__", "m"}, {"instance", "c"}, {"job", "x"}, {"svc", "web"}}, {5, 6, kNaN}),
  };
}

Result<std::vector<PreparedSeries>> Prepare(const std::vector<remote_read::Series>& pulled,
                                            const ForecastJobConfig& job,
                                            PrepareStats* stats = nullptr) {
  return PrepareSeries(pulled, job, kStep, 3 * kStep, kKeepAll, stats);
}

TEST(LabelsTextTest, FormatsAndEscapesAsPromQL) {
  EXPECT_EQ(LabelsText({}), "{}");
  EXPECT_EQ(LabelsText({{"a", "b"}, {"c", "d"}}), R"({a="b",c="d"})");
  EXPECT_EQ(LabelsText({{"a", "x\\y\"z\nw"}}), R"({a="x\\y\"z\nw"})");
}

TEST(PrepareSeriesTest, NoTransformIsTheMeanPerStepAndIgnoresStaleMarkers) {
  // Steps at 60s..300s, each covering (t - 60s, t].
  std::vector<remote_read::Series> pulled = {MakeSeries(
      {{"__name__", "m"}, {"a", "1"}},
      {30'000, 60'000, 90'000, 120'000, 200'000, 230'000, 290'000, 300'000},
      {1, 3, 4, StaleMarker(), 5, 7, kNaN, StaleMarker()})};
  PrepareStats stats;
  auto got = PrepareSeries(pulled, Job(), 60'000, 300'000, kKeepAll, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  const PreparedSeries& s = (*got)[0];
  EXPECT_EQ(LabelsText(s.labels), R"({a="1"})");
  EXPECT_EQ(s.grid.start_ms, 60'000);
  EXPECT_EQ(s.grid.step_ms, kStep);
  EXPECT_THAT(s.grid.values, Pointwise(NanSensitiveDoubleEq(), {2.0, 4.0, kNaN, 6.0, kNaN}));
  EXPECT_EQ(s.last_sample_ms, 230'000);  // the NaN and the stale markers after it do not count
  EXPECT_EQ(s.members, 1u);
  EXPECT_EQ(stats.input_series, 1u);
  EXPECT_EQ(stats.vanished, 0u);
  EXPECT_EQ(stats.dropped_over_max, 0u);
}

TEST(PrepareSeriesTest, StepAggregationChoosesHowAStepsSamplesCombine) {
  std::vector<remote_read::Series> pulled = {MakeSeries(
      {{"__name__", "m"}}, {30'000, 60'000, 90'000, 120'000}, {1, 3, 4, 8})};
  ForecastJobConfig job = Job();
  for (auto [agg, want] : std::vector<std::pair<forecast::Aggregation, std::vector<double>>>{
           {forecast::Aggregation::kLast, {3, 8}},
           {forecast::Aggregation::kMax, {3, 8}},
           {forecast::Aggregation::kMin, {1, 4}},
           {forecast::Aggregation::kSum, {4, 12}}}) {
    job.step_aggregation = agg;
    auto got = PrepareSeries(pulled, job, 60'000, 120'000, kKeepAll, nullptr);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_THAT((*got)[0].grid.values, Pointwise(NanSensitiveDoubleEq(), want));
  }
  EXPECT_EQ(ForecastJobConfig().step_aggregation, forecast::Aggregation::kLast);  // the default
}

// A counter scraped every 30s that resets between 60s and 90s.
remote_read::Series ResettingCounter() {
  return MakeSeries({{"__name__", "c_total"}, {"a", "1"}},
                    {0, 30'000, 60'000, 90'000, 120'000, 150'000, 180'000},
                    {10, 20, 40, 5, 15, 25, 35});
}

TEST(PrepareSeriesTest, RateCountsAResetAsGrowthFromZero) {
  auto got = PrepareSeries({ResettingCounter()}, Job(SeriesTransform::kRate), 60'000, 180'000,
                           kKeepAll, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  // 60s: 10 -> 20 -> 40 over 60s; 120s: 40 -> 5 (reset: +5) -> 15 over 60s; 180s: 15 -> 35.
  EXPECT_THAT((*got)[0].grid.values, Pointwise(NanSensitiveDoubleEq(), {0.5, 0.25, 20.0 / 60}));
  EXPECT_EQ((*got)[0].grid.start_ms, 60'000);
  EXPECT_EQ((*got)[0].last_sample_ms, 180'000);
}

TEST(PrepareSeriesTest, IncreaseIsTheGrowthPerStep) {
  auto got = PrepareSeries({ResettingCounter()}, Job(SeriesTransform::kIncrease), 60'000,
                           180'000, kKeepAll, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_THAT((*got)[0].grid.values, Pointwise(NanSensitiveDoubleEq(), {30.0, 15.0, 20.0}));
}

TEST(PrepareSeriesTest, LabelsDropNameAndEmptyValuesAndAreSortedByName) {
  std::vector<remote_read::Series> pulled = {
      OnGrid({{"z", "1"}, {"__name__", "m"}, {"a", ""}, {"b", "2"}}, {1})};
  auto got = Prepare(pulled, Job());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got), ::testing::ElementsAre(R"({b="2",z="1"})"));
}

struct AggregateCase {
  AggregateOp op;
  std::vector<double> api;  // expected grid of {svc="api"}
  std::vector<double> web;  // expected grid of {svc="web"}
};

class AggregateBySeriesTest : public ::testing::TestWithParam<AggregateCase> {};

TEST_P(AggregateBySeriesTest, AppliesTheOpPerStepOverNonNaNValues) {
  const AggregateCase& c = GetParam();
  for (bool without : {false, true}) {
    SCOPED_TRACE(without ? "without (instance, job)" : "by (svc)");
    ForecastJobConfig job =
        without ? Job(SeriesTransform::kNone, c.op, true, {"instance", "job"})
                : Job(SeriesTransform::kNone, c.op, false, {"svc"});
    PrepareStats stats;
    auto got = Prepare(ThreeInstances(), job, &stats);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), 2u);
    EXPECT_THAT(Texts(*got), ::testing::ElementsAre(R"({svc="api"})", R"({svc="web"})"));
    const PreparedSeries& api = (*got)[0];
    const PreparedSeries& web = (*got)[1];
    EXPECT_THAT(api.grid.values, Pointwise(NanSensitiveDoubleEq(), c.api));
    EXPECT_THAT(web.grid.values, Pointwise(NanSensitiveDoubleEq(), c.web));
    EXPECT_EQ(api.grid.start_ms, kStep);
    EXPECT_EQ(api.grid.step_ms, kStep);
    EXPECT_EQ(api.members, 2u);
    EXPECT_EQ(web.members, 1u);
    EXPECT_EQ(api.last_sample_ms, 2 * kStep);  // max of 2 * kStep (a) and kStep (b)
    EXPECT_EQ(web.last_sample_ms, 2 * kStep);
    EXPECT_EQ(stats.input_series, 3u);
    EXPECT_EQ(stats.vanished, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ops, AggregateBySeriesTest,
    ::testing::Values(AggregateCase{AggregateOp::kSum, {4, 2, kNaN}, {5, 6, kNaN}},
                      AggregateCase{AggregateOp::kAvg, {2, 2, kNaN}, {5, 6, kNaN}},
                      AggregateCase{AggregateOp::kMax, {3, 2, kNaN}, {5, 6, kNaN}},
                      AggregateCase{AggregateOp::kMin, {1, 2, kNaN}, {5, 6, kNaN}}),
    [](const ::testing::TestParamInfo<AggregateCase>& info) {
      return std::string(AggregateOpName(info.param.op));
    });

TEST(PrepareSeriesTest, BareOpAggregatesEverythingIntoOneSeriesWithoutLabels) {
  auto got = Prepare(ThreeInstances(), Job(SeriesTransform::kNone, AggregateOp::kSum));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_TRUE((*got)[0].labels.empty());
  EXPECT_THAT((*got)[0].grid.values, Pointwise(NanSensitiveDoubleEq(), {9.0, 8.0, kNaN}));
  EXPECT_EQ((*got)[0].members, 3u);
  EXPECT_EQ((*got)[0].last_sample_ms, 2 * kStep);
}

TEST(PrepareSeriesTest, ByIgnoresNameAndGroupsSeriesMissingTheLabelTogether) {
  std::vector<remote_read::Series> pulled = {
      OnGrid({{"__name__", "m1"}, {"zone", "z1"}}, {1}),
      OnGrid({{"__name__", "m2"}, {"zone", "z1"}}, {2}),
      OnGrid({{"__name__", "m1"}, {"other", "o"}}, {4}),
      OnGrid({{"__name__", "m1"}, {"zone", ""}}, {8}),  // an empty value is no label
  };
  auto got =
      Prepare(pulled, Job(SeriesTransform::kNone, AggregateOp::kSum, false, {"__name__", "zone"}));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got), ::testing::ElementsAre("{}", R"({zone="z1"})"));
  ASSERT_EQ(got->size(), 2u);
  EXPECT_THAT((*got)[0].grid.values, Pointwise(NanSensitiveDoubleEq(), {12.0, kNaN, kNaN}));
  EXPECT_EQ((*got)[0].members, 2u);
  EXPECT_THAT((*got)[1].grid.values, Pointwise(NanSensitiveDoubleEq(), {3.0, kNaN, kNaN}));
}

TEST(PrepareSeriesTest, WithoutAlsoDropsTheName) {
  std::vector<remote_read::Series> pulled = {
      OnGrid({{"__name__", "a_total"}, {"instance", "1"}, {"svc", "api"}}, {1, 2}),
      OnGrid({{"__name__", "b_total"}, {"instance", "2"}, {"svc", "api"}}, {10, 20}),
  };
  auto got = Prepare(pulled, Job(SeriesTransform::kNone, AggregateOp::kMax, true, {"instance"}));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got), ::testing::ElementsAre(R"({svc="api"})"));
  ASSERT_EQ(got->size(), 1u);
  EXPECT_THAT((*got)[0].grid.values, Pointwise(NanSensitiveDoubleEq(), {10.0, 20.0, kNaN}));
  EXPECT_EQ((*got)[0].members, 2u);
}

TEST(PrepareSeriesTest, AggregatedRateSumsTheMembersRates) {
  remote_read::Series other = ResettingCounter();
  other.labels = {{"__name__", "c_total"}, {"a", "2"}};
  for (double& v : other.values) v *= 2;  // rates {1, 0.5, 2/3}
  auto got = PrepareSeries({ResettingCounter(), other},
                           Job(SeriesTransform::kRate, AggregateOp::kSum), 60'000, 180'000,
                           kKeepAll, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_THAT((*got)[0].grid.values, Pointwise(NanSensitiveDoubleEq(), {1.5, 0.75, 1.0}));
}

TEST(PrepareSeriesTest, VanishingCutoffKeepsASampleExactlyAtItAndDropsOneBefore) {
  std::vector<remote_read::Series> pulled = {OnGrid({{"i", "a"}}, {1, 2})};  // last at 2 * kStep
  for (const auto& [cutoff, kept] :
       std::vector<std::pair<int64_t, bool>>{{2 * kStep, true}, {2 * kStep + 1, false}}) {
    SCOPED_TRACE(cutoff);
    PrepareStats stats;
    auto got = PrepareSeries(pulled, Job(), kStep, 3 * kStep, cutoff, &stats);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->size(), kept ? 1u : 0u);
    EXPECT_EQ(stats.vanished, kept ? 0u : 1u);
    EXPECT_EQ(stats.input_series, 1u);
  }
}

TEST(PrepareSeriesTest, VanishingAppliesToTheAggregateNotItsMembers) {
  // b's newest sample is at kStep, before the cutoff, but its group has a newer one.
  PrepareStats stats;
  auto got = PrepareSeries(ThreeInstances(),
                           Job(SeriesTransform::kNone, AggregateOp::kSum, false, {"svc"}), kStep,
                           3 * kStep, 2 * kStep, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got), ::testing::ElementsAre(R"({svc="api"})", R"({svc="web"})"));
  EXPECT_EQ(stats.vanished, 0u);
}

TEST(PrepareSeriesTest, SeriesWithoutAnyGridValueCountAsVanished) {
  std::vector<remote_read::Series> pulled = {
      ResettingCounter(),
      // One sample: a rate needs two, so the grid is all NaN although the sample is recent.
      MakeSeries({{"a", "single"}}, {180'000}, {7}),
      MakeSeries({{"a", "stale"}}, {120'000}, {StaleMarker()}),
      MakeSeries({{"a", "empty"}}, {}, {}),
  };
  PrepareStats stats;
  auto got = PrepareSeries(pulled, Job(SeriesTransform::kRate), 60'000, 180'000, kKeepAll, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got), ::testing::ElementsAre(R"({a="1"})"));
  EXPECT_EQ(stats.input_series, 4u);
  EXPECT_EQ(stats.vanished, 3u);
  EXPECT_EQ(stats.dropped_over_max, 0u);
}

TEST(PrepareSeriesTest, AnAggregateOfAllNaNMembersCountsAsVanished) {
  std::vector<remote_read::Series> pulled = {
      OnGrid({{"svc", "api"}}, {1}),
      MakeSeries({{"instance", "1"}, {"svc", "web"}}, {kStep}, {StaleMarker()}),
      MakeSeries({{"instance", "2"}, {"svc", "web"}}, {kStep}, {kNaN}),
  };
  PrepareStats stats;
  auto got =
      Prepare(pulled, Job(SeriesTransform::kNone, AggregateOp::kAvg, false, {"svc"}), &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got), ::testing::ElementsAre(R"({svc="api"})"));
  EXPECT_EQ(stats.vanished, 1u);
}

TEST(PrepareSeriesTest, MaxSeriesKeepsTheLexicographicallyFirstLiveSeries) {
  std::vector<remote_read::Series> pulled = {
      OnGrid({{"a", "1"}, {"b", "2"}}, {1}),
      OnGrid({{"a", "10"}}, {1}),
      OnGrid({{"a", "1"}}, {1}),
      OnGrid({{"a", "0"}}, {}),  // first of all, but vanished: it does not take a place
  };
  ForecastJobConfig job = Job();
  job.max_series = 2;
  PrepareStats stats;
  auto got = Prepare(pulled, job, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got), ::testing::ElementsAre(R"({a="1"})", R"({a="1",b="2"})"));
  EXPECT_EQ(stats.input_series, 4u);
  EXPECT_EQ(stats.vanished, 1u);
  EXPECT_EQ(stats.dropped_over_max, 1u);

  job.max_series = 1000;
  got = Prepare(pulled, job, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got),
              ::testing::ElementsAre(R"({a="1"})", R"({a="1",b="2"})", R"({a="10"})"));
  EXPECT_EQ(stats.dropped_over_max, 0u);
}

TEST(PrepareSeriesTest, MaxSeriesCapsGroupsOfAnAggregate) {
  ForecastJobConfig job = Job(SeriesTransform::kNone, AggregateOp::kSum, false, {"svc"});
  job.max_series = 1;
  PrepareStats stats;
  auto got = Prepare(ThreeInstances(), job, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got), ::testing::ElementsAre(R"({svc="api"})"));
  EXPECT_EQ(stats.dropped_over_max, 1u);
}

TEST(PrepareSeriesTest, SeriesEqualWithoutTheirNameKeepTheFirstByName) {
  std::vector<remote_read::Series> pulled = {
      OnGrid({{"__name__", "b_total"}, {"x", "1"}}, {1, 2}),
      OnGrid({{"__name__", "a_total"}, {"x", "1"}}, {10, 20}),
      OnGrid({{"__name__", "a_total"}, {"x", "2"}}, {5}),
  };
  PrepareStats stats;
  auto got = Prepare(pulled, Job(), &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(Texts(*got), ::testing::ElementsAre(R"({x="1"})", R"({x="2"})"));
  ASSERT_EQ(got->size(), 2u);
  EXPECT_THAT((*got)[0].grid.values, Pointwise(NanSensitiveDoubleEq(), {10.0, 20.0, kNaN}));
  EXPECT_EQ(stats.dropped_over_max, 1u);
  EXPECT_EQ(stats.vanished, 0u);
}

TEST(PrepareSeriesTest, ARenamedMetricTakesOverOnceTheOldNameVanishes) {
  std::vector<remote_read::Series> pulled = {
      OnGrid({{"__name__", "a_total"}, {"x", "1"}}, {10}),           // old name, last at kStep
      OnGrid({{"__name__", "b_total"}, {"x", "1"}}, {kNaN, 2, 3}),  // new name
  };
  PrepareStats stats;
  auto got = PrepareSeries(pulled, Job(), kStep, 3 * kStep, 2 * kStep, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_THAT((*got)[0].grid.values, Pointwise(NanSensitiveDoubleEq(), {kNaN, 2.0, 3.0}));
  EXPECT_EQ(stats.vanished, 1u);
  EXPECT_EQ(stats.dropped_over_max, 0u);
}

TEST(PrepareSeriesTest, AGridTooLargeIsAnErrorNamingTheSeries) {
  std::vector<remote_read::Series> pulled = {
      OnGrid({{"__name__", "m"}, {"instance", "a\"b"}}, {1})};
  for (SeriesTransform t :
       {SeriesTransform::kNone, SeriesTransform::kRate, SeriesTransform::kIncrease}) {
    for (AggregateOp op : {AggregateOp::kNone, AggregateOp::kSum}) {
      SCOPED_TRACE(std::string(SeriesTransformName(t)) + " " + AggregateOpName(op));
      ForecastJobConfig job = Job(t, op);
      job.step = milliseconds(1);
      PrepareStats stats;
      auto got = PrepareSeries(pulled, job, 0, 2 * forecast::kMaxGridSteps, kKeepAll, &stats);
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.status().code(), StatusCode::kResourceExhausted);
      EXPECT_THAT(got.status().message(),
                  HasSubstr(R"(series {__name__="m",instance="a\"b"}: grid would have)"));
    }
  }
}

TEST(PrepareSeriesTest, NoInputNoOutput) {
  PrepareStats stats;
  stats.vanished = 7;  // overwritten
  auto got = Prepare({}, Job(SeriesTransform::kNone, AggregateOp::kSum), &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->empty());
  EXPECT_EQ(stats.input_series, 0u);
  EXPECT_EQ(stats.vanished, 0u);
}

// The size the brief names (1,000 series, 4,032 steps: 14 days of 5m): checks the results, not
// the time; a quadratic grouping would show up as a slow test.
TEST(PrepareSeriesTest, ThousandSeriesOfTwoWeeksAggregateCorrectly) {
  constexpr int64_t kFiveMin = 300'000;
  constexpr int64_t kSteps = 4032;
  std::vector<remote_read::Series> pulled;
  for (int i = 0; i < 1000; ++i) {
    std::string svc = "s";  // appended, not +: GCC 12's -Wrestrict misfires on "s" + string
    svc += std::to_string(i % 10);
    remote_read::Series s;
    s.labels = {{"__name__", "m"}, {"instance", std::to_string(i)}, {"svc", svc}};
    s.timestamps_ms.reserve(kSteps);
    s.values.reserve(kSteps);
    for (int64_t k = 1; k <= kSteps; ++k) {
      s.timestamps_ms.push_back(k * kFiveMin);
      s.values.push_back(static_cast<double>(i));
    }
    pulled.push_back(std::move(s));
  }
  ForecastJobConfig job = Job(SeriesTransform::kNone, AggregateOp::kSum, false, {"svc"});
  job.step = milliseconds(kFiveMin);
  PrepareStats stats;
  auto got = PrepareSeries(pulled, job, kFiveMin, kSteps * kFiveMin, kKeepAll, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 10u);
  for (size_t g = 0; g < 10; ++g) {
    const PreparedSeries& s = (*got)[g];
    std::string want_labels = R"({svc="s)";
    want_labels += std::to_string(g);
    want_labels += R"("})";
    EXPECT_EQ(LabelsText(s.labels), want_labels);
    EXPECT_EQ(s.members, 100u);
    ASSERT_EQ(s.grid.values.size(), static_cast<size_t>(kSteps));
    // sum of g, g + 10, ..., g + 990
    const double want = 100.0 * static_cast<double>(g) + 10.0 * 4950.0;
    EXPECT_DOUBLE_EQ(s.grid.values.front(), want);
    EXPECT_DOUBLE_EQ(s.grid.values.back(), want);
    EXPECT_EQ(s.last_sample_ms, kSteps * kFiveMin);
  }

  job.aggregate.op = AggregateOp::kNone;
  got = PrepareSeries(pulled, job, kFiveMin, kSteps * kFiveMin, kKeepAll, &stats);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 1000u);
  EXPECT_EQ(stats.dropped_over_max, 0u);
}

}  // namespace
}  // namespace foresight::exporter
