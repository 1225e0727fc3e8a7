#include "foresight/exporter/series.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <utility>

#include "foresight/forecast/transform.h"

namespace foresight::exporter {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// "No real sample at all". Every series that survives the all-NaN rule has a real sample, so
// this never reaches the output.
constexpr int64_t kNoSample = std::numeric_limits<int64_t>::min();

std::vector<Label> ToLabels(const remote_read::Labels& in) {
  std::vector<Label> out;
  out.reserve(in.size());
  for (const remote_read::Label& l : in) out.push_back(Label{l.name, l.value});
  return out;
}

// Without __name__ and empty values, sorted by name (Prometheus already sends them sorted; the
// sort is for any other source and costs nothing then).
std::vector<Label> OutputLabels(const remote_read::Labels& in) {
  std::vector<Label> out;
  out.reserve(in.size());
  for (const remote_read::Label& l : in) {
    if (l.name == "__name__" || l.value.empty()) continue;
    out.push_back(Label{l.name, l.value});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
  return out;
}

// The group an aggregated job puts a series in; `labels` are OutputLabels(), so __name__ is
// never part of a group, whatever `by` says (as the header promises for every output).
std::vector<Label> GroupLabels(std::vector<Label> labels, const AggregateConfig& agg) {
  auto named = [&agg](const Label& l) {
    return std::find(agg.labels.begin(), agg.labels.end(), l.name) != agg.labels.end();
  };
  if (agg.without) {
    std::erase_if(labels, named);
  } else {
    std::erase_if(labels, [&named](const Label& l) { return !named(l); });
  }
  return labels;
}

int64_t LastSampleMs(const remote_read::Series& s) {
  for (size_t i = std::min(s.timestamps_ms.size(), s.values.size()); i > 0; --i) {
    if (!std::isnan(s.values[i - 1])) return s.timestamps_ms[i - 1];  // NaN includes stale
  }
  return kNoSample;
}

Result<forecast::Grid> TransformedGrid(const remote_read::Series& s, const ForecastJobConfig& job,
                                       int64_t start_ms, int64_t end_ms) {
  std::span<const int64_t> ts(s.timestamps_ms);
  std::span<const double> vs(s.values);
  const int64_t step_ms = job.step.count();
  switch (job.transform) {
    case SeriesTransform::kNone:
      return forecast::Regularize(ts, vs, start_ms, end_ms, step_ms, job.step_aggregation);
    case SeriesTransform::kRate:
      return forecast::CounterRate(ts, vs, start_ms, end_ms, step_ms);
    case SeriesTransform::kIncrease:
      return forecast::CounterIncrease(ts, vs, start_ms, end_ms, step_ms);
  }
  return Internal("unknown transform " + std::to_string(static_cast<int>(job.transform)));
}

// The series is named with all its source labels, __name__ included, so the error points at it.
Result<forecast::Grid> SeriesGrid(const remote_read::Series& s, const ForecastJobConfig& job,
                                  int64_t start_ms, int64_t end_ms) {
  Result<forecast::Grid> grid = TransformedGrid(s, job, start_ms, end_ms);
  if (!grid.ok()) {
    return grid.status().WithContext("series " + LabelsText(ToLabels(s.labels)));
  }
  return grid;
}

bool HasValue(const std::vector<double>& values) {
  return std::any_of(values.begin(), values.end(), [](double v) { return !std::isnan(v); });
}

// One aggregation group, folded one member grid at a time so that only one grid per group is
// held, not one per input series.
class Group {
 public:
  Group(AggregateOp op, const forecast::Grid& first) : op_(op) {
    grid_.start_ms = first.start_ms;
    grid_.step_ms = first.step_ms;
    grid_.values.assign(first.values.size(), 0.0);
    counts_.assign(first.values.size(), 0);
  }

  // Every grid of a job is built over the same range and step, epoch-aligned, so they match
  // index for index; a mismatch would be a bug in the grid code, not bad input.
  Status Add(const forecast::Grid& g, int64_t last_sample_ms) {
    const bool same = g.start_ms == grid_.start_ms && g.step_ms == grid_.step_ms &&
                      g.values.size() == grid_.values.size();
    assert(same && "grids of one job must share start, step and size");
    if (!same) {
      return Internal("grids of one job differ: start " + std::to_string(g.start_ms) + " vs " +
                      std::to_string(grid_.start_ms) + ", " + std::to_string(g.values.size()) +
                      " vs " + std::to_string(grid_.values.size()) + " steps");
    }
    for (size_t i = 0; i < g.values.size(); ++i) {
      const double v = g.values[i];
      if (std::isnan(v)) continue;
      double& acc = grid_.values[i];
      switch (op_) {
        case AggregateOp::kNone:  // not grouped; kept for -Wswitch
        case AggregateOp::kSum:
        case AggregateOp::kAvg:
          acc += v;
          break;
        case AggregateOp::kMax:
          acc = counts_[i] == 0 ? v : std::max(acc, v);
          break;
        case AggregateOp::kMin:
          acc = counts_[i] == 0 ? v : std::min(acc, v);
          break;
      }
      ++counts_[i];
    }
    last_sample_ms_ = std::max(last_sample_ms_, last_sample_ms);
    ++members_;
    return Status::Ok();
  }

  PreparedSeries Finish(std::vector<Label> labels) && {
    for (size_t i = 0; i < grid_.values.size(); ++i) {
      if (counts_[i] == 0) {
        grid_.values[i] = kNaN;
      } else if (op_ == AggregateOp::kAvg) {
        grid_.values[i] /= static_cast<double>(counts_[i]);
      }
    }
    return PreparedSeries{std::move(labels), std::move(grid_), last_sample_ms_, members_};
  }

 private:
  AggregateOp op_;
  forecast::Grid grid_;
  std::vector<uint32_t> counts_;  // non-NaN member values per step
  int64_t last_sample_ms_ = kNoSample;
  size_t members_ = 0;
};

// An output series before the rules, with the source labels that break ties between
// non-aggregated series whose labels only differed in __name__ (nullptr when aggregated).
struct Candidate {
  PreparedSeries series;
  const remote_read::Labels* source = nullptr;
};

bool SourceLess(const remote_read::Labels* a, const remote_read::Labels* b) {
  if (a == nullptr || b == nullptr) return a == nullptr && b != nullptr;
  return std::lexicographical_compare(
      a->begin(), a->end(), b->begin(), b->end(),
      [](const remote_read::Label& x, const remote_read::Label& y) {
        return std::tie(x.name, x.value) < std::tie(y.name, y.value);
      });
}

}  // namespace

Result<std::vector<PreparedSeries>> PrepareSeries(const std::vector<remote_read::Series>& pulled,
                                                  const ForecastJobConfig& job, int64_t start_ms,
                                                  int64_t end_ms, int64_t vanish_before_ms,
                                                  PrepareStats* stats) {
  PrepareStats local;
  local.input_series = pulled.size();

  std::vector<Candidate> candidates;
  if (job.aggregate.op == AggregateOp::kNone) {
    candidates.reserve(pulled.size());
    for (const remote_read::Series& s : pulled) {
      Result<forecast::Grid> grid = SeriesGrid(s, job, start_ms, end_ms);
      if (!grid.ok()) return grid.status();
      candidates.push_back(Candidate{
          PreparedSeries{OutputLabels(s.labels), std::move(grid).value(), LastSampleMs(s), 1},
          &s.labels});
    }
  } else {
    // A map keyed on the group's labels: n log n over the inputs, and the groups come out
    // sorted and unique.
    std::map<std::vector<Label>, Group> groups;
    for (const remote_read::Series& s : pulled) {
      Result<forecast::Grid> grid = SeriesGrid(s, job, start_ms, end_ms);
      if (!grid.ok()) return grid.status();
      std::vector<Label> key = GroupLabels(OutputLabels(s.labels), job.aggregate);
      auto it = groups.find(key);
      if (it == groups.end()) {
        it = groups.emplace(std::move(key), Group(job.aggregate.op, *grid)).first;
      }
      FORESIGHT_RETURN_IF_ERROR(it->second.Add(*grid, LastSampleMs(s)));
    }
    candidates.reserve(groups.size());
    for (auto& [labels, group] : groups) {
      candidates.push_back(Candidate{std::move(group).Finish(labels), nullptr});
    }
  }

  // The vanishing rule, then series with nothing to model; both mean "nothing current here".
  std::erase_if(candidates, [&](const Candidate& c) {
    const bool gone =
        c.series.last_sample_ms < vanish_before_ms || !HasValue(c.series.grid.values);
    if (gone) ++local.vanished;
    return gone;
  });

  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.series.labels != b.series.labels) return a.series.labels < b.series.labels;
    return SourceLess(a.source, b.source);
  });

  // Without aggregation, series that differed only in __name__ (a selector matching several
  // metric names) end up with the same labels. They cannot all be published (PublishedSet would
  // drop all but one, and merging them would average unrelated metrics), so the first by source
  // labels, i.e. by metric name, is kept: the same one from one refresh to the next. The rest
  // count as dropped_over_max, the counter for "live series not modelled". This runs after the
  // vanishing rule so that a renamed metric's new name takes over once the old one vanishes.
  std::vector<PreparedSeries> out;
  out.reserve(candidates.size());
  const size_t cap = static_cast<size_t>(std::max<int64_t>(job.max_series, 0));
  for (Candidate& c : candidates) {
    if ((!out.empty() && out.back().labels == c.series.labels) || out.size() >= cap) {
      ++local.dropped_over_max;
      continue;
    }
    out.push_back(std::move(c.series));
  }

  if (stats != nullptr) *stats = local;
  return out;
}

std::string LabelsText(const std::vector<Label>& labels) {
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += labels[i].name;
    out += "=\"";
    for (char c : labels[i].value) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out.push_back(c);
      }
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

}  // namespace foresight::exporter
