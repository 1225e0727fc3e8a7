// The remote-read client against the real Prometheus: what comes back by remote read (streamed
// and SAMPLES) must equal, timestamp for timestamp and bit for bit, both the data we backfilled
// and what Prometheus's own /api/v1/query returns for a range selector.

#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "cli.h"
#include "datasets.h"
#include "foresight/common/format.h"
#include "foresight/remote_read/client.h"
#include "foresight/remote_read/selector.h"
#include "prometheus_fixture.h"

namespace foresight {
namespace {

using remote_read::Client;
using remote_read::ClientOptions;
using remote_read::Query;
using remote_read::ReadStats;
using remote_read::ResponsePreference;
using remote_read::ResponseType;
using remote_read::Series;
using testing::BackfillSeries;
using testing::PrometheusFixture;

// The canonical key of a label set: sorted name=value pairs.
std::string Key(const std::map<std::string, std::string>& labels) {
  std::string k;
  for (const auto& [n, v] : labels) k += n + "=" + v + ",";
  return k;
}
std::string Key(const remote_read::Labels& labels) {
  std::map<std::string, std::string> m;
  for (const auto& l : labels) m[l.name] = l.value;
  return Key(m);
}
std::string Key(const BackfillSeries& s) {
  std::map<std::string, std::string> m(s.labels.begin(), s.labels.end());
  m["__name__"] = s.metric;
  return Key(m);
}

struct Samples {
  std::vector<int64_t> ts;
  std::vector<double> vs;
};

// Bit-exact comparison. A NaN compares by kind: text formats (the OpenMetrics we backfill, the
// HTTP API's JSON) cannot carry NaN payload bits, and Prometheus stores every text NaN as Go's
// math.NaN(), 0x7ff8000000000001. It must never come back as a stale marker.
void ExpectSameSamples(const Samples& want, const Samples& got, const std::string& what,
                       bool nan_by_kind) {
  ASSERT_EQ(want.ts.size(), got.ts.size()) << what;
  for (size_t i = 0; i < want.ts.size(); ++i) {
    ASSERT_EQ(want.ts[i], got.ts[i]) << what << " sample " << i;
    if (nan_by_kind && std::isnan(want.vs[i])) {
      ASSERT_TRUE(std::isnan(got.vs[i])) << what << " sample " << i;
      ASSERT_FALSE(remote_read::IsStaleMarker(got.vs[i])) << what << " sample " << i;
    } else {
      ASSERT_EQ(std::bit_cast<uint64_t>(want.vs[i]), std::bit_cast<uint64_t>(got.vs[i]))
          << what << " sample " << i << ": want " << FormatDouble(want.vs[i]) << " got "
          << FormatDouble(got.vs[i]);
    }
  }
}

class RemoteReadIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const int64_t now_ms = ToUnixMillis(std::chrono::system_clock::now());
    testing::RemoteReadDatasetOptions o;
    o.end_ms = now_ms - 3600 * 1000;
    o.end_ms -= o.end_ms % 15000;
    data_ = new std::vector<BackfillSeries>(testing::MakeRemoteReadDataset(o));
    size_t total = 0;
    for (const auto& s : *data_) total += s.timestamps_ms.size();
    ASSERT_GE(total, 1000000u);
    ASSERT_GE(data_->size(), 100u);
    first_ms_ = INT64_MAX;
    last_ms_ = INT64_MIN;
    for (const auto& s : *data_) {
      first_ms_ = std::min(first_ms_, s.timestamps_ms.front());
      last_ms_ = std::max(last_ms_, s.timestamps_ms.back());
    }
    PrometheusFixture::Options po;
    po.backfill = *data_;
    po.ready_timeout = std::chrono::seconds(120);
    auto p = PrometheusFixture::Start(std::move(po));
    ASSERT_TRUE(p.ok()) << p.status().message();
    prom_ = std::move(p).value().release();
  }
  static void TearDownTestSuite() {
    delete prom_;
    prom_ = nullptr;
    delete data_;
    data_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(prom_, nullptr) << "Prometheus did not start"; }

  static std::unique_ptr<Client> MakeClient(ResponsePreference pref, int attempts = 3) {
    ClientOptions o;
    o.url = prom_->remote_read_url();
    o.response = pref;
    o.retry.max_attempts = attempts;
    auto c = Client::Create(o, nullptr, &clock_, 7);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(c).value();
  }

