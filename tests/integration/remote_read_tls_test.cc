// The remote-read client's TLS and basic-auth options against the real Prometheus, protected by
// an exporter-toolkit web config (--web.config.file). Certificates are made with openssl at test
// time; none are committed.
//
// Two Prometheus instances cover every case:
//   auth_: TLS with a certificate for DNS:prometheus.test and IP:127.0.0.1, plus basic auth.
//   mtls_: TLS with a certificate for DNS:prometheus.test only, and client certificates required
//          (client_auth_type RequireAndVerifyClientCert).

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "foresight/common/clock.h"
#include "foresight/remote_read/client.h"
#include "prometheus_fixture.h"

namespace foresight {
namespace {

using remote_read::Client;
using remote_read::ClientOptions;
using remote_read::Matcher;
using remote_read::MatchType;
using remote_read::Query;
using remote_read::ReadStats;
using remote_read::Series;
using testing::BackfillSeries;
using testing::PrometheusFixture;

constexpr char kUser[] = "foresight";
constexpr char kPassword[] = "foresight-test-password";
// bcrypt of kPassword at cost 4 (the minimum, so that Prometheus checks it quickly), made once
// with Python 3.11:
//   import crypt
//   crypt.crypt('foresight-test-password', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
constexpr char kPasswordBcrypt[] = "$2b$04$CU/Di8PmcvjPisScBjT9S.MYgbkNUB3phEAxESI/SHDO5w7Qkwo3i";
constexpr char kServerName[] = "prometheus.test";
constexpr char kMetric[] = "fs_tls_probe";
constexpr int kSamples = 100;
constexpr int64_t kFirstMs = 1'700'000'000'000;
constexpr int64_t kStepMs = 15'000;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

// Runs a shell command in `dir`; on failure, an error carrying its output.
Status Sh(const std::string& dir, const std::string& command) {
  const std::string log = dir + "/openssl.log";
  const std::string line = "cd '" + dir + "' && (" + command + ") >'" + log + "' 2>&1";
  const int rc = std::system(line.c_str());
  if (rc != 0) {
    return Internal("`" + command + "` failed (" + std::to_string(rc) + "): " + ReadFile(log));
  }
  return Status::Ok();
}

// A CA, two server certificates and a client certificate signed by it, and a self-signed client
// certificate it knows nothing of; all EC P-256 (fast to make), valid for a day.
Status MakeCertificates(const std::string& dir) {
  const std::string newkey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  FORESIGHT_RETURN_IF_ERROR(
      Sh(dir, "openssl req -x509 " + newkey +
                  " -keyout ca.key -out ca.crt -days 1 -subj '/CN=Foresight Test CA'"
                  " -addext basicConstraints=critical,CA:TRUE"
                  " -addext keyUsage=critical,keyCertSign,cRLSign"));
  struct Leaf {
    std::string name;
    std::string extensions;
  };
  const Leaf leaves[] = {
      {"server-ip",
       "subjectAltName=DNS:prometheus.test,IP:127.0.0.1\n"
       "extendedKeyUsage=serverAuth\n"},
      {"server-dns", "subjectAltName=DNS:prometheus.test\nextendedKeyUsage=serverAuth\n"},
      {"client", "extendedKeyUsage=clientAuth\n"},
  };
  for (const Leaf& leaf : leaves) {
    WriteFile(dir + "/" + leaf.name + ".ext", leaf.extensions);
    FORESIGHT_RETURN_IF_ERROR(
        Sh(dir, "openssl req -new " + newkey + " -keyout " + leaf.name + ".key -out " + leaf.name +
                    ".csr -subj '/CN=foresight-" + leaf.name + "' && openssl x509 -req -in " +
                    leaf.name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out " +
                    leaf.name + ".crt -extfile " + leaf.name + ".ext"));
  }
  return Sh(dir, "openssl req -x509 " + newkey +
                     " -keyout rogue-client.key -out rogue-client.crt -days 1"
                     " -subj '/CN=foresight-rogue-client' -addext extendedKeyUsage=clientAuth");
}

class RemoteReadTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string pattern = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
                          "/foresight-tls-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    certs_ = new std::string(pattern);
    Status made = MakeCertificates(*certs_);
    ASSERT_TRUE(made.ok()) << made.message();
    WriteFile(Path("password"), kPassword);
    WriteFile(Path("wrong-password"), "not-the-password");

    BackfillSeries series{.metric = kMetric, .labels = {{"job", "tls"}}};
    for (int i = 0; i < kSamples; ++i) {
      series.timestamps_ms.push_back(kFirstMs + i * kStepMs);
      series.values.push_back(0.5 * i);
    }

