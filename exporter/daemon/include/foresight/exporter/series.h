#pragma once

// From the series a remote read returned to the series a job models: the job's transform
// (none, rate, increase) onto its grid, its aggregation, the vanishing-series rule and the
// max_series cap, in that order. No I/O, no clock: the caller passes the times.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/exporter/config.h"
#include "foresight/exporter/publish.h"
#include "foresight/forecast/grid.h"
#include "foresight/remote_read/types.h"

namespace foresight::exporter {

// One series ready for modelling.
struct PreparedSeries {
  // Sorted by name, without __name__ (a forecast is not the source metric, as rate() drops it
  // too) and without empty values. For an aggregated job: the `by` labels, or the source labels
  // minus the `without` ones.
  std::vector<Label> labels;
  // The job's grid over [start_ms, end_ms] (epoch-aligned multiples of the step):
  // - transform none: the samples in each (t - step, t] aggregated by job.step_aggregation
  //   (default last);
  // - rate / increase: forecast::CounterRate / CounterIncrease;
  // - aggregated: the op applied per step over the member grids' non-NaN values (NaN when all
  //   members are NaN there).
  forecast::Grid grid;
  // Time of the newest real sample (stale markers and NaN not counted) among the inputs; for an
  // aggregate, the newest over its members.
  int64_t last_sample_ms = 0;
  size_t members = 1;  // input series behind it
};

struct PrepareStats {
  size_t input_series = 0;     // series the read returned
  size_t vanished = 0;         // output series dropped by the vanishing rule
  size_t dropped_over_max = 0;  // output series beyond max_series
};

// Prepares the job's series. `vanish_before_ms`: an output series whose last_sample_ms is
// before it has vanished from the source (its target went away, or it was renamed) and is left
// out, so it stops being published; pass the minimum int64 to keep everything. Series whose
// grid has no value at all are left out too (counted as vanished). The result is sorted by
// labels; the first job.max_series are kept and the rest counted in dropped_over_max, so the
// same series are kept from one refresh to the next.
// Errors: a grid the forecast library refuses (e.g. too many steps), with the series named.
Result<std::vector<PreparedSeries>> PrepareSeries(const std::vector<remote_read::Series>& pulled,
                                                  const ForecastJobConfig& job, int64_t start_ms,
                                                  int64_t end_ms, int64_t vanish_before_ms,
                                                  PrepareStats* stats);

// Labels as "{a=\"b\",c=\"d\"}" for logs and errors (values escaped as in PromQL).
std::string LabelsText(const std::vector<Label>& labels);

}  // namespace foresight::exporter
