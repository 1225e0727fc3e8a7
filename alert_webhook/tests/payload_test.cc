#include "foresight/webhook/payload.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace foresight::webhook {
namespace {

using json = nlohmann::json;

constexpr int64_t k0600Ms = 1795413600000;  // 2026-11-23T06:00:00Z

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(FORESIGHT_WEBHOOK_TESTDATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Notification MustParse(std::string_view body, const ParseLimits& limits = {}) {
  ParseResult r = ParseNotification(body, limits);
  EXPECT_TRUE(r.status.ok()) << r.status.message() << "\nbody: " << body;
  EXPECT_EQ(r.kind, ParseErrorKind::kNone);
  return r.notification;
}

struct Error {
  ParseErrorKind kind = ParseErrorKind::kNone;
  std::string message;
};

Error ErrorOf(std::string_view body, const ParseLimits& limits = {}) {
  ParseResult r = ParseNotification(body, limits);
  EXPECT_FALSE(r.status.ok()) << "body unexpectedly parsed: " << body.substr(0, 300);
  if (r.status.ok()) {
    return {};
  }
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.kind, ParseErrorKind::kNone);
  return {r.kind, r.status.message()};
}

// The smallest body that parses; tests break one thing in it.
json Valid(int alerts = 1) {
  json body = {
      {"version", "4"}, {"status", "firing"}, {"receiver", "ops"}, {"alerts", json::array()}};
  for (int i = 0; i < alerts; ++i) {
    body["alerts"].push_back({{"status", "firing"},
                              {"labels", {{"alertname", "ServiceDown"}, {"service", "checkout"}}},
                              {"startsAt", "2026-11-23T06:00:00Z"},
                              {"fingerprint", "3b9c1a2f5e6d7a8" + std::to_string(i)}});
  }
  return body;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) {
      return false;
    }
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += n;
  }
  return true;
}

// --- What Alertmanager really sends --------------------------------------------------------

// Alertmanager 0.25's webhook notifier encodes notify/webhook.Message with json.NewEncoder:
// compact, a trailing newline, map keys sorted, "&<>" escaped as \u0026 \u003c \u003e, and the
// embedded *template.Data's fields (receiver ... externalURL) before version, groupKey and
// truncatedAlerts. Times are RFC3339Nano, the zero time for "no end yet".
TEST(PayloadTest, Alertmanager025Firing) {
  const std::string body = ReadTestdata("payload_am025_firing.json");
  ASSERT_EQ(body.back(), '\n');
  Notification n = MustParse(body);
  EXPECT_EQ(n.version, "4");
  EXPECT_EQ(n.receiver, "foresight-webhook");
  EXPECT_EQ(n.status, AlertStatus::kFiring);
  EXPECT_EQ(n.group_key,
            "{}/{severity=\"page\"}:{alertname=\"ServiceDown\", service=\"checkout\"}");
  EXPECT_EQ(n.truncated_alerts, 0);
  EXPECT_EQ(n.external_url, "http://alertmanager:9093");
  EXPECT_EQ(n.group_labels, (LabelSet{{"alertname", "ServiceDown"}, {"service", "checkout"}}));
  EXPECT_EQ(n.common_labels, (LabelSet{{"alertname", "ServiceDown"},
                                       {"job", "checkout"},
                                       {"service", "checkout"},
                                       {"severity", "page"}}));
  EXPECT_EQ(n.common_annotations,
            (LabelSet{{"runbook_url", "https://runbooks.example.com/ServiceDown"},
                      {"summary", "checkout is down"}}));
  ASSERT_EQ(n.alerts.size(), 2u);

  const Alert& a = n.alerts[0];
  EXPECT_EQ(a.status, AlertStatus::kFiring);
  EXPECT_EQ(a.labels, (LabelSet{{"alertname", "ServiceDown"},
                                {"instance", "checkout-7d9f:8080"},
                                {"job", "checkout"},
                                {"service", "checkout"},
                                {"severity", "page"}}));
  EXPECT_EQ(
      a.annotations.at("description"),
      "checkout-7d9f:8080 has not answered a scrape for 1m (p99 latency > 2s & errors < 1%).");
  EXPECT_EQ(a.annotations.size(), 3u);
  EXPECT_EQ(a.starts_at, "2026-11-23T06:00:00.123456789Z");
  EXPECT_EQ(a.starts_at_ms, k0600Ms + 123);
  EXPECT_EQ(a.ends_at, "0001-01-01T00:00:00Z");
  EXPECT_EQ(a.ends_at_ms, 0);
  EXPECT_EQ(a.generator_url,
            "http://prometheus:9090/graph?g0.expr=up%7Bjob%3D%22checkout%22%7D+%3D%3D+0&g0.tab=1");
  EXPECT_EQ(a.fingerprint, "3b9c1a2f5e6d7a80");

  const Alert& b = n.alerts[1];
  EXPECT_EQ(b.labels.at("instance"), "checkout-8c1e:8080");
  EXPECT_EQ(b.starts_at_ms, k0600Ms + 30500);
  EXPECT_EQ(b.ends_at_ms, 0);
  EXPECT_EQ(b.fingerprint, "c0ffee0123456789");
}