    PrometheusFixture::Options auth;
    auth.backfill = {series};
    auth.web_config_yaml = "tls_server_config:\n  cert_file: " + Path("server-ip.crt") +
                           "\n  key_file: " + Path("server-ip.key") + "\nbasic_auth_users:\n  " +
                           kUser + ": " + kPasswordBcrypt + "\n";
    auth.web_client = {
        .scheme = "https", .ca_file = Path("ca.crt"), .username = kUser, .password = kPassword};
    auto a = PrometheusFixture::Start(std::move(auth));
    ASSERT_TRUE(a.ok()) << a.status().message();
    auth_ = std::move(a).value().release();

    PrometheusFixture::Options mtls;
    mtls.backfill = {series};
    mtls.web_config_yaml = "tls_server_config:\n  cert_file: " + Path("server-dns.crt") +
                           "\n  key_file: " + Path("server-dns.key") +
                           "\n  client_auth_type: RequireAndVerifyClientCert\n"
                           "  client_ca_file: " +
                           Path("ca.crt") + "\n";
    mtls.web_client = {.scheme = "https",
                       .ca_file = Path("ca.crt"),
                       .server_name = kServerName,
                       .cert_file = Path("client.crt"),
                       .key_file = Path("client.key")};
    auto m = PrometheusFixture::Start(std::move(mtls));
    ASSERT_TRUE(m.ok()) << m.status().message();
    mtls_ = std::move(m).value().release();
  }

  static void TearDownTestSuite() {
    delete auth_;
    auth_ = nullptr;
    delete mtls_;
    mtls_ = nullptr;
    if (certs_ != nullptr) {
      std::error_code ec;
      if (std::getenv("FORESIGHT_KEEP_TEST_DIRS") == nullptr) {
        std::filesystem::remove_all(*certs_, ec);
      }
      delete certs_;
      certs_ = nullptr;
    }
  }

  void SetUp() override {
    ASSERT_NE(auth_, nullptr) << "the TLS + basic auth Prometheus did not start";
    ASSERT_NE(mtls_, nullptr) << "the client-certificate Prometheus did not start";
  }

  static std::string Path(const std::string& name) { return *certs_ + "/" + name; }

  // Options for auth_ that work: its CA and the right password. Three attempts, so that a test
  // of "not retried" can fail.
  static ClientOptions AuthOptions() {
    ClientOptions o;
    o.url = auth_->remote_read_url();
    o.http.tls.ca_file = Path("ca.crt");
    o.basic_auth = remote_read::BasicAuth{.username = kUser, .password = kPassword};
    o.retry.max_attempts = 3;
    return o;
  }

  // Options for mtls_ that work: its CA, the server name in its certificate, a client
  // certificate.
  static ClientOptions MtlsOptions() {
    ClientOptions o;
    o.url = mtls_->remote_read_url();
    o.http.tls.ca_file = Path("ca.crt");
    o.http.tls.server_name = kServerName;
    o.http.tls.cert_file = Path("client.crt");
    o.http.tls.key_file = Path("client.key");
    o.retry.max_attempts = 3;
    return o;
  }

  // Reads the backfilled series; the status of the read, and the samples in *got.
  static Status ReadProbe(const ClientOptions& options, ReadStats* stats, Series* got) {
    auto client = Client::Create(options, nullptr, &clock_, 7);
    if (!client.ok()) {
      return client.status();
    }
    Query q{.start_ms = kFirstMs,
            .end_ms = kFirstMs + (kSamples - 1) * kStepMs,
            .matchers = {Matcher{MatchType::kEqual, "__name__", kMetric}}};
    int series = 0;
    Status st = (*client)->Read(
        std::span<const Query>(&q, 1),
        [&](Series&& s) {
          ++series;
          *got = std::move(s);
          return Status::Ok();
        },
        stats);
    if (st.ok() && series != 1) {
      return Internal("expected 1 series, got " + std::to_string(series));
    }
    return st;
  }

  static void ExpectReadsProbe(const ClientOptions& options) {
    ReadStats stats;
    Series got;
    Status st = ReadProbe(options, &stats, &got);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(stats.attempts, 1);
    EXPECT_EQ(remote_read::SeriesName(got.labels), std::string(kMetric) + "{job=\"tls\"}");
    ASSERT_EQ(got.timestamps_ms.size(), static_cast<size_t>(kSamples));
    for (int i = 0; i < kSamples; ++i) {
      ASSERT_EQ(got.timestamps_ms[i], kFirstMs + i * kStepMs) << i;
      ASSERT_EQ(got.values[i], 0.5 * i) << i;
    }
  }

  // The read fails; returns its status (the message, for checks) and the attempts made.
  static std::pair<Status, int> ExpectFails(const ClientOptions& options) {
    ReadStats stats;
    Series got;
    Status st = ReadProbe(options, &stats, &got);
    EXPECT_FALSE(st.ok());
    return {st, stats.attempts};
  }

  static inline FakeClock clock_;
  static inline std::string* certs_ = nullptr;
  static inline PrometheusFixture* auth_ = nullptr;
  static inline PrometheusFixture* mtls_ = nullptr;
};

