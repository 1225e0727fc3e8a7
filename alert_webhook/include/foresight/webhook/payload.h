#pragma once

// Alertmanager's webhook payload, version 4 (Alertmanager's notify/webhook Message):
//
//   {"version": "4", "groupKey": "...", "truncatedAlerts": 0, "status": "firing|resolved",
//    "receiver": "...", "groupLabels": {...}, "commonLabels": {...},
//    "commonAnnotations": {...}, "externalURL": "...",
//    "alerts": [{"status": "firing|resolved", "labels": {...}, "annotations": {...},
//                "startsAt": "RFC 3339", "endsAt": "RFC 3339", "generatorURL": "...",
//                "fingerprint": "..."}]}
//
// The parser is the first thing untrusted bytes meet, so it is strict about what the webhook
// relies on and names the offending field in every error, and it has a fuzz target
// (alert_webhook/fuzz/payload_fuzz.cc).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "foresight/common/status.h"

namespace foresight::webhook {

using LabelSet = std::map<std::string, std::string>;

enum class AlertStatus { kFiring, kResolved };
const char* AlertStatusName(AlertStatus s);  // "firing", "resolved"

struct Alert {
  AlertStatus status = AlertStatus::kFiring;
  LabelSet labels;       // always has "alertname"
  LabelSet annotations;
  std::string starts_at;  // as sent (RFC 3339)
  std::string ends_at;    // as sent; Alertmanager sends "0001-01-01T00:00:00Z" for "not yet"
  int64_t starts_at_ms = 0;  // Unix ms
  int64_t ends_at_ms = 0;    // Unix ms; 0 when ends_at is the zero time or absent
  std::string generator_url;
  std::string fingerprint;  // non-empty
};

struct Notification {
  std::string version;  // "4"
  std::string receiver;
  AlertStatus status = AlertStatus::kFiring;
  std::vector<Alert> alerts;  // at least one
  LabelSet group_labels;
  LabelSet common_labels;
  LabelSet common_annotations;
  std::string external_url;
  std::string group_key;
  int64_t truncated_alerts = 0;
};

struct ParseLimits {
  size_t max_alerts = 10000;
  size_t max_labels_per_set = 256;
};

// Parses and validates a notification. Errors are InvalidArgument whose message names the
// field by its JSON path, e.g.
//   "malformed JSON at offset 17: ..."           (not JSON at all)
//   "version: got \"3\", want \"4\""
//   "alerts[2].fingerprint: missing"
//   "alerts[0].labels.alertname: missing"
//   "alerts[1].startsAt: \"yesterday\" is not an RFC 3339 time"
//   "alerts[0].labels[\"x\"]: must be a string, got number"
// and error_kind() tells them apart for metrics (see ParseErrorKind).
// Required: version, status, receiver, alerts (non-empty list), and for each alert: status,
// labels (with alertname), startsAt, fingerprint. Optional with defaults: annotations, endsAt,
// generatorURL, groupLabels, commonLabels, commonAnnotations, externalURL, groupKey,
// truncatedAlerts. Unknown keys are ignored (Alertmanager may add fields).
enum class ParseErrorKind { kNone, kMalformedJson, kWrongVersion, kMissingField, kInvalidField,
                            kTooLarge };
const char* ParseErrorKindName(ParseErrorKind k);  // "malformed_json", "wrong_version",
                                                   // "missing_field", "invalid_field", "too_large"

struct ParseResult {
  Status status;  // ok when parsed
  ParseErrorKind kind = ParseErrorKind::kNone;
  Notification notification;  // valid only when status.ok()
};

ParseResult ParseNotification(std::string_view body, const ParseLimits& limits = {});

// Alertmanager's notion of a label set as JSON, sorted by name: {"a":"1","b":"2"}.
std::string LabelsToJson(const LabelSet& labels);
Result<LabelSet> LabelsFromJson(std::string_view json);

}  // namespace foresight::webhook
