#include "foresight/webhook/payload.h"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "foresight/common/text.h"
#include "foresight/common/timeparse.h"

// Decisions the header leaves open, pinned by payload_test.cc:
//  - Duplicate object keys anywhere in the body are rejected (kInvalidField, "<path>: duplicate
//    key"). Go's encoding/json, and so Alertmanager, keeps the last one; a receiver that quietly
//    picked one of two alertnames could act on an alert nobody sent, and Alertmanager never
//    sends duplicates.
//  - JSON null counts as absent, as it does for Go's decoder: fine for optional fields,
//    "missing" for required ones.
//  - A string we keep may not contain U+0000: its values end up in exec arguments and C APIs,
//    where a NUL silently cuts them short.
//  - Nesting deeper than 64 is malformed JSON. nlohmann's parser keeps its own stack, so depth
//    cannot overflow ours; the limit bounds memory and reports the offset of the 65th bracket.
//  - Within a label set, entries are checked in name order (the DOM sorts them), so with two
//    bad entries the error names the one that sorts first.

namespace foresight::webhook {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxDepth = 64;
// Bytes of a value or key echoed in an error, so hostile input cannot make a huge message.
constexpr size_t kMaxEchoBytes = 64;
constexpr size_t kMaxDetailBytes = 160;
constexpr size_t kMaxPathBytes = 240;

bool IsLabelNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsLabelName(std::string_view s) {
  if (s.empty() || !IsLabelNameStart(s[0])) {
    return false;
  }
  for (char c : s.substr(1)) {
    if (!IsLabelNameStart(c) && !IsDigit(c)) {
      return false;
    }
  }
  return true;
}

// Appends s escaped so that an error message stays one line of valid UTF-8: control characters
// and bytes that are not UTF-8 become \xNN, and with quoted, quotes and backslashes get a
// backslash. Stops after max_bytes of input and appends "...".
void AppendEscaped(std::string* out, std::string_view s, size_t max_bytes, bool quoted) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    if (i >= max_bytes) {
      out->append("...");
      return;
    }
    const char c = s[i];
    const auto b = static_cast<unsigned char>(c);
    if (quoted && (c == '"' || c == '\\')) {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (b < 0x20 || b == 0x7F) {
      out->append("\\x");
      out->push_back(kHex[b >> 4]);
      out->push_back(kHex[b & 0xF]);
    } else if (b >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out->append("\\x");
        out->push_back(kHex[b >> 4]);
        out->push_back(kHex[b & 0xF]);
      } else {
        out->append(s.substr(i, n));
        i += n;
        continue;
      }
    } else {
      out->push_back(c);
    }
    ++i;
  }
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  AppendEscaped(&out, s, kMaxEchoBytes, /*quoted=*/true);
  out.push_back('"');
  return out;
}

// A path component for an object key: .name for identifiers, ["name"] otherwise.
std::string KeyPath(std::string_view parent, std::string_view key) {
  if (IsLabelName(key) && key.size() <= kMaxEchoBytes) {
    return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
  }
  return std::string(parent) + "[" + Quote(key) + "]";
}

// A path component for an entry of a label set: always ["name"], as in labels["x"].
std::string EntryPath(std::string_view parent, std::string_view key) {
  return std::string(parent) + "[" + Quote(key) + "]";
}

// The part of an nlohmann exception text that says what was wrong, without the exception id
// and the line/column (we report the byte offset instead).
std::string DescribeJsonError(std::string_view what) {
  if (what.starts_with("[json.exception.")) {
    const size_t end = what.find("] ");
    if (end != std::string_view::npos) {
      what.remove_prefix(end + 2);
    }
  }
  if (what.starts_with("parse error at line ")) {
    const size_t colon = what.find(": ");
    if (colon != std::string_view::npos) {
      what.remove_prefix(colon + 2);
    }
  } else if (what.starts_with("parse error: ")) {
    what.remove_prefix(13);
  }
  std::string out;
  AppendEscaped(&out, what, kMaxDetailBytes, /*quoted=*/false);
  return out;
}

// Offset of the bracket that opens nesting level `depth` (1-based), in a prefix the JSON parser
// has already accepted, so strings and escapes are well formed up to there.
size_t OffsetOfDepth(std::string_view body, size_t depth) {
  size_t level = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++level == depth) {
        return i;
      }
    } else if (c == ']' || c == '}') {
      --level;
    }
  }
  return body.size();
}

