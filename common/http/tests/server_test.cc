#include "foresight/http/server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace foresight::http {
namespace {

using namespace std::chrono_literals;

// ---- client side -------------------------------------------------------------------------

struct Fetched {
  CURLcode code = CURLE_OK;
  std::string error;
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names
};

struct FetchOptions {
  std::string method = "GET";
  std::optional<std::string> body;
  std::vector<std::string> headers;  // "Name: value"
  bool chunked = false;              // send body with Transfer-Encoding: chunked
  std::string ca_file;               // trust this certificate for https
};

size_t CollectBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n") + 1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

// Hands out the body in small pieces so a chunked upload really has several chunks.
size_t FeedUpload(char* buf, size_t size, size_t n, void* arg) {
  auto* up = static_cast<Upload*>(arg);
  size_t len = std::min({size * n, up->data->size() - up->offset, size_t{700}});
  std::memcpy(buf, up->data->data() + up->offset, len);
  up->offset += len;
  return len;
}

Fetched Fetch(const std::string& url, const FetchOptions& opts = {}) {
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  Fetched out;
  if (!curl_ready) {
    out.code = CURLE_FAILED_INIT;
    return out;
  }
  CURL* curl = curl_easy_init();
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const std::string& h : opts.headers) {
    headers = curl_slist_append(headers, h.c_str());
  }
  Upload upload{opts.body ? &*opts.body : nullptr};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);  // a deadline, not a wait
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, opts.method.c_str());
  if (opts.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  }
  if (opts.body && opts.chunked) {
    headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &FeedUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  } else if (opts.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, opts.body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(opts.body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.headers);
  if (!opts.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, opts.ca_file.c_str());
  }
  out.code = curl_easy_perform(curl);
  out.error = error;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return out;
}

// Sends raw bytes and reads until the server closes, `until` arrives or the deadline passes; for
// what curl will not send (a huge Content-Length without its body).
std::string RawExchange(int port, const std::string& request, std::string_view until = {},
                        std::chrono::milliseconds deadline = 10s) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "connect failed";
  }
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return "send failed";
  }
  std::string got;
  auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      got += "<deadline>";
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    got.append(buf, static_cast<size_t>(n));
    if (!until.empty() && got.find(until) != std::string::npos) {
      break;
    }
  }
  close(fd);
  return got;
}

// A private directory that disappears with the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "http_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<Server> MustStart(ServerOptions options, Handler handler) {
  Result<std::unique_ptr<Server>> server = Server::Start(std::move(options), std::move(handler));
  if (!server.ok()) {
    ADD_FAILURE() << server.status().ToString();
    return nullptr;
  }
  return std::move(server).value();
}

Response Echo(const Request& req) {
  std::string out = "method=" + req.method + "\npath=" + req.path + "\nquery=" + req.query_string +
                    "\nbody=" + req.body + "\n";
  return Response::Text(200, out);
}

// ---- Request helpers, no server ------------------------------------------------------------

TEST(RequestTest, QueryDecodesAndKeepsOrder) {
  Request req;
  req.query_string = "job=a&x=1+2&job=b%2Fc&empty=&bare&job=&name%20sp=v%3D1&bad=%zz%4";
  EXPECT_EQ(req.Query("job"), "a");
  EXPECT_EQ(req.QueryAll("job"), (std::vector<std::string>{"a", "b/c", ""}));
  EXPECT_EQ(req.Query("x"), "1 2");
  EXPECT_EQ(req.Query("empty"), "");
  EXPECT_EQ(req.Query("bare"), "");
  EXPECT_EQ(req.Query("name sp"), "v=1");
  EXPECT_EQ(req.Query("bad"), "%zz%4");
  EXPECT_EQ(req.Query("missing"), std::nullopt);
  EXPECT_TRUE(req.QueryAll("missing").empty());
}

TEST(RequestTest, UrlEncodeRoundTripsThroughQuery) {
  const std::string raw = "rate(x{a=\"b c\"}[5m]) + 1/2 ~_.-\xc3\xa9&";
  EXPECT_EQ(UrlEncode("a b&c=d/~_.-"), "a%20b%26c%3Dd%2F~_.-");
  Request req;
  req.query_string = "q=" + UrlEncode(raw);
  EXPECT_EQ(req.Query("q"), raw);
}

