#include "foresight/remote_read/client.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>

#include "frames.h"
#include "remote.pb.h"

namespace foresight::remote_read {
namespace {

using testing::ChunkedReadResponseMessage;
using testing::Frame;
using testing::MakeXorChunk;
using testing::SamplesBody;

// One scripted answer of the fake transport.
struct Scripted {
  TransportError error = TransportError::kNone;  // returned after the body, if any
  int status = 200;
  std::string content_type = std::string(kStreamedContentType);
  std::string body;
  size_t piece = 7;  // body delivered in pieces of this size
};

// Plays scripted answers through the handler exactly as a transport would, and records requests.
class FakeTransport final : public HttpTransport {
 public:
  explicit FakeTransport(std::deque<Scripted> script) : script_(std::move(script)) {}

  TransportStatus Post(const HttpRequest& request, HttpResponseHandler& handler) override {
    requests.push_back(request);
    if (script_.empty()) return {TransportError::kOther, Internal("no scripted answer left")};
    Scripted s = script_.front();
    script_.pop_front();
    if (s.error == TransportError::kConnect) {
      return {TransportError::kConnect, Unavailable("cannot connect: refused")};
    }
    Status st = handler.OnHeaders(s.status, s.content_type);
    if (!st.ok()) return {TransportError::kHandler, st};
    for (size_t i = 0; i < s.body.size(); i += s.piece) {
      st = handler.OnBody(std::string_view(s.body).substr(i, s.piece));
      if (!st.ok()) return {TransportError::kHandler, st};
    }
    if (s.error != TransportError::kNone) {
      return {s.error, Unavailable("connection broke: reset by peer")};
    }
    return {TransportError::kNone, Status::Ok()};
  }

  std::vector<HttpRequest> requests;

 private:
  std::deque<Scripted> script_;
};

std::string Header(const HttpRequest& r, const std::string& name) {
  std::string found;
  for (const auto& [k, v] : r.headers) {
    if (k == name) found = v;
  }
  return found;
}

prometheus::ReadRequest DecodeRequest(const HttpRequest& r) {
  std::string raw;
  EXPECT_TRUE(snappy::Uncompress(r.body.data(), r.body.size(), &raw));
  prometheus::ReadRequest req;
  EXPECT_TRUE(req.ParseFromString(raw));
  return req;
}

Labels L(const std::string& job) { return {{"__name__", "up"}, {"job", job}}; }

std::string Stream(std::vector<std::string> jobs) {
  std::string body;
  for (const auto& j : jobs) {
    body += Frame(ChunkedReadResponseMessage(0, {{L(j), {MakeXorChunk({10, 20}, {1, 2})}}}));
  }
  return body;
}

class ClientTest : public ::testing::Test {
 protected:
  // Builds a client on a fake transport; the transport stays reachable through fake_.
  std::unique_ptr<Client> Make(std::deque<Scripted> script, ClientOptions opts = {}) {
    if (opts.url.empty()) opts.url = "http://prometheus.test:9090/api/v1/read";
    auto t = std::make_unique<FakeTransport>(std::move(script));
    fake_ = t.get();
    auto c = Client::Create(opts, std::move(t), &clock_, 1);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(c).value();
  }

  Status ReadAll(Client& c, std::vector<Series>* out, ReadStats* stats = nullptr) {
    std::vector<Query> qs = {Query{0, 1000, {{MatchType::kEqual, "__name__", "up"}}, std::nullopt}};
    return c.Read(qs, [out](Series&& s) {
      out->push_back(std::move(s));
      return Status::Ok();
    }, stats);
  }