struct Failure {
  ParseErrorKind kind = ParseErrorKind::kNone;
  std::string message;
  size_t offset = std::string_view::npos;  // for malformed JSON
};

// Builds an nlohmann DOM from SAX events, as nlohmann's own DOM parser does, but refuses
// duplicate keys and deep nesting. nlohmann's parser is iterative, so a 100k-deep "[[[[" stops
// at the 65th bracket without recursion and before anything large is built.
class DomBuilder {
 public:
  explicit DomBuilder(std::string_view body) : body_(body) {}

  bool null() { return Place(nullptr) != nullptr; }
  bool boolean(bool v) { return Place(v) != nullptr; }
  bool number_integer(json::number_integer_t v) { return Place(v) != nullptr; }
  bool number_unsigned(json::number_unsigned_t v) { return Place(v) != nullptr; }
  bool number_float(json::number_float_t v, const std::string& /*text*/) {
    return Place(v) != nullptr;
  }
  bool string(std::string& v) { return Place(std::move(v)) != nullptr; }
  bool binary(json::binary_t& /*v*/) { return Fail("binary values are not JSON"); }
  bool start_object(size_t /*elements*/) { return Open(json::value_t::object); }
  bool start_array(size_t /*elements*/) { return Open(json::value_t::array); }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool key(std::string& k) {
    auto& object = stack_.back()->get_ref<json::object_t&>();
    auto [it, inserted] = object.try_emplace(std::move(k));
    if (!inserted) {
      failure_.kind = ParseErrorKind::kInvalidField;
      failure_.message = PathOf(it->first) + ": duplicate key";
      return false;
    }
    slot_ = &it->second;
    return true;
  }
  bool parse_error(size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    // position counts the bytes read, including the offending one (or the end of input).
    const size_t offset = position > 0 ? position - 1 : 0;
    failure_.kind = ParseErrorKind::kMalformedJson;
    failure_.offset = offset;
    failure_.message =
        "malformed JSON at offset " + std::to_string(offset) + ": " + DescribeJsonError(ex.what());
    return false;
  }

  json& root() { return root_; }
  const Failure& failure() const { return failure_; }

 private:
  bool Fail(const char* what) {
    failure_.kind = ParseErrorKind::kMalformedJson;
    failure_.message = std::string("malformed JSON: ") + what;
    return false;
  }

  // Stores a new value where the parser is: the root, the end of the open array, or the slot
  // of the key just read. Pointers into the open containers stay valid because an array only
  // grows while none of its elements is open.
  template <typename V>
  json* Place(V&& v) {
    if (stack_.empty()) {
      root_ = json(std::forward<V>(v));
      return &root_;
    }
    json* parent = stack_.back();
    if (parent->is_array()) {
      auto& array = parent->get_ref<json::array_t&>();
      array.emplace_back(std::forward<V>(v));
      return &array.back();
    }
    *slot_ = json(std::forward<V>(v));
    return slot_;
  }

  bool Open(json::value_t type) {
    if (stack_.size() >= kMaxDepth) {
      failure_.kind = ParseErrorKind::kMalformedJson;
      failure_.message = "malformed JSON at offset " +
                         std::to_string(OffsetOfDepth(body_, kMaxDepth + 1)) +
                         ": nesting deeper than " + std::to_string(kMaxDepth);
      return false;
    }
    stack_.push_back(Place(type));
    return true;
  }

