#pragma once

// The plain C++ view of remote-read data that callers see; protobuf types stay inside the
// library.

#include <bit>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "foresight/common/stale.h"
#include "foresight/common/status.h"

namespace foresight::remote_read {

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
};

// Sorted by name, as Prometheus sends them.
using Labels = std::vector<Label>;

enum class MatchType { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

struct Matcher {
  MatchType type = MatchType::kEqual;
  std::string name;
  std::string value;
  bool operator==(const Matcher&) const = default;
};

// Optional hints a server may use to push work down (Thanos, Mimir); Prometheus ignores most.
struct ReadHints {
  int64_t step_ms = 0;
  std::string func;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::vector<std::string> grouping;
  bool by = false;
  int64_t range_ms = 0;
};

// One query of a read request: samples with start_ms <= t <= end_ms of the matching series.
struct Query {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::vector<Matcher> matchers;
  std::optional<ReadHints> hints;
};

// One series as handed to the caller: samples in increasing timestamp order, no duplicate
// timestamps, all within the query's [start_ms, end_ms]. Values keep their exact bits, so a
// Prometheus stale marker stays distinguishable from an ordinary NaN.
struct Series {
  size_t query_index = 0;
  Labels labels;
  std::vector<int64_t> timestamps_ms;
  std::vector<double> values;
};

// Called once per series. Returning an error stops the read and is returned by it.
using SeriesCallback = std::function<Status(Series&&)>;

// The NaN Prometheus writes when a series goes stale (value.StaleNaN), shared with the
// forecasting library's grids.
using foresight::IsStaleMarker;
using foresight::kStaleNaNBits;

// The series in selector form: name{a="b",c="d"} (name omitted when there is no __name__),
// with label values escaped as PromQL strings.
std::string SeriesName(const Labels& labels);

// "=", "!=", "=~", "!~".
const char* MatchTypeOperator(MatchType t);

// The matchers in selector form: {__name__="x",a=~"b"}.
std::string FormatMatchers(const std::vector<Matcher>& matchers);

// Counters of what a decode saw. Filled by the decoders and the client; all additive.
struct DecodeStats {
  uint64_t bytes = 0;                   // response body bytes received
  uint64_t frames = 0;                  // streamed frames decoded
  uint64_t series = 0;                  // series handed to the callback
  uint64_t chunks = 0;                  // XOR chunks decoded
  uint64_t samples = 0;                 // samples handed to the callback
  uint64_t samples_out_of_range = 0;    // decoded but outside [start, end]: filtered
  uint64_t samples_duplicate = 0;       // same timestamp twice from overlapping chunks
  uint64_t skipped_histogram_chunks = 0;  // native histogram chunks (not decoded)
  uint64_t skipped_unknown_chunks = 0;    // any other chunk encoding (not decoded)
  uint64_t skipped_histogram_samples = 0; // histogram samples in a SAMPLES response
};

}  // namespace foresight::remote_read
