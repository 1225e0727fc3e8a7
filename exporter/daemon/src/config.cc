#include "foresight/exporter/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "foresight/common/text.h"
#include "foresight/common/timeparse.h"
#include "foresight/forecast/registry.h"
#include "foresight/remote_read/selector.h"
#include "foresight/yaml/decoder.h"

namespace foresight::exporter {
namespace {

using std::chrono::milliseconds;
using yaml::Field;
using yaml::Fields;
using yaml::Join;
using yaml::KindName;
using yaml::Quote;
using yaml::ValidLabelName;

using yaml::ResolvePath;

// Decodes one config document; every error carries "file:line:column: ".
class Decoder : public yaml::Decoder {
 public:
  Decoder(std::string_view file, std::string base_dir)
      : yaml::Decoder(file), base_dir_(std::move(base_dir)) {}

  Result<Config> Document(const YAML::Node& root) const {
    if (!root.IsDefined() || root.IsNull()) {
      return Error(YAML::Mark::null_mark(),
                   "empty config: want a map with the keys \"sources\" and \"forecasts\"");
    }
    if (!root.IsMap()) {
      return Error(root, std::string("the top level must be a map with the keys \"sources\" and "
                                     "\"forecasts\", got ") +
                             KindName(root));
    }
    static const std::vector<std::string> kKeys = {"sources", "forecasts"};
    Result<Fields> fields = FieldsOf(root, "at the top level", kKeys);
    if (!fields.ok()) return fields.status();
    Config config;
    if (fields->count("sources") == 0) {
      return Error(root, "missing required key \"sources\" at the top level");
    }
    const Field& sources = fields->at("sources");
    FORESIGHT_RETURN_IF_ERROR(NonEmptyList(sources, "sources", "sources"));
    std::map<std::string, YAML::Mark> source_names;
    int index = 0;
    for (const YAML::Node& item : sources.value) {
      ++index;
      Result<SourceConfig> source = Source(item, index, &source_names);
      if (!source.ok()) return source.status();
      config.sources.push_back(std::move(*source));
    }

    if (fields->count("forecasts") == 0) {
      return Error(root, "missing required key \"forecasts\" at the top level");
    }
    const Field& forecasts = fields->at("forecasts");
    FORESIGHT_RETURN_IF_ERROR(NonEmptyList(forecasts, "forecasts", "forecast jobs"));
    std::map<std::string, YAML::Mark> job_names;
    index = 0;
    for (const YAML::Node& item : forecasts.value) {
      ++index;
      Result<ForecastJobConfig> job = Job(item, index, config, &job_names);
      if (!job.ok()) return job.status();
      config.forecasts.push_back(std::move(*job));
    }
    return config;
  }

 private:
  // ---- sources ----