  // The JSON path of key `last` in the innermost open object, for errors only.
  std::string PathOf(std::string_view last) const {
    static constexpr std::string_view kLabelSets[] = {"labels", "annotations", "groupLabels",
                                                      "commonLabels", "commonAnnotations"};
    std::string path;
    std::string_view parent_key;
    const auto append_key = [&](std::string_view key) {
      bool label_set = false;
      for (std::string_view s : kLabelSets) {
        label_set = label_set || s == parent_key;
      }
      path = label_set ? EntryPath(path, key) : KeyPath(path, key);
      parent_key = key;
    };
    for (size_t i = 0; i + 1 < stack_.size(); ++i) {
      const json* parent = stack_[i];
      const json* child = stack_[i + 1];
      if (parent->is_array()) {
        path += "[" + std::to_string(parent->size() - 1) + "]";
        parent_key = {};
      } else {
        for (const auto& [k, v] : parent->get_ref<const json::object_t&>()) {
          if (&v == child) {
            append_key(k);
            break;
          }
        }
      }
    }
    append_key(last);
    if (path.size() > kMaxPathBytes) {
      // Cut on a UTF-8 character boundary so the message stays valid UTF-8.
      size_t cut = kMaxPathBytes;
      while (cut > 0 && (static_cast<unsigned char>(path[cut]) & 0xC0) == 0x80) {
        --cut;
      }
      path.resize(cut);
      path += "...";
    }
    return path;
  }

  std::string_view body_;
  json root_;
  std::vector<json*> stack_;
  json* slot_ = nullptr;
  Failure failure_;
};

// Parses body into *out; on failure fills *failure and returns false. Never throws.
bool ParseJson(std::string_view body, json* out, Failure* failure) {
  try {
    DomBuilder builder(body);
    const bool ok = json::sax_parse(body.data(), body.data() + body.size(), &builder);
    // nlohmann takes a NUL byte for the end of input, so "{...}\0anything" parses and
    // "{\0}" is "unexpected end of input". A raw NUL is never valid JSON, and accepting what
    // precedes one would let another parser see a different body: name it.
    const size_t nul = body.find('\0');
    if (nul != std::string_view::npos && (ok || nul <= builder.failure().offset)) {
      *failure = {ParseErrorKind::kMalformedJson,
                  "malformed JSON at offset " + std::to_string(nul) + ": NUL byte", nul};
      return false;
    }
    if (!ok) {
      *failure = builder.failure();
      if (failure->kind == ParseErrorKind::kNone) {
        failure->kind = ParseErrorKind::kMalformedJson;
        failure->message = "malformed JSON";
      }
      return false;
    }
    *out = std::move(builder.root());
    return true;
  } catch (const std::bad_alloc&) {
    *failure = {ParseErrorKind::kTooLarge, "body too large: out of memory while parsing"};
  } catch (const std::exception& e) {
    *failure = {ParseErrorKind::kMalformedJson, "malformed JSON: " + DescribeJsonError(e.what())};
  }
  return false;
}

// The shape of an RFC 3339 date-time, with the ranges Go's time.Parse enforces (so
// "2026-02-30T..." and "...T24:00:00Z" are refused), before ParseTimestampMs, which also
// accepts "now", "-6h", Unix seconds and "YYYY-MM-DD HH:MM:SS".
bool IsRfc3339(std::string_view s) {
  const auto digits = [&](size_t pos, size_t n, int* value) {
    if (pos + n > s.size()) {
      return false;
    }
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!IsDigit(s[i])) {
        return false;
      }
      v = v * 10 + (s[i] - '0');
    }
    *value = v;
    return true;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (s.size() < 20 || !digits(0, 4, &year) || s[4] != '-' || !digits(5, 2, &month) ||
      s[7] != '-' || !digits(8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
      !digits(11, 2, &hour) || s[13] != ':' || !digits(14, 2, &minute) || s[16] != ':' ||
      !digits(17, 2, &second)) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0) ||
      hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  size_t pos = 19;
  if (s[pos] == '.') {
    const size_t start = ++pos;
    while (pos < s.size() && IsDigit(s[pos])) {
      ++pos;
    }
    if (pos == start) {
      return false;
    }
  }
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    return pos + 1 == s.size();
  }
  int offset_hour = 0, offset_minute = 0;
  return pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') &&
         digits(pos + 1, 2, &offset_hour) && s[pos + 3] == ':' &&
         digits(pos + 4, 2, &offset_minute) && offset_hour <= 23 && offset_minute <= 59;
}

// Go's zero time.Time, which Alertmanager sends as endsAt while an alert has no end.
const int64_t kZeroTimeMs = DaysFromCivil(1, 1, 1) * 86400 * 1000;

// What an entry name of a label set must be.
enum class Names { kLabel, kNonEmpty, kAny };

// Checks one validated body against the schema, filling a Notification. Each method returns
// false after recording the first error.
class Decoder {
 public:
  Decoder(const ParseLimits& limits, Failure* failure) : limits_(limits), failure_(failure) {}