TEST(PayloadTest, Alertmanager025Resolved) {
  Notification n = MustParse(ReadTestdata("payload_am025_resolved.json"));
  EXPECT_EQ(n.status, AlertStatus::kResolved);
  ASSERT_EQ(n.alerts.size(), 1u);
  EXPECT_EQ(n.alerts[0].status, AlertStatus::kResolved);
  EXPECT_EQ(n.alerts[0].ends_at, "2026-11-23T06:12:00.987654321Z");
  EXPECT_EQ(n.alerts[0].ends_at_ms, k0600Ms + 12 * 60 * 1000 + 987);
}

// The order of the example in Alertmanager's documentation, pretty-printed: key order and
// whitespace do not matter.
TEST(PayloadTest, DocumentationOrder) {
  Notification n = MustParse(ReadTestdata("payload_docs_order.json"));
  EXPECT_EQ(n.truncated_alerts, 3);
  EXPECT_EQ(n.group_key, "{}:{alertname=\"DiskFull\"}");
  EXPECT_TRUE(n.common_annotations.empty());
  ASSERT_EQ(n.alerts.size(), 1u);
  EXPECT_EQ(n.alerts[0].labels.at("device"), "/dev/sda1");
  EXPECT_EQ(n.alerts[0].starts_at_ms, k0600Ms);  // 07:00+01:00
}

TEST(PayloadTest, OptionalFieldsDefault) {
  Notification n = MustParse(Valid().dump());
  EXPECT_EQ(n.group_key, "");
  EXPECT_EQ(n.external_url, "");
  EXPECT_EQ(n.truncated_alerts, 0);
  EXPECT_TRUE(n.group_labels.empty());
  EXPECT_TRUE(n.common_labels.empty());
  EXPECT_TRUE(n.common_annotations.empty());
  ASSERT_EQ(n.alerts.size(), 1u);
  EXPECT_TRUE(n.alerts[0].annotations.empty());
  EXPECT_EQ(n.alerts[0].ends_at, "");
  EXPECT_EQ(n.alerts[0].ends_at_ms, 0);
  EXPECT_EQ(n.alerts[0].generator_url, "");
}

// null means "not set", as for Go's decoder.
TEST(PayloadTest, NullOptionalFieldsAreAbsent) {
  json body = Valid();
  for (const char* key : {"groupKey", "externalURL", "truncatedAlerts", "groupLabels",
                          "commonLabels", "commonAnnotations"}) {
    body[key] = nullptr;
  }
  for (const char* key : {"annotations", "endsAt", "generatorURL"}) {
    body["alerts"][0][key] = nullptr;
  }
  Notification n = MustParse(body.dump());
  EXPECT_EQ(n.alerts[0].ends_at_ms, 0);
  EXPECT_TRUE(n.common_labels.empty());
}

TEST(PayloadTest, UnknownKeysAreIgnored) {
  json body = Valid();
  body["futureField"] = {{"nested", {1, 2, {{"deep", nullptr}}}}};
  body["alerts"][0]["silencedBy"] = json::array();
  body["alerts"][0]["value"] = 1e300;
  Notification n = MustParse(body.dump());
  EXPECT_EQ(n.alerts[0].labels.at("alertname"), "ServiceDown");
}

TEST(PayloadTest, UnicodeInLabelsAndAnnotations) {
  const std::string body = R"({"version":"4","status":"firing","receiver":"\u00e9quipe",)"
                           R"("alerts":[{"status":"firing","labels":{"alertname":"Z\u00fcrich",)"
                           R"("city":"東京 🚀","team":"\ud83d\ude80"},)"
                           R"("annotations":{"résumé":"ça marche","😀":"x"},)"
                           R"("startsAt":"2026-11-23T06:00:00Z","fingerprint":"f"}]})";
  Notification n = MustParse(body);
  EXPECT_EQ(n.receiver, "équipe");
  const Alert& a = n.alerts[0];
  EXPECT_EQ(a.labels.at("alertname"), "Zürich");
  EXPECT_EQ(a.labels.at("city"), "東京 🚀");
  EXPECT_EQ(a.labels.at("team"), "🚀");
  EXPECT_EQ(a.annotations.at("résumé"), "ça marche");
  EXPECT_EQ(a.annotations.at("😀"), "x");
  EXPECT_EQ(LabelsFromJson(LabelsToJson(a.labels)).value(), a.labels);
  EXPECT_EQ(LabelsFromJson(LabelsToJson(a.annotations)).value(), a.annotations);

  // Label names are Prometheus names: ASCII only.
  json bad = Valid();
  bad["alerts"][0]["labels"]["zürich"] = "x";
  Error e = ErrorOf(bad.dump());
  EXPECT_EQ(e.kind, ParseErrorKind::kInvalidField);
  EXPECT_EQ(e.message, "alerts[0].labels[\"zürich\"]: not a valid label name");
}

