#include "foresight/yaml/decoder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace foresight::yaml {
namespace {

using std::chrono::milliseconds;

YAML::Node Doc(const std::string& text) {
  Result<YAML::Node> node = ParseYaml(text, "x.yml");
  EXPECT_TRUE(node.ok()) << node.status().message();
  return node.ok() ? *node : YAML::Node();
}

// The field `key` of a map document, as FieldsOf would hand it out.
Field Get(const YAML::Node& map, const std::string& key) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.Scalar() == key) return Field{it->first, it->second};
  }
  ADD_FAILURE() << "no key " << key;
  return Field{};
}

std::string Message(const Status& s) {
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  return s.message();
}
template <typename T>
std::string Message(const Result<T>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : Message(r.status());
}

TEST(KindNameTest, NamesEveryKind) {
  YAML::Node doc = Doc("n:\ns: x\nl: [1]\nm: {a: 1}\n");
  EXPECT_STREQ(KindName(doc["n"]), "null");
  EXPECT_STREQ(KindName(doc["s"]), "a scalar");
  EXPECT_STREQ(KindName(doc["l"]), "a list");
  EXPECT_STREQ(KindName(doc["l"], /*sequence_as_list=*/false), "a sequence");
  EXPECT_STREQ(KindName(doc["m"]), "a map");
  EXPECT_STREQ(KindName(YAML::Node(YAML::NodeType::Undefined)), "nothing");
  EXPECT_STREQ(Decoder("x.yml").Kind(doc["l"]), "a list");
  EXPECT_STREQ(Decoder("x.yml", {.sequence_as_list = false}).Kind(doc["l"]), "a sequence");
}

TEST(StringsTest, QuoteAndJoin) {
  EXPECT_EQ(Quote("a b"), "\"a b\"");
  EXPECT_EQ(Quote(""), "\"\"");
  EXPECT_EQ(Join({}), "");
  EXPECT_EQ(Join({"a"}), "a");
  EXPECT_EQ(Join({"a", "b", "c"}), "a, b, c");
}

TEST(NamesTest, ValidNameAllowsDotsAndDashesAfterTheFirst) {
  EXPECT_TRUE(ValidName("a"));
  EXPECT_TRUE(ValidName("_x.y-z9"));
  EXPECT_FALSE(ValidName(""));
  EXPECT_FALSE(ValidName("9a"));
  EXPECT_FALSE(ValidName("-a"));
  EXPECT_FALSE(ValidName(".a"));
  EXPECT_FALSE(ValidName("a b"));
  EXPECT_FALSE(ValidName("a/b"));
}

TEST(NamesTest, ValidLabelNameIsPrometheus) {
  EXPECT_TRUE(ValidLabelName("a"));
  EXPECT_TRUE(ValidLabelName("_job_9"));
  EXPECT_FALSE(ValidLabelName(""));
  EXPECT_FALSE(ValidLabelName("9a"));
  EXPECT_FALSE(ValidLabelName("a.b"));
  EXPECT_FALSE(ValidLabelName("a-b"));
}

TEST(DecoderTest, WhereAndError) {
  Decoder d("x.yml");
  EXPECT_EQ(d.file(), "x.yml");
  EXPECT_EQ(d.Where(YAML::Mark::null_mark()), "x.yml:1:1");
  YAML::Node doc = Doc("a: 1\nbb:   two\n");
  EXPECT_EQ(d.Where(Get(doc, "bb").value.Mark()), "x.yml:2:7");
  EXPECT_EQ(Message(d.Error(YAML::Mark::null_mark(), "boom")), "x.yml:1:1: boom");
  EXPECT_EQ(Message(d.Error(Get(doc, "bb").key, "boom")), "x.yml:2:1: boom");
  EXPECT_EQ(Message(d.Error(Get(doc, "bb"), "boom")), "x.yml:2:7: boom");
}

TEST(DecoderTest, ErrorAboutANullValuePointsAtItsKey) {
  Decoder d("x.yml");
  // The null value's own mark is on the next line.
  YAML::Node doc = Doc("a:\n  \nb: 1\n");
  EXPECT_EQ(Message(d.Error(Get(doc, "a"), "boom")), "x.yml:1:1: boom");
}