  bool DecodeNotification(json& root, Notification* n) {
    if (!root.is_object()) {
      return Fail(ParseErrorKind::kInvalidField,
                  std::string("body: must be a JSON object, got ") + root.type_name());
    }
    auto& obj = root.get_ref<json::object_t&>();
    const std::string top;
    bool has_version = false;
    if (!GetString(obj, top, "version", true, &n->version, &has_version)) {
      return false;
    }
    if (n->version != "4") {
      return Fail(ParseErrorKind::kWrongVersion,
                  "version: got " + Quote(n->version) + ", want \"4\"");
    }
    bool present = false;
    return GetStatus(obj, top, &n->status) &&
           GetString(obj, top, "receiver", true, &n->receiver, &present) &&
           GetString(obj, top, "groupKey", false, &n->group_key, &present) &&
           GetTruncated(obj, &n->truncated_alerts) &&
           GetLabelSet(obj, top, "groupLabels", false, Names::kLabel, &n->group_labels) &&
           GetLabelSet(obj, top, "commonLabels", false, Names::kLabel, &n->common_labels) &&
           GetLabelSet(obj, top, "commonAnnotations", false, Names::kNonEmpty,
                       &n->common_annotations) &&
           GetString(obj, top, "externalURL", false, &n->external_url, &present) &&
           GetAlerts(obj, &n->alerts);
  }

  bool DecodeLabels(json& root, LabelSet* out) {
    if (!root.is_object()) {
      return Fail(ParseErrorKind::kInvalidField,
                  std::string("must be a JSON object, got ") + root.type_name());
    }
    return DecodeEntries(root.get_ref<json::object_t&>(), "", Names::kAny, std::nullopt, out);
  }

 private:
  bool Fail(ParseErrorKind kind, std::string message) {
    failure_->kind = kind;
    failure_->message = std::move(message);
    return false;
  }

  bool WrongType(const std::string& path, const char* want, const json& got) {
    return Fail(ParseErrorKind::kInvalidField,
                path + ": must be " + want + ", got " + got.type_name());
  }