TEST(RequestTest, HeaderByLowerCaseName) {
  Request req;
  req.headers["x-token"] = "abc";
  EXPECT_EQ(req.Header("x-token"), "abc");
  EXPECT_EQ(req.Header("absent"), "");
}

TEST(ResponseTest, Factories) {
  EXPECT_EQ(Response::Json(201, "{}").content_type, "application/json");
  EXPECT_EQ(Response::Html(200, "<p>").content_type, "text/html; charset=utf-8");
  Response t = Response::Text(404, "nope");
  EXPECT_EQ(t.status, 404);
  EXPECT_EQ(t.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(t.body, "nope");
}

// ---- the server ----------------------------------------------------------------------------

TEST(ServerTest, GetRoundTrip) {
  std::mutex mu;
  Request seen;
  auto server = MustStart({}, [&](const Request& req) {
    std::lock_guard<std::mutex> lock(mu);
    seen = req;
    return Response::Text(200, "hello");
  });
  ASSERT_NE(server, nullptr);
  Fetched got = Fetch(server->url() + "/api/v1/forecasts?job=node&job=a%20b&q=x+y%2Bz",
                      {.headers = {"X-Custom-Thing: Some Value", "Authorization: Bearer t",
                                   "X-Twice: first", "X-Twice: second"}});
  ASSERT_EQ(got.code, CURLE_OK) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "hello");
  EXPECT_EQ(got.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(got.headers["content-length"], "5");

  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/api/v1/forecasts");
  EXPECT_EQ(seen.query_string, "job=node&job=a%20b&q=x+y%2Bz");
  EXPECT_EQ(seen.QueryAll("job"), (std::vector<std::string>{"node", "a b"}));
  EXPECT_EQ(seen.Query("q"), "x y+z");
  EXPECT_EQ(seen.Header("x-custom-thing"), "Some Value");
  EXPECT_EQ(seen.Header("authorization"), "Bearer t");
  EXPECT_EQ(seen.Header("x-twice"), "second");
  EXPECT_EQ(seen.headers.count("X-Custom-Thing"), 0u);
  EXPECT_EQ(seen.remote_addr, "127.0.0.1");
  EXPECT_TRUE(seen.body.empty());
}

TEST(ServerTest, PathIsDecodedWithoutQuery) {
  auto server = MustStart({}, Echo);
  ASSERT_NE(server, nullptr);
  Fetched got = Fetch(server->url() + "/a%20b/c");
  ASSERT_EQ(got.code, CURLE_OK) << got.error;
  EXPECT_EQ(got.body, "method=GET\npath=/a b/c\nquery=\nbody=\n");
}

TEST(ServerTest, PostBodyReachesHandler) {
  auto server = MustStart({}, Echo);
  ASSERT_NE(server, nullptr);
  std::string body = "{\"alerts\":[1,2,3]}";
  body += std::string("\0binary\xff", 8);
  Fetched got =
      Fetch(server->url() + "/api/v2/alerts?x=1",
            {.method = "POST", .body = body, .headers = {"Content-Type: application/json"}});
  ASSERT_EQ(got.code, CURLE_OK) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "method=POST\npath=/api/v2/alerts\nquery=x=1\nbody=" + body + "\n");
}

TEST(ServerTest, OtherMethodsAndHead) {
  auto server = MustStart({}, [](const Request& req) {
    return Response::Text(200, req.method == "HEAD" ? "sixteen bytes!!!" : req.method);
  });
  ASSERT_NE(server, nullptr);
  Fetched del = Fetch(server->url() + "/x", {.method = "DELETE"});
  ASSERT_EQ(del.code, CURLE_OK) << del.error;
  EXPECT_EQ(del.body, "DELETE");
  Fetched head = Fetch(server->url() + "/x", {.method = "HEAD"});
  ASSERT_EQ(head.code, CURLE_OK) << head.error;
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], "16");
  EXPECT_TRUE(head.body.empty());
}