TEST(DecoderTest, FieldsOf) {
  Decoder d("x.yml");
  const std::vector<std::string> allowed = {"name", "value"};
  Result<Fields> fields = d.FieldsOf(Doc("name: a\nvalue: 1\n"), "in thing", allowed);
  ASSERT_TRUE(fields.ok()) << fields.status().message();
  ASSERT_EQ(fields->size(), 2u);
  EXPECT_EQ(fields->at("name").value.Scalar(), "a");
  EXPECT_EQ(fields->at("value").key.Mark().line, 1);
  EXPECT_TRUE(d.FieldsOf(Doc("{}"), "in thing", allowed)->empty());

  EXPECT_EQ(Message(d.FieldsOf(Doc("name: a\n[x]: 1\n"), "in thing", allowed)),
            "x.yml:2:1: keys must be strings, got a list in thing");
  EXPECT_EQ(Message(d.FieldsOf(Doc("name: a\n  \nvalu: 1\n"), "in thing", allowed)),
            "x.yml:3:1: unknown key \"valu\" in thing (allowed: name, value)");
  EXPECT_EQ(Message(d.FieldsOf(Doc("name: a\nname: b\n"), "at the top level", allowed)),
            "x.yml:2:1: duplicate key \"name\" at the top level");
}

TEST(DecoderTest, String) {
  Decoder d("x.yml");
  YAML::Node doc = Doc("s: hello\ne: ''\nm: {a: 1}\nn:\n");
  EXPECT_EQ(*d.String(Get(doc, "s"), "s"), "hello");
  EXPECT_EQ(*d.String(Get(doc, "e"), "e"), "");
  EXPECT_EQ(Message(d.String(Get(doc, "m"), "job: s")),
            "x.yml:3:4: job: s must be a string, got a map");
  EXPECT_EQ(Message(d.String(Get(doc, "n"), "job: s")),
            "x.yml:4:1: job: s must be a string, got null");
}

TEST(DecoderTest, NonEmptyString) {
  Decoder d("x.yml");
  YAML::Node doc = Doc("s: hello\ne: \"\"\nl: [a]\n");
  EXPECT_EQ(*d.NonEmptyString(Get(doc, "s"), "s"), "hello");
  EXPECT_EQ(Message(d.NonEmptyString(Get(doc, "e"), "url")), "x.yml:2:4: url must not be empty");
  EXPECT_EQ(Message(d.NonEmptyString(Get(doc, "l"), "url")),
            "x.yml:3:4: url must be a string, got a list");
}

TEST(DecoderTest, Name) {
  Decoder d("x.yml");
  YAML::Node doc = Doc("a: node.cpu-1\nb: 1abc\nc: [x]\n");
  EXPECT_EQ(*d.Name(Get(doc, "a"), "name"), "node.cpu-1");
  EXPECT_EQ(Message(d.Name(Get(doc, "b"), "source #1: name")),
            "x.yml:2:4: source #1: name \"1abc\" must match [a-zA-Z_][a-zA-Z0-9_.-]*");
  EXPECT_EQ(Message(d.Name(Get(doc, "c"), "name")), "x.yml:3:4: name must be a string, got a list");
}

TEST(DecoderTest, Duration) {
  Decoder d("x.yml");
  YAML::Node doc = Doc("a: 1h30m\nb: 5x\nc: [1m]\nd:\nz: 0\n");
  EXPECT_EQ(*d.Duration(Get(doc, "a"), "step"), milliseconds(5400000));
  EXPECT_EQ(*d.Duration(Get(doc, "z"), "step"), milliseconds(0));
  EXPECT_EQ(*d.Duration(Get(doc, "a").value, YAML::Mark::null_mark(), "step"),
            milliseconds(5400000));
  EXPECT_EQ(Message(d.Duration(Get(doc, "b"), "job: step")),
            "x.yml:2:4: job: step: bad duration \"5x\": unknown unit \"x\" at offset 1 (expected "
            "one of y, w, d, h, m, s, ms)");
  EXPECT_EQ(Message(d.Duration(Get(doc, "c"), "job: step")),
            "x.yml:3:4: job: step must be a duration such as 5m, got a list");
  // A null value is reported at the mark the caller gives: the key for Duration(Field).
  EXPECT_EQ(Message(d.Duration(Get(doc, "d"), "job: step")),
            "x.yml:4:1: job: step must be a duration such as 5m, got null");
  EXPECT_EQ(Message(d.Duration(Get(doc, "d").value, Get(doc, "c").key.Mark(), "job: step")),
            "x.yml:3:1: job: step must be a duration such as 5m, got null");
  // A list item is reported where it stands.
  YAML::Node item = Get(doc, "c").value[0];
  EXPECT_EQ(*d.Duration(item, item.Mark(), "horizon"), milliseconds(60000));
}