  FakeClock clock_;
  FakeTransport* fake_ = nullptr;
};

TEST_F(ClientTest, SendsTheRemoteReadHeadersAndBody) {
  auto c = Make({Scripted{.body = Stream({"a"})}});
  std::vector<Series> got;
  ASSERT_TRUE(ReadAll(*c, &got).ok());
  ASSERT_EQ(fake_->requests.size(), 1u);
  const HttpRequest& r = fake_->requests[0];
  EXPECT_EQ(r.url, "http://prometheus.test:9090/api/v1/read");
  EXPECT_EQ(Header(r, "Content-Type"), "application/x-protobuf");
  EXPECT_EQ(Header(r, "Content-Encoding"), "snappy");
  EXPECT_EQ(Header(r, "Accept-Encoding"), "snappy");
  EXPECT_EQ(Header(r, "X-Prometheus-Remote-Read-Version"), "0.1.0");
  EXPECT_EQ(Header(r, "User-Agent").rfind("foresight/", 0), 0u);
  EXPECT_EQ(Header(r, "Authorization"), "");
  prometheus::ReadRequest req = DecodeRequest(r);
  ASSERT_EQ(req.queries_size(), 1);
  EXPECT_EQ(req.queries(0).end_timestamp_ms(), 1000);
  ASSERT_EQ(req.accepted_response_types_size(), 2);
  EXPECT_EQ(req.accepted_response_types(0), prometheus::ReadRequest::STREAMED_XOR_CHUNKS);
  EXPECT_EQ(req.accepted_response_types(1), prometheus::ReadRequest::SAMPLES);
}

TEST_F(ClientTest, DecodesStreamedAndSamplesAnswers) {
  Series s{0, L("b"), {10, 20}, {1, 2}};
  auto c = Make({Scripted{.body = Stream({"a", "b"})},
                 Scripted{.content_type = "application/x-protobuf", .body = SamplesBody({{s}})}});
  std::vector<Series> got;
  ReadStats stats;
  ASSERT_TRUE(ReadAll(*c, &got, &stats).ok());
  EXPECT_EQ(stats.response_type, ResponseType::kStreamedXorChunks);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].labels, L("b"));
  got.clear();
  ReadStats stats2;
  ASSERT_TRUE(ReadAll(*c, &got, &stats2).ok());
  EXPECT_EQ(stats2.response_type, ResponseType::kSamples);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].values, (std::vector<double>{1, 2}));
}

TEST_F(ClientTest, SamplesOnlyAsksForSamplesAndRefusesAStream) {
  ClientOptions opts;
  opts.response = ResponsePreference::kSamplesOnly;
  auto c = Make({Scripted{.body = Stream({"a"})}}, opts);
  std::vector<Series> got;
  Status st = ReadAll(*c, &got);
  EXPECT_NE(st.message().find("only SAMPLES was accepted"), std::string::npos) << st.message();
  prometheus::ReadRequest req = DecodeRequest(fake_->requests[0]);
  ASSERT_EQ(req.accepted_response_types_size(), 1);
  EXPECT_EQ(req.accepted_response_types(0), prometheus::ReadRequest::SAMPLES);
}

TEST_F(ClientTest, RetriesServerErrorsWithJitteredBackoff) {
  auto c = Make({Scripted{.status = 503, .content_type = "text/plain", .body = "overloaded"},
                 Scripted{.status = 502, .content_type = "text/plain"},
                 Scripted{.body = Stream({"a"})}});
  std::vector<Series> got;
  ReadStats stats;
  ASSERT_TRUE(ReadAll(*c, &got, &stats).ok());
  EXPECT_EQ(stats.attempts, 3);
  EXPECT_EQ(got.size(), 1u);
  auto sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  // 250 ms then 500 ms, each within ±20 %.
  EXPECT_GE(sleeps[0], std::chrono::milliseconds(200));
  EXPECT_LE(sleeps[0], std::chrono::milliseconds(300));
  EXPECT_GE(sleeps[1], std::chrono::milliseconds(400));
  EXPECT_LE(sleeps[1], std::chrono::milliseconds(600));
}

TEST_F(ClientTest, GivesUpAfterMaxAttemptsOnConnectionErrors) {
  auto c = Make({Scripted{.error = TransportError::kConnect},
                 Scripted{.error = TransportError::kConnect},
                 Scripted{.error = TransportError::kConnect}});
  std::vector<Series> got;
  Status st = ReadAll(*c, &got);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(),
            "remote read http://prometheus.test:9090/api/v1/read (after 3 attempts): cannot "
            "connect: refused");
  EXPECT_EQ(fake_->requests.size(), 3u);
}

