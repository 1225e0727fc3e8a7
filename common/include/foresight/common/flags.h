#pragma once

// Command-line flags in the Prometheus style: "--name=value" or "--name value", booleans as
// "--name" or "--name=false", repeatable flags collecting every value. "--" ends flags.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "foresight/common/status.h"

namespace foresight {

class FlagSet {
 public:
  explicit FlagSet(std::string usage_line) : usage_line_(std::move(usage_line)) {}
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  void String(std::string name, std::string* target, std::string help);
  void StringList(std::string name, std::vector<std::string>* target, std::string help);
  void Bool(std::string name, bool* target, std::string help);
  void Int(std::string name, int64_t* target, std::string help);

  // Parses args (without the program name). Returns the positional arguments. "--help" or
  // "-h" sets help_requested() and returns no error.
  Result<std::vector<std::string>> Parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_requested_; }
  std::string Usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    bool is_bool = false;
    std::string default_text;
    std::function<Status(const std::string&)> set;
  };
  const Flag* Find(const std::string& name) const;

  std::string usage_line_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

}  // namespace foresight