TEST(PayloadTest, Times) {
  struct Case {
    const char* text;
    int64_t ms;
  };
  const Case cases[] = {
      {"2026-11-23T06:00:00Z", k0600Ms},
      {"2026-11-23T06:00:00.123456789Z", k0600Ms + 123},
      {"2026-11-23T06:00:00.1Z", k0600Ms + 100},
      {"2026-11-23T06:00:00.999999999999Z", k0600Ms + 999},
      {"2026-11-23t06:00:00z", k0600Ms},
      {"2026-11-23T07:30:00+01:30", k0600Ms},
      {"2026-11-23T00:30:00.5-05:30", k0600Ms + 500},
      {"2024-02-29T00:00:00Z", 1709164800000},  // leap day
      {"1969-12-31T23:59:59Z", -1000},
  };
  for (const Case& c : cases) {
    json body = Valid();
    body["alerts"][0]["startsAt"] = c.text;
    body["alerts"][0]["endsAt"] = c.text;
    Notification n = MustParse(body.dump());
    EXPECT_EQ(n.alerts[0].starts_at, c.text);
    EXPECT_EQ(n.alerts[0].starts_at_ms, c.ms) << c.text;
    EXPECT_EQ(n.alerts[0].ends_at_ms, c.ms) << c.text;
  }
}

// Go's zero time.Time, however written, is "no end"; before it stays what it is.
TEST(PayloadTest, ZeroEndsAtIsZero) {
  for (const char* zero :
       {"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z", "0001-01-01T01:00:00+01:00"}) {
    json body = Valid();
    body["alerts"][0]["endsAt"] = zero;
    Notification n = MustParse(body.dump());
    EXPECT_EQ(n.alerts[0].ends_at, zero);
    EXPECT_EQ(n.alerts[0].ends_at_ms, 0) << zero;
  }
}

TEST(PayloadTest, OnlyRfc3339TimesAreAccepted) {
  for (const char* text : {"yesterday",
                           "now",
                           "-6h",
                           "+30m",
                           "1700000000",
                           "1700000000.25",
                           "2026-11-23 06:00:00",
                           "2026-11-23T06:00:00",
                           "2026-11-23",
                           "2026-11-23T06:00Z",
                           "2026-02-29T00:00:00Z",
                           "2026-04-31T00:00:00Z",
                           "2026-13-01T00:00:00Z",
                           "2026-00-01T00:00:00Z",
                           "2026-11-00T00:00:00Z",
                           "2026-11-23T24:00:00Z",
                           "2026-11-23T06:60:00Z",
                           "2026-11-23T06:00:60Z",
                           "2026-11-23T06:00:00.Z",
                           "2026-11-23T06:00:00+0100",
                           "2026-11-23T06:00:00+01",
                           "2026-11-23T06:00:00+24:00",
                           "2026-11-23T06:00:00+01:60",
                           " 2026-11-23T06:00:00Z",
                           "2026-11-23T06:00:00Z ",
                           "2026-11-23T06:00:00ZZ",
                           "+2026-11-23T06:00:00Z",
                           "20261-11-23T06:00:00Z",
                           "2026-1-23T06:00:00Z",
                           "2026-11-23T06:00:00,5Z",
                           ""}) {
    json body = Valid();
    body["alerts"][0]["startsAt"] = text;
    Error e = ErrorOf(body.dump());
    EXPECT_EQ(e.kind, ParseErrorKind::kInvalidField) << text;
    EXPECT_EQ(e.message, "alerts[0].startsAt: " + json(text).dump() + " is not an RFC 3339 time");
  }
}

// --- Every documented error -----------------------------------------------------------------

struct ErrorCase {
  const char* name;
  std::function<void(json&)> mutate;
  ParseErrorKind kind;
  const char* message;
};