  Result<SourceConfig> Source(const YAML::Node& item, int index,
                              std::map<std::string, YAML::Mark>* names) const {
    const std::string label = Label(item, "source", index);
    if (!item.IsMap()) return Error(item, label + " must be a map, got " + KindName(item));
    static const std::vector<std::string> kKeys = {
        "name", "remote_read_url", "basic_auth", "bearer_token", "bearer_token_file",
        "tls",  "timeout",         "headers"};
    Result<Fields> fields = FieldsOf(item, "in " + label, kKeys);
    if (!fields.ok()) return fields.status();
    auto field = [&](const char* key) -> const Field* {
      auto it = fields->find(key);
      return it == fields->end() ? nullptr : &it->second;
    };
    for (const char* key : {"name", "remote_read_url"}) {
      if (!field(key)) {
        return Error(item, label + ": missing required key " + Quote(key));
      }
    }

    SourceConfig source;
    Result<std::string> name = Name(*field("name"), label + ": name");
    if (!name.ok()) return name.status();
    FORESIGHT_RETURN_IF_ERROR(Unique(*field("name"), "source", *name, names));
    source.name = *name;

    const Field& url_field = *field("remote_read_url");
    Result<std::string> url = NonEmptyString(url_field, label + ": remote_read_url");
    if (!url.ok()) return url.status();
    size_t scheme = url->starts_with("http://") ? 7 : url->starts_with("https://") ? 8 : 0;
    if (scheme == 0 || url->size() == scheme ||
        url->find_first_of(" \t\r\n") != std::string::npos) {
      return Error(url_field, label + ": remote_read_url " + Quote(*url) +
                                  " must be an http:// or https:// URL such as "
                                  "http://127.0.0.1:9090/api/v1/read");
    }
    source.remote_read_url = *url;

    if (const Field* f = field("basic_auth")) {
      Result<remote_read::BasicAuth> auth = BasicAuth(*f, label);
      if (!auth.ok()) return auth.status();
      source.basic_auth = std::move(*auth);
    }
    if (const Field* f = field("bearer_token")) {
      Result<std::string> s = NonEmptyString(*f, label + ": bearer_token");
      if (!s.ok()) return s.status();
      source.bearer_token = *s;
    }
    if (const Field* f = field("bearer_token_file")) {
      Result<std::string> s = NonEmptyString(*f, label + ": bearer_token_file");
      if (!s.ok()) return s.status();
      if (field("bearer_token")) {
        return Error(f->key, label + ": bearer_token and bearer_token_file exclude each other");
      }
      source.bearer_token_file = ResolvePath(base_dir_, *s);
    }
    if (source.basic_auth && (field("bearer_token") || field("bearer_token_file"))) {
      const Field* f = field("bearer_token") ? field("bearer_token") : field("bearer_token_file");
      return Error(f->key, label + ": basic_auth and a bearer token exclude each other");
    }
    if (const Field* f = field("tls")) {
      Result<remote_read::TlsOptions> tls = Tls(*f, label);
      if (!tls.ok()) return tls.status();
      source.tls = std::move(*tls);
    }
    if (const Field* f = field("timeout")) {
      Result<milliseconds> d = PositiveDuration(*f, label + ": timeout");
      if (!d.ok()) return d.status();
      source.timeout = *d;
    }
    if (const Field* f = field("headers")) {
      FORESIGHT_RETURN_IF_ERROR(Headers(*f, label, &source.headers));
    }
    return source;
  }

  Result<remote_read::BasicAuth> BasicAuth(const Field& f, const std::string& label) const {
    const std::string where = label + " basic_auth";
    if (!f.value.IsMap()) {
      return Error(f, label +
                          ": basic_auth must be a map with username and password or "
                          "password_file, got " +
                          KindName(f.value));
    }
    static const std::vector<std::string> kKeys = {"username", "password", "password_file"};
    Result<Fields> fields = FieldsOf(f.value, "in " + where, kKeys);
    if (!fields.ok()) return fields.status();
    auto it = fields->find("username");
    if (it == fields->end()) return Error(f.value, where + ": missing required key \"username\"");
    remote_read::BasicAuth auth;
    Result<std::string> user = NonEmptyString(it->second, where + ": username");
    if (!user.ok()) return user.status();
    auth.username = *user;
    auto pw = fields->find("password");
    auto pw_file = fields->find("password_file");
    if (pw != fields->end()) {
      Result<std::string> s = String(pw->second, where + ": password");
      if (!s.ok()) return s.status();
      auth.password = *s;
    }
    if (pw_file != fields->end()) {
      Result<std::string> s = NonEmptyString(pw_file->second, where + ": password_file");
      if (!s.ok()) return s.status();
      if (pw != fields->end()) {
        return Error(pw_file->second.key,
                     where + ": password and password_file exclude each other");
      }
      auth.password_file = ResolvePath(base_dir_, *s);
    }
    return auth;
  }

