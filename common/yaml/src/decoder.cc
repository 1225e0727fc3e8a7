#include "foresight/yaml/decoder.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <filesystem>
#include <utility>

#include "foresight/common/timeparse.h"

namespace foresight::yaml {

using std::chrono::milliseconds;

const char* KindName(const YAML::Node& node, bool sequence_as_list) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return sequence_as_list ? "a list" : "a sequence";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

std::string Quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
  return out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool other = (c >= '0' && c <= '9') || c == '.' || c == '-';
    if (!alpha && !(other && i > 0)) return false;
  }
  return true;
}

bool ValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::string Decoder::Where(const YAML::Mark& mark) const {
  if (mark.is_null()) return file_ + ":1:1";
  return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

Status Decoder::Error(const YAML::Mark& mark, const std::string& message) const {
  return InvalidArgument(Where(mark) + ": " + message);
}

Status Decoder::Error(const YAML::Node& node, const std::string& message) const {
  return Error(node.Mark(), message);
}

Status Decoder::Error(const Field& f, const std::string& message) const {
  return Error(f.value.IsNull() ? f.key.Mark() : f.value.Mark(), message);
}

Result<Fields> Decoder::FieldsOf(const YAML::Node& map, const std::string& where,
                                 const std::vector<std::string>& allowed) const {
  Fields fields;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      return Error(it->first,
                   std::string("keys must be strings, got ") + Kind(it->first) + " " + where);
    }
    const std::string& key = it->first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error(it->first,
                   "unknown key " + Quote(key) + " " + where + " (allowed: " + Join(allowed) + ")");
    }
    if (fields.count(key) > 0) {
      return Error(it->first, "duplicate key " + Quote(key) + " " + where);
    }
    fields.emplace(key, Field{it->first, it->second});
  }
  return fields;
}

Result<std::string> Decoder::String(const Field& f, const std::string& what) const {
  if (!f.value.IsScalar()) return Error(f, what + " must be a string, got " + Kind(f.value));
  return f.value.Scalar();
}

Result<std::string> Decoder::NonEmptyString(const Field& f, const std::string& what) const {
  Result<std::string> s = String(f, what);
  if (s.ok() && s->empty()) return Error(f, what + " must not be empty");
  return s;
}

Result<std::string> Decoder::Name(const Field& f, const std::string& what) const {
  Result<std::string> s = String(f, what);
  if (s.ok() && !ValidName(*s)) {
    return Error(f, what + " " + Quote(*s) + " must match [a-zA-Z_][a-zA-Z0-9_.-]*");
  }
  return s;
}

Result<milliseconds> Decoder::Duration(const YAML::Node& node, const YAML::Mark& null_mark,
                                       const std::string& what) const {
  const YAML::Mark mark = node.IsNull() ? null_mark : node.Mark();
  if (!node.IsScalar()) {
    return Error(mark, what + " must be a duration such as 5m, got " + Kind(node));
  }
  Result<milliseconds> d = ParseDuration(node.Scalar());
  if (!d.ok()) return Error(mark, what + ": " + d.status().message());
  return *d;
}

Result<milliseconds> Decoder::Duration(const Field& f, const std::string& what) const {
  return Duration(f.value, f.key.Mark(), what);
}

Result<milliseconds> Decoder::PositiveDuration(const Field& f, const std::string& what) const {
  Result<milliseconds> d = Duration(f, what);
  if (d.ok() && d->count() <= 0) return Error(f, what + " must be greater than 0");
  return d;
}

Result<double> Decoder::Double(const YAML::Node& node, const YAML::Mark& null_mark,
                               const std::string& what) const {
  const YAML::Mark mark = node.IsNull() ? null_mark : node.Mark();
  if (!node.IsScalar()) return Error(mark, what + " must be a number, got " + Kind(node));
  const std::string& s = node.Scalar();
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
    return Error(mark, what + " must be a finite number, got " + Quote(s));
  }
  return v;
}

Result<int64_t> Decoder::PositiveInt(const Field& f, const std::string& what) const {
  if (!f.value.IsScalar()) {
    return Error(f, what + " must be a positive integer, got " + Kind(f.value));
  }
  const std::string& s = f.value.Scalar();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v <= 0) {
    return Error(f, what + " must be a positive integer, got " + Quote(s));
  }
  return v;
}