const ErrorCase kErrorCases[] = {
    // Missing required fields.
    {"no version", [](json& b) { b.erase("version"); }, ParseErrorKind::kMissingField,
     "version: missing"},
    {"null version", [](json& b) { b["version"] = nullptr; }, ParseErrorKind::kMissingField,
     "version: missing"},
    {"no status", [](json& b) { b.erase("status"); }, ParseErrorKind::kMissingField,
     "status: missing"},
    {"no receiver", [](json& b) { b.erase("receiver"); }, ParseErrorKind::kMissingField,
     "receiver: missing"},
    {"no alerts", [](json& b) { b.erase("alerts"); }, ParseErrorKind::kMissingField,
     "alerts: missing"},
    {"no alert status", [](json& b) { b["alerts"][0].erase("status"); },
     ParseErrorKind::kMissingField, "alerts[0].status: missing"},
    {"no labels", [](json& b) { b["alerts"][0].erase("labels"); }, ParseErrorKind::kMissingField,
     "alerts[0].labels: missing"},
    {"no alertname", [](json& b) { b["alerts"][0]["labels"].erase("alertname"); },
     ParseErrorKind::kMissingField, "alerts[0].labels.alertname: missing"},
    {"no startsAt", [](json& b) { b["alerts"][0].erase("startsAt"); },
     ParseErrorKind::kMissingField, "alerts[0].startsAt: missing"},
    {"no fingerprint in the third alert",
     [](json& b) {
       b = Valid(3);
       b["alerts"][2].erase("fingerprint");
     },
     ParseErrorKind::kMissingField, "alerts[2].fingerprint: missing"},

    // Wrong version.
    {"version 3", [](json& b) { b["version"] = "3"; }, ParseErrorKind::kWrongVersion,
     "version: got \"3\", want \"4\""},
    {"empty version", [](json& b) { b["version"] = ""; }, ParseErrorKind::kWrongVersion,
     "version: got \"\", want \"4\""},
    {"version with a quote", [](json& b) { b["version"] = "4\"\n"; }, ParseErrorKind::kWrongVersion,
     "version: got \"4\\\"\\n\", want \"4\""},

    // Wrong types and values.
    {"numeric version", [](json& b) { b["version"] = 4; }, ParseErrorKind::kInvalidField,
     "version: must be a string, got number"},
    {"status pending", [](json& b) { b["status"] = "pending"; }, ParseErrorKind::kInvalidField,
     "status: got \"pending\", want \"firing\" or \"resolved\""},
    {"alert status Firing", [](json& b) { b["alerts"][0]["status"] = "Firing"; },
     ParseErrorKind::kInvalidField,
     "alerts[0].status: got \"Firing\", want \"firing\" or \"resolved\""},
    {"boolean receiver", [](json& b) { b["receiver"] = true; }, ParseErrorKind::kInvalidField,
     "receiver: must be a string, got boolean"},
    {"numeric groupKey", [](json& b) { b["groupKey"] = 1; }, ParseErrorKind::kInvalidField,
     "groupKey: must be a string, got number"},
    {"array externalURL", [](json& b) { b["externalURL"] = json::array(); },
     ParseErrorKind::kInvalidField, "externalURL: must be a string, got array"},
    {"alerts an object", [](json& b) { b["alerts"] = json::object(); },
     ParseErrorKind::kInvalidField, "alerts: must be an array, got object"},
    {"no alerts at all", [](json& b) { b["alerts"] = json::array(); },
     ParseErrorKind::kInvalidField, "alerts: must not be empty"},
    {"alert a string",
     [](json& b) {
       b = Valid(2);
       b["alerts"][1] = "x";
     },
     ParseErrorKind::kInvalidField, "alerts[1]: must be an object, got string"},
    {"labels an array", [](json& b) { b["alerts"][0]["labels"] = json::array(); },
     ParseErrorKind::kInvalidField, "alerts[0].labels: must be an object, got array"},
    {"numeric label value", [](json& b) { b["alerts"][0]["labels"]["x"] = 1; },
     ParseErrorKind::kInvalidField, "alerts[0].labels[\"x\"]: must be a string, got number"},
    {"null label value", [](json& b) { b["alerts"][0]["labels"]["x"] = nullptr; },
     ParseErrorKind::kInvalidField, "alerts[0].labels[\"x\"]: must be a string, got null"},
    {"label name with a dash", [](json& b) { b["alerts"][0]["labels"]["foo-bar"] = "1"; },
     ParseErrorKind::kInvalidField, "alerts[0].labels[\"foo-bar\"]: not a valid label name"},
    {"label name with a digit first", [](json& b) { b["alerts"][0]["labels"]["1x"] = "1"; },
     ParseErrorKind::kInvalidField, "alerts[0].labels[\"1x\"]: not a valid label name"},
    {"empty label name", [](json& b) { b["alerts"][0]["labels"][""] = "1"; },
     ParseErrorKind::kInvalidField, "alerts[0].labels[\"\"]: not a valid label name"},
    {"empty alertname", [](json& b) { b["alerts"][0]["labels"]["alertname"] = ""; },
     ParseErrorKind::kInvalidField, "alerts[0].labels.alertname: empty"},
    {"annotations a string", [](json& b) { b["alerts"][0]["annotations"] = "x"; },
     ParseErrorKind::kInvalidField, "alerts[0].annotations: must be an object, got string"},
    {"empty annotation name", [](json& b) { b["alerts"][0]["annotations"][""] = "x"; },
     ParseErrorKind::kInvalidField, "alerts[0].annotations[\"\"]: empty name"},
    {"object annotation",
     [](json& b) {
       b["alerts"][0]["annotations"]["summary"] = {{"a", 1}};
     },
     ParseErrorKind::kInvalidField,
     "alerts[0].annotations[\"summary\"]: must be a string, got object"},
    {"bad group label name", [](json& b) { b["groupLabels"]["a.b"] = "x"; },
     ParseErrorKind::kInvalidField, "groupLabels[\"a.b\"]: not a valid label name"},
    {"numeric common label", [](json& b) { b["commonLabels"]["x"] = 1.5; },
     ParseErrorKind::kInvalidField, "commonLabels[\"x\"]: must be a string, got number"},
    {"commonAnnotations a string", [](json& b) { b["commonAnnotations"] = "x"; },
     ParseErrorKind::kInvalidField, "commonAnnotations: must be an object, got string"},
    {"startsAt yesterday",
     [](json& b) {
       b = Valid(2);
       b["alerts"][1]["startsAt"] = "yesterday";
     },
     ParseErrorKind::kInvalidField, "alerts[1].startsAt: \"yesterday\" is not an RFC 3339 time"},
    {"numeric startsAt", [](json& b) { b["alerts"][0]["startsAt"] = 1700000000; },
     ParseErrorKind::kInvalidField, "alerts[0].startsAt: must be a string, got number"},
    {"endsAt soon", [](json& b) { b["alerts"][0]["endsAt"] = "soon"; },
     ParseErrorKind::kInvalidField, "alerts[0].endsAt: \"soon\" is not an RFC 3339 time"},
    {"numeric generatorURL", [](json& b) { b["alerts"][0]["generatorURL"] = 5; },
     ParseErrorKind::kInvalidField, "alerts[0].generatorURL: must be a string, got number"},
    {"empty fingerprint", [](json& b) { b["alerts"][0]["fingerprint"] = ""; },
     ParseErrorKind::kInvalidField, "alerts[0].fingerprint: empty"},
    {"negative truncatedAlerts", [](json& b) { b["truncatedAlerts"] = -1; },
     ParseErrorKind::kInvalidField,
     "truncatedAlerts: must be a non-negative integer below 2^63, got -1"},
    {"fractional truncatedAlerts", [](json& b) { b["truncatedAlerts"] = 1.5; },
     ParseErrorKind::kInvalidField,
     "truncatedAlerts: must be a non-negative integer below 2^63, got 1.5"},
    {"truncatedAlerts 2^64-1", [](json& b) { b["truncatedAlerts"] = UINT64_MAX; },
     ParseErrorKind::kInvalidField,
     "truncatedAlerts: must be a non-negative integer below 2^63, got 18446744073709551615"},
    {"string truncatedAlerts", [](json& b) { b["truncatedAlerts"] = "3"; },
     ParseErrorKind::kInvalidField, "truncatedAlerts: must be a non-negative integer, got string"},
    {"NUL in a label value",
     [](json& b) { b["alerts"][0]["labels"]["service"] = std::string("a\0b", 3); },
     ParseErrorKind::kInvalidField, "alerts[0].labels[\"service\"]: contains a NUL character"},
    {"NUL in an annotation name",
     [](json& b) { b["alerts"][0]["annotations"][std::string("a\0", 2)] = "x"; },
     ParseErrorKind::kInvalidField, "alerts[0].annotations[\"a\\x00\"]: contains a NUL character"},
    {"NUL in the fingerprint",
     [](json& b) { b["alerts"][0]["fingerprint"] = std::string("\0", 1); },
     ParseErrorKind::kInvalidField, "alerts[0].fingerprint: contains a NUL character"},
    {"NUL in the receiver", [](json& b) { b["receiver"] = std::string("ops\0", 4); },
     ParseErrorKind::kInvalidField, "receiver: contains a NUL character"},
    {"body an array", [](json& b) { b = json::array({1}); }, ParseErrorKind::kInvalidField,
     "body: must be a JSON object, got array"},
    {"body null", [](json& b) { b = nullptr; }, ParseErrorKind::kInvalidField,
     "body: must be a JSON object, got null"},
    {"body a string", [](json& b) { b = "x"; }, ParseErrorKind::kInvalidField,
     "body: must be a JSON object, got string"},
};

class PayloadErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(PayloadErrorTest, ExactMessageAndKind) {
  json body = Valid();
  GetParam().mutate(body);
  Error e = ErrorOf(body.dump());
  EXPECT_EQ(e.message, GetParam().message);
  EXPECT_EQ(e.kind, GetParam().kind) << ParseErrorKindName(e.kind);
}

INSTANTIATE_TEST_SUITE_P(All, PayloadErrorTest, testing::ValuesIn(kErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           std::string name;
                           for (const char* p = info.param.name; *p != '\0'; ++p) {
                             name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
                           }
                           return name;
                         });

// The first problem wins, in the order version, status, receiver, ..., alerts.
TEST(PayloadTest, WrongVersionIsReportedFirst) {
  Error e = ErrorOf(R"({"version":"3","alerts":"not even a list"})");
  EXPECT_EQ(e.kind, ParseErrorKind::kWrongVersion);
  EXPECT_EQ(e.message, "version: got \"3\", want \"4\"");
}

TEST(PayloadTest, LongValuesAreCutInErrors) {
  json body = Valid();
  body["version"] = std::string(10000, 'x');
  Error e = ErrorOf(body.dump());
  EXPECT_EQ(e.message, "version: got \"" + std::string(64, 'x') + "...\", want \"4\"");
}

// --- Limits -------------------------------------------------------------------------------