  static Query Sel(const std::string& selector, int64_t start, int64_t end) {
    auto m = remote_read::ParseSelector(selector);
    EXPECT_TRUE(m.ok()) << m.status().message();
    return Query{start, end, std::move(m).value(), std::nullopt};
  }

  // Reads and groups the result by query and label set.
  static std::vector<std::map<std::string, Samples>> ReadAll(Client& c, std::vector<Query> qs,
                                                             ReadStats* stats) {
    std::vector<std::map<std::string, Samples>> out(qs.size());
    Status st = c.Read(qs, [&](Series&& s) {
      auto& slot = out[s.query_index][Key(s.labels)];
      EXPECT_TRUE(slot.ts.empty()) << "series handed out twice: " << Key(s.labels);
      slot.ts = std::move(s.timestamps_ms);
      slot.vs = std::move(s.values);
      return Status::Ok();
    }, stats);
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }

  static std::map<std::string, Samples> Expected(int64_t start, int64_t end,
                                                 bool (*keep)(const BackfillSeries&)) {
    std::map<std::string, Samples> out;
    for (const auto& s : *data_) {
      if (!keep(s)) continue;
      Samples smp;
      for (size_t i = 0; i < s.timestamps_ms.size(); ++i) {
        if (s.timestamps_ms[i] < start || s.timestamps_ms[i] > end) continue;
        smp.ts.push_back(s.timestamps_ms[i]);
        smp.vs.push_back(s.values[i]);
      }
      if (!smp.ts.empty()) out[Key(s)] = std::move(smp);
    }
    return out;
  }

  static void ExpectEqual(const std::map<std::string, Samples>& want,
                          const std::map<std::string, Samples>& got, bool nan_by_kind) {
    ASSERT_EQ(want.size(), got.size());
    for (const auto& [k, w] : want) {
      auto it = got.find(k);
      ASSERT_NE(it, got.end()) << "missing series " << k;
      ExpectSameSamples(w, it->second, k, nan_by_kind);
    }
  }

  static inline FakeClock clock_;
  static inline PrometheusFixture* prom_ = nullptr;
  static inline std::vector<BackfillSeries>* data_ = nullptr;
  static inline int64_t first_ms_ = 0;
  static inline int64_t last_ms_ = 0;
};

bool All(const BackfillSeries&) { return true; }

TEST_F(RemoteReadIntegrationTest, StreamedEqualsBackfillAndQueryApi) {
  auto c = MakeClient(ResponsePreference::kStreamedThenSamples);
  ReadStats stats;
  auto got = ReadAll(*c, {Sel("{__name__=~\"fs_.*\"}", first_ms_, last_ms_)}, &stats);
  EXPECT_EQ(stats.response_type, ResponseType::kStreamedXorChunks);
  EXPECT_GE(stats.decode.samples, 1000000u);
  EXPECT_GE(stats.decode.series, 100u);
  EXPECT_GT(stats.decode.chunks, 0u);
  ExpectEqual(Expected(first_ms_, last_ms_, All), got[0], /*nan_by_kind=*/true);
  // The XOR decoding keeps NaN payloads: Prometheus's NaN, exactly.
  const Samples& special = got[0].at("__name__=fs_special,job=edge,");
  ASSERT_TRUE(std::isnan(special.vs[0]));
  EXPECT_EQ(std::bit_cast<uint64_t>(special.vs[0]), 0x7ff8000000000001ULL);

  // Prometheus's own answer for the same range. A range selector [r] at time t covers
  // [t - r, t] in Prometheus 2.x.
  const int64_t range_ms = last_ms_ - first_ms_;
  auto api = testing::QueryRaw(prom_->base_url(),
                               "{__name__=~\"fs_.*\"}[" + std::to_string(range_ms) + "ms]", last_ms_);
  ASSERT_TRUE(api.ok()) << api.status().message();
  std::map<std::string, Samples> from_api;
  for (auto& s : *api) from_api[Key(s.labels)] = Samples{s.timestamps_ms, s.values};
  ExpectEqual(from_api, got[0], /*nan_by_kind=*/true);
}

