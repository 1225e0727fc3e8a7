#include "cli.h"

#include <ostream>

#include "foresight/common/version.h"

namespace foresight::cli {
namespace {

constexpr const char* kUsage =
    "usage: foresight <command> [flags]\n"
    "\n"
    "commands:\n"
    "  read      pull raw samples from a Prometheus remote-read endpoint\n"
    "  backtest  measure forecast accuracy on held-out data (M4 layout or a CSV series)\n"
    "  version   print the version\n"
    "\n"
    "Run 'foresight <command> --help' for a command's flags.\n";

}  // namespace

int Run(const std::vector<std::string>& args, Env env) {
  if (args.empty()) {
    env.err << kUsage;
    return kExitUsage;
  }
  const std::string& cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "read") return RunRead(rest, env);
  if (cmd == "backtest") return RunBacktest(rest, env);
  if (cmd == "version" || cmd == "--version") {
    env.out << "foresight, version " << kVersion << "\n";
    return kExitOk;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    env.out << kUsage;
    return kExitOk;
  }
  env.err << "foresight: unknown command \"" << cmd << "\"\n\n" << kUsage;
  return kExitUsage;
}

}  // namespace foresight::cli
