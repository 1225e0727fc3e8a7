#include "foresight/forecast/registry.h"

#include <functional>
#include <utility>

#include "foresight/forecast/baseline.h"
#include "foresight/forecast/ets.h"
#include "foresight/forecast/regression.h"
#include "foresight/forecast/stl.h"
#include "foresight/forecast/theta.h"

namespace foresight::forecast {
namespace {

const std::vector<std::pair<std::string, std::function<std::unique_ptr<Method>()>>>& Factories() {
  static const auto* factories =
      new std::vector<std::pair<std::string, std::function<std::unique_ptr<Method>()>>>{
          {"snaive", [] { return NewSeasonalNaiveMethod(); }},
          {"smean", [] { return NewSeasonalMeanMethod(); }},
          {"ets", [] { return NewEtsMethod(); }},
          {"mstl", [] { return NewMstlMethod(); }},
          {"theta", [] { return NewThetaMethod(); }},
          {"regression", [] { return NewRegressionMethod(); }},
          {"naive", [] { return NewNaiveMethod(); }},
      };
  return *factories;
}

}  // namespace

std::vector<std::string> AvailableMethodNames() {
  std::vector<std::string> out;
  for (const auto& [name, f] : Factories()) out.push_back(name);
  return out;
}

Result<std::vector<std::shared_ptr<const Method>>> MethodsByName(const std::vector<std::string>& names) {
  std::vector<std::shared_ptr<const Method>> out;
  if (names.empty()) {
    for (const auto& [name, f] : Factories()) out.push_back(f());
    return out;
  }
  for (const std::string& n : names) {
    bool found = false;
    for (const auto& [name, f] : Factories()) {
      if (name == n) {
        out.push_back(f());
        found = true;
      }
    }
    if (!found) {
      std::string known;
      for (const auto& [name, f] : Factories()) known += (known.empty() ? "" : ", ") + name;
      return InvalidArgument("unknown model \"" + n + "\" (known: " + known + ")");
    }
  }
  return out;
}

}  // namespace foresight::forecast
