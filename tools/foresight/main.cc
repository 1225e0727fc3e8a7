#include <iostream>
#include <string>
#include <vector>

#include "cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  foresight::cli::Env env{std::cout, std::cerr, foresight::SystemClock::Instance()};
  int code = foresight::cli::Run(args, env);
  std::cout.flush();
  return code;
}
