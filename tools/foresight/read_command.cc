// `foresight read`: a remote-read client on the command line.

#include <charconv>
#include <ostream>
#include <set>

#include "cli.h"
#include "foresight/common/flags.h"
#include "foresight/common/format.h"
#include "foresight/common/timeparse.h"
#include "foresight/remote_read/client.h"
#include "foresight/remote_read/selector.h"

namespace foresight::cli {
namespace {

using remote_read::Labels;
using remote_read::Series;

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, ptr);
}

// CSV field quoting as RFC 4180: the series name carries commas and quotes.
void AppendCsvField(std::string* out, const std::string& s) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendJsonString(std::string* out, const std::string& s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string ValueText(double v) {
  return remote_read::IsStaleMarker(v) ? std::string("StaleNaN") : FormatDouble(v);
}

// Writes series as they arrive; keeps nothing but the current one.
class Writer {
 public:
  Writer(std::ostream& out, std::string format, bool keep_stale)
      : out_(out), format_(std::move(format)), keep_stale_(keep_stale) {}

  void Begin() {
    if (format_ == "csv") out_ << "series,timestamp_ms,value\n";
  }

  Status Write(const Series& s) {
    std::string buf;
    buf.reserve(64 + s.timestamps_ms.size() * 32);
    const std::string name = remote_read::SeriesName(s.labels);
    if (format_ == "csv") {
      std::string quoted;
      AppendCsvField(&quoted, name);
      for (size_t i = 0; i < s.timestamps_ms.size(); ++i) {
        if (!keep_stale_ && remote_read::IsStaleMarker(s.values[i])) continue;
        buf += quoted;
        buf.push_back(',');
        AppendInt(&buf, s.timestamps_ms[i]);
        buf.push_back(',');
        buf += ValueText(s.values[i]);
        buf.push_back('\n');
      }
    } else if (format_ == "json") {
      // One object per line, so consumers can stream it too. Values are strings as in
      // Prometheus's HTTP API, which keeps NaN and infinities representable.
      buf += "{\"series\":";
      AppendJsonString(&buf, name);
      buf += ",\"labels\":{";
      for (size_t i = 0; i < s.labels.size(); ++i) {
        if (i > 0) buf.push_back(',');
        AppendJsonString(&buf, s.labels[i].name);
        buf.push_back(':');
        AppendJsonString(&buf, s.labels[i].value);
      }
      buf += "},\"samples\":[";
      bool first = true;
      for (size_t i = 0; i < s.timestamps_ms.size(); ++i) {
        if (!keep_stale_ && remote_read::IsStaleMarker(s.values[i])) continue;
        if (!first) buf.push_back(',');
        first = false;
        buf.push_back('[');
        AppendInt(&buf, s.timestamps_ms[i]);
        buf += ",\"";
        buf += ValueText(s.values[i]);
        buf += "\"]";
      }
      buf += "]}\n";
    } else {
      // OpenMetrics, for `promtool tsdb create-blocks-from openmetrics`. A family must be
      // contiguous; Prometheus returns series sorted by labels, so per query they are.
      std::string metric;
      std::string labels;
      for (const auto& l : s.labels) {
        if (l.name == "__name__") {
          metric = l.value;
          continue;
        }
        if (!labels.empty()) labels.push_back(',');
        labels += l.name + "=";
        std::string q;
        AppendJsonString(&q, l.value);  // the same escapes OpenMetrics uses for \ " \n
        labels += q;
      }
      if (metric.empty()) return InvalidArgument("series " + name + " has no metric name");
      if (metric != last_family_) {
        if (families_.count(metric) > 0) {
          return InvalidArgument("metric " + metric +
                                 " came back in two separate runs of series; OpenMetrics needs a "
                                 "family in one block (read it with a single --match)");
        }
        families_.insert(metric);
        last_family_ = metric;
        buf += "# TYPE " + metric + " unknown\n";
      }
      std::string prefix = metric + (labels.empty() ? "" : "{" + labels + "}") + " ";
      for (size_t i = 0; i < s.timestamps_ms.size(); ++i) {
        // A stale marker has no OpenMetrics form: written as NaN it would become a real sample.
        if (remote_read::IsStaleMarker(s.values[i])) continue;
        buf += prefix;
        buf += FormatDouble(s.values[i]);
        buf.push_back(' ');
        int64_t t = s.timestamps_ms[i];
        int64_t secs = t >= 0 ? t / 1000 : -((-t + 999) / 1000);
        int64_t ms = t - secs * 1000;
        AppendInt(&buf, secs);
        if (ms != 0) {
          char frac[8];
          std::snprintf(frac, sizeof(frac), ".%03lld", static_cast<long long>(ms));
          buf += frac;
        }
        buf.push_back('\n');
      }
    }
    out_.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (!out_) return Unavailable("cannot write to standard output");
    return Status::Ok();
  }

  void End() {
    if (format_ == "openmetrics") out_ << "# EOF\n";
    out_.flush();
  }

 private:
  std::ostream& out_;
  std::string format_;
  bool keep_stale_;
  std::string last_family_;
  std::set<std::string> families_;
};

}  // namespace