  Result<remote_read::TlsOptions> Tls(const Field& f, const std::string& label) const {
    const std::string where = label + " tls";
    if (!f.value.IsMap()) {
      return Error(f, label + ": tls must be a map, got " + KindName(f.value));
    }
    static const std::vector<std::string> kKeys = {"ca_file", "cert_file", "key_file",
                                                   "server_name", "insecure_skip_verify"};
    Result<Fields> fields = FieldsOf(f.value, "in " + where, kKeys);
    if (!fields.ok()) return fields.status();
    remote_read::TlsOptions tls;
    for (auto& [key, field] : *fields) {
      if (key == "insecure_skip_verify") {
        Result<bool> b = Bool(field, where + ": insecure_skip_verify");
        if (!b.ok()) return b.status();
        tls.insecure_skip_verify = *b;
        continue;
      }
      Result<std::string> s = NonEmptyString(field, where + ": " + key);
      if (!s.ok()) return s.status();
      if (key == "ca_file") tls.ca_file = ResolvePath(base_dir_, *s);
      if (key == "cert_file") tls.cert_file = ResolvePath(base_dir_, *s);
      if (key == "key_file") tls.key_file = ResolvePath(base_dir_, *s);
      if (key == "server_name") tls.server_name = *s;
    }
    if (tls.cert_file.empty() != tls.key_file.empty()) {
      const Field& given =
          fields->count("cert_file") ? fields->at("cert_file") : fields->at("key_file");
      return Error(given.key, where + ": cert_file and key_file must be given together");
    }
    return tls;
  }

  Status Headers(const Field& f, const std::string& label,
                 std::map<std::string, std::string>* out) const {
    if (!f.value.IsMap()) {
      return Error(
          f, label + ": headers must be a map of header names to values, got " + KindName(f.value));
    }
    static const std::set<std::string> kReserved = {
        "authorization",   "content-type", "content-encoding",
        "accept-encoding", "user-agent",   "x-prometheus-remote-read-version"};
    std::map<std::string, YAML::Mark> seen;  // lower-cased: header names are case-insensitive
    for (auto it = f.value.begin(); it != f.value.end(); ++it) {
      if (!it->first.IsScalar() || !ValidHttpHeaderName(it->first.Scalar())) {
        return Error(it->first, label + ": header name " +
                                    (it->first.IsScalar() ? Quote(it->first.Scalar())
                                                          : std::string(KindName(it->first))) +
                                    " must be an HTTP token such as X-Scope-OrgID");
      }
      const std::string& name = it->first.Scalar();
      std::string lower = AsciiLower(name);
      if (kReserved.count(lower) > 0) {
        return Error(it->first, label + ": header " + Quote(name) +
                                    " is set by the client and cannot be configured");
      }
      if (!seen.emplace(lower, it->first.Mark()).second) {
        return Error(it->first, label + ": duplicate header " + Quote(name));
      }
      Field value{it->first, it->second};
      Result<std::string> v = String(value, label + ": header " + Quote(name));
      if (!v.ok()) return v.status();
      if (v->find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
        return Error(value,
                     label + ": header " + Quote(name) + " must not contain line breaks or NUL");
      }
      out->emplace(name, *v);
    }
    return Status::Ok();
  }

  // ---- forecast jobs ----