TEST_F(ClientTest, NeverRetriesClientErrors) {
  auto c = Make({Scripted{.status = 400, .content_type = "text/plain",
                          .body = "bad matcher: invalid regexp\n"},
                 Scripted{.body = Stream({"a"})}});
  std::vector<Series> got;
  Status st = ReadAll(*c, &got);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "remote read http://prometheus.test:9090/api/v1/read: server returned HTTP 400: bad "
            "matcher: invalid regexp");
  EXPECT_EQ(fake_->requests.size(), 1u);
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(ClientTest, FallsBackToSamplesWhenTheServerRejectsTheStreamedType) {
  Series s{0, L("a"), {10}, {1}};
  auto c = Make({Scripted{.status = 400, .content_type = "text/plain",
                          .body = "unsupported response type STREAMED_XOR_CHUNKS"},
                 Scripted{.content_type = "application/x-protobuf", .body = SamplesBody({{s}})}});
  std::vector<Series> got;
  ReadStats stats;
  ASSERT_TRUE(ReadAll(*c, &got, &stats).ok());
  EXPECT_EQ(got.size(), 1u);
  ASSERT_EQ(fake_->requests.size(), 2u);
  prometheus::ReadRequest second = DecodeRequest(fake_->requests[1]);
  ASSERT_EQ(second.accepted_response_types_size(), 1);
  EXPECT_EQ(second.accepted_response_types(0), prometheus::ReadRequest::SAMPLES);
  EXPECT_EQ(stats.attempts, 1);
}

TEST_F(ClientTest, DoesNotRetryOnceASeriesReachedTheCaller) {
  // The connection breaks after the first series was handed out: retrying would hand it again.
  std::string body = Stream({"a", "b", "c"});
  auto c = Make({Scripted{.error = TransportError::kTransfer, .body = body},
                 Scripted{.body = body}});
  std::vector<Series> got;
  Status st = ReadAll(*c, &got);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(fake_->requests.size(), 1u);
  EXPECT_EQ(got.size(), 2u);  // a and b; c was never finished
}

TEST_F(ClientTest, RetriesABrokenTransferBeforeAnySeries) {
  std::string body = Stream({"a"});
  auto c = Make({Scripted{.error = TransportError::kTransfer, .body = body.substr(0, 5)},
                 Scripted{.body = body}});
  std::vector<Series> got;
  ASSERT_TRUE(ReadAll(*c, &got).ok());
  EXPECT_EQ(got.size(), 1u);
}

TEST_F(ClientTest, UnknownContentType) {
  auto c = Make({Scripted{.content_type = "text/html", .body = "<html>login</html>"}});
  std::vector<Series> got;
  Status st = ReadAll(*c, &got);
  EXPECT_NE(st.message().find("unknown response type: Content-Type \"text/html\""),
            std::string::npos)
      << st.message();
  auto c2 = Make({Scripted{.content_type = "application/x-streamed-protobuf; proto=other.Msg"}});
  EXPECT_NE(ReadAll(*c2, &got).message().find("unknown response type"), std::string::npos);
}

TEST_F(ClientTest, TotalByteLimit) {
  ClientOptions opts;
  opts.max_total_bytes = 10;
  auto c = Make({Scripted{.body = Stream({"a", "b"})}}, opts);
  std::vector<Series> got;
  Status st = ReadAll(*c, &got);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("exceeds the limit of 10 bytes"), std::string::npos);
}