// "yes" and "on" are strings, as in Prometheus's decoder.
Result<bool> Decoder::Bool(const Field& f, const std::string& what) const {
  if (f.value.IsScalar()) {
    const std::string& s = f.value.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    return Error(f, what + " must be true or false, got " + Quote(s));
  }
  return Error(f, what + " must be true or false, got " + Kind(f.value));
}

Status Decoder::List(const Field& f, const std::string& what, const std::string& of) const {
  if (!f.value.IsSequence()) {
    return Error(f, what + " must be a list of " + of + ", got " + Kind(f.value));
  }
  return Status::Ok();
}

Result<std::map<std::string, std::string>> Decoder::StringMap(const Field& f,
                                                              const std::string& what,
                                                              bool (*valid_key)(std::string_view),
                                                              const std::string& key_kind) const {
  if (!f.value.IsMap()) return Error(f, what + " must be a map of strings, got " + Kind(f.value));
  // The pattern a key failed, for the validators whose pattern we know.
  const std::string rule = valid_key == &ValidLabelName ? "must match [a-zA-Z_][a-zA-Z0-9_]*"
                           : valid_key == &ValidName    ? "must match [a-zA-Z_][a-zA-Z0-9_.-]*"
                                                        : "is not valid";
  std::map<std::string, std::string> out;
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    if (!it->first.IsScalar()) {
      return Error(it->first, what + ": " + key_kind + " must be a string, got " + Kind(it->first));
    }
    const std::string& key = it->first.Scalar();
    if (valid_key != nullptr && !valid_key(key)) {
      return Error(it->first, what + ": " + key_kind + " " + Quote(key) + " " + rule);
    }
    if (out.count(key) > 0) {
      return Error(it->first, what + ": duplicate " + key_kind + " " + Quote(key));
    }
    Result<std::string> value = String(Field{it->first, it->second}, what + "[" + Quote(key) + "]");
    if (!value.ok()) return value.status();
    out.emplace(key, std::move(*value));
  }
  return out;
}

Result<std::vector<std::string>> Decoder::StringList(const Field& f,
                                                     const std::string& what) const {
  FORESIGHT_RETURN_IF_ERROR(List(f, what, "strings"));
  std::vector<std::string> out;
  for (const YAML::Node& item : f.value) {
    const std::string item_what = what + "[" + std::to_string(out.size()) + "]";
    if (!item.IsScalar()) return Error(item, item_what + " must be a string, got " + Kind(item));
    out.push_back(item.Scalar());
  }
  return out;
}

Status Decoder::Unique(const Field& f, const std::string& kind, const std::string& name,
                       std::map<std::string, YAML::Mark>* seen) const {
  auto [it, inserted] = seen->emplace(name, f.value.Mark());
  if (!inserted) {
    return Error(f, "duplicate " + kind + " name " + Quote(name) + " (first at line " +
                        std::to_string(it->second.line + 1) + ")");
  }
  return Status::Ok();
}

std::string Decoder::Label(const YAML::Node& item, const std::string& kind, int index) {
  if (item.IsMap()) {
    for (auto it = item.begin(); it != item.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == "name" && it->second.IsScalar() &&
          ValidName(it->second.Scalar())) {
        return kind + " " + Quote(it->second.Scalar());
      }
    }
  }
  return kind + " #" + std::to_string(index);
}

Status Decoder::NonEmptyList(const Field& f, const std::string& what,
                             const std::string& of) const {
  if (f.value.IsSequence() && f.value.size() > 0) return Status::Ok();
  return Error(f, what + " must be a non-empty list of " + of + ", got " +
                      (f.value.IsSequence() ? "an empty list" : Kind(f.value)));
}

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty() || base_dir.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(base_dir) / p).string();
}

Result<YAML::Node> ParseYaml(std::string_view text, std::string_view file) {
  return ParseYaml(text, file, "invalid YAML: ");
}

Result<YAML::Node> ParseYaml(std::string_view text, std::string_view file,
                             std::string_view error_prefix) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Decoder(file).Error(e.mark, std::string(error_prefix) + e.msg);
  } catch (const std::exception& e) {
    return Internal(std::string(file) + ": decoding failed: " + e.what());
  }
}

}  // namespace foresight::yaml