  Result<ForecastJobConfig> Job(const YAML::Node& item, int index, const Config& config,
                                std::map<std::string, YAML::Mark>* names) const {
    const std::string label = Label(item, "forecast", index);
    if (!item.IsMap()) return Error(item, label + " must be a map, got " + KindName(item));
    static const std::vector<std::string> kKeys = {
        "name",     "source",   "selector",   "transform",      "aggregate", "step",
        "lookback", "horizons", "confidence", "seasonality",    "models",    "thresholds",
        "refresh",  "calendar", "max_series", "value_transform", "vanish_after",
        "step_aggregation"};
    Result<Fields> fields = FieldsOf(item, "in " + label, kKeys);
    if (!fields.ok()) return fields.status();
    auto field = [&](const char* key) -> const Field* {
      auto it = fields->find(key);
      return it == fields->end() ? nullptr : &it->second;
    };
    for (const char* key : {"name", "source", "selector"}) {
      if (!field(key)) return Error(item, label + ": missing required key " + Quote(key));
    }

    ForecastJobConfig job;
    Result<std::string> name = Name(*field("name"), label + ": name");
    if (!name.ok()) return name.status();
    FORESIGHT_RETURN_IF_ERROR(Unique(*field("name"), "forecast", *name, names));
    job.name = *name;

    const Field& source_field = *field("source");
    Result<std::string> source = String(source_field, label + ": source");
    if (!source.ok()) return source.status();
    if (config.FindSource(*source) == nullptr) {
      std::vector<std::string> known;
      for (const SourceConfig& s : config.sources) known.push_back(s.name);
      return Error(source_field, label + ": unknown source " + Quote(*source) +
                                     " (sources: " + Join(known) + ")");
    }
    job.source = *source;

    const Field& selector_field = *field("selector");
    Result<std::string> selector = NonEmptyString(selector_field, label + ": selector");
    if (!selector.ok()) return selector.status();
    Result<std::vector<remote_read::Matcher>> matchers = remote_read::ParseSelector(*selector);
    if (!matchers.ok()) {
      return Error(selector_field, label + ": selector: " + matchers.status().message());
    }
    job.selector = *selector;
    job.matchers = std::move(*matchers);

    if (const Field* f = field("transform")) {
      Result<std::string> s = String(*f, label + ": transform");
      if (!s.ok()) return s.status();
      if (*s == "none") {
        job.transform = SeriesTransform::kNone;
      } else if (*s == "rate") {
        job.transform = SeriesTransform::kRate;
      } else if (*s == "increase") {
        job.transform = SeriesTransform::kIncrease;
      } else {
        return Error(*f, label + ": transform " + Quote(*s) + " must be none, rate or increase");
      }
    }
    if (const Field* f = field("step_aggregation")) {
      Result<std::string> s = String(*f, label + ": step_aggregation");
      if (!s.ok()) return s.status();
      if (*s == "last") {
        job.step_aggregation = forecast::Aggregation::kLast;
      } else if (*s == "mean") {
        job.step_aggregation = forecast::Aggregation::kMean;
      } else if (*s == "max") {
        job.step_aggregation = forecast::Aggregation::kMax;
      } else if (*s == "min") {
        job.step_aggregation = forecast::Aggregation::kMin;
      } else if (*s == "sum") {
        job.step_aggregation = forecast::Aggregation::kSum;
      } else {
        return Error(*f, label + ": step_aggregation " + Quote(*s) +
                             " must be last, mean, max, min or sum");
      }
      if (job.transform != SeriesTransform::kNone) {
        return Error(*f, label + ": step_aggregation applies to transform none only (rate and "
                                 "increase use every sample of the step)");
      }
    }
    if (const Field* f = field("value_transform")) {
      Result<std::string> s = String(*f, label + ": value_transform");
      if (!s.ok()) return s.status();
      if (*s == "none") {
        job.value_transform = forecast::ValueTransform::kNone;
      } else if (*s == "log") {
        job.value_transform = forecast::ValueTransform::kLog;
      } else if (*s == "boxcox") {
        job.value_transform = forecast::ValueTransform::kBoxCox;
      } else {
        return Error(*f, label + ": value_transform " + Quote(*s) + " must be none, log or boxcox");
      }
    }
    if (const Field* f = field("aggregate")) {
      Result<std::string> s = String(*f, label + ": aggregate");
      if (!s.ok()) return s.status();
      Result<AggregateConfig> agg = Aggregate(*s);
      if (!agg.ok()) return Error(*f, label + ": " + agg.status().message());
      job.aggregate = std::move(*agg);
    }
    if (const Field* f = field("step")) {
      Result<milliseconds> d = PositiveDuration(*f, label + ": step");
      if (!d.ok()) return d.status();
      job.step = *d;
    }
    if (const Field* f = field("lookback")) {
      Result<milliseconds> d = PositiveDuration(*f, label + ": lookback");
      if (!d.ok()) return d.status();
      job.lookback = *d;
    }
    if (const Field* f = field("refresh")) {
      Result<milliseconds> d = PositiveDuration(*f, label + ": refresh");
      if (!d.ok()) return d.status();
      job.refresh = *d;
    }
    if (const Field* f = field("vanish_after")) {
      Result<milliseconds> d = PositiveDuration(*f, label + ": vanish_after");
      if (!d.ok()) return d.status();
      job.vanish_after = *d;
    }
    if (const Field* f = field("max_series")) {
      Result<int64_t> n = PositiveInt(*f, label + ": max_series");
      if (!n.ok()) return n.status();
      job.max_series = *n;
    }

    // Where to point when a default conflicts with a configured value.
    const YAML::Mark job_mark = item.Mark();
    auto mark_of = [&](const char* key) {
      const Field* f = field(key);
      return f ? f->key.Mark() : job_mark;
    };
    // Durations as the user wrote them: FormatDuration would turn 30d into 4w2d.
    auto text_of = [&](const char* key, milliseconds value) {
      const Field* f = field(key);
      return f ? f->value.Scalar() : FormatDuration(value);
    };
    const std::string step_text = text_of("step", job.step);
    const std::string lookback_text = text_of("lookback", job.lookback);
    if (job.lookback < 2 * job.step) {
      return Error(field("lookback") ? mark_of("lookback") : mark_of("step"),
                   label + ": lookback " + lookback_text + " must be at least two steps (step " +
                       step_text + ")");
    }

    if (!field("vanish_after")) job.vanish_after = std::max(job.vanish_after, 2 * job.step);
    if (job.vanish_after < job.step) {
      return Error(field("vanish_after") ? mark_of("vanish_after") : mark_of("step"),
                   label + ": vanish_after " + text_of("vanish_after", job.vanish_after) +
                       " must be at least one step (step " + step_text + ")");
    }

    if (const Field* f = field("horizons")) {
      FORESIGHT_RETURN_IF_ERROR(List(*f, label + ": horizons", "durations such as [15m, 1h]"));
      if (f->value.size() == 0) return Error(*f, label + ": horizons must not be empty");
      job.horizons.clear();
      for (const YAML::Node& h : f->value) {
        Result<milliseconds> d = Duration(h, h.Mark(), label + ": horizon");
        if (!d.ok()) return d.status();
        const std::string& text = h.Scalar();
        if (d->count() <= 0)
          return Error(h, label + ": horizon " + text + " must be greater than 0");
        if (d->count() % job.step.count() != 0) {
          return Error(
              h, label + ": horizon " + text + " must be a whole multiple of step " + step_text);
        }
        if (*d > job.lookback) {
          return Error(h,
                       label + ": horizon " + text + " is longer than lookback " + lookback_text);
        }
        if (std::find(job.horizons.begin(), job.horizons.end(), *d) != job.horizons.end()) {
          return Error(h, label + ": horizon " + text + " is listed twice");
        }
        job.horizons.push_back(*d);
      }
    } else {
      for (milliseconds d : job.horizons) {
        const std::string text = FormatDuration(d);
        if (d.count() % job.step.count() != 0) {
          return Error(mark_of("step"), label + ": the default horizon " + text +
                                            " is not a whole multiple of step " + step_text +
                                            "; set horizons");
        }
        if (d > job.lookback) {
          return Error(mark_of("lookback"), label + ": the default horizon " + text +
                                                " is longer than lookback " + lookback_text +
                                                "; set horizons");
        }
      }
    }

    if (const Field* f = field("confidence")) {
      FORESIGHT_RETURN_IF_ERROR(List(*f, label + ": confidence", "numbers in (0, 1)"));
      if (f->value.size() == 0) return Error(*f, label + ": confidence must not be empty");
      job.confidence.clear();
      for (const YAML::Node& c : f->value) {
        Result<double> v = Double(c, c.Mark(), label + ": confidence");
        if (!v.ok()) return v.status();
        if (!(*v > 0 && *v < 1)) {
          return Error(c, label + ": confidence " + c.Scalar() +
                              " must be between 0 and 1 (exclusive), e.g. 0.95");
        }
        if (std::find(job.confidence.begin(), job.confidence.end(), *v) != job.confidence.end()) {
          return Error(c, label + ": confidence " + c.Scalar() + " is listed twice");
        }
        job.confidence.push_back(*v);
      }
    }

    if (const Field* f = field("seasonality")) {
      const std::string what = label + ": seasonality";
      if (f->value.IsScalar() && f->value.Scalar() == "auto") {
        job.seasonality_auto = true;
      } else if (f->value.IsSequence()) {
        job.seasonality_auto = false;
        for (const YAML::Node& s : f->value) {
          Result<milliseconds> d = Duration(s, s.Mark(), label + ": season");
          if (!d.ok()) return d.status();
          const std::string& text = s.Scalar();
          if (d->count() % job.step.count() != 0) {
            return Error(
                s, label + ": season " + text + " must be a whole multiple of step " + step_text);
          }
          const int64_t steps = d->count() / job.step.count();
          if (steps < 2) {
            return Error(s, label + ": season " + text + " must be at least two steps (step " +
                                step_text + ")");
          }
          if (2 * *d > job.lookback) {
            return Error(s, label + ": season " + text +
                                " needs two cycles of history, more than lookback " +
                                lookback_text);
          }
          if (std::find(job.seasonality.begin(), job.seasonality.end(), *d) !=
              job.seasonality.end()) {
            return Error(s, label + ": season " + text + " is listed twice");
          }
          job.seasonality.push_back(*d);
          job.seasonal_periods.push_back(static_cast<int>(steps));
        }
      } else {
        return Error(*f, what + " must be auto or a list of durations such as [1d, 1w], got " +
                             (f->value.IsScalar() ? Quote(f->value.Scalar())
                                                  : std::string(KindName(f->value))));
      }
    }

    if (const Field* f = field("models")) {
      const std::vector<std::string> known = forecast::AvailableMethodNames();
      if (f->value.IsScalar() && f->value.Scalar() == "auto") {
        job.models.clear();
      } else if (f->value.IsSequence() && f->value.size() > 0) {
        for (const YAML::Node& m : f->value) {
          if (!m.IsScalar()) {
            return Error(m, label + ": model must be a name, got " + KindName(m));
          }
          const std::string& model = m.Scalar();
          if (std::find(known.begin(), known.end(), model) == known.end()) {
            return Error(
                m, label + ": unknown model " + Quote(model) + " (known: " + Join(known) + ")");
          }
          if (std::find(job.models.begin(), job.models.end(), model) != job.models.end()) {
            return Error(m, label + ": model " + Quote(model) + " is listed twice");
          }
          job.models.push_back(model);
        }
      } else {
        return Error(*f, label + ": models must be auto or a non-empty list of model names (" +
                             Join(known) + "), got " +
                             (f->value.IsSequence() ? std::string("an empty list")
                              : f->value.IsScalar() ? Quote(f->value.Scalar())
                                                    : std::string(KindName(f->value))));
      }
    }

    if (const Field* f = field("thresholds")) {
      FORESIGHT_RETURN_IF_ERROR(
          List(*f, label + ": thresholds", "maps such as {name: capacity, value: 1200}"));
      int t_index = 0;
      for (const YAML::Node& t : f->value) {
        ++t_index;
        Result<ThresholdConfig> threshold = Threshold(t, label, t_index);
        if (!threshold.ok()) return threshold.status();
        for (const ThresholdConfig& other : job.thresholds) {
          if (other.name == threshold->name) {
            return Error(t, label + ": duplicate threshold name " + Quote(threshold->name));
          }
        }
        job.thresholds.push_back(std::move(*threshold));
      }
    }

    if (const Field* f = field("calendar")) {
      Result<std::string> s = NonEmptyString(*f, label + ": calendar");
      if (!s.ok()) return s.status();
      job.calendar_file = ResolvePath(base_dir_, *s);
      Result<forecast::Calendar> calendar = forecast::LoadCalendar(job.calendar_file);
      if (!calendar.ok()) {
        return Status(calendar.status().code(), Where(f->value.Mark()) + ": " + label +
                                                    ": calendar " + Quote(*s) + ": " +
                                                    calendar.status().message());
      }
      job.calendar = std::make_shared<const forecast::Calendar>(std::move(*calendar));
    }
    return job;
  }

