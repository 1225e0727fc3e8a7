#include "foresight/http/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace foresight::http {
namespace {

std::string Gunzip(const std::string& z) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  zs.avail_in = static_cast<uInt>(z.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  EXPECT_EQ(zs.avail_in, 0u) << "bytes after the first gzip member";
  out.resize(out.size() - zs.avail_out);
  inflateEnd(&zs);
  return out;
}

Request WithAccept(const std::string& v) {
  Request r;
  r.headers["accept-encoding"] = v;
  return r;
}

TEST(GzipTest, RoundTripsAndShrinksText) {
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    text += "foresight_forecast{service=\"api\",horizon=\"1h\"} " + std::to_string(i * 0.5) + "\n";
  }
  auto z = Gzip(text);
  ASSERT_TRUE(z.ok());
  EXPECT_LT(z->size(), text.size() / 5);
  EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f);  // the gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
  EXPECT_EQ(Gunzip(*z), text);
  EXPECT_EQ(Gunzip(*Gzip("")), "");
}

TEST(GzipTest, JoinedPartsAreOneMemberOfTheWholeText) {
  std::string a(3000, 'a'), b;
  for (int i = 0; i < 2000; ++i) b += std::to_string(i) + ",";
  auto pa = DeflatePart(a), pb = DeflatePart(b), pe = DeflatePart("");
  ASSERT_TRUE(pa.ok() && pb.ok() && pe.ok());
  const std::string z = GzipJoin({&*pa, &*pe, &*pb});
  EXPECT_EQ(Gunzip(z), a + b);  // Gunzip expects exactly one member ending the input
  EXPECT_EQ(Gunzip(GzipJoin({})), "");
}

TEST(GzipTest, AcceptEncodingParsing) {
  EXPECT_TRUE(AcceptsGzip(WithAccept("gzip")));
  EXPECT_TRUE(AcceptsGzip(WithAccept("identity, GZIP;q=0.5")));
  EXPECT_TRUE(AcceptsGzip(WithAccept("br, *")));
  EXPECT_FALSE(AcceptsGzip(WithAccept("gzip;q=0")));
  EXPECT_FALSE(AcceptsGzip(WithAccept("deflate, br")));
  EXPECT_FALSE(AcceptsGzip(Request{}));
}

TEST(GzipTest, MaybeGzipOnlyWhenAskedAndWorthIt) {
  Response small = Response::Text(200, "ok\n");
  MaybeGzip(WithAccept("gzip"), &small);
  EXPECT_EQ(small.body, "ok\n");
  EXPECT_TRUE(small.headers.empty());

  const std::string big(4096, 'x');
  Response unasked = Response::Text(200, big);
  MaybeGzip(Request{}, &unasked);
  EXPECT_EQ(unasked.body, big);

  Response asked = Response::Text(200, big);
  MaybeGzip(WithAccept("gzip"), &asked);
  EXPECT_EQ(Gunzip(asked.body), big);
  ASSERT_EQ(asked.headers.size(), 2u);
  EXPECT_EQ(asked.headers[0], (std::pair<std::string, std::string>{"Content-Encoding", "gzip"}));
  EXPECT_EQ(asked.headers[1], (std::pair<std::string, std::string>{"Vary", "Accept-Encoding"}));
}

}  // namespace
}  // namespace foresight::http
