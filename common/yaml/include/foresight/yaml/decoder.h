#pragma once

// Strict YAML decoding for our config files (foresight_exporter's config, calendars,
// foresight_webhook's playbooks), in the spirit of Prometheus's UnmarshalStrict: unknown and
// repeated keys are errors, and every error starts with "file:line:column: " of the offending
// key or value.
//
// Never assign a YAML::Node (or a Field): assignment writes through to the document instead of
// rebinding the handle.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/status.h"

namespace foresight::yaml {

// How a node's kind is named in errors: "null", "a scalar", "a list" (or "a sequence", see
// Decoder::Options), "a map".
const char* KindName(const YAML::Node& node, bool sequence_as_list = true);

std::string Quote(std::string_view s);                 // "s" in double quotes
std::string Join(const std::vector<std::string>& items);  // "a, b, c"

// [a-zA-Z_][a-zA-Z0-9_.-]*: names that end up in label values and URLs.
bool ValidName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*: Prometheus label names.
bool ValidLabelName(std::string_view name);

struct Field {
  YAML::Node key;
  YAML::Node value;
};
using Fields = std::map<std::string, Field>;

class Decoder {
 public:
  struct Options {
    // Older files' tests pin "a sequence"; new code uses "a list".
    bool sequence_as_list = true;
  };
  explicit Decoder(std::string_view file) : Decoder(file, Options{}) {}
  Decoder(std::string_view file, Options options) : file_(file), options_(options) {}

  const std::string& file() const { return file_; }
  const char* Kind(const YAML::Node& node) const {
    return KindName(node, options_.sequence_as_list);
  }

  // "file:line:column" of a mark; "file:1:1" for a null mark.
  std::string Where(const YAML::Mark& mark) const;
  Status Error(const YAML::Mark& mark, const std::string& message) const;
  Status Error(const YAML::Node& node, const std::string& message) const;
  // A null value's mark is wherever the parser went next, so errors about a field's value point
  // at its key when the value is null.
  Status Error(const Field& f, const std::string& message) const;

  // The fields of a map, refusing non-string, unknown and repeated keys. `where` completes the
  // message: "unknown key \"x\" <where> (allowed: a, b)".
  Result<Fields> FieldsOf(const YAML::Node& map, const std::string& where,
                          const std::vector<std::string>& allowed) const;

  // Typed values. `what` names the field in the message: "<what> must be a string, got a map".
  Result<std::string> String(const Field& f, const std::string& what) const;
  Result<std::string> NonEmptyString(const Field& f, const std::string& what) const;
  Result<std::string> Name(const Field& f, const std::string& what) const;  // ValidName
  Result<std::chrono::milliseconds> Duration(const YAML::Node& node, const YAML::Mark& null_mark,
                                             const std::string& what) const;
  Result<std::chrono::milliseconds> Duration(const Field& f, const std::string& what) const;
  Result<std::chrono::milliseconds> PositiveDuration(const Field& f,
                                                     const std::string& what) const;
  Result<double> Double(const YAML::Node& node, const YAML::Mark& null_mark,
                        const std::string& what) const;
  Result<int64_t> PositiveInt(const Field& f, const std::string& what) const;
  // YAML 1.2 booleans only (true/True/TRUE/false/False/FALSE): "yes" and "on" are errors.
  Result<bool> Bool(const Field& f, const std::string& what) const;
  // OK when the value is a list; "<what> must be a list of <of>, got ..." otherwise.
  Status List(const Field& f, const std::string& what, const std::string& of) const;
  // A map of string to string (labels, headers); keys checked by `valid_key` when given, named
  // by `key_kind` in errors ("label name"). A value is named "<what>[\"key\"]".
  Result<std::map<std::string, std::string>> StringMap(
      const Field& f, const std::string& what, bool (*valid_key)(std::string_view) = nullptr,
      const std::string& key_kind = "key") const;
  // A list of strings; an item is named by its 0-based index: "<what>[2] must be a string".
  Result<std::vector<std::string>> StringList(const Field& f, const std::string& what) const;
  // OK when the value is a list with at least one item; otherwise
  // "<what> must be a non-empty list of <of>, got an empty list" (or the kind it is).
  Status NonEmptyList(const Field& f, const std::string& what, const std::string& of) const;

  // A name already taken by an earlier item is an error at the repeat:
  // "duplicate <kind> name \"x\" (first at line N)".
  Status Unique(const Field& f, const std::string& kind, const std::string& name,
                std::map<std::string, YAML::Mark>* seen) const;

  // How an item of a list is named in messages: `kind "name"` when it has a valid name field,
  // else `kind #index` (1-based).
  static std::string Label(const YAML::Node& item, const std::string& kind, int index);

 private:
  std::string file_;
  Options options_;
};

// A path from a config file: relative ones are taken relative to `base_dir` (the config file's
// directory); absolute ones, and any path when `base_dir` is "", are returned as written.
std::string ResolvePath(const std::string& base_dir, const std::string& path);

// Parses YAML text into a node; a syntax error is InvalidArgument "file:line:column: message"
// with the message "invalid YAML: " and yaml-cpp's words, as foresight_exporter's config says.
Result<YAML::Node> ParseYaml(std::string_view text, std::string_view file);
// The same with another prefix before yaml-cpp's words: calendars say "YAML syntax error: ".
Result<YAML::Node> ParseYaml(std::string_view text, std::string_view file,
                             std::string_view error_prefix);

}  // namespace foresight::yaml
