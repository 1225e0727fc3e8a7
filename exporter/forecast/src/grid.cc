#include "foresight/forecast/grid.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

namespace foresight::forecast {
namespace {

// 128-bit so that timestamps anywhere in int64 cannot overflow the alignment arithmetic.
using Wide = __int128;

Wide FloorDiv(Wide a, Wide b) {
  Wide q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Wide CeilDiv(Wide a, Wide b) { return -FloorDiv(-a, b); }

struct Accumulator {
  int64_t count = 0;
  double last = 0;
  double mean = 0;  // running mean: no overflow from summing first
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();

  void Add(double v) {
    ++count;
    last = v;
    sum += v;
    // Infinite samples would turn the running update into inf - inf.
    mean = std::isfinite(v) && std::isfinite(mean) ? mean + (v - mean) / static_cast<double>(count)
                                                   : sum / static_cast<double>(count);
    min = std::min(min, v);
    max = std::max(max, v);
  }

  double Value(Aggregation agg) const {
    if (count == 0) return std::numeric_limits<double>::quiet_NaN();
    switch (agg) {
      case Aggregation::kLast:
        return last;
      case Aggregation::kMean:
        return mean;
      case Aggregation::kMax:
        return max;
      case Aggregation::kMin:
        return min;
      case Aggregation::kSum:
        return sum;
    }
    return std::numeric_limits<double>::quiet_NaN();
  }
};

}  // namespace

Result<GridSpan> PlanGrid(std::span<const int64_t> ts_ms, std::span<const double> values,
                          int64_t start_ms, int64_t end_ms, int64_t step_ms) {
  if (step_ms <= 0) {
    return InvalidArgument("step must be positive, got " + std::to_string(step_ms) + "ms");
  }
  if (start_ms > end_ms) {
    return InvalidArgument("start (" + std::to_string(start_ms) + ") is after end (" +
                           std::to_string(end_ms) + ")");
  }
  if (ts_ms.size() != values.size()) {
    return InvalidArgument("got " + std::to_string(ts_ms.size()) + " timestamps but " +
                           std::to_string(values.size()) + " values");
  }
  for (size_t i = 1; i < ts_ms.size(); ++i) {
    if (ts_ms[i] < ts_ms[i - 1]) {
      return InvalidArgument("timestamps must be sorted ascending: sample " + std::to_string(i) +
                             " (" + std::to_string(ts_ms[i]) + ") is before sample " +
                             std::to_string(i - 1) + " (" + std::to_string(ts_ms[i - 1]) + ")");
    }
  }
  Wide first_k = CeilDiv(start_ms, step_ms);
  Wide last_k = FloorDiv(end_ms, step_ms);
  GridSpan span;
  span.first_ms = static_cast<int64_t>(first_k * step_ms);  // in [start_ms, end_ms] or empty grid
  Wide steps = last_k >= first_k ? last_k - first_k + 1 : 0;
  if (steps > kMaxGridSteps) {
    return ResourceExhausted("grid would have " + std::to_string(static_cast<int64_t>(steps)) +
                             " steps (at most " + std::to_string(kMaxGridSteps) +
                             " allowed): use a larger step or a shorter range");
  }
  if (steps == 0) span.first_ms = start_ms;  // nothing aligned inside: keep a valid start
  span.steps = static_cast<int64_t>(steps);
  return span;
}

Result<Grid> Regularize(std::span<const int64_t> ts_ms, std::span<const double> values,
                        int64_t start_ms, int64_t end_ms, int64_t step_ms, Aggregation agg) {
  Result<GridSpan> plan = PlanGrid(ts_ms, values, start_ms, end_ms, step_ms);
  if (!plan.ok()) return plan.status();
  std::vector<Accumulator> acc(static_cast<size_t>(plan->steps));
  for (size_t i = 0; i < ts_ms.size(); ++i) {
    if (std::isnan(values[i])) continue;  // includes stale markers
    // Step k covers (first + (k-1)*step, first + k*step].
    Wide k = CeilDiv(Wide{ts_ms[i]} - plan->first_ms, step_ms);
    if (k < 0 || k >= plan->steps) continue;
    acc[static_cast<size_t>(k)].Add(values[i]);
  }
  Grid grid;
  grid.start_ms = plan->first_ms;
  grid.step_ms = step_ms;
  grid.values.reserve(acc.size());
  for (const Accumulator& a : acc) grid.values.push_back(a.Value(agg));
  return grid;
}

std::vector<int64_t> GridTimes(const Grid& grid) {
  std::vector<int64_t> times(grid.values.size());
  for (size_t i = 0; i < times.size(); ++i) {
    times[i] = grid.start_ms + static_cast<int64_t>(i) * grid.step_ms;
  }
  return times;
}

}  // namespace foresight::forecast