TEST_F(RemoteReadIntegrationTest, SamplesEqualsStreamed) {
  auto streamed = MakeClient(ResponsePreference::kStreamedOnly);
  auto samples = MakeClient(ResponsePreference::kSamplesOnly);
  // A sub-range whose ends cut through chunks: both must filter to exactly [start, end].
  const int64_t start = first_ms_ + 1234567, end = last_ms_ - 7654321;
  std::vector<Query> qs = {Sel("fs_gauge{instance=~\"i[0-4].*\"}", start, end),
                           Sel("fs_requests_total", start, end)};
  ReadStats s1, s2;
  auto a = ReadAll(*streamed, qs, &s1);
  auto b = ReadAll(*samples, qs, &s2);
  EXPECT_EQ(s1.response_type, ResponseType::kStreamedXorChunks);
  EXPECT_EQ(s2.response_type, ResponseType::kSamples);
  // Prometheus 2.x re-encodes chunks that straddle the range ends, so here nothing is left to
  // filter; Thanos and others send whole chunks (filtering is covered by the unit tests).
  for (size_t q = 0; q < qs.size(); ++q) ExpectEqual(a[q], b[q], false);
  EXPECT_EQ(a[0].size(), 45u);  // i0..i4 and i10..i49
  ExpectEqual(Expected(start, end, [](const BackfillSeries& s) { return s.metric == "fs_requests_total"; }),
              a[1], false);
}

TEST_F(RemoteReadIntegrationTest, AllFourMatcherTypesInOneRequest) {
  auto c = MakeClient(ResponsePreference::kStreamedThenSamples);
  std::vector<Query> qs = {Sel("fs_gauge{instance=\"i7\"}", first_ms_, last_ms_),
                           Sel("fs_gauge{instance!=\"i7\"}", first_ms_, last_ms_),
                           Sel("fs_gauge{instance=~\"i1.*\"}", first_ms_, last_ms_),
                           Sel("fs_gauge{instance!~\"i1.*\"}", first_ms_, last_ms_)};
  ReadStats stats;
  auto got = ReadAll(*c, qs, &stats);
  EXPECT_EQ(got[0].size(), 1u);
  EXPECT_EQ(got[1].size(), 99u);
  EXPECT_EQ(got[2].size(), 11u);  // i1, i10..i19
  EXPECT_EQ(got[3].size(), 89u);
  ExpectEqual(Expected(first_ms_, last_ms_,
                       [](const BackfillSeries& s) {
                         return s.metric == "fs_gauge" && s.labels[0].second == "i7";
                       }),
              got[0], false);
}

TEST_F(RemoteReadIntegrationTest, CounterResetsAndScrapeGapComeBackAsWritten) {
  auto c = MakeClient(ResponsePreference::kStreamedThenSamples);
  ReadStats stats;
  auto got = ReadAll(*c, {Sel("{__name__=~\"fs_requests_total|fs_gappy\"}", first_ms_, last_ms_)},
                     &stats);
  ExpectEqual(Expected(first_ms_, last_ms_,
                       [](const BackfillSeries& s) {
                         return s.metric == "fs_requests_total" || s.metric == "fs_gappy";
                       }),
              got[0], false);
  // The gap is a gap: no sample for two hours, nothing filled in.
  const Samples& gappy = got[0].begin()->second;
  int64_t widest = 0;
  for (size_t i = 1; i < gappy.ts.size(); ++i) widest = std::max(widest, gappy.ts[i] - gappy.ts[i - 1]);
  EXPECT_GE(widest, 2 * 3600 * 1000);
}

TEST_F(RemoteReadIntegrationTest, ServerErrorsComeBackWithTheirText) {
  // Prometheus 2.42 answers an invalid regexp with a 500, which we retry like any 5xx.
  auto c = MakeClient(ResponsePreference::kStreamedThenSamples, 2);
  Query bad{first_ms_, last_ms_, {{remote_read::MatchType::kRegexMatch, "__name__", "fs_(("}}, std::nullopt};
  std::vector<Query> qs = {bad};
  Status st = c->Read(qs, [](Series&&) { return Status::Ok(); });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("(after 2 attempts): server returned HTTP 500"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("error parsing regexp"), std::string::npos) << st.message();
}

TEST_F(RemoteReadIntegrationTest, CliReadsCsvThatParsesBackExactly) {
  std::ostringstream out, err;
  cli::Env env{out, err, clock_};
  int code = cli::Run({"read", "--url=" + prom_->remote_read_url(), "--match=fs_special",
                       "--start=" + std::to_string(first_ms_ / 1000),
                       "--end=" + std::to_string(last_ms_ / 1000 + 1)},
                      env);
  ASSERT_EQ(code, 0) << err.str();
  std::istringstream in(out.str());
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "series,timestamp_ms,value");
  Samples got;
  while (std::getline(in, line)) {
    ASSERT_EQ(line.rfind("\"fs_special{job=\"\"edge\"\"}\",", 0), 0u) << line;
    auto c1 = line.find("\",") + 2;
    auto c2 = line.find(',', c1);
    got.ts.push_back(std::stoll(line.substr(c1, c2 - c1)));
    double v = 0;
    ASSERT_TRUE(ParseDouble(line.substr(c2 + 1), &v)) << line;
    got.vs.push_back(v);
  }
  auto want = Expected(first_ms_, last_ms_, [](const BackfillSeries& s) { return s.metric == "fs_special"; });
  ASSERT_EQ(want.size(), 1u);
  ExpectSameSamples(want.begin()->second, got, "fs_special", /*nan_by_kind=*/true);
}

