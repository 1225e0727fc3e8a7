#include "foresight/http/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace foresight::http {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool AcceptsGzip(const Request& request) {
  const std::string header = Lower(request.Header("accept-encoding"));
  std::string_view rest = header;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t semi = item.find(';');
    const std::string_view coding = Trim(item.substr(0, semi));
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view param = Trim(item.substr(semi + 1));
    if (param.size() >= 2 && param[0] == 'q' && param[1] == '=') {
      const std::string q(Trim(param.substr(2)));
      char* end = nullptr;
      const double v = std::strtod(q.c_str(), &end);
      if (end != q.c_str() && v > 0) return true;
      continue;  // q=0: explicitly refused
    }
    return true;
  }
  return false;
}

Result<std::string> Gzip(std::string_view data, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return Internal("gzip: deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t written = out.size() - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Internal("gzip: deflate failed (" + std::to_string(rc) + ")");
  out.resize(written);
  return out;
}

void MaybeGzip(const Request& request, Response* response) {
  if (response->body.size() < 1024 || !AcceptsGzip(request)) return;
  // bodies over 4 GiB do not fit zlib's 32-bit counters in one call; none of ours comes close
  if (response->body.size() > 0xFFFFFFFFull) return;
  auto z = Gzip(response->body);
  if (!z.ok()) return;  // serve it uncompressed rather than fail the request
  response->body = std::move(z).value();
  response->headers.emplace_back("Content-Encoding", "gzip");
  response->headers.emplace_back("Vary", "Accept-Encoding");
}

}  // namespace foresight::http