TEST(DecoderTest, PositiveDuration) {
  Decoder d("x.yml");
  YAML::Node doc = Doc("a: 5m\nz: 0s\nb: 5\nm: {}\n");
  EXPECT_EQ(*d.PositiveDuration(Get(doc, "a"), "refresh"), milliseconds(300000));
  EXPECT_EQ(Message(d.PositiveDuration(Get(doc, "z"), "refresh")),
            "x.yml:2:4: refresh must be greater than 0");
  EXPECT_EQ(Message(d.PositiveDuration(Get(doc, "b"), "refresh")),
            "x.yml:3:4: refresh: bad duration \"5\": unknown unit \"\" at offset 1 (expected one "
            "of y, w, d, h, m, s, ms)");
  EXPECT_EQ(Message(d.PositiveDuration(Get(doc, "m"), "refresh")),
            "x.yml:4:4: refresh must be a duration such as 5m, got a map");
}

TEST(DecoderTest, Double) {
  Decoder d("x.yml");
  YAML::Node doc = Doc("a: 0.5\nb: -1e3\nc: abc\nd: 1.5x\ne: inf\nf: .nan\ng: [1]\nh:\ni: ''\n");
  auto value = [&](const char* key) { return Get(doc, key).value; };
  auto key_mark = [&](const char* key) { return Get(doc, key).key.Mark(); };
  EXPECT_EQ(*d.Double(value("a"), key_mark("a"), "value"), 0.5);
  EXPECT_EQ(*d.Double(value("b"), key_mark("b"), "value"), -1000);
  EXPECT_EQ(Message(d.Double(value("c"), key_mark("c"), "t: value")),
            "x.yml:3:4: t: value must be a finite number, got \"abc\"");
  EXPECT_EQ(Message(d.Double(value("d"), key_mark("d"), "t: value")),
            "x.yml:4:4: t: value must be a finite number, got \"1.5x\"");
  EXPECT_EQ(Message(d.Double(value("e"), key_mark("e"), "t: value")),
            "x.yml:5:4: t: value must be a finite number, got \"inf\"");
  EXPECT_EQ(Message(d.Double(value("f"), key_mark("f"), "t: value")),
            "x.yml:6:4: t: value must be a finite number, got \".nan\"");
  EXPECT_EQ(Message(d.Double(value("g"), key_mark("g"), "t: value")),
            "x.yml:7:4: t: value must be a number, got a list");
  EXPECT_EQ(Message(d.Double(value("h"), key_mark("h"), "t: value")),
            "x.yml:8:1: t: value must be a number, got null");
  EXPECT_EQ(Message(d.Double(value("i"), key_mark("i"), "t: value")),
            "x.yml:9:4: t: value must be a finite number, got \"\"");
}

TEST(DecoderTest, PositiveInt) {
  Decoder d("x.yml");
  YAML::Node doc = Doc("a: 42\nb: 0\nc: -3\nd: 1.5\ne: 99999999999999999999\nf: {}\ng:\n");
  EXPECT_EQ(*d.PositiveInt(Get(doc, "a"), "max_series"), 42);
  EXPECT_EQ(Message(d.PositiveInt(Get(doc, "b"), "max_series")),
            "x.yml:2:4: max_series must be a positive integer, got \"0\"");
  EXPECT_EQ(Message(d.PositiveInt(Get(doc, "c"), "max_series")),
            "x.yml:3:4: max_series must be a positive integer, got \"-3\"");
  EXPECT_EQ(Message(d.PositiveInt(Get(doc, "d"), "max_series")),
            "x.yml:4:4: max_series must be a positive integer, got \"1.5\"");
  EXPECT_EQ(Message(d.PositiveInt(Get(doc, "e"), "max_series")),
            "x.yml:5:4: max_series must be a positive integer, got \"99999999999999999999\"");
  EXPECT_EQ(Message(d.PositiveInt(Get(doc, "f"), "max_series")),
            "x.yml:6:4: max_series must be a positive integer, got a map");
  EXPECT_EQ(Message(d.PositiveInt(Get(doc, "g"), "max_series")),
            "x.yml:7:1: max_series must be a positive integer, got null");
}

TEST(DecoderTest, BoolIsYaml12) {
  Decoder d("x.yml");
  YAML::Node doc =
      Doc("t1: true\nt2: True\nt3: TRUE\nf1: false\nf2: False\nf3: FALSE\n"
          "y: yes\no: on\nl: [true]\nn:\n");
  for (const char* key : {"t1", "t2", "t3"}) EXPECT_TRUE(*d.Bool(Get(doc, key), key)) << key;
  for (const char* key : {"f1", "f2", "f3"}) EXPECT_FALSE(*d.Bool(Get(doc, key), key)) << key;
  EXPECT_EQ(Message(d.Bool(Get(doc, "y"), "tls: insecure_skip_verify")),
            "x.yml:7:4: tls: insecure_skip_verify must be true or false, got \"yes\"");
  EXPECT_EQ(Message(d.Bool(Get(doc, "o"), "flag")),
            "x.yml:8:4: flag must be true or false, got \"on\"");
  EXPECT_EQ(Message(d.Bool(Get(doc, "l"), "flag")),
            "x.yml:9:4: flag must be true or false, got a list");
  EXPECT_EQ(Message(d.Bool(Get(doc, "n"), "flag")),
            "x.yml:10:1: flag must be true or false, got null");
}