TEST(ServerTest, StatusContentTypeAndHeadersPassThrough) {
  auto server = MustStart({}, [](const Request& req) {
    if (req.path == "/json") {
      Response r = Response::Json(201, R"({"ok":true})");
      r.headers.emplace_back("X-Foresight", "yes");
      r.headers.emplace_back("Cache-Control", "no-store");
      return r;
    }
    if (req.path == "/html") {
      return Response::Html(200, "<h1>Foresight</h1>");
    }
    if (req.path == "/teapot") {
      return Response::Text(418, "short and stout");
    }
    if (req.path == "/unavailable") {
      return Response::Text(503, "not ready");
    }
    if (req.path == "/empty") {
      return Response::Text(204, "");
    }
    return Response::Text(404, "not found");
  });
  ASSERT_NE(server, nullptr);

  Fetched json = Fetch(server->url() + "/json");
  ASSERT_EQ(json.code, CURLE_OK) << json.error;
  EXPECT_EQ(json.status, 201);
  EXPECT_EQ(json.body, R"({"ok":true})");
  EXPECT_EQ(json.headers["content-type"], "application/json");
  EXPECT_EQ(json.headers["x-foresight"], "yes");
  EXPECT_EQ(json.headers["cache-control"], "no-store");

  Fetched html = Fetch(server->url() + "/html");
  EXPECT_EQ(html.status, 200);
  EXPECT_EQ(html.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(html.body, "<h1>Foresight</h1>");

  Fetched missing = Fetch(server->url() + "/nowhere");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "not found");
  EXPECT_EQ(missing.headers["content-type"], "text/plain; charset=utf-8");

  EXPECT_EQ(Fetch(server->url() + "/teapot").status, 418);
  Fetched unavailable = Fetch(server->url() + "/unavailable");
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.body, "not ready");

  Fetched empty = Fetch(server->url() + "/empty");
  ASSERT_EQ(empty.code, CURLE_OK) << empty.error;
  EXPECT_EQ(empty.status, 204);
  EXPECT_TRUE(empty.body.empty());
}

TEST(ServerTest, LargeResponseArrivesIntact) {
  // The size of a big /metrics page, with content that shows a lost or reordered block.
  std::string big;
  big.reserve(12 << 20);
  for (int line = 0; big.size() < (12u << 20); ++line) {
    big +=
        "foresight_series{id=\"" + std::to_string(line) + "\"} " + std::to_string(line * 7) + "\n";
  }
  auto server = MustStart({}, [&](const Request&) { return Response::Text(200, big); });
  ASSERT_NE(server, nullptr);
  Fetched got = Fetch(server->url() + "/metrics");
  ASSERT_EQ(got.code, CURLE_OK) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.headers["content-length"], std::to_string(big.size()));
  ASSERT_EQ(got.body.size(), big.size());
  EXPECT_TRUE(got.body == big);
}

TEST(ServerTest, BodyAtLimitAcceptedOneByteOverRefused) {
  std::atomic<int> calls{0};
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = MustStart(options, [&](const Request& req) {
    ++calls;
    return Response::Text(200, std::to_string(req.body.size()));
  });
  ASSERT_NE(server, nullptr);

  Fetched at = Fetch(server->url() + "/hook", {.method = "POST", .body = std::string(1000, 'a')});
  ASSERT_EQ(at.code, CURLE_OK) << at.error;
  EXPECT_EQ(at.status, 200);
  EXPECT_EQ(at.body, "1000");
  EXPECT_EQ(calls.load(), 1);

  Fetched over = Fetch(server->url() + "/hook", {.method = "POST", .body = std::string(1001, 'a')});
  ASSERT_EQ(over.code, CURLE_OK) << over.error;
  EXPECT_EQ(over.status, 413);
  EXPECT_NE(over.body.find("1000 bytes"), std::string::npos) << over.body;
  EXPECT_EQ(calls.load(), 1);

  // Far over the limit: a client that waits for 100 Continue never sends the body; one that
  // does not is read and dropped (up to 256 KiB) so that it sees the 413, not a reset.
  Fetched waits = Fetch(
      server->url() + "/hook",
      {.method = "POST", .body = std::string(3 << 20, 'b'), .headers = {"Expect: 100-continue"}});
  EXPECT_EQ(waits.status, 413) << waits.error;
  Fetched pushes =
      Fetch(server->url() + "/hook",
            {.method = "POST", .body = std::string(200 << 10, 'b'), .headers = {"Expect:"}});
  EXPECT_EQ(pushes.status, 413) << pushes.error;
  EXPECT_EQ(calls.load(), 1);

  // Within the limit, Expect: 100-continue is answered (curl would otherwise wait a second).
  Fetched continued =
      Fetch(server->url() + "/hook",
            {.method = "POST", .body = std::string(900, 'c'), .headers = {"Expect: 100-continue"}});
  EXPECT_EQ(continued.status, 200) << continued.error;
  EXPECT_EQ(continued.body, "900");
  EXPECT_EQ(calls.load(), 2);

  // The server still serves after refusing.
  EXPECT_EQ(Fetch(server->url() + "/hook", {.method = "POST", .body = "x"}).body, "1");
  EXPECT_EQ(calls.load(), 3);
}