  Result<ThresholdConfig> Threshold(const YAML::Node& item, const std::string& job_label,
                                    int index) const {
    const std::string label = job_label + " " + Label(item, "threshold", index);
    if (!item.IsMap()) {
      return Error(item, label + " must be a map such as {name: capacity, value: 1200}, got " +
                             KindName(item));
    }
    static const std::vector<std::string> kKeys = {"name", "value", "direction"};
    Result<Fields> fields = FieldsOf(item, "in " + label, kKeys);
    if (!fields.ok()) return fields.status();
    for (const char* key : {"name", "value"}) {
      if (fields->count(key) == 0) {
        return Error(item, label + ": missing required key " + Quote(key));
      }
    }
    ThresholdConfig threshold;
    Result<std::string> name = Name(fields->at("name"), label + ": name");
    if (!name.ok()) return name.status();
    threshold.name = *name;
    const Field& value = fields->at("value");
    Result<double> v = Double(value.value, value.key.Mark(), label + ": value");
    if (!v.ok()) return v.status();
    threshold.value = *v;
    auto dir = fields->find("direction");
    if (dir != fields->end()) {
      Result<std::string> s = String(dir->second, label + ": direction");
      if (!s.ok()) return s.status();
      if (*s == "above") {
        threshold.direction = ThresholdDirection::kAbove;
      } else if (*s == "below") {
        threshold.direction = ThresholdDirection::kBelow;
      } else {
        return Error(dir->second, label + ": direction " + Quote(*s) + " must be above or below");
      }
    }
    return threshold;
  }

