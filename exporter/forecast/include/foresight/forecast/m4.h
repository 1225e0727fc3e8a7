#pragma once

// Reading the M4 competition's wide CSV layout: a header, then one row per series,
// "id,v1,v2,..." with values optionally double-quoted and short rows padded with empty fields.

#include <string>
#include <vector>

#include "foresight/common/status.h"

namespace foresight::forecast {

struct M4Series {
  std::string id;
  std::vector<double> values;
};

// Errors name the file, the line and the column of a value that does not parse.
Result<std::vector<M4Series>> ReadM4Csv(const std::string& path);

}  // namespace foresight::forecast