TEST(PayloadTest, TooManyAlerts) {
  ParseLimits limits;
  limits.max_alerts = 2;
  MustParse(Valid(2).dump(), limits);
  Error e = ErrorOf(Valid(3).dump(), limits);
  EXPECT_EQ(e.kind, ParseErrorKind::kTooLarge);
  EXPECT_EQ(e.message, "alerts: 3 alerts, more than the limit of 2");
}

TEST(PayloadTest, DefaultLimitsTakeTenThousandAlerts) {
  // Built as text: json::push_back 10000 times is slower than the parser under test.
  const auto body = [](int alerts) {
    std::string out = R"({"version":"4","status":"firing","receiver":"ops","alerts":[)";
    for (int i = 0; i < alerts; ++i) {
      out += i == 0 ? "" : ",";
      out += R"({"status":"firing","labels":{"alertname":"A"},)"
             R"("startsAt":"2026-11-23T06:00:00Z","fingerprint":"f"})";
    }
    return out + "]}";
  };
  Notification n = MustParse(body(10000));
  EXPECT_EQ(n.alerts.size(), 10000u);
  Error e = ErrorOf(body(10001));
  EXPECT_EQ(e.kind, ParseErrorKind::kTooLarge);
  EXPECT_EQ(e.message, "alerts: 10001 alerts, more than the limit of 10000");
}

TEST(PayloadTest, TooManyLabels) {
  ParseLimits limits;
  limits.max_labels_per_set = 3;
  json body = Valid();
  body["alerts"][0]["labels"]["a"] = "1";  // 3 labels
  body["alerts"][0]["annotations"] = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  body["groupLabels"] = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  MustParse(body.dump(), limits);

  for (const char* where : {"labels", "annotations"}) {
    json big = body;
    big["alerts"][0][where]["zz"] = "4";
    Error e = ErrorOf(big.dump(), limits);
    EXPECT_EQ(e.kind, ParseErrorKind::kTooLarge);
    EXPECT_EQ(e.message,
              std::string("alerts[0].") + where + ": 4 entries, more than the limit of 3");
  }
  for (const char* where : {"groupLabels", "commonLabels", "commonAnnotations"}) {
    json big = body;
    big[where] = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}};
    Error e = ErrorOf(big.dump(), limits);
    EXPECT_EQ(e.kind, ParseErrorKind::kTooLarge);
    EXPECT_EQ(e.message, std::string(where) + ": 4 entries, more than the limit of 3");
  }
}

// --- Duplicate keys: rejected anywhere, with the path of the second one ----------------------

TEST(PayloadTest, DuplicateKeysAreRejected) {
  struct Case {
    std::string body;
    const char* message;
  };
  const std::string alert =
      R"({"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-23T06:00:00Z",)"
      R"("fingerprint":"f"})";
  const Case cases[] = {
      {R"({"version":"4","version":"4"})", "version: duplicate key"},
      {R"({"version":"4","status":"firing","receiver":"r","alerts":[)" + alert + "," +
           R"({"status":"firing","labels":{"alertname":"A","alertname":"B"}}]})",
       "alerts[1].labels[\"alertname\"]: duplicate key"},
      {R"({"alerts":[{"annotations":{"a b":"1","a b":"2"}}]})",
       "alerts[0].annotations[\"a b\"]: duplicate key"},
      {R"({"x":[0,{"y":{"z":1,"z":2}}]})", "x[1].y.z: duplicate key"},
      {R"({"weird key":{"k":1,"k":1}})", "[\"weird key\"].k: duplicate key"},
      {R"({"groupLabels":{"a":"1","a":"1"}})", "groupLabels[\"a\"]: duplicate key"},
  };
  for (const Case& c : cases) {
    Error e = ErrorOf(c.body);
    EXPECT_EQ(e.kind, ParseErrorKind::kInvalidField) << c.body;
    EXPECT_EQ(e.message, c.message) << c.body;
  }
}

// --- Not JSON ---------------------------------------------------------------------------------

TEST(PayloadTest, MalformedJsonNamesTheOffset) {
  struct Case {
    std::string body;
    const char* message;
  };
  const Case cases[] = {
      {"",
       "malformed JSON at offset 0: syntax error while parsing value - unexpected end of input; "
       "expected '[', '{', or a literal"},
      {R"({"version":x})",
       "malformed JSON at offset 11: syntax error while parsing value - invalid literal; last "
       "read: '\"version\":x'"},
      {R"({"version":"4")",
       "malformed JSON at offset 14: syntax error while parsing object - unexpected end of "
       "input; expected '}'"},
      {R"({"version":"4"} {})",
       "malformed JSON at offset 16: syntax error while parsing value - unexpected '{'; "
       "expected end of input"},
      {R"([1,])",
       "malformed JSON at offset 3: syntax error while parsing value - unexpected ']'; expected "
       "'[', '{', or a literal"},
      {R"({"a":1e999})", "malformed JSON at offset 9: number overflow parsing '1e999'"},
      {R"({"a":-1e400})", "malformed JSON at offset 10: number overflow parsing '-1e400'"},
      {"{'a':1}",
       "malformed JSON at offset 1: syntax error while parsing object key - invalid literal; "
       "last read: '{''; expected string literal"},
  };
  for (const Case& c : cases) {
    Error e = ErrorOf(c.body);
    EXPECT_EQ(e.kind, ParseErrorKind::kMalformedJson) << c.body;
    EXPECT_EQ(e.message, c.message) << c.body;
  }
}