  // The simple PromQL aggregations: "", "OP", "OP by (l, ...)", "OP without (l, ...)".
  static Result<AggregateConfig> Aggregate(const std::string& text) {
    AggregateConfig agg;
    agg.text = text;
    const std::string want =
        "; want \"\", OP, \"OP by (label, ...)\" or \"OP without (label, ...)\" with OP one of "
        "sum, avg, max, min";
    auto fail = [&](const std::string& why) {
      return InvalidArgument("aggregate " + Quote(text) + ": " + why + want);
    };
    size_t pos = 0;
    auto skip_space = [&] {
      while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    };
    auto word = [&] {
      size_t start = pos;
      while (pos < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[pos])) || text[pos] == '_')) {
        ++pos;
      }
      return text.substr(start, pos - start);
    };
    skip_space();
    if (pos == text.size()) return agg;
    const std::string op = AsciiLower(word());
    if (op == "sum") {
      agg.op = AggregateOp::kSum;
    } else if (op == "avg") {
      agg.op = AggregateOp::kAvg;
    } else if (op == "max") {
      agg.op = AggregateOp::kMax;
    } else if (op == "min") {
      agg.op = AggregateOp::kMin;
    } else {
      return fail(op.empty() ? "expected an aggregation operator at offset " + std::to_string(pos)
                             : "unsupported operator " + Quote(op));
    }
    skip_space();
    if (pos == text.size()) return agg;
    const size_t clause_at = pos;
    const std::string clause = AsciiLower(word());
    if (clause == "without") {
      agg.without = true;
    } else if (clause != "by") {
      return fail("expected \"by\" or \"without\" at offset " + std::to_string(clause_at));
    }
    skip_space();
    if (pos == text.size() || text[pos] != '(') {
      return fail("expected \"(\" at offset " + std::to_string(pos));
    }
    ++pos;
    while (true) {
      skip_space();
      if (pos < text.size() && text[pos] == ')') break;  // also allows a trailing comma
      const size_t label_at = pos;
      const std::string label = word();
      if (!ValidLabelName(label)) {
        return fail("expected a label name at offset " + std::to_string(label_at));
      }
      if (std::find(agg.labels.begin(), agg.labels.end(), label) != agg.labels.end()) {
        return fail("label " + Quote(label) + " is listed twice");
      }
      agg.labels.push_back(label);
      skip_space();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < text.size() && text[pos] == ')') break;
      return fail("expected \",\" or \")\" at offset " + std::to_string(pos));
    }
    ++pos;
    skip_space();
    if (pos != text.size()) {
      return fail("unexpected " + Quote(text.substr(pos)) + " at offset " + std::to_string(pos));
    }
    return agg;
  }

  std::string base_dir_;
};

}  // namespace

