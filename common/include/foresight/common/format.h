#pragma once

#include <string>

namespace foresight {

// Formats a double the way Prometheus does in its text formats: the shortest decimal that
// parses back to the same double, "NaN", "+Inf" and "-Inf".
std::string FormatDouble(double v);

// Parses what FormatDouble writes (and "Inf", "inf", "nan" as Prometheus accepts); false on
// anything else or trailing bytes.
bool ParseDouble(const std::string& s, double* out);

}  // namespace foresight