TEST(DecoderTest, List) {
  YAML::Node doc = Doc("l: [1, 2]\ne: []\ns: 1\nn:\n");
  Decoder d("x.yml");
  EXPECT_TRUE(d.List(Get(doc, "l"), "horizons", "durations").ok());
  EXPECT_TRUE(d.List(Get(doc, "e"), "horizons", "durations").ok());
  EXPECT_EQ(Message(d.List(Get(doc, "s"), "j: horizons", "durations such as [15m, 1h]")),
            "x.yml:3:4: j: horizons must be a list of durations such as [15m, 1h], got a scalar");
  EXPECT_EQ(Message(d.List(Get(doc, "n"), "j: horizons", "durations")),
            "x.yml:4:1: j: horizons must be a list of durations, got null");
  Decoder old("x.yml", {.sequence_as_list = false});
  EXPECT_EQ(Message(old.List(Get(Doc("m: {}\n"), "m"), "events", "events")),
            "x.yml:1:4: events must be a list of events, got a map");
}

TEST(DecoderTest, StringMap) {
  Decoder d("x.yml");
  YAML::Node doc =
      Doc("good: {team: db, tier: '1'}\n"
          "empty: {}\n"
          "list: [a]\n"
          "badkey: {ok: 1, 9x: 2}\n"
          "dotted: {a.b: 1}\n"
          "nested: {k: {a: 1}}\n"
          "listkey: {[a]: 1}\n"
          "dup: {k: 1, k: 2}\n"
          "nullval: {k: }\n"
          "anykey: {9 x: y}\n"
          "nil:\n");
  auto good = d.StringMap(Get(doc, "good"), "labels", &ValidLabelName, "label name");
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(*good, (std::map<std::string, std::string>{{"team", "db"}, {"tier", "1"}}));
  EXPECT_TRUE(d.StringMap(Get(doc, "empty"), "labels")->empty());
  EXPECT_EQ(d.StringMap(Get(doc, "anykey"), "labels")->at("9 x"), "y");
  EXPECT_EQ(d.StringMap(Get(doc, "dotted"), "names", &ValidName)->at("a.b"), "1");

  EXPECT_EQ(Message(d.StringMap(Get(doc, "list"), "labels")),
            "x.yml:3:7: labels must be a map of strings, got a list");
  EXPECT_EQ(Message(d.StringMap(Get(doc, "nil"), "labels")),
            "x.yml:11:1: labels must be a map of strings, got null");
  EXPECT_EQ(Message(d.StringMap(Get(doc, "badkey"), "labels", &ValidLabelName, "label name")),
            "x.yml:4:17: labels: label name \"9x\" must match [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(Message(d.StringMap(Get(doc, "dotted"), "labels", &ValidLabelName, "label name")),
            "x.yml:5:10: labels: label name \"a.b\" must match [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(Message(d.StringMap(Get(doc, "badkey"), "names", &ValidName)),
            "x.yml:4:17: names: key \"9x\" must match [a-zA-Z_][a-zA-Z0-9_.-]*");
  auto no_digits = [](std::string_view s) { return s.find_first_of("0123456789") == s.npos; };
  EXPECT_EQ(Message(d.StringMap(Get(doc, "badkey"), "tags", +no_digits, "tag")),
            "x.yml:4:17: tags: tag \"9x\" is not valid");
  EXPECT_EQ(Message(d.StringMap(Get(doc, "nested"), "labels")),
            "x.yml:6:13: labels[\"k\"] must be a string, got a map");
  EXPECT_EQ(Message(d.StringMap(Get(doc, "listkey"), "labels", &ValidLabelName, "label name")),
            "x.yml:7:11: labels: label name must be a string, got a list");
  EXPECT_EQ(Message(d.StringMap(Get(doc, "dup"), "labels", &ValidLabelName, "label name")),
            "x.yml:8:13: labels: duplicate label name \"k\"");
  EXPECT_EQ(Message(d.StringMap(Get(doc, "nullval"), "labels")),
            "x.yml:9:11: labels[\"k\"] must be a string, got null");
}