const SourceConfig* Config::FindSource(std::string_view name) const {
  for (const SourceConfig& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

remote_read::ClientOptions ToClientOptions(const SourceConfig& source) {
  remote_read::ClientOptions options;
  options.url = source.remote_read_url;
  options.basic_auth = source.basic_auth;
  options.bearer_token = source.bearer_token;
  options.bearer_token_file = source.bearer_token_file;
  options.headers.assign(source.headers.begin(), source.headers.end());
  options.http.timeout = source.timeout;
  // A connect that outlasts the whole request's budget is pointless.
  options.http.connect_timeout = std::min(options.http.connect_timeout, source.timeout);
  options.http.tls = source.tls;
  return options;
}

const char* SeriesTransformName(SeriesTransform t) {
  switch (t) {
    case SeriesTransform::kNone:
      return "none";
    case SeriesTransform::kRate:
      return "rate";
    case SeriesTransform::kIncrease:
      return "increase";
  }
  return "unknown";
}

const char* AggregateOpName(AggregateOp op) {
  switch (op) {
    case AggregateOp::kNone:
      return "";
    case AggregateOp::kSum:
      return "sum";
    case AggregateOp::kAvg:
      return "avg";
    case AggregateOp::kMax:
      return "max";
    case AggregateOp::kMin:
      return "min";
  }
  return "unknown";
}

const char* ThresholdDirectionName(ThresholdDirection d) {
  return d == ThresholdDirection::kAbove ? "above" : "below";
}

const char* ValueTransformName(forecast::ValueTransform t) {
  switch (t) {
    case forecast::ValueTransform::kNone:
      return "none";
    case forecast::ValueTransform::kLog:
      return "log";
    case forecast::ValueTransform::kBoxCox:
      return "boxcox";
  }
  return "unknown";
}

Result<Config> ParseConfig(std::string_view yaml_text, std::string_view file_name,
                           const std::string& base_dir) {
  Result<YAML::Node> root = yaml::ParseYaml(yaml_text, file_name);
  if (!root.ok()) return root.status();
  Decoder decoder(file_name, base_dir);
  try {
    return decoder.Document(*root);
  } catch (const YAML::Exception& e) {
    return decoder.Error(e.mark, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return Internal(std::string(file_name) + ": decoding failed: " + e.what());
  }
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return NotFound("cannot read config file " + path);
  return ParseConfig(text.str(), path, std::filesystem::path(path).parent_path().string());
}

}  // namespace foresight::exporter