TEST_F(RemoteReadIntegrationTest, CliExitCodes) {
  std::ostringstream out, err;
  cli::Env env{out, err, clock_};
  EXPECT_EQ(cli::Run({"read", "--url=" + prom_->remote_read_url()}, env), cli::kExitUsage);
  EXPECT_NE(err.str().find("at least one --match is required"), std::string::npos);
  EXPECT_EQ(cli::Run({"read", "--url=" + prom_->remote_read_url(), "--match=up{"}, env),
            cli::kExitUsage);
  EXPECT_EQ(cli::Run({"read", "--url=" + prom_->remote_read_url(), "--match=up", "--format=xml"}, env),
            cli::kExitUsage);
  EXPECT_EQ(cli::Run({"nope"}, env), cli::kExitUsage);
  err.str("");
  EXPECT_EQ(cli::Run({"read", "--url=http://127.0.0.1:1/api/v1/read", "--match=up",
                      "--max-attempts=1"},
                     env),
            cli::kExitFailure);
  EXPECT_NE(err.str().find("cannot connect"), std::string::npos) << err.str();
}

TEST_F(RemoteReadIntegrationTest, OpenMetricsOutputParsesBackToTheSamples) {
  std::ostringstream out, err;
  cli::Env env{out, err, clock_};
  ASSERT_EQ(cli::Run({"read", "--url=" + prom_->remote_read_url(), "--match=fs_gauge{instance=\"i3\"}",
                      "--format=openmetrics", "--start=" + std::to_string(first_ms_ / 1000),
                      "--end=" + std::to_string(last_ms_ / 1000 + 1)},
                     env),
            0)
      << err.str();
  const std::string om = out.str();
  EXPECT_EQ(om.rfind("# TYPE fs_gauge unknown\n", 0), 0u);
  EXPECT_EQ(om.substr(om.size() - 6), "# EOF\n");
  std::istringstream in(om);
  std::string line;
  Samples got;
  const std::string prefix = "fs_gauge{instance=\"i3\",job=\"node\"} ";
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    ASSERT_EQ(line.rfind(prefix, 0), 0u) << line;
    std::string rest = line.substr(prefix.size());
    auto sp = rest.find(' ');
    double v = 0, secs = 0;
    ASSERT_TRUE(ParseDouble(rest.substr(0, sp), &v)) << line;
    ASSERT_TRUE(ParseDouble(rest.substr(sp + 1), &secs)) << line;
    got.ts.push_back(std::llround(secs * 1000));
    got.vs.push_back(v);
  }
  auto want = Expected(first_ms_, last_ms_, [](const BackfillSeries& s) {
    return s.metric == "fs_gauge" && s.labels[0].second == "i3";
  });
  ASSERT_EQ(want.size(), 1u);
  ExpectSameSamples(want.begin()->second, got, "fs_gauge i3", false);
}

// Last: it kills the shared Prometheus.
TEST_F(RemoteReadIntegrationTest, ZZPrometheusDownIsUnavailableAfterRetries) {
  prom_->Kill();
  auto c = MakeClient(ResponsePreference::kStreamedThenSamples, 2);
  ReadStats stats;
  std::vector<Query> qs = {Sel("up", 0, 1)};
  Status st = c->Read(qs, [](Series&&) { return Status::Ok(); }, &stats);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(stats.attempts, 2);
  EXPECT_NE(st.message().find("cannot connect"), std::string::npos) << st.message();
  ASSERT_TRUE(prom_->Restart().ok());
  std::vector<Query> again = {Sel("fs_gauge{instance=\"i7\"}", first_ms_, last_ms_)};
  auto got = ReadAll(*c, again, &stats);
  EXPECT_EQ(got[0].size(), 1u);  // the backfilled blocks survive the crash
}

}  // namespace
}  // namespace foresight