// A raw NUL byte is never JSON. nlohmann takes one for the end of input (so "{...}\0junk"
// would parse); the parser names the first NUL instead, wherever it is.
TEST(PayloadTest, NulBytes) {
  const std::string outside("{\"version\":\0\"4\"}", 15);
  const std::string inside("{\"version\":\"4\0\"}", 16);
  const std::string in_key("{\"ver\0sion\":\"4\"}", 16);
  for (const std::string& body : {outside, inside, in_key}) {
    Error e = ErrorOf(body);
    EXPECT_EQ(e.kind, ParseErrorKind::kMalformedJson);
    EXPECT_EQ(e.message,
              "malformed JSON at offset " + std::to_string(body.find('\0')) + ": NUL byte");
  }
  for (const char* tail : {"", "garbage", "{\"version\":\"3\"}"}) {
    std::string after = Valid().dump();
    const size_t nul = after.size();
    after.push_back('\0');
    after += tail;
    Error e = ErrorOf(after);
    EXPECT_EQ(e.kind, ParseErrorKind::kMalformedJson);
    EXPECT_EQ(e.message, "malformed JSON at offset " + std::to_string(nul) + ": NUL byte");
  }
  // An earlier error is still the one reported.
  Error e = ErrorOf(std::string("{x\0", 3));
  EXPECT_EQ(e.message.substr(0, 28), "malformed JSON at offset 1: ");
  // Escaped, U+0000 is valid JSON; the payload still refuses it in the strings it keeps (see
  // the "NUL in ..." error cases).
  e = ErrorOf(R"({"version":"4\u0000"})");
  EXPECT_EQ(e.message, "version: contains a NUL character");
}

TEST(PayloadTest, InvalidUtf8IsMalformedJson) {
  const std::string bodies[] = {
      "{\"version\":\"\xff\"}",          // not a UTF-8 byte
      "{\"version\":\"\xc3\"}",          // truncated sequence
      "{\"version\":\"\xc0\xaf\"}",      // overlong '/'
      "{\"version\":\"\xed\xa0\x80\"}",  // UTF-16 surrogate
      "{\"\xfe\":1}",
      "{\"version\":\"\\ud800\"}",  // unpaired escaped surrogate
      "\xef\xbb\xbf\xff",           // byte-order mark, then junk
  };
  for (const std::string& body : bodies) {
    Error e = ErrorOf(body);
    EXPECT_EQ(e.kind, ParseErrorKind::kMalformedJson) << body;
    EXPECT_TRUE(e.message.starts_with("malformed JSON at offset ")) << e.message;
    // The message echoes the bad bytes escaped, so it is itself valid UTF-8.
    EXPECT_TRUE(IsValidUtf8(e.message)) << e.message;
  }
  Error e = ErrorOf("{\"version\":\"\xff\"}");
  EXPECT_EQ(e.message,
            "malformed JSON at offset 12: syntax error while parsing value - invalid string: "
            "ill-formed UTF-8 byte; last read: '\"\\xff'");
}