TEST_F(ClientTest, CallbackErrorIsReturnedAsIs) {
  auto c = Make({Scripted{.body = Stream({"a", "b"})}});
  std::vector<Query> qs = {Query{0, 1000, {{MatchType::kEqual, "__name__", "up"}}, std::nullopt}};
  Status st = c->Read(qs, [](Series&&) { return Aborted("disk full"); });
  EXPECT_EQ(st.code(), StatusCode::kAborted);
  EXPECT_NE(st.message().find("disk full"), std::string::npos);
  EXPECT_EQ(fake_->requests.size(), 1u);
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/foresight_client_test_XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    close(fd);
    Write(content);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  void Write(const std::string& content) { std::ofstream(path_, std::ios::trunc) << content; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_F(ClientTest, BearerTokenFileIsReadAtEveryRequest) {
  TempFile token("s3cret\n");
  ClientOptions opts;
  opts.bearer_token_file = token.path();
  auto c = Make({Scripted{.body = Stream({"a"})}, Scripted{.body = Stream({"a"})}}, opts);
  std::vector<Series> got;
  ASSERT_TRUE(ReadAll(*c, &got).ok());
  token.Write("rotated");
  ASSERT_TRUE(ReadAll(*c, &got).ok());
  EXPECT_EQ(Header(fake_->requests[0], "Authorization"), "Bearer s3cret");
  EXPECT_EQ(Header(fake_->requests[1], "Authorization"), "Bearer rotated");
}

TEST_F(ClientTest, MissingTokenFileNamesTheFile) {
  ClientOptions opts;
  opts.bearer_token_file = "/nonexistent/token";
  auto c = Make({}, opts);
  std::vector<Series> got;
  Status st = ReadAll(*c, &got);
  EXPECT_EQ(st.message(),
            "remote read http://prometheus.test:9090/api/v1/read: bearer_token_file "
            "/nonexistent/token: cannot read: No such file or directory");
  EXPECT_TRUE(fake_->requests.empty());
}

TEST_F(ClientTest, BasicAuthAndExtraHeaders) {
  TempFile password("pa:ss\n");
  ClientOptions opts;
  opts.basic_auth = BasicAuth{"user", "", password.path()};
  opts.headers = {{"X-Scope-OrgID", "tenant-1"}};
  auto c = Make({Scripted{.body = Stream({"a"})}}, opts);
  std::vector<Series> got;
  ASSERT_TRUE(ReadAll(*c, &got).ok());
  // base64("user:pa:ss")
  EXPECT_EQ(Header(fake_->requests[0], "Authorization"), "Basic dXNlcjpwYTpzcw==");
  EXPECT_EQ(Header(fake_->requests[0], "X-Scope-OrgID"), "tenant-1");
}

TEST(ClientCreateTest, RejectsBadOptions) {
  auto make = [](ClientOptions o) {
    return Client::Create(std::move(o), std::make_unique<FakeTransport>(std::deque<Scripted>{}))
        .status()
        .message();
  };
  ClientOptions o;
  EXPECT_EQ(make(o), "remote read: no URL given");
  o.url = "ftp://x";
  EXPECT_EQ(make(o), "remote read URL \"ftp://x\" must start with http:// or https://");
  o.url = "http://x";
  o.bearer_token = "a";
  o.bearer_token_file = "b";
  EXPECT_EQ(make(o), "remote read: give bearer_token or bearer_token_file, not both");
  o.bearer_token_file.clear();
  o.basic_auth = BasicAuth{"u", "p", ""};
  EXPECT_EQ(make(o), "remote read: basic_auth and a bearer token are mutually exclusive");
  o.bearer_token.clear();
  o.retry.max_attempts = 0;
  EXPECT_EQ(make(o), "remote read: retry max_attempts must be at least 1");
}

TEST(CurlTransportTest, UnreadableTlsFilesAreNamed) {
  CurlOptions o;
  o.tls.ca_file = "/nonexistent/ca.pem";
  auto t = NewCurlTransport(o);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "tls ca_file /nonexistent/ca.pem: cannot read: No such file or directory");
  CurlOptions o2;
  TempFile cert("x");
  o2.tls.cert_file = cert.path();
  EXPECT_EQ(NewCurlTransport(o2).status().message(), "tls: cert_file and key_file go together");
}

TEST(CurlTransportTest, ConnectionRefusedIsAConnectError) {
  // Port 1 on loopback: nothing listens there, so the kernel refuses at once.
  auto t = NewCurlTransport(CurlOptions{});
  ASSERT_TRUE(t.ok());
  struct Nop : HttpResponseHandler {
    Status OnHeaders(int, std::string_view) override { return Status::Ok(); }
    Status OnBody(std::string_view) override { return Status::Ok(); }
  } h;
  TransportStatus ts = (*t)->Post(HttpRequest{"http://127.0.0.1:1/api/v1/read", {}, "x"}, h);
  EXPECT_EQ(ts.error, TransportError::kConnect);
  EXPECT_EQ(ts.status.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace foresight::remote_read