TEST(DecoderTest, StringList) {
  Decoder d("x.yml");
  YAML::Node doc = Doc("l: [a, 'b c', 3]\ne: []\nm: [a, b, {c: 1}]\ns: a\n");
  EXPECT_EQ(*d.StringList(Get(doc, "l"), "receivers"), (std::vector<std::string>{"a", "b c", "3"}));
  EXPECT_TRUE(d.StringList(Get(doc, "e"), "receivers")->empty());
  EXPECT_EQ(Message(d.StringList(Get(doc, "m"), "receivers")),
            "x.yml:3:11: receivers[2] must be a string, got a map");
  EXPECT_EQ(Message(d.StringList(Get(doc, "s"), "receivers")),
            "x.yml:4:4: receivers must be a list of strings, got a scalar");
  Decoder old("x.yml", {.sequence_as_list = false});
  EXPECT_EQ(Message(old.StringList(Get(Doc("m: [[a]]\n"), "m"), "receivers")),
            "x.yml:1:5: receivers[0] must be a string, got a sequence");
}

TEST(DecoderTest, Unique) {
  Decoder d("x.yml");
  YAML::Node doc = Doc("- name: a\n- name: b\n- name: a\n");
  std::map<std::string, YAML::Mark> seen;
  EXPECT_TRUE(d.Unique(Get(doc[0], "name"), "forecast", "a", &seen).ok());
  EXPECT_TRUE(d.Unique(Get(doc[1], "name"), "forecast", "b", &seen).ok());
  EXPECT_EQ(Message(d.Unique(Get(doc[2], "name"), "forecast", "a", &seen)),
            "x.yml:3:9: duplicate forecast name \"a\" (first at line 1)");
}

TEST(DecoderTest, Label) {
  YAML::Node doc = Doc("- {name: web.1}\n- {name: 'bad name'}\n- {name: [x]}\n- plain\n- {}\n");
  EXPECT_EQ(Decoder::Label(doc[0], "source", 1), "source \"web.1\"");
  EXPECT_EQ(Decoder::Label(doc[1], "source", 2), "source #2");
  EXPECT_EQ(Decoder::Label(doc[2], "source", 3), "source #3");
  EXPECT_EQ(Decoder::Label(doc[3], "source", 4), "source #4");
  EXPECT_EQ(Decoder::Label(doc[4], "source", 5), "source #5");
}

TEST(ParseYamlTest, ParsesDocuments) {
  Result<YAML::Node> node = ParseYaml("a: [1, 2]\n", "x.yml");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((*node)["a"].size(), 2u);
  Result<YAML::Node> empty = ParseYaml("", "x.yml");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->IsNull());
}

TEST(ParseYamlTest, SyntaxErrorsNameFileLineAndColumn) {
  // yaml-cpp's own words (0.7), behind our prefix.
  EXPECT_EQ(Message(ParseYaml("a: 1\nb: [1, 2\n", "x.yml")),
            "x.yml:3:1: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(Message(ParseYaml("a: &x 1\nb: *y\n", "x.yml")),
            "x.yml:2:4: invalid YAML: the referenced anchor is not defined");
  EXPECT_EQ(Message(ParseYaml("a: 1\nb: [1, 2\n", "cal.yaml", "YAML syntax error: ")),
            "cal.yaml:3:1: YAML syntax error: end of sequence flow not found");
}

TEST(DecoderTest, NonEmptyList) {
  YAML::Node doc = Doc("l: [1]\ne: []\ns: 1\n");
  Decoder d("x.yml");
  EXPECT_TRUE(d.NonEmptyList(Get(doc, "l"), "playbooks", "playbooks").ok());
  EXPECT_EQ(Message(d.NonEmptyList(Get(doc, "e"), "p: steps", "steps")),
            "x.yml:2:4: p: steps must be a non-empty list of steps, got an empty list");
  EXPECT_EQ(Message(d.NonEmptyList(Get(doc, "s"), "sources", "sources")),
            "x.yml:3:4: sources must be a non-empty list of sources, got a scalar");
}

TEST(ResolvePathTest, RelativeToTheConfigDirectory) {
  EXPECT_EQ(ResolvePath("/etc/foresight", "secrets/token"), "/etc/foresight/secrets/token");
  EXPECT_EQ(ResolvePath("/etc/foresight", "/var/lib/j.db"), "/var/lib/j.db");
  EXPECT_EQ(ResolvePath("", "secrets/token"), "secrets/token");
  EXPECT_EQ(ResolvePath("/etc/foresight", ""), "");
}

}  // namespace
}  // namespace foresight::yaml