TEST(PayloadTest, NestingBombIsRejectedWithoutRecursion) {
  for (char open : {'[', '{'}) {
    std::string bomb;
    if (open == '[') {
      bomb.assign(100000, '[');
    } else {
      for (int i = 0; i < 100000; ++i) {
        bomb += "{\"a\":";
      }
    }
    Error e = ErrorOf(bomb);
    EXPECT_EQ(e.kind, ParseErrorKind::kMalformedJson);
    const size_t offset = open == '[' ? 64 : 64 * 5;
    EXPECT_EQ(e.message,
              "malformed JSON at offset " + std::to_string(offset) + ": nesting deeper than 64");
  }
  // Brackets inside strings do not count.
  std::string tricky = R"({"a":"[[[[{{{{","b":)" + std::string(64, '[');
  Error e = ErrorOf(tricky);
  EXPECT_EQ(e.message, "malformed JSON at offset " + std::to_string(tricky.size() - 1) +
                           ": nesting deeper than 64");
}

TEST(PayloadTest, NestingUpTo64IsFine) {
  // The body is depth 1, so 63 arrays under an unknown key reach exactly 64.
  std::string body = Valid().dump();
  body.pop_back();
  std::string deep = body + R"(,"x":)" + std::string(63, '[') + std::string(63, ']') + "}";
  MustParse(deep);
  std::string deeper = body + R"(,"x":)" + std::string(64, '[') + std::string(64, ']') + "}";
  Error e = ErrorOf(deeper);
  EXPECT_EQ(e.kind, ParseErrorKind::kMalformedJson);
  EXPECT_EQ(e.message, "malformed JSON at offset " + std::to_string(body.size() + 5 + 63) +
                           ": nesting deeper than 64");
}

TEST(PayloadTest, HugeNumbers) {
  json body = Valid();
  std::string text = body.dump();
  text.pop_back();
  // Ignored where unknown, as long as they are finite.
  MustParse(text + R"(,"x":123456789012345678901234567890,"y":1e308,"z":-1e-400})");
  // truncatedAlerts needs an integer that fits.
  Error e = ErrorOf(text + R"(,"truncatedAlerts":123456789012345678901234567890})");
  EXPECT_EQ(e.kind, ParseErrorKind::kInvalidField);
  EXPECT_EQ(
      e.message,
      "truncatedAlerts: must be a non-negative integer below 2^63, got 1.2345678901234568e+29");
  e = ErrorOf(text + R"(,"truncatedAlerts":9223372036854775808})");
  EXPECT_EQ(e.message,
            "truncatedAlerts: must be a non-negative integer below 2^63, got 9223372036854775808");
  Notification n = MustParse(text + R"(,"truncatedAlerts":9223372036854775807})");
  EXPECT_EQ(n.truncated_alerts, INT64_MAX);
  n = MustParse(text + R"(,"truncatedAlerts":-0})");
  EXPECT_EQ(n.truncated_alerts, 0);
}

TEST(PayloadTest, KindNames) {
  EXPECT_STREQ(ParseErrorKindName(ParseErrorKind::kNone), "none");
  EXPECT_STREQ(ParseErrorKindName(ParseErrorKind::kMalformedJson), "malformed_json");
  EXPECT_STREQ(ParseErrorKindName(ParseErrorKind::kWrongVersion), "wrong_version");
  EXPECT_STREQ(ParseErrorKindName(ParseErrorKind::kMissingField), "missing_field");
  EXPECT_STREQ(ParseErrorKindName(ParseErrorKind::kInvalidField), "invalid_field");
  EXPECT_STREQ(ParseErrorKindName(ParseErrorKind::kTooLarge), "too_large");
  EXPECT_STREQ(AlertStatusName(AlertStatus::kFiring), "firing");
  EXPECT_STREQ(AlertStatusName(AlertStatus::kResolved), "resolved");
}

// --- LabelsToJson / LabelsFromJson -------------------------------------------------------------

TEST(LabelsJsonTest, SortedCompact) {
  EXPECT_EQ(LabelsToJson({}), "{}");
  EXPECT_EQ(LabelsToJson({{"b", "2"}, {"a", "1"}}), R"({"a":"1","b":"2"})");
}

TEST(LabelsJsonTest, Escaping) {
  EXPECT_EQ(LabelsToJson({{"k", "a\"b\\c\nd\te\rf\x01g\x7f"}}), R"({"k":"a\"b\\c\nd\te\rf\u0001g)"
                                                                "\x7f"
                                                                R"("})");
  EXPECT_EQ(LabelsToJson({{"k", "東京 🚀 <&>"}}), R"({"k":"東京 🚀 <&>"})");
  // Bytes that are not UTF-8 cannot be JSON text: U+FFFD, as Go's encoder writes.
  EXPECT_EQ(LabelsToJson({{"k",
                           "a\xff"
                           "b\xc3"}}),
            R"({"k":"a\ufffdb\ufffd"})");
}

TEST(LabelsJsonTest, RoundTrip) {
  const LabelSet sets[] = {
      {},
      {{"alertname", "ServiceDown"}, {"service", "checkout"}},
      {{"", ""}, {"a", ""}, {"x y", "z"}},
      {{"k", std::string("a\0b\x1f\"\\/", 7)}},
      {{"résumé", "東京 🚀"}, {"😀", "\u2028"}},
  };
  for (const LabelSet& s : sets) {
    Result<LabelSet> back = LabelsFromJson(LabelsToJson(s));
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(*back, s) << LabelsToJson(s);
  }
}

TEST(LabelsJsonTest, FromJsonAcceptsAnyOrderAndWhitespace) {
  Result<LabelSet> r = LabelsFromJson(" { \"b\" : \"2\" ,\n\"a\":\"\\u0031\" } ");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (LabelSet{{"a", "1"}, {"b", "2"}}));
}

TEST(LabelsJsonTest, FromJsonErrors) {
  struct Case {
    std::string text;
    const char* message;
  };
  const Case cases[] = {
      {"[1]", "must be a JSON object, got array"},
      {R"({"a":1})", "[\"a\"]: must be a string, got number"},
      {R"({"a":"1","a":"2"})", "a: duplicate key"},
      {R"({"a":"1")",
       "malformed JSON at offset 8: syntax error while parsing object - unexpected end of "
       "input; expected '}'"},
      {std::string(1000, '['), "malformed JSON at offset 64: nesting deeper than 64"},
  };
  for (const Case& c : cases) {
    Result<LabelSet> r = LabelsFromJson(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.message) << c.text;
  }
}

}  // namespace
}  // namespace foresight::webhook
