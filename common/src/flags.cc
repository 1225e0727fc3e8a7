#include "foresight/common/flags.h"

#include <charconv>

namespace foresight {

void FlagSet::String(std::string name, std::string* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), false, *target, [target](const std::string& v) {
                      *target = v;
                      return Status::Ok();
                    }});
}

void FlagSet::StringList(std::string name, std::vector<std::string>* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help) + " (repeatable)", false, "",
                    [target](const std::string& v) {
                      target->push_back(v);
                      return Status::Ok();
                    }});
}

void FlagSet::Bool(std::string name, bool* target, std::string help) {
  std::string n = name;
  flags_.push_back({std::move(name), std::move(help), true, *target ? "true" : "false",
                    [target, n](const std::string& v) {
                      if (v == "true" || v == "1") {
                        *target = true;
                      } else if (v == "false" || v == "0") {
                        *target = false;
                      } else {
                        return InvalidArgument("flag --" + n + ": expected true or false, got \"" + v + "\"");
                      }
                      return Status::Ok();
                    }});
}

void FlagSet::Int(std::string name, int64_t* target, std::string help) {
  std::string n = name;
  flags_.push_back({std::move(name), std::move(help), false, std::to_string(*target),
                    [target, n](const std::string& v) {
                      int64_t x = 0;
                      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
                      if (ec != std::errc() || ptr != v.data() + v.size()) {
                        return InvalidArgument("flag --" + n + ": expected an integer, got \"" + v + "\"");
                      }
                      *target = x;
                      return Status::Ok();
                    }});
}

const FlagSet::Flag* FlagSet::Find(const std::string& name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Result<std::vector<std::string>> FlagSet::Parse(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "--help" || a == "-h") {
      help_requested_ = true;
      continue;
    }
    if (a.size() < 3 || a[0] != '-' || a[1] != '-') {
      if (!a.empty() && a[0] == '-' && a != "-") {
        return InvalidArgument("unknown flag \"" + a + "\" (flags are written --name)");
      }
      positional.push_back(a);
      continue;
    }
    std::string body = a.substr(2);
    std::string name = body;
    std::string value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    const Flag* f = Find(name);
    if (f == nullptr) return InvalidArgument("unknown flag --" + name);
    if (!has_value) {
      if (f->is_bool) {
        value = "true";
      } else {
        if (i + 1 >= args.size()) return InvalidArgument("flag --" + name + " needs a value");
        value = args[++i];
      }
    }
    FORESIGHT_RETURN_IF_ERROR(f->set(value));
  }
  return positional;
}

std::string FlagSet::Usage() const {
  std::string out = "usage: " + usage_line_ + "\n\nflags:\n";
  for (const Flag& f : flags_) {
    out += "  --" + f.name;
    if (!f.is_bool) out += "=VALUE";
    out += "\n      " + f.help;
    if (!f.default_text.empty()) out += " (default: " + f.default_text + ")";
    out += "\n";
  }
  return out;
}

}  // namespace foresight