TEST_F(RemoteReadTlsTest, FixtureServesHttps) {
  EXPECT_EQ(auth_->base_url(), "https://127.0.0.1:" + std::to_string(auth_->port()));
  EXPECT_EQ(auth_->remote_read_url(), auth_->base_url() + "/api/v1/read");
  EXPECT_EQ(mtls_->base_url(), "https://127.0.0.1:" + std::to_string(mtls_->port()));
  // Reload goes through web_client too: credentials, and the server name with a client cert.
  Status reload = auth_->Reload();
  EXPECT_TRUE(reload.ok()) << reload.message();
  reload = mtls_->Reload();
  EXPECT_TRUE(reload.ok()) << reload.message();
}

// 1. The server certificate verified against our CA (its IP SAN matches 127.0.0.1).
TEST_F(RemoteReadTlsTest, HttpsWithCaFileReads) { ExpectReadsProbe(AuthOptions()); }

// 2. Without our CA the system store cannot verify the certificate: a permanent error, so
// retrying would only waste time.
TEST_F(RemoteReadTlsTest, HttpsWithoutCaFileFailsWithoutRetry) {
  ClientOptions o = AuthOptions();
  o.http.tls.ca_file.clear();
  auto [st, attempts] = ExpectFails(o);
  EXPECT_NE(st.message().find("TLS"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("certificate"), std::string::npos) << st.message();
  EXPECT_EQ(attempts, 1) << st.message();
}

// 3.
TEST_F(RemoteReadTlsTest, InsecureSkipVerifyReads) {
  ClientOptions o = AuthOptions();
  o.http.tls.ca_file.clear();
  o.http.tls.insecure_skip_verify = true;
  ExpectReadsProbe(o);
}

// 4. mtls_'s certificate names only prometheus.test, and the URL says 127.0.0.1.
TEST_F(RemoteReadTlsTest, ServerNameVerifiesAgainstTheCertificateName) {
  ClientOptions o = MtlsOptions();
  o.http.tls.server_name.clear();
  auto [st, attempts] = ExpectFails(o);
  EXPECT_NE(st.message().find("TLS"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("127.0.0.1"), std::string::npos) << st.message();
  EXPECT_EQ(attempts, 1) << st.message();

  // server_name is checked, not merely a way to switch the check off.
  o.http.tls.server_name = "other.test";
  std::tie(st, attempts) = ExpectFails(o);
  EXPECT_NE(st.message().find("TLS"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("other.test"), std::string::npos) << st.message();
  EXPECT_EQ(attempts, 1) << st.message();

  ExpectReadsProbe(MtlsOptions());
}

// 5. Under TLS 1.3 the server checks the client certificate after the client has finished its
// handshake, so libcurl only notices the rejection once it sends or reads the request, and what
// it reports varies from run to run: CURLE_RECV_ERROR ("alert bad certificate" from SSL_read),
// CURLE_SEND_ERROR (often with a stale "getpeername() failed" text) or CURLE_HTTP2 over the
// negotiated h2. The client retries the first two as a broken connection and not the last, so
// only the failure itself is certain here.
TEST_F(RemoteReadTlsTest, ClientCertificateRequired) {
  ClientOptions o = MtlsOptions();
  o.http.tls.cert_file.clear();
  o.http.tls.key_file.clear();
  ExpectFails(o);

  // A certificate the server's client CA did not sign is no better.
  o.http.tls.cert_file = Path("rogue-client.crt");
  o.http.tls.key_file = Path("rogue-client.key");
  ExpectFails(o);

  ExpectReadsProbe(MtlsOptions());
}

// 6.
TEST_F(RemoteReadTlsTest, BasicAuthPasswordAndPasswordFile) {
  ExpectReadsProbe(AuthOptions());
  ClientOptions o = AuthOptions();
  o.basic_auth = remote_read::BasicAuth{.username = kUser, .password_file = Path("password")};
  ExpectReadsProbe(o);
}

TEST_F(RemoteReadTlsTest, WrongPasswordIs401WithoutRetry) {
  ClientOptions o = AuthOptions();
  o.basic_auth = remote_read::BasicAuth{.username = kUser, .password = "not-the-password"};
  auto [st, attempts] = ExpectFails(o);
  EXPECT_NE(st.message().find("server returned HTTP 401"), std::string::npos) << st.message();
  EXPECT_EQ(attempts, 1) << st.message();

  o.basic_auth = remote_read::BasicAuth{.username = kUser, .password_file = Path("wrong-password")};
  std::tie(st, attempts) = ExpectFails(o);
  EXPECT_NE(st.message().find("server returned HTTP 401"), std::string::npos) << st.message();
  EXPECT_EQ(attempts, 1) << st.message();

  o.basic_auth.reset();
  std::tie(st, attempts) = ExpectFails(o);
  EXPECT_NE(st.message().find("server returned HTTP 401"), std::string::npos) << st.message();
  EXPECT_EQ(attempts, 1) << st.message();
}

}  // namespace
}  // namespace foresight
