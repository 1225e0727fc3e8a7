#pragma once

// Methods by name, for configs (`models: [ets, mstl]`) and the command line.

#include <memory>
#include <string>
#include <vector>

#include "foresight/common/status.h"
#include "foresight/forecast/model.h"

namespace foresight::forecast {

// Every method name, in the engine's default order.
std::vector<std::string> AvailableMethodNames();

// The named methods with default options; empty names means all of them. An unknown name is an
// error that lists the known ones.
Result<std::vector<std::shared_ptr<const Method>>> MethodsByName(const std::vector<std::string>& names);

}  // namespace foresight::forecast