int RunRead(const std::vector<std::string>& args, Env env) {
  std::string url, start_text = "-1h", end_text = "now", format = "csv";
  std::vector<std::string> matches, header_flags;
  std::string username, password_file, bearer_token_file;
  std::string ca_file, cert_file, key_file, server_name, proxy_url;
  bool insecure = false, keep_stale = false;
  std::string timeout_text = "2m", connect_timeout_text = "5s", response = "auto";
  int64_t max_attempts = 3;

  FlagSet flags("foresight read --url=URL --match=SELECTOR [--match=...] [flags]");
  flags.String("url", &url, "remote-read endpoint, e.g. http://127.0.0.1:9090/api/v1/read");
  flags.StringList("match", &matches, "series selector, e.g. 'up{job=\"node\"}'; one query each");
  flags.String("start", &start_text, "start: RFC 3339, Unix seconds, 'now' or relative like -6h");
  flags.String("end", &end_text, "end, in the same forms as --start");
  flags.String("format", &format, "output: csv, json (one object per series per line) or openmetrics");
  flags.String("response-type", &response, "auto (streamed, else samples), streamed or samples");
  flags.Bool("keep-stale-markers", &keep_stale,
             "write Prometheus stale markers as StaleNaN (csv, json) instead of dropping them");
  flags.String("basic-auth.username", &username, "basic auth user");
  flags.String("basic-auth.password-file", &password_file, "file holding the basic auth password");
  flags.String("bearer-token-file", &bearer_token_file, "file holding a bearer token");
  flags.StringList("header", &header_flags, "extra request header 'Name: value', e.g. X-Scope-OrgID");
  flags.String("tls.ca-file", &ca_file, "CA certificates to verify the server");
  flags.String("tls.cert-file", &cert_file, "client certificate");
  flags.String("tls.key-file", &key_file, "client key");
  flags.String("tls.server-name", &server_name, "name to expect in the server certificate (and SNI)");
  flags.Bool("tls.insecure-skip-verify", &insecure, "do not verify the server certificate");
  flags.String("proxy-url", &proxy_url, "HTTP proxy");
  flags.String("timeout", &timeout_text, "total timeout of one request");
  flags.String("connect-timeout", &connect_timeout_text, "connect timeout");
  flags.Int("max-attempts", &max_attempts, "attempts on connection errors and 5xx");

  auto positional = flags.Parse(args);
  auto usage_error = [&](const std::string& msg) {
    env.err << "foresight read: " << msg << "\n(see foresight read --help)\n";
    return kExitUsage;
  };
  if (!positional.ok()) return usage_error(positional.status().message());
  if (flags.help_requested()) {
    env.out << flags.Usage();
    return kExitOk;
  }
  if (!positional->empty()) return usage_error("unexpected argument \"" + (*positional)[0] + "\"");
  if (url.empty()) return usage_error("--url is required");
  if (matches.empty()) return usage_error("at least one --match is required");
  if (format != "csv" && format != "json" && format != "openmetrics") {
    return usage_error("--format must be csv, json or openmetrics, not \"" + format + "\"");
  }

  remote_read::ClientOptions opts;
  opts.url = url;
  if (response == "auto") {
    opts.response = remote_read::ResponsePreference::kStreamedThenSamples;
  } else if (response == "streamed") {
    opts.response = remote_read::ResponsePreference::kStreamedOnly;
  } else if (response == "samples") {
    opts.response = remote_read::ResponsePreference::kSamplesOnly;
  } else {
    return usage_error("--response-type must be auto, streamed or samples, not \"" + response + "\"");
  }
  const int64_t now_ms = ToUnixMillis(env.clock.Now());
  auto start = ParseTimestampMs(start_text, now_ms);
  if (!start.ok()) return usage_error("--start: " + start.status().message());
  auto end = ParseTimestampMs(end_text, now_ms);
  if (!end.ok()) return usage_error("--end: " + end.status().message());
  if (*start > *end) return usage_error("--start is after --end");
  auto timeout = ParseDuration(timeout_text);
  if (!timeout.ok()) return usage_error("--timeout: " + timeout.status().message());
  auto connect_timeout = ParseDuration(connect_timeout_text);
  if (!connect_timeout.ok()) return usage_error("--connect-timeout: " + connect_timeout.status().message());
  if (max_attempts < 1) return usage_error("--max-attempts must be at least 1");

  std::vector<remote_read::Query> queries;
  for (const std::string& m : matches) {
    auto matchers = remote_read::ParseSelector(m);
    if (!matchers.ok()) return usage_error("--match: " + matchers.status().message());
    queries.push_back({*start, *end, std::move(matchers).value(), std::nullopt});
  }
  for (const std::string& h : header_flags) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      return usage_error("--header \"" + h + "\" must look like 'Name: value'");
    }
    std::string value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    opts.headers.emplace_back(h.substr(0, colon), value);
  }
  if (!username.empty() || !password_file.empty()) {
    opts.basic_auth = remote_read::BasicAuth{username, "", password_file};
  }
  opts.bearer_token_file = bearer_token_file;
  opts.http.tls = {ca_file, cert_file, key_file, server_name, insecure};
  opts.http.proxy_url = proxy_url;
  opts.http.timeout = *timeout;
  opts.http.connect_timeout = *connect_timeout;
  opts.retry.max_attempts = static_cast<int>(max_attempts);

  auto client = remote_read::Client::Create(opts);
  if (!client.ok()) {
    env.err << "foresight read: " << client.status().message() << "\n";
    return kExitFailure;
  }
  Writer writer(env.out, format, keep_stale);
  writer.Begin();
  remote_read::ReadStats stats;
  Status st = (*client)->Read(queries, [&](Series&& s) { return writer.Write(s); }, &stats);
  writer.End();
  if (!st.ok()) {
    env.err << "foresight read: " << st.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace foresight::cli