TEST(ServerTest, HugeContentLengthRefusedBeforeTheBodyIsSent) {
  std::atomic<int> calls{0};
  auto server = MustStart({}, [&](const Request&) {
    ++calls;
    return Response::Text(200, "ok");
  });
  ASSERT_NE(server, nullptr);
  // Only the headers go out: a server that tried to read 10 GB first would never answer.
  const std::string head = "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n";
  std::string reply = RawExchange(server->port(), head + "\r\n", "bytes\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  EXPECT_NE(reply.find("Connection: close\r\n"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("<deadline>"), std::string::npos) << reply;
  // A client that waits for 100 Continue gets the 413 and the connection is closed at once.
  std::string waiting = RawExchange(server->port(), head + "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(waiting.rfind("HTTP/1.1 413", 0), 0u) << waiting;
  EXPECT_EQ(waiting.find("100 Continue"), std::string::npos) << waiting;
  EXPECT_EQ(waiting.find("<deadline>"), std::string::npos) << waiting;
  EXPECT_EQ(calls.load(), 0);
}

TEST(ServerTest, PostWithoutLengthHasEmptyBodyAndKeepsConnection) {
  auto server = MustStart({}, Echo);
  ASSERT_NE(server, nullptr);
  // Two requests on one connection: the first has no Content-Length, so no body.
  std::string reply = RawExchange(server->port(),
                                  "POST /a HTTP/1.1\r\nHost: x\r\n\r\n"
                                  "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(reply.find("path=/a\nquery=\nbody=\n"), std::string::npos) << reply;
  EXPECT_NE(reply.find("path=/b\n"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("<deadline>"), std::string::npos) << reply;
}

TEST(ServerTest, ChunkedPost) {
  std::atomic<int> calls{0};
  ServerOptions options;
  options.max_body_bytes = 10000;
  auto server = MustStart(options, [&](const Request& req) {
    ++calls;
    return Response::Text(200, req.body);
  });
  ASSERT_NE(server, nullptr);
  std::string body;
  for (int i = 0; body.size() < 10000; ++i) {
    body += static_cast<char>('a' + i % 26);
  }
  body.resize(10000);
  Fetched got =
      Fetch(server->url() + "/chunked", {.method = "POST", .body = body, .chunked = true});
  ASSERT_EQ(got.code, CURLE_OK) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.body == body) << got.body.size();
  EXPECT_EQ(calls.load(), 1);

  Fetched over =
      Fetch(server->url() + "/chunked", {.method = "POST", .body = body + "!", .chunked = true});
  EXPECT_EQ(over.status, 413) << over.error;
  Fetched far_over = Fetch(server->url() + "/chunked",
                           {.method = "POST", .body = std::string(100000, 'z'), .chunked = true});
  EXPECT_EQ(far_over.status, 413) << far_over.error;
  EXPECT_EQ(calls.load(), 1);
}

TEST(ServerTest, HandlerExceptionBecomes500AndServerKeepsServing) {
  auto server = MustStart({}, [](const Request& req) -> Response {
    if (req.path == "/throw") {
      throw std::runtime_error("boom");
    }
    if (req.path == "/throw-int") {
      throw 42;
    }
    if (req.path == "/bad-header") {
      Response r = Response::Text(200, "x");
      r.headers.emplace_back("X-Split", "a\r\nInjected: yes");
      return r;
    }
    return Response::Text(200, "fine");
  });
  ASSERT_NE(server, nullptr);
  for (int i = 0; i < 3; ++i) {
    Fetched thrown = Fetch(server->url() + "/throw");
    ASSERT_EQ(thrown.code, CURLE_OK) << thrown.error;
    EXPECT_EQ(thrown.status, 500);
    EXPECT_EQ(thrown.body, "internal server error\n");
    EXPECT_EQ(Fetch(server->url() + "/throw-int").status, 500);
    Fetched bad = Fetch(server->url() + "/bad-header");
    EXPECT_EQ(bad.status, 500);
    EXPECT_EQ(bad.headers.count("injected"), 0u);
    EXPECT_EQ(Fetch(server->url() + "/ok").body, "fine");
  }
}

TEST(ServerTest, ConcurrentRequests) {
  ServerOptions options;
  options.threads = 4;
  std::atomic<int> in_flight{0};
  std::atomic<int> most_in_flight{0};
  auto server = MustStart(options, [&](const Request& req) {
    int now = ++in_flight;
    int seen = most_in_flight.load();
    while (now > seen && !most_in_flight.compare_exchange_weak(seen, now)) {
    }
    Response r = Response::Text(200, req.Query("id").value_or("?") + ":" + req.body);
    --in_flight;
    return r;
  });
  ASSERT_NE(server, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        Fetched got =
            Fetch(server->url() + "/c?id=" + id, {.method = "POST", .body = "payload-" + id});
        if (got.code == CURLE_OK && got.status == 200 && got.body == id + ":payload-" + id) {
          ++good;
        }
      }
    });
  }
  for (std::thread& c : clients) {
    c.join();
  }
  EXPECT_EQ(good.load(), kThreads * kPerThread);
  EXPECT_EQ(in_flight.load(), 0);
  EXPECT_LE(most_in_flight.load(), options.threads);
}

