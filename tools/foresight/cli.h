#pragma once

// The `foresight` command-line tool, promtool-style: `foresight <command> [flags]`. Each
// subcommand is a function from arguments and streams to an exit code, so tests call it directly.
// Exit codes: 0 success, 1 failure, 2 bad usage.

#include <iosfwd>
#include <string>
#include <vector>

#include "foresight/common/clock.h"

namespace foresight::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Env {
  std::ostream& out;
  std::ostream& err;
  Clock& clock;
};

// Dispatches args (without the program name) to a subcommand.
int Run(const std::vector<std::string>& args, Env env);

// `foresight read`: pulls raw samples by remote read and streams them as CSV, JSON or OpenMetrics.
int RunRead(const std::vector<std::string>& args, Env env);

// `foresight backtest`: the forecasting engine's accuracy on M4-layout data or one CSV series.
int RunBacktest(const std::vector<std::string>& args, Env env);

}  // namespace foresight::cli