  // The value of key, or null when absent or JSON null (both mean "not set", as in Go).
  static json* Find(json::object_t& obj, std::string_view key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->second.is_null()) {
      return nullptr;
    }
    return &it->second;
  }

  bool Missing(const std::string& parent, std::string_view key) {
    return Fail(ParseErrorKind::kMissingField, KeyPath(parent, key) + ": missing");
  }

  static bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

  bool NulError(const std::string& path) {
    return Fail(ParseErrorKind::kInvalidField, path + ": contains a NUL character");
  }

  bool GetString(json::object_t& obj, const std::string& parent, std::string_view key,
                 bool required, std::string* out, bool* present) {
    json* v = Find(obj, key);
    *present = v != nullptr;
    if (v == nullptr) {
      return required ? Missing(parent, key) : true;
    }
    if (!v->is_string()) {
      return WrongType(KeyPath(parent, key), "a string", *v);
    }
    *out = std::move(v->get_ref<std::string&>());
    return HasNul(*out) ? NulError(KeyPath(parent, key)) : true;
  }

  bool GetStatus(json::object_t& obj, const std::string& parent, AlertStatus* out) {
    std::string s;
    bool present = false;
    if (!GetString(obj, parent, "status", true, &s, &present)) {
      return false;
    }
    if (s == "firing") {
      *out = AlertStatus::kFiring;
    } else if (s == "resolved") {
      *out = AlertStatus::kResolved;
    } else {
      return Fail(ParseErrorKind::kInvalidField, KeyPath(parent, "status") + ": got " + Quote(s) +
                                                     ", want \"firing\" or \"resolved\"");
    }
    return true;
  }

  bool GetTruncated(json::object_t& obj, int64_t* out) {
    json* v = Find(obj, "truncatedAlerts");
    if (v == nullptr) {
      return true;
    }
    // Go decodes it into a uint64: 1.0, -1 and "3" are all errors there too.
    if (v->is_number_unsigned() &&
        v->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      *out = static_cast<int64_t>(v->get<uint64_t>());
      return true;
    }
    if (v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() >= 0) {
      *out = v->get<int64_t>();  // "-0"
      return true;
    }
    if (v->is_number()) {
      return Fail(ParseErrorKind::kInvalidField,
                  "truncatedAlerts: must be a non-negative integer below 2^63, got " + v->dump());
    }
    return WrongType("truncatedAlerts", "a non-negative integer", *v);
  }

  bool GetTime(json::object_t& obj, const std::string& parent, std::string_view key, bool required,
               std::string* text, int64_t* ms) {
    bool present = false;
    if (!GetString(obj, parent, key, required, text, &present)) {
      return false;
    }
    if (!present) {
      return true;
    }
    if (!IsRfc3339(*text)) {
      return Fail(ParseErrorKind::kInvalidField,
                  KeyPath(parent, key) + ": " + Quote(*text) + " is not an RFC 3339 time");
    }
    Result<int64_t> t = ParseTimestampMs(*text, 0);
    if (!t.ok()) {  // IsRfc3339 is the stricter of the two, so this is not expected.
      return Fail(ParseErrorKind::kInvalidField,
                  KeyPath(parent, key) + ": " + Quote(*text) +
                      " is not an RFC 3339 time: " + t.status().message());
    }
    *ms = *t;
    return true;
  }

  bool GetLabelSet(json::object_t& obj, const std::string& parent, std::string_view key,
                   bool required, Names names, LabelSet* out) {
    json* v = Find(obj, key);
    if (v == nullptr) {
      return required ? Missing(parent, key) : true;
    }
    const std::string path = KeyPath(parent, key);
    if (!v->is_object()) {
      return WrongType(path, "an object", *v);
    }
    return DecodeEntries(v->get_ref<json::object_t&>(), path, names, limits_.max_labels_per_set,
                         out);
  }

  // LabelsFromJson reads back what LabelsToJson wrote, so it checks only the structure
  // (Names::kAny): any string pair round-trips.
  bool DecodeEntries(json::object_t& entries, const std::string& path, Names names,
                     std::optional<size_t> limit, LabelSet* out) {
    if (limit && entries.size() > *limit) {
      return Fail(ParseErrorKind::kTooLarge, path + ": " + std::to_string(entries.size()) +
                                                 " entries, more than the limit of " +
                                                 std::to_string(*limit));
    }
    for (auto& [name, value] : entries) {
      if (names == Names::kLabel && !IsLabelName(name)) {
        return Fail(ParseErrorKind::kInvalidField,
                    EntryPath(path, name) + ": not a valid label name");
      }
      if (names == Names::kNonEmpty && name.empty()) {
        return Fail(ParseErrorKind::kInvalidField, EntryPath(path, name) + ": empty name");
      }
      if (!value.is_string()) {
        return WrongType(EntryPath(path, name), "a string", value);
      }
      auto& s = value.get_ref<std::string&>();
      if (names != Names::kAny && (HasNul(name) || HasNul(s))) {
        return NulError(EntryPath(path, name));
      }
      // Both maps sort the same way, so each insert goes at the end.
      out->emplace_hint(out->end(), name, std::move(s));
    }
    return true;
  }

  bool GetAlerts(json::object_t& obj, std::vector<Alert>* out) {
    json* v = Find(obj, "alerts");
    if (v == nullptr) {
      return Missing("", "alerts");
    }
    if (!v->is_array()) {
      return WrongType("alerts", "an array", *v);
    }
    auto& array = v->get_ref<json::array_t&>();
    if (array.empty()) {
      return Fail(ParseErrorKind::kInvalidField, "alerts: must not be empty");
    }
    if (array.size() > limits_.max_alerts) {
      return Fail(ParseErrorKind::kTooLarge, "alerts: " + std::to_string(array.size()) +
                                                 " alerts, more than the limit of " +
                                                 std::to_string(limits_.max_alerts));
    }
    out->resize(array.size());
    for (size_t i = 0; i < array.size(); ++i) {
      if (!DecodeAlert(array[i], "alerts[" + std::to_string(i) + "]", &(*out)[i])) {
        return false;
      }
    }
    return true;
  }

  bool DecodeAlert(json& v, const std::string& path, Alert* a) {
    if (!v.is_object()) {
      return WrongType(path, "an object", v);
    }
    auto& obj = v.get_ref<json::object_t&>();
    bool present = false;
    if (!GetStatus(obj, path, &a->status) ||
        !GetLabelSet(obj, path, "labels", true, Names::kLabel, &a->labels)) {
      return false;
    }
    auto name = a->labels.find("alertname");
    if (name == a->labels.end()) {
      return Fail(ParseErrorKind::kMissingField, path + ".labels.alertname: missing");
    }
    if (name->second.empty()) {
      return Fail(ParseErrorKind::kInvalidField, path + ".labels.alertname: empty");
    }
    if (!GetLabelSet(obj, path, "annotations", false, Names::kNonEmpty, &a->annotations) ||
        !GetTime(obj, path, "startsAt", true, &a->starts_at, &a->starts_at_ms) ||
        !GetTime(obj, path, "endsAt", false, &a->ends_at, &a->ends_at_ms) ||
        !GetString(obj, path, "generatorURL", false, &a->generator_url, &present) ||
        !GetString(obj, path, "fingerprint", true, &a->fingerprint, &present)) {
      return false;
    }
    if (a->ends_at_ms == kZeroTimeMs) {
      a->ends_at_ms = 0;
    }
    if (a->fingerprint.empty()) {
      return Fail(ParseErrorKind::kInvalidField, path + ".fingerprint: empty");
    }
    return true;
  }

  const ParseLimits& limits_;
  Failure* failure_;
};

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto b = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (b < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[b >> 4]);
          out->push_back(kHex[b & 0xF]);
        } else if (b >= 0x80) {
          // Parsed label sets are always UTF-8; anything else gets U+FFFD, as Go's encoder does.
          const size_t n = Utf8SequenceLength(s, i);
          if (n == 0) {
            out->append("\\ufffd");
            ++i;
          } else {
            out->append(s.substr(i, n));
            i += n;
          }
          continue;
        } else {
          out->push_back(c);
        }
    }
    ++i;
  }
  out->push_back('"');
}

}  // namespace