TEST(ServerTest, SecondServerCannotTakeTheSamePort) {
  auto first = MustStart({}, Echo);
  ASSERT_NE(first, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(first->port());
  Result<std::unique_ptr<Server>> second = Server::Start({.listen_address = address}, Echo);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), "cannot listen on " + address + ": address in use");
  // The first one is unharmed.
  EXPECT_EQ(Fetch(first->url() + "/still").status, 200);
}

TEST(ServerTest, BadOptionsAreRefusedWithTheAddress) {
  struct Case {
    std::string address;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"9100", "bad listen address \"9100\": want host:port, [v6]:port or :port"},
           {"127.0.0.1:", "bad listen address \"127.0.0.1:\": port must be a number"},
           {"127.0.0.1:70000", "port must be a number from 0 to 65535"},
           {"127.0.0.1:9x", "port must be a number"},
           {"::1:9100", "an IPv6 host needs brackets"},
           {"[::1]9100", "want [v6]:port"},
       }) {
    Result<std::unique_ptr<Server>> s = Server::Start({.listen_address = c.address}, Echo);
    ASSERT_FALSE(s.ok()) << c.address;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << c.address;
    EXPECT_NE(s.status().message().find(c.want), std::string::npos) << s.status().message();
  }
  Result<std::unique_ptr<Server>> unroutable =
      Server::Start({.listen_address = "192.0.2.1:0"}, Echo);  // TEST-NET-1, not ours
  ASSERT_FALSE(unroutable.ok());
  EXPECT_EQ(unroutable.status().message().rfind("cannot listen on 192.0.2.1:0: ", 0), 0u)
      << unroutable.status().message();

  Result<std::unique_ptr<Server>> no_handler = Server::Start({}, Handler());
  EXPECT_FALSE(no_handler.ok());
  Result<std::unique_ptr<Server>> half_tls =
      Server::Start({.tls_cert_file = "/nonexistent/cert.pem"}, Echo);
  ASSERT_FALSE(half_tls.ok());
  EXPECT_NE(half_tls.status().message().find("both a certificate and a key"), std::string::npos);
}

