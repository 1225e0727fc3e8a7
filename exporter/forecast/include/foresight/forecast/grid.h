#pragma once

// Raw Prometheus samples onto a regular grid, the shape every model reads.
//
// Grid times are the multiples of step_ms (counted from the Unix epoch) that fall inside
// [start_ms, end_ms]. The value at grid time t summarises the samples with timestamps in
// (t - step_ms, t]: the half-open window a PromQL range selector `x[step]` evaluated at t uses,
// so a grid value at t only ever depends on what was known at t. Aligning to the epoch rather
// than to start_ms makes two grids of the same step over different ranges agree step for step.
//
// A step without a usable sample is NaN, never zero: models must see a gap as a gap.

#include <cstdint>
#include <span>
#include <vector>

#include "foresight/common/stale.h"
#include "foresight/common/status.h"

namespace foresight::forecast {

enum class Aggregation { kLast, kMean, kMax, kMin, kSum };

struct Grid {
  int64_t start_ms = 0;  // time of values[0], a multiple of step_ms (empty grid: the start asked)
  int64_t step_ms = 0;
  std::vector<double> values;  // NaN = missing
};

// Prometheus's staleness marker (a NaN that is not an ordinary NaN), defined once in common.
using foresight::IsStaleMarker;
using foresight::kStaleNaNBits;

// Larger grids are refused (ResourceExhausted): a mistyped step should not eat the heap.
inline constexpr int64_t kMaxGridSteps = 50'000'000;

// Aggregates samples per step. Timestamps must be sorted ascending; equal timestamps
// (duplicates) are allowed and aggregated like any other samples (kLast keeps the later one in
// input order). Stale markers and other NaN samples are skipped, not aggregated. Infinite
// samples are values and are aggregated as such. Samples outside the grid's windows are ignored.
// If no multiple of step_ms lies in [start_ms, end_ms], the grid is empty.
Result<Grid> Regularize(std::span<const int64_t> ts_ms, std::span<const double> values,
                        int64_t start_ms, int64_t end_ms, int64_t step_ms, Aggregation agg);

// Time of each value of the grid, in Unix milliseconds.
std::vector<int64_t> GridTimes(const Grid& grid);

// Shared by Regularize and the counter transforms: checks the arguments and returns the grid's
// first time and number of steps.
struct GridSpan {
  int64_t first_ms = 0;
  int64_t steps = 0;
};
Result<GridSpan> PlanGrid(std::span<const int64_t> ts_ms, std::span<const double> values,
                          int64_t start_ms, int64_t end_ms, int64_t step_ms);

}  // namespace foresight::forecast