const char* AlertStatusName(AlertStatus s) {
  switch (s) {
    case AlertStatus::kFiring:
      return "firing";
    case AlertStatus::kResolved:
      return "resolved";
  }
  return "unknown";
}

const char* ParseErrorKindName(ParseErrorKind k) {
  switch (k) {
    case ParseErrorKind::kNone:
      return "none";
    case ParseErrorKind::kMalformedJson:
      return "malformed_json";
    case ParseErrorKind::kWrongVersion:
      return "wrong_version";
    case ParseErrorKind::kMissingField:
      return "missing_field";
    case ParseErrorKind::kInvalidField:
      return "invalid_field";
    case ParseErrorKind::kTooLarge:
      return "too_large";
  }
  return "unknown";
}

ParseResult ParseNotification(std::string_view body, const ParseLimits& limits) {
  ParseResult result;
  Failure failure;
  try {
    json root;
    if (ParseJson(body, &root, &failure) &&
        Decoder(limits, &failure).DecodeNotification(root, &result.notification)) {
      return result;
    }
  } catch (const std::bad_alloc&) {
    failure = {ParseErrorKind::kTooLarge, "body too large: out of memory while decoding"};
  } catch (const std::exception& e) {
    // Not expected: every access above checks the type first.
    failure = {ParseErrorKind::kMalformedJson, std::string("malformed JSON: ") + e.what()};
  }
  result.kind = failure.kind;
  result.status = InvalidArgument(std::move(failure.message));
  result.notification = Notification();
  return result;
}

std::string LabelsToJson(const LabelSet& labels) {
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) {
      out.push_back(',');
    }
    AppendJsonString(&out, name);
    out.push_back(':');
    AppendJsonString(&out, value);
  }
  out.push_back('}');
  return out;
}

Result<LabelSet> LabelsFromJson(std::string_view text) {
  Failure failure;
  LabelSet labels;
  try {
    json root;
    if (ParseJson(text, &root, &failure) &&
        Decoder(ParseLimits{}, &failure).DecodeLabels(root, &labels)) {
      return labels;
    }
  } catch (const std::exception& e) {
    failure.message = std::string("label set: ") + e.what();
  }
  return InvalidArgument(std::move(failure.message));
}

}  // namespace foresight::webhook