TEST(ServerTest, PortAndUrl) {
  auto server = MustStart({.listen_address = "127.0.0.1:0"}, Echo);
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  EXPECT_EQ(server->url(), "http://127.0.0.1:" + std::to_string(server->port()));
  EXPECT_EQ(Fetch(server->url() + "/").status, 200);

  // ":port" is every interface; the url still points at loopback.
  auto any = MustStart({.listen_address = ":0"}, Echo);
  ASSERT_NE(any, nullptr);
  EXPECT_GT(any->port(), 0);
  EXPECT_EQ(any->url(), "http://127.0.0.1:" + std::to_string(any->port()));
  EXPECT_EQ(Fetch(any->url() + "/").status, 200);

  // The port asked for is the port served.
  const int port = any->port();
  any.reset();
  Result<std::unique_ptr<Server>> fixed =
      Server::Start({.listen_address = "127.0.0.1:" + std::to_string(port)}, Echo);
  if (fixed.ok()) {  // someone else may have taken the port in between
    EXPECT_EQ((*fixed)->port(), port);
  }
}

TEST(ServerTest, Ipv6Loopback) {
  Result<std::unique_ptr<Server>> server = Server::Start({.listen_address = "[::1]:0"}, Echo);
  if (!server.ok()) {
    GTEST_SKIP() << "no IPv6 loopback here: " << server.status().ToString();
  }
  EXPECT_EQ((*server)->url(), "http://[::1]:" + std::to_string((*server)->port()));
  Fetched got = Fetch((*server)->url() + "/six");
  ASSERT_EQ(got.code, CURLE_OK) << got.error;
  EXPECT_NE(got.body.find("path=/six"), std::string::npos);
}

// Destroys the server on another thread and waits for that with a deadline, so a hang fails
// the test instead of stalling the run. On failure the thread is left behind, stuck.
bool DestroyedWithin(std::unique_ptr<Server> server, std::chrono::milliseconds deadline) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([server = std::move(server), done]() mutable {
    server.reset();
    done->set_value();
  }).detach();
  return finished.wait_for(deadline) == std::future_status::ready;
}

TEST(ServerTest, DestructorReturnsWhileIdle) {
  auto server = MustStart({}, Echo);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Fetch(server->url() + "/").status, 200);
  EXPECT_TRUE(DestroyedWithin(std::move(server), 20s));
}

TEST(ServerTest, DestructorReturnsWithAnIdleConnectionOpen) {
  auto server = MustStart({}, Echo);
  ASSERT_NE(server, nullptr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_TRUE(DestroyedWithin(std::move(server), 20s));
  close(fd);
}

TEST(ServerTest, DestructorLetsARequestInFlightFinish) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool release = false;
  auto server = MustStart({}, [&](const Request&) {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return Response::Text(200, "finished");
  });
  ASSERT_NE(server, nullptr);
  Fetched got;
  std::thread client([&] { got = Fetch(server->url() + "/slow"); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return entered; }));
  }
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> stopped = done->get_future();
  std::thread stopper([&server, done] {
    server.reset();
    done->set_value();
  });
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  client.join();
  EXPECT_EQ(stopped.wait_for(20s), std::future_status::ready);
  stopper.join();
  ASSERT_EQ(got.code, CURLE_OK) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "finished");
}

TEST(ServerTest, RequestTimeoutClosesAStuckConnection) {
  auto server = MustStart({.request_timeout = 300ms}, Echo);
  ASSERT_NE(server, nullptr);
  // Promises 100 bytes and sends 3: the server gives up instead of holding a worker forever.
  std::string reply = RawExchange(
      server->port(), "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", {}, 20s);
  EXPECT_EQ(reply.find("<deadline>"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("body=abc"), std::string::npos) << reply;
}

// ---- TLS -----------------------------------------------------------------------------------
//
// Debian 12's civetweb 1.15 is built with TLS but cannot load OpenSSL 3 (it looks up
// SSL_get_peer_certificate, which OpenSSL 3 no longer exports), so there these tests skip with
// the reason; they run wherever civetweb can load its OpenSSL.

bool MakeSelfSignedCert(const std::string& dir) {
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 "
      "-keyout '" +
      dir + "/key.pem' -out '" + dir + "/cert.pem' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

TEST(ServerTlsTest, RoundTripWithSelfSignedCertificate) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (!MakeSelfSignedCert(dir.path())) {
    GTEST_SKIP() << "openssl could not make a test certificate";
  }
  // Point the server's temporary files into our directory to check it cleans up.
  TempDir scratch;
  setenv("TMPDIR", scratch.path().c_str(), 1);
  Result<std::unique_ptr<Server>> started = Server::Start(
      {.tls_cert_file = dir.path() + "/cert.pem", .tls_key_file = dir.path() + "/key.pem"}, Echo);
  unsetenv("TMPDIR");
  if (!started.ok() && started.status().code() == StatusCode::kFailedPrecondition) {
    GTEST_SKIP() << "civetweb cannot serve TLS here: " << started.status().ToString();
  }
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Server> server = std::move(started).value();
  EXPECT_TRUE(std::filesystem::is_empty(scratch.path())) << "the combined PEM was left behind";
  EXPECT_EQ(server->url(), "https://127.0.0.1:" + std::to_string(server->port()));

  for (int i = 0; i < 3; ++i) {  // new connections after the PEM file is gone
    Fetched got = Fetch(server->url() + "/secure?i=" + std::to_string(i),
                        {.method = "POST", .body = "secret", .ca_file = dir.path() + "/cert.pem"});
    ASSERT_EQ(got.code, CURLE_OK) << got.error;
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body,
              "method=POST\npath=/secure\nquery=i=" + std::to_string(i) + "\nbody=secret\n");
  }
  // Without trusting the certificate the client refuses: this really is TLS with our cert.
  Fetched untrusted = Fetch(server->url() + "/secure");
  EXPECT_NE(untrusted.code, CURLE_OK);
  // Plain HTTP to the TLS port gets no HTTP answer.
  Fetched plain = Fetch("http://127.0.0.1:" + std::to_string(server->port()) + "/");
  EXPECT_NE(plain.status, 200);
}

TEST(ServerTlsTest, PlainHttpStillWorksAfterATlsAttempt) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (!MakeSelfSignedCert(dir.path())) {
    GTEST_SKIP() << "openssl could not make a test certificate";
  }
  Result<std::unique_ptr<Server>> tls = Server::Start(
      {.tls_cert_file = dir.path() + "/cert.pem", .tls_key_file = dir.path() + "/key.pem"}, Echo);
  if (!tls.ok()) {
    // The one acceptable failure, and it says why.
    EXPECT_EQ(tls.status().code(), StatusCode::kFailedPrecondition) << tls.status().ToString();
    EXPECT_NE(tls.status().message().find("OpenSSL"), std::string::npos);
  }
  auto plain = MustStart({}, Echo);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(Fetch(plain->url() + "/").status, 200);
}

TEST(ServerTlsTest, UnreadableOrBadFilesAreNamed) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (!MakeSelfSignedCert(dir.path())) {
    GTEST_SKIP() << "openssl could not make a test certificate";
  }
  const std::string cert = dir.path() + "/cert.pem";
  const std::string key = dir.path() + "/key.pem";
  const std::string missing = dir.path() + "/missing.pem";

  Result<std::unique_ptr<Server>> no_key =
      Server::Start({.tls_cert_file = cert, .tls_key_file = missing}, Echo);
  ASSERT_FALSE(no_key.ok());
  if (no_key.status().code() == StatusCode::kFailedPrecondition) {
    GTEST_SKIP() << no_key.status().ToString();
  }
  EXPECT_NE(no_key.status().message().find(missing), std::string::npos)
      << no_key.status().message();

  Result<std::unique_ptr<Server>> swapped =
      Server::Start({.tls_cert_file = key, .tls_key_file = cert}, Echo);
  ASSERT_FALSE(swapped.ok());
  EXPECT_NE(swapped.status().message().find(key), std::string::npos) << swapped.status().message();

  // A key that does not belong to the certificate: civetweb itself refuses it.
  TempDir other;
  ASSERT_TRUE(MakeSelfSignedCert(other.path()));
  Result<std::unique_ptr<Server>> mismatched =
      Server::Start({.tls_cert_file = cert, .tls_key_file = other.path() + "/key.pem"}, Echo);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_EQ(mismatched.status().message(), "cannot serve TLS on 127.0.0.1:0: key " + other.path() +
                                               "/key.pem does not belong to certificate " + cert);
}

}  // namespace
}  // namespace foresight::http
